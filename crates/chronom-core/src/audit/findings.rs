//! The findings catalogue and the pure computation of findings from mappings and RBAC.
//!
//! Rule ids are stable (SARIF consumers key on them); docs/findings.md documents each rule,
//! its severity and how it lines up with rbac-police, KubiScan, Kubescape and Prowler.

use serde::Serialize;

use super::inventory::{Inventory, Mapping, MappingSource};
use crate::rbac::{self, AccessSummary, CapabilityHit, Identity, RbacSnapshot};

/// How bad a finding is. `audit --fail-on` takes these names; JSON and SARIF carry them too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The name users type and read (`--fail-on high`, `"severity": "high"`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub remediation: &'static str,
}

macro_rules! rules {
    ($($konst:ident = $id:literal, $name:literal, $sev:ident, $title:literal, $fix:literal;)*) => {
        $(pub const $konst: Rule = Rule { id: $id, name: $name, severity: Severity::$sev, title: $title, remediation: $fix };)*
        /// Every rule, in id order.
        pub const CATALOGUE: &[Rule] = &[$($konst),*];
    };
}

rules! {
    MAPPED_TO_MASTERS = "CHR001", "mapped-to-system-masters", Critical,
        "IAM principal mapped to system:masters",
        "Map the principal to a group bound to the least privilege it needs; system:masters bypasses RBAC and cannot be limited or audited by bindings.";
    CLUSTER_ADMIN = "CHR002", "effective-cluster-admin", Critical,
        "Mapped identity is effectively cluster-admin through RBAC bindings",
        "Replace the cluster-admin binding with a role limited to what the principal needs.";
    AWS_AUTH_WRITE = "CHR003", "can-rewrite-aws-auth", Critical,
        "Can update or patch ConfigMaps in kube-system, so can rewrite aws-auth and map itself to system:masters",
        "Remove update/patch on configmaps in kube-system; manage aws-auth only from a break-glass admin role, or move to EKS access entries.";
    ESCALATE = "CHR004", "can-escalate-bind-or-impersonate", High,
        "Can escalate or bind roles, or impersonate other identities",
        "Remove the escalate, bind and impersonate verbs; they let the holder grant itself any permission.";
    WORKLOADS = "CHR005", "can-run-or-enter-workloads", High,
        "Can create pods, exec or attach into pods, or proxy to nodes",
        "Limit pod creation and pods/exec, pods/attach and nodes/proxy to the namespaces and identities that need them; these lead to node and service-account credentials.";
    SECRETS = "CHR006", "can-read-secrets-cluster-wide", Medium,
        "Can read Secrets in every namespace",
        "Grant read access without secrets (kubectl chronom grant --exclude-secrets), or scope secret reads to the namespaces that need them.";
    MAP_ACCOUNTS = "CHR007", "map-accounts-present", High,
        "mapAccounts lets every IAM principal of an account into the cluster",
        "Replace mapAccounts with explicit mapRoles/mapUsers entries for the principals that need access.";
    ROLE_PATH = "CHR008", "rolearn-with-path", Medium,
        "rolearn contains a path, so aws-iam-authenticator never matches it",
        "Remove the path from the rolearn (arn:aws:iam::ACCOUNT:role/NAME); aws-auth compares role ARNs without their path.";
    DUPLICATE = "CHR009", "duplicate-arn-entries", Medium,
        "Several entries map the same ARN; only the last one is used",
        "Keep one entry per ARN; the earlier ones are shadowed and mislead anyone reading aws-auth.";
    MALFORMED_ENTRY = "CHR010", "malformed-entry", High,
        "aws-iam-authenticator rejects or misreads this entry",
        "Fix the entry as the evidence says; an unusable node-role entry locks nodes out.";
    SECTION_UNPARSEABLE = "CHR011", "unparseable-section", Critical,
        "A section of aws-auth does not parse, so aws-iam-authenticator ignores all of it, node roles included",
        "Fix the YAML at the line and column given (kubectl -n kube-system edit configmap aws-auth); until then every mapping in that section is ignored.";
    SYSTEM_USERNAME = "CHR012", "system-username", High,
        "Username starts with system: outside the node mapping",
        "Use a username without the system: prefix; system: names are reserved for Kubernetes components and may match their grants.";
    GROUP_UNBOUND = "CHR013", "group-bound-to-nothing", Low,
        "Group is mapped but no binding refers to it",
        "Bind the group to the role it needs, or remove it from the mapping.";
    CHRONOM_DRIFT = "CHR014", "chronom-role-drifted", High,
        "The chronom read-only ClusterRole grants more than get, list and watch",
        "Run kubectl chronom grant again to restore the read-only rules, and find out who changed them.";
    TOKENS = "CHR015", "can-mint-or-read-tokens", High,
        "Can create service-account tokens or read token Secrets",
        "Remove create on serviceaccounts/token and secret reads where they are not needed; tokens are credentials for other identities.";
    CSR_APPROVE = "CHR016", "can-approve-csrs", High,
        "Can approve certificate signing requests",
        "Limit CSR approval to the controllers that need it; an approved client certificate can name any user or group.";
    WEBHOOKS = "CHR017", "can-write-admission-webhooks", High,
        "Can write admission webhook or policy configurations",
        "Limit writes to admission configurations; a webhook sees and can change every object written to the cluster.";
    ANONYMOUS = "CHR018", "bound-to-anonymous", Critical,
        "A binding grants rights to system:anonymous or system:unauthenticated",
        "Remove the subject from the binding; anyone who can reach the endpoint gets these rights.";
    DANGLING = "CHR019", "binding-to-missing-role", Low,
        "A binding refers to a role that does not exist; it grants nothing today, and whoever creates that role grants it",
        "Delete the binding, or create the role it should refer to.";
    ACCESS_POLICY_CLUSTER_ADMIN = "CHR020", "access-policy-cluster-admin", Critical,
        "EKS access entry has AmazonEKSClusterAdminPolicy associated cluster-wide",
        "Associate a narrower access policy (AmazonEKSViewPolicy, or AmazonEKSAdminPolicy scoped to namespaces), or use Kubernetes groups and RBAC; the association grants cluster-admin with no object in the cluster to show for it.";
    MAPPED_TWICE = "CHR021", "mapped-in-aws-auth-and-access-entry", Medium,
        "IAM principal is mapped by both aws-auth and an EKS access entry, with different rights",
        "Keep one mapping: delete the aws-auth entry once the access entry is right (EKS uses the access entry and ignores the aws-auth one), or fix whichever one is wrong.";
    AWS_AUTH_IGNORED = "CHR022", "aws-auth-ignored-api-mode", Info,
        "aws-auth has mappings, but the cluster's authenticationMode is API, so EKS ignores them",
        "Create access entries for the principals that still need access, then delete the aws-auth ConfigMap so nobody mistakes it for the truth.";
    CREATOR_ADMIN = "CHR023", "cluster-creator-admin", Info,
        "The cluster creator was made cluster-admin at creation (bootstrapClusterCreatorAdminPermissions)",
        "Check that the creator's access entry is still wanted; delete it, or replace AmazonEKSClusterAdminPolicy with a narrower policy.";
    PUBLIC_ENDPOINT = "CHR024", "public-endpoint-open", Medium,
        "The cluster's API endpoint is public and open to 0.0.0.0/0",
        "Restrict publicAccessCidrs to the networks that need the API, or turn public access off and use the private endpoint (aws eks update-cluster-config --resources-vpc-config).";
    LOGGING_OFF = "CHR025", "control-plane-logging-off", Medium,
        "Control-plane audit or authenticator logging is off",
        "Enable the audit and authenticator log types (aws eks update-cluster-config --logging), so who did what, and which IAM principal it was, is recorded.";
    SECRETS_NOT_KMS = "CHR026", "secrets-not-kms-encrypted", Medium,
        "Kubernetes Secrets are not envelope-encrypted with a KMS key you control",
        "Associate a KMS key for secrets (aws eks associate-encryption-config); it cannot be removed later, so choose the key deliberately.";
    EKS_UNREADABLE = "CHR027", "access-entries-unreadable", Medium,
        "EKS access entries could not be read, so this audit misses a mapping source",
        "Give the auditing principal eks:ListAccessEntries, eks:DescribeAccessEntry and eks:ListAssociatedAccessPolicies, then audit again.";
    ROLE_INCOMPLETE = "CHR028", "chronom-role-incomplete", Low,
        "The chronom read-only ClusterRole lacks get/list/watch on resources the server now serves",
        "Run kubectl chronom grant again with the same --role-name, --group and profile flags: it recomputes the rules from discovery and updates the role (a run with nothing new writes nothing).";
    AWS_AUTH_NOT_EDITABLE = "CHR029", "aws-auth-not-editable", Info,
        "aws-auth uses YAML that aws-iam-authenticator reads but kubectl chronom grant and revoke will not edit",
        "The audit still reports every mapping in effect. To let grant and revoke edit aws-auth, rewrite the section from the line and column given as plain `key: value` entries: no anchors, aliases, merge keys, tabs after colons or second document.";
    // Issue 16 (docs/principals.md): what IAM says about the mapped principals.
    PRINCIPAL_MISSING = "CHR040", "mapped-principal-missing", High,
        "aws-auth maps an IAM principal that does not exist: whoever creates one of that name in that account gets its access (critical when the mapping is admin-equivalent)",
        "Delete the mapping (kubectl -n kube-system edit configmap aws-auth, or kubectl chronom revoke for a chronom mapping); if the principal is still needed, re-create it and map it with an EKS access entry, which keeps the principal's unique id.";
    PRINCIPAL_RECREATED = "CHR041", "mapped-principal-recreated", High,
        "The mapping's userid is not the principal's unique id: it was deleted and re-created, and aws-iam-authenticator (which matches on the ARN) lets the new one in (critical when the mapping is admin-equivalent)",
        "Find out who re-created the principal and whether it should have this access; then delete the aws-auth entry and map the principal with an EKS access entry, which a re-created principal does not inherit.";
    ACCESS_ENTRY_DEAD = "CHR042", "access-entry-principal-gone", Low,
        "The access entry's IAM principal no longer exists or was re-created after the entry, so the entry grants nothing and can be deleted",
        "Delete the access entry (aws eks delete-access-entry --cluster-name NAME --principal-arn ARN); create a new one if the current principal needs access.";
    PRINCIPAL_UNUSED = "CHR043", "mapped-principal-unused", Low,
        "The mapped IAM role has not been used for --stale-days days",
        "Check whether the role still needs this access; remove the mapping if not (access nobody uses is access nobody watches).";
    IAM_USER_MAPPED = "CHR044", "iam-user-mapped", Low,
        "An IAM user is mapped one by one in mapUsers",
        "Map an IAM role the users assume instead of each user: one mapping to audit and revoke, and no long-lived user keys reaching the cluster.";
    OIDC_GROUPS_UNPREFIXED = "CHR045", "oidc-groups-unprefixed", Critical,
        "An OIDC identity provider's groups claim becomes Kubernetes groups without a prefix, system:masters included",
        "Set a groupsPrefix (e.g. oidc:) on the identity provider config and bind the prefixed groups; the config cannot be edited, so associate a new one and disassociate this one.";
    OIDC_USERNAMES_UNPREFIXED = "CHR046", "oidc-usernames-unprefixed", High,
        "An OIDC identity provider's usernames have no prefix, so a token can name users bound in the cluster",
        "Give the identity provider config a usernamePrefix (e.g. oidc:), or leave it unset on a claim other than email so EKS uses issuerUrl#; associate a new config and disassociate this one.";
    OIDC_REACHES_CLUSTER_ADMIN = "CHR047", "oidc-reaches-cluster-admin", High,
        "Tokens of an OIDC identity provider can name a group or user with cluster-admin-equivalent rights",
        "Check who can get that group or username into a token at the identity provider; bind the prefixed groups to narrower roles where they do not need cluster-admin.";
    POD_REACHES_IAM_ROLE = "CHR048", "pod-reaches-iam-role", Medium,
        "Mapped IAM principals can assume another IAM role by running a pod as a service account linked to it",
        "Limit who can create pods and workloads in that namespace, or move the service account (and its Pod Identity association or IRSA annotation) to a namespace only its workload's deployers can write.";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub subject: String,
    pub evidence: String,
    pub remediation: &'static str,
}

pub(crate) fn finding(
    rule: Rule,
    subject: impl Into<String>,
    evidence: impl Into<String>,
) -> Finding {
    Finding {
        rule: rule.id,
        name: rule.name,
        severity: rule.severity,
        subject: subject.into(),
        evidence: evidence.into(),
        remediation: rule.remediation,
    }
}

/// The node role mapping EKS creates: system:node:{{EC2PrivateDNSName}} with node groups.
fn is_node_mapping(m: &Mapping) -> bool {
    m.username == "system:node:{{EC2PrivateDNSName}}" || m.username == "system:node:{{SessionName}}"
}

/// What RBAC subject-side name a mapping is known by in reports: its principal and source.
pub fn mapping_subject(m: &Mapping) -> String {
    match m.line {
        Some(l) => format!("{} ({} line {l})", m.principal, m.source.as_str()),
        None => format!("{} ({})", m.principal, m.source.as_str()),
    }
}

/// Capability ids (from `rbac::dangerous_capabilities`) and the rule each one raises.
fn rule_for_capability(id: &str) -> Option<Rule> {
    Some(match id {
        "aws-auth-write" | "kube-system-configmaps-write" => AWS_AUTH_WRITE,
        "rbac-escalate" | "rbac-bind" | "impersonate" => ESCALATE,
        "pods-create" | "pods-exec" | "pods-attach" | "nodes-proxy" => WORKLOADS,
        "secrets-read-cluster-wide" => SECRETS,
        "serviceaccount-token-create" => TOKENS,
        "csr-approve" => CSR_APPROVE,
        "admission-webhook-write" => WEBHOOKS,
        _ => return None,
    })
}

/// Findings about aws-auth itself, independent of RBAC.
pub fn mapping_findings(inv: &Inventory) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in &inv.section_errors {
        out.push(finding(
            SECTION_UNPARSEABLE,
            format!("aws-auth/{}", e.section),
            format!("line {}, column {}: {}", e.line, e.column, e.message),
        ));
    }
    for e in &inv.not_editable {
        out.push(finding(
            AWS_AUTH_NOT_EDITABLE,
            format!("aws-auth/{}", e.section),
            format!(
                "every mapping in it was read as aws-iam-authenticator reads it, but grant and revoke refuse to edit it: line {}, column {}: {}",
                e.line, e.column, e.message
            ),
        ));
    }
    for m in &inv.mappings {
        let subject = mapping_subject(m);
        if m.source == MappingSource::MapAccounts {
            out.push(finding(
                MAP_ACCOUNTS,
                &subject,
                format!(
                    "every IAM principal in account {} is let in with its ARN as username",
                    m.principal
                ),
            ));
        }
        for note in &m.notes {
            let rule = if note.contains("path") {
                ROLE_PATH
            } else {
                MALFORMED_ENTRY
            };
            out.push(finding(rule, &subject, note.clone()));
        }
        if m.source == MappingSource::MapRoles
            && role_has_path(&m.principal)
            && !m.notes.iter().any(|n| n.contains("path"))
        {
            out.push(finding(
                ROLE_PATH,
                &subject,
                format!("{} has a path; callers' ARNs never do", m.principal),
            ));
        }
        if let Some(line) = m.shadowed_by_line {
            out.push(finding(
                DUPLICATE,
                &subject,
                format!("the entry at line {line} maps the same ARN and wins"),
            ));
        }
        if m.groups.iter().any(|g| g == rbac::model::PRIVILEGED_GROUP)
            && (m.active || m.state == "never-matches")
        {
            let dormant = if m.active {
                ""
            } else {
                "; dormant: the entry never matches today, and correcting its rolearn makes it live"
            };
            out.push(finding(
                MAPPED_TO_MASTERS,
                &subject,
                format!("groups [{}]{dormant}", m.groups.join(", ")),
            ));
        }
        if m.active && m.username.starts_with("system:") && !is_node_mapping(m) {
            out.push(finding(
                SYSTEM_USERNAME,
                &subject,
                format!("username {:?}", m.username),
            ));
        }
    }
    out
}

fn role_has_path(arn: &str) -> bool {
    arn.split_once(":role/")
        .is_some_and(|(_, rest)| rest.contains('/'))
}

/// Findings about what one active mapping can do.
/// What an identity's capability hits say, one text per finding rule, in rule order: the same
/// for every mapping of that identity (1,700 mappings share ~50 identities at 16x), so worked
/// out once per identity.
#[derive(Debug, Clone, Default)]
pub struct CapabilityEvidence(Vec<(Rule, String)>);

pub fn capability_evidence(hits: &[CapabilityHit]) -> CapabilityEvidence {
    // One finding per rule and subject; several capabilities of one rule share its evidence.
    let mut by_rule: std::collections::BTreeMap<&'static str, (Rule, Vec<String>)> =
        std::collections::BTreeMap::new();
    for hit in hits {
        let Some(rule) = rule_for_capability(hit.id) else {
            continue;
        };
        let via: Vec<String> = hit
            .evidence
            .iter()
            .take(3)
            .map(|g| format!("{} -> {}", g.binding, g.role))
            .collect();
        let scopes: Vec<String> = hit.scopes.iter().map(|s| s.to_string()).collect();
        let evidence = format!(
            "{} ({}; via {})",
            hit.title,
            scopes.join(", "),
            if via.is_empty() {
                "-".into()
            } else {
                via.join(", ")
            }
        );
        by_rule
            .entry(rule.id)
            .or_insert((rule, Vec::new()))
            .1
            .push(evidence);
    }
    CapabilityEvidence(
        by_rule
            .into_values()
            .map(|(rule, evidence)| (rule, evidence.join("; ")))
            .collect(),
    )
}

pub fn access_findings(
    m: &Mapping,
    identity: &Identity,
    summary: AccessSummary,
    evidence: &CapabilityEvidence,
    snapshot: &RbacSnapshot,
) -> Vec<Finding> {
    let subject = mapping_subject(m);
    let mut out = Vec::new();
    if summary == AccessSummary::ClusterAdmin && !identity.is_privileged() {
        out.push(finding(
            CLUSTER_ADMIN,
            &subject,
            "verb * on resource * in group * and nonResourceURL * cluster-wide",
        ));
    }
    if identity.is_privileged() {
        // CHR001 already says everything: system:masters holds every capability.
        return out;
    }
    for (rule, text) in &evidence.0 {
        out.push(finding(*rule, &subject, text.clone()));
    }
    for group in &m.groups {
        if group == rbac::model::PRIVILEGED_GROUP
            || group.starts_with("system:node")
            || group == "system:bootstrappers"
        {
            continue;
        }
        if !snapshot.names_group(group) {
            out.push(finding(
                GROUP_UNBOUND,
                &subject,
                format!("group {group:?} appears in no RoleBinding or ClusterRoleBinding"),
            ));
        }
    }
    out
}

/// Findings about the RBAC objects themselves.
pub fn rbac_findings(
    snapshot: &RbacSnapshot,
    chronom_roles: &[(String, Vec<k8s_openapi::api::rbac::v1::PolicyRule>)],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for anon in [
        rbac::model::ANONYMOUS_USER,
        rbac::model::UNAUTHENTICATED_GROUP,
    ] {
        let subject = if anon.starts_with("system:anonymous") {
            rbac::SubjectRef::user(anon)
        } else {
            rbac::SubjectRef::group(anon)
        };
        for row in rbac::lookup(snapshot, &subject) {
            // The API server's own default: health and version URLs for everyone.
            if row.role.name == "system:public-info-viewer" {
                continue;
            }
            out.push(finding(
                ANONYMOUS,
                anon,
                format!("{} -> {} ({})", row.binding, row.role, row.scope),
            ));
        }
    }
    for d in snapshot.dangling_bindings() {
        out.push(finding(
            DANGLING,
            d.binding.to_string(),
            format!(
                "refers to {} {:?}, which does not exist",
                d.role_kind, d.role_name
            ),
        ));
    }
    for (name, rules) in chronom_roles {
        let extra: Vec<String> = rules
            .iter()
            .flat_map(|r| {
                r.verbs
                    .iter()
                    .filter(|v| !crate::readonly_role::READ_VERBS.contains(&v.as_str()))
                    .cloned()
            })
            .collect();
        let urls = rules
            .iter()
            .any(|r| r.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()));
        if !extra.is_empty() || urls {
            let mut why = Vec::new();
            if !extra.is_empty() {
                why.push(format!("verbs {}", extra.join(", ")));
            }
            if urls {
                why.push("nonResourceURLs".to_string());
            }
            out.push(finding(
                CHRONOM_DRIFT,
                format!("ClusterRole/{name}"),
                format!("grants {} beyond get/list/watch", why.join(" and ")),
            ));
        }
    }
    out
}

/// How many missing resources CHR028's evidence names before it says how many more there are.
const MISSING_SHOWN: usize = 20;

/// CHR028: chronom-managed ClusterRoles of a per-resource profile (read-only,
/// read-only-with-secrets) that do not read everything that profile covers on the server today,
/// typically CRDs installed after the grant. Roles whose profile cannot be told, and the
/// wildcard profile (which names no resource), are not judged here.
pub fn role_gap_findings(
    roles: &[k8s_openapi::api::rbac::v1::ClusterRole],
    discovered: &crate::readonly_role::DiscoveredResources,
) -> Vec<Finding> {
    use crate::readonly_role as ro;
    let mut out = Vec::new();
    for role in roles.iter().filter(|r| ro::is_managed(&r.metadata)) {
        let Some(profile) = ro::live_profile(role).filter(|p| p.is_per_resource()) else {
            continue;
        };
        let missing = ro::missing_reads(
            profile,
            role.rules.as_deref().unwrap_or_default(),
            discovered,
        );
        if missing.is_empty() {
            continue;
        }
        let mut shown = missing
            .iter()
            .take(MISSING_SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if missing.len() > MISSING_SHOWN {
            shown.push_str(&format!(" and {} more", missing.len() - MISSING_SHOWN));
        }
        out.push(finding(
            ROLE_INCOMPLETE,
            format!("ClusterRole/{}", role.metadata.name.clone().unwrap_or_default()),
            format!(
                "profile {profile} lacks get/list/watch on {} resource(s) the server serves: {shown}",
                missing.len()
            ),
        ));
    }
    out
}

/// Highest first, then by rule and subject, so reports and snapshots are stable.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.rule.cmp(b.rule))
            .then(a.subject.cmp(&b.subject))
            .then(a.evidence.cmp(&b.evidence))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn catalogue_ids_are_unique_and_ordered() {
        let ids: Vec<&str> = CATALOGUE.iter().map(|r| r.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
        assert_eq!(CATALOGUE.len(), 38);
    }

    #[test]
    fn every_capability_maps_to_a_rule() {
        let catalogue = rbac::dangerous_capabilities();
        // The loop below proves nothing over an empty or shrunken catalogue.
        assert!(
            catalogue.len() >= 13,
            "the capability catalogue has {} entries, expected at least 13",
            catalogue.len()
        );
        let mut ids: Vec<&str> = catalogue.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), catalogue.len(), "capability ids are unique");
        let mut rules = Vec::new();
        for cap in &catalogue {
            let rule = rule_for_capability(cap.id)
                .unwrap_or_else(|| panic!("capability {} has no rule", cap.id));
            rules.push(rule.id);
        }
        rules.sort();
        rules.dedup();
        // Every capability rule is reachable from the catalogue.
        let mut want = vec![
            AWS_AUTH_WRITE.id,
            ESCALATE.id,
            WORKLOADS.id,
            SECRETS.id,
            TOKENS.id,
            CSR_APPROVE.id,
            WEBHOOKS.id,
        ];
        want.sort();
        assert_eq!(rules, want);
    }

    #[test]
    fn aws_auth_findings() {
        let data = BTreeMap::from([
            (
                "mapRoles".to_string(),
                "- rolearn: arn:aws:iam::111122223333:role/ops/admin\n  username: admin\n  groups: [system:masters]\n\
                 - rolearn: arn:aws:iam::111122223333:role/dup\n  username: a\n  groups: [g]\n\
                 - rolearn: arn:aws:iam::111122223333:role/dup\n  username: system:evil\n  groups: [g]\n"
                    .to_string(),
            ),
            ("mapAccounts".to_string(), "- \"444455556666\"\n".to_string()),
        ]);
        let inv = super::super::inventory::from_aws_auth(&data);
        let f = mapping_findings(&inv);
        let rules: Vec<&str> = f.iter().map(|f| f.rule).collect();
        for want in ["CHR001", "CHR007", "CHR008", "CHR009", "CHR012"] {
            assert!(rules.contains(&want), "{want} missing from {rules:?}");
        }
    }

    #[test]
    fn unparseable_section_is_critical_with_position() {
        let inv = super::super::inventory::from_aws_auth(&BTreeMap::from([(
            "mapRoles".to_string(),
            "- rolearn: [x\n".to_string(),
        )]));
        let f = mapping_findings(&inv);
        assert_eq!(f[0].rule, "CHR011");
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0].evidence.starts_with("line "), "{}", f[0].evidence);
    }

    mod role_gap {
        use super::*;
        use crate::readonly_role::{self as ro, DiscoveredResources, Provenance, RoleProfile};

        fn served(extra: &[(&str, &str)]) -> DiscoveredResources {
            let rw: std::collections::BTreeSet<String> =
                ["get", "list", "watch", "create"].map(String::from).into();
            let mut d = DiscoveredResources::new();
            for (g, r) in [
                ("", "pods"),
                ("", "secrets"),
                ("", "pods/exec"),
                ("apps", "deployments"),
            ]
            .iter()
            .chain(extra)
            {
                d.entry(g.to_string())
                    .or_default()
                    .insert(r.to_string(), rw.clone());
            }
            d
        }

        fn role(
            profile: RoleProfile,
            d: &DiscoveredResources,
        ) -> k8s_openapi::api::rbac::v1::ClusterRole {
            ro::cluster_role(
                "chronomReadOnlyRole",
                profile,
                ro::profile_rules(profile, d),
                &Provenance {
                    granted_by: "a".into(),
                    granted_at: "t".into(),
                },
            )
        }

        #[test]
        fn a_role_granted_before_a_crd_was_installed_is_incomplete() {
            let before = served(&[]);
            let after = served(&[
                ("example.com", "widgets"),
                ("example.com", "widgets/status"),
            ]);
            let roles = [role(RoleProfile::ReadOnly, &before)];
            assert!(role_gap_findings(&roles, &before).is_empty());
            let f = role_gap_findings(&roles, &after);
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].rule, "CHR028");
            assert_eq!(f[0].severity, Severity::Low);
            assert_eq!(f[0].subject, "ClusterRole/chronomReadOnlyRole");
            assert!(
                f[0].evidence.ends_with("2 resource(s) the server serves: widgets.example.com, widgets.example.com/status"),
                "{}",
                f[0].evidence
            );
            // Re-granting (the role rebuilt from the new discovery) clears it.
            assert!(role_gap_findings(&[role(RoleProfile::ReadOnly, &after)], &after).is_empty());
        }

        #[test]
        fn excluded_resources_are_never_reported_missing() {
            let d = served(&[("", "nodes/proxy"), ("", "serviceaccounts/token")]);
            assert!(role_gap_findings(&[role(RoleProfile::ReadOnly, &served(&[]))], &d).is_empty());
        }

        #[test]
        fn wildcard_unknown_and_foreign_roles_are_not_judged() {
            let d = served(&[("example.com", "widgets")]);
            let empty = DiscoveredResources::new();
            let wildcard = role(RoleProfile::Wildcard, &empty);
            let mut unknown = role(RoleProfile::ReadOnly, &empty);
            unknown.metadata.annotations = None;
            let mut foreign = role(RoleProfile::ReadOnly, &empty);
            foreign.metadata.labels = None;
            assert!(role_gap_findings(&[wildcard, unknown, foreign], &d).is_empty());
        }

        #[test]
        fn long_lists_are_cut_with_a_count() {
            let extra: Vec<(String, String)> = (0..25)
                .map(|i| ("example.com".to_string(), format!("r{i:02}")))
                .collect();
            let extra: Vec<(&str, &str)> = extra
                .iter()
                .map(|(g, r)| (g.as_str(), r.as_str()))
                .collect();
            let f = role_gap_findings(
                &[role(RoleProfile::ReadOnlyWithSecrets, &served(&[]))],
                &served(&extra),
            );
            assert!(
                f[0].evidence.contains("25 resource(s)"),
                "{}",
                f[0].evidence
            );
            assert!(f[0].evidence.ends_with(" and 5 more"), "{}", f[0].evidence);
        }
    }

    /// Issue 12 item 6: a system:masters mapping behind YAML the strict editor refuses must
    /// still raise CHR001, with CHR029 saying why grant/revoke cannot edit the section.
    #[test]
    fn masters_hidden_behind_yaml_tricks_still_raise_chr001() {
        let arn = "arn:aws:iam::111122223333:role/backdoor";
        for roles in [
            format!("- rolearn:\t{arn}\n  groups: [system:masters]\n"),
            format!(
                "- rolearn: {arn}\n  groups: &g [system:masters]\n- rolearn: {arn}2\n  groups: *g\n"
            ),
            format!("- &b\n  groups: [system:masters]\n  rolearn: x\n- <<: *b\n  rolearn: {arn}\n"),
            format!("- rolearn: {arn}\n  groups: [system:masters]\n---\n- rolearn: x\n"),
        ] {
            let inv = super::super::inventory::for_audit(&BTreeMap::from([(
                "mapRoles".to_string(),
                roles.clone(),
            )]));
            let f = mapping_findings(&inv);
            assert!(
                f.iter()
                    .any(|f| f.rule == "CHR001" && f.subject.starts_with(&format!("{arn} "))),
                "{roles:?}: {f:?}"
            );
            let not_editable: Vec<_> = f.iter().filter(|f| f.rule == "CHR029").collect();
            assert_eq!(not_editable.len(), 1, "{roles:?}: {f:?}");
            assert_eq!(not_editable[0].severity, Severity::Info);
            assert!(
                not_editable[0].evidence.contains("line "),
                "{}",
                not_editable[0].evidence
            );
            assert!(!f.iter().any(|f| f.rule == "CHR011"), "{roles:?}: {f:?}");
        }
    }
}
