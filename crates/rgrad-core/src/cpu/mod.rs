//! CPU kernels. They take typed slices plus layouts and return new contiguous buffers; the
//! tensor layer picks the element type and records autograd.

pub mod attention;
pub mod conv;
pub mod conv_direct;
pub mod conv_direct_grad;
pub mod copy;
pub mod elementwise;
pub mod gelu;
pub mod index;
pub mod layer_norm;
pub mod logical;
pub mod math;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod resample;
pub mod rnn;
pub mod rnn_blocks;
pub mod set_ops;
pub mod small_gemm;
pub mod sort;
pub mod special;
pub mod stdsort;

/// Below this many elements a kernel stays on the calling thread: spawning costs more.
pub const PAR_THRESHOLD: usize = 1 << 18;

/// Sizes the kernels' thread pool (`set_num_threads`): at most one thread per core, since
/// compute kernels gain nothing from more and a huge count would exhaust the process's
/// threads. Returns false when the pool already runs (its size is fixed at first use, as the
/// Python docs say); a pool that fails to start leaves the default pool to start later.
pub fn set_num_threads(n: usize) -> crate::error::Result<bool> {
    if n == 0 {
        crate::bail!(Runtime, "set_num_threads expects a positive integer");
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    Ok(rayon::ThreadPoolBuilder::new().num_threads(n.min(cores)).build_global().is_ok())
}
