//! Graph nodes as Python objects. The Python package supplies the classes (`AddBackward0`,
//! `AccumulateGrad`, ...) through a factory; this side holds the raw node.

use crate::tensor::wrap;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use rgrad_core::autograd::{Edge, Node};
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

/// Registers the Python callable that turns a `RawNode` into a node object.
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

#[pymethods]
impl PyRawNode {
    fn name(&self) -> &'static str {
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
