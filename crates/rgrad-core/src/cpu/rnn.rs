//! The recurrences of one RNN/LSTM/GRU layer in one direction, forward and BPTT.
//!
//! The forward is one GEMM for the input projection of every step (`x W_ih^T` plus the
//! biases, `[T, B, G]`), then per step one small `[B, H] x [H, G]` product for the hidden
//! side (cpu/small_gemm.rs, accumulated into the projection in place) and one pass for the
//! gate nonlinearities and the state update. The activated gates are kept, so the backward is
//! one reverse sweep with one small product per step for the hidden gradient, then three
//! large GEMMs over all steps at once: `W_hh`'s gradient (from the saved outputs, which are
//! the next steps' hidden inputs), `W_ih`'s and the input's. The large ones go through the
//! `gemm` crate, split over the thread pool.
//!
//! Gate order as PyTorch's: LSTM i, f, g, o; GRU r, z, n with `b_hn` inside the reset product.

use super::matmul::{matmul_into, Mat};
use super::small_gemm::{gemm_acc, SmallGemm};
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
    fn tanh_inplace(v: &mut [Self]);
    fn sigmoid_inplace(v: &mut [Self]);
    /// `self * b + c` in one rounding.
    fn fma(self, b: Self, c: Self) -> Self;
}

impl RnnFloat for f32 {
    fn tanh_into(xs: &[f32], out: &mut [f32]) {
        super::math::tanh_f32_into(xs, out)
    }
    fn tanh_inplace(v: &mut [f32]) {
        super::math::tanh_f32_inplace(v)
    }
    fn sigmoid_inplace(v: &mut [f32]) {
        super::math::sigmoid_f32_inplace(v)
    }
    #[inline(always)]
    fn fma(self, b: f32, c: f32) -> f32 {
        self.mul_add(b, c)
    }
}

impl RnnFloat for f64 {
    fn tanh_into(xs: &[f64], out: &mut [f64]) {
        for (o, &x) in out.iter_mut().zip(xs) {
            *o = x.tanh();
        }
    }
    fn tanh_inplace(v: &mut [f64]) {
        v.iter_mut().for_each(|x| *x = x.tanh());
    }
    fn sigmoid_inplace(v: &mut [f64]) {
        v.iter_mut().for_each(|x| *x = 0.5 + 0.5 * (0.5 * *x).tanh());
    }
    #[inline(always)]
    fn fma(self, b: f64, c: f64) -> f64 {
        self.mul_add(b, c)
    }
}

/// Sizes of one layer: `t` steps, `b` batch, `i` input features, `h` hidden units,
/// `g = gates * h`.
#[derive(Clone, Copy, Debug)]
pub struct RnnDims {
    pub mode: RnnMode,
    pub t: usize,
    pub b: usize,
    pub i: usize,
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

/// The layer's weights: `w_ih` `[G, I]`, `w_hh` `[G, H]`, biases `[G]` or empty.
pub struct RnnWeights<'a, T> {
    pub w_ih: &'a [T],
    pub w_hh: &'a [T],
    pub b_ih: &'a [T],
    pub b_hh: &'a [T],
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

/// `m` (`rows x cols`, row-major) transposed, row-major, in cache-sized blocks.
fn transposed<T: RnnFloat>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    const BLOCK: usize = 32;
    let mut out = vec![T::default(); rows * cols];
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(cols) {
                    out[c * rows + r] = m[r * cols + c];
                }
            }
        }
    }
    out
}

/// Column sums of `m` (rows of `cols`) added to `out`.
fn add_column_sums<T: RnnFloat>(m: &[T], cols: usize, out: &mut [T]) {
    for row in m.chunks_exact(cols) {
        for (a, &v) in out.iter_mut().zip(row) {
            *a = *a + v;
        }
    }
}

/// The input projection of every step, `[T*B, G]`: `x W_ih^T + b_ih`, plus `b_hh` where it
/// adds straight to the gates (everywhere but GRU's n block, which the reset gate scales).
fn input_projection<T: RnnFloat>(d: &RnnDims, x: &[T], w: &RnnWeights<T>) -> Vec<T> {
    let (g, rows) = (d.g(), d.t * d.b);
    let mut bias = vec![T::default(); g];
    let has_bias = !w.b_ih.is_empty() || !w.b_hh.is_empty();
    if !w.b_ih.is_empty() {
        bias.copy_from_slice(w.b_ih);
    }
    if !w.b_hh.is_empty() {
        let direct = if d.mode == RnnMode::Gru { 2 * d.h } else { g };
        for (a, &v) in bias[..direct].iter_mut().zip(w.b_hh) {
            *a = *a + v;
        }
    }
    let mut gi = vec![T::default(); rows * g];
    if has_bias {
        gi.chunks_exact_mut(g).for_each(|row| row.copy_from_slice(&bias));
    }
    let xm = Mat { data: x, offset: 0, rs: d.i, cs: 1 };
    let wt = Mat { data: w.w_ih, offset: 0, rs: 1, cs: d.i };
    matmul_into(xm, wt, &mut gi, rows, d.i, g, has_bias);
    gi
}

/// Runs the layer: `x` `[T, B, I]`, `h0`/`c0` `[B, H]` (`c0` empty except for LSTM).
pub fn forward<T: RnnFloat>(d: &RnnDims, x: &[T], h0: &[T], c0: &[T], w: &RnnWeights<T>) -> RnnForward<T> {
    let (b, h, g) = (d.b, d.h, d.g());
    let bh = b * h;
    let lstm = d.mode == RnnMode::Lstm;
    let gru = d.mode == RnnMode::Gru;
    // Each step's hidden product is accumulated into its projection: the gates' inputs.
    let mut gates = input_projection(d, x, w);
    let mut y = vec![T::default(); d.t * bh];
    let mut extra = if lstm || gru { vec![T::default(); d.t * bh] } else { Vec::new() };
    let mut cells = if lstm { vec![T::default(); d.t * bh] } else { Vec::new() };
    // W_hh^T, row-major `[H, G]`: the small products read its rows in place.
    let w_t = transposed(w.w_hh, g, h);
    let mut hprev = h0.to_vec();
    let mut cprev = c0.to_vec();
    let all = SmallGemm { m: b, k: h, n: g, lda: h, ldb: g, ldo: g };
    for k in 0..d.t {
        let t = d.step(k);
        let gates_t = &mut gates[t * b * g..][..b * g];
        let y_t = &mut y[t * bh..][..bh];
        match d.mode {
            RnnMode::Tanh | RnnMode::Relu => {
                gemm_acc(&all, &hprev, &w_t, gates_t);
                if d.mode == RnnMode::Tanh {
                    T::tanh_into(gates_t, y_t);
                } else {
                    for (o, &p) in y_t.iter_mut().zip(gates_t.iter()) {
                        *o = if p > T::default() { p } else { T::default() };
                    }
                }
            }
            RnnMode::Lstm => {
                gemm_acc(&all, &hprev, &w_t, gates_t);
                // i, f, o through the sigmoid, g through tanh.
                for row in gates_t.chunks_exact_mut(g) {
                    T::sigmoid_inplace(&mut row[..2 * h]);
                    T::tanh_inplace(&mut row[2 * h..3 * h]);
                    T::sigmoid_inplace(&mut row[3 * h..]);
                }
                let c_t = &mut cells[t * bh..][..bh];
                for ((row, c), cp) in
                    gates_t.chunks_exact(g).zip(c_t.chunks_exact_mut(h)).zip(cprev.chunks_exact(h))
                {
                    let (i, f, gg) = (&row[..h], &row[h..2 * h], &row[2 * h..3 * h]);
                    for j in 0..h {
                        c[j] = f[j] * cp[j] + i[j] * gg[j];
                    }
                }
                let tc = &mut extra[t * bh..][..bh];
                T::tanh_into(c_t, tc);
                for ((row, yr), tr) in
                    gates_t.chunks_exact(g).zip(y_t.chunks_exact_mut(h)).zip(tc.chunks_exact(h))
                {
                    for ((o, &og), &tv) in yr.iter_mut().zip(&row[3 * h..]).zip(tr) {
                        *o = og * tv;
                    }
                }
                cprev.copy_from_slice(c_t);
            }
            RnnMode::Gru => {
                // r and z: the hidden product adds to the projection; n's hidden part
                // (W_hn h + b_hn) is kept apart, since r scales it.
                let rz = SmallGemm { m: b, k: h, n: 2 * h, lda: h, ldb: g, ldo: g };
                gemm_acc(&rz, &hprev, &w_t, gates_t);
                let hn = &mut extra[t * bh..][..bh];
                for row in hn.chunks_exact_mut(h) {
                    if w.b_hh.is_empty() {
                        row.iter_mut().for_each(|v| *v = T::default());
                    } else {
                        row.copy_from_slice(&w.b_hh[2 * h..]);
                    }
                }
                let nb = SmallGemm { m: b, k: h, n: h, lda: h, ldb: g, ldo: h };
                gemm_acc(&nb, &hprev, &w_t[2 * h..], hn);
                for ((row, hnr), (yr, hp)) in gates_t
                    .chunks_exact_mut(g)
                    .zip(hn.chunks_exact(h))
                    .zip(y_t.chunks_exact_mut(h).zip(hprev.chunks_exact(h)))
                {
                    T::sigmoid_inplace(&mut row[..2 * h]);
                    let (rzs, n) = row.split_at_mut(2 * h);
                    for j in 0..h {
                        n[j] = n[j] + rzs[j] * hnr[j];
                    }
                    T::tanh_inplace(n);
                    for j in 0..h {
                        yr[j] = n[j] + rzs[h + j] * (hp[j] - n[j]);
                    }
                }
            }
        }
        hprev.copy_from_slice(y_t);
    }
    if !(lstm || gru) {
        gates = Vec::new();
    }
    RnnForward { y, h_last: hprev, c_last: if lstm { cprev } else { Vec::new() }, gates, extra, cells }
}

/// Gradients of one layer (each empty when not asked for or absent).
pub struct RnnGrads<T> {
    pub x: Vec<T>,
    pub h0: Vec<T>,
    pub c0: Vec<T>,
    pub w_ih: Vec<T>,
    pub w_hh: Vec<T>,
    pub b_ih: Vec<T>,
    pub b_hh: Vec<T>,
}

/// Saved values the backward reads (see [`RnnForward`]).
pub struct RnnSavedRef<'a, T> {
    pub x: &'a [T],
    pub y: &'a [T],
    pub h0: &'a [T],
    pub c0: &'a [T],
    pub gates: &'a [T],
    pub extra: &'a [T],
    pub cells: &'a [T],
}

/// Which gradients the backward computes.
#[derive(Clone, Copy)]
pub struct RnnNeeds {
    pub x: bool,
    pub b_ih: bool,
    pub b_hh: bool,
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

/// `out[G, H] = sum over steps of dp_t^T h_{t-1}`: the steps whose hidden input is another
/// step's output in one GEMM over the saved outputs (no copy), plus the one that read h0.
fn hidden_weight_grad<T: RnnFloat>(d: &RnnDims, s: &RnnSavedRef<T>, dp: &[T]) -> Vec<T> {
    let (b, h, g) = (d.b, d.h, d.g());
    let mut dw = vec![T::default(); g * h];
    let inner = (d.t - 1) * b;
    // Forward: step t read y[t-1]; reversed: step t read y[t+1]; the first processed, h0.
    let (dp_inner, y_inner, dp_first) = if d.reverse { (0, b * h, (d.t - 1) * b * g) } else { (b * g, 0, 0) };
    let a = Mat { data: dp, offset: dp_inner, rs: 1, cs: g };
    let ym = Mat { data: s.y, offset: y_inner, rs: h, cs: 1 };
    matmul_into(a, ym, &mut dw, g, inner, h, false);
    let a = Mat { data: dp, offset: dp_first, rs: 1, cs: g };
    let hm = Mat { data: s.h0, offset: 0, rs: h, cs: 1 };
    matmul_into(a, hm, &mut dw, g, b, h, true);
    dw
}

/// BPTT: `dy` `[T, B, H]`, `dh_last`/`dc_last` `[B, H]`, each possibly empty (no gradient).
pub fn backward<T: RnnFloat>(
    d: &RnnDims,
    s: &RnnSavedRef<T>,
    w: &RnnWeights<T>,
    needs: RnnNeeds,
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
    let back = SmallGemm { m: b, k: g, n: h, lda: g, ldb: h, ldo: h };
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
                    let (dhr, dcr) = (&dh[bi * h..][..h], &mut dc[bi * h..][..h]);
                    let (tcr, cpr) = (&tc[bi * h..][..h], &cprev[bi * h..][..h]);
                    for j in 0..h {
                        let (i, f, gg, o) = (row[j], row[h + j], row[2 * h + j], row[3 * h + j]);
                        let dhq = dhr[j];
                        let dcq = dcr[j] + dhq * o * (one - tcr[j] * tcr[j]);
                        out[j] = dcq * gg * i * (one - i);
                        out[h + j] = dcq * cpr[j] * f * (one - f);
                        out[2 * h + j] = dcq * i * (one - gg * gg);
                        out[3 * h + j] = dhq * tcr[j] * o * (one - o);
                        dcr[j] = dcq * f;
                    }
                }
            }
            RnnMode::Gru => {
                let gates_t = &s.gates[t * b * g..][..b * g];
                let hn = &s.extra[t * bh..][..bh];
                let hp = prev_hidden(d, s, k);
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
        // dh_prev = (GRU's direct part) + d(pre)_t @ W_hh.
        let gru = d.mode == RnnMode::Gru;
        let dpre = if gru { &dgh[t * b * g..][..b * g] } else { &dgi[t * b * g..][..b * g] };
        if !gru {
            next.iter_mut().for_each(|v| *v = zero);
        }
        gemm_acc(&back, dpre, w.w_hh, &mut next);
        std::mem::swap(&mut dh, &mut next);
    }
    let dp = if d.mode == RnnMode::Gru { &dgh } else { &dgi };
    let dw_hh = hidden_weight_grad(d, s, dp);
    let mut db_hh = Vec::new();
    if needs.b_hh {
        db_hh = vec![zero; g];
        add_column_sums(dp, g, &mut db_hh);
    }
    let mut db_ih = Vec::new();
    if needs.b_ih {
        db_ih = vec![zero; g];
        add_column_sums(&dgi, g, &mut db_ih);
    }
    // The input side, every step at once: W_ih's gradient dgi^T x and the input's dgi W_ih.
    let rows = d.t * b;
    let mut dw_ih = vec![zero; g * d.i];
    let a = Mat { data: &dgi[..], offset: 0, rs: 1, cs: g };
    let xm = Mat { data: s.x, offset: 0, rs: d.i, cs: 1 };
    matmul_into(a, xm, &mut dw_ih, g, rows, d.i, false);
    let mut dx = Vec::new();
    if needs.x {
        dx = vec![zero; rows * d.i];
        let a = Mat { data: &dgi[..], offset: 0, rs: g, cs: 1 };
        let wm = Mat { data: w.w_ih, offset: 0, rs: d.i, cs: 1 };
        matmul_into(a, wm, &mut dx, rows, g, d.i, false);
    }
    let dc0 = if d.mode == RnnMode::Lstm { dc } else { Vec::new() };
    RnnGrads { x: dx, h0: dh, c0: dc0, w_ih: dw_ih, w_hh: dw_hh, b_ih: db_ih, b_hh: db_hh }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LSTM forward of one unit against the formulas written out.
    #[test]
    fn lstm_one_unit_matches_the_formulas() {
        let d = RnnDims { mode: RnnMode::Lstm, t: 1, b: 1, i: 1, h: 1, reverse: false };
        let x = [2.0f64];
        let w_ih = [0.05f64, 0.1, 0.15, 0.2];
        let (h0, c0, w_hh, bh) = ([0.5f64], [0.25f64], [1.0f64, -1.0, 0.5, 2.0], [0.0f64; 4]);
        let w = RnnWeights { w_ih: &w_ih, w_hh: &w_hh, b_ih: &[], b_hh: &bh };
        let out = forward(&d, &x, &h0, &c0, &w);
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let pre: Vec<f64> = w_ih.iter().zip(w_hh.iter()).map(|(a, b)| a * 2.0 + b * 0.5).collect();
        let c = sig(pre[1]) * 0.25 + sig(pre[0]) * pre[2].tanh();
        let hh = sig(pre[3]) * c.tanh();
        assert!((out.c_last[0] - c).abs() < 1e-14 && (out.y[0] - hh).abs() < 1e-14);
    }

    #[test]
    fn blocked_transpose_matches() {
        let m: Vec<f64> = (0..70 * 33).map(|v| v as f64).collect();
        let t = transposed(&m, 70, 33);
        assert!((0..70).all(|r| (0..33).all(|c| t[c * 70 + r] == m[r * 33 + c])));
    }
}
