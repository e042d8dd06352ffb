"""gradcheck and gradgradcheck in float64 of every torch.linalg op of issue 15 on batched
input (the Done-when: "gradcheck covers every linalg op"). test_linalg_ops.py and
test_linalg_decomp.py check most ops on single matrices and some batches; this table has at
least one case per op whose input has a leading batch dimension (multi_dot, which PyTorch
defines on 1-D/2-D operands only, excepted), with the inputs made well conditioned as
PyTorch's OpInfo samples are (SPD as ``A A^T + n I``, diagonally dominated or triangular with
a large diagonal, distinct eigenvalues and singular values) and losses that do not depend on
the gauge of eigenvectors and singular vectors (their absolute values, projectors
``U U^T``, the reconstruction), as PyTorch's own tests use."""

import numpy as np
import pytest

import rgrad
from rgrad.autograd import gradcheck, gradgradcheck

L = rgrad.linalg
F64 = rgrad.float64


def _randn(*shape, seed=0):
    g = rgrad.Generator().manual_seed(seed)
    return rgrad.randn(*shape, generator=g, dtype=F64)


def _eye(n, like):
    return rgrad.eye(n, dtype=like.dtype)


def _spd(a):
    n = a.shape[-1]
    return a @ a.mT + n * _eye(n, a)


def _dominant(a):
    """A well-conditioned square matrix (no symmetry)."""
    return a + 3 * _eye(a.shape[-1], a)


def _tri(a, upper=False):
    t = rgrad.triu(a) if upper else rgrad.tril(a)
    return t + 3 * _eye(a.shape[-1], a)


def _sym_distinct(a):
    """Symmetric with well separated eigenvalues: a small symmetric perturbation of
    diag(1, 3, 5, ...)."""
    n = a.shape[-1]
    d = rgrad.diag(rgrad.arange(1, 2 * n, 2, dtype=a.dtype))
    return d + 0.3 * (a + a.mT)


def _spread(a):
    """A matrix with well separated singular values: a small perturbation of a rectangular
    diagonal diag(1, 2, 3, ...)."""
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    d = rgrad.zeros(m, n, dtype=a.dtype)
    d[:k, :k] = rgrad.diag(rgrad.arange(1, k + 1, dtype=a.dtype))
    return d + 0.2 * a


def _lu_solve(a, b, **kw):
    LU, piv = L.lu_factor(_dominant(a))
    return L.lu_solve(LU, piv, b, **kw)


# name -> (op, function of the inputs, input shapes, gradgradcheck?)
CASES = {
    "cholesky": ("cholesky", lambda a: L.cholesky(_spd(a)), [(2, 3, 3)], True),
    "cholesky_upper_broadcast": (
        "cholesky",
        lambda a: L.cholesky(_spd(a), upper=True),
        [(2, 1, 3, 3)],
        True,
    ),
    "cholesky_ex": (
        "cholesky_ex",
        lambda a: L.cholesky_ex(_spd(a), upper=True).L,
        [(2, 3, 3)],
        True,
    ),
    "inv": ("inv", lambda a: L.inv(_dominant(a)), [(2, 3, 3)], True),
    "inv_ex": ("inv_ex", lambda a: L.inv_ex(_dominant(a)).inverse, [(3, 2, 2)], True),
    "det": ("det", lambda a: L.det(a), [(3, 3, 3)], True),
    "det_4x4": ("det", lambda a: L.det(a), [(2, 4, 4)], True),
    "slogdet": ("slogdet", lambda a: L.slogdet(a).logabsdet, [(3, 3, 3)], True),
    "slogdet_sign_times": (
        "slogdet",
        lambda a: (lambda r: r.sign * r.logabsdet.exp())(L.slogdet(a)),
        [(2, 3, 3)],
        True,
    ),
    "logdet": ("logdet", lambda a: rgrad.logdet(_spd(a)), [(2, 3, 3)], True),
    "logdet_method": ("logdet", lambda a: _spd(a).logdet(), [(2, 2, 2)], True),
    "solve": ("solve", lambda a, b: L.solve(_dominant(a), b), [(2, 3, 3), (2, 3, 2)], True),
    "solve_left_false_broadcast": (
        "solve",
        lambda a, b: L.solve(_dominant(a), b, left=False),
        [(2, 1, 3, 3), (4, 3)],
        True,
    ),
    "solve_triangular_lower": (
        "solve_triangular",
        lambda a, b: L.solve_triangular(_tri(a), b, upper=False),
        [(2, 3, 3), (2, 3, 4)],
        True,
    ),
    "solve_triangular_upper_right_unit": (
        "solve_triangular",
        lambda a, b: L.solve_triangular(a, b, upper=True, left=False, unitriangular=True),
        [(2, 3, 3), (2, 2, 3)],
        True,
    ),
    "lu_factor": ("lu_factor", lambda a: L.lu_factor(_dominant(a)).LU, [(2, 3, 3)], True),
    "lu_factor_tall": ("lu_factor", lambda a: L.lu_factor(a).LU, [(2, 4, 3)], True),
    "lu_factor_wide": ("lu_factor", lambda a: L.lu_factor(a).LU, [(2, 3, 4)], True),
    "lu_solve": ("lu_solve", lambda a, b: _lu_solve(a, b), [(2, 3, 3), (2, 3, 2)], True),
    "lu_solve_adjoint": (
        "lu_solve",
        lambda a, b: _lu_solve(a, b, adjoint=True),
        [(2, 3, 3), (2, 3, 2)],
        True,
    ),
    "lu_solve_right": (
        "lu_solve",
        lambda a, b: _lu_solve(a, b, left=False),
        [(2, 3, 3), (2, 4, 3)],
        True,
    ),
    "lu_solve_right_adjoint": (
        "lu_solve",
        lambda a, b: _lu_solve(a, b, left=False, adjoint=True),
        [(2, 3, 3), (2, 4, 3)],
        True,
    ),
    "qr_reduced_tall": ("qr", lambda a: (lambda r: (r.Q, r.R))(L.qr(a)), [(2, 4, 3)], True),
    "qr_reduced_wide": ("qr", lambda a: (lambda r: (r.Q, r.R))(L.qr(a)), [(2, 3, 4)], True),
    "qr_complete_square": (
        "qr",
        lambda a: (lambda r: (r.Q, r.R))(L.qr(a, mode="complete")),
        [(2, 3, 3)],
        True,
    ),
    "eigh": (
        "eigh",
        lambda a: (lambda r: (r.eigenvalues, r.eigenvectors.abs()))(L.eigh(_sym_distinct(a))),
        [(2, 3, 3)],
        True,
    ),
    "eigh_upper_projector": (
        "eigh",
        lambda a: (lambda v: v[..., :, :2] @ v[..., :, :2].mT)(
            L.eigh(_sym_distinct(a), UPLO="U").eigenvectors
        ),
        [(2, 4, 4)],
        True,
    ),
    "eigvalsh": ("eigvalsh", lambda a: L.eigvalsh(_sym_distinct(a)), [(3, 3, 3)], True),
    "svd_reduced_tall": (
        "svd",
        lambda a: (lambda r: (r.U.abs(), r.S, r.Vh.abs()))(L.svd(_spread(a), full_matrices=False)),
        [(2, 4, 3)],
        True,
    ),
    "svd_reduced_wide_reconstruct": (
        "svd",
        lambda a: (lambda r: (r.U * r.S.unsqueeze(-2)) @ r.Vh)(L.svd(a, full_matrices=False)),
        [(2, 3, 4)],
        True,
    ),
    "svd_full_matrices_projector": (
        # With full_matrices=True only the first k columns of U are determined.
        "svd",
        lambda a: (lambda r: (r.U[..., :, :3] @ r.U[..., :, :3].mT, r.S, r.Vh.abs()))(
            L.svd(_spread(a))
        ),
        [(2, 4, 3)],
        True,
    ),
    "svdvals": ("svdvals", lambda a: L.svdvals(_spread(a)), [(2, 3, 4)], True),
    "pinv_tall": ("pinv", lambda a: L.pinv(_spread(a)), [(2, 4, 3)], True),
    "pinv_wide": ("pinv", lambda a: L.pinv(_spread(a)), [(2, 3, 4)], True),
    "pinv_hermitian": (
        "pinv",
        lambda a: L.pinv(_sym_distinct(a), hermitian=True),
        [(2, 3, 3)],
        True,
    ),
    "lstsq_tall": (
        "lstsq",
        lambda a, b: L.lstsq(_spread(a), b).solution,
        [(2, 4, 3), (2, 4, 2)],
        True,
    ),
    "lstsq_wide_min_norm": (
        "lstsq",
        lambda a, b: L.lstsq(_spread(a), b, driver="gelsd").solution,
        [(2, 3, 4), (2, 3, 2)],
        True,
    ),
    "lstsq_vector_rhs": (
        "lstsq",
        lambda a, b: L.lstsq(_spread(a), b.unsqueeze(-1)).solution,
        [(2, 4, 3), (2, 4)],
        True,
    ),
    "matrix_power_3": ("matrix_power", lambda a: L.matrix_power(a, 3), [(2, 3, 3)], True),
    "matrix_power_0": ("matrix_power", lambda a: L.matrix_power(a, 0) * a, [(2, 3, 3)], True),
    "matrix_power_neg3": (
        "matrix_power",
        lambda a: L.matrix_power(_dominant(a), -3),
        [(2, 3, 3)],
        True,
    ),
    "matrix_exp": ("matrix_exp", lambda a: L.matrix_exp(a), [(2, 3, 3)], True),
    "matrix_exp_scaled": ("matrix_exp", lambda a: L.matrix_exp(3 * a), [(2, 2, 2)], True),
    "cross_broadcast": ("cross", lambda a, b: L.cross(a, b), [(2, 4, 3), (4, 3)], True),
    "cross_dim0": ("cross", lambda a, b: L.cross(a, b, dim=0), [(3, 2, 2), (3, 2, 2)], True),
    "vecdot": ("vecdot", lambda a, b: L.vecdot(a, b), [(2, 3, 4), (3, 4)], True),
    "vecdot_dim": ("vecdot", lambda a, b: L.vecdot(a, b, dim=-2), [(2, 3, 4), (2, 3, 4)], True),
    "multi_dot_matrices": (
        "multi_dot",
        lambda a, b, c, d: L.multi_dot([a, b, c, d]),
        [(2, 3), (3, 4), (4, 5), (5, 2)],
        True,
    ),
    "multi_dot_vector_ends": (
        "multi_dot",
        lambda a, b, c: L.multi_dot([a, b, c]),
        [(3,), (3, 4), (4,)],
        True,
    ),
    "householder_product": (
        "householder_product",
        lambda a, t: L.householder_product(a, t),
        [(2, 4, 3), (2, 3)],
        True,
    ),
    "householder_product_fewer_taus": (
        "householder_product",
        lambda a, t: L.householder_product(a, t),
        [(2, 4, 3), (2, 2)],
        True,
    ),
    "householder_product_square": (
        "householder_product",
        lambda a, t: L.householder_product(a, t.tanh() + 1.0),
        [(3, 3, 3), (3, 3)],
        True,
    ),
    "cholesky_solve": (
        "cholesky_solve",
        lambda a, b: rgrad.cholesky_solve(b, L.cholesky(_spd(a))),
        [(2, 3, 3), (2, 3, 2)],
        True,
    ),
    "cholesky_solve_upper_broadcast": (
        "cholesky_solve",
        lambda a, b: rgrad.cholesky_solve(b, L.cholesky(_spd(a), upper=True), upper=True),
        [(2, 1, 3, 3), (3, 3, 2)],
        True,
    ),
    "triangular_solve": (
        "triangular_solve",
        lambda a, b: rgrad.triangular_solve(b, _tri(a, True)).solution,
        [(2, 3, 3), (2, 3, 2)],
        True,
    ),
    "triangular_solve_lower_transpose_unit": (
        "triangular_solve",
        lambda a, b: (
            rgrad.triangular_solve(b, a, upper=False, transpose=True, unitriangular=True).solution
        ),
        [(2, 3, 3), (2, 3, 2)],
        True,
    ),
}

# The ops of issue 15's item 2.
ISSUE_OPS = {
    "cholesky", "cholesky_ex", "inv", "inv_ex", "det", "slogdet", "logdet", "solve",
    "solve_triangular", "lu_factor", "lu_solve", "qr", "eigh", "eigvalsh", "svd", "svdvals",
    "pinv", "lstsq", "matrix_power", "matrix_exp", "cross", "vecdot", "multi_dot",
    "householder_product", "cholesky_solve", "triangular_solve",
}  # fmt: skip
# PyTorch's multi_dot takes 1-D/2-D operands only; the vector ops batch over leading dims.
UNBATCHED = {"multi_dot"}
VECTOR_OPS = {"cross", "vecdot"}


def _inputs(shapes):
    return [_randn(*s, seed=10 + i).requires_grad_() for i, s in enumerate(shapes)]


def test_every_issue_op_has_a_batched_case():
    ops = {op for op, _, _, _ in CASES.values()}
    assert ops == ISSUE_OPS
    for op in ISSUE_OPS - UNBATCHED:
        batch_dims = 1 if op in VECTOR_OPS else 2
        assert any(
            case_op == op and len(shapes[0]) > batch_dims
            for case_op, _, shapes, _ in CASES.values()
        ), op


@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    _, fn, shapes, _ = CASES[name]
    assert gradcheck(fn, _inputs(shapes))


@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c[3]))
def test_gradgradcheck(name):
    _, fn, shapes, _ = CASES[name]
    assert gradgradcheck(fn, _inputs(shapes))


def test_gradcheck_detects_a_wrong_backward():
    """The checks above can fail: a Function whose backward is off by a factor is caught."""

    class Wrong(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return L.det(a)

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return (
                1.01
                * g.unsqueeze(-1).unsqueeze(-1)
                * L.det(a).unsqueeze(-1).unsqueeze(-1)
                * L.inv(a).mT
            )

    a = _randn(2, 3, 3, seed=3).requires_grad_()
    assert not gradcheck(Wrong.apply, [a], raise_exception=False)


def test_householder_product_rebuilds_lapacks_q():
    """Forward reference: LAPACK's geqrf reflectors (NumPy's ``qr(mode='raw')``) through
    householder_product give NumPy's Q."""
    a = _randn(2, 5, 3, seed=5).numpy()
    for i in range(2):
        h, tau = np.linalg.qr(a[i], mode="raw")
        got = L.householder_product(rgrad.tensor(h.T.copy()), rgrad.tensor(tau))
        np.testing.assert_allclose(got.numpy(), np.linalg.qr(a[i])[0], rtol=1e-12, atol=1e-12)
    h = np.stack([np.linalg.qr(a[i], mode="raw")[0].T for i in range(2)])
    tau = np.stack([np.linalg.qr(a[i], mode="raw")[1] for i in range(2)])
    got = L.householder_product(rgrad.tensor(h), rgrad.tensor(tau))
    want = np.stack([np.linalg.qr(a[i])[0] for i in range(2)])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
