//! `torch.linalg` factorizations and triangular solves over `faer`, batched over the leading
//! dims (rayon over the batch, each matrix solved sequentially). Backward rules are in
//! `autograd/rules/linalg.rs`.

use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::error::Result;
use crate::shape::{broadcast_shapes, checked_numel};
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{DType, Device};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltError};
use faer::linalg::triangular_solve as tri;
use faer::{MatMut, MatRef, Par};
use rayon::prelude::*;

/// The element types faer factorizes that rgrad has.
pub(super) trait Real: Element + faer::traits::RealField + Copy + Send + Sync {}
impl Real for f32 {}
impl Real for f64 {}

pub(super) fn type_name(dt: DType) -> &'static str {
    dt.scalar_name()
}

/// PyTorch's checks on a batch of square matrices named `name` of op `op`: at least 2-D,
/// square, on the CPU.
pub(super) fn check_square(a: &Tensor, op: &str, name: &str) -> Result<usize> {
    if a.ndim() < 2 {
        bail!(Runtime, "{op}: The input tensor {name} must have at least 2 dimensions.");
    }
    let (r, c) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    if r != c {
        bail!(Runtime, "{op}: {name} must be batches of square matrices, but they are {r} by {c} matrices");
    }
    check_cpu(a, op)?;
    Ok(r)
}

/// Device tensors take one clear path: the op runs on a host copy and its outputs are
/// uploaded. Both copies are recorded (`ToCopyBackward0`), so gradients flow back to the
/// device. `None` for CPU operands; PyTorch's error for mixed devices.
pub(super) fn device_of(ts: &[&Tensor]) -> Result<Option<Device>> {
    let dev = crate::ops::common_device(ts)?;
    Ok(if dev == Device::Cpu { None } else { Some(dev) })
}

pub(super) fn host(t: &Tensor) -> Result<Tensor> {
    t.to_device(Device::Cpu)
}

/// The kernels run on the host; the entry points move device operands there first (see
/// [`device_of`]), so this only guards the kernels.
pub(super) fn check_cpu(a: &Tensor, op: &str) -> Result<()> {
    if a.device() == Device::Wgpu {
        bail!(
            NotImplemented,
            "{op}: not implemented for tensors on the wgpu device (move the input to the CPU with .cpu())"
        );
    }
    Ok(())
}

/// A zeroed output buffer of `numel` elements, or PyTorch's out-of-memory error instead of an
/// abort when a broadcast batch is absurdly large.
pub(super) fn zeroed<T: Element>(numel: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    if v.try_reserve_exact(numel).is_err() {
        let bytes = numel.saturating_mul(std::mem::size_of::<T>());
        bail!(Runtime, "DefaultCPUAllocator: not enough memory: you tried to allocate {bytes} bytes.");
    }
    v.resize(numel, <T as Element>::from_f64(0.0));
    Ok(v)
}

/// The elements of `t` in row-major order (one copy when strided).
pub(super) fn dense(t: &Tensor) -> Result<Tensor> {
    let t = t.detach();
    if t.layout().is_contiguous() {
        Ok(t)
    } else {
        t.contiguous()
    }
}

pub(super) fn slice<T: Element>(t: &Tensor) -> &[T] {
    let l = t.layout();
    &t.storage_slice::<T>()[l.offset..l.offset + l.numel()]
}

/// Maps a flat index of the broadcast batch `out` to the flat batch index of `src` (whose
/// batch dims, right-aligned, are each equal to `out`'s or 1).
pub(super) struct BatchMap {
    out: Vec<usize>,
    src: Vec<usize>,
}

impl BatchMap {
    pub(super) fn new(out: &[usize], src: &[usize]) -> BatchMap {
        let mut s = vec![1; out.len() - src.len()];
        s.extend_from_slice(src);
        BatchMap { out: out.to_vec(), src: s }
    }

    pub(super) fn map(&self, mut i: usize) -> usize {
        let (mut j, mut stride) = (0, 1);
        for d in (0..self.out.len()).rev() {
            let idx = i % self.out[d];
            i /= self.out[d];
            if self.src[d] != 1 {
                j += idx * stride;
            }
            stride *= self.src[d];
        }
        j
    }
}

/// Lower Cholesky factor of the lower triangle of `a` (row-major n x n) into `l`; the LAPACK
/// info (0, or the order of the first non-positive-definite leading minor).
fn cholesky_one<T: Real>(a: &[T], l: &mut [T], n: usize, mem: &mut MemBuffer) -> i32 {
    for i in 0..n {
        l[i * n..i * n + i + 1].copy_from_slice(&a[i * n..i * n + i + 1]);
    }
    let stack = MemStack::new(mem);
    let m = MatMut::from_row_major_slice_mut(l, n, n);
    let info = match cholesky_in_place(m, Default::default(), Par::Seq, stack, Default::default()) {
        Ok(_) => 0,
        Err(LltError::NonPositivePivot { index }) => i32::try_from(index + 1).unwrap_or(i32::MAX),
    };
    for i in 0..n {
        for v in &mut l[i * n + i + 1..(i + 1) * n] {
            *v = <T as Element>::from_f64(0.0);
        }
    }
    info
}

fn cholesky_kernel<T: Real>(a: &Tensor, n: usize, upper: bool) -> Result<(Tensor, Tensor)> {
    let shape = a.shape().to_vec();
    let batch_shape = &shape[..shape.len() - 2];
    let batch = checked_numel(batch_shape)?;
    // The upper factor of A is the transpose of the lower factor of A^T (PyTorch reads the
    // upper triangle then).
    // The output first: an impossible batch fails here before the input is copied.
    let mut out = zeroed::<T>(checked_numel(&shape)?)?;
    let src = if upper { dense(&a.transpose(-2, -1)?)? } else { dense(a)? };
    let mut info = vec![0i32; batch];
    if n > 0 {
        let data = slice::<T>(&src);
        let scratch = cholesky_in_place_scratch::<T>(n, Par::Seq, Default::default());
        out.par_chunks_mut(n * n).zip(info.par_iter_mut()).enumerate().for_each_init(
            || MemBuffer::new(scratch),
            |mem, (i, (l, inf))| *inf = cholesky_one(&data[i * n * n..(i + 1) * n * n], l, n, mem),
        );
    }
    let mut l = Tensor::from_vec(out, &shape);
    if upper {
        l = l.transpose(-2, -1)?.contiguous()?;
    }
    Ok((l, Tensor::from_vec(info, batch_shape)))
}

/// `X` with `A X = B` (`left`) or `X A = B` for triangular `A`, both row-major, `X` starting
/// as a copy of `B` (m x k).
fn solve_one<T: Real>(a: &[T], x: &mut [T], n: usize, k: usize, upper: bool, left: bool, unit: bool) {
    let am = MatRef::from_row_major_slice(a, n, n);
    if left {
        let xm = MatMut::from_row_major_slice_mut(x, n, k);
        match (upper, unit) {
            (false, false) => tri::solve_lower_triangular_in_place(am, xm, Par::Seq),
            (false, true) => tri::solve_unit_lower_triangular_in_place(am, xm, Par::Seq),
            (true, false) => tri::solve_upper_triangular_in_place(am, xm, Par::Seq),
            (true, true) => tri::solve_unit_upper_triangular_in_place(am, xm, Par::Seq),
        }
    } else {
        // X A = B  <=>  A^T X^T = B^T, and A^T is triangular the other way.
        let xm = MatMut::from_row_major_slice_mut(x, k, n).transpose_mut();
        let at = am.transpose();
        match (upper, unit) {
            (true, false) => tri::solve_lower_triangular_in_place(at, xm, Par::Seq),
            (true, true) => tri::solve_unit_lower_triangular_in_place(at, xm, Par::Seq),
            (false, false) => tri::solve_upper_triangular_in_place(at, xm, Par::Seq),
            (false, true) => tri::solve_unit_upper_triangular_in_place(at, xm, Par::Seq),
        }
    }
}

fn solve_triangular_kernel<T: Real>(
    a: &Tensor,
    b: &Tensor,
    out_shape: &[usize],
    upper: bool,
    left: bool,
    unit: bool,
) -> Result<Tensor> {
    let nd = out_shape.len();
    let n = a.shape()[a.ndim() - 1];
    let (m, k) = (out_shape[nd - 2], out_shape[nd - 1]);
    let batch_out = &out_shape[..nd - 2];
    let amap = BatchMap::new(batch_out, &a.shape()[..a.ndim() - 2]);
    let bmap = BatchMap::new(batch_out, &b.shape()[..b.ndim() - 2]);
    let mut out = zeroed::<T>(checked_numel(out_shape)?)?;
    if m * k > 0 {
        let (ad, bd) = (dense(a)?, dense(b)?);
        let (av, bv) = (slice::<T>(&ad), slice::<T>(&bd));
        out.par_chunks_mut(m * k).enumerate().for_each(|(i, x)| {
            let (ia, ib) = (amap.map(i), bmap.map(i));
            x.copy_from_slice(&bv[ib * m * k..(ib + 1) * m * k]);
            // The other dimension of X: its columns (left) or rows (right).
            let other = if left { k } else { m };
            solve_one(&av[ia * n * n..(ia + 1) * n * n], x, n, other, upper, left, unit);
        });
    }
    Ok(Tensor::from_vec(out, out_shape))
}

impl Tensor {
    /// `linalg.cholesky_ex`: the lower (or `upper`) Cholesky factor and the LAPACK-style info
    /// per matrix (0 on success, else the order of the leading minor that is not positive
    /// definite; the factor is then partial).
    pub fn linalg_cholesky_ex(&self, upper: bool) -> Result<(Tensor, Tensor)> {
        if let Some(dev) = device_of(&[self])? {
            let (l, info) = host(self)?.linalg_cholesky_ex(upper)?;
            return Ok((l.to_device(dev)?, info.to_device(dev)?));
        }
        let op = "linalg.cholesky";
        if !self.dtype().is_float() {
            bail!(
                NotImplemented,
                "{op}: Expected a floating point or complex tensor as input. Got {}",
                type_name(self.dtype())
            );
        }
        if self.dtype().is_reduced_float() {
            bail!(NotImplemented, "\"cholesky_cpu\" not implemented for '{}'", type_name(self.dtype()));
        }
        let n = check_square(self, op, "A")?;
        let (l, info) = match self.dtype() {
            DType::F32 => cholesky_kernel::<f32>(self, n, upper)?,
            _ => cholesky_kernel::<f64>(self, n, upper)?,
        };
        let saved = Saved::output(&l, "LinalgCholeskyExBackward0");
        let l = recorded(l, "LinalgCholeskyExBackward0", &[self], || Op::Cholesky {
            a: Saved::input(self),
            l: saved,
            upper,
        });
        Ok((l, info))
    }

    /// `linalg.solve_triangular(A, B, upper, left, unitriangular)` with `self` as A; batch
    /// dims broadcast. Both operands must have one float dtype (the Python API promotes).
    pub fn linalg_solve_triangular(&self, b: &Tensor, upper: bool, left: bool, unit: bool) -> Result<Tensor> {
        if let Some(dev) = device_of(&[self, b])? {
            return host(self)?.linalg_solve_triangular(&host(b)?, upper, left, unit)?.to_device(dev);
        }
        let op = "linalg.solve_triangular";
        if b.ndim() < 2 {
            bail!(Runtime, "{op}: The input tensor B must have at least 2 dimensions.");
        }
        let n = check_square(self, op, "A")?;
        check_cpu(b, op)?;
        let (bm, bk) = (b.shape()[b.ndim() - 2], b.shape()[b.ndim() - 1]);
        if (left && bm != n) || (!left && bk != n) {
            let eq = if left { "AX = B" } else { "XA = B" };
            bail!(
                Runtime,
                "{op}: Incompatible shapes of A and B for the equation {eq} ({n}x{n} and {bm}x{bk})"
            );
        }
        if self.dtype() != b.dtype() {
            bail!(
                Runtime,
                "{op}: Expected A and B to have the same dtype, but found A of type {} and B of type {} instead",
                type_name(self.dtype()),
                type_name(b.dtype())
            );
        }
        if !self.dtype().is_float() || self.dtype().is_reduced_float() {
            bail!(
                NotImplemented,
                "\"triangular_solve_cpu\" not implemented for '{}'",
                type_name(self.dtype())
            );
        }
        let mut shape: Vec<usize> =
            broadcast_shapes(&self.shape()[..self.ndim() - 2], &b.shape()[..b.ndim() - 2])?.to_vec();
        shape.extend_from_slice(&[bm, bk]);
        let x = match self.dtype() {
            DType::F32 => solve_triangular_kernel::<f32>(self, b, &shape, upper, left, unit)?,
            _ => solve_triangular_kernel::<f64>(self, b, &shape, upper, left, unit)?,
        };
        let saved = Saved::output(&x, "LinalgSolveTriangularBackward0");
        Ok(recorded(x, "LinalgSolveTriangularBackward0", &[self, b], || Op::SolveTriangular {
            a: Saved::input(self),
            b: Saved::input(b),
            x: saved,
            upper,
            left,
            unit,
        }))
    }
}
