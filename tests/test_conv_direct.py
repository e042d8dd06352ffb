"""The direct (implicit-GEMM) convolution kernels of cpu/conv_direct.rs: stride-1
convolutions with at most 16 input channels per group take them for the forward, the data
gradient and the weight gradient. Each case runs the same convolution with and without them
(RGRAD_NO_DIRECT_CONV sends it through im2col + GEMM, checked against PyTorch's recorded
values in test_conv.py) and against a NumPy definition, over the shapes the kernels' edges
meet: channels 1..17 (17 leaves the fast path), batch 1, odd and tiny planes, dilation, groups,
padding larger than the kernel's reach, padding modes, 1-D and 3-D, and strided inputs."""

import os

import numpy as np
import pytest
from test_conv import naive_conv

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck


def _run(conv, x, w, b, g, kwargs, direct):
    """Output and the three gradients (input, weight, bias) of conv(x, w, b) against `g`."""
    if direct:
        os.environ.pop("RGRAD_NO_DIRECT_CONV", None)
    else:
        os.environ["RGRAD_NO_DIRECT_CONV"] = "1"
    try:
        xs, ws, bs = (rgrad.tensor(v, requires_grad=True) for v in (x, w, b))
        y = conv(xs, ws, bs, **kwargs)
        y.backward(rgrad.tensor(g))
        return [t.detach().numpy() for t in (y, xs.grad, ws.grad, bs.grad)]
    finally:
        os.environ.pop("RGRAD_NO_DIRECT_CONV", None)


CASES = [
    # (nd, batch, cin, cout, size, k, padding, dilation, groups)
    (2, 4, 1, 6, 12, 5, 2, 1, 1),  # LeNet's first convolution in small
    (2, 3, 6, 16, 14, 5, 0, 1, 1),  # LeNet's second
    (2, 2, 3, 6, 11, 5, 0, 1, 1),  # the blitz net's first, odd plane
    (2, 1, 1, 1, 5, 3, 1, 1, 1),  # batch 1, one channel each way
    (2, 2, 2, 3, 7, 3, 1, 2, 1),  # dilated
    (2, 2, 4, 6, 9, 3, 1, 1, 2),  # groups
    (2, 2, 4, 4, 8, 3, 1, 1, 4),  # depthwise
    (2, 3, 5, 9, 6, 2, 1, 1, 1),  # even kernel; 9 outputs: a block of 8 and one row
    (2, 2, 7, 17, 10, (3, 1), (1, 0), 1, 1),  # 17 outputs, a 3x1 kernel
    (2, 2, 16, 5, 6, 3, 1, 1, 1),  # 16 inputs: the largest on the fast path
    (2, 2, 17, 3, 6, 3, 1, 1, 1),  # 17 inputs: im2col
    (2, 2, 3, 4, 5, 3, 4, 1, 1),  # padding beyond the kernel's reach (data grad via col2im)
    (2, 2, 2, 2, 3, 3, 2, 2, 1),  # dilated kernel as large as the padded plane
    (2, 2, 3, 2, (9, 4), (2, 3), (1, 0), (2, 1), 1),  # rectangular everything
    (2, 2, 2, 3, 40, 3, 1, 1, 1),  # a plane wider than several tiles
    (1, 3, 2, 5, 13, 4, 1, 1, 1),
    (1, 2, 4, 4, 9, 3, 2, 3, 2),
    (3, 2, 2, 3, 5, 3, 1, 1, 1),
    (3, 1, 3, 2, (4, 5, 3), 2, (1, 0, 1), 1, 1),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_direct_matches_im2col_and_the_definition(case, dtype):
    nd, batch, cin, cout, size, k, padding, dilation, groups = case
    t = lambda v: (v,) * nd if isinstance(v, int) else tuple(v)  # noqa: E731
    size, k, padding, dilation = t(size), t(k), t(padding), t(dilation)
    rng = np.random.default_rng(len(str(case)))
    x = rng.standard_normal((batch, cin, *size)).astype(dtype)
    w = rng.standard_normal((cout, cin // groups, *k)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    out = [(size[i] + 2 * padding[i] - dilation[i] * (k[i] - 1)) for i in range(nd)]
    g = rng.standard_normal((batch, cout, *out)).astype(dtype)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    kw = dict(padding=padding, dilation=dilation, groups=groups)
    direct = _run(conv, x, w, b, g, kw, True)
    im2col = _run(conv, x, w, b, g, kw, False)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    for name, d, i in zip(("out", "grad x", "grad w", "grad b"), direct, im2col):
        assert d.dtype == dtype and d.shape == i.shape, name
        np.testing.assert_allclose(d, i, err_msg=name, **tol)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    want = naive_conv(x64, w64, b, (1,) * nd, padding, dilation, groups)
    np.testing.assert_allclose(direct[0], want, **tol)


@pytest.mark.parametrize(
    "config",
    [
        # (nd, cin, cout, k, padding, dilation, groups)
        (2, 1, 3, 3, 1, 1, 1),
        (2, 3, 2, 2, 0, 2, 1),
        (2, 4, 4, 3, 2, 1, 2),
        (1, 2, 3, 3, 1, 1, 1),
        (3, 2, 2, 2, 1, 1, 1),
    ],
    ids=str,
)
def test_direct_gradcheck_and_gradgradcheck(config):
    nd, cin, cout, k, padding, dilation, groups = config
    rgrad.manual_seed(len(str(config)))
    x = rgrad.randn(2, cin, *[5] * nd, dtype=rgrad.float64, requires_grad=True)
    w = rgrad.randn(cout, cin // groups, *[k] * nd, dtype=rgrad.float64, requires_grad=True)
    b = rgrad.randn(cout, dtype=rgrad.float64, requires_grad=True)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]

    def f(x, w, b):
        return conv(x, w, b, 1, padding, dilation, groups)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_padding_modes_and_strided_inputs(mode):
    """Conv2d with each padding mode on a transposed (non-contiguous) input, against the
    same module on the input's contiguous copy with the kernels switched off."""
    rgrad.manual_seed(3)
    conv = nn.Conv2d(3, 5, 3, padding=1, padding_mode=mode)
    x = rgrad.randn(2, 3, 9, 7).transpose(2, 3)
    assert not x.is_contiguous()
    got = conv(x)
    os.environ["RGRAD_NO_DIRECT_CONV"] = "1"
    try:
        want = conv(x.contiguous())
    finally:
        os.environ.pop("RGRAD_NO_DIRECT_CONV")
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=2e-5, atol=2e-5)


def test_lenet_step_matches_im2col():
    """A LeNet training step's gradients agree with the kernels on and off (float64)."""
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 10),
    ).double()
    rgrad.manual_seed(0)
    x = rgrad.randn(3, 1, 28, 28, dtype=rgrad.float64)
    y = rgrad.tensor([1, 4, 9])
    grads = []
    for off in (False, True):
        if off:
            os.environ["RGRAD_NO_DIRECT_CONV"] = "1"
        try:
            model.zero_grad()
            F.cross_entropy(model(x), y).backward()
            grads.append([p.grad.numpy().copy() for p in model.parameters()])
        finally:
            os.environ.pop("RGRAD_NO_DIRECT_CONV", None)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize(
    "config",
    [
        # (cin, cout, size, k, padding, output_padding, dilation): the transposed
        # convolution's forward is the data-gradient kernel (a full correlation or a scatter).
        (16, 6, 10, 5, 0, 0, 1),
        (3, 4, 7, 3, 1, 0, 1),
        (2, 3, 5, 3, 0, 1, 2),  # output_padding (< dilation): rows no output reaches
        (4, 2, 6, 2, 1, 0, 3),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stride_one_transposed_convolution_matches_im2col(config, dtype):
    cin, cout, size, k, padding, output_padding, dilation = config
    rng = np.random.default_rng(len(str(config)))
    x = rng.standard_normal((2, cin, size, size)).astype(dtype)
    w = rng.standard_normal((cin, cout, k, k)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    out = (size - 1) - 2 * padding + dilation * (k - 1) + output_padding + 1
    g = rng.standard_normal((2, cout, out, out)).astype(dtype)
    kw = dict(padding=padding, output_padding=output_padding, dilation=dilation)
    direct = _run(F.conv_transpose2d, x, w, b, g, kw, True)
    im2col = _run(F.conv_transpose2d, x, w, b, g, kw, False)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    for name, d, i in zip(("out", "grad x", "grad w", "grad b"), direct, im2col):
        assert d.shape == i.shape, name
        np.testing.assert_allclose(d, i, err_msg=name, **tol)
