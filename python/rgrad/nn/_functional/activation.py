"""Activation functions of ``rgrad.nn.functional``, as compositions of core tensor ops.

Where a formula has a kink or would overflow, it is written so that forward values, gradients
(including the one PyTorch picks at the kink) and large inputs come out as PyTorch's do.
"""

import math
import warnings

__all__ = [
    "elu",
    "elu_",
    "gelu",
    "hardtanh",
    "hardtanh_",
    "leaky_relu",
    "leaky_relu_",
    "log_softmax",
    "logsigmoid",
    "mish",
    "relu",
    "relu_",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "tanh",
]

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


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
    """Gaussian error linear unit: ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh form."""
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * _SQRT_2_OVER_PI
        return input * 0.5 * (inner.tanh() + 1)
    if approximate != "none":
        raise RuntimeError("approximate argument must be either none or tanh.")
    return input * 0.5 * ((input * _SQRT_HALF).erf() + 1)


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


# PyTorch's in-place spellings.
def relu_(input):
    return relu(input, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)
