"""Interop with NumPy and Python: __array__ / np.asarray, from_numpy and .numpy() sharing
memory, DLPack both ways, .tolist(), pickling."""

import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rgrad

PROPS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DTYPES = {
    "float32": (rgrad.float32, np.float32),
    "float64": (rgrad.float64, np.float64),
    "int64": (rgrad.int64, np.int64),
    "int32": (rgrad.int32, np.int32),
    "bool": (rgrad.bool, np.bool_),
}
PY_TYPE = {"float32": float, "float64": float, "int64": int, "int32": int, "bool": bool}


def elements(name):
    if name == "bool":
        return st.booleans()
    if name.startswith("int"):
        info = np.iinfo(DTYPES[name][1])
        return st.integers(int(info.min), int(info.max))
    width = 32 if name == "float32" else 64
    return st.floats(allow_nan=False, width=width)  # inf included


@st.composite
def array_case(draw, min_dims=0, max_dims=4, min_side=0):
    name = draw(st.sampled_from(sorted(DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side))
    a = draw(hnp.arrays(DTYPES[name][1], shape, elements=elements(name)))
    return name, a


def a_value(name, k):
    """A value of dtype `name` for writes (differs from 0 / False)."""
    return True if name == "bool" else k


# ---- __array__ / np.asarray -----------------------------------------------------------------


@PROPS
@given(array_case())
def test_asarray_gives_values_dtype_and_shape(case):
    name, a = case
    t = rgrad.tensor(a)
    assert t.dtype == DTYPES[name][0]
    out = np.asarray(t)
    assert out.dtype == a.dtype and out.shape == a.shape
    np.testing.assert_array_equal(out, a)
    np.testing.assert_array_equal(np.array(t), a)


@PROPS
@given(array_case(), st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.bool_]))
def test_array_with_dtype_argument_converts(case, np_dtype):
    name, a = case
    t = rgrad.tensor(a)
    if np.issubdtype(np_dtype, np.integer) and a.dtype.kind == "f":
        a = np.where(np.abs(a) < 2**31, a, 0).astype(a.dtype)  # out of range: undefined
        t = rgrad.tensor(a)
    with np.errstate(over="ignore"):  # float64 -> float32 may overflow to inf
        expected = a.astype(np_dtype)
        outs = (np.asarray(t, dtype=np_dtype), np.array(t, dtype=np_dtype), t.__array__(np_dtype))
    for out in outs:
        assert out.dtype == np_dtype and out.shape == a.shape
        np.testing.assert_array_equal(out, expected)


def test_asarray_of_views():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = rgrad.tensor(a)
    for view, expected in [
        (t.transpose(0, 2), a.transpose(2, 1, 0)),
        (t[:, ::2, 1:], a[:, ::2, 1:]),
        (t[1], a[1]),
        (t[0, 1, 2], a[0, 1, 2]),
        (t.expand(2, 2, 3, 4), np.broadcast_to(a, (2, 2, 3, 4))),
    ]:
        np.testing.assert_array_equal(np.asarray(view), expected)


def test_asarray_shares_memory_with_the_tensor():
    t = rgrad.tensor([1.0, 2.0, 3.0])
    arr = np.asarray(t)
    arr[0] = 9.0
    assert t.tolist() == [9.0, 2.0, 3.0]
    t.add_(1)
    np.testing.assert_array_equal(arr, [10.0, 3.0, 4.0])


def test_numpy_functions_accept_tensors():
    t = rgrad.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=rgrad.float64)
    assert np.sum(np.asarray(t)) == 10.0
    np.testing.assert_array_equal(np.concatenate([t, t]), np.tile([[1.0, 2.0], [3.0, 4.0]], (2, 1)))
    np.testing.assert_allclose(np.linalg.det(np.asarray(t)), -2.0)


# ---- from_numpy -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_from_numpy_is_zero_copy(name):
    dt, np_dt = DTYPES[name]
    a = np.zeros((2, 3), dtype=np_dt)
    t = rgrad.from_numpy(a)
    assert t.dtype == dt and tuple(t.shape) == (2, 3)
    assert not t.requires_grad
    a[0, 0] = a_value(name, 5)  # NumPy -> tensor
    assert t[0, 0].item() == a_value(name, 5)
    t[1, 2] = a_value(name, 7)  # tensor -> NumPy
    assert a[1, 2] == a_value(name, 7)
    t.fill_(a_value(name, 3))
    assert (a == a_value(name, 3)).all()
    assert np.shares_memory(t.numpy(), a)
    assert np.shares_memory(np.asarray(t), a)


@pytest.mark.parametrize("name", ["float32", "float64", "int64", "int32"])
def test_from_numpy_in_place_ops_write_to_the_array(name):
    a = np.arange(6, dtype=DTYPES[name][1]).reshape(2, 3)
    t = rgrad.from_numpy(a)
    t.add_(1)
    t.mul_(2)
    np.testing.assert_array_equal(a, (np.arange(6).reshape(2, 3) + 1) * 2)


@PROPS
@given(array_case(min_dims=1, min_side=1), st.data())
def test_from_numpy_of_strided_views_shares_memory(case, data):
    name, a = case
    # a view with positive steps along each axis, possibly transposed
    index = tuple(
        slice(data.draw(st.integers(0, n - 1)), None, data.draw(st.integers(1, 2))) for n in a.shape
    )
    view = a[index]
    if data.draw(st.booleans()):
        view = view.T
    t = rgrad.from_numpy(view)
    np.testing.assert_array_equal(t.numpy(), view)
    assert tuple(t.stride()) == tuple(s // view.itemsize for s in view.strides)
    pos = (0,) * view.ndim
    first, second = (True, False) if name == "bool" else (1, 2)
    t[pos] = first  # tensor -> the original array
    assert view[pos] == first
    view[pos] = second  # the original array -> tensor
    assert t[pos].item() == second


def test_from_numpy_scalar_empty_and_lifetime():
    t = rgrad.from_numpy(np.array(3.5))
    assert tuple(t.shape) == () and t.item() == 3.5
    assert tuple(rgrad.from_numpy(np.zeros((0, 3))).shape) == (0, 3)
    t = rgrad.from_numpy(np.arange(1000.0))  # the array's only reference is the tensor's
    assert (t * 1).sum().item() == 499500.0


def test_from_numpy_rejects_what_it_cannot_share():
    with pytest.raises(ValueError):
        rgrad.from_numpy(np.arange(6.0)[::-1])  # negative strides
    with pytest.raises(TypeError):
        rgrad.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError):
        rgrad.from_numpy(np.array([1, "a"], dtype=object))


# ---- .numpy() -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_numpy_shares_memory_both_ways(name):
    dt, np_dt = DTYPES[name]
    t = rgrad.zeros(2, 3, dtype=dt)
    arr = t.numpy()
    assert arr.dtype == np_dt and arr.shape == (2, 3)
    arr[0, 1] = a_value(name, 4)
    assert t[0, 1].item() == a_value(name, 4)
    t[1, 0] = a_value(name, 6)
    assert arr[1, 0] == a_value(name, 6)
    assert np.shares_memory(arr, t.numpy())


def test_numpy_of_views_shares_memory_with_the_base():
    t = rgrad.arange(12.0).reshape(3, 4)
    col = t[1:, 1].numpy()
    assert col.strides == (4 * 4,)
    col[0] = -1.0
    assert t[1, 1].item() == -1.0
    tt = t.t().numpy()
    assert tt.strides == (4, 16)
    tt[3, 2] = -2.0
    assert t[2, 3].item() == -2.0


def test_numpy_of_tensor_requiring_grad():
    t = rgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        t.numpy()
    np.testing.assert_array_equal(t.numpy(force=True), [1.0, 2.0])
    np.testing.assert_array_equal(t.detach().numpy(), [1.0, 2.0])


def _run_isolated(code):
    """Runs code in a fresh interpreter (a use-after-free may crash it)."""
    return subprocess.run(
        [sys.executable, "-c", f"import gc, numpy as np, {rgrad.__name__} as rgrad\n" + code],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, RUST_BACKTRACE="0"),
    )


# Exported memory must stay valid for as long as the exporting array lives, whatever happens
# to the tensor object afterwards. (Large buffers are returned to the OS when freed, so a
# dangling view crashes; the churn reuses smaller ones.)
_OUTLIVES = """
t = rgrad.arange(200000.0, dtype=rgrad.float64)
a = {export}
{change}
gc.collect()
junk = [rgrad.full((200000,), 7.0, dtype=rgrad.float64) for _ in range(10)]
assert (a == np.arange(200000.0){part}).all(), a[:4]
a[:] = -1.0
print("ok")
"""


@pytest.mark.parametrize(
    "export,part",
    [
        ("t.numpy()", ""),
        ("np.asarray(t)", ""),
        ("np.from_dlpack(t)", ""),
        ("t[1:].numpy()", "[1:]"),
    ],
)
@pytest.mark.parametrize("change", ["del t", "t = None"])
def test_exported_array_outlives_the_tensor(export, part, change):
    proc = _run_isolated(_OUTLIVES.format(export=export, change=change, part=part))
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


def test_numpy_array_outlives_replacing_data():
    proc = _run_isolated(
        _OUTLIVES.format(
            export="t.numpy()", change="t.data = rgrad.zeros(3, dtype=rgrad.float64)", part=""
        )
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, (proc.returncode, proc.stderr[-2000:])


# (DLPack's contract: the importer's capsule deleter owns the memory. PyTorch 2.15 itself
# crashes on the from_dlpack case.)
@pytest.mark.parametrize("export", ["np.asarray(t)", "np.from_dlpack(t)"])
def test_other_exports_outlive_replacing_data(export):
    proc = _run_isolated(
        _OUTLIVES.format(
            export=export, change="t.data = rgrad.zeros(3, dtype=rgrad.float64)", part=""
        )
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, (proc.returncode, proc.stderr[-2000:])


def test_exporting_a_tensor_requiring_grad_raises():
    t = rgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        np.asarray(t)
    with pytest.raises(BufferError):
        np.from_dlpack(t)


# ---- DLPack ---------------------------------------------------------------------------------


def test_dlpack_device_is_cpu():
    device_type, device_id = rgrad.ones(2).__dlpack_device__()
    assert int(device_type) == 1 and device_id == 0  # kDLCPU


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_numpy_imports_our_tensors_without_copy(name):
    dt, np_dt = DTYPES[name]
    t = rgrad.zeros(2, 3, dtype=dt)
    a = np.from_dlpack(t)
    assert a.dtype == np_dt and a.shape == (2, 3)
    a[1, 1] = a_value(name, 8)
    assert t[1, 1].item() == a_value(name, 8)
    t[0, 2] = a_value(name, 9)
    assert a[0, 2] == a_value(name, 9)


def test_numpy_imports_strided_tensors():
    t = rgrad.arange(12.0).reshape(3, 4)
    view = t.t()[1:]
    a = np.from_dlpack(view)
    np.testing.assert_array_equal(a, np.arange(12.0).reshape(3, 4).T[1:])
    a[0, 0] = -5.0
    assert t[0, 1].item() == -5.0


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_from_dlpack_imports_numpy_arrays_without_copy(name):
    dt, np_dt = DTYPES[name]
    a = np.zeros((3, 2), dtype=np_dt)
    t = rgrad.from_dlpack(a)
    assert t.dtype == dt and tuple(t.shape) == (3, 2)
    t[2, 1] = a_value(name, 3)
    assert a[2, 1] == a_value(name, 3)
    a[0, 0] = a_value(name, 4)
    assert t[0, 0].item() == a_value(name, 4)
    b = (np.arange(10) % 3).astype(np_dt)
    s = rgrad.from_dlpack(b[1::3])
    np.testing.assert_array_equal(s.numpy(), b[1::3])


def test_from_dlpack_round_trip_through_our_tensors():
    t = rgrad.tensor([1.0, 2.0])
    u = rgrad.from_dlpack(t)
    u.add_(1)
    assert t.tolist() == [2.0, 3.0]
    v = rgrad.from_dlpack(np.from_dlpack(t))
    v.mul_(2)
    assert t.tolist() == [4.0, 6.0]


@pytest.mark.xfail(
    strict=True,
    reason="rgrad.from_dlpack does not accept a DLPack capsule (PyTorch's from_dlpack "
    "takes 'an object with __dlpack__ or a DLPack capsule')",
)
def test_from_dlpack_accepts_a_capsule():
    a = np.arange(3.0)
    t = rgrad.from_dlpack(a.__dlpack__())
    assert t.tolist() == [0.0, 1.0, 2.0]


# ---- tolist ---------------------------------------------------------------------------------


@PROPS
@given(array_case(max_dims=3))
def test_tolist_matches_numpy(case):
    name, a = case
    t = rgrad.tensor(a)
    out = t.tolist()
    assert out == a.tolist()

    def check_types(x):
        if isinstance(x, list):
            for y in x:
                check_types(y)
        else:
            assert type(x) is PY_TYPE[name]

    check_types(out)


def test_tolist_edge_cases():
    assert rgrad.tensor(2.5).tolist() == 2.5
    assert rgrad.tensor(True).tolist() is True
    assert rgrad.zeros(0).tolist() == []
    assert rgrad.zeros(2, 0).tolist() == [[], []]
    assert rgrad.zeros(0, 2).tolist() == []
    nan, inf = rgrad.tensor([float("nan"), float("inf")], dtype=rgrad.float64).tolist()
    assert nan != nan and inf == float("inf")
    assert rgrad.tensor([2**62, -(2**63)]).tolist() == [2**62, -(2**63)]
    assert rgrad.tensor([2**31 - 1, -(2**31)], dtype=rgrad.int32).tolist() == [2**31 - 1, -(2**31)]
    t = rgrad.arange(6.0).reshape(2, 3)
    assert t.t().tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert t[:, ::2].tolist() == [[0.0, 2.0], [3.0, 5.0]]
    assert rgrad.tensor([1.0], requires_grad=True).tolist() == [1.0]  # no detach needed


# ---- pickling -------------------------------------------------------------------------------


@PROPS
@given(array_case(max_dims=3), st.booleans(), st.integers(2, pickle.HIGHEST_PROTOCOL))
def test_pickle_round_trip(case, requires_grad, protocol):
    name, a = case
    requires_grad = requires_grad and name.startswith("float")
    t = rgrad.tensor(a, requires_grad=requires_grad)
    u = pickle.loads(pickle.dumps(t, protocol=protocol))
    assert isinstance(u, rgrad.Tensor)
    assert u.dtype == t.dtype and tuple(u.shape) == a.shape
    assert u.requires_grad == requires_grad
    assert u.is_leaf and u.grad_fn is None
    np.testing.assert_array_equal(u.detach().numpy(), a)


def test_pickle_of_views_non_leaves_and_shared_references():
    t = rgrad.arange(12.0).reshape(3, 4).t()[1:]
    u = pickle.loads(pickle.dumps(t))
    assert u.tolist() == t.tolist() and tuple(u.shape) == (3, 3)
    y = rgrad.tensor([1.0, 2.0], requires_grad=True) * 2
    v = pickle.loads(pickle.dumps(y))
    assert v.requires_grad and v.is_leaf and v.tolist() == [2.0, 4.0]
    (v * v).sum().backward()
    assert v.grad.tolist() == [4.0, 8.0]
    w = rgrad.tensor([1.0, 2.0])
    w1, w2 = pickle.loads(pickle.dumps([w, w]))
    assert w1 is w2
    w1.add_(1)  # the copy has its own storage
    assert w.tolist() == [1.0, 2.0]


def test_pickle_keeps_float64_exactly():
    t = rgrad.tensor([0.1, float("nan"), -float("inf"), 1e-300], dtype=rgrad.float64)
    u = pickle.loads(pickle.dumps(t))
    np.testing.assert_array_equal(u.numpy(), t.numpy())


def test_copy_and_deepcopy():
    t = rgrad.tensor([1.0, 2.0], requires_grad=True)
    d = copy.deepcopy(t)
    assert d.requires_grad and d.is_leaf and d.tolist() == [1.0, 2.0]
    with rgrad.no_grad():
        d.add_(1)
    assert t.tolist() == [1.0, 2.0]


def test_pickle_dtypes_and_devices():
    for dt in (rgrad.float32, rgrad.float64, rgrad.int64, rgrad.int32, rgrad.bool):
        assert pickle.loads(pickle.dumps(dt)) is dt
    assert pickle.loads(pickle.dumps(rgrad.device("cpu"))) == rgrad.device("cpu")
    assert pickle.loads(pickle.dumps(rgrad.Size([2, 3]))) == rgrad.Size([2, 3])
