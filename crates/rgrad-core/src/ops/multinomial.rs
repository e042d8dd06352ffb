//! `multinomial(probs, num_samples, replacement)`: category indices drawn from each row of
//! non-negative weights, with float64 uniforms from the global generator (so `manual_seed`
//! reproduces a draw) or from the caller (a Python `Generator` object). With replacement by
//! inverting each row's cumulative sums; without, by the exponential race: category i
//! arrives at `E_i / w_i` (`E_i = -log1p(-u_i)`), and the first `num_samples` arrivals are
//! the sample (a zero weight never arrives before a positive one). wgpu tensors are sampled
//! on the host and the indices go back to the device.

use super::factory::with_rng;
use crate::bail;
use crate::error::Result;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{with_dtype, DType, Device};
use rand::RngExt;
use rayon::prelude::*;

/// Weights below this many in total are sampled on one thread.
const PARALLEL_ABOVE: usize = 1 << 15;

/// With replacement: the samples of one row in increasing order of their uniforms, found by
/// one walk along the running sum (the first category whose cumulative weight exceeds
/// `u * total`, as a binary search of the cumulative sums would find it).
fn draw_row_with<T: Element>(w: &[T], total: f64, u: &[f64], out: &mut [i64]) {
    let last = w.len() - 1;
    let mut order: Vec<usize> = (0..u.len()).collect();
    if u.len() > 1 {
        order.sort_unstable_by(|&a, &b| u[a].total_cmp(&u[b]));
    }
    let (mut acc, mut i) = (0.0f64, 0usize);
    for k in order {
        let target = u[k] * total;
        while i < last && acc + w[i].to_f64() <= target {
            acc += w[i].to_f64();
            i += 1;
        }
        out[k] = i as i64;
    }
}

/// Without replacement: the `out.len()` first arrivals of the exponential race.
fn draw_row_without<T: Element>(w: &[T], u: &[f64], out: &mut [i64]) {
    let mut keys: Vec<(f64, u32)> = w
        .iter()
        .zip(u)
        .enumerate()
        .map(|(i, (&wi, &ui))| {
            let wi = wi.to_f64();
            (if wi > 0.0 { -(-ui).ln_1p() / wi } else { f64::INFINITY }, i as u32)
        })
        .collect();
    let cmp = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    let k = out.len();
    if k < keys.len() {
        keys.select_nth_unstable_by(k, cmp);
    }
    keys[..k].sort_unstable_by(cmp);
    for (o, &(_, i)) in out.iter_mut().zip(keys.iter()) {
        *o = i64::from(i);
    }
}

/// Each row's total weight, or the error for a negative, NaN or infinite weight or a row
/// that sums to zero.
fn row_totals<T: Element>(w: &[T], n: usize) -> Result<Vec<f64>> {
    let total = |r: &[T]| {
        let mut bad = false;
        let mut acc = 0.0f64;
        for &x in r {
            let v = x.to_f64();
            bad |= !(v >= 0.0 && v.is_finite());
            acc += v;
        }
        (acc, bad)
    };
    let sums: Vec<(f64, bool)> = if w.len() >= PARALLEL_ABOVE {
        w.par_chunks(n).map(total).collect()
    } else {
        w.chunks(n).map(total).collect()
    };
    if sums.iter().any(|&(_, bad)| bad) {
        bail!(Runtime, "probability tensor contains either `inf`, `nan` or element < 0");
    }
    if sums.iter().any(|&(s, _)| s <= 0.0) {
        bail!(Runtime, "invalid multinomial distribution (sum of probabilities <= 0)");
    }
    Ok(sums.into_iter().map(|(s, _)| s).collect())
}

fn sample<T: Element>(
    w: &[T],
    n: usize,
    m: usize,
    replacement: bool,
    uniforms: Option<&Tensor>,
) -> Result<Vec<i64>> {
    let rows = w.len() / n;
    let totals = row_totals(w, n)?;
    let per_row = if replacement { m } else { n };
    let count = crate::shape::storage_numel(&[rows, per_row], 8)?;
    let u = match uniforms {
        Some(t) => {
            let v = t.detach().to_cpu()?.to_dtype(DType::F64)?.contiguous()?.try_to_vec::<f64>()?;
            if v.len() != count {
                bail!(Runtime, "multinomial: expected {} uniforms, got {}", count, v.len());
            }
            v
        }
        None => {
            let mut v = crate::storage::try_vec_with_capacity::<f64>(count)?;
            with_rng(|r| v.extend((0..count).map(|_| r.random::<f64>())));
            v
        }
    };
    let mut out = crate::storage::try_vec_with_capacity::<i64>(rows * m)?;
    out.resize(rows * m, 0);
    let job = |(i, o): (usize, &mut [i64])| {
        let wr = &w[i * n..(i + 1) * n];
        let ur = &u[i * per_row..(i + 1) * per_row];
        if replacement {
            draw_row_with(wr, totals[i], ur, o);
        } else {
            draw_row_without(wr, ur, o);
        }
    };
    if rows > 1 && w.len() >= PARALLEL_ABOVE {
        out.par_chunks_mut(m).enumerate().for_each(job);
    } else {
        out.chunks_mut(m).enumerate().for_each(job);
    }
    Ok(out)
}

/// `multinomial`; `uniforms`, when given, holds the `rows x (num_samples or categories)`
/// float64 uniforms to use instead of the global generator's.
pub fn multinomial(
    probs: &Tensor,
    num_samples: i64,
    replacement: bool,
    uniforms: Option<&Tensor>,
) -> Result<Tensor> {
    if !(1..=2).contains(&probs.ndim()) {
        bail!(Runtime, "prob_dist must be 1 or 2 dim");
    }
    if !probs.dtype().is_float() {
        bail!(
            Runtime,
            "multinomial only supports floating-point dtypes for input, got: {}",
            probs.dtype().scalar_name()
        );
    }
    if num_samples <= 0 {
        bail!(Runtime, "cannot sample n_sample <= 0 samples");
    }
    let n = probs.shape()[probs.ndim() - 1];
    if !replacement && num_samples as u64 > n as u64 {
        bail!(Runtime, "cannot sample n_sample > prob_dist.size(-1) samples without replacement");
    }
    if n > 1 << 24 {
        bail!(Runtime, "number of categories cannot exceed 2^24");
    }
    let rows = if probs.ndim() == 2 { probs.shape()[0] } else { 1 };
    let m = num_samples as usize;
    let out_shape: Vec<usize> = if probs.ndim() == 2 { vec![rows, m] } else { vec![m] };
    crate::shape::storage_numel(&out_shape, 8)?;
    if rows == 0 {
        return Tensor::zeros(&out_shape, DType::I64)?.to_device_kernel(probs.device());
    }
    if n == 0 {
        bail!(Runtime, "invalid multinomial distribution (sum of probabilities <= 0)");
    }
    let t = probs.detach().to_cpu()?.contiguous()?;
    let off = t.layout().offset;
    let out = with_dtype!(t.dtype(), T => sample(&t.storage_slice::<T>()[off..off + t.numel()], n, m, replacement, uniforms)?);
    let out = Tensor::from_vec(out, &out_shape);
    if probs.device() == Device::Cpu {
        Ok(out)
    } else {
        out.to_device_kernel(probs.device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sample_their_support() {
        let mut o = [0i64; 4];
        draw_row_with(&[0.0f64, 1.0, 0.0, 3.0], 4.0, &[0.9999, 0.0, 0.25, 0.2499], &mut o);
        assert_eq!(o, [3, 1, 3, 1]);
        let mut o = [0i64; 3];
        draw_row_without(&[0.0f32, 2.0, 1.0], &[0.5, 0.5, 0.5], &mut o);
        assert_eq!(o, [1, 2, 0]);
    }
}
