"""``nn.functional.linear`` and ``binary_cross_entropy`` as single fused ops
(rgrad_core::ops::linalg ``linear``, rgrad_core::ops::loss ``binary_cross_entropy``): values and
gradients against NumPy closed forms and finite differences (first and second order), over
shapes and layouts, at the edges PyTorch defines, with PyTorch's errors."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rgrad
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = {"float64": (rgrad.float64, 1e-10), "float32": (rgrad.float32, 2e-4)}


def node_name(t):
    return type(t.grad_fn).__name__


def leaf(arr, dtype=rgrad.float64):
    return rgrad.tensor(np.asarray(arr), dtype=dtype, requires_grad=True)


# ---- linear ----------------------------------------------------------------------------------


@SETTINGS
@given(
    lead=st.lists(st.integers(0, 4), min_size=0, max_size=2),
    k=st.integers(0, 5),
    n=st.integers(1, 5),
    bias=st.booleans(),
    dtype=st.sampled_from(sorted(DTYPES)),
    seed=st.integers(0, 2**16),
)
def test_linear_matches_closed_form(lead, k, n, bias, dtype, seed):
    dt, tol = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    xs, ws = rng.standard_normal((*lead, k)), rng.standard_normal((n, k))
    bs = rng.standard_normal(n)
    x, w = leaf(xs, dt), leaf(ws, dt)
    b = leaf(bs, dt) if bias else None
    out = F.linear(x, w, b)
    want = xs @ ws.T + (bs if bias else 0)
    assert tuple(out.shape) == want.shape
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=tol, atol=tol)
    cot = rng.standard_normal(want.shape)
    (out * rgrad.tensor(cot, dtype=dt)).sum().backward()
    g2 = cot.reshape(-1, n)
    np.testing.assert_allclose(x.grad.numpy(), cot @ ws, rtol=tol, atol=tol)
    x2 = xs.reshape(int(np.prod(lead)), k)
    np.testing.assert_allclose(w.grad.numpy(), g2.T @ x2, rtol=tol, atol=tol)
    if bias:
        np.testing.assert_allclose(b.grad.numpy(), g2.sum(0), rtol=tol, atol=tol)
        assert w.grad.is_contiguous()


def test_linear_records_one_node_like_addmm():
    x, w, b = leaf(np.ones((3, 2))), leaf(np.ones((4, 2))), leaf(np.ones(4))
    out = F.linear(x, w, b)
    assert node_name(out) == "AddmmBackward0"
    assert len(out.grad_fn.next_functions) == 3
    assert node_name(F.linear(x, w)) == "MmBackward0"
    assert tuple(F.linear(x.reshape(1, 3, 2), w, b).shape) == (1, 3, 4)
    with rgrad.no_grad():
        assert F.linear(x, w, b).grad_fn is None


def test_linear_strided_operands():
    rng = np.random.default_rng(1)
    xs, ws, bs = rng.standard_normal((5, 3)), rng.standard_normal((5, 4)), rng.standard_normal(8)
    x = leaf(xs).t()[::2]  # (2, 5): a transposed, sliced view
    w = leaf(ws).t()  # (4, 5): a transposed view
    b = leaf(bs)[::2]  # strided
    out = F.linear(x, w, b)
    assert node_name(out) == "AddmmBackward0"
    np.testing.assert_allclose(out.detach().numpy(), xs.T[::2] @ ws + bs[::2], rtol=1e-12)
    assert gradcheck(F.linear, (x, w, b))


@pytest.mark.parametrize("shape", [(3, 2), (2, 3, 2), (2,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck_and_gradgradcheck(shape, bias):
    rng = np.random.default_rng(2)
    x, w = leaf(rng.standard_normal(shape)), leaf(rng.standard_normal((4, 2)))
    args = (x, w, leaf(rng.standard_normal(4))) if bias else (x, w)
    assert gradcheck(F.linear, args)
    assert gradgradcheck(F.linear, args)


def test_linear_saved_operands_are_version_checked():
    x, w, b = leaf(np.ones((3, 2))), leaf(np.ones((4, 2))), leaf(np.ones(4))
    out = F.linear(x, w, b)
    with rgrad.no_grad():
        w.mul_(2)  # needed for x's gradient
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    # Only the bias needs a gradient: nothing saved is read, as in PyTorch.
    x2, w2, b2 = rgrad.ones(3, 2), rgrad.ones(4, 2), leaf(np.ones(4))
    out = F.linear(x2, w2, b2)
    x2.add_(1)
    out.sum().backward()
    assert b2.grad.tolist() == [3.0] * 4


def test_linear_errors_and_fallbacks():
    w, b = rgrad.ones(4, 2), rgrad.ones(4)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x3"):
        F.linear(rgrad.ones(4, 3), w, b)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.linear(rgrad.ones(3, 2, dtype=rgrad.float64), w, b)
    with pytest.raises(TypeError, match=r"linear\(\): argument 'input' \(position 1\) must be"):
        F.linear([1.0, 2.0], w, b)
    with pytest.raises(TypeError, match="argument 'bias' \\(position 3\\) must be Tensor, not int"):
        F.linear(rgrad.ones(3, 2), w, 3)
    with pytest.raises(RuntimeError):
        F.linear(rgrad.ones(3, 2), w, rgrad.ones(3))  # a bias that does not broadcast
    # Biases that broadcast without being one value per output take the composite.
    assert F.linear(rgrad.ones(3, 2), w, rgrad.ones(1)).tolist() == [[3.0] * 4] * 3
    assert F.linear(rgrad.ones(3, 2), w, rgrad.ones(3, 4)).tolist() == [[3.0] * 4] * 3
    assert F.linear(rgrad.ones(3, 2), rgrad.ones(2), rgrad.tensor(1.0)).tolist() == [3.0] * 3


def test_linear_layer_uses_the_fused_op():
    torch = rgrad
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(5, 3)
    out = layer(x)
    assert node_name(out) == "AddmmBackward0"
    want = x.numpy() @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-5, atol=1e-6)


# ---- binary_cross_entropy --------------------------------------------------------------------


def np_bce(p, t, w=1.0):
    log_p = np.maximum(np.log(p), -100)
    with np.errstate(divide="ignore"):
        log_q = np.maximum(np.log1p(-p), -100)
    loss = w * ((t - 1) * log_q - t * log_p)
    grad = w * (p - t) / np.maximum(p * (1 - p), np.float64(np.float32(1e-12)))
    return loss, np.broadcast_to(grad, np.broadcast_shapes(np.shape(p), np.shape(w)))


@SETTINGS
@given(
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple),
    weighted=st.sampled_from(["none", "full", "row"]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    dtype=st.sampled_from(sorted(DTYPES)),
    seed=st.integers(0, 2**16),
)
def test_bce_matches_closed_form(shape, weighted, reduction, dtype, seed):
    dt, tol = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    ps, ts = rng.uniform(0.02, 0.98, shape), rng.uniform(0, 1, shape)
    ws = {"none": None, "full": rng.uniform(0, 2, shape), "row": rng.uniform(0, 2, shape[-1:])}
    ws = ws[weighted]
    p = leaf(ps, dt)
    w = None if ws is None else rgrad.tensor(ws, dtype=dt)
    out = F.binary_cross_entropy(p, rgrad.tensor(ts, dtype=dt), weight=w, reduction=reduction)
    loss, grad = np_bce(ps, ts, 1.0 if ws is None else ws)
    if reduction == "none":
        cot = rng.standard_normal(shape)
        want, grad = loss, grad * cot
        (out * rgrad.tensor(cot, dtype=dt)).sum().backward()
    else:
        want = loss.sum() if reduction == "sum" else loss.sum() / max(loss.size, 1)
        grad = grad if reduction == "sum" else grad / max(loss.size, 1)
        if loss.size == 0 and reduction == "mean":
            assert np.isnan(out.item())
            return
        out.backward()
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=tol, atol=tol)
    np.testing.assert_allclose(p.grad.numpy(), grad, rtol=tol, atol=tol)
    assert node_name(out) == "BinaryCrossEntropyBackward0"


def test_bce_edges_match_pytorch():
    # From PyTorch 2.15: logs clamp at -100 and the gradient's denominator at float32 1e-12.
    p = leaf([0.0, 1.0, 0.3, 1e-20])
    loss = F.binary_cross_entropy(p, rgrad.tensor([1.0, 0.0, 0.7, 0.0], dtype=rgrad.float64))
    loss.backward()
    assert loss.item() == pytest.approx(50.237445861552445, rel=1e-12)
    want = [-250000000998.9507, 250000000998.9507, -0.47619047619047616, 2.500000009989507e-09]
    np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_bce_input_out_of_range(bad):
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(rgrad.tensor([0.5, bad]), rgrad.tensor([0.0, 1.0]))


def test_bce_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(3)
    p = leaf(rng.uniform(0.1, 0.9, (3, 2)))
    t = rgrad.tensor(rng.uniform(0, 1, (3, 2)))
    w = rgrad.tensor(rng.uniform(0.5, 2, (2,)))
    for reduction in ("mean", "sum", "none"):
        fn = lambda p, r=reduction: F.binary_cross_entropy(p, t, weight=w, reduction=r)
        assert gradcheck(fn, (p,))
        assert gradgradcheck(fn, (p,))


def test_bce_target_gradient_takes_the_composite():
    p = leaf([0.2, 0.6])
    t = leaf([0.3, 0.9])
    loss = F.binary_cross_entropy(p, t, reduction="sum")
    loss.backward()
    ps = np.array([0.2, 0.6])
    np.testing.assert_allclose(t.grad.numpy(), np.log1p(-ps) - np.log(ps), rtol=1e-12)
    np.testing.assert_allclose(p.grad.numpy(), np_bce(ps, np.array([0.3, 0.9]))[1], rtol=1e-12)


def test_bce_saved_input_is_version_checked():
    p = leaf([0.2, 0.6])
    q = p * 1.0
    loss = F.binary_cross_entropy(q, rgrad.tensor([0.0, 1.0], dtype=rgrad.float64))
    with rgrad.no_grad():
        q.mul_(0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_bce_shape_mismatch_is_pytorchs_error():
    with pytest.raises(ValueError, match="Using a target size"):
        F.binary_cross_entropy(rgrad.tensor([0.5, 0.5]), rgrad.tensor([[0.0, 1.0]]))
