//! Advanced indexing (integer and boolean tensors), gather/scatter and masks.

use crate::autograd::{recorded, Op};
use crate::bail;
use crate::cpu::index::{offsets, put, take};
use crate::error::Result;
use crate::layout::Layout;
use crate::ops::arith::Arith;
use crate::shape::{broadcast_shapes, fmt_shape, normalize_dim, numel, Dims};
use crate::tensor::Tensor;
use crate::{with_dtype, DType, Operand, Scalar};
use std::sync::Arc;

/// An advanced index resolved against a shape: the indexed dims, their (broadcast, wrapped)
/// index values, the broadcast shape, and where the broadcast dims land in the result.
#[derive(Debug)]
pub struct AdvIndex {
    dims: Vec<usize>,
    idx: Vec<Vec<usize>>,
    bshape: Dims,
    insert_at: usize,
}

impl AdvIndex {
    /// Resolves per-dim index tensors (`None` = whole dim) against `shape`.
    pub fn new(shape: &[usize], indices: &[Option<Tensor>]) -> Result<AdvIndex> {
        let mut dims = Vec::new();
        let mut tensors: Vec<Tensor> = Vec::new();
        let mut d = 0;
        for ix in indices {
            let Some(t) = ix else {
                d += 1;
                continue;
            };
            match t.dtype() {
                DType::Bool => {
                    // A k-dim mask covers k dims; its true positions become k index vectors.
                    for (j, &m) in t.shape().iter().enumerate() {
                        if d + j >= shape.len() || shape[d + j] != m {
                            bail!(
                                Index,
                                "The shape of the mask {} at index {} does not match the shape of the indexed tensor {} at index {}",
                                fmt_shape(t.shape()),
                                j,
                                fmt_shape(shape),
                                d + j
                            );
                        }
                    }
                    for (j, coord) in t.nonzero_coords()?.into_iter().enumerate() {
                        dims.push(d + j);
                        let n = coord.len();
                        tensors.push(Tensor::from_vec(coord, &[n]));
                    }
                    d += t.ndim();
                }
                DType::I64 | DType::I32 => {
                    dims.push(d);
                    tensors.push(t.clone());
                    d += 1;
                }
                _ => bail!(Index, "tensors used as indices must be long, int, byte or bool tensors"),
            }
        }
        if d > shape.len() {
            bail!(Index, "too many indices for tensor of dimension {}", shape.len());
        }
        let mut bshape: Dims = Dims::new();
        for t in &tensors {
            bshape = broadcast_shapes(&bshape, t.shape())?;
        }
        let mut idx = Vec::with_capacity(tensors.len());
        for (t, &dim) in tensors.iter().zip(&dims) {
            let size = shape[dim] as i64;
            let b = t.layout().broadcast_to(&bshape)?;
            let vals = t.with_layout(b)?.try_to_vec::<i64>()?;
            let mut wrapped = Vec::with_capacity(vals.len());
            for v in vals {
                if v < -size || v >= size {
                    bail!(Index, "index {} is out of bounds for dimension {} with size {}", v, dim, size);
                }
                wrapped.push(if v < 0 { v + size } else { v } as usize);
            }
            idx.push(wrapped);
        }
        let adjacent = dims.windows(2).all(|w| w[1] == w[0] + 1);
        let insert_at = if adjacent { dims.first().copied().unwrap_or(0) } else { 0 };
        Ok(AdvIndex { dims, idx, bshape, insert_at })
    }

    /// Storage offsets of the indexed positions and the layout of the remaining dims.
    fn parts(&self, layout: &Layout) -> (Vec<usize>, Layout) {
        let rest_dims: Vec<usize> = (0..layout.ndim()).filter(|d| !self.dims.contains(d)).collect();
        let rest = Layout {
            shape: rest_dims.iter().map(|&d| layout.shape[d]).collect(),
            strides: rest_dims.iter().map(|&d| layout.strides[d]).collect(),
            offset: 0,
        };
        let nb = numel(&self.bshape);
        let bases = (0..nb)
            .map(|b| {
                layout.offset
                    + self.idx.iter().zip(&self.dims).map(|(ix, &d)| ix[b] * layout.strides[d]).sum::<usize>()
            })
            .collect();
        (bases, rest)
    }

    /// Shape of the result with the broadcast dims first ("front form").
    fn front_shape(&self, shape: &[usize]) -> Dims {
        let mut s = self.bshape.clone();
        s.extend((0..shape.len()).filter(|d| !self.dims.contains(d)).map(|d| shape[d]));
        s
    }

    /// The permutation from front form to the result's dim order.
    fn to_result(&self, ndim: usize) -> Vec<i64> {
        let nb = self.bshape.len();
        let (at, rest) = (self.insert_at, ndim - nb);
        let mut p: Vec<i64> = (nb..nb + at).map(|d| d as i64).collect();
        p.extend((0..nb).map(|d| d as i64));
        p.extend((nb + at..nb + rest).map(|d| d as i64));
        p
    }
}

/// Storage offsets `base + rest` for every base and rest position, in [`take`]'s order.
fn take_offsets(bases: &[usize], rest: &Layout) -> Result<Vec<i64>> {
    let rest_offs = offsets(rest)?;
    let n = bases.len().saturating_mul(rest_offs.len());
    crate::storage::try_collect(n, bases.iter().flat_map(|&b| rest_offs.iter().map(move |&r| (b + r) as i64)))
}

impl Tensor {
    /// Coordinates of the true elements of a bool tensor, one vector per dim.
    pub fn nonzero_coords(&self) -> Result<Vec<Vec<i64>>> {
        let mask = self.try_to_vec::<bool>()?;
        let strides = crate::shape::contiguous_strides(self.shape());
        let mut coords = vec![Vec::new(); self.ndim()];
        for (i, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
            for (d, c) in coords.iter_mut().enumerate() {
                c.push(((i / strides[d]) % self.shape()[d]) as i64);
            }
        }
        Ok(coords)
    }

    /// `x[indices]` with integer/bool index tensors (`None` keeps a dim whole).
    pub fn index(&self, indices: &[Option<Tensor>]) -> Result<Tensor> {
        let adv = Arc::new(AdvIndex::new(self.shape(), indices)?);
        self.take_adv(&adv)
    }

    pub(crate) fn take_adv(&self, adv: &Arc<AdvIndex>) -> Result<Tensor> {
        let (bases, rest) = adv.parts(self.layout());
        let front = adv.front_shape(self.shape());
        let out = if self.is_gpu() {
            crate::gpu::gather(self, &take_offsets(&bases, &rest)?, &front)?
        } else {
            with_dtype!(self.dtype(), T => Tensor::from_vec(take(self.storage_slice::<T>(), &bases, &rest)?, &front))
        };
        let perm = adv.to_result(front.len());
        let out = if perm.iter().enumerate().all(|(i, &p)| p == i as i64) {
            out
        } else {
            out.permute_kernel(&perm)?
        };
        Ok(recorded(out, "IndexBackward0", &[self], || Op::Index { shape: self.dims(), adv: adv.clone() }))
    }

    /// The gradient of indexing: `self` (a result-shaped gradient) added into zeros of `shape`.
    pub(crate) fn index_backward(&self, shape: &[usize], adv: &Arc<AdvIndex>) -> Result<Tensor> {
        let front = adv.front_shape(shape);
        let perm = adv.to_result(front.len());
        let mut inv = vec![0i64; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p as usize] = i as i64;
        }
        let g_front = self.permute_kernel(&inv)?;
        let base = Layout::contiguous(shape);
        let (bases, rest) = adv.parts(&base);
        let out = if self.is_gpu() {
            let buf = self.zeros_like_shape(shape)?;
            crate::gpu::scatter(&buf, &take_offsets(&bases, &rest)?, &g_front, true)?;
            buf
        } else {
            with_dtype!(self.dtype(), T => {
                let mut buf = Tensor::buffer_for::<T>(shape)?;
                put(&mut buf, &bases, &rest, &g_front.try_to_vec::<T>()?, |a: T, b: T| a.add(b), true)?;
                Tensor::from_vec(buf, shape)
            })
        };
        Ok(recorded(out, "IndexPutBackward0", &[self], || Op::IndexBackward { adv: adv.clone() }))
    }

    pub(crate) fn take_again(&self, adv: &Arc<AdvIndex>) -> Result<Tensor> {
        self.take_adv(adv)
    }

    /// The gradient `g` of `index_put` w.r.t. its input: `g` with the overwritten positions
    /// zeroed.
    pub(crate) fn zero_indexed(&self, adv: &Arc<AdvIndex>) -> Result<Tensor> {
        self.index_put_adv(adv, &self.zeros_like_shape(&[])?, false)
    }

    /// `index_put(indices, values, accumulate)`: a copy of `self` with the indexed positions
    /// set to (or increased by) `values`, broadcast to the indexed shape.
    pub fn index_put(&self, indices: &[Option<Tensor>], values: &Tensor, accumulate: bool) -> Result<Tensor> {
        let adv = Arc::new(AdvIndex::new(self.shape(), indices)?);
        self.index_put_adv(&adv, values, accumulate)
    }

    pub(crate) fn index_put_adv(
        &self,
        adv: &Arc<AdvIndex>,
        values: &Tensor,
        accumulate: bool,
    ) -> Result<Tensor> {
        let front = adv.front_shape(self.shape());
        let perm = adv.to_result(front.len());
        let result_shape: Vec<i64> = perm.iter().map(|&p| front[p as usize] as i64).collect();
        let v = values.to_dtype(self.dtype())?.expand(&result_shape)?;
        let mut inv = vec![0i64; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p as usize] = i as i64;
        }
        let v_front = v.permute_kernel(&inv)?;
        let base = Layout::contiguous(self.shape());
        let (bases, rest) = adv.parts(&base);
        let out = if self.is_gpu() {
            let buf = self.contiguous_copy()?;
            crate::gpu::scatter(&buf, &take_offsets(&bases, &rest)?, &v_front, accumulate)?;
            buf
        } else {
            with_dtype!(self.dtype(), T => {
                let mut buf = self.try_to_vec::<T>()?;
                put(&mut buf, &bases, &rest, &v_front.try_to_vec::<T>()?, |a: T, b: T| a.add(b), accumulate)?;
                Tensor::from_vec(buf, self.shape())
            })
        };
        let vshape = values.dims();
        let adv = adv.clone();
        Ok(recorded(out, "IndexPutBackward0", &[self, values], || Op::IndexPut {
            adv,
            values_shape: vshape,
            accumulate,
        }))
    }

    /// A permuted view without autograd (for internal layout shuffles).
    fn permute_kernel(&self, perm: &[i64]) -> Result<Tensor> {
        let p: Vec<usize> = perm.iter().map(|&d| d as usize).collect();
        self.with_layout(self.layout().permute(&p))
    }

    /// `gather(dim, index)`.
    pub fn gather(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim())?;
        let offs = self.dim_offsets(d, index, "gather")?;
        let out = if self.is_gpu() {
            let o: Vec<i64> = offs.iter().map(|&o| o as i64).collect();
            crate::gpu::gather(self, &o, index.shape())?
        } else {
            with_dtype!(self.dtype(), T => {
                let s = self.storage_slice::<T>();
                Tensor::from_vec(offs.iter().map(|&o| s[o]).collect::<Vec<T>>(), index.shape())
            })
        };
        Ok(recorded(out, "GatherBackward0", &[self], || Op::Gather {
            shape: self.dims(),
            dim: d,
            index: index.detach(),
        }))
    }

    /// Storage offsets in `self` addressed by `index` along `dim` (for gather/scatter).
    pub(crate) fn dim_offsets(&self, dim: usize, index: &Tensor, op: &str) -> Result<Vec<usize>> {
        if !matches!(index.dtype(), DType::I64 | DType::I32) {
            bail!(Runtime, "{}(): Expected dtype int64 for index", op);
        }
        if index.ndim() != self.ndim() && !(index.ndim() <= 1 && self.ndim() <= 1) {
            bail!(Runtime, "Index tensor must have the same number of dimensions as input tensor");
        }
        for d in 0..index.ndim() {
            if d != dim && index.shape()[d] > self.shape().get(d).copied().unwrap_or(1) {
                bail!(
                    Runtime,
                    "Size does not match at dimension {} expected index {} to be no larger than self {} apart from dimension {}",
                    d,
                    fmt_shape(index.shape()),
                    fmt_shape(self.shape()),
                    dim
                );
            }
        }
        let l = self.layout();
        let size = self.shape().get(dim).copied().unwrap_or(1) as i64;
        let stride = l.strides.get(dim).copied().unwrap_or(0);
        let vals = index.try_to_vec::<i64>()?;
        let pos = offsets(&Layout {
            shape: index.dims(),
            strides: index
                .dims()
                .iter()
                .enumerate()
                .map(|(d, _)| l.strides.get(d).copied().unwrap_or(0))
                .collect(),
            offset: l.offset,
        })?;
        let mut out = crate::storage::try_vec_with_capacity(vals.len())?;
        for ((&v, &p), i) in vals.iter().zip(&pos).zip(0..) {
            // No wrapping of negative indices here, as PyTorch's gather and scatter.
            if v < 0 || v >= size {
                bail!(Runtime, "index {} is out of bounds for dimension {} with size {}", v, dim, size);
            }
            let v = v as usize;
            // `p` includes the index position along `dim`; replace it by the index value.
            let along = (i / index_stride(index, dim)) % index.shape().get(dim).copied().unwrap_or(1);
            out.push(p - along * stride + v * stride);
        }
        Ok(out)
    }

    /// `scatter_add(dim, index, src)` (out of place).
    pub fn scatter_add(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, true)
    }

    /// `scatter(dim, index, src)` (out of place).
    pub fn scatter(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, false)
    }

    fn scatter_impl(&self, dim: i64, index: &Tensor, src: &Tensor, accumulate: bool) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim())?;
        check_scatter_shapes(self, d, index, src)?;
        let base = self.contiguous_copy()?;
        let offs = base.dim_offsets(d, index, if accumulate { "scatter_add" } else { "scatter" })?;
        let src_vals = src.to_dtype(self.dtype())?;
        let out = if base.is_gpu() {
            crate::ops::common_device(&[&base, &src_vals])?;
            let sstr = crate::shape::contiguous_strides(src.shape());
            let istr = crate::shape::contiguous_strides(index.shape());
            let src_c = src_vals.contiguous()?.detach();
            let off0 = src_c.layout().offset;
            let picks: Vec<i64> = (0..offs.len())
                .map(|i| {
                    (off0
                        + (0..index.ndim())
                            .map(|k| ((i / istr[k]) % index.shape()[k]) * sstr[k])
                            .sum::<usize>()) as i64
                })
                .collect();
            let vals = crate::gpu::gather(&src_c, &picks, &[offs.len()])?;
            let o: Vec<i64> = offs.iter().map(|&o| o as i64).collect();
            crate::gpu::scatter(&base, &o, &vals, accumulate)?;
            base
        } else {
            with_dtype!(self.dtype(), T => {
                let mut buf = base.try_to_vec::<T>()?;
                let sv = src_vals.try_to_vec::<T>()?;
                // A 0-dim src pairs with a 1-element index as a [1] tensor.
                let src_shape: &[usize] = if src.ndim() == 0 { &[1] } else { src.shape() };
                let sstr = crate::shape::contiguous_strides(&src_shape[..index.ndim().min(src_shape.len())]);
                let istr = crate::shape::contiguous_strides(index.shape());
                for (i, &o) in offs.iter().enumerate() {
                    // Element i of `index` pairs with the same coordinates in `src`.
                    let si: usize = (0..index.ndim()).map(|k| ((i / istr[k]) % index.shape()[k]) * sstr[k]).sum();
                    buf[o] = if accumulate { buf[o].add(sv[si]) } else { sv[si] };
                }
                Tensor::from_vec(buf, self.shape())
            })
        };
        let (name, op) = if accumulate { ("ScatterAddBackward0", true) } else { ("ScatterBackward0", false) };
        Ok(recorded(out, name, &[self, src], || Op::Scatter {
            dim: d,
            index: index.detach(),
            src_shape: src.dims(),
            accumulate: op,
        }))
    }

    fn contiguous_copy(&self) -> Result<Tensor> {
        self.cast_kernel(self.dtype())
    }

    /// `index_select(dim, index)`.
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        if index.ndim() > 1 {
            bail!(Index, "index_select(): Index is supposed to be a vector");
        }
        let d = normalize_dim(dim, self.ndim())?;
        // Unlike indexing with [], a negative index is out of range here (so is one for
        // nn.Embedding, which selects rows this way).
        let size = self.shape().get(d).copied().unwrap_or(1) as i64;
        if index.dtype().is_int() && index.try_to_vec::<i64>()?.iter().any(|&v| v < 0 || v >= size) {
            bail!(Index, "index out of range in self");
        }
        let mut ix: Vec<Option<Tensor>> = vec![None; d];
        ix.push(Some(index.reshape(&[-1])?));
        self.index(&ix)
    }

    /// `masked_fill(mask, value)`.
    pub fn masked_fill(&self, mask: &Tensor, value: Scalar) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            bail!(
                Runtime,
                "masked_fill_ only supports boolean masks, but got mask with dtype {}",
                mask.dtype().scalar_name()
            );
        }
        // Out of place, self and mask broadcast together (only masked_fill_ needs self's shape).
        let out = crate::ops::binary::where_(mask, Operand::S(value), Operand::T(self))?;
        out.to_dtype(self.dtype())
    }

    /// `masked_select(mask)`: the elements where the (broadcast) mask holds, as a vector.
    pub fn masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            bail!(Runtime, "masked_select: expected BoolTensor for mask");
        }
        let shape = broadcast_shapes(self.shape(), mask.shape())?;
        let sizes: Vec<i64> = shape.iter().map(|&s| s as i64).collect();
        let x = self.expand(&sizes)?;
        let m = mask.with_layout(mask.layout().broadcast_to(&shape)?)?;
        // Always a vector, even for 0-dim inputs.
        let (x, m) = if shape.is_empty() { (x.reshape(&[1])?, m.reshape(&[1])?) } else { (x, m) };
        x.index(&[Some(m)])
    }

    /// `tril(diagonal)` / `triu(diagonal)`: zero above (below) the given diagonal.
    pub fn triangle(&self, diagonal: i64, lower: bool) -> Result<Tensor> {
        if self.ndim() < 2 {
            bail!(
                Runtime,
                "{}: input tensor must have at least 2 dimensions",
                if lower { "tril" } else { "triu" }
            );
        }
        let (r, c) = (self.shape()[self.ndim() - 2], self.shape()[self.ndim() - 1]);
        let keep: Vec<bool> = (0..r * c)
            .map(|i| {
                let (row, col) = ((i / c) as i64, (i % c) as i64);
                if lower {
                    col - row <= diagonal
                } else {
                    col - row >= diagonal
                }
            })
            .collect();
        let mask = Tensor::from_vec(keep, &[r, c]).to_device_kernel(self.device())?;
        crate::ops::binary::where_(&mask, Operand::T(self), Operand::S(Scalar::Int(0)))?
            .to_dtype(self.dtype())
    }
}

fn index_stride(index: &Tensor, dim: usize) -> usize {
    crate::shape::contiguous_strides(index.shape()).get(dim).copied().unwrap_or(1)
}

/// PyTorch's shape checks for scatter/scatter_add: `src` has the index's dims and is at least
/// as large in each, and the index fits `self` apart from `dim` (an empty index is a no-op).
pub(crate) fn check_scatter_shapes(this: &Tensor, dim: usize, index: &Tensor, src: &Tensor) -> Result<()> {
    if index.numel() == 0 {
        return Ok(());
    }
    if src.ndim() != index.ndim() && !(src.ndim() <= 1 && index.ndim() <= 1) {
        bail!(Runtime, "Index tensor must have the same number of dimensions as src tensor");
    }
    for k in 0..index.ndim() {
        let i = index.shape()[k];
        let s = src.shape().get(k).copied().unwrap_or(1);
        let own = this.shape().get(k).copied().unwrap_or(1);
        if i > s || (k != dim && i > own) {
            bail!(
                Runtime,
                "Expected index {} to be no larger than self {} apart from dimension {} and to be no larger size than src {}",
                fmt_shape(index.shape()),
                fmt_shape(this.shape()),
                dim,
                fmt_shape(src.shape())
            );
        }
    }
    Ok(())
}
