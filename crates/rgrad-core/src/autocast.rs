//! CPU autocast (`torch.autocast("cpu", dtype=torch.bfloat16)`): while it is on, the ops on
//! PyTorch's CPU lower-precision list (matmul, mm, bmm, linear, convolution, attention) cast
//! their float32 inputs to the autocast dtype first, as recorded casts, so gradients come back
//! in each input's own dtype. float64 inputs stay (PyTorch's `cached_cast` skips them). The
//! float32 list (losses) is applied by the Python functions that own those ops.

use crate::error::Result;
use crate::tensor::Tensor;
use crate::DType;
use std::borrow::Cow;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    static CPU_DTYPE: Cell<Option<DType>> = const { Cell::new(None) };
}

/// Threads with autocast on: ops skip the thread-local read while none is.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// The CPU autocast dtype of this thread (`None`: autocast off).
#[inline]
pub fn cpu_dtype() -> Option<DType> {
    if ACTIVE.load(Ordering::Relaxed) == 0 {
        return None;
    }
    CPU_DTYPE.with(|c| c.get())
}

/// Sets this thread's CPU autocast dtype (`None` turns it off); returns the previous one.
pub fn set_cpu_dtype(dt: Option<DType>) -> Option<DType> {
    let was = CPU_DTYPE.with(|c| c.replace(dt));
    match (was.is_some(), dt.is_some()) {
        (false, true) => {
            ACTIVE.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            ACTIVE.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
    was
}

/// Turns autocast off for its lifetime (the backward pass: PyTorch's backward ops run in the
/// dtypes the forward chose, they are not cast again).
pub struct Suspend(Option<DType>);

impl Suspend {
    pub fn new() -> Suspend {
        Suspend(if cpu_dtype().is_some() { set_cpu_dtype(None) } else { None })
    }
}

impl Default for Suspend {
    fn default() -> Self {
        Suspend::new()
    }
}

impl Drop for Suspend {
    fn drop(&mut self) {
        if self.0.is_some() {
            set_cpu_dtype(self.0);
        }
    }
}

/// An input of a lower-precision-list op: cast to the autocast dtype when autocast is on and
/// the input is an eligible float (a float other than float64 on the CPU).
pub fn lower(t: &Tensor) -> Result<Cow<'_, Tensor>> {
    match cpu_dtype() {
        Some(dt) if t.dtype().is_float() && t.dtype() != DType::F64 && t.dtype() != dt && !t.is_gpu() => {
            Ok(Cow::Owned(t.to_dtype(dt)?))
        }
        _ => Ok(Cow::Borrowed(t)),
    }
}

/// Whether any of `ts` would be cast by [`lower`].
pub fn casts(ts: &[&Tensor]) -> bool {
    match cpu_dtype() {
        Some(dt) => ts
            .iter()
            .any(|t| t.dtype().is_float() && t.dtype() != DType::F64 && t.dtype() != dt && !t.is_gpu()),
        None => false,
    }
}
