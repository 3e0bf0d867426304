//! Whether an audit read everything it needs, and what that means for the exit code.
//!
//! An audit that could not read a source (a forbidden LIST, an unreadable aws-auth, the EKS
//! side) still reports what it saw, but it says so (`complete: false`, one [`UnreadSource`]
//! each) and it never passes a gate by mistake: see [`gate`]. Pure: no I/O.

use serde::Serialize;

use crate::audit::findings::Severity;

/// The sources an audit reads, as `incomplete[].source` names them (docs/json-schema.md).
pub mod source {
    pub const CLUSTER_ROLES: &str = "clusterroles";
    pub const CLUSTER_ROLE_BINDINGS: &str = "clusterrolebindings";
    pub const ROLES: &str = "roles";
    pub const ROLE_BINDINGS: &str = "rolebindings";
    /// The ConfigMap kube-system/aws-auth.
    pub const AWS_AUTH: &str = "aws-auth";
    /// DescribeCluster: the authentication mode (which mappings count) and the posture findings.
    pub const EKS_CLUSTER: &str = "eks:cluster";
    /// ListAccessEntries, DescribeAccessEntry, ListAssociatedAccessPolicies.
    pub const EKS_ACCESS_ENTRIES: &str = "eks:access-entries";
    /// ListIdentityProviderConfigs, DescribeIdentityProviderConfig.
    pub const EKS_IDENTITY_PROVIDERS: &str = "eks:identity-providers";
    /// ListPodIdentityAssociations, DescribePodIdentityAssociation.
    pub const EKS_POD_IDENTITY: &str = "eks:pod-identity";
    /// The cluster's ServiceAccounts (IRSA annotations), listed for an EKS cluster.
    pub const SERVICE_ACCOUNTS: &str = "serviceaccounts";
    /// API discovery (/api, /apis): the input of CHR028, read only when a chronom role exists.
    pub const DISCOVERY: &str = "discovery";
    /// The fleet: ListClusters in one region.
    pub const EKS_CLUSTERS: &str = "eks:clusters";
    /// The fleet: a cluster that could not be audited at all.
    pub const CLUSTER: &str = "cluster";
    /// A cross-account fleet: an account whose role could not be assumed.
    pub const ACCOUNT: &str = "account";
}

/// A source the audit needed and could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreadSource {
    /// One of the names in [`source`].
    pub source: String,
    /// What happened, in the words of the server that refused (status, code, message).
    pub reason: String,
}

impl UnreadSource {
    pub fn new(source: &str, reason: impl Into<String>) -> Self {
        Self {
            source: source.to_string(),
            reason: reason.into(),
        }
    }
}

/// What the gate of an `audit` run decided, from most to least urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing fails the run.
    Pass,
    /// `--verify` found answers that differ from the live authorizer (exit 4).
    Mismatch,
    /// This many findings are at or above `--fail-on` (exit 3).
    Threshold(usize),
    /// The audit is incomplete and `--allow-incomplete` was not given: exit 3 under
    /// `--fail-on` (a gate must not pass on what it did not see), else 1 (the run did not do
    /// all it was asked, as any other failure).
    Incomplete { fail_on: bool },
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => crate::exit::EXIT_OK,
            Verdict::Mismatch => crate::exit::EXIT_MISMATCH,
            Verdict::Threshold(_) => crate::exit::EXIT_FINDINGS,
            Verdict::Incomplete { fail_on: true } => crate::exit::EXIT_FINDINGS,
            Verdict::Incomplete { fail_on: false } => crate::exit::EXIT_FAILED,
        }
    }
}

/// The facts a gate is decided on, for one cluster or a fleet.
#[derive(Debug, Clone, Copy)]
pub struct GateInput<'a> {
    pub mismatches: usize,
    /// Every finding's severity.
    pub severities: &'a [Severity],
    pub fail_on: Option<Severity>,
    pub complete: bool,
    pub allow_incomplete: bool,
}

/// Exit 4 on a verification mismatch, else 3 at or above `--fail-on`, else (incomplete, not
/// allowed) 3 with `--fail-on` or 1 without, else 0.
pub fn gate(input: GateInput<'_>) -> Verdict {
    if input.mismatches > 0 {
        return Verdict::Mismatch;
    }
    if let Some(threshold) = input.fail_on {
        let at_or_above = input.severities.iter().filter(|s| **s >= threshold).count();
        if at_or_above > 0 {
            return Verdict::Threshold(at_or_above);
        }
    }
    if !input.complete && !input.allow_incomplete {
        return Verdict::Incomplete {
            fail_on: input.fail_on.is_some(),
        };
    }
    Verdict::Pass
}

/// The next step for an incomplete audit, the same in every message.
pub const NEXT_STEP: &str = "give this identity read access to those sources (get/list/watch on the RBAC kinds and on configmaps in kube-system; eks:DescribeCluster, eks:ListAccessEntries, eks:DescribeAccessEntry and eks:ListAssociatedAccessPolicies on the cluster; iam:GetRole and iam:GetUser on the mapped principals, with credentials of their account), or use one that has it; pass --allow-incomplete to accept a partial result";

/// What stderr says about an incomplete result: one line per unread source, then the next
/// step. `allowed` (with `--allow-incomplete`) makes it a warning rather than an error.
pub fn stderr_message(what: &str, unread: &[(String, &UnreadSource)], allowed: bool) -> String {
    let mut out = format!(
        "{}: {what} is INCOMPLETE: {} source(s) could not be read, and what they hold is missing from it\n",
        if allowed { "warning" } else { "error" },
        unread.len()
    );
    for (prefix, u) in unread {
        out.push_str(&format!("  {prefix}{}: {}\n", u.source, u.reason));
    }
    if allowed {
        out.push_str("  (accepted with --allow-incomplete)\n");
    } else {
        out.push_str(&format!("  next: {NEXT_STEP}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(severities: &[Severity]) -> GateInput<'_> {
        GateInput {
            mismatches: 0,
            severities,
            fail_on: None,
            complete: true,
            allow_incomplete: false,
        }
    }

    #[test]
    fn a_complete_audit_passes_unless_a_finding_reaches_the_threshold() {
        let low = [Severity::Low];
        assert_eq!(gate(input(&low)), Verdict::Pass);
        assert_eq!(
            gate(GateInput {
                fail_on: Some(Severity::High),
                ..input(&low)
            }),
            Verdict::Pass
        );
        assert_eq!(
            gate(GateInput {
                fail_on: Some(Severity::Low),
                ..input(&[Severity::Low, Severity::Critical, Severity::Info])
            }),
            Verdict::Threshold(2)
        );
    }

    #[test]
    fn an_incomplete_audit_never_passes_without_the_flag() {
        let none: [Severity; 0] = [];
        let incomplete = GateInput {
            complete: false,
            ..input(&none)
        };
        let v = gate(GateInput {
            fail_on: Some(Severity::Low),
            ..incomplete
        });
        assert_eq!(v, Verdict::Incomplete { fail_on: true });
        assert_eq!(
            v.exit_code(),
            3,
            "the --fail-on gate fails, as a finding would"
        );
        let v = gate(incomplete);
        assert_eq!(v, Verdict::Incomplete { fail_on: false });
        assert_eq!(v.exit_code(), 1, "without --fail-on it is a failed run");

        let allowed = GateInput {
            allow_incomplete: true,
            ..incomplete
        };
        assert_eq!(gate(allowed), Verdict::Pass);
        assert_eq!(
            gate(GateInput {
                fail_on: Some(Severity::High),
                ..allowed
            }),
            Verdict::Pass
        );
        assert_eq!(
            gate(GateInput {
                fail_on: Some(Severity::Low),
                ..GateInput {
                    severities: &[Severity::Medium],
                    ..allowed
                }
            }),
            Verdict::Threshold(1),
            "the flag accepts the gap, not the findings"
        );
    }

    #[test]
    fn a_mismatch_comes_first() {
        let v = gate(GateInput {
            mismatches: 2,
            fail_on: Some(Severity::Info),
            complete: false,
            ..input(&[Severity::Critical])
        });
        assert_eq!((v, v.exit_code()), (Verdict::Mismatch, 4));
    }

    #[test]
    fn the_message_names_each_source_and_the_next_step() {
        let u = UnreadSource::new(source::ROLE_BINDINGS, "the API server answered 403: no");
        let m = stderr_message("the audit", &[(String::new(), &u)], false);
        assert!(
            m.starts_with("error: the audit is INCOMPLETE: 1 source(s)"),
            "{m}"
        );
        assert!(
            m.contains("  rolebindings: the API server answered 403: no\n"),
            "{m}"
        );
        assert!(
            m.contains("next: ") && m.contains("--allow-incomplete"),
            "{m}"
        );
        let m = stderr_message("the fleet audit", &[("eu-west-1/prod ".into(), &u)], true);
        assert!(m.starts_with("warning: "), "{m}");
        assert!(m.contains("  eu-west-1/prod rolebindings: "), "{m}");
        assert!(!m.contains("next: "), "{m}");
    }
}
