//! Backward rule of batch normalization: the fused kernels of ops/norm.rs, or under
//! `create_graph` the same gradient written in tensor ops (recomputing the batch statistics
//! from the input, so they are differentiated too), which gives double backward.

use super::Grads;
use crate::autograd::Saved;
use crate::error::Result;
use crate::ops::norm::{batch_norm_backward, dims_of, BatchNormSpec};
use crate::ops::unary::UnaryOp;
use crate::tensor::Tensor;
use smallvec::smallvec;

fn shape_i64(s: &[usize]) -> Vec<i64> {
    s.iter().map(|&d| d as i64).collect()
}

#[allow(clippy::too_many_arguments)]
pub(super) fn batch_norm(
    g: &Tensor,
    x: &Saved,
    weight: Option<&Saved>,
    mean: &Tensor,
    invstd: &Tensor,
    spec: &BatchNormSpec,
    need: &dyn Fn(usize) -> bool,
    create_graph: bool,
) -> Result<Grads> {
    let x = x.get()?;
    let w = weight.map(|w| w.get()).transpose()?;
    // Input positions: x, then the weight and the bias where given.
    let w_at = spec.weight_shape.as_ref().map(|_| 1);
    let b_at = spec.bias_shape.as_ref().map(|_| 1 + usize::from(w_at.is_some()));
    let wanted = [need(0), w_at.is_some_and(need), b_at.is_some_and(need)];
    let [gx, gw, gb] = if create_graph {
        composite(g, x, w, mean, invstd, spec, wanted)?
    } else {
        batch_norm_backward(g, x, w, mean, invstd, spec.training, wanted)?
    };
    let mut out: Grads = smallvec![gx];
    if let Some(shape) = &spec.weight_shape {
        out.push(gw.map(|t| t.reshape(&shape_i64(shape))).transpose()?);
    }
    if let Some(shape) = &spec.bias_shape {
        out.push(gb.map(|t| t.reshape(&shape_i64(shape))).transpose()?);
    }
    Ok(out)
}

/// The gradients in tensor ops: with `xhat = (x - mean) * invstd`,
/// `gb = sum(g)`, `gw = sum(g * xhat)` and in training
/// `gx = w * invstd * (g - gb / m - xhat * gw / m)` (in evaluation `gx = w * invstd * g`).
fn composite(
    g: &Tensor,
    x: &Tensor,
    w: Option<&Tensor>,
    mean: &Tensor,
    invstd: &Tensor,
    spec: &BatchNormSpec,
    need: [bool; 3],
) -> Result<[Option<Tensor>; 3]> {
    let d = dims_of(x);
    let nd = x.ndim();
    let dims: Vec<i64> = (0..nd as i64).filter(|&k| k != 1).collect();
    let mut view = vec![1i64; nd];
    view[1] = d.c as i64;
    let (xhat, is) = if spec.training {
        let mu = x.mean(Some(&dims), true, None)?;
        let xmu = x.sub(&mu)?;
        let var = xmu.mul(&xmu)?.mean(Some(&dims), true, None)?;
        let is = var.add_scalar(spec.eps)?.unary(UnaryOp::Rsqrt)?;
        (xmu.mul(&is)?, is)
    } else {
        let is = invstd.detach().reshape(&view)?;
        (x.sub(&mean.detach().reshape(&view)?)?.mul(&is)?, is)
    };
    let gb = g.sum(Some(&dims), false)?;
    let gw = g.mul(&xhat)?.sum(Some(&dims), false)?;
    let gx = if need[0] {
        let scale = match w {
            Some(w) => is.mul(&w.reshape(&view)?)?,
            None => is,
        };
        let inner = if spec.training {
            let m = 1.0 / d.per_channel() as f64;
            g.sub(&gb.reshape(&view)?.mul_scalar(m)?)?.sub(&xhat.mul(&gw.reshape(&view)?.mul_scalar(m)?)?)?
        } else {
            g.clone()
        };
        Some(inner.mul(&scale)?)
    } else {
        None
    };
    Ok([gx, need[1].then_some(gw), need[2].then_some(gb)])
}
