//! `grant`: validate → observe → plan → preflight → apply → verify.
//!
//! Everything is decided before a write, in one pure [`GrantPlan`] (`chronom_core::plan::grant`),
//! including an aws-auth conflict, so a refused run changes nothing. The same plan is the
//! dry run, the report and, when a later step fails, the rollback: what this run wrote is
//! undone from the plan's rollback steps, and each step is listed in the report.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};

use crate::adapters::aws::EksContext;
use crate::adapters::aws::access_entries::{self as entries, PreparedGrant};
use crate::adapters::kube::aws_auth_writer::{self as writer, EditOutcome};
use crate::adapters::kube::binding_writer::{self, Next};
use crate::adapters::kube::{self as connect, Connection, identity};
use crate::cli::{GlobalArgs, GrantArgs};
use crate::flows::audit;
use crate::flows::via::{self, MapWith};
use crate::flows::{preflight, verify, write_report};
use chronom_core::action::Action;
use chronom_core::arn;
use chronom_core::awsauth;
use chronom_core::eks::access_entry::{self, UsernameTarget};
use chronom_core::error::UserError;
use chronom_core::outcome::{RollbackEntry, RollbackOutcome, RunResult, WriteReport};
use chronom_core::plan::aws_auth::AwsAuthSeen;
use chronom_core::plan::binding::{self, Join};
use chronom_core::plan::grant::{
    AccessEntrySeen, GrantObservation, GrantPlan, MappingSeen, PreviousEntry, ValidGrant,
};
use chronom_core::plan::managed_by;
use chronom_core::plan::mapped;
use chronom_core::plan::messages;
use chronom_core::plan::rollback::{self, KeepReason, RollbackStep, Written};
use chronom_core::rbac::{RbacObjects, ResourceRequest};
use chronom_core::readonly_role::{self as ro, DiscoveredResources, Provenance, RoleProfile};

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
        let (what, next) = messages::bad_role_arn(&args.role_arn, &e);
        UserError::usage(what, next)
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
    // The rules both mappings share; the access-entry path adds EKS's own in `execute`.
    access_entry::check_username(&username, UsernameTarget::AwsAuth).map_err(|why| {
        UserError::usage(
            format!("--username {username:?} cannot be used: {why}"),
            "pick a username with a fixed part of your own, for example chronom-scanner or chronom:{{SessionName}}",
        )
    })?;
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
        profile: args.profile(),
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

pub async fn run(global: &GlobalArgs, args: &GrantArgs) -> chronom_core::outcome::RunResult {
    let v = match validate(args) {
        Ok(v) => v,
        Err(e) => return e.into(),
    };
    // Before any AWS call (connecting with --cluster already makes some).
    if args.via == crate::cli::MappingVia::AccessEntry
        && let Err(r) = chronom_core::plan::grant::access_entry_group_refusal(&v.group)
    {
        return UserError::from(r).into();
    }
    if v.profile == RoleProfile::Wildcard {
        eprintln!("warning: {}", ro::WILDCARD_WARNING);
    }
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
    let by_access_entry = matches!(mapper, Mapper::AccessEntry(_));
    let note = match role_in_iam(&conn, &v, args.role_created_later, by_access_entry).await {
        Ok(None) => note,
        Ok(Some(seen)) => Some(match note {
            Some(n) => format!("{n}; {seen}"),
            None => seen,
        }),
        Err(e) => return e.into(),
    };
    match execute(&conn, &v, mapper, note).await {
        Ok(r) => r,
        Err(e) => e.into(),
    }
}

/// On an EKS connection, ask IAM for the role before mapping it (docs/principals.md): a role
/// that does not exist is refused unless `created_later`; what was found is a note. Other
/// contexts have no AWS identity of their own to ask with: no lookup, as before.
pub async fn role_in_iam(
    conn: &Connection,
    v: &ValidGrant,
    created_later: bool,
    by_access_entry: bool,
) -> Result<Option<String>, UserError> {
    let Some(link) = conn.eks.as_ref() else {
        return Ok(None);
    };
    let principal = chronom_core::audit::principals::PrincipalRef::role(&v.role.canonical);
    let key = principal.key.clone();
    let mut answers = crate::adapters::aws::iam_principals::check(&link.sdk, vec![principal]).await;
    let answer =
        answers
            .remove(&key)
            .unwrap_or(chronom_core::audit::principals::IamAnswer::NotChecked {
                why: chronom_core::audit::principals::NotChecked::Failed,
                detail: "IAM gave no answer".into(),
            });
    chronom_core::plan::role_in_iam::check(
        &v.role.canonical.to_string(),
        &answer,
        created_later,
        by_access_entry,
    )
    .map(Some)
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
) -> Result<RunResult, UserError> {
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
) -> Result<RunResult, UserError> {
    check_access_entry_username(v, mapper)?;
    let caller = identity::whoami(conn).await?;
    let seen = observe_cluster(conn, v, mapper, &caller).await?;
    let plan = chronom_core::plan::grant::plan_grant(&seen.observation(v, via_note))?;
    let denied = preflight_writes(conn, v, mapper, &seen, &plan, &caller).await?;
    let mut report = write_report::planned("grant", conn, caller, v.dry_run, plan.report());
    let rolearn = v.entry.rolearn.to_string();
    report.notes.extend(managed_by::notes(
        &seen.managed_by,
        &managed_by::RoleMapping {
            rolearn: &rolearn,
            username: &v.entry.username,
            groups: &v.entry.groups,
        },
    ));
    let mut run = GrantRun {
        conn,
        mapper,
        prepared: seen.prepared,
        verify_crd: verify::pick_custom_resource(v.profile, &seen.discovered),
        plan,
        report,
        written: Written::default(),
    };
    if let Some(ae) = &run.prepared {
        run.report.access_entry = Some(ae.result());
    }
    if v.dry_run {
        dry_run_on_server(conn, &run.plan, &denied, &mut run.report).await;
        return Ok(run.report.into());
    }
    match run.apply(observe).await {
        Ok(()) => {}
        Err(Failed::Role(e)) => return Err(e),
        Err(failed) => return Ok(run.fail(failed).await),
    }
    run.verify().await
}

/// EKS adds its own rules for an access entry's username and groups.
fn check_access_entry_username(v: &ValidGrant, mapper: Mapper<'_>) -> Result<(), UserError> {
    if let Mapper::AccessEntry(_) = mapper {
        chronom_core::plan::grant::access_entry_group_refusal(&v.group)?;
        access_entry::check_username(&v.entry.username, UsernameTarget::AccessEntry).map_err(
            |why| {
                UserError::usage(
                    format!(
                        "--username {:?} cannot be used on an EKS access entry: {why}",
                        v.entry.username
                    ),
                    "pick another --username, or use --via aws-auth",
                )
            },
        )?;
    }
    Ok(())
}

/// Everything a grant reads before it decides.
struct Seen {
    aws_auth: Option<AwsAuthSeen>,
    /// The tools that also manage aws-auth (Terraform, eksctl, CDK, Pulumi).
    managed_by: Vec<managed_by::Found>,
    prepared: Option<PreparedGrant>,
    live_role: Option<ClusterRole>,
    live_binding: Option<ClusterRoleBinding>,
    rbac: RbacObjects,
    discovered: DiscoveredResources,
    provenance: Provenance,
    sample_user: String,
    /// The reads this run made, which preflight already checked.
    reads: Vec<ResourceRequest>,
}

impl Seen {
    fn observation<'a>(
        &'a self,
        v: &'a ValidGrant,
        via_note: Option<String>,
    ) -> GrantObservation<'a> {
        let mapping = match (&self.aws_auth, &self.prepared) {
            (_, Some(p)) => MappingSeen::AccessEntry(access_entry_seen(p)),
            (seen, None) => MappingSeen::AwsAuth(seen.clone().unwrap_or_default()),
        };
        GrantObservation {
            request: v,
            live_role: self.live_role.as_ref(),
            live_binding: self.live_binding.as_ref(),
            rbac: &self.rbac,
            discovered: &self.discovered,
            provenance: &self.provenance,
            sample_user: &self.sample_user,
            mapping,
            via_note,
        }
    }
}

/// What EKS's side decided, as the plan reads it.
fn access_entry_seen(p: &PreparedGrant) -> AccessEntrySeen {
    AccessEntrySeen {
        cluster: p.cluster.clone(),
        principal_arn: p.desired.principal_arn.clone(),
        action: p.plan.action(),
        previous: p.previous.as_ref().map(|e| PreviousEntry {
            username: e.username.clone(),
            kubernetes_groups: e.kubernetes_groups.clone(),
        }),
        notes: p.notes.clone(),
    }
}

/// The reads a grant needs: without them it cannot plan.
fn reads_needed(v: &ValidGrant, mapper: Mapper<'_>) -> Vec<ResourceRequest> {
    let rbac = "rbac.authorization.k8s.io";
    let mut reads = Vec::new();
    if let Mapper::AwsAuth = mapper {
        reads.push(
            ResourceRequest::new("get", "", "configmaps")
                .namespace(writer::NAMESPACE)
                .name(writer::NAME),
        );
    }
    reads.push(ResourceRequest::new("get", rbac, "clusterroles").name(&v.role_name));
    reads.push(ResourceRequest::new("get", rbac, "clusterrolebindings").name(&v.role_name));
    // Every binding and role, to see what the mapped identity already holds (decision 7).
    for kind in [
        "clusterroles",
        "clusterrolebindings",
        "roles",
        "rolebindings",
    ] {
        reads.push(ResourceRequest::new("list", rbac, kind));
    }
    reads
}

/// The rights a real run needs. An access entry needs no aws-auth rights: EKS holds the mapping.
fn rights_needed(
    v: &ValidGrant,
    mapper: Mapper<'_>,
    aws_auth_exists: bool,
) -> Vec<ResourceRequest> {
    let mut rights = preflight::for_grant(aws_auth_exists, &v.role_name);
    if let Mapper::AccessEntry(_) = mapper {
        rights.retain(|r| r.resource != "configmaps");
    }
    rights
}

/// Observe: aws-auth (or the access entry), our objects, every RBAC object, discovery.
async fn observe_cluster(
    conn: &Connection,
    v: &ValidGrant,
    mapper: Mapper<'_>,
    caller: &chronom_core::outcome::Caller,
) -> Result<Seen, UserError> {
    let reads = reads_needed(v, mapper);
    let mut denied = preflight::missing(conn, &reads).await?;
    if !denied.is_empty() {
        // Without reads we cannot plan; say everything that is missing at once.
        // The reads and the writes share `get configmaps/aws-auth`: name each right once.
        for right in preflight::missing(conn, &rights_needed(v, mapper, true)).await? {
            if !denied.contains(&right) {
                denied.push(right);
            }
        }
        return Err(preflight::denied_error(&denied, caller, &conn.context));
    }
    let (aws_auth, managed_by) = match mapper {
        Mapper::AwsAuth => {
            let cm = writer::read(conn).await?;
            let managed_by = cm
                .as_ref()
                .map(|c| managed_by::detect(&c.metadata))
                .unwrap_or_default();
            (Some(writer::seen(cm.as_ref())), managed_by)
        }
        Mapper::AccessEntry(_) => (None, Vec::new()),
    };
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    let live_role = conn.get_opt(&roles, &v.role_name, "clusterrole").await?;
    let live_binding = conn
        .get_opt(&bindings, &v.role_name, "clusterrolebinding")
        .await?;
    // The wildcard role names no resource; the others are built from what the server serves
    // now, so a re-run picks up resources installed since the last grant.
    let discovered = if v.profile.is_per_resource() {
        connect::discovery::served_resources(conn, "building the read-only role").await?
    } else {
        DiscoveredResources::new()
    };
    let rbac = audit::read_rbac(conn).await?;
    let prepared = match mapper {
        Mapper::AccessEntry(ctx) => Some(
            entries::prepare_grant(ctx, &v.role, &v.entry.username, &v.group, v.force_update)
                .await?,
        ),
        Mapper::AwsAuth => None,
    };
    Ok(Seen {
        aws_auth,
        managed_by,
        prepared,
        live_role,
        live_binding,
        rbac,
        discovered,
        provenance: Provenance {
            granted_by: caller.username.clone(),
            granted_at: jiff::Timestamp::now().to_string(),
        },
        sample_user: chronom_core::awsauth::template::sample_username(
            &v.entry.username,
            v.role.canonical.account(),
        ),
        reads,
    })
}

/// How many of the role's rights an escalation refusal lists before "and N more".
const NOT_HELD_SHOWN: usize = 10;

/// Preflight: the write rights a real run needs, and the escalation checks the role and
/// binding writes must pass. A dry run reports them instead.
async fn preflight_writes(
    conn: &Connection,
    v: &ValidGrant,
    mapper: Mapper<'_>,
    seen: &Seen,
    plan: &GrantPlan,
    caller: &chronom_core::outcome::Caller,
) -> Result<Vec<ResourceRequest>, UserError> {
    let exists = seen.aws_auth.as_ref().is_some_and(|a| a.exists);
    let mut denied = preflight::missing(conn, &rights_needed(v, mapper, exists)).await?;
    denied.retain(|r| !seen.reads.contains(r));
    let escalation = preflight::escalation(conn, plan).await?;
    if let Some(refusal) = &escalation {
        denied.extend(refusal.missing.iter().cloned());
    }
    if !denied.is_empty() && !v.dry_run {
        let mut err = preflight::denied_error(&denied, caller, &conn.context);
        if let Some(refusal) = &escalation {
            err.what.push('\n');
            err.what
                .push_str(&refusal.explain(&plan.request.role_name, NOT_HELD_SHOWN));
        }
        return Err(err);
    }
    Ok(denied)
}

/// One grant between its plan and its report.
struct GrantRun<'a> {
    conn: &'a Connection,
    mapper: Mapper<'a>,
    prepared: Option<PreparedGrant>,
    verify_crd: Option<verify::CustomResource>,
    plan: GrantPlan,
    report: WriteReport,
    written: Written,
}

/// A step failed: which report entries say so.
enum Failed {
    /// The role could not be applied: nothing was written, nothing to undo.
    Role(UserError),
    Binding(UserError),
    Mapping(UserError),
}

impl GrantRun<'_> {
    /// Apply: the role, the binding, then the mapping. Every write is recorded in `written`.
    async fn apply(&mut self, observe: &(dyn Fn(GrantPhase) + Sync)) -> Result<(), Failed> {
        let plan = &self.plan;
        self.written.role_uid =
            apply_object(self.conn, &plan.role, plan.role_action, "clusterrole")
                .await
                .map_err(Failed::Role)?;
        self.bind().await.map_err(Failed::Binding)?;
        observe(GrantPhase::RbacApplied);
        match self.mapper {
            Mapper::AccessEntry(ctx) => self.apply_access_entry(ctx).await,
            Mapper::AwsAuth => self.apply_aws_auth().await,
        }
        .map_err(Failed::Mapping)
    }

    /// Create our binding, or add our group to the live one with an optimistic update, so two
    /// grants adding different groups at once both keep theirs (a server-side apply of the
    /// whole subjects list, an atomic list, would let the last writer drop the other's group).
    async fn bind(&mut self) -> Result<(), UserError> {
        let (desired, group) = (&self.plan.binding, &self.plan.request.group);
        let name = &self.plan.request.role_name;
        let doing = format!("adding group {group} to clusterrolebinding {name}");
        let (created, wrote) = binding_writer::update(self.conn, name, &doing, |live| {
            Ok(match binding::join(live.as_ref(), desired, group)? {
                Join::Create(b) => Next::Create(b, Some(true)),
                Join::AlreadyBound => Next::Done(None),
                Join::AddSubject(b) => Next::Replace(b, Some(false)),
            })
        })
        .await?;
        match created {
            Some(true) => self.written.binding_created_uid = wrote.and_then(|b| b.metadata.uid),
            Some(false) => self.written.binding_added_subject = true,
            None => {}
        }
        Ok(())
    }

    async fn apply_access_entry(&mut self, ctx: &EksContext) -> Result<(), UserError> {
        let Some(p) = &self.prepared else {
            return Ok(());
        };
        let action = entries::apply_grant(&ctx.eks, p, self.plan.request.force_update).await?;
        if let Some(ae) = self.report.access_entry.as_mut() {
            ae.action = action;
        }
        self.written.access_entry = Some(action);
        Ok(())
    }

    /// Write the planned aws-auth text. A 409 rebases the plan on the fresh aws-auth (its
    /// aws-auth part is decided again by the same pure function) and writes that.
    async fn apply_aws_auth(&mut self) -> Result<(), UserError> {
        let plan = &mut self.plan;
        let done = writer::update(self.conn, |_, cm| {
            plan.rebase(&writer::seen(cm))?;
            let edit = plan.aws_auth().cloned();
            Ok(match edit.and_then(|e| e.after) {
                Some(after) => EditOutcome::Write(Some(after)),
                None => EditOutcome::NoChange,
            })
        })
        .await?;
        let r = &mut self.report;
        r.aws_auth.action = plan.aws_auth().map_or(Action::Unchanged, |e| e.action);
        r.diff = plan.diff();
        r.aws_auth.backup = done.backup.map(|p| p.display().to_string());
        if done.before.is_none() && done.wrote {
            r.notes
                .push("aws-auth did not exist; it was created".into());
        }
        self.written.aws_auth = done.wrote;
        Ok(())
    }

    /// A write failed: undo this run's RBAC writes (the mapping was not written) and report.
    async fn fail(mut self, failed: Failed) -> RunResult {
        let e = match failed {
            Failed::Role(e) => e,
            Failed::Binding(e) => {
                self.report.cluster_role_binding.action = Action::Failed;
                self.report.aws_auth.action = Action::Failed;
                e
            }
            Failed::Mapping(e) => {
                match self.report.access_entry.as_mut() {
                    Some(ae) => ae.action = Action::Failed,
                    None => self.report.aws_auth.action = Action::Failed,
                }
                e
            }
        };
        self.rollback_rbac().await;
        self.report.ok = false;
        RunResult {
            report: Some(self.report),
            error: Some(e),
        }
    }

    /// Verify: make sure the RBAC objects are still there, then ask the authorizer. When it
    /// does not give exactly what the grant means, undo this run's writes (decision 7).
    async fn verify(mut self) -> Result<RunResult, UserError> {
        self.ensure_rbac().await?;
        let v = &self.plan.request;
        let user = chronom_core::awsauth::template::sample_username(
            &v.entry.username,
            v.role.canonical.account(),
        );
        let checks = verify::in_namespaces(
            verify::after_grant(v.profile, self.verify_crd.as_ref()),
            &self.plan.verify_in,
        );
        // A grant the authorizer cannot confirm is treated like one it contradicts: undone.
        let unverified = match verify::run(self.conn, &user, &v.group, &checks).await {
            Ok(rows) => {
                self.report.verification = rows;
                None
            }
            Err(e) => Some(e),
        };
        self.report.ok = unverified.is_none() && self.report.verification.iter().all(|c| c.ok());
        if self.report.ok {
            return Ok(self.report.into());
        }
        Ok(self.undo_unverified(unverified).await)
    }

    async fn undo_unverified(mut self, unverified: Option<UserError>) -> RunResult {
        let undone = self.rollback_mapping().await;
        if undone {
            self.rollback_rbac().await;
        }
        let failure = match &unverified {
            Some(e) => format!("the grant could not be verified: {}", e.what),
            None => "the API server's authorizer does not give the mapped identity exactly read-only access (see the verification table)".to_string(),
        };
        let what = if undone {
            format!("{failure}; what this run wrote was rolled back")
        } else {
            format!("{failure}; the mapping could not be rolled back (see the notes)")
        };
        RunResult {
            report: Some(self.report),
            error: Some(UserError::failed(
                what,
                "look for other bindings to this username, group or system:authenticated (`kubectl chronom audit lookup GROUP`), then re-run",
            )),
        }
    }

    /// After the mapping is written, a concurrent revoke or rollback may have removed the
    /// RBAC objects this grant relies on: put them back rather than report a grant that is
    /// not there.
    async fn ensure_rbac(&mut self) -> Result<(), UserError> {
        let conn = self.conn;
        let (role, name) = (&self.plan.role, self.plan.request.role_name.clone());
        let roles: Api<ClusterRole> = Api::all(conn.client.clone());
        let live = conn.get_opt(&roles, &name, "clusterrole").await?;
        if !live.as_ref().is_some_and(|l| ro::role_matches(l, role)) {
            apply_object(conn, role, Action::Updated, "clusterrole").await?;
            self.report.notes.push(format!("clusterrole {name} was removed or changed by someone else while this grant ran; it was applied again"));
        }
        let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
        let live = conn.get_opt(&bindings, &name, "clusterrolebinding").await?;
        let group = self.plan.request.group.clone();
        if live
            .as_ref()
            .is_some_and(|l| binding::binding_serves(l, &self.plan.binding, &group))
        {
            return Ok(());
        }
        let (uid, added) = (
            self.written.binding_created_uid.clone(),
            self.written.binding_added_subject,
        );
        self.bind().await?;
        // A binding created now is this run's; one it had added to stays recorded as such.
        self.written.binding_created_uid = self.written.binding_created_uid.clone().or(uid);
        self.written.binding_added_subject |= added;
        self.report.notes.push(format!(
            "clusterrolebinding {name} was removed or changed by someone else while this grant ran; group {group} was bound again"
        ));
        Ok(())
    }
}

/// Rollback: each step comes from the plan and what this run wrote; each is reported.
impl GrantRun<'_> {
    /// Undo the mapping this run wrote. Returns false when it could not be undone; the RBAC
    /// objects then stay, since a mapping without them would fail differently.
    async fn rollback_mapping(&mut self) -> bool {
        let Some(step) = self.plan.mapping_rollback(&self.written) else {
            return true;
        };
        let undone = match (&step, self.mapper) {
            (RollbackStep::DeleteAccessEntry { .. }, Mapper::AccessEntry(ctx))
            | (RollbackStep::RestoreAccessEntry { .. }, Mapper::AccessEntry(ctx)) => {
                self.undo_access_entry(ctx, &step).await
            }
            _ => self.undo_aws_auth(&step).await,
        };
        let ok = undone.is_ok();
        match undone {
            Ok(()) => self.record(&step, RollbackOutcome::Done, None),
            Err(why) => self.record(&step, RollbackOutcome::Failed, Some(why)),
        }
        ok
    }

    async fn undo_access_entry(
        &mut self,
        ctx: &EksContext,
        step: &RollbackStep,
    ) -> Result<(), String> {
        let entry_type = self
            .prepared
            .as_ref()
            .map_or("STANDARD", |p| p.desired.entry_type);
        let undone = match step {
            RollbackStep::DeleteAccessEntry {
                cluster,
                principal_arn,
            } => entries::delete(&ctx.eks, cluster, principal_arn)
                .await
                .map(drop),
            RollbackStep::RestoreAccessEntry {
                cluster,
                principal_arn,
                username,
                kubernetes_groups,
            } => {
                let restore = access_entry::DesiredEntry {
                    principal_arn: principal_arn.clone(),
                    username: username.clone(),
                    kubernetes_groups: kubernetes_groups.clone(),
                    entry_type,
                };
                entries::update(&ctx.eks, cluster, &restore).await.map(drop)
            }
            _ => Ok(()),
        };
        if let Err(e) = undone {
            let why = format!(
                "verification failed and the access entry could not be rolled back ({}); remove it by hand: `kubectl chronom revoke`",
                e.what
            );
            self.report.notes.push(why.clone());
            return Err(why);
        }
        if let Some(ae) = self.report.access_entry.as_mut() {
            ae.action = Action::RolledBack;
        }
        let arn = self
            .prepared
            .as_ref()
            .map(|p| p.desired.principal_arn.clone())
            .unwrap_or_default();
        self.report.notes.push(format!(
            "verification failed: the access entry for {arn} was rolled back"
        ));
        Ok(())
    }

    async fn undo_aws_auth(&mut self, step: &RollbackStep) -> Result<(), String> {
        let role = &self.plan.request.role.canonical;
        let undo = writer::update(self.conn, |text, _| {
            let (restored, key_created) = undo_text(step, role, text)?;
            if restored == text {
                return Ok(EditOutcome::NoChange);
            }
            let key = (!(restored.is_empty() && key_created)).then_some(restored);
            Ok(EditOutcome::Write(key))
        })
        .await;
        if let Err(e) = undo {
            let why = format!(
                "verification failed and the aws-auth entry could not be rolled back: {}; {}",
                e.what, e.next
            );
            self.report.notes.push(why.clone());
            return Err(why);
        }
        self.report.aws_auth.action = Action::RolledBack;
        self.report
            .notes
            .push("verification failed: the aws-auth entry this run wrote was rolled back".into());
        Ok(())
    }

    /// Undo this run's RBAC writes as the plan says, given whether aws-auth (read now) still
    /// maps the group.
    async fn rollback_rbac(&mut self) {
        let w = &self.written;
        if w.role_uid.is_none() && w.binding_created_uid.is_none() && !w.binding_added_subject {
            return;
        }
        let in_use = match writer::read(self.conn).await {
            Ok(cm) => {
                let seen = writer::seen(cm.as_ref());
                mapped::group_still_mapped(
                    seen.map_roles(),
                    seen.map_users(),
                    &self.plan.request.group,
                )
            }
            // Cannot tell: keep them, and say so.
            Err(_) => None,
        };
        let mut binding_gone = true;
        for step in self.plan.rbac_rollback(&self.written, in_use) {
            let (action, outcome, reason) = match &step {
                RollbackStep::ReleaseBinding {
                    name,
                    group,
                    created_uid,
                } => {
                    let released =
                        release_our_subject(self.conn, name, group, created_uid.as_deref()).await;
                    binding_gone = matches!(released, Ok(Action::Absent | Action::Deleted));
                    release_row(name, released)
                }
                RollbackStep::DeleteRole {
                    name,
                    once_binding_gone: true,
                    ..
                } if !binding_gone => (
                    Action::Kept,
                    RollbackOutcome::Kept,
                    Some(format!(
                        "clusterrole {name} was created by this run but is kept: clusterrolebinding {name} still binds other subjects"
                    )),
                ),
                RollbackStep::DeleteRole { name, uid, .. } => {
                    delete_created(self.conn, name, uid).await
                }
                RollbackStep::Keep {
                    kind,
                    name,
                    created,
                    reason,
                } => {
                    let why = rollback::keep_message(kind, name, *created, *reason);
                    match reason {
                        KeepReason::GroupStillMapped => {
                            (Action::Kept, RollbackOutcome::Kept, Some(why))
                        }
                        // A created object left in place is still "created": the user may delete it.
                        KeepReason::AwsAuthUnreadable if *created => {
                            (Action::Created, RollbackOutcome::LeftInPlace, Some(why))
                        }
                        KeepReason::AwsAuthUnreadable => {
                            (Action::Kept, RollbackOutcome::LeftInPlace, Some(why))
                        }
                    }
                }
                _ => continue,
            };
            let is_role = matches!(&step, RollbackStep::DeleteRole { .. })
                || matches!(&step, RollbackStep::Keep { kind, .. } if kind == "clusterrole");
            if is_role {
                self.report.cluster_role.action = action;
            } else {
                self.report.cluster_role_binding.action = action;
            }
            self.record(&step, outcome, reason);
        }
    }

    /// One row of the report's `rollback` list.
    fn record(&mut self, step: &RollbackStep, outcome: RollbackOutcome, reason: Option<String>) {
        self.report.rollback.push(RollbackEntry {
            step: step.to_string(),
            outcome,
            reason,
        });
    }
}

/// The mapRoles text after undoing `step` over `text`, and whether the key was ours.
fn undo_text(
    step: &RollbackStep,
    role: &arn::CanonicalRoleArn,
    text: &str,
) -> Result<(String, bool), UserError> {
    match step {
        RollbackStep::RestoreAwsAuthText {
            before,
            after,
            key_created,
        } => {
            // Put the replaced entry back only over exactly what this run wrote.
            if text != after {
                return Err(UserError::failed(
                    "aws-auth changed after this run replaced the entry, so the replaced entry was not put back",
                    "restore it from the backup this run saved: `kubectl chronom restore`",
                ));
            }
            Ok((before.clone(), *key_created))
        }
        RollbackStep::RemoveAwsAuthEntry { key_created, .. } => {
            match awsauth::remove_role(text, role) {
                Ok(r) => Ok((r.new_text, *key_created)),
                Err(p) => Err(UserError::failed(
                    format!(
                        "aws-auth mapRoles no longer parses (line {}, column {}: {})",
                        p.line, p.column, p.message
                    ),
                    "remove the entry by hand: `kubectl -n kube-system edit configmap aws-auth`",
                )),
            }
        }
        _ => Ok((text.to_string(), false)),
    }
}

/// How releasing our subject ended, as the report's binding action and rollback row.
fn release_row(
    name: &str,
    released: Result<Action, String>,
) -> (Action, RollbackOutcome, Option<String>) {
    match released {
        Ok(Action::Kept) => (
            Action::Kept,
            RollbackOutcome::Kept,
            Some(format!(
                "clusterrolebinding {name} is no longer managed by kubectl-chronom; it is left alone"
            )),
        ),
        Ok(_) => (Action::RolledBack, RollbackOutcome::Done, None),
        Err(why) => (Action::Failed, RollbackOutcome::Failed, Some(why)),
    }
}

/// Take our group out of the binding again; delete the binding only when this run created it
/// (`created_uid`) and nothing else is bound. Returns what the binding now is
/// (`absent`/`deleted`: gone; `kept`: no longer ours, left alone).
async fn release_our_subject(
    conn: &Connection,
    name: &str,
    group: &str,
    created_uid: Option<&str>,
) -> Result<Action, String> {
    let ours = |live: &ClusterRoleBinding| {
        created_uid.is_some() && live.metadata.uid.as_deref() == created_uid
    };
    match binding_writer::release(conn, name, group, ours).await {
        Ok(action) => Ok(action),
        Err(e) => Err(format!(
            "{}; remove group {group} from clusterrolebinding {name} by hand",
            e.what
        )),
    }
}

/// Delete the role this run created, preconditioned on its uid so an object recreated
/// meanwhile is not touched.
async fn delete_created(
    conn: &Connection,
    name: &str,
    uid: &str,
) -> (Action, RollbackOutcome, Option<String>) {
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match roles.delete(name, &params).await {
        Ok(_) => (Action::RolledBack, RollbackOutcome::Done, None),
        Err(kube::Error::Api(s)) if s.code == 404 => {
            (Action::RolledBack, RollbackOutcome::Done, None)
        }
        Err(kube::Error::Api(s)) if s.code == 409 => (
            Action::Kept,
            RollbackOutcome::Kept,
            Some(format!(
                "clusterrole {name} was replaced by someone else meanwhile; that object is kept"
            )),
        ),
        Err(e) => {
            let err = conn
                .explain(e, &format!("rolling back clusterrole {name}"))
                .await;
            tracing::debug!("{err}");
            (
                Action::Created,
                RollbackOutcome::Failed,
                Some(format!(
                    "clusterrole {name} was created by this run and could not be deleted again ({}); delete it by hand",
                    err.what
                )),
            )
        }
    }
}

/// Server-side apply with our field manager. Returns the object's uid when this run applied
/// an object it found absent, i.e. one it may have to roll back.
async fn apply_object<K>(
    conn: &Connection,
    object: &K,
    action: Action,
    what: &str,
) -> Result<Option<String>, UserError>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    if action == Action::Unchanged {
        return Ok(None);
    }
    let api: Api<K> = Api::all(conn.client.clone());
    let name = object.meta().name.clone().unwrap_or_default();
    let params = PatchParams::apply(ro::FIELD_MANAGER).force();
    match api.patch(&name, &params, &Patch::Apply(object)).await {
        Ok(applied) => Ok((action == Action::Created)
            .then(|| applied.meta().uid.clone())
            .flatten()),
        Err(e) => Err(conn.explain(e, &format!("applying {what} {name}")).await),
    }
}

/// Ask the server to validate the writes without persisting them, where the caller may.
async fn dry_run_on_server(
    conn: &Connection,
    plan: &GrantPlan,
    denied: &[ResourceRequest],
    report: &mut WriteReport,
) {
    if !denied.is_empty() {
        let rights: Vec<String> = denied.iter().map(|r| r.describe()).collect();
        report.notes.push(format!(
            "server-side dry run skipped: you lack {} right(s) a real run needs ({})",
            denied.len(),
            rights.join("; ")
        ));
        return;
    }
    let mut problems = Vec::new();
    if plan.role_action != Action::Unchanged
        && let Err(e) = dry_apply(conn, &plan.role).await
    {
        problems.push(format!("clusterrole: {e}"));
    }
    if plan.binding_action != Action::Unchanged
        && let Err(e) = dry_apply(conn, &plan.binding).await
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

async fn dry_apply<K>(conn: &Connection, object: &K) -> Result<K, kube::Error>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let params = PatchParams::apply(ro::FIELD_MANAGER).force().dry_run();
    let name = object.meta().name.clone().unwrap_or_default();
    Api::<K>::all(conn.client.clone())
        .patch(&name, &params, &Patch::Apply(object))
        .await
}
