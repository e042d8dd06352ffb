"""Convolutions of ``rgrad.nn.functional``: ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d``.

The arithmetic, the shape checks and the graph node are one core op (``aten::convolution``);
this layer only reads PyTorch's Python-level arguments: unbatched inputs, ``padding='same'``
(with the extra zero for even kernels on the right, as PyTorch pads it) and ``'valid'``."""

from rgrad import _rgrad

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
]


def _int_list(value, func, name, spatial):
    """An int (repeated for each of the ``spatial`` dims, as PyTorch's ``conv2d`` parses it) or
    a sequence of ints as a list; the core checks the length against the weight and the signs."""
    if isinstance(value, bool) or not isinstance(value, (int, tuple, list)):
        if hasattr(value, "__index__") and not isinstance(value, bool):
            return [int(value)] * spatial
        raise TypeError(
            f"{func}(): argument '{name}' must be tuple of ints, not {type(value).__name__}"
        )
    if isinstance(value, int):
        return [value] * spatial
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(
                f"{func}(): argument '{name}' must be tuple of ints, but found element of "
                f"type {type(v).__name__} at pos {i}"
            )
        out.append(int(v))
    return out


def _batched(input, spatial, func):
    """``input`` with a batch dim, and whether one was added (PyTorch's unbatched inputs)."""
    if not hasattr(input, "dim"):
        raise TypeError(
            f"{func}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    if input.dim() not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input to {func}, "
            f"but got input of size: {list(input.shape)}"
        )
    if input.dim() == spatial + 1:
        return input.unsqueeze(0), True
    return input, False


def _same_padding(input, weight, stride, dilation):
    """PyTorch's ``padding='same'``: ``dilation * (k - 1)`` split with the smaller half on the
    left; an odd total gets its extra zero on the right by padding the input first."""
    if any(s != 1 for s in stride):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    kernel = list(weight.shape[2:])
    dil = dilation * len(kernel) if len(dilation) == 1 else dilation
    if len(dil) != len(kernel):
        return input, [0] * len(dilation)  # the core reports the dilation length
    left, extra = [], []
    for d, k in zip(dil, kernel):
        total = d * (k - 1)
        left.append(total // 2)
        extra.append(total - 2 * (total // 2))
    if any(extra):
        from rgrad.nn._functional.layers import pad

        widths = []
        for e in reversed(extra):
            widths += [0, e]
        input = pad(input, widths)
    return input, left


def _conv(input, weight, bias, stride, padding, dilation, groups, spatial, func):
    x, unbatched = _batched(input, spatial, func)
    stride = _int_list(stride, func, "stride", spatial)
    dilation = _int_list(dilation, func, "dilation", spatial)
    if isinstance(padding, str):
        if padding == "valid":
            padding = [0] * spatial
        elif padding == "same":
            x, padding = _same_padding(x, weight, stride, dilation)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = _int_list(padding, func, "padding", spatial)
    out = _rgrad._convolution(x, weight, bias, stride, padding, dilation, False, [0], groups)
    return out.squeeze(0) if unbatched else out


def _conv_transpose(
    input, weight, bias, stride, padding, output_padding, groups, dilation, spatial, func
):
    x, unbatched = _batched(input, spatial, func)
    args = [
        _int_list(v, func, n, spatial)
        for v, n in (
            (stride, "stride"),
            (padding, "padding"),
            (dilation, "dilation"),
            (output_padding, "output_padding"),
        )
    ]
    stride, padding, dilation, output_padding = args
    out = _rgrad._convolution(
        x, weight, bias, stride, padding, dilation, True, output_padding, groups
    )
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over ``(N, C_in, L)`` (or unbatched ``(C_in, L)``)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over ``(N, C_in, H, W)`` (or unbatched ``(C_in, H, W)``)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over ``(N, C_in, D, H, W)`` (or unbatched ``(C_in, D, H, W)``)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """1-D transposed convolution; ``weight`` is ``(C_in, C_out / groups, k)``."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
        "conv_transpose1d",
    )  # fmt: skip


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """2-D transposed convolution; ``weight`` is ``(C_in, C_out / groups, kH, kW)``."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
        "conv_transpose2d",
    )  # fmt: skip


def conv_transpose3d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """3-D transposed convolution; ``weight`` is ``(C_in, C_out / groups, kD, kH, kW)``."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
        "conv_transpose3d",
    )  # fmt: skip
