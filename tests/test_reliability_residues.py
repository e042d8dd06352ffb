"""Residues of the reliability work: PyTorch's values for ``x ** 0.5`` (sqrt) and ``x ** -0.5``
(rsqrt) at -inf and -0.0, a custom Function whose ctx keeps its own grad_fn is collected, and the
``out=`` wrapper of ``torch.add`` and friends forwards keywords unchanged."""

import gc
import json
import math
import pathlib
import weakref

import pytest

import rgrad as T

POW = json.loads((pathlib.Path(__file__).parent / "data" / "pow_special.json").read_text())["cases"]


def _decode(v):
    return float(v) if isinstance(v, str) else v


def _same(a, b):
    if math.isnan(b):
        return math.isnan(a)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@pytest.mark.parametrize("case", POW, ids=[f"{c['dtype']}-{c['exponent']}" for c in POW])
def test_pow_scalar_special_values(case):
    x = T.tensor([_decode(v) for v in case["x"]], dtype=getattr(T, case["dtype"]))
    got = (x ** case["exponent"]).tolist()
    want = [_decode(v) for v in case["out"]]
    assert all(_same(g, w) for g, w in zip(got, want)), (got, want)


def test_pow_half_gradient_is_unchanged():
    x = T.tensor([0.25, 4.0], dtype=T.float64, requires_grad=True)
    assert T.autograd.gradcheck(lambda t: t**0.5, (x,))
    assert T.autograd.gradcheck(lambda t: t**-0.5, (x,))


_CTXS = []


class KeepsCtx(T.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.big = T.zeros(1000)
        _CTXS.append(ctx)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_ctx_holding_its_grad_fn_is_collected():
    # node -> custom backward -> ctx -> grad_fn object -> node: a cycle through Rust.
    gc.collect()
    refs = []
    for _ in range(3):
        x = T.ones(3, requires_grad=True)
        y = KeepsCtx.apply(x)
        ctx = _CTXS.pop()
        ctx.fn = y.grad_fn
        refs.append(weakref.ref(ctx))
        del x, y, ctx
    gc.collect()
    assert all(r() is None for r in refs)


def test_ctx_holding_its_grad_fn_still_backpropagates():
    x = T.ones(3, requires_grad=True)
    y = KeepsCtx.apply(x)
    _CTXS.pop().fn = y.grad_fn
    y.sum().backward()
    assert x.grad.tolist() == [2.0] * 3


def test_out_wrapper_forwards_arguments():
    a, b = T.ones(3), T.full((3,), 2.0)
    assert T.add(a, b).tolist() == [3.0] * 3
    assert T.add(a, b, alpha=2).tolist() == [5.0] * 3
    assert T.add(a, other=b, alpha=3).tolist() == [7.0] * 3
    r = T.empty(3)
    assert T.add(a, b, alpha=2, out=r) is r and r.tolist() == [5.0] * 3
    assert T.add(a, b, out=None).tolist() == [3.0] * 3
    assert T.add.__name__ == "add"
    assert T.relu(T.tensor([-1.0, 1.0])).tolist() == [0.0, 1.0]
    with pytest.raises(
        TypeError, match=r"^relu\(\): argument 'input' \(position 1\) must be Tensor, not list$"
    ):
        T.relu([1.0])
    with pytest.raises(TypeError, match="unexpected keyword|got an unexpected"):
        T.add(a, b, bogus=1)
