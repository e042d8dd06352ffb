//! `searchsorted` on the device: one invocation per value, a binary search of its row of
//! boundaries with PyTorch's comparisons (`!(mid >= value)` for the left bound, `!(mid > value)`
//! for the right one; with a NaN on either side the search goes right, so a NaN value lands
//! after every boundary). NaN is tested on the bits: WGSL compilers may fold `x != x`.

use super::imp::{buffer_of, ctx, empty, groups, plain};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, storage_type, WORKGROUP};
use crate::error::Result;
use crate::{DType, Tensor};
use std::fmt::Write;

/// p = [values, row_len, values_per_row, boundaries_are_one_row, right].
fn kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("bd", Read, t), ("vals", Read, t), ("outb", ReadWrite, "i32")]);
    if dt == DType::F32 {
        s.push_str(wgsl::nan_helpers(t));
    } else {
        let _ = writeln!(s, "fn rg_isnan(x: {t}) -> bool {{ return false; }}");
    }
    wgsl::entry(&mut s);
    s.push_str(
        "  let n = p[1];\n  var r = 0u;\n  if (p[3] == 0u) { r = i / max(p[2], 1u); }\n  let base = r * n;\n  let v = vals[i];\n  var lo = 0u;\n  var hi = n;\n  loop {\n    if (lo >= hi) { break; }\n    let mid = lo + (hi - lo) / 2u;\n    let m = bd[base + mid];\n    var go_right = rg_isnan(m) || rg_isnan(v);\n    if (!go_right) {\n      if (p[4] != 0u) { go_right = m <= v; } else { go_right = m < v; }\n    }\n    if (go_right) { lo = mid + 1u; } else { hi = mid; }\n  }\n  outb[i] = i32(lo);\n}\n",
    );
    s
}

/// The bounds of `values` in the rows of `boundaries` (both f32 or both i32 device tensors,
/// `boundaries` one row or one per leading index of `values`), as int32 of `values`' shape;
/// None when the kernel does not take them.
pub fn searchsorted(boundaries: &Tensor, values: &Tensor, right: bool) -> Result<Option<Tensor>> {
    let dt = boundaries.dtype();
    if dt != values.dtype() || !matches!(dt, DType::F32 | DType::I32) {
        return Ok(None);
    }
    let row_len = boundaries.shape().last().copied().unwrap_or(1);
    let n = values.numel();
    if n == 0 || row_len == 0 || n > u32::MAX as usize || boundaries.numel() > u32::MAX as usize {
        return Ok(None);
    }
    let per_row = if values.ndim() == 0 { 1 } else { values.shape().last().copied().unwrap_or(1) };
    let (bd, vals) = (plain(boundaries)?, plain(values)?);
    let c = ctx()?;
    let out = empty(values.shape(), DType::I32)?;
    let k = c.kernel(&format!("searchsorted|{dt:?}"), || kernel(dt))?;
    let bufs = [buffer_of(&bd)?.raw(), buffer_of(&vals)?.raw(), buffer_of(&out)?.raw()];
    let one_row = (boundaries.ndim() == 1) as u32;
    let params = [n as u32, row_len as u32, per_row as u32, one_row, right as u32];
    c.dispatch(&k, &bufs, &params, groups(n, WORKGROUP))?;
    Ok(Some(out))
}
