//! The running extremes, logcumsumexp, unfold and the index writes (rgrad_core's
//! ops/cumulative.rs, ops/views.rs, ops/index_ops.rs) and multinomial
//! (ops/multinomial.rs) as `Tensor` methods; `rgrad.cummax` etc. call these.

use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use crate::tensor_ops::{number, values_indices};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rgrad_core::{Scalar, Tensor};

/// `index_fill`'s value: a number or a 0-dim tensor.
fn fill_value(value: &Bound<'_, PyAny>) -> PyResult<Scalar> {
    if let Ok(t) = value.cast::<PyTensor>() {
        let nd = t.borrow().t.ndim();
        if nd != 0 {
            return Err(PyRuntimeError::new_err(format!(
                "index_fill_ only supports a 0-dimensional value tensor, but got tensor with {nd} dimension(s)."
            )));
        }
    }
    number(value, "index_fill_")
}

fn inplace(
    slf: &Bound<'_, PyTensor>,
    others: &[&Tensor],
    overlapping: bool,
    f: impl FnOnce(&Tensor) -> rgrad_core::Result<Tensor>,
) -> PyResult<Py<PyTensor>> {
    let t = slf.borrow().t.clone();
    if overlapping {
        t.apply_inplace_overlapping(others, f).py()?;
    } else {
        t.apply_inplace(others, f).py()?;
    }
    Ok(slf.clone().unbind())
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
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

    fn unfold(&self, py: Python<'_>, dimension: i64, size: i64, step: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.unfold(dimension, size, step).py()?)
    }

    #[pyo3(signature = (dim, index, source, *, alpha=None))]
    fn index_add(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
        alpha: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let a = alpha.map(|a| number(a, "index_add")).transpose()?.unwrap_or(Scalar::Int(1));
        wrap(py, self.t.index_add(dim, &index.t, &source.t, a).py()?)
    }

    #[pyo3(signature = (dim, index, source, *, alpha=None))]
    fn index_add_(
        slf: &Bound<'_, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
        alpha: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let a = alpha.map(|a| number(a, "index_add_")).transpose()?.unwrap_or(Scalar::Int(1));
        let (ix, s) = (index.t.clone(), source.t.clone());
        inplace(slf, &[&s], false, |b| b.index_add(dim, &ix, &s, a))
    }

    fn index_copy(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
    ) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.index_copy(dim, &index.t, &source.t).py()?)
    }

    fn index_copy_(
        slf: &Bound<'_, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
    ) -> PyResult<Py<PyTensor>> {
        let (ix, s) = (index.t.clone(), source.t.clone());
        inplace(slf, &[&s], false, |b| b.index_copy(dim, &ix, &s))
    }

    fn index_fill(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        let v = fill_value(value)?;
        wrap(py, self.t.index_fill(dim, &index.t, v).py()?)
    }

    fn index_fill_(
        slf: &Bound<'_, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        let (ix, v) = (index.t.clone(), fill_value(value)?);
        inplace(slf, &[], true, |b| b.index_fill(dim, &ix, v))
    }

    #[pyo3(signature = (fill_value, wrap=false))]
    fn fill_diagonal_(
        slf: &Bound<'_, Self>,
        fill_value: &Bound<'_, PyAny>,
        wrap: bool,
    ) -> PyResult<Py<PyTensor>> {
        let v = number(fill_value, "fill_diagonal_")?;
        inplace(slf, &[], true, |b| b.fill_diagonal(v, wrap))
    }

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
