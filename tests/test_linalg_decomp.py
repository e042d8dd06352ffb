"""LU, solve, det, eigh, SVD, QR and the functions built on them (issue 15 item 2):
gradcheck/gradgradcheck in float64, forward properties in both float dtypes, empty
matrices, PyTorch's errors. Reference values from PyTorch are in test_linalg_ops.py (the
``own_*`` cases of tests/data/linalg_conformance.json)."""

import numpy as np
import pytest

import rgrad
from rgrad.autograd import gradcheck, gradgradcheck

L = rgrad.linalg


def _randn(*shape, seed=0):
    g = rgrad.Generator().manual_seed(seed)
    return rgrad.randn(*shape, generator=g, dtype=rgrad.float64)


def _host(t):
    return t.detach().numpy()


def _eye(n, like):
    return rgrad.eye(n, dtype=like.dtype)


def _sym(a):
    return a + a.mT


GRAD_FUNCS = {
    "lu_factor": (lambda a: L.lu_factor(a).LU, [(3, 3)]),
    "lu_factor_batched": (lambda a: L.lu_factor(a).LU, [(2, 3, 3)]),
    "lu_factor_wide": (lambda a: L.lu_factor(a).LU, [(2, 4)]),
    "lu_factor_tall": (lambda a: L.lu_factor(a).LU, [(4, 2)]),
    "lu_L_U": (lambda a: L.lu(a).L @ L.lu(a).U, [(3, 3)]),
    "lu_solve": (lambda a, b: L.lu_solve(*L.lu_factor(a), b), [(3, 3), (3, 2)]),
    "lu_solve_adjoint_right": (
        lambda a, b: L.lu_solve(*L.lu_factor(a), b, adjoint=True, left=False),
        [(3, 3), (2, 3)],
    ),
    "solve_broadcast": (
        lambda a, b: L.solve(a + 3 * _eye(3, a), b),
        [(2, 1, 3, 3), (3, 3, 2)],
    ),
    "solve_ex_right": (
        lambda a, b: L.solve_ex(a + 3 * _eye(3, a), b, left=False).result,
        [(2, 3, 3), (2, 4, 3)],
    ),
    "det_singular": (
        lambda a: L.det(a @ rgrad.diag(rgrad.tensor([1.0, 1.0, 0.0], dtype=a.dtype)) @ a.mT),
        [(3, 3)],
    ),
    "eigvalsh": (lambda a: L.eigvalsh(_sym(a)), [(2, 3, 3)]),
    "eigvalsh_upper": (lambda a: L.eigvalsh(_sym(a), UPLO="U"), [(3, 3)]),
    "eigh_vectors": (lambda a: L.eigh(_sym(a)).eigenvectors ** 2, [(3, 3)]),
    "eigh_both": (
        lambda a: (lambda r: r.eigenvectors * r.eigenvalues.unsqueeze(-2))(L.eigh(_sym(a))) ** 2,
        [(2, 3, 3)],
    ),
    "svdvals": (lambda a: L.svdvals(a), [(2, 4, 3)]),
    "svd_U_tall": (lambda a: L.svd(a, full_matrices=False).U ** 2, [(4, 3)]),
    "svd_Vh_wide": (lambda a: L.svd(a, full_matrices=False).Vh ** 2, [(3, 4)]),
    "svd_full": (
        lambda a: (lambda r: (r.U[..., :2] ** 2).sum(0) + (r.Vh**2 * r.S.unsqueeze(-1)).sum(0))(
            L.svd(a)
        ),
        [(3, 2)],
    ),
    "svd_all": (
        lambda a: (lambda r: (r.U * r.S.unsqueeze(-2)) @ (r.Vh**2))(L.svd(a, False)),
        [(2, 3, 3)],
    ),
    "qr_tall": (lambda a: (lambda r: r.Q.sum() + r.R.sum())(L.qr(a)), [(4, 3)]),
    "qr_square_Q": (lambda a: L.qr(a).Q, [(3, 3)]),
    "qr_wide": (lambda a: (lambda r: r.Q * 2 + r.R[..., :2])(L.qr(a)), [(2, 4)]),
    "qr_complete_wide": (lambda a: L.qr(a, mode="complete").R, [(2, 3)]),
    "pinv": (lambda a: L.pinv(a), [(4, 3)]),
    "pinv_hermitian": (lambda a: L.pinv(a @ a.mT + _eye(3, a), hermitian=True), [(3, 3)]),
    "lstsq": (lambda a, b: L.lstsq(a, b).solution, [(4, 3), (4, 2)]),
    "matrix_power_neg": (lambda a: L.matrix_power(a + 3 * _eye(3, a), -2), [(3, 3)]),
    "matrix_exp": (lambda a: L.matrix_exp(a), [(2, 3, 3)]),
    "matrix_norm_nuc": (lambda a: L.matrix_norm(a, "nuc"), [(3, 4)]),
    "cond": (lambda a: L.cond(a), [(3, 3)]),
    "householder": (lambda a, t: L.householder_product(a, t), [(4, 3), (3,)]),
    "cross": (lambda a, b: L.cross(a, b), [(2, 3), (2, 3)]),
    "multi_dot": (lambda a, b, c: L.multi_dot([a, b, c]), [(3,), (3, 4), (4, 2)]),
}


@pytest.mark.parametrize("name", sorted(GRAD_FUNCS))
def test_gradcheck_and_gradgradcheck(name):
    fn, shapes = GRAD_FUNCS[name]
    inputs = [_randn(*s, seed=i + 1).requires_grad_() for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


# ---- forward properties ----------------------------------------------------------------------

TOL = {rgrad.float32: 1e-4, rgrad.float64: 1e-11}


@pytest.mark.parametrize("dtype", [rgrad.float32, rgrad.float64])
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 5, 3), (3, 2, 5)])
def test_lu_reconstructs(dtype, shape):
    a = _randn(*shape, seed=2).to(dtype)
    P, Lo, U = L.lu(a)
    tol = TOL[dtype]
    np.testing.assert_allclose(_host(P @ Lo @ U), _host(a), rtol=tol, atol=tol)
    LU, piv, info = L.lu_factor_ex(a)
    assert piv.dtype == rgrad.int32 and bool((info == 0).all().item())
    assert tuple(piv.shape) == tuple(shape[:-2]) + (min(shape[-2:]),)


@pytest.mark.parametrize("dtype", [rgrad.float32, rgrad.float64])
def test_eigh_and_svd_reconstruct(dtype):
    a = _randn(3, 5, 5, seed=3).to(dtype)
    s = _sym(a)
    w, v = L.eigh(s)
    tol = TOL[dtype] * 10
    np.testing.assert_allclose(_host((v * w.unsqueeze(-2)) @ v.mT), _host(s), rtol=tol, atol=tol)
    np.testing.assert_allclose(_host(v.mT @ v), np.broadcast_to(np.eye(5), (3, 5, 5)), atol=tol)
    assert np.all(np.diff(_host(w), axis=-1) >= 0)
    for shape in [(2, 5, 3), (3, 5)]:
        b = _randn(*shape, seed=4).to(dtype)
        U, S, Vh = L.svd(b)
        k = min(shape[-2:])
        assert tuple(U.shape[-2:]) == (shape[-2], shape[-2])
        assert tuple(Vh.shape[-2:]) == (shape[-1], shape[-1])
        rec = (U[..., :k] * S.unsqueeze(-2)) @ Vh[..., :k, :]
        np.testing.assert_allclose(_host(rec), _host(b), rtol=tol, atol=tol)
        np.testing.assert_allclose(_host(U.mT @ U), np.eye(shape[-2]) + 0 * _host(U), atol=tol)
        assert np.all(np.diff(_host(S), axis=-1) <= 0)


@pytest.mark.parametrize("dtype", [rgrad.float32, rgrad.float64])
def test_qr_modes(dtype):
    a = _randn(2, 5, 3, seed=5).to(dtype)
    tol = TOL[dtype] * 10
    for mode, qs, rs in [("reduced", (5, 3), (3, 3)), ("complete", (5, 5), (5, 3))]:
        Q, R = L.qr(a, mode=mode)
        assert tuple(Q.shape[-2:]) == qs and tuple(R.shape[-2:]) == rs
        np.testing.assert_allclose(_host(Q @ R), _host(a), rtol=tol, atol=tol)
        assert np.all(np.tril(_host(R), -1) == 0)
    Q, R = L.qr(a, mode="r")
    assert tuple(Q.shape) == (0,)
    np.testing.assert_allclose(_host(R), _host(L.qr(a).R))


def test_solve_against_inverse_and_singular_errors():
    a = _randn(2, 4, 4, seed=6) + 3 * rgrad.eye(4, dtype=rgrad.float64)
    b = _randn(2, 4, 3, seed=7)
    np.testing.assert_allclose(_host(L.solve(a, b)), _host(L.inv(a) @ b), atol=1e-12)
    np.testing.assert_allclose(
        _host(L.solve(a, b.mT, left=False)), _host(b.mT @ L.inv(a)), atol=1e-12
    )
    z = rgrad.zeros(3, 3)
    with pytest.raises(
        L.LinAlgError,
        match=r"^torch.linalg.solve: The solver failed because the input matrix is singular.$",
    ):
        L.solve(z, rgrad.ones(3))
    with pytest.raises(L.LinAlgError, match=r"\(Batch element 0\): The solver failed"):
        L.solve(rgrad.zeros(2, 3, 3), rgrad.ones(2, 3))
    res = L.solve_ex(z, rgrad.ones(3))
    assert res.info.item() == 1


def test_det_gradient_at_singular_matrix_is_the_adjugate():
    a = rgrad.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.5], [1.0, 0.0, 1.0]], dtype=rgrad.float64)
    a = (
        a - rgrad.tensor([[0, 0, 0], [0, 0, 0.5], [0, 0, 0]], dtype=rgrad.float64)
    ).requires_grad_()
    (g,) = rgrad.autograd.grad(L.det(a), [a])
    m = _host(a)
    cof = np.array(
        [
            [(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(m, i, 0), j, 1)) for j in range(3)]
            for i in range(3)
        ]
    )
    assert np.all(np.isfinite(_host(g)))
    np.testing.assert_allclose(_host(g), cof, atol=1e-10)
    z = rgrad.zeros(3, 3, dtype=rgrad.float64, requires_grad=True)
    (gz,) = rgrad.autograd.grad(L.det(z), [z])
    np.testing.assert_allclose(_host(gz), np.zeros((3, 3)))


def test_lstsq_named_tuple_and_drivers():
    a, b = _randn(5, 3, seed=8), _randn(5, 2, seed=9)
    out = L.lstsq(a, b)
    assert type(out).__name__ == "linalg_lstsq"
    assert tuple(out.solution.shape) == (3, 2) and tuple(out.residuals.shape) == (0,)
    assert out.rank.item() == 3 and out.rank.dtype == rgrad.int64
    assert tuple(out.singular_values.shape) == (0,)
    d = L.lstsq(a, b, driver="gelsd")
    assert tuple(d.residuals.shape) == (2,) and tuple(d.singular_values.shape) == (3,)
    r = (a @ d.solution - b).pow(2).sum(0)
    np.testing.assert_allclose(_host(d.residuals), _host(r), atol=1e-12)
    g = L.lstsq(a, b, driver="gels")
    assert tuple(g.rank.shape) == (0,)
    with pytest.raises(RuntimeError, match="parameter `driver` should be one of"):
        L.lstsq(a, b, driver="xx")


def test_matrix_functions():
    a = _randn(3, 3, seed=10)
    np.testing.assert_allclose(_host(L.matrix_power(a, 0)), np.eye(3))
    np.testing.assert_allclose(_host(L.matrix_power(a, 3)), _host(a @ a @ a), atol=1e-12)
    z = rgrad.zeros(2, 3, 3, dtype=rgrad.float64)
    np.testing.assert_allclose(_host(L.matrix_exp(z)), np.broadcast_to(np.eye(3), (2, 3, 3)))
    d = rgrad.diag(rgrad.tensor([1.0, -2.0, 30.0], dtype=rgrad.float64))
    np.testing.assert_allclose(
        _host(L.matrix_exp(d)), np.diag(np.exp([1.0, -2.0, 30.0])), rtol=1e-12
    )
    assert L.matrix_rank(a).item() == 3
    assert L.matrix_rank(a @ rgrad.diag(rgrad.tensor([1.0, 1.0, 0.0], dtype=a.dtype))).item() == 2
    assert L.matrix_rank(a, hermitian=True).dtype == rgrad.int64
    np.testing.assert_allclose(_host(L.vecdot(a, a)), _host((a * a).sum(-1)))
    np.testing.assert_allclose(_host(rgrad.matrix_exp(a)), _host(L.matrix_exp(a)))


def test_empty_matrices():
    f = rgrad.float32
    w, v = L.eigh(rgrad.zeros(0, 0))
    assert tuple(w.shape) == (0,) and tuple(v.shape) == (0, 0)
    w, v = L.eigh(rgrad.zeros(2, 0, 3, 3))
    assert tuple(w.shape) == (2, 0, 3) and tuple(v.shape) == (2, 0, 3, 3)
    U, S, Vh = L.svd(rgrad.zeros(0, 3))
    assert [tuple(t.shape) for t in (U, S, Vh)] == [(0, 0), (0,), (3, 3)]
    U, S, Vh = L.svd(rgrad.zeros(3, 0), full_matrices=False)
    assert [tuple(t.shape) for t in (U, S, Vh)] == [(3, 0), (0,), (0, 0)]
    Q, R = L.qr(rgrad.zeros(3, 0))
    assert tuple(Q.shape) == (3, 0) and tuple(R.shape) == (0, 0)
    Q, R = L.qr(rgrad.zeros(3, 0), mode="complete")
    assert tuple(Q.shape) == (3, 3) and tuple(R.shape) == (3, 0)
    LU, piv = L.lu_factor(rgrad.zeros(2, 0, 0, dtype=f))
    assert tuple(LU.shape) == (2, 0, 0) and tuple(piv.shape) == (2, 0)
    P, Lo, U = L.lu(rgrad.zeros(3, 0))
    assert [tuple(t.shape) for t in (P, Lo, U)] == [(3, 3), (3, 0), (0, 0)]
    x = L.solve(rgrad.zeros(0, 0), rgrad.zeros(0, 2))
    assert tuple(x.shape) == (0, 2)


ERRORS = [
    (
        lambda: L.eigh(rgrad.ones(3, 3, dtype=rgrad.int64)),
        NotImplementedError,
        "\"linalg_eigh_cpu\" not implemented for 'Long'",
    ),
    (
        lambda: L.svd(rgrad.ones(3, 3, dtype=rgrad.int64)),
        NotImplementedError,
        "linalg.svd: Expected a floating point or complex tensor as input. Got Long",
    ),
    (
        lambda: L.qr(rgrad.ones(3, 3, dtype=rgrad.int64)),
        NotImplementedError,
        "linalg.qr: Expected a floating point or complex tensor as input. Got Long",
    ),
    (
        lambda: L.lu_factor(rgrad.ones(3, 3, dtype=rgrad.int64)),
        NotImplementedError,
        "\"lu_cpu\" not implemented for 'Long'",
    ),
    (
        lambda: L.solve(rgrad.ones(3, 3, dtype=rgrad.int64), rgrad.ones(3, 3, dtype=rgrad.int64)),
        NotImplementedError,
        "linalg.solve: Expected a floating point or complex tensor as input. Got Long",
    ),
    (
        lambda: L.eigh(rgrad.randn(2, 3)),
        RuntimeError,
        "linalg.eigh: A must be batches of square matrices, but they are 2 by 3 matrices",
    ),
    (
        lambda: L.eigh(rgrad.randn(3)),
        RuntimeError,
        "linalg.eigh: The input tensor A must have at least 2 dimensions.",
    ),
    (
        lambda: L.svd(rgrad.randn(3)),
        RuntimeError,
        "linalg.svd: The input tensor A must have at least 2 dimensions.",
    ),
    (
        lambda: L.lu_factor(rgrad.randn(3)),
        RuntimeError,
        "torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: [3] instead",
    ),
    (
        lambda: L.qr(rgrad.randn(3, 3), mode="x"),
        RuntimeError,
        "qr received unrecognized mode 'x' but expected one of 'reduced' (default), 'r', or "
        "'complete'",
    ),
    (
        lambda: L.eigh(rgrad.randn(3, 3), UPLO="X"),
        RuntimeError,
        "Expected UPLO argument to be 'L' or 'U', but got X",
    ),
    (
        lambda: L.matrix_power(rgrad.randn(2, 3), 2),
        RuntimeError,
        "linalg.matrix_power: A must be batches of square matrices, but they are 2 by 3 matrices",
    ),
    (
        lambda: L.cross(rgrad.randn(3, 2), rgrad.randn(3, 2)),
        RuntimeError,
        "linalg.cross: inputs dimension -1 must have length 3. Got 2 and 2",
    ),
    (
        lambda: L.matrix_exp(rgrad.ones(3, 3, dtype=rgrad.int64)),
        NotImplementedError,
        "linalg.matrix_exp: Expected a floating point or complex tensor as input. Got Long",
    ),
    (
        lambda: L.multi_dot([rgrad.randn(2, 2)]),
        RuntimeError,
        "multi_dot(): expected at least 2 tensors but got 1",
    ),
    (
        lambda: L.pinv(rgrad.ones(3, 3, dtype=rgrad.int64)),
        RuntimeError,
        "linalg.pinv(Long{[3, 3]}): expected a tensor with 2 or more dimensions of float, "
        "double, cfloat or cdouble types",
    ),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_pytorch(i):
    fn, exc, msg = ERRORS[i]
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == msg


def test_qr_backward_errors():
    a = _randn(5, 3).requires_grad_()
    with pytest.raises(
        RuntimeError, match="not differentiable when mode='complete' and nrows > ncols"
    ):
        L.qr(a, mode="complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match="The derivative of linalg.qr depends on Q"):
        L.qr(a, mode="r").R.sum().backward()


def test_grad_fn_names():
    a = _randn(3, 3).requires_grad_()
    assert L.eigh(a).eigenvalues.grad_fn.name() == "LinalgEighBackward0"
    assert L.svd(a).S.grad_fn.name() == "LinalgSvdBackward0"
    assert L.qr(a).R.grad_fn.name() == "LinalgQrBackward0"
    assert L.lu_factor(a).LU.grad_fn.name() == "LinalgLuFactorExBackward0"
    assert L.det(a).grad_fn.name() == "LinalgDetBackward0"


@pytest.mark.wgpu
def test_decompositions_on_wgpu_run_on_a_host_copy():
    a = _randn(4, 3, seed=11).to(rgrad.float32)
    d = a.to("wgpu").requires_grad_()
    for fn in (
        lambda x: L.svdvals(x),
        lambda x: L.qr(x).R,
        lambda x: L.eigvalsh(x[:3] + x[:3].mT),
        lambda x: L.lu_factor(x).LU,
        lambda x: L.solve(x[:3] + 3 * rgrad.eye(3, device=x.device), x[:3]),
        lambda x: L.pinv(x),
    ):
        out = fn(d)
        assert str(out.device).startswith("wgpu")
        np.testing.assert_allclose(out.detach().cpu().numpy(), _host(fn(a)), rtol=1e-4, atol=1e-4)
        (g,) = rgrad.autograd.grad(out.sum(), [d])
        ac = a.clone().requires_grad_()
        (gc,) = rgrad.autograd.grad(fn(ac).sum(), [ac])
        np.testing.assert_allclose(g.cpu().numpy(), _host(gc), rtol=1e-3, atol=1e-3)


def _out_calls():
    a = _randn(3, 3, seed=1)
    b = _randn(3, 3, seed=2)
    s = a @ a.mT + 3 * _eye(3, a)
    return {
        "cholesky": lambda **kw: L.cholesky(s, **kw),
        "inv": lambda **kw: L.inv(s, **kw),
        "det": lambda **kw: L.det(s, **kw),
        "solve": lambda **kw: L.solve(s, b, **kw),
        "solve_triangular": lambda **kw: L.solve_triangular(s.triu(), b, upper=True, **kw),
        "lu_solve": lambda **kw: L.lu_solve(*L.lu_factor(s), b, **kw),
        "eigvalsh": lambda **kw: L.eigvalsh(s, **kw),
        "svdvals": lambda **kw: L.svdvals(a, **kw),
        "pinv": lambda **kw: L.pinv(a, **kw),
        "matrix_power": lambda **kw: L.matrix_power(a, 3, **kw),
        "cross": lambda **kw: L.cross(a, b, **kw),
        "vecdot": lambda **kw: L.vecdot(a, b, **kw),
        "multi_dot": lambda **kw: L.multi_dot([a, b, s], **kw),
        "householder_product": lambda **kw: L.householder_product(a, b[0], **kw),
        "matrix_rank": lambda **kw: L.matrix_rank(a, **kw),
        "cond": lambda **kw: L.cond(a, **kw),
        "tensorinv": lambda **kw: L.tensorinv(s, 1, **kw),
        "tensorsolve": lambda **kw: L.tensorsolve(s, b[0], **kw),
        "matrix_norm": lambda **kw: L.matrix_norm(a, **kw),
        "vector_norm": lambda **kw: L.vector_norm(a, **kw),
        "norm": lambda **kw: L.norm(a, **kw),
        "torch.cholesky_solve": lambda **kw: rgrad.cholesky_solve(b, L.cholesky(s), **kw),
        "torch.inverse": lambda **kw: rgrad.inverse(s, **kw),
        "torch.matrix_power": lambda **kw: rgrad.matrix_power(a, 2, **kw),
    }


@pytest.mark.parametrize("name", sorted(_out_calls()))
def test_out_is_written_and_returned(name):
    # These took out= and dropped it (or refused it) before; PyTorch writes the result there.
    call = _out_calls()[name]
    want = call()
    out = rgrad.empty(0, dtype=want.dtype)
    assert call(out=out) is out
    np.testing.assert_array_equal(_host(out), _host(want))


def test_out_refuses_autograd_and_methods_still_bind():
    a = _randn(3, 3, seed=1).requires_grad_()
    with pytest.raises(RuntimeError, match="functions with out=... arguments don't support"):
        L.inv(a + 3 * _eye(3, a), out=rgrad.empty(0, dtype=a.dtype))
    assert a.matrix_power(2).shape == (3, 3) and a.det().shape == ()
