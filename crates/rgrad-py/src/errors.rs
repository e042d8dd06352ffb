//! Core errors become the Python exceptions PyTorch raises for the same mistake.

use pyo3::exceptions::{PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;
use rgrad_core::Error;

pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::Runtime(m) => PyRuntimeError::new_err(m),
        Error::Index(m) => PyIndexError::new_err(m),
        Error::Type(m) => PyTypeError::new_err(m),
        Error::Value(m) => PyValueError::new_err(m),
        Error::NotImplemented(m) => PyNotImplementedError::new_err(m),
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

/// Turns a Python exception raised inside a callback (hook, custom backward) into a core
/// error, keeping its message.
pub fn from_py(e: PyErr) -> Error {
    pyo3::Python::attach(|py| Error::Runtime(e.value(py).to_string()))
}
