//! The chronom ClusterRole and its ClusterRoleBinding, built as data.
//!
//! Pure: the shell decides whether to apply them by comparing what is live with what is
//! built here, so a re-grant of an unchanged role makes no write at all.
//!
//! The role is one of three profiles (docs/read-only-role.md). The read-only ones are built
//! from what discovery says the server serves, one rule per API group, never with a `*`: a
//! wildcard read grants more than reads (`get nodes/proxy` runs commands through the kubelet,
//! `get pods/exec` over a WebSocket runs them through the API server before 1.35) and covers
//! every resource installed later, whatever it holds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

pub const FIELD_MANAGER: &str = "kubectl-chronom";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "kubectl-chronom";
pub const GRANTED_BY_ANNOTATION: &str = "chronom.io/granted-by";
pub const GRANTED_AT_ANNOTATION: &str = "chronom.io/granted-at";
/// Which [`RoleProfile`] the ClusterRole was written as; what the audit and a re-grant read.
pub const PROFILE_ANNOTATION: &str = "chronom.io/profile";
pub const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// Subresources that are not reads whatever the verb: they reach into containers or act as
/// an HTTP client for the caller (kubelet exec via `nodes/proxy`, exec/attach/port-forward over a
/// WebSocket `GET`, HTTP to any pod, service or node through the API server).
pub const EXCLUDED_SUBRESOURCES: [&str; 4] = ["exec", "attach", "portforward", "proxy"];

/// What the chronom ClusterRole grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleProfile {
    /// get/list/watch on every served readable resource, minus secrets and the
    /// exec/attach/portforward/proxy family and `serviceaccounts/token`. The default.
    ReadOnly,
    /// [`RoleProfile::ReadOnly`] plus core secrets (`--include-secrets`).
    ReadOnlyWithSecrets,
    /// `*`/`*`/get,list,watch, the role earlier versions wrote (`--wildcard-role`). Not read-only.
    Wildcard,
}

impl RoleProfile {
    pub const ALL: [RoleProfile; 3] = [
        RoleProfile::ReadOnly,
        RoleProfile::ReadOnlyWithSecrets,
        RoleProfile::Wildcard,
    ];

    /// The value of the `chronom.io/profile` annotation and of `profile` in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleProfile::ReadOnly => "read-only",
            RoleProfile::ReadOnlyWithSecrets => "read-only-with-secrets",
            RoleProfile::Wildcard => "wildcard",
        }
    }

    pub fn from_annotation(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }

    /// Whether the identity may read core secrets under this profile.
    pub fn reads_secrets(self) -> bool {
        !matches!(self, RoleProfile::ReadOnly)
    }

    /// Whether the rules come from discovery (and so must be refreshed as the server grows).
    pub fn is_per_resource(self) -> bool {
        !matches!(self, RoleProfile::Wildcard)
    }
}

impl fmt::Display for RoleProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `--wildcard-role` grants beyond reads, for the warning on stderr and the report's note.
pub const WILDCARD_WARNING: &str = "--wildcard-role grants get/list/watch on \"*\": that includes \
get nodes/proxy (run commands in any container on any node through the kubelet), get \
pods/exec, pods/attach and pods/portforward (exec, attach and port-forward over a WebSocket GET \
on API servers before 1.35 or with AuthorizePodWebsocketUpgradeCreatePermission off), get \
pods/proxy and services/proxy (HTTP to any pod or service with the API server as the client), \
and every Secret (service-account tokens and credentials); see docs/read-only-role.md";

/// Who granted and when, recorded on the objects so an audit can tell where they came from.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub granted_by: String,
    pub granted_at: String,
}

/// What discovery reported: API group ("" for core) -> resource or `resource/subresource` ->
/// the verbs the server supports on it, merged across the group's served versions.
pub type DiscoveredResources = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Whether `profile` leaves `resource` (`name` or `name/sub`) of `group` out of its role.
pub fn is_excluded(profile: RoleProfile, group: &str, resource: &str) -> bool {
    let (base, sub) = match resource.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (resource, None),
    };
    if sub.is_some_and(|s| EXCLUDED_SUBRESOURCES.contains(&s)) {
        return true;
    }
    if group.is_empty() && base == "serviceaccounts" && sub == Some("token") {
        return true;
    }
    group.is_empty() && base == "secrets" && !profile.reads_secrets()
}

/// Whether discovery says the resource supports a read verb. Create-only resources (reviews,
/// `pods/eviction`, `pods/binding`) are left out: granting reads on them would mean nothing.
fn is_readable(verbs: &BTreeSet<String>) -> bool {
    READ_VERBS.iter().any(|v| verbs.contains(*v))
}

/// A name that is an RBAC pattern rather than a name: `*` in a rule matches everything.
fn is_pattern(name: &str) -> bool {
    name.contains('*')
}

/// Every (group, resource) the profile's role must cover, given what the server serves.
/// Empty for [`RoleProfile::Wildcard`], which names no resource.
pub fn covered_resources(
    profile: RoleProfile,
    discovered: &DiscoveredResources,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if !profile.is_per_resource() {
        return out;
    }
    for (group, resources) in discovered {
        if is_pattern(group) {
            continue;
        }
        for (resource, verbs) in resources {
            if resource.is_empty()
                || is_pattern(resource)
                || !is_readable(verbs)
                || is_excluded(profile, group, resource)
            {
                continue;
            }
            out.entry(group.clone())
                .or_default()
                .insert(resource.clone());
        }
    }
    out
}

/// The rules of the chronom role for `profile`: `*`/`*`/get,list,watch for the wildcard profile,
/// otherwise one get/list/watch rule per API group naming every covered resource, in a
/// canonical order (groups and resources sorted), so that the same discovery gives the same rules.
pub fn profile_rules(profile: RoleProfile, discovered: &DiscoveredResources) -> Vec<PolicyRule> {
    let verbs: Vec<String> = READ_VERBS.iter().map(|v| v.to_string()).collect();
    if !profile.is_per_resource() {
        return vec![PolicyRule {
            api_groups: Some(vec!["*".into()]),
            resources: Some(vec!["*".into()]),
            verbs,
            ..Default::default()
        }];
    }
    covered_resources(profile, discovered)
        .into_iter()
        .map(|(group, resources)| PolicyRule {
            api_groups: Some(vec![group]),
            resources: Some(resources.into_iter().collect()),
            verbs: verbs.clone(),
            ..Default::default()
        })
        .collect()
}

/// The profile a live ClusterRole was written as: its annotation; for a role written before
/// profiles existed (no annotation), the wildcard profile when its rules are exactly
/// `*`/`*`/get,list,watch. None when it cannot be told (an unknown annotation value, or other rules).
pub fn live_profile(role: &ClusterRole) -> Option<RoleProfile> {
    let annotated = role
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROFILE_ANNOTATION));
    match annotated {
        Some(value) => RoleProfile::from_annotation(value),
        None => {
            let wildcard = profile_rules(RoleProfile::Wildcard, &DiscoveredResources::new());
            (role.aggregation_rule.is_none()
                && rule_key(role.rules.as_deref().unwrap_or_default()) == rule_key(&wildcard))
            .then_some(RoleProfile::Wildcard)
        }
    }
}

/// `resource.group/sub` as kubectl spells it (`pods/log`, `deployments.apps/scale`).
pub fn kubectl_name(group: &str, resource: &str) -> String {
    let (base, sub) = match resource.split_once('/') {
        Some((b, s)) => (b, format!("/{s}")),
        None => (resource, String::new()),
    };
    if group.is_empty() {
        format!("{base}{sub}")
    } else {
        format!("{base}.{group}{sub}")
    }
}

/// Resources `profile` should cover today that the live rules do not let the role get, list and
/// watch, as [`kubectl_name`]s, sorted by group then resource. What CHR028 reports.
pub fn missing_reads(
    profile: RoleProfile,
    live_rules: &[PolicyRule],
    discovered: &DiscoveredResources,
) -> Vec<String> {
    let mut missing = Vec::new();
    for (group, resources) in covered_resources(profile, discovered) {
        for resource in resources {
            let sub = resource.split_once('/').map_or("", |(_, s)| s);
            let reads_all = READ_VERBS.iter().all(|verb| {
                live_rules.iter().any(|rule| {
                    crate::rbac::rule::verb_matches(rule, verb)
                        && crate::rbac::rule::api_group_matches(rule, &group)
                        && crate::rbac::rule::resource_matches(rule, &resource, sub)
                        && rule.resource_names.as_ref().is_none_or(Vec::is_empty)
                })
            });
            if !reads_all {
                missing.push(kubectl_name(&group, &resource));
            }
        }
    }
    missing
}

fn meta(name: &str, provenance: &Provenance) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(BTreeMap::from([(
            MANAGED_BY_LABEL.into(),
            MANAGED_BY_VALUE.into(),
        )])),
        annotations: Some(BTreeMap::from([
            (GRANTED_BY_ANNOTATION.into(), provenance.granted_by.clone()),
            (GRANTED_AT_ANNOTATION.into(), provenance.granted_at.clone()),
        ])),
        ..Default::default()
    }
}

/// The chronom ClusterRole of `profile` with `rules` (from [`profile_rules`]), annotated with
/// its profile so that a later grant and the audit know what it is meant to grant.
pub fn cluster_role(
    name: &str,
    profile: RoleProfile,
    rules: Vec<PolicyRule>,
    provenance: &Provenance,
) -> ClusterRole {
    let mut metadata = meta(name, provenance);
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(PROFILE_ANNOTATION.into(), profile.as_str().into());
    ClusterRole {
        metadata,
        rules: Some(rules),
        aggregation_rule: None,
    }
}

pub fn cluster_role_binding(
    name: &str,
    role_name: &str,
    group: &str,
    provenance: &Provenance,
) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(name, provenance),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role_name.into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: group.into(),
            namespace: None,
        }]),
    }
}

/// True when the object carries our managed-by label, so revoke may delete it.
pub fn is_managed(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY_VALUE)
}

/// One rule's sorted (apiGroups, resources, verbs, resourceNames, nonResourceURLs).
type RuleKey = (
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
);

/// The part of a ClusterRole that decides what it grants, in a canonical order.
fn rule_key(rules: &[PolicyRule]) -> Vec<RuleKey> {
    let sorted = |v: &Option<Vec<String>>| {
        let mut v = v.clone().unwrap_or_default();
        v.sort();
        v.dedup();
        v
    };
    let mut keys: Vec<RuleKey> = rules
        .iter()
        .map(|r| {
            let mut verbs = r.verbs.clone();
            verbs.sort();
            verbs.dedup();
            (
                sorted(&r.api_groups),
                sorted(&r.resources),
                verbs,
                sorted(&r.resource_names),
                sorted(&r.non_resource_urls),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn profile_annotation(meta: &ObjectMeta) -> Option<&str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(PROFILE_ANNOTATION))
        .map(String::as_str)
}

/// Whether a live ClusterRole grants exactly the desired rules and nothing more, and says so
/// (ours, same profile annotation). Rules are compared as sets of canonical rules, so a role
/// whose rules the server returns in another order, or whose verbs are listed in another
/// order, matches: a re-grant with nothing new writes nothing. Provenance annotations are
/// not compared: they say who wrote the role, not what it grants.
pub fn role_matches(live: &ClusterRole, desired: &ClusterRole) -> bool {
    live.aggregation_rule.is_none()
        && rule_key(live.rules.as_deref().unwrap_or_default())
            == rule_key(desired.rules.as_deref().unwrap_or_default())
        && is_managed(&live.metadata)
        && profile_annotation(&live.metadata) == profile_annotation(&desired.metadata)
}

/// Rules rendered as YAML, for showing drift as a diff.
pub fn rules_yaml(rules: &[PolicyRule]) -> String {
    serde_saphyr::to_string(&rules).unwrap_or_else(|e| format!("# could not render rules: {e}\n"))
}

/// The manifest as YAML, for `--dry-run`. Only what we set, never server fields.
pub fn manifest_yaml<T: serde::Serialize>(object: &T) -> String {
    serde_saphyr::to_string(object)
        .unwrap_or_else(|e| format!("# could not render manifest: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prov() -> Provenance {
        Provenance {
            granted_by: "admin".into(),
            granted_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn verbs(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// What a v1.37 kube-apiserver reports for a few groups (verbs as `kubectl api-resources -o wide`
    /// shows them), plus a CRD and an aggregated API with a proxy subresource.
    fn served() -> DiscoveredResources {
        let rw = [
            "create", "delete", "get", "list", "patch", "update", "watch",
        ];
        let mut d = DiscoveredResources::new();
        let mut add = |g: &str, r: &str, v: &[&str]| {
            d.entry(g.to_string())
                .or_default()
                .insert(r.to_string(), verbs(v));
        };
        add("", "pods", &rw);
        add("", "pods/log", &["get"]);
        add("", "pods/status", &["get", "patch", "update"]);
        add("", "pods/exec", &["create", "get"]);
        add("", "pods/attach", &["create", "get"]);
        add("", "pods/portforward", &["create", "get"]);
        add(
            "",
            "pods/proxy",
            &["create", "delete", "get", "patch", "update"],
        );
        add("", "pods/eviction", &["create"]);
        add("", "pods/binding", &["create"]);
        add("", "pods/ephemeralcontainers", &["get", "patch", "update"]);
        add("", "nodes", &rw);
        add(
            "",
            "nodes/proxy",
            &["create", "delete", "get", "patch", "update"],
        );
        add("", "nodes/status", &["get", "patch", "update"]);
        add("", "services", &rw);
        add(
            "",
            "services/proxy",
            &["create", "delete", "get", "patch", "update"],
        );
        add("", "secrets", &rw);
        add("", "configmaps", &rw);
        add("", "serviceaccounts", &rw);
        add("", "serviceaccounts/token", &["create"]);
        add("", "bindings", &["create"]);
        add("apps", "deployments", &rw);
        add("apps", "deployments/scale", &["get", "patch", "update"]);
        add("authorization.k8s.io", "subjectaccessreviews", &["create"]);
        add("example.com", "widgets", &rw);
        add("example.com", "secrets", &rw);
        add("metrics.example.io", "things/proxy", &["get"]);
        d
    }

    fn resources_of<'a>(rules: &'a [PolicyRule], group: &str) -> Vec<&'a str> {
        rules
            .iter()
            .filter(|r| r.api_groups.as_deref() == Some(&[group.to_string()][..]))
            .flat_map(|r| r.resources.as_deref().unwrap_or_default())
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn wildcard_profile_is_exactly_read_on_everything() {
        let rules = profile_rules(RoleProfile::Wildcard, &served());
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].api_groups.as_deref(), Some(&["*".to_string()][..]));
        assert_eq!(rules[0].resources.as_deref(), Some(&["*".to_string()][..]));
        assert_eq!(rules[0].verbs, vec!["get", "list", "watch"]);
        assert!(rules[0].resource_names.is_none() && rules[0].non_resource_urls.is_none());
    }

    #[test]
    fn read_only_profile_names_each_readable_resource_per_group() {
        let rules = profile_rules(RoleProfile::ReadOnly, &served());
        assert_eq!(
            resources_of(&rules, ""),
            [
                "configmaps",
                "nodes",
                "nodes/status",
                "pods",
                "pods/ephemeralcontainers",
                "pods/log",
                "pods/status",
                "serviceaccounts",
                "services",
            ]
        );
        assert_eq!(
            resources_of(&rules, "apps"),
            ["deployments", "deployments/scale"]
        );
        assert_eq!(
            resources_of(&rules, "example.com"),
            ["secrets", "widgets"],
            "only core secrets are excluded"
        );
        assert!(
            resources_of(&rules, "authorization.k8s.io").is_empty(),
            "create-only reviews are not readable"
        );
        assert!(
            resources_of(&rules, "metrics.example.io").is_empty(),
            "a proxy subresource is excluded in every group"
        );
        for r in &rules {
            assert_eq!(r.verbs, ["get", "list", "watch"]);
            assert_eq!(
                r.api_groups.as_ref().unwrap().len(),
                1,
                "one group per rule"
            );
            assert!(r.resource_names.is_none() && r.non_resource_urls.is_none());
        }
    }

    #[test]
    fn every_dangerous_subresource_is_left_out() {
        let rules = profile_rules(RoleProfile::ReadOnlyWithSecrets, &served());
        let core = resources_of(&rules, "");
        for bad in [
            "nodes/proxy",
            "pods/exec",
            "pods/attach",
            "pods/portforward",
            "pods/proxy",
            "services/proxy",
            "serviceaccounts/token",
        ] {
            assert!(!core.contains(&bad), "{bad} granted: {core:?}");
        }
    }

    #[test]
    fn with_secrets_adds_core_secrets_and_nothing_else() {
        let without = profile_rules(RoleProfile::ReadOnly, &served());
        let with = profile_rules(RoleProfile::ReadOnlyWithSecrets, &served());
        assert!(!resources_of(&without, "").contains(&"secrets"));
        assert!(resources_of(&with, "").contains(&"secrets"));
        let mut added: Vec<&str> = resources_of(&with, "");
        added.retain(|r| !resources_of(&without, "").contains(r));
        assert_eq!(added, ["secrets"]);
        assert_eq!(resources_of(&with, "apps"), resources_of(&without, "apps"));
    }

    #[test]
    fn secrets_subresources_follow_secrets() {
        let mut d = served();
        d.get_mut("")
            .unwrap()
            .insert("secrets/status".into(), verbs(&["get"]));
        assert!(
            !resources_of(&profile_rules(RoleProfile::ReadOnly, &d), "")
                .contains(&"secrets/status")
        );
        assert!(
            resources_of(&profile_rules(RoleProfile::ReadOnlyWithSecrets, &d), "")
                .contains(&"secrets/status")
        );
    }

    #[test]
    fn a_resource_with_only_one_read_verb_is_included() {
        let rules = profile_rules(RoleProfile::ReadOnly, &served());
        assert!(resources_of(&rules, "").contains(&"pods/log"));
    }

    #[test]
    fn wildcard_names_from_discovery_never_reach_a_rule() {
        let mut d = DiscoveredResources::new();
        d.entry("*".into())
            .or_default()
            .insert("things".into(), verbs(&["get"]));
        d.entry("ok.io".into())
            .or_default()
            .insert("*".into(), verbs(&["get"]));
        d.entry("ok.io".into())
            .or_default()
            .insert("*/status".into(), verbs(&["get"]));
        assert!(profile_rules(RoleProfile::ReadOnly, &d).is_empty());
    }

    #[test]
    fn the_same_discovery_gives_the_same_rules() {
        assert_eq!(
            profile_rules(RoleProfile::ReadOnly, &served()),
            profile_rules(RoleProfile::ReadOnly, &served())
        );
    }

    #[test]
    fn profiles_round_trip_through_the_annotation() {
        for p in RoleProfile::ALL {
            assert_eq!(RoleProfile::from_annotation(p.as_str()), Some(p));
            let role = cluster_role("r", p, profile_rules(p, &served()), &prov());
            assert_eq!(
                role.metadata.annotations.as_ref().unwrap()[PROFILE_ANNOTATION],
                p.as_str()
            );
            assert_eq!(live_profile(&role), Some(p));
        }
        assert_eq!(RoleProfile::from_annotation("read-write"), None);
        assert_eq!(
            serde_json::to_value(RoleProfile::ReadOnlyWithSecrets).unwrap(),
            "read-only-with-secrets"
        );
    }

    #[test]
    fn legacy_roles_are_classified_by_their_rules() {
        let mut legacy = cluster_role(
            "r",
            RoleProfile::Wildcard,
            profile_rules(RoleProfile::Wildcard, &served()),
            &prov(),
        );
        legacy
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .remove(PROFILE_ANNOTATION);
        assert_eq!(live_profile(&legacy), Some(RoleProfile::Wildcard));
        legacy.rules.as_mut().unwrap()[0].verbs = vec!["watch".into(), "list".into(), "get".into()];
        assert_eq!(live_profile(&legacy), Some(RoleProfile::Wildcard));

        let mut per_resource = legacy.clone();
        per_resource.rules = Some(profile_rules(RoleProfile::ReadOnly, &served()));
        assert_eq!(
            live_profile(&per_resource),
            None,
            "an unannotated --exclude-secrets role"
        );

        let mut more = legacy.clone();
        more.rules.as_mut().unwrap()[0].verbs.push("delete".into());
        assert_eq!(live_profile(&more), None);

        let mut unknown = legacy.clone();
        unknown
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(PROFILE_ANNOTATION.into(), "everything".into());
        unknown.rules = Some(profile_rules(RoleProfile::Wildcard, &served()));
        assert_eq!(
            live_profile(&unknown),
            None,
            "an unknown annotation is not guessed at"
        );
    }

    #[test]
    fn drift_is_detected_regardless_of_order_but_not_of_content() {
        let desired = cluster_role(
            "r",
            RoleProfile::ReadOnly,
            profile_rules(RoleProfile::ReadOnly, &served()),
            &prov(),
        );
        let mut live = desired.clone();
        assert!(role_matches(&live, &desired));
        live.rules.as_mut().unwrap().reverse();
        for r in live.rules.as_mut().unwrap() {
            r.verbs.reverse();
            r.resources.as_mut().unwrap().reverse();
        }
        assert!(role_matches(&live, &desired), "order is not content");
        live.rules.as_mut().unwrap()[0].verbs.push("delete".into());
        assert!(!role_matches(&live, &desired));
    }

    #[test]
    fn a_newly_served_resource_makes_the_role_differ() {
        let live = cluster_role(
            "r",
            RoleProfile::ReadOnly,
            profile_rules(RoleProfile::ReadOnly, &served()),
            &prov(),
        );
        let mut grown = served();
        grown
            .entry("new.example.com".into())
            .or_default()
            .insert("gadgets".into(), verbs(&["get", "list", "watch"]));
        let desired = cluster_role(
            "r",
            RoleProfile::ReadOnly,
            profile_rules(RoleProfile::ReadOnly, &grown),
            &prov(),
        );
        assert!(!role_matches(&live, &desired));
        assert_eq!(
            missing_reads(
                RoleProfile::ReadOnly,
                live.rules.as_deref().unwrap(),
                &grown
            ),
            ["gadgets.new.example.com"]
        );
    }

    #[test]
    fn provenance_does_not_count_but_the_profile_does() {
        let rules = profile_rules(RoleProfile::ReadOnly, &served());
        let desired = cluster_role("r", RoleProfile::ReadOnly, rules.clone(), &prov());
        let mut live = desired.clone();
        live.metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(GRANTED_BY_ANNOTATION.into(), "someone-else".into());
        assert!(role_matches(&live, &desired));
        live.metadata
            .annotations
            .as_mut()
            .unwrap()
            .remove(PROFILE_ANNOTATION);
        assert!(
            !role_matches(&live, &desired),
            "a role without the annotation gets it written"
        );
        let other = cluster_role("r", RoleProfile::ReadOnlyWithSecrets, rules, &prov());
        assert!(!role_matches(&other, &desired));
    }

    #[test]
    fn unmanaged_or_aggregated_objects_never_match() {
        let desired = cluster_role(
            "r",
            RoleProfile::Wildcard,
            profile_rules(RoleProfile::Wildcard, &served()),
            &prov(),
        );
        let mut live = desired.clone();
        live.metadata.labels = None;
        assert!(!role_matches(&live, &desired));
        let mut aggregated = desired.clone();
        aggregated.aggregation_rule = Some(Default::default());
        assert!(!role_matches(&aggregated, &desired));
    }

    #[test]
    fn missing_reads_follows_rbac_matching() {
        let d = served();
        // The wildcard covers everything, so a wildcard-shaped rule set misses nothing.
        let star = profile_rules(RoleProfile::Wildcard, &d);
        assert!(missing_reads(RoleProfile::ReadOnly, &star, &d).is_empty());
        // A rule restricted to names does not count as reading the resource.
        let mut named = profile_rules(RoleProfile::ReadOnly, &d);
        named[0].resource_names = Some(vec!["one".into()]);
        assert!(!missing_reads(RoleProfile::ReadOnly, &named, &d).is_empty());
        // get alone is not enough: the profile promises list and watch too.
        let mut get_only = profile_rules(RoleProfile::ReadOnly, &d);
        for r in &mut get_only {
            r.verbs = vec!["get".into()];
        }
        assert_eq!(
            missing_reads(RoleProfile::ReadOnly, &get_only, &d).len(),
            covered_resources(RoleProfile::ReadOnly, &d)
                .values()
                .map(BTreeSet::len)
                .sum::<usize>()
        );
        // `*/scale` covers every scale subresource, as RBAC matches it.
        let scale = vec![crate::rbac::rule::policy_rule(
            &["get", "list", "watch"],
            &["apps"],
            &["deployments", "*/scale"],
            &[],
        )];
        assert!(
            !missing_reads(RoleProfile::ReadOnly, &scale, &d)
                .iter()
                .any(|m| m.starts_with("deployments.apps"))
        );
        assert!(missing_reads(RoleProfile::Wildcard, &[], &d).is_empty());
    }

    #[test]
    fn kubectl_names() {
        assert_eq!(kubectl_name("", "pods"), "pods");
        assert_eq!(kubectl_name("", "pods/log"), "pods/log");
        assert_eq!(
            kubectl_name("apps", "deployments/scale"),
            "deployments.apps/scale"
        );
    }

    #[test]
    fn binding_targets_the_group() {
        let b = cluster_role_binding("b", "r", "g", &prov());
        let s = &b.subjects.as_ref().unwrap()[0];
        assert_eq!((s.kind.as_str(), s.name.as_str()), ("Group", "g"));
        assert_eq!(b.role_ref.name, "r");
    }

    // Property tests over arbitrary discovery: names mixing ordinary words with the excluded
    // ones and with `*`, and verb sets with and without reads.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{1,6}",
            Just("secrets".to_string()),
            Just("serviceaccounts".to_string()),
            Just("*".to_string()),
        ]
    }

    fn sub() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            "[a-z]{1,6}".prop_map(Some),
            prop::sample::select(vec![
                "exec",
                "attach",
                "portforward",
                "proxy",
                "token",
                "log",
                "status",
                "*"
            ])
            .prop_map(|s| Some(s.to_string())),
        ]
    }

    fn group() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("apps".to_string()),
            "[a-z]{1,5}\\.io",
            Just("*".to_string()),
        ]
    }

    fn verb_set() -> impl Strategy<Value = BTreeSet<String>> {
        prop::collection::btree_set(
            prop::sample::select(vec![
                "get", "list", "watch", "create", "update", "patch", "delete",
            ])
            .prop_map(str::to_string),
            0..5,
        )
    }

    fn discovery() -> impl Strategy<Value = DiscoveredResources> {
        prop::collection::vec((group(), name(), sub(), verb_set()), 0..40).prop_map(|items| {
            let mut d = DiscoveredResources::new();
            for (g, n, s, v) in items {
                let r = match s {
                    Some(s) => format!("{n}/{s}"),
                    None => n,
                };
                d.entry(g).or_default().insert(r, v);
            }
            d
        })
    }

    fn profile() -> impl Strategy<Value = RoleProfile> {
        prop::sample::select(vec![
            RoleProfile::ReadOnly,
            RoleProfile::ReadOnlyWithSecrets,
        ])
    }

    /// (group, resource) pairs granted by per-resource rules.
    fn granted(rules: &[PolicyRule]) -> BTreeSet<(String, String)> {
        rules
            .iter()
            .flat_map(|r| {
                let groups = r.api_groups.clone().unwrap_or_default();
                let resources = r.resources.clone().unwrap_or_default();
                groups
                    .into_iter()
                    .flat_map(move |g| resources.clone().into_iter().map(move |x| (g.clone(), x)))
            })
            .collect()
    }

    proptest! {
        // Explicit, so that PROPTEST_CASES=0 in the environment cannot turn these into no-ops.
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_read_only_rule_ever_holds_a_wildcard(p in profile(), d in discovery()) {
            for rule in profile_rules(p, &d) {
                for v in rule.api_groups.iter().chain(rule.resources.iter()).flatten() {
                    prop_assert!(!v.contains('*'), "{rule:?}");
                }
                prop_assert_eq!(&rule.verbs, &READ_VERBS.map(String::from).to_vec());
                prop_assert!(rule.resource_names.is_none() && rule.non_resource_urls.is_none());
            }
        }

        #[test]
        fn no_excluded_resource_ever_appears(p in profile(), d in discovery()) {
            for (g, r) in granted(&profile_rules(p, &d)) {
                let sub = r.split_once('/').map(|(_, s)| s);
                // Spelled out rather than EXCLUDED_SUBRESOURCES, so that the list itself is checked.
                prop_assert!(
                    !sub.is_some_and(|s| ["exec", "attach", "portforward", "proxy"].contains(&s)),
                    "{g:?} {r}"
                );
                prop_assert!(!(g.is_empty() && r == "serviceaccounts/token"));
                if p == RoleProfile::ReadOnly {
                    prop_assert!(!(g.is_empty() && (r == "secrets" || r.starts_with("secrets/"))), "{r}");
                }
            }
        }

        #[test]
        fn every_readable_resource_not_excluded_appears_and_nothing_else(
            p in profile(),
            d in discovery(),
        ) {
            let got = granted(&profile_rules(p, &d));
            let mut want = BTreeSet::new();
            for (g, resources) in &d {
                for (r, verbs) in resources {
                    let readable = ["get", "list", "watch"].iter().any(|v| verbs.contains(*v));
                    let sub = r.split_once('/').map(|(_, s)| s);
                    let excluded = sub.is_some_and(|s| ["exec", "attach", "portforward", "proxy"].contains(&s))
                        || (g.is_empty() && r == "serviceaccounts/token")
                        || (p == RoleProfile::ReadOnly && g.is_empty()
                            && (r == "secrets" || r.starts_with("secrets/")));
                    if readable && !excluded && !g.contains('*') && !r.contains('*') {
                        want.insert((g.clone(), r.clone()));
                    }
                }
            }
            prop_assert_eq!(got, want);
        }

        #[test]
        fn a_role_built_from_discovery_misses_nothing_and_matches_itself(
            p in profile(),
            d in discovery(),
        ) {
            let role = cluster_role("r", p, profile_rules(p, &d), &prov());
            prop_assert!(missing_reads(p, role.rules.as_deref().unwrap(), &d).is_empty());
            let mut shuffled = role.clone();
            shuffled.rules.as_mut().unwrap().reverse();
            prop_assert!(role_matches(&shuffled, &role));
        }
    }
}
