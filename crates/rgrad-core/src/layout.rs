//! A view onto storage: shape, strides (in elements) and offset. Views share storage and
//! differ only in their layout.

use crate::bail;
use crate::error::Result;
use crate::shape::{contiguous_strides, numel, Dims};
use smallvec::SmallVec;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Dims,
    pub strides: Dims,
    pub offset: usize,
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        if shape.is_empty() {
            return Layout { shape: Dims::new(), strides: Dims::new(), offset: 0 };
        }
        Layout { shape: Dims::from_slice(shape), strides: contiguous_strides(shape), offset: 0 }
    }

    /// A row-major layout of a shape from a user: checked element count and strides.
    pub fn checked_contiguous(shape: &[usize]) -> Result<Layout> {
        crate::shape::checked_numel(shape)?;
        Ok(Layout {
            shape: Dims::from_slice(shape),
            strides: crate::shape::checked_contiguous_strides(shape)?,
            offset: 0,
        })
    }

    /// Whether every element this layout addresses lies inside a storage of `len` elements
    /// (and its element count fits in an `i64`). Tensors are only built from layouts that do.
    pub fn fits(&self, len: usize) -> bool {
        let mut numel: usize = 1;
        let mut last = self.offset;
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            if d == 0 {
                return self.shape.len() == self.strides.len();
            }
            let Some(n) = numel.checked_mul(d) else { return false };
            numel = n;
            let Some(reach) = (d - 1).checked_mul(s).and_then(|r| last.checked_add(r)) else {
                return false;
            };
            last = reach;
        }
        self.shape.len() == self.strides.len() && numel <= i64::MAX as usize && last < len
    }

    #[inline]
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    #[inline]
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Dimensions of size 1 may have any stride, and empty tensors count as contiguous, as in
    /// PyTorch.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        if self.shape.contains(&0) {
            return true;
        }
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 {
                if s != expected {
                    return false;
                }
                expected *= d;
            }
        }
        true
    }

    /// Broadcasts this layout to `shape` by giving new and size-1 dims a zero stride.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let n = shape.len();
        if self.ndim() > n {
            bail!(
                Runtime,
                "expand: the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                n,
                self.ndim()
            );
        }
        let lead = n - self.ndim();
        let mut strides: Dims = SmallVec::from_elem(0, n);
        // From the last dim, so errors name the same dim PyTorch does.
        for i in (0..n).rev() {
            if i < lead {
                continue;
            }
            let (d, s) = (self.shape[i - lead], self.strides[i - lead]);
            if d == shape[i] {
                strides[i] = s;
            } else if d != 1 {
                bail!(
                    Runtime,
                    "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension {}.  Target sizes: {}.  Tensor sizes: {}",
                    shape[i],
                    d,
                    i,
                    crate::shape::fmt_shape(shape),
                    crate::shape::fmt_shape(&self.shape)
                );
            }
        }
        crate::shape::checked_numel(shape)?;
        Ok(Layout { shape: shape.into(), strides, offset: self.offset })
    }

    pub fn permute(&self, dims: &[usize]) -> Layout {
        Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        }
    }

    pub fn transpose(&self, a: usize, b: usize) -> Layout {
        let mut l = self.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        l
    }

    pub fn unsqueeze(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        let stride = if dim < self.ndim() { self.shape[dim] * self.strides[dim] } else { 1 };
        l.shape.insert(dim, 1);
        l.strides.insert(dim, stride.max(1));
        l
    }

    pub fn remove_dim(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        l.shape.remove(dim);
        l.strides.remove(dim);
        l
    }

    /// `select(dim, index)`: drops `dim`, moving the offset to `index`.
    pub fn select(&self, dim: usize, index: usize) -> Layout {
        let mut l = self.remove_dim(dim);
        l.offset = self.offset + index * self.strides[dim];
        l
    }

    /// `[start:end:step]` along `dim` (bounds already clamped).
    pub fn slice(&self, dim: usize, start: usize, len: usize, step: usize) -> Layout {
        let mut l = self.clone();
        l.offset = self.offset + start * self.strides[dim];
        l.shape[dim] = len;
        l.strides[dim] = self.strides[dim] * step;
        l
    }

    /// Strides for viewing this layout with a new shape without copying, if possible
    /// (PyTorch's `computeStride`). `None` means a copy is needed.
    pub fn view_strides(&self, new_shape: &[usize]) -> Option<Dims> {
        if self.numel() == 0 || self.ndim() == 0 {
            return Some(contiguous_strides(new_shape));
        }
        let mut new_strides: Dims = SmallVec::from_elem(0, new_shape.len());
        let mut view_d = new_shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last().unwrap();
        let mut tensor_numel = 1;
        let mut view_numel = 1;
        for tensor_d in (0..self.ndim()).rev() {
            tensor_numel *= self.shape[tensor_d];
            let chunk_ends = tensor_d == 0
                || (self.shape[tensor_d - 1] != 1
                    && self.strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
            if chunk_ends {
                while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= new_shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(new_strides)
    }

    /// Merges adjacent dimensions that are contiguous with each other in every given layout,
    /// so kernels iterate over as few (and as long) rows as possible. All layouts must share
    /// one shape.
    pub fn coalesce<const N: usize>(shape: &[usize], strides: [&[usize]; N]) -> (Dims, [Dims; N]) {
        let mut out_shape: Dims = SmallVec::new();
        let mut out_strides: [Dims; N] = std::array::from_fn(|_| SmallVec::new());
        for d in 0..shape.len() {
            if shape[d] == 1 {
                continue;
            }
            let mergeable = !out_shape.is_empty()
                && (0..N).all(|k| {
                    let last = out_strides[k].len() - 1;
                    out_strides[k][last] == strides[k][d] * shape[d]
                });
            if mergeable {
                let last = out_shape.len() - 1;
                out_shape[last] *= shape[d];
                for k in 0..N {
                    out_strides[k][last] = strides[k][d];
                }
            } else {
                out_shape.push(shape[d]);
                for k in 0..N {
                    out_strides[k].push(strides[k][d]);
                }
            }
        }
        (out_shape, out_strides)
    }
}

/// Visits every innermost row of an N-operand strided iteration: calls
/// `f(offsets, row_len, row_strides)` with each operand's element offset at the row start.
pub fn for_each_row<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    mut f: impl FnMut([usize; N], usize, [usize; N]),
) {
    if shape.contains(&0) {
        return;
    }
    let (shape, strides) = Layout::coalesce(shape, strides);
    if shape.is_empty() {
        f(offsets, 1, [1; N]);
        return;
    }
    let nd = shape.len();
    let row_len = shape[nd - 1];
    let row_strides: [usize; N] = std::array::from_fn(|k| strides[k][nd - 1]);
    let outer = &shape[..nd - 1];
    let mut index: Dims = SmallVec::from_elem(0, outer.len());
    let mut offs = offsets;
    loop {
        f(offs, row_len, row_strides);
        // Odometer increment over the outer dims, updating offsets incrementally.
        let mut d = outer.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            for k in 0..N {
                offs[k] += strides[k][d];
            }
            if index[d] < outer[d] {
                break;
            }
            for k in 0..N {
                offs[k] -= strides[k][d] * outer[d];
            }
            index[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_is_not_contiguous() {
        let l = Layout::contiguous(&[2, 3]);
        assert!(l.is_contiguous());
        assert!(!l.transpose(0, 1).is_contiguous());
        assert!(Layout::contiguous(&[1, 3]).transpose(0, 1).is_contiguous());
    }

    #[test]
    fn view_strides_match_pytorch() {
        let l = Layout::contiguous(&[2, 3, 4]);
        assert_eq!(l.view_strides(&[6, 4]).unwrap().as_slice(), &[4, 1]);
        let t = l.transpose(0, 1); // [3, 2, 4] strides [4, 12, 1]
        assert!(t.view_strides(&[6, 4]).is_none());
        assert_eq!(t.view_strides(&[3, 2, 2, 2]).unwrap().as_slice(), &[4, 12, 2, 1]);
    }

    #[test]
    fn fits_checks_the_reach_of_a_layout() {
        assert!(Layout::contiguous(&[2, 3]).fits(6));
        assert!(!Layout::contiguous(&[2, 3]).fits(5));
        assert!(Layout::contiguous(&[0, 3]).fits(0));
        assert!(Layout::contiguous(&[]).fits(1));
        assert!(!Layout::contiguous(&[]).fits(0));
        let mut l = Layout::contiguous(&[4]).slice(0, 1, 3, 1);
        assert!(l.fits(4));
        l.offset = 2;
        assert!(!l.fits(4));
        // A wrapped element count (2**62+1) * 4 = 4 (mod 2**64) must not pass as 4 elements.
        assert!(!Layout::contiguous(&[(1 << 62) + 1, 4]).fits(4));
        assert!(!Layout {
            shape: [1 << 32, 1 << 32].into_iter().collect(),
            strides: [0, 0].into_iter().collect(),
            offset: 0
        }
        .fits(1));
        assert!(Layout::checked_contiguous(&[1 << 62, 4]).is_err());
        assert!(Layout::contiguous(&[3]).broadcast_to(&[1 << 62, 1 << 62, 3]).is_err());
    }

    #[test]
    fn broadcast_gives_zero_strides() {
        let l = Layout::contiguous(&[3, 1]);
        let b = l.broadcast_to(&[2, 3, 4]).unwrap();
        assert_eq!(b.strides.as_slice(), &[0, 1, 0]);
        assert!(Layout::contiguous(&[2, 2]).broadcast_to(&[3, 3]).is_err());
    }

    #[test]
    fn rows_cover_every_element_once() {
        let l = Layout::contiguous(&[2, 3, 4]).permute(&[2, 0, 1]);
        let mut seen = [0; 24];
        for_each_row(&l.shape, [&l.strides], [0], |[o], n, [s]| {
            for i in 0..n {
                seen[o + i * s] += 1;
            }
        });
        assert!(seen.iter().all(|&c| c == 1));
        let c = Layout::contiguous(&[2, 3, 4]);
        let mut rows = 0;
        for_each_row(&c.shape, [&c.strides], [0], |_, n, _| {
            rows += 1;
            assert_eq!(n, 24);
        });
        assert_eq!(rows, 1);
    }
}
