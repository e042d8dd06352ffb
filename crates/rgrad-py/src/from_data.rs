//! `tensor(data)` from Python data (numbers, nested sequences, NumPy arrays, tensors), in
//! PyTorch's three steps (`internal_new_from_data`): the shape from the first element of each
//! level, the dtype from every element, then a store that checks lengths and value ranges.
//!
//! The shape walk stops after `MAX_DIMS` levels, so a self-referential list (`a.append(a)`) or
//! one nested 100,000 deep is refused with PyTorch's "too many dimensions" instead of growing
//! or overflowing the stack; the later walks recurse at most that many levels.

use crate::errors::IntoPyResult;
use crate::interop;
use crate::tensor::PyTensor;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyList, PyString, PyTuple};
use rgrad_core::{DType, Scalar, Tensor};

/// PyTorch's limit on the nesting of `tensor()` data.
const MAX_DIMS: usize = 128;

fn type_name(ob: &Bound<'_, PyAny>) -> String {
    ob.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

fn is_sequence(ob: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `ob` is a live object; PySequence_Check only reads its type slots.
    unsafe { pyo3::ffi::PySequence_Check(ob.as_ptr()) != 0 }
}

fn is_string(ob: &Bound<'_, PyAny>) -> bool {
    ob.is_instance_of::<PyString>() || ob.is_instance_of::<PyBytes>()
}

fn invalid_data_type(ob: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("new(): invalid data type '{}'", type_name(ob)))
}

/// Calls `f` on each item of a sequence (lists and tuples without the generic protocol).
fn for_each_item(
    ob: &Bound<'_, PyAny>,
    mut f: impl FnMut(&Bound<'_, PyAny>) -> PyResult<()>,
) -> PyResult<usize> {
    if let Ok(l) = ob.cast::<PyList>() {
        // Indexing (not an iterator) so a list changed by `f` cannot be read out of bounds.
        let n = l.len();
        for i in 0..n {
            f(&l.get_item(i)?)?;
        }
        return Ok(n);
    }
    if let Ok(t) = ob.cast::<PyTuple>() {
        for item in t.iter() {
            f(&item)?;
        }
        return Ok(t.len());
    }
    let n = ob.len()?;
    for i in 0..n {
        f(&ob.get_item(i)?)?;
    }
    Ok(n)
}

/// The shape, read from the first element of each level (PyTorch's `compute_sizes`).
fn compute_sizes(data: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let mut shape = Vec::new();
    let mut probe = data.clone();
    while !probe.is_instance_of::<PyTensor>() && is_sequence(&probe) {
        let n = probe.len()?;
        shape.push(n);
        if shape.len() > MAX_DIMS {
            return Err(PyValueError::new_err(format!("too many dimensions '{}'", type_name(&probe))));
        }
        if n == 0 {
            break;
        }
        probe = probe.get_item(0)?;
    }
    Ok(shape)
}

/// The dtype a NumPy scalar or array of this dtype turns into.
fn numpy_dtype(dtype: &Bound<'_, PyAny>, ob: &Bound<'_, PyAny>) -> PyResult<DType> {
    let kind: String = dtype.getattr("kind")?.extract()?;
    let size: usize = dtype.getattr("itemsize")?.extract()?;
    Ok(match (kind.as_str(), size) {
        ("b", _) => DType::Bool,
        ("f", 8) => DType::F64,
        ("f", 2) => DType::F16,
        ("f", _) => DType::F32,
        ("i", 4) => DType::I32,
        ("i", 2) => DType::I16,
        ("i", 1) => DType::I8,
        ("u", 1) => DType::U8,
        ("i" | "u", _) => DType::I64,
        _ => return Err(invalid_data_type(ob)),
    })
}

/// The dtype `ob` asks for (PyTorch's `infer_scalar_type`); `None` for a nested sequence past
/// the shape's depth (the store then reports it). `depth_left` bounds the recursion.
fn infer(ob: &Bound<'_, PyAny>, depth_left: usize) -> PyResult<Option<DType>> {
    // Lists and tuples first: nested data is mostly them, and they are no number.
    let plain_sequence = ob.is_instance_of::<PyList>() || ob.is_instance_of::<PyTuple>();
    if !plain_sequence {
        if let Some(d) = infer_leaf(ob)? {
            return Ok(Some(d));
        }
    }
    if plain_sequence || is_sequence(ob) {
        if depth_left == 0 {
            return Ok(None);
        }
        let mut acc: Option<DType> = None;
        for_each_item(ob, |item| {
            if let Some(d) = infer(item, depth_left - 1)? {
                acc = Some(acc.map_or(d, |a| DType::promote(a, d)));
            }
            Ok(())
        })?;
        // An empty sequence contributes the default dtype, as in PyTorch.
        return Ok(Some(acc.unwrap_or(DType::F32)));
    }
    if ob.is_instance_of::<pyo3::types::PyComplex>() {
        return Err(invalid_data_type(ob));
    }
    Err(PyRuntimeError::new_err(format!("Could not infer dtype of {}", type_name(ob))))
}

/// The dtype of a number, tensor or array; an error for strings; `None` for anything else.
fn infer_leaf(ob: &Bound<'_, PyAny>) -> PyResult<Option<DType>> {
    if let Some(d) = number_dtype(ob)? {
        return Ok(Some(d));
    }
    if let Ok(t) = ob.cast::<PyTensor>() {
        return Ok(Some(t.borrow().t.dtype()));
    }
    if is_string(ob) {
        return Err(invalid_data_type(ob));
    }
    if interop::is_ndarray(ob) {
        return numpy_dtype(&ob.getattr("dtype")?, ob).map(Some);
    }
    Ok(None)
}

fn overflow(dt: DType) -> PyErr {
    PyRuntimeError::new_err(format!("value cannot be converted to type {} without overflow", dt.name()))
}

/// 2**63 as a float: int64 holds [-2**63, 2**63).
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// `v` checked against the range of integer dtype `dt` (PyTorch's `checked_convert`).
fn checked_int(v: i64, dt: DType) -> PyResult<Scalar> {
    // c10's range test: an unsigned type also takes negatives down to -max (they wrap).
    let fits = match dt {
        DType::I32 => i32::try_from(v).is_ok(),
        DType::I16 => i16::try_from(v).is_ok(),
        DType::I8 => i8::try_from(v).is_ok(),
        DType::U8 => (-255..=255).contains(&v),
        _ => true,
    };
    if !fits {
        return Err(overflow(dt));
    }
    Ok(Scalar::Int(v))
}

/// The range a float must lie in to convert to a small integer dtype (`[min, max + 1)`).
fn small_int_range(dt: DType) -> Option<(f64, f64)> {
    match dt {
        DType::I16 => Some((-32768.0, 32768.0)),
        DType::I8 => Some((-128.0, 128.0)),
        DType::U8 => Some((0.0, 256.0)),
        _ => None,
    }
}

fn checked_float(f: f64, dt: DType) -> PyResult<Scalar> {
    match dt {
        DType::Bool => Ok(Scalar::Bool(f != 0.0)),
        DType::F16 | DType::BF16 | DType::F32 | DType::F64 => Ok(Scalar::Float(f)),
        DType::U8 | DType::I8 | DType::I16 => {
            let (lo, hi) = small_int_range(dt).unwrap_or((0.0, 0.0));
            if !(lo..hi).contains(&f) {
                return Err(overflow(dt));
            }
            Ok(Scalar::Int(f.trunc() as i64))
        }
        DType::I32 | DType::I64 => {
            let t = f.trunc();
            // Written so that NaN fails the test too.
            let fits = if dt == DType::I32 {
                (-2_147_483_648.0..=2_147_483_647.0).contains(&t)
            } else {
                (-TWO_POW_63..TWO_POW_63).contains(&t)
            };
            if !fits {
                return Err(overflow(dt));
            }
            Ok(Scalar::Int(t as i64))
        }
    }
}

/// A Python int stored as `dt`: ints beyond int64 only fit float (and bool) tensors.
fn store_int(ob: &Bound<'_, PyAny>, dt: DType) -> PyResult<Scalar> {
    match ob.extract::<i64>() {
        Ok(v) if dt == DType::Bool => Ok(Scalar::Bool(v != 0)),
        Ok(v) if dt.is_float() => Ok(Scalar::Float(v as f64)),
        Ok(v) => checked_int(v, dt),
        Err(_) if dt.is_float() => Ok(Scalar::Float(ob.extract::<f64>()?)),
        Err(_) if dt == DType::Bool => Ok(Scalar::Bool(ob.is_truthy()?)),
        Err(_) => Err(PyValueError::new_err("Overflow when unpacking long long")),
    }
}

/// One element stored as `dt` (PyTorch's `store_scalar`).
fn store_leaf(ob: &Bound<'_, PyAny>, dt: DType) -> PyResult<Scalar> {
    if let Ok(f) = ob.cast::<PyFloat>() {
        return checked_float(f.value(), dt);
    }
    if ob.is_instance_of::<PyBool>() {
        return Ok(Scalar::Bool(ob.is_truthy()?));
    }
    if ob.is_instance_of::<PyInt>() {
        return store_int(ob, dt);
    }
    if let Ok(t) = ob.cast::<PyTensor>() {
        let t = &t.borrow().t;
        if t.numel() != 1 {
            return Err(PyValueError::new_err("only one element tensors can be converted to Python scalars"));
        }
        return t.item().py();
    }
    if interop::is_numpy_scalar(ob) {
        let dtype = ob.getattr("dtype")?;
        let kind: String = dtype.getattr("kind")?.extract()?;
        let size: usize = dtype.getattr("itemsize")?.extract()?;
        return match kind.as_str() {
            "b" => Ok(Scalar::Bool(ob.is_truthy()?)),
            // PyTorch reads NumPy integers as C longs and refuses uint64 outright.
            "u" if size == 8 => Err(PyTypeError::new_err("an integer is required")),
            "i" | "u" => store_int(&ob.call_method0("__int__")?, dt),
            "f" => checked_float(ob.call_method0("__float__")?.extract()?, dt),
            _ => Err(invalid_data_type(ob)),
        };
    }
    let name = type_name(ob);
    Err(PyTypeError::new_err(if dt.is_float() {
        format!("must be real number, not {name}")
    } else {
        format!("'{name}' object cannot be interpreted as an integer")
    }))
}

/// Stores the elements of `ob` (at level `depth` of `shape`) into `out`, checking lengths;
/// `leaf` reads one element.
fn fill(
    ob: &Bound<'_, PyAny>,
    shape: &[usize],
    depth: usize,
    leaf: &mut impl FnMut(&Bound<'_, PyAny>) -> PyResult<Scalar>,
    out: &mut Vec<Scalar>,
) -> PyResult<()> {
    if depth == shape.len() {
        out.push(leaf(ob)?);
        return Ok(());
    }
    if ob.is_instance_of::<PyTensor>() || !is_sequence(ob) {
        return Err(PyTypeError::new_err("not a sequence"));
    }
    if is_string(ob) {
        // Bytes are a sequence of ints, but PyTorch refuses them as data.
        return Err(invalid_data_type(ob));
    }
    let n = ob.len()?;
    if n != shape[depth] {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {} (got {})",
            shape[depth], depth, n
        )));
    }
    for_each_item(ob, |item| fill(item, shape, depth + 1, leaf, out))?;
    Ok(())
}

/// One element as it is, with the dtype it asks for promoted into `dtype`.
fn read_leaf(ob: &Bound<'_, PyAny>, dtype: &mut Option<DType>) -> PyResult<Scalar> {
    let (value, d) = if let Ok(f) = ob.cast_exact::<PyFloat>() {
        (Scalar::Float(f.value()), DType::F32)
    } else if ob.is_exact_instance_of::<PyInt>() {
        // An int beyond int64 fails here; the checked path then reports it as PyTorch does.
        (Scalar::Int(ob.extract::<i64>()?), DType::I64)
    } else {
        let d = infer_leaf(ob)?.ok_or_else(|| PyTypeError::new_err("not a number"))?;
        (store_leaf(ob, d)?, d)
    };
    *dtype = Some(dtype.map_or(d, |acc| DType::promote(acc, d)));
    Ok(value)
}

/// The elements of `data` (of `shape`) and the dtype they infer, in one walk. Every failure
/// goes to PyTorch's two walks (dtype of every element, then a checked store), which find the
/// error PyTorch reports first; success needs no second walk.
fn read_inferring(data: &Bound<'_, PyAny>, shape: &[usize], numel: usize) -> PyResult<(Vec<Scalar>, DType)> {
    let mut flat = Vec::with_capacity(numel.min(1 << 20));
    let mut dtype = None;
    if numel == 0 {
        // As PyTorch, an empty result stores nothing (so `[[], [1]]` is a 2x0 tensor).
        return Ok((flat, infer(data, shape.len())?.unwrap_or(DType::I64)));
    }
    if fill(data, shape, 0, &mut |ob| read_leaf(ob, &mut dtype), &mut flat).is_ok() {
        if let Some(dt) = dtype {
            return Ok((flat, dt));
        }
    }
    let dt = infer(data, shape.len())?.unwrap_or(DType::I64);
    flat.clear();
    fill(data, shape, 0, &mut |ob| store_leaf(ob, dt), &mut flat)?;
    Ok((flat, dt))
}

/// Builds a tensor from Python data: a number, nested sequences, a NumPy array or a tensor.
pub fn tensor_from_data(data: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = data.cast::<PyTensor>() {
        let t = t.borrow().t.detach();
        return t.to_dtype(dtype.unwrap_or(t.dtype())).and_then(|x| x.cast_kernel(x.dtype())).py();
    }
    if let Some(inferred) = number_dtype(data)? {
        let dt = dtype.unwrap_or(inferred);
        return Ok(Tensor::scalar_tensor(store_leaf(data, dt)?, dt));
    }
    if interop::is_ndarray(data) {
        // `tensor()` always copies; only `from_numpy` shares memory.
        let t = interop::tensor_from_numpy(data, true)?;
        return t.cast_kernel(dtype.unwrap_or(t.dtype())).py();
    }
    if is_string(data) {
        return Err(invalid_data_type(data));
    }
    let shape = compute_sizes(data)?;
    // Only a capacity hint and an emptiness test (ranges can claim absurd lengths): saturated.
    let numel = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).unwrap_or(usize::MAX);
    let (flat, dt) = match dtype {
        None => read_inferring(data, &shape, numel)?,
        Some(dt) => {
            let mut flat = Vec::with_capacity(numel.min(1 << 20));
            if numel != 0 {
                fill(data, &shape, 0, &mut |ob| store_leaf(ob, dt), &mut flat)?;
            }
            (flat, dt)
        }
    };
    rgrad_core::with_dtype!(dt, T => {
        let v: Vec<T> = flat.iter().map(|&s| rgrad_core::tensor::scalar_as::<T>(s)).collect();
        Tensor::try_from_vec(v, &shape).py()
    })
}

/// The dtype of a single number (a Python or NumPy scalar); `None` for anything else.
fn number_dtype(ob: &Bound<'_, PyAny>) -> PyResult<Option<DType>> {
    if ob.is_exact_instance_of::<PyFloat>() {
        return Ok(Some(DType::F32));
    }
    if ob.is_exact_instance_of::<PyInt>() {
        return Ok(Some(DType::I64));
    }
    // Before the subclass checks: `numpy.float64` is a Python float but asks for float64.
    if interop::is_numpy_scalar(ob) {
        return numpy_dtype(&ob.getattr("dtype")?, ob).map(Some);
    }
    if ob.is_instance_of::<PyFloat>() {
        return Ok(Some(DType::F32));
    }
    if ob.is_instance_of::<PyBool>() {
        return Ok(Some(DType::Bool));
    }
    if ob.is_instance_of::<PyInt>() {
        return Ok(Some(DType::I64));
    }
    Ok(None)
}

/// `Tensor(*args)`: sizes (ints or a `Size`) or one piece of data.
pub fn legacy_new(args: &Bound<'_, PyTuple>) -> PyResult<Tensor> {
    let sizes = |dims: Vec<i64>| -> PyResult<Tensor> {
        let shape = crate::convert::usize_shape(&dims)?;
        let bytes = shape.iter().try_fold(4usize, |acc, &d| acc.checked_mul(d));
        if bytes.is_none_or(|b| b > isize::MAX as usize) {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "Storage size calculation overflowed with sizes={dims:?}"
            )));
        }
        Tensor::zeros(&shape, DType::F32).map_err(crate::errors::to_py)
    };
    if args.is_empty() {
        return Ok(Tensor::from_vec(Vec::<f32>::new(), &[0]));
    }
    let first = args.get_item(0)?;
    let all_ints = args
        .iter()
        .all(|a| a.is_instance_of::<pyo3::types::PyInt>() && !a.is_instance_of::<pyo3::types::PyBool>());
    if all_ints {
        return sizes(args.iter().map(|a| a.extract::<i64>()).collect::<PyResult<_>>()?);
    }
    if args.len() == 1 {
        if let Ok(pt) = first.cast::<PyTensor>() {
            return Ok(pt.borrow().t.detach());
        }
        if first.is_instance_of::<PyTuple>() && first.get_type().name()? == "Size" {
            return sizes(crate::convert::int_or_list(&first, "size")?);
        }
        if first.is_instance_of::<pyo3::types::PyString>() || first.is_instance_of::<pyo3::types::PyBytes>() {
            return tensor_from_data(&first, Some(DType::F32));
        }
        // SAFETY: `first` is a live object; PySequence_Check only reads its type slots.
        if unsafe { pyo3::ffi::PySequence_Check(first.as_ptr()) } == 0 {
            let name = first.get_type().name()?.to_string();
            return Err(PyTypeError::new_err(format!("new(): data must be a sequence (got {name})")));
        }
        return tensor_from_data(&first, Some(DType::F32));
    }
    let names: Vec<String> =
        args.iter().map(|a| a.get_type().name().map(|n| n.to_string()).unwrap_or_default()).collect();
    Err(PyTypeError::new_err(format!(
        "new() received an invalid combination of arguments - got ({})",
        names.join(", ")
    )))
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    /// The legacy constructor, as PyTorch's: `Tensor(2, 3)` and `Tensor(size)` make float32
    /// tensors of that shape, `Tensor(sequence)` converts to float32, `Tensor(tensor)` shares
    /// the tensor's data; subclasses such as `nn.Parameter` call it with existing data.
    #[new]
    #[pyo3(signature = (*args, requires_grad=false))]
    fn py_new(args: &Bound<'_, PyTuple>, requires_grad: bool) -> PyResult<Self> {
        let t = legacy_new(args)?;
        if requires_grad {
            t.set_requires_grad(true).py()?;
        }
        Ok(PyTensor::unregistered(t))
    }
}
