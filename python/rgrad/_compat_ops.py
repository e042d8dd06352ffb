"""Ordering ops that training scripts use around the math (top-k accuracy, sorting scores).
Each is attached to ``Tensor`` as a method too. (The NaN tests, logical and bitwise ops are
compiled: ``rgrad._set_search``.)
"""

from __future__ import annotations

import numpy as np

from rgrad import _rgrad, return_types
from rgrad._errors import wrap_module

Tensor = _rgrad.Tensor

__all__ = [
    "argsort",
    "sort",
    "square",
    "topk",
]


def _host(t):
    return t.detach().cpu().numpy()


def _from_host(array, device):
    array = np.asarray(array)
    # ascontiguousarray makes a 0-d array 1-d: keep the shape (0-d `a | b` stays 0-d).
    out = _rgrad.from_numpy(np.ascontiguousarray(array).reshape(array.shape))
    return out if str(device) == "cpu" else out.to(device)


def square(input):
    return input * input


def sort(input, dim=-1, descending=False, stable=False):
    """Values and indices along ``dim``; the values are gathered, so gradients flow."""
    keys = _host(input)
    # A stable argsort of the negated keys keeps ties in index order for descending too.
    order = np.argsort(-keys if descending else keys, axis=dim, kind="stable")
    indices = _from_host(order.astype(np.int64), input.device)
    return return_types.sort((input.gather(dim, indices), indices))


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending).indices


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002  (PyTorch's name)
    values, indices = sort(input, dim, descending=largest)
    return return_types.topk((values.narrow(dim, 0, k), indices.narrow(dim, 0, k)))


def _install():
    wrap_module(globals(), __all__)
    for name in __all__:
        if not hasattr(Tensor, name):
            setattr(Tensor, name, globals()[name])


_install()
