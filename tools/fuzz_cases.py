"""The explicit cases of rgrad's hostile-input fuzz (tools/fuzz_calls.py): the overflow sweep
(every factory, ``new_*``, ``*_like``, view, reshape, expand, repeat, pad and sized module
constructor with sizes around 2**31, 2**32, 2**62 and 2**63) and the hostile calls of issue 11,
each with what PyTorch does. Sources use the fuzz prelude (``rgrad``, ``nn``, ``F``, ``np``,
``DEEP``, ``SELF``)."""

from __future__ import annotations

SIZES = [
    "2**31 - 1",
    "2**31",
    "2**32 - 1",
    "2**32",
    "2**32 + 1",
    "2**62",
    "2**62 + 1",
    "2**63 - 1",
    "2**63",
    "-1",
    "-2**63",
]
# Shapes built from one size s: alone, with a small or empty partner, squared.
SHAPE_FORMS = ["({s},)", "({s}, 4)", "(4, {s})", "({s}, {s})", "({s}, 0)", "(2, 2, {s})"]

FACTORY_FORMS = [
    ("rgrad.zeros", "R = rgrad.zeros({shape})"),
    ("rgrad.ones", "R = rgrad.ones({shape}, dtype=rgrad.int64)"),
    ("rgrad.empty", "R = rgrad.empty({shape})"),
    ("rgrad.full", "R = rgrad.full({shape}, 1.5)"),
    ("rgrad.rand", "R = rgrad.rand({shape})"),
    ("rgrad.randn", "R = rgrad.randn({shape}, dtype=rgrad.float64)"),
    ("rgrad.randint", "R = rgrad.randint(0, 5, {shape})"),
    ("rgrad.zeros", "R = rgrad.zeros({shape}, dtype=rgrad.bool)"),
    ("rgrad.Tensor", "R = rgrad.Tensor(*{shape})"),
    ("Tensor.new_zeros", "R = rgrad.ones(2).new_zeros({shape})"),
    ("Tensor.new_ones", "R = rgrad.ones(2).new_ones({shape})"),
    ("Tensor.new_empty", "R = rgrad.ones(2).new_empty({shape})"),
    ("Tensor.new_full", "R = rgrad.ones(2).new_full({shape}, 7)"),
    ("Tensor.view", "R = rgrad.zeros(8).view({shape})"),
    ("Tensor.reshape", "R = rgrad.zeros(8).reshape({shape})"),
    ("Tensor.expand", "R = rgrad.zeros(1, 1, 1).expand({shape})"),
    ("Tensor.expand", "R = rgrad.zeros(1, 4).expand({shape})"),
    ("rgrad.broadcast_to", "R = rgrad.broadcast_to(rgrad.ones(1), {shape})"),
    ("Tensor.repeat", "R = rgrad.ones(1, 1).repeat({shape})"),
    ("rgrad.tile", "R = rgrad.tile(rgrad.ones(2, 2), {shape})"),
    ("Tensor.unflatten", "R = rgrad.zeros(8).unflatten(0, {shape})"),
    ("Tensor.resize_", "R = rgrad.zeros(2).resize_({shape})"),
    ("rgrad.zeros_like", "R = rgrad.zeros_like(rgrad.ones(1).expand({shape}))"),
    ("rgrad.ones_like", "R = rgrad.ones_like(rgrad.ones(1, 1, 1).expand({shape}))"),
    ("rgrad.rand_like", "R = rgrad.rand_like(rgrad.ones(1).expand({shape}))"),
    ("rgrad.full_like", "R = rgrad.full_like(rgrad.ones(1).expand({shape}), 2)"),
    ("Tensor.contiguous", "R = rgrad.ones(1).expand({shape}).contiguous()"),
    ("Tensor.clone", "R = rgrad.ones(1, 1).expand({shape}).clone()"),
    ("Tensor.__add__", "R = rgrad.ones(1).expand({shape}) + 1"),
    ("rgrad.cat", "R = rgrad.cat([rgrad.ones(1).expand({shape}), rgrad.ones(1)])"),
    ("nn.Linear", "R = nn.Linear(*{shape}[:2])"),
    ("nn.LayerNorm", "R = nn.LayerNorm({shape})"),
]
# Forms that take one size.
SIZE_FORMS = [
    ("rgrad.zeros", "R = rgrad.zeros({s})"),
    ("rgrad.arange", "R = rgrad.arange({s})"),
    ("rgrad.arange", "R = rgrad.arange(0, {s}, 2**-20)"),
    ("rgrad.linspace", "R = rgrad.linspace(0, 1, {s})"),
    ("rgrad.logspace", "R = rgrad.logspace(0, 1, {s})"),
    ("rgrad.eye", "R = rgrad.eye({s})"),
    ("rgrad.eye", "R = rgrad.eye({s}, 0)"),
    ("rgrad.randperm", "R = rgrad.randperm({s})"),
    ("rgrad.tril_indices", "R = rgrad.tril_indices({s}, {s})"),
    ("rgrad.triu_indices", "R = rgrad.triu_indices(3, {s})"),
    ("rgrad.multinomial", "R = rgrad.multinomial(rgrad.ones(3), {s}, replacement=True)"),
    ("Tensor.view", "R = rgrad.zeros(4).view(-1, {s})"),
    ("Tensor.reshape", "R = rgrad.zeros(0).reshape({s}, -1)"),
    ("Tensor.repeat_interleave", "R = rgrad.ones(3).repeat_interleave({s})"),
    ("Tensor.__getitem__", "R = rgrad.zeros(3, 4)[{s}]"),
    ("Tensor.__getitem__", "R = rgrad.zeros(3, 4)[:, {s}:]"),
    ("Tensor.__getitem__", "R = rgrad.zeros(3, 4)[::{s}]"),
    ("Tensor.narrow", "R = rgrad.zeros(3, 4).narrow(1, {s}, 1)"),
    ("Tensor.narrow", "R = rgrad.zeros(3, 4).narrow(1, 0, {s})"),
    ("Tensor.select", "R = rgrad.zeros(3, 4).select(0, {s})"),
    ("Tensor.unfold", "R = rgrad.zeros(8).unfold(0, {s}, 1)"),
    ("Tensor.unfold", "R = rgrad.zeros(8).unfold(0, 2, {s})"),
    ("Tensor.diag_embed", "R = rgrad.ones(3).diag_embed({s})"),
    ("Tensor.diagonal", "R = rgrad.ones(3, 3).diagonal({s})"),
    ("rgrad.diag", "R = rgrad.diag(rgrad.ones(3), {s})"),
    ("Tensor.roll", "R = rgrad.arange(5).roll({s})"),
    ("Tensor.chunk", "R = rgrad.arange(5).chunk({s})"),
    ("Tensor.split", "R = rgrad.arange(5).split({s})"),
    ("Tensor.topk", "R = rgrad.arange(5.0).topk({s})"),
    ("F.pad", "R = F.pad(rgrad.zeros(3), (0, {s}))"),
    ("F.pad", "R = F.pad(rgrad.zeros(2, 3), ({s}, 0, 1, 1))"),
    ("F.one_hot", "R = F.one_hot(rgrad.tensor([1]), {s})"),
    ("rgrad.tensor", "R = rgrad.tensor([{s}])"),
    ("rgrad.tensor", "R = rgrad.tensor([{s}], dtype=rgrad.int32)"),
    ("rgrad.full", "R = rgrad.full((2,), {s})"),
    ("rgrad.set_num_threads", "rgrad.set_num_threads({s})\nR = rgrad.ones(1 << 20).sum()"),
    ("nn.Linear", "R = nn.Linear({s}, 2)"),
    ("nn.Linear", "R = nn.Linear(0, {s})"),
    ("nn.Embedding", "R = nn.Embedding({s}, 4)"),
    ("nn.LayerNorm", "R = nn.LayerNorm({s})"),
    ("nn.BatchNorm1d", "R = nn.BatchNorm1d({s})"),
    ("nn.GroupNorm", "R = nn.GroupNorm(1, {s})"),
    ("nn.RMSNorm", "R = nn.RMSNorm({s})"),
    ("nn.PReLU", "R = nn.PReLU({s})"),
    ("nn.Bilinear", "R = nn.Bilinear({s}, 1, 1)"),
    ("nn.Unflatten", "R = nn.Unflatten(0, ({s}, -1))(rgrad.zeros(4))"),
]


def sweep_calls():
    """[(op, source)] of the overflow sweep."""
    calls = []
    for op, form in FACTORY_FORMS:
        for s in SIZES:
            for shape in SHAPE_FORMS:
                calls.append((op, form.format(shape=shape.format(s=s))))
    for op, form in SIZE_FORMS:
        for s in SIZES:
            calls.append((op, form.format(s=s)))
    # Two huge sizes whose product wraps around to something small.
    for op, form in FACTORY_FORMS[:16]:
        for shape in ["(2**32, 2**32)", "(2**62 + 1, 4)", "(2**63 - 1, 2, 2)", "(2**33, 2**31)"]:
            calls.append((op, form.format(shape=shape)))
    return calls


# The hostile calls of issue 11 (id, op, source, PyTorch's behaviour): "raises" means PyTorch
# raises an Exception (so must rgrad), "returns" that it returns (so must rgrad), "any" that
# returning and raising are both fine as long as nothing crashes.
HOSTILE = [
    (
        # Found by the random campaign: the window tables, sized by the requested output,
        # were allocated infallibly before the output itself.
        "adaptive_max_pool1d_2p31_outputs",
        "nn.AdaptiveMaxPool1d",
        "R = nn.AdaptiveMaxPool1d((2**31,))(rgrad.randn(2, 3, dtype=rgrad.float64))",
        "raises",
    ),
    (
        "zeros_huge_slice_tolist",
        "rgrad.zeros",
        "R = rgrad.zeros(2**62 + 1, 4, dtype=rgrad.int64)[1:40].tolist()",
        "raises",
    ),
    (
        "zeros_huge_numpy_write",
        "rgrad.zeros",
        "a = rgrad.zeros(2**62 + 1, 4)[1:20000].numpy()\na[:] = 1.5\nR = rgrad.ones(1000).sum()",
        "raises",
    ),
    ("zeros_2p32_squared_index", "rgrad.zeros", "R = rgrad.zeros(2**32, 2**32)[5, 7]", "raises"),
    ("zeros_out_of_memory", "rgrad.zeros", "R = rgrad.zeros(2**33)", "raises"),
    ("ones_out_of_memory", "rgrad.ones", "R = rgrad.ones(2**31, 4, dtype=rgrad.float64)", "raises"),
    (
        "deep_graph_drop",
        "Tensor.__add__",
        "x = rgrad.ones(1, requires_grad=True)\ny = x\nfor _ in range(100_000):\n"
        "    y = y + 0.0\ndel y\nR = x",
        "returns",
    ),
    (
        "deep_graph_drop_small_thread_stack",
        "Tensor.__add__",
        "import threading\n"
        "def build():\n"
        "    y = rgrad.ones(1, requires_grad=True)\n"
        "    for _ in range(300_000):\n"
        "        y = y * 1.0\n"
        "    del y\n"
        "threading.stack_size(512 * 1024)\n"
        "t = threading.Thread(target=build)\nt.start()\nt.join()\nthreading.stack_size(0)\n"
        "R = rgrad.ones(2)",
        "returns",
    ),
    ("tensor_deep_list", "rgrad.tensor", "R = rgrad.tensor(DEEP)", "raises"),
    ("tensor_self_list", "rgrad.tensor", "R = rgrad.tensor(SELF)", "raises"),
    ("tensor_list_of_self_list", "rgrad.tensor", "R = rgrad.tensor([SELF, SELF])", "raises"),
    ("as_tensor_deep_list", "rgrad.as_tensor", "R = rgrad.as_tensor(DEEP)", "raises"),
    (
        "floor_divide_int64_min",
        "Tensor.__floordiv__",
        "R = rgrad.tensor([-2**63]) // -1",
        "returns",
    ),
    (
        "remainder_int64_min",
        "Tensor.__mod__",
        "R = rgrad.tensor([-2**63]) % -1",
        "returns",
    ),
    (
        "scatter_src_smaller_than_index",
        "Tensor.scatter",
        "R = rgrad.zeros(1, 3).scatter(1, rgrad.tensor([[0, 1, 2]]), rgrad.ones(1, 1))",
        "raises",
    ),
    (
        "scatter_add_src_smaller_than_index",
        "Tensor.scatter_add",
        "R = rgrad.zeros(1, 3).scatter_add(1, rgrad.tensor([[0, 1, 2]]), rgrad.ones(1, 1))",
        "raises",
    ),
    ("empty_2p62", "rgrad.empty", "R = rgrad.empty(2**62)", "raises"),
    ("arange_tiny_step", "rgrad.arange", "R = rgrad.arange(0, 1e18, 1e-18)", "raises"),
    ("linspace_2p62", "rgrad.linspace", "R = rgrad.linspace(0, 1, 2**62)", "raises"),
    ("layernorm_2p62", "nn.LayerNorm", "R = nn.LayerNorm(2**62 + 1)", "raises"),
    (
        "set_num_threads_2p63",
        "rgrad.set_num_threads",
        "try:\n    rgrad.set_num_threads(2**63)\nexcept Exception:\n    pass\n"
        "R = (rgrad.ones(1 << 20).sum(), rgrad.randn(512, 512) @ rgrad.randn(512, 512))",
        "returns",
    ),
    ("load_dev_zero", "rgrad.load", "R = rgrad.load('/dev/zero')", "raises"),
    (
        "tensor_int32_overflow",
        "rgrad.tensor",
        "R = rgrad.tensor([2**40], dtype=rgrad.int32)",
        "raises",
    ),
    ("tensor_uint64_max", "rgrad.tensor", "R = rgrad.tensor(np.uint64(2**64 - 1))", "any"),
    ("int_of_nan", "Tensor.__int__", "R = int(rgrad.tensor(float('nan')))", "raises"),
    ("int_of_1e20", "Tensor.__int__", "R = int(rgrad.tensor(1e20))", "any"),
    ("expand_2p32_squared", "Tensor.expand", "R = rgrad.ones(1, 1).expand(2**32, 2**32)", "raises"),
    ("repeat_wraps", "Tensor.repeat", "R = rgrad.ones(2, 2).repeat(2**63 - 1, 2)", "raises"),
    ("view_wraps", "Tensor.view", "R = rgrad.zeros(4).view(2**62 + 1, 4)", "raises"),
    ("eye_2p32", "rgrad.eye", "R = rgrad.eye(2**32)", "raises"),
    ("pad_huge", "F.pad", "R = F.pad(rgrad.zeros(3), (0, 2**62))", "raises"),
    ("normal_negative_std", "rgrad.normal", "R = rgrad.normal(0.0, -1.0, (3,))", "raises"),
    ("uniform_reversed", "Tensor.uniform_", "R = rgrad.zeros(3).uniform_(5, 1)", "raises"),
    (
        "bernoulli_nan",
        "rgrad.bernoulli",
        "R = rgrad.bernoulli(rgrad.tensor([float('nan')]))",
        "raises",
    ),
    (
        "numpy_of_expanded_huge",
        "Tensor.numpy",
        "R = rgrad.ones(1).expand(2**62).numpy()[-1]",
        "any",
    ),
    (
        "from_numpy_broadcast",
        "rgrad.from_numpy",
        "R = rgrad.from_numpy(np.broadcast_to(np.arange(3.0), (2**40, 3)))[2**40 - 1]",
        "any",
    ),
    # Found by the 500,000-call campaign (seed 7) after the first round of fixes.
    (
        "repeat_interleave_wrapping_total",
        "Tensor.repeat_interleave",
        "X = rgrad.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)\n"
        "R = X.repeat_interleave(2**62 + 1)",
        "raises",
    ),
    (
        "repeat_interleave_counts_wrapping_total",
        "rgrad.repeat_interleave",
        "R = rgrad.repeat_interleave(rgrad.tensor([2**62, 2**62, 2**62]))",
        "raises",
    ),
    (
        "trunc_normal_mean_far_outside",
        "nn.init.trunc_normal_",
        "R = nn.init.trunc_normal_(rgrad.randn(2, 3, dtype=rgrad.float64), mean=2**32)",
        "returns",
    ),
]
HOSTILE_CALLS = [(op, src) for _, op, src, _ in HOSTILE]
