//! The random ops besides factory.rs's rand/randn: the rejection samplers of
//! `rgrad_core::ops::samplers` (Gamma, Poisson, Binomial; `rgrad.distributions` calls them),
//! randint, randperm and multinomial, each drawing from its
//! `generator=` (the default generator when None).

use crate::convert::{int_or_list, tensor_param};
use crate::dtype::opt_dtype;
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rgrad_core::ops::factory;
use rgrad_core::DType;

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

// ---- the other random ops of the bindings: multinomial, randint, randperm ----
// (rand, randn and manual_seed are in factory.rs; normal, bernoulli and the in-place samplers
// in random.rs)

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    /// `multinomial` from the global generator, or from `uniforms` (float64, one per row
    /// and sample or category) drawn by a `Generator` object.
    #[pyo3(signature = (num_samples, replacement=false, uniforms=None, generator=None))]
    fn _multinomial(
        &self,
        py: Python<'_>,
        num_samples: i64,
        replacement: bool,
        uniforms: Option<PyRef<'_, PyTensor>>,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let gen = crate::random::generator_arg(generator, "multinomial")?;
        let u = uniforms.map(|u| u.t.clone());
        let work = self.t.numel().saturating_mul(4);
        let out = run(py, work, || {
            rgrad_core::ops::multinomial::multinomial_gen(
                &self.t,
                num_samples,
                replacement,
                u.as_ref(),
                gen.as_ref(),
            )
        })?;
        wrap(py, out)
    }
}

/// `rgrad.randint(low=0, high, size)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (*args, size=None, generator=None, dtype=None, device=None, requires_grad=false))]
pub fn randint(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let _ = requires_grad;
    let gen = crate::random::generator_arg(generator, "randint")?;
    let dev = crate::dtype::check_device(device)?;
    let items: Vec<Bound<'_, PyAny>> = args.iter().collect();
    let (low, high, size) = match (items.len(), size) {
        (1, Some(s)) => (0, items[0].extract::<i64>()?, s.clone()),
        (2, None) => (0, items[0].extract::<i64>()?, items[1].clone()),
        (2, Some(s)) => (items[0].extract::<i64>()?, items[1].extract::<i64>()?, s.clone()),
        (3, None) => (items[0].extract::<i64>()?, items[1].extract::<i64>()?, items[2].clone()),
        _ => return Err(PyTypeError::new_err("randint(): expected (high, size) or (low, high, size)")),
    };
    if high <= low {
        return Err(PyRuntimeError::new_err(format!(
            "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )));
    }
    let shape = crate::convert::usize_shape(&int_or_list(&size, "size")?)?;
    let t = factory::randint_gen(gen.as_ref(), low, high, &shape, opt_dtype(dtype)?.unwrap_or(DType::I64))
        .py()?;
    crate::factory::finish(py, t, dev, false)
}

/// `rgrad.randperm(n)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (n, *, generator=None, dtype=None, device=None, requires_grad=false))]
pub fn randperm(
    py: Python<'_>,
    n: usize,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let _ = requires_grad;
    let gen = crate::random::generator_arg(generator, "randperm")?;
    let dev = crate::dtype::check_device(device)?;
    let t = factory::randperm_gen(gen.as_ref(), n)
        .py()?
        .cast_kernel(opt_dtype(dtype)?.unwrap_or(DType::I64))
        .py()?;
    crate::factory::finish(py, t, dev, false)
}
