//! Sorting on the device: a bitonic sort per row of (key, index) pairs over rows padded to a
//! power of two, then one kernel that picks what the op wants (all or the first k positions,
//! the k-th, the median) and gathers the values. Keys are the order-preserving images of the
//! values' bits (read as u32 words, so no float or 64-bit shader arithmetic is needed and no
//! compiler can fold `x != x` or flush a subnormal): one u32 for f32/i32, a (high, low) pair
//! for f64/i64, with every NaN above +inf and -0 equal to +0; ties fall to the smaller index,
//! so the order is the stable one. The set ops (gpu/set_ops.rs) sort with the same kernels.

use super::imp::{buffer_of, ctx, empty, groups};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, storage_type, WORKGROUP};
use crate::error::Result;
use crate::{DType, Tensor};
use std::fmt::Write;

/// Which sorted positions of each row come out.
#[derive(Clone, Copy, Debug)]
pub enum Pick {
    /// `len` positions from `start`.
    Range { start: usize, len: usize },
    /// The lower median; with NaN present the first NaN (median) or the median of the others
    /// (nanmedian).
    Median { ignore_nan: bool },
}

const NAN_KEY: &str = "0xffffffffu";

/// u32 words per key: 1 for the 32-bit dtypes, 2 for the 64-bit ones, None for dtypes the
/// device does not store.
pub(super) fn key_words(dt: DType) -> Option<usize> {
    match dt {
        DType::F32 | DType::I32 => Some(1),
        DType::F64 | DType::I64 => Some(2),
        _ => None,
    }
}

/// The WGSL type of one key.
pub(super) fn key_type(words: usize) -> &'static str {
    if words == 1 {
        "u32"
    } else {
        "vec2<u32>"
    }
}

/// The key of every NaN (and of the padding, which sorts after it by its larger index).
pub(super) fn nan_key(words: usize) -> String {
    if words == 1 {
        NAN_KEY.to_string()
    } else {
        format!("vec2<u32>({NAN_KEY}, {NAN_KEY})")
    }
}

/// `rg_key(e)`: the key of element `e` of `src` (bound as `array<u32>`); 64-bit elements are
/// little-endian (low, high) word pairs and their keys (high, low), compared in that order.
pub(super) fn key_fn(dt: DType) -> String {
    let body = match dt {
        DType::F32 => "  var b = src[e];\n  if ((b & 0x7fffffffu) > 0x7f800000u) { return 0xffffffffu; }\n  if (b == 0x80000000u) { b = 0u; }\n  if ((b & 0x80000000u) != 0u) { return ~b; }\n  return b | 0x80000000u;",
        DType::I32 => "  return src[e] ^ 0x80000000u;",
        DType::F64 => "  let lo = src[2u * e];\n  var hi = src[2u * e + 1u];\n  let mag = hi & 0x7fffffffu;\n  if (mag > 0x7ff00000u || (mag == 0x7ff00000u && lo != 0u)) { return vec2<u32>(0xffffffffu, 0xffffffffu); }\n  if (hi == 0x80000000u && lo == 0u) { hi = 0u; }\n  if ((hi & 0x80000000u) != 0u) { return vec2<u32>(~hi, ~lo); }\n  return vec2<u32>(hi | 0x80000000u, lo);",
        _ => "  return vec2<u32>(src[2u * e + 1u] ^ 0x80000000u, src[2u * e]);",
    };
    let kt = key_type(key_words(dt).unwrap_or(1));
    format!("fn rg_key(e: u32) -> {kt} {{\n{body}\n}}\n")
}

/// `rg_after(ka, kb, ia, ib)`: whether the pair (ka, ia) sorts after (kb, ib), for keys of
/// WGSL type `kt` (a `vec2<u32>` compares its high word first).
fn after_fn(kt: &str) -> String {
    let cmp = if kt.starts_with("vec2") {
        "ka.x > kb.x || (ka.x == kb.x && (ka.y > kb.y || (ka.y == kb.y && ia > ib)))"
    } else {
        "ka > kb || (ka == kb && ia > ib)"
    };
    format!("fn rg_after(ka: {kt}, kb: {kt}, ia: u32, ib: u32) -> bool {{ return {cmp}; }}\n")
}

/// p = [rows * P, P, n, descending]: keys and indices of every padded row position.
fn init_kernel(dt: DType) -> String {
    let words = key_words(dt).unwrap_or(1);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[("src", Read, "u32"), ("keys", ReadWrite, key_type(words)), ("idx", ReadWrite, "u32")],
    );
    s.push_str(&key_fn(dt));
    wgsl::entry(&mut s);
    let _ = writeln!(
        s,
        "  let r = i / p[1];\n  let j = i % p[1];\n  var key = {};\n  if (j < p[2]) {{\n    key = rg_key(r * p[2] + j);\n    if (p[3] != 0u) {{ key = ~key; }}\n  }}\n  keys[i] = key;\n  idx[i] = j;\n}}",
        nan_key(words)
    );
    s
}

/// One compare-exchange step of the bitonic network over keys of WGSL type `key` (`u32` or
/// `vec2<u32>` for the order-preserving images here; NaN-free f32/f64 for gpu/sampling.rs);
/// p = [rows * P / 2, P, j, k].
fn step_kernel(key: &str) -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("keys", ReadWrite, key), ("idx", ReadWrite, "u32")]);
    s.push_str(&after_fn(key));
    wgsl::entry(&mut s);
    s.push_str(
        "  let half = p[1] / 2u;\n  let r = i / half;\n  let t = i % half;\n  let j = p[2];\n  let lo = (t / j) * 2u * j + (t % j);\n  let a = r * p[1] + lo;\n  let b = a + j;\n  let ka = keys[a];\n  let kb = keys[b];\n  let ia = idx[a];\n  let ib = idx[b];\n  if (rg_after(ka, kb, ia, ib) == ((lo & p[3]) == 0u)) {\n    keys[a] = kb;\n    keys[b] = ka;\n    idx[a] = ib;\n    idx[b] = ia;\n  }\n}\n",
    );
    s
}

/// p = [rows * m, P, n, m, mode (0 range, 1 median, 2 nanmedian), start, is_float].
fn pick_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[
            ("src", Read, t),
            ("keys", Read, "u32"),
            ("idx", Read, "u32"),
            ("outv", ReadWrite, t),
            ("outi", ReadWrite, "i32"),
        ],
    );
    wgsl::entry(&mut s);
    let _ = writeln!(
        s,
        "  let n = p[2];\n  let r = i / p[3];\n  let row = r * p[1];\n  var s = i % p[3] + p[5];\n  if (p[4] != 0u) {{\n    // the NaNs sort last: count the others by a binary search for the first NaN key\n    var lo = 0u;\n    var hi = n;\n    if (p[6] != 0u) {{\n      loop {{\n        if (lo >= hi) {{ break; }}\n        let mid = (lo + hi) / 2u;\n        if (keys[row + mid] == {NAN_KEY}) {{ hi = mid; }} else {{ lo = mid + 1u; }}\n      }}\n    }} else {{\n      lo = n;\n    }}\n    if (p[4] == 1u) {{\n      s = select((n - 1u) / 2u, lo, lo < n);\n    }} else {{\n      s = select(0u, (lo - 1u) / 2u, lo > 0u);\n    }}\n  }}\n  let id = idx[row + s];\n  outv[i] = src[r * n + id];\n  outi[i] = i32(id);\n}}"
    );
    s
}

/// Sorted (key, index) pairs of every padded row: `keys` (`words` u32 per position) and `idx`
/// (the position each came from within its row), `padded` positions per row, the first `n`
/// of each row being its elements in order.
pub(super) struct SortedRows {
    pub keys: Tensor,
    pub idx: Tensor,
    pub padded: usize,
}

/// Sorts the `rows` contiguous rows of length `n` of `src` (a contiguous device tensor at
/// offset 0, of a dtype with [`key_words`]) ascending or descending; `sort: false` only
/// writes the keys and indices in the rows' order (unpadded). None when the sizes do not fit
/// the kernels' u32 arithmetic.
pub(super) fn sort_rows(
    src: &Tensor,
    rows: usize,
    n: usize,
    descending: bool,
    sort: bool,
) -> Result<Option<SortedRows>> {
    let dt = src.dtype();
    let Some(words) = key_words(dt) else { return Ok(None) };
    let p2 = if sort { n.next_power_of_two().max(2) } else { n.max(1) };
    let total = rows.checked_mul(p2).filter(|&t| t.saturating_mul(words) <= u32::MAX as usize / 2);
    let Some(total) = total else { return Ok(None) };
    let c = ctx()?;
    // The padded keys can outgrow a binding the input fits in: the host sorts those instead.
    if (total * words * 4) as u64 > c.max_binding {
        return Ok(None);
    }
    let keys = empty(&[total * words], DType::I32)?;
    let idx = empty(&[total], DType::I32)?;
    let (kb, ib, sb) = (buffer_of(&keys)?.raw(), buffer_of(&idx)?.raw(), buffer_of(src)?.raw());
    let u = |v: usize| v as u32;
    let init = c.kernel(&format!("sort_init|{dt:?}"), || init_kernel(dt))?;
    c.dispatch(&init, &[sb, kb, ib], &[u(total), u(p2), u(n), descending as u32], groups(total, WORKGROUP))?;
    if sort {
        bitonic(kb, ib, total, p2, key_type(words))?;
    }
    Ok(Some(SortedRows { keys, idx, padded: p2 }))
}

/// Sorts every row of `p2` (a power of two) positions of `keys` (WGSL type `key`) and `idx`
/// into increasing (key, index) order, in place; `total` positions in all (fits u32 / 2).
pub(super) fn bitonic(
    keys: &wgpu::Buffer,
    idx: &wgpu::Buffer,
    total: usize,
    p2: usize,
    key: &str,
) -> Result<()> {
    let c = ctx()?;
    let u = |v: usize| v as u32;
    let step = c.kernel(&format!("sort_step|{key}"), || step_kernel(key))?;
    let mut k = 2;
    while k <= p2 {
        let mut j = k / 2;
        while j > 0 {
            c.dispatch(
                &step,
                &[keys, idx],
                &[u(total / 2), u(p2), u(j), u(k)],
                groups(total / 2, WORKGROUP),
            )?;
            j /= 2;
        }
        k *= 2;
    }
    Ok(())
}

/// Sorts the `rows` contiguous rows of length `n` of the f32/i32 device tensor `x` and picks
/// `pick` from each: flat values and int64 indices, or None when the sizes do not fit the
/// kernels' u32 arithmetic (the caller computes on the host then).
pub fn sorted_pick(
    x: &Tensor,
    rows: usize,
    n: usize,
    descending: bool,
    pick: Pick,
) -> Result<Option<(Tensor, Tensor)>> {
    let dt = x.dtype();
    if key_words(dt) != Some(1) {
        return Ok(None);
    }
    let (m, mode, start) = match pick {
        Pick::Range { start, len } => (len, 0u32, start),
        Pick::Median { ignore_nan } => (1, if ignore_nan { 2 } else { 1 }, 0),
    };
    let src = if x.layout().offset == 0 && x.is_contiguous() { x.clone() } else { x.clone_tensor()? };
    let Some(sorted) = sort_rows(&src, rows, n, descending, true)? else { return Ok(None) };
    let c = ctx()?;
    let u = |v: usize| v as u32;
    let outs = rows * m;
    let outv = empty(&[outs], dt)?;
    let outi = empty(&[outs], DType::I32)?;
    if outs > 0 {
        let pk = c.kernel(&format!("sort_pick|{dt:?}"), || pick_kernel(dt))?;
        let bufs = [
            buffer_of(&src)?.raw(),
            buffer_of(&sorted.keys)?.raw(),
            buffer_of(&sorted.idx)?.raw(),
            buffer_of(&outv)?.raw(),
            buffer_of(&outi)?.raw(),
        ];
        let params = [u(outs), u(sorted.padded), u(n), u(m), mode, u(start), (dt == DType::F32) as u32];
        c.dispatch(&pk, &bufs, &params, groups(outs, WORKGROUP))?;
    }
    Ok(Some((outv, outi.to_dtype(DType::I64)?)))
}
