//! Tiled reductions and matrix multiply.

use super::imp::{buffer_of, ctx, empty, groups};
use super::wgsl::{load, storage_type, value_type};
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
        // NaN wins, then the larger (smaller) value, then the earlier index.
        Reduce::Max | Reduce::ArgMax => {
            "if (!have || (v != v && acc == acc) || (acc == acc && v > acc)) { acc = v; ai = k; } have = true;"
        }
        Reduce::Min | Reduce::ArgMin => {
            "if (!have || (v != v && acc == acc) || (acc == acc && v < acc)) { acc = v; ai = k; } have = true;"
        }
    };
    (init, step)
}

fn reduce_kernel(op: Reduce, input: DType, acc: DType, out: DType) -> String {
    let at = value_type(acc);
    let (init, step) = reducer(op, at);
    let is_arg = matches!(op, Reduce::ArgMax | Reduce::ArgMin);
    let is_cmp = matches!(op, Reduce::Max | Reduce::Min | Reduce::ArgMax | Reduce::ArgMin);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "@group(0) @binding(0) var<storage, read> src: array<{}>;\n@group(0) @binding(1) var<storage, read_write> outb: array<{}>;\n@group(0) @binding(2) var<storage, read> p: array<u32>;",
        storage_type(input),
        storage_type(out)
    );
    let _ = writeln!(
        s,
        "var<workgroup> sv: array<{at}, {REDUCE_THREADS}>;\nvar<workgroup> si: array<u32, {REDUCE_THREADS}>;\nvar<workgroup> sh: array<bool, {REDUCE_THREADS}>;"
    );
    // p = [n_out, nd_out, out_shape.., base_offset, out_strides.., m, nd_in, in_shape.., in_strides..]
    let _ = writeln!(
        s,
        "@compute @workgroup_size({REDUCE_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{
  let j = wg.x + wg.y * nw.x;
  let n_out = p[0];
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
  for (var k = lid; k < m; k = k + {REDUCE_THREADS}u) {{
    var off = base;
    var r = k;
    for (var d = i32(ndi) - 1; d >= 0; d = d - 1) {{
      let sz = p[q + 2u + u32(d)];
      off = off + (r % sz) * p[q + 2u + ndi + u32(d)];
      r = r / sz;
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
      let a = sv[lid]; let ka = si[lid];
      if (hv && (!sh[lid] || (v != v && a == a) || (a == a && v == v && (v {better} a || (v == a && k < ka))) || (v != v && a != a && k < ka))) {{ sv[lid] = v; si[lid] = k; sh[lid] = true; }}"
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
    let _ =
        writeln!(s, "    }}\n    workgroupBarrier();\n  }}\n  if (lid == 0u) {{ outb[j] = {result}; }}\n}}");
    s
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
    let c = ctx()?;
    let pipeline = c.pipeline(&reduce_kernel(op, x.dtype(), acc, out))?;
    let params = c.params(&w);
    c.dispatch(&pipeline, &[buffer_of(x)?.raw(), buffer_of(&dst)?.raw(), &params], groups(n_out, 1))?;
    Ok(dst)
}

const TILE: u32 = 64;
const TK: u32 = 16;

fn matmul_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    // Each 16x16 workgroup computes a 64x64 block of C, 4x4 per invocation, staging 64x16
    // slices of A and 16x64 slices of B in workgroup memory.
    format!(
        "@group(0) @binding(0) var<storage, read> A: array<{t}>;
@group(0) @binding(1) var<storage, read> B: array<{t}>;
@group(0) @binding(2) var<storage, read_write> C: array<{t}>;
@group(0) @binding(3) var<storage, read> p: array<u32>;
var<workgroup> ta: array<{t}, {ta}>;
var<workgroup> tb: array<{t}, {ta}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {{
  // p = [M, N, K, a_off, a_sb, a_sm, a_sk, b_off, b_sb, b_sk, b_sn, tiles_n]
  let M = p[0]; let N = p[1]; let K = p[2];
  let tn = p[11];
  let bi = wg.x / tn; let bj = wg.x % tn; let bt = wg.y;
  let row0 = bi * {TILE}u; let col0 = bj * {TILE}u;
  let abase = p[3] + bt * p[4]; let bbase = p[7] + bt * p[8];
  let lid = l.y * 16u + l.x;
  var acc: array<{t}, 16>;
  for (var q = 0u; q < 16u; q = q + 1u) {{ acc[q] = {t}(0); }}
  for (var k0 = 0u; k0 < K; k0 = k0 + {TK}u) {{
    for (var e = lid; e < {ta}u; e = e + 256u) {{
      let r = e / {TK}u; let kk = e % {TK}u;
      let gr = row0 + r; let gk = k0 + kk;
      var va = {t}(0);
      if (gr < M && gk < K) {{ va = A[abase + gr * p[5] + gk * p[6]]; }}
      ta[r * {TK}u + kk] = va;
      let kb = e / {TILE}u; let cb = e % {TILE}u;
      let gkb = k0 + kb; let gc = col0 + cb;
      var vb = {t}(0);
      if (gkb < K && gc < N) {{ vb = B[bbase + gkb * p[9] + gc * p[10]]; }}
      tb[kb * {TILE}u + cb] = vb;
    }}
    workgroupBarrier();
    for (var kk = 0u; kk < {TK}u; kk = kk + 1u) {{
      var av: array<{t}, 4>;
      var bv: array<{t}, 4>;
      for (var r = 0u; r < 4u; r = r + 1u) {{ av[r] = ta[(l.y * 4u + r) * {TK}u + kk]; bv[r] = tb[kk * {TILE}u + l.x * 4u + r]; }}
      for (var r = 0u; r < 4u; r = r + 1u) {{
        for (var s = 0u; s < 4u; s = s + 1u) {{ acc[r * 4u + s] = acc[r * 4u + s] + av[r] * bv[s]; }}
      }}
    }}
    workgroupBarrier();
  }}
  for (var r = 0u; r < 4u; r = r + 1u) {{
    let gr = row0 + l.y * 4u + r;
    for (var s = 0u; s < 4u; s = s + 1u) {{
      let gc = col0 + l.x * 4u + s;
      if (gr < M && gc < N) {{ C[bt * M * N + gr * N + gc] = acc[r * 4u + s]; }}
    }}
  }}
}}
",
        ta = TILE * TK
    )
}

/// Batched `a @ b` for 3-D views `(batch, m, k)` and `(batch, k, n)` of one float dtype,
/// into a new contiguous `(batch, m, n)` tensor.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (sa, sb) = (a.shape(), b.shape());
    if sa.len() != 3 || sb.len() != 3 || sa[0] != sb[0] || sa[2] != sb[1] || a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!("internal: wgpu matmul of {sa:?} and {sb:?}")));
    }
    let (batch, m, k, n) = (sa[0], sa[1], sa[2], sb[2]);
    let out = empty(&[batch, m, n], a.dtype())?;
    if out.numel() == 0 {
        return Ok(out);
    }
    if k == 0 {
        return super::map(
            &[super::Input::Scalar { value: crate::Scalar::Int(0), dtype: a.dtype() }],
            "a",
            a.dtype(),
            &[batch, m, n],
            a.dtype(),
        );
    }
    let (tm, tn) = ((m as u32).div_ceil(TILE), (n as u32).div_ceil(TILE));
    let (la, lb) = (a.layout(), b.layout());
    let w = [
        m as u32,
        n as u32,
        k as u32,
        la.offset as u32,
        la.strides[0] as u32,
        la.strides[1] as u32,
        la.strides[2] as u32,
        lb.offset as u32,
        lb.strides[0] as u32,
        lb.strides[1] as u32,
        lb.strides[2] as u32,
        tn,
    ];
    let c = ctx()?;
    let pipeline = c.pipeline(&matmul_kernel(a.dtype()))?;
    let params = c.params(&w);
    if batch > 65535 || (tm * tn) > 65535 {
        return Err(Error::Runtime(format!(
            "wgpu matmul: {batch} batches of {m}x{n} exceed the dispatch limits"
        )));
    }
    c.dispatch(
        &pipeline,
        &[buffer_of(a)?.raw(), buffer_of(b)?.raw(), buffer_of(&out)?.raw(), &params],
        (tm * tn, batch as u32),
    )?;
    Ok(out)
}
