//! Set ops, sorted search and selection by value: `unique`, `unique_consecutive`, `isin`,
//! `histc`, `bincount`, `searchsorted`, `bucketize`, `nonzero`/`argwhere`, `take`,
//! `take_along_dim`, `scatter_reduce`, `aminmax`, `count_nonzero`.

use crate::convert::{int_or_list, tensor_arg, tensor_param, values_indices};
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rgrad_core::ops::select::ScatterReduce;
use rgrad_core::ops::set_ops::UniqueOut;
use rgrad_core::Tensor;

/// A tensor, or a tuple of it and the inverse / counts asked for (as `torch.unique` returns).
fn unique_result(py: Python<'_>, u: UniqueOut) -> PyResult<Py<PyAny>> {
    let mut items = vec![wrap(py, u.values)?];
    if let Some(i) = u.inverse {
        items.push(wrap(py, i)?);
    }
    if let Some(c) = u.counts {
        items.push(wrap(py, c)?);
    }
    if items.len() == 1 {
        return Ok(items.remove(0).into_any());
    }
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

fn tuple_of(py: Python<'_>, ts: Vec<Tensor>) -> PyResult<Py<PyAny>> {
    let objs: Vec<Py<PyTensor>> = ts.into_iter().map(|t| wrap(py, t)).collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, objs)?.into_any().unbind())
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[pyo3(signature = (sorted=true, return_inverse=false, return_counts=false, dim=None))]
    fn unique(
        &self,
        py: Python<'_>,
        sorted: bool,
        return_inverse: bool,
        return_counts: bool,
        dim: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        // PyTorch's CPU kernel sorts whatever `sorted` says; so does this one.
        let _ = sorted;
        let u = run(py, self.t.numel(), || self.t.unique(return_inverse, return_counts, dim))?;
        unique_result(py, u)
    }

    #[pyo3(signature = (return_inverse=false, return_counts=false, dim=None))]
    fn unique_consecutive(
        &self,
        py: Python<'_>,
        return_inverse: bool,
        return_counts: bool,
        dim: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let u = run(py, self.t.numel(), || self.t.unique_consecutive(return_inverse, return_counts, dim))?;
        unique_result(py, u)
    }

    #[pyo3(signature = (weights=None, minlength=0))]
    fn bincount(
        &self,
        py: Python<'_>,
        weights: Option<&Bound<'_, PyAny>>,
        minlength: i64,
    ) -> PyResult<Py<PyTensor>> {
        let w = match weights {
            Some(w) if !w.is_none() => Some(tensor_param(w, "bincount", "weights", 1)?),
            _ => None,
        };
        wrap(py, run(py, self.t.numel(), || self.t.bincount(w.as_ref(), minlength))?)
    }

    #[pyo3(signature = (bins=100, min=0.0, max=0.0))]
    fn histc(&self, py: Python<'_>, bins: i64, min: f64, max: f64) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.histc(bins, min, max))?)
    }

    #[pyo3(signature = (*, as_tuple=false))]
    fn nonzero(&self, py: Python<'_>, as_tuple: bool) -> PyResult<Py<PyAny>> {
        if as_tuple {
            let ts = run(py, self.t.numel(), || self.t.nonzero_tuple())?;
            return tuple_of(py, ts);
        }
        Ok(wrap(py, run(py, self.t.numel(), || self.t.nonzero())?)?.into_any())
    }

    fn argwhere(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.nonzero())?)
    }

    fn take(&self, py: Python<'_>, index: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let index = tensor_param(index, "take", "index", 1)?;
        wrap(py, run(py, index.numel(), || self.t.take(&index))?)
    }

    #[pyo3(signature = (indices, dim=None))]
    fn take_along_dim(
        &self,
        py: Python<'_>,
        indices: &Bound<'_, PyAny>,
        dim: Option<i64>,
    ) -> PyResult<Py<PyTensor>> {
        let indices = tensor_param(indices, "take_along_dim", "indices", 1)?;
        wrap(py, run(py, indices.numel(), || self.t.take_along_dim(&indices, dim))?)
    }

    #[pyo3(signature = (dim, index, src, reduce, *, include_self=true))]
    fn scatter_reduce(
        &self,
        py: Python<'_>,
        dim: i64,
        index: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
        reduce: &str,
        include_self: bool,
    ) -> PyResult<Py<PyTensor>> {
        let index = tensor_param(index, "scatter_reduce", "index", 2)?;
        let src = tensor_param(src, "scatter_reduce", "src", 3)?;
        let r = ScatterReduce::parse(reduce).py()?;
        wrap(py, run(py, self.t.numel(), || self.t.scatter_reduce(dim, &index, &src, r, include_self))?)
    }

    #[pyo3(signature = (*, dim=None, keepdim=false))]
    fn aminmax(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyAny>> {
        let (lo, hi) = run(py, self.t.numel(), || self.t.aminmax(dim, keepdim))?;
        values_indices(py, "aminmax", lo, hi)
    }

    #[pyo3(signature = (dim=None))]
    fn count_nonzero(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let dims = match dim {
            Some(d) if !d.is_none() => Some(int_or_list(d, "dim")?),
            _ => None,
        };
        wrap(py, run(py, self.t.numel(), || self.t.count_nonzero(dims.as_deref()))?)
    }
}

/// `searchsorted(sorted_sequence, input, out_int32, right, sorter)`; `input` may be a number
/// (a 0-dim result).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (sorted_sequence, input, out_int32=false, right=false, sorter=None))]
pub fn _searchsorted(
    py: Python<'_>,
    sorted_sequence: &Bound<'_, PyAny>,
    input: &Bound<'_, PyAny>,
    out_int32: bool,
    right: bool,
    sorter: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let seq = tensor_param(sorted_sequence, "searchsorted", "sorted_sequence", 1)?;
    let vals = values_on(input, &seq)?;
    let sorter = match sorter {
        Some(s) if !s.is_none() => Some(tensor_param(s, "searchsorted", "sorter", 5)?),
        _ => None,
    };
    wrap(py, run(py, vals.numel(), || seq.searchsorted(&vals, out_int32, right, sorter.as_ref()))?)
}

/// `bucketize(input, boundaries, out_int32, right)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, boundaries, out_int32=false, right=false))]
pub fn _bucketize(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    boundaries: &Bound<'_, PyAny>,
    out_int32: bool,
    right: bool,
) -> PyResult<Py<PyTensor>> {
    let bd = tensor_param(boundaries, "bucketize", "boundaries", 2)?;
    let vals = values_on(input, &bd)?;
    wrap(py, run(py, vals.numel(), || vals.bucketize(&bd, out_int32, right))?)
}

/// `isin(elements, test_elements, invert)`: either side may be a number.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (elements, test_elements, invert=false))]
pub fn _isin(
    py: Python<'_>,
    elements: &Bound<'_, PyAny>,
    test_elements: &Bound<'_, PyAny>,
    invert: bool,
) -> PyResult<Py<PyTensor>> {
    let e = tensor_arg(elements, "isin")?;
    let t = tensor_arg(test_elements, "isin")?;
    let e = if e.device() != t.device() && e.ndim() == 0 { e.to_device_kernel(t.device()).py()? } else { e };
    wrap(py, run(py, e.numel().max(t.numel()), || e.isin(&t, invert))?)
}

/// Search values: a tensor, or a number as a 0-dim tensor on the boundaries' device.
fn values_on(input: &Bound<'_, PyAny>, like: &Tensor) -> PyResult<Tensor> {
    let v = tensor_arg(input, "searchsorted")?;
    if v.ndim() == 0 && v.device() != like.device() {
        return v.to_device_kernel(like.device()).py();
    }
    Ok(v)
}
