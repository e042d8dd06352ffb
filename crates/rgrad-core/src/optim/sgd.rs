//! SGD and averaged SGD.

use super::{check, direction, dispatch, gpu_kernels, grad_dir, slice, slice_mut, F};
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

/// SGD over a group. `bufs[i]` is the momentum buffer (created on the first step).
pub fn sgd(params: &[Tensor], grads: &[Tensor], bufs: &mut [Option<Tensor>], h: Sgd) -> Result<()> {
    for ((p, g), buf) in params.iter().zip(grads).zip(bufs.iter_mut()) {
        // Checked before a new buffer is made (which then matches `p` by construction).
        check(p, &[g])?;
        let first = h.momentum != 0.0 && buf.is_none();
        if first {
            *buf = Some(p.zeros_like_shape(p.shape())?);
        }
        let b = buf.as_ref();
        dispatch(
            p,
            &[g].into_iter().chain(b).collect::<Vec<_>>(),
            &[p].into_iter().chain(b).collect::<Vec<_>>(),
            || gpu_kernels::sgd_one(p, g, b, h, first),
            || sgd_one::<f32>(p, g, b, h, first),
            || sgd_one::<f64>(p, g, b, h, first),
        )?;
    }
    Ok(())
}

fn sgd_one<T: F>(p: &Tensor, g: &Tensor, buf: Option<&Tensor>, h: Sgd, first: bool) {
    let (m, damp) = (T::c(h.momentum), T::c(1.0 - h.dampening));
    // SAFETY: `check` proved the storages distinct; nothing else borrows them meanwhile.
    let ps = unsafe { slice_mut::<T>(p) };
    let mut d = direction(slice::<T>(g), ps, h.maximize, h.weight_decay);
    if let Some(b) = buf {
        // SAFETY: as above.
        let bs = unsafe { slice_mut::<T>(b) };
        if first {
            bs.copy_from_slice(&d);
        } else {
            for (b, &d) in bs.iter_mut().zip(&d) {
                *b = *b * m + damp * d;
            }
        }
        if h.nesterov {
            for (d, &b) in d.iter_mut().zip(bs.iter()) {
                *d = *d + m * b;
            }
        } else {
            d.copy_from_slice(bs);
        }
    }
    let nlr = T::c(-h.lr);
    for (p, &d) in ps.iter_mut().zip(&d) {
        *p = *p + nlr * d;
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Asgd {
    pub lambd: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

/// ASGD over a group; `etas[i]` and `mus[i]` are the parameter's current `eta` and `mu` (the
/// caller advances them after the step).
pub fn asgd(
    params: &[Tensor],
    grads: &[Tensor],
    axs: &[Tensor],
    etas: &[f64],
    mus: &[f64],
    h: Asgd,
) -> Result<()> {
    for i in 0..params.len() {
        let (p, g, ax) = (&params[i], &grads[i], &axs[i]);
        let s = [h.weight_decay, 1.0 - h.lambd * etas[i], -etas[i], mus[i]];
        dispatch(
            p,
            &[g, ax],
            &[p, ax],
            || gpu_kernels::asgd_one(p, g, ax, &s, h),
            || asgd_one::<f32>(p, g, ax, &s, h),
            || asgd_one::<f64>(p, g, ax, &s, h),
        )?;
    }
    Ok(())
}

fn asgd_one<T: F>(p: &Tensor, g: &Tensor, ax: &Tensor, s: &[f64; 4], h: Asgd) {
    let average = s[3] != 1.0;
    let [wd, decay, neta, mu] = s.map(T::c);
    let wd = (h.weight_decay != 0.0).then_some(wd);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, axs) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(ax)) };
    for i in 0..ps.len() {
        let d = grad_dir(gs[i], ps[i], h.maximize, wd);
        ps[i] = ps[i] * decay;
        ps[i] = ps[i] + neta * d;
        axs[i] = if average { axs[i] + (ps[i] - axs[i]) * mu } else { ps[i] };
    }
}
