//! Backward rules of the `torch.linalg` factorizations (ops/linalg_factor.rs), PyTorch's
//! matrix-calculus formulas (FunctionsManual.cpp) written in tensor ops: the triangular solves
//! they use are themselves recorded ops, so `create_graph` gives higher derivatives.

use super::Grads;
use crate::autograd::Saved;
use crate::error::Result;
use crate::tensor::Tensor;
use smallvec::smallvec;

fn mt(t: &Tensor) -> Result<Tensor> {
    t.transpose(-2, -1)
}

/// The saved output, or (under `create_graph`) the output recomputed from the saved input so
/// the rule's use of it is differentiated too.
fn output(saved: &Saved, recompute: impl FnOnce() -> Result<Tensor>, create_graph: bool) -> Result<Tensor> {
    if create_graph {
        recompute()
    } else {
        Ok(saved.get()?.clone())
    }
}

/// `cholesky_backward`: with L the lower factor and gL its gradient,
/// gA = L^-H Φ(L^H gL) L^-1 symmetrized, Φ taking the lower triangle with half the diagonal.
pub(super) fn cholesky(g: &Tensor, a: &Saved, l: &Saved, upper: bool, create_graph: bool) -> Result<Tensor> {
    let out = output(l, || Ok(a.get()?.linalg_cholesky_ex(upper)?.0), create_graph)?;
    let (l, gl) = if upper { (mt(&out)?, mt(g)?) } else { (out, g.clone()) };
    // tril(L^H gL) equals tril(L^H tril(gL)): the strictly upper part of gL adds nothing.
    let ga = mt(&l)?.matmul(&gl)?.triangle(0, true)?;
    let ga = ga.add(&mt(&ga.triangle(-1, true)?)?)?.mul_scalar(0.5)?;
    let ga = mt(&l)?.linalg_solve_triangular(&ga, true, true, false)?;
    l.linalg_solve_triangular(&ga, false, false, false)
}

/// `linalg_solve_triangular_backward`: gB = A^-H gX (a triangular solve with A^H), and
/// gA = -gB X^H (left) or -X^H gB (right), kept on A's triangle (without the diagonal when
/// unitriangular); both summed back over broadcast batch dims.
pub(super) fn solve_triangular(
    g: &Tensor,
    a: &Saved,
    b: &Saved,
    x: &Saved,
    [upper, left, unit]: [bool; 3],
    need: &dyn Fn(usize) -> bool,
    create_graph: bool,
) -> Result<Grads> {
    let a = a.get()?;
    let gb = mt(a)?.linalg_solve_triangular(g, !upper, left, unit)?;
    let ga = if need(0) {
        let x = output(x, || a.linalg_solve_triangular(b.get()?, upper, left, unit), create_graph)?;
        let prod = if left { gb.matmul(&mt(&x)?)? } else { mt(&x)?.matmul(&gb)? };
        let diag = i64::from(unit);
        let tri = if upper { prod.triangle(diag, false)? } else { prod.triangle(-diag, true)? };
        Some(tri.neg()?.sum_to_shape(a.shape())?)
    } else {
        None
    };
    let gb = if need(1) { Some(gb.sum_to_shape(b.get()?.shape())?) } else { None };
    Ok(smallvec![ga, gb])
}

/// d(A^-1) = -A^-1 dA A^-1, so gA = -A^-H gX A^-H.
pub(super) fn inverse(g: &Tensor, a: &Saved, inv: &Saved, create_graph: bool) -> Result<Tensor> {
    let x = output(inv, || Ok(a.get()?.linalg_inv_ex()?.0), create_graph)?;
    let xt = mt(&x)?;
    xt.matmul(g)?.matmul(&xt)?.neg()
}

/// d log|det A| = tr(A^-1 dA), so gA = g A^-H (the inverse recorded, for double backward).
pub(super) fn slogdet(g: &Tensor, a: &Saved) -> Result<Tensor> {
    let inv = a.get()?.linalg_inv_ex()?.0;
    mt(&inv)?.mul(&g.unsqueeze(-1)?.unsqueeze(-1)?)
}
