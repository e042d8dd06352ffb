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
use crate::tensor::Tensor;
use crate::{DType, Device};
use rand::RngExt;
use rayon::prelude::*;
use std::cmp::Ordering;

/// Rows below this many weights in total are sampled on one thread.
const PARALLEL_ABOVE: usize = 1 << 15;

fn draw_row_with(w: &[f64], cdf: &mut Vec<f64>, u: &[f64], out: &mut [i64]) {
    cdf.clear();
    let mut acc = 0.0;
    for &x in w {
        acc += x;
        cdf.push(acc);
    }
    let last = w.len() - 1;
    for (o, &uu) in out.iter_mut().zip(u) {
        let target = uu * acc;
        *o = cdf.partition_point(|&c| c <= target).min(last) as i64;
    }
}

fn draw_row_without(w: &[f64], keys: &mut Vec<(f64, u32)>, u: &[f64], out: &mut [i64]) {
    keys.clear();
    keys.extend(w.iter().zip(u).enumerate().map(|(i, (&wi, &ui))| {
        let k = if wi > 0.0 { -(-ui).ln_1p() / wi } else { f64::INFINITY };
        (k, i as u32)
    }));
    let cmp =
        |a: &(f64, u32), b: &(f64, u32)| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal).then(a.1.cmp(&b.1));
    let k = out.len();
    if k < keys.len() {
        keys.select_nth_unstable_by(k, cmp);
    }
    keys[..k].sort_unstable_by(cmp);
    for (o, &(_, i)) in out.iter_mut().zip(keys.iter()) {
        *o = i64::from(i);
    }
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
    let w = probs.detach().to_cpu()?.to_dtype(DType::F64)?.contiguous()?.try_to_vec::<f64>()?;
    if w.iter().any(|&x| !(x >= 0.0 && x.is_finite())) {
        bail!(Runtime, "probability tensor contains either `inf`, `nan` or element < 0");
    }
    if rows > 0 && (n == 0 || w.chunks(n).any(|r| r.iter().sum::<f64>() <= 0.0)) {
        bail!(Runtime, "invalid multinomial distribution (sum of probabilities <= 0)");
    }
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
    if rows > 0 {
        let job = |(i, o): (usize, &mut [i64])| {
            let wr = &w[i * n..(i + 1) * n];
            let ur = &u[i * per_row..(i + 1) * per_row];
            if replacement {
                draw_row_with(wr, &mut Vec::with_capacity(n), ur, o);
            } else {
                draw_row_without(wr, &mut Vec::with_capacity(n), ur, o);
            }
        };
        if rows > 1 && w.len() >= PARALLEL_ABOVE {
            out.par_chunks_mut(m).enumerate().for_each(job);
        } else {
            out.chunks_mut(m).enumerate().for_each(job);
        }
    }
    let t = Tensor::from_vec(out, &out_shape);
    if probs.device() == Device::Cpu {
        Ok(t)
    } else {
        t.to_device_kernel(probs.device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sample_their_support() {
        let mut o = [0i64; 4];
        draw_row_with(&[0.0, 1.0, 0.0, 3.0], &mut Vec::new(), &[0.0, 0.2499, 0.25, 0.9999], &mut o);
        assert_eq!(o, [1, 1, 3, 3]);
        let mut o = [0i64; 3];
        draw_row_without(&[0.0, 2.0, 1.0], &mut Vec::new(), &[0.5, 0.5, 0.5], &mut o);
        assert_eq!(o, [1, 2, 0]);
    }
}
