//! The Adam family: Adam/AdamW, NAdam, RAdam and Adamax.

use super::{direction, dispatch, gpu_kernels, grad_dir, lerp, max_nan, slice, slice_mut, F};
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    /// AdamW: decay the parameter directly instead of adding to the gradient.
    pub decoupled: bool,
}

/// Adam/AdamW over a group; `steps[i]` is the parameter's step count after this step.
pub fn adam(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avg: &[Tensor],
    exp_avg_sq: &[Tensor],
    max_exp_avg_sq: &[Tensor],
    steps: &[f64],
    h: Adam,
) -> Result<()> {
    for i in 0..params.len() {
        let (p, g, m, v) = (&params[i], &grads[i], &exp_avg[i], &exp_avg_sq[i]);
        let vmax = if h.amsgrad { max_exp_avg_sq.get(i) } else { None };
        dispatch(
            p,
            &[g, m, v].into_iter().chain(vmax).collect::<Vec<_>>(),
            &[p, m, v].into_iter().chain(vmax).collect::<Vec<_>>(),
            || gpu_kernels::adam_one(p, g, m, v, vmax, steps[i], h),
            || adam_one::<f32>(p, g, m, v, vmax, steps[i], h),
            || adam_one::<f64>(p, g, m, v, vmax, steps[i], h),
        )?;
    }
    Ok(())
}

fn adam_one<T: F>(p: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, vmax: Option<&Tensor>, step: f64, h: Adam) {
    let (b2, w1, w2) = (T::c(h.beta2), T::c(1.0 - h.beta1), T::c(1.0 - h.beta2));
    let bc1 = 1.0 - h.beta1.powf(step);
    let bc2_sqrt = T::c((1.0 - h.beta2.powf(step)).sqrt());
    let (nstep, eps) = (T::c(-(h.lr / bc1)), T::c(h.eps));
    // SAFETY: `check` proved the storages distinct.
    let (ps, ms, vs) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(m), slice_mut::<T>(v)) };
    if h.decoupled && h.weight_decay != 0.0 {
        let decay = T::c(1.0 - h.lr * h.weight_decay);
        ps.iter_mut().for_each(|p| *p = *p * decay);
    }
    let wd = if h.decoupled { 0.0 } else { h.weight_decay };
    let d = direction(slice::<T>(g), ps, h.maximize, wd);
    for ((m, v), &d) in ms.iter_mut().zip(vs.iter_mut()).zip(&d) {
        *m = lerp(*m, d, w1);
        *v = *v * b2 + w2 * (d * d);
    }
    let second: &[T] = match vmax {
        Some(t) => {
            // SAFETY: as above.
            let vm = unsafe { slice_mut::<T>(t) };
            for (vm, &v) in vm.iter_mut().zip(vs.iter()) {
                *vm = max_nan(*vm, v);
            }
            vm
        }
        None => vs,
    };
    for ((p, &m), &s) in ps.iter_mut().zip(ms.iter()).zip(second) {
        *p = *p + nstep * (m / (s.sqrt() / bc2_sqrt + eps));
    }
}

#[derive(Clone, Copy, Debug)]
pub struct NAdam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum_decay: f64,
    pub decoupled: bool,
    pub maximize: bool,
}

impl NAdam {
    /// The momentum coefficient of step `step` (PyTorch's `mu` / `mu_next`).
    pub fn mu(&self, step: f64) -> f64 {
        self.beta1 * (1.0 - 0.5 * 0.96f64.powf(step * self.momentum_decay))
    }

    /// The per-parameter scalars: `[1 - lr*wd, wd, 1-b1, b2, 1-b2, bc2, eps, c_grad, c_avg]`.
    fn scalars(&self, step: f64, mu_product: f64) -> [f64; 9] {
        let (mu, mu_next) = (self.mu(step), self.mu(step + 1.0));
        let mu_product_next = mu_product * mu_next;
        [
            1.0 - self.lr * self.weight_decay,
            self.weight_decay,
            1.0 - self.beta1,
            self.beta2,
            1.0 - self.beta2,
            1.0 - self.beta2.powf(step),
            self.eps,
            -self.lr * (1.0 - mu) / (1.0 - mu_product),
            (-self.lr * mu_next) / (1.0 - mu_product_next),
        ]
    }
}

/// NAdam over a group. `steps[i]` is the step count after this step and `mu_products[i]` the
/// product of the momentum coefficients up to and including this step's.
pub fn nadam(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avg: &[Tensor],
    exp_avg_sq: &[Tensor],
    steps: &[f64],
    mu_products: &[f64],
    h: NAdam,
) -> Result<()> {
    for i in 0..params.len() {
        let (p, g, m, v) = (&params[i], &grads[i], &exp_avg[i], &exp_avg_sq[i]);
        let s = h.scalars(steps[i], mu_products[i]);
        dispatch(
            p,
            &[g, m, v],
            &[p, m, v],
            || gpu_kernels::nadam_one(p, g, m, v, &s, h),
            || nadam_one::<f32>(p, g, m, v, &s, h),
            || nadam_one::<f64>(p, g, m, v, &s, h),
        )?;
    }
    Ok(())
}

fn nadam_one<T: F>(p: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, s: &[f64; 9], h: NAdam) {
    let [decay, wd, w1, b2, w2, bc2, eps, cg, cm] = s.map(T::c);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, ms, vs) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(m), slice_mut::<T>(v)) };
    let (coupled, decoupled) = (h.weight_decay != 0.0 && !h.decoupled, h.weight_decay != 0.0 && h.decoupled);
    for i in 0..ps.len() {
        let mut d = if h.maximize { -gs[i] } else { gs[i] };
        if decoupled {
            ps[i] = ps[i] * decay;
        } else if coupled {
            d = d + wd * ps[i];
        }
        ms[i] = lerp(ms[i], d, w1);
        vs[i] = vs[i] * b2 + w2 * d * d;
        let denom = (vs[i] / bc2).sqrt() + eps;
        ps[i] = ps[i] + cg * d / denom;
        ps[i] = ps[i] + cm * ms[i] / denom;
    }
}

#[derive(Clone, Copy, Debug)]
pub struct RAdam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled: bool,
    pub maximize: bool,
}

impl RAdam {
    /// `[1 - lr*wd, wd, 1-b1, b2, 1-b2, bc1, lr, eps, sqrt(bc2), rect]`; `rect` is 0 while the
    /// variance is not yet tractable (rho_t <= 5), when the step is the un-adapted one.
    fn scalars(&self, step: f64) -> [f64; 10] {
        let bc1 = 1.0 - self.beta1.powf(step);
        let bc2 = 1.0 - self.beta2.powf(step);
        let rho_inf = 2.0 / (1.0 - self.beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * step * self.beta2.powf(step) / bc2;
        let rect = if rho_t > 5.0 {
            ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).powf(0.5)
        } else {
            0.0
        };
        [
            1.0 - self.lr * self.weight_decay,
            self.weight_decay,
            1.0 - self.beta1,
            self.beta2,
            1.0 - self.beta2,
            bc1,
            self.lr,
            self.eps,
            bc2.powf(0.5),
            rect,
        ]
    }
}

/// RAdam over a group; `steps[i]` is the step count after this step.
pub fn radam(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avg: &[Tensor],
    exp_avg_sq: &[Tensor],
    steps: &[f64],
    h: RAdam,
) -> Result<()> {
    for i in 0..params.len() {
        let (p, g, m, v) = (&params[i], &grads[i], &exp_avg[i], &exp_avg_sq[i]);
        let s = h.scalars(steps[i]);
        dispatch(
            p,
            &[g, m, v],
            &[p, m, v],
            || gpu_kernels::radam_one(p, g, m, v, &s, h),
            || radam_one::<f32>(p, g, m, v, &s, h),
            || radam_one::<f64>(p, g, m, v, &s, h),
        )?;
    }
    Ok(())
}

fn radam_one<T: F>(p: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, s: &[f64; 10], h: RAdam) {
    let rectified = s[9] != 0.0;
    let [decay, wd, w1, b2, w2, bc1, lr, eps, bc2_sqrt, rect] = s.map(T::c);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, ms, vs) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(m), slice_mut::<T>(v)) };
    let (coupled, decoupled) = (h.weight_decay != 0.0 && !h.decoupled, h.weight_decay != 0.0 && h.decoupled);
    let one = T::c(1.0);
    for i in 0..ps.len() {
        let mut d = if h.maximize { -gs[i] } else { gs[i] };
        if decoupled {
            ps[i] = ps[i] * decay;
        } else if coupled {
            d = d + wd * ps[i];
        }
        ms[i] = lerp(ms[i], d, w1);
        vs[i] = vs[i] * b2 + w2 * d * d;
        let step = (ms[i] / bc1) * lr;
        let step = if rectified { step * ((one / (vs[i].sqrt() + eps)) * bc2_sqrt) * rect } else { step };
        ps[i] = ps[i] - step;
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Adamax {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

/// Adamax over a group; `steps[i]` is the step count after this step.
pub fn adamax(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avg: &[Tensor],
    exp_inf: &[Tensor],
    steps: &[f64],
    h: Adamax,
) -> Result<()> {
    for i in 0..params.len() {
        let (p, g, m, u) = (&params[i], &grads[i], &exp_avg[i], &exp_inf[i]);
        let clr = h.lr / (1.0 - h.beta1.powf(steps[i]));
        let s = [h.weight_decay, 1.0 - h.beta1, h.beta2, h.eps, -clr];
        dispatch(
            p,
            &[g, m, u],
            &[p, m, u],
            || gpu_kernels::adamax_one(p, g, m, u, &s, h),
            || adamax_one::<f32>(p, g, m, u, &s, h),
            || adamax_one::<f64>(p, g, m, u, &s, h),
        )?;
    }
    Ok(())
}

fn adamax_one<T: F>(p: &Tensor, g: &Tensor, m: &Tensor, u: &Tensor, s: &[f64; 5], h: Adamax) {
    let [wd, w1, b2, eps, nclr] = s.map(T::c);
    let wd = (h.weight_decay != 0.0).then_some(wd);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, ms, us) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(m), slice_mut::<T>(u)) };
    let zero = T::c(0.0);
    for i in 0..ps.len() {
        let d = grad_dir(gs[i], ps[i], h.maximize, wd);
        ms[i] = lerp(ms[i], d, w1);
        let abs = if d < zero { -d } else { d };
        us[i] = max_nan(us[i] * b2, abs + eps);
        ps[i] = ps[i] + nclr * ms[i] / us[i];
    }
}
