//! Scaled dot-product attention on the device (float32): one invocation per query row for the
//! forward (an online softmax over the keys, the output accumulated in registers, the row's
//! log-sum-exp saved) and for the query gradient; one invocation per key row for the key and
//! value gradients, so no two invocations write the same element (no atomics). Operands are
//! contiguous `[nb, rows, dim]` views (any offset); the mask, when given, is a contiguous
//! `[nb, l, s]` of bools (`u32` words) or of float offsets. Feature dims are at most
//! [`MAX_DIM`] (private arrays); the caller runs the tensor-op composite beyond that.

use super::imp::{buffer_of, ctx, empty, groups, scalar_tensor};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{bindings, Access};
use super::{DeviceDims, DeviceMask, ATTENTION_MAX_DIM as MAX_DIM};
use crate::error::{Error, Result};
use crate::{DType, Scalar, Tensor};
use std::fmt::Write;

const THREADS: u32 = 64;
/// Saved as the log-sum-exp of a row where no key takes part (WGSL has no infinity literal).
const EMPTY_ROW: &str = "-3.0e38";

fn words(d: &DeviceDims, ts: &[&Tensor]) -> Result<Vec<u32>> {
    let fits =
        |v: usize| u32::try_from(v).map_err(|_| Error::Runtime("wgpu attention: sizes exceed 2^32".into()));
    let rows =
        d.nb.checked_mul(d.l.max(d.s))
            .ok_or_else(|| Error::Runtime("wgpu attention: size overflow".into()))?;
    let mut w =
        vec![fits(d.nb)?, fits(d.l)?, fits(d.s)?, fits(d.e)?, fits(d.ev)?, u32::from(d.causal), fits(rows)?];
    for t in ts {
        w.push(fits(t.layout().offset)?);
    }
    Ok(w)
}

/// The shared prelude: bindings, the parameter names, the mask test and the score of
/// query row `r` (pair `b`, query `i`) against key `j`.
fn prelude(d: &DeviceDims, names: &[(&str, Access)], mask_at: usize) -> String {
    let mut s = String::new();
    // The operands (float32), then the mask when there is one and the scale, as `launch` binds.
    let mut bufs: Vec<_> = names.iter().map(|&(name, access)| (name, access, "f32")).collect();
    match d.mask {
        DeviceMask::None => {}
        DeviceMask::Bool => bufs.push(("msk", Read, "u32")),
        DeviceMask::Float => bufs.push(("msk", Read, "f32")),
    }
    bufs.push(("sc", Read, "f32"));
    bindings(&mut s, &bufs);
    // p = [nb, l, s, e, ev, causal, rows, q_off, k_off, v_off, <kernel's offsets>, mask_off]
    let mask_off = format!("p[{mask_at}]");
    let _ = writeln!(
        s,
        "fn takes_part(b: u32, i: u32, j: u32) -> bool {{
  if (p[5] != 0u && j > i) {{ return false; }}
{}
}}
fn score(b: u32, i: u32, j: u32) -> f32 {{
  var acc = 0.0;
  let qb = p[7] + (b * p[1] + i) * p[3];
  let kb = p[8] + (b * p[2] + j) * p[3];
  for (var c = 0u; c < p[3]; c = c + 1u) {{ acc = acc + q[qb + c] * k[kb + c]; }}
  acc = acc * sc[0];
{}
}}",
        match d.mask {
            DeviceMask::Bool => format!("  return msk[{mask_off} + (b * p[1] + i) * p[2] + j] != 0u;"),
            DeviceMask::Float =>
                format!("  return msk[{mask_off} + (b * p[1] + i) * p[2] + j] > {EMPTY_ROW};"),
            DeviceMask::None => "  return true;".into(),
        },
        match d.mask {
            DeviceMask::Float => format!("  return acc + msk[{mask_off} + (b * p[1] + i) * p[2] + j];"),
            _ => "  return acc;".into(),
        }
    );
    s
}

fn entry(s: &mut String, count: &str) {
    let _ = writeln!(
        s,
        "@compute @workgroup_size({THREADS})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {{
  let r = gid.x + gid.y * nw.x * {THREADS}u;
  if (r >= {count}) {{ return; }}"
    );
}

fn forward_kernel(d: &DeviceDims) -> String {
    let mut s =
        prelude(d, &[("q", Read), ("k", Read), ("v", Read), ("o", ReadWrite), ("lse", ReadWrite)], 12);
    entry(&mut s, "p[0] * p[1]");
    // p[10] = o_off (unused: outputs are fresh), p[11] = lse_off
    let _ = writeln!(
        s,
        "  let b = r / p[1]; let i = r % p[1];
  var acc: array<f32, {MAX_DIM}>;
  for (var c = 0u; c < p[4]; c = c + 1u) {{ acc[c] = 0.0; }}
  var m = 0.0; var l = 0.0; var started = false;
  for (var j = 0u; j < p[2]; j = j + 1u) {{
    if (!takes_part(b, i, j)) {{ continue; }}
    let x = score(b, i, j);
    if (!started) {{ m = x; started = true; }}
    if (x > m) {{
      let a = exp(m - x);
      l = l * a;
      for (var c = 0u; c < p[4]; c = c + 1u) {{ acc[c] = acc[c] * a; }}
      m = x;
    }}
    let e = exp(x - m);
    l = l + e;
    let vb = p[9] + (b * p[2] + j) * p[4];
    for (var c = 0u; c < p[4]; c = c + 1u) {{ acc[c] = acc[c] + e * v[vb + c]; }}
  }}
  let ob = r * p[4];
  if (l > 0.0) {{
    for (var c = 0u; c < p[4]; c = c + 1u) {{ o[ob + c] = acc[c] / l; }}
    lse[r] = m + log(l);
  }} else {{
    for (var c = 0u; c < p[4]; c = c + 1u) {{ o[ob + c] = 0.0; }}
    lse[r] = {EMPTY_ROW};
  }}
}}"
    );
    s
}

/// The probability of (i, j) from the row's log-sum-exp (0 for a row where nothing takes part).
const PROB: &str = "fn prob(b: u32, i: u32, j: u32, m: f32) -> f32 {
  if (m <= -1.0e38 || !takes_part(b, i, j)) { return 0.0; }
  return exp(score(b, i, j) - m);
}";

/// Query gradient and `D = rowsum(dO * O)` per query row.
fn dq_kernel(d: &DeviceDims) -> String {
    let names = [
        ("q", Read),
        ("k", Read),
        ("v", Read),
        ("o", Read),
        ("dout", Read),
        ("lse", Read),
        ("dq", ReadWrite),
        ("dsum", ReadWrite),
    ];
    let mut s = prelude(d, &names, 13);
    s.push_str(PROB);
    s.push('\n');
    entry(&mut s, "p[0] * p[1]");
    // p[10] = o_off, p[11] = do_off, p[12] = lse_off
    let _ = writeln!(
        s,
        "  let b = r / p[1]; let i = r % p[1];
  let ob = p[10] + r * p[4]; let gb = p[11] + r * p[4];
  var dd = 0.0;
  for (var c = 0u; c < p[4]; c = c + 1u) {{ dd = dd + dout[gb + c] * o[ob + c]; }}
  dsum[r] = dd;
  let m = lse[p[12] + r];
  var acc: array<f32, {MAX_DIM}>;
  for (var c = 0u; c < p[3]; c = c + 1u) {{ acc[c] = 0.0; }}
  for (var j = 0u; j < p[2]; j = j + 1u) {{
    let pr = prob(b, i, j, m);
    if (pr == 0.0) {{ continue; }}
    let vb = p[9] + (b * p[2] + j) * p[4];
    var dp = 0.0;
    for (var c = 0u; c < p[4]; c = c + 1u) {{ dp = dp + dout[gb + c] * v[vb + c]; }}
    let ds = pr * (dp - dd) * sc[0];
    let kb = p[8] + (b * p[2] + j) * p[3];
    for (var c = 0u; c < p[3]; c = c + 1u) {{ acc[c] = acc[c] + ds * k[kb + c]; }}
  }}
  for (var c = 0u; c < p[3]; c = c + 1u) {{ dq[r * p[3] + c] = acc[c]; }}
}}"
    );
    s
}

/// Key and value gradients per key row.
fn dkv_kernel(d: &DeviceDims) -> String {
    let names = [
        ("q", Read),
        ("k", Read),
        ("v", Read),
        ("dout", Read),
        ("lse", Read),
        ("dsum", Read),
        ("dk", ReadWrite),
        ("dv", ReadWrite),
    ];
    let mut s = prelude(d, &names, 13);
    s.push_str(PROB);
    s.push('\n');
    entry(&mut s, "p[0] * p[2]");
    // p[10] = do_off, p[11] = lse_off, p[12] = dsum_off
    let _ = writeln!(
        s,
        "  let b = r / p[2]; let j = r % p[2];
  var ak: array<f32, {MAX_DIM}>;
  var av: array<f32, {MAX_DIM}>;
  for (var c = 0u; c < p[3]; c = c + 1u) {{ ak[c] = 0.0; }}
  for (var c = 0u; c < p[4]; c = c + 1u) {{ av[c] = 0.0; }}
  let vb = p[9] + r * p[4];
  var i0 = 0u;
  if (p[5] != 0u) {{ i0 = j; }}
  for (var i = i0; i < p[1]; i = i + 1u) {{
    let row = b * p[1] + i;
    let pr = prob(b, i, j, lse[p[11] + row]);
    if (pr == 0.0) {{ continue; }}
    let gb = p[10] + row * p[4];
    var dp = 0.0;
    for (var c = 0u; c < p[4]; c = c + 1u) {{
      av[c] = av[c] + pr * dout[gb + c];
      dp = dp + dout[gb + c] * v[vb + c];
    }}
    let ds = pr * (dp - dsum[p[12] + row]) * sc[0];
    let qb = p[7] + row * p[3];
    for (var c = 0u; c < p[3]; c = c + 1u) {{ ak[c] = ak[c] + ds * q[qb + c]; }}
  }}
  for (var c = 0u; c < p[3]; c = c + 1u) {{ dk[r * p[3] + c] = ak[c]; }}
  for (var c = 0u; c < p[4]; c = c + 1u) {{ dv[r * p[4] + c] = av[c]; }}
}}"
    );
    s
}

fn key(name: &str, d: &DeviceDims) -> String {
    format!("sdpa_{name}|{:?}", d.mask)
}

/// Binds the operands, the mask, the scale and dispatches `rows` invocations.
#[allow(clippy::too_many_arguments)]
fn launch(
    name: &str,
    d: &DeviceDims,
    source: impl FnOnce() -> String,
    bufs: &[&Tensor],
    mask: Option<&Tensor>,
    offsets: &[&Tensor],
    scale: f64,
    rows: usize,
) -> Result<()> {
    let cx = ctx()?;
    let kernel = cx.kernel(&key(name, d), source)?;
    let sc = scalar_tensor(Scalar::Float(scale), DType::F32)?;
    let mut raw = Vec::with_capacity(bufs.len() + 2);
    for t in bufs {
        raw.push(buffer_of(t)?.raw());
    }
    if let Some(m) = mask {
        raw.push(buffer_of(m)?.raw());
    }
    raw.push(buffer_of(&sc)?.raw());
    let mut all: Vec<&Tensor> = offsets.to_vec();
    all.extend(mask);
    let w = words(d, &all)?;
    cx.dispatch(&kernel, &raw, &w, groups(rows, THREADS))
}

/// Output `[nb, l, ev]` and log-sum-exp `[nb, l]` of contiguous `q`, `k`, `v` (and mask).
pub fn sdpa_forward(
    d: &DeviceDims,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    scale: f64,
) -> Result<(Tensor, Tensor)> {
    let o = empty(&[d.nb, d.l, d.ev], DType::F32)?;
    let lse = empty(&[d.nb, d.l], DType::F32)?;
    let z = scalar_tensor(Scalar::Float(0.0), DType::F32)?;
    launch(
        "fwd",
        d,
        || forward_kernel(d),
        &[q, k, v, &o, &lse],
        mask,
        &[q, k, v, &z, &z],
        scale,
        d.nb * d.l,
    )?;
    Ok((o, lse))
}

/// Gradients `[nb, l, e]`, `[nb, s, e]`, `[nb, s, ev]` of contiguous operands.
#[allow(clippy::too_many_arguments)]
pub fn sdpa_backward(
    d: &DeviceDims,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    out: &Tensor,
    dout: &Tensor,
    lse: &Tensor,
    scale: f64,
) -> Result<[Tensor; 3]> {
    let dq = empty(&[d.nb, d.l, d.e], DType::F32)?;
    let dsum = empty(&[d.nb, d.l], DType::F32)?;
    launch(
        "dq",
        d,
        || dq_kernel(d),
        &[q, k, v, out, dout, lse, &dq, &dsum],
        mask,
        &[q, k, v, out, dout, lse],
        scale,
        d.nb * d.l,
    )?;
    let dk = empty(&[d.nb, d.s, d.e], DType::F32)?;
    let dv = empty(&[d.nb, d.s, d.ev], DType::F32)?;
    launch(
        "dkv",
        d,
        || dkv_kernel(d),
        &[q, k, v, dout, lse, &dsum, &dk, &dv],
        mask,
        &[q, k, v, dout, lse, &dsum],
        scale,
        d.nb * d.s,
    )?;
    Ok([dq, dk, dv])
}
