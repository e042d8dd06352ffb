"""Poolings of ``rgrad.nn.functional``: max, average, adaptive, power-average (``lp_pool``) and
max unpooling, in 1-D, 2-D and 3-D.

The arithmetic, the checks with PyTorch's messages and the graph nodes are core ops; this layer
reads PyTorch's Python-level arguments (ints or tuples, ``stride=None``, ``None`` entries of an
adaptive ``output_size``, unpooling's ``output_size``). ``lp_pool`` is PyTorch's own composite
over ``avg_pool`` (and ``max_pool`` for an infinite norm)."""

import math

from rgrad import _rgrad

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool2d",
    "max_pool2d_with_indices",
    "max_pool3d",
    "max_pool3d_with_indices",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]

_COUNT = {1: "one", 2: "two", 3: "three"}


def _ints(value, func, name, n, pos, omitted=False, sep=": "):
    """``value`` (an int, or a sequence of 1 or ``n`` ints) as a list of ``n`` ints, with
    PyTorch's messages for other types and lengths."""
    if isinstance(value, bool) or not isinstance(value, (int, tuple, list)):
        if hasattr(value, "__index__") and not isinstance(value, bool):
            return [int(value)] * n
        raise TypeError(
            f"{func}(): argument '{name}' (position {pos}) must be tuple of ints, "
            f"not {type(value).__name__}"
        )
    if isinstance(value, int):
        return [value] * n
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(
                f"{func}(): argument '{name}' (position {pos}) must be tuple of ints, but "
                f"found element of type {type(v).__name__} at pos {i}"
            )
        out.append(int(v))
    if len(out) == 1:
        return out * n
    if len(out) != n:
        if n == 1:
            raise RuntimeError(
                f"{func}() {name} must be an int, list of ints or tuple of ints of size 1 "
                f"but got size {len(out)}"
            )
        either = "either be omitted, a single int," if omitted else "either be a single int,"
        if name == "dilation":
            either = "be either a single int,"
        raise RuntimeError(f"{func}{sep}{name} must {either} or a tuple of {_COUNT[n]} ints")
    return out


def _pool_args(func, n, kernel_size, stride, padding, dilation=1):
    kernel = _ints(kernel_size, func, "kernel_size", n, 2)
    stride = kernel if stride is None or stride == [] or stride == () else stride
    stride = _ints(stride, func, "stride", n, 3, omitted=True)
    padding = _ints(padding, func, "padding", n, 4)
    dilation = _ints(dilation, func, "dilation", n, 5)
    return kernel, stride, padding, dilation


def _max_pool(n, input, kernel_size, stride, padding, dilation, ceil_mode):
    func = f"max_pool{n}d"
    k, s, p, d = _pool_args(func, n, kernel_size, stride, padding, dilation)
    return _rgrad._max_pool(input, n, k, s, p, d, bool(ceil_mode))


def max_pool1d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool3d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    out = _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode)
    return out if return_indices else out[0]


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    out = _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode)
    return out if return_indices else out[0]


def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    out = _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode)
    return out if return_indices else out[0]


def _avg_pool(n, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor):
    func = f"avg_pool{n}d"
    k, s, p, _ = _pool_args(func, n, kernel_size, stride, padding)
    if divisor is not None:
        divisor = int(divisor)
    return _rgrad._avg_pool(input, n, k, s, p, bool(ceil_mode), bool(count_include_pad), divisor)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    return _avg_pool(
        2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    return _avg_pool(
        3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def _output_size(input, output_size, n, func):
    """An adaptive pooling's ``output_size``: an int for every dim, or a sequence whose None
    entries keep the input's size."""
    if isinstance(output_size, (tuple, list)):
        sizes = list(output_size)
        if len(sizes) == 1 and n > 1:
            sizes = sizes * n
    else:
        sizes = [output_size] * n
    if len(sizes) != n:
        raise RuntimeError(f"{func}: output_size must be {n}")
    shape = input.shape
    out = []
    for i, v in enumerate(sizes):
        if v is None:
            out.append(int(shape[len(shape) - n + i]))
        elif isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(
                f"{func}(): argument 'output_size' (position 2) must be tuple of ints, "
                f"not {type(v).__name__}"
            )
        else:
            out.append(int(v))
    return out


def _adaptive(n, input, output_size, is_max):
    func = f"adaptive_{'max' if is_max else 'avg'}_pool{n}d"
    if not isinstance(input, _rgrad.Tensor):
        raise TypeError(
            f"{func}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    return _rgrad._adaptive_pool(input, n, _output_size(input, output_size, n, func), is_max)


def adaptive_avg_pool1d(input, output_size):
    return _adaptive(1, input, output_size, False)[0]


def adaptive_avg_pool2d(input, output_size):
    return _adaptive(2, input, output_size, False)[0]


def adaptive_avg_pool3d(input, output_size):
    return _adaptive(3, input, output_size, False)[0]


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return _adaptive(1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return _adaptive(2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return _adaptive(3, input, output_size, True)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    out = _adaptive(1, input, output_size, True)
    return out if return_indices else out[0]


def adaptive_max_pool2d(input, output_size, return_indices=False):
    out = _adaptive(2, input, output_size, True)
    return out if return_indices else out[0]


def adaptive_max_pool3d(input, output_size, return_indices=False):
    out = _adaptive(3, input, output_size, True)
    return out if return_indices else out[0]


def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    """PyTorch's default unpooling size and its check of a given ``output_size``."""
    input_size = input.size()
    n = len(kernel_size)
    default = [
        (input_size[-n + d] - 1) * stride[d] + kernel_size[d] - 2 * padding[d] for d in range(n)
    ]
    if output_size is None:
        return default
    output_size = list(output_size)
    if len(output_size) == n + 2:
        output_size = output_size[2:]
    if len(output_size) != n:
        raise ValueError(
            "output_size should be a sequence containing "
            f"{n} or {n + 2} elements, but it has a length of '{len(output_size)}'"
        )
    for d in range(n):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not (lo < output_size[d] < hi):
            shown = tuple(output_size) if len(output_size) > 1 else output_size
            raise ValueError(
                f'invalid output_size "{shown}" (dim {d} must be between {lo} and {hi})'
            )
    return [int(v) for v in output_size]


def _max_unpool(n, input, indices, kernel_size, stride, padding, output_size):
    func = f"max_unpool{n}d"
    k = _ints(kernel_size, func, "kernel_size", n, 3)
    s = k if stride is None else _ints(stride, func, "stride", n, 4)
    p = _ints(padding, func, "padding", n, 5)
    if not isinstance(input, _rgrad.Tensor):
        raise TypeError(
            f"{func}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    size = _unpool_output_size(input, k, s, p, output_size)
    return _rgrad._max_unpool(input, indices, n, size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


def _lp_pool(n, input, norm_type, kernel_size, stride, ceil_mode):
    """PyTorch's composite: (sign(a) relu(|a|) * prod(k)) ** (1/p), a = avg_pool(x ** p)."""
    import rgrad
    from rgrad.nn._functional.activation import relu

    k = _ints(kernel_size, f"lp_pool{n}d", "kernel_size", n, 3)
    mx = {1: max_pool1d, 2: max_pool2d, 3: max_pool3d}[n]
    avg = {1: avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}[n]
    if isinstance(norm_type, (int, float)):
        if norm_type == 0:
            raise ValueError(f"norm_type must be a non-zero value, but got {norm_type}")
        if norm_type == math.inf:
            return mx(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        if norm_type == -math.inf:
            return -mx(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = avg(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (rgrad.sign(out) * relu(rgrad.abs(out))).mul(math.prod(k)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)
