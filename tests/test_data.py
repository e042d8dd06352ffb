"""rgrad.utils.data: datasets, samplers, DataLoader batching/shuffling, default_collate,
random_split."""

import collections
import warnings

import numpy as np
import pytest

import rgrad as torch
import rgrad.utils.data  # noqa: F401  (makes torch.utils.data available)
from rgrad.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)


def _xy(n=10):
    x = torch.arange(n * 3, dtype=torch.float64).reshape(n, 3)
    y = torch.arange(n)
    return x, y


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": float(i), "sq": i * i, "name": f"s{i}"}


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def _order(loader):
    """The sample order of a DataLoader over TensorDataset(x, arange)."""
    return [int(i) for _, y in loader for i in y.tolist()]


# ---------------------------------------------------------------------------- datasets


def test_namespace():
    assert torch.utils.data.DataLoader is DataLoader
    assert torch.utils.data.TensorDataset is TensorDataset


def test_tensor_dataset():
    x, y = _xy(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[2]
    np.testing.assert_array_equal(xi.numpy(), [6.0, 7.0, 8.0])
    assert yi.item() == 2
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(x, torch.arange(4))


def test_base_dataset_and_concat():
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    both = Squares(3) + Squares(2)
    assert isinstance(both, ConcatDataset)
    assert len(both) == 5
    assert both[3]["sq"] == 0 and both[4]["sq"] == 1 and both[-1]["sq"] == 1
    assert both.cumulative_sizes == [3, 5]


def test_subset():
    sub = Subset(Squares(10), [7, 2, 5])
    assert len(sub) == 3
    assert sub[0]["sq"] == 49
    assert [s["sq"] for s in sub.__getitems__([2, 1])] == [25, 4]


# ---------------------------------------------------------------------------- batching


def test_batches_and_last_partial_batch():
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    xb, yb = batches[0]
    assert isinstance(batches[0], list)  # tuples of samples collate into a list, as PyTorch
    assert xb.shape == (4, 3) and xb.dtype == torch.float64
    assert yb.dtype == torch.int64
    np.testing.assert_array_equal(xb.numpy(), x.numpy()[:4])
    np.testing.assert_array_equal(batches[2][1].numpy(), [8, 9])
    assert _order(loader) == list(range(10))


def test_drop_last():
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    batches = list(loader)
    assert len(loader) == 2 and len(batches) == 2
    assert all(b[0].shape[0] == 4 for b in batches)
    assert _order(loader) == list(range(8))
    exact = DataLoader(TensorDataset(x, y), batch_size=5, drop_last=True)
    assert len(exact) == 2 and len(list(exact)) == 2


def test_default_batch_size_is_one():
    x, y = _xy(3)
    batches = list(DataLoader(TensorDataset(x, y)))
    assert len(batches) == 3
    assert batches[1][0].shape == (1, 3)


def test_tensor_dataset_fast_path_equals_default_collate():
    x, y = _xy(7)
    ds = TensorDataset(x, y)
    by_rows = default_collate([ds[i] for i in [5, 0, 3]])
    fetched = DataLoader(ds, sampler=[5, 0, 3], batch_size=3)
    (batch,) = list(fetched)
    assert isinstance(batch, list) and len(batch) == 2
    for a, b in zip(batch, by_rows):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_batch_size_none_disables_batching():
    loader = DataLoader(Squares(3), batch_size=None)
    items = list(loader)
    assert len(loader) == 3
    assert items[1] == {"x": 1.0, "sq": 1, "name": "s1"}  # default_convert leaves numbers
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(Squares(3), batch_size=None, drop_last=True)


def test_custom_collate_fn_and_dataset():
    loader = DataLoader(Squares(5), batch_size=2, collate_fn=lambda b: [s["sq"] for s in b])
    assert list(loader) == [[0, 1], [4, 9], [16]]


def test_batch_sampler_and_sampler_options():
    x, y = _xy(6)
    ds = TensorDataset(x, y)
    loader = DataLoader(ds, batch_sampler=[[5, 4], [0, 1, 2]])
    assert [b[1].tolist() for b in loader] == [[5, 4], [0, 1, 2]]
    assert loader.batch_size is None
    loader = DataLoader(ds, sampler=SequentialSampler(ds), batch_size=4)
    assert _order(loader) == list(range(6))
    loader = DataLoader(ds, sampler=[3, 1, 2], batch_size=2)
    assert _order(loader) == [3, 1, 2]
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)


def test_attributes_frozen_after_init():
    loader = DataLoader(Squares(3), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3


def test_num_workers_runs_in_process():
    x, y = _xy(6)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, num_workers=2)
    assert _order(loader) == list(range(6))
    assert torch.utils.data.get_worker_info() is None


def test_batch_sampler_lengths():
    assert len(BatchSampler(range(10), 3, drop_last=False)) == 4
    assert len(BatchSampler(range(10), 3, drop_last=True)) == 3
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(5), 2, drop_last=1)


def test_iterable_dataset():
    loader = DataLoader(Stream(7), batch_size=3)
    batches = list(loader)
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(loader) == 3
    dropped = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.tolist() for b in dropped] == [[0, 1, 2], [3, 4, 5]]
    assert len(dropped) == 2
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    chained = Stream(2) + Stream(3)
    assert list(chained) == [0, 1, 0, 1, 2] and len(chained) == 5


# ---------------------------------------------------------------------------- shuffling


def test_shuffle_is_a_permutation_and_changes_each_epoch():
    x, y = _xy(50)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    first, second = _order(loader), _order(loader)
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert first != list(range(50))
    assert first != second
    # Rows and labels stay together.
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.numpy()[:, 0], 3 * yb.numpy().astype(np.float64))


def test_shuffle_reproducible_with_manual_seed():
    x, y = _xy(40)
    ds = TensorDataset(x, y)
    torch.manual_seed(1234)
    a = [_order(DataLoader(ds, batch_size=5, shuffle=True)) for _ in range(2)]
    torch.manual_seed(1234)
    b = [_order(DataLoader(ds, batch_size=5, shuffle=True)) for _ in range(2)]
    assert a == b
    assert a[0] != a[1]


def test_shuffle_reproducible_with_numpy_generator():
    x, y = _xy(40)
    ds = TensorDataset(x, y)

    def epochs(gen):
        loader = DataLoader(ds, batch_size=5, shuffle=True, generator=gen)
        return [_order(loader) for _ in range(3)]

    a = epochs(np.random.default_rng(7))
    b = epochs(np.random.default_rng(7))
    assert a == b
    assert a[0] != a[1] != a[2]
    assert epochs(np.random.default_rng(8)) != a
    # An int seed behaves the same way: reproducible across loaders, new order every epoch.
    assert epochs(7) == epochs(7)
    assert len({tuple(e) for e in epochs(7)}) == 3


class SeededGenerator:
    """A torch.Generator-like object: manual_seed / initial_seed only."""

    def __init__(self):
        self._seed = 0

    def manual_seed(self, seed):
        self._seed = seed
        return self

    def initial_seed(self):
        return self._seed


def test_shuffle_with_generator_like_object():
    x, y = _xy(30)
    ds = TensorDataset(x, y)
    g = SeededGenerator().manual_seed(3)
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=g)
    first, second = _order(loader), _order(loader)
    assert first != second  # the generator's stream advances
    g2 = SeededGenerator().manual_seed(3)
    loader2 = DataLoader(ds, batch_size=4, shuffle=True, generator=g2)
    assert [_order(loader2), _order(loader2)] == [first, second]
    g2.manual_seed(4)  # a new seed restarts the stream
    assert _order(loader2) != first
    with pytest.raises(TypeError, match="generator must be"):
        list(RandomSampler(ds, generator="seed"))


class SlottedGenerator:
    """Like SeededGenerator, but not weak-referenceable (as a compiled class can be)."""

    __slots__ = ("_seed",)

    def __init__(self, seed):
        self._seed = seed

    def initial_seed(self):
        return self._seed


def test_shuffle_with_non_weakrefable_generator():
    x, y = _xy(30)
    ds = TensorDataset(x, y)
    g = SlottedGenerator(5)
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=g)
    first, second = _order(loader), _order(loader)
    assert first != second
    loader2 = DataLoader(ds, batch_size=4, shuffle=True, generator=SlottedGenerator(5))
    assert [_order(loader2), _order(loader2)] == [first, second]


def test_shuffle_independent_of_global_seed_with_generator():
    x, y = _xy(20)
    ds = TensorDataset(x, y)
    torch.manual_seed(0)
    a = _order(DataLoader(ds, shuffle=True, generator=np.random.default_rng(1)))
    torch.manual_seed(99)
    b = _order(DataLoader(ds, shuffle=True, generator=np.random.default_rng(1)))
    assert a == b


def test_random_samplers():
    ds = Squares(10)
    with_replacement = list(
        RandomSampler(ds, replacement=True, num_samples=100, generator=np.random.default_rng(0))
    )
    assert len(with_replacement) == 100
    assert set(with_replacement) <= set(range(10)) and len(set(with_replacement)) > 5
    more = list(RandomSampler(ds, num_samples=25, generator=np.random.default_rng(0)))
    assert len(more) == 25
    assert sorted(more[:10]) == list(range(10)) and sorted(more[10:20]) == list(range(10))
    assert len(RandomSampler(ds, num_samples=25)) == 25
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(ds, replacement=1)

    sub = list(SubsetRandomSampler([4, 8, 15], generator=np.random.default_rng(0)))
    assert sorted(sub) == [4, 8, 15]

    weighted = list(WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 200, generator=0))
    assert set(weighted) == {1, 3}
    assert weighted.count(3) > weighted.count(1)
    no_repeat = list(WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False, generator=0))
    assert sorted(no_repeat) == [0, 1, 2]


# ----------------------------------------------------------------------------- collate


def test_collate_tensors_numbers_and_strings():
    t = default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])
    assert t.shape == (2, 2) and t.dtype == torch.float32
    floats = default_collate([1.5, 2.5])
    assert floats.dtype == torch.float64 and floats.tolist() == [1.5, 2.5]
    ints = default_collate([1, 2, 3])
    assert ints.dtype == torch.int64 and ints.tolist() == [1, 2, 3]
    bools = default_collate([True, False])
    assert bools.dtype == torch.bool
    assert default_collate(["a", "b"]) == ["a", "b"]


def test_collate_numpy():
    arrays = default_collate([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    assert arrays.dtype == torch.float64 and arrays.shape == (2, 2)
    scalars = default_collate([np.float32(1.0), np.float32(2.0)])
    assert scalars.dtype == torch.float32 and scalars.shape == (2,)
    uint8 = default_collate([np.array([1, 2], dtype=np.uint8)] * 2)
    assert uint8.dtype == torch.int64  # widened: rgrad has no uint8
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_collate_tuples_lists_dicts():
    batch = default_collate([(torch.tensor(1.0), 1), (torch.tensor(2.0), 2)])
    assert isinstance(batch, list) and len(batch) == 2
    assert batch[0].tolist() == [1.0, 2.0] and batch[1].tolist() == [1, 2]

    lists = default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(lists, list)
    assert lists[0].dtype == torch.int64 and lists[1].dtype == torch.float64

    dicts = default_collate([{"a": 1, "b": {"c": 0.5}}, {"a": 2, "b": {"c": 1.5}}])
    assert set(dicts) == {"a", "b"}
    assert dicts["a"].tolist() == [1, 2] and dicts["b"]["c"].tolist() == [0.5, 1.5]

    ordered = default_collate([collections.OrderedDict(z=1, y=2)] * 2)
    assert isinstance(ordered, collections.OrderedDict) and list(ordered) == ["z", "y"]

    Point = collections.namedtuple("Point", ["x", "y"])
    points = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(points, Point)
    assert points.x.tolist() == [1, 3] and points.y.tolist() == [2.0, 4.0]

    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])


def test_dataloader_collates_dict_samples():
    loader = DataLoader(Squares(5), batch_size=2)
    first = next(iter(loader))
    assert first["x"].dtype == torch.float64 and first["x"].tolist() == [0.0, 1.0]
    assert first["sq"].tolist() == [0, 1]
    assert first["name"] == ["s0", "s1"]
    assert [b["sq"].tolist() for b in loader][-1] == [16]


def test_default_convert():
    converted = default_convert({"a": np.array([1, 2]), "b": (np.float64(1.5), "s")})
    assert isinstance(converted["a"], torch.Tensor) and converted["a"].tolist() == [1, 2]
    assert converted["b"][0].item() == 1.5 and converted["b"][1] == "s"
    t = torch.ones(2)
    assert default_convert(t) is t
    Pair = collections.namedtuple("Pair", ["a", "b"])
    pair = default_convert(Pair(np.array([1.0]), 2))
    assert isinstance(pair, Pair) and isinstance(pair.a, torch.Tensor) and pair.b == 2
    listed = default_convert([np.array([1, 2]), "x"])
    assert isinstance(listed, list) and listed[0].tolist() == [1, 2] and listed[1] == "x"
    strings = np.array(["a", "b"])
    assert default_convert(strings) is strings


# ------------------------------------------------------------------------ random_split


def _disjoint_cover(parts, n):
    indices = [i for part in parts for i in part.indices]
    assert sorted(indices) == list(range(n))


def test_random_split_lengths():
    ds = Squares(10)
    parts = random_split(ds, [3, 7], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [3, 7]
    assert all(isinstance(p, Subset) and p.dataset is ds for p in parts)
    _disjoint_cover(parts, 10)
    assert {parts[0][i]["sq"] for i in range(3)} == {i * i for i in parts[0].indices}
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [3, 3])


def test_random_split_fractions():
    ds = Squares(11)
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=0)
    # floor: 5, 3, 2 -> remainder 1 goes to the first split
    assert [len(p) for p in parts] == [6, 3, 2]
    _disjoint_cover(parts, 11)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        empty = random_split(Squares(3), [0.9, 0.1], generator=0)
    assert [len(p) for p in empty] == [3, 0]
    assert any("Length of split at index 1 is 0" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [0.5, 0.6])


def test_random_split_reproducible():
    ds = Squares(20)

    def split(gen):
        return [p.indices for p in random_split(ds, [0.75, 0.25], generator=gen)]

    assert split(np.random.default_rng(5)) == split(np.random.default_rng(5))
    assert split(np.random.default_rng(5)) != split(np.random.default_rng(6))
    torch.manual_seed(42)
    a = split(None)
    torch.manual_seed(42)
    assert split(None) == a
    g = SeededGenerator().manual_seed(11)
    assert split(g) != split(g)  # the generator's stream advances
    assert (
        split(SeededGenerator().manual_seed(12))[0] != split(SeededGenerator().manual_seed(11))[0]
    )


def test_split_then_load():
    x, y = _xy(20)
    train, test = random_split(TensorDataset(x, y), [15, 5], generator=np.random.default_rng(0))
    loader = DataLoader(train, batch_size=4, shuffle=True, generator=np.random.default_rng(1))
    seen = _order(loader)
    assert sorted(seen) == sorted(train.indices)
    assert len(loader) == 4
    assert sorted(_order(DataLoader(test, batch_size=10))) == sorted(test.indices)


def test_pytorchs_submodule_paths_and_distributed_sampler():
    # minGPT and pytorch/examples import these paths
    from rgrad.utils.data._utils.collate import default_collate as collate
    from rgrad.utils.data.dataloader import DataLoader as Loader
    from rgrad.utils.data.dataset import Dataset as Ds
    from rgrad.utils.data.distributed import DistributedSampler
    from rgrad.utils.data.sampler import RandomSampler as Rs

    assert Loader is DataLoader and Ds is Dataset and Rs is torch.utils.data.RandomSampler
    assert collate([1, 2]).tolist() == [1, 2]
    data = list(range(10))
    # PyTorch 2.15's shares without shuffling: padded to 12, strided by rank
    shares = [
        list(DistributedSampler(data, num_replicas=3, rank=r, shuffle=False)) for r in range(3)
    ]
    assert shares == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    dropped = DistributedSampler(data, num_replicas=3, rank=0, shuffle=False, drop_last=True)
    assert list(dropped) == [0, 3, 6] and len(dropped) == 3
    s = DistributedSampler(data, num_replicas=2, rank=1, seed=3)
    first = list(s)
    assert sorted(first + list(DistributedSampler(data, num_replicas=2, rank=0, seed=3))) == data
    assert list(s) == first  # the same epoch gives the same order
    s.set_epoch(1)
    assert len(list(s)) == 5
    with pytest.raises(
        ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"
    ):
        DistributedSampler(data, num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(data)
