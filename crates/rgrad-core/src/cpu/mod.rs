//! CPU kernels. They take typed slices plus layouts and return new contiguous buffers; the
//! tensor layer picks the element type and records autograd.

pub mod attention;
pub mod conv;
pub mod conv_direct;
pub mod conv_direct_grad;
pub mod copy;
pub mod ctc;
pub mod elementwise;
pub mod embedding_bag;
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

use std::sync::atomic::{AtomicBool, Ordering};

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
    Ok(start_pool(Some(n)))
}

static POOL_STARTED: AtomicBool = AtomicBool::new(false);

/// Starts the kernels' pool if nothing has yet, before a kernel that may run in parallel.
/// The binding layer calls this where it hands large work to the core, so the pool is made
/// by the thread that runs the ops (see `start_pool`), not by whichever kernel touches rayon
/// first.
#[inline]
pub fn ensure_pool() {
    if !POOL_STARTED.load(Ordering::Relaxed) {
        start_pool(None);
    }
}

/// Builds rayon's global pool with `n` threads (default: `RAYON_NUM_THREADS`, else one per
/// core), capped at the cores. With two or more threads and when called on the process's main
/// thread, that thread is the pool's worker 0 (`use_current_thread`): a parallel kernel called
/// from it then runs its first share itself while the other workers steal the rest, as an
/// OpenMP team's master does, instead of queueing the whole job, sleeping, and being woken
/// when it is done (two thread switches per op: ~15 us of a 1M-element `logical_and`'s ~40).
/// Jobs from other threads go to the other workers, so one thread is never the only worker
/// that a blocked main thread would starve.
fn start_pool(n: Option<usize>) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let from_env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.trim().parse::<usize>().ok());
    let n = n.or(from_env.filter(|&v| v > 0)).unwrap_or(cores).min(cores);
    let mut builder = rayon::ThreadPoolBuilder::new().num_threads(n);
    if n >= 2 && on_main_thread() {
        builder = builder.use_current_thread();
    }
    let started = builder.build_global().is_ok();
    POOL_STARTED.store(true, Ordering::Relaxed);
    started
}

/// Whether the calling thread is the process's initial thread (the interpreter's main one).
fn on_main_thread() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: both calls only read the calling thread's and process's ids.
        unsafe { libc::gettid() == libc::getpid() }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}
