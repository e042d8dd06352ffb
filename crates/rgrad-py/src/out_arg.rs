//! The `out=` keyword for the functions that take it in PyTorch (`torch.add(x, y, out=r)`).
//!
//! One wrapper type serves every such function: a call without `out` goes straight to the
//! wrapped function (the wrapper adds one C-level call, no Python frame), and a call with it
//! hands the function, its arguments and `out` to a Python helper that checks autograd,
//! resizes `out` and copies the result in (`rgrad._out.write_out`). The same wrapper (without a
//! writer) serves the `torch.*` functions that are `Tensor` methods (`torch.relu`), so that a
//! non-tensor input reads as PyTorch's `relu(): argument 'input' (position 1) must be Tensor,
//! not list` rather than Python's "descriptor 'relu' for 'Tensor' objects doesn't apply".

use crate::tensor::PyTensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

#[pyclass(name = "out_function", module = "rgrad", frozen)]
pub struct OutFunction {
    func: Py<PyAny>,
    /// `write_out(func, args, kwargs, out)`; None for functions without `out=` in PyTorch
    /// (their keywords go to the function unchanged).
    writer: Option<Py<PyAny>>,
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl OutFunction {
    #[new]
    #[pyo3(signature = (func, writer=None))]
    fn new(func: Py<PyAny>, writer: Option<Py<PyAny>>) -> Self {
        OutFunction { func, writer }
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let func = self.func.bind(py);
        let result = match (kwargs, &self.writer) {
            (None, _) => func.call1(args),
            (Some(kw), None) => func.call(args, Some(kw)),
            (Some(kw), Some(writer)) => match kw.get_item("out")? {
                None => func.call(args, Some(kw)),
                Some(out) => {
                    let rest = kw.copy()?;
                    rest.del_item("out")?;
                    if out.is_none() {
                        func.call(args, Some(&rest))
                    } else {
                        writer.bind(py).call1((func, args, rest, out))
                    }
                }
            },
        };
        result.map_err(|e| input_type_error(func, args, e))
    }

    /// The wrapped function's attributes (`__name__`, `__doc__`, ...).
    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.func.bind(py).getattr(name)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        self.func.bind(py).repr().map(|r| r.to_string())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.func)?;
        if let Some(w) = &self.writer {
            visit.call(w)?;
        }
        Ok(())
    }
}

/// A `Tensor` method called as `torch.f(x)` with a non-tensor `x` fails inside CPython's
/// method-descriptor check; PyTorch names the function and the argument instead. Only the
/// error path pays for this.
fn input_type_error(func: &Bound<'_, PyAny>, args: &Bound<'_, PyTuple>, e: PyErr) -> PyErr {
    let py = func.py();
    if !e.is_instance_of::<PyTypeError>(py) {
        return e;
    }
    let Ok(first) = args.get_item(0) else { return e };
    if first.is_instance_of::<PyTensor>() || !e.value(py).to_string().starts_with("descriptor '") {
        return e;
    }
    let name = func.getattr("__name__").map(|n| n.to_string()).unwrap_or_default();
    let given = first.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    PyTypeError::new_err(format!("{name}(): argument 'input' (position 1) must be Tensor, not {given}"))
}
