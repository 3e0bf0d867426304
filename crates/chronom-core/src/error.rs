//! The error a user sees: what happened, what to do next, and the exit code it maps to.

use std::fmt;

use crate::exit::{EXIT_FAILED, EXIT_USAGE};

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

/// A plan's refusal is one failed run: nothing was written.
impl From<crate::plan::refusal::Refusal> for UserError {
    fn from(r: crate::plan::refusal::Refusal) -> Self {
        UserError::failed(r.what(), r.next())
    }
}

/// The pure core says why it refuses an aws-auth entry; the user sees it as one failed run.
impl From<Box<crate::awsauth::ownership::EntryRefusal>> for UserError {
    fn from(r: Box<crate::awsauth::ownership::EntryRefusal>) -> Self {
        UserError::failed(r.what(), r.next())
    }
}

/// The error and all its sources, outermost first.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut chain = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::binding::ownership_refusal;
    use crate::plan::grant::profile_change_refusal;
    use crate::readonly_role::{self as ro, Provenance, RoleProfile};

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

    /// Moved from grant.rs's refusal tests: a plan's refusal is a failure (exit 1), not a
    /// usage error.
    #[test]
    fn a_plan_refusal_exits_1() {
        let prov = Provenance {
            granted_by: "admin".into(),
            granted_at: "2026-01-01T00:00:00Z".into(),
        };
        let mut live = ro::cluster_role("cluster-admin", RoleProfile::ReadOnly, vec![], &prov);
        live.metadata.labels = None;
        let e = UserError::from(
            ownership_refusal("cluster-admin", Some(&live), None, &[]).unwrap_err(),
        );
        assert_eq!(e.exit_code, EXIT_FAILED);
        let e = UserError::from(
            profile_change_refusal(
                "shared",
                Some(RoleProfile::ReadOnly),
                RoleProfile::Wildcard,
                &[],
            )
            .unwrap_err(),
        );
        assert_eq!(e.exit_code, EXIT_FAILED);
    }
}
