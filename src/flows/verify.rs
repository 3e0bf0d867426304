//! Proof after a write: ask the API server's authorizer (SubjectAccessReview) what the
//! mapped identity may now do, and compare with what a read-only grant must mean.

use crate::adapters::kube::Connection;
use crate::adapters::kube::identity::can_they;
use chronom_core::error::UserError;
use chronom_core::outcome::Check;
use chronom_core::rbac::{Request, ResourceRequest};
use chronom_core::readonly_role::{self, DiscoveredResources, RoleProfile};

/// A custom resource the server serves (from discovery), to prove that the role reads CRDs too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomResource {
    pub group: String,
    /// Plural resource name.
    pub resource: String,
}

/// The questions a grant of `profile` must answer, with the expected answers: the reads it
/// exists for (core, apps, and a custom resource when the server serves one), and the
/// requests that are not reads even though some of them use the `get` verb (decision 7 in
/// docs/decisions.md; docs/read-only-role.md says why each one is dangerous).
///
/// For the wildcard profile the expectations are what `*`/`*`/get,list,watch really grants, so
/// its verification passes and its table shows the dangerous rows as allowed.
pub fn after_grant(
    profile: RoleProfile,
    crd: Option<&CustomResource>,
) -> Vec<(ResourceRequest, bool)> {
    let wildcard = profile == RoleProfile::Wildcard;
    let mut checks = vec![
        (ResourceRequest::new("list", "", "pods"), true),
        (ResourceRequest::new("get", "apps", "deployments"), true),
    ];
    if let Some(c) = crd {
        checks.push((ResourceRequest::new("list", &c.group, &c.resource), true));
    }
    checks.extend([
        (
            ResourceRequest::new("get", "", "nodes").subresource("proxy"),
            wildcard,
        ),
        (
            ResourceRequest::new("get", "", "pods").subresource("exec"),
            wildcard,
        ),
        (
            ResourceRequest::new("create", "", "pods").subresource("exec"),
            false,
        ),
        (
            ResourceRequest::new("get", "", "pods").subresource("attach"),
            wildcard,
        ),
        (
            ResourceRequest::new("get", "", "pods").subresource("portforward"),
            wildcard,
        ),
        (
            ResourceRequest::new("get", "", "pods").subresource("proxy"),
            wildcard,
        ),
        (
            ResourceRequest::new("get", "", "services").subresource("proxy"),
            wildcard,
        ),
        (
            ResourceRequest::new("get", "", "secrets"),
            profile.reads_secrets(),
        ),
        (ResourceRequest::new("create", "", "pods"), false),
        (
            ResourceRequest::new("update", "", "configmaps").namespace("kube-system"),
            false,
        ),
        (ResourceRequest::new("impersonate", "", "users"), false),
        (
            ResourceRequest::new("escalate", "rbac.authorization.k8s.io", "clusterroles"),
            false,
        ),
    ]);
    checks
}

/// The first custom resource discovery reports that the profile's role reads (so `list` on it
/// must be allowed), in a stable order: groups not served by kube-apiserver itself, i.e. whose
/// name has a dot and does not end in `.k8s.io`, that serve a resource supporting `list`.
pub fn pick_custom_resource(
    profile: RoleProfile,
    discovered: &DiscoveredResources,
) -> Option<CustomResource> {
    discovered
        .iter()
        .filter(|(group, _)| group.contains('.') && !group.ends_with(".k8s.io"))
        .find_map(|(group, resources)| {
            resources
                .iter()
                .find(|(resource, verbs)| {
                    !resource.contains('/')
                        && verbs.contains("list")
                        && !readonly_role::is_excluded(profile, group, resource)
                        && !resource.contains('*')
                })
                .map(|(resource, _)| CustomResource {
                    group: group.clone(),
                    resource: resource.clone(),
                })
        })
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
    checks: Vec<(ResourceRequest, bool)>,
    namespaces: &std::collections::BTreeSet<String>,
) -> Vec<(ResourceRequest, bool)> {
    let mut out = checks.clone();
    for ns in namespaces {
        for (right, expected) in &checks {
            if *expected || CLUSTER_SCOPED.contains(&right.resource.as_str()) {
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
pub fn after_revoke() -> Vec<(ResourceRequest, bool)> {
    vec![(ResourceRequest::new("list", "", "pods"), false)]
}

pub async fn run(
    conn: &Connection,
    user: &str,
    group: &str,
    checks: &[(ResourceRequest, bool)],
) -> Result<Vec<Check>, UserError> {
    let groups = vec![group.to_string(), "system:authenticated".to_string()];
    let mut out = Vec::with_capacity(checks.len());
    for (right, expected) in checks {
        let question = Request::from(right.clone());
        let allowed = can_they(conn, user, &groups, &question, &question.describe()).await?;
        out.push(Check {
            verb: right.verb.clone(),
            resource: check_resource(right),
            namespace: right.namespace.clone().unwrap_or_default(),
            allowed,
            expected: *expected,
        });
    }
    Ok(out)
}

/// A check's `resource` (a table cell and a JSON value): `resource[/subresource][.group]`,
/// the order it has always had (`kubectl auth can-i` would put the group before the subresource,
/// but no check asks about a subresource of a named group).
fn check_resource(r: &ResourceRequest) -> String {
    let mut s = r.resource.clone();
    if let Some(sub) = &r.subresource {
        s.push('/');
        s.push_str(sub);
    }
    if !r.api_group.is_empty() {
        s.push('.');
        s.push_str(&r.api_group);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `resource[/subresource]`, as the expectations below name a check.
    fn path(r: &ResourceRequest) -> String {
        match &r.subresource {
            Some(sub) => format!("{}/{sub}", r.resource),
            None => r.resource.clone(),
        }
    }

    fn expected(profile: RoleProfile, verb: &str, resource: &str) -> bool {
        after_grant(profile, None)
            .into_iter()
            .find(|(r, _)| r.verb == verb && path(r) == resource)
            .unwrap_or_else(|| panic!("no check {verb} {resource}"))
            .1
    }

    #[test]
    fn secrets_expectation_follows_the_profile() {
        assert!(!expected(RoleProfile::ReadOnly, "get", "secrets"));
        assert!(expected(RoleProfile::ReadOnlyWithSecrets, "get", "secrets"));
        assert!(expected(RoleProfile::Wildcard, "get", "secrets"));
    }

    #[test]
    fn read_only_profiles_expect_every_dangerous_get_denied() {
        for p in [RoleProfile::ReadOnly, RoleProfile::ReadOnlyWithSecrets] {
            for r in [
                "nodes/proxy",
                "pods/exec",
                "pods/attach",
                "pods/portforward",
                "pods/proxy",
                "services/proxy",
            ] {
                assert!(!expected(p, "get", r), "{p} get {r}");
            }
            assert!(!expected(p, "create", "pods/exec"));
        }
    }

    #[test]
    fn wildcard_expects_what_the_wildcard_really_grants() {
        for r in [
            "nodes/proxy",
            "pods/exec",
            "pods/attach",
            "pods/portforward",
            "pods/proxy",
            "services/proxy",
            "secrets",
        ] {
            assert!(expected(RoleProfile::Wildcard, "get", r), "get {r}");
        }
        assert!(!expected(RoleProfile::Wildcard, "create", "pods/exec"));
    }

    #[test]
    fn every_write_check_expects_denial_and_every_profile_reads() {
        for p in RoleProfile::ALL {
            let checks = after_grant(p, None);
            assert_eq!(checks.len(), 14, "{p}");
            for (right, expected) in &checks {
                if !["get", "list", "watch"].contains(&right.verb.as_str()) {
                    assert!(!expected, "{p} {right:?}");
                }
            }
            assert!(expected(p, "list", "pods"));
            assert!(expected(p, "get", "deployments"));
        }
    }

    #[test]
    fn a_served_custom_resource_is_checked_as_readable() {
        let crd = CustomResource {
            group: "example.com".into(),
            resource: "widgets".into(),
        };
        let checks = after_grant(RoleProfile::ReadOnly, Some(&crd));
        assert_eq!(checks.len(), 15);
        assert!(checks.iter().any(|(r, e)| *e
            && r.verb == "list"
            && r.api_group == "example.com"
            && r.resource == "widgets"));
    }

    #[test]
    fn the_custom_resource_is_a_listable_non_builtin_one() {
        let v = |vs: &[&str]| vs.iter().map(|s| s.to_string()).collect();
        let mut d = DiscoveredResources::new();
        d.entry("apps".into())
            .or_default()
            .insert("deployments".into(), v(&["get", "list"]));
        d.entry("storage.k8s.io".into())
            .or_default()
            .insert("csidrivers".into(), v(&["get", "list"]));
        assert_eq!(pick_custom_resource(RoleProfile::ReadOnly, &d), None);
        d.entry("a.example.com".into())
            .or_default()
            .insert("reviews".into(), v(&["create"]));
        d.entry("a.example.com".into())
            .or_default()
            .insert("things/status".into(), v(&["get", "list"]));
        assert_eq!(pick_custom_resource(RoleProfile::ReadOnly, &d), None);
        d.entry("b.example.com".into())
            .or_default()
            .insert("widgets".into(), v(&["get", "list", "watch"]));
        assert_eq!(
            pick_custom_resource(RoleProfile::ReadOnly, &d),
            Some(CustomResource {
                group: "b.example.com".into(),
                resource: "widgets".into()
            })
        );
    }

    #[test]
    fn denials_are_asked_again_in_each_namespace_with_a_role_binding() {
        let base = vec![
            (ResourceRequest::new("list", "", "pods"), true),
            (
                ResourceRequest::new("create", "", "pods").subresource("exec"),
                false,
            ),
            (
                ResourceRequest::new("get", "", "nodes").subresource("proxy"),
                false,
            ),
            (
                ResourceRequest::new("update", "", "configmaps").namespace("kube-system"),
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
                    path(r),
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
}
