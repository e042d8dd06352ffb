//! CPU kernels. They take typed slices plus layouts and return new contiguous buffers; the
//! tensor layer picks the element type and records autograd.

pub mod conv;
pub mod copy;
pub mod elementwise;
pub mod index;
pub mod math;
pub mod matmul;
pub mod reduce;
pub mod special;

/// Below this many elements a kernel stays on the calling thread: spawning costs more.
pub const PAR_THRESHOLD: usize = 1 << 18;
