//! Kernels of the logical and bitwise ops: byte-wise loops over bool buffers (which the
//! compiler vectorizes), and integer bit operations with PyTorch's shift semantics.

use super::PAR_THRESHOLD;
use crate::storage::Element;
use rayon::prelude::*;

/// `f` over two equally long bool slices, in parallel chunks when large.
pub fn bool_zip(a: &[bool], b: &[bool], f: impl Fn(bool, bool) -> bool + Sync) -> Vec<bool> {
    if a.len() >= PAR_THRESHOLD {
        let mut out = vec![false; a.len()];
        out.par_chunks_mut(1 << 16).enumerate().for_each(|(c, o)| {
            let s = c << 16;
            for ((r, &x), &y) in o.iter_mut().zip(&a[s..]).zip(&b[s..]) {
                *r = f(x, y);
            }
        });
        return out;
    }
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

/// The integer (and bool) element types of the bitwise ops.
pub trait Bits: Element {
    fn and(self, o: Self) -> Self;
    fn or(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    fn not(self) -> Self;
    /// `self << o`; 0 when `o` is negative or at least the bit width (as PyTorch).
    fn shl(self, o: Self) -> Self;
    /// Arithmetic `self >> o`; the sign fill when `o` is negative or at least the bit width.
    fn shr(self, o: Self) -> Self;
}

macro_rules! int_bits {
    ($t:ty, $w:expr) => {
        impl Bits for $t {
            #[inline(always)]
            fn and(self, o: Self) -> Self {
                self & o
            }
            #[inline(always)]
            fn or(self, o: Self) -> Self {
                self | o
            }
            #[inline(always)]
            fn xor(self, o: Self) -> Self {
                self ^ o
            }
            #[inline(always)]
            fn not(self) -> Self {
                !self
            }
            #[inline(always)]
            fn shl(self, o: Self) -> Self {
                if !(0..$w).contains(&o) {
                    0
                } else {
                    self.wrapping_shl(o as u32)
                }
            }
            #[inline(always)]
            fn shr(self, o: Self) -> Self {
                if !(0..$w).contains(&o) {
                    if self < 0 {
                        -1
                    } else {
                        0
                    }
                } else {
                    self >> o
                }
            }
        }
    };
}
int_bits!(i64, 64);
int_bits!(i32, 32);

impl Bits for bool {
    fn and(self, o: Self) -> Self {
        self & o
    }
    fn or(self, o: Self) -> Self {
        self | o
    }
    fn xor(self, o: Self) -> Self {
        self ^ o
    }
    fn not(self) -> Self {
        !self
    }
    // Shifts of bools are rejected before the kernel (after promotion they are integers).
    fn shl(self, _o: Self) -> Self {
        self
    }
    fn shr(self, _o: Self) -> Self {
        self
    }
}
