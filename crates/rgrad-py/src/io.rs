//! `rgrad.save` / `rgrad.load` support: safetensors files (see rgrad_core::io).

use crate::errors::run;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;

/// Writes named tensors and string metadata to `path`.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _save_safetensors(
    py: Python<'_>,
    path: PathBuf,
    tensors: Vec<(String, PyRef<'_, PyTensor>)>,
    metadata: Option<HashMap<String, String>>,
) -> PyResult<()> {
    let named: Vec<(String, rgrad_core::Tensor)> =
        tensors.into_iter().map(|(n, t)| (n, t.t.clone())).collect();
    // File I/O never holds the GIL: other threads run while the disk works.
    run(py, usize::MAX, || rgrad_core::io::save(&path, &named, metadata))
}

/// Reads `(list of (name, tensor), metadata)` from `path`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn _load_safetensors(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<(Vec<(String, Py<PyTensor>)>, HashMap<String, String>)> {
    let (tensors, metadata) = run(py, usize::MAX, || rgrad_core::io::load(&path))?;
    let out = tensors.into_iter().map(|(n, t)| Ok((n, wrap(py, t)?))).collect::<PyResult<_>>()?;
    Ok((out, metadata))
}
