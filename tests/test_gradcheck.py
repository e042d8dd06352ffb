"""Finite-difference checks (rgrad.autograd.gradcheck, central differences in float64) of the
backward rule of every differentiable op, and second-order checks (gradgradcheck and explicit
``create_graph=True``)."""

import numpy as np
import pytest

import rgrad
from rgrad.autograd import GradcheckError, gradcheck, gradgradcheck

SEED = 1234


def rnd(*shape, low=-2.0, high=2.0, seed=0, requires_grad=True):
    """Uniform float64 input in [low, high) from a fixed seed."""
    rng = np.random.default_rng(SEED + seed)
    arr = rng.uniform(low, high, size=shape)
    return rgrad.tensor(arr, dtype=rgrad.float64, requires_grad=requires_grad)


def pos(*shape, seed=0, requires_grad=True):
    """Positive input, away from 0 (for log, sqrt, rsqrt, reciprocal, division...)."""
    return rnd(*shape, low=0.5, high=2.0, seed=seed, requires_grad=requires_grad)


def away_from_zero(*shape, seed=0):
    """Values of magnitude in [0.2, 2) with random signs (for the kinks of abs and relu)."""
    rng = np.random.default_rng(SEED + seed)
    arr = rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return rgrad.tensor(arr, dtype=rgrad.float64, requires_grad=True)


def check(func, *inputs):
    assert all(x.dtype == rgrad.float64 for x in inputs if isinstance(x, rgrad.Tensor))
    assert gradcheck(func, inputs)


# ---- elementwise unary --------------------------------------------------------------------

UNARY = {
    "neg": (lambda x: -x, rnd),
    "neg_method": (lambda x: x.neg(), rnd),
    "neg_fn": (rgrad.neg, rnd),
    "exp": (lambda x: x.exp(), rnd),
    "exp_fn": (rgrad.exp, rnd),
    "log": (lambda x: x.log(), pos),
    "log_fn": (rgrad.log, pos),
    "sqrt": (lambda x: x.sqrt(), pos),
    "rsqrt": (lambda x: x.rsqrt(), pos),
    "sin": (lambda x: x.sin(), rnd),
    "cos": (lambda x: x.cos(), rnd),
    "tan": (lambda x: x.tan(), lambda *s: rnd(*s, low=-1.2, high=1.2)),
    "tanh": (lambda x: x.tanh(), rnd),
    "sigmoid": (lambda x: x.sigmoid(), rnd),
    "sigmoid_fn": (rgrad.sigmoid, rnd),
    "relu": (lambda x: x.relu(), away_from_zero),
    "relu_fn": (rgrad.relu, away_from_zero),
    "abs": (lambda x: x.abs(), away_from_zero),
    "abs_builtin": (lambda x: abs(x), away_from_zero),
    "log1p": (lambda x: x.log1p(), lambda *s: rnd(*s, low=-0.5, high=2.0)),
    "expm1": (lambda x: x.expm1(), rnd),
    "reciprocal": (lambda x: x.reciprocal(), pos),
    "reciprocal_neg": (lambda x: x.reciprocal(), lambda *s: rnd(*s, low=-2.0, high=-0.5)),
    "asin": (lambda x: x.asin(), lambda *s: rnd(*s, low=-0.9, high=0.9)),
    "acos": (lambda x: x.acos(), lambda *s: rnd(*s, low=-0.9, high=0.9)),
    "atan": (lambda x: x.atan(), rnd),
    "sinh": (lambda x: x.sinh(), rnd),
    "cosh": (lambda x: x.cosh(), rnd),
    "asinh": (lambda x: x.asinh(), rnd),
    "acosh": (lambda x: x.acosh(), lambda *s: rnd(*s, low=1.2, high=3.0)),
    "atanh": (lambda x: x.atanh(), lambda *s: rnd(*s, low=-0.9, high=0.9)),
    "log2": (lambda x: x.log2(), pos),
    "log10": (rgrad.log10, pos),
    "exp2": (rgrad.exp2, rnd),
    "erfinv": (lambda x: x.erfinv(), lambda *s: rnd(*s, low=-0.9, high=0.9)),
    "lgamma": (lambda x: x.lgamma(), pos),
    "digamma": (lambda x: x.digamma(), pos),
    "sinc": (lambda x: x.sinc(), rnd),
    "logit": (lambda x: x.logit(), lambda *s: rnd(*s, low=0.1, high=0.9)),
    "nan_to_num": (rgrad.nan_to_num, rnd),
    "clone": (lambda x: x.clone(), rnd),
    "clone_then_mul": (lambda x: x.clone() * x, rnd),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)], ids=["0d", "1d", "2d"])
def test_unary(name, shape):
    func, make = UNARY[name]
    check(func, make(*shape))


# ---- binary arithmetic --------------------------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, rnd, rnd),
    "sub": (lambda a, b: a - b, rnd, rnd),
    "mul": (lambda a, b: a * b, rnd, rnd),
    "div": (lambda a, b: a / b, rnd, pos),
    "div_neg_denominator": (lambda a, b: a / (-b), rnd, pos),
    "pow_tensor": (lambda a, b: a**b, pos, rnd),
    "add_method_alpha": (lambda a, b: a.add(b, alpha=2.5), rnd, rnd),
    "sub_method_alpha": (lambda a, b: a.sub(b, alpha=-0.5), rnd, rnd),
    "mul_fn": (rgrad.mul, rnd, rnd),
    "div_fn": (rgrad.div, rnd, pos),
    "pow_fn": (rgrad.pow, pos, rnd),
    "maximum": (lambda a, b: a.maximum(b), rnd, rnd),
    "minimum": (lambda a, b: a.minimum(b), rnd, rnd),
    "maximum_fn": (rgrad.maximum, rnd, rnd),
    "minimum_fn": (rgrad.minimum, rnd, rnd),
    "chain": (lambda a, b: (a * b + a.exp() / (b * b + 1.0)).sin(), rnd, rnd),
    "atan2": (lambda a, b: a.atan2(b), rnd, pos),
    "hypot": (rgrad.hypot, rnd, pos),
    "logaddexp": (rgrad.logaddexp, rnd, rnd),
    "xlogy": (lambda a, b: a.xlogy(b), rnd, pos),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_same_shape(name):
    func, make_a, make_b = BINARY[name]
    check(func, make_a(3, 4, seed=1), make_b(3, 4, seed=2))


BROADCAST_SHAPES = [
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 1, 4), (3, 1)),
    ((2, 3, 4), ()),
    ((), (2, 3)),
    ((1,), (3,)),
    ((2, 1, 1), (1, 3, 1)),
]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_binary_broadcast(name, shapes):
    func, make_a, make_b = BINARY[name]
    sa, sb = shapes
    check(func, make_a(*sa, seed=3), make_b(*sb, seed=4))


def test_binary_only_one_input_requires_grad():
    a = rnd(3, 4, seed=1)
    b = rnd(4, seed=2, requires_grad=False)
    check(lambda a, b: a * b + b, a, b)
    check(lambda b, a: a / (b * b + 1.0), b, a)


def test_same_tensor_used_twice():
    x = rnd(3, 2)
    check(lambda x: x * x + x / (x * x + 1.0), x)


SCALAR_FORMS = {
    "add_scalar": (lambda x: x + 2.5, rnd),
    "radd_scalar": (lambda x: 2.5 + x, rnd),
    "add_int": (lambda x: x + 3, rnd),
    "sub_scalar": (lambda x: x - 1.5, rnd),
    "rsub_scalar": (lambda x: 1.5 - x, rnd),
    "rsub_int": (lambda x: 2 - x, rnd),
    "mul_scalar": (lambda x: x * -1.75, rnd),
    "rmul_scalar": (lambda x: -1.75 * x, rnd),
    "rmul_int": (lambda x: 3 * x, rnd),
    "div_scalar": (lambda x: x / 0.3, rnd),
    "rdiv_scalar": (lambda x: 2.0 / x, pos),
    "rdiv_int": (lambda x: 3 / x, pos),
    "rdiv_negative_base": (lambda x: 2.0 / (-x), pos),
    "pow_int_2": (lambda x: x**2, rnd),
    "pow_int_3": (lambda x: x**3, rnd),
    "pow_int_0": (lambda x: x**0 + x, rnd),
    "pow_int_neg": (lambda x: x**-2, pos),
    "pow_float": (lambda x: x**1.5, pos),
    "pow_half": (lambda x: x**0.5, pos),
    "pow_float_neg": (lambda x: x**-0.7, pos),
    "pow_method_scalar": (lambda x: x.pow(2.5), pos),
    "rpow_float": (lambda x: 2.5**x, rnd),
    "rpow_int": (lambda x: 3**x, rnd),
    "rpow_fraction": (lambda x: 0.5**x, rnd),
    "maximum_scalar_tensor": (lambda x: x.maximum(rgrad.tensor(0.1, dtype=rgrad.float64)), rnd),
}


@pytest.mark.parametrize("name", sorted(SCALAR_FORMS))
def test_scalar_operand(name):
    func, make = SCALAR_FORMS[name]
    check(func, make(2, 3))


def test_pow_tensor_exponent_gradient_for_both():
    base = pos(4, seed=5)
    exponent = rnd(4, seed=6)
    check(lambda b, e: b**e, base, exponent)
    check(lambda b, e: b.pow(e), base, exponent)


def test_pow_zero_dim_exponent_broadcast():
    base = pos(2, 3, seed=5)
    exponent = rnd(seed=6)
    check(lambda b, e: b**e, base, exponent)


def test_where():
    a = rnd(3, 4, seed=1)
    b = rnd(3, 4, seed=2)
    cond = rgrad.tensor(np.random.default_rng(SEED).random((3, 4)) > 0.5)
    check(lambda a, b: rgrad.where(cond, a, b), a, b)
    check(lambda a, b: a.where(cond, b), a, b)


def test_where_broadcast():
    a = rnd(3, 1, seed=1)
    b = rnd(4, seed=2)
    cond = rgrad.tensor([[True, False, True, False], [False, False, True, True], [True] * 4])
    check(lambda a, b: rgrad.where(cond, a, b), a, b)


def test_where_condition_from_comparison():
    x = away_from_zero(5)
    check(lambda x: rgrad.where(x > 0, x * x, -x), x)
    check(lambda x: rgrad.where(x > 0, x.exp(), 0.0), x)


# ---- reductions ---------------------------------------------------------------------------

REDUCTIONS = {
    "sum_all": lambda x: x.sum(),
    "sum_fn": lambda x: rgrad.sum(x),
    "sum_dim0": lambda x: x.sum(0),
    "sum_dim1_kw": lambda x: x.sum(dim=1),
    "sum_dim_neg": lambda x: x.sum(-1),
    "sum_dim_neg3": lambda x: x.sum(-3),
    "sum_tuple": lambda x: x.sum((0, 2)),
    "sum_tuple_neg": lambda x: x.sum(dim=(-1, -3)),
    "sum_list": lambda x: x.sum([1, 2]),
    "sum_keepdim": lambda x: x.sum(1, keepdim=True),
    "sum_tuple_keepdim": lambda x: x.sum((0, -1), keepdim=True),
    "sum_all_dims": lambda x: x.sum((0, 1, 2)),
    "mean_all": lambda x: x.mean(),
    "mean_fn": lambda x: rgrad.mean(x, 1),
    "mean_dim0": lambda x: x.mean(0),
    "mean_dim_neg": lambda x: x.mean(-1),
    "mean_tuple": lambda x: x.mean((0, 2)),
    "mean_tuple_neg": lambda x: x.mean(dim=(-2, -1)),
    "mean_keepdim": lambda x: x.mean(2, keepdim=True),
    "mean_tuple_keepdim": lambda x: x.mean((1, 2), keepdim=True),
    "mean_of_square": lambda x: (x * x).mean(1),
    "sum_of_sum": lambda x: x.sum(0).sum(-1),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction(name):
    check(REDUCTIONS[name], rnd(2, 3, 4))


@pytest.mark.parametrize("func", [lambda x: x.sum(), lambda x: x.mean()], ids=["sum", "mean"])
def test_reduction_of_zero_dim(func):
    check(func, rnd())


def test_reduction_1d():
    check(lambda x: x.sum(0), rnd(5))
    check(lambda x: x.mean(-1, keepdim=True), rnd(5))


# ---- linear algebra -----------------------------------------------------------------------

MATMUL_SHAPES = [
    ((4,), (4,)),
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
    ((1, 3, 4), (2, 4, 2)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=lambda s: f"{s[0]}@{s[1]}")
def test_matmul(shapes):
    sa, sb = shapes
    a, b = rnd(*sa, seed=1), rnd(*sb, seed=2)
    check(lambda a, b: a @ b, a, b)
    check(lambda a, b: a.matmul(b), a, b)
    check(rgrad.matmul, a, b)


def test_matmul_one_side_requires_grad():
    a = rnd(3, 4, seed=1)
    b = rnd(4, 2, seed=2, requires_grad=False)
    check(lambda a, b: a @ b, a, b)
    check(lambda b, a: a @ b, b, a)


def test_matmul_with_transposed_views():
    a, b = rnd(4, 3, seed=1), rnd(5, 4, seed=2)
    check(lambda a, b: a.t() @ b.t(), a, b)


def test_mm():
    a, b = rnd(3, 4, seed=1), rnd(4, 2, seed=2)
    check(lambda a, b: a.mm(b), a, b)
    check(rgrad.mm, a, b)


def test_bmm():
    a, b = rnd(2, 3, 4, seed=1), rnd(2, 4, 5, seed=2)
    check(lambda a, b: a.bmm(b), a, b)
    check(rgrad.bmm, a, b)


def test_dot():
    a, b = rnd(5, seed=1), rnd(5, seed=2)
    check(lambda a, b: a.dot(b), a, b)
    check(rgrad.dot, a, b)


def test_mv():
    a, b = rnd(3, 5, seed=1), rnd(5, seed=2)
    check(lambda a, b: a.mv(b), a, b)


def test_outer():
    a, b = rnd(3, seed=1), rnd(4, seed=2)
    check(rgrad.outer, a, b)


# ---- views and shape ops ------------------------------------------------------------------

SHAPE_OPS = {
    "reshape": lambda x: x.reshape(4, 6),
    "reshape_tuple": lambda x: x.reshape((6, -1)),
    "reshape_fn": lambda x: rgrad.reshape(x, (24,)),
    "view": lambda x: x.view(3, 8),
    "view_neg": lambda x: x.view(-1, 2),
    "transpose": lambda x: x.transpose(0, 2),
    "transpose_neg": lambda x: x.transpose(-1, -2),
    "transpose_fn": lambda x: rgrad.transpose(x, 0, 1),
    "T_2d": lambda x: x.reshape(6, 4).T,
    "t": lambda x: x.reshape(6, 4).t(),
    "t_fn": lambda x: rgrad.t(x.reshape(4, 6)),
    "permute": lambda x: x.permute(2, 0, 1),
    "permute_tuple": lambda x: x.permute((1, 2, 0)),
    "permute_neg": lambda x: x.permute(-1, -3, -2),
    "unsqueeze0": lambda x: x.unsqueeze(0),
    "unsqueeze_mid": lambda x: x.unsqueeze(2),
    "unsqueeze_neg": lambda x: x.unsqueeze(-1),
    "squeeze_all": lambda x: x.reshape(1, 2, 1, 12, 1).squeeze(),
    "squeeze_dim": lambda x: x.reshape(2, 1, 12).squeeze(1),
    "squeeze_dim_noop": lambda x: x.squeeze(0),
    "squeeze_neg": lambda x: x.reshape(2, 12, 1).squeeze(-1),
    "expand": lambda x: x.reshape(2, 1, 12).expand(2, 3, 12),
    "expand_new_dims": lambda x: x.reshape(24).expand(2, 24),
    "expand_minus_one": lambda x: x.reshape(2, 1, 12).expand(-1, 4, -1),
    "flatten": lambda x: x.flatten(),
    "flatten_range": lambda x: x.flatten(1),
    "flatten_first": lambda x: x.flatten(0, 1),
    "transpose_then_reshape": lambda x: x.transpose(0, 1).reshape(-1),
    "permute_then_mul": lambda x: x.permute(2, 1, 0) * x.permute(2, 1, 0).sin(),
    "narrow": lambda x: x.narrow(1, 1, 2),
    "select": lambda x: x.select(2, 1),
    "contiguous": lambda x: x.transpose(0, 1).contiguous(),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_op(name):
    check(SHAPE_OPS[name], rnd(2, 3, 4))


def test_T_on_1d_and_3d():
    check(lambda x: x.T, rnd(5))
    check(lambda x: x.T * 2.0, rnd(2, 3, 4))


INDEXING = {
    "int": lambda x: x[1],
    "last": lambda x: x[-1],
    "two_ints": lambda x: x[1, 2],
    "three_ints": lambda x: x[-1, 0, 3],
    "slice": lambda x: x[1:],
    "slice_step": lambda x: x[:, ::2],
    "slice_both": lambda x: x[1:, ::2],
    "slice_neg": lambda x: x[:, -2:],
    "slice_step3": lambda x: x[..., 1::3],
    "ellipsis_none_int": lambda x: x[..., None, 0],
    "none_front": lambda x: x[None],
    "none_mid": lambda x: x[:, None, 1],
    "ellipsis": lambda x: x[..., 1],
    "mixed": lambda x: x[0, 1:, None, ::2],
    "chained": lambda x: x[1][2][::3],
    "overlapping_uses": lambda x: x[0] * x[1] + x[:, 1].sum(),
}


@pytest.mark.parametrize("name", sorted(INDEXING))
def test_indexing(name):
    check(INDEXING[name], rnd(3, 4, 5))


def test_double_cast_from_float32():
    """The gradient of an op computed after `.double()` flows back to the float32 input."""
    arr = np.random.default_rng(SEED).uniform(0.5, 2.0, size=(2, 3)).astype(np.float32)
    x = rgrad.tensor(arr, requires_grad=True)
    y = (x.double() ** 3).sum()
    assert y.dtype == rgrad.float64
    y.backward()
    assert x.grad is not None
    assert x.grad.dtype == rgrad.float32
    np.testing.assert_allclose(x.grad.numpy(), 3 * arr.astype(np.float64) ** 2, rtol=1e-6)
    # Finite differences in float32 need a larger step and tolerance.
    x.grad = None
    assert gradcheck(lambda x: x.double() ** 2, (x,), eps=1e-2, atol=1e-3, rtol=1e-3)


def test_float_cast_from_float64():
    x = rnd(3)
    y = x.float()
    assert y.dtype == rgrad.float32
    (y * 2).sum().backward()
    assert x.grad.dtype == rgrad.float64
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_to_dtype_is_differentiable():
    check(lambda x: x.to(rgrad.float64) * x, rnd(3))
    check(lambda x: x.to(rgrad.float32).to(rgrad.float64) * 0 + x.exp(), rnd(3))


# ---- ops beyond the first op set (joins, reductions, indexing, softmax, ...) ---------------

INDEX = [[0, 2, 1], [1, 1, 0]]
SCATTER_INDEX = [[0, 2], [1, 0]]  # unique per row: duplicates make scatter's gradient ambiguous
MASK = [[True, False, True], [False, False, True]]

MORE_OPS = {
    "cat": (lambda a, b: rgrad.cat([a, b]), ((2, 3), (1, 3))),
    "cat_dim1": (lambda a, b: rgrad.cat([a, b], dim=1), ((2, 3), (2, 2))),
    "cat_neg_dim": (lambda a, b: rgrad.cat((a, b), -1), ((2, 3), (2, 2))),
    "stack": (lambda a, b: rgrad.stack([a, b], 1), ((2, 3), (2, 3))),
    "softmax": (lambda a: rgrad.softmax(a, 1), ((2, 3),)),
    "softmax_method": (lambda a: a.softmax(-1), ((2, 3),)),
    "log_softmax": (lambda a: rgrad.log_softmax(a, 0), ((2, 3),)),
    "logsumexp": (lambda a: rgrad.logsumexp(a, 1), ((2, 3),)),
    "max_all": (lambda a: a.max(), ((2, 3),)),
    "max_dim": (lambda a: a.max(1).values, ((2, 3),)),
    "max_dim_keepdim": (lambda a: a.max(dim=0, keepdim=True)[0], ((2, 3),)),
    "min_dim": (lambda a: a.min(1)[0], ((2, 3),)),
    "amax": (lambda a: a.amax(1), ((2, 3),)),
    "amin_tuple": (lambda a: a.amin((0, 1)), ((2, 3),)),
    "clamp": (lambda a: a.clamp(-0.5, 0.5), ((3, 4),)),
    "clamp_min": (lambda a: a.clamp_min(0.1), ((3, 4),)),
    "clamp_max_kw": (lambda a: a.clamp(max=0.1), ((3, 4),)),
    "var": (lambda a: a.var(), ((2, 3),)),
    "var_dim": (lambda a: a.var(1), ((2, 3),)),
    "std_dim": (lambda a: a.std(0), ((3, 3),)),
    "prod_dim": (lambda a: a.prod(1), ((2, 3),)),
    "prod_all": (lambda a: a.prod(), ((2, 3),)),
    "cumsum": (lambda a: a.cumsum(1), ((2, 3),)),
    "cumprod": (lambda a: a.cumprod(0), ((3, 2),)),
    "gather": (lambda a: a.gather(1, rgrad.tensor(INDEX)), ((2, 3),)),
    "index_select": (lambda a: a.index_select(0, rgrad.tensor([1, 0, 1])), ((2, 3),)),
    "index_int_tensor": (lambda a: a[rgrad.tensor([1, 0, 1])], ((2, 3),)),
    "index_bool_mask": (lambda a: a[rgrad.tensor(MASK)], ((2, 3),)),
    "masked_fill": (lambda a: a.masked_fill(rgrad.tensor(MASK), 0.0), ((2, 3),)),
    "masked_select": (lambda a: a.masked_select(rgrad.tensor(MASK)), ((2, 3),)),
    "tril": (lambda a: a.tril(), ((3, 3),)),
    "triu": (lambda a: a.triu(1), ((3, 3),)),
    "norm": (lambda a: a.norm(), ((2, 3),)),
    "norm_dim": (lambda a: a.norm(dim=1), ((2, 3),)),
    "repeat": (lambda a: a.repeat(2, 3), ((2, 3),)),
    "split": (lambda a: a.split(2, 1), ((2, 5),)),
    "chunk": (lambda a: a.chunk(2, 0), ((4, 3),)),
    "unbind": (lambda a: a.unbind(1), ((2, 3),)),
    "flip": (lambda a: a.flip(0), ((2, 3),)),
    "movedim": (lambda a: a.movedim(0, 2), ((2, 3, 4),)),
    "swapaxes": (lambda a: a.swapaxes(0, 1), ((2, 3),)),
    "mT": (lambda a: a.mT, ((2, 2, 3),)),
    "scatter": (lambda a, s: a.scatter(1, rgrad.tensor(SCATTER_INDEX), s), ((2, 3), (2, 2))),
    "scatter_add": (lambda a, s: a.scatter_add(1, rgrad.tensor(INDEX), s), ((2, 3), (2, 3))),
}


@pytest.mark.parametrize("name", sorted(MORE_OPS))
def test_more_ops(name):
    func, shapes = MORE_OPS[name]
    check(func, *(rnd(*s, seed=i) for i, s in enumerate(shapes)))


# ---- composite functions ------------------------------------------------------------------


def test_mlp_like_composite():
    x = rnd(4, 3, seed=1)
    w1 = rnd(3, 5, seed=2)
    b1 = rnd(5, seed=3)
    w2 = rnd(5, 1, seed=4)

    def f(x, w1, b1, w2):
        h = (x @ w1 + b1).tanh()
        return ((h @ w2).sigmoid() - 0.5).pow(2).mean()

    check(f, x, w1, b1, w2)


def test_multiple_outputs():
    x = rnd(3, seed=1)
    assert gradcheck(lambda x: (x.exp(), x.sum() * 2.0, x[1:]), (x,))


def test_non_tensor_inputs_are_skipped():
    x = rnd(3, seed=1)
    assert gradcheck(lambda x, k: x * k, (x, 2.5))


# ---- gradcheck can fail -------------------------------------------------------------------


def wrong_square(x):
    """x² forward, but half of it is detached: the analytical gradient is x, not 2x."""
    return x * x.detach()


def test_gradcheck_detects_wrong_gradient():
    x = rnd(4)
    with pytest.raises(GradcheckError):
        gradcheck(wrong_square, (x,))


def test_gradcheck_detects_wrong_gradient_without_raising():
    x = rnd(4)
    assert gradcheck(wrong_square, (x,), raise_exception=False) is False


def test_gradcheck_detects_wrong_gradient_on_second_input():
    a, b = rnd(3, seed=1), rnd(3, seed=2)
    with pytest.raises(GradcheckError):
        gradcheck(lambda a, b: a * b + b.detach() * b, (a, b))


def test_gradcheck_detects_missing_gradient():
    """A detached path has no gradient at all: the analytical Jacobian is zero."""
    x = rnd(3)
    assert gradcheck(lambda x: x.detach().exp() + x * 0, (x,), raise_exception=False) is False


def test_gradcheck_detects_wrong_gradient_through_cube():
    x = rnd(3)
    assert gradcheck(lambda x: x * x * x, (x,))
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: x * x * x.detach(), (x,))


# ---- second order -------------------------------------------------------------------------

# Second-order checks run through rgrad.autograd.gradgradcheck and through
# `second_order_check` (the same idea written out here), so each verifies the other.


def second_order_check(func, inputs, grad_outputs=None, **kwargs):
    """gradcheck of the first-order gradients of sum(func(*inputs) * grad_outputs), computed
    with backward(create_graph=True): what gradgradcheck is meant to do."""

    def first_grads(*args):
        with rgrad.enable_grad():
            outs = func(*args)
            outs = outs if isinstance(outs, tuple) else (outs,)
            total = None
            for n, o in enumerate(outs):
                cot = grad_outputs[n] if grad_outputs is not None else rgrad.ones_like(o)
                term = (o * cot).sum()
                total = term if total is None else total + term
            diff = [x for x in args if isinstance(x, rgrad.Tensor) and x.requires_grad]
            for x in diff:
                x.grad = None
            total.backward(create_graph=True)
            grads = tuple(x.grad for x in diff)
            for x in diff:
                x.grad = None
            return grads

    return gradcheck(first_grads, tuple(inputs), **kwargs)


SECOND_ORDER_CHECKERS = [
    pytest.param(gradgradcheck, id="gradgradcheck"),
    pytest.param(second_order_check, id="create_graph"),
]


def cube_with_flat_gradient(x):
    """x³ in value with the right first derivative 3x², but that derivative is built from
    detached tensors, so its own derivative is 0 instead of 6x."""
    c = x.detach()
    return (x - c) * (3.0 * c * c) + c * c * c


@pytest.mark.parametrize("checker", SECOND_ORDER_CHECKERS)
def test_second_order_detects_wrong_second_derivative(checker):
    x = rnd(3)
    assert gradcheck(cube_with_flat_gradient, (x,))  # first order is right
    with pytest.raises(GradcheckError):
        checker(cube_with_flat_gradient, (x,))


GRADGRAD = {
    "mul": (lambda a, b: a * b * a, rnd, rnd, (2, 3), (2, 3)),
    "mul_broadcast": (lambda a, b: a * a * b, rnd, rnd, (2, 3), (3,)),
    "div": (lambda a, b: a / b, rnd, pos, (2, 3), (2, 3)),
    "pow_tensor": (lambda a, b: a**b, pos, rnd, (2, 3), (2, 3)),
    "matmul": (lambda a, b: a @ b, rnd, rnd, (3, 4), (4, 2)),
    "matmul_squared": (lambda a, b: (a @ b) * (a @ b), rnd, rnd, (3, 4), (4, 2)),
    "matmul_batched": (lambda a, b: (a @ b).tanh(), rnd, rnd, (2, 2, 3), (3, 2)),
}


@pytest.mark.parametrize("checker", SECOND_ORDER_CHECKERS)
@pytest.mark.parametrize("name", sorted(GRADGRAD))
def test_second_order_binary(name, checker):
    func, make_a, make_b, sa, sb = GRADGRAD[name]
    assert checker(func, (make_a(*sa, seed=1), make_b(*sb, seed=2)))


GRADGRAD_UNARY = {
    "exp": (lambda x: x.exp(), rnd),
    "tanh": (lambda x: x.tanh(), rnd),
    "sigmoid": (lambda x: x.sigmoid(), rnd),
    "sin": (lambda x: x.sin(), rnd),
    "cos": (lambda x: x.cos(), rnd),
    "log": (lambda x: x.log(), pos),
    "sqrt": (lambda x: x.sqrt(), pos),
    "pow_scalar": (lambda x: x**3, rnd),
    "pow_float": (lambda x: x**2.5, pos),
    "rpow": (lambda x: 2.0**x, rnd),
    "reciprocal": (lambda x: x.reciprocal(), pos),
    "rdiv": (lambda x: 1.5 / x, pos),
    "sum_of_cube": (lambda x: (x**3).sum(), rnd),
    "mean_of_exp": (lambda x: x.exp().mean(0), rnd),
    "sum_dim_square": (lambda x: (x * x).sum(1, keepdim=True), rnd),
}


@pytest.mark.parametrize("checker", SECOND_ORDER_CHECKERS)
@pytest.mark.parametrize("name", sorted(GRADGRAD_UNARY))
def test_second_order_unary(name, checker):
    func, make = GRADGRAD_UNARY[name]
    assert checker(func, (make(2, 3),))


@pytest.mark.parametrize("checker", SECOND_ORDER_CHECKERS)
def test_second_order_with_grad_outputs(checker):
    x = rnd(2, 3, seed=1)
    cot = rnd(2, 3, seed=2, requires_grad=False)
    assert checker(lambda x: x.sin() * x, (x,), grad_outputs=(cot,))


def test_create_graph_second_derivative_of_cube():
    """d²/dx² x³ = 6x, through backward(create_graph=True) then backward on the gradient."""
    x = rgrad.tensor(2.0, dtype=rgrad.float64, requires_grad=True)
    y = x**3
    y.backward(create_graph=True)
    g = x.grad
    assert g.item() == pytest.approx(12.0)  # 3x²
    assert g.requires_grad
    assert g.grad_fn is not None
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(12.0)  # 6x


def test_create_graph_second_derivative_vector():
    arr = np.array([-1.5, 0.5, 2.0])
    x = rgrad.tensor(arr, dtype=rgrad.float64, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    np.testing.assert_allclose(g.detach().numpy(), 3 * arr**2)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * arr)


def test_create_graph_third_derivative_of_sin():
    x = rgrad.tensor(0.7, dtype=rgrad.float64, requires_grad=True)
    x.sin().backward(create_graph=True)
    g1 = x.grad  # cos x
    x.grad = None
    g1.backward(create_graph=True)
    g2 = x.grad  # -sin x
    x.grad = None
    g2.backward()
    g3 = x.grad  # -cos x
    assert g1.item() == pytest.approx(np.cos(0.7))
    assert g2.item() == pytest.approx(-np.sin(0.7))
    assert g3.item() == pytest.approx(-np.cos(0.7))


def test_create_graph_mixed_partial():
    """d/dy (d/dx x²y) = 2x."""
    x = rgrad.tensor(1.5, dtype=rgrad.float64, requires_grad=True)
    y = rgrad.tensor(-0.5, dtype=rgrad.float64, requires_grad=True)
    (x * x * y).backward(create_graph=True)
    gx = x.grad  # 2xy
    assert gx.item() == pytest.approx(2 * 1.5 * -0.5)
    x.grad = None
    y.grad = None
    gx.backward()
    assert y.grad.item() == pytest.approx(2 * 1.5)
    assert x.grad.item() == pytest.approx(2 * -0.5)


def test_without_create_graph_the_gradient_has_no_history():
    x = rgrad.tensor(2.0, dtype=rgrad.float64, requires_grad=True)
    (x**3).backward()
    assert x.grad.item() == pytest.approx(12.0)
    assert not x.grad.requires_grad
    assert x.grad.grad_fn is None


def test_mm_gradients_with_transposed_operands():
    """Transposed-view operands (Linear's `weight.t()`) get their gradient in that layout; the
    values must be those of the plain formulas, to second order."""
    a = rgrad.randn(4, 3, dtype=rgrad.float64, requires_grad=True)
    b = rgrad.randn(5, 3, dtype=rgrad.float64, requires_grad=True)
    assert rgrad.autograd.gradcheck(lambda x, y: x @ y.t(), (a, b))
    assert rgrad.autograd.gradcheck(
        lambda x, y: x.t() @ y, (b, rgrad.randn(5, 2, dtype=rgrad.float64, requires_grad=True))
    )
    assert rgrad.autograd.gradgradcheck(lambda x, y: x @ y.t(), (a, b))
    (a @ b.t()).sum().backward()
    assert b.grad.is_contiguous()
