"""The Inception detector of the literature's FID, IS and KID: torch-fidelity's port of the TF graph.

torch-fidelity and torchmetrics load the same weights file (`weights-inception-2015-12-05-6726825d.pth`,
converted from TensorFlow's 2015-12-05 Inception), resize with TF1's bilinear interpolation and feed
uint8 images, so values computed here can sit next to published ones. The file is never downloaded
while a sweep runs: `gan-ablate fetch-weights` downloads it once into the torch hub cache
(`$TORCH_HOME/hub/checkpoints/`, by default `~/.cache/torch/hub/checkpoints/`), or it is copied
there by hand on a machine without internet (docs/metrics.md, "Weights").
"""

from __future__ import annotations

import functools
import importlib.util
import os
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn

from harness.core.environment import environment
from harness.core.errors import UserError
from harness.metrics.disk_cache import file_sha256
from harness.metrics.download import check_url, download

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}"
PACKAGE, PIP_NAME = "torch_fidelity", "torch-fidelity"
# pool3 (2048-d) for FID, KID and precision/recall; logits without the bias for IS (torch-fidelity's choices).
POOL, LOGITS = "2048", "logits_unbiased"
BATCH = 100  # images per detector call (each is resized to 299 x 299)
FORCE_WEIGHTS_ONLY = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"  # read by torch.load on every call


def weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def routes(path: Path) -> str:
    """The two ways to get the weights, for every message that says they are missing."""
    return (f"run `gan-ablate fetch-weights` once on a machine with internet, or copy {WEIGHTS_FILE} "
            f"(from {WEIGHTS_URL}) to '{path}' (set TORCH_HOME to use another cache)")


def require_weights(metrics: tuple[str, ...] = ("the Inception metrics",)) -> Path:
    """The local weights file, or a one-line UserError naming the metrics, what is missing and both ways to get it."""
    names = ", ".join(metrics)
    need = "needs" if len(metrics) == 1 else "need"
    if importlib.util.find_spec(PACKAGE) is None:
        raise UserError(f"eval.metrics: {names} {need} the {PIP_NAME} package (pip install "
                        f"'gan-ablation-harness[fid]'); install it or drop {names}")
    path = weights_path()
    if not path.is_file():
        raise UserError(f"eval.metrics: {names} {need} the Inception weights, which are not at '{path}' and are "
                        f"never downloaded during a sweep: {routes(path)}; or drop {names}")
    return path


@functools.lru_cache(maxsize=4)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(Path(path))


def weights_digest(path: Path) -> str:
    """SHA-256 of the weights file (cached per file version): it keys the reference statistics."""
    stat = path.stat()
    return _digest(str(path), stat.st_mtime_ns, stat.st_size)


def load_detector(path: Path, device: torch.device) -> nn.Module:
    """torch-fidelity's TF-compatible InceptionV3 with `path`'s weights, in eval mode, returning (pool, logits)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    try:
        # torch-fidelity reads the weights with torch.load(weights_only=False), which runs whatever code a
        # pickle names; torch's own switch forces the safe loader (tensors and plain containers only) inside.
        with environment(FORCE_WEIGHTS_ONLY, "1"):
            detector = FeatureExtractorInceptionV3("inception-v3-compat", [POOL, LOGITS],
                                                   feature_extractor_weights_path=str(path))
    except Exception as exc:  # noqa: BLE001 - truncated, not a state dict, wrong layers, a pickle that runs code
        raise UserError(f"eval.metrics: '{path}' is not the Inception weights file ({type(exc).__name__}); "
                        f"delete it and {routes(path)}") from None
    return detector.to(device)


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] images (N, 1 or 3, H, W) -> uint8 RGB, rounded as a saved PNG would be (StyleGAN2-ADA's
    `x * 127.5 + 128`, truncated: round half up); grayscale is repeated to three channels."""
    pixels = (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


@torch.no_grad()
def inception_features(detector: nn.Module, images: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
    """(pool3 features (N, 2048), unbiased logits (N, 1008)), float32 on the CPU, of [-1, 1] images."""
    pools, logits = [], []
    for batch in images.split(BATCH):
        pool, logit = detector(to_uint8(batch.to(device)))
        pools.append(pool.cpu())
        logits.append(logit.cpu())
    return torch.cat(pools), torch.cat(logits)


def fetch_weights(url: str = WEIGHTS_URL, destination: Path | None = None, timeout_s: float = 30.0) -> Path:
    """Download the weights into the torch hub cache (atomically) and check that they load; a URL that
    serves anything else is a one-line UserError and leaves nothing in the cache."""
    check_url("--url", url)
    destination = destination or weights_path()
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=destination.name + ".", suffix=".part", dir=destination.parent)
    os.close(fd)
    try:
        download(url, Path(tmp), timeout_s)
        try:
            load_detector(Path(tmp), torch.device("cpu"))  # a wrong or truncated file never lands in the cache
        except UserError:
            raise UserError(f"--url: {url} did not serve the Inception weights ({Path(tmp).stat().st_size} bytes "
                            f"that do not load as them); nothing was saved") from None
        os.replace(tmp, destination)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return destination
