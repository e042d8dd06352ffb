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
use pyo3::Borrowed;
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
        self.call_with(py, args, kwargs)
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

impl OutFunction {
    /// The call with a tuple and a dict (`__call__`, and calls with `out=`).
    fn call_with<'py>(
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
        result.map_err(|e| input_type_error(func, args.get_item(0).ok().as_ref(), e))
    }
}

/// `rgrad.add` and the other wrapped functions: a builtin function object (vectorcall) bound to
/// an [`OutFunction`]. A call without `out=` hands its argument vector and keyword names to the
/// wrapped function unchanged (no tuple, no dict: `torch.add(a, b, alpha=2)` costs what
/// `a.add(b, alpha=2)` does plus one C call); only a call with `out=` builds them.
#[pyfunction]
#[pyo3(signature = (func, writer=None))]
pub fn out_wrapper(py: Python<'_>, func: Py<PyAny>, writer: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    let f = func.bind(py);
    let name: String = f.getattr("__name__")?.extract()?;
    let doc: Option<String> = f.getattr("__doc__").ok().and_then(|d| d.extract().ok());
    let module = f.getattr("__module__").ok().filter(|m| !m.is_none());
    let holder = Bound::new(py, OutFunction { func, writer })?;
    // One method definition per wrapped function, for the life of the process (CPython keeps a
    // pointer to it in every function object made from it).
    let def = Box::leak(Box::new(pyo3::ffi::PyMethodDef {
        ml_name: std::ffi::CString::new(name).unwrap_or_default().into_raw(),
        ml_meth: pyo3::ffi::PyMethodDefPointer { PyCFunctionFastWithKeywords: out_vectorcall },
        ml_flags: pyo3::ffi::METH_FASTCALL | pyo3::ffi::METH_KEYWORDS,
        ml_doc: doc
            .and_then(|d| std::ffi::CString::new(d).ok())
            .map_or(std::ptr::null(), |d| d.into_raw() as *const _),
    }));
    let module_ptr = module.as_ref().map_or(std::ptr::null_mut(), |m| m.as_ptr());
    // SAFETY: `def` lives forever; `holder` and `module` are valid objects (NewEx takes
    // references of its own).
    unsafe {
        let f = pyo3::ffi::PyCFunction_NewEx(def, holder.as_ptr(), module_ptr);
        Bound::from_owned_ptr_or_err(py, f).map(Bound::unbind)
    }
}

/// Whether the keyword names `kwnames` (a tuple of str) include `out`.
fn has_out(kwnames: &Bound<'_, PyTuple>) -> bool {
    kwnames.iter().any(|k| k.extract::<&str>().is_ok_and(|k| k == "out"))
}

unsafe extern "C" fn out_vectorcall(
    slf: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargs: pyo3::ffi::Py_ssize_t,
    kwnames: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: CPython calls this with the GIL held, `slf` the OutFunction it was made with,
    // `args` holding `nargs` positional values followed by one value per keyword name.
    let py = unsafe { Python::assume_attached() };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
        let holder = Borrowed::from_ptr(py, slf).cast_unchecked::<OutFunction>();
        let this = holder.get();
        let kw = Borrowed::from_ptr_or_opt(py, kwnames).map(|k| k.cast_unchecked::<PyTuple>());
        let wants_out = this.writer.is_some() && kw.is_some_and(|k| has_out(&k));
        if !wants_out {
            let r = pyo3::ffi::PyObject_Vectorcall(this.func.as_ptr(), args, nargs as usize, kwnames);
            if !r.is_null() {
                return Ok(r);
            }
            let e = PyErr::fetch(py);
            let first = (nargs > 0).then(|| Borrowed::from_ptr(py, *args).to_owned());
            return Err(input_type_error(this.func.bind(py), first.as_ref(), e));
        }
        // With `out=`: the tuple and dict the writer takes.
        let n = nargs as usize;
        let values = std::slice::from_raw_parts(args, n + kw.as_ref().map_or(0, |k| k.len()));
        let positional = PyTuple::new(py, values[..n].iter().map(|&p| Borrowed::from_ptr(py, p).to_owned()))?;
        let dict = PyDict::new(py);
        if let Some(k) = &kw {
            for (name, &v) in k.iter().zip(&values[n..]) {
                dict.set_item(name, Borrowed::from_ptr(py, v).to_owned())?;
            }
        }
        this.call_with(py, &positional, Some(&dict)).map(Bound::into_ptr)
    }));
    match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            e.restore(py);
            std::ptr::null_mut()
        }
        Err(_) => {
            pyo3::exceptions::PyRuntimeError::new_err("out_function: internal error").restore(py);
            std::ptr::null_mut()
        }
    }
}

/// A `Tensor` method called as `torch.f(x)` with a non-tensor `x` fails inside CPython's
/// method-descriptor check; PyTorch names the function and the argument instead. Only the
/// error path pays for this.
fn input_type_error(func: &Bound<'_, PyAny>, first: Option<&Bound<'_, PyAny>>, e: PyErr) -> PyErr {
    let py = func.py();
    if !e.is_instance_of::<PyTypeError>(py) {
        return e;
    }
    let msg = e.value(py).to_string();
    let is_method = func.get_type().name().is_ok_and(|n| n == "method_descriptor");
    if is_method {
        // The method's own message counts its arguments without `self`; the function form
        // takes the tensor first, as PyTorch's `torch.f` messages count it.
        if let Some(m) = crate::errors::function_form_combination(&msg) {
            return PyTypeError::new_err(m);
        }
        let name = func.getattr("__name__").map(|n| n.to_string()).unwrap_or_default();
        if msg.starts_with(&format!("{name}(): argument ")) {
            if let Some(shifted) = shift_position(&msg) {
                return PyTypeError::new_err(shifted);
            }
        }
    }
    let Some(first) = first else { return e };
    if first.is_instance_of::<PyTensor>() || !msg.starts_with("descriptor '") {
        return e;
    }
    let name = func.getattr("__name__").map(|n| n.to_string()).unwrap_or_default();
    let given = first.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    PyTypeError::new_err(format!("{name}(): argument 'input' (position 1) must be Tensor, not {given}"))
}

/// `f(): argument 'x' (position N) ...` with N + 1.
fn shift_position(msg: &str) -> Option<String> {
    let start = msg.find(" (position ")? + " (position ".len();
    let end = start + msg[start..].find(')')?;
    let n: usize = msg[start..end].parse().ok()?;
    Some(format!("{}{}{}", &msg[..start], n + 1, &msg[end..]))
}
