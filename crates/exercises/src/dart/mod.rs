//! Reading Dart: a tolerant lexer and a structural pass (see each module's docs).

pub mod lexer;
pub mod structure;

pub use structure::{Call, Class, DartFile, Field, Import, Method, read, read_guarded};
