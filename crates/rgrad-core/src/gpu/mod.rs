//! The wgpu backend: tensors whose storage is a GPU buffer. Ops dispatch here when their
//! inputs live on the `wgpu` device; everything is built from a few kernel families
//! (elementwise maps generated from each op's WGSL expression, strided copies, reductions,
//! matmul, gathers/scatters by flat offsets, scans). Without the `wgpu` cargo feature the same
//! functions exist and report that the backend is not built in.

pub mod wgsl;
mod wgsl_trig;

#[cfg(feature = "wgpu")]
mod attention;
#[cfg(feature = "wgpu")]
pub mod chacha;
#[cfg(feature = "wgpu")]
mod context;
#[cfg(feature = "wgpu")]
pub mod ctc;
#[cfg(feature = "wgpu")]
pub mod embedding_bag;
#[cfg(feature = "wgpu")]
pub mod histogram;
#[cfg(feature = "wgpu")]
mod imp;
#[cfg(feature = "wgpu")]
pub mod masked;
#[cfg(feature = "wgpu")]
mod matmul;
#[cfg(feature = "wgpu")]
mod norm;
#[cfg(feature = "wgpu")]
mod pool;
#[cfg(feature = "wgpu")]
mod reduce;
#[cfg(feature = "wgpu")]
mod runtime_dir;
#[cfg(feature = "wgpu")]
pub mod sampling;
#[cfg(feature = "wgpu")]
pub mod scan;
#[cfg(feature = "wgpu")]
pub mod search;
#[cfg(feature = "wgpu")]
pub mod set_ops;
#[cfg(feature = "wgpu")]
pub mod sort;
#[cfg(feature = "wgpu")]
pub mod unique_dim;
#[cfg(feature = "wgpu")]
pub use imp::*;

#[cfg(not(feature = "wgpu"))]
mod disabled;
#[cfg(not(feature = "wgpu"))]
pub use disabled::*;

use crate::layout::Layout;
use crate::{DType, Scalar, Tensor};

/// One operand of an elementwise kernel: a tensor viewed through `layout` (already broadcast
/// to the output shape) and converted to `as_dtype` when loaded, or a Python number.
pub enum Input<'a> {
    Tensor { t: &'a Tensor, layout: Layout, as_dtype: DType },
    Scalar { value: Scalar, dtype: DType },
}

impl<'a> Input<'a> {
    /// `t` broadcast to `shape`, computed in `as_dtype`.
    pub fn broadcast(t: &'a Tensor, shape: &[usize], as_dtype: DType) -> crate::Result<Input<'a>> {
        Ok(Input::Tensor { t, layout: t.layout().broadcast_to(shape)?, as_dtype })
    }

    /// `t` as it is (same shape as the output), computed in `as_dtype`.
    pub fn of(t: &'a Tensor, as_dtype: DType) -> Input<'a> {
        Input::Tensor { t, layout: t.layout().clone(), as_dtype }
    }
}

/// Counters of the device buffer pool, for `rgrad.wgpu.memory_stats()` and the tests that
/// check a training loop stops allocating once warm.
#[derive(Clone, Copy, Default, Debug)]
pub struct PoolStats {
    /// Device buffers created for kernel outputs (pool misses).
    pub created: u64,
    /// Kernel outputs served from the pool.
    pub reused: u64,
    /// Buffers created for data copied from the host.
    pub uploads: u64,
    /// Copies from the device into host memory (`.cpu()`, `.item()`, and any op that reads
    /// its input back): a test that an op stays on the device counts these.
    pub readbacks: u64,
    /// The bytes those copies read (an op that reads back a status word, not its data, shows
    /// a few bytes here).
    pub readback_bytes: u64,
    /// Bytes held by the pool for reuse.
    pub pooled_bytes: u64,
    /// Buffers held by the pool for reuse.
    pub pooled_buffers: u64,
}

/// Reductions the backend implements directly.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Reduce {
    Sum,
    Prod,
    Max,
    Min,
    ArgMax,
    ArgMin,
    Any,
    All,
}

/// The largest head dim the device attention kernels hold in registers (gpu/attention.rs);
/// larger ones run as tensor ops.
pub const ATTENTION_MAX_DIM: usize = 128;

/// How the device attention kernels are given the mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceMask {
    None,
    Bool,
    Float,
}

/// Sizes of one device attention call: `nb` (batch, head) pairs of `l` queries and `s` keys.
#[derive(Clone, Copy, Debug)]
pub struct DeviceDims {
    pub nb: usize,
    pub l: usize,
    pub s: usize,
    pub e: usize,
    pub ev: usize,
    pub causal: bool,
    pub mask: DeviceMask,
}
