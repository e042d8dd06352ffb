"""Gradient clipping: by total norm (``clip_grad_norm_``) or by value (``clip_grad_value_``)."""

import math
import warnings

import rgrad

__all__ = [
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
]


def _grads(parameters):
    if isinstance(parameters, rgrad.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all ``tensors`` taken together, as a 0-d tensor."""
    if isinstance(tensors, rgrad.Tensor):
        tensors = [tensors]
    tensors = [t.detach() for t in tensors]
    norm_type = float(norm_type)
    if not tensors:
        return rgrad.tensor(0.0)
    dtype = tensors[0].dtype
    with rgrad.no_grad():
        if norm_type == math.inf:
            norms = [t.abs().max().to(dtype) for t in tensors]
            total = norms[0] if len(norms) == 1 else rgrad.stack(norms).max()
        elif norm_type == 0:
            # The 0-"norm" counts nonzeros (Tensor.norm(0) returns inf, a core bug).
            norms = [t.ne(0).sum().to(dtype) for t in tensors]
            total = rgrad.stack(norms).ne(0).sum().to(dtype)
        else:
            norms = [t.norm(norm_type).to(dtype) for t in tensors]
            total = rgrad.stack(norms).norm(norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scales the gradients in place by ``max_norm / (total_norm + 1e-6)`` when below 1."""
    grads = _grads(parameters)
    if not grads:
        return
    coef = (float(max_norm) / (total_norm + 1e-6)).clamp_max(1.0)
    with rgrad.no_grad():
        for g in grads:
            g.mul_(coef.to(g.dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescales the gradients of ``parameters`` in place so that their total ``norm_type``-norm
    is at most ``max_norm``; returns the total norm before clipping."""
    if isinstance(parameters, rgrad.Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of :func:`clip_grad_norm_`."""
    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
        "`torch.nn.utils.clip_grad_norm_`.",
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient of ``parameters`` to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    with rgrad.no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
