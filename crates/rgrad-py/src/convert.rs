//! Python values → core values: numbers, shapes, nested lists.

use crate::errors::{type_name, IntoPyResult};
use crate::interop;
use crate::tensor::PyTensor;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PySequence, PyTuple};
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

/// Builds a tensor from Python data: a number, nested sequences, a NumPy array or a tensor.
pub fn tensor_from_data(data: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = data.cast::<PyTensor>() {
        let t = t.borrow().t.detach();
        return t.to_dtype(dtype.unwrap_or(t.dtype())).and_then(|x| x.cast_kernel(x.dtype())).py();
    }
    if let Some(s) = scalar(data)? {
        return Ok(Tensor::scalar_tensor(s, dtype.unwrap_or(default_dtype(s))));
    }
    if interop::is_ndarray(data) {
        // `tensor()` always copies; only `from_numpy` shares memory.
        let t = interop::tensor_from_numpy(data, true)?;
        return t.cast_kernel(dtype.unwrap_or(t.dtype())).py();
    }
    let mut shape = Vec::new();
    let mut probe = data.clone();
    while let Ok(seq) = probe.cast::<PySequence>() {
        if probe.is_instance_of::<pyo3::types::PyString>() {
            break;
        }
        let n = seq.len()?;
        shape.push(n);
        if n == 0 {
            break;
        }
        probe = seq.get_item(0)?;
        if probe.cast::<PyTensor>().is_ok() {
            break;
        }
    }
    let mut flat = Vec::new();
    fill(data, &shape, 0, &mut flat)?;
    let inferred = flat.iter().fold(DType::Bool, |acc, s| DType::promote(acc, default_dtype(*s)));
    let dt = dtype.unwrap_or(if flat.is_empty() { DType::F32 } else { inferred });
    rgrad_core::with_dtype!(dt, T => {
        let v: Vec<T> = flat.iter().map(|&s| rgrad_core::tensor::scalar_as::<T>(s)).collect();
        Tensor::try_from_vec(v, &shape).py()
    })
}

fn fill(ob: &Bound<'_, PyAny>, shape: &[usize], depth: usize, out: &mut Vec<Scalar>) -> PyResult<()> {
    if depth == shape.len() {
        if let Some(s) = scalar(ob)? {
            out.push(s);
            return Ok(());
        }
        if let Ok(t) = ob.cast::<PyTensor>() {
            let t = &t.borrow().t;
            if t.numel() == 1 {
                out.push(t.item().py()?);
                return Ok(());
            }
            return Err(PyValueError::new_err("only one element tensors can be converted to Python scalars"));
        }
        let name = ob.get_type().name()?.to_string();
        return Err(PyTypeError::new_err(format!("new(): invalid data type '{name}'")));
    }
    let seq = ob.cast::<PySequence>().map_err(|_| PyTypeError::new_err("not a sequence"))?;
    let n = seq.len()?;
    if n != shape[depth] {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {} (got {})",
            shape[depth], depth, n
        )));
    }
    for i in 0..n {
        fill(&seq.get_item(i)?, shape, depth + 1, out)?;
    }
    Ok(())
}
