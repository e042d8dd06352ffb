//! One recurrent layer in one direction as one recorded op: `rnn_layer(gi, h0, c0, w_hh,
//! b_hh)` over the input projection `gi = x W_ih^T + b_ih` (`[T, B, G]`, one GEMM done by the
//! caller, whose own backward gives the input and `W_ih` gradients from `gi`'s).
//!
//! On the CPU the recurrence runs in cpu/rnn.rs (fused gates, one GEMM per step) and the node
//! keeps the activated gates for a single-sweep BPTT. Elsewhere (wgpu), and whenever the
//! backward itself is recorded (`create_graph`), the same recurrence runs as tensor ops
//! ([`composite`]), so it works on every device and differentiates again.

use crate::autograd::{record, Op, Saved};
use crate::bail;
use crate::cpu::rnn::{self as kernel, RnnDims, RnnMode};
use crate::error::{Error, Result};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;
use crate::{DType, Device};

/// What the node keeps: the inputs (for the recorded backward) and the forward's buffers.
pub struct RnnSaved {
    pub mode: RnnMode,
    pub reverse: bool,
    pub gi: Saved,
    pub h0: Saved,
    pub c0: Option<Saved>,
    pub w_hh: Saved,
    pub b_hh: Option<Saved>,
    pub y: Saved,
    pub gates: Tensor,
    pub extra: Tensor,
    pub cells: Tensor,
}

/// The layer's outputs: `[T, B, H]`, and the final `[B, H]` hidden and (LSTM) cell states.
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

/// Checks the operands and returns the layer's sizes.
fn plan(
    mode: RnnMode,
    gi: &Tensor,
    h0: &Tensor,
    c0: Option<&Tensor>,
    w_hh: &Tensor,
    b_hh: Option<&Tensor>,
    reverse: bool,
) -> Result<RnnDims> {
    if w_hh.ndim() != 2 || gi.ndim() != 3 {
        bail!(Runtime, "rnn_layer: expected a 3-D input projection and a 2-D weight_hh");
    }
    let h = w_hh.shape()[1];
    let g = h.checked_mul(mode.gates()).ok_or_else(|| Error::Runtime("rnn_layer: size overflow".into()))?;
    let (t, b) = (gi.shape()[0], gi.shape()[1]);
    check_shape(gi, &[t, b, g], "input projection")?;
    check_shape(w_hh, &[g, h], "weight_hh")?;
    check_shape(h0, &[b, h], "hx")?;
    match (mode == RnnMode::Lstm, c0) {
        (true, Some(c)) => check_shape(c, &[b, h], "cx")?,
        (false, None) => {}
        (true, None) => bail!(Runtime, "rnn_layer: LSTM needs a cell state"),
        (false, Some(_)) => bail!(Runtime, "rnn_layer: only LSTM takes a cell state"),
    }
    if let Some(bias) = b_hh {
        check_shape(bias, &[g], "bias_hh")?;
    }
    let mut all = vec![gi, h0, w_hh];
    all.extend(c0);
    all.extend(b_hh);
    for x in &all {
        if x.dtype() != gi.dtype() {
            bail!(
                Runtime,
                "expected scalar type {} but found {}",
                gi.dtype().legacy_name().trim_end_matches("Tensor"),
                x.dtype().legacy_name().trim_end_matches("Tensor")
            );
        }
    }
    if !gi.dtype().is_float() {
        bail!(
            NotImplemented,
            "rnn_layer is not implemented for '{}'",
            gi.dtype().legacy_name().trim_end_matches("Tensor")
        );
    }
    crate::ops::common_device(&all)?;
    Ok(RnnDims { mode, t, b, h, reverse })
}

/// The recurrence as tensor ops: every step recorded, so it runs on any device and its
/// gradient differentiates again.
pub(crate) fn composite(
    d: &RnnDims,
    gi: &Tensor,
    h0: &Tensor,
    c0: Option<&Tensor>,
    w_hh: &Tensor,
    b_hh: Option<&Tensor>,
) -> Result<RnnOut> {
    let w_t = w_hh.t()?;
    let (mut h, mut c) = (h0.clone(), c0.cloned());
    let mut outs: Vec<Option<Tensor>> = vec![None; d.t];
    for k in 0..d.t {
        let t = if d.reverse { d.t - 1 - k } else { k };
        let gi_t = gi.select(0, t as i64)?;
        let mut gh = h.matmul(&w_t)?;
        if let Some(b) = b_hh {
            gh = gh.add(b)?;
        }
        h = match d.mode {
            RnnMode::Tanh => gi_t.add(&gh)?.tanh()?,
            RnnMode::Relu => gi_t.add(&gh)?.relu()?,
            RnnMode::Lstm => {
                let q = gi_t.add(&gh)?.chunk(4, 1)?;
                let cell =
                    c.as_ref().ok_or_else(|| Error::Runtime("rnn_layer: LSTM needs a cell state".into()))?;
                let next = q[1].sigmoid()?.mul(cell)?.add(&q[0].sigmoid()?.mul(&q[2].tanh()?)?)?;
                let out = q[3].sigmoid()?.mul(&next.tanh()?)?;
                c = Some(next);
                out
            }
            RnnMode::Gru => {
                let (a, r) = (gi_t.chunk(3, 1)?, gh.chunk(3, 1)?);
                let reset = a[0].add(&r[0])?.sigmoid()?;
                let update = a[1].add(&r[1])?.sigmoid()?;
                let n = a[2].add(&reset.mul(&r[2])?)?.tanh()?;
                n.add(&update.mul(&h.sub(&n)?)?)?
            }
        };
        outs[t] = Some(h.clone());
    }
    let outs: Vec<Tensor> = outs.into_iter().flatten().collect();
    let y = if outs.is_empty() { h0.zeros_like_shape(&[0, d.b, d.h])? } else { Tensor::stack(&outs, 0)? };
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
            _ => {
                type $T = f64;
                $body
            }
        }
    };
}

impl Tensor {
    /// One layer and direction of `mode` ("RNN_TANH", "RNN_RELU", "LSTM", "GRU") over the
    /// input projection `self` (`[T, B, G]`); returns the outputs `[T, B, H]` and the final
    /// states.
    pub fn rnn_layer(
        &self,
        mode: RnnMode,
        h0: &Tensor,
        c0: Option<&Tensor>,
        w_hh: &Tensor,
        b_hh: Option<&Tensor>,
        reverse: bool,
    ) -> Result<RnnOut> {
        let gi = self;
        let d = plan(mode, gi, h0, c0, w_hh, b_hh, reverse)?;
        if gi.device() != Device::Cpu {
            return composite(&d, gi, h0, c0, w_hh, b_hh);
        }
        let (gd, hd, wd) = (dense(gi)?, dense(h0)?, dense(w_hh)?);
        let cd = c0.map(dense).transpose()?;
        let bd = b_hh.map(dense).transpose()?;
        let (bh, tbh) = (d.b * d.h, d.t * d.b * d.h);
        let (y, h_last, c_last, gates, extra, cells) = with_float!(gi.dtype(), T => {
            let no: &[T] = &[];
            let f = kernel::forward::<T>(
                &d,
                slice_of(&gd),
                slice_of(&hd),
                cd.as_ref().map_or(no, slice_of::<T>),
                slice_of(&wd),
                bd.as_ref().map_or(no, slice_of::<T>),
            );
            let c_last = if mode == RnnMode::Lstm { Some(Tensor::from_vec(f.c_last, &[d.b, d.h])) } else { None };
            let flat = |v: Vec<T>| {
                let n = v.len();
                Tensor::from_vec(v, &[n])
            };
            let (gates, extra, cells) = (flat(f.gates), flat(f.extra), flat(f.cells));
            (Tensor::from_vec(f.y, &[d.t, d.b, d.h]), Tensor::from_vec(f.h_last, &[d.b, d.h]), c_last, gates, extra, cells)
        });
        debug_assert!(y.numel() == tbh && h_last.numel() == bh);
        let mut inputs = vec![gi, h0];
        inputs.extend(c0);
        inputs.push(w_hh);
        inputs.extend(b_hh);
        if crate::autograd::needs_grad(&inputs) {
            let saved = RnnSaved {
                mode,
                reverse,
                gi: Saved::input(gi),
                h0: Saved::input(h0),
                c0: c0.map(Saved::input),
                w_hh: Saved::input(w_hh),
                b_hh: b_hh.map(Saved::input),
                y: Saved::output(&y, NODE_NAME),
                gates,
                extra,
                cells,
            };
            let mut outs = vec![&y, &h_last];
            outs.extend(c_last.as_ref());
            record(NODE_NAME, Op::Rnn(Box::new(saved)), &inputs, &outs);
        }
        Ok((y, h_last, c_last))
    }
}

const NODE_NAME: &str = "RnnLayerBackward0";

/// BPTT with the saved gates (`grads` one per output: y, h_last, c_last). Returns one
/// gradient per input in recording order: gi, h0, [c0], w_hh, [b_hh].
pub(crate) fn backward_kernel(s: &RnnSaved, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
    let (gi, h0, w_hh) = (s.gi.get()?, s.h0.get()?, s.w_hh.get()?);
    let y = s.y.get()?;
    let c0 = s.c0.as_ref().map(|c| c.get()).transpose()?;
    let d =
        RnnDims { mode: s.mode, t: gi.shape()[0], b: gi.shape()[1], h: w_hh.shape()[1], reverse: s.reverse };
    let dtype = gi.dtype();
    let grab = |i: usize| -> Result<Tensor> {
        match grads.get(i).cloned().flatten() {
            Some(g) => dense(&g.detach().to_device(Device::Cpu)?.to_dtype(dtype)?),
            None => empty_of(dtype),
        }
    };
    let (dy, dh, dc) = (grab(0)?, grab(1)?, grab(2)?);
    let (hd, wd) = (dense(h0)?, dense(w_hh)?);
    let cd = c0.map(dense).transpose()?;
    let r = with_float!(dtype, T => {
        let no: &[T] = &[];
        let saved = kernel::RnnSavedRef {
            y: slice_of(y),
            h0: slice_of(&hd),
            c0: cd.as_ref().map_or(no, slice_of::<T>),
            gates: slice_of(&s.gates),
            extra: slice_of(&s.extra),
            cells: slice_of(&s.cells),
            w_hh: slice_of(&wd),
        };
        let g = kernel::backward::<T>(&d, &saved, slice_of(&dy), slice_of(&dh), slice_of(&dc));
        let gsz = d.mode.gates() * d.h;
        let mut out = vec![
            Some(Tensor::from_vec(g.gi, &[d.t, d.b, gsz])),
            Some(Tensor::from_vec(g.h0, &[d.b, d.h])),
        ];
        if d.mode == RnnMode::Lstm {
            out.push(Some(Tensor::from_vec(g.c0, &[d.b, d.h])));
        }
        out.push(Some(Tensor::from_vec(g.w_hh, &[gsz, d.h])));
        if s.b_hh.is_some() {
            out.push(Some(Tensor::from_vec(g.b_hh, &[gsz])));
        }
        out
    });
    Ok(r)
}

/// The recorded backward (`create_graph`): the recurrence recomputed as tensor ops from the
/// saved inputs and differentiated by the engine, stopping at those inputs.
pub(crate) fn backward_recorded(s: &RnnSaved, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
    let (gi, h0, w_hh) = (s.gi.get()?, s.h0.get()?, s.w_hh.get()?);
    let c0 = s.c0.as_ref().map(|c| c.get()).transpose()?;
    let b_hh = s.b_hh.as_ref().map(|b| b.get()).transpose()?;
    let d =
        RnnDims { mode: s.mode, t: gi.shape()[0], b: gi.shape()[1], h: w_hh.shape()[1], reverse: s.reverse };
    let (y, h, c) = composite(&d, gi, h0, c0, w_hh, b_hh)?;
    let mut inputs = vec![gi.clone(), h0.clone()];
    inputs.extend(c0.cloned());
    inputs.push(w_hh.clone());
    inputs.extend(b_hh.cloned());
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
