//! `clamp` (`clip`, `clamp_min`, `clamp_max`) and its in-place forms as `Tensor` methods, with
//! PyTorch's result type: a bound can promote the input.

use crate::convert::{number, opt_f64};
use crate::errors::IntoPyResult;
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rgrad_core::{DType, Scalar, Tensor};

/// The dtype of `clamp(t, min, max)` (PyTorch's result type): a float bound makes an integer
/// tensor's result float (a 0-dim tensor bound lends its own dtype); an int bound makes a
/// bool tensor's result int64. Also whether a bound of higher category was a Python number.
fn clamp_result_dtype(t: &Tensor, bounds: [Option<&Bound<'_, PyAny>>; 2]) -> PyResult<(DType, bool)> {
    let mut dt = t.dtype();
    let mut from_number = false;
    for b in bounds.into_iter().flatten().filter(|b| !b.is_none()) {
        let (bound_dt, is_number) = match b.cast::<PyTensor>() {
            Ok(bt) => (bt.borrow().t.dtype(), false),
            Err(_) => match number(b, "clamp")? {
                Scalar::Float(_) => (DType::F32, true),
                Scalar::Int(_) => (DType::I64, true),
                Scalar::Bool(_) => (DType::Bool, true),
            },
        };
        let category = |d: DType| {
            if d.is_float() {
                2
            } else if d.is_int() {
                1
            } else {
                0
            }
        };
        if category(bound_dt) > category(dt) {
            dt = bound_dt;
            from_number = is_number;
        }
    }
    Ok((dt, from_number))
}

/// `clamp` with PyTorch's result type (the bounds can promote the input).
fn clamp_promoted(
    t: &Tensor,
    min: Option<&Bound<'_, PyAny>>,
    max: Option<&Bound<'_, PyAny>>,
) -> PyResult<Tensor> {
    let (dt, _) = clamp_result_dtype(t, [min, max])?;
    let (lo, hi) = (opt_f64(min)?, opt_f64(max)?);
    if dt == t.dtype() {
        return t.clamp(lo, hi).py();
    }
    t.to_dtype(dt).and_then(|x| x.clamp(lo, hi)).py()
}

/// `clamp_` refuses bounds whose type the tensor cannot hold; for a Python number bound
/// PyTorch's message names the C++ type (`long int`), for a tensor bound the scalar type.
fn clamp_inplace(
    slf: &Bound<'_, PyTensor>,
    min: Option<&Bound<'_, PyAny>>,
    max: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let t = slf.borrow().t.clone();
    let (dt, from_number) = clamp_result_dtype(&t, [min, max])?;
    if dt != t.dtype() && from_number {
        let cpp = t.dtype().c_name();
        let from = if dt.is_float() { "Float" } else { "Long" };
        return Err(PyRuntimeError::new_err(format!(
            "result type {from} can't be cast to the desired output type {cpp}"
        )));
    }
    let (lo, hi) = (opt_f64(min)?, opt_f64(max)?);
    t.apply_inplace(&[], |b| if dt == b.dtype() { b.clamp(lo, hi) } else { b.to_dtype(dt)?.clamp(lo, hi) })
        .py()?;
    Ok(slf.clone().unbind())
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[overloads("(Tensor min = None, Tensor max = None)", "(Number min = None, Number max = None)";
        "(Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)",
        "(Tensor input, Number min = None, Number max = None, *, Tensor out = None)")]
    #[pyo3(signature = (min=None, max=None))]
    fn clamp(
        &self,
        py: Python<'_>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        wrap(py, clamp_promoted(&self.t, min, max)?)
    }

    #[pyo3(signature = (min=None, max=None))]
    fn clip(
        &self,
        py: Python<'_>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        self.clamp(py, min, max)
    }

    fn clamp_min(&self, py: Python<'_>, min: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, clamp_promoted(&self.t, Some(min), None)?)
    }

    fn clamp_max(&self, py: Python<'_>, max: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, clamp_promoted(&self.t, None, Some(max))?)
    }

    #[pyo3(signature = (min=None, max=None))]
    fn clamp_(
        slf: &Bound<'_, Self>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        clamp_inplace(slf, min, max)
    }
    fn clamp_min_(slf: &Bound<'_, Self>, min: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        clamp_inplace(slf, Some(min), None)
    }
    fn clamp_max_(slf: &Bound<'_, Self>, max: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        clamp_inplace(slf, None, Some(max))
    }
}
