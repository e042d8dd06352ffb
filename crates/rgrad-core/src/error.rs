//! One error type for the whole core. The variants follow the Python exception a PyTorch user
//! would see for the same mistake, so the bindings map them one to one.

use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum Error {
    /// Shape mismatches, freed graphs, in-place misuse: PyTorch raises RuntimeError.
    #[error("{0}")]
    Runtime(String),
    /// Out-of-range indices and dimensions: IndexError.
    #[error("{0}")]
    Index(String),
    /// Wrong kind of argument: TypeError.
    #[error("{0}")]
    Type(String),
    /// Malformed values (ragged nested lists, bad options): ValueError.
    #[error("{0}")]
    Value(String),
    /// An op this backend or dtype does not have: NotImplementedError.
    #[error("{0}")]
    NotImplemented(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// `bail!(Runtime, "...", args)` returns early with the given error variant.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::$kind(format!($($arg)*)))
    };
}
