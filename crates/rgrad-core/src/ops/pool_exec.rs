//! The recorded pooling ops and their dispatch to the CPU and wgpu kernels. Every pooling
//! is a `PoolSpec` (per-dim window tables, see cpu/pool.rs) applied to the planes of a
//! tensor (all dims before the spatial ones). Four ops cover every pooling and every
//! derivative, in adjoint pairs, so double backward needs nothing more:
//!
//! - `pool_max`: values and indices (recorded once); its gradient is `pool_scatter`.
//! - `pool_scatter` (scatter-add of g at the indices; also max unpooling) and `pool_gather`
//!   (read at the indices) are each other's adjoints.
//! - `pool_avg` with `adjoint` false (average pooling) or true (its gradient) are each
//!   other's adjoints: both are linear.

use crate::autograd::{record, Op};
use crate::cpu::pool::{self as kern, Divisor, Windows};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::{DType, Device};
use std::sync::{Arc, OnceLock};

/// One pooling's geometry per plane, spatial dims right-aligned into three.
#[derive(Debug)]
pub struct PoolSpec {
    /// Input plane sizes `[D, H, W]`.
    pub input: [usize; 3],
    pub windows: [Windows; 3],
    /// Average poolings: the divisor per output position and dim (their product divides),
    /// or one constant (`divisor_override`).
    pub div: Option<[Vec<f64>; 3]>,
    pub div_const: Option<f64>,
    /// The spatial dims of the tensors this spec runs on (2 or 3; 1-D poolings run as 2-D).
    pub spatial: usize,
    /// grad_fn names: `[forward, backward]` (e.g. AvgPool2DBackward0 and
    /// AvgPool2DBackwardBackward0).
    pub names: [&'static str; 2],
    adjoint: OnceLock<[Windows; 3]>,
}

impl PoolSpec {
    pub fn new(
        input: [usize; 3],
        windows: [Windows; 3],
        div: Option<[Vec<f64>; 3]>,
        div_const: Option<f64>,
        spatial: usize,
        names: [&'static str; 2],
    ) -> PoolSpec {
        PoolSpec { input, windows, div, div_const, spatial, names, adjoint: OnceLock::new() }
    }

    pub fn output(&self) -> [usize; 3] {
        [self.windows[0].len(), self.windows[1].len(), self.windows[2].len()]
    }

    /// For each input position and dim, the (contiguous) range of outputs whose window holds
    /// it: the tables of the adjoint average pooling.
    fn adjoint_windows(&self) -> &[Windows; 3] {
        self.adjoint.get_or_init(|| {
            std::array::from_fn(|d| {
                let w = &self.windows[d];
                let n = self.input[d];
                let (mut lo, mut hi) = (vec![usize::MAX; n], vec![0usize; n]);
                for o in 0..w.len() {
                    for j in 0..w.count[o] {
                        let p = w.first[o] + j * w.step;
                        lo[p] = lo[p].min(o);
                        hi[p] = hi[p].max(o);
                    }
                }
                let first: Vec<usize> = lo.iter().map(|&l| if l == usize::MAX { 0 } else { l }).collect();
                let count =
                    lo.iter().zip(&hi).map(|(&l, &h)| if l == usize::MAX { 0 } else { h - l + 1 }).collect();
                Windows { first, count, step: 1 }
            })
        })
    }
}

/// `x`'s planes and its spatial sizes under `spec` (checked by the caller's plan).
fn planes_of(x: &Tensor, spatial: usize) -> usize {
    x.shape()[..x.ndim() - spatial].iter().product()
}

fn out_shape(x: &Tensor, spatial: usize, sizes: [usize; 3]) -> Vec<usize> {
    let mut s = x.shape()[..x.ndim() - spatial].to_vec();
    s.extend_from_slice(&sizes[3 - spatial..]);
    s
}

fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        t.detach().contiguous()
    }
}

fn slice_of<T: crate::Element>(t: &Tensor) -> &[T] {
    &t.storage_slice::<T>()[t.layout().offset..][..t.numel()]
}

fn not_for(op: &str, dt: DType) -> Error {
    Error::NotImplemented(format!(
        "\"{op}\" not implemented for '{}'",
        dt.legacy_name().trim_end_matches("Tensor")
    ))
}

/// Max pooling: the values and the int64 flat index of each inside its input plane.
pub(crate) fn pool_max(x: &Tensor, spec: &Arc<PoolSpec>, op_name: &str) -> Result<(Tensor, Tensor)> {
    let planes = planes_of(x, spec.spatial);
    let shape = out_shape(x, spec.spatial, spec.output());
    let (out, idx) = if x.device() == Device::Wgpu {
        crate::gpu::pool_max(&dense(x)?.detach(), planes, spec.input, &spec.windows, &shape)?
    } else {
        let xd = dense(x)?;
        let (v, i) = match x.dtype() {
            DType::F32 => {
                let (v, i) = kern::max_pool(slice_of::<f32>(&xd), planes, spec.input, &spec.windows)?;
                (Tensor::from_vec(v, &shape), i)
            }
            DType::F64 => {
                let (v, i) = kern::max_pool(slice_of::<f64>(&xd), planes, spec.input, &spec.windows)?;
                (Tensor::from_vec(v, &shape), i)
            }
            DType::I64 => {
                let (v, i) = kern::max_pool(slice_of::<i64>(&xd), planes, spec.input, &spec.windows)?;
                (Tensor::from_vec(v, &shape), i)
            }
            DType::I32 => {
                let (v, i) = kern::max_pool(slice_of::<i32>(&xd), planes, spec.input, &spec.windows)?;
                (Tensor::from_vec(v, &shape), i)
            }
            DType::F16 | DType::BF16 => {
                let w = crate::ops::opmath::widen(&xd)?;
                let (v, i) = kern::max_pool(slice_of::<f32>(&w), planes, spec.input, &spec.windows)?;
                (crate::ops::opmath::narrow(Tensor::from_vec(v, &shape), x.dtype())?, i)
            }
            dt => return Err(not_for(op_name, dt)),
        };
        (v, Tensor::from_vec(i, &shape))
    };
    if crate::autograd::needs_grad(&[x]) {
        let op = Op::PoolMax { indices: idx.clone(), input_shape: x.shape().to_vec(), spec: spec.clone() };
        record(spec.names[0], op, &[x], &[&out]);
    }
    Ok((out, idx))
}

/// `out[p][idx[p][i]] (+)= src[p][i]` into zeroed planes of `dst_spatial` (the last
/// `spatial` dims of the result): max pooling's gradient and max unpooling.
pub(crate) fn pool_scatter(
    src: &Tensor,
    idx: &Tensor,
    dst_spatial: &[usize],
    accumulate: bool,
    names: [&'static str; 2],
) -> Result<Tensor> {
    let spatial = dst_spatial.len();
    let planes = planes_of(src, spatial);
    let dst_plane = crate::shape::checked_numel(dst_spatial)?;
    let mut shape = src.shape()[..src.ndim() - spatial].to_vec();
    shape.extend_from_slice(dst_spatial);
    crate::shape::checked_numel(&shape)?;
    let out = if src.device() == Device::Wgpu {
        crate::ops::common_device(&[src, idx])?;
        let base = src.zeros_like_shape(&shape)?;
        let offs = device_offsets(idx, planes, dst_plane)?;
        crate::gpu::scatter(&base, &offs, &dense(src)?.detach(), accumulate)?;
        base
    } else {
        let (sd, id) = (dense(&crate::ops::opmath::widen(src)?)?, dense(&idx.to_cpu()?)?);
        let ix = slice_of::<i64>(&id);
        crate::ops::opmath::narrow(
            crate::with_numeric_dtype!(sd.dtype(), T => {
            Tensor::from_vec(kern::plane_scatter(slice_of::<T>(&sd), ix, planes, dst_plane, accumulate)?, &shape)
        }, bool => return Err(not_for("max_pool", DType::Bool))),
            src.dtype(),
        )?
    };
    if crate::autograd::needs_grad(&[src]) {
        let op = Op::PoolScatter { indices: idx.clone(), spatial, names };
        record(names[1], op, &[src], &[&out]);
    }
    Ok(out)
}

/// `out[p][i] = src[p][idx[p][i]]`: the adjoint of [`pool_scatter`].
pub(crate) fn pool_gather(
    src: &Tensor,
    idx: &Tensor,
    spatial: usize,
    names: [&'static str; 2],
) -> Result<Tensor> {
    let planes = planes_of(src, spatial);
    let src_plane: usize = src.shape()[src.ndim() - spatial..].iter().product();
    let out = if src.device() == Device::Wgpu {
        let offs = device_offsets(idx, planes, src_plane)?;
        crate::gpu::gather(&dense(src)?.detach(), &offs, idx.shape())?
    } else {
        let (sd, id) = (dense(&crate::ops::opmath::widen(src)?)?, dense(&idx.to_cpu()?)?);
        let ix = slice_of::<i64>(&id);
        crate::ops::opmath::narrow(
            crate::with_numeric_dtype!(sd.dtype(), T => {
            Tensor::from_vec(kern::plane_gather(slice_of::<T>(&sd), ix, planes, src_plane)?, idx.shape())
        }, bool => return Err(not_for("max_pool", DType::Bool))),
            src.dtype(),
        )?
    };
    if crate::autograd::needs_grad(&[src]) {
        let op = Op::PoolGather {
            indices: idx.clone(),
            src_spatial: src.shape()[src.ndim() - spatial..].to_vec(),
            names,
        };
        record(names[0], op, &[src], &[&out]);
    }
    Ok(out)
}

/// Flat storage offsets of per-plane indices (read back from the device: the wgpu gather and
/// scatter take host offsets).
fn device_offsets(idx: &Tensor, planes: usize, plane: usize) -> Result<Vec<i64>> {
    let v = idx.to_cpu()?.try_to_vec::<i64>()?;
    let per = v.len().checked_div(planes).unwrap_or(0);
    v.iter()
        .enumerate()
        .map(|(i, &j)| {
            if j < 0 || j as u64 >= plane as u64 {
                return Err(Error::Runtime("pooling: an index lies outside its plane".into()));
            }
            Ok(((i / per.max(1)) * plane) as i64 + j)
        })
        .collect()
}

/// Average pooling (`adjoint` false: input → output sizes) or its adjoint (output →
/// input sizes, the gradient).
pub(crate) fn pool_avg(x: &Tensor, spec: &Arc<PoolSpec>, adjoint: bool, op_name: &str) -> Result<Tensor> {
    let planes = planes_of(x, spec.spatial);
    let (size, windows) =
        if adjoint { (spec.output(), spec.adjoint_windows()) } else { (spec.input, &spec.windows) };
    let dst = if adjoint { spec.input } else { spec.output() };
    let shape = out_shape(x, spec.spatial, dst);
    let div = match (&spec.div_const, &spec.div, adjoint) {
        (Some(k), _, _) => Divisor::Const(*k),
        (None, Some(d), false) => Divisor::Dst(d),
        (None, Some(d), true) => Divisor::Src(d),
        (None, None, _) => Divisor::Const(1.0),
    };
    let out = if x.device() == Device::Wgpu {
        if !x.dtype().is_float() {
            return Err(not_for(op_name, x.dtype()));
        }
        crate::gpu::pool_avg(&dense(x)?.detach(), planes, size, windows, &div, &shape)?
    } else {
        let xd = dense(x)?;
        match x.dtype() {
            DType::F32 => {
                Tensor::from_vec(kern::window_sum(slice_of::<f32>(&xd), planes, size, windows, &div)?, &shape)
            }
            DType::F64 => {
                Tensor::from_vec(kern::window_sum(slice_of::<f64>(&xd), planes, size, windows, &div)?, &shape)
            }
            DType::F16 | DType::BF16 => {
                let w = crate::ops::opmath::widen(&xd)?;
                let v = kern::window_sum(slice_of::<f32>(&w), planes, size, windows, &div)?;
                crate::ops::opmath::narrow(Tensor::from_vec(v, &shape), x.dtype())?
            }
            dt => return Err(not_for(op_name, dt)),
        }
    };
    if crate::autograd::needs_grad(&[x]) {
        let op = Op::PoolAvg { spec: spec.clone(), adjoint };
        record(spec.names[usize::from(adjoint)], op, &[x], &[&out]);
    }
    Ok(out)
}
