//! Backward of logcumsumexp (ops/cumulative.rs), unfold (ops/views.rs) and the index writes
//! (ops/index_ops.rs), in tensor ops so that they record under `create_graph`.

use crate::autograd::Saved;
use crate::error::Result;
use crate::ops::binary::{where_, BinaryOp, Operand};
use crate::shape::Dims;
use crate::tensor::Tensor;
use crate::{DType, Scalar};

/// The dtype's lowest finite value (PyTorch's `std::numeric_limits<T>::lowest()`).
fn lowest(dt: DType) -> f64 {
    match dt {
        DType::F64 => f64::MIN,
        DType::F16 => -65504.0,
        DType::BF16 => -3.389_531_389_251_535e38,
        _ => f64::from(f32::MIN),
    }
}

/// `flip(logcumsumexp(flip(x)))` along `d`: the log-sum-exp of each suffix.
fn reverse_lcse(x: &Tensor, d: i64) -> Result<Tensor> {
    x.flip(&[d])?.logcumsumexp(d)?.flip(&[d])
}

/// PyTorch's `logcumsumexp_backward`: the positive and negative parts of the gradient each
/// summed in log space, `exp(rlcse(log|g| - out) + x)`.
pub(super) fn logcumsumexp(
    g: &Tensor,
    x: &Saved,
    out: &Saved,
    dim: usize,
    create_graph: bool,
) -> Result<Tensor> {
    let x = x.get()?;
    let d = dim as i64;
    if x.numel() == 0 {
        return Ok(g.clone());
    }
    let o = if create_graph { x.logcumsumexp(d)? } else { out.get()?.clone() };
    let low = Operand::S(Scalar::Float(lowest(g.dtype())));
    let log_abs = g.abs()?.log()?;
    let pos = where_(&g.compare_scalar(BinaryOp::Gt, 0.0)?, Operand::T(&log_abs), low)?;
    let neg = where_(&g.compare_scalar(BinaryOp::Lt, 0.0)?, Operand::T(&log_abs), low)?;
    let out_pos = reverse_lcse(&pos.sub(&o)?, d)?.add(x)?.exp()?;
    let out_neg = reverse_lcse(&neg.sub(&o)?, d)?.add(x)?.exp()?;
    out_pos.sub(&out_neg)
}

/// The gradient of `unfold`: each window's gradient added back at the positions it viewed
/// (overlapping windows accumulate), as one `index_add` along `dim`.
pub(super) fn unfold(g: &Tensor, shape: &Dims, dim: usize, size: usize, step: usize) -> Result<Tensor> {
    if shape.is_empty() {
        // A 0-dim input viewed as `size` (0 or 1) elements.
        return g.sum(None, false);
    }
    let nd = g.ndim();
    let windows = g.shape()[dim];
    // [..., windows, ..., size] -> [..., windows, size, ...] -> [..., windows * size, ...]
    let mut perm: Vec<i64> = (0..=dim as i64).collect();
    perm.push(nd as i64 - 1);
    perm.extend(dim as i64 + 1..nd as i64 - 1);
    let mut flat: Vec<i64> = shape.iter().map(|&s| s as i64).collect();
    flat[dim] = (windows * size) as i64;
    let gm = g.permute(&perm)?.reshape(&flat)?;
    let pos: Vec<i64> = (0..windows).flat_map(|w| (0..size).map(move |j| (w * step + j) as i64)).collect();
    let n = pos.len();
    let index = Tensor::from_vec(pos, &[n]).to_device_kernel(g.device())?;
    g.zeros_like_shape(shape)?.index_add(dim as i64, &index, &gm, Scalar::Int(1))
}

/// The gradient `index_add`/`index_copy` pass to `source`: the rows of `g` at `index`.
pub(super) fn selected(g: &Tensor, dim: usize, index: &Tensor, source_shape: &Dims) -> Result<Tensor> {
    let s: Vec<i64> = source_shape.iter().map(|&x| x as i64).collect();
    if g.ndim() == 0 {
        return g.reshape(&s);
    }
    g.index_select(dim as i64, index)?.reshape(&s)
}

/// The gradient of a masked overwrite: zero where the mask holds.
pub(super) fn mask_fill(g: &Tensor, mask: &Tensor) -> Result<Tensor> {
    where_(mask, Operand::S(Scalar::Int(0)), Operand::T(g))?.to_dtype(g.dtype())
}
