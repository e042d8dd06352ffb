"""Activation functions of ``rgrad.nn.functional``, as compositions of core tensor ops.

Where a formula has a kink or would overflow, it is written so that forward values, gradients
(including the one PyTorch picks at the kink) and large inputs come out as PyTorch's do.
"""

import warnings

import rgrad
from rgrad import _rgrad
from rgrad._errors import wrap_module

__all__ = [
    "celu",
    "celu_",
    "elu",
    "elu_",
    "gelu",
    "glu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hardtanh_",
    "leaky_relu",
    "leaky_relu_",
    "log_softmax",
    "logsigmoid",
    "mish",
    "prelu",
    "relu",
    "relu_",
    "relu6",
    "rrelu",
    "rrelu_",
    "selu",
    "selu_",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "tanh",
    "tanhshrink",
    "threshold",
    "threshold_",
]


def _activate(formula, input, inplace):
    """``formula(input)``, written into ``input`` when ``inplace``. The in-place result is
    computed from a copy of a grad-requiring input, so that the values its backward pass saved
    are not the ones being overwritten."""
    if not inplace:
        return formula(input)
    source = input.clone() if input.requires_grad else input
    return input.copy_(formula(source))


def _softplus(x):
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)).

    max(x, 0) is written (x + |x|) / 2 so the gradient at 0 is 1/2 = sigmoid(0), as it must be.
    """
    a = x.abs()
    return (x + a) * 0.5 + (-a).exp().log1p()


def relu(input, inplace=False):
    """max(input, 0) elementwise."""
    return input.relu_() if inplace else input.relu()


def relu6(input, inplace=False):
    """min(max(input, 0), 6) elementwise."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input where positive, else ``negative_slope * input``."""
    return _activate(lambda x: x.where(x > 0, x * negative_slope), input, inplace)


def elu(input, alpha=1.0, inplace=False):
    """input where positive, else ``alpha * (exp(input) - 1)``."""
    # exp of the clamped input: the branch where() discards must not overflow (inf * 0 = NaN).
    return _activate(lambda x: x.where(x > 0, x.clamp_max(0).expm1() * alpha), input, inplace)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh form.

    One core op (``GeluBackward0``): a fused forward and a fused derivative kernel."""
    return _rgrad.gelu(input, approximate)


def silu(input, inplace=False):
    """``x * sigmoid(x)`` (swish)."""
    return _activate(lambda x: x * x.sigmoid(), input, inplace)


def mish(input, inplace=False):
    """``x * tanh(softplus(x))``."""
    return _activate(lambda x: x * _softplus(x).tanh(), input, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``."""
    scaled = input * beta if beta != 1 else input
    soft = _softplus(scaled)
    if beta != 1:
        soft = soft / beta
    return input.where(scaled > threshold, soft)


def logsigmoid(input):
    """``log(sigmoid(x))`` = min(x, 0) - log1p(exp(-|x|)), stable for large |x|."""
    a = input.abs()
    return (input - a) * 0.5 - (-a).exp().log1p()


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """input clamped to ``[min_val, max_val]``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    # Not clamp(): PyTorch's hardtanh passes no gradient at the two boundaries themselves.
    return _activate(
        lambda x: x.where(x > min_val, min_val).where(x < max_val, max_val), input, inplace
    )


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def _softmax_dim(name, ndim, stacklevel):
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``."""
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``log(softmax(x))`` along ``dim``, computed stably."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """``softmax(-x)`` along ``dim``."""
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    return (-input).softmax(dim, dtype=dtype)


# The constants of Klambauer et al. (2017), to the digits PyTorch uses.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` with the self-normalizing
    constants; the gradient at 0 is ``scale * alpha`` (the negative side), as PyTorch's."""
    negcoef = _SELU_ALPHA * _SELU_SCALE
    return _activate(
        lambda x: (x * _SELU_SCALE).where(x > 0, x.clamp_max(0).expm1() * negcoef), input, inplace
    )


def celu(input, alpha=1.0, inplace=False):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    # x * (1 / alpha), not x / alpha: the rounding PyTorch's kernel has.
    inv = 1.0 / alpha
    return _activate(
        lambda x: x.where(x > 0, (x * inv).clamp_max(0).expm1() * alpha), input, inplace
    )


def glu(input, dim=-1):
    """Gated linear unit: ``a * sigmoid(b)`` for the two halves ``a, b`` of ``input`` along
    ``dim``."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    ndim = input.dim()
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
            f"but got {dim})"
        )
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {dim % ndim} is size {size}"
        )
    a = input.narrow(dim, 0, size // 2)
    b = input.narrow(dim, size // 2, size // 2)
    return a * b.sigmoid()


def hardswish(input, inplace=False):
    """``x * relu6(x + 3) / 6``. The gradient is ``x / 3 + 1/2`` strictly inside (-3, 3), 0
    from -3 down and 1 from 3 up: the one-sided values PyTorch gives at the two kinks."""

    def formula(x):
        return (x * (x + 3) / 6).where(x > -3, 0.0).where(x < 3, x)

    return _activate(formula, input, inplace)


def hardsigmoid(input, inplace=False):
    """``relu6(x + 3) / 6``; no gradient at -3 and 3 themselves (PyTorch's open interval)."""

    def formula(x):
        return ((x + 3) / 6).where(x > -3, 0.0).where(x < 3, 1.0)

    return _activate(formula, input, inplace)


def hardshrink(input, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0."""
    return input.where((input > lambd).logical_or(input < -lambd), 0.0)


def softshrink(input, lambd=0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 in between."""
    if lambd < 0:
        name = "Double" if input.dtype == rgrad.float64 else "Float"
        top = rgrad.finfo(rgrad.float64 if name == "Double" else rgrad.float32).max
        raise RuntimeError(
            f"lambda must be in range [0, {top:g}] for input dtype {name}, but found {lambd:g}"
        )
    return (input - lambd).where(input > lambd, (input + lambd).where(input < -lambd, 0.0))


def tanhshrink(input):
    """``x - tanh(x)``."""
    return input - input.tanh()


def softsign(input):
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1)


def threshold(input, threshold, value, inplace=False):
    """``x`` where ``x > threshold``, else ``value``."""
    return _activate(lambda x: x.where(x > threshold, value), input, inplace)


_threshold = threshold  # for threshold_, whose argument shadows the name


def prelu(input, weight):
    """``x`` where positive, else ``weight * x``, with one weight or one per channel (dim 1)."""
    if weight.dim() > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.dim()}"
        )
    channels = input.shape[1] if input.dim() >= 2 else 1
    if weight.numel() != 1 and weight.numel() != channels:
        raise RuntimeError(
            "Mismatch of parameter numbers and input channel size. Found parameter numbers = "
            f"{weight.numel()} and channel size = {channels}."
        )
    if weight.numel() != 1 and input.dim() > 2:
        weight = weight.reshape(channels, *([1] * (input.dim() - 2)))
    elif weight.numel() == 1 and input.dim() < weight.dim():
        weight = weight.reshape(())
    return input.where(input > 0, input * weight)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: in training each non-positive element gets its own slope drawn
    uniformly from ``[lower, upper]`` (from rgrad's generator); otherwise the slope is
    ``(lower + upper) / 2``."""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)

    def formula(x):
        u = rgrad.rand(x.shape, dtype=x.dtype, device=x.device)
        return x.where(x > 0, x * (u * (upper - lower) + lower))

    return _activate(formula, input, inplace)


# PyTorch's in-place spellings.
def relu_(input):
    return relu(input, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, inplace=True)


# Non-tensor arguments and NumPy failures raise PyTorch's errors (see rgrad._errors).
wrap_module(globals(), __all__)
