//! Pooling kernels on the device: one invocation per output element walks its window from
//! the per-dim tables of cpu/pool.rs (uploaded as one `u32` buffer), so max pooling (values
//! and indices), average pooling and its adjoint are each one dispatch, without atomics.

use super::imp::{buffer_of, ctx, empty, groups};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, storage_type, WORKGROUP};
use crate::cpu::pool::{Divisor, Windows};
use crate::error::{Error, Result};
use crate::{DType, Tensor};
use std::fmt::Write;

/// The window tables as words `[first0.., count0.., first1.., ...]` and the parameter block
/// `[n, in_plane, out_plane, H, W, step0..2, len0..2, table offsets (first0, count0, ...)]`.
fn tables(n: usize, size: [usize; 3], w: &[Windows; 3]) -> Result<(Vec<u32>, Vec<u32>)> {
    let big =
        |v: usize| u32::try_from(v).map_err(|_| Error::Runtime("wgpu pooling: a size exceeds 2^32".into()));
    let out_plane: usize = w.iter().map(Windows::len).product();
    let mut tab = Vec::new();
    let mut offs = Vec::new();
    for d in w {
        offs.push(tab.len() as u32);
        for &f in &d.first {
            tab.push(big(f)?);
        }
        offs.push(tab.len() as u32);
        for &c in &d.count {
            tab.push(big(c)?);
        }
    }
    let mut p = vec![big(n)?, big(size.iter().product())?, big(out_plane)?, big(size[1])?, big(size[2])?];
    for d in w {
        p.push(big(d.step)?);
    }
    for d in w {
        p.push(big(d.len())?);
    }
    p.extend(offs);
    Ok((tab, p))
}

fn upload_words(words: &[u32]) -> Result<super::context::PooledBuffer> {
    let bytes: Vec<u8> =
        if words.is_empty() { vec![0; 4] } else { words.iter().flat_map(|w| w.to_le_bytes()).collect() };
    ctx()?.upload(&bytes)
}

/// The shared head of the kernels: the output position `(plane, a, b, c)` and its windows.
fn window_head(s: &mut String) {
    wgsl::entry(s);
    s.push_str(
        "  let plane = i / p[2];\n  let r = i % p[2];\n  let n1 = p[9];\n  let n2 = p[10];\n  let a = r / (n1 * n2);\n  let b = (r / n2) % n1;\n  let c = r % n2;\n  let fz = tab[p[11] + a];\n  let cz = tab[p[12] + a];\n  let fy = tab[p[13] + b];\n  let cy = tab[p[14] + b];\n  let fx = tab[p[15] + c];\n  let cx = tab[p[16] + c];\n  let base = plane * p[1];\n  let hh = p[3];\n  let ww = p[4];\n",
    );
}

fn max_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    wgsl::header(&mut s);
    if dt.is_float() {
        s.push_str(wgsl::nan_helpers(t));
    }
    wgsl::bindings(
        &mut s,
        &[("src", Read, t), ("tab", Read, "u32"), ("outb", ReadWrite, t), ("outi", ReadWrite, "i32")],
    );
    window_head(&mut s);
    let nan = if dt.is_float() { " || rg_isnan(v)" } else { "" };
    let _ = writeln!(
        s,
        "  var at = (fz * hh + fy) * ww + fx;\n  var best = src[base + at];\n  for (var z = 0u; z < cz; z = z + 1u) {{\n    for (var y = 0u; y < cy; y = y + 1u) {{\n      let row = ((fz + z * p[5]) * hh + fy + y * p[6]) * ww + fx;\n      for (var x = 0u; x < cx; x = x + 1u) {{\n        let j = row + x * p[7];\n        let v = src[base + j];\n        if (v > best{nan}) {{ best = v; at = j; }}\n      }}\n    }}\n  }}\n  outb[i] = best;\n  outi[i] = i32(at);\n}}"
    );
    s
}

/// `mode`: 0 divisor by output position (tables `dv`), 1 by input position, 2 a constant.
fn sum_kernel(dt: DType, mode: u32) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[("src", Read, t), ("tab", Read, "u32"), ("dv", Read, t), ("outb", ReadWrite, t)],
    );
    window_head(&mut s);
    // dv holds the divisors of dims 0, 1, 2 from word offsets p[17], p[18], p[19].
    let term = if mode == 1 {
        "src[base + row + xx] / (dv[p[17] + zz] * dv[p[18] + yy] * dv[p[19] + xx])"
    } else {
        "src[base + row + xx]"
    };
    let _ = writeln!(
        s,
        "  var acc = {t}(0);\n  for (var z = 0u; z < cz; z = z + 1u) {{\n    let zz = fz + z;\n    for (var y = 0u; y < cy; y = y + 1u) {{\n      let yy = fy + y;\n      let row = (zz * hh + yy) * ww;\n      for (var x = 0u; x < cx; x = x + 1u) {{\n        let xx = fx + x;\n        acc = acc + {term};\n      }}\n    }}\n  }}"
    );
    let fin = match mode {
        0 => "acc / (dv[p[17] + a] * dv[p[18] + b] * dv[p[19] + c])",
        1 => "acc",
        _ => "acc / dv[0]",
    };
    let _ = writeln!(s, "  outb[i] = {fin};\n}}");
    s
}

/// Max pooling of the contiguous planes of `x`: values of `shape` and int64 indices.
pub fn pool_max(
    x: &Tensor,
    planes: usize,
    size: [usize; 3],
    w: &[Windows; 3],
    shape: &[usize],
) -> Result<(Tensor, Tensor)> {
    let dt = x.dtype();
    let n = crate::shape::checked_numel(shape)?;
    let out = empty(shape, dt)?;
    let idx = empty(shape, DType::I32)?;
    if n > 0 {
        let _ = planes;
        let (tab, p) = tables(n, size, w)?;
        let c = ctx()?;
        let tb = upload_words(&tab)?;
        let kernel = c.kernel(&format!("pool_max|{dt:?}"), || max_kernel(dt))?;
        let src = if x.layout().offset == 0 { x.clone() } else { x.clone_tensor()? };
        let bufs = [buffer_of(&src)?.raw(), tb.raw(), buffer_of(&out)?.raw(), buffer_of(&idx)?.raw()];
        c.dispatch(&kernel, &bufs, &p, groups(n, WORKGROUP))?;
    }
    Ok((out, idx.to_dtype(DType::I64)?))
}

/// Windowed sums of the planes of `x` divided as `div` says (average pooling and its
/// adjoint), as a tensor of `shape`.
pub fn pool_avg(
    x: &Tensor,
    planes: usize,
    size: [usize; 3],
    w: &[Windows; 3],
    div: &Divisor,
    shape: &[usize],
) -> Result<Tensor> {
    let dt = x.dtype();
    let _ = planes;
    let n = crate::shape::checked_numel(shape)?;
    let out = empty(shape, dt)?;
    if n == 0 {
        return Ok(out);
    }
    let (tab, mut p) = tables(n, size, w)?;
    let (mode, divs): (u32, Vec<f64>) = match div {
        Divisor::Dst(d) | Divisor::Src(d) => {
            let mut v = Vec::new();
            for dim in d.iter() {
                p.push(v.len() as u32);
                v.extend_from_slice(dim);
            }
            (if matches!(div, Divisor::Dst(_)) { 0 } else { 1 }, v)
        }
        Divisor::Const(k) => {
            p.extend([0, 0, 0]);
            (2, vec![*k])
        }
    };
    let dv = crate::with_dtype!(dt, T => crate::gpu::upload(&Tensor::from_vec(divs.iter().map(|&v| <T as crate::Element>::from_f64(v)).collect::<Vec<T>>(), &[divs.len()]))?);
    let c = ctx()?;
    let tb = upload_words(&tab)?;
    let kernel = c.kernel(&format!("pool_sum|{dt:?}|{mode}"), || sum_kernel(dt, mode))?;
    let src = if x.layout().offset == 0 { x.clone() } else { x.clone_tensor()? };
    let bufs = [buffer_of(&src)?.raw(), tb.raw(), buffer_of(&dv)?.raw(), buffer_of(&out)?.raw()];
    c.dispatch(&kernel, &bufs, &p, groups(n, WORKGROUP))?;
    Ok(out)
}
