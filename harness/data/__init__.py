"""Datasets by name. Every dataset hands out batches already on the training device."""

from harness.data.base import DATASETS, Dataset, ImageDataset, ToyDataset, load_dataset, register_dataset
from harness.data import images as _images  # noqa: F401  (registers digits, mnist, fashion_mnist)
from harness.data import toys as _toys  # noqa: F401  (registers ring8, grid25, swissroll)

__all__ = ["DATASETS", "Dataset", "ImageDataset", "ToyDataset", "load_dataset", "register_dataset"]
