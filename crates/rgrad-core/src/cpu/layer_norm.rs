//! CPU kernels of layer normalization on a contiguous input viewed as `[rows, n]` (the
//! normalized trailing dims flattened to `n`). Each row is normalized on its own, so both
//! passes split the rows over the thread pool: the forward computes a row's mean and inverse
//! standard deviation (two passes over the row while it is in cache, f64 lane accumulators:
//! no cancellation in the variance) and writes the normalized, affine row; the backward
//! writes a row's input gradient and adds the row into per-task partial sums of the weight
//! and bias gradients, which are added up at the end.

use crate::error::Result;
use crate::storage::{try_vec_with_capacity, Element};
use num_traits::Float;
use rayon::prelude::*;

/// Below this many elements the kernels stay on the calling thread.
const PAR_MIN: usize = 1 << 14;
/// About this many elements per parallel task.
const TASK: usize = 1 << 13;
/// Independent accumulators, so the row loops vectorize.
const LANES: usize = 8;

fn lanes_total(s: [f64; LANES]) -> f64 {
    s.iter().sum()
}

/// Sum of `f(v)` over a row, in f64 lanes.
#[inline(always)]
fn row_sum<T: Element>(row: &[T], f: impl Fn(f64) -> f64) -> f64 {
    let mut s = [0.0f64; LANES];
    let mut it = row.chunks_exact(LANES);
    for ch in &mut it {
        for l in 0..LANES {
            s[l] += f(ch[l].to_f64());
        }
    }
    for (l, &v) in it.remainder().iter().enumerate() {
        s[l] += f(v.to_f64());
    }
    lanes_total(s)
}

/// Rows per task for rows of `n` elements.
fn task_rows(n: usize) -> usize {
    (TASK / n.max(1)).max(1)
}

/// Normalizes one row into `out`; returns its mean and inverse standard deviation.
#[inline]
fn forward_row<T: Float + Element>(
    x: &[T],
    out: &mut [T],
    w: Option<&[T]>,
    b: Option<&[T]>,
    eps: f64,
) -> (T, T) {
    let n = x.len() as f64;
    let mean = row_sum(x, |v| v) / n;
    let var = row_sum(x, |v| (v - mean) * (v - mean)) / n;
    let rstd = 1.0 / (var + eps).sqrt();
    let (m, r) = (T::from_f64(mean), T::from_f64(rstd));
    match (w, b) {
        (Some(w), Some(b)) => {
            for (((o, &v), &wj), &bj) in out.iter_mut().zip(x).zip(w).zip(b) {
                *o = (v - m) * r * wj + bj;
            }
        }
        (Some(w), None) => {
            for ((o, &v), &wj) in out.iter_mut().zip(x).zip(w) {
                *o = (v - m) * r * wj;
            }
        }
        (None, Some(b)) => {
            for ((o, &v), &bj) in out.iter_mut().zip(x).zip(b) {
                *o = (v - m) * r + bj;
            }
        }
        (None, None) => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = (v - m) * r;
            }
        }
    }
    (m, r)
}

/// The forward over `x` (`rows * n` elements): the output, and each row's mean and inverse
/// standard deviation.
pub fn layer_norm_forward<T: Float + Element>(
    x: &[T],
    n: usize,
    w: Option<&[T]>,
    b: Option<&[T]>,
    eps: f64,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    let rows = x.len().checked_div(n).unwrap_or(0);
    let mut out = try_vec_with_capacity::<T>(x.len())?;
    out.resize(x.len(), T::zero());
    let mut mean = try_vec_with_capacity::<T>(rows)?;
    mean.resize(rows, T::zero());
    let mut rstd = try_vec_with_capacity::<T>(rows)?;
    rstd.resize(rows, T::zero());
    if rows == 0 {
        return Ok((out, mean, rstd));
    }
    let block = |x: &[T], out: &mut [T], mean: &mut [T], rstd: &mut [T]| {
        for (((xr, or), m), r) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)).zip(mean).zip(rstd) {
            (*m, *r) = forward_row(xr, or, w, b, eps);
        }
    };
    if x.len() < PAR_MIN {
        block(x, &mut out, &mut mean, &mut rstd);
    } else {
        let tr = task_rows(n);
        out.par_chunks_mut(tr * n)
            .zip(x.par_chunks(tr * n))
            .zip(mean.par_chunks_mut(tr))
            .zip(rstd.par_chunks_mut(tr))
            .for_each(|(((o, xc), m), r)| block(xc, o, m, r));
    }
    Ok((out, mean, rstd))
}

/// The gradient sums of the weight and bias over some rows (empty when not wanted).
struct Partial {
    dw: Vec<f64>,
    db: Vec<f64>,
}

impl Partial {
    fn add(mut self, other: Partial) -> Partial {
        for (a, b) in self.dw.iter_mut().zip(&other.dw) {
            *a += b;
        }
        for (a, b) in self.db.iter_mut().zip(&other.db) {
            *a += b;
        }
        self
    }
}

/// Sum of `a[j] * b[j]`, in f64 lanes.
#[inline(always)]
fn row_dot<T: Element>(a: &[T], b: &[T]) -> f64 {
    let mut s = [0.0f64; LANES];
    let (mut ia, mut ib) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (ca, cb) in (&mut ia).zip(&mut ib) {
        for l in 0..LANES {
            s[l] += ca[l].to_f64() * cb[l].to_f64();
        }
    }
    for (l, (&x, &y)) in ia.remainder().iter().zip(ib.remainder()).enumerate() {
        s[l] += x.to_f64() * y.to_f64();
    }
    lanes_total(s)
}

/// The backward over some rows: writes their input gradients into `dx` (when given) and
/// returns their weight and bias gradient sums (when `sums`).
#[allow(clippy::too_many_arguments)]
fn backward_rows<T: Float + Element>(
    g: &[T],
    x: &[T],
    mean: &[T],
    rstd: &[T],
    w: Option<&[T]>,
    mut dx: Option<&mut [T]>,
    sums: bool,
    n: usize,
) -> Partial {
    let mut p = Partial { dw: vec![0.0; if sums { n } else { 0 }], db: vec![0.0; if sums { n } else { 0 }] };
    let inv_n = 1.0 / n as f64;
    // One row's normalized input and `g * w`, reused across rows.
    let mut xhat = vec![T::zero(); n];
    let mut gw = vec![T::zero(); if w.is_some() { n } else { 0 }];
    for (i, (gr, xr)) in g.chunks_exact(n).zip(x.chunks_exact(n)).enumerate() {
        let (m, r) = (mean[i], rstd[i]);
        for (h, &v) in xhat.iter_mut().zip(xr) {
            *h = (v - m) * r;
        }
        if sums {
            for ((dw, db), (&gj, &h)) in p.dw.iter_mut().zip(p.db.iter_mut()).zip(gr.iter().zip(&xhat)) {
                let gj = gj.to_f64();
                *dw += gj * h.to_f64();
                *db += gj;
            }
        }
        let Some(dx) = dx.as_deref_mut() else { continue };
        let dr = &mut dx[i * n..(i + 1) * n];
        // dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = g * w.
        let gw: &[T] = match w {
            Some(w) => {
                for ((o, &gj), &wj) in gw.iter_mut().zip(gr).zip(w) {
                    *o = gj * wj;
                }
                &gw
            }
            None => gr,
        };
        let a = T::from_f64(row_sum(gw, |v| v) * inv_n);
        let c = T::from_f64(row_dot(gw, &xhat) * inv_n);
        for ((o, &gj), &h) in dr.iter_mut().zip(gw).zip(&xhat) {
            *o = r * (gj - a - h * c);
        }
    }
    p
}

/// Gradients of a layer normalization: `[input, weight, bias]`, each where `need` asks
/// (the weight and bias ones as f64 sums over the rows, length `n`).
#[allow(clippy::type_complexity)]
pub fn layer_norm_backward<T: Float + Element>(
    g: &[T],
    x: &[T],
    n: usize,
    mean: &[T],
    rstd: &[T],
    w: Option<&[T]>,
    need: [bool; 3],
) -> Result<(Option<Vec<T>>, Option<Vec<f64>>, Option<Vec<f64>>)> {
    let sums = need[1] || need[2];
    if n == 0 || x.is_empty() {
        let zeros = || vec![0.0; n];
        return Ok((need[0].then(|| vec![T::zero(); x.len()]), need[1].then(zeros), need[2].then(zeros)));
    }
    let mut dx = if need[0] {
        let mut v = try_vec_with_capacity::<T>(x.len())?;
        v.resize(x.len(), T::zero());
        Some(v)
    } else {
        None
    };
    let tr = task_rows(n);
    let part = |k: usize, gc: &[T], xc: &[T], d: Option<&mut [T]>| {
        let rows = gc.len() / n;
        let (m, r) = (&mean[k * tr..k * tr + rows], &rstd[k * tr..k * tr + rows]);
        backward_rows(gc, xc, m, r, w, d, sums, n)
    };
    let p = if x.len() < PAR_MIN {
        part(0, g, x, dx.as_deref_mut())
    } else {
        let empty =
            || Partial { dw: vec![0.0; if sums { n } else { 0 }], db: vec![0.0; if sums { n } else { 0 }] };
        match dx.as_deref_mut() {
            Some(d) => d
                .par_chunks_mut(tr * n)
                .zip(g.par_chunks(tr * n).zip(x.par_chunks(tr * n)))
                .enumerate()
                .map(|(k, (d, (gc, xc)))| part(k, gc, xc, Some(d)))
                .reduce(empty, Partial::add),
            None => g
                .par_chunks(tr * n)
                .zip(x.par_chunks(tr * n))
                .enumerate()
                .map(|(k, (gc, xc))| part(k, gc, xc, None))
                .reduce(empty, Partial::add),
        }
    };
    let Partial { dw, db } = p;
    Ok((dx, need[1].then_some(dw), need[2].then_some(db)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_zero_mean_unit_variance_and_gradients_sum_to_zero() {
        let n = 37;
        let x: Vec<f64> = (0..n * 900).map(|i| ((i * 7919) % 101) as f64 * 0.3 - 12.0).collect();
        let (y, mean, rstd) = layer_norm_forward(&x, n, None, None, 0.0).unwrap();
        for (r, row) in y.chunks(n).enumerate() {
            let m: f64 = row.iter().sum::<f64>() / n as f64;
            let v: f64 = row.iter().map(|a| a * a).sum::<f64>() / n as f64;
            assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-12, "row {r}: mean {m} var {v}");
            let want: f64 = x[r * n..(r + 1) * n].iter().sum::<f64>() / n as f64;
            assert!((mean[r] - want).abs() < 1e-12 && rstd[r] > 0.0);
        }
        let g: Vec<f64> = (0..x.len()).map(|i| (i % 13) as f64 - 6.0).collect();
        let (dx, dw, db) = layer_norm_backward(&g, &x, n, &mean, &rstd, None, [true, true, true]).unwrap();
        // Shifting a row does not change the output, so each row's input gradient sums to 0.
        for row in dx.unwrap().chunks(n) {
            assert!(row.iter().sum::<f64>().abs() < 1e-9);
        }
        let db = db.unwrap();
        for (j, &got) in db.iter().enumerate() {
            let want: f64 = g.iter().skip(j).step_by(n).sum();
            assert!((got - want).abs() < 1e-9);
        }
        assert_eq!(dw.unwrap().len(), n);
    }
}
