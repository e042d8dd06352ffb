"""rgrad.Generator and the samplers drawing from it in the core: reproducibility per sampler
(a Generator and the global seed), independence of streams, exact state round trips, chunked
draws equal to one draw, identical samples on the CPU and wgpu, distribution sanity, errors.
"""

import copy
import math
import os
import pickle

import pytest

import rgrad as torch

# Reference values of the default stream for seed 0, recorded from the build before the core
# Generator existed (rand 0.10's StdRng): the stream must not change.
SEED0_RAND = [
    0.8014592528343201,
    0.7311133742332458,
    0.5552888512611389,
    0.7734601497650146,
    0.8093420267105103,
]
SEED0_RANDN = [
    1.1829488277435303,
    1.810685157775879,
    -1.398557424545288,
    -2.303283214569092,
    1.095255970954895,
]
SEED0_RANDINT = [6, 5, 8, 2, 0]
SEED0_RANDPERM = [1, 2, 3, 6, 4, 5, 0]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _float_in_place(method, *args):
    def draw(g, shape):
        return getattr(torch.empty(*shape), method)(*args, generator=g)

    return draw


# name -> draw(generator, shape) for every sampler taking generator=
SAMPLERS = {
    "rand": lambda g, s: torch.rand(*s, generator=g),
    "rand_f64": lambda g, s: torch.rand(*s, generator=g, dtype=torch.float64),
    "randn": lambda g, s: torch.randn(*s, generator=g),
    "randint": lambda g, s: torch.randint(3, 17, s, generator=g),
    "randperm": lambda g, s: torch.randperm(math.prod(s), generator=g),
    "rand_like": lambda g, s: torch.rand_like(torch.zeros(s), generator=g),
    "randn_like": lambda g, s: torch.randn_like(torch.zeros(s), generator=g),
    "randint_like": lambda g, s: torch.randint_like(torch.zeros(s), 0, 9, generator=g),
    "normal_numbers": lambda g, s: torch.normal(2.0, 3.0, s, generator=g),
    "normal_tensors": lambda g, s: torch.normal(torch.zeros(s), torch.ones(s), generator=g),
    "normal_tensor_mean": lambda g, s: torch.normal(torch.zeros(s), 2.0, generator=g),
    "normal_tensor_std": lambda g, s: torch.normal(1.0, torch.ones(s), generator=g),
    "uniform_": _float_in_place("uniform_", -2.0, 5.0),
    "normal_": _float_in_place("normal_", 1.0, 0.5),
    "bernoulli_scalar": lambda g, s: torch.bernoulli(torch.full(s, 0.3), generator=g),
    "bernoulli_p": lambda g, s: torch.zeros(s).bernoulli(0.3, generator=g),
    "bernoulli_": _float_in_place("bernoulli_", 0.4),
    "bernoulli_tensor_": lambda g, s: torch.empty(s).bernoulli_(torch.full(s, 0.6), generator=g),
    "exponential_": _float_in_place("exponential_", 2.0),
    "geometric_": _float_in_place("geometric_", 0.3),
    "log_normal_": _float_in_place("log_normal_", 0.0, 0.5),
    "cauchy_": _float_in_place("cauchy_", 0.0, 1.0),
    "random_": lambda g, s: torch.empty(s, dtype=torch.int64).random_(0, 100, generator=g),
    "multinomial": lambda g, s: torch.multinomial(
        torch.tensor([1.0, 2.0, 3.0, 4.0]), math.prod(s), True, generator=g
    ),
    "multinomial_noreplace": lambda g, s: torch.multinomial(
        torch.ones(math.prod(s) + 3), math.prod(s), generator=g
    ),
    "poisson": lambda g, s: torch.poisson(torch.full(s, 4.0), generator=g),
    "binomial": lambda g, s: torch.binomial(torch.full(s, 20.0), torch.full(s, 0.4), generator=g),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_generator_reproduces_each_sampler(name):
    draw = SAMPLERS[name]
    a = draw(_gen(7), (3, 5)).tolist()
    assert draw(_gen(7), (3, 5)).tolist() == a
    assert draw(_gen(8), (3, 5)).tolist() != a


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_global_seed_reproduces_each_sampler(name):
    draw = SAMPLERS[name]
    torch.manual_seed(11)
    a = draw(None, (3, 5)).tolist()
    torch.manual_seed(11)
    assert draw(None, (3, 5)).tolist() == a
    # The global stream and a Generator with the same seed are the same algorithm.
    assert draw(_gen(11), (3, 5)).tolist() == a


def test_default_stream_is_unchanged():
    torch.manual_seed(0)
    assert torch.rand(5).tolist() == SEED0_RAND
    assert torch.randn(5).tolist() == SEED0_RANDN
    assert torch.randint(0, 10, (5,)).tolist() == SEED0_RANDINT
    assert torch.randperm(7).tolist() == SEED0_RANDPERM
    g = _gen(0)
    assert torch.rand(5, generator=g).tolist() == SEED0_RAND


def test_generators_are_independent():
    g, h = _gen(3), _gen(3)
    a = torch.rand(6, generator=g).tolist()
    torch.rand(100, generator=torch.Generator().manual_seed(3))  # another object: no effect
    torch.manual_seed(3)
    torch.rand(50)  # the global stream: no effect either
    assert torch.rand(6, generator=h).tolist() == a
    b = torch.rand(6, generator=g).tolist()
    assert b != a
    # Drawing from g does not move the global stream.
    torch.manual_seed(5)
    x = torch.rand(4).tolist()
    torch.manual_seed(5)
    torch.rand(9, generator=g)
    assert torch.rand(4).tolist() == x


def test_default_generator_is_the_global_stream():
    torch.manual_seed(9)
    a = torch.rand(3).tolist()
    torch.default_generator.manual_seed(9)
    assert torch.rand(3, generator=torch.default_generator).tolist() == a
    assert torch.initial_seed() == 9 == torch.default_generator.initial_seed()
    assert torch.manual_seed(4) is not None and torch.initial_seed() == 4


def test_generator_api():
    g = torch.Generator()
    assert g.initial_seed() == 67280421310721
    assert str(g.device) == "cpu"
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert g.manual_seed(-1).initial_seed() == 2**64 - 1
    s = g.seed()
    assert isinstance(s, int) and 0 <= s < 2**64 and g.initial_seed() == s
    assert torch.seed() == torch.initial_seed()
    assert repr(g).startswith("<rgrad.Generator object at 0x")


@pytest.mark.parametrize("skip", [0, 1, 3, 33, 200])
def test_state_round_trip(skip):
    g = _gen(21)
    torch.rand(skip, generator=g)
    state = g.get_state()
    assert state.dtype == torch.uint8 and state.ndim == 1
    a = torch.randn(40, generator=g).tolist()
    h = torch.Generator()
    assert h.set_state(state) is h
    assert h.initial_seed() == 21
    assert torch.randn(40, generator=h).tolist() == a
    g.set_state(state)
    assert torch.randn(40, generator=g).tolist() == a


def test_global_state_round_trip():
    torch.manual_seed(1)
    torch.rand(3)
    state = torch.get_rng_state()
    a = [torch.rand(5).tolist(), torch.randint(0, 99, (5,)).tolist(), torch.randperm(6).tolist()]
    # Reading the state does not move the stream (it used to re-seed it).
    torch.set_rng_state(state)
    assert torch.get_rng_state().tolist() == state.tolist()
    b = [torch.rand(5).tolist(), torch.randint(0, 99, (5,)).tolist(), torch.randperm(6).tolist()]
    assert a == b
    assert torch.get_rng_state().tolist() != state.tolist()


def test_copy_and_pickle_keep_the_state():
    g = _gen(2)
    torch.rand(3, generator=g)
    for h in (copy.deepcopy(g), pickle.loads(pickle.dumps(g))):
        assert h is not g
        assert torch.rand(4, generator=h).tolist() == torch.rand(4, generator=_clone(g)).tolist()


def _clone(g):
    h = torch.Generator()
    h.set_state(g.get_state())
    return h


CHUNKED = {
    "rand": lambda g, n: torch.rand(n, generator=g),
    "rand_f64": lambda g, n: torch.rand(n, generator=g, dtype=torch.float64),
    "randn": lambda g, n: torch.randn(n, generator=g),
    "randint": lambda g, n: torch.randint(0, 1000, (n,), generator=g),
    "bernoulli_scalar": lambda g, n: torch.zeros(n).bernoulli_(0.5, generator=g),
    "uniform_": lambda g, n: torch.empty(n).uniform_(-1.0, 3.0, generator=g),
    "normal_": lambda g, n: torch.empty(n).normal_(2.0, 0.5, generator=g),
    "multinomial": lambda g, n: torch.multinomial(torch.ones(5), n, True, generator=g),
    "exponential_": lambda g, n: torch.empty(n).exponential_(3.0, generator=g),
    "geometric_": lambda g, n: torch.empty(n, dtype=torch.int64).geometric_(0.4, generator=g),
    "log_normal_": lambda g, n: torch.empty(n, dtype=torch.float64).log_normal_(generator=g),
    "cauchy_": lambda g, n: torch.empty(n).cauchy_(generator=g),
    "bernoulli_int": lambda g, n: torch.zeros(n, dtype=torch.int64).bernoulli_(0.5, generator=g),
}


@pytest.mark.parametrize("name", sorted(CHUNKED))
def test_chunks_continue_the_stream(name):
    draw = CHUNKED[name]
    whole = draw(_gen(13), 10).tolist()
    g = _gen(13)
    assert draw(g, 4).tolist() + draw(g, 6).tolist() == whole
    torch.manual_seed(13)
    assert draw(None, 4).tolist() + draw(None, 6).tolist() == whole


def _moments(x):
    x = x.double()
    return x.mean().item(), x.var().item()


N = 20000


def test_distribution_sanity():
    g = _gen(123)
    m, v = _moments(torch.normal(1.5, 2.0, (N,), generator=g))
    assert abs(m - 1.5) < 0.06 and abs(v - 4.0) < 0.2
    m, v = _moments(torch.empty(N).exponential_(2.0, generator=g))
    assert abs(m - 0.5) < 0.02 and abs(v - 0.25) < 0.03
    m, v = _moments(torch.bernoulli(torch.full((N,), 0.3), generator=g))
    assert abs(m - 0.3) < 0.015 and abs(v - 0.21) < 0.015
    m, v = _moments(torch.poisson(torch.full((N,), 6.0), generator=g))
    assert abs(m - 6.0) < 0.08 and abs(v - 6.0) < 0.4
    geo = torch.empty(N).geometric_(0.25, generator=g)
    m, v = _moments(geo)
    assert geo.min().item() >= 1 and abs(m - 4.0) < 0.15 and abs(v - 12.0) < 1.2
    c = torch.empty(N).cauchy_(3.0, 2.0, generator=g)
    assert abs(c.median().item() - 3.0) < 0.1
    # the quartiles of Cauchy(3, 2) are 3 -+ 2
    ordered = c.sort().values
    q = [ordered[N // 4].item(), ordered[3 * N // 4].item()]
    assert abs(q[0] - 1.0) < 0.15 and abs(q[1] - 5.0) < 0.15
    u = torch.empty(N).uniform_(-1.0, 3.0, generator=g)
    assert u.min().item() >= -1.0 and u.max().item() < 3.0
    m, v = _moments(u)
    assert abs(m - 1.0) < 0.04 and abs(v - 16 / 12) < 0.05
    r = torch.randint(0, 10, (N,), generator=g)
    counts = torch.bincount(r, minlength=10).tolist()
    assert all(abs(c - N / 10) < 0.1 * N / 10 for c in counts)
    p = torch.randperm(1000, generator=g)
    assert sorted(p.tolist()) == list(range(1000))


def test_errors():
    g = torch.Generator()
    with pytest.raises(RuntimeError, match="CPUGeneratorImplState of size"):
        g.set_state(torch.zeros(10, dtype=torch.uint8))
    with pytest.raises(RuntimeError, match="size"):
        torch.set_rng_state(torch.zeros(3, dtype=torch.uint8))
    bad = g.get_state().clone()
    bad[0] = 0
    with pytest.raises(RuntimeError, match="not the state"):
        g.set_state(bad)
    with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
        g.set_state(torch.zeros(10, dtype=torch.int64))
    with pytest.raises(TypeError, match="expected a torch.ByteTensor, but got list"):
        torch.set_rng_state([1, 2])
    with pytest.raises(RuntimeError, match="manual_seed expected a long, but got float"):
        g.manual_seed(1.5)
    with pytest.raises(ValueError, match="Overflow"):
        g.manual_seed(2**64)
    with pytest.raises(TypeError, match="generator"):
        torch.rand(3, generator=5)
    with pytest.raises(RuntimeError, match="Expected p_in >= 0 && p_in <= 1"):
        torch.bernoulli(torch.tensor([0.5, 1.5]), generator=g)
    with pytest.raises(RuntimeError, match="Expected p_in >= 0 && p_in <= 1"):
        torch.bernoulli(torch.tensor([0.5, math.nan]))
    with pytest.raises(RuntimeError, match=r"expects p to be in \[0, 1\], but got p=1.5"):
        torch.empty(3).bernoulli_(1.5, generator=g)
    with pytest.raises(RuntimeError, match="probability tensor contains either"):
        torch.multinomial(torch.tensor([-1.0, 2.0]), 1, generator=g)
    with pytest.raises(RuntimeError, match="invalid Poisson rate"):
        torch.poisson(torch.tensor([-1.0]), generator=g)
    with pytest.raises(RuntimeError, match=r"geometric_ expects p to be in \(0, 1\)"):
        torch.empty(3).geometric_(1.5, generator=g)
    # a failed call leaves the state where it was
    state = g.get_state().tolist()
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor([math.inf, 1.0]), 1, generator=g)
    assert g.get_state().tolist() == state


def test_no_numpy_in_random_modules():
    root = os.path.join(os.path.dirname(torch.__file__))
    for rel in ("random.py", "_sampling.py", os.path.join("utils", "data", "_random.py")):
        with open(os.path.join(root, rel)) as f:
            src = f.read()
        assert "import numpy" not in src and "np.random" not in src, rel


# ---- wgpu: the same numbers from the same seed -------------------------------------------------

REQUIRED = os.environ.get("RGRAD_REQUIRE_WGPU") == "1"
wgpu = pytest.mark.skipif(not REQUIRED and not torch.wgpu.is_available(), reason="no wgpu adapter")

DEVICE_SAMPLERS = {
    "rand": lambda g, d: torch.rand(2, 3, generator=g, device=d).flatten(),
    "randn": lambda g, d: torch.randn(5, generator=g, device=d),
    "randint": lambda g, d: torch.randint(0, 9, (6,), generator=g, device=d),
    "randperm": lambda g, d: torch.randperm(6, generator=g, device=d),
    "normal_": lambda g, d: torch.empty(4, device=d).normal_(generator=g),
    "uniform_": lambda g, d: torch.empty(4, device=d).uniform_(1.0, 2.0, generator=g),
    "bernoulli": lambda g, d: torch.bernoulli(torch.full((6,), 0.5, device=d), generator=g),
    "exponential_": lambda g, d: torch.empty(4, device=d).exponential_(generator=g),
    "bernoulli_": lambda g, d: torch.empty(6, device=d).bernoulli_(0.5, generator=g),
    "geometric_": lambda g, d: torch.empty(4, device=d).geometric_(0.3, generator=g),
    "cauchy_": lambda g, d: torch.empty(4, device=d).cauchy_(generator=g),
    "multinomial": lambda g, d: torch.multinomial(
        torch.tensor([1.0, 2.0, 3.0], device=d), 5, True, generator=g
    ),
    "poisson": lambda g, d: torch.poisson(torch.full((4,), 3.0, device=d), generator=g),
}


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("name", sorted(DEVICE_SAMPLERS))
def test_cpu_and_wgpu_draw_the_same_numbers(name):
    draw = DEVICE_SAMPLERS[name]
    on_cpu = draw(_gen(17), "cpu")
    on_dev = draw(_gen(17), "wgpu")
    assert str(on_dev.device).startswith("wgpu")
    assert on_dev.cpu().tolist() == pytest.approx(on_cpu.tolist(), rel=1e-6, abs=1e-6)
    torch.manual_seed(17)
    on_dev_global = draw(None, "wgpu")
    assert on_dev_global.cpu().tolist() == on_dev.cpu().tolist()


# ---- generators and devices --------------------------------------------------------------------
# The rule: a generator's device is a label it keeps; every generator is one host-side stream
# and drives samplers on every device with the same numbers (PyTorch refuses a generator of
# another device type; rgrad's streams are one algorithm on every device).


def _wgpu_gen(seed):
    return torch.Generator(device="wgpu").manual_seed(seed)


def test_cpu_generator_device_spellings():
    for dev in (None, "cpu", torch.device("cpu")):
        g = torch.Generator() if dev is None else torch.Generator(device=dev)
        assert str(g.device) == "cpu"
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda, wgpu"):
        torch.Generator(device="tpu")


@pytest.mark.wgpu
@wgpu
def test_wgpu_generator_is_accepted_and_keeps_its_device():
    for dev in ("wgpu", "wgpu:0", torch.device("wgpu")):
        g = torch.Generator(device=dev)
        assert str(g.device) == "wgpu:0"
    with pytest.raises(RuntimeError, match="out of range"):
        torch.Generator(device="wgpu:1")
    g = _wgpu_gen(4)
    torch.rand(3, generator=g)
    for h in (copy.deepcopy(g), pickle.loads(pickle.dumps(g))):
        assert str(h.device) == "wgpu:0"
        assert torch.rand(4, generator=h).tolist() == torch.rand(4, generator=_clone(g)).tolist()
    # The state moves between generators of either device: one format, one stream.
    c = torch.Generator().set_state(g.get_state())
    assert torch.randn(5, generator=c).tolist() == torch.randn(5, generator=_clone(g)).tolist()


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("name", sorted(DEVICE_SAMPLERS))
def test_generators_of_either_device_work_on_either_device(name):
    draw = DEVICE_SAMPLERS[name]
    want = draw(_gen(23), "cpu").tolist()
    for make in (_gen, _wgpu_gen):
        for dev in ("cpu", "wgpu"):
            got = draw(make(23), dev)
            assert str(got.device).startswith(dev)
            assert got.cpu().tolist() == pytest.approx(want, rel=1e-6, abs=1e-6), (make, dev)


# name -> sampler of a strided view: the in-place samplers write on wgpu as on the CPU
STRIDED = {
    "bernoulli_": lambda v, g: v.bernoulli_(0.4, generator=g),
    "bernoulli_tensor": lambda v, g: v.bernoulli_(torch.full((3,), 0.5), generator=g),
    "exponential_": lambda v, g: v.exponential_(2.0, generator=g),
    "geometric_": lambda v, g: v.geometric_(0.3, generator=g),
    "log_normal_": lambda v, g: v.log_normal_(0.0, 0.5, generator=g),
    "cauchy_": lambda v, g: v.cauchy_(generator=g),
    "random_": lambda v, g: v.random_(0, 50, generator=g),
    "uniform_": lambda v, g: v.uniform_(-1.0, 1.0, generator=g),
    "normal_": lambda v, g: v.normal_(1.0, 2.0, generator=g),
}


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("name", sorted(STRIDED))
def test_in_place_samplers_write_strided_wgpu_views(name):
    out = {}
    for dev in ("cpu", "wgpu"):
        base = torch.full((4, 6), -3.0, device=dev)
        version = base._version
        STRIDED[name](base[:, ::2], _wgpu_gen(5))
        assert base._version > version
        out[dev] = base.cpu().flatten().tolist()
    assert out["wgpu"] == pytest.approx(out["cpu"], rel=1e-6, abs=1e-6)
    assert out["wgpu"][1::2] == [-3.0] * 12  # outside the view: untouched


@pytest.mark.wgpu
@wgpu
def test_normal_and_bernoulli_of_wgpu_tensors_stay_there():
    mean = torch.zeros(3, 4, device="wgpu")
    z = torch.normal(mean, torch.ones(4, device="wgpu"), generator=_gen(3))
    assert str(z.device).startswith("wgpu") and not z.requires_grad
    want = torch.normal(torch.zeros(3, 4), torch.ones(4), generator=_gen(3))
    assert z.cpu().flatten().tolist() == pytest.approx(want.flatten().tolist(), rel=1e-6)
    b = torch.bernoulli(torch.full((5,), 0.5, device="wgpu"), generator=_wgpu_gen(3))
    assert str(b.device).startswith("wgpu")
    with pytest.raises(RuntimeError, match="Expected p_in >= 0"):
        torch.bernoulli(torch.tensor([0.5, 2.0], device="wgpu"))
