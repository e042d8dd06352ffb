//! The fused layer ops of `rgrad.nn.functional` that transformers lean on: `gelu` and
//! `native_layer_norm` (rgrad_core::ops::gelu and ::layer_norm).

use crate::convert::tensor_param;
use crate::errors::run;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;

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
