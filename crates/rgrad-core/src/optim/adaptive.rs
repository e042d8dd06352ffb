//! Per-element adaptive step sizes without momentum averages of the Adam kind: RMSprop,
//! Adagrad, Adadelta and Rprop.

use super::{dispatch, gpu_kernels, grad_dir, slice, slice_mut, F};
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct RmsProp {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

/// RMSprop over a group; `grad_avg` is used when centered, `bufs` when momentum > 0.
pub fn rmsprop(
    params: &[Tensor],
    grads: &[Tensor],
    square_avg: &[Tensor],
    grad_avg: &[Tensor],
    bufs: &[Tensor],
    h: RmsProp,
) -> Result<()> {
    for i in 0..params.len() {
        let (p, g, s) = (&params[i], &grads[i], &square_avg[i]);
        let ga = if h.centered { grad_avg.get(i) } else { None };
        let b = if h.momentum > 0.0 { bufs.get(i) } else { None };
        dispatch(
            p,
            &[g, s].into_iter().chain(ga).chain(b).collect::<Vec<_>>(),
            &[p, s].into_iter().chain(ga).chain(b).collect::<Vec<_>>(),
            || gpu_kernels::rmsprop_one(p, g, s, ga, b, h),
            || rmsprop_one::<f32>(p, g, s, ga, b, h),
            || rmsprop_one::<f64>(p, g, s, ga, b, h),
        )?;
    }
    Ok(())
}

fn rmsprop_one<T: F>(
    p: &Tensor,
    g: &Tensor,
    s: &Tensor,
    ga: Option<&Tensor>,
    b: Option<&Tensor>,
    h: RmsProp,
) {
    let (alpha, w, eps, lr, wd, mom) =
        (T::c(h.alpha), T::c(1.0 - h.alpha), T::c(h.eps), T::c(h.lr), T::c(h.weight_decay), T::c(h.momentum));
    let wd = (h.weight_decay != 0.0).then_some(wd);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, ss) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(s)) };
    let mut gas = ga.map(|t| unsafe { slice_mut::<T>(t) });
    let mut bs = b.map(|t| unsafe { slice_mut::<T>(t) });
    for i in 0..ps.len() {
        let d = grad_dir(gs[i], ps[i], h.maximize, wd);
        ss[i] = ss[i] * alpha + w * (d * d);
        let avg = match gas.as_deref_mut() {
            Some(a) => {
                a[i] = a[i] + w * (d - a[i]);
                (ss[i] + (-a[i]) * a[i]).sqrt()
            }
            None => ss[i].sqrt(),
        } + eps;
        match bs.as_deref_mut() {
            Some(buf) => {
                buf[i] = buf[i] * mom + d / avg;
                ps[i] = ps[i] + (-lr) * buf[i];
            }
            None => ps[i] = ps[i] + (-lr) * (d / avg),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Adagrad {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub eps: f64,
    pub maximize: bool,
}

/// Adagrad over a group; `steps[i]` is the step count after this step.
pub fn adagrad(
    params: &[Tensor],
    grads: &[Tensor],
    state_sum: &[Tensor],
    steps: &[f64],
    h: Adagrad,
) -> Result<()> {
    for i in 0..params.len() {
        let (p, g, s) = (&params[i], &grads[i], &state_sum[i]);
        dispatch(
            p,
            &[g, s],
            &[p, s],
            || gpu_kernels::adagrad_one(p, g, s, steps[i], h),
            || adagrad_one::<f32>(p, g, s, steps[i], h),
            || adagrad_one::<f64>(p, g, s, steps[i], h),
        )?;
    }
    Ok(())
}

fn adagrad_one<T: F>(p: &Tensor, g: &Tensor, s: &Tensor, step: f64, h: Adagrad) {
    let clr = T::c(h.lr / (1.0 + (step - 1.0) * h.lr_decay));
    let (wd, eps) = (T::c(h.weight_decay), T::c(h.eps));
    let wd = (h.weight_decay != 0.0).then_some(wd);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, ss) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(s)) };
    for i in 0..ps.len() {
        let d = grad_dir(gs[i], ps[i], h.maximize, wd);
        ss[i] = ss[i] + d * d;
        let std = ss[i].sqrt() + eps;
        ps[i] = ps[i] + (-clr) * (d / std);
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Adadelta {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

/// Adadelta over a group.
pub fn adadelta(
    params: &[Tensor],
    grads: &[Tensor],
    square_avg: &[Tensor],
    acc_delta: &[Tensor],
    h: Adadelta,
) -> Result<()> {
    let s = [h.weight_decay, h.rho, 1.0 - h.rho, h.eps, -h.lr];
    for i in 0..params.len() {
        let (p, g, sa, ad) = (&params[i], &grads[i], &square_avg[i], &acc_delta[i]);
        dispatch(
            p,
            &[g, sa, ad],
            &[p, sa, ad],
            || gpu_kernels::adadelta_one(p, g, sa, ad, &s, h),
            || adadelta_one::<f32>(p, g, sa, ad, &s, h),
            || adadelta_one::<f64>(p, g, sa, ad, &s, h),
        )?;
    }
    Ok(())
}

fn adadelta_one<T: F>(p: &Tensor, g: &Tensor, sa: &Tensor, ad: &Tensor, s: &[f64; 5], h: Adadelta) {
    let [wd, rho, w, eps, nlr] = s.map(T::c);
    let wd = (h.weight_decay != 0.0).then_some(wd);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, sas, ads) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(sa), slice_mut::<T>(ad)) };
    for i in 0..ps.len() {
        let d = grad_dir(gs[i], ps[i], h.maximize, wd);
        sas[i] = sas[i] * rho + w * d * d;
        let std = (sas[i] + eps).sqrt();
        let delta = (ads[i] + eps).sqrt() / std * d;
        ads[i] = ads[i] * rho + w * delta * delta;
        ps[i] = ps[i] + nlr * delta;
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Rprop {
    pub etaminus: f64,
    pub etaplus: f64,
    pub step_size_min: f64,
    pub step_size_max: f64,
    pub maximize: bool,
}

/// Rprop over a group.
pub fn rprop(
    params: &[Tensor],
    grads: &[Tensor],
    prevs: &[Tensor],
    step_sizes: &[Tensor],
    h: Rprop,
) -> Result<()> {
    for i in 0..params.len() {
        let (p, g, pr, ss) = (&params[i], &grads[i], &prevs[i], &step_sizes[i]);
        dispatch(
            p,
            &[g, pr, ss],
            &[p, pr, ss],
            || gpu_kernels::rprop_one(p, g, pr, ss, h),
            || rprop_one::<f32>(p, g, pr, ss, h),
            || rprop_one::<f64>(p, g, pr, ss, h),
        )?;
    }
    Ok(())
}

fn rprop_one<T: F>(p: &Tensor, g: &Tensor, pr: &Tensor, ss: &Tensor, h: Rprop) {
    let (etaminus, etaplus, lo, hi) =
        (T::c(h.etaminus), T::c(h.etaplus), T::c(h.step_size_min), T::c(h.step_size_max));
    let (zero, one) = (T::c(0.0), T::c(1.0));
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, prs, sss) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(pr), slice_mut::<T>(ss)) };
    for i in 0..ps.len() {
        let mut d = if h.maximize { -gs[i] } else { gs[i] };
        let prod = d * prs[i];
        // The sign of grad * prev mapped to the step-size factor (NaN stays NaN).
        let factor = if prod > zero {
            etaplus
        } else if prod < zero {
            etaminus
        } else if prod == zero {
            one
        } else {
            prod
        };
        // clamp_(min, max), NaN propagating.
        let mut s = sss[i] * factor;
        if s < lo {
            s = lo;
        }
        if s > hi {
            s = hi;
        }
        sss[i] = s;
        if factor == etaminus {
            d = zero;
        }
        let sign = if d > zero {
            one
        } else if d < zero {
            -one
        } else {
            d * zero
        };
        ps[i] = ps[i] - sign * s;
        prs[i] = d;
    }
}
