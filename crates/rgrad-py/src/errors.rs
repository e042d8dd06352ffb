//! The binding boundary: core errors become the Python exceptions PyTorch raises for the same
//! mistake, a Rust panic becomes a `RuntimeError` naming the op, argument type errors name the
//! function and the argument, and long kernels run with the GIL released.
//!
//! `#[rgrad_py_macros::boundary]` routes every `#[pymethods]`/`#[pyfunction]` body through
//! [`guard`] and every typed argument through [`extract_arg`]; kernel calls go through [`run`].

use pyo3::exceptions::{PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::PyErr;
use rgrad_core::error::ExternalError;
use rgrad_core::Error;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::Runtime(m) => PyRuntimeError::new_err(m),
        Error::Index(m) => PyIndexError::new_err(m),
        Error::Type(m) => PyTypeError::new_err(m),
        Error::Value(m) => PyValueError::new_err(m),
        Error::NotImplemented(m) => PyNotImplementedError::new_err(m),
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

// ---- panics ------------------------------------------------------------------------------

thread_local! {
    /// Where the last panic on this thread happened (set by the hook, read by [`guard`]).
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Set while this thread runs core work with the GIL released ([`run`]): a panic there is
    /// caught by [`guard`] like one with the GIL held.
    static DETACHED: Cell<bool> = const { Cell::new(false) };
}

/// Runs one binding body; a panic inside becomes `RuntimeError("<op>: internal error: ...")`.
/// `catch_unwind` costs nothing until something panics, so every entry point uses it.
#[inline(always)]
pub fn guard<T>(op: &'static str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(name_function(op, e)),
        Err(payload) => Err(internal_error(op, payload)),
    }
}

#[cold]
fn internal_error(op: &str, payload: Box<dyn Any + Send>) -> PyErr {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    };
    let at = PANIC_LOCATION.with(|l| l.borrow_mut().take()).map(|l| format!(" at {l}")).unwrap_or_default();
    PyRuntimeError::new_err(format!("{op}: internal error: {msg}{at}. Please report a bug to rgrad."))
}

/// Argument errors raised inside a body ("argument 'shape' must be tuple of ints, not str")
/// get the function's name in front, as PyTorch's do.
#[cold]
fn name_function(op: &str, e: PyErr) -> PyErr {
    Python::attach(|py| {
        if !e.get_type(py).is(py.get_type::<PyTypeError>()) {
            return e;
        }
        let msg = e.value(py).to_string();
        if !msg.starts_with("argument '") {
            return e;
        }
        let named = PyTypeError::new_err(format!("{op}(): {msg}"));
        named.set_cause(py, e.cause(py));
        named
    })
}

/// Installs the panic hook once, at import: panics that [`guard`] will turn into a Python
/// exception (on a thread holding the GIL, or in [`run`]'s released section) print nothing;
/// panics on other threads print the hook's usual first line only, unless RUST_BACKTRACE asks
/// for more.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    let backtrace = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    std::panic::set_hook(Box::new(move |info| {
        // SAFETY: PyGILState_Check only reads the thread state; it is safe on any thread.
        let holds_gil = unsafe { pyo3::ffi::PyGILState_Check() } == 1;
        let location = info.location().map(|l| l.to_string());
        if holds_gil || DETACHED.with(Cell::get) {
            PANIC_LOCATION.with(|l| *l.borrow_mut() = location);
        } else if backtrace {
            previous(info);
        } else {
            let thread = std::thread::current();
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!(
                "thread '{}' panicked at {}: {msg}",
                thread.name().unwrap_or("<unnamed>"),
                location.unwrap_or_default()
            );
        }
    }));
}

// ---- releasing the GIL -------------------------------------------------------------------

/// Work (elements touched, or multiply-adds) below which the GIL stays held: releasing and
/// re-taking it costs ~0.1-0.2 us, and a kernel this small finishes in a few microseconds.
pub const RELEASE_GIL_ABOVE: usize = 1 << 15;

/// Runs core work, releasing the GIL while it runs when it is big enough for other Python
/// threads to gain from it. Python callbacks inside (hooks, custom `backward`) take the GIL
/// back with `Python::attach`.
#[inline]
pub fn run<T: Send>(
    py: Python<'_>,
    work: usize,
    f: impl FnOnce() -> rgrad_core::Result<T> + Send,
) -> PyResult<T> {
    if work < RELEASE_GIL_ABOVE {
        return f().map_err(to_py);
    }
    run_detached(py, f)
}

#[inline(never)]
fn run_detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> rgrad_core::Result<T> + Send) -> PyResult<T> {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            DETACHED.with(|d| d.set(self.0));
        }
    }
    py.detach(|| {
        let _reset = Reset(DETACHED.with(|d| d.replace(true)));
        f()
    })
    .map_err(to_py)
}

// ---- argument types ----------------------------------------------------------------------

/// Reads argument `arg` of `func`; a wrong type reads as PyTorch's
/// `func(): argument 'arg' (position 1) must be bool, not int`.
#[inline]
pub fn extract_arg<'a, 'py, T: FromPyObject<'a, 'py>>(
    ob: &'a Bound<'py, PyAny>,
    func: &str,
    arg: &str,
    position: Option<usize>,
    expected: &str,
) -> PyResult<T> {
    match T::extract(ob.as_borrowed()) {
        Ok(v) => Ok(v),
        Err(e) => Err(argument_type_error(ob, e.into(), func, arg, position, expected)),
    }
}

#[cold]
fn argument_type_error(
    ob: &Bound<'_, PyAny>,
    e: PyErr,
    func: &str,
    arg: &str,
    position: Option<usize>,
    expected: &str,
) -> PyErr {
    if !e.is_instance_of::<PyTypeError>(ob.py()) {
        return e;
    }
    let got = type_name(ob);
    let at = position.map(|p| format!(" (position {p})")).unwrap_or_default();
    PyTypeError::new_err(format!("{func}(): argument '{arg}'{at} must be {expected}, not {got}"))
}

/// `type(ob).__name__`, as PyTorch's messages name types.
pub fn type_name(ob: &Bound<'_, PyAny>) -> String {
    ob.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

/// An argument error raised inside a body; [`guard`] puts the function's name in front.
pub fn arg_type_error(arg: &str, expected: &str, ob: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("argument '{arg}' must be {expected}, not {}", type_name(ob)))
}
