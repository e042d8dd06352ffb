"""Hypothesis property tests against NumPy: broadcasting arithmetic and its gradients,
reductions, matmul over random shapes, and PyTorch's type promotion rules."""

import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rgrad

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FLOAT_DTYPES = {"float32": (rgrad.float32, np.float32), "float64": (rgrad.float64, np.float64)}
# Tolerances for results computed with a few roundings in the dtype.
TOL = {"float32": 1e-5, "float64": 1e-12}

float_dtype = st.sampled_from(sorted(FLOAT_DTYPES))


def arrays(shape, dtype, low=-3.0, high=3.0):
    return hnp.arrays(
        dtype,
        shape,
        elements=st.floats(low, high, allow_nan=False, width=np.dtype(dtype).itemsize * 8),
    )


def nonzero_arrays(shape, dtype):
    """Magnitude in [0.25, 3] with either sign: safe denominators."""
    mag = arrays(shape, dtype, 0.25, 3.0)
    signs = hnp.arrays(np.bool_, shape)
    return st.tuples(mag, signs).map(lambda ms: np.where(ms[1], ms[0], -ms[0]).astype(dtype))


def unbroadcast(grad, shape):
    """Sum a broadcast gradient back to `shape`, as autograd must."""
    lead = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(lead))) if lead else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


def assert_close(got, expected, dtype_name, scale=1.0):
    tol = TOL[dtype_name] * scale
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


# ---- broadcasting arithmetic --------------------------------------------------------------

BINOPS = {
    "add": (operator.add, lambda a, b, g: (g, g)),
    "sub": (operator.sub, lambda a, b, g: (g, -g)),
    "mul": (operator.mul, lambda a, b, g: (g * b, g * a)),
    "div": (operator.truediv, lambda a, b, g: (g / b, -g * a / (b * b))),
}


@st.composite
def binop_case(draw):
    name = draw(st.sampled_from(sorted(BINOPS)))
    dtype_name = draw(float_dtype)
    np_dtype = FLOAT_DTYPES[dtype_name][1]
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
    sa, sb = shapes.input_shapes
    a = draw(arrays(sa, np_dtype))
    b = draw(nonzero_arrays(sb, np_dtype) if name == "div" else arrays(sb, np_dtype))
    return name, dtype_name, a, b, shapes.result_shape


@FAST
@given(binop_case())
def test_broadcast_arithmetic_matches_numpy(case):
    name, dtype_name, a, b, result_shape = case
    op = BINOPS[name][0]
    dt = FLOAT_DTYPES[dtype_name][0]
    out = op(rgrad.tensor(a, dtype=dt), rgrad.tensor(b, dtype=dt))
    expected = op(a, b)
    assert tuple(out.shape) == result_shape == expected.shape
    assert out.dtype == dt
    assert_close(out.numpy(), expected, dtype_name)


@FAST
@given(st.sampled_from(sorted(BINOPS)), float_dtype, st.booleans(), st.data())
def test_arithmetic_with_python_scalar(name, dtype_name, reflected, data):
    op = BINOPS[name][0]
    dt, np_dtype = FLOAT_DTYPES[dtype_name]
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, max_side=4))
    a = data.draw((nonzero_arrays if reflected and name == "div" else arrays)(shape, np_dtype))
    s = data.draw(st.sampled_from([-1.75, 0.5, 3, -2]))
    x = rgrad.tensor(a, dtype=dt)
    out = op(s, x) if reflected else op(x, s)
    expected = op(np_dtype(s), a) if reflected else op(a, np_dtype(s))
    assert out.dtype == dt
    assert tuple(out.shape) == shape
    assert_close(out.numpy(), expected, dtype_name)


@FAST
@given(binop_case(), st.data())
def test_broadcast_gradients_sum_over_broadcast_axes(case, data):
    name, dtype_name, a, b, result_shape = case
    op, partials = BINOPS[name]
    dt, np_dtype = FLOAT_DTYPES[dtype_name]
    cot = data.draw(arrays(result_shape, np_dtype))
    ta = rgrad.tensor(a, dtype=dt, requires_grad=True)
    tb = rgrad.tensor(b, dtype=dt, requires_grad=True)
    (op(ta, tb) * rgrad.tensor(cot, dtype=dt)).sum().backward()
    ga, gb = partials(a.astype(np.float64), b.astype(np.float64), cot.astype(np.float64))
    ga = unbroadcast(np.broadcast_to(ga, result_shape), a.shape)
    gb = unbroadcast(np.broadcast_to(gb, result_shape), b.shape)
    assert tuple(ta.grad.shape) == a.shape
    assert tuple(tb.grad.shape) == b.shape
    assert ta.grad.dtype == dt and tb.grad.dtype == dt
    # A sum of up to 4**3 float32 terms: allow a few more roundings.
    assert_close(ta.grad.numpy(), ga.reshape(a.shape), dtype_name, scale=100)
    assert_close(tb.grad.numpy(), gb.reshape(b.shape), dtype_name, scale=100)


# ---- reductions ---------------------------------------------------------------------------


@st.composite
def reduction_case(draw):
    dtype_name = draw(float_dtype)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    x = draw(arrays(shape, FLOAT_DTYPES[dtype_name][1]))
    ndim = len(shape)
    dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    # Each dim in either its positive or negative spelling.
    spelled = [d - ndim if draw(st.booleans()) else d for d in dims]
    form = draw(st.sampled_from(["all", "int", "tuple", "list"]))
    keepdim = draw(st.booleans())
    return dtype_name, x, dims, spelled, form, keepdim


def reduce_args(spelled, form, keepdim):
    if form == "all":
        return (), {}
    if form == "int":
        return (spelled[0],), {"keepdim": keepdim}
    dims = tuple(spelled) if form == "tuple" else list(spelled)
    return (), {"dim": dims, "keepdim": keepdim}


@pytest.mark.parametrize("name", ["sum", "mean"])
@FAST
@given(case=reduction_case())
def test_reductions_match_numpy(name, case):
    dtype_name, x, dims, spelled, form, keepdim = case
    dt = FLOAT_DTYPES[dtype_name][0]
    args, kwargs = reduce_args(spelled, form, keepdim)
    t = rgrad.tensor(x, dtype=dt, requires_grad=True)
    out = getattr(t, name)(*args, **kwargs)
    if form == "all":
        axis, keep = None, False
    else:
        axis, keep = (tuple(dims[:1]) if form == "int" else tuple(dims)), keepdim
    expected = getattr(np, name)(x.astype(np.float64), axis=axis, keepdims=keep)
    assert tuple(out.shape) == np.shape(expected)
    assert out.dtype == dt
    assert_close(out.detach().numpy(), expected, dtype_name, scale=10)
    # Gradient: ones (sum) or 1/n (mean) over the reduced elements, in the input's shape.
    out.sum().backward()
    n = x.size // np.size(expected) if name == "mean" else 1
    assert tuple(t.grad.shape) == x.shape
    assert_close(t.grad.numpy(), np.full(x.shape, 1.0 / n), dtype_name)


@FAST
@given(
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=3), elements=st.integers(-100, 100)),
    st.booleans(),
)
def test_integer_and_bool_sum_give_int64(x, as_bool):
    t = rgrad.tensor(x > 0) if as_bool else rgrad.tensor(x)
    out = t.sum()
    assert out.dtype == rgrad.int64
    assert out.item() == int((x > 0).sum() if as_bool else x.sum())
    out0 = t.sum(0)
    assert out0.dtype == rgrad.int64
    np.testing.assert_array_equal(out0.numpy(), (x > 0).sum(0) if as_bool else x.sum(0))


# ---- matmul -------------------------------------------------------------------------------


@st.composite
def matmul_case(draw):
    dtype_name = draw(float_dtype)
    np_dtype = FLOAT_DTYPES[dtype_name][1]
    n, k, m = (draw(st.integers(1, 5)) for _ in range(3))
    kind = draw(st.sampled_from(["vv", "mm", "vm", "mv", "batched", "batched_v", "v_batched"]))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    ba, bb = batch.input_shapes
    sa = {
        "vv": (k,),
        "mm": (n, k),
        "vm": (k,),
        "mv": (n, k),
        "batched": ba + (n, k),
        "batched_v": ba + (n, k),
        "v_batched": (k,),
    }[kind]
    sb = {
        "vv": (k,),
        "mm": (k, m),
        "vm": (k, m),
        "mv": (k,),
        "batched": bb + (k, m),
        "batched_v": (k,),
        "v_batched": bb + (k, m),
    }[kind]
    a = draw(arrays(sa, np_dtype, -1.0, 1.0))
    b = draw(arrays(sb, np_dtype, -1.0, 1.0))
    return dtype_name, a, b


def matmul_grads(a, b, cot):
    """NumPy gradients of (a @ b * cot).sum() with matmul's 1-D promotion rules."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    out2_shape = np.matmul(a2, b2).shape
    cot2 = cot.reshape(out2_shape)
    ga = unbroadcast(np.matmul(cot2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
    gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), cot2), b2.shape).reshape(b.shape)
    return ga, gb


@FAST
@given(matmul_case(), st.data())
def test_matmul_matches_numpy(case, data):
    dtype_name, a, b = case
    dt, np_dtype = FLOAT_DTYPES[dtype_name]
    ta = rgrad.tensor(a, dtype=dt, requires_grad=True)
    tb = rgrad.tensor(b, dtype=dt, requires_grad=True)
    out = ta @ tb
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert tuple(out.shape) == expected.shape
    assert out.dtype == dt
    assert_close(out.detach().numpy(), expected, dtype_name, scale=10)
    cot = data.draw(arrays(expected.shape, np_dtype, -1.0, 1.0))
    (out * rgrad.tensor(cot, dtype=dt)).sum().backward()
    ga, gb = matmul_grads(a.astype(np.float64), b.astype(np.float64), cot.astype(np.float64))
    assert tuple(ta.grad.shape) == a.shape and tuple(tb.grad.shape) == b.shape
    assert_close(ta.grad.numpy(), ga, dtype_name, scale=100)
    assert_close(tb.grad.numpy(), gb, dtype_name, scale=100)


@FAST
@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(1, 6),
    st.sampled_from(["T", "t", "transpose"]),
)
def test_matmul_of_transposed_views_matches_numpy(n, k, m, how):
    rng = np.random.default_rng(n * 100 + k * 10 + m)
    a = rng.standard_normal((k, n))
    b = rng.standard_normal((m, k))
    ta, tb = rgrad.tensor(a, dtype=rgrad.float64), rgrad.tensor(b, dtype=rgrad.float64)
    flip = {"T": lambda x: x.T, "t": lambda x: x.t(), "transpose": lambda x: x.transpose(0, 1)}
    out = flip[how](ta) @ flip[how](tb)
    assert_close(out.numpy(), a.T @ b.T, "float64")


# ---- type promotion -----------------------------------------------------------------------

# Operands: ("tensor" | "zerodim", dtype name) or ("scalar", python type).
TENSOR_DTYPES = ["bool", "int64", "float32", "float64"]
OPERAND_KINDS = (
    [("tensor", d) for d in TENSOR_DTYPES]
    + [("zerodim", d) for d in TENSOR_DTYPES]
    + [("scalar", t) for t in ("bool", "int", "float")]
)
CATEGORY = {"bool": 0, "int64": 1, "float32": 2, "float64": 2}
RANK = {"bool": 0, "int64": 1, "float32": 2, "float64": 3}
SCALAR_DTYPE = {"bool": "bool", "int": "int64", "float": "float32"}  # default dtypes


def promote(a, b):
    if a is None or b is None:
        return a or b
    return a if RANK[a] >= RANK[b] else b


def combine_categories(higher, lower):
    """PyTorch's rule: a lower priority class only matters if it is of a higher category."""
    if higher is not None and CATEGORY[higher] == 2:
        return higher
    if higher == "bool" or (lower is not None and CATEGORY[lower] == 2):
        return promote(higher, lower)
    return higher if higher is not None else lower


def expected_result_type(*operands):
    """torch.result_type: dimensioned tensors > zero-dim tensors > Python numbers, where a
    lower priority class wins only when its category (bool < int < float) is higher."""
    dim = zero = wrapped = None
    for kind, name in operands:
        if kind == "tensor":
            dim = promote(dim, name)
        elif kind == "zerodim":
            zero = promote(zero, name)
        else:
            wrapped = promote(wrapped, SCALAR_DTYPE[name])
    return combine_categories(dim, combine_categories(zero, wrapped))


VALUES = {"bool": [True, False, True], "int64": [3, -2, 5], "float32": [1.5, -2.25, 4.0]}
VALUES["float64"] = [0.1, -2.5, 3.75]
SCALARS = {"bool": True, "int": 2, "float": 2.5}
NP_DTYPES = {"bool": np.bool_, "int64": np.int64, "float32": np.float32, "float64": np.float64}


def make_operand(kind, name, nonnegative=False):
    """(rgrad operand, NumPy value)"""
    if kind == "scalar":
        v = SCALARS[name]
        return v, np.array(v)
    vals = VALUES[name] if kind == "tensor" else VALUES[name][0]
    if nonnegative and name != "bool":
        vals = np.abs(vals).tolist()
    arr = np.array(vals, dtype=NP_DTYPES[name])
    return rgrad.tensor(vals, dtype=getattr(rgrad, name)), arr


PROMOTION_OPS = {
    "add": operator.add,
    "mul": operator.mul,
    "sub": operator.sub,
    "truediv": operator.truediv,
}
operand_pairs = st.tuples(st.sampled_from(OPERAND_KINDS), st.sampled_from(OPERAND_KINDS)).filter(
    lambda p: not (p[0][0] == "scalar" and p[1][0] == "scalar")
)


@settings(FAST, max_examples=100)
@given(operand_pairs, st.sampled_from(sorted(PROMOTION_OPS)))
def test_type_promotion(pair, op_name):
    (ka, na), (kb, nb) = pair
    involves_bool = "bool" in (na, nb)
    if op_name == "sub" and involves_bool:
        return  # subtraction with bools raises; see test_bool_subtraction_*
    op = PROMOTION_OPS[op_name]
    a, a_np = make_operand(ka, na)
    b, b_np = make_operand(kb, nb)
    out = op(a, b)
    want = expected_result_type((ka, na), (kb, nb))
    if op_name == "truediv" and CATEGORY[want] < 2:
        want = "float32"  # true division of integers/bools gives the default float dtype
    assert out.dtype == getattr(rgrad, want), f"{ka} {na} {op_name} {kb} {nb}"
    assert isinstance(out, rgrad.Tensor)
    with np.errstate(divide="ignore", invalid="ignore"):  # x / False is inf or nan
        expected = op(a_np.astype(NP_DTYPES[want]), b_np.astype(NP_DTYPES[want]))
    if want == "bool":
        # bool + bool is logical or, bool * bool logical and
        np.testing.assert_array_equal(out.numpy(), expected.astype(bool))
    else:
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


@FAST
@given(operand_pairs, st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]))
def test_comparisons_return_bool(pair, op_name):
    (ka, na), (kb, nb) = pair
    a, a_np = make_operand(ka, na)
    b, b_np = make_operand(kb, nb)
    op = getattr(operator, op_name)
    out = op(a, b)
    assert out.dtype == rgrad.bool
    want = expected_result_type((ka, na), (kb, nb))
    expected = op(a_np.astype(NP_DTYPES[want]), b_np.astype(NP_DTYPES[want]))
    np.testing.assert_array_equal(out.numpy(), expected)


@FAST
@given(
    st.sampled_from([k for k in OPERAND_KINDS if k[0] != "scalar"]),
    st.sampled_from([2, 0.5]),
    st.booleans(),
)
def test_pow_promotion(base, exponent, reflected):
    kind, name = base
    t, t_np = make_operand(kind, name, nonnegative=True)
    out = exponent**t if reflected else t**exponent
    want = expected_result_type(base, ("scalar", type(exponent).__name__))
    assert out.dtype == getattr(rgrad, want)
    tn, e = t_np.astype(NP_DTYPES[want]), NP_DTYPES[want](exponent)
    np.testing.assert_allclose(out.numpy(), e**tn if reflected else tn**e, rtol=1e-6)


# The promotion table's headline cases, spelled out.
PROMOTION_EXAMPLES = [
    ("rgrad.tensor([1, 2]) * 2.5", "float32"),
    ("rgrad.tensor([1, 2]) * 2", "int64"),
    ("2.5 * rgrad.tensor([1, 2])", "float32"),
    ("rgrad.tensor([1.0, 2.0]) + rgrad.tensor(1.0, dtype=rgrad.float64)", "float32"),
    ("rgrad.tensor([1.0]) + rgrad.tensor([1.0], dtype=rgrad.float64)", "float64"),
    ("rgrad.tensor([1, 2]) + rgrad.tensor(1.5, dtype=rgrad.float64)", "float64"),
    ("rgrad.tensor([1, 2]) + rgrad.tensor(1.5)", "float32"),
    ("rgrad.tensor([True, False]) + rgrad.tensor([True, True])", "bool"),
    ("rgrad.tensor([True, False]) + 1", "int64"),
    ("rgrad.tensor([True, False]) + 1.0", "float32"),
    ("rgrad.tensor([True, False]) + True", "bool"),
    ("rgrad.tensor([True, False]) * rgrad.tensor(2)", "int64"),
    ("rgrad.tensor([1, 2]) / rgrad.tensor([2, 2])", "float32"),
    ("rgrad.tensor([1, 2]) / 2", "float32"),
    ("rgrad.tensor(3) / 2", "float32"),
    ("rgrad.tensor([1, 2], dtype=rgrad.float64) / 2", "float64"),
    ("rgrad.tensor(3) * 1.5", "float32"),
    ("rgrad.tensor(3, dtype=rgrad.float64) * rgrad.tensor([1, 2])", "float64"),
    ("rgrad.tensor(3.0) + rgrad.tensor(1, dtype=rgrad.float64)", "float64"),
    ("rgrad.tensor([1, 2], dtype=rgrad.int32) + 1", "int32"),
    ("rgrad.tensor([1, 2], dtype=rgrad.int32) + rgrad.tensor(1)", "int32"),
    ("rgrad.tensor([1, 2], dtype=rgrad.int32) + rgrad.tensor([1])", "int64"),
    ("rgrad.tensor([1, 2], dtype=rgrad.int32) * 1.5", "float32"),
    ("rgrad.tensor([1.0], dtype=rgrad.float64) * True", "float64"),
    ("rgrad.tensor([1, 2]) // 2", "int64"),
    ("rgrad.tensor([1, 2]) ** 2", "int64"),
    ("rgrad.tensor([1, 2]) ** 0.5", "float32"),
    ("2 ** rgrad.tensor([1, 2])", "int64"),
]


@pytest.mark.parametrize("expr, dtype", PROMOTION_EXAMPLES, ids=[e for e, _ in PROMOTION_EXAMPLES])
def test_promotion_examples(expr, dtype):
    assert eval(expr, {"rgrad": rgrad}).dtype == getattr(rgrad, dtype)


def test_bool_subtraction_of_two_bools_raises():
    msg = "Subtraction, the `-` operator, with two bool tensors is not supported"
    with pytest.raises(RuntimeError, match=msg):
        rgrad.tensor([True]) - rgrad.tensor([False])
    with pytest.raises(RuntimeError, match=msg):
        rgrad.tensor([True]) - True


@pytest.mark.parametrize(
    "expr",
    [
        "rgrad.tensor([1.0, 2.0]) - rgrad.tensor([True, False])",
        "rgrad.tensor([True, False]) - rgrad.tensor([1, 2])",
        "rgrad.tensor([True, False]) - 1",
        "rgrad.tensor([1, 2]) - True",
    ],
)
def test_bool_subtraction_with_one_bool_raises(expr):
    with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
        eval(expr, {"rgrad": rgrad})


def test_integer_pow_negative_exponent_raises():
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        rgrad.tensor([1, 2]) ** -1


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("rgrad.tensor([1, 2], dtype=rgrad.int32) ** 2", [1, 4]),
        (
            "rgrad.tensor([2, 3], dtype=rgrad.int32) ** rgrad.tensor([1, 2], dtype=rgrad.int32)",
            [2, 9],
        ),
        ("2 ** rgrad.tensor([1, 2], dtype=rgrad.int32)", [2, 4]),
    ],
)
def test_int32_pow(expr, expected):
    try:
        out = eval(expr, {"rgrad": rgrad})
    except BaseException as e:  # a PanicException derives from BaseException only
        pytest.fail(f"{type(e).__name__}: {e}")
    assert out.dtype == rgrad.int32
    assert out.tolist() == expected
