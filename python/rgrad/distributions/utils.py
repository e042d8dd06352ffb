"""Helpers shared by the distributions (PyTorch's ``torch.distributions.utils``)."""

from functools import update_wrapper

import rgrad
from rgrad.nn import functional as F

__all__ = [
    "broadcast_all",
    "clamp_probs",
    "lazy_property",
    "logits_to_probs",
    "probs_to_logits",
    "tril_matrix_to_vec",
    "vec_to_tril_matrix",
]

euler_constant = 0.57721566490153286060  # Euler-Mascheroni constant

_NUMBER = (bool, int, float)


def broadcast_all(*values):
    """Broadcast tensors and numbers together; numbers become tensors of the first tensor's
    dtype (the default dtype when all are numbers)."""
    if not all(isinstance(v, rgrad.Tensor) or isinstance(v, _NUMBER) for v in values):
        raise ValueError(
            "Input arguments must all be instances of Number, "
            "rgrad.Tensor or objects implementing __torch_function__."
        )
    if not all(isinstance(v, rgrad.Tensor) for v in values):
        options = {"dtype": rgrad.get_default_dtype()}
        for v in values:
            if isinstance(v, rgrad.Tensor):
                options = {"dtype": v.dtype, "device": v.device}
                break
        values = [v if isinstance(v, rgrad.Tensor) else rgrad.tensor(v, **options) for v in values]
    return rgrad.broadcast_tensors(*values)


def _standard_normal(shape, dtype, device):
    return rgrad.empty(tuple(shape), dtype=dtype, device=device).normal_()


def _sum_rightmost(value, dim):
    """Sum out the ``dim`` rightmost dimensions."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    if is_binary:
        return rgrad.sigmoid(logits)
    return F.softmax(logits, dim=-1)


def clamp_probs(probs):
    """Clamp into the open interval (0, 1): [eps, 1 - eps] of the dtype."""
    eps = rgrad.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    clamped = clamp_probs(probs)
    if is_binary:
        return rgrad.log(clamped) - rgrad.log1p(-clamped)
    return rgrad.log(clamped)


def set_probs_or_logits(dist, probs, logits, total_count=None):
    """Stores on ``dist`` whichever one of ``probs`` / ``logits`` is given (PyTorch's error
    when not exactly one is), as a tensor, broadcast with ``total_count`` when that is given
    (which then takes the parameter's dtype), and sets ``dist._param``. Returns whether the
    parameter was a Python number (a scalar distribution has an empty batch shape). The
    other one stays a ``lazy_property`` computed from it."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    name, value = ("probs", probs) if probs is not None else ("logits", logits)
    if total_count is None:
        (param,) = broadcast_all(value)
    else:
        count, param = broadcast_all(total_count, value)
        dist.total_count = count.type_as(param)
    setattr(dist, name, param)
    dist._param = param
    return isinstance(value, _NUMBER)


def expand_probs_or_logits(dist, new, shape):
    """``expand``'s part for the parameters: those of ``probs`` / ``logits`` ``dist`` holds
    (computed or given) expanded to ``shape`` on ``new``, and ``new._param``."""
    for name in ("probs", "logits"):
        if name in dist.__dict__:
            setattr(new, name, dist.__dict__[name].expand(shape))
            new._param = new.__dict__[name]


def binary_probs_logits():
    """The ``logits`` and ``probs`` lazy properties of a distribution with one success
    probability per member (Bernoulli-like: sigmoid and its inverse), for a class body:
    ``logits, probs = binary_probs_logits()``."""

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    return logits, probs


class lazy_property:  # noqa: N801  (PyTorch's name)
    """A non-data descriptor computed on first access and then stored on the instance
    (computed with gradients enabled, so a later backward reaches the parameters)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with rgrad.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):  # noqa: N801
    def __init__(self, wrapped):
        property.__init__(self, wrapped)


def _tril_mask(n, diag, device="cpu"):
    arange = rgrad.arange(n, device=device)
    return arange < arange.view(-1, 1) + (diag + 1)


def tril_matrix_to_vec(mat, diag=0):
    """The lower-triangular entries of (a batch of) square matrices, row by row."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    return mat[..., _tril_mask(n, diag, mat.device)]


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of ``tril_matrix_to_vec``."""
    m = vec.shape[-1]
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * m + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    eps = rgrad.finfo(vec.dtype).eps
    if round(n) - n > eps:
        raise ValueError(
            f"The size of last dimension is {m} which cannot be expressed as "
            "the lower triangular part of a square D x D matrix."
        )
    n = round(n)
    mask = _tril_mask(n, diag, vec.device).reshape(-1)
    index = mask.nonzero().reshape(-1)
    flat = vec.new_zeros(tuple(vec.shape[:-1]) + (n * n,))
    flat = flat.index_copy(-1, index, vec)
    return flat.reshape(tuple(vec.shape[:-1]) + (n, n))
