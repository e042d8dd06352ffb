//! Special functions the standard library lacks (erfinv, digamma, trigamma, tetragamma), in
//! f64.

use std::f64::consts::PI;

/// The inverse error function: Giles' approximation refined by two Newton steps (the
/// residual of the tails is taken through erfc, where erf would round it away).
pub fn erfinv(y: f64) -> f64 {
    if y.is_nan() || y.abs() > 1.0 {
        return f64::NAN;
    }
    if y.abs() == 1.0 {
        return y * f64::INFINITY;
    }
    let a = y.abs();
    let w = -((1.0 - a) * (1.0 + a)).ln();
    let mut x = if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
        p * a
    } else {
        let w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
        p * a
    };
    for _ in 0..2 {
        let resid = if a > 0.5 { (1.0 - a) - libm::erfc(x) } else { libm::erf(x) - a };
        x -= resid / (std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp());
    }
    x.copysign(y)
}

/// The digamma function (the derivative of lgamma): -inf at 0 (as PyTorch), NaN at the
/// negative integers.
pub fn digamma(x: f64) -> f64 {
    if x == 0.0 {
        return f64::NEG_INFINITY.copysign(-x.signum());
    }
    if x < 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        return digamma(1.0 - x) - PI / (PI * x).tan();
    }
    let (mut x, mut r) = (x, 0.0);
    while x < 10.0 {
        r -= 1.0 / x;
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    let tail = z
        * (1.0 / 12.0
            - z * (1.0 / 120.0
                - z * (1.0 / 252.0 - z * (1.0 / 240.0 - z * (1.0 / 132.0 - z * 691.0 / 32760.0)))));
    r + x.ln() - 0.5 / x - tail
}

/// The trigamma function (the derivative of digamma).
pub fn trigamma(x: f64) -> f64 {
    if x <= 0.0 && x == x.floor() {
        return f64::INFINITY;
    }
    if x < 0.0 {
        let s = (PI * x).sin();
        return -trigamma(1.0 - x) + PI * PI / (s * s);
    }
    let (mut x, mut r) = (x, 0.0);
    while x < 10.0 {
        r += 1.0 / (x * x);
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    let tail = 1.0 / x
        + z / 2.0
        + z / x * (1.0 / 6.0 - z * (1.0 / 30.0 - z * (1.0 / 42.0 - z * (1.0 / 30.0 - z * 5.0 / 66.0))));
    r + tail
}

/// The tetragamma function psi''(x) (the derivative of trigamma, PyTorch's `polygamma(2, x)`):
/// -inf at 0 and the negative integers (as PyTorch).
pub fn tetragamma(x: f64) -> f64 {
    if x <= 0.0 && x == x.floor() {
        return f64::NEG_INFINITY;
    }
    if x < 0.0 {
        // psi''(x) = psi''(1 - x) - 2 pi^3 cos(pi x) / sin(pi x)^3
        let (s, c) = (PI * x).sin_cos();
        return tetragamma(1.0 - x) - 2.0 * PI * PI * PI * c / (s * s * s);
    }
    let (mut x, mut r) = (x, 0.0);
    while x < 10.0 {
        r -= 2.0 / (x * x * x);
        x += 1.0;
    }
    // -1/x^2 - 1/x^3 - 1/(2x^4) + 1/(6x^6) - 1/(6x^8) + 3/(10x^10) - 5/(6x^12)
    let z = 1.0 / (x * x);
    let tail = -z - z / x - z * z * (0.5 - z * (1.0 / 6.0 - z * (1.0 / 6.0 - z * (0.3 - z * 5.0 / 6.0))));
    r + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values() {
        for y in [-0.999999, -0.7, -0.2, 0.0, 0.3, 0.9, 0.999_999_999] {
            assert!((libm::erf(erfinv(y)) - y).abs() < 1e-15, "{y}");
        }
        assert!((digamma(1.0) + 0.577_215_664_901_532_9).abs() < 1e-14);
        assert!((digamma(-0.5) - 0.036_489_973_978_576_52).abs() < 1e-13);
        assert!((trigamma(1.0) - PI * PI / 6.0).abs() < 1e-13);
        assert!((trigamma(0.5) - PI * PI / 2.0).abs() < 1e-12);
        // psi''(1) = -2 zeta(3), psi''(1/2) = -14 zeta(3); the rest are PyTorch's values.
        let zeta3 = 1.202_056_903_159_594_2;
        assert!((tetragamma(1.0) + 2.0 * zeta3).abs() < 1e-13);
        assert!((tetragamma(0.5) + 14.0 * zeta3).abs() < 1e-12);
        for (x, want) in [
            (-2.5, -0.108_204_051_641_728_2),
            (3.7, -0.095_395_308_728_554_05),
            (12.0, -0.007_547_205_368_998_914),
            (1e-3, -2_000_000_002.397_632_1),
            (-0.3, 67.639_081_199_883_14),
        ] {
            assert!((tetragamma(x) - want).abs() < 1e-12 * want.abs().max(1.0), "{x}");
        }
        assert!(tetragamma(0.0) == f64::NEG_INFINITY && tetragamma(-3.0) == f64::NEG_INFINITY);
    }
}
