"""float16, bfloat16, uint8, int8 and int16: promotion, conversion bits, opmath results,
printing, NumPy interop, save/load and CPU autocast against PyTorch's numbers (reference data
from tools/make_dtype16_reference.py)."""

import json
import math
import pathlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgrad
import rgrad as torch
import rgrad.nn.functional as F

DATA = pathlib.Path(__file__).parent / "data"
REF = json.loads((DATA / "dtype16_reference.json").read_text())
NAMES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
]
DT = {n: getattr(rgrad, n) for n in NAMES}
HALF = {"float16": rgrad.float16, "bfloat16": rgrad.bfloat16}


def bits(t):
    return (t.contiguous().view(rgrad.int16).to(rgrad.int32) & 0xFFFF).tolist()


def from_bits(b, dtype):
    arr = np.array(b, dtype=np.uint16).view(np.int16)
    return rgrad.from_numpy(arr.copy()).view(dtype)


def same_bits(got, want, nan_mask):
    """Bit equality, NaN payloads aside (PyTorch's vectorised bfloat16 narrowing writes NaN
    as 0xFFFF, its scalar one as 0x7FC0: any quiet NaN is accepted)."""

    def is_nan(v):
        return (v & nan_mask[0]) == nan_mask[0] and (v & nan_mask[1]) != 0

    return all(g == w or (is_nan(g) and is_nan(w)) for g, w in zip(got, want, strict=True))


F16_NAN = (0x7C00, 0x03FF)
BF16_NAN = (0x7F80, 0x007F)


def ulps(a, b):
    """Distance in units of the last place between two lists of 16-bit float bits."""

    def ordered(x):
        x = np.array(x, dtype=np.int64)
        return np.where(x & 0x8000, 0x8000 - x, x)

    return np.abs(ordered(a) - ordered(b))


# ---- promotion ------------------------------------------------------------------------------


@pytest.mark.parametrize("a", NAMES)
def test_promote_types_table(a):
    for b in NAMES:
        got = rgrad.promote_types(DT[a], DT[b])
        assert got is DT[REF["promote"][a][b]], (a, b, got)


def test_result_type_with_numbers_and_zero_dim():
    scalars = {"int": 3, "float": 2.5, "bool": True}
    for key, want in REF["result_type"].items():
        left, right = key.split("|")
        zero = left.startswith("0d:")
        name = left[3:] if zero else left
        x = rgrad.ones((), dtype=DT[name]) if zero else rgrad.ones(2, dtype=DT[name])
        other = rgrad.ones((), dtype=DT[right[3:]]) if right.startswith("0d:") else scalars[right]
        assert rgrad.result_type(x, other) is DT[want], key


def test_binary_ops_follow_promotion():
    u = rgrad.tensor([1, 2], dtype=rgrad.uint8)
    i = rgrad.tensor([1, 2], dtype=rgrad.int8)
    assert (u + i).dtype is rgrad.int16
    h = rgrad.tensor([1.0], dtype=rgrad.float16)
    b = rgrad.tensor([1.0], dtype=rgrad.bfloat16)
    assert (h + b).dtype is rgrad.float32
    assert (h + 1.5).dtype is rgrad.float16
    assert (u * 2.5).dtype is rgrad.float32
    assert (h + rgrad.tensor(2.0, dtype=rgrad.float64)).dtype is rgrad.float16


# ---- dtype objects and info -----------------------------------------------------------------


def test_dtype_objects_and_aliases():
    assert rgrad.half is rgrad.float16 and rgrad.short is rgrad.int16
    assert rgrad.float16.itemsize == 2 and rgrad.bfloat16.itemsize == 2
    assert rgrad.uint8.itemsize == 1 and rgrad.int16.itemsize == 2
    assert rgrad.bfloat16.is_floating_point and not rgrad.uint8.is_floating_point
    assert not rgrad.uint8.is_signed and rgrad.int8.is_signed
    assert repr(rgrad.bfloat16) == "rgrad.bfloat16"
    x = rgrad.ones(2)
    assert x.half().dtype is rgrad.float16
    assert x.bfloat16().dtype is rgrad.bfloat16
    assert x.byte().dtype is rgrad.uint8
    assert x.char().dtype is rgrad.int8
    assert x.short().dtype is rgrad.int16
    assert x.half().type() == "torch.HalfTensor"
    assert x.bfloat16().type() == "torch.BFloat16Tensor"
    assert x.byte().type() == "torch.ByteTensor"
    assert isinstance(x.short(), rgrad.ShortTensor)
    assert rgrad.is_floating_point(x.half())


def test_finfo_iinfo():
    f = rgrad.finfo(rgrad.float16)
    assert (f.bits, f.eps, f.max, f.min, f.tiny, f.resolution) == (
        16,
        0.0009765625,
        65504.0,
        -65504.0,
        6.103515625e-05,
        0.001,
    )
    b = rgrad.finfo(rgrad.bfloat16)
    assert b.eps == 0.0078125 and b.max == 3.3895313892515355e38 and b.resolution == 0.01
    assert b.tiny == 1.1754943508222875e-38
    assert repr(f) == (
        "finfo(resolution=0.001, min=-65504, max=65504, eps=0.000976562, "
        "smallest_normal=6.10352e-05, tiny=6.10352e-05, dtype=float16)"
    )
    assert (rgrad.iinfo(rgrad.uint8).min, rgrad.iinfo(rgrad.uint8).max) == (0, 255)
    assert (rgrad.iinfo(rgrad.int8).min, rgrad.iinfo(rgrad.int8).max) == (-128, 127)
    assert (rgrad.iinfo(rgrad.int16).min, rgrad.iinfo(rgrad.int16).max) == (-32768, 32767)
    assert repr(rgrad.iinfo(rgrad.uint8)) == "iinfo(min=0, max=255, dtype=uint8)"


def test_set_default_dtype_refusals():
    with pytest.raises(TypeError, match="only floating-point types"):
        rgrad.set_default_dtype(rgrad.uint8)
    with pytest.raises(NotImplementedError):
        rgrad.set_default_dtype(rgrad.bfloat16)
    assert rgrad.get_default_dtype() is rgrad.float32


# ---- conversions ----------------------------------------------------------------------------


def test_float32_to_half_bits_match_pytorch():
    src = np.array(REF["convert_src_bits"], dtype=np.uint32).view(np.float32)
    t = rgrad.from_numpy(src.copy())
    assert same_bits(bits(t.half()), REF["convert_f16"], F16_NAN)
    assert same_bits(bits(t.bfloat16()), REF["convert_bf16"], BF16_NAN)
    # Strided and large inputs take the other conversion paths: same bits.
    big = rgrad.from_numpy(np.tile(src, 400).copy())
    assert same_bits(bits(big.half())[: len(src)], REF["convert_f16"], F16_NAN)
    strided = big.reshape(400, -1).t().t().bfloat16().reshape(-1)
    assert same_bits(bits(strided)[: len(src)], REF["convert_bf16"], BF16_NAN)
    every_other = REF["convert_f16"][::2]
    assert same_bits(bits(big[::2].half())[: len(every_other)], every_other, F16_NAN)


def test_half_to_float32_is_exact():
    h = from_bits(REF["convert_f16"], rgrad.float16)
    back = h.float().half()
    assert same_bits(bits(back), REF["convert_f16"], F16_NAN)
    b = from_bits(REF["convert_bf16"], rgrad.bfloat16)
    assert same_bits(bits(b.float().bfloat16()), REF["convert_bf16"], BF16_NAN)


def test_float64_to_half_rounds_through_float32():
    d = rgrad.tensor(REF["convert64_src"], dtype=rgrad.float64)
    assert bits(d.half()) == REF["convert64_f16"]
    assert bits(d.bfloat16()) == REF["convert64_bf16"]


def test_float_to_small_ints():
    f = rgrad.tensor(REF["f2i_src"])
    for n, want in REF["f2i"].items():
        assert f.to(DT[n]).tolist() == want, n


def test_tensor_range_checks():
    assert rgrad.tensor([-1], dtype=rgrad.uint8).tolist() == [255]
    assert rgrad.tensor([255.9], dtype=rgrad.uint8).tolist() == [255]
    for v, d in [
        ([256], rgrad.uint8),
        ([-256], rgrad.uint8),
        ([-0.5], rgrad.uint8),
        ([300], rgrad.uint8),
        ([-129], rgrad.int8),
        ([128.0], rgrad.int8),
        ([40000], rgrad.int16),
    ]:
        with pytest.raises(
            RuntimeError,
            match=f"value cannot be converted to type {d} without overflow".replace("rgrad.", ""),
        ):
            rgrad.tensor(v, dtype=d)
    assert math.isinf(rgrad.tensor([1e6], dtype=rgrad.float16).item())
    assert math.isinf(rgrad.tensor([1e39], dtype=rgrad.bfloat16).item())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=40))
def test_round_trip_property(vals):
    x = rgrad.tensor(vals)
    for d in (rgrad.float16, rgrad.bfloat16):
        once = x.to(d)
        # rounding is idempotent, and widening is exact
        assert bits(once.float().to(d)) == bits(once)
        assert once.to(rgrad.float64).to(d).tolist() == once.tolist()
    with np.errstate(over="ignore"):
        h = np.array(vals, dtype=np.float32).astype(np.float16)
    assert np.array_equal(x.half().numpy().view(np.uint16), h.view(np.uint16))


# ---- opmath results -------------------------------------------------------------------------

EXACT = {
    "add",
    "mul",
    "div",
    "pow2",
    "relu",
    "amax1",
    "sqrt",
    "exp",
    "log",
    "sub_scalar",
    "add_scalar",
    "mul_scalar",
    "div_scalar",
    "rdiv_scalar",
    "rsub_scalar",
    "floordiv_scalar",
}


@pytest.mark.parametrize("dname", ["float16", "bfloat16"])
def test_ops_match_pytorch(dname):
    d = HALF[dname]
    r = REF["ops"][dname]
    a, b, c = (from_bits(r[k], d) for k in "abc")
    results = {
        "add": a + c,
        "mul": a * c,
        "div": a / c,
        "sub_scalar": a - 0.3,
        "add_scalar": a + 0.1,
        "mul_scalar": a * 0.3,
        "div_scalar": a / 0.3,
        "rdiv_scalar": 0.3 / c,
        "rsub_scalar": 0.3 - a,
        "floordiv_scalar": a // 0.3,
        "pow2": a**2,
        "exp": a.exp(),
        "log": c.log(),
        "sqrt": c.sqrt(),
        "tanh": a.tanh(),
        "sigmoid": a.sigmoid(),
        "gelu": F.gelu(a),
        "relu": a.relu(),
        "sum": a.sum(),
        "sum0": a.sum(0),
        "mean1": a.mean(1),
        "var1": a.var(1),
        "amax1": a.amax(1),
        "softmax1": a.softmax(1),
        "log_softmax1": a.log_softmax(1),
        "cumsum1": a.cumsum(1),
        "mm": a @ b,
        "layer_norm": F.layer_norm(a, (8,)),
        "norm": a.norm(),
    }
    for k, t in results.items():
        assert t.dtype is d, k
        got = bits(t.reshape(-1))
        want = r[k] if isinstance(r[k], list) else [r[k]]
        want = np.array(want).reshape(-1).tolist()
        dist = ulps(got, want)
        # elementwise ops round one float32 result: the same bits; reductions may sum in
        # another order in float32, which moves the rounded result by at most one ulp.
        limit = 0 if k in EXACT else 1
        assert dist.max() <= limit, (k, got, want)
    assert (a < 0.1).tolist() == r["lt_scalar"]


def test_half_backward_gives_half_grads():
    x = rgrad.randn(4, 5).bfloat16().requires_grad_()
    w = rgrad.randn(5, 3).half().requires_grad_()
    y = (x.float() @ w.float()).relu().sum()
    y.backward()
    assert x.grad.dtype is rgrad.bfloat16 and w.grad.dtype is rgrad.float16
    h = rgrad.randn(3, 4).half().requires_grad_()
    (h.softmax(1) * h).sum().backward()
    assert h.grad.dtype is rgrad.float16 and h.grad.shape == (3, 4)


def test_linear_conv_pool_on_half():
    x = rgrad.randn(2, 3, 8, 8)
    conv = rgrad.nn.Conv2d(3, 4, 3)
    want = conv(x)
    convh = rgrad.nn.Conv2d(3, 4, 3).half()
    convh.load_state_dict({k: v.half() for k, v in conv.state_dict().items()})
    got = convh(x.half())
    assert got.dtype is rgrad.float16
    assert np.allclose(got.detach().float().numpy(), want.detach().numpy(), atol=2e-2, rtol=1e-2)
    p = F.max_pool2d(got, 2)
    assert p.dtype is rgrad.float16
    lin = rgrad.nn.Linear(8, 3).bfloat16()
    out = lin(rgrad.randn(5, 8).bfloat16())
    assert out.dtype is rgrad.bfloat16


def test_batch_norm_on_half():
    x = rgrad.randn(4, 3, 5, 5)
    bn = rgrad.nn.BatchNorm2d(3)
    want = bn(x)
    bnh = rgrad.nn.BatchNorm2d(3).half()
    xh = x.half().requires_grad_()
    got = bnh(xh)
    assert got.dtype is rgrad.float16 and bnh.running_mean.dtype is rgrad.float16
    assert np.allclose(got.detach().float().numpy(), want.detach().numpy(), atol=1e-2)
    got.sum().backward()
    assert xh.grad.dtype is rgrad.float16 and bnh.weight.grad.dtype is rgrad.float16


def test_view_dtype_reinterprets_bits():
    h = rgrad.tensor([1.0, -2.0], dtype=rgrad.float16)
    assert h.view(rgrad.int16).tolist() == [15360, -16384]
    assert h.view(rgrad.bfloat16).dtype is rgrad.bfloat16
    with pytest.raises(RuntimeError):
        rgrad.zeros(3, 2).t().view(rgrad.int16)


def test_small_int_arithmetic_wraps_like_pytorch():
    for n, r in REF["ints"].items():
        x = rgrad.tensor(r["x"], dtype=DT[n])
        y = rgrad.tensor(r["y"], dtype=DT[n])
        assert (x + y).tolist() == r["add"], n
        assert (x * y).tolist() == r["mul"], n
        assert (x - y).tolist() == r["sub"], n
        assert (x // y).tolist() == r["floordiv"], n
        assert (x % y).tolist() == r["rem"], n
        s = x + 200
        assert s.dtype is DT[r["add_scalar_dtype"]] and s.tolist() == r["add_scalar"], n
        assert np.allclose((x / y).tolist(), r["true_div"]), n
        assert x.sum().item() == r["sum"] and x.sum().dtype is DT[r["sum_dtype"]], n
        assert (-x).tolist() == r["neg"], n
    u = rgrad.tensor([200], dtype=rgrad.uint8)
    assert (u + 100).tolist() == [44]


def test_data_movement_on_every_new_dtype():
    for d in (rgrad.float16, rgrad.bfloat16, rgrad.uint8, rgrad.int8, rgrad.int16):
        x = rgrad.arange(12).reshape(3, 4).to(d)
        assert rgrad.cat([x, x]).dtype is d
        assert rgrad.stack([x, x]).shape == (2, 3, 4)
        assert x.t().contiguous().tolist() == np.arange(12).reshape(3, 4).T.tolist()
        assert x[1:, ::2].tolist() == [[4, 6], [8, 10]]
        assert x.gather(1, rgrad.tensor([[0], [1], [2]])).tolist() == [[0], [5], [10]]
        assert rgrad.where(x > 5, x, rgrad.zeros_like(x)).dtype is d
        assert x.sort(descending=True).values[0].tolist() == [3, 2, 1, 0]
        assert x.masked_fill(x > 8, 1).max().item() == 8
        assert x.flip(0)[0].tolist() == [8, 9, 10, 11]


# ---- printing and interop -------------------------------------------------------------------


def test_reprs_match_pytorch():
    for k, r in REF["reprs"].items():
        t = rgrad.tensor(r["values"], dtype=DT[r["dtype"]])
        want = r["repr"].replace("torch.", "rgrad.")
        assert repr(t) == want, (k, repr(t), want)


def test_numpy_interop():
    h = np.array([1.5, -2.0], dtype=np.float16)
    t = rgrad.from_numpy(h)
    assert t.dtype is rgrad.float16 and t.tolist() == [1.5, -2.0]
    u = rgrad.from_numpy(np.array([[0, 255]], dtype=np.uint8))
    assert u.dtype is rgrad.uint8 and u.numpy().dtype == np.uint8
    assert rgrad.tensor(np.int8(3)).dtype is rgrad.int8
    assert rgrad.tensor(np.array([1, 2], dtype=np.int16)).dtype is rgrad.int16
    assert rgrad.tensor(np.float16(1.5)).dtype is rgrad.float16
    assert rgrad.ones(2).half().numpy().dtype == np.float16
    b = rgrad.tensor([1.1], dtype=rgrad.bfloat16)
    with pytest.raises(TypeError, match="Got unsupported ScalarType BFloat16"):
        b.numpy()
    assert b.tolist() == [1.1015625] and b.item() == 1.1015625
    # torchvision-style ToTensor on a uint8 image
    img = rgrad.from_numpy(np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    tt = img.permute(2, 0, 1).float().div(255)
    assert tt.dtype is rgrad.float32 and tt.shape == (3, 2, 2)


def test_requires_grad_only_for_floats():
    with pytest.raises(
        RuntimeError, match="only Tensors of floating point dtype can require gradients"
    ):
        rgrad.tensor([1], dtype=rgrad.uint8).requires_grad_()
    assert rgrad.tensor([1.0], dtype=rgrad.bfloat16).requires_grad_().requires_grad


def test_unsupported_op_messages():
    with pytest.raises(NotImplementedError, match="Low precision dtypes not supported. Got Half"):
        rgrad.linalg.inv(rgrad.eye(2).half())
    with pytest.raises(
        NotImplementedError, match="\"cholesky_cpu\" not implemented for 'BFloat16'"
    ):
        rgrad.linalg.cholesky(rgrad.eye(2).bfloat16())


def test_pickle_round_trip():
    import pickle

    for d in (rgrad.float16, rgrad.bfloat16, rgrad.uint8):
        x = rgrad.tensor([1.25, 3.0]).to(d)
        y = pickle.loads(pickle.dumps(x))
        assert y.dtype is d and bits(y.to(rgrad.int16)) == bits(x.to(rgrad.int16))


# ---- save / load ----------------------------------------------------------------------------


def test_load_pytorch_checkpoint_exact_bits():
    expect = json.loads((DATA / "dtype16_checkpoint.json").read_text())
    ck = rgrad.load(DATA / "dtype16_checkpoint.pt")
    for k, e in expect.items():
        t = ck[k]
        assert t.dtype is DT[e["dtype"]], k
        assert list(t.shape) == e["shape"], k
        got = bits(t) if e["dtype"] in HALF else t.tolist()
        assert np.array(got).reshape(-1).tolist() == np.array(e["bits"]).reshape(-1).tolist(), k


@pytest.mark.parametrize("fmt", ["torch", "safetensors"])
def test_save_load_round_trip(tmp_path, fmt):
    tensors = {
        "h": rgrad.randn(3, 4).half(),
        "b": rgrad.randn(5).bfloat16(),
        "u": rgrad.tensor([0, 7, 255], dtype=rgrad.uint8),
        "c": rgrad.tensor([-128, 3], dtype=rgrad.int8),
        "s": rgrad.tensor([[-32768, 9]], dtype=rgrad.int16),
    }
    path = tmp_path / ("x.safetensors" if fmt == "safetensors" else "x.pt")
    rgrad.save(tensors, path)
    back = rgrad.load(path)
    for k, t in tensors.items():
        assert back[k].dtype is t.dtype, k
        assert back[k].view(rgrad.int16 if t.dtype.itemsize == 2 else rgrad.int8).tolist() == (
            t.view(rgrad.int16 if t.dtype.itemsize == 2 else rgrad.int8).tolist()
        ), k


# ---- autocast -------------------------------------------------------------------------------


def test_autocast_casts_lower_precision_ops():
    a, b = rgrad.randn(3, 4), rgrad.randn(4, 2)
    with rgrad.autocast("cpu", dtype=rgrad.bfloat16):
        assert (a @ b).dtype is rgrad.bfloat16
        assert a.mm(b).dtype is rgrad.bfloat16
        assert F.linear(a, b.t()).dtype is rgrad.bfloat16
        assert (a + 1).dtype is rgrad.float32  # not on the list: unchanged
        assert a.double().mm(b.double()).dtype is rgrad.float64  # float64 is not cast
        assert rgrad.is_autocast_enabled("cpu")
    with rgrad.amp.autocast("cpu", dtype=rgrad.float16):
        assert (a @ b).dtype is rgrad.float16
    with rgrad.autocast("cpu"):
        assert (a @ b).dtype is rgrad.bfloat16
        with rgrad.autocast("cpu", enabled=False):
            assert (a @ b).dtype is rgrad.float32
        assert (a @ b).dtype is rgrad.bfloat16
    assert (a @ b).dtype is rgrad.float32
    with pytest.warns(FutureWarning, match="torch.cpu.amp.autocast"):
        ctx = rgrad.cpu.amp.autocast()
    with ctx:
        assert (a @ b).dtype is rgrad.bfloat16
    with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not supported"):
        ctx = rgrad.autocast("cpu", dtype=rgrad.float64)
    with ctx:
        assert (a @ b).dtype is rgrad.float32


def test_autocast_mlp_matches_pytorch():
    r = REF["autocast_mlp"]
    x = rgrad.tensor(r["x"])
    params = [rgrad.tensor(p, requires_grad=True) for p in r["params"]]
    tgt = rgrad.tensor(r["target"])
    with rgrad.autocast("cpu", dtype=rgrad.bfloat16):
        h = F.linear(x, params[0], params[1]).relu()
        logits = F.linear(h, params[2], params[3])
        loss = F.cross_entropy(logits, tgt)
    assert h.dtype is DT[r["h_dtype"]] and logits.dtype is DT[r["logits_dtype"]]
    assert loss.dtype is DT[r["loss_dtype"]]
    loss.backward()
    tol = 2 * 2.0**-8  # a couple of bf16 ulps relative
    assert np.allclose(logits.float().tolist(), r["logits"], rtol=tol, atol=tol)
    assert abs(loss.item() - r["loss"]) <= tol * abs(r["loss"]) + tol
    for p, g, gd in zip(params, r["grads"], r["grad_dtypes"]):
        assert p.grad.dtype is DT[gd]
        assert np.allclose(p.grad.tolist(), g, rtol=0.03, atol=0.02)


def test_autocast_fp32_list_losses():
    logits = rgrad.randn(4, 3).bfloat16()
    with rgrad.autocast("cpu"):
        assert F.cross_entropy(logits, rgrad.tensor([0, 1, 2, 0])).dtype is rgrad.float32
        assert F.mse_loss(logits, logits).dtype is rgrad.float32
    assert F.mse_loss(logits, logits).dtype is rgrad.bfloat16


# ---- wgpu ------------------------------------------------------------------------------------


@pytest.mark.wgpu
@pytest.mark.parametrize("d", ["float16", "bfloat16", "uint8", "int8", "int16"])
def test_wgpu_refuses_reduced_dtypes(d):
    if not rgrad.wgpu.is_available():
        pytest.skip("no wgpu adapter")
    x = rgrad.ones(3, dtype=DT[d])
    with pytest.raises((TypeError, RuntimeError), match=d):
        x.to("wgpu")
    with pytest.raises((TypeError, RuntimeError), match=d):
        rgrad.ones(3, device="wgpu").to(DT[d])
    with pytest.raises((TypeError, RuntimeError), match=d):
        rgrad.zeros(2, dtype=DT[d], device="wgpu")


def test_no_warning_on_import():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.tensor([1.0], dtype=torch.half)
