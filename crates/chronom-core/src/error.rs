//! The error a user sees: what happened, what to do next, and the exit code it maps to.

use std::fmt;

/// Exit codes are part of the contract: 0 done or nothing to do, 1 failed, 2 usage error,
/// 3 an audit finding at or above `--fail-on` (or an incomplete audit with it), 4 an audit
/// answer the live authorizer contradicts (`--verify`).
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_FINDINGS: i32 = 3;
pub const EXIT_MISMATCH: i32 = 4;

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

/// The pure core says why it refuses an aws-auth entry; the user sees it as one failed run.
impl From<Box<crate::awsauth::ownership::EntryRefusal>> for UserError {
    fn from(r: Box<crate::awsauth::ownership::EntryRefusal>) -> Self {
        UserError::failed(r.what(), r.next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_refusal_is_a_failed_run_with_a_next_step() {
        let node = "- rolearn: arn:aws:iam::111122223333:role/node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n";
        let role = crate::arn::parse_role_arn("arn:aws:iam::111122223333:role/node")
            .unwrap()
            .canonical;
        let e: UserError = crate::awsauth::ownership::check_forced_replace(node, &role)
            .unwrap_err()
            .into();
        assert_eq!(e.exit_code, EXIT_FAILED);
        assert!(e.what.contains("nothing was changed") && !e.next.is_empty());
    }
}
