//! Forward ops, grouped by family. Each op computes with a CPU kernel and records its
//! autograd node in the same place.

pub mod arith;
pub mod attention;
pub mod binary;
pub mod conv;
mod conv_device;
pub mod ctc;
pub mod cumulative;
pub mod distributions;
pub mod embedding_bag;
pub mod factory;
pub mod gelu;
pub mod index;
pub mod index_ops;
pub mod inplace;
pub mod join;
pub mod layer_norm;
pub mod linalg;
pub mod linalg_decomp;
pub mod linalg_factor;
pub mod linalg_lu;
pub mod linalg_solve;
pub mod logical;
pub mod loss;
pub mod multinomial;
pub mod norm;
pub mod opmath;
pub mod pool;
pub(crate) mod pool_exec;
pub mod reduce;
pub mod resample;
pub mod resample_plans;
pub mod rnn;
pub mod samplers;
pub mod sampling;
pub mod scan;
pub mod search;
pub mod select;
pub mod set_ops;
pub mod sort;
pub mod unary;
pub mod views;

use crate::error::Result;
use crate::{Device, Tensor};

/// The device all of `ts` live on, or PyTorch's error naming two different ones.
pub(crate) fn common_device(ts: &[&Tensor]) -> Result<Device> {
    let first = ts.first().map(|t| t.device()).unwrap_or(Device::Cpu);
    for t in ts {
        if t.device() != first {
            let (a, b) = if first == Device::Wgpu { (first, t.device()) } else { (t.device(), first) };
            crate::bail!(
                Runtime,
                "Expected all tensors to be on the same device, but found at least two devices, {a} and {b}!"
            );
        }
    }
    Ok(first)
}
