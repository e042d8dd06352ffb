"""Datasets with torchvision's API (``torchvision.datasets``): ``DatasetFolder``,
``ImageFolder`` and ``FakeData``, all ``rgrad.utils.data.Dataset`` subclasses."""

from .fakedata import FakeData
from .folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder
from .vision import VisionDataset

__all__ = ["IMG_EXTENSIONS", "DatasetFolder", "FakeData", "ImageFolder", "VisionDataset"]
