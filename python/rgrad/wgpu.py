"""``rgrad.wgpu``: the GPU backend (wgpu: Vulkan, Metal or DirectX 12; Mesa's llvmpipe where
there is no GPU). Tensors move there with ``tensor.to("wgpu")`` and modules with
``model.to("wgpu")``::

    device = "wgpu" if torch.wgpu.is_available() else "cpu"
"""

from rgrad import _rgrad

__all__ = [
    "adapter_name",
    "device_count",
    "empty_cache",
    "is_available",
    "memory_stats",
    "supports_dtype",
    "synchronize",
]


def is_available():
    """Whether a wgpu adapter can be opened (the first call opens it)."""
    return _rgrad._wgpu_is_available()


def device_count():
    return 1 if is_available() else 0


def adapter_name():
    """The adapter in use, e.g. ``"llvmpipe (LLVM 15.0.6, 256 bits)"``."""
    return _rgrad._wgpu_adapter_name()


def supports_dtype(dtype):
    """Whether the adapter computes in ``dtype`` (float64 and int64 are optional features)."""
    return _rgrad._wgpu_supports(dtype)


def synchronize(device=None):
    """Waits until every queued kernel has run."""
    _rgrad._wgpu_synchronize()


def memory_stats():
    """The device buffer pool's counters: ``created`` (buffers allocated for kernel outputs),
    ``reused`` (outputs served from the pool), ``uploads`` (buffers of data copied from the
    host), ``pooled_bytes`` and ``pooled_buffers`` (held for reuse; both are capped) and
    ``readbacks`` (copies from the device to the host) and ``readback_bytes`` (the bytes they
    copied). A warm training loop only reuses."""
    created, reused, uploads, pooled, buffers, readbacks, read_bytes = _rgrad._wgpu_pool_stats()
    return {
        "created": created,
        "reused": reused,
        "uploads": uploads,
        "pooled_bytes": pooled,
        "pooled_buffers": buffers,
        "readbacks": readbacks,
        "readback_bytes": read_bytes,
    }


def empty_cache():
    """Releases the device buffers the pool keeps for reuse, as ``torch.cuda.empty_cache``."""
    _rgrad._wgpu_empty_cache()
