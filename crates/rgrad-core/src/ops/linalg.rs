//! Matrix products: mm, bmm, dot and the broadcasting `matmul` built from them.

use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::cpu::matmul::{matmul as gemm_kernel, Mat};
use crate::error::Result;
use crate::shape::broadcast_shapes;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::with_dtype;

fn mat<'a, T: Element>(t: &'a Tensor, batch: usize) -> Mat<'a, T> {
    let l = t.layout();
    let nd = l.ndim();
    let batch_off = if nd == 3 { batch * l.strides[0] } else { 0 };
    Mat {
        data: t.storage_slice::<T>(),
        offset: l.offset + batch_off,
        rs: l.strides[nd - 2],
        cs: l.strides[nd - 1],
    }
}

fn check_same_dtype(a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() != b.dtype() {
        bail!(
            Runtime,
            "expected m1 and m2 to have the same dtype, but got: {} != {}",
            scalar_type_name(a.dtype()),
            scalar_type_name(b.dtype())
        );
    }
    Ok(())
}

fn scalar_type_name(dt: crate::DType) -> &'static str {
    match dt {
        crate::DType::Bool => "bool",
        crate::DType::I32 => "int",
        crate::DType::I64 => "long int",
        crate::DType::F32 => "float",
        crate::DType::F64 => "double",
    }
}

/// `[batch] x m x k` times `[batch] x k x n` without autograd; 2-D or 3-D operands.
fn product_kernel(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (nd, sa, sb) = (a.ndim(), a.shape(), b.shape());
    let (m, k, n) = (sa[nd - 2], sa[nd - 1], sb[nd - 1]);
    let batch = if nd == 3 { sa[0] } else { 1 };
    let shape: Vec<usize> = if nd == 3 { vec![batch, m, n] } else { vec![m, n] };
    if crate::ops::common_device(&[a, b])? == crate::Device::Wgpu {
        let as3 = |t: &Tensor| if nd == 3 { t.clone() } else { t.with_layout_pub(t.layout().unsqueeze(0)) };
        let out = crate::gpu::matmul(&as3(a), &as3(b))?;
        return Ok(out.with_layout_pub(crate::Layout::contiguous(&shape)));
    }
    Ok(with_dtype!(a.dtype(), T => {
        let mut out = vec![T::default(); batch * m * n];
        for (i, chunk) in out.chunks_mut((m * n).max(1)).enumerate().take(batch) {
            gemm_kernel(mat::<T>(a, i), mat::<T>(b, i), chunk, m, k, n);
        }
        Tensor::from_vec(out, &shape)
    }))
}

impl Tensor {
    /// `mm`: 2-D matrix product.
    pub fn mm(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() != 2 || other.ndim() != 2 {
            let which = if self.ndim() != 2 { ("self", self.ndim()) } else { ("mat2", other.ndim()) };
            bail!(Runtime, "{} must be a matrix, got {}-D tensor", which.0, which.1);
        }
        let (sa, sb) = (self.shape(), other.shape());
        if sa[1] != sb[0] {
            bail!(
                Runtime,
                "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                sa[0],
                sa[1],
                sb[0],
                sb[1]
            );
        }
        check_same_dtype(self, other)?;
        let out = product_kernel(self, other)?;
        Ok(recorded(out, "MmBackward0", &[self, other], || Op::Mm {
            a: Saved::input(self),
            b: Saved::input(other),
        }))
    }

    /// `bmm`: batched 3-D matrix product.
    pub fn bmm(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() != 3 || other.ndim() != 3 {
            let which = if self.ndim() != 3 { ("batch1", self.ndim()) } else { ("batch2", other.ndim()) };
            bail!(Runtime, "{} must be a 3D tensor", which.0);
        }
        let (sa, sb) = (self.shape(), other.shape());
        if sb[0] != sa[0] || sb[1] != sa[2] {
            bail!(
                Runtime,
                "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
                sa[0],
                sa[2],
                sb[0],
                sb[1]
            );
        }
        check_same_dtype(self, other)?;
        let out = product_kernel(self, other)?;
        Ok(recorded(out, "BmmBackward0", &[self, other], || Op::Bmm {
            a: Saved::input(self),
            b: Saved::input(other),
        }))
    }

    /// `dot`: inner product of two vectors.
    pub fn dot(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 || other.ndim() != 1 {
            bail!(Runtime, "1D tensors expected, but got {}D and {}D tensors", self.ndim(), other.ndim());
        }
        if self.numel() != other.numel() {
            bail!(
                Runtime,
                "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                self.numel(),
                other.numel(),
                self.numel(),
                other.numel()
            );
        }
        check_same_dtype(self, other)?;
        let n = self.numel();
        if crate::ops::common_device(&[self, other])? == crate::Device::Wgpu {
            let (la, lb) = (self.layout(), other.layout());
            let a = self.with_layout_pub(crate::Layout {
                shape: [1, 1, n][..].into(),
                strides: [0, 0, la.strides[0]][..].into(),
                offset: la.offset,
            });
            let b = other.with_layout_pub(crate::Layout {
                shape: [1, n, 1][..].into(),
                strides: [0, lb.strides[0], 0][..].into(),
                offset: lb.offset,
            });
            let out = crate::gpu::matmul(&a, &b)?.reshape(&[])?;
            return Ok(recorded(out, "DotBackward0", &[self, other], || Op::Dot {
                a: Saved::input(self),
                b: Saved::input(other),
            }));
        }
        let out = with_dtype!(self.dtype(), T => {
            let (la, lb) = (self.layout(), other.layout());
            let a = Mat { data: self.storage_slice::<T>(), offset: la.offset, rs: 0, cs: la.strides[0] };
            let b = Mat { data: other.storage_slice::<T>(), offset: lb.offset, rs: lb.strides[0], cs: 0 };
            let mut o = vec![T::default(); 1];
            gemm_kernel(a, b, &mut o, 1, n, 1);
            Tensor::from_vec(o, &[])
        });
        Ok(recorded(out, "DotBackward0", &[self, other], || Op::Dot {
            a: Saved::input(self),
            b: Saved::input(other),
        }))
    }

    /// `matmul` / `@` with PyTorch's rules for 1-D operands and batch broadcasting.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (da, db) = (self.ndim(), other.ndim());
        if da == 0 || db == 0 {
            bail!(
                Runtime,
                "both arguments to matmul need to be at least 1D, but they are {}D and {}D",
                da,
                db
            );
        }
        match (da, db) {
            (1, 1) => return self.dot(other),
            (2, 2) => return self.mm(other),
            (1, 2) => return self.unsqueeze(0)?.mm(other)?.squeeze(Some(0)),
            (2, 1) => return self.mm(&other.unsqueeze(1)?)?.squeeze(Some(-1)),
            _ => {}
        }
        if db <= 2 {
            // Fold the batch into rows: one large mm instead of many small ones.
            let b2 = if db == 1 { other.unsqueeze(1)? } else { other.clone() };
            let k = self.shape()[da - 1] as i64;
            let rows = self.reshape(&[-1, k])?.mm(&b2)?;
            let mut shape: Vec<i64> = self.shape()[..da - 1].iter().map(|&s| s as i64).collect();
            if db == 2 {
                shape.push(b2.shape()[1] as i64);
            }
            return rows.reshape(&shape);
        }
        let a = if da == 1 { self.unsqueeze(0)? } else { self.clone() };
        let b = if db == 1 { other.unsqueeze(1)? } else { other.clone() };
        let (na, nb) = (a.ndim(), b.ndim());
        let (m, k1) = (a.shape()[na - 2], a.shape()[na - 1]);
        let (k2, p) = (b.shape()[nb - 2], b.shape()[nb - 1]);
        if k1 != k2 {
            bail!(Runtime, "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})", m, k1, k2, p);
        }
        let batch = broadcast_shapes(&a.shape()[..na - 2], &b.shape()[..nb - 2])?;
        let nbatch: usize = batch.iter().product();
        let expand = |t: &Tensor, r: usize, c: usize| -> Result<Tensor> {
            let mut s: Vec<i64> = batch.iter().map(|&x| x as i64).collect();
            s.extend([r as i64, c as i64]);
            t.expand(&s)?.reshape(&[nbatch as i64, r as i64, c as i64])
        };
        let out = expand(&a, m, k1)?.bmm(&expand(&b, k2, p)?)?;
        let mut shape: Vec<i64> = batch.iter().map(|&x| x as i64).collect();
        if da > 1 {
            shape.push(m as i64);
        }
        if db > 1 {
            shape.push(p as i64);
        }
        out.reshape(&shape)
    }
}
