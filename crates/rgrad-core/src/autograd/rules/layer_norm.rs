//! Backward rule of layer normalization: the fused kernel of ops/layer_norm.rs, or under
//! `create_graph` the same gradients in tensor ops (recomputing the row statistics from the
//! input, so they are differentiated too), which gives double backward.

use super::Grads;
use crate::autograd::Saved;
use crate::error::Result;
use crate::ops::layer_norm::{layer_norm_backward, layer_norm_backward_composite, LayerNormSpec};
use crate::tensor::Tensor;
use smallvec::smallvec;

#[allow(clippy::too_many_arguments)]
pub(super) fn layer_norm(
    g: &Tensor,
    x: &Saved,
    weight: Option<&Saved>,
    mean: &Tensor,
    rstd: &Tensor,
    spec: &LayerNormSpec,
    need: &dyn Fn(usize) -> bool,
    create_graph: bool,
) -> Result<Grads> {
    let x = x.get()?;
    let w = weight.map(|w| w.get()).transpose()?;
    // Input positions: x, then the weight and the bias where given.
    let b_at = 1 + usize::from(spec.has_weight);
    let wanted = [need(0), spec.has_weight && need(1), spec.has_bias && need(b_at)];
    let [gx, gw, gb] = if create_graph {
        layer_norm_backward_composite(g, x, w, spec, wanted)?
    } else {
        layer_norm_backward(g, x, w, mean, rstd, spec, wanted)?
    };
    let mut out: Grads = smallvec![gx];
    if spec.has_weight {
        out.push(gw);
    }
    if spec.has_bias {
        out.push(gb);
    }
    Ok(out)
}
