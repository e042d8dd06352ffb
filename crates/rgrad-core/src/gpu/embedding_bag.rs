//! `embedding_bag`'s forward on the device (ops/embedding_bag.rs): one invocation per output
//! element (bag, feature) walks its bag's entries, reading the indices and offsets where they
//! are (int32 or int64), and sums (optionally weighted), averages or takes the max of the
//! picked rows' feature, recording for max the row it came from (int32; the first row on a
//! tie, as the host kernel). Out-of-range indices and malformed offsets set a status word,
//! the call's one readback (4 bytes): on a bad input the host reruns its checks on a copy to
//! raise PyTorch's message. Sizes beyond the kernel's u32 arithmetic run on the host.

use super::imp::{buffer_of, ctx, empty, groups, plain};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, storage_type, WORKGROUP};
use crate::error::Result;
use crate::ops::embedding_bag::{bag_bounds, check_indices, host_forward, host_i64, BagMode, BagOptions};
use crate::{bail, DType, Device, Scalar, Tensor};
use std::fmt::Write;

/// p = [n = bags * dim, dim, entries, rows, offsets (0: fixed bags), bag_len, padding
/// (u32::MAX: none), mode (0 sum, 1 mean, 2 max), per-sample weights given].
fn kernel(dt: DType, it: DType, ot: DType) -> String {
    let (t, i, o) = (storage_type(dt), storage_type(it), storage_type(ot));
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[
            ("w", Read, t),
            ("idx", Read, i),
            ("offs", Read, o),
            ("psw", Read, t),
            ("outb", ReadWrite, t),
            ("arg", ReadWrite, "i32"),
            ("st", ReadWrite, "atomic<u32>"),
        ],
    );
    wgsl::entry(&mut s);
    let _ = writeln!(
        s,
        r#"  let dim = p[1];
  let d = i % dim;
  let b = i / dim;
  let is_max = p[7] == 2u;
  var lo = b * p[5];
  var hi = lo + p[5];
  if (p[4] != 0u) {{
    let a = offs[b];
    var e = {o}(p[2]);
    if (b + 1u < p[4]) {{ e = offs[b + 1u]; }}
    if (a < {o}(0) || e < a || e > {o}(p[2]) || (b == 0u && a != {o}(0))) {{
      if (d == 0u) {{ atomicOr(&st[0], 2u); }}
      outb[i] = {t}(0);
      if (is_max) {{ arg[i] = -1; }}
      return;
    }}
    lo = u32(a);
    hi = u32(e);
  }}
  var acc = {t}(0);
  var best = -1;
  var cnt = 0u;
  for (var j = lo; j < hi; j = j + 1u) {{
    let v = idx[j];
    if (v < {i}(0) || v >= {i}(p[3])) {{
      if (d == 0u) {{ atomicOr(&st[0], 1u); }}
      continue;
    }}
    let r = u32(v);
    if (r == p[6]) {{ continue; }}
    let x = w[r * dim + d];
    if (is_max) {{
      if (cnt == 0u || x > acc) {{ acc = x; best = i32(r); }}
    }} else if (p[8] != 0u) {{
      acc = acc + psw[j] * x;
    }} else {{
      acc = acc + x;
    }}
    cnt = cnt + 1u;
  }}
  if (p[7] == 1u && cnt > 0u) {{ acc = acc / {t}(cnt); }}
  outb[i] = acc;
  if (is_max) {{ arg[i] = best; }}
}}"#
    );
    s
}

/// The host's checks on copies of the indices and offsets, for the message of a bad input
/// the kernel flagged (or found nothing wrong with: sizes it does not cover).
fn host_checks(
    index: &Tensor,
    offsets: Option<&Tensor>,
    fixed: (usize, usize),
    rows: usize,
    include_last: bool,
) -> Result<()> {
    let offs = offsets.map(host_i64).transpose()?;
    bag_bounds(offs.as_deref(), index.numel(), fixed, include_last)?;
    check_indices(&host_i64(index)?, rows)
}

/// The forward on the host, for sizes past the kernel's u32 arithmetic: copies there and
/// back (the argmax stays on the host; the backward reads it there).
fn on_host(
    weight: &Tensor,
    index: &Tensor,
    offsets: Option<&Tensor>,
    fixed: (usize, usize),
    psw: Option<&Tensor>,
    padding: Option<i64>,
    opts: &BagOptions,
) -> Result<(Tensor, Option<Tensor>)> {
    let (w, x) = (weight.detach().to_cpu()?, index.to_cpu()?);
    let o = offsets.map(|o| o.to_cpu()).transpose()?;
    let p = psw.map(|p| p.detach().to_cpu()).transpose()?;
    let (out, arg) = host_forward(&w, &x, o.as_ref(), fixed, p.as_ref(), padding, opts)?;
    Ok((out.to_device_kernel(Device::Wgpu)?, arg))
}

/// `(output, argmax)` on the device: output `(bags, dim)` of the weight's dtype, argmax
/// `(bags, dim)` int32 for max mode.
pub fn forward(
    weight: &Tensor,
    index: &Tensor,
    offsets: Option<&Tensor>,
    fixed: (usize, usize),
    psw: Option<&Tensor>,
    padding: Option<i64>,
    opts: &BagOptions,
) -> Result<(Tensor, Option<Tensor>)> {
    let (rows, dim) = (weight.shape()[0], weight.shape()[1]);
    // The caller counted the bags, with offsets or without (`fixed = (bags, bag length)`).
    let n_bags = fixed.0;
    let is_max = opts.mode == BagMode::Max;
    let zeros = || -> Result<(Tensor, Option<Tensor>)> {
        let out = Tensor::full_on(&[n_bags, dim], Scalar::Int(0), weight.dtype(), Device::Wgpu)?;
        let arg = is_max.then(|| Tensor::full_on(&[n_bags, dim], Scalar::Int(-1), DType::I32, Device::Wgpu));
        Ok((out, arg.transpose()?))
    };
    let n = n_bags * dim;
    if n == 0 || index.numel() == 0 {
        // Nothing to read: the offsets are still checked (a copy of a few words).
        host_checks(index, offsets, fixed, rows, opts.include_last_offset)?;
        return zeros();
    }
    let fits = |v: usize| v < u32::MAX as usize;
    if !fits(n) || !fits(index.numel()) || !fits(rows.saturating_mul(dim)) {
        return on_host(weight, index, offsets, fixed, psw, padding, opts);
    }
    let c = ctx()?;
    let (w, x) = (plain(weight)?, plain(index)?);
    let o = offsets.map(plain).transpose()?;
    let p = psw.map(plain).transpose()?;
    let out = empty(&[n_bags, dim], weight.dtype())?;
    let arg = empty(&[if is_max { n } else { 1 }], DType::I32)?;
    let status = c.upload(&0u32.to_le_bytes())?;
    let (dt, it) = (weight.dtype(), x.dtype());
    let ot = o.as_ref().map_or(it, |o| o.dtype());
    let k = c.kernel(&format!("embedding_bag|{dt:?}|{it:?}|{ot:?}"), || kernel(dt, it, ot))?;
    let xb = buffer_of(&x)?.raw();
    let wb = buffer_of(&w)?.raw();
    let ob = match &o {
        Some(o) => buffer_of(o)?.raw(),
        None => xb,
    };
    let pb = match &p {
        Some(p) => buffer_of(p)?.raw(),
        None => wb,
    };
    let bufs = [wb, xb, ob, pb, buffer_of(&out)?.raw(), buffer_of(&arg)?.raw(), status.raw()];
    let mode = match opts.mode {
        BagMode::Sum => 0,
        BagMode::Mean => 1,
        BagMode::Max => 2,
    };
    let params = [
        n as u32,
        dim as u32,
        x.numel() as u32,
        rows as u32,
        o.as_ref().map_or(0, |o| o.numel() as u32),
        fixed.1 as u32,
        padding.map_or(u32::MAX, |v| v as u32),
        mode,
        p.is_some() as u32,
    ];
    c.dispatch(&k, &bufs, &params, groups(n, WORKGROUP))?;
    let word = c.read(status.raw(), 0, 4)?;
    if u32::from_le_bytes([word[0], word[1], word[2], word[3]]) != 0 {
        host_checks(index, offsets, fixed, rows, opts.include_last_offset)?;
        bail!(Runtime, "embedding_bag: invalid indices or offsets");
    }
    let arg = if is_max { Some(arg.reshape(&[n_bags as i64, dim as i64])?) } else { None };
    Ok((out, arg))
}
