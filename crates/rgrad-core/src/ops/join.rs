//! Joining and splitting: cat, stack, split, chunk, repeat, flip, movedim.

use crate::autograd::{needs_grad, record, Op};
use crate::bail;
use crate::error::Result;
use crate::shape::{normalize_dim, Dims};
use crate::tensor::Tensor;
use crate::{with_dtype, DType};

impl Tensor {
    /// `torch.cat(tensors, dim)`.
    pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        cat_named(tensors, dim, "CatBackward0")
    }

    /// `torch.stack(tensors, dim)`: a new dim of size `len(tensors)`.
    pub fn stack(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        let Some(first) = tensors.first() else {
            bail!(Runtime, "stack expects a non-empty TensorList");
        };
        for (i, t) in tensors.iter().enumerate() {
            if t.shape() != first.shape() {
                bail!(
                    Runtime,
                    "stack expects each tensor to be equal size, but got {} at entry 0 and {} at entry {}",
                    crate::shape::fmt_shape(first.shape()),
                    crate::shape::fmt_shape(t.shape()),
                    i
                );
            }
        }
        let d = normalize_dim(dim, first.ndim() + 1)? as i64;
        let parts: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d)).collect::<Result<_>>()?;
        cat_named(&parts, d, "StackBackward0")
    }

    /// `split(split_size, dim)` with one size, or sections with a list of sizes.
    pub fn split(&self, sizes: &[usize], equal: bool, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            bail!(Runtime, "split expects at least a 1-dimensional tensor");
        }
        let d = normalize_dim(dim, self.ndim())?;
        let n = self.shape()[d];
        let sections: Vec<usize> = if equal {
            let s = sizes[0];
            if s == 0 && n > 0 {
                bail!(
                    Runtime,
                    "split_size can only be 0 if dimension size is 0, but got dimension size of {}",
                    n
                );
            }
            if n == 0 {
                vec![0]
            } else {
                (0..n.div_ceil(s)).map(|i| s.min(n - i * s)).collect()
            }
        } else {
            if sizes.iter().sum::<usize>() != n {
                bail!(
                    Runtime,
                    "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {}), but got split_sizes={:?}",
                    n,
                    d,
                    sizes
                );
            }
            sizes.to_vec()
        };
        let mut start = 0i64;
        let mut out = Vec::with_capacity(sections.len());
        for len in sections {
            out.push(self.slice(d as i64, Some(start), Some(start + len as i64), 1)?);
            start += len as i64;
        }
        Ok(out)
    }

    /// `chunk(chunks, dim)`.
    pub fn chunk(&self, chunks: usize, dim: i64) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            bail!(Runtime, "chunk expects `chunks` to be greater than 0, got: 0");
        }
        if self.ndim() == 0 {
            bail!(Runtime, "chunk expects at least a 1-dimensional tensor");
        }
        let d = normalize_dim(dim, self.ndim())?;
        let size = self.shape()[d].div_ceil(chunks).max(1);
        self.split(&[size], true, d as i64)
    }

    /// `repeat(*sizes)`: tiles the tensor, as broadcasting views plus one copy.
    pub fn repeat(&self, sizes: &[i64]) -> Result<Tensor> {
        if sizes.len() < self.ndim() {
            bail!(
                Runtime,
                "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
            );
        }
        if sizes.iter().any(|&s| s < 0) {
            bail!(Runtime, "Trying to create tensor with negative dimension");
        }
        let lead = sizes.len() - self.ndim();
        let mut padded: Vec<i64> = vec![1; lead];
        padded.extend(self.shape().iter().map(|&s| s as i64));
        // [a, b] -> [1, a, 1, b] -> expand [r0, a, r1, b] -> reshape [r0*a, r1*b].
        let mut inter = Vec::new();
        let mut expanded = Vec::new();
        let mut fin = Vec::new();
        for (&r, &s) in sizes.iter().zip(&padded) {
            inter.extend([1, s]);
            expanded.extend([r, s]);
            fin.push(r.checked_mul(s).unwrap_or(-1));
        }
        // PyTorch checks the result's size before expanding.
        if fin.iter().any(|&f| f < 0) {
            bail!(Runtime, "Storage size calculation overflowed with sizes={:?}", sizes);
        }
        let fin_shape: Vec<usize> = fin.iter().map(|&f| f as usize).collect();
        crate::shape::storage_numel(&fin_shape, self.dtype().itemsize())?;
        self.reshape(&padded)?.reshape(&inter)?.expand(&expanded)?.contiguous()?.reshape(&fin)
    }

    /// `flip(dims)`: reverses the order along each dim (a copy, as in PyTorch).
    pub fn flip(&self, dims: &[i64]) -> Result<Tensor> {
        if self.ndim() == 0 {
            for &d in dims {
                normalize_dim(d, 0)?;
            }
            return self.clone_tensor();
        }
        let mut out = self.clone();
        for &d in dims {
            let d = normalize_dim(d, self.ndim())?;
            let n = self.shape()[d] as i64;
            let rev = Tensor::from_vec((0..n).rev().collect::<Vec<i64>>(), &[n as usize])
                .to_device_kernel(self.device())?;
            out = out.index_select(d as i64, &rev)?;
        }
        Ok(out)
    }

    /// `movedim(source, destination)`.
    pub fn movedim(&self, src: &[i64], dst: &[i64]) -> Result<Tensor> {
        if src.len() != dst.len() {
            bail!(
                Runtime,
                "movedim: Invalid source or destination dims: source ({:?} dims) should contain the same number of dims as destination ({:?} dims)",
                src,
                dst
            );
        }
        let n = self.ndim();
        let s: Vec<usize> = src.iter().map(|&d| normalize_dim(d, n)).collect::<Result<_>>()?;
        if n == 0 {
            dst.iter().map(|&d| normalize_dim(d, n)).collect::<Result<Vec<_>>>()?;
            return Ok(self.clone());
        }
        let t: Vec<usize> = dst.iter().map(|&d| normalize_dim(d, n)).collect::<Result<_>>()?;
        let mut perm: Vec<Option<usize>> = vec![None; n];
        for (&a, &b) in s.iter().zip(&t) {
            perm[b] = Some(a);
        }
        let mut rest = (0..n).filter(|d| !s.contains(d));
        let order: Vec<i64> =
            perm.into_iter().map(|p| p.unwrap_or_else(|| rest.next().unwrap_or(0)) as i64).collect();
        self.permute(&order)
    }
}

fn cat_named(tensors: &[Tensor], dim: i64, name: &'static str) -> Result<Tensor> {
    let Some(first) = tensors.first() else {
        bail!(Runtime, "torch.cat(): expected a non-empty list of Tensors");
    };
    let nd = first.ndim();
    if nd == 0 {
        bail!(Runtime, "zero-dimensional tensor (at position 0) cannot be concatenated");
    }
    let d = normalize_dim(dim, nd)?;
    let mut dtype = first.dtype();
    for (i, t) in tensors.iter().enumerate() {
        if t.ndim() != nd {
            bail!(Runtime, "Tensors must have same number of dimensions: got {} and {}", nd, t.ndim());
        }
        for k in 0..nd {
            if k != d && t.shape()[k] != first.shape()[k] {
                bail!(
                    Runtime,
                    "Sizes of tensors must match except in dimension {}. Expected size {} but got size {} for tensor number {} in the list.",
                    d,
                    first.shape()[k],
                    t.shape()[k],
                    i
                );
            }
        }
        dtype = DType::promote(dtype, t.dtype());
    }
    let mut shape: Dims = first.dims();
    shape[d] = tensors
        .iter()
        .try_fold(0usize, |a, t| a.checked_add(t.shape()[d]))
        .ok_or_else(|| crate::error::Error::Runtime("cat: the concatenated size overflows".to_string()))?;
    let refs: Vec<&Tensor> = tensors.iter().collect();
    let out = if crate::ops::common_device(&refs)? == crate::Device::Wgpu {
        // Every element is written below, one input per slice: no fill needed.
        let out = crate::gpu::empty(&shape, dtype)?;
        let whole = crate::layout::Layout::contiguous(&shape);
        let mut start = 0;
        for t in tensors {
            let len = t.shape()[d];
            let part = out.with_layout_pub(whole.slice(d, start, len, 1))?;
            crate::gpu::map_into(&part, &[crate::gpu::Input::of(t, dtype)], "a", dtype)?;
            start += len;
        }
        out
    } else {
        with_dtype!(dtype, T => {
            let mut buf = Tensor::buffer_for::<T>(&shape)?;
            let whole = crate::layout::Layout::contiguous(&shape);
            let mut start = 0;
            for t in tensors {
                let len = t.shape()[d];
                let part = whole.slice(d, start, len, 1);
                crate::cpu::copy::scatter(&t.try_to_vec::<T>()?, &mut buf, &part);
                start += len;
            }
            Tensor::from_vec(buf, &shape)
        })
    };
    if dtype.is_float() && needs_grad(&refs) {
        let sizes = tensors.iter().map(|t| t.shape()[d]).collect();
        record(name, Op::Cat { dim: d, sizes }, &refs, &[&out]);
    }
    Ok(out)
}
