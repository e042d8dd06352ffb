"""The op-table family of issue 16 moved from NumPy into the Rust core: cummax/cummin,
logcumsumexp, Tensor.unfold, index_add/index_copy/index_fill (and their in-place forms),
fill_diagonal_ and multinomial. PyTorch 2.15's values (NaN, infinities, ties), gradients and
grad_fn names, float64 gradcheck, PyTorch's errors, reproducible sampling, and small wgpu rows
against the CPU."""

import math
import os

import numpy as np
import pytest

import rgrad
from rgrad.autograd import gradcheck, gradgradcheck

nan, inf = math.nan, math.inf
F64 = rgrad.float64


def same(got, exp):
    """Equal lists, NaN equal to NaN."""
    np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(exp, dtype=float))


# ---- reference values (from PyTorch 2.15) -----------------------------------------------------

X = [[1.0, nan, 3.0, 3.0, -inf, nan, 7.0], [2.0, 2.0, -1.0, inf, inf, 0.0, -1.0]]


@pytest.mark.parametrize("dtype", [rgrad.float64, rgrad.float32, rgrad.float16, rgrad.bfloat16])
def test_cummax_cummin_nan_inf_ties(dtype):
    x = rgrad.tensor(X, dtype=dtype)
    r = rgrad.cummax(x, 1)
    assert type(r).__name__ == "cummax" and r.values.dtype == dtype
    same(
        r.values.float().tolist(),
        [[1, nan, nan, nan, nan, nan, nan], [2, 2, 2, inf, inf, inf, inf]],
    )
    assert r.indices.tolist() == [[0, 1, 1, 1, 1, 5, 5], [0, 1, 1, 3, 4, 4, 4]]
    assert r.indices.dtype == rgrad.int64
    r = x.cummin(1)
    same(r.values.float().tolist(), [[1, nan, nan, nan, nan, nan, nan], [2, 2, -1, -1, -1, -1, -1]])
    assert r.indices.tolist() == [[0, 1, 1, 1, 1, 5, 5], [0, 1, 2, 2, 2, 2, 6]]


def test_cummax_integer_bool_and_edge_shapes():
    q = rgrad.tensor([[3, 1], [3, 1], [2, 5], [3, 5]])
    assert rgrad.cummax(q, 0).indices.tolist() == [[0, 0], [1, 1], [1, 2], [3, 3]]
    assert rgrad.cummin(q, 0).indices.tolist() == [[0, 0], [1, 1], [2, 1], [2, 1]]
    assert rgrad.cummax(q, 0).values.dtype == rgrad.int64
    b = rgrad.tensor([False, True, False, True])
    assert b.cummax(0).values.tolist() == [False, True, True, True]
    assert b.cummax(0).indices.tolist() == [0, 1, 1, 3]
    assert b.cummin(0).indices.tolist() == [0, 0, 2, 2]
    s = rgrad.cummax(rgrad.tensor(5.0), 0)
    assert s.values.shape == () and s.indices.shape == () and s.indices.item() == 0
    e = rgrad.cummin(rgrad.zeros(0, 3), 1)
    assert e.values.shape == (0, 3) and e.indices.shape == (0, 3) and e.indices.dtype == rgrad.int64
    # a non-contiguous input along the other dim
    t = rgrad.tensor([[1.0, 5.0], [4.0, 2.0], [3.0, 6.0]]).t()
    assert t.cummax(1).indices.tolist() == [[0, 1, 1], [0, 0, 2]]
    with pytest.raises(IndexError, match="Dimension out of range"):
        rgrad.cummax(rgrad.ones(2), 1)


def test_cummax_grad_goes_to_the_chosen_index():
    x = rgrad.tensor([1.0, 3.0, 3.0, 2.0, 5.0], dtype=F64, requires_grad=True)
    v, _ = x.cummax(0)
    assert v.grad_fn.name() == "CummaxBackward0"
    v.backward(rgrad.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=F64))
    assert x.grad.tolist() == [1.0, 2.0, 7.0, 0.0, 5.0]
    assert x.cummin(0)[0].grad_fn.name() == "CumminBackward0"


def test_logcumsumexp_values():
    y = rgrad.tensor(
        [[0.0, -inf, inf, 1.0], [-inf, -inf, 2.0, nan], [1e3, 1e3, -1e3, 5.0]], dtype=F64
    )
    l2 = math.log(2.0)
    same(
        rgrad.logcumsumexp(y, 1).tolist(),
        [[0, 0, inf, inf], [-inf, -inf, 2, nan], [1e3, 1e3 + l2, 1e3 + l2, 1e3 + l2]],
    )
    same(y.logcumsumexp(0).tolist(), [[0, -inf, inf, 1], [0, -inf, inf, nan], [1e3, 1e3, inf, nan]])
    f = rgrad.tensor([0.0, 0.0, 0.0], dtype=rgrad.float32).logcumsumexp(0)
    assert f.dtype == rgrad.float32
    assert f.tolist() == pytest.approx([0.0, l2, math.log(3.0)], rel=1e-6)
    h = rgrad.tensor([1.0, 2.0], dtype=rgrad.bfloat16).logcumsumexp(0)
    assert h.dtype == rgrad.bfloat16
    assert rgrad.logcumsumexp(rgrad.tensor(2.0), 0).item() == 2.0
    assert rgrad.logcumsumexp(rgrad.zeros(0, 2), 0).shape == (0, 2)
    with pytest.raises(
        NotImplementedError, match="\"logcumsumexp_out_cpu\" not implemented for 'Long'"
    ):
        rgrad.logcumsumexp(rgrad.tensor([1, 2]), 0)


def test_logcumsumexp_grad_reference():
    x = rgrad.tensor([0.5, -1.0, 2.0, 0.25, 3.0], dtype=F64, requires_grad=True)
    out = rgrad.logcumsumexp(x, 0)
    assert out.grad_fn.name() == "LogcumsumexpBackward0"
    out.backward(rgrad.tensor([1.0, -2.0, 0.5, 3.0, -1.0], dtype=F64))
    exp = [
        -0.13837229525398254,
        -0.25400519254855675,
        2.2263985146734124,
        0.3186319022552355,
        -0.6526529291261085,
    ]
    np.testing.assert_allclose(x.grad.tolist(), exp, rtol=1e-12)


def test_unfold_is_a_strided_view():
    a = rgrad.arange(10.0).reshape(2, 5).requires_grad_()
    u = a.unfold(1, 3, 1)
    assert u.tolist() == [[[0, 1, 2], [1, 2, 3], [2, 3, 4]], [[5, 6, 7], [6, 7, 8], [7, 8, 9]]]
    assert u.stride() == (5, 1, 1) and u.grad_fn.name() == "UnfoldBackward0"
    (u * rgrad.arange(18.0).reshape(2, 3, 3)).sum().backward()
    assert a.grad.tolist() == [[0, 4, 12, 12, 8], [9, 22, 39, 30, 17]]
    b = rgrad.arange(6.0)
    w = b.unfold(0, 2, 2)
    assert w.tolist() == [[0, 1], [2, 3], [4, 5]] and w.stride() == (2, 1)
    b[2] = 20.0  # shares b's storage
    assert w[1, 0].item() == 20.0
    assert b.unfold(0, 0, 1).shape == (7, 0)
    assert rgrad.tensor(3.0).unfold(0, 1, 1).tolist() == [3.0]
    assert rgrad.arange(12.0).reshape(3, 4).t().unfold(1, 2, 1).shape == (4, 2, 2)
    for args, msg in [
        ((0, 7, 2), "maximum size for tensor at dimension 0 is 6 but size is 7"),
        ((0, 2, 0), "step is 0 but must be > 0"),
        ((0, -1, 1), "size is -1 but must be >= 0"),
    ]:
        with pytest.raises(RuntimeError, match=msg):
            rgrad.arange(6.0).unfold(*args)


def test_index_add_reference():
    s = rgrad.zeros(4, 3, requires_grad=True)
    src = rgrad.arange(6.0).reshape(2, 3).requires_grad_()
    o = s.index_add(0, rgrad.tensor([3, 3]), src, alpha=2)
    assert o.grad_fn.name() == "IndexAddBackward0"
    assert o.tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 0], [6, 10, 14]]
    (o * rgrad.arange(12.0).reshape(4, 3)).sum().backward()
    assert s.grad.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert src.grad.tolist() == [[18, 20, 22], [18, 20, 22]]
    i32 = rgrad.tensor([0, 1], dtype=rgrad.int32)
    assert rgrad.zeros(3, 2).index_add(0, i32, rgrad.ones(2, 2)).tolist() == [
        [1, 1],
        [1, 1],
        [0, 0],
    ]
    lg = rgrad.zeros(2, 3, dtype=rgrad.int64)
    assert lg.index_add(
        1, rgrad.tensor([0, 2]), rgrad.ones(2, 2, dtype=rgrad.int64), alpha=2
    ).tolist() == [[2, 0, 2], [2, 0, 2]]
    assert rgrad.zeros(()).index_add(0, rgrad.tensor([0]), rgrad.ones(())).item() == 1.0
    t = rgrad.zeros(3, 2)
    assert t.index_add_(0, rgrad.tensor([2, 2]), rgrad.ones(2, 2)) is t
    assert t.tolist() == [[0, 0], [0, 0], [2, 2]]


def test_index_copy_and_fill_reference():
    s = rgrad.zeros(4, 3, requires_grad=True)
    src = rgrad.arange(6.0).reshape(3, 2).requires_grad_()
    o = s.t().index_copy(1, rgrad.tensor([2, 0]), src)
    assert o.grad_fn.name() == "IndexCopyBackward0"
    assert o.tolist() == [[1, 0, 0, 0], [3, 0, 2, 0], [5, 0, 4, 0]]
    (o * rgrad.arange(12.0).reshape(3, 4)).sum().backward()
    assert s.grad.tolist() == [[0, 0, 0], [1, 5, 9], [0, 0, 0], [3, 7, 11]]
    assert src.grad.tolist() == [[2, 0], [6, 4], [10, 8]]
    s = rgrad.ones(3, 4, requires_grad=True)
    o = s.index_fill(1, rgrad.tensor([-1, 0]), 5.0)
    assert o.grad_fn.name() == "IndexFillBackward0"
    assert o.tolist() == [[5, 1, 1, 5]] * 3
    o.sum().backward()
    assert s.grad.tolist() == [[0, 1, 1, 0]] * 3
    li = rgrad.zeros(3, 2, dtype=rgrad.int64).index_fill(0, rgrad.tensor([0, 1]), 1.5)
    assert li.tolist() == [[1, 1], [1, 1], [0, 0]] and li.dtype == rgrad.int64
    assert rgrad.zeros(3, 2).index_fill(0, rgrad.tensor(1), rgrad.tensor(7.0)).tolist() == [
        [0, 0],
        [7, 7],
        [0, 0],
    ]
    assert rgrad.tensor(2.0).index_fill(0, rgrad.tensor(0), 1.0).item() == 1.0
    t = rgrad.zeros(2, 2)
    assert t.index_fill_(1, rgrad.tensor([1]), 3.0) is t and t.tolist() == [[0, 3], [0, 3]]
    assert t.index_copy_(0, rgrad.tensor([0]), rgrad.full((1, 2), 9.0)) is t and t.tolist() == [
        [9, 9],
        [0, 3],
    ]


@pytest.mark.parametrize(
    "call, err, msg",
    [
        (
            lambda: rgrad.zeros(3, 2).index_add(0, rgrad.tensor([0, 3]), rgrad.ones(2, 2)),
            RuntimeError,
            "index 3 is out of bounds for dimension 0 with size 3",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_add(0, rgrad.tensor([0, -1]), rgrad.ones(2, 2)),
            RuntimeError,
            "index -1 is out of bounds",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_add(0, rgrad.tensor([0.0, 1]), rgrad.ones(2, 2)),
            RuntimeError,
            r"index_add_\(\): Expected dtype int32/int64 for index but got: Float",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_add(0, rgrad.tensor([0, 1]), rgrad.ones(3, 2)),
            RuntimeError,
            r"Number of indices \(2\) should be equal to source.size\(dim\): \(3\), for dim: 0",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_add(0, rgrad.tensor([0, 1]), rgrad.ones(2, 3)),
            RuntimeError,
            r"source tensor shape must match self tensor shape, excluding the specified "
            r"dimension. Got self.shape = \[3, 2\] source.shape = \[2, 3\]",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_add(0, rgrad.tensor([[0, 1]]), rgrad.ones(2, 2)),
            IndexError,
            r"Index is supposed to be a vector, but got dim: 2 with type: Long and size: \[1, 2\]",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_add(
                0, rgrad.tensor([0, 1]), rgrad.ones(2, 2, dtype=F64)
            ),
            RuntimeError,
            r"self \(Float\) and source \(Double\) must have the same scalar type",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_copy(0, rgrad.tensor([0, 3]), rgrad.ones(2, 2)),
            IndexError,
            r"index_copy_\(\): index 3 is out of bounds for dimension 0 with size 3",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_copy(0, rgrad.tensor([0, 1]), rgrad.ones(3, 2)),
            IndexError,
            r"index_copy_\(\): Number of indices \(2\) should be equal to source.size\(dim\) \(3\)",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_copy(0, rgrad.tensor([0, 1.0]), rgrad.ones(2, 2)),
            RuntimeError,
            "Expected a long tensor for index, but got Float",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_copy(
                0, rgrad.tensor([0, 1]), rgrad.ones(2, 2, dtype=F64)
            ),
            RuntimeError,
            r"expected to have the same dtype, but got \(self\) Float and \(source\) Double",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_fill(0, rgrad.tensor([0, 3]), 1.0),
            IndexError,
            "index 3 is out of bounds for dimension 0 with size 3",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_fill(0, rgrad.tensor([0.0, 1]), 1.0),
            IndexError,
            "Expected dtype int64 for index",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_fill(0, rgrad.tensor([[0, 1]]), 1.0),
            RuntimeError,
            "Index has to be a vector/scalar",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_fill(0, rgrad.tensor([0]), rgrad.tensor([1.0, 2])),
            RuntimeError,
            "only supports a 0-dimensional value tensor, but got tensor with 1 dimension",
        ),
        (
            lambda: rgrad.zeros(3, 2).index_fill(2, rgrad.tensor([0]), 1.0),
            IndexError,
            "Dimension out of range",
        ),
        (lambda: rgrad.zeros(3).fill_diagonal_(1.0), RuntimeError, "dimensions must larger than 1"),
        (
            lambda: rgrad.zeros(3, 3, 2).fill_diagonal_(1.0),
            RuntimeError,
            "all dimensions of input must be of equal length",
        ),
    ],
)
def test_index_errors(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


def test_fill_diagonal_wrap_and_cube():
    assert rgrad.zeros(3, 4).fill_diagonal_(1.0, wrap=True).tolist() == np.eye(3, 4).tolist()
    tall = rgrad.zeros(7, 3).fill_diagonal_(1.0, wrap=True).tolist()
    assert tall == np.vstack([np.eye(3), np.zeros((1, 3)), np.eye(3)]).tolist()
    assert (
        rgrad.zeros(7, 3).fill_diagonal_(1.0).tolist()
        == np.vstack([np.eye(3), np.zeros((4, 3))]).tolist()
    )
    c = rgrad.ones(3, 3, 3).fill_diagonal_(0.0)
    assert c.sum().item() == 24.0 and c[1, 1, 1].item() == 0.0 and c[1, 1, 0].item() == 1.0
    x = rgrad.ones(3, 3, dtype=F64, requires_grad=True)
    y = x.clone()
    y.fill_diagonal_(2.0)
    y.sum().backward()
    assert x.grad.tolist() == (1 - np.eye(3)).tolist()


# ---- gradcheck in float64 -------------------------------------------------------------------


def _rand(*shape, seed=0):
    g = np.random.default_rng(seed)
    # distinct values: no ties for the running extremes
    return rgrad.tensor(
        g.permutation(np.prod(shape)).reshape(shape) * 0.37 - 1.1, dtype=F64, requires_grad=True
    )


@pytest.mark.parametrize(
    "name, fn, shapes",
    [
        ("cummax", lambda x: x.cummax(1).values, [(3, 4)]),
        ("cummin", lambda x: rgrad.cummin(x, 0).values, [(3, 4)]),
        ("logcumsumexp", lambda x: rgrad.logcumsumexp(x, 1), [(2, 5)]),
        ("logcumsumexp_dim0", lambda x: x.logcumsumexp(0), [(4, 2)]),
        ("unfold_overlap", lambda x: x.unfold(1, 3, 2), [(2, 7)]),
        ("unfold_dim0", lambda x: x.unfold(0, 2, 1), [(3, 2)]),
        (
            "index_add",
            lambda x, s: x.index_add(1, rgrad.tensor([2, 0, 2]), s, alpha=1.5),
            [(2, 4), (2, 3)],
        ),
        ("index_copy", lambda x, s: x.index_copy(0, rgrad.tensor([3, 1]), s), [(4, 2), (2, 2)]),
        ("index_fill", lambda x: x.index_fill(1, rgrad.tensor([0, -1]), -2.0), [(3, 3)]),
        ("fill_diagonal_", lambda x: x.clone().fill_diagonal_(3.0, wrap=True), [(5, 2)]),
    ],
)
def test_gradcheck(name, fn, shapes):
    inputs = [_rand(*s, seed=i) for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)
    if name in ("logcumsumexp", "unfold_overlap", "index_add"):
        assert gradgradcheck(fn, inputs)


# ---- multinomial ------------------------------------------------------------------------------


def test_multinomial_seeded_and_distributed():
    w = rgrad.tensor([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 1.0, 1.0]])
    rgrad.manual_seed(123)
    a = rgrad.multinomial(w, 2000, replacement=True)
    rgrad.manual_seed(123)
    b = w.multinomial(2000, True)
    assert a.dtype == rgrad.int64 and a.shape == (2, 2000)
    assert a.tolist() == b.tolist()
    counts = np.bincount(a[0].numpy(), minlength=4) / 2000
    assert counts[1] == 0.0  # a zero weight is never drawn
    np.testing.assert_allclose(counts, [0.1, 0.0, 0.6, 0.3], atol=0.04)
    np.testing.assert_allclose(np.bincount(a[1].numpy(), minlength=4) / 2000, [0.25] * 4, atol=0.04)
    # without replacement: distinct, zero weights last, reproducible
    rgrad.manual_seed(5)
    c = rgrad.multinomial(w, 4)
    rgrad.manual_seed(5)
    assert rgrad.multinomial(w, 4).tolist() == c.tolist()
    assert all(sorted(r) == [0, 1, 2, 3] for r in c.tolist()) and c[0, 3].item() == 1
    assert rgrad.multinomial(rgrad.tensor([1.0, 0.0]), 2).tolist() == [0, 1]
    # 1-d input, float64, empty batch
    assert rgrad.multinomial(rgrad.ones(5, dtype=F64), 3).shape == (3,)
    assert rgrad.multinomial(rgrad.ones(0, 2), 1).shape == (0, 1)


def test_multinomial_first_draw_follows_weights():
    """Without replacement the first pick is a draw from the weights."""
    rgrad.manual_seed(0)
    w = rgrad.tensor([[1.0, 2.0, 7.0]]).expand(3000, 3)
    first = rgrad.multinomial(w, 2)[:, 0].numpy()
    np.testing.assert_allclose(np.bincount(first, minlength=3) / 3000, [0.1, 0.2, 0.7], atol=0.03)


def test_multinomial_generator_object():
    g = rgrad.Generator().manual_seed(7)
    a = rgrad.multinomial(rgrad.ones(3, 10), 4, generator=g)
    g.manual_seed(7)
    b = rgrad.multinomial(rgrad.ones(3, 10), 4, generator=g)
    assert a.tolist() == b.tolist()
    g.manual_seed(7)
    c = rgrad.ones(3, 10).multinomial(6, replacement=True, generator=g)
    assert c.shape == (3, 6) and 0 <= c.min().item() and c.max().item() < 10


@pytest.mark.parametrize(
    "args, msg",
    [
        (([1, 2], 1), "multinomial only supports floating-point dtypes for input, got: Long"),
        (([1.0, -2.0], 1), "probability tensor contains either `inf`, `nan` or element < 0"),
        (([1.0, nan], 1), "probability tensor contains either `inf`, `nan` or element < 0"),
        (([1.0, inf], 1, True), "probability tensor contains either `inf`, `nan` or element < 0"),
        (([0.0, 0.0], 1), r"invalid multinomial distribution \(sum of probabilities <= 0\)"),
        (([0.0, 0.0], 1, True), r"invalid multinomial distribution \(sum of probabilities <= 0\)"),
        (
            ([1.0, 1.0], 3),
            r"cannot sample n_sample > prob_dist.size\(-1\) samples without replacement",
        ),
        (([1.0, 1.0], 0), r"cannot sample n_sample <= 0 samples"),
        (([1.0, 1.0], -1, True), r"cannot sample n_sample <= 0 samples"),
        ((1.0, 1), "prob_dist must be 1 or 2 dim"),
        (([[[1.0]]], 1), "prob_dist must be 1 or 2 dim"),
        (
            ([[1.0, 1.0], [0.0, 0.0]], 1, True),
            r"invalid multinomial distribution \(sum of probabilities <= 0\)",
        ),
    ],
)
def test_multinomial_errors(args, msg):
    data, *rest = args
    with pytest.raises(RuntimeError, match=msg):
        rgrad.multinomial(rgrad.tensor(data), *rest)


# ---- wgpu against the CPU ----------------------------------------------------------------------

WGPU = pytest.mark.skipif(
    os.environ.get("RGRAD_REQUIRE_WGPU") != "1" and not rgrad.wgpu.is_available(),
    reason="no wgpu adapter",
)

DEVICE_ROWS = [
    ("cummax", lambda x: x.cummax(1).values, lambda x: x.cummax(1).indices),
    ("cummin", lambda x: x.cummin(0).values, lambda x: x.cummin(0).indices),
    ("logcumsumexp", lambda x: x.logcumsumexp(1), None),
    ("unfold", lambda x: x.unfold(1, 2, 1) * 2.0, None),
    (
        "index_add",
        lambda x: x.index_add(0, rgrad.tensor([2, 0], device=x.device), x[:2] * 3.0, alpha=2),
        None,
    ),
    (
        "index_copy",
        lambda x: x.index_copy(1, rgrad.tensor([1], device=x.device), x[:, :1] + 1.0),
        None,
    ),
    ("index_fill", lambda x: x.index_fill(1, rgrad.tensor([0, -1], device=x.device), -7.0), None),
    ("fill_diagonal_", lambda x: (x * 1.0).fill_diagonal_(4.0), None),
]


@pytest.mark.wgpu
@WGPU
@pytest.mark.parametrize("name, fn, ix", DEVICE_ROWS, ids=[r[0] for r in DEVICE_ROWS])
def test_wgpu_matches_cpu(name, fn, ix):
    data = [[1.0, nan, 3.0, 3.0], [2.0, -1.0, inf, 0.5], [0.0, 2.0, -inf, 2.0]]
    if name not in ("cummax", "cummin"):
        data = [[1.0, 0.5, 3.0, 3.0], [2.0, -1.0, 1.5, 0.5], [0.0, 2.0, -4.0, 2.0]]
    xc = rgrad.tensor(data, requires_grad=True)
    xg = rgrad.tensor(data, device="wgpu", requires_grad=True)
    oc, og = fn(xc), fn(xg)
    assert str(og.device).startswith("wgpu")
    np.testing.assert_allclose(
        og.detach().cpu().numpy(), oc.detach().numpy(), rtol=1e-6, equal_nan=True
    )
    if ix is not None:
        assert ix(xg).cpu().tolist() == ix(xc).tolist()
    if name not in ("cummax", "cummin"):
        cot = rgrad.arange(float(oc.numel())).reshape(oc.shape) / 7.0
        (oc * cot).sum().backward()
        (og * cot.to("wgpu")).sum().backward()
        np.testing.assert_allclose(xg.grad.cpu().numpy(), xc.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.wgpu
@WGPU
def test_wgpu_multinomial_matches_cpu_for_a_seed():
    w = rgrad.tensor([[0.2, 0.0, 0.8], [1.0, 1.0, 1.0]])
    rgrad.manual_seed(11)
    c = rgrad.multinomial(w, 5, True)
    rgrad.manual_seed(11)
    g = rgrad.multinomial(w.to("wgpu"), 5, True)
    assert str(g.device).startswith("wgpu") and g.cpu().tolist() == c.tolist()


@pytest.mark.wgpu
@WGPU
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_wgpu_device_scans_match_cpu_with_nan_inf_and_ties(dim):
    # float32 extremes and logcumsumexp run in gpu/scan.rs: NaN takes over and moves the
    # index, ties take the later index, equal infinities stay exact.
    data = [
        [[1.0, nan, 3.0, 3.0, -inf], [inf, inf, 0.0, -1.0, -1.0]],
        [[nan, nan, 2.0, 2.0, 5.0], [-inf, -inf, -inf, 1.0, inf]],
    ]
    xc = rgrad.tensor(data)
    for xg in (xc.to("wgpu"), xc.transpose(0, 2).contiguous().to("wgpu").transpose(0, 2)):
        for name in ("cummax", "cummin"):
            vc, ic = getattr(xc, name)(dim)
            vg, ig = getattr(xg, name)(dim)
            assert str(vg.device).startswith("wgpu") and ig.dtype == rgrad.int64
            same(vg.cpu().tolist(), vc.tolist())
            assert ig.cpu().tolist() == ic.tolist()
        lc, lg = xc.logcumsumexp(dim), xg.logcumsumexp(dim)
        assert str(lg.device).startswith("wgpu")
        np.testing.assert_allclose(lg.cpu().numpy(), lc.numpy(), rtol=1e-6, equal_nan=True)


@pytest.mark.wgpu
@WGPU
def test_wgpu_int32_extremes_and_cummax_gradient():
    xi = rgrad.tensor([[3, 1, 3, 0], [-2, 5, 5, -7]], dtype=rgrad.int32)
    for name in ("cummax", "cummin"):
        vc, ic = getattr(xi, name)(1)
        vg, ig = getattr(xi.to("wgpu"), name)(1)
        assert vg.dtype == rgrad.int32
        assert vg.cpu().tolist() == vc.tolist() and ig.cpu().tolist() == ic.tolist()
    xc = rgrad.tensor([[1.0, 3.0, 3.0, 2.0], [4.0, 0.0, 5.0, 5.0]], requires_grad=True)
    xg = rgrad.tensor(xc.tolist(), device="wgpu", requires_grad=True)
    cot = rgrad.arange(8.0).reshape(2, 4)
    (xc.cummax(1).values * cot).sum().backward()
    (xg.cummax(1).values * cot.to("wgpu")).sum().backward()
    assert xg.grad.cpu().tolist() == xc.grad.tolist()
