"""Autograd semantics, each test modelled on behaviour PyTorch documents: autograd.grad,
retain_grad, tensor hooks, version counters and in-place checks, .data / detach, custom
autograd.Function, grad modes, anomaly detection, freeing the graph, higher-order gradients."""

import gc
import math
import os
import tracemalloc
import weakref

import numpy as np
import pytest

import rgrad
from rgrad.autograd import gradcheck, gradgradcheck

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_LEAF_MSG = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation."
)
FREED_MSG = "Trying to backward through the graph a second time"
INPLACE_MSG = "modified by an inplace operation"


def leaf(values, dtype=None):
    return rgrad.tensor(values, dtype=dtype or rgrad.float64, requires_grad=True)


def close(t, expected, tol=1e-12):
    np.testing.assert_allclose(t.detach().numpy(), expected, rtol=tol, atol=tol)


# ---- rgrad.autograd.grad --------------------------------------------------------------------


def test_grad_returns_gradients_without_accumulating_into_grad():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = rgrad.autograd.grad((x * x).sum(), x)
    close(g, [2.0, 4.0, 6.0])
    assert x.grad is None
    assert not g.requires_grad  # no create_graph: the result has no history


def test_grad_accepts_a_single_tensor_or_sequences():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    z = (x * y).sum()
    gx, gy = rgrad.autograd.grad([z], [x, y])
    close(gx, [3.0, 4.0])
    close(gy, [1.0, 2.0])


def test_grad_allow_unused_gives_none_for_unused_inputs():
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    y = (x * 2).sum()
    gx, gu = rgrad.autograd.grad(y, [x, unused], allow_unused=True)
    close(gx, [2.0, 2.0])
    assert gu is None


def test_grad_unused_input_raises_without_allow_unused():
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        rgrad.autograd.grad(y, [x, unused], retain_graph=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        rgrad.autograd.grad(y, [x, unused], allow_unused=False)


def test_grad_materialize_grads_gives_zeros_for_unused():
    x, unused = leaf([1.0, 2.0]), leaf([5.0, 6.0])
    _, gu = rgrad.autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True)
    close(gu, [0.0, 0.0])


def test_grad_of_non_scalar_output_needs_grad_outputs():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    with pytest.raises(
        RuntimeError, match="grad can be implicitly created only for scalar outputs"
    ):
        rgrad.autograd.grad(y, x, retain_graph=True)
    (g,) = rgrad.autograd.grad(
        y, x, grad_outputs=rgrad.tensor([1.0, 0.0, 2.0], dtype=rgrad.float64)
    )
    close(g, [2.0, 0.0, 12.0])  # the vector-Jacobian product 2 x * v


def test_grad_with_several_outputs_sums_their_vjps():
    x = leaf([1.0, 2.0])
    y1, y2 = x * 3, x.exp()
    v1 = rgrad.tensor([1.0, -1.0], dtype=rgrad.float64)
    v2 = rgrad.tensor([0.5, 2.0], dtype=rgrad.float64)
    (g,) = rgrad.autograd.grad([y1, y2], [x], grad_outputs=[v1, v2])
    close(g, 3 * np.array([1.0, -1.0]) + np.exp([1.0, 2.0]) * np.array([0.5, 2.0]))


def test_grad_twice_needs_retain_graph():
    x = leaf(2.0)
    y = x.exp() * x
    (g1,) = rgrad.autograd.grad(y, x, retain_graph=True)
    (g2,) = rgrad.autograd.grad(y, x)
    assert g1.item() == g2.item() == pytest.approx(3 * math.exp(2.0))
    with pytest.raises(RuntimeError, match=FREED_MSG):
        rgrad.autograd.grad(y, x)


def test_grad_of_input_that_does_not_require_grad_raises():
    x = rgrad.tensor(2.0, dtype=rgrad.float64)
    w = leaf(3.0)
    with pytest.raises(RuntimeError):
        rgrad.autograd.grad(x * w, x)
    with pytest.raises(RuntimeError):  # an output without history
        rgrad.autograd.grad(x * x, w)


def test_grad_create_graph_gives_higher_order_derivatives():
    x = leaf(2.0)
    y = x**3
    (g,) = rgrad.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (g2,) = rgrad.autograd.grad(g, x, create_graph=True)
    (g3,) = rgrad.autograd.grad(g2, x)
    assert (g.item(), g2.item(), g3.item()) == (12.0, 12.0, 6.0)


def test_hessian_vector_product_through_create_graph():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = leaf([1.0, -1.0])
    A = rgrad.tensor(a, dtype=rgrad.float64)
    f = 0.5 * (x * (A @ x)).sum() + (x**3).sum()  # Hessian: A + diag(6 x)
    (g,) = rgrad.autograd.grad(f, x, create_graph=True)
    close(g, a @ [1.0, -1.0] + 3 * np.array([1.0, 1.0]))
    v = rgrad.tensor([1.0, 2.0], dtype=rgrad.float64)
    (hv,) = rgrad.autograd.grad(g, x, grad_outputs=v)
    close(hv, (a + np.diag([6.0, -6.0])) @ [1.0, 2.0])


def test_backward_with_create_graph_then_differentiating_grad():
    x = leaf([0.5, 1.5])
    (x.sin() * x).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    (h,) = rgrad.autograd.grad(g.sum(), x)
    xs = np.array([0.5, 1.5])
    close(h, 2 * np.cos(xs) - xs * np.sin(xs))


# ---- retain_grad ----------------------------------------------------------------------------


def test_non_leaf_grad_is_not_kept_by_default():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.sum().backward()
    assert not y.is_leaf and y.grad is None and not y.retains_grad


def test_retain_grad_keeps_and_accumulates_non_leaf_grad():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    assert y.retains_grad
    z = (y * y).sum()
    z.backward(retain_graph=True)
    close(y.grad, [6.0, 12.0])
    z.backward()  # accumulates, like a leaf's grad
    close(y.grad, [12.0, 24.0])
    close(x.grad, [36.0, 72.0])


def test_retain_grad_on_leaf_is_a_no_op():
    x = leaf([1.0, 2.0])
    x.retain_grad()
    assert not x.retains_grad
    (x * 2).sum().backward()
    close(x.grad, [2.0, 2.0])


def test_retain_grad_on_tensor_without_grad_raises():
    with pytest.raises(
        RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"
    ):
        rgrad.ones(2).retain_grad()


# ---- register_hook --------------------------------------------------------------------------


def test_leaf_hook_observes_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    close(x.grad, [3.0, 3.0])


def test_leaf_hook_replaces_gradient_and_handle_removes_it():
    x = leaf([1.0, 2.0])
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    close(x.grad, [30.0, 30.0])
    handle.remove()
    (x * 3).sum().backward()
    close(x.grad, [33.0, 33.0])


def test_hooks_run_in_registration_order_each_seeing_the_previous_result():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(("first", g.tolist())) or g * 2)
    x.register_hook(lambda g: seen.append(("second", g.tolist())) or g + 1)
    (x * 3).sum().backward()
    assert seen == [("first", [3.0, 3.0]), ("second", [6.0, 6.0])]
    close(x.grad, [7.0, 7.0])


def test_non_leaf_hook_replaces_gradient_flowing_upstream():
    x = leaf([1.0, 2.0])
    y = x * x
    handle = y.register_hook(lambda g: g * 2)
    y.sum().backward(retain_graph=True)
    close(x.grad, [4.0, 8.0])
    handle.remove()
    x.grad = None
    y.sum().backward()
    close(x.grad, [2.0, 4.0])


def test_non_leaf_hook_and_retain_grad_see_the_hooked_value():
    x = leaf([1.0, 2.0])
    y = x * x
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    y.sum().backward()
    close(y.grad, [2.0, 2.0])
    close(x.grad, [4.0, 8.0])


def test_hook_returning_none_leaves_gradient_unchanged():
    x = leaf([1.0, 2.0])
    y = x.exp()
    y.register_hook(lambda g: None)
    y.sum().backward()
    close(x.grad, np.exp([1.0, 2.0]))


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        rgrad.ones(2).register_hook(lambda g: g)


def test_hook_handle_is_a_context_manager():
    x = leaf([1.0])
    with x.register_hook(lambda g: g * 0):
        (x * 5).sum().backward()
    close(x.grad, [0.0])
    (x * 5).sum().backward()
    close(x.grad, [5.0])


# ---- version counters -----------------------------------------------------------------------


def test_in_place_ops_bump_the_version_counter():
    y = leaf([1.0, 2.0]) * 1
    v = y._version
    y.add_(1)
    assert y._version == v + 1
    y[0] = 5.0
    assert y._version == v + 2
    y.mul_(2)
    assert y._version == v + 3
    z = y.clone()
    assert z._version == 0


@pytest.mark.parametrize(
    "op",
    [
        lambda y: y * y,
        lambda y: y.sin(),
        lambda y: y.log(),
        lambda y: y.pow(2),
        lambda y: y @ y,
        lambda y: y.prod(),
    ],
    ids=["mul", "sin", "log", "pow", "matmul", "prod"],
)
def test_modifying_a_saved_input_in_place_makes_backward_raise(op):
    x = leaf([1.0, 2.0])
    y = x * 1
    z = op(y)
    y.mul_(2)
    with pytest.raises(RuntimeError, match=INPLACE_MSG):
        z.sum().backward()


@pytest.mark.parametrize("name", ["exp", "sigmoid", "tanh", "sqrt"])
def test_modifying_a_saved_output_in_place_makes_backward_raise(name):
    # these ops save their result for backward
    x = leaf([1.0, 2.0])
    y = getattr(x, name)()
    z = y * 1.0
    y.add_(1)
    del z
    with pytest.raises(RuntimeError, match=INPLACE_MSG):
        y.sum().backward()


def test_modifying_a_view_of_a_saved_tensor_makes_backward_raise():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    z = y.sin()
    y[1:].add_(1)
    with pytest.raises(RuntimeError, match=INPLACE_MSG):
        z.sum().backward()


def test_modifying_an_unsaved_tensor_in_place_is_fine():
    x = leaf([1.0, 2.0])
    y = x * 1
    z = y + 1  # add saves nothing
    y.mul_(2)
    z.sum().backward()
    close(x.grad, [1.0, 1.0])


def test_in_place_on_non_leaf_is_recorded():
    x = leaf([1.0, 2.0])
    y = x * 1
    y.mul_(3)
    y.add_(1)
    assert y.grad_fn is not None
    (y * y).sum().backward()
    close(x.grad, 2 * (3 * np.array([1.0, 2.0]) + 1) * 3)


def test_modifying_the_input_of_exp_in_place_is_fine():
    x = leaf([1.0, 2.0])
    y = x * 1
    z = y.exp()
    y.add_(1)
    z.sum().backward()
    close(x.grad, np.exp([1.0, 2.0]))


def _arange4():
    return rgrad.arange(4.0, dtype=rgrad.float64)


# In-place ops on a view of a non-leaf rewrite the base's history (PyTorch's CopySlices): the
# base's gradient goes through the op, and the op's other operands get gradients. Each case:
# (in-place change of y = x * 1 with x = [1, 2, 3, 4], loss weights, expected x.grad,
# expected z.grad for z = [10, 20] or None when z is unused).
E = math.e
VIEW_INPLACE_CASES = {
    "slice_mul_": (lambda y, z: y[:2].mul_(5), None, [5.0, 5.0, 1.0, 1.0], None),
    "slice_exp_": (lambda y, z: y[1:3].exp_(), None, [1.0, E**2, E**3, 1.0], None),
    "slice_zero_": (lambda y, z: y[:2].zero_(), None, [0.0, 0.0, 1.0, 1.0], None),
    "slice_clamp_": (lambda y, z: y[:2].clamp_(max=1.5), None, [1.0, 0.0, 1.0, 1.0], None),
    "transposed_mul_": (
        lambda y, z: y.view(2, 2).t().mul_(2),
        "arange",
        [0.0, 2.0, 4.0, 6.0],
        None,
    ),
    "slice_copy_": (lambda y, z: y[:2].copy_(z), "arange", [0.0, 0.0, 2.0, 3.0], [0.0, 1.0]),
    "view_of_view_mul_": (
        lambda y, z: y.view(2, 2)[0].mul_(z),
        "arange",
        [0.0, 20.0, 2.0, 3.0],
        [0.0, 2.0],
    ),
    "select_add_": (lambda y, z: y[3].add_(z[1] * z[0]), None, [1.0, 1.0, 1.0, 1.0], [20.0, 10.0]),
}


@pytest.mark.parametrize("case", sorted(VIEW_INPLACE_CASES))
def test_in_place_on_view_of_non_leaf_is_recorded_in_the_base(case):
    change, weights, expected_x, expected_z = VIEW_INPLACE_CASES[case]
    x = leaf([1.0, 2.0, 3.0, 4.0])
    z = leaf([10.0, 20.0])
    y = x * 1
    change(y, z)
    assert y.grad_fn is not None
    (y * _arange4() if weights else y).sum().backward()
    close(x.grad, expected_x, 1e-9)
    if expected_z is not None:
        assert z.grad is not None
        close(z.grad, expected_z)


def test_view_sees_later_in_place_change_of_its_base():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    v = y[1:]
    y.mul_(2)
    assert v.tolist() == [4.0, 6.0]
    v.sum().backward()
    close(x.grad, [0.0, 2.0, 2.0])


def test_in_place_through_a_view_then_using_the_view():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    y = x * 1
    v = y[:2]
    v.mul_(3)
    (v * rgrad.tensor([1.0, 2.0], dtype=rgrad.float64)).sum().backward()
    close(x.grad, [3.0, 6.0, 0.0, 0.0])


def test_retain_grad_follows_in_place_ops():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    y.mul_(3)
    y.sum().backward()
    close(y.grad, [1.0, 1.0])
    close(x.grad, [6.0, 6.0])


def test_backward_with_inputs_accumulates_only_into_them():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x * y).sum().backward(inputs=[x])
    close(x.grad, [3.0, 4.0])
    assert y.grad is None


# ---- in-place on leaves ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        lambda a: a.add_(1),
        lambda a: a.mul_(2),
        lambda a: a.zero_(),
        lambda a: a.fill_(3.0),
        lambda a: a.exp_(),
        lambda a: a.clamp_(0, 1),
        lambda a: a.copy_(rgrad.zeros(2, dtype=rgrad.float64)),
        lambda a: a.__iadd__(1),
        lambda a: a.__setitem__(rgrad.tensor([True, False]), 3.0),
        lambda a: a.__setitem__([0], 3.0),
    ],
    ids=["add_", "mul_", "zero_", "fill_", "exp_", "clamp_", "copy_", "iadd", "mask", "list"],
)
def test_in_place_on_leaf_requiring_grad_raises(op):
    a = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError) as info:
        op(a)
    assert str(info.value) == LEAF_MSG
    assert a.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "op",
    [
        lambda a: a[0:1].add_(1),
        lambda a: a[0].fill_(1),
        lambda a: a.view(4).zero_(),
        lambda a: a.reshape(4).mul_(2),
        lambda a: a.t().mul_(2),
        lambda a: a.transpose(0, 1).add_(1),
        lambda a: a.select(0, 1).mul_(1),
        lambda a: a.narrow(0, 0, 1).mul_(1),
        lambda a: a.unsqueeze(0).mul_(1),
    ],
    ids=["slice", "int", "view", "reshape", "t", "transpose", "select", "narrow", "unsqueeze"],
)
def test_in_place_on_view_of_leaf_requiring_grad_raises(op):
    a = leaf([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(RuntimeError) as info:
        op(a)
    assert str(info.value) == VIEW_LEAF_MSG


def test_setitem_basic_index_on_leaf_names_the_view():
    for index in (0, slice(0, 1)):
        a = leaf([1.0, 2.0])
        with pytest.raises(RuntimeError) as info:
            a[index] = 3.0
        assert str(info.value) == VIEW_LEAF_MSG


def test_in_place_on_leaf_allowed_under_no_grad():
    a = leaf([1.0, 2.0])
    with rgrad.no_grad():
        a.add_(1)
        a[0] = 7.0
        a.mul_(2)
        a[1:].fill_(-1.0)
    assert a.tolist() == [14.0, -1.0]
    assert a.is_leaf and a.requires_grad and a.grad_fn is None
    (a * a).sum().backward()
    close(a.grad, [28.0, -2.0])


def test_optimizer_style_update_under_no_grad():
    w = leaf([1.0, -2.0])
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with rgrad.no_grad():
            w -= 0.25 * w.grad
        w.grad = None
    close(w, np.array([1.0, -2.0]) * 0.5**3)
    assert w.is_leaf and w.requires_grad


# ---- .data and detach() ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["data", "detach"])
def test_data_and_detach_share_storage_without_history(how):
    a = leaf([1.0, 2.0])
    d = a.data if how == "data" else a.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d[0] = 10.0  # allowed: d does not require grad
    assert a.tolist() == [10.0, 2.0]
    with rgrad.no_grad():
        a[1] = 20.0
    assert d.tolist() == [10.0, 20.0]
    d.mul_(0.5)
    assert a.tolist() == [5.0, 10.0]
    assert a.requires_grad and a.is_leaf


def test_detach_blocks_gradient_flow():
    a = leaf([1.0, 2.0])
    b = (a * 2).detach() * a  # only the second factor is differentiated
    b.sum().backward()
    close(a.grad, [2.0, 4.0])
    c = leaf([1.0, 2.0])
    (c.data * c).sum().backward()
    close(c.grad, [1.0, 2.0])


def test_detach_shares_the_version_counter():
    # PyTorch's detach(): "in-place modifications on either of them will be seen, and may
    # trigger errors in correctness checks"
    a = leaf([1.0, 2.0])
    y = a * 1
    z = y.sin()
    y.detach().mul_(2)
    with pytest.raises(RuntimeError, match=INPLACE_MSG):
        z.sum().backward()


def test_in_place_through_data_is_not_tracked():
    a = leaf([1.0, 2.0])
    y = a * 1
    z = y.sin()
    y.data.mul_(2)
    z.sum().backward()
    close(a.grad, np.cos([2.0, 4.0]))


def test_assigning_data_replaces_values_and_keeps_requires_grad():
    a = leaf([1.0, 2.0])
    a.data = rgrad.tensor([5.0, 6.0, 7.0], dtype=rgrad.float64)
    assert a.tolist() == [5.0, 6.0, 7.0]
    assert a.requires_grad and a.is_leaf
    (a * a).sum().backward()
    close(a.grad, [10.0, 12.0, 14.0])


def test_detach_in_place():
    a = leaf([1.0, 2.0])
    y = a * 2
    y.detach_()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


# ---- custom autograd.Function ---------------------------------------------------------------


class MulAdd(rgrad.autograd.Function):
    """(x * y + alpha, x - y) with a non-tensor alpha; saves x and y."""

    @staticmethod
    def forward(ctx, x, y, alpha):
        ctx.save_for_backward(x, y)
        ctx.alpha = alpha
        return x * y + alpha, x - y

    @staticmethod
    def backward(ctx, g1, g2):
        x, y = ctx.saved_tensors
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = g1 * y + g2
        if ctx.needs_input_grad[1]:
            gy = g1 * x - g2
        return gx, gy, None


class Cube(rgrad.autograd.Function):
    """x ** 3, with a backward written in differentiable ops (so twice differentiable)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


def test_function_multiple_inputs_outputs_and_non_tensor_argument():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    a, b = MulAdd.apply(x, y, 2.0)
    close(a, [5.0, 10.0])
    close(b, [-2.0, -2.0])
    assert a.requires_grad and b.requires_grad
    assert type(a.grad_fn).__name__ == "MulAddBackward"
    (a.sum() + 3 * b.sum()).backward()
    close(x.grad, [3.0 + 3, 4.0 + 3])
    close(y.grad, [1.0 - 3, 2.0 - 3])


def test_function_needs_input_grad():
    seen = []

    class Probe(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, c):
            seen.append(("forward", tuple(ctx.needs_input_grad)))
            return a * b * c

        @staticmethod
        def backward(ctx, g):
            seen.append(("backward", tuple(ctx.needs_input_grad)))
            return g, None, None

    x = leaf([1.0, 2.0])
    y = rgrad.tensor([3.0, 4.0], dtype=rgrad.float64)
    Probe.apply(x, y, 3).sum().backward()
    assert seen == [("forward", (True, False, False)), ("backward", (True, False, False))]
    close(x.grad, [1.0, 1.0])


def test_function_unused_output_gets_zero_gradient():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    a, _ = MulAdd.apply(x, y, 0.0)
    a.sum().backward()
    close(x.grad, [3.0, 4.0])
    close(y.grad, [1.0, 2.0])


def test_function_composes_with_the_rest_of_the_graph():
    x = leaf([0.3, -0.7])
    y = Cube.apply(x.sin() * 2).exp().sum()
    y.backward()
    xs = np.array([0.3, -0.7])
    u = 2 * np.sin(xs)
    close(x.grad, np.exp(u**3) * 3 * u**2 * 2 * np.cos(xs), 1e-10)


def test_function_second_derivative_with_create_graph():
    x = leaf([1.0, 2.0])
    (g,) = rgrad.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    close(g, [3.0, 12.0])
    assert g.requires_grad
    (g2,) = rgrad.autograd.grad(g.sum(), x)
    close(g2, [6.0, 12.0])
    assert gradgradcheck(Cube.apply, (leaf([0.5, -1.5]),))


def test_function_backward_twice_needs_retain_graph():
    x = leaf([1.0, 2.0])
    y = Cube.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, [6.0, 24.0])
    z = Cube.apply(x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match=FREED_MSG):
        z.backward()


def test_function_saved_tensors_are_released_after_backward():
    holder = {}

    class Keep(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            holder["ctx"] = ctx
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    Keep.apply(leaf([1.0])).sum().backward()
    with pytest.raises(RuntimeError, match=FREED_MSG):
        _ = holder["ctx"].saved_tensors


def test_function_returning_an_input_gives_a_new_tensor():
    class Twice(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    x = leaf([1.0, 2.0])
    y = Twice.apply(x)
    assert y is not x and y.grad_fn is not None
    y.sum().backward()
    close(x.grad, [2.0, 2.0])


def test_function_without_inputs_requiring_grad_records_nothing():
    y = Cube.apply(rgrad.tensor([1.0, 2.0]))
    assert not y.requires_grad and y.grad_fn is None
    with rgrad.no_grad():
        z = Cube.apply(leaf([1.0]))
    assert not z.requires_grad


def test_function_wrong_number_of_gradients_raises():
    class Wrong(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Wrong.apply(x, x).sum().backward()


def test_function_extra_trailing_none_gradients_are_accepted():
    class Scale(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x, factor=3.0):
            ctx.factor = factor
            return x * factor

        @staticmethod
        def backward(ctx, g):
            return g * ctx.factor, None

    x = leaf([1.0, 2.0])
    Scale.apply(x).sum().backward()
    close(x.grad, [3.0, 3.0])


class ArgMaxFn(rgrad.autograd.Function):
    """(max value, argmax index): the index is non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        idx = x.argmax()
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(x, idx)
        return x.max(), idx

    @staticmethod
    def backward(ctx, g_value, g_index):
        x, idx = ctx.saved_tensors
        g = rgrad.zeros_like(x)
        g[idx] = g_value
        return g


class DoubleTriple(rgrad.autograd.Function):
    """(2 x, 3 x) with the second output marked non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        a, b = x * 2, x * 3
        ctx.mark_non_differentiable(b)
        return a, b

    @staticmethod
    def backward(ctx, ga, gb):
        return ga * 2


def test_mark_non_differentiable_outputs_do_not_require_grad():
    x = leaf([1.0, 5.0, 2.0])
    value, index = ArgMaxFn.apply(x)
    assert value.requires_grad and not index.requires_grad
    a, b = DoubleTriple.apply(leaf([1.0, 2.0]))
    assert a.requires_grad and not b.requires_grad and b.grad_fn is None
    with pytest.raises(RuntimeError):
        b.sum().backward()


@pytest.mark.parametrize("fn", ["argmax", "float"])
def test_mark_non_differentiable_backward_gets_one_gradient_per_output(fn):
    if fn == "argmax":
        x = leaf([1.0, 5.0, 2.0])
        value, _ = ArgMaxFn.apply(x)
        value.backward()
        close(x.grad, [0.0, 1.0, 0.0])
    else:
        x = leaf([1.0, 5.0])
        a, _ = DoubleTriple.apply(x)
        a.sum().backward()
        close(x.grad, [2.0, 2.0])


def test_set_materialize_grads_false_passes_none_for_unused_outputs():
    seen = []

    class Two(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            seen.append(gb)
            return ga * 2

    x = leaf([1.0, 5.0])
    a, _ = Two.apply(x)
    a.sum().backward()
    assert seen == [None]
    close(x.grad, [2.0, 2.0])


def test_function_gradcheck():
    x, y = leaf([0.5, -1.0]), leaf([2.0, 0.25])
    assert gradcheck(lambda a, b: MulAdd.apply(a, b, 1.5), (x, y))


# ---- grad modes -----------------------------------------------------------------------------


@pytest.fixture
def restore_grad_mode():
    yield
    rgrad.set_grad_enabled(True)


def test_set_grad_enabled_as_a_function(restore_grad_mode):
    x = leaf([1.0])
    assert rgrad.is_grad_enabled()
    rgrad.set_grad_enabled(False)
    assert not rgrad.is_grad_enabled()
    y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    rgrad.set_grad_enabled(True)
    assert rgrad.is_grad_enabled()
    assert (x * 2).requires_grad


def test_set_grad_enabled_as_context_manager_and_decorator(restore_grad_mode):
    x = leaf([1.0])
    with rgrad.set_grad_enabled(False):
        assert not rgrad.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert rgrad.is_grad_enabled()
    with rgrad.no_grad():
        with rgrad.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not rgrad.is_grad_enabled()

    @rgrad.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert rgrad.is_grad_enabled()  # decorating does not change the mode
    assert not f(x).requires_grad
    assert rgrad.is_grad_enabled()


def test_no_grad_and_enable_grad_nest(restore_grad_mode):
    x = leaf([1.0])
    with rgrad.no_grad():
        assert not rgrad.is_grad_enabled()
        with rgrad.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad

    @rgrad.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and rgrad.is_grad_enabled()


def test_grad_mode_is_restored_when_the_block_raises(restore_grad_mode):
    with pytest.raises(ValueError), rgrad.no_grad():
        raise ValueError
    assert rgrad.is_grad_enabled()
    with pytest.raises(ValueError), rgrad.inference_mode():
        raise ValueError
    assert rgrad.is_grad_enabled() and not rgrad.is_inference_mode_enabled()


def test_inference_mode(restore_grad_mode):
    x = leaf([1.0, 2.0])
    assert not rgrad.is_inference_mode_enabled()
    with rgrad.inference_mode():
        assert rgrad.is_inference_mode_enabled()
        assert not rgrad.is_grad_enabled()
        y = x * 2
        assert not y.requires_grad and y.grad_fn is None
    assert not rgrad.is_inference_mode_enabled() and rgrad.is_grad_enabled()
    with rgrad.inference_mode(False):
        assert not rgrad.is_inference_mode_enabled()
        assert (x * 2).requires_grad

    @rgrad.inference_mode()
    def f(t):
        return t * 2

    assert not f(x).requires_grad

    @rgrad.inference_mode
    def g(t):
        return t * 2

    assert not g(x).requires_grad
    assert rgrad.is_grad_enabled()


def test_tensor_is_inference():
    with rgrad.inference_mode():
        y = rgrad.ones(2) * 2
    assert y.is_inference()
    assert not rgrad.ones(2).is_inference()


# ---- anomaly detection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,node",
    [
        (lambda a: rgrad.tensor([1.0, 1.0], dtype=rgrad.float64) / a, "DivBackward0"),
        (lambda a: a / a, "DivBackward0"),
        (lambda a: a.sqrt(), "SqrtBackward0"),
        (lambda a: a.log(), "LogBackward0"),
        (lambda a: (a - 1).pow(0.5), "PowBackward0"),
    ],
    ids=["rdiv", "div", "sqrt", "log", "pow"],
)
def test_detect_anomaly_names_the_backward_that_made_nan(make, node):
    a = leaf([0.0, 1.0])
    with rgrad.autograd.detect_anomaly():
        assert rgrad.is_anomaly_enabled()
        out = (make(a) * 0).sum()  # 0 * inf = nan in the backward
        with pytest.raises(RuntimeError, match=f"Function '{node}' returned nan values"):
            out.backward()
    assert not rgrad.is_anomaly_enabled()


def test_without_anomaly_detection_nan_gradients_pass_silently():
    a = leaf([0.0, 1.0])
    (rgrad.tensor([1.0, 1.0], dtype=rgrad.float64) / a * 0).sum().backward()
    assert math.isnan(a.grad.tolist()[0])


def test_set_detect_anomaly_function():
    rgrad.autograd.set_detect_anomaly(True)
    try:
        assert rgrad.is_anomaly_enabled()
    finally:
        rgrad.autograd.set_detect_anomaly(False)
    assert not rgrad.is_anomaly_enabled()
    with rgrad.autograd.set_detect_anomaly(True):
        a = leaf([0.0])
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values"):
            (a.sqrt() * 0).sum().backward()
    assert not rgrad.is_anomaly_enabled()


def test_top_level_is_anomaly_enabled():
    assert rgrad.is_anomaly_enabled() is False


# ---- freeing the graph ----------------------------------------------------------------------


def test_output_is_freed_when_dropped():
    x = leaf([1.0, 2.0])
    y = x.exp() * 2
    ref = weakref.ref(y)
    del y
    assert ref() is None


def test_tensor_saved_in_function_ctx_is_freed_with_the_output():
    refs = []

    class SaveTmp(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            tmp = x * 3
            refs.append(weakref.ref(tmp))
            ctx.save_for_backward(tmp)
            return tmp * 2

        @staticmethod
        def backward(ctx, g):
            (tmp,) = ctx.saved_tensors
            return g * 6 + tmp * 0

    x = leaf([1.0, 2.0])
    y = SaveTmp.apply(x).exp().sum()
    assert refs[0]() is not None
    del y  # no cycle: freed by reference counting alone
    assert refs[0]() is None

    y = SaveTmp.apply(x).sum()
    y.backward()  # backward without retain_graph releases what was saved
    assert refs[1]() is None
    assert y.grad_fn is not None


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_memory_is_flat_over_many_forward_backward_steps():
    w = rgrad.randn(64, 64, dtype=rgrad.float64, requires_grad=True)

    class Square(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    def step(i):
        x = rgrad.randn(32, 64, dtype=rgrad.float64)
        h = (x @ w).tanh()
        h.retain_grad()
        y = Square.apply(h).sum() + h.exp().mean() + h[::2, [1, 3]].sum()
        if i % 3 == 0:
            (g,) = rgrad.autograd.grad(y, w, create_graph=True)
            (g * g).sum().backward()
        else:
            y.backward()
        w.grad = None

    for i in range(100):  # warm up allocator pools and caches
        step(i)
    gc.collect()
    tracemalloc.start()
    try:
        rss0 = _rss()
        traced0 = tracemalloc.get_traced_memory()[0]
        for i in range(1500):  # each step's graph holds ~100 KB: a leak would be > 100 MB
            step(i)
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - traced0
        grown = _rss() - rss0
    finally:
        tracemalloc.stop()
    assert traced < 1_000_000, f"Python heap grew by {traced} bytes"
    assert grown < 16_000_000, f"RSS grew by {grown} bytes"


# ---- higher-order gradients -----------------------------------------------------------------


_RNG = np.random.default_rng(0)


def _r(*shape, positive=False):
    a = _RNG.uniform(0.5, 1.5, shape) if positive else _RNG.standard_normal(shape)
    return rgrad.tensor(a, dtype=rgrad.float64, requires_grad=True)


def _setitem(a, b):
    c = a * 1
    c[1:] = b * b
    return c * a


GRADGRAD_CASES = {
    "mul": (lambda a, b: a * b, lambda: (_r(3, 4), _r(4))),
    "div": (lambda a, b: a / b, lambda: (_r(3), _r(3, positive=True))),
    "pow_tensor": (lambda a, b: a**b, lambda: (_r(3, positive=True), _r(3))),
    "pow_scalar": (lambda a: a**3, lambda: (_r(3),)),
    "rpow": (lambda a: 2.0**a, lambda: (_r(3),)),
    "exp": (lambda a: a.exp(), lambda: (_r(3),)),
    "log": (lambda a: a.log(), lambda: (_r(3, positive=True),)),
    "log1p": (lambda a: a.log1p(), lambda: (_r(3, positive=True),)),
    "expm1": (lambda a: a.expm1(), lambda: (_r(3),)),
    "sqrt": (lambda a: a.sqrt(), lambda: (_r(3, positive=True),)),
    "rsqrt": (lambda a: a.rsqrt(), lambda: (_r(3, positive=True),)),
    "sin": (lambda a: a.sin(), lambda: (_r(3),)),
    "cos": (lambda a: a.cos(), lambda: (_r(3),)),
    "tan": (lambda a: (a * 0.3).tan(), lambda: (_r(3),)),
    "tanh": (lambda a: a.tanh(), lambda: (_r(3),)),
    "sigmoid": (lambda a: a.sigmoid(), lambda: (_r(3),)),
    "reciprocal": (lambda a: a.reciprocal(), lambda: (_r(3, positive=True),)),
    "erf": (lambda a: a.erf(), lambda: (_r(3),)),
    "abs": (lambda a: a.abs() * a, lambda: (_r(3, positive=True),)),
    "matmul": (lambda a, b: a @ b, lambda: (_r(2, 3), _r(3, 2))),
    "matmul_batched": (lambda a, b: a @ b, lambda: (_r(2, 2, 3), _r(3))),
    "bmm": (lambda a, b: a.bmm(b), lambda: (_r(2, 2, 3), _r(2, 3, 2))),
    "mv": (lambda a, b: a.mv(b), lambda: (_r(2, 3), _r(3))),
    "dot": (lambda a, b: a.dot(b), lambda: (_r(3), _r(3))),
    "sum_dim": (lambda a: (a * a).sum(1), lambda: (_r(2, 3),)),
    "mean": (lambda a: (a * a).mean(0, keepdim=True), lambda: (_r(2, 3),)),
    "var": (lambda a: a.var(1), lambda: (_r(2, 3),)),
    "std": (lambda a: a.std(), lambda: (_r(2, 3),)),
    "softmax": (lambda a: a.softmax(-1), lambda: (_r(2, 3),)),
    "log_softmax": (lambda a: a.log_softmax(1), lambda: (_r(2, 3),)),
    "logsumexp": (lambda a: a.logsumexp(1), lambda: (_r(2, 3),)),
    "cumsum": (lambda a: (a * a).cumsum(1), lambda: (_r(2, 3),)),
    "cumprod": (lambda a: a.cumprod(1), lambda: (_r(2, 3),)),
    "norm": (lambda a: a.norm(), lambda: (_r(2, 3),)),
    "amax": (lambda a: (a * a).amax(1), lambda: (_r(2, 3),)),
    "max_dim": (lambda a: (a * a).max(1)[0], lambda: (_r(2, 3),)),
    "maximum": (lambda a, b: (a * b).maximum(b * b), lambda: (_r(3), _r(3))),
    "clamp": (lambda a: (a * a).clamp(0.1, 1.0), lambda: (_r(4),)),
    "where": (lambda a, b: rgrad.where(a > 0, a * a, b * a), lambda: (_r(4), _r(4))),
    "getitem": (lambda a: (a * a)[[0, 1, 1], 1:], lambda: (_r(3, 3),)),
    "setitem": (_setitem, lambda: (_r(3), _r(2))),
    "gather": (lambda a: (a * a).gather(1, rgrad.tensor([[0, 0], [1, 2]])), lambda: (_r(2, 3),)),
    "index_select": (
        lambda a: (a * a).index_select(0, rgrad.tensor([1, 1, 0])),
        lambda: (_r(2, 3),),
    ),
    "masked_fill": (
        lambda a: (a * a).masked_fill(rgrad.tensor([True, False, True]), 0.0),
        lambda: (_r(3),),
    ),
    "scatter_add": (
        lambda a, b: (a * a).scatter_add(0, rgrad.tensor([[0, 1], [0, 0]]), b * b),
        lambda: (_r(2, 2), _r(2, 2)),
    ),
    "cat": (lambda a, b: rgrad.cat([a * a, b * a], 0), lambda: (_r(2, 3), _r(2, 3))),
    "stack": (lambda a, b: rgrad.stack([a * a, b * a], 1), lambda: (_r(2, 3), _r(2, 3))),
    "permute": (lambda a: (a * a).permute(2, 0, 1), lambda: (_r(2, 3, 2),)),
    "expand": (lambda a: (a * a).expand(3, 2), lambda: (_r(1, 2),)),
    "flip": (lambda a: (a * a).flip(0), lambda: (_r(3),)),
    "repeat": (lambda a: (a * a).repeat(2, 1), lambda: (_r(2),)),
    "tril": (lambda a: (a * a).tril(), lambda: (_r(3, 3),)),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD_CASES))
def test_gradgradcheck(name):
    func, make_inputs = GRADGRAD_CASES[name]
    inputs = make_inputs()
    assert gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
    assert gradgradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("dim", [None, 1])
def test_gradgradcheck_prod(dim):
    x = _r(2, 3)
    func = (lambda a: a.prod()) if dim is None else (lambda a: a.prod(dim))
    assert gradgradcheck(func, (x,))
    y = leaf([2.0, 3.0])
    (g,) = rgrad.autograd.grad(y.prod(), y, create_graph=True)
    assert g.requires_grad
    (h,) = rgrad.autograd.grad(g[0], y)
    close(h, [0.0, 1.0])


def test_gradgradcheck_detects_a_wrong_double_backward():
    class BadSecond(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x.detach() ** 2 * g  # right value, but no dependence on x recorded

    x = _r(3)
    assert gradcheck(BadSecond.apply, (x,))
    with pytest.raises(RuntimeError):  # GradcheckError is a RuntimeError
        gradgradcheck(BadSecond.apply, (x,))
