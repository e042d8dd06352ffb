//! CPU kernels of the CTC loss (PyTorch's `ctc_loss_cpu_template` and
//! `ctc_loss_backward_cpu_template`), in log space in the input's dtype as PyTorch computes.
//!
//! A batch item `b` with target `l` of length `L` walks the `2L + 1` states of the extended
//! target `l'` (a blank before, between and after the labels: `l'[s]` is the blank for even
//! `s`, `l[s / 2]` for odd `s`). The forward fills `log_alpha[b, t, s]` (eq. 6-7 of Graves et
//! al.), the backward `log_beta` the same way from the end and gathers `alpha * beta` per
//! class (eq. 16). Batch items are independent, so both run in parallel over the batch when
//! the work pays for the threads.

use crate::error::Result;
use crate::storage::{try_vec_with_capacity, Element};
use num_traits::Float;
use rayon::prelude::*;

/// Below this many state updates (batch x time x states) the kernels stay on one thread.
const PAR_MIN: usize = 1 << 14;

/// The problem's geometry: `log_probs` is a contiguous `(T, N, C)` buffer; `labels` holds
/// each item's target labels from `offsets[b]` (validated to `0..C`, as usize), `ilen` and
/// `tlen` the lengths (validated: `ilen[b] <= T`, `tlen[b] <= smax`).
pub struct CtcProblem<'a> {
    pub t_max: usize,
    pub n: usize,
    pub c: usize,
    /// The largest target length: `log_alpha` has `2 * smax + 1` states per step.
    pub smax: usize,
    pub blank: usize,
    pub labels: &'a [usize],
    pub offsets: &'a [usize],
    pub ilen: &'a [usize],
    pub tlen: &'a [usize],
}

impl CtcProblem<'_> {
    fn states(&self) -> usize {
        2 * self.smax + 1
    }

    /// `l'[s]` of item `b`.
    #[inline]
    fn prime(&self, b: usize, s: usize) -> usize {
        if s % 2 == 0 {
            self.blank
        } else {
            self.labels[self.offsets[b] + s / 2]
        }
    }

    fn parallel(&self) -> bool {
        self.n > 1 && self.n * self.t_max * self.states() >= PAR_MIN
    }
}

/// `log(exp(a) + exp(b) + exp(c))`, PyTorch's way: the maximum taken out, and 0 for it when
/// every term is -inf (which then gives -inf, not NaN).
#[inline]
fn lse3<T: Float>(a: T, b: T, c: T) -> T {
    let mut m = a;
    if b > m {
        m = b;
    }
    if c > m {
        m = c;
    }
    if m == T::neg_infinity() {
        m = T::zero();
    }
    ((a - m).exp() + (b - m).exp() + (c - m).exp()).ln() + m
}

#[inline]
fn lse2<T: Float>(a: T, b: T) -> T {
    let m = a.max(b);
    let m = if m == T::neg_infinity() { T::zero() } else { m };
    ((a - m).exp() + (b - m).exp()).ln() + m
}

/// One item's alphas into `la` (`T x states`, the rows past its input length untouched) and
/// its negative log likelihood.
fn forward_item<T: Float>(p: &CtcProblem, lp: &[T], b: usize, la: &mut [T]) -> T {
    let (ns, il, tl) = (p.states(), p.ilen[b], p.tlen[b]);
    let at = |t: usize, c: usize| lp[(t * p.n + b) * p.c + c];
    if il == 0 {
        return if tl == 0 { T::zero() } else { T::infinity() };
    }
    la[..ns].fill(T::neg_infinity());
    la[0] = at(0, p.blank);
    if tl > 0 {
        la[1] = at(0, p.prime(b, 1));
    }
    for t in 1..il {
        let (prev, cur) = la[(t - 1) * ns..(t + 1) * ns].split_at_mut(ns);
        for s in 0..2 * tl + 1 {
            let here = p.prime(b, s);
            let l2 = if s > 0 { prev[s - 1] } else { T::neg_infinity() };
            let l3 = if s > 1 && p.prime(b, s - 2) != here { prev[s - 2] } else { T::neg_infinity() };
            cur[s] = lse3(prev[s], l2, l3) + at(t, here);
        }
    }
    let last = &la[(il - 1) * ns..];
    if tl == 0 {
        -last[0]
    } else {
        -lse2(last[2 * tl], last[2 * tl - 1])
    }
}

/// The forward: each item's negative log likelihood (`N`) and the alphas
/// (`N x T x (2 smax + 1)`), which the backward reads.
pub fn ctc_forward<T: Element + Float>(p: &CtcProblem, lp: &[T]) -> Result<(Vec<T>, Vec<T>)> {
    let per = p.t_max * p.states();
    let mut la = try_vec_with_capacity::<T>(p.n * per)?;
    la.resize(p.n * per, T::neg_infinity());
    let mut nll = vec![T::zero(); p.n];
    if per == 0 {
        return Ok((nll, la));
    }
    let run = |(b, (la, out)): (usize, (&mut [T], &mut T))| *out = forward_item(p, lp, b, la);
    if p.parallel() {
        la.par_chunks_mut(per).zip(nll.par_iter_mut()).enumerate().for_each(run);
    } else {
        la.chunks_mut(per).zip(nll.iter_mut()).enumerate().for_each(run);
    }
    Ok((nll, la))
}

/// One item's gradient rows (`T x C`, item-major) from its alphas, its loss and the incoming
/// gradient `gr`; `lb` is scratch for the betas (`T x states`).
#[allow(clippy::too_many_arguments)]
fn backward_item<T: Float>(
    p: &CtcProblem,
    lp: &[T],
    b: usize,
    la: &[T],
    nll: T,
    gr: T,
    zero_infinity: bool,
    grad: &mut [T],
    lb: &mut [T],
) {
    let (ns, il, tl, c) = (p.states(), p.ilen[b], p.tlen[b], p.c);
    if zero_infinity && nll == T::infinity() {
        grad.fill(T::zero());
        return;
    }
    let at = |t: usize, k: usize| lp[(t * p.n + b) * c + k];
    // Until the last step, `grad` holds log(sum over s with l'[s] = k of alpha * beta).
    grad[..il * c].fill(T::neg_infinity());
    grad[il * c..].fill(T::zero());
    if il == 0 {
        return;
    }
    let last = il - 1;
    lb[last * ns..(last + 1) * ns].fill(T::neg_infinity());
    lb[last * ns + 2 * tl] = at(last, p.blank);
    grad[last * c + p.blank] = la[last * ns + 2 * tl] + lb[last * ns + 2 * tl];
    if tl > 0 {
        let k = p.prime(b, 2 * tl - 1);
        lb[last * ns + 2 * tl - 1] = at(last, k);
        // A blank and a label: different classes, so a plain assignment.
        grad[last * c + k] = la[last * ns + 2 * tl - 1] + lb[last * ns + 2 * tl - 1];
    }
    for t in (0..last).rev() {
        let (cur, next) = lb[t * ns..(t + 2) * ns].split_at_mut(ns);
        for s in (0..2 * tl + 1).rev() {
            let here = p.prime(b, s);
            let l2 = if s < 2 * tl { next[s + 1] } else { T::neg_infinity() };
            let l3 =
                if s + 1 < 2 * tl && p.prime(b, s + 2) != here { next[s + 2] } else { T::neg_infinity() };
            cur[s] = lse3(next[s], l2, l3) + at(t, here);
            let ab = la[t * ns + s] + cur[s];
            let acc = &mut grad[t * c + here];
            *acc = if *acc == T::neg_infinity() { ab } else { lse2(*acc, ab) };
        }
    }
    // eq. 16 with the likelihood exp(-nll) as Z: exp(lp) - exp(log(sum alpha beta) + nll - lp),
    // the gradient PyTorch gives (with respect to the logits of a log_softmax).
    for t in 0..il {
        for k in 0..c {
            let lpk = at(t, k);
            let r = &mut grad[t * c + k];
            *r = (lpk.exp() - (*r + nll - lpk).exp()) * gr;
        }
    }
}

/// The gradient with respect to `log_probs` (contiguous `(T, N, C)`), each item's rows
/// scaled by `gout[b]`; items with an infinite loss get zeros when `zero_infinity`.
pub fn ctc_backward<T: Element + Float>(
    p: &CtcProblem,
    lp: &[T],
    nll: &[T],
    la: &[T],
    gout: &[T],
    zero_infinity: bool,
) -> Result<Vec<T>> {
    let (per, rows) = (p.t_max * p.states(), p.t_max * p.c);
    let mut item_major = try_vec_with_capacity::<T>(p.n * rows)?;
    item_major.resize(p.n * rows, T::zero());
    if rows > 0 {
        let run = |(b, g): (usize, &mut [T])| {
            let mut lb = vec![T::neg_infinity(); per];
            let la = &la[b * per..(b + 1) * per];
            backward_item(p, lp, b, la, nll[b], gout[b], zero_infinity, g, &mut lb);
        };
        if p.parallel() {
            item_major.par_chunks_mut(rows).enumerate().for_each(run);
        } else {
            item_major.chunks_mut(rows).enumerate().for_each(run);
        }
    }
    // Back to the input's (T, N, C) order.
    let mut grad = try_vec_with_capacity::<T>(p.n * rows)?;
    grad.resize(p.n * rows, T::zero());
    for t in 0..p.t_max {
        for b in 0..p.n {
            let src = &item_major[b * rows + t * p.c..][..p.c];
            grad[(t * p.n + b) * p.c..][..p.c].copy_from_slice(src);
        }
    }
    Ok(grad)
}
