"""F.scaled_dot_product_attention as one fused op: PyTorch's numbers (tests/data/sdpa.*,
made by tools/make_reference_sdpa.py; the tier-3 attention cases of ops.json; the sdpa
module cases of PyTorch's modules reference), gradcheck and gradgradcheck in float64, a
property test against the composite in tensor ops, PyTorch's errors, hostile inputs, and
wgpu against the CPU."""

import json
import pathlib

import module_cases
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_cases import CASES as OP_CASES
from reference_cases import check_case

import rgrad
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck
from rgrad.nn._functional.attention import _composite

DATA = pathlib.Path(__file__).parent / "data"
REF = json.loads((DATA / "sdpa.json").read_text())["cases"]
with np.load(DATA / "sdpa.npz") as _f:
    ARR = {k: _f[k] for k in _f.files}
MODULES, MODULE_ARRAYS = module_cases.load("sdpa")
TIER3 = [c for c in OP_CASES if c["tier"] == 3 and "attention" in c["expr"]]
FUSED = "ScaledDotProductFlashAttentionForCpuBackward0"
PRECISION = {"float64": (rgrad.float64, 1e-10), "float32": (rgrad.float32, 2e-4)}


def host(t):
    return t.detach().cpu().numpy()


def run_ref(case, dtype, device="cpu"):
    env = {"F": F}
    for k, kind in case["inputs"].items():
        a = ARR[f"{case['name']}/in/{k}"]
        t = rgrad.tensor(a, dtype=rgrad.bool if kind == "bool" else dtype, device=device)
        env[k] = t.requires_grad_(k in case["grads"])
    out = eval(case["expr"], env)
    grads = {}
    if case["grads"]:
        cot = rgrad.tensor(ARR[f"{case['name']}/cot"], dtype=dtype, device=device)
        (out * cot).sum().backward()
        grads = {k: env[k].grad for k in case["grads"]}
    return out, grads


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", REF, ids=lambda c: c["name"])
def test_against_pytorch(case, precision):
    dtype, tol = PRECISION[precision]
    out, grads = run_ref(case, dtype)
    assert out.dtype == dtype
    np.testing.assert_allclose(host(out), ARR[f"{case['name']}/out"], rtol=tol, atol=tol)
    for k, g in grads.items():
        assert g.dtype == dtype
        np.testing.assert_allclose(host(g), ARR[f"{case['name']}/grad/{k}"], rtol=tol, atol=tol)


def test_reference_cases_go_through_the_fused_op():
    case = next(c for c in REF if c["name"] == "causal_square")
    out, _ = run_ref(case, rgrad.float64)
    assert type(out.grad_fn).__name__ == FUSED
    q = rgrad.randn(3, 4, 5, requires_grad=True)
    assert type(F.scaled_dot_product_attention(q, q, q).grad_fn).__name__ == "SqueezeBackward1"
    # Dropout and masks that take a gradient run the composite.
    out = F.scaled_dot_product_attention(q[None], q[None], q[None], dropout_p=0.5)
    assert type(out.grad_fn).__name__ != FUSED
    m = rgrad.zeros(4, 4, requires_grad=True)
    assert type(F.scaled_dot_product_attention(q, q, q, attn_mask=m).grad_fn).__name__ != FUSED


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", TIER3, ids=lambda c: c["name"])
def test_tier3_op_cases(case, precision):
    check_case(case, precision, 1e-10 if precision == "float64" else 1e-4)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases(case, precision):
    dtype, tol = {"float64": (rgrad.float64, 1e-7), "float32": (rgrad.float32, 3e-4)}[precision]
    module_cases.run(case, MODULE_ARRAYS, dtype, tol)


def _inputs(qs, ks, vs=None, seed=0):
    g = rgrad.Generator().manual_seed(seed) if hasattr(rgrad, "Generator") else None
    kw = {"dtype": rgrad.float64, "requires_grad": True}
    if g is not None:
        kw["generator"] = g
    return rgrad.randn(*qs, **kw), rgrad.randn(*ks, **kw), rgrad.randn(*(vs or ks), **kw)


GRADCHECK = {
    "plain": ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3), {}),
    "causal_l_gt_s": ((1, 1, 6, 3), (1, 1, 4, 3), None, {"is_causal": True}),
    "causal_l_lt_s": ((1, 1, 3, 3), (1, 1, 5, 3), None, {"is_causal": True}),
    "gqa": ((1, 4, 3, 2), (1, 2, 4, 2), None, {"enable_gqa": True, "scale": 0.8}),
    "broadcast": ((2, 2, 3, 2), (1, 2, 4, 2), (2, 1, 4, 2), {}),
    "three_d": ((2, 3, 2), (2, 4, 2), None, {}),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_and_gradgradcheck(name):
    qs, ks, vs, kw = GRADCHECK[name]
    q, k, v = _inputs(qs, ks, vs)

    def f(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **kw)

    assert gradcheck(f, (q, k, v))
    assert gradgradcheck(f, (q, k, v))


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_gradcheck_with_masks_and_empty_rows(kind):
    q, k, v = _inputs((1, 2, 4, 3), (1, 2, 5, 3))
    keep = rgrad.tensor(
        [[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 0, 0]], dtype=rgrad.bool
    )
    if kind == "bool":
        mask = keep
    else:
        mask = rgrad.zeros(4, 5, dtype=rgrad.float64).masked_fill(keep.logical_not(), float("-inf"))
        mask = mask + rgrad.linspace(-1, 1, 20, dtype=rgrad.float64).reshape(4, 5)

    def f(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    out = f(q, k, v)
    assert type(out.grad_fn).__name__ == FUSED
    assert not host(out)[:, :, 1].any()  # the empty row: zeros
    out.sum().backward()
    assert not host(q.grad)[:, :, 1].any()  # and no gradient
    assert gradcheck(f, (q, k, v))
    assert gradgradcheck(f, (q, k, v))


def test_double_backward_matches_the_composite():
    q, k, v = _inputs((1, 2, 5, 3), (1, 2, 6, 3))
    grads = []
    for fn in (F.scaled_dot_product_attention, _composite):
        args = (q, k, v, None, 0.0, True, None, False)
        out = fn(*args)
        (gq,) = rgrad.autograd.grad((out * out).sum(), q, create_graph=True)
        (ggq,) = rgrad.autograd.grad(gq.pow(2).sum(), q)
        grads.append((host(gq), host(ggq)))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-12)


@st.composite
def attention_problem(draw):
    batch = draw(st.integers(1, 2))
    hk = draw(st.integers(1, 3))
    group = draw(st.integers(1, 2))
    gqa = draw(st.booleans())
    hq = hk * group if gqa else hk
    L, S = draw(st.integers(1, 140)), draw(st.integers(1, 140))
    E, Ev = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    causal = draw(st.booleans())
    mask = None if causal else draw(st.sampled_from([None, "bool", "float"]))
    scale = draw(st.sampled_from([None, 0.5, 2.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    return batch, hq, hk, L, S, E, Ev, gqa, causal, mask, scale, seed


@settings(max_examples=30, deadline=None)
@given(attention_problem())
def test_fused_matches_composite(problem):
    batch, hq, hk, L, S, E, Ev, gqa, causal, mask_kind, scale, seed = problem
    rng = np.random.default_rng(seed)
    q = rgrad.tensor(rng.standard_normal((batch, hq, L, E)), requires_grad=True)
    k = rgrad.tensor(rng.standard_normal((batch, hk, S, E)), requires_grad=True)
    v = rgrad.tensor(rng.standard_normal((batch, hk, S, Ev)), requires_grad=True)
    mask = None
    if mask_kind == "bool":
        mask = rgrad.tensor(rng.random((L, S)) > 0.3)
    elif mask_kind == "float":
        m = rng.standard_normal((hq, L, S))
        m[rng.random((hq, L, S)) > 0.8] = -np.inf
        mask = rgrad.tensor(m)
    cot = rgrad.tensor(rng.standard_normal((batch, hq, L, Ev)))
    results = []
    for fn in (F.scaled_dot_product_attention, _composite):
        out = fn(q, k, v, mask, 0.0, causal, scale, gqa)
        gq, gk, gv = rgrad.autograd.grad((out * cot).sum(), (q, k, v))
        results.append([host(t) for t in (out, gq, gk, gv)])
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


def test_strided_views_match_contiguous_copies():
    # Inputs whose last dim is not contiguous, a transposed mask and a GQA key read in place.
    rng = np.random.default_rng(5)
    qa = rng.standard_normal((2, 4, 6, 70))
    ka = rng.standard_normal((2, 2, 6, 90))
    va = rng.standard_normal((2, 2, 90, 5))
    ma = rng.standard_normal((90, 70))
    ma[rng.random((90, 70)) > 0.7] = -np.inf
    views = [rgrad.tensor(a, requires_grad=True) for a in (qa, ka, va)]
    q, k, v = views[0].transpose(-1, -2), views[1].transpose(-1, -2), views[2]
    mask = rgrad.tensor(ma).t()
    dense = [
        rgrad.tensor(a, requires_grad=True) for a in (qa.swapaxes(-1, -2), ka.swapaxes(-1, -2), va)
    ]
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    want = F.scaled_dot_product_attention(
        *dense, attn_mask=rgrad.tensor(np.ascontiguousarray(ma.T)), enable_gqa=True
    )
    np.testing.assert_allclose(host(got), host(want), rtol=1e-12, atol=1e-12)
    got.sum().backward()
    want.sum().backward()
    for a, b in zip(views[:2], dense[:2], strict=True):
        np.testing.assert_allclose(
            host(a.grad).swapaxes(-1, -2), host(b.grad), rtol=1e-10, atol=1e-12
        )
    np.testing.assert_allclose(host(views[2].grad), host(dense[2].grad), rtol=1e-10, atol=1e-12)


ERRORS = [
    (
        lambda: F.scaled_dot_product_attention(rgrad.ones(4), rgrad.ones(4), rgrad.ones(4)),
        RuntimeError,
        "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: 1 "
        "key.dim: 1 and value.dim: 1 instead.",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(2, 3, 4), rgrad.ones(2, 3, 4, dtype=rgrad.float64), rgrad.ones(2, 3, 4)
        ),
        RuntimeError,
        "Expected query, key, and value to have the same dtype, but got query.dtype: float "
        "key.dtype: double and value.dtype: float instead.",
    ),
    (
        lambda: F.scaled_dot_product_attention(*(rgrad.ones(2, 3, 4, dtype=rgrad.int64),) * 3),
        RuntimeError,
        "expected scalar type Float but found Long",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            *(rgrad.ones(2, 3, 4),) * 3,
            attn_mask=rgrad.ones(3, 3, dtype=rgrad.bool),
            is_causal=True,
        ),
        RuntimeError,
        "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(1, 2, 3, 4), rgrad.ones(1, 2, 5, 6), rgrad.ones(1, 2, 5, 4)
        ),
        RuntimeError,
        "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [2, 6].",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(2, 3, 4), rgrad.ones(2, 5, 6), rgrad.ones(2, 5, 4)
        ),
        RuntimeError,
        "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [2, 6].",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(3, 4), rgrad.ones(5, 6), rgrad.ones(5, 4)
        ),
        RuntimeError,
        "mm: mat1 and mat2 shapes cannot be multiplied (3x4 and 6x5)",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(2, 3, 4), rgrad.ones(3, 5, 4), rgrad.ones(3, 5, 4)
        ),
        RuntimeError,
        "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 1",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(2, 2, 3, 4), rgrad.ones(3, 2, 5, 4), rgrad.ones(3, 2, 5, 4)
        ),
        RuntimeError,
        "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(1, 4, 3, 4), rgrad.ones(1, 2, 5, 4), rgrad.ones(1, 2, 5, 4)
        ),
        RuntimeError,
        "The size of tensor a (4) must match the size of tensor b (2) at non-singleton dimension 1",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(1, 4, 3, 4), rgrad.ones(1, 3, 5, 4), rgrad.ones(1, 3, 5, 4), enable_gqa=True
        ),
        RuntimeError,
        "Number of heads in key and value must divide the number of heads in query",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(3, 4), rgrad.ones(5, 4), rgrad.ones(5, 4), enable_gqa=True
        ),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got -3)",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            *(rgrad.ones(1, 2, 3, 4),) * 3, attn_mask=rgrad.ones(3, 3, dtype=rgrad.float64)
        ),
        RuntimeError,
        "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
        "attn_mask.dtype: double and  query.dtype: float instead.",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(1, 2, 3, 4),
            rgrad.ones(1, 2, 5, 4),
            rgrad.ones(1, 2, 5, 4),
            attn_mask=rgrad.ones(3, 4, dtype=rgrad.bool),
        ),
        RuntimeError,
        "The size of tensor a (5) must match the size of tensor b (4) at non-singleton dimension 3",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            rgrad.ones(1, 2, 3, 4),
            rgrad.ones(1, 2, 5, 4),
            rgrad.ones(1, 2, 5, 4),
            attn_mask=rgrad.ones(3, 2, 3, 5, dtype=rgrad.bool),
        ),
        RuntimeError,
        "output with shape [1, 2, 3, 5] doesn't match the broadcast shape [3, 2, 3, 5]",
    ),
    (
        lambda: F.scaled_dot_product_attention(
            *(rgrad.ones(1, 2, 3, 4),) * 3, attn_mask=rgrad.ones(4)
        ),
        IndexError,
        "Dimension out of range (expected to be in range of [-1, 0], but got -2)",
    ),
    (
        lambda: F.scaled_dot_product_attention(*(rgrad.ones(1, 2, 3, 4),) * 3, dropout_p=1.5),
        ValueError,
        "dropout probability has to be between 0 and 1, but got 1.5",
    ),
    (
        lambda: F.scaled_dot_product_attention([1.0], rgrad.ones(2, 2), rgrad.ones(2, 2)),
        TypeError,
        "scaled_dot_product_attention(): argument 'query' (position 1) must be Tensor, not list",
    ),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_as_pytorch(i):
    f, kind, message = ERRORS[i]
    with pytest.raises(kind) as info:
        f()
    assert str(info.value) == message


def test_huge_sizes_raise():
    # Broadcast views of a few elements whose attention would need more than 2**64 bytes.
    q = rgrad.ones(1, 1, 1, 4).expand(1 << 30, 1 << 30, 1, 4)
    k = rgrad.ones(1, 1, 5, 4)
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(q, k, k)
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(k, q, q)


@pytest.mark.parametrize("L,S", [(0, 5), (3, 0), (0, 0)])
def test_empty_sequences(L, S):
    q = rgrad.randn(1, 2, L, 4, dtype=rgrad.float64, requires_grad=True)
    k = rgrad.randn(1, 2, S, 4, dtype=rgrad.float64, requires_grad=True)
    v = rgrad.randn(1, 2, S, 3, dtype=rgrad.float64, requires_grad=True)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert tuple(out.shape) == (1, 2, L, 3)
    assert not host(out).any()
    out.sum().backward()
    for t in (q, k, v):
        assert t.grad is None or not host(t.grad).any()


def test_zero_head_dim_is_uniform_attention():
    q, k = rgrad.ones(1, 1, 3, 0), rgrad.ones(1, 1, 4, 0)
    v = rgrad.arange(8.0).reshape(1, 1, 4, 2)
    out = F.scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(host(out)[0, 0], np.tile(host(v)[0, 0].mean(0), (3, 1)), rtol=1e-6)


def test_nan_inputs_do_not_crash():
    q = rgrad.full((1, 2, 5, 4), float("nan"), requires_grad=True)
    k = rgrad.randn(1, 2, 70, 4, requires_grad=True)
    out = F.scaled_dot_product_attention(q, k, k, is_causal=True)
    out.sum().backward()
    assert tuple(q.grad.shape) == (1, 2, 5, 4)
    k2 = k.detach().clone()
    k2[0, 0, 3, 0] = float("nan")
    out = F.scaled_dot_product_attention(rgrad.randn(1, 2, 5, 4), k2, k2)
    assert np.isnan(host(out)[0, 0]).all() and not np.isnan(host(out)[0, 1]).any()


@pytest.mark.wgpu
@pytest.mark.parametrize("causal", [False, True])
def test_wgpu_matches_cpu(causal):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in ((1, 2, 9, 4), (1, 2, 11, 4), (1, 2, 11, 3))]
    mask = None if causal else rng.random((9, 11)) > 0.3
    cot = rng.standard_normal((1, 2, 9, 3))
    results = []
    for device in ("cpu", "wgpu"):
        q, k, v = (
            rgrad.tensor(a, dtype=rgrad.float32, device=device, requires_grad=True) for a in arrays
        )
        m = None if mask is None else rgrad.tensor(mask, device=device)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal)
        assert str(out.device).startswith(device)
        (out * rgrad.tensor(cot, dtype=rgrad.float32, device=device)).sum().backward()
        results.append([host(t) for t in (out, q.grad, k.grad, v.grad)])
    for got, want in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.wgpu
@pytest.mark.parametrize("case", TIER3, ids=lambda c: c["name"])
def test_tier3_op_cases_on_wgpu(case):
    check_case(case, "float32", 1e-4, device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases_on_wgpu(case):
    module_cases.run(case, MODULE_ARRAYS, rgrad.float32, 3e-4, device="wgpu")
