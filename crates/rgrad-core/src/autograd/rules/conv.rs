//! Backward rules of the convolutions: both ops are bilinear, so every derivative is again
//! one of the two convolutions with the same geometry (which is what makes double backward
//! work).

use super::Grads;
use crate::autograd::Saved;
use crate::error::Result;
use crate::ops::conv::{conv_weight as weight_op, convolution_with, ConvSpec};
use crate::tensor::Tensor;
use smallvec::smallvec;

pub(super) fn convolution(
    g: &Tensor,
    x: &Saved,
    w: &Saved,
    spec: &ConvSpec,
    transposed: bool,
    has_bias: bool,
    need: &dyn Fn(usize) -> bool,
) -> Result<Grads> {
    // Each saved operand is read only by the gradient that needs it.
    let gx = if need(0) { Some(convolution_with(g, w.get()?, None, spec, !transposed)?) } else { None };
    let gw = match (need(1), transposed) {
        (false, _) => None,
        (true, false) => Some(weight_op(x.get()?, g, spec)?),
        (true, true) => Some(weight_op(g, x.get()?, spec)?),
    };
    let mut out: Grads = smallvec![gx, gw];
    if has_bias {
        let dims: Vec<i64> = (0..g.ndim() as i64).filter(|&d| d != 1).collect();
        out.push(if need(2) { Some(g.sum(Some(&dims), false)?) } else { None });
    }
    Ok(out)
}

/// dW(a, b) is bilinear: its derivatives are the two convolutions with weight g.
pub(super) fn conv_weight(
    g: &Tensor,
    a: &Saved,
    b: &Saved,
    spec: &ConvSpec,
    need: &dyn Fn(usize) -> bool,
) -> Result<Grads> {
    let ga = if need(0) { Some(convolution_with(b.get()?, g, None, spec, true)?) } else { None };
    let gb = if need(1) { Some(convolution_with(a.get()?, g, None, spec, false)?) } else { None };
    Ok(smallvec![ga, gb])
}
