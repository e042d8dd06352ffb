"""The ``torch.linalg`` factorizations and triangular solves (Rust ops over faer, with their
backward rules in the core); this module only handles PyTorch's argument conventions: dtype
promotion, ``check_errors`` and the named tuples."""

from __future__ import annotations

import warnings

from rgrad import _rgrad

__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cholesky_solve",
    "det",
    "inv",
    "inv_ex",
    "logdet",
    "slogdet",
    "solve",
    "solve_ex",
    "solve_triangular",
    "triangular_solve",
]


class _LinAlgError(RuntimeError):
    """Raised when a factorization fails on its input (PyTorch's ``torch.linalg.LinAlgError``)."""


LinAlgError = _LinAlgError

_TYPE_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int"}


def _type_name(t):
    name = str(t.dtype).rsplit(".", 1)[-1]
    return _TYPE_NAMES.get(name, name.capitalize())


class _NamedPair(tuple):
    __slots__ = ()
    _fields: tuple[str, str] = ("", "")

    def __new__(cls, pair):
        return super().__new__(cls, pair)

    def __getattr__(self, name):
        try:
            return self[type(self)._fields.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    def __repr__(self):
        a, b = type(self)._fields
        return f"rgrad.return_types.{type(self).__name__}(\n{a}={self[0]!r},\n{b}={self[1]!r})"

    def __reduce__(self):
        return (type(self), (tuple(self),))


class linalg_cholesky_ex(_NamedPair):  # noqa: N801 (PyTorch's name)
    __slots__ = ()
    _fields = ("L", "info")


class triangular_solve_result(_NamedPair):  # noqa: N801
    __slots__ = ()
    _fields = ("solution", "cloned_coefficient")


triangular_solve_result.__name__ = "triangular_solve"
triangular_solve_result.__qualname__ = "triangular_solve"


def _raise_not_positive_definite(info, fn):
    """PyTorch's error for the first matrix whose factorization failed (``info`` != 0)."""
    if info.ndim == 0:
        order = int(info.item())
        if order == 0:
            return
        prefix = ""
    else:
        flat = info.reshape(-1)
        if not bool(flat.ne(0).any().item()):
            return
        first = int(flat.ne(0).nonzero()[0, 0].item())
        order = int(flat[first].item())
        prefix = f"(Batch element {first}): "
    raise _LinAlgError(
        f"{fn}: {prefix}The factorization could not be completed because the input is not "
        f"positive-definite (the leading minor of order {order} is not positive-definite)."
    )


def cholesky_ex(A, *, upper=False, check_errors=False):
    """The Cholesky factor ``L`` (``A = L L^H``; ``U`` with ``A = U^H U`` when ``upper``) of
    each matrix in the batch, and ``info`` (0, or the order of the first leading minor that
    is not positive-definite)."""
    L, info = _rgrad._linalg_cholesky_ex(A, bool(upper))
    if check_errors:
        _raise_not_positive_definite(info, "linalg.cholesky")
    return linalg_cholesky_ex((L, info))


def cholesky(A, *, upper=False):
    """``cholesky_ex`` raising ``LinAlgError`` for a matrix that is not positive-definite."""
    return cholesky_ex(A, upper=upper, check_errors=True)[0]


def _promote(a, b):
    """Both operands in their common float dtype (PyTorch promotes float32 with float64)."""
    if a.dtype != b.dtype and a.is_floating_point() and b.is_floating_point():
        dt = _rgrad.float64 if _rgrad.float64 in (a.dtype, b.dtype) else a.dtype
        return a.to(dt), b.to(dt)
    return a, b


def _check_batches(a, b):
    """PyTorch's broadcast error for batch dims ``a`` (B's) and ``b`` (A's), checked from the
    last dim as ``infer_size`` does."""
    n = max(len(a), len(b))
    for i in range(n - 1, -1, -1):
        da = a[i - n + len(a)] if i - n + len(a) >= 0 else 1
        db = b[i - n + len(b)] if i - n + len(b) >= 0 else 1
        if da != db and da != 1 and db != 1:
            raise RuntimeError(
                f"The size of tensor a ({da}) must match the size of tensor b ({db}) at "
                f"non-singleton dimension {i}"
            )


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """``X`` with ``A X = B`` (``X A = B`` when not ``left``) for triangular ``A``; only the
    triangle named by ``upper`` is read (and not the diagonal when ``unitriangular``)."""
    A, B = _promote(A, B)
    _check_batches(tuple(B.shape[:-2]), tuple(A.shape[:-2]))
    return _rgrad._linalg_solve_triangular(A, B, bool(upper), bool(left), bool(unitriangular))


_TRIANGULAR_SOLVE_WARNING = (
    "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangularand will be "
    "removed in a future PyTorch release.\ntorch.linalg.solve_triangular has its arguments "
    "reversed and does not return a copy of one of the inputs.\nX = torch.triangular_solve(B, A)"
    ".solution\nshould be replaced with\nX = torch.linalg.solve_triangular(A, B)."
)
_warned = []


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """The deprecated spelling: ``(solution, cloned_coefficient)`` with ``op(A) X = b``,
    ``op(A)`` being ``A`` or (``transpose``) ``A^T``."""
    if not _warned:
        _warned.append(True)
        warnings.warn(_TRIANGULAR_SOLVE_WARNING, UserWarning, stacklevel=2)
    for name, t in (("b", b), ("A", A)):
        if t.ndim < 2:
            raise RuntimeError(
                f"torch.triangular_solve: Expected {name} to have at least 2 dimensions, but it "
                f"has {t.ndim} dimensions instead"
            )
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"A must be batches of square matrices, but they are {A.shape[-2]} by "
            f"{A.shape[-1]} matrices"
        )
    if A.shape[-1] != b.shape[-2]:
        raise RuntimeError(
            f"Incompatible matrix sizes for triangular_solve: each A matrix is {A.shape[-2]} by "
            f"{A.shape[-1]} but each b matrix is {b.shape[-2]} by {b.shape[-1]}"
        )
    op_a = A.transpose(-2, -1) if transpose else A
    x = solve_triangular(op_a, b, upper=bool(upper) != bool(transpose), unitriangular=unitriangular)
    return triangular_solve_result((x, A.clone()))


def cholesky_solve(B, L, upper=False):
    """``X`` with ``A X = B`` given the Cholesky factor of ``A`` (``A = L L^H``, or
    ``A = U^H U`` when ``upper``): two triangular solves."""
    for name, t in (("b", B), ("u", L)):
        if t.ndim < 2:
            raise RuntimeError(
                f"{name} should have at least 2 dimensions, but has {t.ndim} dimensions instead"
            )
    if B.dtype != L.dtype:
        raise RuntimeError(
            f"Expected b and A to have the same dtype, but found b of type {_type_name(B)} and "
            f"A of type {_type_name(L)} instead."
        )
    if L.shape[-1] != L.shape[-2]:
        raise RuntimeError(
            f"A must be batches of square matrices, but they are {L.shape[-2]} by "
            f"{L.shape[-1]} matrices"
        )
    if L.shape[-1] != B.shape[-2]:
        raise RuntimeError(
            f"Incompatible matrix sizes for cholesky_solve: each A matrix is {L.shape[-2]} by "
            f"{L.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}"
        )
    Lt = L.transpose(-2, -1)
    if upper:
        y = solve_triangular(Lt, B, upper=False)
        return solve_triangular(L, y, upper=True)
    y = solve_triangular(L, B, upper=False)
    return solve_triangular(Lt, y, upper=True)


# ---- LU: inverse, solve, determinants ------------------------------------------------------


class linalg_inv_ex(_NamedPair):  # noqa: N801
    __slots__ = ()
    _fields = ("inverse", "info")


class linalg_slogdet(_NamedPair):  # noqa: N801
    __slots__ = ()
    _fields = ("sign", "logabsdet")


def _first_failure(info):
    """(batch prefix, info value) of the first failed matrix, or None when all succeeded."""
    if info.ndim == 0:
        order = int(info.item())
        return ("", order) if order else None
    flat = info.reshape(-1)
    if not bool(flat.ne(0).any().item()):
        return None
    first = int(flat.ne(0).nonzero()[0, 0].item())
    return f"(Batch element {first}): ", int(flat[first].item())


def inv_ex(A, *, check_errors=False):
    """The inverse of each matrix (LU with partial pivoting) and ``info`` (0, or the order of
    the first zero pivot)."""
    X, info = _rgrad._linalg_inv_ex(A)
    if check_errors:
        _raise_singular(info)
    return linalg_inv_ex((X, info))


def _raise_singular(info):
    failed = _first_failure(info)
    if failed is not None:
        prefix, order = failed
        raise _LinAlgError(
            f"linalg.inv: {prefix}The diagonal element {order} is zero, the inversion could not "
            "be completed because the input matrix is singular."
        )


def inv(A):
    """``inv_ex`` raising ``LinAlgError`` for a singular matrix."""
    return inv_ex(A, check_errors=True)[0]


def _check_square(A, fn):
    if A.ndim < 2:
        raise RuntimeError(f"{fn}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"{fn}: A must be batches of square matrices, but they are {A.shape[-2]} by "
            f"{A.shape[-1]} matrices"
        )


class linalg_solve_ex(_NamedPair):  # noqa: N801
    __slots__ = ()
    _fields = ("result", "info")


def _solve(A, B, left, check_errors):
    A, B = _promote(A, B)
    _check_square(A, "linalg.solve")
    n = A.shape[-1]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    Bm = B.unsqueeze(-1) if vector else B
    if Bm.ndim < 2:
        raise RuntimeError("linalg.solve: The input tensor B must have at least 2 dimensions.")
    rows, cols = Bm.shape[-2], Bm.shape[-1]
    if (left and rows != n) or (not left and cols != n):
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation {eq} ({n}x{n} and "
            f"{rows}x{cols})"
        )
    _check_batches(tuple(Bm.shape[:-2]), tuple(A.shape[:-2]))
    X, info = _rgrad._linalg_solve_ex(A, Bm, bool(left))
    if check_errors:
        failed = _first_failure(info)
        if failed is not None:
            raise _LinAlgError(
                f"torch.linalg.solve: {failed[0]}The solver failed because the input matrix is "
                "singular."
            )
    return (X.squeeze(-1) if vector else X), info


def solve(A, B, *, left=True):
    """``X`` with ``A X = B`` (``X A = B`` when not ``left``); ``B`` may be a (batch of)
    vector(s), as in PyTorch. One LU per matrix; raises for a singular matrix."""
    return _solve(A, B, left, True)[0]


def solve_ex(A, B, *, left=True, check_errors=False):
    """``(result, info)``: ``solve`` without raising unless ``check_errors``."""
    return linalg_solve_ex(_solve(A, B, left, check_errors))


def slogdet(A):
    """``(sign, logabsdet)`` of each matrix; only ``logabsdet`` has a gradient."""
    return linalg_slogdet(_rgrad._linalg_slogdet(A, "linalg.slogdet"))


def det(A):
    """The determinant from one LU per matrix; its gradient (the adjugate) is finite at
    singular matrices too."""
    return _rgrad._linalg_det(A)


def logdet(A):
    """``log(det(A))``: NaN for a negative determinant, -inf for a singular matrix."""
    sign, logabs = _rgrad._linalg_slogdet(A, "logdet")
    return logabs.masked_fill(sign < 0, float("nan"))
