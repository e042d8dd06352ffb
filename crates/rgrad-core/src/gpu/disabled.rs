//! Stand-ins used when rgrad is built without the `wgpu` feature: no GPU tensor can exist,
//! and asking for one is a clear error.

use super::{Input, PoolStats, Reduce};
use crate::error::{Error, Result};
use crate::{DType, Tensor};

/// A GPU buffer; never constructed in builds without the backend.
#[derive(Clone)]
pub struct Buffer {
    _never: (),
}

fn not_built<T>() -> Result<T> {
    Err(Error::Runtime("rgrad was built without the wgpu backend (cargo feature `wgpu`)".into()))
}

pub fn is_available() -> bool {
    false
}

pub fn adapter_name() -> Result<String> {
    not_built()
}

pub fn supports(_dt: DType) -> bool {
    false
}

pub fn empty(_shape: &[usize], _dtype: DType) -> Result<Tensor> {
    not_built()
}

pub fn upload(_t: &Tensor) -> Result<Tensor> {
    not_built()
}

pub fn download(_t: &Tensor) -> Result<Tensor> {
    not_built()
}

pub fn synchronize() -> Result<()> {
    Ok(())
}

pub fn map(
    _inputs: &[Input],
    _expr: &str,
    _expr_dtype: DType,
    _shape: &[usize],
    _out: DType,
) -> Result<Tensor> {
    not_built()
}

pub fn map_into(_dst: &Tensor, _inputs: &[Input], _expr: &str, _expr_dtype: DType) -> Result<()> {
    not_built()
}

pub fn gather(_src: &Tensor, _offsets: &[i64], _shape: &[usize]) -> Result<Tensor> {
    not_built()
}

pub fn scatter(_dst: &Tensor, _offsets: &[i64], _src: &Tensor, _accumulate: bool) -> Result<()> {
    not_built()
}

pub fn reduce(_x: &Tensor, _dims: &[usize], _op: Reduce, _keepdim: bool, _out: DType) -> Result<Tensor> {
    not_built()
}

pub fn matmul(_a: &Tensor, _b: &Tensor) -> Result<Tensor> {
    not_built()
}

pub fn scan_last(_x: &Tensor, _product: bool) -> Result<Tensor> {
    not_built()
}

pub fn empty_cache() {}

pub fn pool_stats() -> PoolStats {
    PoolStats::default()
}

pub fn update(_tensors: &[&Tensor], _scalars: &[f64], _body: &str) -> Result<()> {
    not_built()
}

pub fn pool_max(
    _x: &Tensor,
    _planes: usize,
    _size: [usize; 3],
    _w: &[crate::cpu::pool::Windows; 3],
    _shape: &[usize],
) -> Result<(Tensor, Tensor)> {
    not_built()
}

pub fn pool_avg(
    _x: &Tensor,
    _planes: usize,
    _size: [usize; 3],
    _w: &[crate::cpu::pool::Windows; 3],
    _div: &crate::cpu::pool::Divisor,
    _shape: &[usize],
) -> Result<Tensor> {
    not_built()
}

pub fn bn_stats(_x: &Tensor, _n: usize, _c: usize, _s: usize, _eps: f64) -> Result<Tensor> {
    not_built()
}

#[allow(clippy::too_many_arguments)]
pub fn bn_apply(
    _x: &Tensor,
    _mean: &Tensor,
    _invstd: &Tensor,
    _w: Option<&Tensor>,
    _b: Option<&Tensor>,
    _n: usize,
    _c: usize,
    _s: usize,
) -> Result<Tensor> {
    not_built()
}

pub fn bn_grad_sums(
    _dy: &Tensor,
    _x: &Tensor,
    _mean: &Tensor,
    _n: usize,
    _c: usize,
    _s: usize,
) -> Result<Tensor> {
    not_built()
}

#[allow(clippy::too_many_arguments)]
pub fn bn_grad_input(
    _dy: &Tensor,
    _x: &Tensor,
    _mean: &Tensor,
    _invstd: &Tensor,
    _w: Option<&Tensor>,
    _sums: Option<&Tensor>,
    _n: usize,
    _c: usize,
    _s: usize,
) -> Result<Tensor> {
    not_built()
}

pub fn sdpa_forward(
    _d: &super::DeviceDims,
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _mask: Option<&Tensor>,
    _scale: f64,
) -> Result<(Tensor, Tensor)> {
    not_built()
}

#[allow(clippy::too_many_arguments)]
pub fn sdpa_backward(
    _d: &super::DeviceDims,
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _mask: Option<&Tensor>,
    _out: &Tensor,
    _dout: &Tensor,
    _lse: &Tensor,
    _scale: f64,
) -> Result<[Tensor; 3]> {
    not_built()
}
