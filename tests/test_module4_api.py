"""The smaller PyTorch API surface module-4 programs touch (issue 12, item 7): rgrad.accelerator,
the device flags on tensors, rgrad.backends.cudnn and rgrad.nn.parallel as modules, indexing
with a range, the legacy tensor types and autograd.Variable. Expected values are PyTorch
2.15's (checked with it)."""

import importlib
import pickle

import numpy as np
import pytest

import rgrad
import rgrad.nn as nn


def test_accelerator_is_the_wgpu_device_or_none():
    acc = rgrad.accelerator
    if rgrad.wgpu.is_available():
        assert acc.is_available() and acc.device_count() == 1
        assert acc.current_accelerator() == rgrad.device("wgpu")
    else:
        assert not acc.is_available() and acc.device_count() == 0
        assert acc.current_accelerator() is None
    # The device-agnostic idiom runs either way.
    device = acc.current_accelerator() if acc.is_available() else rgrad.device("cpu")
    assert rgrad.ones(2, device=device).sum().item() == 2.0


def test_tensor_device_flags():
    t = rgrad.ones(2)
    assert t.is_cuda is False and t.is_xpu is False and t.is_mps is False
    assert t.is_cpu is True


@pytest.mark.parametrize(
    "name", ["rgrad.backends.cudnn", "rgrad.backends.mps", "rgrad.nn.parallel"]
)
def test_submodules_import_as_modules(name):
    mod = importlib.import_module(name)
    assert mod.__name__ == name


def test_cudnn_flags_keep_what_is_set():
    import rgrad.backends.cudnn as cudnn

    assert cudnn.enabled is True and cudnn.benchmark is False and cudnn.deterministic is False
    assert cudnn.is_available() is False and rgrad.backends.cudnn is cudnn
    cudnn.deterministic, cudnn.benchmark = True, True
    try:
        assert rgrad.backends.cudnn.deterministic and rgrad.backends.cudnn.benchmark
    finally:
        cudnn.deterministic, cudnn.benchmark = False, False


def test_data_parallel_is_a_pass_through_with_pytorchs_keys():
    lin = nn.Linear(2, 3)
    dp = nn.DataParallel(lin)
    assert dp.module is lin and dp.device_ids == []
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    x = rgrad.randn(4, 2)
    assert rgrad.equal(dp(x), lin(x))
    assert repr(dp).startswith("DataParallel(\n  (module): Linear(")
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        nn.parallel.DistributedDataParallel(lin)


def test_indexing_with_a_range_is_indexing_with_its_list():
    t = rgrad.arange(10.0)
    assert t[range(2)].tolist() == [0.0, 1.0]
    assert t[range(1, 7, 2)].tolist() == [1.0, 3.0, 5.0]
    assert t[range(0)].shape == (0,)
    x = rgrad.arange(12).view(3, 4)
    assert x[range(2)].shape == (2, 4) and x[:, range(3)].shape == (3, 3)
    assert x[range(2), range(2)].tolist() == [0, 5]
    x[range(1, 3)] = 0
    assert x.sum().item() == 6
    with pytest.raises(IndexError):
        t[range(8, 12)]


def test_legacy_tensor_types():
    assert rgrad.FloatTensor(2, 3).shape == (2, 3)
    assert rgrad.FloatTensor(2, 3).dtype == rgrad.float32
    assert rgrad.FloatTensor([1, 2]).tolist() == [1.0, 2.0]
    assert rgrad.LongTensor([1.7, 2]).tolist() == [1, 2]
    assert rgrad.BoolTensor([0, 2]).tolist() == [False, True]
    assert rgrad.IntTensor(3).dtype == rgrad.int32 and rgrad.DoubleTensor(1).dtype == rgrad.float64
    assert rgrad.FloatTensor().shape == (0,)
    assert rgrad.FloatTensor(rgrad.Size([2])).tolist() == [0.0, 0.0]
    t = rgrad.ones(2)
    assert rgrad.FloatTensor(t) is t
    with pytest.raises(TypeError):
        rgrad.FloatTensor(rgrad.ones(2, dtype=rgrad.float64))
    with pytest.raises(TypeError, match="new\\(\\): invalid data type 'str'"):
        rgrad.FloatTensor("a")
    with pytest.raises(TypeError, match="failed to unpack the object at pos 1"):
        rgrad.FloatTensor(2, "a")
    assert rgrad.ByteTensor([1, 2]).dtype is rgrad.uint8
    assert isinstance(rgrad.ones(2).half(), rgrad.HalfTensor)
    assert isinstance(rgrad.ones(2), rgrad.FloatTensor)
    assert not isinstance(rgrad.ones(2, dtype=rgrad.float64), rgrad.FloatTensor)
    assert isinstance(rgrad.ones(2).double(), rgrad.DoubleTensor)
    assert isinstance(rgrad.arange(3), rgrad.LongTensor) and not isinstance(3, rgrad.LongTensor)
    assert rgrad.FloatTensor.dtype == rgrad.float32 and rgrad.FloatTensor.is_cuda is False


def test_variable_returns_tensors():
    from rgrad.autograd import Variable

    x = rgrad.ones(2)
    v = Variable(x, requires_grad=True)
    assert type(v) is rgrad.Tensor and v.requires_grad and v.is_leaf
    (v * 3).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [3.0, 3.0])
    assert not Variable(x).requires_grad and isinstance(x, Variable)
    v.detach().add_(1)  # shares x's data, as PyTorch's Variable(x) does
    assert x.tolist() == [2.0, 2.0]
    assert not isinstance(3, Variable)
    assert pickle.loads(pickle.dumps(v.detach())).tolist() == [2.0, 2.0]
