//! Fused optimizer steps: one call updates every parameter of a group in place, following
//! PyTorch's single-tensor formulas operation by operation (so float64 trajectories match).
//!
//! This module holds what the update rules share (element access, the checks, the CPU/GPU
//! dispatch); the rules are grouped by family in `sgd.rs`, `adam.rs` and `adaptive.rs`, and
//! their wgpu kernels in `gpu_kernels.rs`.

use crate::bail;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::DType;

mod adam;
mod adaptive;
mod gpu_kernels;
mod sgd;

pub use adam::{adam, adamax, nadam, radam, Adam, Adamax, NAdam, RAdam};
pub use adaptive::{adadelta, adagrad, rmsprop, rprop, Adadelta, Adagrad, RmsProp, Rprop};
pub use sgd::{asgd, sgd, Asgd, Sgd};

/// A float element with the few operations the update rules need.
trait F:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + PartialOrd
    + crate::storage::Element
{
    fn c(v: f64) -> Self;
    fn sqrt(self) -> Self;
    fn is_nan(self) -> bool;
}
impl F for f32 {
    fn c(v: f64) -> Self {
        v as f32
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}
impl F for f64 {
    fn c(v: f64) -> Self {
        v
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

/// The contiguous elements of a state tensor, for writing.
///
/// # Safety
/// The caller must hold no other slice of `t`'s storage while the result is alive.
#[allow(clippy::mut_from_ref)]
unsafe fn slice_mut<T: F>(t: &Tensor) -> &mut [T] {
    if t.numel() == 0 {
        return &mut [];
    }
    let off = t.layout().offset;
    // SAFETY: forwarded to the caller.
    unsafe { &mut t.storage().as_mut_slice::<T>()[off..off + t.numel()] }
}

fn slice<T: F>(t: &Tensor) -> &[T] {
    if t.numel() == 0 {
        return &[];
    }
    let off = t.layout().offset;
    &t.storage_slice::<T>()[off..off + t.numel()]
}

/// Checks that every tensor is a contiguous float buffer of the parameter's dtype and shape,
/// and that no two share storage (the loops write through them independently).
fn check(param: &Tensor, others: &[&Tensor]) -> Result<()> {
    if !param.dtype().is_float() {
        bail!(Runtime, "optimizers need floating point parameters, got {}", param.dtype());
    }
    if param.dtype().is_reduced_float() {
        // The fused steps run in float32/float64 only (a float16/bfloat16 step would need
        // its own float32 master math); refused rather than reading the 16-bit storage wrong.
        bail!(Runtime, "rgrad's fused optimizer steps do not support {} parameters yet", param.dtype());
    }
    for t in std::iter::once(param).chain(others.iter().copied()) {
        if !t.is_contiguous() || t.dtype() != param.dtype() || t.shape() != param.shape() {
            bail!(
                Runtime,
                "optimizer state must match its parameter (contiguous, dtype {}, shape {})",
                param.dtype(),
                crate::shape::fmt_shape(param.shape())
            );
        }
    }
    for (i, a) in others.iter().enumerate() {
        for b in others[i + 1..].iter().chain(std::iter::once(&param)) {
            if std::sync::Arc::ptr_eq(a.storage(), b.storage()) {
                bail!(Runtime, "optimizer state tensors must not share memory");
            }
        }
    }
    Ok(())
}

/// Whether the step runs on the wgpu device (every tensor must be on the parameter's device).
fn on_gpu(param: &Tensor, others: &[&Tensor]) -> Result<bool> {
    let mut all = vec![param];
    all.extend_from_slice(others);
    Ok(crate::ops::common_device(&all)? == crate::Device::Wgpu)
}

fn bump(ts: &[&Tensor]) {
    for t in ts {
        t.storage().bump_version();
    }
}

/// The update direction before momentum: `±grad + weight_decay * param`, for whole slices.
fn direction<T: F>(gs: &[T], ps: &[T], maximize: bool, weight_decay: f64) -> Vec<T> {
    // Whole-slice passes with invariant choices hoisted out, so each loop vectorizes.
    let mut d: Vec<T> = if maximize { gs.iter().map(|&g| -g).collect() } else { gs.to_vec() };
    if weight_decay != 0.0 {
        let wd = T::c(weight_decay);
        for (d, &p) in d.iter_mut().zip(ps) {
            *d = *d + wd * p;
        }
    }
    d
}

/// Runs `cpu::<f32>`/`cpu::<f64>` or `gpu` for one parameter and its tensors, then marks the
/// written tensors (`written`) as modified.
fn dispatch(
    p: &Tensor,
    others: &[&Tensor],
    written: &[&Tensor],
    gpu: impl FnOnce() -> Result<()>,
    cpu32: impl FnOnce(),
    cpu64: impl FnOnce(),
) -> Result<()> {
    check(p, others)?;
    if on_gpu(p, others)? {
        gpu()?;
    } else {
        match p.dtype() {
            DType::F32 => cpu32(),
            DType::F64 => cpu64(),
            dt => return Err(crate::ops::opmath::not_implemented(dt)),
        }
    }
    bump(written);
    Ok(())
}

/// `m + w * (d - m)`: PyTorch's `lerp` for a weight below 0.5.
#[inline]
fn lerp<T: F>(m: T, d: T, w: T) -> T {
    m + w * (d - m)
}

/// The maximum of two values that propagates NaN (as `torch.maximum`).
#[inline]
fn max_nan<T: F>(a: T, b: T) -> T {
    if b > a || b.is_nan() {
        b
    } else {
        a
    }
}

/// One element of [`direction`]: `g` (negated with `maximize`), plus `wd * p` when `wd` is
/// given (weight decay on, and not decoupled).
#[inline(always)]
fn grad_dir<T: F>(g: T, p: T, maximize: bool, wd: Option<T>) -> T {
    let d = if maximize { -g } else { g };
    match wd {
        Some(wd) => d + wd * p,
        None => d,
    }
}
