//! Fused optimizer steps: one call updates every parameter of a group in place, following
//! PyTorch's single-tensor formulas operation by operation (so float64 trajectories match).

use crate::bail;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::DType;

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
        check(p, &[g])?;
        if h.momentum != 0.0 && buf.is_none() {
            *buf = Some(p.zeros_like_shape(p.shape())?);
            let b = buf.as_ref().expect("just set");
            if on_gpu(p, &[g])? {
                crate::optim_gpu::sgd_one(p, g, Some(b), h, true)?;
                bump(&[p, b]);
                continue;
            }
            match p.dtype() {
                DType::F32 => sgd_one::<f32>(p, g, Some(b), h, true),
                _ => sgd_one::<f64>(p, g, Some(b), h, true),
            }
            continue;
        }
        if let Some(b) = buf.as_ref() {
            check(p, &[g, b])?;
        }
        if on_gpu(p, &[g].into_iter().chain(buf.as_ref()).collect::<Vec<_>>())? {
            crate::optim_gpu::sgd_one(p, g, buf.as_ref(), h, false)?;
            bump(&[p].into_iter().chain(buf.as_ref()).collect::<Vec<_>>());
            continue;
        }
        match p.dtype() {
            DType::F32 => sgd_one::<f32>(p, g, buf.as_ref(), h, false),
            _ => sgd_one::<f64>(p, g, buf.as_ref(), h, false),
        }
    }
    Ok(())
}

/// The update direction before momentum: `±grad + weight_decay * param`.
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
        bump(&[b]);
    }
    let nlr = T::c(-h.lr);
    for (p, &d) in ps.iter_mut().zip(&d) {
        *p = *p + nlr * d;
    }
    bump(&[p]);
}

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
        let mut others = vec![g, m, v];
        others.extend(vmax);
        check(p, &others)?;
        if on_gpu(p, &others)? {
            crate::optim_gpu::adam_one(p, g, m, v, vmax, steps[i], h)?;
            bump(&[p, m, v].into_iter().chain(vmax).collect::<Vec<_>>());
            continue;
        }
        match p.dtype() {
            DType::F32 => adam_one::<f32>(p, g, m, v, vmax, steps[i], h),
            _ => adam_one::<f64>(p, g, m, v, vmax, steps[i], h),
        }
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
    // lerp with weight < 0.5, as PyTorch computes it: m + w * (d - m).
    for ((m, v), &d) in ms.iter_mut().zip(vs.iter_mut()).zip(&d) {
        *m = *m + w1 * (d - *m);
        *v = *v * b2 + w2 * (d * d);
    }
    let second: &[T] = match vmax {
        Some(t) => {
            // SAFETY: as above.
            let vm = unsafe { slice_mut::<T>(t) };
            for (vm, &v) in vm.iter_mut().zip(vs.iter()) {
                if v > *vm || v.is_nan() {
                    *vm = v;
                }
            }
            bump(&[t]);
            vm
        }
        None => vs,
    };
    for ((p, &m), &s) in ps.iter_mut().zip(ms.iter()).zip(second) {
        *p = *p + nstep * (m / (s.sqrt() / bc2_sqrt + eps));
    }
    bump(&[p, m, v]);
}

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
        let mut others = vec![g, s];
        others.extend(ga);
        others.extend(b);
        check(p, &others)?;
        if on_gpu(p, &others)? {
            crate::optim_gpu::rmsprop_one(p, g, s, ga, b, h)?;
            bump(&[p, s].into_iter().chain(ga).chain(b).collect::<Vec<_>>());
            continue;
        }
        match p.dtype() {
            DType::F32 => rmsprop_one::<f32>(p, g, s, ga, b, h),
            _ => rmsprop_one::<f64>(p, g, s, ga, b, h),
        }
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
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, ss) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(s)) };
    let mut gas = ga.map(|t| unsafe { slice_mut::<T>(t) });
    let mut bs = b.map(|t| unsafe { slice_mut::<T>(t) });
    for i in 0..ps.len() {
        let mut d = if h.maximize { -gs[i] } else { gs[i] };
        if h.weight_decay != 0.0 {
            d = d + wd * ps[i];
        }
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
    bump(&[p, s]);
    bump(&ga.into_iter().chain(b).collect::<Vec<_>>());
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
        check(p, &[g, s])?;
        if on_gpu(p, &[g, s])? {
            crate::optim_gpu::adagrad_one(p, g, s, steps[i], h)?;
            bump(&[p, s]);
            continue;
        }
        match p.dtype() {
            DType::F32 => adagrad_one::<f32>(p, g, s, steps[i], h),
            _ => adagrad_one::<f64>(p, g, s, steps[i], h),
        }
    }
    Ok(())
}

fn adagrad_one<T: F>(p: &Tensor, g: &Tensor, s: &Tensor, step: f64, h: Adagrad) {
    let clr = T::c(h.lr / (1.0 + (step - 1.0) * h.lr_decay));
    let (wd, eps) = (T::c(h.weight_decay), T::c(h.eps));
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, ss) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(s)) };
    for i in 0..ps.len() {
        let mut d = if h.maximize { -gs[i] } else { gs[i] };
        if h.weight_decay != 0.0 {
            d = d + wd * ps[i];
        }
        ss[i] = ss[i] + d * d;
        let std = ss[i].sqrt() + eps;
        ps[i] = ps[i] + (-clr) * (d / std);
    }
    bump(&[p, s]);
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
            _ => cpu64(),
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
            || crate::optim_gpu::nadam_one(p, g, m, v, &s, h),
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
            || crate::optim_gpu::radam_one(p, g, m, v, &s, h),
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
            || crate::optim_gpu::adamax_one(p, g, m, u, &s, h),
            || adamax_one::<f32>(p, g, m, u, &s, h),
            || adamax_one::<f64>(p, g, m, u, &s, h),
        )?;
    }
    Ok(())
}

fn adamax_one<T: F>(p: &Tensor, g: &Tensor, m: &Tensor, u: &Tensor, s: &[f64; 5], h: Adamax) {
    let [wd, w1, b2, eps, nclr] = s.map(T::c);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, ms, us) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(m), slice_mut::<T>(u)) };
    let zero = T::c(0.0);
    for i in 0..ps.len() {
        let mut d = if h.maximize { -gs[i] } else { gs[i] };
        if h.weight_decay != 0.0 {
            d = d + wd * ps[i];
        }
        ms[i] = lerp(ms[i], d, w1);
        let abs = if d < zero { -d } else { d };
        us[i] = max_nan(us[i] * b2, abs + eps);
        ps[i] = ps[i] + nclr * ms[i] / us[i];
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
            || crate::optim_gpu::adadelta_one(p, g, sa, ad, &s, h),
            || adadelta_one::<f32>(p, g, sa, ad, &s, h),
            || adadelta_one::<f64>(p, g, sa, ad, &s, h),
        )?;
    }
    Ok(())
}

fn adadelta_one<T: F>(p: &Tensor, g: &Tensor, sa: &Tensor, ad: &Tensor, s: &[f64; 5], h: Adadelta) {
    let [wd, rho, w, eps, nlr] = s.map(T::c);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, sas, ads) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(sa), slice_mut::<T>(ad)) };
    for i in 0..ps.len() {
        let mut d = if h.maximize { -gs[i] } else { gs[i] };
        if h.weight_decay != 0.0 {
            d = d + wd * ps[i];
        }
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
            || crate::optim_gpu::rprop_one(p, g, pr, ss, h),
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
            || crate::optim_gpu::asgd_one(p, g, ax, &s, h),
            || asgd_one::<f32>(p, g, ax, &s, h),
            || asgd_one::<f64>(p, g, ax, &s, h),
        )?;
    }
    Ok(())
}

fn asgd_one<T: F>(p: &Tensor, g: &Tensor, ax: &Tensor, s: &[f64; 4], h: Asgd) {
    let average = s[3] != 1.0;
    let [wd, decay, neta, mu] = s.map(T::c);
    let gs = slice::<T>(g);
    // SAFETY: `check` proved the storages distinct.
    let (ps, axs) = unsafe { (slice_mut::<T>(p), slice_mut::<T>(ax)) };
    for i in 0..ps.len() {
        let mut d = if h.maximize { -gs[i] } else { gs[i] };
        if h.weight_decay != 0.0 {
            d = d + wd * ps[i];
        }
        ps[i] = ps[i] * decay;
        ps[i] = ps[i] + neta * d;
        axs[i] = if average { axs[i] + (ps[i] - axs[i]) * mu } else { ps[i] };
    }
}
