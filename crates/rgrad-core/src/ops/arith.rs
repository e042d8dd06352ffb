//! Per-element arithmetic for every dtype, so one generic kernel serves all of them.

use crate::storage::Element;

pub trait Arith: Element {
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// True division for floats; only reached for floats (ints are promoted first).
    fn div(self, o: Self) -> Self;
    fn floordiv(self, o: Self) -> Self;
    /// Python's `%`: the result has the sign of the divisor.
    fn rem(self, o: Self) -> Self;
    fn pow(self, o: Self) -> Self;
    fn maximum(self, o: Self) -> Self;
    fn minimum(self, o: Self) -> Self;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
    fn sign(self) -> Self;
    /// C's `fmod`: the result has the sign of the dividend.
    fn fmod(self, o: Self) -> Self;
    // The float-only ops below (ints and bools are promoted or rejected before the kernel).
    fn atan2(self, o: Self) -> Self;
    fn hypot(self, o: Self) -> Self;
    fn logaddexp(self, o: Self) -> Self;
    /// `x * log(y)`, 0 where x == 0 (unless y is NaN).
    fn xlogy(self, o: Self) -> Self;
}

macro_rules! float_arith {
    ($t:ty) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self - o
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self * o
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                self / o
            }
            #[inline(always)]
            fn floordiv(self, o: Self) -> Self {
                (self / o).floor()
            }
            #[inline(always)]
            fn rem(self, o: Self) -> Self {
                let r = self % o;
                if r != 0.0 && ((r < 0.0) != (o < 0.0)) {
                    r + o
                } else {
                    r
                }
            }
            #[inline(always)]
            fn pow(self, o: Self) -> Self {
                self.powf(o)
            }
            #[inline(always)]
            fn maximum(self, o: Self) -> Self {
                if self.is_nan() || self > o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn minimum(self, o: Self) -> Self {
                if self.is_nan() || self < o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn neg(self) -> Self {
                -self
            }
            #[inline(always)]
            fn abs(self) -> Self {
                self.abs()
            }
            #[inline(always)]
            fn fmod(self, o: Self) -> Self {
                self % o
            }
            #[inline(always)]
            fn atan2(self, o: Self) -> Self {
                self.atan2(o)
            }
            #[inline(always)]
            fn hypot(self, o: Self) -> Self {
                self.hypot(o)
            }
            #[inline(always)]
            fn logaddexp(self, o: Self) -> Self {
                let m = self.max(o);
                if m.is_infinite() && self == o {
                    return m;
                }
                if self.is_nan() || o.is_nan() {
                    return self + o;
                }
                m + (-(self - o).abs()).exp().ln_1p()
            }
            #[inline(always)]
            fn xlogy(self, o: Self) -> Self {
                if o.is_nan() {
                    o
                } else if self == 0.0 {
                    0.0
                } else {
                    self * o.ln()
                }
            }
            #[inline(always)]
            fn sign(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    // As PyTorch: 0 for NaN and for both zeros.
                    0.0
                }
            }
        }
    };
}
float_arith!(f32);
float_arith!(f64);

macro_rules! int_arith {
    ($t:ty) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                self.floordiv(o)
            }
            #[inline(always)]
            fn floordiv(self, o: Self) -> Self {
                // Divisors were checked for zero before the kernel ran.
                if o == 0 {
                    return 0;
                }
                // Wrapping, as PyTorch's int arithmetic: MIN // -1 is MIN (a plain `%` or `/`
                // would panic on that overflow).
                let q = self.wrapping_div(o);
                if (self.wrapping_rem(o) != 0) && ((self < 0) != (o < 0)) {
                    q - 1
                } else {
                    q
                }
            }
            #[inline(always)]
            fn rem(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let r = self.wrapping_rem(o);
                if r != 0 && ((r < 0) != (o < 0)) {
                    r + o
                } else {
                    r
                }
            }
            #[inline(always)]
            fn pow(self, o: Self) -> Self {
                // Negative exponents were rejected before the kernel ran.
                self.wrapping_pow((o as i64).clamp(0, u32::MAX as i64) as u32)
            }
            #[inline(always)]
            fn maximum(self, o: Self) -> Self {
                self.max(o)
            }
            #[inline(always)]
            fn minimum(self, o: Self) -> Self {
                self.min(o)
            }
            #[inline(always)]
            fn neg(self) -> Self {
                self.wrapping_neg()
            }
            #[inline(always)]
            fn abs(self) -> Self {
                self.wrapping_abs()
            }
            #[inline(always)]
            fn sign(self) -> Self {
                self.signum()
            }
            #[inline(always)]
            fn fmod(self, o: Self) -> Self {
                // Divisors were checked for zero before the kernel ran.
                if o == 0 {
                    0
                } else {
                    self.wrapping_rem(o)
                }
            }
            fn atan2(self, _o: Self) -> Self {
                self
            }
            fn hypot(self, _o: Self) -> Self {
                self
            }
            fn logaddexp(self, _o: Self) -> Self {
                self
            }
            fn xlogy(self, _o: Self) -> Self {
                self
            }
        }
    };
}
int_arith!(i64);
int_arith!(i32);
int_arith!(i16);
int_arith!(i8);

impl Arith for u8 {
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self.wrapping_mul(o)
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        self.checked_div(o).unwrap_or(0)
    }
    #[inline(always)]
    fn floordiv(self, o: Self) -> Self {
        self.checked_div(o).unwrap_or(0)
    }
    #[inline(always)]
    fn rem(self, o: Self) -> Self {
        self.checked_rem(o).unwrap_or(0)
    }
    #[inline(always)]
    fn pow(self, o: Self) -> Self {
        self.wrapping_pow(o as u32)
    }
    #[inline(always)]
    fn maximum(self, o: Self) -> Self {
        self.max(o)
    }
    #[inline(always)]
    fn minimum(self, o: Self) -> Self {
        self.min(o)
    }
    #[inline(always)]
    fn neg(self) -> Self {
        self.wrapping_neg()
    }
    #[inline(always)]
    fn abs(self) -> Self {
        self
    }
    #[inline(always)]
    fn sign(self) -> Self {
        (self > 0) as u8
    }
    #[inline(always)]
    fn fmod(self, o: Self) -> Self {
        self.checked_rem(o).unwrap_or(0)
    }
    fn atan2(self, _o: Self) -> Self {
        self
    }
    fn hypot(self, _o: Self) -> Self {
        self
    }
    fn logaddexp(self, _o: Self) -> Self {
        self
    }
    fn xlogy(self, _o: Self) -> Self {
        self
    }
}

// float16/bfloat16: each op computes in float32 and rounds once, as PyTorch's CPU kernels
// do for the reduced floats (the same bits as widening the operands, computing, narrowing).
macro_rules! half_arith {
    ($t:ty; $($f:ident),*) => {
        impl Arith for $t {
            $(
                #[inline(always)]
                fn $f(self, o: Self) -> Self {
                    <$t>::from_f32(Arith::$f(self.to_f32(), o.to_f32()))
                }
            )*
            #[inline(always)]
            fn neg(self) -> Self {
                -self
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::from_f32(self.to_f32().abs())
            }
            #[inline(always)]
            fn sign(self) -> Self {
                <$t>::from_f32(Arith::sign(self.to_f32()))
            }
        }
    };
}
half_arith!(half::f16; add, sub, mul, div, floordiv, rem, pow, maximum, minimum, fmod, atan2, hypot, logaddexp, xlogy);
half_arith!(half::bf16; add, sub, mul, div, floordiv, rem, pow, maximum, minimum, fmod, atan2, hypot, logaddexp, xlogy);

impl Arith for bool {
    fn add(self, o: Self) -> Self {
        self | o
    }
    fn sub(self, o: Self) -> Self {
        self ^ o
    }
    fn mul(self, o: Self) -> Self {
        self & o
    }
    fn div(self, o: Self) -> Self {
        self & o
    }
    fn floordiv(self, o: Self) -> Self {
        self & o
    }
    fn rem(self, _o: Self) -> Self {
        false
    }
    fn pow(self, o: Self) -> Self {
        self | !o
    }
    fn maximum(self, o: Self) -> Self {
        self | o
    }
    fn minimum(self, o: Self) -> Self {
        self & o
    }
    fn neg(self) -> Self {
        self
    }
    fn abs(self) -> Self {
        self
    }
    fn sign(self) -> Self {
        self
    }
    fn fmod(self, _o: Self) -> Self {
        false
    }
    fn atan2(self, _o: Self) -> Self {
        self
    }
    fn hypot(self, _o: Self) -> Self {
        self
    }
    fn logaddexp(self, _o: Self) -> Self {
        self
    }
    fn xlogy(self, _o: Self) -> Self {
        self
    }
}
