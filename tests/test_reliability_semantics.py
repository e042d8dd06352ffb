"""Issue 11, items 4, 12 and 16: hostile data for ``tensor()``, invalid values refused as
PyTorch refuses them, and the autograd semantics left from the tensor-API issue. Every
expected message is PyTorch's (2.x), checked against PyTorch itself."""

import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgrad
from rgrad import nn

# ---- item 4: tensor() on hostile data -------------------------------------------------------


def nested(depth, leaf=1.0):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def run_isolated(code):
    """Runs ``code`` in a fresh interpreter, so a crash fails the test instead of pytest."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    return proc.stdout


def test_tensor_of_absurdly_deep_or_self_referential_lists_is_refused():
    # Before: a segfault (Rust recursion) and a loop that grew until memory ran out.
    out = run_isolated(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        import rgrad
        deep = 1.0
        for _ in range(100_000):
            deep = [deep]
        selfref = []
        selfref.append(selfref)
        for data in (deep, selfref):
            try:
                rgrad.tensor(data)
            except ValueError as e:
                print(type(e).__name__, e)
        """
    )
    assert out.splitlines() == ["ValueError too many dimensions 'list'"] * 2


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=400))
def test_tensor_nesting_depth_is_bounded_like_pytorch(depth):
    data = nested(depth)
    if depth > 128:
        with pytest.raises(ValueError, match=r"^too many dimensions 'list'$"):
            rgrad.tensor(data)
    elif depth <= 64:
        t = rgrad.tensor(data)
        assert t.shape == (1,) * depth and t.item() == 1.0


HOSTILE_DATA = [
    ([[1, 2], [3]], ValueError, "expected sequence of length 2 at dim 1 (got 1)"),
    ([[1, 2], 3], TypeError, "not a sequence"),
    ([1, [2, 3]], TypeError, "'list' object cannot be interpreted as an integer"),
    ([1, "a"], TypeError, "new(): invalid data type 'str'"),
    ("abc", TypeError, "new(): invalid data type 'str'"),
    (["abc"], ValueError, "too many dimensions 'str'"),
    (b"abc", TypeError, "new(): invalid data type 'bytes'"),
    ([b"abc"], TypeError, "new(): invalid data type 'bytes'"),
    ((x for x in range(3)), RuntimeError, "Could not infer dtype of generator"),
    (iter([1, 2]), RuntimeError, "Could not infer dtype of list_iterator"),
    ([None], RuntimeError, "Could not infer dtype of NoneType"),
    (None, RuntimeError, "Could not infer dtype of NoneType"),
    ({1: 2}, RuntimeError, "Could not infer dtype of dict"),
    ([2**63], ValueError, "Overflow when unpacking long long"),
    (-(2**63) - 1, ValueError, "Overflow when unpacking long long"),
    ([[1], [2, 3]], ValueError, "expected sequence of length 1 at dim 1 (got 2)"),
    ([np.array(2**40)], TypeError, "len() of unsized object"),
    (np.array([1, "a"], dtype=object), TypeError, "can't convert np.ndarray of type numpy.object_"),
    (np.array(["a"]), TypeError, "can't convert np.ndarray of type numpy.str_"),
    (np.uint64(2**64 - 1), TypeError, "an integer is required"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "exc", "msg"), HOSTILE_DATA)
def test_tensor_of_bad_data_raises_pytorchs_error(data, exc, msg):
    with pytest.raises(exc) as info:
        rgrad.tensor(data)
    assert str(info.value).startswith(msg)


@pytest.mark.parametrize(
    ("data", "dtype", "exc", "msg"),
    [
        ([None], rgrad.float32, TypeError, "must be real number, not NoneType"),
        ([1, [2]], rgrad.float32, TypeError, "must be real number, not list"),
        ([None], rgrad.int64, TypeError, "'NoneType' object cannot be interpreted as an integer"),
        ([2**64], rgrad.int64, ValueError, "Overflow when unpacking long long"),
        ([2**1030], rgrad.float32, OverflowError, "int too large to convert to float"),
    ],
)
def test_tensor_store_errors_with_a_dtype(data, dtype, exc, msg):
    with pytest.raises(exc, match=re.escape(msg)):
        rgrad.tensor(data, dtype=dtype)


@pytest.mark.parametrize(
    ("data", "exc", "msg"),
    [
        # PyTorch infers the dtype of every element before it stores any: an element of no
        # dtype is reported before a ragged row, and the store's message names the dtype.
        ([[1, 2], [3], "a"], TypeError, "new(): invalid data type 'str'"),
        ([[1, 2], [3], None], RuntimeError, "Could not infer dtype of NoneType"),
        ([1, 2**70], ValueError, "Overflow when unpacking long long"),
        ([1.5, 2**1030], OverflowError, "int too large to convert to float"),
        ([[1, 2], [3, [4]], 1.5], TypeError, "must be real number, not list"),
    ],
)
def test_tensor_reports_the_error_pytorch_reports_first(data, exc, msg):
    with pytest.raises(exc, match=re.escape(msg)):
        rgrad.tensor(data)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=3).flatmap(
        lambda shape: st.tuples(
            st.just(shape),
            st.lists(
                st.one_of(st.integers(-(2**40), 2**40), st.floats(-1e6, 1e6), st.booleans()),
                min_size=int(np.prod(shape)),
                max_size=int(np.prod(shape)),
            ),
        )
    )
)
def test_tensor_of_nested_lists_keeps_values_and_infers_the_promoted_dtype(case):
    shape, flat = case
    data = np.array(flat, dtype=object).reshape(shape).tolist()
    t = rgrad.tensor(data)
    kinds = {type(v) for v in flat}
    expected = rgrad.float32 if float in kinds else rgrad.int64 if int in kinds else rgrad.bool
    assert t.dtype == expected and tuple(t.shape) == tuple(shape)
    if expected != rgrad.float32:
        assert t.tolist() == data


def test_tensor_accepts_what_pytorch_accepts():
    assert rgrad.tensor([2**64], dtype=rgrad.float32).item() == pytest.approx(1.8446744e19)
    assert rgrad.tensor([2**64, 1.5]).dtype == rgrad.float32
    assert rgrad.tensor([[], [1]]).shape == (2, 0)
    assert rgrad.tensor([np.float64(1.5), 2.0]).dtype == rgrad.float64
    assert rgrad.tensor([np.int32(1), np.int32(2)]).dtype == rgrad.int32
    assert rgrad.tensor([np.int32(1), 2]).dtype == rgrad.int64
    assert rgrad.tensor([np.array([1, 2]), np.array([3, 4])]).tolist() == [[1, 2], [3, 4]]
    assert rgrad.tensor(bytearray(b"ab")).tolist() == [97, 98]
    assert rgrad.tensor([True, 2.5]).dtype == rgrad.float32


# ---- item 12: invalid values refused -------------------------------------------------------

OVERFLOW = "value cannot be converted to type {} without overflow"


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        ([2**40], rgrad.int32),
        (2**40, rgrad.int32),
        ([1.0, 2**40], rgrad.int32),
        ([1e10], rgrad.int32),
        ([float("nan")], rgrad.int32),
        ([1e20], rgrad.int64),
        ([-1e20], rgrad.int64),
        ([float("inf")], rgrad.int64),
        (np.float64("nan"), rgrad.int64),
        ([np.int64(2**40)], rgrad.int32),
    ],
)
def test_tensor_values_that_do_not_fit_the_dtype_are_refused(data, dtype):
    # Before: silently wrapped or saturated ([2**40] as int32 was [0]).
    name = repr(dtype)[len("rgrad.") :]
    with pytest.raises(RuntimeError, match=re.escape(OVERFLOW.format(name))):
        rgrad.tensor(data, dtype=dtype)


def test_uint64_arrays_past_int64_are_refused_not_wrapped():
    with pytest.raises(RuntimeError, match=re.escape(OVERFLOW.format("int64"))):
        rgrad.tensor(np.array([2**64 - 1], dtype=np.uint64))
    assert rgrad.tensor(np.array([7], dtype=np.uint64)).tolist() == [7]


P_IN = "Expected p_in >= 0 && p_in <= 1 to be true, but got false."
STD = "normal expects std >= 0.0, but found std "
P01 = "bernoulli_ expects p to be in [0, 1], but got p="
GEO = "geometric_ expects p to be in (0, 1), but got p="
LAMBDA = "exponential_ expects lambda > 0.0, but found lambda="
NAN = float("nan")


def order(low, high):
    return f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"


E3 = rgrad.empty  # short: the table below calls it on every line

SAMPLER_CASES = [
    (lambda: rgrad.normal(0, -1, (3,)), STD + "-1"),
    (lambda: rgrad.normal(0, NAN, (3,)), STD + "nan"),
    (lambda: rgrad.normal(rgrad.zeros(3), -1.0), STD + "-1"),
    (lambda: rgrad.normal(0.0, rgrad.tensor([-1.0, 1])), "normal expects all elements of std"),
    (lambda: E3(3).normal_(0, -1), STD + "-1"),
    (lambda: E3(3).uniform_(5, 1), "uniform_ expects to return a [from, to) range, but found "
     "from=5 > to=1"),
    (lambda: E3(3).uniform_(0, float("inf")), "to is out of bounds for float"),
    (lambda: E3(3).uniform_(NAN, 1), "from is out of bounds for float"),
    (lambda: rgrad.bernoulli(rgrad.tensor([NAN])), P_IN),
    (lambda: rgrad.bernoulli(rgrad.tensor([1.5])), P_IN),
    (lambda: rgrad.bernoulli(rgrad.zeros(3), NAN), P01 + "nan"),
    (lambda: rgrad.zeros(3).bernoulli_(1.5), P01 + "1.5"),
    (lambda: rgrad.zeros(3).bernoulli_(rgrad.tensor([NAN, 0, 0])), P_IN),
    (lambda: rgrad.randint(5, 1, (3,)), order(5, 1)),
    (lambda: rgrad.randint(0, (3,)), order(0, 0)),
    (lambda: rgrad.multinomial(rgrad.tensor([-1.0, 2]), 1), "probability tensor contains "
     "either `inf`, `nan` or element < 0"),
    (lambda: E3(3).exponential_(-1), LAMBDA + "-1"),
    (lambda: E3(3).exponential_(NAN), LAMBDA + "nan"),
    (lambda: E3(3).geometric_(0), GEO + "0"),
    (lambda: E3(3).geometric_(1.5), GEO + "1.5"),
    (lambda: E3(3).log_normal_(0, -1), "log_normal_ expects std > 0.0, but found std=-1"),
    (lambda: E3(3).cauchy_(0, -1), "cauchy_ expects sigma > 0.0, but found sigma=-1"),
    (lambda: E3(3).random_(5, 1), order(5, 1)),
    (lambda: E3(3).random_(0), order(0, 0)),
    (lambda: E3(3).random_(-3), order(0, -3)),
    (lambda: E3(3, dtype=rgrad.int32).random_(0, 2**40), "to - 1 is out of bounds for int"),
    (lambda: rgrad.randperm(-1), "Trying to create tensor with negative dimension -1: [-1]"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "msg"), SAMPLER_CASES)
def test_samplers_refuse_invalid_parameters(call, msg):
    with pytest.raises(RuntimeError) as info:
        call()
    assert str(info.value).startswith(msg)


def test_sampler_values_within_their_laws():
    g = rgrad.empty(2000).geometric_(0.5)
    assert g.min().item() >= 1 and abs(g.mean().item() - 2.0) < 0.2
    assert rgrad.empty(1000).log_normal_(0, 0.5).min().item() > 0
    r = rgrad.empty(1000, dtype=rgrad.int64).random_(3)
    assert set(r.unique().tolist()) <= {0, 1, 2}


def test_python_scalar_conversions_follow_python_and_pytorch():
    with pytest.raises(ValueError, match="^cannot convert float NaN to integer$"):
        int(rgrad.tensor(float("nan")))
    with pytest.raises(OverflowError, match="^cannot convert float infinity to integer$"):
        int(rgrad.tensor(float("inf")))
    assert int(rgrad.tensor(1e20)) == 100000002004087734272  # the float32 value, exactly
    assert int(rgrad.tensor(1e20, dtype=rgrad.float64)) == 10**20
    one = "^only one element tensors can be converted to Python scalars$"
    for conv in (int, float, complex):
        with pytest.raises(ValueError, match=one):
            conv(rgrad.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=one):
        int(rgrad.tensor([]))
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        bool(rgrad.tensor([1.0, 2.0]))


def test_legacy_tensor_constructor_is_float32():
    assert rgrad.Tensor(3).dtype == rgrad.float32 and rgrad.Tensor(3).shape == (3,)
    assert rgrad.Tensor(2, 3).shape == (2, 3)
    assert rgrad.Tensor(rgrad.Size([2, 3])).shape == (2, 3)
    t = rgrad.Tensor([1, 2])
    assert t.dtype == rgrad.float32 and t.tolist() == [1.0, 2.0]
    assert rgrad.Tensor((1, 2)).dtype == rgrad.float32
    assert rgrad.Tensor().shape == (0,)
    assert rgrad.Tensor(rgrad.tensor([1, 2])).dtype == rgrad.int64
    with pytest.raises(TypeError, match=re.escape("new(): data must be a sequence (got float)")):
        rgrad.Tensor(2.5)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        rgrad.Tensor(-1)
    p = nn.Parameter(rgrad.ones(2))
    assert p.requires_grad and isinstance(p, nn.Parameter)


OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation."
)


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.exp_(),
        lambda t: t.neg_(),
        lambda t: t.abs_(),
        lambda t: t.sqrt_(),
        lambda t: t.sigmoid_(),
        lambda t: t.relu_(),
        lambda t: t.tanh_(),
        lambda t: t.floor_(),
        lambda t: t.clamp_(0, 1),
        lambda t: t.pow_(2),
        lambda t: t.normal_(),
        lambda t: t.uniform_(),
        lambda t: t.scatter_(0, rgrad.tensor([0]), rgrad.tensor([5.0])),
        lambda t: t.add_(1),
    ],
)
def test_inplace_ops_on_expanded_tensors_refuse(op):
    with pytest.raises(RuntimeError, match=re.escape(OVERLAP)):
        op(rgrad.ones(1).expand(3))


def test_writes_pytorch_allows_on_expanded_tensors():
    assert rgrad.ones(1).expand(3).fill_(2).tolist() == [2.0] * 3
    assert rgrad.ones(1).expand(3).zero_().tolist() == [0.0] * 3
    t = rgrad.ones(1).expand(3)
    t[0] = 5.0
    assert t.tolist() == [5.0] * 3
    assert rgrad.ones(1).expand(3).clone().exp_().shape == (3,)


def test_clamp_bounds_promote_and_inplace_refuses_what_it_cannot_hold():
    i64 = rgrad.ones(3, dtype=rgrad.int64)
    for call in (
        lambda: i64.clamp_max_(1.5),
        lambda: i64.clamp_min_(0.5),
        lambda: i64.clamp_(0.5, 2),
    ):
        with pytest.raises(
            RuntimeError,
            match="^result type Float can't be cast to the desired output type long int$",
        ):
            call()
    with pytest.raises(RuntimeError, match="desired output type int$"):
        rgrad.ones(3, dtype=rgrad.int32).clamp_(0.5)
    with pytest.raises(
        RuntimeError, match="^result type Long can't be cast to the desired output type bool$"
    ):
        rgrad.ones(3, dtype=rgrad.bool).clamp_max_(1)
    with pytest.raises(RuntimeError, match="desired output type Int$"):
        rgrad.ones(3, dtype=rgrad.int32).clamp_max_(rgrad.tensor(1.5))
    assert i64.clamp(0.5, 2).dtype == rgrad.float32
    assert i64.clamp_max(1.5).tolist() == [1.0, 1.0, 1.0]
    assert rgrad.ones(3, dtype=rgrad.int32).clamp(0, 2).dtype == rgrad.int32
    assert i64.clamp_(0, 2).dtype == rgrad.int64


# ---- item 16: autograd semantics -----------------------------------------------------------


def x3():
    return rgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)


def test_view_made_before_an_inplace_change_of_its_base_regenerates_its_history():
    x = x3()
    y = x * 1
    v = y[1:]
    y.mul_(2)
    v.sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 2.0]  # before: [0, 1, 1]
    # a view of a view, base changed through a third view
    x = x3()
    y = x * 1
    v = y[1:]
    w = v[1:]
    y[0:2].mul_(3)
    (w * 1 + v.sum()).sum().backward()
    assert x.grad.tolist() == [0.0, 3.0, 2.0]
    # a view changed in place: its sibling view sees it
    x = x3()
    y = x * 1
    v, u = y[:2], y[1:]
    u.mul_(5)
    (v * rgrad.tensor([1.0, 10.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 50.0, 0.0]


def test_retained_grad_follows_the_inplace_version():
    x = x3()
    y = x * 1
    y.retain_grad()
    y.add_(1)
    y.mul_(2)
    (y * 3).sum().backward()
    assert y.grad.tolist() == [3.0, 3.0, 3.0]  # before: [6, 6, 6] (the old version's grad)
    assert x.grad.tolist() == [6.0, 6.0, 6.0]


def test_backward_inputs_accumulates_only_into_them():
    x, w = x3(), x3()
    y = x * 2
    z = (y * w).sum()
    z.backward(inputs=[y], retain_graph=True)
    assert x.grad is None and w.grad is None and y.grad.tolist() == [1.0, 2.0, 3.0]
    z.backward(inputs=w, retain_graph=True)
    assert x.grad is None and w.grad.tolist() == [2.0, 4.0, 6.0]
    unused = rgrad.ones(2, requires_grad=True)
    z.backward(inputs=[unused], retain_graph=True)
    assert unused.grad is None
    with pytest.raises(
        RuntimeError, match=re.escape("`inputs` argument to `backward()` cannot be empty.")
    ):
        z.backward(inputs=[])
    with pytest.raises(
        RuntimeError, match="^can't retain_grad on Tensor that has requires_grad=False$"
    ):
        z.backward(inputs=[x.detach()])
    rgrad.autograd.backward([z, (x * 3).sum()], inputs=[x])
    assert x.grad.tolist() == [5.0, 7.0, 9.0]  # 2 * w + 3


def test_autograd_backward_runs_one_pass_from_every_root():
    x = x3()
    y = x * x
    rgrad.autograd.backward([y.sum(), y[0]], grad_tensors=[rgrad.tensor(1.0), rgrad.tensor(10.0)])
    assert x.grad.tolist() == [22.0, 4.0, 6.0]


def test_is_inference():
    x = x3()
    assert not rgrad.ones(1).is_inference() and not x.is_inference()
    with rgrad.inference_mode():
        a = rgrad.ones(2)
        b = x * 2
    assert a.is_inference() and b.is_inference() and a[0].is_inference()
    assert not (a + 1).is_inference()
    with rgrad.no_grad():
        assert not rgrad.ones(1).is_inference()


def test_full_backward_hooks_on_modules():
    lin = nn.Linear(3, 2)
    seen = []
    h = lin.register_full_backward_hook(
        lambda m, gi, go: seen.append(
            (m, [tuple(g.shape) for g in gi], [tuple(g.shape) for g in go])
        )
    )
    inp = rgrad.ones(4, 3, requires_grad=True)
    lin(inp).sum().backward()
    assert seen == [(lin, [(4, 3)], [(4, 2)])]
    h.remove()
    h = lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    inp.grad = None
    lin(inp).sum().backward()
    assert inp.grad.abs().sum().item() == 0.0
    h.remove()
    lin.weight.grad = None
    h = lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 10,))
    lin(inp).sum().backward()
    assert lin.weight.grad.tolist() == [[40.0] * 3] * 2
    h.remove()
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but expected 1"):
        lin(inp).sum().backward()


def test_full_backward_hook_when_no_input_requires_grad():
    class Two(nn.Module):
        def forward(self, a, k, b):
            return a * k, b * 2

    got = []
    m = Two()
    m.register_full_backward_hook(lambda mod, gi, go: got.append((gi, go)))
    a = rgrad.ones(2, requires_grad=True)
    o1, _ = m(a, 3.0, rgrad.ones(3))
    o1.sum().backward()
    (gi, go) = got[0]
    assert gi[0].tolist() == [3.0, 3.0] and gi[1] is None and go[1] is None
    lin = nn.Linear(3, 2)
    calls = []
    lin.register_full_backward_hook(lambda mod, gi, go: calls.append(gi))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        lin(rgrad.ones(4, 3)).sum().backward()
    assert calls == [(None,)]


# ---- out= -------------------------------------------------------------------------------

OUT_CASES = [
    ("add", lambda x: (x, x)),
    ("sub", lambda x: (x, 1.0)),
    ("mul", lambda x: (x, 2.0)),
    ("div", lambda x: (x, 2.0)),
    ("exp", lambda x: (x,)),
    ("log", lambda x: (x,)),
    ("sqrt", lambda x: (x,)),
    ("tanh", lambda x: (x,)),
    ("neg", lambda x: (x,)),
    ("matmul", lambda x: (x.reshape(2, 2), x.reshape(2, 2))),
    ("mm", lambda x: (x.reshape(2, 2), x.reshape(2, 2))),
    ("bmm", lambda x: (x.reshape(1, 2, 2), x.reshape(1, 2, 2))),
    ("sum", lambda x: (x, 0)),
    ("mean", lambda x: (x, 0)),
    ("cat", lambda x: ([x, x],)),
    ("stack", lambda x: ([x, x],)),
    ("clamp", lambda x: (x, 1.5, 3.0)),
    ("where", lambda x: (x > 2, x, -x)),
    ("maximum", lambda x: (x, x.flip(0))),
]


@pytest.mark.parametrize(("name", "make_args"), OUT_CASES, ids=[c[0] for c in OUT_CASES])
def test_out_keyword_writes_into_out_and_returns_it(name, make_args):
    x = rgrad.tensor([1.0, 2.0, 3.0, 4.0])
    fn = getattr(rgrad, name)
    expected = fn(*make_args(x))
    out = rgrad.empty(0)
    assert fn(*make_args(x), out=out) is out
    assert out.shape == expected.shape and out.tolist() == expected.tolist()
    same = rgrad.empty(tuple(expected.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no resize warning when the shape matches
        fn(*make_args(x), out=same)
    assert same.tolist() == expected.tolist()


def test_out_keyword_checks_as_pytorch():
    x = rgrad.ones(3)
    with pytest.warns(
        UserWarning, match=r"had shape \[2\], which does not match the required output shape \[3\]"
    ):
        rgrad.add(x, x, out=rgrad.empty(2))
    with pytest.raises(
        RuntimeError, match="^result type Float can't be cast to the desired output type Long$"
    ):
        rgrad.add(x, x, out=rgrad.empty(3, dtype=rgrad.int64))
    assert rgrad.add(x, 1, out=rgrad.empty(3, dtype=rgrad.float64)).dtype == rgrad.float64
    msg = (
        "add(): functions with out=... arguments don't support automatic differentiation, but "
        "one of the arguments requires grad."
    )
    with pytest.raises(RuntimeError, match=re.escape(msg)):
        rgrad.add(x.requires_grad_(), x, out=rgrad.empty(3))
    with rgrad.no_grad():
        assert rgrad.add(x, x, out=rgrad.empty(3)).tolist() == [2.0] * 3
    with pytest.raises(RuntimeError, match=re.escape(msg)):
        rgrad.add(rgrad.ones(3), 1, out=rgrad.empty(3, requires_grad=True))
    y = rgrad.ones(3)
    with pytest.raises(
        RuntimeError, match="some elements of the input tensor and the written-to tensor"
    ):
        rgrad.add(y, y, out=y[:2])
    assert rgrad.neg(y, out=y) is y and y.tolist() == [-1.0] * 3
    assert rgrad.exp(y, out=None).shape == (3,)


def test_out_keyword_on_factories_uses_outs_dtype():
    out = rgrad.empty(6, dtype=rgrad.int64)
    with pytest.warns(UserWarning):
        assert rgrad.zeros(2, 3, out=out) is out
    assert out.shape == (2, 3) and out.dtype == rgrad.int64
    assert rgrad.arange(5, out=rgrad.empty(0, dtype=rgrad.int32)).tolist() == [0, 1, 2, 3, 4]
    assert rgrad.full((2,), 1.5, out=rgrad.empty(2, dtype=rgrad.int64)).tolist() == [1, 1]
    assert rgrad.ones(2, out=rgrad.empty(2)).tolist() == [1.0, 1.0]
    with pytest.raises(
        RuntimeError, match=re.escape("dtype Float does not match dtype of out parameter (Long)")
    ):
        rgrad.zeros(2, out=rgrad.empty(2, dtype=rgrad.int64), dtype=rgrad.float32)
