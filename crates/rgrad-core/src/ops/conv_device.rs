//! The convolution kernels on the wgpu device, built from the device's gather and batched
//! matmul: im2col is a gather by flat offsets (negative offsets read zero: the padding),
//! col2im the sum over kernel offsets of such gathers, and the products are one batched
//! matmul per group with the whole batch side by side in the columns.
//!
//! Shapes follow cpu/conv.rs: the column matrix of group `g` is `[rows, N * P]` with
//! `rows = ca / groups * K` and `P` the output-side positions.

use crate::cpu::conv::ConvGeometry;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

fn a_len(g: &ConvGeometry) -> usize {
    g.a.iter().product()
}

fn b_len(g: &ConvGeometry) -> usize {
    g.b.iter().product()
}

/// The input-side position read by kernel offset `kk` at output position `o` along one dim.
#[inline]
fn source(o: usize, kk: usize, n: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    (o * s + kk * d).checked_sub(p).filter(|&i| i < n)
}

/// Calls `f(group, row, image, column, input_spatial_offset)` for every element of every
/// group's column matrix, in row-major order of `[groups, rows, batch, P]`.
fn for_each_column(g: &ConvGeometry, mut f: impl FnMut(usize, usize, usize, usize, Option<usize>)) {
    let cag = g.ca / g.groups;
    let [ad, ah, aw] = g.a;
    let [bd, bh, bw] = g.b;
    for grp in 0..g.groups {
        let mut row = 0;
        for _channel in 0..cag {
            for z in 0..g.k[0] {
                for y in 0..g.k[1] {
                    for x in 0..g.k[2] {
                        for n in 0..g.batch {
                            let mut col = 0;
                            for oz in 0..bd {
                                let iz = source(oz, z, ad, g.stride[0], g.padding[0], g.dilation[0]);
                                for oy in 0..bh {
                                    let iy = source(oy, y, ah, g.stride[1], g.padding[1], g.dilation[1]);
                                    for ox in 0..bw {
                                        let ix = source(ox, x, aw, g.stride[2], g.padding[2], g.dilation[2]);
                                        let at = match (iz, iy, ix) {
                                            (Some(iz), Some(iy), Some(ix)) => Some((iz * ah + iy) * aw + ix),
                                            _ => None,
                                        };
                                        f(grp, row, n, col, at);
                                        col += 1;
                                    }
                                }
                            }
                        }
                        row += 1;
                    }
                }
            }
        }
    }
}

fn dense(t: &Tensor) -> Result<Tensor> {
    let t = t.detach();
    if t.is_contiguous() && t.layout().offset == 0 {
        Ok(t)
    } else {
        t.clone_tensor()
    }
}

/// im2col of `a` (`[batch, ca, a...]`) as `[groups, rows, batch * P]`.
fn columns(g: &ConvGeometry, a: &Tensor) -> Result<Tensor> {
    let a = dense(a)?;
    let (cag, k, p, al) = (g.ca / g.groups, g.k.iter().product::<usize>(), b_len(g), a_len(g));
    let rows = cag * k;
    let mut offsets = Vec::with_capacity(g.groups * rows * g.batch * p);
    for_each_column(g, |grp, row, n, _col, at| {
        let c = grp * cag + row / k;
        offsets.push(at.map_or(-1, |s| ((n * g.ca + c) * al + s) as i64));
    });
    crate::gpu::gather(&a, &offsets, &[g.groups, rows, g.batch * p])
}

/// col2im: `cols` (`[groups, rows, batch * P]`) summed back into `[batch, ca, a...]` as a sum
/// over the kernel offsets of gathers (no scatter, so no write conflicts).
fn image(g: &ConvGeometry, cols: &Tensor) -> Result<Tensor> {
    let cols = dense(cols)?;
    let (cag, k, p, al) = (g.ca / g.groups, g.k.iter().product::<usize>(), b_len(g), a_len(g));
    let rows = cag * k;
    // Each input position is read by at most one output position per kernel offset.
    let mut offsets = vec![-1i64; k * g.batch * g.ca * al];
    for_each_column(g, |grp, row, n, col, at| {
        if let Some(s) = at {
            let c = grp * cag + row / k;
            let kk = row % k;
            offsets[((kk * g.batch + n) * g.ca + c) * al + s] =
                ((grp * rows + row) * g.batch * p + n * p + col) as i64;
        }
    });
    let parts = crate::gpu::gather(&cols, &offsets, &[k, g.batch * g.ca * al])?;
    parts.sum(Some(&[0]), false)
}

fn weight_3d(g: &ConvGeometry, w: &Tensor) -> Result<Tensor> {
    let rows = g.ca / g.groups * g.k.iter().product::<usize>();
    dense(w)?.reshape(&[g.groups as i64, (g.cb / g.groups) as i64, rows as i64])
}

/// `b` (`[batch, cb, b...]`) as `[groups, cb / groups, batch * P]`.
fn grouped(g: &ConvGeometry, b: &Tensor) -> Result<Tensor> {
    let (n, grp, cbg, p) = (g.batch as i64, g.groups as i64, (g.cb / g.groups) as i64, b_len(g) as i64);
    dense(b)?.reshape(&[n, grp, cbg, p])?.permute(&[1, 2, 0, 3])?.clone_tensor()?.reshape(&[grp, cbg, n * p])
}

fn check_sizes(g: &ConvGeometry) -> Result<()> {
    let rows = g.ca / g.groups * g.k.iter().product::<usize>();
    let biggest =
        [g.groups * rows * g.batch * b_len(g), g.k.iter().product::<usize>() * g.batch * g.ca * a_len(g)];
    if biggest.iter().any(|&n| n > i32::MAX as usize) {
        return Err(Error::Runtime("wgpu convolution: the column matrix exceeds 2^31 elements".into()));
    }
    Ok(())
}

/// Convolution forward on the device: `[batch, cb, P]` (flat spatial dims).
pub(crate) fn forward(g: &ConvGeometry, a: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    check_sizes(g)?;
    let cols = columns(g, a)?;
    let prod = weight_3d(g, w)?.bmm(&cols)?; // [groups, cbg, batch * P]
    let (n, grp, cbg, p) = (g.batch as i64, g.groups as i64, (g.cb / g.groups) as i64, b_len(g) as i64);
    let out = prod.reshape(&[grp, cbg, n, p])?.permute(&[2, 0, 1, 3])?.clone_tensor()?.reshape(&[
        n,
        grp * cbg,
        p,
    ])?;
    match bias {
        Some(b) => out.add(&b.detach().reshape(&[1, grp * cbg, 1])?),
        None => Ok(out),
    }
}

/// The data gradient (transposed convolution) on the device: `[batch, ca, A]`.
pub(crate) fn backward_data(g: &ConvGeometry, b: &Tensor, w: &Tensor) -> Result<Tensor> {
    check_sizes(g)?;
    let cols = weight_3d(g, w)?.transpose(1, 2)?.bmm(&grouped(g, b)?)?; // [groups, rows, batch * P]
    image(g, &cols)?.reshape(&[g.batch as i64, g.ca as i64, a_len(g) as i64])
}

/// The weight gradient on the device: `[cb, ca / groups * K]`.
pub(crate) fn backward_weight(g: &ConvGeometry, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    check_sizes(g)?;
    let cols = columns(g, a)?;
    let dw = grouped(g, b)?.bmm(&cols.transpose(1, 2)?)?; // [groups, cbg, rows]
    let rows = g.ca / g.groups * g.k.iter().product::<usize>();
    dw.reshape(&[g.cb as i64, rows as i64])
}
