"""Every sampler's numbers for a fixed seed, pinned: tests/data/sampler_streams.json holds what
the build before the samplers became single core ops drew (the Python compositions of
``randn * std + mean``, ``rand_like(p) < p`` and ``copy_`` of a drawn tensor), for float32,
float64, other dtypes and non-contiguous destinations (the whole base is pinned, so elements
outside the view must stay untouched). After each case the generator's next draws are pinned
too, so a sampler that drew more or fewer numbers than before fails even when its own values
agree. Regenerate only on purpose: ``python tests/test_sampler_streams.py`` (it overwrites the
file from the rgrad on PYTHONPATH).
"""

import json
import math
import pathlib

import pytest

import rgrad as torch

DATA = pathlib.Path(__file__).parent / "data" / "sampler_streams.json"
f32, f64 = torch.float32, torch.float64


def _gen():
    return torch.Generator().manual_seed(1234)


def _grid(dtype=f32):
    # A non-contiguous destination: every other column of a 4x6 base (a view, strides (6, 2)).
    base = torch.full((4, 6), -7.0, dtype=dtype)
    return base, base[:, ::2]


def _in_view(method, dtype, *args):
    """``method`` on a strided view; the result is the whole base."""

    def case(g):
        base, view = _grid(dtype)
        getattr(view, method)(*args, generator=g)
        return base

    return case


def _in_transposed(method, dtype, *args):
    def case(g):
        base = torch.zeros(3, 5, dtype=dtype)
        getattr(base.t(), method)(*args, generator=g)
        return base

    return case


def _probs(dtype=f32, shape=(3, 4)):
    vals = [0.0, 1.0, 0.5, 0.25, 0.75, 0.1, 0.9, 0.3, 0.6, 0.05, 0.95, 0.5]
    n = math.prod(shape)
    return torch.tensor((vals * n)[:n], dtype=dtype).reshape(*shape)


def _means(dtype=f32):
    return torch.tensor([[-1.0], [0.0], [2.5]], dtype=dtype)


def _stds(dtype=f32):
    return torch.tensor([0.0, 0.5, 1.0, 3.0], dtype=dtype)


CASES = {}
for _dt, _n in ((f32, "f32"), (f64, "f64")):
    CASES.update(
        {
            f"normal_numbers_{_n}": lambda g, d=_dt: torch.normal(
                2.0, 3.0, (3, 4), generator=g, dtype=d
            ),
            f"normal_tensors_{_n}": lambda g, d=_dt: torch.normal(_means(d), _stds(d), generator=g),
            f"normal_tensor_mean_{_n}": lambda g, d=_dt: torch.normal(_means(d), 2.0, generator=g),
            f"normal_tensor_std_{_n}": lambda g, d=_dt: torch.normal(1.5, _stds(d), generator=g),
            f"bernoulli_{_n}": lambda g, d=_dt: torch.bernoulli(_probs(d), generator=g),
            f"bernoulli_p_{_n}": lambda g, d=_dt: torch.bernoulli(_probs(d), 0.3, generator=g),
            f"bernoulli_method_{_n}": lambda g, d=_dt: _probs(d).bernoulli(generator=g),
            f"bernoulli_tensor__{_n}": lambda g, d=_dt: torch.empty(3, 4, dtype=d).bernoulli_(
                _probs(d), generator=g
            ),
            f"bernoulli_tensor_broadcast__{_n}": lambda g, d=_dt: torch.empty(
                3, 4, dtype=d
            ).bernoulli_(_probs(d, (4,)), generator=g),
            f"bernoulli_tensor_view__{_n}": lambda g, d=_dt: _in_view(
                "bernoulli_", d, _probs(f32, (4, 3))
            )(g),
            f"bernoulli_scalar__{_n}": _in_view("bernoulli_", _dt, 0.4),
            f"exponential__{_n}": _in_view("exponential_", _dt, 2.0),
            f"exponential_t_{_n}": _in_transposed("exponential_", _dt, 0.5),
            f"geometric__{_n}": _in_view("geometric_", _dt, 0.3),
            f"log_normal__{_n}": _in_view("log_normal_", _dt, 0.5, 0.25),
            f"cauchy__{_n}": _in_view("cauchy_", _dt, 1.0, 2.0),
            f"cauchy_t_{_n}": _in_transposed("cauchy_", _dt),
            f"uniform__{_n}": _in_view("uniform_", _dt, -2.0, 5.0),
            f"normal__{_n}": _in_view("normal_", _dt, 1.0, 0.5),
            f"normal_t_{_n}": _in_transposed("normal_", _dt),
            f"random_default_{_n}": _in_view("random_", _dt),
            f"random_to_{_n}": _in_view("random_", _dt, 10),
            f"random_from_to_{_n}": _in_view("random_", _dt, -5, 5),
        }
    )

CASES.update(
    {
        "normal_mixed_dtypes": lambda g: torch.normal(_means(f32), _stds(f64), generator=g),
        "normal_int_mean": lambda g: torch.normal(torch.arange(4), 1.0, generator=g),
        "normal_numbers_size_list": lambda g: torch.normal(0.0, 1.0, [5], generator=g),
        "bernoulli_int_self_": lambda g: torch.zeros(3, 4, dtype=torch.int64).bernoulli_(
            _probs(f64), generator=g
        ),
        "bernoulli_bool_self_": lambda g: torch.zeros(6, dtype=torch.bool).bernoulli_(
            0.5, generator=g
        ),
        "bernoulli_scalar_int_": lambda g: torch.zeros(8, dtype=torch.int32).bernoulli_(
            0.7, generator=g
        ),
        "geometric_int64_": lambda g: torch.zeros(6, dtype=torch.int64).geometric_(
            0.2, generator=g
        ),
        "random_int64_default": lambda g: torch.zeros(6, dtype=torch.int64).random_(generator=g),
        "random_int32_default": lambda g: torch.zeros(6, dtype=torch.int32).random_(generator=g),
        "random_int32_view": _in_view("random_", torch.int32, 3, 9),
        "random_bool": lambda g: torch.zeros(8, dtype=torch.bool).random_(generator=g),
        "random_uint8": lambda g: torch.zeros(6, dtype=torch.uint8).random_(0, 200, generator=g),
        "random_f16": lambda g: torch.zeros(6, dtype=torch.float16).random_(generator=g),
        "exponential_f16": lambda g: torch.zeros(6, dtype=torch.float16).exponential_(generator=g),
        "normal__bf16": lambda g: torch.zeros(6, dtype=torch.bfloat16).normal_(generator=g),
        "uniform__f16": lambda g: torch.zeros(6, dtype=torch.float16).uniform_(generator=g),
        "bernoulli_f16": lambda g: torch.bernoulli(_probs(torch.float16), generator=g),
        "normal_numbers_f16": lambda g: torch.normal(
            1.0, 2.0, (5,), generator=g, dtype=torch.float16
        ),
        "empty_exponential_": lambda g: torch.zeros(0, 3).exponential_(generator=g),
        "scalar_cauchy_": lambda g: torch.zeros(()).cauchy_(generator=g),
        "scalar_bernoulli": lambda g: torch.bernoulli(torch.tensor(0.5), generator=g),
    }
)


def _record(case):
    g = _gen()
    out = case(g)
    return {
        "dtype": str(out.dtype),
        "shape": list(out.shape),
        "values": out.tolist(),
        # The next draws: the generator advanced exactly as much as before.
        "after": torch.rand(3, generator=g, dtype=f64).tolist(),
    }


def _record_global(case):
    # The default generator, seeded globally, takes the same path.
    torch.manual_seed(1234)
    return case(None).tolist()


@pytest.fixture(scope="module")
def pinned():
    return json.loads(DATA.read_text())


def test_every_case_is_pinned(pinned):
    assert sorted(pinned) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_stream_is_unchanged(pinned, name):
    got = _record(CASES[name])
    want = pinned[name]
    assert got["dtype"] == want["dtype"] and got["shape"] == want["shape"]
    assert got["values"] == want["values"]
    assert got["after"] == want["after"]
    assert _record_global(CASES[name]) == want["values"]


# ---- the refusals: type and message exactly as before -----------------------------------------

_NAN = float("nan")
ERRORS = {
    "normal_std_neg": lambda: torch.normal(0.0, -1.0, (2,)),
    "normal_std_nan": lambda: torch.normal(0.0, _NAN, (2,)),
    "normal_std_small": lambda: torch.normal(torch.zeros(2), -1e-05),
    "normal_std_frac": lambda: torch.normal(torch.zeros(2), -2.5),
    "normal_std_tensor": lambda: torch.normal(torch.zeros(2), torch.tensor([1.0, -1.0])),
    "normal_std_tensor_nan": lambda: torch.normal(0.0, torch.tensor([1.0, _NAN])),
    "normal_no_size": lambda: torch.normal(0.0, 1.0),
    "normal_shapes": lambda: torch.normal(torch.zeros(2), torch.ones(3)),
    "bernoulli_int": lambda: torch.bernoulli(torch.zeros(2, dtype=torch.int64)),
    "bernoulli_range": lambda: torch.bernoulli(torch.tensor([0.5, 1.5])),
    "bernoulli_nan": lambda: torch.bernoulli(torch.tensor([_NAN])),
    "bernoulli_p": lambda: torch.bernoulli(torch.zeros(2), 1.5),
    "bernoulli_p_nan": lambda: torch.bernoulli(torch.zeros(2), _NAN),
    "bernoulli__p": lambda: torch.zeros(2).bernoulli_(-0.5),
    "bernoulli__tensor": lambda: torch.zeros(2).bernoulli_(torch.tensor([2.0, 0.0])),
    "bernoulli__shape": lambda: torch.zeros(2).bernoulli_(torch.full((3,), 0.5)),
    "bernoulli__bigger": lambda: torch.zeros(3).bernoulli_(torch.full((2, 3), 0.5)),
    "exponential_int": lambda: torch.zeros(2, dtype=torch.int64).exponential_(),
    "exponential_lambda": lambda: torch.zeros(2).exponential_(0.0),
    "exponential_nan": lambda: torch.zeros(2).exponential_(_NAN),
    "geometric_p": lambda: torch.zeros(2).geometric_(1.0),
    "geometric_p_small": lambda: torch.zeros(2).geometric_(1e-300 * 0),
    "log_normal_int": lambda: torch.zeros(2, dtype=torch.int32).log_normal_(),
    "log_normal_std": lambda: torch.zeros(2).log_normal_(0.0, -0.125),
    "cauchy_int": lambda: torch.zeros(2, dtype=torch.int32).cauchy_(),
    "cauchy_sigma": lambda: torch.zeros(2).cauchy_(0.0, 0.0),
    "random_order": lambda: torch.zeros(2).random_(5, 5),
    "random_to": lambda: torch.zeros(2).random_(-3),
    "random_int32_to": lambda: torch.zeros(2, dtype=torch.int32).random_(0, 2**40),
    "random_int32_from": lambda: torch.zeros(2, dtype=torch.int32).random_(-(2**40), 0),
    "random_int64_from": lambda: torch.zeros(2, dtype=torch.int64).random_(-(2**63) - 1, 0),
    "random_huge": lambda: torch.zeros(2).random_(0, 2**70),
    "uniform_order": lambda: torch.zeros(2).uniform_(2.0, 1.0),
    "uniform_inf": lambda: torch.zeros(2).uniform_(0.0, math.inf),
    "uniform_f32_max": lambda: torch.zeros(2).uniform_(-1e39, 0.0),
    "uniform_f64_nan": lambda: torch.zeros(2, dtype=f64).uniform_(_NAN, 0.0),
    "uniform_int": lambda: torch.zeros(2, dtype=torch.int64).uniform_(),
    "normal__std": lambda: torch.zeros(2).normal_(0.0, -3.0),
    "normal__int": lambda: torch.zeros(2, dtype=torch.int64).normal_(),
    "leaf_exponential_": lambda: torch.zeros(2, requires_grad=True).exponential_(),
    "expanded_cauchy_": lambda: torch.zeros(1).expand(3).cauchy_(),
    "generator_type": lambda: torch.zeros(2).exponential_(generator=3),
}


def _error_of(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 - the type is what is pinned
        return [type(e).__name__, str(e)]
    return None


def test_every_error_is_pinned(pinned_errors):
    assert sorted(pinned_errors) == sorted(ERRORS)


@pytest.fixture(scope="module")
def pinned_errors():
    return json.loads(ERRORS_DATA.read_text())


ERRORS_DATA = pathlib.Path(__file__).parent / "data" / "sampler_errors.json"


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_is_unchanged(pinned_errors, name):
    assert _error_of(ERRORS[name]) == pinned_errors[name]


if __name__ == "__main__":
    DATA.write_text(json.dumps({k: _record(v) for k, v in sorted(CASES.items())}, indent=1) + "\n")
    errors = {k: _error_of(v) for k, v in sorted(ERRORS.items())}
    ERRORS_DATA.write_text(json.dumps(errors, indent=1) + "\n")
    print(f"wrote {len(CASES)} cases to {DATA}, {len(ERRORS)} to {ERRORS_DATA}")
