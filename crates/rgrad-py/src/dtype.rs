//! `rgrad.dtype` and `rgrad.device` objects.

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyType};
use rgrad_core::DType;
use rgrad_core::Device;

#[pyclass(name = "dtype", module = "rgrad", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDType {
    pub dt: DType,
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("rgrad.{}", self.dt.name())
    }

    #[getter]
    fn is_floating_point(&self) -> bool {
        self.dt.is_float()
    }

    #[getter]
    fn is_signed(&self) -> bool {
        !matches!(self.dt, DType::Bool | DType::U8)
    }

    #[getter]
    fn itemsize(&self) -> usize {
        self.dt.itemsize()
    }

    fn __reduce__(&self) -> (String, ()) {
        (self.dt.name().to_string(), ())
    }
}

/// The one `rgrad.<dtype>` object per dtype, so `t.dtype is rgrad.float32` holds.
pub fn dtype_object(py: Python<'_>, dt: DType) -> PyResult<Py<PyDType>> {
    static OBJECTS: pyo3::sync::PyOnceLock<Vec<Py<PyDType>>> = pyo3::sync::PyOnceLock::new();
    let objs = OBJECTS.get_or_try_init(py, || {
        DType::ALL.iter().map(|&dt| Py::new(py, PyDType { dt })).collect::<PyResult<Vec<_>>>()
    })?;
    let i = DType::ALL.iter().position(|&d| d == dt).unwrap_or(0);
    Ok(objs[i].clone_ref(py))
}

/// Reads a `dtype=` argument: an rgrad dtype, or the Python types float/int/bool.
pub fn extract_dtype(ob: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = ob.cast::<PyDType>() {
        return Ok(d.get().dt);
    }
    if let Ok(t) = ob.cast::<PyType>() {
        if t.is(ob.py().get_type::<PyFloat>()) {
            return Ok(DType::F64);
        }
        if t.is(ob.py().get_type::<PyBool>()) {
            return Ok(DType::Bool);
        }
        if t.is(ob.py().get_type::<PyInt>()) {
            return Ok(DType::I64);
        }
    }
    Err(PyTypeError::new_err(format!("dtype must be rgrad.dtype, not {}", ob.get_type().name()?)))
}

/// `_set_autocast_cpu(dtype)`: this thread's CPU autocast dtype (None turns it off); returns
/// the previous one. `rgrad.autocast` calls it on enter and exit.
#[pyfunction]
#[pyo3(signature = (dtype=None))]
pub fn _set_autocast_cpu(py: Python<'_>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Py<PyDType>>> {
    let dt = opt_dtype(dtype)?;
    if let Some(d) = dt {
        if !d.is_reduced_float() {
            return Err(PyRuntimeError::new_err(format!(
                "In CPU autocast, but the target dtype is not supported. Disabling autocast.\nCPU Autocast only supports dtype of torch.bfloat16, torch.float16 currently. (got rgrad.{d})"
            )));
        }
    }
    rgrad_core::autocast::set_cpu_dtype(dt).map(|d| dtype_object(py, d)).transpose()
}

pub fn opt_dtype(ob: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match ob {
        Some(o) if !o.is_none() => Ok(Some(extract_dtype(o)?)),
        _ => Ok(None),
    }
}

#[pyclass(name = "device", module = "rgrad", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDevice {
    #[pyo3(get, name = "type")]
    pub kind: String,
    #[pyo3(get)]
    pub index: Option<i64>,
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (kind, index=None))]
    fn new(kind: &Bound<'_, PyAny>, index: Option<i64>) -> PyResult<Self> {
        if let Ok(d) = kind.cast::<PyDevice>() {
            return Ok(d.get().clone());
        }
        let s: String = kind.extract()?;
        parse_device(&s, index)
    }

    fn __repr__(&self) -> String {
        match self.index {
            Some(i) => format!("device(type='{}', index={})", self.kind, i),
            None => format!("device(type='{}')", self.kind),
        }
    }

    fn __str__(&self) -> String {
        match self.index {
            Some(i) => format!("{}:{}", self.kind, i),
            None => self.kind.clone(),
        }
    }
}

pub fn parse_device(s: &str, index: Option<i64>) -> PyResult<PyDevice> {
    let (kind, idx) = match s.split_once(':') {
        Some((k, i)) => (
            k,
            Some(
                i.parse::<i64>()
                    .map_err(|_| PyRuntimeError::new_err(format!("Invalid device string: '{s}'")))?,
            ),
        ),
        None => (s, index),
    };
    match kind {
        "cpu" | "cuda" | "wgpu" | "mps" | "meta" => Ok(PyDevice { kind: kind.to_string(), index: idx }),
        _ => Err(PyRuntimeError::new_err(format!(
            "Expected one of cpu, cuda, wgpu, mps, meta device type at start of device string: {s}"
        ))),
    }
}

/// The Python object for a core device: `device(type='cpu')`, `device(type='wgpu', index=0)`.
pub fn device_object(d: Device) -> PyDevice {
    match d {
        Device::Cpu => PyDevice { kind: "cpu".into(), index: None },
        Device::Wgpu => PyDevice { kind: "wgpu".into(), index: Some(0) },
    }
}

/// Reads a `device=` argument (a device object or a string): the core device it names, or
/// `None` when not given. Devices this build cannot use raise as PyTorch does.
pub fn check_device(ob: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Device>> {
    let Some(ob) = ob.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let dev = if let Ok(d) = ob.cast::<PyDevice>() {
        d.get().clone()
    } else if let Ok(s) = ob.cast::<PyString>() {
        parse_device(&s.to_string(), None)?
    } else {
        return Err(PyTypeError::new_err("device must be a rgrad.device or a string"));
    };
    match dev.kind.as_str() {
        "cpu" => Ok(Some(Device::Cpu)),
        "wgpu" => {
            if let Some(i) = dev.index.filter(|&i| i != 0) {
                return Err(PyRuntimeError::new_err(format!(
                    "wgpu device index {i} is out of range: rgrad uses one wgpu adapter, wgpu:0"
                )));
            }
            if let Err(e) = rgrad_core::gpu::adapter_name() {
                return Err(PyRuntimeError::new_err(e.to_string()));
            }
            Ok(Some(Device::Wgpu))
        }
        "cuda" => Err(pyo3::exceptions::PyAssertionError::new_err("Torch not compiled with CUDA enabled")),
        other => Err(PyRuntimeError::new_err(format!(
            "the '{other}' device is not available in this build of rgrad"
        ))),
    }
}
