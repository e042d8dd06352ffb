//! `rgrad._rgrad`: the compiled module. Translates between Python and rgrad-core; does no
//! math of its own.
//!
//! The files are arranged by op family, as the core's `ops/`, in layers; a file uses only the
//! layers below it (tests/test_binding_layers.py keeps the `crate::` graph acyclic):
//!
//! 1. `errors` (the boundary: error mapping, panics, the GIL), then `dtype` (dtype and device
//!    objects), then `tensor` (the `Tensor` class, `wrap`, the core properties);
//! 2. `interop` (NumPy), `convert` (Python values to core values and back), `from_data`
//!    (`tensor(data)`, the `Tensor(...)` constructor);
//! 3. the op families, each a file of `#[pymethods] impl PyTensor` blocks and its functions:
//!    `unary`, `binary`, `logical`, `clamp`, `reduce`, `cumulative`, `sort`, `set_search`,
//!    `index` (`t[...]`), `index_ops`, `views`, `join`, `cast`, `factory`, `samplers` (random),
//!    `linalg`, `functional` and `layers` (nn), `optim`, `graph` and `backward` (autograd),
//!    `io`, `device`, `out_arg`;
//! 4. this file, which registers the module's functions and classes.

mod backward;
mod binary;
mod cast;
mod clamp;
mod convert;
mod cumulative;
mod device;
mod dtype;
mod errors;
mod factory;
mod from_data;
mod functional;
mod graph;
mod index;
mod index_ops;
mod interop;
mod io;
mod join;
mod layers;
mod linalg;
mod logical;
mod optim;
mod out_arg;
mod random;
mod reduce;
mod samplers;
mod set_search;
mod sort;
mod tensor;
mod unary;
mod views;

use pyo3::prelude::*;
use rgrad_core::{grad_mode, DType};

// Tensors' buffers come and go with every op: glibc's malloc returns large freed buffers to
// the OS and faults them in again on the next op (a 1M-element chain of ops ran 10x slower).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sets inference mode (tensors made while it is on are inference tensors); returns the
/// previous value.
#[rgrad_py_macros::boundary]
#[pyfunction]
fn _set_inference_mode(mode: bool) -> bool {
    grad_mode::set_inference(mode)
}

/// Sets grad mode and returns the previous value (the Python context managers build on it).
#[rgrad_py_macros::boundary]
#[pyfunction]
fn _set_grad_enabled(mode: bool) -> bool {
    grad_mode::set_enabled(mode)
}

#[rgrad_py_macros::boundary]
#[pyfunction]
fn is_grad_enabled() -> bool {
    grad_mode::is_enabled()
}

/// Sizes the kernels' thread pool if it has not started yet; false when it already runs.
#[rgrad_py_macros::boundary]
#[pyfunction]
fn _set_num_threads(n: usize) -> PyResult<bool> {
    use crate::errors::IntoPyResult;
    rgrad_core::cpu::set_num_threads(n).py()
}

/// Panics on purpose (with the GIL held, or released as a long kernel runs), so tests can
/// check that a panic reaches Python as a RuntimeError naming the op.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (message, release_gil=false))]
fn _panic_for_test(py: Python<'_>, message: String, release_gil: bool) -> PyResult<()> {
    let work = if release_gil { usize::MAX } else { 0 };
    errors::run(py, work, || -> rgrad_core::Result<()> { panic!("{message}") })
}

#[pymodule]
fn _rgrad(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::install_panic_hook();
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<dtype::PyDType>()?;
    m.add_class::<dtype::PyDevice>()?;
    m.add_class::<graph::PyRawNode>()?;
    m.add_class::<out_arg::OutFunction>()?;
    m.add_function(wrap_pyfunction!(out_arg::out_wrapper, m)?)?;
    for dt in DType::ALL {
        m.add(dt.name(), dtype::dtype_object(m.py(), dt)?)?;
    }
    m.add_function(wrap_pyfunction!(_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(dtype::_set_autocast_cpu, m)?)?;
    m.add_function(wrap_pyfunction!(cast::promote_types, m)?)?;
    m.add_function(wrap_pyfunction!(cast::result_type, m)?)?;
    m.add_function(wrap_pyfunction!(_set_inference_mode, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(graph::_set_node_factory, m)?)?;
    m.add_function(wrap_pyfunction!(graph::_record_function, m)?)?;
    m.add_function(wrap_pyfunction!(graph::_save_for_node, m)?)?;
    m.add_class::<graph::PySavedTensor>()?;
    m.add_function(wrap_pyfunction!(graph::_set_anomaly, m)?)?;
    m.add_function(wrap_pyfunction!(device::_wgpu_is_available, m)?)?;
    m.add_function(wrap_pyfunction!(device::_wgpu_adapter_name, m)?)?;
    m.add_function(wrap_pyfunction!(device::_wgpu_synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(device::_wgpu_supports, m)?)?;
    m.add_function(wrap_pyfunction!(device::_wgpu_pool_stats, m)?)?;
    m.add_function(wrap_pyfunction!(device::_wgpu_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(graph::is_anomaly_enabled, m)?)?;
    m.add_class::<graph::RemovableHandle>()?;
    m.add_function(wrap_pyfunction!(binary::_binary_op, m)?)?;
    m.add_function(wrap_pyfunction!(factory::tensor, m)?)?;
    m.add_function(wrap_pyfunction!(factory::zeros, m)?)?;
    m.add_function(wrap_pyfunction!(factory::ones, m)?)?;
    m.add_function(wrap_pyfunction!(factory::empty, m)?)?;
    m.add_function(wrap_pyfunction!(factory::full, m)?)?;
    m.add_function(wrap_pyfunction!(factory::arange, m)?)?;
    m.add_function(wrap_pyfunction!(factory::linspace, m)?)?;
    m.add_function(wrap_pyfunction!(factory::rand, m)?)?;
    m.add_function(wrap_pyfunction!(factory::randn, m)?)?;
    m.add_function(wrap_pyfunction!(factory::manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(factory::from_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(join::cat, m)?)?;
    m.add_function(wrap_pyfunction!(join::stack, m)?)?;
    m.add_function(wrap_pyfunction!(factory::eye, m)?)?;
    m.add_function(wrap_pyfunction!(samplers::randint, m)?)?;
    m.add_function(wrap_pyfunction!(samplers::randperm, m)?)?;
    m.add_function(wrap_pyfunction!(backward::_grad, m)?)?;
    m.add_function(wrap_pyfunction!(backward::_backward, m)?)?;
    m.add_function(wrap_pyfunction!(functional::linear, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_convolution, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_rnn_layer, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_scaled_dot_product_attention, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_cholesky_ex, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_solve_triangular, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_inv_ex, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_slogdet, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_lu_factor_ex, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_lu_permutation, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_solve_ex, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_det, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_eigh, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_svd, m)?)?;
    m.add_function(wrap_pyfunction!(linalg::_linalg_qr, m)?)?;
    m.add_function(wrap_pyfunction!(samplers::_standard_gamma, m)?)?;
    m.add_function(wrap_pyfunction!(samplers::_poisson, m)?)?;
    m.add_function(wrap_pyfunction!(samplers::_binomial, m)?)?;
    m.add_class::<random::PyGenerator>()?;
    m.add_function(wrap_pyfunction!(random::_default_generator, m)?)?;
    m.add_function(wrap_pyfunction!(random::_bernoulli, m)?)?;
    m.add_function(wrap_pyfunction!(random::_normal, m)?)?;
    m.add_function(wrap_pyfunction!(set_search::_searchsorted, m)?)?;
    m.add_function(wrap_pyfunction!(set_search::_bucketize, m)?)?;
    m.add_function(wrap_pyfunction!(set_search::_isin, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_max_pool, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_avg_pool, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_adaptive_pool, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_max_unpool, m)?)?;
    m.add_function(wrap_pyfunction!(functional::native_batch_norm, m)?)?;
    m.add_function(wrap_pyfunction!(layers::gelu, m)?)?;
    m.add_function(wrap_pyfunction!(layers::native_layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(layers::embedding_bag, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_interpolate, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_pad_map, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_im2col, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_col2im, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_ctc_loss, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_binary_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(functional::_binary_cross_entropy_with_logits, m)?)?;
    m.add_function(wrap_pyfunction!(io::_save_safetensors, m)?)?;
    m.add_function(wrap_pyfunction!(io::_load_safetensors, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_adam_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_rmsprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_adagrad_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_nadam_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_radam_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_adamax_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_adadelta_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_rprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_asgd_step, m)?)?;
    Ok(())
}
