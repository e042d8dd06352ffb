//! The scans as `Tensor` methods (rgrad_core's ops/cumulative.rs and ops/scan.rs): cumsum,
//! cumprod, the running extremes cummax/cummin, logcumsumexp; `rgrad.cummax` etc. call these.

use crate::convert::values_indices;
use crate::dtype::opt_dtype;
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumsum(&self, py: Python<'_>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        wrap(py, run(py, src.numel(), || src.cumsum(dim))?)
    }

    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumprod(&self, py: Python<'_>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        wrap(py, run(py, src.numel(), || src.cumprod(dim))?)
    }

    fn cummax(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        let (v, i) = run(py, self.t.numel(), || self.t.cum_extreme(dim, true))?;
        values_indices(py, "cummax", v, i)
    }

    fn cummin(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        let (v, i) = run(py, self.t.numel(), || self.t.cum_extreme(dim, false))?;
        values_indices(py, "cummin", v, i)
    }

    fn logcumsumexp(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel().saturating_mul(8), || self.t.logcumsumexp(dim))?)
    }
}
