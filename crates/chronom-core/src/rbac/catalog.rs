//! What the pure core knows about resources without asking discovery: group, scope, short names
//! and subresources of the resources kube-apiserver serves out of the box.
//!
//! The shell can replace or extend it with what discovery reported ([`ResourceCatalog::overridden_by`]),
//! which is how CRDs and aggregated APIs become known.

use std::collections::HashMap;

/// One resource as discovery would describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; the core group is "".
    pub group: String,
    /// Plural resource name, as RBAC rules name it.
    pub resource: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    /// Subresource names (without the `resource/` prefix).
    pub subresources: Vec<String>,
    /// Whether get/list/watch make sense on it. False for create-only reviews and for the
    /// authorization-only resources (`signers`, `users`, `groups`, `uids`, `userextras`).
    pub readable: bool,
}

impl ResourceInfo {
    pub fn new(group: &str, resource: &str, namespaced: bool) -> Self {
        ResourceInfo {
            group: group.to_string(),
            resource: resource.to_string(),
            singular: default_singular(resource),
            short_names: Vec::new(),
            namespaced,
            subresources: Vec::new(),
            readable: true,
        }
    }
    pub fn singular(mut self, singular: &str) -> Self {
        self.singular = singular.to_string();
        self
    }
    pub fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn subresources(mut self, subs: &[&str]) -> Self {
        self.subresources = subs.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn not_readable(mut self) -> Self {
        self.readable = false;
        self
    }
}

/// English plural rules good enough for Kubernetes resource names; override with `singular`.
fn default_singular(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = plural.strip_suffix("sses") {
        format!("{stem}ss")
    } else {
        plural.strip_suffix('s').unwrap_or(plural).to_string()
    }
}

/// A set of resources with lookups by name (plural, singular, short name) and by (group, resource).
///
/// Name lookups without a group return the first entry that carries the name, so order is
/// preference: the built-in table lists the core group first, like kubectl's RESTMapper does.
#[derive(Debug, Clone, Default)]
pub struct ResourceCatalog {
    entries: Vec<ResourceInfo>,
    by_name: HashMap<String, usize>,
    by_group_resource: HashMap<(String, String), usize>,
}

impl ResourceCatalog {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn from_entries(entries: impl IntoIterator<Item = ResourceInfo>) -> Self {
        let mut c = Self::default();
        for e in entries {
            c.push(e);
        }
        c
    }

    /// Discovery first, then every built-in entry discovery did not mention.
    pub fn overridden_by(self, discovered: impl IntoIterator<Item = ResourceInfo>) -> Self {
        let mut c = Self::from_entries(discovered);
        for e in self.entries {
            if !c
                .by_group_resource
                .contains_key(&(e.group.clone(), e.resource.clone()))
            {
                c.push(e);
            }
        }
        c
    }

    fn push(&mut self, e: ResourceInfo) {
        let key = (e.group.clone(), e.resource.clone());
        if self.by_group_resource.contains_key(&key) {
            return;
        }
        let idx = self.entries.len();
        for n in std::iter::once(&e.resource)
            .chain(std::iter::once(&e.singular))
            .chain(e.short_names.iter())
        {
            self.by_name.entry(n.to_lowercase()).or_insert(idx);
        }
        self.by_group_resource.insert(key, idx);
        self.entries.push(e);
    }

    pub fn entries(&self) -> &[ResourceInfo] {
        &self.entries
    }

    /// Resolves a plural, singular or short name with no group given.
    pub fn lookup_name(&self, name: &str) -> Option<&ResourceInfo> {
        self.by_name
            .get(&name.to_lowercase())
            .map(|&i| &self.entries[i])
    }

    /// Resolves a name within a group: exact plural first, then singular or short name.
    pub fn lookup_in_group(&self, group: &str, name: &str) -> Option<&ResourceInfo> {
        let name = name.to_lowercase();
        if let Some(&i) = self
            .by_group_resource
            .get(&(group.to_string(), name.clone()))
        {
            return Some(&self.entries[i]);
        }
        self.entries
            .iter()
            .find(|e| e.group == group && (e.singular == name || e.short_names.contains(&name)))
    }

    pub fn get(&self, group: &str, resource: &str) -> Option<&ResourceInfo> {
        self.by_group_resource
            .get(&(group.to_string(), resource.to_string()))
            .map(|&i| &self.entries[i])
    }

    /// `Some(true)` for namespaced, `Some(false)` for cluster-scoped, `None` when unknown.
    pub fn is_namespaced(&self, group: &str, resource: &str) -> Option<bool> {
        self.get(group, resource).map(|e| e.namespaced)
    }

    /// The table of resources kube-apiserver v1.37 serves without CRDs or aggregated APIs.
    pub fn builtin() -> Self {
        use ResourceInfo as R;
        const NS: bool = true;
        const CL: bool = false;
        let core = "";
        let apps = "apps";
        let rbac = "rbac.authorization.k8s.io";
        let adm = "admissionregistration.k8s.io";
        let net = "networking.k8s.io";
        let sto = "storage.k8s.io";
        let cert = "certificates.k8s.io";
        let authn = "authentication.k8s.io";
        let authz = "authorization.k8s.io";
        let flow = "flowcontrol.apiserver.k8s.io";
        let dra = "resource.k8s.io";
        Self::from_entries([
            // core
            R::new(core, "pods", NS).short(&["po"]).subresources(&[
                "attach",
                "binding",
                "ephemeralcontainers",
                "eviction",
                "exec",
                "log",
                "portforward",
                "proxy",
                "resize",
                "status",
            ]),
            R::new(core, "services", NS)
                .short(&["svc"])
                .subresources(&["proxy", "status"]),
            R::new(core, "configmaps", NS).short(&["cm"]),
            R::new(core, "secrets", NS),
            R::new(core, "serviceaccounts", NS)
                .short(&["sa"])
                .subresources(&["token"]),
            R::new(core, "namespaces", CL)
                .short(&["ns"])
                .subresources(&["finalize", "status"]),
            R::new(core, "nodes", CL)
                .short(&["no"])
                .subresources(&["proxy", "status"]),
            R::new(core, "endpoints", NS)
                .singular("endpoints")
                .short(&["ep"]),
            R::new(core, "events", NS).short(&["ev"]),
            R::new(core, "persistentvolumeclaims", NS)
                .short(&["pvc"])
                .subresources(&["status"]),
            R::new(core, "persistentvolumes", CL)
                .short(&["pv"])
                .subresources(&["status"]),
            R::new(core, "replicationcontrollers", NS)
                .short(&["rc"])
                .subresources(&["scale", "status"]),
            R::new(core, "resourcequotas", NS)
                .short(&["quota"])
                .subresources(&["status"]),
            R::new(core, "limitranges", NS).short(&["limits"]),
            R::new(core, "podtemplates", NS),
            R::new(core, "componentstatuses", CL)
                .singular("componentstatus")
                .short(&["cs"]),
            R::new(core, "bindings", NS).not_readable(),
            R::new(core, "users", CL).not_readable(),
            R::new(core, "groups", CL).not_readable(),
            // apps, batch, autoscaling, policy
            R::new(apps, "deployments", NS)
                .short(&["deploy"])
                .subresources(&["scale", "status"]),
            R::new(apps, "replicasets", NS)
                .short(&["rs"])
                .subresources(&["scale", "status"]),
            R::new(apps, "statefulsets", NS)
                .short(&["sts"])
                .subresources(&["scale", "status"]),
            R::new(apps, "daemonsets", NS)
                .short(&["ds"])
                .subresources(&["status"]),
            R::new(apps, "controllerrevisions", NS),
            R::new("batch", "jobs", NS).subresources(&["status"]),
            R::new("batch", "cronjobs", NS)
                .short(&["cj"])
                .subresources(&["status"]),
            R::new("autoscaling", "horizontalpodautoscalers", NS)
                .short(&["hpa"])
                .subresources(&["status"]),
            R::new("policy", "poddisruptionbudgets", NS)
                .short(&["pdb"])
                .subresources(&["status"]),
            // rbac
            R::new(rbac, "clusterroles", CL),
            R::new(rbac, "clusterrolebindings", CL),
            R::new(rbac, "roles", NS),
            R::new(rbac, "rolebindings", NS),
            // networking, discovery, coordination
            R::new(net, "ingresses", NS)
                .singular("ingress")
                .short(&["ing"])
                .subresources(&["status"]),
            R::new(net, "ingressclasses", CL).singular("ingressclass"),
            R::new(net, "networkpolicies", NS)
                .singular("networkpolicy")
                .short(&["netpol"]),
            R::new(net, "ipaddresses", CL)
                .singular("ipaddress")
                .short(&["ip"]),
            R::new(net, "servicecidrs", CL).subresources(&["status"]),
            R::new("discovery.k8s.io", "endpointslices", NS),
            R::new("coordination.k8s.io", "leases", NS),
            R::new("events.k8s.io", "events", NS).short(&["ev"]),
            R::new("node.k8s.io", "runtimeclasses", CL).singular("runtimeclass"),
            R::new("scheduling.k8s.io", "priorityclasses", CL)
                .singular("priorityclass")
                .short(&["pc"]),
            // storage
            R::new(sto, "storageclasses", CL)
                .singular("storageclass")
                .short(&["sc"]),
            R::new(sto, "volumeattachments", CL).subresources(&["status"]),
            R::new(sto, "csidrivers", CL),
            R::new(sto, "csinodes", CL),
            R::new(sto, "csistoragecapacities", NS).singular("csistoragecapacity"),
            R::new(sto, "volumeattributesclasses", CL)
                .singular("volumeattributesclass")
                .short(&["vac"]),
            // admission and API extension
            R::new(adm, "mutatingwebhookconfigurations", CL),
            R::new(adm, "validatingwebhookconfigurations", CL),
            R::new(adm, "validatingadmissionpolicies", CL)
                .singular("validatingadmissionpolicy")
                .subresources(&["status"]),
            R::new(adm, "validatingadmissionpolicybindings", CL),
            R::new(adm, "mutatingadmissionpolicies", CL).singular("mutatingadmissionpolicy"),
            R::new(adm, "mutatingadmissionpolicybindings", CL),
            R::new("apiextensions.k8s.io", "customresourcedefinitions", CL)
                .short(&["crd", "crds"])
                .subresources(&["status"]),
            R::new("apiregistration.k8s.io", "apiservices", CL).subresources(&["status"]),
            R::new(flow, "flowschemas", CL).subresources(&["status"]),
            R::new(flow, "prioritylevelconfigurations", CL).subresources(&["status"]),
            // certificates
            R::new(cert, "certificatesigningrequests", CL)
                .short(&["csr"])
                .subresources(&["approval", "status"]),
            R::new(cert, "clustertrustbundles", CL),
            R::new(cert, "signers", CL).not_readable(),
            // dynamic resource allocation
            R::new(dra, "deviceclasses", CL),
            R::new(dra, "resourceclaims", NS).subresources(&["status"]),
            R::new(dra, "resourceclaimtemplates", NS),
            R::new(dra, "resourceslices", CL),
            // reviews: create-only
            R::new(authn, "tokenreviews", CL).not_readable(),
            R::new(authn, "selfsubjectreviews", CL).not_readable(),
            R::new(authn, "uids", CL).not_readable(),
            R::new(authn, "userextras", CL).not_readable(),
            R::new(authz, "subjectaccessreviews", CL).not_readable(),
            R::new(authz, "selfsubjectaccessreviews", CL).not_readable(),
            R::new(authz, "selfsubjectrulesreviews", CL).not_readable(),
            R::new(authz, "localsubjectaccessreviews", NS).not_readable(),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lookups() {
        let c = ResourceCatalog::builtin();
        assert_eq!(c.lookup_name("pods").unwrap().group, "");
        assert_eq!(c.lookup_name("po").unwrap().resource, "pods");
        assert_eq!(c.lookup_name("Pod").unwrap().resource, "pods");
        assert_eq!(c.lookup_name("deploy").unwrap().group, "apps");
        assert_eq!(
            c.lookup_name("clusterroles").unwrap().group,
            "rbac.authorization.k8s.io"
        );
        assert_eq!(
            c.lookup_name("events").unwrap().group,
            "",
            "core wins over events.k8s.io"
        );
        assert_eq!(
            c.lookup_in_group("events.k8s.io", "events").unwrap().group,
            "events.k8s.io"
        );
        assert_eq!(c.lookup_name("ingress").unwrap().resource, "ingresses");
        assert_eq!(c.is_namespaced("", "nodes"), Some(false));
        assert_eq!(c.is_namespaced("apps", "deployments"), Some(true));
        assert_eq!(c.is_namespaced("example.com", "widgets"), None);
    }

    #[test]
    fn discovery_overrides_builtin() {
        let c = ResourceCatalog::builtin().overridden_by([
            ResourceInfo::new("example.com", "widgets", true)
                .short(&["po"])
                .subresources(&["scale"]),
            ResourceInfo::new("", "nodes", true),
        ]);
        assert_eq!(c.lookup_name("po").unwrap().group, "example.com");
        assert_eq!(c.is_namespaced("", "nodes"), Some(true));
        assert_eq!(c.lookup_name("pods").unwrap().group, "");
    }
}
