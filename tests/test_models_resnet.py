"""resnet: the SNGAN / WGAN-GP CIFAR ResNet, counted layer by layer against the reference implementation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.models import build_models, parameter_count
from harness.models.blocks import DownBlock, FirstDownBlock, UpBlock
from harness.core.schema import ModelConfig

# mimicry's sngan_32 (ResNetGenerator32 / ResNetDiscriminator32) at its published widths, the numbers.
REFERENCE_G, REFERENCE_D = 4_276_739, 1_053_825


def cfg(ngf: int = 256, ndf: int = 128, z_dim: int = 128, norm: str = "none") -> ModelConfig:
    return ModelConfig(arch="resnet", z_dim=z_dim, critic_norm=norm, knobs={"ngf": ngf, "ndf": ndf})


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + c_out


def closed_form_generator(z: int, ngf: int, channels: int, blocks: int) -> int:
    """l1 (z -> 4*4*ngf), `blocks` x [BN, conv3, BN, conv3, 1x1 shortcut], BN, conv3 to the image."""
    block = 2 * ngf + conv(ngf, ngf, 3) + 2 * ngf + conv(ngf, ngf, 3) + conv(ngf, ngf, 1)
    return (z * 16 * ngf + 16 * ngf) + blocks * block + 2 * ngf + conv(ngf, channels, 3)


def closed_form_critic(ndf: int, channels: int) -> int:
    """Optimized block (conv3, conv3, 1x1 shortcut), a downsampling block (with shortcut), two plain blocks, linear."""
    first = conv(channels, ndf, 3) + conv(ndf, ndf, 3) + conv(channels, ndf, 1)
    plain = 2 * conv(ndf, ndf, 3)
    return first + (plain + conv(ndf, ndf, 1)) + 2 * plain + ndf + 1


def test_parameter_counts_equal_the_reference_at_the_published_widths() -> None:
    G, D = build_models((3, 32, 32), cfg())
    assert parameter_count(G) == REFERENCE_G == closed_form_generator(128, 256, 3, blocks=3)
    assert parameter_count(D) == REFERENCE_D == closed_form_critic(128, 3)


@pytest.mark.parametrize("ngf, ndf", [(64, 32), (128, 128)])
def test_parameter_counts_follow_the_widths(ngf: int, ndf: int) -> None:
    G, D = build_models((3, 32, 32), cfg(ngf, ndf, z_dim=64))
    assert parameter_count(G) == closed_form_generator(64, ngf, 3, blocks=3)
    assert parameter_count(D) == closed_form_critic(ndf, 3)


def test_the_reference_layout_at_32px() -> None:
    torch.manual_seed(0)
    G, D = build_models((3, 32, 32), cfg(ngf=16, ndf=8, z_dim=8))
    assert [type(b) for b in G.blocks] == [UpBlock] * 3
    assert [type(b) for b in D.blocks] == [FirstDownBlock, DownBlock, DownBlock, DownBlock]
    assert [b.downsample for b in D.blocks[1:]] == [True, False, False]
    assert [b.c_sc is None for b in D.blocks[1:]] == [False, True, True]  # identity shortcuts in the plain blocks
    assert not [m for m in D.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]  # none under a penalty
    x = G(torch.randn(4, 8) * 10)
    assert x.shape == (4, 3, 32, 32) and x.abs().max() <= 1.0
    features = D.blocks(x.detach())
    assert features.shape == (4, 8, 8, 8)  # 32 -> 16 -> 8, then global sum pooling
    expected = D.l_out(torch.relu(features).sum(dim=(2, 3))).reshape(-1)
    assert torch.allclose(D(x.detach()), expected, atol=1e-5)


@pytest.mark.parametrize("side, blocks, final", [(8, 1, 4), (16, 2, 8), (28, 2, 7), (64, 4, 8)])
def test_other_sides_grow_or_shrink_the_stacks(side: int, blocks: int, final: int) -> None:
    torch.manual_seed(0)
    G, D = build_models((1, side, side), cfg(ngf=8, ndf=8, z_dim=4))
    assert len(G.blocks) == blocks and G(torch.randn(2, 4)).shape == (2, 1, side, side)
    assert D.blocks(torch.randn(2, 1, side, side)).shape[-1] == final


def test_layer_norm_goes_before_the_critic_activations() -> None:
    _, D = build_models((3, 32, 32), cfg(ngf=8, ndf=8, z_dim=4, norm="layer"))
    assert len([m for m in D.modules() if isinstance(m, nn.GroupNorm)]) == 1 + 2 * 3
