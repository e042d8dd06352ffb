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
    let scale = f32::from_bits(((n as i32 + 127) << 23) as u32);
    y * scale
}

/// `exp` over a slice into a new vector (split over the thread pool when large).
pub fn exp_f32(xs: &[f32]) -> Vec<f32> {
    let mut out: Vec<f32> = if xs.len() < super::PAR_THRESHOLD {
        xs.iter().map(|&x| exp_core(x)).collect()
    } else {
        xs.par_iter().map(|&x| exp_core(x)).collect()
    };
    fix_range(xs, &mut out);
    out
}

/// `exp` of `xs` into `out` (same length), on the calling thread: for the short rows of the
/// fused losses, where a new vector per row would cost more than the math.
pub fn exp_f32_into(xs: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(xs) {
        *o = exp_core(x);
    }
    fix_range(xs, out);
}

/// `1 / (1 + exp(-x))` over a slice.
pub fn sigmoid_f32(xs: &[f32]) -> Vec<f32> {
    let f = |x: f32| 1.0 / (1.0 + exp_core(-x));
    let mut out: Vec<f32> = if xs.len() < super::PAR_THRESHOLD {
        xs.iter().map(|&x| f(x)).collect()
    } else {
        xs.par_iter().map(|&x| f(x)).collect()
    };
    for (o, &x) in out.iter_mut().zip(xs) {
        if !(-HI..=-LO).contains(&x) {
            *o = 1.0 / (1.0 + (-x).exp());
        }
    }
    out
}

/// Recomputes, with the standard `exp`, the elements the fast path does not cover.
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
