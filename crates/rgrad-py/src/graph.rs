//! Graph nodes as Python objects. The Python package supplies the classes (`AddBackward0`,
//! `AccumulateGrad`, ...) through a factory; this side holds the raw node.

use crate::errors::from_py;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use rgrad_core::autograd::{BackwardFn, Edge, Node};
use rgrad_core::Tensor;
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
    pub t: Tensor,
    pub id: u64,
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl RemovableHandle {
    fn remove(&self) {
        self.t.remove_hook(self.id);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(&self, _exc_type: Py<PyAny>, _exc: Py<PyAny>, _tb: Py<PyAny>) -> PyResult<()> {
        self.remove()
    }
}

/// An `autograd.Function`'s backward: a Python object with `backward(grads)` (one gradient or
/// None per output; returns one per tensor input) and `release()`.
struct PyBackward(Py<PyAny>);

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
                    let t = x.cast::<PyTensor>().map_err(|e| from_py(e.into()))?;
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
