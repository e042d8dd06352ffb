//! Sorting and selection methods (rgrad_core::ops::sort): sort, argsort, msort, topk,
//! kthvalue, median, nanmedian, mode. `rgrad.sort` etc. are these methods; pairs come back
//! as `rgrad.return_types` named tuples.

use crate::convert::values_indices;
use crate::errors::run;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;

/// Work of a sort over `t`: enough to release the GIL for large inputs.
fn work(t: &rgrad_core::Tensor) -> usize {
    t.numel().saturating_mul(8)
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[pyo3(signature = (dim=-1, descending=false, *, stable=None))]
    fn sort(&self, py: Python<'_>, dim: i64, descending: bool, stable: Option<bool>) -> PyResult<Py<PyAny>> {
        let (v, i) = run(py, work(&self.t), || self.t.sort(dim, descending, stable))?;
        values_indices(py, "sort", v, i)
    }

    #[pyo3(signature = (dim=-1, descending=false, *, stable=false))]
    fn argsort(&self, py: Python<'_>, dim: i64, descending: bool, stable: bool) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, work(&self.t), || self.t.argsort(dim, descending, stable))?)
    }

    fn msort(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, work(&self.t), || self.t.msort())?)
    }

    #[pyo3(signature = (k, dim=-1, largest=true, sorted=true))]
    fn topk(&self, py: Python<'_>, k: i64, dim: i64, largest: bool, sorted: bool) -> PyResult<Py<PyAny>> {
        let (v, i) = run(py, self.t.numel(), || self.t.topk(k, dim, largest, sorted))?;
        values_indices(py, "topk", v, i)
    }

    #[pyo3(signature = (k, dim=-1, keepdim=false))]
    fn kthvalue(&self, py: Python<'_>, k: i64, dim: i64, keepdim: bool) -> PyResult<Py<PyAny>> {
        let (v, i) = run(py, work(&self.t), || self.t.kthvalue(k, dim, keepdim))?;
        values_indices(py, "kthvalue", v, i)
    }

    #[pyo3(signature = (dim=None, keepdim=false))]
    fn median(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyAny>> {
        self.median_impl(py, dim, keepdim, false)
    }

    #[pyo3(signature = (dim=None, keepdim=false))]
    fn nanmedian(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyAny>> {
        self.median_impl(py, dim, keepdim, true)
    }

    #[pyo3(signature = (dim=-1, keepdim=false))]
    fn mode(&self, py: Python<'_>, dim: i64, keepdim: bool) -> PyResult<Py<PyAny>> {
        let (v, i) = run(py, work(&self.t), || self.t.mode(dim, keepdim))?;
        values_indices(py, "mode", v, i)
    }
}

impl PyTensor {
    fn median_impl(
        &self,
        py: Python<'_>,
        dim: Option<i64>,
        keepdim: bool,
        ignore_nan: bool,
    ) -> PyResult<Py<PyAny>> {
        let Some(d) = dim else {
            return Ok(wrap(py, run(py, work(&self.t), || self.t.median_all(ignore_nan))?)?.into_any());
        };
        let (v, i) = run(py, work(&self.t), || self.t.median_dim(d, keepdim, ignore_nan))?;
        values_indices(py, if ignore_nan { "nanmedian" } else { "median" }, v, i)
    }
}
