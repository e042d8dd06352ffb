//! Views: ops that share storage and change only the layout.

use crate::autograd::{recorded, Op};
use crate::bail;
use crate::error::Result;
use crate::layout::Layout;
use crate::shape::{infer_shape, normalize_dim, Dims};
use crate::tensor::Tensor;
use crate::with_dtype;

/// A narrowing of one dimension, shared by indexing and its backward.
#[derive(Clone, Debug, PartialEq)]
pub enum Narrow {
    Select { dim: usize, index: usize },
    Slice { dim: usize, start: usize, len: usize, step: usize },
}

impl Narrow {
    fn apply(&self, l: &Layout) -> Layout {
        match *self {
            Narrow::Select { dim, index } => l.select(dim, index),
            Narrow::Slice { dim, start, len, step } => l.slice(dim, start, len, step),
        }
    }
}

impl Tensor {
    fn view_with(&self, layout: Layout, name: &'static str, op: impl FnOnce() -> Op) -> Result<Tensor> {
        let out = recorded(self.with_layout(layout)?, name, &[self], op);
        if self.requires_grad() {
            let (of_grad_leaf, base) = {
                let m = self.meta();
                (
                    m.views_grad_leaf || m.grad_fn.is_none(),
                    m.view_base.clone().unwrap_or_else(|| self.clone()),
                )
            };
            let version = self.version();
            let mut m = out.meta();
            m.views_grad_leaf = of_grad_leaf;
            m.view_base = Some(base);
            m.view_version = version;
        }
        Ok(out)
    }

    /// `view(*shape)`: fails when the strides cannot express the new shape.
    pub fn view(&self, shape: &[i64]) -> Result<Tensor> {
        let new_shape = infer_shape(shape, self.numel())?;
        let Some(strides) = self.layout().view_strides(&new_shape) else {
            bail!(
                Runtime,
                "view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead."
            );
        };
        let layout = Layout { shape: new_shape, strides, offset: self.layout().offset };
        self.view_with(layout, "ViewBackward0", || Op::Reshape { shape: self.dims() })
    }

    /// `reshape(*shape)`: a view when possible, else a copy.
    pub fn reshape(&self, shape: &[i64]) -> Result<Tensor> {
        let new_shape = infer_shape(shape, self.numel())?;
        if new_shape.as_slice() == self.shape() {
            // A new view, as PyTorch: never the input object itself.
            return self
                .view_with(self.layout().clone(), "ViewBackward0", || Op::Reshape { shape: self.dims() });
        }
        match self.layout().view_strides(&new_shape) {
            Some(_) => self.view(shape),
            None => self.clone_tensor()?.view(shape),
        }
    }

    pub fn transpose(&self, d0: i64, d1: i64) -> Result<Tensor> {
        let (a, b) = (normalize_dim(d0, self.ndim())?, normalize_dim(d1, self.ndim())?);
        if self.ndim() < 2 {
            return self.view_with(self.layout().clone(), "TransposeBackward0", || Op::Transpose { a, b });
        }
        self.view_with(self.layout().transpose(a, b), "TransposeBackward0", || Op::Transpose { a, b })
    }

    /// `t()`: transpose of a matrix (vectors and scalars are returned as they are).
    pub fn t(&self) -> Result<Tensor> {
        if self.ndim() > 2 {
            bail!(Runtime, "t() expects a tensor with <= 2 dimensions, but self is {}D", self.ndim());
        }
        let layout = if self.ndim() == 2 { self.layout().transpose(0, 1) } else { self.layout().clone() };
        let (a, b) = if self.ndim() == 2 { (0, 1) } else { (0, 0) };
        self.view_with(layout, "TBackward0", || Op::Transpose { a, b })
    }

    pub fn permute(&self, dims: &[i64]) -> Result<Tensor> {
        if dims.len() != self.ndim() {
            bail!(
                Runtime,
                "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
                self.ndim(),
                dims.len()
            );
        }
        let mut perm = Dims::new();
        for &d in dims {
            let d = normalize_dim(d, self.ndim())?;
            if perm.contains(&d) {
                bail!(Runtime, "permute(): duplicate dims are not allowed.");
            }
            perm.push(d);
        }
        self.view_with(self.layout().permute(&perm), "PermuteBackward0", || Op::Permute {
            dims: perm.clone(),
        })
    }

    /// `unfold(dimension, size, step)`: the windows of `size` elements every `step` along
    /// `dimension`, as a new last dim; a strided view (windows overlap when step < size).
    pub fn unfold(&self, dimension: i64, size: i64, step: i64) -> Result<Tensor> {
        let d = normalize_dim(dimension, self.ndim())?;
        let n = self.shape().get(d).copied().unwrap_or(1);
        if size > n as i64 {
            bail!(Runtime, "maximum size for tensor at dimension {} is {} but size is {}", d, n, size);
        }
        if size < 0 {
            bail!(Runtime, "size is {} but must be >= 0", size);
        }
        if step <= 0 {
            bail!(Runtime, "step is {} but must be > 0", step);
        }
        let (size, step) = (size as usize, step as usize);
        let l = self.layout();
        let layout = if self.ndim() == 0 {
            Layout { shape: Dims::from_slice(&[size]), strides: Dims::from_slice(&[1]), offset: l.offset }
        } else {
            let (mut shape, mut strides) = (l.shape.clone(), l.strides.clone());
            shape[d] = (n - size) / step + 1;
            strides[d] = l.strides[d].saturating_mul(step);
            shape.push(size);
            strides.push(l.strides[d]);
            Layout { shape, strides, offset: l.offset }
        };
        self.view_with(layout, "UnfoldBackward0", || Op::Unfold { shape: self.dims(), dim: d, size, step })
    }

    /// `.T` / `.mT`-style full reversal of the dims.
    pub fn reverse_dims(&self) -> Result<Tensor> {
        let dims: Vec<i64> = (0..self.ndim() as i64).rev().collect();
        self.permute(&dims)
    }

    pub fn unsqueeze(&self, dim: i64) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim() + 1)?;
        self.view_with(self.layout().unsqueeze(d), "UnsqueezeBackward0", || Op::Unsqueeze { dim: d })
    }

    /// `squeeze()` (all size-1 dims) or `squeeze(dim)`.
    pub fn squeeze(&self, dim: Option<i64>) -> Result<Tensor> {
        let mut layout = self.layout().clone();
        let name = match dim {
            None => {
                let keep: Vec<usize> = (0..self.ndim()).filter(|&i| self.shape()[i] != 1).collect();
                layout.shape = keep.iter().map(|&i| self.shape()[i]).collect();
                layout.strides = keep.iter().map(|&i| self.strides()[i]).collect();
                "SqueezeBackward0"
            }
            Some(d) => {
                let d = normalize_dim(d, self.ndim())?;
                if self.ndim() > 0 && self.shape()[d] == 1 {
                    layout = layout.remove_dim(d);
                }
                "SqueezeBackward1"
            }
        };
        self.view_with(layout, name, || Op::Reshape { shape: self.dims() })
    }

    /// `expand(*sizes)`, where -1 keeps a size.
    pub fn expand(&self, sizes: &[i64]) -> Result<Tensor> {
        let lead = sizes.len().saturating_sub(self.ndim());
        let mut shape = Dims::new();
        for (i, &s) in sizes.iter().enumerate() {
            if s == -1 {
                if i < lead {
                    bail!(Runtime, "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {}", i);
                }
                shape.push(self.shape()[i - lead]);
            } else if s < 0 {
                bail!(Runtime, "The expanded size of the tensor ({}) isn't allowed", s);
            } else {
                shape.push(s as usize);
            }
        }
        let layout = self.layout().broadcast_to(&shape)?;
        self.view_with(layout, "ExpandBackward0", || Op::Expand { shape: self.dims() })
    }

    /// `x[index]` along `dim`, with negative indices and PyTorch's IndexError.
    pub fn select(&self, dim: i64, index: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            bail!(Index, "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number");
        }
        let d = normalize_dim(dim, self.ndim())?;
        let size = self.shape()[d] as i64;
        if index < -size || index >= size {
            bail!(
                Index,
                "select(): index {} out of range for tensor of size {} at dimension {}",
                index,
                crate::shape::fmt_shape(self.shape()),
                d
            );
        }
        let i = if index < 0 { index + size } else { index } as usize;
        self.narrow_view(Narrow::Select { dim: d, index: i }, "SelectBackward0")
    }

    /// `x[start:end:step]` along `dim`, with Python's clamping.
    pub fn slice(&self, dim: i64, start: Option<i64>, end: Option<i64>, step: i64) -> Result<Tensor> {
        if step <= 0 {
            bail!(Value, "step must be greater than zero");
        }
        let d = normalize_dim(dim, self.ndim())?;
        let size = self.shape()[d] as i64;
        let clamp = |v: i64| {
            if v < 0 {
                (v + size).max(0)
            } else {
                v.min(size)
            }
        };
        let s = start.map_or(0, clamp);
        let e = end.map_or(size, clamp).max(s);
        let len = ((e - s) + step - 1) / step;
        let n = Narrow::Slice { dim: d, start: s as usize, len: len as usize, step: step as usize };
        self.narrow_view(n, "SliceBackward0")
    }

    fn narrow_view(&self, n: Narrow, name: &'static str) -> Result<Tensor> {
        let layout = n.apply(self.layout());
        self.view_with(layout, name, || Op::Narrow { shape: self.dims(), narrow: n.clone() })
    }

    /// The gradient of a narrowing: zeros of `shape` with `self` written into the narrowed part.
    pub fn narrow_backward(&self, shape: &[usize], n: &Narrow) -> Result<Tensor> {
        let out = if self.is_gpu() {
            let out = self.zeros_like_shape(shape)?;
            let part = out.with_layout(n.apply(&Layout::contiguous(shape)))?;
            crate::gpu::map_into(&part, &[crate::gpu::Input::of(self, self.dtype())], "a", self.dtype())?;
            out
        } else {
            with_dtype!(self.dtype(), T => {
                let mut buf = Tensor::buffer_for::<T>(shape)?;
                let src: Vec<T> = self.try_to_vec::<T>()?;
                crate::cpu::copy::scatter(&src, &mut buf, &n.apply(&Layout::contiguous(shape)));
                Tensor::from_vec(buf, shape)
            })
        };
        let name = match n {
            Narrow::Select { .. } => "SelectBackwardBackward0",
            Narrow::Slice { .. } => "SliceBackwardBackward0",
        };
        Ok(recorded(out, name, &[self], || Op::NarrowBackward { narrow: n.clone() }))
    }

    /// Applies a narrowing recorded by [`Tensor::narrow_backward`]'s own backward.
    pub(crate) fn apply_narrow(&self, n: &Narrow) -> Result<Tensor> {
        let name = match n {
            Narrow::Select { .. } => "SelectBackward0",
            Narrow::Slice { .. } => "SliceBackward0",
        };
        self.narrow_view(n.clone(), name)
    }

    /// `flatten(start_dim, end_dim)`.
    pub fn flatten(&self, start: i64, end: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let (s, e) = (normalize_dim(start, self.ndim())?, normalize_dim(end, self.ndim())?);
        if s > e {
            bail!(Runtime, "flatten() has invalid args: start_dim cannot come after end_dim");
        }
        let mut shape: Vec<i64> = self.shape()[..s].iter().map(|&x| x as i64).collect();
        shape.push(self.shape()[s..=e].iter().product::<usize>() as i64);
        shape.extend(self.shape()[e + 1..].iter().map(|&x| x as i64));
        self.reshape(&shape)
    }
}

impl Tensor {
    /// `view(dtype)` between dtypes of one element size: the same memory read as `dtype`
    /// (a bit reinterpretation, as PyTorch's; the checkpoint loader reads bfloat16 storages
    /// this way). Other sizes are PyTorch's errors or not supported.
    pub fn view_dtype(&self, dtype: crate::DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.detach());
        }
        let (from, to) = (self.dtype(), dtype);
        if from.itemsize() != to.itemsize() {
            let last = self.shape().last().copied().unwrap_or(1);
            if self.strides().last().copied().unwrap_or(1) != 1 {
                bail!(
                    Runtime,
                    "self.stride(-1) must be 1 to view {} as {} (different element sizes), but got {}",
                    from.scalar_name(),
                    to.scalar_name(),
                    self.strides().last().copied().unwrap_or(1)
                );
            }
            bail!(
                Runtime,
                "rgrad: view({}) of a {} tensor (different element sizes, last dim {last}) is not supported",
                to,
                from
            );
        }
        if self.is_gpu() {
            bail!(Runtime, "view(dtype) of a wgpu tensor is not supported");
        }
        let st = self.storage().clone();
        // SAFETY: the new storage reads the same bytes (same length, same element size), and
        // its owner keeps the original storage, and so the memory, alive.
        let storage = unsafe {
            crate::storage::Storage::from_external(st.data_ptr(), st.len(), dtype, Box::new(st.clone()))
        };
        Tensor::from_parts(std::sync::Arc::new(storage), self.layout().clone())
    }
}
