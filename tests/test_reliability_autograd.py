"""Autograd reliability (issue 11, items 6, 7, 8 and the wrapper identity of 16): exceptions
raised in Python callbacks keep their type, what Python code hands the engine is validated as
PyTorch validates it, reference cycles through the Rust graph are collected, and one core
tensor has one Python object. Texts are PyTorch's."""

import gc
import traceback
import weakref

import pytest

import rgrad as torch
from rgrad import nn

# ---- item 7: exceptions keep their type -----------------------------------------------------


class Boom(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return 1 / 0


def test_hook_exception_is_the_same_object():
    err = ValueError("boom")

    def hook(g):
        raise err

    leaf = torch.ones(3, requires_grad=True)
    leaf.register_hook(hook)
    with pytest.raises(ValueError) as info:
        (leaf * 2).sum().backward()
    assert info.value is err
    # The traceback still reaches the hook's own frame.
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "hook" in frames

    y = torch.ones(3, requires_grad=True) * 2
    y.register_hook(hook)
    with pytest.raises(ValueError) as info:
        torch.autograd.grad(y.sum(), y)
    assert info.value is err


def test_custom_backward_exception_keeps_type_and_traceback():
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(ZeroDivisionError) as info:
        Boom.apply(x).sum().backward()
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "backward" in frames
    assert x.grad is None


def test_keyboard_interrupt_in_hook_stays_keyboard_interrupt():
    x = torch.ones(3, requires_grad=True)

    def hook(g):
        raise KeyboardInterrupt

    handle = x.register_hook(hook)
    with pytest.raises(KeyboardInterrupt):
        (x * 2).sum().backward()
    # The engine stopped cleanly: without the hook the same kind of graph runs again.
    handle.remove()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


# ---- item 8: validation of what hooks and custom backwards return ---------------------------


def _hook_error(hook, leaf):
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    (x if leaf else y).register_hook(hook)
    y.sum().backward()


@pytest.mark.parametrize("leaf", [True, False])
def test_hook_result_is_checked(leaf):
    with pytest.raises(RuntimeError, match=r"^hook '<lambda>' has changed the size of value$"):
        _hook_error(lambda g: torch.ones(4), leaf)
    with pytest.raises(
        RuntimeError,
        match=r"^hook '<lambda>' has changed the type of value \(was torch.FloatTensor got "
        r"torch.DoubleTensor\)$",
    ):
        _hook_error(lambda g: g.double(), leaf)
    with pytest.raises(TypeError, match=r"^expected Variable, but hook returned 'int'$"):
        _hook_error(lambda g: 3, leaf)


_RESULT = [None]


class G(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return _RESULT[0](g)


def _custom_grad(result):
    _RESULT[0] = result
    x = torch.ones(3, requires_grad=True)
    G.apply(x).sum().backward()
    return x.grad


def test_custom_backward_result_is_validated():
    with pytest.raises(
        RuntimeError,
        match=r"^Function GBackward returned an invalid gradient at index 0 - got \[4\] but "
        r"expected shape compatible with \[3\]$",
    ):
        _custom_grad(lambda g: torch.ones(4))
    with pytest.raises(RuntimeError, match=r"got \[\] but expected shape compatible with \[3\]"):
        _custom_grad(lambda g: torch.tensor(1.0))
    with pytest.raises(RuntimeError, match=r"^expected Variable or None \(got int\)$"):
        _custom_grad(lambda g: 3)
    # A broadcastable gradient is summed to the input's size, another dtype is cast.
    grad = _custom_grad(lambda g: torch.ones(2, 3))
    assert grad.tolist() == [2.0, 2.0, 2.0]
    grad = _custom_grad(lambda g: g.double())
    assert grad.dtype == torch.float32 and grad.tolist() == [1.0, 1.0, 1.0]
    grad = _custom_grad(lambda g: torch.ones(3, dtype=torch.int64))
    assert grad.dtype == torch.float32


class Saves(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x * 2
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * 2


def test_save_for_backward_refuses_non_tensors():
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 2

    with pytest.raises(
        TypeError,
        match=r"^save_for_backward can only save variables, but argument 1 is of type int$",
    ):
        Bad.apply(torch.ones(3, requires_grad=True))


def test_saved_tensors_are_version_checked():
    x = torch.ones(3, requires_grad=True)
    x2 = x.clone()
    y = Saves.apply(x2)
    x2.mul_(2)
    with pytest.raises(
        RuntimeError,
        match=r"^one of the variables needed for gradient computation has been modified by an "
        r"inplace operation: \[torch.FloatTensor \[3\]\], which is output 0 of Mul, is at version "
        r"1; expected version 0 instead. Hint:",
    ):
        y.sum().backward()

    y = Saves.apply(torch.ones(3, requires_grad=True))
    with torch.no_grad():
        y.mul_(2)
    with pytest.raises(
        RuntimeError, match=r"FloatTensor \[3\]\], which is output 0 of Saves, is at"
    ):
        y.sum().backward()


def test_saved_output_keeps_its_history():
    seen = {}

    class Out(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.save_for_backward(x, y)
            return y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            seen["x"], seen["y"] = x, y
            return g * 2

    x = torch.ones(3, requires_grad=True)
    y = Out.apply(x)
    y.sum().backward()
    assert seen["x"] is x
    assert seen["y"].grad_fn is not None and seen["y"].requires_grad
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


# ---- item 6: cycles through the Rust graph are collectable ----------------------------------


def _collected(make):
    """Builds an object graph with `make()` (returning the tensor to watch), drops it and
    reports whether the garbage collector freed it."""
    gc.collect()
    ref = weakref.ref(make())
    gc.collect()
    return ref() is None


class SavesOutput(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x * 2
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * 2


class KeepsOutput(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x * 2
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_function_keeping_its_output_is_freed():
    x = torch.ones(3, requires_grad=True)
    assert _collected(lambda: SavesOutput.apply(x))
    assert _collected(lambda: KeepsOutput.apply(x))


def test_function_cycle_does_not_grow_memory():
    x = torch.ones(64, 64, requires_grad=True)
    gc.collect()
    refs = []
    for _ in range(200):
        y = KeepsOutput.apply(x)
        refs.append(weakref.ref(y))
        z = SavesOutput.apply(x)
        refs.append(weakref.ref(z))
        del y, z
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


def test_self_referencing_hook_is_freed():
    def leaf():
        x = torch.ones(3, requires_grad=True)
        x.register_hook(lambda g, x=x: g)
        return x

    def kept_handle():
        x = torch.ones(3, requires_grad=True)
        x.handle = x.register_hook(lambda g, x=x: g)
        return x

    def non_leaf():
        y = torch.ones(3, requires_grad=True) * 2
        y.register_hook(lambda g, y=y: g)
        return y

    assert _collected(leaf)
    assert _collected(kept_handle)
    assert _collected(non_leaf)


def test_collecting_a_live_graph_keeps_it_working():
    # A cycle that is still reachable must survive collection intact.
    x = torch.ones(3, requires_grad=True)
    y = KeepsOutput.apply(x)
    x.register_hook(lambda g, x=x: g * 2)
    gc.collect()
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


# ---- item 16: one Python object per tensor --------------------------------------------------


def test_grad_is_the_same_object():
    x = torch.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad is x.grad
    g = x.grad
    g.note = "kept"  # attributes live on the one wrapper while it is alive
    assert x.grad.note == "kept"
    y = x * 3
    assert y.grad_fn.next_functions[0][0].variable is x


def test_parameter_identity():
    p = nn.Parameter(torch.ones(3))
    (p * 2).sum().backward()
    assert p.grad is p.grad
    assert type(p.grad) is torch.Tensor
    variable = (p * 2).grad_fn.next_functions[0][0].variable
    assert variable is p and type(variable) is nn.Parameter
    model = nn.Linear(2, 2)
    assert model.weight is model.weight
    assert model.weight is next(model.parameters())
    # Operations on a Parameter still return plain tensors, never the Parameter itself.
    assert type(p.reshape(3)) is torch.Tensor and p.reshape(3) is not p


def test_collection_while_tensors_are_created_is_safe():
    # A collection can start while a tensor object is being allocated; traversing it then must
    # not read its unwritten fields (run in a subprocess: the failure mode is a segfault).
    import subprocess
    import sys

    code = (
        "import gc, rgrad as torch\n"
        "gc.set_threshold(1, 1, 1)\n"
        "x = torch.randn(3, requires_grad=True)\n"
        "for _ in range(200):\n"
        "    z = (x > 0.1)\n"
        "    y = x.where(z, 2.0).sum()\n"
        "    y.backward()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_saved_second_output_is_named_by_its_index():
    class Two(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            a, b = x * 2, x * 3
            ctx.save_for_backward(b)
            return a, b

        @staticmethod
        def backward(ctx, ga, gb):
            (b,) = ctx.saved_tensors
            return ga + gb

    a, b = Two.apply(torch.ones(3, requires_grad=True))
    with torch.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match=r"which is output 1 of Two, is at version 1"):
        (a + b).sum().backward()
