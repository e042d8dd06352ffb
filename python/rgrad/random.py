"""Random number generators (``rgrad.Generator``, ``rgrad.random``), with PyTorch's API.

The global generator lives in the Rust core and has no readable state, so
``default_generator`` wraps it: ``manual_seed`` seeds it and is remembered for
``initial_seed()``, and ``get_rng_state()`` re-seeds it with a seed drawn from itself and returns
that seed, which ``set_rng_state`` seeds it with again. Saving the state and restoring it later
replays the same numbers, as in PyTorch; the numbers themselves differ from PyTorch's.

A ``Generator()`` object is a NumPy PCG64 generator of its own: factories, ``normal_`` /
``uniform_``, the DataLoader's shuffling and ``random_split`` draw from it when it is passed
as ``generator=``, and its ``get_state()`` is its full state.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from rgrad import _rgrad

__all__ = [
    "Generator",
    "default_generator",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]

_STATE_DTYPE = _rgrad.int64  # rgrad has no uint8: each byte of the state is one int64


def _encode_state(payload):
    raw = np.frombuffer(json.dumps(payload).encode(), dtype=np.uint8).astype(np.int64)
    return _rgrad.from_numpy(raw)


def _decode_state(state, kind):
    if not isinstance(state, _rgrad.Tensor):
        raise TypeError(f"expected a Tensor as the RNG state, got {type(state).__name__}")
    try:
        payload = json.loads(state.cpu().numpy().astype(np.uint8).tobytes())
        if payload["kind"] != kind:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(f"the tensor is not the state of a {kind} generator") from None
    return payload


def _fresh_seed():
    return int.from_bytes(os.urandom(8), "little") >> 1  # rgrad's seeds are int64


class Generator:
    """An independent random number generator (CPU only)."""

    def __init__(self, device="cpu"):
        self.device = _rgrad.device(device)
        if self.device.type != "cpu":
            raise RuntimeError(f"rgrad.Generator is CPU only, got device {self.device}")
        self.manual_seed(67280421310721)  # PyTorch's default seed for a new Generator

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed & 0xFFFFFFFFFFFFFFFF)
        return self

    def initial_seed(self):
        return self._seed

    def seed(self):
        """Seeds with a non-deterministic seed and returns it."""
        self.manual_seed(_fresh_seed())
        return self._seed

    def get_state(self):
        state = self._rng.bit_generator.state
        return _encode_state({"kind": "numpy", "seed": self._seed, "state": state})

    def set_state(self, new_state):
        payload = _decode_state(new_state, "numpy")
        self._seed = payload["seed"]
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = payload["state"]
        return self

    def __repr__(self):
        return f"<rgrad.Generator object at {id(self):#x}>"


class _GlobalGenerator(Generator):
    """The Rust core's generator, which every random op uses without a ``generator=``."""

    def __init__(self):
        self.device = _rgrad.device("cpu")
        # Seeded once here (from the OS, as before) so that initial_seed() can report it.
        self.manual_seed(_fresh_seed())

    def manual_seed(self, seed):
        self._seed = int(seed)
        _rgrad.manual_seed(self._seed)
        return self

    def get_state(self):
        # The core's state cannot be read, so it is replaced by one that can be written back.
        replay = int(_rgrad.randint(0, 2**62, (1,)).item())
        _rgrad.manual_seed(replay)
        return _encode_state({"kind": "global", "seed": self._seed, "replay": replay})

    def set_state(self, new_state):
        payload = _decode_state(new_state, "global")
        _rgrad.manual_seed(payload["replay"])
        self._seed = payload["seed"]
        return self


default_generator = _GlobalGenerator()


def manual_seed(seed):
    """Seeds the global generator (every random op without ``generator=``); returns it."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


def own_rng(generator):
    """The NumPy generator behind a ``Generator`` object, or None for the global one."""
    if isinstance(generator, Generator) and generator is not default_generator:
        return generator._rng
    return None


# ------------------------------------------------------------ factories honouring generator=


def _fill(out, array, requires_grad):
    # No history, as the compiled in-place fills record none (they also fill parameters).
    prev = _rgrad.is_grad_enabled()
    _rgrad._set_grad_enabled(False)
    try:
        out.copy_(_rgrad.from_numpy(np.ascontiguousarray(array)).to(out.dtype))
    finally:
        _rgrad._set_grad_enabled(prev)
    return out.requires_grad_(requires_grad) if requires_grad else out


def _overwrite(t, array):
    # An in-place op like the compiled fills: a leaf that requires grad refuses it under grad
    # mode (nn.init runs under no_grad).
    return t.copy_(_rgrad.from_numpy(np.ascontiguousarray(array)).to(t.dtype))


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    rng = own_rng(generator)
    if rng is None:
        return _rgrad.rand(*size, dtype=dtype, device=device, requires_grad=requires_grad)
    out = _rgrad.rand(*size, dtype=dtype, device=device)  # checks the arguments, gives the shape
    return _fill(out, rng.random(tuple(out.shape)), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    rng = own_rng(generator)
    if rng is None:
        return _rgrad.randn(*size, dtype=dtype, device=device, requires_grad=requires_grad)
    out = _rgrad.randn(*size, dtype=dtype, device=device)
    return _fill(out, rng.standard_normal(tuple(out.shape)), requires_grad)


def _check_randint_bounds(args):
    bounds = [a for a in args if not isinstance(a, (tuple, list, _rgrad.Tensor))]
    if bounds and all(isinstance(b, (int, float)) for b in bounds):
        low, high = (0, bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
        if low >= high:
            raise RuntimeError(
                f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
            )


def randint(*args, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    _check_randint_bounds(args)
    rng = own_rng(generator)
    kwargs = {"dtype": dtype, "device": device}
    if size is not None:
        kwargs["size"] = size
    if rng is None:
        return _rgrad.randint(*args, requires_grad=requires_grad, **kwargs)
    out = _rgrad.randint(*args, **kwargs)
    bounds = [a for a in args if not isinstance(a, (tuple, list, _rgrad.Tensor))]
    low, high = (0, bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
    return _fill(out, rng.integers(low, high, size=tuple(out.shape)), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    if isinstance(n, int) and n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    rng = own_rng(generator)
    if rng is None:
        return _rgrad.randperm(n, dtype=dtype, device=device, requires_grad=requires_grad)
    out = _rgrad.randperm(n, dtype=dtype, device=device)
    return _fill(out, rng.permutation(n), requires_grad)


_compiled_normal_ = _rgrad.Tensor.normal_
_compiled_uniform_ = _rgrad.Tensor.uniform_


def _num(v):
    # As PyTorch's messages print numbers (C++ streams): -1, 1.5, nan.
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


_FLOAT_MAX = {
    "rgrad.float32": (3.4028234663852886e38, "float"),
    "rgrad.float64": (math.inf, "double"),
}


def _normal_(self, mean=0.0, std=1.0, *, generator=None):
    if not std >= 0:  # also refuses NaN
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_num(std)}")
    rng = own_rng(generator)
    if rng is None:
        return _compiled_normal_(self, mean, std)
    return _overwrite(self, rng.normal(mean, std, tuple(self.shape)))


def _uniform_(self, from_=0.0, to=1.0, *, generator=None):
    limit, cname = _FLOAT_MAX.get(str(self.dtype), (math.inf, "float"))
    for name, v in (("from", from_), ("to", to)):
        if not (math.isfinite(v) and -limit <= v <= limit):
            raise RuntimeError(f"{name} is out of bounds for {cname}")
    if from_ > to:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={_num(from_)} > "
            f"to={_num(to)}"
        )
    rng = own_rng(generator)
    if rng is None:
        return _compiled_uniform_(self, from_, to)
    return _overwrite(self, rng.uniform(from_, to, tuple(self.shape)))


_rgrad.Tensor.normal_ = _normal_
_rgrad.Tensor.uniform_ = _uniform_
