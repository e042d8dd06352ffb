//! Backward rule of the CTC loss (ops/ctc.rs): the beta recursion's kernel. PyTorch has no
//! derivative of `_ctc_loss_backward`; under `create_graph` the gradient is recorded with a
//! node that raises PyTorch's error when something differentiates through it.

use crate::autograd::{needs_grad, record_custom, BackwardFn};
use crate::error::{Error, Result};
use crate::ops::ctc::{ctc_backward, CtcSaved};
use crate::tensor::Tensor;

/// PyTorch's `NotImplemented` node of `_ctc_loss_backward`.
struct NoDoubleBackward;

impl BackwardFn for NoDoubleBackward {
    fn backward(&self, _grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        Err(Error::Runtime("derivative for aten::_ctc_loss_backward is not implemented".into()))
    }
}

pub(super) fn ctc(saved: &CtcSaved, g: &Tensor, create_graph: bool) -> Result<Tensor> {
    let grad = ctc_backward(saved, g)?;
    if create_graph {
        let lp = saved.log_probs.get()?;
        if needs_grad(&[g, lp]) {
            record_custom("NotImplemented".into(), Box::new(NoDoubleBackward), &[g, lp], &[&grad]);
        }
    }
    Ok(grad)
}
