//! `linalg.lu_factor_ex`, `linalg.solve_ex` and `linalg.det` from faer's partially pivoted
//! LU, batched over the leading dims (rayon over the batch). Pivots are LAPACK's: 1-based,
//! row `i` swapped with row `pivots[i] - 1` in turn. Backward rules are in
//! `autograd/rules/linalg_decomp.rs`.

use super::linalg_factor::{
    check_cpu, check_square, dense, device_of, host, slice, type_name, zeroed, BatchMap, Real,
};
use crate::autograd::{needs_grad, record, recorded, Op, Saved};
use crate::bail;
use crate::error::Result;
use crate::shape::{broadcast_shapes, checked_numel};
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::DType;
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::lu::partial_pivoting::{factor, solve};
use faer::{MatMut, MatRef, Par};
use rayon::prelude::*;

/// Factors the row-major `m x n` matrix in `lu` in place; fills the LAPACK pivots (length
/// min(m, n)) and the permutation `perm` (row `i` of P^T A is row `perm[i]` of A). Returns
/// LAPACK's info: the order of the first zero on U's diagonal, or 0.
fn lu_one<T: Real>(
    lu: &mut [T],
    m: usize,
    n: usize,
    perm: &mut [usize],
    perm_inv: &mut [usize],
    pivots: &mut [i32],
    mem: &mut MemBuffer,
) -> i32 {
    let mat = MatMut::from_row_major_slice_mut(lu, m, n);
    factor::lu_in_place(mat, perm, perm_inv, Par::Seq, MemStack::new(mem), Default::default());
    // The permutation as the sequence of swaps that produces it.
    let mut cur: Vec<usize> = (0..m).collect();
    let mut pos: Vec<usize> = (0..m).collect();
    for (i, p) in pivots.iter_mut().enumerate() {
        let j = pos[perm[i]];
        *p = i32::try_from(j + 1).unwrap_or(i32::MAX);
        let (ri, rj) = (cur[i], cur[j]);
        cur.swap(i, j);
        pos[ri] = j;
        pos[rj] = i;
    }
    let zero = <T as Element>::from_f64(0.0);
    (0..m.min(n)).find(|&i| lu[i * n + i] == zero).map_or(0, |i| i32::try_from(i + 1).unwrap_or(i32::MAX))
}

fn check_float(a: &Tensor, op: &str) -> Result<()> {
    if !a.dtype().is_float() {
        bail!(
            NotImplemented,
            "{op}: Expected a floating point or complex tensor as input. Got {}",
            type_name(a.dtype())
        );
    }
    Ok(())
}

/// (LU, pivots, info, P) with P the permutation matrices (A = P L U), kept for backward.
fn lu_kernel<T: Real>(a: &Tensor, m: usize, n: usize) -> Result<[Tensor; 4]> {
    let shape = a.shape().to_vec();
    let batch_shape = shape[..shape.len() - 2].to_vec();
    let batch = checked_numel(&batch_shape)?;
    let k = m.min(n);
    let mut lu = zeroed::<T>(checked_numel(&shape)?)?;
    let mut piv = vec![0i32; batch * k];
    let mut info = vec![0i32; batch];
    let mut p = zeroed::<T>(batch.saturating_mul(m * m))?;
    if batch > 0 && m > 0 {
        let src = dense(a)?;
        let data = slice::<T>(&src);
        let req = factor::lu_in_place_scratch::<usize, T>(m, n, Par::Seq, Default::default());
        let one = <T as Element>::from_f64(1.0);
        // n may be 0 (no columns): the chunks then are empty but still one per matrix.
        let mut rows: Vec<(&mut [T], &mut [i32])> =
            if n > 0 { lu.chunks_mut(m * n).zip(piv.chunks_mut(k.max(1))).collect() } else { Vec::new() };
        if n > 0 {
            rows.par_iter_mut()
                .zip(info.par_iter_mut())
                .zip(p.par_chunks_mut(m * m))
                .enumerate()
                .for_each_init(
                    || (MemBuffer::new(req), vec![0usize; m], vec![0usize; m]),
                    |(mem, perm, perm_inv), (i, (((x, pv), inf), pm))| {
                        x.copy_from_slice(&data[i * m * n..(i + 1) * m * n]);
                        *inf = lu_one(x, m, n, perm, perm_inv, &mut pv[..k], mem);
                        // P^T A = L U with row r of P^T A being row perm[r] of A: P[perm[r], r] = 1.
                        for (r, &src_row) in perm.iter().enumerate() {
                            pm[src_row * m + r] = one;
                        }
                    },
                );
        } else {
            for pm in p.chunks_mut(m * m) {
                for r in 0..m {
                    pm[r * m + r] = one;
                }
            }
        }
    }
    let mut pshape = batch_shape.clone();
    pshape.extend_from_slice(&[m, m]);
    let mut kshape = batch_shape.clone();
    kshape.push(k);
    Ok([
        Tensor::from_vec(lu, &shape),
        Tensor::from_vec(piv, &kshape),
        Tensor::from_vec(info, &batch_shape),
        Tensor::from_vec(p, &pshape),
    ])
}

fn solve_kernel<T: Real>(
    a: &Tensor,
    b: &Tensor,
    out_shape: &[usize],
    left: bool,
) -> Result<(Tensor, Tensor)> {
    let nd = out_shape.len();
    let n = a.shape()[a.ndim() - 1];
    let (r, c) = (out_shape[nd - 2], out_shape[nd - 1]);
    let batch_out = &out_shape[..nd - 2];
    let batch = checked_numel(batch_out)?;
    let amap = BatchMap::new(batch_out, &a.shape()[..a.ndim() - 2]);
    let bmap = BatchMap::new(batch_out, &b.shape()[..b.ndim() - 2]);
    let mut out = zeroed::<T>(checked_numel(out_shape)?)?;
    let mut info = vec![0i32; batch];
    if r * c > 0 {
        let (ad, bd) = (dense(a)?, dense(b)?);
        let (av, bv) = (slice::<T>(&ad), slice::<T>(&bd));
        let other = if left { c } else { r };
        let req = StackReq::any_of(&[
            factor::lu_in_place_scratch::<usize, T>(n, n, Par::Seq, Default::default()),
            solve::solve_in_place_scratch::<usize, T>(n, other, Par::Seq),
            solve::solve_transpose_in_place_scratch::<usize, T>(n, other, Par::Seq),
        ]);
        out.par_chunks_mut(r * c).zip(info.par_iter_mut()).enumerate().for_each_init(
            || {
                (
                    MemBuffer::new(req),
                    vec![<T as Element>::from_f64(0.0); n * n],
                    vec![0usize; n],
                    vec![0usize; n],
                    vec![0i32; n],
                )
            },
            |(mem, lu, perm, perm_inv, piv), (i, (x, inf))| {
                let (ia, ib) = (amap.map(i), bmap.map(i));
                lu.copy_from_slice(&av[ia * n * n..(ia + 1) * n * n]);
                x.copy_from_slice(&bv[ib * r * c..(ib + 1) * r * c]);
                *inf = lu_one(lu, n, n, perm, perm_inv, piv, mem);
                let f = MatRef::from_row_major_slice(lu.as_slice(), n, n);
                let p = faer::perm::PermRef::new_checked(perm, perm_inv, n);
                if left {
                    let xm = MatMut::from_row_major_slice_mut(x, n, c);
                    solve::solve_in_place(f, f, p, xm, Par::Seq, MemStack::new(mem));
                } else {
                    // X A = B  <=>  A^T X^T = B^T.
                    let xm = MatMut::from_row_major_slice_mut(x, r, n).transpose_mut();
                    solve::solve_transpose_in_place(f, f, p, xm, Par::Seq, MemStack::new(mem));
                }
            },
        );
    }
    Ok((Tensor::from_vec(out, out_shape), Tensor::from_vec(info, batch_out)))
}

impl Tensor {
    /// `linalg.lu_factor_ex`: the packed LU factors (L unit lower below the diagonal, U on
    /// and above it), LAPACK's 1-based int32 pivots and info (0, or the order of the first
    /// zero pivot of U).
    pub fn linalg_lu_factor_ex(&self) -> Result<(Tensor, Tensor, Tensor)> {
        if let Some(dev) = device_of(&[self])? {
            let (lu, piv, info) = host(self)?.linalg_lu_factor_ex()?;
            return Ok((lu.to_device(dev)?, piv.to_device(dev)?, info.to_device(dev)?));
        }
        if !self.dtype().is_float() {
            bail!(NotImplemented, "\"lu_cpu\" not implemented for '{}'", type_name(self.dtype()));
        }
        if self.ndim() < 2 {
            bail!(
                Runtime,
                "torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: {:?} instead",
                self.shape()
            );
        }
        check_cpu(self, "linalg.lu_factor")?;
        let (m, n) = (self.shape()[self.ndim() - 2], self.shape()[self.ndim() - 1]);
        let [lu, piv, info, p] = match self.dtype() {
            DType::F32 => lu_kernel::<f32>(self, m, n)?,
            _ => lu_kernel::<f64>(self, m, n)?,
        };
        if needs_grad(&[self]) {
            let saved = Saved::output(&lu, "LinalgLuFactorExBackward0");
            let op = Op::LuFactor { a: Saved::input(self), lu: saved, p };
            record("LinalgLuFactorExBackward0", op, &[self], &[&lu]);
        }
        Ok((lu, piv, info))
    }

    /// The permutation matrices P of `A = P L U` (no gradient), for `linalg.lu`.
    pub fn linalg_lu_permutation(&self) -> Result<Tensor> {
        if let Some(dev) = device_of(&[self])? {
            return host(self)?.linalg_lu_permutation()?.to_device(dev);
        }
        let (m, n) = (self.shape()[self.ndim() - 2], self.shape()[self.ndim() - 1]);
        check_cpu(self, "linalg.lu")?;
        Ok(match self.dtype() {
            DType::F32 => lu_kernel::<f32>(&self.detach(), m, n)?,
            _ => lu_kernel::<f64>(&self.detach(), m, n)?,
        }[3]
        .clone())
    }

    /// `linalg.solve_ex(A, B, left)` with `self` as A and B a batch of matrices (the Python
    /// API handles vectors and promotion): X with A X = B (or X A = B), one LU per matrix,
    /// and LAPACK's info per matrix. Batch dims broadcast.
    pub fn linalg_solve_ex(&self, b: &Tensor, left: bool) -> Result<(Tensor, Tensor)> {
        if let Some(dev) = device_of(&[self, b])? {
            let (x, info) = host(self)?.linalg_solve_ex(&host(b)?, left)?;
            return Ok((x.to_device(dev)?, info.to_device(dev)?));
        }
        let op = "linalg.solve";
        check_float(self, op)?;
        let n = check_square(self, op, "A")?;
        check_cpu(b, op)?;
        if b.ndim() < 2 {
            bail!(Runtime, "{op}: The input tensor B must have at least 2 dimensions.");
        }
        if self.dtype() != b.dtype() {
            bail!(
                Runtime,
                "{op}: Expected A and B to have the same dtype, but found A of type {} and B of type {} instead",
                type_name(self.dtype()),
                type_name(b.dtype())
            );
        }
        let (bm, bk) = (b.shape()[b.ndim() - 2], b.shape()[b.ndim() - 1]);
        if (left && bm != n) || (!left && bk != n) {
            let eq = if left { "AX = B" } else { "XA = B" };
            bail!(
                Runtime,
                "{op}: Incompatible shapes of A and B for the equation {eq} ({n}x{n} and {bm}x{bk})"
            );
        }
        let mut shape: Vec<usize> =
            broadcast_shapes(&self.shape()[..self.ndim() - 2], &b.shape()[..b.ndim() - 2])?.to_vec();
        shape.extend_from_slice(&[bm, bk]);
        let (x, info) = match self.dtype() {
            DType::F32 => solve_kernel::<f32>(self, b, &shape, left)?,
            _ => solve_kernel::<f64>(self, b, &shape, left)?,
        };
        let saved = Saved::output(&x, "LinalgSolveExBackward0");
        let x = recorded(x, "LinalgSolveExBackward0", &[self, b], || Op::Solve {
            a: Saved::input(self),
            b: Saved::input(b),
            x: saved,
            left,
        });
        Ok((x, info))
    }

    /// `linalg.det`: one LU per matrix; its gradient is the adjugate's transpose, finite for
    /// singular matrices too.
    pub fn linalg_det(&self) -> Result<Tensor> {
        if let Some(dev) = device_of(&[self])? {
            return host(self)?.linalg_det()?.to_device(dev);
        }
        let (sign, logabs) = self.detach().linalg_slogdet("linalg.det")?;
        let det = sign.mul(&logabs.exp()?)?;
        let saved = Saved::output(&det, "LinalgDetBackward0");
        Ok(recorded(det, "LinalgDetBackward0", &[self], || Op::Det { a: Saved::input(self), det: saved }))
    }
}
