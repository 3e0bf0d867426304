//! The error a user sees: what happened, what to do next, and the exit code it maps to.

use std::fmt;

/// Exit codes are part of the contract: 0 done or nothing to do, 1 failed, 2 usage error.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug)]
pub struct UserError {
    pub what: String,
    pub next: String,
    pub exit_code: i32,
}

impl UserError {
    pub fn failed(what: impl Into<String>, next: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            next: next.into(),
            exit_code: EXIT_FAILED,
        }
    }

    pub fn usage(what: impl Into<String>, next: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            next: next.into(),
            exit_code: EXIT_USAGE,
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.what)?;
        if !self.next.is_empty() {
            write!(f, "\n  next: {}", self.next)?;
        }
        Ok(())
    }
}

impl std::error::Error for UserError {}
