//! Running scans along the last dim on the device, one invocation per row (rows are
//! independent; a row's scan is sequential, as the host's): cummax/cummin with their indices
//! under PyTorch's rules (a NaN takes over and every later NaN moves the index; ties take the
//! later index) and logcumsumexp (PyTorch's `_log_add_exp_helper`).

use super::imp::{buffer_of, contiguous, ctx, empty, groups};
use super::wgsl::{self, storage_type, WORKGROUP};
use crate::error::Result;
use crate::{DType, Tensor};
use std::fmt::Write;

fn bindings(t: &str, with_indices: bool) -> String {
    let mut s = format!(
        "@group(0) @binding(0) var<storage, read> src: array<{t}>;\n@group(0) @binding(1) var<storage, read_write> outv: array<{t}>;\n"
    );
    if with_indices {
        s.push_str("@group(0) @binding(2) var<storage, read_write> outi: array<i32>;\n@group(0) @binding(3) var<storage, read> p: array<u32>;\n");
    } else {
        s.push_str("@group(0) @binding(2) var<storage, read> p: array<u32>;\n");
    }
    s
}

/// p = [rows, len]; len > 0.
fn extreme_kernel(dt: DType, is_max: bool) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    wgsl::header(&mut s);
    s.push_str(&bindings(t, true));
    if dt == DType::F32 {
        s.push_str(wgsl::nan_helpers(t));
    } else {
        let _ = writeln!(s, "fn rg_isnan(x: {t}) -> bool {{ return false; }}");
    }
    wgsl::entry(&mut s);
    let cmp = if is_max { ">=" } else { "<=" };
    let _ = writeln!(
        s,
        "  let len = p[1];\n  let base = i * len;\n  var best = src[base];\n  var at = 0u;\n  for (var k = 0u; k < len; k = k + 1u) {{\n    let x = src[base + k];\n    if (rg_isnan(x) || (!rg_isnan(best) && x {cmp} best)) {{ best = x; at = k; }}\n    outv[base + k] = best;\n    outi[base + k] = i32(at);\n  }}\n}}"
    );
    s
}

/// p = [rows, len]; len > 0.
fn lcse_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    s.push_str(&bindings("f32", false));
    s.push_str(&wgsl::float_helpers("f32"));
    // C++'s std::min/std::max take the first argument when either is NaN.
    s.push_str(
        "fn rg_lae(x: f32, y: f32) -> f32 {\n  var lo = select(x, y, y < x);\n  var hi = select(x, y, x < y);\n  if (rg_isnan(y)) { lo = y; hi = y; }\n  if (rg_isnan(lo) || lo != hi || !rg_isinf(lo)) { return rg_log1p(exp(lo - hi)) + hi; }\n  return x;\n}\n",
    );
    wgsl::entry(&mut s);
    s.push_str(
        "  let len = p[1];\n  let base = i * len;\n  var acc = src[base];\n  outv[base] = acc;\n  for (var k = 1u; k < len; k = k + 1u) {\n    acc = rg_lae(acc, src[base + k]);\n    outv[base + k] = acc;\n  }\n}\n",
    );
    s
}

/// Rows and row length of `x` scanned along its last dim, or None when the device kernels do
/// not take it (empty, or sizes past their u32 arithmetic).
fn rows_of(x: &Tensor) -> Option<(usize, usize)> {
    let len = x.shape().last().copied().unwrap_or(1);
    let n = x.numel();
    (n > 0 && len > 0 && n <= u32::MAX as usize).then_some((n / len, len))
}

/// `cummax`/`cummin` along the last dim of an f32/i32 device tensor: contiguous values and
/// int64 indices of `x`'s shape, or None when the device kernel does not take it.
pub fn cum_extreme_last(x: &Tensor, is_max: bool) -> Result<Option<(Tensor, Tensor)>> {
    let dt = x.dtype();
    let Some((rows, len)) = rows_of(x).filter(|_| matches!(dt, DType::F32 | DType::I32)) else {
        return Ok(None);
    };
    let x = if x.is_contiguous() && x.layout().offset == 0 { x.clone() } else { contiguous(x)? };
    let c = ctx()?;
    let (outv, outi) = (empty(x.shape(), dt)?, empty(x.shape(), DType::I32)?);
    let kernel = c.kernel(&format!("cum_extreme|{dt:?}|{is_max}"), || extreme_kernel(dt, is_max))?;
    let bufs = [buffer_of(&x)?.raw(), buffer_of(&outv)?.raw(), buffer_of(&outi)?.raw()];
    c.dispatch(&kernel, &bufs, &[rows as u32, len as u32], groups(rows, WORKGROUP))?;
    Ok(Some((outv, outi.to_dtype(DType::I64)?)))
}

/// `logcumsumexp` along the last dim of an f32 device tensor, or None when the device kernel
/// does not take it.
pub fn logcumsumexp_last(x: &Tensor) -> Result<Option<Tensor>> {
    let Some((rows, len)) = rows_of(x).filter(|_| x.dtype() == DType::F32) else {
        return Ok(None);
    };
    let x = if x.is_contiguous() && x.layout().offset == 0 { x.clone() } else { contiguous(x)? };
    let c = ctx()?;
    let out = empty(x.shape(), DType::F32)?;
    let kernel = c.kernel("logcumsumexp|F32", lcse_kernel)?;
    let bufs = [buffer_of(&x)?.raw(), buffer_of(&out)?.raw()];
    c.dispatch(&kernel, &bufs, &[rows as u32, len as u32], groups(rows, WORKGROUP))?;
    Ok(Some(out))
}
