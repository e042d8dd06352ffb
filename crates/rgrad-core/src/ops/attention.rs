//! `scaled_dot_product_attention(q, k, v, mask, is_causal, scale, enable_gqa)` as one
//! recorded op: `softmax(q k^T * scale + mask) v` over the last two dims, broadcast over the
//! leading ones (the last of which is the heads dim that GQA shares).
//!
//! On the CPU the forward and backward are the tiled kernels of cpu/attention.rs (the node
//! keeps the row log-sum-exp). The same attention written as tensor ops ([`composite`]) is
//! what runs on other devices and for empty sizes, and what the backward differentiates when
//! it is itself recorded (`create_graph`), so double backward works.

use crate::autograd::{record, Op, Saved};
use crate::bail;
use crate::cpu::attention::{self as kernel, AttnArgs, AttnDims, AttnFloat, MaskRef, Offsets, Operand};
use crate::error::{Error, Result};
use crate::gpu::{DeviceDims, DeviceMask};
use crate::ops::binary::BinaryOp;
use crate::shape::{checked_numel, fmt_shape};
use crate::tensor::Tensor;
use crate::{DType, Device, Scalar};
use std::sync::Arc;

/// The geometry of one call, fixed by [`plan`].
#[derive(Clone, Debug)]
pub struct SdpaSpec {
    pub causal: bool,
    pub scale: f64,
    /// `enable_gqa` on inputs with a heads dim: key/value heads shared by query-head groups.
    pub gqa: bool,
    /// The broadcast leading dims of the output.
    pub lead: Vec<usize>,
    pub l: usize,
    pub s: usize,
    pub e: usize,
    pub ev: usize,
}

impl SdpaSpec {
    fn pairs(&self) -> usize {
        self.lead.iter().product()
    }
    fn shape_with(&self, rows: usize, cols: usize) -> Vec<usize> {
        let mut v = self.lead.clone();
        v.extend([rows, cols]);
        v
    }
}

/// What the node keeps: the inputs (for the recorded backward), the mask, the output and the
/// log-sum-exp of every row (`[pairs, l]`).
pub struct SdpaSaved {
    pub q: Saved,
    pub k: Saved,
    pub v: Saved,
    pub mask: Option<Tensor>,
    pub out: Saved,
    pub lse: Tensor,
    pub spec: Arc<SdpaSpec>,
}

pub const NODE_NAME: &str = "ScaledDotProductFlashAttentionForCpuBackward0";

/// PyTorch's C++ name of a dtype, as its attention errors print it.
fn c_name(d: DType) -> &'static str {
    d.c_name()
}

fn lead(t: &Tensor) -> &[usize] {
    &t.shape()[..t.ndim() - 2]
}

/// Broadcasts leading dims with PyTorch's message, which numbers the dims of the inputs
/// padded to four (3-D inputs are run as 4-D).
fn broadcast_lead(a: &[usize], b: &[usize], pad: usize) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| if i + s.len() >= n { s[i + s.len() - n] } else { 1 };
    (0..n)
        .map(|i| {
            let (da, db) = (at(a, i), at(b, i));
            if da == db || db == 1 {
                Ok(da)
            } else if da == 1 {
                Ok(db)
            } else {
                Err(Error::Runtime(format!(
                    "The size of tensor a ({da}) must match the size of tensor b ({db}) at non-singleton dimension {}",
                    i + pad
                )))
            }
        })
        .collect()
}

/// Checks the operands (in PyTorch's order, with its messages) and fixes the geometry.
pub fn plan(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    is_causal: bool,
    scale: Option<f64>,
    enable_gqa: bool,
) -> Result<SdpaSpec> {
    if q.ndim() < 2 || k.ndim() < 2 || v.ndim() < 2 {
        bail!(
            Runtime,
            "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: {} key.dim: {} and value.dim: {} instead.",
            q.ndim(),
            k.ndim(),
            v.ndim()
        );
    }
    if q.dtype() != k.dtype() || q.dtype() != v.dtype() {
        bail!(
            Runtime,
            "Expected query, key, and value to have the same dtype, but got query.dtype: {} key.dtype: {} and value.dtype: {} instead.",
            c_name(q.dtype()),
            c_name(k.dtype()),
            c_name(v.dtype())
        );
    }
    if !q.dtype().is_float() {
        bail!(
            Runtime,
            "expected scalar type Float but found {}",
            q.dtype().legacy_name().trim_end_matches("Tensor")
        );
    }
    if is_causal && mask.is_some() {
        bail!(
            Runtime,
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
        );
    }
    if let Some(m) = mask {
        if m.dtype() != DType::Bool && m.dtype() != q.dtype() {
            bail!(
                Runtime,
                "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: {} and  query.dtype: {} instead.",
                c_name(m.dtype()),
                c_name(q.dtype())
            );
        }
    }
    let (l, e) = (q.shape()[q.ndim() - 2], q.shape()[q.ndim() - 1]);
    let (s, ek) = (k.shape()[k.ndim() - 2], k.shape()[k.ndim() - 1]);
    let (sv, ev) = (v.shape()[v.ndim() - 2], v.shape()[v.ndim() - 1]);
    if s != sv {
        bail!(
            Runtime,
            "Expected key and value to have the same sequence length, but got key.size(-2): {s} and value.size(-2): {sv} instead."
        );
    }
    if e != ek {
        if q.ndim() == 2 && k.ndim() == 2 {
            bail!(Runtime, "mm: mat1 and mat2 shapes cannot be multiplied ({l}x{e} and {ek}x{s})");
        }
        let (nq, nk) = (lead(q).iter().product::<usize>(), lead(k).iter().product::<usize>());
        bail!(
            Runtime,
            "Expected size for first two dimensions of batch2 tensor to be: [{nq}, {e}] but got: [{nk}, {ek}]."
        );
    }
    let gqa = enable_gqa;
    let (mut kl, mut vl) = (lead(k).to_vec(), lead(v).to_vec());
    if gqa {
        if q.ndim() < 3 || k.ndim() < 3 || v.ndim() < 3 {
            bail!(Index, "Dimension out of range (expected to be in range of [-2, 1], but got -3)");
        }
        let hq = q.shape()[q.ndim() - 3];
        let (hk, hv) = (kl[kl.len() - 1], vl[vl.len() - 1]);
        if hk == 0 || hv == 0 || hq % hk != 0 || hq % hv != 0 {
            bail!(Runtime, "Number of heads in key and value must divide the number of heads in query");
        }
        // Shared heads broadcast like heads of size hq (the kernel maps each query head to
        // its group's head).
        let (nk, nv) = (kl.len(), vl.len());
        kl[nk - 1] = hq;
        vl[nv - 1] = hq;
    }
    let rank = q.ndim().max(k.ndim()).max(v.ndim());
    let pad = 4usize.saturating_sub(rank);
    let out_lead = broadcast_lead(&broadcast_lead(lead(q), &kl, pad)?, &vl, pad)?;
    let spec = SdpaSpec {
        causal: is_causal,
        scale: scale.unwrap_or(1.0 / (e as f64).sqrt()),
        gqa: gqa && out_lead.last().is_some_and(|&h| h > 1),
        lead: out_lead,
        l,
        s,
        e,
        ev,
    };
    if let Some(m) = mask {
        match m.ndim() {
            0 => bail!(Index, "Dimension specified as -2 but tensor has no dimensions"),
            1 => bail!(Index, "Dimension out of range (expected to be in range of [-1, 0], but got -2)"),
            _ => {}
        }
        let scores = spec.shape_with(l, s);
        let b = broadcast_lead(&scores, m.shape(), 0)?;
        if b != scores {
            bail!(
                Runtime,
                "output with shape {} doesn't match the broadcast shape {}",
                fmt_shape(&scores),
                fmt_shape(&b)
            );
        }
    }
    checked_numel(&spec.shape_with(l, ev.max(e)))?;
    checked_numel(&spec.shape_with(s, ev.max(e)))?;
    Ok(spec)
}

/// Each of `t`'s heads (dim -3) repeated for its group of `heads` query heads (PyTorch's
/// `repeat_interleave`), as a view and one reshape.
fn share_heads(t: &Tensor, heads: usize) -> Result<Tensor> {
    let nd = t.ndim();
    let h = t.shape()[nd - 3];
    if h == heads || h == 1 {
        return Ok(t.clone());
    }
    let mut grouped: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
    grouped.insert(nd - 2, (heads / h) as i64);
    let mut shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
    shape[nd - 3] = heads as i64;
    t.unsqueeze(nd as i64 - 2)?.expand(&grouped)?.reshape(&shape)
}

/// The causal mask (`true` on and below the diagonal, top-left aligned) on `device`.
fn causal_mask(l: usize, s: usize, device: Device) -> Result<Tensor> {
    let keep: Vec<bool> = (0..l).flat_map(|i| (0..s).map(move |j| j <= i)).collect();
    Tensor::from_vec(keep, &[l, s]).to_device(device)
}

/// The attention in tensor ops (recorded, so it differentiates again and runs anywhere).
pub(crate) fn composite(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    spec: &SdpaSpec,
) -> Result<Tensor> {
    let (k, v) = if spec.gqa {
        let heads = q.shape()[q.ndim() - 3];
        (share_heads(k, heads)?, share_heads(v, heads)?)
    } else {
        (k.clone(), v.clone())
    };
    let mut scores = q.matmul(&k.transpose(-2, -1)?)?.mul_scalar(spec.scale)?;
    let neg_inf = Scalar::Float(f64::NEG_INFINITY);
    let keep = match mask {
        _ if spec.causal => Some(causal_mask(spec.l, spec.s, q.device())?),
        Some(m) if m.dtype() == DType::Bool => Some(m.clone()),
        _ => None,
    };
    if let Some(keep) = keep {
        scores = scores.masked_fill(&keep.compare_scalar(BinaryOp::Eq, 0.0)?, neg_inf)?;
    } else if let Some(m) = mask {
        scores = scores.add(m)?;
    }
    // A row where no key takes part gives zeros (and zero gradients), as PyTorch's kernel.
    let empty = scores.compare_scalar(BinaryOp::Eq, f64::NEG_INFINITY)?.all_any(Some(&[-1]), true, true)?;
    let zero = Scalar::Float(0.0);
    let weights = scores.masked_fill(&empty, zero)?.softmax(-1, false)?.masked_fill(&empty, zero)?;
    weights.matmul(&v)
}

/// `t` with a unit stride on its last dim (copied only when it has none).
fn rows_dense(t: &Tensor) -> Result<Tensor> {
    let nd = t.ndim();
    if t.shape()[nd - 1] <= 1 || t.strides()[nd - 1] == 1 {
        Ok(t.clone())
    } else {
        t.detach().contiguous()
    }
}

/// Where each (batch, head) pair of `lead` starts in `t` (`[..., rows, cols]`), through its
/// strides: broadcast dims read index 0, and with `shared` the heads dim maps a query head
/// to its group's head.
fn pair_offsets(t: &Tensor, lead: &[usize], shared: bool) -> Result<Vec<usize>> {
    let (r, nd) = (lead.len(), t.ndim() - 2);
    // (stride, group) per output dim: stride 0 where `t` broadcasts.
    let dims: Vec<(usize, usize)> = (0..r)
        .map(|i| {
            if i + nd < r {
                return (0, 1);
            }
            let j = i + nd - r;
            let size = t.shape()[j];
            if size == 1 {
                (0, 1)
            } else if shared && i == r - 1 {
                (t.strides()[j], lead[i] / size)
            } else {
                (t.strides()[j], 1)
            }
        })
        .collect();
    let n: usize = lead.iter().product();
    let mut idx = vec![0usize; r];
    let base = t.layout().offset;
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| oom(n.saturating_mul(std::mem::size_of::<usize>())))?;
    for _ in 0..n {
        out.push(base + idx.iter().zip(&dims).map(|(&i, &(st, g))| (i / g) * st).sum::<usize>());
        for d in (0..r).rev() {
            idx[d] += 1;
            if idx[d] < lead[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(out)
}

/// Borrowed kernel operands of one call.
struct Prepared {
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Option<Tensor>,
    offsets: Vec<Offsets>,
}

fn prepare(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>, spec: &SdpaSpec) -> Result<Prepared> {
    let (q, k, v) = (rows_dense(q)?, rows_dense(k)?, rows_dense(v)?);
    let (oq, ok, ov) = (
        pair_offsets(&q, &spec.lead, false)?,
        pair_offsets(&k, &spec.lead, spec.gqa)?,
        pair_offsets(&v, &spec.lead, spec.gqa)?,
    );
    let om = match mask {
        Some(m) => pair_offsets(m, &spec.lead, false)?,
        None => vec![0; oq.len()],
    };
    let mut offsets = Vec::new();
    offsets.try_reserve_exact(oq.len()).map_err(|_| oom(oq.len().saturating_mul(32)))?;
    offsets.extend((0..oq.len()).map(|b| [oq[b], ok[b], ov[b], om[b]]));
    Ok(Prepared { q, k, v, mask: mask.cloned(), offsets })
}

fn row_stride(t: &Tensor) -> usize {
    t.strides()[t.ndim() - 2]
}

/// The mask's strides over queries and keys (0 where it broadcasts).
fn mask_ref<'a, T: AttnFloat>(m: Option<&'a Tensor>) -> MaskRef<'a, T> {
    let Some(m) = m else { return MaskRef::None };
    let nd = m.ndim();
    let st = |d: usize| if m.shape()[d] == 1 { 0 } else { m.strides()[d] };
    let (rs, cs) = (st(nd - 2), st(nd - 1));
    if m.dtype() == DType::Bool {
        MaskRef::Bool { data: m.storage_slice::<bool>(), rs, cs }
    } else {
        MaskRef::Add { data: m.storage_slice::<T>(), rs, cs }
    }
}

fn args<'a, T: AttnFloat>(p: &'a Prepared, spec: &SdpaSpec) -> AttnArgs<'a, T> {
    let op = |t: &'a Tensor| Operand { data: t.storage_slice::<T>(), rs: row_stride(t) };
    AttnArgs {
        d: AttnDims {
            nb: spec.pairs(),
            l: spec.l,
            s: spec.s,
            e: spec.e,
            ev: spec.ev,
            scale: spec.scale,
            causal: spec.causal,
        },
        q: op(&p.q),
        k: op(&p.k),
        v: op(&p.v),
        mask: mask_ref(p.mask.as_ref()),
        offsets: &p.offsets,
    }
}

fn oom(bytes: usize) -> Error {
    crate::storage::alloc_error(bytes)
}

fn forward_cpu<T: AttnFloat>(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    spec: &SdpaSpec,
) -> Result<(Tensor, Tensor)> {
    // The outputs first: the largest allocations, refused before anything else is built.
    let mut out = kernel::zeroed::<T>(spec.pairs() * spec.l * spec.ev)?;
    let mut lse = kernel::zeroed::<T>(spec.pairs() * spec.l)?;
    let p = prepare(q, k, v, mask, spec)?;
    let a = args::<T>(&p, spec);
    kernel::forward(&a, &mut out, &mut lse);
    Ok((
        Tensor::from_vec(out, &spec.shape_with(spec.l, spec.ev)),
        Tensor::from_vec(lse, &[spec.pairs(), spec.l]),
    ))
}

/// Whether the device kernels take this call (float32, head dims they hold in registers).
fn on_device_kernel(q: &Tensor, spec: &SdpaSpec) -> bool {
    q.device() != Device::Cpu
        && q.dtype() == DType::F32
        && spec.e.max(spec.ev) <= crate::gpu::ATTENTION_MAX_DIM
}

/// The operands as contiguous `[pairs, rows, dim]` device tensors (broadcast and shared heads
/// materialized), the mask as `[pairs, l, s]`.
fn device_operands(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    spec: &SdpaSpec,
) -> Result<(DeviceDims, [Tensor; 3], Option<Tensor>)> {
    let (k, v) = if spec.gqa {
        let heads = q.shape()[q.ndim() - 3];
        (share_heads(k, heads)?, share_heads(v, heads)?)
    } else {
        (k.clone(), v.clone())
    };
    let dense = |t: &Tensor, rows: usize, cols: usize| -> Result<Tensor> {
        let sizes: Vec<i64> = spec.shape_with(rows, cols).iter().map(|&d| d as i64).collect();
        t.detach().expand(&sizes)?.contiguous()
    };
    let m = mask.map(|m| dense(m, spec.l, spec.s)).transpose()?;
    let kind = match &m {
        None => DeviceMask::None,
        Some(m) if m.dtype() == DType::Bool => DeviceMask::Bool,
        Some(_) => DeviceMask::Float,
    };
    let d = DeviceDims {
        nb: spec.pairs(),
        l: spec.l,
        s: spec.s,
        e: spec.e,
        ev: spec.ev,
        causal: spec.causal,
        mask: kind,
    };
    Ok((d, [dense(q, spec.l, spec.e)?, dense(&k, spec.s, spec.e)?, dense(&v, spec.s, spec.ev)?], m))
}

impl Tensor {
    /// `softmax(self @ key^T * scale + mask) @ value` over the last two dims (PyTorch's
    /// `scaled_dot_product_attention` without dropout): a bool mask says which keys take
    /// part, a float mask is added, `is_causal` keeps the lower triangle aligned top-left,
    /// `enable_gqa` shares each key/value head among a group of query heads.
    pub fn scaled_dot_product_attention(
        &self,
        key: &Tensor,
        value: &Tensor,
        mask: Option<&Tensor>,
        is_causal: bool,
        scale: Option<f64>,
        enable_gqa: bool,
    ) -> Result<Tensor> {
        if crate::autocast::casts(&[self, key, value]) {
            use crate::autocast::lower;
            let m = mask.map(|m| lower(m).map(std::borrow::Cow::into_owned)).transpose()?;
            let (q, k, v) = (lower(self)?, lower(key)?, lower(value)?);
            return q.scaled_dot_product_attention(&k, &v, m.as_ref(), is_causal, scale, enable_gqa);
        }
        let (q, k, v) = (self, key, value);
        let spec = plan(q, k, v, mask, is_causal, scale, enable_gqa)?;
        let mut all = vec![q, k, v];
        all.extend(mask);
        let device = crate::ops::common_device(&all)?;
        let empty = spec.pairs() == 0 || spec.l == 0 || spec.s == 0 || spec.ev == 0;
        // A mask that takes a gradient goes through the tensor ops (the kernel gives none).
        let mask_grad = mask.is_some_and(|m| m.requires_grad()) && crate::grad_mode::is_enabled();
        let device_kernel = on_device_kernel(q, &spec);
        // float16/bfloat16 run as tensor ops, each computing in float32 (ops::opmath).
        let reduced = q.dtype().is_reduced_float();
        if (device != Device::Cpu && !device_kernel) || empty || mask_grad || reduced {
            return composite(q, k, v, mask, &spec);
        }
        let (out, lse) = if device_kernel {
            let (d, [qd, kd, vd], md) = device_operands(q, k, v, mask, &spec)?;
            let (o, lse) = crate::gpu::sdpa_forward(&d, &qd, &kd, &vd, md.as_ref(), spec.scale)?;
            let sizes: Vec<i64> = spec.shape_with(spec.l, spec.ev).iter().map(|&d| d as i64).collect();
            (o.reshape(&sizes)?, lse)
        } else {
            match q.dtype() {
                DType::F32 => forward_cpu::<f32>(q, k, v, mask, &spec)?,
                DType::F64 => forward_cpu::<f64>(q, k, v, mask, &spec)?,
                dt => return Err(crate::ops::opmath::not_implemented(dt)),
            }
        };
        if crate::autograd::needs_grad(&[q, k, v]) {
            let saved = SdpaSaved {
                q: Saved::input(q),
                k: Saved::input(k),
                v: Saved::input(v),
                mask: mask.map(Tensor::detach),
                out: Saved::output(&out, NODE_NAME),
                lse,
                spec: Arc::new(spec),
            };
            record(NODE_NAME, Op::Attention(Box::new(saved)), &[q, k, v], &[&out]);
        }
        Ok(out)
    }
}

/// Sums a gradient computed per (batch, head) pair (`[lead..., rows, cols]`) back to the
/// shape of `t`: over the query heads sharing one of its heads, then over broadcast dims.
fn reduce_to(g: Tensor, t: &Tensor, spec: &SdpaSpec, shared: bool) -> Result<Tensor> {
    let mut g = g;
    let r = spec.lead.len();
    if shared && t.ndim() >= 3 {
        let h = t.shape()[t.ndim() - 3];
        let hq = spec.lead[r - 1];
        if h > 1 && h != hq {
            let mut grouped: Vec<i64> = g.shape().iter().map(|&d| d as i64).collect();
            grouped[r - 1] = h as i64;
            grouped.insert(r, (hq / h) as i64);
            g = g.reshape(&grouped)?.sum(Some(&[r as i64]), false)?;
        }
    }
    if g.shape() == t.shape() {
        Ok(g)
    } else {
        g.sum_to_shape(t.shape())
    }
}

fn dense_slice<T: AttnFloat>(t: &Tensor) -> &[T] {
    &t.storage_slice::<T>()[t.layout().offset..][..t.numel()]
}

fn backward_cpu<T: AttnFloat>(
    s: &SdpaSaved,
    p: &Prepared,
    out: &Tensor,
    dout: &Tensor,
) -> Result<[Tensor; 3]> {
    let spec = &*s.spec;
    let a = args::<T>(p, spec);
    let g = kernel::BackwardIn { out: dense_slice(out), dout: dense_slice(dout), lse: dense_slice(&s.lse) };
    let r = kernel::backward(&a, &g)?;
    Ok([
        Tensor::from_vec(r.dq, &spec.shape_with(spec.l, spec.e)),
        Tensor::from_vec(r.dk, &spec.shape_with(spec.s, spec.e)),
        Tensor::from_vec(r.dv, &spec.shape_with(spec.s, spec.ev)),
    ])
}

/// The fused backward: gradients of q, k, v from the saved log-sum-exp.
pub(crate) fn backward_kernel(s: &SdpaSaved, g: &Tensor, need: [bool; 3]) -> Result<[Option<Tensor>; 3]> {
    let (q, k, v) = (s.q.get()?, s.k.get()?, s.v.get()?);
    let out = s.out.get()?;
    let spec = &*s.spec;
    let dout = g.detach().to_device(q.device())?.to_dtype(q.dtype())?.contiguous()?;
    let [dq, dk, dv] = if q.device() != Device::Cpu {
        let (d, [qd, kd, vd], md) = device_operands(q, k, v, s.mask.as_ref(), spec)?;
        let [dq, dk, dv] =
            crate::gpu::sdpa_backward(&d, &qd, &kd, &vd, md.as_ref(), out, &dout, &s.lse, spec.scale)?;
        let view = |t: Tensor, rows: usize, cols: usize| -> Result<Tensor> {
            let sizes: Vec<i64> = spec.shape_with(rows, cols).iter().map(|&d| d as i64).collect();
            t.reshape(&sizes)
        };
        [view(dq, spec.l, spec.e)?, view(dk, spec.s, spec.e)?, view(dv, spec.s, spec.ev)?]
    } else {
        let p = prepare(q, k, v, s.mask.as_ref(), spec)?;
        match q.dtype() {
            DType::F32 => backward_cpu::<f32>(s, &p, out, &dout)?,
            DType::F64 => backward_cpu::<f64>(s, &p, out, &dout)?,
            dt => return Err(crate::ops::opmath::not_implemented(dt)),
        }
    };
    Ok([
        need[0].then(|| reduce_to(dq, q, spec, false)).transpose()?,
        need[1].then(|| reduce_to(dk, k, spec, spec.gqa)).transpose()?,
        need[2].then(|| reduce_to(dv, v, spec, spec.gqa)).transpose()?,
    ])
}

/// The recorded backward (`create_graph`): the attention recomputed as tensor ops from the
/// saved inputs and differentiated by the engine, stopping at those inputs.
pub(crate) fn backward_recorded(s: &SdpaSaved, g: &Tensor) -> Result<[Option<Tensor>; 3]> {
    let (q, k, v) = (s.q.get()?, s.k.get()?, s.v.get()?);
    let out = composite(q, k, v, s.mask.as_ref(), &s.spec)?;
    if !out.requires_grad() {
        return Ok([None, None, None]);
    }
    let inputs = [q.clone(), k.clone(), v.clone()];
    let r = crate::autograd::engine::run(
        &[out],
        vec![g.clone()],
        true,
        true,
        crate::autograd::engine::Target::Local(&inputs),
    )?;
    let mut it = r.into_iter();
    Ok([it.next().flatten(), it.next().flatten(), it.next().flatten()])
}
