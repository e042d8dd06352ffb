//! Joins and splits (rgrad_core::ops::join): `rgrad.cat`, `rgrad.stack`, and the methods
//! split, chunk, unbind, repeat, flip.

use crate::convert::{int_list, int_or_list, tensors_of};
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rgrad_core::Tensor;

fn wrap_list(py: Python<'_>, ts: Vec<Tensor>) -> PyResult<Py<PyTuple>> {
    let objs: Vec<Py<PyTensor>> = ts.into_iter().map(|t| wrap(py, t)).collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, objs)?.unbind())
}

/// `split_with_sizes`'s reading of its sizes, with PyTorch's messages.
fn split_sizes(ob: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let not_sizes = || {
        PyTypeError::new_err(format!(
            "split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, not {}",
            crate::errors::type_name(ob)
        ))
    };
    if ob.is_instance_of::<pyo3::types::PyString>()
        || !(ob.is_instance_of::<PyTuple>() || ob.is_instance_of::<pyo3::types::PyList>())
    {
        return Err(not_sizes());
    }
    let mut sizes = Vec::new();
    for (i, item) in ob.try_iter()?.enumerate() {
        let item = item?;
        let value =
            if item.is_instance_of::<pyo3::types::PyBool>() { None } else { item.extract::<i64>().ok() };
        let Some(value) = value else {
            return Err(PyTypeError::new_err(format!(
                "split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, but found element of type {} at pos {i}",
                crate::errors::type_name(&item)
            )));
        };
        sizes.push(value);
    }
    if sizes.iter().any(|&n| n < 0) {
        let list = sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
        return Err(PyRuntimeError::new_err(format!(
            "split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes=[{list}]"
        )));
    }
    Ok(sizes.into_iter().map(|n| n as usize).collect())
}

/// PyTorch's error for `split(int, dim)` with a `dim` that is not an int: the two signatures
/// of `torch._VF.split`, which Tensor.split calls positionally.
#[cold]
fn split_combination_error(size: &Bound<'_, PyAny>, dim: &Bound<'_, PyAny>) -> PyErr {
    let (s, d) = (crate::errors::type_name(size), crate::errors::type_name(dim));
    PyTypeError::new_err(format!(
        "split() received an invalid combination of arguments - got (Tensor, {s}, {d}), but expected one of:\n \
         * (Tensor input, int split_size, int dim = 0)\n      \
         didn't match because some of the arguments have invalid types: (Tensor, {s}, !{d}!)\n \
         * (Tensor input, tuple of ints split_size, int dim = 0)\n      \
         didn't match because some of the arguments have invalid types: (Tensor, !{s}!, !{d}!)\n"
    ))
}

/// An optional argument that tells "not passed" from an explicit `None`: `a.split(2, None)`
/// is a type error in PyTorch, while `Option<&Bound>` would read `None` as "not passed".
pub struct Passed<'py>(Option<Bound<'py, PyAny>>);

impl<'a, 'py> FromPyObject<'a, 'py> for Passed<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Passed(Some(obj.to_owned())))
    }
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[pyo3(signature = (split_size_or_sections, dim=Passed(None)))]
    fn split(
        &self,
        py: Python<'_>,
        split_size_or_sections: &Bound<'_, PyAny>,
        dim: Passed<'_>,
    ) -> PyResult<Py<PyTuple>> {
        let dim = dim.0.as_ref();
        // PyTorch's Tensor.split is Python: an int goes to split(Tensor, int, int), anything
        // else to split_with_sizes(Tensor, tuple of ints, int), always positionally, so the
        // messages name those and count the tensor as position 1 (in both forms).
        let as_int = |ob: &Bound<'_, PyAny>| {
            if ob.is_instance_of::<pyo3::types::PyBool>() {
                None
            } else {
                ob.extract::<i64>().ok()
            }
        };
        let dim_value = dim.map(|d| (as_int(d), d));
        let size = if split_size_or_sections.is_instance_of::<pyo3::types::PyInt>()
            || split_size_or_sections.is_instance_of::<PyTensor>()
        {
            as_int(split_size_or_sections)
        } else {
            None
        };
        if let Some(n) = size {
            if n < 0 {
                return Err(PyRuntimeError::new_err(format!(
                    "split expects split_size be non-negative, but got split_size={n}"
                )));
            }
            let n = n as usize;
            let dim = match dim_value {
                None => 0,
                Some((Some(d), _)) => d,
                Some((None, d)) => return Err(split_combination_error(split_size_or_sections, d)),
            };
            return wrap_list(py, self.t.split(&[n], true, dim).py()?);
        }
        let sizes: Vec<usize> = split_sizes(split_size_or_sections)?;
        let dim = match dim_value {
            None => 0,
            Some((Some(d), _)) => d,
            Some((None, d)) => {
                return Err(PyTypeError::new_err(format!(
                    "split_with_sizes(): argument 'dim' (position 3) must be int, not {}",
                    crate::errors::type_name(d)
                )))
            }
        };
        wrap_list(py, self.t.split(&sizes, false, dim).py()?)
    }

    #[pyo3(signature = (chunks, dim=0))]
    fn chunk(&self, py: Python<'_>, chunks: usize, dim: i64) -> PyResult<Py<PyTuple>> {
        wrap_list(py, self.t.chunk(chunks, dim).py()?)
    }

    #[pyo3(signature = (dim=0))]
    fn unbind(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyTuple>> {
        let d = rgrad_core::shape::existing_dim(dim, self.t.ndim()).py()?;
        let parts =
            (0..self.t.shape()[d] as i64).map(|i| self.t.select(d as i64, i)).collect::<Result<Vec<_>, _>>();
        wrap_list(py, parts.py()?)
    }

    #[pyo3(signature = (*sizes))]
    fn repeat(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.repeat(&int_list(sizes, "repeats")?).py()?)
    }

    /// `flip(*dims)` or `flip(dims=...)`.
    #[pyo3(signature = (*args, dims=None))]
    fn flip(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let d = match dims {
            Some(d) if !d.is_none() => int_or_list(d, "dims")?,
            _ => int_list(args, "dims")?,
        };
        wrap(py, self.t.flip(&d).py()?)
    }
}

/// `rgrad.cat(tensors, dim=0)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
pub fn cat(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let _ = out;
    let ts = tensors_of(tensors)?;
    let work = ts.iter().map(Tensor::numel).sum();
    wrap(py, run(py, work, || Tensor::cat(&ts, dim))?)
}

/// `rgrad.stack(tensors, dim=0)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
pub fn stack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let _ = out;
    let ts = tensors_of(tensors)?;
    let work = ts.iter().map(Tensor::numel).sum();
    wrap(py, run(py, work, || Tensor::stack(&ts, dim))?)
}
