//! Core errors become the Python exceptions PyTorch raises for the same mistake.

use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;
use rgrad_core::error::ExternalError;
use rgrad_core::Error;
use std::sync::Arc;

pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::Runtime(m) => PyRuntimeError::new_err(m),
        Error::Index(m) => PyIndexError::new_err(m),
        Error::Type(m) => PyTypeError::new_err(m),
        Error::Value(m) => PyValueError::new_err(m),
        Error::External(x) => match x.payload.downcast_ref::<PyErr>() {
            // The exception a hook or custom backward raised, re-raised as the same object
            // (type, message, traceback).
            Some(err) => pyo3::Python::attach(|py| err.clone_ref(py)),
            None => PyRuntimeError::new_err(x.message),
        },
    }
}

/// `core_call().py()?` converts a core result at the boundary.
pub trait IntoPyResult<T> {
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPyResult<T> for rgrad_core::Result<T> {
    #[inline]
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}

/// Carries a Python exception raised inside a callback (hook, custom backward) through the core
/// unchanged: `to_py` gives back the same exception object, so `KeyboardInterrupt` stays one.
pub fn from_py(e: PyErr) -> Error {
    let message = pyo3::Python::attach(|py| e.value(py).to_string());
    Error::External(ExternalError::new(message, Arc::new(e)))
}
