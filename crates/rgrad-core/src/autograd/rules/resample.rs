//! Backward rule of the resampling maps (ops/resample.rs): each map is linear in its input,
//! so the gradient is the transposed map of the upstream gradient, recorded as the same op
//! (its own backward is the map again, which is what makes double backward work).

use super::Grads;
use crate::error::Result;
use crate::ops::resample::{apply_map, PlaneMap};
use crate::tensor::Tensor;
use smallvec::smallvec;
use std::sync::Arc;

pub(super) fn resample(g: &Tensor, plan: &Arc<PlaneMap>, transposed: bool) -> Result<Grads> {
    Ok(smallvec![Some(apply_map(g, plan, !transposed)?)])
}
