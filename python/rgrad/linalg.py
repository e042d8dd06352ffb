"""``torch.linalg``: norms (vector, matrix, and ``norm`` choosing between them), plus the
distance functions built on them (``rgrad.dist``, ``rgrad.cdist``)."""

from __future__ import annotations

import math

from rgrad import _rgrad

Tensor = _rgrad.Tensor

from rgrad._linalg_decomp import (  # noqa: E402
    cond,
    cross,
    diagonal,
    eigh,
    eigvalsh,
    householder_product,
    lstsq,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    matrix_exp,
    matrix_power,
    matrix_rank,
    multi_dot,
    pinv,
    qr,
    svd,
    svdvals,
    tensorinv,
    tensorsolve,
    vander,
    vecdot,
)
from rgrad._linalg_factor import (  # noqa: E402
    LinAlgError,
    cholesky,
    cholesky_ex,
    det,
    inv,
    inv_ex,
    slogdet,
    solve,
    solve_ex,
    solve_triangular,
)

__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cond",
    "cross",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "householder_product",
    "inv",
    "inv_ex",
    "lstsq",
    "lu",
    "lu_factor",
    "lu_factor_ex",
    "lu_solve",
    "matrix_exp",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_ex",
    "solve_triangular",
    "svd",
    "svdvals",
    "tensorinv",
    "tensorsolve",
    "vander",
    "vecdot",
    "vector_norm",
]

_TYPE_NAMES = {"int64": "Long", "int32": "Int", "bool": "Bool"}


def _type_name(t):
    return _TYPE_NAMES.get(str(t.dtype).rsplit(".", 1)[-1], str(t.dtype))


def _check_float(x, fn):
    if not x.is_floating_point():
        raise RuntimeError(
            f"{fn}: Expected a floating point or complex tensor as input. Got {_type_name(x)}"
        )


def _dims(dim, ndim):
    if dim is None:
        return None
    if isinstance(dim, int):
        return [dim]
    return list(dim)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """The ``ord``-norm of ``x`` over ``dim`` (all elements when None) as one vector."""
    if dtype is not None:
        x = x.to(dtype)
    _check_float(x, "linalg.vector_norm")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    dims = _dims(dim, x.ndim)
    if dims is not None and len(dims) == 0:
        dims = None
    if ord == -math.inf:
        if x.numel() == 0:
            raise RuntimeError(
                "linalg.vector_norm cannot compute the -inf norm on an empty tensor because "
                "the operation does not have an identity"
            )
        a = x.abs()
        return a.amin(dims, keepdim) if dims is not None else _all_reduce(a.amin, x, keepdim)
    if ord < 0 and ord != -math.inf:
        # |x|_p for negative p: (sum |x|^p)^(1/p), written out (the kernel takes p >= 0).
        s = x.abs().pow(float(ord))
        s = s.sum(dims, keepdim=keepdim) if dims is not None else _all_reduce(s.sum, x, keepdim)
        return s.pow(1.0 / ord)
    if dims is None:
        out = x.norm(float(ord))
        return out.reshape((1,) * x.ndim) if keepdim else out
    return x.norm(float(ord), dims, keepdim)


def _all_reduce(fn, x, keepdim):
    out = fn(list(range(x.ndim))) if x.ndim else fn()
    return out.reshape((1,) * x.ndim) if keepdim else out


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """The Frobenius norm, the induced 1/inf norms (max column/row abs sum), or the
    spectral (2, -2: largest, smallest singular value) and nuclear norms of the matrices over
    ``dim``."""
    if dtype is not None:
        A = A.to(dtype)
    _check_float(A, "linalg.matrix_norm")
    if A.ndim < 2:
        raise RuntimeError(
            f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions. "
            f"Got {A.ndim} dimensions."
        )
    d0, d1 = (d % A.ndim for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return A.norm(2.0, [d0, d1], keepdim)
    if ord in ("nuc", 2, -2):
        lo, hi = min(d0, d1), max(d0, d1)
        M = A.movedim((d0, d1), (-2, -1))
        S = svdvals(M)
        r = S.sum(-1) if ord == "nuc" else S.amax(-1) if ord == 2 else S.amin(-1)
        if keepdim:
            r = r.unsqueeze(lo).unsqueeze(hi)
        return r
    if ord in (1, -1, math.inf, -math.inf):
        # 1: max over columns of the column sums; inf: max over rows of the row sums.
        sum_dim, red_dim = (d0, d1) if abs(ord) == 1 else (d1, d0)
        s = A.abs().sum(sum_dim, keepdim=True)
        r = s.amax(red_dim, keepdim=True) if ord > 0 else s.amin(red_dim, keepdim=True)
        if not keepdim:
            r = r.squeeze(max(d0, d1)).squeeze(min(d0, d1))
        return r
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """A vector norm or a matrix norm, chosen by ``dim`` (and by ``A``'s dims when ``dim`` is
    None and ``ord`` is given), as ``torch.linalg.norm``."""
    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        if A.ndim != 1:
            raise RuntimeError(
                "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                f"Got {A.ndim}D."
            )
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if len(dim) == 2:
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: ord={ord!r} requires a 2-D dim, got {dim}")
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


# ---- top-level functions -------------------------------------------------------------------


def torch_norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """``torch.norm``: the Frobenius norm by default; a numeric ``p`` is a vector norm over
    ``dim`` (all elements when None), ``'fro'`` over ``dim`` too, ``'nuc'`` the nuclear norm."""
    if isinstance(p, str):
        if p == "nuc":
            return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
        if p != "fro":
            raise RuntimeError(f"norm: invalid norm type {p!r}")
        p = 2
    if p is None:
        p = 2
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


def dist(input, other, p=2):
    """The ``p``-norm of ``input - other`` (broadcast)."""
    return vector_norm(input - other, p)


def _safe_sqrt(x):
    """sqrt with a zero gradient (instead of inf * 0 = NaN) where x is 0."""
    zero = x == 0
    return x.masked_fill(zero, 1.0).sqrt().masked_fill(zero, 0.0)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise ``p``-norm distances between the rows of ``x1`` (..., P, M) and ``x2``
    (..., R, M): shape (..., P, R). Euclidean distances of large inputs go through a matrix
    product (PyTorch's ``use_mm_for_euclid_dist_if_necessary``), the rest are exact."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(
            f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D"
            if x1.ndim < 2
            else f"cdist only supports at least 2D tensors, X2 got: {x2.ndim}D"
        )
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if not x1.is_floating_point() or not x2.is_floating_point():
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {_type_name(x1)}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    big = x1.shape[-2] > 25 or x2.shape[-2] > 25
    use_mm = p == 2 and (
        compute_mode == "use_mm_for_euclid_dist"
        or (compute_mode == "use_mm_for_euclid_dist_if_necessary" and big)
    )
    if use_mm:
        n1 = (x1 * x1).sum(-1, keepdim=True)
        n2 = (x2 * x2).sum(-1, keepdim=True)
        d2 = n1 - 2.0 * x1.matmul(x2.transpose(-2, -1)) + n2.transpose(-2, -1)
        return _safe_sqrt(d2.clamp_min(0.0))
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if diff.numel() == 0:
        return diff.sum(-1)
    return diff.norm(float(p), -1)
