//! `revoke`: remove every aws-auth entry of a role, then the RBAC objects when nothing else
//! maps to the group. aws-auth goes first, so the role loses its way in before anything
//! else changes; a failure after that leaves less access, never more.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams};

use crate::arn::{self, RoleArnInput};
use crate::aws_auth_writer::{self as writer, EditOutcome};
use crate::awsauth;
use crate::cli::{GlobalArgs, RevokeArgs};
use crate::connect::{self, Connection, identity};
use crate::eks::access_entries::{self as entries, PreparedRevoke};
use crate::eks::via::{self, EksContext};
use crate::error::UserError;
use crate::grant::role_arn_view;
use crate::outcome::{Action, AwsAuthResult, EntryView, ObjectResult, RunResult, WriteReport};
use crate::readonly_role as ro;
use crate::{preflight, verify};

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
}

fn plan_removal(
    text: &str,
    map_users: &str,
    key_ours: bool,
    role: &RoleArnInput,
    group: &str,
) -> Result<Removal, UserError> {
    let removal = awsauth::remove_role(text, &role.canonical).map_err(|p| {
        UserError::failed(
            format!(
                "aws-auth mapRoles is malformed at line {}, column {}: {}; nothing was changed",
                p.line, p.column, p.message
            ),
            "fix mapRoles by hand (`kubectl -n kube-system edit configmap aws-auth`), then re-run",
        )
    })?;
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
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    let ae: Option<PreparedRevoke> = match eks {
        Some(ctx) if mode.is_some_and(|m| m.reads_access_entries()) => {
            Some(entries::prepare_revoke(ctx, role, &args.group).await?)
        }
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
        role,
        &args.group,
    )?;
    planned.group_still_mapped |= entries_map_group;
    let live_role = conn.get_opt(&roles, &args.role_name, "clusterrole").await?;
    let live_binding = conn
        .get_opt(&bindings, &args.role_name, "clusterrolebinding")
        .await?;

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
    let entry_to_delete = ae.as_ref().and_then(|a| a.entry.as_ref());
    if planned.removed.len() > 1 {
        report.notes.push(format!(
            "{} mapRoles entries matched {} (duplicates); all were removed",
            planned.removed.len(),
            role.canonical
        ));
    }
    let delete_rbac = !args.keep_rbac && !planned.group_still_mapped;
    let role_plan = rbac_action(
        live_role.as_ref().map(|r| &r.metadata),
        delete_rbac,
        args,
        "clusterrole",
        &planned,
        &mut report.notes,
    );
    let binding_plan = rbac_action(
        live_binding.as_ref().map(|b| &b.metadata),
        delete_rbac,
        args,
        "clusterrolebinding",
        &planned,
        &mut report.notes,
    );
    report.cluster_role.action = role_plan;
    report.cluster_role_binding.action = binding_plan;

    let nothing = planned.removed.is_empty()
        && entry_to_delete.is_none()
        && role_plan != Action::Deleted
        && binding_plan != Action::Deleted;
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
            let mut again = plan_removal(
                text,
                &users,
                writer::key_created_by_us(cm),
                role,
                &args.group,
            )?;
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
                if done.result.group_still_mapped && delete_rbac {
                    // Someone mapped the group while we worked: keep its RBAC.
                    report.cluster_role.action = Action::Kept;
                    report.cluster_role_binding.action = Action::Kept;
                }
            }
            Err(e) => {
                report.aws_auth.action = Action::Failed;
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
                report.ok = false;
                return Ok(RunResult {
                    report: Some(report),
                    error: Some(e),
                });
            }
        }
    }

    let mut failures = Vec::new();
    if report.cluster_role_binding.action == Action::Deleted
        && let Err(e) = delete(conn, &bindings, &args.role_name, "clusterrolebinding").await
    {
        report.cluster_role_binding.action = Action::Failed;
        failures.push(e);
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
                "{done}, but these objects are left because deleting them failed: {}\n  {}",
                left.join(", "),
                failures
                    .iter()
                    .map(|f| f.what.clone())
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ),
            format!(
                "delete them with a context that may (kubectl delete {}), or re-run revoke",
                left.join(" ")
            ),
        );
        return Ok(RunResult {
            report: Some(report),
            error: Some(e),
        });
    }

    if report.cluster_role_binding.action == Action::Deleted {
        let user = report.aws_auth.entry.username.clone();
        let user = verify::sample_username(
            if user.is_empty() {
                "chronom-verify"
            } else {
                &user
            },
            role.canonical.account(),
        );
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

fn rbac_action(
    live: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    delete_rbac: bool,
    args: &RevokeArgs,
    kind: &str,
    planned: &Removal,
    notes: &mut Vec<String>,
) -> Action {
    let Some(meta) = live else {
        return Action::Absent;
    };
    if args.keep_rbac {
        notes.push(format!("{kind} {} kept (--keep-rbac)", args.role_name));
        Action::Kept
    } else if planned.group_still_mapped {
        notes.push(format!(
            "{kind} {} kept: other aws-auth entries or access entries still map group {}",
            args.role_name, args.group
        ));
        Action::Kept
    } else if !ro::is_managed(meta) {
        notes.push(format!(
            "{kind} {} kept: it is not managed by kubectl-chronom (no {}={} label)",
            args.role_name,
            ro::MANAGED_BY_LABEL,
            ro::MANAGED_BY_VALUE
        ));
        Action::Kept
    } else if delete_rbac {
        Action::Deleted
    } else {
        Action::Kept
    }
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
