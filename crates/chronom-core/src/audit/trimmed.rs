//! The objects the audit lists, read with only what it keeps: name, namespace, labels (aggregation
//! selects ClusterRoles by label, and the chronom role is recognised by one), the chronom profile
//! annotation (CHR028 judges the role by its profile), a service account's IRSA role annotation
//! (`eks::pod_roles`) and the kind's own fields. managedFields (often larger than the object),
//! `kubectl.kubernetes.io/last-applied-configuration` (a second copy of it), uid,
//! resourceVersion, timestamps and owner references are skipped as they are parsed, never
//! built: a live list page or a `kubectl get -A` dump costs what the audit uses, not what it
//! carries.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};

/// The annotations the audit reads; every other one is skipped unread.
const KEPT_ANNOTATIONS: [&str; 2] = [
    crate::readonly_role::PROFILE_ANNOTATION,
    crate::eks::pod_roles::IRSA_ANNOTATION,
];

/// A kind the audit lists, and the form it is read through.
pub trait Trimmed: Sized {
    type Wire: DeserializeOwned + Into<Self>;
}

/// One page of a LIST answer: its items and where the next page starts.
#[derive(Deserialize)]
#[serde(bound = "W: DeserializeOwned")]
pub struct Page<W> {
    #[serde(default)]
    pub metadata: ListMeta,
    /// `null` when the list is empty, from some servers.
    #[serde(default)]
    pub items: Option<Vec<W>>,
}

#[derive(Deserialize, Default)]
pub struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<KeptAnnotations>,
}

impl From<Meta> for ObjectMeta {
    fn from(m: Meta) -> Self {
        ObjectMeta {
            name: m.name,
            namespace: m.namespace,
            labels: m.labels,
            annotations: m.annotations.map(|a| a.0).filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        }
    }
}

/// The annotations in [`KEPT_ANNOTATIONS`]; the values of the others are never allocated.
struct KeptAnnotations(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for KeptAnnotations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(KeptVisitor)
    }
}

struct KeptVisitor;

impl<'de> Visitor<'de> for KeptVisitor {
    type Value = KeptAnnotations;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of annotations")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeptAnnotations, A::Error> {
        let mut kept = BTreeMap::new();
        while let Some(key) = map.next_key::<KeptKey>()? {
            match key.0 {
                Some(name) => {
                    kept.insert(name.to_string(), map.next_value::<String>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(KeptAnnotations(kept))
    }
}

/// An annotation's name: one of [`KEPT_ANNOTATIONS`], or `None` for any other.
struct KeptKey(Option<&'static str>);

impl<'de> Deserialize<'de> for KeptKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeptKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an annotation name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeptKey, E> {
                Ok(KeptKey(KEPT_ANNOTATIONS.into_iter().find(|k| *k == v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRoleWire {
    #[serde(default)]
    metadata: Meta,
    rules: Option<Vec<PolicyRule>>,
    aggregation_rule: Option<AggregationRule>,
}

impl From<ClusterRoleWire> for ClusterRole {
    fn from(w: ClusterRoleWire) -> Self {
        ClusterRole {
            metadata: w.metadata.into(),
            rules: w.rules,
            aggregation_rule: w.aggregation_rule,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleWire {
    #[serde(default)]
    metadata: Meta,
    rules: Option<Vec<PolicyRule>>,
}

impl From<RoleWire> for Role {
    fn from(w: RoleWire) -> Self {
        Role {
            metadata: w.metadata.into(),
            rules: w.rules,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingWire {
    #[serde(default)]
    metadata: Meta,
    role_ref: RoleRef,
    subjects: Option<Vec<Subject>>,
}

impl From<BindingWire> for ClusterRoleBinding {
    fn from(w: BindingWire) -> Self {
        ClusterRoleBinding {
            metadata: w.metadata.into(),
            role_ref: w.role_ref,
            subjects: w.subjects,
        }
    }
}

impl From<BindingWire> for RoleBinding {
    fn from(w: BindingWire) -> Self {
        RoleBinding {
            metadata: w.metadata.into(),
            role_ref: w.role_ref,
            subjects: w.subjects,
        }
    }
}

#[derive(Deserialize)]
pub struct ServiceAccountWire {
    #[serde(default)]
    metadata: Meta,
}

impl From<ServiceAccountWire> for ServiceAccount {
    fn from(w: ServiceAccountWire) -> Self {
        ServiceAccount {
            metadata: w.metadata.into(),
            ..ServiceAccount::default()
        }
    }
}

impl Trimmed for ClusterRole {
    type Wire = ClusterRoleWire;
}

impl Trimmed for Role {
    type Wire = RoleWire;
}

impl Trimmed for ClusterRoleBinding {
    type Wire = BindingWire;
}

impl Trimmed for RoleBinding {
    type Wire = BindingWire;
}

impl Trimmed for ServiceAccount {
    type Wire = ServiceAccountWire;
}

/// One object of kind `K`, read as the audit keeps it.
pub fn from_json_value<K: Trimmed>(value: serde_json::Value) -> Result<K, serde_json::Error> {
    serde_json::from_value::<K::Wire>(value).map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the API sends: everything the audit does not read, around what it does.
    fn sent(kind: &str, body: serde_json::Value) -> serde_json::Value {
        let mut object = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": {
                "name": "r", "namespace": "ns", "uid": "u-1", "resourceVersion": "7",
                "generation": 2, "creationTimestamp": "2026-12-07T10:00:00Z",
                "labels": {"app": "x", "rbac.example/aggregate-to-view": "true"},
                "annotations": {
                    "chronom.io/profile": "read-only",
                    "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/app",
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"big\": true}",
                },
                "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "u-2"}],
                "managedFields": [{
                    "manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                    "time": "2026-12-07T10:00:00Z", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
                }],
            },
        });
        object
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        object
    }

    /// k8s-openapi's own reading of the object, cut down to what the audit keeps: the trimmed
    /// reading must be exactly this.
    fn read_whole_then_cut<
        K: serde::de::DeserializeOwned + k8s_openapi::Metadata<Ty = ObjectMeta>,
    >(
        value: serde_json::Value,
    ) -> K {
        let mut whole: K = serde_json::from_value(value).unwrap();
        let meta = whole.metadata_mut();
        let kept: BTreeMap<String, String> = KEPT_ANNOTATIONS
            .into_iter()
            .filter_map(|k| meta.annotations.as_mut()?.remove_entry(k))
            .collect();
        *meta = ObjectMeta {
            name: meta.name.take(),
            namespace: meta.namespace.take(),
            labels: meta.labels.take(),
            annotations: (!kept.is_empty()).then_some(kept),
            ..ObjectMeta::default()
        };
        whole
    }

    #[test]
    fn every_kind_reads_as_k8s_openapi_reads_it_less_what_the_audit_drops() {
        let rules = json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                           {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]);
        let role_ref =
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"});
        let subjects = json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "g"},
                              {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]);
        let cluster_role = sent(
            "ClusterRole",
            json!({"rules": rules,
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}}),
        );
        assert_eq!(
            from_json_value::<ClusterRole>(cluster_role.clone()).unwrap(),
            read_whole_then_cut::<ClusterRole>(cluster_role)
        );
        let role = sent("Role", json!({"rules": rules}));
        assert_eq!(
            from_json_value::<Role>(role.clone()).unwrap(),
            read_whole_then_cut::<Role>(role)
        );
        let binding = sent(
            "ClusterRoleBinding",
            json!({"roleRef": role_ref, "subjects": subjects}),
        );
        assert_eq!(
            from_json_value::<ClusterRoleBinding>(binding.clone()).unwrap(),
            read_whole_then_cut::<ClusterRoleBinding>(binding)
        );
        let binding = sent(
            "RoleBinding",
            json!({"roleRef": role_ref, "subjects": subjects}),
        );
        assert_eq!(
            from_json_value::<RoleBinding>(binding.clone()).unwrap(),
            read_whole_then_cut::<RoleBinding>(binding)
        );
        let mut account = sent(
            "ServiceAccount",
            json!({"automountServiceAccountToken": false}),
        );
        account["apiVersion"] = json!("v1");
        let trimmed = from_json_value::<ServiceAccount>(account.clone()).unwrap();
        let mut whole = read_whole_then_cut::<ServiceAccount>(account);
        whole.automount_service_account_token = None;
        assert_eq!(trimmed, whole);
    }

    #[test]
    fn missing_empty_and_null_metadata_read_as_nothing() {
        let bare: ClusterRole =
            from_json_value(json!({"metadata": {"name": "r", "annotations": {}}})).unwrap();
        assert_eq!(
            bare.metadata,
            ObjectMeta {
                name: Some("r".into()),
                ..ObjectMeta::default()
            }
        );
        let nulls: ClusterRole = from_json_value(
            json!({"metadata": {"labels": null, "annotations": null}, "rules": null}),
        )
        .unwrap();
        assert_eq!(nulls, ClusterRole::default());
        let other: ClusterRole =
            from_json_value(json!({"metadata": {"annotations": {"a": "b"}}})).unwrap();
        assert_eq!(other.metadata.annotations, None);
        let none: ClusterRole = from_json_value(json!({})).unwrap();
        assert_eq!(none, ClusterRole::default());
    }

    #[test]
    fn a_page_carries_its_continue_token_and_items_even_null() {
        let page: Page<BindingWire> = serde_json::from_value(json!({
            "kind": "RoleBindingList", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"resourceVersion": "9", "continue": "abc", "remainingItemCount": 3},
            "items": [{"metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}}],
        })).unwrap();
        assert_eq!(page.metadata.continue_.as_deref(), Some("abc"));
        assert_eq!(page.metadata.remaining_item_count, Some(3));
        let items: Vec<RoleBinding> = page.items.unwrap().into_iter().map(Into::into).collect();
        assert_eq!(items[0].metadata.name.as_deref(), Some("b"));
        let empty: Page<BindingWire> =
            serde_json::from_value(json!({"metadata": {}, "items": null})).unwrap();
        assert!(empty.items.is_none());
        // A binding without its roleRef is refused, as k8s-openapi refuses it.
        assert!(from_json_value::<RoleBinding>(json!({"metadata": {"name": "b"}})).is_err());
    }
}
