//! Backward rule of `embedding_bag` (ops/embedding_bag.rs), in tensor ops so that
//! `create_graph` records it (double backward):
//! - sum/mean: every kept entry `j` (in a bag, not padding) adds `g[bag(j)] * factor(j)` to
//!   row `index[j]` of a zero weight gradient (`index_add`), the factor being 1, the
//!   per-sample weight, or 1/(the bag's kept count) for mean, divided by the row's count in
//!   the input under `scale_grad_by_freq` (PyTorch's);
//! - max: each output element's gradient goes to the row it came from (its argmax), through
//!   an `index_add` over the flattened weight;
//! - per-sample weights: `(g[bag(j)] * weight[index[j]]).sum(-1)` for kept entries, zero
//!   for padding ones.
//!
//! The entries' bags and factors are worked out on the host from the saved indices and
//! offsets (index_add reads its index there too), then sent to the gradient's device.

use super::Grads;
use crate::error::Result;
use crate::ops::embedding_bag::{bag_bounds, host_i64, BagMode, BagSaved};
use crate::tensor::Tensor;
use crate::Scalar;
use smallvec::smallvec;

/// The kept entries: their positions in the flat input, rows, bags and factors.
struct Entries {
    pos: Vec<i64>,
    row: Vec<i64>,
    bag: Vec<i64>,
    factor: Vec<f64>,
}

fn entries(s: &BagSaved) -> Result<Entries> {
    let index = host_i64(&s.index)?;
    let offs = s.offsets.as_ref().map(host_i64).transpose()?;
    let n_bags = match &offs {
        None => s.psw_shape.first().copied().unwrap_or(0),
        Some(o) if s.opts.include_last_offset => o.len().saturating_sub(1),
        Some(o) => o.len(),
    };
    let bounds = bag_bounds(offs.as_deref(), index.len(), (n_bags, s.bag_len), s.opts.include_last_offset)?;
    let freq = if s.opts.scale_grad_by_freq {
        let mut c = vec![0u32; s.num_weights];
        index.iter().for_each(|&r| c[r as usize] += 1);
        Some(c)
    } else {
        None
    };
    let mut e = Entries { pos: Vec::new(), row: Vec::new(), bag: Vec::new(), factor: Vec::new() };
    for b in 0..n_bags {
        let kept = (bounds[b]..bounds[b + 1]).filter(|&j| Some(index[j]) != s.padding).count();
        for j in (bounds[b]..bounds[b + 1]).filter(|&j| Some(index[j]) != s.padding) {
            let r = index[j];
            let mut f = if s.opts.mode == BagMode::Mean { 1.0 / kept as f64 } else { 1.0 };
            if let Some(c) = &freq {
                f /= c[r as usize] as f64;
            }
            e.pos.push(j as i64);
            e.row.push(r);
            e.bag.push(b as i64);
            e.factor.push(f);
        }
    }
    Ok(e)
}

fn ints(v: Vec<i64>, like: &Tensor) -> Result<Tensor> {
    let n = v.len();
    Tensor::from_vec(v, &[n]).to_device_kernel(like.device())
}

/// The max-mode weight gradient: `g`'s elements added at their argmax rows.
fn max_grad(g: &Tensor, s: &BagSaved) -> Result<Tensor> {
    let d = s.dim;
    let zeros = g.zeros_like_shape(&[s.num_weights * d])?;
    let arg = host_i64(s.argmax.as_ref().expect("max mode saves its argmax"))?;
    let (mut at, mut pick) = (Vec::new(), Vec::new());
    for (k, &r) in arg.iter().enumerate() {
        if r >= 0 {
            at.push(r * d as i64 + (k % d) as i64);
            pick.push(k as i64);
        }
    }
    let flat = if at.is_empty() {
        zeros
    } else {
        let src = g.reshape(&[-1])?.index_select(0, &ints(pick, g)?)?;
        zeros.index_add(0, &ints(at, g)?, &src, Scalar::Int(1))?
    };
    flat.reshape(&[s.num_weights as i64, d as i64])
}

pub(super) fn embedding_bag(g: &Tensor, s: &BagSaved, need: &dyn Fn(usize) -> bool) -> Result<Grads> {
    let want_psw = s.psw.is_some() && need(1);
    if s.opts.mode == BagMode::Max {
        let gw = if need(0) { Some(max_grad(g, s)?) } else { None };
        return Ok(smallvec![gw]);
    }
    let e = entries(s)?;
    let n: usize = s.psw_shape.iter().product();
    if e.pos.is_empty() {
        let gw = need(0).then(|| g.zeros_like_shape(&[s.num_weights, s.dim])).transpose()?;
        let gp = want_psw.then(|| g.zeros_like_shape(&s.psw_shape)).transpose()?;
        return Ok(if s.psw.is_some() { smallvec![gw, gp] } else { smallvec![gw] });
    }
    let plain = e.factor.iter().all(|&f| f == 1.0);
    let (pos, row, bag) = (ints(e.pos, g)?, ints(e.row, g)?, ints(e.bag, g)?);
    let g_at = g.index_select(0, &bag)?;
    let gw = if need(0) {
        let mut factor = if plain {
            None
        } else {
            let m = e.factor.len();
            Some(Tensor::from_vec(e.factor, &[m]).to_dtype(g.dtype())?.to_device_kernel(g.device())?)
        };
        if let Some(p) = &s.psw {
            let p = p.get()?.reshape(&[-1])?.index_select(0, &pos)?;
            factor = Some(match factor {
                Some(f) => p.mul(&f)?,
                None => p,
            });
        }
        let src = match factor {
            Some(f) => g_at.mul(&f.unsqueeze(1)?)?,
            None => g_at.clone(),
        };
        let zeros = g.zeros_like_shape(&[s.num_weights, s.dim])?;
        Some(zeros.index_add(0, &row, &src, Scalar::Int(1))?)
    } else {
        None
    };
    if s.psw.is_none() {
        return Ok(smallvec![gw]);
    }
    let gp = if want_psw {
        let w = s.weight.as_ref().expect("per-sample weights save the weight").get()?;
        let prod = g_at.mul(&w.index_select(0, &row)?)?.sum(Some(&[-1]), false)?;
        let shape: Vec<i64> = s.psw_shape.iter().map(|&d| d as i64).collect();
        let zeros = g.zeros_like_shape(&[n])?;
        Some(zeros.index_add(0, &pos, &prod, Scalar::Int(1))?.reshape(&shape)?)
    } else {
        None
    };
    Ok(smallvec![gw, gp])
}
