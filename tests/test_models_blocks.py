"""Shared blocks: the size plan, and the residual blocks' shapes and shortcuts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.models.blocks import DownBlock, FirstDownBlock, UpBlock, conv_norm, size_plan, square_plannable


@pytest.mark.parametrize("size, plan", [(8, (4, 1)), (16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4))])
def test_size_plan(size: int, plan: tuple[int, int]) -> None:
    assert size_plan(size) == plan
    s0, k = plan
    assert s0 * 2**k == size


@pytest.mark.parametrize("shape, ok", [
    ((1, 8, 8), True), ((1, 16, 16), True), ((1, 28, 28), True), ((3, 32, 32), True),
    ((1, 4, 4), False), ((1, 12, 12), False), ((1, 30, 30), False), ((1, 16, 8), False), ((2,), False),
])
def test_square_plannable_shapes(shape: tuple, ok: bool) -> None:
    assert square_plannable(shape) is ok


@pytest.mark.parametrize("norm, kind", [("none", nn.Identity), ("layer", nn.GroupNorm), ("batch", nn.BatchNorm2d)])
def test_conv_norm(norm: str, kind: type) -> None:
    assert isinstance(conv_norm(norm, 4), kind)


def test_up_block_doubles_the_side_and_adds_a_learned_shortcut() -> None:
    torch.manual_seed(0)
    block = UpBlock(4, 6)
    x = torch.randn(2, 4, 5, 5)
    assert block(x).shape == (2, 6, 10, 10)
    with torch.no_grad():
        for conv in (block.c1, block.c2):
            conv.weight.zero_()
            conv.bias.zero_()
        # With the residual branch silenced the block is its shortcut: nearest upsampling, then the 1x1 conv.
        expected = block.c_sc(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
        assert torch.allclose(block(x), expected, atol=1e-6)


@pytest.mark.parametrize("downsample, width_out, identity", [(False, 4, True), (True, 4, False), (False, 6, False)])
def test_down_block_shortcut_is_the_identity_only_where_shapes_match(downsample: bool, width_out: int,
                                                                     identity: bool) -> None:
    torch.manual_seed(0)
    block = DownBlock(4, width_out, downsample=downsample, norm="none")
    x = torch.randn(2, 4, 8, 8)
    side = 4 if downsample else 8
    assert block(x).shape == (2, width_out, side, side) and (block.c_sc is None) is identity
    if identity:
        with torch.no_grad():
            block.c2.weight.zero_()
            block.c2.bias.zero_()
            assert torch.equal(block(x), x)


def test_first_down_block_has_no_leading_activation() -> None:
    """The reference's optimized block convolves the raw image: negative pixels must reach c1 unrectified."""
    torch.manual_seed(0)
    block = FirstDownBlock(3, 4, norm="none")
    x = -torch.rand(2, 3, 8, 8)  # all negative: a leading ReLU would zero the residual branch's input
    with torch.no_grad():
        block.c_sc.weight.zero_()
        block.c_sc.bias.zero_()
        block.c1.bias.zero_()
        out = block(x)
        zeroed = block.c2(torch.relu(block.c1(torch.zeros_like(x))))
    assert out.shape == (2, 4, 4, 4)
    assert not torch.allclose(out, torch.nn.functional.avg_pool2d(zeroed, 2))
