"""Random number generators (``rgrad.Generator``, ``rgrad.random``), with PyTorch's API.

Every generator is the Rust core's ``Generator``: ChaCha12 (the algorithm of ``rand``'s
``StdRng``, seeded the same way), its whole state readable and writable as a uint8 tensor.
``default_generator`` is a handle on the one every random op uses without ``generator=``;
``rgrad.Generator()`` makes an independent one (seeded with PyTorch's default seed). Every
sampler draws from the generator it is given in the core, on the host for every device, so a
seed gives the same numbers on the CPU and on wgpu. A generator's ``device`` ('cpu' or 'wgpu')
is a label it keeps, not a restriction: a generator of either device drives samplers producing
tensors on either device, with the same numbers (PyTorch refuses a generator of another
device type; its device streams are different algorithms, ours are one). The numbers differ
from PyTorch's.
"""

from __future__ import annotations

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

Generator = _rgrad.Generator
default_generator = _rgrad._default_generator()
# Seeded once here from the OS, so that initial_seed() reports the seed in use.
default_generator.seed()


def manual_seed(seed):
    """Seeds the global generator (every random op without ``generator=``); returns it."""
    return default_generator.manual_seed(seed)


def seed():
    """Seeds the global generator from the OS's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    """The global generator's whole state (a uint8 tensor)."""
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


# The factories take generator= in the core.
rand = _rgrad.rand
randn = _rgrad.randn


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    if isinstance(n, int) and n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    return _rgrad.randperm(
        n, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad
    )


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
    kwargs = {"dtype": dtype, "device": device, "generator": generator}
    if size is not None:
        kwargs["size"] = size
    return _rgrad.randint(*args, requires_grad=requires_grad, **kwargs)
