"""Device selection and seeding."""

from __future__ import annotations

import random

import numpy as np
import torch

from harness.core.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; asking for `cuda` on a machine without one is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device", "'cuda' but no CUDA device is available; allowed here: auto, cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state() -> dict:
    # Only torch's generators: training draws nothing from Python's `random` or NumPy.
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
