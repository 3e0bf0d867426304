//! The read-only ClusterRole and its ClusterRoleBinding, built as data.
//!
//! Pure: the shell decides whether to apply them by comparing what is live with what is
//! built here, so a re-grant of an unchanged role makes no write at all.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub const FIELD_MANAGER: &str = "kubectl-chronom";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "kubectl-chronom";
pub const GRANTED_BY_ANNOTATION: &str = "chronom.io/granted-by";
pub const GRANTED_AT_ANNOTATION: &str = "chronom.io/granted-at";
pub const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// Who granted and when, recorded on the objects so an audit can tell where they came from.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub granted_by: String,
    pub granted_at: String,
}

/// Resources the API server serves, grouped by API group, as discovery reported them.
/// Used for `--exclude-secrets`, where "*" cannot express "everything but one".
pub type DiscoveredResources = BTreeMap<String, Vec<String>>;

/// The rules of the read-only role: `*` everywhere, or every discovered resource except
/// core secrets (subresources included, since `*` would include them too).
pub fn read_only_rules(exclude_secrets: Option<&DiscoveredResources>) -> Vec<PolicyRule> {
    let verbs: Vec<String> = READ_VERBS.iter().map(|v| v.to_string()).collect();
    match exclude_secrets {
        None => vec![PolicyRule {
            api_groups: Some(vec!["*".into()]),
            resources: Some(vec!["*".into()]),
            verbs,
            ..Default::default()
        }],
        Some(discovered) => discovered
            .iter()
            .filter_map(|(group, resources)| {
                let mut kept: Vec<String> = resources
                    .iter()
                    .filter(|r| !(group.is_empty() && is_secret_resource(r)))
                    .cloned()
                    .collect();
                kept.sort();
                kept.dedup();
                (!kept.is_empty()).then(|| PolicyRule {
                    api_groups: Some(vec![group.clone()]),
                    resources: Some(kept),
                    verbs: verbs.clone(),
                    ..Default::default()
                })
            })
            .collect(),
    }
}

fn is_secret_resource(resource: &str) -> bool {
    resource == "secrets" || resource.starts_with("secrets/")
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

pub fn cluster_role(name: &str, rules: Vec<PolicyRule>, provenance: &Provenance) -> ClusterRole {
    ClusterRole {
        metadata: meta(name, provenance),
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
        v
    };
    let mut keys: Vec<_> = rules
        .iter()
        .map(|r| {
            let mut verbs = r.verbs.clone();
            verbs.sort();
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
    keys
}

/// Whether a live ClusterRole grants exactly the desired rules and nothing more.
pub fn role_matches(live: &ClusterRole, desired: &ClusterRole) -> bool {
    live.aggregation_rule.is_none()
        && rule_key(live.rules.as_deref().unwrap_or_default())
            == rule_key(desired.rules.as_deref().unwrap_or_default())
        && is_managed(&live.metadata)
}

/// Whether a live binding binds exactly the desired role to exactly the desired subjects.
pub fn binding_matches(live: &ClusterRoleBinding, desired: &ClusterRoleBinding) -> bool {
    live.role_ref == desired.role_ref
        && live.subjects == desired.subjects
        && is_managed(&live.metadata)
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

    fn prov() -> Provenance {
        Provenance {
            granted_by: "admin".into(),
            granted_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn default_rules_are_exactly_read_on_everything() {
        let rules = read_only_rules(None);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].api_groups.as_deref(), Some(&["*".to_string()][..]));
        assert_eq!(rules[0].resources.as_deref(), Some(&["*".to_string()][..]));
        assert_eq!(rules[0].verbs, vec!["get", "list", "watch"]);
        assert!(rules[0].resource_names.is_none() && rules[0].non_resource_urls.is_none());
    }

    #[test]
    fn exclude_secrets_drops_core_secrets_only() {
        let discovered = DiscoveredResources::from([
            (
                "".into(),
                vec![
                    "pods".into(),
                    "secrets".into(),
                    "pods/log".into(),
                    "configmaps".into(),
                ],
            ),
            ("apps".into(), vec!["deployments".into()]),
            ("example.com".into(), vec!["secrets".into()]),
        ]);
        let rules = read_only_rules(Some(&discovered));
        let core = rules
            .iter()
            .find(|r| r.api_groups.as_deref() == Some(&["".to_string()][..]))
            .unwrap();
        assert_eq!(
            core.resources.as_deref().unwrap(),
            ["configmaps", "pods", "pods/log"]
        );
        let custom = rules
            .iter()
            .find(|r| r.api_groups.as_deref() == Some(&["example.com".to_string()][..]))
            .unwrap();
        assert_eq!(
            custom.resources.as_deref().unwrap(),
            ["secrets"],
            "only core secrets are excluded"
        );
        assert!(
            rules
                .iter()
                .all(|r| !r.resources.as_ref().unwrap().iter().any(|x| x == "*"))
        );
    }

    #[test]
    fn drift_is_detected_regardless_of_order_but_not_of_content() {
        let desired = cluster_role("r", read_only_rules(None), &prov());
        let mut live = desired.clone();
        assert!(role_matches(&live, &desired));
        live.rules.as_mut().unwrap()[0].verbs = vec!["watch".into(), "get".into(), "list".into()];
        assert!(role_matches(&live, &desired));
        live.rules.as_mut().unwrap()[0].verbs.push("delete".into());
        assert!(!role_matches(&live, &desired));
    }

    #[test]
    fn unmanaged_objects_never_match() {
        let desired = cluster_role("r", read_only_rules(None), &prov());
        let mut live = desired.clone();
        live.metadata.labels = None;
        assert!(!role_matches(&live, &desired));
    }

    #[test]
    fn binding_targets_the_group() {
        let b = cluster_role_binding("b", "r", "g", &prov());
        let s = &b.subjects.as_ref().unwrap()[0];
        assert_eq!((s.kind.as_str(), s.name.as_str()), ("Group", "g"));
        assert_eq!(b.role_ref.name, "r");
    }
}
