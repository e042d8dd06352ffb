//! Thread-local grad mode (`no_grad`, `enable_grad`, `set_grad_enabled`). Forward ops read it
//! to decide whether to record, so it sits beneath the tensor layer.

use std::cell::Cell;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
    static ANOMALY: Cell<bool> = const { Cell::new(false) };
    static INFERENCE: Cell<bool> = const { Cell::new(false) };
}

/// Inference mode (`inference_mode()`): tensors created while it is on report
/// `is_inference()`, as PyTorch's inference tensors do.
pub fn inference_enabled() -> bool {
    // Every new tensor asks; a thread-local read from the extension costs a call
    // (`__tls_get_addr`), so it is skipped while no thread is in inference mode.
    INFERENCE_THREADS.load(std::sync::atomic::Ordering::Relaxed) != 0 && INFERENCE.with(|c| c.get())
}

/// How many threads have inference mode on.
static INFERENCE_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sets inference mode and returns the previous value.
pub fn set_inference(on: bool) -> bool {
    use std::sync::atomic::Ordering;
    let was = INFERENCE.with(|c| c.replace(on));
    match (was, on) {
        (false, true) => {
            INFERENCE_THREADS.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            INFERENCE_THREADS.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
    was
}

/// Anomaly detection (`detect_anomaly`): backward checks every gradient for NaN.
pub fn anomaly_enabled() -> bool {
    ANOMALY.with(|c| c.get())
}

/// Sets anomaly detection and returns the previous value.
pub fn set_anomaly(on: bool) -> bool {
    ANOMALY.with(|c| c.replace(on))
}

pub fn is_enabled() -> bool {
    ENABLED.with(|c| c.get())
}

/// Sets grad mode and returns the previous value.
pub fn set_enabled(on: bool) -> bool {
    ENABLED.with(|c| c.replace(on))
}

/// Restores the previous grad mode when dropped.
pub struct GradModeGuard(bool);

impl GradModeGuard {
    pub fn new(on: bool) -> Self {
        GradModeGuard(set_enabled(on))
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        set_enabled(self.0);
    }
}
