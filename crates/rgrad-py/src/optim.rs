//! Fused optimizer steps: one call per parameter group (see rgrad_core::optim).

use crate::errors::IntoPyResult;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;
use rgrad_core::optim;
use rgrad_core::Tensor;

fn ts(v: &[PyRef<'_, PyTensor>]) -> Vec<Tensor> {
    v.iter().map(|t| t.t.clone()).collect()
}

/// SGD step over a group; returns the momentum buffers (created on the first step).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _sgd_step(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
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
    optim::sgd(&ts(&params), &ts(&grads), &mut bufs, h).py()?;
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
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _adam_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    exp_avgs: Vec<PyRef<'_, PyTensor>>,
    exp_avg_sqs: Vec<PyRef<'_, PyTensor>>,
    max_exp_avg_sqs: Vec<PyRef<'_, PyTensor>>,
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
    let (p, g, m, v, vm) = (ts(&params), ts(&grads), ts(&exp_avgs), ts(&exp_avg_sqs), ts(&max_exp_avg_sqs));
    optim::adam(&p, &g, &m, &v, &vm, &steps, h).py()
}

/// RMSprop step over a group.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _rmsprop_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    square_avgs: Vec<PyRef<'_, PyTensor>>,
    grad_avgs: Vec<PyRef<'_, PyTensor>>,
    momentum_buffers: Vec<PyRef<'_, PyTensor>>,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::RmsProp { lr, alpha, eps, weight_decay, momentum, centered, maximize };
    let (p, g, s, a, b) = (ts(&params), ts(&grads), ts(&square_avgs), ts(&grad_avgs), ts(&momentum_buffers));
    optim::rmsprop(&p, &g, &s, &a, &b, h).py()
}

/// Adagrad step over a group.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _adagrad_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    state_sums: Vec<PyRef<'_, PyTensor>>,
    steps: Vec<f64>,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Adagrad { lr, lr_decay, weight_decay, eps, maximize };
    let (p, g, s) = (ts(&params), ts(&grads), ts(&state_sums));
    optim::adagrad(&p, &g, &s, &steps, h).py()
}

/// NAdam step over a group; `mu_products` are the products including this step's momentum.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _nadam_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    exp_avgs: Vec<PyRef<'_, PyTensor>>,
    exp_avg_sqs: Vec<PyRef<'_, PyTensor>>,
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
    let (p, g, m, v) = (ts(&params), ts(&grads), ts(&exp_avgs), ts(&exp_avg_sqs));
    optim::nadam(&p, &g, &m, &v, &steps, &mu_products, h).py()
}

/// RAdam step over a group.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _radam_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    exp_avgs: Vec<PyRef<'_, PyTensor>>,
    exp_avg_sqs: Vec<PyRef<'_, PyTensor>>,
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
    let (p, g, m, v) = (ts(&params), ts(&grads), ts(&exp_avgs), ts(&exp_avg_sqs));
    optim::radam(&p, &g, &m, &v, &steps, h).py()
}

/// Adamax step over a group.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _adamax_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    exp_avgs: Vec<PyRef<'_, PyTensor>>,
    exp_infs: Vec<PyRef<'_, PyTensor>>,
    steps: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Adamax { lr, beta1, beta2, eps, weight_decay, maximize };
    let (p, g, m, u) = (ts(&params), ts(&grads), ts(&exp_avgs), ts(&exp_infs));
    optim::adamax(&p, &g, &m, &u, &steps, h).py()
}

/// Adadelta step over a group.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _adadelta_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    square_avgs: Vec<PyRef<'_, PyTensor>>,
    acc_deltas: Vec<PyRef<'_, PyTensor>>,
    lr: f64,
    rho: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Adadelta { lr, rho, eps, weight_decay, maximize };
    let (p, g, s, a) = (ts(&params), ts(&grads), ts(&square_avgs), ts(&acc_deltas));
    optim::adadelta(&p, &g, &s, &a, h).py()
}

/// Rprop step over a group.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _rprop_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    prevs: Vec<PyRef<'_, PyTensor>>,
    step_sizes: Vec<PyRef<'_, PyTensor>>,
    step_size_min: f64,
    step_size_max: f64,
    etaminus: f64,
    etaplus: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Rprop { etaminus, etaplus, step_size_min, step_size_max, maximize };
    let (p, g, pr, s) = (ts(&params), ts(&grads), ts(&prevs), ts(&step_sizes));
    optim::rprop(&p, &g, &pr, &s, h).py()
}

/// ASGD step over a group; `etas` and `mus` are the current values (advanced by the caller).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn _asgd_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    axs: Vec<PyRef<'_, PyTensor>>,
    etas: Vec<f64>,
    mus: Vec<f64>,
    lambd: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let h = optim::Asgd { lambd, weight_decay, maximize };
    let (p, g, a) = (ts(&params), ts(&grads), ts(&axs));
    optim::asgd(&p, &g, &a, &etas, &mus, h).py()
}
