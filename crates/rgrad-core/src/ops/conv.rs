//! Convolution and transposed convolution (PyTorch's `aten::convolution`): argument checks
//! with PyTorch's messages, output sizes in checked arithmetic, and the recorded nodes.
//!
//! Two ops cover both directions and every derivative: `convolution` (forward, or with
//! `transposed` the data gradient read forwards) and `conv_weight` (the weight gradient).
//! Both are bilinear, so their backward rules are again these two ops with the same geometry
//! (autograd/rules.rs), which is what makes `create_graph` and double backward work.

use crate::autograd::{record, Op, Saved};
use crate::bail;
use crate::cpu::conv::{backward_data, backward_weight, forward, ConvGeometry};
use crate::error::{Error, Result};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;
use crate::{DType, Device};
use std::sync::Arc;

/// The user-facing arguments of `aten::convolution`; per-dim lists as the caller gave them
/// (one value is expanded to every spatial dim).
#[derive(Clone, Debug)]
pub struct ConvArgs {
    pub stride: Vec<i64>,
    pub padding: Vec<i64>,
    pub dilation: Vec<i64>,
    pub transposed: bool,
    pub output_padding: Vec<i64>,
    pub groups: i64,
}

/// What the graph keeps of one convolution: its geometry in the convolution's own terms
/// (see cpu/conv.rs) without the batch, which each call reads from its operands.
#[derive(Clone, Debug)]
pub struct ConvSpec {
    pub geometry: ConvGeometry,
    /// Number of spatial dims the user's tensors have (1, 2 or 3).
    pub spatial: usize,
}

fn expand(name: &str, v: &[i64], k: usize) -> Result<Vec<i64>> {
    match v.len() {
        1 => Ok(vec![v[0]; k]),
        n if n == k => Ok(v.to_vec()),
        _ => bail!(
            Runtime,
            "expected {name} to be a single integer value or a list of {k} values to match the convolution dimensions, but got {name}={}",
            fmt_list(v)
        ),
    }
}

fn fmt_list(v: &[i64]) -> String {
    format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))
}

fn fmt_sizes(v: &[usize]) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" x ")
}

/// Right-aligns per-dim values into three dims, filling the leading ones with `fill`.
fn three(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

fn type_name(dt: DType) -> &'static str {
    dt.c_name()
}

fn dtype_checks(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>, spatial: usize) -> Result<()> {
    if let Some(b) = bias {
        if b.dtype() != input.dtype() {
            bail!(
                Runtime,
                "Input type ({}) and bias type ({}) should be the same",
                type_name(input.dtype()),
                type_name(b.dtype())
            );
        }
    }
    if weight.dtype() != input.dtype() {
        if input.dtype() == DType::F64 || input.dtype() == DType::I64 {
            bail!(
                Runtime,
                "expected scalar type {} but found {}",
                input.dtype().legacy_name().trim_end_matches("Tensor"),
                weight.dtype().legacy_name().trim_end_matches("Tensor")
            );
        }
        bail!(
            Runtime,
            "Input type (torch.{}) and weight type (torch.{}) should be the same or input should be a MKLDNN tensor and weight is a dense tensor",
            input.dtype().legacy_name(),
            weight.dtype().legacy_name()
        );
    }
    if input.dtype() == DType::Bool {
        let kernel = if spatial == 3 { "slow_conv3d_cpu" } else { "slow_conv2d_cpu" };
        return Err(Error::NotImplemented(format!("\"{kernel}\" not implemented for 'Bool'")));
    }
    Ok(())
}

/// PyTorch's check that output_padding is smaller than stride or dilation (1-D convolutions
/// run as 2-D in PyTorch, so their message names a height too).
fn check_output_padding(op: &[usize], stride: &[usize], dilation: &[usize]) -> Result<()> {
    if op.iter().zip(stride.iter().zip(dilation)).all(|(&o, (&s, &d))| o < s || o < d) {
        return Ok(());
    }
    let names: &[&str] = if op.len() == 3 { &["depth", "height", "width"] } else { &["height", "width"] };
    let pad = |v: &[usize], fill: usize| -> Vec<usize> {
        if v.len() == 1 {
            vec![fill, v[0]]
        } else {
            v.to_vec()
        }
    };
    let part = |label: &str, v: Vec<usize>| -> String {
        names.iter().zip(v).map(|(n, x)| format!("{label}_{n}: {x}")).collect::<Vec<_>>().join(" ")
    };
    bail!(
        Runtime,
        "output padding must be smaller than either stride or dilation, but got {} {} {}",
        part("output_padding", pad(op, 0)),
        part("stride", pad(stride, 1)),
        part("dilation", pad(dilation, 1))
    )
}

fn to_usize(v: &[i64]) -> Vec<usize> {
    v.iter().map(|&x| x as usize).collect()
}

/// Validates the arguments as PyTorch does and works out the geometry.
fn plan(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>, args: &ConvArgs) -> Result<ConvSpec> {
    let wd = weight.ndim();
    if wd < 3 {
        bail!(Runtime, "weight should have at least three dimensions");
    }
    let k = wd - 2;
    if k > 3 {
        bail!(Runtime, "only 1-D, 2-D and 3-D convolutions are supported, but got a {k}-D weight");
    }
    let stride = expand("stride", &args.stride, k)?;
    let padding = expand("padding", &args.padding, k)?;
    let dilation = expand("dilation", &args.dilation, k)?;
    let output_padding =
        if args.transposed { expand("output_padding", &args.output_padding, k)? } else { vec![0; k] };
    if padding.iter().any(|&p| p < 0) {
        bail!(Runtime, "negative padding is not supported");
    }
    if output_padding.iter().any(|&p| p < 0) {
        bail!(Runtime, "negative output_padding is not supported");
    }
    if stride.iter().any(|&s| s <= 0) {
        bail!(Runtime, "non-positive stride is not supported");
    }
    if dilation.iter().any(|&d| d <= 0) {
        bail!(Runtime, "non-positive dilation is not supported");
    }
    if args.groups <= 0 {
        bail!(Runtime, "non-positive groups is not supported");
    }
    let groups = args.groups as usize;
    if input.ndim() != wd {
        bail!(
            Runtime,
            "Expected {wd}-dimensional input for {wd}-dimensional weight {}, but got {}-dimensional input of size {} instead",
            fmt_shape(weight.shape()),
            input.ndim(),
            fmt_shape(input.shape())
        );
    }
    let (ws, xs) = (weight.shape(), input.shape());
    if ws[0] < groups {
        bail!(
            Runtime,
            "Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got weight of size {} instead",
            fmt_shape(ws)
        );
    }
    if ws[0] % groups != 0 {
        bail!(
            Runtime,
            "Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size [{}] instead",
            fmt_shape(ws)
        );
    }
    let (stride, padding, dilation) = (to_usize(&stride), to_usize(&padding), to_usize(&dilation));
    let output_padding = to_usize(&output_padding);
    let ksize = &ws[2..];
    // Input channels expected, and the channels the bias must have.
    let (expect_c, bias_c) = if args.transposed {
        (ws[0], ws[1].checked_mul(groups))
    } else {
        (ws[1].saturating_mul(groups), Some(ws[0]))
    };
    let prefix = if args.transposed { "Given transposed=1, weight" } else { "Given groups={groups}, weight" };
    let prefix = prefix.replace("{groups}", &groups.to_string());
    if xs[1] != expect_c {
        bail!(
            Runtime,
            "{prefix} of size {}, expected input{} to have {} channels, but got {} channels instead",
            fmt_shape(ws),
            fmt_shape(xs),
            expect_c,
            xs[1]
        );
    }
    if let Some(b) = bias {
        if b.ndim() != 1 || Some(b.shape()[0]) != bias_c {
            let prefix = if args.transposed { "Given transposed=1, weight" } else { "Given weight" };
            bail!(
                Runtime,
                "{prefix} of size {}, expected bias to be 1-dimensional with {} elements, but got bias of size {} instead",
                fmt_shape(ws),
                bias_c.unwrap_or(0),
                fmt_shape(b.shape())
            );
        }
    }
    let overflow = || Error::Runtime("convolution: the output size overflows".into());
    // Dilated kernel extents.
    let extents: Vec<usize> = ksize
        .iter()
        .zip(&dilation)
        .map(|(&kk, &d)| {
            kk.saturating_sub(1).checked_mul(d).and_then(|e| e.checked_add(1)).ok_or_else(overflow)
        })
        .collect::<Result<_>>()?;
    let spatial = &xs[2..];
    let b_sizes: Vec<usize>;
    let a_sizes: Vec<usize>;
    if args.transposed {
        check_output_padding(&output_padding, &stride, &dilation)?;
        // out = (in - 1) * s - 2p + d (k - 1) + op + 1, computed in i128 to see negatives.
        let out: Vec<i128> = (0..k)
            .map(|i| {
                (spatial[i] as i128 - 1) * stride[i] as i128 - 2 * padding[i] as i128
                    + extents[i] as i128
                    + output_padding[i] as i128
            })
            .collect();
        if out.iter().any(|&o| o <= 0) {
            bail!(
                Runtime,
                "Given input size per channel: ({}). Calculated output size per channel: ({}). Output size is too small",
                fmt_sizes(spatial),
                out.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" x ")
            );
        }
        if out.iter().any(|&o| o > isize::MAX as i128) {
            return Err(overflow());
        }
        a_sizes = out.iter().map(|&o| o as usize).collect();
        b_sizes = spatial.to_vec();
    } else {
        let padded: Vec<usize> = (0..k)
            .map(|i| padding[i].checked_mul(2).and_then(|p| p.checked_add(spatial[i])).ok_or_else(overflow))
            .collect::<Result<_>>()?;
        if padded.iter().zip(&extents).any(|(p, e)| p < e) {
            bail!(
                Runtime,
                "Calculated padded input size per channel: ({}). Kernel size: ({}). Kernel size can't be greater than actual input size",
                fmt_sizes(&padded),
                fmt_sizes(&extents)
            );
        }
        a_sizes = spatial.to_vec();
        b_sizes = (0..k).map(|i| (padded[i] - extents[i]) / stride[i] + 1).collect();
    }
    dtype_checks(input, weight, bias, k)?;
    let (ca, cb) = if args.transposed { (ws[1] * groups, ws[0]) } else { (xs[1], ws[0]) };
    // Every buffer the kernels allocate must have a size that fits.
    let prod = |first: usize, rest: &[usize]| rest.iter().try_fold(first, |acc, &d| acc.checked_mul(d));
    let cols = prod(ca / groups, ksize).and_then(|c| prod(c, &b_sizes));
    let fits = [prod(ca, &a_sizes), prod(cb, &b_sizes), cols]
        .iter()
        .all(|n| n.and_then(|n| n.checked_mul(xs[0].max(1))).is_some_and(|n| n <= isize::MAX as usize));
    if !fits {
        return Err(overflow());
    }
    Ok(ConvSpec {
        geometry: ConvGeometry {
            batch: xs[0],
            ca,
            cb,
            groups,
            a: three(&a_sizes, 1),
            b: three(&b_sizes, 1),
            k: three(ksize, 1),
            stride: three(&stride, 1),
            padding: three(&padding, 0),
            dilation: three(&dilation, 1),
        },
        spatial: k,
    })
}

/// `t`'s elements as one contiguous run (a copy only when `t` is strided).
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

/// The device the operands share; on the wgpu device only float convolutions exist.
fn conv_device(t: &[&Tensor]) -> Result<Device> {
    let device = crate::ops::common_device(t)?;
    if device == Device::Wgpu && !t[0].dtype().is_float() {
        return Err(Error::NotImplemented(format!(
            "convolution is not implemented for '{}' on the wgpu device",
            t[0].dtype().legacy_name().trim_end_matches("Tensor")
        )));
    }
    Ok(device)
}

fn shape_of(batch: usize, c: usize, sizes: &[usize; 3], spatial: usize) -> Vec<usize> {
    let mut s = vec![batch, c];
    s.extend_from_slice(&sizes[3 - spatial..]);
    s
}

/// Runs (and records) the convolution of `spec` over `x`, forwards or transposed.
pub(crate) fn convolution_with(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    spec: &ConvSpec,
    transposed: bool,
) -> Result<Tensor> {
    let mut inputs = vec![x, w];
    inputs.extend(bias);
    let device = conv_device(&inputs)?;
    let mut g = spec.geometry.clone();
    g.batch = x.shape()[0];
    let out = if device == Device::Wgpu {
        let (c, sizes) = if transposed { (g.ca, &g.a) } else { (g.cb, &g.b) };
        let shape: Vec<i64> = shape_of(g.batch, c, sizes, spec.spatial).iter().map(|&d| d as i64).collect();
        let flat = if transposed {
            let data = crate::ops::conv_device::backward_data(&g, x, w)?;
            match bias {
                Some(b) => data.add(&b.detach().reshape(&[1, g.ca as i64, 1])?)?,
                None => data,
            }
        } else {
            crate::ops::conv_device::forward(&g, x, w, bias)?
        };
        flat.reshape(&shape)?
    } else {
        cpu_convolution(&g, spec, x, w, bias, transposed)?
    };
    if crate::autograd::needs_grad(&inputs) {
        let op = Op::Convolution {
            x: Saved::input(x),
            w: Saved::input(w),
            spec: Arc::new(spec.clone()),
            transposed,
            has_bias: bias.is_some(),
        };
        record("ConvolutionBackward0", op, &inputs, &[&out]);
    }
    Ok(out)
}

fn cpu_convolution(
    g: &ConvGeometry,
    spec: &ConvSpec,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    transposed: bool,
) -> Result<Tensor> {
    if x.dtype().is_reduced_float() {
        // In float32, rounded once (PyTorch's CPU convolution of the half types).
        use crate::ops::opmath::{narrow, widen, widen_opt};
        let b = widen_opt(bias)?;
        return narrow(cpu_convolution(g, spec, &widen(x)?, &widen(w)?, b.as_ref(), transposed)?, x.dtype());
    }
    let (xd, wd) = (dense(x)?, dense(w)?);
    let bd = bias.map(dense).transpose()?;
    Ok(crate::with_numeric_dtype!(x.dtype(), T => {
        let (xs, ws) = (slice_of::<T>(&xd), slice_of::<T>(&wd));
        let bs = bd.as_ref().map(slice_of::<T>);
        if transposed {
            let mut data = backward_data(g, xs, ws)?;
            if let Some(b) = bs {
                // One bias value per output plane (no division per element).
                let plane = g.a.iter().product::<usize>().max(1);
                for (i, chunk) in data.chunks_mut(plane).enumerate() {
                    let bv = b[i % g.ca];
                    chunk.iter_mut().for_each(|v| *v += bv);
                }
            }
            Tensor::from_vec(data, &shape_of(g.batch, g.ca, &g.a, spec.spatial))
        } else {
            Tensor::from_vec(forward(g, xs, ws, bs)?, &shape_of(g.batch, g.cb, &g.b, spec.spatial))
        }
    }, bool => return Err(Error::NotImplemented("convolution is not implemented for 'Bool'".into()))))
}

/// The weight gradient of the convolution `spec`: `a` is its input side, `b` the gradient of
/// its output side.
pub(crate) fn conv_weight(a: &Tensor, b: &Tensor, spec: &ConvSpec) -> Result<Tensor> {
    let device = conv_device(&[a, b])?;
    let mut g = spec.geometry.clone();
    g.batch = a.shape()[0];
    let mut shape = vec![g.cb, g.ca / g.groups];
    shape.extend_from_slice(&g.k[3 - spec.spatial..]);
    let out = if device == Device::Wgpu {
        let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        crate::ops::conv_device::backward_weight(&g, a, b)?.reshape(&shape)?
    } else {
        use crate::ops::opmath::{narrow, widen};
        let (ad, bd) = (dense(&widen(a)?)?, dense(&widen(b)?)?);
        let out = crate::with_numeric_dtype!(ad.dtype(), T => {
            Tensor::from_vec(backward_weight(&g, slice_of::<T>(&ad), slice_of::<T>(&bd))?, &shape)
        }, bool => return Err(Error::NotImplemented("convolution is not implemented for 'Bool'".into())));
        narrow(out, a.dtype())?
    };
    if crate::autograd::needs_grad(&[a, b]) {
        let op = Op::ConvWeight { a: Saved::input(a), b: Saved::input(b), spec: Arc::new(spec.clone()) };
        record("ConvolutionBackwardBackward0", op, &[a, b], &[&out]);
    }
    Ok(out)
}

impl Tensor {
    /// `aten::convolution(input, weight, bias, stride, padding, dilation, transposed,
    /// output_padding, groups)` on a batched input `[N, C, *spatial]`.
    pub fn convolution(&self, weight: &Tensor, bias: Option<&Tensor>, args: &ConvArgs) -> Result<Tensor> {
        if crate::autocast::casts(&[self, weight]) || bias.is_some_and(|b| crate::autocast::casts(&[b])) {
            use crate::autocast::lower;
            let b = bias.map(|b| lower(b).map(std::borrow::Cow::into_owned)).transpose()?;
            let (x, w) = (lower(self)?, lower(weight)?);
            return x.convolution(&w, b.as_ref(), args);
        }
        let spec = plan(self, weight, bias, args)?;
        convolution_with(self, weight, bias, &spec, args.transposed)
    }
}
