//! `rgrad.Tensor`: the compiled class users hold. Methods parse arguments, call the core and
//! wrap the result; nothing else happens per op.

use crate::backward::BACKWARD_GRAPH_WALK;
use crate::convert::{int_list, int_or_list, operand, require_operand, tensor_arg, Arg};
use crate::dtype::{check_device, extract_dtype, opt_dtype, PyDType, PyDevice};
use crate::errors::{run, IntoPyResult};
use crate::graph::node_object;
use crate::index;
use crate::interop;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use pyo3::types::{PyTuple, PyType};
use rgrad_core::ops::binary::{binary, BinaryOp};
use rgrad_core::ops::unary::UnaryOp;
use rgrad_core::{DType, Operand, Scalar, Tensor};
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
    fn register(slf: &Bound<'_, Self>) {
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
}

#[inline]
fn wrap_any(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    Ok(wrap(py, t)?.into_any())
}

/// `a op b` for a Python operator; NotImplemented for unsupported operand types.
#[inline]
fn bin(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    op: BinaryOp,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    let Some(arg) = operand(other)? else {
        return Ok(py.NotImplemented());
    };
    let (x, y) = match &arg {
        Arg::T(b) => (Operand::T(a), Operand::T(b)),
        Arg::S(s) => (Operand::T(a), Operand::S(*s)),
    };
    let work = match &arg {
        Arg::T(b) => a.numel().max(b.numel()),
        Arg::S(_) => a.numel(),
    };
    let r = run(py, work, || if reflected { binary(op, y, x) } else { binary(op, x, y) })?;
    wrap_any(py, r)
}

fn arg_binary(a: &Tensor, other: &Bound<'_, PyAny>, op: BinaryOp, what: &str) -> PyResult<Tensor> {
    let py = other.py();
    match require_operand(other, what)? {
        Arg::T(b) => run(py, a.numel().max(b.numel()), || binary(op, Operand::T(a), Operand::T(&b))),
        Arg::S(s) => run(py, a.numel(), || binary(op, Operand::T(a), Operand::S(s))),
    }
}

/// Multiply-adds of `a @ b`, for deciding whether to release the GIL.
pub fn matmul_work(a: &Tensor, b: &Tensor) -> usize {
    a.numel().saturating_mul(b.shape().last().copied().unwrap_or(1))
}

/// `dim=` arguments: None, an int, or a sequence of ints.
fn dims_arg(dim: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match dim {
        Some(d) if !d.is_none() => Ok(Some(int_or_list(d, "dim")?)),
        _ => Ok(None),
    }
}

fn size_object<'py>(py: Python<'py>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    static SIZE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let cls = SIZE.import(py, "rgrad._size", "Size")?;
    cls.call1((PyTuple::new(py, shape)?,))
}

impl PyTensor {
    fn inplace(
        slf: &Bound<'_, Self>,
        f: impl FnOnce(&Tensor) -> rgrad_core::Result<()>,
    ) -> PyResult<Py<PyTensor>> {
        f(&slf.borrow().t).py()?;
        Ok(slf.clone().unbind())
    }

    /// The value for `int()`/`float()`/`complex()`, which PyTorch allows for one element only.
    fn python_scalar(&self) -> PyResult<Scalar> {
        if self.t.numel() != 1 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "only one element tensors can be converted to Python scalars",
            ));
        }
        self.t.item().py()
    }
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
        let t = crate::from_data::legacy_new(args)?;
        if requires_grad {
            t.set_requires_grad(true).py()?;
        }
        Ok(PyTensor { t, me: AtomicPtr::new(std::ptr::null_mut()) })
    }

    /// Registers an object made from Python (`Tensor(...)`, `nn.Parameter(...)`) as its
    /// tensor's wrapper, so the core hands back this object (and its subclass) later.
    #[pyo3(signature = (*args, **kwargs))]
    fn __init__(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) {
        let _ = (args, kwargs);
        Self::register(slf);
    }

    /// Reports the Python objects (hooks, a custom Function's backward and ctx) that only this
    /// wrapper keeps alive through the core, so reference cycles through them are collected.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // A collection can start while an object is being allocated (creating its `__dict__`),
        // before its Rust fields are written (the memory is zeroed). `me` is set only once the
        // object is complete, so an unset `me` means: nothing to report yet.
        if self.me.load(Ordering::Relaxed).is_null() {
            return Ok(());
        }
        crate::graph::visit_python_objects(&self.t, |obj| visit.call(obj))
    }

    /// Breaks a garbage cycle: drops the core tensor (and with it the hooks and graph node that
    /// hold Python objects), as PyTorch's `THPVariable_clear` resets its tensor.
    fn __clear__(&mut self) {
        self.replace_tensor(Tensor::from_vec(Vec::<f32>::new(), &[0]));
    }

    // ---- properties ----------------------------------------------------------------------

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
    fn grad_fn(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        // A view whose base changed in place shows its regenerated history, as in PyTorch.
        self.t.refresh_view_history();
        match self.t.grad_fn() {
            Some(n) => node_object(py, crate::graph::RawNode::Node(n)),
            None => Ok(py.None()),
        }
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

    #[getter(T)]
    fn t_prop(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.reverse_dims().py()?)
    }

    #[getter(mT)]
    fn m_t(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.transpose(-2, -1).py()?)
    }

    // ---- conversion ----------------------------------------------------------------------

    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.t.item().py()? {
            Scalar::Float(f) => f.into_pyobject(py)?.into_any(),
            Scalar::Int(i) => i.into_pyobject(py)?.into_any(),
            Scalar::Bool(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any(),
        })
    }

    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        interop::to_list(py, &self.t)
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
        interop::numpy_view(slf.py(), &t, owner)
    }

    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = slf.borrow().t.detach();
        let owner = wrap(slf.py(), t.clone())?.into_any();
        let arr = interop::numpy_view(slf.py(), &t, owner)?;
        let arr = match dtype {
            Some(d) if !d.is_none() => arr.call_method1("astype", (d,))?,
            _ => arr,
        };
        if copy == Some(true) {
            return arr.call_method0("copy");
        }
        Ok(arr)
    }

    fn __len__(&self) -> PyResult<usize> {
        if self.t.ndim() == 0 {
            return Err(PyTypeError::new_err("len() of a 0-d tensor"));
        }
        Ok(self.t.shape()[0])
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

    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
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

    fn detach(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.detach())
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

    // ---- autograd ------------------------------------------------------------------------

    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        slf: &Bound<'_, Self>,
        gradient: Option<&Bound<'_, PyAny>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if let Some(inputs) = inputs.filter(|i| !i.is_none()) {
            return crate::backward::_backward(
                slf.as_any(),
                gradient,
                retain_graph,
                create_graph,
                Some(inputs),
            );
        }
        let gradient = match gradient.filter(|g| !g.is_none()) {
            Some(g) => Some(g.cast::<PyTensor>()?.borrow().t.clone()),
            None => None,
        };
        let t = slf.borrow().t.clone();
        // The pass runs without the GIL unless the graph is tiny (releasing it costs more than
        // such a pass); hooks and custom backwards take it back.
        let work = rgrad_core::autograd::engine::work_estimate(std::slice::from_ref(&t), BACKWARD_GRAPH_WALK);
        run(slf.py(), work, || t.backward(gradient, retain_graph, create_graph))
    }

    fn retain_grad(&self) -> PyResult<()> {
        self.t.retain_grad().py()
    }

    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.retains_grad()
    }

    /// Registers `hook(grad) -> Tensor | None`, called when the gradient is computed.
    fn register_hook(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<Py<crate::graph::RemovableHandle>> {
        let f: rgrad_core::tensor::GradHook = std::sync::Arc::new(crate::graph::PyHook(hook));
        let id = self.t.register_hook(f).py()?;
        Py::new(py, crate::graph::RemovableHandle { t: self.t.downgrade(), id })
    }

    // ---- arithmetic operators ------------------------------------------------------------

    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Add, false)
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Add, true)
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Sub, false)
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Sub, true)
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Mul, false)
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Mul, true)
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Div, false)
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Div, true)
    }
    fn __floordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::FloorDiv, false)
    }
    fn __rfloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::FloorDiv, true)
    }
    fn __mod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Rem, false)
    }
    fn __rmod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Rem, true)
    }
    fn __pow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = modulo;
        bin(py, &self.t, o, BinaryOp::Pow, false)
    }
    fn __rpow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = modulo;
        bin(py, &self.t, o, BinaryOp::Pow, true)
    }
    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(o)? {
            Some(Arg::T(b)) => wrap_any(py, run(py, matmul_work(&self.t, &b), || self.t.matmul(&b))?),
            _ => Ok(py.NotImplemented()),
        }
    }
    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(o)? {
            Some(Arg::T(b)) => wrap_any(py, run(py, matmul_work(&b, &self.t), || b.matmul(&self.t))?),
            _ => Ok(py.NotImplemented()),
        }
    }
    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.neg().py()?)
    }
    fn __pos__(slf: &Bound<'_, Self>) -> Py<PyTensor> {
        slf.clone().unbind()
    }
    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.abs().py()?)
    }
    fn __richcmp__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let bop = match op {
            CompareOp::Eq => BinaryOp::Eq,
            CompareOp::Ne => BinaryOp::Ne,
            CompareOp::Lt => BinaryOp::Lt,
            CompareOp::Le => BinaryOp::Le,
            CompareOp::Gt => BinaryOp::Gt,
            CompareOp::Ge => BinaryOp::Ge,
        };
        bin(py, &self.t, o, bop, false)
    }

    fn __iadd__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::inplace_op(slf, o, BinaryOp::Add).map(drop)
    }
    fn __isub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::inplace_op(slf, o, BinaryOp::Sub).map(drop)
    }
    fn __imul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::inplace_op(slf, o, BinaryOp::Mul).map(drop)
    }
    fn __itruediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::inplace_op(slf, o, BinaryOp::Div).map(drop)
    }

    // ---- named arithmetic ----------------------------------------------------------------

    #[pyo3(signature = (other, *, alpha=None))]
    fn add(&self, py: Python<'_>, other: &Bound<'_, PyAny>, alpha: Option<f64>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.add_sub(other, alpha, BinaryOp::Add)?)
    }
    #[pyo3(signature = (other, *, alpha=None))]
    fn sub(&self, py: Python<'_>, other: &Bound<'_, PyAny>, alpha: Option<f64>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.add_sub(other, alpha, BinaryOp::Sub)?)
    }
    fn mul(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Mul, "mul")?)
    }
    fn div(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Div, "div")?)
    }
    fn pow(&self, py: Python<'_>, exponent: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, exponent, BinaryOp::Pow, "pow")?)
    }
    fn maximum(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Maximum, "maximum")?)
    }
    fn minimum(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Minimum, "minimum")?)
    }
    fn eq(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Eq, "eq")?)
    }
    fn ne(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Ne, "ne")?)
    }
    fn lt(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Lt, "lt")?)
    }
    fn le(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Le, "le")?)
    }
    fn gt(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Gt, "gt")?)
    }
    fn ge(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, arg_binary(&self.t, other, BinaryOp::Ge, "ge")?)
    }
    fn neg(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.neg().py()?)
    }
    fn abs(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.abs().py()?)
    }
    fn relu(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.relu().py()?)
    }
    fn sign(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.sign().py()?)
    }
    fn exp(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Exp)
    }
    fn log(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Log)
    }
    fn sqrt(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Sqrt)
    }
    fn rsqrt(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Rsqrt)
    }
    fn sin(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Sin)
    }
    fn cos(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Cos)
    }
    fn tan(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Tan)
    }
    fn tanh(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Tanh)
    }
    fn sigmoid(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Sigmoid)
    }
    fn log1p(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Log1p)
    }
    fn expm1(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Expm1)
    }
    fn reciprocal(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Reciprocal)
    }
    fn floor(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Floor)
    }
    fn ceil(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Ceil)
    }
    fn round(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Round)
    }
    fn trunc(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Trunc)
    }
    fn erf(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        self.un(py, UnaryOp::Erf)
    }

    /// `where(condition, other)`: self where condition, else other.
    #[pyo3(name = "where")]
    fn where_(
        &self,
        py: Python<'_>,
        condition: PyRef<'_, PyTensor>,
        other: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        let out = match require_operand(other, "where")? {
            Arg::T(o) => rgrad_core::ops::binary::where_(&condition.t, Operand::T(&self.t), Operand::T(&o)),
            Arg::S(s) => rgrad_core::ops::binary::where_(&condition.t, Operand::T(&self.t), Operand::S(s)),
        };
        wrap(py, out.py()?)
    }

    // ---- reductions ----------------------------------------------------------------------

    #[overloads("(*, torch.dtype dtype = None)",
        "(tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None)";
        "(Tensor input, *, torch.dtype dtype = None)",
        "(Tensor input, tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None, Tensor out = None)")]
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn sum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        let dims = dims_arg(dim)?;
        wrap(py, run(py, src.numel(), || src.sum(dims.as_deref(), keepdim))?)
    }

    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn mean(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let dims = dims_arg(dim)?;
        let dtype = opt_dtype(dtype)?;
        wrap(py, run(py, self.t.numel(), || self.t.mean(dims.as_deref(), keepdim, dtype))?)
    }

    // ---- linear algebra ------------------------------------------------------------------

    fn matmul(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let other_t = &other.t;
        wrap(py, run(py, matmul_work(&self.t, &other.t), || self.t.matmul(other_t))?)
    }
    fn mm(&self, py: Python<'_>, mat2: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let mat2_t = &mat2.t;
        wrap(py, run(py, matmul_work(&self.t, &mat2.t), || self.t.mm(mat2_t))?)
    }
    fn bmm(&self, py: Python<'_>, mat2: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let mat2_t = &mat2.t;
        wrap(py, run(py, matmul_work(&self.t, &mat2.t), || self.t.bmm(mat2_t))?)
    }
    fn dot(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let other_t = &other.t;
        wrap(py, run(py, matmul_work(&self.t, &other.t), || self.t.dot(other_t))?)
    }
    fn mv(&self, py: Python<'_>, vec: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        if self.t.ndim() != 2 || vec.t.ndim() != 1 {
            return Err(PyRuntimeError::new_err("vector + matrix @ vector expected"));
        }
        let vec_t = &vec.t;
        wrap(py, run(py, matmul_work(&self.t, &vec.t), || self.t.matmul(vec_t))?)
    }

    // ---- shape ---------------------------------------------------------------------------

    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.reshape(&int_list(shape, "shape")?).py()?)
    }

    #[pyo3(signature = (*shape))]
    fn view(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        if shape.len() == 1 {
            if let Ok(d) = shape.get_item(0)?.cast::<PyDType>() {
                return wrap(py, self.t.view_dtype(d.get().dt).py()?);
            }
        }
        wrap(py, self.t.view(&int_list(shape, "size")?).py()?)
    }

    fn view_as(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let s: Vec<i64> = other.t.shape().iter().map(|&d| d as i64).collect();
        wrap(py, self.t.view(&s).py()?)
    }

    fn reshape_as(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let s: Vec<i64> = other.t.shape().iter().map(|&d| d as i64).collect();
        wrap(py, self.t.reshape(&s).py()?)
    }

    fn transpose(&self, py: Python<'_>, dim0: i64, dim1: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.transpose(dim0, dim1).py()?)
    }

    fn t(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.t().py()?)
    }

    #[pyo3(signature = (*dims))]
    fn permute(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.permute(&int_list(dims, "dims")?).py()?)
    }

    fn unsqueeze(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.unsqueeze(dim).py()?)
    }

    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let mut t = self.t.clone();
        match dims_arg(dim)? {
            None => t = t.squeeze(None).py()?,
            Some(ds) => {
                let mut norm: Vec<usize> = ds
                    .iter()
                    .map(|&d| rgrad_core::shape::normalize_dim(d, t.ndim()))
                    .collect::<Result<_, _>>()
                    .py()?;
                norm.sort_unstable();
                for d in norm.into_iter().rev() {
                    t = t.squeeze(Some(d as i64)).py()?;
                }
            }
        }
        wrap(py, t)
    }

    #[pyo3(signature = (*sizes))]
    fn expand(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.expand(&int_list(sizes, "size")?).py()?)
    }

    fn expand_as(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let s: Vec<i64> = other.t.shape().iter().map(|&d| d as i64).collect();
        wrap(py, self.t.expand(&s).py()?)
    }

    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(&self, py: Python<'_>, start_dim: i64, end_dim: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.flatten(start_dim, end_dim).py()?)
    }

    fn select(&self, py: Python<'_>, dim: i64, index: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.select(dim, index).py()?)
    }

    fn narrow(&self, py: Python<'_>, dim: i64, start: i64, length: i64) -> PyResult<Py<PyTensor>> {
        if self.t.ndim() == 0 {
            return Err(PyRuntimeError::new_err("narrow() cannot be applied to a 0-dim tensor."));
        }
        let d = rgrad_core::shape::normalize_dim(dim, self.t.ndim()).py()?;
        let size = self.t.shape()[d] as i64;
        let start = if start < 0 { start + size } else { start };
        if start < 0 || length < 0 || start + length > size {
            return Err(PyRuntimeError::new_err(format!(
                "start ({start}) + length ({length}) exceeds dimension size ({size})."
            )));
        }
        wrap(py, self.t.slice(dim, Some(start), Some(start + length), 1).py()?)
    }

    fn __getitem__(&self, py: Python<'_>, idx: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, index::get(&self.t, idx)?)
    }

    // ---- in-place ------------------------------------------------------------------------

    #[pyo3(signature = (other, *, alpha=None))]
    fn add_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, alpha: Option<f64>) -> PyResult<Py<PyTensor>> {
        Self::inplace_scaled(slf, other, alpha, BinaryOp::Add)
    }
    #[pyo3(signature = (other, *, alpha=None))]
    fn sub_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, alpha: Option<f64>) -> PyResult<Py<PyTensor>> {
        Self::inplace_scaled(slf, other, alpha, BinaryOp::Sub)
    }
    fn mul_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        Self::inplace_op(slf, other, BinaryOp::Mul)
    }
    fn div_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        Self::inplace_op(slf, other, BinaryOp::Div)
    }
    fn pow_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        Self::inplace_op(slf, other, BinaryOp::Pow)
    }
    fn zero_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::inplace(slf, |t| t.fill_(Scalar::Int(0)))
    }
    fn fill_(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let v = match require_operand(value, "fill_")? {
            Arg::S(s) => s,
            Arg::T(t) => t.item().py()?,
        };
        Self::inplace(slf, |t| t.fill_(v))
    }
    fn copy_(slf: &Bound<'_, Self>, src: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let s = tensor_arg(src, "copy_")?;
        let me = slf.borrow().t.clone();
        run(slf.py(), me.numel(), || me.copy_(&s))?;
        Ok(slf.clone().unbind())
    }
    fn detach_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        let mut me = slf.borrow_mut();
        let t = me.t.detach();
        me.replace_tensor(t);
        Ok(slf.clone().unbind())
    }
}

impl PyTensor {
    /// `self` itself when the dtype already matches (as PyTorch returns the same object).
    fn cast_or_self(slf: &Bound<'_, Self>, dt: DType) -> PyResult<Py<PyTensor>> {
        let t = &slf.borrow().t;
        if t.dtype() == dt {
            return Ok(slf.clone().unbind());
        }
        wrap(slf.py(), run(slf.py(), t.numel(), || t.to_dtype(dt))?)
    }

    fn un(&self, py: Python<'_>, op: UnaryOp) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.unary(op))?)
    }

    fn add_sub(&self, other: &Bound<'_, PyAny>, alpha: Option<f64>, op: BinaryOp) -> PyResult<Tensor> {
        match (require_operand(other, "add")?, alpha) {
            (Arg::T(b), Some(a)) if a != 1.0 => {
                binary(op, Operand::T(&self.t), Operand::T(&b.mul_scalar(a).py()?)).py()
            }
            (Arg::T(b), _) => binary(op, Operand::T(&self.t), Operand::T(&b)).py(),
            (Arg::S(s), a) => {
                let s = match a {
                    Some(a) => Scalar::Float(s.to_f64() * a),
                    None => s,
                };
                binary(op, Operand::T(&self.t), Operand::S(s)).py()
            }
        }
    }

    fn inplace_op(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, op: BinaryOp) -> PyResult<Py<PyTensor>> {
        let Some(arg) = operand(other)? else {
            return Err(PyTypeError::new_err(format!(
                "unsupported operand type(s) for in-place op: 'Tensor' and '{}'",
                other.get_type().name()?
            )));
        };
        let me = slf.borrow().t.clone();
        run(slf.py(), me.numel(), || match &arg {
            Arg::T(b) => me.binary_(op, Operand::T(b)),
            Arg::S(s) => me.binary_(op, Operand::S(*s)),
        })?;
        Ok(slf.clone().unbind())
    }

    fn inplace_scaled(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        alpha: Option<f64>,
        op: BinaryOp,
    ) -> PyResult<Py<PyTensor>> {
        match alpha {
            Some(a) if a != 1.0 => {
                let scaled = match require_operand(other, "add_")? {
                    Arg::T(b) => Arg::T(b.mul_scalar(a).py()?),
                    Arg::S(s) => Arg::S(Scalar::Float(s.to_f64() * a)),
                };
                Self::inplace(slf, |t| match &scaled {
                    Arg::T(b) => t.binary_(op, Operand::T(b)),
                    Arg::S(s) => t.binary_(op, Operand::S(*s)),
                })
            }
            _ => Self::inplace_op(slf, other, op),
        }
    }
}
