//! Proof after a write: ask the API server's authorizer (SubjectAccessReview) what the
//! mapped identity may now do, and compare with what a read-only grant must mean.

use crate::awsauth::template::{SessionFacts, render_template};
use crate::connect::Connection;
use crate::connect::identity::{Right, can_they};
use crate::error::UserError;
use crate::outcome::Check;

/// The questions a read-only grant must answer, with the expected answers.
pub fn after_grant(exclude_secrets: bool) -> Vec<(Right, bool)> {
    vec![
        (Right::new("list", "", "pods"), true),
        (Right::new("get", "", "secrets"), !exclude_secrets),
        (Right::new("create", "", "pods"), false),
        (
            Right::new("update", "", "configmaps").in_namespace("kube-system"),
            false,
        ),
        (Right::new("impersonate", "", "users"), false),
        (
            Right::new("escalate", "rbac.authorization.k8s.io", "clusterroles"),
            false,
        ),
    ]
}

/// Resources of the checks that exist only cluster-wide: asking about them in a namespace
/// tells nothing a RoleBinding could change.
const CLUSTER_SCOPED: [&str; 8] = [
    "nodes",
    "namespaces",
    "persistentvolumes",
    "users",
    "groups",
    "clusterroles",
    "clusterrolebindings",
    "customresourcedefinitions",
];

/// `checks`, then every denial on a namespaced resource asked again in each of `namespaces`
/// (where the mapped username or group has a RoleBinding): RoleBindings grant only in their
/// namespace, so a cluster-wide question never sees them.
pub fn in_namespaces(
    checks: Vec<(Right, bool)>,
    namespaces: &std::collections::BTreeSet<String>,
) -> Vec<(Right, bool)> {
    let mut out = checks.clone();
    for ns in namespaces {
        for (right, expected) in &checks {
            let base = right.resource.split('/').next().unwrap_or_default();
            if *expected || CLUSTER_SCOPED.contains(&base) {
                continue;
            }
            let mut r = right.clone();
            r.namespace = Some(ns.clone());
            if !out.iter().any(|(o, _)| *o == r) {
                out.push((r, false));
            }
        }
    }
    out
}

/// After a revoke that deleted the RBAC objects, the group must have lost its read access.
pub fn after_revoke() -> Vec<(Right, bool)> {
    vec![(Right::new("list", "", "pods"), false)]
}

/// A concrete username for a template, so the authorizer can be asked about it. The
/// placeholder values cannot collide with real identities' rights in a way that matters:
/// RBAC for this grant binds the group, not the user.
pub fn sample_username(template: &str, account: &str) -> String {
    let facts = SessionFacts {
        account_id: account,
        session_name: "chronom-verify",
        access_key_id: "AKIACHRONOMVERIFY",
        ec2_private_dns_name: Some("ip-10-0-0-1.ec2.internal"),
    };
    render_template(template, &facts).unwrap_or_else(|| template.to_string())
}

pub async fn run(
    conn: &Connection,
    user: &str,
    group: &str,
    checks: &[(Right, bool)],
) -> Result<Vec<Check>, UserError> {
    let groups = vec![group.to_string(), "system:authenticated".to_string()];
    let mut out = Vec::with_capacity(checks.len());
    for (right, expected) in checks {
        let allowed = can_they(conn, user, &groups, right).await?;
        out.push(Check {
            verb: right.verb.clone(),
            resource: if right.group.is_empty() {
                right.resource.clone()
            } else {
                format!("{}.{}", right.resource, right.group)
            },
            namespace: right.namespace.clone().unwrap_or_default(),
            allowed,
            expected: *expected,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_expectation_follows_the_flag() {
        let get_secrets = |ex| {
            after_grant(ex)
                .into_iter()
                .find(|(r, _)| r.resource == "secrets")
                .unwrap()
                .1
        };
        assert!(get_secrets(false));
        assert!(!get_secrets(true));
    }

    #[test]
    fn every_write_check_expects_denial() {
        for (right, expected) in after_grant(false) {
            if !["get", "list", "watch"].contains(&right.verb.as_str()) {
                assert!(!expected, "{right:?}");
            }
        }
    }

    #[test]
    fn denials_are_asked_again_in_each_namespace_with_a_role_binding() {
        let base = vec![
            (Right::new("list", "", "pods"), true),
            (Right::new("create", "", "pods/exec"), false),
            (Right::new("get", "", "nodes/proxy"), false),
            (
                Right::new("update", "", "configmaps").in_namespace("kube-system"),
                false,
            ),
        ];
        let none = in_namespaces(base.clone(), &Default::default());
        assert_eq!(none, base);
        let ns = std::collections::BTreeSet::from(["team-x".to_string(), "team-y".to_string()]);
        let all = in_namespaces(base.clone(), &ns);
        let extra: Vec<String> = all[base.len()..]
            .iter()
            .map(|(r, e)| {
                assert!(!e, "only denials are repeated: {r:?}");
                format!(
                    "{} {} in {}",
                    r.verb,
                    r.resource,
                    r.namespace.as_deref().unwrap()
                )
            })
            .collect();
        assert_eq!(
            extra,
            [
                "create pods/exec in team-x",
                "update configmaps in team-x",
                "create pods/exec in team-y",
                "update configmaps in team-y",
            ]
        );
    }

    #[test]
    fn templates_become_concrete() {
        assert_eq!(
            sample_username("chronom:{{SessionName}}@{{AccountID}}", "111122223333"),
            "chronom:chronom-verify@111122223333"
        );
        assert!(
            !sample_username(
                "{{EC2PrivateDNSName}}{{AccessKeyID}}{{SessionNameRaw}}",
                "1"
            )
            .contains("{{")
        );
    }
}
