//! Fused scaled dot-product attention in the FlashAttention manner.
//!
//! The forward runs over tiles of `BQ` queries against tiles of `BK` keys with an online
//! softmax (running row maximum and sum), so no `L x S` matrix is ever held: per tile one
//! `BQ x BK` block of scores, which is exponentiated and multiplied into the output
//! accumulator at once. It keeps the log-sum-exp of every row; the backward recomputes each
//! tile's probabilities from it (FlashAttention-2: `D = rowsum(dO * O)`,
//! `dS = P * (dO V^T - D)`). With `causal`, tiles wholly above the diagonal are skipped.
//!
//! The operands are addressed per (batch, head) pair through a base offset and a row stride
//! (the last dim has unit stride), so broadcast batch dims, shared GQA heads and
//! `(B, L, H, E)` layouts are read in place; the mask is read through its strides.

use super::matmul::{matmul_with, Mat};
use super::rnn::RnnFloat;
use super::small_gemm::{gemm_acc, SmallGemm};
use crate::error::Result;
use crate::storage::Element;
use rayon::prelude::*;
use std::ops::{Add, Div, Mul, Sub};

/// Query rows per tile.
const BQ: usize = 64;
/// Key rows per tile.
const BK: usize = 128;

/// Floats the kernel runs on.
pub trait AttnFloat:
    Element + RnnFloat + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    const NEG_INF: Self;
    /// `row[i] = exp(row[i] - m)`.
    fn exp_shifted(row: &mut [Self], m: Self, scratch: &mut Vec<Self>);
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn fmax(self, other: Self) -> Self;
}

impl AttnFloat for f32 {
    const NEG_INF: f32 = f32::NEG_INFINITY;
    fn exp_shifted(row: &mut [f32], m: f32, scratch: &mut Vec<f32>) {
        scratch.clear();
        scratch.extend(row.iter().map(|&x| x - m));
        super::math::exp_nonpositive_f32_into(scratch, row);
    }
    fn exp(self) -> f32 {
        f32::exp(self)
    }
    fn ln(self) -> f32 {
        f32::ln(self)
    }
    fn fmax(self, other: f32) -> f32 {
        f32::max(self, other)
    }
}

impl AttnFloat for f64 {
    const NEG_INF: f64 = f64::NEG_INFINITY;
    fn exp_shifted(row: &mut [f64], m: f64, _: &mut Vec<f64>) {
        for x in row.iter_mut() {
            *x = (*x - m).exp();
        }
    }
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    fn fmax(self, other: f64) -> f64 {
        f64::max(self, other)
    }
}

/// Lanes of the row reductions: independent partial results the compiler keeps in vector
/// registers (a plain fold is sequential under strict float semantics).
const LANES: usize = 8;

/// The largest element of `row` (ignoring NaN), -inf for an empty or all -inf row.
fn row_max<T: AttnFloat>(row: &[T]) -> T {
    let mut acc = [T::NEG_INF; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = a.fmax(x);
        }
    }
    let tail = chunks.remainder().iter().fold(T::NEG_INF, |m, &x| m.fmax(x));
    acc.iter().fold(tail, |m, &x| m.fmax(x))
}

/// The sum of `row`.
fn row_sum<T: AttnFloat>(row: &[T]) -> T {
    let mut acc = [T::default(); LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = *a + x;
        }
    }
    let tail = chunks.remainder().iter().fold(T::default(), |m, &x| m + x);
    acc.iter().fold(tail, |m, &x| m + x)
}

/// The dot product of two rows of equal length.
fn dot<T: AttnFloat>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::default(); LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] = acc[i] + x[i] * y[i];
        }
    }
    let tail = ca.remainder().iter().zip(cb.remainder()).fold(T::default(), |m, (&x, &y)| m + x * y);
    acc.iter().fold(tail, |m, &x| m + x)
}

/// `out[m x n] (+)= a[m x k] @ b[k x n]`, all row-major with row strides `lda`, `ldb`, `n`:
/// the register-blocked kernel of small_gemm.rs, which reads the operands in place (a general
/// GEMM would pack these tile-sized operands first, as long as the product itself takes).
#[allow(clippy::too_many_arguments)]
fn tile_mm<T: AttnFloat>(
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    out: &mut [T],
    m: usize,
    k: usize,
    n: usize,
    acc: bool,
) {
    let out = &mut out[..m * n];
    if lda < k || ldb < n {
        // Rows that overlap (a broadcast sequence dim has row stride 0): the general GEMM.
        let (am, bm) =
            (Mat { data: a, offset: 0, rs: lda, cs: 1 }, Mat { data: b, offset: 0, rs: ldb, cs: 1 });
        return matmul_with(am, bm, out, m, k, n, acc, false);
    }
    if !acc {
        out.iter_mut().for_each(|x| *x = T::default());
    }
    gemm_acc(&SmallGemm { m, k, n, lda, ldb, ldo: n }, a, b, out);
}

/// `dst[c x r] = src[r x c]^T` (`src` with row stride `lds`, possibly 0).
fn transpose_into<T: Copy>(src: &[T], lds: usize, r: usize, c: usize, dst: &mut [T]) {
    if c == 0 {
        return;
    }
    for i in 0..r {
        let row = &src[i * lds..][..c];
        for (j, &x) in row.iter().enumerate() {
            dst[j * r + i] = x;
        }
    }
}

/// Sizes shared by every (batch, head) pair.
#[derive(Clone, Copy, Debug)]
pub struct AttnDims {
    /// Number of (batch, head) pairs.
    pub nb: usize,
    pub l: usize,
    pub s: usize,
    pub e: usize,
    pub ev: usize,
    pub scale: f64,
    pub causal: bool,
}

/// One operand: its elements and the stride between rows (the last dim is contiguous).
#[derive(Clone, Copy)]
pub struct Operand<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
}

/// The attention mask, read through its strides (`rs` over queries, `cs` over keys).
#[derive(Clone, Copy)]
pub enum MaskRef<'a, T> {
    None,
    /// `true` takes part.
    Bool {
        data: &'a [bool],
        rs: usize,
        cs: usize,
    },
    /// Added to the scaled scores.
    Add {
        data: &'a [T],
        rs: usize,
        cs: usize,
    },
}

/// Where the operands of (batch, head) pair `b` start: q, k, v, mask.
pub type Offsets = [usize; 4];

/// The operands of one call.
pub struct AttnArgs<'a, T> {
    pub d: AttnDims,
    pub q: Operand<'a, T>,
    pub k: Operand<'a, T>,
    pub v: Operand<'a, T>,
    pub mask: MaskRef<'a, T>,
    pub offsets: &'a [Offsets],
}

impl<T: AttnFloat> AttnArgs<'_, T> {
    /// `out[bq x bk] = scale * Q[i0..] K[j0..]^T + mask`, with the entries that take no part
    /// at -inf (masked out, or above the diagonal when causal).
    /// `kt` is scratch for the key tile transposed (`e x bk`).
    #[allow(clippy::too_many_arguments)]
    fn scores(&self, off: &Offsets, i0: usize, bq: usize, j0: usize, bk: usize, out: &mut [T], kt: &mut [T]) {
        let d = &self.d;
        transpose_into(&self.k.data[off[1] + j0 * self.k.rs..], self.k.rs, bk, d.e, kt);
        let q = &self.q.data[off[0] + i0 * self.q.rs..];
        tile_mm(q, self.q.rs, kt, bk, out, bq, d.e, bk, false);
        // With no features every score is 0 (the default scale 1/sqrt(0) is infinite).
        let scale = if d.e == 0 { T::default() } else { T::from_f64(d.scale) };
        for r in 0..bq {
            let i = i0 + r;
            let row = &mut out[r * bk..(r + 1) * bk];
            match self.mask {
                MaskRef::None => row.iter_mut().for_each(|x| *x = *x * scale),
                MaskRef::Bool { data, rs, cs } => {
                    let base = off[3] + i * rs + j0 * cs;
                    for (c, x) in row.iter_mut().enumerate() {
                        *x = if data[base + c * cs] { *x * scale } else { T::NEG_INF };
                    }
                }
                MaskRef::Add { data, rs, cs } => {
                    let base = off[3] + i * rs + j0 * cs;
                    for (c, x) in row.iter_mut().enumerate() {
                        *x = *x * scale + data[base + c * cs];
                    }
                }
            }
            if d.causal && j0 + bk > i + 1 {
                // Keys after the query (top-left alignment) take no part.
                let from = (i + 1).saturating_sub(j0);
                row[from..].iter_mut().for_each(|x| *x = T::NEG_INF);
            }
        }
    }

    /// Key tiles a query tile `[i0, i0 + bq)` meets: all of them, or when causal those that
    /// start at or before its last row.
    fn key_end(&self, i0: usize, bq: usize) -> usize {
        if self.d.causal {
            self.d.s.min(i0 + bq)
        } else {
            self.d.s
        }
    }
}

/// The forward of one query tile: `out` `[bq, ev]` and `lse` `[bq]`.
fn forward_tile<T: AttnFloat>(a: &AttnArgs<'_, T>, b: usize, i0: usize, out: &mut [T], lse: &mut [T]) {
    let d = &a.d;
    let off = &a.offsets[b];
    let bq = lse.len();
    let mut s = vec![T::default(); bq * BK];
    let mut kt = vec![T::default(); d.e * BK];
    let mut scratch = Vec::with_capacity(BK);
    let mut m = vec![T::NEG_INF; bq];
    let mut l = vec![T::default(); bq];
    out.iter_mut().for_each(|x| *x = T::default());
    let zero = T::default();
    let one = T::from_f64(1.0);
    let end = a.key_end(i0, bq);
    let mut j0 = 0;
    while j0 < end {
        // Causal: keys at or past `end` take no part in any row of the tile.
        let bk = BK.min(end - j0);
        a.scores(off, i0, bq, j0, bk, &mut s, &mut kt);
        for r in 0..bq {
            let row = &mut s[r * bk..(r + 1) * bk];
            let mx = row_max(row);
            let m_new = m[r].fmax(mx);
            if m_new == T::NEG_INF {
                // Nothing in this row takes part so far.
                row.iter_mut().for_each(|x| *x = zero);
                continue;
            }
            T::exp_shifted(row, m_new, &mut scratch);
            let alpha = (m[r] - m_new).exp();
            let sum = row_sum(row);
            l[r] = l[r] * alpha + sum;
            if alpha != one {
                out[r * d.ev..(r + 1) * d.ev].iter_mut().for_each(|x| *x = *x * alpha);
            }
            m[r] = m_new;
        }
        tile_mm(&s[..bq * bk], bk, &a.v.data[off[2] + j0 * a.v.rs..], a.v.rs, out, bq, bk, d.ev, true);
        j0 += bk;
    }
    for r in 0..bq {
        let row = &mut out[r * d.ev..(r + 1) * d.ev];
        if l[r] == zero {
            // A row with no key taking part: zeros, as PyTorch gives.
            row.iter_mut().for_each(|x| *x = zero);
            lse[r] = T::NEG_INF;
        } else {
            let inv = one / l[r];
            row.iter_mut().for_each(|x| *x = *x * inv);
            lse[r] = m[r] + l[r].ln();
        }
    }
}

/// Forward over every (batch, head) pair: `out` `[nb, l, ev]` and `lse` `[nb, l]`, both
/// preallocated (nonempty sizes: the caller handles empty ones).
pub fn forward<T: AttnFloat>(a: &AttnArgs<'_, T>, out: &mut [T], lse: &mut [T]) {
    let d = a.d;
    debug_assert!(d.l > 0 && d.ev > 0 && d.s > 0);
    // Parallel over pairs and, within a pair, over query tiles (small batches still spread).
    out.par_chunks_mut(d.l * d.ev).zip(lse.par_chunks_mut(d.l)).enumerate().for_each(|(b, (o, ls))| {
        o.par_chunks_mut(BQ * d.ev)
            .zip(ls.par_chunks_mut(BQ))
            .enumerate()
            .for_each(|(t, (ot, lt))| forward_tile(a, b, t * BQ, ot, lt))
    });
}

/// The saved values and the output gradient the backward reads, contiguous `[nb, l, ev]`
/// (`lse` `[nb, l]`).
pub struct BackwardIn<'a, T> {
    pub out: &'a [T],
    pub dout: &'a [T],
    pub lse: &'a [T],
}

/// The gradients per (batch, head) pair: `dq` `[nb, l, e]`, `dk` `[nb, s, e]`,
/// `dv` `[nb, s, ev]` (summing over broadcast and shared heads is left to the caller).
pub struct Grads<T> {
    pub dq: Vec<T>,
    pub dk: Vec<T>,
    pub dv: Vec<T>,
}

/// The backward of the query tiles `tiles` of pair `b`: adds into `dq` (`[l, e]` of this
/// pair), `dk` (`[s, e]`), `dv` (`[s, ev]`).
fn backward_tiles<T: AttnFloat>(
    a: &AttnArgs<'_, T>,
    g: &BackwardIn<'_, T>,
    b: usize,
    tiles: impl Iterator<Item = usize>,
    dq: &mut [T],
    dk: &mut [T],
    dv: &mut [T],
) {
    let d = &a.d;
    let off = &a.offsets[b];
    let zero = T::default();
    let scale = T::from_f64(d.scale);
    let mut p = vec![zero; BQ * BK];
    let mut dp = vec![zero; BQ * BK];
    // Transposed tiles: keys (`e x bk`), values (`ev x bk`), P and dS (`bk x bq`).
    let mut kt = vec![zero; d.e * BK];
    let mut vt = vec![zero; d.ev * BK];
    let mut tr = vec![zero; BK * BQ];
    let mut dsum = [zero; BQ];
    let mut scratch = Vec::with_capacity(BK);
    let (o, dout, lse) = (&g.out[b * d.l * d.ev..], &g.dout[b * d.l * d.ev..], &g.lse[b * d.l..]);
    for t in tiles {
        let i0 = t * BQ;
        let bq = BQ.min(d.l - i0);
        for r in 0..bq {
            let (or, dr) = (&o[(i0 + r) * d.ev..][..d.ev], &dout[(i0 + r) * d.ev..][..d.ev]);
            dsum[r] = dot(or, dr);
        }
        let end = a.key_end(i0, bq);
        let mut j0 = 0;
        while j0 < end {
            // Causal: keys at or past `end` take no part in any row of the tile.
            let bk = BK.min(end - j0);
            a.scores(off, i0, bq, j0, bk, &mut p, &mut kt);
            for r in 0..bq {
                let m = lse[i0 + r];
                let row = &mut p[r * bk..(r + 1) * bk];
                if m == T::NEG_INF {
                    row.iter_mut().for_each(|x| *x = zero);
                } else {
                    T::exp_shifted(row, m, &mut scratch);
                }
            }
            let dom = &dout[i0 * d.ev..];
            // dV_j += P^T dO_i
            transpose_into(&p, bk, bq, bk, &mut tr);
            tile_mm(&tr, bq, dom, d.ev, &mut dv[j0 * d.ev..(j0 + bk) * d.ev], bk, bq, d.ev, true);
            // dP = dO_i V_j^T
            transpose_into(&a.v.data[off[2] + j0 * a.v.rs..], a.v.rs, bk, d.ev, &mut vt);
            tile_mm(dom, d.ev, &vt, bk, &mut dp, bq, d.ev, bk, false);
            // dS = P * (dP - D) * scale, into dp.
            for r in 0..bq {
                let (pr, dr) = (&p[r * bk..(r + 1) * bk], &mut dp[r * bk..(r + 1) * bk]);
                let ds = dsum[r];
                for (x, &pv) in dr.iter_mut().zip(pr) {
                    *x = pv * (*x - ds) * scale;
                }
            }
            // dQ_i += dS K_j
            let km = &a.k.data[off[1] + j0 * a.k.rs..];
            tile_mm(&dp, bk, km, a.k.rs, &mut dq[i0 * d.e..(i0 + bq) * d.e], bq, bk, d.e, true);
            // dK_j += dS^T Q_i
            transpose_into(&dp, bk, bq, bk, &mut tr);
            let qm = &a.q.data[off[0] + i0 * a.q.rs..];
            tile_mm(&tr, bq, qm, a.q.rs, &mut dk[j0 * d.e..(j0 + bk) * d.e], bk, bq, d.e, true);
            j0 += bk;
        }
    }
}

/// A zeroed buffer (sizes come from the user's shapes: running out of memory is an error).
pub fn zeroed<T: AttnFloat>(len: usize) -> Result<Vec<T>> {
    crate::storage::try_vec_filled(len, T::default())
}

/// The backward over every (batch, head) pair (nonempty sizes). When there are fewer pairs
/// than threads can share, each pair's query tiles are split into parts with their own
/// buffers, summed at the end.
pub fn backward<T: AttnFloat>(a: &AttnArgs<'_, T>, g: &BackwardIn<'_, T>) -> Result<Grads<T>> {
    let d = a.d;
    let tiles = d.l.div_ceil(BQ);
    let threads = rayon::current_num_threads().max(1);
    let parts = (2 * threads).div_ceil(d.nb.max(1)).clamp(1, tiles);
    let (lq, lk, lv) = (d.l * d.e, d.s * d.e, d.s * d.ev);
    let mut out = Grads { dq: zeroed(d.nb * lq)?, dk: zeroed(d.nb * lk)?, dv: zeroed(d.nb * lv)? };
    if parts == 1 && d.e > 0 {
        // One task per pair, writing its own rows (the chunks are nonempty: e, s, ev > 0).
        out.dq
            .par_chunks_mut(lq)
            .zip(out.dk.par_chunks_mut(lk))
            .zip(out.dv.par_chunks_mut(lv))
            .enumerate()
            .for_each(|(b, ((dq, dk), dv))| backward_tiles(a, g, b, 0..tiles, dq, dk, dv));
        return Ok(out);
    }
    // Few pairs (so few pieces), or e = 0: each (pair, part) in its own buffers.
    let pieces: Vec<(Vec<T>, Vec<T>, Vec<T>)> = (0..d.nb * parts)
        .into_par_iter()
        .map(|w| {
            let (b, part) = (w / parts, w % parts);
            let (mut dq, mut dk, mut dv) =
                (vec![T::default(); lq], vec![T::default(); lk], vec![T::default(); lv]);
            // Interleaved tiles balance the causal triangle between the parts.
            backward_tiles(a, g, b, (part..tiles).step_by(parts), &mut dq, &mut dk, &mut dv);
            (dq, dk, dv)
        })
        .collect();
    let add = |acc: &mut [T], x: &[T]| acc.iter_mut().zip(x).for_each(|(a, &y)| *a = *a + y);
    for (w, (dq, dk, dv)) in pieces.into_iter().enumerate() {
        let b = w / parts;
        add(&mut out.dq[b * lq..(b + 1) * lq], &dq);
        add(&mut out.dk[b * lk..(b + 1) * lk], &dk);
        add(&mut out.dv[b * lv..(b + 1) * lv], &dv);
    }
    Ok(out)
}
