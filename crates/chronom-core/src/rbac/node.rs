//! The Node authorizer, which runs before RBAC on EKS and on our control plane
//! (`--authorization-mode=Node,RBAC`). Followed: kubernetes v1.37.2
//! `plugin/pkg/auth/authorizer/node/node_authorizer.go` (`Authorize`) and the static
//! `NodeRules()` of `plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`.
//!
//! It answers only for `system:node:<name>` in `system:nodes`. Resources it decides from its
//! graph of pods, volumes and claims bound to the node are answered "no opinion" here: offline
//! we do not know the node's pods, and an audit should not credit a node with another pod's
//! secrets. Requests with field selectors are not modelled either.

use std::sync::OnceLock;

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::model::Identity;
use super::request::Request;
use super::rule::{policy_rule, rule_allows};

/// The node name of a node identity.
pub fn node_identity(id: &Identity) -> Option<&str> {
    let name = id.user.strip_prefix("system:node:")?;
    id.in_group("system:nodes").then_some(name)
}

/// The Node authorizer's decision for a request (true: allowed; false: no opinion).
pub fn allows(id: &Identity, request: &Request) -> bool {
    static RULES: OnceLock<Vec<PolicyRule>> = OnceLock::new();
    node_authorizer_allows(id, request, RULES.get_or_init(node_rules))
}

/// `bootstrappolicy.NodeRules()` as installed on a v1.37 server (feature gates at their defaults).
pub fn node_rules() -> Vec<PolicyRule> {
    let read = &["get", "list", "watch"][..];
    vec![
        policy_rule(
            &["create"],
            &["authentication.k8s.io"],
            &["tokenreviews"],
            &[],
        ),
        policy_rule(
            &["create"],
            &["authorization.k8s.io"],
            &["subjectaccessreviews", "localsubjectaccessreviews"],
            &[],
        ),
        policy_rule(read, &[""], &["services"], &[]),
        policy_rule(&["create", "get", "list", "watch"], &[""], &["nodes"], &[]),
        policy_rule(&["update", "patch"], &[""], &["nodes/status"], &[]),
        policy_rule(&["update", "patch"], &[""], &["nodes"], &[]),
        policy_rule(
            &["create", "update", "patch"],
            &["", "events.k8s.io"],
            &["events"],
            &[],
        ),
        policy_rule(read, &[""], &["pods"], &[]),
        policy_rule(&["create", "delete"], &[""], &["pods"], &[]),
        policy_rule(&["update", "patch"], &[""], &["pods/status"], &[]),
        policy_rule(&["create"], &[""], &["pods/eviction"], &[]),
        policy_rule(
            &["get", "list", "watch"],
            &[""],
            &["secrets", "configmaps"],
            &[],
        ),
        policy_rule(
            &["get"],
            &[""],
            &["persistentvolumeclaims", "persistentvolumes"],
            &[],
        ),
        policy_rule(&["get"], &[""], &["endpoints"], &[]),
        policy_rule(
            &["create", "get", "list", "watch"],
            &["certificates.k8s.io"],
            &["certificatesigningrequests"],
            &[],
        ),
        policy_rule(
            &["get", "create", "update", "patch", "delete"],
            &["coordination.k8s.io"],
            &["leases"],
            &[],
        ),
        policy_rule(&["get"], &["storage.k8s.io"], &["volumeattachments"], &[]),
        policy_rule(&["create"], &[""], &["serviceaccounts/token"], &[]),
        policy_rule(
            &["get", "update", "patch"],
            &[""],
            &["persistentvolumeclaims/status"],
            &[],
        ),
        policy_rule(
            &["get", "watch", "list"],
            &["storage.k8s.io"],
            &["csidrivers"],
            &[],
        ),
        policy_rule(
            &["get", "create", "update", "patch", "delete"],
            &["storage.k8s.io"],
            &["csinodes"],
            &[],
        ),
        policy_rule(read, &["node.k8s.io"], &["runtimeclasses"], &[]),
        policy_rule(&["get"], &["resource.k8s.io"], &["resourceclaims"], &[]),
        policy_rule(
            &["deletecollection"],
            &["resource.k8s.io"],
            &["resourceslices"],
            &[],
        ),
        policy_rule(
            read,
            &["certificates.k8s.io"],
            &["clustertrustbundles"],
            &[],
        ),
        policy_rule(&["get"], &[""], &["serviceaccounts"], &[]),
        policy_rule(
            &["get", "list", "watch", "create"],
            &["certificates.k8s.io"],
            &["podcertificaterequests"],
            &[],
        ),
    ]
}

/// The Node authorizer's answer (`NodeAuthorizer.Authorize`, kubernetes v1.37.2
/// `plugin/pkg/auth/authorizer/node/node_authorizer.go`), for a node the graph knows nothing
/// about (no pods, PVs, VolumeAttachments, ResourceSlices or PodCertificateRequests reference the
/// node names used here) and requests without field selectors. Resources it subdivides are
/// decided by their own function and never reach the static rules.
pub fn node_authorizer_allows(id: &Identity, request: &Request, rules: &[PolicyRule]) -> bool {
    let Some(node) = node_identity(id).filter(|n| !n.is_empty()) else {
        return false;
    };
    if let Request::Resource(r) = request {
        let verb = r.verb.as_str();
        let sub = r.subresource.as_deref().unwrap_or("");
        let name = r.name.as_deref().unwrap_or("");
        let ns = r.namespace.as_deref().unwrap_or("");
        match (r.api_group.as_str(), r.resource.as_str()) {
            // Graph-checked (authorizeReadNamespacedObject / authorizeGet / authorizeStatusUpdate
            // / authorizeServiceAccount / authorizeCreateToken): unrelated objects, no opinion.
            (
                "",
                "secrets"
                | "configmaps"
                | "persistentvolumeclaims"
                | "persistentvolumes"
                | "serviceaccounts",
            )
            | ("resource.k8s.io", "resourceclaims")
            | ("storage.k8s.io", "volumeattachments") => return false,
            ("coordination.k8s.io", "leases") => {
                return matches!(verb, "get" | "create" | "update" | "patch" | "delete")
                    && ns == "kube-node-lease"
                    && (verb == "create" || name == node);
            }
            ("storage.k8s.io", "csinodes") => {
                // `status` needs CSIVolumeHealth (off); other subresources: no opinion.
                return sub.is_empty()
                    && matches!(verb, "get" | "create" | "update" | "patch" | "delete")
                    && (verb == "create" || name == node);
            }
            // create: allowed (NodeRestriction admission checks nodeName); get/update/patch/
            // delete: graph; list/watch/deletecollection: only with a nodeName field selector.
            ("resource.k8s.io", "resourceslices") => return sub.is_empty() && verb == "create",
            ("", "nodes") => {
                return match sub {
                    "" => match verb {
                        "create" | "update" | "patch" => true,
                        "get" | "list" | "watch" => name == node,
                        _ => false,
                    },
                    "status" => matches!(verb, "update" | "patch"),
                    _ => false,
                };
            }
            ("", "pods") => {
                return match sub {
                    // get: graph; list/watch: field selector or graph.
                    "" => matches!(verb, "create" | "delete"),
                    "status" => matches!(verb, "update" | "patch"),
                    "eviction" => verb == "create",
                    _ => false,
                };
            }
            // PodCertificateRequest is on: create allowed, get graph, list/watch field selector.
            ("certificates.k8s.io", "podcertificaterequests") => {
                return sub.is_empty() && verb == "create";
            }
            _ => {}
        }
    }
    rules.iter().any(|rule| rule_allows(rule, request))
}

/// How far the Node authorizer lets node identities (`system:node:<name>` in `system:nodes`)
/// make a request, whatever RBAC says: what who-can and lookup tell about node identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeReach {
    /// Every node may, for any object: the static `NodeRules()`.
    Any,
    /// Each node only for its own objects: its Node, its Lease in kube-node-lease, its CSINode.
    OwnObjects,
    /// Each node only for the objects its pods use (their secrets, configmaps, volumes, claims,
    /// service account tokens, the pods themselves), which the authorizer finds in its graph of
    /// pods bound to nodes; lists and watches only with a field selector naming the object or
    /// the node. Which objects these are depends on the live pods, so no answer names them.
    PodObjects,
    /// The Node authorizer has no opinion; only RBAC decides.
    None,
}

impl NodeReach {
    /// The `via` of a who-can row and the note of a lookup row.
    pub fn describe(self) -> Option<&'static str> {
        match self {
            NodeReach::Any => Some("Node authorizer (not RBAC): every node"),
            NodeReach::OwnObjects => {
                Some("Node authorizer (not RBAC): each node its own Node, Lease and CSINode only")
            }
            NodeReach::PodObjects => Some(
                "Node authorizer (not RBAC): each node only the objects of the pods bound to it",
            ),
            NodeReach::None => None,
        }
    }
}

/// The Node authorizer's reach for `request` (see [`NodeReach`]), from the same transcription
/// as [`allows`]: `Any` when it allows a node whatever the node's name, `OwnObjects` when it
/// allows it for the object named after the node, `PodObjects` for the graph-checked requests.
pub fn reach(request: &Request) -> NodeReach {
    const SAMPLE: &str = "chronom-sample-node";
    let node = Identity::user(&format!("system:node:{SAMPLE}"), &["system:nodes"]);
    let other = Identity::user("system:node:chronom-other-node", &["system:nodes"]);
    if allows(&node, request) && allows(&other, request) {
        return NodeReach::Any;
    }
    if let Request::Resource(r) = request {
        let mut named = r.clone();
        named.name = Some(SAMPLE.to_string());
        if allows(&node, &Request::Resource(named)) {
            return NodeReach::OwnObjects;
        }
        let verb = r.verb.as_str();
        let sub = r.subresource.as_deref().unwrap_or("");
        let graph = match (r.api_group.as_str(), r.resource.as_str(), sub) {
            // authorizeReadNamespacedObject
            ("", "secrets" | "configmaps", "") => matches!(verb, "get" | "list" | "watch"),
            // authorizeGet
            ("", "persistentvolumeclaims" | "persistentvolumes", "")
            | ("resource.k8s.io", "resourceclaims", "")
            | ("storage.k8s.io", "volumeattachments", "") => verb == "get",
            // authorizeStatusUpdate
            ("", "persistentvolumeclaims", "status") => matches!(verb, "update" | "patch"),
            // authorizeCreateToken
            ("", "serviceaccounts", "token") => verb == "create",
            // authorizeResourceSlice: the existing slice's node, or a nodeName field selector
            ("resource.k8s.io", "resourceslices", "") => matches!(
                verb,
                "get" | "update" | "patch" | "delete" | "list" | "watch" | "deletecollection"
            ),
            // authorizePod and the PodCertificateRequest check: the graph, or a field selector
            ("", "pods", "") | ("certificates.k8s.io", "podcertificaterequests", "") => {
                matches!(verb, "get" | "list" | "watch")
            }
            _ => false,
        };
        if graph {
            return NodeReach::PodObjects;
        }
    }
    NodeReach::None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::ResourceRequest;

    fn res(
        verb: &str,
        group: &str,
        resource: &str,
        name: Option<&str>,
        ns: Option<&str>,
    ) -> Request {
        let mut r = ResourceRequest::new(verb, group, resource);
        r.name = name.map(str::to_string);
        r.namespace = ns.map(str::to_string);
        Request::Resource(r)
    }

    #[test]
    fn transcription_is_complete_and_subdivisions_win() {
        assert_eq!(node_rules().len(), 27);
        let id = Identity::user("system:node:n1", &["system:nodes"]);
        assert!(allows(&id, &res("get", "", "nodes", Some("n1"), None)));
        assert!(!allows(&id, &res("get", "", "nodes", Some("n2"), None)));
        assert!(
            !allows(&id, &res("list", "", "pods", None, Some("ns"))),
            "pods list needs a field selector"
        );
        assert!(
            !allows(&id, &res("get", "", "secrets", Some("s"), Some("ns"))),
            "secrets go through the graph"
        );
        assert!(
            allows(&id, &res("list", "", "services", None, None)),
            "static rule"
        );
        assert!(
            !allows(
                &id,
                &res(
                    "deletecollection",
                    "resource.k8s.io",
                    "resourceslices",
                    None,
                    None
                )
            ),
            "static rule shadowed"
        );
        assert!(!allows(
            &Identity::user("system:node:n1", &[]),
            &res("list", "", "services", None, None)
        ));
        assert!(!allows(
            &Identity::user("system:node:", &["system:nodes"]),
            &res("list", "", "services", None, None)
        ));
    }

    #[test]
    fn reach_says_how_far_a_node_gets() {
        let r = |verb, group, resource, sub: &str, ns: Option<&str>| {
            let mut q = ResourceRequest::new(verb, group, resource).subresource(sub);
            q.namespace = ns.map(str::to_string);
            reach(&Request::Resource(q))
        };
        assert_eq!(r("list", "", "services", "", None), NodeReach::Any);
        assert_eq!(r("create", "", "pods", "", Some("a")), NodeReach::Any);
        assert_eq!(r("patch", "", "nodes", "status", None), NodeReach::Any);
        assert_eq!(r("get", "", "nodes", "", None), NodeReach::OwnObjects);
        assert_eq!(
            r(
                "update",
                "coordination.k8s.io",
                "leases",
                "",
                Some("kube-node-lease")
            ),
            NodeReach::OwnObjects
        );
        assert_eq!(
            r(
                "update",
                "coordination.k8s.io",
                "leases",
                "",
                Some("default")
            ),
            NodeReach::None,
            "only in kube-node-lease"
        );
        assert_eq!(
            r("get", "", "secrets", "", Some("a")),
            NodeReach::PodObjects
        );
        assert_eq!(
            r("list", "", "configmaps", "", Some("a")),
            NodeReach::PodObjects
        );
        assert_eq!(
            r("create", "", "serviceaccounts", "token", Some("a")),
            NodeReach::PodObjects
        );
        assert_eq!(r("get", "", "pods", "", Some("a")), NodeReach::PodObjects);
        assert_eq!(r("delete", "", "secrets", "", Some("a")), NodeReach::None);
        assert_eq!(r("create", "", "pods", "exec", Some("a")), NodeReach::None);
        assert_eq!(
            r("list", "", "persistentvolumes", "", None),
            NodeReach::None
        );
        assert_eq!(
            r("get", "rbac.authorization.k8s.io", "clusterroles", "", None),
            NodeReach::None
        );
        let url = Request::NonResource(crate::rbac::NonResourceRequest {
            verb: "get".into(),
            path: "/metrics".into(),
        });
        assert_eq!(reach(&url), NodeReach::None);
        // Every reach but None has words, and None has none.
        assert!(NodeReach::None.describe().is_none());
        for n in [NodeReach::Any, NodeReach::OwnObjects, NodeReach::PodObjects] {
            assert!(
                n.describe()
                    .unwrap()
                    .starts_with("Node authorizer (not RBAC)")
            );
        }
    }
}
