//! Backward rule of scaled dot-product attention (ops/attention.rs): the fused kernel that
//! recomputes each tile's probabilities from the saved log-sum-exp; when the backward is
//! itself recorded (`create_graph`), the attention recomputed as tensor ops and
//! differentiated, so double backward works.

use super::Grads;
use crate::error::Result;
use crate::ops::attention::{backward_kernel, backward_recorded, SdpaSaved};
use crate::tensor::Tensor;

pub(super) fn attention(
    saved: &SdpaSaved,
    g: &Tensor,
    need: &dyn Fn(usize) -> bool,
    create_graph: bool,
) -> Result<Grads> {
    let wanted = [need(0), need(1), need(2)];
    let grads = if create_graph { backward_recorded(saved, g)? } else { backward_kernel(saved, g, wanted)? };
    Ok(grads.into_iter().zip(wanted).map(|(t, w)| t.filter(|_| w)).collect())
}
