//! `rgrad.Tensor`: the compiled class users hold, its registration as its core tensor's one
//! Python object, and the core properties (shape, dtype, device, grad, requires_grad,
//! version, data). Every other method lives with its op family (`binary.rs`, `unary.rs`,
//! `reduce.rs`, `views.rs`, ...) as one more `#[pymethods] impl PyTensor` block; this file
//! uses only `errors` and `dtype` (see the layers in lib.rs).

use crate::dtype::{PyDType, PyDevice};
use crate::errors::IntoPyResult;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use pyo3::types::{PyTuple, PyType};
use rgrad_core::Tensor;
use std::sync::atomic::{AtomicPtr, Ordering};

#[pyclass(name = "Tensor", subclass, weakref, dict)]
pub struct PyTensor {
    /// Replace it only through [`PyTensor::replace_tensor`] (the wrapper slot follows it).
    pub t: Tensor,
    /// This object, once registered as its tensor's wrapper (null before).
    me: AtomicPtr<ffi::PyObject>,
}

/// The Python object for `t`: its existing wrapper while that is alive (PyTorch keeps one
/// Python object per tensor, so `x.grad is x.grad` and a Parameter stays a Parameter), else a
/// new one registered in the tensor's binding slot.
#[inline]
pub fn wrap(py: Python<'_>, t: Tensor) -> PyResult<Py<PyTensor>> {
    let existing = t.binding_slot().load(Ordering::Relaxed).cast::<ffi::PyObject>();
    // SAFETY: the slot holds null or a wrapper of this tensor: `PyTensor::drop` clears it before
    // the object's memory is freed, and it is only read and written with the GIL held. A wrapper
    // being deallocated (refcount 0) is not revived: it gets replaced below.
    if !existing.is_null() && unsafe { ffi::Py_REFCNT(existing) } > 0 {
        return Ok(
            unsafe { Bound::from_borrowed_ptr(py, existing).cast_into_unchecked::<PyTensor>() }.unbind()
        );
    }
    let obj = Py::new(py, PyTensor { t, me: AtomicPtr::new(std::ptr::null_mut()) })?;
    PyTensor::register(obj.bind(py));
    Ok(obj)
}

/// Bytes from the start of a PyTensor object to its Rust contents; measured once on a probe
/// object through PyO3's own accessor, so it follows PyO3's layout.
/// `None` only if the probe cannot be allocated (the caller then borrows).
fn contents_offset(py: Python<'_>) -> Option<usize> {
    static OFFSET: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let known = OFFSET.load(Ordering::Relaxed);
    if known != 0 {
        return Some(known);
    }
    let probe = Tensor::from_vec(Vec::<f32>::new(), &[0]);
    let obj = Py::new(py, PyTensor { t: probe, me: AtomicPtr::new(std::ptr::null_mut()) }).ok()?;
    let contents: *const PyTensor = &*obj.borrow(py);
    let offset = contents as usize - obj.as_ptr() as usize;
    OFFSET.store(offset, Ordering::Relaxed);
    Some(offset)
}

impl Drop for PyTensor {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl PyTensor {
    /// Makes `slf` the wrapper `wrap` returns for its tensor.
    pub(crate) fn register(slf: &Bound<'_, Self>) {
        let me = slf.as_ptr();
        // SAFETY: `slf` is a live, fully initialised PyTensor (or subclass) object, and its
        // contents sit at the same offset in every such object. Only atomics are written
        // through the shared reference. Reading it directly, rather than by `borrow()`, spares
        // every new tensor PyO3's atomic borrow flag (two locked instructions).
        let Some(offset) = contents_offset(slf.py()) else {
            let this = slf.borrow();
            this.me.store(me, Ordering::Relaxed);
            this.t.binding_slot().store(me.cast(), Ordering::Relaxed);
            return;
        };
        let this = unsafe { &*me.cast::<u8>().add(offset).cast::<PyTensor>() };
        this.me.store(me, Ordering::Relaxed);
        this.t.binding_slot().store(me.cast(), Ordering::Relaxed);
    }

    /// Clears the tensor's wrapper slot if it names this object.
    fn unregister(&self) {
        let me = self.me.load(Ordering::Relaxed);
        // A load and a store, not a compare-exchange: the slot is only touched with the GIL
        // held, and an atomic read-modify-write would cost every dying tensor ~20 cycles.
        let slot = self.t.binding_slot();
        if !me.is_null() && slot.load(Ordering::Relaxed) == me.cast() {
            slot.store(std::ptr::null_mut(), Ordering::Relaxed);
        }
    }

    /// A new object for `t`, not yet registered as its wrapper (a constructor's result: the
    /// object registers itself in `__init__`).
    pub(crate) fn unregistered(t: Tensor) -> Self {
        PyTensor { t, me: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// Whether the object is complete and registered (`__traverse__` may run before).
    pub(crate) fn is_registered(&self) -> bool {
        !self.me.load(Ordering::Relaxed).is_null()
    }

    /// Points this object at another core tensor (`.data = `, `detach_()`, in-place view ops);
    /// the object becomes that tensor's wrapper.
    pub fn replace_tensor(&mut self, t: Tensor) {
        self.unregister();
        self.t = t;
        let me = self.me.load(Ordering::Relaxed);
        if !me.is_null() {
            self.t.binding_slot().store(me.cast(), Ordering::Relaxed);
        }
    }

    /// Runs `f` on the tensor in place and returns `self` (the object, for chaining).
    pub(crate) fn inplace(
        slf: &Bound<'_, Self>,
        f: impl FnOnce(&Tensor) -> rgrad_core::Result<()>,
    ) -> PyResult<Py<PyTensor>> {
        f(&slf.borrow().t).py()?;
        Ok(slf.clone().unbind())
    }

    /// `self.op_()` for an op the core computes out of place: the result is written back
    /// with version and history checks (`Tensor::apply_inplace`).
    pub(crate) fn apply_(
        slf: &Bound<'_, Self>,
        f: impl FnOnce(&Tensor) -> rgrad_core::Result<Tensor>,
    ) -> PyResult<Py<PyTensor>> {
        slf.borrow().t.apply_inplace(&[], f).py()?;
        Ok(slf.clone().unbind())
    }
}

#[inline]
pub fn wrap_any(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    Ok(wrap(py, t)?.into_any())
}

fn size_object<'py>(py: Python<'py>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    static SIZE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let cls = SIZE.import(py, "rgrad._size", "Size")?;
    cls.call1((PyTuple::new(py, shape)?,))
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    /// Registers an object made from Python (`Tensor(...)`, `nn.Parameter(...)`) as its
    /// tensor's wrapper, so the core hands back this object (and its subclass) later.
    #[pyo3(signature = (*args, **kwargs))]
    fn __init__(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) {
        let _ = (args, kwargs);
        Self::register(slf);
    }

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        size_object(py, self.t.shape())
    }

    #[pyo3(signature = (dim=None))]
    fn size<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => size_object(py, self.t.shape()),
            Some(d) => {
                let d = rgrad_core::shape::existing_dim(d, self.t.ndim()).py()?;
                Ok(self.t.shape()[d].into_pyobject(py)?.into_any())
            }
        }
    }

    #[pyo3(signature = (dim=None))]
    fn stride<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.t.strides())?.into_any()),
            Some(d) => {
                let d = rgrad_core::shape::existing_dim(d, self.t.ndim()).py()?;
                Ok(self.t.strides()[d].into_pyobject(py)?.into_any())
            }
        }
    }

    fn storage_offset(&self) -> usize {
        self.t.layout().offset
    }

    fn dim(&self) -> usize {
        self.t.ndim()
    }

    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }

    fn numel(&self) -> usize {
        self.t.numel()
    }

    fn nelement(&self) -> usize {
        self.t.numel()
    }

    fn element_size(&self) -> usize {
        self.t.dtype().itemsize()
    }

    #[getter]
    fn dtype(&self, py: Python<'_>) -> PyResult<Py<PyDType>> {
        crate::dtype::dtype_object(py, self.t.dtype())
    }

    #[getter]
    fn device(&self) -> PyDevice {
        crate::dtype::device_object(self.t.device())
    }

    #[getter]
    fn is_cuda(&self) -> bool {
        false
    }

    fn is_floating_point(&self) -> bool {
        self.t.dtype().is_float()
    }

    fn is_contiguous(&self) -> bool {
        self.t.is_contiguous()
    }

    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.t.requires_grad()
    }

    #[setter]
    fn set_requires_grad(&self, flag: bool) -> PyResult<()> {
        self.t.set_requires_grad(flag).py()
    }

    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(slf: &Bound<'_, Self>, requires_grad: bool) -> PyResult<Py<PyTensor>> {
        Self::inplace(slf, |t| t.set_requires_grad(requires_grad))
    }

    #[getter]
    fn get_grad(&self, py: Python<'_>) -> PyResult<Option<Py<PyTensor>>> {
        self.t.grad().map(|g| wrap(py, g)).transpose()
    }

    #[setter]
    fn set_grad(&self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let g = match value {
            None => None,
            Some(v) if v.is_none() => None,
            Some(v) => match v.cast::<PyTensor>() {
                Ok(t) => Some(t.borrow().t.clone()),
                Err(_) => {
                    return Err(PyTypeError::new_err(format!(
                        "assigned grad expected to be a Tensor or None but got grad of type {}",
                        v.get_type().name()?
                    )))
                }
            },
        };
        self.t.set_grad(g).py()
    }

    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf()
    }

    fn is_inference(&self) -> bool {
        self.t.is_inference()
    }

    #[getter]
    fn _version(&self) -> u64 {
        self.t.version()
    }

    #[getter]
    fn get_data(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.data_alias())
    }

    #[setter]
    fn set_data(&mut self, value: PyRef<'_, PyTensor>) -> PyResult<()> {
        let rg = self.t.requires_grad() && self.t.is_leaf();
        let t = value.t.detach();
        if rg {
            t.set_requires_grad(true).py()?;
        }
        self.replace_tensor(t);
        Ok(())
    }

    fn __len__(&self) -> PyResult<usize> {
        if self.t.ndim() == 0 {
            return Err(PyTypeError::new_err("len() of a 0-d tensor"));
        }
        Ok(self.t.shape()[0])
    }

    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }
}
