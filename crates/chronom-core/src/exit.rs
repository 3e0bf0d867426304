//! The exit codes, all of them: part of the CLI contract (README.md, docs/json-schema.md).
//!
//! The binary's `commands` module maps every result to one of these; the audit gate (which
//! code an audit verdict earns) names them too, which is why the table lives in the core.

/// Done, or nothing to do.
pub const EXIT_OK: i32 = 0;
/// The run failed, or did not do all it was asked (a write that did not verify, an incomplete
/// audit without `--allow-incomplete`).
pub const EXIT_FAILED: i32 = 1;
/// Usage error: a flag combination or value the tool cannot act on.
pub const EXIT_USAGE: i32 = 2;
/// Audit: a finding at or above `--fail-on` (or an incomplete audit with `--fail-on`).
pub const EXIT_FINDINGS: i32 = 3;
/// Audit `--verify`: the live authorizer disagreed with the evaluator.
pub const EXIT_MISMATCH: i32 = 4;
