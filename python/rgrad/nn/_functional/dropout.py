"""Channel-wise and self-normalizing dropout of ``rgrad.nn.functional``: ``dropout1d``,
``dropout2d``, ``dropout3d``, ``alpha_dropout`` and ``feature_alpha_dropout``.

All follow PyTorch's one scheme: a Bernoulli(1 - p) keep mask (one draw per element, or per
(sample, channel) for the feature versions, broadcast over the rest), drawn from rgrad's
generator, so the masks are not PyTorch's bit for bit but have the same distribution.
"""

import math
import warnings

import rgrad
from rgrad._errors import wrap_module

__all__ = [
    "alpha_dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "feature_alpha_dropout",
]

# SELU's alpha * scale: the value a dropped unit takes before the affine correction.
_ALPHA = 1.7580993408473766


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _apply(input, p, training, inplace, feature, alpha):
    """PyTorch's ``_dropout_impl``: ``input * noise`` (``+ b`` for the alpha versions)."""
    if not training or p == 0 or input.numel() == 0:
        return input
    if feature and input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 1:
        zero = rgrad.zeros((), dtype=input.dtype, device=input.device)
        return input.mul_(zero) if inplace else input * zero
    shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2) if feature else input.shape
    keep = (rgrad.rand(shape, dtype=input.dtype, device=input.device) < 1 - p).to(input.dtype)
    if not alpha:
        noise = keep * (1.0 / (1 - p))
        return input.mul_(noise) if inplace else input * noise
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    # Kept units: a * x + a * alpha * p; dropped units: the constant a * alpha * (p - 1).
    b = (keep - 1) * (_ALPHA * a) + _ALPHA * a * p
    noise = keep * a
    return input.mul_(noise).add_(b) if inplace else input * noise + b


def _unbatched(input, p, training, inplace):
    """Channel dropout of an input without the batch dim, through a batch-of-one view (which
    an in-place dropout writes through)."""
    view = input.unsqueeze(0)
    out = _apply(view, p, training, inplace, True, False)
    return input if out is view else out.squeeze(0)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of a (N, C, L) or (C, L) input with probability ``p``."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {ndim}D input. Note that "
            "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs)."
        )
    if ndim == 3:
        return _apply(input, p, training, inplace, True, False)
    return _unbatched(input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of a (N, C, H, W) input with probability ``p``; a 3-D input is
    read as (N, C, L), with PyTorch's warnings."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _apply(input, p, training, inplace, True, False)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of a (N, C, D, H, W) or (C, D, H, W) input with probability
    ``p``."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    if ndim != 4:
        return _apply(input, p, training, inplace, True, False)
    return _unbatched(input, p, training, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps the zero mean and unit variance of SELU activations: dropped units
    are set to SELU's negative saturation value and the result is affinely corrected."""
    _check_p(p)
    return _apply(input, p, training, inplace, False, True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """:func:`alpha_dropout` of whole channels (dim 1)."""
    _check_p(p)
    return _apply(input, p, training, inplace, True, True)


# Non-tensor arguments and NumPy failures raise PyTorch's errors (see rgrad._errors).
wrap_module(globals(), __all__)
