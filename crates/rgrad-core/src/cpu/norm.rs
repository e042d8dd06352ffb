//! CPU kernels of batch normalization on a contiguous input viewed as `[n, c, s]` (batch,
//! channels, the trailing dims flattened). Statistics take one pass over each channel's data
//! with f64 accumulators of values shifted by the channel's first element (so the sum of
//! squares does not cancel catastrophically); the outputs are one elementwise pass.
//! Big inputs run in parallel over channels (reductions) and over contiguous runs (maps).

use crate::storage::Element;
use num_traits::Float;
use rayon::prelude::*;

/// Below this many elements the kernels stay on the calling thread.
const PAR_MIN: usize = 1 << 15;
/// Independent accumulators per channel, so the inner loops vectorize.
const LANES: usize = 8;

/// The input's shape as batch, channels and the product of the trailing dims.
#[derive(Clone, Copy, Debug)]
pub struct NormDims {
    pub n: usize,
    pub c: usize,
    pub s: usize,
}

impl NormDims {
    /// Elements per channel (the reduction length).
    pub fn per_channel(&self) -> usize {
        self.n * self.s
    }

    fn numel(&self) -> usize {
        self.n * self.c * self.s
    }
}

/// Adds one run's sums into the lanes: see the two cases.
#[inline]
fn lane_sums<T: Element>(
    a: &[T],
    b: Option<&[T]>,
    ka: f64,
    kb: f64,
    s1: &mut [f64; LANES],
    s2: &mut [f64; LANES],
) {
    match b {
        // Sums of (a - ka) and (a - ka)^2.
        None => {
            let mut it = a.chunks_exact(LANES);
            for ch in &mut it {
                for l in 0..LANES {
                    let v = ch[l].to_f64() - ka;
                    s1[l] += v;
                    s2[l] += v * v;
                }
            }
            for (l, &x) in it.remainder().iter().enumerate() {
                let v = x.to_f64() - ka;
                s1[l] += v;
                s2[l] += v * v;
            }
        }
        // Sums of a and a * (b - kb) (the gradient and its product with the centred input).
        Some(b) => {
            let (mut ia, mut ib) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
            for (ca, cb) in (&mut ia).zip(&mut ib) {
                for l in 0..LANES {
                    let g = ca[l].to_f64();
                    s1[l] += g;
                    s2[l] += g * (cb[l].to_f64() - kb);
                }
            }
            for (l, (&g, &x)) in ia.remainder().iter().zip(ib.remainder()).enumerate() {
                let g = g.to_f64();
                s1[l] += g;
                s2[l] += g * (x.to_f64() - kb);
            }
        }
    }
}

/// Per channel, the sums of lane_sums over its `n` runs of `s` elements (`s > 1`), or over
/// the rows of an `[n, c]` input (`s == 1`).
fn channel_sums<T: Element>(
    a: &[T],
    b: Option<&[T]>,
    d: NormDims,
    ka: &[f64],
    kb: &[f64],
) -> Vec<(f64, f64)> {
    if d.s == 1 {
        return row_sums(a, b, d, ka, kb);
    }
    let one = |c: usize| {
        let (mut s1, mut s2) = ([0.0; LANES], [0.0; LANES]);
        for n in 0..d.n {
            let r = (n * d.c + c) * d.s..(n * d.c + c + 1) * d.s;
            lane_sums(&a[r.clone()], b.map(|b| &b[r]), ka[c], kb[c], &mut s1, &mut s2);
        }
        (s1.iter().sum(), s2.iter().sum())
    };
    if d.numel() >= PAR_MIN && d.c > 1 {
        (0..d.c).into_par_iter().map(one).collect()
    } else {
        (0..d.c).map(one).collect()
    }
}

/// [`channel_sums`] for `s == 1`: rows are walked in order with one accumulator per
/// channel (contiguous, so vectorized across channels); blocks of rows run in parallel.
fn row_sums<T: Element>(a: &[T], b: Option<&[T]>, d: NormDims, ka: &[f64], kb: &[f64]) -> Vec<(f64, f64)> {
    let c = d.c;
    let block = |rows: std::ops::Range<usize>| {
        let (mut s1, mut s2) = (vec![0.0; c], vec![0.0; c]);
        for r in rows {
            let ra = &a[r * c..(r + 1) * c];
            match b {
                None => {
                    for ((x, k), (p1, p2)) in ra.iter().zip(ka).zip(s1.iter_mut().zip(s2.iter_mut())) {
                        let v = x.to_f64() - k;
                        *p1 += v;
                        *p2 += v * v;
                    }
                }
                Some(b) => {
                    let rb = &b[r * c..(r + 1) * c];
                    for ((g, (x, k)), (p1, p2)) in
                        ra.iter().zip(rb.iter().zip(kb)).zip(s1.iter_mut().zip(s2.iter_mut()))
                    {
                        let g = g.to_f64();
                        *p1 += g;
                        *p2 += g * (x.to_f64() - k);
                    }
                }
            }
        }
        (s1, s2)
    };
    let (s1, s2) = if d.numel() >= PAR_MIN && d.n > 1 {
        let per = d.n.div_ceil(rayon::current_num_threads().max(1));
        let starts: Vec<usize> = (0..d.n).step_by(per.max(1)).collect();
        starts.into_par_iter().map(|st| block(st..(st + per).min(d.n))).reduce(
            || (vec![0.0; c], vec![0.0; c]),
            |(mut a1, mut a2), (b1, b2)| {
                a1.iter_mut().zip(&b1).for_each(|(x, y)| *x += y);
                a2.iter_mut().zip(&b2).for_each(|(x, y)| *x += y);
                (a1, a2)
            },
        )
    } else {
        block(0..d.n)
    };
    s1.into_iter().zip(s2).collect()
}

/// Per channel, the batch mean and the sum of squared deviations from it.
pub fn channel_stats<T: Element>(x: &[T], d: NormDims) -> Vec<(f64, f64)> {
    // Shift each channel by its first element: the sums then stay near the data's spread.
    let k: Vec<f64> = (0..d.c).map(|c| x[c * d.s].to_f64()).collect();
    let m = d.per_channel() as f64;
    channel_sums(x, None, d, &k, &k)
        .into_iter()
        .zip(&k)
        .map(|((s1, s2), &k)| {
            let shift = s1 / m;
            (k + shift, (s2 - s1 * shift).max(0.0))
        })
        .collect()
}

/// Per channel, `sum(dy)` and `sum(dy * (x - mean))`.
pub fn grad_sums<T: Element>(dy: &[T], x: &[T], d: NormDims, mean: &[f64]) -> Vec<(f64, f64)> {
    channel_sums(dy, Some(x), d, mean, mean)
}

/// `out = a * alpha[c] + (b - center[c]) * beta[c] + gamma[c]` elementwise (`b` optional;
/// without it `beta` and `center` are not read), in `T`.
pub fn channel_affine<T: Element + Float>(
    a: &[T],
    b: Option<&[T]>,
    d: NormDims,
    alpha: &[f64],
    beta: &[f64],
    center: &[f64],
    gamma: &[f64],
) -> Vec<T> {
    let cast = |v: &[f64]| v.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>();
    let (alpha, beta, center, gamma) = (cast(alpha), cast(beta), cast(center), cast(gamma));
    let mut out = vec![T::zero(); d.numel()];
    // One task per run of `s` elements when runs are long; otherwise per row of `c * s`.
    let run = if d.s >= 256 || d.n == 1 { d.s.max(1) } else { (d.c * d.s).max(1) };
    let fill = |(i, o): (usize, &mut [T])| {
        let start = i * run;
        for (j, ch) in o.chunks_mut(d.s.max(1)).enumerate() {
            let first = start + j * d.s;
            let c = (first / d.s.max(1)) % d.c;
            let (al, ga) = (alpha[c], gamma[c]);
            let src = &a[first..first + ch.len()];
            match b {
                None => ch.iter_mut().zip(src).for_each(|(o, &x)| *o = x * al + ga),
                Some(b) => {
                    let (be, ce) = (beta[c], center[c]);
                    let sb = &b[first..first + ch.len()];
                    ch.iter_mut()
                        .zip(src.iter().zip(sb))
                        .for_each(|(o, (&x, &y))| *o = x * al + (y - ce) * be + ga)
                }
            }
        }
    };
    if d.numel() >= PAR_MIN {
        out.par_chunks_mut(run).enumerate().for_each(fill);
    } else {
        out.chunks_mut(run).enumerate().for_each(fill);
    }
    out
}
