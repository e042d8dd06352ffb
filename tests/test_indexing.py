"""Indexing against NumPy: hypothesis-generated index expressions for ``__getitem__`` and
``__setitem__`` (forward and gradients), and gather / scatter / scatter_add / index_select /
masked_fill / masked_select / tril / triu against their NumPy equivalents.

PyTorch follows NumPy's indexing rules with one documented-by-behaviour difference: a Python
int (or a 0-d integer tensor) is a *basic* index in PyTorch (it selects, like ``t.select``),
while NumPy counts it among the advanced indices when the expression has any. So
``t[0, :, [0, 1]]`` has shape ``(3, 2)`` in PyTorch for a ``(2, 3, 4)`` tensor but ``(2, 3)`` in
NumPy. The reference below therefore indexes in two NumPy steps: first the basic part (ints,
slices, None, Ellipsis), then the advanced part (integer arrays, boolean masks) on what is left
-- which is exactly NumPy's indexing whenever the two libraries agree.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rgrad

PROPS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SMALL = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def float_arrays(shape, low=-4.0, high=4.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False))


# ---- index expressions ----------------------------------------------------------------------
#
# An index is drawn as a list of items ("spec"), each one of
#   ("int", i) ("int0d", i) ("slice", s) ("none",) ("ellipsis",)
#   ("intarr", array, container) ("mask", bool_array, container)
# and turned into what a user would write (Python ints and lists, tensors, NumPy arrays). Empty
# or 2-D masks are given as tensors only: an empty list is an integer index, and PyTorch
# mishandles empty NumPy masks and 2-D NumPy masks after an Ellipsis.


@st.composite
def _slice(draw, n):
    bound = st.none() | st.integers(-n - 2, n + 2)
    return slice(draw(bound), draw(bound), draw(st.none() | st.integers(1, 3)))


@st.composite
def index_case(draw, max_dims=4, max_side=4, min_side=0):
    ndim = draw(st.integers(0, max_dims))
    shape = tuple(draw(st.integers(min_side, max_side)) for _ in range(ndim))
    a = draw(float_arrays(shape))

    use_ellipsis = draw(st.booleans())
    n_front = draw(st.integers(0, ndim))
    n_back = draw(st.integers(0, ndim - n_front)) if use_ellipsis else 0

    # Advanced indices must broadcast together: integer arrays take shapes that broadcast to
    # one drawn shape; with a boolean mask (whose length is its count of True) the integer
    # arrays are of length 1.
    bshape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3))
    state = {"mask": False}

    def consumers(dims):
        """Items consuming exactly the dims in `dims` (a list of sizes), in order."""
        items, i = [], 0
        while i < len(dims):
            n = dims[i]
            kinds = ["slice"]
            if n > 0:
                kinds += ["int", "int0d", "intarr"]
            if not state["mask"]:
                kinds.append("mask")
            kind = draw(st.sampled_from(kinds))
            if kind == "int":
                items.append(("int", draw(st.integers(-n, n - 1))))
            elif kind == "int0d":
                items.append(("int0d", draw(st.integers(-n, n - 1))))
            elif kind == "slice":
                items.append(("slice", draw(_slice(n))))
            elif kind == "intarr":
                if state["mask"]:
                    ishape = (1,)
                else:
                    k = draw(st.integers(1, len(bshape)))
                    ishape = tuple(
                        1 if draw(st.booleans()) else s for s in bshape[len(bshape) - k :]
                    )
                arr = draw(hnp.arrays(np.int64, ishape, elements=st.integers(-n, n - 1)))
                containers = ["tensor", "tensor32", "ndarray"]
                if arr.ndim == 1:
                    containers.append("list")
                items.append(("intarr", arr, draw(st.sampled_from(containers))))
            else:  # mask over 1 or 2 dims
                k = draw(st.integers(1, min(2, len(dims) - i)))
                mshape = tuple(dims[i : i + k])
                m = draw(hnp.arrays(np.bool_, mshape))
                containers = ["tensor"] + (["ndarray", "list"] if k == 1 and m.size else [])
                items.append(("mask", m, draw(st.sampled_from(containers))))
                state["mask"] = True
                i += k
                continue
            i += 1
        return items

    front = consumers(list(shape[:n_front]))
    back = consumers(list(shape[ndim - n_back :])) if use_ellipsis else []
    items = front + ([("ellipsis",)] if use_ellipsis else []) + back
    if state["mask"]:  # the advanced indices must still broadcast: only length-1 arrays remain
        items = [
            ("intarr", it[1].reshape(-1)[:1], "tensor")
            if it[0] == "intarr" and it[1].size != 1
            else it
            for it in items
        ]
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), ("none",))
    index = to_index(items)
    if len(items) == 1 and draw(st.booleans()):
        index = index[0]  # t[i] rather than t[(i,)]
    return a, items, index


def to_index(items):
    out = []
    for it in items:
        kind = it[0]
        if kind == "int":
            out.append(it[1])
        elif kind == "int0d":
            out.append(rgrad.tensor(it[1]))
        elif kind == "slice":
            out.append(it[1])
        elif kind == "none":
            out.append(None)
        elif kind == "ellipsis":
            out.append(Ellipsis)
        else:
            arr, container = it[1], it[2]
            if container == "list":
                out.append(arr.tolist())
            elif container == "ndarray":
                out.append(arr)
            elif container == "tensor32":
                out.append(rgrad.tensor(arr, dtype=rgrad.int32))
            else:
                out.append(rgrad.tensor(arr))
    return tuple(out)


def ref_index(a, items):
    """PyTorch's indexing of `a`, computed with NumPy (see the module docstring)."""
    consumed = sum(it[1].ndim if it[0] == "mask" else 1 for it in items if it[0] in CONSUMERS)
    n_ellipsis = a.ndim - consumed
    basic, advanced = [], []
    for it in items:
        kind = it[0]
        if kind in ("int", "int0d"):
            basic.append(it[1])
        elif kind == "slice":
            basic.append(it[1])
            advanced.append(slice(None))
        elif kind == "none":
            basic.append(None)
            advanced.append(slice(None))
        elif kind == "ellipsis":
            basic.append(Ellipsis)
            advanced.extend([slice(None)] * n_ellipsis)
        elif kind == "intarr":
            basic.append(slice(None))
            advanced.append(it[1])
        else:  # mask
            basic.extend([slice(None)] * it[1].ndim)
            advanced.append(it[1])
    out = a[tuple(basic)]
    if any(it[0] in ("intarr", "mask") for it in items):
        out = out[tuple(advanced)]
    return np.asarray(out)


CONSUMERS = ("int", "int0d", "slice", "intarr", "mask")


def selected_positions(shape, items):
    """Flat positions of the elements an index selects, in the result's shape."""
    return ref_index(np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape), items)


def scatter_back(shape, items, cot):
    """The gradient of indexing: the cotangent added (np.add.at) into the selected positions."""
    g = np.zeros(int(np.prod(shape)))
    np.add.at(g, selected_positions(shape, items).ravel(), cot.ravel())
    return g.reshape(shape)


def unbroadcast(grad, shape):
    lead = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(lead))) if lead else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


# ---- __getitem__ ----------------------------------------------------------------------------


@PROPS
@given(index_case(), st.booleans(), st.data())
def test_getitem_matches_numpy_with_gradient(case, use_sum, data):
    a, items, index = case
    expected = ref_index(a, items)
    x = rgrad.tensor(a, requires_grad=True)
    out = x[index]
    assert tuple(out.shape) == expected.shape
    assert out.dtype == rgrad.float64
    np.testing.assert_array_equal(out.detach().numpy(), expected)

    if use_sum:
        cot = np.ones(expected.shape)
        out.sum().backward()
    else:
        cot = data.draw(float_arrays(expected.shape))
        (out * rgrad.tensor(cot)).sum().backward()
    assert x.grad is not None and tuple(x.grad.shape) == a.shape
    np.testing.assert_allclose(x.grad.numpy(), scatter_back(a.shape, items, cot), atol=1e-12)


@PROPS
@given(index_case(max_dims=3))
def test_getitem_on_int_and_bool_tensors(case):
    a, items, index = case
    ai = np.round(a).astype(np.int64)
    np.testing.assert_array_equal(rgrad.tensor(ai)[index].numpy(), ref_index(ai, items))
    ab = a > 0
    out = rgrad.tensor(ab)[index]
    assert out.dtype == rgrad.bool
    np.testing.assert_array_equal(out.numpy(), ref_index(ab, items))


@SMALL
@given(index_case(max_dims=3))
def test_getitem_basic_index_is_a_view(case):
    a, items, index = case
    if any(it[0] in ("intarr", "mask", "int0d") for it in items):
        items = [it for it in items if it[0] not in ("intarr", "mask", "int0d")]
        index = to_index(items)
        try:
            ref_index(a, items)
        except IndexError:  # dropping items changed which dims the rest refer to
            return
    x = rgrad.tensor(a)
    view = x[index]
    positions = selected_positions(a.shape, items)
    if positions.size == 0:
        return
    view.fill_(7.0)  # writes through to x
    expected = a.copy().ravel()
    expected[positions.ravel()] = 7.0
    np.testing.assert_array_equal(x.numpy().ravel(), expected)


@SMALL
@given(
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
    st.integers(-5, -1),
    st.none() | st.integers(-5, 5),
    st.none() | st.integers(-5, 5),
    st.data(),
)
def test_negative_slice_step_raises_value_error(shape, step, start, stop, data):
    x = rgrad.zeros(shape)
    dim = data.draw(st.integers(0, len(shape) - 1))
    index = (slice(None),) * dim + (slice(start, stop, step),)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[index]


def test_zero_slice_step_raises_value_error():
    with pytest.raises(ValueError):
        rgrad.zeros(3)[::0]


def test_out_of_range_indices_raise_index_error():
    x = rgrad.zeros(2, 3)
    for index in [2, -3, (0, 3), (slice(None), -4), [0, 2], (slice(None), [3])]:
        with pytest.raises(IndexError):
            x[index]
    with pytest.raises(IndexError):
        x[rgrad.tensor([True, False, True])]  # mask shape does not match


def test_python_bool_index_adds_a_dim():
    a = np.arange(6.0).reshape(2, 3)
    x = rgrad.tensor(a, requires_grad=True)
    for index in [True, False, (0, True), (True, 0), (Ellipsis, True), (None, True)]:
        np.testing.assert_array_equal(x[index].detach().numpy(), a[index])
    assert tuple(rgrad.tensor(5.0)[True].shape) == (1,)
    x[True].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


@pytest.mark.xfail(
    strict=True,
    reason="bug: a 0-d bool tensor index is ignored (x[rgrad.tensor(True)] has shape (2, 3), "
    "not (1, 2, 3)), and a Python bool next to an advanced index is taken as None "
    "(x[True, [0, 1]] has shape (1, 2, 3), not (2, 3); x[True, True] is (1, 1, 2, 3), not "
    "(1, 2, 3)); NumPy and PyTorch treat a bool as a 0-d boolean mask",
)
def test_bool_scalar_index_is_a_0d_mask():
    a = np.arange(6.0).reshape(2, 3)
    x = rgrad.tensor(a)
    np.testing.assert_array_equal(x[rgrad.tensor(True)].numpy(), a[np.array(True)])
    np.testing.assert_array_equal(x[rgrad.tensor(False)].numpy(), a[np.array(False)])
    for index in [(True, [0, 1]), ([0, 1], True), (True, True)]:
        np.testing.assert_array_equal(x[index].numpy(), a[index])


def test_2d_mask_with_integer_array_index():
    a = np.arange(24.0).reshape(2, 3, 4)
    m = np.array([[True, False, True], [False, True, True]])
    x = rgrad.tensor(a)
    np.testing.assert_array_equal(x[rgrad.tensor(m), [1]].numpy(), a[m, [1]])
    np.testing.assert_array_equal(x[rgrad.tensor(m), rgrad.tensor([3])].numpy(), a[m, [3]])
    np.testing.assert_array_equal(x[rgrad.tensor(m), ..., [1]].numpy(), a[m, ..., [1]])
    np.testing.assert_array_equal(x[..., rgrad.tensor(m), [1]].numpy(), a[..., m, [1]])
    b = np.arange(12.0).reshape(2, 2, 3, 1)
    mb = np.array([[True, False], [True, True]])
    out = rgrad.tensor(b)[rgrad.tensor(mb), ..., [0], None, 0]
    assert tuple(out.shape) == (3, 1)  # PyTorch: the int selects first; NumPy says (3, 1) too
    np.testing.assert_array_equal(out.numpy(), b[mb, ..., [0], None, 0])
    y = rgrad.tensor(a)
    y[rgrad.tensor(m), [1]] = -1.0
    expected = a.copy()
    expected[m, [1]] = -1.0
    np.testing.assert_array_equal(y.numpy(), expected)


def test_empty_list_index_selects_nothing():
    a = np.arange(6.0).reshape(2, 3)
    x = rgrad.tensor(a, requires_grad=True)
    out = x[[]]
    assert tuple(out.shape) == a[[]].shape == (0, 3)
    assert tuple(x[:, []].shape) == (2, 0)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


# ---- __setitem__ ----------------------------------------------------------------------------


@st.composite
def setitem_case(draw):
    a, items, index = draw(index_case(max_dims=3))
    positions = selected_positions(a.shape, items)
    unique = np.unique(positions).size == positions.size
    target = positions.shape
    if not unique or draw(st.integers(0, 4)) == 0:
        value = draw(st.floats(-4, 4, allow_nan=False))  # duplicates: all writes agree
    else:
        k = draw(st.integers(0, len(target)))  # a trailing part, with some dims of size 1
        vshape = tuple(1 if draw(st.booleans()) else n for n in target[len(target) - k :])
        value = draw(float_arrays(vshape))
    return a, items, index, positions, unique, value


def ref_setitem(a, positions, value):
    out = a.copy().ravel()
    out[positions.ravel()] = np.broadcast_to(value, positions.shape).ravel()
    return out.reshape(a.shape)


@PROPS
@given(setitem_case())
def test_setitem_matches_numpy(case):
    a, items, index, positions, unique, value = case
    x = rgrad.tensor(a)
    x[index] = value if isinstance(value, float) else rgrad.tensor(value)
    np.testing.assert_array_equal(x.numpy(), ref_setitem(a, positions, value))


@PROPS
@given(setitem_case(), st.data())
def test_setitem_on_non_leaf_records_gradients(case, data):
    a, items, index, positions, unique, value = case
    value = np.asarray(value, dtype=np.float64)
    x = rgrad.tensor(a, requires_grad=True)
    v = rgrad.tensor(value, requires_grad=True)
    y = x * 2.0
    y[index] = v * 3.0
    assert y.requires_grad and y.grad_fn is not None
    np.testing.assert_allclose(
        y.detach().numpy(), ref_setitem(a * 2.0, positions, value * 3.0), atol=1e-12
    )
    cot = data.draw(float_arrays(a.shape))
    (y * rgrad.tensor(cot)).sum().backward()

    overwritten = np.zeros(a.size, dtype=bool)
    overwritten[positions.ravel()] = True
    expected_x = np.where(overwritten.reshape(a.shape), 0.0, 2.0 * cot)
    np.testing.assert_allclose(x.grad.numpy(), expected_x, atol=1e-12)
    if unique:
        picked = cot.ravel()[positions.ravel()].reshape(positions.shape)
        expected_v = 3.0 * unbroadcast(np.broadcast_to(picked, positions.shape), value.shape)
        assert tuple(v.grad.shape) == value.shape
        np.testing.assert_allclose(v.grad.numpy(), expected_v.reshape(value.shape), atol=1e-12)


@SMALL
@given(setitem_case())
def test_setitem_on_grad_leaf_allowed_under_no_grad(case):
    a, items, index, positions, unique, value = case
    x = rgrad.tensor(a, requires_grad=True)
    with rgrad.no_grad():
        x[index] = value if isinstance(value, float) else rgrad.tensor(value)
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    np.testing.assert_array_equal(x.detach().numpy(), ref_setitem(a, positions, value))


def test_setitem_records_version_and_is_checked_by_backward():
    x = rgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1.0
    z = y.sin()  # saves y
    v0 = y._version
    y[1:] = 0.0
    assert y._version > v0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_setitem_value_with_leading_unit_dims():
    x = rgrad.zeros(3)
    x[[0, 1]] = rgrad.ones(1, 1, 2)
    np.testing.assert_array_equal(x.numpy(), [1.0, 1.0, 0.0])
    y = rgrad.zeros(2, 3)
    y[0] = rgrad.ones(1, 3)
    np.testing.assert_array_equal(y.numpy(), [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])


def test_setitem_python_float_keeps_float64_precision():
    x = rgrad.zeros(3, dtype=rgrad.float64)
    x[0] = 0.1
    x[[1]] = 0.1
    x[rgrad.tensor([False, False, True])] = 0.1
    assert x.tolist() == [0.1, 0.1, 0.1]


# Zero-size dims and empty selections: empty views whose storage offset lies past the end of
# their storage (these used to panic in the kernels).

ZERO_SIZE_GETITEM = [
    ((0, 3), (slice(None), slice(1, None))),
    ((3, 0), (slice(1, None),)),
    ((3, 0), (1,)),
    ((2, 0, 2), (Ellipsis, 1)),
    ((2, 2), (slice(2, None), 1)),  # empty, with an offset past the end of the storage
    ((2, 3), (slice(5, None), slice(1, None))),
]


@pytest.mark.parametrize("shape,index", ZERO_SIZE_GETITEM)
def test_getitem_zero_size_with_gradient(shape, index):
    a = np.zeros(shape)
    x = rgrad.tensor(a, requires_grad=True)
    out = x[index]
    assert tuple(out.shape) == a[index].shape
    assert tuple(out.clone().shape) == a[index].shape
    assert tuple(out.exp().shape) == a[index].shape
    (out * rgrad.zeros(out.shape, dtype=rgrad.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a)


@pytest.mark.parametrize(
    "shape,index,value",
    [
        ((0, 3), (slice(None), 1), 1.0),
        ((0, 3), (slice(1, None), Ellipsis, -2), 1.0),
        ((3, 0), (slice(1, None),), 2.0),
        ((2, 2), (slice(5, None), 1), 1.0),
        ((2, 2), (slice(3, None), Ellipsis, [0, 1]), 1.0),
        ((0, 3), (slice(None), 1), "empty"),
    ],
)
def test_setitem_zero_size(shape, index, value):
    a = np.zeros(shape)
    expected = a.copy()
    if value == "empty":
        value = rgrad.zeros(a[index].shape, dtype=rgrad.float64)
    x = rgrad.tensor(a)
    x[index] = value
    np.testing.assert_array_equal(x.numpy(), expected)
    y = rgrad.tensor(a, requires_grad=True) * 2.0
    y[index] = value
    assert tuple(y.shape) == shape


# ---- gather / scatter / scatter_add / index_select ------------------------------------------


@st.composite
def dim_case(draw, min_side=1):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=min_side, max_side=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return shape, dim


@st.composite
def gather_case(draw):
    shape, dim = draw(dim_case())
    d = dim % len(shape)
    # index: same number of dims, each size <= input's (except along dim: any size)
    ishape = tuple(
        draw(st.integers(1, 4)) if i == d else draw(st.integers(1, n)) for i, n in enumerate(shape)
    )
    index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, shape[d] - 1)))
    a = draw(float_arrays(shape))
    return a, dim, index


def _gather_positions(shape, dim, index):
    """Flat positions read by gather(dim, index): index replaces the coordinate along dim."""
    d = dim % len(shape)
    grids = list(np.meshgrid(*[np.arange(n) for n in index.shape], indexing="ij"))
    grids[d] = index
    return np.ravel_multi_index(tuple(grids), shape)


@PROPS
@given(gather_case(), st.data())
def test_gather_matches_take_along_axis(case, data):
    a, dim, index = case
    x = rgrad.tensor(a, requires_grad=True)
    out = x.gather(dim, rgrad.tensor(index))
    d = dim % a.ndim
    # gather reads input[..., index[i], ...] along dim; index may be smaller than the input
    # in the other dims, which take_along_axis expresses as a slice of the input.
    window = tuple(slice(None) if i == d else slice(0, n) for i, n in enumerate(index.shape))
    expected = np.take_along_axis(a[window], index, axis=d)
    assert tuple(out.shape) == index.shape
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    positions = _gather_positions(a.shape, dim, index)
    cot = data.draw(float_arrays(index.shape))
    (out * rgrad.tensor(cot)).sum().backward()
    g = np.zeros(a.size)
    np.add.at(g, positions.ravel(), cot.ravel())
    np.testing.assert_allclose(x.grad.numpy(), g.reshape(a.shape), atol=1e-12)
    np.testing.assert_array_equal(
        rgrad.gather(x.detach(), dim, rgrad.tensor(index)).numpy(), out.detach().numpy()
    )


@st.composite
def scatter_case(draw, unique):
    a, dim, _ = draw(gather_case())
    d = dim % a.ndim
    ishape = tuple(draw(st.integers(1, n)) for n in a.shape)
    if unique:  # scatter with repeated targets is undefined: distinct indices along dim
        cols = [
            draw(st.permutations(range(a.shape[d])))[: ishape[d]]
            for _ in range(int(np.prod(ishape)) // ishape[d])
        ]
        index = np.moveaxis(
            np.array(cols, dtype=np.int64).reshape(
                tuple(n for i, n in enumerate(ishape) if i != d) + (ishape[d],)
            ),
            -1,
            d,
        )
    else:
        index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, a.shape[d] - 1)))
    # src may be larger than index (only its leading part is used); PyTorch's backward gathers
    # src's gradient in index's shape, so tests with src's gradient pass src[window].
    sshape = tuple(n + draw(st.integers(0, 1)) for n in ishape)
    src = draw(float_arrays(sshape))
    return a, dim, index, src


def _scatter_positions(shape, dim, index):
    return _gather_positions(shape, dim, index)


@PROPS
@given(scatter_case(unique=True), st.data())
def test_scatter_matches_numpy_with_gradients(case, data):
    a, dim, index, src = case
    positions = _scatter_positions(a.shape, dim, index)
    used_src = src[tuple(slice(0, n) for n in index.shape)]
    d = dim % a.ndim
    window = tuple(slice(None) if i == d else slice(0, n) for i, n in enumerate(index.shape))
    expected = a.copy()
    np.put_along_axis(expected[window], index, used_src, axis=d)  # writes through the view

    np.testing.assert_array_equal(
        rgrad.tensor(a).scatter(dim, rgrad.tensor(index), rgrad.tensor(src)).numpy(), expected
    )
    x = rgrad.tensor(a, requires_grad=True)
    s = rgrad.tensor(used_src, requires_grad=True)
    out = x.scatter(dim, rgrad.tensor(index), s)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    cot = data.draw(float_arrays(a.shape))
    (out * rgrad.tensor(cot)).sum().backward()
    gx = cot.copy().ravel()
    gx[positions.ravel()] = 0.0
    np.testing.assert_allclose(x.grad.numpy(), gx.reshape(a.shape), atol=1e-12)
    np.testing.assert_allclose(s.grad.numpy(), cot.ravel()[positions], atol=1e-12)

    # value form and the in-place form
    out_v = x.detach().scatter(dim, rgrad.tensor(index), value=2.5)
    expected_v = a.copy().ravel()
    expected_v[positions.ravel()] = 2.5
    np.testing.assert_array_equal(out_v.numpy(), expected_v.reshape(a.shape))
    y = rgrad.tensor(a)
    y.scatter_(dim, rgrad.tensor(index), rgrad.tensor(src))
    np.testing.assert_array_equal(y.numpy(), expected)


@PROPS
@given(scatter_case(unique=False), st.data())
def test_scatter_add_matches_add_at_with_gradients(case, data):
    a, dim, index, src = case
    positions = _scatter_positions(a.shape, dim, index)
    used_src = src[tuple(slice(0, n) for n in index.shape)]
    expected = a.copy().ravel()
    np.add.at(expected, positions.ravel(), used_src.ravel())
    expected = expected.reshape(a.shape)

    np.testing.assert_allclose(
        rgrad.scatter_add(rgrad.tensor(a), dim, rgrad.tensor(index), rgrad.tensor(src)).numpy(),
        expected,
        atol=1e-12,
    )
    x = rgrad.tensor(a, requires_grad=True)
    s = rgrad.tensor(used_src, requires_grad=True)
    out = x.scatter_add(dim, rgrad.tensor(index), s)
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-12)
    cot = data.draw(float_arrays(a.shape))
    (out * rgrad.tensor(cot)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), cot, atol=1e-12)
    np.testing.assert_allclose(s.grad.numpy(), cot.ravel()[positions], atol=1e-12)


@PROPS
@given(dim_case(), st.data())
def test_index_select_matches_take_with_gradient(case, data):
    shape, dim = case
    a = data.draw(float_arrays(shape))
    n = shape[dim]
    index = data.draw(hnp.arrays(np.int64, st.integers(0, 5), elements=st.integers(0, n - 1)))
    x = rgrad.tensor(a, requires_grad=True)
    out = x.index_select(dim, rgrad.tensor(index, dtype=rgrad.int64))
    expected = np.take(a, index, axis=dim)
    assert tuple(out.shape) == expected.shape
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    cot = data.draw(float_arrays(expected.shape))
    (out * rgrad.tensor(cot)).sum().backward()
    g = np.zeros(a.shape)
    idx = [slice(None)] * a.ndim
    idx[dim] = index
    np.add.at(g, tuple(idx), cot)
    np.testing.assert_allclose(x.grad.numpy(), g, atol=1e-12)
    np.testing.assert_array_equal(
        rgrad.index_select(x.detach(), dim, rgrad.tensor(index, dtype=rgrad.int64)).numpy(),
        expected,
    )


# ---- masked_fill / masked_select / tril / triu ----------------------------------------------


@st.composite
def mask_case(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    xs, ms = shapes.input_shapes
    a = draw(float_arrays(xs))
    m = draw(hnp.arrays(np.bool_, ms))
    return a, m, shapes.result_shape


@PROPS
@given(mask_case(), st.floats(-3, 3, allow_nan=False), st.data())
def test_masked_fill_matches_where_with_gradient(case, value, data):
    a, m, result_shape = case
    x = rgrad.tensor(a, requires_grad=True)
    out = x.masked_fill(rgrad.tensor(m), value)  # self and mask broadcast together
    expected = np.where(m, value, a)
    assert tuple(out.shape) == result_shape
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    cot = data.draw(float_arrays(result_shape))
    (out * rgrad.tensor(cot)).sum().backward()
    expected_grad = unbroadcast(np.where(m, 0.0, cot), a.shape).reshape(a.shape)
    np.testing.assert_allclose(x.grad.numpy(), expected_grad, atol=1e-12)
    y = rgrad.tensor(a)
    if result_shape != a.shape:  # in place, the mask must broadcast to self
        with pytest.raises(RuntimeError):
            y.masked_fill_(rgrad.tensor(m), value)
    else:
        y.masked_fill_(rgrad.tensor(m), value)
        np.testing.assert_array_equal(y.numpy(), expected)


def test_masked_fill_broadcasts_self_with_mask():
    x = rgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = rgrad.tensor([[True, False, False], [False, False, True]])
    out = x.masked_fill(mask, 0.0)
    np.testing.assert_array_equal(out.detach().numpy(), [[0.0, 2.0, 3.0], [1.0, 2.0, 0.0]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 1.0])


@PROPS
@given(mask_case(), st.data())
def test_masked_select_matches_boolean_indexing_with_gradient(case, data):
    a, m, result_shape = case
    x = rgrad.tensor(a, requires_grad=True)
    out = x.masked_select(rgrad.tensor(m))
    ab = np.broadcast_to(a, result_shape)
    mb = np.broadcast_to(m, result_shape)
    expected = ab[mb]
    assert tuple(out.shape) == expected.shape
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    cot = data.draw(float_arrays(expected.shape))
    (out * rgrad.tensor(cot)).sum().backward()
    g = np.zeros(result_shape)
    g[mb] = cot
    np.testing.assert_allclose(x.grad.numpy(), unbroadcast(g, a.shape), atol=1e-12)
    np.testing.assert_array_equal(
        rgrad.masked_select(x.detach(), rgrad.tensor(m)).numpy(), expected
    )


def test_masked_fill_tensor_value_gets_gradient():
    x = rgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = rgrad.tensor(5.0, requires_grad=True)
    out = x.masked_fill(rgrad.tensor([True, False, True]), v)
    np.testing.assert_array_equal(out.detach().numpy(), [5.0, 2.0, 5.0])
    (out * rgrad.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 10.0, 0.0])
    assert v.grad is not None and v.grad.item() == 101.0


def test_masked_select_of_0d_is_1d():
    x = rgrad.tensor(3.0)
    assert tuple(x.masked_select(rgrad.tensor(False)).shape) == (0,)
    assert tuple(x.masked_select(rgrad.tensor(True)).shape) == (1,)


@PROPS
@given(
    hnp.array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=5),
    st.integers(-6, 6),
    st.sampled_from(["tril", "triu"]),
    st.data(),
)
def test_tril_triu_match_numpy_with_gradient(shape, k, name, data):
    a = data.draw(float_arrays(shape))
    x = rgrad.tensor(a, requires_grad=True)
    out = getattr(x, name)(k)
    expected = getattr(np, name)(a, k)  # NumPy applies it to the last two axes
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    np.testing.assert_array_equal(getattr(rgrad, name)(x.detach(), diagonal=k).numpy(), expected)
    cot = data.draw(float_arrays(shape))
    (out * rgrad.tensor(cot)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), getattr(np, name)(cot, k), atol=1e-12)
