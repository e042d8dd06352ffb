"""rgrad.distributions against PyTorch's numbers and messages.

- tests/data/distributions.json/.npz: the shared tier-4 conformance cases (values and
  gradients of ``(out * cot).sum()``), float64 near 1e-10 and float32 near 1e-4;
- tests/data/distributions_extra.json (tools/make_reference_distributions.py): every method of
  every family, the transforms, the KL pairs PyTorch registers, torch.special, and what PyTorch
  prints and raises (``torch.`` read as ``rgrad.``);
- tests/data/printing_distributions.json: the distribution cases of printing_tier3.json.
"""

import json
import math
import pathlib

import numpy as np
import pytest

import rgrad
import rgrad.distributions as D
import rgrad.nn  # noqa: F401  (binds rgrad.nn for `torch.nn.functional` in the expressions)

DATA = pathlib.Path(__file__).parent / "data"
CONF = json.loads((DATA / "distributions.json").read_text())["cases"]
with np.load(DATA / "distributions.npz") as _f:
    ARRAYS = {k: _f[k] for k in _f.files}
EXTRA = json.loads((DATA / "distributions_extra.json").read_text())
PRINTING = json.loads((DATA / "printing_distributions.json").read_text())["cases"]
FLOAT = {"float64": rgrad.float64, "float32": rgrad.float32}
TOL = {"float64": 1e-10, "float32": 1e-4}

HAS_LINALG = all(hasattr(rgrad.linalg, n) for n in ("cholesky", "solve_triangular"))
# Every case of the shared file runs here, its linalg_* cases too (tests/test_linalg_ops.py runs
# them with more of its own in float64 on the CPU): float64 and float32 on the CPU, and on wgpu
# in float32 and, where the adapter has it, float64.
WGPU_F64 = rgrad.wgpu.is_available() and rgrad.wgpu.supports_dtype(rgrad.float64)
# Cases that need core linear algebra (rgrad.linalg.cholesky/solve_triangular).
NEEDS_LINALG = {c["name"] for c in CONF if c["name"].startswith(("mvn_", "kl_mvn"))}
# Gradients through digamma's derivative: rgrad's trigamma is the more accurate one
# (trigamma(1) = pi^2/6 to 1e-16; PyTorch's series gives 1.6449340676, 5e-10 off), so these
# gradients agree with PyTorch's to 2e-9 rather than 1e-10.
TRIGAMMA_GRADS = {"beta_entropy", "gamma_entropy", "kl_beta_beta", "kl_gamma_gamma", "kl_dirichlet"}


def _run_conformance(case, precision, device="cpu"):
    env = {"torch": rgrad}
    for name, kind in case["inputs"].items():
        arr = ARRAYS[f"{case['name']}/in/{name}"]
        if kind == "float64":
            t = rgrad.tensor(arr, dtype=FLOAT[precision], device=device)
            t.requires_grad_(name in case["grads"])
        else:
            t = rgrad.tensor(arr, dtype=rgrad.int64, device=device)
        env[name] = t
    out = eval(case["expr"], env)
    grads = {}
    if case["grads"]:
        cot = rgrad.tensor(ARRAYS[f"{case['name']}/cot"], dtype=out.dtype, device=device)
        (out * cot).sum().backward()
        grads = {n: env[n].grad for n in case["grads"]}
    return out, grads


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", CONF, ids=[c["name"] for c in CONF])
def test_conformance(case, precision):
    _check_conformance(case, precision, "cpu")


@pytest.mark.wgpu
@pytest.mark.parametrize(
    "precision",
    ["float32", pytest.param("float64", marks=pytest.mark.skipif(not WGPU_F64, reason="no f64"))],
)
@pytest.mark.parametrize("case", CONF, ids=[c["name"] for c in CONF])
def test_conformance_on_wgpu(case, precision):
    _check_conformance(case, precision, "wgpu")


def test_every_shared_case_runs():
    assert len(CONF) == 43 and len({c["name"] for c in CONF}) == 43
    assert sum(c["name"].startswith("linalg_") for c in CONF) == 10


def _check_conformance(case, precision, device):
    if case["name"] in NEEDS_LINALG and not HAS_LINALG:
        pytest.skip("needs rgrad.linalg factorizations from the core")
    if device != "cpu":
        # The expression makes a host torch.eye: on a device (as on CUDA with PyTorch) the
        # same case needs it made there.
        case = dict(case, expr=case["expr"].replace("A.dtype)", "A.dtype, device=A.device)"))
    tol = TOL[precision]
    out, grads = _run_conformance(case, precision, device)
    assert str(out.device).startswith(device)
    expected = ARRAYS[f"{case['name']}/out"]
    got = out.detach().cpu().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    gtol = 2e-9 if precision == "float64" and case["name"] in TRIGAMMA_GRADS else tol
    for name, g in grads.items():
        ref = ARRAYS[f"{case['name']}/grad/{name}"]
        if g is None:
            assert not ref.any(), f"no gradient for {name}"
            continue
        assert g.dtype == FLOAT[precision] and str(g.device).startswith(device)
        np.testing.assert_allclose(g.cpu().numpy(), ref, rtol=gtol, atol=gtol)


# _standard_gamma_grad is PyTorch's approximation: rgrad evaluates the exact implicit
# derivative, which agrees with it to about 1e-4 (and with central differences to 1e-6, in
# test_distributions_sampling.py).
EXTRA_CASES = EXTRA["cases"]


def _extra_env(precision):
    env = {"torch": rgrad, "D": D, "T": D.transforms}
    for k, v in EXTRA["inputs"].items():
        env[k] = rgrad.tensor(v, dtype=FLOAT[precision])
    return env


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", EXTRA_CASES, ids=[c["expr"][:60] for c in EXTRA_CASES])
def test_reference_values(case, precision):
    if case.get("linalg") and not HAS_LINALG:
        pytest.skip("needs rgrad.linalg factorizations from the core")
    expr = case["expr"]
    if precision == "float32":
        expr = expr.replace("torch.float64", "torch.float32")
    env = _extra_env(precision)
    if "raises" in case:
        with pytest.raises(getattr(__builtins__, case["raises"], NotImplementedError)):
            eval(expr, env)
        return
    out = eval(expr, env)
    expected = np.array(case["out"], dtype=np.float64)
    got = out.detach().numpy().astype(np.float64)
    assert got.shape == expected.shape
    tol = TOL[precision]
    if expr.startswith("torch._standard_gamma_grad"):
        tol = max(tol, 2e-4)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, equal_nan=True)


def _said(case):
    env = {"torch": rgrad, "D": D}
    try:
        return "str", str(eval(case["expr"], env))
    except Exception as e:  # noqa: BLE001  (the exception is what is compared)
        return type(e).__name__, str(e)


def _expected(case):
    if "raises" in case:
        return case["raises"], case["message"].replace("torch.", "rgrad.")
    return "str", case["str"].replace("torch.", "rgrad.")


@pytest.mark.parametrize("case", EXTRA["messages"], ids=[c["expr"][:60] for c in EXTRA["messages"]])
def test_messages_and_reprs(case):
    assert _said(case) == _expected(case)


@pytest.mark.parametrize("case", PRINTING, ids=[c["expr"][:60] for c in PRINTING])
def test_printing_tier3_distribution_cases(case):
    assert _said(case) == _expected(case)


def test_module_paths_as_pytorch():
    from rgrad.distributions.categorical import Categorical
    from rgrad.distributions.constraints import simplex
    from rgrad.distributions.kl import kl_divergence, register_kl
    from rgrad.distributions.normal import Normal
    from rgrad.distributions.transforms import TanhTransform
    from rgrad.distributions.utils import broadcast_all, lazy_property

    assert Normal is D.Normal and Categorical is D.Categorical
    assert kl_divergence is D.kl_divergence and register_kl is D.register_kl
    assert TanhTransform is D.TanhTransform and simplex is D.constraints.simplex
    assert callable(broadcast_all) and callable(lazy_property)


def test_set_default_validate_args():
    try:
        D.Distribution.set_default_validate_args(False)
        d = D.Normal(0.0, -1.0)  # not checked
        assert d.scale.item() == -1.0
        with pytest.raises(ValueError, match="GreaterThan"):
            D.Normal(0.0, -1.0, validate_args=True)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="GreaterThan"):
        D.Normal(0.0, -1.0)
    # validate_args=False skips the support check of log_prob too.
    assert math.isnan(D.Normal(0.0, 1.0, validate_args=False).log_prob(rgrad.tensor(math.nan)))


def test_base_class_without_arg_constraints_warns():
    with pytest.warns(UserWarning, match="does not define `arg_constraints`"):
        D.Distribution()
    d = D.Distribution(validate_args=False)
    with pytest.raises(NotImplementedError, match="does not implement mode"):
        _ = d.mode


def test_sample_n_is_deprecated():
    with pytest.warns(FutureWarning, match="sample_n"):
        s = D.Normal(rgrad.zeros(2), 1.0).sample_n(3)
    assert s.shape == (3, 2)


def test_lazy_parameters_and_gradients():
    logits = rgrad.tensor([0.1, -0.3, 0.7], dtype=rgrad.float64, requires_grad=True)
    c = D.Categorical(logits=logits)
    assert "probs" not in c.__dict__
    c.probs.sum().backward()
    assert "probs" in c.__dict__ and logits.grad is not None
    # Computed with gradients enabled even when first read under no_grad.
    c2 = D.Categorical(logits=logits)
    with rgrad.no_grad():
        p = c2.probs
    assert p.requires_grad


def test_kl_dispatch_most_specific_and_ambiguity():
    class MyNormal(D.Normal):
        pass

    class OtherNormal(D.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), MyNormal(1.0, 2.0)
    base = D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(1.0, 2.0))
    assert D.kl_divergence(p, q).item() == pytest.approx(base.item())

    @D.register_kl(MyNormal, D.Normal)
    def _mine(p, q):
        return rgrad.tensor(-1.0)

    assert D.kl_divergence(p, q).item() == -1.0
    assert D.kl_divergence(p, OtherNormal(1.0, 2.0)).item() == -1.0

    @D.register_kl(D.Normal, OtherNormal)
    def _other(p, q):
        return rgrad.tensor(-2.0)

    with pytest.warns(RuntimeWarning, match="Ambiguous kl_divergence"):
        D.kl_divergence(p, OtherNormal(1.0, 2.0))

    # Registering clears the memo, so a more specific pair takes over at once.
    @D.register_kl(MyNormal, OtherNormal)
    def _both(p, q):
        return rgrad.tensor(-3.0)

    assert D.kl_divergence(p, OtherNormal(1.0, 2.0)).item() == -3.0


def test_expfamily_bregman_kl_matches_closed_form():
    p = D.Poisson(rgrad.tensor([1.5, 3.0], dtype=rgrad.float64))
    q = D.Poisson(rgrad.tensor([2.0, 0.5], dtype=rgrad.float64))
    from rgrad.distributions.kl import _kl_expfamily_expfamily

    np.testing.assert_allclose(
        _kl_expfamily_expfamily(p, q).detach().numpy(), D.kl_divergence(p, q).numpy(), rtol=1e-12
    )
    # The Bregman entropy of ExponentialFamily agrees with Normal's closed form.
    n = D.Normal(rgrad.tensor([0.3], dtype=rgrad.float64), rgrad.tensor([1.7], dtype=rgrad.float64))
    np.testing.assert_allclose(
        D.ExponentialFamily.entropy(n).detach().numpy(), n.entropy().numpy(), rtol=1e-12
    )


def test_expand_shares_parameters_and_validation():
    d = D.Normal(rgrad.tensor([0.0, 1.0]), rgrad.tensor([1.0, 2.0]), validate_args=False)
    e = d.expand([3, 2])
    assert e.batch_shape == (3, 2) and e._validate_args is False
    assert e.sample((4,)).shape == (4, 3, 2)
    np.testing.assert_allclose(
        e.log_prob(rgrad.zeros(3, 2)).numpy()[1], d.log_prob(rgrad.zeros(2)).numpy()
    )
    for dist in (
        D.Bernoulli(probs=rgrad.tensor([0.3, 0.6])),
        D.Gamma(rgrad.ones(2), 2.0),
        D.Beta(rgrad.ones(2), 2.0),
        D.Dirichlet(rgrad.ones(2, 3)),
        D.OneHotCategorical(probs=rgrad.ones(2, 3)),
        D.LogNormal(rgrad.zeros(2), 1.0),
        D.StudentT(rgrad.ones(2) * 3),
        D.Independent(D.Normal(rgrad.zeros(2, 3), 1.0), 1),
        D.RelaxedBernoulli(rgrad.tensor(0.5), probs=rgrad.tensor([0.3, 0.6])),
        D.MixtureSameFamily(
            D.Categorical(probs=rgrad.ones(2, 3)), D.Normal(rgrad.zeros(2, 3), 1.0)
        ),
    ):
        ex = dist.expand([4, 2])
        assert ex.batch_shape == (4, 2) and ex.event_shape == dist.event_shape
        assert type(ex) is type(dist)
        assert ex.sample().shape == (4, 2) + tuple(dist.event_shape)


def test_transform_cache_and_inverse_objects():
    t = D.TanhTransform(cache_size=1)
    x = rgrad.tensor([30.0])  # tanh(x) rounds to 1: atanh(1) = inf without the cache
    y = t(x)
    assert t.inv(y) is x
    assert math.isinf(D.TanhTransform().inv(y).item())
    assert t.inv.inv is t and t.with_cache(1) is t
    inv = D.ExpTransform().inv
    assert inv.domain is D.constraints.positive and inv.codomain is D.constraints.real
    assert D.ComposeTransform([D.ExpTransform()]).inv.inv is not None
    with pytest.raises(NotImplementedError, match="with_cache is not implemented"):
        _NoCache().with_cache(1)
    assert type(D.ExpTransform().with_cache(1)) is D.ExpTransform


class _NoCache(D.Transform):
    def __init__(self):
        super().__init__()


def test_log_abs_det_jacobian_matches_autograd():
    x = rgrad.tensor([-1.3, -0.2, 0.4, 1.9], dtype=rgrad.float64)
    for t in (
        D.ExpTransform(),
        D.SigmoidTransform(),
        D.TanhTransform(),
        D.SoftplusTransform(),
        D.AffineTransform(0.5, -3.0),
        D.ComposeTransform([D.TanhTransform(), D.AffineTransform(2.0, 0.5)]),
    ):
        xs = x.clone().requires_grad_()
        (dy,) = rgrad.autograd.grad(t(xs).sum(), [xs])
        np.testing.assert_allclose(
            t.log_abs_det_jacobian(x, t(x)).numpy(), np.log(np.abs(dy.numpy())), rtol=1e-10
        )
        np.testing.assert_allclose(t.inv(t(x)).numpy(), x.numpy(), rtol=1e-9, atol=1e-12)


def test_stick_breaking_jacobian_matches_autograd():
    x = rgrad.tensor([0.3, -1.1, 0.8], dtype=rgrad.float64)
    t = D.StickBreakingTransform()
    y = t(x)
    np.testing.assert_allclose(t.inv(y).numpy(), x.numpy(), rtol=1e-10)
    # y has K+1 coordinates; the Jacobian of the first K is square.
    rows = []
    for i in range(3):
        xs = x.clone().requires_grad_()
        (g,) = rgrad.autograd.grad(t(xs)[i], [xs])
        rows.append(g.numpy())
    det = np.linalg.det(np.array(rows))
    np.testing.assert_allclose(t.log_abs_det_jacobian(x, y).item(), math.log(abs(det)), rtol=1e-10)


def test_finfo_iinfo_fields():
    f = rgrad.finfo(rgrad.float32)
    assert f.eps == float(np.finfo(np.float32).eps) and f.tiny == float(np.finfo(np.float32).tiny)
    assert f.max == float(np.finfo(np.float32).max) and f.min == -f.max
    assert rgrad.finfo(rgrad.float64).eps == float(np.finfo(np.float64).eps)
    assert rgrad.finfo() == rgrad.finfo(rgrad.get_default_dtype())
    i = rgrad.iinfo(rgrad.int32)
    assert (i.min, i.max, i.bits) == (-(2**31), 2**31 - 1, 32)


def _exact_gammainc(a, x, terms=3000):
    """P(a, x) for integer a to 50 digits (Decimal series; independent of both libraries)."""
    from decimal import Decimal, getcontext

    getcontext().prec = 50
    xd, total, term = Decimal(x), Decimal(0), Decimal(1)
    for n in range(terms):
        if n:
            term = term * xd / (a + n)
        total += term
    return float(xd**a * (-xd).exp() / math.factorial(a) * total)


@pytest.mark.parametrize("a, x", [(1, 0.3), (3, 7.5), (30, 25.0), (30, 41.0), (300, 280.0)])
def test_gammainc_against_exact_series(a, x):
    # PyTorch's own gammainc is ~1e-9 off at (30, 25); rgrad's is exact to rounding.
    p = rgrad.special.gammainc(
        rgrad.tensor([float(a)], dtype=rgrad.float64), rgrad.tensor([x], dtype=rgrad.float64)
    )
    q = rgrad.special.gammaincc(
        rgrad.tensor([float(a)], dtype=rgrad.float64), rgrad.tensor([x], dtype=rgrad.float64)
    )
    exact = _exact_gammainc(a, x)
    assert p.item() == pytest.approx(exact, rel=1e-12, abs=1e-15)
    assert q.item() == pytest.approx(1 - exact, rel=1e-11, abs=1e-15)


def test_gammainc_gradients_as_pytorch():
    a = rgrad.tensor([0.7, 2.0, 9.0], dtype=rgrad.float64)
    x = rgrad.tensor([0.4, 3.0, 6.5], dtype=rgrad.float64, requires_grad=True)
    assert rgrad.autograd.gradcheck(lambda x: rgrad.special.gammainc(a, x), [x])
    assert rgrad.autograd.gradcheck(lambda x: rgrad.special.gammaincc(a, x), [x])
    a.requires_grad_()
    with pytest.raises(
        NotImplementedError, match="the derivative for 'igamma: input' is not implemented."
    ):
        rgrad.special.gammainc(a, x).sum().backward()
