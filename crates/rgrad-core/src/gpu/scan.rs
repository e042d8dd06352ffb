//! Every running scan on the device, from one description: an element type (a value, with an
//! index for cummax/cummin) and an associative `comb(acc, next)`. cumsum/cumprod, cummax/
//! cummin (PyTorch's rules: a NaN takes over and every later NaN moves the index; ties take
//! the later index), logcumsumexp (PyTorch's `_log_add_exp_helper`) and the u32 prefix sums of
//! `unique` are all [`Scan`]s.
//!
//! Two strategies run the same `comb`. Short rows, or many of them, take one invocation per row
//! scanning sequentially (the host's order, so the same rounding). Long rows are cut into
//! blocks of one workgroup: each invocation scans a few consecutive elements in order, the
//! invocations' totals are scanned in workgroup memory (Hillis-Steele), the blocks' totals of
//! each row are scanned by the same function (recursively), and each block combines the total
//! of the blocks before it into its elements. Integer scans and cummax/cummin are
//! exact either way; a float sum, product or log-add-exp of a long row is rounded in a
//! different order than the host's (as PyTorch's CUDA scans are).

use super::imp::{buffer_of, ctx, empty, groups, plain};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, storage_type, Access, WORKGROUP};
use crate::error::Result;
use crate::{DType, Tensor};
use std::fmt::Write;

/// Consecutive elements each invocation of a block scans in order: fewer partial results go
/// through the workgroup's tree (whose roundings, for a product of numbers near 1, drift
/// linearly with its width), and each invocation does more of the work.
const PER_THREAD: usize = 8;
/// Elements of one block: a workgroup of `PER_THREAD` each.
const BLOCK: usize = WORKGROUP as usize * PER_THREAD;

/// Rows at most this long, or this many rows or more, are scanned one invocation per row.
const SEQUENTIAL_LEN: usize = 32;
const SEQUENTIAL_ROWS: usize = 4096;

/// What a scan combines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Combine {
    Sum,
    Prod,
    /// cummax (true) / cummin (false): the value and its index.
    Extreme(bool),
    LogAddExp,
}

/// One scan: the combine and the dtype of the values.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scan {
    pub comb: Combine,
    pub dt: DType,
}

/// A scanned (or to be scanned) batch of rows: values, and indices when the scan has them.
struct Rows {
    v: Tensor,
    i: Option<Tensor>,
}

impl Scan {
    fn indexed(self) -> bool {
        matches!(self.comb, Combine::Extreme(_))
    }

    /// The WGSL shared by every kernel of this scan: the element `E`, `comb`, and the helpers.
    fn prelude(self) -> String {
        let t = storage_type(self.dt);
        let mut s = String::new();
        wgsl::header(&mut s);
        if self.indexed() {
            let _ = writeln!(s, "struct E {{ v: {t}, i: i32 }}");
        } else {
            let _ = writeln!(s, "struct E {{ v: {t} }}");
        }
        let is_float = matches!(self.dt, DType::F32 | DType::F64);
        match self.comb {
            Combine::Extreme(_) if is_float => s.push_str(wgsl::nan_helpers(t)),
            Combine::Extreme(_) => {
                let _ = writeln!(s, "fn rg_isnan(x: {t}) -> bool {{ return false; }}");
            }
            Combine::LogAddExp => {
                s.push_str(&wgsl::float_helpers(t));
                // C++'s std::min/std::max take the first argument when either is NaN.
                let _ = writeln!(
                    s,
                    "fn rg_lae(x: {t}, y: {t}) -> {t} {{\n  var lo = select(x, y, y < x);\n  var hi = select(x, y, x < y);\n  if (rg_isnan(y)) {{ lo = y; hi = y; }}\n  if (rg_isnan(lo) || lo != hi || !rg_isinf(lo)) {{ return rg_log1p(exp(lo - hi)) + hi; }}\n  return x;\n}}"
                );
            }
            _ => {}
        }
        // `b` always holds later positions than `a`: the later of equal extremes wins.
        let body = match self.comb {
            Combine::Sum => "return E(a.v + b.v);".to_string(),
            Combine::Prod => "return E(a.v * b.v);".to_string(),
            Combine::Extreme(max) => {
                let cmp = if max { ">=" } else { "<=" };
                format!(
                    "if (rg_isnan(b.v) || (!rg_isnan(a.v) && b.v {cmp} a.v)) {{ return b; }}\n  return a;"
                )
            }
            Combine::LogAddExp => "return E(rg_lae(a.v, b.v));".to_string(),
        };
        let _ = writeln!(s, "fn comb(a: E, b: E) -> E {{\n  {body}\n}}");
        s
    }

    /// The buffers `srcv [srci] outv [outi]` every scan kernel binds first (the order `run`
    /// passes them). `pairs`: the input carries indices (a scan of block totals), else an
    /// element's index is its position in the row.
    fn io_buffers(self, pairs: bool) -> Vec<(&'static str, Access, &'static str)> {
        let t = storage_type(self.dt);
        let mut bufs = vec![("srcv", Read, t)];
        if self.indexed() && pairs {
            bufs.push(("srci", Read, "i32"));
        }
        bufs.push(("outv", ReadWrite, t));
        if self.indexed() {
            bufs.push(("outi", ReadWrite, "i32"));
        }
        bufs
    }

    /// The load `ld` of an element from the buffers of [`Scan::io_buffers`].
    fn load(self, pairs: bool) -> String {
        let load = match (self.indexed(), pairs) {
            (false, _) => "E(srcv[at])",
            (true, false) => "E(srcv[at], i32(k))",
            (true, true) => "E(srcv[at], srci[at])",
        };
        format!("fn ld(at: u32, k: u32) -> E {{ return {load}; }}\n")
    }

    fn store(self) -> &'static str {
        if self.indexed() {
            "fn st(at: u32, e: E) { outv[at] = e.v; outi[at] = e.i; }\n"
        } else {
            "fn st(at: u32, e: E) { outv[at] = e.v; }\n"
        }
    }

    /// p = [rows, len]; one invocation scans one row in order.
    fn row_kernel(self, pairs: bool) -> String {
        let mut s = self.prelude();
        wgsl::bindings(&mut s, &self.io_buffers(pairs));
        s.push_str(&self.load(pairs));
        s.push_str(self.store());
        wgsl::entry(&mut s);
        s.push_str(
            "  let len = p[1];\n  let base = i * len;\n  var acc = ld(base, 0u);\n  st(base, acc);\n  for (var k = 1u; k < len; k = k + 1u) {\n    acc = comb(acc, ld(base + k, k));\n    st(base + k, acc);\n  }\n}\n",
        );
        s
    }

    /// p = [rows, len, blocks per row, blocks]: one workgroup scans one block of a row (each
    /// invocation its `PER_THREAD` elements in order, then the invocations' totals in
    /// workgroup memory, Hillis-Steele, then each its elements after the total before it) and
    /// writes the block's total to `sumv` (`sumi`).
    fn block_kernel(self, pairs: bool) -> String {
        let mut s = self.prelude();
        let mut bufs = self.io_buffers(pairs);
        bufs.push(("sumv", ReadWrite, storage_type(self.dt)));
        let total = if self.indexed() {
            bufs.push(("sumi", ReadWrite, "i32"));
            "sumv[blk] = sh[l].v; sumi[blk] = sh[l].i;"
        } else {
            "sumv[blk] = sh[l].v;"
        };
        wgsl::bindings(&mut s, &bufs);
        s.push_str(&self.load(pairs));
        s.push_str(self.store());
        // Barriers stay in uniform control flow: invocations past the row's end (or past the
        // last block) keep running the loop and only skip their loads and stores.
        let _ = writeln!(
            s,
            "var<workgroup> sh: array<E, {WORKGROUP}>;\n@compute @workgroup_size({WORKGROUP})\nfn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) l: u32) {{\n  let blk = wg.x + wg.y * nw.x;\n  let len = p[1];\n  let row = blk / p[2];\n  let k0 = (blk % p[2]) * {BLOCK}u + l * {PER_THREAD}u;\n  let base = row * len + k0;\n  var loc: array<E, {PER_THREAD}>;\n  var cnt = 0u;\n  if (blk < p[3] && k0 < len) {{ cnt = min({PER_THREAD}u, len - k0); }}\n  for (var r = 0u; r < cnt; r = r + 1u) {{\n    let e = ld(base + r, k0 + r);\n    if (r == 0u) {{ loc[0] = e; }} else {{ loc[r] = comb(loc[r - 1u], e); }}\n  }}\n  let ok = cnt > 0u;\n  if (ok) {{ sh[l] = loc[cnt - 1u]; }}\n  workgroupBarrier();\n  for (var off = 1u; off < {WORKGROUP}u; off = off * 2u) {{\n    var e = sh[l];\n    if (ok && l >= off) {{ e = comb(sh[l - off], e); }}\n    workgroupBarrier();\n    sh[l] = e;\n    workgroupBarrier();\n  }}\n  if (ok) {{\n    for (var r = 0u; r < cnt; r = r + 1u) {{\n      var e = loc[r];\n      if (l > 0u) {{ e = comb(sh[l - 1u], e); }}\n      st(base + r, e);\n    }}\n    if (l == {last}u || k0 + {PER_THREAD}u >= len) {{ {total} }}\n  }}\n}}",
            last = WORKGROUP - 1
        );
        s
    }

    /// p = [n, len, blocks per row]: every element of a row's block j > 0 combined after the
    /// scanned total of blocks 0..j (`sumv`/`sumi`, scanned along each row).
    fn carry_kernel(self) -> String {
        let mut s = self.prelude();
        let t = storage_type(self.dt);
        let mut bufs = vec![("outv", ReadWrite, t)];
        if self.indexed() {
            bufs.push(("outi", ReadWrite, "i32"));
        }
        bufs.push(("sumv", Read, t));
        let (cur, prev) = if self.indexed() {
            bufs.push(("sumi", Read, "i32"));
            ("E(outv[i], outi[i])", "E(sumv[q], sumi[q])")
        } else {
            ("E(outv[i])", "E(sumv[q])")
        };
        wgsl::bindings(&mut s, &bufs);
        s.push_str(self.store());
        wgsl::entry(&mut s);
        let _ = writeln!(
            s,
            "  let len = p[1];\n  let j = (i % len) / {BLOCK}u;\n  if (j == 0u) {{ return; }}\n  let q = (i / len) * p[2] + j - 1u;\n  st(i, comb({prev}, {cur}));\n}}"
        );
        s
    }

    fn key(self, what: &str, pairs: bool) -> String {
        format!("scan|{what}|{:?}|{:?}|{pairs}", self.comb, self.dt)
    }

    fn outputs(self, shape: &[usize]) -> Result<Rows> {
        Ok(Rows {
            v: empty(shape, self.dt)?,
            i: if self.indexed() { Some(empty(shape, DType::I32)?) } else { None },
        })
    }

    /// The inclusive scan of each of `rows` rows of `len` (> 0) elements of `src` (contiguous,
    /// offset 0). `rows * len` fits the kernels' u32 arithmetic.
    fn run(self, src: &Rows, rows: usize, len: usize) -> Result<Rows> {
        let c = ctx()?;
        let pairs = src.i.is_some();
        let out = self.outputs(&[rows * len])?;
        let mut bufs = vec![buffer_of(&src.v)?.raw()];
        if let Some(i) = &src.i {
            bufs.push(buffer_of(i)?.raw());
        }
        bufs.push(buffer_of(&out.v)?.raw());
        if let Some(i) = &out.i {
            bufs.push(buffer_of(i)?.raw());
        }
        if len <= SEQUENTIAL_LEN || rows >= SEQUENTIAL_ROWS {
            let k = c.kernel(&self.key("row", pairs), || self.row_kernel(pairs))?;
            c.dispatch(&k, &bufs, &[rows as u32, len as u32], groups(rows, WORKGROUP))?;
            return Ok(out);
        }
        let per_row = len.div_ceil(BLOCK);
        let blocks = rows * per_row;
        let sums = self.outputs(&[blocks])?;
        bufs.push(buffer_of(&sums.v)?.raw());
        if let Some(i) = &sums.i {
            bufs.push(buffer_of(i)?.raw());
        }
        let k = c.kernel(&self.key("block", pairs), || self.block_kernel(pairs))?;
        let params = [rows as u32, len as u32, per_row as u32, blocks as u32];
        c.dispatch(&k, &bufs, &params, groups(blocks, 1))?;
        if per_row > 1 {
            let carried = self.run(&sums, rows, per_row)?;
            let mut bufs = vec![buffer_of(&out.v)?.raw()];
            if let Some(i) = &out.i {
                bufs.push(buffer_of(i)?.raw());
            }
            bufs.push(buffer_of(&carried.v)?.raw());
            if let Some(i) = &carried.i {
                bufs.push(buffer_of(i)?.raw());
            }
            let k = c.kernel(&self.key("carry", false), || self.carry_kernel())?;
            let n = rows * len;
            c.dispatch(&k, &bufs, &[n as u32, len as u32, per_row as u32], groups(n, WORKGROUP))?;
        }
        Ok(out)
    }

    /// The scan along the last dim of device tensor `x`, with `x`'s shape; None when the
    /// kernels do not take it (empty, or sizes past their u32 arithmetic).
    fn last_dim(self, x: &Tensor) -> Result<Option<Rows>> {
        let len = x.shape().last().copied().unwrap_or(1);
        let n = x.numel();
        if n == 0 || len == 0 || n > u32::MAX as usize {
            return Ok(None);
        }
        let x = plain(x)?;
        let out = self.run(&Rows { v: x.reshape(&[n as i64])?, i: None }, n / len, len)?;
        let shape: Vec<i64> = x.shape().iter().map(|&s| s as i64).collect();
        Ok(Some(Rows { v: out.v.reshape(&shape)?, i: out.i.map(|i| i.reshape(&shape)).transpose()? }))
    }
}

/// `cumsum` (`product: false`) or `cumprod` along the last dim of a device tensor.
pub fn sum_or_prod_last(x: &Tensor, product: bool) -> Result<Tensor> {
    let comb = if product { Combine::Prod } else { Combine::Sum };
    match (Scan { comb, dt: x.dtype() }).last_dim(x)? {
        Some(r) => Ok(r.v),
        None if x.numel() == 0 => empty(x.shape(), x.dtype()),
        None => Err(crate::error::Error::Runtime(format!(
            "a device scan of {} elements exceeds the kernels' u32 indexing",
            x.numel()
        ))),
    }
}

/// `cummax`/`cummin` along the last dim of an f32/i32 device tensor: contiguous values and
/// int64 indices of `x`'s shape, or None when the device kernel does not take it.
pub fn cum_extreme_last(x: &Tensor, is_max: bool) -> Result<Option<(Tensor, Tensor)>> {
    if !matches!(x.dtype(), DType::F32 | DType::I32) {
        return Ok(None);
    }
    let Some(r) = (Scan { comb: Combine::Extreme(is_max), dt: x.dtype() }).last_dim(x)? else {
        return Ok(None);
    };
    let i = r.i.expect("an extreme scan has indices");
    Ok(Some((r.v, i.to_dtype(DType::I64)?)))
}

/// `logcumsumexp` along the last dim of an f32 device tensor, or None when the device kernel
/// does not take it.
pub fn logcumsumexp_last(x: &Tensor) -> Result<Option<Tensor>> {
    if x.dtype() != DType::F32 {
        return Ok(None);
    }
    Ok((Scan { comb: Combine::LogAddExp, dt: DType::F32 }).last_dim(x)?.map(|r| r.v))
}

/// The inclusive prefix sum of a fresh (contiguous, non-empty) int32 device tensor of group
/// flags or counts, as a new int32 tensor.
pub(super) fn prefix_sum_u32(data: &Tensor) -> Result<Tensor> {
    let src = Rows { v: data.clone(), i: None };
    Ok((Scan { comb: Combine::Sum, dt: DType::I32 }).run(&src, 1, data.numel())?.v)
}
