//! EKS access entries: the thin shell over the EKS and IAM APIs. The model and the decisions
//! are pure, in `access_entry`. Every function here takes its client, so tests inject mocked
//! ones.

use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use chronom_core::action::Action;
use chronom_core::arn::{self, RoleArnInput};
use chronom_core::eks::access_entry::{
    AccessEntryResult, AccessEntryView, DesiredEntry, EntryPlan, EntryWithPolicies, MANAGED_BY_TAG,
    PrincipalPlan, STANDARD, check_principal, check_revoke, entries_for, plan_grant, policy_notes,
    principal_plan, view_of,
};
use chronom_core::eks::access_policies::{Association, PolicyScope};
use chronom_core::error::UserError;

/// How many EKS requests one cluster's audit or revoke keeps in flight.
pub const PARALLEL_REQUESTS: usize = 8;

/// The SDK's access entry as the model reads it.
fn view_of_sdk(e: &aws_sdk_eks::types::AccessEntry) -> AccessEntryView {
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

/// An AWS failure as the user should read it.
pub fn aws_error<E, R>(err: &SdkError<E, R>, doing: &str, permission: &str) -> UserError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = err.message().unwrap_or_default().to_string();
    match err.code() {
        // A key AWS does not know, or a session that expired: no permission would help.
        Some(
            code @ ("UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "RequestExpired"),
        ) => UserError::failed(
            format!("{doing}: AWS rejected the credentials ({code}: {message})"),
            super::renew_step(),
        ),
        Some(code) if code.contains("AccessDenied") || code == "UnauthorizedOperation" => {
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
            "check the AWS credentials (--profile, AWS_PROFILE, or a login that may have expired) and --region, and that AWS is reachable",
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
    let mut pages = eks
        .list_access_entries()
        .cluster_name(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            aws_error(
                &e,
                &format!("listing the access entries of cluster {cluster}"),
                "eks:ListAccessEntries",
            )
        })?;
        out.extend(page.access_entries().iter().cloned());
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
        Ok(out) => Ok(out.access_entry().map(view_of_sdk)),
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
    let mut pages = eks
        .list_associated_access_policies()
        .cluster_name(cluster)
        .principal_arn(principal_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
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
        .map(view_of_sdk)
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
        .map(view_of_sdk)
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
    use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesError;
    use aws_smithy_mocks::mock;

    fn eks_answering(code: &'static str) -> aws_sdk_eks::Client {
        let rule = mock!(aws_sdk_eks::Client::list_access_entries).then_error(move || {
            ListAccessEntriesError::generic(
                aws_sdk_eks::error::ErrorMetadata::builder()
                    .code(code)
                    .message("The security token included in the request is invalid.")
                    .build(),
            )
        });
        super::super::mocked_client!(aws_sdk_eks, "eu-west-1", [&rule])
    }

    #[tokio::test]
    async fn a_key_aws_does_not_know_is_bad_credentials_not_a_missing_permission() {
        for code in [
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredTokenException",
        ] {
            let e = list_principals(&eks_answering(code), "prod")
                .await
                .unwrap_err();
            assert!(
                e.what.starts_with(&format!(
                    "listing the access entries of cluster prod: AWS rejected the credentials ({code}: "
                )),
                "{e}"
            );
            assert!(
                !e.what.contains("denied") && !e.next.contains("allow"),
                "no permission would help: {e}"
            );
            assert!(
                e.next.contains("log in again") || e.next.contains("refresh the credentials"),
                "{e}"
            );
        }
        let e = list_principals(&eks_answering("AccessDeniedException"), "prod")
            .await
            .unwrap_err();
        assert!(e.next.starts_with("allow eks:ListAccessEntries"), "{e}");
    }
}
