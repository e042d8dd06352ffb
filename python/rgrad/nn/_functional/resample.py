"""Resampling and rearranging functions of ``rgrad.nn.functional``: ``interpolate`` (and the
deprecated ``upsample*``), ``pixel_shuffle`` / ``pixel_unshuffle``, ``unfold`` / ``fold``,
``grid_sample`` and ``affine_grid``.

Interpolation, im2col and col2im are core ops (one sparse linear map per op, with PyTorch's
index formulas, checks and grad_fn names; see crates/rgrad-core/src/ops/resample*.rs). This
layer reads PyTorch's Python-level arguments as ``torch.nn.functional`` does, with its
messages. ``pixel_shuffle`` is a reshape/permute, ``grid_sample`` and ``affine_grid`` are
compositions of differentiable core ops (so double backward works through them)."""

import numbers
import warnings

import rgrad
from rgrad import _rgrad

__all__ = [
    "affine_grid",
    "fold",
    "grid_sample",
    "interpolate",
    "pixel_shuffle",
    "pixel_unshuffle",
    "unfold",
    "upsample",
    "upsample_bilinear",
    "upsample_nearest",
]

_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_MAP_MODES = {
    (3, "nearest"),
    (4, "nearest"),
    (5, "nearest"),
    (3, "nearest-exact"),
    (4, "nearest-exact"),
    (5, "nearest-exact"),
    (3, "linear"),
    (4, "bilinear"),
    (5, "trilinear"),
    (4, "bicubic"),
}
_WRONG_RANK = {
    (3, "bilinear"): "Got 3D input, but bilinear mode needs 4D input",
    (3, "trilinear"): "Got 3D input, but trilinear mode needs 5D input",
    (4, "linear"): "Got 4D input, but linear mode needs 3D input",
    (4, "trilinear"): "Got 4D input, but trilinear mode needs 5D input",
    (5, "linear"): "Got 5D input, but linear mode needs 3D input",
    (5, "bilinear"): "Got 5D input, but bilinear mode needs 4D input",
}


def _is_integer(x):
    if isinstance(x, bool):
        return True
    if isinstance(x, numbers.Integral):
        return True
    return isinstance(x, rgrad.Tensor) and not x.is_floating_point()


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    """Up/down-samples ``input`` (``[N, C, *spatial]``) to ``size`` or by ``scale_factor``."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the "
                "interpolating modes: linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    elif size is not None:
        scale_factors = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(input.shape[2:])} and output size of "
                    f"{size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "output size in (o1, o2, ...,oK) format."
                )
            if not all(_is_integer(x) for x in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    f"Tuple[int, int, int], but got size with types {[type(x) for x in size]}"
                )
            output_size = [int(x) for x in size]
        else:
            if not _is_integer(size):
                raise TypeError(
                    f"upsample(): argument 'output_size' must be tuple of ints, but found "
                    f"element of type {type(size).__name__} at pos 0"
                )
            output_size = [int(size)] * dim
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {list(input.shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "scale_factor in (s1, s2, ...,sK) format."
                )
            scale_factors = [float(s) for s in scale_factor]
        else:
            scale_factors = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        # int(): truncation, raising as Python does for inf and nan (as PyTorch's sym_int).
        output_size = [int(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
            "requires a 4-D tensor as input"
        )
    key = (input.dim(), mode)
    if antialias:
        raise NotImplementedError("interpolate(): antialias=True is not implemented in rgrad")
    if key in _MAP_MODES:
        return _rgrad._interpolate(input, mode, output_size, scale_factors, bool(align_corners))
    if mode == "area" and input.dim() in (3, 4, 5):
        pool = getattr(rgrad.nn.functional, f"adaptive_avg_pool{input.dim() - 2}d", None)
        if pool is None:
            raise NotImplementedError(
                "interpolate(mode='area') is adaptive average pooling, which rgrad does not "
                "have yet"
            )
        return pool(input, output_size)
    if key in _WRONG_RANK:
        raise NotImplementedError(_WRONG_RANK[key])
    raise NotImplementedError(
        "Input Error: Only 3D, 4D and 5D input Tensors supported"
        f" (got {input.dim()}D) for the modes: {_MODES}"
        f" (got {mode})"
    )


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate`."""
    warnings.warn(
        "`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---- pixel shuffle ---------------------------------------------------------------------------


def _factor(value, func, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{func}(): argument '{what}' (position 2) must be int, not {type(value).__name__}"
        )
    return int(value)


def pixel_shuffle(input, upscale_factor):
    """``[*, C * r^2, H, W] -> [*, C, H * r, W * r]``."""
    r = _factor(upscale_factor, "pixel_shuffle", "upscale_factor")
    if input.dim() < 3:
        raise RuntimeError(
            "pixel_shuffle expects input to have at least 3 dimensions, but got input with "
            f"{input.dim()} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r) != 0:
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
            f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    perm = [*range(n), n, n + 3, n + 1, n + 4, n + 2]
    return x.permute(*perm).reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """``[*, C, H * r, W * r] -> [*, C * r^2, H, W]``."""
    r = _factor(downscale_factor, "pixel_unshuffle", "downscale_factor")
    if input.dim() < 3:
        raise RuntimeError(
            "pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
            f"{input.dim()} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r != 0:
        raise RuntimeError(
            "pixel_unshuffle expects height to be divisible by downscale_factor, but "
            f"input.size(-2)={h} is not divisible by {r}"
        )
    if w % r != 0:
        raise RuntimeError(
            "pixel_unshuffle expects width to be divisible by downscale_factor, but "
            f"input.size(-1)={w} is not divisible by {r}"
        )
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    perm = [*range(n), n, n + 2, n + 4, n + 1, n + 3]
    return x.permute(*perm).reshape(*lead, c * r * r, h // r, w // r)


# ---- fold / unfold ---------------------------------------------------------------------------


def _pair(value, name):
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(value)}")
        return [int(v) for v in value]
    return [int(value), int(value)]


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: ``[N, C, H, W] -> [N, C * kh * kw, L]`` sliding blocks (unbatched: no N)."""
    args = (
        _pair(kernel_size, "kernel_size"),
        _pair(dilation, "dilation"),
        _pair(padding, "padding"),
        _pair(stride, "stride"),
    )
    if input.dim() < 3:
        raise IndexError(
            "Dimension out of range (expected to be in range of "
            f"[{-input.dim()}, {input.dim() - 1}], but got {input.dim()})"
        )
    return _rgrad._im2col(input, *args)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: sums ``[N, C * kh * kw, L]`` sliding blocks into ``[N, C, *output_size]``."""
    args = (
        _pair(output_size, "output_size"),
        _pair(kernel_size, "kernel_size"),
        _pair(dilation, "dilation"),
        _pair(padding, "padding"),
        _pair(stride, "stride"),
    )
    return _rgrad._col2im(input, *args)


# ---- grid_sample / affine_grid ---------------------------------------------------------------


def _align_warning():
    warnings.warn(
        "Default grid_sample and affine_grid behavior has changed "
        "to align_corners=False since 1.3.0. Please specify "
        "align_corners=True if the old behavior is desired. "
        "See the documentation of grid_sample for details.",
        stacklevel=3,
    )


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(x, twice_low, twice_high):
    """PyTorch's ``reflect_coordinates``: folds ``x`` into ``[low, high]``."""
    if twice_low == twice_high:
        return x * 0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    x = (x - low).abs()
    extra = rgrad.fmod(x, span)
    flips = (x / span).floor().detach()
    even = rgrad.fmod(flips, 2) == 0
    return rgrad.where(even, extra + low, span - extra + low)


def _source(coord, size, padding_mode, align_corners):
    x = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        x = x.clamp(0, size - 1)
    elif padding_mode == "reflection":
        if align_corners:
            x = _reflect(x, 0, 2 * (size - 1))
        else:
            x = _reflect(x, -1, 2 * size - 1)
        x = x.clamp(0, size - 1)
    return x


def _corner_values(flat, xs, ys, sizes):
    """``flat`` (``[N, C, H * W]``) read at integer grid points ``xs``/``ys`` (``[N, P]``),
    zero outside the image."""
    h, w = sizes
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    index = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).to(rgrad.int64)
    n, c, _ = flat.shape
    vals = flat.gather(2, index.unsqueeze(1).expand(n, c, index.shape[1]))
    return vals * inside.unsqueeze(1).to(flat.dtype)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples ``input`` (``[N, C, H, W]``) at the normalized points of ``grid``
    (``[N, Ho, Wo, 2]``, x then y in ``[-1, 1]``)."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
            f"'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode "
            "to be 'zeros', 'border', or 'reflection', "
            f"but got: '{padding_mode}'"
        )
    if align_corners is None:
        _align_warning()
        align_corners = False
    _check_grid(input, grid)
    if input.dim() != 4:
        raise NotImplementedError("grid_sample: rgrad supports 4-D inputs (2-D sampling) only")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode='bicubic' is not implemented in rgrad")
    n, c, h, w = input.shape
    _, ho, wo, _ = grid.shape
    pts = grid.reshape(n, ho * wo, 2)
    x = _source(pts[..., 0], w, padding_mode, align_corners)
    y = _source(pts[..., 1], h, padding_mode, align_corners)
    flat = input.reshape(n, c, h * w)
    if mode == "nearest":
        # nearbyint: round half to even, as PyTorch.
        out = _corner_values(flat, x.detach().round(), y.detach().round(), (h, w))
        return out.reshape(n, c, ho, wo)
    x0, y0 = x.detach().floor(), y.detach().floor()
    x1, y1 = x0 + 1, y0 + 1
    out = 0
    for xs, ys, wgt in (
        (x0, y0, (x1 - x) * (y1 - y)),
        (x1, y0, (x - x0) * (y1 - y)),
        (x0, y1, (x1 - x) * (y - y0)),
        (x1, y1, (x - x0) * (y - y0)),
    ):
        out = out + _corner_values(flat, xs, ys, (h, w)) * wgt.unsqueeze(1)
    return out.reshape(n, c, ho, wo)


def _check_grid(input, grid):
    shape = lambda t: list(t.shape)  # noqa: E731
    if input.dtype != grid.dtype:
        name = {rgrad.float32: "Float", rgrad.float64: "Double"}
        raise RuntimeError(
            f"expected scalar type {name.get(input.dtype, input.dtype)} but found "
            f"{name.get(grid.dtype, grid.dtype)}"
        )
    if input.dim() != grid.dim() or input.dim() not in (4, 5):
        raise RuntimeError(
            f"grid_sampler(): expected {input.dim()}D input and grid with same number of "
            f"dimensions, but got input with sizes {shape(input)} and grid with sizes {shape(grid)}"
        )
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input "
            f"with sizes {shape(input)} and grid with sizes {shape(grid)}"
        )
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {input.dim() - 2} in last dimension, "
            f"but got grid with sizes {shape(grid)}"
        )
    for i in range(2, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(
                "grid_sampler(): expected input to have non-empty spatial dimensions, but input "
                f"has sizes {shape(input)} with dimension {i} being empty"
            )


def _base_coords(n, align_corners, like):
    """``n`` evenly spaced points in ``[-1, 1]`` (pixel centres unless ``align_corners``)."""
    if n <= 1:
        return rgrad.zeros(max(n, 0), dtype=like.dtype, device=like.device)
    pts = rgrad.linspace(-1, 1, n, dtype=like.dtype, device=like.device)
    return pts if align_corners else pts * ((n - 1) / n)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of a batch of affine maps ``theta`` (``[N, 2, 3]`` or ``[N, 3, 4]``)
    for an output of ``size``: ``base_grid @ theta^T``."""
    if align_corners is None:
        _align_warning()
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = list(size)
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(
                "Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                f"{tuple(size)}. Got {theta.shape}."
            )
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(
                "Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                f"{tuple(size)}. Got {theta.shape}."
            )
        spatial = size[-3:]
    else:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, "
            "for 2D and 3D affine transforms, respectively. "
            f"Got size {tuple(size)}."
        )
    if align_corners and min(spatial) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed "
            "for unit-size grids when align_corners=True. "
            "This is not an intended use case of affine_grid. "
            "See the documentation of affine_grid for details.",
            stacklevel=2,
        )
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {tuple(size)}")
    n = size[0]
    if theta.shape[0] != n:
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{n}, {theta.shape[-1]}] but got: [{theta.shape[0]}, {theta.shape[-1]}]."
        )
    # Coordinates in x, y(, z) order: the last spatial dim varies fastest.
    axes = [_base_coords(s, align_corners, theta) for s in reversed(spatial)]
    k = len(spatial)
    cols = []
    for i, a in enumerate(axes):
        shape = [1] * k
        shape[k - 1 - i] = a.shape[0]
        cols.append(a.reshape(*shape).expand(*spatial))
    cols.append(rgrad.ones(*spatial, dtype=theta.dtype, device=theta.device))
    base = rgrad.stack(cols, -1).reshape(1, -1, k + 1)  # [1, P, k + 1]
    grid = base.expand(n, base.shape[1], k + 1).matmul(theta.transpose(1, 2))
    return grid.reshape(n, *spatial, k)
