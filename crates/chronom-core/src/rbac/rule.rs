//! Matching one `PolicyRule` against one request, exactly as the Kubernetes RBAC authorizer does.
//!
//! Followed: `pkg/apis/rbac/v1/evaluation_helpers.go` (VerbMatches, APIGroupMatches,
//! ResourceMatches, ResourceNameMatches, NonResourceURLMatches) and `RuleAllows` in
//! `plugin/pkg/auth/authorizer/rbac/rbac.go` (kubernetes v1.37.2).

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::request::{NonResourceRequest, Request, ResourceRequest};

/// The wildcard RBAC uses for verbs, API groups, resources and non-resource URLs.
pub const WILDCARD: &str = "*";

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or_default()
}

/// `*` or the exact verb. There is no verb hierarchy: `*` in a *request* only matches a rule
/// that lists `*` (or, literally, the string "*").
pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == WILDCARD || v == verb)
}

/// `*` or the exact group; the core group is the empty string.
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups)
        .iter()
        .any(|g| g == WILDCARD || g == group)
}

/// `combined` is `resource` or `resource/subresource`.
///
/// Why only these three forms: ResourceMatches accepts `*` (which therefore also matches every
/// subresource), the exact combined string, and `*/<subresource>` when the request has a
/// subresource. A rule resource like `pods/*` is *not* a pattern: it only matches a request
/// whose subresource is literally `*`.
pub fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    list(&rule.resources).iter().any(|r| {
        r == WILDCARD
            || r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
    })
}

/// A rule without resourceNames matches every name, including "no name". A rule with
/// resourceNames matches only a request whose name is in the list, so requests that carry no
/// name (list and watch without a `metadata.name` field selector, deletecollection, create of a
/// top-level object) never match it. Quirk kept on purpose: a listed empty name `""` matches a
/// request without a name, because the Go code compares strings and validation does not forbid it.
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = list(&rule.resource_names);
    names.is_empty() || names.iter().any(|n| n == name)
}

/// `*`, the exact path, or a prefix match when the rule ends in `*` (every trailing `*` is
/// trimmed, as strings.TrimRight does, so `/apis/*` matches `/apis/` and `/apis/apps`, but not
/// `/apis`).
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    list(&rule.non_resource_urls).iter().any(|u| {
        u == WILDCARD
            || u == path
            || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
    })
}

/// RuleAllows for a resource request.
pub fn rule_allows_resource(rule: &PolicyRule, req: &ResourceRequest) -> bool {
    let subresource = req.subresource.as_deref().unwrap_or("");
    let combined = if subresource.is_empty() {
        std::borrow::Cow::Borrowed(req.resource.as_str())
    } else {
        std::borrow::Cow::Owned(format!("{}/{}", req.resource, subresource))
    };
    verb_matches(rule, &req.verb)
        && api_group_matches(rule, &req.api_group)
        && resource_matches(rule, &combined, subresource)
        && resource_name_matches(rule, req.name.as_deref().unwrap_or(""))
}

/// RuleAllows for a non-resource request. API groups and resources are not consulted.
pub fn rule_allows_non_resource(rule: &PolicyRule, req: &NonResourceRequest) -> bool {
    verb_matches(rule, &req.verb) && non_resource_url_matches(rule, &req.path)
}

/// Whether `rule` allows `request` (RuleAllows in rbac.go).
pub fn rule_allows(rule: &PolicyRule, request: &Request) -> bool {
    match request {
        Request::Resource(r) => rule_allows_resource(rule, r),
        Request::NonResource(r) => rule_allows_non_resource(rule, r),
    }
}

/// Builds a rule from string slices; for tests and for the capability catalogue.
pub fn policy_rule(
    verbs: &[&str],
    api_groups: &[&str],
    resources: &[&str],
    resource_names: &[&str],
) -> PolicyRule {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let opt = |v: &[&str]| (!v.is_empty()).then(|| owned(v));
    PolicyRule {
        verbs: owned(verbs),
        api_groups: opt(api_groups),
        resources: opt(resources),
        resource_names: opt(resource_names),
        non_resource_urls: None,
    }
}

/// Builds a non-resource rule from string slices.
pub fn non_resource_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        non_resource_urls: Some(urls.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(
        verb: &str,
        group: &str,
        resource: &str,
        sub: Option<&str>,
        name: Option<&str>,
    ) -> Request {
        let mut r = ResourceRequest::new(verb, group, resource);
        r.subresource = sub.map(str::to_string);
        r.name = name.map(str::to_string);
        Request::Resource(r)
    }

    #[test]
    fn verbs_groups_resources_wildcards() {
        let rule = policy_rule(&["*"], &["*"], &["*"], &[]);
        assert!(rule_allows(
            &rule,
            &res(
                "escalate",
                "rbac.authorization.k8s.io",
                "clusterroles",
                None,
                None
            )
        ));
        assert!(rule_allows(
            &rule,
            &res("create", "", "pods", Some("exec"), Some("p"))
        ));
        let rule = policy_rule(&["get"], &[""], &["pods"], &[]);
        assert!(rule_allows(&rule, &res("get", "", "pods", None, Some("p"))));
        assert!(!rule_allows(&rule, &res("get", "apps", "pods", None, None)));
        assert!(!rule_allows(&rule, &res("list", "", "pods", None, None)));
        assert!(
            !rule_allows(&rule, &res("get", "", "pods", Some("log"), None)),
            "pods does not cover pods/log"
        );
        assert!(
            !rule_allows(&rule, &res("*", "", "pods", None, None)),
            "a request verb * needs a rule verb *"
        );
    }

    #[test]
    fn subresource_forms() {
        let star_scale = policy_rule(&["update"], &["*"], &["*/scale"], &[]);
        assert!(rule_allows(
            &star_scale,
            &res("update", "apps", "deployments", Some("scale"), Some("d"))
        ));
        assert!(!rule_allows(
            &star_scale,
            &res("update", "apps", "deployments", None, Some("d"))
        ));
        assert!(!rule_allows(
            &star_scale,
            &res("update", "apps", "deployments", Some("status"), Some("d"))
        ));
        // `*/scale` must not match a subresource that merely ends in "scale".
        assert!(!rule_allows(
            &star_scale,
            &res("update", "apps", "deployments", Some("rescale"), Some("d"))
        ));
        let pods_star = policy_rule(&["create"], &[""], &["pods/*"], &[]);
        assert!(
            !rule_allows(
                &pods_star,
                &res("create", "", "pods", Some("exec"), Some("p"))
            ),
            "pods/* is literal"
        );
        assert!(rule_allows(
            &pods_star,
            &res("create", "", "pods", Some("*"), Some("p"))
        ));
        let exec = policy_rule(&["create"], &[""], &["pods/exec"], &[]);
        assert!(rule_allows(
            &exec,
            &res("create", "", "pods", Some("exec"), Some("p"))
        ));
        assert!(!rule_allows(&exec, &res("create", "", "pods", None, None)));
    }

    #[test]
    fn resource_names() {
        let named = policy_rule(
            &["get", "list", "delete", "create", "deletecollection"],
            &[""],
            &["secrets"],
            &["a"],
        );
        assert!(rule_allows(
            &named,
            &res("get", "", "secrets", None, Some("a"))
        ));
        assert!(!rule_allows(
            &named,
            &res("get", "", "secrets", None, Some("b"))
        ));
        assert!(!rule_allows(
            &named,
            &res("list", "", "secrets", None, None)
        ));
        assert!(!rule_allows(
            &named,
            &res("create", "", "secrets", None, None)
        ));
        assert!(!rule_allows(
            &named,
            &res("deletecollection", "", "secrets", None, None)
        ));
        // list with a metadata.name field selector carries the name (requestinfo.go).
        assert!(rule_allows(
            &named,
            &res("list", "", "secrets", None, Some("a"))
        ));
        let empty_name = policy_rule(&["get"], &[""], &["secrets"], &[""]);
        assert!(
            rule_allows(&empty_name, &res("get", "", "secrets", None, None)),
            "Go quirk: \"\" == \"\""
        );
    }

    #[test]
    fn non_resource_urls() {
        let rule = non_resource_rule(&["get"], &["/healthz", "/apis/*", "/logs**"]);
        let nr = |p: &str| Request::non_resource("get", p);
        assert!(rule_allows(&rule, &nr("/healthz")));
        assert!(!rule_allows(&rule, &nr("/healthz/etcd")));
        assert!(rule_allows(&rule, &nr("/apis/")));
        assert!(rule_allows(&rule, &nr("/apis/apps/v1")));
        assert!(!rule_allows(&rule, &nr("/apis")));
        assert!(rule_allows(&rule, &nr("/logs")));
        assert!(rule_allows(&rule, &nr("/logsfoo")));
        assert!(!rule_allows(
            &rule,
            &Request::non_resource("post", "/healthz")
        ));
        let all = non_resource_rule(&["*"], &["*"]);
        assert!(rule_allows(
            &all,
            &Request::non_resource("delete", "/anything")
        ));
        // A non-resource rule never matches a resource request and vice versa.
        assert!(!rule_allows(&all, &res("get", "", "pods", None, None)));
        let resource_rule = policy_rule(&["*"], &["*"], &["*"], &[]);
        assert!(!rule_allows(&resource_rule, &nr("/healthz")));
    }
}
