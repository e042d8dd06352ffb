"""The fused losses of ``rgrad.nn.functional`` (rgrad_core::ops::loss): ``cross_entropy`` over
class indices and ``binary_cross_entropy_with_logits``, against the composite they replace,
NumPy closed forms and finite differences (first and second order), at large logits, over
their options, with PyTorch's errors, and falling back to the composite where they decline."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rgrad
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck
from rgrad.nn._functional import loss as loss_mod

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = {"float64": (rgrad.float64, 1e-10), "float32": (rgrad.float32, 2e-4)}
CE_NODE = "NllLossBackward0"
BCE_NODE = "BinaryCrossEntropyWithLogitsBackward0"


def node_name(t):
    return type(t.grad_fn).__name__


def tensor(arr, dtype=rgrad.float64, requires_grad=False):
    return rgrad.tensor(np.asarray(arr), dtype=dtype, requires_grad=requires_grad)


# ---- closed forms (PyTorch's definitions, in float64 NumPy) ----------------------------------


def np_cross_entropy(x, y, w=None, ignore_index=-100, eps=0.0, reduction="mean"):
    """The loss for logits x of shape (C,), (N, C) or (N, C, d1, ...) and class indices y."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    one_d = x.ndim == 1
    if one_d:
        x, y = x[None], y.reshape(1)
    c = x.shape[1]
    rows = np.moveaxis(x, 1, -1).reshape(-1, c)
    ys = y.reshape(-1)
    m = rows.max(axis=1, keepdims=True)
    logp = rows - (m + np.log(np.exp(rows - m).sum(axis=1, keepdims=True)))
    w = np.ones(c) if w is None else np.asarray(w, dtype=np.float64)
    keep = ys != ignore_index
    safe = np.where(keep, ys, 0)
    wy = np.where(keep, w[safe], 0.0)
    nll = -logp[np.arange(len(ys)), safe] * wy
    smooth = np.where(keep, -(logp * w).sum(axis=1), 0.0)
    per = (1 - eps) * nll + eps / c * smooth
    if reduction == "none":
        return per.reshape(()) if one_d else per.reshape(y.shape)
    if reduction == "sum":
        return per.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return per.sum() / wy.sum()


def np_softplus_neg(x):
    return np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))


def np_bce_logits(x, t, w=None, pw=None, reduction="mean", cot=None):
    """Loss and its gradient in x (for upstream ``cot``, 1 when reduced)."""
    w = 1.0 if w is None else w
    pw = 1.0 if pw is None else pw
    lw = 1 + (pw - 1) * t
    per = w * ((1 - t) * x + lw * np_softplus_neg(x))
    sig = 1 / (1 + np.exp(-x))
    grad = np.broadcast_to(w * (lw * sig - pw * t), x.shape)
    if reduction == "none":
        return per, grad * cot
    if reduction == "sum":
        return per.sum(), grad
    with np.errstate(invalid="ignore"):
        return per.sum() / x.size, grad / max(x.size, 1)


# ---- cross entropy ---------------------------------------------------------------------------


@st.composite
def ce_cases(draw):
    ndim = draw(st.sampled_from([1, 2, 2, 3, 4]))
    c = draw(st.integers(1, 6))
    n = draw(st.integers(0, 5)) if ndim >= 2 else None
    rest = [draw(st.integers(1, 3)) for _ in range(ndim - 2)]
    shape = [c] if ndim == 1 else [n, c, *rest]
    tshape = [] if ndim == 1 else [n, *rest]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1.0, 5.0, 40.0]))
    x = rng.standard_normal(shape) * scale
    ignore_index = draw(st.sampled_from([-100, -1, 0, c - 1]))
    y = rng.integers(0, c, tshape)
    drop = rng.random(tshape) < draw(st.sampled_from([0.0, 0.3]))
    y = np.where(drop, ignore_index, y)
    w = rng.uniform(0.2, 2.0, c) if draw(st.booleans()) else None
    return dict(
        x=x,
        y=y,
        w=w,
        ignore_index=ignore_index,
        label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.37, 1.0])),
        reduction=draw(st.sampled_from(["none", "mean", "sum"])),
        dtype=draw(st.sampled_from(sorted(DTYPES))),
        cot=rng.standard_normal(tshape),
    )


def run_ce(fn, case):
    dt, _ = DTYPES[case["dtype"]]
    x = tensor(case["x"], dt, requires_grad=True)
    y = tensor(case["y"], rgrad.int64)
    w = None if case["w"] is None else tensor(case["w"], dt)
    out = fn(x, y, w, case["ignore_index"], case["reduction"], case["label_smoothing"])
    cot = tensor(case["cot"], dt) if case["reduction"] == "none" else rgrad.ones((), dtype=dt)
    (out * cot).sum().backward()
    return out, x.grad


def fused_ce(x, y, w, ignore_index, reduction, label_smoothing):
    return F.cross_entropy(
        x, y, w, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing
    )


@SETTINGS
@given(ce_cases())
def test_cross_entropy_matches_closed_form_and_composite(case):
    out, grad = run_ce(fused_ce, case)
    assert node_name(out) == CE_NODE and len(out.grad_fn.next_functions) == 1
    ref_out, ref_grad = run_ce(loss_mod._cross_entropy_composite, case)
    tol = DTYPES[case["dtype"]][1]
    keys = ("x", "y", "w", "ignore_index", "label_smoothing", "reduction")
    expected = np_cross_entropy(*(case[k] for k in keys))
    assert out.shape == ref_out.shape == np.shape(expected)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), rtol=tol, atol=tol)
    y = case["y"]
    counted = (y != case["ignore_index"]).any() if y.size else False
    if case["reduction"] == "mean" and not counted:
        # Nothing counted: the loss is 0/0 and, as in PyTorch, every gradient is 0 (the
        # composite's division makes them NaN).
        assert (grad.numpy() == 0).all()
        return
    np.testing.assert_allclose(grad.numpy(), ref_grad.numpy(), rtol=tol, atol=tol)


def test_cross_entropy_gradient_closed_form():
    """d/dx = (softmax(x) S - Q) / W: S = (1-eps) w[y] + eps/C sum(w), Q the smoothed,
    weighted one-hot, W the weight of the counted targets."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 4))
    y = np.array([0, 3, -100, 2, 1, 3])
    w = rng.uniform(0.5, 2.0, 4)
    eps = 0.2
    xt = tensor(x, requires_grad=True)
    F.cross_entropy(xt, tensor(y, rgrad.int64), tensor(w), label_smoothing=eps).backward()
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    keep = y != -100
    wy = np.where(keep, w[np.where(keep, y, 0)], 0.0)
    s = np.where(keep, (1 - eps) * wy + eps / 4 * w.sum(), 0.0)
    q = np.where(keep[:, None], eps / 4 * w, 0.0)
    q[np.arange(6)[keep], y[keep]] += (1 - eps) * wy[keep]
    expected = (p * s[:, None] - q) / wy.sum()
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-12, atol=1e-14)


CE_OPTIONS = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(label_smoothing=0.3),
    dict(weight=[0.5, 1.0, 2.0, 1.5, 0.7]),
    dict(weight=[0.5, 1.0, 2.0, 1.5, 0.7], label_smoothing=0.25, ignore_index=1),
    dict(weight=[0.5, 1.0, 2.0, 1.5, 0.7], label_smoothing=0.1, reduction="none"),
]


@pytest.mark.parametrize("opts", CE_OPTIONS, ids=str)
@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 5, 3)], ids=str)
def test_cross_entropy_gradcheck_and_gradgradcheck(opts, shape):
    rng = np.random.default_rng(11)
    x = tensor(rng.uniform(-3, 3, shape), requires_grad=True)
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    y = tensor(rng.integers(0, 5, tshape), rgrad.int64)
    kw = dict(opts)
    if "weight" in kw:
        kw["weight"] = tensor(kw["weight"])

    def f(x):
        out = F.cross_entropy(x, y, **kw)
        assert node_name(out) == CE_NODE or not rgrad.is_grad_enabled()
        return out

    assert gradcheck(f, (x,), eps=1e-6, atol=1e-7)
    assert gradgradcheck(f, (x,), eps=1e-6, atol=1e-7)


def test_cross_entropy_third_derivative():
    """The backward rule stays differentiable at every order (create_graph twice)."""
    x = tensor([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]], requires_grad=True)
    y = tensor([2, 0], rgrad.int64)
    (g,) = rgrad.autograd.grad(F.cross_entropy(x, y, reduction="sum"), x, create_graph=True)
    (h,) = rgrad.autograd.grad((g * g).sum(), x, create_graph=True)
    (k,) = rgrad.autograd.grad((h * h).sum(), x)
    ref = tensor([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]], requires_grad=True)
    lp = ref.log_softmax(1)
    (g2,) = rgrad.autograd.grad(-(lp[0, 2] + lp[1, 0]), ref, create_graph=True)
    (h2,) = rgrad.autograd.grad((g2 * g2).sum(), ref, create_graph=True)
    (k2,) = rgrad.autograd.grad((h2 * h2).sum(), ref)
    np.testing.assert_allclose(g.detach().numpy(), g2.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(k.numpy(), k2.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_cross_entropy_large_logits_are_stable(dtype):
    dt, _ = DTYPES[dtype]
    x = tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [3e4, 3e4, -3e4]], dt, requires_grad=True)
    y = tensor([1, 1, 0], rgrad.int64)
    loss = F.cross_entropy(x, y, reduction="none", label_smoothing=0.1)
    # row 0: lse = 1e4, -logp = (0, 2e4, 1e4); row 1: (2e4, 0, 5e3); row 2: (ln 2, ln 2, 6e4+ln 2)
    expected = [
        0.9 * 2e4 + 0.1 / 3 * 3e4,
        0.1 / 3 * 2.5e4,
        0.9 * math.log(2) + 0.1 / 3 * (6e4 + 3 * math.log(2)),
    ]
    np.testing.assert_allclose(loss.detach().numpy(), expected, rtol=1e-6)
    loss.sum().backward()
    g = x.grad.numpy()
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g[0], [1 - 0.1 / 3, -0.9 - 0.1 / 3, -0.1 / 3], atol=1e-6)
    np.testing.assert_allclose(g[2], [0.5 - 0.9 - 0.1 / 3, 0.5 - 0.1 / 3, -0.1 / 3], atol=1e-6)


def test_cross_entropy_out_of_range_target():
    x = rgrad.zeros(3, 4, requires_grad=True)
    with pytest.raises(IndexError, match=r"^Target 5 is out of bounds\.$"):
        F.cross_entropy(x, tensor([0, 5, 1], rgrad.int64))
    with pytest.raises(IndexError, match=r"^Target -1 is out of bounds\.$"):
        F.cross_entropy(x, tensor([0, -1, 1], rgrad.int64))
    with pytest.raises(IndexError, match=r"^Target 4 is out of bounds\.$"):
        F.cross_entropy(x[0], tensor(4, rgrad.int64))
    # ignore_index may lie outside the classes; those entries are skipped, not checked
    loss = F.cross_entropy(x, tensor([0, 7, 1], rgrad.int64), ignore_index=7)
    assert loss.item() == pytest.approx(math.log(4))


def test_cross_entropy_all_ignored_is_nan_with_zero_gradient():
    """As PyTorch: 'mean' over no counted target is 0/0; nothing flows back."""
    x = rgrad.ones(2, 3, dtype=rgrad.float64, requires_grad=True)
    loss = F.cross_entropy(x, tensor([-100, -100], rgrad.int64), label_smoothing=0.2)
    assert math.isnan(loss.item())
    loss.backward()
    assert x.grad.tolist() == [[0.0] * 3] * 2
    assert F.cross_entropy(x, tensor([-100, -100], rgrad.int64), reduction="sum").item() == 0


def test_cross_entropy_empty_batch():
    x = rgrad.zeros(0, 4, requires_grad=True)
    y = rgrad.zeros(0, dtype=rgrad.int64)
    assert math.isnan(F.cross_entropy(x, y).item())
    assert F.cross_entropy(x, y, reduction="none").shape == (0,)
    F.cross_entropy(x, y, reduction="sum").backward()
    assert x.grad.shape == (0, 4)


def test_cross_entropy_without_classes():
    """(N, 0) logits: only ignored targets are possible; as PyTorch, no panic, no NaN rows."""
    for reduction, expected in [("mean", [math.nan]), ("sum", [0.0]), ("none", [0.0, 0.0])]:
        x = rgrad.zeros(2, 0, requires_grad=True)
        out = F.cross_entropy(x, tensor([-100, -100], rgrad.int64), reduction=reduction)
        np.testing.assert_array_equal(out.detach().numpy().ravel(), expected)
        out.sum().backward()
        assert x.grad.shape == (2, 0)
    with pytest.raises(IndexError, match=r"^Target 0 is out of bounds\.$"):
        F.cross_entropy(rgrad.zeros(2, 0), tensor([0, -100], rgrad.int64))


def test_cross_entropy_non_contiguous_and_no_grad():
    rng = np.random.default_rng(3)
    base = tensor(rng.standard_normal((5, 4)), requires_grad=True)
    x = base.t()  # (4, 5), not contiguous
    y = tensor([0, 4, 2, 1], rgrad.int64)
    F.cross_entropy(x, y).backward()
    ref = tensor(base.detach().numpy().T.copy(), requires_grad=True)
    loss_mod._cross_entropy_composite(ref, y, None, -100, "mean", 0.0).backward()
    np.testing.assert_allclose(base.grad.numpy().T, ref.grad.numpy(), rtol=1e-12)
    with rgrad.no_grad():
        out = F.cross_entropy(x, y)
    assert out.grad_fn is None and not out.requires_grad


def test_cross_entropy_saved_state():
    """The fused node keeps the gradient it worked out, not the input: changing the input
    in place afterwards is fine (PyTorch keeps log_softmax's output); a second backward needs
    retain_graph."""
    x = tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    y = tensor([0], rgrad.int64)
    loss = F.cross_entropy(x, y)
    with rgrad.no_grad():
        x.add_(10.0)
    loss.backward(retain_graph=True)
    p = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(x.grad.numpy()[0], p - [1, 0, 0], rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy()[0], 2 * (p - [1, 0, 0]), rtol=1e-12)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_cross_entropy_falls_back_to_the_composite():
    x = tensor(np.random.default_rng(4).standard_normal((3, 4)), requires_grad=True)
    y = tensor([0, 3, 1], rgrad.int64)
    # class probabilities
    probs = tensor(np.full((3, 4), 0.25))
    assert node_name(F.cross_entropy(x, probs)) != CE_NODE
    # a weight that requires grad, or of another dtype
    w = tensor([1.0, 2.0, 1.0, 0.5], requires_grad=True)
    out = F.cross_entropy(x, y, weight=w)
    assert node_name(out) != CE_NODE
    out.backward()
    assert w.grad is not None
    fused = F.cross_entropy(x, y, weight=w.detach())
    np.testing.assert_allclose(out.item(), fused.item(), rtol=1e-12)
    assert node_name(F.cross_entropy(x, y, weight=w.detach().float())) != CE_NODE
    # shape errors come from the composite, with PyTorch's messages
    with pytest.raises(ValueError, match="Expected input batch_size"):
        F.cross_entropy(x, tensor([0, 1], rgrad.int64))


# ---- binary cross entropy with logits ---------------------------------------------------------


@st.composite
def bce_cases(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 10.0, 200.0]))
    x = rng.standard_normal(shape) * scale
    t = rng.random(shape) if draw(st.booleans()) else (rng.random(shape) < 0.5) * 1.0

    def weight_shape():
        return draw(st.sampled_from([None, shape, shape[-1:], (1,) * len(shape)]))

    ws, pws = weight_shape(), weight_shape()
    return dict(
        x=x,
        t=t,
        w=None if ws is None else rng.uniform(0.2, 2.0, ws),
        pw=None if pws is None else rng.uniform(0.2, 3.0, pws),
        reduction=draw(st.sampled_from(["none", "mean", "sum"])),
        dtype=draw(st.sampled_from(sorted(DTYPES))),
        cot=rng.standard_normal(shape),
    )


def run_bce(fn, case):
    dt, _ = DTYPES[case["dtype"]]
    x = tensor(case["x"], dt, requires_grad=True)
    opt = {k: (None if case[k] is None else tensor(case[k], dt)) for k in ("w", "pw")}
    out = fn(x, tensor(case["t"], dt), opt["w"], opt["pw"], case["reduction"])
    cot = tensor(case["cot"], dt) if case["reduction"] == "none" else rgrad.ones((), dtype=dt)
    (out * cot).sum().backward()
    return out, x.grad


def fused_bce(x, t, w, pw, reduction):
    return F.binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw)


@SETTINGS
@given(bce_cases())
def test_bce_with_logits_matches_closed_form_and_composite(case):
    out, grad = run_bce(fused_bce, case)
    assert node_name(out) == BCE_NODE
    ref_out, ref_grad = run_bce(loss_mod._bce_with_logits_composite, case)
    tol = DTYPES[case["dtype"]][1]
    exp_out, exp_grad = np_bce_logits(
        case["x"], case["t"], case["w"], case["pw"], case["reduction"], case["cot"]
    )
    got = out.detach().numpy()
    np.testing.assert_allclose(got, exp_out, rtol=tol, atol=tol)
    np.testing.assert_allclose(got, ref_out.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad.numpy(), exp_grad, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad.numpy(), ref_grad.numpy(), rtol=tol, atol=tol)


BCE_OPTIONS = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(weight=[0.5, 2.0, 1.0]),
    dict(pos_weight=[3.0, 0.5, 1.0]),
    dict(weight=[[0.5], [2.0]], pos_weight=[3.0, 0.5, 1.0], reduction="none"),
]


@pytest.mark.parametrize("opts", BCE_OPTIONS, ids=str)
def test_bce_with_logits_gradcheck_and_gradgradcheck(opts):
    rng = np.random.default_rng(12)
    x = tensor(rng.uniform(-6, 6, (2, 3)), requires_grad=True)
    t = tensor(rng.random((2, 3)))
    kw = {k: (tensor(v) if isinstance(v, list) else v) for k, v in opts.items()}

    def f(x):
        out = F.binary_cross_entropy_with_logits(x, t, **kw)
        assert node_name(out) == BCE_NODE or not rgrad.is_grad_enabled()
        return out

    assert gradcheck(f, (x,), eps=1e-6, atol=1e-7)
    assert gradgradcheck(f, (x,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_bce_with_logits_large_logits_are_stable(dtype):
    dt, _ = DTYPES[dtype]
    x = tensor([-1e4, -1e4, 1e4, 1e4, 0.0], dt, requires_grad=True)
    t = tensor([1.0, 0.0, 1.0, 0.0, 0.5], dt)
    pw = tensor([2.0, 2.0, 2.0, 2.0, 2.0], dt)
    loss = F.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction="none")
    np.testing.assert_allclose(
        loss.detach().numpy(), [2e4, 0.0, 0.0, 1e4, 1.5 * math.log(2)], rtol=1e-6
    )
    loss.sum().backward()
    # d/dx = (1 + (pw - 1) t) sigmoid(x) - pw t
    np.testing.assert_allclose(x.grad.numpy(), [-2.0, 0.0, 0.0, 1.0, 0.75 - 1.0], atol=1e-6)


def test_bce_with_logits_target_gradient_takes_the_composite():
    rng = np.random.default_rng(13)
    x = tensor(rng.uniform(-3, 3, (2, 3)), requires_grad=True)
    t = tensor(rng.random((2, 3)), requires_grad=True)
    pw = tensor([2.0, 0.5, 1.0])
    out = F.binary_cross_entropy_with_logits(x, t, pos_weight=pw)
    assert node_name(out) != BCE_NODE
    out.backward()
    # d/dt = -x + (pw - 1) softplus(-x), over the mean
    xs = x.detach().numpy()
    expected = (-xs + (pw.numpy() - 1) * np_softplus_neg(xs)) / 6
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12)
    with rgrad.no_grad():
        assert node_name(F.binary_cross_entropy_with_logits(x, t)) == "NoneType"


def test_bce_with_logits_saved_state_and_fallbacks():
    x = tensor([0.5, -1.0], requires_grad=True)
    t = tensor([1.0, 0.0])
    out = F.binary_cross_entropy_with_logits(x, t)
    assert [type(f).__name__ if f else None for f, _ in out.grad_fn.next_functions] == [
        "AccumulateGrad",
        None,
    ]
    t.add_(0.5)  # PyTorch saves the target: changing it before backward is an error
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()
    # mixed dtypes promote, through the composite
    mixed = F.binary_cross_entropy_with_logits(x, tensor([1.0, 0.0], rgrad.float32))
    assert node_name(mixed) != BCE_NODE and mixed.dtype == rgrad.float64
    # a weight broadcasting beyond the input's shape
    wide = F.binary_cross_entropy_with_logits(x, t, weight=rgrad.ones(3, 2), reduction="none")
    assert node_name(wide) != BCE_NODE and wide.shape == (3, 2)
    with pytest.raises(ValueError, match=r"Target size .* must be the same as input size"):
        F.binary_cross_entropy_with_logits(x, rgrad.ones(3))
