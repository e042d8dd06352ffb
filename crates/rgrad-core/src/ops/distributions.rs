//! Samples of one distribution per element, for the in-place samplers (`exponential_`,
//! `geometric_`, `log_normal_`, `cauchy_`, `bernoulli_` with a number): one uniform (or one
//! standard normal) per element in row-major order from a `Generator`, float64 draws for a
//! float64 tensor and float32 draws otherwise (the draws `rand` / `randn` of that dtype make,
//! so a tensor sampled in chunks continues one stream), transformed in float64 and cast to the
//! dtype. The caller checks the parameters (PyTorch's messages).

use super::factory::drawn;
use crate::error::Result;
use crate::random::{Generator, Rng};
use crate::tensor::Tensor;
use crate::DType;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// A distribution and its parameters.
#[derive(Clone, Copy, Debug)]
pub enum Dist {
    /// `Exp(lambd)`: `-log1p(-u) / lambd`.
    Exponential { lambd: f64 },
    /// Trials to the first success: `ceil(log1p(-u) / log1p(-p))`, at least 1.
    Geometric { p: f64 },
    /// `exp(mean + std * z)`.
    LogNormal { mean: f64, std: f64 },
    /// `median + sigma * tan(pi * (u - 1/2))`.
    Cauchy { median: f64, sigma: f64 },
    /// 1 with probability `p`: `u < p`.
    Bernoulli { p: f64 },
}

impl Dist {
    fn transform(self, u: f64) -> f64 {
        match self {
            Dist::Exponential { lambd } => -(-u).ln_1p() / lambd,
            Dist::Geometric { p } => ((-u).ln_1p() / (-p).ln_1p()).ceil().max(1.0),
            Dist::Cauchy { median, sigma } => median + sigma * (std::f64::consts::PI * (u - 0.5)).tan(),
            Dist::Bernoulli { p } => f64::from(u8::from(u < p)),
            Dist::LogNormal { mean, std } => (mean + std * u).exp(),
        }
    }

    fn normal_based(self) -> bool {
        matches!(self, Dist::LogNormal { .. })
    }
}

/// A tensor of `shape` and `dtype` sampled from `dist` (see the module docs).
pub fn sample(gen: Option<&Generator>, dist: Dist, shape: &[usize], dtype: DType) -> Result<Tensor> {
    let wide = dtype == DType::F64;
    let draw = move |r: &mut Rng| -> f64 {
        let x = match (dist.normal_based(), wide) {
            (false, true) => r.random::<f64>(),
            (false, false) => f64::from(r.random::<f32>()),
            (true, true) => StandardNormal.sample(r),
            (true, false) => f64::from(Distribution::<f32>::sample(&StandardNormal, r)),
        };
        dist.transform(x)
    };
    let t = drawn(gen, shape, draw)?;
    if dtype == DType::F64 {
        Ok(t)
    } else {
        t.cast_kernel(dtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_continue_and_moments_hold() {
        let whole = sample(Some(&Generator::new(3)), Dist::Exponential { lambd: 2.0 }, &[10], DType::F32);
        let g = Generator::new(3);
        let a = sample(Some(&g), Dist::Exponential { lambd: 2.0 }, &[4], DType::F32).unwrap();
        let b = sample(Some(&g), Dist::Exponential { lambd: 2.0 }, &[6], DType::F32).unwrap();
        let mut v = a.try_to_vec::<f32>().unwrap();
        v.extend(b.try_to_vec::<f32>().unwrap());
        assert_eq!(whole.unwrap().try_to_vec::<f32>().unwrap(), v);
        let n = 20_000;
        let g = sample(Some(&Generator::new(4)), Dist::Geometric { p: 0.25 }, &[n], DType::I64).unwrap();
        let g = g.try_to_vec::<i64>().unwrap();
        let mean = g.iter().sum::<i64>() as f64 / n as f64;
        assert!(g.iter().all(|&k| k >= 1) && (mean - 4.0).abs() < 0.15, "{mean}");
    }
}
