//! Strided gathers, scatters and dtype casts.

use crate::error::Result;
use crate::layout::{for_each_row, Layout};
use crate::storage::{try_vec_with_capacity, Element};
use crate::DType;

/// Converts one element between types with PyTorch's semantics (floats truncate toward zero
/// when cast to ints; anything nonzero is `true`).
#[inline(always)]
pub fn cast<T: Element, U: Element>(x: T) -> U {
    match U::DTYPE {
        DType::F16 | DType::BF16 | DType::F32 | DType::F64 => U::from_f64(x.to_f64()),
        DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => U::from_i64(x.to_i64()),
        DType::Bool => U::from_bool(x.is_nonzero()),
    }
}

/// Copies the view `layout` of `src` into a new contiguous buffer, converting elements.
pub fn gather<T: Element, U: Element>(src: &[T], layout: &Layout) -> Result<Vec<U>> {
    let n = layout.numel();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut out = try_vec_with_capacity(n)?;
    if layout.is_contiguous() {
        let s = &src[layout.offset..layout.offset + n];
        out.extend(s.iter().map(|&x| cast::<T, U>(x)));
        return Ok(out);
    }
    for_each_row(&layout.shape, [&layout.strides], [layout.offset], |[o], len, [st]| {
        if st == 1 {
            out.extend(src[o..o + len].iter().map(|&x| cast::<T, U>(x)));
        } else {
            out.extend((0..len).map(|i| cast::<T, U>(src[o + i * st])));
        }
    });
    Ok(out)
}

/// Writes a contiguous buffer `src` (of `dst_layout`'s shape) into the view `dst_layout`.
pub fn scatter<T: Element, U: Element>(src: &[T], dst: &mut [U], dst_layout: &Layout) {
    let mut i = 0;
    for_each_row(&dst_layout.shape, [&dst_layout.strides], [dst_layout.offset], |[o], len, [st]| {
        for k in 0..len {
            dst[o + k * st] = cast::<T, U>(src[i + k]);
        }
        i += len;
    });
}
