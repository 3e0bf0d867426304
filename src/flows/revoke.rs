//! `revoke`: observe → plan → apply → verify. aws-auth (and the access entry) go first, so
//! the role loses its way in before anything else changes; a failure after that leaves less
//! access, never more.
//!
//! Ownership (docs/ownership.md) is decided in the pure [`RevokePlan`]
//! (`chronom_core::plan::revoke`): an entry is removed only when it is exactly what grant writes; the
//! ClusterRoleBinding may bind several grants' groups, so only this group's subject leaves it,
//! the binding goes when no subject is left, and the ClusterRole when no binding refers to it
//! any more. Objects without our managed-by label are never changed.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams};

use crate::adapters::aws::EksContext;
use crate::adapters::aws::access_entries::{self as entries, PreparedRevoke};
use crate::adapters::kube::aws_auth_writer::{self as writer, EditOutcome};
use crate::adapters::kube::binding_writer;
use crate::adapters::kube::{self as connect, Connection, identity};
use crate::cli::{GlobalArgs, RevokeArgs};
use crate::flows::audit;
use crate::flows::via;
use crate::flows::{preflight, verify, write_report};
use chronom_core::action::Action;
use chronom_core::arn::{self, RoleArnInput};
use chronom_core::awsauth;
use chronom_core::error::UserError;
use chronom_core::outcome::{RunResult, WriteReport};
use chronom_core::plan::aws_auth::AwsAuthSeen;
use chronom_core::plan::messages;
use chronom_core::plan::revoke::{AccessEntriesSeen, RevokeObservation, RevokePlan, RevokeRequest};
use chronom_core::rbac::ResourceRequest;

pub async fn run(global: &GlobalArgs, args: &RevokeArgs) -> RunResult {
    let role = match arn::parse_role_arn(&args.role_arn) {
        Ok(r) => r,
        Err(e) => {
            let (what, next) = messages::bad_role_arn(&args.role_arn, &e);
            return UserError::usage(what, next).into();
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
    let denied = preflight_revoke(conn, args, uses_aws_auth, &caller).await?;
    let request = revoke_request(args, role);
    let ae_ctx = eks.filter(|_| mode.is_some_and(|m| m.reads_access_entries()));
    let mut seen = observe(conn, &request, ae_ctx, uses_aws_auth).await?;
    let plan = plan_revoke(conn, &mut seen, &request).await?;
    let mut report = write_report::planned("revoke", conn, caller, args.dry_run, plan.report());
    report.access_entry = seen.prepared.as_ref().map(|a| a.result(role));
    if plan.nothing_to_do() {
        return Ok(report.into());
    }
    if args.dry_run {
        if !denied.is_empty() {
            let rights: Vec<String> = denied.iter().map(|r| r.describe()).collect();
            report.notes.push(format!(
                "a real run would be refused: you lack {}",
                rights.join("; ")
            ));
        }
        return Ok(report.into());
    }
    let mut run = RevokeRun {
        conn,
        eks,
        plan,
        report,
    };
    if let Err(e) = run.apply_mapping().await {
        return Ok(run.fail(e));
    }
    run.apply_rbac().await
}

/// The username grant wrote, and the rest of the request, as the plan reads it.
fn revoke_request(args: &RevokeArgs, role: &RoleArnInput) -> RevokeRequest {
    RevokeRequest {
        role: role.clone(),
        username: args
            .username
            .clone()
            .unwrap_or_else(|| awsauth::default_username(&role.canonical)),
        group: args.group.clone(),
        role_name: args.role_name.clone(),
        keep_rbac: args.keep_rbac,
        force: args.force_remove_foreign_entry,
    }
}

/// Preflight: the rights a real run needs. A dry run reports what is missing instead.
async fn preflight_revoke(
    conn: &Connection,
    args: &RevokeArgs,
    uses_aws_auth: bool,
    caller: &chronom_core::outcome::Caller,
) -> Result<Vec<ResourceRequest>, UserError> {
    let mut needed = preflight::for_revoke(!args.keep_rbac, &args.role_name);
    if !uses_aws_auth {
        needed.retain(|r| r.resource != "configmaps");
    }
    let denied = preflight::missing(conn, &needed).await?;
    if !denied.is_empty() && !args.dry_run {
        return Err(preflight::denied_error(&denied, caller, &conn.context));
    }
    Ok(denied)
}

/// Everything a revoke reads before it decides.
struct Seen {
    prepared: Option<PreparedRevoke>,
    entries: Option<AccessEntriesSeen>,
    aws_auth: Option<AwsAuthSeen>,
    live_role: Option<ClusterRole>,
    live_binding: Option<ClusterRoleBinding>,
    all_bindings: Option<Vec<ClusterRoleBinding>>,
}

/// Observe: the access entries (where the cluster reads them), aws-auth (where it reads
/// that), and our two objects.
async fn observe(
    conn: &Connection,
    r: &RevokeRequest,
    ae_ctx: Option<&EksContext>,
    uses_aws_auth: bool,
) -> Result<Seen, UserError> {
    let prepared = match ae_ctx {
        Some(ctx) => Some(entries::prepare_revoke(ctx, &r.role, &r.group, r.force).await?),
        None => None,
    };
    let aws_auth = if uses_aws_auth {
        Some(writer::seen(writer::read(conn).await?.as_ref()))
    } else {
        None
    };
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    Ok(Seen {
        entries: prepared.as_ref().map(|p| AccessEntriesSeen {
            cluster: p.cluster.clone(),
            entry: p.entry.as_ref().map(|e| e.principal_arn.clone()),
            group_still_mapped: p.group_still_mapped(),
            notes: p.notes.clone(),
        }),
        prepared,
        aws_auth,
        live_role: conn.get_opt(&roles, &r.role_name, "clusterrole").await?,
        live_binding: conn
            .get_opt(&bindings, &r.role_name, "clusterrolebinding")
            .await?,
        all_bindings: None,
    })
}

/// Plan; when the role could go, read every binding (others that refer to the role keep it)
/// and plan again.
async fn plan_revoke(
    conn: &Connection,
    seen: &mut Seen,
    r: &RevokeRequest,
) -> Result<RevokePlan, UserError> {
    loop {
        let observation = RevokeObservation {
            request: r,
            aws_auth: seen.aws_auth.as_ref(),
            access_entries: seen.entries.as_ref(),
            live_role: seen.live_role.as_ref(),
            live_binding: seen.live_binding.as_ref(),
            all_bindings: seen.all_bindings.as_deref(),
        };
        let plan = chronom_core::plan::revoke::plan_revoke(&observation)?;
        if !plan.wants_all_bindings() {
            return Ok(plan);
        }
        let api = Api::<ClusterRoleBinding>::all(conn.client.clone());
        let what = "clusterrolebindings (to see what still uses the role)";
        seen.all_bindings = Some(audit::list_every(conn, api, what, "(cluster-scoped)").await?);
    }
}

/// One revoke between its plan and its report.
struct RevokeRun<'a> {
    conn: &'a Connection,
    eks: Option<&'a EksContext>,
    plan: RevokePlan,
    report: WriteReport,
}

impl RevokeRun<'_> {
    /// The ways in go first: the access entry (EKS uses it before aws-auth), then aws-auth.
    async fn apply_mapping(&mut self) -> Result<(), UserError> {
        if let Err(e) = self.delete_access_entry().await {
            if let Some(a) = self.report.access_entry.as_mut() {
                a.action = Action::Failed;
            }
            self.report.aws_auth.action = Action::Unchanged;
            return Err(e);
        }
        if !self.plan.aws_auth.removed.is_empty()
            && let Err(e) = self.remove_aws_auth_entry().await
        {
            self.report.aws_auth.action = Action::Failed;
            return Err(e);
        }
        Ok(())
    }

    async fn delete_access_entry(&mut self) -> Result<(), UserError> {
        let (Some(ctx), Some(principal)) = (self.eks, self.plan.access_entry_to_delete()) else {
            return Ok(());
        };
        if !entries::delete(&ctx.eks, ctx.name(), principal).await? {
            self.report
                .notes
                .push("another writer deleted the access entry first".into());
            if let Some(a) = self.report.access_entry.as_mut() {
                a.action = Action::Absent;
            }
        }
        Ok(())
    }

    /// Write the planned removal. A 409 rebases the plan on the fresh aws-auth: the removal
    /// is decided again, and a group someone mapped meanwhile keeps its RBAC.
    async fn remove_aws_auth_entry(&mut self) -> Result<(), UserError> {
        let plan = &mut self.plan;
        let done = writer::update(self.conn, |_, cm| {
            plan.rebase(&writer::seen(cm))?;
            Ok(if plan.aws_auth.removed.is_empty() {
                EditOutcome::NoChange
            } else {
                EditOutcome::Write(plan.aws_auth.after.clone())
            })
        })
        .await?;
        let r = &mut self.report;
        r.aws_auth.backup = done.backup.map(|p| p.display().to_string());
        r.aws_auth.removed = Some(plan.aws_auth.removed.len());
        r.diff = plan.aws_auth.diff.clone();
        if !done.wrote {
            r.aws_auth.action = Action::Unchanged;
            r.notes
                .push("another writer removed the entry first".into());
        }
        r.cluster_role.action = plan.role;
        r.cluster_role_binding.action = plan.binding_action();
        r.cluster_role_binding.note = plan.binding_note.clone();
        Ok(())
    }

    /// A mapping write failed: the RBAC objects that were there stay there.
    fn fail(mut self, e: UserError) -> RunResult {
        self.plan.keep_rbac();
        let r = &mut self.report;
        r.cluster_role.action = self.plan.role;
        r.cluster_role_binding.action = self.plan.binding_action();
        r.cluster_role_binding.note = None;
        r.ok = false;
        RunResult {
            report: Some(self.report),
            error: Some(e),
        }
    }

    /// The binding, then the role, as planned; then verify.
    async fn apply_rbac(mut self) -> Result<RunResult, UserError> {
        let mut failures = Vec::new();
        let name = self.plan.request.role_name.clone();
        if writes_binding(self.report.cluster_role_binding.action) {
            // Each write is conditioned on what was read, so a grant that adds its subject meanwhile
            // is re-read, never lost.
            match binding_writer::release(self.conn, &name, &self.plan.request.group, |_| true)
                .await
            {
                Ok(done) => self.binding_released(done),
                Err(e) => {
                    self.report.cluster_role_binding.action = Action::Failed;
                    failures.push(e);
                }
            }
        }
        // A binding that kept subjects (another grant added one meanwhile) still needs the
        // role. One whose deletion failed does not: deleting the role then leaves less access.
        let binding_still_binds = matches!(
            self.report.cluster_role_binding.action,
            Action::Updated | Action::Kept
        );
        if self.report.cluster_role.action == Action::Deleted && binding_still_binds {
            self.report.cluster_role.action = Action::Kept;
            self.report.notes.push(format!(
                "clusterrole {name} kept: clusterrolebinding {name} still refers to it"
            ));
        }
        if self.report.cluster_role.action == Action::Deleted
            && let Err(e) = delete_role(self.conn, &name).await
        {
            self.report.cluster_role.action = Action::Failed;
            failures.push(e);
        }
        if !failures.is_empty() {
            return Ok(self.left_behind(&failures));
        }
        self.verify().await
    }

    fn binding_released(&mut self, done: Action) {
        // The group not bound (any more) keeps the binding as it is.
        let done = match done {
            Action::Unchanged => Action::Kept,
            other => other,
        };
        let r = &mut self.report;
        if done != r.cluster_role_binding.action {
            r.notes.push(format!(
                "clusterrolebinding {} changed while revoke ran; it was {}",
                self.plan.request.role_name,
                done.word()
            ));
        }
        r.cluster_role_binding.action = done;
    }

    /// Some RBAC writes failed after the mapping was removed.
    fn left_behind(mut self, failures: &[UserError]) -> RunResult {
        self.report.ok = false;
        let r = &self.report;
        let left: Vec<String> = [
            ("clusterrolebinding", &r.cluster_role_binding),
            ("clusterrole", &r.cluster_role),
        ]
        .iter()
        .filter(|(_, o)| o.action == Action::Failed)
        .map(|(k, o)| format!("{k}/{}", o.name))
        .collect();
        let done = match r.aws_auth.removed {
            Some(n) if n > 0 => "the aws-auth entry was removed",
            _ => "there was no aws-auth entry to remove",
        };
        let whys: Vec<String> = failures.iter().map(|f| f.what.clone()).collect();
        let e = UserError::failed(
            format!(
                "{done}, but these objects are left because changing them failed: {}\n  {}",
                left.join(", "),
                whys.join("\n  ")
            ),
            format!(
                "re-run revoke, or remove group {} from them with a context that may (kubectl edit {})",
                self.plan.request.group,
                left.join(" ")
            ),
        );
        RunResult {
            report: Some(self.report),
            error: Some(e),
        }
    }

    /// Verify: once the binding changed, the group can no longer list pods.
    async fn verify(mut self) -> Result<RunResult, UserError> {
        if !writes_binding(self.report.cluster_role_binding.action) {
            return Ok(self.report.into());
        }
        let r = &self.plan.request;
        let user = chronom_core::awsauth::template::sample_username(
            &r.username,
            r.role.canonical.account(),
        );
        self.report.verification =
            verify::run(self.conn, &user, &r.group, &verify::after_revoke()).await?;
        self.report.ok = self.report.verification.iter().all(|c| c.ok());
        if self.report.ok {
            return Ok(self.report.into());
        }
        let e = UserError::failed(
            format!(
                "group {} can still list pods after the revoke: another binding grants it",
                r.group
            ),
            format!("find it with `kubectl chronom audit lookup {}`", r.group),
        );
        Ok(RunResult {
            report: Some(self.report),
            error: Some(e),
        })
    }
}

/// The binding is deleted or loses a subject.
fn writes_binding(action: Action) -> bool {
    matches!(action, Action::Deleted | Action::Updated)
}

async fn delete_role(conn: &Connection, name: &str) -> Result<(), UserError> {
    let api: Api<ClusterRole> = Api::all(conn.client.clone());
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(conn
            .explain(e, &format!("deleting clusterrole {name}"))
            .await),
    }
}
