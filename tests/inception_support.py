"""A weights file of the TF-Inception's architecture from a seeded random initialization (the real one
cannot be downloaded in tests), and small uint8 image sets for the detector."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from harness.metrics.inception import WEIGHTS_FILE


def write_random_inception(torch_home: Path, seed: int = 0) -> Path:
    """torch-fidelity's InceptionV3 with He-initialized convolutions (activations keep their scale through
    ~90 layers, so features and logits are not vanishingly small), saved where the harness looks for it."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class RandomInit(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True):  # keep the random initialization
            return None

    placeholder = torch_home / "empty.pt"
    placeholder.parent.mkdir(parents=True, exist_ok=True)
    torch.save({}, placeholder)
    torch.manual_seed(seed)
    net = RandomInit("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(placeholder))
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):  # TF's BN folded into an affine map near the identity
                module.weight.uniform_(0.8, 1.2)
                module.bias.uniform_(-0.1, 0.1)
        nn.init.normal_(net.fc.bias, std=0.1)
        net.fc.weight.copy_(varied_logit_weights(net))
    path = torch_home / "hub" / "checkpoints" / WEIGHTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    placeholder.unlink()
    return path


def varied_logit_weights(net: nn.Module) -> torch.Tensor:
    """Random (1008, 2048) logit weights orthogonal to the mean pool3 feature of some images, scaled so logits
    vary by about 3 across images: a random network's features share one large common direction, and logits
    along it would give every image the same class (IS of 1, which any formula would match)."""
    from harness.metrics.inception import to_uint8

    features = net(to_uint8(image_set(16, 16, seed=99)))[0].double()
    mean = features.mean(dim=0)
    weights = torch.randn(1008, 2048, dtype=torch.float64)
    weights -= torch.outer(weights @ mean, mean) / mean.dot(mean)
    spread = (features @ weights.T).std(dim=0).mean()
    return (weights * 3.0 / spread).float()


def image_set(count: int, side: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """`count` RGB images in [-1, 1], float32: blurred noise of its own contrast and colour per image (so a
    detector sees them differently), plus a brightness `shift` that tells two sets apart."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, side // 4, side // 4, generator=generator) * 2 - 1
    contrast = torch.rand(count, 1, 1, 1, generator=generator) * 2
    colour = torch.rand(count, 3, 1, 1, generator=generator) * 1.6 - 0.8
    images = nn.functional.interpolate(coarse, size=(side, side), mode="bilinear", align_corners=False)
    return (images * contrast + colour + shift).clamp(-1, 1)
