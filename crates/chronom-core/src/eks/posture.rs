//! What DescribeCluster says about a cluster's access posture, and the findings it raises.
//! Pure: `ClusterFacts` (plain data, also printed in the audit report) in, findings out; the
//! shell (`cluster::facts_of_sdk`) fills it from the SDK's answer.

use serde::Serialize;

use super::access_entry::EntryWithPolicies;
use super::access_policies::{CLUSTER_ADMIN_POLICY, PolicyScope};
use crate::audit::findings::{self, Finding};

/// The parts of DescribeCluster the audit and `--via auto` read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterFacts {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `API`, `API_AND_CONFIG_MAP` or `CONFIG_MAP`; None when DescribeCluster leaves accessConfig
    /// out, which clusters from before access entries do (they behave as CONFIG_MAP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_cluster_creator_admin_permissions: Option<bool>,
    pub endpoint_public_access: bool,
    pub endpoint_private_access: bool,
    pub public_access_cidrs: Vec<String>,
    /// Control-plane log types that are enabled (api, audit, authenticator, controllerManager, scheduler).
    pub enabled_log_types: Vec<String>,
    /// The KMS key that envelope-encrypts Secrets, when one is configured. (EKS encrypts all API
    /// data with an AWS-owned key by default; encryptionConfig names a key you control, and its
    /// `resources` field is deprecated, so any provider key counts.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_kms_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Seconds since the epoch, for comparing with access entries' creation times.
    #[serde(skip)]
    pub created_at_epoch: Option<i64>,
}

/// How a cluster authenticates IAM principals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    ConfigMap,
    ApiAndConfigMap,
    Api,
}

impl AuthMode {
    /// None for a value this version does not know; a missing value means CONFIG_MAP.
    pub fn parse(mode: Option<&str>) -> Option<AuthMode> {
        match mode {
            None | Some("CONFIG_MAP") => Some(AuthMode::ConfigMap),
            Some("API_AND_CONFIG_MAP") => Some(AuthMode::ApiAndConfigMap),
            Some("API") => Some(AuthMode::Api),
            Some(_) => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::ConfigMap => "CONFIG_MAP",
            AuthMode::ApiAndConfigMap => "API_AND_CONFIG_MAP",
            AuthMode::Api => "API",
        }
    }

    pub fn reads_access_entries(self) -> bool {
        matches!(self, AuthMode::Api | AuthMode::ApiAndConfigMap)
    }

    pub fn reads_aws_auth(self) -> bool {
        matches!(self, AuthMode::ConfigMap | AuthMode::ApiAndConfigMap)
    }
}

impl ClusterFacts {
    pub fn auth_mode(&self) -> Option<AuthMode> {
        AuthMode::parse(self.authentication_mode.as_deref())
    }
}

/// The log types whose absence hides who did what: the API audit log and the IAM authenticator's.
pub const REQUIRED_LOG_TYPES: [&str; 2] = ["audit", "authenticator"];

/// Findings about the cluster itself: endpoint exposure, control-plane logging, Secrets encryption.
pub fn findings(c: &ClusterFacts) -> Vec<Finding> {
    let subject = format!("cluster/{}", c.name);
    let mut out = Vec::new();
    if c.endpoint_public_access {
        // An empty list means the default, which is 0.0.0.0/0.
        let open: Vec<&str> = if c.public_access_cidrs.is_empty() {
            vec!["0.0.0.0/0"]
        } else {
            c.public_access_cidrs
                .iter()
                .map(String::as_str)
                .filter(|c| *c == "0.0.0.0/0" || *c == "::/0")
                .collect()
        };
        if !open.is_empty() {
            let private = if c.endpoint_private_access {
                "private access is on too"
            } else {
                "private access is off"
            };
            out.push(findings::finding(
                findings::PUBLIC_ENDPOINT,
                &subject,
                format!(
                    "endpointPublicAccess with publicAccessCidrs {} ({private})",
                    open.join(", ")
                ),
            ));
        }
    }
    let off: Vec<&str> = REQUIRED_LOG_TYPES
        .iter()
        .copied()
        .filter(|t| !c.enabled_log_types.iter().any(|e| e == t))
        .collect();
    if !off.is_empty() {
        let on = if c.enabled_log_types.is_empty() {
            "none".to_string()
        } else {
            c.enabled_log_types.join(", ")
        };
        out.push(findings::finding(
            findings::LOGGING_OFF,
            &subject,
            format!(
                "control-plane logging off for {} (enabled: {on})",
                off.join(", ")
            ),
        ));
    }
    if c.secrets_kms_key_arn.is_none() {
        out.push(findings::finding(
            findings::SECRETS_NOT_KMS,
            &subject,
            "encryptionConfig names no KMS key: Secrets are encrypted only with the key EKS owns",
        ));
    }
    out
}

/// How close to the cluster's creation an entry must be to count as the creator's.
pub const CREATOR_WINDOW_SECS: i64 = 15 * 60;

/// CHR023 unless the cluster was created with bootstrapClusterCreatorAdminPermissions false.
/// The flag defaults to true, and a cluster that predates access entries has no accessConfig
/// at all, yet its creator was made an admin too: on a CONFIG_MAP cluster that is
/// `system:masters` in the EKS control plane's own configuration, which no aws-auth entry or
/// access entry shows ("This principal doesn't appear in any visible configuration", EKS User
/// Guide, auth-configmap). With access entries, EKS gives the creator an entry with
/// AmazonEKSClusterAdminPolicy instead; the API does not name the creator, so exactly one such
/// entry created within [`CREATOR_WINDOW_SECS`] of the cluster is named as the likely creator.
pub fn creator_finding(c: &ClusterFacts, entries: &[EntryWithPolicies]) -> Option<Finding> {
    let flag = match c.bootstrap_cluster_creator_admin_permissions {
        Some(false) => return None,
        Some(true) => "bootstrapClusterCreatorAdminPermissions is true",
        None => {
            "bootstrapClusterCreatorAdminPermissions is not set (it defaults to true, and a cluster created before access entries has none), so the creator was made an admin at creation"
        }
    };
    if c.auth_mode() == Some(AuthMode::ConfigMap) {
        return Some(findings::finding(
            findings::CREATOR_ADMIN,
            format!("cluster/{}", c.name),
            format!(
                "{flag}; on this CONFIG_MAP cluster the creator has system:masters in the EKS control plane, which neither aws-auth nor any access entry shows, and DescribeCluster does not name the creator (CloudTrail's CreateCluster event does)"
            ),
        ));
    }
    let candidates: Vec<&EntryWithPolicies> = entries
        .iter()
        .filter(|e| {
            e.policies
                .iter()
                .any(|p| p.policy == CLUSTER_ADMIN_POLICY && p.scope == PolicyScope::Cluster)
        })
        .filter(|e| match (c.created_at_epoch, e.entry.created_at_epoch) {
            (Some(cluster), Some(entry)) => (entry - cluster).abs() <= CREATOR_WINDOW_SECS,
            _ => false,
        })
        .collect();
    let who = match candidates.as_slice() {
        [one] => format!(
            "; likely creator: {} (its access entry with {CLUSTER_ADMIN_POLICY} was created with the cluster, {})",
            one.entry.principal_arn,
            one.entry.created_at.as_deref().unwrap_or("?")
        ),
        [] if entries.is_empty() => "; the creator is not named by the API, and no access entries could be read".into(),
        [] => "; the creator's access entry is not among the entries (deleted, or the cluster predates access entries)".into(),
        more => format!("; the API does not name the creator ({} cluster-admin entries were created with the cluster)", more.len()),
    };
    Some(findings::finding(
        findings::CREATOR_ADMIN,
        format!("cluster/{}", c.name),
        format!("{flag}{who}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hardened() -> ClusterFacts {
        ClusterFacts {
            name: "prod".into(),
            authentication_mode: Some("API".into()),
            endpoint_public_access: true,
            endpoint_private_access: true,
            public_access_cidrs: vec!["203.0.113.0/24".into()],
            enabled_log_types: vec!["api".into(), "audit".into(), "authenticator".into()],
            secrets_kms_key_arn: Some("arn:aws:kms:eu-west-1:111122223333:key/abc".into()),
            ..Default::default()
        }
    }

    fn rules(c: &ClusterFacts) -> Vec<&'static str> {
        findings(c).iter().map(|f| f.rule).collect()
    }

    #[test]
    fn a_hardened_cluster_has_no_posture_findings() {
        assert!(
            findings(&hardened()).is_empty(),
            "{:?}",
            findings(&hardened())
        );
    }

    #[test]
    fn an_endpoint_open_to_the_world_is_medium() {
        let mut c = hardened();
        c.public_access_cidrs = vec!["10.0.0.0/8".into(), "0.0.0.0/0".into()];
        let f = findings(&c);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, findings::PUBLIC_ENDPOINT.id);
        assert_eq!(f[0].severity, crate::audit::findings::Severity::Medium);
        assert!(
            f[0].evidence.contains("0.0.0.0/0") && !f[0].evidence.contains("10.0.0.0/8"),
            "{}",
            f[0].evidence
        );
        c.public_access_cidrs.clear();
        assert_eq!(
            rules(&c),
            [findings::PUBLIC_ENDPOINT.id],
            "no CIDRs means the default 0.0.0.0/0"
        );
        c.endpoint_public_access = false;
        assert!(
            rules(&c).is_empty(),
            "a private endpoint is not exposed whatever the CIDRs say"
        );
    }

    #[test]
    fn missing_audit_or_authenticator_logs_are_reported_together() {
        let mut c = hardened();
        c.enabled_log_types = vec!["api".into()];
        let f = findings(&c);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, findings::LOGGING_OFF.id);
        assert!(
            f[0].evidence.contains("audit, authenticator"),
            "{}",
            f[0].evidence
        );
        c.enabled_log_types = vec!["authenticator".into()];
        assert!(
            findings(&c)[0].evidence.contains("off for audit "),
            "{}",
            findings(&c)[0].evidence
        );
    }

    #[test]
    fn secrets_without_kms_are_reported() {
        let mut c = hardened();
        c.secrets_kms_key_arn = None;
        assert_eq!(rules(&c), [findings::SECRETS_NOT_KMS.id]);
    }

    #[test]
    fn auth_modes() {
        assert_eq!(AuthMode::parse(None), Some(AuthMode::ConfigMap));
        assert_eq!(AuthMode::parse(Some("API")), Some(AuthMode::Api));
        assert_eq!(AuthMode::parse(Some("SOMETHING_NEW")), None);
        assert!(
            AuthMode::ApiAndConfigMap.reads_access_entries()
                && AuthMode::ApiAndConfigMap.reads_aws_auth()
        );
        assert!(!AuthMode::Api.reads_aws_auth() && !AuthMode::ConfigMap.reads_access_entries());
    }

    #[test]
    fn the_creator_is_named_when_one_admin_entry_was_made_with_the_cluster() {
        use crate::eks::access_entry::AccessEntryView;
        use crate::eks::access_policies::Association;
        let entry = |arn: &str, at: i64, policy: &str| EntryWithPolicies {
            entry: AccessEntryView {
                principal_arn: arn.into(),
                username: "u".into(),
                kubernetes_groups: vec![],
                entry_type: "STANDARD".into(),
                access_entry_arn: None,
                created_at: Some("then".into()),
                created_at_epoch: Some(at),
                tags: Default::default(),
            },
            policies: vec![Association::new(
                &format!("arn:aws:eks::aws:cluster-access-policy/{policy}"),
                PolicyScope::Cluster,
            )],
        };
        let mut c = hardened();
        c.bootstrap_cluster_creator_admin_permissions = Some(false);
        assert!(
            creator_finding(&c, &[]).is_none(),
            "created without the creator's admin: no finding"
        );
        // Absent (it defaults to true; older clusters have no accessConfig): still reported.
        c.bootstrap_cluster_creator_admin_permissions = None;
        let f = creator_finding(&c, &[]).unwrap();
        assert!(
            f.evidence
                .starts_with("bootstrapClusterCreatorAdminPermissions is not set"),
            "{}",
            f.evidence
        );
        // A CONFIG_MAP cluster: the hidden system:masters, not an access entry.
        for mode in [None, Some("CONFIG_MAP")] {
            let mut cm = hardened();
            cm.authentication_mode = mode.map(String::from);
            for flag in [None, Some(true)] {
                cm.bootstrap_cluster_creator_admin_permissions = flag;
                let f = creator_finding(&cm, &[]).unwrap();
                assert!(
                    f.evidence.contains("on this CONFIG_MAP cluster the creator has system:masters in the EKS control plane, which neither aws-auth nor any access entry shows")
                        && !f.evidence.contains("access entry with"),
                    "{mode:?} {flag:?}: {}",
                    f.evidence
                );
            }
        }
        c.bootstrap_cluster_creator_admin_permissions = Some(true);
        c.created_at_epoch = Some(1_000_000);
        let entries = vec![
            entry(
                "arn:aws:iam::1:role/creator",
                1_000_030,
                CLUSTER_ADMIN_POLICY,
            ),
            entry(
                "arn:aws:iam::1:role/later-admin",
                2_000_000,
                CLUSTER_ADMIN_POLICY,
            ),
            entry(
                "arn:aws:iam::1:role/viewer",
                1_000_010,
                "AmazonEKSViewPolicy",
            ),
        ];
        let f = creator_finding(&c, &entries).unwrap();
        assert_eq!(f.rule, findings::CREATOR_ADMIN.id);
        assert_eq!(f.severity, crate::audit::findings::Severity::Info);
        assert!(
            f.evidence
                .contains("likely creator: arn:aws:iam::1:role/creator"),
            "{}",
            f.evidence
        );
        let f = creator_finding(&c, &entries[1..]).unwrap();
        assert!(!f.evidence.contains("likely creator"), "{}", f.evidence);
    }
}
