"""``nn.functional.embedding_bag`` and ``nn.EmbeddingBag`` (ops/embedding_bag.rs): outputs and
gradients against PyTorch's (tests/data/embedding_bag.json, written by
tools/gen_embedding_bag_reference.py), gradcheck and gradgradcheck, PyTorch's errors, the
module, a property test against a slow pure-Python reference, and the same on wgpu."""

import json
import os
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgrad as torch
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "embedding_bag.json").read_text())
NAMES = sorted(DATA)
KW = ("mode", "padding_idx", "include_last_offset", "scale_grad_by_freq")

REQUIRED = os.environ.get("RGRAD_REQUIRE_WGPU") == "1"
AVAILABLE = torch.wgpu.is_available()
HAS_F64 = AVAILABLE and torch.wgpu.supports_dtype(torch.float64)
HAS_I64 = AVAILABLE and torch.wgpu.supports_dtype(torch.int64)
wgpu = pytest.mark.skipif(not REQUIRED and not AVAILABLE, reason="no wgpu adapter")


def build(case, dtype, device="cpu"):
    """The case's tensors: weight (requires grad), input, offsets, per-sample weights."""
    opts = case["options"]
    idt = torch.int32 if opts.get("int32") else torch.int64
    w = torch.tensor(case["weight"], dtype=dtype, device=device).requires_grad_()
    x = torch.tensor(case["input"], dtype=idt, device=device)
    o = None if case["offsets"] is None else torch.tensor(case["offsets"], dtype=idt, device=device)
    p = None
    if "psw" in case:
        p = torch.tensor(case["psw"], dtype=dtype, device=device).requires_grad_()
    return w, x, o, p, {k: v for k, v in opts.items() if k in KW}


def run(case, dtype, device="cpu"):
    w, x, o, p, kw = build(case, dtype, device)
    out = F.embedding_bag(x, w, o, per_sample_weights=p, **kw)
    out.backward(torch.tensor(case["grad_out"], dtype=dtype, device=device).reshape(out.shape))
    return out, w.grad, None if p is None else p.grad


def close(got, want, tol):
    np.testing.assert_allclose(
        got.detach().cpu().numpy(),
        np.asarray(want, dtype=np.float64).reshape(got.shape),
        rtol=tol,
        atol=tol,
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_matches_pytorch(name, dtype, tol):
    case = DATA[name]
    out, gw, gp = run(case, dtype)
    assert list(out.shape) == case["out_shape"]
    assert out.dtype == dtype
    assert out.grad_fn.name() == "EmbeddingBagBackward0"
    close(out, case["out"], tol)
    close(gw, case["grad_weight"], tol)
    if "grad_psw" in case:
        close(gp, case["grad_psw"], tol)


def test_max_tie_gradient_goes_to_the_first_row():
    case = DATA["max_ties"]
    _, gw, _ = run(case, torch.float64)
    # Rows 0 and 1 tie on both features of bag 0: row 0 (first in the bag) gets them.
    g = case["grad_out"]
    assert gw[1].tolist() == [g[1][0], g[1][1]]
    close(gw, case["grad_weight"], 0)


CHECKS = [
    dict(mode="sum"),
    dict(mode="mean"),
    dict(mode="max"),
    dict(mode="mean", padding_idx=2),
    dict(mode="mean", include_last_offset=True),
]
# scale_grad_by_freq's gradient is by design not the derivative (PyTorch's values are checked
# above); the second derivative of that rule still is.
FREQ = dict(mode="sum", scale_grad_by_freq=True)


def _gradcheck_inputs():
    torch.manual_seed(0)
    # Distinct values, so max mode has no tie within finite-difference reach.
    w = (torch.randperm(15).to(torch.float64) / 3.0).reshape(5, 3).requires_grad_()
    x = torch.tensor([0, 2, 2, 4, 1, 3, 2])
    o = torch.tensor([0, 3, 3, 5])
    return w, x, o


@pytest.mark.parametrize("kw", CHECKS, ids=str)
def test_gradcheck(kw):
    w, x, o = _gradcheck_inputs()
    assert gradcheck(lambda w: F.embedding_bag(x, w, o, **kw), (w,))


@pytest.mark.parametrize("kw", [k for k in CHECKS if k["mode"] != "max"] + [FREQ], ids=str)
def test_gradgradcheck(kw):
    w, x, o = _gradcheck_inputs()
    assert gradgradcheck(lambda w: F.embedding_bag(x, w, o, **kw), (w,))


def test_gradcheck_per_sample_weights():
    w, x, o = _gradcheck_inputs()
    p = torch.rand(x.shape, dtype=torch.float64).requires_grad_()

    def f(w, p):
        return F.embedding_bag(x, w, o, mode="sum", per_sample_weights=p, padding_idx=4)

    assert gradcheck(f, (w, p))
    assert gradgradcheck(f, (w, p))


def test_gradcheck_2d_max():
    w, _, _ = _gradcheck_inputs()
    x = torch.tensor([[0, 1, 4], [3, 3, 2]])
    assert gradcheck(lambda w: F.embedding_bag(x, w, mode="max"), (w,))


def test_max_norm_renormalizes_used_rows():
    w = torch.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    out = F.embedding_bag(torch.tensor([0, 1]), w, torch.tensor([0]), max_norm=1.0, mode="sum")
    # Row 0 (norm 5) scaled to norm 1; row 1 is within; row 2 was not used.
    np.testing.assert_allclose(w.numpy(), [[0.6, 0.8], [0.3, 0.4], [6.0, 8.0]], rtol=1e-6)
    np.testing.assert_allclose(out.numpy(), [[0.9, 1.2]], rtol=1e-6)


def test_sparse_gives_a_dense_gradient():
    w = torch.randn(4, 2, requires_grad=True)
    F.embedding_bag(torch.tensor([[0, 1]]), w, sparse=True).sum().backward()
    assert isinstance(w.grad, torch.Tensor) and w.grad.shape == (4, 2)


def test_old_argument_order_warns_and_swaps():
    w = torch.randn(4, 2)
    with pytest.warns(UserWarning, match="Argument order of nn.functional.embedding_bag"):
        out = F.embedding_bag(w, torch.tensor([0, 1]), torch.tensor([0]))
    np.testing.assert_allclose(out.numpy(), w[:2].mean(0, keepdim=True).numpy())


def test_include_last_offset_ignores_entries_after_the_last_offset():
    # PyTorch's kernels disagree here (sum stops at offsets[-1], max runs to the end, mean
    # sums to offsets[-1] but divides by the count to the end, and the backward treats the
    # bag as running to the end): rgrad ends the last bag at offsets[-1] in every mode.
    w = torch.eye(5, dtype=torch.float64).requires_grad_()
    for mode in ("sum", "mean", "max"):
        out = F.embedding_bag(
            torch.arange(5), w, torch.tensor([0, 1, 3]), mode=mode, include_last_offset=True
        )
        scale = 0.5 if mode == "mean" else 1.0
        assert out[1].tolist() == [0.0, scale, scale, 0.0, 0.0]


def test_no_grad_records_nothing():
    w = torch.randn(4, 2, requires_grad=True)
    with torch.no_grad():
        out = F.embedding_bag(torch.tensor([[0, 1]]), w)
    assert out.grad_fn is None and not out.requires_grad


W = torch.zeros(4, 3)
I1, O1 = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 2])
ERRORS = [
    (
        lambda: F.embedding_bag(torch.tensor([0, 5]), W, torch.tensor([0])),
        RuntimeError,
        "Index 1 of input takes value 5 which is not in the valid range [0, 4)",
    ),
    (
        lambda: F.embedding_bag(torch.tensor([0, -1]), W, torch.tensor([0])),
        RuntimeError,
        "Index 1 of input takes value -1 which is not in the valid range [0, 4)",
    ),
    (
        lambda: F.embedding_bag(I1, W, O1, mode="mean", per_sample_weights=torch.ones(4)),
        NotImplementedError,
        "per_sample_weights is only supported for mode='sum' (got mode='mean')",
    ),
    (
        lambda: F.embedding_bag(I1, W, O1, mode="max", per_sample_weights=torch.ones(4)),
        NotImplementedError,
        "(got mode='max'). Please open a feature request on GitHub.",
    ),
    (
        lambda: F.embedding_bag(I1, W, O1, mode="foo"),
        ValueError,
        "mode has to be one of sum, mean or max",
    ),
    (
        lambda: F.embedding_bag(I1.double(), W, O1),
        RuntimeError,
        "Expected tensor for argument #1 'indices' to have one of the following scalar types: "
        "Long, Int; but got torch.DoubleTensor instead (while checking arguments for "
        "embedding_bag)",
    ),
    (lambda: F.embedding_bag(I1, W), ValueError, "offsets has to be a 1D Tensor but got None"),
    (
        lambda: F.embedding_bag(I1.reshape(2, 2), W, O1),
        ValueError,
        "if input is 2D, then offsets has to be None",
    ),
    (
        lambda: F.embedding_bag(I1.reshape(1, 2, 2), W),
        ValueError,
        "input has to be 1D or 2D Tensor, but got Tensor of dimension 3",
    ),
    (lambda: F.embedding_bag(I1, W, O1.reshape(1, 2)), ValueError, "offsets has to be a 1D Tensor"),
    (
        lambda: F.embedding_bag(I1, W, torch.tensor([1, 2])),
        RuntimeError,
        "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
        "position 0. However, got 1",
    ),
    (
        lambda: F.embedding_bag(I1, W, torch.tensor([0, 5])),
        RuntimeError,
        "offsets[-1] can not be greater than input's length 4 but got offsets[-1] of 5",
    ),
    (
        lambda: F.embedding_bag(I1, W, torch.tensor([0, 3, 2])),
        RuntimeError,
        "offsets has to be a non-decreasing sequence",
    ),
    (
        lambda: F.embedding_bag(I1, W, O1, per_sample_weights=torch.ones(3), mode="sum"),
        ValueError,
        "embedding_bag: If per_sample_weights (torch.Size([3])) is not None, then it must have "
        "the same shape as the input (torch.Size([4]))",
    ),
    (
        lambda: F.embedding_bag(
            I1, W, O1, per_sample_weights=torch.ones(4, dtype=torch.float64), mode="sum"
        ),
        RuntimeError,
        "but type torch.FloatTensor does not equal torch.DoubleTensor (while checking "
        "arguments for embedding_bag)",
    ),
    (
        lambda: F.embedding_bag(I1, W, O1, padding_idx=4),
        RuntimeError,
        "padding_idx must be within the number of embeddings, -4 through 3, but got 4",
    ),
    (lambda: F.embedding_bag(I1, W, O1, padding_idx=-5), RuntimeError, "but got -5"),
    (
        lambda: F.embedding_bag(I1, W[0], O1),
        ValueError,
        "weight has to be a 2D Tensor, but got Tensor of dimension 1",
    ),
    (
        lambda: F.embedding_bag(I1, W, O1, mode="max", scale_grad_by_freq=True),
        ValueError,
        "max mode does not support scaling the gradient by the frequency",
    ),
    (
        lambda: F.embedding_bag(I1, W, O1, mode="max", sparse=True),
        ValueError,
        "max mode does not support sparse weights",
    ),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    f, exc, msg = ERRORS[i]
    with pytest.raises(exc) as e:
        f()
    assert msg in str(e.value)


def test_mixed_index_dtypes_are_accepted():
    # PyTorch 2.x promotes int32 offsets with int64 input (and the reverse).
    w = torch.randn(4, 2)
    a = F.embedding_bag(torch.tensor([0, 1, 3]), w, torch.tensor([0, 1], dtype=torch.int32))
    b = F.embedding_bag(torch.tensor([0, 1, 3], dtype=torch.int32), w, torch.tensor([0, 1]))
    assert torch.equal(a, b)


# ---- the module ------------------------------------------------------------------------------


def test_module_layout_init_and_repr():
    m = torch.nn.EmbeddingBag(5, 3, padding_idx=0, mode="sum", max_norm=1.0)
    assert list(m.state_dict()) == ["weight"]
    assert m.weight.shape == (5, 3) and m.weight.requires_grad
    assert m.weight[0].tolist() == [0.0, 0.0, 0.0]
    assert repr(m) == "EmbeddingBag(5, 3, max_norm=1.0, mode='sum', padding_idx=0)"
    assert repr(torch.nn.EmbeddingBag(5, 3)) == "EmbeddingBag(5, 3, mode='mean')"
    m2 = torch.nn.EmbeddingBag(
        5, 3, include_last_offset=True, scale_grad_by_freq=True, norm_type=1.0, sparse=True
    )
    assert repr(m2) == "EmbeddingBag(5, 3, norm_type=1.0, scale_grad_by_freq=True, mode='mean')"
    assert torch.nn.EmbeddingBag(5, 3, padding_idx=-1).padding_idx == 4
    with pytest.raises(AssertionError, match="padding_idx must be within num_embeddings"):
        torch.nn.EmbeddingBag(5, 3, padding_idx=5)
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        torch.nn.EmbeddingBag(5, 3, _weight=torch.zeros(3, 5))


def test_module_init_is_standard_normal():
    torch.manual_seed(0)
    w = torch.nn.EmbeddingBag(400, 50).weight.detach()
    assert abs(w.mean().item()) < 0.02 and abs(w.std().item() - 1.0) < 0.02


def test_module_forward_matches_functional_and_trains():
    torch.manual_seed(1)
    m = torch.nn.EmbeddingBag(6, 4, mode="sum", include_last_offset=True)
    x, o = torch.tensor([0, 1, 5, 2]), torch.tensor([0, 2, 4])
    p = torch.rand(4)
    out = m(x, o, per_sample_weights=p)
    ref = F.embedding_bag(
        x, m.weight, o, mode="sum", per_sample_weights=p, include_last_offset=True
    )
    assert torch.equal(out, ref) and out.shape == (2, 4)
    out.sum().backward()
    assert m.weight.grad[3].tolist() == [0.0] * 4 and m.weight.grad[5].abs().sum().item() > 0


def test_from_pretrained():
    w = torch.tensor([[1.0, 2.3, 3.0], [4.0, 5.1, 6.3]])
    m = torch.nn.EmbeddingBag.from_pretrained(w)
    assert not m.weight.requires_grad and m.mode == "mean"
    assert repr(m) == "EmbeddingBag(2, 3, mode='mean')"
    np.testing.assert_allclose(m(torch.tensor([[1, 0]])).numpy(), [[2.5, 3.7, 4.65]], rtol=1e-6)
    m = torch.nn.EmbeddingBag.from_pretrained(w, freeze=False, mode="max", padding_idx=1)
    assert m.weight.requires_grad and m.padding_idx == 1
    assert m(torch.tensor([[1, 0]])).tolist() == [[1.0, 2.299999952316284, 3.0]]
    with pytest.raises(
        AssertionError, match="Embeddings parameter is expected to be 2-dimensional"
    ):
        torch.nn.EmbeddingBag.from_pretrained(torch.ones(3))


def test_module_state_dict_round_trip():
    a, b = torch.nn.EmbeddingBag(4, 2), torch.nn.EmbeddingBag(4, 2)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.weight, b.weight)


# ---- property test against a slow reference --------------------------------------------------


def slow_reference(w, idx, bounds, mode, psw, padding):
    """Bag by bag in Python floats."""
    dim = len(w[0])
    out = []
    for b in range(len(bounds) - 1):
        rows = [(j, idx[j]) for j in range(bounds[b], bounds[b + 1]) if idx[j] != padding]
        if not rows:
            out.append([0.0] * dim)
        elif mode == "max":
            out.append([max(w[r][k] for _, r in rows) for k in range(dim)])
        else:
            s = [sum((psw[j] if psw else 1.0) * w[r][k] for j, r in rows) for k in range(dim)]
            out.append([v / len(rows) for v in s] if mode == "mean" else s)
    return out


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    dim=st.integers(1, 4),
    data=st.data(),
    mode=st.sampled_from(["sum", "mean", "max"]),
    use_psw=st.booleans(),
    include_last=st.booleans(),
    use_pad=st.booleans(),
)
def test_property_matches_slow_reference(rows, dim, data, mode, use_psw, include_last, use_pad):
    idx = data.draw(st.lists(st.integers(0, rows - 1), max_size=12))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(idx)), max_size=5)))
    offsets = [0] + cuts
    bounds = offsets if include_last else offsets + [len(idx)]
    w = [
        [data.draw(st.floats(-4, 4, allow_nan=False, width=32)) for _ in range(dim)]
        for _ in range(rows)
    ]
    psw = [data.draw(st.floats(0, 2, width=32)) for _ in idx] if use_psw and mode == "sum" else None
    padding = data.draw(st.integers(0, rows - 1)) if use_pad else None
    got = F.embedding_bag(
        torch.tensor(idx, dtype=torch.int64).reshape(len(idx)),
        torch.tensor(w, dtype=torch.float64),
        torch.tensor(offsets),
        mode=mode,
        per_sample_weights=None
        if psw is None
        else torch.tensor(psw, dtype=torch.float64).reshape(len(idx)),
        include_last_offset=include_last,
        padding_idx=padding,
    )
    want = slow_reference(w, idx, bounds, mode, psw, padding)
    assert got.shape == (len(bounds) - 1, dim)
    if want:
        np.testing.assert_allclose(got.numpy(), np.array(want), rtol=1e-12, atol=1e-12)


# ---- wgpu --------------------------------------------------------------------------------------

DEVICE_DTYPES = [torch.float32] + ([torch.float64] if HAS_F64 else [])


def _device_case_ok(case):
    return HAS_I64 or case["options"].get("int32")


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", DEVICE_DTYPES)
def test_wgpu_matches_cpu(name, dtype):
    case = DATA[name]
    if not _device_case_ok(case):
        pytest.skip("the adapter has no int64")
    out_c, gw_c, gp_c = run(case, dtype)
    out_d, gw_d, gp_d = run(case, dtype, "wgpu")
    assert out_d.device.type == "wgpu" and gw_d.device.type == "wgpu"
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    close(out_d, out_c.detach().cpu().tolist(), tol)
    close(gw_d, gw_c.tolist(), tol)
    if gp_c is not None:
        close(gp_d, gp_c.tolist(), tol)


@pytest.mark.wgpu
@wgpu
def test_wgpu_forward_reads_back_only_a_status_word():
    w = torch.randn(50, 8).to("wgpu")
    x = torch.randint(0, 50, (40,), dtype=torch.int32).to("wgpu")
    o = torch.tensor([0, 5, 5, 17, 30], dtype=torch.int32).to("wgpu")
    torch.wgpu.synchronize()
    before = torch.wgpu.memory_stats()
    out = F.embedding_bag(x, w, o, mode="max")
    after = torch.wgpu.memory_stats()
    assert after["readbacks"] - before["readbacks"] <= 1
    assert after["readback_bytes"] - before["readback_bytes"] <= 4
    ref = F.embedding_bag(x.cpu(), w.cpu(), o.cpu(), mode="max")
    np.testing.assert_allclose(out.cpu().numpy(), ref.numpy(), rtol=0, atol=0)


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize(
    "x,o,msg",
    [
        ([0, 5], [0], "Index 1 of input takes value 5 which is not in the valid range [0, 4)"),
        ([0, -1], [0], "Index 1 of input takes value -1 which is not in the valid range [0, 4)"),
        ([0, 1, 2, 3], [1, 2], "offsets[0] has to be 0"),
        (
            [0, 1, 2, 3],
            [0, 5],
            "offsets[-1] can not be greater than input's length 4 but got offsets[-1] of 5",
        ),
        ([0, 1, 2, 3], [0, 3, 2], "offsets has to be a non-decreasing sequence"),
    ],
)
def test_wgpu_errors_match_cpu(x, o, msg):
    w = torch.zeros(4, 3, device="wgpu")
    xd = torch.tensor(x, dtype=torch.int32, device="wgpu")
    od = torch.tensor(o, dtype=torch.int32, device="wgpu")
    with pytest.raises(RuntimeError) as e:
        F.embedding_bag(xd, w, od)
    assert msg in str(e.value)


@pytest.mark.wgpu
@wgpu
def test_wgpu_gradgrad_matches_cpu():
    w, x, o = _gradcheck_inputs()
    outs = []
    for dev in ("cpu", "wgpu"):
        wd = w.detach().to(torch.float32).to(dev).requires_grad_()
        y = F.embedding_bag(x.to(dev), wd, o.to(dev), mode="mean")
        (g,) = torch.autograd.grad((y * y).sum(), wd, create_graph=True)
        (gg,) = torch.autograd.grad(g.sum(), wd)
        outs.append((g.detach().cpu().numpy(), gg.cpu().numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
