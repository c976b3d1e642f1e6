"""The real images' Inception features and statistics, computed once and cached on disk.

Every trial of a sweep scores its generator against the same reference split, so the reference's
features (pool3, for KID and precision/recall) and their Gaussian statistics (for FID) are computed
once and written under `eval.cache_dir/inception/`, keyed by dataset, split, number of images, image
size, a fingerprint of the images and the weights' SHA-256 (stylegan2-ada keys its statistics the
same way). Writes are atomic, so workers that race for an entry each leave a complete file; the
sweep computes it in its parent process before the workers start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from harness.metrics.disk_cache import data_fingerprint, save_atomic
from harness.metrics.frechet import gaussian_stats
from harness.metrics.inception import to_uint8

FORMAT_VERSION = 1
FOLDER = "inception"


@dataclass(frozen=True)
class ReferenceSet:
    """One split's pool3 features (float32) and their float64 mean and covariance."""

    key: str
    features: Tensor  # (N, 2048) float32, on the CPU
    mean: np.ndarray
    cov: np.ndarray

    @property
    def count(self) -> int:
        return int(self.features.shape[0])


def reference_key(dataset: str, split: str, images: Tensor, weights_sha256: str) -> str:
    """dataset-split-n<N>-<side>px-<channels>ch-data<fingerprint>-w<weights>: what the statistics depend on."""
    fingerprint = data_fingerprint(to_uint8(images))
    return (f"{dataset}-{split}-n{images.shape[0]}-{images.shape[-1]}px-{images.shape[1]}ch-data{fingerprint}"
            f"-w{weights_sha256[:16]}")


def cache_file(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / FOLDER / f"{key}.pt"


def load_reference(path: Path, key: str) -> ReferenceSet | None:
    """The cached entry at `path` if it is complete and holds `key`; None otherwise (then it is recomputed)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: recompute and overwrite
        return None
    if not isinstance(saved, dict) or saved.get("format_version") != FORMAT_VERSION or saved.get("key") != key:
        return None
    return ReferenceSet(key, saved["features"], saved["mean"].numpy(), saved["cov"].numpy())


def reference_set(cache_dir: str | Path, dataset: str, split: str, images: Tensor, weights_sha256: str,
                  extract: Callable[[Tensor], Tensor]) -> ReferenceSet:
    """The split's cached features and statistics, extracting them with `extract` (images -> pool3) on a miss."""
    key = reference_key(dataset, split, images, weights_sha256)
    path = cache_file(cache_dir, key)
    found = load_reference(path, key)
    if found is not None:
        return found
    features = extract(images)
    mean, cov = gaussian_stats(features)
    save_atomic({"format_version": FORMAT_VERSION, "key": key, "features": features.contiguous(),
                 "mean": torch.from_numpy(mean), "cov": torch.from_numpy(cov)}, path)
    return ReferenceSet(key, features, mean, cov)
