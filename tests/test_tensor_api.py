"""Behaviour of the Python surface, checked against what PyTorch does: construction, factories,
NumPy interop, properties, autograd attributes, grad modes, in-place ops, casts, views, and
errors (always a Python exception of PyTorch's type, never a crash)."""

import math

import numpy as np
import pytest

import rgrad

# ---- rgrad.tensor -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, dtype, shape",
    [
        (3.0, rgrad.float32, ()),
        (3, rgrad.int64, ()),
        (True, rgrad.bool, ()),
        ([1, 2, 3], rgrad.int64, (3,)),
        ([1.0, 2.0], rgrad.float32, (2,)),
        ([1, 2.5], rgrad.float32, (2,)),
        ([True, False], rgrad.bool, (2,)),
        ([True, 1], rgrad.int64, (2,)),
        ([True, 1.5], rgrad.float32, (2,)),
        ([[1, 2], [3, 4], [5, 6]], rgrad.int64, (3, 2)),
        ([[[1.0]], [[2.0]]], rgrad.float32, (2, 1, 1)),
        ((1, 2), rgrad.int64, (2,)),
        ([(1, 2), (3, 4)], rgrad.int64, (2, 2)),
        ([], rgrad.float32, (0,)),
        ([[]], rgrad.float32, (1, 0)),
        ([[], []], rgrad.float32, (2, 0)),
    ],
    ids=repr,
)
def test_tensor_infers_dtype_and_shape(data, dtype, shape):
    t = rgrad.tensor(data)
    assert t.dtype == dtype
    assert tuple(t.shape) == shape
    np.testing.assert_array_equal(t.numpy(), np.array(data).reshape(shape))
    assert not t.requires_grad
    assert t.is_leaf
    assert t.grad is None and t.grad_fn is None


@pytest.mark.parametrize(
    "np_dtype, dtype",
    [
        (np.float64, rgrad.float64),
        (np.float32, rgrad.float32),
        (np.int64, rgrad.int64),
        (np.int32, rgrad.int32),
        (np.bool_, rgrad.bool),
    ],
)
def test_tensor_from_numpy_array_keeps_dtype(np_dtype, dtype):
    arr = np.array([[1, 0, 3], [4, 5, 0]]).astype(np_dtype)
    t = rgrad.tensor(arr)
    assert t.dtype == dtype
    assert tuple(t.shape) == (2, 3)
    np.testing.assert_array_equal(t.numpy(), arr)


def test_tensor_from_numpy_zero_dim_and_non_contiguous():
    assert tuple(rgrad.tensor(np.array(2.5)).shape) == ()
    assert rgrad.tensor(np.array(2.5)).item() == 2.5
    arr = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(rgrad.tensor(arr.T).numpy(), arr.T)
    np.testing.assert_array_equal(rgrad.tensor(arr[::-1, ::2]).numpy(), arr[::-1, ::2])


def test_tensor_from_numpy_copies():
    arr = np.zeros(3)
    t = rgrad.tensor(arr)
    arr[0] = 1.0
    t.add_(5.0)
    assert t.tolist() == [5.0, 5.0, 5.0]
    assert arr.tolist() == [1.0, 0.0, 0.0]


def test_tensor_copies_lists_and_tensors():
    data = [1.0, 2.0]
    t = rgrad.tensor(data)
    data[0] = 100.0
    assert t.tolist() == [1.0, 2.0]


def test_tensor_of_zero_dim_tensors():
    t = rgrad.tensor([rgrad.tensor(1.0), rgrad.tensor(2.0)])
    assert t.dtype == rgrad.float32
    assert t.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "data, dtype, expected",
    [
        ([1, 2], rgrad.float64, [1.0, 2.0]),
        ([1.7, -1.7], rgrad.int64, [1, -1]),
        ([1, 0, 2], rgrad.bool, [True, False, True]),
        (np.array([1.5, 2.5]), rgrad.float32, [1.5, 2.5]),
        (np.array([1.7, -1.7]), rgrad.int64, [1, -1]),
        (3, rgrad.float32, 3.0),
        (2.5, rgrad.float64, 2.5),
    ],
    ids=repr,
)
def test_tensor_dtype_argument(data, dtype, expected):
    t = rgrad.tensor(data, dtype=dtype)
    assert t.dtype == dtype
    assert t.tolist() == expected


def test_tensor_requires_grad_argument():
    t = rgrad.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None
    t64 = rgrad.tensor([1, 2], dtype=rgrad.float64, requires_grad=True)
    assert t64.requires_grad and t64.dtype == rgrad.float64
    assert rgrad.tensor(np.ones(2), requires_grad=True).requires_grad


@pytest.mark.parametrize("data", [[1, 2], [True], 3])
def test_integer_tensor_cannot_require_grad(data):
    with pytest.raises(RuntimeError, match="floating point"):
        rgrad.tensor(data, requires_grad=True)


def test_ragged_list_raises_value_error():
    with pytest.raises(ValueError, match=r"^expected sequence of length 2 at dim 1 \(got 1\)$"):
        rgrad.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"^expected sequence of length 1 at dim 1 \(got 2\)$"):
        rgrad.tensor([[1], [2, 3]])
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 2 \(got 3\)"):
        rgrad.tensor([[[1, 2], [3, 4]], [[1, 2], [3, 4, 5]]])


def test_scalar_in_place_of_sequence_raises_type_error():
    with pytest.raises(TypeError, match="not a sequence"):
        rgrad.tensor([[1, 2], 3])


@pytest.mark.parametrize("data", ["a", [1, "a"]], ids=repr)
def test_invalid_data_raises_type_error(data):
    with pytest.raises(TypeError, match="invalid data type 'str'"):
        rgrad.tensor(data)


@pytest.mark.parametrize("data", [None, [None], {"a": 1}, object()], ids=repr)
def test_data_of_no_dtype_raises_runtime_error(data):
    # PyTorch's type inference: RuntimeError("Could not infer dtype of NoneType"), ...
    with pytest.raises(RuntimeError, match="^Could not infer dtype of "):
        rgrad.tensor(data)


def test_list_inside_scalar_position_raises():
    with pytest.raises((TypeError, ValueError)):
        rgrad.tensor([1, [2, 3]])


# ---- factories ----------------------------------------------------------------------------


@pytest.mark.parametrize("factory, value", [(rgrad.zeros, 0.0), (rgrad.ones, 1.0)])
def test_zeros_ones(factory, value):
    for args in [(2, 3), ((2, 3),), ([2, 3],)]:
        t = factory(*args)
        assert tuple(t.shape) == (2, 3)
        assert t.dtype == rgrad.float32
        assert t.tolist() == [[value] * 3] * 2
    assert factory(()).shape == ()
    assert factory(0).shape == (0,)
    assert factory(2, dtype=rgrad.int64).tolist() == [int(value)] * 2
    assert factory(2, dtype=rgrad.bool).tolist() == [bool(value)] * 2
    assert factory(2, dtype=rgrad.float64).dtype == rgrad.float64
    t = factory(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_negative_size_raises():
    with pytest.raises(RuntimeError, match=r"Trying to create tensor with negative dimension -1"):
        rgrad.zeros(2, -1)


@pytest.mark.parametrize(
    "fill, dtype",
    [(7, rgrad.int64), (1.5, rgrad.float32), (True, rgrad.bool)],
)
def test_full_infers_dtype_from_fill_value(fill, dtype):
    t = rgrad.full((2, 2), fill)
    assert t.dtype == dtype
    assert t.tolist() == [[fill, fill], [fill, fill]]
    assert rgrad.full([3], fill, dtype=rgrad.float64).tolist() == [float(fill)] * 3


@pytest.mark.parametrize(
    "args, kwargs, expected, dtype",
    [
        ((5,), {}, [0, 1, 2, 3, 4], rgrad.int64),
        ((5.0,), {}, [0.0, 1.0, 2.0, 3.0, 4.0], rgrad.float32),
        ((1, 4), {}, [1, 2, 3], rgrad.int64),
        ((0, 5, 2), {}, [0, 2, 4], rgrad.int64),
        ((5, 0, -2), {}, [5, 3, 1], rgrad.int64),
        ((0, 1, 0.25), {}, [0.0, 0.25, 0.5, 0.75], rgrad.float32),
        ((1, 2.5, 0.5), {}, [1.0, 1.5, 2.0], rgrad.float32),
        ((3,), {"dtype": rgrad.float64}, [0.0, 1.0, 2.0], rgrad.float64),
        ((0,), {}, [], rgrad.int64),
    ],
    ids=repr,
)
def test_arange(args, kwargs, expected, dtype):
    t = rgrad.arange(*args, **kwargs)
    assert t.dtype == dtype
    assert t.tolist() == expected


def test_arange_errors():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        rgrad.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="upper bound and larger bound inconsistent"):
        rgrad.arange(0, -5)


def test_linspace():
    t = rgrad.linspace(0, 1, 5)
    assert t.dtype == rgrad.float32
    np.testing.assert_allclose(t.numpy(), [0.0, 0.25, 0.5, 0.75, 1.0])
    t = rgrad.linspace(-1, 1, 3, dtype=rgrad.float64)
    assert t.dtype == rgrad.float64
    assert t.tolist() == [-1.0, 0.0, 1.0]
    assert rgrad.linspace(0, 1, 0).shape == (0,)
    np.testing.assert_allclose(rgrad.linspace(2, -2, 9).numpy(), np.linspace(2, -2, 9))
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        rgrad.linspace(0, 1, -1)


def test_linspace_one_step_is_start():
    assert rgrad.linspace(3, 10, 1).tolist() == [3.0]
    assert rgrad.linspace(-10, 10, steps=1).tolist() == [-10.0]


def test_rand_randn():
    rgrad.manual_seed(1234)
    r = rgrad.rand(1000)
    assert r.dtype == rgrad.float32 and tuple(r.shape) == (1000,)
    a = r.numpy()
    assert (a >= 0).all() and (a < 1).all()
    assert 0.4 < a.mean() < 0.6
    n = rgrad.randn(100, 100).numpy()
    assert abs(n.mean()) < 0.05 and 0.95 < n.std() < 1.05
    assert rgrad.rand(2, 3, dtype=rgrad.float64).dtype == rgrad.float64
    assert rgrad.randn((2, 3)).shape == (2, 3)
    t = rgrad.randn(3, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError):
        rgrad.rand(2, dtype=rgrad.int64)


def test_manual_seed_reproducibility():
    rgrad.manual_seed(0)
    a, b = rgrad.rand(5), rgrad.randn(2, 3)
    rgrad.manual_seed(0)
    a2, b2 = rgrad.rand(5), rgrad.randn(2, 3)
    assert a.tolist() == a2.tolist()
    assert b.tolist() == b2.tolist()
    c = rgrad.rand(5)
    assert c.tolist() != a.tolist()  # the stream moves on
    rgrad.manual_seed(1)
    assert rgrad.rand(5).tolist() != a.tolist()


# ---- NumPy interop ------------------------------------------------------------------------


def test_from_numpy_shares_memory_both_ways():
    arr = np.zeros(3)
    t = rgrad.from_numpy(arr)
    assert t.dtype == rgrad.float64
    arr[0] = 5.0
    assert t.tolist() == [5.0, 0.0, 0.0]
    t.add_(1.0)
    assert arr.tolist() == [6.0, 1.0, 1.0]
    t[2].fill_(9.0)
    assert arr.tolist() == [6.0, 1.0, 9.0]


def test_from_numpy_views_and_dtypes():
    arr = np.arange(6.0)[::2]
    t = rgrad.from_numpy(arr)
    arr[1] = -1.0
    assert t.tolist() == [0.0, -1.0, 4.0]
    m = np.arange(6.0).reshape(2, 3).T
    tm = rgrad.from_numpy(m)
    assert tuple(tm.shape) == (3, 2)
    m[0, 1] = 100.0
    assert tm[0, 1].item() == 100.0
    for np_dtype, dtype in [
        (np.float32, rgrad.float32),
        (np.int64, rgrad.int64),
        (np.int32, rgrad.int32),
        (np.bool_, rgrad.bool),
    ]:
        assert rgrad.from_numpy(np.ones(2, dtype=np_dtype)).dtype == dtype
    assert rgrad.from_numpy(np.array(3.5)).shape == ()


def test_from_numpy_keeps_array_alive():
    arr = np.ones(4)
    t = rgrad.from_numpy(arr)
    del arr
    assert t.tolist() == [1.0] * 4


def test_numpy_shares_memory_both_ways():
    t = rgrad.zeros(3)
    n = t.numpy()
    assert n.dtype == np.float32
    n[0] = 3.0
    assert t.tolist() == [3.0, 0.0, 0.0]
    t.mul_(2.0)
    assert n.tolist() == [6.0, 0.0, 0.0]
    del t
    assert n.tolist() == [6.0, 0.0, 0.0]  # the array keeps the storage alive


def test_numpy_of_view_shares_memory():
    m = rgrad.arange(6.0).reshape(2, 3)
    n = m.t().numpy()
    assert n.shape == (3, 2)
    n[0, 1] = 100.0
    assert m[1, 0].item() == 100.0
    row = m[1].numpy()
    row[2] = -5.0
    assert m[1, 2].item() == -5.0


def test_numpy_of_detached_shares_memory_with_grad_tensor():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        x.numpy()
    n = x.detach().numpy()
    n[0] = 7.0
    assert x.tolist() == [7.0, 2.0]


def test_from_numpy_errors():
    with pytest.raises(TypeError, match=r"expected np.ndarray \(got list\)"):
        rgrad.from_numpy([1, 2])
    with pytest.raises(TypeError):
        rgrad.from_numpy(np.array([1, "a"], dtype=object))


def test_from_numpy_negative_strides_value_error():
    with pytest.raises(
        ValueError, match="At least one stride in the given numpy array is negative"
    ):
        rgrad.from_numpy(np.arange(3)[::-1])


def test_numpy_array_protocol():
    t = rgrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(t), [[1.0, 2.0], [3.0, 4.0]])
    assert np.array(t, dtype=np.float64).dtype == np.float64


# ---- item / tolist ------------------------------------------------------------------------


def test_item():
    assert rgrad.tensor(2.5).item() == 2.5
    assert type(rgrad.tensor(2.5).item()) is float
    assert type(rgrad.tensor(2).item()) is int
    assert type(rgrad.tensor(True).item()) is bool
    assert rgrad.tensor([[7]]).item() == 7
    assert rgrad.tensor(0.1).item() == pytest.approx(0.1)
    assert rgrad.tensor(0.1).item() != 0.1  # float32 value, widened: PyTorch's behaviour
    assert rgrad.tensor(0.1, dtype=rgrad.float64).item() == 0.1
    x = rgrad.tensor(3.0, requires_grad=True)
    assert x.item() == 3.0


@pytest.mark.parametrize("shape, n", [((3,), 3), ((0,), 0), ((2, 2), 4)])
def test_item_of_many_elements_raises(shape, n):
    with pytest.raises(
        RuntimeError, match=f"^a Tensor with {n} elements cannot be converted to Scalar$"
    ):
        rgrad.zeros(*shape).item()


def test_tolist():
    assert rgrad.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert rgrad.tensor(1.5).tolist() == 1.5
    assert rgrad.tensor([True, False]).tolist() == [True, False]
    out = rgrad.tensor([1.5, 2.0]).tolist()
    assert all(type(v) is float for v in out)
    assert all(type(v) is int for v in rgrad.tensor([1, 2]).tolist())
    assert rgrad.zeros(2, 0).tolist() == [[], []]
    assert rgrad.arange(6).reshape(2, 3).t().tolist() == [[0, 3], [1, 4], [2, 5]]


def test_python_number_conversions():
    assert float(rgrad.tensor([2.5])) == 2.5
    assert int(rgrad.tensor(2.9)) == 2
    assert int(rgrad.tensor(-2.9)) == -2
    assert bool(rgrad.tensor([0.0])) is False
    assert bool(rgrad.tensor(3)) is True
    assert [10, 20, 30][rgrad.tensor(1)] == 20  # __index__
    with pytest.raises(TypeError):
        [10, 20][rgrad.tensor(1.0)]
    assert math.isclose(math.sqrt(rgrad.tensor(4.0)), 2.0)


def test_bool_of_many_elements_raises():
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        bool(rgrad.zeros(0))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value"):
        bool(rgrad.tensor([1, 2]))


def test_bool_of_many_elements_message():
    with pytest.raises(RuntimeError) as info:
        bool(rgrad.tensor([1, 2]))
    assert str(info.value) == "Boolean value of Tensor with more than one value is ambiguous"


# ---- properties ---------------------------------------------------------------------------


def test_shape_and_size():
    m = rgrad.zeros(2, 3, 4)
    assert isinstance(m.shape, rgrad.Size) and isinstance(m.shape, tuple)
    assert m.shape == (2, 3, 4)
    assert m.size() == rgrad.Size([2, 3, 4])
    assert m.size(0) == 2 and m.size(-1) == 4 and m.size(dim=1) == 3
    assert m.shape[1:] == rgrad.Size([3, 4])
    assert isinstance(m.shape[1:], rgrad.Size)
    assert m.shape.numel() == 24
    assert rgrad.tensor(1.0).shape == ()
    assert str(m.shape) == "rgrad.Size([2, 3, 4])"
    with pytest.raises(IndexError, match=r"expected to be in range of \[-3, 2\], but got 3"):
        m.size(3)


def test_dim_ndim_numel_len():
    m = rgrad.zeros(2, 3)
    assert m.dim() == 2 and m.ndim == 2 and m.numel() == 6 and len(m) == 2
    s = rgrad.tensor(5.0)
    assert s.dim() == 0 and s.ndim == 0 and s.numel() == 1
    assert rgrad.zeros(3, 0).numel() == 0
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(s)


def test_iteration():
    rows = list(rgrad.tensor([[1, 2], [3, 4]]))
    assert len(rows) == 2 and rows[1].tolist() == [3, 4]
    assert [v.item() for v in rgrad.tensor([1.5, 2.5])] == [1.5, 2.5]
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(rgrad.tensor(1))


def test_dtype_and_device():
    t = rgrad.tensor([1.0])
    assert t.dtype == rgrad.float32 == rgrad.float
    assert rgrad.float64 == rgrad.double and rgrad.int64 == rgrad.long
    assert t.dtype != rgrad.float64
    assert t.device == rgrad.device("cpu")
    assert str(t.device) == "cpu"
    assert t.device.type == "cpu"
    assert rgrad.float32.is_floating_point and not rgrad.int64.is_floating_point
    assert t.is_floating_point() and not rgrad.tensor([1]).is_floating_point()


# ---- autograd attributes ------------------------------------------------------------------


def test_requires_grad_():
    t = rgrad.tensor([1.0, 2.0])
    assert not t.requires_grad
    out = t.requires_grad_()
    assert out is t
    assert t.requires_grad and t.is_leaf
    t.requires_grad_(False)
    assert not t.requires_grad
    t.requires_grad = True
    assert t.requires_grad


def test_requires_grad_errors():
    with pytest.raises(RuntimeError, match="floating point"):
        rgrad.tensor([1, 2]).requires_grad_()
    x = rgrad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf"):
        (x * 2).requires_grad_(False)
    y = (x * 2).requires_grad_(True)  # a no-op on a non-leaf that requires grad
    assert y.requires_grad


def test_is_leaf():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    c = rgrad.tensor([1.0, 2.0])
    assert x.is_leaf and c.is_leaf
    assert not (x * 2).is_leaf
    assert (c * 2).is_leaf  # no history: a leaf
    assert x.detach().is_leaf
    assert not x.clone().is_leaf
    assert not x[0].is_leaf
    with rgrad.no_grad():
        assert (x * 2).is_leaf


def test_grad_set_and_get():
    x = rgrad.ones(3, requires_grad=True)
    assert x.grad is None
    x.grad = rgrad.tensor([1.0, 2.0, 3.0])
    assert x.grad.tolist() == [1.0, 2.0, 3.0]
    (x * 2).sum().backward()  # accumulates into the assigned gradient
    assert x.grad.tolist() == [3.0, 4.0, 5.0]
    x.grad = None
    assert x.grad is None
    c = rgrad.ones(2)
    c.grad = rgrad.zeros(2)  # allowed on tensors that do not require grad
    assert c.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("value, name", [(1.0, "float"), ([1.0, 2.0, 3.0], "list"), ("a", "str")])
def test_grad_set_wrong_type(value, name):
    x = rgrad.ones(3, requires_grad=True)
    with pytest.raises(TypeError) as info:
        x.grad = value
    assert str(info.value) == (
        f"assigned grad expected to be a Tensor or None but got grad of type {name}"
    )


def test_grad_set_wrong_shape_or_dtype():
    x = rgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        x.grad = rgrad.ones(4)
    assert str(info.value) == (
        "attempting to assign a gradient of size '[4]' to a tensor of size '[3]'. Please ensure "
        "that the gradient and the tensor are the same size"
    )
    with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype"):
        x.grad = rgrad.ones(3, dtype=rgrad.float64)
    assert x.grad is None


def test_grad_accumulates_and_zero_():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0]
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_grad_fn_name_and_next_functions():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad_fn is None
    y = x * 2
    assert y.grad_fn.name() == "MulBackward0"
    assert type(y.grad_fn).__name__ == "MulBackward0"
    assert isinstance(y.grad_fn, rgrad.autograd.graph.Node)
    nf = y.grad_fn.next_functions
    assert len(nf) == 2
    (acc, i0), (none, i1) = nf
    assert type(acc).__name__ == "AccumulateGrad" and acc.name() == "AccumulateGrad"
    assert none is None and i0 == 0 and i1 == 0
    z = y + x
    nf = z.grad_fn.next_functions
    assert nf[0][0] == y.grad_fn  # the same node
    assert type(nf[1][0]).__name__ == "AccumulateGrad"
    assert nf[1][0].variable.tolist() == x.tolist()
    assert nf[1][0].variable.requires_grad
    assert y.grad_fn.next_functions[0][0] == nf[1][0]  # one AccumulateGrad per leaf
    assert (x * 2).grad_fn != y.grad_fn


def test_grad_fn_names_of_ops():
    x = rgrad.tensor([[1.0, 2.0]], requires_grad=True)
    names = {
        "AddBackward0": x + 1,
        "SubBackward0": x - x,
        "MulBackward0": x * x,
        "DivBackward0": x / 2,
        "PowBackward0": x**2,
        "PowBackward1": x**x,
        "NegBackward0": -x,
        "ExpBackward0": x.exp(),
        "SumBackward0": x.sum(),
        "SumBackward1": x.sum(0),
        "MeanBackward0": x.mean(),
        "MeanBackward1": x.mean(1),
        "MmBackward0": x @ x.t(),
        "TBackward0": x.t(),
        "ViewBackward0": x.view(2),
        "UnsqueezeBackward0": x.unsqueeze(0),
        "SqueezeBackward0": x.squeeze(),
        "CloneBackward0": x.clone(),
        "ToCopyBackward0": x.double(),
    }
    for name, t in names.items():
        assert type(t.grad_fn).__name__ == name, name


def test_no_history_without_requires_grad():
    c = rgrad.tensor([1.0, 2.0])
    y = (c * 2).exp().sum()
    assert y.grad_fn is None and not y.requires_grad


def test_backward_gradient_argument():
    x = rgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * 2).backward(rgrad.tensor([1.0, 0.5, 0.0]))
    assert x.grad.tolist() == [2.0, 1.0, 0.0]
    x.grad = None
    (x * 2).backward(rgrad.ones(3, dtype=rgrad.float64))  # cast to the output's dtype
    assert x.grad.dtype == rgrad.float32
    with pytest.raises(RuntimeError) as info:
        (x * 2).backward(rgrad.ones(2))
    assert str(info.value) == (
        "Mismatch in shape: grad_output[0] has a shape of torch.Size([2]) and output[0] has a "
        "shape of torch.Size([3])."
    )
    with pytest.raises(TypeError):
        (x * 2).backward(5)


def test_backward_errors():
    x = rgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        rgrad.ones(1).sum().backward()
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0]
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_modified_saved_tensor_raises_on_backward():
    x = rgrad.ones(3, requires_grad=True)
    y = x * 1
    z = y.sin()
    y.add_(1)
    with pytest.raises(RuntimeError, match="has been modified by an inplace operation"):
        z.sum().backward()


# ---- grad modes ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _grad_mode_restored():
    assert rgrad.is_grad_enabled()
    yield
    enabled = rgrad.is_grad_enabled()
    rgrad.set_grad_enabled(True)
    assert enabled, "the test left grad mode disabled"


def test_no_grad_context_manager():
    x = rgrad.ones(2, requires_grad=True)
    with rgrad.no_grad():
        assert not rgrad.is_grad_enabled()
        y = x * 2
    assert rgrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert (x * 2).requires_grad


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with rgrad.no_grad():
            raise ValueError
    assert rgrad.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = rgrad.ones(2, requires_grad=True)
    with rgrad.no_grad():
        with rgrad.enable_grad():
            assert rgrad.is_grad_enabled()
            assert (x * 2).requires_grad
        assert not rgrad.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert rgrad.is_grad_enabled()


def test_set_grad_enabled_context_manager():
    x = rgrad.ones(2, requires_grad=True)
    with rgrad.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert rgrad.is_grad_enabled()
    with rgrad.no_grad():
        with rgrad.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not rgrad.is_grad_enabled()


def test_set_grad_enabled_plain_call():
    x = rgrad.ones(2, requires_grad=True)
    rgrad.set_grad_enabled(False)
    try:
        assert not rgrad.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        rgrad.set_grad_enabled(True)
    assert rgrad.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_and_enable_grad_decorators():
    x = rgrad.ones(2, requires_grad=True)

    @rgrad.no_grad()
    def double(t):
        assert not rgrad.is_grad_enabled()
        return t * 2

    @rgrad.enable_grad()
    def triple(t):
        return t * 3

    assert double.__name__ == "double"
    assert not double(x).requires_grad
    assert rgrad.is_grad_enabled()
    with rgrad.no_grad():
        assert triple(x).requires_grad
        assert not rgrad.is_grad_enabled()
    for _ in range(2):  # the decorator can be used again
        assert not double(x).requires_grad


def test_set_grad_enabled_decorator_applies_when_called():
    x = rgrad.ones(2, requires_grad=True)

    @rgrad.set_grad_enabled(False)
    def f(t):
        return t * 2

    rgrad.set_grad_enabled(True)  # see test_set_grad_enabled_decorator_restores_mode
    assert not f(x).requires_grad
    assert rgrad.is_grad_enabled()


def test_set_grad_enabled_decorator_restores_mode():
    try:

        @rgrad.set_grad_enabled(False)
        def f(t):
            return t * 2

        assert rgrad.is_grad_enabled()
    finally:
        rgrad.set_grad_enabled(True)


def test_bare_decorators():
    x = rgrad.ones(2, requires_grad=True)

    @rgrad.no_grad
    def double(t):
        return t * 2

    @rgrad.enable_grad
    def triple(t):
        return t * 3

    assert not double(x).requires_grad
    with rgrad.no_grad():
        assert triple(x).requires_grad


# ---- in-place ops -------------------------------------------------------------------------


def test_in_place_ops_return_self_and_modify():
    t = rgrad.tensor([1.0, 2.0, 3.0])
    assert t.add_(1) is t
    assert t.tolist() == [2.0, 3.0, 4.0]
    assert t.sub_(rgrad.tensor([1.0, 1.0, 2.0])) is t
    assert t.tolist() == [1.0, 2.0, 2.0]
    assert t.mul_(2.5) is t
    assert t.tolist() == [2.5, 5.0, 5.0]
    assert t.add_(rgrad.tensor([1.0, 1.0, 1.0]), alpha=2) is t
    assert t.tolist() == [4.5, 7.0, 7.0]
    assert t.sub_(0.5, alpha=2) is t
    assert t.tolist() == [3.5, 6.0, 6.0]
    assert t.fill_(7) is t
    assert t.tolist() == [7.0, 7.0, 7.0]
    assert t.zero_() is t
    assert t.tolist() == [0.0, 0.0, 0.0]
    t.fill_(rgrad.tensor(2.0))
    assert t.tolist() == [2.0, 2.0, 2.0]
    assert t.dtype == rgrad.float32


def test_augmented_assignment_keeps_the_object():
    t = rgrad.tensor([1.0, 2.0])
    ident = id(t)
    t += 1
    t *= 2
    t -= rgrad.tensor([1.0, 1.0])
    t /= 2
    assert id(t) == ident
    assert t.tolist() == [1.5, 2.5]


def test_in_place_broadcasting_and_casting():
    t = rgrad.ones(2, 3)
    t.add_(rgrad.tensor([1.0, 2.0, 3.0]))
    assert t.tolist() == [[2.0, 3.0, 4.0]] * 2
    f = rgrad.tensor([1.0, 2.0])
    f.mul_(rgrad.tensor([2, 3]))  # int operand into a float tensor is fine
    assert f.tolist() == [2.0, 6.0] and f.dtype == rgrad.float32
    i = rgrad.ones(3, dtype=rgrad.int64)
    i.fill_(2.7)
    assert i.tolist() == [2, 2, 2]
    with pytest.raises(RuntimeError, match="output with shape \\[3\\] doesn't match the broadcast"):
        rgrad.ones(3).add_(rgrad.ones(2, 3))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output"):
        rgrad.tensor([1, 2]).add_(1.5)


def test_in_place_on_view_writes_through():
    t = rgrad.zeros(2, 3)
    t[1].fill_(5)
    t[:, 0].add_(1)
    t.t()[2].mul_(0)
    assert t.tolist() == [[1.0, 0.0, 0.0], [6.0, 5.0, 0.0]]


def test_gradient_descent_step_under_no_grad():
    w = rgrad.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    ident = id(w)
    with rgrad.no_grad():
        w -= 0.1 * w.grad
    assert id(w) == ident
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    with rgrad.no_grad():
        w.add_(w.grad, alpha=-0.5)
        w.mul_(2)
        w.zero_()
        w.fill_(3.0)
    assert w.tolist() == [3.0, 3.0]
    w.grad.zero_()
    (w * w).sum().backward()
    assert w.grad.tolist() == [6.0, 6.0]


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.add_(1),
        lambda t: t.sub_(1),
        lambda t: t.mul_(2),
        lambda t: t.zero_(),
        lambda t: t.fill_(2),
        lambda t: t.__iadd__(1),
    ],
    ids=["add_", "sub_", "mul_", "zero_", "fill_", "iadd"],
)
def test_in_place_on_leaf_requiring_grad_raises(op):
    x = rgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        op(x)
    assert (
        str(info.value)
        == "a leaf Variable that requires grad is being used in an in-place operation."
    )
    assert x.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "op",
    [lambda x: x[0].add_(1), lambda x: x.view(3).mul_(2), lambda x: x[1:].zero_()],
    ids=["select", "view", "slice"],
)
def test_in_place_on_view_of_leaf_raises(op):
    x = rgrad.ones(3, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match="a view of a leaf Variable that requires grad is being used in an in-place",
    ):
        op(x)


def test_in_place_on_non_leaf_is_recorded():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.add_(1)
    y.mul_(3)
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]


# ---- casts --------------------------------------------------------------------------------


def test_casts():
    f = rgrad.tensor([-1.7, 1.7, 2.5])
    assert f.long().tolist() == [-1, 1, 2] and f.long().dtype == rgrad.int64
    assert f.double().dtype == rgrad.float64
    assert f.bool().tolist() == [True, True, True]
    assert rgrad.tensor([0.0, -2.0]).bool().tolist() == [False, True]
    i = rgrad.tensor([1, 2])
    assert i.float().tolist() == [1.0, 2.0] and i.float().dtype == rgrad.float32
    assert rgrad.tensor([True, False]).float().tolist() == [1.0, 0.0]
    assert i.to(rgrad.float64).dtype == rgrad.float64
    assert i.to(dtype=rgrad.float64).dtype == rgrad.float64
    assert i.to(rgrad.tensor([1.0])).dtype == rgrad.float32
    assert i.to("cpu", rgrad.float64).dtype == rgrad.float64
    assert i.to("cpu").dtype == rgrad.int64
    assert i.to(rgrad.device("cpu")).tolist() == [1, 2]
    d = rgrad.tensor([0.1], dtype=rgrad.float64)
    assert d.float().item() == pytest.approx(0.1, rel=1e-7)
    assert d.float().double().item() != 0.1  # rounded to float32 in between


def test_cast_copies_only_when_dtype_changes():
    t = rgrad.tensor([1.0, 2.0])
    same = t.float()
    same.add_(1)  # same dtype: PyTorch returns the tensor itself
    assert t.tolist() == [2.0, 3.0]
    other = t.double()
    other.add_(1)
    assert t.tolist() == [2.0, 3.0]
    copy = t.to(rgrad.float32, copy=True)
    copy.add_(1)
    assert t.tolist() == [2.0, 3.0]


def test_cast_gradients():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.grad_fn is not None and not y.is_leaf
    (y * y).sum().backward()
    assert x.grad.dtype == rgrad.float32
    assert x.grad.tolist() == [2.0, 4.0]
    w = rgrad.tensor([1.0, 2.0], requires_grad=True).float()  # no-op cast: still the leaf
    assert w.is_leaf and w.requires_grad
    (w * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_to_unavailable_device():
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        rgrad.zeros(2).to("cuda")
    with pytest.raises((RuntimeError, TypeError)):
        rgrad.zeros(2).to("float32")


# ---- clone / detach -----------------------------------------------------------------------


def test_detach_shares_memory_and_drops_history():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    d.add_(1)  # allowed, and visible through x
    assert x.tolist() == [2.0, 3.0]
    assert x.requires_grad
    y = (x * 2).detach()
    assert y.is_leaf and not y.requires_grad


def test_clone_copies_memory_and_keeps_history():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and c.grad_fn.name() == "CloneBackward0"
    with rgrad.no_grad():
        c.add_(5)
    assert x.tolist() == [1.0, 2.0]
    (c * c).sum().backward()
    assert x.grad.tolist() == [12.0, 14.0]
    plain = rgrad.tensor([1, 2])
    pc = plain.clone()
    pc.add_(1)
    assert plain.tolist() == [1, 2] and pc.tolist() == [2, 3]
    assert pc.dtype == rgrad.int64


def test_detach_clone_is_independent():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.detach().clone()
    y.zero_()
    assert x.tolist() == [1.0, 2.0]


def test_views_share_memory():
    t = rgrad.arange(6.0)
    v = t.view(2, 3)
    r = t.reshape(3, 2)
    tr = v.t()
    v[0, 1].fill_(10)
    assert t[1].item() == 10 and r[0, 1].item() == 10 and tr[1, 0].item() == 10
    s = t[::2]
    s.fill_(-1)
    assert t.tolist() == [-1.0, 10.0, -1.0, 3.0, -1.0, 5.0]
    chain = t.unsqueeze(0).permute(1, 0).squeeze(1).flatten().expand(2, 6)
    t[0].fill_(42)
    assert chain[1, 0].item() == 42


# ---- comparisons --------------------------------------------------------------------------


def test_comparisons_return_bool_tensors():
    a = rgrad.tensor([1.0, 2.0, 3.0])
    b = rgrad.tensor([1.0, 3.0, 2.0])
    cases = {
        "==": (a == b, [True, False, False]),
        "!=": (a != b, [False, True, True]),
        "<": (a < b, [False, True, False]),
        "<=": (a <= b, [True, True, False]),
        ">": (a > b, [False, False, True]),
        ">=": (a >= b, [True, False, True]),
        "eq": (a.eq(2), [False, True, False]),
        "ne": (a.ne(2), [True, False, True]),
        "lt": (rgrad.lt(a, 2.5), [True, True, False]),
        "gt_int": (rgrad.tensor([1, 2, 3]) > 1.5, [False, True, True]),
        "reflected": (2 < a, [False, False, True]),
    }
    for name, (got, expected) in cases.items():
        assert got.dtype == rgrad.bool, name
        assert got.tolist() == expected, name


def test_comparison_broadcasting_and_no_grad():
    x = rgrad.tensor([[1.0], [2.0]], requires_grad=True)
    m = x >= rgrad.tensor([1.0, 2.0, 3.0])
    assert m.shape == (2, 3) and m.dtype == rgrad.bool
    assert m.tolist() == [[True, False, False], [True, True, False]]
    assert not m.requires_grad and m.grad_fn is None
    assert (rgrad.tensor([1.0]) == None) is False  # noqa: E711 - Python's fallback
    with pytest.raises(RuntimeError, match="The size of tensor a \\(2\\) must match"):
        _ = rgrad.tensor([1.0, 2.0]) > rgrad.tensor([1.0, 2.0, 3.0])


# ---- bad inputs raise Python exceptions ---------------------------------------------------

ERRORS = [
    # wrong shapes
    (
        "rgrad.ones(3) + rgrad.ones(4)",
        RuntimeError,
        "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0",
    ),
    (
        "rgrad.ones(2, 3) * rgrad.ones(4, 1, 2)",
        RuntimeError,
        "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 2",
    ),
    (
        "rgrad.ones(2, 3) @ rgrad.ones(2, 3)",
        RuntimeError,
        "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)",
    ),
    ("rgrad.ones(3) @ rgrad.ones(4)", RuntimeError, "inconsistent tensor size"),
    ("rgrad.ones(3).mm(rgrad.ones(3, 3))", RuntimeError, "self must be a matrix"),
    ("rgrad.ones(2, 3).bmm(rgrad.ones(2, 3, 3))", RuntimeError, "batch1 must be a 3D tensor"),
    (
        "rgrad.tensor(1.0) @ rgrad.ones(3)",
        RuntimeError,
        "both arguments to matmul need to be at least 1D",
    ),
    ("rgrad.ones(3).dot(rgrad.ones(3, 1))", RuntimeError, "1D tensors expected"),
    ("rgrad.ones(3).view(2, 2)", RuntimeError, "shape '[2, 2]' is invalid for input of size 3"),
    (
        "rgrad.ones(2, 3).reshape(4, -1)",
        RuntimeError,
        "shape '[4, -1]' is invalid for input of size 6",
    ),
    ("rgrad.ones(2, 3).reshape(-1, -1)", RuntimeError, "only one dimension can be inferred"),
    (
        "rgrad.ones(2, 3).t().view(-1)",
        RuntimeError,
        "view size is not compatible with input tensor's size and stride",
    ),
    (
        "rgrad.ones(2, 2).expand(3, 3)",
        RuntimeError,
        "The expanded size of the tensor (3) must match the existing size (2) at "
        "non-singleton dimension 1",
    ),
    (
        "rgrad.ones(2, 3).expand(3)",
        RuntimeError,
        "the number of sizes provided (1) must be greater or equal",
    ),
    (
        "rgrad.ones(2, 3, 4).t()",
        RuntimeError,
        "t() expects a tensor with <= 2 dimensions, but self is 3D",
    ),
    (
        "rgrad.ones(2, 3).add_(rgrad.ones(3, 3))",
        RuntimeError,
        "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0",
    ),
    # bad dims
    (
        "rgrad.ones(2, 3).sum(dim=2)",
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "rgrad.ones(2, 3).mean(-3)",
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got -3)",
    ),
    (
        "rgrad.ones(2, 3).sum((0, 0))",
        RuntimeError,
        "dim 0 appears multiple times in the list of dims",
    ),
    (
        "rgrad.ones(2, 3).transpose(0, 2)",
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "rgrad.ones(3).unsqueeze(2)",
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "rgrad.ones(3).squeeze(1)",
        IndexError,
        "Dimension out of range (expected to be in range of [-1, 0], but got 1)",
    ),
    ("rgrad.ones(2, 3).permute(0, 0)", RuntimeError, "permute(): duplicate dims are not allowed."),
    (
        "rgrad.ones(2, 3).permute(0)",
        RuntimeError,
        "number of dimensions in the tensor input does not match the length of the desired "
        "ordering",
    ),
    (
        "rgrad.ones(2, 3).flatten(1, 0)",
        RuntimeError,
        "flatten() has invalid args: start_dim cannot come after end_dim",
    ),
    ("rgrad.ones(2, 3).size(2)", IndexError, "Dimension out of range"),
    (
        "rgrad.ones(2, 3).select(1, 3)",
        IndexError,
        None,  # message: see test_select_out_of_range_message
    ),
    # bad dtypes
    ("rgrad.tensor([1.0], dtype='float')", TypeError, None),
    ("rgrad.zeros(2, dtype=5)", TypeError, None),
    ("rgrad.ones(2, dtype=np.float32)", TypeError, None),
    ("rgrad.tensor([1, 2]).mean()", RuntimeError, "mean(): could not infer output dtype"),
    ("rgrad.tensor([1, 2], requires_grad=True)", RuntimeError, "floating point"),
    (
        "rgrad.tensor([1, 2]) ** -1",
        RuntimeError,
        "Integers to negative integer powers are not allowed.",
    ),
    (
        "-rgrad.tensor([True])",
        RuntimeError,
        "Negation, the `-` operator, on a bool tensor is not supported.",
    ),
    ("rgrad.tensor([1, 2]) // 0", RuntimeError, "ZeroDivisionError"),
    # out-of-range indices
    ("rgrad.ones(3)[5]", IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    ("rgrad.ones(3)[-4]", IndexError, "index -4 is out of bounds for dimension 0 with size 3"),
    ("rgrad.ones(2, 3)[:, 3]", IndexError, "index 3 is out of bounds for dimension 1 with size 3"),
    ("rgrad.ones(3)[0, 0]", IndexError, "too many indices for tensor of dimension 1"),
    ("rgrad.tensor(1.0)[0]", IndexError, None),
    ("rgrad.ones(3)[..., ...]", IndexError, "an index can only have a single ellipsis ('...')"),
    ("rgrad.ones(3)[1.5]", IndexError, None),
    ("rgrad.ones(3)['a']", IndexError, None),
    ("rgrad.ones(3)[::-1]", ValueError, "step must be greater than zero"),
    ("rgrad.ones(3)[::0]", ValueError, "step must be greater than zero"),
    # non-tensor operands
    ("rgrad.ones(3) + 'a'", TypeError, "unsupported operand type(s) for +: 'Tensor' and 'str'"),
    (
        "rgrad.ones(3) * None",
        TypeError,
        "unsupported operand type(s) for *: 'Tensor' and 'NoneType'",
    ),
    (
        "rgrad.ones(3) + [1, 2, 3]",
        TypeError,
        "unsupported operand type(s) for +: 'Tensor' and 'list'",
    ),
    ("rgrad.ones(3) @ 2", TypeError, None),
    ("rgrad.ones(3) < 'a'", TypeError, None),
    ("rgrad.ones(3).add('a')", TypeError, None),
    ("rgrad.ones(3).mul(None)", TypeError, None),
    ("rgrad.ones(3).matmul(2)", TypeError, None),
    ("rgrad.ones(3).add_('a')", TypeError, None),
    ("rgrad.ones(3).fill_('a')", TypeError, None),
    ("rgrad.exp('a')", TypeError, None),
    ("rgrad.exp([1.0])", TypeError, None),
    ("rgrad.ones(3).sum(dim='a')", TypeError, None),
    ("rgrad.ones(3).sum(dim=0.5)", TypeError, None),
    ("rgrad.ones(3).reshape('a')", TypeError, None),
    ("rgrad.ones(2, 3).transpose(0)", TypeError, None),
    ("rgrad.where(rgrad.tensor([True]), 1.0, 'a')", TypeError, None),
    ("rgrad.zeros('a')", TypeError, None),
    # misc
    (
        "rgrad.ones(3).item()",
        RuntimeError,
        "a Tensor with 3 elements cannot be converted to Scalar",
    ),
    ("rgrad.arange(0, 5, 0)", RuntimeError, "step must be nonzero"),
]


@pytest.mark.parametrize("expr, exc, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_input_raises(expr, exc, message):
    try:
        eval(expr, {"rgrad": rgrad, "np": np})
    except exc as e:
        if message is not None:
            assert message in str(e)
    except BaseException as e:  # noqa: B036 - a Rust panic surfaces as a BaseException
        pytest.fail(f"raised {type(e).__name__}: {e}, expected {exc.__name__}")
    else:
        pytest.fail(f"did not raise {exc.__name__}")


def test_narrow_out_of_range_raises():
    with pytest.raises(RuntimeError, match=r"start \(2\) \+ length \(2\) exceeds dimension size"):
        rgrad.ones(2, 3).narrow(1, 2, 2)


def test_select_out_of_range_message():
    with pytest.raises(IndexError) as info:
        rgrad.ones(2, 3).select(1, 3)
    assert (
        str(info.value) == "select(): index 3 out of range for tensor of size [2, 3] at dimension 1"
    )


def test_index_error_names_the_original_dimension():
    with pytest.raises(IndexError) as info:
        rgrad.ones(2, 3)[0, 3]
    assert str(info.value) == "index 3 is out of bounds for dimension 1 with size 3"


def test_index_of_zero_dim_tensor_message():
    with pytest.raises(IndexError) as info:
        rgrad.tensor(1.0)[0]
    assert str(info.value) == (
        "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` "
        "in C++ to convert a 0-dim tensor to a number"
    )


def test_errors_leave_tensors_usable():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    for bad in (lambda: x + rgrad.ones(3), lambda: x.sum(5), lambda: x[7], lambda: x @ x.t()):
        try:
            bad()
        except Exception:
            pass
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


# ---- operations on integer tensors --------------------------------------------------------


def test_float_ops_on_integer_tensors_promote():
    np.testing.assert_allclose(rgrad.tensor([1, 2]).exp().numpy(), np.exp([1.0, 2.0]), rtol=1e-6)
    assert rgrad.tensor([1, 4]).sqrt().dtype == rgrad.float32
    assert rgrad.tensor([True, False]).sigmoid().dtype == rgrad.float32
    assert rgrad.tensor([1, -2]).abs().tolist() == [1, 2]
    assert rgrad.tensor([1, -2]).relu().tolist() == [1, 0]
    assert (-rgrad.tensor([1, -2])).tolist() == [-1, 2]
    assert rgrad.tensor([1, 2]).sum(dtype=rgrad.float64).dtype == rgrad.float64
    assert rgrad.tensor([1, 2]).mean(dtype=rgrad.float32).item() == 1.5


def test_numpy_operands():
    out = rgrad.ones(3) + np.ones(3)
    assert isinstance(out, rgrad.Tensor) and out.dtype == rgrad.float64
    out = np.ones(3) + rgrad.ones(3)
    assert isinstance(out, rgrad.Tensor) and out.tolist() == [2.0, 2.0, 2.0]


# ---- object identity ----------------------------------------------------------------------


def test_python_object_identity():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad is x.grad
    assert x.float() is x
    assert x.to(rgrad.float32) is x
    assert (x * 2).grad_fn.next_functions[0][0].variable is x


def test_dtype_identity():
    assert rgrad.tensor([1.0]).dtype is rgrad.float32
    assert rgrad.tensor([1]).dtype is rgrad.int64
    assert rgrad.zeros(1, dtype=rgrad.float64).dtype is rgrad.float64


def test_cuda_probe_falls_back_to_cpu():
    assert rgrad.cuda.is_available() is False and rgrad.cuda.device_count() == 0
    device = rgrad.device("cuda" if rgrad.cuda.is_available() else "cpu")
    x = rgrad.ones(2).to(device)
    assert str(x.device) == "cpu"
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        rgrad.zeros(2).to("cuda")
