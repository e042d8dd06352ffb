//! Kernels of the logical and bitwise ops: byte-wise loops over bool buffers (which the
//! compiler vectorizes), and integer bit operations with PyTorch's shift semantics.

use super::PAR_THRESHOLD;
use crate::error::Result;
use crate::storage::{try_vec_with_capacity, Element};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// `f` over two equally long bool slices, in parallel chunks when large. The output is
/// allocated fallibly and left unfilled until written: a zeroed 1M-element buffer costs more
/// than the loop (fresh pages fault in on first write).
pub fn bool_zip(a: &[bool], b: &[bool], f: impl Fn(bool, bool) -> bool + Sync) -> Result<Vec<bool>> {
    let n = a.len().min(b.len());
    let mut out = try_vec_with_capacity::<bool>(n)?;
    let run = |o: &mut [MaybeUninit<bool>], x: &[bool], y: &[bool]| {
        for ((r, &x), &y) in o.iter_mut().zip(x).zip(y) {
            r.write(f(x, y));
        }
    };
    let spare = &mut out.spare_capacity_mut()[..n];
    if n >= PAR_THRESHOLD {
        const CHUNK: usize = 1 << 16;
        spare
            .par_chunks_mut(CHUNK)
            .zip(a[..n].par_chunks(CHUNK))
            .zip(b[..n].par_chunks(CHUNK))
            .for_each(|((o, x), y)| run(o, x, y));
    } else {
        run(spare, &a[..n], &b[..n]);
    }
    // SAFETY: every one of the n elements was written above.
    unsafe { out.set_len(n) };
    Ok(out)
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
