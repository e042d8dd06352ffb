//! `unique(dim=d)` and `unique_consecutive(dim=d)` on the device: the slices along `d` are
//! the rows of `x.transpose(0, d)` made contiguous (the host's element order within a slice),
//! compared lexicographically on the order-preserving keys of gpu/sort.rs (NaN above +inf,
//! -0 equal to +0). `unique` sorts the row indices with a bitonic network whose comparator
//! walks two rows (ties to the smaller index, so the order is the host's stable sort; the
//! padding indices sort last); `unique_consecutive` keeps them in order. Then as the flat
//! unique (gpu/set_ops.rs): a flag where a group starts (a row differing from its predecessor,
//! or one holding a NaN, which the host keeps apart), a scan, the number of groups read back
//! (the one synchronization), the first row of every group, the inverse and the counts, and
//! the picked slices gathered into the result's layout (that of the host's `index_select`).

use super::imp::{buffer_of, contiguous, ctx, empty, groups, plain};
use super::set_ops::{counts_kernel, Groups};
use super::sort::{key_fn, key_words, nan_key};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, WORKGROUP};
use crate::error::{Error, Result};
use crate::{DType, Tensor};

/// `rg_cmp(a, b, len)`: the sign of the lexicographic comparison of rows `a` and `b` (`len`
/// elements each) of `src`; `rg_has_nan(a, len)`: whether row `a` holds a NaN.
fn row_fns(dt: DType) -> String {
    let words = key_words(dt).unwrap_or(1);
    let (ne, gt, is_nan) = if words == 1 {
        ("ka != kb", "ka > kb", "k == nan")
    } else {
        ("any(ka != kb)", "ka.x > kb.x || (ka.x == kb.x && ka.y > kb.y)", "all(k == nan)")
    };
    format!(
        "{}fn rg_cmp(a: u32, b: u32, len: u32) -> i32 {{\n  for (var j = 0u; j < len; j = j + 1u) {{\n    let ka = rg_key(a * len + j);\n    let kb = rg_key(b * len + j);\n    if ({ne}) {{ return select(-1, 1, {gt}); }}\n  }}\n  return 0;\n}}\nfn rg_has_nan(a: u32, len: u32) -> bool {{\n  let nan = {};\n  for (var j = 0u; j < len; j = j + 1u) {{\n    let k = rg_key(a * len + j);\n    if ({is_nan}) {{ return true; }}\n  }}\n  return false;\n}}\n",
        key_fn(dt),
        nan_key(words)
    )
}

/// p = [P]: idx[i] = i.
fn iota_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("idx", ReadWrite, "u32")]);
    wgsl::entry(&mut s);
    s.push_str("  idx[i] = i;\n}\n");
    s
}

/// One compare-exchange step of the bitonic network over row indices; p = [P / 2, P, j, k,
/// rows, len]. Indices from `rows` on are padding: above every row, ordered by index.
fn step_kernel(dt: DType) -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("src", Read, "u32"), ("idx", ReadWrite, "u32")]);
    s.push_str(&row_fns(dt));
    wgsl::entry(&mut s);
    s.push_str(
        "  let j = p[2];\n  let a = (i / j) * 2u * j + (i % j);\n  let b = a + j;\n  let ia = idx[a];\n  let ib = idx[b];\n  var after = ia > ib;\n  if (ia < p[4] && ib < p[4]) {\n    let c = rg_cmp(ia, ib, p[5]);\n    if (c != 0) { after = c > 0; }\n  }\n  if (after == ((a & p[3]) == 0u)) {\n    idx[a] = ib;\n    idx[b] = ia;\n  }\n}\n",
    );
    s
}

/// p = [rows, len, is_float]: ids[i] = 1 where a group starts at sorted position i.
fn flags_kernel(dt: DType) -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("src", Read, "u32"), ("idx", Read, "u32"), ("ids", ReadWrite, "u32")]);
    s.push_str(&row_fns(dt));
    wgsl::entry(&mut s);
    s.push_str(
        "  let r = idx[i];\n  var start = i == 0u;\n  if (!start) {\n    start = rg_cmp(idx[i - 1u], r, p[1]) != 0 || (p[2] != 0u && rg_has_nan(r, p[1]));\n  }\n  ids[i] = select(0u, 1u, start);\n}\n",
    );
    s
}

/// p = [rows]: each group's first row and first sorted position, and every row's group.
fn scatter_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[
            ("idx", Read, "u32"),
            ("ids", Read, "u32"),
            ("picks", ReadWrite, "u32"),
            ("starts", ReadWrite, "u32"),
            ("inv", ReadWrite, "u32"),
        ],
    );
    wgsl::entry(&mut s);
    s.push_str(
        "  let id = ids[i];\n  let g = id - 1u;\n  if (i == 0u || ids[i - 1u] != id) {\n    picks[g] = idx[i];\n    starts[g] = i;\n  }\n  inv[idx[i]] = g;\n}\n",
    );
    s
}

/// p = [total words, rows, groups, post, words per element]: the result (x's shape with
/// `groups` slices along the dim) from the contiguous `src` (`rows` slices), word by word.
fn gather_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("src", Read, "u32"), ("picks", Read, "u32"), ("outb", ReadWrite, "u32")]);
    wgsl::entry(&mut s);
    s.push_str(
        "  let w = p[4];\n  let e = i / w;\n  let post = p[3];\n  let b = e % post;\n  let g = (e / post) % p[2];\n  let a = e / (post * p[2]);\n  let at = (a * p[1] + picks[g]) * post + b;\n  outb[i] = src[at * w + i % w];\n}\n",
    );
    s
}

/// `unique` (`consecutive: false`) or `unique_consecutive` of the slices along `d` of the
/// device tensor `x` (ndim > 0, the host's checks passed). None when the dtype or the sizes
/// are ones the kernels do not take.
pub fn unique_dim(
    x: &Tensor,
    d: usize,
    consecutive: bool,
    inverse: bool,
    counts: bool,
) -> Result<Option<Groups>> {
    let dt = x.dtype();
    let Some(words) = key_words(dt) else { return Ok(None) };
    let n = x.shape()[d];
    let long = |t: Tensor| t.to_dtype(DType::I64);
    if n == 0 {
        return Ok(Some(Groups {
            values: empty(x.shape(), dt)?,
            inverse: if inverse { Some(long(empty(&[0], DType::I32)?)?) } else { None },
            counts: if counts { Some(long(empty(&[0], DType::I32)?)?) } else { None },
        }));
    }
    let p2 = if consecutive { n } else { n.next_power_of_two().max(2) };
    if x.numel().saturating_mul(words) > u32::MAX as usize / 2 || p2 > u32::MAX as usize / 2 {
        return Ok(None);
    }
    let len = x.numel() / n;
    let rows = if d == 0 { plain(x)? } else { contiguous(&x.transpose(0, d as i64)?)? };
    let c = ctx()?;
    let u = |v: usize| v as u32;
    let idx = empty(&[p2], DType::I32)?;
    let (rb, ib) = (buffer_of(&rows)?.raw(), buffer_of(&idx)?.raw());
    let iota = c.kernel("unique_dim_iota", iota_kernel)?;
    c.dispatch(&iota, &[ib], &[u(p2)], groups(p2, WORKGROUP))?;
    if !consecutive {
        let step = c.kernel(&format!("unique_dim_step|{dt:?}"), || step_kernel(dt))?;
        let mut k = 2;
        while k <= p2 {
            let mut j = k / 2;
            while j > 0 {
                let params = [u(p2 / 2), u(p2), u(j), u(k), u(n), u(len)];
                c.dispatch(&step, &[rb, ib], &params, groups(p2 / 2, WORKGROUP))?;
                j /= 2;
            }
            k *= 2;
        }
    }
    let first = empty(&[n], DType::I32)?;
    let flags = c.kernel(&format!("unique_dim_flags|{dt:?}"), || flags_kernel(dt))?;
    let fb = buffer_of(&first)?.raw();
    c.dispatch(&flags, &[rb, ib, fb], &[u(n), u(len), dt.is_float() as u32], groups(n, WORKGROUP))?;
    let ids = super::scan::prefix_sum_u32(&first)?;
    let idb = buffer_of(&ids)?.raw();
    // The one synchronization: the number of groups sizes the results.
    let last = c.read(idb, (n as u64 - 1) * 4, 4)?;
    let m = u32::from_le_bytes([last[0], last[1], last[2], last[3]]) as usize;
    if m == 0 || m > n {
        return Err(Error::Runtime(format!("internal: the device unique found {m} groups in {n} slices")));
    }
    let (picks, starts, inv) = (empty(&[m], DType::I32)?, empty(&[m], DType::I32)?, empty(&[n], DType::I32)?);
    let pb = buffer_of(&picks)?.raw();
    let scatter = c.kernel("unique_dim_scatter", scatter_kernel)?;
    let bufs = [ib, idb, pb, buffer_of(&starts)?.raw(), buffer_of(&inv)?.raw()];
    c.dispatch(&scatter, &bufs, &[u(n)], groups(n, WORKGROUP))?;
    let mut shape = x.shape().to_vec();
    shape[d] = m;
    let values = empty(&shape, dt)?;
    let total = values.numel() * words;
    let post: usize = x.shape()[d + 1..].iter().product();
    let src = plain(x)?;
    let gather = c.kernel("unique_dim_gather", gather_kernel)?;
    let bufs = [buffer_of(&src)?.raw(), pb, buffer_of(&values)?.raw()];
    c.dispatch(&gather, &bufs, &[u(total), u(n), u(m), u(post), u(words)], groups(total, WORKGROUP))?;
    let cnt = if counts {
        let out = empty(&[m], DType::I32)?;
        let k = c.kernel("unique_counts", counts_kernel)?;
        c.dispatch(
            &k,
            &[buffer_of(&starts)?.raw(), buffer_of(&out)?.raw()],
            &[u(m), u(n)],
            groups(m, WORKGROUP),
        )?;
        Some(long(out)?)
    } else {
        None
    };
    Ok(Some(Groups { values, inverse: if inverse { Some(long(inv)?) } else { None }, counts: cnt }))
}
