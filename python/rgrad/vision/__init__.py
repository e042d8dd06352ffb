"""``rgrad.vision``: what torchvision gives PyTorch users, for rgrad: ``transforms``,
``datasets``, ``models`` and ``utils`` (``make_grid``, ``save_image``), with torchvision's
names, arguments and conventions (``import rgrad.vision as torchvision``)."""

from . import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
