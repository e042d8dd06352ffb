"""Poolings: F.max_pool*/avg_pool*/adaptive_*/lp_pool*/max_unpool* and their nn modules
against PyTorch's numbers (tests/data/modules_pool.*, the tier-3 pooling cases of
tests/data/ops.*, and tests/data/pool_extra.* from tools/make_reference_pool.py), a NumPy
reference for other shapes, gradcheck and gradgradcheck over a grid of configurations, reprs,
grad_fn names and error messages, on the CPU and the wgpu device."""

import itertools
import json
import math
import pathlib

import module_cases
import numpy as np
import pytest
from reference_cases import check_case, tier

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck

DATA = pathlib.Path(__file__).parent / "data"
MODULES, MODULE_ARRAYS = module_cases.load("pool")
PRINTING = json.loads((DATA / "printing_pool.json").read_text())["cases"]
_EXTRA = json.loads((DATA / "pool_extra.json").read_text())
EXTRA, ERRORS = _EXTRA["cases"], _EXTRA["errors"]
with np.load(DATA / "pool_extra.npz") as _f:
    EXTRA_ARRAYS = {k: _f[k] for k in _f.files}
OPS = [c for c in tier(3) if "pool" in c["expr"]]
DTYPES = {"float64": (rgrad.float64, 1e-7), "float32": (rgrad.float32, 3e-4)}


def host(t):
    return t.detach().cpu().numpy()


# ---- PyTorch's modules and ops ------------------------------------------------------------


def run_module_case(case, precision, device="cpu"):
    dtype, tol = DTYPES[precision]
    module_cases.run(case, MODULE_ARRAYS, dtype, tol, device)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases(case, precision):
    run_module_case(case, precision)


def test_every_pooling_module_case_is_here():
    assert len(MODULES) == 11
    assert all(
        c["name"].startswith(("max_pool", "max_unpool", "avg_pool", "adaptive_")) for c in MODULES
    )


def test_the_tier3_pooling_ops_are_here():
    assert sorted(c["name"] for c in OPS) == [
        "adaptive_avg_pool2d",
        "avg_pool2d",
        "max_pool2d",
        "max_pool2d_stride",
    ]


@pytest.mark.parametrize("case", OPS, ids=lambda c: c["name"])
def test_ops_float64(case):
    check_case(case, "float64", 1e-10)


@pytest.mark.parametrize("case", OPS, ids=lambda c: c["name"])
def test_ops_float32(case):
    check_case(case, "float32", 1e-4)


def run_extra_case(case, precision, device="cpu"):
    name = case["name"]
    arr = lambda key: EXTRA_ARRAYS[f"{name}/{key}"]  # noqa: E731
    x_np = arr("in/x")
    if case["dtype"] == "int64":
        x = rgrad.tensor(x_np, device=device)
        tol = 0
    else:
        dtype, tol = DTYPES[precision]
        x = rgrad.tensor(x_np, dtype=dtype, device=device).requires_grad_(case["grad"])
    out = eval(case["expr"], {"F": F, "x": x, "torch": rgrad})
    outs = list(out) if isinstance(out, tuple) else [out]
    assert len(outs) == case["outputs"]
    loss = 0
    for i, o in enumerate(outs):
        assert str(o.device).startswith(device)
        want = arr(f"out/{i}")
        assert host(o).shape == want.shape
        if want.dtype.kind in "iu" or tol == 0:
            np.testing.assert_array_equal(host(o), want)
        else:
            np.testing.assert_allclose(host(o), want, rtol=tol, atol=tol)
        if case["grad"] and f"{name}/cot/{i}" in EXTRA_ARRAYS:
            loss = loss + (o * rgrad.tensor(arr(f"cot/{i}"), dtype=o.dtype, device=device)).sum()
    if case["grad"]:
        loss.backward()
        np.testing.assert_allclose(host(x.grad), arr("grad/x"), rtol=tol, atol=tol)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", EXTRA, ids=lambda c: c["name"])
def test_extra_reference_cases(case, precision):
    run_extra_case(case, precision)


# ---- a plain reference, for shapes the recorded cases do not reach -----------------------


def naive_pool(x, k, s, p, d, ceil_mode, mode, count_include_pad=True, divisor=None):
    """N-d max/avg pooling as PyTorch defines it, in plain Python over NumPy (float64)."""
    nd = len(k)
    lead, size = x.shape[:-nd], x.shape[-nd:]

    def out_len(n, k, s, p, d):
        o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        return o

    outs = [out_len(size[i], k[i], s[i], p[i], d[i]) for i in range(nd)]
    out = np.zeros(lead + tuple(outs))
    for o in itertools.product(*[range(v) for v in outs]):
        if mode == "max":
            axes = [[o[i] * s[i] - p[i] + j * d[i] for j in range(k[i])] for i in range(nd)]
            axes = [[a for a in ax if 0 <= a < size[i]] for i, ax in enumerate(axes)]
            block = x[(Ellipsis, *np.ix_(*axes))] if nd > 1 else x[..., axes[0]]
            out[(Ellipsis, *o)] = block.reshape(lead + (-1,)).max(-1)
        else:
            starts = [o[i] * s[i] - p[i] for i in range(nd)]
            ends = [min(starts[i] + k[i], size[i] + p[i]) for i in range(nd)]
            pool = math.prod(ends[i] - starts[i] for i in range(nd))
            lo = [max(a, 0) for a in starts]
            hi = [min(b, size[i]) for i, b in enumerate(ends)]
            sl = tuple(slice(lo[i], hi[i]) for i in range(nd))
            block = x[(Ellipsis, *sl)].reshape(lead + (-1,))
            div = divisor or (pool if count_include_pad else block.shape[-1])
            out[(Ellipsis, *o)] = block.sum(-1) / div
    return out


def naive_adaptive(x, out_size, mode):
    nd = len(out_size)
    lead, size = x.shape[:-nd], x.shape[-nd:]
    out = np.zeros(lead + tuple(out_size))
    for o in itertools.product(*[range(v) for v in out_size]):
        sl = tuple(
            slice((o[i] * size[i]) // out_size[i], -((-(o[i] + 1) * size[i]) // out_size[i]))
            for i in range(nd)
        )
        block = x[(Ellipsis, *sl)].reshape(lead + (-1,))
        out[(Ellipsis, *o)] = block.max(-1) if mode == "max" else block.mean(-1)
    return out


POOL_GRID = [
    # nd, shape, k, s, p, d, ceil
    (1, (2, 3, 13), (3,), (2,), (1,), (2,), False),
    (1, (3, 10), (4,), (3,), (2,), (1,), True),
    (2, (2, 2, 9, 11), (3, 2), (2, 1), (1, 0), (1, 2), True),
    (2, (40, 2, 12, 12), (2, 2), (2, 2), (0, 0), (1, 1), False),  # planes split over threads
    (2, (1, 1, 70, 70), (3, 3), (2, 2), (1, 1), (1, 1), True),
    (3, (1, 2, 6, 7, 5), (2, 3, 2), (2, 2, 1), (1, 1, 0), (1, 1, 2), True),
    (3, (2, 5, 6, 4), (3, 2, 2), (1, 2, 2), (1, 0, 1), (1, 1, 1), False),
]


@pytest.mark.parametrize("nd,shape,k,s,p,d,ceil", POOL_GRID)
def test_max_pool_matches_the_definition(nd, shape, k, s, p, d, ceil):
    x = np.random.default_rng(0).standard_normal(shape)
    f = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
    got, idx = f(rgrad.tensor(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
    np.testing.assert_allclose(got.numpy(), naive_pool(x, k, s, p, d, ceil, "max"), rtol=0)
    # The indices address the winners in each flattened input plane.
    planes = x.reshape(-1, math.prod(shape[-nd:]))
    flat_idx = idx.numpy().reshape(planes.shape[0], -1)
    np.testing.assert_array_equal(
        np.take_along_axis(planes, flat_idx, 1), got.numpy().reshape(planes.shape[0], -1)
    )


@pytest.mark.parametrize("nd,shape,k,s,p,d,ceil", POOL_GRID)
@pytest.mark.parametrize("include_pad,divisor", [(True, None), (False, None), (True, 3)])
def test_avg_pool_matches_the_definition(nd, shape, k, s, p, d, ceil, include_pad, divisor):
    if nd == 1 and divisor is not None:
        pytest.skip("avg_pool1d has no divisor_override")
    x = np.random.default_rng(1).standard_normal(shape)
    one = (1,) * nd
    args = dict(ceil_mode=ceil, count_include_pad=include_pad)
    if nd > 1:
        args["divisor_override"] = divisor
    f = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
    got = f(rgrad.tensor(x), k, s, p, **args)
    want = naive_pool(x, k, s, p, one, ceil, "avg", include_pad, divisor)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "shape,out",
    [
        ((2, 3, 10), (3,)),
        ((2, 3, 7, 9), (4, 2)),
        ((3, 5, 5), (5, 3)),
        ((1, 2, 7, 5, 6), (3, 2, 4)),
        ((2, 3, 4), (9,)),
    ],
)
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_adaptive_matches_the_definition(shape, out, mode):
    x = np.random.default_rng(2).standard_normal(shape)
    nd = len(out)
    f = getattr(F, f"adaptive_{mode}_pool{nd}d")
    got = f(rgrad.tensor(x), out)
    np.testing.assert_allclose(got.numpy(), naive_adaptive(x, out, mode), rtol=1e-12, atol=1e-12)


def test_strided_input_reads_the_same_values():
    x = rgrad.tensor(np.random.default_rng(3).standard_normal((2, 3, 6, 7))).transpose(2, 3)
    for f in (F.max_pool2d, F.avg_pool2d):
        np.testing.assert_array_equal(f(x, 2).numpy(), f(x.contiguous(), 2).numpy())


# ---- gradients ---------------------------------------------------------------------------


def distinct(shape, seed=0):
    """float64 values without ties (max pooling's gradient is then defined everywhere)."""
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    v = (rng.permutation(n) + rng.uniform(0.1, 0.9, n)) / n - 0.5
    return rgrad.tensor(v.reshape(shape), dtype=rgrad.float64, requires_grad=True)


GRAD_GRID = [
    ("max_pool1d", (2, 2, 9), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ("max_pool1d", (2, 7), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ("max_pool2d", (1, 2, 6, 7), dict(kernel_size=(3, 2), stride=(2, 1), padding=1)),
    ("max_pool2d", (2, 5, 5), dict(kernel_size=2, dilation=2, ceil_mode=True)),
    ("max_pool3d", (1, 1, 4, 5, 4), dict(kernel_size=2, stride=(1, 2, 1), padding=(1, 0, 1))),
    ("avg_pool1d", (2, 2, 9), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg_pool2d", (1, 2, 6, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d", (2, 5, 5), dict(kernel_size=2, stride=1, divisor_override=3)),
    (
        "avg_pool3d",
        (1, 1, 4, 5, 4),
        dict(kernel_size=2, stride=(1, 2, 1), padding=1, count_include_pad=False),
    ),
    ("adaptive_avg_pool1d", (2, 2, 7), dict(output_size=3)),
    ("adaptive_avg_pool2d", (1, 2, 5, 7), dict(output_size=(3, 4))),
    ("adaptive_avg_pool3d", (2, 4, 3, 5), dict(output_size=(3, 2, 2))),
    ("adaptive_max_pool1d", (2, 2, 7), dict(output_size=3)),
    ("adaptive_max_pool2d", (1, 2, 5, 7), dict(output_size=(3, 4))),
    ("adaptive_max_pool3d", (1, 1, 4, 3, 5), dict(output_size=(3, 2, 2))),
    ("lp_pool2d", (1, 2, 4, 6), dict(norm_type=2, kernel_size=2)),
]


@pytest.mark.parametrize("name,shape,kw", GRAD_GRID, ids=lambda v: str(v))
def test_gradcheck_and_gradgradcheck(name, shape, kw):
    x = distinct(shape)
    if name.startswith("lp"):
        x = (x.detach().abs() + 0.2).requires_grad_()
    f = getattr(F, name)
    fn = lambda t: f(t, **kw)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_max_unpool_gradcheck_and_gradgradcheck():
    x = distinct((2, 2, 6, 6))
    _, idx = F.max_pool2d(x.detach(), 2, return_indices=True)
    v = distinct((2, 2, 3, 3), seed=1)
    fn = lambda t: F.max_unpool2d(t, idx, 2)  # noqa: E731
    assert gradcheck(fn, (v,))
    assert gradgradcheck(fn, (v,))


def test_double_backward_nodes_are_pytorchs():
    """The gradient nodes carry PyTorch's names (seen when the output gradient itself has a
    history; PyTorch also links them to the input, which rgrad's linear rules do not need)."""
    x = rgrad.ones(1, 1, 4, 4, requires_grad=True)
    for f, name in [
        (lambda t: F.max_pool2d(t, 2), "MaxPool2DWithIndicesBackwardBackward0"),
        (lambda t: F.avg_pool2d(t, 2), "AvgPool2DBackwardBackward0"),
        (lambda t: F.adaptive_avg_pool2d(t, 3), "AdaptiveAvgPool2DBackwardBackward0"),
        (lambda t: F.adaptive_max_pool2d(t, 3), "AdaptiveMaxPool2DBackwardBackward0"),
    ]:
        out = f(x)
        v = rgrad.ones(out.shape, requires_grad=True)
        (g,) = rgrad.autograd.grad(out, x, grad_outputs=v, create_graph=True)
        assert g.grad_fn.name() == name


@pytest.mark.parametrize(
    "expr,name",
    [
        ("F.max_pool1d(x1, 2)", "SqueezeBackward1"),
        ("F.max_pool3d(x3, 2)", "MaxPool3DWithIndicesBackward0"),
        ("F.avg_pool1d(x1, 2)", "SqueezeBackward1"),
        ("F.avg_pool3d(x3, 2)", "AvgPool3DBackward0"),
        ("F.adaptive_avg_pool2d(x2, 3)", "AdaptiveAvgPool2DBackward0"),
        ("F.adaptive_avg_pool3d(x3, 3)", "AdaptiveAvgPool3DBackward0"),
        ("F.adaptive_max_pool2d(x2, 3)", "AdaptiveMaxPool2DBackward0"),
        ("F.adaptive_max_pool3d(x3, 3)", "AdaptiveMaxPool3DBackward0"),
        ("F.max_unpool2d(*F.max_pool2d(x2, 2, return_indices=True), 2)", "MaxUnpool2DBackward0"),
        ("F.max_unpool3d(*F.max_pool3d(x3, 2, return_indices=True), 2)", "MaxUnpool3DBackward0"),
        ("F.lp_pool2d(x2, 2, 2)", "PowBackward0"),
    ],
)
def test_grad_fn_names(expr, name):
    env = {
        "F": F,
        "x1": rgrad.randn(2, 3, 8, requires_grad=True),
        "x2": rgrad.randn(2, 3, 8, 8, requires_grad=True),
        "x3": rgrad.randn(2, 3, 6, 6, 6, requires_grad=True),
    }
    assert eval(expr, env).grad_fn.name() == name


def test_nan_wins_its_window_and_its_gradient():
    x = rgrad.tensor(
        [[[[1.0, float("nan"), 3.0, 2.0], [0.0, 5.0, 4.0, float("nan")]]]], requires_grad=True
    )
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    assert math.isnan(out[0, 0, 0, 0].item()) and math.isnan(out[0, 0, 0, 1].item())
    assert idx.flatten().tolist() == [1, 7]
    out.sum().backward()
    assert x.grad.flatten().tolist() == [0, 1, 0, 0, 0, 0, 0, 1]


def test_two_by_two_windows_take_the_first_maximum():
    """The 2x2 / stride 2 loop on odd sizes (the last row and column left out), with ties and
    -inf windows: the index is the first maximum in window order (row by row), as in PyTorch."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (2, 3, 7, 9)).astype(np.float64)
    x[0, 0, :2, :2] = -np.inf
    out, idx = F.max_pool2d(rgrad.tensor(x), 2, return_indices=True)
    # [.., oy, ox, window position] with the window read row by row.
    win = x[..., :6, :8].reshape(2, 3, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5)
    win = win.reshape(2, 3, 3, 4, 4)
    first = win.argmax(-1)
    oy, ox = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    want = (2 * oy + first // 2) * 9 + 2 * ox + first % 2
    np.testing.assert_array_equal(idx.numpy(), want)
    np.testing.assert_array_equal(out.numpy(), win.max(-1))
    assert idx[0, 0, 0, 0].item() == 0 and out[0, 0, 0, 0].item() == -math.inf


# ---- reprs, names, errors ----------------------------------------------------------------


@pytest.mark.parametrize("case", PRINTING, ids=lambda c: c["expr"][:60])
def test_printing_cases(case):
    env = {"torch": rgrad, "nn": nn, "F": F}
    exec(case["setup"], env)
    if "raises" in case:
        with pytest.raises(Exception) as info:
            eval(case["expr"], env)
        assert (type(info.value).__name__, str(info.value)) == (case["raises"], case["message"])
    else:
        assert str(eval(case["expr"], env)) == case["str"]


@pytest.mark.parametrize(
    "expr,text",
    [
        (
            "nn.MaxPool3d((1, 2, 2), return_indices=True)",
            "MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2), padding=0, dilation=1, "
            "ceil_mode=False)",
        ),
        ("nn.MaxUnpool2d(2)", "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"),
        ("nn.MaxUnpool1d(3, 2)", "MaxUnpool1d(kernel_size=(3,), stride=(2,), padding=(0,))"),
        ("nn.AvgPool3d(2, stride=1)", "AvgPool3d(kernel_size=2, stride=1, padding=0)"),
        ("nn.AdaptiveAvgPool3d((None, 2, 3))", "AdaptiveAvgPool3d(output_size=(None, 2, 3))"),
        ("nn.AdaptiveMaxPool1d(4)", "AdaptiveMaxPool1d(output_size=4)"),
        ("nn.LPPool2d(2, 3)", "LPPool2d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"),
    ],
)
def test_more_reprs(expr, text):
    assert repr(eval(expr, {"nn": nn})) == text


def test_module_paths_and_top_level_names():
    from rgrad.nn.modules.pooling import MaxPool2d

    assert MaxPool2d is nn.MaxPool2d
    x = rgrad.randn(1, 2, 8)
    np.testing.assert_array_equal(rgrad.max_pool1d(x, 2).numpy(), F.max_pool1d(x, 2).numpy())
    np.testing.assert_array_equal(rgrad.avg_pool1d(x, 2).numpy(), F.avg_pool1d(x, 2).numpy())
    np.testing.assert_array_equal(
        rgrad.adaptive_avg_pool1d(x, 3).numpy(), F.adaptive_avg_pool1d(x, 3).numpy()
    )
    v, i = rgrad.adaptive_max_pool1d(x, 3)
    assert i.dtype == rgrad.int64 and v.shape == (1, 2, 3)
    x4 = rgrad.randn(1, 2, 6, 6)
    np.testing.assert_array_equal(rgrad.max_pool2d(x4, 2).numpy(), F.max_pool2d(x4, 2).numpy())
    assert F.max_pool2d_with_indices(x4, 2)[1].dtype == rgrad.int64


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c["expr"][:70])
def test_error_messages_are_pytorchs(case):
    env = {
        "F": F,
        "torch": rgrad,
        "x1": rgrad.randn(2, 3, 8),
        "x2": rgrad.randn(2, 3, 8, 8),
        "x3": rgrad.randn(2, 3, 6, 6, 6),
    }
    with pytest.raises(Exception) as info:
        eval(case["expr"], env)
    assert type(info.value).__name__ == case["raises"]
    assert str(info.value) == case["message"]


@pytest.mark.parametrize(
    "call",
    [
        lambda x: F.max_pool2d(x, 2**40),
        lambda x: F.max_pool2d(x, 2, stride=2**63 - 1),
        lambda x: F.avg_pool2d(x, 3, padding=-(2**62)),
        lambda x: F.adaptive_avg_pool2d(x, 2**62),
        lambda x: F.adaptive_max_pool2d(x, (2**40, 2**40)),
        lambda x: F.max_unpool2d(x, rgrad.zeros(1, 1, 4, 4, dtype=rgrad.int64), 2**62),
        lambda x: F.max_pool3d(x.reshape(1, 1, 1, 4, 4), (1, 2**31, 2)),
        lambda x: F.avg_pool2d(x, -3),
    ],
)
def test_hostile_sizes_raise(call):
    x = rgrad.randn(1, 1, 4, 4)
    with pytest.raises((RuntimeError, ValueError, OverflowError)):
        call(x)


def test_zero_batch_and_zero_output():
    assert F.max_pool2d(rgrad.ones(0, 3, 4, 4), 2).shape == (0, 3, 2, 2)
    assert F.avg_pool2d(rgrad.ones(0, 3, 4, 4), 2).shape == (0, 3, 2, 2)
    assert F.adaptive_avg_pool2d(rgrad.ones(2, 0, 4, 4), 2).shape == (2, 0, 2, 2)
    x = rgrad.randn(2, 3, 5, 5, requires_grad=True)
    out = F.adaptive_max_pool2d(x, 0)
    assert out.shape == (2, 3, 0, 0)
    out.sum().backward()
    assert x.grad.abs().sum().item() == 0


def test_large_pool_releases_and_runs_in_parallel_consistently():
    x = rgrad.tensor(
        np.random.default_rng(5).standard_normal((32, 16, 32, 32)), dtype=rgrad.float32
    )
    x.requires_grad_()
    out = F.max_pool2d(x, 2)
    out.backward(rgrad.ones_like(out))
    # Every window of a 2x2/2 pooling has exactly one winner.
    assert x.grad.sum().item() == out.numel()
    want = x.detach().numpy().reshape(32, 16, 16, 2, 16, 2).max((3, 5))
    np.testing.assert_array_equal(out.detach().numpy(), want)


# ---- the wgpu device ---------------------------------------------------------------------


@pytest.mark.wgpu
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases_on_wgpu(case):
    run_module_case(case, "float32", device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize("case", OPS, ids=lambda c: c["name"])
def test_ops_on_wgpu(case):
    check_case(case, "float32", 1e-4, device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize(
    "case", [c for c in EXTRA if c["dtype"] != "int64"], ids=lambda c: c["name"]
)
def test_extra_reference_cases_on_wgpu(case):
    run_extra_case(case, "float32", device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize("name,shape,kw", GRAD_GRID[::3], ids=lambda v: str(v))
def test_double_backward_on_wgpu_matches_cpu(name, shape, kw):
    results = []
    for device in ("cpu", "wgpu"):
        x = distinct(shape).detach().float().to(device).requires_grad_()
        if name.startswith("lp"):
            x = (x.detach().abs() + 0.2).requires_grad_()
        out = getattr(F, name)(x, **kw)
        (g,) = rgrad.autograd.grad((out * out).sum(), x, create_graph=True)
        (gg,) = rgrad.autograd.grad((g * g).sum(), x)
        results.append((host(out), host(g), host(gg)))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
