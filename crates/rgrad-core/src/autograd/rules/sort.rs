//! Backward of the sorting and selection ops (ops/sort.rs), in tensor ops so that they
//! record under `create_graph` (a scatter's own gradient is a gather).

use crate::autograd::Saved;
use crate::error::Result;
use crate::ops::binary::BinaryOp;
use crate::shape::Dims;
use crate::tensor::Tensor;

/// Values picked at `indices` along `dim`: the gradient is scattered back there (PyTorch's
/// `value_selecting_reduction_backward`). `keepdim` false means the dim was reduced away.
pub(super) fn value_select(
    g: &Tensor,
    shape: &Dims,
    dim: usize,
    keepdim: bool,
    indices: &Tensor,
) -> Result<Tensor> {
    if shape.is_empty() {
        // A 0-dim input: its one element was picked.
        return g.reshape(&[]);
    }
    let (g, ix) = if keepdim {
        (g.clone(), indices.clone())
    } else {
        (g.unsqueeze(dim as i64)?, indices.unsqueeze(dim as i64)?)
    };
    g.zeros_like_shape(shape)?.scatter_add(dim as i64, &ix, &g)
}

/// The gradient of median() over all elements: shared evenly by the elements equal to the
/// result (by the NaNs when the result is NaN).
pub(super) fn even_select(g: &Tensor, x: &Saved, out: &Saved) -> Result<Tensor> {
    let x = x.get()?.detach();
    let v = out.get()?.item()?.to_f64();
    let mask = if !v.is_nan() {
        x.compare_scalar(BinaryOp::Eq, v)?
    } else if x.is_gpu() {
        // The device's float compares may fold `x != x` to false: find the NaNs on the host.
        x.to_cpu()?.compare(BinaryOp::Ne, &x.to_cpu()?)?.to_device_kernel(crate::Device::Wgpu)?
    } else {
        x.compare(BinaryOp::Ne, &x)?
    };
    let mask = mask.to_dtype(g.dtype())?;
    let count = mask.sum(None, false)?;
    g.mul(&mask)?.div(&count)
}
