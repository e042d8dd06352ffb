//! Dim-wise ops that walk rows along one dimension: max/min with indices, argmax, cumsum,
//! cumprod, prod, softmax and log_softmax.

use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::cpu::copy::gather;
use crate::error::Result;
use crate::ops::reduce::reduced_shape;
use crate::shape::{normalize_dim, Dims};
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{with_dtype, DType};
use num_traits::Float;

/// The rows of `t` along `dim` (that dim moved last, made contiguous) and their shape.
pub(crate) fn rows<T: Element>(t: &Tensor, dim: usize) -> Result<(Vec<T>, Dims, Vec<usize>)> {
    let n = t.ndim();
    let mut perm: Vec<usize> = (0..n).filter(|&d| d != dim).collect();
    perm.push(dim);
    let l = t.layout().permute(&perm);
    let shape = l.shape.clone();
    Ok((gather::<T, T>(t.storage_slice::<T>(), &l)?, shape, perm))
}

/// A tensor laid out as `rows` produced it, viewed back in the original dim order.
pub(crate) fn unrows<T: Element>(data: Vec<T>, pshape: &[usize], perm: &[usize]) -> Result<Tensor> {
    let t = Tensor::from_vec(data, pshape);
    let mut inv = vec![0usize; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    let l = t.layout().permute(&inv);
    t.detach().with_layout_pub(l)
}

#[inline]
fn is_nan<T: PartialEq + Copy>(x: T) -> bool {
    #[allow(clippy::eq_op)]
    let nan = x != x;
    nan
}

/// Ops over one dim; `dim = None` means the flattened tensor.
fn dim_or_flat(t: &Tensor, dim: Option<i64>) -> Result<(Tensor, usize)> {
    if t.ndim() == 0 {
        // A 0-dim tensor accepts dim 0 / -1 and behaves as one element.
        if let Some(d) = dim {
            normalize_dim(d, 0)?;
        }
        return Ok((t.reshape(&[1])?, 0));
    }
    match dim {
        Some(d) => Ok((t.clone(), normalize_dim(d, t.ndim())?)),
        None => Ok((t.reshape(&[-1])?, 0)),
    }
}

impl Tensor {
    fn shape_i64(&self) -> Vec<i64> {
        self.shape().iter().map(|&s| s as i64).collect()
    }

    pub(crate) fn with_layout_pub(&self, l: crate::layout::Layout) -> Result<Tensor> {
        self.with_layout(l)
    }

    /// `max(dim)` / `min(dim)`: values and int64 indices of the extreme along `dim`.
    pub fn extreme_dim(&self, dim: i64, keepdim: bool, is_max: bool) -> Result<(Tensor, Tensor)> {
        let d = normalize_dim(dim, self.ndim())?;
        let len = self.shape().get(d).copied().unwrap_or(1);
        if len == 0 {
            bail!(
                Index,
                "{}(): Expected reduction dim {} to have non-zero size.",
                if is_max { "max" } else { "min" },
                d
            );
        }
        let kept = reduced_shape(self.shape(), &[d], keepdim);
        let src = if self.ndim() == 0 { self.reshape(&[1])? } else { self.clone() };
        let (values, indices) = if self.is_gpu() {
            use crate::gpu::{reduce, Reduce};
            let dd = if self.ndim() == 0 { 0 } else { d };
            let (vop, iop) =
                if is_max { (Reduce::Max, Reduce::ArgMax) } else { (Reduce::Min, Reduce::ArgMin) };
            let v = reduce(&src, &[dd], vop, keepdim, self.dtype())?
                .reshape(&kept.iter().map(|&s| s as i64).collect::<Vec<_>>())?;
            let i = reduce(&src, &[dd], iop, keepdim, DType::I64)?
                .reshape(&kept.iter().map(|&s| s as i64).collect::<Vec<_>>())?;
            (v, i)
        } else {
            with_dtype!(self.dtype(), T => {
                let (data, _, _) = rows::<T>(&src, if self.ndim() == 0 { 0 } else { d })?;
                let mut vals = Vec::with_capacity(data.len() / len);
                let mut idx = Vec::with_capacity(data.len() / len);
                for row in data.chunks(len) {
                    let (mut bi, mut bv) = (0usize, row[0]);
                    for (i, &x) in row.iter().enumerate().skip(1) {
                        let better = if is_max { x > bv } else { x < bv };
                        if !is_nan(bv) && (is_nan(x) || better) {
                            bi = i;
                            bv = x;
                        }
                    }
                    vals.push(bv);
                    idx.push(bi as i64);
                }
                (Tensor::from_vec(vals, &kept), Tensor::from_vec(idx, &kept))
            })
        };
        let name = if is_max { "MaxBackward0" } else { "MinBackward0" };
        let ix = indices.clone();
        let values = recorded(values, name, &[self], || Op::IndexReduce {
            shape: self.dims(),
            dim: d,
            keepdim,
            indices: ix,
        });
        Ok((values, indices))
    }

    /// `argmax(dim=None, keepdim=False)` / `argmin`.
    pub fn arg_extreme(&self, dim: Option<i64>, keepdim: bool, is_max: bool) -> Result<Tensor> {
        match dim {
            Some(d) => Ok(self.detach().extreme_dim(d, keepdim, is_max)?.1),
            None => {
                let i = self.detach().reshape(&[-1])?.extreme_dim(0, false, is_max)?.1;
                if keepdim {
                    let ones: Vec<i64> = vec![1; self.ndim()];
                    return i.reshape(&ones);
                }
                Ok(i)
            }
        }
    }

    /// `cumsum(dim)`; integers accumulate in int64.
    pub fn cumsum(&self, dim: i64) -> Result<Tensor> {
        let (src, d) = dim_or_flat(self, Some(dim).filter(|_| self.ndim() > 0))?;
        let src = if src.dtype().is_float() { src } else { src.to_dtype(DType::I64)? };
        let out = scan(&src, d, false, |a, b| a + b, |a, b| a + b)?.reshape(&self.shape_i64())?;
        Ok(recorded(out, "CumsumBackward0", &[self], || Op::Cumsum { dim: d }))
    }

    /// `cumprod(dim)`.
    pub fn cumprod(&self, dim: i64) -> Result<Tensor> {
        let (src, d) = dim_or_flat(self, Some(dim).filter(|_| self.ndim() > 0))?;
        let src = if src.dtype().is_float() { src } else { src.to_dtype(DType::I64)? };
        let out = scan(&src, d, true, |a, b| a * b, |a, b| a.wrapping_mul(b))?.reshape(&self.shape_i64())?;
        Ok(recorded(out.clone(), "CumprodBackward0", &[self], || Op::Cumprod {
            x: Saved::input(self),
            out: Saved::output(&out, "CumprodBackward0"),
            dim: d,
        }))
    }

    /// `prod(dim=None, keepdim=False)`.
    pub fn prod(&self, dim: Option<i64>, keepdim: bool) -> Result<Tensor> {
        let (src, d) = dim_or_flat(self, dim)?;
        let src = if src.dtype().is_float() { src } else { src.to_dtype(DType::I64)? };
        let pdt = src.dtype();
        let src = crate::ops::opmath::widen(&src)?;
        let len = src.shape().get(d).copied().unwrap_or(1);
        let kept = match dim {
            Some(_) => reduced_shape(self.shape(), &[d], keepdim),
            None => Dims::new(),
        };
        let out = if src.is_gpu() {
            let r = crate::gpu::reduce(&src, &[d], crate::gpu::Reduce::Prod, false, src.dtype())?;
            r.reshape(&kept.iter().map(|&s| s as i64).collect::<Vec<_>>())?
        } else {
            with_dtype!(src.dtype(), T => {
                let (data, _, _) = rows::<T>(&src, d)?;
                let vals: Vec<T> = if len == 0 {
                    vec![T::from_i64(1); crate::shape::numel(&kept)]
                } else {
                    data.chunks(len).map(|r| r.iter().fold(T::from_i64(1), |a, &x| mul(a, x))).collect()
                };
                Tensor::from_vec(vals, &kept)
            })
        };
        let out = crate::ops::opmath::narrow(out, pdt)?;
        Ok(recorded(out, if dim.is_some() { "ProdBackward1" } else { "ProdBackward0" }, &[self], || {
            Op::Prod { x: Saved::input(self), dim: dim.map(|_| d), keepdim }
        }))
    }

    /// For every element, the product of the other elements along `dim` (or of all others).
    pub(crate) fn prod_others(&self, dim: Option<usize>) -> Result<Tensor> {
        if self.is_gpu() {
            // Exact with zeros needs prefix and suffix products; rare (prod's backward), so the
            // host computes it.
            return self.to_cpu()?.prod_others(dim)?.to_device_kernel(crate::Device::Wgpu);
        }
        let (src, d) = match dim {
            Some(d) => (self.clone(), d),
            None => (self.reshape(&[-1])?, 0),
        };
        let len = src.shape().get(d).copied().unwrap_or(1).max(1);
        let out = with_dtype!(src.dtype(), T => {
            let (data, pshape, perm) = rows::<T>(&src, d)?;
            let mut res = Vec::with_capacity(data.len());
            for r in data.chunks(len) {
                // prefix[i] * suffix[i+1]: exact even with zeros.
                let mut suffix = vec![T::from_i64(1); r.len() + 1];
                for i in (0..r.len()).rev() {
                    suffix[i] = mul(suffix[i + 1], r[i]);
                }
                let mut prefix = T::from_i64(1);
                for i in 0..r.len() {
                    res.push(mul(prefix, suffix[i + 1]));
                    prefix = mul(prefix, r[i]);
                }
            }
            unrows(res, &pshape, &perm)
        });
        out?.reshape(&self.shape().iter().map(|&s| s as i64).collect::<Vec<_>>())
    }

    /// `softmax(dim)` (or `log_softmax` with `log`), computed stably per row.
    pub fn softmax(&self, dim: i64, log: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            bail!(
                Runtime,
                "\"{}\" not implemented for '{}'",
                if log { "log_softmax_lastdim_kernel_impl" } else { "softmax_lastdim_kernel_impl" },
                self.dtype()
            );
        }
        let src = if self.ndim() == 0 { self.reshape(&[1])? } else { self.clone() };
        let d = normalize_dim(dim, self.ndim())?;
        let out = match self.dtype() {
            _ if src.is_gpu() => gpu_softmax(&src.detach(), d, log)?,
            DType::F32 => softmax_rows::<f32>(&src, d, log)?,
            DType::F64 => softmax_rows::<f64>(&src, d, log)?,
            // float16/bfloat16: in float32, rounded once (as PyTorch's CPU softmax).
            dt => crate::ops::opmath::narrow(
                softmax_rows::<f32>(&crate::ops::opmath::widen(&src)?, d, log)?,
                dt,
            )?,
        };
        let out = out.reshape(&self.shape().iter().map(|&s| s as i64).collect::<Vec<_>>())?;
        let name = if log { "LogSoftmaxBackward0" } else { "SoftmaxBackward0" };
        Ok(recorded(out.clone(), name, &[self], || Op::Softmax {
            x: Saved::input(self),
            out: Saved::output(&out, name),
            dim: d,
            log,
        }))
    }
}

#[inline]
fn mul<T: Element>(a: T, b: T) -> T {
    match T::DTYPE {
        d if d.is_float() => T::from_f64(a.to_f64() * b.to_f64()),
        _ => T::from_i64(a.to_i64().wrapping_mul(b.to_i64())),
    }
}

/// Softmax on the device: max, shifted exp, sum and normalise as four kernels.
fn gpu_softmax(x: &Tensor, d: usize, log: bool) -> Result<Tensor> {
    use crate::gpu::{map, reduce, Input, Reduce};
    let dt = x.dtype();
    // Shifted by the row's max even when it is infinite: a row holding +inf, or only -inf,
    // is all NaN, as in PyTorch.
    let m = reduce(x, &[d], Reduce::Max, true, dt)?;
    let e = map(&[Input::of(x, dt), Input::broadcast(&m, x.shape(), dt)?], "exp(a - b)", dt, x.shape(), dt)?;
    let s = reduce(&e, &[d], Reduce::Sum, true, dt)?;
    if log {
        let ins =
            [Input::of(x, dt), Input::broadcast(&m, x.shape(), dt)?, Input::broadcast(&s, x.shape(), dt)?];
        map(&ins, "a - (log(c) + b)", dt, x.shape(), dt)
    } else {
        map(&[Input::of(&e, dt), Input::broadcast(&s, x.shape(), dt)?], "a / b", dt, x.shape(), dt)
    }
}

/// Inclusive scan along `d`: `ff`/`fi` on the CPU, the device's `+` or (`product`) `*` kernel.
fn scan(
    src: &Tensor,
    d: usize,
    product: bool,
    ff: impl Fn(f64, f64) -> f64,
    fi: impl Fn(i64, i64) -> i64,
) -> Result<Tensor> {
    if src.dtype().is_reduced_float() {
        // Accumulated in float32, as PyTorch does for the half types.
        let wide = crate::ops::opmath::widen(src)?;
        return crate::ops::opmath::narrow(scan(&wide, d, product, ff, fi)?, src.dtype());
    }
    let len = src.shape().get(d).copied().unwrap_or(1).max(1);
    let src = if src.ndim() == 0 { src.reshape(&[1])? } else { src.clone() };
    let shape: Vec<i64> = src.shape().iter().map(|&s| s as i64).collect();
    if src.is_gpu() {
        let n = src.ndim();
        let mut perm: Vec<usize> = (0..n).filter(|&x| x != d).collect();
        perm.push(d);
        let moved = src.detach().with_layout(src.layout().permute(&perm))?;
        let r = crate::gpu::scan_last(&moved, product)?;
        let mut inv = vec![0usize; n];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        return r.with_layout(r.layout().permute(&inv))?.reshape(&shape);
    }
    let out = with_dtype!(src.dtype(), T => {
        let (mut data, pshape, perm) = rows::<T>(&src, d)?;
        for r in data.chunks_mut(len) {
            for i in 1..r.len() {
                r[i] = match T::DTYPE {
                    d if d.is_float() => T::from_f64(ff(r[i - 1].to_f64(), r[i].to_f64())),
                    _ => T::from_i64(fi(r[i - 1].to_i64(), r[i].to_i64())),
                };
            }
        }
        unrows(data, &pshape, &perm)
    });
    out?.reshape(&shape)
}

fn softmax_rows<T: Float + Element>(src: &Tensor, d: usize, log: bool) -> Result<Tensor> {
    let len = src.shape()[d].max(1);
    let (mut data, pshape, perm) = rows::<T>(src, d)?;
    for r in data.chunks_mut(len) {
        // Shifted by the max even when it is infinite: a row holding +inf, or only -inf, is
        // all NaN, as in PyTorch.
        let m = r.iter().fold(T::neg_infinity(), |a, &x| if x > a || x.is_nan() { x } else { a });
        let mut s = T::zero();
        for x in r.iter() {
            s = s + (*x - m).exp();
        }
        if log {
            let ls = s.ln() + m;
            r.iter_mut().for_each(|x| *x = *x - ls);
        } else {
            r.iter_mut().for_each(|x| *x = (*x - m).exp() / s);
        }
    }
    unrows(data, &pshape, &perm)
}
