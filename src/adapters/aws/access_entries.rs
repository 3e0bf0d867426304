//! EKS access entries: the model, the pure decisions (is this username allowed, which ARN
//! does the entry need, create / unchanged / update / refuse), and the thin shell over the
//! EKS and IAM APIs. Every shell function takes its client, so tests inject mocked ones.
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

use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use serde::Serialize;

use crate::eks::access_policies::{Association, PolicyScope};
use crate::error::UserError;
use crate::outcome::Action;
use chronom_core::arn::{self, CanonicalRoleArn, RoleArnInput};
use chronom_core::awsauth::template::{Placeholder, TemplatePart, parse_template};

/// Prefixes EKS reserves for its own usernames.
pub const RESERVED_USERNAME_PREFIXES: [&str; 5] = ["system:", "eks:", "aws:", "amazon:", "iam:"];
/// The tag put on entries this tool creates.
pub const MANAGED_BY_TAG: (&str, &str) = ("managed-by", "kubectl-chronom");
pub const STANDARD: &str = "STANDARD";
/// How many EKS requests one cluster's audit or revoke keeps in flight.
pub const PARALLEL_REQUESTS: usize = 8;

/// An access entry as DescribeAccessEntry returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub fn from_sdk(e: &aws_sdk_eks::types::AccessEntry) -> Self {
        let created = e.created_at();
        AccessEntryView {
            principal_arn: e.principal_arn().unwrap_or_default().to_string(),
            username: e.username().unwrap_or_default().to_string(),
            kubernetes_groups: e.kubernetes_groups().to_vec(),
            entry_type: e.r#type().unwrap_or(STANDARD).to_string(),
            access_entry_arn: e.access_entry_arn().map(str::to_string),
            created_at: created.and_then(|d| {
                d.fmt(aws_sdk_eks::primitives::DateTimeFormat::DateTime)
                    .ok()
            }),
            created_at_epoch: created.map(|d| d.secs()),
            tags: e
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }
    }

    pub fn managed_by_us(&self) -> bool {
        self.tags
            .get(MANAGED_BY_TAG.0)
            .is_some_and(|v| v == MANAGED_BY_TAG.1)
    }

    /// Node entries get their groups from EKS, not from kubernetesGroups.
    pub fn implicit_groups(&self) -> &'static [&'static str] {
        match self.entry_type.as_str() {
            "EC2_LINUX" | "EC2_WINDOWS" | "EC2" => &["system:nodes", "system:bootstrappers"],
            "FARGATE_LINUX" => &[
                "system:nodes",
                "system:bootstrappers",
                "system:node-proxier",
            ],
            "HYBRID_LINUX" => &["system:nodes", "system:bootstrappers"],
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

// ---------------------------------------------------------------------------------------
// Pure decisions
// ---------------------------------------------------------------------------------------

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
    use chronom_core::awsauth::ownership::{OVERRIDE_FLAG, protects};
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
        .find(|p| p.policy == crate::eks::access_policies::CLUSTER_ADMIN_POLICY);
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
    if differences.is_empty() && never.is_empty() {
        return Ok(None);
    }
    let overridable = never.is_empty();
    if overridable && force {
        return Ok(Some(format!(
            "the access entry was not what grant creates ({}); deleted because of {OVERRIDE_FLAG}",
            differences.join("; ")
        )));
    }
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
    for b in &breaks {
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
    Err(UserError::failed(what, next))
}

// ---------------------------------------------------------------------------------------
// Shell: the EKS and IAM calls
// ---------------------------------------------------------------------------------------

/// An AWS failure as the user should read it.
pub fn aws_error<E, R>(err: &SdkError<E, R>, doing: &str, permission: &str) -> UserError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = err.message().unwrap_or_default().to_string();
    match err.code() {
        Some(code)
            if code.contains("AccessDenied")
                || code == "UnauthorizedOperation"
                || code == "UnrecognizedClientException" =>
        {
            UserError::failed(
                format!("{doing}: AWS denied it ({code}: {message})"),
                format!(
                    "allow {permission} for your AWS identity, or pick one that has it with --profile"
                ),
            )
        }
        Some(code) => UserError::failed(
            format!("{doing}: {code}: {message}"),
            "check the cluster name and --region; re-run with -vv for details",
        ),
        None => UserError::failed(
            format!("{doing}: {}", DisplayErrorContext(err)),
            "check the AWS credentials (--profile, AWS_PROFILE, `aws sso login`) and --region, and that AWS is reachable",
        ),
    }
}

/// ResourceNotFoundException, by its modeled variant or (for errors the SDK leaves
/// unmodeled) by its code.
fn not_found<E: ProvideErrorMetadata, R>(
    err: &SdkError<E, R>,
    modeled: impl Fn(&E) -> bool,
) -> bool {
    err.as_service_error().is_some_and(modeled) || err.code() == Some("ResourceNotFoundException")
}

/// Every principal ARN with an access entry in `cluster`.
pub async fn list_principals(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<Vec<String>, UserError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = eks
            .list_access_entries()
            .cluster_name(cluster)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    &e,
                    &format!("listing the access entries of cluster {cluster}"),
                    "eks:ListAccessEntries",
                )
            })?;
        out.extend(page.access_entries().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// DescribeAccessEntry; None when there is no entry for `principal_arn`.
pub async fn describe(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    principal_arn: &str,
) -> Result<Option<AccessEntryView>, UserError> {
    match eks
        .describe_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal_arn)
        .send()
        .await
    {
        Ok(out) => Ok(out.access_entry().map(AccessEntryView::from_sdk)),
        Err(e) if not_found(&e, |s| s.is_resource_not_found_exception()) => Ok(None),
        Err(e) => Err(aws_error(
            &e,
            &format!("reading the access entry of {principal_arn} in cluster {cluster}"),
            "eks:DescribeAccessEntry",
        )),
    }
}

/// The access policies associated with one entry.
pub async fn list_policies(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    principal_arn: &str,
) -> Result<Vec<Association>, UserError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match eks
            .list_associated_access_policies()
            .cluster_name(cluster)
            .principal_arn(principal_arn)
            .set_next_token(token.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if not_found(&e, |s| s.is_resource_not_found_exception()) => return Ok(out),
            Err(e) => {
                return Err(aws_error(
                    &e,
                    &format!("listing the access policies of {principal_arn} in cluster {cluster}"),
                    "eks:ListAssociatedAccessPolicies",
                ));
            }
        };
        for p in page.associated_access_policies() {
            let scope = match p.access_scope() {
                Some(s) if s.r#type().is_some_and(|t| t.as_str() == "namespace") => {
                    PolicyScope::Namespace {
                        namespaces: s.namespaces().to_vec(),
                    }
                }
                _ => PolicyScope::Cluster,
            };
            out.push(Association::new(p.policy_arn().unwrap_or_default(), scope));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// Every entry of the cluster with its policies (for the audit): one List, then a Describe
/// and a ListAssociatedAccessPolicies per entry, at most [`PARALLEL_REQUESTS`] at a time.
pub async fn read_all(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<Vec<EntryWithPolicies>, UserError> {
    let principals = list_principals(eks, cluster).await?;
    let results = crate::adapters::parallel::bounded_map(principals, PARALLEL_REQUESTS, |p| {
        let eks = eks.clone();
        let cluster = cluster.to_string();
        async move {
            let entry = describe(&eks, &cluster, &p).await?;
            let policies = list_policies(&eks, &cluster, &p).await?;
            Ok::<_, UserError>(entry.map(|entry| EntryWithPolicies { entry, policies }))
        }
    })
    .await;
    let mut out = Vec::new();
    for r in results {
        // An entry deleted between List and Describe is simply gone.
        if let Some(e) = r? {
            out.push(e);
        }
    }
    Ok(out)
}

pub async fn create(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    want: &DesiredEntry,
) -> Result<AccessEntryView, UserError> {
    let out = eks
        .create_access_entry()
        .cluster_name(cluster)
        .principal_arn(&want.principal_arn)
        .set_kubernetes_groups(Some(want.kubernetes_groups.clone()))
        .username(&want.username)
        .r#type(want.entry_type)
        .tags(MANAGED_BY_TAG.0, MANAGED_BY_TAG.1)
        .send()
        .await
        .map_err(|e| {
            let mut err = aws_error(&e, &format!("creating the access entry for {} in cluster {cluster}", want.principal_arn), "eks:CreateAccessEntry");
            if e.as_service_error().is_some_and(|s| s.is_invalid_parameter_exception()) || e.code() == Some("InvalidParameterException") {
                err.next = "check that the role exists with exactly this ARN (path included): `aws iam get-role --role-name NAME --query Role.Arn`".into();
            }
            err
        })?;
    Ok(out
        .access_entry()
        .map(AccessEntryView::from_sdk)
        .unwrap_or_else(|| view_of(want)))
}

pub async fn update(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    want: &DesiredEntry,
) -> Result<AccessEntryView, UserError> {
    let out = eks
        .update_access_entry()
        .cluster_name(cluster)
        .principal_arn(&want.principal_arn)
        .set_kubernetes_groups(Some(want.kubernetes_groups.clone()))
        .username(&want.username)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                &e,
                &format!(
                    "updating the access entry for {} in cluster {cluster}",
                    want.principal_arn
                ),
                "eks:UpdateAccessEntry",
            )
        })?;
    Ok(out
        .access_entry()
        .map(AccessEntryView::from_sdk)
        .unwrap_or_else(|| view_of(want)))
}

/// DeleteAccessEntry; Ok(false) when it was already gone.
pub async fn delete(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    principal_arn: &str,
) -> Result<bool, UserError> {
    match eks
        .delete_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal_arn)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if not_found(&e, |s| s.is_resource_not_found_exception()) => Ok(false),
        Err(e) => Err(aws_error(
            &e,
            &format!("deleting the access entry of {principal_arn} in cluster {cluster}"),
            "eks:DeleteAccessEntry",
        )),
    }
}

fn view_of(want: &DesiredEntry) -> AccessEntryView {
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

/// The principal ARN an entry for `role` must name, and the role's unique ID when IAM told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPrincipal {
    pub arn: String,
    pub role_id: Option<String>,
    pub note: Option<String>,
}

/// Find the role's real ARN (with its path): as given when it had a path; else IAM GetRole;
/// else an existing access entry for the same role; else ask the user for the full ARN.
pub async fn resolve_principal(
    iam: Option<&aws_sdk_iam::Client>,
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    role: &RoleArnInput,
) -> Result<ResolvedPrincipal, UserError> {
    let role_name = match principal_plan(role) {
        PrincipalPlan::Known(arn) => {
            return Ok(ResolvedPrincipal {
                arn,
                role_id: None,
                note: None,
            });
        }
        PrincipalPlan::LookUp { role_name } => role_name,
    };
    let mut why = String::new();
    if let Some(iam) = iam {
        match iam.get_role().role_name(&role_name).send().await {
            Ok(out) => {
                if let Some(r) = out.role() {
                    let same =
                        arn::parse_role_arn(&r.arn).is_ok_and(|p| p.canonical == role.canonical);
                    if same {
                        let note = (r.path != "/").then(|| {
                            format!(
                                "IAM says the role's path is {}; the access entry names {}",
                                r.path, r.arn
                            )
                        });
                        return Ok(ResolvedPrincipal {
                            arn: r.arn.clone(),
                            role_id: Some(r.role_id.clone()),
                            note,
                        });
                    }
                    why = format!(
                        "IAM GetRole found {}, which is another account's role",
                        r.arn
                    );
                }
            }
            Err(e) => {
                let missing = e
                    .as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception())
                    || e.code() == Some("NoSuchEntity");
                why = if missing {
                    format!("IAM has no role {role_name} in the account your credentials belong to")
                } else {
                    format!(
                        "IAM GetRole failed: {}",
                        aws_error(&e, "reading the role", "iam:GetRole").what
                    )
                };
            }
        }
    } else {
        why = "IAM was not asked".into();
    }
    let principals = list_principals(eks, cluster).await?;
    if let [existing] = entries_for(&principals, &role.canonical).as_slice() {
        return Ok(ResolvedPrincipal {
            arn: existing.to_string(),
            role_id: None,
            note: Some(format!(
                "the role's path came from its existing access entry {existing} ({why})"
            )),
        });
    }
    Err(UserError::usage(
        format!(
            "an access entry needs the role's full ARN, path included, and {} has no path that could be confirmed: {why}",
            role.original
        ),
        format!(
            "pass the full ARN: `aws iam get-role --role-name {role_name} --query Role.Arn --output text` prints it (or allow iam:GetRole, or use --via aws-auth)"
        ),
    ))
}

/// Everything grant decides about the access entry before any write.
#[derive(Debug, Clone)]
pub struct PreparedGrant {
    pub cluster: String,
    pub desired: DesiredEntry,
    pub plan: EntryPlan,
    pub previous: Option<AccessEntryView>,
    pub role_id: Option<String>,
    pub policies: Vec<Association>,
    pub notes: Vec<String>,
}

impl PreparedGrant {
    pub fn result(&self) -> AccessEntryResult {
        AccessEntryResult {
            cluster: self.cluster.clone(),
            name: self.desired.principal_arn.clone(),
            action: self.plan.action(),
            entry: self.desired.clone(),
            previous: if self.plan == EntryPlan::Update {
                self.previous.clone()
            } else {
                None
            },
            role_id: self.role_id.clone(),
            policies: self.policies.clone(),
            note: None,
        }
    }
}

/// Resolve the principal, read the live entry and its policies, and decide: no writes.
pub async fn prepare_grant(
    ctx: &super::EksContext,
    role: &RoleArnInput,
    username: &str,
    group: &str,
    force_update: bool,
) -> Result<PreparedGrant, UserError> {
    let cluster = ctx.name().to_string();
    let resolved = resolve_principal(ctx.iam.as_ref(), &ctx.eks, &cluster, role).await?;
    check_principal(&resolved.arn).map_err(|why| {
        UserError::usage(
            format!("{} cannot have an access entry: {why}", resolved.arn),
            "pick the IAM role the scanner assumes",
        )
    })?;
    let desired = DesiredEntry {
        principal_arn: resolved.arn.clone(),
        username: username.to_string(),
        kubernetes_groups: vec![group.to_string()],
        entry_type: STANDARD,
    };
    let live = describe(&ctx.eks, &cluster, &desired.principal_arn).await?;
    let plan = plan_grant(live.as_ref(), &desired, force_update, &cluster)?;
    let mut notes: Vec<String> = resolved.note.into_iter().collect();
    let policies = match &live {
        Some(_) => match list_policies(&ctx.eks, &cluster, &desired.principal_arn).await {
            Ok(p) => p,
            Err(e) => {
                notes.push(format!(
                    "could not check the entry's access policies: {}",
                    e.what
                ));
                vec![]
            }
        },
        None => vec![],
    };
    notes.extend(policy_notes(&policies));
    if let Some(id) = &resolved.role_id {
        notes.push(format!(
            "EKS binds the access entry to the role's unique ID {id}: if the role is deleted and recreated, revoke and grant again"
        ));
    }
    Ok(PreparedGrant {
        cluster,
        desired,
        plan,
        previous: live,
        role_id: resolved.role_id,
        policies,
        notes,
    })
}

/// Write what `prepare_grant` decided. A create that races another writer is re-read: the
/// same entry is `unchanged`, a different one is refused like at planning time.
pub async fn apply_grant(
    eks: &aws_sdk_eks::Client,
    p: &PreparedGrant,
    force_update: bool,
) -> Result<Action, UserError> {
    match p.plan {
        EntryPlan::Unchanged => Ok(Action::Unchanged),
        EntryPlan::Update => update(eks, &p.cluster, &p.desired)
            .await
            .map(|_| Action::Updated),
        EntryPlan::Create => match create(eks, &p.cluster, &p.desired).await {
            Ok(_) => Ok(Action::Created),
            Err(e) => {
                let now = describe(eks, &p.cluster, &p.desired.principal_arn)
                    .await
                    .ok()
                    .flatten();
                match now {
                    Some(live) => {
                        match plan_grant(Some(&live), &p.desired, force_update, &p.cluster)? {
                            EntryPlan::Unchanged => Ok(Action::Unchanged),
                            EntryPlan::Update => update(eks, &p.cluster, &p.desired)
                                .await
                                .map(|_| Action::Updated),
                            EntryPlan::Create => Err(e),
                        }
                    }
                    None => Err(e),
                }
            }
        },
    }
}

/// What revoke finds on the EKS side.
#[derive(Debug, Clone)]
pub struct PreparedRevoke {
    pub cluster: String,
    /// The role's entry, if it has one.
    pub entry: Option<AccessEntryView>,
    pub policies: Vec<Association>,
    /// Whether another access entry maps the group: Some(true/false), None when some entry
    /// could not be read (revoke then keeps the RBAC objects).
    pub others_map_group: Option<bool>,
    pub notes: Vec<String>,
}

impl PreparedRevoke {
    pub fn result(&self, role: &RoleArnInput) -> AccessEntryResult {
        let entry = self.entry.as_ref();
        AccessEntryResult {
            cluster: self.cluster.clone(),
            name: entry
                .map(|e| e.principal_arn.clone())
                .unwrap_or_else(|| role.canonical.to_string()),
            action: if entry.is_some() {
                Action::Deleted
            } else {
                Action::Absent
            },
            entry: DesiredEntry {
                principal_arn: entry
                    .map(|e| e.principal_arn.clone())
                    .unwrap_or_else(|| role.canonical.to_string()),
                username: entry.map(|e| e.username.clone()).unwrap_or_default(),
                kubernetes_groups: entry
                    .map(|e| e.kubernetes_groups.clone())
                    .unwrap_or_default(),
                entry_type: STANDARD,
            },
            previous: self.entry.clone(),
            role_id: None,
            policies: self.policies.clone(),
            note: None,
        }
    }

    /// Whether revoke must keep the group's RBAC because of access entries.
    pub fn group_still_mapped(&self) -> bool {
        self.others_map_group.unwrap_or(true)
    }
}

/// Find the role's entry (whatever its path) and whether any other entry maps `group`, and
/// decide whether the entry may be deleted ([`check_revoke`]): a refusal is an error, before
/// any write.
pub async fn prepare_revoke(
    ctx: &super::EksContext,
    role: &RoleArnInput,
    group: &str,
    force: bool,
) -> Result<PreparedRevoke, UserError> {
    let cluster = ctx.name().to_string();
    let principals = list_principals(&ctx.eks, &cluster).await?;
    let ours: Vec<String> = entries_for(&principals, &role.canonical)
        .into_iter()
        .cloned()
        .collect();
    let mut entry = None;
    let mut policies = vec![];
    let mut notes = Vec::new();
    if let Some(arn) = ours.first() {
        entry = describe(&ctx.eks, &cluster, arn).await?;
        if let Some(e) = &entry {
            // Unread policies could be cluster admin: no guess, the error stops the run.
            policies = list_policies(&ctx.eks, &cluster, arn).await?;
            notes.extend(check_revoke(e, &policies, group, force, &cluster)?);
        }
    }
    let others: Vec<String> = principals
        .into_iter()
        .filter(|p| !ours.contains(p))
        .collect();
    let looked = crate::adapters::parallel::bounded_map(others, PARALLEL_REQUESTS, |p| {
        let eks = ctx.eks.clone();
        let cluster = cluster.clone();
        async move { describe(&eks, &cluster, &p).await }
    })
    .await;
    let mut others_map_group = Some(false);
    for r in looked {
        match r {
            Ok(Some(e)) if e.kubernetes_groups.iter().any(|g| g == group) => {
                notes.push(format!(
                    "access entry {} also maps group {group}",
                    e.principal_arn
                ));
                others_map_group = others_map_group.map(|_| true);
            }
            Ok(_) => {}
            Err(e) => {
                notes.push(format!(
                    "could not read every access entry ({}); the group's RBAC objects are kept",
                    e.what
                ));
                others_map_group = None;
            }
        }
    }
    Ok(PreparedRevoke {
        cluster,
        entry,
        policies,
        others_map_group,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(live("x", &[], STANDARD).implicit_groups().is_empty());
    }
}
