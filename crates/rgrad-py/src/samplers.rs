//! The rejection samplers of `rgrad_core::ops::samplers` (Gamma, Poisson, Binomial), drawing
//! from a `generator=` (the default generator when None); `rgrad.distributions` calls them.

use crate::errors::run;
use crate::functional::tensor_param;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;

/// `_standard_gamma(alpha)`: Gamma(alpha, 1) samples of alpha's shape and dtype.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (alpha, generator=None))]
pub fn _standard_gamma(
    py: Python<'_>,
    alpha: &Bound<'_, PyAny>,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let gen = crate::random::generator_arg(generator, "standard_gamma")?;
    let a = tensor_param(alpha, "_standard_gamma", "self", 1)?;
    let out = run(py, a.numel().saturating_mul(32), || {
        rgrad_core::ops::samplers::standard_gamma_gen(gen.as_ref(), &a)
    })?;
    wrap(py, out)
}

/// `_poisson(rate)`: Poisson counts as floats of rate's dtype.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (rate, generator=None))]
pub fn _poisson(
    py: Python<'_>,
    rate: &Bound<'_, PyAny>,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let gen = crate::random::generator_arg(generator, "poisson")?;
    let l = tensor_param(rate, "poisson", "self", 1)?;
    let out =
        run(py, l.numel().saturating_mul(32), || rgrad_core::ops::samplers::poisson_gen(gen.as_ref(), &l))?;
    wrap(py, out)
}

/// `_binomial(count, prob)`: successes in `count` trials (same shapes).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (count, prob, generator=None))]
pub fn _binomial(
    py: Python<'_>,
    count: &Bound<'_, PyAny>,
    prob: &Bound<'_, PyAny>,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let gen = crate::random::generator_arg(generator, "binomial")?;
    let n = tensor_param(count, "binomial", "count", 1)?;
    let p = tensor_param(prob, "binomial", "prob", 2)?;
    let out = run(py, n.numel().saturating_mul(32), || {
        rgrad_core::ops::samplers::binomial_gen(gen.as_ref(), &n, &p)
    })?;
    wrap(py, out)
}
