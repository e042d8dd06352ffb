//! The `out=` keyword for the functions that take it in PyTorch (`torch.add(x, y, out=r)`).
//!
//! One wrapper type serves every such function: a call without `out` goes straight to the
//! wrapped function (the wrapper adds one C-level call, no Python frame), and a call with it
//! hands the function, its arguments and `out` to a Python helper that checks autograd,
//! resizes `out` and copies the result in (`rgrad._out.write_out`).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

#[pyclass(name = "out_function", module = "rgrad", frozen)]
pub struct OutFunction {
    func: Py<PyAny>,
    /// `write_out(func, args, kwargs, out)`.
    writer: Py<PyAny>,
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl OutFunction {
    #[new]
    fn new(func: Py<PyAny>, writer: Py<PyAny>) -> Self {
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
        let Some(kw) = kwargs else {
            return func.call1(args);
        };
        let Some(out) = kw.get_item("out")? else {
            return func.call(args, Some(kw));
        };
        let rest = kw.copy()?;
        rest.del_item("out")?;
        if out.is_none() {
            return func.call(args, Some(&rest));
        }
        self.writer.bind(py).call1((func, args, rest, out))
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
        visit.call(&self.writer)
    }
}
