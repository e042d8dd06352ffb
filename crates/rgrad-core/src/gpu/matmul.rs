//! Batched matrix multiply. No workgroup memory or barriers: on a CPU-backed adapter (Mesa's
//! llvmpipe) barriers serialize a workgroup's invocations, while its caches serve re-reads; on a
//! GPU the L1/L2 caches do the same job for these register-blocked kernels.

use super::imp::{buffer_of, contiguous, ctx, empty};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{bindings, storage_type};
use crate::error::{Error, Result};
use crate::{DType, Tensor};
use std::fmt::Write;

/// Rows and columns of C per invocation in the vectorized kernel (columns as two vec4).
const VR: u32 = 8;
const VC: u32 = 8;
/// Rows and columns of C per invocation in the general kernel.
const GR: u32 = 4;
const GC: u32 = 4;

/// The general kernel: any strides and sizes, 4x4 outputs per invocation in vec4 accumulators;
/// loads past the edges are clamped (read in bounds, never stored), so the loop has no branch.
fn general_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    bindings(&mut s, &[("A", Read, t), ("B", Read, t), ("C", ReadWrite, t)]);
    let _ = write!(
        s,
        "@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {{
  // p = [M, N, K, a_off, a_sb, a_sm, a_sk, b_off, b_sb, b_sk, b_sn]
  let M = p[0]; let N = p[1]; let K = p[2];
  let r0 = g.y * 4u; let c0 = g.x * 4u;
  if (r0 >= M || c0 >= N) {{ return; }}
  let abase = p[3] + g.z * p[4]; let bbase = p[7] + g.z * p[8];
  let sm = p[5]; let sk = p[6]; let skb = p[9]; let sn = p[10];
  let ra = vec4<u32>(min(r0, M - 1u), min(r0 + 1u, M - 1u), min(r0 + 2u, M - 1u), min(r0 + 3u, M - 1u)) * sm + vec4<u32>(abase);
  let cb = vec4<u32>(min(c0, N - 1u), min(c0 + 1u, N - 1u), min(c0 + 2u, N - 1u), min(c0 + 3u, N - 1u)) * sn + vec4<u32>(bbase);
  var acc0 = vec4<{t}>(); var acc1 = vec4<{t}>(); var acc2 = vec4<{t}>(); var acc3 = vec4<{t}>();
  for (var k = 0u; k < K; k = k + 1u) {{
    let ka = k * sk; let kb = k * skb;
    let b = vec4<{t}>(B[cb.x + kb], B[cb.y + kb], B[cb.z + kb], B[cb.w + kb]);
    acc0 = acc0 + A[ra.x + ka] * b;
    acc1 = acc1 + A[ra.y + ka] * b;
    acc2 = acc2 + A[ra.z + ka] * b;
    acc3 = acc3 + A[ra.w + ka] * b;
  }}
  let out = g.z * M * N;
  let rows = array<vec4<{t}>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < 4u; r = r + 1u) {{
    if (r0 + r < M) {{
      for (var s = 0u; s < 4u; s = s + 1u) {{
        if (c0 + s < N) {{ C[out + (r0 + r) * N + c0 + s] = rows[r][s]; }}
      }}
    }}
  }}
}}
"
    );
    s
}

/// The vectorized kernel for row-major A and B with K and N multiples of 4: A, B and C are read
/// and written as vec4, each invocation keeps an 8x8 block of C (16 vec4 accumulators) and
/// consumes K four at a time.
fn vec4_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let v = format!("vec4<{t}>");
    let mut s = String::new();
    bindings(&mut s, &[("A", Read, &v), ("B", Read, &v), ("C", ReadWrite, &v)]);
    let _ = write!(
        s,
        "@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {{
  // p = [M, N, K, a_off/4, a_sb/4, b_off/4, b_sb/4]; rows of A are K long, of B and C N long.
  let M = p[0]; let N4 = p[1] / 4u; let K4 = p[2] / 4u;
  let c4 = g.x * 2u; let r0 = g.y * {VR}u;
  if (c4 >= N4 || r0 >= M) {{ return; }}
  let c4h = min(c4 + 1u, N4 - 1u);
  let abase = p[3] + g.z * p[4]; let bbase = p[5] + g.z * p[6];
"
    );
    for r in 0..VR {
        let _ = writeln!(s, "  let ar{r} = abase + min(r0 + {r}u, M - 1u) * K4;");
        let _ = writeln!(s, "  var acc{r}l = vec4<{t}>(); var acc{r}h = vec4<{t}>();");
    }
    s += "  for (var k4 = 0u; k4 < K4; k4 = k4 + 1u) {\n    let kb = bbase + k4 * 4u * N4;\n";
    for q in 0..4 {
        let _ = writeln!(s, "    let b{q}l = B[kb + {q}u * N4 + c4]; let b{q}h = B[kb + {q}u * N4 + c4h];");
    }
    for r in 0..VR {
        let _ = writeln!(s, "    let a{r} = A[ar{r} + k4];");
        for h in ["l", "h"] {
            let _ = writeln!(
                s,
                "    acc{r}{h} = acc{r}{h} + a{r}.x * b0{h} + a{r}.y * b1{h} + a{r}.z * b2{h} + a{r}.w * b3{h};"
            );
        }
    }
    s += "  }\n  let out = g.z * M * N4;\n";
    for r in 0..VR {
        let _ = writeln!(
            s,
            "  if (r0 + {r}u < M) {{ C[out + (r0 + {r}u) * N4 + c4] = acc{r}l; if (c4 + 1u < N4) {{ C[out + (r0 + {r}u) * N4 + c4 + 1u] = acc{r}h; }} }}"
        );
    }
    s += "}\n";
    s
}

/// Whether `t` (batch, rows, cols) is row-major with everything a multiple of 4 elements, so
/// the vectorized kernel can read it as vec4 rows.
fn vec4_ready(t: &Tensor) -> bool {
    let (l, s) = (t.layout(), t.shape());
    l.strides[2] == 1
        && l.strides[1] == s[2]
        && s[2] % 4 == 0
        && l.offset % 4 == 0
        && (l.strides[0] % 4 == 0 || s[0] == 1)
}

/// Batched `a @ b` for 3-D views `(batch, m, k)` and `(batch, k, n)` of one dtype, into a new
/// contiguous `(batch, m, n)` tensor.
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
        let zero = super::Input::Scalar { value: crate::Scalar::Int(0), dtype: a.dtype() };
        return super::map(&[zero], "a", a.dtype(), &[batch, m, n], a.dtype());
    }
    let c = ctx()?;
    let dt = a.dtype();
    if k % 4 == 0 && n % 4 == 0 && m >= 4 {
        // Transposed or strided operands are copied row-major first: the copy is linear in
        // the operand, the product is not.
        let a = if vec4_ready(a) { a.clone() } else { contiguous(a)? };
        let b = if vec4_ready(b) { b.clone() } else { contiguous(b)? };
        let (tn, tm) = ((n as u32).div_ceil(VC).div_ceil(8), (m as u32).div_ceil(VR).div_ceil(8));
        if batch > 65535 || tm > 65535 || tn > 65535 {
            return Err(Error::Runtime(format!(
                "wgpu matmul: {batch} batches of {m}x{n} exceed the dispatch limits"
            )));
        }
        let (la, lb) = (a.layout(), b.layout());
        let quarter = |x: usize| (x / 4) as u32;
        let w = [
            m as u32,
            n as u32,
            k as u32,
            quarter(la.offset),
            quarter(la.strides[0]),
            quarter(lb.offset),
            quarter(lb.strides[0]),
        ];
        let kernel = c.kernel(&format!("matmul4|{dt:?}"), || vec4_kernel(dt))?;
        let bufs = [buffer_of(&a)?.raw(), buffer_of(&b)?.raw(), buffer_of(&out)?.raw()];
        c.dispatch3(&kernel, &bufs, &w, (tn, tm, batch as u32))?;
        return Ok(out);
    }
    let (tn, tm) = ((n as u32).div_ceil(GC * 8), (m as u32).div_ceil(GR * 8));
    if batch > 65535 || tm > 65535 || tn > 65535 {
        return Err(Error::Runtime(format!(
            "wgpu matmul: {batch} batches of {m}x{n} exceed the dispatch limits"
        )));
    }
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
    ];
    let kernel = c.kernel(&format!("matmul|{dt:?}"), || general_kernel(dt))?;
    let bufs = [buffer_of(a)?.raw(), buffer_of(b)?.raw(), buffer_of(&out)?.raw()];
    c.dispatch3(&kernel, &bufs, &w, (tn, tm, batch as u32))?;
    Ok(out)
}
