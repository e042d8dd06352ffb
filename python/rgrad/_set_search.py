"""The set, search, NaN-test, logical/bitwise and index-selection families as functions
(``torch.isnan``, ``torch.unique``, ``torch.searchsorted``, ...). Every one is a compiled op
(``rgrad._rgrad``); this module only maps PyTorch's argument forms onto them."""

from __future__ import annotations

from rgrad import _rgrad
from rgrad._errors import wrap_module

Tensor = _rgrad.Tensor

__all__ = [
    "allclose",
    "aminmax",
    "argwhere",
    "bincount",
    "bitwise_and",
    "bitwise_left_shift",
    "bitwise_not",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "bucketize",
    "count_nonzero",
    "equal",
    "histc",
    "isclose",
    "isfinite",
    "isin",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "scatter_reduce",
    "searchsorted",
    "take",
    "take_along_dim",
    "unique",
    "unique_consecutive",
]

allclose = Tensor.allclose
aminmax = Tensor.aminmax
argwhere = Tensor.argwhere
bincount = Tensor.bincount
bitwise_and = Tensor.bitwise_and
bitwise_left_shift = Tensor.bitwise_left_shift
bitwise_not = Tensor.bitwise_not
bitwise_or = Tensor.bitwise_or
bitwise_right_shift = Tensor.bitwise_right_shift
bitwise_xor = Tensor.bitwise_xor
count_nonzero = Tensor.count_nonzero
equal = Tensor.equal
histc = Tensor.histc
isclose = Tensor.isclose
isfinite = Tensor.isfinite
isinf = Tensor.isinf
isnan = Tensor.isnan
isneginf = Tensor.isneginf
isposinf = Tensor.isposinf
logical_and = Tensor.logical_and
logical_not = Tensor.logical_not
logical_or = Tensor.logical_or
logical_xor = Tensor.logical_xor
scatter_reduce = Tensor.scatter_reduce
take = Tensor.take
take_along_dim = Tensor.take_along_dim
unique = Tensor.unique
unique_consecutive = Tensor.unique_consecutive


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(
                f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
            )
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of "
                "left while right was True"
            )
        right = side == "right"
    return _rgrad._searchsorted(sorted_sequence, input, out_int32, right, sorter)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    return _rgrad._bucketize(input, boundaries, out_int32, right)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    # assume_unique only lets PyTorch skip deduplication; the result is the same.
    return _rgrad._isin(elements, test_elements, invert)


wrap_module(globals(), __all__)
