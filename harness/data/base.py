"""The dataset protocol and registry.

A dataset entry is the one place that says what a dataset is: its kind (points or images), its
shape and channels, its number of classes (None: unlabelled), its traits, the evaluation
classifier's accuracy threshold, and how to load it. Config checks, metric applicability and the
evaluation classifier all read the entry; nothing else lists dataset names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from harness.core.errors import ConfigError
from harness.core.registry import Registry

if TYPE_CHECKING:
    from harness.core.schema import DataConfig


@runtime_checkable
class Dataset(Protocol):
    kind: str  # "points" or "images"
    sample_shape: tuple[int, ...]
    info: dict[str, float]  # facts about the data (split sizes and seed), logged with the yardstick's

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
    """Images in [-1, 1], shape (N, C, H, W), with a held-out split; labels are None when unlabelled."""

    kind: str
    sample_shape: tuple[int, ...]
    name: str
    num_classes: int | None
    images: Tensor
    labels: Tensor | None
    test_images: Tensor
    test_labels: Tensor | None
    info: dict[str, float]

    def sample(self, n: int) -> Tensor: ...


@dataclass(frozen=True)
class DatasetEntry:
    kind: str  # "points" | "images": decides which models and metrics apply
    load: Callable[["DataConfig", torch.device], Dataset]
    native_size: int | None = None  # images: side length before any resize (None: data.image_size decides)
    channels: int = 1  # images: colour channels
    num_classes: int | None = None  # None: unlabelled (no classifier, label-free metrics only)
    traits: tuple[str, ...] = ()  # further properties metrics may need, e.g. "modes" (discrete toy modes)
    classifier_min_accuracy: float | None = None  # default of eval.classifier_min_accuracy (labelled images)
    flip_augment: bool = False  # the classifier may train on mirrored images (natural photos, not digits)
    # Datasets whose properties depend on the config (a folder's classes, data.channels) describe
    # themselves: the returned entry has them filled in. Must be cheap (no image decoding).
    describe: Callable[["DataConfig"], "DatasetEntry"] | None = None

    @property
    def properties(self) -> frozenset[str]:
        """What metrics can rely on: the kind, "labels" when labelled, and the traits."""
        labels = ("labels",) if self.num_classes else ()
        return frozenset((self.kind, *labels, *self.traits))

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


def dataset_entry(cfg: "DataConfig") -> DatasetEntry:
    """The entry of `cfg.name` with config-dependent properties resolved, and data.channels checked."""
    entry = DATASETS.get(cfg.name)
    if entry.describe is not None:
        entry = entry.describe(cfg)
    if cfg.channels is not None and (entry.kind == "points" or cfg.channels != entry.channels):
        allowed = "null" if entry.kind == "points" else f"null, {entry.channels}"
        raise ConfigError("data.channels", f"{cfg.channels!r} does not fit data.name {cfg.name!r}; allowed: {allowed}")
    return entry


def with_properties(entry: DatasetEntry, **changes: Any) -> DatasetEntry:
    """A copy of `entry` with some properties replaced and no further `describe` step."""
    return dataclasses.replace(entry, describe=None, **changes)


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of a held-out part: round(fraction * n) of each class, at least 1 and at most n - 1.

    Drawn with numpy's generator seeded with `seed`, class by class in sorted order, so the same
    labels in the same order always give the same split. A class of one member stays out of it.
    """
    rng = np.random.default_rng(seed)
    held = np.zeros(labels.shape[0], dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        count = min(members.size - 1, max(1, round(fraction * members.size)))
        held[rng.permutation(members)[:count]] = True
    return held


def load_dataset(cfg: "DataConfig", device: torch.device) -> Dataset:
    return DATASETS.get(cfg.name).load(cfg, device)
