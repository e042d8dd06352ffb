//! `rgrad.Generator`: the core's `Generator` (ChaCha12, readable state) as a Python object, the
//! default generator's handle, and the `generator=` argument every sampler reads.

use crate::convert::shape_arg;
use crate::convert::{require_operand, Arg};
use crate::dtype::{check_device, device_object, opt_dtype, PyDevice};
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyOverflowError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyTuple};
use rgrad_core::ops::distributions::Dist;
use rgrad_core::ops::sampling;
use rgrad_core::random::{default_generator, Generator, STATE_LEN};
use rgrad_core::{DType, Device, Operand, Tensor};

/// `rgrad.Generator(device='cpu')`: an independent stream, seeded with PyTorch's default seed.
///
/// Devices: every generator is a host-side ChaCha12 stream, and every sampler draws on the
/// host, so one seed gives the same numbers for CPU and wgpu tensors. `device` ('cpu' or
/// 'wgpu', which needs an adapter) is a label the generator keeps (`.device`, pickling); it
/// does not restrict use: a generator of either device drives samplers on either device and
/// draws the same numbers there. (PyTorch refuses a generator of another device type, e.g.
/// "Expected a 'cuda' device type for generator but found 'cpu'", because its CUDA streams
/// are a different algorithm; here they are one.)
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

fn arg_operand(a: &Arg) -> Operand<'_> {
    match a {
        Arg::T(t) => Operand::T(t),
        Arg::S(v) => Operand::S(*v),
    }
}

// ---- the samplers: one core op each (rgrad_core::ops::sampling), drawing from `generator=` ----

/// `rgrad.bernoulli(input, p=None, *, generator=None)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, p=None, *, generator=None))]
pub fn _bernoulli(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    p: Option<f64>,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let gen = generator_arg(generator, if p.is_some() { "bernoulli" } else { "rand" })?;
    let t = input.t.clone();
    wrap(py, run(py, t.numel(), || sampling::bernoulli(gen.as_ref(), &t, p))?)
}

/// `rgrad.normal(mean, std, size=None, *, generator, dtype, device, requires_grad)`: numbers
/// or tensors for `mean` and `std` (numbers need `size`).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (mean, std, size=None, *, generator=None, dtype=None, device=None, requires_grad=false))]
#[allow(clippy::too_many_arguments)]
pub fn _normal(
    py: Python<'_>,
    mean: &Bound<'_, PyAny>,
    std: &Bound<'_, PyAny>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let gen = generator_arg(generator, "randn")?;
    let (m, s) = (require_operand(mean, "normal")?, require_operand(std, "normal")?);
    if let (Arg::S(m), Arg::S(s)) = (&m, &s) {
        let shape = match size {
            Some(sz) if !sz.is_none() => Some(shape_arg(&PyTuple::new(py, [sz])?, None)?),
            _ => None,
        };
        let dt = opt_dtype(dtype)?.unwrap_or(DType::F32);
        let dev = check_device(device)?.unwrap_or(Device::Cpu);
        let work = shape.as_ref().map_or(0, |s| s.iter().product());
        let Some(t) =
            run(py, work, || sampling::normal_numbers(gen.as_ref(), *m, *s, shape.as_deref(), dt, dev))?
        else {
            return Err(PyTypeError::new_err("normal() missing 1 required positional argument: 'size'"));
        };
        if requires_grad {
            t.set_requires_grad(true).py()?;
        }
        return wrap(py, t);
    }
    let work = [&m, &s].iter().map(|a| if let Arg::T(t) = a { t.numel() } else { 1 }).max().unwrap_or(1);
    let out = run(py, work, || sampling::normal_tensors(gen.as_ref(), arg_operand(&m), arg_operand(&s)))?;
    wrap(py, out)
}

/// Runs an in-place sampler on `slf` (the GIL released for big tensors) and returns `slf`.
fn in_place(
    slf: &Bound<'_, PyTensor>,
    f: impl FnOnce(&Tensor) -> rgrad_core::Result<()> + Send,
) -> PyResult<Py<PyTensor>> {
    let t = slf.borrow().t.clone();
    run(slf.py(), t.numel(), || f(&t))?;
    Ok(slf.clone().unbind())
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    /// `bernoulli(p=None, *, generator=None)`: see `rgrad.bernoulli`.
    #[pyo3(signature = (p=None, *, generator=None))]
    fn bernoulli(
        slf: PyRef<'_, Self>,
        p: Option<f64>,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        _bernoulli(slf.py(), slf, p, generator)
    }

    /// `bernoulli_(p=0.5)`: a number, or a tensor of probabilities broadcast to `self`.
    #[pyo3(signature = (p=None, *, generator=None))]
    fn bernoulli_(
        slf: &Bound<'_, Self>,
        p: Option<&Bound<'_, PyAny>>,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        if let Some(pt) = p.and_then(|p| p.cast::<PyTensor>().ok()) {
            let gen = generator_arg(generator, "rand")?;
            let pt = pt.borrow().t.clone();
            return in_place(slf, |t| sampling::bernoulli_tensor_(gen.as_ref(), t, &pt));
        }
        let p = match p {
            Some(p) if !p.is_none() => p.extract::<f64>()?,
            _ => 0.5,
        };
        let gen = generator_arg(generator, "bernoulli")?;
        in_place(slf, |t| sampling::sample_(gen.as_ref(), t, Dist::Bernoulli { p }))
    }

    #[pyo3(signature = (lambd=1.0, *, generator=None))]
    fn exponential_(
        slf: &Bound<'_, Self>,
        lambd: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let gen = generator_arg(generator, "exponential")?;
        in_place(slf, |t| sampling::sample_(gen.as_ref(), t, Dist::Exponential { lambd }))
    }

    #[pyo3(signature = (p, *, generator=None))]
    fn geometric_(
        slf: &Bound<'_, Self>,
        p: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let gen = generator_arg(generator, "geometric")?;
        in_place(slf, |t| sampling::sample_(gen.as_ref(), t, Dist::Geometric { p }))
    }

    #[pyo3(signature = (mean=1.0, std=2.0, *, generator=None))]
    fn log_normal_(
        slf: &Bound<'_, Self>,
        mean: f64,
        std: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let gen = generator_arg(generator, "log_normal")?;
        in_place(slf, |t| sampling::sample_(gen.as_ref(), t, Dist::LogNormal { mean, std }))
    }

    #[pyo3(signature = (median=0.0, sigma=1.0, *, generator=None))]
    fn cauchy_(
        slf: &Bound<'_, Self>,
        median: f64,
        sigma: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let gen = generator_arg(generator, "cauchy")?;
        in_place(slf, |t| sampling::sample_(gen.as_ref(), t, Dist::Cauchy { median, sigma }))
    }

    /// `random_` with its arguments resolved (`Tensor.random_` in Python sorts out the
    /// `random_(to)` form): integers on [from, to), `to` None for the dtype's range.
    #[pyo3(signature = (from_, to, *, generator=None))]
    fn _random_(
        slf: &Bound<'_, Self>,
        from_: i128,
        to: Option<i128>,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let (lo, hi) = sampling::random_range(slf.borrow().t.dtype(), from_, to).py()?;
        // The bounds a 64-bit draw can take (Python's message for an int that does not fit).
        let long = |v: i128| {
            i64::try_from(v)
                .map_err(|_| PyOverflowError::new_err("Python int too large to convert to C long"))
        };
        let (lo, hi) = (long(lo)?, long(hi)?);
        let gen = generator_arg(generator, "randint")?;
        in_place(slf, |t| sampling::random_(gen.as_ref(), t, lo, hi))
    }

    #[pyo3(signature = (from_=0.0, to=1.0, *, generator=None))]
    fn uniform_(
        slf: &Bound<'_, Self>,
        from_: f64,
        to: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let gen = generator_arg(generator, "uniform_")?;
        in_place(slf, |t| sampling::uniform_(gen.as_ref(), t, from_, to))
    }

    #[pyo3(signature = (mean=0.0, std=1.0, *, generator=None))]
    fn normal_(
        slf: &Bound<'_, Self>,
        mean: f64,
        std: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let gen = generator_arg(generator, "normal_")?;
        in_place(slf, |t| sampling::normal_(gen.as_ref(), t, mean, std))
    }
}
