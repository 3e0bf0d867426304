//! The audit report: what `-o json`/`-o yaml` print (docs/json-schema.md) and what the
//! table and SARIF renderers read. Built purely from a `ClusterState`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::findings::{self, Finding};
use super::inventory::{self, Inventory, Mapping, MappingSource};
use super::manifests::ClusterState;
use crate::cli::Severity;
use crate::rbac::{self, Identity, RbacSnapshot, RuleSource};
use crate::readonly_role;
use crate::verify::sample_username;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingRow {
    /// The binding subject through which the identity is reached (`Group/name`, `User/name`).
    pub subject: String,
    /// `cluster-wide` or `namespace/NS`.
    pub scope: String,
    pub role: String,
    pub binding: String,
    /// The role's rules, one line each (shown by `-o wide`).
    pub rules: Vec<String>,
    /// False when the role does not exist: the binding grants nothing.
    pub role_exists: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappedIdentity {
    #[serde(flatten)]
    pub mapping: Mapping,
    /// The Kubernetes identity the authenticator produces (templates rendered with sample values).
    pub kubernetes_user: String,
    pub kubernetes_groups: Vec<String>,
    /// cluster-admin / read-all / read-all-but-secrets / namespaced(N) / custom / none.
    pub access: String,
    pub bindings: Vec<BindingRow>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mismatch {
    pub principal: String,
    pub user: String,
    pub groups: Vec<String>,
    pub request: String,
    pub ours: bool,
    pub server: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub queries: usize,
    pub mismatches: Vec<Mismatch>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    pub schema_version: u32,
    /// The kubeconfig context, or `files` for --from-file.
    pub source: String,
    pub aws_auth_present: bool,
    pub mappings: Vec<MappedIdentity>,
    pub section_errors: Vec<inventory::SectionError>,
    pub findings: Vec<Finding>,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

impl AuditReport {
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The Kubernetes identity an active mapping yields, as the authenticator builds it.
pub fn identity_of(m: &Mapping) -> Identity {
    let account = account_of(&m.principal);
    let user = match m.source {
        MappingSource::MapAccounts => format!("arn:aws:iam::{}:role/any-role", m.principal),
        _ if m.username.is_empty() => m.principal.clone(),
        _ => sample_username(&m.username, &account),
    };
    let groups: Vec<&str> = m.groups.iter().map(String::as_str).collect();
    Identity::user(&user, &groups)
}

fn account_of(arn: &str) -> String {
    arn.split(':').nth(4).unwrap_or_default().to_string()
}

pub fn snapshot_of(state: &ClusterState, source: RuleSource) -> RbacSnapshot {
    RbacSnapshot::new(state.rbac.clone(), source)
}

/// A role's rules, one line each: `verbs resources.groups [names]` or `verbs URLs`.
pub fn rule_lines(rules: Option<&[k8s_openapi::api::rbac::v1::PolicyRule]>) -> Vec<String> {
    rules
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let join = |v: &Option<Vec<String>>| v.as_ref().map(|v| v.join(",")).unwrap_or_default();
            if r.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()) {
                format!("{} {}", r.verbs.join(","), join(&r.non_resource_urls))
            } else {
                let mut s = format!("{} {}.{}", r.verbs.join(","), join(&r.resources), join(&r.api_groups));
                if r.resource_names.as_ref().is_some_and(|n| !n.is_empty()) {
                    s.push_str(&format!(" [{}]", join(&r.resource_names)));
                }
                s
            }
        })
        .collect()
}

pub fn build(source: &str, state: &ClusterState, snapshot: &RbacSnapshot) -> AuditReport {
    let inv: Inventory = inventory::from_aws_auth(&state.aws_auth);
    let mut all = findings::mapping_findings(&inv);
    let checks = rbac::dangerous_capabilities();
    let mut mappings = Vec::with_capacity(inv.mappings.len());
    for m in &inv.mappings {
        let identity = identity_of(m);
        let summary = snapshot.effective_summary(&identity);
        let rows = rbac::lookup_identity(snapshot, &identity);
        if m.active {
            let hits = snapshot.check_capabilities(&identity, &checks);
            all.extend(findings::access_findings(m, &identity, summary, &hits, snapshot));
        }
        let bindings = rows
            .iter()
            .map(|r| BindingRow {
                subject: r.subject.to_string(),
                scope: r.scope.to_string(),
                role: r.role.to_string(),
                binding: r.binding.to_string(),
                rules: rule_lines(snapshot.role_rules(&r.role)),
                role_exists: r.role_exists,
            })
            .collect();
        mappings.push(MappedIdentity {
            mapping: m.clone(),
            kubernetes_user: identity.user.clone(),
            kubernetes_groups: identity.groups.clone(),
            access: if identity.is_privileged() { "cluster-admin (system:masters)".into() } else { summary.to_string() },
            bindings,
        });
    }
    let chronom_roles: Vec<(String, Vec<k8s_openapi::api::rbac::v1::PolicyRule>)> = state
        .rbac
        .cluster_roles
        .iter()
        .filter(|r| readonly_role::is_managed(&r.metadata))
        .map(|r| (r.metadata.name.clone().unwrap_or_default(), r.rules.clone().unwrap_or_default()))
        .collect();
    all.extend(findings::rbac_findings(snapshot, &chronom_roles));
    findings::sort(&mut all);
    let mut counts = Counts::default();
    for f in &all {
        match f.severity {
            Severity::Critical => counts.critical += 1,
            Severity::High => counts.high += 1,
            Severity::Medium => counts.medium += 1,
            Severity::Low => counts.low += 1,
            Severity::Info => counts.info += 1,
        }
    }
    AuditReport {
        schema_version: SCHEMA_VERSION,
        source: source.to_string(),
        aws_auth_present: state.aws_auth_present,
        mappings,
        section_errors: inv.section_errors,
        findings: all,
        counts,
        verification: None,
    }
}

/// Severity counts as a map, for renderers that want to loop.
pub fn count_map(c: &Counts) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([("critical", c.critical), ("high", c.high), ("medium", c.medium), ("low", c.low), ("info", c.info)])
}
