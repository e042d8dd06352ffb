//! Python values → core values: numbers, shapes, nested lists.

use crate::errors::IntoPyResult;
use crate::interop;
use crate::tensor::PyTensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
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

fn int_of(ob: &Bound<'_, PyAny>) -> PyResult<i64> {
    if let Ok(t) = ob.cast::<PyTensor>() {
        let t = &t.borrow().t;
        if t.numel() == 1 && !t.dtype().is_float() {
            return Ok(match t.item().py()? {
                Scalar::Int(i) => i,
                Scalar::Bool(b) => b as i64,
                Scalar::Float(f) => f as i64,
            });
        }
    }
    ob.extract::<i64>().map_err(|_| {
        let name = ob.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        PyTypeError::new_err(format!("expected int, but got {name}"))
    })
}

/// Sizes given as `f(2, 3)`, `f((2, 3))` or `f([2, 3])`.
pub fn int_list(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if a.is_instance_of::<PyTuple>() || a.is_instance_of::<PyList>() {
            return a.try_iter()?.map(|x| int_of(&x?)).collect();
        }
    }
    args.iter().map(|x| int_of(&x)).collect()
}

/// A sequence of ints (e.g. `dim=(0, 2)`) or a single int.
pub fn int_or_list(ob: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    if ob.is_instance_of::<PyTuple>() || ob.is_instance_of::<PyList>() {
        return ob.try_iter()?.map(|x| int_of(&x?)).collect();
    }
    Ok(vec![int_of(ob)?])
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

pub use crate::from_data::tensor_from_data;
