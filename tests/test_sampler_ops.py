"""The samplers as core ops: autograd (no gradient through ``normal``'s tensors, a zero-gradient
node for an in-place sampler on a tensor with history), the version counter, a refused call
leaving the generator where it was, and no Rust panic for any argument (NaN, infinities,
empty and 0-d tensors, huge sizes). The numbers themselves are pinned in
test_sampler_streams.py."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgrad as torch


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


IN_PLACE = {
    "bernoulli_": ("BernoulliBackward2", lambda t, g: t.bernoulli_(0.3, generator=g)),
    "bernoulli_tensor": (
        "BernoulliBackward1",
        lambda t, g: t.bernoulli_(torch.full((4,), 0.5), generator=g),
    ),
    "exponential_": ("ExponentialBackward0", lambda t, g: t.exponential_(generator=g)),
    "geometric_": ("GeometricBackward0", lambda t, g: t.geometric_(0.5, generator=g)),
    "log_normal_": ("LogNormalBackward0", lambda t, g: t.log_normal_(generator=g)),
    "cauchy_": ("CauchyBackward0", lambda t, g: t.cauchy_(generator=g)),
    "random_": ("RandomBackward0", lambda t, g: t.random_(0, 9, generator=g)),
    "uniform_": ("UniformBackward0", lambda t, g: t.uniform_(generator=g)),
    "normal_": ("NormalBackward0", lambda t, g: t.normal_(generator=g)),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_sampler_on_history_has_zero_gradient(name):
    node, sample = IN_PLACE[name]
    x = torch.ones(3, 4, requires_grad=True)
    y = x * 2
    assert sample(y, _gen()) is y
    assert type(y.grad_fn).__name__ == node
    (y * x).sum().backward()
    # d/dx of (sample * x): the sample (the node stops the gradient through y's old value).
    assert x.grad.tolist() == y.detach().tolist()


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_sampler_bumps_the_version_and_refuses_a_leaf(name):
    _, sample = IN_PLACE[name]
    t = torch.zeros(3, 4)
    v = t._version
    sample(t, _gen())
    assert t._version == v + 1
    leaf = torch.zeros(3, 4, requires_grad=True)
    g = _gen(1)
    state = g.get_state().tolist()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        sample(leaf, g)
    assert g.get_state().tolist() == state  # refused before drawing
    with torch.no_grad():
        sample(leaf, g)
    assert not leaf.grad_fn


def test_view_of_a_tensor_with_history():
    x = torch.ones(4, 6, requires_grad=True)
    y = x * 1
    y[:, ::2].exponential_(generator=_gen())
    (y * 1).sum().backward()
    # Sampled positions get no gradient, the others keep theirs.
    assert x.grad.tolist() == [[0.0, 1.0] * 3] * 4


def test_normal_of_tensors_has_no_gradient():
    m = torch.zeros(3, requires_grad=True)
    s = torch.ones(3, requires_grad=True)
    for out in (
        torch.normal(m, s, generator=_gen()),
        torch.normal(m, 2.0, generator=_gen()),
        torch.normal(0.0, s, generator=_gen()),
    ):
        assert not out.requires_grad and out.grad_fn is None
    out = torch.normal(0.0, 1.0, (2,), requires_grad=True)
    assert out.requires_grad and out.is_leaf


def test_refusals_leave_the_generator():
    g = _gen(3)
    state = g.get_state().tolist()
    calls = [
        lambda: torch.normal(torch.zeros(2), torch.tensor([1.0, -1.0]), generator=g),
        lambda: torch.normal(torch.zeros(2), torch.ones(3), generator=g),
        lambda: torch.bernoulli(torch.tensor([0.5, math.nan]), generator=g),
        lambda: torch.zeros(2).bernoulli_(torch.tensor([2.0, 0.0]), generator=g),
        lambda: torch.zeros(2).exponential_(-1.0, generator=g),
        lambda: torch.zeros(2, dtype=torch.int32).random_(0, 2**40, generator=g),
        lambda: torch.zeros(2).uniform_(1.0, 0.0, generator=g),
        lambda: torch.zeros(1).expand(3).normal_(generator=g),
    ]
    for call in calls:
        with pytest.raises(RuntimeError):
            call()
        assert g.get_state().tolist() == state


def test_empty_and_zero_dim():
    g = _gen()
    assert torch.normal(torch.zeros(0, 3), 1.0, generator=g).shape == (0, 3)
    assert torch.normal(torch.tensor(1.0), torch.tensor(0.0), generator=g).item() == 1.0
    assert torch.bernoulli(torch.zeros(0), generator=g).shape == (0,)
    assert torch.bernoulli(torch.tensor(1.0), generator=g).item() == 1.0
    assert torch.zeros(()).random_(3, 4, generator=g).item() == 3.0
    assert torch.zeros(0).geometric_(0.5, generator=g).shape == (0,)
    assert torch.normal(0.0, 1.0, (), generator=g).shape == ()


def test_huge_sizes_are_errors_not_crashes():
    for call in (
        lambda: torch.normal(0.0, 1.0, (2**62,)),
        lambda: torch.normal(0.0, 1.0, (2**31, 2**31, 4)),
    ):
        with pytest.raises((RuntimeError, MemoryError, ValueError)):
            call()


_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
)


@settings(max_examples=60, deadline=None)
@given(a=_numbers, b=_numbers)
def test_any_number_is_a_result_or_a_python_error(a, b):
    t = torch.zeros(2, 3)[:, ::2]
    calls = [
        lambda: t.bernoulli_(a),
        lambda: t.exponential_(a),
        lambda: t.geometric_(a),
        lambda: t.log_normal_(a, b),
        lambda: t.cauchy_(a, b),
        lambda: t.uniform_(a, b),
        lambda: t.normal_(a, b),
        lambda: t.random_(a, b),
        lambda: torch.zeros(2, dtype=torch.int32).random_(a, b),
        lambda: torch.normal(a, b, (2,)),
        lambda: torch.normal(torch.zeros(2), b),
        lambda: torch.bernoulli(torch.zeros(2), a),
    ]
    for call in calls:
        try:
            call()
        except (RuntimeError, TypeError, OverflowError, ValueError):
            pass


@settings(max_examples=40, deadline=None)
@given(
    p=st.lists(st.floats(min_value=0.0, max_value=1.0, width=32), min_size=0, max_size=12),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool]),
)
def test_bernoulli_is_zero_or_one_and_honours_certainties(p, dtype):
    probs = torch.tensor(p, dtype=torch.float32)
    out = torch.zeros(len(p), dtype=dtype).bernoulli_(probs, generator=_gen())
    vals = [float(v) for v in out.tolist()]
    assert all(v in (0.0, 1.0) for v in vals)
    assert all(v == 1.0 for v, q in zip(vals, p, strict=True) if q == 1.0)
    assert all(v == 0.0 for v, q in zip(vals, p, strict=True) if q == 0.0)
