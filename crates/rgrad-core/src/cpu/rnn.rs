//! The recurrences of one RNN/LSTM/GRU layer in one direction, forward and BPTT.
//!
//! The input projection of every step (`gi = x W_ih^T + b_ih`, `[T, B, G]`) is computed
//! before, as one GEMM; here each step is one `[B, H] x [H, G]` GEMM for the hidden side
//! and one fused pass for the gate nonlinearities and the state update. The forward keeps the
//! activated gates, so the backward is a single reverse sweep (one GEMM per step for the
//! hidden gradient) and one GEMM at the end for the hidden weights' gradient.
//!
//! Gate order as PyTorch's: LSTM i, f, g, o; GRU r, z, n with `b_hn` inside the reset product.

use super::matmul::{matmul_into, Mat};
use crate::storage::Element;
use std::ops::{Add, Mul, Sub};

/// The recurrent cell of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RnnMode {
    Tanh,
    Relu,
    Lstm,
    Gru,
}

impl RnnMode {
    /// Gate blocks per hidden unit.
    pub fn gates(self) -> usize {
        match self {
            RnnMode::Tanh | RnnMode::Relu => 1,
            RnnMode::Lstm => 4,
            RnnMode::Gru => 3,
        }
    }
}

/// Floats the recurrence runs on.
pub trait RnnFloat: Element + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> {
    /// `out[i] = tanh(xs[i])`.
    fn tanh_into(xs: &[Self], out: &mut [Self]);
}

impl RnnFloat for f32 {
    fn tanh_into(xs: &[f32], out: &mut [f32]) {
        super::math::tanh_f32_into(xs, out)
    }
}

impl RnnFloat for f64 {
    fn tanh_into(xs: &[f64], out: &mut [f64]) {
        for (o, &x) in out.iter_mut().zip(xs) {
            *o = x.tanh();
        }
    }
}

/// Sizes of one layer: `t` steps, `b` batch, `h` hidden units, `g = gates * h`.
#[derive(Clone, Copy, Debug)]
pub struct RnnDims {
    pub mode: RnnMode,
    pub t: usize,
    pub b: usize,
    pub h: usize,
    pub reverse: bool,
}

impl RnnDims {
    fn g(&self) -> usize {
        self.mode.gates() * self.h
    }
    /// The step processed `k`-th.
    fn step(&self, k: usize) -> usize {
        if self.reverse {
            self.t - 1 - k
        } else {
            k
        }
    }
}

/// What the forward returns: the outputs and what the backward reads.
pub struct RnnForward<T> {
    /// `[T, B, H]` hidden state after each step (the layer's output).
    pub y: Vec<T>,
    /// `[B, H]` final hidden and (LSTM) cell state.
    pub h_last: Vec<T>,
    pub c_last: Vec<T>,
    /// `[T, B, G]` activated gates (LSTM i, f, g, o; GRU r, z, n; empty for plain RNNs).
    pub gates: Vec<T>,
    /// LSTM: `[T, B, H]` tanh of the cell state; GRU: `[T, B, H]` `W_hn h + b_hn`.
    pub extra: Vec<T>,
    /// LSTM: `[T, B, H]` cell state after each step.
    pub cells: Vec<T>,
}

fn half<T: RnnFloat>() -> T {
    T::from_f64(0.5)
}

/// Applies the sigmoid to `v` in place through tanh: `s(x) = 1/2 + tanh(x/2)/2`.
fn sigmoid_inplace<T: RnnFloat>(v: &mut [T], scratch: &mut Vec<T>) {
    scratch.clear();
    scratch.extend(v.iter().map(|&x| x * half()));
    T::tanh_into(scratch, v);
    for x in v.iter_mut() {
        *x = half::<T>() + half::<T>() * *x;
    }
}

fn tanh_inplace<T: RnnFloat>(v: &mut [T], scratch: &mut Vec<T>) {
    scratch.clear();
    scratch.extend_from_slice(v);
    T::tanh_into(scratch, v);
}

/// `out[B, G] (+)= h[B, H] @ w[G, H]^T`.
fn hidden_gemm<T: RnnFloat>(h: &[T], w: &[T], out: &mut [T], d: &RnnDims, accumulate: bool) {
    let (b, hh, g) = (d.b, d.h, d.g());
    let a = Mat { data: h, offset: 0, rs: hh, cs: 1 };
    let wt = Mat { data: w, offset: 0, rs: 1, cs: hh };
    matmul_into(a, wt, out, b, hh, g, accumulate);
}

/// Runs the layer. `gi` is `[T, B, G]`, `h0`/`c0` `[B, H]` (`c0` empty except for LSTM),
/// `w_hh` `[G, H]`, `b_hh` `[G]` or empty.
pub fn forward<T: RnnFloat>(
    d: &RnnDims,
    gi: &[T],
    h0: &[T],
    c0: &[T],
    w_hh: &[T],
    b_hh: &[T],
) -> RnnForward<T> {
    let (b, h, g) = (d.b, d.h, d.g());
    let bh = b * h;
    let lstm = d.mode == RnnMode::Lstm;
    let gru = d.mode == RnnMode::Gru;
    let mut y = vec![T::default(); d.t * bh];
    let mut gates = if lstm || gru { vec![T::default(); d.t * b * g] } else { Vec::new() };
    let mut extra = if lstm || gru { vec![T::default(); d.t * bh] } else { Vec::new() };
    let mut cells = if lstm { vec![T::default(); d.t * bh] } else { Vec::new() };
    let mut hprev = h0.to_vec();
    let mut cprev = c0.to_vec();
    let mut pre = vec![T::default(); b * g];
    let mut scratch = Vec::with_capacity(b * g);
    for k in 0..d.t {
        let t = d.step(k);
        let gi_t = &gi[t * b * g..][..b * g];
        // pre = b_hh + h_prev W_hh^T (GRU keeps it apart from gi: r multiplies its n block).
        for row in pre.chunks_mut(g) {
            if b_hh.is_empty() {
                row.iter_mut().for_each(|v| *v = T::default());
            } else {
                row.copy_from_slice(b_hh);
            }
        }
        hidden_gemm(&hprev, w_hh, &mut pre, d, true);
        let y_t = &mut y[t * bh..][..bh];
        match d.mode {
            RnnMode::Tanh | RnnMode::Relu => {
                for (p, &x) in pre.iter_mut().zip(gi_t) {
                    *p = *p + x;
                }
                if d.mode == RnnMode::Tanh {
                    T::tanh_into(&pre, y_t);
                } else {
                    for (o, &p) in y_t.iter_mut().zip(pre.iter()) {
                        *o = if p > T::default() { p } else { T::default() };
                    }
                }
            }
            RnnMode::Lstm => {
                let gates_t = &mut gates[t * b * g..][..b * g];
                for ((o, &p), &x) in gates_t.iter_mut().zip(pre.iter()).zip(gi_t) {
                    *o = p + x;
                }
                // i, f, o through the sigmoid, g through tanh: one pass each over the rows.
                for row in gates_t.chunks_mut(g) {
                    sigmoid_inplace(&mut row[..2 * h], &mut scratch);
                    tanh_inplace(&mut row[2 * h..3 * h], &mut scratch);
                    sigmoid_inplace(&mut row[3 * h..], &mut scratch);
                }
                let c_t = &mut cells[t * bh..][..bh];
                for bi in 0..b {
                    let row = &gates_t[bi * g..][..g];
                    for j in 0..h {
                        let (i, f, gg) = (row[j], row[h + j], row[2 * h + j]);
                        c_t[bi * h + j] = f * cprev[bi * h + j] + i * gg;
                    }
                }
                let tc = &mut extra[t * bh..][..bh];
                T::tanh_into(c_t, tc);
                for bi in 0..b {
                    let row = &gates_t[bi * g..][..g];
                    for j in 0..h {
                        y_t[bi * h + j] = row[3 * h + j] * tc[bi * h + j];
                    }
                }
                cprev.copy_from_slice(c_t);
            }
            RnnMode::Gru => {
                let gates_t = &mut gates[t * b * g..][..b * g];
                let hn = &mut extra[t * bh..][..bh];
                for bi in 0..b {
                    let (row, p, x) =
                        (&mut gates_t[bi * g..][..g], &pre[bi * g..][..g], &gi_t[bi * g..][..g]);
                    for ((o, &pa), &xa) in row[..2 * h].iter_mut().zip(&p[..2 * h]).zip(&x[..2 * h]) {
                        *o = pa + xa;
                    }
                    hn[bi * h..][..h].copy_from_slice(&p[2 * h..]);
                }
                for row in gates_t.chunks_mut(g) {
                    sigmoid_inplace(&mut row[..2 * h], &mut scratch);
                }
                for bi in 0..b {
                    let row = &mut gates_t[bi * g..][..g];
                    let x = &gi_t[bi * g..][..g];
                    for j in 0..h {
                        row[2 * h + j] = x[2 * h + j] + row[j] * hn[bi * h + j];
                    }
                    tanh_inplace(&mut row[2 * h..], &mut scratch);
                    for j in 0..h {
                        let (z, n) = (row[h + j], row[2 * h + j]);
                        y_t[bi * h + j] = n + z * (hprev[bi * h + j] - n);
                    }
                }
            }
        }
        hprev.copy_from_slice(y_t);
    }
    RnnForward { y, h_last: hprev, c_last: if lstm { cprev } else { Vec::new() }, gates, extra, cells }
}

/// Gradients of one layer: `gi` `[T, B, G]`, `h0`/`c0` `[B, H]`, `w_hh` `[G, H]`, `b_hh` `[G]`.
pub struct RnnGrads<T> {
    pub gi: Vec<T>,
    pub h0: Vec<T>,
    pub c0: Vec<T>,
    pub w_hh: Vec<T>,
    pub b_hh: Vec<T>,
}

/// Saved values the backward reads (see [`RnnForward`]).
pub struct RnnSavedRef<'a, T> {
    pub y: &'a [T],
    pub h0: &'a [T],
    pub c0: &'a [T],
    pub gates: &'a [T],
    pub extra: &'a [T],
    pub cells: &'a [T],
    pub w_hh: &'a [T],
}

/// The hidden state the `k`-th processed step read (h0 for the first).
fn prev_hidden<'a, T>(d: &RnnDims, s: &RnnSavedRef<'a, T>, k: usize) -> &'a [T] {
    let bh = d.b * d.h;
    if k == 0 {
        s.h0
    } else {
        &s.y[d.step(k - 1) * bh..][..bh]
    }
}

/// BPTT: `dy` `[T, B, H]`, `dh_last`/`dc_last` `[B, H]`, each possibly empty (no gradient).
pub fn backward<T: RnnFloat>(
    d: &RnnDims,
    s: &RnnSavedRef<T>,
    dy: &[T],
    dh_last: &[T],
    dc_last: &[T],
) -> RnnGrads<T> {
    let (b, h, g) = (d.b, d.h, d.g());
    let bh = b * h;
    let one = T::from_f64(1.0);
    let zero = T::default();
    let mut dgi = vec![zero; d.t * b * g];
    // GRU: the hidden side's pre-activation gradient differs from gi's in the n block.
    let mut dgh = if d.mode == RnnMode::Gru { vec![zero; d.t * b * g] } else { Vec::new() };
    let mut dh = if dh_last.is_empty() { vec![zero; bh] } else { dh_last.to_vec() };
    let mut dc = if dc_last.is_empty() { vec![zero; bh] } else { dc_last.to_vec() };
    let mut next = vec![zero; bh];
    let prev_of = |k: usize| prev_hidden(d, s, k);
    for k in (0..d.t).rev() {
        let t = d.step(k);
        if !dy.is_empty() {
            for (a, &v) in dh.iter_mut().zip(&dy[t * bh..][..bh]) {
                *a = *a + v;
            }
        }
        let dg_t = &mut dgi[t * b * g..][..b * g];
        match d.mode {
            RnnMode::Tanh => {
                for (o, (&y, &gh)) in dg_t.iter_mut().zip(s.y[t * bh..][..bh].iter().zip(dh.iter())) {
                    *o = gh * (one - y * y);
                }
            }
            RnnMode::Relu => {
                for (o, (&y, &gh)) in dg_t.iter_mut().zip(s.y[t * bh..][..bh].iter().zip(dh.iter())) {
                    *o = if y > zero { gh } else { zero };
                }
            }
            RnnMode::Lstm => {
                let gates_t = &s.gates[t * b * g..][..b * g];
                let tc = &s.extra[t * bh..][..bh];
                let cprev = if k == 0 { s.c0 } else { &s.cells[d.step(k - 1) * bh..][..bh] };
                for bi in 0..b {
                    let row = &gates_t[bi * g..][..g];
                    let out = &mut dg_t[bi * g..][..g];
                    for j in 0..h {
                        let q = bi * h + j;
                        let (i, f, gg, o) = (row[j], row[h + j], row[2 * h + j], row[3 * h + j]);
                        let dhq = dh[q];
                        let dcq = dc[q] + dhq * o * (one - tc[q] * tc[q]);
                        out[j] = dcq * gg * i * (one - i);
                        out[h + j] = dcq * cprev[q] * f * (one - f);
                        out[2 * h + j] = dcq * i * (one - gg * gg);
                        out[3 * h + j] = dhq * tc[q] * o * (one - o);
                        dc[q] = dcq * f;
                    }
                }
            }
            RnnMode::Gru => {
                let gates_t = &s.gates[t * b * g..][..b * g];
                let hn = &s.extra[t * bh..][..bh];
                let hp = prev_of(k);
                let dgh_t = &mut dgh[t * b * g..][..b * g];
                for bi in 0..b {
                    let row = &gates_t[bi * g..][..g];
                    for j in 0..h {
                        let q = bi * h + j;
                        let (r, z, n) = (row[j], row[h + j], row[2 * h + j]);
                        let dhq = dh[q];
                        let dpn = dhq * (one - z) * (one - n * n);
                        let dpz = dhq * (hp[q] - n) * z * (one - z);
                        let dpr = dpn * hn[q] * r * (one - r);
                        dg_t[bi * g + j] = dpr;
                        dg_t[bi * g + h + j] = dpz;
                        dg_t[bi * g + 2 * h + j] = dpn;
                        dgh_t[bi * g + j] = dpr;
                        dgh_t[bi * g + h + j] = dpz;
                        dgh_t[bi * g + 2 * h + j] = dpn * r;
                        next[q] = dhq * z;
                    }
                }
            }
        }
        // dh_prev = (direct part) + d(pre)_t @ W_hh.
        let dpre =
            if d.mode == RnnMode::Gru { &dgh[t * b * g..][..b * g] } else { &dgi[t * b * g..][..b * g] };
        let accumulate = d.mode == RnnMode::Gru;
        if !accumulate {
            next.iter_mut().for_each(|v| *v = zero);
        }
        let a = Mat { data: dpre, offset: 0, rs: g, cs: 1 };
        let w = Mat { data: s.w_hh, offset: 0, rs: h, cs: 1 };
        matmul_into(a, w, &mut next, b, g, h, true);
        std::mem::swap(&mut dh, &mut next);
    }
    // W_hh and b_hh: one GEMM over all steps, with each step's h_prev laid out by step.
    let mut hprev = vec![zero; d.t * bh];
    for k in 0..d.t {
        hprev[d.step(k) * bh..][..bh].copy_from_slice(prev_of(k));
    }
    let dp = if d.mode == RnnMode::Gru { &dgh } else { &dgi };
    let mut dw = vec![zero; g * h];
    let rows = d.t * b;
    let a = Mat { data: &dp[..], offset: 0, rs: 1, cs: g };
    let hm = Mat { data: &hprev[..], offset: 0, rs: h, cs: 1 };
    matmul_into(a, hm, &mut dw, g, rows, h, false);
    let mut db = vec![zero; g];
    for row in dp.chunks(g) {
        for (a, &v) in db.iter_mut().zip(row) {
            *a = *a + v;
        }
    }
    let dc0 = if d.mode == RnnMode::Lstm { dc } else { Vec::new() };
    RnnGrads { gi: dgi, h0: dh, c0: dc0, w_hh: dw, b_hh: db }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LSTM forward of one unit against the formulas written out.
    #[test]
    fn lstm_one_unit_matches_the_formulas() {
        let d = RnnDims { mode: RnnMode::Lstm, t: 1, b: 1, h: 1, reverse: false };
        let gi = [0.1f64, 0.2, 0.3, 0.4];
        let (h0, c0, w, bh) = ([0.5f64], [0.25f64], [1.0f64, -1.0, 0.5, 2.0], [0.0f64; 4]);
        let out = forward(&d, &gi, &h0, &c0, &w, &bh);
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let pre: Vec<f64> = gi.iter().zip(w.iter()).map(|(a, b)| a + b * 0.5).collect();
        let c = sig(pre[1]) * 0.25 + sig(pre[0]) * pre[2].tanh();
        let hh = sig(pre[3]) * c.tanh();
        assert!((out.c_last[0] - c).abs() < 1e-14 && (out.y[0] - hh).abs() < 1e-14);
    }
}
