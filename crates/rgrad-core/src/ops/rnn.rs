//! One recurrent layer in one direction as one recorded op: `rnn_layer(x, h0, c0, w_ih,
//! w_hh, b_ih, b_hh)`, the input projection of every step included (one GEMM inside the op),
//! so the node's backward gives every gradient: the input's, the states' and the weights'.
//!
//! On the CPU the recurrence runs in cpu/rnn.rs (fused gates, one small product per step) and
//! the node keeps the activated gates for a single-sweep BPTT. Elsewhere (wgpu), and whenever
//! the backward itself is recorded (`create_graph`), the same recurrence runs as tensor ops
//! ([`composite`]), so it works on every device and differentiates again.

use crate::autograd::{record, Op, Saved};
use crate::bail;
use crate::cpu::rnn::{self as kernel, RnnDims, RnnMode, RnnNeeds, RnnWeights};
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
}

/// What the node keeps: the inputs (for the recorded backward) and the forward's buffers.
pub struct RnnSaved {
    pub mode: RnnMode,
    pub reverse: bool,
    pub x: Saved,
    pub h0: Saved,
    pub c0: Option<Saved>,
    pub w_ih: Saved,
    pub w_hh: Saved,
    pub b_ih: Option<Saved>,
    pub b_hh: Option<Saved>,
    pub y: Saved,
    /// The input, contiguous time-major (a copy when it was a batch-first view).
    pub x_dense: Tensor,
    pub gates: Tensor,
    pub extra: Tensor,
    pub cells: Tensor,
}

impl RnnSaved {
    /// How many inputs the node has: x, h0, [c0], w_ih, w_hh, [b_ih], [b_hh].
    pub fn inputs(&self) -> usize {
        4 + usize::from(self.c0.is_some())
            + usize::from(self.b_ih.is_some())
            + usize::from(self.b_hh.is_some())
    }
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

/// The inputs in recording order: x, h0, [c0], w_ih, w_hh, [b_ih], [b_hh].
fn operands<'a>(x: &'a Tensor, a: &RnnArgs<'a>) -> Vec<&'a Tensor> {
    let mut all = vec![x, a.h0];
    all.extend(a.c0);
    all.extend([a.w_ih, a.w_hh]);
    all.extend(a.b_ih);
    all.extend(a.b_hh);
    all
}

/// Checks the operands and returns the layer's sizes.
fn plan(mode: RnnMode, x: &Tensor, a: &RnnArgs, reverse: bool) -> Result<RnnDims> {
    if x.ndim() != 3 || a.w_ih.ndim() != 2 || a.w_hh.ndim() != 2 {
        bail!(Runtime, "rnn_layer: expected a 3-D input and 2-D weights");
    }
    let h = a.w_hh.shape()[1];
    let g = h.checked_mul(mode.gates()).ok_or_else(|| Error::Runtime("rnn_layer: size overflow".into()))?;
    let (t, b, i) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    check_shape(a.w_ih, &[g, i], "weight_ih")?;
    check_shape(a.w_hh, &[g, h], "weight_hh")?;
    check_shape(a.h0, &[b, h], "hx")?;
    match (mode == RnnMode::Lstm, a.c0) {
        (true, Some(c)) => check_shape(c, &[b, h], "cx")?,
        (false, None) => {}
        (true, None) => bail!(Runtime, "rnn_layer: LSTM needs a cell state"),
        (false, Some(_)) => bail!(Runtime, "rnn_layer: only LSTM takes a cell state"),
    }
    for bias in a.b_ih.iter().chain(a.b_hh.iter()) {
        check_shape(bias, &[g], "bias")?;
    }
    crate::shape::checked_numel(&[t, b, g])?;
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
    Ok(RnnDims { mode, t, b, i, h, reverse })
}

/// The recurrence as tensor ops: every step recorded, so it runs on any device and its
/// gradient differentiates again.
pub(crate) fn composite(d: &RnnDims, x: &Tensor, a: &RnnArgs) -> Result<RnnOut> {
    let mut gi = x.matmul(&a.w_ih.t()?)?;
    if let Some(b) = a.b_ih {
        gi = gi.add(b)?;
    }
    let w_t = a.w_hh.t()?;
    let (mut h, mut c) = (a.h0.clone(), a.c0.cloned());
    let mut outs: Vec<Option<Tensor>> = vec![None; d.t];
    for k in 0..d.t {
        let t = if d.reverse { d.t - 1 - k } else { k };
        let gi_t = gi.select(0, t as i64)?;
        let mut gh = h.matmul(&w_t)?;
        if let Some(b) = a.b_hh {
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
    let y = if outs.is_empty() { a.h0.zeros_like_shape(&[0, d.b, d.h])? } else { Tensor::stack(&outs, 0)? };
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
    /// One layer and direction of `mode` over the input `self` (`[T, B, I]`, time-major);
    /// returns the outputs `[T, B, H]` and the final states.
    pub fn rnn_layer(&self, mode: RnnMode, a: &RnnArgs, reverse: bool) -> Result<RnnOut> {
        let x = self;
        let d = plan(mode, x, a, reverse)?;
        // Empty sizes go through the tensor ops too (the kernel's row loops assume rows).
        if x.device() != Device::Cpu || d.t == 0 || d.b == 0 || d.h == 0 || d.i == 0 {
            return composite(&d, x, a);
        }
        let (xd, hd, wid, whd) = (dense(x)?, dense(a.h0)?, dense(a.w_ih)?, dense(a.w_hh)?);
        let cd = a.c0.map(dense).transpose()?;
        let bid = a.b_ih.map(dense).transpose()?;
        let bhd = a.b_hh.map(dense).transpose()?;
        let (y, h_last, c_last, gates, extra, cells) = with_float!(x.dtype(), T => {
            let no: &[T] = &[];
            let w = RnnWeights {
                w_ih: slice_of(&wid),
                w_hh: slice_of(&whd),
                b_ih: bid.as_ref().map_or(no, slice_of::<T>),
                b_hh: bhd.as_ref().map_or(no, slice_of::<T>),
            };
            let f = kernel::forward::<T>(&d, slice_of(&xd), slice_of(&hd), cd.as_ref().map_or(no, slice_of::<T>), &w);
            let c_last = if mode == RnnMode::Lstm { Some(Tensor::from_vec(f.c_last, &[d.b, d.h])) } else { None };
            let flat = |v: Vec<T>| {
                let n = v.len();
                Tensor::from_vec(v, &[n])
            };
            let (gates, extra, cells) = (flat(f.gates), flat(f.extra), flat(f.cells));
            (Tensor::from_vec(f.y, &[d.t, d.b, d.h]), Tensor::from_vec(f.h_last, &[d.b, d.h]), c_last, gates, extra, cells)
        });
        let inputs = operands(x, a);
        if crate::autograd::needs_grad(&inputs) {
            let saved = RnnSaved {
                mode,
                reverse,
                x: Saved::input(x),
                h0: Saved::input(a.h0),
                c0: a.c0.map(Saved::input),
                w_ih: Saved::input(a.w_ih),
                w_hh: Saved::input(a.w_hh),
                b_ih: a.b_ih.map(Saved::input),
                b_hh: a.b_hh.map(Saved::input),
                y: Saved::output(&y, NODE_NAME),
                x_dense: xd,
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

fn dims_of(s: &RnnSaved) -> Result<RnnDims> {
    let (x, w_hh) = (s.x.get()?, s.w_hh.get()?);
    Ok(RnnDims {
        mode: s.mode,
        t: x.shape()[0],
        b: x.shape()[1],
        i: x.shape()[2],
        h: w_hh.shape()[1],
        reverse: s.reverse,
    })
}

/// BPTT with the saved gates (`grads` one per output: y, h_last, c_last; `needs` one per
/// input). Returns one gradient per input in recording order (see [`RnnSaved::inputs`]).
pub(crate) fn backward_kernel(
    s: &RnnSaved,
    grads: &[Option<Tensor>],
    needs: &[bool],
) -> Result<Vec<Option<Tensor>>> {
    let d = dims_of(s)?;
    let (h0, w_ih, w_hh, y) = (s.h0.get()?, s.w_ih.get()?, s.w_hh.get()?, s.y.get()?);
    let c0 = s.c0.as_ref().map(|c| c.get()).transpose()?;
    let dtype = y.dtype();
    let grab = |i: usize| -> Result<Tensor> {
        match grads.get(i).cloned().flatten() {
            Some(g) => dense(&g.detach().to_device(Device::Cpu)?.to_dtype(dtype)?),
            None => empty_of(dtype),
        }
    };
    let (dy, dh, dc) = (grab(0)?, grab(1)?, grab(2)?);
    let (hd, wid, whd) = (dense(h0)?, dense(w_ih)?, dense(w_hh)?);
    let cd = c0.map(dense).transpose()?;
    let n_in = s.inputs();
    let need = |i: usize| needs.get(i).copied().unwrap_or(true);
    let flags = RnnNeeds { x: need(0), b_ih: s.b_ih.is_some(), b_hh: s.b_hh.is_some() };
    let r = with_float!(dtype, T => {
        let no: &[T] = &[];
        let saved = kernel::RnnSavedRef {
            x: slice_of(&s.x_dense),
            y: slice_of(y),
            h0: slice_of(&hd),
            c0: cd.as_ref().map_or(no, slice_of::<T>),
            gates: slice_of(&s.gates),
            extra: slice_of(&s.extra),
            cells: slice_of(&s.cells),
        };
        let w = RnnWeights { w_ih: slice_of(&wid), w_hh: slice_of(&whd), b_ih: no, b_hh: no };
        let g = kernel::backward::<T>(&d, &saved, &w, flags, slice_of(&dy), slice_of(&dh), slice_of(&dc));
        let gsz = d.mode.gates() * d.h;
        let mut out = Vec::with_capacity(n_in);
        out.push(if flags.x { Some(Tensor::from_vec(g.x, &[d.t, d.b, d.i])) } else { None });
        out.push(Some(Tensor::from_vec(g.h0, &[d.b, d.h])));
        if d.mode == RnnMode::Lstm {
            out.push(Some(Tensor::from_vec(g.c0, &[d.b, d.h])));
        }
        out.push(Some(Tensor::from_vec(g.w_ih, &[gsz, d.i])));
        out.push(Some(Tensor::from_vec(g.w_hh, &[gsz, d.h])));
        if flags.b_ih {
            out.push(Some(Tensor::from_vec(g.b_ih, &[gsz])));
        }
        if flags.b_hh {
            out.push(Some(Tensor::from_vec(g.b_hh, &[gsz])));
        }
        out
    });
    Ok(r)
}

/// The recorded backward (`create_graph`): the recurrence recomputed as tensor ops from the
/// saved inputs and differentiated by the engine, stopping at those inputs.
pub(crate) fn backward_recorded(s: &RnnSaved, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
    let d = dims_of(s)?;
    let x = s.x.get()?;
    let c0 = s.c0.as_ref().map(|c| c.get()).transpose()?;
    let b_ih = s.b_ih.as_ref().map(|b| b.get()).transpose()?;
    let b_hh = s.b_hh.as_ref().map(|b| b.get()).transpose()?;
    let a = RnnArgs { h0: s.h0.get()?, c0, w_ih: s.w_ih.get()?, w_hh: s.w_hh.get()?, b_ih, b_hh };
    let (y, h, c) = composite(&d, x, &a)?;
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
