"""Convolutions: F.conv1d/2d/3d, F.conv_transpose1d/2d/3d and the nn.Conv*/ConvTranspose*
modules against PyTorch's numbers (tests/data/modules_conv.*, the tier-3 conv cases of
tests/data/ops.*), gradcheck and gradgradcheck over a grid of configurations, reprs and error
messages (tests/data/printing_conv.json, from PyTorch's printing_tier3 reference)."""

import itertools
import json
import pathlib
import re

import module_cases
import numpy as np
import pytest
from reference_cases import check_case, tier

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck

DATA = pathlib.Path(__file__).parent / "data"
MODULES, MODULE_ARRAYS = module_cases.load("conv")
PRINTING = json.loads((DATA / "printing_conv.json").read_text())["cases"]
OPS = [c for c in tier(3) if c["name"].startswith("conv")]
DTYPES = {"float64": (rgrad.float64, 1e-7), "float32": (rgrad.float32, 3e-4)}


# ---- PyTorch's modules and ops ------------------------------------------------------------


def run_module_case(case, precision, device="cpu"):
    dtype, tol = DTYPES[precision]
    module_cases.run(case, MODULE_ARRAYS, dtype, tol, device)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases(case, precision):
    run_module_case(case, precision)


def test_every_conv_module_case_is_here():
    assert len(MODULES) == 12 and all(c["name"].startswith("conv") for c in MODULES)


@pytest.mark.parametrize("case", OPS, ids=lambda c: c["name"])
def test_ops_float64(case):
    check_case(case, "float64", 1e-10)


@pytest.mark.parametrize("case", OPS, ids=lambda c: c["name"])
def test_ops_float32(case):
    check_case(case, "float32", 1e-4)


# ---- a plain reference, for shapes the recorded cases do not reach -----------------------


def naive_conv(x, w, b, stride, padding, dilation, groups):
    """Direct N-d convolution in NumPy (float64), as the definition reads."""
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    n, c, *size = x.shape
    cout, cin_g, *k = w.shape
    out_size = [(size[i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    out = np.zeros([n, cout, *out_size])
    per = cout // groups
    for o in itertools.product(*[range(s) for s in out_size]):
        for kk in itertools.product(*[range(s) for s in k]):
            idx = tuple(o[i] * stride[i] + kk[i] * dilation[i] for i in range(nd))
            for g in range(groups):
                xs = x[(slice(None), slice(g * cin_g, (g + 1) * cin_g), *idx)]  # n x cin_g
                ws = w[(slice(g * per, (g + 1) * per), slice(None), *kk)]  # per x cin_g
                out[(slice(None), slice(g * per, (g + 1) * per), *o)] += xs @ ws.T
    if b is not None:
        out += b.reshape([1, -1] + [1] * nd)
    return out


@pytest.mark.parametrize(
    "nd,batch,cin,cout,k,stride,padding,dilation,groups",
    [
        (2, 5, 6, 4, 3, 1, 1, 1, 1),  # batch split over threads
        (2, 3, 8, 8, 1, 1, 0, 1, 1),  # 1x1: the input is its own column matrix
        (2, 3, 6, 6, 3, 2, 1, 1, 6),  # depthwise, strided
        (2, 2, 3, 6, 3, 1, 2, 2, 3),  # depthwise with two outputs per channel, dilated
        (2, 2, 2, 4, 3, 1, 1, 1, 2),  # depthwise on a plane large enough for the direct kernel
        (3, 2, 2, 4, 2, (1, 2, 1), 1, 1, 2),  # depthwise 3-D
        (1, 4, 4, 6, 5, 3, 2, 2, 2),
        (3, 2, 2, 3, 2, 1, 1, 2, 1),
        (2, 1, 3, 2, (1, 3), (2, 1), (0, 1), 1, 1),
    ],
)
def test_forward_matches_the_definition(nd, batch, cin, cout, k, stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    t = lambda v: (v,) * nd if isinstance(v, int) else v  # noqa: E731
    k, stride, padding, dilation = t(k), t(stride), t(padding), t(dilation)
    side = 50 if (nd, cin, cout, groups) == (2, 2, 4, 2) else 7
    x = rng.standard_normal((batch, cin, *[side] * nd))
    w = rng.standard_normal((cout, cin // groups, *k))
    b = rng.standard_normal(cout)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    got = conv(rgrad.tensor(x), rgrad.tensor(w), rgrad.tensor(b), stride, padding, dilation, groups)
    want = naive_conv(x, w, b, stride, padding, dilation, groups)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)


def test_strided_and_offset_operands():
    """A transposed input and a sliced weight read the same values as their copies."""
    rng = np.random.default_rng(1)
    x = rgrad.tensor(rng.standard_normal((2, 3, 6, 5))).transpose(2, 3)
    w = rgrad.tensor(rng.standard_normal((5, 3, 3, 3)))[1:]
    got = F.conv2d(x, w, padding=1)
    want = F.conv2d(x.contiguous(), w.contiguous(), padding=1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


# ---- gradcheck and gradgradcheck over a grid ----------------------------------------------

GRID = [
    # (nd, cin, cout, k, stride, padding, dilation, groups)
    (1, 2, 3, 3, 1, 0, 1, 1),
    (1, 4, 4, 2, 2, 1, 1, 2),
    (1, 2, 2, 3, 1, "same", 2, 1),
    (1, 2, 2, 4, 1, "same", 1, 2),  # asymmetric 'same'
    (2, 2, 3, 3, 1, 1, 1, 1),
    (2, 2, 2, 3, 2, 1, 1, 2),
    (2, 4, 4, 3, 1, "same", 1, 4),  # depthwise
    (2, 2, 3, 2, 1, "same", 1, 1),  # even kernel 'same'
    (2, 2, 2, 3, 1, "valid", 2, 1),
    (2, 3, 2, 1, 1, 0, 1, 1),  # 1x1
    (2, 2, 2, (2, 3), (2, 1), (1, 0), (1, 2), 1),
    (3, 2, 2, 2, 1, 1, 1, 1),
    (3, 2, 2, 2, (1, 2, 1), 0, (2, 1, 1), 2),
]


def _args(nd, cin, cout, k, groups, seed, transposed=False):
    rgrad.manual_seed(seed)
    ks = (k,) * nd if isinstance(k, int) else k
    x = rgrad.randn(2, cin, *[5] * nd, dtype=rgrad.float64, requires_grad=True)
    shape = (cin, cout // groups, *ks) if transposed else (cout, cin // groups, *ks)
    w = rgrad.randn(*shape, dtype=rgrad.float64, requires_grad=True)
    b = rgrad.randn(cout, dtype=rgrad.float64, requires_grad=True)
    return x, w, b


@pytest.mark.parametrize("config", GRID, ids=str)
def test_conv_gradcheck_and_gradgradcheck(config):
    nd, cin, cout, k, stride, padding, dilation, groups = config
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    inputs = _args(nd, cin, cout, k, groups, seed=len(str(config)))

    def f(x, w, b):
        return conv(x, w, b, stride, padding, dilation, groups)

    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


TRANSPOSED_GRID = [
    # (nd, cin, cout, k, stride, padding, output_padding, groups, dilation)
    (1, 2, 3, 3, 2, 1, 1, 1, 1),
    (2, 2, 2, 3, 1, 0, 0, 1, 1),
    (2, 4, 2, 2, 2, 0, 1, 2, 1),
    (2, 2, 3, 4, 2, 1, 0, 1, 1),  # DCGAN's 4/2/1
    (2, 2, 2, 3, (2, 1), (1, 0), (1, 0), 1, (1, 2)),
    (2, 2, 2, 2, 1, 0, 1, 1, 2),  # output_padding < dilation but not < stride
    (3, 2, 2, 2, 2, 0, 1, 2, 1),
]


@pytest.mark.parametrize("config", TRANSPOSED_GRID, ids=str)
def test_conv_transpose_gradcheck_and_gradgradcheck(config):
    nd, cin, cout, k, stride, padding, output_padding, groups, dilation = config
    conv = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[nd]
    inputs = _args(nd, cin, cout, k, groups, seed=len(str(config)), transposed=True)

    def f(x, w, b):
        return conv(x, w, b, stride, padding, output_padding, groups, dilation)

    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


def test_unbatched_input_and_conv_transpose_undoes_shapes():
    x = rgrad.randn(3, 8, 8, dtype=rgrad.float64, requires_grad=True)
    w = rgrad.randn(4, 3, 3, 3, dtype=rgrad.float64)
    y = F.conv2d(x, w, stride=2, padding=1)
    assert y.shape == (4, 4, 4)
    back = F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=1)
    assert back.shape == (3, 8, 8)
    y.sum().backward()
    assert x.grad.shape == (3, 8, 8)


def test_conv_transpose_output_size():
    m = nn.ConvTranspose2d(3, 4, 3, stride=2).double()
    x = rgrad.randn(2, 3, 5, 5, dtype=rgrad.float64)
    assert m(x, output_size=[12, 12]).shape == (2, 4, 12, 12)
    assert m(x, output_size=(2, 4, 11, 11)).shape == (2, 4, 11, 11)
    with pytest.raises(ValueError, match=r"valid sizes range from \[11, 11\] to \[12, 12\]"):
        m(x, output_size=[15, 15])


def test_padding_modes_match_explicit_padding():
    rgrad.manual_seed(0)
    x = rgrad.randn(2, 2, 6, 5, dtype=rgrad.float64)
    for mode in ("reflect", "replicate", "circular"):
        m = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode).double()
        want = F.conv2d(F.pad(x, (2, 2, 1, 1), mode=mode), m.weight, m.bias)
        np.testing.assert_allclose(m(x).detach().numpy(), want.detach().numpy(), rtol=1e-12)


def test_default_init_bounds_and_parameter_shapes():
    m = nn.Conv2d(6, 8, (3, 2), groups=2)
    assert m.weight.shape == (8, 3, 3, 2) and m.bias.shape == (8,)
    bound = 1 / (3 * 3 * 2) ** 0.5  # kaiming_uniform(a=sqrt(5)) gives 1/sqrt(fan_in)
    assert m.weight.abs().max().item() <= bound and m.bias.abs().max().item() <= bound
    assert m.weight.abs().max().item() > bound / 2
    t = nn.ConvTranspose3d(4, 6, 2, groups=2, bias=False)
    assert t.weight.shape == (4, 3, 2, 2, 2) and t.bias is None
    assert set(t.state_dict()) == {"weight"}


def test_training_step_reduces_a_loss():
    rgrad.manual_seed(0)
    net = nn.Conv2d(2, 3, 3, padding=1)
    x = rgrad.randn(8, 2, 6, 6)
    target = F.conv2d(x, rgrad.randn(3, 2, 3, 3), padding=1)
    opt = rgrad.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.mse_loss(net(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


# ---- reprs and errors ---------------------------------------------------------------------


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


def _ones(*shape):
    return rgrad.ones(*shape)


# Recorded with PyTorch 2.15 (CPU).
ERRORS = [
    ("F.conv2d(x.double(), w)", RuntimeError, "expected scalar type Double but found Float"),
    (
        "F.conv2d(x, w.double())",
        RuntimeError,
        "Input type (torch.FloatTensor) and weight type (torch.DoubleTensor) should be the same "
        "or input should be a MKLDNN tensor and weight is a dense tensor",
    ),
    (
        "F.conv2d(x, w, _ones(4).double())",
        RuntimeError,
        "Input type (float) and bias type (double) should be the same",
    ),
    (
        "F.conv2d(x, w, _ones(5))",
        RuntimeError,
        "Given weight of size [4, 3, 3, 3], expected bias to be 1-dimensional with 4 elements, "
        "but got bias of size [5] instead",
    ),
    (
        "F.conv2d(x, _ones(4, 3, 3))",
        RuntimeError,
        "expected stride to be a single integer value or a list of 1 values to match the "
        "convolution dimensions, but got stride=[1, 1]",
    ),
    ("F.conv2d(x, w, stride=0)", RuntimeError, "non-positive stride is not supported"),
    ("F.conv2d(x, w, padding=(-1, 0))", RuntimeError, "negative padding is not supported"),
    ("F.conv2d(x, w, dilation=0)", RuntimeError, "non-positive dilation is not supported"),
    ("F.conv2d(x, w, groups=0)", RuntimeError, "non-positive groups is not supported"),
    (
        "F.conv2d(x, w, groups=2)",
        RuntimeError,
        "Given groups=2, weight of size [4, 3, 3, 3], expected input[2, 3, 5, 5] to have 6 "
        "channels, but got 3 channels instead",
    ),
    (
        "F.conv2d(x, _ones(4, 1, 3, 3), groups=3)",
        RuntimeError,
        "Given groups=3, expected weight to be divisible by 3 at dimension 0, but got weight "
        "of size [[4, 1, 3, 3]] instead",
    ),
    (
        "F.conv2d(x, _ones(0, 3, 3, 3))",
        RuntimeError,
        "Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of "
        "size [0, 3, 3, 3] instead",
    ),
    ("F.conv2d(x, w, padding='foo')", RuntimeError, "Invalid padding string: 'foo'"),
    (
        "F.conv2d(x, w, padding='same', stride=2)",
        RuntimeError,
        "padding='same' is not supported for strided convolutions",
    ),
    (
        "F.conv2d(x, w, padding=(1, 2, 3))",
        RuntimeError,
        "expected padding to be a single integer value or a list of 2 values to match the "
        "convolution dimensions, but got padding=[1, 2, 3]",
    ),
    (
        "F.conv1d(_ones(2, 3, 5, 5), _ones(4, 3, 3))",
        RuntimeError,
        "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: "
        "[2, 3, 5, 5]",
    ),
    (
        "F.conv3d(_ones(1, 3, 2, 2, 2), _ones(4, 3, 3, 3, 3))",
        RuntimeError,
        "Calculated padded input size per channel: (2 x 2 x 2). Kernel size: (3 x 3 x 3). "
        "Kernel size can't be greater than actual input size",
    ),
    (
        "F.conv2d(_ones(1, 3, 2, 2), w, padding=(1, 0))",
        RuntimeError,
        "Calculated padded input size per channel: (4 x 2). Kernel size: (3 x 3). Kernel size "
        "can't be greater than actual input size",
    ),
    (
        "F.conv_transpose2d(x, _ones(3, 2, 3, 3), stride=2, output_padding=2)",
        RuntimeError,
        "output padding must be smaller than either stride or dilation, but got "
        "output_padding_height: 2 output_padding_width: 2 stride_height: 2 stride_width: 2 "
        "dilation_height: 1 dilation_width: 1",
    ),
    (
        "F.conv_transpose1d(x[:, :, 0], _ones(3, 2, 3), output_padding=1)",
        RuntimeError,
        "output padding must be smaller than either stride or dilation, but got "
        "output_padding_height: 0 output_padding_width: 1 stride_height: 1 stride_width: 1 "
        "dilation_height: 1 dilation_width: 1",
    ),
    (
        "F.conv_transpose2d(x, _ones(4, 2, 3, 3))",
        RuntimeError,
        "Given transposed=1, weight of size [4, 2, 3, 3], expected input[2, 3, 5, 5] to have 4 "
        "channels, but got 3 channels instead",
    ),
    (
        "F.conv_transpose2d(x.double(), _ones(3, 2, 3, 3).double(), padding=5)",
        RuntimeError,
        "Given input size per channel: (5 x 5). Calculated output size per channel: (-3 x -3). "
        "Output size is too small",
    ),
    (
        "F.conv_transpose2d(x, _ones(3, 2, 3, 3), _ones(3))",
        RuntimeError,
        "Given transposed=1, weight of size [3, 2, 3, 3], expected bias to be 1-dimensional "
        "with 2 elements, but got bias of size [3] instead",
    ),
    (
        "F.conv_transpose2d(x, _ones(3, 2, 3, 3), output_padding=-1)",
        RuntimeError,
        "negative output_padding is not supported",
    ),
    (
        "F.conv2d(x.bool(), w.bool())",
        NotImplementedError,
        "\"slow_conv2d_cpu\" not implemented for 'Bool'",
    ),
    (
        "nn.Conv2d(3, 5, 3, groups=3)",
        ValueError,
        "out_channels must be divisible by groups",
    ),
    ("nn.Conv2d(3, 4, 3, groups=0)", ValueError, "groups must be a positive integer"),
    (
        "nn.Conv2d(3, 4, 3, padding='foo')",
        ValueError,
        "Invalid padding string 'foo', should be one of " + str({"same", "valid"}),
    ),
    (
        "nn.Conv2d(3, 4, 3, padding_mode='foo')",
        ValueError,
        "padding_mode must be one of "
        + str({"zeros", "reflect", "replicate", "circular"})
        + ", but got padding_mode='foo'",
    ),
    (
        "nn.ConvTranspose2d(3, 4, 3, padding_mode='reflect')",
        ValueError,
        'Only "zeros" padding mode is supported for ConvTranspose2d',
    ),
    (
        "nn.Conv2d(3, 4, 3, padding=2, padding_mode='reflect')(_ones(1, 3, 2, 2))",
        RuntimeError,
        "Argument #4: Padding size should be less than the corresponding input dimension, but "
        "got: padding (2, 2) at dimension 3 of input [1, 3, 2, 2]",
    ),
]


@pytest.mark.parametrize("expr,kind,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_pytorch(expr, kind, message):
    env = {"F": F, "nn": nn, "_ones": _ones, "x": _ones(2, 3, 5, 5), "w": _ones(4, 3, 3, 3)}
    with pytest.raises(kind) as info:
        eval(expr, env)
    assert _sorted_sets(str(info.value)) == _sorted_sets(message)


def _sorted_sets(text):
    """PyTorch prints some choices as a Python set, whose order follows the string hash seed
    (random per process): compare those members as sorted."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m[1].split(", "))) + "}", text)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stride": 2**62},
        {"padding": 2**62},
        {"dilation": 2**62},
        {"padding": 2**40, "dilation": 2**40},
        {"stride": 2**63 - 1, "padding": 2**61},
    ],
    ids=str,
)
def test_huge_sizes_raise_instead_of_overflowing(kwargs):
    x, w = rgrad.ones(1, 1, 5, 5), rgrad.ones(1, 1, 3, 3)
    try:
        out = F.conv2d(x, w, **kwargs)
    except RuntimeError as e:
        assert "size" in str(e) or "overflow" in str(e)
    else:
        assert out.numel() < 100  # a huge stride gives one output position, as in PyTorch


def test_an_allocation_too_large_raises_instead_of_aborting():
    # 2^62 float32 outputs: sizes that fit in the arithmetic, a buffer that cannot exist.
    with pytest.raises(RuntimeError, match="can't allocate memory"):
        F.conv2d(rgrad.ones(1, 1, 1, 1), rgrad.ones(1, 1, 1, 1), padding=2**30)


def test_huge_transposed_output_raises():
    with pytest.raises(RuntimeError, match="overflow"):
        F.conv_transpose2d(rgrad.ones(1, 1, 3, 3), rgrad.ones(1, 1, 3, 3), stride=2**62)


def test_empty_batch_and_channels():
    assert F.conv2d(rgrad.ones(0, 3, 5, 5), rgrad.ones(4, 3, 3, 3)).shape == (0, 4, 3, 3)
    out = F.conv2d(rgrad.ones(2, 0, 5, 5), rgrad.ones(4, 0, 3, 3), rgrad.ones(4))
    assert out.shape == (2, 4, 3, 3) and (out == 1).all()


@pytest.mark.wgpu
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases_on_wgpu(case):
    run_module_case(case, "float32", device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize("case", OPS, ids=lambda c: c["name"])
def test_ops_on_wgpu(case):
    check_case(case, "float32", 1e-4, device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize("transposed", [False, True])
def test_double_backward_on_wgpu_matches_cpu(transposed):
    """A gradient penalty (create_graph) runs on the device with the CPU's numbers."""
    rgrad.manual_seed(0)
    x0 = rgrad.randn(2, 4, 6, 6)
    w0 = rgrad.randn(4, 2, 3, 3)
    results = []
    for device in ("cpu", "wgpu"):
        x = x0.to(device).detach().requires_grad_()
        w = w0.to(device).detach().requires_grad_()
        if transposed:
            y = F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1, groups=2)
        else:
            y = F.conv2d(x, w, stride=2, padding=1, groups=2)
        (gx,) = rgrad.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        gx.pow(2).sum().backward()
        results.append([t.detach().cpu().numpy() for t in (y, gx, x.grad, w.grad)])
    for cpu, dev in zip(*results):  # float32: error relative to the largest value
        np.testing.assert_allclose(dev, cpu, rtol=1e-4, atol=1e-5 * np.abs(cpu).max())


@pytest.mark.wgpu
def test_integer_convolution_on_wgpu_raises_not_implemented():
    x = rgrad.ones(1, 1, 4, 4, dtype=rgrad.int64, device="wgpu")
    with pytest.raises(NotImplementedError, match="not implemented for 'Long' on the wgpu"):
        F.conv2d(x, x[:, :, :3, :3])


def _weight_grad_definition(x, g, k, stride, padding, groups):
    """dW[o, c, ky, kx] = sum over images and output positions of g[n, o, y, x] times the
    padded input at (y * s + ky, x * s + kx), per group (2-D, dilation 1), in NumPy."""
    xp = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    n, cin, _, _ = x.shape
    cout, (oh, ow) = g.shape[1], g.shape[2:]
    cg, og = cin // groups, cout // groups
    dw = np.zeros((cout, cg, k, k))
    for ky in range(k):
        for kx in range(k):
            patch = xp[:, :, ky : ky + stride * oh : stride, kx : kx + stride * ow : stride]
            for grp in range(groups):
                xs = patch[:, grp * cg : (grp + 1) * cg]
                gs = g[:, grp * og : (grp + 1) * og]
                dw[grp * og : (grp + 1) * og, :, ky, kx] = np.einsum("nohw,nchw->oc", gs, xs)
    return dw


@pytest.mark.parametrize(
    "batch,cin,cout,size,k,stride,padding,groups",
    [
        (8, 20, 24, 6, 3, 1, 1, 1),  # im2col path, several images per GEMM; cout <= rows
        (3, 18, 32, 16, 3, 1, 1, 1),  # one image per GEMM (a large column matrix)
        (4, 18, 40, 5, 1, 2, 0, 1),  # 1x1 strided: more outputs than rows (the other orientation)
        (2, 24, 48, 1, 1, 1, 0, 1),  # pointwise, cout > cin
        (2, 24, 8, 7, 1, 1, 0, 1),  # pointwise, cout < cin
        (5, 36, 12, 7, 3, 2, 1, 3),  # groups, strided
        (3, 17, 5, 9, 4, 2, 2, 1),  # even kernel, odd sizes
    ],
)
@pytest.mark.parametrize("dtype", [rgrad.float32, rgrad.float64], ids=str)
def test_weight_gradient_matches_the_definition(
    batch, cin, cout, size, k, stride, padding, groups, dtype
):
    """The im2col weight gradient in both GEMM orientations (dW or dW^T accumulated, chosen by
    whether a group has more output channels than column rows) against its definition."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, cin, size, size))
    w = rng.standard_normal((cout, cin // groups, k, k))
    xs = rgrad.tensor(x, dtype=dtype)
    ws = rgrad.tensor(w, dtype=dtype, requires_grad=True)
    y = F.conv2d(xs, ws, stride=stride, padding=padding, groups=groups)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(rgrad.tensor(g, dtype=dtype))
    want = _weight_grad_definition(x, g, k, stride, padding, groups)
    tol = 1e-10 if dtype == rgrad.float64 else 2e-4
    np.testing.assert_allclose(ws.grad.numpy(), want, rtol=tol, atol=tol * 10)
    # Through a non-contiguous input (the kernel reads a contiguous copy).
    xt = rgrad.tensor(np.ascontiguousarray(x.transpose(0, 1, 3, 2)), dtype=dtype).transpose(2, 3)
    wt = rgrad.tensor(w, dtype=dtype, requires_grad=True)
    F.conv2d(xt, wt, stride=stride, padding=padding, groups=groups).backward(
        rgrad.tensor(g, dtype=dtype)
    )
    np.testing.assert_allclose(wt.grad.numpy(), want, rtol=tol, atol=tol * 10)


def test_conv_transpose_weight_gradient_gradcheck():
    """ConvTranspose2d's weight gradient is the convolution's with the roles swapped (DCGAN's
    layers: stride 2, kernel 4, padding 1, more outputs than inputs and fewer)."""
    rgrad.manual_seed(3)
    for cin, cout in [(6, 3), (2, 5)]:
        x = rgrad.randn(3, cin, 4, 4, dtype=rgrad.float64, requires_grad=True)
        w = rgrad.randn(cin, cout, 4, 4, dtype=rgrad.float64, requires_grad=True)
        assert gradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1), (x, w))
