//! Pooling (max, average, adaptive, max unpooling): PyTorch's argument checks with its
//! messages, output sizes in checked arithmetic, and the window tables that the recorded ops
//! in ops/pool_exec.rs run. 1-D poolings run as 2-D ones over an inserted dim of size 1, as
//! PyTorch runs them (so their graph and grad_fn names are PyTorch's: SqueezeBackward1 over
//! the 2-D node).

use crate::bail;
use crate::cpu::pool::Windows;
use crate::error::{Error, Result};
use crate::ops::pool_exec::{pool_avg, pool_gather, pool_max, pool_scatter, PoolSpec};
use crate::shape::fmt_shape;
use crate::storage::{try_collect, try_vec_with_capacity};
use crate::tensor::Tensor;
use std::sync::Arc;

/// The arguments of `max_pool{1,2,3}d` / `avg_pool{1,2,3}d`, one value per spatial dim.
#[derive(Clone, Debug)]
pub struct PoolArgs {
    pub kernel: Vec<i64>,
    pub stride: Vec<i64>,
    pub padding: Vec<i64>,
    pub dilation: Vec<i64>,
    pub ceil_mode: bool,
    pub count_include_pad: bool,
    pub divisor_override: Option<i64>,
}

const MAX_NAMES: [[&str; 2]; 2] = [
    ["MaxPool2DWithIndicesBackward0", "MaxPool2DWithIndicesBackwardBackward0"],
    ["MaxPool3DWithIndicesBackward0", "MaxPool3DWithIndicesBackwardBackward0"],
];
const AVG_NAMES: [[&str; 2]; 2] = [
    ["AvgPool2DBackward0", "AvgPool2DBackwardBackward0"],
    ["AvgPool3DBackward0", "AvgPool3DBackwardBackward0"],
];
const ADAPTIVE_AVG_NAMES: [[&str; 2]; 2] = [
    ["AdaptiveAvgPool2DBackward0", "AdaptiveAvgPool2DBackwardBackward0"],
    ["AdaptiveAvgPool3DBackward0", "AdaptiveAvgPool3DBackwardBackward0"],
];
const ADAPTIVE_MAX_NAMES: [[&str; 2]; 2] = [
    ["AdaptiveMaxPool2DBackward0", "AdaptiveMaxPool2DBackwardBackward0"],
    ["AdaptiveMaxPool3DBackward0", "AdaptiveMaxPool3DBackwardBackward0"],
];
const UNPOOL_NAMES: [[&str; 2]; 2] = [
    ["MaxUnpool2DBackwardBackward0", "MaxUnpool2DBackward0"],
    ["MaxUnpool3DBackwardBackward0", "MaxUnpool3DBackward0"],
];

/// PyTorch's `pooling_output_shape`, in i128 so no argument overflows; its own checks
/// (stride, padding) come first, as there.
fn output_size(input: i128, k: i128, pad: i128, stride: i128, dil: i128, ceil: bool) -> Result<i128> {
    if stride == 0 {
        bail!(Runtime, "stride should not be zero");
    }
    if pad < 0 {
        bail!(Runtime, "pad must be non-negative, but got pad: {pad}");
    }
    if pad > ((k - 1) * dil + 1) / 2 {
        bail!(
            Runtime,
            "pad should be at most half of effective kernel size, but got pad={pad}, kernel_size={k} and dilation={dil}"
        );
    }
    let num = input + 2 * pad - dil * (k - 1) - 1 + if ceil { stride - 1 } else { 0 };
    let mut out = num.div_euclid(stride) + 1;
    // The last window must start inside the input or its left padding.
    if ceil && (out - 1) * stride >= input + pad {
        out -= 1;
    }
    Ok(out)
}

fn joined(v: &[usize], sep: &str) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(sep)
}

/// Which pooling a plan is for (the messages differ).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Max,
    Avg,
}

fn name_of(kind: Kind, spatial: usize) -> String {
    format!("{}_pool{spatial}d", if kind == Kind::Max { "max" } else { "avg" })
}

/// The input dims a pooling accepts, with PyTorch's message for the others.
fn check_dims(x: &Tensor, spatial: usize, kind: Kind) -> Result<()> {
    let nd = x.ndim();
    let s = x.shape();
    let ok_rank = nd == spatial + 1 || nd == spatial + 2;
    let empty = || (nd - spatial - 1..nd).find(|&d| s[d] == 0);
    match (spatial, kind) {
        (1, Kind::Max) if !ok_rank || empty().is_some() => bail!(
            Runtime,
            "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:{}",
            fmt_shape(s)
        ),
        (1, Kind::Avg) if !ok_rank => bail!(
            Runtime,
            "Expected 2 to 3 dimensions, but got {nd}-dimensional tensor for argument #1 'self' (while checking arguments for avg_pool1d)"
        ),
        (2, Kind::Avg) if nd < 3 => {
            return Err(Error::Index(format!(
                "Dimension out of range (expected to be in range of [-{}, {}], but got -3)",
                nd.max(1),
                nd.max(1) - 1
            )))
        }
        (2, _) | (1, _) if !ok_rank => bail!(Runtime, "non-empty 3D or 4D (batch mode) tensor expected for input"),
        (3, _) if !ok_rank => bail!(Runtime, "non-empty 4D or 5D (batch mode) tensor expected for input"),
        _ => {}
    }
    if let Some(d) = empty() {
        if spatial == 3 {
            let func =
                if kind == Kind::Max { "max_pool3d_with_indices_out_cpu_template" } else { "avg_pool3d" };
            bail!(
                Runtime,
                "{func}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes {} with dimension {d} being empty",
                fmt_shape(s)
            );
        }
        bail!(
            Runtime,
            "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:{}",
            fmt_shape(s)
        );
    }
    Ok(())
}

/// The window tables of max (`kind` Max: dilated, clipped to the input) or average
/// pooling, and the average's divisors, along one dim.
#[allow(clippy::too_many_arguments)]
fn dim_windows(
    input: usize,
    k: i128,
    s: i128,
    p: i128,
    d: i128,
    out: usize,
    a: &PoolArgs,
    kind: Kind,
) -> Result<(Windows, Vec<f64>)> {
    let n = input as i128;
    // Sized by the requested output, which the caller has not allocated yet: fallible.
    let (mut first, mut count) = (try_vec_with_capacity(out)?, try_vec_with_capacity(out)?);
    let mut div = if kind == Kind::Max { Vec::new() } else { try_vec_with_capacity(out)? };
    for o in 0..out as i128 {
        let mut start = o * s - p;
        if kind == Kind::Max {
            let end = (start + (k - 1) * d + 1).min(n);
            while start < 0 {
                start += d;
            }
            first.push(start.max(0) as usize);
            count.push(if end > start { ((end - start + d - 1) / d) as usize } else { 0 });
        } else {
            let end = (start + k).min(n + p);
            let size = end - start;
            let (lo, hi) = (start.max(0), end.min(n));
            first.push(lo as usize);
            count.push((hi - lo).max(0) as usize);
            div.push(if a.count_include_pad { size } else { (hi - lo).max(1) } as f64);
        }
    }
    Ok((Windows { first, count, step: if kind == Kind::Max { d as usize } else { 1 } }, div))
}

/// Checks `args` against `x` as PyTorch does and builds the spec (spatial dims 2 or 3;
/// 1-D poolings come here as 2-D with a unit height, after their own checks).
fn plan(x: &Tensor, spatial: usize, a: &PoolArgs, kind: Kind, messages_1d: bool) -> Result<PoolSpec> {
    let nd = x.ndim();
    let sizes: Vec<usize> = x.shape()[nd.saturating_sub(spatial)..].to_vec();
    let (k, s, p, d): (Vec<i128>, Vec<i128>, Vec<i128>, Vec<i128>) = (
        a.kernel.iter().map(|&v| v as i128).collect(),
        a.stride.iter().map(|&v| v as i128).collect(),
        a.padding.iter().map(|&v| v as i128).collect(),
        a.dilation.iter().map(|&v| v as i128).collect(),
    );
    let all = [&a.kernel, &a.stride, &a.padding, &a.dilation];
    if all.iter().any(|v| v.iter().any(|&x| i32::try_from(x).is_err())) {
        bail!(Runtime, "value cannot be converted to type int without overflow");
    }
    if kind == Kind::Avg && a.divisor_override == Some(0) {
        bail!(Runtime, "divisor must be not zero");
    }
    if nd < spatial {
        check_dims(x, spatial, kind)?;
    }
    let mut out = Vec::with_capacity(spatial);
    for i in 0..spatial {
        out.push(output_size(sizes[i] as i128, k[i], p[i], s[i], d[i], a.ceil_mode)?);
    }
    let names = if spatial == 3 { ["T", "H", "W"].as_slice() } else { ["H", "W"].as_slice() };
    let each = |label: &str, v: &[i128]| -> String {
        names.iter().zip(v).map(|(n, x)| format!("{label}{n}: {x}")).collect::<Vec<_>>().join(" ")
    };
    if k.iter().any(|&v| v <= 0) {
        bail!(Runtime, "kernel size should be greater than zero, but got {}", each("k", &k));
    }
    if s.iter().any(|&v| v <= 0) {
        bail!(Runtime, "stride should be greater than zero, but got {}", each("d", &s));
    }
    if d.iter().any(|&v| v <= 0) {
        bail!(Runtime, "dilation should be greater than zero, but got {}", each("dilation", &d));
    }
    if !messages_1d {
        check_dims(x, spatial, kind)?;
    }
    let planes = x.shape()[nd - spatial - 1];
    if spatial == 3 && kind == Kind::Avg && (0..3).any(|i| (sizes[i] as i128) < k[i]) {
        bail!(
            Runtime,
            "input image (T: {} H: {} W: {}) smaller than kernel size (kT: {} kH: {} kW: {})",
            sizes[0],
            sizes[1],
            sizes[2],
            k[0],
            k[1],
            k[2]
        );
    }
    if (0..spatial).any(|i| k[i] / 2 < p[i]) {
        if spatial == 3 {
            bail!(
                Runtime,
                "pad should be smaller than or equal to half of kernel size, but got kT: {} kW: {} kH: {} padT: {} padW: {} padH: {}",
                k[0],
                k[2],
                k[1],
                p[0],
                p[2],
                p[1]
            );
        }
        bail!(
            Runtime,
            "pad should be smaller than or equal to half of kernel size, but got padW = {}, padH = {}, kW = {}, kH = {}",
            p[1],
            p[0],
            k[1],
            k[0]
        );
    }
    if out.iter().any(|&o| o < 1) {
        let outs: Vec<String> = out.iter().map(|o| o.to_string()).collect();
        bail!(
            Runtime,
            "Given input size: ({planes}x{}). Calculated output size: ({planes}x{}). Output size is too small",
            joined(&sizes, "x"),
            outs.join("x")
        );
    }
    let out: Vec<usize> = out.iter().map(|&o| usize::try_from(o).unwrap_or(usize::MAX)).collect();
    let mut shape = x.shape()[..nd - spatial].to_vec();
    shape.extend_from_slice(&out);
    crate::shape::checked_numel(&shape)?;
    let mut windows: [Windows; 3] = [Windows::unit(), Windows::unit(), Windows::unit()];
    let mut divs: [Vec<f64>; 3] = [vec![1.0], vec![1.0], vec![1.0]];
    let mut input = [1usize; 3];
    for i in 0..spatial {
        let (w, dv) = dim_windows(sizes[i], k[i], s[i], p[i], d[i], out[i], a, kind)?;
        windows[3 - spatial + i] = w;
        divs[3 - spatial + i] = dv;
        input[3 - spatial + i] = sizes[i];
    }
    let table = if kind == Kind::Max { MAX_NAMES } else { AVG_NAMES };
    let (div, div_const) = match (kind, a.divisor_override) {
        (Kind::Max, _) => (None, None),
        (Kind::Avg, Some(v)) => (None, Some(v as f64)),
        (Kind::Avg, None) => (Some(divs), None),
    };
    Ok(PoolSpec::new(input, windows, div, div_const, spatial, table[spatial - 2]))
}

/// The 1-D case's own checks (max_pool1d has its own messages), then the 2-D arguments.
fn as_2d(x: &Tensor, a: &PoolArgs, kind: Kind) -> Result<(Tensor, PoolArgs)> {
    if kind == Kind::Max {
        check_dims(x, 1, kind)?;
        let (k, s, p, d) = (a.kernel[0], a.stride[0], a.padding[0], a.dilation[0]);
        if k <= 0 {
            bail!(Runtime, "max_pool1d() kernel_size must be greater than zero, but got {k}");
        }
        if s <= 0 {
            bail!(Runtime, "max_pool1d() stride must be greater than zero, but got {s}");
        }
        if p < 0 {
            bail!(Runtime, "max_pool1d() padding must be non-negative, but got {p}");
        }
        if p > k / 2 {
            bail!(Runtime, "max_pool1d() padding should be at most half of kernel size, but got padding={p} and kernel_size={k}");
        }
        if d <= 0 {
            bail!(Runtime, "max_pool1d() dilation must be greater than zero, but got {d}");
        }
        let ol = output_size(
            x.shape()[x.ndim() - 1] as i128,
            k as i128,
            p as i128,
            s as i128,
            d as i128,
            a.ceil_mode,
        )?;
        if ol <= 0 {
            bail!(Runtime, "max_pool1d() Invalid computed output size: {ol}");
        }
    } else {
        check_dims(x, 1, kind)?;
    }
    let two = |v: &[i64], fill: i64| vec![fill, v[0]];
    let args = PoolArgs {
        kernel: two(&a.kernel, 1),
        stride: two(&a.stride, 1),
        padding: two(&a.padding, 0),
        dilation: two(&a.dilation, 1),
        ..a.clone()
    };
    Ok((x.unsqueeze(-2)?, args))
}

fn check_lengths(a: &PoolArgs, spatial: usize) -> Result<()> {
    if [&a.kernel, &a.stride, &a.padding, &a.dilation].iter().any(|v| v.len() != spatial)
        || !(1..=3).contains(&spatial)
    {
        bail!(Runtime, "pooling: expected {spatial} values per argument");
    }
    Ok(())
}

/// Adaptive windows along one dim: `[floor(o n / m), ceil((o + 1) n / m))`.
fn adaptive_windows(n: usize, m: usize) -> Result<(Windows, Vec<f64>)> {
    let (n, mm) = (n as u128, m as u128);
    // Sized by the requested output size, not yet allocated: fallible (2**31 outputs).
    let mut first = try_vec_with_capacity(m)?;
    let mut count = try_vec_with_capacity(m)?;
    for o in 0..mm {
        let start = o * n / mm;
        let end = ((o + 1) * n).div_ceil(mm);
        first.push(start as usize);
        count.push((end - start) as usize);
    }
    let div = try_collect(m, count.iter().map(|&c| c as f64))?;
    Ok((Windows { first, count, step: 1 }, div))
}

impl Tensor {
    /// `max_pool{spatial}d_with_indices`: the pooled values and their int64 indices (flat
    /// inside each input plane).
    pub fn max_pool(&self, spatial: usize, args: &PoolArgs) -> Result<(Tensor, Tensor)> {
        check_lengths(args, spatial)?;
        if spatial == 1 {
            let (x2, a2) = as_2d(self, args, Kind::Max)?;
            let spec = Arc::new(plan(&x2, 2, &a2, Kind::Max, true)?);
            let (v, i) = pool_max(&x2, &spec, "max_pool1d")?;
            return Ok((v.squeeze(Some(-2))?, i.squeeze(Some(-2))?));
        }
        let spec = Arc::new(plan(self, spatial, args, Kind::Max, false)?);
        pool_max(self, &spec, &name_of(Kind::Max, spatial))
    }

    /// `avg_pool{spatial}d`.
    pub fn avg_pool(&self, spatial: usize, args: &PoolArgs) -> Result<Tensor> {
        check_lengths(args, spatial)?;
        if spatial == 1 {
            let (x2, a2) = as_2d(self, args, Kind::Avg)?;
            let spec = Arc::new(plan(&x2, 2, &a2, Kind::Avg, false)?);
            return pool_avg(&x2, &spec, false, "avg_pool2d")?.squeeze(Some(-2));
        }
        let spec = Arc::new(plan(self, spatial, args, Kind::Avg, false)?);
        pool_avg(self, &spec, false, &name_of(Kind::Avg, spatial))
    }

    /// `adaptive_{avg,max}_pool{spatial}d` to `output_size` (one value per spatial dim);
    /// the max pooling's indices as the second value.
    pub fn adaptive_pool(
        &self,
        spatial: usize,
        output_size: &[i64],
        max: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let kind = if max { "max" } else { "avg" };
        let func = format!("adaptive_{kind}_pool{}d", spatial.max(2));
        if output_size.len() != spatial || !(1..=3).contains(&spatial) {
            bail!(Runtime, "{func}: output_size must be {spatial}");
        }
        let nd = self.ndim();
        if nd != spatial + 1 && nd != spatial + 2 {
            bail!(
                Runtime,
                "adaptive_{kind}_pool{spatial}d(): Expected {}D or {}D tensor, but got {}",
                spatial + 1,
                spatial + 2,
                fmt_shape(self.shape())
            );
        }
        if output_size.iter().any(|&o| o < 0) {
            if max {
                let mut dims: Vec<String> =
                    self.shape()[..nd - spatial].iter().map(|d| d.to_string()).collect();
                dims.extend(output_size.iter().map(|d| d.to_string()));
                let neg = output_size.iter().find(|&&o| o < 0).copied().unwrap_or(-1);
                bail!(
                    Runtime,
                    "Trying to create tensor with negative dimension {neg}: [{}]",
                    dims.join(", ")
                );
            }
            let mut shown: Vec<String> = output_size.iter().map(|d| d.to_string()).collect();
            if spatial == 1 {
                shown.insert(0, "1".into());
            }
            bail!(
                Runtime,
                "{func}: elements of output_size must be greater than or equal to 0 but received {{{}}}",
                shown.join(", ")
            );
        }
        let first_checked = if max { nd - spatial - 1 } else { nd - spatial };
        if let Some(d) = (first_checked..nd).find(|&d| self.shape()[d] == 0) {
            bail!(
                Runtime,
                "{func}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes {} with dimension {d} being empty",
                fmt_shape(self.shape())
            );
        }
        if !self.dtype().is_float() {
            return Err(Error::NotImplemented(format!(
                "\"{func}\" not implemented for '{}'",
                self.dtype().legacy_name().trim_end_matches("Tensor")
            )));
        }
        let out: Vec<usize> = output_size.iter().map(|&o| o as usize).collect();
        let mut shape = self.shape()[..nd - spatial].to_vec();
        shape.extend_from_slice(&out);
        crate::shape::checked_numel(&shape)?;
        // 1-D runs as 2-D over a unit height.
        let (x, sp, sizes, out) = if spatial == 1 {
            (self.unsqueeze(-2)?, 2, vec![1, self.shape()[nd - 1]], vec![1, out[0]])
        } else {
            (self.clone(), spatial, self.shape()[nd - spatial..].to_vec(), out)
        };
        let mut windows: [Windows; 3] = [Windows::unit(), Windows::unit(), Windows::unit()];
        let mut divs: [Vec<f64>; 3] = [vec![1.0], vec![1.0], vec![1.0]];
        let mut input = [1usize; 3];
        for i in 0..sp {
            let (w, dv) = adaptive_windows(sizes[i], out[i])?;
            windows[3 - sp + i] = w;
            divs[3 - sp + i] = dv;
            input[3 - sp + i] = sizes[i];
        }
        let names = if max { ADAPTIVE_MAX_NAMES[sp - 2] } else { ADAPTIVE_AVG_NAMES[sp - 2] };
        let div = if max { None } else { Some(divs) };
        let spec = Arc::new(PoolSpec::new(input, windows, div, None, sp, names));
        let squeeze = |t: Tensor| if spatial == 1 { t.squeeze(Some(-2)) } else { Ok(t) };
        if max {
            let (v, i) = pool_max(&x, &spec, &func)?;
            Ok((squeeze(v)?, Some(squeeze(i)?)))
        } else {
            Ok((squeeze(pool_avg(&x, &spec, false, &func)?)?, None))
        }
    }

    /// `max_unpool{spatial}d(self, indices, output_size)`: each value written at its index
    /// inside a zeroed plane of `output_size`.
    pub fn max_unpool(&self, indices: &Tensor, spatial: usize, output_size: &[i64]) -> Result<Tensor> {
        if indices.dtype() != crate::DType::I64 {
            bail!(
                Runtime,
                "elements in indices should be type int64 but got: {}",
                indices.dtype().legacy_name().trim_end_matches("Tensor")
            );
        }
        if indices.shape() != self.shape() {
            bail!(
                Runtime,
                "Expected shape of indices to be same as that of the input tensor ({}) but got indices tensor with shape: {}",
                fmt_shape(self.shape()),
                fmt_shape(indices.shape())
            );
        }
        let nd = self.ndim();
        if output_size.len() != spatial
            || !(1..=3).contains(&spatial)
            || (nd != spatial + 1 && nd != spatial + 2)
        {
            bail!(
                Runtime,
                "Input to max_unpooling{spatial}d should be a {}d or {}d Tensor, but got a tensor with {nd} dimensions.",
                spatial + 1,
                spatial + 2
            );
        }
        if output_size.iter().any(|&o| o <= 0) {
            bail!(
                Runtime,
                "max_unpooling{spatial}d(): output_size must be positive, but got {:?}",
                output_size
            );
        }
        let out: Vec<usize> = output_size.iter().map(|&o| o as usize).collect();
        let plane = crate::shape::checked_numel(&out)?;
        let idx = indices.detach();
        let host = idx.to_cpu()?;
        let vals = dense(&host)?.try_to_vec::<i64>()?;
        if let Some(&bad) = vals.iter().find(|&&i| i < 0 || i as u64 >= plane as u64) {
            let mut shown = out.clone();
            if spatial == 1 {
                shown.push(1);
            }
            bail!(
                Runtime,
                "Found an invalid max index: {bad} (output volumes are of size {})",
                joined(&shown, "x")
            );
        }
        if spatial == 1 {
            let (x2, i2) = (self.unsqueeze(-2)?, idx.unsqueeze(-2)?);
            return pool_scatter(&x2, &i2, &[1, out[0]], false, UNPOOL_NAMES[0])?.squeeze(Some(-2));
        }
        pool_scatter(self, &idx, &out, false, UNPOOL_NAMES[spatial - 2])
    }
}

fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        t.detach().contiguous()
    }
}

/// Backward helpers for autograd/rules/pool.rs.
pub(crate) mod grad {
    use super::*;

    /// Max pooling's input gradient: g scattered (added) at the indices.
    pub(crate) fn max_pool(
        g: &Tensor,
        indices: &Tensor,
        input_shape: &[usize],
        spec: &PoolSpec,
    ) -> Result<Tensor> {
        let spatial = &input_shape[input_shape.len() - spec.spatial..];
        pool_scatter(g, indices, spatial, true, spec.names)
    }

    pub(crate) fn scatter(
        g: &Tensor,
        indices: &Tensor,
        src_spatial: usize,
        names: [&'static str; 2],
    ) -> Result<Tensor> {
        pool_gather(g, indices, src_spatial, names)
    }

    pub(crate) fn gather(
        g: &Tensor,
        indices: &Tensor,
        src_spatial: &[usize],
        names: [&'static str; 2],
    ) -> Result<Tensor> {
        pool_scatter(g, indices, src_spatial, true, names)
    }

    pub(crate) fn avg(g: &Tensor, spec: &Arc<PoolSpec>, adjoint: bool) -> Result<Tensor> {
        pool_avg(g, spec, !adjoint, "avg_pool")
    }
}
