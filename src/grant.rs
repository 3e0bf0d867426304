//! `grant`: plan -> preflight -> apply -> verify.
//!
//! Everything that can be decided before a write is decided first (including an aws-auth
//! conflict), so a refused run changes nothing. If the aws-auth write fails after this run
//! created RBAC objects, those objects are deleted again before we report.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject,
};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};

use crate::aws_auth_writer::{self as writer, EditOutcome};
use crate::cli::{GlobalArgs, GrantArgs};
use crate::connect::{self, Connection, identity};
use crate::eks::access_entries::{self as entries, PreparedGrant};
use crate::eks::via::{self, EksContext, MapWith};
use crate::{preflight, verify};
use chronom_core::arn::{self, RoleArnInput};
use chronom_core::awsauth;
use chronom_core::eks::access_entry::{self, UsernameTarget};
use chronom_core::error::UserError;
use chronom_core::inherited_access::{self, ReadScope};
use chronom_core::outcome::{
    Action, AwsAuthResult, EntryView, ObjectResult, RoleArnView, WriteReport,
};
use chronom_core::rbac::RbacObjects;
use chronom_core::readonly_role::{self as ro, DiscoveredResources, Provenance, RoleProfile};

/// A grant request whose inputs have been checked. Pure data.
#[derive(Debug, Clone)]
pub struct ValidGrant {
    pub role: RoleArnInput,
    pub entry: awsauth::NewRoleEntry,
    pub group: String,
    pub role_name: String,
    /// What the ClusterRole grants (`--include-secrets`, `--wildcard-role`; read-only by default).
    pub profile: RoleProfile,
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
    /// The binding as it must be after this run: the live one's subjects plus our group.
    binding: ClusterRoleBinding,
    role_action: Action,
    binding_action: Action,
    notes: Vec<String>,
    drift_diff: String,
    /// A custom resource the server serves, for the verification's "list a CRD" check.
    verify_crd: Option<verify::CustomResource>,
}

/// One subject of a binding that references a role, as a refusal names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundSubject {
    /// `ClusterRoleBinding/name` or `RoleBinding/namespace/name`.
    pub binding: String,
    /// `Group/name`, `User/name` or `ServiceAccount/namespace:name`.
    pub subject: String,
}

impl std::fmt::Display for BoundSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (through {})", self.subject, self.binding)
    }
}

fn subject_text(s: &Subject) -> String {
    match &s.namespace {
        Some(ns) if !ns.is_empty() => format!("{}/{}:{}", s.kind, ns, s.name),
        _ => format!("{}/{}", s.kind, s.name),
    }
}

/// Every subject of every binding (cluster-wide or namespaced) that references ClusterRole `role_name`.
pub fn subjects_bound_to(objects: &RbacObjects, role_name: &str) -> Vec<BoundSubject> {
    let refers = |r: &RoleRef| r.kind == "ClusterRole" && r.name == role_name;
    let mut out = Vec::new();
    for b in &objects.cluster_role_bindings {
        if refers(&b.role_ref) {
            let binding = format!(
                "ClusterRoleBinding/{}",
                b.metadata.name.as_deref().unwrap_or_default()
            );
            out.extend(b.subjects.iter().flatten().map(|s| BoundSubject {
                binding: binding.clone(),
                subject: subject_text(s),
            }));
        }
    }
    for b in &objects.role_bindings {
        if refers(&b.role_ref) {
            let binding = format!(
                "RoleBinding/{}/{}",
                b.metadata.namespace.as_deref().unwrap_or_default(),
                b.metadata.name.as_deref().unwrap_or_default()
            );
            out.extend(b.subjects.iter().flatten().map(|s| BoundSubject {
                binding: binding.clone(),
                subject: subject_text(s),
            }));
        }
    }
    out
}

fn bound_list(bound: &[BoundSubject]) -> String {
    if bound.is_empty() {
        "nothing binds it".into()
    } else {
        let lines: Vec<String> = bound.iter().map(|b| format!("    - {b}")).collect();
        format!("bound to:\n{}", lines.join("\n"))
    }
}

/// Decision 5 (docs/decisions.md): grant writes only objects with our managed-by label. An existing ClusterRole or
/// ClusterRoleBinding of the requested name without it (cluster-admin, a team's role) is
/// refused before any write, naming the object and what binds it.
pub fn ownership_refusal(
    role_name: &str,
    live_role: Option<&ClusterRole>,
    live_binding: Option<&ClusterRoleBinding>,
    bound: &[BoundSubject],
) -> Result<(), UserError> {
    let next = "pick another --role-name; chronom changes only objects labelled app.kubernetes.io/managed-by=kubectl-chronom";
    if let Some(role) = live_role
        && !ro::is_managed(&role.metadata)
    {
        return Err(UserError::failed(
            format!(
                "clusterrole {role_name} already exists and is not managed by kubectl-chronom (no app.kubernetes.io/managed-by=kubectl-chronom label); rewriting it would change the access of everything it is {}\n  Nothing was changed.",
                bound_list(bound)
            ),
            next,
        ));
    }
    if let Some(binding) = live_binding
        && !ro::is_managed(&binding.metadata)
    {
        let subjects: Vec<String> = binding
            .subjects
            .iter()
            .flatten()
            .map(|s| format!("    - {}", subject_text(s)))
            .collect();
        return Err(UserError::failed(
            format!(
                "clusterrolebinding {role_name} already exists and is not managed by kubectl-chronom (no app.kubernetes.io/managed-by=kubectl-chronom label); it binds {} {} to:\n{}\n  Nothing was changed.",
                binding.role_ref.kind,
                binding.role_ref.name,
                if subjects.is_empty() {
                    "    (no subjects)".to_string()
                } else {
                    subjects.join("\n")
                }
            ),
            next,
        ));
    }
    Ok(())
}

/// Decision 3 (docs/decisions.md): grants that share a ClusterRole must not change each other's access, so a
/// managed role whose live profile differs from the requested one is refused before any write.
/// `live` is None when there is no role yet.
pub fn profile_change_refusal(
    role_name: &str,
    live: Option<RoleProfile>,
    requested: RoleProfile,
    bound: &[BoundSubject],
) -> Result<(), UserError> {
    match live {
        Some(live) if live != requested => Err(UserError::failed(
            format!(
                "clusterrole {role_name} has profile {} and this grant asks for {}; changing it would change the access of everything it is {}\n  Nothing was changed.",
                live,
                requested,
                bound_list(bound)
            ),
            format!(
                "use another --role-name and --group for the {} profile, or revoke the grants of {role_name} first",
                requested
            ),
        )),
        _ => Ok(()),
    }
}

/// Decision 4 (docs/decisions.md): our managed binding accumulates subjects. The binding after this run is the
/// live one with our group added when missing; subjects are never removed here.
/// Returns the binding to write and whether it changes.
fn accumulated_binding(
    desired: &ClusterRoleBinding,
    live: &ClusterRoleBinding,
    group: &str,
) -> (ClusterRoleBinding, bool) {
    let mut out = desired.clone();
    let mut subjects = live.subjects.clone().unwrap_or_default();
    let missing = !has_group_subject(live, group);
    if missing {
        subjects.extend(desired.subjects.iter().flatten().cloned());
    }
    out.subjects = Some(subjects);
    (out, missing)
}

fn has_group_subject(binding: &ClusterRoleBinding, group: &str) -> bool {
    binding
        .subjects
        .iter()
        .flatten()
        .any(|s| s.kind == "Group" && s.name == group)
}

/// Whether a live binding is one this grant can rely on: ours, bound to our role, with our group.
fn binding_serves(live: &ClusterRoleBinding, desired: &ClusterRoleBinding, group: &str) -> bool {
    ro::is_managed(&live.metadata)
        && live.role_ref == desired.role_ref
        && has_group_subject(live, group)
}

fn plan_rbac(
    v: &ValidGrant,
    discovered: &DiscoveredResources,
    provenance: &Provenance,
    live_role: Option<&ClusterRole>,
    live_binding: Option<&ClusterRoleBinding>,
    bound: &[BoundSubject],
) -> Result<RbacPlan, UserError> {
    ownership_refusal(&v.role_name, live_role, live_binding, bound)?;
    profile_change_refusal(
        &v.role_name,
        live_role.and_then(ro::live_profile),
        v.profile,
        bound,
    )?;
    let role = ro::cluster_role(
        &v.role_name,
        v.profile,
        ro::profile_rules(v.profile, discovered),
        provenance,
    );
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
                    "clusterrole {} differs from what profile {} grants on this server (resources served or removed since the last grant, or rules changed by someone); its rules are updated (see diff)",
                    v.role_name, v.profile
                ));
            } else {
                notes.push(format!(
                    "clusterrole {} is annotated with its profile ({})",
                    v.role_name, v.profile
                ));
            }
            Action::Updated
        }
    };
    let (binding, binding_action) = match live_binding {
        None => (binding, Action::Created),
        Some(live) if live.role_ref != binding.role_ref => {
            return Err(UserError::failed(
                format!(
                    "clusterrolebinding {} already exists and refers to {} {:?}; a binding's role cannot be changed in place, so nothing was changed",
                    v.role_name, live.role_ref.kind, live.role_ref.name
                ),
                "delete that binding yourself if it is stale, or choose another --role-name",
            ));
        }
        Some(live) => match accumulated_binding(&binding, live, &v.group) {
            (b, false) => (b, Action::Unchanged),
            (b, true) => {
                notes.push(format!(
                    "clusterrolebinding {} now binds group {} too; the subjects it had are kept",
                    v.role_name, v.group
                ));
                (b, Action::Updated)
            }
        },
    };
    Ok(RbacPlan {
        role,
        binding,
        role_action,
        binding_action,
        notes,
        drift_diff,
        verify_crd: verify::pick_custom_resource(v.profile, discovered),
    })
}

/// What the server serves, for the per-resource profiles (see [`connect::discovery`]).
async fn discover(conn: &Connection) -> Result<DiscoveredResources, UserError> {
    connect::discovery::served_resources(conn, "building the read-only role").await
}

pub async fn run(global: &GlobalArgs, args: &GrantArgs) -> chronom_core::outcome::RunResult {
    let v = match validate(args) {
        Ok(v) => v,
        Err(e) => return e.into(),
    };
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
) -> Result<chronom_core::outcome::RunResult, UserError> {
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
) -> Result<chronom_core::outcome::RunResult, UserError> {
    let uses_aws_auth = matches!(mapper, Mapper::AwsAuth);
    if let Mapper::AccessEntry(_) = mapper {
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
    let caller = identity::whoami(conn).await?;
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    let rbac = "rbac.authorization.k8s.io";
    let mut reads = vec![
        identity::Right::new("get", rbac, "clusterroles").named(&v.role_name),
        identity::Right::new("get", rbac, "clusterrolebindings").named(&v.role_name),
    ];
    // Every binding and role, to see what the mapped identity already holds (decision 7 in docs/decisions.md).
    for kind in [
        "clusterroles",
        "clusterrolebindings",
        "roles",
        "rolebindings",
    ] {
        reads.push(identity::Right::new("list", rbac, kind));
    }
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
    // The wildcard role names no resource; the others are built from what the server serves
    // now, so a re-run picks up resources installed since the last grant.
    let discovered = if v.profile.is_per_resource() {
        discover(conn).await?
    } else {
        DiscoveredResources::new()
    };
    let provenance = Provenance {
        granted_by: caller.username.clone(),
        granted_at: jiff::Timestamp::now().to_string(),
    };
    // Every RBAC object: what binds the role (for the refusals), and what the mapped identity
    // already holds through other bindings (decision 7 in docs/decisions.md).
    let listed = list_rbac(conn).await?;
    let bound = subjects_bound_to(&listed, &v.role_name);
    let plan = plan_rbac(
        v,
        &discovered,
        &provenance,
        live_role.as_ref(),
        live_binding.as_ref(),
        &bound,
    )?;
    let sample_user = chronom_core::awsauth::template::sample_username(
        &v.entry.username,
        v.role.canonical.account(),
    );
    let users = inherited_access::usernames_to_check(
        &v.entry.username,
        v.role.canonical.account(),
        &sample_user,
        &listed,
    );
    let held = inherited_access::held_beyond(
        &listed,
        &v.role_name,
        &users,
        &v.group,
        ReadScope::of(v.profile),
    );
    if !held.is_empty() {
        return Err(identity_refusal(v, &held));
    }
    let verify_in = inherited_access::role_binding_namespaces(&listed, &users, &v.group);

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
                    replaced: false,
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
            profile: Some(v.profile),
        },
        cluster_role_binding: ObjectResult {
            name: v.role_name.clone(),
            action: plan.binding_action,
            note: None,
            profile: None,
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
    if v.profile == RoleProfile::Wildcard {
        report.notes.push(ro::WILDCARD_WARNING.to_string());
    }
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

    let mut written = Written {
        role_uid: apply(conn, &roles, &plan.role, plan.role_action, "clusterrole").await?,
        ..Written::default()
    };
    match apply_binding(conn, &bindings, &plan.binding, &v.group).await {
        Ok(w) => written.binding = w,
        Err(e) => {
            report.cluster_role_binding.action = Action::Failed;
            rollback_rbac(conn, v, &mut report, &written).await;
            report.aws_auth.action = Action::Failed;
            report.ok = false;
            return Ok(chronom_core::outcome::RunResult {
                report: Some(report),
                error: Some(e),
            });
        }
    };
    observe(GrantPhase::RbacApplied);

    if let (Mapper::AccessEntry(ctx), Some(p)) = (mapper, &prepared) {
        return finish_with_access_entry(conn, v, ctx, p, report, written, &plan, &verify_in).await;
    }
    let written_aws_auth = writer::update(conn, |text, cm| {
        let edit = plan_aws_auth(text, v)?;
        let key_created = cm
            .and_then(|c| c.data.as_ref())
            .is_none_or(|d| !d.contains_key(writer::MAP_ROLES));
        Ok(match edit.new_text.clone() {
            Some(new) => EditOutcome::Write(
                Some(new.clone()),
                (
                    edit,
                    Some(AwsAuthWrite {
                        before: text.to_string(),
                        after: new,
                        key_created,
                    }),
                ),
            ),
            None => EditOutcome::NoChange((edit, None)),
        })
    })
    .await;
    match written_aws_auth {
        Ok(done) => {
            let (edit, wrote) = done.result;
            report.aws_auth.action = edit.action;
            report.diff = format!("{}{}", plan.drift_diff, edit.diff);
            report.aws_auth.backup = done.backup.map(|p| p.display().to_string());
            if done.before.is_none() && done.wrote {
                report
                    .notes
                    .push("aws-auth did not exist; it was created".into());
            }
            written.aws_auth = wrote.map(|w| (w, edit.replaced));
        }
        Err(e) => {
            rollback_rbac(conn, v, &mut report, &written).await;
            report.aws_auth.action = Action::Failed;
            report.ok = false;
            return Ok(chronom_core::outcome::RunResult {
                report: Some(report),
                error: Some(e),
            });
        }
    }
    finish(conn, v, &plan, report, written, None, &verify_in).await
}

/// Every ClusterRole, ClusterRoleBinding, Role and RoleBinding of the cluster.
async fn list_rbac(conn: &Connection) -> Result<RbacObjects, UserError> {
    async fn all<K>(conn: &Connection, what: &str) -> Result<Vec<K>, UserError>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        match Api::<K>::all(conn.client.clone())
            .list(&ListParams::default())
            .await
        {
            Ok(list) => Ok(list.items),
            Err(e) => Err(conn
                .explain(
                    e,
                    &format!("listing {what} to see what the mapped identity already holds"),
                )
                .await),
        }
    }
    let (cluster_roles, cluster_role_bindings, roles, role_bindings) = tokio::try_join!(
        all::<ClusterRole>(conn, "clusterroles"),
        all::<ClusterRoleBinding>(conn, "clusterrolebindings"),
        all::<Role>(conn, "roles"),
        all::<RoleBinding>(conn, "rolebindings"),
    )?;
    Ok(RbacObjects {
        cluster_roles,
        cluster_role_bindings,
        roles,
        role_bindings,
    })
}

/// The refusal when the mapped identity already holds more than the grant gives (decision 7 in docs/decisions.md).
fn identity_refusal(v: &ValidGrant, held: &[inherited_access::HeldBeyond]) -> UserError {
    let lines: Vec<String> = held.iter().map(|h| format!("    - {h}")).collect();
    UserError::failed(
        format!(
            "the identity this grant maps (username {:?}, group {}, and system:authenticated) already holds more than the {} profile through other bindings, so the grant would not be read-only; nothing was changed:\n{}",
            v.entry.username,
            v.group,
            v.profile,
            lines.join("\n")
        ),
        "remove or narrow those bindings, or map the role to a --username and --group that nothing else binds (`kubectl chronom audit lookup GROUP` lists what a group holds)",
    )
}

/// What this run wrote, so a later failure can undo exactly that.
#[derive(Debug, Default)]
struct Written {
    /// The uid of the ClusterRole this run created.
    role_uid: Option<String>,
    binding: BindingWrite,
    /// The mapRoles text this run replaced and wrote, and whether the entry replaced another
    /// one (--force-update) rather than being added.
    aws_auth: Option<(AwsAuthWrite, bool)>,
    /// The access entry this run created or updated: its action and the entry before.
    access_entry: Option<(Action, Option<access_entry::AccessEntryView>)>,
}

#[derive(Debug, Default)]
struct BindingWrite {
    /// The uid of the binding this run created.
    created_uid: Option<String>,
    /// This run added our group to a binding that existed.
    added_subject: bool,
}

#[derive(Debug, Clone)]
struct AwsAuthWrite {
    before: String,
    after: String,
    /// mapRoles was absent or empty before: an emptied key may go again.
    key_created: bool,
}

/// Create our binding, or add our group to the live one with an optimistic update, so two
/// grants adding different groups at once both keep theirs (a server-side apply of the whole
/// subjects list, an atomic list, would let the last writer drop the other's group).
async fn apply_binding(
    conn: &Connection,
    api: &Api<ClusterRoleBinding>,
    desired: &ClusterRoleBinding,
    group: &str,
) -> Result<BindingWrite, UserError> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    for _ in 0..10 {
        let live = conn.get_opt(api, &name, "clusterrolebinding").await?;
        let Some(mut live) = live else {
            let mut fresh = desired.clone();
            fresh.subjects = Some(
                desired
                    .subjects
                    .iter()
                    .flatten()
                    .filter(|s| s.kind == "Group" && s.name == group)
                    .cloned()
                    .collect(),
            );
            match api.create(&PostParams::default(), &fresh).await {
                Ok(created) => {
                    return Ok(BindingWrite {
                        created_uid: created.metadata.uid,
                        added_subject: false,
                    });
                }
                // Created by someone else meanwhile: add our group to theirs.
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => {
                    return Err(conn
                        .explain(e, &format!("creating clusterrolebinding {name}"))
                        .await);
                }
            }
        };
        ownership_refusal(&name, None, Some(&live), &[])?;
        if live.role_ref != desired.role_ref {
            return Err(UserError::failed(
                format!(
                    "clusterrolebinding {name} was changed meanwhile to refer to {} {:?}; nothing more was changed",
                    live.role_ref.kind, live.role_ref.name
                ),
                "check who else manages that binding, then re-run",
            ));
        }
        if has_group_subject(&live, group) {
            return Ok(BindingWrite::default());
        }
        live.subjects.get_or_insert_with(Vec::new).extend(
            desired
                .subjects
                .iter()
                .flatten()
                .filter(|s| s.name == group)
                .cloned(),
        );
        match api.replace(&name, &PostParams::default(), &live).await {
            Ok(_) => {
                return Ok(BindingWrite {
                    created_uid: None,
                    added_subject: true,
                });
            }
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => {
                return Err(conn
                    .explain(
                        e,
                        &format!("adding group {group} to clusterrolebinding {name}"),
                    )
                    .await);
            }
        }
    }
    Err(UserError::failed(
        format!("clusterrolebinding {name} kept changing while group {group} was added to it"),
        "another tool is rewriting that binding in a loop; stop it, then re-run",
    ))
}

/// The access-entry write, in the place of the aws-auth one; rollback and verification as for aws-auth.
#[allow(clippy::too_many_arguments)]
async fn finish_with_access_entry(
    conn: &Connection,
    v: &ValidGrant,
    ctx: &EksContext,
    p: &PreparedGrant,
    mut report: WriteReport,
    mut written: Written,
    plan: &RbacPlan,
    verify_in: &BTreeSet<String>,
) -> Result<chronom_core::outcome::RunResult, UserError> {
    match entries::apply_grant(&ctx.eks, p, v.force_update).await {
        Ok(action) => {
            if let Some(ae) = report.access_entry.as_mut() {
                ae.action = action;
            }
            written.access_entry = Some((action, p.previous.clone()));
        }
        Err(e) => {
            rollback_rbac(conn, v, &mut report, &written).await;
            if let Some(ae) = report.access_entry.as_mut() {
                ae.action = Action::Failed;
            }
            report.ok = false;
            return Ok(chronom_core::outcome::RunResult {
                report: Some(report),
                error: Some(e),
            });
        }
    }
    finish(conn, v, plan, report, written, Some((ctx, p)), verify_in).await
}

/// After the mapping is written: make sure the RBAC objects are there, then verify. When the
/// authorizer does not give exactly what the grant means, undo this run's writes (decision 7 in docs/decisions.md).
async fn finish(
    conn: &Connection,
    v: &ValidGrant,
    plan: &RbacPlan,
    mut report: WriteReport,
    mut written: Written,
    access_entry: Option<(&EksContext, &PreparedGrant)>,
    verify_in: &BTreeSet<String>,
) -> Result<chronom_core::outcome::RunResult, UserError> {
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
    let live = conn
        .get_opt(&bindings, &v.role_name, "clusterrolebinding")
        .await?;
    if !live
        .as_ref()
        .is_some_and(|l| binding_serves(l, &plan.binding, &v.group))
    {
        let again = apply_binding(conn, &bindings, &plan.binding, &v.group).await?;
        if again.created_uid.is_some() {
            written.binding = again;
        } else {
            written.binding.added_subject |= again.added_subject;
        }
        report.notes.push(format!(
            "clusterrolebinding {} was removed or changed by someone else while this grant ran; group {} was bound again",
            v.role_name, v.group
        ));
    }

    let user = chronom_core::awsauth::template::sample_username(
        &v.entry.username,
        v.role.canonical.account(),
    );
    let checks = verify::in_namespaces(
        verify::after_grant(v.profile, plan.verify_crd.as_ref()),
        verify_in,
    );
    // A grant the authorizer cannot confirm is treated like one it contradicts: undone.
    let unverified = match verify::run(conn, &user, &v.group, &checks).await {
        Ok(rows) => {
            report.verification = rows;
            None
        }
        Err(e) => Some(e),
    };
    report.ok = unverified.is_none() && report.verification.iter().all(|c| c.ok());
    if report.ok {
        return Ok(report.into());
    }
    let undone = rollback_mapping(conn, v, &mut report, &written, access_entry).await;
    if undone {
        rollback_rbac(conn, v, &mut report, &written).await;
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
    Ok(chronom_core::outcome::RunResult {
        report: Some(report),
        error: Some(UserError::failed(
            what,
            "look for other bindings to this username, group or system:authenticated (`kubectl chronom audit lookup GROUP`), then re-run",
        )),
    })
}

/// Undo the mapping this run wrote: the aws-auth entry (removed if it was added, the text put
/// back if it replaced another entry and nothing changed since) or the access entry (deleted
/// if created, put back if updated). Returns false when it could not be undone; the RBAC
/// objects then stay, since a mapping without them would fail differently.
async fn rollback_mapping(
    conn: &Connection,
    v: &ValidGrant,
    report: &mut WriteReport,
    written: &Written,
    access_entry: Option<(&EksContext, &PreparedGrant)>,
) -> bool {
    if let (Some((action, previous)), Some((ctx, p))) = (&written.access_entry, access_entry) {
        let undone = match (action, previous) {
            (Action::Created, _) => entries::delete(&ctx.eks, &p.cluster, &p.desired.principal_arn)
                .await
                .map(|_| ()),
            (Action::Updated, Some(before)) => {
                let restore = access_entry::DesiredEntry {
                    principal_arn: p.desired.principal_arn.clone(),
                    username: before.username.clone(),
                    kubernetes_groups: before.kubernetes_groups.clone(),
                    entry_type: p.desired.entry_type,
                };
                entries::update(&ctx.eks, &p.cluster, &restore)
                    .await
                    .map(|_| ())
            }
            _ => return true,
        };
        return match undone {
            Ok(()) => {
                if let Some(ae) = report.access_entry.as_mut() {
                    ae.action = Action::RolledBack;
                }
                report.notes.push(format!(
                    "verification failed: the access entry for {} was rolled back",
                    p.desired.principal_arn
                ));
                true
            }
            Err(e) => {
                report.notes.push(format!(
                    "verification failed and the access entry could not be rolled back ({}); remove it by hand: `kubectl chronom revoke`",
                    e.what
                ));
                false
            }
        };
    }
    let Some((w, replaced)) = &written.aws_auth else {
        return true;
    };
    let undo = writer::update(conn, |text, _| {
        let restored = if *replaced {
            // Put the replaced entry back only over exactly what this run wrote.
            if text != w.after {
                return Err(UserError::failed(
                    "aws-auth changed after this run replaced the entry, so the replaced entry was not put back",
                    "restore it from the backup this run saved: `kubectl chronom restore`",
                ));
            }
            w.before.clone()
        } else {
            match awsauth::remove_role(text, &v.role.canonical) {
                Ok(r) => r.new_text,
                Err(p) => {
                    return Err(UserError::failed(
                        format!(
                            "aws-auth mapRoles no longer parses (line {}, column {}: {})",
                            p.line, p.column, p.message
                        ),
                        "remove the entry by hand: `kubectl -n kube-system edit configmap aws-auth`",
                    ));
                }
            }
        };
        if restored == text {
            return Ok(EditOutcome::NoChange(()));
        }
        let key = if restored.is_empty() && w.key_created {
            None
        } else {
            Some(restored)
        };
        Ok(EditOutcome::Write(key, ()))
    })
    .await;
    match undo {
        Ok(_) => {
            report.aws_auth.action = Action::RolledBack;
            report.notes.push(
                "verification failed: the aws-auth entry this run wrote was rolled back".into(),
            );
            true
        }
        Err(e) => {
            report.notes.push(format!(
                "verification failed and the aws-auth entry could not be rolled back: {}; {}",
                e.what, e.next
            ));
            false
        }
    }
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
    /// The entry replaces another one for the role (--force-update) rather than being added.
    replaced: bool,
}

fn plan_aws_auth(text: &str, v: &ValidGrant) -> Result<AwsAuthEdit, UserError> {
    if v.force_update {
        awsauth::ownership::check_forced_replace(text, &v.role.canonical)?;
    }
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
            // The strict editor accepts a few texts aws-iam-authenticator drops whole (`%YAML
            // 1.2`, a `\/` escape, a NaN): an entry written there would never take effect.
            let in_effect = new_text.as_deref().unwrap_or(text);
            if let Some(p) = awsauth::read_map_roles(in_effect).error {
                return Err(UserError::failed(
                    format!(
                        "aws-iam-authenticator cannot read aws-auth mapRoles (line {}, column {}: {}), so it ignores every entry in it, this one included; nothing was changed",
                        p.line, p.column, p.message
                    ),
                    "fix mapRoles by hand (`kubectl -n kube-system edit configmap aws-auth`; `kubectl chronom audit` shows the place), then re-run",
                ));
            }
            let diff = match &new_text {
                Some(n) => awsauth::unified_diff(text, n, "mapRoles (before)", "mapRoles (after)"),
                None => String::new(),
            };
            Ok(AwsAuthEdit {
                action,
                new_text,
                diff,
                replaced: matches!(edit.action, awsauth::EditAction::Updated { .. }),
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

/// Undo this run's RBAC writes, but never what another grant now relies on: if a fresh read
/// of aws-auth shows an entry mapping the group, everything stays. Otherwise our group leaves
/// the binding (if this run added it), the binding goes when this run created it and no
/// subject remains, and the role goes when this run created it and its binding is gone.
/// Deletes are preconditioned on the uid, so an object recreated meanwhile is not touched.
async fn rollback_rbac(conn: &Connection, v: &ValidGrant, report: &mut WriteReport, w: &Written) {
    let binding_written = w.binding.created_uid.is_some() || w.binding.added_subject;
    if w.role_uid.is_none() && !binding_written {
        return;
    }
    let in_use = match writer::read(conn).await {
        Ok(cm) => group_still_mapped(writer::map_roles(cm.as_ref()), &v.group),
        // Cannot tell: keep them, and say so below.
        Err(_) => None,
    };
    let roles: Api<ClusterRole> = Api::all(conn.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    let mut binding_gone = !binding_written;
    if binding_written {
        let (action, gone) = match (in_use, &w.binding.created_uid) {
            (Some(false), _) => remove_our_subject(conn, &bindings, v, w).await,
            // Kept (in use) or left in place (cannot tell), each with its note.
            (other, Some(uid)) => (
                undo(
                    conn,
                    &bindings,
                    &v.role_name,
                    "clusterrolebinding",
                    uid.clone(),
                    other,
                )
                .await,
                false,
            ),
            (other, None) => (keep_note(other, "clusterrolebinding", &v.role_name), false),
        };
        binding_gone = gone;
        report.cluster_role_binding.action = action;
    }
    if let Some(uid) = &w.role_uid {
        // While other subjects still use the binding, its role stays too.
        report.cluster_role.action = if binding_gone || in_use != Some(false) {
            undo(
                conn,
                &roles,
                &v.role_name,
                "clusterrole",
                uid.clone(),
                in_use,
            )
            .await
        } else {
            Action::Kept
        };
    }
}

fn keep_note(in_use: Option<bool>, what: &str, name: &str) -> Action {
    if in_use == Some(true) {
        eprintln!(
            "note: {what} {name} was written by this run but is kept: another aws-auth entry now maps its group"
        );
    } else {
        eprintln!(
            "warning: {what} {name} was written by this run and is left in place: aws-auth could not be read to check whether anything else uses it; remove it by hand if not"
        );
    }
    Action::Kept
}

/// Take our group out of the binding again; delete the binding when this run created it and
/// nothing else is bound. Optimistic: a concurrent change is re-read, never overwritten.
/// Returns the action and whether the binding is gone.
async fn remove_our_subject(
    conn: &Connection,
    api: &Api<ClusterRoleBinding>,
    v: &ValidGrant,
    w: &Written,
) -> (Action, bool) {
    for _ in 0..10 {
        let live = match conn.get_opt(api, &v.role_name, "clusterrolebinding").await {
            Ok(Some(l)) => l,
            Ok(None) => return (Action::RolledBack, true),
            Err(e) => {
                eprintln!(
                    "warning: clusterrolebinding {} could not be read to roll it back ({}); remove group {} from it by hand",
                    v.role_name, e.what, v.group
                );
                return (Action::Failed, false);
            }
        };
        if !ro::is_managed(&live.metadata) {
            return (Action::Kept, false);
        }
        let mut rest = live.clone();
        rest.subjects = Some(
            live.subjects
                .iter()
                .flatten()
                .filter(|s| !(s.kind == "Group" && s.name == v.group))
                .cloned()
                .collect(),
        );
        let ours = w.binding.created_uid.is_some() && live.metadata.uid == w.binding.created_uid;
        if ours && rest.subjects.as_ref().is_some_and(Vec::is_empty) {
            let uid = live.metadata.uid.clone().unwrap_or_default();
            let action = undo(
                conn,
                api,
                &v.role_name,
                "clusterrolebinding",
                uid,
                Some(false),
            )
            .await;
            return (action, action == Action::RolledBack);
        }
        if rest.subjects == live.subjects {
            return (Action::RolledBack, false);
        }
        match api
            .replace(&v.role_name, &PostParams::default(), &rest)
            .await
        {
            Ok(_) => return (Action::RolledBack, false),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => {
                let err = conn
                    .explain(
                        e,
                        &format!(
                            "removing group {} from clusterrolebinding {}",
                            v.group, v.role_name
                        ),
                    )
                    .await;
                eprintln!("warning: {}; remove it by hand", err.what);
                return (Action::Failed, false);
            }
        }
    }
    (Action::Failed, false)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn prov() -> Provenance {
        Provenance {
            granted_by: "admin".into(),
            granted_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn group(name: &str) -> Subject {
        Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: name.into(),
            namespace: None,
        }
    }

    fn unlabelled(mut role: ClusterRole) -> ClusterRole {
        role.metadata.labels = None;
        role
    }

    fn objects_binding_cluster_admin() -> RbacObjects {
        let mut b =
            ro::cluster_role_binding("cluster-admin", "cluster-admin", "system:masters", &prov());
        b.metadata.labels = None;
        let mut rb = RoleBinding {
            metadata: Default::default(),
            role_ref: b.role_ref.clone(),
            subjects: Some(vec![Subject {
                kind: "User".into(),
                name: "alice".into(),
                ..group("")
            }]),
        };
        rb.metadata.name = Some("alice-admin".into());
        rb.metadata.namespace = Some("team-x".into());
        RbacObjects {
            cluster_role_bindings: vec![b],
            role_bindings: vec![rb],
            ..Default::default()
        }
    }

    #[test]
    fn an_unlabelled_role_is_refused_naming_what_binds_it() {
        let live = unlabelled(ro::cluster_role(
            "cluster-admin",
            RoleProfile::ReadOnly,
            vec![],
            &prov(),
        ));
        let bound = subjects_bound_to(&objects_binding_cluster_admin(), "cluster-admin");
        assert_eq!(bound.len(), 2);
        let e = ownership_refusal("cluster-admin", Some(&live), None, &bound).unwrap_err();
        assert_eq!(e.exit_code, chronom_core::error::EXIT_FAILED);
        for want in [
            "clusterrole cluster-admin",
            "not managed by kubectl-chronom",
            "Group/system:masters (through ClusterRoleBinding/cluster-admin)",
            "User/alice (through RoleBinding/team-x/alice-admin)",
            "Nothing was changed",
        ] {
            assert!(e.what.contains(want), "{want:?} missing from: {}", e.what);
        }
        assert!(e.next.contains("--role-name"), "{}", e.next);
        let managed = ro::cluster_role("mine", RoleProfile::ReadOnly, vec![], &prov());
        assert!(ownership_refusal("mine", Some(&managed), None, &[]).is_ok());
        assert!(ownership_refusal("none", None, None, &[]).is_ok());
    }

    #[test]
    fn an_unlabelled_binding_is_refused_naming_its_role_and_subjects() {
        let mut b = ro::cluster_role_binding("team", "team-role", "team-devs", &prov());
        b.metadata.labels = Some(BTreeMap::from([("app".into(), "team".into())]));
        let e = ownership_refusal("team", None, Some(&b), &[]).unwrap_err();
        for want in [
            "clusterrolebinding team",
            "ClusterRole team-role",
            "Group/team-devs",
        ] {
            assert!(e.what.contains(want), "{want:?} missing from: {}", e.what);
        }
        let ours = ro::cluster_role_binding("team", "team", "g", &prov());
        assert!(ownership_refusal("team", None, Some(&ours), &[]).is_ok());
    }

    #[test]
    fn a_profile_change_is_refused_naming_the_live_profile_and_every_subject() {
        let bound = vec![
            BoundSubject {
                binding: "ClusterRoleBinding/shared".into(),
                subject: "Group/first-readers".into(),
            },
            BoundSubject {
                binding: "RoleBinding/ns/x".into(),
                subject: "User/bob".into(),
            },
        ];
        let e = profile_change_refusal(
            "shared",
            Some(RoleProfile::ReadOnly),
            RoleProfile::Wildcard,
            &bound,
        )
        .unwrap_err();
        assert_eq!(e.exit_code, chronom_core::error::EXIT_FAILED);
        for want in [
            "profile read-only",
            "asks for wildcard",
            "Group/first-readers (through ClusterRoleBinding/shared)",
            "User/bob (through RoleBinding/ns/x)",
            "Nothing was changed",
        ] {
            assert!(e.what.contains(want), "{want:?} missing from: {}", e.what);
        }
        assert!(
            e.next.contains("--role-name")
                && e.next.contains("--group")
                && e.next.contains("revoke"),
            "{}",
            e.next
        );
        assert!(profile_change_refusal("r", None, RoleProfile::Wildcard, &[]).is_ok());
        for p in [
            RoleProfile::ReadOnly,
            RoleProfile::ReadOnlyWithSecrets,
            RoleProfile::Wildcard,
        ] {
            assert!(profile_change_refusal("r", Some(p), p, &bound).is_ok());
        }
        assert!(
            profile_change_refusal(
                "r",
                Some(RoleProfile::ReadOnlyWithSecrets),
                RoleProfile::ReadOnly,
                &[]
            )
            .unwrap_err()
            .what
            .contains("nothing binds it")
        );
    }

    #[test]
    fn the_binding_accumulates_subjects_and_never_drops_one() {
        let desired = ro::cluster_role_binding("shared", "shared", "second", &prov());
        let mut live = ro::cluster_role_binding("shared", "shared", "first", &prov());
        live.subjects.as_mut().unwrap().push(Subject {
            kind: "User".into(),
            name: "someone".into(),
            ..group("")
        });
        let (b, changed) = accumulated_binding(&desired, &live, "second");
        assert!(changed);
        let names: Vec<&str> = b
            .subjects
            .iter()
            .flatten()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["first", "someone", "second"]);
        assert!(binding_serves(&b, &desired, "second") && binding_serves(&b, &desired, "first"));
        let (again, changed) = accumulated_binding(&desired, &b, "second");
        assert!(!changed);
        assert_eq!(again.subjects, b.subjects);
        // A User named like the group is not the group.
        let mut user_only = live.clone();
        user_only.subjects = Some(vec![Subject {
            kind: "User".into(),
            name: "second".into(),
            ..group("")
        }]);
        assert!(accumulated_binding(&desired, &user_only, "second").1);
    }

    /// A default grant of role/scanner to `group` through `role_name`, validated.
    fn valid(group: &str, role_name: &str) -> ValidGrant {
        validate(&GrantArgs {
            role_arn: "arn:aws:iam::111122223333:role/scanner".into(),
            username: None,
            group: group.into(),
            role_name: role_name.into(),
            exclude_secrets: false,
            include_secrets: false,
            wildcard_role: false,
            force_update: false,
            allow_privileged_group: false,
            dry_run: false,
            via: crate::cli::MappingVia::AwsAuth,
            output: chronom_core::report::format::Format::Text,
        })
        .unwrap()
    }

    #[test]
    fn an_entry_the_authenticator_would_never_read_is_refused() {
        let v = valid("chronomReadOnlyGroup", "chronomReadOnlyRole");
        let readable = "- rolearn: arn:aws:iam::111122223333:role/other\n  username: other\n  groups:\n  - g\n";
        let edit = plan_aws_auth(readable, &v).expect("a plain mapRoles is edited");
        assert!(edit.new_text.is_some());
        // go-yaml v2 refuses a %YAML 1.2 directive, so the authenticator drops the section whole.
        let dropped = format!("%YAML 1.2\n---\n{readable}");
        assert!(awsauth::read_map_roles(&dropped).error.is_some());
        assert!(
            awsauth::parse_map_roles(&dropped).is_ok(),
            "the premise: the strict editor reads it"
        );
        let e = plan_aws_auth(&dropped, &v).unwrap_err();
        assert!(
            e.what.contains("aws-iam-authenticator cannot read")
                && e.what.contains("nothing was changed"),
            "{}",
            e.what
        );
    }

    #[test]
    fn plan_keeps_the_first_group_when_a_second_grant_shares_the_role() {
        let v = valid("other-readers", "shared");
        let served = DiscoveredResources::new();
        let role = ro::cluster_role(
            "shared",
            RoleProfile::ReadOnly,
            ro::profile_rules(RoleProfile::ReadOnly, &served),
            &prov(),
        );
        let live = ro::cluster_role_binding("shared", "shared", "first-readers", &prov());
        let plan = plan_rbac(&v, &served, &prov(), Some(&role), Some(&live), &[]).unwrap();
        assert_eq!(plan.role_action, Action::Unchanged);
        assert_eq!(plan.binding_action, Action::Updated);
        let names: Vec<&str> = plan
            .binding
            .subjects
            .iter()
            .flatten()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["first-readers", "other-readers"]);
    }
}
