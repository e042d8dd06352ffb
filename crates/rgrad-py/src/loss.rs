//! Fused losses for `rgrad.nn.functional` (see rgrad_core::ops::loss). Each returns None
//! where the fused op does not apply, and the Python caller runs its composite instead.

use crate::errors::IntoPyResult;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;
use rgrad_core::ops::loss::{CrossEntropy, Reduction};
use rgrad_core::Tensor;

/// The tensor behind `ob`, or None for anything else (a non-tensor goes to the composite,
/// which raises PyTorch's error for it).
fn tensor(ob: Option<&Bound<'_, PyAny>>) -> Option<Option<Tensor>> {
    match ob {
        None => Some(None),
        Some(o) if o.is_none() => Some(None),
        Some(o) => o.cast::<PyTensor>().ok().map(|t| Some(t.borrow().t.clone())),
    }
}

fn wrap_opt(py: Python<'_>, t: Option<Tensor>) -> PyResult<Option<Py<PyTensor>>> {
    t.map(|t| wrap(py, t)).transpose()
}

/// `cross_entropy` for class-index targets, or None.
#[pyfunction]
#[pyo3(signature = (input, target, weight, ignore_index, label_smoothing, reduction))]
pub fn _cross_entropy(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: &str,
) -> PyResult<Option<Py<PyTensor>>> {
    let (Some(Some(x)), Some(Some(y)), Some(w)) = (tensor(Some(input)), tensor(Some(target)), tensor(weight))
    else {
        return Ok(None);
    };
    let opts = CrossEntropy {
        weight: w.as_ref(),
        ignore_index,
        label_smoothing,
        reduction: Reduction::parse(reduction).py()?,
    };
    wrap_opt(py, x.cross_entropy(&y, &opts).py()?)
}

/// `binary_cross_entropy_with_logits`, or None.
#[pyfunction]
#[pyo3(signature = (input, target, weight, pos_weight, reduction))]
pub fn _binary_cross_entropy_with_logits(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    pos_weight: Option<&Bound<'_, PyAny>>,
    reduction: &str,
) -> PyResult<Option<Py<PyTensor>>> {
    let (Some(Some(x)), Some(Some(t)), Some(w), Some(pw)) =
        (tensor(Some(input)), tensor(Some(target)), tensor(weight), tensor(pos_weight))
    else {
        return Ok(None);
    };
    let r = Reduction::parse(reduction).py()?;
    wrap_opt(py, x.binary_cross_entropy_with_logits(&t, w.as_ref(), pw.as_ref(), r).py()?)
}
