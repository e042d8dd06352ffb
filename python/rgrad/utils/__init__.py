"""Utilities with PyTorch's layout: ``rgrad.utils.data`` holds datasets and the DataLoader."""

from rgrad.utils import data

__all__ = ["data"]
