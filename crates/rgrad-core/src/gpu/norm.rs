//! Batch normalization on the device: a per-channel statistics kernel (one workgroup per
//! channel), a fused normalize-and-affine map, the per-channel gradient sums and the fused
//! input gradient. Inputs are contiguous `[n, c, s]` views (any offset); per-channel vectors
//! are contiguous `[c]` views, read at their offsets (the same buffer may back several).

use super::imp::{buffer_of, ctx, empty, groups, scalar_tensor};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{bindings, storage_type, WORKGROUP};
use crate::error::{Error, Result};
use crate::{DType, Scalar, Tensor};
use std::fmt::Write;

const THREADS: u32 = 256;

/// `[n, c, s]` of an input and its element count, refused beyond the kernels' u32 indices.
fn check(n: usize, c: usize, s: usize) -> Result<u32> {
    let total = n.checked_mul(c).and_then(|v| v.checked_mul(s));
    match total {
        Some(t) if t <= u32::MAX as usize / 2 => Ok(t as u32),
        _ => Err(Error::Runtime("wgpu batch_norm: the input exceeds 2^31 elements".into())),
    }
}

fn off(t: &Tensor) -> u32 {
    t.layout().offset as u32
}

/// Per channel `c` of the workgroup: the shifted sums of `a` (or of `a` and `a * (b - mean)`)
/// folded over the workgroup into `r1[0]`, `r2[0]`. `m = n * s` elements per channel.
fn channel_loop(s: &mut String, t: &str, grad: bool) {
    let _ = writeln!(
        s,
        "var<workgroup> r1: array<{t}, {THREADS}>;\nvar<workgroup> r2: array<{t}, {THREADS}>;
@compute @workgroup_size({THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{
  let c = wg.x + wg.y * nw.x;
  let n = p[0]; let cs = p[1]; let sp = p[2];
  if (c >= cs) {{ return; }}
  let m = n * sp;"
    );
    if grad {
        // p = [n, c, s, dy_off, x_off, mean_off]
        let _ = writeln!(
            s,
            "  let k = mean[p[5] + c];
  var a1 = {t}(0); var a2 = {t}(0);
  for (var j = lid; j < m; j = j + {THREADS}u) {{
    let at = ((j / sp) * cs + c) * sp + j % sp;
    let g = dy[p[3] + at];
    a1 = a1 + g; a2 = a2 + g * (x[p[4] + at] - k);
  }}"
        );
    } else {
        // p = [n, c, s, x_off]; values are shifted by the channel's first element.
        let _ = writeln!(
            s,
            "  let k = x[p[3] + c * sp];
  var a1 = {t}(0); var a2 = {t}(0);
  for (var j = lid; j < m; j = j + {THREADS}u) {{
    let v = x[p[3] + ((j / sp) * cs + c) * sp + j % sp] - k;
    a1 = a1 + v; a2 = a2 + v * v;
  }}"
        );
    }
    let _ = writeln!(
        s,
        "  r1[lid] = a1; r2[lid] = a2;
  workgroupBarrier();
  for (var w = {}u; w > 0u; w = w / 2u) {{
    if (lid < w) {{ r1[lid] = r1[lid] + r1[lid + w]; r2[lid] = r2[lid] + r2[lid + w]; }}
    workgroupBarrier();
  }}",
        THREADS / 2
    );
}

fn stats_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    bindings(&mut s, &[("x", Read, t), ("outb", ReadWrite, t), ("sc", Read, t)]);
    channel_loop(&mut s, t, false);
    let _ = writeln!(
        s,
        "  if (lid == 0u) {{
    let mf = {t}(m);
    let d = r1[0] / mf;
    let vs = max(r2[0] - r1[0] * d, {t}(0));
    outb[c] = k + d;
    outb[cs + c] = {t}(1) / sqrt(vs / mf + sc[0]);
    outb[2u * cs + c] = vs / (mf - {t}(1));
  }}
}}"
    );
    s
}

/// Per channel of the contiguous `x` (`[n, c, s]`): a `[3, c]` tensor of the batch mean, the
/// inverse standard deviation `1 / sqrt(biased var + eps)` and the unbiased variance.
pub fn bn_stats(x: &Tensor, n: usize, c: usize, s: usize, eps: f64) -> Result<Tensor> {
    check(n, c, s)?;
    let dt = x.dtype();
    let out = empty(&[3, c], dt)?;
    let cx = ctx()?;
    let kernel = cx.kernel(&format!("bn_stats|{dt:?}"), || stats_kernel(dt))?;
    let eps = scalar_tensor(Scalar::Float(eps), dt)?;
    let bufs = [buffer_of(x)?.raw(), buffer_of(&out)?.raw(), buffer_of(&eps)?.raw()];
    cx.dispatch(&kernel, &bufs, &[n as u32, c as u32, s as u32, off(x)], groups(c, 1))?;
    Ok(out)
}

fn apply_kernel(dt: DType, has_w: bool, has_b: bool) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    let mut bufs = vec![("x", Read, t), ("mean", Read, t), ("invstd", Read, t)];
    if has_w {
        bufs.push(("w", Read, t));
    }
    if has_b {
        bufs.push(("b", Read, t));
    }
    bufs.push(("outb", ReadWrite, t));
    bindings(&mut s, &bufs);
    // p = [numel, c, s, x_off, mean_off, invstd_off, w_off, b_off]
    let _ = writeln!(
        s,
        "@compute @workgroup_size({WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {{
  let i = gid.x + gid.y * nw.x * {WORKGROUP}u;
  if (i >= p[0]) {{ return; }}
  let c = (i / p[2]) % p[1];
  var v = (x[p[3] + i] - mean[p[4] + c]) * invstd[p[5] + c];"
    );
    if has_w {
        s.push_str("  v = v * w[p[6] + c];\n");
    }
    if has_b {
        s.push_str("  v = v + b[p[7] + c];\n");
    }
    s.push_str("  outb[i] = v;\n}\n");
    s
}

/// `(x - mean[c]) * invstd[c] * w[c] + b[c]` over the contiguous `x` (`[n, c, s]`).
#[allow(clippy::too_many_arguments)]
pub fn bn_apply(
    x: &Tensor,
    mean: &Tensor,
    invstd: &Tensor,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    n: usize,
    c: usize,
    s: usize,
) -> Result<Tensor> {
    let numel = check(n, c, s)?;
    let dt = x.dtype();
    let out = empty(x.shape(), dt)?;
    if numel == 0 {
        return Ok(out);
    }
    let cx = ctx()?;
    let (hw, hb) = (w.is_some(), b.is_some());
    let kernel = cx.kernel(&format!("bn_apply|{dt:?}|{hw}|{hb}"), || apply_kernel(dt, hw, hb))?;
    let mut bufs = vec![buffer_of(x)?.raw(), buffer_of(mean)?.raw(), buffer_of(invstd)?.raw()];
    for t in [w, b].into_iter().flatten() {
        bufs.push(buffer_of(t)?.raw());
    }
    bufs.push(buffer_of(&out)?.raw());
    let words = [
        numel,
        c as u32,
        s.max(1) as u32,
        off(x),
        off(mean),
        off(invstd),
        w.map_or(0, off),
        b.map_or(0, off),
    ];
    cx.dispatch(&kernel, &bufs, &words, groups(numel as usize, WORKGROUP))?;
    Ok(out)
}

fn grad_sums_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    bindings(&mut s, &[("dy", Read, t), ("x", Read, t), ("mean", Read, t), ("outb", ReadWrite, t)]);
    channel_loop(&mut s, t, true);
    s.push_str("  if (lid == 0u) { outb[c] = r1[0]; outb[cs + c] = r2[0]; }\n}\n");
    s
}

/// Per channel: `[2, c]` of `sum(dy)` and `sum(dy * (x - mean))`.
pub fn bn_grad_sums(dy: &Tensor, x: &Tensor, mean: &Tensor, n: usize, c: usize, s: usize) -> Result<Tensor> {
    check(n, c, s)?;
    let dt = x.dtype();
    let out = empty(&[2, c], dt)?;
    let cx = ctx()?;
    let kernel = cx.kernel(&format!("bn_grad_sums|{dt:?}"), || grad_sums_kernel(dt))?;
    let bufs = [buffer_of(dy)?.raw(), buffer_of(x)?.raw(), buffer_of(mean)?.raw(), buffer_of(&out)?.raw()];
    cx.dispatch(&kernel, &bufs, &[n as u32, c as u32, s as u32, off(dy), off(x), off(mean)], groups(c, 1))?;
    Ok(out)
}

fn grad_input_kernel(dt: DType, has_w: bool, training: bool) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    // Auto-derived layouts drop unused bindings, so evaluation declares only what it reads.
    let mut bufs = vec![("dy", Read, t), ("invstd", Read, t)];
    if training {
        bufs.extend([("x", Read, t), ("mean", Read, t), ("sums", Read, t)]);
    }
    if has_w {
        bufs.push(("w", Read, t));
    }
    bufs.push(("outb", ReadWrite, t));
    bindings(&mut s, &bufs);
    // p = [numel, c, s, dy_off, x_off, mean_off, invstd_off, w_off, m]
    let _ = writeln!(
        s,
        "@compute @workgroup_size({WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {{
  let i = gid.x + gid.y * nw.x * {WORKGROUP}u;
  if (i >= p[0]) {{ return; }}
  let cs = p[1];
  let c = (i / p[2]) % cs;
  let is = invstd[p[6] + c];
  var g = dy[p[3] + i];"
    );
    if training {
        // dx = (dy - sum(dy) / m - (x - mean) * invstd^2 * sum(dy (x - mean)) / m) * invstd * w
        let _ = writeln!(
            s,
            "  let mf = {t}(p[8]);
  g = g - sums[c] / mf - (x[p[4] + i] - mean[p[5] + c]) * is * is * sums[cs + c] / mf;"
        );
    }
    s.push_str("  g = g * is;\n");
    if has_w {
        s.push_str("  g = g * w[p[7] + c];\n");
    }
    s.push_str("  outb[i] = g;\n}\n");
    s
}

/// The input gradient: with `sums` (from [`bn_grad_sums`]) the training rule, without it the
/// evaluation one (`dy * invstd * w`).
#[allow(clippy::too_many_arguments)]
pub fn bn_grad_input(
    dy: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    invstd: &Tensor,
    w: Option<&Tensor>,
    sums: Option<&Tensor>,
    n: usize,
    c: usize,
    s: usize,
) -> Result<Tensor> {
    let numel = check(n, c, s)?;
    let dt = x.dtype();
    let out = empty(x.shape(), dt)?;
    if numel == 0 {
        return Ok(out);
    }
    let cx = ctx()?;
    let (hw, tr) = (w.is_some(), sums.is_some());
    let kernel = cx.kernel(&format!("bn_grad_input|{dt:?}|{hw}|{tr}"), || grad_input_kernel(dt, hw, tr))?;
    let mut bufs = vec![buffer_of(dy)?.raw(), buffer_of(invstd)?.raw()];
    if let Some(sums) = sums {
        bufs.extend([buffer_of(x)?.raw(), buffer_of(mean)?.raw(), buffer_of(sums)?.raw()]);
    }
    if let Some(w) = w {
        bufs.push(buffer_of(w)?.raw());
    }
    bufs.push(buffer_of(&out)?.raw());
    let words = [
        numel,
        c as u32,
        s.max(1) as u32,
        off(dy),
        off(x),
        off(mean),
        off(invstd),
        w.map_or(0, off),
        (n * s) as u32,
    ];
    cx.dispatch(&kernel, &bufs, &words, groups(numel as usize, WORKGROUP))?;
    Ok(out)
}
