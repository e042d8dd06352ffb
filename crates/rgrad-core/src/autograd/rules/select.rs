//! Backward of `masked_scatter` and `scatter_reduce` (ops/select.rs). `scatter_reduce`'s is PyTorch's `scatter_reduce_backward` written in
//! tensor ops: sum and mean pass the gradient through (mean divided by the counts), amax/amin
//! split it evenly among the elements equal to the result, prod divides the result by each
//! factor with zeros treated apart.

use super::Grads;
use crate::autograd::Saved;
use crate::error::Result;
use crate::ops::binary::{where_, BinaryOp, Operand};
use crate::ops::select::ScatterReduce;
use crate::tensor::Tensor;
use crate::{DType, Scalar};
use smallvec::smallvec;

fn as_float(mask: &Tensor, like: &Tensor) -> Result<Tensor> {
    mask.to_dtype(like.dtype())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn scatter_reduce(
    g: &Tensor,
    dim: usize,
    index: &Tensor,
    reduce: ScatterReduce,
    include_self: bool,
    x: &Saved,
    src: &Saved,
    out: &Saved,
    need: [bool; 2],
) -> Result<Grads> {
    let d = dim as i64;
    let (x, src, result) = (x.get()?, src.get()?, out.get()?);
    let (gs, gsrc) = match reduce {
        ScatterReduce::Sum => (g.clone(), g.gather(d, index)?),
        ScatterReduce::Mean => {
            let ones = Tensor::full_on(src.shape(), Scalar::Float(1.0), g.dtype(), g.device())?;
            let start = if include_self { 1.0 } else { 0.0 };
            let base = Tensor::full_on(g.shape(), Scalar::Float(start), g.dtype(), g.device())?;
            let n = base.scatter_add(d, index, &ones)?;
            let n = where_(
                &n.compare_scalar(BinaryOp::Eq, 0.0)?,
                Operand::S(Scalar::Float(1.0)),
                Operand::T(&n),
            )?;
            let gd = g.div(&n)?;
            (gd.clone(), gd.gather(d, index)?)
        }
        ScatterReduce::Amax | ScatterReduce::Amin => {
            let value = result.gather(d, index)?;
            let self_is = as_float(&x.detach().compare(BinaryOp::Eq, &result.detach())?, g)?;
            let src_is = as_float(&src.detach().compare(BinaryOp::Eq, &value.detach())?, g)?;
            let n = self_is.scatter_add(d, index, &src_is)?;
            let gd = g.div(&n)?;
            (self_is.mul(&gd)?, src_is.mul(&gd.gather(d, index)?)?)
        }
        ScatterReduce::Prod => {
            let zero = Operand::S(Scalar::Float(1.0));
            let x_zero = x.detach().compare_scalar(BinaryOp::Eq, 0.0)?;
            let masked_x = where_(&x_zero, zero, Operand::T(x))?;
            let masked_x_result = masked_x.scatter_reduce(d, index, src, reduce, include_self)?;
            let gs = g.mul(&masked_x_result)?.div(&masked_x)?;
            let src_zero = src.detach().compare_scalar(BinaryOp::Eq, 0.0)?;
            let zeros = Tensor::full_on(x.shape(), Scalar::Float(0.0), g.dtype(), g.device())?;
            let src_num_zeros = zeros.scatter_add(d, index, &as_float(&src_zero, g)?)?.gather(d, index)?;
            let single = src_zero.logical(
                crate::ops::logical::LogicalOp::And,
                &src_num_zeros.compare_scalar(BinaryOp::Eq, 1.0)?,
            )?;
            let masked_src = where_(&single, zero, Operand::T(src))?;
            let masked_src_result = x.scatter_reduce(d, index, &masked_src, reduce, include_self)?;
            let divisor = where_(&src_zero, zero, Operand::T(src))?;
            let g1 = g.mul(&masked_src_result)?.gather(d, index)?;
            let g2 = g.mul(result)?.gather(d, index)?.div(&divisor)?;
            (gs, where_(&single, Operand::T(&g1), Operand::T(&g2))?)
        }
    };
    // Without self, the places scattered to took nothing from it.
    let gs = if include_self {
        gs
    } else {
        let z = Tensor::full_on(index.shape(), Scalar::Float(0.0), gs.dtype(), gs.device())?;
        gs.scatter(d, index, &z)?
    };
    debug_assert!(g.dtype() != DType::Bool);
    Ok(smallvec![need[0].then_some(gs), need[1].then_some(gsrc)])
}

/// `masked_scatter`: the unmasked places' gradient goes to `self` (summed over the dims the mask
/// broadcast it to), the masked places' to the first elements of `source` in order; the rest
/// of `source` was not used and gets zero.
pub(super) fn masked_scatter(
    g: &Tensor,
    mask: &Tensor,
    self_shape: &[usize],
    source_shape: &[usize],
    need: [bool; 2],
) -> Result<Grads> {
    let gs =
        if need[0] { Some(g.masked_fill(mask, Scalar::Float(0.0))?.sum_to_shape(self_shape)?) } else { None };
    let gsrc = if need[1] {
        let taken = g.masked_select(mask)?;
        let n: usize = source_shape.iter().product();
        let rest =
            Tensor::full_on(&[n.saturating_sub(taken.numel())], Scalar::Float(0.0), g.dtype(), g.device())?;
        let shape: Vec<i64> = source_shape.iter().map(|&d| d as i64).collect();
        Some(Tensor::cat(&[taken, rest], 0)?.reshape(&shape)?)
    } else {
        None
    };
    Ok(smallvec![gs, gsrc])
}
