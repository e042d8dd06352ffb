//! `unique` and `unique_consecutive` (the flat forms) on the device. The elements' keys
//! (gpu/sort.rs: order-preserving u32 words of the bits, NaN above +inf, -0 equal to +0) are
//! sorted with their positions by the bitonic sort (`unique`) or taken in order
//! (`unique_consecutive`); a kernel flags the first position of each group (a key differing
//! from its predecessor, and every NaN, which PyTorch's CPU unique keeps apart); an inclusive
//! scan of the flags gives each sorted position its group number; the last of those, the
//! number of groups, is the one value read back (the result's size, for which PyTorch's CUDA
//! unique synchronizes too). Then one kernel writes each group's value (decoded from its key,
//! so -0.0 comes out as 0.0 and NaN as the host's NaN, as on the CPU), its first position and
//! the inverse, and one more the counts as differences of first positions.

use super::imp::{buffer_of, ctx, empty, groups, plain};
use super::sort::{key_type, key_words, nan_key, sort_rows};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, WORKGROUP};
use crate::error::{Error, Result};
use crate::{DType, Tensor};
use std::fmt::Write;

/// p = [n, is_float]: ids[i] = 1 where a group starts at sorted position i, else 0.
fn flags_kernel(words: usize) -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    let kt = key_type(words);
    wgsl::bindings(&mut s, &[("keys", Read, kt), ("ids", ReadWrite, "u32")]);
    wgsl::entry(&mut s);
    // Scalar and vector comparisons differ in WGSL (`any`/`all` reduce the vector ones).
    let (ne, eq) = if words == 1 { ("k != q", "k == nan") } else { ("any(k != q)", "all(k == nan)") };
    let _ = writeln!(
        s,
        "  let k = keys[i];\n  let nan = {};\n  var start = i == 0u;\n  if (!start) {{\n    let q = keys[i - 1u];\n    start = {ne} || (p[1] != 0u && {eq});\n  }}\n  ids[i] = select(0u, 1u, start);\n}}",
        nan_key(words)
    );
    s
}

/// The value of a group from its key, as the host's `SortKey::from_key` decodes it (NaN keys
/// to the host's NaN bits), written as u32 words to `outv` at group `g`.
fn decode_value(dt: DType) -> &'static str {
    match dt {
        DType::F32 => "    var b = ~k;\n    if ((k & 0x80000000u) != 0u) { b = k & 0x7fffffffu; }\n    if (k == 0xffffffffu) { b = 0x7fc00000u; }\n    outv[g] = b;\n",
        DType::I32 => "    outv[g] = k ^ 0x80000000u;\n",
        DType::F64 => "    var hi = ~k.x;\n    var lo = ~k.y;\n    if ((k.x & 0x80000000u) != 0u) { hi = k.x & 0x7fffffffu; lo = k.y; }\n    outv[2u * g] = lo;\n    outv[2u * g + 1u] = hi;\n",
        _ => "    outv[2u * g] = k.y;\n    outv[2u * g + 1u] = k.x ^ 0x80000000u;\n",
    }
}

/// p = [n]: at each group's first sorted position its value and start; the inverse (the group
/// of the element at every position) when asked. Bindings: keys, ids, values, then starts
/// (counts), idx and inv (inverse) when used: the pipeline's layout holds only what the
/// shader reads.
fn scatter_kernel(dt: DType, starts: bool, inverse: bool) -> String {
    let words = key_words(dt).unwrap_or(1);
    let mut s = String::new();
    wgsl::header(&mut s);
    let mut bufs = vec![("keys", Read, key_type(words)), ("ids", Read, "u32"), ("outv", ReadWrite, "u32")];
    if starts {
        bufs.push(("starts", ReadWrite, "u32"));
    }
    if inverse {
        bufs.extend([("idx", Read, "u32"), ("inv", ReadWrite, "i32")]);
    }
    wgsl::bindings(&mut s, &bufs);
    wgsl::entry(&mut s);
    s.push_str("  let id = ids[i];\n  let g = id - 1u;\n  if (i == 0u || ids[i - 1u] != id) {\n    let k = keys[i];\n");
    s.push_str(decode_value(dt));
    if starts {
        s.push_str("    starts[g] = i;\n");
    }
    s.push_str("  }\n");
    if inverse {
        s.push_str("  inv[idx[i]] = i32(g);\n");
    }
    s.push_str("}\n");
    s
}

/// p = [m, n]: counts[g] = starts[g + 1] - starts[g], the last group ending at n.
pub(super) fn counts_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("starts", Read, "u32"), ("counts", ReadWrite, "i32")]);
    wgsl::entry(&mut s);
    s.push_str("  var end = p[1];\n  if (i + 1u < p[0]) { end = starts[i + 1u]; }\n  counts[i] = i32(end - starts[i]);\n}\n");
    s
}

/// What the device `unique` returns: the values, and the int64 inverse (of the input's shape)
/// and counts when asked.
pub struct Groups {
    pub values: Tensor,
    pub inverse: Option<Tensor>,
    pub counts: Option<Tensor>,
}

/// `unique` (`consecutive: false`: sorted values, as PyTorch's CPU kernel gives whatever
/// `sorted` says) or `unique_consecutive` of the flattened device tensor `x`. None when the
/// dtype or the size is one the kernels do not take (the caller computes on the host).
pub fn unique(x: &Tensor, consecutive: bool, inverse: bool, counts: bool) -> Result<Option<Groups>> {
    let dt = x.dtype();
    let Some(words) = key_words(dt) else { return Ok(None) };
    let n = x.numel();
    let long = |t: Tensor| t.to_dtype(DType::I64);
    if n == 0 {
        return Ok(Some(Groups {
            values: empty(&[0], dt)?,
            inverse: if inverse { Some(long(empty(x.shape(), DType::I32)?)?) } else { None },
            counts: if counts { Some(long(empty(&[0], DType::I32)?)?) } else { None },
        }));
    }
    if n > i32::MAX as usize {
        return Ok(None);
    }
    let src = plain(x)?;
    let Some(sorted) = sort_rows(&src, 1, n, false, !consecutive)? else { return Ok(None) };
    let c = ctx()?;
    let (kb, ib) = (buffer_of(&sorted.keys)?.raw(), buffer_of(&sorted.idx)?.raw());
    let first = empty(&[n], DType::I32)?;
    let flags = c.kernel(&format!("unique_flags|{words}"), || flags_kernel(words))?;
    let fb = buffer_of(&first)?.raw();
    c.dispatch(&flags, &[kb, fb], &[n as u32, dt.is_float() as u32], groups(n, WORKGROUP))?;
    let ids = super::scan::prefix_sum_u32(&first)?;
    let idb = buffer_of(&ids)?.raw();
    // The one synchronization: the number of groups sizes the results.
    let last = c.read(idb, (n as u64 - 1) * 4, 4)?;
    let m = u32::from_le_bytes([last[0], last[1], last[2], last[3]]) as usize;
    if m == 0 || m > n {
        return Err(Error::Runtime(format!("internal: the device unique found {m} groups in {n} elements")));
    }
    let values = empty(&[m], dt)?;
    let starts = if counts { Some(empty(&[m], DType::I32)?) } else { None };
    let inv = if inverse { Some(empty(x.shape(), DType::I32)?) } else { None };
    let mut bufs = vec![kb, idb, buffer_of(&values)?.raw()];
    if let Some(st) = &starts {
        bufs.push(buffer_of(st)?.raw());
    }
    if let Some(inv) = &inv {
        bufs.extend([ib, buffer_of(inv)?.raw()]);
    }
    let key = format!("unique_scatter|{dt:?}|{counts}|{inverse}");
    let scatter = c.kernel(&key, || scatter_kernel(dt, counts, inverse))?;
    c.dispatch(&scatter, &bufs, &[n as u32], groups(n, WORKGROUP))?;
    let cnt = match &starts {
        Some(st) => {
            let out = empty(&[m], DType::I32)?;
            let k = c.kernel("unique_counts", counts_kernel)?;
            c.dispatch(
                &k,
                &[buffer_of(st)?.raw(), buffer_of(&out)?.raw()],
                &[m as u32, n as u32],
                groups(m, WORKGROUP),
            )?;
            Some(long(out)?)
        }
        None => None,
    };
    Ok(Some(Groups { values, inverse: inv.map(long).transpose()?, counts: cnt }))
}

/// `rg_lt(a, b)`: key `a` orders before key `b` (a `vec2<u32>` key compares its high word
/// first).
fn lt_fn(words: usize) -> String {
    let kt = key_type(words);
    let cmp = if words == 1 { "a < b" } else { "a.x < b.x || (a.x == b.x && a.y < b.y)" };
    format!("fn rg_lt(a: {kt}, b: {kt}) -> bool {{ return {cmp}; }}\n")
}

/// p = [n, m, is_float, invert]: whether each element's key is among the first `m` sorted
/// keys of the test set (a lower-bound binary search; NaN elements are in no set, and the NaN
/// keys of the set, sorted last, match nothing else). Only the first `m` positions are
/// searched: the padding's key is also the key of the largest integer.
fn isin_kernel(dt: DType) -> String {
    let words = key_words(dt).unwrap_or(1);
    let kt = key_type(words);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("src", Read, "u32"), ("tset", Read, kt), ("outb", ReadWrite, "u32")]);
    s.push_str(&super::sort::key_fn(dt));
    s.push_str(&lt_fn(words));
    wgsl::entry(&mut s);
    let eq = if words == 1 { "tset[lo] == k" } else { "all(tset[lo] == k)" };
    let is_nan = if words == 1 { "k == nan" } else { "all(k == nan)" };
    let _ = writeln!(
        s,
        "  let k = rg_key(i);\n  let nan = {};\n  var found = false;\n  if (p[2] == 0u || !({is_nan})) {{\n    var lo = 0u;\n    var hi = p[1];\n    loop {{\n      if (lo >= hi) {{ break; }}\n      let mid = lo + (hi - lo) / 2u;\n      if (rg_lt(tset[mid], k)) {{ lo = mid + 1u; }} else {{ hi = mid; }}\n    }}\n    found = lo < p[1] && {eq};\n  }}\n  outb[i] = select(0u, 1u, found != (p[3] != 0u));\n}}",
        nan_key(words)
    );
    s
}

/// `isin(elements, test)` of the device tensor `elements` in the promoted dtype `dt` (the
/// test set may be on the host: it is uploaded, never the other way): the bool tensor of
/// `elements`' shape, or None when the kernels do not take the dtype or the sizes.
pub fn isin(elements: &Tensor, test: &Tensor, dt: DType, invert: bool) -> Result<Option<Tensor>> {
    if key_words(dt).is_none() {
        return Ok(None);
    }
    if !super::imp::supports(dt) {
        return Ok(None);
    }
    let (n, m) = (elements.numel(), test.numel());
    if n > u32::MAX as usize / 2 || m > u32::MAX as usize / 2 {
        return Ok(None);
    }
    let out = empty(elements.shape(), DType::Bool)?;
    if n == 0 {
        return Ok(Some(out));
    }
    let e = plain(&elements.to_dtype(dt)?)?;
    let t = test.to_dtype(dt)?;
    let t = if t.is_gpu() { plain(&t)? } else { super::imp::upload(&t)? };
    // The set's keys sorted ascending (NaN keys and the padding last); the indices are unused.
    let Some(sorted) = sort_rows(&t, 1, m, false, true)? else { return Ok(None) };
    let c = ctx()?;
    let k = c.kernel(&format!("isin|{dt:?}"), || isin_kernel(dt))?;
    let bufs = [buffer_of(&e)?.raw(), buffer_of(&sorted.keys)?.raw(), buffer_of(&out)?.raw()];
    let params = [n as u32, m as u32, dt.is_float() as u32, invert as u32];
    c.dispatch(&k, &bufs, &params, groups(n, WORKGROUP))?;
    Ok(Some(out))
}
