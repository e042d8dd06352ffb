"""``torch.linalg``'s LU, eigh, SVD and QR (Rust ops over faer with their backward rules in the
core), and the functions PyTorch itself builds from them (``pinv``, ``lstsq``,
``matrix_rank``, ``cond``, ``lu_solve``, ``svdvals``, ``eigvalsh``) or from products
(``matrix_power``, ``matrix_exp``, ``multi_dot``, ``householder_product``, ``cross``,
``vecdot``): those are compositions of recorded ops, so their gradients come from the
parts."""

from __future__ import annotations

import math

import rgrad
from rgrad import _rgrad
from rgrad.autograd.function import Function

__all__ = [
    "cond",
    "cross",
    "eigh",
    "eigvalsh",
    "householder_product",
    "lstsq",
    "lu",
    "lu_factor",
    "lu_factor_ex",
    "lu_solve",
    "matrix_exp",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "pinv",
    "qr",
    "svd",
    "svdvals",
    "vecdot",
]

_TYPE_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int"}


def _type_name(t):
    name = str(t.dtype).rsplit(".", 1)[-1]
    return _TYPE_NAMES.get(name, name.capitalize())


class _Named(tuple):
    """A tuple with field names, like PyTorch's ``torch.return_types`` structseqs."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __new__(cls, values):
        return super().__new__(cls, values)

    def __getattr__(self, name):
        try:
            return self[type(self)._fields.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(type(self)._fields, self))
        return f"rgrad.return_types.{type(self).__name__}(\n{body})"

    def __reduce__(self):
        return (type(self), (tuple(self),))


def _named(name, *fields):
    return type(name, (_Named,), {"__slots__": (), "_fields": fields})


linalg_lu_factor = _named("linalg_lu_factor", "LU", "pivots")
linalg_lu_factor_ex = _named("linalg_lu_factor_ex", "LU", "pivots", "info")
linalg_lu = _named("linalg_lu", "P", "L", "U")
linalg_eigh = _named("linalg_eigh", "eigenvalues", "eigenvectors")
linalg_svd = _named("linalg_svd", "U", "S", "Vh")
linalg_qr = _named("linalg_qr", "Q", "R")
linalg_lstsq = _named("linalg_lstsq", "solution", "residuals", "rank", "singular_values")


def _first_failure(info):
    flat = info.reshape(-1)
    if flat.numel() == 0 or not bool(flat.ne(0).any().item()):
        return None
    first = int(flat.ne(0).nonzero()[0, 0].item())
    prefix = f"(Batch element {first}): " if info.ndim else ""
    return prefix, int(flat[first].item())


# ---- LU ------------------------------------------------------------------------------------


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """The packed LU factors (``A = P L U``), LAPACK's 1-based pivots and ``info``."""
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    LU, piv, info = _rgrad._linalg_lu_factor_ex(A)
    if check_errors:
        failed = _first_failure(info)
        if failed is not None:
            from rgrad._linalg_factor import LinAlgError

            raise LinAlgError(
                f"torch.linalg.lu_factor: {failed[0]}U[{failed[1]},{failed[1]}] is zero, "
                "singular U."
            )
    return linalg_lu_factor_ex((LU, piv, info))


def lu_factor(A, *, pivot=True):
    """``lu_factor_ex`` that does not raise for singular matrices (their U has a zero pivot),
    as PyTorch's ``lu_factor``."""
    LU, piv, _ = lu_factor_ex(A, pivot=pivot)
    return linalg_lu_factor((LU, piv))


def _eye(r, c, like):
    return _rgrad.eye(r, c, dtype=like.dtype, device=like.device)


def lu(A, *, pivot=True):
    """``(P, L, U)`` with ``A = P L U``: L unit lower (m x k), U upper (k x n)."""
    LU, _, _ = lu_factor_ex(A, pivot=pivot)
    m, n = LU.shape[-2], LU.shape[-1]
    k = min(m, n)
    P = _rgrad._linalg_lu_permutation(A)
    L = rgrad.tril(LU[..., :, :k], -1) + _eye(m, k, LU)
    U = rgrad.triu(LU[..., :k, :])
    return linalg_lu((P, L, U))


def _pivots_to_permutation(pivots, m, like):
    """P (..., m, m) from LAPACK pivots: bookkeeping of integer swaps on the host (no
    gradient), then one matrix."""
    dev = like.device
    piv = pivots.detach().to(device=dev, dtype=_rgrad.int64) - 1
    batch = tuple(piv.shape[:-1])
    flat = piv.reshape(-1, piv.shape[-1])
    b = flat.shape[0]
    perm = _rgrad.arange(m, dtype=_rgrad.int64, device=dev).expand(b, m).contiguous()
    # One swap per pivot column, over the whole batch at once (k <= m columns).
    for i in range(flat.shape[1]):
        j = flat[:, i : i + 1]
        a, c = perm[:, i : i + 1].clone(), perm.gather(1, j)
        perm[:, i : i + 1] = c
        perm.scatter_(1, j, a)
    # Row r of P^T A is row perm[r] of A: P[perm[r], r] = 1.
    p = _rgrad.zeros((b, m, m), dtype=like.dtype, device=dev)
    p.scatter_(1, perm.unsqueeze(1), 1.0)
    return p.reshape(batch + (m, m))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """``X`` with ``A X = B`` (``X A = B`` when not ``left``; ``A^H`` for ``adjoint``) from
    the factors of ``lu_factor``: a permutation and two triangular solves (each recorded, so
    the gradient reaches both ``LU`` and ``B``)."""
    from rgrad._linalg_factor import solve_triangular

    n = LU.shape[-1]
    P = _pivots_to_permutation(pivots, n, LU)
    if left and not adjoint:  # U^-1 L^-1 P^T B
        y = solve_triangular(LU, P.mT @ B, upper=False, unitriangular=True)
        return solve_triangular(LU, y, upper=True)
    if left:  # A^T = U^T L^T P^T: X = P L^-T U^-T B
        y = solve_triangular(LU.mT, B, upper=False)
        return P @ solve_triangular(LU.mT, y, upper=True, unitriangular=True)
    if not adjoint:  # B U^-1 L^-1 P^T
        y = solve_triangular(LU, B, upper=True, left=False)
        return solve_triangular(LU, y, upper=False, left=False, unitriangular=True) @ P.mT
    # X A^T = B: X = B P L^-T U^-T
    y = solve_triangular(LU.mT, B @ P, upper=True, left=False, unitriangular=True)
    return solve_triangular(LU.mT, y, upper=False, left=False)


# ---- eigh, SVD, QR -------------------------------------------------------------------------


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices, reading the lower
    (``UPLO='L'``) or upper triangle."""
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return linalg_eigh(_rgrad._linalg_eigh(A, UPLO == "U"))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues of ``eigh`` (its gradient needs the vectors, so they are computed)."""
    return eigh(A, UPLO)[0]


def svd(A, full_matrices=True, *, driver=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, S descending. ``driver`` is CUDA's and is
    ignored on the CPU, as in PyTorch."""
    return linalg_svd(_rgrad._linalg_svd(A, bool(full_matrices)))


def svdvals(A, *, driver=None):
    """The singular values, descending."""
    return _rgrad._linalg_svd(A, False)[1]


def qr(A, mode="reduced"):
    """``(Q, R)`` with ``A = Q R``; mode 'reduced', 'complete' or 'r' (Q empty)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    return linalg_qr(_rgrad._linalg_qr(A, mode))


# ---- built on the SVD ----------------------------------------------------------------------


def _eps(t):
    return float(rgrad.finfo(_rgrad.float32 if t.dtype == _rgrad.float32 else _rgrad.float64).eps)


def _tolerance(smax, A, atol, rtol):
    """PyTorch's ``max(atol, rtol * smax)``; rtol defaults to eps * max(m, n) when neither
    is given and to 0 when only atol is."""
    if rtol is None:
        rtol = _eps(A) * max(A.shape[-2], A.shape[-1]) if atol is None else 0.0
    tol = smax * rtol
    if atol is not None:
        tol = rgrad.maximum(tol, rgrad.zeros_like(tol) + atol)
    return tol


def _check_float_matrix(A, fn):
    if A.ndim < 2 or not A.is_floating_point():
        raise RuntimeError(
            f"{fn}({_type_name(A)}{{{list(A.shape)}}}): expected a tensor with 2 or more "
            "dimensions of float, double, cfloat or cdouble types"
        )


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The pseudo-inverse from the SVD (``eigh`` when ``hermitian``), singular values below
    ``max(atol, rtol * smax)`` dropped; its gradient is PyTorch's (see ``_Pinv``)."""
    _check_float_matrix(A, "linalg.pinv")
    with rgrad.no_grad():
        P = _pinv_value(A.detach(), atol, rtol, hermitian)
    if not (A.requires_grad and rgrad.is_grad_enabled()):
        return P
    return _Pinv.apply(A, P)


def _pinv_value(A, atol, rtol, hermitian):
    if hermitian:
        L, V = eigh(A)
        absl = L.abs()
        smax = absl.amax(-1, keepdim=True) if L.shape[-1] else absl.sum(-1, keepdim=True)
        keep = absl > _tolerance(smax, A, atol, rtol)
        inv = L.masked_fill(~keep, 1.0).reciprocal().masked_fill(~keep, 0.0)
        return (V * inv.unsqueeze(-2)) @ V.mT
    U, S, Vh = _rgrad._linalg_svd(A, False)
    smax = S[..., :1] if S.shape[-1] else S.sum(-1, keepdim=True)
    keep = S > _tolerance(smax, A, atol, rtol)
    inv = S.masked_fill(~keep, 1.0).reciprocal().masked_fill(~keep, 0.0)
    return (Vh.mT * inv.unsqueeze(-2)) @ U.mT


class _Pinv(Function):
    """The pseudo-inverse ``P`` of ``A`` (computed by the caller) with PyTorch's
    ``pinv_backward``: the adjoint of the constant-rank derivative (Golub and Pereyra)
    dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P, rather than the derivative
    of the truncated SVD. P is saved as this node's output, so a second derivative
    differentiates the rule through this node again, as PyTorch's does."""

    @staticmethod
    def forward(ctx, A, P):
        out = P.clone()
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, G):
        A, P = ctx.saved_tensors
        m, n = A.shape[-2], A.shape[-1]
        Gt = G.mT
        ga = -(P.mT @ G @ P.mT)
        ga = ga + (_eye(m, m, A) - A @ P) @ Gt @ (P @ P.mT)
        ga = ga + (P.mT @ P) @ Gt @ (_eye(n, n, A) - P @ A)
        return ga, None


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The number of singular values above ``max(atol, rtol * smax)``."""
    if A.ndim < 2:
        raise RuntimeError(
            "linalg.matrix_rank: The input tensor input must have at least 2 dimensions."
        )
    S = eigvalsh(A).abs() if hermitian else svdvals(A)
    S = S.detach()
    if S.shape[-1] == 0:
        return _rgrad.zeros(tuple(A.shape[:-2]), dtype=_rgrad.int64)
    smax = S.amax(-1, keepdim=True)
    return (S > _tolerance(smax, A, atol, rtol)).sum(-1)


def cond(A, p=None):
    """The condition number in the ``p`` norm: singular-value ratios for None/2/-2, else
    ``norm(A, p) * norm(inv(A), p)``."""
    from rgrad.linalg import inv, matrix_norm

    if p is None or p in (2, -2):
        S = svdvals(A)
        hi, lo = S[..., 0], S[..., -1]
        return lo / hi if p == -2 else hi / lo
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution of ``A X = B`` (the minimum-norm one, ``pinv(A) B``) and
    what PyTorch's CPU drivers report: ``residuals`` (squared column norms of ``A X - B``,
    when m > n, every matrix has full rank and the driver is not gelsy), ``rank`` (gelsy,
    gelsd, gelss) and ``singular_values`` (gelsd, gelss)."""
    drivers = ("gels", "gelsy", "gelsd", "gelss")
    if driver is None:
        driver = "gelsy"
    if driver not in drivers:
        raise RuntimeError(
            "torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)"
        )
    vector = B.ndim == A.ndim - 1
    Bm = B.unsqueeze(-1) if vector else B
    if A.dtype != B.dtype:
        raise RuntimeError(
            f"torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
            f"input's dtype {A.dtype} and other's dtype {B.dtype}"
        )
    m, n = A.shape[-2], A.shape[-1]
    if rcond is None:
        rcond = _eps(A) * max(m, n)
    U, S, Vh = _rgrad._linalg_svd(A, False)
    smax = S[..., :1] if S.shape[-1] else S.sum(-1, keepdim=True)
    keep = S > smax * rcond
    inv = S.masked_fill(~keep, 1.0).reciprocal().masked_fill(~keep, 0.0)
    X = (Vh.mT * inv.unsqueeze(-2)) @ (U.mT @ Bm)
    rank = keep.sum(-1)
    empty = _rgrad.zeros((0,), dtype=A.dtype)
    residuals = empty
    full_rank = bool((rank == min(m, n)).all().item()) if rank.numel() else True
    if m > n and driver != "gelsy" and full_rank:
        residuals = ((A @ X - Bm) ** 2).sum(-2)
        if vector:
            residuals = residuals.squeeze(-1)
    if vector:
        X = X.squeeze(-1)
    if driver == "gels":
        rank = _rgrad.zeros((0,), dtype=_rgrad.int64)
    sv = S if driver in ("gelsd", "gelss") else empty
    return linalg_lstsq((X, residuals, rank, sv))


# ---- products ------------------------------------------------------------------------------


def _check_square(A, fn):
    if A.ndim < 2:
        raise RuntimeError(f"{fn}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"{fn}: A must be batches of square matrices, but they are {A.shape[-2]} by "
            f"{A.shape[-1]} matrices"
        )


def matrix_power(A, n):
    """``A`` to the integer power ``n`` by repeated squaring; negative powers of ``inv(A)``."""
    from rgrad.linalg import inv

    _check_square(A, "linalg.matrix_power")
    if n == 0:
        return _eye(A.shape[-1], A.shape[-1], A).expand(*A.shape).clone()
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def matrix_exp(A):
    """``exp(A)``: scaling and squaring over a degree-14 Taylor polynomial (Horner), scaled
    until the largest 1-norm in the batch is at most 1/2 (truncation below double
    precision's rounding); the gradient is that of the recorded products."""
    if not A.is_floating_point():
        raise NotImplementedError(
            f"linalg.matrix_exp: Expected a floating point or complex tensor as input. Got "
            f"{_type_name(A)}"
        )
    _check_square(A, "linalg.matrix_exp")
    n = A.shape[-1]
    if A.numel() == 0:
        return A.clone()
    norm = float(A.detach().abs().sum(-2).amax().item())
    s = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 and math.isfinite(norm) else 0
    X = A / (2.0**s) if s else A
    eye = _eye(n, n, A)
    result = eye + X / 14.0
    for k in range(13, 0, -1):
        result = eye + (X @ result) / float(k)
    for _ in range(s):
        result = result @ result
    return result


def multi_dot(tensors, *, out=None):
    """The chained product; the first (last) operand may be a vector, as a row (column)."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        end = i in (0, len(tensors) - 1)
        if t.ndim != 2 and not (end and t.ndim == 1):
            which = "first" if i == 0 else "last" if i == len(tensors) - 1 else None
            if which:
                raise RuntimeError(
                    f"multi_dot(): the {which} tensor must be 1D or 2D but got {t.ndim}D"
                )
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    out = tensors[0]
    for t in tensors[1:]:
        out = out @ t
    return out


def householder_product(A, tau, *, out=None):
    """The first n columns of ``H_1 ... H_k`` with ``H_i = I - tau_i v_i v_i^H`` and ``v_i``
    column i of ``A`` below the diagonal with an implicit 1 on it (LAPACK's orgqr)."""
    m, n = A.shape[-2], A.shape[-1]
    k = tau.shape[-1]
    if n > m:
        raise RuntimeError(
            "torch.linalg.householder_product: input.shape[-2] must be greater than or equal "
            "to input.shape[-1]"
        )
    if k > n:
        raise RuntimeError(
            "torch.linalg.householder_product: input.shape[-1] must be greater than or equal "
            "to tau.shape[-1]"
        )
    Q = _eye(m, n, A).expand(*A.shape[:-2], m, n)
    below = rgrad.tril(_rgrad.ones(m, n, dtype=A.dtype, device=A.device), -1)
    V = A * below + _eye(m, n, A)
    for i in range(k - 1, -1, -1):
        v = V[..., :, i : i + 1]
        t = tau[..., i : i + 1].unsqueeze(-1)
        Q = Q - (v * t) @ (v.mT @ Q)
    return Q


def cross(input, other, *, dim=-1, out=None):
    """The cross product over ``dim`` (length 3), inputs broadcast."""
    if input.dtype != other.dtype:
        raise RuntimeError(
            f"expected scalar type {_type_name(input)} but found {_type_name(other)}"
        )
    nd = max(input.ndim, other.ndim)
    d = dim % nd if nd else dim
    ia = input.shape[d - nd + input.ndim] if d - nd + input.ndim >= 0 else 1
    ib = other.shape[d - nd + other.ndim] if d - nd + other.ndim >= 0 else 1
    if ia != 3 or ib != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got {ia} and {ib}"
        )
    from rgrad._products import cross as _cross

    return _cross(input, other, dim)


def vecdot(x, y, *, dim=-1, out=None):
    """The dot product of vectors along ``dim`` (inputs broadcast)."""
    return (x * y).sum(dim)


def pinverse(input, rcond=1e-15):
    """``torch.pinverse``: ``pinv`` with ``rtol=rcond``."""
    return pinv(input, rtol=rcond)


torch_svd_result = _named("svd", "U", "S", "V")
lu_unpack_result = _named("lu_unpack", "P", "L", "U")


def torch_svd(input, some=True, compute_uv=True):
    """The deprecated ``torch.svd``: ``(U, S, V)`` with V (not Vh); zero U and V (full size)
    when not ``compute_uv``, as PyTorch."""
    U, S, Vh = _rgrad._linalg_svd(input, not some)
    if not compute_uv:
        m, n = input.shape[-2], input.shape[-1]
        lead = tuple(input.shape[:-2])
        z = _rgrad.zeros
        return torch_svd_result(
            (z(lead + (m, m), dtype=input.dtype), S, z(lead + (n, n), dtype=input.dtype))
        )
    return torch_svd_result((U, S, Vh.mT))


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """``(P, L, U)`` from the packed factors and pivots of ``lu_factor``."""
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    P = _pivots_to_permutation(LU_pivots, m, LU_data) if unpack_pivots else _rgrad.zeros(0)
    if not unpack_data:
        return lu_unpack_result((P, _rgrad.zeros(0), _rgrad.zeros(0)))
    L = rgrad.tril(LU_data[..., :, :k], -1) + _eye(m, k, LU_data)
    U = rgrad.triu(LU_data[..., :k, :])
    return lu_unpack_result((P, L, U))


def vander(x, *, N=None):
    """Columns ``x^0, x^1, ..., x^(N-1)`` (N defaults to x's last size), as cumulative
    products so the gradient at 0 is finite."""
    n = x.shape[-1] if N is None else N
    if n <= 1:
        return rgrad.ones_like(x).unsqueeze(-1)[..., :n]
    ones = rgrad.ones_like(x).unsqueeze(-1)
    reps = x.unsqueeze(-1).expand(*x.shape, n - 1)
    return rgrad.cat([ones, reps], -1).cumprod(-1)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """``torch.diagonal`` with linalg's default dims (the last two)."""
    return rgrad.diagonal(A, offset, dim1, dim2)


def tensorinv(A, ind=2, *, out=None):
    """The inverse of ``A`` read as a matrix of its first ``ind`` dims by the rest."""
    rows = math.prod(A.shape[:ind])
    cols = math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[ind:]) == "
            f"prod(self.shape[:ind]), but got {cols} != {rows}"
        )
    from rgrad._linalg_factor import inv

    inverse = inv(A.reshape(rows, cols))
    return inverse.reshape(tuple(A.shape[ind:]) + tuple(A.shape[:ind]))


def tensorsolve(A, B, dims=None, *, out=None):
    """``X`` with ``tensordot(A, X, X.ndim) = B``: one matrix solve."""
    from rgrad._linalg_factor import solve

    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = A.movedim(dims, list(range(A.ndim - len(dims), A.ndim)))
    rest = tuple(A.shape[B.ndim :])
    rows, cols = B.numel(), math.prod(rest)
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
            f"prod(self.shape[:other.ndim]), but got {cols} != {rows}"
        )
    return solve(A.reshape(rows, cols), B.reshape(rows)).reshape(rest)
