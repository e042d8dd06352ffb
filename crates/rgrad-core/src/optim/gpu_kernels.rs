//! The optimizer steps of [`super`] for parameters on the wgpu device: the same formulas,
//! operation by operation, as one generated kernel per parameter (`t0` is the parameter, `t1`
//! its gradient, then the state tensors; `s0..` the hyperparameters).

use super::{Adadelta, Adagrad, Adam, Adamax, Asgd, NAdam, RAdam, RmsProp, Rprop, Sgd};
use crate::error::Result;
use crate::gpu::update;
use crate::tensor::Tensor;

fn direction(maximize: bool, weight_decay: f64, wd_slot: usize) -> String {
    let mut s = format!("  var d = {}t1[o1];\n", if maximize { "-" } else { "" });
    if weight_decay != 0.0 {
        s += &format!("  d = d + s{wd_slot} * t0[o0];\n");
    }
    s
}

pub(crate) fn sgd_one(p: &Tensor, g: &Tensor, buf: Option<&Tensor>, h: Sgd, first: bool) -> Result<()> {
    let mut body = direction(h.maximize, h.weight_decay, 0);
    let mut ts = vec![p, g];
    if let Some(b) = buf {
        ts.push(b);
        body += if first { "  t2[o2] = d;\n" } else { "  t2[o2] = t2[o2] * s1 + s2 * d;\n" };
        body += if h.nesterov { "  d = d + s1 * t2[o2];\n" } else { "  d = t2[o2];\n" };
    }
    body += "  t0[o0] = t0[o0] + s3 * d;";
    update(&ts, &[h.weight_decay, h.momentum, 1.0 - h.dampening, -h.lr], &body)
}

pub(crate) fn adam_one(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    vmax: Option<&Tensor>,
    step: f64,
    h: Adam,
) -> Result<()> {
    let bc1 = 1.0 - h.beta1.powf(step);
    let bc2_sqrt = (1.0 - h.beta2.powf(step)).sqrt();
    let mut body = decayed_direction(h.maximize, h.weight_decay, h.decoupled);
    body += "  t2[o2] = t2[o2] + s2 * (d - t2[o2]);\n  t3[o3] = t3[o3] * s3 + s4 * (d * d);\n";
    let mut ts = vec![p, g, m, v];
    let second = match vmax {
        Some(t) => {
            ts.push(t);
            body += "  if (t3[o3] > t4[o4] || t3[o3] != t3[o3]) { t4[o4] = t3[o3]; }\n";
            "t4[o4]"
        }
        None => "t3[o3]",
    };
    body += &format!("  t0[o0] = t0[o0] + s5 * (t2[o2] / (sqrt({second}) / s6 + s7));");
    let scalars = [
        1.0 - h.lr * h.weight_decay,
        h.weight_decay,
        1.0 - h.beta1,
        h.beta2,
        1.0 - h.beta2,
        -(h.lr / bc1),
        bc2_sqrt,
        h.eps,
    ];
    update(&ts, &scalars, &body)
}

pub(crate) fn rmsprop_one(
    p: &Tensor,
    g: &Tensor,
    s: &Tensor,
    ga: Option<&Tensor>,
    b: Option<&Tensor>,
    h: RmsProp,
) -> Result<()> {
    let mut body = direction(h.maximize, h.weight_decay, 4);
    body += "  t2[o2] = t2[o2] * s0 + s1 * (d * d);\n";
    let mut ts = vec![p, g, s];
    let mut next = 3;
    if let Some(a) = ga {
        ts.push(a);
        body += &format!("  t{next}[o{next}] = t{next}[o{next}] + s1 * (d - t{next}[o{next}]);\n");
        body += &format!("  let avg = sqrt(t2[o2] + (-t{next}[o{next}]) * t{next}[o{next}]) + s2;\n");
        next += 1;
    } else {
        body += "  let avg = sqrt(t2[o2]) + s2;\n";
    }
    match b {
        Some(bt) => {
            ts.push(bt);
            body += &format!("  t{next}[o{next}] = t{next}[o{next}] * s5 + d / avg;\n  t0[o0] = t0[o0] + (-s3) * t{next}[o{next}];");
        }
        None => body += "  t0[o0] = t0[o0] + (-s3) * (d / avg);",
    }
    update(&ts, &[h.alpha, 1.0 - h.alpha, h.eps, h.lr, h.weight_decay, h.momentum], &body)
}

pub(crate) fn adagrad_one(p: &Tensor, g: &Tensor, s: &Tensor, step: f64, h: Adagrad) -> Result<()> {
    let clr = h.lr / (1.0 + (step - 1.0) * h.lr_decay);
    let mut body = direction(h.maximize, h.weight_decay, 1);
    body +=
        "  t2[o2] = t2[o2] + d * d;\n  let sd = sqrt(t2[o2]) + s2;\n  t0[o0] = t0[o0] + (-s0) * (d / sd);";
    update(&[p, g, s], &[clr, h.weight_decay, h.eps], &body)
}

/// `d`: the gradient (negated with `maximize`) plus, unless `decoupled`, weight decay (`s1`);
/// with `decoupled` the parameter is scaled by `s0` first.
fn decayed_direction(maximize: bool, weight_decay: f64, decoupled: bool) -> String {
    let mut body = String::new();
    if decoupled && weight_decay != 0.0 {
        body += "  t0[o0] = t0[o0] * s0;\n";
    }
    body + &direction(maximize, if decoupled { 0.0 } else { weight_decay }, 1)
}

pub(crate) fn nadam_one(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    s: &[f64; 9],
    h: NAdam,
) -> Result<()> {
    let mut body = decayed_direction(h.maximize, h.weight_decay, h.decoupled);
    body += "  t2[o2] = t2[o2] + s2 * (d - t2[o2]);\n  t3[o3] = t3[o3] * s3 + s4 * d * d;\n";
    body += "  let denom = sqrt(t3[o3] / s5) + s6;\n";
    body += "  t0[o0] = t0[o0] + s7 * d / denom;\n  t0[o0] = t0[o0] + s8 * t2[o2] / denom;";
    update(&[p, g, m, v], s, &body)
}

pub(crate) fn radam_one(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    s: &[f64; 10],
    h: RAdam,
) -> Result<()> {
    let mut body = decayed_direction(h.maximize, h.weight_decay, h.decoupled);
    body += "  t2[o2] = t2[o2] + s2 * (d - t2[o2]);\n  t3[o3] = t3[o3] * s3 + s4 * d * d;\n";
    body += "  var st = (t2[o2] / s5) * s6;\n";
    if s[9] != 0.0 {
        body += "  st = st * ((1.0 / (sqrt(t3[o3]) + s7)) * s8) * s9;\n";
    }
    body += "  t0[o0] = t0[o0] - st;";
    update(&[p, g, m, v], s, &body)
}

pub(crate) fn adamax_one(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    u: &Tensor,
    s: &[f64; 5],
    h: Adamax,
) -> Result<()> {
    let mut body = direction(h.maximize, h.weight_decay, 0);
    body += "  t2[o2] = t2[o2] + s1 * (d - t2[o2]);\n  var u = t3[o3] * s2;\n";
    body += "  let e = abs(d) + s3;\n  if (e > u || e != e) { u = e; }\n  t3[o3] = u;\n";
    body += "  t0[o0] = t0[o0] + s4 * t2[o2] / u;";
    update(&[p, g, m, u], s, &body)
}

pub(crate) fn adadelta_one(
    p: &Tensor,
    g: &Tensor,
    sa: &Tensor,
    ad: &Tensor,
    s: &[f64; 5],
    h: Adadelta,
) -> Result<()> {
    let mut body = direction(h.maximize, h.weight_decay, 0);
    body += "  t2[o2] = t2[o2] * s1 + s2 * d * d;\n  let sd = sqrt(t2[o2] + s3);\n";
    body += "  let delta = sqrt(t3[o3] + s3) / sd * d;\n  t3[o3] = t3[o3] * s1 + s2 * delta * delta;\n";
    body += "  t0[o0] = t0[o0] + s4 * delta;";
    update(&[p, g, sa, ad], s, &body)
}

pub(crate) fn rprop_one(p: &Tensor, g: &Tensor, pr: &Tensor, ss: &Tensor, h: Rprop) -> Result<()> {
    let mut body = direction(h.maximize, 0.0, 0);
    // s0 etaminus, s1 etaplus, s2 min, s3 max, s4 zero, s5 one.
    body += "  let prod = d * t2[o2];\n  var f = prod;\n";
    body += "  if (prod > s4) { f = s1; } else if (prod < s4) { f = s0; } else if (prod == s4) { f = s5; }\n";
    body +=
        "  var st = t3[o3] * f;\n  if (st < s2) { st = s2; }\n  if (st > s3) { st = s3; }\n  t3[o3] = st;\n";
    body += "  if (f == s0) { d = s4; }\n  var sg = d * s4;\n";
    body += "  if (d > s4) { sg = s5; } else if (d < s4) { sg = -s5; }\n";
    body += "  t0[o0] = t0[o0] - sg * st;\n  t2[o2] = d;";
    update(&[p, g, pr, ss], &[h.etaminus, h.etaplus, h.step_size_min, h.step_size_max, 0.0, 1.0], &body)
}

pub(crate) fn asgd_one(p: &Tensor, g: &Tensor, ax: &Tensor, s: &[f64; 4], h: Asgd) -> Result<()> {
    let mut body = direction(h.maximize, h.weight_decay, 0);
    body += "  t0[o0] = t0[o0] * s1;\n  t0[o0] = t0[o0] + s2 * d;\n";
    body += if s[3] != 1.0 { "  t2[o2] = t2[o2] + (t0[o0] - t2[o2]) * s3;" } else { "  t2[o2] = t0[o0];" };
    update(&[p, g, ax], s, &body)
}
