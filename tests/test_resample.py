# ruff: noqa: E501  (the error table holds PyTorch's messages verbatim)
"""Resampling and rearranging: F.interpolate (every mode), F.pad's reflect/replicate/circular
modes, F.unfold/F.fold, F.pixel_shuffle/unshuffle, F.grid_sample/F.affine_grid and their
modules against PyTorch's numbers (tests/data/resample.* from tools/make_reference_resample.py,
tests/data/modules_resample.* and printing_resample.json from the shared conformance files),
gradcheck/gradgradcheck grids, reprs, error messages and hostile sizes."""

import json
import pathlib
import warnings

import module_cases
import numpy as np
import pytest
from test_conv import _sorted_sets

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck

DATA = pathlib.Path(__file__).parent / "data"
MODULES, MODULE_ARRAYS = module_cases.load("resample")
PRINTING = json.loads((DATA / "printing_resample.json").read_text())["cases"]
CASES = json.loads((DATA / "resample.json").read_text())["cases"]
with np.load(DATA / "resample.npz") as _f:
    ARRAYS = {k: _f[k] for k in _f.files}
DTYPES = {"float64": (rgrad.float64, 1e-10), "float32": (rgrad.float32, 3e-4)}


def host(t):
    return t.detach().cpu().numpy()


# ---- PyTorch's module cases -------------------------------------------------------------


def run_module_case(case, precision, device="cpu"):
    dtype, tol = DTYPES[precision]
    tol = max(tol, 1e-7)
    module_cases.run(case, MODULE_ARRAYS, dtype, tol, device)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases(case, precision):
    run_module_case(case, precision)


def test_every_resample_module_case_is_here():
    names = {c["name"] for c in MODULES}
    assert names == {"upsample_nearest", "upsample_bilinear", "upsample_bilinear_ac"} | {
        "pixel_shuffle",
        "unfold",
        "fold",
    }


# ---- reference vectors: interpolate, pad, fold/unfold, grid_sample, affine_grid ----------


def run_case(case, precision, device="cpu"):
    dtype, _ = DTYPES[precision]
    env = {"F": F, "torch": rgrad}
    for k in case["inputs"]:
        t = rgrad.tensor(ARRAYS[f"{case['name']}/in/{k}"], dtype=dtype, device=device)
        env[k] = t.requires_grad_(k in case["grads"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = eval(case["expr"], env)
    grads = {}
    if case["grads"]:
        cot = rgrad.tensor(ARRAYS[f"{case['name']}/cot"], dtype=dtype, device=device)
        (out * cot).sum().backward()
        grads = {k: env[k].grad for k in case["grads"]}
    return out, grads


# PyTorch's 1-D/3-D nearest backward copies exactly at scale 2 while its forward uses the
# float formula, so for output == 2 * input with a scale_factor other than 2 its gradient is
# not the adjoint of its forward (torch.autograd.gradcheck fails on it). rgrad's gradient is
# the adjoint; these cases compare the forward only.
PYTORCH_NOT_ADJOINT = {"interp5d_nearest_scale1"}


def check_case(case, precision, device="cpu"):
    tol = DTYPES[precision][1]
    out, grads = run_case(case, precision, device)
    if case["name"] in PYTORCH_NOT_ADJOINT:
        grads = {}
    want = ARRAYS[f"{case['name']}/out"]
    assert out.shape == want.shape
    assert str(out.device).startswith(device)
    np.testing.assert_allclose(host(out), want, rtol=tol, atol=tol)
    for k, g in grads.items():
        ref = ARRAYS[f"{case['name']}/grad/{k}"]
        if g is None:
            assert not ref.any()
            continue
        np.testing.assert_allclose(host(g), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_reference_float64(case):
    check_case(case, "float64")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_reference_float32(case):
    check_case(case, "float32")


# Constant padding is narrow + cat (its grad_fn is not PyTorch's ConstantPadNdBackward0).
MAP_CASES = [
    c
    for c in CASES
    if c["name"].startswith(("interp", "pad", "unfold", "fold")) and "constant" not in c["name"]
]


@pytest.mark.parametrize("case", MAP_CASES, ids=lambda c: c["name"])
def test_grad_fn_names_match_pytorch(case):
    out, _ = run_case(case, "float64")
    assert type(out.grad_fn).__name__ == case["grad_fn"]


def test_reference_covers_every_mode():
    names = " ".join(c["name"] for c in CASES)
    for mode in ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"):
        assert f"_{mode}_" in names
    for mode in ("reflect", "replicate", "circular"):
        for nd in (2, 3, 4, 5):
            assert f"pad{nd}d_{mode}" in names


# ---- gradcheck and gradgradcheck -----------------------------------------------------------


def _x(*shape, seed=0):
    rgrad.manual_seed(seed)
    return rgrad.randn(*shape, dtype=rgrad.float64, requires_grad=True)


GRAD_GRID = [
    ("nearest_pytorch_not_adjoint", lambda x: F.interpolate(x, scale_factor=2.2), (1, 1, 3)),
    ("nearest3d", lambda x: F.interpolate(x, scale_factor=1.7), (1, 2, 4)),
    (
        "nearest_exact2d",
        lambda x: F.interpolate(x, size=(3, 5), mode="nearest-exact"),
        (1, 1, 2, 3),
    ),
    ("linear", lambda x: F.interpolate(x, size=6, mode="linear"), (2, 1, 4)),
    (
        "bilinear_ac",
        lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True),
        (1, 2, 3, 3),
    ),
    ("bilinear_down", lambda x: F.interpolate(x, size=(2, 3), mode="bilinear"), (1, 1, 4, 5)),
    ("bicubic", lambda x: F.interpolate(x, size=(4, 5), mode="bicubic"), (1, 1, 3, 3)),
    (
        "bicubic_ac",
        lambda x: F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True),
        (1, 1, 2, 3),
    ),
    (
        "trilinear",
        lambda x: F.interpolate(x, scale_factor=(1.5, 1, 2), mode="trilinear"),
        (1, 1, 2, 2, 2),
    ),
    ("nearest5d", lambda x: F.interpolate(x, size=(3, 2, 3)), (1, 1, 2, 2, 2)),
    ("reflect1d", lambda x: F.pad(x, (2, 1), mode="reflect"), (2, 2, 4)),
    ("reflect2d", lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), (1, 2, 3, 4)),
    ("reflect3d", lambda x: F.pad(x, (1, 1, 0, 1, 1, 0), mode="reflect"), (1, 1, 2, 3, 2)),
    ("replicate2d", lambda x: F.pad(x, (3, -1, 0, 2), mode="replicate"), (1, 2, 3, 4)),
    ("replicate3d", lambda x: F.pad(x, (1, 2, 1, 0, 0, 1), mode="replicate"), (2, 2, 2, 2)),
    ("circular2d", lambda x: F.pad(x, (2, 1, 1, 3), mode="circular"), (1, 1, 3, 3)),
    ("circular_crop", lambda x: F.pad(x, (-1, 2), mode="circular"), (2, 4)),
    (
        "unfold",
        lambda x: F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        (2, 2, 4, 5),
    ),
    ("fold", lambda x: F.fold(x, (4, 5), 2, padding=(1, 0), stride=2), (2, 8, 6)),
    ("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), (1, 8, 2, 3)),
    ("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 2), (1, 2, 4, 2)),
]


@pytest.mark.parametrize("name,f,shape", GRAD_GRID, ids=[g[0] for g in GRAD_GRID])
def test_gradcheck_and_gradgradcheck(name, f, shape):
    x = _x(*shape, seed=len(name))
    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_gradcheck(mode, padding_mode, align_corners):
    x = _x(1, 2, 3, 4, seed=1)
    rgrad.manual_seed(2)
    g = (rgrad.rand(1, 2, 3, 2, dtype=rgrad.float64) * 2.4 - 1.2).requires_grad_(mode == "bilinear")

    def f(x, g):
        return F.grid_sample(x, g, mode, padding_mode, align_corners)

    assert gradcheck(f, (x, g))
    assert gradgradcheck(f, (x, g))


def test_affine_grid_gradcheck():
    t = _x(2, 2, 3, seed=3)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 4), align_corners=False), (t,))
    t3 = _x(1, 3, 4, seed=4)
    assert gradgradcheck(lambda t: F.affine_grid(t, (1, 1, 2, 2, 3), align_corners=True), (t3,))


def test_backward_of_the_backward_is_the_forward_op():
    x = _x(1, 1, 2, 3)
    y = F.interpolate(x, scale_factor=2, mode="bilinear")
    (gx,) = rgrad.autograd.grad(y.pow(2).sum(), x, create_graph=True)
    assert gx.grad_fn is not None
    assert type(gx.grad_fn).__name__ == "UpsampleBilinear2DBackwardBackward0"
    u = F.unfold(x, 2)
    (gu,) = rgrad.autograd.grad(u.pow(2).sum(), x, create_graph=True)
    assert type(gu.grad_fn).__name__ == "Col2ImBackward0"


def test_fold_is_the_adjoint_of_unfold():
    """<unfold(x), c> == <x, fold(c)> for random x and c (the identity the backward uses)."""
    x = _x(2, 3, 6, 5, seed=5).detach()
    args = dict(kernel_size=(3, 2), dilation=(2, 1), padding=(1, 2), stride=(1, 2))
    u = F.unfold(x, **args)
    c = rgrad.randn(*u.shape, dtype=rgrad.float64)
    lhs = (u * c).sum().item()
    rhs = (x * F.fold(c, (6, 5), **args)).sum().item()
    assert abs(lhs - rhs) < 1e-9 * max(1.0, abs(lhs))


def test_big_batch_runs_in_parallel_with_the_same_numbers():
    x = rgrad.randn(8, 16, 32, 32, dtype=rgrad.float64)
    big = F.interpolate(x, scale_factor=2, mode="bicubic")
    parts = [F.interpolate(x[i : i + 1], scale_factor=2, mode="bicubic") for i in range(8)]
    np.testing.assert_array_equal(host(big), np.concatenate([host(p) for p in parts]))
    one = F.interpolate(x[:1, :1], size=(200, 300), mode="bilinear")
    assert one.shape == (1, 1, 200, 300)


def test_strided_input_reads_the_same_values():
    x = rgrad.randn(2, 3, 5, 4, dtype=rgrad.float64).transpose(2, 3)
    for f in (
        lambda t: F.interpolate(t, scale_factor=1.5, mode="bilinear"),
        lambda t: F.pad(t, (1, 2, 2, 1), mode="reflect"),
        lambda t: F.unfold(t, 2),
    ):
        np.testing.assert_array_equal(host(f(x)), host(f(x.contiguous())))


def test_integer_pads_and_nearest():
    a = rgrad.arange(6).reshape(1, 2, 3)
    assert F.pad(a, (2, 1), mode="reflect").tolist() == [[[2, 1, 0, 1, 2, 1], [5, 4, 3, 4, 5, 4]]]
    assert F.pad(a, (1, 1), mode="circular").dtype == rgrad.int64


# ---- modules, reprs, errors ---------------------------------------------------------------


@pytest.mark.parametrize("case", PRINTING, ids=lambda c: c["expr"])
def test_printing_cases(case):
    env = {"nn": nn, "F": F, "torch": rgrad}
    if "raises" in case:
        with pytest.raises(Exception) as info:
            eval(case["expr"], env)
        assert type(info.value).__name__ == case["raises"]
        assert str(info.value) == case["message"]
    else:
        assert str(eval(case["expr"], env)) == case["str"]


REPRS = [
    ("nn.Upsample(size=(3, 4), mode='bicubic')", "Upsample(size=(3, 4), mode='bicubic')"),
    ("nn.Upsample(scale_factor=(2, 3))", "Upsample(scale_factor=(2.0, 3.0), mode='nearest')"),
    (
        "nn.UpsamplingNearest2d(scale_factor=2)",
        "UpsamplingNearest2d(scale_factor=2.0, mode='nearest')",
    ),
    ("nn.UpsamplingBilinear2d(size=5)", "UpsamplingBilinear2d(size=5, mode='bilinear')"),
    ("nn.PixelUnshuffle(2)", "PixelUnshuffle(downscale_factor=2)"),
    (
        "nn.Unfold(kernel_size=(2, 3), padding=1, stride=2)",
        "Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=2)",
    ),
    (
        "nn.Fold(output_size=(4, 5), kernel_size=2)",
        "Fold(output_size=(4, 5), kernel_size=2, dilation=1, padding=0, stride=1)",
    ),
    ("nn.ZeroPad2d(2)", "ZeroPad2d((2, 2, 2, 2))"),
    ("nn.ZeroPad1d((1, 2))", "ZeroPad1d((1, 2))"),
    ("nn.ConstantPad1d(2, 3.5)", "ConstantPad1d(padding=(2, 2), value=3.5)"),
    ("nn.ConstantPad3d(1, 0)", "ConstantPad3d(padding=(1, 1, 1, 1, 1, 1), value=0)"),
    ("nn.ReflectionPad2d((1, 0, 2, 1))", "ReflectionPad2d((1, 0, 2, 1))"),
    ("nn.ReplicationPad3d(1)", "ReplicationPad3d((1, 1, 1, 1, 1, 1))"),
    ("nn.CircularPad1d(3)", "CircularPad1d((3, 3))"),
]


@pytest.mark.parametrize("expr,text", REPRS, ids=[r[0] for r in REPRS])
def test_module_reprs(expr, text):
    assert str(eval(expr, {"nn": nn})) == text


def test_padding_modules_match_functional():
    x = _x(1, 2, 3, 4).detach()
    for m, mode in (
        (nn.ReflectionPad2d((1, 2, 0, 1)), "reflect"),
        (nn.ReplicationPad2d((1, 2, 0, 1)), "replicate"),
        (nn.CircularPad2d((1, 2, 0, 1)), "circular"),
        (nn.ZeroPad2d((1, 2, 0, 1)), "constant"),
    ):
        np.testing.assert_array_equal(host(m(x)), host(F.pad(x, (1, 2, 0, 1), mode=mode)))
    assert nn.ConstantPad1d(1, 2.5)(x).shape == (1, 2, 3, 6)
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.CircularPad2d(1)(rgrad.ones(2, 2))


def test_pytorch_import_paths():
    from rgrad.nn.modules.fold import Fold, Unfold  # noqa: F401
    from rgrad.nn.modules.padding import ReflectionPad2d  # noqa: F401
    from rgrad.nn.modules.pixelshuffle import PixelShuffle  # noqa: F401
    from rgrad.nn.modules.upsampling import Upsample

    assert Upsample is nn.Upsample
    assert rgrad.pixel_shuffle is F.pixel_shuffle


_PAD_RANKS = (
    "Padding size 2 is not supported for 4D input tensor.\n"
    "Supported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
)

ERRORS = [
    (
        "F.interpolate(x4, scale_factor=2, mode='linear')",
        NotImplementedError,
        "Got 4D input, but linear mode needs 3D input",
    ),
    (
        "F.interpolate(x4, scale_factor=1e30)",
        RuntimeError,
        "value cannot be converted to type int64_t without overflow",
    ),
    (
        "F.interpolate(x4, scale_factor=float('nan'))",
        RuntimeError,
        "value cannot be converted to type int64_t without overflow",
    ),
    (
        "F.interpolate(x4, scale_factor=1e10)",
        RuntimeError,
        "Storage size calculation overflowed with sizes=[1, 1, 20000000000, 20000000000]",
    ),
    (
        "F.interpolate(x4, size=2**40)",
        RuntimeError,
        "Storage size calculation overflowed with sizes=[1, 1, 1099511627776, 1099511627776]",
    ),
    (
        "F.interpolate(x4, size=0)",
        RuntimeError,
        "Input and output sizes should be greater than 0, but got input (H: 2, W: 2) output (H: 0, W: 0)",
    ),
    (
        "F.interpolate(x4, scale_factor=-1.)",
        RuntimeError,
        "Input and output sizes should be greater than 0, but got input (H: 2, W: 2) output (H: -2, W: -2)",
    ),
    (
        "F.interpolate(rgrad.ones(1, 1, 0, 2), scale_factor=2)",
        RuntimeError,
        "Input and output sizes should be greater than 0, but got input (H: 0, W: 2) output (H: 0, W: 4)",
    ),
    (
        "F.interpolate(rgrad.ones(1, 0, 2, 2), scale_factor=2)",
        RuntimeError,
        "Non-empty 4D data tensor expected but got a tensor with sizes [1, 0, 2, 2]",
    ),
    (
        "F.interpolate(x4, scale_factor=2, align_corners=True)",
        ValueError,
        "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear",
    ),
    (
        "F.interpolate(x4, scale_factor=2, mode='foo')",
        NotImplementedError,
        "Input Error: Only 3D, 4D and 5D input Tensors supported (got 4D) for the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact (got foo)",
    ),
    (
        "F.interpolate(x4, size=(2, 2, 2))",
        ValueError,
        "Input and output must have the same number of spatial dimensions, but got input with spatial dimensions of [2, 2] and output size of (2, 2, 2). Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.",
    ),
    ("F.interpolate(x4)", ValueError, "either size or scale_factor should be defined"),
    (
        "F.interpolate(x4, size=2, scale_factor=2)",
        ValueError,
        "only one of size or scale_factor should be defined",
    ),
    (
        "F.interpolate(x4, size=2, recompute_scale_factor=True)",
        ValueError,
        "recompute_scale_factor is not meaningful with an explicit size.",
    ),
    (
        "F.interpolate(x4.long(), scale_factor=2)",
        NotImplementedError,
        "\"upsample_nearest2d_channels_last\" not implemented for 'Long'",
    ),
    (
        "F.interpolate(x4, scale_factor=2, antialias=True)",
        ValueError,
        "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D tensor as input",
    ),
    ("F.pad(x4, (3, 3), mode='reflect')", NotImplementedError, _PAD_RANKS),
    (
        "F.pad(x4, (2, 2, 0, 0), mode='reflect')",
        RuntimeError,
        "Argument #4: Padding size should be less than the corresponding input dimension, but got: padding (2, 2) at dimension 3 of input [1, 1, 2, 2]",
    ),
    (
        "F.pad(x4, (1, 1, 2, 2), mode='reflect')",
        RuntimeError,
        "Argument #6: Padding size should be less than the corresponding input dimension, but got: padding (2, 2) at dimension 2 of input [1, 1, 2, 2]",
    ),
    (
        "F.pad(x4, (-1, -1, 0, 0), mode='reflect')",
        RuntimeError,
        "Calculated output H: 2 W: 0 must be >= 1 in every dimension (input H: 2, W: 2)",
    ),
    (
        "F.pad(rgrad.ones(1, 1, 4), (-2, -2), mode='replicate')",
        RuntimeError,
        "input (W: 4) is too small. Calculated output W: 0",
    ),
    (
        "F.pad(rgrad.ones(1, 1, 2, 2, 2), (-1, -1, 0, 0, 0, 0), mode='replicate')",
        RuntimeError,
        "Calculated output D: 2 H: 2 W: 0 must be >= 1 in every dimension (input D: 2, H: 2, W: 2)",
    ),
    (
        "F.pad(x4, (3, 3, 0, 0), mode='circular')",
        RuntimeError,
        "Padding value causes wrapping around more than once.",
    ),
    (
        "F.pad(x4, (-2, -1, 0, 0), mode='circular')",
        RuntimeError,
        "Negative padding value is resulting in an empty dimension",
    ),
    (
        "F.pad(rgrad.ones(1, 1, 0, 2), (1, 1, 0, 0), mode='replicate')",
        RuntimeError,
        "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, but got: [1, 1, 0, 2]",
    ),
    (
        "F.pad(rgrad.ones(1, 1, 4, dtype=rgrad.bool), (1, 1), mode='reflect')",
        NotImplementedError,
        "\"reflection_pad1d\" not implemented for 'Bool'",
    ),
    ("F.pad(x4, (-3, 1, 0, 0))", RuntimeError, "narrow(): length must be non-negative."),
    (
        "F.unfold(x4, 3)",
        RuntimeError,
        "Given input with spatial size (2, 2), kernel_size=(3, 3), dilation=(1, 1), padding=(0, 0), calculated shape of the array of sliding blocks as (0, 0), but its components must be at least one.",
    ),
    (
        "F.unfold(x4, 2, stride=0)",
        RuntimeError,
        "stride should be greater than zero, but got stride_height: 0 stride_width: 0",
    ),
    (
        "F.unfold(x4, 2, padding=-1)",
        RuntimeError,
        "padding should be non-negative, but got pad_height: -1 pad_width: -1",
    ),
    (
        "F.unfold(x4, 2, dilation=0)",
        RuntimeError,
        "dilation should be greater than zero, but got dilation_height: 0 dilation_width: 0",
    ),
    (
        "F.unfold(x4, 0)",
        RuntimeError,
        "kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 0",
    ),
    (
        "F.unfold(rgrad.ones(1, 0, 3, 3), 2)",
        RuntimeError,
        "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, but got: [1, 0, 3, 3]",
    ),
    (
        "F.unfold(x4, (2, 2, 2))",
        RuntimeError,
        "It is expected kernel_size equals to 2, but got size 3",
    ),
    (
        "F.unfold(x4.long(), 2)",
        NotImplementedError,
        "\"im2col_out_cpu\" not implemented for 'Long'",
    ),
    (
        "F.fold(rgrad.ones(1, 4, 5), (3, 3), 2)",
        RuntimeError,
        "Given output_size=(3, 3), kernel_size=(2, 2), dilation=(1, 1), padding=(0, 0), stride=(1, 1), expected size of input's dimension 2 to match the calculated number of sliding blocks 2 * 2 = 4, but got input.size(2)=5.",
    ),
    (
        "F.fold(rgrad.ones(1, 5, 4), (3, 3), 2)",
        RuntimeError,
        "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got input.size(1)=5 and kernel_size=(2, 2).",
    ),
    (
        "F.fold(rgrad.ones(1, 4, 4, 1), (3, 3), 2)",
        RuntimeError,
        "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero dimensions for input, but got: [1, 4, 4, 1]",
    ),
    (
        "F.fold(rgrad.ones(1, 4, 1), (1, 1), 2)",
        RuntimeError,
        "Given output_size=(1, 1), kernel_size=(2, 2), dilation=(1, 1), padding=(0, 0), stride=(1, 1), expected size of input's dimension 2 to match the calculated number of sliding blocks 0 * 0 = 0, but got input.size(2)=1.",
    ),
    (
        "F.pixel_shuffle(rgrad.ones(1, 8, 2, 2), 3)",
        RuntimeError,
        "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, but input.size(-3)=8 is not divisible by 9",
    ),
    (
        "F.pixel_shuffle(rgrad.ones(8, 2), 2)",
        RuntimeError,
        "pixel_shuffle expects input to have at least 3 dimensions, but got input with 2 dimension(s)",
    ),
    (
        "F.pixel_shuffle(x4, 0)",
        RuntimeError,
        "pixel_shuffle expects a positive upscale_factor, but got 0",
    ),
    (
        "F.pixel_unshuffle(rgrad.ones(1, 1, 3, 4), 2)",
        RuntimeError,
        "pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)=3 is not divisible by 2",
    ),
    (
        "F.pixel_unshuffle(rgrad.ones(1, 1, 4, 3), 2)",
        RuntimeError,
        "pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)=3 is not divisible by 2",
    ),
    (
        "F.grid_sample(x4, rgrad.zeros(1, 2, 2, 3), align_corners=False)",
        RuntimeError,
        "grid_sampler(): expected grid to have size 2 in last dimension, but got grid with sizes [1, 2, 2, 3]",
    ),
    (
        "F.grid_sample(x4, rgrad.zeros(2, 2, 2, 2), align_corners=False)",
        RuntimeError,
        "grid_sampler(): expected grid and input to have same batch size, but got input with sizes [1, 1, 2, 2] and grid with sizes [2, 2, 2, 2]",
    ),
    (
        "F.grid_sample(x4, rgrad.zeros(1, 2, 2), align_corners=False)",
        RuntimeError,
        "grid_sampler(): expected 4D input and grid with same number of dimensions, but got input with sizes [1, 1, 2, 2] and grid with sizes [1, 2, 2]",
    ),
    (
        "F.grid_sample(x4, rgrad.zeros(1, 2, 2, 2, dtype=rgrad.float64), align_corners=False)",
        RuntimeError,
        "expected scalar type Float but found Double",
    ),
    (
        "F.grid_sample(x4, rgrad.zeros(1, 2, 2, 2), mode='foo')",
        ValueError,
        "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'foo'",
    ),
    (
        "F.grid_sample(x4, rgrad.zeros(1, 2, 2, 2), padding_mode='foo')",
        ValueError,
        "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or 'reflection', but got: 'foo'",
    ),
    (
        "F.grid_sample(rgrad.ones(1, 1, 0, 2), rgrad.zeros(1, 2, 2, 2), align_corners=False)",
        RuntimeError,
        "grid_sampler(): expected input to have non-empty spatial dimensions, but input has sizes [1, 1, 0, 2] with dimension 2 being empty",
    ),
    (
        "F.affine_grid(rgrad.zeros(1, 2, 3), (1, 1, 2), align_corners=False)",
        NotImplementedError,
        "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, respectively. Got size (1, 1, 2).",
    ),
    (
        "F.affine_grid(rgrad.zeros(1, 3, 3), (1, 1, 2, 2), align_corners=False)",
        ValueError,
        "Expected a batch of 2D affine matrices of shape Nx2x3 for size (1, 1, 2, 2). Got rgrad.Size([1, 3, 3]).",
    ),
    (
        "F.affine_grid(rgrad.zeros(2, 2, 3), (1, 1, 2, 2), align_corners=False)",
        RuntimeError,
        "Expected size for first two dimensions of batch2 tensor to be: [1, 3] but got: [2, 3].",
    ),
]


@pytest.mark.parametrize("expr,kind,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_pytorch(expr, kind, message):
    env = {"F": F, "nn": nn, "rgrad": rgrad, "x4": rgrad.ones(1, 1, 2, 2)}
    with pytest.raises(kind) as info:
        eval(expr, env)
    assert _sorted_sets(str(info.value)) == message


def test_warnings_as_pytorch():
    x = rgrad.ones(1, 1, 2, 2)
    with pytest.warns(
        UserWarning, match="Default grid_sample and affine_grid behavior has changed"
    ):
        F.grid_sample(x, rgrad.zeros(1, 1, 1, 2))
    with pytest.warns(UserWarning, match="nn.functional.upsample. is deprecated"):
        F.upsample(x, scale_factor=2)
    with pytest.warns(UserWarning, match="upsample_bilinear. is deprecated"):
        F.upsample_bilinear(x, scale_factor=2)


def test_area_mode_is_adaptive_average_pooling():
    x = _x(1, 2, 4, 6).detach()
    got = host(F.interpolate(x, size=(2, 3), mode="area"))
    blocks = host(x).reshape(1, 2, 2, 2, 3, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(got, blocks, rtol=1e-12)
    np.testing.assert_allclose(got, host(F.adaptive_avg_pool2d(x, (2, 3))), rtol=1e-12)
    x1 = _x(1, 1, 6).detach()
    np.testing.assert_allclose(
        host(F.interpolate(x1, scale_factor=0.5, mode="area")),
        host(x1).reshape(1, 1, 3, 2).mean(axis=-1),
        rtol=1e-12,
    )


# ---- hostile and empty inputs -------------------------------------------------------------


def test_zero_batch_and_empty_results():
    assert F.interpolate(rgrad.ones(0, 1, 2, 2), scale_factor=2).shape == (0, 1, 4, 4)
    assert F.pad(rgrad.ones(0, 1, 2, 2), (1, 1, 0, 0), mode="reflect").shape == (0, 1, 2, 4)
    assert F.pad(rgrad.ones(1, 1, 0, 2), (1, 1, 0, 0), mode="circular").shape == (1, 1, 0, 4)
    assert F.pad(rgrad.ones(1, 1, 4), (-2, -2), mode="circular").shape == (1, 1, 0)
    assert F.unfold(rgrad.ones(0, 1, 3, 3), 2).shape == (0, 4, 4)
    assert F.fold(rgrad.ones(0, 4, 4), (3, 3), 2).shape == (0, 1, 3, 3)
    x = rgrad.ones(0, 1, 2, 2, requires_grad=True)
    F.interpolate(x, scale_factor=2, mode="bilinear").sum().backward()
    assert x.grad.shape == (0, 1, 2, 2)


@pytest.mark.parametrize("scale", [1e5, 1e9, 1e18, 1e300, float("inf"), -1e30])
def test_huge_scale_factors_raise_instead_of_crashing(scale):
    with pytest.raises((RuntimeError, MemoryError)):
        F.interpolate(rgrad.ones(1, 1, 2, 2), scale_factor=scale, mode="bilinear")


@pytest.mark.parametrize("pad", [2**40, 2**62, -(2**62)])
def test_huge_pads_raise(pad):
    for mode in ("reflect", "replicate", "circular"):
        with pytest.raises(RuntimeError):
            F.pad(rgrad.ones(1, 1, 4), (pad, 0), mode=mode)


def test_huge_unfold_geometry_raises():
    for kwargs in ({"padding": 2**40}, {"dilation": 2**62}, {"stride": 2**62}):
        try:
            out = F.unfold(rgrad.ones(1, 1, 3, 3), 2, **kwargs)
        except RuntimeError:
            continue
        assert out.numel() < 100


# ---- wgpu ---------------------------------------------------------------------------------

WGPU_CASES = [
    c
    for c in CASES
    if c["name"].endswith(("_size0", "_scale1", "_0", "_1"))
    or c["name"].startswith(("grid_bilinear_zeros", "affine"))
]


@pytest.mark.wgpu
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases_on_wgpu(case):
    run_module_case(case, "float32", device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize("case", WGPU_CASES, ids=lambda c: c["name"])
def test_reference_on_wgpu(case):
    check_case(case, "float32", device="wgpu")


@pytest.mark.wgpu
def test_double_backward_on_wgpu_matches_cpu():
    rgrad.manual_seed(0)
    x0 = rgrad.randn(2, 3, 4, 5)
    results = []
    for device in ("cpu", "wgpu"):
        x = x0.to(device).detach().requires_grad_()
        y = F.interpolate(F.pad(x, (1, 2, 2, 1), mode="reflect"), scale_factor=1.5, mode="bicubic")
        y = F.fold(F.unfold(y, 2, stride=2), y.shape[-2:], 2, stride=2)
        (gx,) = rgrad.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        gx.pow(2).sum().backward()
        results.append([host(t) for t in (y, gx, x.grad)])
    for cpu, dev in zip(*results):
        np.testing.assert_allclose(dev, cpu, rtol=1e-4, atol=1e-5 * np.abs(cpu).max())
