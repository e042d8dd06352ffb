//! Graph nodes as Python objects. The Python package supplies the classes (`AddBackward0`,
//! `AccumulateGrad`, ...) through a factory; this side holds the raw node. Also the
//! autograd methods of `Tensor` (grad_fn, hooks, retain_grad, detach) and its garbage
//! collector support: the hooks and custom backwards the graph holds are Python objects.

use crate::errors::{from_py, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use rgrad_core::autograd::{BackwardFn, Edge, Node, SavedCustom};
use rgrad_core::tensor::{GradHookFn, WeakTensor};
use rgrad_core::{Device, Tensor};
use std::any::Any;
use std::sync::Arc;

#[derive(Clone)]
pub enum RawNode {
    Node(Arc<Node>),
    /// The accumulator of a leaf tensor.
    Accumulate(Tensor),
}

#[pyclass(name = "RawNode", module = "rgrad._rgrad", frozen)]
pub struct PyRawNode {
    pub node: RawNode,
}

static FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// What `register_hook` returns: `handle.remove()` unregisters the hook.
#[pyclass(name = "RemovableHandle", module = "rgrad.utils.hooks", frozen)]
pub struct RemovableHandle {
    /// Weak, so a kept handle does not keep the tensor (and the hook's references) alive.
    pub t: WeakTensor,
    pub id: u64,
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl RemovableHandle {
    fn remove(&self) {
        if let Some(t) = self.t.upgrade() {
            t.remove_hook(self.id);
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(&self, _exc_type: Py<PyAny>, _exc: Py<PyAny>, _tb: Py<PyAny>) -> PyResult<()> {
        self.remove()
    }
}

/// A Python gradient hook (`tensor.register_hook(fn)`), checked as PyTorch checks hooks.
pub struct PyHook(pub Py<PyAny>);

impl GradHookFn for PyHook {
    fn call(&self, grad: &Tensor) -> rgrad_core::Result<Option<Tensor>> {
        Python::attach(|py| {
            let arg = wrap(py, grad.clone()).map_err(from_py)?;
            let r = self.0.call1(py, (arg,)).map_err(from_py)?;
            if r.is_none(py) {
                return Ok(None);
            }
            let r = r.bind(py);
            let Ok(t) = r.cast::<PyTensor>() else {
                let kind = r.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                return Err(from_py(PyTypeError::new_err(format!(
                    "expected Variable, but hook returned '{kind}'"
                ))));
            };
            let new = t.borrow().t.clone();
            check_hook_result(self.0.bind(py), grad, &new)?;
            Ok(Some(new))
        })
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// PyTorch's `check_variable_result`: a hook may not change the gradient's type or size.
fn check_hook_result(hook: &Bound<'_, PyAny>, old: &Tensor, new: &Tensor) -> rgrad_core::Result<()> {
    let name = || match hook.getattr("__name__") {
        Ok(n) => n.to_string(),
        Err(_) => hook.get_type().name().map(|n| n.to_string()).unwrap_or_default(),
    };
    if old.dtype() != new.dtype() || old.device() != new.device() {
        return Err(rgrad_core::Error::Runtime(format!(
            "hook '{}' has changed the type of value (was {} got {})",
            name(),
            type_name(old),
            type_name(new)
        )));
    }
    if old.shape() != new.shape() {
        return Err(rgrad_core::Error::Runtime(format!("hook '{}' has changed the size of value", name())));
    }
    Ok(())
}

/// `torch.FloatTensor`, or `torch.wgpu.FloatTensor` on the device (as `torch.cuda.FloatTensor`).
fn type_name(t: &Tensor) -> String {
    match t.device() {
        Device::Cpu => format!("torch.{}", t.dtype().legacy_name()),
        Device::Wgpu => format!("torch.wgpu.{}", t.dtype().legacy_name()),
    }
}

/// An `autograd.Function`'s backward: a Python object with `backward(grads)` (one gradient or
/// None per output; returns one per tensor input, already validated) and `release()`.
pub struct PyBackward(pub Py<PyAny>);

impl BackwardFn for PyBackward {
    fn backward(&self, grads: &[Option<Tensor>]) -> rgrad_core::Result<Vec<Option<Tensor>>> {
        Python::attach(|py| {
            let args: Vec<Py<PyAny>> = grads
                .iter()
                .map(|g| match g {
                    Some(g) => wrap(py, g.clone()).map(|t| t.into_any()),
                    None => Ok(py.None()),
                })
                .collect::<PyResult<_>>()
                .map_err(from_py)?;
            let out = self.0.call_method1(py, "backward", (args,)).map_err(from_py)?;
            let items: Vec<Bound<'_, PyAny>> =
                out.bind(py).try_iter().map_err(from_py)?.collect::<PyResult<_>>().map_err(from_py)?;
            items
                .iter()
                .map(|x| {
                    if x.is_none() {
                        return Ok(None);
                    }
                    let Ok(t) = x.cast::<PyTensor>() else {
                        let kind = x.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                        return Err(from_py(PyRuntimeError::new_err(format!(
                            "expected Variable or None (got {kind})"
                        ))));
                    };
                    Ok(Some(t.borrow().t.clone()))
                })
                .collect()
        })
    }

    fn release(&self) {
        Python::attach(|py| {
            let _ = self.0.call_method0(py, "release");
        });
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// Calls `visit` with each Python object the core holds for `t` and that would be freed with
/// it (its hooks, its grad_fn's Python backward): what `Tensor.__traverse__` must report.
pub fn visit_python_objects<E>(t: &Tensor, visit: impl FnMut(&Py<PyAny>) -> Result<(), E>) -> Result<(), E> {
    python_objects_of(|f| t.visit_owned_external(f), visit)
}

/// Calls `visit` with the Python objects among the foreign objects `each` reports.
fn python_objects_of<E>(
    each: impl FnOnce(&mut dyn FnMut(&dyn Any)),
    mut visit: impl FnMut(&Py<PyAny>) -> Result<(), E>,
) -> Result<(), E> {
    let mut result = Ok(());
    each(&mut |obj| {
        if result.is_err() {
            return;
        }
        if let Some(h) = obj.downcast_ref::<PyHook>() {
            result = visit(&h.0);
        } else if let Some(b) = obj.downcast_ref::<PyBackward>() {
            result = visit(&b.0);
        }
    });
    result
}

/// Records a custom Function node: `outputs` get a grad_fn whose backward calls `backward`.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _record_function(
    backward: Py<PyAny>,
    name: String,
    inputs: Vec<PyRef<'_, PyTensor>>,
    outputs: Vec<PyRef<'_, PyTensor>>,
) {
    let ins: Vec<Tensor> = inputs.iter().map(|t| t.t.clone()).collect();
    let outs: Vec<Tensor> = outputs.iter().map(|t| t.t.clone()).collect();
    let in_refs: Vec<&Tensor> = ins.iter().collect();
    let out_refs: Vec<&Tensor> = outs.iter().collect();
    rgrad_core::autograd::record_custom(name, Box::new(PyBackward(backward)), &in_refs, &out_refs);
}

/// A tensor `ctx.save_for_backward` kept: checked against in-place changes when unpacked.
#[pyclass(name = "_SavedTensor", module = "rgrad._rgrad")]
pub struct PySavedTensor {
    saved: SavedCustom,
    /// The saved Python object, handed back as itself (as PyTorch's preserved wrapper); None
    /// for an output, which would otherwise keep its own node alive.
    obj: Option<Py<PyTensor>>,
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PySavedTensor {
    /// The saved tensor, or PyTorch's error if it was modified in place after saving.
    fn unpack(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        let t = self.saved.unpack().py()?;
        match &self.obj {
            Some(obj) => Ok(obj.clone_ref(py)),
            None => wrap(py, t),
        }
    }

    fn __traverse__(&self, visit: pyo3::gc::PyVisit<'_>) -> Result<(), pyo3::gc::PyTraverseError> {
        if let Some(obj) = &self.obj {
            visit.call(obj)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.obj = None;
    }
}

/// Saves `tensors` for the node just recorded for `outputs` (outputs are kept without their
/// history, so the node holding the ctx does not keep itself alive).
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _save_for_node(
    tensors: Vec<Bound<'_, PyTensor>>,
    outputs: Vec<PyRef<'_, PyTensor>>,
) -> Vec<PySavedTensor> {
    let outs: Vec<Tensor> = outputs.iter().map(|t| t.t.clone()).collect();
    tensors
        .into_iter()
        .map(|t| {
            let saved = SavedCustom::new(&t.borrow().t, &outs);
            let obj = if saved.is_output() { None } else { Some(t.unbind()) };
            PySavedTensor { saved, obj }
        })
        .collect()
}

/// Sets anomaly detection; returns the previous setting.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _set_anomaly(mode: bool) -> bool {
    rgrad_core::grad_mode::set_anomaly(mode)
}

#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn is_anomaly_enabled() -> bool {
    rgrad_core::grad_mode::anomaly_enabled()
}

/// Registers the Python callable that turns a `RawNode` into a node object.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _set_node_factory(py: Python<'_>, factory: Py<PyAny>) -> PyResult<()> {
    let _ = FACTORY.set(py, factory);
    Ok(())
}

pub fn node_object(py: Python<'_>, node: RawNode) -> PyResult<Py<PyAny>> {
    let raw = Py::new(py, PyRawNode { node })?;
    match FACTORY.get(py) {
        Some(f) => f.call1(py, (raw,)),
        None => Ok(raw.into_any()),
    }
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyRawNode {
    /// Reports the Python objects (a custom Function's backward and ctx, output hooks) of a
    /// node that only this object keeps alive: `ctx.fn = y.grad_fn` in a Function's forward
    /// makes the cycle node -> backward -> ctx -> grad_fn -> node, which the collector must
    /// see to free it (clearing the Python objects on it breaks it).
    fn __traverse__(&self, visit: pyo3::gc::PyVisit<'_>) -> Result<(), pyo3::gc::PyTraverseError> {
        match &self.node {
            RawNode::Node(n) if Arc::strong_count(n) == 1 => {
                python_objects_of(|f| n.visit_external(f), |o| visit.call(o))
            }
            RawNode::Accumulate(t) => visit_python_objects(t, |o| visit.call(o)),
            RawNode::Node(_) => Ok(()),
        }
    }

    fn name(&self) -> &str {
        match &self.node {
            RawNode::Node(n) => n.name(),
            RawNode::Accumulate(_) => "AccumulateGrad",
        }
    }

    /// `((node or None, input_nr), ...)` as `grad_fn.next_functions`.
    fn next_functions(&self, py: Python<'_>) -> PyResult<Vec<(Py<PyAny>, usize)>> {
        let RawNode::Node(n) = &self.node else {
            return Ok(Vec::new());
        };
        n.edges()
            .iter()
            .map(|e| {
                Ok(match e {
                    Edge::None => (py.None(), 0),
                    Edge::Leaf(t) => (node_object(py, RawNode::Accumulate(t.clone()))?, 0),
                    Edge::Node(c, nr) => (node_object(py, RawNode::Node(c.clone()))?, *nr),
                })
            })
            .collect()
    }

    /// The leaf tensor of an `AccumulateGrad` node.
    fn variable(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.node {
            RawNode::Accumulate(t) => Ok(wrap(py, t.clone())?.into_any()),
            RawNode::Node(_) => Ok(py.None()),
        }
    }

    /// Identity of the underlying node, for `==` and hashing on the Python side.
    fn key(&self) -> usize {
        match &self.node {
            RawNode::Node(n) => Arc::as_ptr(n) as usize,
            RawNode::Accumulate(t) => t.impl_ptr() as usize,
        }
    }
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[getter]
    fn grad_fn(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        // A view whose base changed in place shows its regenerated history, as in PyTorch.
        self.t.refresh_view_history();
        match self.t.grad_fn() {
            Some(n) => node_object(py, RawNode::Node(n)),
            None => Ok(py.None()),
        }
    }

    /// Registers `hook(grad) -> Tensor | None`, called when the gradient is computed.
    fn register_hook(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<Py<RemovableHandle>> {
        let f: rgrad_core::tensor::GradHook = std::sync::Arc::new(PyHook(hook));
        let id = self.t.register_hook(f).py()?;
        Py::new(py, RemovableHandle { t: self.t.downgrade(), id })
    }

    fn retain_grad(&self) -> PyResult<()> {
        self.t.retain_grad().py()
    }

    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.retains_grad()
    }

    fn detach(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.detach())
    }

    fn detach_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        let mut me = slf.borrow_mut();
        let t = me.t.detach();
        me.replace_tensor(t);
        Ok(slf.clone().unbind())
    }

    /// Reports the Python objects (hooks, a custom Function's backward and ctx) that only this
    /// wrapper keeps alive through the core, so reference cycles through them are collected.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // A collection can start while an object is being allocated (creating its `__dict__`),
        // before its Rust fields are written (the memory is zeroed). `me` is set only once the
        // object is complete, so an unset `me` means: nothing to report yet.
        if !self.is_registered() {
            return Ok(());
        }
        visit_python_objects(&self.t, |obj| visit.call(obj))
    }

    /// Breaks a garbage cycle: drops the core tensor (and with it the hooks and graph node that
    /// hold Python objects), as PyTorch's `THPVariable_clear` resets its tensor.
    fn __clear__(&mut self) {
        self.replace_tensor(Tensor::from_vec(Vec::<f32>::new(), &[0]));
    }
}
