//! `grant`: plan -> preflight -> apply -> verify.
//!
//! Everything that can be decided before a write is decided first (including an aws-auth
//! conflict), so a refused run changes nothing. If the aws-auth write fails after this run
//! created RBAC objects, those objects are deleted again before we report.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use crate::arn::{self, RoleArnInput};
use crate::aws_auth_writer::{self as writer, EditOutcome};
use crate::awsauth;
use crate::cli::{GlobalArgs, GrantArgs};
use crate::connect::{self, Connection, identity};
use crate::eks::access_entries::{self as entries, PreparedGrant};
use crate::eks::via::{self, EksContext, MapWith};
use crate::error::UserError;
use crate::outcome::{Action, AwsAuthResult, EntryView, ObjectResult, RoleArnView, WriteReport};
use crate::readonly_role::{self as ro, DiscoveredResources, Provenance};
use crate::{preflight, verify};

/// A grant request whose inputs have been checked. Pure data.
#[derive(Debug, Clone)]
pub struct ValidGrant {
    pub role: RoleArnInput,
    pub entry: awsauth::NewRoleEntry,
    pub group: String,
    pub role_name: String,
    pub exclude_secrets: bool,
    pub force_update: bool,
    pub dry_run: bool,
}

/// Groups that carry rights far beyond read-only, or that Kubernetes and EKS reserve.
fn privileged_group_reason(group: &str) -> Option<&'static str> {
    if group == "system:masters" {
        Some(
            "system:masters bypasses RBAC entirely: members are cluster-admin and no binding can limit them",
        )
    } else if group.starts_with("system:") {
        Some(
            "system: groups are reserved for Kubernetes components (nodes, bootstrappers, service accounts) and carry their rights",
        )
    } else if group.starts_with("eks:") {
        Some("eks: groups are reserved for EKS's own components and are bound to their roles")
    } else {
        None
    }
}

pub fn validate(args: &GrantArgs) -> Result<ValidGrant, UserError> {
    let role = arn::parse_role_arn(&args.role_arn).map_err(|e| {
        UserError::usage(
            format!("--role-arn {:?} is not an IAM role ARN: {e}", args.role_arn),
            "pass arn:aws:iam::<12-digit account>:role/<name> (or an sts assumed-role ARN)",
        )
    })?;
    let username = args
        .username
        .clone()
        .unwrap_or_else(|| awsauth::default_username(&role.canonical));
    awsauth::validate_username(&username).map_err(|e| {
        UserError::usage(
            format!("--username {username:?} cannot be used: {e}"),
            "pass a plain name such as chronom, or a template such as chronom:{{SessionName}}",
        )
    })?;
    if username.starts_with("system:") {
        return Err(UserError::usage(
            format!(
                "--username {username:?} starts with system:, which Kubernetes reserves for its own components"
            ),
            "pick a username without the system: prefix, for example chronom-scanner",
        ));
    }
    validate_name("--group", &args.group)?;
    if let Some(reason) = privileged_group_reason(&args.group)
        && !args.allow_privileged_group
    {
        return Err(UserError::usage(
            format!(
                "refusing to map the role to --group {}: {reason}",
                args.group
            ),
            "use the default read-only group (chronomReadOnlyGroup), or pass --allow-privileged-group if you really mean it",
        ));
    }
    validate_name("--role-name", &args.role_name)?;
    Ok(ValidGrant {
        entry: awsauth::NewRoleEntry {
            rolearn: role.canonical.clone(),
            username,
            groups: vec![args.group.clone()],
        },
        role,
        group: args.group.clone(),
        role_name: args.role_name.clone(),
        exclude_secrets: args.exclude_secrets,
        force_update: args.force_update,
        dry_run: args.dry_run,
    })
}

/// RBAC object and group names: what the API server accepts as a path segment, minus
/// anything that would be confusing in aws-auth text (control characters, surrounding spaces).
fn validate_name(flag: &str, value: &str) -> Result<(), UserError> {
    let bad = value.is_empty()
        || value == "."
        || value == ".."
        || value.contains('/')
        || value.contains('%')
        || value.chars().any(char::is_control)
        || value.trim() != value
        || value.len() > 253;
    if bad {
        return Err(UserError::usage(
            format!("{flag} {value:?} is not a valid name"),
            "use letters, digits, '-', '.', ':' or '_', without '/' or '%', at most 253 characters",
        ));
    }
    Ok(())
}

pub fn role_arn_view(role: &RoleArnInput) -> RoleArnView {
    RoleArnView {
        input: role.original.clone(),
        canonical: role.canonical.to_string(),
        path_stripped: role.stripped_path.clone(),
        assumed_role_session: role.assumed_role_session.clone(),
    }
}

fn entry_view(entry: &awsauth::NewRoleEntry) -> EntryView {
    EntryView {
        rolearn: entry.rolearn.to_string(),
        username: entry.username.clone(),
        groups: entry.groups.clone(),
    }
}

/// What the RBAC part of the run will do, decided from what is live.
struct RbacPlan {
    role: ClusterRole,
    binding: ClusterRoleBinding,
    role_action: Action,
    binding_action: Action,
    notes: Vec<String>,
    drift_diff: String,
}

fn plan_rbac(
    v: &ValidGrant,
    rules_source: Option<&DiscoveredResources>,
    provenance: &Provenance,
    live_role: Option<&ClusterRole>,
    live_binding: Option<&ClusterRoleBinding>,
) -> Result<RbacPlan, UserError> {
    let role = ro::cluster_role(&v.role_name, ro::read_only_rules(rules_source), provenance);
    let binding = ro::cluster_role_binding(&v.role_name, &v.role_name, &v.group, provenance);
    let mut notes = Vec::new();
    let mut drift_diff = String::new();
    let role_action = match live_role {
        None => Action::Created,
        Some(live) if ro::role_matches(live, &role) => Action::Unchanged,
        Some(live) => {
            let before = ro::rules_yaml(live.rules.as_deref().unwrap_or_default());
            let after = ro::rules_yaml(role.rules.as_deref().unwrap_or_default());
            if before != after {
                drift_diff = awsauth::unified_diff(
                    &before,
                    &after,
                    &format!("clusterrole/{} rules (live)", v.role_name),
                    &format!("clusterrole/{} rules (restored)", v.role_name),
                );
                notes.push(format!(
                    "clusterrole {} had drifted from read-only; its rules are restored (see diff)",
                    v.role_name
                ));
            } else {
                notes.push(format!(
                    "clusterrole {} exists without the managed-by label; it is taken over",
                    v.role_name
                ));
            }
            Action::Updated
        }
    };
    let binding_action = match live_binding {
        None => Action::Created,
        Some(live) if live.role_ref != binding.role_ref => {
            return Err(UserError::failed(
                format!(
                    "clusterrolebinding {} already exists and refers to {} {:?}; a binding's role cannot be changed in place, so nothing was changed",
                    v.role_name, live.role_ref.kind, live.role_ref.name
                ),
                "delete that binding yourself if it is stale, or choose another --role-name",
            ));
        }
        Some(live) if ro::binding_matches(live, &binding) => Action::Unchanged,
        Some(_) => {
            notes.push(format!(
                "clusterrolebinding {} bound other subjects; it is restored to bind only group {}",
                v.role_name, v.group
            ));
            Action::Updated
        }
    };
    Ok(RbacPlan {
        role,
        binding,
        role_action,
        binding_action,
        notes,
        drift_diff,
    })
}

/// Every resource the server serves, per API group and across its versions, subresources included.
async fn discover(conn: &Connection) -> Result<DiscoveredResources, UserError> {
    let discovery = match kube::Discovery::new(conn.client.clone()).run().await {
        Ok(d) => d,
        Err(e) => {
            return Err(conn
                .explain(e, "discovering the API resources for --exclude-secrets")
                .await);
        }
    };
    let mut out = DiscoveredResources::new();
    for group in discovery.groups() {
        let resources = out.entry(group.name().to_string()).or_default();
        for version in group.versions() {
            for (resource, caps) in group.versioned_resources(version) {
                for (sub, _) in &caps.subresources {
                    resources.push(format!("{}/{}", resource.plural, sub.plural));
                }
                resources.push(resource.plural);
            }
        }
    }
    Ok(out)
}

pub async fn run(global: &GlobalArgs, args: &GrantArgs) -> crate::outcome::RunResult {
    let v = match validate(args) {
        Ok(v) => v,
        Err(e) => return e.into(),
    };
    let conn = match connect::connect(global).await {
        Ok(c) => c,
        Err(e) => return e.into(),
    };
    // For an EKS cluster (--cluster, or the context's), DescribeCluster tells which mapping the
    // cluster reads (--via auto).
    let side = via::side(&conn).await;
    let choice = match via::choose(
        args.via,
        side.ctx.as_ref().map(|c| &c.cluster),
        side.unreadable.as_ref(),
    ) {
        Ok(c) => c,
        Err(e) => return e.into(),
    };
    let mapper = match (choice.with, side.ctx.as_ref()) {
        (MapWith::AccessEntry, Some(ctx)) => Mapper::AccessEntry(ctx),
        _ => Mapper::AwsAuth,
    };
    // The choice's note says why when the EKS side could not be read; otherwise keep how the
    // cluster was found.
    let found = if side.unreadable.is_some() {
        None
    } else {
        side.notes.first().cloned()
    };
    let note = match (found, choice.note) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    match execute(&conn, &v, mapper, note).await {
        Ok(r) => r,
        Err(e) => e.into(),
    }
}

/// Where grant maps the role.
#[derive(Debug, Clone, Copy)]
pub enum Mapper<'a> {
    AwsAuth,
    /// An EKS access entry in this cluster (through these clients).
    AccessEntry(&'a EksContext),
}

/// A point between the writes of a grant, reported to the caller's observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantPhase {
    /// The ClusterRole and ClusterRoleBinding are written; the mapping (aws-auth or the
    /// access entry) is not.
    RbacApplied,
}

/// The write flow once the inputs are valid and the mapping is chosen; `via_note` says why
/// it was chosen. Public so tests can run it with an injected (mocked) EKS client.
pub async fn execute(
    conn: &Connection,
    v: &ValidGrant,
    mapper: Mapper<'_>,
    via_note: Option<String>,
) -> Result<crate::outcome::RunResult, UserError> {
    execute_observed(conn, v, mapper, via_note, &|_| {}).await
}

/// [`execute`], calling `observe` at each [`GrantPhase`]. The seam for fault-injection tests,
/// in-process only: they stop the API server while the observer blocks (which blocks the
/// flow's runtime thread too, as a slow server would). The binary calls `execute`.
pub async fn execute_observed(
    conn: &Connection,
    v: &ValidGrant,
    mapper: Mapper<'_>,
    via_note: Option<String>,
    observe: &(dyn Fn(GrantPhase) + Sync),
) -> Result<crate::outcome::RunResult, UserError> {
    let uses_aws_auth = matches!(mapper, Mapper::AwsAuth);
    if let Mapper::AccessEntry(_) = mapper {
        entries::check_username(&v.entry.username).map_err(|why| {
            UserError::usage(
                format!(
                    "--username {:?} cannot be used on an EKS access entry: {why}",
                    v.entry.username
                ),
                "pick another --username, or use --via aws-auth",
            )
        })?;
    }
    let caller = identity::whoami(conn).await?;
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    let rbac = "rbac.authorization.k8s.io";
    let mut reads = vec![
        identity::Right::new("get", rbac, "clusterroles").named(&v.role_name),
        identity::Right::new("get", rbac, "clusterrolebindings").named(&v.role_name),
    ];
    if uses_aws_auth {
        reads.insert(
            0,
            identity::Right::new("get", "", "configmaps")
                .in_namespace(writer::NAMESPACE)
                .named(writer::NAME),
        );
    }
    // An access entry needs no aws-auth rights: EKS holds the mapping.
    let needed = |aws_auth_exists: bool| {
        let mut rights = preflight::for_grant(aws_auth_exists, &v.role_name);
        if !uses_aws_auth {
            rights.retain(|r| r.resource != "configmaps");
        }
        rights
    };
    let mut denied = preflight::missing(conn, &reads).await?;
    if !denied.is_empty() {
        // Without reads we cannot plan; say everything that is missing at once.
        denied.extend(preflight::missing(conn, &needed(true)).await?);
        denied.dedup();
        return Err(preflight::denied_error(&denied, &caller, &conn.context));
    }
    let aws_auth = if uses_aws_auth {
        writer::read(conn).await?
    } else {
        None
    };
    let mut denied = preflight::missing(conn, &needed(aws_auth.is_some())).await?;
    denied.retain(|r| !reads.contains(r));
    if !denied.is_empty() && !v.dry_run {
        return Err(preflight::denied_error(&denied, &caller, &conn.context));
    }

    let live_role = conn.get_opt(&roles, &v.role_name, "clusterrole").await?;
    let live_binding = conn
        .get_opt(&bindings, &v.role_name, "clusterrolebinding")
        .await?;
    let discovered = if v.exclude_secrets {
        Some(discover(conn).await?)
    } else {
        None
    };
    let provenance = Provenance {
        granted_by: caller.username.clone(),
        granted_at: jiff::Timestamp::now().to_string(),
    };
    let plan = plan_rbac(
        v,
        discovered.as_ref(),
        &provenance,
        live_role.as_ref(),
        live_binding.as_ref(),
    )?;

    // The aws-auth edit (or the access entry) is decided now too, so a conflict refuses the
    // run before any write.
    let before_text = writer::map_roles(aws_auth.as_ref()).to_string();
    let (edit, prepared) = match mapper {
        Mapper::AwsAuth => (plan_aws_auth(&before_text, v)?, None),
        Mapper::AccessEntry(ctx) => {
            let p =
                entries::prepare_grant(ctx, &v.role, &v.entry.username, &v.group, v.force_update)
                    .await?;
            (
                AwsAuthEdit {
                    action: Action::Unchanged,
                    new_text: None,
                    diff: String::new(),
                },
                Some(p),
            )
        }
    };

    let mut report = WriteReport {
        command: "grant",
        dry_run: v.dry_run,
        context: conn.context.clone(),
        caller: caller.clone(),
        role_arn: role_arn_view(&v.role),
        cluster_role: ObjectResult {
            name: v.role_name.clone(),
            action: plan.role_action,
            note: None,
        },
        cluster_role_binding: ObjectResult {
            name: v.role_name.clone(),
            action: plan.binding_action,
            note: None,
        },
        aws_auth: AwsAuthResult {
            name: writer::NAME.into(),
            namespace: writer::NAMESPACE.into(),
            action: edit.action,
            entry: entry_view(&v.entry),
            removed: None,
            backup: None,
            note: prepared.as_ref().map(|p| {
                format!(
                    "not used: the role is mapped by an EKS access entry in cluster {}",
                    p.cluster
                )
            }),
        },
        access_entry: prepared.as_ref().map(PreparedGrant::result),
        diff: edit.diff.clone(),
        manifests: vec![],
        verification: vec![],
        notes: via_note.into_iter().collect(),
        ok: true,
    };
    match &prepared {
        None => report.notes.extend(path_notes(&v.role)),
        Some(p) => {
            if let Some(session) = &v.role.assumed_role_session {
                report.notes.push(format!(
                    "the assumed-role session {session:?} was turned into its IAM role {}",
                    p.desired.principal_arn
                ));
            }
            report.notes.extend(p.notes.iter().cloned());
        }
    }
    report.notes.extend(plan.notes.iter().cloned());
    if !plan.drift_diff.is_empty() {
        report.diff = format!("{}{}", plan.drift_diff, report.diff);
    }
    if plan.role_action != Action::Unchanged {
        report.manifests.push(ro::manifest_yaml(&plan.role));
    }
    if plan.binding_action != Action::Unchanged {
        report.manifests.push(ro::manifest_yaml(&plan.binding));
    }

    if v.dry_run {
        dry_run_on_server(conn, &plan, &denied, &mut report).await;
        return Ok(report.into());
    }

    let role_uid = apply(conn, &roles, &plan.role, plan.role_action, "clusterrole").await?;
    let binding_uid = match apply(
        conn,
        &bindings,
        &plan.binding,
        plan.binding_action,
        "clusterrolebinding",
    )
    .await
    {
        Ok(uid) => uid,
        Err(e) => {
            report.cluster_role_binding.action = Action::Failed;
            rollback(conn, v, &mut report, role_uid, None).await;
            report.aws_auth.action = Action::Failed;
            report.ok = false;
            return Ok(crate::outcome::RunResult {
                report: Some(report),
                error: Some(e),
            });
        }
    };
    observe(GrantPhase::RbacApplied);

    if let (Mapper::AccessEntry(ctx), Some(p)) = (mapper, &prepared) {
        return finish_with_access_entry(conn, v, ctx, p, report, role_uid, binding_uid, &plan)
            .await;
    }
    let written = writer::update(conn, |text, _| {
        let edit = plan_aws_auth(text, v)?;
        Ok(match edit.new_text.clone() {
            Some(new) => EditOutcome::Write(Some(new), edit),
            None => EditOutcome::NoChange(edit),
        })
    })
    .await;
    match written {
        Ok(done) => {
            report.aws_auth.action = done.result.action;
            report.diff = format!("{}{}", plan.drift_diff, done.result.diff);
            report.aws_auth.backup = done.backup.map(|p| p.display().to_string());
            if done.before.is_none() && done.wrote {
                report
                    .notes
                    .push("aws-auth did not exist; it was created".into());
            }
        }
        Err(e) => {
            rollback(conn, v, &mut report, role_uid, binding_uid).await;
            report.aws_auth.action = Action::Failed;
            report.ok = false;
            return Ok(crate::outcome::RunResult {
                report: Some(report),
                error: Some(e),
            });
        }
    }
    finish(conn, v, &plan, report).await
}

/// The access-entry write, in the place of the aws-auth one; rollback and verification as for aws-auth.
#[allow(clippy::too_many_arguments)]
async fn finish_with_access_entry(
    conn: &Connection,
    v: &ValidGrant,
    ctx: &EksContext,
    p: &PreparedGrant,
    mut report: WriteReport,
    role_uid: Option<String>,
    binding_uid: Option<String>,
    plan: &RbacPlan,
) -> Result<crate::outcome::RunResult, UserError> {
    match entries::apply_grant(&ctx.eks, p, v.force_update).await {
        Ok(action) => {
            if let Some(ae) = report.access_entry.as_mut() {
                ae.action = action;
            }
        }
        Err(e) => {
            rollback(conn, v, &mut report, role_uid, binding_uid).await;
            if let Some(ae) = report.access_entry.as_mut() {
                ae.action = Action::Failed;
            }
            report.ok = false;
            return Ok(crate::outcome::RunResult {
                report: Some(report),
                error: Some(e),
            });
        }
    }
    finish(conn, v, plan, report).await
}

/// After the mapping is written: make sure the RBAC objects are there, then verify.
async fn finish(
    conn: &Connection,
    v: &ValidGrant,
    plan: &RbacPlan,
    mut report: WriteReport,
) -> Result<crate::outcome::RunResult, UserError> {
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    ensure_rbac(
        conn,
        &roles,
        &plan.role,
        "clusterrole",
        &mut report.notes,
        ro::role_matches,
    )
    .await?;
    ensure_rbac(
        conn,
        &bindings,
        &plan.binding,
        "clusterrolebinding",
        &mut report.notes,
        ro::binding_matches,
    )
    .await?;

    let user = verify::sample_username(&v.entry.username, v.role.canonical.account());
    report.verification = verify::run(
        conn,
        &user,
        &v.group,
        &verify::after_grant(v.exclude_secrets),
    )
    .await?;
    report.ok = report.verification.iter().all(|c| c.ok());
    if !report.ok {
        let e = UserError::failed(
            "the API server's authorizer does not give the mapped identity exactly read-only access (see the verification table)",
            "look for other bindings to this group or to system:authenticated: `kubectl chronom audit lookup GROUP`",
        );
        return Ok(crate::outcome::RunResult {
            report: Some(report),
            error: Some(e),
        });
    }
    Ok(report.into())
}

fn path_notes(role: &RoleArnInput) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(path) = &role.stripped_path {
        notes.push(format!(
            "the role path {path} was stripped: aws-auth matches role ARNs without their path, so {} is what is mapped",
            role.canonical
        ));
    }
    if let Some(session) = &role.assumed_role_session {
        notes.push(format!(
            "the assumed-role session {session:?} was turned into its IAM role {}",
            role.canonical
        ));
    }
    notes
}

/// The pure aws-auth decision, as the report needs it.
#[derive(Debug, Clone)]
struct AwsAuthEdit {
    action: Action,
    new_text: Option<String>,
    diff: String,
}

fn plan_aws_auth(text: &str, v: &ValidGrant) -> Result<AwsAuthEdit, UserError> {
    match awsauth::upsert_role(text, &v.entry, v.force_update) {
        Ok(edit) => {
            let (action, new_text) = match edit.action {
                awsauth::EditAction::Unchanged => (Action::Unchanged, None),
                awsauth::EditAction::Added => (
                    if text.is_empty() {
                        Action::Created
                    } else {
                        Action::Updated
                    },
                    Some(edit.new_text),
                ),
                awsauth::EditAction::Updated { .. } => (Action::Updated, Some(edit.new_text)),
            };
            let diff = match &new_text {
                Some(n) => awsauth::unified_diff(text, n, "mapRoles (before)", "mapRoles (after)"),
                None => String::new(),
            };
            Ok(AwsAuthEdit {
                action,
                new_text,
                diff,
            })
        }
        Err(awsauth::EditError::Conflict { existing, .. }) => {
            let mut proposed = text.to_string();
            if let Ok(forced) = awsauth::upsert_role(text, &v.entry, true) {
                proposed = forced.new_text;
            }
            Err(UserError::failed(
                format!(
                    "aws-auth already maps {} with a different username or groups (line {}); nothing was changed.\n{}",
                    v.role.canonical,
                    existing.line,
                    awsauth::unified_diff(
                        text,
                        &proposed,
                        "mapRoles (live)",
                        "mapRoles (with --force-update)"
                    )
                ),
                "re-run with --force-update to replace that entry, or revoke it first",
            ))
        }
        Err(awsauth::EditError::Parse(p)) => Err(UserError::failed(
            format!(
                "aws-auth mapRoles is malformed at line {}, column {}: {}; nothing was changed",
                p.line, p.column, p.message
            ),
            "fix mapRoles by hand (`kubectl -n kube-system edit configmap aws-auth`); until then the authenticator may ignore every entry, node roles included",
        )),
        Err(other) => Err(UserError::failed(
            format!("cannot add the aws-auth entry: {other}; nothing was changed"),
            "fix aws-auth by hand, then re-run",
        )),
    }
}

/// Server-side apply with our field manager. Returns the object's uid when this run applied
/// an object it found absent, i.e. one it may have to roll back.
async fn apply<K>(
    conn: &Connection,
    api: &Api<K>,
    object: &K,
    action: Action,
    what: &str,
) -> Result<Option<String>, UserError>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if action == Action::Unchanged {
        return Ok(None);
    }
    let name = object.meta().name.clone().unwrap_or_default();
    let params = PatchParams::apply(ro::FIELD_MANAGER).force();
    match api.patch(&name, &params, &Patch::Apply(object)).await {
        Ok(applied) => Ok(if action == Action::Created {
            applied.meta().uid.clone()
        } else {
            None
        }),
        Err(e) => Err(conn.explain(e, &format!("applying {what} {name}")).await),
    }
}

/// After aws-auth is written: a concurrent revoke or rollback may have removed the RBAC
/// objects this grant relies on. Put them back rather than report a grant that is not there.
async fn ensure_rbac<K>(
    conn: &Connection,
    api: &Api<K>,
    desired: &K,
    what: &str,
    notes: &mut Vec<String>,
    matches: fn(&K, &K) -> bool,
) -> Result<(), UserError>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = desired.meta().name.clone().unwrap_or_default();
    let live = conn.get_opt(api, &name, what).await?;
    if live.as_ref().is_some_and(|l| matches(l, desired)) {
        return Ok(());
    }
    apply(conn, api, desired, Action::Updated, what).await?;
    notes.push(format!("{what} {name} was removed or changed by someone else while this grant ran; it was applied again"));
    Ok(())
}

/// Undo what this run created, but never what another grant now relies on: if a fresh read
/// of aws-auth shows an entry mapping the group, the objects stay. Deletes are preconditioned
/// on the uid this run applied, so an object recreated meanwhile is not touched.
async fn rollback(
    conn: &Connection,
    v: &ValidGrant,
    report: &mut WriteReport,
    role_uid: Option<String>,
    binding_uid: Option<String>,
) {
    if role_uid.is_none() && binding_uid.is_none() {
        return;
    }
    let in_use = match writer::read(conn).await {
        Ok(cm) => group_still_mapped(writer::map_roles(cm.as_ref()), &v.group),
        // Cannot tell: keep them, and say so below.
        Err(_) => None,
    };
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    if let Some(uid) = binding_uid {
        report.cluster_role_binding.action = undo(
            conn,
            &bindings,
            &v.role_name,
            "clusterrolebinding",
            uid,
            in_use,
        )
        .await;
    }
    if let Some(uid) = role_uid {
        report.cluster_role.action =
            undo(conn, &roles, &v.role_name, "clusterrole", uid, in_use).await;
    }
}

/// Whether a mapRoles entry maps `group`: Some(true/false), or None when the text does not parse.
fn group_still_mapped(text: &str, group: &str) -> Option<bool> {
    awsauth::parse_map_roles(text)
        .ok()
        .map(|entries| entries.iter().any(|e| e.groups.iter().any(|g| g == group)))
}

async fn undo<K>(
    conn: &Connection,
    api: &Api<K>,
    name: &str,
    what: &str,
    uid: String,
    in_use: Option<bool>,
) -> Action
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match in_use {
        Some(false) => {}
        Some(true) => {
            eprintln!(
                "note: {what} {name} was created by this run but is kept: another aws-auth entry now maps its group"
            );
            return Action::Kept;
        }
        None => {
            eprintln!(
                "warning: {what} {name} was created by this run and is left in place: aws-auth could not be read to check whether anything else uses it; delete it by hand if not"
            );
            return Action::Created;
        }
    }
    let params = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Action::RolledBack,
        Err(kube::Error::Api(s)) if s.code == 404 => Action::RolledBack,
        Err(kube::Error::Api(s)) if s.code == 409 => {
            eprintln!(
                "note: {what} {name} was replaced by someone else meanwhile; that object is kept"
            );
            Action::Kept
        }
        Err(e) => {
            let err = conn
                .explain(e, &format!("rolling back {what} {name}"))
                .await;
            tracing::debug!("{err}");
            eprintln!(
                "warning: {what} {name} was created by this run and could not be deleted again ({}); delete it by hand",
                err.what
            );
            Action::Created
        }
    }
}

/// Ask the server to validate the writes without persisting them, where the caller may.
async fn dry_run_on_server(
    conn: &Connection,
    plan: &RbacPlan,
    denied: &[identity::Right],
    report: &mut WriteReport,
) {
    if !denied.is_empty() {
        report.notes.push(format!(
            "server-side dry run skipped: you lack {} right(s) a real run needs ({})",
            denied.len(),
            denied
                .iter()
                .map(|r| r.describe())
                .collect::<Vec<_>>()
                .join("; ")
        ));
        return;
    }
    let params = PatchParams::apply(ro::FIELD_MANAGER).force().dry_run();
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    let mut problems = Vec::new();
    if plan.role_action != Action::Unchanged
        && let Err(e) = roles
            .patch(
                &plan.role.metadata.name.clone().unwrap_or_default(),
                &params,
                &Patch::Apply(&plan.role),
            )
            .await
    {
        problems.push(format!("clusterrole: {e}"));
    }
    if plan.binding_action != Action::Unchanged
        && let Err(e) = bindings
            .patch(
                &plan.binding.metadata.name.clone().unwrap_or_default(),
                &params,
                &Patch::Apply(&plan.binding),
            )
            .await
    {
        problems.push(format!("clusterrolebinding: {e}"));
    }
    if problems.is_empty() {
        report
            .notes
            .push("server-side dry run: the API server accepted the RBAC manifests".into());
    } else {
        report.ok = false;
        report.notes.push(format!(
            "server-side dry run rejected: {}",
            problems.join("; ")
        ));
    }
}
