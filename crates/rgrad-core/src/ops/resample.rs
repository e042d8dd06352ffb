//! The resampling and rearranging ops of the CNN stack — interpolation (every mode of
//! `F.interpolate`), reflection/replication/circular padding, im2col (`F.unfold`) and col2im
//! (`F.fold`) — as one recorded op: a sparse linear map from an input plane to an output
//! plane (ops/resample_plans.rs builds the maps with PyTorch's source-index formulas).
//!
//! Each map is linear in its input, so its backward is the transposed map and the backward
//! of that is the map again (autograd/rules/resample.rs): `create_graph` and double backward
//! come for free, and fold and unfold are each other's gradients.

use crate::autograd::{record, Op};
use crate::cpu::resample::{MapView, NONE};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::{DType, Device};
use std::sync::{Arc, OnceLock};

/// A sparse linear map between planes (the trailing dims of a tensor): output position `o`
/// of group `g` reads `sum_k weight[g, o, k] * input[index[g, o, k]]`.
pub struct PlaneMap {
    /// grad_fn names of the map and of its transpose (PyTorch's, e.g.
    /// `UpsampleBilinear2DBackward0` / `UpsampleBilinear2DBackwardBackward0`).
    pub names: [&'static str; 2],
    pub in_tail: Vec<usize>,
    pub out_tail: Vec<usize>,
    pub taps: usize,
    pub groups: usize,
    pub index: Vec<u32>,
    pub weight: Option<Vec<f64>>,
    /// The transpose as a gather (for the device, which has no scatter-add without rounds):
    /// per input position, the output positions that read it, padded with `NONE`.
    transposed: OnceLock<(usize, Vec<u32>, Option<Vec<f64>>)>,
}

impl std::fmt::Debug for PlaneMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlaneMap({} {:?} -> {:?}, {} taps)", self.names[0], self.in_tail, self.out_tail, self.taps)
    }
}

fn plane(tail: &[usize]) -> usize {
    tail.iter().product()
}

impl PlaneMap {
    pub(crate) fn new(
        names: [&'static str; 2],
        in_tail: Vec<usize>,
        out_tail: Vec<usize>,
        taps: usize,
        groups: usize,
        index: Vec<u32>,
        weight: Option<Vec<f64>>,
    ) -> PlaneMap {
        debug_assert_eq!(index.len(), groups * plane(&out_tail) * taps);
        PlaneMap { names, in_tail, out_tail, taps, groups, index, weight, transposed: OnceLock::new() }
    }

    fn view(&self) -> MapView<'_> {
        MapView {
            in_plane: plane(&self.in_tail),
            out_plane: plane(&self.out_tail),
            taps: self.taps,
            groups: self.groups,
            index: &self.index,
            weight: self.weight.as_deref(),
        }
    }

    /// The transposed map as a gather (built once, on first use).
    fn transposed_view(&self) -> MapView<'_> {
        let (taps, index, weight) = self.transposed.get_or_init(|| {
            let (ip, op) = (plane(&self.in_tail), plane(&self.out_tail));
            let mut count = vec![0usize; self.groups * ip];
            for g in 0..self.groups {
                for &j in &self.index[g * op * self.taps..][..op * self.taps] {
                    if j != NONE {
                        count[g * ip + j as usize] += 1;
                    }
                }
            }
            let taps = count.iter().copied().max().unwrap_or(0);
            let mut index = vec![NONE; self.groups * ip * taps];
            let mut weight = self.weight.as_ref().map(|_| vec![0.0; self.groups * ip * taps]);
            let mut fill = vec![0usize; self.groups * ip];
            for g in 0..self.groups {
                for (t, &j) in self.index[g * op * self.taps..][..op * self.taps].iter().enumerate() {
                    if j == NONE {
                        continue;
                    }
                    let slot = g * ip + j as usize;
                    let at = slot * taps + fill[slot];
                    fill[slot] += 1;
                    index[at] = (t / self.taps) as u32;
                    if let (Some(w), Some(src)) = (weight.as_mut(), self.weight.as_ref()) {
                        w[at] = src[g * op * self.taps + t];
                    }
                }
            }
            (taps, index, weight)
        });
        MapView {
            in_plane: plane(&self.out_tail),
            out_plane: plane(&self.in_tail),
            taps: *taps,
            groups: self.groups,
            index,
            weight: weight.as_deref(),
        }
    }
}

/// Planes may hold up to this many elements (indices are u32, with `NONE` reserved).
pub(crate) const MAX_PLANE: usize = u32::MAX as usize - 1;

fn dense(t: &Tensor) -> Result<Tensor> {
    let t = t.detach();
    if t.is_contiguous() && t.layout().offset == 0 {
        Ok(t)
    } else {
        t.clone_tensor()
    }
}

fn weights_tensor(w: &[f64], shape: &[usize], dtype: DType) -> Result<Tensor> {
    match dtype {
        DType::F64 => Ok(Tensor::from_vec(w.to_vec(), shape)),
        DType::F32 => Ok(Tensor::from_vec(w.iter().map(|&v| v as f32).collect::<Vec<f32>>(), shape)),
        _ => Err(Error::NotImplemented("weighted resampling of integer tensors".into())),
    }
}

/// The map applied on the device: one gather of every tap, times the weights, summed.
fn device_apply(x: &Tensor, m: &MapView<'_>, planes: usize) -> Result<Tensor> {
    let x = dense(x)?;
    if planes.checked_mul(m.in_plane).is_none_or(|n| n > i32::MAX as usize)
        || planes.checked_mul(m.out_plane * m.taps.max(1)).is_none_or(|n| n > i32::MAX as usize)
    {
        return Err(Error::Runtime("wgpu resampling: the tensors exceed 2^31 elements".into()));
    }
    let taps = m.taps.max(1);
    let per_group = (planes / m.groups.max(1)).max(1);
    let mut offsets = Vec::with_capacity(planes * m.out_plane * taps);
    for b in 0..planes {
        let g = if m.groups <= 1 { 0 } else { b / per_group };
        let base = (b * m.in_plane) as i64;
        let idx = &m.index[g * m.out_plane * m.taps..][..m.out_plane * m.taps];
        if m.taps == 0 {
            offsets.extend(std::iter::repeat_n(-1, m.out_plane));
        }
        offsets.extend(idx.iter().map(|&j| if j == NONE { -1 } else { base + j as i64 }));
    }
    let parts = crate::gpu::gather(&x, &offsets, &[planes, m.out_plane, taps])?;
    let parts = match m.weight {
        Some(w) if m.taps > 0 => {
            let groups = m.groups.max(1);
            let wt = weights_tensor(w, &[groups, 1, m.out_plane, m.taps], x.dtype())?
                .to_device_kernel(Device::Wgpu)?;
            let shape = [groups as i64, per_group as i64, m.out_plane as i64, taps as i64];
            parts.reshape(&shape)?.mul(&wt)?
        }
        _ => parts,
    };
    if taps == 1 {
        parts.reshape(&[(planes * m.out_plane) as i64])
    } else {
        parts.reshape(&[(planes * m.out_plane) as i64, taps as i64])?.sum(Some(&[1]), false)
    }
}

/// `x`'s trailing dims run through `plan` (or, with `transposed`, its transpose); the leading
/// dims are the batch of planes.
pub(crate) fn apply_map(x: &Tensor, plan: &Arc<PlaneMap>, transposed: bool) -> Result<Tensor> {
    let (src_tail, dst_tail) =
        if transposed { (&plan.out_tail, &plan.in_tail) } else { (&plan.in_tail, &plan.out_tail) };
    let k = src_tail.len();
    let shape = x.shape();
    if shape.len() < k || &shape[shape.len() - k..] != src_tail.as_slice() {
        return Err(Error::Runtime(format!(
            "internal: resampling expected trailing sizes {src_tail:?}, got {shape:?}"
        )));
    }
    let lead = &shape[..shape.len() - k];
    let planes: usize = lead.iter().product();
    if plan.groups > 1 && (planes % plan.groups != 0) {
        return Err(Error::Runtime("internal: resampling groups do not divide the planes".into()));
    }
    let mut out_shape = lead.to_vec();
    out_shape.extend_from_slice(dst_tail);
    crate::shape::checked_numel(&out_shape)?;
    if plan.weight.is_some() && !x.dtype().is_float() {
        return Err(Error::NotImplemented("weighted resampling of integer tensors".into()));
    }
    let out = if x.device() == Device::Wgpu {
        let dims: Vec<i64> = out_shape.iter().map(|&d| d as i64).collect();
        let view = if transposed { plan.transposed_view() } else { plan.view() };
        device_apply(x, &view, planes)?.reshape(&dims)?
    } else {
        // float16/bfloat16 resample in float32, rounded once.
        let xd = dense(&crate::ops::opmath::widen(x)?)?;
        let out = crate::with_numeric_dtype!(xd.dtype(), T => {
            let src = &xd.storage_slice::<T>()[..xd.numel()];
            // The CPU scatters for the transpose (no transposed copy of the map).
            let data = if transposed {
                plan.view().apply_transposed(src, planes)?
            } else {
                plan.view().apply(src, planes)?
            };
            Tensor::from_vec(data, &out_shape)
        }, bool => return Err(Error::NotImplemented("resampling is not implemented for 'Bool'".into())));
        crate::ops::opmath::narrow(out, x.dtype())?
    };
    if crate::autograd::needs_grad(&[x]) {
        let op = Op::Resample { plan: plan.clone(), transposed };
        record(plan.names[transposed as usize], op, &[x], &[&out]);
    }
    Ok(out)
}

impl Tensor {
    /// Applies a resampling map built by ops/resample_plans.rs to this tensor's trailing dims.
    pub fn resample(&self, plan: &Arc<PlaneMap>, transposed: bool) -> Result<Tensor> {
        apply_map(self, plan, transposed)
    }
}
