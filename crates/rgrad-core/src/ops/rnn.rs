//! One recurrent layer in one direction as one recorded op: `rnn_layer(x, h0, c0, w_ih,
//! w_hh, b_ih, b_hh, w_hr)` over a padded (`[T, B, I]`) or packed (`[N, I]` with PyTorch's
//! per-step `batch_sizes`) input, the input projection included (one GEMM inside the op) and
//! LSTM's projection `W_hr` too, so the node's backward gives every gradient.
//!
//! On the CPU the recurrence runs in cpu/rnn.rs (fused gates, one small product per step) and
//! the node keeps the activated gates for a single-sweep BPTT. Elsewhere (wgpu), and whenever
//! the backward itself is recorded (`create_graph`), the same recurrence runs as tensor ops
//! ([`composite`]), so it works on every device and differentiates again.

use crate::autograd::{record, Op, Saved};
use crate::bail;
use crate::cpu::rnn::{self as kernel, RnnDims, RnnMode, RnnNeeds, RnnSteps, RnnWeights};
use crate::error::{Error, Result};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;
use crate::{DType, Device};

/// The operands of one layer and direction.
#[derive(Clone, Copy)]
pub struct RnnArgs<'a> {
    pub h0: &'a Tensor,
    pub c0: Option<&'a Tensor>,
    pub w_ih: &'a Tensor,
    pub w_hh: &'a Tensor,
    pub b_ih: Option<&'a Tensor>,
    pub b_hh: Option<&'a Tensor>,
    /// LSTM's projection of the hidden state (`proj_size`), `[P, H]`.
    pub w_hr: Option<&'a Tensor>,
    /// A packed input's batch size at each step (the input is then `[N, I]`).
    pub batch_sizes: Option<&'a [usize]>,
}

/// What the node keeps: the inputs (for the recorded backward) and the forward's buffers.
pub struct RnnSaved {
    pub mode: RnnMode,
    pub reverse: bool,
    pub batch_sizes: Option<Vec<usize>>,
    pub x: Saved,
    pub h0: Saved,
    pub c0: Option<Saved>,
    pub w_ih: Saved,
    pub w_hh: Saved,
    pub b_ih: Option<Saved>,
    pub b_hh: Option<Saved>,
    pub w_hr: Option<Saved>,
    pub y: Saved,
    /// The input, contiguous (a copy when it was a batch-first view).
    pub x_dense: Tensor,
    /// See `cpu::rnn::RnnForward`.
    pub gates: Tensor,
    pub extra: Tensor,
    pub hin: Tensor,
    pub cin: Tensor,
    pub hcell: Tensor,
}

impl RnnSaved {
    /// How many inputs the node has: x, h0, [c0], w_ih, w_hh, [b_ih], [b_hh], [w_hr].
    pub fn inputs(&self) -> usize {
        let opt = [self.c0.is_some(), self.b_ih.is_some(), self.b_hh.is_some(), self.w_hr.is_some()];
        4 + opt.iter().filter(|&&v| v).count()
    }
}

/// The layer's outputs: `[T, B, P]` (or `[N, P]` packed), and the final `[B, P]` hidden and
/// (LSTM) `[B, H]` cell states.
pub type RnnOut = (Tensor, Tensor, Option<Tensor>);

pub fn parse_mode(mode: &str) -> Result<RnnMode> {
    Ok(match mode {
        "RNN_TANH" => RnnMode::Tanh,
        "RNN_RELU" => RnnMode::Relu,
        "LSTM" => RnnMode::Lstm,
        "GRU" => RnnMode::Gru,
        _ => bail!(Value, "Unrecognized RNN mode: {mode}"),
    })
}

fn check_shape(t: &Tensor, want: &[usize], what: &str) -> Result<()> {
    if t.shape() != want {
        bail!(
            Runtime,
            "rnn_layer: expected {what} of size {}, got {}",
            fmt_shape(want),
            fmt_shape(t.shape())
        );
    }
    Ok(())
}

/// The inputs in recording order: x, h0, [c0], w_ih, w_hh, [b_ih], [b_hh], [w_hr].
fn operands<'a>(x: &'a Tensor, a: &RnnArgs<'a>) -> Vec<&'a Tensor> {
    let mut all = vec![x, a.h0];
    all.extend(a.c0);
    all.extend([a.w_ih, a.w_hh]);
    all.extend(a.b_ih);
    all.extend(a.b_hh);
    all.extend(a.w_hr);
    all
}

/// The steps of a packed input: PyTorch's batch sizes, positive and non-increasing, adding
/// up to the input's rows.
fn packed_steps(sizes: &[usize], rows: usize) -> Result<RnnSteps> {
    let mut total = 0usize;
    for (k, &s) in sizes.iter().enumerate() {
        if s == 0 || (k > 0 && s > sizes[k - 1]) {
            bail!(Runtime, "rnn_layer: batch_sizes must be positive and non-increasing, got {sizes:?}");
        }
        total = total.checked_add(s).ok_or_else(|| Error::Runtime("rnn_layer: size overflow".into()))?;
    }
    if total != rows {
        bail!(Runtime, "rnn_layer: batch_sizes add up to {total}, but the packed input has {rows} rows");
    }
    Ok(RnnSteps::packed(sizes))
}

/// Checks the operands and returns the layer's sizes and steps.
fn plan(mode: RnnMode, x: &Tensor, a: &RnnArgs, reverse: bool) -> Result<(RnnDims, RnnSteps)> {
    let want = if a.batch_sizes.is_some() { 2 } else { 3 };
    if x.ndim() != want || a.w_ih.ndim() != 2 || a.w_hh.ndim() != 2 {
        bail!(Runtime, "rnn_layer: expected a {want}-D input and 2-D weights");
    }
    let p = a.w_hh.shape()[1];
    let h = match a.w_hr {
        Some(w) if mode == RnnMode::Lstm && w.ndim() == 2 => w.shape()[1],
        Some(_) if mode == RnnMode::Lstm => bail!(Runtime, "rnn_layer: expected a 2-D weight_hr"),
        Some(_) => bail!(Runtime, "rnn_layer: only LSTM takes a projection"),
        None => p,
    };
    let g = h.checked_mul(mode.gates()).ok_or_else(|| Error::Runtime("rnn_layer: size overflow".into()))?;
    let i = x.shape()[want - 1];
    let (b, steps) = match a.batch_sizes {
        Some(sizes) => (
            sizes.first().copied().unwrap_or(a.h0.shape().first().copied().unwrap_or(0)),
            packed_steps(sizes, x.shape()[0])?,
        ),
        None => (x.shape()[1], RnnSteps::dense(x.shape()[0], x.shape()[1])),
    };
    check_shape(a.w_ih, &[g, i], "weight_ih")?;
    check_shape(a.w_hh, &[g, p], "weight_hh")?;
    if let Some(w) = a.w_hr {
        check_shape(w, &[p, h], "weight_hr")?;
    }
    check_shape(a.h0, &[b, p], "hx")?;
    match (mode == RnnMode::Lstm, a.c0) {
        (true, Some(c)) => check_shape(c, &[b, h], "cx")?,
        (false, None) => {}
        (true, None) => bail!(Runtime, "rnn_layer: LSTM needs a cell state"),
        (false, Some(_)) => bail!(Runtime, "rnn_layer: only LSTM takes a cell state"),
    }
    for bias in a.b_ih.iter().chain(a.b_hh.iter()) {
        check_shape(bias, &[g], "bias")?;
    }
    crate::shape::checked_numel(&[steps.n, g.max(i).max(p)])?;
    let all = operands(x, a);
    for v in &all {
        if v.dtype() != x.dtype() {
            bail!(
                Runtime,
                "expected scalar type {} but found {}",
                x.dtype().legacy_name().trim_end_matches("Tensor"),
                v.dtype().legacy_name().trim_end_matches("Tensor")
            );
        }
    }
    if !x.dtype().is_float() {
        bail!(
            NotImplemented,
            "rnn_layer is not implemented for '{}'",
            x.dtype().legacy_name().trim_end_matches("Tensor")
        );
    }
    crate::ops::common_device(&all)?;
    Ok((RnnDims { mode, b, i, h, p, reverse }, steps))
}

/// The first `r` rows of a state and the rest (`None` when `r` covers it).
fn split_rows(s: &Tensor, r: usize) -> Result<(Tensor, Option<Tensor>)> {
    let b = s.shape()[0];
    if r >= b {
        return Ok((s.clone(), None));
    }
    Ok((s.slice(0, Some(0), Some(r as i64), 1)?, Some(s.slice(0, Some(r as i64), None, 1)?)))
}

fn rejoin(head: Tensor, rest: Option<Tensor>) -> Result<Tensor> {
    match rest {
        Some(rest) => Tensor::cat(&[head, rest], 0),
        None => Ok(head),
    }
}

/// The recurrence as tensor ops: every step recorded, so it runs on any device and its
/// gradient differentiates again.
pub(crate) fn composite(d: &RnnDims, st: &RnnSteps, x: &Tensor, a: &RnnArgs) -> Result<RnnOut> {
    let mut gi = x.matmul(&a.w_ih.t()?)?;
    if let Some(b) = a.b_ih {
        gi = gi.add(b)?;
    }
    let packed = a.batch_sizes.is_some();
    let w_t = a.w_hh.t()?;
    let w_hr_t = a.w_hr.map(|w| w.t()).transpose()?;
    let (mut h, mut c) = (a.h0.clone(), a.c0.cloned());
    let nt = st.t();
    let mut outs: Vec<Option<Tensor>> = vec![None; nt];
    for k in 0..nt {
        let t = if d.reverse { nt - 1 - k } else { k };
        let (r, o) = (st.rows[t], st.starts[t]);
        let gi_t = if packed {
            gi.slice(0, Some(o as i64), Some((o + r) as i64), 1)?
        } else {
            gi.select(0, t as i64)?
        };
        let (hp, h_rest) = split_rows(&h, r)?;
        let mut gh = hp.matmul(&w_t)?;
        if let Some(b) = a.b_hh {
            gh = gh.add(b)?;
        }
        let next = match d.mode {
            RnnMode::Tanh => gi_t.add(&gh)?.tanh()?,
            RnnMode::Relu => gi_t.add(&gh)?.relu()?,
            RnnMode::Lstm => {
                let q = gi_t.add(&gh)?.chunk(4, 1)?;
                let cell =
                    c.as_ref().ok_or_else(|| Error::Runtime("rnn_layer: LSTM needs a cell state".into()))?;
                let (cp, c_rest) = split_rows(cell, r)?;
                let cn = q[1].sigmoid()?.mul(&cp)?.add(&q[0].sigmoid()?.mul(&q[2].tanh()?)?)?;
                let mut out = q[3].sigmoid()?.mul(&cn.tanh()?)?;
                if let Some(w) = &w_hr_t {
                    out = out.matmul(w)?;
                }
                c = Some(rejoin(cn, c_rest)?);
                out
            }
            RnnMode::Gru => {
                let (a, rg) = (gi_t.chunk(3, 1)?, gh.chunk(3, 1)?);
                let reset = a[0].add(&rg[0])?.sigmoid()?;
                let update = a[1].add(&rg[1])?.sigmoid()?;
                let n = a[2].add(&reset.mul(&rg[2])?)?.tanh()?;
                n.add(&update.mul(&hp.sub(&n)?)?)?
            }
        };
        outs[t] = Some(next.clone());
        h = rejoin(next, h_rest)?;
    }
    let outs: Vec<Tensor> = outs.into_iter().flatten().collect();
    let y = if outs.is_empty() {
        let shape: Vec<usize> = if packed { vec![0, d.p] } else { vec![0, d.b, d.p] };
        a.h0.zeros_like_shape(&shape)?
    } else if packed {
        Tensor::cat(&outs, 0)?
    } else {
        Tensor::stack(&outs, 0)?
    };
    Ok((y, h, c))
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

fn empty_of(dtype: DType) -> Result<Tensor> {
    Tensor::zeros(&[0], dtype)
}

macro_rules! with_float {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            other => return Err(crate::ops::opmath::not_implemented(other)),
        }
    };
}

fn flat<T: crate::Element>(v: Vec<T>) -> Tensor {
    let n = v.len();
    Tensor::from_vec(v, &[n])
}

impl Tensor {
    /// One layer and direction of `mode` over the input `self` (`[T, B, I]` time-major, or
    /// `[N, I]` packed); returns the outputs (`[T, B, P]` or `[N, P]`) and the final states.
    pub fn rnn_layer(&self, mode: RnnMode, a: &RnnArgs, reverse: bool) -> Result<RnnOut> {
        let x = self;
        let (d, st) = plan(mode, x, a, reverse)?;
        // Empty sizes go through the tensor ops too (the kernel's row loops assume rows).
        if x.device() != Device::Cpu || st.t() == 0 || d.b == 0 || d.h == 0 || d.p == 0 || d.i == 0 {
            return composite(&d, &st, x, a);
        }
        let (xd, hd, wid, whd) = (dense(x)?, dense(a.h0)?, dense(a.w_ih)?, dense(a.w_hh)?);
        let cd = a.c0.map(dense).transpose()?;
        let bid = a.b_ih.map(dense).transpose()?;
        let bhd = a.b_hh.map(dense).transpose()?;
        let hrd = a.w_hr.map(dense).transpose()?;
        let y_shape: Vec<usize> =
            if a.batch_sizes.is_some() { vec![st.n, d.p] } else { vec![st.t(), d.b, d.p] };
        let (y, h_last, c_last, bufs) = with_float!(x.dtype(), T => {
            let no: &[T] = &[];
            let w = RnnWeights {
                w_ih: slice_of(&wid),
                w_hh: slice_of(&whd),
                b_ih: bid.as_ref().map_or(no, slice_of::<T>),
                b_hh: bhd.as_ref().map_or(no, slice_of::<T>),
                w_hr: hrd.as_ref().map_or(no, slice_of::<T>),
            };
            let c0 = cd.as_ref().map_or(no, slice_of::<T>);
            let f = kernel::forward::<T>(&d, &st, slice_of(&xd), slice_of(&hd), c0, &w);
            let c_last = if mode == RnnMode::Lstm { Some(Tensor::from_vec(f.c_last, &[d.b, d.h])) } else { None };
            let bufs = [flat(f.gates), flat(f.extra), flat(f.hin), flat(f.cin), flat(f.hcell)];
            (Tensor::from_vec(f.y, &y_shape), Tensor::from_vec(f.h_last, &[d.b, d.p]), c_last, bufs)
        });
        let inputs = operands(x, a);
        if crate::autograd::needs_grad(&inputs) {
            let [gates, extra, hin, cin, hcell] = bufs;
            let saved = RnnSaved {
                mode,
                reverse,
                batch_sizes: a.batch_sizes.map(<[usize]>::to_vec),
                x: Saved::input(x),
                h0: Saved::input(a.h0),
                c0: a.c0.map(Saved::input),
                w_ih: Saved::input(a.w_ih),
                w_hh: Saved::input(a.w_hh),
                b_ih: a.b_ih.map(Saved::input),
                b_hh: a.b_hh.map(Saved::input),
                w_hr: a.w_hr.map(Saved::input),
                y: Saved::output(&y, NODE_NAME),
                x_dense: xd,
                gates,
                extra,
                hin,
                cin,
                hcell,
            };
            let mut outs = vec![&y, &h_last];
            outs.extend(c_last.as_ref());
            record(NODE_NAME, Op::Rnn(Box::new(saved)), &inputs, &outs);
        }
        Ok((y, h_last, c_last))
    }
}

const NODE_NAME: &str = "RnnLayerBackward0";

/// The saved operands as [`RnnArgs`], with the layer's sizes and steps.
fn args_of(s: &RnnSaved) -> Result<(RnnArgs<'_>, &Tensor)> {
    let x = s.x.get()?;
    fn opt(v: &Option<Saved>) -> Result<Option<&Tensor>> {
        v.as_ref().map(|t| t.get()).transpose()
    }
    let a = RnnArgs {
        h0: s.h0.get()?,
        c0: opt(&s.c0)?,
        w_ih: s.w_ih.get()?,
        w_hh: s.w_hh.get()?,
        b_ih: opt(&s.b_ih)?,
        b_hh: opt(&s.b_hh)?,
        w_hr: opt(&s.w_hr)?,
        batch_sizes: s.batch_sizes.as_deref(),
    };
    Ok((a, x))
}

/// BPTT with the saved gates (`grads` one per output: y, h_last, c_last; `needs` one per
/// input). Returns one gradient per input in recording order (see [`RnnSaved::inputs`]).
pub(crate) fn backward_kernel(
    s: &RnnSaved,
    grads: &[Option<Tensor>],
    needs: &[bool],
) -> Result<Vec<Option<Tensor>>> {
    let (a, x) = args_of(s)?;
    let (d, st) = plan(s.mode, x, &a, s.reverse)?;
    let y = s.y.get()?;
    let dtype = y.dtype();
    let grab = |i: usize| -> Result<Tensor> {
        match grads.get(i).cloned().flatten() {
            Some(g) => dense(&g.detach().to_device(Device::Cpu)?.to_dtype(dtype)?),
            None => empty_of(dtype),
        }
    };
    let (dy, dh, dc) = (grab(0)?, grab(1)?, grab(2)?);
    let (wid, whd) = (dense(a.w_ih)?, dense(a.w_hh)?);
    let hrd = a.w_hr.map(dense).transpose()?;
    let flags = RnnNeeds {
        x: needs.first().copied().unwrap_or(true),
        b_ih: a.b_ih.is_some(),
        b_hh: a.b_hh.is_some(),
    };
    let r = with_float!(dtype, T => {
        let no: &[T] = &[];
        let saved = kernel::RnnSavedRef {
            x: slice_of(&s.x_dense),
            y: slice_of(y),
            gates: slice_of(&s.gates),
            extra: slice_of(&s.extra),
            hin: slice_of(&s.hin),
            cin: slice_of(&s.cin),
            hcell: slice_of(&s.hcell),
        };
        let w = RnnWeights {
            w_ih: slice_of(&wid),
            w_hh: slice_of(&whd),
            b_ih: no,
            b_hh: no,
            w_hr: hrd.as_ref().map_or(no, slice_of::<T>),
        };
        let g = kernel::backward::<T>(&d, &st, &saved, &w, flags, slice_of(&dy), slice_of(&dh), slice_of(&dc));
        let gsz = d.mode.gates() * d.h;
        let mut out = Vec::with_capacity(s.inputs());
        out.push(if flags.x { Some(Tensor::from_vec(g.x, x.shape())) } else { None });
        out.push(Some(Tensor::from_vec(g.h0, &[d.b, d.p])));
        if d.mode == RnnMode::Lstm {
            out.push(Some(Tensor::from_vec(g.c0, &[d.b, d.h])));
        }
        out.push(Some(Tensor::from_vec(g.w_ih, &[gsz, d.i])));
        out.push(Some(Tensor::from_vec(g.w_hh, &[gsz, d.p])));
        if flags.b_ih {
            out.push(Some(Tensor::from_vec(g.b_ih, &[gsz])));
        }
        if flags.b_hh {
            out.push(Some(Tensor::from_vec(g.b_hh, &[gsz])));
        }
        if a.w_hr.is_some() {
            out.push(Some(Tensor::from_vec(g.w_hr, &[d.p, d.h])));
        }
        out
    });
    Ok(r)
}

/// The recorded backward (`create_graph`): the recurrence recomputed as tensor ops from the
/// saved inputs and differentiated by the engine, stopping at those inputs.
pub(crate) fn backward_recorded(s: &RnnSaved, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
    let (a, x) = args_of(s)?;
    let (d, st) = plan(s.mode, x, &a, s.reverse)?;
    let (y, h, c) = composite(&d, &st, x, &a)?;
    let inputs: Vec<Tensor> = operands(x, &a).into_iter().cloned().collect();
    let outs = [Some(y), Some(h), c];
    let (mut roots, mut seeds) = (Vec::new(), Vec::new());
    for (o, g) in outs.iter().zip(grads) {
        if let (Some(o), Some(g)) = (o, g) {
            if o.requires_grad() {
                roots.push(o.clone());
                seeds.push(g.clone());
            }
        }
    }
    if roots.is_empty() {
        return Ok(vec![None; inputs.len()]);
    }
    crate::autograd::engine::run(&roots, seeds, true, true, crate::autograd::engine::Target::Local(&inputs))
}
