//! Shapes, dimension arithmetic and broadcasting.

use crate::bail;
use crate::error::Result;
use smallvec::SmallVec;

/// Sizes or strides (in elements). Four dims inline covers nearly every tensor.
pub type Dims = SmallVec<[usize; 4]>;

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides for a shape.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(0, shape.len());
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1);
    }
    strides
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
            known *= d as usize;
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
    fn strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
    }
}
