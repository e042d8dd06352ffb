//! Matrix products: mm, bmm, dot and the broadcasting `matmul` built from them.

use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::cpu::matmul::{matmul as gemm_kernel, matmul_into, Mat};
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
    dt.c_name()
}

/// `[batch] x m x k` times `[batch] x k x n` without autograd; 2-D or 3-D operands.
fn product_kernel(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (nd, sa, sb) = (a.ndim(), a.shape(), b.shape());
    let (m, k, n) = (sa[nd - 2], sa[nd - 1], sb[nd - 1]);
    let batch = if nd == 3 { sa[0] } else { 1 };
    let shape: Vec<usize> = if nd == 3 { vec![batch, m, n] } else { vec![m, n] };
    if crate::ops::common_device(&[a, b])? == crate::Device::Wgpu {
        let as3 =
            |t: &Tensor| if nd == 3 { Ok(t.clone()) } else { t.with_layout_pub(t.layout().unsqueeze(0)) };
        let out = crate::gpu::matmul(&as3(a)?, &as3(b)?)?;
        return out.with_layout_pub(crate::Layout::contiguous(&shape));
    }
    // float16/bfloat16 multiply in float32 (accumulating there), rounded once.
    if let Some(out) = crate::ops::opmath::many([a, b], |[a, b]| product_kernel(a, b))? {
        return Ok(out);
    }
    Ok(with_dtype!(a.dtype(), T => {
        let mut out = Tensor::buffer_for::<T>(&shape)?;
        for (i, chunk) in out.chunks_mut((m * n).max(1)).enumerate().take(batch) {
            gemm_kernel(mat::<T>(a, i), mat::<T>(b, i), chunk, m, k, n);
        }
        Tensor::from_vec(out, &shape)
    }))
}

impl Tensor {
    /// `mm`: 2-D matrix product.
    pub fn mm(&self, other: &Tensor) -> Result<Tensor> {
        if crate::autocast::casts(&[self, other]) {
            let (a, b) = (crate::autocast::lower(self)?, crate::autocast::lower(other)?);
            return a.mm(&b);
        }
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
        if crate::autocast::casts(&[self, other]) {
            let (a, b) = (crate::autocast::lower(self)?, crate::autocast::lower(other)?);
            return a.bmm(&b);
        }
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
            })?;
            let b = other.with_layout_pub(crate::Layout {
                shape: [1, n, 1][..].into(),
                strides: [0, lb.strides[0], 0][..].into(),
                offset: lb.offset,
            })?;
            let out = crate::gpu::matmul(&a, &b)?.reshape(&[])?;
            return Ok(recorded(out, "DotBackward0", &[self, other], || Op::Dot {
                a: Saved::input(self),
                b: Saved::input(other),
            }));
        }
        let half = crate::ops::opmath::many([self, other], |[a, b]| a.detach().dot(&b.detach()))?;
        let out = if let Some(out) = half {
            out
        } else {
            with_dtype!(self.dtype(), T => {
                let (la, lb) = (self.layout(), other.layout());
                let a = Mat { data: self.storage_slice::<T>(), offset: la.offset, rs: 0, cs: la.strides[0] };
                let b = Mat { data: other.storage_slice::<T>(), offset: lb.offset, rs: lb.strides[0], cs: 0 };
                let mut o = vec![T::default(); 1];
                gemm_kernel(a, b, &mut o, 1, n, 1);
                Tensor::from_vec(o, &[])
            })
        };
        Ok(recorded(out, "DotBackward0", &[self, other], || Op::Dot {
            a: Saved::input(self),
            b: Saved::input(other),
        }))
    }

    /// `matmul` / `@` with PyTorch's rules for 1-D operands and batch broadcasting.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        if crate::autocast::casts(&[self, other]) {
            let (a, b) = (crate::autocast::lower(self)?, crate::autocast::lower(other)?);
            return a.matmul(&b);
        }
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
            // Rows counted, not inferred: -1 is ambiguous when k is 0.
            let rows: usize = self.shape()[..da - 1].iter().product();
            let rows = self.reshape(&[rows as i64, self.shape()[da - 1] as i64])?.mm(&b2)?;
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

/// Whether `linear(x, w, b)` can run as one fused product: float CPU operands of one dtype, a
/// matrix weight whose columns match the input's last dim, and a bias with one value per row
/// of the weight.
fn fused_linear_fits(x: &Tensor, w: &Tensor, b: &Tensor) -> bool {
    let dt = x.dtype();
    x.ndim() >= 2
        && w.ndim() == 2
        && b.ndim() == 1
        && dt.is_float()
        && w.dtype() == dt
        && b.dtype() == dt
        && x.shape()[x.ndim() - 1] == w.shape()[1]
        && b.shape()[0] == w.shape()[0]
        && [x, w, b].iter().all(|t| t.device() == crate::Device::Cpu)
}

impl Tensor {
    /// `linear(input, weight, bias)`: `input @ weight.T + bias`. With a bias that fits, one
    /// product whose accumulator starts as the bias rows, recorded as one node (PyTorch's
    /// `addmm`); otherwise the composite, which also owns the shape and dtype errors.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        if crate::autocast::casts(&[self, weight]) || bias.is_some_and(|b| crate::autocast::casts(&[b])) {
            use crate::autocast::lower;
            let b = bias.map(|b| lower(b).map(std::borrow::Cow::into_owned)).transpose()?;
            let (x, w) = (lower(self)?, lower(weight)?);
            return x.linear(&w, b.as_ref());
        }
        let Some(b) = bias.filter(|b| fused_linear_fits(self, weight, b)) else {
            let out = self.matmul(&weight.t()?)?;
            return match bias {
                Some(b) => out.add(b),
                None => Ok(out),
            };
        };
        if self.ndim() == 2 {
            return self.addmm_t(weight, b);
        }
        let lead = &self.shape()[..self.ndim() - 1];
        let rows = lead.iter().product::<usize>() as i64;
        let mut shape: Vec<i64> = lead.iter().map(|&s| s as i64).collect();
        shape.push(weight.shape()[0] as i64);
        self.reshape(&[rows, weight.shape()[1] as i64])?.addmm_t(weight, b)?.reshape(&shape)
    }

    /// `bias + self @ weight.T` for a 2-D `self` (checked by [`fused_linear_fits`]).
    fn addmm_t(&self, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (m, k, n) = (self.shape()[0], self.shape()[1], weight.shape()[0]);
        let lw = weight.layout();
        let half = crate::ops::opmath::many([self, weight, bias], |[x, w, b]| x.addmm_t(w, b))?;
        let out = if let Some(out) = half {
            out
        } else {
            with_dtype!(self.dtype(), T => {
                let b = bias.try_to_vec::<T>()?;
                let mut out = crate::storage::try_vec_with_capacity(crate::shape::storage_numel(&[m, n], std::mem::size_of::<T>())?)?;
                for _ in 0..m {
                    out.extend_from_slice(&b);
                }
                let wt = Mat { data: weight.storage_slice::<T>(), offset: lw.offset, rs: lw.strides[1], cs: lw.strides[0] };
                matmul_into(mat::<T>(self, 0), wt, &mut out, m, k, n, true);
                Tensor::from_vec(out, &[m, n])
            })
        };
        Ok(recorded(out, "AddmmBackward0", &[self, weight, bias], || Op::Addmm {
            x: Saved::input(self),
            w: Saved::input(weight),
        }))
    }
}
