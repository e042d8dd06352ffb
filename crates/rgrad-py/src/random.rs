//! `rgrad.Generator`: the core's `Generator` (ChaCha12, readable state) as a Python object, the
//! default generator's handle, and the `generator=` argument every sampler reads.

use crate::dtype::{check_device, device_object, extract_dtype, PyDevice};
use crate::errors::IntoPyResult;
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyInt;
use rgrad_core::ops::distributions::{sample, Dist};
use rgrad_core::random::{default_generator, Generator, STATE_LEN};
use rgrad_core::{DType, Device, Tensor};

/// `rgrad.Generator(device='cpu')`: an independent stream, seeded with PyTorch's default seed.
#[pyclass(name = "Generator", module = "rgrad", frozen, weakref)]
pub struct PyGenerator {
    pub g: Generator,
    device: Device,
}

/// What `__reduce__` gives pickle: the class, its arguments, the state.
type Reduced = (Py<PyAny>, (Py<PyAny>,), Py<PyTensor>);

/// A seed as PyTorch reads one: any int in [-2^63, 2^64), negatives taken modulo 2^64.
fn seed_arg(seed: &Bound<'_, PyAny>) -> PyResult<u64> {
    if !seed.is_instance_of::<PyInt>() {
        return Err(PyRuntimeError::new_err(format!(
            "manual_seed expected a long, but got {}",
            seed.get_type().name()?
        )));
    }
    let v: i128 = seed.extract().map_err(|_| PyValueError::new_err("Overflow when unpacking long long"))?;
    if v < i128::from(i64::MIN) || v > i128::from(u64::MAX) {
        return Err(PyValueError::new_err("Overflow when unpacking long long"));
    }
    Ok(v as u64)
}

/// The bytes of a state tensor (uint8, one dimension, on any device).
fn state_bytes(state: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let Ok(t) = state.cast::<PyTensor>() else {
        return Err(PyTypeError::new_err(format!(
            "expected a torch.ByteTensor, but got {}",
            state.get_type().name()?
        )));
    };
    let t = t.borrow().t.clone();
    if t.dtype() != DType::U8 {
        return Err(PyTypeError::new_err("RNG state must be a torch.ByteTensor"));
    }
    t.detach().to_cpu().py()?.contiguous().py()?.try_to_vec::<u8>().py()
}

fn set_state_of(g: &Generator, state: &Bound<'_, PyAny>) -> PyResult<()> {
    let bytes = state_bytes(state)?;
    if bytes.len() != STATE_LEN {
        return Err(PyRuntimeError::new_err(format!(
            "Expected a CPUGeneratorImplState of size {STATE_LEN} but found the input RNG state size to be {}",
            bytes.len()
        )));
    }
    g.set_state(&bytes).py()
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device=None))]
    fn new(device: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let device = check_device(device)?.unwrap_or(Device::Cpu);
        Ok(PyGenerator { g: Generator::default(), device })
    }

    #[getter]
    fn device(&self) -> PyDevice {
        device_object(self.device)
    }

    /// Restarts the stream from `seed`; returns the generator.
    fn manual_seed<'py>(slf: &Bound<'py, Self>, seed: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        slf.get().g.manual_seed(seed_arg(seed)?);
        Ok(slf.clone())
    }

    /// Seeds from the OS's entropy; returns the seed.
    fn seed(&self) -> u64 {
        self.g.seed()
    }

    fn initial_seed(&self) -> u64 {
        self.g.initial_seed()
    }

    /// The whole state as a uint8 tensor.
    fn get_state(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        let bytes = self.g.get_state();
        let n = bytes.len();
        wrap(py, Tensor::from_vec(bytes, &[n]))
    }

    /// Restores a state from `get_state`; returns the generator.
    fn set_state<'py>(slf: &Bound<'py, Self>, new_state: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        set_state_of(&slf.get().g, new_state)?;
        Ok(slf.clone())
    }

    /// `copy.deepcopy` / pickling: a new generator in the same state.
    fn __reduce__(slf: &Bound<'_, Self>) -> PyResult<Reduced> {
        let py = slf.py();
        let cls = slf.get_type().into_any().unbind();
        let dev = Bound::new(py, device_object(slf.get().device))?.into_any().unbind();
        Ok((cls, (dev,), slf.get().get_state(py)?))
    }

    fn __setstate__(&self, state: &Bound<'_, PyAny>) -> PyResult<()> {
        set_state_of(&self.g, state)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!("<rgrad.Generator object at {:#x}>", slf.as_ptr() as usize)
    }
}

/// `rgrad.default_generator`: a handle on the core's default generator.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _default_generator() -> PyGenerator {
    PyGenerator { g: default_generator().clone(), device: Device::Cpu }
}

/// Reads a `generator=` argument: `None` for the default generator.
pub fn generator_arg(ob: Option<&Bound<'_, PyAny>>, func: &str) -> PyResult<Option<Generator>> {
    match ob {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => match o.cast::<PyGenerator>() {
            Ok(g) => Ok(Some(g.get().g.clone())),
            Err(_) => Err(PyTypeError::new_err(format!(
                "{func}(): argument 'generator' must be torch.Generator, not {}",
                o.get_type().name()?
            ))),
        },
    }
}

/// `_sample_distribution(kind, size, dtype, a, b=0.0, generator=None)`: the draws of an
/// in-place sampler on the CPU (`rgrad_core::ops::distributions`), parameters checked by the
/// caller: exponential (lambd), geometric (p), log_normal (mean, std), cauchy (median, sigma),
/// bernoulli (p).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (kind, size, dtype, a, b=0.0, generator=None))]
#[allow(clippy::too_many_arguments)]
pub fn _sample_distribution(
    py: Python<'_>,
    kind: &str,
    size: Vec<usize>,
    dtype: &Bound<'_, PyAny>,
    a: f64,
    b: f64,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let dist = match kind {
        "exponential" => Dist::Exponential { lambd: a },
        "geometric" => Dist::Geometric { p: a },
        "log_normal" => Dist::LogNormal { mean: a, std: b },
        "cauchy" => Dist::Cauchy { median: a, sigma: b },
        "bernoulli" => Dist::Bernoulli { p: a },
        _ => return Err(PyValueError::new_err(format!("unknown distribution '{kind}'"))),
    };
    let gen = generator_arg(generator, kind)?;
    let dt = extract_dtype(dtype)?;
    wrap(py, sample(gen.as_ref(), dist, &size, dt).py()?)
}
