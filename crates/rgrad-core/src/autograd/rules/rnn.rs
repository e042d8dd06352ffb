//! Backward rule of the recurrent layers (ops/rnn.rs): BPTT over the saved gates in one
//! sweep (cpu/rnn.rs); when the backward is itself recorded (`create_graph`), the recurrence
//! is recomputed as tensor ops and differentiated, so double backward works.

use super::Grads;
use crate::error::Result;
use crate::ops::rnn::{backward_kernel, backward_recorded, RnnSaved};
use crate::tensor::Tensor;

pub(super) fn rnn_layer(saved: &RnnSaved, grads: &[Option<Tensor>], create_graph: bool) -> Result<Grads> {
    if grads.iter().all(Option::is_none) {
        let n = 3 + usize::from(saved.c0.is_some()) + usize::from(saved.b_hh.is_some());
        return Ok(smallvec::smallvec![None; n]);
    }
    let out = if create_graph { backward_recorded(saved, grads)? } else { backward_kernel(saved, grads)? };
    Ok(out.into_iter().collect())
}
