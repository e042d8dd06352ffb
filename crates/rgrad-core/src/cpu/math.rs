//! Vectorizable float32 `exp` (the elementwise ops' hot spot): Cephes' range reduction and
//! polynomial, written branch-free so the compiler emits SIMD code even for baseline SSE2.
//! Inputs outside the polynomial's range (overflow, deep underflow, NaN) are recomputed with
//! the standard `exp`, so results match it to about 1 ulp everywhere.

use rayon::prelude::*;

const LO: f32 = -87.0;
const HI: f32 = 88.0;

/// exp(x) for x in [LO, HI] (other inputs give finite garbage; see [`exp_f32`]).
#[inline(always)]
fn exp_core(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding and subtracting rounds to an integer
                                     // max/min, not clamp: NaN must pass through (it is fixed up later) rather than panic.
    #[allow(clippy::manual_clamp)]
    let x = x.max(LO).min(HI);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * C1 - n * C2;
    let z = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = p * z + r + 1.0;
    // SAFETY: `n` is an integer in [-126, 127] (x was clamped, and clamping maps NaN to LO).
    // `as i32` would saturate, which compiles to one scalar conversion per lane.
    let n: i32 = unsafe { n.to_int_unchecked() };
    let scale = f32::from_bits(((n + 127) << 23) as u32);
    y * scale
}

/// `f` over `xs` into `out`, compiled for the widest vector unit the CPU has: the wheel
/// targets baseline x86-64 (SSE2, 4 lanes), and the polynomial kernels here run 2-4x faster
/// with AVX2 / AVX-512 (checked once at run time; the check is cached).
/// Generic over `f` (a fn item), so each kernel is inlined into each wide clone.
#[inline(always)]
fn dispatch<F: Fn(f32) -> f32 + Copy>(xs: &[f32], out: &mut [f32], f: F) {
    #[inline(always)]
    fn base<F: Fn(f32) -> f32>(xs: &[f32], out: &mut [f32], f: F) {
        for (o, &x) in out.iter_mut().zip(xs) {
            *o = f(x);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn wide<F: Fn(f32) -> f32>(xs: &[f32], out: &mut [f32], f: F) {
            base(xs, out, f)
        }
        #[target_feature(enable = "avx2,fma")]
        fn mid<F: Fn(f32) -> f32>(xs: &[f32], out: &mut [f32], f: F) {
            base(xs, out, f)
        }
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function was compiled for.
            return unsafe { wide(xs, out, f) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { mid(xs, out, f) };
        }
    }
    base(xs, out, f)
}

/// As [`dispatch`], in place.
#[inline(always)]
fn dispatch_inplace<F: Fn(f32) -> f32 + Copy>(v: &mut [f32], f: F) {
    #[inline(always)]
    fn base<F: Fn(f32) -> f32>(v: &mut [f32], f: F) {
        for x in v.iter_mut() {
            *x = f(*x);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn wide<F: Fn(f32) -> f32>(v: &mut [f32], f: F) {
            base(v, f)
        }
        #[target_feature(enable = "avx2,fma")]
        fn mid<F: Fn(f32) -> f32>(v: &mut [f32], f: F) {
            base(v, f)
        }
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function was compiled for.
            return unsafe { wide(v, f) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { mid(v, f) };
        }
    }
    base(v, f)
}

/// `f` over a slice into a new vector, split over the thread pool when large.
fn map_slice<F: Fn(f32) -> f32 + Copy + Sync>(xs: &[f32], f: F) -> Vec<f32> {
    let mut out = vec![0.0f32; xs.len()];
    if xs.len() < super::PAR_THRESHOLD {
        dispatch(xs, &mut out, f);
    } else {
        const CHUNK: usize = 1 << 14;
        out.par_chunks_mut(CHUNK).zip(xs.par_chunks(CHUNK)).for_each(|(o, x)| dispatch(x, o, f));
    }
    out
}

/// `exp` over a slice into a new vector (split over the thread pool when large).
pub fn exp_f32(xs: &[f32]) -> Vec<f32> {
    let mut out = map_slice(xs, exp_core);
    fix_range(xs, &mut out);
    out
}

/// `exp` of `xs` into `out` (same length), on the calling thread: for the short rows of the
/// fused losses, where a new vector per row would cost more than the math.
pub fn exp_f32_into(xs: &[f32], out: &mut [f32]) {
    dispatch(xs, out, exp_core);
    fix_range(xs, out);
}

#[inline(always)]
fn sigmoid_core(x: f32) -> f32 {
    1.0 / (1.0 + exp_core(-x))
}

/// `1 / (1 + exp(-x))` over a slice.
pub fn sigmoid_f32(xs: &[f32]) -> Vec<f32> {
    let mut out = map_slice(xs, sigmoid_core);
    for (o, &x) in out.iter_mut().zip(xs) {
        if !(-HI..=-LO).contains(&x) {
            *o = 1.0 / (1.0 + (-x).exp());
        }
    }
    out
}

/// tanh(x) (Cephes' tanhf): an odd polynomial for |x| < 0.625, where `1 - 2 / (e^2|x| + 1)`
/// would cancel, and that form (from the fast exp) elsewhere; both computed, one kept, so the
/// loop stays branch-free. NaN passes through the polynomial side.
#[inline(always)]
fn tanh_core(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    // x (1 + ...) rather than x + x (...): keeps the sign of -0.
    let poly = x
        * (((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
            - 3.333_328e-1)
            * z
            + 1.0);
    // |x| >= 10 gives 1 to float32 precision; the clamp keeps exp's argument in range.
    let big = 1.0 - 2.0 / (exp_core(2.0 * a.min(10.0)) + 1.0);
    let big = if x < 0.0 { -big } else { big };
    if a < 0.625 || x.is_nan() {
        poly
    } else {
        big
    }
}

/// `tanh` over a slice into a new vector.
pub fn tanh_f32(xs: &[f32]) -> Vec<f32> {
    map_slice(xs, tanh_core)
}

/// `tanh` of `xs` into `out` (same length), on the calling thread: for the per-step gate
/// blocks of the recurrences (cpu/rnn.rs).
pub fn tanh_f32_into(xs: &[f32], out: &mut [f32]) {
    dispatch(xs, out, tanh_core)
}

/// `tanh` of `v` in place, on the calling thread (the recurrences' gate blocks).
pub fn tanh_f32_inplace(v: &mut [f32]) {
    dispatch_inplace(v, tanh_core)
}

/// The logistic sigmoid of `v` in place as `1/2 + tanh(x/2)/2`: one fast tanh, no division,
/// and exactly 0 or 1 far out (the recurrences' gate blocks).
pub fn sigmoid_f32_inplace(v: &mut [f32]) {
    dispatch_inplace(v, |x| 0.5 + 0.5 * tanh_core(0.5 * x))
}

/// ln(x) for normal positive finite x (Cephes' logf: x = m 2^e with m in [sqrt(1/2), sqrt(2)),
/// a polynomial in m - 1); other inputs are fixed up by [`log_f32`].
#[inline(always)]
fn log_core(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    let m = f32::from_bits((bits & 0x807f_ffff) | 0x3f00_0000); // in [0.5, 1)
    let small = m < SQRT_HALF;
    e -= small as i32;
    let m = if small { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let p = ((((((((7.037_683_6e-2 * m - 1.151_461e-1) * m + 1.167_699_9e-1) * m - 1.242_014_1e-1) * m
        + 1.424_932_3e-1)
        * m
        - 1.666_805_8e-1)
        * m
        + 2.000_071_5e-1)
        * m
        - 2.499_999_4e-1)
        * m
        + 3.333_333e-1)
        * m
        * z;
    let e = e as f32;
    let y = p - 2.121_944_4e-4 * e - 0.5 * z;
    m + y + 0.693_359_4 * e
}

/// `ln` over a slice into a new vector; zeros, negatives, subnormals, infinities and NaN take
/// the standard `ln`.
pub fn log_f32(xs: &[f32]) -> Vec<f32> {
    let mut out = map_slice(xs, log_core);
    for (o, &x) in out.iter_mut().zip(xs) {
        if !(x.is_normal() && x > 0.0 && x.is_finite()) {
            *o = x.ln();
        }
    }
    out
}

/// Recomputes, with the standard `exp`, the elements the fast path does not cover.
#[inline(always)]
fn exp_nonpositive_core(x: f32) -> f32 {
    let y = exp_core(x);
    // Deep underflow (and -inf) is 0; NaN stays NaN. Selects, so the loop stays vectorized.
    let y = if x < LO { 0.0 } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// `exp(xs[i])` into `out` for inputs at most 0 (the shifted scores of a softmax), without
/// the standard-`exp` fixup pass: underflow gives 0, NaN stays NaN.
pub fn exp_nonpositive_f32_into(xs: &[f32], out: &mut [f32]) {
    dispatch(xs, out, exp_nonpositive_core);
}

fn fix_range(xs: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(xs) {
        if !(LO..=HI).contains(&x) {
            *o = x.exp();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_exp_within_two_ulp() {
        let xs: Vec<f32> = (-20000..=20000).map(|i| i as f32 * 0.0047).collect();
        let fast = exp_f32(&xs);
        for (&x, &y) in xs.iter().zip(&fast) {
            let want = x.exp();
            let ulp = (want.to_bits() as i64 - y.to_bits() as i64).abs();
            assert!(ulp <= 2, "exp({x}) = {y}, std {want} ({ulp} ulp)");
        }
    }

    #[test]
    fn tanh_matches_std_within_three_ulp() {
        let mut xs: Vec<f32> = (-20000..=20000).map(|i| i as f32 * 0.0011).collect();
        xs.extend([1e-30, -1e-30, 1e-6, 0.0, -0.0, 0.624_999, 0.625, 9.0, 20.0, -100.0, f32::INFINITY]);
        for (&x, &y) in xs.iter().zip(&tanh_f32(&xs)) {
            let want = x.tanh();
            let ulp = (want.to_bits() as i64 - y.to_bits() as i64).abs();
            assert!(ulp <= 3, "tanh({x}) = {y}, std {want} ({ulp} ulp)");
        }
        assert!(tanh_f32(&[f32::NAN])[0].is_nan());
        assert_eq!(tanh_f32(&[f32::NEG_INFINITY])[0], -1.0);
    }

    #[test]
    fn log_matches_std_within_two_ulp() {
        let mut xs: Vec<f32> = (1..=40000).map(|i| i as f32 * 0.0037).collect();
        xs.extend((-126..128).map(|e| 2f32.powi(e)));
        xs.extend([f32::MAX, f32::MIN_POSITIVE, 1e-40, 0.0, -0.0, -1.0, f32::INFINITY]);
        // Both sides of the mantissa split at sqrt(1/2).
        let split = std::f32::consts::FRAC_1_SQRT_2;
        xs.extend([split, f32::from_bits(split.to_bits() - 1), f32::from_bits(split.to_bits() + 1)]);
        for (&x, &y) in xs.iter().zip(&log_f32(&xs)) {
            let want = x.ln();
            let ulp = (want.to_bits() as i64 - y.to_bits() as i64).abs();
            assert!(
                want == y || (want.is_nan() && y.is_nan()) || ulp <= 2,
                "ln({x}) = {y}, std {want} ({ulp} ulp)"
            );
        }
        assert!(log_f32(&[f32::NAN])[0].is_nan());
    }

    #[test]
    fn edges_follow_std_exp() {
        let xs = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 89.0, 100.0, -88.0, -100.0, -104.0, 0.0];
        let fast = exp_f32(&xs);
        for (&x, &y) in xs.iter().zip(&fast) {
            let want = x.exp();
            assert!((want.is_nan() && y.is_nan()) || want == y, "exp({x}) = {y}, std {want}");
        }
        let mut into = [0.0f32; 9];
        exp_f32_into(&xs, &mut into);
        assert!(into.iter().zip(&fast).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
