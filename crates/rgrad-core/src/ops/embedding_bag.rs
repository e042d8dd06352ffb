//! `embedding_bag` (PyTorch's `torch.embedding_bag` under `nn.functional.embedding_bag`):
//! the rows of a weight that bags of indices pick, reduced per bag by sum (optionally
//! weighted per index), mean or per-feature max. A 1-D input is split into bags by `offsets`
//! (bag `i` is `input[offsets[i]:offsets[i+1]]`, the last one to the end unless
//! `include_last_offset`); a 2-D `(B, N)` input is `B` bags of `N`. Entries equal to
//! `padding_idx` are skipped (they count for nothing in a mean); empty bags give zeros.
//!
//! PyTorch's argument checks and messages; the CPU kernel in cpu/embedding_bag.rs (parallel
//! over bags), the device kernel in gpu/embedding_bag.rs (one invocation per output element,
//! the indices read where they are). The node `EmbeddingBagBackward0` saves the indices and
//! offsets as given; its rule (autograd/rules/embedding_bag.rs) rebuilds each entry's bag and
//! factor from them and writes the gradient with index_add / index_select (tensor ops, so
//! `create_graph` differentiates it again).

use crate::autograd::{needs_grad, record, Op, Saved};
use crate::bail;
use crate::error::Result;
use crate::ops::opmath::{narrow, widen, widen_opt};
use crate::tensor::Tensor;
use crate::DType;

pub use crate::cpu::embedding_bag::BagMode;

impl BagMode {
    /// PyTorch's mode names.
    pub fn parse(mode: &str) -> Result<BagMode> {
        Ok(match mode {
            "sum" => BagMode::Sum,
            "mean" => BagMode::Mean,
            "max" => BagMode::Max,
            _ => bail!(Value, "mode has to be one of sum, mean or max"),
        })
    }
}

/// The options of one call besides its tensors.
#[derive(Clone, Copy, Debug)]
pub struct BagOptions {
    pub mode: BagMode,
    pub padding_idx: Option<i64>,
    pub include_last_offset: bool,
    pub scale_grad_by_freq: bool,
}

/// What the backward needs: the (flattened) indices and offsets as the forward got them, the
/// sizes, and for per-sample weights the weight and those weights (their gradients are
/// products of each other); for max mode the row each output element came from.
pub struct BagSaved {
    pub index: Tensor,
    pub offsets: Option<Tensor>,
    /// Entries per bag of a 2-D input (`offsets` is None then).
    pub bag_len: usize,
    pub num_weights: usize,
    pub dim: usize,
    /// The padding row, normalized to `[0, num_weights)`.
    pub padding: Option<i64>,
    pub opts: BagOptions,
    pub weight: Option<Saved>,
    pub psw: Option<Saved>,
    pub psw_shape: Vec<usize>,
    pub argmax: Option<Tensor>,
}

fn legacy(t: &Tensor) -> String {
    format!("torch.{}", t.dtype().legacy_name())
}

/// Bag `b`'s entries are `bounds[b]..bounds[b + 1]`: PyTorch's offset checks and messages.
/// Without offsets, `fixed = (bags, bag_len)` of a 2-D input.
pub(crate) fn bag_bounds(
    offsets: Option<&[i64]>,
    n: usize,
    fixed: (usize, usize),
    include_last: bool,
) -> Result<Vec<usize>> {
    let Some(offs) = offsets else {
        return Ok((0..=fixed.0).map(|b| b * fixed.1).collect());
    };
    if let Some(&first) = offs.first() {
        if first != 0 {
            bail!(
                Runtime,
                "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from position 0. However, got {first}"
            );
        }
    }
    if let Some(&last) = offs.last() {
        if last > n as i64 {
            bail!(
                Runtime,
                "offsets[-1] can not be greater than input's length {n} but got offsets[-1] of {last}"
            );
        }
    }
    if let Some(i) = offs.windows(2).position(|w| w[1] < w[0]) {
        bail!(
            Runtime,
            "offsets has to be a non-decreasing sequence, but got offsets[{}] = {} > offsets[{}] = {}",
            i,
            offs[i],
            i + 1,
            offs[i + 1]
        );
    }
    let mut b: Vec<usize> = offs.iter().map(|&o| o as usize).collect();
    if include_last {
        if b.is_empty() {
            b.push(0);
        }
    } else {
        b.push(n);
    }
    Ok(b)
}

/// Refuses an index outside `[0, rows)` with PyTorch's message (position in the flat input).
pub(crate) fn check_indices(index: &[i64], rows: usize) -> Result<()> {
    if let Some((j, &v)) = index.iter().enumerate().find(|(_, &v)| v < 0 || v >= rows as i64) {
        bail!(Runtime, "Index {j} of input takes value {v} which is not in the valid range [0, {rows})");
    }
    Ok(())
}

/// A 1-D or 2-D integer tensor's values as int64 on the host.
pub(crate) fn host_i64(t: &Tensor) -> Result<Vec<i64>> {
    t.detach().to_cpu()?.to_dtype(DType::I64)?.contiguous()?.try_to_vec::<i64>()
}

fn check_args(
    weight: &Tensor,
    input: &Tensor,
    offsets: Option<&Tensor>,
    psw: Option<&Tensor>,
    opts: &BagOptions,
) -> Result<Option<i64>> {
    if weight.ndim() != 2 {
        bail!(Value, "weight has to be a 2D Tensor, but got Tensor of dimension {}", weight.ndim());
    }
    for (arg, name, t) in [("#1", "indices", Some(input)), ("#3", "offsets", offsets)] {
        if let Some(t) = t {
            if !matches!(t.dtype(), DType::I64 | DType::I32) {
                bail!(
                    Runtime,
                    "Expected tensor for argument {arg} '{name}' to have one of the following scalar types: Long, Int; but got {} instead (while checking arguments for embedding_bag)",
                    legacy(t)
                );
            }
        }
    }
    match (input.ndim(), offsets) {
        (1, None) => bail!(Value, "offsets has to be a 1D Tensor but got None"),
        (1, Some(o)) if o.ndim() != 1 => bail!(Value, "offsets has to be a 1D Tensor"),
        (2, Some(_)) => bail!(
            Value,
            "if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed length sequences. However, found offsets of type <class 'torch.Tensor'>"
        ),
        (1, _) | (2, _) => {}
        (d, _) => bail!(Value, "input has to be 1D or 2D Tensor, but got Tensor of dimension {d}"),
    }
    if !weight.dtype().is_float() {
        bail!(Runtime, "\"embedding_bag\" not implemented for '{}'", weight.dtype().scalar_name());
    }
    if let Some(p) = psw {
        if opts.mode != BagMode::Sum {
            let m = match opts.mode {
                BagMode::Mean => "mean",
                _ => "max",
            };
            bail!(
                NotImplemented,
                "embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for mode='sum' (got mode='{m}'). Please open a feature request on GitHub."
            );
        }
        if p.shape() != input.shape() {
            bail!(
                Value,
                "embedding_bag: If per_sample_weights (torch.Size({})) is not None, then it must have the same shape as the input (torch.Size({}))",
                size_list(p.shape()),
                size_list(input.shape())
            );
        }
        if p.dtype() != weight.dtype() {
            bail!(
                Runtime,
                "Expected tensor for argument #1 'weight' to have the same type as tensor for argument #1 'per_sample_weights'; but type {} does not equal {} (while checking arguments for embedding_bag)",
                legacy(weight),
                legacy(p)
            );
        }
    }
    if opts.mode == BagMode::Max && opts.scale_grad_by_freq {
        bail!(Value, "max mode does not support scaling the gradient by the frequency");
    }
    let rows = weight.shape()[0] as i64;
    opts.padding_idx
        .map(|p| {
            if p < -rows || p >= rows {
                bail!(
                    Runtime,
                    "padding_idx must be within the number of embeddings, -{rows} through {}, but got {p}",
                    rows - 1
                );
            }
            Ok(if p < 0 { p + rows } else { p })
        })
        .transpose()
}

fn size_list(s: &[usize]) -> String {
    format!("[{}]", s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

/// The host forward: `(output, argmax)` with argmax `(bags, dim)` int64 for max mode.
fn cpu_forward(
    weight: &Tensor,
    index: &[i64],
    bounds: &[usize],
    psw: Option<&Tensor>,
    padding: Option<i64>,
    mode: BagMode,
) -> Result<(Tensor, Option<Tensor>)> {
    if weight.dtype().is_reduced_float() {
        // In float32, rounded once at the end (PyTorch accumulates half types in float).
        let (w, p) = (widen(weight)?, widen_opt(psw)?);
        let (out, arg) = cpu_forward(&w, index, bounds, p.as_ref(), padding, mode)?;
        return Ok((narrow(out, weight.dtype())?, arg));
    }
    let dim = weight.shape()[1];
    let nb = bounds.len() - 1;
    let w = weight.detach().contiguous()?;
    let p = psw.map(|p| p.detach().contiguous()).transpose()?;
    macro_rules! go {
        ($T:ty) => {{
            let wv = w.try_to_vec::<$T>()?;
            let pv = p.as_ref().map(|p| p.try_to_vec::<$T>()).transpose()?;
            let args = crate::cpu::embedding_bag::Bags {
                weight: &wv,
                dim,
                index,
                bounds,
                psw: pv.as_deref(),
                padding,
                mode,
            };
            let (out, arg) = crate::cpu::embedding_bag::forward(&args);
            (Tensor::from_vec(out, &[nb, dim]), arg.map(|a| Tensor::from_vec(a, &[nb, dim])))
        }};
    }
    Ok(match weight.dtype() {
        DType::F32 => go!(f32),
        _ => go!(f64),
    })
}

/// The forward on host tensors (`index` flat): checks, bag bounds, the kernel.
pub(crate) fn host_forward(
    weight: &Tensor,
    index: &Tensor,
    offsets: Option<&Tensor>,
    fixed: (usize, usize),
    psw: Option<&Tensor>,
    padding: Option<i64>,
    opts: &BagOptions,
) -> Result<(Tensor, Option<Tensor>)> {
    let ix = host_i64(index)?;
    check_indices(&ix, weight.shape()[0])?;
    let offs = offsets.map(host_i64).transpose()?;
    let bounds = bag_bounds(offs.as_deref(), ix.len(), fixed, opts.include_last_offset)?;
    cpu_forward(weight, &ix, &bounds, psw, padding, opts.mode)
}

impl Tensor {
    /// `embedding_bag(weight=self, input, offsets, mode, per_sample_weights, padding_idx,
    /// include_last_offset, scale_grad_by_freq)`: the `(bags, dim)` output.
    pub fn embedding_bag(
        &self,
        input: &Tensor,
        offsets: Option<&Tensor>,
        psw: Option<&Tensor>,
        opts: BagOptions,
    ) -> Result<Tensor> {
        let weight = self;
        let padding = check_args(weight, input, offsets, psw, &opts)?;
        let mut all = vec![weight, input];
        all.extend(offsets);
        all.extend(psw);
        crate::ops::common_device(&all)?;
        let (rows, dim) = (weight.shape()[0], weight.shape()[1]);
        let bag_len = if input.ndim() == 2 { input.shape()[1] } else { 0 };
        let n_bags = match offsets {
            None => input.shape()[0],
            Some(o) if opts.include_last_offset => o.numel().saturating_sub(1),
            Some(o) => o.numel(),
        };
        let flat = input.detach().reshape(&[-1])?;
        let fixed = (n_bags, bag_len);
        let (out, argmax) = match () {
            #[cfg(feature = "wgpu")]
            _ if weight.is_gpu() => {
                crate::gpu::embedding_bag::forward(weight, &flat, offsets, fixed, psw, padding, &opts)?
            }
            _ => host_forward(weight, &flat, offsets, fixed, psw, padding, &opts)?,
        };
        let mut inputs = vec![weight];
        inputs.extend(psw);
        if needs_grad(&inputs) {
            let saved = BagSaved {
                index: flat,
                offsets: offsets.map(|o| o.detach()),
                bag_len,
                num_weights: rows,
                dim,
                padding,
                opts,
                weight: psw.map(|_| Saved::input(weight)),
                psw: psw.map(Saved::input),
                psw_shape: input.shape().to_vec(),
                argmax,
            };
            record("EmbeddingBagBackward0", Op::EmbeddingBag(Box::new(saved)), &inputs, &[&out]);
        }
        Ok(out)
    }
}
