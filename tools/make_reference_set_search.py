"""Reference vectors for the set, search, NaN-test, logical/bitwise and selection ops
(tests/test_set_search_ops.py, tests/test_logical_ops.py), from PyTorch.

Each case is an expression over named inputs; the file keeps the inputs, and either the
outputs (every tensor of a tuple, dtype and shape included, or a Python bool) or the error
PyTorch raises (its type and message). NaN, infinities, ties, mixed dtypes, broadcasting,
0-dim and empty inputs are in the inputs on purpose.

Run with PyTorch's interpreter:  /work/torchenv/bin/python tools/make_reference_set_search.py
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "set_search_ops.json"
NAN, INF = math.nan, math.inf
rng = np.random.default_rng(16)


def arr(data, dtype):
    return {
        "data": np.asarray(data).reshape(-1).tolist(),
        "shape": list(np.shape(data)),
        "dtype": dtype,
    }


def f64(data):
    return arr(np.asarray(data, dtype=np.float64), "float64")


def f32(data):
    return arr(np.asarray(data, dtype=np.float32), "float32")


def i64(data):
    return arr(np.asarray(data, dtype=np.int64), "int64")


def i32(data):
    return arr(np.asarray(data, dtype=np.int32), "int32")


def b(data):
    return arr(np.asarray(data, dtype=bool), "bool")


TORCH_DT = {
    "float64": torch.float64,
    "float32": torch.float32,
    "int64": torch.int64,
    "int32": torch.int32,
    "bool": torch.bool,
}


def to_torch(spec):
    a = np.asarray(spec["data"], dtype=np.float64 if "float" in spec["dtype"] else None)
    t = torch.tensor(a.tolist(), dtype=TORCH_DT[spec["dtype"]])
    return t.reshape(spec["shape"])


def encode(value):
    if isinstance(value, torch.Tensor):
        dt = str(value.dtype).removeprefix("torch.")
        return {"data": value.reshape(-1).tolist(), "shape": list(value.shape), "dtype": dt}
    if isinstance(value, bool):
        return {"bool": value}
    raise TypeError(type(value))


CASES = []


def case(name, expr, family, **inputs):
    CASES.append({"name": name, "expr": expr, "family": family, "inputs": inputs})


fl = [1.5, NAN, -0.0, 0.0, INF, -INF, 1.5, -2.0, NAN, 3.0]
ints = rng.integers(-3, 4, size=17)

# ---- unique / unique_consecutive ------------------------------------------------------------
U = "set"
case("unique_int", "torch.unique(x)", U, x=i64(ints))
case("unique_int_all", "torch.unique(x, return_inverse=True, return_counts=True)", U, x=i64(ints))
case(
    "unique_int_2d_inverse",
    "torch.unique(x, return_inverse=True)",
    U,
    x=i64(ints[:12].reshape(3, 4)),
)
case("unique_unsorted", "torch.unique(x, sorted=False, return_counts=True)", U, x=i64(ints))
case("unique_float_nan", "torch.unique(x, return_inverse=True, return_counts=True)", U, x=f64(fl))
case("unique_float32", "torch.unique(x, return_counts=True)", U, x=f32(fl))
case("unique_int32", "torch.unique(x, return_counts=True)", U, x=i32(ints))
case(
    "unique_bool",
    "torch.unique(x, return_inverse=True, return_counts=True)",
    U,
    x=b([True, False, True]),
)
case("unique_0d", "torch.unique(x, return_inverse=True, return_counts=True)", U, x=i64(5))
case(
    "unique_empty",
    "torch.unique(x, return_inverse=True, return_counts=True)",
    U,
    x=f64(np.zeros(0)),
)
case(
    "unique_wide_range",
    "torch.unique(x, return_inverse=True, return_counts=True)",
    U,
    x=i64([2**62, -(2**62), 7, 2**62, -1, 7, 0]),
)
case(
    "unique_big_dense",
    "torch.unique(x, return_inverse=True, return_counts=True)",
    U,
    x=i64(rng.integers(0, 50, size=300)),
)
case(
    "unique_big_sparse",
    "torch.unique(x, return_inverse=True, return_counts=True)",
    U,
    x=i64(rng.integers(-(10**12), 10**12, size=300) // 1000 * 1000),
)
case(
    "unique_dim0",
    "torch.unique(x, dim=0, return_inverse=True, return_counts=True)",
    U,
    x=i64([[1, 2], [1, 2], [0, 5], [0, 4]]),
)
case(
    "unique_dim1",
    "torch.unique(x, dim=1, return_inverse=True, return_counts=True)",
    U,
    x=i64([[1, 2, 1], [3, 0, 3]]),
)
case("unique_dim_neg", "torch.unique(x, dim=-1)", U, x=f64([[1.0, 2.0, 1.0], [3.0, NAN, 3.0]]))
case(
    "unique_dim_empty",
    "torch.unique(x, dim=0, return_inverse=True, return_counts=True)",
    U,
    x=f64(np.zeros((0, 3))),
)
case("unique_dim_zero_other", "torch.unique(x, dim=0)", U, x=f64(np.zeros((3, 0))))
case("unique_dim_range", "torch.unique(x, dim=2)", U, x=i64([[1, 2]]))
case(
    "unique_consecutive",
    "torch.unique_consecutive(x, return_inverse=True, return_counts=True)",
    U,
    x=i64([1, 1, 2, 2, 3, 1, 1, 2]),
)
case(
    "unique_consecutive_nan",
    "torch.unique_consecutive(x, return_counts=True)",
    U,
    x=f64([1.0, NAN, NAN, 2.0, 2.0, -0.0, 0.0]),
)
case(
    "unique_consecutive_dim",
    "torch.unique_consecutive(x, dim=0, return_inverse=True, return_counts=True)",
    U,
    x=i64([[1, 2], [1, 2], [0, 5], [1, 2]]),
)
case("unique_consecutive_plain", "torch.unique_consecutive(x)", U, x=f32([3.0, 3.0, 1.0]))

# ---- isin / histc / bincount ------------------------------------------------------------------
case("isin_int", "torch.isin(x, y)", U, x=i64(ints[:8]), y=i64([2, -1, 9]))
case("isin_invert", "torch.isin(x, y, invert=True)", U, x=i64(ints[:8]), y=i64([2, -1, 9]))
case(
    "isin_float_nan",
    "torch.isin(x, y)",
    U,
    x=f64([1.0, NAN, 3.0, -0.0, INF]),
    y=f64([NAN, 3.0, 0.0, INF]),
)
case("isin_mixed", "torch.isin(x, y)", U, x=i64([1, 2, 3]), y=f64([2.5, 2.0]))
case("isin_scalar_test", "torch.isin(x, 2)", U, x=i64([[1, 2], [2, 3]]))
case("isin_scalar_elem", "torch.isin(2, y)", U, y=i64([1, 2, 3]))
case("isin_2d_test", "torch.isin(x, y, assume_unique=True)", U, x=i64([1, 2]), y=i64([[1], [5]]))
case(
    "histc_range",
    "torch.histc(x, bins=4, min=0, max=1)",
    U,
    x=f64([0.0, 0.5, 1.0, 2.0, NAN, 0.25, -0.1]),
)
case("histc_data_range", "torch.histc(x, bins=5)", U, x=f64(rng.normal(size=40)))
case("histc_float32", "torch.histc(x, bins=3, min=-1, max=1)", U, x=f32(rng.normal(size=20)))
case("histc_equal", "torch.histc(x, bins=4)", U, x=f64([1.0, 1.0]))
case("histc_empty", "torch.histc(x, bins=4)", U, x=f64(np.zeros(0)))
case("histc_int_error", "torch.histc(x, bins=4)", U, x=i64([1, 2]))
case("histc_bins_error", "torch.histc(x, bins=0)", U, x=f64([1.0]))
case("histc_minmax_error", "torch.histc(x, bins=4, min=3, max=1)", U, x=f64([1.0]))
case("histc_inf_error", "torch.histc(x, bins=4)", U, x=f64([1.0, INF]))
case("histc_2d", "torch.histc(x, bins=3, min=0, max=3)", U, x=f64([[0.5, 1.5], [2.5, 3.0]]))
case("bincount", "torch.bincount(x)", U, x=i64([0, 2, 2, 5]))
case("bincount_minlength", "torch.bincount(x, minlength=8)", U, x=i64([0, 2, 2, 5]))
case(
    "bincount_w32",
    "torch.bincount(x, weights=w, minlength=4)",
    U,
    x=i64([0, 2, 2]),
    w=f32([1.0, 2.5, 3.0]),
)
case("bincount_w64", "torch.bincount(x, weights=w)", U, x=i64([0, 2, 2]), w=f64([1.0, 2.5, 3.0]))
case("bincount_wint", "torch.bincount(x, weights=w)", U, x=i64([0, 2, 2]), w=i64([1, 2, 3]))
case("bincount_int32", "torch.bincount(x)", U, x=i32([1, 1, 3]))
case("bincount_empty", "torch.bincount(x, minlength=3)", U, x=i64(np.zeros(0, dtype=np.int64)))
case("bincount_negative", "torch.bincount(x)", U, x=i64([-1, 2]))
case("bincount_2d", "torch.bincount(x)", U, x=i64([[1]]))
case("bincount_float", "torch.bincount(x)", U, x=f64([1.0]))
case("bincount_bool", "torch.bincount(x)", U, x=b([True]))
case("bincount_minlength_error", "torch.bincount(x, minlength=-1)", U, x=i64([1]))
case("bincount_weights_error", "torch.bincount(x, weights=w)", U, x=i64([1, 2]), w=f64([1.0]))

# ---- searchsorted / bucketize ---------------------------------------------------------------
S = "search"
srt = [1.0, 2.0, 2.0, 3.0, NAN]
case(
    "searchsorted_left",
    "torch.searchsorted(s, v)",
    S,
    s=f64(srt),
    v=f64([NAN, 2.0, 0.0, 5.0, 2.5, -INF, INF]),
)
case(
    "searchsorted_right",
    "torch.searchsorted(s, v, right=True)",
    S,
    s=f64(srt),
    v=f64([NAN, 2.0, 0.0, 5.0, 3.0]),
)
case(
    "searchsorted_side", "torch.searchsorted(s, v, side='right')", S, s=f64(srt), v=f64([2.0, 1.0])
)
case(
    "searchsorted_int32",
    "torch.searchsorted(s, v, out_int32=True)",
    S,
    s=f64(srt),
    v=f64([[2.0, 1.0], [3.0, 0.0]]),
)
case("searchsorted_scalar", "torch.searchsorted(s, 2.0)", S, s=f64(srt))
case(
    "searchsorted_int_values",
    "torch.searchsorted(s, v)",
    S,
    s=i64([1, 3, 5, 7]),
    v=i64([[0, 3], [8, 5]]),
)
case("searchsorted_mixed", "torch.searchsorted(s, v)", S, s=i64([1, 3, 5]), v=f64([2.5, 3.0]))
case(
    "searchsorted_sorter",
    "torch.searchsorted(s, v, sorter=o)",
    S,
    s=f64([3.0, 1.0, 5.0, 2.0]),
    v=f64([2.0, 4.0, 0.5]),
    o=i64([1, 3, 0, 2]),
)
case(
    "searchsorted_batched",
    "torch.searchsorted(s, v, right=True)",
    S,
    s=f64([[1.0, 3.0, 5.0], [0.0, 1.0, 2.0]]),
    v=f64([[2.0, 5.0], [3.0, 1.0]]),
)
case(
    "searchsorted_empty_values",
    "torch.searchsorted(s, v)",
    S,
    s=f64([1.0, 2.0]),
    v=f64(np.zeros(0)),
)
case("searchsorted_0d_error", "torch.searchsorted(s, v)", S, s=f64(1.0), v=f64([2.0]))
case("searchsorted_shape_error", "torch.searchsorted(s, v)", S, s=f64([[1.0, 3.0]]), v=f64([2.0]))
case(
    "searchsorted_sorter_error",
    "torch.searchsorted(s, v, sorter=o)",
    S,
    s=f64([3.0, 1.0]),
    v=f64([2.0]),
    o=i64([1]),
)
case(
    "searchsorted_sorter_dtype",
    "torch.searchsorted(s, v, sorter=o)",
    S,
    s=f64([3.0, 1.0]),
    v=f64([2.0]),
    o=i32([1, 0]),
)
case(
    "searchsorted_side_error",
    "torch.searchsorted(s, v, side='middle')",
    S,
    s=f64([1.0]),
    v=f64([2.0]),
)
case(
    "searchsorted_side_conflict",
    "torch.searchsorted(s, v, side='left', right=True)",
    S,
    s=f64([1.0]),
    v=f64([2.0]),
)
case(
    "bucketize",
    "torch.bucketize(v, s)",
    S,
    v=f64([[2.0, 3.0], [NAN, -1.0]]),
    s=f64([1.0, 3.0, 5.0]),
)
case(
    "bucketize_right",
    "torch.bucketize(v, s, right=True, out_int32=True)",
    S,
    v=f64([1.0, 3.0, 6.0]),
    s=f64([1.0, 3.0, 5.0]),
)
case("bucketize_scalar", "torch.bucketize(3, s)", S, s=f64([1.0, 3.0, 5.0]))
case("bucketize_error", "torch.bucketize(v, s)", S, v=f64([3.0]), s=f64([[1.0, 3.0]]))

# ---- NaN tests, logical and bitwise ------------------------------------------------------------
L = "logical"
nf = [1.0, NAN, INF, -INF, -0.0, 0.0, -2.5]
for fn in ["isnan", "isinf", "isposinf", "isneginf", "isfinite"]:
    case(f"{fn}_f64", f"torch.{fn}(a)", L, a=f64(nf))
    case(f"{fn}_f32", f"torch.{fn}(a)", L, a=f32(nf))
    case(f"{fn}_int", f"torch.{fn}(i)", L, i=i64([1, 0, -3]))
case("isnan_method_2d", "a.isnan()", L, a=f64(np.array(nf[:6]).reshape(2, 3)))
m1 = [True, False, True, False]
m2 = [True, True, False, False]
for op in ["logical_and", "logical_or", "logical_xor"]:
    case(f"{op}_bool", f"torch.{op}(m, n)", L, m=b(m1), n=b(m2))
    case(f"{op}_float", f"torch.{op}(a, q)", L, a=f64([1.0, 0.0, NAN, -0.0]), q=i64([2, 3, 0, 1]))
    case(
        f"{op}_broadcast", f"torch.{op}(m, n)", L, m=b([[True], [False]]), n=b([True, False, True])
    )
case("logical_not_float", "torch.logical_not(a)", L, a=f64([1.0, 0.0, NAN, -0.0]))
case("logical_not_int", "torch.logical_not(i)", L, i=i32([1, 0, -3]))
case("logical_xor_number", "torch.logical_xor(a, 1)", L, a=f64([1.0]))
ia, ib = [5, -3, 0, 12, -1], [3, 6, -1, 10, 1]
case("bitwise_and", "torch.bitwise_and(i, j)", L, i=i64(ia), j=i64(ib))
case("bitwise_ops_ops", "(i & j) | (i ^ 3) ^ ~j", L, i=i64(ia), j=i64(ib))
case("bitwise_int32", "(i & j) | (i ^ j)", L, i=i32(ia), j=i32(ib))
case("bitwise_promote", "i & j", L, i=i32(ia), j=i64(ib))
case("bitwise_bool", "(m & n) | (m ^ n), ~m", L, m=b(m1), n=b(m2))
case("bitwise_bool_int", "m | j", L, m=b(m1 + [True]), j=i64(ib))
case("bitwise_bool_scalar", "m & 3", L, m=b(m1))
case("bitwise_reflected", "3 & i, 6 | i, 1 ^ i", L, i=i64(ia))
case("bitwise_not_int32", "torch.bitwise_not(i)", L, i=i32(ia))
case("bitwise_broadcast", "i & j", L, i=i64([[1], [2]]), j=i64([3, 2, 1]))
case(
    "shift_left",
    "torch.bitwise_left_shift(i, j)",
    L,
    i=i64([1, -1, 5, 3, 7]),
    j=i64([64, 65, -1, 2, 63]),
)
case(
    "shift_right",
    "torch.bitwise_right_shift(i, j)",
    L,
    i=i64([1, -1, -5, 8, -8]),
    j=i64([64, 65, -1, 2, 1]),
)
case("shift_int32", "i << 33, i >> 31, i << 3", L, i=i32([1, -2, 5]))
case("shift_ops", "(i << 2) + (i >> 1)", L, i=i64(ia))
case("shift_reflected", "1 << i, 256 >> i", L, i=i64([0, 3, 8]))
case("shift_bool_scalar", "m << 1", L, m=b([True, False]))
case("shift_float_error", "a << 1", L, a=f64([1.0]))
case("shift_bool_error", "m << m", L, m=b([True]))
case("shift_float_scalar_error", "torch.bitwise_left_shift(i, 1.5)", L, i=i64([3]))
case("bitwise_float_error", "a & a", L, a=f64([1.0]))
case("bitwise_float_scalar_error", "i & 1.5", L, i=i64([1]))
case("bitwise_not_float_error", "torch.bitwise_not(a)", L, a=f64([1.0]))
case("invert_float_error", "~a", L, a=f64([1.0]))
ca = [1.0, INF, NAN, -INF, 1e-9, 100.0, 0.0]
cb = [1.0 + 1e-6, INF, NAN, INF, 0.0, 100.001, -1e-9]
case("isclose", "torch.isclose(a, c)", L, a=f64(ca), c=f64(cb))
case("isclose_equal_nan", "torch.isclose(a, c, equal_nan=True)", L, a=f64(ca), c=f64(cb))
case("isclose_tol", "torch.isclose(a, c, rtol=1e-3, atol=0.0)", L, a=f64(ca), c=f64(cb))
case("isclose_f32", "torch.isclose(a, c)", L, a=f32(ca), c=f32(cb))
case("isclose_broadcast", "torch.isclose(a, c)", L, a=f64([[1.0], [2.0]]), c=f64([1.0, 3.0]))
case("isclose_int", "torch.isclose(i, j)", L, i=i64([1, 2, 100000000]), j=i64([1, 3, 100000001]))
case("isclose_int_exact", "torch.isclose(i, j, rtol=0, atol=0)", L, i=i64([1, 2]), j=i64([1, 3]))
case("isclose_bool", "torch.isclose(m, n)", L, m=b(m1), n=b(m2))
case("isclose_dtype_error", "torch.isclose(a, i)", L, a=f32([1.0]), i=i64([1]))
case("isclose_dtype_error2", "torch.isclose(a, c)", L, a=f32([1.0]), c=f64([1.0]))
case("isclose_rtol_error", "torch.isclose(a, a, rtol=-1)", L, a=f64([1.0]))
case("isclose_atol_error", "torch.isclose(a, a, atol=-1)", L, a=f64([1.0]))
case("allclose", "torch.allclose(a, a + 1e-9), torch.allclose(a, a + 1.0)", L, a=f64([1.0, 2.0]))
case(
    "allclose_nan",
    "torch.allclose(a, a), torch.allclose(a, a, equal_nan=True)",
    L,
    a=f64([1.0, NAN]),
)
case("equal", "torch.equal(a, c)", L, a=f64([1.0, 2.0]), c=i64([1, 2]))
case("equal_nan", "torch.equal(a, a)", L, a=f64([NAN]))
case("equal_shape", "torch.equal(a, c)", L, a=f64([1.0]), c=f64([[1.0]]))
case("ne_nan", "a != a, a == a, a < c, a >= c", L, a=f64([NAN, 1.0, 2.0]), c=f64([1.0, NAN, 2.0]))
case(
    "count_nonzero", "torch.count_nonzero(q, dim=1)", L, q=f64([[0.0, 1.0, NAN], [-0.0, 0.0, 2.0]])
)
case("count_nonzero_all", "torch.count_nonzero(q)", L, q=f64([[0.0, 1.0, NAN], [-0.0, 0.0, 2.0]]))
case("count_nonzero_dims", "torch.count_nonzero(i, dim=(0, 1))", L, i=i64([[0, 1], [2, 0]]))
case("count_nonzero_bool", "torch.count_nonzero(m)", L, m=b([[True, False]]))

# ---- selection -------------------------------------------------------------------------------
X = "select"
A = rng.normal(size=(3, 4)).round(3)
case("nonzero", "torch.nonzero(q)", X, q=f64([[0.0, 1.0, NAN], [-0.0, 0.0, 2.0]]))
case("nonzero_tuple", "torch.nonzero(i, as_tuple=True)", X, i=i64([[0, 1], [2, 0]]))
case("nonzero_0d", "torch.nonzero(a, as_tuple=True), torch.nonzero(a)", X, a=f64(3.0))
case("nonzero_0d_zero", "torch.nonzero(a, as_tuple=True)", X, a=f64(0.0))
case("argwhere", "torch.argwhere(m)", X, m=b([[True, False], [True, True]]))
case("argwhere_0d", "torch.argwhere(a)", X, a=f64(3.0))
case("argwhere_int", "torch.argwhere(i)", X, i=i64([0, 1, 2]))
case("masked_select", "torch.masked_select(a, m)", X, a=f64(A), m=b(A > 0))
case(
    "masked_select_broadcast",
    "torch.masked_select(a, m)",
    X,
    a=f64(A),
    m=b([True, False, False, True]),
)
case("masked_select_error", "torch.masked_select(a, i)", X, a=f64([1.0, 2.0]), i=i64([1, 0]))
case("take", "torch.take(a, i)", X, a=f64(A), i=i64([[0, -1], [5, 11]]))
case("take_0d", "torch.take(a, i)", X, a=f64(A), i=i64(3))
case("take_range_error", "torch.take(a, i)", X, a=f64([[1.0, 2.0], [3.0, 4.0]]), i=i64([4]))
case("take_dtype_error", "torch.take(a, i)", X, a=f64([1.0]), i=i32([0]))
case("take_empty_error", "torch.take(a, i)", X, a=f64(np.zeros(0)), i=i64([0]))
case(
    "take_along_dim",
    "torch.take_along_dim(a, i, dim=1)",
    X,
    a=f64(A),
    i=i64([[0, 3], [1, 1], [2, 0]]),
)
case(
    "take_along_dim_bcast", "torch.take_along_dim(a, i, dim=0)", X, a=f64(A), i=i64([[2, 0, 1, 1]])
)
case("take_along_dim_bcast2", "torch.take_along_dim(a, i, dim=1)", X, a=f64(A), i=i64([[3, 0]]))
case("take_along_dim_flat", "torch.take_along_dim(a, i)", X, a=f64(A), i=i64([11, 0, 5]))
case(
    "take_along_dim_neg", "torch.take_along_dim(a, i, dim=0)", X, a=f64(A), i=i64([[-1, 0, -2, 1]])
)
case("take_along_dim_ndim_error", "torch.take_along_dim(a, i, dim=0)", X, a=f64(A), i=i64([[[1]]]))
case("take_along_dim_dtype_error", "torch.take_along_dim(a, q, dim=0)", X, a=f64(A), q=f64([[1.0]]))
x4 = [1.0, 2.0, 3.0, 4.0]
for red in ["sum", "prod", "mean", "amax", "amin"]:
    for inc in [True, False]:
        case(
            f"scatter_reduce_{red}_{inc}",
            f"a.scatter_reduce(0, i, c, reduce='{red}', include_self={inc})",
            X,
            a=f64(x4),
            i=i64([0, 1, 0, 0]),
            c=f64([5.0, -1.0, 7.0, 0.5]),
        )
case(
    "scatter_reduce_2d",
    "torch.scatter_reduce(a, 1, i, c, 'amax')",
    X,
    a=f64(A),
    i=i64([[0, 0], [3, 1], [2, 2]]),
    c=f64([[9.0, -9.0], [0.5, 0.25], [-1.0, 1.0]]),
)
case(
    "scatter_reduce_nan",
    "a.scatter_reduce(0, i, c, reduce='amax')",
    X,
    a=f64([1.0, NAN]),
    i=i64([0, 0]),
    c=f64([NAN, 5.0]),
)
case(
    "scatter_reduce_int_mean",
    "a.scatter_reduce(0, i, c, reduce='mean', include_self=False), "
    "a.scatter_reduce(0, i, c, reduce='mean')",
    X,
    a=i64([0, 0]),
    i=i64([0, 0]),
    c=i64([-3, 0]),
)
case(
    "scatter_reduce_int_amin",
    "a.scatter_reduce(0, i, c, reduce='amin')",
    X,
    a=i64([5, 5]),
    i=i64([1, 1]),
    c=i64([7, -2]),
)
case(
    "scatter_reduce_reduce_error",
    "a.scatter_reduce(0, i, a, reduce='foo')",
    X,
    a=f64([1.0]),
    i=i64([0]),
)
case(
    "scatter_reduce_dtype_error",
    "a.scatter_reduce(0, i, c, reduce='sum')",
    X,
    a=f64([1.0]),
    i=i64([0]),
    c=f32([1.0]),
)
case("aminmax", "torch.aminmax(a)", X, a=f64([[1.0, NAN, 3.0], [4.0, 5.0, -1.0]]))
case(
    "aminmax_dim",
    "torch.aminmax(a, dim=1, keepdim=True)",
    X,
    a=f64([[1.0, NAN, 3.0], [4.0, 5.0, -1.0]]),
)
case("aminmax_int", "torch.aminmax(i, dim=0)", X, i=i64([[1, 5], [7, -2]]))
case("aminmax_bool", "torch.aminmax(m)", X, m=b([True, False]))
case("aminmax_0d", "torch.aminmax(a, dim=0)", X, a=f64(3.0))
case("aminmax_empty_error", "torch.aminmax(a)", X, a=f64(np.zeros(0)))
case("aminmax_empty_dim", "torch.aminmax(a, dim=1)", X, a=f64(np.zeros((0, 3))))
case("aminmax_empty_dim_error", "torch.aminmax(a, dim=0)", X, a=f64(np.zeros((0, 3))))
case("flip_dims_kw", "torch.flip(a, dims=(0, 1)), a.flip(1), a.flip(dims=[0])", X, a=f64(A))


def run(c):
    env = {"torch": torch, **{k: to_torch(v) for k, v in c["inputs"].items()}}
    try:
        out = eval(c["expr"], env)
    except Exception as e:  # noqa: BLE001 - the error is the reference
        return {"error": {"type": type(e).__name__, "message": str(e)}}
    if not isinstance(out, tuple) or (hasattr(out, "_fields") and False):
        out = (out,)
    flat = []
    for o in out:
        if isinstance(o, tuple):
            flat.extend(o)
        else:
            flat.append(o)
    return {"out": [encode(o) for o in flat]}


def main():
    for c in CASES:
        c.update(run(c))
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    OUT.write_text(json.dumps({"torch": torch.__version__, "cases": CASES}, indent=None) + "\n")
    print(f"{len(CASES)} cases -> {OUT}")


if __name__ == "__main__":
    main()
