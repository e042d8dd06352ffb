//! Reductions over any set of dims: one workgroup per output (or per chunk of one).

use super::imp::{buffer_of, ctx, empty, groups};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{bindings, load, storage_type, value_type};
use super::Reduce;
use crate::error::{Error, Result};
use crate::{DType, Tensor};
use std::fmt::Write;

const REDUCE_THREADS: u32 = 64;

/// The accumulator's identity, combine step and type for `op` on inputs of `dt`.
fn reducer(op: Reduce, acc: &str) -> (String, &'static str) {
    let init = match op {
        Reduce::Sum => format!("{acc}(0)"),
        Reduce::Prod => format!("{acc}(1)"),
        Reduce::Any => "false".into(),
        Reduce::All => "true".into(),
        // Max/min start from the first element each thread sees (see the kernel).
        _ => format!("{acc}(0)"),
    };
    let step = match op {
        Reduce::Sum => "acc = acc + v;",
        Reduce::Prod => "acc = acc * v;",
        Reduce::Any => "acc = acc || v;",
        Reduce::All => "acc = acc && v;",
        // NaN wins (the first one), then the larger (smaller) value, then the earlier index.
        Reduce::Max | Reduce::ArgMax => {
            "let vn = rg_isnan(v); let an = rg_isnan(acc);\n    if (!have || (vn && !an) || (!an && !vn && v > acc)) { acc = v; ai = k; } have = true;"
        }
        Reduce::Min | Reduce::ArgMin => {
            "let vn = rg_isnan(v); let an = rg_isnan(acc);\n    if (!have || (vn && !an) || (!an && !vn && v < acc)) { acc = v; ai = k; } have = true;"
        }
    };
    (init, step)
}

fn reduce_kernel(op: Reduce, input: DType, acc: DType, out: DType, chunked: bool) -> String {
    let at = value_type(acc);
    let (init, step) = reducer(op, at);
    let is_arg = matches!(op, Reduce::ArgMax | Reduce::ArgMin);
    let is_cmp = matches!(op, Reduce::Max | Reduce::Min | Reduce::ArgMax | Reduce::ArgMin);
    let mut s = String::new();
    bindings(&mut s, &[("src", Read, storage_type(input)), ("outb", ReadWrite, storage_type(out))]);
    // NaN tests on the bit pattern: compilers may fold `v != v` to false (see nan_helpers).
    if acc.is_float() {
        s.push_str(super::wgsl::nan_helpers(at));
    } else {
        let _ = writeln!(s, "fn rg_isnan(x: {at}) -> bool {{ return false; }}");
    }
    // Each invocation takes every 64th element (coalesced on a GPU), or on a CPU adapter one
    // contiguous run (sequential per thread, as its caches like); arg-reductions stay correct
    // either way since ties are broken by index.
    let walk = if chunked {
        format!(
            "let run = (hi - lo + {REDUCE_THREADS}u - 1u) / {REDUCE_THREADS}u;\n  let k0 = lo + lid * run;\n  let k1 = min(k0 + run, hi);\n  for (var k = k0; k < k1; k = k + 1u)"
        )
    } else {
        format!("for (var k = lo + lid; k < hi; k = k + {REDUCE_THREADS}u)")
    };
    let _ = writeln!(
        s,
        "var<workgroup> sv: array<{at}, {REDUCE_THREADS}>;\nvar<workgroup> si: array<u32, {REDUCE_THREADS}>;\nvar<workgroup> sh: array<bool, {REDUCE_THREADS}>;"
    );
    // p = [n_out, nd_out, out_shape.., base_offset, out_strides.., m, nd_in, in_shape.., in_strides..]
    let _ = writeln!(
        s,
        "@compute @workgroup_size({REDUCE_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{
  let wid = wg.x + wg.y * nw.x;
  let n_out = p[0];
  let q0 = 3u + 2u * p[1];
  let split = p[q0 + 2u + 2u * p[q0 + 1u]];
  // With `split` > 1, workgroup `wid` folds chunk `wid % split` of output `wid / split`'s
  // elements into partial `wid` (a second pass folds the partials).
  let j = wid / split;
  let chunk = wid % split;
  if (j >= n_out) {{ return; }}
  let ndo = p[1];
  var base = p[2u + ndo];
  var rem = j;
  for (var d = i32(ndo) - 1; d >= 0; d = d - 1) {{
    let sz = p[2u + u32(d)];
    base = base + (rem % sz) * p[3u + ndo + u32(d)];
    rem = rem / sz;
  }}
  let q = 3u + 2u * ndo;
  let m = p[q];
  let ndi = p[q + 1u];
  var acc = {init};
  var ai = 0u;
  var have = false;
  let base_len = m / split;
  let extra = m % split;
  let lo = chunk * base_len + min(chunk, extra);
  let hi = lo + base_len + select(0u, 1u, chunk < extra);
  {walk} {{
    var off = base + k * p[q + 3u];
    if (ndi != 1u) {{
      off = base;
      var r = k;
      for (var d = i32(ndi) - 1; d >= 0; d = d - 1) {{
        let sz = p[q + 2u + u32(d)];
        off = off + (r % sz) * p[q + 2u + ndi + u32(d)];
        r = r / sz;
      }}
    }}
    let v = {};
    {step}
  }}
  sv[lid] = acc; si[lid] = ai; sh[lid] = have;
  workgroupBarrier();
  for (var w = {REDUCE_THREADS}u / 2u; w > 0u; w = w / 2u) {{
    if (lid < w) {{",
        load("src[off]", input, acc)
    );
    if is_cmp {
        let better = if matches!(op, Reduce::Max | Reduce::ArgMax) { ">" } else { "<" };
        let _ = writeln!(
            s,
            "      let v = sv[lid + w]; let k = si[lid + w]; let hv = sh[lid + w];
      let a = sv[lid]; let ka = si[lid]; let vn = rg_isnan(v); let an = rg_isnan(a);
      if (hv && (!sh[lid] || (vn && !an) || (!an && !vn && (v {better} a || (v == a && k < ka))) || (vn && an && k < ka))) {{ sv[lid] = v; si[lid] = k; sh[lid] = true; }}"
        );
    } else {
        let combine = match op {
            Reduce::Sum => "+",
            Reduce::Prod => "*",
            Reduce::Any => "||",
            _ => "&&",
        };
        let _ = writeln!(s, "      sv[lid] = sv[lid] {combine} sv[lid + w];");
    }
    let result =
        if is_arg { format!("{}(si[0])", storage_type(out)) } else { super::wgsl::store("sv[0]", acc, out) };
    let _ = writeln!(
        s,
        "    }}\n    workgroupBarrier();\n  }}\n  if (lid == 0u) {{ outb[wid] = {result}; }}\n}}"
    );
    s
}

/// Merges neighbouring dims that step through memory as one (size-1 dims dropped); a
/// reduction over nothing keeps one dim of size 1.
fn merge_dims(shape: &[u32], strides: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let (mut sh, mut st): (Vec<u32>, Vec<u32>) = (vec![], vec![]);
    for (&n, &s) in shape.iter().zip(strides) {
        if n == 1 {
            continue;
        }
        match (sh.last_mut(), st.last_mut()) {
            (Some(pn), Some(ps)) if *ps == s * n => {
                *pn *= n;
                *ps = s;
            }
            _ => {
                sh.push(n);
                st.push(s);
            }
        }
    }
    if sh.is_empty() {
        return (vec![1], vec![0]);
    }
    (sh, st)
}

/// Reduces `x` over `dims` with `op` into a new contiguous tensor of dtype `out` (the kept
/// dims in order, with size-1 dims where `keepdim`). Sums accumulate in `out`'s type.
pub fn reduce(x: &Tensor, dims: &[usize], op: Reduce, keepdim: bool, out: DType) -> Result<Tensor> {
    let shape = x.shape();
    let strides = x.strides();
    let (mut oshape, mut ostr, mut ishape, mut istr) = (vec![], vec![], vec![], vec![]);
    let mut result_shape = vec![];
    for d in 0..shape.len() {
        if dims.contains(&d) {
            ishape.push(shape[d] as u32);
            istr.push(strides[d] as u32);
            if keepdim {
                result_shape.push(1);
            }
        } else {
            oshape.push(shape[d] as u32);
            ostr.push(strides[d] as u32);
            result_shape.push(shape[d]);
        }
    }
    // Merged dims index the same elements with fewer divisions per element in the kernel.
    let (oshape, ostr) = merge_dims(&oshape, &ostr);
    let (ishape, istr) = merge_dims(&ishape, &istr);
    let dst = empty(&result_shape, out)?;
    let n_out = dst.numel();
    if n_out == 0 {
        return Ok(dst);
    }
    let m: usize = ishape.iter().map(|&s| s as usize).product();
    if m == 0 && matches!(op, Reduce::Max | Reduce::Min | Reduce::ArgMax | Reduce::ArgMin) {
        return Err(Error::Index(
            "max(): Expected reduction dim to be specified for input.numel() == 0.".into(),
        ));
    }
    let acc = match op {
        Reduce::Sum | Reduce::Prod => out,
        Reduce::Any | Reduce::All => DType::Bool,
        _ => x.dtype(),
    };
    let mut w = vec![n_out as u32, oshape.len() as u32];
    w.extend(&oshape);
    w.push(x.layout().offset as u32);
    w.extend(&ostr);
    w.push(m as u32);
    w.push(ishape.len() as u32);
    w.extend(&ishape);
    w.extend(&istr);
    // Few outputs over many elements: spread each over several workgroups, then fold the
    // partials (arg-reductions keep one pass: their partials would need indices too).
    let splittable = !matches!(op, Reduce::ArgMax | Reduce::ArgMin);
    let split = if splittable && n_out < 64 && m >= 1 << 15 { (m >> 13).clamp(2, 256) } else { 1 };
    w.push(split as u32);
    let c = ctx()?;
    let input = x.dtype();
    let key = format!("reduce|{op:?}|{input:?}|{acc:?}|{out:?}");
    // A first pass of a split reduction stores partials in the accumulator's type.
    let first_out = if split > 1 { acc } else { out };
    let key = format!("{key}|{first_out:?}");
    let chunked = c.cpu_adapter;
    let kernel = c.kernel(&key, || reduce_kernel(op, input, acc, first_out, chunked))?;
    if split == 1 {
        c.dispatch(&kernel, &[buffer_of(x)?.raw(), buffer_of(&dst)?.raw()], &w, groups(n_out, 1))?;
        return Ok(dst);
    }
    let partial = empty(&[n_out, split], acc)?;
    c.dispatch(&kernel, &[buffer_of(x)?.raw(), buffer_of(&partial)?.raw()], &w, groups(n_out * split, 1))?;
    let folded = reduce(&partial, &[1], op, false, out)?;
    folded.with_layout_pub(crate::Layout::contiguous(&result_shape))
}
