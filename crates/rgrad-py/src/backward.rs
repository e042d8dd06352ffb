//! `autograd.grad` and `autograd.backward` (also `Tensor.backward(inputs=...)`): the bindings
//! that run the engine from several roots.

use crate::convert::{tensor_arg, tensors_of};
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use rgrad_core::Tensor;

/// `rgrad.autograd.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=false, allow_unused=None))]
pub fn _grad(
    py: Python<'_>,
    outputs: &Bound<'_, PyAny>,
    inputs: &Bound<'_, PyAny>,
    grad_outputs: Option<&Bound<'_, PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    allow_unused: Option<bool>,
) -> PyResult<Py<PyTuple>> {
    let outs = seq_of_tensors(outputs)?;
    let ins = seq_of_tensors(inputs)?;
    let gos = optional_grads(grad_outputs, "grad_outputs", outs.len())?;
    if gos.len() != outs.len() {
        return Err(PyRuntimeError::new_err(format!(
            "grad requires one grad_output per output: got {} outputs and {} grad_outputs",
            outs.len(),
            gos.len()
        )));
    }
    for (i, x) in ins.iter().enumerate() {
        if !x.requires_grad() {
            return Err(PyRuntimeError::new_err(format!(
                "One of the differentiated Tensors does not require grad (input {i})"
            )));
        }
    }
    let seeds = outs
        .iter()
        .zip(gos)
        .enumerate()
        .map(|(i, (o, g))| rgrad_core::autograd::engine::root_grad(o, g, i))
        .collect::<Result<Vec<_>, _>>()
        .py()?;
    // The pass runs without the GIL unless the graph is tiny; hooks and custom backwards take
    // it back.
    let work = rgrad_core::autograd::engine::work_estimate(&outs, BACKWARD_GRAPH_WALK);
    let grads = run(py, work, || {
        rgrad_core::autograd::engine::run(
            &outs,
            seeds,
            retain_graph.unwrap_or(create_graph),
            create_graph,
            rgrad_core::autograd::engine::Target::Capture(&ins),
        )
    })?;
    let mut objs: Vec<Py<PyAny>> = Vec::with_capacity(grads.len());
    for (i, g) in grads.into_iter().enumerate() {
        match g {
            Some(g) => objs.push(wrap(py, g)?.into_any()),
            None if allow_unused == Some(true) => objs.push(py.None()),
            None => {
                return Err(PyRuntimeError::new_err(format!(
                    "One of the differentiated Tensors appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior. (input {i})"
                )))
            }
        }
    }
    Ok(PyTuple::new(py, objs)?.unbind())
}

/// `autograd.backward(tensors, grad_tensors, retain_graph, create_graph, inputs)`: one pass
/// from every root; with `inputs`, gradients accumulate only into those.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (tensors, grad_tensors=None, retain_graph=None, create_graph=false, inputs=None))]
pub fn _backward(
    tensors: &Bound<'_, PyAny>,
    grad_tensors: Option<&Bound<'_, PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    inputs: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    use rgrad_core::autograd::engine;
    let py = tensors.py();
    let roots = seq_of_tensors(tensors)?;
    let grads = optional_grads(grad_tensors, "grad_tensors", roots.len())?;
    if grads.len() != roots.len() {
        return Err(PyRuntimeError::new_err(format!(
            "got {} tensors and {} gradients",
            roots.len(),
            grads.len()
        )));
    }
    let seeds = roots
        .iter()
        .zip(grads)
        .enumerate()
        .map(|(i, (o, g))| engine::root_grad(o, g, i))
        .collect::<Result<Vec<_>, _>>()
        .py()?;
    let retain = retain_graph.unwrap_or(create_graph);
    let work = engine::work_estimate(&roots, BACKWARD_GRAPH_WALK);
    match inputs.filter(|i| !i.is_none()) {
        Some(ins) => {
            let ins = if ins.cast::<PyTensor>().is_ok()
                || ins.is_instance_of::<PyList>()
                || ins.is_instance_of::<PyTuple>()
            {
                seq_of_tensors(ins)?
            } else {
                let items = PyTuple::new(ins.py(), ins.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
                seq_of_tensors(items.as_any())?
            };
            run(py, work, || engine::backward_into(&roots, seeds, &ins, retain, create_graph))
        }
        None => run(py, work, || {
            engine::run(&roots, seeds, retain, create_graph, engine::Target::Accumulate).map(|_| ())
        }),
    }
}

/// How many nodes of a graph are looked at to tell a tiny backward pass (run with the GIL
/// held) from one worth releasing it for.
pub const BACKWARD_GRAPH_WALK: usize = 64;

fn seq_of_tensors(ob: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    if let Ok(t) = ob.cast::<PyTensor>() {
        return Ok(vec![t.borrow().t.clone()]);
    }
    if ob.is_instance_of::<PyList>() || ob.is_instance_of::<PyTuple>() {
        return tensors_of(ob);
    }
    Err(PyTypeError::new_err("expected a Tensor or a sequence of Tensors"))
}

/// `grad_outputs=` / `grad_tensors=`: None (one None per root), a tensor, or a sequence of
/// tensors and Nones.
fn optional_grads(arg: Option<&Bound<'_, PyAny>>, name: &str, roots: usize) -> PyResult<Vec<Option<Tensor>>> {
    let Some(g) = arg.filter(|g| !g.is_none()) else {
        return Ok(vec![None; roots]);
    };
    let items: Vec<Bound<'_, PyAny>> = if g.cast::<PyTensor>().is_ok() {
        vec![g.clone()]
    } else {
        g.try_iter()?.collect::<PyResult<_>>()?
    };
    items.iter().map(|x| if x.is_none() { Ok(None) } else { tensor_arg(x, name).map(Some) }).collect()
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        slf: &Bound<'_, Self>,
        gradient: Option<&Bound<'_, PyAny>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if let Some(inputs) = inputs.filter(|i| !i.is_none()) {
            return _backward(slf.as_any(), gradient, retain_graph, create_graph, Some(inputs));
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
}
