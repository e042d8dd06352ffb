//! Element types and PyTorch's type promotion.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    // Declared in promotion order: promotion is `max` except for the two pairs without a
    // common member (uint8 with int8 is int16, float16 with bfloat16 is float32).
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
}

impl DType {
    pub const ALL: [DType; 10] = [
        DType::Bool,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The legacy type name PyTorch uses in some messages (`torch.FloatTensor`).
    pub fn legacy_name(self) -> &'static str {
        match self {
            DType::Bool => "BoolTensor",
            DType::U8 => "ByteTensor",
            DType::I8 => "CharTensor",
            DType::I16 => "ShortTensor",
            DType::F16 => "HalfTensor",
            DType::BF16 => "BFloat16Tensor",
            DType::I32 => "IntTensor",
            DType::I64 => "LongTensor",
            DType::F32 => "FloatTensor",
            DType::F64 => "DoubleTensor",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    pub fn is_int(self) -> bool {
        matches!(self, DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }

    /// float16 and bfloat16: stored in 16 bits, computed in float32 ("opmath", as PyTorch's
    /// CPU kernels do) and rounded once to the storage type.
    pub fn is_reduced_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16)
    }

    /// The dtype a kernel computes in: float32 for float16/bfloat16, else the dtype itself.
    pub fn opmath(self) -> DType {
        if self.is_reduced_float() {
            DType::F32
        } else {
            self
        }
    }

    /// PyTorch's `ScalarType` name, used in "not implemented for 'Half'" messages.
    pub fn scalar_name(self) -> &'static str {
        match self {
            DType::Bool => "Bool",
            DType::U8 => "Byte",
            DType::I8 => "Char",
            DType::I16 => "Short",
            DType::I32 => "Int",
            DType::I64 => "Long",
            DType::F16 => "Half",
            DType::BF16 => "BFloat16",
            DType::F32 => "Float",
            DType::F64 => "Double",
        }
    }

    /// PyTorch's C++ type name, as some of its messages print it ("float != c10::Half").
    pub fn c_name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "unsigned char",
            DType::I8 => "signed char",
            DType::I16 => "short int",
            DType::I32 => "int",
            DType::I64 => "long int",
            DType::F16 => "c10::Half",
            DType::BF16 => "c10::BFloat16",
            DType::F32 => "float",
            DType::F64 => "double",
        }
    }

    pub fn itemsize(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    fn category(self) -> u8 {
        match self {
            DType::Bool => 0,
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => 1,
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => 2,
        }
    }

    /// `torch.promote_types`.
    pub fn promote(a: DType, b: DType) -> DType {
        match (a.min(b), a.max(b)) {
            (DType::U8, DType::I8) => DType::I16,
            (DType::F16, DType::BF16) => DType::F32,
            (_, hi) => hi,
        }
    }

    /// The float type an integer computation turns into (true division, `exp` of ints, ...).
    pub fn to_float(self) -> DType {
        if self.is_float() {
            self
        } else {
            DType::F32
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Python number used as an operand ("wrapped number" in PyTorch).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    /// The dtype a wrapped number contributes to promotion: floats count as the default float.
    pub fn wrapped_dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => DType::F32,
        }
    }

    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }
}

/// Tracks the three operand classes of PyTorch's `result_type`: tensors with dimensions,
/// zero-dim tensors and wrapped Python numbers. Higher classes win only within a category.
#[derive(Default, Clone, Copy)]
pub struct ResultType {
    dim: Option<DType>,
    zero: Option<DType>,
    wrapped: Option<DType>,
}

fn merge(slot: &mut Option<DType>, d: DType) {
    *slot = Some(slot.map_or(d, |s| DType::promote(s, d)));
}

fn combine(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (None, l) => l,
        (h, None) => h,
        (Some(h), Some(l)) => {
            if h.category() >= l.category() && (h != DType::Bool || l == DType::Bool) {
                Some(h)
            } else {
                Some(DType::promote(h, l))
            }
        }
    }
}

impl ResultType {
    pub fn tensor(mut self, dtype: DType, ndim: usize) -> Self {
        if ndim == 0 {
            merge(&mut self.zero, dtype);
        } else {
            merge(&mut self.dim, dtype);
        }
        self
    }

    pub fn scalar(mut self, s: Scalar) -> Self {
        merge(&mut self.wrapped, s.wrapped_dtype());
        self
    }

    pub fn result(self) -> DType {
        combine(self.dim, combine(self.zero, self.wrapped)).unwrap_or(DType::F32)
    }
}

#[cfg(test)]
mod tests {
    use super::DType::*;
    use super::*;

    #[test]
    fn promote_types_table() {
        assert_eq!(DType::promote(I64, F32), F32);
        assert_eq!(DType::promote(F32, F64), F64);
        assert_eq!(DType::promote(Bool, I32), I32);
        assert_eq!(DType::promote(I32, I64), I64);
        assert_eq!(DType::promote(U8, I8), I16);
        assert_eq!(DType::promote(I8, U8), I16);
        assert_eq!(DType::promote(F16, BF16), F32);
        assert_eq!(DType::promote(I64, F16), F16);
        assert_eq!(DType::promote(U8, Bool), U8);
    }

    #[test]
    fn wrapped_numbers_do_not_upcast_within_category() {
        let r = ResultType::default().tensor(F32, 1).scalar(Scalar::Float(2.5));
        assert_eq!(r.result(), F32);
        let r = ResultType::default().tensor(I64, 1).scalar(Scalar::Float(1.5));
        assert_eq!(r.result(), F32);
        let r = ResultType::default().tensor(I32, 1).scalar(Scalar::Int(3));
        assert_eq!(r.result(), I32);
        let r = ResultType::default().tensor(Bool, 1).scalar(Scalar::Int(3));
        assert_eq!(r.result(), I64);
    }

    #[test]
    fn zero_dim_tensors_promote_across_categories_only() {
        let r = ResultType::default().tensor(I64, 1).tensor(F64, 0);
        assert_eq!(r.result(), F64);
        let r = ResultType::default().tensor(F32, 1).tensor(F64, 0);
        assert_eq!(r.result(), F32);
        let r = ResultType::default().tensor(F32, 0).tensor(F64, 0);
        assert_eq!(r.result(), F64);
        let r = ResultType::default().tensor(F64, 0).scalar(Scalar::Float(1.0));
        assert_eq!(r.result(), F64);
        let r = ResultType::default().tensor(I64, 0).scalar(Scalar::Float(1.0));
        assert_eq!(r.result(), F32);
    }
}
