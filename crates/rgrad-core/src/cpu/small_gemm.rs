//! `out[M, N] += a[M, K] @ b[K, N]` for the small per-step products of the recurrences
//! (cpu/rnn.rs: `[32, 128] x [128, 512]` and the like, 32 times per layer and pass).
//!
//! At these sizes a general GEMM spends as long packing its operands as multiplying; here
//! both operands are read in place (all row-major, `b` the same matrix every step, so it
//! stays in L2) by a register-blocked kernel: 8 rows of `a` times 2 SIMD vectors of `b`
//! columns, one broadcast and one fused multiply-add per element, compiled for AVX-512 or
//! AVX2+FMA and picked at run time. Other CPUs take the `gemm` crate.

use super::matmul::{matmul_into, Mat};
use super::rnn::RnnFloat;

/// The operands of one product: row strides `lda`, `ldb`, `ldo` (columns contiguous).
#[derive(Clone, Copy)]
pub struct SmallGemm {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub lda: usize,
    pub ldb: usize,
    pub ldo: usize,
}

impl SmallGemm {
    /// Whether the slices hold every element the product reads and writes.
    fn fits<T>(&self, a: &[T], b: &[T], out: &[T]) -> bool {
        let need = |rows: usize, ld: usize, cols: usize| {
            if rows == 0 || cols == 0 {
                0
            } else {
                (rows - 1) * ld + cols
            }
        };
        self.lda >= self.k
            && self.ldb >= self.n
            && self.ldo >= self.n
            && a.len() >= need(self.m, self.lda, self.k)
            && b.len() >= need(self.k, self.ldb, self.n)
            && out.len() >= need(self.m, self.ldo, self.n)
    }
}

/// One `R x C` tile of `out` at row `i`, column `j`.
#[inline(always)]
fn tile<T: RnnFloat, const R: usize, const C: usize>(
    s: &SmallGemm,
    a: &[T],
    b: &[T],
    out: &mut [T],
    i: usize,
    j: usize,
) {
    let mut acc = [[T::default(); C]; R];
    for (r, row) in acc.iter_mut().enumerate() {
        row.copy_from_slice(&out[(i + r) * s.ldo + j..][..C]);
    }
    let rows: [&[T]; R] = std::array::from_fn(|r| &a[(i + r) * s.lda..][..s.k]);
    for p in 0..s.k {
        let Ok(brow) = <&[T; C]>::try_from(&b[p * s.ldb + j..][..C]) else { return };
        for (r, row) in acc.iter_mut().enumerate() {
            let av = rows[r][p];
            for (o, &w) in row.iter_mut().zip(brow) {
                *o = av.fma(w, *o);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        out[(i + r) * s.ldo + j..][..C].copy_from_slice(row);
    }
}

/// Row `i`, columns `j0..n`: the right edge narrower than a tile.
#[inline(always)]
fn edge<T: RnnFloat>(s: &SmallGemm, a: &[T], b: &[T], out: &mut [T], i: usize, j0: usize) {
    let o = &mut out[i * s.ldo + j0..i * s.ldo + s.n];
    for (p, &av) in a[i * s.lda..][..s.k].iter().enumerate() {
        for (x, &w) in o.iter_mut().zip(&b[p * s.ldb + j0..p * s.ldb + s.n]) {
            *x = av.fma(w, *x);
        }
    }
}

#[inline(always)]
fn blocked<T: RnnFloat, const R: usize, const C: usize>(s: &SmallGemm, a: &[T], b: &[T], out: &mut [T]) {
    let mut i = 0;
    while i + R <= s.m {
        let mut j = 0;
        while j + C <= s.n {
            tile::<T, R, C>(s, a, b, out, i, j);
            j += C;
        }
        if j < s.n {
            (i..i + R).for_each(|r| edge(s, a, b, out, r, j));
        }
        i += R;
    }
    for r in i..s.m {
        let mut j = 0;
        while j + C <= s.n {
            tile::<T, 1, C>(s, a, b, out, r, j);
            j += C;
        }
        if j < s.n {
            edge(s, a, b, out, r, j);
        }
    }
}

/// `out += a @ b` (see [`SmallGemm`] for the layouts).
pub fn gemm_acc<T: RnnFloat>(s: &SmallGemm, a: &[T], b: &[T], out: &mut [T]) {
    if s.m == 0 || s.n == 0 || s.k == 0 {
        return;
    }
    if !s.fits(a, b, out) {
        debug_assert!(false, "small_gemm: operands shorter than their layouts");
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // Two vectors of columns per tile: 16 accumulators, the 2 `b` vectors and the
        // broadcast fit AVX-512's 32 registers (and AVX2's 16 with 4 rows).
        #[target_feature(enable = "avx512f")]
        fn wide<T: RnnFloat, const C: usize>(s: &SmallGemm, a: &[T], b: &[T], out: &mut [T]) {
            blocked::<T, 8, C>(s, a, b, out)
        }
        #[target_feature(enable = "avx2,fma")]
        fn mid<T: RnnFloat, const C: usize>(s: &SmallGemm, a: &[T], b: &[T], out: &mut [T]) {
            blocked::<T, 4, C>(s, a, b, out)
        }
        let f32s = std::mem::size_of::<T>() == 4;
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the functions were compiled for.
            return unsafe {
                if f32s {
                    wide::<T, 32>(s, a, b, out)
                } else {
                    wide::<T, 16>(s, a, b, out)
                }
            };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe {
                if f32s {
                    mid::<T, 16>(s, a, b, out)
                } else {
                    mid::<T, 8>(s, a, b, out)
                }
            };
        }
    }
    // No fused multiply-add in hardware: the gemm crate, one call per product.
    let am = Mat { data: a, offset: 0, rs: s.lda, cs: 1 };
    let bm = Mat { data: b, offset: 0, rs: s.ldb, cs: 1 };
    if s.ldo == s.n {
        matmul_into(am, bm, &mut out[..s.m * s.n], s.m, s.k, s.n, true);
    } else {
        for i in 0..s.m {
            let ai = Mat { data: a, offset: i * s.lda, rs: s.lda, cs: 1 };
            matmul_into(ai, bm, &mut out[i * s.ldo..][..s.n], 1, s.k, s.n, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tile shape and edge (rows and columns off the block sizes, strided operands)
    /// against the product written out.
    #[test]
    fn matches_the_plain_product() {
        for &(m, k, n) in &[(1, 1, 1), (9, 3, 33), (16, 7, 64), (17, 5, 70), (3, 2, 5)] {
            let (lda, ldb, ldo) = (k + 2, n + 3, n + 1);
            let a: Vec<f64> = (0..m * lda).map(|i| ((i * 7 % 13) as f64) - 6.0).collect();
            let b: Vec<f64> = (0..k * ldb).map(|i| ((i * 5 % 11) as f64) - 5.0).collect();
            let mut out: Vec<f64> = (0..m * ldo).map(|i| (i % 3) as f64).collect();
            let mut want = out.clone();
            for i in 0..m {
                for j in 0..n {
                    for p in 0..k {
                        want[i * ldo + j] += a[i * lda + p] * b[p * ldb + j];
                    }
                }
            }
            gemm_acc(&SmallGemm { m, k, n, lda, ldb, ldo }, &a, &b, &mut out);
            assert_eq!(out, want, "{m}x{k}x{n}");
            let (a32, b32): (Vec<f32>, Vec<f32>) =
                (a.iter().map(|&v| v as f32).collect(), b.iter().map(|&v| v as f32).collect());
            let mut o32: Vec<f32> = (0..m * ldo).map(|i| (i % 3) as f32).collect();
            gemm_acc(&SmallGemm { m, k, n, lda, ldb, ldo }, &a32, &b32, &mut o32);
            assert!(o32.iter().zip(&want).all(|(&x, &y)| x as f64 == y), "f32 {m}x{k}x{n}");
        }
    }
}
