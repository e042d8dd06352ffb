//! Sorting and selection: sort, argsort, msort, topk, kthvalue, median, nanmedian, mode.
//! Each gives values and the int64 indices they came from along a dim; the values' gradient
//! goes back to the input at those indices (one rule, autograd/rules/sort.rs). The all-reduce
//! median()/nanmedian() spread theirs evenly over the elements equal to the result, as
//! PyTorch does.

use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::cpu::sort::{run_rows, RowOp, SortKey, MAX_ROW};
use crate::error::Result;
use crate::ops::reduce::reduced_shape;
use crate::ops::scan::{rows, unrows};
use crate::shape::normalize_dim;
use crate::tensor::Tensor;
use crate::{with_dtype, DType, Device};

/// `op` along `dim` of `t` (a CPU tensor with at least one dim): values and indices in the
/// input's dim order, `op.out_len` of them along `dim`, or the dim reduced for the
/// single-value ops.
fn along<T: SortKey>(t: &Tensor, dim: usize, op: RowOp, keepdim: bool) -> Result<(Tensor, Tensor)> {
    let len = t.shape()[dim];
    if len > MAX_ROW {
        bail!(Runtime, "sort: a dimension of {} elements is more than this kernel indexes", len);
    }
    let (data, pshape, perm) = rows::<T>(t, dim)?;
    let (v, i) = run_rows(&data, len, op);
    if matches!(op, RowOp::Sort { .. } | RowOp::Topk { .. }) {
        let mut out_shape = pshape.clone();
        if let Some(last) = out_shape.last_mut() {
            *last = op.out_len(len);
        }
        return Ok((unrows(v, &out_shape, &perm)?, unrows(i, &out_shape, &perm)?));
    }
    let kept = reduced_shape(t.shape(), &[dim], keepdim);
    Ok((Tensor::from_vec(v, &kept), Tensor::from_vec(i, &kept)))
}

impl Tensor {
    /// Runs a row op without recording: on the host for a device tensor (its results go back
    /// to the device). A 0-dim input acts as one element and gives 0-dim results.
    fn select_rows(&self, dim: usize, op: RowOp, keepdim: bool) -> Result<(Tensor, Tensor)> {
        if self.is_gpu() {
            #[cfg(feature = "wgpu")]
            if let Some(r) = self.select_rows_device(dim, op, keepdim)? {
                return Ok(r);
            }
            // mode, and the dtypes the device sort does not take, run on the host.
            let (v, i) = self.detach().to_cpu()?.select_rows(dim, op, keepdim)?;
            return Ok((v.to_device_kernel(Device::Wgpu)?, i.to_device_kernel(Device::Wgpu)?));
        }
        let src = if self.ndim() == 0 { self.reshape(&[1])? } else { self.clone() };
        let (v, i) = with_dtype!(self.dtype(), T => along::<T>(&src, dim, op, keepdim)?);
        if self.ndim() == 0 {
            return Ok((v.reshape(&[])?, i.reshape(&[])?));
        }
        Ok((v, i))
    }

    /// The device sort (gpu/sort.rs) of f32/i32 rows along `dim`, or None for what it does
    /// not cover (mode, other dtypes, empty rows).
    #[cfg(feature = "wgpu")]
    fn select_rows_device(&self, dim: usize, op: RowOp, keepdim: bool) -> Result<Option<(Tensor, Tensor)>> {
        use crate::gpu::sort::{sorted_pick, Pick};
        if !matches!(self.dtype(), DType::F32 | DType::I32) {
            return Ok(None);
        }
        let src = if self.ndim() == 0 { self.detach().reshape(&[1])? } else { self.detach() };
        let nd = src.ndim();
        let n = src.shape()[dim];
        let rows = src.numel().checked_div(n).unwrap_or(0);
        if n == 0 || rows == 0 {
            return Ok(None);
        }
        let (descending, pick) = match op {
            RowOp::Sort { descending, .. } => (descending, Pick::Range { start: 0, len: n }),
            RowOp::Topk { k, largest, .. } => (largest, Pick::Range { start: 0, len: k }),
            RowOp::Kth { k } => (false, Pick::Range { start: k - 1, len: 1 }),
            RowOp::Median { ignore_nan } => (false, Pick::Median { ignore_nan }),
            RowOp::Mode => return Ok(None),
        };
        let mut perm: Vec<i64> = (0..nd).filter(|&d| d != dim).map(|d| d as i64).collect();
        perm.push(dim as i64);
        let moved = src.permute(&perm)?.contiguous()?;
        let Some((v, i)) = sorted_pick(&moved, rows, n, descending, pick)? else { return Ok(None) };
        if let Pick::Range { len, .. } = pick {
            if matches!(op, RowOp::Sort { .. } | RowOp::Topk { .. }) {
                let mut shape: Vec<i64> = moved.shape().iter().map(|&s| s as i64).collect();
                shape[nd - 1] = len as i64;
                let mut inv = vec![0i64; nd];
                for (a, &b) in perm.iter().enumerate() {
                    inv[b as usize] = a as i64;
                }
                let back = |t: Tensor| -> Result<Tensor> {
                    let t = t.reshape(&shape)?.permute(&inv)?;
                    if self.ndim() == 0 {
                        t.reshape(&[])
                    } else {
                        Ok(t)
                    }
                };
                return Ok(Some((back(v)?, back(i)?)));
            }
        }
        let kept: Vec<i64> = if self.ndim() == 0 {
            Vec::new()
        } else {
            reduced_shape(self.shape(), &[dim], keepdim).iter().map(|&s| s as i64).collect()
        };
        Ok(Some((v.reshape(&kept)?, i.reshape(&kept)?)))
    }

    /// Records the values' gradient as a scatter at `indices` along `dim`.
    fn record_select(&self, name: &'static str, v: Tensor, i: &Tensor, dim: usize, keepdim: bool) -> Tensor {
        recorded(v, name, &[self], || Op::ValueSelect {
            shape: self.dims(),
            dim,
            keepdim: keepdim || self.ndim() == 0,
            indices: i.detach(),
        })
    }

    /// `sort(dim=-1, descending=False, *, stable=None)`: values and indices. PyTorch's
    /// overload with `stable` records `SortBackward1`.
    pub fn sort(&self, dim: i64, descending: bool, stable: Option<bool>) -> Result<(Tensor, Tensor)> {
        let name = if stable.is_some() { "SortBackward1" } else { "SortBackward0" };
        let stable = stable.unwrap_or(false);
        let d = normalize_dim(dim, self.ndim())?;
        // PyTorch sorts long 1-d integer tensors by a (stable) radix sort whatever `stable`.
        let radix = self.ndim() == 1
            && !descending
            && matches!(self.dtype(), DType::I64 | DType::I32)
            && self.numel() >= 32768
            && self.is_contiguous();
        let op = RowOp::Sort { descending, stable: stable || radix };
        let (v, i) = self.select_rows(d, op, true)?;
        Ok((self.record_select(name, v, &i, d, true), i))
    }

    /// `argsort(dim, descending, stable)`: the indices of `sort`.
    pub fn argsort(&self, dim: i64, descending: bool, stable: bool) -> Result<Tensor> {
        Ok(self.detach().sort(dim, descending, Some(stable))?.1)
    }

    /// `msort()`: sorted along dim 0.
    pub fn msort(&self) -> Result<Tensor> {
        Ok(self.sort(0, false, None)?.0)
    }

    /// `topk(k, dim=-1, largest=True, sorted=True)`.
    pub fn topk(&self, k: i64, dim: i64, largest: bool, sorted: bool) -> Result<(Tensor, Tensor)> {
        let d = normalize_dim(dim, self.ndim())?;
        let size = self.shape().get(d).copied().unwrap_or(1) as i64;
        if k < 0 || k > size {
            bail!(Runtime, "selected index k out of range");
        }
        if self.dtype() == DType::Bool {
            bail!(NotImplemented, "topk does not support bool dtypes on CPU");
        }
        let (v, i) = self.select_rows(d, RowOp::Topk { k: k as usize, largest, sorted }, true)?;
        Ok((self.record_select("TopkBackward0", v, &i, d, true), i))
    }

    /// `kthvalue(k, dim=-1, keepdim=False)`: the k-th smallest (1-based) and its index.
    pub fn kthvalue(&self, k: i64, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let d = self.reduction_dim(dim, "kthvalue")?;
        let size = self.shape().get(d).copied().unwrap_or(1) as i64;
        if k < 1 || k > size {
            bail!(Runtime, "kthvalue(): selected number k out of range for dimension {}", d);
        }
        if self.dtype() == DType::Bool {
            bail!(NotImplemented, "\"kthvalue_cpu\" not implemented for 'Bool'");
        }
        let (v, i) = self.select_rows(d, RowOp::Kth { k: k as usize }, keepdim)?;
        Ok((self.record_select("KthvalueBackward0", v, &i, d, keepdim), i))
    }

    /// `median(dim, keepdim)` / `nanmedian(dim, keepdim)`: the lower median and its index.
    pub fn median_dim(&self, dim: i64, keepdim: bool, ignore_nan: bool) -> Result<(Tensor, Tensor)> {
        let d = self.reduction_dim(dim, "median")?;
        if self.dtype() == DType::Bool {
            bail!(NotImplemented, "\"median_out\" not implemented for 'Bool'");
        }
        let (v, i) = self.select_rows(d, RowOp::Median { ignore_nan }, keepdim)?;
        let name = if ignore_nan { "NanmedianBackward1" } else { "MedianBackward1" };
        Ok((self.record_select(name, v, &i, d, keepdim), i))
    }

    /// `median()` / `nanmedian()` of all elements (NaN for an empty tensor).
    pub fn median_all(&self, ignore_nan: bool) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            bail!(NotImplemented, "\"median_cpu\" not implemented for 'Bool'");
        }
        let out = if self.numel() == 0 {
            Tensor::full_on(&[], crate::Scalar::Float(f64::NAN), self.dtype(), self.device())?
        } else {
            self.detach().reshape(&[-1])?.select_rows(0, RowOp::Median { ignore_nan }, false)?.0
        };
        let name = if ignore_nan { "NanmedianBackward0" } else { "MedianBackward0" };
        Ok(recorded(out.clone(), name, &[self], || Op::EvenSelect {
            x: Saved::input(self),
            out: Saved::output(&out, name),
        }))
    }

    /// `mode(dim=-1, keepdim=False)`: the most frequent value (the smallest of equally
    /// frequent ones) and an index of it.
    pub fn mode(&self, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let d = self.reduction_dim(dim, "mode")?;
        let (v, i) = self.select_rows(d, RowOp::Mode, keepdim)?;
        Ok((self.record_select("ModeBackward0", v, &i, d, keepdim), i))
    }

    /// A dim to reduce, which must not be empty.
    fn reduction_dim(&self, dim: i64, op: &str) -> Result<usize> {
        let d = normalize_dim(dim, self.ndim())?;
        if self.shape().get(d) == Some(&0) {
            bail!(Index, "{}(): Expected reduction dim {} to have non-zero size.", op, d);
        }
        Ok(d)
    }
}
