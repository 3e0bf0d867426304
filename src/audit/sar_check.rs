//! `audit --verify`: ask the live authorizer every allow/deny the report relies on, for every
//! active mapped identity, and list where our evaluator disagrees.

use k8s_openapi::api::authorization::v1::{NonResourceAttributes, ResourceAttributes};

use crate::connect::Connection;
use crate::connect::identity::review;
use chronom_core::audit::report::{AuditReport, Mismatch, Verification, identity_of};
use chronom_core::error::UserError;
use chronom_core::rbac::{NonResourceRequest, RbacSnapshot, Request, ResourceRequest};

/// The questions behind the report's summaries and findings, each with its namespace.
pub fn questions() -> Vec<Request> {
    let r = |verb: &str,
             group: &str,
             resource: &str,
             sub: Option<&str>,
             name: Option<&str>,
             ns: Option<&str>| {
        let mut q = ResourceRequest::new(verb, group, resource);
        q.subresource = sub.map(str::to_string);
        q.name = name.map(str::to_string);
        q.namespace = ns.map(str::to_string);
        Request::Resource(q)
    };
    let rbac = "rbac.authorization.k8s.io";
    vec![
        r("list", "", "pods", None, None, None),
        r("get", "", "secrets", None, None, None),
        r("list", "", "secrets", None, None, Some("kube-system")),
        r("watch", "apps", "deployments", None, None, None),
        r("get", "", "nodes", None, None, None),
        r("create", "", "pods", None, None, Some("default")),
        r(
            "create",
            "",
            "pods",
            Some("exec"),
            Some("any"),
            Some("kube-system"),
        ),
        r(
            "create",
            "",
            "pods",
            Some("attach"),
            Some("any"),
            Some("kube-system"),
        ),
        r("get", "", "nodes", Some("proxy"), Some("any"), None),
        r(
            "update",
            "",
            "configmaps",
            None,
            Some("aws-auth"),
            Some("kube-system"),
        ),
        r(
            "patch",
            "",
            "configmaps",
            None,
            Some("aws-auth"),
            Some("kube-system"),
        ),
        r("escalate", rbac, "clusterroles", None, None, None),
        r("bind", rbac, "clusterroles", None, None, None),
        r("impersonate", "", "users", None, None, None),
        r("impersonate", "", "groups", None, None, None),
        r(
            "create",
            "",
            "serviceaccounts",
            Some("token"),
            Some("default"),
            Some("kube-system"),
        ),
        r(
            "approve",
            "certificates.k8s.io",
            "signers",
            None,
            Some("kubernetes.io/kube-apiserver-client"),
            None,
        ),
        r(
            "update",
            "certificates.k8s.io",
            "certificatesigningrequests",
            Some("approval"),
            Some("any"),
            None,
        ),
        r(
            "create",
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            None,
            None,
            None,
        ),
        r(
            "patch",
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations",
            None,
            Some("any"),
            None,
        ),
        r("delete", "", "namespaces", None, Some("kube-system"), None),
        Request::NonResource(NonResourceRequest {
            verb: "get".into(),
            path: "/metrics".into(),
        }),
        Request::NonResource(NonResourceRequest {
            verb: "get".into(),
            path: "/healthz".into(),
        }),
    ]
}

pub fn describe(q: &Request) -> String {
    match q {
        Request::Resource(r) => {
            let mut s = format!("{} {}", r.verb, r.resource);
            if let Some(sub) = &r.subresource {
                s.push_str(&format!("/{sub}"));
            }
            if !r.api_group.is_empty() {
                s.push_str(&format!(" ({})", r.api_group));
            }
            if let Some(n) = &r.name {
                s.push_str(&format!(" named {n}"));
            }
            s.push_str(&match &r.namespace {
                Some(ns) => format!(" in {ns}"),
                None => " cluster-wide".into(),
            });
            s
        }
        Request::NonResource(n) => format!("{} {}", n.verb, n.path),
    }
}

fn attributes(q: &Request) -> (Option<ResourceAttributes>, Option<NonResourceAttributes>) {
    match q {
        Request::Resource(r) => (
            Some(ResourceAttributes {
                verb: Some(r.verb.clone()),
                group: Some(r.api_group.clone()),
                resource: Some(r.resource.clone()),
                subresource: r.subresource.clone(),
                name: r.name.clone(),
                namespace: r.namespace.clone(),
                ..Default::default()
            }),
            None,
        ),
        Request::NonResource(n) => (
            None,
            Some(NonResourceAttributes {
                verb: Some(n.verb.clone()),
                path: Some(n.path.clone()),
            }),
        ),
    }
}

pub async fn verify(
    conn: &Connection,
    report: &AuditReport,
    snapshot: &RbacSnapshot,
) -> Result<Verification, UserError> {
    let questions = questions();
    let mut queries = 0;
    let mut mismatches = Vec::new();
    for m in report.mappings.iter().filter(|m| m.mapping.active) {
        let identity = identity_of(&m.mapping);
        for q in &questions {
            let ours = snapshot.allows(&identity, q).allowed;
            let (res, non) = attributes(q);
            let server = review(
                conn,
                &identity.user,
                &identity.groups,
                res,
                non,
                &describe(q),
            )
            .await?;
            queries += 1;
            if ours != server {
                mismatches.push(Mismatch {
                    principal: m.mapping.principal.clone(),
                    user: identity.user.clone(),
                    groups: identity.groups.clone(),
                    request: describe(q),
                    ours,
                    server,
                });
            }
        }
    }
    Ok(Verification {
        queries,
        mismatches,
    })
}
