//! What `who-can` accepts as a question: a verb the API server authorizes and a target a real
//! request could carry. kubectl auth can-i (`staging/src/k8s.io/kubectl/pkg/cmd/auth/cani.go`,
//! `resourceVerbs` and `nonResourceVerbs`) only warns "verb 'x' is not a known verb" and asks
//! anyway; an answer of "nobody" to a typo reads as a clean bill of health, so we refuse
//! instead. Names follow apimachinery's `path.IsValidPathSegmentName`: no object name holds a
//! `/`, so `pods/exec/extra/more` is a mistake, not a pod named `exec/extra/more`. The one
//! RBAC resource whose names do hold `/` is certificates.k8s.io `signers`
//! (`kubernetes.io/kube-apiserver-client`), which names no object.

use super::request::Request;

/// The verbs kubectl auth can-i knows for resources (cani.go `resourceVerbs`).
pub const RESOURCE_VERBS: [&str; 16] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "impersonate",
    "escalate",
    "approve",
    "sign",
    "attest",
    "*",
];

/// The verbs kubectl auth can-i knows for non-resource URLs (cani.go `nonResourceVerbs`).
pub const NON_RESOURCE_VERBS: [&str; 8] = [
    "get", "put", "post", "head", "options", "delete", "patch", "*",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IllFormed {
    #[error("{verb:?} is not a verb the API server authorizes on resources")]
    ResourceVerb { verb: String },
    #[error("{verb:?} is not a verb the API server authorizes on a non-resource URL")]
    NonResourceVerb { verb: String },
    #[error("{target:?} names an object {name:?}, and object names cannot contain `/`")]
    SlashInName { target: String, name: String },
}

impl IllFormed {
    /// What to write instead.
    pub fn next_step(&self) -> String {
        match self {
            IllFormed::ResourceVerb { .. } => {
                format!("use one of: {}", RESOURCE_VERBS.join(", "))
            }
            IllFormed::NonResourceVerb { .. } => {
                format!("use one of: {}", NON_RESOURCE_VERBS.join(", "))
            }
            IllFormed::SlashInName { .. } => {
                "write RESOURCE, RESOURCE/SUBRESOURCE, RESOURCE/NAME or RESOURCE/NAME/SUBRESOURCE \
                 (e.g. pods, pods/exec, pods/web-0, pods/web-0/exec)"
                    .to_string()
            }
        }
    }
}

/// `Ok` when `request` is a question the authorizer could be asked by a real request.
pub fn check(request: &Request) -> Result<(), IllFormed> {
    match request {
        Request::NonResource(r) => {
            if !NON_RESOURCE_VERBS.contains(&r.verb.as_str()) {
                return Err(IllFormed::NonResourceVerb {
                    verb: r.verb.clone(),
                });
            }
        }
        Request::Resource(r) => {
            if !RESOURCE_VERBS.contains(&r.verb.as_str()) {
                return Err(IllFormed::ResourceVerb {
                    verb: r.verb.clone(),
                });
            }
            let signers = r.api_group == "certificates.k8s.io" && r.resource == "signers";
            if let Some(name) = r.name.as_deref().filter(|n| n.contains('/') && !signers) {
                return Err(IllFormed::SlashInName {
                    target: request.target(),
                    name: name.to_string(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::{ResourceCatalog, parse_verb_target};

    fn checked(verb: &str, target: &str) -> Result<(), IllFormed> {
        check(&parse_verb_target(verb, target, &ResourceCatalog::builtin()).unwrap())
    }

    #[test]
    fn real_questions_pass() {
        for (verb, target) in [
            ("get", "pods"),
            ("create", "pods/exec"),
            ("get", "pods/web-0"),
            ("get", "pods/web-0/exec"),
            ("update", "configmaps/aws-auth"),
            ("*", "*"),
            ("impersonate", "users"),
            ("escalate", "clusterroles.rbac.authorization.k8s.io"),
            (
                "sign",
                "signers.certificates.k8s.io/kubernetes.io/kube-apiserver-client",
            ),
            ("get", "/metrics"),
            ("post", "/logs"),
        ] {
            assert_eq!(checked(verb, target), Ok(()), "{verb} {target}");
        }
    }

    #[test]
    fn bogus_verbs_and_slashed_names_are_refused() {
        assert!(matches!(
            checked("fly", "pods"),
            Err(IllFormed::ResourceVerb { .. })
        ));
        assert!(matches!(
            checked("GET", "pods"),
            Err(IllFormed::ResourceVerb { .. })
        ));
        assert!(matches!(
            checked("list", "/metrics"),
            Err(IllFormed::NonResourceVerb { .. })
        ));
        for target in [
            "pods/exec/extra/more",
            "secrets/a/b",
            "configmaps/kube-system/aws-auth",
        ] {
            assert!(
                matches!(checked("get", target), Err(IllFormed::SlashInName { .. })),
                "{target}"
            );
        }
    }
}
