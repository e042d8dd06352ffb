//! `index_add`, `index_copy`, `index_fill` and `fill_diagonal_` (out of place here; the
//! bindings run them in place through `apply_inplace`). The writes go through the scatter
//! and `where` kernels (CPU and wgpu) with the index expanded over `source`; each records
//! its own node with PyTorch's backward: `index_add` passes the gradient to `self` and
//! selects it (times alpha) for `source`, `index_copy`/`index_fill` zero it at the written
//! positions.

use crate::autograd::{recorded, Op};
use crate::bail;
use crate::error::Result;
use crate::ops::binary::{where_, Operand};
use crate::shape::{fmt_shape, normalize_dim};
use crate::tensor::Tensor;
use crate::{DType, Scalar};

fn shape_list(s: &[usize]) -> String {
    format!("[{}]", s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))
}

impl Tensor {
    /// PyTorch's `index_func_meta_impl` checks, then the index values (int64, checked in
    /// range; negative ones are out of range here, as in PyTorch).
    fn index_source_checks(&self, op: &str, d: usize, index: &Tensor, source: &Tensor) -> Result<Vec<i64>> {
        if index.ndim() > 1 {
            bail!(
                Index,
                "{op}_(): Index is supposed to be a vector, but got dim: {} with type: {} and size: {}",
                index.ndim(),
                index.dtype().scalar_name(),
                shape_list(index.shape())
            );
        }
        if op == "index_copy" {
            if index.dtype() != DType::I64 {
                bail!(
                    Runtime,
                    "index_copy_(): Expected a long tensor for index, but got {}",
                    index.dtype().scalar_name()
                );
            }
            if self.dtype() != source.dtype() {
                bail!(
                    Runtime,
                    "index_copy_(): self and source expected to have the same dtype, but got (self) {} and (source) {}",
                    self.dtype().scalar_name(),
                    source.dtype().scalar_name()
                );
            }
        } else {
            if !matches!(index.dtype(), DType::I64 | DType::I32) {
                bail!(
                    Runtime,
                    "{op}_(): Expected dtype int32/int64 for index but got: {}",
                    index.dtype().scalar_name()
                );
            }
            if self.dtype() != source.dtype() {
                bail!(
                    Runtime,
                    "{op}_(): self ({}) and source ({}) must have the same scalar type",
                    self.dtype().scalar_name(),
                    source.dtype().scalar_name()
                );
            }
        }
        if d != 0 && d >= source.ndim() {
            bail!(
                Index,
                "{op}_(): Indexing dim {} is out of bounds of the source tensor with dim {}",
                d,
                source.ndim()
            );
        }
        let along = if source.ndim() == 0 { 1 } else { source.shape()[d] };
        if index.numel() != along {
            if op == "index_copy" {
                bail!(
                    Index,
                    "index_copy_(): Number of indices ({}) should be equal to source.size(dim) ({})",
                    index.numel(),
                    along
                );
            }
            bail!(
                Runtime,
                "{op}_(): Number of indices ({}) should be equal to source.size(dim): ({}), for dim: {}",
                index.numel(),
                along,
                d
            );
        }
        let (mut a, mut b) = (self.dims(), source.dims());
        if self.ndim() != 0 && source.ndim() != 0 {
            a.remove(d);
            b.remove(d);
        }
        if a != b && !(a.is_empty() && b.is_empty()) {
            bail!(
                Runtime,
                "source tensor shape must match self tensor shape, excluding the specified dimension. Got self.shape = {} source.shape = {}",
                shape_list(self.shape()),
                shape_list(source.shape())
            );
        }
        let n = self.shape().get(d).copied().unwrap_or(1) as i64;
        let vals = index.to_cpu()?.to_dtype(DType::I64)?.contiguous()?.try_to_vec::<i64>()?;
        if let Some(&bad) = vals.iter().find(|&&v| v < 0 || v >= n) {
            if op == "index_copy" {
                bail!(
                    Index,
                    "index_copy_(): index {} is out of bounds for dimension {} with size {}",
                    bad,
                    d,
                    n
                );
            }
            bail!(Runtime, "index {} is out of bounds for dimension {} with size {}", bad, d, n);
        }
        Ok(vals)
    }

    /// The index as a scatter index over `source`'s shape (self and source as >= 1-d).
    fn index_over(&self, d: usize, vals: &[i64], source: &Tensor) -> Result<(Tensor, Tensor)> {
        let src = if source.ndim() == 0 { source.detach().reshape(&[1])? } else { source.detach() };
        let mut view = vec![1i64; src.ndim()];
        view[d] = -1;
        let sizes: Vec<i64> = src.shape().iter().map(|&s| s as i64).collect();
        // On the host whatever the device: the scatter reads the offsets there.
        let ix = Tensor::from_vec(vals.to_vec(), &[vals.len()]);
        Ok((ix.reshape(&view)?.expand(&sizes)?, src))
    }

    /// A bool mask, true at `vals` along `d`, shaped to broadcast over `self`.
    fn dim_mask(&self, d: usize, vals: &[i64]) -> Result<Tensor> {
        let n = self.shape().get(d).copied().unwrap_or(1);
        let mut m = vec![false; n];
        for &v in vals {
            m[v as usize] = true;
        }
        let mut shape = vec![1usize; self.ndim()];
        if self.ndim() > 0 {
            shape[d] = n;
        }
        Tensor::from_vec(m, &shape).to_device_kernel(self.device())
    }

    /// `index_add(dim, index, source, alpha=1)`.
    pub fn index_add(&self, dim: i64, index: &Tensor, source: &Tensor, alpha: Scalar) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim())?;
        crate::ops::common_device(&[self, index, source])?;
        let vals = self.index_source_checks("index_add", d, index, source)?;
        let base = if self.ndim() == 0 { self.detach().reshape(&[1])? } else { self.detach() };
        let (ix, src) = base.index_over(d, &vals, source)?;
        let scaled = match alpha {
            Scalar::Int(1) => src,
            a => crate::ops::binary::binary(
                crate::ops::binary::BinaryOp::Mul,
                Operand::T(&src),
                Operand::S(a),
            )?
            .to_dtype(self.dtype())?,
        };
        let out = base.scatter_add(d as i64, &ix, &scaled)?.reshape(&self.shape_i64_pub())?;
        let index = Tensor::from_vec(vals, &[index.numel()]).to_device_kernel(self.device())?;
        Ok(recorded(out, "IndexAddBackward0", &[self, source], || Op::IndexAdd {
            dim: d,
            index,
            alpha: alpha.to_f64(),
            source_shape: source.dims(),
        }))
    }

    /// `index_copy(dim, index, source)`.
    pub fn index_copy(&self, dim: i64, index: &Tensor, source: &Tensor) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim())?;
        crate::ops::common_device(&[self, index, source])?;
        let vals = self.index_source_checks("index_copy", d, index, source)?;
        let base = if self.ndim() == 0 { self.detach().reshape(&[1])? } else { self.detach() };
        let (ix, src) = base.index_over(d, &vals, source)?;
        let out = base.scatter(d as i64, &ix, &src)?.reshape(&self.shape_i64_pub())?;
        let mask = self.dim_mask(d, &vals)?;
        let index = Tensor::from_vec(vals, &[index.numel()]).to_device_kernel(self.device())?;
        Ok(recorded(out, "IndexCopyBackward0", &[self, source], || Op::IndexCopy {
            dim: d,
            index,
            mask,
            source_shape: source.dims(),
        }))
    }

    /// `index_fill(dim, index, value)`: negative indices count from the end.
    pub fn index_fill(&self, dim: i64, index: &Tensor, value: Scalar) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim())?;
        if !matches!(index.dtype(), DType::I64) {
            bail!(Index, "index_fill_(): Expected dtype int64 for index.");
        }
        if index.ndim() > 1 {
            bail!(Runtime, "Index has to be a vector/scalar");
        }
        let n = self.shape().get(d).copied().unwrap_or(1) as i64;
        let mut vals = index.to_cpu()?.contiguous()?.try_to_vec::<i64>()?;
        for v in vals.iter_mut() {
            if *v < -n || *v >= n {
                bail!(Index, "index {} is out of bounds for dimension {} with size {}", v, d, n);
            }
            if *v < 0 {
                *v += n;
            }
        }
        let mask = self.dim_mask(d, &vals)?;
        self.fill_masked(mask, value, "IndexFillBackward0")
    }

    /// `fill_diagonal_(fill_value, wrap=False)` out of place: the main diagonal of a matrix
    /// (restarting below a tall matrix's square with `wrap`), or of an n-cube.
    pub fn fill_diagonal(&self, value: Scalar, wrap: bool) -> Result<Tensor> {
        if self.ndim() < 2 {
            bail!(Runtime, "dimensions must larger than 1");
        }
        let s = self.shape();
        if s.iter().any(|&x| x != s[0]) && self.ndim() > 2 {
            bail!(Runtime, "all dimensions of input must be of equal length");
        }
        let total = self.numel();
        let mut m = vec![false; total];
        if self.ndim() == 2 {
            let (r, c) = (s[0], s[1]);
            let end = if wrap { total } else { r.min(c) * c };
            (0..end).step_by(c + 1).for_each(|p| m[p] = true);
        } else {
            let step: usize = crate::shape::contiguous_strides(s).iter().sum();
            (0..s[0]).for_each(|i| m[i * step] = true);
        }
        let mask = Tensor::from_vec(m, s).to_device_kernel(self.device())?;
        self.fill_masked(mask, value, "FillDiagonalBackward0")
    }

    fn fill_masked(&self, mask: Tensor, value: Scalar, name: &'static str) -> Result<Tensor> {
        let out = where_(&mask, Operand::S(value), Operand::T(&self.detach()))?.to_dtype(self.dtype())?;
        if out.shape() != self.shape() {
            bail!(
                Runtime,
                "index_fill: result of shape {} does not match self {}",
                fmt_shape(out.shape()),
                fmt_shape(self.shape())
            );
        }
        Ok(recorded(out, name, &[self], || Op::MaskFill { mask }))
    }

    pub(crate) fn shape_i64_pub(&self) -> Vec<i64> {
        self.shape().iter().map(|&s| s as i64).collect()
    }
}
