//! Running extremes and log-sum-exp along a dim: `cummax`/`cummin` (values and the int64
//! index each came from) and `logcumsumexp`. The extremes' gradient goes back to the chosen
//! indices (the selection rule of autograd/rules/sort.rs); logcumsumexp's is PyTorch's
//! `logcumsumexp_backward` in tensor ops (autograd/rules/cumulative.rs). wgpu tensors scan on
//! the device (gpu/scan.rs: float32/int32 extremes, float32 logcumsumexp); other dtypes are
//! computed on the host and the results go back.

use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::error::Result;
use crate::ops::scan::{rows, unrows};
use crate::shape::normalize_dim;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{with_dtype, DType, Device};
use num_traits::Float;

#[inline]
fn nan<T: PartialEq + Copy>(x: T) -> bool {
    #[allow(clippy::eq_op)]
    let n = x != x;
    n
}

/// PyTorch's `cummax_cummin_helper` over rows of `len`: a NaN always takes over (so NaN
/// propagates and each later NaN moves the index), and ties take the later index.
fn extreme_rows<T: Element>(data: &[T], len: usize, is_max: bool) -> (Vec<T>, Vec<i64>) {
    let mut vals = Vec::with_capacity(data.len());
    let mut idx = Vec::with_capacity(data.len());
    for row in data.chunks(len) {
        let (mut out, mut at) = (row[0], 0i64);
        for (i, &x) in row.iter().enumerate() {
            let better = if is_max { x >= out } else { x <= out };
            if nan(x) || (!nan(out) && better) {
                out = x;
                at = i as i64;
            }
            vals.push(out);
            idx.push(at);
        }
    }
    (vals, idx)
}

/// PyTorch's `_log_add_exp_helper`: exact for equal infinities, NaN propagating.
#[inline]
fn log_add_exp<T: Float>(x: T, y: T) -> T {
    // C++'s std::min/std::max: the first argument when either is NaN.
    let (lo, hi) = if y.is_nan() { (y, y) } else { (if y < x { y } else { x }, if x < y { y } else { x }) };
    if lo != hi || lo.is_finite() {
        (lo - hi).exp().ln_1p() + hi
    } else {
        x
    }
}

fn lcse_rows<T: Float + Element>(src: &Tensor, d: usize) -> Result<Tensor> {
    let len = src.shape()[d];
    let (mut data, pshape, perm) = rows::<T>(src, d)?;
    if len > 0 {
        for r in data.chunks_mut(len) {
            for i in 1..r.len() {
                r[i] = log_add_exp(r[i - 1], r[i]);
            }
        }
    }
    unrows(data, &pshape, &perm)
}

/// Runs a device scan along the last dim on `x` viewed with `d` moved last, and views both
/// results back in `x`'s dim order; None when the kernel does not take `x`.
#[cfg(feature = "wgpu")]
fn along_last(
    x: &Tensor,
    d: usize,
    scan: impl FnOnce(&Tensor) -> Result<Option<(Tensor, Tensor)>>,
) -> Result<Option<(Tensor, Tensor)>> {
    let src = if x.ndim() == 0 { x.reshape(&[1])? } else { x.clone() };
    let n = src.ndim();
    let mut perm: Vec<usize> = (0..n).filter(|&k| k != d).collect();
    perm.push(d);
    let Some((a, b)) = scan(&src.with_layout_pub(src.layout().permute(&perm))?)? else {
        return Ok(None);
    };
    let mut inv = vec![0usize; n];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    let shape: Vec<i64> = x.shape().iter().map(|&s| s as i64).collect();
    let back = |t: Tensor| t.with_layout_pub(t.layout().permute(&inv))?.reshape(&shape);
    Ok(Some((back(a)?, back(b)?)))
}

impl Tensor {
    /// `cummax(dim)` / `cummin(dim)`: the running extreme along `dim` and its index.
    pub fn cum_extreme(&self, dim: i64, is_max: bool) -> Result<(Tensor, Tensor)> {
        let d = normalize_dim(dim, self.ndim())?;
        let (v, i) = if self.is_gpu() {
            #[cfg(feature = "wgpu")]
            if let Some(r) = along_last(&self.detach(), d, |x| crate::gpu::scan::cum_extreme_last(x, is_max))?
            {
                return Ok(self.record_extreme(r, d, is_max));
            }
            // float64/int64 rows, and sizes the device kernel does not take, on the host.
            let (v, i) = self.detach().to_cpu()?.cum_extreme(dim, is_max)?;
            (v.to_device_kernel(Device::Wgpu)?, i.to_device_kernel(Device::Wgpu)?)
        } else if self.numel() == 0 {
            (self.detach().contiguous()?, Tensor::zeros(self.shape(), DType::I64)?)
        } else {
            let src = if self.ndim() == 0 { self.detach().reshape(&[1])? } else { self.detach() };
            let len = src.shape()[d];
            let (v, i) = with_dtype!(self.dtype(), T => {
                let (data, pshape, perm) = rows::<T>(&src, d)?;
                let (v, i) = extreme_rows(&data, len, is_max);
                (unrows(v, &pshape, &perm)?, unrows(i, &pshape, &perm)?)
            });
            if self.ndim() == 0 {
                (v.reshape(&[])?, i.reshape(&[])?)
            } else {
                (v, i)
            }
        };
        Ok(self.record_extreme((v, i), d, is_max))
    }

    fn record_extreme(&self, (v, i): (Tensor, Tensor), d: usize, is_max: bool) -> (Tensor, Tensor) {
        let name = if is_max { "CummaxBackward0" } else { "CumminBackward0" };
        let ix = i.clone();
        let v = recorded(v, name, &[self], || Op::ValueSelect {
            shape: self.dims(),
            dim: d,
            keepdim: true,
            indices: ix,
        });
        (v, i)
    }

    /// `logcumsumexp(dim)`: `log(cumsum(exp(x)))` computed stably (float dtypes only).
    pub fn logcumsumexp(&self, dim: i64) -> Result<Tensor> {
        if !self.dtype().is_float() {
            bail!(
                NotImplemented,
                "\"logcumsumexp_out_cpu\" not implemented for '{}'",
                self.dtype().scalar_name()
            );
        }
        let d = normalize_dim(dim, self.ndim())?;
        let out = self.detach().lcse_kernel(d)?;
        Ok(recorded(out.clone(), "LogcumsumexpBackward0", &[self], || Op::Logcumsumexp {
            x: Saved::input(self),
            out: Saved::output(&out, "LogcumsumexpBackward0"),
            dim: d,
        }))
    }

    fn lcse_kernel(&self, d: usize) -> Result<Tensor> {
        if self.is_gpu() {
            #[cfg(feature = "wgpu")]
            if let Some((out, _)) =
                along_last(self, d, |x| Ok(crate::gpu::scan::logcumsumexp_last(x)?.map(|o| (o.clone(), o))))?
            {
                return Ok(out);
            }
            // float64 rows, and sizes the device kernel does not take, on the host.
            return self.to_cpu()?.lcse_kernel(d)?.to_device_kernel(Device::Wgpu);
        }
        let src = if self.ndim() == 0 { self.reshape(&[1])? } else { self.clone() };
        let out = match self.dtype() {
            DType::F64 => lcse_rows::<f64>(&src, d)?,
            DType::F32 => lcse_rows::<f32>(&src, d)?,
            // float16/bfloat16: accumulated in float32, rounded once.
            dt => crate::ops::opmath::narrow(lcse_rows::<f32>(&crate::ops::opmath::widen(&src)?, d)?, dt)?,
        };
        out.reshape(&self.shape().iter().map(|&s| s as i64).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_take_nan_and_last_tie() {
        let (v, i) = extreme_rows(&[1.0f64, 3.0, 3.0, f64::NAN, 5.0, f64::NAN], 6, true);
        assert_eq!(i, vec![0, 1, 2, 3, 3, 5]);
        assert_eq!(v[2], 3.0);
        assert!(v[3].is_nan() && v[4].is_nan());
        let (v, i) = extreme_rows(&[2i64, 1, 1, 4], 4, false);
        assert_eq!((v, i), (vec![2, 1, 1, 1], vec![0, 1, 2, 2]));
    }

    #[test]
    fn log_add_exp_edges() {
        let inf = f64::INFINITY;
        assert_eq!(log_add_exp(-inf, -inf), -inf);
        assert_eq!(log_add_exp(inf, -inf), inf);
        assert_eq!(log_add_exp(inf, inf), inf);
        assert!(log_add_exp(1.0, f64::NAN).is_nan());
        assert!(log_add_exp(f64::NAN, 1.0).is_nan());
        assert!((log_add_exp(0.0, 0.0) - 2f64.ln()).abs() < 1e-15);
    }
}
