//! The recurrences of one RNN/LSTM/GRU layer in one direction, forward and BPTT.
//!
//! The forward is one GEMM for the input projection of every step (`x W_ih^T` plus the
//! biases, `[T, B, G]`), then per step one small `[B, H] x [H, G]` product for the hidden
//! side (cpu/small_gemm.rs, accumulated into the projection in place) and one pass for the
//! gate nonlinearities and the state update. The activated gates are kept, so the backward is
//! one reverse sweep with one small product per step for the hidden gradient, then three
//! large GEMMs over all steps at once: `W_hh`'s gradient (from the saved outputs, which are
//! the next steps' hidden inputs), `W_ih`'s and the input's. The large ones go through the
//! `gemm` crate, split over the thread pool. Both sweeps run once per block of batch rows,
//! the blocks on separate threads (cpu/rnn_blocks.rs): the rows' recurrences are independent.
//!
//! Gate order as PyTorch's: LSTM i, f, g, o; GRU r, z, n with `b_hn` inside the reset product.

use super::matmul::{matmul_into, Mat};
use super::rnn_blocks::{batch_cuts, rows_in, split_steps, state_rows};
use super::small_gemm::{gemm_acc, SmallGemm};
use crate::storage::Element;
use rayon::prelude::*;
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

/// Sizes of one layer: `b` batch rows of the states, `i` input features, `h` hidden units
/// (LSTM's cell), `p` the hidden state's size (`h`, or LSTM's `proj_size`), `g = gates * h`.
#[derive(Clone, Copy, Debug)]
pub struct RnnDims {
    pub mode: RnnMode,
    pub b: usize,
    pub i: usize,
    pub h: usize,
    pub p: usize,
    pub reverse: bool,
}

impl RnnDims {
    fn g(&self) -> usize {
        self.mode.gates() * self.h
    }
    /// The step processed `k`-th of `t`.
    fn step(&self, k: usize, t: usize) -> usize {
        if self.reverse {
            t - 1 - k
        } else {
            k
        }
    }
}

/// The layer's weights: `w_ih` `[G, I]`, `w_hh` `[G, P]`, biases `[G]`, `w_hr` `[P, H]`
/// (each optional one empty when absent).
pub struct RnnWeights<'a, T> {
    pub w_ih: &'a [T],
    pub w_hh: &'a [T],
    pub b_ih: &'a [T],
    pub b_hh: &'a [T],
    pub w_hr: &'a [T],
}

/// What the forward returns: the outputs and what the backward reads, row by row of the
/// `N` rows (`T * B` for a padded batch).
pub struct RnnForward<T> {
    /// `[N, P]` hidden state after each step (the layer's output).
    pub y: Vec<T>,
    /// `[B, P]` final hidden and `[B, H]` (LSTM) cell state.
    pub h_last: Vec<T>,
    pub c_last: Vec<T>,
    /// `[N, G]` activated gates (LSTM i, f, g, o; GRU r, z, n; empty for plain RNNs).
    pub gates: Vec<T>,
    /// LSTM: `[N, H]` tanh of the cell state; GRU: `[N, H]` `W_hn h + b_hn`.
    pub extra: Vec<T>,
    /// LSTM: `[N, H]` cell state after each step.
    pub cells: Vec<T>,
    /// `[N, P]` the hidden state each row read, and (LSTM) `[N, H]` the cell state.
    pub hin: Vec<T>,
    pub cin: Vec<T>,
    /// LSTM with a projection: `[N, H]` the cell output `o * tanh(c)` before it.
    pub hcell: Vec<T>,
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

/// The input projection of every row, `[N, G]`: `x W_ih^T + b_ih`, plus `b_hh` where it
/// adds straight to the gates (everywhere but GRU's n block, which the reset gate scales).
fn input_projection<T: RnnFloat>(d: &RnnDims, rows: usize, x: &[T], w: &RnnWeights<T>) -> Vec<T> {
    let g = d.g();
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
    let mut gi = if has_bias {
        let mut v = Vec::with_capacity(rows * g);
        (0..rows).for_each(|_| v.extend_from_slice(&bias));
        v
    } else {
        vec![T::default(); rows * g]
    };
    let xm = Mat { data: x, offset: 0, rs: d.i, cs: 1 };
    let wt = Mat { data: w.w_ih, offset: 0, rs: 1, cs: d.i };
    matmul_into(xm, wt, &mut gi, rows, d.i, g, has_bias);
    gi
}

/// The time steps of a layer: step `t` covers rows `starts[t] .. starts[t] + rows[t]` of the
/// `[N, ...]` buffers (input, gates, outputs) and the first `rows[t]` rows of the states. A
/// padded batch has `B` rows every step; a packed one (PyTorch's `batch_sizes`) fewer as the
/// shorter sequences end, so the rows past `rows[t]` keep each sequence's final state going
/// forward, or its initial state going backward in time.
pub struct RnnSteps {
    pub rows: Vec<usize>,
    pub starts: Vec<usize>,
    /// Total rows `N`.
    pub n: usize,
}

impl RnnSteps {
    /// `t` steps of `b` rows each.
    pub fn dense(t: usize, b: usize) -> RnnSteps {
        RnnSteps { rows: vec![b; t], starts: (0..t).map(|k| k * b).collect(), n: t * b }
    }
    /// Per-step batch sizes, checked by the caller (positive, non-increasing).
    pub fn packed(batch_sizes: &[usize]) -> RnnSteps {
        let mut starts = Vec::with_capacity(batch_sizes.len());
        let mut n = 0;
        for &r in batch_sizes {
            starts.push(n);
            n += r;
        }
        RnnSteps { rows: batch_sizes.to_vec(), starts, n }
    }
    pub fn t(&self) -> usize {
        self.rows.len()
    }
}

/// Calls `$imp($args)` compiled for AVX-512 or AVX2+FMA when the CPU has them, so the gate
/// loops may use full-width vectors (the wheel's baseline is SSE2).
macro_rules! simd_dispatch {
    ($imp:ident::<$T:ident>($($arg:ident: $ty:ty),*) -> $ret:ty) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = "avx512f")]
            fn wide<$T: RnnFloat>($($arg: $ty),*) -> $ret {
                $imp($($arg),*)
            }
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = "avx2,fma")]
            fn mid<$T: RnnFloat>($($arg: $ty),*) -> $ret {
                $imp($($arg),*)
            }
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the features the function was compiled for.
                return unsafe { wide($($arg),*) };
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                return unsafe { mid($($arg),*) };
            }
        }
        $imp($($arg),*)
    }};
}

/// Runs the layer: `x` `[N, I]`, `h0` `[B, P]`, `c0` `[B, H]` (empty except for LSTM).
pub fn forward<T: RnnFloat>(
    d: &RnnDims,
    st: &RnnSteps,
    x: &[T],
    h0: &[T],
    c0: &[T],
    w: &RnnWeights<T>,
) -> RnnForward<T> {
    let cuts = batch_cuts(d.b, d.p, d.g(), st.t());
    forward_blocked(d, st, x, h0, c0, w, &cuts)
}

/// One block of batch rows' share of the forward: its rows of every step of each buffer
/// (see cpu/rnn_blocks.rs) and its rows of the running states.
struct FwdBlock<'a, T> {
    c0: usize,
    c1: usize,
    gates: Vec<&'a mut [T]>,
    y: Vec<&'a mut [T]>,
    hin: Vec<&'a mut [T]>,
    cin: Vec<&'a mut [T]>,
    extra: Vec<&'a mut [T]>,
    cells: Vec<&'a mut [T]>,
    hcell: Vec<&'a mut [T]>,
    hs: Vec<T>,
    cs: Vec<T>,
}

/// [`forward`] with the batch rows split into blocks at `cuts` (`[0, .., B]`), the blocks'
/// recurrences run in parallel.
pub(super) fn forward_blocked<T: RnnFloat>(
    d: &RnnDims,
    st: &RnnSteps,
    x: &[T],
    h0: &[T],
    c0: &[T],
    w: &RnnWeights<T>,
    cuts: &[usize],
) -> RnnForward<T> {
    let (h, p, g, n) = (d.h, d.p, d.g(), st.n);
    let lstm = d.mode == RnnMode::Lstm;
    let gru = d.mode == RnnMode::Gru;
    let proj = !w.w_hr.is_empty();
    // Each step's hidden product is accumulated into its projection: the gates' inputs.
    let mut gates = input_projection(d, n, x, w);
    let mut y = vec![T::default(); n * p];
    let mut hin = vec![T::default(); n * p];
    let mut cin = if lstm { vec![T::default(); n * h] } else { Vec::new() };
    let mut extra = if lstm || gru { vec![T::default(); n * h] } else { Vec::new() };
    let mut cells = if lstm { vec![T::default(); n * h] } else { Vec::new() };
    let mut hcell = if proj { vec![T::default(); n * h] } else { Vec::new() };
    // W_hh^T `[P, G]` and W_hr^T `[H, P]`, row-major: the small products read their rows.
    let w_t = transposed(w.w_hh, g, p);
    let w_hr_t = if proj { transposed(w.w_hr, p, h) } else { Vec::new() };
    let states: Vec<(Vec<T>, Vec<T>)> = {
        let mut parts = [
            split_steps(&mut gates, g, st, cuts),
            split_steps(&mut y, p, st, cuts),
            split_steps(&mut hin, p, st, cuts),
            split_steps(&mut cin, h, st, cuts),
            split_steps(&mut extra, h, st, cuts),
            split_steps(&mut cells, h, st, cuts),
            split_steps(&mut hcell, h, st, cuts),
        ]
        .map(|v| v.into_iter());
        let mut blocks = Vec::with_capacity(cuts.len());
        for k in 0..cuts.len().saturating_sub(1) {
            let [gates, y, hin, cin, extra, cells, hcell] =
                std::array::from_fn(|i| parts[i].next().unwrap_or_default());
            let (c0_, c1_) = (cuts[k], cuts[k + 1]);
            let (hs, cs) = (state_rows(h0, p, c0_, c1_), state_rows(c0, h, c0_, c1_));
            blocks.push(FwdBlock { c0: c0_, c1: c1_, gates, y, hin, cin, extra, cells, hcell, hs, cs });
        }
        let run = |mut blk: FwdBlock<'_, T>| {
            forward_block_simd(d, st, &mut blk, &w_t, &w_hr_t, w);
            (blk.hs, blk.cs)
        };
        if blocks.len() > 1 {
            blocks.into_par_iter().map(run).collect()
        } else {
            blocks.into_iter().map(run).collect()
        }
    };
    let mut hs = Vec::with_capacity(d.b * p);
    let mut cs = Vec::with_capacity(if lstm { d.b * h } else { 0 });
    for (a, c) in states {
        hs.extend(a);
        cs.extend(c);
    }
    if !(lstm || gru) {
        gates = Vec::new();
    }
    RnnForward {
        y,
        h_last: hs,
        c_last: if lstm { cs } else { Vec::new() },
        gates,
        extra,
        cells,
        hin,
        cin,
        hcell,
    }
}

/// [`forward_block`] compiled for the CPU's vector width.
fn forward_block_simd<T: RnnFloat>(
    d: &RnnDims,
    st: &RnnSteps,
    blk: &mut FwdBlock<'_, T>,
    w_t: &[T],
    w_hr_t: &[T],
    w: &RnnWeights<T>,
) {
    simd_dispatch!(forward_block::<T>(d: &RnnDims, st: &RnnSteps, blk: &mut FwdBlock<'_, T>, w_t: &[T], w_hr_t: &[T], w: &RnnWeights<T>) -> ())
}

/// The sequential sweep of one block of batch rows over every step.
#[inline(always)]
fn forward_block<T: RnnFloat>(
    d: &RnnDims,
    st: &RnnSteps,
    blk: &mut FwdBlock<'_, T>,
    w_t: &[T],
    w_hr_t: &[T],
    w: &RnnWeights<T>,
) {
    let (h, p, g) = (d.h, d.p, d.g());
    let proj = !w.w_hr.is_empty();
    let FwdBlock { c0, c1, gates, y, hin, cin, extra, cells, hcell, hs, cs } = blk;
    for k in 0..st.t() {
        let t = d.step(k, st.t());
        let r = rows_in(st.rows[t], *c0, *c1);
        if r == 0 {
            continue;
        }
        let hprev = &hs[..r * p];
        hin[t].copy_from_slice(hprev);
        let gates_t = &mut *gates[t];
        let y_t = &mut *y[t];
        let all = SmallGemm { m: r, k: p, n: g, lda: p, ldb: g, ldo: g };
        match d.mode {
            RnnMode::Tanh | RnnMode::Relu => {
                gemm_acc(&all, hprev, w_t, gates_t);
                if d.mode == RnnMode::Tanh {
                    T::tanh_into(gates_t, y_t);
                } else {
                    for (o, &v) in y_t.iter_mut().zip(gates_t.iter()) {
                        *o = if v > T::default() { v } else { T::default() };
                    }
                }
            }
            RnnMode::Lstm => {
                gemm_acc(&all, hprev, w_t, gates_t);
                // i, f, o through the sigmoid, g through tanh.
                for row in gates_t.chunks_exact_mut(g) {
                    T::sigmoid_inplace(&mut row[..2 * h]);
                    T::tanh_inplace(&mut row[2 * h..3 * h]);
                    T::sigmoid_inplace(&mut row[3 * h..]);
                }
                let cp = &cs[..r * h];
                cin[t].copy_from_slice(cp);
                let c_t = &mut *cells[t];
                for ((row, c), cp) in
                    gates_t.chunks_exact(g).zip(c_t.chunks_exact_mut(h)).zip(cp.chunks_exact(h))
                {
                    let (i, f, gg) = (&row[..h], &row[h..2 * h], &row[2 * h..3 * h]);
                    for j in 0..h {
                        c[j] = f[j] * cp[j] + i[j] * gg[j];
                    }
                }
                let tc = &mut *extra[t];
                T::tanh_into(c_t, tc);
                // The cell output o * tanh(c): the state itself, or projected by W_hr.
                let out: &mut [T] = if proj { &mut hcell[t][..] } else { &mut y_t[..] };
                for ((row, yr), tr) in
                    gates_t.chunks_exact(g).zip(out.chunks_exact_mut(h)).zip(tc.chunks_exact(h))
                {
                    for ((v, &og), &tv) in yr.iter_mut().zip(&row[3 * h..]).zip(tr.iter()) {
                        *v = og * tv;
                    }
                }
                if proj {
                    let pr = SmallGemm { m: r, k: h, n: p, lda: h, ldb: p, ldo: p };
                    gemm_acc(&pr, &hcell[t][..], w_hr_t, y_t);
                }
                cs[..r * h].copy_from_slice(c_t);
            }
            RnnMode::Gru => {
                // r and z: the hidden product adds to the projection; n's hidden part
                // (W_hn h + b_hn) is kept apart, since r scales it.
                let rz = SmallGemm { m: r, k: h, n: 2 * h, lda: h, ldb: g, ldo: g };
                gemm_acc(&rz, hprev, w_t, gates_t);
                let hn = &mut *extra[t];
                for row in hn.chunks_exact_mut(h) {
                    if w.b_hh.is_empty() {
                        row.iter_mut().for_each(|v| *v = T::default());
                    } else {
                        row.copy_from_slice(&w.b_hh[2 * h..]);
                    }
                }
                let nb = SmallGemm { m: r, k: h, n: h, lda: h, ldb: g, ldo: h };
                gemm_acc(&nb, hprev, &w_t[2 * h..], hn);
                for ((row, hnr), (yr, hp)) in gates_t
                    .chunks_exact_mut(g)
                    .zip(hn.chunks_exact(h))
                    .zip(y_t.chunks_exact_mut(h).zip(hprev.chunks_exact(h)))
                {
                    T::sigmoid_inplace(&mut row[..2 * h]);
                    let (rzs, nn) = row.split_at_mut(2 * h);
                    for j in 0..h {
                        nn[j] = nn[j] + rzs[j] * hnr[j];
                    }
                    T::tanh_inplace(nn);
                    for j in 0..h {
                        yr[j] = nn[j] + rzs[h + j] * (hp[j] - nn[j]);
                    }
                }
            }
        }
        hs[..r * p].copy_from_slice(y_t);
    }
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
    pub w_hr: Vec<T>,
}

/// Saved values the backward reads (see [`RnnForward`]).
pub struct RnnSavedRef<'a, T> {
    pub x: &'a [T],
    pub y: &'a [T],
    pub gates: &'a [T],
    pub extra: &'a [T],
    pub hin: &'a [T],
    pub cin: &'a [T],
    pub hcell: &'a [T],
}

/// Which gradients the backward computes.
#[derive(Clone, Copy)]
pub struct RnnNeeds {
    pub x: bool,
    pub b_ih: bool,
    pub b_hh: bool,
}

/// `a^T b` over all `rows`: `a` `[rows, m]`, `b` `[rows, n]`, both row-major; `[m, n]`.
fn outer_sum<T: RnnFloat>(a: &[T], b: &[T], rows: usize, m: usize, n: usize) -> Vec<T> {
    let mut out = vec![T::default(); m * n];
    let am = Mat { data: a, offset: 0, rs: 1, cs: m };
    let bm = Mat { data: b, offset: 0, rs: n, cs: 1 };
    matmul_into(am, bm, &mut out, m, rows, n, false);
    out
}

/// One batch row of LSTM's gate gradients: `gates` i, f, g, o; `tc` tanh of the cell state,
/// `cp` the previous cell state, `dh` the cell output's gradient, `dc` the cell state's
/// (updated to the previous step's); `oi..oo` the pre-activation gradients.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_grad_row<T: RnnFloat>(
    (gi, gf, gg, go): (&[T], &[T], &[T], &[T]),
    tc: &[T],
    cp: &[T],
    dh: &[T],
    dc: &mut [T],
    oi: &mut [T],
    of: &mut [T],
    og: &mut [T],
    oo: &mut [T],
) {
    let one = T::from_f64(1.0);
    let h = dc.len();
    let (gi, gf, gg, go, tc, cp, dh) = (&gi[..h], &gf[..h], &gg[..h], &go[..h], &tc[..h], &cp[..h], &dh[..h]);
    let (oi, of, og, oo) = (&mut oi[..h], &mut of[..h], &mut og[..h], &mut oo[..h]);
    let unit = |j: usize, dcj: T| {
        let (i, f, g, o) = (gi[j], gf[j], gg[j], go[j]);
        let dcq = dcj + dh[j] * o * (one - tc[j] * tc[j]);
        [
            dcq * g * i * (one - i),
            dcq * cp[j] * f * (one - f),
            dcq * i * (one - g * g),
            dh[j] * tc[j] * o * (one - o),
            dcq * f,
        ]
    };
    // Groups of `W` units, each output a loop of its own into a local array that is copied
    // out after: no store in these loops can alias their loads, so the compiler vectorises
    // them (the plain loop over five outputs and seven inputs stayed scalar).
    const W: usize = 16;
    let mut j = 0;
    while j + W <= h {
        let lanes = |v: &[T]| <[T; W]>::try_from(&v[j..j + W]).ok();
        let (Some(i), Some(f), Some(g), Some(o), Some(t), Some(c), Some(d), Some(dcv)) =
            (lanes(gi), lanes(gf), lanes(gg), lanes(go), lanes(tc), lanes(cp), lanes(dh), lanes(dc))
        else {
            break;
        };
        let mut q = [T::default(); W];
        for l in 0..W {
            q[l] = dcv[l] + d[l] * o[l] * (one - t[l] * t[l]);
        }
        let mut r = [T::default(); W];
        for l in 0..W {
            r[l] = q[l] * g[l] * i[l] * (one - i[l]);
        }
        oi[j..j + W].copy_from_slice(&r);
        for l in 0..W {
            r[l] = q[l] * c[l] * f[l] * (one - f[l]);
        }
        of[j..j + W].copy_from_slice(&r);
        for l in 0..W {
            r[l] = q[l] * i[l] * (one - g[l] * g[l]);
        }
        og[j..j + W].copy_from_slice(&r);
        for l in 0..W {
            r[l] = d[l] * t[l] * o[l] * (one - o[l]);
        }
        oo[j..j + W].copy_from_slice(&r);
        for l in 0..W {
            r[l] = q[l] * f[l];
        }
        dc[j..j + W].copy_from_slice(&r);
        j += W;
    }
    for j in j..h {
        let [a, b, c, d, e] = unit(j, dc[j]);
        (oi[j], of[j], og[j], oo[j], dc[j]) = (a, b, c, d, e);
    }
}

/// One batch row of GRU's gate gradients: `gates` r, z, n; `hn` `W_hn h + b_hn`, `hp` the
/// previous hidden state, `dh` the output's gradient; `gi`/`gh` the input and hidden sides'
/// pre-activation gradients, `direct` the previous state's gradient through `z`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_grad_row<T: RnnFloat>(
    (gr, gz, gn): (&[T], &[T], &[T]),
    hn: &[T],
    hp: &[T],
    dh: &[T],
    ir: &mut [T],
    iz: &mut [T],
    inn: &mut [T],
    hr: &mut [T],
    hz: &mut [T],
    hnn: &mut [T],
    direct: &mut [T],
) {
    let one = T::from_f64(1.0);
    let h = direct.len();
    let (gr, gz, gn, hn, hp, dh) = (&gr[..h], &gz[..h], &gn[..h], &hn[..h], &hp[..h], &dh[..h]);
    let (ir, iz, inn, hr, hz, hnn) =
        (&mut ir[..h], &mut iz[..h], &mut inn[..h], &mut hr[..h], &mut hz[..h], &mut hnn[..h]);
    for j in 0..h {
        let (r, z, n) = (gr[j], gz[j], gn[j]);
        let dpn = dh[j] * (one - z) * (one - n * n);
        let dpz = dh[j] * (hp[j] - n) * z * (one - z);
        let dpr = dpn * hn[j] * r * (one - r);
        ir[j] = dpr;
        iz[j] = dpz;
        inn[j] = dpn;
        hr[j] = dpr;
        hz[j] = dpz;
        hnn[j] = dpn * r;
        direct[j] = dh[j] * z;
    }
}

/// BPTT: `dy` `[N, P]`, `dh_last` `[B, P]`, `dc_last` `[B, H]`, each possibly empty (no
/// gradient).
#[allow(clippy::too_many_arguments)]
pub fn backward<T: RnnFloat>(
    d: &RnnDims,
    st: &RnnSteps,
    s: &RnnSavedRef<T>,
    w: &RnnWeights<T>,
    needs: RnnNeeds,
    dy: &[T],
    dh_last: &[T],
    dc_last: &[T],
) -> RnnGrads<T> {
    let cuts = batch_cuts(d.b, d.p, d.g(), st.t());
    backward_blocked(d, st, s, w, needs, (dy, dh_last, dc_last), &cuts)
}

/// One block of batch rows' share of the backward sweep: its rows of every step of the
/// pre-activation gradients (and the projected outputs'), and its rows of the running
/// state gradients.
struct BwdBlock<'a, T> {
    c0: usize,
    c1: usize,
    dgi: Vec<&'a mut [T]>,
    dgh: Vec<&'a mut [T]>,
    dys: Vec<&'a mut [T]>,
    dh: Vec<T>,
    dc: Vec<T>,
}

/// [`backward`] with the sweep split into blocks of batch rows at `cuts`, run in parallel;
/// `grads` are `dy`, `dh_last`, `dc_last`.
pub(super) fn backward_blocked<T: RnnFloat>(
    d: &RnnDims,
    st: &RnnSteps,
    s: &RnnSavedRef<T>,
    w: &RnnWeights<T>,
    needs: RnnNeeds,
    (dy, dh_last, dc_last): (&[T], &[T], &[T]),
    cuts: &[usize],
) -> RnnGrads<T> {
    let (b, h, p, g, n) = (d.b, d.h, d.p, d.g(), st.n);
    let zero = T::default();
    let proj = !w.w_hr.is_empty();
    let gru = d.mode == RnnMode::Gru;
    let mut dgi = vec![zero; n * g];
    // GRU: the hidden side's pre-activation gradient differs from gi's in the n block.
    let mut dgh = if gru { vec![zero; n * g] } else { Vec::new() };
    // With a projection: each row's output gradient (for W_hr's).
    let mut dys = if proj { vec![zero; n * p] } else { Vec::new() };
    let dh0 = if dh_last.is_empty() { vec![zero; b * p] } else { dh_last.to_vec() };
    let dc0 = if dc_last.is_empty() { vec![zero; b * h] } else { dc_last.to_vec() };
    let states: Vec<(Vec<T>, Vec<T>)> = {
        let mut parts = [
            split_steps(&mut dgi, g, st, cuts),
            split_steps(&mut dgh, g, st, cuts),
            split_steps(&mut dys, p, st, cuts),
        ]
        .map(|v| v.into_iter());
        let mut blocks = Vec::with_capacity(cuts.len());
        for k in 0..cuts.len().saturating_sub(1) {
            let [dgi, dgh, dys] = std::array::from_fn(|i| parts[i].next().unwrap_or_default());
            let (c0, c1) = (cuts[k], cuts[k + 1]);
            let (dh, dc) = (state_rows(&dh0, p, c0, c1), state_rows(&dc0, h, c0, c1));
            blocks.push(BwdBlock { c0, c1, dgi, dgh, dys, dh, dc });
        }
        let run = |mut blk: BwdBlock<'_, T>| {
            backward_block_simd(d, st, s, w, dy, &mut blk);
            (blk.dh, blk.dc)
        };
        if blocks.len() > 1 {
            blocks.into_par_iter().map(run).collect()
        } else {
            blocks.into_iter().map(run).collect()
        }
    };
    let mut dh = Vec::with_capacity(b * p);
    let mut dc = Vec::with_capacity(b * h);
    for (a, c) in states {
        dh.extend(a);
        dc.extend(c);
    }
    // The weights, every step at once: W_hh's from each row's hidden input, W_hr's from
    // each row's cell output, W_ih's and the input's from the projection's gradient.
    let dp = if gru { &dgh } else { &dgi };
    let dw_hh = outer_sum(dp, s.hin, n, g, p);
    let dw_hr = if proj { outer_sum(&dys, s.hcell, n, p, h) } else { Vec::new() };
    let mut db_hh = Vec::new();
    if needs.b_hh {
        db_hh = vec![zero; g];
        add_column_sums(dp, g, &mut db_hh);
    }
    let mut db_ih = Vec::new();
    if needs.b_ih && needs.b_hh && !gru {
        // Both biases add straight to the gates: the same column sums.
        db_ih = db_hh.clone();
    } else if needs.b_ih {
        db_ih = vec![zero; g];
        add_column_sums(&dgi, g, &mut db_ih);
    }
    let dw_ih = outer_sum(&dgi, s.x, n, g, d.i);
    let mut dx = Vec::new();
    if needs.x {
        dx = vec![zero; n * d.i];
        let a = Mat { data: &dgi[..], offset: 0, rs: g, cs: 1 };
        let wm = Mat { data: w.w_ih, offset: 0, rs: d.i, cs: 1 };
        matmul_into(a, wm, &mut dx, n, g, d.i, false);
    }
    let dc0 = if d.mode == RnnMode::Lstm { dc } else { Vec::new() };
    RnnGrads { x: dx, h0: dh, c0: dc0, w_ih: dw_ih, w_hh: dw_hh, b_ih: db_ih, b_hh: db_hh, w_hr: dw_hr }
}

/// [`backward_block`] compiled for the CPU's vector width.
fn backward_block_simd<T: RnnFloat>(
    d: &RnnDims,
    st: &RnnSteps,
    s: &RnnSavedRef<T>,
    w: &RnnWeights<T>,
    dy: &[T],
    blk: &mut BwdBlock<'_, T>,
) {
    simd_dispatch!(backward_block::<T>(
        d: &RnnDims,
        st: &RnnSteps,
        s: &RnnSavedRef<T>,
        w: &RnnWeights<T>,
        dy: &[T],
        blk: &mut BwdBlock<'_, T>
    ) -> ())
}

/// The reverse sweep of one block of batch rows: its pre-activation gradients of every
/// step, and its state gradients carried back to the initial states.
#[inline(always)]
fn backward_block<T: RnnFloat>(
    d: &RnnDims,
    st: &RnnSteps,
    s: &RnnSavedRef<T>,
    w: &RnnWeights<T>,
    dy: &[T],
    blk: &mut BwdBlock<'_, T>,
) {
    let (h, p, g) = (d.h, d.p, d.g());
    let one = T::from_f64(1.0);
    let zero = T::default();
    let proj = !w.w_hr.is_empty();
    let gru = d.mode == RnnMode::Gru;
    let BwdBlock { c0, c1, dgi, dgh, dys, dh, dc } = blk;
    let rows = *c1 - *c0;
    // With a projection: the cell output's gradient.
    let mut dhc = if proj { vec![zero; rows * h] } else { Vec::new() };
    let mut next = vec![zero; rows * p];
    for k in (0..st.t()).rev() {
        let t = d.step(k, st.t());
        let r = rows_in(st.rows[t], *c0, *c1);
        if r == 0 {
            continue;
        }
        // This block's rows start at global row `o` of the `[N, ...]` buffers.
        let o = st.starts[t] + *c0;
        if !dy.is_empty() {
            for (a, &v) in dh[..r * p].iter_mut().zip(&dy[o * p..][..r * p]) {
                *a = *a + v;
            }
        }
        if proj {
            dys[t].copy_from_slice(&dh[..r * p]);
            dhc[..r * h].iter_mut().for_each(|v| *v = zero);
            let back = SmallGemm { m: r, k: p, n: h, lda: p, ldb: h, ldo: h };
            gemm_acc(&back, &dh[..r * p], w.w_hr, &mut dhc[..r * h]);
        }
        // The gradient of the cell output (o * tanh(c), before any projection).
        let dho: &[T] = if proj { &dhc[..r * h] } else { &dh[..r * p] };
        let dg_t = &mut *dgi[t];
        match d.mode {
            RnnMode::Tanh => {
                for (v, (&y, &gh)) in dg_t.iter_mut().zip(s.y[o * p..][..r * p].iter().zip(dho)) {
                    *v = gh * (one - y * y);
                }
            }
            RnnMode::Relu => {
                for (v, (&y, &gh)) in dg_t.iter_mut().zip(s.y[o * p..][..r * p].iter().zip(dho)) {
                    *v = if y > zero { gh } else { zero };
                }
            }
            RnnMode::Lstm => {
                let gates_t = &s.gates[o * g..][..r * g];
                let tc = &s.extra[o * h..][..r * h];
                let cprev = &s.cin[o * h..][..r * h];
                for bi in 0..r {
                    let row = &gates_t[bi * g..][..g];
                    let (gi_, gf, gg_, go) = (&row[..h], &row[h..2 * h], &row[2 * h..3 * h], &row[3 * h..]);
                    let (oi, rest) = dg_t[bi * g..][..g].split_at_mut(h);
                    let (of, rest) = rest.split_at_mut(h);
                    let (og_, oo) = rest.split_at_mut(h);
                    let (dhr, dcr) = (&dho[bi * h..][..h], &mut dc[bi * h..][..h]);
                    let (tcr, cpr) = (&tc[bi * h..][..h], &cprev[bi * h..][..h]);
                    lstm_grad_row((gi_, gf, gg_, go), tcr, cpr, dhr, dcr, oi, of, og_, oo);
                }
            }
            RnnMode::Gru => {
                let gates_t = &s.gates[o * g..][..r * g];
                let hn = &s.extra[o * h..][..r * h];
                let hp = &s.hin[o * p..][..r * p];
                let dgh_t = &mut *dgh[t];
                for bi in 0..r {
                    let row = &gates_t[bi * g..][..g];
                    let (gr, gz, gn) = (&row[..h], &row[h..2 * h], &row[2 * h..]);
                    let (ir, rest) = dg_t[bi * g..][..g].split_at_mut(h);
                    let (iz, in_) = rest.split_at_mut(h);
                    let (hr, rest) = dgh_t[bi * g..][..g].split_at_mut(h);
                    let (hz, hn_) = rest.split_at_mut(h);
                    let (dhr, hnr, hpr) = (&dho[bi * h..][..h], &hn[bi * h..][..h], &hp[bi * h..][..h]);
                    let nx = &mut next[bi * h..][..h];
                    gru_grad_row((gr, gz, gn), hnr, hpr, dhr, ir, iz, in_, hr, hz, hn_, nx);
                }
            }
        }
        // dh_prev = (GRU's direct part) + d(pre)_t @ W_hh; rows past `r` carry on unchanged.
        let dpre: &[T] = if gru { &dgh[t][..] } else { &dgi[t][..] };
        if !gru {
            next[..r * p].iter_mut().for_each(|v| *v = zero);
        }
        let back = SmallGemm { m: r, k: g, n: p, lda: g, ldb: p, ldo: p };
        gemm_acc(&back, dpre, w.w_hh, &mut next[..r * p]);
        dh[..r * p].copy_from_slice(&next[..r * p]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LSTM forward of one unit against the formulas written out.
    #[test]
    fn lstm_one_unit_matches_the_formulas() {
        let d = RnnDims { mode: RnnMode::Lstm, b: 1, i: 1, h: 1, p: 1, reverse: false };
        let x = [2.0f64];
        let w_ih = [0.05f64, 0.1, 0.15, 0.2];
        let (h0, c0, w_hh, bh) = ([0.5f64], [0.25f64], [1.0f64, -1.0, 0.5, 2.0], [0.0f64; 4]);
        let w = RnnWeights { w_ih: &w_ih, w_hh: &w_hh, b_ih: &[], b_hh: &bh, w_hr: &[] };
        let out = forward(&d, &RnnSteps::dense(1, 1), &x, &h0, &c0, &w);
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let pre: Vec<f64> = w_ih.iter().zip(w_hh.iter()).map(|(a, b)| a * 2.0 + b * 0.5).collect();
        let c = sig(pre[1]) * 0.25 + sig(pre[0]) * pre[2].tanh();
        let hh = sig(pre[3]) * c.tanh();
        assert!((out.c_last[0] - c).abs() < 1e-14 && (out.y[0] - hh).abs() < 1e-14);
    }

    /// A packed batch (sizes 2, 1) gives each sequence the states of its own last step.
    #[test]
    fn packed_rows_keep_their_final_state() {
        let d = RnnDims { mode: RnnMode::Tanh, b: 2, i: 1, h: 1, p: 1, reverse: false };
        let (x, h0, w_ih, w_hh) = ([1.0f64, 2.0, 3.0], [0.0f64, 0.0], [1.0f64], [0.5f64]);
        let w = RnnWeights { w_ih: &w_ih, w_hh: &w_hh, b_ih: &[], b_hh: &[], w_hr: &[] };
        let out = forward(&d, &RnnSteps::packed(&[2, 1]), &x, &h0, &[], &w);
        let (a0, b0) = (1.0f64.tanh(), 2.0f64.tanh());
        let a1 = (3.0 + 0.5 * a0).tanh();
        assert_eq!(out.y, vec![a0, b0, a1]);
        assert_eq!(out.h_last, vec![a1, b0]);
    }

    #[test]
    fn blocked_transpose_matches() {
        let m: Vec<f64> = (0..70 * 33).map(|v| v as f64).collect();
        let t = transposed(&m, 70, 33);
        assert!((0..70).all(|r| (0..33).all(|c| t[c * 70 + r] == m[r * 33 + c])));
    }
}
