//! One error type for the whole core. The variants follow the Python exception a PyTorch user
//! would see for the same mistake, so the bindings map them one to one.

use std::any::Any;
use std::sync::Arc;
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
    /// An error raised by code outside the core (a Python hook or custom backward), carried
    /// through the engine untouched so the binding can re-raise the original exception.
    #[error("{0}")]
    External(ExternalError),
}

/// A foreign error: its text, and an opaque payload only the code that raised it understands.
#[derive(Clone)]
pub struct ExternalError {
    pub message: String,
    pub payload: Arc<dyn Any + Send + Sync>,
}

impl ExternalError {
    pub fn new(message: String, payload: Arc<dyn Any + Send + Sync>) -> ExternalError {
        ExternalError { message, payload }
    }
}

impl std::fmt::Display for ExternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::fmt::Debug for ExternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExternalError({:?})", self.message)
    }
}

/// Two external errors are equal when they carry the same payload object.
impl PartialEq for ExternalError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.payload, &other.payload)
    }
}

impl Eq for ExternalError {}

pub type Result<T> = std::result::Result<T, Error>;

/// `bail!(Runtime, "...", args)` returns early with the given error variant.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::$kind(format!($($arg)*)))
    };
}
