//! `histc` and `bincount` on the device.
//!
//! - The extremes of a tensor (histc's range when min == max, bincount's largest value and
//!   its negative-value check) are folded with atomics over the order-preserving keys of
//!   gpu/sort.rs (u32 words, so no float or 64-bit atomics are needed): the high words first,
//!   then the low words of the keys whose high word is the extreme one; NaN is flagged apart.
//!   The five words are the one readback: the host needs them to raise the CPU's errors (a
//!   non-finite range, a negative value) and to size bincount's result, as PyTorch's CUDA
//!   kernels synchronize for the same checks.
//! - histc counts with `atomicAdd` into u32 bins, each value's bin from the host's edge
//!   arithmetic (`(x - lo) * bins / (hi - lo)` in the input's dtype, the top edge in the last
//!   bin, NaN and values outside not counted, an overflowing quotient in bin 0 as the host's
//!   `to_usize` gives), then widens the counts to the float dtype as the host's repeated
//!   `+ 1` does (float32 stops at 2^24). The edges are the host's numbers, uploaded. The
//!   bins are the host's where the adapter's division is correctly rounded and subnormals are
//!   kept (llvmpipe; WGSL allows float32 division 2.5 ulp off, so on some GPUs a value within
//!   an ulp of an inner edge can land in the neighbouring bin).
//! - bincount counts with `atomicAdd` (exact to 2^32 - 1 per bin; inputs are smaller than
//!   that) widened to int64. With weights, the values are sorted (stable: the bitonic sort
//!   breaks ties by position) and each bin sums its weights sequentially in input order, the
//!   host's order, so the sums are the host's bit for bit (on an adapter whose additions are
//!   IEEE and keep subnormals, as WGSL asks; no atomics, hence no order to differ). A bin
//!   holding most of a large input is summed by one invocation: correct, not fast.

use super::imp::{buffer_of, ctx, empty, groups, plain, supports, upload};
use super::sort::{key_fn, key_type, key_words, nan_key, sort_rows};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, storage_type, WORKGROUP};
use crate::error::Result;
use crate::{DType, Tensor};
use std::fmt::Write;

/// Words of the extremes buffer: [NaN seen, min high, max high, min low, max low].
const EXT_WORDS: usize = 5;

fn ext_init_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("ext", ReadWrite, "u32")]);
    wgsl::entry(&mut s);
    s.push_str("  ext[i] = select(0u, 0xffffffffu, i == 1u || i == 3u);\n}\n");
    s
}

/// p = [n, is_float, pass]: pass 0 folds the keys' high words and flags NaN, pass 1 the low
/// words of the keys whose high word is the extreme one (64-bit keys only).
fn ext_kernel(dt: DType) -> String {
    let words = key_words(dt).unwrap_or(1);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("src", Read, "u32"), ("ext", ReadWrite, "atomic<u32>")]);
    s.push_str(&key_fn(dt));
    wgsl::entry(&mut s);
    let is_nan = if words == 1 { "k == nan" } else { "all(k == nan)" };
    let _ = writeln!(
        s,
        "  let k = rg_key(i);\n  let nan = {};\n  if (p[1] != 0u && {is_nan}) {{\n    if (p[2] == 0u) {{ atomicOr(&ext[0], 1u); }}\n    return;\n  }}",
        nan_key(words)
    );
    if words == 1 {
        s.push_str("  atomicMin(&ext[1], k);\n  atomicMax(&ext[2], k);\n}\n");
    } else {
        s.push_str(
            "  if (p[2] == 0u) {\n    atomicMin(&ext[1], k.x);\n    atomicMax(&ext[2], k.x);\n    return;\n  }\n  if (k.x == atomicLoad(&ext[1])) { atomicMin(&ext[3], k.y); }\n  if (k.x == atomicLoad(&ext[2])) { atomicMax(&ext[4], k.y); }\n}\n",
        );
    }
    s
}

/// The smallest and largest key (u64: the high word above the low one for 64-bit keys) of the
/// non-NaN elements of the device tensor `x` (numel > 0, fits the kernels' u32 arithmetic), and
/// whether a NaN was seen; the smallest above the largest when every element is NaN. One
/// readback of 20 bytes.
fn extremes(x: &Tensor) -> Result<(bool, u64, u64)> {
    let dt = x.dtype();
    let words = key_words(dt).unwrap_or(1);
    let x = plain(x)?;
    let n = x.numel();
    let c = ctx()?;
    let ext = empty(&[EXT_WORDS], DType::I32)?;
    let eb = buffer_of(&ext)?.raw();
    let init = c.kernel("hist_ext_init", ext_init_kernel)?;
    c.dispatch(&init, &[eb], &[EXT_WORDS as u32], groups(EXT_WORDS, WORKGROUP))?;
    let k = c.kernel(&format!("hist_ext|{dt:?}"), || ext_kernel(dt))?;
    let xb = buffer_of(&x)?.raw();
    for pass in 0..words as u32 {
        c.dispatch(&k, &[xb, eb], &[n as u32, dt.is_float() as u32, pass], groups(n, WORKGROUP))?;
    }
    let b = c.read(eb, 0, (EXT_WORDS * 4) as u64)?;
    let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]) as u64;
    Ok(if words == 1 {
        (w(0) != 0, w(1), w(2))
    } else {
        (w(0) != 0, (w(1) << 32) | w(3), (w(2) << 32) | w(4))
    })
}

/// The value of a float32 key (not NaN's), as gpu/set_ops.rs decodes it.
fn f32_of(k: u64) -> f32 {
    let k = k as u32;
    f32::from_bits(if k & 0x8000_0000 != 0 { k & 0x7fff_ffff } else { !k })
}

fn f64_of(k: u64) -> f64 {
    f64::from_bits(if k >> 63 != 0 { k & !(1 << 63) } else { !k })
}

/// The smallest and largest element of the int32/int64 device tensor `x`
/// (numel > 0): one readback.
pub fn int_range(x: &Tensor) -> Result<(i64, i64)> {
    let (_, lo, hi) = extremes(x)?;
    Ok(match x.dtype() {
        DType::I32 => (((lo as u32) ^ 0x8000_0000) as i32 as i64, ((hi as u32) ^ 0x8000_0000) as i32 as i64),
        _ => ((lo ^ (1 << 63)) as i64, (hi ^ (1 << 63)) as i64),
    })
}

/// The range of the float32/float64 device tensor `x` (numel > 0) as the host's `histc`
/// folds it, or None when it has a NaN or no finite extremes (the host raises the error then,
/// in its own words).
pub fn float_range(x: &Tensor) -> Result<Option<(f64, f64)>> {
    let (nan, lo, hi) = extremes(x)?;
    if nan || lo > hi {
        return Ok(None);
    }
    Ok(Some(match x.dtype() {
        DType::F32 => (f32_of(lo) as f64, f32_of(hi) as f64),
        _ => (f64_of(lo), f64_of(hi)),
    }))
}

fn zero_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("outb", ReadWrite, "u32")]);
    wgsl::entry(&mut s);
    s.push_str("  outb[i] = 0u;\n}\n");
    s
}

/// Zeroes the first `n` u32 words of `t`.
fn zero(t: &Tensor, n: usize) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let c = ctx()?;
    let k = c.kernel("hist_zero", zero_kernel)?;
    c.dispatch(&k, &[buffer_of(t)?.raw()], &[n as u32], groups(n, WORKGROUP))
}

/// p = [n, bins]; e = [lo, hi, bins as the dtype]: each value's bin, counted.
fn histc_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    // The largest value below 2^32 of the dtype, so the conversion to u32 cannot overflow.
    let limit = if dt == DType::F32 { "4294967040.0" } else { "4294967295.0" };
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("src", Read, t), ("bins", ReadWrite, "atomic<u32>"), ("e", Read, t)]);
    s.push_str(wgsl::nan_helpers(t));
    wgsl::entry(&mut s);
    let _ = writeln!(
        s,
        "  let x = src[i];\n  let lo = e[0];\n  let hi = e[1];\n  if (rg_isnan(x) || !(x >= lo && x <= hi)) {{ return; }}\n  let q = (x - lo) * e[2] / (hi - lo);\n  var b = 0u;\n  if (!rg_isnan(q) && !rg_isinf(q)) {{ b = select(0xffffffffu, u32(q), q < {limit}); }}\n  atomicAdd(&bins[min(b, p[1] - 1u)], 1u);\n}}"
    );
    s
}

/// p = [bins, cap]: the counts as the float dtype, capped where repeated `+ 1` stops.
fn widen_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("cnt", Read, "u32"), ("outb", ReadWrite, t)]);
    wgsl::entry(&mut s);
    let _ = writeln!(s, "  outb[i] = {t}(min(cnt[i], p[1]));\n}}");
    s
}

/// `histc` of the float32/float64 device tensor `x` with the host's final edges `lo < hi`
/// (finite) and `bins` > 0 bins; None when the kernels do not take the dtype or the size.
pub fn histc(x: &Tensor, bins: usize, lo: f64, hi: f64) -> Result<Option<Tensor>> {
    let dt = x.dtype();
    if !matches!(dt, DType::F32 | DType::F64) || !supports(dt) || x.numel() > u32::MAX as usize / 2 {
        return Ok(None);
    }
    // Allocated first: a huge `bins` is an out-of-memory error before any work is queued.
    let out = empty(&[bins], dt)?;
    let cnt = empty(&[bins], DType::I32)?;
    let x = plain(x)?;
    let n = x.numel();
    let c = ctx()?;
    zero(&cnt, bins)?;
    if n > 0 {
        let edges = if dt == DType::F32 {
            let nbt = <f32 as num_traits::NumCast>::from(bins).unwrap_or(1.0);
            Tensor::from_vec(vec![lo as f32, hi as f32, nbt], &[3])
        } else {
            let nbt = <f64 as num_traits::NumCast>::from(bins).unwrap_or(1.0);
            Tensor::from_vec(vec![lo, hi, nbt], &[3])
        };
        let edges = upload(&edges)?;
        let k = c.kernel(&format!("histc|{dt:?}"), || histc_kernel(dt))?;
        let bufs = [buffer_of(&x)?.raw(), buffer_of(&cnt)?.raw(), buffer_of(&edges)?.raw()];
        c.dispatch(&k, &bufs, &[n as u32, bins as u32], groups(n, WORKGROUP))?;
    }
    let cap = if dt == DType::F32 { 1u32 << 24 } else { u32::MAX };
    let k = c.kernel(&format!("hist_widen|{dt:?}"), || widen_kernel(dt))?;
    c.dispatch(
        &k,
        &[buffer_of(&cnt)?.raw(), buffer_of(&out)?.raw()],
        &[bins as u32, cap],
        groups(bins, WORKGROUP),
    )?;
    Ok(Some(out))
}

/// p = [n, words]: one count per value (the low word: values were checked to be in range).
fn count_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("src", Read, "u32"), ("bins", ReadWrite, "atomic<u32>")]);
    wgsl::entry(&mut s);
    s.push_str("  atomicAdd(&bins[src[p[1] * i]], 1u);\n}\n");
    s
}

/// p = [len]: u32 counts to int64 (little-endian word pairs, so no 64-bit shader arithmetic).
fn long_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("cnt", Read, "u32"), ("outb", ReadWrite, "u32")]);
    wgsl::entry(&mut s);
    s.push_str("  outb[2u * i] = cnt[i];\n  outb[2u * i + 1u] = 0u;\n}\n");
    s
}

/// p = [len, n]: bin b sums the weights of the sorted positions holding value b, in order.
fn weighted_kernel(words: usize, dt: DType) -> String {
    let (kt, t) = (key_type(words), storage_type(dt));
    // Every value is non-negative and below 2^32 here: its key is (0x80000000, value) for
    // int64, value ^ 0x80000000 for int32.
    let below = if words == 1 {
        "(keys[mid] ^ 0x80000000u) < b"
    } else {
        "keys[mid].x == 0x80000000u && keys[mid].y < b"
    };
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[("keys", Read, kt), ("idx", Read, "u32"), ("w", Read, t), ("outb", ReadWrite, t)],
    );
    let _ = writeln!(
        s,
        "fn rg_first(b: u32) -> u32 {{\n  var lo = 0u;\n  var hi = p[1];\n  loop {{\n    if (lo >= hi) {{ break; }}\n    let mid = lo + (hi - lo) / 2u;\n    if ({below}) {{ lo = mid + 1u; }} else {{ hi = mid; }}\n  }}\n  return lo;\n}}"
    );
    wgsl::entry(&mut s);
    let _ = writeln!(
        s,
        "  let end = rg_first(i + 1u);\n  var s: {t} = {t}(0);\n  for (var k = rg_first(i); k < end; k = k + 1u) {{ s = s + w[idx[k]]; }}\n  outb[i] = s;\n}}"
    );
    s
}

/// `bincount` of the 1-d int32/int64 device tensor `x` whose values were checked to be in
/// `0..len`: int64 counts, or the sums of `weights` (1-d, as many, on the device) in `out`
/// (float32 or float64). None when the kernels do not take the dtypes or the sizes.
pub fn bincount(x: &Tensor, weights: Option<&Tensor>, len: usize, out: DType) -> Result<Option<Tensor>> {
    let Some(words) = key_words(x.dtype()) else { return Ok(None) };
    if !supports(out) || x.numel() > u32::MAX as usize / 2 {
        return Ok(None);
    }
    // Allocated first: a length no buffer holds is the device's out-of-memory error here,
    // not a host allocation of that size on the way to the same error at the upload.
    let dst = empty(&[len], out)?;
    if len >= u32::MAX as usize / 2 {
        return Ok(None);
    }
    let x = plain(x)?;
    let n = x.numel();
    let c = ctx()?;
    match weights {
        None => {
            let cnt = empty(&[len], DType::I32)?;
            zero(&cnt, len)?;
            let cb = buffer_of(&cnt)?.raw();
            if n > 0 {
                let k = c.kernel("bincount_count", count_kernel)?;
                c.dispatch(&k, &[buffer_of(&x)?.raw(), cb], &[n as u32, words as u32], groups(n, WORKGROUP))?;
            }
            if len > 0 {
                let k = c.kernel("bincount_long", long_kernel)?;
                c.dispatch(&k, &[cb, buffer_of(&dst)?.raw()], &[len as u32], groups(len, WORKGROUP))?;
            }
        }
        Some(w) => {
            let w = plain(&w.to_dtype(out)?)?;
            let Some(sorted) = sort_rows(&x, 1, n, false, true)? else { return Ok(None) };
            if len > 0 {
                let k =
                    c.kernel(&format!("bincount_weighted|{words}|{out:?}"), || weighted_kernel(words, out))?;
                let bufs = [
                    buffer_of(&sorted.keys)?.raw(),
                    buffer_of(&sorted.idx)?.raw(),
                    buffer_of(&w)?.raw(),
                    buffer_of(&dst)?.raw(),
                ];
                c.dispatch(&k, &bufs, &[len as u32, n as u32], groups(len, WORKGROUP))?;
            }
        }
    }
    Ok(Some(dst))
}
