//! `rgrad.save` / `rgrad.load` support: safetensors files (see rgrad_core::io).

use crate::errors::IntoPyResult;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;

/// Writes named tensors and string metadata to `path`.
#[pyfunction]
pub fn _save_safetensors(
    path: PathBuf,
    tensors: Vec<(String, PyRef<'_, PyTensor>)>,
    metadata: Option<HashMap<String, String>>,
) -> PyResult<()> {
    let named: Vec<(String, rgrad_core::Tensor)> =
        tensors.into_iter().map(|(n, t)| (n, t.t.clone())).collect();
    rgrad_core::io::save(&path, &named, metadata).py()
}

/// Reads `(list of (name, tensor), metadata)` from `path`.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn _load_safetensors(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<(Vec<(String, Py<PyTensor>)>, HashMap<String, String>)> {
    let (tensors, metadata) = rgrad_core::io::load(&path).py()?;
    let out = tensors.into_iter().map(|(n, t)| Ok((n, wrap(py, t)?))).collect::<PyResult<_>>()?;
    Ok((out, metadata))
}
