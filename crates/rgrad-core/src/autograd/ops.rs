//! What the graph records for each differentiable op: just enough to run its backward rule.

use super::{BackwardFn, Saved};
use crate::ops::index::AdvIndex;
use crate::ops::views::Narrow;
use crate::shape::Dims;
use crate::tensor::Tensor;
use crate::DType;
use std::sync::Arc;

/// Which derivative a unary op needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryGrad {
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sigmoid,
    Log1p,
    Expm1,
    Reciprocal,
    Relu,
    Abs,
    Erf,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Log2,
    Log10,
    Exp2,
    Erfinv,
    Lgamma,
    Digamma,
    Trigamma,
    Tetragamma,
    Sinc,
}

impl From<crate::ops::unary::UnaryOp> for UnaryGrad {
    fn from(op: crate::ops::unary::UnaryOp) -> Self {
        use crate::ops::unary::UnaryOp as U;
        match op {
            U::Exp => UnaryGrad::Exp,
            U::Log => UnaryGrad::Log,
            U::Sqrt => UnaryGrad::Sqrt,
            U::Rsqrt => UnaryGrad::Rsqrt,
            U::Sin => UnaryGrad::Sin,
            U::Cos => UnaryGrad::Cos,
            U::Tan => UnaryGrad::Tan,
            U::Tanh => UnaryGrad::Tanh,
            U::Sigmoid => UnaryGrad::Sigmoid,
            U::Log1p => UnaryGrad::Log1p,
            U::Expm1 => UnaryGrad::Expm1,
            U::Reciprocal => UnaryGrad::Reciprocal,
            U::Erf => UnaryGrad::Erf,
            U::Asin => UnaryGrad::Asin,
            U::Acos => UnaryGrad::Acos,
            U::Atan => UnaryGrad::Atan,
            U::Sinh => UnaryGrad::Sinh,
            U::Cosh => UnaryGrad::Cosh,
            U::Asinh => UnaryGrad::Asinh,
            U::Acosh => UnaryGrad::Acosh,
            U::Atanh => UnaryGrad::Atanh,
            U::Log2 => UnaryGrad::Log2,
            U::Log10 => UnaryGrad::Log10,
            U::Exp2 => UnaryGrad::Exp2,
            U::Erfinv => UnaryGrad::Erfinv,
            U::Lgamma => UnaryGrad::Lgamma,
            U::Digamma => UnaryGrad::Digamma,
            U::Trigamma => UnaryGrad::Trigamma,
            U::Tetragamma => UnaryGrad::Tetragamma,
            U::Sinc => UnaryGrad::Sinc,
            // Rounding ops record a zero gradient instead (see `Tensor::unary`).
            U::Floor | U::Ceil | U::Round | U::Trunc | U::Frac => UnaryGrad::Abs,
        }
    }
}

pub enum Op {
    /// Saved tensors were freed by a backward without `retain_graph`.
    Released,
    /// `a + alpha * b` over two tensors (add, sub).
    AddSub {
        shapes: [Dims; 2],
        alpha: f64,
    },
    /// One input scaled by a constant (ops with a Python number; neg; clone; fill).
    Scale(f64),
    /// As `Scale`, for ops whose PyTorch counterpart saves the number (so a second backward
    /// through a freed graph fails the same way).
    ScaleSaved(f64),
    Mul {
        a: Saved,
        b: Saved,
    },
    Div {
        a: Saved,
        b: Saved,
    },
    /// `s / x`.
    RDiv {
        x: Saved,
        s: f64,
    },
    /// `x ** e`.
    PowScalar {
        x: Saved,
        e: f64,
    },
    /// `a ** b`.
    Pow {
        a: Saved,
        b: Saved,
        out: Saved,
    },
    /// `s ** x`.
    RPow {
        x: Saved,
        s: f64,
        out: Saved,
    },
    MaxMin {
        a: Saved,
        b: Saved,
        is_max: bool,
    },
    /// A differentiable binary op of the math family (atan2, hypot, logaddexp, xlogy, fmod,
    /// remainder). A Python-number side is saved as a 0-dim tensor; `sides` says which
    /// operands are tensors with an edge.
    Binary {
        op: crate::ops::binary::BinaryOp,
        a: Saved,
        b: Saved,
        out: Saved,
        sides: [bool; 2],
    },
    /// Elementwise `f(x)`; `out` lets rules reuse the forward result.
    Unary {
        f: UnaryGrad,
        x: Saved,
        out: Saved,
    },
    Sum {
        shape: Dims,
        dims: Dims,
        keepdim: bool,
    },
    Mean {
        shape: Dims,
        dims: Dims,
        keepdim: bool,
        count: usize,
    },
    Mm {
        a: Saved,
        b: Saved,
    },
    Bmm {
        a: Saved,
        b: Saved,
    },
    /// `linear` fused: `x @ w.T + bias` with inputs (x, w, bias).
    Addmm {
        x: Saved,
        w: Saved,
    },
    Dot {
        a: Saved,
        b: Saved,
    },
    /// view / reshape / squeeze: the gradient is reshaped back.
    Reshape {
        shape: Dims,
    },
    Permute {
        dims: Dims,
    },
    Transpose {
        a: usize,
        b: usize,
    },
    Unsqueeze {
        dim: usize,
    },
    Expand {
        shape: Dims,
    },
    Narrow {
        shape: Dims,
        narrow: Narrow,
    },
    NarrowBackward {
        narrow: Narrow,
    },
    Cast {
        from: DType,
    },
    /// A copy to another device; the gradient goes back to `from`.
    ToDevice {
        from: crate::Device,
    },
    Where {
        cond: Tensor,
        shapes: [Dims; 2],
        sides: [bool; 2],
    },
    Index {
        shape: Dims,
        adv: Arc<AdvIndex>,
    },
    IndexBackward {
        adv: Arc<AdvIndex>,
    },
    IndexPut {
        adv: Arc<AdvIndex>,
        values_shape: Dims,
        accumulate: bool,
    },
    Gather {
        shape: Dims,
        dim: usize,
        index: Tensor,
    },
    Scatter {
        dim: usize,
        index: Tensor,
        src_shape: Dims,
        accumulate: bool,
    },
    /// `masked_scatter` (ops/select.rs): inputs (self, source); `mask` broadcast to the output.
    MaskedScatter {
        mask: Tensor,
        self_shape: Dims,
        source_shape: Dims,
    },
    /// `scatter_reduce` (ops/select.rs): inputs (self, src).
    ScatterReduce {
        dim: usize,
        index: Tensor,
        reduce: crate::ops::select::ScatterReduce,
        include_self: bool,
        x: Saved,
        src: Saved,
        out: Saved,
    },
    /// Concatenation: each input gets its slice of the gradient.
    Cat {
        dim: usize,
        sizes: Vec<usize>,
    },
    /// max/min along a dim: the gradient goes to the chosen index.
    IndexReduce {
        shape: Dims,
        dim: usize,
        keepdim: bool,
        indices: Tensor,
    },
    /// sort, topk, kthvalue, median/nanmedian(dim), mode (ops/sort.rs): values taken from the
    /// input at `indices` along `dim`; the gradient goes back there.
    ValueSelect {
        shape: Dims,
        dim: usize,
        keepdim: bool,
        indices: Tensor,
    },
    /// median()/nanmedian() of all elements: the gradient is shared by the elements equal to
    /// the result (PyTorch's `evenly_distribute_backward`).
    EvenSelect {
        x: Saved,
        out: Saved,
    },
    Cumsum {
        dim: usize,
    },
    /// `logcumsumexp` (ops/cumulative.rs): the input and the result.
    Logcumsumexp {
        x: Saved,
        out: Saved,
        dim: usize,
    },
    /// `unfold(dim, size, step)` (ops/views.rs): windows of the input of `shape`.
    Unfold {
        shape: Dims,
        dim: usize,
        size: usize,
        step: usize,
    },
    /// `index_add` (ops/index_ops.rs): inputs (self, source); `index` the int64 indices.
    IndexAdd {
        dim: usize,
        index: Tensor,
        alpha: f64,
        source_shape: Dims,
    },
    /// `index_copy`: inputs (self, source); `mask` marks the overwritten positions.
    IndexCopy {
        dim: usize,
        index: Tensor,
        mask: Tensor,
        source_shape: Dims,
    },
    /// `index_fill`, `fill_diagonal_`: the positions where `mask` holds were overwritten.
    MaskFill {
        mask: Tensor,
    },
    Cumprod {
        x: Saved,
        out: Saved,
        dim: usize,
    },
    Prod {
        x: Saved,
        dim: Option<usize>,
        keepdim: bool,
    },
    Softmax {
        x: Saved,
        out: Saved,
        dim: usize,
        log: bool,
    },
    /// amax/amin and the all-reduce max()/min(): ties share the gradient evenly.
    Amax {
        x: Saved,
        out: Saved,
        dims: Dims,
        keepdim: bool,
    },
    /// `norm(p)` for p other than 1 and inf (those are composites).
    Norm {
        x: Saved,
        out: Saved,
        p: f64,
        dims: Dims,
        keepdim: bool,
    },
    /// clamp: the gradient passes where the input was inside the bounds.
    Clamp {
        x: Saved,
        min: Option<f64>,
        max: Option<f64>,
    },
    /// Fused cross entropy over class indices (ops/loss.rs). `dx` is the input gradient per
    /// unit of upstream gradient, worked out by the forward; `coef` (`scale` where None) is
    /// the factor on the softmax in it, which `create_graph` differentiates.
    CrossEntropy {
        x: Saved,
        dx: Tensor,
        coef: Option<Tensor>,
        scale: f64,
        dim: usize,
        /// `reduction='none'`: one upstream gradient per row, broadcast over the classes.
        per_row: bool,
    },
    /// Fused BCE with logits (ops/loss.rs); as `CrossEntropy`, with the sigmoid for the
    /// softmax. Input and target are saved as PyTorch saves them (changing either in place
    /// before backward is an error).
    BceWithLogits {
        x: Saved,
        target: Saved,
        dx: Tensor,
        coef: Option<Tensor>,
        scale: f64,
    },
    /// Fused BCE of probabilities (ops/loss.rs): `dx` as in `CrossEntropy`; `x`, `target`
    /// and `weight` rebuild the gradient as tensor ops under `create_graph`.
    Bce {
        x: Saved,
        target: Saved,
        weight: Option<Tensor>,
        dx: Tensor,
        scale: f64,
    },
    /// `aten::convolution` (ops/conv.rs), forwards or transposed; inputs (x, w[, bias]).
    Convolution {
        x: Saved,
        w: Saved,
        spec: Arc<crate::ops::conv::ConvSpec>,
        transposed: bool,
        has_bias: bool,
    },
    /// The weight gradient of a convolution: `a` its input side, `b` its output gradient.
    ConvWeight {
        a: Saved,
        b: Saved,
        spec: Arc<crate::ops::conv::ConvSpec>,
    },
    /// One recurrent layer and direction (ops/rnn.rs): its inputs and the forward's gates.
    Rnn(Box<crate::ops::rnn::RnnSaved>),
    /// Fused scaled dot-product attention (ops/attention.rs): inputs (q, k, v), the mask and
    /// the rows' log-sum-exp.
    Attention(Box<crate::ops::attention::SdpaSaved>),
    /// Max pooling (ops/pool_exec.rs): the indices recorded by the forward.
    PoolMax {
        indices: Tensor,
        input_shape: Vec<usize>,
        spec: Arc<crate::ops::pool_exec::PoolSpec>,
    },
    /// A per-plane scatter at pooling indices (max pooling's gradient, max unpooling);
    /// `names` are [gather, scatter] grad_fn names.
    PoolScatter {
        indices: Tensor,
        spatial: usize,
        names: [&'static str; 2],
    },
    /// A per-plane gather at pooling indices (the adjoint of `PoolScatter`).
    PoolGather {
        indices: Tensor,
        src_spatial: Vec<usize>,
        names: [&'static str; 2],
    },
    /// Average pooling or (`adjoint`) its gradient; each is the other's backward.
    PoolAvg {
        spec: Arc<crate::ops::pool_exec::PoolSpec>,
        adjoint: bool,
    },
    /// Batch normalization (ops/norm.rs); inputs (x[, weight][, bias]). `mean` and
    /// `invstd` are what the forward normalized with (batch or running statistics).
    BatchNorm {
        x: Saved,
        weight: Option<Saved>,
        mean: Tensor,
        invstd: Tensor,
        spec: Arc<crate::ops::norm::BatchNormSpec>,
    },
    /// A resampling map (ops/resample.rs: interpolation, padding, im2col/col2im), forwards
    /// or transposed; linear in its one input, so nothing is saved.
    Resample {
        plan: Arc<crate::ops::resample::PlaneMap>,
        transposed: bool,
    },
    /// `linalg.cholesky_ex` (ops/linalg_factor.rs): the input (to rebuild the factor under
    /// `create_graph`) and the factor it gave.
    Cholesky {
        a: Saved,
        l: Saved,
        upper: bool,
    },
    /// `linalg.solve_triangular` (ops/linalg_factor.rs); inputs (A, B), `x` the solution.
    SolveTriangular {
        a: Saved,
        b: Saved,
        x: Saved,
        upper: bool,
        left: bool,
        unit: bool,
    },
    /// `linalg.inv_ex` (ops/linalg_lu.rs): the input and the inverse it gave.
    Inverse {
        a: Saved,
        inv: Saved,
    },
    /// The log-abs-determinant of `linalg.slogdet` (ops/linalg_lu.rs).
    Slogdet {
        a: Saved,
    },
    /// `linalg.lu_factor_ex` (ops/linalg_solve.rs): the input, the packed factors it gave and
    /// the permutation matrices P (A = P L U), a constant.
    LuFactor {
        a: Saved,
        lu: Saved,
        p: Tensor,
    },
    /// `linalg.solve_ex` (ops/linalg_solve.rs); inputs (A, B), `x` the solution.
    Solve {
        a: Saved,
        b: Saved,
        x: Saved,
        left: bool,
    },
    /// `linalg.det` (ops/linalg_solve.rs): the input and the determinant it gave.
    Det {
        a: Saved,
        det: Saved,
    },
    /// The decompositions with several differentiable outputs (ops/linalg_decomp.rs).
    Decomp(Box<DecompSaved>),
    /// `gelu` (ops/gelu.rs), exact or (`tanh`) the tanh form.
    Gelu {
        x: Saved,
        tanh: bool,
    },
    /// Layer normalization (ops/layer_norm.rs); inputs (x[, weight][, bias]), `mean` and
    /// `rstd` each row's statistics from the forward.
    LayerNorm {
        x: Saved,
        weight: Option<Saved>,
        mean: Tensor,
        rstd: Tensor,
        spec: Arc<crate::ops::layer_norm::LayerNormSpec>,
    },
    /// `embedding_bag` (ops/embedding_bag.rs); inputs (weight[, per_sample_weights]).
    EmbeddingBag(Box<crate::ops::embedding_bag::BagSaved>),
    /// The CTC loss (ops/ctc.rs): the input, the packed targets, the losses and alphas.
    Ctc(Box<crate::ops::ctc::CtcSaved>),
    Custom(Box<dyn BackwardFn>),
}

impl Op {
    /// Whether freeing this op's saved values after backward loses anything.
    pub(crate) fn holds_saved(&self) -> bool {
        !matches!(
            self,
            Op::Released
                | Op::AddSub { .. }
                | Op::Scale(_)
                | Op::Sum { .. }
                | Op::Mean { .. }
                | Op::Reshape { .. }
                | Op::Permute { .. }
                | Op::Transpose { .. }
                | Op::Unsqueeze { .. }
                | Op::Expand { .. }
                | Op::Narrow { .. }
                | Op::NarrowBackward { .. }
                | Op::Cast { .. }
                | Op::ToDevice { .. }
                | Op::Index { .. }
                | Op::Cat { .. }
                | Op::Cumsum { .. }
                | Op::Unfold { .. }
                | Op::IndexBackward { .. }
                | Op::PoolAvg { .. }
                | Op::Resample { .. }
        )
    }
}

/// What the backward of `linalg.eigh`, `linalg.svd` and `linalg.qr` needs: the input (to
/// recompute the outputs with history under `create_graph`) and the outputs.
pub enum DecompSaved {
    Eigh { a: Saved, l: Saved, v: Saved, upper: bool },
    Svd { a: Saved, u: Saved, s: Saved, vh: Saved, full: bool },
    Qr { a: Saved, q: Saved, r: Saved, mode: crate::ops::linalg_decomp::QrMode },
}
