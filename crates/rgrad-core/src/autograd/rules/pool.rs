//! Backward rules of the poolings (ops/pool_exec.rs). Every pooling op is linear in its
//! input given the recorded indices or the fixed windows, and each has its adjoint among the
//! same ops, so these rules are again pooling ops and double backward works:
//! max pooling → scatter-add at the indices → gather at the indices → scatter-add ...;
//! average pooling ↔ its adjoint.

use crate::error::Result;
use crate::ops::pool::grad;
use crate::ops::pool_exec::PoolSpec;
use crate::tensor::Tensor;
use std::sync::Arc;

pub(super) fn max_pool(
    g: &Tensor,
    indices: &Tensor,
    input_shape: &[usize],
    spec: &PoolSpec,
) -> Result<Tensor> {
    grad::max_pool(g, indices, input_shape, spec)
}

/// A scatter's adjoint reads the gradient at the same indices.
pub(super) fn scatter(
    g: &Tensor,
    indices: &Tensor,
    spatial: usize,
    names: [&'static str; 2],
) -> Result<Tensor> {
    grad::scatter(g, indices, spatial, names)
}

pub(super) fn gather(
    g: &Tensor,
    indices: &Tensor,
    src_spatial: &[usize],
    names: [&'static str; 2],
) -> Result<Tensor> {
    grad::gather(g, indices, src_spatial, names)
}

pub(super) fn avg(g: &Tensor, spec: &Arc<PoolSpec>, adjoint: bool) -> Result<Tensor> {
    grad::avg(g, spec, adjoint)
}
