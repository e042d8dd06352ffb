"""Batch collation, as ``torch.utils.data._utils.collate``."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence

import numpy as np

import rgrad
from rgrad import Tensor

# ------------------------------------------------------------------------------- collation

_np_str_obj_array_pattern = re.compile(r"[SaUO]")

_default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _numpy_to_tensor(array):
    """A tensor from a NumPy array or scalar. rgrad has bool, int32, int64, float32 and float64
    tensors: other integer types become int64, other float types float32."""
    array = np.asarray(array)
    if array.dtype.kind == "f" and array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float32)
    elif array.dtype.kind in "iu" and array.dtype not in (np.int32, np.int64):
        array = array.astype(np.int64)
    # asarray(order="C") rather than ascontiguousarray, which turns a 0-d array into 1-d.
    return rgrad.from_numpy(np.asarray(array, order="C"))


def default_convert(data):
    """Converts NumPy arrays and scalars (also inside mappings and sequences) to tensors,
    leaving everything else as is; the collate function used without automatic batching."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_"):
        if (
            elem_type.__name__ == "ndarray"
            and _np_str_obj_array_pattern.search(data.dtype.str) is not None
        ):
            return data
        return _numpy_to_tensor(data)
    if isinstance(data, Mapping):
        try:
            if isinstance(data, MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # as PyTorch: a list
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def _collate_tensor(batch):
    return rgrad.stack(list(batch), 0)


def _collate_numpy_array(batch):
    elem = batch[0]
    if _np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(_default_collate_err_msg_format.format(elem.dtype))
    return _collate_tensor([_numpy_to_tensor(b) for b in batch])


def _collate_numpy_scalar(batch):
    return _numpy_to_tensor(np.asarray(batch))


def _collate_float(batch):
    return rgrad.tensor(list(batch), dtype=rgrad.float64)


def _collate_int(batch):
    # bool is an int: a batch of bools gives a bool tensor.
    return rgrad.tensor(list(batch))


def _collate_str(batch):
    return batch


def default_collate(batch):
    r"""Merges a list of samples into a batch, as PyTorch's ``default_collate``:

    * tensors → ``stack`` along a new first dimension;
    * NumPy arrays → tensors, stacked; NumPy scalars → a tensor;
    * ``float`` → a float64 tensor; ``int`` → an int64 tensor (``bool`` → a bool tensor);
    * ``str``/``bytes`` → the list unchanged;
    * mappings → the same mapping type with each key's values collated;
    * namedtuples → the same namedtuple with each field collated;
    * tuples → a *list* with each position collated (as PyTorch does); other sequences → the
      same sequence type with each position collated (all samples must have equal length).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _collate_tensor(batch)
    if isinstance(elem, np.ndarray):
        return _collate_numpy_array(batch)
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return _collate_numpy_scalar(batch)
    if isinstance(elem, float):
        return _collate_float(batch)
    if isinstance(elem, int):
        return _collate_int(batch)
    if isinstance(elem, (str, bytes)):
        return _collate_str(batch)

    elem_type = type(elem)
    if isinstance(elem, Mapping):
        try:
            if isinstance(elem, MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: default_collate([d[key] for d in batch]) for key in elem})
                return clone
            return elem_type({key: default_collate([d[key] for d in batch]) for key in elem})
        except TypeError:
            return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [default_collate(samples) for samples in transposed]
        try:
            if isinstance(elem, MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = default_collate(samples)
                return clone
            return elem_type([default_collate(samples) for samples in transposed])
        except TypeError:
            return [default_collate(samples) for samples in transposed]

    raise TypeError(_default_collate_err_msg_format.format(elem_type))


def get_worker_info():
    """Always ``None``: data loading runs in the calling process."""
    return None
