"""``ctc_loss`` (``torch.nn.functional.ctc_loss`` and ``torch.ctc_loss``): the argument
handling of PyTorch's ``ctc_loss_impl`` around the core's ``_ctc_loss`` (the alpha/beta
recursions, rgrad_core::ops::ctc): the unbatched ``(T, C)`` form, lengths as integer tensors
or lists/tuples of ints (read on the host, as PyTorch does), ``zero_infinity``'s zeroing of
the infinite losses and the reductions."""

import math

import rgrad
from rgrad import _rgrad
from rgrad._errors import wrap_module
from rgrad.amp.autocast_mode import autocast_fp32
from rgrad.nn._functional.loss import _reduction

__all__ = ["ctc_loss"]

# PyTorch's at::Reduction enum, which torch.ctc_loss takes.
_ENUM = {"none": 0, "mean": 1, "sum": 2}

_OVERLOADS = (
    " * (Tensor log_probs, Tensor targets, tuple of ints input_lengths, tuple of ints "
    "target_lengths, int blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity = "
    "False)\n"
    " * (Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor target_lengths, int "
    "blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity = False)\n"
)


def _type_name(x):
    if isinstance(x, _rgrad.Tensor):
        return "Tensor"
    return type(x).__name__


def _bad_args(*args):
    got = ", ".join(_type_name(a) for a in args)
    return TypeError(
        f"ctc_loss() received an invalid combination of arguments - got ({got}), but expected "
        f"one of:\n{_OVERLOADS}"
    )


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _lengths(input_lengths, target_lengths, args):
    """Both lengths as lists of ints: both tensors (integral, any shape: flattened, as
    PyTorch's IntArrayRef over the data) or both sequences of ints."""
    if isinstance(input_lengths, _rgrad.Tensor) and isinstance(target_lengths, _rgrad.Tensor):
        out = []
        for name, t in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
            if t.dtype.is_floating_point or t.dtype == rgrad.bool:
                raise RuntimeError(f"{name} must be integral")
            out.append(t.detach().reshape(-1).cpu().tolist())
        return out
    seqs = (list, tuple)
    if isinstance(input_lengths, seqs) and isinstance(target_lengths, seqs):
        if all(_is_int(v) for v in input_lengths) and all(_is_int(v) for v in target_lengths):
            return [list(input_lengths), list(target_lengths)]
    raise _bad_args(*args)


def _ctc(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity):
    """``ctc_loss_impl`` with the reduction as PyTorch's enum (0 none, 1 mean, 2 sum)."""
    args = (log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)
    if not (
        isinstance(log_probs, _rgrad.Tensor)
        and isinstance(targets, _rgrad.Tensor)
        and _is_int(blank)
        and _is_int(reduction)
        and isinstance(zero_infinity, bool)
    ):
        raise _bad_args(*args)
    il, tl = _lengths(input_lengths, target_lengths, args)
    batched = log_probs.dim() == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    res = _rgrad._ctc_loss(lp, targets, il, tl, blank, zero_infinity)
    if zero_infinity:
        zero = rgrad.zeros((), dtype=res.dtype, device=res.device)
        res = rgrad.where(res == math.inf, zero, res)
    if reduction == 1:
        # each loss divided by its target length (at least 1), then the batch mean
        lengths = rgrad.tensor(tl, dtype=res.dtype, device=res.device).clamp_min(1)
        return (res / lengths).mean()
    if reduction == 2:
        return res.sum()
    return res if batched else res.squeeze(0)


def ctc_loss(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank=0,
    reduction="mean",
    zero_infinity=False,
):
    """The Connectionist Temporal Classification loss of ``log_probs`` ``(T, N, C)`` (or
    unbatched ``(T, C)``) against ``targets`` padded ``(N, S)`` or concatenated (1-d), with
    each item's input and target lengths. Infeasible targets give an infinite loss (0, and
    a zero gradient, with ``zero_infinity``)."""
    reduction = _reduction(None, None, reduction)
    return _ctc(
        log_probs, targets, input_lengths, target_lengths, blank, _ENUM[reduction], zero_infinity
    )


def torch_ctc_loss(
    log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1, zero_infinity=False
):
    """``torch.ctc_loss``: :func:`ctc_loss` with the reduction as PyTorch's enum (0 none,
    1 mean, 2 sum; other values give the per-sample losses, as in PyTorch)."""
    return _ctc(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)


torch_ctc_loss.__name__ = torch_ctc_loss.__qualname__ = "ctc_loss"

# Non-tensor arguments raise PyTorch's errors (see rgrad._errors); under CPU autocast the
# log probabilities run in float32 (PyTorch's CPU fp32 cast policy for losses).
wrap_module(globals(), [*__all__, "torch_ctc_loss"])
ctc_loss = autocast_fp32(ctc_loss)
torch_ctc_loss = autocast_fp32(torch_ctc_loss)
