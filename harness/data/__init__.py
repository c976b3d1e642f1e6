"""Datasets by name (`@register_dataset`): the 2-D toys, digits, MNIST and Fashion-MNIST, CIFAR-10 and
your own image folder. Every dataset hands out batches already on the training device.

May import `harness.core` only.
"""

from harness.data.base import DATASETS, Dataset, DatasetEntry, ImageDataset, ToyDataset, dataset_entry, load_dataset, register_dataset
from harness.data import images as _images  # noqa: F401  (registers digits)
from harness.data import mnist as _mnist  # noqa: F401  (registers mnist, fashion_mnist)
from harness.data import cifar as _cifar  # noqa: F401  (registers cifar10)
from harness.data import folder as _folder  # noqa: F401  (registers folder: your own images)
from harness.data import toys as _toys  # noqa: F401  (registers ring8, grid25, swissroll)

__all__ = ["DATASETS", "Dataset", "DatasetEntry", "ImageDataset", "ToyDataset", "dataset_entry", "load_dataset", "register_dataset"]
