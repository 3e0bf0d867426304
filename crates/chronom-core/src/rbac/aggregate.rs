//! ClusterRole aggregation for offline input, as the clusterrole-aggregation controller computes it.
//!
//! Followed: `pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go`
//! (syncClusterRole), `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go`
//! (LabelSelectorAsSelector) and `staging/src/k8s.io/apimachinery/pkg/labels/selector.go`
//! (Requirement.Matches).
//!
//! What the controller does for a ClusterRole with an `aggregationRule`: for each selector in
//! order, list the ClusterRoles it selects sorted by name, skip the role itself, and append each
//! of their rules unless a semantically equal rule (nil and empty lists are equal) is already
//! there. The result *replaces* the role's rules, so rules written by hand into an aggregated
//! role disappear, and an aggregationRule with no selectors yields no rules. Sources are read
//! with their stored rules, which for aggregated sources are themselves aggregated, so the
//! controller converges to a fixpoint; we compute it directly, starting aggregated roles empty.
//! If a selector is invalid the controller errors and leaves the role as stored; so do we.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;

/// Where a snapshot's ClusterRole rules come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleSource {
    /// Use rules as stored: right for objects read from a live cluster, where the controller has
    /// already written aggregated rules (and what the authorizer actually evaluates).
    #[default]
    AsStored,
    /// Recompute aggregated ClusterRoles from their selectors: right for offline manifests.
    Aggregate,
}

/// An aggregated ClusterRole whose rules could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AggregationIssue {
    pub cluster_role: String,
    pub reason: String,
}

/// Whether `labels` satisfy `selector`; an error for the selectors LabelSelectorAsSelector
/// rejects (unknown operator, In/NotIn without values, Exists/DoesNotExist with values).
/// An empty selector selects everything. Label key/value syntax is not validated here.
pub fn selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<bool, String> {
    let match_labels = selector.match_labels.as_ref();
    let exprs = selector.match_expressions.as_deref().unwrap_or_default();
    let mut ok = true;
    for (k, v) in match_labels.into_iter().flatten() {
        ok &= labels.get(k) == Some(v);
    }
    for e in exprs {
        let values = e.values.as_deref().unwrap_or_default();
        let has_value = |v: &String| values.iter().any(|x| x == v);
        let m = match e.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "operator {} on key {:?} needs at least one value",
                    e.operator, e.key
                ));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!(
                    "operator {} on key {:?} takes no values",
                    e.operator, e.key
                ));
            }
            "In" => labels.get(&e.key).is_some_and(has_value),
            "NotIn" => !labels.get(&e.key).is_some_and(has_value),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        };
        ok &= m;
    }
    Ok(ok)
}

/// Rule equality as equality.Semantic.DeepEqual sees it: list order matters, nil == empty.
pub(crate) fn rules_equal(a: &PolicyRule, b: &PolicyRule) -> bool {
    fn l(v: &Option<Vec<String>>) -> &[String] {
        v.as_deref().unwrap_or_default()
    }
    a.verbs == b.verbs
        && l(&a.api_groups) == l(&b.api_groups)
        && l(&a.resources) == l(&b.resources)
        && l(&a.resource_names) == l(&b.resource_names)
        && l(&a.non_resource_urls) == l(&b.non_resource_urls)
}

fn push_unique(into: &mut Vec<PolicyRule>, rule: &PolicyRule) {
    if !into.iter().any(|r| rules_equal(r, rule)) {
        into.push(rule.clone());
    }
}

/// Returns the ClusterRoles with aggregated roles' rules recomputed, and the roles left as stored
/// because a selector was invalid.
pub fn aggregate_cluster_roles(
    roles: Vec<ClusterRole>,
) -> (Vec<ClusterRole>, Vec<AggregationIssue>) {
    let name = |r: &ClusterRole| r.metadata.name.clone().unwrap_or_default();
    let names: Vec<&str> = roles
        .iter()
        .map(|r| r.metadata.name.as_deref().unwrap_or_default())
        .collect();
    let no_labels = BTreeMap::new();
    let labels: Vec<&BTreeMap<String, String>> = roles
        .iter()
        .map(|r| r.metadata.labels.as_ref().unwrap_or(&no_labels))
        .collect();
    let mut by_name: Vec<usize> = (0..roles.len()).collect();
    by_name.sort_by_key(|&i| names[i]);
    let mut issues = Vec::new();

    // For each aggregated role with valid selectors: per selector, the selected roles by name.
    let mut plans: BTreeMap<usize, Vec<Vec<usize>>> = BTreeMap::new();
    'roles: for (i, role) in roles.iter().enumerate() {
        let Some(rule) = &role.aggregation_rule else {
            continue;
        };
        let mut plan = Vec::new();
        for sel in rule.cluster_role_selectors.as_deref().unwrap_or_default() {
            let mut selected = Vec::new();
            for &j in &by_name {
                match selector_matches(sel, labels[j]) {
                    Ok(true) if names[j] != names[i] => selected.push(j),
                    Ok(_) => {}
                    Err(reason) => {
                        issues.push(AggregationIssue {
                            cluster_role: name(role),
                            reason,
                        });
                        continue 'roles;
                    }
                }
            }
            plan.push(selected);
        }
        plans.insert(i, plan);
    }

    // Only the aggregated roles' rules are computed; every other role is read where it is.
    let mut computed: BTreeMap<usize, Vec<PolicyRule>> =
        plans.keys().map(|&i| (i, Vec::new())).collect();
    // Monotone from empty: every round only adds rules, so stop when no role grew.
    for _ in 0..=roles.len() {
        let mut grew = false;
        for (&i, plan) in &plans {
            let mut next = Vec::new();
            for &j in plan.iter().flatten() {
                let rules = match computed.get(&j) {
                    Some(rules) => rules.as_slice(),
                    None => roles[j].rules.as_deref().unwrap_or_default(),
                };
                for r in rules {
                    push_unique(&mut next, r);
                }
            }
            grew |= next.len() != computed[&i].len();
            computed.insert(i, next);
        }
        if !grew {
            break;
        }
    }

    let mut roles = roles;
    for (i, rules) in computed {
        roles[i].rules = Some(rules);
    }
    (roles, issues)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::rule::policy_rule;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, ObjectMeta};

    fn cr(
        name: &str,
        labels: &[(&str, &str)],
        rules: Vec<PolicyRule>,
        agg: Option<Vec<LabelSelector>>,
    ) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            rules: Some(rules),
            aggregation_rule: agg.map(|s| AggregationRule {
                cluster_role_selectors: Some(s),
            }),
        }
    }

    fn ml(k: &str, v: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some([(k.to_string(), v.to_string())].into()),
            match_expressions: None,
        }
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: (!values.is_empty())
                    .then(|| values.iter().map(|s| s.to_string()).collect()),
            }]),
        }
    }

    fn get(roles: &[ClusterRole], n: &str) -> Vec<PolicyRule> {
        roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(n))
            .unwrap()
            .rules
            .clone()
            .unwrap()
    }

    #[test]
    fn selector_operators() {
        let labels: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        assert!(selector_matches(&ml("a", "1"), &labels).unwrap());
        assert!(!selector_matches(&ml("a", "2"), &labels).unwrap());
        assert!(selector_matches(&expr("a", "In", &["1", "2"]), &labels).unwrap());
        assert!(!selector_matches(&expr("a", "NotIn", &["1"]), &labels).unwrap());
        assert!(
            selector_matches(&expr("b", "NotIn", &["1"]), &labels).unwrap(),
            "NotIn matches a missing key"
        );
        assert!(selector_matches(&expr("a", "Exists", &[]), &labels).unwrap());
        assert!(selector_matches(&expr("b", "DoesNotExist", &[]), &labels).unwrap());
        assert!(
            selector_matches(&LabelSelector::default(), &labels).unwrap(),
            "empty selector selects all"
        );
        assert!(selector_matches(&expr("a", "In", &[]), &labels).is_err());
        assert!(selector_matches(&expr("a", "Exists", &["x"]), &labels).is_err());
        assert!(selector_matches(&expr("a", "Gt", &["1"]), &labels).is_err());
    }

    #[test]
    fn nested_aggregation_like_admin_edit_view() {
        let pods = policy_rule(&["get"], &[""], &["pods"], &[]);
        let deploys = policy_rule(&["create"], &["apps"], &["deployments"], &[]);
        let secrets = policy_rule(&["delete"], &[""], &["secrets"], &[]);
        let roles = vec![
            cr(
                "admin",
                &[],
                vec![policy_rule(&["hand"], &["x"], &["y"], &[])],
                Some(vec![ml("to-admin", "true")]),
            ),
            cr(
                "edit",
                &[("to-admin", "true")],
                vec![],
                Some(vec![ml("to-edit", "true")]),
            ),
            cr(
                "view",
                &[("to-edit", "true")],
                vec![],
                Some(vec![ml("to-view", "true")]),
            ),
            cr("sys-view", &[("to-view", "true")], vec![pods.clone()], None),
            cr(
                "sys-edit",
                &[("to-edit", "true")],
                vec![deploys.clone(), pods.clone()],
                None,
            ),
            cr(
                "sys-admin",
                &[("to-admin", "true")],
                vec![secrets.clone()],
                None,
            ),
        ];
        let (out, issues) = aggregate_cluster_roles(roles);
        assert!(issues.is_empty());
        assert_eq!(get(&out, "view"), vec![pods.clone()]);
        // Sorted by name: sys-edit before view.
        assert_eq!(get(&out, "edit"), vec![deploys.clone(), pods.clone()]);
        // edit < sys-admin by name; hand-written rule on admin is replaced.
        assert_eq!(get(&out, "admin"), vec![deploys, pods, secrets]);
    }

    #[test]
    fn self_cycles_invalid_and_empty() {
        let r1 = policy_rule(&["get"], &[""], &["pods"], &[]);
        let r2 = policy_rule(&["get"], &[""], &["services"], &[]);
        let roles = vec![
            cr("a", &[("x", "1")], vec![], Some(vec![ml("x", "1")])),
            cr("b", &[("x", "1")], vec![], Some(vec![ml("x", "1")])),
            cr("c", &[("x", "1")], vec![r1.clone()], None),
            cr("d", &[("x", "1")], vec![r2.clone()], None),
            cr(
                "bad",
                &[],
                vec![r2.clone()],
                Some(vec![expr("x", "In", &[])]),
            ),
            cr("none", &[], vec![r1.clone()], Some(vec![])),
        ];
        let (out, issues) = aggregate_cluster_roles(roles);
        let set = |v: Vec<PolicyRule>| {
            let mut v: Vec<String> = v.iter().map(|r| format!("{r:?}")).collect();
            v.sort();
            v
        };
        assert_eq!(set(get(&out, "a")), set(vec![r1.clone(), r2.clone()]));
        assert_eq!(set(get(&out, "b")), set(vec![r1.clone(), r2.clone()]));
        assert_eq!(
            get(&out, "bad"),
            vec![r2],
            "invalid selector: left as stored"
        );
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].cluster_role, "bad");
        assert!(get(&out, "none").is_empty(), "no selectors: no rules");
    }

    #[test]
    fn nil_and_empty_lists_are_the_same_rule() {
        let mut a = policy_rule(&["get"], &[""], &["pods"], &[]);
        let mut b = a.clone();
        a.resource_names = None;
        b.resource_names = Some(vec![]);
        assert!(rules_equal(&a, &b));
    }
}
