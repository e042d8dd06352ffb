//! Python values → core values (numbers, operands, shapes, dims, tensor arguments) and core
//! results → Python values (`return_types` pairs). `tensor(data)` is from_data.rs.

use crate::errors::{type_name, IntoPyResult};
use crate::interop;
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyTuple};
use rgrad_core::{DType, Scalar, Tensor};

/// A Python number as a core scalar; `None` if `ob` is not a number.
#[inline]
pub fn scalar(ob: &Bound<'_, PyAny>) -> PyResult<Option<Scalar>> {
    if let Ok(f) = ob.cast::<PyFloat>() {
        return Ok(Some(Scalar::Float(f.value())));
    }
    if ob.is_instance_of::<PyBool>() {
        return Ok(Some(Scalar::Bool(ob.is_truthy()?)));
    }
    if ob.is_instance_of::<PyInt>() {
        return Ok(Some(Scalar::Int(ob.extract::<i64>()?)));
    }
    // NumPy scalars and other number-likes.
    if interop::is_numpy_scalar(ob) {
        let kind: String = ob.getattr("dtype")?.getattr("kind")?.extract()?;
        return Ok(Some(match kind.as_str() {
            "b" => Scalar::Bool(ob.is_truthy()?),
            "i" | "u" => Scalar::Int(ob.call_method0("__int__")?.extract()?),
            _ => Scalar::Float(ob.call_method0("__float__")?.extract()?),
        }));
    }
    Ok(None)
}

/// Either a tensor or a number, as ops accept.
pub enum Arg {
    T(Tensor),
    S(Scalar),
}

/// Reads an operand; `None` when it is neither (so binary dunders return NotImplemented).
#[inline]
pub fn operand(ob: &Bound<'_, PyAny>) -> PyResult<Option<Arg>> {
    if let Ok(t) = ob.cast::<PyTensor>() {
        return Ok(Some(Arg::T(t.borrow().t.clone())));
    }
    if let Some(s) = scalar(ob)? {
        return Ok(Some(Arg::S(s)));
    }
    if interop::is_ndarray(ob) {
        return Ok(Some(Arg::T(interop::tensor_from_numpy(ob, true)?)));
    }
    Ok(None)
}

/// Like [`operand`] but a type error when it is neither.
pub fn require_operand(ob: &Bound<'_, PyAny>, what: &str) -> PyResult<Arg> {
    operand(ob)?.ok_or_else(|| {
        let name = ob.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        PyTypeError::new_err(format!("{what}: expected Tensor or Number as argument, but got {name}"))
    })
}

/// A tensor argument (numbers become 0-dim tensors).
pub fn tensor_arg(ob: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    match require_operand(ob, what)? {
        Arg::T(t) => Ok(t),
        Arg::S(s) => Ok(Tensor::scalar_tensor(s, default_dtype(s))),
    }
}

pub fn default_dtype(s: Scalar) -> DType {
    match s {
        Scalar::Bool(_) => DType::Bool,
        Scalar::Int(_) => DType::I64,
        Scalar::Float(_) => DType::F32,
    }
}

/// An int argument or element: Python ints, NumPy ints and one-element integer tensors.
/// `Err(None)` for another type, `Err(Some(e))` for an int that does not fit in 64 bits.
fn int_of(ob: &Bound<'_, PyAny>) -> Result<i64, Option<PyErr>> {
    if let Ok(t) = ob.cast::<PyTensor>() {
        let t = &t.borrow().t;
        if t.numel() == 1 && !t.dtype().is_float() {
            return Ok(match t.item().py().map_err(Some)? {
                Scalar::Int(i) => i,
                Scalar::Bool(b) => b as i64,
                Scalar::Float(f) => f as i64,
            });
        }
        return Err(None);
    }
    if ob.is_instance_of::<PyFloat>() {
        return Err(None);
    }
    match ob.extract::<i64>() {
        Ok(v) => Ok(v),
        Err(_) if ob.is_instance_of::<PyInt>() || interop::is_numpy_scalar(ob) => {
            Err(Some(PyValueError::new_err("Overflow when unpacking long long")))
        }
        Err(_) => Err(None),
    }
}

/// PyTorch's message for a bad element of an int-list argument (`arg` names it).
fn element_error(arg: &str, pos: usize, ob: &Bound<'_, PyAny>, e: Option<PyErr>) -> PyErr {
    let why = match e {
        Some(e) => e.value(ob.py()).to_string(),
        None => format!("type must be tuple of ints,but got {}", type_name(ob)),
    };
    PyTypeError::new_err(format!(
        "argument '{arg}' failed to unpack the object at pos {pos} with error \"{why}\""
    ))
}

fn int_elements<'py>(
    arg: &str,
    items: impl Iterator<Item = PyResult<Bound<'py, PyAny>>>,
) -> PyResult<Vec<i64>> {
    items
        .enumerate()
        .map(|(i, x)| {
            let x = x?;
            int_of(&x).map_err(|e| element_error(arg, i + 1, &x, e))
        })
        .collect()
}

/// Sizes given as `f(2, 3)`, `f((2, 3))` or `f([2, 3])`; `arg` names the argument in errors.
pub fn int_list(args: &Bound<'_, PyTuple>, arg: &str) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if a.is_instance_of::<PyTuple>() || a.is_instance_of::<PyList>() {
            return int_elements(arg, a.try_iter()?);
        }
        return match int_of(&a) {
            Ok(v) => Ok(vec![v]),
            Err(Some(e)) => Err(element_error(arg, 1, &a, Some(e))),
            Err(None) => Err(PyTypeError::new_err(format!(
                "argument '{arg}' (position 1) must be tuple of ints, not {}",
                type_name(&a)
            ))),
        };
    }
    int_elements(arg, args.iter().map(Ok))
}

/// A sequence of ints (e.g. `dim=(0, 2)`) or a single int; `arg` names the argument in errors.
pub fn int_or_list(ob: &Bound<'_, PyAny>, arg: &str) -> PyResult<Vec<i64>> {
    if ob.is_instance_of::<PyTuple>() || ob.is_instance_of::<PyList>() {
        return int_elements(arg, ob.try_iter()?);
    }
    match int_of(ob) {
        Ok(v) => Ok(vec![v]),
        Err(Some(e)) => Err(e),
        Err(None) => Err(crate::errors::arg_type_error(arg, "int", ob)),
    }
}

/// A factory's size: positional ints (or one sequence), or `size=` when none is given.
pub(crate) fn shape_arg(size: &Bound<'_, PyTuple>, kw: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<usize>> {
    match kw {
        Some(s) if size.is_empty() => usize_shape(&int_list(&PyTuple::new(size.py(), [s])?, "size")?),
        _ => usize_shape(&int_list(size, "size")?),
    }
}

pub fn usize_shape(v: &[i64]) -> PyResult<Vec<usize>> {
    v.iter()
        .map(|&d| {
            if d < 0 {
                Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "Trying to create tensor with negative dimension {d}: {v:?}"
                )))
            } else {
                Ok(d as usize)
            }
        })
        .collect()
}

/// `dim=` arguments: None, an int, or a sequence of ints.
pub fn dims_opt(dim: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match dim {
        Some(d) if !d.is_none() => Ok(Some(int_or_list(d, "dim")?)),
        _ => Ok(None),
    }
}

/// A number argument (a one-element tensor gives its value).
pub(crate) fn number(ob: &Bound<'_, PyAny>, what: &str) -> PyResult<Scalar> {
    if let Ok(t) = ob.cast::<PyTensor>() {
        return t.borrow().t.item().py();
    }
    scalar(ob)?.ok_or_else(|| PyTypeError::new_err(format!("{what}: expected a number")))
}

pub(crate) fn opt_f64(ob: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    match ob {
        Some(o) if !o.is_none() => Ok(Some(number(o, "clamp")?.to_f64())),
        _ => Ok(None),
    }
}

/// A sequence of tensors (`cat`, `stack`, `autograd.grad`'s inputs).
pub(crate) fn tensors_of(seq: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    seq.try_iter()?.map(|x| tensor_arg(&x?, "expected a sequence of Tensors")).collect()
}

/// A tensor argument of a functional op, with PyTorch's error for anything else.
pub(crate) fn tensor_param(ob: &Bound<'_, PyAny>, func: &str, name: &str, pos: usize) -> PyResult<Tensor> {
    match ob.cast::<PyTensor>() {
        Ok(t) => Ok(t.borrow().t.clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{func}(): argument '{name}' (position {pos}) must be Tensor, not {}",
            ob.get_type().name()?
        ))),
    }
}

/// A `torch.return_types.max(values=..., indices=...)` pair.
pub(crate) fn values_indices(py: Python<'_>, kind: &str, v: Tensor, i: Tensor) -> PyResult<Py<PyAny>> {
    static MODULE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let m = MODULE.get_or_try_init(py, || py.import("rgrad.return_types").map(|m| m.into_any().unbind()))?;
    let cls = m.bind(py).getattr(kind)?;
    Ok(cls.call1(((wrap(py, v)?, wrap(py, i)?),))?.unbind())
}
