//! Backward rule of the recurrent layers (ops/rnn.rs): BPTT over the saved gates in one
//! sweep (cpu/rnn.rs); when the backward is itself recorded (`create_graph`), the recurrence
//! is recomputed as tensor ops and differentiated, so double backward works.

use super::Grads;
use crate::error::Result;
use crate::ops::rnn::{backward_kernel, backward_recorded, RnnSaved};
use crate::tensor::Tensor;

pub(super) fn rnn_layer(
    saved: &RnnSaved,
    grads: &[Option<Tensor>],
    needs: &[bool],
    create_graph: bool,
) -> Result<Grads> {
    if grads.iter().all(Option::is_none) {
        return Ok(smallvec::smallvec![None; saved.inputs()]);
    }
    let out =
        if create_graph { backward_recorded(saved, grads)? } else { backward_kernel(saved, grads, needs)? };
    Ok(out.into_iter().collect())
}
