"""Shape utilities of ``torch.*`` (``roll``, ``tile``, ``repeat_interleave``, ``diagonal``,
``tril_indices``, ``broadcast_to``, ``hstack``, ``meshgrid``, ...) built from the compiled ops, so
the differentiable ones keep their gradients; their index tensors (diagonal positions, repeat
indices, triangle coordinates) are built by compiled ops on the input's device, never on the
host or in a Python loop per element. Each is attached to ``Tensor`` as a method too where
PyTorch has one.
"""

from __future__ import annotations

from rgrad import _rgrad
from rgrad._errors import wrap_module

Tensor = _rgrad.Tensor

__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "block_diag",
    "broadcast_shapes",
    "broadcast_tensors",
    "broadcast_to",
    "cartesian_prod",
    "column_stack",
    "diag",
    "diag_embed",
    "diagonal",
    "dstack",
    "fliplr",
    "flipud",
    "hstack",
    "meshgrid",
    "repeat_interleave",
    "roll",
    "rot90",
    "swapaxes",
    "swapdims",
    "tile",
    "trace",
    "tril_indices",
    "triu_indices",
    "vstack",
]


def _dim(d, ndim, fn=None):
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})"
        )
    return d % n


def _is_float(t):
    return t.is_floating_point()


# ---- rearranging -----------------------------------------------------------------------------


def roll(input, shifts, dims=None):
    """Elements shifted circularly along ``dims`` (over the flattened tensor when None)."""
    if dims is None:
        if not isinstance(shifts, int):
            if len(shifts) != 1:
                raise RuntimeError(
                    f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0"
                )
            shifts = shifts[0]
        return roll(input.flatten(), shifts, 0).reshape(input.shape)
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
        )
    out = input
    for s, d in zip(shifts, dims):
        d = _dim(d, out.ndim)
        n = out.shape[d] if out.ndim else 1
        if n == 0 or s % n == 0 or out.ndim == 0:
            continue
        s %= n
        out = _rgrad.cat([out.narrow(d, n - s, s), out.narrow(d, 0, n - s)], d)
    return out


def tile(input, dims):
    dims = [dims] if isinstance(dims, int) else list(dims)
    if len(dims) < input.ndim:
        dims = [1] * (input.ndim - len(dims)) + dims
    x = input.reshape((1,) * (len(dims) - input.ndim) + tuple(input.shape))
    return x.repeat(*dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (slice along ``dim``) repeated ``repeats`` times; with one tensor argument
    of counts, the indices repeated by them."""
    if repeats is None:  # repeat_interleave(counts): arange(len(counts)) repeated
        if input.ndim != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        return _repeated_indices(input.to(_rgrad.int64), 1)
    if dim is None:
        input, dim = input.flatten(), 0
    dim = _dim(dim, input.ndim)
    n = input.shape[dim] if input.ndim else 1
    if isinstance(repeats, Tensor):
        if repeats.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        r = repeats.to(device=input.device, dtype=_rgrad.int64).reshape(-1)
    else:
        r = _rgrad.tensor([int(repeats)], dtype=_rgrad.int64, device=input.device)
    if r.numel() == 1:
        r = r.expand(n)
    if r.numel() != n:
        raise RuntimeError("repeats must have the same size as input along dim")
    index = _repeated_indices(r, input.numel() // n if n else 0)
    if input.ndim == 0:
        return input.reshape(1).index_select(0, index)
    return input.index_select(dim, index)


def _repeated_indices(counts, inner):
    """``i`` repeated ``counts[i]`` times (int64, on the counts' device): the position of each
    output element in the running total, by a search of the counts' cumulative sum."""
    n = counts.numel()
    if n and bool((counts < 0).any()):
        raise RuntimeError("repeats can not be negative")
    # The result's size, checked before the cumulative sum (which wraps around in int64).
    largest = int(counts.max()) if n else 0
    if largest and largest > (2**63 - 1) // n:
        total = sum(counts.tolist())  # Python ints: no wrap-around
    else:
        total = int(counts.sum())
    if total * max(inner, 1) >= 2**63:
        raise RuntimeError("numel: integer multiplication overflow")
    # Allocated through the core: PyTorch's error when memory can't hold it.
    positions = _rgrad.arange(total, dtype=_rgrad.int64, device=counts.device)
    if n == 0:
        return positions
    return _rgrad._searchsorted(counts.cumsum(0), positions, False, True, None)


def swapaxes(input, axis0, axis1):
    return input.transpose(axis0, axis1)


swapdims = swapaxes


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return input.flip(1)


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return input.flip(0)


def rot90(input, k=1, dims=(0, 1)):
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = _dim(dims[0], input.ndim), _dim(dims[1], input.ndim)
    if d0 == d1:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"
        )
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip(d0, d1)
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


# ---- diagonals -------------------------------------------------------------------------------


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal over ``dim1`` and ``dim2``, as the last dim (a copy, where PyTorch returns
    a view)."""
    if input.ndim < 2:
        raise RuntimeError(
            f"diagonal dimensions requires ndim larger than 1, but got ndim = {input.ndim}"
        )
    d1, d2 = _dim(dim1, input.ndim), _dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = input.movedim((d1, d2), (-2, -1))
    n1, n2 = x.shape[-2], x.shape[-1]
    # Element (r0 + k, r0 + k + offset) of each matrix: flat positions in steps of n2 + 1.
    r0 = max(-offset, 0)
    length = max(0, min(n1 - r0, n2 - r0 - offset))
    start = r0 * n2 + r0 + offset
    flat = _rgrad.arange(length, dtype=_rgrad.int64, device=input.device) * (n2 + 1) + start
    lead = tuple(x.shape[:-2])
    return x.reshape(lead + (n1 * n2,)).index_select(-1, flat)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices with the last dim of ``input`` on their ``offset`` diagonal (zeros elsewhere)."""
    n = input.shape[-1] if input.ndim else 1
    m = n + abs(offset)
    out_ndim = input.ndim + 1
    d1, d2 = _dim(dim1, out_ndim), _dim(dim2, out_ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    # Row r0 + k, column r0 + k + offset: flat positions in steps of m + 1.
    r0 = max(-offset, 0)
    start = r0 * m + r0 + offset
    flat = _rgrad.arange(n, dtype=_rgrad.int64, device=input.device) * (m + 1) + start
    lead = tuple(input.shape[:-1])
    base = _rgrad.zeros(lead + (m * m,), dtype=input.dtype, device=input.device)
    index = flat.expand(*(lead + (n,)))
    out = base.scatter(-1, index, input).reshape(lead + (m, m))
    return out.movedim((-2, -1), (d1, d2))


def diag(input, diagonal=0):
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def trace(input):
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return diagonal(input).sum()


def _triangle_indices(row, col, offset, lower, dtype, device):
    """Row-major (2, N) coordinates of the ``row x col`` positions with ``j - i <= offset``
    (lower) or ``>= offset`` (upper)."""
    for name, v in (("row", row), ("col", col)):
        if v < 0:
            raise RuntimeError(f"{name} must be non-negative, got{v}")
    i = _rgrad.arange(row, dtype=_rgrad.int64, device=device or "cpu").unsqueeze(1)
    j = _rgrad.arange(col, dtype=_rgrad.int64, device=device or "cpu").unsqueeze(0)
    keep = (j - i) <= offset if lower else (j - i) >= offset
    out = keep.nonzero().t().contiguous()
    return out if dtype is None else out.to(dtype)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _triangle_indices(row, col, offset, True, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _triangle_indices(row, col, offset, False, dtype, device)


def block_diag(*tensors):
    """The tensors (0-d, 1-d as one row, 2-d) as the blocks of a block-diagonal matrix."""
    mats = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                f"{t.ndim} dimensions"
            )
        mats.append(t.reshape(1, -1) if t.ndim < 2 else t)
    if not mats:
        return _rgrad.zeros(1, 0)
    dtype = mats[0].dtype
    for m in mats[1:]:
        dtype = (_rgrad.zeros((), dtype=dtype) + _rgrad.zeros((), dtype=m.dtype)).dtype
    cols = sum(m.shape[1] for m in mats)
    rows, before = [], 0
    for m in mats:
        r, c = m.shape
        left = _rgrad.zeros(r, before, dtype=dtype, device=m.device)
        right = _rgrad.zeros(r, cols - before - c, dtype=dtype, device=m.device)
        rows.append(_rgrad.cat([left, m.to(dtype), right], 1))
        before += c
    return _rgrad.cat(rows, 0)


# ---- broadcasting and stacking -----------------------------------------------------------------


def broadcast_shapes(*shapes):
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        for i, d in enumerate(s):
            j = nd - len(s) + i
            if d != 1:
                if out[j] != 1 and out[j] != d:
                    raise RuntimeError(
                        f"Shape mismatch: objects cannot be broadcast to a single shape.  "
                        f"Mismatch is between arg 0 and arg {shapes.index(s)}."
                    )
                out[j] = d
    return _size(out)


def _size(dims):
    from rgrad._size import Size

    return Size(dims)


def broadcast_to(input, size):
    return input.expand(*size)


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.expand(*shape) for t in tensors)


def atleast_1d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = tuple(t.reshape(1) if t.ndim == 0 else t for t in ts)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out


def atleast_2d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = tuple(t.reshape(1, -1) if t.ndim < 2 else t for t in ts)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out


def atleast_3d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors

    def up(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        if t.ndim == 2:
            return t.unsqueeze(-1)
        return t

    out = tuple(up(t) for t in ts)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out


def _seq(tensors, fn):
    if isinstance(tensors, Tensor) or not len(tensors):
        raise (TypeError if isinstance(tensors, Tensor) else RuntimeError)(
            f"{fn}(): argument 'tensors' must be a non-empty sequence of Tensors"
            if isinstance(tensors, Tensor)
            else f"{fn} expects a non-empty TensorList"
        )
    return list(tensors)


def hstack(tensors, *, out=None):
    ts = [atleast_1d(t) for t in _seq(tensors, "hstack")]
    return _rgrad.cat(ts, 0 if all(t.ndim == 1 for t in ts) else 1)


def vstack(tensors, *, out=None):
    return _rgrad.cat([atleast_2d(t) for t in _seq(tensors, "vstack")], 0)


def dstack(tensors, *, out=None):
    return _rgrad.cat([atleast_3d(t) for t in _seq(tensors, "dstack")], 2)


def column_stack(tensors, *, out=None):
    ts = [t.reshape(-1, 1) if t.ndim < 2 else t for t in _seq(tensors, "column_stack")]
    return _rgrad.cat(ts, 1)


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t.ndim}D"
            )
    ts = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    n = len(ts)
    out = [
        t.reshape(tuple(-1 if i == j else 1 for j in range(n))).expand(*shape)
        for i, t in enumerate(ts)
    ]
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return _rgrad.stack([g.reshape(-1) for g in grids], 1)


wrap_module(globals(), __all__)
