//! The audit report: what `-o json`/`-o yaml` print (docs/json-schema.md) and what the
//! table and SARIF renderers read. Built purely from a `ClusterState`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::findings::{self, Finding};
use super::inventory::{self, Inventory, Mapping, MappingSource};
use super::manifests::ClusterState;
use crate::cli::Severity;
use crate::eks::access_entries::EntryWithPolicies;
use crate::eks::access_policies::{self, CLUSTER_ADMIN_POLICY, PolicyScope};
use crate::eks::posture::{self, AuthMode, ClusterFacts};
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

/// What the audit reads from EKS with --cluster: DescribeCluster, and the access entries with
/// their associated access policies (as a second mapping source).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EksState {
    pub cluster: ClusterFacts,
    /// Listed in `mappings` (source `access-entry`), not here.
    #[serde(skip)]
    pub access_entries: Vec<EntryWithPolicies>,
    /// Why the access entries could not be read (the audit then misses them: CHR027).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_entries_error: Option<String>,
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
    /// The EKS cluster (with --cluster): DescribeCluster facts the posture findings come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eks: Option<EksState>,
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
            let join =
                |v: &Option<Vec<String>>| v.as_ref().map(|v| v.join(",")).unwrap_or_default();
            if r.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()) {
                format!("{} {}", r.verbs.join(","), join(&r.non_resource_urls))
            } else {
                let mut s = format!(
                    "{} {}.{}",
                    r.verbs.join(","),
                    join(&r.resources),
                    join(&r.api_groups)
                );
                if r.resource_names.as_ref().is_some_and(|n| !n.is_empty()) {
                    s.push_str(&format!(" [{}]", join(&r.resource_names)));
                }
                s
            }
        })
        .collect()
}

pub fn build(source: &str, state: &ClusterState, snapshot: &RbacSnapshot) -> AuditReport {
    build_with_eks(source, state, snapshot, None)
}

/// The identity an access entry's policies are evaluated with: its own plus the group its
/// associations are bound to in the augmented snapshot.
fn identity_with_policies(m: &Mapping) -> Identity {
    let mut identity = identity_of(m);
    if m.source == MappingSource::AccessEntry && m.access_policies.iter().any(|p| p.modelled) {
        identity.add_group(&access_policies::entry_group(&m.principal));
    }
    identity
}

/// A binding row as the report shows it; rows that stand for access policies say so.
fn binding_row(r: &rbac::LookupRow, snapshot: &RbacSnapshot) -> BindingRow {
    let rules = rule_lines(snapshot.role_rules(&r.role));
    match r.role.name.strip_prefix(access_policies::ROLE_PREFIX) {
        Some(policy) => BindingRow {
            subject: "AccessEntry".into(),
            scope: r.scope.to_string(),
            role: format!("AccessPolicy/{policy}"),
            binding: "EKS access policy association".into(),
            rules,
            role_exists: true,
        },
        None => BindingRow {
            subject: r.subject.to_string(),
            scope: r.scope.to_string(),
            role: r.role.to_string(),
            binding: r.binding.to_string(),
            rules,
            role_exists: r.role_exists,
        },
    }
}

/// What one identity may do, for comparing the two mapping sources.
fn rights(
    snapshot: &RbacSnapshot,
    identity: &Identity,
    checks: &[rbac::CapabilityCheck],
) -> (String, Vec<&'static str>) {
    let summary = if identity.is_privileged() {
        "cluster-admin (system:masters)".to_string()
    } else {
        snapshot.effective_summary(identity).to_string()
    };
    let mut caps: Vec<&'static str> = snapshot
        .check_capabilities(identity, checks)
        .iter()
        .map(|h| h.id)
        .collect();
    caps.sort();
    caps.dedup();
    (summary, caps)
}

/// Does an aws-auth mapping name the same IAM principal as an access entry?
fn same_principal(aws_auth: &Mapping, entry_arn: &str) -> bool {
    match aws_auth.source {
        MappingSource::MapRoles => crate::arn::parse_role_arn(entry_arn)
            .is_ok_and(|r| r.canonical.matches(&aws_auth.principal)),
        MappingSource::MapUsers => crate::arn::go_equal_fold(&aws_auth.principal, entry_arn),
        _ => false,
    }
}

/// Apply what the cluster's authentication mode does to aws-auth mappings, add the access
/// entries, and raise the EKS findings that need no RBAC evaluation.
fn merge_eks(inv: &mut Inventory, eks: &EksState, out: &mut Vec<findings::Finding>) {
    let mode = eks.cluster.auth_mode();
    let entries_read = mode.is_some_and(AuthMode::reads_access_entries);
    let aws_auth_read = mode.is_none_or(AuthMode::reads_aws_auth);
    if !aws_auth_read {
        let mapped = inv.mappings.iter().filter(|m| m.active).count();
        for m in inv.mappings.iter_mut().filter(|m| m.active) {
            m.active = false;
            m.state = "ignored";
        }
        if mapped > 0 {
            out.push(findings::finding(
                findings::AWS_AUTH_IGNORED,
                format!("cluster/{}", eks.cluster.name),
                format!("{mapped} aws-auth mapping(s) are ignored: authenticationMode is API"),
            ));
        }
    }
    let entry_mappings = inventory::from_access_entries(&eks.access_entries, entries_read);
    if entries_read {
        for e in &entry_mappings {
            for m in inv
                .mappings
                .iter_mut()
                .filter(|m| m.active && same_principal(m, &e.principal))
            {
                m.active = false;
                m.state = "overridden";
                m.notes.push(format!(
                    "EKS uses the access entry for {} instead of this entry",
                    e.principal
                ));
            }
        }
    }
    for m in &entry_mappings {
        let subject = findings::mapping_subject(m);
        for p in m
            .access_policies
            .iter()
            .filter(|p| p.policy == CLUSTER_ADMIN_POLICY && p.scope == PolicyScope::Cluster)
        {
            out.push(findings::finding(
                findings::ACCESS_POLICY_CLUSTER_ADMIN,
                &subject,
                format!(
                    "{} associated with scope cluster ({})",
                    p.policy, p.policy_arn
                ),
            ));
        }
        if m.groups.iter().any(|g| g == rbac::model::PRIVILEGED_GROUP) {
            out.push(findings::finding(
                findings::MAPPED_TO_MASTERS,
                &subject,
                format!("kubernetesGroups [{}]", m.groups.join(", ")),
            ));
        }
    }
    if let Some(why) = &eks.access_entries_error {
        out.push(findings::finding(
            findings::EKS_UNREADABLE,
            format!("cluster/{}", eks.cluster.name),
            why.clone(),
        ));
    }
    out.extend(posture::findings(&eks.cluster));
    out.extend(posture::creator_finding(&eks.cluster, &eks.access_entries));
    inv.mappings.extend(entry_mappings);
}

/// The RBAC objects plus the access policies' stand-ins, for evaluating access entries.
fn augmented_snapshot(state: &ClusterState, inv: &Inventory) -> RbacSnapshot {
    let mut objects = state.rbac.clone();
    for m in inv
        .mappings
        .iter()
        .filter(|m| m.source == MappingSource::AccessEntry)
    {
        access_policies::add_to(&mut objects, &m.principal, &m.access_policies);
    }
    // EKS state only comes with a live cluster, whose ClusterRoles are stored aggregated.
    RbacSnapshot::new(objects, RuleSource::AsStored)
}

/// The report, with the EKS side when there is one (access entries as a second mapping
/// source, their access policies evaluated by us, the cluster's posture).
pub fn build_with_eks(
    source: &str,
    state: &ClusterState,
    snapshot: &RbacSnapshot,
    eks: Option<&EksState>,
) -> AuditReport {
    let mut inv: Inventory = inventory::from_aws_auth(&state.aws_auth);
    let mut all = findings::mapping_findings(&inv);
    let augmented = eks.map(|e| {
        merge_eks(&mut inv, e, &mut all);
        augmented_snapshot(state, &inv)
    });
    let checks = rbac::dangerous_capabilities();
    let mut mappings = Vec::with_capacity(inv.mappings.len());
    for m in &inv.mappings {
        let is_entry = m.source == MappingSource::AccessEntry;
        let snapshot = match (&augmented, is_entry) {
            (Some(a), true) => a,
            _ => snapshot,
        };
        let identity = if is_entry {
            identity_with_policies(m)
        } else {
            identity_of(m)
        };
        let summary = snapshot.effective_summary(&identity);
        let rows = rbac::lookup_identity(snapshot, &identity);
        if m.active {
            let hits = snapshot.check_capabilities(&identity, &checks);
            let mut found = findings::access_findings(m, &identity, summary, &hits, snapshot);
            if is_entry
                && all.iter().any(|f| {
                    f.rule == findings::ACCESS_POLICY_CLUSTER_ADMIN.id
                        && f.subject == findings::mapping_subject(m)
                })
            {
                // CHR020 names the association that makes it cluster-admin; CHR002 would repeat it.
                found.retain(|f| f.rule != findings::CLUSTER_ADMIN.id);
            }
            all.extend(found);
        }
        if is_entry && eks.is_some() {
            for other in inv.mappings.iter().filter(|o| {
                o.source != MappingSource::AccessEntry && same_principal(o, &m.principal)
            }) {
                let theirs = rights(snapshot, &identity_of(other), &checks);
                let ours = rights(snapshot, &identity, &checks);
                if theirs != ours {
                    let line = other.line.map(|l| format!(" line {l}")).unwrap_or_default();
                    all.push(findings::finding(
                        findings::MAPPED_TWICE,
                        findings::mapping_subject(m),
                        format!(
                            "aws-auth {}{line} gives {} (user {:?}, groups [{}]); the access entry gives {} (user {:?}, groups [{}]{}){}",
                            other.source.as_str(),
                            theirs.0,
                            other.username,
                            other.groups.join(", "),
                            ours.0,
                            m.username,
                            m.groups.join(", "),
                            if m.access_policies.is_empty() { String::new() } else { format!(", policies {}", m.access_policies.iter().map(|p| p.describe()).collect::<Vec<_>>().join("; ")) },
                            if other.state == "overridden" { "; EKS uses the access entry" } else { "" }
                        ),
                    ));
                }
            }
        }
        let bindings = rows.iter().map(|r| binding_row(r, snapshot)).collect();
        mappings.push(MappedIdentity {
            mapping: m.clone(),
            kubernetes_user: identity.user.clone(),
            // The policies' stand-in group exists only inside our evaluation.
            kubernetes_groups: identity
                .groups
                .iter()
                .filter(|g| !g.starts_with(access_policies::GROUP_PREFIX))
                .cloned()
                .collect(),
            access: if identity.is_privileged() {
                "cluster-admin (system:masters)".into()
            } else {
                summary.to_string()
            },
            bindings,
        });
    }
    let chronom_roles: Vec<(String, Vec<k8s_openapi::api::rbac::v1::PolicyRule>)> = state
        .rbac
        .cluster_roles
        .iter()
        .filter(|r| readonly_role::is_managed(&r.metadata))
        .map(|r| {
            (
                r.metadata.name.clone().unwrap_or_default(),
                r.rules.clone().unwrap_or_default(),
            )
        })
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
        eks: eks.cloned(),
    }
}

/// Severity counts as a map, for renderers that want to loop.
pub fn count_map(c: &Counts) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("critical", c.critical),
        ("high", c.high),
        ("medium", c.medium),
        ("low", c.low),
        ("info", c.info),
    ])
}
