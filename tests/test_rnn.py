"""Recurrent layers: nn.RNN/LSTM/GRU, their cells and nn.utils.rnn against PyTorch's numbers
(tests/data/modules_rnn.*, the lstm/gru/rnn cases of PyTorch's modules reference), reprs and
error messages (tests/data/printing_rnn.json, from PyTorch's printing_tier3 reference),
gradcheck over every module and cell configuration, gradgradcheck on the cells, and packing
against its definition."""

import json
import pathlib
import warnings

import module_cases
import numpy as np
import pytest

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck, gradgradcheck
from rgrad.nn.utils import rnn as rnn_utils

DATA = pathlib.Path(__file__).parent / "data"
MODULES, MODULE_ARRAYS = module_cases.load("rnn")
PRINTING = json.loads((DATA / "printing_rnn.json").read_text())["cases"]
DTYPES = {"float64": (rgrad.float64, 1e-7), "float32": (rgrad.float32, 3e-4)}


flatten = module_cases.flatten


def run_module_case(case, precision, device="cpu"):
    dtype, tol = DTYPES[precision]
    module_cases.run(case, MODULE_ARRAYS, dtype, tol, device)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases(case, precision):
    run_module_case(case, precision)


def test_every_recurrent_module_case_is_here():
    assert len(MODULES) == 13
    assert all(c["name"].startswith(("lstm", "gru", "rnn")) for c in MODULES)


@pytest.mark.parametrize("case", PRINTING, ids=lambda c: c["expr"][:60])
def test_printing_cases(case):
    env = {"torch": rgrad, "nn": nn, "F": F}
    exec(case["setup"], env)
    if "raises" in case:
        with pytest.raises(Exception) as info:
            eval(case["expr"], env)
        assert (type(info.value).__name__, str(info.value)) == (case["raises"], case["message"])
    else:
        assert str(eval(case["expr"], env)) == case["str"]


# ---- parameters, initialisation, paths -----------------------------------------------------


def test_parameter_names_shapes_and_order():
    m = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    got = [(n, tuple(p.shape)) for n, p in m.named_parameters()]
    want = []
    for layer, insize in ((0, 3), (1, 4)):
        for sfx in ("", "_reverse"):
            want += [
                (f"weight_ih_l{layer}{sfx}", (20, insize)),
                (f"weight_hh_l{layer}{sfx}", (20, 2)),
                (f"bias_ih_l{layer}{sfx}", (20,)),
                (f"bias_hh_l{layer}{sfx}", (20,)),
                (f"weight_hr_l{layer}{sfx}", (2, 5)),
            ]
    assert got == want
    assert [[tuple(p.shape) for p in ws] for ws in m.all_weights] == [
        [s for _, s in want[i : i + 5]] for i in range(0, 20, 5)
    ]
    g = nn.GRU(2, 4, bias=False)
    assert [n for n, _ in g.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert g.weight_ih_l0.shape == (12, 2)
    c = nn.LSTMCell(2, 3)
    assert [(n, tuple(p.shape)) for n, p in c.named_parameters()] == [
        ("weight_ih", (12, 2)),
        ("weight_hh", (12, 3)),
        ("bias_ih", (12,)),
        ("bias_hh", (12,)),
    ]
    assert nn.GRUCell(2, 3, bias=False).bias_ih is None


def test_init_is_uniform_in_one_over_sqrt_hidden():
    rgrad.manual_seed(0)
    m = nn.GRU(8, 16, num_layers=2)
    bound = 1 / 16**0.5
    values = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound
    assert abs(values.mean()) < 0.02


def test_classes_live_at_pytorchs_paths():
    from rgrad.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell

    assert (LSTM, GRU, RNN) == (nn.LSTM, nn.GRU, nn.RNN)
    assert (LSTMCell, GRUCell, RNNCell) == (nn.LSTMCell, nn.GRUCell, nn.RNNCell)
    assert issubclass(LSTM, RNNBase) and LSTM.__module__ == "rgrad.nn.modules.rnn"
    assert nn.utils.rnn.PackedSequence is rnn_utils.PackedSequence


def test_flatten_parameters_is_a_no_op_and_to_keeps_working():
    m = nn.LSTM(2, 3)
    before = [p for p in m.parameters()]
    m.flatten_parameters()
    m = m.double()
    assert all(a is b for a, b in zip(before, m.parameters()))
    out, (h, c) = m(rgrad.randn(4, 2, 2, dtype=rgrad.float64))
    assert out.dtype == rgrad.float64 and h.shape == (1, 2, 3) and c.shape == (1, 2, 3)


def test_state_dict_round_trip():
    a, b = nn.GRU(3, 4, num_layers=2), nn.GRU(3, 4, num_layers=2)
    b.load_state_dict(a.state_dict())
    x = rgrad.randn(5, 2, 3)
    np.testing.assert_array_equal(a(x)[0].detach().numpy(), b(x)[0].detach().numpy())


# ---- the fused recurrence against the tensor-op composite ---------------------------------

from rgrad.nn._functional import rnn as rnn_f  # noqa: E402


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_layer_matches_the_composite(mode, reverse, bias):
    """Outputs, final states and every gradient (float64, a transposed input too)."""
    rng = np.random.default_rng(3)
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    T, B, In, H = 5, 3, 4, 6
    t = lambda *s: rgrad.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)  # noqa: E731
    x = t(B, T, In)
    h0, c0 = t(B, H), (t(B, H) if mode == "LSTM" else None)
    w_ih, w_hh = t(gates * H, In), t(gates * H, H)
    b_ih, b_hh = (t(gates * H), t(gates * H)) if bias else (None, None)
    leaves = [v for v in (x, h0, c0, w_ih, w_hh, b_ih, b_hh) if v is not None]
    cot_out, cot_h, cot_c = (
        rgrad.tensor(rng.standard_normal(s)) for s in [(T, B, H), (B, H), (B, H)]
    )
    results = []
    for fn in (rnn_f.layer, rnn_f.composite_layer):
        out, h, c = fn(mode, x.transpose(0, 1), h0, c0, w_ih, w_hh, b_ih, b_hh, None, reverse)
        loss = (out * cot_out).sum() + (h * cot_h).sum()
        if c is not None:
            loss = loss + (c * cot_c).sum()
        grads = rgrad.autograd.grad(loss, leaves)
        results.append([out, h] + ([c] if c is not None else []) + list(grads))
    for a, b in zip(*results):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


PACKED_OR_PROJ = [
    # (mode, proj, batch_sizes)
    ("LSTM", 2, None),
    ("LSTM", 2, [3, 3, 2, 1]),
    ("LSTM", 0, [3, 2, 2, 1]),
    ("GRU", 0, [3, 1, 1, 1]),
    ("RNN_TANH", 0, [2, 2, 2, 2]),
    ("RNN_RELU", 0, [3, 2, 1, 1]),
]


@pytest.mark.parametrize("mode,proj,batch_sizes", PACKED_OR_PROJ)
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_packed_and_projected_layers_match_the_composite(mode, proj, batch_sizes, reverse):
    """Packed inputs (per-step batch sizes) and LSTM projections run in the one op: outputs,
    final states of each sequence and every gradient as the tensor-op composite's."""
    rng = np.random.default_rng(7)
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    T, B, In, H = 4, 3, 2, 5
    P = proj or H
    t = lambda *s: rgrad.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)  # noqa: E731
    n = sum(batch_sizes) if batch_sizes else None
    x = t(n, In) if batch_sizes else t(T, B, In)
    b0 = batch_sizes[0] if batch_sizes else B
    h0, c0 = t(b0, P), (t(b0, H) if mode == "LSTM" else None)
    w_ih, w_hh, b_ih, b_hh = t(gates * H, In), t(gates * H, P), t(gates * H), t(gates * H)
    w_hr = t(P, H) if proj else None
    leaves = [v for v in (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr) if v is not None]
    results = []
    for fn in (rnn_f.layer, rnn_f.composite_layer):
        args = (mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, batch_sizes)
        out, h, c = fn(*args)
        cot = [rgrad.tensor(np.random.default_rng(8).standard_normal(v.shape)) for v in (out, h)]
        loss = (out * cot[0]).sum() + (h * cot[1]).sum()
        if c is not None:
            loss = loss + (c * c).sum()
        grads = rgrad.autograd.grad(loss, leaves)
        results.append([out, h] + ([c] if c is not None else []) + list(grads))
    assert results[0][0].shape == results[1][0].shape
    for a, b in zip(*results):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "mode,proj,batch_sizes",
    [
        ("LSTM", 0, None),
        ("LSTM", 16, None),
        ("GRU", 0, None),
        ("LSTM", 0, [32] * 8 + [30] * 4 + [21] * 3 + [9]),
    ],
)
def test_fused_layer_split_into_batch_blocks_matches_the_composite(mode, proj, batch_sizes):
    """Batches big enough that the fused sweeps run as blocks of batch rows on separate
    threads (cpu/rnn_blocks.rs): every output and gradient as the composite's, float64."""
    rng = np.random.default_rng(11)
    gates = {"LSTM": 4, "GRU": 3}[mode]
    T, B, In, H = 16, 32, 3, 32
    P = proj or H
    t = lambda *s: rgrad.tensor(rng.standard_normal(s) * 0.3, requires_grad=True)  # noqa: E731
    x = t(sum(batch_sizes), In) if batch_sizes else t(T, B, In)
    h0, c0 = t(B, P), (t(B, H) if mode == "LSTM" else None)
    w_ih, w_hh, b_ih, b_hh = t(gates * H, In), t(gates * H, P), t(gates * H), t(gates * H)
    w_hr = t(P, H) if proj else None
    leaves = [v for v in (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr) if v is not None]
    results = []
    for fn in (rnn_f.layer, rnn_f.composite_layer):
        out, h, c = fn(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, False, batch_sizes)
        cot = [rgrad.tensor(np.random.default_rng(12).standard_normal(v.shape)) for v in (out, h)]
        loss = (out * cot[0]).sum() + (h * cot[1]).sum()
        if c is not None:
            loss = loss + (c * c).sum()
        grads = rgrad.autograd.grad(loss, leaves)
        results.append([out, h] + ([c] if c is not None else []) + list(grads))
    for a, b in zip(*results):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-11)


def test_packed_and_projected_layers_are_one_node():
    m = nn.LSTM(3, 4, proj_size=2)
    x = rnn_utils.pack_padded_sequence(rgrad.randn(5, 2, 3), [5, 3])
    out, _ = m(x)
    assert out.data.grad_fn.name() == "RnnLayerBackward0"


@pytest.mark.parametrize("proj", [0, 2])
def test_gradgradcheck_fused_packed_layer(proj):
    """Double backward of a packed (and projected) layer: the recorded backward recomputes
    the packed recurrence in tensor ops."""
    rng = np.random.default_rng(9)
    t = lambda *s: rgrad.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)  # noqa: E731
    H, P = 3, proj or 3
    x, h0, c0 = t(5, 2), t(2, P), t(2, H)
    w_ih, w_hh, w_hr = t(4 * H, 2), t(4 * H, P), t(P, H)

    def fn(x, h0, c0, w_ih, w_hh, *hr):
        w = hr[0] if hr else None
        out, h, c = rnn_f.layer("LSTM", x, h0, c0, w_ih, w_hh, None, None, w, True, [2, 2, 1])
        return out, h, c

    inputs = (x, h0, c0, w_ih, w_hh) + ((w_hr,) if proj else ())
    assert gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5)


def test_fused_layer_records_one_node():
    m = nn.LSTM(3, 4)
    out, (h, c) = m(rgrad.randn(6, 2, 3))
    # One layer, one direction: the output is the fused op's; h_n, c_n stack its states.
    assert out.grad_fn.name() == "RnnLayerBackward0"
    assert h.grad_fn.name() == c.grad_fn.name() == "StackBackward0"


def test_only_the_final_state_gets_a_gradient():
    rgrad.manual_seed(0)
    m = nn.GRU(3, 4).double()
    x = rgrad.randn(5, 2, 3, dtype=rgrad.float64, requires_grad=True)
    _, h = m(x)
    h.sum().backward()
    g_fused = x.grad.clone()
    x.grad = None
    h0 = rgrad.zeros(2, 4, dtype=rgrad.float64)
    w = [m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0]
    _, h2, _ = rnn_f.composite_layer("GRU", x, h0, None, *w, None, False)
    h2.sum().backward()
    np.testing.assert_allclose(g_fused.numpy(), x.grad.numpy(), rtol=1e-10)


# ---- gradcheck over every configuration ---------------------------------------------------

CONFIGS = [
    # (class, kwargs, unbatched, with h0, packed)
    ("RNN", {}, False, False, False),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}, False, True, False),
    ("RNN", {"bidirectional": True, "batch_first": True}, False, True, False),
    ("RNN", {"bias": False}, True, True, False),
    ("LSTM", {}, False, True, False),
    ("LSTM", {"num_layers": 2, "bidirectional": True}, False, False, False),
    ("LSTM", {"batch_first": True, "bias": False}, False, True, False),
    ("LSTM", {"proj_size": 2}, False, True, False),
    ("LSTM", {"proj_size": 2, "bidirectional": True, "num_layers": 2}, False, False, False),
    ("LSTM", {}, True, True, False),
    ("LSTM", {"bidirectional": True}, False, True, True),
    ("GRU", {}, False, True, False),
    ("GRU", {"num_layers": 2, "batch_first": True}, False, False, False),
    ("GRU", {"bidirectional": True, "bias": False}, True, True, False),
    ("GRU", {"bidirectional": True, "num_layers": 2}, False, True, True),
    ("RNN", {"nonlinearity": "relu"}, False, False, True),
]


def _config_id(c):
    cls, kw, unbatched, h0, packed = c
    parts = [cls] + [f"{k}={v}" for k, v in kw.items()]
    parts += ["unbatched"] * unbatched + ["h0"] * h0 + ["packed"] * packed
    return "-".join(parts)


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_gradcheck_modules(config):
    cls, kw, unbatched, with_h0, packed = config
    rgrad.manual_seed(1)
    m = getattr(nn, cls)(2, 3, **kw).double()
    T, B = 3, 2
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    hsize = kw.get("proj_size", 0) or 3
    bf = kw.get("batch_first", False)
    shape = (T, 2) if unbatched else ((B, T, 2) if bf else (T, B, 2))
    x = rgrad.randn(*shape, dtype=rgrad.float64, requires_grad=True)
    hshape = (L * D, hsize) if unbatched else (L * D, B, hsize)
    cshape = (L * D, 3) if unbatched else (L * D, B, 3)
    h0 = rgrad.randn(*hshape, dtype=rgrad.float64, requires_grad=True)
    c0 = rgrad.randn(*cshape, dtype=rgrad.float64, requires_grad=True)

    def fn(x, h0, c0, *params):
        inp = x
        if packed:
            inp = rnn_utils.pack_padded_sequence(x, [3, 2], batch_first=bf)
        state = None
        if with_h0:
            state = (h0, c0) if cls == "LSTM" else h0
        out, hidden = m(inp, state)
        if packed:
            out = rnn_utils.pad_packed_sequence(out, batch_first=bf)[0]
        return (out, *flatten(hidden))

    assert gradcheck(fn, (x, h0, c0, *m.parameters()), eps=1e-6, atol=1e-6)


CELLS = [
    ("RNNCell", {}, False),
    ("RNNCell", {"nonlinearity": "relu", "bias": False}, False),
    ("LSTMCell", {}, False),
    ("LSTMCell", {"bias": False}, True),
    ("GRUCell", {}, False),
    ("GRUCell", {}, True),
]


@pytest.mark.parametrize("config", CELLS, ids=lambda c: "-".join([c[0], *c[1], "1d" * c[2]]))
def test_gradcheck_and_gradgradcheck_cells(config):
    cls, kw, unbatched = config
    rgrad.manual_seed(2)
    m = getattr(nn, cls)(2, 3, **kw).double()
    shape = (2,) if unbatched else (2, 2)
    x = rgrad.randn(*shape, dtype=rgrad.float64, requires_grad=True)
    h = rgrad.randn(*shape[:-1], 3, dtype=rgrad.float64, requires_grad=True)
    c = rgrad.randn(*shape[:-1], 3, dtype=rgrad.float64, requires_grad=True)
    if cls == "RNNCell" and kw.get("nonlinearity") == "relu":
        # Keep pre-activations away from relu's kink, where finite differences straddle it.
        with rgrad.no_grad():
            m.weight_ih.mul_(0.1)
            m.weight_hh.mul_(0.1)

    def fn(x, h, c, *params):
        return tuple(flatten(m(x, (h, c) if cls == "LSTMCell" else h)))

    inputs = (x, h, c, *m.parameters())
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-6)
    assert gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("mode", ["RNN_TANH", "LSTM", "GRU"])
def test_gradgradcheck_fused_layer(mode):
    """Double backward through the fused op: its recorded backward recomputes in tensor ops."""
    rng = np.random.default_rng(4)
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    t = lambda *s: rgrad.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)  # noqa: E731
    x, h0, w_ih, w_hh = t(3, 2, 2), t(2, 2), t(gates * 2, 2), t(gates * 2, 2)
    c0 = t(2, 2) if mode == "LSTM" else rgrad.zeros(1)

    def fn(x, h0, c0, w_ih, w_hh):
        out, h, c = rnn_f.layer(
            mode, x, h0, c0 if mode == "LSTM" else None, w_ih, w_hh, None, None, None, True
        )
        return (out, h) + ((c,) if c is not None else ())

    assert gradgradcheck(fn, (x, h0, c0, w_ih, w_hh), eps=1e-6, atol=1e-5)


# ---- packed sequences ---------------------------------------------------------------------


def test_pack_padded_sequence_layout_and_round_trip():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 2))  # T, B, *
    lengths = [4, 2, 1]
    p = rnn_utils.pack_padded_sequence(rgrad.tensor(x), lengths)
    want = np.concatenate([x[t, : sum(n > t for n in lengths)] for t in range(4)])
    np.testing.assert_array_equal(p.data.numpy(), want)
    assert p.batch_sizes.tolist() == [3, 2, 1, 1] and p.batch_sizes.dtype == rgrad.int64
    assert p.sorted_indices is None and p.unsorted_indices is None
    padded, n = rnn_utils.pad_packed_sequence(p, padding_value=-1.0, total_length=6)
    assert padded.shape == (6, 3, 2) and n.tolist() == lengths
    expect = np.full((6, 3, 2), -1.0)
    for b, k in enumerate(lengths):
        expect[:k, b] = x[:k, b]
    np.testing.assert_array_equal(padded.numpy(), expect)


def test_unsorted_lengths_keep_the_batch_order():
    rng = np.random.default_rng(6)
    x = rgrad.tensor(rng.standard_normal((3, 4, 2)))  # B, T, * (batch_first)
    lengths = rgrad.tensor([2, 4, 1])
    p = rnn_utils.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    assert p.sorted_indices.tolist() == [1, 0, 2] and p.unsorted_indices.tolist() == [1, 0, 2]
    padded, n = rnn_utils.pad_packed_sequence(p, batch_first=True)
    assert n.tolist() == [2, 4, 1]
    for b, k in enumerate([2, 4, 1]):
        np.testing.assert_array_equal(padded[b, :k].numpy(), x[b, :k].numpy())
        assert (padded[b, k:].numpy() == 0).all()


def test_pad_sequence_sides_and_layouts():
    seqs = [rgrad.ones(2, 3), rgrad.ones(4, 3) * 2, rgrad.ones(1, 3) * 3]
    right = rnn_utils.pad_sequence(seqs, padding_value=-1)
    assert right.shape == (4, 3, 3)
    np.testing.assert_array_equal(right[:, 0, 0].numpy(), [1, 1, -1, -1])
    left = rnn_utils.pad_sequence(seqs, batch_first=True, padding_side="left")
    assert left.shape == (3, 4, 3)
    np.testing.assert_array_equal(left[2, :, 0].numpy(), [0, 0, 0, 3])
    back = rnn_utils.unpad_sequence(right, rgrad.tensor([2, 4, 1]))
    assert [tuple(s.shape) for s in back] == [(2, 3), (4, 3), (1, 3)]
    packed = rnn_utils.pack_sequence(seqs, enforce_sorted=False)
    again = rnn_utils.unpack_sequence(packed)
    for a, b in zip(seqs, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# Recorded with PyTorch 2.15.
PACK_ERRORS = [
    (
        lambda: rnn_utils.pack_padded_sequence(rgrad.ones(3, 2, 1), [3]),
        RuntimeError,
        "Expected `len(lengths)` to be equal to batch_size, but got 1 (batch_size=2)",
    ),
    (
        lambda: rnn_utils.pack_padded_sequence(rgrad.ones(3, 2, 1), [3, 0]),
        RuntimeError,
        "Length of all samples has to be greater than 0, but found an element in 'lengths' "
        "that is <= 0",
    ),
    (
        lambda: rnn_utils.pad_sequence([rgrad.ones(2)], padding_side="mid"),
        RuntimeError,
        "Expected padding_side to be one of left or right, but got mid.",
    ),
    (
        lambda: rnn_utils.pad_packed_sequence(
            rnn_utils.pack_padded_sequence(rgrad.ones(3, 2, 1), [3, 2]), total_length=2
        ),
        ValueError,
        "Expected total_length to be at least the length of the longest sequence in input, "
        "but got total_length=2 and max sequence length being 3",
    ),
    (
        lambda: rnn_utils.pack_padded_sequence(rgrad.ones(3, 2, 1), rgrad.tensor([[3, 2]])),
        RuntimeError,
        "'lengths' argument should be a 1D CPU int64 tensor, but got 2D cpu Long tensor",
    ),
]


@pytest.mark.parametrize("i", range(len(PACK_ERRORS)))
def test_packing_errors(i):
    fn, exc, message = PACK_ERRORS[i]
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == message


def test_lengths_past_the_sequence_are_an_error_not_a_read_out_of_bounds():
    with pytest.raises(RuntimeError, match="at most the sequence length 3"):
        rnn_utils.pack_padded_sequence(rgrad.ones(3, 2, 1), [4, 2])


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_packed_final_states_are_each_sequences_last_step(cls):
    rgrad.manual_seed(3)
    m = getattr(nn, cls)(2, 3, bidirectional=True).double()
    rng = np.random.default_rng(7)
    lengths = [2, 5, 3]
    seqs = [rgrad.tensor(rng.standard_normal((k, 2))) for k in lengths]
    out, hidden = m(rnn_utils.pack_sequence(seqs, enforce_sorted=False))
    padded, _ = rnn_utils.pad_packed_sequence(out)
    for b, s in enumerate(seqs):
        o1, h1 = m(s)
        np.testing.assert_allclose(
            padded[: lengths[b], b].detach().numpy(), o1.detach().numpy(), rtol=1e-10
        )
        for a, c in zip(flatten(hidden), flatten(h1)):
            np.testing.assert_allclose(a[:, b].detach().numpy(), c.detach().numpy(), rtol=1e-10)


# ---- checks, dropout ------------------------------------------------------------------------

MODULE_ERRORS = [
    (lambda: nn.LSTM(3, 4, proj_size=4), ValueError, "proj_size has to be smaller than hidden_size"),  # noqa: E501
    (lambda: nn.GRU(3, 4, proj_size=1), ValueError, "proj_size argument is only supported for LSTM, not RNN or GRU"),  # noqa: E501
    (lambda: nn.RNN(3, 4, nonlinearity="gelu"), ValueError, "Unknown nonlinearity 'gelu'. Select from 'tanh' or 'relu'."),  # noqa: E501
    (lambda: nn.LSTM(3, 0), ValueError, "hidden_size must be greater than zero"),
    (lambda: nn.GRU(3, 4, dropout=1.5), ValueError, "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"),  # noqa: E501
    (lambda: nn.RNN(3, 4)(rgrad.ones(2, 3, 3, 1)), ValueError, "RNN: Expected input to be 2D or 3D, got 4D tensor instead"),  # noqa: E501
    (lambda: nn.GRU(3, 4)(rgrad.ones(5, 2, 3), rgrad.zeros(2, 4)), RuntimeError, "For batched 3-D input, hx should also be 3-D but got 2-D tensor"),  # noqa: E501
    (lambda: nn.LSTM(3, 4)(rgrad.ones(5, 3), (rgrad.zeros(1, 1, 4), rgrad.zeros(1, 4))), RuntimeError, "For unbatched 2-D input, hx and cx should also be 2-D but got (3-D, 2-D) tensors"),  # noqa: E501
    (lambda: nn.LSTM(3, 4)(rgrad.ones(5, 2, 3), (rgrad.zeros(1, 2, 4), rgrad.zeros(1, 2, 5))), RuntimeError, "Expected hidden[1] size (1, 2, 4), got [1, 2, 5]"),  # noqa: E501
    (lambda: nn.GRU(3, 4)(rgrad.ones(5, 2, 3), rgrad.zeros(2, 2, 4)), RuntimeError, "Expected hidden size (1, 2, 4), got [2, 2, 4]"),  # noqa: E501
    (lambda: nn.GRU(3, 4)(rgrad.ones(5, 2, 3, dtype=rgrad.float64)), ValueError, "RNN input dtype (torch.float64) does not match weight dtype (torch.float32). Convert input: input.to(torch.float32), or convert model: model.to(torch.float64)"),  # noqa: E501
    (lambda: nn.LSTMCell(3, 4)(rgrad.ones(2, 6)), RuntimeError, "input has inconsistent input_size: got 6 expected 3"),  # noqa: E501
    (lambda: nn.LSTMCell(3, 4)(rgrad.ones(2, 3), (rgrad.zeros(2, 4), rgrad.zeros(3, 4))), RuntimeError, "Input batch size 2 doesn't match hidden1 batch size 3"),  # noqa: E501
    (lambda: nn.GRUCell(3, 4)(rgrad.ones(2, 3), rgrad.zeros(2, 5)), RuntimeError, "hidden0 has inconsistent hidden_size: got 5, expected 4"),  # noqa: E501
    (lambda: nn.GRUCell(3, 4)(rgrad.ones(1, 2, 3)), ValueError, "GRUCell: Expected input to be 1D or 2D, got 3D instead"),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize("i", range(len(MODULE_ERRORS)))
def test_module_errors(i):
    fn, exc, message = MODULE_ERRORS[i]
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == message.replace("torch.", "rgrad.") or str(info.value) == message


def test_dropout_between_layers_only_in_training():
    rgrad.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = rgrad.randn(4, 2, 3)
    m.eval()
    a, b = m(x)[0], m(x)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    c, d = m(x)[0], m(x)[0]
    assert not np.allclose(c.detach().numpy(), d.detach().numpy())
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


# ---- wgpu -------------------------------------------------------------------------------------


@pytest.mark.wgpu
@pytest.mark.parametrize("case", MODULES, ids=lambda c: c["name"])
def test_module_cases_on_wgpu(case):
    run_module_case(case, "float32", device="wgpu")


@pytest.mark.wgpu
@pytest.mark.parametrize(
    "mode,proj,batch_sizes,reverse",
    [
        ("LSTM", 0, None, False),
        ("LSTM", 2, [2, 2, 1], True),
        ("GRU", 0, [2, 1, 1], False),
        ("RNN_TANH", 0, None, True),
    ],
)
def test_fused_layer_on_wgpu_matches_cpu(mode, proj, batch_sizes, reverse):
    """The layer op on the device (its recurrence composed of device kernels, no host round
    trip per step): outputs, final states and gradients as on the CPU (float32)."""
    rng = np.random.default_rng(11)
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    T, B, In, H = 3, 2, 3, 4
    P = proj or H
    shapes = {
        "x": (sum(batch_sizes), In) if batch_sizes else (T, B, In),
        "h0": (B, P),
        "c0": (B, H),
        "w_ih": (gates * H, In),
        "w_hh": (gates * H, P),
        "b_ih": (gates * H,),
        "b_hh": (gates * H,),
        "w_hr": (P, H),
    }
    data = {k: (rng.standard_normal(s) * 0.5).astype(np.float32) for k, s in shapes.items()}
    results = []
    for device in ("cpu", "wgpu"):
        v = {k: rgrad.tensor(a, device=device, requires_grad=True) for k, a in data.items()}
        c0 = v["c0"] if mode == "LSTM" else None
        w_hr = v["w_hr"] if proj else None
        args = (v["w_ih"], v["w_hh"], v["b_ih"], v["b_hh"], w_hr, reverse, batch_sizes)
        out, h, c = rnn_f.layer(mode, v["x"], v["h0"], c0, *args)
        assert out.device.type == device
        loss = (out * out).sum() + h.sum() + (c.sum() if c is not None else 0)
        leaves = [v[k] for k in ("x", "h0", "w_ih", "w_hh", "b_ih", "b_hh")]
        grads = rgrad.autograd.grad(loss, leaves)
        results.append([t.detach().cpu().numpy() for t in (out, h, *grads)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
