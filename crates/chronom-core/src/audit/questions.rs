//! The questions `audit --verify` asks the live authorizer for every mapped identity: the
//! allows and denies the report's summaries and findings rely on. Asking is the binary's
//! `audit::sar_check`.

use crate::rbac::{NonResourceRequest, Request, ResourceRequest};

/// One resource question: verb, API group, resource, subresource, name, namespace.
type Question = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

const RBAC: &str = "rbac.authorization.k8s.io";

/// The reads the summaries count (pods, secrets, workloads, nodes).
const READS: [Question; 5] = [
    ("list", "", "pods", None, None, None),
    ("get", "", "secrets", None, None, None),
    ("list", "", "secrets", None, None, Some("kube-system")),
    ("watch", "apps", "deployments", None, None, None),
    ("get", "", "nodes", None, None, None),
];

/// The writes and escalations the findings are about, in the order they are reported.
const DANGERS: [Question; 16] = [
    ("create", "", "pods", None, None, Some("default")),
    (
        "create",
        "",
        "pods",
        Some("exec"),
        Some("any"),
        Some("kube-system"),
    ),
    (
        "create",
        "",
        "pods",
        Some("attach"),
        Some("any"),
        Some("kube-system"),
    ),
    ("get", "", "nodes", Some("proxy"), Some("any"), None),
    (
        "update",
        "",
        "configmaps",
        None,
        Some("aws-auth"),
        Some("kube-system"),
    ),
    (
        "patch",
        "",
        "configmaps",
        None,
        Some("aws-auth"),
        Some("kube-system"),
    ),
    ("escalate", RBAC, "clusterroles", None, None, None),
    ("bind", RBAC, "clusterroles", None, None, None),
    ("impersonate", "", "users", None, None, None),
    ("impersonate", "", "groups", None, None, None),
    (
        "create",
        "",
        "serviceaccounts",
        Some("token"),
        Some("default"),
        Some("kube-system"),
    ),
    (
        "approve",
        "certificates.k8s.io",
        "signers",
        None,
        Some("kubernetes.io/kube-apiserver-client"),
        None,
    ),
    (
        "update",
        "certificates.k8s.io",
        "certificatesigningrequests",
        Some("approval"),
        Some("any"),
        None,
    ),
    (
        "create",
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        None,
        None,
        None,
    ),
    (
        "patch",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
        None,
        Some("any"),
        None,
    ),
    ("delete", "", "namespaces", None, Some("kube-system"), None),
];

/// The non-resource paths: verb, path.
const PATHS: [(&str, &str); 2] = [("get", "/metrics"), ("get", "/healthz")];

fn resource((verb, group, resource, sub, name, ns): Question) -> Request {
    let mut q = ResourceRequest::new(verb, group, resource);
    q.subresource = sub.map(str::to_string);
    q.name = name.map(str::to_string);
    q.namespace = ns.map(str::to_string);
    Request::Resource(q)
}

/// The questions behind the report's summaries and findings, each with its namespace.
pub fn questions() -> Vec<Request> {
    let paths = PATHS.iter().map(|(verb, path)| {
        Request::NonResource(NonResourceRequest {
            verb: verb.to_string(),
            path: path.to_string(),
        })
    });
    READS
        .into_iter()
        .chain(DANGERS)
        .map(resource)
        .chain(paths)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The questions and their order are part of the report: `verification.queries` counts
    /// them and each mismatch's `request` is its description.
    #[test]
    fn the_questions_in_order() {
        let described: Vec<String> = questions()
            .iter()
            .map(Request::describe_for_audit)
            .collect();
        assert_eq!(
            described,
            [
                "list pods cluster-wide",
                "get secrets cluster-wide",
                "list secrets in kube-system",
                "watch deployments (apps) cluster-wide",
                "get nodes cluster-wide",
                "create pods in default",
                "create pods/exec named any in kube-system",
                "create pods/attach named any in kube-system",
                "get nodes/proxy named any cluster-wide",
                "update configmaps named aws-auth in kube-system",
                "patch configmaps named aws-auth in kube-system",
                "escalate clusterroles (rbac.authorization.k8s.io) cluster-wide",
                "bind clusterroles (rbac.authorization.k8s.io) cluster-wide",
                "impersonate users cluster-wide",
                "impersonate groups cluster-wide",
                "create serviceaccounts/token named default in kube-system",
                "approve signers (certificates.k8s.io) named kubernetes.io/kube-apiserver-client cluster-wide",
                "update certificatesigningrequests/approval (certificates.k8s.io) named any cluster-wide",
                "create validatingwebhookconfigurations (admissionregistration.k8s.io) cluster-wide",
                "patch mutatingwebhookconfigurations (admissionregistration.k8s.io) named any cluster-wide",
                "delete namespaces named kube-system cluster-wide",
                "get /metrics",
                "get /healthz",
            ]
        );
    }
}
