"""Device selection and seeding: `cuda` without a GPU is a config error; RNG state round-trips."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from harness.train.device import resolve_device, rng_state, seed_everything, set_rng_state
from harness.core.errors import ConfigError

HAS_CUDA = torch.cuda.is_available()


def test_auto_and_cpu() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if HAS_CUDA else "cpu")


@pytest.mark.skipif(HAS_CUDA, reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_device("cuda")
    assert str(info.value) == "train.device: 'cuda' but no CUDA device is available; allowed here: auto, cpu"


@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_cuda_when_present() -> None:
    assert resolve_device("cuda").type == "cuda"
    assert "cuda" in rng_state()


def draws() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(3)


def test_seed_everything_seeds_python_numpy_and_torch() -> None:
    seed_everything(42)
    a = draws()
    seed_everything(42)
    b = draws()
    seed_everything(43)
    c = draws()
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])
    assert a[0] != c[0] and a[1] != c[1] and not torch.equal(a[2], c[2])


def test_seed_everything_accepts_negative_and_64_bit_seeds() -> None:
    seed_everything(-1)
    seed_everything(2**63)


def test_rng_state_round_trip_replays_torch_draws() -> None:
    seed_everything(0)
    torch.rand(5)
    state = rng_state()
    expected = torch.rand(4)
    torch.rand(10)
    set_rng_state(state)
    assert torch.equal(torch.rand(4), expected)
    assert set(state) == ({"cpu", "cuda"} if HAS_CUDA else {"cpu"})


def test_rng_state_is_a_snapshot_not_a_view() -> None:
    seed_everything(0)
    state = rng_state()
    snapshot = state["cpu"].clone()
    torch.rand(100)
    assert torch.equal(state["cpu"], snapshot)
