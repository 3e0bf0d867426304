//! `revoke`: remove the role's aws-auth entries (and its access entry), then its group from
//! the shared RBAC objects when nothing else maps to the group. aws-auth goes first, so the
//! role loses its way in before anything else changes; a failure after that leaves less
//! access, never more.
//!
//! Ownership (docs/ownership.md): an entry is removed only when it is exactly what grant
//! writes (`awsauth::ownership`, `access_entry::check_revoke`); the ClusterRoleBinding may
//! bind several grants' groups, so only this group's subject leaves it, the binding goes when
//! no subject is left, and the ClusterRole when no binding refers to it any more. Objects
//! without our managed-by label are never changed.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Subject};
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};

use crate::aws_auth_writer::{self as writer, EditOutcome};
use crate::cli::{GlobalArgs, RevokeArgs};
use crate::connect::{self, Connection, identity};
use crate::eks::access_entries::{self as entries, PreparedRevoke};
use crate::eks::via::{self, EksContext};
use crate::grant::role_arn_view;
use crate::{preflight, verify};
use chronom_core::arn::{self, RoleArnInput};
use chronom_core::awsauth::{self, ownership};
use chronom_core::error::UserError;
use chronom_core::outcome::{
    Action, AwsAuthResult, EntryView, ObjectResult, RunResult, WriteReport,
};
use chronom_core::readonly_role as ro;

pub async fn run(global: &GlobalArgs, args: &RevokeArgs) -> RunResult {
    let role = match arn::parse_role_arn(&args.role_arn) {
        Ok(r) => r,
        Err(e) => {
            return UserError::usage(
                format!("--role-arn {:?} is not an IAM role ARN: {e}", args.role_arn),
                "pass arn:aws:iam::<12-digit account>:role/<name> (or an sts assumed-role ARN)",
            )
            .into();
        }
    };
    let conn = match connect::connect(global).await {
        Ok(c) => c,
        Err(e) => return e.into(),
    };
    // For an EKS cluster (--cluster, or the context's), the role's access entry is removed too
    // (when the cluster has them).
    let side = via::side(&conn).await;
    side.tell();
    match execute(&conn, args, &role, side.ctx.as_ref()).await {
        Ok(r) => r,
        Err(e) => e.into(),
    }
}

/// What removing the entries leaves, decided purely from the mapRoles and mapUsers text.
struct Removal {
    new_text: Option<String>,
    removed: Vec<awsauth::MapRoleEntry>,
    diff: String,
    group_still_mapped: bool,
    /// Entries that were not what grant writes, removed because of the override.
    forced: Vec<String>,
}

/// What the run removes and may remove: the entry grant would have written, and the override.
struct Wanted<'a> {
    role: &'a RoleArnInput,
    username: &'a str,
    group: &'a str,
    force: bool,
}

fn plan_removal(
    text: &str,
    map_users: &str,
    key_ours: bool,
    want: &Wanted<'_>,
) -> Result<Removal, UserError> {
    let (role, group) = (want.role, want.group);
    let removal = awsauth::remove_role(text, &role.canonical).map_err(|p| {
        UserError::failed(
            format!(
                "aws-auth mapRoles is malformed at line {}, column {}: {}; nothing was changed",
                p.line, p.column, p.message
            ),
            "fix mapRoles by hand (`kubectl -n kube-system edit configmap aws-auth`), then re-run",
        )
    })?;
    // Before anything is written: every entry about the role must be what grant writes.
    let granted = ownership::GrantedEntry {
        role: &role.canonical,
        username: want.username,
        group,
    };
    ownership::check_removal(text, &removal.removed, &granted, want.force)?;
    let forced = removal
        .removed
        .iter()
        .filter_map(|e| match ownership::ownership(e, &granted) {
            ownership::Ownership::Foreign { differences } => Some(format!(
                "mapRoles line {} was not what grant writes ({}); removed because of {}",
                e.line,
                differences
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                ownership::OVERRIDE_FLAG
            )),
            _ => None,
        })
        .collect();
    let remaining_roles = awsauth::parse_map_roles(&removal.new_text)
        .map(|e| e.into_iter().any(|e| e.groups.iter().any(|g| g == group)));
    let users_map_group = awsauth::parse_map_users(map_users)
        .map(|e| e.into_iter().any(|e| e.groups.iter().any(|g| g == group)));
    // If either section cannot be read, assume the group is still in use: keeping RBAC is the safe side.
    let group_still_mapped = remaining_roles.unwrap_or(true) || users_map_group.unwrap_or(true);
    if removal.removed.is_empty() {
        return Ok(Removal {
            new_text: None,
            removed: vec![],
            diff: String::new(),
            group_still_mapped,
            forced,
        });
    }
    let diff = awsauth::unified_diff(
        text,
        &removal.new_text,
        "mapRoles (before)",
        "mapRoles (after)",
    );
    // Removing the key we created leaves aws-auth exactly as it was before the grant.
    let new_text = if removal.new_text.is_empty() && key_ours {
        None
    } else {
        Some(removal.new_text)
    };
    Ok(Removal {
        new_text,
        removed: removal.removed,
        diff,
        group_still_mapped,
        forced,
    })
}

/// The revoke flow once the role ARN is valid. `eks` is the cluster's EKS side (with
/// --cluster): its access entry for the role is deleted first, and aws-auth is left alone
/// when the cluster's authentication mode is API. Public so tests can inject a mocked client.
pub async fn execute(
    conn: &Connection,
    args: &RevokeArgs,
    role: &RoleArnInput,
    eks: Option<&EksContext>,
) -> Result<RunResult, UserError> {
    let caller = identity::whoami(conn).await?;
    let mode = eks.and_then(|c| c.auth_mode());
    let uses_aws_auth = mode.is_none_or(|m| m.reads_aws_auth());
    let mut needed = preflight::for_revoke(!args.keep_rbac, &args.role_name);
    if !uses_aws_auth {
        needed.retain(|r| r.resource != "configmaps");
    }
    let denied = preflight::missing(conn, &needed).await?;
    if !denied.is_empty() && !args.dry_run {
        return Err(preflight::denied_error(&denied, &caller, &conn.context));
    }
    let username = args
        .username
        .clone()
        .unwrap_or_else(|| awsauth::default_username(&role.canonical));
    let want = Wanted {
        role,
        username: &username,
        group: &args.group,
        force: args.force_remove_foreign_entry,
    };
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    let ae: Option<PreparedRevoke> = match eks {
        Some(ctx) if mode.is_some_and(|m| m.reads_access_entries()) => Some(
            entries::prepare_revoke(ctx, role, &args.group, args.force_remove_foreign_entry)
                .await?,
        ),
        _ => None,
    };
    let entries_map_group = ae.as_ref().is_some_and(PreparedRevoke::group_still_mapped);
    let aws_auth = if uses_aws_auth {
        writer::read(conn).await?
    } else {
        None
    };
    let text = writer::map_roles(aws_auth.as_ref()).to_string();
    let users = map_users(aws_auth.as_ref());
    let mut planned = plan_removal(
        &text,
        &users,
        writer::key_created_by_us(aws_auth.as_ref()),
        &want,
    )?;
    planned.group_still_mapped |= entries_map_group;
    let live_role = conn.get_opt(&roles, &args.role_name, "clusterrole").await?;
    let live_binding = conn
        .get_opt(&bindings, &args.role_name, "clusterrolebinding")
        .await?;
    // Other bindings that refer to the role keep it; only read when the role could go.
    let all_bindings = if live_role.is_some() && !args.keep_rbac && !planned.group_still_mapped {
        list_bindings(conn, &bindings).await?
    } else {
        vec![]
    };

    let entry = planned.removed.last().map(|e| EntryView {
        rolearn: e.rolearn.clone(),
        username: e.username.clone().unwrap_or_default(),
        groups: e.groups.clone(),
    });
    let mut report = WriteReport {
        command: "revoke",
        dry_run: args.dry_run,
        context: conn.context.clone(),
        caller,
        role_arn: role_arn_view(role),
        cluster_role: ObjectResult {
            name: args.role_name.clone(),
            action: Action::Absent,
            note: None,
            profile: None,
        },
        cluster_role_binding: ObjectResult {
            name: args.role_name.clone(),
            action: Action::Absent,
            note: None,
            profile: None,
        },
        aws_auth: AwsAuthResult {
            name: writer::NAME.into(),
            namespace: writer::NAMESPACE.into(),
            action: if planned.removed.is_empty() {
                Action::Unchanged
            } else {
                Action::Updated
            },
            entry: entry.unwrap_or(EntryView {
                rolearn: role.canonical.to_string(),
                username: String::new(),
                groups: vec![],
            }),
            removed: Some(planned.removed.len()),
            backup: None,
            note: (!uses_aws_auth).then(|| {
                "not read: the cluster's authenticationMode is API, so EKS ignores aws-auth"
                    .to_string()
            }),
        },
        access_entry: ae.as_ref().map(|a| a.result(role)),
        diff: planned.diff.clone(),
        manifests: vec![],
        verification: vec![],
        notes: ae.as_ref().map(|a| a.notes.clone()).unwrap_or_default(),
        ok: true,
    };
    report.notes.extend(planned.forced.iter().cloned());
    let entry_to_delete = ae.as_ref().and_then(|a| a.entry.as_ref());
    if planned.removed.len() > 1 {
        report.notes.push(format!(
            "{} mapRoles entries matched {} (duplicates); all were removed",
            planned.removed.len(),
            role.canonical
        ));
    }
    let rbac = plan_rbac(&RbacInput {
        role_name: &args.role_name,
        group: &args.group,
        keep_rbac: args.keep_rbac,
        group_still_mapped: planned.group_still_mapped,
        live_role: live_role.as_ref(),
        live_binding: live_binding.as_ref(),
        all_bindings: &all_bindings,
    });
    report.notes.extend(rbac.notes.iter().cloned());
    report.cluster_role.action = rbac.role;
    report.cluster_role_binding.action = rbac.binding.action();
    report.cluster_role_binding.note = rbac.binding_note.clone();

    let nothing = planned.removed.is_empty()
        && entry_to_delete.is_none()
        && rbac.role != Action::Deleted
        && !rbac.binding.writes();
    if nothing {
        let where_ = match (&ae, uses_aws_auth) {
            (Some(a), true) => format!(
                "neither aws-auth nor cluster {} has an access entry",
                a.cluster
            ),
            (Some(a), false) => format!("cluster {} has no access entry", a.cluster),
            (None, _) => "aws-auth has no entry".to_string(),
        };
        report.notes.push(format!(
            "nothing to revoke: {where_} for {}",
            role.canonical
        ));
        return Ok(report.into());
    }
    if args.dry_run {
        if !denied.is_empty() {
            report.notes.push(format!(
                "a real run would be refused: you lack {}",
                denied
                    .iter()
                    .map(|r| r.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        return Ok(report.into());
    }

    // The access entry goes first: it is the way in EKS uses before aws-auth.
    if let (Some(ctx), Some(entry)) = (eks, entry_to_delete) {
        match entries::delete(&ctx.eks, ctx.name(), &entry.principal_arn).await {
            Ok(true) => {}
            Ok(false) => {
                report
                    .notes
                    .push("another writer deleted the access entry first".into());
                if let Some(a) = report.access_entry.as_mut() {
                    a.action = Action::Absent;
                }
            }
            Err(e) => {
                if let Some(a) = report.access_entry.as_mut() {
                    a.action = Action::Failed;
                }
                report.aws_auth.action = Action::Unchanged;
                keep_rbac_on_failure(&mut report, &live_role, &live_binding);
                report.ok = false;
                return Ok(RunResult {
                    report: Some(report),
                    error: Some(e),
                });
            }
        }
    }

    if !planned.removed.is_empty() {
        let written = writer::update(conn, |text, cm| {
            let users = map_users(cm);
            let mut again = plan_removal(text, &users, writer::key_created_by_us(cm), &want)?;
            again.group_still_mapped |= entries_map_group;
            Ok(if again.removed.is_empty() {
                EditOutcome::NoChange(again)
            } else {
                EditOutcome::Write(again.new_text.clone(), again)
            })
        })
        .await;
        match written {
            Ok(done) => {
                report.aws_auth.backup = done.backup.map(|p| p.display().to_string());
                report.aws_auth.removed = Some(done.result.removed.len());
                report.diff = done.result.diff.clone();
                if !done.wrote {
                    report.aws_auth.action = Action::Unchanged;
                    report
                        .notes
                        .push("another writer removed the entry first".into());
                }
                if done.result.group_still_mapped && !planned.group_still_mapped {
                    // Someone mapped the group while we worked: keep its RBAC.
                    for o in [&mut report.cluster_role, &mut report.cluster_role_binding] {
                        if o.action != Action::Absent {
                            o.action = Action::Kept;
                        }
                    }
                    report.cluster_role_binding.note = None;
                }
            }
            Err(e) => {
                report.aws_auth.action = Action::Failed;
                keep_rbac_on_failure(&mut report, &live_role, &live_binding);
                report.ok = false;
                return Ok(RunResult {
                    report: Some(report),
                    error: Some(e),
                });
            }
        }
    }

    let mut failures = Vec::new();
    if matches!(
        report.cluster_role_binding.action,
        Action::Deleted | Action::Updated
    ) {
        match release_binding(conn, &bindings, &args.role_name, &args.group).await {
            Ok(done) => {
                if done != report.cluster_role_binding.action {
                    report.notes.push(format!(
                        "clusterrolebinding {} changed while revoke ran; it was {}",
                        args.role_name,
                        done.word()
                    ));
                }
                report.cluster_role_binding.action = done;
            }
            Err(e) => {
                report.cluster_role_binding.action = Action::Failed;
                failures.push(e);
            }
        }
    }
    // A binding that kept subjects (another grant added one meanwhile) still needs the role.
    // One whose deletion failed does not: deleting the role then leaves less access, not more.
    let binding_still_binds = matches!(
        report.cluster_role_binding.action,
        Action::Updated | Action::Kept
    );
    if report.cluster_role.action == Action::Deleted && binding_still_binds {
        report.cluster_role.action = Action::Kept;
        report.notes.push(format!(
            "clusterrole {} kept: clusterrolebinding {} still refers to it",
            args.role_name, args.role_name
        ));
    }
    if report.cluster_role.action == Action::Deleted
        && let Err(e) = delete(conn, &roles, &args.role_name, "clusterrole").await
    {
        report.cluster_role.action = Action::Failed;
        failures.push(e);
    }
    if !failures.is_empty() {
        report.ok = false;
        let left: Vec<String> = [
            ("clusterrolebinding", &report.cluster_role_binding),
            ("clusterrole", &report.cluster_role),
        ]
        .iter()
        .filter(|(_, o)| o.action == Action::Failed)
        .map(|(k, o)| format!("{k}/{}", o.name))
        .collect();
        let done = match report.aws_auth.removed {
            Some(n) if n > 0 => "the aws-auth entry was removed",
            _ => "there was no aws-auth entry to remove",
        };
        let e = UserError::failed(
            format!(
                "{done}, but these objects are left because changing them failed: {}\n  {}",
                left.join(", "),
                failures
                    .iter()
                    .map(|f| f.what.clone())
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ),
            format!(
                "re-run revoke, or remove group {} from them with a context that may (kubectl edit {})",
                args.group,
                left.join(" ")
            ),
        );
        return Ok(RunResult {
            report: Some(report),
            error: Some(e),
        });
    }

    if matches!(
        report.cluster_role_binding.action,
        Action::Deleted | Action::Updated
    ) {
        let user =
            chronom_core::awsauth::template::sample_username(&username, role.canonical.account());
        report.verification =
            verify::run(conn, &user, &args.group, &verify::after_revoke()).await?;
        report.ok = report.verification.iter().all(|c| c.ok());
        if !report.ok {
            let e = UserError::failed(
                format!(
                    "group {} can still list pods after the revoke: another binding grants it",
                    args.group
                ),
                format!("find it with `kubectl chronom audit lookup {}`", args.group),
            );
            return Ok(RunResult {
                report: Some(report),
                error: Some(e),
            });
        }
    }
    Ok(report.into())
}

/// After a failed write, the RBAC objects that were there stay there.
fn keep_rbac_on_failure(
    report: &mut WriteReport,
    live_role: &Option<ClusterRole>,
    live_binding: &Option<ClusterRoleBinding>,
) {
    report.cluster_role.action = if live_role.is_some() {
        Action::Kept
    } else {
        Action::Absent
    };
    report.cluster_role_binding.action = if live_binding.is_some() {
        Action::Kept
    } else {
        Action::Absent
    };
    report.cluster_role_binding.note = None;
}

/// What revoke does to the managed ClusterRoleBinding.
#[derive(Debug, Clone, PartialEq)]
enum BindingStep {
    Absent,
    Kept,
    /// No subject would be left.
    Delete,
    /// Other grants' groups stay bound: only this group's subject leaves.
    RemoveSubject {
        remaining: Vec<Subject>,
    },
}

impl BindingStep {
    fn action(&self) -> Action {
        match self {
            BindingStep::Absent => Action::Absent,
            BindingStep::Kept => Action::Kept,
            BindingStep::Delete => Action::Deleted,
            BindingStep::RemoveSubject { .. } => Action::Updated,
        }
    }

    fn writes(&self) -> bool {
        matches!(
            self,
            BindingStep::Delete | BindingStep::RemoveSubject { .. }
        )
    }
}

fn is_group(subject: &Subject, group: &str) -> bool {
    subject.kind == "Group" && subject.name == group
}

fn describe_subjects(subjects: &[Subject]) -> String {
    subjects
        .iter()
        .map(|s| format!("{} {}", s.kind, s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What leaving `group` does to a managed binding: delete it when no subject is left, else
/// take out only the group's subject (whatever else it binds stays bound).
fn binding_step(binding: &ClusterRoleBinding, group: &str) -> BindingStep {
    let subjects = binding.subjects.as_deref().unwrap_or_default();
    let remaining: Vec<Subject> = subjects
        .iter()
        .filter(|s| !is_group(s, group))
        .cloned()
        .collect();
    if remaining.is_empty() {
        BindingStep::Delete
    } else if remaining.len() == subjects.len() {
        BindingStep::Kept
    } else {
        BindingStep::RemoveSubject { remaining }
    }
}

/// What was observed, for [`plan_rbac`].
struct RbacInput<'a> {
    role_name: &'a str,
    group: &'a str,
    keep_rbac: bool,
    /// Another aws-auth entry (any section) or access entry still maps the group.
    group_still_mapped: bool,
    live_role: Option<&'a ClusterRole>,
    live_binding: Option<&'a ClusterRoleBinding>,
    /// Every ClusterRoleBinding (read only when the role could be deleted).
    all_bindings: &'a [ClusterRoleBinding],
}

/// What revoke does to the RBAC objects. Pure.
#[derive(Debug)]
struct RbacRevoke {
    binding: BindingStep,
    binding_note: Option<String>,
    role: Action,
    notes: Vec<String>,
}

fn plan_rbac(i: &RbacInput<'_>) -> RbacRevoke {
    let mut notes = Vec::new();
    let not_managed = |kind: &str| {
        format!(
            "{kind} {} kept: it is not managed by kubectl-chronom (no {}={} label)",
            i.role_name,
            ro::MANAGED_BY_LABEL,
            ro::MANAGED_BY_VALUE
        )
    };
    let kept_because = if i.keep_rbac {
        Some("(--keep-rbac)".to_string())
    } else if i.group_still_mapped {
        Some(format!(
            ": other aws-auth entries or access entries still map group {}",
            i.group
        ))
    } else {
        None
    };
    if let Some(why) = kept_because {
        let sep = |w: &str| if w.starts_with(':') { "" } else { " " };
        let mut kept = |kind: &str, there: bool| {
            if there {
                notes.push(format!("{kind} {} kept{}{why}", i.role_name, sep(&why)));
                Action::Kept
            } else {
                Action::Absent
            }
        };
        let role = kept("clusterrole", i.live_role.is_some());
        let binding = kept("clusterrolebinding", i.live_binding.is_some());
        return RbacRevoke {
            binding: if binding == Action::Kept {
                BindingStep::Kept
            } else {
                BindingStep::Absent
            },
            binding_note: None,
            role,
            notes,
        };
    }
    let mut binding_note = None;
    let binding = match i.live_binding {
        None => BindingStep::Absent,
        Some(b) if !ro::is_managed(&b.metadata) => {
            notes.push(not_managed("clusterrolebinding"));
            BindingStep::Kept
        }
        Some(b) => {
            let step = binding_step(b, i.group);
            match &step {
                BindingStep::Kept => notes.push(format!(
                    "clusterrolebinding {} kept: it does not bind group {} (it binds {})",
                    i.role_name,
                    i.group,
                    describe_subjects(b.subjects.as_deref().unwrap_or_default())
                )),
                BindingStep::RemoveSubject { remaining } => {
                    binding_note = Some(format!(
                        "group {} removed; still binds {}",
                        i.group,
                        describe_subjects(remaining)
                    ));
                }
                _ => {}
            }
            step
        }
    };
    let role = match i.live_role {
        None => Action::Absent,
        Some(r) if !ro::is_managed(&r.metadata) => {
            notes.push(not_managed("clusterrole"));
            Action::Kept
        }
        Some(_) => {
            let ours_stays = !matches!(binding, BindingStep::Absent | BindingStep::Delete)
                && i.live_binding
                    .is_some_and(|b| refers_to_role(b, i.role_name));
            let others: Vec<&str> = i
                .all_bindings
                .iter()
                .filter(|b| b.metadata.name.as_deref() != Some(i.role_name))
                .filter(|b| refers_to_role(b, i.role_name))
                .filter_map(|b| b.metadata.name.as_deref())
                .collect();
            if ours_stays {
                notes.push(format!(
                    "clusterrole {} kept: clusterrolebinding {} still binds it",
                    i.role_name, i.role_name
                ));
                Action::Kept
            } else if !others.is_empty() {
                notes.push(format!(
                    "clusterrole {} kept: clusterrolebinding(s) {} still refer to it",
                    i.role_name,
                    others.join(", ")
                ));
                Action::Kept
            } else {
                Action::Deleted
            }
        }
    };
    RbacRevoke {
        binding,
        binding_note,
        role,
        notes,
    }
}

fn refers_to_role(binding: &ClusterRoleBinding, role_name: &str) -> bool {
    binding.role_ref.kind == "ClusterRole" && binding.role_ref.name == role_name
}

async fn list_bindings(
    conn: &Connection,
    api: &Api<ClusterRoleBinding>,
) -> Result<Vec<ClusterRoleBinding>, UserError> {
    match api.list(&ListParams::default()).await {
        Ok(l) => Ok(l.items),
        Err(e) => Err(conn
            .explain(
                e,
                "listing clusterrolebindings (to see what still uses the role)",
            )
            .await),
    }
}

/// Take `group` out of the managed binding: delete it when no subject is left, else write it
/// back without the group. Each write is preconditioned on the resourceVersion read, so a
/// grant that adds its subject meanwhile is re-read, never lost.
async fn release_binding(
    conn: &Connection,
    api: &Api<ClusterRoleBinding>,
    name: &str,
    group: &str,
) -> Result<Action, UserError> {
    const ATTEMPTS: usize = 10;
    for _ in 0..ATTEMPTS {
        let Some(mut live) = conn.get_opt(api, name, "clusterrolebinding").await? else {
            return Ok(Action::Absent);
        };
        if !ro::is_managed(&live.metadata) {
            return Ok(Action::Kept);
        }
        let version = live.metadata.resource_version.clone();
        let outcome = match binding_step(&live, group) {
            BindingStep::Absent | BindingStep::Kept => return Ok(Action::Kept),
            BindingStep::Delete => {
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: None,
                        resource_version: version,
                    }),
                    ..Default::default()
                };
                api.delete(name, &params).await.map(|_| Action::Deleted)
            }
            BindingStep::RemoveSubject { remaining } => {
                live.subjects = Some(remaining);
                let params = PostParams {
                    field_manager: Some(ro::FIELD_MANAGER.into()),
                    ..Default::default()
                };
                api.replace(name, &params, &live)
                    .await
                    .map(|_| Action::Updated)
            }
        };
        match outcome {
            Ok(action) => return Ok(action),
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Action::Absent),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => {
                return Err(conn
                    .explain(
                        e,
                        &format!("removing group {group} from clusterrolebinding {name}"),
                    )
                    .await);
            }
        }
    }
    Err(UserError::failed(
        format!(
            "clusterrolebinding {name} kept changing while revoke removed group {group} from it"
        ),
        "re-run revoke once the other writer is done",
    ))
}

fn map_users(cm: Option<&k8s_openapi::api::core::v1::ConfigMap>) -> String {
    cm.and_then(|c| c.data.as_ref())
        .and_then(|d| d.get("mapUsers"))
        .cloned()
        .unwrap_or_default()
}

async fn delete<K>(conn: &Connection, api: &Api<K>, name: &str, what: &str) -> Result<(), UserError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(conn.explain(e, &format!("deleting {what} {name}")).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::RoleRef;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    const NAME: &str = "chronomReadOnlyRole";

    fn group(name: &str) -> Subject {
        Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: name.into(),
            namespace: None,
        }
    }

    fn meta(name: &str, managed: bool) -> ObjectMeta {
        let mut m = ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        };
        if managed {
            m.labels = Some(
                [(
                    ro::MANAGED_BY_LABEL.to_string(),
                    ro::MANAGED_BY_VALUE.to_string(),
                )]
                .into(),
            );
        }
        m
    }

    fn binding(name: &str, role: &str, subjects: &[Subject], managed: bool) -> ClusterRoleBinding {
        ClusterRoleBinding {
            metadata: meta(name, managed),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: role.into(),
            },
            subjects: Some(subjects.to_vec()),
        }
    }

    fn role(managed: bool) -> ClusterRole {
        ClusterRole {
            metadata: meta(NAME, managed),
            ..Default::default()
        }
    }

    fn plan(
        group_still_mapped: bool,
        live_role: Option<&ClusterRole>,
        live_binding: Option<&ClusterRoleBinding>,
        all: &[ClusterRoleBinding],
    ) -> RbacRevoke {
        plan_rbac(&RbacInput {
            role_name: NAME,
            group: "a",
            keep_rbac: false,
            group_still_mapped,
            live_role,
            live_binding,
            all_bindings: all,
        })
    }

    #[test]
    fn the_last_subject_takes_the_binding_and_then_the_role() {
        let b = binding(NAME, NAME, &[group("a")], true);
        let r = role(true);
        let p = plan(false, Some(&r), Some(&b), std::slice::from_ref(&b));
        assert_eq!(p.binding, BindingStep::Delete);
        assert_eq!(p.role, Action::Deleted);
        // Our own binding is not "another binding" of the role.
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn a_shared_binding_loses_only_this_group_and_the_role_stays() {
        let b = binding(NAME, NAME, &[group("a"), group("b")], true);
        let r = role(true);
        let p = plan(false, Some(&r), Some(&b), std::slice::from_ref(&b));
        assert_eq!(
            p.binding,
            BindingStep::RemoveSubject {
                remaining: vec![group("b")]
            }
        );
        assert_eq!(p.binding.action(), Action::Updated);
        assert_eq!(p.role, Action::Kept);
        assert_eq!(
            p.binding_note.as_deref(),
            Some("group a removed; still binds Group b")
        );
        // A User subject with the group's name is not the group.
        let user = Subject {
            kind: "User".into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..group("a")
        };
        assert_eq!(
            binding_step(&binding(NAME, NAME, &[group("a"), user.clone()], true), "a"),
            BindingStep::RemoveSubject {
                remaining: vec![user]
            }
        );
    }

    #[test]
    fn a_binding_without_the_group_is_left_alone() {
        let b = binding(NAME, NAME, &[group("b")], true);
        let r = role(true);
        let p = plan(false, Some(&r), Some(&b), std::slice::from_ref(&b));
        assert_eq!(p.binding, BindingStep::Kept);
        assert_eq!(p.role, Action::Kept);
        assert!(
            p.notes[0].contains("does not bind group a (it binds Group b)"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn the_group_still_mapped_keeps_everything() {
        let b = binding(NAME, NAME, &[group("a")], true);
        let r = role(true);
        let p = plan(true, Some(&r), Some(&b), &[]);
        assert_eq!((p.binding, p.role), (BindingStep::Kept, Action::Kept));
        assert_eq!(
            p.notes[0],
            format!(
                "clusterrole {NAME} kept: other aws-auth entries or access entries still map group a"
            )
        );
        let p = plan_rbac(&RbacInput {
            role_name: NAME,
            group: "a",
            keep_rbac: true,
            group_still_mapped: false,
            live_role: Some(&r),
            live_binding: None,
            all_bindings: &[],
        });
        assert_eq!((p.binding, p.role), (BindingStep::Absent, Action::Kept));
        assert_eq!(p.notes, [format!("clusterrole {NAME} kept (--keep-rbac)")]);
    }

    #[test]
    fn objects_without_our_label_are_never_changed() {
        let b = binding(NAME, NAME, &[group("a")], false);
        let r = role(false);
        let p = plan(false, Some(&r), Some(&b), std::slice::from_ref(&b));
        assert_eq!((p.binding, p.role), (BindingStep::Kept, Action::Kept));
        assert_eq!(p.notes.len(), 2);
        assert!(
            p.notes
                .iter()
                .all(|n| n.contains("not managed by kubectl-chronom"))
        );
        // Our binding gone, an unlabelled role of that name: kept.
        let p = plan(false, Some(&r), None, &[]);
        assert_eq!(p.role, Action::Kept);
    }

    #[test]
    fn another_binding_of_the_role_keeps_it() {
        let ours = binding(NAME, NAME, &[group("a")], true);
        for managed in [true, false] {
            let other = binding("team-view", NAME, &[group("x")], managed);
            let r = role(true);
            let all = [ours.clone(), other];
            let p = plan(false, Some(&r), Some(&ours), &all);
            assert_eq!(p.binding, BindingStep::Delete);
            assert_eq!(p.role, Action::Kept);
            assert!(
                p.notes
                    .iter()
                    .any(|n| n.contains("team-view still refer to it")),
                "{:?}",
                p.notes
            );
        }
        // A binding of another role, or a Role of the same name, does not count.
        let mut unrelated = binding("x", "other", &[group("x")], true);
        let r = role(true);
        let p = plan(
            false,
            Some(&r),
            Some(&ours),
            &[ours.clone(), unrelated.clone()],
        );
        assert_eq!(p.role, Action::Deleted);
        unrelated.role_ref = RoleRef {
            kind: "Role".into(),
            name: NAME.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
        };
        let p = plan(false, Some(&r), Some(&ours), &[ours.clone(), unrelated]);
        assert_eq!(p.role, Action::Deleted);
    }

    #[test]
    fn nothing_live_is_nothing_to_do() {
        let p = plan(false, None, None, &[]);
        assert_eq!((p.binding, p.role), (BindingStep::Absent, Action::Absent));
        assert!(!BindingStep::Absent.writes() && !BindingStep::Kept.writes());
    }
}
