//! The fused layer ops of `rgrad.nn.functional` that transformers lean on: `gelu` and
//! `native_layer_norm` (rgrad_core::ops::gelu and ::layer_norm), and `embedding_bag`
//! (rgrad_core::ops::embedding_bag).

use crate::convert::tensor_param;
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;
use rgrad_core::ops::embedding_bag::{BagMode, BagOptions};
use rgrad_core::Tensor;

/// `gelu(input, approximate='none')`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, approximate="none"))]
pub fn gelu(py: Python<'_>, input: &Bound<'_, PyAny>, approximate: &str) -> PyResult<Py<PyTensor>> {
    let x = tensor_param(input, "gelu", "input", 1)?;
    // Each element costs a transcendental: worth releasing the GIL well below the usual size.
    let out = run(py, x.numel() * 8, || x.gelu(approximate))?;
    wrap(py, out)
}

/// `native_layer_norm(input, normalized_shape, weight, bias, eps)`: `(output, mean, rstd)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, normalized_shape, weight, bias, eps))]
pub fn native_layer_norm(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    normalized_shape: Vec<usize>,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    eps: f64,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    let f = "native_layer_norm";
    let x = tensor_param(input, f, "input", 1)?;
    let opt =
        |ob: Option<&Bound<'_, PyAny>>, name: &str, pos: usize| -> PyResult<Option<rgrad_core::Tensor>> {
            match ob {
                Some(o) if !o.is_none() => Ok(Some(tensor_param(o, f, name, pos)?)),
                _ => Ok(None),
            }
        };
    let (w, b) = (opt(weight, "weight", 3)?, opt(bias, "bias", 4)?);
    let (out, mean, rstd) =
        run(py, x.numel(), || x.native_layer_norm(&normalized_shape, w.as_ref(), b.as_ref(), eps))?;
    Ok((wrap(py, out)?, wrap(py, mean)?, wrap(py, rstd)?))
}

/// `embedding_bag(weight, input, offsets=None, mode='mean', per_sample_weights=None,
/// padding_idx=None, include_last_offset=False, scale_grad_by_freq=False)`: the `(B, dim)`
/// reduction of the bags' weight rows (rgrad_core::ops::embedding_bag).
#[allow(clippy::too_many_arguments)]
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (weight, input, offsets=None, mode="mean", per_sample_weights=None, padding_idx=None, include_last_offset=false, scale_grad_by_freq=false))]
pub fn embedding_bag(
    py: Python<'_>,
    weight: &Bound<'_, PyAny>,
    input: &Bound<'_, PyAny>,
    offsets: Option<&Bound<'_, PyAny>>,
    mode: &str,
    per_sample_weights: Option<&Bound<'_, PyAny>>,
    padding_idx: Option<i64>,
    include_last_offset: bool,
    scale_grad_by_freq: bool,
) -> PyResult<Py<PyTensor>> {
    let f = "embedding_bag";
    let w = tensor_param(weight, f, "weight", 1)?;
    let x = tensor_param(input, f, "input", 2)?;
    let opt = |ob: Option<&Bound<'_, PyAny>>, name: &str, pos: usize| -> PyResult<Option<Tensor>> {
        match ob {
            Some(o) if !o.is_none() => Ok(Some(tensor_param(o, f, name, pos)?)),
            _ => Ok(None),
        }
    };
    let (offs, psw) = (opt(offsets, "offsets", 3)?, opt(per_sample_weights, "per_sample_weights", 5)?);
    let opts =
        BagOptions { mode: BagMode::parse(mode).py()?, padding_idx, include_last_offset, scale_grad_by_freq };
    let work = x.numel().saturating_mul(w.shape().get(1).copied().unwrap_or(1));
    let out = run(py, work, || w.embedding_bag(&x, offs.as_ref(), psw.as_ref(), opts))?;
    wrap(py, out)
}
