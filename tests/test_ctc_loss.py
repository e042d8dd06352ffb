"""``nn.functional.ctc_loss``, ``nn.CTCLoss`` and ``torch.ctc_loss`` (rgrad_core::ops::ctc):
values and gradients against PyTorch (tests/data/ctc_loss.json, made by
tools/gen_ctc_reference.py), the accepted argument forms, PyTorch's errors, gradcheck, a
brute-force property test, and the same cases on the wgpu device."""

import itertools
import json
import math
import os
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgrad as torch
import rgrad.nn.functional as F
from rgrad import nn

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "ctc_loss.json").read_text())
CASES = DATA["cases"]
IDS = [c["name"] for c in CASES]

REQUIRED = os.environ.get("RGRAD_REQUIRE_WGPU") == "1"
AVAILABLE = torch.wgpu.is_available()
HAS_F64 = AVAILABLE and torch.wgpu.supports_dtype(torch.float64)


def arr(d):
    vals = [float(v) for v in d["data"]]
    return np.array(vals, dtype=np.float64).reshape(d["shape"])


def tol(dtype):
    return dict(rtol=1e-10, atol=1e-10) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)


def run(case, device="cpu", dtype=None):
    """The case's loss, gradient wrt the logits and wrt the log probabilities."""
    dtype = getattr(torch, dtype or case["dtype"])
    x = torch.tensor(arr(case["x"]), dtype=dtype, device=device).requires_grad_()
    lp = F.log_softmax(x, -1)
    lp.retain_grad()
    tg = case["targets"]
    targets = torch.tensor(tg["data"], dtype=torch.int64).reshape(tg["shape"]).to(device)
    out = F.ctc_loss(
        lp,
        targets,
        case["input_lengths"],
        case["target_lengths"],
        blank=case["blank"],
        reduction=case["reduction"],
        zero_infinity=case["zero_infinity"],
    )
    cot = torch.tensor(arr(case["cot"]), dtype=dtype, device=device)
    (out * cot).sum().backward()
    return out, x.grad, lp.grad


def close(got, want, **kw):
    got = got.detach().cpu().numpy().astype(np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got, want, equal_nan=True, **kw)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_against_pytorch(case):
    out, gx, glp = run(case)
    assert out.dtype == getattr(torch, case["dtype"])
    close(out, arr(case["out"]), **tol(case["dtype"]))
    close(gx, arr(case["grad_x"]), **tol(case["dtype"]))
    close(glp, arr(case["grad_lp"]), **tol(case["dtype"]))


def small(dtype=torch.float64, requires_grad=False):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6, 2, 4, generator=gen, dtype=dtype)
    lp = F.log_softmax(x, 2)
    if requires_grad:
        lp.requires_grad_()
    return lp, torch.tensor([[1, 2, 2], [3, 1, 0]]), [6, 5], [3, 2]


def test_argument_forms_agree():
    lp, tg, il, tl = small()
    ref = F.ctc_loss(lp, tg, il, tl, reduction="none")
    forms = [
        (tg, tuple(il), tuple(tl)),
        (tg, torch.tensor(il), torch.tensor(tl)),
        (tg, torch.tensor(il, dtype=torch.int32), torch.tensor([tl], dtype=torch.int32)),
        (tg.int(), il, tl),
        (tg.double(), il, tl),
        (torch.tensor([1, 2, 2, 3, 1]), il, tl),  # concatenated
        (tg.t().contiguous().t(), il, tl),  # strided targets
    ]
    for t, a, b in forms:
        np.testing.assert_array_equal(
            F.ctc_loss(lp, t, a, b, reduction="none").numpy(), ref.numpy()
        )
    strided = lp.transpose(0, 1).contiguous().transpose(0, 1)
    np.testing.assert_array_equal(
        F.ctc_loss(strided, tg, il, tl, reduction="none").numpy(), ref.numpy()
    )
    # reductions from the per-sample losses
    np.testing.assert_allclose(F.ctc_loss(lp, tg, il, tl, reduction="sum").item(), ref.sum().item())
    mean = (ref / torch.tensor([3.0, 2.0], dtype=torch.float64)).mean().item()
    np.testing.assert_allclose(F.ctc_loss(lp, tg, il, tl).item(), mean, rtol=1e-14)


def test_module_and_top_level():
    lp, tg, il, tl = small()
    assert repr(nn.CTCLoss()) == "CTCLoss()"
    assert repr(nn.CTCLoss(blank=2, reduction="sum", zero_infinity=True)) == "CTCLoss()"
    m = nn.CTCLoss(blank=0, reduction="sum")
    assert (m.blank, m.reduction, m.zero_infinity) == (0, "sum", False)
    assert m(lp, tg, il, tl).item() == F.ctc_loss(lp, tg, il, tl, reduction="sum").item()
    for enum, name in ((0, "none"), (1, "mean"), (2, "sum"), (3, "none")):
        got = torch.ctc_loss(lp, tg, il, tl, 0, enum, False)
        np.testing.assert_array_equal(
            got.numpy(), F.ctc_loss(lp, tg, il, tl, reduction=name).numpy()
        )
    assert torch.ctc_loss.__name__ == "ctc_loss"


def test_grad_fns():
    lp, tg, il, tl = small(requires_grad=True)
    assert F.ctc_loss(lp, tg, il, tl, reduction="none").grad_fn.name() == "CtcLossBackward0"
    assert F.ctc_loss(lp, tg, il, tl).grad_fn.name() == "MeanBackward0"
    assert F.ctc_loss(lp, tg, il, tl, reduction="none", zero_infinity=True).grad_fn.name() == (
        "WhereBackward0"
    )
    un = F.ctc_loss(lp[:, 0], tg[0], [6], [3], reduction="none")
    assert un.shape == () and un.grad_fn.name() == "SqueezeBackward1"


def test_unbatched_matches_batch_of_one():
    lp, tg, il, tl = small()
    one = F.ctc_loss(lp[:, 1], tg[1, :2], [5], [2], reduction="none")
    batch = F.ctc_loss(lp[:, 1:2], tg[1:, :2], [5], [2], reduction="none")
    assert one.shape == ()
    assert one.item() == batch[0].item()


def test_gradcheck_through_log_softmax():
    # PyTorch's gradient assumes log_softmax outputs (it is the gradient with respect to the
    # logits), so gradcheck composes with log_softmax, as PyTorch's own tests do.
    gen = torch.Generator().manual_seed(5)
    for tg, il, tl, blank, zi in [
        (torch.tensor([[1, 2, 2], [3, 1, 0]]), [5, 4], [3, 2], 0, False),
        (torch.tensor([1, 1, 2]), [5, 3], [2, 1], 3, False),
        (torch.tensor([[1, 1, 1], [2, 0, 0]]), [4, 5], [3, 1], 0, True),  # first infeasible
    ]:
        x = torch.randn(5, 2, 4, generator=gen, dtype=torch.float64).requires_grad_()
        for red in ("none", "sum", "mean"):

            def f(x, tg=tg, il=il, tl=tl, blank=blank, zi=zi, red=red):
                return F.ctc_loss(x.log_softmax(2), tg, il, tl, blank, red, zi)

            assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-7)


def test_infeasible_gradients():
    lp, tg, _, _ = small(requires_grad=True)
    loss = F.ctc_loss(lp, tg, [2, 5], [3, 2], reduction="none")
    assert math.isinf(loss[0].item()) and math.isfinite(loss[1].item())
    loss.sum().backward()
    g = lp.grad.numpy()
    assert np.isnan(g[:2, 0]).all() and (g[2:, 0] == 0).all()  # as PyTorch
    lp.grad = None
    F.ctc_loss(lp, tg, [2, 5], [3, 2], reduction="sum", zero_infinity=True).backward()
    assert (lp.grad.numpy()[:, 0] == 0).all() and np.isfinite(lp.grad.numpy()).all()


def test_no_double_backward():
    lp, tg, il, tl = small(requires_grad=True)
    (g,) = torch.autograd.grad(F.ctc_loss(lp, tg, il, tl), lp, create_graph=True)
    assert g.requires_grad and g.grad_fn.name() == "NotImplemented"
    with pytest.raises(
        RuntimeError, match="derivative for aten::_ctc_loss_backward is not implemented"
    ):
        g.sum().backward()
    (g2,) = torch.autograd.grad(F.ctc_loss(lp, tg, il, tl), lp)
    np.testing.assert_allclose(g.detach().numpy(), g2.numpy(), rtol=0, atol=0)


CHECKING = r" \(while checking arguments for ctc_loss_allocate_outputs\)"
LP = F.log_softmax(torch.randn(5, 2, 4), 2)
TG = torch.tensor([[1, 2], [1, 1]])
DIM3 = "Expected 3-dimensional tensor, but got {}-dimensional tensor for argument #1 'log_probs'"
TDIM = "Expected 1 to 2 dimensions, but got {}-dimensional tensor for argument #2 'targets'"
SIZE = "Expected tensor to have size {} at dimension {}, but got size {} for argument #2 'targets'"
VAL = "Expected {}_lengths to have value at {} {}, but got value {}"
COMBO = r"ctc_loss\(\) received an invalid combination of arguments - got \({}"
NOT_IMPL = "\"ctc_loss_cpu\" not implemented for '{}'"
RANGE = r"target {} of batch item {} is {}, which is not a class index in the range \[0, 4\)"
ERRORS = [
    (dict(log_probs=LP.long()), NotImplementedError, NOT_IMPL.format("Long")),
    (dict(log_probs=LP.half()), NotImplementedError, NOT_IMPL.format("Half")),
    (dict(log_probs=LP[:0]), RuntimeError, "log_probs tensor must not be empty"),
    (dict(log_probs=LP[:, :, :0]), RuntimeError, "log_probs tensor must not be empty"),
    (dict(log_probs=LP[:, 0, 0]), RuntimeError, DIM3.format(2) + CHECKING),
    (dict(log_probs=LP[None]), RuntimeError, DIM3.format(5)),
    (dict(targets=TG[None]), RuntimeError, TDIM.format(3) + CHECKING),
    (dict(targets=TG[0, 0]), RuntimeError, TDIM.format(0)),
    (dict(blank=-1), RuntimeError, "blank must be in label range"),
    (dict(blank=4), RuntimeError, "blank must be in label range"),
    (dict(input_lengths=[5]), RuntimeError, "input_lengths must be of size batch_size"),
    (dict(target_lengths=[2]), RuntimeError, "target_lengths must be of size batch_size"),
    (dict(input_lengths=[6, 5]), RuntimeError, VAL.format("input", "most", 5, 6) + CHECKING),
    (dict(input_lengths=[-1, 5]), RuntimeError, VAL.format("input", "least", 0, -1)),
    (
        dict(target_lengths=[-1, 2], input_lengths=[9, 5]),
        RuntimeError,
        VAL.format("target", "least", 0, -1),
    ),
    (dict(target_lengths=[3, 2]), RuntimeError, SIZE.format("at least 3", 1, 2) + CHECKING),
    (dict(targets=TG[:1]), RuntimeError, SIZE.format(2, 0, 1)),
    (dict(targets=TG.flatten(), target_lengths=[2, 1]), RuntimeError, SIZE.format(3, 0, 4)),
    (dict(targets=torch.tensor([[1, 7], [1, 1]])), RuntimeError, RANGE.format(1, 0, 7)),
    (dict(targets=torch.tensor([[1, 1], [-2, 1]])), RuntimeError, RANGE.format(0, 1, -2)),
    (dict(reduction="bogus"), ValueError, "bogus is not a valid value for reduction"),
    (
        dict(input_lengths=torch.tensor([5.0, 5.0]), target_lengths=torch.tensor([2, 2])),
        RuntimeError,
        "input_lengths must be integral",
    ),
    (
        dict(input_lengths=torch.tensor([5, 5]), target_lengths=torch.tensor([True, True])),
        RuntimeError,
        "target_lengths must be integral",
    ),
    (
        dict(input_lengths=[5.0, 5.0]),
        TypeError,
        COMBO.format(r"Tensor, Tensor, list, list, int, int, bool\)"),
    ),
    (
        dict(input_lengths=torch.tensor([5, 5])),
        TypeError,
        COMBO.format("Tensor, Tensor, Tensor, list"),
    ),
    (dict(input_lengths=5), TypeError, COMBO.format("Tensor, Tensor, int, list")),
    (dict(input_lengths=None), TypeError, COMBO.format("Tensor, Tensor, NoneType, list")),
    (dict(log_probs=[1.0]), TypeError, COMBO.format("list, Tensor, list, list")),
    (dict(targets=[[1, 2], [1, 1]]), TypeError, COMBO.format("Tensor, list, list, list")),
    (dict(blank=1.0), TypeError, COMBO.format("Tensor, Tensor, list, list, float, int")),
]


@pytest.mark.parametrize("kw,exc,msg", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_errors(kw, exc, msg):
    args = dict(log_probs=LP, targets=TG, input_lengths=[5, 5], target_lengths=[2, 2])
    args.update(kw)
    with pytest.raises(exc, match=msg):
        F.ctc_loss(**args)


def test_unbatched_targets_are_concatenated():
    # (T, C) with 1-d targets: PyTorch reads them as the concatenated form
    with pytest.raises(
        RuntimeError, match="Expected tensor to have size 1 at dimension 0, but got size 2"
    ):
        F.ctc_loss(LP[:, 0], TG[0], [5], [1])
    assert F.ctc_loss(LP[:, 0], TG[:1], [5], [1], reduction="none").shape == ()


def test_torch_ctc_loss_reduction_is_an_int():
    with pytest.raises(TypeError, match="invalid combination of arguments"):
        torch.ctc_loss(LP, TG, [5, 5], [2, 2], 0, "sum")


def collapse(path, blank):
    out = [k for k, _ in itertools.groupby(path)]
    return [k for k in out if k != blank]


def brute_force(lp, target, il, blank, c):
    """-log of the total probability of every path of length il that collapses to target."""
    total = 0.0
    for path in itertools.product(range(c), repeat=il):
        if collapse(path, blank) == target:
            total += math.exp(sum(lp[t][k] for t, k in enumerate(path)))
    return -math.log(total) if total > 0 else math.inf


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_property_brute_force(data):
    t = data.draw(st.integers(1, 5), label="T")
    n = data.draw(st.integers(1, 3), label="N")
    c = data.draw(st.integers(2, 3), label="C")
    blank = data.draw(st.integers(0, c - 1), label="blank")
    labels = [k for k in range(c) if k != blank]
    tl = [data.draw(st.integers(0, 4)) for _ in range(n)]
    il = [data.draw(st.integers(0, t)) for _ in range(n)]
    smax = max(tl)
    rows = [[data.draw(st.sampled_from(labels)) for _ in range(smax)] for _ in range(n)]
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    x = torch.randn(t, n, c, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    lp = F.log_softmax(x * 2, 2)
    targets = torch.tensor(rows, dtype=torch.int64).reshape(n, smax)
    got = F.ctc_loss(lp, targets, il, tl, blank=blank, reduction="none").tolist()
    lpl = lp.tolist()
    for b in range(n):
        want = brute_force([lpl[s][b] for s in range(il[b])], rows[b][: tl[b]], il[b], blank, c)
        assert got[b] >= -1e-12 or math.isnan(got[b])
        if math.isinf(want):
            assert got[b] == math.inf
        else:
            assert got[b] == pytest.approx(want, rel=1e-10, abs=1e-12)


@pytest.mark.wgpu
@pytest.mark.skipif(not REQUIRED and not AVAILABLE, reason="no wgpu adapter")
@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_wgpu_equals_cpu(case, dtype):
    if dtype == "float64" and not HAS_F64:
        pytest.skip("adapter without float64")
    out, gx, glp = run(case, "wgpu", dtype)
    assert str(out.device).startswith("wgpu") and str(glp.device).startswith("wgpu")
    ref_out, ref_gx, ref_glp = run(case, "cpu", dtype)
    # float32 within its rounding (the device's exp/log are not the host's); float64 with the
    # device's software exp/log, a few ulps each
    kw = dict(rtol=1e-9, atol=1e-9) if dtype == "float64" else dict(rtol=1e-4, atol=1e-4)
    for got, want in ((out, ref_out), (gx, ref_gx), (glp, ref_glp)):
        close(got, want.detach().numpy().astype(np.float64), **kw)


@pytest.mark.wgpu
@pytest.mark.skipif(not REQUIRED and not AVAILABLE, reason="no wgpu adapter")
def test_wgpu_errors_and_double_backward():
    lp = LP.to("wgpu").requires_grad_()
    with pytest.raises(RuntimeError, match="target 1 of batch item 0 is 7"):
        F.ctc_loss(lp, torch.tensor([[1, 7], [1, 1]]).to("wgpu"), [5, 5], [2, 2])
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 5"):
        F.ctc_loss(lp, TG, [6, 5], [2, 2])
    (g,) = torch.autograd.grad(F.ctc_loss(lp, TG, [5, 5], [2, 2]), lp, create_graph=True)
    with pytest.raises(RuntimeError, match="derivative for aten::_ctc_loss_backward"):
        g.sum().backward()
