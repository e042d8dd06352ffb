"""Samplers, as ``torch.utils.data.sampler``."""

from __future__ import annotations

import itertools
import warnings

import rgrad
from rgrad import Tensor
from rgrad.utils.data._random import (
    _choice,
    _randint,
    _randperm,
    _resolve_rng,
    _stored_rng,
)

# -------------------------------------------------------------------------------- samplers


class Sampler:
    """Base class of the samplers: ``__iter__`` yields dataset indices (or lists of them)."""

    def __init__(self, data_source=None):
        if data_source is not None:
            warnings.warn(
                "`data_source` argument is not used and will be removed in 2.2.0."
                "You may still have custom implementation that utilizes it.",
                stacklevel=2,
            )

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Yields ``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    r"""Yields the indices in a random order: a permutation (several, then a part of one,
    when ``num_samples`` exceeds the dataset size) or, with ``replacement``, independent draws.

    Args:
        data_source (Dataset): the dataset to sample from.
        replacement (bool): draw with replacement. Default: False.
        num_samples (int): the number of indices per epoch. Default: ``len(data_source)``.
        generator: the random source (see the module docstring).
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        self._rng = _stored_rng(generator)

        if not isinstance(self.replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={self.replacement}"
            )
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got "
                f"num_samples={self.num_samples}"
            )

    @property
    def num_samples(self):
        # The dataset size might change at runtime.
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        rng = _resolve_rng(self._rng)
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from _randint(n, 32, rng)
            yield from _randint(n, self.num_samples % 32, rng)
        else:
            for _ in range(self.num_samples // n):
                yield from _randperm(n, rng)
            yield from _randperm(n, rng)[: self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """Yields the given indices in a random order, without replacement.

    Args:
        indices (sequence): the indices.
        generator: the random source (see the module docstring).
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator
        self._rng = _stored_rng(generator)

    def __iter__(self):
        for i in _randperm(len(self.indices), _resolve_rng(self._rng)):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Yields ``num_samples`` indices drawn with probabilities proportional to ``weights``.

    Args:
        weights (sequence): the weights, one per index (need not sum to one).
        num_samples (int): the number of indices to draw.
        replacement (bool): draw with replacement. Default: True.
        generator: the random source (see the module docstring).
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        weights = (
            weights.detach().to(rgrad.float64)
            if isinstance(weights, Tensor)
            else rgrad.as_tensor(weights, dtype=rgrad.float64)
        )
        if weights.ndim != 1:
            raise ValueError(
                "weights should be a 1d sequence but given "
                f"weights have shape {tuple(weights.shape)}"
            )
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator
        self._rng = _stored_rng(generator)

    def __iter__(self):
        rng = _resolve_rng(self._rng)
        yield from _choice(self.weights, self.num_samples, self.replacement, rng)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of another sampler into lists of ``batch_size``.

    Args:
        sampler (Sampler or iterable): the index source.
        batch_size (int): the size of a batch.
        drop_last (bool): drop the last batch when it is smaller than ``batch_size``.
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        sampler_iter = iter(self.sampler)
        if self.drop_last:
            args = [sampler_iter] * self.batch_size
            for batch_droplast in zip(*args):
                yield [*batch_droplast]
        else:
            batch = [*itertools.islice(sampler_iter, self.batch_size)]
            while batch:
                yield batch
                batch = [*itertools.islice(sampler_iter, self.batch_size)]

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


class _InfiniteConstantSampler(Sampler):
    """The placeholder sampler of iterable-style datasets."""

    def __iter__(self):
        while True:
            yield None
