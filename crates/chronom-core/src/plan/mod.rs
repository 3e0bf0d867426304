//! Grant and revoke as data: what will change, what is refused, what to say and how to undo
//! it, computed by pure functions from what the flows observed (DESIGN.md "plan first").
//!
//! The same plan feeds `--dry-run`, the text and JSON reports and the rollback, so they
//! cannot disagree. Nothing here does I/O: the flows in `grant.rs` and `revoke.rs` read,
//! call these functions and write what they return.

pub mod aws_auth;
pub mod binding;
pub mod escalation;
pub mod grant;
pub mod managed_by;
pub mod mapped;
pub mod messages;
pub mod refusal;
pub mod report;
pub mod revoke;
pub mod role_in_iam;
pub mod rollback;

#[cfg(test)]
mod matrix;
