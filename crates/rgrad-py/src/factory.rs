//! Module-level creation functions: `tensor`, `zeros`, `arange`, `rand`, ...

use crate::convert::{default_dtype, int_list, scalar, shape_arg};
use crate::dtype::{check_device, opt_dtype};
use crate::errors::IntoPyResult;
use crate::from_data::tensor_from_data;
use crate::interop;
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rgrad_core::ops::factory;
use rgrad_core::{DType, Device, Scalar, Tensor};

/// Moves a freshly made CPU tensor to the requested device (random values are drawn on the CPU,
/// so a seed gives the same numbers on every device) and sets `requires_grad`.
pub fn finish(
    py: Python<'_>,
    t: Tensor,
    device: Option<Device>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let t = t.to_device_kernel(device.unwrap_or(Device::Cpu)).py()?;
    if requires_grad {
        t.set_requires_grad(true).py()?;
    }
    wrap(py, t)
}

/// A constant tensor made where it is asked for: on the device it is filled there, so
/// `zeros(n, device="wgpu")` neither allocates `n` elements on the host nor uploads them.
fn filled_on(
    py: Python<'_>,
    shape: &[usize],
    value: Scalar,
    dtype: DType,
    device: Option<Device>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    match device {
        Some(Device::Wgpu) => {
            finish(py, Tensor::full_on(shape, value, dtype, Device::Wgpu).py()?, device, requires_grad)
        }
        _ => finish(py, Tensor::full(shape, value, dtype).py()?, device, requires_grad),
    }
}

/// `rgrad.tensor(data, dtype=None, device=None, requires_grad=False)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (data, *, dtype=None, device=None, requires_grad=false, pin_memory=false))]
pub fn tensor(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<Py<PyTensor>> {
    let _ = pin_memory;
    let dev = check_device(device)?;
    let t = tensor_from_data(data, opt_dtype(dtype)?)?;
    finish(py, t, dev, requires_grad)
}

macro_rules! filled {
    ($name:ident, $value:expr) => {
        #[rgrad_py_macros::boundary]
        #[pyfunction]
        #[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
        #[allow(clippy::too_many_arguments)]
        pub fn $name(
            py: Python<'_>,
            size: &Bound<'_, PyTuple>,
            out: Option<&Bound<'_, PyAny>>,
            dtype: Option<&Bound<'_, PyAny>>,
            layout: Option<&Bound<'_, PyAny>>,
            device: Option<&Bound<'_, PyAny>>,
            requires_grad: bool,
            pin_memory: bool,
        ) -> PyResult<Py<PyTensor>> {
            let _ = (out, layout, pin_memory);
            let dev = check_device(device)?;
            let shape = shape_arg(size, None)?;
            let dt = opt_dtype(dtype)?.unwrap_or(DType::F32);
            let v: Scalar = $value;
            filled_on(py, &shape, v, dt, dev, requires_grad)
        }
    };
}
filled!(zeros, Scalar::Int(0));
filled!(ones, Scalar::Int(1));
filled!(empty, Scalar::Int(0));

/// `rgrad.full(size, fill_value)`: the dtype follows the fill value, as in PyTorch.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (size, fill_value, *, dtype=None, device=None, requires_grad=false))]
pub fn full(
    py: Python<'_>,
    size: &Bound<'_, PyAny>,
    fill_value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let dev = check_device(device)?;
    let shape = shape_arg(&PyTuple::new(py, [size])?, None)?;
    let v = scalar(fill_value)?.ok_or_else(|| PyTypeError::new_err("full(): fill_value must be a number"))?;
    let dt = opt_dtype(dtype)?.unwrap_or(default_dtype(v));
    filled_on(py, &shape, v, dt, dev, requires_grad)
}

fn number(ob: &Bound<'_, PyAny>) -> PyResult<Scalar> {
    scalar(ob)?.ok_or_else(|| PyTypeError::new_err("arange(): expected a number"))
}

/// `rgrad.arange(end)` / `arange(start, end, step=1)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (start, end=None, step=None, *, dtype=None, device=None, requires_grad=false))]
pub fn arange(
    py: Python<'_>,
    start: &Bound<'_, PyAny>,
    end: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let dev = check_device(device)?;
    let (s, e) = match end {
        Some(e) if !e.is_none() => (number(start)?, number(e)?),
        _ => (Scalar::Int(0), number(start)?),
    };
    let st = match step {
        Some(x) => number(x)?,
        None => Scalar::Int(1),
    };
    let t = factory::arange(s, e, st, opt_dtype(dtype)?).py()?;
    finish(py, t, dev, requires_grad)
}

#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (start, end, steps, *, dtype=None, device=None, requires_grad=false))]
pub fn linspace(
    py: Python<'_>,
    start: f64,
    end: f64,
    steps: i64,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let dev = check_device(device)?;
    let t = factory::linspace(start, end, steps, opt_dtype(dtype)?.unwrap_or(DType::F32)).py()?;
    finish(py, t, dev, requires_grad)
}

macro_rules! random {
    ($name:ident, $f:path) => {
        #[rgrad_py_macros::boundary]
        #[pyfunction]
        #[pyo3(signature = (*size, generator=None, dtype=None, device=None, requires_grad=false))]
        pub fn $name(
            py: Python<'_>,
            size: &Bound<'_, PyTuple>,
            generator: Option<&Bound<'_, PyAny>>,
            dtype: Option<&Bound<'_, PyAny>>,
            device: Option<&Bound<'_, PyAny>>,
            requires_grad: bool,
        ) -> PyResult<Py<PyTensor>> {
            let gen = crate::random::generator_arg(generator, stringify!($name))?;
            let dev = check_device(device)?;
            let shape = shape_arg(size, None)?;
            let dt = opt_dtype(dtype)?.unwrap_or(DType::F32);
            let t = $f(gen.as_ref(), &shape, dt, dev.unwrap_or(Device::Cpu)).py()?;
            finish(py, t, dev, requires_grad)
        }
    };
}
random!(rand, factory::rand_uniform_on);
random!(randn, factory::randn_on);

#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn manual_seed(seed: i64) {
    factory::manual_seed(seed as u64);
}

/// `rgrad.from_numpy(array)`: shares the array's memory.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn from_numpy(py: Python<'_>, array: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    if !interop::is_ndarray(array) {
        return Err(PyTypeError::new_err(format!("expected np.ndarray (got {})", array.get_type().name()?)));
    }
    wrap(py, interop::tensor_from_numpy(array, false)?)
}

// ---- eye and the `new_*` constructors -------------------------------------------------------

/// `rgrad.eye(n, m=None)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (n, m=None, *, dtype=None, device=None, requires_grad=false))]
pub fn eye(
    py: Python<'_>,
    n: usize,
    m: Option<usize>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let dev = crate::dtype::check_device(device)?;
    let m = m.unwrap_or(n);
    let dt = opt_dtype(dtype)?.unwrap_or(DType::F32);
    let t = Tensor::zeros(&[n, m], dt).py()?;
    // The diagonal, written in place into the fresh (unshared) buffer.
    let diag: Vec<i64> = (0..n.min(m) as i64).map(|i| i * (m as i64 + 1)).collect();
    let k = diag.len();
    let ones = Tensor::ones(&[k], dt).py()?;
    let t = t.reshape(&[-1]).py()?.index_put(&[Some(Tensor::from_vec(diag, &[k]))], &ones, false).py()?;
    let t = t.reshape(&[n as i64, m as i64]).py()?;
    finish(py, t, dev, requires_grad)
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[pyo3(signature = (*size, dtype=None, device=None, requires_grad=false))]
    fn new_zeros(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        self.new_full_impl(py, size, Scalar::Int(0), dtype, device, requires_grad)
    }

    #[pyo3(signature = (*size, dtype=None, device=None, requires_grad=false))]
    fn new_ones(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        self.new_full_impl(py, size, Scalar::Int(1), dtype, device, requires_grad)
    }

    #[pyo3(signature = (*size, dtype=None, device=None, requires_grad=false))]
    fn new_empty(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        self.new_full_impl(py, size, Scalar::Int(0), dtype, device, requires_grad)
    }

    #[pyo3(signature = (size, fill_value, *, dtype=None, device=None, requires_grad=false))]
    fn new_full(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyAny>,
        fill_value: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        let v = crate::convert::number(fill_value, "new_full")?;
        self.new_full_impl(py, &PyTuple::new(py, [size])?, v, dtype, device, requires_grad)
    }

    #[pyo3(signature = (data, *, dtype=None, device=None, requires_grad=false))]
    fn new_tensor(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        let dev = crate::dtype::check_device(device)?.or(Some(self.t.device()));
        let dt = opt_dtype(dtype)?.unwrap_or(self.t.dtype());
        let t = tensor_from_data(data, Some(dt))?;
        finish(py, t, dev, requires_grad)
    }
}

impl PyTensor {
    fn new_full_impl(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyTuple>,
        v: Scalar,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        let dev = crate::dtype::check_device(device)?.unwrap_or(self.t.device());
        let shape = crate::convert::usize_shape(&int_list(size, "size")?)?;
        let t = Tensor::full_on(&shape, v, opt_dtype(dtype)?.unwrap_or(self.t.dtype()), dev).py()?;
        finish(py, t, Some(dev), requires_grad)
    }
}
