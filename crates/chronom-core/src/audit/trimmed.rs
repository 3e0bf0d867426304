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
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};

/// The annotations the audit reads; every other one is skipped unread.
pub(crate) const KEPT_ANNOTATIONS: [&str; 2] = [
    crate::readonly_role::PROFILE_ANNOTATION,
    crate::eks::pod_roles::IRSA_ANNOTATION,
];

/// A kind the audit lists, and the form its JSON is read through (its protobuf:
/// `super::page_proto::FromProtobuf`).
pub trait Trimmed: Sized {
    type Wire: DeserializeOwned + Into<Self>;
}

/// One page of a LIST answer, read into `items`: each object is trimmed and appended as it is
/// parsed, with no page-sized vector of wire objects in between. The page's metadata (where
/// the next page starts) is the value.
pub struct PageInto<'a, K> {
    pub items: &'a mut Vec<K>,
    /// The page size asked for: with the server's count of the items left, room for exactly
    /// all of them is made once, rather than by doubling (k8s-openapi objects are ~0.4 KB each
    /// before their strings). `None` when that room was made already.
    pub limit: Option<usize>,
}

impl<K: Trimmed> PageInto<'_, K> {
    /// A whole LIST answer's text (or the part around its items): its metadata, with its items
    /// appended; an error if the text is not one well-formed answer.
    pub fn read(self, text: &[u8]) -> Result<ListMeta, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(text);
        let meta = self.deserialize(&mut de)?;
        de.end()?;
        Ok(meta)
    }
}

impl<'de, K: Trimmed> DeserializeSeed<'de> for PageInto<'_, K> {
    type Value = ListMeta;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ListMeta, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, K: Trimmed> Visitor<'de> for PageInto<'_, K> {
    type Value = ListMeta;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a LIST answer")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListMeta, A::Error> {
        let mut metadata = None;
        let before = self.items.len();
        while let Some(key) = map.next_key::<PageKey>()? {
            match key {
                PageKey::Metadata => {
                    let m: ListMeta = map.next_value::<Option<ListMeta>>()?.unwrap_or_default();
                    let left = m.remaining_item_count.and_then(|n| usize::try_from(n).ok());
                    if let (Some(limit), Some(left)) = (self.limit, left) {
                        // The API server writes metadata before items; if not, what this page
                        // already holds is part of its `limit`.
                        let this_page = limit.saturating_sub(self.items.len() - before);
                        // The count is the server's word: room is a hint, and a count no
                        // memory could hold leaves the vector to grow as it fills.
                        let _ = self.items.try_reserve_exact(this_page.saturating_add(left));
                    }
                    metadata = Some(m);
                }
                // `null` when the list is empty, from some servers.
                PageKey::Items => map.next_value_seed(ItemsInto(&mut *self.items))?,
                PageKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(metadata.unwrap_or_default())
    }
}

/// A LIST answer's field: the two the audit reads, or another.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum PageKey {
    Metadata,
    Items,
    #[serde(other)]
    Other,
}

/// A page's `items` (or `null`), each trimmed and appended as it is parsed.
struct ItemsInto<'a, K>(&'a mut Vec<K>);

impl<'de, K: Trimmed> DeserializeSeed<'de> for ItemsInto<'_, K> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, K: Trimmed> Visitor<'de> for ItemsInto<'_, K> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<K::Wire>()? {
            self.0.push(item.into());
        }
        Ok(())
    }
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

/// `rules: []` as no rules: the JSON encoding writes an empty list and a missing one apart
/// (`rules` has no omitempty), protobuf cannot, and the API server's default etcd storage
/// (protobuf) keeps no difference either. Read alike, the two encodings give the same objects.
fn nonempty(rules: Option<Vec<PolicyRule>>) -> Option<Vec<PolicyRule>> {
    rules.filter(|r| !r.is_empty())
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
            rules: nonempty(w.rules),
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
            rules: nonempty(w.rules),
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

    /// Reads a LIST answer the way `list_in_pages` does.
    fn page_into<K: Trimmed>(
        answer: serde_json::Value,
        items: &mut Vec<K>,
        limit: usize,
    ) -> Result<ListMeta, serde_json::Error> {
        PageInto {
            items,
            limit: Some(limit),
        }
        .read(answer.to_string().as_bytes())
    }

    #[test]
    fn a_page_carries_its_continue_token_and_items_even_null() {
        let binding = |name: &str| json!({"metadata": {"name": name}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}});
        let mut items: Vec<RoleBinding> = Vec::new();
        let meta = page_into(
            json!({
                "kind": "RoleBindingList", "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"resourceVersion": "9", "continue": "abc", "remainingItemCount": 3},
                "items": [binding("a"), binding("b")],
            }),
            &mut items,
            2,
        )
        .unwrap();
        assert_eq!(meta.continue_.as_deref(), Some("abc"));
        assert_eq!(meta.remaining_item_count, Some(3));
        // Room for this page and the 3 left, made once.
        assert_eq!(items.capacity(), 5);
        // A later page appends after what earlier pages read.
        let last = page_into(
            json!({"metadata": {}, "items": [binding("c")]}),
            &mut items,
            2,
        )
        .unwrap();
        assert_eq!(last.continue_, None);
        let names: Vec<_> = items.iter().map(|b| b.metadata.name.as_deref()).collect();
        assert_eq!(names, [Some("a"), Some("b"), Some("c")]);
        assert_eq!(
            items[0],
            RoleBinding::from(serde_json::from_value::<BindingWire>(binding("a")).unwrap())
        );
        // Items before metadata, a null or missing list, or no metadata at all read the same.
        let mut more: Vec<RoleBinding> = Vec::new();
        page_into(
            json!({"items": [binding("d")], "metadata": {"continue": "x"}}),
            &mut more,
            9,
        )
        .unwrap();
        assert_eq!(more.len(), 1);
        for empty in [
            json!({"metadata": {}, "items": null}),
            json!({"metadata": null}),
            json!({}),
        ] {
            let mut none: Vec<RoleBinding> = Vec::new();
            assert_eq!(page_into(empty, &mut none, 9).unwrap(), ListMeta::default());
            assert!(none.is_empty());
        }
        // A binding without its roleRef is refused, as k8s-openapi refuses it.
        assert!(from_json_value::<RoleBinding>(json!({"metadata": {"name": "b"}})).is_err());
        assert!(
            page_into(
                json!({"items": [{"metadata": {"name": "b"}}]}),
                &mut Vec::<RoleBinding>::new(),
                9
            )
            .is_err()
        );
        // Not a LIST answer at all.
        assert!(page_into(json!([1]), &mut Vec::<RoleBinding>::new(), 9).is_err());
    }
}
