# ruff: noqa: E501  (the error table holds PyTorch's messages verbatim)
"""torch.linalg factorizations and triangular solves (Rust ops over faer with backward rules in
the core): PyTorch's numbers (tests/data/linalg_conformance.* from
tools/make_reference_linalg.py: the linalg cases of the shared distributions.json plus our own),
gradcheck/gradgradcheck in float64, batches, PyTorch's errors and hostile inputs."""

import json
import math
import pathlib
import warnings

import numpy as np
import pytest

import rgrad
from rgrad.autograd import gradcheck, gradgradcheck

DATA = pathlib.Path(__file__).parent / "data"
CASES = json.loads((DATA / "linalg_conformance.json").read_text())["cases"]
with np.load(DATA / "linalg_conformance.npz") as _f:
    ARRAYS = {k: _f[k] for k in _f.files}
DTYPES = {"float64": (rgrad.float64, 1e-10), "float32": (rgrad.float32, 1e-4)}
# The shared cases of ops this branch does not have yet.
PENDING: set[str] = set()


def _case_params():
    for c in CASES:
        marks = [pytest.mark.skip(reason="op not implemented yet")] if c["name"] in PENDING else []
        yield pytest.param(c, id=c["name"], marks=marks)


def _host(t):
    return t.detach().numpy()


@pytest.mark.parametrize("case", list(_case_params()))
def test_reference_case(case):
    name = case["name"]
    inputs = {}
    for k, dt in case["inputs"].items():
        dtype, _ = DTYPES[dt]
        inputs[k] = rgrad.tensor(ARRAYS[f"{name}/in/{k}"], dtype=dtype)
        if k in case["grads"]:
            inputs[k].requires_grad_()
    tol = max(DTYPES[dt][1] for dt in case["inputs"].values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = eval(case["expr"], {"torch": rgrad}, dict(inputs))
    ref = ARRAYS[f"{name}/out"]
    assert tuple(out.shape) == ref.shape
    np.testing.assert_allclose(_host(out), ref, rtol=tol, atol=tol)
    if case["grads"]:
        cot = rgrad.tensor(ARRAYS[f"{name}/cot"], dtype=out.dtype)
        grads = rgrad.autograd.grad((out * cot).sum(), [inputs[k] for k in case["grads"]])
        for k, g in zip(case["grads"], grads):
            np.testing.assert_allclose(
                _host(g), ARRAYS[f"{name}/grad/{k}"], rtol=tol * 10, atol=tol * 10
            )


def test_every_shared_linalg_case_is_here():
    names = {c["name"] for c in CASES if not c["name"].startswith("own_")}
    done = {
        "linalg_cholesky",
        "linalg_solve_triangular",
        "linalg_inv",
        "linalg_det_slogdet",
        "linalg_solve",
        "linalg_eigvalsh",
        "linalg_svdvals",
        "linalg_pinv",
        "linalg_matrix_power",
        "linalg_cross",
    }
    assert names == PENDING | done


# ---- gradcheck / gradgradcheck in float64 --------------------------------------------------


def _randn(*shape, seed=0):
    g = rgrad.Generator().manual_seed(seed)
    return rgrad.randn(*shape, generator=g, dtype=rgrad.float64)


def _spd(a):
    n = a.shape[-1]
    return a @ a.mT + n * rgrad.eye(n, dtype=a.dtype)


def _tri(a, upper=False):
    n = a.shape[-1]
    t = rgrad.triu(a) if upper else rgrad.tril(a)
    return t + 3 * rgrad.eye(n, dtype=a.dtype)


GRAD_FUNCS = {
    "cholesky": (lambda a: rgrad.linalg.cholesky(_spd(a)), [(3, 3)]),
    "cholesky_upper": (lambda a: rgrad.linalg.cholesky(_spd(a), upper=True), [(3, 3)]),
    "cholesky_batched": (lambda a: rgrad.linalg.cholesky(_spd(a)), [(2, 2, 3, 3)]),
    "cholesky_ex": (lambda a: rgrad.linalg.cholesky_ex(_spd(a)).L, [(2, 3, 3)]),
    "solve_tri_lower": (
        lambda a, b: rgrad.linalg.solve_triangular(_tri(a), b, upper=False),
        [(3, 3), (3, 2)],
    ),
    "solve_tri_upper": (
        lambda a, b: rgrad.linalg.solve_triangular(_tri(a, True), b, upper=True),
        [(3, 3), (3, 2)],
    ),
    "solve_tri_right": (
        lambda a, b: rgrad.linalg.solve_triangular(_tri(a), b, upper=False, left=False),
        [(3, 3), (2, 3)],
    ),
    "solve_tri_right_upper": (
        lambda a, b: rgrad.linalg.solve_triangular(_tri(a, True), b, upper=True, left=False),
        [(2, 3, 3), (2, 4, 3)],
    ),
    "solve_tri_unit": (
        lambda a, b: rgrad.linalg.solve_triangular(a, b, upper=True, unitriangular=True),
        [(3, 3), (3, 2)],
    ),
    "solve_tri_broadcast": (
        lambda a, b: rgrad.linalg.solve_triangular(_tri(a), b, upper=False),
        [(2, 1, 3, 3), (3, 3, 2)],
    ),
    "triangular_solve": (
        lambda a, b: rgrad.triangular_solve(b, _tri(a, True))[0],
        [(3, 3), (3, 2)],
    ),
    "triangular_solve_t": (
        lambda a, b: rgrad.triangular_solve(b, _tri(a), upper=False, transpose=True)[0],
        [(3, 3), (3, 2)],
    ),
    "cholesky_solve": (
        lambda a, b: rgrad.cholesky_solve(b, rgrad.linalg.cholesky(_spd(a))),
        [(3, 3), (3, 2)],
    ),
    "cholesky_solve_upper": (
        lambda a, b: rgrad.cholesky_solve(
            b, rgrad.linalg.cholesky(_spd(a), upper=True), upper=True
        ),
        [(2, 3, 3), (2, 3, 2)],
    ),
    "inv": (lambda a: rgrad.linalg.inv(a + 3 * rgrad.eye(3, dtype=a.dtype)), [(3, 3)]),
    "inv_batched": (
        lambda a: rgrad.linalg.inv_ex(a + 3 * rgrad.eye(3, dtype=a.dtype)).inverse,
        [(2, 2, 3, 3)],
    ),
    "solve": (
        lambda a, b: rgrad.linalg.solve(a + 3 * rgrad.eye(3, dtype=a.dtype), b),
        [(3, 3), (3, 2)],
    ),
    "solve_vector": (
        lambda a, b: rgrad.linalg.solve(a + 3 * rgrad.eye(3, dtype=a.dtype), b),
        [(2, 3, 3), (2, 3)],
    ),
    "solve_right": (
        lambda a, b: rgrad.linalg.solve(a + 3 * rgrad.eye(3, dtype=a.dtype), b, left=False),
        [(3, 3), (2, 3)],
    ),
    "det": (lambda a: rgrad.linalg.det(a), [(2, 3, 3)]),
    "slogdet": (lambda a: rgrad.linalg.slogdet(a).logabsdet, [(2, 3, 3)]),
    "logdet": (lambda a: rgrad.logdet(_spd(a)), [(3, 3)]),
    "tensor_det_inverse": (lambda a: a.det() * a.inverse(), [(3, 3)]),
}


@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
@pytest.mark.parametrize("name", sorted(GRAD_FUNCS))
def test_gradcheck_and_gradgradcheck(name):
    fn, shapes = GRAD_FUNCS[name]
    inputs = [_randn(*s, seed=i).requires_grad_() for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


# ---- forward properties in both float dtypes --------------------------------------------


@pytest.mark.parametrize("dtype", [rgrad.float32, rgrad.float64])
def test_cholesky_reconstructs_batches(dtype):
    a = _spd(_randn(4, 3, 6, 6, seed=3)).to(dtype)
    L = rgrad.linalg.cholesky(a)
    assert L.dtype == dtype and tuple(L.shape) == (4, 3, 6, 6)
    tol = 1e-4 if dtype == rgrad.float32 else 1e-12
    np.testing.assert_allclose(_host(L @ L.mT), _host(a), rtol=tol, atol=tol)
    assert np.all(np.triu(_host(L), 1) == 0)
    U = rgrad.linalg.cholesky(a, upper=True)
    np.testing.assert_allclose(_host(U), _host(L.mT), rtol=tol, atol=tol)
    # Only the lower triangle is read (the upper one for upper=True), as LAPACK.
    junk = rgrad.tril(a) + rgrad.triu(rgrad.full_like(a, 7.0), 1)
    np.testing.assert_allclose(_host(rgrad.linalg.cholesky(junk)), _host(L), rtol=tol, atol=tol)


def test_solve_triangular_on_strided_inputs_and_promotion():
    a = _tri(_randn(4, 4, seed=1))
    b = _randn(3, 4, seed=2)
    x = rgrad.linalg.solve_triangular(a.mT, b.mT, upper=True)  # both transposed views
    np.testing.assert_allclose(_host(a.mT @ x), _host(b.mT), atol=1e-12)
    x32 = rgrad.linalg.solve_triangular(a.float(), b.mT, upper=False)
    assert x32.dtype == rgrad.float64


def test_cholesky_ex_info_and_check_errors():
    bad = rgrad.tensor([[1.0, 2.0], [2.0, 1.0]])
    good = rgrad.eye(2)
    out = rgrad.linalg.cholesky_ex(rgrad.stack([good, bad, good]))
    assert out.info.dtype == rgrad.int32
    assert out.info.tolist() == [0, 2, 0]
    assert rgrad.linalg.cholesky_ex(bad).info.item() == 2
    np.testing.assert_allclose(_host(out.L[0]), np.eye(2))
    with pytest.raises(rgrad.linalg.LinAlgError, match=r"\(Batch element 1\): "):
        rgrad.linalg.cholesky_ex(rgrad.stack([good, bad]), check_errors=True)


def test_empty_matrices():
    assert tuple(rgrad.linalg.cholesky(rgrad.zeros(0, 0)).shape) == (0, 0)
    assert tuple(rgrad.linalg.cholesky(rgrad.zeros(3, 0, 0)).shape) == (3, 0, 0)
    assert tuple(rgrad.linalg.cholesky(rgrad.zeros(0, 2, 2)).shape) == (0, 2, 2)
    x = rgrad.linalg.solve_triangular(rgrad.eye(3), rgrad.zeros(3, 0), upper=True)
    assert tuple(x.shape) == (3, 0)
    x = rgrad.linalg.solve_triangular(rgrad.zeros(0, 0), rgrad.zeros(0, 4), upper=True)
    assert tuple(x.shape) == (0, 4)


# ---- PyTorch's errors ---------------------------------------------------------------------

NOT_PD = "The factorization could not be completed because the input is not positive-definite (the leading minor of order {} is not positive-definite)."
ERRORS = [
    (
        lambda: rgrad.linalg.cholesky(rgrad.tensor([[1.0, 2.0], [2.0, 1.0]])),
        rgrad.linalg.LinAlgError,
        "linalg.cholesky: " + NOT_PD.format(2),
    ),
    (
        lambda: rgrad.linalg.cholesky(
            rgrad.stack([rgrad.eye(2), rgrad.tensor([[1.0, 2.0], [2.0, 1.0]])])
        ),
        rgrad.linalg.LinAlgError,
        "linalg.cholesky: (Batch element 1): " + NOT_PD.format(2),
    ),
    (
        lambda: rgrad.linalg.cholesky(rgrad.tensor([[1.0, 2.0], [2.0, 1.0]]).expand(1, 2, 2, 2)),
        rgrad.linalg.LinAlgError,
        "linalg.cholesky: (Batch element 0): " + NOT_PD.format(2),
    ),
    (
        lambda: rgrad.linalg.cholesky(rgrad.full((2, 2), math.nan)),
        rgrad.linalg.LinAlgError,
        "linalg.cholesky: " + NOT_PD.format(1),
    ),
    (
        lambda: rgrad.linalg.cholesky(rgrad.ones(2, 3)),
        RuntimeError,
        "linalg.cholesky: A must be batches of square matrices, but they are 2 by 3 matrices",
    ),
    (
        lambda: rgrad.linalg.cholesky(rgrad.ones(3)),
        RuntimeError,
        "linalg.cholesky: The input tensor A must have at least 2 dimensions.",
    ),
    (
        lambda: rgrad.linalg.cholesky(rgrad.ones(2, 2, dtype=rgrad.int64)),
        NotImplementedError,
        "linalg.cholesky: Expected a floating point or complex tensor as input. Got Long",
    ),
    (
        lambda: rgrad.linalg.solve_triangular(rgrad.eye(2), rgrad.ones(3, 3), upper=False),
        RuntimeError,
        "linalg.solve_triangular: Incompatible shapes of A and B for the equation AX = B (2x2 and 3x3)",
    ),
    (
        lambda: rgrad.linalg.solve_triangular(rgrad.ones(2, 3), rgrad.ones(2, 3), upper=False),
        RuntimeError,
        "linalg.solve_triangular: A must be batches of square matrices, but they are 2 by 3 matrices",
    ),
    (
        lambda: rgrad.linalg.solve_triangular(rgrad.eye(2), rgrad.ones(2), upper=False),
        RuntimeError,
        "linalg.solve_triangular: The input tensor B must have at least 2 dimensions.",
    ),
    (
        lambda: rgrad.linalg.solve_triangular(rgrad.ones(1), rgrad.ones(2, 2), upper=True),
        RuntimeError,
        "linalg.solve_triangular: The input tensor A must have at least 2 dimensions.",
    ),
    (
        lambda: rgrad.linalg.solve_triangular(
            rgrad.eye(2, dtype=rgrad.int64), rgrad.ones(2, 2, dtype=rgrad.int64), upper=False
        ),
        NotImplementedError,
        "\"triangular_solve_cpu\" not implemented for 'Long'",
    ),
    (
        lambda: rgrad.linalg.solve_triangular(
            rgrad.eye(2).expand(3, 2, 2), rgrad.ones(4, 2, 2, 2), upper=False
        ),
        RuntimeError,
        "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 1",
    ),
    (
        lambda: rgrad.triangular_solve(rgrad.ones(2), rgrad.eye(2)),
        RuntimeError,
        "torch.triangular_solve: Expected b to have at least 2 dimensions, but it has 1 dimensions instead",
    ),
    (
        lambda: rgrad.triangular_solve(rgrad.ones(2, 2), rgrad.ones(2)),
        RuntimeError,
        "torch.triangular_solve: Expected A to have at least 2 dimensions, but it has 1 dimensions instead",
    ),
    (
        lambda: rgrad.triangular_solve(rgrad.ones(3, 2), rgrad.ones(2, 2)),
        RuntimeError,
        "Incompatible matrix sizes for triangular_solve: each A matrix is 2 by 2 but each b matrix is 3 by 2",
    ),
    (
        lambda: rgrad.cholesky_solve(rgrad.ones(3, 3), rgrad.eye(2)),
        RuntimeError,
        "Incompatible matrix sizes for cholesky_solve: each A matrix is 2 by 2 but each b matrix is 3 by 3",
    ),
    (
        lambda: rgrad.cholesky_solve(rgrad.ones(2), rgrad.eye(2)),
        RuntimeError,
        "b should have at least 2 dimensions, but has 1 dimensions instead",
    ),
    (
        lambda: rgrad.cholesky_solve(rgrad.ones(2, 2), rgrad.ones(2)),
        RuntimeError,
        "u should have at least 2 dimensions, but has 1 dimensions instead",
    ),
    (
        lambda: rgrad.cholesky_solve(rgrad.ones(2, 3), rgrad.eye(2).double()),
        RuntimeError,
        "Expected b and A to have the same dtype, but found b of type Float and A of type Double instead.",
    ),
    (
        lambda: rgrad.linalg.cholesky("a"),
        TypeError,
        "argument 'A' (position 1) must be Tensor, not str",
    ),
]


@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_pytorch(i):
    fn, exc, msg = ERRORS[i]
    with pytest.raises(exc) as info:
        fn()
    assert msg in str(info.value)


def test_linalg_error_is_a_runtime_error():
    assert issubclass(rgrad.linalg.LinAlgError, RuntimeError)
    assert rgrad.linalg.LinAlgError.__name__ == "_LinAlgError"


def test_triangular_solve_returns_the_coefficient_and_warns_once():
    a = _tri(_randn(3, 3, seed=4), upper=True)
    b = _randn(3, 2, seed=5)
    rgrad._linalg_factor._warned.clear()  # once per process, as TORCH_WARN_ONCE
    with pytest.warns(UserWarning, match="torch.triangular_solve is deprecated"):
        out = rgrad.triangular_solve(b, a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out2 = b.triangular_solve(a)
    assert out.cloned_coefficient is not a
    np.testing.assert_array_equal(_host(out.cloned_coefficient), _host(a))
    np.testing.assert_allclose(_host(a @ out.solution), _host(b), atol=1e-12)
    np.testing.assert_array_equal(_host(out2[0]), _host(out.solution))


# ---- hostile inputs -----------------------------------------------------------------------


def test_huge_broadcast_batch_raises():
    a = rgrad.eye(2).expand(2**31, 1, 2, 2)
    b = rgrad.ones(1, 1, 2, 2).expand(1, 2**31, 2, 2)
    with pytest.raises(RuntimeError):
        rgrad.linalg.solve_triangular(a, b, upper=False)


def test_nan_and_inf_do_not_crash():
    x = rgrad.linalg.solve_triangular(rgrad.zeros(2, 2), rgrad.ones(2, 2), upper=False)
    assert not np.isfinite(_host(x)).all()
    info = rgrad.linalg.cholesky_ex(rgrad.tensor([[math.inf, 0.0], [0.0, 1.0]])).info
    assert info.item() in (0, 1)
    info = rgrad.linalg.cholesky_ex(rgrad.tensor([[1.0, 0.0], [0.0, math.nan]])).info
    assert info.item() == 2


def test_determinants_of_special_matrices():
    S = rgrad.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=rgrad.float64)
    assert rgrad.linalg.det(S).item() == 0.0
    sign, logabs = rgrad.linalg.slogdet(S)
    assert sign.item() == 0.0 and logabs.item() == -math.inf
    assert math.isnan(rgrad.logdet(-rgrad.eye(3)).item())
    assert rgrad.logdet(S).item() == -math.inf
    assert rgrad.linalg.det(rgrad.zeros(0, 0)).item() == 1.0
    assert tuple(rgrad.linalg.inv(rgrad.zeros(0, 0)).shape) == (0, 0)
    assert np.isnan(_host(rgrad.linalg.inv(rgrad.full((2, 2), math.nan)))).all()
    assert rgrad.linalg.inv_ex(rgrad.stack([rgrad.eye(2), S.float()])).info.tolist() == [0, 2]
    # A large matrix: the determinant overflows, the log-determinant does not.
    big = 10 * rgrad.eye(400, dtype=rgrad.float64)
    assert rgrad.linalg.slogdet(big).logabsdet.item() == pytest.approx(400 * math.log(10))


@pytest.mark.parametrize("dtype", [rgrad.float32, rgrad.float64])
def test_inverse_batches(dtype):
    a = (_randn(3, 2, 5, 5, seed=7) + 4 * rgrad.eye(5, dtype=rgrad.float64)).to(dtype)
    x = rgrad.linalg.inv(a)
    tol = 1e-4 if dtype == rgrad.float32 else 1e-12
    np.testing.assert_allclose(_host(a @ x), np.broadcast_to(np.eye(5), (3, 2, 5, 5)), atol=tol)


@pytest.mark.wgpu
@pytest.mark.wgpu
def test_device_tensors_run_on_a_host_copy():
    """On wgpu the factorizations run on a host copy and the outputs are uploaded; the copies
    are recorded, so gradients reach the device input."""
    a = (_spd(_randn(3, 3, seed=4))).to(rgrad.float32)
    d = a.to("wgpu").requires_grad_()
    for fn in (
        lambda x: rgrad.linalg.cholesky(x),
        lambda x: rgrad.linalg.solve_triangular(x, x, upper=False),
        lambda x: rgrad.linalg.inv(x),
        lambda x: rgrad.linalg.det(x),
    ):
        out = fn(d)
        assert str(out.device).startswith("wgpu")
        np.testing.assert_allclose(out.detach().cpu().numpy(), _host(fn(a)), rtol=1e-4, atol=1e-4)
        (g,) = rgrad.autograd.grad(out.sum(), [d])
        assert str(g.device).startswith("wgpu")
        ac = a.clone().requires_grad_()
        (gc,) = rgrad.autograd.grad(fn(ac).sum(), [ac])
        np.testing.assert_allclose(g.cpu().numpy(), _host(gc), rtol=1e-3, atol=1e-3)
