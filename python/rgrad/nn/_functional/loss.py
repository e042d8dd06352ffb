"""Loss functions of ``rgrad.nn.functional``: PyTorch's formulas, reductions and errors."""

import warnings

import rgrad
from rgrad import _rgrad
from rgrad._errors import wrap_module
from rgrad.amp.autocast_mode import autocast_fp32

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]

_REDUCTIONS = ("none", "mean", "sum")
_DTYPE_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "int64": "Long",
    "int32": "Int",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "uint8": "Byte",
    "int8": "Char",
    "int16": "Short",
}


def _dtype_name(dtype):
    name = repr(dtype).rpartition(".")[2]
    return _DTYPE_NAMES.get(name, name.capitalize())


def _reduction(size_average, reduce, reduction):
    """The reduction string, honouring the deprecated ``size_average``/``reduce`` flags."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(
            "size_average and reduce args will be deprecated, please use "
            f"reduction='{reduction}' instead.",
            stacklevel=3,
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _warn_size(input, target):
    if target.shape != input.shape:
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Squared error ``(input - target)**2``, reduced."""
    reduction = _reduction(size_average, reduce, reduction)
    _warn_size(input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Absolute error ``|input - target|``, reduced."""
    reduction = _reduction(size_average, reduce, reduction)
    _warn_size(input, target)
    return _reduce((input - target).abs(), reduction)


def _piecewise(input, target, limit, quad_scale, lin_scale, reduction):
    """``quad_scale * z**2`` where ``|z| < limit``, else ``lin_scale * (|z| - limit / 2)``."""
    z = input - target
    a = z.abs()
    linear = (a - 0.5 * limit) * lin_scale if lin_scale != 1 else a - 0.5 * limit
    return _reduce((z * z * quad_scale).where(a < limit, linear), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 z**2 / beta`` for ``|z| < beta``, else ``|z| - beta / 2`` (``z = input - target``)."""
    reduction = _reduction(size_average, reduce, reduction)
    _warn_size(input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return _reduce((input - target).abs(), reduction)
    return _piecewise(input, target, beta, 0.5 / beta, 1.0, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """``0.5 z**2`` for ``|z| < delta``, else ``delta * (|z| - delta / 2)``."""
    reduction = _reduction(None, None, reduction)
    _warn_size(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _piecewise(input, target, delta, 0.5, delta, reduction)


def _clamped_log(x, log_fn, at_singularity):
    """``max(log_fn(x), -100)`` as PyTorch's BCE; where ``at_singularity`` holds the result is
    -100 with a zero gradient (the log's argument is 0 there, and 0 * inf would be NaN)."""
    safe = x.masked_fill(at_singularity, 0.5)
    return log_fn(safe).clamp_min(-100.0).masked_fill(at_singularity, -100.0)


def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    """``-w (t log p + (1 - t) log(1 - p))`` for probabilities ``p``; logs clamped at -100."""
    reduction = _reduction(size_average, reduce, reduction)
    # One fused op (rgrad_core::ops::loss) where it applies, as for the logits version below.
    fused = _rgrad._binary_cross_entropy(input, target, weight, reduction)
    if fused is not None:
        return fused
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}) is deprecated. Please ensure they have the same size."
        )
    values = input.detach()
    lo, hi = (float(values.min()), float(values.max())) if values.numel() else (0.5, 0.5)
    if not (lo >= 0 and hi <= 1):
        raise RuntimeError("all elements of input should be between 0 and 1")
    if lo > 0 and hi < 1:
        log_p = input.log().clamp_min(-100.0)
        log_q = (-input).log1p().clamp_min(-100.0)
    else:
        log_p = _clamped_log(input, lambda x: x.log(), input.eq(0))
        log_q = _clamped_log(input, lambda x: (-x).log1p(), input.eq(1))
    loss = (target - 1) * log_q - target * log_p
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """BCE of ``sigmoid(input)`` computed from the logits, stable for large ``|input|``:
    ``(1 - t) x + (1 + (pos_weight - 1) t) softplus(-x)``, times ``weight``."""
    reduction = _reduction(size_average, reduce, reduction)
    # One fused op (rgrad_core::ops::loss) where it applies: CPU tensors of one float dtype,
    # weights that broadcast to the input, no gradient wanted for target or weights.
    fused = _rgrad._binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction)
    if fused is not None:
        return fused
    return _bce_with_logits_composite(input, target, weight, pos_weight, reduction)


def _bce_with_logits_composite(input, target, weight, pos_weight, reduction):
    """:func:`binary_cross_entropy_with_logits` in tensor ops, for what the fused op declines
    (and as its reference in the tests)."""
    if target.shape != input.shape:
        raise ValueError(
            f"Target size ({target.size()}) must be the same as input size ({input.size()})"
        )
    a = input.abs()
    # softplus(-x) = -log(sigmoid(x)) = max(-x, 0) + log1p(exp(-|x|)), kink gradient 1/2.
    neg_log_sigmoid = (a - input) * 0.5 + (-a).exp().log1p()
    if pos_weight is not None:
        neg_log_sigmoid = neg_log_sigmoid * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input + neg_log_sigmoid
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _class_view(weight, ndim, class_dim):
    """``weight`` (one value per class) shaped to broadcast along ``class_dim``."""
    if ndim <= 1:
        return weight
    shape = [1] * ndim
    shape[class_dim] = weight.shape[0]
    return weight.reshape(shape)


def _check_weight(weight, input, prefix=""):
    """PyTorch's check that a class weight has one entry per class."""
    n_classes = input.shape[0 if input.dim() == 1 else 1] if input.dim() else 0
    if weight is not None and (weight.dim() != 1 or weight.shape[0] != n_classes):
        raise RuntimeError(
            f"{prefix}weight tensor should be defined either for all {n_classes} classes or no "
            f"classes but got weight tensor of shape: {list(weight.shape)}"
        )


def _check_target(input, target, class_dim, ignore_index):
    """Validates class-index targets with PyTorch's checks and messages; returns the target
    (a 1-element 1-D target of a 1-D input is read as 0-d) and whether any is ignore_index."""
    if input.dim() >= 2 and (target.dim() == 0 or target.shape[0] != input.shape[0]):
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0] if target.dim() else 0})."
        )
    if input.dim() == 1 and target.dim() == 1:
        if target.shape[0] != 1:
            raise ValueError(
                f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}"
            )
        target = target.reshape(())
    expected = [input.shape[0], *input.shape[2:]] if input.dim() >= 2 else []
    if list(target.shape) != expected:
        if input.dim() <= 2:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if input.dim() == 3:
            raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")
        raise RuntimeError(
            f"size mismatch (got input: {list(input.shape)} , target: {list(target.shape)}"
        )
    if target.dtype != rgrad.int64:
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_dtype_name(target.dtype)}"
        )
    t = target.detach()
    n_classes = input.shape[class_dim]
    if t.numel() == 0 or (
        int(t.min()) >= 0 and int(t.max()) < n_classes and not 0 <= ignore_index < n_classes
    ):
        return target, False  # the common case: all in range, none ignored
    ignored = t == ignore_index
    bad = ((t < 0) | (t >= n_classes)) & ~ignored
    if bool(bad.any()):
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")
    return target, bool(ignored.any())


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    """Negative log likelihood of class indices: ``-weight[y] * input[..., y, ...]``.

    ``input`` is (C,), (N, C) or (N, C, d1, ...) log-probabilities; ``target`` holds class
    indices; entries equal to ``ignore_index`` contribute nothing; ``'mean'`` divides by the
    total weight of the counted targets.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    class_dim = 1 if input.dim() >= 2 else 0
    _check_weight(weight, input)
    target, has_ignored = _check_target(input, target, class_dim, ignore_index)
    ignored = target.eq(ignore_index) if has_ignored else None
    safe = target.masked_fill(ignored, 0) if has_ignored else target
    picked = input.gather(class_dim, safe.unsqueeze(class_dim)).squeeze(class_dim)
    if has_ignored:
        # Ignored entries get an exact zero gradient, as in PyTorch, even when 'mean' divides
        # by a zero total weight (0 * inf would otherwise be NaN).
        picked = picked.masked_fill(ignored, 0.0)
    if weight is None and not has_ignored:
        return _reduce(-picked, reduction)
    if weight is not None:
        w = weight.index_select(0, safe.reshape(-1)).reshape(safe.shape)
        w = w.masked_fill(ignored, 0.0) if has_ignored else w
    else:
        w = target.ne(ignore_index).to(input.dtype)
    loss = -picked * w
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """Cross entropy of logits ``input`` against class indices or class probabilities.

    A ``target`` of the same shape as ``input`` holds probabilities; otherwise class indices
    (see :func:`nll_loss` for ``weight``/``ignore_index``). ``label_smoothing`` mixes the
    target with the uniform distribution over classes.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.dim() >= 1 and target.shape == input.shape and target.is_floating_point():
        if ignore_index != -100:
            raise RuntimeError("ignore_index is not supported for floating point target")
        _check_weight(weight, input, "cross_entropy: ")
    elif input.dim() >= 1:
        _check_weight(weight, input)
    # Class-index targets on the CPU take one fused op (rgrad_core::ops::loss); it declines
    # (None) probabilities, malformed shapes, other devices and a weight that needs a gradient.
    fused = _rgrad._cross_entropy(input, target, weight, ignore_index, label_smoothing, reduction)
    if fused is not None:
        return fused
    return _cross_entropy_composite(input, target, weight, ignore_index, reduction, label_smoothing)


def _cross_entropy_composite(input, target, weight, ignore_index, reduction, label_smoothing):
    """:func:`cross_entropy` as log_softmax + :func:`nll_loss` (and the smoothing term) in
    tensor ops, for what the fused op declines (and as its reference in the tests)."""
    class_dim = 0 if input.dim() == 1 else 1
    n_classes = input.shape[class_dim]
    logp = input.log_softmax(class_dim)
    if target.shape == input.shape:
        if not target.is_floating_point():
            raise RuntimeError(
                "Expected floating point type for target with class probabilities, got "
                + _dtype_name(target.dtype)
            )
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target
        if weight is not None:
            prod = prod * _class_view(weight, input.dim(), class_dim)
        if reduction == "none":
            return -prod.sum(class_dim)
        total = -prod.sum()
        return total if reduction == "sum" else total / (input.numel() / n_classes)

    loss = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return loss
    if input.dim() == 1:
        target = target.reshape(())
    if weight is not None:
        smooth = -(logp * _class_view(weight, input.dim(), class_dim)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    ignored = target.eq(ignore_index)
    smooth = smooth.masked_fill(ignored, 0.0)
    if reduction == "mean":
        if weight is not None:
            safe = target.masked_fill(ignored, 0)
            counted = weight.index_select(0, safe.reshape(-1)).reshape(safe.shape)
            smooth = smooth.sum() / counted.masked_fill(ignored, 0.0).sum()
        else:
            smooth = smooth.sum() / target.ne(ignore_index).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence ``target * (log(target) - input)`` for log-probabilities
    ``input`` (``target`` given as log-probabilities too with ``log_target``); terms with
    ``target == 0`` are 0. ``reduction='batchmean'`` divides the sum by the batch size."""
    if reduction == "batchmean":
        if size_average is not None or reduce is not None:
            reduction = _reduction(size_average, reduce, "mean")
    else:
        reduction = _reduction(size_average, reduce, reduction)
        if reduction == "mean":
            warnings.warn(
                "reduction: 'mean' divides the total loss by both the batch size and the "
                "support size.'batchmean' divides only by the batch size, and aligns with the "
                "KL div math definition.'mean' will be changed to behave the same as "
                "'batchmean' in the next major release.",
                stacklevel=2,
            )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        zero = target.eq(0)
        loss = (target * (target.masked_fill(zero, 1.0).log() - input)).masked_fill(zero, 0.0)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() != 0 else loss.sum()
    return _reduce(loss, reduction)


# Non-tensor arguments and NumPy failures raise PyTorch's errors (see rgrad._errors).
wrap_module(globals(), __all__)

# Under CPU autocast these run in float32 (PyTorch's CPU fp32 cast policy for losses).
for _name in __all__:
    globals()[_name] = autocast_fp32(globals()[_name])
del _name
