//! Fused optimizer steps: one call per parameter group (see rgrad_core::optim).

use crate::errors::run;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;
use rgrad_core::optim;
use rgrad_core::Tensor;

/// A list argument of tensors, taken as the core tensors they wrap (shared, not copied); it
/// extracts as `list[Tensor]` does and derefs to `[Tensor]`.
pub struct Tensors(Vec<Tensor>);

impl<'a, 'py> FromPyObject<'a, 'py> for Tensors {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let v: Vec<PyRef<'py, PyTensor>> = obj.extract()?;
        Ok(Tensors(v.iter().map(|t| t.t.clone()).collect()))
    }
}

impl std::ops::Deref for Tensors {
    type Target = [Tensor];

    fn deref(&self) -> &[Tensor] {
        &self.0
    }
}

/// SGD step over a group; returns the momentum buffers (created on the first step).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _sgd_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    momentum_buffers: Vec<Option<PyRef<'_, PyTensor>>>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<Vec<Option<Py<PyTensor>>>> {
    let mut bufs: Vec<Option<Tensor>> =
        momentum_buffers.iter().map(|b| b.as_ref().map(|b| b.t.clone())).collect();
    let h = optim::Sgd { lr, momentum, dampening, weight_decay, nesterov, maximize };
    run(py, param_elements(&params), || optim::sgd(&params, &grads, &mut bufs, h))?;
    // Existing buffers are returned as the same Python objects.
    momentum_buffers
        .into_iter()
        .zip(bufs)
        .map(|(old, new)| match (old, new) {
            (Some(o), _) => Ok(Some(o.into())),
            (None, Some(n)) => wrap(py, n).map(Some),
            (None, None) => Ok(None),
        })
        .collect()
}

/// Adam / AdamW step over a group; state tensors are updated in place.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _adam_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    exp_avgs: Tensors,
    exp_avg_sqs: Tensors,
    max_exp_avg_sqs: Tensors,
    steps: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> PyResult<()> {
    let h = optim::Adam {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        amsgrad,
        maximize,
        decoupled: decoupled_weight_decay,
    };
    run(py, param_elements(&params), || {
        optim::adam(&params, &grads, &exp_avgs, &exp_avg_sqs, &max_exp_avg_sqs, &steps, h)
    })
}

/// RMSprop step over a group.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _rmsprop_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    square_avgs: Tensors,
    grad_avgs: Tensors,
    momentum_buffers: Tensors,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::RmsProp { lr, alpha, eps, weight_decay, momentum, centered, maximize };
    run(py, param_elements(&params), || {
        optim::rmsprop(&params, &grads, &square_avgs, &grad_avgs, &momentum_buffers, h)
    })
}

/// Adagrad step over a group.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _adagrad_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    state_sums: Tensors,
    steps: Vec<f64>,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Adagrad { lr, lr_decay, weight_decay, eps, maximize };
    run(py, param_elements(&params), || optim::adagrad(&params, &grads, &state_sums, &steps, h))
}

/// NAdam step over a group; `mu_products` are the products including this step's momentum.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _nadam_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    exp_avgs: Tensors,
    exp_avg_sqs: Tensors,
    steps: Vec<f64>,
    mu_products: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::NAdam {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        momentum_decay,
        decoupled: decoupled_weight_decay,
        maximize,
    };
    run(py, param_elements(&params), || {
        optim::nadam(&params, &grads, &exp_avgs, &exp_avg_sqs, &steps, &mu_products, h)
    })
}

/// RAdam step over a group.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _radam_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    exp_avgs: Tensors,
    exp_avg_sqs: Tensors,
    steps: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::RAdam { lr, beta1, beta2, eps, weight_decay, decoupled: decoupled_weight_decay, maximize };
    run(py, param_elements(&params), || optim::radam(&params, &grads, &exp_avgs, &exp_avg_sqs, &steps, h))
}

/// Adamax step over a group.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _adamax_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    exp_avgs: Tensors,
    exp_infs: Tensors,
    steps: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Adamax { lr, beta1, beta2, eps, weight_decay, maximize };
    run(py, param_elements(&params), || optim::adamax(&params, &grads, &exp_avgs, &exp_infs, &steps, h))
}

/// Adadelta step over a group.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _adadelta_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    square_avgs: Tensors,
    acc_deltas: Tensors,
    lr: f64,
    rho: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Adadelta { lr, rho, eps, weight_decay, maximize };
    run(py, param_elements(&params), || optim::adadelta(&params, &grads, &square_avgs, &acc_deltas, h))
}

/// Rprop step over a group.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _rprop_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    prevs: Tensors,
    step_sizes: Tensors,
    step_size_min: f64,
    step_size_max: f64,
    etaminus: f64,
    etaplus: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Rprop { etaminus, etaplus, step_size_min, step_size_max, maximize };
    run(py, param_elements(&params), || optim::rprop(&params, &grads, &prevs, &step_sizes, h))
}

/// ASGD step over a group; `etas` and `mus` are the current values (advanced by the caller).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _asgd_step(
    py: Python<'_>,
    params: Tensors,
    grads: Tensors,
    axs: Tensors,
    etas: Vec<f64>,
    mus: Vec<f64>,
    lambd: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Asgd { lambd, weight_decay, maximize };
    run(py, param_elements(&params), || optim::asgd(&params, &grads, &axs, &etas, &mus, h))
}

/// The elements a step touches, for deciding whether to release the GIL.
fn param_elements(params: &[Tensor]) -> usize {
    params.iter().map(Tensor::numel).sum()
}
