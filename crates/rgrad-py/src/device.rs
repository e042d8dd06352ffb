//! Module functions behind `rgrad.wgpu`: availability, the adapter, synchronisation.

use crate::errors::IntoPyResult;
use pyo3::prelude::*;

/// Whether a wgpu adapter can be opened (opens it on first call).
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _wgpu_is_available() -> bool {
    rgrad_core::gpu::is_available()
}

/// The adapter's name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"; raises when none is available.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _wgpu_adapter_name() -> PyResult<String> {
    rgrad_core::gpu::adapter_name().py()
}

/// Waits for every queued kernel to finish.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _wgpu_synchronize() -> PyResult<()> {
    rgrad_core::gpu::synchronize().py()
}

/// Whether the adapter supports `dtype` (float64 and int64 are optional features).
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _wgpu_supports(dtype: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(rgrad_core::gpu::supports(crate::dtype::extract_dtype(dtype)?))
}

/// The buffer pool's counters: `(created, reused, uploads, pooled_bytes, pooled_buffers,
/// readbacks, readback_bytes)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _wgpu_pool_stats() -> (u64, u64, u64, u64, u64, u64, u64) {
    let s = rgrad_core::gpu::pool_stats();
    (s.created, s.reused, s.uploads, s.pooled_bytes, s.pooled_buffers, s.readbacks, s.readback_bytes)
}

/// Releases the buffers the pool keeps for reuse.
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _wgpu_empty_cache() {
    rgrad_core::gpu::empty_cache()
}
