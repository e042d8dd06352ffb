//! Index selection by value: `nonzero`/`argwhere`, `take`, `take_along_dim`, `scatter_reduce`,
//! `masked_scatter`, `aminmax`, `count_nonzero`. Selections are built on gather/index ops, so their gradients
//! scatter back through those ops' rules; `scatter_reduce` has its own rule.

use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::error::Result;
use crate::ops::inplace::scalar_type_name;
use crate::ops::reduce::reduction_dims;
use crate::shape::{broadcast_shapes, normalize_dim};
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{with_dtype, DType};

/// The reduction of `scatter_reduce`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ScatterReduce {
    Sum,
    Prod,
    Mean,
    Amax,
    Amin,
}

impl ScatterReduce {
    pub fn parse(s: &str) -> Result<ScatterReduce> {
        Ok(match s {
            "sum" => ScatterReduce::Sum,
            "prod" => ScatterReduce::Prod,
            "mean" => ScatterReduce::Mean,
            "amax" => ScatterReduce::Amax,
            "amin" => ScatterReduce::Amin,
            _ => bail!(Runtime, "reduce argument must be either sum, prod, mean, amax or amin, got {}", s),
        })
    }
}

/// Per-element folding for `scatter_reduce`, NaN propagating in amax/amin as PyTorch.
fn fold<T: Element + crate::ops::arith::Arith>(r: ScatterReduce, acc: T, v: T) -> T {
    match r {
        ScatterReduce::Sum | ScatterReduce::Mean => acc.add(v),
        ScatterReduce::Prod => acc.mul(v),
        ScatterReduce::Amax => acc.maximum(v),
        ScatterReduce::Amin => acc.minimum(v),
    }
}

impl Tensor {
    /// `nonzero()`: the coordinates of the nonzero elements, one row each ([n, ndim]).
    pub fn nonzero(&self) -> Result<Tensor> {
        if self.ndim() == 0 {
            // One empty coordinate row when the element is nonzero.
            let hit = self.truth_mask()?.item()?.to_f64() != 0.0;
            return Tensor::from_vec(Vec::<i64>::new(), &[hit as usize, 0]).to_device_kernel(self.device());
        }
        #[cfg(feature = "wgpu")]
        if self.is_gpu() {
            let mask = self.detach().device_truth()?;
            if let Some(t) = crate::gpu::masked::nonzero(&mask)? {
                return Ok(t);
            }
        }
        let coords = self.truth_mask()?.nonzero_coords()?;
        let n = coords.first().map_or(0, |c| c.len());
        let nd = coords.len();
        let mut flat = crate::storage::try_vec_with_capacity(n * nd)?;
        for i in 0..n {
            flat.extend(coords.iter().map(|c| c[i]));
        }
        Tensor::from_vec(flat, &[n, nd]).to_device_kernel(self.device())
    }

    /// `nonzero(as_tuple=True)`: one index vector per dim (a 0-dim input counts as 1-dim).
    pub fn nonzero_tuple(&self) -> Result<Vec<Tensor>> {
        let m = if self.ndim() == 0 { self.reshape(&[1])? } else { self.clone() };
        #[cfg(feature = "wgpu")]
        if m.is_gpu() {
            if let Some(rows) = crate::gpu::masked::nonzero(&m.detach().device_truth()?)? {
                return (0..m.ndim() as i64).map(|d| rows.select(1, d)?.contiguous()).collect();
            }
        }
        let coords = m.truth_mask()?.nonzero_coords()?;
        coords
            .into_iter()
            .map(|c| {
                let n = c.len();
                Tensor::from_vec(c, &[n]).to_device_kernel(self.device())
            })
            .collect()
    }

    /// Where a device tensor is nonzero (NaN counts), computed on the device.
    #[cfg(feature = "wgpu")]
    fn device_truth(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            return Ok(self.clone());
        }
        self.logical_not()?.logical_not()
    }

    fn truth_mask(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            return Ok(self.clone());
        }
        self.to_cpu()?.logical_not()?.logical_not()
    }

    /// `masked_scatter(mask, source)`: where the mask (broadcast with `self`) holds, the next
    /// element of `source` in row-major order; `self` elsewhere. Its rule sends the unmasked
    /// places' gradient to `self` and the masked ones' to the first elements of `source`.
    pub fn masked_scatter(&self, mask: &Tensor, source: &Tensor) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            bail!(
                Runtime,
                "masked_scatter_ only supports boolean masks, but got mask with dtype {}",
                scalar_type_name(mask.dtype())
            );
        }
        if source.dtype() != self.dtype() {
            // (PyTorch's message runs "got" and the first name together.)
            bail!(
                Runtime,
                "masked_scatter: expected self and source to have same dtypes but got{} and {}",
                scalar_type_name(self.dtype()),
                scalar_type_name(source.dtype())
            );
        }
        crate::ops::common_device(&[self, mask, source])?;
        // The mask first, as PyTorch names them in its broadcast error.
        let shape = broadcast_shapes(mask.shape(), self.shape())?;
        let sizes: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        let (x, m) = (self.detach().expand(&sizes)?, mask.detach().expand(&sizes)?);
        let out = match () {
            #[cfg(feature = "wgpu")]
            _ if self.is_gpu() => crate::gpu::masked::masked_scatter(&x, &m, &source.detach())?,
            _ => {
                let keep = m.try_to_vec::<bool>()?;
                if keep.iter().filter(|&&k| k).count() > source.numel() {
                    bail!(Runtime, "Number of elements of source < number of ones in mask");
                }
                with_dtype!(self.dtype(), T => {
                    let (xs, src) = (x.try_to_vec::<T>()?, source.try_to_vec::<T>()?);
                    Tensor::try_from_vec(crate::cpu::index::masked_scatter(&xs, &keep, &src)?, &shape)?
                })
            }
        };
        Ok(recorded(out, "MaskedScatterBackward0", &[self, source], || Op::MaskedScatter {
            mask: m,
            self_shape: self.dims(),
            source_shape: source.dims(),
        }))
    }

    /// `masked_scatter_(mask, source)`: in place, the mask broadcast to `self`'s shape.
    pub fn masked_scatter_(&self, mask: &Tensor, source: &Tensor) -> Result<()> {
        let m = if mask.dtype() == DType::Bool {
            let sizes: Vec<i64> = self.shape().iter().map(|&d| d as i64).collect();
            mask.expand(&sizes)?
        } else {
            mask.clone()
        };
        self.apply_inplace(&[source], |base| base.masked_scatter(&m, source))
    }

    /// `torch.take(input, index)`: elements of the flattened input (negative indices wrap).
    pub fn take(&self, index: &Tensor) -> Result<Tensor> {
        if index.dtype() != DType::I64 {
            bail!(
                Runtime,
                "take(): Expected a long tensor for index, but got {}",
                scalar_type_name(index.dtype())
            );
        }
        let n = self.numel() as i64;
        let idx = index.try_to_vec::<i64>()?;
        if n == 0 && !idx.is_empty() {
            bail!(Index, "take(): tried to take from an empty tensor");
        }
        let mut wrapped = crate::storage::try_vec_with_capacity(idx.len())?;
        for &i in &idx {
            if i < -n || i >= n {
                bail!(Index, "out of range: tried to access index {} on a tensor of {} elements.", i, n);
            }
            wrapped.push(if i < 0 { i + n } else { i });
        }
        let flat_index = Tensor::from_vec(wrapped, &[idx.len()]).to_device_kernel(self.device())?;
        let shape: Vec<i64> = index.shape().iter().map(|&s| s as i64).collect();
        self.reshape(&[-1])?.index(&[Some(flat_index)])?.reshape(&shape)
    }

    /// `torch.take_along_dim(input, indices, dim)`: gather along `dim` after broadcasting the
    /// other dims; with no dim, along the flattened input.
    pub fn take_along_dim(&self, indices: &Tensor, dim: Option<i64>) -> Result<Tensor> {
        if indices.dtype() != DType::I64 {
            bail!(
                Runtime,
                "torch.take_along_dim(): dtype of indices should be Long but got {}",
                scalar_type_name(indices.dtype())
            );
        }
        let Some(dim) = dim else {
            return self.reshape(&[-1])?.take_along_dim(&indices.reshape(&[-1])?, Some(0));
        };
        if self.ndim() != indices.ndim() {
            bail!(
                Runtime,
                "torch.take_along_dim(): input and indices should have the same number of dimensions, but got {} dimensions for input, and {} dimensions for indices",
                self.ndim(),
                indices.ndim()
            );
        }
        let d = normalize_dim(dim, self.ndim())?;
        if self.ndim() == 0 {
            return self.take(indices);
        }
        let mut self_sizes = self.shape().to_vec();
        self_sizes[d] = indices.shape()[d];
        let bshape = broadcast_shapes(&self_sizes, indices.shape())?;
        let mut src_shape = bshape.to_vec();
        src_shape[d] = self.shape()[d];
        let to_i64 = |s: &[usize]| s.iter().map(|&x| x as i64).collect::<Vec<i64>>();
        // Negative indices wrap, as PyTorch's take_along_dim reads them.
        let size = self.shape()[d] as i64;
        let idx: Vec<i64> = indices.expand(&to_i64(&bshape))?.try_to_vec::<i64>()?;
        let idx: Vec<i64> = idx.into_iter().map(|i| if i < 0 { i + size } else { i }).collect();
        let idx = Tensor::from_vec(idx, &bshape).to_device_kernel(self.device())?;
        self.expand(&to_i64(&src_shape))?.gather(d as i64, &idx)
    }

    /// `scatter_reduce(dim, index, src, reduce, include_self)` (out of place).
    pub fn scatter_reduce(
        &self,
        dim: i64,
        index: &Tensor,
        src: &Tensor,
        reduce: ScatterReduce,
        include_self: bool,
    ) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim())?;
        if self.dtype() != src.dtype() {
            bail!(Runtime, "scatter(): Expected self.dtype to be equal to src.dtype");
        }
        crate::ops::common_device(&[self, index, src])?;
        crate::ops::index::check_scatter_shapes(self, d, index, src)?;
        let base = self.to_cpu()?.cast_kernel(self.dtype())?;
        let offs = base.dim_offsets(d, index, "scatter_reduce")?;
        let out = with_dtype!(self.dtype(), T => {
            let mut buf = base.try_to_vec::<T>()?;
            let sv = src.try_to_vec::<T>()?;
            let src_shape: &[usize] = if src.ndim() == 0 { &[1] } else { src.shape() };
            let sstr = crate::shape::contiguous_strides(&src_shape[..index.ndim().min(src_shape.len())]);
            let istr = crate::shape::contiguous_strides(index.shape());
            let mut count = vec![0u32; buf.len()];
            for (i, &o) in offs.iter().enumerate() {
                let si: usize = (0..index.ndim()).map(|k| ((i / istr[k]) % index.shape()[k]) * sstr[k]).sum();
                let v = sv[si];
                // Without self, the first value scattered to a place starts its reduction.
                buf[o] = if count[o] == 0 && !include_self { v } else { fold(reduce, buf[o], v) };
                count[o] += 1;
            }
            if reduce == ScatterReduce::Mean {
                for (x, &c) in buf.iter_mut().zip(&count) {
                    if c > 0 {
                        let n = c as f64 + if include_self { 1.0 } else { 0.0 };
                        *x = if T::DTYPE.is_float() {
                            T::from_f64(x.to_f64() / n)
                        } else {
                            T::from_f64((x.to_f64() / n).floor())
                        };
                    }
                }
            }
            Tensor::from_vec(buf, self.shape())
        });
        let out = out.to_device_kernel(self.device())?;
        if !out.dtype().is_float() {
            return Ok(out);
        }
        Ok(recorded(out.clone(), "ScatterReduceBackward0", &[self, src], || Op::ScatterReduce {
            dim: d,
            index: index.detach(),
            reduce,
            include_self,
            x: Saved::input(self),
            src: Saved::input(src),
            out: Saved::output(&out, "ScatterReduceBackward0"),
        }))
    }

    /// `torch.aminmax(dim, keepdim)`: (min, max), each differentiable as amin/amax.
    pub fn aminmax(&self, dim: Option<i64>, keepdim: bool) -> Result<(Tensor, Tensor)> {
        if self.is_gpu() && self.dtype() == DType::Bool {
            // The device reduces numbers: bools as 0/1 integers.
            let (lo, hi) = self.to_dtype(DType::I32)?.aminmax(dim, keepdim)?;
            return Ok((lo.to_dtype(DType::Bool)?, hi.to_dtype(DType::Bool)?));
        }
        match dim {
            None if self.numel() == 0 => bail!(
                Runtime,
                "aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity."
            ),
            None => {
                let dims: Vec<i64> = (0..self.ndim() as i64).collect();
                Ok((self.amax(Some(&dims), keepdim, false)?, self.amax(Some(&dims), keepdim, true)?))
            }
            Some(d) => {
                let dn = normalize_dim(d, self.ndim())?;
                if self.shape().get(dn).copied().unwrap_or(1) == 0 {
                    bail!(Index, "aminmax: Expected reduction dim {} to have non-zero size.", dn);
                }
                if self.numel() == 0 {
                    let shape = crate::ops::reduce::reduced_shape(self.shape(), &[dn], keepdim);
                    let e = Tensor::full_on(&shape, crate::Scalar::Int(0), self.dtype(), self.device())?;
                    return Ok((e.clone(), e));
                }
                let dims = [d];
                Ok((self.amax(Some(&dims), keepdim, false)?, self.amax(Some(&dims), keepdim, true)?))
            }
        }
    }

    /// `count_nonzero(dim)`: int64 counts of nonzero elements (NaN counts) over `dims`.
    pub fn count_nonzero(&self, dims: Option<&[i64]>) -> Result<Tensor> {
        let d = reduction_dims(dims, self.ndim())?;
        let mask = self.logical_not()?.logical_not()?;
        let dl: Vec<i64> = d.iter().map(|&x| x as i64).collect();
        mask.sum(Some(&dl), false)?.to_dtype(DType::I64)
    }
}
