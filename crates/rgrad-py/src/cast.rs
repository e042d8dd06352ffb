//! Conversions as `Tensor` methods: to a dtype or device (`to`, `cpu`, `float`, `long`, ...,
//! `type`), copies (`clone`, `contiguous`), to Python values (`item`, `bool()`, `int()`,
//! `float()`, `operator.index`), and the dtype functions `promote_types` and `result_type`.

use crate::dtype::{check_device, dtype_object, extract_dtype, opt_dtype, PyDType};
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyTuple};
use rgrad_core::{DType, Scalar};

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.t.item().py()? {
            Scalar::Float(f) => f.into_pyobject(py)?.into_any(),
            Scalar::Int(i) => i.into_pyobject(py)?.into_any(),
            Scalar::Bool(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any(),
        })
    }

    fn __bool__(&self) -> PyResult<bool> {
        if self.t.numel() != 1 {
            return Err(PyRuntimeError::new_err(format!(
                "Boolean value of Tensor with {} is ambiguous",
                if self.t.numel() == 0 { "no values" } else { "more than one value" }
            )));
        }
        Ok(self.t.item().py()?.to_f64() != 0.0)
    }

    fn __float__(&self) -> PyResult<f64> {
        Ok(self.python_scalar()?.to_f64())
    }

    fn __int__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.python_scalar()? {
            // Python's own float -> int: NaN and inf raise, large values stay exact.
            Scalar::Float(f) => pyo3::types::PyFloat::new(py, f).call_method0("__int__")?,
            Scalar::Int(i) => i.into_pyobject(py)?.into_any(),
            Scalar::Bool(b) => (b as i64).into_pyobject(py)?.into_any(),
        })
    }

    fn __index__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.t.dtype().is_float() || self.t.numel() != 1 {
            return Err(PyTypeError::new_err(
                "only integer tensors of a single element can be converted to an index",
            ));
        }
        self.__int__(py)
    }

    /// `to(dtype)`, `to(device)`, `to(other)`, `to(device, dtype)`, keywords too.
    #[pyo3(signature = (*args, dtype=None, device=None, non_blocking=false, copy=false))]
    fn to(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        non_blocking: bool,
        copy: bool,
    ) -> PyResult<Py<PyTensor>> {
        let _ = non_blocking;
        let mut target = opt_dtype(dtype)?;
        let mut dev = check_device(device)?;
        for a in args.iter() {
            if let Ok(d) = a.cast::<PyDType>() {
                target = Some(d.get().dt);
            } else if let Ok(o) = a.cast::<PyTensor>() {
                target = Some(o.borrow().t.dtype());
                dev = Some(o.borrow().t.device());
            } else if a.is_none() {
            } else {
                dev = check_device(Some(&a))?.or(dev);
            }
        }
        let me = slf.borrow().t.clone();
        let dt = target.unwrap_or(me.dtype());
        let dev = dev.unwrap_or(me.device());
        if dev != me.device() {
            // Cast where the data is (a smaller copy when narrowing), then move.
            let out = run(slf.py(), usize::MAX, || me.to_dtype(dt).and_then(|t| t.to_device(dev)))?;
            return wrap(slf.py(), out);
        }
        if copy {
            let out = run(slf.py(), me.numel(), || {
                if dt == me.dtype() {
                    me.clone_tensor()
                } else {
                    me.to_dtype(dt)
                }
            })?;
            return wrap(slf.py(), out);
        }
        Self::cast_or_self(slf, dt)
    }

    #[pyo3(signature = (memory_format=None))]
    fn cpu(slf: &Bound<'_, Self>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let _ = memory_format;
        let t = slf.borrow().t.clone();
        if t.device() == rgrad_core::Device::Cpu {
            return Ok(slf.clone().unbind());
        }
        wrap(slf.py(), t.to_device(rgrad_core::Device::Cpu).py()?)
    }

    fn float(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::F32)
    }
    fn double(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::F64)
    }
    fn long(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::I64)
    }
    fn int(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::I32)
    }
    fn bool(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::Bool)
    }
    fn half(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::F16)
    }
    fn bfloat16(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::BF16)
    }
    fn byte(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::U8)
    }
    fn char(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::I8)
    }
    fn short(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::cast_or_self(slf, DType::I16)
    }
    #[pyo3(signature = (dtype=None))]
    fn r#type<'py>(&self, py: Python<'py>, dtype: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        match dtype {
            None => Ok(format!("torch.{}", self.t.dtype().legacy_name()).into_pyobject(py)?.into_any()),
            Some(d) => Ok(wrap(py, self.t.to_dtype(extract_dtype(d)?).py()?)?.into_bound(py).into_any()),
        }
    }

    fn clone(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.clone_tensor())?)
    }

    fn contiguous(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        if slf.borrow().t.is_contiguous() {
            return Ok(slf.clone().unbind());
        }
        let t = slf.borrow().t.clone();
        wrap(slf.py(), run(slf.py(), t.numel(), || t.contiguous())?)
    }
}

impl PyTensor {
    /// The value for `int()`/`float()`/`complex()`, which PyTorch allows for one element only.
    fn python_scalar(&self) -> PyResult<Scalar> {
        if self.t.numel() != 1 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "only one element tensors can be converted to Python scalars",
            ));
        }
        self.t.item().py()
    }

    /// `self` itself when the dtype already matches (as PyTorch returns the same object).
    fn cast_or_self(slf: &Bound<'_, Self>, dt: DType) -> PyResult<Py<PyTensor>> {
        let t = &slf.borrow().t;
        if t.dtype() == dt {
            return Ok(slf.clone().unbind());
        }
        wrap(slf.py(), run(slf.py(), t.numel(), || t.to_dtype(dt))?)
    }
}

/// `promote_types(type1, type2)`.
#[pyfunction]
pub fn promote_types(
    py: Python<'_>,
    type1: &Bound<'_, PyAny>,
    type2: &Bound<'_, PyAny>,
) -> PyResult<Py<PyDType>> {
    dtype_object(py, DType::promote(extract_dtype(type1)?, extract_dtype(type2)?))
}

/// `result_type(tensor1, tensor2)`: tensors or Python numbers, PyTorch's category rules.
#[pyfunction]
pub fn result_type(
    py: Python<'_>,
    tensor1: &Bound<'_, PyAny>,
    tensor2: &Bound<'_, PyAny>,
) -> PyResult<Py<PyDType>> {
    let mut r = rgrad_core::ResultType::default();
    for ob in [tensor1, tensor2] {
        r = if let Ok(t) = ob.cast::<PyTensor>() {
            let t = &t.borrow().t;
            r.tensor(t.dtype(), t.ndim())
        } else if ob.is_instance_of::<PyBool>() {
            r.scalar(rgrad_core::Scalar::Bool(ob.is_truthy()?))
        } else if ob.is_instance_of::<PyInt>() {
            r.scalar(rgrad_core::Scalar::Int(0))
        } else if ob.is_instance_of::<PyFloat>() {
            r.scalar(rgrad_core::Scalar::Float(0.0))
        } else {
            return Err(PyTypeError::new_err(format!(
                "result_type(): argument 'tensor' must be Tensor or Number, not {}",
                ob.get_type().name()?
            )));
        };
    }
    dtype_object(py, r.result())
}
