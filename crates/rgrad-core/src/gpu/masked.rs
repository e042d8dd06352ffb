//! `masked_scatter` and `nonzero` on the device: the mask's running count (the block scan of
//! gpu/scan.rs) gives each masked place the index of its source element (masked_scatter) or
//! its output row (nonzero). The one readback is the count itself (4 bytes): PyTorch's error
//! when `source` is too short, the number of rows of `nonzero`; the data stays here.

use super::imp::{buffer_of, contiguous, ctx, empty, groups, map, plain, supports};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, storage_type, WORKGROUP};
use super::Input;
use crate::bail;
use crate::error::Result;
use crate::{DType, Tensor};

/// p = [n]: `out[i] = src[pos[i] - 1]` where the mask holds (pos is its inclusive count),
/// `x[i]` elsewhere.
fn scatter_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(
        &mut s,
        &[("x", Read, t), ("m", Read, "u32"), ("pos", Read, "u32"), ("src", Read, t), ("outb", ReadWrite, t)],
    );
    wgsl::entry(&mut s);
    // An `if`, not `select`: select would read src[-1] at an unmasked place before any mask.
    s.push_str("  if (m[i] != 0u) { outb[i] = src[pos[i] - 1u]; } else { outb[i] = x[i]; }\n}\n");
    s
}

/// `masked_scatter` of the device views `x` and `mask` (both already broadcast to the output
/// shape) from `src` (any shape, read in row-major order).
pub fn masked_scatter(x: &Tensor, mask: &Tensor, src: &Tensor) -> Result<Tensor> {
    let n = x.numel();
    let dt = x.dtype();
    if n == 0 {
        return empty(x.shape(), dt);
    }
    if n > u32::MAX as usize {
        bail!(Runtime, "masked_scatter: {n} elements exceed the device kernel's 32-bit indices");
    }
    let xs = contiguous(x)?;
    let m = map(&[Input::of(mask, DType::I32)], "a", DType::I32, mask.shape(), DType::I32)?;
    let pos = super::scan::prefix_sum_u32(&m)?;
    let c = ctx()?;
    let last = c.read(buffer_of(&pos)?.raw(), (n as u64 - 1) * 4, 4)?;
    let count = u32::from_le_bytes([last[0], last[1], last[2], last[3]]) as usize;
    if count > src.numel() {
        bail!(Runtime, "Number of elements of source < number of ones in mask");
    }
    if count == 0 {
        return Ok(xs);
    }
    let src = plain(src)?;
    let out = empty(x.shape(), dt)?;
    let k = c.kernel(&format!("masked_scatter|{dt:?}"), || scatter_kernel(dt))?;
    let bufs = [
        buffer_of(&xs)?.raw(),
        buffer_of(&m)?.raw(),
        buffer_of(&pos)?.raw(),
        buffer_of(&src)?.raw(),
        buffer_of(&out)?.raw(),
    ];
    c.dispatch(&k, &bufs, &[n as u32], groups(n, WORKGROUP))?;
    Ok(out)
}

/// p = [n, ndim, sizes...]: row `pos[i] - 1` of `out` holds the coordinates of masked place `i`.
fn coords_kernel() -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("m", Read, "u32"), ("pos", Read, "u32"), ("outb", ReadWrite, "i32")]);
    wgsl::entry(&mut s);
    s.push_str(
        "  if (m[i] == 0u) { return; }\n  let nd = p[1];\n  let row = pos[i] - 1u;\n  var rest = i;\n  for (var k = 0u; k < nd; k += 1u) {\n    let d = nd - 1u - k;\n    outb[row * nd + d] = i32(rest % p[2u + d]);\n    rest = rest / p[2u + d];\n  }\n}\n",
    );
    s
}

/// `nonzero` of a device bool tensor of at least one dim: the int64 coordinates ([count, ndim])
/// of its true places in row-major order; None when int64 or the sizes are beyond the device
/// (the caller computes on the host).
pub fn nonzero(mask: &Tensor) -> Result<Option<Tensor>> {
    let (n, nd) = (mask.numel(), mask.ndim());
    if !supports(DType::I64) || nd == 0 || n > i32::MAX as usize || mask.dtype() != DType::Bool {
        return Ok(None);
    }
    if n == 0 {
        return Ok(Some(empty(&[0, nd], DType::I64)?));
    }
    let m = map(&[Input::of(mask, DType::I32)], "a", DType::I32, mask.shape(), DType::I32)?;
    let pos = super::scan::prefix_sum_u32(&m)?;
    let c = ctx()?;
    let last = c.read(buffer_of(&pos)?.raw(), (n as u64 - 1) * 4, 4)?;
    let count = u32::from_le_bytes([last[0], last[1], last[2], last[3]]) as usize;
    if count.checked_mul(nd).is_none_or(|v| v > i32::MAX as usize) {
        return Ok(None);
    }
    let out = empty(&[count, nd], DType::I32)?;
    if count > 0 {
        let k = c.kernel("nonzero_coords", coords_kernel)?;
        let mut p = vec![n as u32, nd as u32];
        p.extend(mask.shape().iter().map(|&d| d as u32));
        c.dispatch(
            &k,
            &[buffer_of(&m)?.raw(), buffer_of(&pos)?.raw(), buffer_of(&out)?.raw()],
            &p,
            groups(n, WORKGROUP),
        )?;
    }
    Ok(Some(out.to_dtype(DType::I64)?))
}
