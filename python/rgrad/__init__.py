"""rgrad: automatic differentiation with a Rust core and a PyTorch-shaped API.

``import rgrad as torch`` runs PyTorch-style autograd code on rgrad's engine.
"""

import math

from rgrad import (
    _tensor,  # noqa: F401  (attaches printing and iteration to Tensor)
    autograd,
    return_types,
)
from rgrad._legacy_tensors import (
    BFloat16Tensor,
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from rgrad._rgrad import (
    Tensor,
    arange,
    bfloat16,
    bool,
    cat,
    device,
    dtype,
    empty,
    eye,
    float16,
    float32,
    float64,
    from_numpy,
    full,
    int8,
    int16,
    int32,
    int64,
    is_anomaly_enabled,
    is_grad_enabled,
    linspace,
    ones,
    promote_types,
    result_type,
    stack,
    tensor,
    uint8,
    zeros,
)
from rgrad._set_search import *  # noqa: F403  (the set, search, logical and NaN-test ops)
from rgrad._settings import (
    are_deterministic_algorithms_enabled,
    get_default_dtype,
    get_float32_matmul_precision,
    get_num_threads,
    is_deterministic_algorithms_warn_only_enabled,
    set_default_dtype,
    set_float32_matmul_precision,
    set_num_threads,
    use_deterministic_algorithms,
)
from rgrad._size import Size
from rgrad._tensor_str import set_printoptions
from rgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from rgrad.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    rand,
    randint,
    randn,
    randperm,
    seed,
    set_rng_state,
)

__version__ = "0.1.0"

float = float32  # noqa: A001  (PyTorch's aliases shadow the builtins inside this namespace)
double = float64
long = int64
int = int32  # noqa: A001
half = float16
short = int16

# Functional forms of Tensor methods: `rgrad.exp(t)` is `Tensor.exp(t)`, no wrapper in between.
# sorting and selection
sort = Tensor.sort
argsort = Tensor.argsort
msort = Tensor.msort
topk = Tensor.topk
kthvalue = Tensor.kthvalue
median = Tensor.median
nanmedian = Tensor.nanmedian
mode = Tensor.mode
abs = Tensor.abs  # noqa: A001
add = Tensor.add
sub = Tensor.sub
mul = Tensor.mul
div = Tensor.div
pow = Tensor.pow  # noqa: A001
neg = Tensor.neg
exp = Tensor.exp
log = Tensor.log
log1p = Tensor.log1p
expm1 = Tensor.expm1
sqrt = Tensor.sqrt
rsqrt = Tensor.rsqrt
sin = Tensor.sin
cos = Tensor.cos
tan = Tensor.tan
tanh = Tensor.tanh
sigmoid = Tensor.sigmoid
relu = Tensor.relu
sign = Tensor.sign
reciprocal = Tensor.reciprocal
floor = Tensor.floor
ceil = Tensor.ceil
round = Tensor.round  # noqa: A001
trunc = Tensor.trunc
maximum = Tensor.maximum
minimum = Tensor.minimum
eq = Tensor.eq
ne = Tensor.ne
lt = Tensor.lt
le = Tensor.le
gt = Tensor.gt
ge = Tensor.ge
sum = Tensor.sum  # noqa: A001
mean = Tensor.mean
matmul = Tensor.matmul
mm = Tensor.mm
bmm = Tensor.bmm
dot = Tensor.dot
mv = Tensor.mv
reshape = Tensor.reshape
transpose = Tensor.transpose
t = Tensor.t
permute = Tensor.permute
unsqueeze = Tensor.unsqueeze
squeeze = Tensor.squeeze
flatten = Tensor.flatten
select = Tensor.select
narrow = Tensor.narrow
clone = Tensor.clone
detach = Tensor.detach
max = Tensor.max  # noqa: A001
min = Tensor.min  # noqa: A001
amax = Tensor.amax
amin = Tensor.amin
argmax = Tensor.argmax
argmin = Tensor.argmin
prod = Tensor.prod
cumsum = Tensor.cumsum
cumprod = Tensor.cumprod
var = Tensor.var
std = Tensor.std
logsumexp = Tensor.logsumexp
norm = Tensor.norm
all = Tensor.all  # noqa: A001
any = Tensor.any  # noqa: A001
softmax = Tensor.softmax
log_softmax = Tensor.log_softmax
clamp = Tensor.clamp
clip = Tensor.clip
clamp_min = Tensor.clamp_min
clamp_max = Tensor.clamp_max
split = Tensor.split
chunk = Tensor.chunk
unbind = Tensor.unbind
flip = Tensor.flip
movedim = Tensor.movedim
gather = Tensor.gather
scatter = Tensor.scatter
scatter_add = Tensor.scatter_add
index_select = Tensor.index_select
masked_fill = Tensor.masked_fill
masked_select = Tensor.masked_select
masked_scatter = Tensor.masked_scatter
tril = Tensor.tril
triu = Tensor.triu
nonzero = Tensor.nonzero


erf = Tensor.erf


def from_dlpack(ext_tensor):
    """A tensor sharing the memory of any CPU DLPack producer (NumPy arrays, other tensors)."""
    import numpy as np

    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if not hasattr(ext_tensor, "__dlpack__"):  # a bare DLPack capsule (CPU memory)

        class _Capsule:
            def __dlpack__(self, **_kwargs):
                return ext_tensor

            def __dlpack_device__(self):
                return (1, 0)

        ext_tensor = _Capsule()
    return from_numpy(np.from_dlpack(ext_tensor))


def concat(tensors, dim=0):
    return cat(tensors, dim)


def outer(input, vec2):
    """Outer product of two vectors."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(
            f"outer: Expected 1-D argument self, but got {input.ndim}-D"
            if input.ndim != 1
            else f"outer: Expected 1-D argument vec2, but got {vec2.ndim}-D"
        )
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer
Tensor.outer = Tensor.ger = outer


def where(condition, input, other):
    """Elements of ``input`` where ``condition`` holds, else of ``other``."""
    if not isinstance(input, Tensor):
        input = tensor(input, dtype=other.dtype if isinstance(other, Tensor) else None)
    return input.where(condition, other)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, without a copy when it already is one of that dtype and device."""
    if isinstance(data, Tensor):
        return data.to(device=device or data.device, dtype=dtype or data.dtype)
    return tensor(data, dtype=dtype, device=device)


def is_floating_point(input):
    return input.is_floating_point()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def _like(make, name):
    """``make``'s ``*_like`` form: the input's shape, and its dtype and device by default."""

    def like(
        input, *args, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
    ):
        return make(
            input.shape,
            *args,
            dtype=dtype or input.dtype,
            device=device or input.device,
            requires_grad=requires_grad,
        )

    like.__name__ = like.__qualname__ = name
    like.__doc__ = f"``{make.__name__}`` with ``input``'s shape, dtype and device."
    return like


zeros_like = _like(zeros, "zeros_like")
ones_like = _like(ones, "ones_like")
full_like = _like(full, "full_like")  # full_like(input, fill_value)
empty_like = _like(empty, "empty_like")


def _random_like(make, name):
    """A sampler's ``*_like`` form: as ``_like``, drawing from ``generator=``."""

    def like(
        input,
        *,
        generator=None,
        dtype=None,
        layout=None,
        device=None,
        requires_grad=False,
        memory_format=None,
    ):
        return make(
            *input.shape,
            generator=generator,
            dtype=dtype or input.dtype,
            device=device or input.device,
            requires_grad=requires_grad,
        )

    like.__name__ = like.__qualname__ = name
    like.__doc__ = f"``{make.__name__}`` with ``input``'s shape, dtype and device."
    return like


rand_like = _random_like(rand, "rand_like")
randn_like = _random_like(randn, "randn_like")


def randint_like(
    input, low=0, high=None, *, generator=None, dtype=None, device=None, requires_grad=False
):
    """``randint`` with ``input``'s shape (``randint_like(x, high)`` or ``(x, low, high)``)."""
    low, high = (0, low) if high is None else (low, high)
    return randint(
        low,
        high,
        tuple(input.shape),
        generator=generator,
        dtype=dtype or input.dtype,
        device=device or input.device,
    ).requires_grad_(requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    out = base ** linspace(start, end, steps, dtype=float64, device=device)
    return out.to(dtype or float32).requires_grad_(requires_grad)


def deg2rad(input):
    return input * (math.pi / 180.0)


def rad2deg(input):
    return input * (180.0 / math.pi)


def compile(model=None, **kwargs):  # noqa: A001  (PyTorch's name)
    """``torch.compile``: rgrad runs eagerly, so the model (or function) comes back as it is;
    as ``@torch.compile(...)`` it returns a decorator that does the same."""
    if model is None:
        return lambda fn: fn
    return model


# Subpackages that import names from this module come last.
from rgrad import (  # noqa: E402
    _elementwise,
    _products,
    _sampling,
    _set_search,
    _shape_ops,
    _statistics,
    _tensor_methods,  # noqa: E402, F401  (installs the Python-written Tensor methods)
    accelerator,
    amp,
    backends,
    cpu,
    cuda,
    linalg,
    nn,
    optim,
    random,
    utils,
    wgpu,
)
from rgrad._elementwise import *  # noqa: E402, F403
from rgrad._linalg_factor import (  # noqa: E402
    cholesky_solve,
    det,
    logdet,
    slogdet,
    triangular_solve,
)
from rgrad._linalg_factor import inv as inverse  # noqa: E402
from rgrad._products import *  # noqa: E402, F403
from rgrad._sampling import *  # noqa: E402, F403
from rgrad._shape_ops import *  # noqa: E402, F403
from rgrad._statistics import *  # noqa: E402, F403
from rgrad.linalg import cdist, dist  # noqa: E402
from rgrad.linalg import torch_norm as norm  # noqa: E402, F811

Tensor.dist = dist
# The Tensor methods of the deprecated solves (``b.triangular_solve(A)``) and the determinants.
Tensor.cholesky_solve = cholesky_solve
Tensor.triangular_solve = triangular_solve
Tensor.det = det
Tensor.logdet = logdet
Tensor.slogdet = slogdet
Tensor.inverse = inverse
matrix_exp = linalg.matrix_exp
matrix_power = linalg.matrix_power
from rgrad._linalg_decomp import lu_unpack, pinverse  # noqa: E402
from rgrad._linalg_decomp import torch_svd as svd  # noqa: E402

Tensor.matrix_exp = linalg.matrix_exp
Tensor.matrix_power = linalg.matrix_power
Tensor.pinverse = pinverse
Tensor.svd = svd

# Distributions and special functions (with the samplers PyTorch also has at top level), and
# the poolings PyTorch also has at top level (adaptive_max_pool1d returns the indices too).
from rgrad import distributed, distributions, onnx, special  # noqa: E402
from rgrad._finfo import finfo, iinfo  # noqa: E402
from rgrad.amp import autocast, is_autocast_enabled  # noqa: E402
from rgrad.distributions._gamma_grad import (  # noqa: E402, F401
    standard_gamma_grad as _standard_gamma_grad,
)
from rgrad.distributions._samplers import binomial, poisson  # noqa: E402
from rgrad.distributions._samplers import (  # noqa: E402, F401
    standard_gamma as _standard_gamma,
)
from rgrad.nn._functional.ctc import torch_ctc_loss as ctc_loss  # noqa: E402
from rgrad.nn._functional.pooling import (  # noqa: E402
    adaptive_avg_pool1d,
    avg_pool1d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool3d,
)
from rgrad.nn._functional.pooling import (  # noqa: E402
    adaptive_max_pool1d_with_indices as adaptive_max_pool1d,
)
from rgrad.nn.functional import pixel_shuffle, pixel_unshuffle  # noqa: E402
from rgrad.serialization import load, save  # noqa: E402

__all__ = [
    "BoolTensor",
    "BFloat16Tensor",
    "ByteTensor",
    "CharTensor",
    "HalfTensor",
    "ShortTensor",
    "DoubleTensor",
    "FloatTensor",
    "Generator",
    "IntTensor",
    "LongTensor",
    "Size",
    "Tensor",
    "abs",
    "add",
    "all",
    "amax",
    "amin",
    "any",
    "arange",
    "are_deterministic_algorithms_enabled",
    "argmax",
    "argmin",
    "argsort",
    "as_tensor",
    "autograd",
    "accelerator",
    "backends",
    "bmm",
    "bfloat16",
    "bool",
    "cat",
    "ceil",
    "cholesky_solve",
    "chunk",
    "clamp",
    "clamp_max",
    "clamp_min",
    "clip",
    "clone",
    "concat",
    "cos",
    "cpu",
    "cuda",
    "amp",
    "autocast",
    "is_autocast_enabled",
    "cumprod",
    "cumsum",
    "default_generator",
    "det",
    "matrix_exp",
    "matrix_power",
    "pinverse",
    "lu_unpack",
    "svd",
    "detach",
    "device",
    "div",
    "dot",
    "double",
    "dtype",
    "empty",
    "empty_like",
    "enable_grad",
    "eq",
    "erf",
    "exp",
    "expm1",
    "eye",
    "flatten",
    "flip",
    "float",
    "float16",
    "promote_types",
    "result_type",
    "float32",
    "float64",
    "floor",
    "from_dlpack",
    "from_numpy",
    "full",
    "full_like",
    "gather",
    "ge",
    "get_default_dtype",
    "get_float32_matmul_precision",
    "get_num_threads",
    "get_rng_state",
    "gt",
    "index_select",
    "inverse",
    "inference_mode",
    "initial_seed",
    "int",
    "half",
    "int8",
    "int16",
    "int32",
    "int64",
    "short",
    "uint8",
    "is_anomaly_enabled",
    "is_deterministic_algorithms_warn_only_enabled",
    "is_floating_point",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "is_tensor",
    "kthvalue",
    "le",
    "linspace",
    "load",
    "log",
    "logdet",
    "log1p",
    "log_softmax",
    "logsumexp",
    "long",
    "lt",
    "manual_seed",
    "masked_fill",
    "masked_scatter",
    "masked_select",
    "matmul",
    "max",
    "maximum",
    "mean",
    "median",
    "min",
    "minimum",
    "mm",
    "mode",
    "movedim",
    "msort",
    "mul",
    "mv",
    "nanmedian",
    "narrow",
    "ne",
    "neg",
    "nn",
    "no_grad",
    "nonzero",
    "norm",
    "numel",
    "ones",
    "ones_like",
    "optim",
    "outer",
    "ger",
    "permute",
    "pow",
    "prod",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "random",
    "randperm",
    "reciprocal",
    "relu",
    "reshape",
    "return_types",
    "round",
    "rsqrt",
    "save",
    "scatter",
    "scatter_add",
    "seed",
    "select",
    "set_default_dtype",
    "set_float32_matmul_precision",
    "set_grad_enabled",
    "set_num_threads",
    "set_printoptions",
    "set_rng_state",
    "sigmoid",
    "sign",
    "sin",
    "slogdet",
    "softmax",
    "sort",
    "split",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "sub",
    "sum",
    "t",
    "tan",
    "tanh",
    "tensor",
    "topk",
    "transpose",
    "tril",
    "triangular_solve",
    "triu",
    "trunc",
    "unbind",
    "unsqueeze",
    "use_deterministic_algorithms",
    "utils",
    "var",
    "wgpu",
    "where",
    "zeros",
    "zeros_like",
    *_products.__all__,
    *_shape_ops.__all__,
    *_sampling.__all__,
    *_statistics.__all__,
    *_set_search.__all__,
    *_elementwise.__all__,
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "avg_pool1d",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool2d",
    "max_pool3d",
    "ctc_loss",
    "cdist",
    "compile",
    "deg2rad",
    "dist",
    "linalg",
    "binomial",
    "distributed",
    "distributions",
    "onnx",
    "poisson",
    "finfo",
    "iinfo",
    "special",
    "logspace",
    "rad2deg",
    "randint_like",
    "pixel_shuffle",
    "pixel_unshuffle",
]

# `out=` on the functions that take it in PyTorch; last, so every such function is defined.
from rgrad import _out  # noqa: E402

_out.install(globals())
_out.install_linalg(vars(linalg))
