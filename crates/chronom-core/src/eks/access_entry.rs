//! An EKS access entry: the model and the pure decisions (is this username allowed, which ARN
//! does the entry need, create / unchanged / update / refuse, may revoke delete it). The
//! calls to the EKS and IAM APIs are in `access_entries`.
//!
//! Facts from the Amazon EKS User Guide (creating-access-entries, set-custom-username) this
//! module relies on:
//! - an access entry names the role ARN *with* its path (aws-auth is the opposite), and EKS
//!   binds it to the role's unique ID: a role deleted and recreated under the same ARN is not
//!   matched until the entry is deleted and created again;
//! - a custom username may not start with `system:`, `eks:`, `aws:`, `amazon:` or `iam:`, and
//!   `{{SessionName}}` must come after a colon;
//! - service-linked roles (`role/aws-service-role/...`) cannot have access entries;
//! - the type cannot change after creation; username and groups can (UpdateAccessEntry).

use std::collections::BTreeMap;

use serde::Serialize;

use super::access_policies::Association;
use crate::action::Action;
use crate::arn::{CanonicalRoleArn, RoleArnInput};
use crate::awsauth::template::{Placeholder, TemplatePart, parse_template};
use crate::error::UserError;

/// Prefixes EKS reserves for its own usernames.
pub const RESERVED_USERNAME_PREFIXES: [&str; 5] = ["system:", "eks:", "aws:", "amazon:", "iam:"];
/// The tag put on entries this tool creates.
pub const MANAGED_BY_TAG: (&str, &str) = ("managed-by", "kubectl-chronom");
pub const STANDARD: &str = "STANDARD";

/// An access entry as DescribeAccessEntry returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntryView {
    pub principal_arn: String,
    pub username: String,
    pub kubernetes_groups: Vec<String>,
    #[serde(rename = "type")]
    pub entry_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_entry_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip)]
    pub created_at_epoch: Option<i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl AccessEntryView {
    /// Node entries get their groups from EKS, not from kubernetesGroups. The types are the
    /// ones botocore's EKS model lists for CreateAccessEntry (STANDARD, FARGATE_LINUX,
    /// EC2_LINUX, EC2_WINDOWS, EC2, HYBRID_LINUX, HYPERPOD_LINUX). EKS documents no groups for
    /// HYPERPOD_LINUX; its principals are SageMaker HyperPod nodes joining the cluster, so it
    /// is read as a node type like HYBRID_LINUX rather than as nothing.
    pub fn implicit_groups(&self) -> &'static [&'static str] {
        match self.entry_type.as_str() {
            "EC2_LINUX" | "EC2_WINDOWS" | "EC2" => &["system:nodes", "system:bootstrappers"],
            "FARGATE_LINUX" => &[
                "system:nodes",
                "system:bootstrappers",
                "system:node-proxier",
            ],
            "HYBRID_LINUX" | "HYPERPOD_LINUX" => &["system:nodes", "system:bootstrappers"],
            _ => &[],
        }
    }
}

/// An access entry with the access policies associated with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryWithPolicies {
    pub entry: AccessEntryView,
    pub policies: Vec<Association>,
}

/// What grant wants the entry to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredEntry {
    pub principal_arn: String,
    pub username: String,
    pub kubernetes_groups: Vec<String>,
    #[serde(rename = "type")]
    pub entry_type: &'static str,
}

/// The `accessEntry` object of a grant or revoke report (`-o json`), next to `awsAuth`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntryResult {
    pub cluster: String,
    /// The principal ARN, which is what names an access entry within a cluster.
    pub name: String,
    pub action: Action,
    pub entry: DesiredEntry,
    /// The entry as it was before an update or delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<AccessEntryView>,
    /// The role's unique ID (AROA...), when IAM told us: EKS binds the entry to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    /// Access policies associated with the entry; grant leaves them alone and says so.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Association>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where a grant writes its username. The two differ only in a rule EKS's API adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameTarget {
    AwsAuth,
    AccessEntry,
}

/// The placeholders whose value the caller chooses: `sts:AssumeRole` takes any session name
/// made of `[\w+=,.@-]` (no colon), so whoever may assume the role picks this part.
const CALLER_CHOSEN: [Placeholder; 2] = [Placeholder::SessionName, Placeholder::SessionNameRaw];

/// The one check of a grant's username, for aws-auth and access entries alike.
///
/// Refused everywhere: the prefixes Kubernetes and EKS reserve (their users are bound to
/// powerful roles: `eks:addon-manager` is cluster-admin); a username with nothing fixed in it
/// (`{{SessionName}}`: the caller picks the whole name and can become any user); and a session
/// placeholder placed so that the caller can complete a reserved prefix (`{{SessionName}}:x`
/// becomes `system:x` for session name `system`). On access entries EKS also requires a
/// session placeholder to come after a colon.
pub fn check_username(username: &str, target: UsernameTarget) -> Result<(), String> {
    if let Some(p) = RESERVED_USERNAME_PREFIXES
        .iter()
        .find(|p| username.starts_with(**p))
    {
        return Err(format!(
            "it starts with {p}, which Kubernetes and EKS reserve for their own components (system:, eks:, aws:, amazon: and iam: are refused)"
        ));
    }
    let parts = parse_template(username).map_err(|e| e.to_string())?;
    let fixed = |p: &TemplatePart| matches!(p, TemplatePart::Text(t) if !t.is_empty());
    if !parts.iter().any(fixed) {
        return Err(
            "it is only placeholders with nothing fixed, so the session (whoever assumes the role picks its name) decides the whole username and can pose as any user"
                .into(),
        );
    }
    if let Some(first) = parts
        .iter()
        .position(|p| matches!(p, TemplatePart::Placeholder(ph) if CALLER_CHOSEN.contains(ph)))
    {
        let before: String = parts[..first]
            .iter()
            .map(|p| match p {
                TemplatePart::Text(t) => t.as_str(),
                TemplatePart::Placeholder(_) => "",
            })
            .collect();
        let colon_after = parts[first + 1..]
            .iter()
            .any(|p| matches!(p, TemplatePart::Text(t) if t.contains(':')));
        if !before.contains(':')
            && colon_after
            && let Some(r) = RESERVED_USERNAME_PREFIXES
                .iter()
                .find(|r| r.starts_with(before.as_str()))
        {
            return Err(format!(
                "the session name comes before the first colon, so a session named to complete {r:?} makes the username start with the reserved prefix {r}"
            ));
        }
        if target == UsernameTarget::AccessEntry && !before.contains(':') {
            let t = match &parts[first] {
                TemplatePart::Placeholder(p) => p.to_string(),
                TemplatePart::Text(_) => unreachable!("position() found a placeholder"),
            };
            return Err(format!(
                "{t} must come after a colon on access entries (for example chronom:{t})"
            ));
        }
    }
    Ok(())
}

/// Which principal ARN the entry needs, as far as the input tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalPlan {
    /// The input named the role with its path: use it as given.
    Known(String),
    /// The input had no path (or was an assumed-role ARN), so the real path is unknown.
    LookUp { role_name: String },
}

/// The IAM role ARN with a path: `arn:P:iam::A:role/PATH/NAME`.
pub fn role_arn_with_path(role: &CanonicalRoleArn, path: &str) -> String {
    format!(
        "arn:{}:iam::{}:role{}{}",
        role.partition(),
        role.account(),
        path,
        role.name()
    )
}

pub fn principal_plan(role: &RoleArnInput) -> PrincipalPlan {
    match (&role.stripped_path, &role.assumed_role_session) {
        (Some(path), None) => PrincipalPlan::Known(role_arn_with_path(&role.canonical, path)),
        _ => PrincipalPlan::LookUp {
            role_name: role.canonical.name().to_string(),
        },
    }
}

/// Service-linked roles cannot have access entries.
pub fn check_principal(principal_arn: &str) -> Result<(), String> {
    if principal_arn.contains(":role/aws-service-role/") {
        return Err("it is a service-linked role (path /aws-service-role/), and EKS does not allow access entries for those".into());
    }
    Ok(())
}

/// The live entries that are about `role` (whatever their path), as written.
pub fn entries_for<'a>(principals: &'a [String], role: &CanonicalRoleArn) -> Vec<&'a String> {
    principals.iter().filter(|p| role.matches(p)).collect()
}

/// What grant does to the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryPlan {
    Create,
    Unchanged,
    Update,
}

impl EntryPlan {
    pub fn action(&self) -> Action {
        match self {
            EntryPlan::Create => Action::Created,
            EntryPlan::Unchanged => Action::Unchanged,
            EntryPlan::Update => Action::Updated,
        }
    }
}

fn same_groups(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&String> = a.iter().collect();
    let mut b: Vec<&String> = b.iter().collect();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

fn describe_entry(username: &str, groups: &[String]) -> String {
    format!(
        "username {username:?}, kubernetesGroups [{}]",
        groups.join(", ")
    )
}

/// Create, leave alone, or update the live entry; refuse a different one without --force-update.
pub fn plan_grant(
    live: Option<&AccessEntryView>,
    want: &DesiredEntry,
    force_update: bool,
    cluster: &str,
) -> Result<EntryPlan, UserError> {
    let Some(live) = live else {
        return Ok(EntryPlan::Create);
    };
    if live.entry_type != STANDARD {
        return Err(UserError::failed(
            format!(
                "cluster {cluster} already has an access entry of type {} for {}; an entry's type cannot be changed, so nothing was changed",
                live.entry_type, live.principal_arn
            ),
            "use another IAM role for read-only access: this one is a node or Fargate role",
        ));
    }
    if live.username == want.username
        && same_groups(&live.kubernetes_groups, &want.kubernetes_groups)
    {
        return Ok(EntryPlan::Unchanged);
    }
    if force_update {
        return Ok(EntryPlan::Update);
    }
    Err(UserError::failed(
        format!(
            "cluster {cluster} already has an access entry for {} with a different username or groups; nothing was changed.\n  live:   {}\n  wanted: {}",
            live.principal_arn,
            describe_entry(&live.username, &live.kubernetes_groups),
            describe_entry(&want.username, &want.kubernetes_groups)
        ),
        "re-run with --force-update to replace its username and groups (its access policies are kept), or revoke it first",
    ))
}

/// The notes a grant adds about associated policies it leaves in place.
pub fn policy_notes(policies: &[Association]) -> Vec<String> {
    if policies.is_empty() {
        return vec![];
    }
    let list: Vec<String> = policies.iter().map(Association::describe).collect();
    vec![format!(
        "the access entry also has access policies associated, which grant rights beyond this grant and are invisible to the verification below: {}; they were left in place (aws eks disassociate-access-policy removes one)",
        list.join("; ")
    )]
}

/// Whether revoke may delete `entry` (decision 6 in docs/decisions.md): only a STANDARD entry whose
/// kubernetesGroups are exactly `[group]` and that has no access policy is what grant creates.
/// Anything else is refused with the entry and what would break; `force`
/// (--force-remove-foreign-entry) lets a STANDARD entry go anyway, but never a node or Fargate
/// entry (EKS gives those system:nodes) and never one with AmazonEKSClusterAdminPolicy.
/// Ok(Some(note)) when the override was needed.
pub fn check_revoke(
    entry: &AccessEntryView,
    policies: &[Association],
    group: &str,
    force: bool,
    cluster: &str,
) -> Result<Option<String>, UserError> {
    use crate::awsauth::ownership::OVERRIDE_FLAG;
    let o = objections(entry, policies, group);
    if o.differences.is_empty() && o.never.is_empty() {
        return Ok(None);
    }
    let overridable = o.never.is_empty();
    if overridable && force {
        return Ok(Some(format!(
            "the access entry was not what grant creates ({}); deleted because of {OVERRIDE_FLAG}",
            o.differences.join("; ")
        )));
    }
    Err(refusal(entry, policies, cluster, overridable, &o))
}

/// What stands against deleting an entry: why it may never be deleted (`never`), how it differs
/// from what grant creates (`differences`), and what would break (`breaks`).
struct Objections {
    never: Vec<String>,
    differences: Vec<String>,
    breaks: Vec<String>,
}

fn objections(entry: &AccessEntryView, policies: &[Association], group: &str) -> Objections {
    use crate::awsauth::ownership::protects;
    let mut never = Vec::new();
    let mut differences = Vec::new();
    let mut breaks = Vec::new();
    if entry.entry_type != STANDARD {
        never.push(format!("its type is {}", entry.entry_type));
        differences.push(format!(
            "type {} (grant creates STANDARD)",
            entry.entry_type
        ));
        let implicit = entry.implicit_groups();
        breaks.push(if implicit.is_empty() {
            format!(
                "whatever EKS lets {} entries do would stop for this role (its nodes or workers would lose their way in)",
                entry.entry_type
            )
        } else {
            format!(
                "nodes of this role would drop out of the cluster (EKS maps {} entries to {})",
                entry.entry_type,
                implicit.join(", ")
            )
        });
    }
    let admin = policies
        .iter()
        .find(|p| p.policy == super::access_policies::CLUSTER_ADMIN_POLICY);
    if let Some(a) = admin {
        never.push(format!("it has {}", a.describe()));
    }
    for p in protects(Some(&entry.username), &entry.kubernetes_groups) {
        never.push("it maps a node or system:masters identity".into());
        breaks.push(p.breakage().to_string());
    }
    if entry.kubernetes_groups != [group] {
        differences.push(format!(
            "kubernetesGroups [{}] (grant creates [{group}])",
            entry.kubernetes_groups.join(", ")
        ));
        let others: Vec<&String> = entry
            .kubernetes_groups
            .iter()
            .filter(|g| *g != group)
            .collect();
        if !others.is_empty() {
            breaks.push(format!(
                "sessions of this role would lose what groups [{}] are bound to",
                others
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !policies.is_empty() {
        let list: Vec<String> = policies.iter().map(Association::describe).collect();
        differences.push(format!(
            "access policies {} (grant associates none)",
            list.join("; ")
        ));
        breaks.push(format!("the role would lose {}", list.join("; ")));
    }
    Objections {
        never,
        differences,
        breaks,
    }
}

/// The refusal: the entry as YAML, how it differs, what would break, and the next step.
fn refusal(
    entry: &AccessEntryView,
    policies: &[Association],
    cluster: &str,
    overridable: bool,
    o: &Objections,
) -> UserError {
    let Objections {
        never,
        differences,
        breaks,
    } = o;
    use crate::awsauth::ownership::OVERRIDE_FLAG;
    let mut shown = serde_saphyr::to_string(entry)
        .unwrap_or_else(|e| format!("# could not render the entry: {e}\n"));
    if !policies.is_empty() {
        let listed = BTreeMap::from([("associatedAccessPolicies", policies)]);
        shown.push_str(
            &serde_saphyr::to_string(&listed)
                .unwrap_or_else(|e| format!("# could not render the policies: {e}\n")),
        );
    }
    let mut what = format!(
        "refusing to delete the access entry for {} in cluster {cluster}: {}; nothing was changed.\n  entry:\n",
        entry.principal_arn,
        if overridable {
            "it is not the entry grant creates"
        } else {
            "it is not an access entry kubectl-chronom deletes"
        }
    );
    for line in shown.lines() {
        what.push_str("    ");
        what.push_str(line);
        what.push('\n');
    }
    what.push_str(&format!(
        "  differs from what grant creates: {}\n  if it were deleted:",
        differences
            .iter()
            .chain(never.iter().filter(|n| n.starts_with("it has")))
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    ));
    for b in breaks {
        what.push_str("\n    - ");
        what.push_str(b);
    }
    let next = if overridable {
        format!("check who created this entry; to delete it anyway, re-run with {OVERRIDE_FLAG}")
    } else {
        format!(
            "no flag of kubectl-chronom deletes this entry ({}; not even {OVERRIDE_FLAG}); if the role really must lose it, use `aws eks delete-access-entry`",
            never.join("; ")
        )
    };
    UserError::failed(what, next)
}

/// The entry as EKS would store `want` once this tool created it (tagged as ours).
pub fn view_of(want: &DesiredEntry) -> AccessEntryView {
    AccessEntryView {
        principal_arn: want.principal_arn.clone(),
        username: want.username.clone(),
        kubernetes_groups: want.kubernetes_groups.clone(),
        entry_type: want.entry_type.to_string(),
        access_entry_arn: None,
        created_at: None,
        created_at_epoch: None,
        tags: BTreeMap::from([(MANAGED_BY_TAG.0.to_string(), MANAGED_BY_TAG.1.to_string())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arn;
    use crate::eks::access_policies::PolicyScope;

    fn want(user: &str, groups: &[&str]) -> DesiredEntry {
        DesiredEntry {
            principal_arn: "arn:aws:iam::111122223333:role/team/scanner".into(),
            username: user.into(),
            kubernetes_groups: groups.iter().map(|g| g.to_string()).collect(),
            entry_type: STANDARD,
        }
    }

    fn live(user: &str, groups: &[&str], ty: &str) -> AccessEntryView {
        AccessEntryView {
            entry_type: ty.into(),
            ..view_of(&want(user, groups))
        }
    }

    #[test]
    fn reserved_username_prefixes_are_refused() {
        for target in [UsernameTarget::AwsAuth, UsernameTarget::AccessEntry] {
            for u in [
                "system:chronom",
                "eks:addon-manager",
                "aws:x",
                "amazon:x",
                "iam:x",
            ] {
                assert!(check_username(u, target).is_err(), "{u} {target:?}");
            }
            for u in [
                "chronom",
                "chronom:{{SessionName}}",
                "arn:aws:sts::1:assumed-role/r/{{SessionName}}",
                "my-system:x",
                "{{AccountID}}:{{SessionName}}",
            ] {
                assert_eq!(check_username(u, target), Ok(()), "{u} {target:?}");
            }
        }
        assert!(
            check_username("chronom{{SessionName}}", UsernameTarget::AccessEntry)
                .unwrap_err()
                .contains("colon")
        );
        assert!(check_username("chronom-{{SessionNameRaw}}", UsernameTarget::AccessEntry).is_err());
        // aws-auth has no colon rule: a fixed prefix that cannot grow into a reserved one is enough.
        assert_eq!(
            check_username("chronom-{{SessionName}}", UsernameTarget::AwsAuth),
            Ok(())
        );
    }

    #[test]
    fn a_username_the_session_decides_is_refused_on_every_path() {
        for target in [UsernameTarget::AwsAuth, UsernameTarget::AccessEntry] {
            for u in [
                "{{SessionName}}",
                "{{SessionNameRaw}}",
                "{{SessionName}}{{SessionNameRaw}}",
                "{{AccountID}}{{SessionName}}",
                "{{EC2PrivateDNSName}}",
            ] {
                let why = check_username(u, target).unwrap_err();
                assert!(why.contains("nothing fixed"), "{u} {target:?}: {why}");
            }
            // The session name "system" (or "eks", "s" + "ystem", ...) completes a reserved prefix.
            for u in [
                "{{SessionName}}:x",
                "s{{SessionNameRaw}}:x",
                "e{{SessionName}}:addon-manager",
            ] {
                let why = check_username(u, target).unwrap_err();
                assert!(why.contains("reserved prefix"), "{u} {target:?}: {why}");
            }
        }
        assert_eq!(
            check_username("{{SessionName}}-reader", UsernameTarget::AwsAuth),
            Ok(()),
            "a fixed part and no colon after the session: no reserved prefix is reachable"
        );
        assert_eq!(
            check_username("scanner{{SessionName}}:x", UsernameTarget::AwsAuth),
            Ok(()),
            "scanner is no beginning of a reserved prefix"
        );
    }

    #[test]
    fn a_path_in_the_input_is_kept_and_a_missing_one_is_looked_up() {
        let with = arn::parse_role_arn("arn:aws:iam::111122223333:role/team/ops/scanner").unwrap();
        assert_eq!(
            principal_plan(&with),
            PrincipalPlan::Known("arn:aws:iam::111122223333:role/team/ops/scanner".into())
        );
        let without = arn::parse_role_arn("arn:aws:iam::111122223333:role/scanner").unwrap();
        assert_eq!(
            principal_plan(&without),
            PrincipalPlan::LookUp {
                role_name: "scanner".into()
            }
        );
        let session =
            arn::parse_role_arn("arn:aws:sts::111122223333:assumed-role/scanner/s1").unwrap();
        assert_eq!(
            principal_plan(&session),
            PrincipalPlan::LookUp {
                role_name: "scanner".into()
            }
        );
    }

    #[test]
    fn service_linked_roles_are_refused() {
        assert!(
            check_principal(
                "arn:aws:iam::1:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
            )
            .is_err()
        );
        assert!(check_principal("arn:aws:iam::1:role/team/x").is_ok());
    }

    #[test]
    fn entries_match_the_role_whatever_their_path() {
        let role = arn::parse_role_arn("arn:aws:iam::111122223333:role/Scanner")
            .unwrap()
            .canonical;
        let live = vec![
            "arn:aws:iam::111122223333:role/team/scanner".to_string(),
            "arn:aws:iam::111122223333:role/scanner-2".to_string(),
            "arn:aws:iam::444455556666:role/scanner".to_string(),
        ];
        assert_eq!(entries_for(&live, &role), [&live[0]]);
    }

    #[test]
    fn identical_entry_is_unchanged_and_group_order_does_not_matter() {
        let w = want("chronom", &["a", "b"]);
        assert_eq!(plan_grant(None, &w, false, "c").unwrap(), EntryPlan::Create);
        assert_eq!(
            plan_grant(
                Some(&live("chronom", &["b", "a"], STANDARD)),
                &w,
                false,
                "c"
            )
            .unwrap(),
            EntryPlan::Unchanged
        );
    }

    #[test]
    fn a_different_entry_needs_force_update() {
        let w = want("chronom", &["a"]);
        let other = live("someone", &["admins"], STANDARD);
        let e = plan_grant(Some(&other), &w, false, "prod").unwrap_err();
        assert!(
            e.what.contains("someone")
                && e.what.contains("admins")
                && e.next.contains("--force-update"),
            "{e}"
        );
        assert_eq!(
            plan_grant(Some(&other), &w, true, "prod").unwrap(),
            EntryPlan::Update
        );
    }

    #[test]
    fn a_node_entry_is_never_updated() {
        let e = plan_grant(
            Some(&live("system:node:{{EC2PrivateDNSName}}", &[], "EC2_LINUX")),
            &want("chronom", &["a"]),
            true,
            "prod",
        )
        .unwrap_err();
        assert!(e.what.contains("EC2_LINUX"), "{e}");
    }

    #[test]
    fn policy_notes_name_each_policy_and_scope() {
        assert!(policy_notes(&[]).is_empty());
        let n = policy_notes(&[Association::new(
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            PolicyScope::Cluster,
        )]);
        assert!(
            n[0].contains("AmazonEKSClusterAdminPolicy (cluster)"),
            "{n:?}"
        );
    }

    const ADMIN_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
    const VIEW_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";

    fn cluster_policy(arn: &str) -> Association {
        Association::new(arn, PolicyScope::Cluster)
    }

    #[test]
    fn revoke_deletes_only_what_grant_creates() {
        let ours = live("scanner", &["readers"], STANDARD);
        assert_eq!(
            check_revoke(&ours, &[], "readers", false, "prod").unwrap(),
            None
        );
        assert_eq!(
            check_revoke(&ours, &[], "readers", true, "prod").unwrap(),
            None
        );
        // The username is not part of it (decision 6 in docs/decisions.md): EKS may have chosen it.
        let other_user = live(
            "arn:aws:sts::1:assumed-role/scanner/{{SessionName}}",
            &["readers"],
            STANDARD,
        );
        assert_eq!(
            check_revoke(&other_user, &[], "readers", false, "prod").unwrap(),
            None
        );
    }

    #[test]
    fn other_groups_or_any_policy_need_the_override() {
        let view = [cluster_policy(VIEW_POLICY)];
        for (entry, policies) in [
            (
                live("scanner", &["readers", "deployers"], STANDARD),
                &[][..],
            ),
            (live("scanner", &["deployers"], STANDARD), &[][..]),
            (live("scanner", &[], STANDARD), &[][..]),
            (live("scanner", &["readers"], STANDARD), &view[..]),
        ] {
            let e = check_revoke(&entry, policies, "readers", false, "prod").unwrap_err();
            assert!(
                e.what.contains("refusing to delete the access entry")
                    && e.what.contains("nothing was changed")
                    && e.what
                        .contains("principalArn: arn:aws:iam::111122223333:role/team/scanner")
                    && e.next.contains("--force-remove-foreign-entry"),
                "{e}"
            );
            let note = check_revoke(&entry, policies, "readers", true, "prod")
                .unwrap()
                .expect("the override is noted");
            assert!(note.contains("--force-remove-foreign-entry"), "{note}");
        }
        let e = check_revoke(
            &live("scanner", &["readers"], STANDARD),
            &view,
            "readers",
            false,
            "prod",
        )
        .unwrap_err();
        assert!(
            e.what
                .contains("the role would lose AmazonEKSViewPolicy (cluster)")
                && e.what.contains("policy: AmazonEKSViewPolicy"),
            "{e}"
        );
        let e = check_revoke(
            &live("scanner", &["readers", "deployers"], STANDARD),
            &[],
            "readers",
            false,
            "prod",
        )
        .unwrap_err();
        assert!(e.what.contains("would lose what groups [deployers]"), "{e}");
    }

    #[test]
    fn node_entries_and_cluster_admin_are_never_deleted() {
        for ty in [
            "EC2_LINUX",
            "EC2_WINDOWS",
            "FARGATE_LINUX",
            "HYBRID_LINUX",
            "HYPERPOD_LINUX",
            "EC2",
        ] {
            // Even one that otherwise looks like grant's.
            let node = live("scanner", &["readers"], ty);
            for force in [false, true] {
                let e = check_revoke(&node, &[], "readers", force, "prod").unwrap_err();
                assert!(
                    e.what.contains(&format!("type: {ty}"))
                        && e.what
                            .contains("not an access entry kubectl-chronom deletes")
                        && e.next.contains("no flag")
                        && e.next.contains("aws eks delete-access-entry"),
                    "{ty}: {e}"
                );
            }
        }
        let e = check_revoke(
            &live("system:node:{{EC2PrivateDNSName}}", &[], "EC2_LINUX"),
            &[],
            "readers",
            true,
            "prod",
        )
        .unwrap_err();
        assert!(
            e.what
                .contains("nodes of this role would drop out of the cluster"),
            "{e}"
        );
        for scope in [
            PolicyScope::Cluster,
            PolicyScope::Namespace {
                namespaces: vec!["kube-system".into()],
            },
        ] {
            let admin = [Association::new(ADMIN_POLICY, scope)];
            let e = check_revoke(
                &live("scanner", &["readers"], STANDARD),
                &admin,
                "readers",
                true,
                "prod",
            )
            .unwrap_err();
            assert!(
                e.what.contains("AmazonEKSClusterAdminPolicy") && e.next.contains("no flag"),
                "{e}"
            );
        }
    }

    #[test]
    fn node_entries_carry_their_implicit_groups() {
        assert!(
            live("x", &[], "EC2_LINUX")
                .implicit_groups()
                .contains(&"system:nodes")
        );
        for ty in [
            "EC2_LINUX",
            "EC2_WINDOWS",
            "EC2",
            "FARGATE_LINUX",
            "HYBRID_LINUX",
            "HYPERPOD_LINUX",
        ] {
            assert!(
                live("x", &[], ty)
                    .implicit_groups()
                    .contains(&"system:nodes"),
                "{ty}"
            );
        }
        assert!(live("x", &[], STANDARD).implicit_groups().is_empty());
    }
}
