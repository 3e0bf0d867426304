//! Request attributes as the authorizer sees them, and a parser for the `VERB RESOURCE[/NAME]`
//! strings `kubectl auth can-i` and `kubectl who-can` take.
//!
//! Followed: `staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go` (how a real
//! HTTP request becomes verb/apiGroup/resource/subresource/name/namespace),
//! `pkg/registry/authorization/util/helpers.go` (a SubjectAccessReview's attributes are taken
//! verbatim from its spec) and `staging/src/k8s.io/kubectl/pkg/cmd/auth/cani.go` (argument forms).

use std::fmt;

use serde::Serialize;

use super::catalog::ResourceCatalog;

/// A resource request. Empty strings and `None` mean the same thing to the authorizer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ResourceRequest {
    pub verb: String,
    /// API group; "" is the core group.
    pub api_group: String,
    /// Plural resource name; `*` asks about every resource and is matched only by `*` rules.
    pub resource: String,
    pub subresource: Option<String>,
    pub name: Option<String>,
    /// `None` asks cluster-wide: for a namespaced resource this is "in all namespaces", and only
    /// ClusterRoleBindings can allow it (RBAC lists RoleBindings only for a non-empty namespace).
    pub namespace: Option<String>,
}

impl ResourceRequest {
    pub fn new(verb: &str, api_group: &str, resource: &str) -> Self {
        ResourceRequest {
            verb: verb.to_string(),
            api_group: api_group.to_string(),
            resource: resource.to_string(),
            subresource: None,
            name: None,
            namespace: None,
        }
    }
    pub fn subresource(mut self, sub: &str) -> Self {
        self.subresource = non_empty(sub);
        self
    }
    pub fn name(mut self, name: &str) -> Self {
        self.name = non_empty(name);
        self
    }
    pub fn namespace(mut self, ns: &str) -> Self {
        self.namespace = non_empty(ns);
        self
    }

    /// `RESOURCE[.GROUP][/NAME][/SUBRESOURCE]`, the argument `kubectl auth can-i` takes.
    pub fn target(&self) -> String {
        let mut s = self.resource.clone();
        if !self.api_group.is_empty() {
            s.push('.');
            s.push_str(&self.api_group);
        }
        for part in [&self.name, &self.subresource]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_empty())
        {
            s.push('/');
            s.push_str(part);
        }
        s
    }

    /// `verb target in namespace NS` or `verb target (cluster-wide)`: the question as grant's
    /// and revoke's messages name it (a missing right, a failed access review).
    pub fn describe(&self) -> String {
        match self.namespace.as_deref().filter(|ns| !ns.is_empty()) {
            Some(ns) => format!("{} {} in namespace {ns}", self.verb, self.target()),
            None => format!("{} {} (cluster-wide)", self.verb, self.target()),
        }
    }
}

/// A request for a path outside the resource API (`/healthz`, `/metrics`, `/logs/...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NonResourceRequest {
    pub verb: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Request {
    Resource(ResourceRequest),
    NonResource(NonResourceRequest),
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl From<ResourceRequest> for Request {
    fn from(r: ResourceRequest) -> Self {
        Request::Resource(r)
    }
}

impl From<NonResourceRequest> for Request {
    fn from(r: NonResourceRequest) -> Self {
        Request::NonResource(r)
    }
}

impl Request {
    pub fn resource(verb: &str, api_group: &str, resource: &str) -> ResourceRequest {
        ResourceRequest::new(verb, api_group, resource)
    }

    pub fn non_resource(verb: &str, path: &str) -> Request {
        Request::NonResource(NonResourceRequest {
            verb: verb.to_string(),
            path: path.to_string(),
        })
    }

    pub fn verb(&self) -> &str {
        match self {
            Request::Resource(r) => &r.verb,
            Request::NonResource(r) => &r.verb,
        }
    }

    /// The namespace RBAC will consult RoleBindings in; `None` for cluster-wide and non-resource requests.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Request::Resource(r) => r.namespace.as_deref().filter(|s| !s.is_empty()),
            Request::NonResource(_) => None,
        }
    }

    /// The same request asked in another namespace (`None`: cluster-wide). Non-resource requests
    /// have no namespace and are returned unchanged.
    pub fn with_namespace(&self, ns: Option<&str>) -> Request {
        match self {
            Request::Resource(r) => {
                let mut r = r.clone();
                r.namespace = ns.and_then(non_empty);
                Request::Resource(r)
            }
            nr => nr.clone(),
        }
    }

    /// The namespace a real API request for this object would carry (requestinfo.go): none for
    /// cluster-scoped resources, *except* `namespaces/<name>`, whose request namespace is the
    /// namespace's own name, so RoleBindings inside a namespace can grant access to that
    /// Namespace object. Unknown resources keep `namespace`.
    pub fn scoped_like_api_server(
        &self,
        catalog: &ResourceCatalog,
        namespace: Option<&str>,
    ) -> Request {
        let Request::Resource(r) = self else {
            return self.clone();
        };
        if r.api_group.is_empty() && r.resource == "namespaces" {
            return self.with_namespace(r.name.as_deref());
        }
        match catalog.is_namespaced(&r.api_group, &r.resource) {
            Some(false) => self.with_namespace(None),
            _ => self.with_namespace(namespace),
        }
    }

    /// The `RESOURCE[.GROUP][/NAME][/SUBRESOURCE]` or `/path` argument that parses back to this request.
    pub fn target(&self) -> String {
        match self {
            Request::NonResource(r) => r.path.clone(),
            Request::Resource(r) => r.target(),
        }
    }

    /// The question in the words of grant's and revoke's messages, see
    /// [`ResourceRequest::describe`]; a non-resource request is `verb /path`.
    pub fn describe(&self) -> String {
        match self {
            Request::Resource(r) => r.describe(),
            Request::NonResource(n) => format!("{} {}", n.verb, n.path),
        }
    }

    /// The audit's wording, `verb resource[/sub][ (group)][ named NAME] in NS|cluster-wide`:
    /// each `verification.mismatches[].request` of the audit's JSON is this string, so it stays
    /// as it is even though [`Request::describe`] words the same question differently.
    pub fn describe_for_audit(&self) -> String {
        let r = match self {
            Request::Resource(r) => r,
            Request::NonResource(n) => return format!("{} {}", n.verb, n.path),
        };
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
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb(), self.target())?;
        if let Some(ns) = self.namespace() {
            write!(f, " in namespace {ns}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestParseError {
    #[error("expected `VERB RESOURCE[/NAME]` or `VERB /non-resource-path`, got {input:?}")]
    Shape { input: String },
    #[error("the verb is empty")]
    EmptyVerb,
    #[error("{target:?}: nothing after `/`; give `RESOURCE/NAME` or leave the slash out")]
    EmptyName { target: String },
    #[error(
        "unknown resource type {resource:?}: the built-in table does not know its API group; \
         write it as `{resource}.<group>` (a trailing `.` means the core group)"
    )]
    UnknownResource { resource: String },
}

/// Subresources every custom resource may have; used for resources the catalog does not know.
const CRD_SUBRESOURCES: [&str; 2] = ["status", "scale"];

/// Parses `VERB TARGET` (whitespace-separated), see [`parse_verb_target`].
pub fn parse_request(input: &str, catalog: &ResourceCatalog) -> Result<Request, RequestParseError> {
    let mut parts = input.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(verb), Some(target), None) => parse_verb_target(verb, target, catalog),
        _ => Err(RequestParseError::Shape {
            input: input.to_string(),
        }),
    }
}

/// Parses a verb and a target.
///
/// Target forms:
/// - `/path` (anything starting with `/`): a non-resource URL.
/// - `TYPE`, where TYPE is a plural, singular or short name (`pods`, `pod`, `po`), or
///   `resource.group` (`deployments.apps`), or `resource.version.group` (`deployments.v1.apps`,
///   the version is dropped: RBAC ignores versions), or `resource.` for the core group,
///   or `*`. A TYPE without a group must be in the catalog. Names are lowercased like kubectl does.
/// - `TYPE/SUB` when SUB is a known subresource of TYPE (`pods/exec`, `deployments/scale`;
///   for resources the catalog does not know, `status` and `scale`; for `*`, anything):
///   a subresource with no name.
/// - `TYPE/NAME/SUB` when SUB is a known subresource: a name and a subresource.
/// - `TYPE/NAME` otherwise: a name, kept verbatim even if it contains `/`
///   (`signers/kubernetes.io/kube-apiserver-client`), as kubectl's SplitN does.
///
/// Unlike kubectl's `TYPE/NAME`, `pods/exec` means the subresource; to ask about a pod literally
/// named `exec`, build the [`ResourceRequest`] directly.
pub fn parse_verb_target(
    verb: &str,
    target: &str,
    catalog: &ResourceCatalog,
) -> Result<Request, RequestParseError> {
    let verb = verb.trim();
    if verb.is_empty() {
        return Err(RequestParseError::EmptyVerb);
    }
    let target = target.trim();
    if target.is_empty() {
        return Err(RequestParseError::Shape {
            input: format!("{verb} {target}"),
        });
    }
    if target.starts_with('/') {
        return Ok(Request::non_resource(verb, target));
    }
    let (type_part, rest) = match target.split_once('/') {
        Some((t, r)) => (t, Some(r)),
        None => (target, None),
    };
    let type_part = type_part.to_lowercase();
    let (group, resource, known_subs): (String, String, Option<Vec<String>>) = if type_part == "*" {
        (String::new(), "*".into(), None)
    } else if let Some((res, group)) = type_part.split_once('.') {
        let group = strip_version(group);
        match catalog.lookup_in_group(group, res) {
            Some(info) => (
                info.group.clone(),
                info.resource.clone(),
                Some(info.subresources.clone()),
            ),
            None => (
                group.to_string(),
                res.to_string(),
                Some(CRD_SUBRESOURCES.iter().map(|s| s.to_string()).collect()),
            ),
        }
    } else {
        match catalog.lookup_name(&type_part) {
            Some(info) => (
                info.group.clone(),
                info.resource.clone(),
                Some(info.subresources.clone()),
            ),
            None => {
                return Err(RequestParseError::UnknownResource {
                    resource: type_part,
                });
            }
        }
    };
    let is_sub = |s: &str| {
        !s.is_empty()
            && known_subs
                .as_ref()
                .is_none_or(|subs| subs.iter().any(|k| k == s))
    };
    let mut req = ResourceRequest::new(verb, &group, &resource);
    if let Some(rest) = rest {
        if rest.is_empty() {
            return Err(RequestParseError::EmptyName {
                target: target.to_string(),
            });
        }
        if !rest.contains('/') && is_sub(rest) {
            req.subresource = Some(rest.to_string());
        } else if let Some((name, sub)) = rest
            .rsplit_once('/')
            .filter(|(n, s)| !n.is_empty() && is_sub(s))
        {
            req.name = Some(name.to_string());
            req.subresource = Some(sub.to_string());
        } else {
            req.name = Some(rest.to_string());
        }
    }
    Ok(Request::Resource(req))
}

/// `v1.apps` -> `apps`; `apps` -> `apps`; `` -> `` (core). Follows schema.ParseResourceArg's
/// `resource.version.group` form.
fn strip_version(group: &str) -> &str {
    if let Some((first, rest)) = group.split_once('.')
        && is_version(first)
        && !rest.is_empty()
    {
        return rest;
    }
    group
}

fn is_version(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('v') else {
        return false;
    };
    let major_len = digits.chars().take_while(|c| c.is_ascii_digit()).count();
    if major_len == 0 {
        return false;
    }
    let tail = &digits[major_len..];
    if tail.is_empty() {
        return true;
    }
    let Some(n) = tail
        .strip_prefix("alpha")
        .or_else(|| tail.strip_prefix("beta"))
    else {
        return false;
    };
    !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Request {
        parse_request(s, &ResourceCatalog::builtin()).unwrap()
    }

    fn r(verb: &str, group: &str, resource: &str) -> ResourceRequest {
        ResourceRequest::new(verb, group, resource)
    }

    #[test]
    fn resource_forms() {
        assert_eq!(p("get pods"), r("get", "", "pods").into());
        assert_eq!(p("get po"), r("get", "", "pods").into());
        assert_eq!(p("get Pods"), r("get", "", "pods").into());
        assert_eq!(
            p("list deployments"),
            r("list", "apps", "deployments").into()
        );
        assert_eq!(
            p("list deployments.apps"),
            r("list", "apps", "deployments").into()
        );
        assert_eq!(
            p("list deployments.v1.apps"),
            r("list", "apps", "deployments").into()
        );
        assert_eq!(
            p("list deploy.apps"),
            r("list", "apps", "deployments").into()
        );
        assert_eq!(
            p("escalate clusterroles"),
            r("escalate", "rbac.authorization.k8s.io", "clusterroles").into()
        );
        assert_eq!(
            p("get widgets.example.com"),
            r("get", "example.com", "widgets").into()
        );
        assert_eq!(p("get widgets."), r("get", "", "widgets").into());
        assert_eq!(p("list *"), r("list", "", "*").into());
        assert_eq!(p("list *.apps"), r("list", "apps", "*").into());
    }

    #[test]
    fn names_and_subresources() {
        assert_eq!(
            p("get pods/web-0"),
            r("get", "", "pods").name("web-0").into()
        );
        assert_eq!(
            p("create pods/exec"),
            r("create", "", "pods").subresource("exec").into()
        );
        assert_eq!(
            p("create pods/web-0/exec"),
            r("create", "", "pods")
                .name("web-0")
                .subresource("exec")
                .into()
        );
        assert_eq!(
            p("update deployments/scale"),
            r("update", "apps", "deployments")
                .subresource("scale")
                .into()
        );
        assert_eq!(
            p("update widgets.example.com/status"),
            r("update", "example.com", "widgets")
                .subresource("status")
                .into()
        );
        assert_eq!(
            p("update */scale"),
            r("update", "", "*").subresource("scale").into()
        );
        assert_eq!(
            p("approve signers/kubernetes.io/kube-apiserver-client"),
            r("approve", "certificates.k8s.io", "signers")
                .name("kubernetes.io/kube-apiserver-client")
                .into()
        );
        assert_eq!(
            p("update certificatesigningrequests/approval"),
            r(
                "update",
                "certificates.k8s.io",
                "certificatesigningrequests"
            )
            .subresource("approval")
            .into()
        );
        assert_eq!(
            p("get configmaps/aws-auth"),
            r("get", "", "configmaps").name("aws-auth").into()
        );
    }

    #[test]
    fn non_resource_and_unusual_verbs() {
        assert_eq!(p("get /healthz"), Request::non_resource("get", "/healthz"));
        assert_eq!(p("get /logs/*"), Request::non_resource("get", "/logs/*"));
        for verb in ["bind", "escalate", "impersonate", "approve", "use", "*"] {
            assert_eq!(p(&format!("{verb} clusterroles")).verb(), verb);
        }
    }

    #[test]
    fn errors() {
        let c = ResourceCatalog::builtin();
        assert!(matches!(
            parse_request("get", &c),
            Err(RequestParseError::Shape { .. })
        ));
        assert!(matches!(
            parse_request("get pods extra", &c),
            Err(RequestParseError::Shape { .. })
        ));
        assert!(matches!(
            parse_request("get widgets", &c),
            Err(RequestParseError::UnknownResource { .. })
        ));
        assert!(matches!(
            parse_request("get pods/", &c),
            Err(RequestParseError::EmptyName { .. })
        ));
        let msg = parse_request("get widgets", &c).unwrap_err().to_string();
        assert!(msg.contains("widgets.<group>"), "{msg}");
    }

    #[test]
    fn discovery_map_overrides_table() {
        let c =
            ResourceCatalog::builtin().overridden_by([crate::rbac::catalog::ResourceInfo::new(
                "example.com",
                "widgets",
                true,
            )
            .short(&["wd"])]);
        assert_eq!(
            parse_request("get wd", &c).unwrap(),
            r("get", "example.com", "widgets").into()
        );
    }

    #[test]
    fn target_round_trips() {
        let c = ResourceCatalog::builtin();
        for s in [
            "get pods",
            "create pods/exec",
            "create pods/web-0/exec",
            "list deployments.apps",
            "approve signers.certificates.k8s.io/kubernetes.io/*",
            "get /healthz",
        ] {
            let req = parse_request(s, &c).unwrap();
            assert_eq!(
                parse_verb_target(req.verb(), &req.target(), &c).unwrap(),
                req,
                "{s}"
            );
        }
    }

    #[test]
    fn scoping_like_the_api_server() {
        let c = ResourceCatalog::builtin();
        let nodes = p("get nodes");
        assert_eq!(
            nodes.scoped_like_api_server(&c, Some("dev")).namespace(),
            None
        );
        let pods = p("get pods");
        assert_eq!(
            pods.scoped_like_api_server(&c, Some("dev")).namespace(),
            Some("dev")
        );
        let ns = p("get namespaces/dev");
        assert_eq!(ns.scoped_like_api_server(&c, None).namespace(), Some("dev"));
        assert_eq!(
            p("get namespaces")
                .scoped_like_api_server(&c, Some("x"))
                .namespace(),
            None
        );
    }

    /// Grant's and revoke's wording: the preflight rights as the missing-rights error lists them.
    #[test]
    fn describe_words_grant_and_revoke_messages() {
        let rbac = "rbac.authorization.k8s.io";
        let said = |r: ResourceRequest| Request::from(r).describe();
        assert_eq!(
            said(r("patch", rbac, "clusterroles").name("chronom-readonly")),
            "patch clusterroles.rbac.authorization.k8s.io/chronom-readonly (cluster-wide)"
        );
        assert_eq!(
            said(
                r("get", "", "configmaps")
                    .namespace("kube-system")
                    .name("aws-auth")
            ),
            "get configmaps/aws-auth in namespace kube-system"
        );
        assert_eq!(
            said(r("get", "", "nodes").subresource("proxy")),
            "get nodes/proxy (cluster-wide)"
        );
        assert_eq!(
            said(r("list", "example.com", "widgets")),
            "list widgets.example.com (cluster-wide)"
        );
        assert_eq!(
            Request::non_resource("get", "/metrics").describe(),
            "get /metrics"
        );
    }

    #[test]
    fn versions() {
        assert!(is_version("v1"));
        assert!(is_version("v1beta1"));
        assert!(is_version("v2alpha3"));
        assert!(!is_version("v"));
        assert!(!is_version("vbeta1"));
        assert!(!is_version("v1beta"));
        assert!(!is_version("example"));
        assert_eq!(strip_version("v1.apps"), "apps");
        assert_eq!(strip_version("apps"), "apps");
        assert_eq!(strip_version("example.com"), "example.com");
    }
}
