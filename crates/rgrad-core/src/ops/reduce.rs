//! Reductions: sum and mean over all or some dimensions.

use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::cpu::reduce::{reduce, Sum};
use crate::error::Result;
use crate::shape::{normalize_dims, Dims};
use crate::tensor::Tensor;
use crate::DType;

/// Resolves `dim=None` (all) or a list of dims into sorted, unique dims.
pub fn reduction_dims(dims: Option<&[i64]>, ndim: usize) -> Result<Dims> {
    let mut d = match dims {
        None => (0..ndim).collect(),
        Some(ds) => normalize_dims(ds, ndim)?,
    };
    if ndim == 0 {
        d.clear();
    }
    d.sort_unstable();
    Ok(d)
}

/// The output shape of reducing `shape` over `dims`.
pub fn reduced_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Dims {
    let mut out = Dims::new();
    for (i, &s) in shape.iter().enumerate() {
        if !dims.contains(&i) {
            out.push(s);
        } else if keepdim {
            out.push(1);
        }
    }
    out
}

impl Tensor {
    /// The sum kernel without autograd; integers and bools sum to int64.
    fn sum_kernel(&self, dims: &[usize], keepdim: bool) -> Result<Tensor> {
        if let Some(out) = super::opmath::unary(self, |w| w.sum_kernel(dims, keepdim))? {
            return Ok(out);
        }
        let shape = reduced_shape(self.shape(), dims, keepdim);
        let l = self.layout();
        if self.is_gpu() {
            let out = if self.dtype().is_float() { self.dtype() } else { DType::I64 };
            return crate::gpu::reduce(self, dims, crate::gpu::Reduce::Sum, keepdim, out);
        }
        Ok(match self.dtype() {
            DType::F32 => Tensor::from_vec(reduce(self.storage_slice::<f32>(), l, dims, &Sum)?, &shape),
            DType::F64 => Tensor::from_vec(reduce(self.storage_slice::<f64>(), l, dims, &Sum)?, &shape),
            DType::I64 => Tensor::from_vec(reduce(self.storage_slice::<i64>(), l, dims, &Sum)?, &shape),
            DType::I32 => Tensor::from_vec(reduce(self.storage_slice::<i32>(), l, dims, &Sum)?, &shape),
            DType::Bool => Tensor::from_vec(reduce(self.storage_slice::<bool>(), l, dims, &Sum)?, &shape),
            DType::U8 | DType::I8 | DType::I16 => self.cast_kernel(DType::I64)?.sum_kernel(dims, keepdim)?,
            dt @ (DType::F16 | DType::BF16) => return Err(super::opmath::not_implemented(dt)),
        })
    }

    /// `sum(dim=None, keepdim=False)`.
    pub fn sum(&self, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        let d = reduction_dims(dims, self.ndim())?;
        let out = self.sum_kernel(&d, keepdim)?;
        let name = if dims.is_none() { "SumBackward0" } else { "SumBackward1" };
        Ok(recorded(out, name, &[self], || Op::Sum { shape: self.dims(), dims: d, keepdim }))
    }

    /// `mean(dim=None, keepdim=False, dtype=None)`.
    pub fn mean(&self, dims: Option<&[i64]>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        let src = match dtype {
            Some(dt) => self.to_dtype(dt)?,
            None => self.clone(),
        };
        if !src.dtype().is_float() {
            bail!(
                Runtime,
                "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
                legacy_scalar_name(src.dtype())
            );
        }
        let d = reduction_dims(dims, src.ndim())?;
        let count: usize = d.iter().map(|&i| src.shape()[i]).product();
        let mean_of = |t: &Tensor| -> Result<Tensor> {
            let sum = t.sum_kernel(&d, keepdim)?;
            crate::ops::binary::binary_kernel(
                crate::ops::binary::BinaryOp::Div,
                crate::ops::binary::Operand::T(&sum),
                crate::ops::binary::Operand::S(crate::Scalar::Float(count as f64)),
            )
        };
        // float16/bfloat16: the sum and the division in float32, rounded once.
        let out = match super::opmath::unary(&src, mean_of)? {
            Some(out) => out,
            None => mean_of(&src)?,
        };
        let name = if dims.is_none() { "MeanBackward0" } else { "MeanBackward1" };
        Ok(recorded(out, name, &[&src], || Op::Mean { shape: src.dims(), dims: d, keepdim, count }))
    }

    /// Sums a broadcast gradient back to `shape` (the shape of the input it belongs to).
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self.ndim() - shape.len();
        let dims: Vec<i64> = (0..self.ndim())
            .filter(|&i| i < lead || (shape[i - lead] == 1 && self.shape()[i] != 1))
            .map(|i| i as i64)
            .collect();
        let summed = if dims.is_empty() { self.clone() } else { self.sum(Some(&dims), true)? };
        let target: Vec<i64> = shape.iter().map(|&s| s as i64).collect();
        summed.reshape(&target)
    }
}

fn legacy_scalar_name(dt: DType) -> &'static str {
    dt.scalar_name()
}

impl Tensor {
    /// `amax(dim, keepdim)` / `amin`; with `dims = None`, the all-reduce `max()` / `min()`.
    pub fn amax(&self, dims: Option<&[i64]>, keepdim: bool, is_max: bool) -> Result<Tensor> {
        let d = reduction_dims(dims, self.ndim())?;
        if self.numel() == 0 {
            bail!(
                Runtime,
                "{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.",
                if is_max { "max" } else { "min" }
            );
        }
        let shape = reduced_shape(self.shape(), &d, keepdim);
        let r = crate::cpu::reduce::Extreme { is_max };
        let out = if self.is_gpu() {
            let op = if is_max { crate::gpu::Reduce::Max } else { crate::gpu::Reduce::Min };
            crate::gpu::reduce(self, &d, op, keepdim, self.dtype())?
        } else {
            crate::with_dtype!(self.dtype(), T => {
                let v: Vec<T> = reduce(self.storage_slice::<T>(), self.layout(), &d, &r)?.into_iter().map(|x| x.unwrap_or_default()).collect();
                Tensor::from_vec(v, &shape)
            })
        };
        let name = match (dims.is_some(), is_max) {
            (true, true) => "AmaxBackward0",
            (true, false) => "AminBackward0",
            (false, true) => "MaxBackward1",
            (false, false) => "MinBackward1",
        };
        Ok(crate::autograd::recorded(out.clone(), name, &[self], || Op::Amax {
            x: crate::autograd::Saved::input(self),
            out: crate::autograd::Saved::output(&out, name),
            dims: d,
            keepdim,
        }))
    }

    /// `var(dim, correction=1, keepdim)`.
    pub fn var(&self, dims: Option<&[i64]>, correction: f64, keepdim: bool) -> Result<Tensor> {
        if self.dtype().is_reduced_float() {
            // Accumulated in float32 and rounded once, as PyTorch does for the half types.
            return self.to_dtype(DType::F32)?.var(dims, correction, keepdim)?.to_dtype(self.dtype());
        }
        let d = reduction_dims(dims, self.ndim())?;
        let count: usize = d.iter().map(|&i| self.shape()[i]).product();
        let dl: Vec<i64> = d.iter().map(|&i| i as i64).collect();
        let centered = self.sub(&self.mean(Some(&dl), true, None)?)?;
        let ss = centered.mul(&centered)?.sum(Some(&dl), keepdim)?;
        ss.mul_scalar(1.0 / (count as f64 - correction))
    }

    /// `std(dim, correction=1, keepdim)`.
    pub fn std(&self, dims: Option<&[i64]>, correction: f64, keepdim: bool) -> Result<Tensor> {
        self.var(dims, correction, keepdim)?.sqrt()
    }

    /// `logsumexp(dim, keepdim)`, shifted by the max for stability.
    pub fn logsumexp(&self, dims: &[i64], keepdim: bool) -> Result<Tensor> {
        if self.dtype().is_reduced_float() {
            // Accumulated in float32 and rounded once, as PyTorch does for the half types.
            return self.to_dtype(DType::F32)?.logsumexp(dims, keepdim)?.to_dtype(self.dtype());
        }
        let x = if self.dtype().is_float() { self.clone() } else { self.to_dtype(DType::F32)? };
        let m = x.detach().amax(Some(dims), true, true)?;
        // An all -inf (or +inf) slice shifts by 0 instead, as PyTorch does.
        let m = crate::ops::binary::where_(
            &m.abs()?.compare_scalar(crate::BinaryOp::Eq, f64::INFINITY)?,
            crate::Operand::S(crate::Scalar::Float(0.0)),
            crate::Operand::T(&m),
        )?;
        let s = x.sub(&m)?.exp()?.sum(Some(dims), true)?.log()?.add(&m)?;
        if keepdim {
            return Ok(s);
        }
        let mut nd = reduction_dims(Some(dims), self.ndim())?;
        nd.sort_unstable();
        let mut out = s;
        for &dd in nd.iter().rev() {
            out = out.squeeze(Some(dd as i64))?;
        }
        Ok(out)
    }

    /// `norm(p, dim, keepdim)` for p = 2 (default), 1, 0 (the count of nonzeros), inf, -inf
    /// and other p. One node for all but p = 1 and inf (composites), whose rule gives a zero
    /// gradient where the norm is 0 (as PyTorch; a composite's derivative there is 0 / 0).
    pub fn norm(&self, p: f64, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        if self.dtype().is_reduced_float() {
            // Accumulated in float32 and rounded once, as PyTorch does for the half types.
            return self.to_dtype(DType::F32)?.norm(p, dims, keepdim)?.to_dtype(self.dtype());
        }
        let a = self.abs()?;
        if p == 1.0 {
            return a.sum(dims, keepdim);
        }
        if p.is_infinite() {
            return a.amax(dims.or(Some(&(0..self.ndim() as i64).collect::<Vec<_>>())), keepdim, p > 0.0);
        }
        let reduced = reduction_dims(dims, self.ndim())?;
        let out = {
            let _plain = crate::grad_mode::GradModeGuard::new(false);
            if p == 0.0 {
                self.compare_scalar(crate::BinaryOp::Ne, 0.0)?.to_dtype(self.dtype())?.sum(dims, keepdim)?
            } else if p == 2.0 {
                self.mul(self)?.sum(dims, keepdim)?.sqrt()?
            } else {
                a.pow_scalar(p)?.sum(dims, keepdim)?.pow_scalar(1.0 / p)?
            }
        };
        Ok(recorded(out.clone(), "LinalgVectorNormBackward0", &[self], || Op::Norm {
            x: Saved::input(self),
            out: Saved::output(&out, "LinalgVectorNormBackward0"),
            p,
            dims: reduced,
            keepdim,
        }))
    }

    /// `all(dim)` / `any(dim)`: bool reductions (`dims = None` reduces everything).
    pub fn all_any(&self, dims: Option<&[i64]>, keepdim: bool, all: bool) -> Result<Tensor> {
        let d = reduction_dims(dims, self.ndim())?;
        let count: usize = d.iter().map(|&i| self.shape()[i]).product();
        let b = self.to_dtype(DType::Bool)?;
        let s = b.sum_kernel(&d, keepdim)?;
        let op = if all { crate::BinaryOp::Eq } else { crate::BinaryOp::Gt };
        s.compare_scalar(op, if all { count as f64 } else { 0.0 })
    }
}
