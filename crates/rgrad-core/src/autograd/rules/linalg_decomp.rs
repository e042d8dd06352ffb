//! Backward rules of LU, solve, det, eigh, SVD and QR (ops/linalg_solve.rs,
//! ops/linalg_decomp.rs): the standard matrix-calculus results (as in PyTorch's
//! FunctionsManual.cpp, Murray 2016, Townsend 2016), written in tensor ops so `create_graph`
//! differentiates them again. The eigh/SVD rules depend on the vectors only through
//! sign-invariant products, so faer's sign choices do not change the gradients.

use super::Grads;
use crate::autograd::{DecompSaved, Saved};
use crate::bail;
use crate::error::Result;
use crate::ops::linalg_decomp::QrMode;
use crate::tensor::Tensor;
use crate::{DType, Device};
use smallvec::smallvec;

fn mt(t: &Tensor) -> Result<Tensor> {
    t.transpose(-2, -1)
}

fn get(saved: &Saved, recompute: Option<&Tensor>) -> Result<Tensor> {
    match recompute {
        Some(t) => Ok(t.clone()),
        None => Ok(saved.get()?.clone()),
    }
}

/// The r x c matrix with ones on the diagonal, in `like`'s dtype and on its device.
fn eye(r: usize, c: usize, like: &Tensor) -> Result<Tensor> {
    let mut v = vec![0.0f64; r * c];
    for i in 0..r.min(c) {
        v[i * c + i] = 1.0;
    }
    let t = Tensor::from_vec(v, &[r, c]).to_dtype(like.dtype())?;
    if like.device() == Device::Cpu {
        Ok(t)
    } else {
        t.to_device(like.device())
    }
}

/// `v` (..., k) as diagonal matrices (..., k, k).
fn diag_embed(v: &Tensor) -> Result<Tensor> {
    let k = v.shape()[v.ndim() - 1];
    v.unsqueeze(-1)?.mul(&eye(k, k, v)?)
}

fn cols(t: &Tensor, start: usize, end: usize) -> Result<Tensor> {
    t.slice(-1, Some(start as i64), Some(end as i64), 1)
}

fn rows(t: &Tensor, start: usize, end: usize) -> Result<Tensor> {
    t.slice(-2, Some(start as i64), Some(end as i64), 1)
}

fn last2(t: &Tensor) -> (usize, usize) {
    (t.shape()[t.ndim() - 2], t.shape()[t.ndim() - 1])
}

/// `L^-T [tril(L^T gL, -1) + triu(gU U^T)] U^-T` for square unit-lower L and upper U (given
/// packed in `lu`): the gradient of `B = L U` (no permutation).
fn lu_square(lu: &Tensor, gl: &Tensor, gu: &Tensor) -> Result<Tensor> {
    let n = lu.shape()[lu.ndim() - 1];
    let l = lu.triangle(-1, true)?.add(&eye(n, n, lu)?)?;
    let u = lu.triangle(0, false)?;
    let phi = mt(&l)?.matmul(gl)?.triangle(-1, true)?.add(&gu.matmul(&mt(&u)?)?.triangle(0, false)?)?;
    let y = mt(lu)?.linalg_solve_triangular(&phi, true, true, true)?;
    mt(&u)?.linalg_solve_triangular(&y, false, false, false)
}

/// `linalg_lu_factor_ex_backward` for square, wide and tall matrices: the wide (tall) case is
/// the square one plus the trailing U columns (L rows), which are triangular solves against
/// the square factors.
pub(super) fn lu_factor(g: &Tensor, a: &Saved, lu: &Saved, p: &Tensor, create_graph: bool) -> Result<Tensor> {
    let lu = if create_graph { a.get()?.linalg_lu_factor_ex()?.0 } else { lu.get()?.clone() };
    let (m, n) = last2(&lu);
    let gb = if m == n {
        lu_square(&lu, &g.triangle(-1, true)?, &g.triangle(0, false)?)?
    } else if m < n {
        let (lu1, g1) = (cols(&lu, 0, m)?, cols(g, 0, m)?);
        let (u2, gu2) = (cols(&lu, m, n)?, cols(g, m, n)?);
        // U2 = L^-1 P^T A2: gA2 = P L^-T gU2, and L receives -L^-T gU2 U2^T.
        let lt_gu2 = mt(&lu1)?.linalg_solve_triangular(&gu2, true, true, true)?;
        let gl = g1.triangle(-1, true)?.sub(&lt_gu2.matmul(&mt(&u2)?)?)?;
        let g_sq = lu_square(&lu1, &gl, &g1.triangle(0, false)?)?;
        Tensor::cat(&[g_sq, lt_gu2], -1)?
    } else {
        let (lu1, g1) = (rows(&lu, 0, n)?, rows(g, 0, n)?);
        let (l2, gl2) = (rows(&lu, n, m)?, rows(g, n, m)?);
        let u = lu1.triangle(0, false)?;
        // L2 = B2 U^-1: gB2 = gL2 U^-T, and U receives -L2^T gL2 U^-T.
        let gb2 = mt(&u)?.linalg_solve_triangular(&gl2, false, false, false)?;
        let gu = g1.triangle(0, false)?.sub(&mt(&l2)?.matmul(&gb2)?)?;
        let g_sq = lu_square(&lu1, &g1.triangle(-1, true)?, &gu)?;
        Tensor::cat(&[g_sq, gb2], -2)?
    };
    p.matmul(&gb)
}

/// `linalg_solve_backward`: gB = A^-T gX (left) or gX A^-T, gA = -gB X^T or -X^T gB; both
/// summed back over broadcast batch dims.
pub(super) fn solve(
    g: &Tensor,
    a: &Saved,
    b: &Saved,
    x: &Saved,
    left: bool,
    need: &dyn Fn(usize) -> bool,
    create_graph: bool,
) -> Result<Grads> {
    let a = a.get()?;
    let gb = mt(a)?.linalg_solve_ex(g, left)?.0;
    let ga = if need(0) {
        let x = if create_graph { a.linalg_solve_ex(b.get()?, left)?.0 } else { x.get()?.clone() };
        let prod = if left { gb.matmul(&mt(&x)?)? } else { mt(&x)?.matmul(&gb)? };
        Some(prod.neg()?.sum_to_shape(a.shape())?)
    } else {
        None
    };
    let gb = if need(1) { Some(gb.sum_to_shape(b.get()?.shape())?) } else { None };
    Ok(smallvec![ga, gb])
}

/// d det(A) = tr(adj(A) dA), so gA = g adj(A)^T: g det(A) A^-T when every matrix is
/// invertible, else from the SVD A = U S Vh as g det(U Vh) U diag(prod_{j != i} s_j) Vh,
/// which stays finite at singular matrices.
pub(super) fn det(g: &Tensor, a: &Saved, det: &Saved, create_graph: bool) -> Result<Tensor> {
    let a = a.get()?;
    let d = if create_graph { a.linalg_det()? } else { det.get()?.clone() };
    let host = d.detach().to_dtype(DType::F64)?;
    let host = if host.device() == Device::Cpu { host } else { host.to_device(Device::Cpu)? };
    // As PyTorch: below 100 eps the LU formula loses all accuracy, the SVD one does not.
    let eps = if a.dtype() == DType::F32 { f64::from(f32::EPSILON) } else { f64::EPSILON };
    let invertible = host.try_to_vec::<f64>()?.iter().all(|v| v.abs() >= 100.0 * eps && v.is_finite());
    let gd = g.mul(&d)?.unsqueeze(-1)?.unsqueeze(-1)?;
    if invertible {
        let inv_t = mt(a)?.linalg_inv_ex()?.0;
        return inv_t.mul(&gd);
    }
    let (u, s, vh) = a.linalg_svd(false)?;
    let k = s.shape()[s.ndim() - 1];
    let sign =
        u.detach().linalg_slogdet("linalg.det")?.0.mul(&vh.detach().linalg_slogdet("linalg.det")?.0)?;
    let id = eye(k, k, &s)?;
    // Row i of the k x k matrix is s with s_i replaced by 1: its product is prod_{j != i} s_j.
    let others = s.unsqueeze(-2)?.mul(&id.rsub_scalar(1.0)?)?.add(&id)?.prod(Some(-1), false)?;
    let coef = g.mul(&sign)?.unsqueeze(-1)?.mul(&others)?;
    u.mul(&coef.unsqueeze(-2)?)?.matmul(&vh)
}

/// The rules of the decompositions with several outputs; `grads` has one entry per output.
pub(super) fn decomp(saved: &DecompSaved, grads: &[Option<Tensor>], create_graph: bool) -> Result<Grads> {
    if grads.iter().all(Option::is_none) {
        return Ok(smallvec![None]);
    }
    let g = |i: usize| grads.get(i).and_then(|g| g.as_ref());
    let ga = match saved {
        DecompSaved::Eigh { a, l, v, upper } => {
            let re = if create_graph { Some(a.get()?.linalg_eigh(*upper)?) } else { None };
            let l = get(l, re.as_ref().map(|r| &r.0))?;
            let v = get(v, re.as_ref().map(|r| &r.1))?;
            eigh(&l, &v, g(0), g(1))?
        }
        DecompSaved::Svd { a, u, s, vh, full } => {
            let re = if create_graph { Some(a.get()?.linalg_svd(*full)?) } else { None };
            let u = get(u, re.as_ref().map(|r| &r.0))?;
            let s = get(s, re.as_ref().map(|r| &r.1))?;
            let vh = get(vh, re.as_ref().map(|r| &r.2))?;
            svd(&u, &s, &vh, g(0), g(1), g(2))?
        }
        DecompSaved::Qr { a, q, r, mode } => {
            if *mode == QrMode::R {
                bail!(
                    Runtime,
                    "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr."
                );
            }
            let a = a.get()?;
            let (m, n) = last2(a);
            if *mode == QrMode::Complete && m > n {
                bail!(
                    Runtime,
                    "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
                );
            }
            let re = if create_graph { Some(a.linalg_qr(*mode)?) } else { None };
            let q = get(q, re.as_ref().map(|r| &r.0))?;
            let r = get(r, re.as_ref().map(|r| &r.1))?;
            let gq = match g(0) {
                Some(t) => t.clone(),
                None => q.mul_scalar(0.0)?,
            };
            let gr = match g(1) {
                Some(t) => t.clone(),
                None => r.mul_scalar(0.0)?,
            };
            if m >= n {
                qr_square(&q, &r, &gq, &gr)?
            } else {
                // A = [X | Y], R = [U | V]: X = Q U, Y = Q V with V = Q^T Y.
                let (u, gu, gv) = (cols(&r, 0, m)?, cols(&gr, 0, m)?, cols(&gr, m, n)?);
                let y = cols(a, m, n)?;
                let gx = qr_square(&q, &u, &gq.add(&y.matmul(&mt(&gv)?)?)?, &gu)?;
                Tensor::cat(&[gx, q.matmul(&gv)?], -1)?
            }
        }
    };
    Ok(smallvec![Some(ga)])
}

/// gA = (gQ + Q copyltu(M)) R^-T with M = R gR^T - gQ^T Q, copyltu copying the lower
/// triangle onto the upper one (A = Q R with R square).
fn qr_square(q: &Tensor, r: &Tensor, gq: &Tensor, gr: &Tensor) -> Result<Tensor> {
    let m = r.matmul(&mt(gr)?)?.sub(&mt(gq)?.matmul(q)?)?;
    let sym = m.triangle(0, true)?.add(&mt(&m.triangle(-1, true)?)?)?;
    let b = gq.add(&q.matmul(&sym)?)?;
    mt(r)?.linalg_solve_triangular(&b, false, false, false)
}

/// gA = V (diag(gL) + skew(V^T gV) / E) V^T, E_ij = L_j - L_i, skew(X) = (X - X^T) / 2.
fn eigh(l: &Tensor, v: &Tensor, gl: Option<&Tensor>, gv: Option<&Tensor>) -> Result<Tensor> {
    let n = l.shape()[l.ndim() - 1];
    let mut inner = match gv {
        Some(gv) => {
            let vhgv = mt(v)?.matmul(gv)?;
            let skew = vhgv.sub(&mt(&vhgv)?)?.mul_scalar(0.5)?;
            // The diagonal of skew is zero; E's is set to one so it stays zero.
            let e = l.unsqueeze(-2)?.sub(&l.unsqueeze(-1)?)?.add(&eye(n, n, l)?)?;
            Some(skew.div(&e)?)
        }
        None => None,
    };
    if let Some(gl) = gl {
        let d = diag_embed(gl)?;
        inner = Some(match inner {
            Some(x) => x.add(&d)?,
            None => d,
        });
    }
    let inner = inner.expect("a gradient arrived");
    v.matmul(&inner)?.matmul(&mt(v)?)
}

/// `svd_backward` for A = U diag(S) Vh (m x n, k = min(m, n)); with full matrices only the
/// first k singular vectors take part, as in PyTorch.
fn svd(
    u: &Tensor,
    s: &Tensor,
    vh: &Tensor,
    gu: Option<&Tensor>,
    gs: Option<&Tensor>,
    gvh: Option<&Tensor>,
) -> Result<Tensor> {
    let (m, n) = (u.shape()[u.ndim() - 2], vh.shape()[vh.ndim() - 1]);
    let k = s.shape()[s.ndim() - 1];
    let (u, vh) = (cols(u, 0, k)?, rows(vh, 0, k)?);
    let gu = gu.map(|g| cols(g, 0, k)).transpose()?;
    let gvh = gvh.map(|g| rows(g, 0, k)).transpose()?;
    if gu.is_none() && gvh.is_none() {
        let gs = gs.expect("a gradient arrived");
        return u.mul(&gs.unsqueeze(-2)?)?.matmul(&vh);
    }
    let s2 = s.mul(s)?;
    let e = s2.unsqueeze(-2)?.sub(&s2.unsqueeze(-1)?)?.add(&eye(k, k, s)?)?;
    let mut inner = match gs {
        Some(gs) => diag_embed(gs)?,
        None => s.unsqueeze(-1)?.mul(&eye(k, k, s)?)?.mul_scalar(0.0)?,
    };
    let mut uhgu = None;
    if let Some(gu) = &gu {
        let x = mt(&u)?.matmul(gu)?;
        inner = inner.add(&x.sub(&mt(&x)?)?.div(&e)?.mul(&s.unsqueeze(-2)?)?)?;
        uhgu = Some(x);
    }
    let mut vhgv = None;
    if let Some(gvh) = &gvh {
        let x = vh.matmul(&mt(gvh)?)?;
        inner = inner.add(&s.unsqueeze(-1)?.mul(&x.sub(&mt(&x)?)?.div(&e)?)?)?;
        vhgv = Some(x);
    }
    let mut ga = u.matmul(&inner)?.matmul(&vh)?;
    if let (true, Some(gu), Some(x)) = (m > k, &gu, &uhgu) {
        // (I - U U^T) gU S^-1 Vh
        ga = ga.add(&gu.sub(&u.matmul(x)?)?.div(&s.unsqueeze(-2)?)?.matmul(&vh)?)?;
    }
    if let (true, Some(gvh), Some(x)) = (n > k, &gvh, &vhgv) {
        // U S^-1 gVh (I - V Vh), with gVh V = (Vh gVh^T)^T
        ga = ga.add(&u.matmul(&gvh.sub(&mt(x)?.matmul(&vh)?)?.div(&s.unsqueeze(-1)?)?)?)?;
    }
    Ok(ga)
}
