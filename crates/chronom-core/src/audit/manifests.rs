//! Offline input: RBAC objects and aws-auth from YAML or JSON manifests, including
//! `kind: List` dumps from `kubectl get ... -o yaml`. Pure: text in, objects out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::trimmed;
use crate::rbac::RbacObjects;

/// Everything the audit reads, from a cluster or from files.
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    pub rbac: RbacObjects,
    /// aws-auth's data; empty when there is no aws-auth.
    pub aws_auth: BTreeMap<String, String>,
    pub aws_auth_present: bool,
    /// What discovery reported, read only from a live cluster that has a chronom-managed role
    /// with a per-resource profile: the input of CHR028 (chronom-role-incomplete).
    pub discovered: Option<crate::readonly_role::DiscoveredResources>,
    /// What a live read could not get (a forbidden LIST or GET): the report is then incomplete.
    pub unread: Vec<super::completeness::UnreadSource>,
}

#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ManifestError {
    pub origin: String,
    pub message: String,
    /// What the user can do about it.
    pub next: String,
}

/// The usual remedy for a manifest the audit cannot read.
const FIX_THE_MANIFEST: &str = "fix the manifest, or leave the file out of --from-file";

/// A YAML stream that failed: unreadable bytes (not UTF-8, a read error) say so, as reading a
/// whole file did; anything else is the YAML's fault.
fn yaml_error(origin: &str, e: &serde_saphyr::Error) -> ManifestError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(serde_saphyr::Error::IOError { cause }) = c.downcast_ref() {
            let message = match cause.kind() {
                std::io::ErrorKind::InvalidData => format!("not UTF-8 text: {cause}"),
                _ => format!("cannot read it: {cause}"),
            };
            return ManifestError {
                origin: origin.to_string(),
                message,
                next: "check the file's permissions and encoding (UTF-8)".to_string(),
            };
        }
        cause = c.source();
    }
    manifest_error(origin, format!("not valid YAML: {e}"))
}

fn manifest_error(origin: &str, message: String) -> ManifestError {
    ManifestError {
        origin: origin.to_string(),
        message,
        next: FIX_THE_MANIFEST.to_string(),
    }
}

/// The YAML parser's budget for a text of `len` bytes. Without aliases every node is at least
/// one byte of the text and every event at most two per node, so counts proportional to the
/// length never refuse a real file, however large (the parser's fixed default of 250,000 nodes
/// refused a 16x `kubectl get -A -o yaml` dump). What amplifies a small text into a huge tree
/// is aliases, and their caps stay fixed: the alias and anchor counts, the alias/anchor ratio
/// and the events replayed for anchors keep the parser's defaults.
pub fn yaml_budget(len: usize) -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.saturating_add(len);
    budget.max_events = budget.max_events.saturating_add(len.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    // "---\n" is the shortest document.
    budget.max_documents = budget.max_documents.max(len / 4);
    budget
}

/// The budget breach behind a YAML error, also when it is wrapped (a breach met while expanding
/// an alias comes wrapped in where the alias was used).
fn budget_breach(
    e: &serde_saphyr::Error,
) -> Option<(&serde_saphyr::budget::BudgetBreach, &serde_saphyr::Location)> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(serde_saphyr::Error::Budget { breach, location }) = c.downcast_ref() {
            return Some((breach, location));
        }
        cause = c.source();
    }
    None
}

/// A budget breach as the user reads it: what was exceeded, where, and why it is refused.
fn budget_message(
    breach: &serde_saphyr::budget::BudgetBreach,
    location: &serde_saphyr::Location,
    len: usize,
) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let what = match breach {
        B::Aliases { aliases } => {
            format!("{aliases} aliases (*name), more than the YAML reader allows")
        }
        B::AliasAnchorRatio { aliases, anchors } => {
            format!(
                "{aliases} aliases (*name) for {anchors} anchors (&name): they would expand the text many times over"
            )
        }
        B::RecordedAnchorEvents { .. } | B::RecordedAnchorBytes { .. } => {
            "aliases (*name) that expand to more than the YAML reader allows".to_string()
        }
        B::Nodes { nodes } => {
            format!("{nodes} YAML nodes (aliases expanded) for {len} bytes of text")
        }
        B::Events { events } => format!("{events} YAML events for {len} bytes of text"),
        B::Depth { depth } => format!("YAML nested {depth} levels deep"),
        B::Documents { documents } => format!("{documents} YAML documents for {len} bytes of text"),
        B::ScalarBytes { total_scalar_bytes } => {
            format!("{total_scalar_bytes} bytes of YAML values for {len} bytes of text")
        }
        B::MergeKeys { merge_keys } => format!("{merge_keys} YAML merge keys (<<)"),
        other => format!("a YAML resource limit ({other:?})"),
    };
    let at = if location.line() > 0 {
        format!(" at line {} column {}", location.line(), location.column())
    } else {
        String::new()
    };
    format!(
        "refused to read the YAML{at}: {what}; the limits guard against YAML bombs, which a \
         Kubernetes dump never needs"
    )
}

impl ClusterState {
    /// Add every object of one file's text. `origin` names the file in errors. Text that
    /// starts with `{` or `[` is JSON; anything else is YAML ([`ClusterState::add_yaml`]).
    ///
    /// A `kind: List` document (what `kubectl get ... -o yaml|json` prints) is read item by
    /// item: each item becomes its typed object, trimmed to what the audit reads, before the
    /// next is parsed, so the whole dump never exists as one untyped tree. Peak memory is the
    /// text plus the trimmed objects.
    pub fn add_text(&mut self, origin: &str, text: &str) -> Result<usize, ManifestError> {
        if !text.trim_start().starts_with(['{', '[']) {
            return self.add_yaml(origin, text.as_bytes(), text.len());
        }
        let docs: Vec<Document> = match serde_json::from_str::<Document>(text) {
            // A top-level JSON array holds documents.
            Ok(Document::Sequence(items)) => items.into_iter().map(Document::Tree).collect(),
            Ok(d) => vec![d],
            Err(e) => return Err(manifest_error(origin, format!("not valid JSON: {e}"))),
        };
        let mut added = 0;
        for doc in docs {
            added += self
                .add_document(doc)
                .map_err(|e| manifest_error(origin, e))?;
        }
        Ok(added)
    }

    /// Add every object of a YAML stream of `len` bytes, document by document as the reader
    /// yields them: a file's text is never held whole, so peak memory is the trimmed objects
    /// and one item. A syntax error anywhere wins over an object that cannot be read, as when
    /// the whole text was parsed first.
    pub fn add_yaml(
        &mut self,
        origin: &str,
        mut reader: impl std::io::Read,
        len: usize,
    ) -> Result<usize, ManifestError> {
        let mut budget = yaml_budget(len);
        // The other caps are proportional to `len`; the reader's own default would refuse a
        // dump past 256 MiB that the in-memory reader read.
        budget.max_reader_input_bytes = None;
        let options = serde_saphyr::options! { budget: Some(budget) };
        let mut added = 0;
        let mut unreadable = None;
        for doc in serde_saphyr::read_with_options::<_, Document>(&mut reader, options) {
            let doc = match doc {
                Ok(doc) => doc,
                Err(e) => match budget_breach(&e) {
                    Some((breach, location)) => {
                        return Err(ManifestError {
                            origin: origin.to_string(),
                            message: budget_message(breach, location, len),
                            next: "if the file is a real dump, write it as JSON \
                                   (kubectl get ... -o json) and pass that; otherwise leave it \
                                   out of --from-file"
                                .to_string(),
                        });
                    }
                    None => return Err(yaml_error(origin, &e)),
                },
            };
            if unreadable.is_none() {
                match self.add_document(doc) {
                    Ok(n) => added += n,
                    Err(e) => unreadable = Some(e),
                }
            }
        }
        match unreadable {
            Some(e) => Err(manifest_error(origin, e)),
            None => Ok(added),
        }
    }

    fn add_document(&mut self, doc: Document) -> Result<usize, String> {
        match doc {
            Document::Nothing => Ok(0),
            Document::Tree(v) => self.add_value(v),
            // A YAML document that is a sequence, like any document without a kind, holds
            // nothing the audit reads.
            Document::Sequence(_) => Ok(0),
            Document::Object { head, items } => {
                let kind = head.get("kind").and_then(Value::as_str).unwrap_or_default();
                match (items, is_list_kind(kind)) {
                    (Some(Items::Read(read)), true) => {
                        let (state, n) = read?;
                        self.absorb(state);
                        Ok(n)
                    }
                    // Not a list: its `items`, if any, are no field of the object.
                    _ => self.add_value(Value::Object(head)),
                }
            }
        }
    }

    /// Append what another state read, in order; a later aws-auth replaces an earlier one,
    /// as it does when the documents are read one by one.
    fn absorb(&mut self, other: ClusterState) {
        append(&mut self.rbac.cluster_roles, other.rbac.cluster_roles);
        append(
            &mut self.rbac.cluster_role_bindings,
            other.rbac.cluster_role_bindings,
        );
        append(&mut self.rbac.roles, other.rbac.roles);
        append(&mut self.rbac.role_bindings, other.rbac.role_bindings);
        if other.aws_auth_present {
            self.aws_auth = other.aws_auth;
            self.aws_auth_present = true;
        }
    }

    /// Each document is moved into its object, not copied: a `kubectl get -A -o json` dump of a
    /// large cluster is tens of megabytes.
    fn add_value(&mut self, doc: Value) -> Result<usize, String> {
        if doc.is_null() {
            return Ok(0);
        }
        let kind = doc
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let parse_err = |kind: &str, e: serde_json::Error| format!("{kind} {name}: {e}");
        match kind.as_str() {
            k if is_list_kind(k) => {
                let items = match doc {
                    Value::Object(mut fields) => fields.remove("items"),
                    _ => None,
                };
                let mut n = 0;
                if let Some(Value::Array(items)) = items {
                    for item in items {
                        n += self.add_value(item)?;
                    }
                }
                Ok(n)
            }
            "ClusterRole" => {
                let r: ClusterRole =
                    trimmed::from_json_value(doc).map_err(|e| parse_err("ClusterRole", e))?;
                self.rbac.cluster_roles.push(r);
                Ok(1)
            }
            "ClusterRoleBinding" => {
                let b: ClusterRoleBinding = trimmed::from_json_value(doc)
                    .map_err(|e| parse_err("ClusterRoleBinding", e))?;
                self.rbac.cluster_role_bindings.push(b);
                Ok(1)
            }
            "Role" => {
                let mut r: Role =
                    trimmed::from_json_value(doc).map_err(|e| parse_err("Role", e))?;
                r.metadata.namespace.get_or_insert_with(|| "default".into());
                self.rbac.roles.push(r);
                Ok(1)
            }
            "RoleBinding" => {
                let mut b: RoleBinding =
                    trimmed::from_json_value(doc).map_err(|e| parse_err("RoleBinding", e))?;
                b.metadata.namespace.get_or_insert_with(|| "default".into());
                self.rbac.role_bindings.push(b);
                Ok(1)
            }
            "ConfigMap" => {
                let cm: ConfigMap =
                    serde_json::from_value(doc).map_err(|e| parse_err("ConfigMap", e))?;
                let ns = cm.metadata.namespace.as_deref().unwrap_or("kube-system");
                if cm.metadata.name.as_deref() == Some("aws-auth") && ns == "kube-system" {
                    self.aws_auth = cm.data.unwrap_or_default();
                    self.aws_auth_present = true;
                    return Ok(1);
                }
                Ok(0)
            }
            _ => Ok(0),
        }
    }
}

/// `more` after `into`'s items; moved, not copied, when `into` is empty (the usual case: one
/// dump holds every object of a kind, and a 16x dump's RoleBindings are 4.6 MB of structs).
fn append<T>(into: &mut Vec<T>, mut more: Vec<T>) {
    if into.is_empty() {
        *into = more;
    } else {
        into.append(&mut more);
    }
}

fn is_list_kind(kind: &str) -> bool {
    matches!(
        kind,
        "List"
            | "ClusterRoleList"
            | "ClusterRoleBindingList"
            | "RoleList"
            | "RoleBindingList"
            | "ConfigMapList"
    )
}

/// One document of a file, read so that a list's items never pile up as untyped trees.
enum Document {
    /// A scalar or null: nothing the audit reads.
    Nothing,
    /// One document of a top-level JSON array, read whole as before.
    Tree(Value),
    /// A top-level sequence: the documents of a JSON array (a YAML one holds nothing).
    Sequence(Vec<Value>),
    /// A mapping: every field but `items`, and its `items`, read as they arrive.
    Object {
        head: Map<String, Value>,
        items: Option<Items>,
    },
}

/// A mapping's `items` field.
enum Items {
    /// A sequence: the objects read from it, or the first that could not be read. Used only if
    /// the mapping's kind (which `kubectl` prints after `items`) says it is a list.
    Read(Result<(ClusterState, usize), String>),
    /// Anything else: no items.
    Other,
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

/// A scalar document, or a scalar `items`: accepted and ignored, as the untyped reader did.
macro_rules! ignore_scalars {
    ($out:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
}

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Kubernetes object or list")
    }

    ignore_scalars!(Document::Nothing);

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Document, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
        let mut docs = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            docs.push(v);
        }
        Ok(Document::Sequence(docs))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut head = Map::new();
        let mut items = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                items = Some(map.next_value_seed(ItemsSeed)?);
            } else {
                head.insert(key, map.next_value::<Value>()?);
            }
        }
        Ok(Document::Object { head, items })
    }
}

struct ItemsSeed;

impl<'de> de::DeserializeSeed<'de> for ItemsSeed {
    type Value = Items;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed {
    type Value = Items;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list's items")
    }

    ignore_scalars!(Items::Other);

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Items, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Items::Other)
    }

    /// Each item becomes its typed, trimmed object before the next is parsed. After an item
    /// that cannot be read the rest is only checked as YAML/JSON, so that a syntax error
    /// further on still wins, as it did when the whole document was parsed first.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut state = ClusterState::default();
        let mut added = 0;
        let mut failed = None;
        loop {
            if failed.is_some() {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                continue;
            }
            match seq.next_element::<Value>()? {
                None => break,
                Some(item) => match state.add_value(item) {
                    Ok(n) => added += n,
                    Err(e) => failed = Some(e),
                },
            }
        }
        Ok(Items::Read(match failed {
            Some(e) => Err(e),
            None => Ok((state, added)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_multi_docs_and_aws_auth() {
        let mut s = ClusterState::default();
        let yaml = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: ClusterRole\n  metadata: {name: a}\n  rules: []\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/x\n      groups: [g]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: a}\nsubjects: [{kind: Group, name: g}]\n";
        assert_eq!(s.add_text("f.yaml", yaml).unwrap(), 3);
        assert_eq!(s.rbac.cluster_roles.len(), 1);
        assert_eq!(
            s.rbac.role_bindings[0].metadata.namespace.as_deref(),
            Some("default")
        );
        assert!(s.aws_auth_present && s.aws_auth["mapRoles"].contains("role/x"));
    }

    /// Streamed document by document, a YAML file still fails as the whole text did: a syntax
    /// error in a later document wins over an object that cannot be read in an earlier one.
    #[test]
    fn a_syntax_error_anywhere_wins_over_an_unreadable_object() {
        let bad_object = "kind: RoleBinding\nmetadata: {name: rb}\n";
        let mut s = ClusterState::default();
        let e = s
            .add_text(
                "f.yaml",
                &format!("{bad_object}---\nkind: ClusterRole\nmetadata: [\n"),
            )
            .unwrap_err();
        assert!(e.message.starts_with("not valid YAML"), "{e}");
        let e = s
            .add_text(
                "f.yaml",
                &format!("{bad_object}---\nkind: List\nitems: []\n"),
            )
            .unwrap_err();
        assert!(e.message.contains("roleRef"), "{e}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_reported_as_such() {
        let mut s = ClusterState::default();
        let e = s
            .add_yaml(
                "f.yaml",
                &b"kind: ClusterRole\nmetadata: {name: \xc3\x28}\n"[..],
                40,
            )
            .unwrap_err();
        assert!(e.message.contains("UTF-8"), "{e}");
        assert!(e.next.contains("encoding"), "{e:?}");
    }

    #[test]
    fn json_and_errors_name_the_file() {
        let mut s = ClusterState::default();
        assert_eq!(
            s.add_text(
                "a.json",
                r#"{"kind":"ClusterRole","metadata":{"name":"x"},"rules":[]}"#
            )
            .unwrap(),
            1
        );
        let e = s
            .add_text("bad.yaml", "kind: ClusterRole\nmetadata: [")
            .unwrap_err();
        assert!(e.to_string().starts_with("bad.yaml: "), "{e}");
    }

    /// `n` RoleBindings as one `kind: List`, in kubectl's YAML and JSON shapes.
    fn big_list(n: usize) -> (String, String) {
        let mut yaml = String::from("apiVersion: v1\nitems:\n");
        let mut json = Vec::new();
        for i in 0..n {
            yaml.push_str(&format!(
                "- apiVersion: rbac.authorization.k8s.io/v1\n  kind: RoleBinding\n  metadata:\n    creationTimestamp: \"2026-12-07T10:00:00Z\"\n    name: rb-{i}\n    namespace: ns-{}\n    resourceVersion: \"{i}\"\n    uid: 00000000-0000-0000-0000-{i:012}\n  roleRef:\n    apiGroup: rbac.authorization.k8s.io\n    kind: ClusterRole\n    name: view\n  subjects:\n  - apiGroup: rbac.authorization.k8s.io\n    kind: Group\n    name: team-{}\n",
                i % 100,
                i % 50
            ));
            json.push(serde_json::json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"creationTimestamp": "2026-12-07T10:00:00Z", "name": format!("rb-{i}"),
                    "namespace": format!("ns-{}", i % 100), "resourceVersion": i.to_string(),
                    "uid": format!("00000000-0000-0000-0000-{i:012}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": format!("team-{}", i % 50)}],
            }));
        }
        yaml.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
        let json = serde_json::json!({"apiVersion": "v1", "items": json, "kind": "List", "metadata": {"resourceVersion": ""}});
        (yaml, serde_json::to_string_pretty(&json).unwrap())
    }

    /// Past the parser's fixed default of 250,000 nodes (30,000 bindings are ~570,000 nodes),
    /// YAML reads, and reads exactly like the same list in JSON; metadata the audit does not
    /// read is dropped as each item is read.
    #[test]
    fn a_list_past_the_default_yaml_budget_reads_like_its_json() {
        let (yaml, json) = big_list(30_000);
        let mut from_yaml = ClusterState::default();
        let mut from_json = ClusterState::default();
        assert_eq!(from_yaml.add_text("dump.yaml", &yaml).unwrap(), 30_000);
        assert_eq!(from_json.add_text("dump.json", &json).unwrap(), 30_000);
        assert_eq!(from_yaml.rbac.role_bindings, from_json.rbac.role_bindings);
        let last = &from_yaml.rbac.role_bindings[29_999];
        assert_eq!(last.metadata.name.as_deref(), Some("rb-29999"));
        assert_eq!(last.subjects.as_ref().unwrap()[0].name, "team-49");
        assert_eq!(last.metadata.uid, None);
        assert_eq!(last.metadata.resource_version, None);
    }

    /// A list's items are taken only when its kind says it is a list, whatever the order of
    /// the fields, and an unreadable item fails the file with the item's name.
    #[test]
    fn items_follow_the_kind_read_after_them() {
        let item = "{kind: ClusterRole, metadata: {name: a}, rules: []}";
        let mut s = ClusterState::default();
        let list = format!("items: [{item}]\nkind: ClusterRoleList\n");
        assert_eq!(s.add_text("l.yaml", &list).unwrap(), 1);
        let not_a_list = format!("items: [{item}]\nkind: Secret\n");
        assert_eq!(s.add_text("s.yaml", &not_a_list).unwrap(), 0);
        assert_eq!(s.rbac.cluster_roles.len(), 1);
        let bad = "items: [{kind: ClusterRole, metadata: {name: broken}, rules: 7}]\nkind: List\n";
        let e = s.add_text("b.yaml", bad).unwrap_err();
        assert!(e.message.contains("ClusterRole broken"), "{e}");
    }

    /// A billion-laughs bomb: 9 levels of 9 aliases, 9^9 nodes if expanded. The budget sized from
    /// the text must still refuse it and say so in words. No clock here (a timed assertion fails
    /// on a loaded machine and proves nothing on a fast one): a budget that let the bomb through
    /// would build 387 million nodes, and the test would run out of memory, not pass.
    #[test]
    fn a_yaml_bomb_is_refused_in_words() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let prev = level - 1;
            let refs = vec![format!("*a{prev}"); 9].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        bomb.push_str("kind: List\n");
        let e = ClusterState::default()
            .add_text("bomb.yaml", &bomb)
            .unwrap_err();
        assert!(
            e.message.starts_with("refused to read the YAML at line "),
            "{e}"
        );
        assert!(e.message.contains("YAML bombs"), "{e}");
        assert!(!e.message.contains('{'), "a Debug struct, not words: {e}");
        assert!(e.next.contains("-o json"), "{}", e.next);
    }
}
