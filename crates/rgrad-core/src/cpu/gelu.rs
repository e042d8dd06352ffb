//! float32 `erf` and the `gelu` kernels, forward and backward, in the exact form
//! `x/2 (1 + erf(x/sqrt2))` and the tanh form; written branch-free so they vectorize as the
//! kernels of math.rs do (same run-time dispatch to AVX2/AVX-512 clones with FMA). The float64
//! kernels use libm's erf and std's tanh, one pass over the data, split over the thread pool.
//!
//! The float32 erf is Norbert Juffa's faithfully rounded erff (Stack Overflow question
//! 35148198): `x + x p(x^2)` for |x| <= 475/512, `1 - exp(q(|x|))` beyond, both computed and one
//! selected. gelu keeps PyTorch's formulas (`x * 0.5 * (1 + erf(x * sqrt(1/2)))`, the same
//! rounding of `1 + erf` where it cancels for negative x), so results match PyTorch's to a few
//! ulp of `x/2`.

use super::math::{exp_core, madd, Kernel, Tanh, LO};
use super::PAR_THRESHOLD;
use crate::error::Result;
use crate::storage::try_vec_with_capacity;
use rayon::prelude::*;
use std::mem::MaybeUninit;

const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2 pi), the normal density's factor.
const INV_SQRT_2PI: f32 = 0.398_942_3;
/// sqrt(2 / pi) and the cubic's coefficient of the tanh form.
const BETA: f32 = 0.797_884_6;
const KAPPA: f32 = 0.044_715;

/// erf(x) (< 1 ulp with FMA, about 2 without); NaN passes through the small side, and +-inf
/// give +-1 (the large side's polynomial goes to -inf and the exp is clamped to ~0).
#[inline(always)]
fn erf_core<const FMA: bool>(x: f32) -> f32 {
    let t = x.abs();
    let s = x * x;
    let mut r = madd::<FMA>(-1.728_534_7e-5, t, 3.831_971_3e-4);
    let u = madd::<FMA>(-3.883_964_4e-3, t, 2.425_462_2e-2);
    r = madd::<FMA>(r, s, u);
    for c in [-1.067_778_8e-1, -6.348_467e-1, -1.287_175_1e-1] {
        r = madd::<FMA>(r, t, c);
    }
    r = madd::<FMA>(r, t, -t);
    let big = (1.0 - exp_core::<FMA>(r)).copysign(x);
    let mut p = -5.967_617e-4;
    for c in [4.991_194_2e-3, -2.676_813_5e-2, 1.128_199_25e-1, -3.761_253_4e-1, 1.283_791_7e-1] {
        p = madd::<FMA>(p, s, c);
    }
    let small = madd::<FMA>(p, x, x);
    if t > 475.0 / 512.0 {
        big
    } else {
        small
    }
}

/// exp(x) for x <= 0 (or NaN): 0 below exp's range, NaN kept; selects, no fix-up pass.
#[inline(always)]
fn exp_nonpositive<const FMA: bool>(x: f32) -> f32 {
    let y = exp_core::<FMA>(x);
    let y = if x < LO { 0.0 } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

#[derive(Clone, Copy)]
struct Erf;
impl Kernel for Erf {
    #[inline(always)]
    fn at<const FMA: bool>(x: f32) -> f32 {
        erf_core::<FMA>(x)
    }
}

#[derive(Clone, Copy)]
struct Gelu;
impl Kernel for Gelu {
    #[inline(always)]
    fn at<const FMA: bool>(x: f32) -> f32 {
        x * 0.5 * (1.0 + erf_core::<FMA>(x * SQRT_HALF))
    }
}

#[derive(Clone, Copy)]
struct GeluTanh;
impl Kernel for GeluTanh {
    #[inline(always)]
    fn at<const FMA: bool>(x: f32) -> f32 {
        let inner = BETA * (x + KAPPA * (x * x * x));
        0.5 * x * (1.0 + Tanh::at::<FMA>(inner))
    }
}

/// A float32 map of two inputs (the output gradient and the input), branch-free.
trait Kernel2: Copy + Send + Sync {
    fn at<const FMA: bool>(g: f32, x: f32) -> f32;
}

/// `g * gelu'(x)`: `cdf(x) + x pdf(x)`, as PyTorch writes it.
#[derive(Clone, Copy)]
struct GeluGrad;
impl Kernel2 for GeluGrad {
    #[inline(always)]
    fn at<const FMA: bool>(g: f32, x: f32) -> f32 {
        let cdf = 0.5 * (1.0 + erf_core::<FMA>(x * SQRT_HALF));
        let pdf = INV_SQRT_2PI * exp_nonpositive::<FMA>(-0.5 * (x * x));
        g * (cdf + x * pdf)
    }
}

/// `g` times the derivative of the tanh form, as PyTorch writes it.
#[derive(Clone, Copy)]
struct GeluTanhGrad;
impl Kernel2 for GeluTanhGrad {
    #[inline(always)]
    fn at<const FMA: bool>(g: f32, x: f32) -> f32 {
        let x2 = x * x;
        let th = Tanh::at::<FMA>(BETA * (x + KAPPA * (x2 * x)));
        let left = 0.5 * x;
        let right = 1.0 + th;
        let dright = left * (1.0 - th * th) * (BETA * (1.0 + 3.0 * KAPPA * x2));
        g * (0.5 * right + dright)
    }
}

#[inline(always)]
fn run2<K: Kernel2, const FMA: bool>(gs: &[f32], xs: &[f32], out: &mut [MaybeUninit<f32>]) {
    for ((o, &g), &x) in out.iter_mut().zip(gs).zip(xs) {
        o.write(K::at::<FMA>(g, x));
    }
}

/// [`run2`] compiled for the widest vector unit the CPU has (as math.rs's `dispatch`).
#[inline(always)]
fn dispatch2<K: Kernel2>(gs: &[f32], xs: &[f32], out: &mut [MaybeUninit<f32>]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,fma")]
        fn wide<K: Kernel2>(gs: &[f32], xs: &[f32], out: &mut [MaybeUninit<f32>]) {
            run2::<K, true>(gs, xs, out)
        }
        #[target_feature(enable = "avx2,fma")]
        fn mid<K: Kernel2>(gs: &[f32], xs: &[f32], out: &mut [MaybeUninit<f32>]) {
            run2::<K, true>(gs, xs, out)
        }
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features the function was compiled for.
            return unsafe { wide::<K>(gs, xs, out) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { mid::<K>(gs, xs, out) };
        }
    }
    run2::<K, false>(gs, xs, out)
}

/// Transcendental maps pay for the thread pool well below the generic threshold.
const PAR_MATH: usize = PAR_THRESHOLD / 8;
const CHUNK: usize = 1 << 13;

fn zip_slice<K: Kernel2>(gs: &[f32], xs: &[f32]) -> Result<Vec<f32>> {
    let n = xs.len();
    debug_assert_eq!(gs.len(), n);
    let mut out = try_vec_with_capacity::<f32>(n)?;
    let spare = &mut out.spare_capacity_mut()[..n];
    if n < PAR_MATH {
        dispatch2::<K>(gs, xs, spare);
    } else {
        spare
            .par_chunks_mut(CHUNK)
            .zip(gs.par_chunks(CHUNK).zip(xs.par_chunks(CHUNK)))
            .for_each(|(o, (g, x))| dispatch2::<K>(g, x, o));
    }
    // SAFETY: every element below `n` was written by the kernel.
    unsafe { out.set_len(n) };
    Ok(out)
}

/// `erf` over a slice (split over the thread pool when large).
pub fn erf_f32(xs: &[f32]) -> Result<Vec<f32>> {
    super::math::map_slice_at::<Erf>(xs, PAR_MATH)
}

/// gelu over a slice; `tanh` picks the tanh form.
pub fn gelu_f32(xs: &[f32], tanh: bool) -> Result<Vec<f32>> {
    if tanh {
        super::math::map_slice_at::<GeluTanh>(xs, PAR_MATH)
    } else {
        super::math::map_slice_at::<Gelu>(xs, PAR_MATH)
    }
}

/// `g * gelu'(x)` over two slices of one length.
pub fn gelu_backward_f32(gs: &[f32], xs: &[f32], tanh: bool) -> Result<Vec<f32>> {
    if tanh {
        zip_slice::<GeluTanhGrad>(gs, xs)
    } else {
        zip_slice::<GeluGrad>(gs, xs)
    }
}

fn par_map_f64(xs: &[f64], f: impl Fn(f64) -> f64 + Sync) -> Result<Vec<f64>> {
    let mut out = try_vec_with_capacity(xs.len())?;
    if xs.len() >= PAR_MATH {
        xs.par_iter().with_min_len(CHUNK).map(|&x| f(x)).collect_into_vec(&mut out);
    } else {
        out.extend(xs.iter().map(|&x| f(x)));
    }
    Ok(out)
}

fn par_zip_f64(gs: &[f64], xs: &[f64], f: impl Fn(f64, f64) -> f64 + Sync) -> Result<Vec<f64>> {
    let mut out = try_vec_with_capacity(xs.len())?;
    if xs.len() >= PAR_MATH {
        gs.par_iter().zip(xs).with_min_len(CHUNK).map(|(&g, &x)| f(g, x)).collect_into_vec(&mut out);
    } else {
        out.extend(gs.iter().zip(xs).map(|(&g, &x)| f(g, x)));
    }
    Ok(out)
}

const SQRT_HALF_64: f64 = std::f64::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI_64: f64 = 0.398_942_280_401_432_7;
const BETA_64: f64 = 0.797_884_560_802_865_4;
const KAPPA_64: f64 = 0.044_715;

/// float64 erf (libm, accurate to an ulp), over the thread pool when large.
pub fn erf_f64(xs: &[f64]) -> Result<Vec<f64>> {
    par_map_f64(xs, libm::erf)
}

/// float64 gelu, PyTorch's formulas.
pub fn gelu_f64(xs: &[f64], tanh: bool) -> Result<Vec<f64>> {
    if tanh {
        par_map_f64(xs, |x| 0.5 * x * (1.0 + (BETA_64 * (x + KAPPA_64 * (x * x * x))).tanh()))
    } else {
        par_map_f64(xs, |x| x * 0.5 * (1.0 + libm::erf(x * SQRT_HALF_64)))
    }
}

/// float64 `g * gelu'(x)`.
pub fn gelu_backward_f64(gs: &[f64], xs: &[f64], tanh: bool) -> Result<Vec<f64>> {
    if tanh {
        par_zip_f64(gs, xs, |g, x| {
            let x2 = x * x;
            let th = (BETA_64 * (x + KAPPA_64 * (x2 * x))).tanh();
            let dright = 0.5 * x * (1.0 - th * th) * (BETA_64 * (1.0 + 3.0 * KAPPA_64 * x2));
            g * (0.5 * (1.0 + th) + dright)
        })
    } else {
        par_zip_f64(gs, xs, |g, x| {
            let cdf = 0.5 * (1.0 + libm::erf(x * SQRT_HALF_64));
            g * (cdf + x * INV_SQRT_2PI_64 * (-0.5 * (x * x)).exp())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> i64 {
        (a.to_bits() as i32 as i64 - b.to_bits() as i32 as i64).abs()
    }

    #[test]
    fn erf_is_within_two_ulp_of_libm() {
        let mut xs: Vec<f32> = (-40000..=40000).map(|i| i as f32 * 1.7e-4).collect();
        xs.extend((-40..=40).map(|i| i as f32 * 0.25));
        xs.extend([1e-30, -1e-30, 1e-40, 0.927_734_4, 0.927_734_3, 3.9, 4.0, 1e30, -1e30]);
        for (&x, &y) in xs.iter().zip(&erf_f32(&xs).unwrap()) {
            let want = libm::erf(x as f64) as f32;
            assert!(ulps(y, want) <= 2, "erf({x}) = {y}, libm {want}");
        }
        let edge = erf_f32(&[f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -0.0]).unwrap();
        assert_eq!(&edge[..2], &[1.0, -1.0]);
        assert!(edge[2].is_nan());
        assert!(edge[3] == 0.0 && edge[3].is_sign_negative());
    }

    #[test]
    fn gelu_forms_match_the_float64_kernels() {
        let xs: Vec<f32> = (-30000..=30000).map(|i| i as f32 * 4.1e-4).collect();
        let xd: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
        let gs: Vec<f32> = xs.iter().map(|&x| 1.0 - 0.1 * x).collect();
        let gd: Vec<f64> = gs.iter().map(|&g| g as f64).collect();
        for tanh in [false, true] {
            let (y, yd) = (gelu_f32(&xs, tanh).unwrap(), gelu_f64(&xd, tanh).unwrap());
            let (d, dd) =
                (gelu_backward_f32(&gs, &xs, tanh).unwrap(), gelu_backward_f64(&gd, &xd, tanh).unwrap());
            for i in 0..xs.len() {
                // `1 + erf` (or `1 + tanh`) is rounded once, so allow a few ulp of |x|/2.
                let tol = 4.0 * f32::EPSILON as f64 * (1.0 + xd[i].abs());
                assert!((y[i] as f64 - yd[i]).abs() <= tol, "gelu({}) = {}, f64 {}", xs[i], y[i], yd[i]);
                assert!(
                    (d[i] as f64 - dd[i]).abs() <= 4.0 * tol,
                    "gelu'({}) = {}, f64 {}",
                    xs[i],
                    d[i],
                    dd[i]
                );
            }
        }
        let far = gelu_backward_f32(&[1.0; 3], &[-1e30, 1e30, -20.0], false).unwrap();
        assert_eq!(far, [0.0, 1.0, 0.0]);
    }
}
