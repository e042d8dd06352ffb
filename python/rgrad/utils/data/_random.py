"""How datasets and samplers draw their randomness (see ``rgrad.utils.data``).

Every source but a user's own NumPy generator becomes an ``rgrad.Generator``, drawn from by
``rgrad.randperm`` / ``rgrad.randint`` / ``rgrad.multinomial`` in the core; NumPy is touched
only when the caller passes a NumPy generator.
"""

from __future__ import annotations

import weakref

import rgrad

# ------------------------------------------------------------------------------ randomness

_seeded_by_object: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_seeded_by_id: dict = {}


def _is_numpy_rng(obj):
    return type(obj).__module__.startswith("numpy.random") and type(obj).__name__ in (
        "Generator",
        "RandomState",
    )


def _seeded(seed):
    g = rgrad.Generator()
    g.manual_seed(seed)
    return g


def _rng_from_global():
    """A fresh generator seeded from rgrad's global generator (as PyTorch's samplers seed a
    fresh generator from the global one)."""
    return _seeded(int(rgrad.randint(0, 2**62, (1,)).item()))


def _rng_for_seeded_object(generator):
    """The generator shared by every user of a ``torch.Generator``-like object."""
    seed = int(generator.initial_seed())
    try:
        entry = _seeded_by_object.get(generator)
        weak = True
    except TypeError:  # not weak-referenceable: keep the object alive next to its entry
        held = _seeded_by_id.get(id(generator))
        entry = held[1] if held is not None and held[0] is generator else None
        weak = False
    if entry is None or entry[0] != seed:
        entry = (seed, _seeded(seed))
        if weak:
            _seeded_by_object[generator] = entry
        else:
            _seeded_by_id[id(generator)] = (generator, entry)
    return entry[1]


def _resolve_rng(generator):
    """The random source for ``generator`` (see the module docstring): an ``rgrad.Generator``
    or the caller's NumPy generator."""
    if generator is None or generator is rgrad.default_generator:
        return _rng_from_global()
    if isinstance(generator, rgrad.Generator) or _is_numpy_rng(generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return _seeded(generator)
    if callable(getattr(generator, "initial_seed", None)):
        return _rng_for_seeded_object(generator)
    raise TypeError(
        "generator must be None, an int seed, a numpy.random.Generator or an object with an "
        f"initial_seed() method, but got {type(generator).__name__}"
    )


def _stored_rng(generator):
    """What a sampler keeps: ints become their own generator once, at construction."""
    if isinstance(generator, int) and not isinstance(generator, bool):
        return _seeded(generator)
    return generator


def _randperm(n, rng):
    if _is_numpy_rng(rng):
        return rng.permutation(n).tolist()
    return rgrad.randperm(n, generator=rng).tolist()


def _randint(high, size, rng):
    if _is_numpy_rng(rng):
        if type(rng).__name__ == "RandomState":
            return rng.randint(0, high, size=size).tolist()
        return rng.integers(0, high, size=size).tolist()
    return rgrad.randint(0, high, (size,), generator=rng).tolist()


def _choice(weights, num_samples, replacement, rng):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (a float64
    tensor)."""
    if _is_numpy_rng(rng):
        p = weights.numpy()
        return rng.choice(len(p), size=num_samples, replace=replacement, p=p / p.sum()).tolist()
    return rgrad.multinomial(weights, num_samples, replacement, generator=rng).tolist()
