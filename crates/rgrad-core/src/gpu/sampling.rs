//! `multinomial` on the device, step for step the host sampler of ops/multinomial.rs, so a
//! seed draws the same indices on both devices:
//!
//! - every row's weights are summed in blocks of `BLOCK` as the host sums them (eight running
//!   lanes, the lanes added in order, then the rest one by one), and the blocks' running sums
//!   ("prefixes", the row's total last) are formed in order; the same kernels flag a negative,
//!   NaN or infinite weight and a row that sums to zero;
//! - the uniforms are the core generator's, drawn on the host in the host's order (after the
//!   check, so a refused call leaves the generator where it was) and uploaded;
//! - with replacement, each uniform's target `u * total` is placed in a block by a binary
//!   search of the prefixes and walked to within it, then moved back over zero weights, as
//!   `draw_row_with` does per target;
//! - without replacement, the host turns each uniform into its exponential `-log1p(-u)` (the
//!   host's libm, so the keys are the host's), and the device races `E_i / w_i`: one sample
//!   is the row's smallest key (a two-level argmin), several the first of a bitonic sort of
//!   (key, index) pairs (gpu/sort.rs's network), ties to the smaller index as on the host.
//!
//! The arithmetic is float64 where the adapter has it (every input dtype; then the sums,
//! targets and keys are the host's bit for bit, and so are the samples), float32 otherwise
//! (`RGRAD_WGPU_SAMPLING_F32=1` forces that path for float32 inputs, to test it): there a
//! uniform within a float32 rounding of a boundary between two categories (with
//! replacement), or two keys within one (without), can go the other way than on the host,
//! and subnormal weights may be flushed to zero. The one readback per call is the check's
//! status word (4 bytes; PyTorch's CUDA multinomial synchronises for its checks too); the
//! weights never leave the device.

use super::imp::{buffer_of, ctx, empty, groups, plain, supports, upload};
use super::sort::bitonic;
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, storage_type, WORKGROUP};
use crate::bail;
use crate::error::Result;
use crate::ops::multinomial::{uniforms_of, BLOCK};
use crate::random::Generator;
use crate::{DType, Tensor};
use rayon::prelude::*;
use std::fmt::Write;

/// `rg_good(v)`: finite and non-negative (the host's `(0.0..=MAX).contains(&v)`); NaN found
/// by its bits, as compilers may fold comparisons with NaN.
fn good_fn(a: &str) -> String {
    format!(
        "{}fn rg_good(v: {a}) -> bool {{ return !rg_isnan(v) && v >= 0.0 && !rg_isinf(v); }}\n",
        wgsl::nan_helpers(a)
    )
}

/// p = [rows * nb, n, nb]: each block's sum and whether its weights are all good.
fn sums_kernel(dt: DType, acc: DType) -> String {
    let (t, a) = (storage_type(dt), storage_type(acc));
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("w", Read, t), ("bsum", ReadWrite, a), ("bok", ReadWrite, "u32")]);
    s.push_str(&good_fn(a));
    wgsl::entry(&mut s);
    let _ = writeln!(
        s,
        "  let n = p[1];\n  let b = i % p[2];\n  let start = (i / p[2]) * n + b * {BLOCK}u;\n  let len = min({BLOCK}u, n - b * {BLOCK}u);\n  var ok = true;"
    );
    for k in 0..8 {
        let _ = writeln!(s, "  var l{k}: {a} = 0.0;");
    }
    s.push_str(
        "  let full = len / 8u;\n  for (var c = 0u; c < full; c = c + 1u) {\n    let o = start + c * 8u;\n",
    );
    for k in 0..8 {
        let _ = writeln!(
            s,
            "    let v{k} = {a}(w[o + {k}u]);\n    ok = ok && rg_good(v{k});\n    l{k} = l{k} + v{k};"
        );
    }
    s.push_str("  }\n  var s = l0 + l1;\n");
    for k in 2..8 {
        let _ = writeln!(s, "  s = s + l{k};");
    }
    let _ = writeln!(
        s,
        "  for (var k = start + full * 8u; k < start + len; k = k + 1u) {{\n    let v = {a}(w[k]);\n    ok = ok && rg_good(v);\n    s = s + v;\n  }}\n  bsum[i] = s;\n  bok[i] = select(0u, 1u, ok);\n}}"
    );
    s
}

/// p = [rows, nb]: each row's prefixes (nb + 1 of them: 0, the running sums, the total) and
/// its status, folded into `status[0]` by maximum: 2 for a bad weight (reported first, as
/// on the host, whichever row it is in), 1 for a total that is not positive.
fn prefix_kernel(acc: DType) -> String {
    let a = storage_type(acc);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[
            ("bsum", Read, a),
            ("bok", Read, "u32"),
            ("prefix", ReadWrite, a),
            ("status", ReadWrite, "atomic<u32>"),
        ],
    );
    wgsl::entry(&mut s);
    let _ = writeln!(
        s,
        "  let nb = p[1];\n  let pb = i * (nb + 1u);\n  var acc: {a} = 0.0;\n  var ok = true;\n  prefix[pb] = acc;\n  for (var b = 0u; b < nb; b = b + 1u) {{\n    ok = ok && bok[i * nb + b] != 0u;\n    acc = acc + bsum[i * nb + b];\n    prefix[pb + b + 1u] = acc;\n  }}\n  var flag = 0u;\n  if (!ok) {{ flag = 2u; }} else if (!(acc > 0.0)) {{ flag = 1u; }}\n  if (flag != 0u) {{ atomicMax(&status[0], flag); }}\n}}"
    );
    s
}

/// p = [rows * m, n, nb, m]: sample i of row i / m from uniform i (`draw_row_with` for one
/// target: the block whose prefix last stays at or below it, the first category there whose
/// running sum passes it, or the block's last; then back over zero weights).
fn with_kernel(dt: DType, acc: DType) -> String {
    let (t, a) = (storage_type(dt), storage_type(acc));
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[("w", Read, t), ("prefix", Read, a), ("u", Read, a), ("outb", ReadWrite, "i32")],
    );
    wgsl::entry(&mut s);
    let _ = writeln!(
        s,
        "  let n = p[1];\n  let nb = p[2];\n  let r = i / p[3];\n  let row = r * n;\n  let pb = r * (nb + 1u);\n  let goal = u[i] * prefix[pb + nb];\n  var lo = 1u;\n  var hi = nb;\n  loop {{\n    if (lo >= hi) {{ break; }}\n    let mid = lo + (hi - lo) / 2u;\n    if (prefix[pb + mid] <= goal) {{ lo = mid + 1u; }} else {{ hi = mid; }}\n  }}\n  var acc = prefix[pb + lo - 1u];\n  var k = (lo - 1u) * {BLOCK}u;\n  let end = min(k + {BLOCK}u, n);\n  loop {{\n    if (k + 1u >= end) {{ break; }}\n    let next = acc + {a}(w[row + k]);\n    if (!(next <= goal)) {{ break; }}\n    acc = next;\n    k = k + 1u;\n  }}\n  loop {{\n    if (k == 0u || {a}(w[row + k]) > 0.0) {{ break; }}\n    k = k - 1u;\n  }}\n  outb[i] = i32(k);\n}}"
    );
    s
}

/// p = [rows * nb, n, nb, bits of +inf]: the smallest key `e / w` of each block (zero weights
/// never arrive) and its index, the first of equal keys.
fn argmin_blocks_kernel(dt: DType, acc: DType) -> String {
    let (t, a) = (storage_type(dt), storage_type(acc));
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[("w", Read, t), ("e", Read, a), ("bkey", ReadWrite, a), ("bidx", ReadWrite, "i32")],
    );
    wgsl::entry(&mut s);
    // +inf from the parameters: a constant one would be folded or refused.
    let _ = writeln!(
        s,
        "  let n = p[1];\n  let b = i % p[2];\n  let row = (i / p[2]) * n;\n  let start = b * {BLOCK}u;\n  let end = min(start + {BLOCK}u, n);\n  var best = {a}(bitcast<f32>(p[3]));\n  var at = start;\n  for (var k = start; k < end; k = k + 1u) {{\n    let wk = {a}(w[row + k]);\n    if (wk > 0.0) {{\n      let key = e[row + k] / wk;\n      if (key < best) {{ best = key; at = k; }}\n    }}\n  }}\n  bkey[i] = best;\n  bidx[i] = i32(at);\n}}"
    );
    s
}

/// p = [rows, nb]: the smallest of each row's block minima, the earlier block on a tie.
fn argmin_rows_kernel(acc: DType) -> String {
    let a = storage_type(acc);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("bkey", Read, a), ("bidx", Read, "i32"), ("outb", ReadWrite, "i32")]);
    wgsl::entry(&mut s);
    s.push_str(
        "  let nb = p[1];\n  let base = i * nb;\n  var best = bkey[base];\n  var at = bidx[base];\n  for (var b = 1u; b < nb; b = b + 1u) {\n    let k = bkey[base + b];\n    if (k < best) { best = k; at = bidx[base + b]; }\n  }\n  outb[i] = at;\n}\n",
    );
    s
}

/// p = [rows * P, P, n, bits of +inf]: the race's (key, index) pairs over rows padded to P;
/// zero weights and the padding get +inf (the padding's larger indices sort it last).
fn race_keys_kernel(dt: DType, acc: DType) -> String {
    let (t, a) = (storage_type(dt), storage_type(acc));
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[("w", Read, t), ("e", Read, a), ("keys", ReadWrite, a), ("idx", ReadWrite, "u32")],
    );
    wgsl::entry(&mut s);
    let _ = writeln!(
        s,
        "  let r = i / p[1];\n  let j = i % p[1];\n  let n = p[2];\n  var key = {a}(bitcast<f32>(p[3]));\n  if (j < n) {{\n    let wk = {a}(w[r * n + j]);\n    if (wk > 0.0) {{ key = e[r * n + j] / wk; }}\n  }}\n  keys[i] = key;\n  idx[i] = j;\n}}"
    );
    s
}

/// p = [rows * m, P, m]: the first m indices of each sorted row.
fn race_pick_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("idx", Read, "u32"), ("outb", ReadWrite, "i32")]);
    wgsl::entry(&mut s);
    s.push_str("  outb[i] = i32(idx[(i / p[2]) * p[1] + i % p[2]]);\n}\n");
    s
}

/// The dtype the kernels compute in for weights of `dt`.
fn accumulator(dt: DType) -> DType {
    let forced = std::env::var_os("RGRAD_WGPU_SAMPLING_F32").is_some_and(|v| v == "1");
    if dt == DType::F64 || (supports(DType::F64) && !forced) {
        DType::F64
    } else {
        DType::F32
    }
}

/// `multinomial` of the `rows x n` float32/float64 device weights `probs` (checked by the
/// caller: 1 <= m, m <= n without replacement): the flat `rows * m` int64 indices, or None
/// when the sizes exceed the kernels' u32 arithmetic (the host samples those).
pub fn multinomial(
    probs: &Tensor,
    rows: usize,
    n: usize,
    m: usize,
    replacement: bool,
    uniforms: Option<&Tensor>,
    gen: Option<&Generator>,
) -> Result<Option<Tensor>> {
    let dt = probs.dtype();
    let nb = n.div_ceil(BLOCK);
    let p2 = n.next_power_of_two().max(2);
    let race_sort = !replacement && m > 1;
    let fits = |a: usize, b: usize| a.checked_mul(b).is_some_and(|v| v <= u32::MAX as usize / 2);
    let sizes_fit = fits(rows, n) && fits(rows, nb + 1) && fits(rows, m) && (!race_sort || fits(rows, p2));
    if !matches!(dt, DType::F32 | DType::F64) || rows == 0 || n == 0 || !sizes_fit {
        return Ok(None);
    }
    let acc = accumulator(dt);
    let x = plain(probs)?;
    let c = ctx()?;
    let u = |v: usize| v as u32;
    let wb = buffer_of(&x)?.raw();

    let (bsum, bok) = (empty(&[rows * nb], acc)?, empty(&[rows * nb], DType::I32)?);
    let k = c.kernel(&format!("mn_sums|{dt:?}|{acc:?}"), || sums_kernel(dt, acc))?;
    let bufs = [wb, buffer_of(&bsum)?.raw(), buffer_of(&bok)?.raw()];
    c.dispatch(&k, &bufs, &[u(rows * nb), u(n), u(nb)], groups(rows * nb, WORKGROUP))?;
    let prefix = empty(&[rows * (nb + 1)], acc)?;
    let status = c.upload(&0u32.to_le_bytes())?;
    let k = c.kernel(&format!("mn_prefix|{acc:?}"), || prefix_kernel(acc))?;
    let bufs = [buffer_of(&bsum)?.raw(), buffer_of(&bok)?.raw(), buffer_of(&prefix)?.raw(), status.raw()];
    c.dispatch(&k, &bufs, &[u(rows), u(nb)], groups(rows, WORKGROUP))?;
    // The call's one readback: 4 bytes of status, so a bad distribution raises here, as on
    // the host, before any uniform is drawn.
    let word = c.read(status.raw(), 0, 4)?;
    match u32::from_le_bytes([word[0], word[1], word[2], word[3]]) {
        0 => {}
        1 => bail!(Runtime, "invalid multinomial distribution (sum of probabilities <= 0)"),
        _ => bail!(Runtime, "probability tensor contains either `inf`, `nan` or element < 0"),
    }

    let mut v = uniforms_of(uniforms, gen, rows, if replacement { m } else { n })?;
    if !replacement {
        // The host's exponential (`draw_row_without`), so the keys divide the same numbers.
        // (log1p is most of a large draw's host time: spread over the threads.)
        let exp1 = |x: &mut f64| *x = -(-*x).ln_1p();
        if v.len() >= 1 << 15 {
            v.par_iter_mut().for_each(exp1);
        } else {
            v.iter_mut().for_each(exp1);
        }
    }
    let len = v.len();
    let host = if acc == DType::F64 {
        Tensor::from_vec(v, &[len])
    } else {
        Tensor::from_vec(v.into_iter().map(|x| x as f32).collect::<Vec<f32>>(), &[len])
    };
    let ut = upload(&host)?;
    let ub = buffer_of(&ut)?.raw();
    let inf = f32::INFINITY.to_bits();
    let out = if replacement {
        let out = empty(&[rows * m], DType::I32)?;
        let k = c.kernel(&format!("mn_with|{dt:?}|{acc:?}"), || with_kernel(dt, acc))?;
        let bufs = [wb, buffer_of(&prefix)?.raw(), ub, buffer_of(&out)?.raw()];
        c.dispatch(&k, &bufs, &[u(rows * m), u(n), u(nb), u(m)], groups(rows * m, WORKGROUP))?;
        out
    } else if m == 1 {
        let (bkey, bidx) = (empty(&[rows * nb], acc)?, empty(&[rows * nb], DType::I32)?);
        let k = c.kernel(&format!("mn_argmin|{dt:?}|{acc:?}"), || argmin_blocks_kernel(dt, acc))?;
        let bufs = [wb, ub, buffer_of(&bkey)?.raw(), buffer_of(&bidx)?.raw()];
        c.dispatch(&k, &bufs, &[u(rows * nb), u(n), u(nb), inf], groups(rows * nb, WORKGROUP))?;
        if nb == 1 {
            bidx
        } else {
            let out = empty(&[rows], DType::I32)?;
            let k = c.kernel(&format!("mn_argmin_rows|{acc:?}"), || argmin_rows_kernel(acc))?;
            let bufs = [buffer_of(&bkey)?.raw(), buffer_of(&bidx)?.raw(), buffer_of(&out)?.raw()];
            c.dispatch(&k, &bufs, &[u(rows), u(nb)], groups(rows, WORKGROUP))?;
            out
        }
    } else {
        let total = rows * p2;
        let (keys, idx) = (empty(&[total], acc)?, empty(&[total], DType::I32)?);
        let (kb, ib) = (buffer_of(&keys)?.raw(), buffer_of(&idx)?.raw());
        let k = c.kernel(&format!("mn_race|{dt:?}|{acc:?}"), || race_keys_kernel(dt, acc))?;
        c.dispatch(&k, &[wb, ub, kb, ib], &[u(total), u(p2), u(n), inf], groups(total, WORKGROUP))?;
        bitonic(kb, ib, total, p2, storage_type(acc))?;
        let out = empty(&[rows * m], DType::I32)?;
        let k = c.kernel("mn_race_pick", race_pick_kernel)?;
        let bufs = [ib, buffer_of(&out)?.raw()];
        c.dispatch(&k, &bufs, &[u(rows * m), u(p2), u(m)], groups(rows * m, WORKGROUP))?;
        out
    };
    Ok(Some(out.to_dtype(DType::I64)?))
}
