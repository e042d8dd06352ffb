"""How datasets and samplers draw their randomness (see ``rgrad.utils.data``)."""

from __future__ import annotations

import weakref

import numpy as np

import rgrad

# ------------------------------------------------------------------------------ randomness

_seeded_by_object: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_seeded_by_id: dict = {}


def _rng_from_global():
    """A fresh NumPy generator seeded from rgrad's global generator (as PyTorch's samplers
    seed a fresh generator from the global one)."""
    seed = int(rgrad.randint(0, 2**62, (1,)).item())
    return np.random.default_rng(seed)


def _rng_for_seeded_object(generator):
    """The NumPy generator shared by every user of a ``torch.Generator``-like object."""
    seed = int(generator.initial_seed())
    try:
        entry = _seeded_by_object.get(generator)
        weak = True
    except TypeError:  # not weak-referenceable: keep the object alive next to its entry
        held = _seeded_by_id.get(id(generator))
        entry = held[1] if held is not None and held[0] is generator else None
        weak = False
    if entry is None or entry[0] != seed:
        entry = (seed, np.random.default_rng(seed))
        if weak:
            _seeded_by_object[generator] = entry
        else:
            _seeded_by_id[id(generator)] = (generator, entry)
    return entry[1]


def _resolve_rng(generator):
    """The NumPy random source for ``generator`` (see the module docstring)."""
    if generator is None or generator is rgrad.default_generator:
        return _rng_from_global()
    if isinstance(generator, rgrad.Generator):
        return rgrad.random.own_rng(generator)
    if isinstance(generator, (np.random.Generator, np.random.RandomState)):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return np.random.default_rng(generator)
    if callable(getattr(generator, "initial_seed", None)):
        return _rng_for_seeded_object(generator)
    raise TypeError(
        "generator must be None, an int seed, a numpy.random.Generator or an object with an "
        f"initial_seed() method, but got {type(generator).__name__}"
    )


def _stored_rng(generator):
    """What a sampler keeps: ints become their own generator once, at construction."""
    if isinstance(generator, int) and not isinstance(generator, bool):
        return np.random.default_rng(generator)
    return generator


def _randperm(n, rng):
    return rng.permutation(n).tolist()


def _randint(high, size, rng):
    if isinstance(rng, np.random.RandomState):
        return rng.randint(0, high, size=size).tolist()
    return rng.integers(0, high, size=size).tolist()
