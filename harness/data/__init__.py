"""Datasets by name. Every dataset hands out batches already on the training device."""

from harness.data.base import DATASETS, Dataset, DatasetEntry, ImageDataset, ToyDataset, dataset_entry, load_dataset, register_dataset
from harness.data import images as _images  # noqa: F401  (registers digits, mnist, fashion_mnist)
from harness.data import cifar as _cifar  # noqa: F401  (registers cifar10)
from harness.data import folder as _folder  # noqa: F401  (registers folder: your own images)
from harness.data import toys as _toys  # noqa: F401  (registers ring8, grid25, swissroll)

__all__ = ["DATASETS", "Dataset", "DatasetEntry", "ImageDataset", "ToyDataset", "dataset_entry", "load_dataset", "register_dataset"]
