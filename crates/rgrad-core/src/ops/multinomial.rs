//! `multinomial(probs, num_samples, replacement)`: category indices drawn from each row of
//! non-negative weights, with float64 uniforms from the global generator (so `manual_seed`
//! reproduces a draw) or from the caller (a Python `Generator` object). With replacement by
//! inverting each row's cumulative sums; without, by the exponential race: category i
//! arrives at `E_i / w_i` (`E_i = -log1p(-u_i)`), and the first `num_samples` arrivals are
//! the sample (a zero weight never arrives before a positive one). wgpu tensors are sampled
//! on the device by the same steps (gpu/sampling.rs), from the same uniforms.

use crate::bail;
use crate::error::Result;
use crate::random::{with_gen, Generator};
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{with_dtype, DType, Device};
use rand::RngExt;
use rayon::prelude::*;

/// Weights below this many in total are sampled on one thread.
const PARALLEL_ABOVE: usize = 1 << 15;

/// Weights per block of a row: the blocks' sums (in any order, so they vectorize) place each
/// target in a block, and only that block is walked.
pub(crate) const BLOCK: usize = 1024;

/// With replacement: the samples of one row in increasing order of their uniforms. A target
/// `u * total` falls in the block whose running sum first exceeds it, and there on the first
/// category whose cumulative weight exceeds it (carried on while the next target stays in
/// the block). `prefix` holds the running sums at the block starts and the total last.
fn draw_row_with<T: Element>(w: &[T], prefix: &[f64], u: &[f64], out: &mut [i64]) {
    let nb = prefix.len() - 1;
    let total = prefix[nb];
    let mut order: Vec<usize> = (0..u.len()).collect();
    if u.len() > 1 {
        order.sort_unstable_by(|&a, &b| u[a].total_cmp(&u[b]));
    }
    let (mut j, mut i, mut acc) = (0usize, 0usize, 0.0f64);
    for k in order {
        let target = u[k] * total;
        if j + 1 < nb && prefix[j + 1] <= target {
            while j + 1 < nb && prefix[j + 1] <= target {
                j += 1;
            }
            (i, acc) = (j * BLOCK, prefix[j]);
        }
        let end = ((j + 1) * BLOCK).min(w.len());
        while i + 1 < end && acc + w[i].to_f64() <= target {
            acc += w[i].to_f64();
            i += 1;
        }
        // Rounding can leave the walk on a block's last, zero-weight category: the sample is
        // then the nearest positive weight before it (there is one: the block was reached).
        let mut pick = i;
        while pick > 0 && w[pick].to_f64() <= 0.0 {
            pick -= 1;
        }
        out[k] = pick as i64;
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

/// The sum of a block of weights and whether they are all finite and non-negative.
fn block_sum<T: Element>(b: &[T]) -> (f64, bool) {
    let mut acc = [0.0f64; 8];
    let mut ok = true;
    let chunks = b.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            let v = c[k].to_f64();
            ok &= (0.0..=f64::MAX).contains(&v);
            acc[k] += v;
        }
    }
    let mut s: f64 = acc.iter().sum();
    for &x in rest {
        let v = x.to_f64();
        ok &= (0.0..=f64::MAX).contains(&v);
        s += v;
    }
    (s, ok)
}

/// Each row's running sums at its block starts, the total last; or the error for a
/// negative, NaN or infinite weight or a row that sums to zero.
fn row_prefixes<T: Element>(w: &[T], n: usize) -> Result<Vec<Vec<f64>>> {
    let row = |r: &[T]| {
        let mut prefix = Vec::with_capacity(r.len().div_ceil(BLOCK) + 1);
        let (mut acc, mut ok) = (0.0f64, true);
        prefix.push(0.0);
        for b in r.chunks(BLOCK) {
            let (s, good) = block_sum(b);
            ok &= good;
            acc += s;
            prefix.push(acc);
        }
        (prefix, ok)
    };
    let rows: Vec<(Vec<f64>, bool)> = if w.len() >= PARALLEL_ABOVE {
        w.par_chunks(n).map(row).collect()
    } else {
        w.chunks(n).map(row).collect()
    };
    if rows.iter().any(|(_, ok)| !ok) {
        bail!(Runtime, "probability tensor contains either `inf`, `nan` or element < 0");
    }
    if rows.iter().any(|(p, _)| p.last().is_none_or(|&t| t <= 0.0)) {
        bail!(Runtime, "invalid multinomial distribution (sum of probabilities <= 0)");
    }
    Ok(rows.into_iter().map(|(p, _)| p).collect())
}

/// The `rows x per_row` float64 uniforms of one call, row by row: `uniforms`' values (read
/// to the host), or the next ones of `gen`'s stream (the default generator's when `None`).
pub(crate) fn uniforms_of(
    uniforms: Option<&Tensor>,
    gen: Option<&Generator>,
    rows: usize,
    per_row: usize,
) -> Result<Vec<f64>> {
    let count = crate::shape::storage_numel(&[rows, per_row], 8)?;
    Ok(match uniforms {
        Some(t) => {
            let v = t.detach().to_cpu()?.to_dtype(DType::F64)?.contiguous()?.try_to_vec::<f64>()?;
            if v.len() != count {
                bail!(Runtime, "multinomial: expected {} uniforms, got {}", count, v.len());
            }
            v
        }
        None => {
            let mut v = crate::storage::try_vec_with_capacity::<f64>(count)?;
            with_gen(gen, |r| v.extend((0..count).map(|_| r.random::<f64>())));
            v
        }
    })
}

fn sample<T: Element>(
    w: &[T],
    n: usize,
    m: usize,
    replacement: bool,
    uniforms: Option<&Tensor>,
    gen: Option<&Generator>,
) -> Result<Vec<i64>> {
    let rows = w.len() / n;
    let prefixes = row_prefixes(w, n)?;
    let per_row = if replacement { m } else { n };
    let u = uniforms_of(uniforms, gen, rows, per_row)?;
    let mut out = crate::storage::try_vec_with_capacity::<i64>(rows * m)?;
    out.resize(rows * m, 0);
    let job = |(i, o): (usize, &mut [i64])| {
        let wr = &w[i * n..(i + 1) * n];
        let ur = &u[i * per_row..(i + 1) * per_row];
        if replacement {
            draw_row_with(wr, &prefixes[i], ur, o);
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
    multinomial_gen(probs, num_samples, replacement, uniforms, None)
}

/// `multinomial(..., generator=gen)`: the uniforms drawn from `gen` (the default generator
/// when `None`) unless given.
pub fn multinomial_gen(
    probs: &Tensor,
    num_samples: i64,
    replacement: bool,
    uniforms: Option<&Tensor>,
    gen: Option<&Generator>,
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
    #[cfg(feature = "wgpu")]
    if probs.is_gpu() {
        let dims: Vec<i64> = out_shape.iter().map(|&d| d as i64).collect();
        if let Some(out) =
            crate::gpu::sampling::multinomial(&probs.detach(), rows, n, m, replacement, uniforms, gen)?
        {
            return out.reshape(&dims);
        }
    }
    // The host sampler (and, for sizes past the device kernels' u32 arithmetic, device
    // tensors read back: gpu/sampling.rs returns None for those).
    let t = probs.detach().to_cpu()?.contiguous()?;
    let off = t.layout().offset;
    let out = with_dtype!(t.dtype(), T => sample(&t.storage_slice::<T>()[off..off + t.numel()], n, m, replacement, uniforms, gen)?);
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
        draw_row_with(&[0.0f64, 1.0, 0.0, 3.0], &[0.0, 4.0], &[0.9999, 0.0, 0.25, 0.2499], &mut o);
        assert_eq!(o, [3, 1, 3, 1]);
        // several blocks, a zero-weight tail, and a target at the very top of the total
        let mut w = vec![0.0f32; 3 * BLOCK + 5];
        w[7] = 1.0;
        w[BLOCK + 3] = 2.0;
        w[2 * BLOCK + 1] = 1.0;
        let p = row_prefixes(&w, w.len()).unwrap().remove(0);
        let mut o = [0i64; 5];
        draw_row_with(&w, &p, &[0.1, 0.3, 0.6, 0.9, 1.0 - f64::EPSILON / 2.0], &mut o);
        assert_eq!(o, [7, BLOCK as i64 + 3, BLOCK as i64 + 3, 2 * BLOCK as i64 + 1, 2 * BLOCK as i64 + 1]);
        assert!(row_prefixes(&[1.0f64, f64::INFINITY], 2).is_err());
        assert!(row_prefixes(&[1.0f64, 0.0, 0.0, 0.0], 2).is_err());
        let mut o = [0i64; 3];
        draw_row_without(&[0.0f32, 2.0, 1.0], &[0.5, 0.5, 0.5], &mut o);
        assert_eq!(o, [1, 2, 0]);
    }
}
