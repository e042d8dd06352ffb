//! Shapes, dimension arithmetic and broadcasting.

use crate::bail;
use crate::error::Result;
use smallvec::SmallVec;

/// Sizes or strides (in elements). Four dims inline covers nearly every tensor.
pub type Dims = SmallVec<[usize; 4]>;

/// Element count of a shape whose layout is already known to be valid (every tensor's is:
/// see [`checked_numel`]). Wrapping, so a zero-sized shape with huge other dims gives 0.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |acc, &d| acc.wrapping_mul(d))
}

/// The element count of a view of `shape`, refusing counts that do not fit in an `i64`
/// (PyTorch's message for `expand(2**62, 2**62, 3)`).
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    let mut acc: usize = 1;
    for &d in shape {
        acc = match acc.checked_mul(d) {
            Some(v) if v <= i64::MAX as usize && d <= i64::MAX as usize => v,
            _ => bail!(Runtime, "numel: integer multiplication overflow"),
        };
    }
    Ok(acc)
}

/// The element count of a new buffer holding `shape` with `itemsize`-byte elements: the byte
/// size must fit in an `isize` (what an allocation can ask for), with PyTorch's message.
pub fn storage_numel(shape: &[usize], itemsize: usize) -> Result<usize> {
    let overflow = || {
        crate::error::Error::Runtime(format!(
            "Storage size calculation overflowed with sizes={}",
            fmt_shape(shape)
        ))
    };
    let mut acc: usize = 1;
    for &d in shape {
        // A dim past int64 cannot be a PyTorch size even when another dim is 0.
        if d > i64::MAX as usize {
            return Err(overflow());
        }
        acc = acc.checked_mul(d).ok_or_else(overflow)?;
    }
    match acc.checked_mul(itemsize.max(1)) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(acc),
        _ => Err(overflow()),
    }
}

/// Row-major strides for a shape. Saturating: only a zero-sized shape (where no stride is ever
/// used to reach memory) can get near the limit, since a valid layout's strides are at most
/// its element count. Use [`checked_contiguous_strides`] for shapes from users.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(0, shape.len());
    let mut acc: usize = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.saturating_mul(shape[i].max(1));
    }
    strides
}

/// [`contiguous_strides`] with PyTorch's error when a stride does not fit in an `i64`.
pub fn checked_contiguous_strides(shape: &[usize]) -> Result<Dims> {
    let mut strides: Dims = SmallVec::from_elem(0, shape.len());
    let mut acc: usize = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = match acc.checked_mul(shape[i].max(1)) {
            Some(v) if v <= i64::MAX as usize => v,
            _ if i == 0 => acc, // the stride past the first dim is never used
            _ => bail!(Runtime, "Stride calculation overflowed"),
        };
    }
    Ok(strides)
}

/// Formats a shape as PyTorch does in messages: `[2, 3]`.
pub fn fmt_shape(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Wraps a possibly negative dimension index into `0..ndim`, with PyTorch's IndexError.
pub fn normalize_dim(dim: i64, ndim: usize) -> Result<usize> {
    // A 0-dim tensor accepts dims -1 and 0, as in PyTorch.
    let n = ndim.max(1) as i64;
    if dim < -n || dim >= n {
        bail!(
            Index,
            "Dimension out of range (expected to be in range of [{}, {}], but got {})",
            -n,
            n - 1,
            dim
        );
    }
    Ok(if dim < 0 { (dim + n) as usize } else { dim as usize })
}

/// A dim of a tensor that must have dims (split, chunk, size(d), ...): PyTorch's IndexError
/// for 0-dim tensors, the usual range check otherwise.
pub fn existing_dim(dim: i64, ndim: usize) -> Result<usize> {
    if ndim == 0 {
        bail!(Index, "Dimension specified as {} but tensor has no dimensions", dim);
    }
    normalize_dim(dim, ndim)
}

/// Normalizes a list of dims; duplicates are an error.
pub fn normalize_dims(dims: &[i64], ndim: usize) -> Result<Dims> {
    let mut out: Dims = SmallVec::new();
    for &d in dims {
        let d = normalize_dim(d, ndim)?;
        if out.contains(&d) {
            bail!(Runtime, "dim {} appears multiple times in the list of dims", d);
        }
        out.push(d);
    }
    Ok(out)
}

/// The broadcast shape of two shapes, with PyTorch's error message.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, n);
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            bail!(
                Runtime,
                "The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}",
                da,
                db,
                i
            );
        };
    }
    Ok(out)
}

/// Resolves a requested shape with at most one `-1` against `numel`.
pub fn infer_shape(requested: &[i64], numel: usize) -> Result<Dims> {
    let invalid = || {
        let parts: Vec<String> = requested.iter().map(|d| d.to_string()).collect();
        crate::error::Error::Runtime(format!(
            "shape '[{}]' is invalid for input of size {}",
            parts.join(", "),
            numel
        ))
    };
    let mut infer_at = None;
    let mut known = 1usize;
    for (i, &d) in requested.iter().enumerate() {
        if d == -1 {
            if infer_at.is_some() {
                bail!(Runtime, "only one dimension can be inferred");
            }
            infer_at = Some(i);
        } else if d < 0 {
            bail!(Runtime, "invalid shape dimension {}", d);
        } else {
            known = match known.checked_mul(d as usize) {
                Some(k) => k,
                None => return Err(invalid()),
            };
        }
    }
    let mut shape: Dims = requested.iter().map(|&d| d.max(0) as usize).collect();
    match infer_at {
        Some(i) => {
            if known == 0 || numel % known != 0 {
                return Err(invalid());
            }
            shape[i] = numel / known;
        }
        None if known != numel => return Err(invalid()),
        None => {}
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy_rules() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]).unwrap().as_slice(), &[3, 4]);
        assert_eq!(broadcast_shapes(&[], &[2, 2]).unwrap().as_slice(), &[2, 2]);
        assert_eq!(broadcast_shapes(&[5, 1, 3], &[2, 1]).unwrap().as_slice(), &[5, 2, 3]);
        let err = broadcast_shapes(&[2, 3], &[2, 4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"
        );
    }

    #[test]
    fn dims_wrap_and_reject() {
        assert_eq!(normalize_dim(-1, 3).unwrap(), 2);
        assert_eq!(normalize_dim(0, 0).unwrap(), 0);
        let e = normalize_dim(2, 2).unwrap_err();
        assert_eq!(e.to_string(), "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    }

    #[test]
    fn infer_shape_handles_minus_one() {
        assert_eq!(infer_shape(&[-1, 2], 6).unwrap().as_slice(), &[3, 2]);
        assert_eq!(
            infer_shape(&[4, -1], 6).unwrap_err().to_string(),
            "shape '[4, -1]' is invalid for input of size 6"
        );
        assert_eq!(
            infer_shape(&[2, 2], 3).unwrap_err().to_string(),
            "shape '[2, 2]' is invalid for input of size 3"
        );
    }

    #[test]
    fn size_arithmetic_is_checked() {
        assert_eq!(checked_numel(&[2, 3, 4]).unwrap(), 24);
        assert_eq!(checked_numel(&[1 << 62, 0]).unwrap(), 0);
        assert!(checked_numel(&[1 << 62, 4]).is_err());
        assert!(checked_numel(&[1 << 32, 1 << 32]).is_err());
        assert_eq!(storage_numel(&[3, 5], 8).unwrap(), 15);
        assert_eq!(
            storage_numel(&[(1 << 62) + 1, 4], 4).unwrap_err().to_string(),
            "Storage size calculation overflowed with sizes=[4611686018427387905, 4]"
        );
        // The byte size must fit too: 2**61 float32s are 2**63 bytes.
        assert!(storage_numel(&[1 << 61], 4).is_err());
        assert!(storage_numel(&[1 << 60], 4).is_ok());
        assert_eq!(
            checked_contiguous_strides(&[0, 1 << 62, 1 << 62]).unwrap_err().to_string(),
            "Stride calculation overflowed"
        );
        assert_eq!(checked_contiguous_strides(&[1 << 62, 1 << 62, 0]).unwrap().as_slice(), &[1 << 62, 1, 1]);
        assert!(infer_shape(&[1 << 62, 1 << 62, -1], 0).is_err());
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
    }
}
