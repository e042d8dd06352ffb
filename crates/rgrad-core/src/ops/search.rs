//! Sorted search: `searchsorted` and `bucketize`, with PyTorch's bounds (a NaN value lands
//! after every boundary) and errors. Values and boundaries compare in their promoted dtype.
//! Device tensors of float32/int32 search on the device (gpu/search.rs); with a sorter, or
//! other dtypes, on the host.

use crate::bail;
use crate::cpu::set_ops::bound;
use crate::error::Result;
use crate::shape::fmt_shape;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{with_dtype, DType};
use rayon::prelude::*;

fn search_rows<T: Element>(
    bd: &[T],
    row_len: usize,
    sorter: Option<&[i64]>,
    vals: &[T],
    vals_per_row: usize,
    right: bool,
) -> Vec<i64> {
    let one = |i: usize, v: T| {
        let r = if bd.len() == row_len { 0 } else { i / vals_per_row.max(1) };
        let b = &bd[r * row_len..(r + 1) * row_len];
        bound(b, sorter.map(|s| &s[r * row_len..(r + 1) * row_len]), v, right)
    };
    if vals.len().saturating_mul(row_len.max(2).ilog2() as usize) >= crate::cpu::PAR_THRESHOLD {
        vals.par_iter().enumerate().map(|(i, &v)| one(i, v)).collect()
    } else {
        vals.iter().enumerate().map(|(i, &v)| one(i, v)).collect()
    }
}

impl Tensor {
    /// `torch.searchsorted(self, values, out_int32, right, sorter)`: `self` holds the sorted
    /// boundaries (1-d, or one row per leading index of `values`).
    pub fn searchsorted(
        &self,
        values: &Tensor,
        out_int32: bool,
        right: bool,
        sorter: Option<&Tensor>,
    ) -> Result<Tensor> {
        if self.ndim() == 0 {
            bail!(
                Runtime,
                "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 dimension"
            );
        }
        if self.ndim() != 1
            && (values.ndim() != self.ndim()
                || values.shape()[..values.ndim() - 1] != self.shape()[..self.ndim() - 1])
        {
            bail!(
                Runtime,
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of boundaries tensor and input value tensor must match, but we got boundaries tensor {} and input value tensor {}",
                fmt_shape(self.shape()),
                fmt_shape(values.shape())
            );
        }
        let sorter_v = match sorter {
            Some(s) => {
                if s.shape() != self.shape() {
                    bail!(
                        Runtime,
                        "torch.searchsorted(): boundary and sorter must have the same size, but got boundary tensor {}and got sorter tensor {}",
                        fmt_shape(self.shape()),
                        fmt_shape(s.shape())
                    );
                }
                if s.dtype() != DType::I64 {
                    bail!(
                        Runtime,
                        "torch.searchsorted(): sorter must be a tensor of long dtype but got dtype {}",
                        crate::ops::inplace::scalar_type_name(s.dtype())
                    );
                }
                let v = s.try_to_vec::<i64>()?;
                let n = *self.shape().last().unwrap_or(&1) as i64;
                if v.iter().any(|&i| i < 0 || i >= n) {
                    bail!(Runtime, "torch.searchsorted(): sorter index out of range");
                }
                Some(v)
            }
            None => None,
        };
        let dt = DType::promote(self.dtype(), values.dtype());
        #[cfg(feature = "wgpu")]
        if sorter.is_none() && self.is_gpu() && values.is_gpu() {
            let (bd, vals) = (self.to_dtype(dt)?, values.to_dtype(dt)?);
            if let Some(out) = crate::gpu::search::searchsorted(&bd, &vals, right)? {
                return if out_int32 { Ok(out) } else { out.to_dtype(DType::I64) };
            }
        }
        let row_len = *self.shape().last().unwrap_or(&1);
        let vals_per_row = if values.ndim() == 0 { 1 } else { *values.shape().last().unwrap_or(&1) };
        let idx = with_dtype!(dt, T => {
            let bd = self.try_to_vec::<T>()?;
            let vals = values.try_to_vec::<T>()?;
            search_rows::<T>(&bd, row_len, sorter_v.as_deref(), &vals, vals_per_row, right)
        });
        let out = if out_int32 {
            Tensor::from_vec(idx.into_iter().map(|i| i as i32).collect::<Vec<i32>>(), values.shape())
        } else {
            Tensor::from_vec(idx, values.shape())
        };
        out.to_device_kernel(values.device())
    }

    /// `torch.bucketize(self, boundaries, out_int32, right)`.
    pub fn bucketize(&self, boundaries: &Tensor, out_int32: bool, right: bool) -> Result<Tensor> {
        if boundaries.ndim() != 1 {
            bail!(Runtime, "boundaries tensor must be 1 dimension, but got dim({})", boundaries.ndim());
        }
        boundaries.searchsorted(self, out_int32, right, None)
    }
}
