"""``masked_scatter`` / ``masked_scatter_``: the source's elements in row-major order where the
mask (broadcast with the input) holds, PyTorch's errors, gradients to both inputs (float64
gradcheck and gradgradcheck), and the device kernel equal to the CPU."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rgrad as torch
from rgrad.autograd import gradcheck, gradgradcheck

WGPU = pytest.mark.skipif(
    os.environ.get("RGRAD_REQUIRE_WGPU") != "1" and not torch.wgpu.is_available(),
    reason="no wgpu adapter",
)


def reference(x, mask, source):
    """NumPy's statement of the op: broadcast, then fill the masked places in order."""
    x, mask = np.broadcast_arrays(np.asarray(x), np.asarray(mask))
    out = x.copy()
    out[mask] = np.asarray(source).reshape(-1)[: int(mask.sum())]
    return out


def test_values_in_row_major_order():
    x = torch.zeros(2, 3)
    m = torch.tensor([[True, False, True], [False, True, True]])
    s = torch.arange(1.0, 8.0)
    np.testing.assert_array_equal(x.masked_scatter(m, s).numpy(), [[1, 0, 2], [0, 3, 4]])
    np.testing.assert_array_equal(torch.masked_scatter(x, m, s).numpy(), [[1, 0, 2], [0, 3, 4]])
    # The source's own shape does not matter, only its row-major order.
    s2 = torch.arange(1.0, 7.0).reshape(3, 2).t()
    expected = reference(x.numpy(), m.numpy(), s2.numpy())
    np.testing.assert_array_equal(x.masked_scatter(m, s2).numpy(), expected)


def test_broadcasting_and_in_place():
    x = torch.zeros(1, 3)
    m = torch.tensor([[True, False, True], [False, True, True]])
    out = x.masked_scatter(m, torch.arange(1.0, 8.0))
    assert tuple(out.shape) == (2, 3)
    np.testing.assert_array_equal(out.numpy(), [[1, 0, 2], [0, 3, 4]])
    y = torch.zeros(2, 3)
    r = y.masked_scatter_(torch.tensor([True, False, True]), torch.arange(10.0))
    assert r is y
    np.testing.assert_array_equal(y.numpy(), [[0, 0, 1], [2, 0, 3]])
    # A 0-dim mask selects everything; integer tensors work too.
    np.testing.assert_array_equal(
        torch.zeros(3).masked_scatter(torch.tensor(True), torch.arange(3.0)).numpy(), [0, 1, 2]
    )
    ints = torch.zeros(3, dtype=torch.int64).masked_scatter(
        torch.tensor([True, False, True]), torch.tensor([1, 2])
    )
    assert ints.dtype == torch.int64 and ints.tolist() == [1, 0, 2]


def test_pytorch_errors():
    x, m, s = torch.zeros(2, 3), torch.tensor([[True, False, True], [False, True, True]]), None
    s = torch.arange(1.0, 8.0)
    cases = [
        (
            lambda: x.masked_scatter(m.float(), s),
            "masked_scatter_ only supports boolean masks, but got mask with dtype Float",
        ),
        (
            lambda: x.masked_scatter(m.to(torch.uint8), s),
            "masked_scatter_ only supports boolean masks, but got mask with dtype Byte",
        ),
        (
            lambda: x.masked_scatter(m, s.double()),
            "masked_scatter: expected self and source to have same dtypes but gotFloat and Double",
        ),
        (
            lambda: x.masked_scatter(m, torch.ones(2)),
            "Number of elements of source < number of ones in mask",
        ),
        (
            lambda: x.masked_scatter(torch.ones(4, dtype=torch.bool), s),
            "The size of tensor a (4) must match the size of tensor b (3) at non-singleton "
            "dimension 1",
        ),
        (
            lambda: torch.zeros(3).masked_scatter(
                torch.tensor([True, False, True]), torch.tensor(5.0)
            ),
            "Number of elements of source < number of ones in mask",
        ),
    ]
    for f, msg in cases:
        with pytest.raises(RuntimeError) as e:
            f()
        assert str(e.value) == msg
    # masked_fill's message names the dtype the same way.
    with pytest.raises(RuntimeError) as e:
        x.masked_fill(m.float(), 1.0)
    assert str(e.value) == "masked_fill_ only supports boolean masks, but got mask with dtype Float"
    # In place the mask must broadcast to self's shape.
    with pytest.raises(RuntimeError):
        x.masked_scatter_(torch.ones(2, 2, 3, dtype=torch.bool), s)
    np.testing.assert_array_equal(x.numpy(), np.zeros((2, 3)))


def test_gradients_reach_both_inputs():
    m = torch.tensor([[True, False, True], [False, True, True]])
    a = torch.zeros(2, 3, requires_grad=True)
    b = torch.arange(1.0, 8.0, requires_grad=True)
    y = a.masked_scatter(m, b)
    assert type(y.grad_fn).__name__ == "MaskedScatterBackward0"
    y.backward(torch.arange(6.0).reshape(2, 3) + 1)
    np.testing.assert_array_equal(a.grad.numpy(), [[0, 2, 0], [4, 0, 0]])
    np.testing.assert_array_equal(b.grad.numpy(), [1, 3, 5, 6, 0, 0, 0])
    # Broadcast self: its gradient is summed over the broadcast dim.
    a1 = torch.zeros(1, 3, requires_grad=True)
    a1.masked_scatter(m, b.detach()).sum().backward()
    np.testing.assert_array_equal(a1.grad.numpy(), [[1, 1, 0]])


def test_gradcheck_and_gradgradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 1, 4, dtype=torch.float64, generator=g, requires_grad=True)
    src = torch.randn(5, 6, dtype=torch.float64, generator=g, requires_grad=True)
    m = torch.rand(3, 2, 4, generator=g) < 0.5
    assert gradcheck(lambda a, b: a.masked_scatter(m, b), (x, src))
    assert gradgradcheck(lambda a, b: a.masked_scatter(m, b), (x, src))
    assert gradcheck(lambda a, b: a.clone().masked_scatter_(m[0, 0], b), (x, src))


@settings(max_examples=60, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4),
    data=st.data(),
)
def test_matches_the_numpy_statement(shapes, data):
    xs, ms = shapes.input_shapes
    x = data.draw(hnp.arrays(np.float64, xs, elements=st.floats(-5, 5)))
    m = data.draw(hnp.arrays(np.bool_, ms))
    k = int(np.broadcast_to(m, shapes.result_shape).sum())
    extra = data.draw(st.integers(0, 3))
    src = np.arange(1.0, k + extra + 1.0)
    out = torch.tensor(x).masked_scatter(torch.tensor(m), torch.tensor(src))
    np.testing.assert_array_equal(out.numpy(), reference(x, m, src))
    if extra == 0 and k > 0:
        with pytest.raises(RuntimeError, match="Number of elements of source"):
            torch.tensor(x).masked_scatter(torch.tensor(m), torch.tensor(src[:-1]))


@pytest.mark.wgpu
@WGPU
@pytest.mark.parametrize("dtype", [torch.float32, torch.int32, torch.bool])
@pytest.mark.parametrize(
    "shapes", [((2, 3), (2, 3)), ((1, 5), (4, 5)), ((700, 3), (3,)), ((0, 3), (3,))]
)
def test_device_equals_cpu(dtype, shapes):
    xs, ms = shapes
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(*xs, generator=g) * 10).to(dtype)
    m = torch.rand(*ms, generator=g) < 0.4
    n = int(torch.broadcast_tensors(x, m)[1].sum().item())
    src = (torch.rand(n + 2, generator=g) * 10).to(dtype)
    cpu = x.masked_scatter(m, src)
    dev = x.to("wgpu").masked_scatter(m.to("wgpu"), src.to("wgpu"))
    assert dev.device.type == "wgpu" and dev.dtype == cpu.dtype
    np.testing.assert_array_equal(dev.cpu().numpy(), cpu.numpy())
    if tuple(cpu.shape) != tuple(x.shape):
        return  # in place, the mask must broadcast to self's shape
    y = x.clone().to("wgpu")
    y.masked_scatter_(m.to("wgpu"), src.to("wgpu"))
    np.testing.assert_array_equal(y.cpu().numpy(), x.clone().masked_scatter_(m, src).numpy())


@pytest.mark.wgpu
@WGPU
def test_device_gradients_and_errors():
    m = torch.tensor([[True, False, True], [False, True, True]])
    a = torch.zeros(2, 3, device="wgpu", requires_grad=True)
    b = torch.arange(1.0, 8.0, device="wgpu", requires_grad=True)
    a.masked_scatter(m.to("wgpu"), b).backward((torch.arange(6.0).reshape(2, 3) + 1).to("wgpu"))
    np.testing.assert_array_equal(a.grad.cpu().numpy(), [[0, 2, 0], [4, 0, 0]])
    np.testing.assert_array_equal(b.grad.cpu().numpy(), [1, 3, 5, 6, 0, 0, 0])
    with pytest.raises(RuntimeError, match="Number of elements of source < number of ones in mask"):
        a.detach().masked_scatter(m.to("wgpu"), torch.ones(2, device="wgpu"))
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        a.detach().masked_scatter(m, b.detach())
