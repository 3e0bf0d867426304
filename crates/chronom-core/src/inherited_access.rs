//! What the identity a grant maps already holds through bindings other than ours, and
//! whether any of it goes beyond what the grant is meant to give.
//!
//! Pure: the listed RBAC objects in, the offending grants out. grant refuses before any write
//! when the list is not empty, because verification after the write would only find the same
//! rights (or miss them, for namespaced ones) when it is too late.

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::awsauth::template::{self, Caller, Session};
use crate::rbac::model::AUTHENTICATED_GROUP;
use crate::rbac::{
    BindingRef, Grant, Identity, QueryScope, RbacObjects, RbacSnapshot, RoleId, Scope, SubjectRef,
};

/// The reads the grant's profile gives anyway, so holding them elsewhere adds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadScope {
    /// get/list/watch of core secrets.
    pub secrets: bool,
    /// get/list/watch of the exec/attach/portforward/proxy subresources (nodes/proxy included)
    /// and serviceaccounts/token: only the wildcard profile has them.
    pub exec_family: bool,
}

impl ReadScope {
    /// The reads `profile` gives anyway, so holding them through another binding adds nothing.
    pub fn of(profile: crate::readonly_role::RoleProfile) -> ReadScope {
        use crate::readonly_role::RoleProfile;
        match profile {
            RoleProfile::ReadOnly => ReadScope::READ_ONLY,
            RoleProfile::ReadOnlyWithSecrets => ReadScope::WITH_SECRETS,
            RoleProfile::Wildcard => ReadScope::EVERYTHING,
        }
    }

    pub const READ_ONLY: ReadScope = ReadScope {
        secrets: false,
        exec_family: false,
    };
    pub const WITH_SECRETS: ReadScope = ReadScope {
        secrets: true,
        exec_family: false,
    };
    pub const EVERYTHING: ReadScope = ReadScope {
        secrets: true,
        exec_family: true,
    };
}

const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// Non-read requests every authenticated user makes about itself (system:basic-user binds them
/// to system:authenticated): they answer "what may I do" and "who am I", and change nothing.
const SELF_REVIEWS: [(&str, &str); 3] = [
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
];

/// Subresources that run code or open a connection through the API server, even over GET.
const EXEC_FAMILY: [&str; 4] = ["exec", "attach", "portforward", "proxy"];

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or_default()
}

/// Why `rule` goes beyond `read`: one line per offending (verbs, groups, resources) part;
/// empty when the rule stays within it.
pub fn beyond_read(rule: &PolicyRule, read: ReadScope) -> Vec<String> {
    let mut out = Vec::new();
    let non_read: Vec<&String> = rule
        .verbs
        .iter()
        .filter(|v| !READ_VERBS.contains(&v.as_str()))
        .collect();
    let reads: Vec<&String> = rule
        .verbs
        .iter()
        .filter(|v| READ_VERBS.contains(&v.as_str()))
        .collect();
    for url in list(&rule.non_resource_urls) {
        if !non_read.is_empty() {
            out.push(format!("{} {url}", join(&non_read)));
        }
    }
    for group in list(&rule.api_groups) {
        for resource in list(&rule.resources) {
            let what = if group.is_empty() {
                resource.clone()
            } else {
                format!("{resource}.{group}")
            };
            let writes: Vec<&String> = non_read
                .iter()
                .copied()
                .filter(|v| {
                    !(v.as_str() == "create"
                        && SELF_REVIEWS.contains(&(group.as_str(), resource.as_str())))
                })
                .collect();
            if !writes.is_empty() {
                out.push(format!("{} {what}", join(&writes)));
            }
            if let Some(why) = excluded_read(group, resource, read)
                && !reads.is_empty()
            {
                out.push(format!("{} {what} ({why})", join(&reads)));
            }
        }
    }
    out
}

fn join(verbs: &[&String]) -> String {
    verbs
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether reading `resource` of `group` (as a rule names them, wildcards included) reads
/// something the profile leaves out, and what.
fn excluded_read(group: &str, resource: &str, read: ReadScope) -> Option<&'static str> {
    let core = group.is_empty() || group == "*";
    let (base, sub) = match resource.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (resource, None),
    };
    if !read.secrets && core && (resource == "*" || base == "secrets") {
        return Some("secrets hold credentials and service-account tokens");
    }
    if read.exec_family {
        return None;
    }
    if resource == "*" {
        return Some(
            "every resource includes the exec/attach/portforward/proxy subresources, which run code over GET",
        );
    }
    if sub.is_some_and(|s| s == "*" || EXEC_FAMILY.contains(&s)) {
        return Some("exec/attach/portforward/proxy run code or open connections, even over GET");
    }
    if core && base == "serviceaccounts" && sub == Some("token") {
        return Some("serviceaccounts/token mints credentials");
    }
    None
}

/// One rule, reached through one binding, that goes beyond the grant.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldBeyond {
    pub binding: BindingRef,
    pub subject: SubjectRef,
    pub role: RoleId,
    pub scope: Scope,
    pub beyond: Vec<String>,
}

impl fmt::Display for HeldBeyond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match &self.scope {
            Scope::Cluster => "cluster-wide".to_string(),
            Scope::Namespace(ns) => format!("in namespace {ns}"),
        };
        write!(
            f,
            "{} binds {} to {}: {} {scope}",
            self.binding,
            self.subject,
            self.role,
            self.beyond.join("; ")
        )
    }
}

/// What the mapped identity holds beyond `read`, through every binding in `objects` except
/// our own (`own_binding`, the ClusterRoleBinding this grant writes, checked separately).
///
/// `users` are the usernames the mapping can produce (one, or several for a template);
/// each is asked with `group` and `system:authenticated`, as the authenticator presents it.
/// A `system:masters` group is reported too: the API server lets it do everything before RBAC.
pub fn held_beyond(
    objects: &RbacObjects,
    own_binding: &str,
    users: &[String],
    group: &str,
    read: ReadScope,
) -> Vec<HeldBeyond> {
    let mut objects = objects.clone();
    objects
        .cluster_role_bindings
        .retain(|b| b.metadata.name.as_deref() != Some(own_binding));
    let snapshot = RbacSnapshot::new(objects, crate::rbac::RuleSource::AsStored);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for user in users {
        let identity = Identity::exact(user, &[group, AUTHENTICATED_GROUP]);
        if identity.is_privileged() && seen.insert(("masters".into(), 0, String::new())) {
            out.push(HeldBeyond {
                binding: BindingRef {
                    kind: crate::rbac::BindingKind::ClusterRoleBinding,
                    namespace: None,
                    name: "(none: the API server's privileged-group authorizer)".into(),
                },
                subject: SubjectRef::group(group),
                role: RoleId::cluster_role("(everything)"),
                scope: Scope::Cluster,
                beyond: vec!["system:masters may do everything, before RBAC is asked".into()],
            });
        }
        for g in snapshot.grants(&identity, &QueryScope::AllNamespaces) {
            let Grant {
                binding,
                role,
                scope,
                subject,
                rule_index,
                rule,
            } = g;
            let beyond = beyond_read(&rule, read);
            if beyond.is_empty()
                || !seen.insert((binding.to_string(), rule_index, subject.to_string()))
            {
                continue;
            }
            out.push(HeldBeyond {
                binding,
                subject,
                role,
                scope,
                beyond,
            });
        }
    }
    out
}

/// Whether the mapping's username template can produce `candidate` for some session of the
/// role: [`template::can_produce`], the one answer the audit's who-can, lookup and findings use.
pub fn template_can_produce(template: &str, account: &str, candidate: &str) -> bool {
    let caller = Caller {
        account_id: Some(account),
        session: Session::Any,
    };
    template::can_produce(template, &caller, candidate)
}

/// The usernames to evaluate for a mapping: `sample` (the template rendered with placeholder
/// values) and every User subject of a binding that the template can produce, since the
/// caller who picks the session name can become any of them.
pub fn usernames_to_check(
    template: &str,
    account: &str,
    sample: &str,
    objects: &RbacObjects,
) -> Vec<String> {
    let mut out = vec![sample.to_string()];
    if !template.contains("{{") {
        return out;
    }
    let subjects = objects
        .cluster_role_bindings
        .iter()
        .filter_map(|b| b.subjects.as_ref())
        .chain(
            objects
                .role_bindings
                .iter()
                .filter_map(|b| b.subjects.as_ref()),
        )
        .flatten();
    for s in subjects {
        if s.kind == "User"
            && !out.contains(&s.name)
            && template_can_produce(template, account, &s.name)
        {
            out.push(s.name.clone());
        }
    }
    out
}

/// Namespaces where one of `users` or `group` has a RoleBinding: verification asks its
/// denials there too, since a RoleBinding grants nothing a cluster-wide question sees.
pub fn role_binding_namespaces(
    objects: &RbacObjects,
    users: &[String],
    group: &str,
) -> BTreeSet<String> {
    objects
        .role_bindings
        .iter()
        .filter(|b| {
            b.subjects.iter().flatten().any(|s| {
                (s.kind == "Group" && s.name == group)
                    || (s.kind == "User" && users.contains(&s.name))
            })
        })
        .filter_map(|b| b.metadata.namespace.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{
        ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use crate::rbac::rule::{non_resource_rule, policy_rule as rule};

    fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: ns.map(Into::into),
            ..Default::default()
        }
    }

    fn subject(kind: &str, name: &str) -> Subject {
        Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: kind.into(),
            name: name.into(),
            namespace: None,
        }
    }

    fn role_ref(kind: &str, name: &str) -> RoleRef {
        RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: kind.into(),
            name: name.into(),
        }
    }

    fn cr(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
        ClusterRole {
            metadata: meta(None, name),
            rules: Some(rules),
            aggregation_rule: None,
        }
    }

    fn crb(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
        ClusterRoleBinding {
            metadata: meta(None, name),
            role_ref: role_ref("ClusterRole", role),
            subjects: Some(subjects),
        }
    }

    /// The bindings every API server creates for system:authenticated (bootstrap policy).
    fn defaults() -> RbacObjects {
        RbacObjects {
            cluster_roles: vec![
                cr(
                    "system:basic-user",
                    vec![
                        rule(
                            &["create"],
                            &["authorization.k8s.io"],
                            &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                            &[],
                        ),
                        rule(
                            &["create"],
                            &["authentication.k8s.io"],
                            &["selfsubjectreviews"],
                            &[],
                        ),
                    ],
                ),
                cr(
                    "system:discovery",
                    vec![non_resource_rule(
                        &["get"],
                        &[
                            "/api",
                            "/api/*",
                            "/apis",
                            "/apis/*",
                            "/healthz",
                            "/livez",
                            "/openapi",
                            "/openapi/*",
                            "/readyz",
                            "/version",
                            "/version/",
                        ],
                    )],
                ),
                cr(
                    "system:public-info-viewer",
                    vec![non_resource_rule(
                        &["get"],
                        &["/healthz", "/livez", "/readyz", "/version", "/version/"],
                    )],
                ),
                cr(
                    "cluster-admin",
                    vec![
                        rule(&["*"], &["*"], &["*"], &[]),
                        non_resource_rule(&["*"], &["*"]),
                    ],
                ),
                cr(
                    "chronom-readonly",
                    vec![rule(&["get", "list", "watch"], &["*"], &["*"], &[])],
                ),
            ],
            cluster_role_bindings: [
                "system:basic-user",
                "system:discovery",
                "system:public-info-viewer",
            ]
            .into_iter()
            .map(|n| crb(n, n, vec![subject("Group", AUTHENTICATED_GROUP)]))
            .chain([crb(
                "system:masters-admin",
                "cluster-admin",
                vec![subject("Group", "system:masters")],
            )])
            .collect(),
            roles: vec![],
            role_bindings: vec![],
        }
    }

    fn held(objects: &RbacObjects, user: &str, group: &str) -> Vec<HeldBeyond> {
        held_beyond(
            objects,
            "chronom-readonly",
            &[user.to_string()],
            group,
            ReadScope::READ_ONLY,
        )
    }

    #[test]
    fn the_default_authenticated_bindings_are_within_read_only() {
        assert_eq!(held(&defaults(), "scanner", "chronom-readers"), vec![]);
    }

    #[test]
    fn our_own_binding_is_not_counted_but_any_other_is() {
        let mut o = defaults();
        o.cluster_role_bindings.push(crb(
            "chronom-readonly",
            "chronom-readonly",
            vec![subject("Group", "readers")],
        ));
        assert_eq!(held(&o, "scanner", "readers"), vec![]);
        o.cluster_role_bindings.push(crb(
            "someone-elses",
            "chronom-readonly",
            vec![subject("Group", "readers")],
        ));
        let h = held(&o, "scanner", "readers");
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h[0].binding.name, "someone-elses");
        assert!(h[0].beyond.iter().any(|b| b.contains("secrets")), "{h:?}");
    }

    #[test]
    fn a_user_s_namespaced_exec_is_found_and_named() {
        let mut o = defaults();
        o.roles.push(Role {
            metadata: meta(Some("team-x"), "debugger"),
            rules: Some(vec![
                rule(&["get", "list"], &[""], &["pods"], &[]),
                rule(&["create"], &[""], &["pods/exec"], &[]),
            ]),
        });
        o.role_bindings.push(RoleBinding {
            metadata: meta(Some("team-x"), "bob-debug"),
            role_ref: role_ref("Role", "debugger"),
            subjects: Some(vec![subject("User", "bob")]),
        });
        let h = held(&o, "bob", "readers");
        assert_eq!(h.len(), 1, "{h:?}");
        let line = h[0].to_string();
        assert!(
            line.contains("RoleBinding/team-x/bob-debug")
                && line.contains("User/bob")
                && line.contains("create pods/exec")
                && line.contains("in namespace team-x"),
            "{line}"
        );
        assert_eq!(held(&o, "alice", "readers"), vec![]);
        assert_eq!(
            role_binding_namespaces(&o, &["bob".into()], "readers"),
            BTreeSet::from(["team-x".to_string()])
        );
        assert!(role_binding_namespaces(&o, &["alice".into()], "readers").is_empty());
    }

    #[test]
    fn a_group_bound_to_cluster_admin_or_masters_is_found() {
        let mut o = defaults();
        o.cluster_role_bindings.push(crb(
            "team-admins",
            "cluster-admin",
            vec![subject("Group", "admins")],
        ));
        let h = held(&o, "scanner", "admins");
        assert_eq!(h.len(), 2, "both cluster-admin rules: {h:?}");
        assert!(h.iter().all(|x| x.binding.name == "team-admins"));
        let m = held(&o, "scanner", "system:masters");
        assert!(
            m.iter().any(|x| x.to_string().contains("before RBAC")),
            "{m:?}"
        );
    }

    #[test]
    fn what_counts_as_beyond_read_only() {
        let ro = ReadScope::READ_ONLY;
        let within = [
            rule(
                &["get", "list", "watch"],
                &["", "apps"],
                &["pods", "pods/log", "deployments"],
                &[],
            ),
            rule(
                &["create"],
                &["authorization.k8s.io"],
                &["selfsubjectaccessreviews"],
                &[],
            ),
            rule(
                &["create"],
                &["authentication.k8s.io"],
                &["selfsubjectreviews"],
                &[],
            ),
            rule(&["get"], &["example.com"], &["secrets"], &[]),
            non_resource_rule(&["get"], &["/metrics", "/logs/*"]),
        ];
        for r in within {
            assert_eq!(beyond_read(&r, ro), Vec::<String>::new(), "{r:?}");
        }
        let beyond = [
            (rule(&["get"], &[""], &["secrets"], &[]), "get secrets"),
            (
                rule(&["list"], &["*"], &["secrets"], &["a"]),
                "list secrets.*",
            ),
            (
                rule(&["get"], &[""], &["nodes/proxy"], &[]),
                "get nodes/proxy",
            ),
            (rule(&["get"], &[""], &["pods/exec"], &[]), "get pods/exec"),
            (
                rule(&["get"], &[""], &["pods/attach"], &[]),
                "get pods/attach",
            ),
            (
                rule(&["get"], &[""], &["pods/portforward"], &[]),
                "get pods/portforward",
            ),
            (
                rule(&["get"], &[""], &["services/proxy"], &[]),
                "get services/proxy",
            ),
            (
                rule(&["get"], &["x.io"], &["*/proxy"], &[]),
                "get */proxy.x.io",
            ),
            (rule(&["get"], &["apps"], &["*"], &[]), "get *.apps"),
            (
                rule(&["get"], &[""], &["serviceaccounts/token"], &[]),
                "get serviceaccounts/token",
            ),
            (rule(&["create"], &[""], &["pods"], &[]), "create pods"),
            (
                rule(&["update"], &[""], &["configmaps"], &["aws-auth"]),
                "update configmaps",
            ),
            (
                rule(
                    &["*"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews"],
                    &[],
                ),
                "* selfsubjectaccessreviews",
            ),
            (
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["subjectaccessreviews"],
                    &[],
                ),
                "create subjectaccessreviews",
            ),
            (
                rule(&["create"], &["*"], &["selfsubjectaccessreviews"], &[]),
                "create selfsubjectaccessreviews.*",
            ),
            (
                rule(&["impersonate"], &[""], &["users"], &[]),
                "impersonate users",
            ),
            (
                rule(
                    &["escalate", "bind"],
                    &["rbac.authorization.k8s.io"],
                    &["clusterroles"],
                    &[],
                ),
                "escalate,bind clusterroles",
            ),
            (
                rule(&["use"], &["policy"], &["podsecuritypolicies"], &[]),
                "use podsecuritypolicies",
            ),
            (non_resource_rule(&["post"], &["/apis/*"]), "post /apis/*"),
        ];
        for (r, want) in beyond {
            let got = beyond_read(&r, ro);
            assert!(got.iter().any(|g| g.starts_with(want)), "{r:?}: {got:?}");
        }
    }

    #[test]
    fn the_profile_s_own_reads_are_not_counted() {
        let secrets = rule(&["get", "list"], &[""], &["secrets"], &[]);
        assert!(!beyond_read(&secrets, ReadScope::READ_ONLY).is_empty());
        assert!(beyond_read(&secrets, ReadScope::WITH_SECRETS).is_empty());
        let exec = rule(&["get"], &[""], &["pods/exec", "nodes/proxy"], &[]);
        assert!(!beyond_read(&exec, ReadScope::WITH_SECRETS).is_empty());
        assert!(beyond_read(&exec, ReadScope::EVERYTHING).is_empty());
        let write = rule(&["get", "patch"], &[""], &["pods"], &[]);
        assert_eq!(beyond_read(&write, ReadScope::EVERYTHING), ["patch pods"]);
    }

    #[test]
    fn templates_match_the_users_a_session_can_become() {
        let acct = "111122223333";
        for (t, u) in [
            ("chronom:{{SessionName}}", "chronom:alice"),
            // The session "a.b@c": {{SessionName}} renders '@' as '-' (issue 14).
            ("chronom:{{SessionName}}", "chronom:a.b-c"),
            ("x-{{AccountID}}-{{SessionNameRaw}}", "x-111122223333-bob"),
            ("plain", "plain"),
        ] {
            assert!(template_can_produce(t, acct, u), "{t} {u}");
        }
        for (t, u) in [
            ("chronom:{{SessionName}}", "chronom:"),
            ("chronom:{{SessionName}}", "chronom:a:b"),
            ("chronom:{{SessionName}}", "chronom:a.b@c"),
            ("chronom:{{SessionName}}", "other:alice"),
            ("x-{{AccountID}}", "x-444455556666"),
            ("plain", "plainer"),
        ] {
            assert!(!template_can_produce(t, acct, u), "{t} {u}");
        }
        let mut o = defaults();
        o.cluster_role_bindings.push(crb(
            "alice-admin",
            "cluster-admin",
            vec![subject("User", "chronom:alice"), subject("User", "bob")],
        ));
        let users = usernames_to_check(
            "chronom:{{SessionName}}",
            acct,
            "chronom:chronom-verify",
            &o,
        );
        assert_eq!(users, ["chronom:chronom-verify", "chronom:alice"]);
        let h = held_beyond(
            &o,
            "chronom-readonly",
            &users,
            "readers",
            ReadScope::READ_ONLY,
        );
        assert!(
            h.iter()
                .any(|x| x.subject == SubjectRef::user("chronom:alice")),
            "{h:?}"
        );
    }
}
