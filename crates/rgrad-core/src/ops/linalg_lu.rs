//! `linalg.inv_ex` and `linalg.slogdet` from faer's partially pivoted LU, batched over the
//! leading dims; `solve`, `det` and `logdet` are built on them in `rgrad.linalg`. Backward
//! rules are in `autograd/rules/linalg.rs`.

use super::linalg_factor::{check_square, dense, device_of, host, slice, type_name, zeroed, Real};
use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::error::Result;
use crate::shape::checked_numel;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::DType;
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::lu::partial_pivoting::{factor, inverse};
use faer::{MatMut, MatRef, Par};
use rayon::prelude::*;

fn check_float(a: &Tensor, op: &str) -> Result<()> {
    if !a.dtype().is_float() {
        bail!(
            NotImplemented,
            "{op}: Expected a floating point or complex tensor as input. Got {}",
            type_name(a.dtype())
        );
    }
    if a.dtype().is_reduced_float() {
        bail!(NotImplemented, "{op}: Low precision dtypes not supported. Got {}", type_name(a.dtype()));
    }
    Ok(())
}

/// One matrix's LU in place (row-major `lu`, a copy of A): the number of row transpositions,
/// with the pivots in `perm`/`perm_inv`.
fn lu_one<T: Real>(
    lu: &mut [T],
    n: usize,
    perm: &mut [usize],
    perm_inv: &mut [usize],
    mem: &mut MemBuffer,
) -> usize {
    let m = MatMut::from_row_major_slice_mut(lu, n, n);
    let (info, _) = factor::lu_in_place(m, perm, perm_inv, Par::Seq, MemStack::new(mem), Default::default());
    info.transposition_count
}

fn scratch<T: Real>(n: usize) -> StackReq {
    StackReq::any_of(&[
        factor::lu_in_place_scratch::<usize, T>(n, n, Par::Seq, Default::default()),
        inverse::inverse_scratch::<usize, T>(n, Par::Seq),
    ])
}

/// The order (1-based) of the first zero on U's diagonal, 0 if none (LAPACK's getrf info).
fn zero_pivot<T: Real>(lu: &[T], n: usize) -> i32 {
    let zero = <T as Element>::from_f64(0.0);
    (0..n).find(|&i| lu[i * n + i] == zero).map_or(0, |i| i32::try_from(i + 1).unwrap_or(i32::MAX))
}

fn inv_kernel<T: Real>(a: &Tensor, n: usize) -> Result<(Tensor, Tensor)> {
    let shape = a.shape().to_vec();
    let batch_shape = &shape[..shape.len() - 2];
    let mut out = zeroed::<T>(checked_numel(&shape)?)?;
    let mut info = vec![0i32; checked_numel(batch_shape)?];
    if n > 0 {
        let src = dense(a)?;
        let data = slice::<T>(&src);
        let req = scratch::<T>(n);
        out.par_chunks_mut(n * n).zip(info.par_iter_mut()).enumerate().for_each_init(
            || {
                (
                    MemBuffer::new(req),
                    vec![<T as Element>::from_f64(0.0); n * n],
                    vec![0usize; n],
                    vec![0usize; n],
                )
            },
            |(mem, lu, perm, perm_inv), (i, (x, inf))| {
                lu.copy_from_slice(&data[i * n * n..(i + 1) * n * n]);
                let m = MatMut::from_row_major_slice_mut(lu.as_mut_slice(), n, n);
                let (_, p) = factor::lu_in_place(
                    m,
                    perm.as_mut_slice(),
                    perm_inv.as_mut_slice(),
                    Par::Seq,
                    MemStack::new(mem),
                    Default::default(),
                );
                *inf = zero_pivot(lu, n);
                let f = MatRef::from_row_major_slice(lu.as_slice(), n, n);
                let xm = MatMut::from_row_major_slice_mut(x, n, n);
                inverse::inverse(xm, f, f, p, Par::Seq, MemStack::new(mem));
            },
        );
    }
    Ok((Tensor::from_vec(out, &shape), Tensor::from_vec(info, batch_shape)))
}

fn slogdet_kernel<T: Real>(a: &Tensor, n: usize) -> Result<(Tensor, Tensor)> {
    let shape = a.shape();
    let batch_shape = &shape[..shape.len() - 2];
    let batch = checked_numel(batch_shape)?;
    let mut sign = zeroed::<T>(batch)?;
    let mut logabs = zeroed::<T>(batch)?;
    let src = dense(a)?;
    let data = slice::<T>(&src);
    let req = scratch::<T>(n);
    sign.par_iter_mut().zip(logabs.par_iter_mut()).enumerate().for_each_init(
        || {
            (
                MemBuffer::new(req),
                vec![<T as Element>::from_f64(0.0); n * n],
                vec![0usize; n],
                vec![0usize; n],
            )
        },
        |(mem, lu, perm, perm_inv), (i, (s, l))| {
            lu.copy_from_slice(&data[i * n * n..(i + 1) * n * n]);
            let swaps = lu_one(lu, n, perm, perm_inv, mem);
            // det = (-1)^swaps prod(U_ii), accumulated as a sign and a sum of logs (no
            // overflow for large matrices); a zero pivot gives sign 0 and -inf, NaN stays NaN.
            let (mut sg, mut acc) = (if swaps % 2 == 0 { 1.0 } else { -1.0 }, 0.0f64);
            for k in 0..n {
                let d = <T as Element>::to_f64(lu[k * n + k]);
                sg *= d.signum() * f64::from(u8::from(d != 0.0));
                acc += d.abs().ln();
            }
            if sg.is_nan() || acc.is_nan() {
                sg = f64::NAN;
            }
            *s = <T as Element>::from_f64(sg);
            *l = <T as Element>::from_f64(acc);
        },
    );
    Ok((Tensor::from_vec(sign, batch_shape), Tensor::from_vec(logabs, batch_shape)))
}

impl Tensor {
    /// `linalg.inv_ex`: the inverse of each matrix and LAPACK's info (0, or the order of the
    /// first zero pivot of U when the matrix is singular; the inverse is then not finite).
    pub fn linalg_inv_ex(&self) -> Result<(Tensor, Tensor)> {
        if let Some(dev) = device_of(&[self])? {
            let (x, info) = host(self)?.linalg_inv_ex()?;
            return Ok((x.to_device(dev)?, info.to_device(dev)?));
        }
        let op = "linalg.inv";
        check_float(self, op)?;
        let n = check_square(self, op, "A")?;
        let (x, info) = match self.dtype() {
            DType::F32 => inv_kernel::<f32>(self, n)?,
            _ => inv_kernel::<f64>(self, n)?,
        };
        let saved = Saved::output(&x, "LinalgInvExBackward0");
        let x = recorded(x, "LinalgInvExBackward0", &[self], || Op::Inverse {
            a: Saved::input(self),
            inv: saved,
        });
        Ok((x, info))
    }

    /// `linalg.slogdet` (`op` names the caller in errors: linalg.det, logdet): the sign and
    /// the log of the absolute determinant; only the latter is differentiable.
    pub fn linalg_slogdet(&self, op: &str) -> Result<(Tensor, Tensor)> {
        if let Some(dev) = device_of(&[self])? {
            let (s, l) = host(self)?.linalg_slogdet(op)?;
            return Ok((s.to_device(dev)?, l.to_device(dev)?));
        }
        check_float(self, op)?;
        let n = check_square(self, op, "A")?;
        let (sign, logabs) = match self.dtype() {
            DType::F32 => slogdet_kernel::<f32>(self, n)?,
            _ => slogdet_kernel::<f64>(self, n)?,
        };
        let logabs =
            recorded(logabs, "LinalgSlogdetBackward0", &[self], || Op::Slogdet { a: Saved::input(self) });
        Ok((sign, logabs))
    }
}
