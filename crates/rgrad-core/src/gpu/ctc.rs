//! The CTC loss on the device: one invocation per batch item runs the item's recursion over
//! time and states sequentially, as the CPU kernel (cpu/ctc.rs) does, in the same order and
//! with the same log-sum-exp, so the only differences are the device's `exp`/`log` (float32
//! builtins; float64 through the software versions of gpu/wgsl.rs). The forward writes the
//! alphas and the losses, the backward the betas (a device scratch table) and the gradient;
//! neither reads anything back. The host uploads only the packed target labels and the
//! lengths (validated there, so no invocation indexes past a class or a row).
//!
//! WGSL has no infinity literal: -inf is made from its bits, and "is -inf" is `x < -MAX`,
//! which no finite value meets and no compiler folds away.

use super::imp::{buffer_of, contiguous, ctx, empty, groups, plain, supports, upload};
use super::wgsl::Access;
use super::wgsl::{self, storage_type};
use crate::error::Result;
use crate::ops::ctc::CtcTargets;
use crate::{DType, Tensor};

/// Invocations per workgroup: batches are small, so small groups.
const THREADS: u32 = 64;

/// The helpers both kernels share: bindings are declared by each kernel first.
fn helpers(t: &str) -> String {
    let max = if t == "f64" { "1.7976931348623157e308" } else { "3.40282347e38" };
    format!(
        r#"fn ninf() -> {t} {{ return {t}(bitcast<f32>(0xff800000u)); }}
fn qnan() -> {t} {{ return {t}(bitcast<f32>(0x7fc00000u)); }}
fn is_ninf(x: {t}) -> bool {{ return x < -{max}; }}
fn is_pinf(x: {t}) -> bool {{ return x > {max}; }}
fn ex(x: {t}) -> {t} {{ if (is_ninf(x)) {{ return {t}(0); }} return exp(x); }}
fn lse2(a: {t}, b: {t}) -> {t} {{
  var m = a;
  if (b > m) {{ m = b; }}
  if (is_ninf(m)) {{ return ninf(); }}
  return log(ex(a - m) + ex(b - m)) + m;
}}
fn lse3(a: {t}, b: {t}, c: {t}) -> {t} {{
  var m = a;
  if (b > m) {{ m = b; }}
  if (c > m) {{ m = c; }}
  if (is_ninf(m)) {{ return ninf(); }}
  return log(ex(a - m) + ex(b - m) + ex(c - m)) + m;
}}
// p = [n, t_max, c, states, blank, lp_off, zero_infinity, g_off]; items = [ilen, tlen, label offset] per item
fn lpv(t: u32, b: u32, k: u32) -> {t} {{ return lp[p[5] + (t * p[0] + b) * p[2] + k]; }}
fn prime(b: u32, s: u32) -> u32 {{
  if (s % 2u == 0u) {{ return p[4]; }}
  return u32(lab[u32(items[3u * b + 2u]) + s / 2u]);
}}
"#
    )
}

/// `names` as (name, element type with "T" for the loss dtype, written) through wgsl::bindings.
fn bindings(t: &str, names: &[(&str, &str, bool)]) -> String {
    let list: Vec<(&str, Access, &str)> = names
        .iter()
        .map(|&(name, ty, write)| {
            (name, if write { Access::ReadWrite } else { Access::Read }, if ty == "T" { t } else { ty })
        })
        .collect();
    let mut s = String::new();
    wgsl::bindings(&mut s, &list);
    s
}

fn forward_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    wgsl::header(&mut s);
    s.push_str(&bindings(
        t,
        &[
            ("lp", "T", false),
            ("lab", "i32", false),
            ("items", "i32", false),
            ("la", "T", true),
            ("nll", "T", true),
        ],
    ));
    s.push_str(&helpers(t));
    wgsl::entry_with(&mut s, THREADS);
    s.push_str(
        r#"  let b = i;
  let il = u32(items[3u * b]);
  let tl = u32(items[3u * b + 1u]);
  let ns = p[3];
  let base = b * p[1] * ns;
  for (var k = 0u; k < p[1] * ns; k = k + 1u) { la[base + k] = ninf(); }
  if (il == 0u) {
    if (tl == 0u) { nll[b] = 0.0; } else { nll[b] = -ninf(); }
    return;
  }
  la[base] = lpv(0u, b, p[4]);
  if (tl > 0u) { la[base + 1u] = lpv(0u, b, prime(b, 1u)); }
  for (var t = 1u; t < il; t = t + 1u) {
    let prev = base + (t - 1u) * ns;
    let cur = base + t * ns;
    for (var s = 0u; s < 2u * tl + 1u; s = s + 1u) {
      let here = prime(b, s);
      var l2 = ninf();
      if (s > 0u) { l2 = la[prev + s - 1u]; }
      var l3 = ninf();
      if (s > 1u) { if (prime(b, s - 2u) != here) { l3 = la[prev + s - 2u]; } }
      la[cur + s] = lse3(la[prev + s], l2, l3) + lpv(t, b, here);
    }
  }
  let last = base + (il - 1u) * ns;
  if (tl == 0u) {
    nll[b] = -la[last];
  } else {
    nll[b] = -lse2(la[last + 2u * tl], la[last + 2u * tl - 1u]);
  }
}
"#,
    );
    wgsl::finish_for(s, dt)
}

fn backward_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    wgsl::header(&mut s);
    s.push_str(&bindings(
        t,
        &[
            ("lp", "T", false),
            ("lab", "i32", false),
            ("items", "i32", false),
            ("la", "T", false),
            ("nll", "T", false),
            ("gout", "T", false),
            ("lb", "T", true),
            ("grad", "T", true),
        ],
    ));
    s.push_str(&helpers(t));
    wgsl::entry_with(&mut s, THREADS);
    s.push_str(
        r#"  let b = i;
  let n = p[0];
  let c = p[2];
  let il = u32(items[3u * b]);
  let tl = u32(items[3u * b + 1u]);
  let ns = p[3];
  let base = b * p[1] * ns;
  let nl = nll[b];
  let gr = gout[p[7] + b];
  if (p[6] != 0u && is_pinf(nl)) {
    for (var t = 0u; t < p[1]; t = t + 1u) {
      for (var k = 0u; k < c; k = k + 1u) { grad[(t * n + b) * c + k] = 0.0; }
    }
    return;
  }
  // Until the last pass, grad holds log(sum over the states of class k of alpha * beta).
  for (var t = 0u; t < p[1]; t = t + 1u) {
    for (var k = 0u; k < c; k = k + 1u) {
      if (t < il) { grad[(t * n + b) * c + k] = ninf(); } else { grad[(t * n + b) * c + k] = 0.0; }
    }
  }
  if (il == 0u) { return; }
  let last = il - 1u;
  let lrow = base + last * ns;
  for (var s = 0u; s < 2u * tl + 1u; s = s + 1u) { lb[lrow + s] = ninf(); }
  lb[lrow + 2u * tl] = lpv(last, b, p[4]);
  grad[(last * n + b) * c + p[4]] = la[lrow + 2u * tl] + lb[lrow + 2u * tl];
  if (tl > 0u) {
    let k = prime(b, 2u * tl - 1u);
    lb[lrow + 2u * tl - 1u] = lpv(last, b, k);
    grad[(last * n + b) * c + k] = la[lrow + 2u * tl - 1u] + lb[lrow + 2u * tl - 1u];
  }
  for (var t = last; t > 0u; t = t - 1u) {
    let cur = base + (t - 1u) * ns;
    let next = base + t * ns;
    for (var s1 = 2u * tl + 1u; s1 > 0u; s1 = s1 - 1u) {
      let s = s1 - 1u;
      let here = prime(b, s);
      var l2 = ninf();
      if (s < 2u * tl) { l2 = lb[next + s + 1u]; }
      var l3 = ninf();
      if (s + 1u < 2u * tl) { if (prime(b, s + 2u) != here) { l3 = lb[next + s + 2u]; } }
      let v = lse3(lb[next + s], l2, l3) + lpv(t - 1u, b, here);
      lb[cur + s] = v;
      let ab = la[cur + s] + v;
      let gi = ((t - 1u) * n + b) * c + here;
      let acc = grad[gi];
      if (is_ninf(acc)) { grad[gi] = ab; } else { grad[gi] = lse2(acc, ab); }
    }
  }
  // eq. 16: exp(lp) - exp(log(sum alpha beta) + nll - lp), NaN where the loss is infinite
  // (as the host's -inf + inf).
  for (var t = 0u; t < il; t = t + 1u) {
    for (var k = 0u; k < c; k = k + 1u) {
      let gi = (t * n + b) * c + k;
      let l = lpv(t, b, k);
      if (is_pinf(nl)) { grad[gi] = qnan(); } else { grad[gi] = (exp(l) - ex(grad[gi] + nl - l)) * gr; }
    }
  }
}
"#,
    );
    wgsl::finish_for(s, dt)
}

/// The labels and per-item [ilen, tlen, offset] words on the device (each at least one
/// element: the device has no empty bindings).
fn targets_on_device(tg: &CtcTargets) -> Result<Option<(Tensor, Tensor)>> {
    let fits = |v: usize| i32::try_from(v).ok();
    let mut labels = Vec::with_capacity(tg.labels.len().max(1));
    for &l in &tg.labels {
        let Some(v) = fits(l) else { return Ok(None) };
        labels.push(v);
    }
    if labels.is_empty() {
        labels.push(0);
    }
    let mut meta = Vec::with_capacity(3 * tg.n);
    for b in 0..tg.n {
        for v in [tg.ilen[b], tg.tlen[b], tg.offsets[b]] {
            let Some(v) = fits(v) else { return Ok(None) };
            meta.push(v);
        }
    }
    let nl = labels.len();
    let nm = meta.len();
    Ok(Some((upload(&Tensor::from_vec(labels, &[nl]))?, upload(&Tensor::from_vec(meta, &[nm]))?)))
}

/// Whether the kernels take the problem: their dtype, and indices within u32.
fn takes(dt: DType, tg: &CtcTargets) -> bool {
    let alphas = tg.n as u64 * tg.t_max as u64 * (2 * tg.smax as u64 + 1);
    let grads = tg.n as u64 * tg.t_max as u64 * tg.c as u64;
    matches!(dt, DType::F32 | DType::F64) && supports(dt) && alphas.max(grads) < u32::MAX as u64 / 2
}

fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        contiguous(t)
    }
}

fn params(lp: &Tensor, tg: &CtcTargets, zero_infinity: bool, g_off: usize) -> Vec<u32> {
    let ns = 2 * tg.smax + 1;
    [tg.n, tg.t_max, tg.c, ns, tg.blank, lp.layout().offset, zero_infinity as usize, g_off]
        .iter()
        .map(|&v| v as u32)
        .collect()
}

/// The forward of the device tensor `lp` (`(T, N, C)`): (nll, log_alpha) on the device, or
/// None where the kernels do not apply (the caller computes on the host).
pub fn forward(lp: &Tensor, tg: &CtcTargets) -> Result<Option<(Tensor, Tensor)>> {
    let dt = lp.dtype();
    if !takes(dt, tg) || lp.layout().offset > u32::MAX as usize / 2 {
        return Ok(None);
    }
    let Some((lab, meta)) = targets_on_device(tg)? else { return Ok(None) };
    let lp = dense(lp)?;
    let nll = empty(&[tg.n], dt)?;
    let la = empty(&tg.alpha_shape(), dt)?;
    let c = ctx()?;
    let k = c.kernel(&format!("ctc_forward|{dt:?}"), || forward_kernel(dt))?;
    let bufs = [
        buffer_of(&lp)?.raw(),
        buffer_of(&lab)?.raw(),
        buffer_of(&meta)?.raw(),
        buffer_of(&la)?.raw(),
        buffer_of(&nll)?.raw(),
    ];
    c.dispatch(&k, &bufs, &params(&lp, tg, false, 0), groups(tg.n, THREADS))?;
    Ok(Some((nll, la)))
}

/// The gradient with respect to the device tensor `lp` for the per-item gradient `g` (on
/// the device, `lp`'s dtype), or None where the kernels do not apply.
pub fn backward(
    lp: &Tensor,
    tg: &CtcTargets,
    nll: &Tensor,
    la: &Tensor,
    g: &Tensor,
    zero_infinity: bool,
) -> Result<Option<Tensor>> {
    let dt = lp.dtype();
    let offsets_fit = [lp, g].iter().all(|t| t.layout().offset <= u32::MAX as usize / 2);
    if !takes(dt, tg) || !offsets_fit || !nll.is_gpu() || !la.is_gpu() {
        return Ok(None);
    }
    let Some((lab, meta)) = targets_on_device(tg)? else { return Ok(None) };
    let (lp, g) = (dense(lp)?, dense(g)?);
    // The saved results were made by `forward` (contiguous from 0); copies otherwise.
    let (nll, la) = (plain(nll)?, plain(la)?);
    let lb = empty(&tg.alpha_shape(), dt)?;
    let grad = empty(lp.shape(), dt)?;
    let c = ctx()?;
    let k = c.kernel(&format!("ctc_backward|{dt:?}"), || backward_kernel(dt))?;
    let bufs = [
        buffer_of(&lp)?.raw(),
        buffer_of(&lab)?.raw(),
        buffer_of(&meta)?.raw(),
        buffer_of(&la)?.raw(),
        buffer_of(&nll)?.raw(),
        buffer_of(&g)?.raw(),
        buffer_of(&lb)?.raw(),
        buffer_of(&grad)?.raw(),
    ];
    c.dispatch(&k, &bufs, &params(&lp, tg, zero_infinity, g.layout().offset), groups(tg.n, THREADS))?;
    Ok(Some(grad))
}
