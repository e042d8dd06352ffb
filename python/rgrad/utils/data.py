"""Datasets, samplers and the DataLoader, with PyTorch's API (``torch.utils.data``).

Loading runs in the calling process: ``num_workers``, ``pin_memory``, ``timeout``,
``worker_init_fn``, ``prefetch_factor`` and ``persistent_workers`` are accepted (and validated)
for compatibility, and batches are produced in order in the main process.

Randomness (shuffling, ``random_split``, the random samplers) takes a ``generator`` argument:

* ``None`` (the default) draws from rgrad's global generator, so ``rgrad.manual_seed(s)``
  makes shuffling and splits reproducible, as ``torch.manual_seed`` does in PyTorch; each
  epoch of a shuffling DataLoader gets a new permutation;
* a ``numpy.random.Generator`` (or ``RandomState``) is used directly, its state advancing;
* an ``int`` seeds a private NumPy generator, created when the sampler is built (each epoch
  still gets a new permutation; the sequence of epochs is reproducible);
* an ``rgrad.Generator`` is drawn from, its state advancing (``g.manual_seed(s)`` restarts
  it, as in PyTorch);
* any other object with an ``initial_seed()`` method (``torch.Generator``-like) is mapped
  to a NumPy generator seeded with
  ``initial_seed()`` and shared by everything using that object, so its stream advances across
  epochs and users; it restarts when ``initial_seed()`` returns a different value (re-seeding
  with the *same* seed is not detected: pass a new generator object for that).

The permutations are NumPy's, so they differ from PyTorch's for the same seed.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import math
import re
import warnings
import weakref
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence

import numpy as np

import rgrad
from rgrad import Tensor

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "random_split",
]


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


# -------------------------------------------------------------------------------- datasets


class Dataset:
    """A map-style dataset: subclasses implement ``__getitem__(index)`` and usually
    ``__len__``. ``a + b`` concatenates two datasets."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """An iterable-style dataset: subclasses implement ``__iter__``."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of the given tensors: item ``i`` is
    ``tuple(t[i] for t in tensors)``.

    Args:
        *tensors (Tensor): tensors with the same size of the first dimension.
    """

    def __init__(self, *tensors):
        if not all(tensors[0].size(0) == tensor.size(0) for tensor in tensors):
            # PyTorch asserts this; raised explicitly so that it also holds under ``python -O``.
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(tensor[index] for tensor in self.tensors)

    def __len__(self):
        return self.tensors[0].size(0)


class ConcatDataset(Dataset):
    """The concatenation of several map-style datasets.

    Args:
        datasets (sequence): the datasets to concatenate.
    """

    @staticmethod
    def cumsum(sequence):
        r, s = [], 0
        for e in sequence:
            length = len(e)
            r.append(length + s)
            s += length
        return r

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        if dataset_idx == 0:
            sample_idx = idx
        else:
            sample_idx = idx - self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx][sample_idx]


class ChainDataset(IterableDataset):
    """Chains several iterable datasets.

    Args:
        datasets (iterable): the iterable datasets to chain.
    """

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``.

    Args:
        dataset (Dataset): the whole dataset.
        indices (sequence): the indices in the whole dataset selected for the subset.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        # Batched fetch, used by the DataLoader when the wrapped dataset supports it.
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[idx] for idx in indices])
        return [self.dataset[self.indices[idx]] for idx in indices]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    r"""Randomly splits a dataset into non-overlapping subsets of the given lengths.

    ``lengths`` are either integers summing to ``len(dataset)`` or fractions summing to 1; for
    fractions, each length is ``floor(frac * len(dataset))`` and the remainder is spread one
    by one over the subsets, round-robin (as PyTorch does).

    Args:
        dataset (Dataset): the dataset to split.
        lengths (sequence): the lengths or fractions of the splits.
        generator: the random source (see the module docstring); default: rgrad's global
            generator.
    """
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        subset_lengths = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            n_items_in_split = int(math.floor(len(dataset) * frac))
            subset_lengths.append(n_items_in_split)
        remainder = len(dataset) - sum(subset_lengths)
        # Add 1 to the lengths in round-robin fashion until the remainder is 0.
        for i in range(remainder):
            idx_to_add_at = i % len(subset_lengths)
            subset_lengths[idx_to_add_at] += 1
        lengths = subset_lengths
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    stacklevel=2,
                )

    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")

    indices = _randperm(sum(lengths), _resolve_rng(generator))
    return [
        Subset(dataset, indices[offset - length : offset])
        for offset, length in zip(itertools.accumulate(lengths), lengths)
    ]


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
        weights = np.asarray(
            weights.detach().numpy() if isinstance(weights, Tensor) else weights,
            dtype=np.float64,
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
        p = self.weights / self.weights.sum()
        yield from rng.choice(
            len(self.weights), size=self.num_samples, replace=self.replacement, p=p
        ).tolist()

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


# ------------------------------------------------------------------------------- collation

_np_str_obj_array_pattern = re.compile(r"[SaUO]")

_default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _numpy_to_tensor(array):
    """A tensor from a NumPy array or scalar. rgrad has bool, int32, int64, float32 and float64
    tensors: other integer types become int64, other float types float32."""
    array = np.asarray(array)
    if array.dtype.kind == "f" and array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float32)
    elif array.dtype.kind in "iu" and array.dtype not in (np.int32, np.int64):
        array = array.astype(np.int64)
    # asarray(order="C") rather than ascontiguousarray, which turns a 0-d array into 1-d.
    return rgrad.from_numpy(np.asarray(array, order="C"))


def default_convert(data):
    """Converts NumPy arrays and scalars (also inside mappings and sequences) to tensors,
    leaving everything else as is; the collate function used without automatic batching."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_"):
        if (
            elem_type.__name__ == "ndarray"
            and _np_str_obj_array_pattern.search(data.dtype.str) is not None
        ):
            return data
        return _numpy_to_tensor(data)
    if isinstance(data, Mapping):
        try:
            if isinstance(data, MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # as PyTorch: a list
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def _collate_tensor(batch):
    return rgrad.stack(list(batch), 0)


def _collate_numpy_array(batch):
    elem = batch[0]
    if _np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(_default_collate_err_msg_format.format(elem.dtype))
    return _collate_tensor([_numpy_to_tensor(b) for b in batch])


def _collate_numpy_scalar(batch):
    return _numpy_to_tensor(np.asarray(batch))


def _collate_float(batch):
    return rgrad.tensor(list(batch), dtype=rgrad.float64)


def _collate_int(batch):
    # bool is an int: a batch of bools gives a bool tensor.
    return rgrad.tensor(list(batch))


def _collate_str(batch):
    return batch


def default_collate(batch):
    r"""Merges a list of samples into a batch, as PyTorch's ``default_collate``:

    * tensors → ``stack`` along a new first dimension;
    * NumPy arrays → tensors, stacked; NumPy scalars → a tensor;
    * ``float`` → a float64 tensor; ``int`` → an int64 tensor (``bool`` → a bool tensor);
    * ``str``/``bytes`` → the list unchanged;
    * mappings → the same mapping type with each key's values collated;
    * namedtuples → the same namedtuple with each field collated;
    * tuples → a *list* with each position collated (as PyTorch does); other sequences → the
      same sequence type with each position collated (all samples must have equal length).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _collate_tensor(batch)
    if isinstance(elem, np.ndarray):
        return _collate_numpy_array(batch)
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return _collate_numpy_scalar(batch)
    if isinstance(elem, float):
        return _collate_float(batch)
    if isinstance(elem, int):
        return _collate_int(batch)
    if isinstance(elem, (str, bytes)):
        return _collate_str(batch)

    elem_type = type(elem)
    if isinstance(elem, Mapping):
        try:
            if isinstance(elem, MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: default_collate([d[key] for d in batch]) for key in elem})
                return clone
            return elem_type({key: default_collate([d[key] for d in batch]) for key in elem})
        except TypeError:
            return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [default_collate(samples) for samples in transposed]
        try:
            if isinstance(elem, MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = default_collate(samples)
                return clone
            return elem_type([default_collate(samples) for samples in transposed])
        except TypeError:
            return [default_collate(samples) for samples in transposed]

    raise TypeError(_default_collate_err_msg_format.format(elem_type))


def get_worker_info():
    """Always ``None``: data loading runs in the calling process."""
    return None


# ------------------------------------------------------------------------------ DataLoader


class DataLoader:
    r"""Iterates over a dataset in batches.

    Args:
        dataset (Dataset): the dataset (map-style or iterable-style).
        batch_size (int, optional): samples per batch; ``None`` disables automatic batching
            (each sample goes through ``collate_fn``, by default :func:`default_convert`).
            Default: 1.
        shuffle (bool, optional): a new random order every epoch. Default: False.
        sampler (Sampler or iterable, optional): the order of the indices (excludes
            ``shuffle``).
        batch_sampler (Sampler or iterable, optional): yields lists of indices (excludes
            ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``).
        collate_fn (callable, optional): merges a list of samples into a batch. Default:
            :func:`default_collate`.
        drop_last (bool): drop the last, incomplete batch. Default: False.
        generator: the random source of the shuffling (see the module docstring).
        num_workers, pin_memory, timeout, worker_init_fn, multiprocessing_context,
        prefetch_factor, persistent_workers, pin_memory_device, in_order: accepted for
            compatibility; loading always runs in the calling process.
    """

    _initialized = False

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; "
                "use num_workers=0 to disable multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set "
                "prefetch_factor to None."
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = "iterable"
            if shuffle not in {False, None}:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, "
                    f"but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, "
                    f"but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        else:
            self._dataset_kind = "map"
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive "
                    "with batch_size, shuffle, sampler, and "
                    "drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError(
                    "batch_size=None option disables auto-batching "
                    "and is mutually exclusive with drop_last"
                )

        if sampler is None:
            if self._dataset_kind == "iterable":
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)

        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator

        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._initialized = True

    def __setattr__(self, attr, val):
        if self._initialized and attr in (
            "batch_size",
            "batch_sampler",
            "sampler",
            "drop_last",
            "dataset",
            "persistent_workers",
        ):
            raise ValueError(
                f"{attr} attribute should not be set after {self.__class__.__name__} is initialized"
            )
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _fetch(self, indices):
        dataset = self.dataset
        if (
            type(dataset) is TensorDataset
            and self.collate_fn is default_collate
            and len(indices) > 0
        ):
            # Same result as collating the rows one by one, in one indexing call per tensor.
            index = rgrad.tensor(indices, dtype=rgrad.int64)
            return [tensor[index] for tensor in dataset.tensors]
        getitems = getattr(dataset, "__getitems__", None)
        if callable(getitems):
            data = getitems(indices)
        else:
            data = [dataset[idx] for idx in indices]
        return self.collate_fn(data)

    def _iter_iterable(self):
        it = iter(self.dataset)
        if not self._auto_collation:
            for item in it:
                yield self.collate_fn(item)
            return
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)

    def _iter_map(self):
        if self._auto_collation:
            for indices in self.batch_sampler:
                yield self._fetch(list(indices))
        else:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])

    def __iter__(self):
        batches = self._iter_iterable() if self._dataset_kind == "iterable" else self._iter_map()
        return _SingleProcessDataLoaderIter(self, batches)

    def __len__(self):
        if self._dataset_kind == "iterable":
            length = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    length = length // self.batch_size
                else:
                    length = math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


class _SingleProcessDataLoaderIter:
    """What ``iter(loader)`` returns, as PyTorch's: an iterator over the batches that also
    has ``len()`` (the loader's)."""

    def __init__(self, loader, batches):
        self._loader = loader
        self._batches = batches

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._batches)

    def __len__(self):
        return len(self._loader)
