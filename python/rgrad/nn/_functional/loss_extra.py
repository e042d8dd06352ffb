"""More loss functions of ``rgrad.nn.functional``: the margin and embedding losses and the
Poisson and Gaussian negative log likelihoods, with PyTorch's formulas, checks and messages.

The margin losses whose PyTorch kernels test ``z > 0`` (multi-margin, multilabel-margin) pass
no gradient where a margin term is exactly 0; the ones PyTorch composes from ``clamp_min``
(margin-ranking, hinge-embedding, triplet) pass it, as ``clamp_min``'s gradient does.
"""

import math

import rgrad
from rgrad._errors import wrap_module
from rgrad.nn._functional.distance import pairwise_distance
from rgrad.nn._functional.loss import _dtype_name, _reduce, _reduction

__all__ = [
    "cosine_embedding_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "poisson_nll_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
]


def margin_ranking_loss(
    input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"
):
    """``max(0, -target * (input1 - input2) + margin)``: ``target = 1`` asks for
    ``input1 > input2``, ``-1`` for the opposite."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} "
        )
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(
    input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"
):
    """``input`` where ``target == 1``, ``max(0, margin - input)`` where ``target == -1``
    (other targets get both terms, as in PyTorch)."""
    reduction = _reduction(size_average, reduce, reduction)
    below = (margin - input).clamp_min(0).where(target.ne(1), 0.0)
    return _reduce(below + input.where(target.ne(-1), 0.0), reduction)


def _softplus(x):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): PyTorch's log1p(exp(x)) without its
    # overflow to inf for x above ~88 (float32) or ~709 (float64).
    a = x.abs()
    return (x + a) * 0.5 + (-a).exp().log1p()


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Two-class logistic loss ``log(1 + exp(-target * input))`` for targets of +-1."""
    reduction = _reduction(size_average, reduce, reduction)
    return _reduce(_softplus(-input * target), reduction)


def multilabel_soft_margin_loss(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    """Per-class logistic loss of multi-hot ``target``, averaged over the classes (last
    dim) and then reduced over the samples."""
    reduction = _reduction(size_average, reduce, reduction)
    # -log(sigmoid(x)) = softplus(-x) and -log(1 - sigmoid(x)) = softplus(x).
    loss = target * _softplus(-input) + (1 - target) * _softplus(input)
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)


def cosine_embedding_loss(
    input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"
):
    """``1 - cos(input1, input2)`` where ``target == 1``, ``max(0, cos - margin)`` where
    ``target == -1``; ``cos`` along dim 1 (dim 0 for a 0-d target)."""
    reduction = _reduction(size_average, reduce, reduction)
    tdim = target.dim()
    if tdim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if not input1.dim() == input2.dim() == tdim + 1:
        expect = "2D" if tdim == 1 else "1D"
        raise RuntimeError(
            f"{tdim}D target tensor expects {expect} input tensors, but found inputs with sizes "
            f"{list(input1.shape)} and {list(input2.shape)}."
        )
    # PyTorch's form: the squared norms get 1e-12 before one square root of their product.
    prod = (input1 * input2).sum(tdim)
    mag1 = (input1 * input1).sum(tdim) + 1e-12
    mag2 = (input2 * input2).sum(tdim) + 1e-12
    cos = prod / (mag1 * mag2).sqrt()
    pos = (1 - cos).where(target.eq(1), 0.0)
    neg = (cos - margin).clamp_min(0).where(target.eq(-1), 0.0)
    return _reduce(pos + neg, reduction)


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` with the
    :func:`pairwise_distance` ``d``; ``swap`` uses ``min(d(a, n), d(p, n))`` as the negative
    distance."""
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if len(set(dims)) != 1:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative "
            f"{dims[2]}D inputs"
        )
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = rgrad.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def poisson_nll_loss(
    input,
    target,
    log_input=True,
    full=False,
    size_average=None,
    eps=1e-8,
    reduce=None,
    reduction="mean",
):
    """Poisson negative log likelihood: ``exp(input) - target * input`` for log-rates
    (``log_input``), else ``input - target * log(input + eps)``; ``full`` adds Stirling's
    approximation of ``log(target!)`` where ``target > 1``."""
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        # Where target <= 1 the term is dropped; log of 1 there keeps its gradient finite.
        small = target.le(1)
        safe = target.masked_fill(small, 1.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + stirling.masked_fill(small, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log likelihood ``(log(var) + (input - target)**2 / var) / 2`` (plus
    ``log(2 pi) / 2`` with ``full``). ``var`` may be a float, match ``input``, lack its last
    dim, or have size 1 in one dim (one variance shared across it). It is clamped to ``eps``
    for the value only: the gradient flows as if unclamped, as in PyTorch."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = rgrad.full(input.shape, float(var), dtype=input.dtype, device=input.device)
    elif bool(var.lt(0).any()):
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (
            input.dim() == var.dim()
            and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1
        ):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with rgrad.no_grad():
        var.clamp_min_(eps)
    diff = input - target
    loss = 0.5 * (var.log() + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def _check_margin_input(input):
    ndim = input.dim()
    if not ((ndim == 2 and input.shape[1] != 0) or (ndim == 1 and input.shape[0]) or ndim == 0):
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(input.shape)}"
        )


def _check_long(target):
    if target.dtype != rgrad.int64:
        raise RuntimeError(f"expected scalar type Long but found {_dtype_name(target.dtype)}")


def _positive_part(z):
    # The kernels' ``if (z > 0)``: no gradient where z is exactly 0.
    return z.where(z > 0, 0.0)


def multi_margin_loss(
    input,
    target,
    p=1,
    margin=1.0,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """Multi-class hinge loss: for each sample with class ``y``,
    ``sum_{j != y} max(0, margin - x[y] + x[j])**p / C``, times ``weight[y]``."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    _check_margin_input(input)
    n = input.shape[0] if input.dim() == 2 else 1
    classes = input.shape[-1] if input.dim() else 1
    if target.dim() > 1 or target.numel() != n:
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{n}], but got "
            f"{list(target.shape)}. Input has shape {list(input.shape)}."
        )
    _check_long(target)
    if weight is not None and weight.numel() != classes:
        raise RuntimeError(
            f"inconsistent weight size, expected {classes} but got {list(weight.shape)}"
        )
    t = target.detach().reshape(-1)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= classes):
        raise RuntimeError("target out of range")
    x = input.reshape(n, classes)
    y = target.reshape(n, 1)
    z = _positive_part(margin - x.gather(1, y) + x)
    own = t.to(input.device).unsqueeze(1) == rgrad.arange(classes, device=input.device)
    z = z.masked_fill(own, 0.0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight.index_select(0, y.reshape(-1)).unsqueeze(1)
    loss = z.sum(1) / classes
    if reduction == "none":
        return loss.reshape(target.shape)
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss. Each row of ``target`` lists the sample's classes, ended by
    the first -1; the loss sums ``max(0, 1 - (x[j] - x[i]))`` over its classes ``j`` and the
    other classes ``i``, divided by the number of classes."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_margin_input(input)
    classes = input.shape[-1] if input.dim() else 1
    n = input.shape[0] if input.dim() == 2 else 1
    if input.dim() <= 1:
        ok = target.dim() <= 1 and target.numel() == classes
    else:
        ok = tuple(target.shape) == tuple(input.shape)
    if not ok:
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}"
        )
    _check_long(target)
    t = target.detach().to(input.device).reshape(n, classes)
    if t.numel() and (int(t.min()) < -1 or int(t.max()) >= classes):
        raise RuntimeError("argument #2 'target' is out of range")
    listed = (t != -1).long().cumprod(1).bool()  # entries before the first -1
    safe = t.masked_fill(~listed, 0)
    # is_target[s, i]: class i is one of row s's listed classes.
    classes_ = rgrad.arange(classes, device=input.device)
    is_target = (safe.unsqueeze(2) == classes_).logical_and(listed.unsqueeze(2)).any(1)
    x = input.reshape(n, classes)
    picked = x.gather(1, safe)
    z = _positive_part(1 - picked.unsqueeze(2) + x.unsqueeze(1))  # (n, listed j, class i)
    counted = listed.unsqueeze(2).logical_and(is_target.logical_not().unsqueeze(1))
    z = z.masked_fill(counted.logical_not(), 0.0)
    loss = z.sum((1, 2)) / classes
    if reduction == "none":
        return loss if input.dim() == 2 else loss.reshape(())
    return _reduce(loss, reduction)


# Non-tensor arguments and NumPy failures raise PyTorch's errors (see rgrad._errors).
wrap_module(globals(), __all__)
