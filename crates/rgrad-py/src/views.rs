//! The view and shape ops as `Tensor` methods (rgrad_core::ops::views): reshape/view,
//! transpose/permute/T/mT, (un)squeeze, expand, flatten, select, narrow, movedim, unfold,
//! and `_set_view`, which the in-place view ops of the Python side build on.

use crate::convert::{dims_opt, int_list, int_or_list};
use crate::dtype::PyDType;
use crate::errors::IntoPyResult;
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[getter(T)]
    fn t_prop(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.reverse_dims().py()?)
    }

    #[getter(mT)]
    fn m_t(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.transpose(-2, -1).py()?)
    }

    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.reshape(&int_list(shape, "shape")?).py()?)
    }

    #[pyo3(signature = (*shape))]
    fn view(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        if shape.len() == 1 {
            if let Ok(d) = shape.get_item(0)?.cast::<PyDType>() {
                return wrap(py, self.t.view_dtype(d.get().dt).py()?);
            }
        }
        wrap(py, self.t.view(&int_list(shape, "size")?).py()?)
    }

    fn view_as(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let s: Vec<i64> = other.t.shape().iter().map(|&d| d as i64).collect();
        wrap(py, self.t.view(&s).py()?)
    }

    fn reshape_as(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let s: Vec<i64> = other.t.shape().iter().map(|&d| d as i64).collect();
        wrap(py, self.t.reshape(&s).py()?)
    }

    fn transpose(&self, py: Python<'_>, dim0: i64, dim1: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.transpose(dim0, dim1).py()?)
    }

    fn t(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.t().py()?)
    }

    #[pyo3(signature = (*dims))]
    fn permute(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.permute(&int_list(dims, "dims")?).py()?)
    }

    fn unsqueeze(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.unsqueeze(dim).py()?)
    }

    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let mut t = self.t.clone();
        match dims_opt(dim)? {
            None => t = t.squeeze(None).py()?,
            Some(ds) => {
                let mut norm: Vec<usize> = ds
                    .iter()
                    .map(|&d| rgrad_core::shape::normalize_dim(d, t.ndim()))
                    .collect::<Result<_, _>>()
                    .py()?;
                norm.sort_unstable();
                for d in norm.into_iter().rev() {
                    t = t.squeeze(Some(d as i64)).py()?;
                }
            }
        }
        wrap(py, t)
    }

    #[pyo3(signature = (*sizes))]
    fn expand(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.expand(&int_list(sizes, "size")?).py()?)
    }

    fn expand_as(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let s: Vec<i64> = other.t.shape().iter().map(|&d| d as i64).collect();
        wrap(py, self.t.expand(&s).py()?)
    }

    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(&self, py: Python<'_>, start_dim: i64, end_dim: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.flatten(start_dim, end_dim).py()?)
    }

    fn select(&self, py: Python<'_>, dim: i64, index: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.select(dim, index).py()?)
    }

    fn narrow(&self, py: Python<'_>, dim: i64, start: i64, length: i64) -> PyResult<Py<PyTensor>> {
        if self.t.ndim() == 0 {
            return Err(PyRuntimeError::new_err("narrow() cannot be applied to a 0-dim tensor."));
        }
        let d = rgrad_core::shape::normalize_dim(dim, self.t.ndim()).py()?;
        let size = self.t.shape()[d] as i64;
        let start = if start < 0 { start + size } else { start };
        if start < 0 || length < 0 || start + length > size {
            return Err(PyRuntimeError::new_err(format!(
                "start ({start}) + length ({length}) exceeds dimension size ({size})."
            )));
        }
        wrap(py, self.t.slice(dim, Some(start), Some(start + length), 1).py()?)
    }

    fn movedim(
        &self,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        wrap(
            py,
            self.t
                .movedim(&int_or_list(source, "source")?, &int_or_list(destination, "destination")?)
                .py()?,
        )
    }

    fn moveaxis(
        &self,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        self.movedim(py, source, destination)
    }

    fn swapaxes(&self, py: Python<'_>, axis0: i64, axis1: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.transpose(axis0, axis1).py()?)
    }

    fn unfold(&self, py: Python<'_>, dimension: i64, size: i64, step: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.unfold(dimension, size, step).py()?)
    }

    /// Makes `self` the tensor `view` (a view of it, with history): the in-place view ops
    /// (`squeeze_`, `unsqueeze_`, `t_`) are written in Python with it.
    fn _set_view(slf: &Bound<'_, Self>, view: PyRef<'_, PyTensor>) -> Py<PyTensor> {
        let t = view.t.clone();
        drop(view);
        slf.borrow_mut().replace_tensor(t);
        slf.clone().unbind()
    }
}
