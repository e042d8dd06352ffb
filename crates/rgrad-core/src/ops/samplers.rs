//! Samplers with rejection loops, as PyTorch's CPU kernels run them (ATen's Distributions.h):
//! Gamma by Marsaglia and Tsang (alpha < 1 boosted), Poisson by Hormann's transformed
//! rejection (PTRS) for rates >= 10 and products of uniforms below, Binomial by Hormann's
//! BTRS for mean >= 10 and geometric inversion below. One element after another from a
//! `Generator` (the default one unless given), so `manual_seed` reproduces a draw. No gradient (the reparameterised
//! Gamma gradient is `_standard_gamma_grad`, in the Python distributions).

use crate::bail;
use crate::error::Result;
use crate::random::{with_gen, Generator, Rng};
use crate::tensor::Tensor;
use crate::{DType, Device};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

fn uniform(r: &mut Rng) -> f64 {
    r.random::<f64>()
}

fn gamma_one(mut alpha: f64, r: &mut Rng) -> f64 {
    if alpha.is_nan() {
        return f64::NAN;
    }
    let mut scale = 1.0;
    if alpha < 1.0 {
        if alpha <= 0.0 {
            return 0.0;
        }
        // Gamma(a) = Gamma(a + 1) * U^(1/a): the boosted shape accepts far more often.
        scale = (1.0 - uniform(r)).powf(1.0 / alpha);
        alpha += 1.0;
    }
    let d = alpha - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let (x, y) = loop {
            let x: f64 = StandardNormal.sample(r);
            let y = 1.0 + c * x;
            if y > 0.0 {
                break (x, y);
            }
        };
        let v = y * y * y;
        let u = 1.0 - uniform(r);
        let xx = x * x;
        // The squeeze first (cheap), then the exact log test.
        if u < 1.0 - 0.0331 * xx * xx || u.ln() < 0.5 * xx + d * (1.0 - v + v.ln()) {
            return scale * d * v;
        }
    }
}

fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

fn poisson_one(lambda: f64, r: &mut Rng) -> f64 {
    if lambda.is_nan() {
        return f64::NAN;
    }
    if lambda >= 10.0 {
        let slam = lambda.sqrt();
        let loglam = lambda.ln();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.02483 * b;
        let invalpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = uniform(r) - 0.5;
            let v = uniform(r);
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + invalpha.ln() - (a / (us * us) + b).ln() <= -lambda + k * loglam - ln_gamma(k + 1.0) {
                return k;
            }
        }
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    // Count uniforms until their product drops below exp(-lambda).
    let enlam = (-lambda).exp();
    let (mut x, mut prod) = (0.0, 1.0);
    loop {
        prod *= uniform(r);
        if prod > enlam {
            x += 1.0;
        } else {
            return x;
        }
    }
}

/// log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi)/2]: tabulated below 10.
fn stirling_tail(k: f64) -> f64 {
    const TAIL: [f64; 10] = [
        0.081_061_466_795_327_2,
        0.041_340_695_955_409_2,
        0.027_677_925_684_998_3,
        0.020_790_672_103_765_09,
        0.016_644_691_189_821_1,
        0.013_876_128_823_070_7,
        0.011_896_709_945_891_7,
        0.010_411_265_261_972_0,
        0.009_255_462_182_712_73,
        0.008_330_563_433_362_87,
    ];
    if k <= 9.0 {
        return TAIL[k.max(0.0) as usize];
    }
    let kp1sq = (k + 1.0) * (k + 1.0);
    (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / 1260.0 / kp1sq) / kp1sq) / (k + 1.0)
}

fn btrs(n: f64, p: f64, r: &mut Rng) -> f64 {
    let spq = (n * p * (1.0 - p)).sqrt();
    let b = 1.15 + 2.53 * spq;
    let a = -0.0873 + 0.0248 * b + 0.01 * p;
    let c = n * p + 0.5;
    let v_r = 0.92 - 4.2 / b;
    let ratio = p / (1.0 - p);
    let alpha = (2.83 + 5.1 / b) * spq;
    let m = ((n + 1.0) * p).floor();
    loop {
        let u = uniform(r) - 0.5;
        let mut v = uniform(r);
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + c).floor();
        if k < 0.0 || k > n {
            continue;
        }
        if us >= 0.07 && v <= v_r {
            return k;
        }
        v = (v * alpha / (a / (us * us) + b)).ln();
        let bound = (m + 0.5) * ((m + 1.0) / (ratio * (n - m + 1.0))).ln()
            + (n + 1.0) * ((n - m + 1.0) / (n - k + 1.0)).ln()
            + (k + 0.5) * (ratio * (n - k + 1.0) / (k + 1.0)).ln()
            + stirling_tail(m)
            + stirling_tail(n - m)
            - stirling_tail(k)
            - stirling_tail(n - k);
        if v <= bound {
            return k;
        }
    }
}

/// Successes counted as the geometric waiting times that fit into `n` trials.
fn binomial_inversion(n: f64, p: f64, r: &mut Rng) -> f64 {
    let logq = (-p).ln_1p();
    let (mut sum, mut count) = (0.0, 0.0);
    loop {
        sum += (uniform(r).ln() / logq).ceil();
        if sum > n {
            return count;
        }
        count += 1.0;
    }
}

fn binomial_one(n: f64, p: f64, r: &mut Rng) -> f64 {
    if n.is_nan() || p.is_nan() {
        return f64::NAN;
    }
    if n <= 0.0 || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return n;
    }
    // Sample the rarer outcome: the algorithms assume p <= 1/2.
    let (q, flip) = if p <= 0.5 { (p, false) } else { (1.0 - p, true) };
    let k = if n * q >= 10.0 { btrs(n, q, r) } else { binomial_inversion(n, q, r) };
    if flip {
        n - k
    } else {
        k
    }
}

/// The elements of `t` as f64 in row-major order.
fn values(t: &Tensor) -> Result<Vec<f64>> {
    let t = if t.device() == Device::Cpu { t.detach() } else { t.detach().to_device(Device::Cpu)? };
    t.to_dtype(DType::F64)?.contiguous()?.try_to_vec::<f64>()
}

/// A tensor of `like`'s shape, dtype and device from `v`.
fn shaped(v: Vec<f64>, like: &Tensor) -> Result<Tensor> {
    let out = Tensor::from_vec(v, like.shape()).to_dtype(like.dtype())?;
    if like.device() == Device::Cpu {
        Ok(out)
    } else {
        out.to_device(like.device())
    }
}

fn check_float(t: &Tensor, op: &str) -> Result<()> {
    if !t.dtype().is_float() {
        bail!(
            NotImplemented,
            "\"{op}\" not implemented for '{}'",
            super::linalg_factor::type_name(t.dtype())
        );
    }
    Ok(())
}

/// `_standard_gamma(alpha)`: Gamma(alpha, 1) samples, at least the dtype's smallest normal
/// number (as PyTorch clamps them).
pub fn standard_gamma(alpha: &Tensor) -> Result<Tensor> {
    standard_gamma_gen(None, alpha)
}

/// `_standard_gamma(alpha, generator=gen)`.
pub fn standard_gamma_gen(gen: Option<&Generator>, alpha: &Tensor) -> Result<Tensor> {
    check_float(alpha, "gamma_cpu")?;
    let a = values(alpha)?;
    let tiny = if alpha.dtype() == DType::F32 { f64::from(f32::MIN_POSITIVE) } else { f64::MIN_POSITIVE };
    let out = with_gen(gen, |r| a.iter().map(|&x| gamma_one(x, r).max(tiny)).collect::<Vec<_>>());
    shaped(out, alpha)
}

/// `poisson(rate)`: counts as floats of rate's dtype.
pub fn poisson(rate: &Tensor) -> Result<Tensor> {
    poisson_gen(None, rate)
}

/// `poisson(rate, generator=gen)`.
pub fn poisson_gen(gen: Option<&Generator>, rate: &Tensor) -> Result<Tensor> {
    check_float(rate, "poisson_cpu")?;
    let l = values(rate)?;
    if l.iter().any(|&x| x < 0.0 || x.is_nan()) {
        bail!(Runtime, "invalid Poisson rate, expected rate to be non-negative");
    }
    let out = with_gen(gen, |r| l.iter().map(|&x| poisson_one(x, r)).collect::<Vec<_>>());
    shaped(out, rate)
}

/// `binomial(count, prob)`: successes in `count` trials, count and prob of one shape.
pub fn binomial(count: &Tensor, prob: &Tensor) -> Result<Tensor> {
    binomial_gen(None, count, prob)
}

/// `binomial(count, prob, generator=gen)`.
pub fn binomial_gen(gen: Option<&Generator>, count: &Tensor, prob: &Tensor) -> Result<Tensor> {
    check_float(count, "binomial_cpu")?;
    if count.shape() != prob.shape() {
        bail!(
            Runtime,
            "binomial: count and prob must have the same shape, got {:?} and {:?}",
            count.shape(),
            prob.shape()
        );
    }
    let (n, p) = (values(count)?, values(prob)?);
    let out = with_gen(gen, |r| n.iter().zip(&p).map(|(&n, &p)| binomial_one(n, p, r)).collect::<Vec<_>>());
    shaped(out, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn mean_var(xs: &[f64]) -> (f64, f64) {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        (m, xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64)
    }

    #[test]
    fn moments_match() {
        let mut r = Rng::seed_from_u64(7);
        let n = 40_000;
        for &a in &[0.3, 1.0, 4.5] {
            let xs: Vec<f64> = (0..n).map(|_| gamma_one(a, &mut r)).collect();
            let (m, v) = mean_var(&xs);
            assert!((m - a).abs() < 0.05 * a.max(1.0), "gamma mean {m} vs {a}");
            assert!((v - a).abs() < 0.1 * a.max(1.0), "gamma var {v} vs {a}");
        }
        for &l in &[0.5, 3.0, 25.0, 400.0] {
            let xs: Vec<f64> = (0..n).map(|_| poisson_one(l, &mut r)).collect();
            let (m, v) = mean_var(&xs);
            assert!((m - l).abs() < 0.03 * l.max(1.0), "poisson mean {m} vs {l}");
            assert!((v - l).abs() < 0.1 * l.max(1.0), "poisson var {v} vs {l}");
        }
        for &(c, p) in &[(10.0, 0.3), (100.0, 0.4), (1000.0, 0.9), (50.0, 0.02)] {
            let xs: Vec<f64> = (0..n).map(|_| binomial_one(c, p, &mut r)).collect();
            let (m, v) = mean_var(&xs);
            let (em, ev) = (c * p, c * p * (1.0 - p));
            assert!((m - em).abs() < 0.03 * em.max(1.0), "binomial mean {m} vs {em}");
            assert!((v - ev).abs() < 0.1 * ev.max(1.0), "binomial var {v} vs {ev}");
            assert!(xs.iter().all(|&x| (0.0..=c).contains(&x)));
        }
    }
}
