//! The one error both aws-auth readers give: where the text stops being readable, and why.
//! Its own module because the document reader, the entry parser and the lenient reader all
//! produce it.

/// The text is not YAML we can read safely, or not a list of entries. Line and column are
/// 1-based; the column counts characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}
