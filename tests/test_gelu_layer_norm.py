"""The fused ``gelu`` and ``layer_norm`` core ops against PyTorch
(tests/data/gelu_layer_norm.npz, from tools/make_reference_gelu_layer_norm.py): gelu values and
gradients of both forms in float32 (a few ulp) and float64 (~1e-15) over a wide range with the
special values; erf's fast float32 kernel; layer_norm outputs, saved statistics and gradients;
gradcheck and gradgradcheck; grad_fn names, errors, strided and large (parallel) inputs; the
wgpu device. Also relu's fused backward and the square's product path."""

import math
import pathlib

import numpy as np
import pytest

import rgrad
import rgrad.nn.functional as F
from rgrad import _rgrad
from rgrad.autograd import gradcheck, gradgradcheck

with np.load(pathlib.Path(__file__).parent / "data" / "gelu_layer_norm.npz") as _f:
    REF = {k: _f[k] for k in _f.files}
DTYPES = {"float32": (rgrad.float32, np.float32), "float64": (rgrad.float64, np.float64)}
LN_CASES = sorted(
    {k.split("_", 1)[1].rsplit("_", 1)[0] for k in REF if k.startswith("ln_") and k.endswith("_x")}
)


def host(t):
    return t.detach().cpu().numpy()


def assert_close_with_specials(got, want, tol):
    """``got`` equals ``want`` where ``want`` is not finite, else within ``tol`` (an array)."""
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)])
    err = np.abs(got[finite].astype(np.float64) - want[finite])
    bad = err > tol[finite]
    assert not bad.any(), list(zip(got[finite][bad][:5], want[finite][bad][:5]))


# ---- gelu --------------------------------------------------------------------------------


def gelu_tolerances(xs, want_y, want_dx, eps, form):
    """A few ulp of the terms each result is rounded from: `1 + erf` (`1 + tanh`) times x/2
    where it cancels, and for the tanh form's derivative `1 - tanh^2` times its factor."""
    ax = np.abs(xs.astype(np.float64))
    ax = np.where(np.isfinite(ax), ax, 0)
    tol_y = np.maximum(eps * (np.abs(want_y) + 0.5 * ax), np.finfo(xs.dtype).tiny)
    factor = 0.5 * ax * (1 + 0.134145 * ax * ax) if form == "tanh" else 0
    tol_dx = eps * (1 + np.abs(want_dx) + factor)
    return tol_y, tol_dx


def gelu_run(xs, dtype, form):
    x = rgrad.tensor(xs, dtype=dtype, requires_grad=True)
    y = F.gelu(x, approximate=form)
    assert y.grad_fn.name() == "GeluBackward0"
    y.sum().backward()
    return host(y), host(x.grad)


@pytest.mark.parametrize("form", ["none", "tanh"])
def test_gelu_float32_is_within_a_few_ulp_of_the_exact_values(form):
    xs = REF["gelu_x"].astype(np.float32)
    want_y, want_dx = REF[f"gelu_{form}_float32_exact_y"], REF[f"gelu_{form}_float32_exact_dx"]
    y, dx = gelu_run(xs, rgrad.float32, form)
    tol_y, tol_dx = gelu_tolerances(xs, want_y, want_dx, float(np.finfo(np.float32).eps), form)
    assert_close_with_specials(y, want_y, 4 * tol_y)
    # The tanh form's derivative squares x: past float32's range it is NaN (as PyTorch's).
    fits = ~((np.abs(xs) > 1.9e19) & np.isfinite(xs)) if form == "tanh" else np.ones(xs.shape, bool)
    assert np.isnan(dx[~fits]).all()
    assert_close_with_specials(dx[fits], want_dx[fits], 4 * tol_dx[fits])


@pytest.mark.parametrize("form", ["none", "tanh"])
def test_gelu_float32_matches_pytorch(form):
    xs = REF["gelu_x"].astype(np.float32)
    want_y = REF[f"gelu_{form}_float32_y"].astype(np.float64)
    want_dx = REF[f"gelu_{form}_float32_dx"].astype(np.float64)
    y, dx = gelu_run(xs, rgrad.float32, form)
    if form == "none":
        # PyTorch's vectorized float32 loop gives NaN for +inf and inf for 3e38 (its scalar
        # loop and float64 give inf and 3e38, as here); compare with those.
        want_y = np.where(xs == np.inf, np.inf, want_y)
        want_y = np.where(xs == np.float32(3e38), xs, want_y)
    tol_y, tol_dx = gelu_tolerances(xs, want_y, want_dx, float(np.finfo(np.float32).eps), form)
    # PyTorch's own float32 error is up to ~8 ulp of x/2 where `1 + erf` cancels.
    assert_close_with_specials(y, want_y, 12 * tol_y)
    assert_close_with_specials(dx, want_dx, 12 * tol_dx)


@pytest.mark.parametrize("form", ["none", "tanh"])
def test_gelu_float64_matches_pytorch(form):
    xs = REF["gelu_x"]
    want_y, want_dx = REF[f"gelu_{form}_float64_y"], REF[f"gelu_{form}_float64_dx"]
    y, dx = gelu_run(xs, rgrad.float64, form)
    tol_y, tol_dx = gelu_tolerances(xs, want_y, want_dx, float(np.finfo(np.float64).eps), form)
    assert_close_with_specials(y, want_y, 4 * tol_y)
    assert_close_with_specials(dx, want_dx, 4 * tol_dx)


def test_erf_fast_float32_kernel_matches_float64():
    xs = np.concatenate(
        [np.linspace(-7, 7, 20001), [0.0, -0.0, 1e-30, -1e-40, 0.9277343, 3.9, 1e30]]
    )
    got = host(rgrad.tensor(xs, dtype=rgrad.float32).erf())
    want = np.array([math.erf(v) for v in xs.astype(np.float32).astype(np.float64)])
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert (np.abs(got - want) <= 2 * ulp).all()
    special = host(rgrad.tensor([math.inf, -math.inf, math.nan]).erf())
    assert special[0] == 1.0 and special[1] == -1.0 and math.isnan(special[2])
    assert math.copysign(1.0, host(rgrad.tensor([-0.0]).erf())[0]) == -1.0


@pytest.mark.parametrize("form", ["none", "tanh"])
def test_gelu_gradcheck_and_gradgradcheck(form):
    rgrad.manual_seed(0)
    x = (rgrad.randn(3, 7, dtype=rgrad.float64) * 2).requires_grad_()
    assert gradcheck(lambda t: F.gelu(t, approximate=form), (x,))
    assert gradgradcheck(lambda t: F.gelu(t, approximate=form), (x,))


def test_gelu_large_strided_and_float32_inputs_match_the_float64_definition():
    rgrad.manual_seed(1)
    base = rgrad.randn(700, 900) * 3  # over the parallel threshold, then a strided view
    for x in (base, base.t()):
        for form in ("none", "tanh"):
            x64 = x.double()
            if form == "none":
                want = x64 * 0.5 * ((x64 * math.sqrt(0.5)).erf() + 1)
            else:
                inner = (x64 + 0.044715 * x64**3) * math.sqrt(2 / math.pi)
                want = 0.5 * x64 * (inner.tanh() + 1)
            got = F.gelu(x, approximate=form)
            assert got.shape == x.shape and got.is_contiguous()
            np.testing.assert_allclose(host(got), host(want), rtol=1e-5, atol=1e-6)


def test_gelu_backward_large_input_matches_the_composite():
    rgrad.manual_seed(2)
    x = (rgrad.randn(600, 700) * 3).requires_grad_()
    g = rgrad.randn(600, 700)
    for form in ("none", "tanh"):
        (dx,) = rgrad.autograd.grad(F.gelu(x, approximate=form), x, g)
        x64 = x.detach().double().requires_grad_()
        if form == "none":
            ref = x64 * 0.5 * ((x64 * math.sqrt(0.5)).erf() + 1)
        else:
            ref = 0.5 * x64 * (((x64 + 0.044715 * x64**3) * math.sqrt(2 / math.pi)).tanh() + 1)
        (want,) = rgrad.autograd.grad(ref, x64, g.double())
        np.testing.assert_allclose(host(dx), host(want), rtol=1e-5, atol=1e-5)


def test_gelu_errors_and_dtypes_match_pytorch():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh."):
        F.gelu(rgrad.ones(2), approximate="x")
    with pytest.raises(NotImplementedError, match="\"GeluKernelImpl\" not implemented for 'Long'"):
        F.gelu(rgrad.tensor([1, 2]))
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        F.gelu([1.0])
    assert F.gelu(rgrad.ones(2, dtype=rgrad.float64)).dtype == rgrad.float64
    assert F.gelu(rgrad.ones(0)).shape == (0,)
    assert F.gelu(rgrad.tensor(1.0)).shape == ()
    assert F.gelu(rgrad.tensor(1.0), "tanh").item() == pytest.approx(0.8411920070648193)


def test_relu_backward_is_pytorchs_threshold_backward():
    x = rgrad.tensor([-1.0, 2.0, 0.0, math.nan, -0.0, 3.0], requires_grad=True)
    x.relu().backward(rgrad.tensor([math.inf, 1.0, 5.0, 3.0, math.nan, -2.0]))
    np.testing.assert_array_equal(host(x.grad), [0.0, 1.0, 0.0, 3.0, 0.0, -2.0])
    big = rgrad.randn(700, 800, requires_grad=True)  # the parallel path
    g = rgrad.randn(700, 800)
    big.relu().backward(g)
    np.testing.assert_array_equal(host(big.grad), np.where(host(big) > 0, host(g), 0.0))


def test_square_is_a_product():
    x = rgrad.tensor([-3.0, 0.5, math.inf, math.nan, -0.0], requires_grad=True)
    for y in (x**2, x.pow(2), x.pow(2.0)):
        assert y.grad_fn.name() == "PowBackward0"
        np.testing.assert_array_equal(host(y), host(x) * host(x))
    (x**2).sum().backward()
    np.testing.assert_array_equal(host(x.grad)[:2], [-6.0, 1.0])
    assert (rgrad.tensor([3]) ** 2).dtype == rgrad.int64


# ---- layer_norm --------------------------------------------------------------------------


def ln_case(name, precision):
    dtype, _ = DTYPES[precision]
    x = rgrad.tensor(REF[f"ln_{name}_x"], dtype=dtype, requires_grad=True)
    # The saved statistics keep the leading dims and have ones for the normalized ones.
    k = REF[f"ln_{name}_mean"].shape.count(1)
    norm = tuple(x.shape[x.dim() - k :])
    w, b = REF.get(f"ln_{name}_w"), REF.get(f"ln_{name}_b")
    w = rgrad.tensor(w, dtype=dtype, requires_grad=True) if w is not None else None
    b = rgrad.tensor(b, dtype=dtype, requires_grad=True) if b is not None else None
    return x, norm, w, b


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("name", LN_CASES)
def test_layer_norm_matches_pytorch(name, precision):
    x, norm, w, b = ln_case(name, precision)
    tol = 1e-12 if precision == "float64" else 2e-5
    out, mean, rstd = _rgrad.native_layer_norm(x, list(norm), w, b, 1e-5)
    assert out.grad_fn.name() == "NativeLayerNormBackward0"
    for got, key in ((out, "out"), (mean, "mean"), (rstd, "rstd")):
        want = REF[f"ln_{name}_{key}"]
        assert tuple(got.shape) == want.shape
        np.testing.assert_allclose(host(got), want, rtol=tol, atol=tol)
    g = rgrad.tensor(REF[f"ln_{name}_g"], dtype=x.dtype)
    y = F.layer_norm(x, norm, w, b)
    np.testing.assert_allclose(host(y), REF[f"ln_{name}_out"], rtol=tol, atol=tol)
    y.backward(g)
    for t, key in ((x, "dx"), (w, "dw"), (b, "db")):
        if t is not None:
            np.testing.assert_allclose(
                host(t.grad), REF[f"ln_{name}_{key}"], rtol=tol * 10, atol=tol * 10
            )


@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("shape,norm", [((3, 5), (5,)), ((2, 3, 4), (3, 4))])
def test_layer_norm_gradcheck_and_gradgradcheck(shape, norm, affine):
    rgrad.manual_seed(3)
    x = rgrad.randn(*shape, dtype=rgrad.float64).requires_grad_()
    w = rgrad.randn(*norm, dtype=rgrad.float64).requires_grad_() if affine[0] else None
    b = rgrad.randn(*norm, dtype=rgrad.float64).requires_grad_() if affine[1] else None
    args = [t for t in (x, w, b) if t is not None]

    def f(*ts):
        it = iter(ts)
        xi = next(it)
        wi = next(it) if w is not None else None
        bi = next(it) if b is not None else None
        return F.layer_norm(xi, norm, wi, bi)

    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


def test_layer_norm_large_and_strided_inputs_match_the_composite():
    rgrad.manual_seed(4)
    for x in (rgrad.randn(300, 257) * 2 + 1, (rgrad.randn(257, 300) * 2 + 1).t()):
        x = x.detach().requires_grad_()
        w, b = rgrad.randn(257).requires_grad_(), rgrad.randn(257).requires_grad_()
        g = rgrad.randn(300, 257)
        y = F.layer_norm(x, (257,), w, b)
        y.backward(g)
        x64, w64, b64 = (t.detach().double().requires_grad_() for t in (x, w, b))
        mean = x64.mean(-1, keepdim=True)
        var = ((x64 - mean) ** 2).mean(-1, keepdim=True)
        ref = (x64 - mean) / (var + 1e-5).sqrt() * w64 + b64
        ref.backward(g.double())
        for got, want in ((y, ref), (x.grad, x64.grad), (w.grad, w64.grad), (b.grad, b64.grad)):
            np.testing.assert_allclose(host(got), host(want), rtol=1e-4, atol=1e-4)


def test_layer_norm_gradient_for_only_the_parameters():
    rgrad.manual_seed(5)
    x = rgrad.randn(4, 6)
    w, b = rgrad.ones(6).requires_grad_(), rgrad.zeros(6).requires_grad_()
    F.layer_norm(x, (6,), w, b).pow(2).sum().backward()
    mean = x.mean(-1, keepdim=True)
    xhat = (x - mean) / (((x - mean) ** 2).mean(-1, keepdim=True) + 1e-5).sqrt()
    np.testing.assert_allclose(host(w.grad), host((2 * xhat * xhat).sum(0)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(b.grad), host((2 * xhat).sum(0)), rtol=1e-5, atol=1e-5)


X23 = rgrad.randn(2, 3)
LN_ERRORS = [
    (
        lambda: _rgrad.native_layer_norm(X23, [], None, None, 1e-5),
        RuntimeError,
        "Expected normalized_shape to be at least 1-dimensional",
    ),
    (
        lambda: F.layer_norm(X23, (3,), rgrad.ones(4)),
        RuntimeError,
        r"Expected weight to be of same shape as normalized_shape, but got weight of shape \[4\] "
        r"and normalized_shape = \[3\]",
    ),
    (
        lambda: F.layer_norm(X23, (3,), None, rgrad.ones(2)),
        RuntimeError,
        r"Expected bias to be of same shape as normalized_shape, but got bias of shape \[2\]",
    ),
    (
        lambda: F.layer_norm(X23, (4,)),
        RuntimeError,
        r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], but got input of "
        r"size\[2, 3\]",
    ),
    (
        lambda: _rgrad.native_layer_norm(rgrad.tensor([[1, 2]]), [2], None, None, 1e-5),
        NotImplementedError,
        "\"LayerNormKernelImpl\" not implemented for 'Long'",
    ),
    (
        lambda: _rgrad.native_layer_norm(X23, [3], rgrad.ones(3, dtype=rgrad.float64), None, 1e-5),
        RuntimeError,
        "mixed dtype",
    ),
]


@pytest.mark.parametrize("f,kind,message", LN_ERRORS)
def test_layer_norm_errors_match_pytorch(f, kind, message):
    with pytest.raises(kind, match=message):
        f()


def test_layer_norm_empty_and_constant_rows():
    assert F.layer_norm(rgrad.ones(0, 4), (4,)).shape == (0, 4)
    y = F.layer_norm(rgrad.full((3, 5), 7.0), (5,))
    assert (host(y) == 0).all()
    x = rgrad.tensor([[1.0, math.nan, 2.0], [1.0, 2.0, 3.0]])
    y = host(F.layer_norm(x, (3,)))
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


def test_inplace_change_of_the_weight_before_backward_raises():
    x = rgrad.randn(2, 3, requires_grad=True)
    w = rgrad.ones(3, requires_grad=True)
    y = F.layer_norm(x, (3,), w)
    with rgrad.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---- the wgpu device ----------------------------------------------------------------------


@pytest.mark.wgpu
@pytest.mark.parametrize("form", ["none", "tanh"])
def test_gelu_on_wgpu_matches_cpu(form):
    rgrad.manual_seed(6)
    x0 = rgrad.randn(5, 33) * 3
    results = []
    for device in ("cpu", "wgpu"):
        x = x0.to(device).detach().requires_grad_()
        y = F.gelu(x, approximate=form)
        (gx,) = rgrad.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        gx.sum().backward()
        results.append([host(t) for t in (y, gx, x.grad)])
    for cpu, dev in zip(*results):
        np.testing.assert_allclose(dev, cpu, rtol=1e-4, atol=1e-4)


@pytest.mark.wgpu
def test_layer_norm_on_wgpu_matches_cpu():
    rgrad.manual_seed(7)
    x0, w0, b0 = rgrad.randn(3, 4, 10) * 2 + 1, rgrad.randn(10), rgrad.randn(10)
    results = []
    for device in ("cpu", "wgpu"):
        x, w, b = (t.to(device).detach().requires_grad_() for t in (x0, w0, b0))
        y = F.layer_norm(x, (10,), w, b)
        assert y.grad_fn.name() == "NativeLayerNormBackward0"
        (gx,) = rgrad.autograd.grad(y.pow(3).sum(), x, create_graph=True)
        gx.pow(2).sum().backward()
        results.append([host(t) for t in (y, gx, x.grad, w.grad, b.grad)])
    for cpu, dev in zip(*results):
        np.testing.assert_allclose(dev, cpu, rtol=2e-4, atol=2e-4 * max(1.0, np.abs(cpu).max()))
