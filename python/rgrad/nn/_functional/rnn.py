"""The recurrences behind ``nn.RNN``/``LSTM``/``GRU`` and their cells.

``layer`` runs one layer in one direction over a time-major sequence (or over a packed one,
given its ``batch_sizes``) as one core op (``_rgrad._rnn_layer``: the input projection of
every step as one GEMM, then fused gates per step in Rust, BPTT in one backward node).
Packed sequences (per-step batch sizes) and LSTM projections (``weight_hr``) run in the same
op. ``composite_layer`` is the same recurrence in tensor ops, a few per step: the reference
the tests compare the op with. The modules arrange the
weights (PyTorch's names and gate order: LSTM i, f, g, o; GRU r, z, n with ``b_hn`` inside the
reset product) and the layers, directions and packed sequences around it."""

import rgrad
from rgrad import _rgrad
from rgrad.nn._functional.layers import linear

__all__ = [
    "composite_layer",
    "gru_cell",
    "layer",
    "lstm_cell",
    "rnn_relu_cell",
    "rnn_tanh_cell",
]


def _lstm_step(gi, h, c, w_hh, b_hh, w_hr):
    gates = gi + linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, 1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if w_hr is not None:
        h = linear(h, w_hr)
    return h, c


def _gru_step(gi, h, w_hh, b_hh):
    gh = linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, 1)
    h_r, h_z, h_n = gh.chunk(3, 1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)


def _rnn_step(gi, h, w_hh, b_hh, relu):
    pre = gi + linear(h, w_hh, b_hh)
    return pre.relu() if relu else pre.tanh()


def _step(mode, gi, h, c, w_hh, b_hh, w_hr):
    if mode == "LSTM":
        return _lstm_step(gi, h, c, w_hh, b_hh, w_hr)
    if mode == "GRU":
        return _gru_step(gi, h, w_hh, b_hh), None
    return _rnn_step(gi, h, w_hh, b_hh, mode == "RNN_RELU"), None


def layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, batch_sizes=None):
    """One layer, one direction, as one core op (see ``composite_layer`` for the
    arguments)."""
    return _rgrad._rnn_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, batch_sizes)


def composite_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, batch_sizes=None):
    """One layer, one direction, in tensor ops. ``x`` is (T, B, I) time-major, or packed
    (N, I) with the ``batch_sizes`` list; ``h0``/``c0`` are (B, H). Returns (output, h_last,
    c_last) with the output laid out as ``x`` (c_last None except for LSTM). In a packed batch
    the final state of each sequence is the one at its own last step."""
    gi = linear(x, w_ih, b_ih)  # every step's input projection in one GEMM
    if batch_sizes is None:
        steps = gi.unbind(0)
        order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
        h, c, outs = h0, c0, [None] * len(steps)
        for t in order:
            h, c = _step(mode, steps[t], h, c, w_hh, b_hh, w_hr)
            outs[t] = h
        return rgrad.stack(outs, 0), h, c
    offsets = [0]
    for bs in batch_sizes:
        offsets.append(offsets[-1] + bs)
    outs = [None] * len(batch_sizes)
    if not reverse:
        # Sequences end as the batch shrinks: their final states are set aside in order.
        h, c, done_h, done_c = h0, c0, [], []
        for t, bs in enumerate(batch_sizes):
            if bs < h.size(0):
                done_h.append(h[bs:])
                h = h[:bs]
                if c is not None:
                    done_c.append(c[bs:])
                    c = c[:bs]
            h, c = _step(mode, gi[offsets[t] : offsets[t + 1]], h, c, w_hh, b_hh, w_hr)
            outs[t] = h
        h_last = rgrad.cat([h, *reversed(done_h)], 0)
        c_last = rgrad.cat([c, *reversed(done_c)], 0) if c is not None else None
        return rgrad.cat(outs, 0), h_last, c_last
    # Backwards in time the batch grows: sequences join with their initial state.
    last = batch_sizes[-1]
    h = h0[:last]
    c = c0[:last] if c0 is not None else None
    for t in range(len(batch_sizes) - 1, -1, -1):
        bs = batch_sizes[t]
        if bs > h.size(0):
            h = rgrad.cat([h, h0[h.size(0) : bs]], 0)
            if c is not None:
                c = rgrad.cat([c, c0[c.size(0) : bs]], 0)
        h, c = _step(mode, gi[offsets[t] : offsets[t + 1]], h, c, w_hh, b_hh, w_hr)
        outs[t] = h
    return rgrad.cat(outs, 0), h, c


def _check_cell(input, hx, w_ih, hidden_size, idx="0"):
    if input.size(1) != w_ih.size(1):
        raise RuntimeError(
            f"input has inconsistent input_size: got {input.size(1)} expected {w_ih.size(1)}"
        )
    if input.size(0) != hx.size(0):
        raise RuntimeError(
            f"Input batch size {input.size(0)} doesn't match hidden{idx} batch size {hx.size(0)}"
        )
    if hx.size(1) != hidden_size:
        raise RuntimeError(
            f"hidden{idx} has inconsistent hidden_size: got {hx.size(1)}, expected {hidden_size}"
        )


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step on (B, I) with ``hx = (h, c)``; returns (h', c')."""
    h, c = hx
    _check_cell(input, h, w_ih, w_hh.size(1))
    _check_cell(input, c, w_ih, w_hh.size(1), "1")
    return _lstm_step(linear(input, w_ih, b_ih), h, c, w_hh, b_hh, None)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step on (B, I); returns h'."""
    _check_cell(input, hx, w_ih, w_hh.size(1))
    return _gru_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step with tanh on (B, I); returns h'."""
    _check_cell(input, hx, w_ih, w_hh.size(1))
    return _rnn_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh, False)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step with ReLU on (B, I); returns h'."""
    _check_cell(input, hx, w_ih, w_hh.size(1))
    return _rnn_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh, True)
