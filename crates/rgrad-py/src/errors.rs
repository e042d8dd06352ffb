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
    rgrad_core::cpu::ensure_pool();
    py.detach(|| {
        let _reset = Reset(DETACHED.with(|d| d.replace(true)));
        f()
    })
    .map_err(to_py)
}

// ---- argument types ----------------------------------------------------------------------

/// Reads argument `arg` of `func`; a wrong type reads as PyTorch's
/// `func(): argument 'arg' (position 1) must be bool, not int`. `position` is the argument's
/// place when it can be passed positionally; `optional` says it has a default.
#[inline]
pub fn extract_arg<'a, 'py, T: FromPyObject<'a, 'py>>(
    ob: &'a Bound<'py, PyAny>,
    func: &str,
    arg: &str,
    position: Option<usize>,
    optional: bool,
    expected: &str,
) -> PyResult<T> {
    match T::extract(ob.as_borrowed()) {
        Ok(v) => Ok(v),
        Err(e) => Err(argument_type_error(ob, e.into(), func, arg, position, optional, expected)),
    }
}

#[cold]
fn argument_type_error(
    ob: &Bound<'_, PyAny>,
    e: PyErr,
    func: &str,
    arg: &str,
    position: Option<usize>,
    optional: bool,
    expected: &str,
) -> PyErr {
    let py = ob.py();
    if !e.is_instance_of::<PyTypeError>(py) {
        return e;
    }
    let got = type_name(ob);
    // PyTorch gives the position of an argument passed positionally, whether or not it has a
    // default; when the call cannot be read, only required arguments get one.
    let positional = match call_keywords(py) {
        Some(kw) => !kw.iter().any(|k| k == arg),
        None => !optional,
    };
    let at = position.filter(|_| positional).map(|p| format!(" (position {p})")).unwrap_or_default();
    PyTypeError::new_err(format!("{func}(): argument '{arg}'{at} must be {expected}, not {got}"))
}

/// The keyword names of the Python call now being made (read by `rgrad/_call_site.py` from
/// the caller's bytecode: compiled functions push no frame); None when they cannot be read.
/// Error paths only.
#[cold]
pub fn call_keywords(py: Python<'_>) -> Option<Vec<String>> {
    let r = py.import("rgrad._call_site").ok()?.call_method0("keywords").ok()?;
    if r.is_none() {
        return None;
    }
    r.extract::<Vec<String>>().ok()
}

// ---- functions with several signatures ---------------------------------------------------

thread_local! {
    /// The last "invalid combination" error's parts, so that `torch.f(x, ...)` (the method
    /// called through `out_function`) can print it with the function form's signatures.
    static LAST_COMBINATION: RefCell<Option<Combination>> = const { RefCell::new(None) };
}

/// What an "invalid combination of arguments" message is made of.
pub struct Combination {
    func: &'static str,
    positional: Vec<String>,
    keywords: Vec<(String, String)>,
    function_options: &'static [&'static str],
    /// The message as the method form printed it.
    method_message: String,
}

/// Runs the body of a binding with several PyTorch signatures (`#[overloads(...)]`): a
/// TypeError from it becomes PyTorch's `f() received an invalid combination of arguments -
/// got (...), but expected one of: ...` unless exactly one signature fits the number of
/// arguments (PyTorch then reports that signature's argument, as the body did).
/// `given` are the arguments as bound (name, object or None when absent or not an object).
#[inline(always)]
pub fn guard_overloads<T>(
    func: &'static str,
    method_options: &'static [&'static str],
    function_options: &'static [&'static str],
    given: &[(&'static str, Option<*mut pyo3::ffi::PyObject>)],
    f: impl FnOnce() -> PyResult<T>,
) -> PyResult<T> {
    match guard(func, f) {
        Ok(v) => Ok(v),
        Err(e) => Err(overload_error(func, method_options, function_options, given, e)),
    }
}

#[cold]
fn overload_error(
    func: &'static str,
    method_options: &'static [&'static str],
    function_options: &'static [&'static str],
    given: &[(&'static str, Option<*mut pyo3::ffi::PyObject>)],
    e: PyErr,
) -> PyErr {
    Python::attach(|py| {
        if !e.is_instance_of::<PyTypeError>(py) {
            return e;
        }
        let keywords = call_keywords(py).unwrap_or_default();
        let mut positional = Vec::new();
        let mut named = Vec::new();
        for (name, ob) in given {
            let Some(ptr) = ob else { continue };
            // SAFETY: the pointers are the call's arguments, alive until the call returns.
            let ob = unsafe { Bound::from_borrowed_ptr(py, *ptr) };
            let kind = type_name(&ob);
            if let Some(at) = keywords.iter().position(|k| k == name) {
                named.push((at, name.to_string(), kind));
            } else {
                positional.push(kind);
            }
        }
        named.sort();
        let combination = Combination {
            func,
            positional,
            keywords: named.into_iter().map(|(_, n, k)| (n, k)).collect(),
            function_options,
            method_message: String::new(),
        };
        if plausible(method_options, &combination) == 1 {
            return e;
        }
        let msg = combination.message(method_options);
        let combination = Combination { method_message: msg.clone(), ..combination };
        LAST_COMBINATION.with(|c| *c.borrow_mut() = Some(combination));
        PyTypeError::new_err(msg)
    })
}

/// The last combination error, rendered for the function form (`torch.f(tensor, ...)`), when
/// `msg` is its method-form message.
#[cold]
pub fn function_form_combination(msg: &str) -> Option<String> {
    let mut c = LAST_COMBINATION.with(|c| c.borrow_mut().take())?;
    if c.method_message != msg || c.function_options.is_empty() {
        return None;
    }
    c.positional.insert(0, "Tensor".into());
    Some(c.message(c.function_options))
}

/// How many of `options` take as many arguments as were given (PyTorch's plausible ones).
fn plausible(options: &[&str], c: &Combination) -> usize {
    let n = c.positional.len() + c.keywords.len();
    options
        .iter()
        .filter(|o| {
            let params: Vec<&str> =
                option_params(o).into_iter().filter(|p| !p.is_empty() && *p != "*").collect();
            let required = params.iter().take_while(|p| !p.contains(" = ")).count();
            required <= n && n <= params.len()
        })
        .count()
}

/// The comma-separated pieces of `(Tensor input, int dim = 0)`; `()` is one empty piece, as
/// PyTorch's message builder splits it (which is why `()` "matches" one argument there).
fn option_params(option: &str) -> Vec<&str> {
    option.trim_start_matches('(').trim_end_matches(')').split(", ").collect()
}

/// Whether a Python type name fits a parameter type as PyTorch's message builder decides it
/// (it knows no `Number`, and takes `tuple of ints` literally).
fn type_fits(param_type: &str, got: &str) -> bool {
    match param_type {
        "Tensor" => got == "Tensor" || got == "Parameter",
        "int" => got == "int",
        "float" => got == "float" || got == "int",
        "bool" => got == "bool",
        "tuple of ints" => got == "tuple",
        "torch.dtype" => got == "dtype",
        _ => false,
    }
}

impl Combination {
    fn message(&self, options: &[&str]) -> String {
        let mut m = format!(
            "{}() received an invalid combination of arguments - got {}, but expected one of:\n",
            self.func,
            self.describe(None)
        );
        let n = self.positional.len() + self.keywords.len();
        for option in options {
            m.push_str(&format!(" * {option}\n"));
            let params = option_params(option);
            if params.len() != n {
                continue;
            }
            let names: Vec<&str> = params
                .iter()
                .map(|p| p.split(" = ").next().unwrap_or("").rsplit(' ').next().unwrap_or(""))
                .collect();
            let wrong_keywords: Vec<&str> = self
                .keywords
                .iter()
                .filter(|(k, _)| !names.contains(&k.as_str()))
                .map(|(k, _)| k.as_str())
                .collect();
            if !wrong_keywords.is_empty() {
                m.push_str(&format!(
                    "      didn't match because some of the keywords were incorrect: {}\n",
                    wrong_keywords.join(", ")
                ));
                continue;
            }
            let types: Vec<String> = params
                .iter()
                .map(|p| {
                    let decl = p.split(" = ").next().unwrap_or("");
                    decl.rsplit_once(' ').map(|(t, _)| t.to_string()).unwrap_or_default()
                })
                .collect();
            m.push_str(&format!(
                "      didn't match because some of the arguments have invalid types: {}\n",
                self.describe(Some((&types, &names)))
            ));
        }
        m
    }

    /// `(Tensor, int, dim=str, )` as PyTorch writes the given arguments (the trailing `, ` is
    /// removed only when there are positional ones); with `against`, each argument whose type
    /// does not fit its parameter is written `!type!`.
    fn describe(&self, against: Option<(&[String], &[&str])>) -> String {
        let mark = |fits: bool, t: &str| if fits { t.to_string() } else { format!("!{t}!") };
        let mut out = String::from("(");
        for (i, t) in self.positional.iter().enumerate() {
            let fits = against.is_none_or(|(types, _)| types.get(i).is_some_and(|p| type_fits(p, t)));
            out.push_str(&mark(fits, t));
            out.push_str(", ");
        }
        for (k, t) in &self.keywords {
            let fits = against.is_none_or(|(types, names)| {
                names.iter().position(|n| n == k).is_some_and(|i| type_fits(&types[i], t))
            });
            out.push_str(&format!("{k}={}, ", mark(fits, t)));
        }
        if !self.positional.is_empty() {
            out.truncate(out.len() - 2);
        }
        out.push(')');
        out
    }
}

/// `type(ob).__name__`, as PyTorch's messages name types.
pub fn type_name(ob: &Bound<'_, PyAny>) -> String {
    ob.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

/// An argument error raised inside a body; [`guard`] puts the function's name in front.
pub fn arg_type_error(arg: &str, expected: &str, ob: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("argument '{arg}' must be {expected}, not {}", type_name(ob)))
}
