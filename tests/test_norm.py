"""Batch, instance and local response normalization and channel shuffle against PyTorch:
the conformance module cases (tests/data/modules_norm.*, with the running statistics after the
call), the tier-3 ops batch_norm_train/group_norm, several-step runs of the running statistics
(tests/data/norm_steps.*, from tools/make_reference_norm.py), gradcheck and gradgradcheck,
reprs, errors and grad_fn names (tests/data/printing_norm.json), hostile inputs, and the same
cases on the wgpu device."""

import json
import pathlib
import warnings

import module_cases
import numpy as np
import pytest
from reference_cases import check_case, tier

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck

DATA = pathlib.Path(__file__).parent / "data"
MODULES, MODULE_ARRAYS = module_cases.load("norm")
STEPS = json.loads((DATA / "norm_steps.json").read_text())["cases"]
with np.load(DATA / "norm_steps.npz") as _f:
    STEP_ARRAYS = {k: _f[k] for k in _f.files}
PRINTING = json.loads((DATA / "printing_norm.json").read_text())["cases"]
OPS = [c for c in tier(3) if c["name"] in ("batch_norm_train", "group_norm")]
DTYPES = {"float64": (rgrad.float64, 1e-7), "float32": (rgrad.float32, 3e-4)}


def host(t):
    return t.detach().cpu().numpy()


def close(got, want, tol):
    np.testing.assert_allclose(host(got), want, rtol=tol, atol=tol)


# ---- PyTorch's module cases ---------------------------------------------------------------


def run_module_case(case, precision, device="cpu"):
    dtype, tol = DTYPES[precision]
    module_cases.run(case, MODULE_ARRAYS, dtype, tol, device)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases(case, precision):
    run_module_case(case, precision)


def test_every_norm_module_case_is_here():
    names = {c["name"] for c in MODULES}
    assert len(names) == 7 and "local_response_norm" in names and "instance_norm2d" in names


@pytest.mark.parametrize("case", OPS, ids=lambda c: c["name"])
def test_ops_float64(case):
    check_case(case, "float64", 1e-10)


@pytest.mark.parametrize("case", OPS, ids=lambda c: c["name"])
def test_ops_float32(case):
    check_case(case, "float32", 1e-4)


def test_both_ops_cases_are_here():
    assert sorted(c["name"] for c in OPS) == ["batch_norm_train", "group_norm"]


# ---- several calls: running statistics, train/eval, functional cases ---------------------


def run_steps_case(case, precision, device="cpu"):
    dtype, tol = DTYPES[precision]
    name = case["name"]
    arr = lambda key: STEP_ARRAYS[f"{name}/{key}"]  # noqa: E731
    if case["kind"] == "functional":
        env = {"F": F}
        for k in ("x", "w", "b", "rm", "rv"):
            t = rgrad.tensor(arr(f"in/{k}"), dtype=dtype, device=device)
            env[k] = t.requires_grad_(k in case["grads"])
        out = eval(case["expr"], env)
        close(out, arr("out"), tol)
        (out * rgrad.tensor(arr("cot"), dtype=dtype, device=device)).sum().backward()
        for k in case["grads"]:
            close(env[k].grad, arr(f"grad/{k}"), tol)
        for k in ("rm", "rv"):
            close(env[k], arr(f"after/{k}"), tol)
        return
    m = eval(case["ctor"], {"nn": nn}).to(dtype).to(device)
    state = {}
    for k in case["state"]:
        a = arr(f"state/{k}")
        state[k] = rgrad.tensor(a, dtype=rgrad.int64 if a.dtype.kind == "i" else dtype)
    m.load_state_dict(state)
    for i, mode in enumerate(case["modes"]):
        m.train(mode == "train")
        x = rgrad.tensor(arr(f"in/{i}"), dtype=dtype, device=device).requires_grad_()
        out = m(x)
        close(out, arr(f"out/{i}"), tol)
        m.zero_grad()
        (out * rgrad.tensor(arr(f"cot/{i}"), dtype=dtype, device=device)).sum().backward()
        close(x.grad, arr(f"grad/{i}"), tol)
        for k, p in m.named_parameters():
            close(p.grad, arr(f"grad_param/{i}/{k}"), tol)
        for k, b in m.named_buffers():
            want = arr(f"buffer/{i}/{k}")
            if want.dtype.kind == "i":
                assert host(b).tolist() == want.tolist(), (i, k)
            else:
                close(b, want, tol)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", STEPS, ids=lambda c: c["name"])
def test_several_steps_match_pytorch(case, precision):
    if "unbatched" in case["name"] or case["name"].startswith("in"):
        warnings.simplefilter("ignore")
    run_steps_case(case, precision)


# ---- gradcheck / gradgradcheck ------------------------------------------------------------

SHAPES = [(4, 3), (3, 2, 4), (2, 3, 2, 3), (2, 2, 2, 2, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm_gradcheck_and_gradgradcheck(shape, training, affine):
    rgrad.manual_seed(len(shape) + 10 * training + 100 * affine)
    c = shape[1]
    x = rgrad.randn(*shape, dtype=rgrad.float64, requires_grad=True)
    rm = rgrad.randn(c, dtype=rgrad.float64)
    rv = rgrad.rand(c, dtype=rgrad.float64) + 0.5
    inputs = [x]
    if affine:
        inputs.append(rgrad.randn(c, dtype=rgrad.float64, requires_grad=True))
        inputs.append(rgrad.randn(c, dtype=rgrad.float64, requires_grad=True))

    def f(x, w=None, b=None):
        # Fresh statistics per call: training updates them in place.
        return F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=training, momentum=0.3)

    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


def test_batch_norm_weight_without_bias_and_bias_without_weight():
    rgrad.manual_seed(3)
    x = rgrad.randn(3, 2, 4, dtype=rgrad.float64, requires_grad=True)
    w = rgrad.randn(2, dtype=rgrad.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w: F.batch_norm(x, None, None, w, None, True), [x, w])
    assert gradgradcheck(lambda x, b: F.batch_norm(x, None, None, None, b, True), [x, w])


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_gradcheck_and_gradgradcheck(use_input_stats):
    rgrad.manual_seed(5)
    x = rgrad.randn(2, 3, 4, dtype=rgrad.float64, requires_grad=True)
    w = rgrad.randn(3, dtype=rgrad.float64, requires_grad=True)
    b = rgrad.randn(3, dtype=rgrad.float64, requires_grad=True)
    rm, rv = rgrad.randn(3, dtype=rgrad.float64), rgrad.rand(3, dtype=rgrad.float64) + 0.5

    def f(x, w, b):
        return F.instance_norm(x, rm.clone(), rv.clone(), w, b, use_input_stats)

    assert gradcheck(f, [x, w, b])
    assert gradgradcheck(f, [x, w, b])


@pytest.mark.parametrize("shape,size", [((2, 5, 3), 3), ((1, 4, 2, 3), 2), ((2, 3, 2, 2, 2), 4)])
def test_local_response_norm_gradcheck_and_gradgradcheck(shape, size):
    rgrad.manual_seed(7)
    x = rgrad.randn(*shape, dtype=rgrad.float64, requires_grad=True)

    def f(x):
        return F.local_response_norm(x, size, alpha=0.3, beta=0.7, k=1.5)

    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])


def test_grad_fn_names():
    x = rgrad.randn(2, 3, 4, requires_grad=True)
    assert F.batch_norm(x, None, None, training=True).grad_fn.name() == "NativeBatchNormBackward0"
    assert nn.BatchNorm1d(3).eval()(x).grad_fn.name() == "NativeBatchNormBackward0"
    assert F.local_response_norm(x, 2).grad_fn.name() == "DivBackward0"


# ---- reference numbers the recorded cases do not reach: big (parallel) inputs ---------


def numpy_batch_norm(x, w, b, eps):
    axes = (0, *range(2, x.ndim))
    mean = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    view = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean) / np.sqrt(var + eps) * w.reshape(view) + b.reshape(view)


@pytest.mark.parametrize("shape", [(4096, 12), (8, 16, 32, 17), (1, 3, 20000), (3, 40000)], ids=str)
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_large_inputs_match_the_definition(shape, precision):
    dtype, tol = DTYPES[precision]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 100.0  # a large mean: the shifted sums keep precision
    c = shape[1]
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rgrad.zeros(c, dtype=dtype), rgrad.ones(c, dtype=dtype)
    got = F.batch_norm(
        rgrad.tensor(x, dtype=dtype),
        rm,
        rv,
        rgrad.tensor(w, dtype=dtype),
        rgrad.tensor(b, dtype=dtype),
        True,
        1.0,
    )
    np.testing.assert_allclose(host(got), numpy_batch_norm(x, w, b, 1e-5), rtol=tol, atol=tol * 10)
    axes = (0, *range(2, x.ndim))
    np.testing.assert_allclose(host(rm), x.mean(axes), rtol=tol)
    np.testing.assert_allclose(host(rv), x.var(axes, ddof=1), rtol=tol * 10)


def test_large_backward_matches_the_composite():
    rgrad.manual_seed(1)
    x = rgrad.randn(16, 8, 30, 30, dtype=rgrad.float64, requires_grad=True)
    w = rgrad.randn(8, dtype=rgrad.float64, requires_grad=True)
    b = rgrad.randn(8, dtype=rgrad.float64, requires_grad=True)
    cot = rgrad.randn(16, 8, 30, 30, dtype=rgrad.float64)
    fused = rgrad.autograd.grad((F.batch_norm(x, None, None, w, b, True) * cot).sum(), [x, w, b])
    # The composite reference: the same formula in tensor ops.
    mean = x.mean((0, 2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean((0, 2, 3), keepdim=True)
    y = (x - mean) / (var + 1e-5).sqrt() * w.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)
    ref = rgrad.autograd.grad((y * cot).sum(), [x, w, b])
    for a, r in zip(fused, ref):
        np.testing.assert_allclose(host(a), host(r), rtol=1e-9, atol=1e-11)


def test_strided_input_reads_the_same_values():
    rgrad.manual_seed(2)
    x = rgrad.randn(3, 5, 4, 2).transpose(2, 3)[:, 1:]
    got = F.batch_norm(x, None, None, training=True)
    want = F.batch_norm(x.contiguous(), None, None, training=True)
    np.testing.assert_allclose(host(got), host(want), rtol=1e-6)


# ---- modules: names, init, state dicts, modes ----------------------------------------------


def test_parameter_and_buffer_names_and_init():
    m = nn.BatchNorm2d(4)
    assert list(m.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert m.num_batches_tracked.dtype == rgrad.int64 and m.num_batches_tracked.dim() == 0
    assert (host(m.weight) == 1).all() and (host(m.bias) == 0).all()
    assert (host(m.running_var) == 1).all() and (host(m.running_mean) == 0).all()
    assert list(nn.InstanceNorm2d(3).state_dict()) == []
    assert list(nn.BatchNorm1d(3, affine=False).state_dict()) == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert [k for k, _ in nn.BatchNorm3d(2, bias=False).named_parameters()] == ["weight"]


def test_reset_running_stats_and_parameters():
    m = nn.BatchNorm1d(3)
    m(rgrad.randn(5, 3) * 4 + 2)
    with rgrad.no_grad():
        m.weight.fill_(3.0)
    assert int(m.num_batches_tracked) == 1 and not (host(m.running_mean) == 0).all()
    m.reset_running_stats()
    assert int(m.num_batches_tracked) == 0 and (host(m.running_mean) == 0).all()
    assert (host(m.weight) == 3).all()
    m.reset_parameters()
    assert (host(m.weight) == 1).all()


def test_loading_a_state_dict_without_num_batches_tracked():
    """PyTorch's checkpoints before version 2 (or plain dicts) have no num_batches_tracked:
    the module keeps its own count, as PyTorch's _load_from_state_dict does."""
    m = nn.BatchNorm2d(2)
    m(rgrad.randn(3, 2, 2, 2))
    state = {
        "weight": rgrad.full((2,), 2.0),
        "bias": rgrad.zeros(2),
        "running_mean": rgrad.ones(2),
        "running_var": rgrad.full((2,), 3.0),
    }
    m.load_state_dict(state, strict=True)
    assert int(m.num_batches_tracked) == 1
    assert host(m.running_var).tolist() == [3.0, 3.0]
    # With version metadata 2 the key is required.
    versioned = nn.BatchNorm2d(2).state_dict()
    del versioned["num_batches_tracked"]
    with pytest.raises(
        RuntimeError, match='Missing key\\(s\\) in state_dict: "num_batches_tracked"'
    ):
        nn.BatchNorm2d(2).load_state_dict(versioned)


def test_instance_norm_refuses_untracked_running_stats_from_old_checkpoints():
    m = nn.InstanceNorm1d(2)
    with pytest.raises(RuntimeError, match='Unexpected running stats buffer\\(s\\) "running_mean"'):
        m.load_state_dict({"running_mean": rgrad.zeros(2), "running_var": rgrad.ones(2)})


def test_eval_mode_uses_running_stats_and_leaves_them():
    m = nn.BatchNorm1d(2).double()
    x = rgrad.randn(6, 2, dtype=rgrad.float64) * 2 + 1
    m(x)
    before = host(m.running_mean).copy(), host(m.running_var).copy()
    m.eval()
    y = m(x)
    want = (host(x) - before[0]) / np.sqrt(before[1] + 1e-5)
    np.testing.assert_allclose(host(y), want, rtol=1e-12)
    assert (host(m.running_mean) == before[0]).all() and int(m.num_batches_tracked) == 1


def test_untracked_module_uses_batch_stats_in_eval():
    m = nn.BatchNorm2d(2, track_running_stats=False).double().eval()
    x = rgrad.randn(3, 2, 2, 2, dtype=rgrad.float64)
    np.testing.assert_allclose(host(m(x)), host(F.batch_norm(x, None, None, training=True)))


def test_sync_batch_norm_and_conversion():
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.Sequential(nn.BatchNorm1d(3)))
    net[1](rgrad.randn(2, 3, 2, 2))
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(conv[1], nn.SyncBatchNorm) and isinstance(conv[2][0], nn.SyncBatchNorm)
    assert conv[1].weight is net[1].weight and conv[1].running_mean is net[1].running_mean
    assert int(conv[1].num_batches_tracked) == 1
    x = rgrad.randn(4, 3, 5)
    np.testing.assert_allclose(host(nn.SyncBatchNorm(3)(x)), host(nn.BatchNorm1d(3)(x)), rtol=1e-6)
    with pytest.raises(ValueError, match="expected at least 2D input \\(got 1D input\\)"):
        nn.SyncBatchNorm(3)(rgrad.randn(3))
    with pytest.raises(ValueError, match="number of input channels should be non-zero"):
        nn.SyncBatchNorm(0)(rgrad.randn(3, 0))


def test_classes_live_where_pytorch_has_them():
    from rgrad.nn.modules.batchnorm import BatchNorm2d, SyncBatchNorm, _BatchNorm, _NormBase
    from rgrad.nn.modules.channelshuffle import ChannelShuffle
    from rgrad.nn.modules.instancenorm import InstanceNorm1d, _InstanceNorm
    from rgrad.nn.modules.normalization import LocalResponseNorm

    assert issubclass(BatchNorm2d, _BatchNorm) and issubclass(_InstanceNorm, _NormBase)
    assert issubclass(SyncBatchNorm, _BatchNorm) and issubclass(InstanceNorm1d, _NormBase)
    assert nn.ChannelShuffle is ChannelShuffle and nn.LocalResponseNorm is LocalResponseNorm


def test_instance_norm_unbatched_and_num_features_warning():
    m = nn.InstanceNorm1d(3)
    x = rgrad.randn(3, 5)
    np.testing.assert_allclose(host(m(x)), host(m(x.unsqueeze(0)).squeeze(0)), rtol=1e-6)
    with pytest.warns(UserWarning, match="does not match num_features"):
        m(rgrad.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features"):
        nn.InstanceNorm1d(3, affine=True)(rgrad.randn(2, 4, 5))


def test_channel_shuffle_matches_the_definition():
    x = rgrad.arange(2 * 6 * 2, dtype=rgrad.float64).reshape(2, 6, 2)
    got = host(F.channel_shuffle(x, 2))
    want = host(x).reshape(2, 2, 3, 2).transpose(0, 2, 1, 3).reshape(2, 6, 2)
    assert (got == want).all()
    assert (host(nn.ChannelShuffle(3)(x)) == host(F.native_channel_shuffle(x, 3))).all()


def test_a_training_step_reduces_a_loss():
    rgrad.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    x = rgrad.randn(8, 1, 6, 6)
    target = rgrad.randn(8, 4, 6, 6).abs()
    opt = rgrad.optim.SGD(net.parameters(), lr=0.1)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = ((net(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.95 * losses[0] and losses == sorted(losses, reverse=True)


# ---- reprs and errors ---------------------------------------------------------------------


@pytest.mark.parametrize("case", PRINTING, ids=lambda c: c["expr"][:60])
def test_printing_cases(case):
    env = {"torch": rgrad, "nn": nn, "F": F}
    exec(case["setup"], env)
    if "raises" in case:
        with pytest.raises(Exception) as info:
            eval(case["expr"], env)
        message = case["message"].replace("torch.Size", "rgrad.Size")
        assert (type(info.value).__name__, str(info.value)) == (case["raises"], message)
    else:
        assert str(eval(case["expr"], env)) == case["str"]


REPRS = [
    (
        "nn.BatchNorm1d(2, momentum=None)",
        "BatchNorm1d(2, eps=1e-05, momentum=None, affine=True, bias=True, track_running_stats=True)",  # noqa: E501
    ),
    (
        "nn.SyncBatchNorm(2)",
        "SyncBatchNorm(2, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)",  # noqa: E501
    ),
    (
        "nn.InstanceNorm1d(2, affine=True, track_running_stats=True)",
        "InstanceNorm1d(2, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)",  # noqa: E501
    ),
    ("nn.LocalResponseNorm(2)", "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"),
    ("nn.ChannelShuffle(2)", "ChannelShuffle(groups=2)"),
]


@pytest.mark.parametrize("expr,text", REPRS, ids=[r[0] for r in REPRS])
def test_reprs(expr, text):
    assert repr(eval(expr, {"nn": nn})) == text


def _t(*shape, dtype=None):
    return rgrad.ones(*shape, dtype=dtype)


# Recorded with PyTorch 2.15 (CPU).
ERRORS = [
    (
        "F.batch_norm(x, _t(4), _t(3), training=True)",
        RuntimeError,
        "running_mean should contain 3 elements not 4",
    ),
    (
        "F.batch_norm(x, _t(3), _t(4), training=True)",
        RuntimeError,
        "running_var should contain 3 elements not 4",
    ),
    (
        "F.batch_norm(x, None, None, _t(4), training=True)",
        RuntimeError,
        "weight should contain 3 elements not 4",
    ),
    (
        "F.batch_norm(x, None, None, None, _t(2), training=True)",
        RuntimeError,
        "bias should contain 3 elements not 2",
    ),
    (
        "F.batch_norm(x, None, None)",
        RuntimeError,
        "running_mean must be defined in evaluation mode",
    ),
    (
        "F.batch_norm(x, _t(3), None)",
        RuntimeError,
        "running_var must be defined in evaluation mode",
    ),
    (
        "F.batch_norm(_t(3), None, None, training=True)",
        IndexError,
        "Dimension out of range (expected to be in range of [-1, 0], but got 1)",
    ),
    (
        "F.batch_norm(x.long(), None, None, training=True)",
        NotImplementedError,
        "\"batch_norm\" not implemented for 'Long'",
    ),
    (
        "F.batch_norm(x, _t(3, dtype=rgrad.float64), _t(3, dtype=rgrad.float64), training=True)",
        RuntimeError,
        "mixed dtype (CPU): expect parameter to have scalar type of Float",
    ),
    (
        "F.batch_norm(x, None, None, training=True, eps=0)",
        ValueError,
        "batch_norm eps must be positive during training, but got 0",
    ),
    (
        "F.batch_norm(x, _t(3), _t(3), eps=-1)",
        ValueError,
        "batch_norm eps must be non-negative, but got -1",
    ),
    (
        "F.batch_norm(x, None, None, training=True, momentum=None)",
        TypeError,
        "batch_norm(): argument 'momentum' (position 7) must be float, not NoneType",
    ),
    (
        "F.batch_norm(_t(1, 3), None, None, training=True)",
        ValueError,
        "Expected more than 1 value per channel when training, got input size rgrad.Size([1, 3])",
    ),
    ("nn.BatchNorm2d(3)(_t(3, 4, 4))", ValueError, "expected 4D input (got 3D input)"),
    ("nn.BatchNorm1d(3)(_t(3))", ValueError, "expected 2D or 3D input (got 1D input)"),
    ("nn.BatchNorm3d(3)(_t(3, 4, 4, 4))", ValueError, "expected 5D input (got 4D input)"),
    (
        "F.instance_norm(_t(2, 3, 1))",
        ValueError,
        "Expected more than 1 spatial element when training, got input size rgrad.Size([2, 3, 1])",
    ),
    (
        "F.instance_norm(x, _t(2), _t(3))",
        RuntimeError,
        "running_mean should contain 6 elements not 4",
    ),
    (
        "F.instance_norm(x, use_input_stats=False)",
        RuntimeError,
        "Expected running_mean and running_var to be defined when use_input_stats is false",
    ),
    ("nn.InstanceNorm2d(3)(_t(3, 4))", ValueError, "expected 3D or 4D input (got 2D input)"),
    ("nn.InstanceNorm1d(3)(_t(3))", ValueError, "expected 2D or 3D input (got 1D input)"),
    (
        "F.local_response_norm(_t(2, 3), 2)",
        ValueError,
        "Expected 3D or higher dimensionality                          input (got 2 dimensions)",
    ),
    (
        "F.local_response_norm(_t(2, 3, 4, 5, 6), 0)",
        RuntimeError,
        "kernel size should be greater than zero, but got kT: 0 kH: 1 kW: 1",
    ),
    (
        "F.channel_shuffle(_t(2, 5, 4), 2)",
        RuntimeError,
        "Number of channels must be divisible by groups. Got 5 channels and 2 groups.",
    ),
    (
        "F.channel_shuffle(_t(2, 6, 4), 0)",
        RuntimeError,
        "Number of groups to divide channels in must be positive. Value of groups:0",
    ),
    (
        "F.channel_shuffle(_t(2, 6), 2)",
        RuntimeError,
        "channel_shuffle expects input with > 2 dims, but got input with sizes [2, 6]",
    ),
]


@pytest.mark.parametrize("expr,kind,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_pytorch(expr, kind, message):
    env = {"F": F, "nn": nn, "_t": _t, "rgrad": rgrad, "x": _t(2, 3, 4)}
    with pytest.raises(kind) as info:
        eval(expr, env)
    assert str(info.value) == message


# ---- hostile inputs -----------------------------------------------------------------------


def test_empty_inputs_give_empty_outputs_and_leave_the_stats():
    rm, rv = rgrad.zeros(3), rgrad.ones(3)
    x = rgrad.ones(0, 3, 2, requires_grad=True)
    out = F.batch_norm(x, rm, rv, training=True)
    assert out.shape == (0, 3, 2) and out.grad_fn.name() == "CloneBackward0"
    assert host(rm).tolist() == [0, 0, 0] and host(rv).tolist() == [1, 1, 1]
    assert F.batch_norm(rgrad.ones(2, 0), rgrad.zeros(0), rgrad.ones(0), training=True).shape == (
        2,
        0,
    )
    assert F.local_response_norm(rgrad.ones(0, 3, 2), 2).shape == (0, 3, 2)


def test_non_finite_values_stay_in_their_channel():
    x = rgrad.randn(4, 3, 5)
    x[1, 1, 2] = float("nan")
    x[0, 2, 0] = float("inf")
    out = host(F.batch_norm(x, None, None, training=True))
    assert np.isnan(out[:, 1]).all() and np.isnan(out[:, 2]).all()
    assert np.isfinite(out[:, 0]).all()


def test_constant_channels_normalize_to_zero_and_unit_count_gives_nan_variance():
    x = rgrad.full((3, 2, 4), 7.0)
    # Zero up to the rounding of x * invstd (PyTorch gives 3e-5 here).
    assert (np.abs(host(F.batch_norm(x, None, None, training=True))) < 1e-3).all()
    rm, rv = rgrad.zeros(2), rgrad.ones(2)
    # One value per channel reaches the core only past the functional's check, as in PyTorch's
    # C++ API; the unbiased variance is then 0/0.
    rgrad._rgrad.native_batch_norm(rgrad.ones(1, 2), None, None, rm, rv, True, 0.5, 1e-5)
    assert np.isnan(host(rv)).all() and host(rm).tolist() == [0.5, 0.5]


def test_modifying_the_weight_in_place_before_backward_raises():
    w = rgrad.ones(3, requires_grad=True)
    x = rgrad.randn(4, 3, requires_grad=True)
    out = F.batch_norm(x, None, None, w * 1.0 if False else w, None, True)
    with rgrad.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_non_tensor_arguments_raise_type_errors():
    with pytest.raises(TypeError, match="must be Tensor"):
        F.batch_norm(rgrad.ones(2, 3), [0, 0, 0], rgrad.ones(3))
    with pytest.raises(TypeError, match="must be float"):
        F.batch_norm(rgrad.ones(2, 3), None, None, training=True, eps="x")


# ---- the wgpu device ----------------------------------------------------------------------


@pytest.mark.wgpu
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases_on_wgpu(case):
    run_module_case(case, "float32", device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize("case", OPS, ids=lambda c: c["name"])
def test_ops_on_wgpu(case):
    check_case(case, "float32", 1e-4, device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize("case", STEPS, ids=lambda c: c["name"])
def test_several_steps_on_wgpu(case):
    warnings.simplefilter("ignore")
    run_steps_case(case, "float32", device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize("training", [True, False])
def test_double_backward_on_wgpu_matches_cpu(training):
    rgrad.manual_seed(0)
    x0, w0, b0 = rgrad.randn(3, 4, 5, 2), rgrad.randn(4), rgrad.randn(4)
    rm0, rv0 = rgrad.randn(4), rgrad.rand(4) + 0.5
    results = []
    for device in ("cpu", "wgpu"):
        x, w, b = (t.to(device).detach().requires_grad_() for t in (x0, w0, b0))
        rm, rv = rm0.clone().to(device), rv0.clone().to(device)
        y = F.batch_norm(x, rm, rv, w, b, training)
        (gx,) = rgrad.autograd.grad(y.pow(3).sum(), x, create_graph=True)
        gx.pow(2).sum().backward()
        results.append([host(t) for t in (y, gx, x.grad, w.grad, b.grad, rm, rv)])
    for cpu, dev in zip(*results):  # float32; b.grad is zero up to rounding in training
        np.testing.assert_allclose(dev, cpu, rtol=2e-4, atol=2e-4 * max(1.0, np.abs(cpu).max()))


@pytest.mark.wgpu
def test_wgpu_mixed_devices_raise():
    x = rgrad.ones(2, 3, device="wgpu")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        F.batch_norm(x, rgrad.zeros(3), rgrad.ones(3), training=True)
