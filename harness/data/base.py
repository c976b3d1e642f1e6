"""The dataset protocol and registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

import torch
from torch import Tensor

from harness.registry import Registry

if TYPE_CHECKING:
    from harness.schema import DataConfig


@runtime_checkable
class Dataset(Protocol):
    kind: str  # "points" or "images"
    sample_shape: tuple[int, ...]

    def sample(self, n: int) -> Tensor:
        """A fresh batch of n real samples on the dataset's device."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class ToyDataset(Protocol):
    """A 2-D toy; `centers`/`sigma` are None where the toy has no discrete modes (swissroll)."""

    kind: str
    sample_shape: tuple[int, ...]
    centers: Tensor | None
    sigma: float | None

    def sample(self, n: int) -> Tensor: ...


class ImageDataset(Protocol):
    """Images in [-1, 1], shape (N, C, H, W), with labels and a held-out split for metrics."""

    kind: str
    sample_shape: tuple[int, ...]
    name: str
    num_classes: int
    images: Tensor
    labels: Tensor
    test_images: Tensor
    test_labels: Tensor

    def sample(self, n: int) -> Tensor: ...


@dataclass(frozen=True)
class DatasetEntry:
    kind: str  # "points" | "images": decides which models and metrics apply
    load: Callable[["DataConfig", torch.device], Dataset]
    native_size: int | None = None  # images: side length before any resize
    channels: int = 1  # images: colour channels

    def sample_shape(self, image_size: int | None) -> tuple[int, ...]:
        if self.kind == "points":
            return (2,)
        side = image_size or self.native_size
        return (self.channels, side, side)


DATASETS: Registry[DatasetEntry] = Registry("dataset")


LoadFn = Callable[["DataConfig", torch.device], Dataset]


def register_dataset(name: str, **entry: Any) -> Callable[[LoadFn], LoadFn]:
    """Decorator: register `load(cfg, device) -> Dataset` as dataset `name`; `entry` holds the other
    DatasetEntry fields (kind, native_size, channels, ...)."""

    def decorate(load: LoadFn) -> LoadFn:
        DATASETS.add(name, DatasetEntry(load=load, **entry))
        return load

    return decorate


def load_dataset(cfg: "DataConfig", device: torch.device) -> Dataset:
    return DATASETS.get(cfg.name).load(cfg, device)
