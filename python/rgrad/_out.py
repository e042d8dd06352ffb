"""The ``out=`` keyword, as PyTorch has it on its functions (``torch.add(x, y, out=r)``).

Every function that takes ``out`` in PyTorch is wrapped once (:func:`install`) by the compiled
``out_wrapper`` (a builtin function bound to an ``out_function``). A call without ``out`` goes
straight to the function with its argument vector; otherwise :func:`write_out` here does
PyTorch's checks (no autograd through ``out=``, a result dtype ``out`` can hold), the resize of
an ``out`` of another shape (with PyTorch's warning when it had elements), the copy, and
returns ``out``.
"""

import warnings

from rgrad import _rgrad

Tensor = _rgrad.Tensor

# PyTorch's scalar type names in these messages.
_TYPE_NAMES = {
    "bool": "Bool",
    "int32": "Int",
    "int64": "Long",
    "float32": "Float",
    "float64": "Double",
}

# Functions that build a tensor from sizes or values: they make the result in ``out``'s dtype.
FACTORIES = ("zeros", "ones", "full", "arange", "empty", "linspace", "eye", "rand", "randn")

# PyTorch functions with an ``out=`` argument (those of them rgrad has are wrapped).
FUNCTIONS = (
    *FACTORIES,
    "abs", "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
    "floor_divide", "remainder", "fmod", "pow", "neg", "negative", "exp", "exp2", "log", "log2",
    "log10", "log1p", "expm1", "sqrt", "rsqrt", "square", "sin", "cos", "tan", "asin", "acos",
    "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid", "sign",
    "reciprocal", "floor", "ceil", "round", "trunc", "frac", "erf", "erfc", "erfinv", "lgamma",
    "digamma", "hypot", "logaddexp", "xlogy", "maximum", "minimum", "fmax", "fmin", "eq", "ne",
    "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "isclose",
    "sum", "mean", "prod", "cumsum", "cumprod", "amax", "amin", "logsumexp", "std", "var",
    "nansum", "nanmean", "median", "matmul", "mm", "bmm", "mv", "dot", "outer", "ger", "addmm",
    "cat", "concat", "stack", "hstack", "vstack", "where", "clamp", "clip", "clamp_min",
    "clamp_max", "gather", "index_select", "masked_select", "nonzero", "tril", "triu", "take",
    "lerp", "addcmul", "addcdiv", "diff", "searchsorted", "bucketize", "bernoulli", "multinomial",
    "normal", "randint", "randperm", "cross", "kron", "baddbmm", "deg2rad", "rad2deg",
    "cholesky_solve", "inverse", "matrix_power",
)  # fmt: skip


def _type_name(dtype):
    return _TYPE_NAMES[repr(dtype)[len("rgrad.") :]]


def _can_cast(src, dst):
    # PyTorch's canCast: no float to an integer or bool, nothing but bool to bool.
    if src.is_floating_point and not dst.is_floating_point:
        return False
    return not (dst == _rgrad.bool and src != _rgrad.bool)


def _tensors(args, kwargs):
    for a in (*args, *kwargs.values()):
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (t for t in a if isinstance(t, Tensor))


def _memory_range(t):
    """[start, end) of the bytes a CPU tensor reads; None when it has none or is elsewhere."""
    if t.numel() == 0 or t.device.type != "cpu":
        return None
    extent = sum((size - 1) * step for size, step in zip(t.shape, t.stride()))
    start = t.data_ptr()
    return start, start + (extent + 1) * t.element_size()


def _check_no_partial_overlap(out, inputs):
    # Writing into memory an input still has to be read from: PyTorch refuses it unless `out`
    # is exactly that input (then every element is read before it is written).
    out_range = _memory_range(out)
    if out_range is None:
        return
    for t in inputs:
        r = _memory_range(t)
        if r is None or r[1] <= out_range[0] or out_range[1] <= r[0]:
            continue
        same = r == out_range and t.shape == out.shape and t.stride() == out.stride()
        if not same:
            raise RuntimeError(
                "unsupported operation: some elements of the input tensor and the written-to "
                "tensor refer to a single memory location. Please clone() the tensor before "
                "performing the operation."
            )


def write_out(func, args, kwargs, out):
    """``func(*args, **kwargs)`` written into ``out``, which is returned."""
    name = getattr(func, "__name__", "function")
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if _rgrad.is_grad_enabled() and (
        out.requires_grad or any(t.requires_grad for t in _tensors(args, kwargs))
    ):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )
    if name in FACTORIES:
        dtype = kwargs.get("dtype")
        if dtype is not None and dtype != out.dtype:
            raise RuntimeError(
                f"dtype {_type_name(dtype)} does not match dtype of out parameter "
                f"({_type_name(out.dtype)})"
            )
        kwargs["dtype"] = out.dtype
        kwargs.setdefault("device", out.device)
    _check_no_partial_overlap(out, list(_tensors(args, kwargs)))
    result = func(*args, **kwargs)
    if not isinstance(result, Tensor):
        raise TypeError(f"{name}(): out= is not supported for this call")
    if not _can_cast(result.dtype, out.dtype):
        raise RuntimeError(
            f"result type {_type_name(result.dtype)} can't be cast to the desired output type "
            f"{_type_name(out.dtype)}"
        )
    if tuple(out.shape) != tuple(result.shape):
        if out.numel() != 0:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"{list(out.shape)}, which does not match the required output shape "
                f"{list(result.shape)}. This behavior is deprecated, and in a future PyTorch "
                "release outputs will not be resized unless they have zero elements. You can "
                "explicitly reuse an out tensor t by resizing it, inplace, to zero elements "
                "with t.resize_(0).",
                UserWarning,
                stacklevel=3,
            )
        # A resize gives `out` fresh memory of the new shape (its old views keep the old one).
        out.data = _rgrad.empty(tuple(result.shape), dtype=out.dtype, device=out.device)
    prev = _rgrad._set_grad_enabled(False)
    try:
        out.copy_(result)
    finally:
        _rgrad._set_grad_enabled(prev)
    return out


# torch.linalg functions with an ``out=`` argument whose result is one tensor.
LINALG_FUNCTIONS = (
    "cholesky", "inv", "det", "solve", "solve_triangular", "lu_solve", "eigvalsh", "svdvals",
    "pinv", "matrix_power", "cross", "vecdot", "multi_dot", "householder_product", "matrix_rank",
    "cond", "tensorinv", "tensorsolve", "matrix_norm", "vector_norm", "norm",
)  # fmt: skip


def install_linalg(namespace):
    """Wraps the ``LINALG_FUNCTIONS`` of the ``rgrad.linalg`` module's dict (after the Tensor
    methods that share their function objects are bound)."""
    for name in LINALG_FUNCTIONS:
        func = namespace[name]
        if not isinstance(getattr(func, "__self__", None), _rgrad.out_function):
            namespace[name] = _rgrad.out_wrapper(func, write_out)


def install(namespace):
    """Wraps every function of ``FUNCTIONS`` found in ``namespace`` (a module's dict), and the
    other ``torch.*`` functions that are ``Tensor`` methods (without ``out``), so that both read a
    non-tensor input as PyTorch does."""
    for name in FUNCTIONS:
        func = namespace.get(name)
        if func is not None and not isinstance(
            getattr(func, "__self__", None), _rgrad.out_function
        ):
            namespace[name] = _rgrad.out_wrapper(func, write_out)
    method_descriptor = type(Tensor.add)
    for name, func in list(namespace.items()):
        if isinstance(func, method_descriptor) and getattr(func, "__objclass__", None) is Tensor:
            namespace[name] = _rgrad.out_wrapper(func)
