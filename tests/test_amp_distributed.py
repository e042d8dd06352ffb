"""``rgrad.amp`` (GradScaler, autocast) and ``rgrad.distributed`` (a process group of one), as
training scripts such as nanoGPT's train.py use them on a machine without CUDA. Expected values
are PyTorch 2.15's for the same calls."""

import warnings

import pytest

import rgrad as torch
import rgrad.distributed as dist
import rgrad.nn as nn


def _model_and_opt():
    torch.manual_seed(0)
    m = nn.Linear(2, 1)
    return m, torch.optim.SGD(m.parameters(), lr=0.1)


def test_cuda_grad_scaler_disables_itself_with_pytorchs_warnings():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s = torch.cuda.amp.GradScaler(enabled=True)
    texts = [str(x.message) for x in w]
    assert any("torch.cuda.amp.GradScaler(args...)` is deprecated" in t for t in texts)
    assert "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling." in texts
    assert not s.is_enabled() and s.get_scale() == 1.0 and s.state_dict() == {}
    m, opt = _model_and_opt()
    loss = m(torch.ones(3, 2)).sum()
    assert s.scale(loss) is loss
    loss.backward()
    before = m.weight.detach().clone()
    s.step(opt)
    s.update()
    assert torch.allclose(m.weight, before - 0.1 * m.weight.grad)


def test_cpu_grad_scaler_scales_unscales_skips_and_backs_off():
    s = torch.amp.GradScaler("cpu")
    assert s.is_enabled() and s.get_scale() == 65536.0
    assert s.state_dict() == {
        "scale": 65536.0,
        "growth_factor": 2.0,
        "backoff_factor": 0.5,
        "growth_interval": 2000,
        "_growth_tracker": 0,
    }
    m, opt = _model_and_opt()
    loss = m(torch.ones(3, 2)).sum()
    scaled = s.scale(loss)
    assert scaled.item() == pytest.approx(loss.item() * 65536.0)
    assert type(scaled.grad_fn).__name__ == "MulBackward0"
    scaled.backward()
    s.unscale_(opt)
    assert m.weight.grad.tolist() == [[3.0, 3.0]]
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        s.unscale_(opt)
    w0 = m.weight.detach().clone()
    s.step(opt)
    s.update()
    assert torch.allclose(m.weight, w0 - 0.3)
    assert s.get_scale() == 65536.0 and s.state_dict()["_growth_tracker"] == 1
    # an inf gradient: the step is skipped and the scale halves
    m.weight.grad.fill_(float("inf"))
    w1 = m.weight.detach().clone()
    assert s.step(opt) is None
    s.update()
    assert torch.equal(m.weight, w1) and s.get_scale() == 32768.0
    t = torch.amp.GradScaler("cpu")
    t.load_state_dict(s.state_dict())
    assert t.get_scale() == 32768.0


def test_grad_scaler_grows_after_the_interval():
    s = torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=2)
    m, opt = _model_and_opt()
    for _ in range(2):
        opt.zero_grad()
        s.scale(m(torch.ones(1, 2)).sum()).backward()
        s.step(opt)
        s.update()
    assert s.get_scale() == 8.0
    with pytest.raises(AssertionError, match="growth factor must be > 1.0"):
        torch.amp.GradScaler("cpu", growth_factor=1.0)


def test_autocast_on_cuda_warns_and_disables():
    with pytest.warns(UserWarning, match="Disabling autocast"):
        with torch.autocast("cuda"):
            assert not torch.is_autocast_enabled()
    with torch.autocast("cpu", enabled=False):
        assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.float32
    with pytest.raises(RuntimeError, match="Invalid device string: 'xpu2'"):
        torch.autocast("xpu2")
    # CPU autocast defaults to bfloat16 (tests/test_dtypes_reduced.py covers it)
    with torch.autocast("cpu"):
        assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.bfloat16


def test_single_process_group_and_ddp():
    assert dist.is_available() and not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="MPI backend"):
        dist.init_process_group("gloo", rank=0, world_size=2)
    dist.init_process_group("gloo", rank=0, world_size=1)
    try:
        assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "gloo")
        with pytest.raises(ValueError, match="initialize the default process group twice"):
            dist.init_process_group("gloo", rank=0, world_size=1)
        x = torch.tensor([1.0, 2.0])
        assert dist.all_reduce(x) is None and x.tolist() == [1.0, 2.0]
        assert dist.all_reduce(x, op=dist.ReduceOp.AVG, async_op=True).wait()
        out = [torch.zeros(2)]
        dist.all_gather(out, x)
        assert out[0].tolist() == [1.0, 2.0]
        dist.barrier()
        inner = nn.Linear(2, 2)
        ddp = nn.parallel.DistributedDataParallel(inner)
        assert list(ddp.state_dict()) == ["module.weight", "module.bias"]
        assert torch.equal(ddp(torch.ones(1, 2)), inner(torch.ones(1, 2)))
        with ddp.no_sync():
            assert not ddp.require_backward_grad_sync
        assert ddp.require_backward_grad_sync
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()
    with pytest.raises(AssertionError, match="Unknown backend type bogus"):
        dist.init_process_group("bogus", rank=0, world_size=1)
