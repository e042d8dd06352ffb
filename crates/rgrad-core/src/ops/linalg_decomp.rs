//! `linalg.eigh`, `linalg.svd` and `linalg.qr` over faer's dense decompositions, batched over
//! the leading dims (rayon over the batch, each matrix decomposed sequentially). The outputs
//! follow PyTorch's layout (eigenvalues ascending, singular values descending, `Vh` rather
//! than `V`); the signs of eigen- and singular vectors are faer's, so only sign-invariant
//! quantities match LAPACK. Backward rules are in `autograd/rules/linalg_decomp.rs`.

use super::linalg_factor::{check_cpu, dense, device_of, host, slice, type_name, zeroed, Real};
use crate::autograd::{needs_grad, record, DecompSaved, Op, Saved};
use crate::bail;
use crate::error::Result;
use crate::shape::checked_numel;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::DType;
use faer::{MatRef, Side};
use rayon::prelude::*;

/// What `linalg.qr` returns: Q and R, only R, or the full square Q.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QrMode {
    Reduced,
    Complete,
    R,
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

fn check_matrix(a: &Tensor, op: &str) -> Result<(usize, usize)> {
    if a.ndim() < 2 {
        bail!(Runtime, "{op}: The input tensor A must have at least 2 dimensions.");
    }
    check_cpu(a, op)?;
    Ok((a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]))
}

/// Runs `f` on each matrix of the batch (`m x n`, row-major) in parallel; `f` fills one
/// chunk of each output (sizes `sizes`). Outputs of a zero size are left empty.
fn per_matrix<T: Real, const K: usize>(
    a: &Tensor,
    batch: usize,
    sizes: [usize; K],
    f: impl Fn(MatRef<'_, T>, &mut [&mut [T]; K]) + Sync,
) -> Result<[Vec<T>; K]> {
    let (m, n) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    let mut outs: [Vec<T>; K] = std::array::from_fn(|_| Vec::new());
    for (o, s) in outs.iter_mut().zip(sizes) {
        *o = zeroed::<T>(batch.saturating_mul(s))?;
    }
    if batch == 0 {
        return Ok(outs);
    }
    let src = dense(a)?;
    let data = slice::<T>(&src);
    let parts: Vec<[Vec<T>; K]> = (0..batch)
        .into_par_iter()
        .map(|i| {
            let mut bufs: [Vec<T>; K] =
                std::array::from_fn(|k| vec![<T as Element>::from_f64(0.0); sizes[k]]);
            let mat = MatRef::from_row_major_slice(&data[i * m * n..(i + 1) * m * n], m, n);
            {
                let mut refs: [&mut [T]; K] = {
                    let mut it = bufs.iter_mut();
                    std::array::from_fn(|_| it.next().map(|v| v.as_mut_slice()).unwrap_or(&mut []))
                };
                f(mat, &mut refs);
            }
            bufs
        })
        .collect();
    for (i, part) in parts.into_iter().enumerate() {
        for k in 0..K {
            outs[k][i * sizes[k]..(i + 1) * sizes[k]].copy_from_slice(&part[k]);
        }
    }
    Ok(outs)
}

fn nan<T: Real>() -> T {
    <T as Element>::from_f64(f64::NAN)
}

fn eigh_kernel<T: Real>(a: &Tensor, n: usize, upper: bool) -> Result<(Tensor, Tensor)> {
    let shape = a.shape().to_vec();
    let batch_shape = &shape[..shape.len() - 2];
    let batch = checked_numel(batch_shape)?;
    let [l, v] = per_matrix::<T, 2>(a, batch, [n, n * n], |mat, [l, v]| {
        // faer reads the lower triangle; PyTorch's UPLO='U' is the lower one of A^T.
        let mat = if upper { mat.transpose() } else { mat };
        match mat.self_adjoint_eigen(Side::Lower) {
            Ok(e) => {
                let (s, u) = (e.S(), e.U());
                for i in 0..n {
                    l[i] = s[i];
                    for j in 0..n {
                        v[i * n + j] = u[(i, j)];
                    }
                }
            }
            Err(_) => {
                l.fill(nan());
                v.fill(nan());
            }
        }
    })?;
    let mut lshape = batch_shape.to_vec();
    lshape.push(n);
    Ok((Tensor::from_vec(l, &lshape), Tensor::from_vec(v, &shape)))
}

/// U (m x ku), S (k), Vh (kv x n) with ku = kv = k (thin) or m, n (full).
fn svd_kernel<T: Real>(a: &Tensor, m: usize, n: usize, full: bool) -> Result<[Tensor; 3]> {
    let shape = a.shape().to_vec();
    let batch_shape = &shape[..shape.len() - 2];
    let batch = checked_numel(batch_shape)?;
    let k = m.min(n);
    let (ku, kv) = if full { (m, n) } else { (k, k) };
    let [u, s, vh] = per_matrix::<T, 3>(a, batch, [m * ku, k, kv * n], |mat, [u, s, vh]| {
        let res = if full { mat.svd() } else { mat.thin_svd() };
        match res {
            Ok(d) => {
                let (du, ds, dv) = (d.U(), d.S(), d.V());
                for i in 0..m {
                    for j in 0..ku {
                        u[i * ku + j] = du[(i, j)];
                    }
                }
                for i in 0..k {
                    s[i] = ds[i];
                }
                for i in 0..kv {
                    for j in 0..n {
                        vh[i * n + j] = dv[(j, i)];
                    }
                }
            }
            Err(_) => {
                u.fill(nan());
                s.fill(nan());
                vh.fill(nan());
            }
        }
    })?;
    let with = |tail: &[usize]| {
        let mut s = batch_shape.to_vec();
        s.extend_from_slice(tail);
        s
    };
    Ok([
        Tensor::from_vec(u, &with(&[m, ku])),
        Tensor::from_vec(s, &with(&[k])),
        Tensor::from_vec(vh, &with(&[kv, n])),
    ])
}

/// Q (m x kq) and R (kq x n) with kq = min(m, n), or m when complete; for mode 'r' Q is
/// computed but dropped by the caller.
fn qr_kernel<T: Real>(a: &Tensor, m: usize, n: usize, complete: bool) -> Result<[Tensor; 2]> {
    let shape = a.shape().to_vec();
    let batch_shape = &shape[..shape.len() - 2];
    let batch = checked_numel(batch_shape)?;
    let kq = if complete { m } else { m.min(n) };
    let [q, r] = per_matrix::<T, 2>(a, batch, [m * kq, kq * n], |mat, [q, r]| {
        let d = mat.qr();
        let dq = if complete { d.compute_Q() } else { d.compute_thin_Q() };
        let dr = d.R();
        for i in 0..m {
            for j in 0..kq {
                q[i * kq + j] = dq[(i, j)];
            }
        }
        // faer's R has min(m, n) rows; the complete R has zero rows below.
        for i in 0..kq.min(dr.nrows()) {
            for j in i..n {
                r[i * n + j] = dr[(i, j)];
            }
        }
    })?;
    let with = |tail: &[usize]| {
        let mut s = batch_shape.to_vec();
        s.extend_from_slice(tail);
        s
    };
    Ok([Tensor::from_vec(q, &with(&[m, kq])), Tensor::from_vec(r, &with(&[kq, n]))])
}

impl Tensor {
    /// `linalg.eigh(A, UPLO)`: eigenvalues (ascending) and orthonormal eigenvectors (columns)
    /// of the symmetric matrices whose lower (or `upper`) triangle is given.
    pub fn linalg_eigh(&self, upper: bool) -> Result<(Tensor, Tensor)> {
        if let Some(dev) = device_of(&[self])? {
            let (l, v) = host(self)?.linalg_eigh(upper)?;
            return Ok((l.to_device(dev)?, v.to_device(dev)?));
        }
        let op = "linalg.eigh";
        if !self.dtype().is_float() {
            bail!(NotImplemented, "\"linalg_eigh_cpu\" not implemented for '{}'", type_name(self.dtype()));
        }
        let (r, c) = check_matrix(self, op)?;
        if r != c {
            bail!(Runtime, "{op}: A must be batches of square matrices, but they are {r} by {c} matrices");
        }
        let (l, v) = match self.dtype() {
            DType::F32 => eigh_kernel::<f32>(self, r, upper)?,
            _ => eigh_kernel::<f64>(self, r, upper)?,
        };
        if needs_grad(&[self]) {
            let name = "LinalgEighBackward0";
            let saved = DecompSaved::Eigh {
                a: Saved::input(self),
                l: Saved::output(&l, name),
                v: Saved::output(&v, name),
                upper,
            };
            record(name, Op::Decomp(Box::new(saved)), &[self], &[&l, &v]);
        }
        Ok((l, v))
    }

    /// `linalg.svd(A, full_matrices)`: U, S (descending), Vh with A = U diag(S) Vh.
    pub fn linalg_svd(&self, full_matrices: bool) -> Result<(Tensor, Tensor, Tensor)> {
        if let Some(dev) = device_of(&[self])? {
            let (u, s, vh) = host(self)?.linalg_svd(full_matrices)?;
            return Ok((u.to_device(dev)?, s.to_device(dev)?, vh.to_device(dev)?));
        }
        let op = "linalg.svd";
        check_float(self, op)?;
        let (m, n) = check_matrix(self, op)?;
        let [u, s, vh] = match self.dtype() {
            DType::F32 => svd_kernel::<f32>(self, m, n, full_matrices)?,
            _ => svd_kernel::<f64>(self, m, n, full_matrices)?,
        };
        if needs_grad(&[self]) {
            let name = "LinalgSvdBackward0";
            let saved = DecompSaved::Svd {
                a: Saved::input(self),
                u: Saved::output(&u, name),
                s: Saved::output(&s, name),
                vh: Saved::output(&vh, name),
                full: full_matrices,
            };
            record(name, Op::Decomp(Box::new(saved)), &[self], &[&u, &s, &vh]);
        }
        Ok((u, s, vh))
    }

    /// `linalg.qr(A, mode)`: Q with orthonormal columns and upper-triangular R, A = Q R; for
    /// mode 'r' Q is an empty tensor (and R has no gradient, as in PyTorch).
    pub fn linalg_qr(&self, mode: QrMode) -> Result<(Tensor, Tensor)> {
        if let Some(dev) = device_of(&[self])? {
            let (q, r) = host(self)?.linalg_qr(mode)?;
            return Ok((q.to_device(dev)?, r.to_device(dev)?));
        }
        let op = "linalg.qr";
        check_float(self, op)?;
        let (m, n) = check_matrix(self, op)?;
        let complete = mode == QrMode::Complete;
        let [q, r] = match self.dtype() {
            DType::F32 => qr_kernel::<f32>(self, m, n, complete)?,
            _ => qr_kernel::<f64>(self, m, n, complete)?,
        };
        let q = if mode == QrMode::R { Tensor::zeros(&[0], self.dtype())? } else { q };
        if needs_grad(&[self]) {
            let name = "LinalgQrBackward0";
            let saved = DecompSaved::Qr {
                a: Saved::input(self),
                q: Saved::output(&q, name),
                r: Saved::output(&r, name),
                mode,
            };
            record(name, Op::Decomp(Box::new(saved)), &[self], &[&q, &r]);
        }
        Ok((q, r))
    }
}
