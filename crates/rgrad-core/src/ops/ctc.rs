//! The CTC loss as one op (PyTorch's `_ctc_loss`): PyTorch's argument checks and messages
//! (`ctc_loss_allocate_outputs`, in its order), the alpha recursion giving each batch item's
//! negative log likelihood, and the node `CtcLossBackward0`, whose rule
//! (autograd/rules/ctc.rs) runs the beta recursion. As in PyTorch there is no double
//! backward: the gradient it gives under `create_graph` carries a node that raises.
//!
//! The targets are read on the host (validated there, so no kernel ever indexes past a
//! class: PyTorch reads out of bounds for a label outside `0..C`, rgrad raises) and packed
//! as one label list with per-item offsets; the lengths are host lists, as PyTorch's
//! `IntArrayRef`s. CPU kernels: cpu/ctc.rs; the device's: gpu/ctc.rs (the log
//! probabilities, alphas and gradients never leave the device).

use crate::autograd::{needs_grad, record, Op, Saved};
use crate::bail;
use crate::cpu::ctc::CtcProblem;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::DType;

/// What the backward needs: the input, the packed targets, the forward's results.
pub struct CtcSaved {
    pub log_probs: Saved,
    pub targets: CtcTargets,
    pub nll: Tensor,
    pub log_alpha: Tensor,
    pub zero_infinity: bool,
}

/// The validated targets: `labels[offsets[b]..][..tlen[b]]` is item `b`'s target.
#[derive(Clone, Debug)]
pub struct CtcTargets {
    pub t_max: usize,
    pub n: usize,
    pub c: usize,
    pub smax: usize,
    pub blank: usize,
    pub labels: Vec<usize>,
    pub offsets: Vec<usize>,
    pub ilen: Vec<usize>,
    pub tlen: Vec<usize>,
}

impl CtcTargets {
    pub(crate) fn problem(&self) -> CtcProblem<'_> {
        CtcProblem {
            t_max: self.t_max,
            n: self.n,
            c: self.c,
            smax: self.smax,
            blank: self.blank,
            labels: &self.labels,
            offsets: &self.offsets,
            ilen: &self.ilen,
            tlen: &self.tlen,
        }
    }

    /// Elements of `log_alpha`: `N x T x (2 smax + 1)`.
    pub(crate) fn alpha_shape(&self) -> [usize; 3] {
        [self.n, self.t_max, 2 * self.smax + 1]
    }
}

const CHECKING: &str = "(while checking arguments for ctc_loss_allocate_outputs)";

/// PyTorch's checks of `ctc_loss_allocate_outputs`, then the targets' values; the targets
/// packed per item.
fn check_args(
    lp: &Tensor,
    targets: &Tensor,
    input_lengths: &[i64],
    target_lengths: &[i64],
    blank: i64,
) -> Result<CtcTargets> {
    if !matches!(lp.dtype(), DType::F32 | DType::F64) {
        let kernel = if lp.is_gpu() { "ctc_loss_gpu" } else { "ctc_loss_cpu" };
        bail!(NotImplemented, "\"{kernel}\" not implemented for '{}'", lp.dtype().scalar_name());
    }
    if lp.numel() == 0 {
        bail!(Runtime, "log_probs tensor must not be empty");
    }
    if lp.ndim() != 3 {
        bail!(
            Runtime,
            "Expected 3-dimensional tensor, but got {}-dimensional tensor for argument #1 'log_probs' {CHECKING}",
            lp.ndim()
        );
    }
    if !(1..=2).contains(&targets.ndim()) {
        bail!(
            Runtime,
            "Expected 1 to 2 dimensions, but got {}-dimensional tensor for argument #2 'targets' {CHECKING}",
            targets.ndim()
        );
    }
    let (t_max, n, c) = (lp.shape()[0], lp.shape()[1], lp.shape()[2]);
    if blank < 0 || blank as u64 >= c as u64 {
        bail!(Runtime, "blank must be in label range");
    }
    if input_lengths.len() != n {
        bail!(Runtime, "input_lengths must be of size batch_size");
    }
    if target_lengths.len() != n {
        bail!(Runtime, "target_lengths must be of size batch_size");
    }
    let size_err = |want: String, dim: usize, got: usize| {
        crate::error::Error::Runtime(format!(
            "Expected tensor to have size {want} at dimension {dim}, but got size {got} for argument #2 'targets' {CHECKING}"
        ))
    };
    let mut tlen = Vec::with_capacity(n);
    for &l in target_lengths {
        if l < 0 {
            bail!(Runtime, "Expected target_lengths to have value at least 0, but got value {l} {CHECKING}");
        }
        tlen.push(l as usize);
    }
    let smax = tlen.iter().copied().max().unwrap_or(0);
    let mut offsets = Vec::with_capacity(n);
    if targets.ndim() == 1 {
        let mut pos = 0usize;
        for &l in &tlen {
            offsets.push(pos);
            pos = pos.saturating_add(l);
        }
        if targets.shape()[0] != pos {
            return Err(size_err(pos.to_string(), 0, targets.shape()[0]));
        }
    } else {
        if targets.shape()[0] != n {
            return Err(size_err(n.to_string(), 0, targets.shape()[0]));
        }
        if targets.shape()[1] < smax {
            return Err(size_err(format!("at least {smax}"), 1, targets.shape()[1]));
        }
        offsets.extend((0..n).map(|b| b * targets.shape()[1]));
    }
    let mut ilen = Vec::with_capacity(n);
    for &l in input_lengths {
        if l < 0 {
            bail!(Runtime, "Expected input_lengths to have value at least 0, but got value {l} {CHECKING}");
        }
        if l as u64 > t_max as u64 {
            bail!(
                Runtime,
                "Expected input_lengths to have value at most {t_max}, but got value {l} {CHECKING}"
            );
        }
        ilen.push(l as usize);
    }
    // The targets as PyTorch takes them (`targets.to(kLong)`: floats truncated), only the
    // labels each item reads kept.
    let all = targets.detach().to_dtype(DType::I64)?.try_to_vec::<i64>()?;
    let total: usize = tlen.iter().sum();
    let mut labels = Vec::with_capacity(total);
    let mut packed = Vec::with_capacity(n);
    for (b, (&off, &l)) in offsets.iter().zip(&tlen).enumerate() {
        packed.push(labels.len());
        for (j, &v) in all[off..off + l].iter().enumerate() {
            if v < 0 || v as u64 >= c as u64 {
                bail!(
                    Runtime,
                    "ctc_loss: target {j} of batch item {b} is {v}, which is not a class index in the range [0, {c})"
                );
            }
            labels.push(v as usize);
        }
    }
    let ns = 2 * smax + 1;
    if n.checked_mul(t_max).and_then(|v| v.checked_mul(ns)).is_none() {
        bail!(Runtime, "ctc_loss: the alpha table of {n} x {t_max} x {ns} elements is too large");
    }
    Ok(CtcTargets { t_max, n, c, smax, blank: blank as usize, labels, offsets: packed, ilen, tlen })
}

fn slice_of<T: crate::Element>(t: &Tensor) -> &[T] {
    &t.storage_slice::<T>()[t.layout().offset..][..t.numel()]
}

/// The forward on the host: (nll, log_alpha) of a CPU tensor.
fn cpu_forward(lp: &Tensor, tg: &CtcTargets) -> Result<(Tensor, Tensor)> {
    let lp = lp.detach().contiguous()?;
    let p = tg.problem();
    macro_rules! go {
        ($T:ty) => {{
            let (nll, la) = crate::cpu::ctc::ctc_forward::<$T>(&p, slice_of(&lp))?;
            (Tensor::from_vec(nll, &[tg.n]), Tensor::from_vec(la, &tg.alpha_shape()))
        }};
    }
    Ok(match lp.dtype() {
        DType::F32 => go!(f32),
        _ => go!(f64),
    })
}

/// The forward where `lp` lives: the device kernels, or (a dtype the adapter lacks, sizes
/// past their u32 arithmetic) the host's on a copy.
fn forward(lp: &Tensor, tg: &CtcTargets) -> Result<(Tensor, Tensor)> {
    #[cfg(feature = "wgpu")]
    if lp.is_gpu() {
        if let Some(out) = crate::gpu::ctc::forward(&lp.detach(), tg)? {
            return Ok(out);
        }
    }
    if lp.is_gpu() {
        let (nll, la) = cpu_forward(&lp.to_cpu()?, tg)?;
        return Ok((nll.to_device_kernel(lp.device())?, la.to_device_kernel(lp.device())?));
    }
    cpu_forward(lp, tg)
}

impl Tensor {
    /// `_ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)`:
    /// each batch item's negative log likelihood (`N`, infinite where no alignment exists)
    /// for `log_probs` `(T, N, C)` and targets padded `(N, S)` or concatenated (1-d).
    /// `zero_infinity` only zeroes the gradients of the infinite losses (PyTorch's caller
    /// zeroes the losses themselves).
    pub fn ctc_loss(
        &self,
        targets: &Tensor,
        input_lengths: &[i64],
        target_lengths: &[i64],
        blank: i64,
        zero_infinity: bool,
    ) -> Result<Tensor> {
        let tg = check_args(self, targets, input_lengths, target_lengths, blank)?;
        let (nll, log_alpha) = forward(self, &tg)?;
        if needs_grad(&[self]) {
            let saved = CtcSaved {
                log_probs: Saved::input(self),
                targets: tg,
                nll: nll.clone(),
                log_alpha,
                zero_infinity,
            };
            record("CtcLossBackward0", Op::Ctc(Box::new(saved)), &[self], &[&nll]);
        }
        Ok(nll)
    }
}

/// The gradient with respect to the log probabilities for the gradient `g` (`N`) of the
/// losses, from the beta recursion (no history).
pub(crate) fn ctc_backward(saved: &CtcSaved, g: &Tensor) -> Result<Tensor> {
    let lp = saved.log_probs.get()?.detach();
    let dt = lp.dtype();
    let tg = &saved.targets;
    let g = g.detach().to_dtype(dt)?;
    #[cfg(feature = "wgpu")]
    if lp.is_gpu() {
        let g = g.to_device(lp.device())?;
        if let Some(out) =
            crate::gpu::ctc::backward(&lp, tg, &saved.nll, &saved.log_alpha, &g, saved.zero_infinity)?
        {
            return Ok(out);
        }
    }
    let on_host = |t: &Tensor| -> Result<Tensor> { t.detach().to_cpu()?.contiguous() };
    let (lph, nll, la, gh) = (on_host(&lp)?, on_host(&saved.nll)?, on_host(&saved.log_alpha)?, on_host(&g)?);
    let p = tg.problem();
    macro_rules! go {
        ($T:ty) => {{
            let grad = crate::cpu::ctc::ctc_backward::<$T>(
                &p,
                slice_of(&lph),
                slice_of(&nll),
                slice_of(&la),
                slice_of(&gh),
                saved.zero_infinity,
            )?;
            Tensor::from_vec(grad, lp.shape())
        }};
    }
    let grad = match dt {
        DType::F32 => go!(f32),
        _ => go!(f64),
    };
    if lp.is_gpu() {
        return grad.to_device_kernel(lp.device());
    }
    Ok(grad)
}
