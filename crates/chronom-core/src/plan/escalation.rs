//! Kubernetes' RBAC escalation prevention, as grant meets it. The API server lets a caller
//! create or update a ClusterRole only if the caller holds every right the role grants, or
//! may `escalate` that ClusterRole; and create a binding to it only if the caller holds every
//! right of the role, or may `bind` it (members of system:masters skip both checks). A caller
//! who has the write rights but neither would get a 403 in the middle of the apply, after
//! aws-auth or the role was already written; so grant asks first, and refuses up front.
//!
//! Kubernetes checks "holds every right" against the caller's RBAC rules only; we ask with
//! SelfSubjectAccessReviews, which also count a webhook authorizer (EKS access policies). A
//! caller let in by a webhook alone may therefore pass here and still be refused by the API
//! server; the refusal then comes from the apply, which rolls back what it wrote.

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};

use crate::rbac::{NonResourceRequest, Request, ResourceRequest};

const RBAC: &str = "rbac.authorization.k8s.io";

/// `escalate` on the ClusterRole grant writes: lets the caller write rules it does not hold.
/// Asked with the role's name: grant writes by server-side apply, a PATCH to the named object
/// even when it creates it, and the API server checks `escalate` with the request's name
/// (escalation_check.go `RoleEscalationAuthorized`); a POST to the collection would carry none.
pub fn escalate(role_name: &str) -> ResourceRequest {
    ResourceRequest::new("escalate", RBAC, "clusterroles").name(role_name)
}

/// `bind` on the ClusterRole: lets the caller bind it without holding its rules.
pub fn bind(role_name: &str) -> ResourceRequest {
    ResourceRequest::new("bind", RBAC, "clusterroles").name(role_name)
}

/// Every right `role` grants, one question each, cluster-wide (a ClusterRole bound by a
/// ClusterRoleBinding applies everywhere), in rule order without repeats.
pub fn rights_of(role: &ClusterRole) -> Vec<Request> {
    let mut out: Vec<Request> = Vec::new();
    for rule in role.rules.iter().flatten() {
        for q in rule_rights(rule) {
            if !out.contains(&q) {
                out.push(q);
            }
        }
    }
    out
}

fn rule_rights(rule: &PolicyRule) -> Vec<Request> {
    let mut out = Vec::new();
    let groups = rule.api_groups.clone().unwrap_or_default();
    let resources = rule.resources.clone().unwrap_or_default();
    let names = rule.resource_names.clone().unwrap_or_default();
    for verb in &rule.verbs {
        for group in &groups {
            for resource in &resources {
                // `pods/log` is the resource `pods`, subresource `log`, as the authorizer sees it.
                let (res, sub) = resource.split_once('/').unwrap_or((resource.as_str(), ""));
                let base = ResourceRequest::new(verb, group, res).subresource(sub);
                if names.is_empty() {
                    out.push(Request::Resource(base));
                } else {
                    out.extend(
                        names
                            .iter()
                            .map(|n| Request::Resource(base.clone().name(n))),
                    );
                }
            }
        }
        for path in rule.non_resource_urls.iter().flatten() {
            out.push(Request::NonResource(NonResourceRequest {
                verb: verb.clone(),
                path: path.clone(),
            }));
        }
    }
    out
}

/// What the server answered about the caller, for the writes the plan makes.
#[derive(Debug, Clone, Default)]
pub struct CallerRights {
    pub may_escalate: bool,
    pub may_bind: bool,
    /// The role's rights the caller does not hold; `None` when they were not asked (both
    /// `escalate` and `bind` were allowed, so they do not matter).
    pub not_held: Option<Vec<Request>>,
}

/// Why the API server would refuse grant's role or binding write, or `None` when it would not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationRefusal {
    /// `escalate` and/or `bind` on the role, whichever the writes need and the caller lacks.
    pub missing: Vec<ResourceRequest>,
    /// The role's rights the caller does not hold (holding all of them would do instead).
    pub not_held: Vec<Request>,
}

/// Whether writing the role (`writes_role`) and its binding (`writes_binding`) would pass
/// the API server's escalation checks, from what the caller was found to hold.
pub fn check(
    role_name: &str,
    writes_role: bool,
    writes_binding: bool,
    caller: &CallerRights,
) -> Option<EscalationRefusal> {
    let needs_escalate = writes_role && !caller.may_escalate;
    let needs_bind = writes_binding && !caller.may_bind;
    if !needs_escalate && !needs_bind {
        return None;
    }
    let not_held = caller.not_held.clone().unwrap_or_default();
    if caller.not_held.is_some() && not_held.is_empty() {
        return None;
    }
    let mut missing = Vec::new();
    if needs_escalate {
        missing.push(escalate(role_name));
    }
    if needs_bind {
        missing.push(bind(role_name));
    }
    Some(EscalationRefusal { missing, not_held })
}

impl EscalationRefusal {
    /// The paragraph under the list of missing rights: why they are needed, and what else
    /// would do. At most `shown` of the role's rights are listed.
    pub fn explain(&self, role_name: &str, shown: usize) -> String {
        let mut s = format!(
            "  The API server refuses to write or bind ClusterRole {role_name} for a caller that neither may escalate/bind it nor holds every right it grants (Kubernetes RBAC escalation prevention).\n  Rights of the role you do not hold ({}):",
            self.not_held.len()
        );
        for r in self.not_held.iter().take(shown) {
            s.push_str(&format!("\n    - {}", r.describe()));
        }
        if self.not_held.len() > shown {
            s.push_str(&format!("\n    - and {} more", self.not_held.len() - shown));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(json: &str) -> ClusterRole {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_verb_group_resource_and_path_is_one_question() {
        let r = role(
            r#"{"metadata":{"name":"r"},"rules":[
              {"apiGroups":["","apps"],"resources":["pods","pods/log"],"verbs":["get","list"]},
              {"apiGroups":[""],"resources":["pods"],"verbs":["get"]},
              {"apiGroups":[""],"resources":["configmaps"],"resourceNames":["a","b"],"verbs":["get"]},
              {"nonResourceURLs":["/healthz"],"verbs":["get"]}]}"#,
        );
        let qs: Vec<String> = rights_of(&r).iter().map(|q| q.describe()).collect();
        assert_eq!(qs.len(), 2 * 2 * 2 + 2 + 1, "{qs:#?}");
        assert!(
            qs.contains(&"get pods/log (cluster-wide)".to_string()),
            "{qs:#?}"
        );
        assert!(qs.iter().any(|q| q.contains("configmaps/a")), "{qs:#?}");
        assert!(qs.contains(&"get /healthz".to_string()), "{qs:#?}");
        // the repeated rule adds nothing
        assert_eq!(
            qs.iter()
                .filter(|q| *q == "get pods (cluster-wide)")
                .count(),
            1
        );
    }

    fn rights(may_escalate: bool, may_bind: bool, not_held: Option<usize>) -> CallerRights {
        CallerRights {
            may_escalate,
            may_bind,
            not_held: not_held.map(|n| {
                (0..n)
                    .map(|i| Request::Resource(ResourceRequest::new("get", "", &format!("r{i}"))))
                    .collect()
            }),
        }
    }

    #[test]
    fn a_caller_passes_with_escalate_and_bind_or_with_every_right() {
        assert_eq!(check("r", true, true, &rights(true, true, None)), None);
        assert_eq!(check("r", true, true, &rights(false, false, Some(0))), None);
        assert_eq!(
            check("r", false, false, &rights(false, false, Some(3))),
            None
        );
        // only the binding is written: escalate does not matter
        assert_eq!(check("r", false, true, &rights(false, true, None)), None);
    }

    #[test]
    fn a_caller_without_them_is_told_each_missing_right() {
        let r = check("r", true, true, &rights(false, false, Some(12))).unwrap();
        assert_eq!(r.missing, vec![escalate("r"), bind("r")]);
        assert_eq!(r.not_held.len(), 12);
        let text = r.explain("r", 10);
        assert!(text.contains("escalation prevention"), "{text}");
        assert!(
            text.contains("(12)") && text.contains("and 2 more"),
            "{text}"
        );

        let r = check("r", true, true, &rights(false, true, Some(1))).unwrap();
        assert_eq!(r.missing, vec![escalate("r")], "bind is allowed");
        let r = check("r", false, true, &rights(false, false, Some(1))).unwrap();
        assert_eq!(r.missing, vec![bind("r")], "the role is not written");
    }
}
