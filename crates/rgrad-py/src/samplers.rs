//! The rejection samplers of `rgrad_core::ops::samplers` (Gamma, Poisson, Binomial), drawing
//! from the global generator; `rgrad.distributions` calls them.

use crate::errors::run;
use crate::functional::tensor_param;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;

/// `_standard_gamma(alpha)`: Gamma(alpha, 1) samples of alpha's shape and dtype.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (alpha))]
pub fn _standard_gamma(py: Python<'_>, alpha: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let a = tensor_param(alpha, "_standard_gamma", "self", 1)?;
    let out = run(py, a.numel().saturating_mul(32), || rgrad_core::ops::samplers::standard_gamma(&a))?;
    wrap(py, out)
}

/// `_poisson(rate)`: Poisson counts as floats of rate's dtype.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (rate))]
pub fn _poisson(py: Python<'_>, rate: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let l = tensor_param(rate, "poisson", "self", 1)?;
    let out = run(py, l.numel().saturating_mul(32), || rgrad_core::ops::samplers::poisson(&l))?;
    wrap(py, out)
}

/// `_binomial(count, prob)`: successes in `count` trials (same shapes).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (count, prob))]
pub fn _binomial(
    py: Python<'_>,
    count: &Bound<'_, PyAny>,
    prob: &Bound<'_, PyAny>,
) -> PyResult<Py<PyTensor>> {
    let n = tensor_param(count, "binomial", "count", 1)?;
    let p = tensor_param(prob, "binomial", "prob", 2)?;
    let out = run(py, n.numel().saturating_mul(32), || rgrad_core::ops::samplers::binomial(&n, &p))?;
    wrap(py, out)
}
