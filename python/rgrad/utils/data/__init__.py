"""Datasets, samplers and the DataLoader, with PyTorch's API (``torch.utils.data``).

Loading runs in the calling process: ``num_workers``, ``pin_memory``, ``timeout``,
``worker_init_fn``, ``prefetch_factor`` and ``persistent_workers`` are accepted (and validated)
for compatibility, and batches are produced in order in the main process.

Randomness (shuffling, ``random_split``, the random samplers) takes a ``generator`` argument:

* ``None`` (the default) draws from rgrad's global generator, so ``rgrad.manual_seed(s)``
  makes shuffling and splits reproducible, as ``torch.manual_seed`` does in PyTorch; each
  epoch of a shuffling DataLoader gets a new permutation;
* a ``numpy.random.Generator`` (or ``RandomState``) is used directly, its state advancing;
* an ``int`` seeds a private ``rgrad.Generator``, created when the sampler is built (each
  epoch still gets a new permutation; the sequence of epochs is reproducible);
* an ``rgrad.Generator`` is drawn from, its state advancing (``g.manual_seed(s)`` restarts
  it, as in PyTorch);
* any other object with an ``initial_seed()`` method (``torch.Generator``-like) is mapped
  to an ``rgrad.Generator`` seeded with
  ``initial_seed()`` and shared by everything using that object, so its stream advances across
  epochs and users; it restarts when ``initial_seed()`` returns a different value (re-seeding
  with the *same* seed is not detected: pass a new generator object for that).

The permutations are ``rgrad.randperm``'s (drawn in the core), so they differ from PyTorch's
for the same seed.
"""

from rgrad.utils.data import (  # noqa: F401  (PyTorch's submodules)
    _utils,
    dataloader,
    dataset,
    distributed,
    sampler,
)
from rgrad.utils.data._utils.collate import default_collate, default_convert
from rgrad.utils.data.dataloader import DataLoader, get_worker_info
from rgrad.utils.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from rgrad.utils.data.distributed import DistributedSampler
from rgrad.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "DistributedSampler",
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
