//! Offline input: RBAC objects and aws-auth from YAML or JSON manifests, including
//! `kind: List` dumps from `kubectl get ... -o yaml`. Pure: text in, objects out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde_json::Value;

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
}

impl ClusterState {
    /// Add every object of one file's text. `origin` names the file in errors.
    pub fn add_text(&mut self, origin: &str, text: &str) -> Result<usize, ManifestError> {
        let err = |message: String| ManifestError {
            origin: origin.to_string(),
            message,
        };
        let docs: Vec<Value> = if text.trim_start().starts_with(['{', '[']) {
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Array(items)) => items,
                Ok(v) => vec![v],
                Err(e) => return Err(err(format!("not valid JSON: {e}"))),
            }
        } else {
            serde_saphyr::from_multiple::<Value>(text)
                .map_err(|e| err(format!("not valid YAML: {e}")))?
        };
        let mut added = 0;
        for doc in docs {
            added += self.add_value(doc).map_err(err)?;
        }
        Ok(added)
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
            "List"
            | "ClusterRoleList"
            | "ClusterRoleBindingList"
            | "RoleList"
            | "RoleBindingList"
            | "ConfigMapList" => {
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
                self.rbac
                    .cluster_roles
                    .push(serde_json::from_value(doc).map_err(|e| parse_err("ClusterRole", e))?);
                Ok(1)
            }
            "ClusterRoleBinding" => {
                self.rbac.cluster_role_bindings.push(
                    serde_json::from_value(doc).map_err(|e| parse_err("ClusterRoleBinding", e))?,
                );
                Ok(1)
            }
            "Role" => {
                let mut r: Role = serde_json::from_value(doc).map_err(|e| parse_err("Role", e))?;
                r.metadata.namespace.get_or_insert_with(|| "default".into());
                self.rbac.roles.push(r);
                Ok(1)
            }
            "RoleBinding" => {
                let mut b: RoleBinding =
                    serde_json::from_value(doc).map_err(|e| parse_err("RoleBinding", e))?;
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
}
