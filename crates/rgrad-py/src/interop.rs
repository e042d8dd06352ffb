//! NumPy interop: zero-copy in both directions on the CPU; the `Tensor` methods `numpy`,
//! `__array__` and `tolist`.

use crate::errors::IntoPyResult;
use crate::tensor::{wrap, PyTensor};
use numpy::npyffi::{self, NPY_ARRAY_WRITEABLE, PY_ARRAY_API};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use rgrad_core::{DType, Layout, Storage, Tensor};
use std::sync::Arc;

pub fn is_ndarray(ob: &Bound<'_, PyAny>) -> bool {
    ob.cast::<PyUntypedArray>().is_ok()
}

/// Whether `ob` is a NumPy scalar (`np.float32(1)`, `np.int64(3)`, ...).
pub fn is_numpy_scalar(ob: &Bound<'_, PyAny>) -> bool {
    static GENERIC: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    match GENERIC.import(ob.py(), "numpy", "generic") {
        Ok(g) => ob.is_instance(g).unwrap_or(false),
        Err(_) => false,
    }
}

fn dtype_of(py: Python<'_>, d: &Bound<'_, PyArrayDescr>) -> Option<DType> {
    let pairs = [
        (PyArrayDescr::of::<f32>(py), DType::F32),
        (PyArrayDescr::of::<f64>(py), DType::F64),
        (PyArrayDescr::of::<i64>(py), DType::I64),
        (PyArrayDescr::of::<i32>(py), DType::I32),
        (PyArrayDescr::of::<bool>(py), DType::Bool),
        (PyArrayDescr::of::<i16>(py), DType::I16),
        (PyArrayDescr::of::<i8>(py), DType::I8),
        (PyArrayDescr::of::<u8>(py), DType::U8),
    ];
    if let Some((_, dt)) = pairs.into_iter().find(|(nd, _)| d.is_equiv_to(nd)) {
        return Some(dt);
    }
    PyArrayDescr::new(py, "float16").ok().filter(|h| d.is_equiv_to(h)).map(|_| DType::F16)
}

/// NumPy's dtype for `dt`; bfloat16 has none (PyTorch's TypeError).
fn descr_of<'py>(py: Python<'py>, dt: DType) -> PyResult<Bound<'py, PyArrayDescr>> {
    Ok(match dt {
        DType::F32 => PyArrayDescr::of::<f32>(py),
        DType::F64 => PyArrayDescr::of::<f64>(py),
        DType::I64 => PyArrayDescr::of::<i64>(py),
        DType::I32 => PyArrayDescr::of::<i32>(py),
        DType::Bool => PyArrayDescr::of::<bool>(py),
        DType::I16 => PyArrayDescr::of::<i16>(py),
        DType::I8 => PyArrayDescr::of::<i8>(py),
        DType::U8 => PyArrayDescr::of::<u8>(py),
        DType::F16 => PyArrayDescr::new(py, "float16")?,
        DType::BF16 => return Err(PyTypeError::new_err("Got unsupported ScalarType BFloat16")),
    })
}

/// A tensor over a NumPy array's memory (no copy). With `copy_fallback`, arrays that cannot
/// be shared (negative strides, other dtypes) are converted instead of rejected.
pub fn tensor_from_numpy(ob: &Bound<'_, PyAny>, copy_fallback: bool) -> PyResult<Tensor> {
    let py = ob.py();
    let arr = ob.cast::<PyUntypedArray>()?;
    let Some(dt) = dtype_of(py, &arr.dtype()) else {
        if copy_fallback {
            let kind: String = arr.dtype().getattr("kind")?.extract()?;
            let target = match kind.as_str() {
                "f" => "float64",
                "b" => "bool",
                "i" => "int64",
                "u" => {
                    // uint64 values past int64's range have no rgrad dtype: refused, not wrapped.
                    let max = ob.call_method0("max");
                    if arr.len() > 0 && max?.gt(i64::MAX)? {
                        return Err(pyo3::exceptions::PyRuntimeError::new_err(
                            "value cannot be converted to type int64 without overflow",
                        ));
                    }
                    "int64"
                }
                // Objects, strings, dates, complex: no rgrad dtype holds them (PyTorch's text).
                _ => {
                    let name: String = arr.dtype().getattr("type")?.getattr("__name__")?.extract()?;
                    return Err(PyTypeError::new_err(format!(
                        "can't convert np.ndarray of type numpy.{name}. The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint64, uint32, uint16, uint8, and bool."
                    )));
                }
            };
            let conv = ob.call_method1("astype", (target,))?;
            return tensor_from_numpy(&conv, false);
        }
        return Err(PyTypeError::new_err(format!(
            "can't convert np.ndarray of type {}. The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool.",
            arr.dtype()
        )));
    };
    let itemsize = dt.itemsize() as isize;
    let shape: Vec<usize> = arr.shape().to_vec();
    let byte_strides: Vec<isize> = arr.strides().to_vec();
    let shareable =
        byte_strides.iter().all(|&s| s >= 0 && s % itemsize == 0) && arr.dtype().byteorder() != b'>';
    if !shareable {
        if copy_fallback {
            let c = py.import("numpy")?.call_method1("ascontiguousarray", (ob,))?;
            return tensor_from_numpy(&c, false);
        }
        return Err(pyo3::exceptions::PyValueError::new_err(
            "At least one stride in the given numpy array is negative, and tensors with negative strides are not currently supported. (You can probably work around this by making a copy of your array  with array.copy().) ",
        ));
    }
    let strides: Vec<usize> = byte_strides.iter().map(|&s| (s / itemsize) as usize).collect();
    let numel: usize = shape.iter().product();
    let span = if numel == 0 {
        0
    } else {
        1 + shape.iter().zip(&strides).map(|(&d, &s)| (d - 1) * s).sum::<usize>()
    };
    // SAFETY: the array's buffer holds `span` elements from its data pointer and stays alive
    // while the owner reference (the array itself) does.
    let storage = unsafe {
        let data = (*arr.as_array_ptr()).fields.data as *mut u8;
        Storage::from_external(data, span, dt, Box::new(ob.clone().unbind()))
    };
    let layout = Layout { shape: shape.into(), strides: strides.into(), offset: 0 };
    Tensor::from_parts(Arc::new(storage), layout).py()
}

/// A NumPy array viewing the tensor's memory; `owner` keeps the storage alive.
pub fn numpy_view<'py>(py: Python<'py>, t: &Tensor, owner: Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if t.device() != rgrad_core::Device::Cpu {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "can't convert {} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.",
            t.device()
        )));
    }
    // Tensors are built only from layouts that fit their storage; checked again here because
    // NumPy (and DLPack through it) would read and write wherever the layout points.
    if !t.layout().fits(t.storage().len()) {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "can't export a tensor of size {:?} whose layout does not fit its storage",
            t.shape()
        )));
    }
    let dt = t.dtype();
    let itemsize = dt.itemsize();
    let mut dims: Vec<npyffi::npy_intp> = t.shape().iter().map(|&d| d as npyffi::npy_intp).collect();
    let mut strides: Vec<npyffi::npy_intp> =
        t.strides().iter().map(|&s| (s * itemsize) as npyffi::npy_intp).collect();
    // SAFETY: data points into the live storage; numpy takes a reference to `owner` as base.
    unsafe {
        let data = t.storage().data_ptr().add(t.layout().offset * itemsize);
        let descr = descr_of(py, dt)?.into_dtype_ptr();
        let ptr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, npyffi::NpyTypes::PyArray_Type),
            descr,
            dims.len() as i32,
            dims.as_mut_ptr(),
            strides.as_mut_ptr(),
            data as *mut std::ffi::c_void,
            NPY_ARRAY_WRITEABLE,
            std::ptr::null_mut(),
        );
        if ptr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let arr = Bound::from_owned_ptr(py, ptr);
        if PY_ARRAY_API.PyArray_SetBaseObject(py, ptr as *mut npyffi::PyArrayObject, owner.into_ptr()) < 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(arr)
    }
}

/// `tensor.tolist()`.
pub fn to_list<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    let host = t.to_cpu().py()?;
    // bfloat16 has no NumPy dtype: its values widen exactly to float32 for the list.
    let host = if host.dtype() == DType::BF16 { host.cast_kernel(DType::F32).py()? } else { host };
    let t = &host;
    let owner = wrap(py, t.detach())?.into_any();
    let arr = numpy_view(py, t, owner)?;
    arr.call_method0("tolist")
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_list(py, &self.t)
    }

    #[pyo3(signature = (force=false))]
    fn numpy<'py>(slf: &Bound<'py, Self>, force: bool) -> PyResult<Bound<'py, PyAny>> {
        let t = slf.borrow().t.clone();
        if t.requires_grad() && !force {
            return Err(PyRuntimeError::new_err(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
            ));
        }
        // The array's base holds the storage itself, so replacing `.data` later cannot free it.
        let owner = wrap(slf.py(), t.detach())?.into_any();
        numpy_view(slf.py(), &t, owner)
    }

    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = slf.borrow().t.detach();
        let owner = wrap(slf.py(), t.clone())?.into_any();
        let arr = numpy_view(slf.py(), &t, owner)?;
        let arr = match dtype {
            Some(d) if !d.is_none() => arr.call_method1("astype", (d,))?,
            _ => arr,
        };
        if copy == Some(true) {
            return arr.call_method0("copy");
        }
        Ok(arr)
    }
}
