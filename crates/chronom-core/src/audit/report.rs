//! The audit report: what `-o json`/`-o yaml` print (docs/json-schema.md) and what the
//! table and SARIF renderers read. Built purely from a `ClusterState`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::completeness::{UnreadSource, source as unread};
use super::findings::{self, Finding};
use super::inventory::{self, Inventory, Mapping, MappingSource};
use super::manifests::ClusterState;
use super::principals;
use crate::audit::findings::Severity;
use crate::awsauth::template::sample_username;
use crate::eks::access_entry::EntryWithPolicies;
use crate::eks::access_policies::{self, CLUSTER_ADMIN_POLICY, PolicyScope};
use crate::eks::posture::{self, ClusterFacts};
use crate::mapping;
use crate::rbac::{self, AccessSummary, Identity, RbacObjects, RbacSnapshot, RuleSource};
use crate::readonly_role;

/// 2: bindings are listed once per subject (`subjects`) and rules once per role (`roles`)
/// instead of inside every mapping. 3: `complete` and `incomplete` say whether every source
/// could be read (additive). See docs/json-schema.md.
pub const SCHEMA_VERSION: u32 = 3;

/// One binding that names a subject; listed under that subject in [`AuditReport::subjects`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingRow {
    /// `cluster-wide` or the RoleBinding's namespace.
    pub scope: String,
    /// `ClusterRole/name`, `Role/ns/name` or `AccessPolicy/name`; its rules are under this key in
    /// [`AuditReport::roles`] when it exists.
    pub role: String,
    pub binding: String,
    /// False when the role does not exist: the binding grants nothing.
    pub role_exists: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappedIdentity {
    #[serde(flatten)]
    pub mapping: Mapping,
    /// The Kubernetes identity the authenticator produces (templates rendered with sample values).
    pub kubernetes_user: String,
    pub kubernetes_groups: Vec<String>,
    /// cluster-admin / read-all / read-all-but-secrets / namespaced(N) / custom / none.
    pub access: String,
    /// Keys of [`AuditReport::subjects`] through which bindings reach this identity: its user,
    /// its groups, and for an access entry with modelled policies `AccessEntry/<principal>`.
    /// Subjects no binding names are left out.
    pub binding_subjects: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mismatch {
    pub principal: String,
    pub user: String,
    pub groups: Vec<String>,
    pub request: String,
    pub ours: bool,
    pub server: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Answers compared: every question for every active mapping.
    pub queries: usize,
    pub mismatches: Vec<Mismatch>,
    /// SubjectAccessReviews sent: every question once per class.
    pub reviews: usize,
    /// The classes of mappings one set of reviews answered (see `audit::review_classes`).
    pub classes: Vec<VerifiedClass>,
}

/// One class of `audit --verify`: the identity asked, and how many mappings its answers stand for.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedClass {
    pub user: String,
    pub groups: Vec<String>,
    pub mappings: usize,
}

/// What the audit reads from EKS with --cluster: DescribeCluster, and the access entries with
/// their associated access policies (as a second mapping source).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EksState {
    pub cluster: ClusterFacts,
    /// Listed in `mappings` (source `access-entry`), not here.
    #[serde(skip)]
    pub access_entries: Vec<EntryWithPolicies>,
    /// Why the access entries could not be read (the audit then misses them: CHR027).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_entries_error: Option<String>,
    /// The OIDC identity providers associated with the cluster: a way in besides IAM.
    pub identity_providers: Vec<crate::eks::oidc::OidcProvider>,
    /// Why they could not be read (the report is then incomplete: `eks:identity-providers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_providers_error: Option<String>,
    /// EKS Pod Identity associations, the input of `iam_roles_from_pods`.
    #[serde(skip)]
    pub pod_identity_associations: Vec<crate::eks::pod_roles::PodIdentityAssociation>,
    /// Why they could not be read (incomplete: `eks:pod-identity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_identity_error: Option<String>,
    /// The cluster's service accounts (IRSA annotations; whether an association's exists).
    #[serde(skip)]
    pub service_accounts: Vec<crate::eks::pod_roles::ServiceAccountSeen>,
    /// Why they could not be listed (incomplete: `serviceaccounts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_accounts_error: Option<String>,
    /// Made by the report: the IAM roles pods can assume, and which mapped principals can run
    /// such a pod.
    pub iam_roles_from_pods: Vec<crate::eks::pod_roles::ServiceAccountRole>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    pub schema_version: u32,
    /// The kubeconfig context, or `files` for --from-file.
    pub source: String,
    /// True when every source the audit needs was read; else `incomplete` says what was not,
    /// and the findings and mappings cover only what was read.
    pub complete: bool,
    /// Each source that could not be read, and why (see [`super::completeness::source`]).
    pub incomplete: Vec<UnreadSource>,
    /// False when there is no aws-auth, and when it could not be read (then `incomplete` names
    /// `aws-auth`).
    pub aws_auth_present: bool,
    pub mappings: Vec<MappedIdentity>,
    /// Every binding that reaches a mapped identity, listed once under the subject it names
    /// (`Group/name`, `User/name`, `AccessEntry/<principal>`), however many mappings share it.
    pub subjects: BTreeMap<String, Vec<BindingRow>>,
    /// The rules of every existing role in `subjects`, one line each (see [`rule_lines`]).
    pub roles: BTreeMap<String, Vec<String>>,
    pub section_errors: Vec<inventory::SectionError>,
    pub findings: Vec<Finding>,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// The EKS cluster (with --cluster): DescribeCluster facts the posture findings come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eks: Option<EksState>,
    /// What IAM said about each mapped principal, when the audit asked (docs/principals.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principals: Option<Vec<super::principals::PrincipalCheck>>,
}

impl AuditReport {
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The Kubernetes identity an active mapping yields, as the authenticator builds it.
pub fn identity_of(m: &Mapping) -> Identity {
    let account = account_of(&m.principal);
    let user = match m.source {
        MappingSource::MapAccounts => format!("arn:aws:iam::{}:role/any-role", m.principal),
        _ if m.username.is_empty() => m.principal.clone(),
        _ => sample_username(&m.username, &account),
    };
    let groups: Vec<&str> = m.groups.iter().map(String::as_str).collect();
    Identity::user(&user, &groups)
}

fn account_of(arn: &str) -> String {
    arn.split(':').nth(4).unwrap_or_default().to_string()
}

/// A snapshot of a copy of the state's RBAC objects, for small states (tests, files). The audit
/// itself takes the objects with [`take_snapshot`].
pub fn snapshot_of(state: &ClusterState, source: RuleSource) -> RbacSnapshot {
    RbacSnapshot::new(state.rbac.clone(), source)
}

/// A snapshot of the state's RBAC objects, moved rather than copied: they are most of what an
/// audit of a large cluster holds. `state.rbac` keeps only the chronom-managed ClusterRoles, as
/// stored, which [`build`] checks for drift (CHR014).
pub fn take_snapshot(state: &mut ClusterState, source: RuleSource) -> RbacSnapshot {
    let objects = std::mem::take(&mut state.rbac);
    state.rbac.cluster_roles = objects
        .cluster_roles
        .iter()
        .filter(|r| readonly_role::is_managed(&r.metadata))
        .cloned()
        .collect();
    RbacSnapshot::new(objects, source)
}

/// Whether the audit needs discovery: some chronom-managed ClusterRole has a per-resource profile
/// (CHR028 compares it with what the server serves). Clusters without one cost no extra request.
pub fn needs_discovery(cluster_roles: &[k8s_openapi::api::rbac::v1::ClusterRole]) -> bool {
    cluster_roles.iter().any(|r| {
        readonly_role::is_managed(&r.metadata)
            && readonly_role::live_profile(r).is_some_and(|p| p.is_per_resource())
    })
}

/// A role's rules, one line each: `verbs resources.groups [names]` or `verbs URLs`.
pub fn rule_lines(rules: Option<&[k8s_openapi::api::rbac::v1::PolicyRule]>) -> Vec<String> {
    rules
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let join =
                |v: &Option<Vec<String>>| v.as_ref().map(|v| v.join(",")).unwrap_or_default();
            if r.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()) {
                format!("{} {}", r.verbs.join(","), join(&r.non_resource_urls))
            } else {
                let mut s = format!(
                    "{} {}.{}",
                    r.verbs.join(","),
                    join(&r.resources),
                    join(&r.api_groups)
                );
                if r.resource_names.as_ref().is_some_and(|n| !n.is_empty()) {
                    s.push_str(&format!(" [{}]", join(&r.resource_names)));
                }
                s
            }
        })
        .collect()
}

pub fn build(source: &str, state: &ClusterState, snapshot: &RbacSnapshot) -> AuditReport {
    build_with_eks(source, state, snapshot, None)
}

/// The identity an access entry's policies are evaluated with: its own plus the group its
/// associations are bound to in the augmented snapshot.
fn identity_with_policies(m: &Mapping) -> Identity {
    let mut identity = identity_of(m);
    if m.source == MappingSource::AccessEntry && m.access_policies.iter().any(|p| p.modelled) {
        identity.add_group(&access_policies::entry_group(&m.principal));
    }
    identity
}

/// The report's `subjects` and `roles` sections, each entry computed once however many mappings
/// reach it: that keeps the report linear in objects plus mappings when many IAM roles map to
/// the same few groups.
#[derive(Default)]
struct Sections {
    subjects: BTreeMap<String, Vec<BindingRow>>,
    roles: BTreeMap<String, Vec<String>>,
}

impl Sections {
    /// The bindings naming `subject`, under `key`; filled from `snapshot` on first use. Mappings
    /// evaluated in the augmented snapshot see the same bindings for real subjects: its
    /// stand-ins name only their own `eks-access-entry:` groups.
    fn subject(
        &mut self,
        key: String,
        snapshot: &RbacSnapshot,
        subject: &rbac::SubjectRef,
    ) -> String {
        if !self.subjects.contains_key(&key) {
            let rows = rbac::lookup(snapshot, subject)
                .iter()
                .map(|r| self.row(r, snapshot))
                .collect();
            self.subjects.insert(key.clone(), rows);
        }
        key
    }

    /// A binding row as the report shows it (rows that stand for access policies say so), its
    /// role's rules rendered into `roles` the first time the role is seen.
    fn row(&mut self, r: &rbac::LookupRow, snapshot: &RbacSnapshot) -> BindingRow {
        let row = match r.role.name.strip_prefix(access_policies::ROLE_PREFIX) {
            Some(policy) => BindingRow {
                scope: r.scope.to_string(),
                role: format!("AccessPolicy/{policy}"),
                binding: "EKS access policy association".into(),
                role_exists: true,
            },
            None => BindingRow {
                scope: r.scope.to_string(),
                role: r.role.to_string(),
                binding: r.binding.to_string(),
                role_exists: r.role_exists,
            },
        };
        if r.role_exists && !self.roles.contains_key(&row.role) {
            self.roles
                .insert(row.role.clone(), rule_lines(snapshot.role_rules(&r.role)));
        }
        row
    }

    /// The keys of `subjects` that reach `identity` (see [`MappedIdentity::binding_subjects`]).
    fn of_identity(
        &mut self,
        snapshot: &RbacSnapshot,
        identity: &Identity,
        m: &Mapping,
    ) -> Vec<String> {
        let stand_in = (m.source == MappingSource::AccessEntry)
            .then(|| access_policies::entry_group(&m.principal));
        let mut keys = Vec::new();
        if snapshot.names_user(&identity.user) {
            let user = rbac::SubjectRef::user(&identity.user);
            keys.push(self.subject(user.to_string(), snapshot, &user));
        }
        for g in identity.groups.iter().filter(|g| snapshot.names_group(g)) {
            let group = rbac::SubjectRef::group(g);
            let key = if stand_in.as_ref() == Some(g) {
                format!("AccessEntry/{}", m.principal)
            } else {
                group.to_string()
            };
            let key = self.subject(key, snapshot, &group);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }
}

/// Mappings whose identities have the same groups, and usernames no binding names, hold the same
/// bindings, so they share one evaluation (the summary and capabilities cost a pass over those
/// bindings each). Group order and repeats do not matter to RBAC, so the groups are sorted.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IdentityKey {
    augmented: bool,
    user: Option<String>,
    groups: Vec<String>,
}

impl IdentityKey {
    fn new(snapshot: &RbacSnapshot, identity: &Identity, augmented: bool) -> Self {
        let mut groups = identity.groups.clone();
        groups.sort();
        groups.dedup();
        IdentityKey {
            augmented,
            user: snapshot
                .names_user(&identity.user)
                .then(|| identity.user.clone()),
            groups,
        }
    }
}

/// What RBAC gives one [`IdentityKey`]; capabilities only when an active mapping has it.
#[derive(Debug)]
struct Evaluated {
    summary: AccessSummary,
    hits: Option<(Vec<rbac::CapabilityHit>, findings::CapabilityEvidence)>,
}

/// The snapshot a mapping is evaluated against (access entries: the augmented one, when there
/// is one), whether that is the augmented one, and the mapping's identity.
fn evaluated_as<'a>(
    m: &Mapping,
    snapshot: &'a RbacSnapshot,
    augmented: Option<&'a RbacSnapshot>,
) -> (&'a RbacSnapshot, bool, Identity) {
    let is_entry = m.source == MappingSource::AccessEntry;
    let (snapshot, in_augmented) = match (augmented, is_entry) {
        (Some(a), true) => (a, true),
        _ => (snapshot, false),
    };
    let identity = if is_entry {
        identity_with_policies(m)
    } else {
        identity_of(m)
    };
    (snapshot, in_augmented, identity)
}

/// Threads for [`evaluate_identities`]: the machine's, at most 4.
fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Each distinct identity of `mappings` evaluated once (access entries against `augmented`,
/// when there is one), spread over `threads`: at 16x the 1,700 mappings are ~60 identities,
/// and checking their capabilities is the largest part of the report's work after the last
/// page (~12% less time from the last page to the end, median of 15 runs on 2 cores). Which
/// thread evaluates what changes no result.
fn evaluate_identities(
    mappings: &[Mapping],
    snapshot: &RbacSnapshot,
    augmented: Option<&RbacSnapshot>,
    checks: &[rbac::CapabilityCheck],
    threads: usize,
) -> HashMap<IdentityKey, Evaluated> {
    struct Job<'a> {
        snapshot: &'a RbacSnapshot,
        identity: Identity,
        capabilities: bool,
    }
    let mut keys: HashMap<IdentityKey, usize> = HashMap::new();
    let mut jobs: Vec<Job> = Vec::new();
    for m in mappings {
        let (snapshot, in_augmented, identity) = evaluated_as(m, snapshot, augmented);
        let key = IdentityKey::new(snapshot, &identity, in_augmented);
        let job = *keys.entry(key).or_insert_with(|| {
            jobs.push(Job {
                snapshot,
                identity,
                capabilities: false,
            });
            jobs.len() - 1
        });
        jobs[job].capabilities |= m.active;
    }
    let evaluate = |job: &Job| Evaluated {
        summary: job.snapshot.effective_summary(&job.identity),
        hits: job.capabilities.then(|| {
            let hits = job.snapshot.check_capabilities(&job.identity, checks);
            let evidence = findings::capability_evidence(&hits);
            (hits, evidence)
        }),
    };
    let mut results: Vec<Option<Evaluated>> = Vec::new();
    results.resize_with(jobs.len(), || None);
    if threads < 2 || jobs.len() < 8 {
        for (slot, job) in results.iter_mut().zip(&jobs) {
            *slot = Some(evaluate(job));
        }
    } else {
        // Interleaved, so that each thread gets a share of the costly identities wherever
        // they fall in aws-auth's order.
        let share = |t: usize| -> Vec<(usize, Evaluated)> {
            (t..jobs.len())
                .step_by(threads)
                .map(|i| (i, evaluate(&jobs[i])))
                .collect()
        };
        std::thread::scope(|scope| {
            // A thread the system cannot give is a share evaluated here instead.
            let workers: Vec<_> = (1..threads)
                .map(|t| {
                    std::thread::Builder::new()
                        .spawn_scoped(scope, move || share(t))
                        .map_err(|_| t)
                })
                .collect();
            let mut done = vec![share(0)];
            for worker in workers {
                done.push(match worker {
                    Ok(handle) => handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    Err(t) => share(t),
                });
            }
            for (i, e) in done.into_iter().flatten() {
                results[i] = Some(e);
            }
        });
    }
    keys.into_iter()
        .map(|(key, job)| {
            let e = results[job].take().expect("every identity was evaluated");
            (key, e)
        })
        .collect()
}

/// What one identity may do, for comparing the two mapping sources.
fn rights(
    snapshot: &RbacSnapshot,
    identity: &Identity,
    checks: &[rbac::CapabilityCheck],
) -> (String, Vec<&'static str>) {
    let summary = if identity.is_privileged() {
        "cluster-admin (system:masters)".to_string()
    } else {
        snapshot.effective_summary(identity).to_string()
    };
    let mut caps: Vec<&'static str> = snapshot
        .check_capabilities(identity, checks)
        .iter()
        .map(|h| h.id)
        .collect();
    caps.sort();
    caps.dedup();
    (summary, caps)
}

/// Apply what the cluster's authentication mode does to aws-auth mappings, add the access
/// entries, and raise the EKS findings that need no RBAC evaluation.
fn merge_eks(inv: &mut Inventory, eks: &EksState, out: &mut Vec<findings::Finding>) {
    let resolved = mapping::resolve(
        eks.cluster.auth_mode(),
        &mut inv.mappings,
        &eks.access_entries,
    );
    if resolved.ignored > 0 {
        out.push(findings::finding(
            findings::AWS_AUTH_IGNORED,
            format!("cluster/{}", eks.cluster.name),
            format!(
                "{} aws-auth mapping(s) are ignored: authenticationMode is API",
                resolved.ignored
            ),
        ));
    }
    let entry_mappings = resolved.entries;
    for m in &entry_mappings {
        let subject = findings::mapping_subject(m);
        for p in m
            .access_policies
            .iter()
            .filter(|p| p.policy == CLUSTER_ADMIN_POLICY && p.scope == PolicyScope::Cluster)
        {
            out.push(findings::finding(
                findings::ACCESS_POLICY_CLUSTER_ADMIN,
                &subject,
                format!(
                    "{} associated with scope cluster ({})",
                    p.policy, p.policy_arn
                ),
            ));
        }
        if m.groups.iter().any(|g| g == rbac::model::PRIVILEGED_GROUP) {
            out.push(findings::finding(
                findings::MAPPED_TO_MASTERS,
                &subject,
                format!("kubernetesGroups [{}]", m.groups.join(", ")),
            ));
        }
    }
    if let Some(why) = &eks.access_entries_error {
        out.push(findings::finding(
            findings::EKS_UNREADABLE,
            format!("cluster/{}", eks.cluster.name),
            why.clone(),
        ));
    }
    out.extend(posture::findings(&eks.cluster));
    out.extend(posture::creator_finding(&eks.cluster, &eks.access_entries));
    inv.mappings.extend(entry_mappings);
}

/// The RBAC objects plus the access policies' stand-ins, for evaluating access entries. A copy
/// of the objects, made only with --cluster.
pub fn augmented_snapshot(objects: &RbacObjects, eks: &EksState) -> RbacSnapshot {
    let mut objects = objects.clone();
    for e in &eks.access_entries {
        access_policies::add_to(&mut objects, &e.entry.principal_arn, &e.policies);
    }
    // EKS state only comes with a live cluster, whose ClusterRoles are stored aggregated.
    RbacSnapshot::new(objects, RuleSource::AsStored)
}

/// The report, with the EKS side when there is one (access entries as a second mapping
/// source, their access policies evaluated by us, the cluster's posture).
pub fn build_with_eks(
    source: &str,
    state: &ClusterState,
    snapshot: &RbacSnapshot,
    eks: Option<&EksState>,
) -> AuditReport {
    let augmented = eks.map(|e| augmented_snapshot(&state.rbac, e));
    let inv = inventory::for_audit(&state.aws_auth);
    build_with_snapshots(source, state, inv, snapshot, augmented.as_ref(), eks)
}

/// [`build_with_eks`] with aws-auth's reading ([`inventory::for_audit`] of the state's) and the
/// augmented snapshot made by the caller (from the objects, before [`take_snapshot`] moved
/// them); `augmented` is `Some` exactly when `eks` is.
pub fn build_with_snapshots(
    source: &str,
    state: &ClusterState,
    mut inv: Inventory,
    snapshot: &RbacSnapshot,
    augmented: Option<&RbacSnapshot>,
    eks: Option<&EksState>,
) -> AuditReport {
    let mut all = findings::mapping_findings(&inv);
    if let Some(e) = eks {
        merge_eks(&mut inv, e, &mut all);
    }
    let checks = rbac::dangerous_capabilities();
    let evaluated = evaluate_identities(
        &inv.mappings,
        snapshot,
        augmented,
        &checks,
        worker_threads(),
    );
    let mut sections = Sections::default();
    let mut mappings = Vec::with_capacity(inv.mappings.len());
    for m in &inv.mappings {
        let is_entry = m.source == MappingSource::AccessEntry;
        let (snapshot, in_augmented, identity) = evaluated_as(m, snapshot, augmented);
        let shared = &evaluated[&IdentityKey::new(snapshot, &identity, in_augmented)];
        let summary = shared.summary;
        // Callers whose session renders the template into a username some binding names get
        // that binding too (`dev:{{SessionName}}` and a binding to `dev:alice`).
        let templated: Vec<Identity> = super::produced::bound_usernames(m, None, snapshot)
            .into_iter()
            .filter(|u| *u != identity.user)
            .map(|u| {
                let groups: Vec<&str> = identity.groups.iter().map(String::as_str).collect();
                Identity::exact(&u, &groups)
            })
            .collect();
        if m.active {
            let (hits, evidence) = shared
                .hits
                .as_ref()
                .expect("an active mapping's identity has its capabilities checked");
            let mut summary = summary;
            let merged_evidence;
            let mut evidence: &findings::CapabilityEvidence = evidence;
            if !templated.is_empty() {
                let mut merged = hits.to_vec();
                for other in &templated {
                    if snapshot.effective_summary(other) == AccessSummary::ClusterAdmin {
                        summary = AccessSummary::ClusterAdmin;
                    }
                    merge_hits(&mut merged, snapshot.check_capabilities(other, &checks));
                }
                merged_evidence = findings::capability_evidence(&merged);
                evidence = &merged_evidence;
            }
            let mut found = findings::access_findings(m, &identity, summary, evidence, snapshot);
            if is_entry
                && all.iter().any(|f| {
                    f.rule == findings::ACCESS_POLICY_CLUSTER_ADMIN.id
                        && f.subject == findings::mapping_subject(m)
                })
            {
                // CHR020 names the association that makes it cluster-admin; CHR002 would repeat it.
                found.retain(|f| f.rule != findings::CLUSTER_ADMIN.id);
            }
            all.extend(found);
        }
        if is_entry && eks.is_some() {
            all.extend(mapped_twice(&inv, m, &identity, snapshot, &checks));
        }
        let mut binding_subjects = sections.of_identity(snapshot, &identity, m);
        for other in &templated {
            let user = rbac::SubjectRef::user(&other.user);
            let key = sections.subject(user.to_string(), snapshot, &user);
            if !binding_subjects.contains(&key) {
                binding_subjects.push(key);
            }
        }
        mappings.push(mapped_identity(m, &identity, summary, binding_subjects));
    }
    all.extend(role_findings(state, snapshot));
    let mut eks_out = eks.cloned();
    if let Some(e) = eks_out.as_mut() {
        // OIDC identities get no access policies: the cluster's own RBAC is what they reach.
        all.extend(crate::eks::oidc::findings(&e.identity_providers, snapshot));
        e.iam_roles_from_pods = pods_to_iam(e, &inv, snapshot, augmented);
        all.extend(crate::eks::pod_roles::findings(&e.iam_roles_from_pods));
    }
    findings::sort(&mut all);
    let counts = counts_of(&all);
    let mut incomplete = state.unread.clone();
    if let Some(why) = eks.and_then(|e| e.access_entries_error.as_ref()) {
        // Also CHR027: the finding says what is at stake, this says the report is partial.
        incomplete.push(UnreadSource::new(unread::EKS_ACCESS_ENTRIES, why.clone()));
    }
    if let Some(why) = eks.and_then(|e| e.identity_providers_error.as_ref()) {
        incomplete.push(UnreadSource::new(
            unread::EKS_IDENTITY_PROVIDERS,
            why.clone(),
        ));
    }
    if let Some(why) = eks.and_then(|e| e.pod_identity_error.as_ref()) {
        incomplete.push(UnreadSource::new(unread::EKS_POD_IDENTITY, why.clone()));
    }
    if let Some(why) = eks.and_then(|e| e.service_accounts_error.as_ref()) {
        incomplete.push(UnreadSource::new(unread::SERVICE_ACCOUNTS, why.clone()));
    }
    AuditReport {
        schema_version: SCHEMA_VERSION,
        source: source.to_string(),
        complete: incomplete.is_empty(),
        incomplete,
        aws_auth_present: state.aws_auth_present,
        mappings,
        subjects: sections.subjects,
        roles: sections.roles,
        section_errors: inv.section_errors,
        findings: all,
        counts,
        verification: None,
        eks: eks_out,
        principals: None,
    }
}

/// The IAM roles pods can assume, and which active mappings can run such a pod, each evaluated
/// as its mapping is (access entries with policies in the augmented snapshot).
fn pods_to_iam(
    eks: &EksState,
    inv: &Inventory,
    snapshot: &RbacSnapshot,
    augmented: Option<&RbacSnapshot>,
) -> Vec<crate::eks::pod_roles::ServiceAccountRole> {
    use crate::eks::pod_roles;
    let mut roles = pod_roles::inventory(&eks.pod_identity_associations, &eks.service_accounts);
    if roles.is_empty() {
        return roles;
    }
    let evaluated: Vec<pod_roles::Evaluated> = inv
        .mappings
        .iter()
        .filter(|m| m.active)
        .map(|m| match (m.source, augmented) {
            (MappingSource::AccessEntry, Some(a)) => pod_roles::Evaluated {
                mapping: m,
                identity: identity_with_policies(m),
                snapshot: a,
            },
            _ => pod_roles::Evaluated {
                mapping: m,
                identity: identity_of(m),
                snapshot,
            },
        })
        .collect();
    pod_roles::reach(&mut roles, &evaluated);
    roles
}

/// Adds a templated username's capabilities to the mapping's: one hit per capability, with
/// the scopes and evidence of both.
fn merge_hits(into: &mut Vec<rbac::CapabilityHit>, more: Vec<rbac::CapabilityHit>) {
    for hit in more {
        match into.iter_mut().find(|h| h.id == hit.id) {
            Some(h) => {
                for scope in hit.scopes {
                    if !h.scopes.contains(&scope) {
                        h.scopes.push(scope);
                    }
                }
                for grant in hit.evidence {
                    if !h.evidence.contains(&grant) {
                        h.evidence.push(grant);
                    }
                }
                h.privileged_group |= hit.privileged_group;
                if h.scopes.contains(&rbac::Scope::Cluster) {
                    h.scopes.retain(|s| *s == rbac::Scope::Cluster);
                }
            }
            None => into.push(hit),
        }
    }
}

/// A mapping as the report shows it: the identity it authenticates as and what that may do.
fn mapped_identity(
    m: &Mapping,
    identity: &Identity,
    summary: AccessSummary,
    binding_subjects: Vec<String>,
) -> MappedIdentity {
    MappedIdentity {
        mapping: m.clone(),
        kubernetes_user: identity.user.clone(),
        // The policies' stand-in group exists only inside our evaluation.
        kubernetes_groups: identity
            .groups
            .iter()
            .filter(|g| !g.starts_with(access_policies::GROUP_PREFIX))
            .cloned()
            .collect(),
        access: if identity.is_privileged() {
            "cluster-admin (system:masters)".into()
        } else {
            summary.to_string()
        },
        binding_subjects,
    }
}

/// The findings about roles rather than mappings: the RBAC rules, and the chronom roles that
/// miss a served resource (when discovery was read).
fn role_findings(state: &ClusterState, snapshot: &RbacSnapshot) -> Vec<Finding> {
    let chronom_roles: Vec<(String, Vec<k8s_openapi::api::rbac::v1::PolicyRule>)> = state
        .rbac
        .cluster_roles
        .iter()
        .filter(|r| readonly_role::is_managed(&r.metadata))
        .map(|r| {
            (
                r.metadata.name.clone().unwrap_or_default(),
                r.rules.clone().unwrap_or_default(),
            )
        })
        .collect();
    let mut out = findings::rbac_findings(snapshot, &chronom_roles);
    if let Some(discovered) = &state.discovered {
        out.extend(findings::role_gap_findings(
            &state.rbac.cluster_roles,
            discovered,
        ));
    }
    out
}

/// How many findings of each severity.
pub(crate) fn counts_of(all: &[Finding]) -> Counts {
    let mut counts = Counts::default();
    for f in all {
        match f.severity {
            Severity::Critical => counts.critical += 1,
            Severity::High => counts.high += 1,
            Severity::Medium => counts.medium += 1,
            Severity::Low => counts.low += 1,
            Severity::Info => counts.info += 1,
        }
    }
    counts
}

/// CHR021 for an access entry: each aws-auth mapping of the same principal that gives other
/// rights.
fn mapped_twice(
    inv: &Inventory,
    m: &Mapping,
    identity: &Identity,
    snapshot: &RbacSnapshot,
    checks: &[rbac::CapabilityCheck],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for other in inv.mappings.iter().filter(|o| {
        o.source != MappingSource::AccessEntry && mapping::same_principal(o, &m.principal)
    }) {
        let theirs = rights(snapshot, &identity_of(other), checks);
        let ours = rights(snapshot, identity, checks);
        if theirs != ours {
            let line = other.line.map(|l| format!(" line {l}")).unwrap_or_default();
            out.push(findings::finding(
                findings::MAPPED_TWICE,
                findings::mapping_subject(m),
                format!(
                    "aws-auth {}{line} gives {} (user {:?}, groups [{}]); the access entry gives {} (user {:?}, groups [{}]{}){}",
                    other.source.as_str(),
                    theirs.0,
                    other.username,
                    other.groups.join(", "),
                    ours.0,
                    m.username,
                    m.groups.join(", "),
                    if m.access_policies.is_empty() { String::new() } else { format!(", policies {}", m.access_policies.iter().map(|p| p.describe()).collect::<Vec<_>>().join("; ")) },
                    if other.state == "overridden" { "; EKS uses the access entry" } else { "" }
                ),
            ));
        }
    }
    out
}

/// Adds the checks to a built report: the `principals` section, the findings (sorted, counted
/// again) and what was not checked (which makes the report incomplete).
pub fn apply_principal_checks(
    report: &mut AuditReport,
    answers: &BTreeMap<String, principals::IamAnswer>,
    now_epoch: i64,
    stale_days: u32,
) {
    let mappings: Vec<Mapping> = report.mappings.iter().map(|m| m.mapping.clone()).collect();
    let entry_created: BTreeMap<String, i64> = report
        .eks
        .iter()
        .flat_map(|e| &e.access_entries)
        .filter_map(|e| Some((e.entry.principal_arn.clone(), e.entry.created_at_epoch?)))
        .collect();
    let outcome = principals::evaluate(
        &mappings,
        &report.findings,
        principals::Judgement {
            answers,
            now_epoch,
            stale_days,
            entry_created: &entry_created,
        },
    );
    report.findings.extend(outcome.findings);
    findings::sort(&mut report.findings);
    report.counts = counts_of(&report.findings);
    report.incomplete.extend(outcome.unread);
    report.complete = report.incomplete.is_empty();
    report.principals = Some(outcome.checks);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threads share the identities out; the evaluation of each is the same as on one thread,
    /// shadowed (inactive) mappings included.
    #[test]
    fn identities_evaluated_on_several_threads_are_evaluated_as_on_one() {
        let mut s = state();
        let mut roles = String::new();
        for i in 0..14 {
            let groups = match i % 4 {
                0 => "[team]".to_string(),
                1 => format!("[team, extra-{i}]"),
                2 => "[]".to_string(),
                _ => "[system:masters]".to_string(),
            };
            roles.push_str(&format!(
                "- rolearn: arn:aws:iam::111122223333:role/t{i}\n  username: {}\n  groups: {groups}\n",
                if i % 3 == 0 { "alice".to_string() } else { format!("u{i}:{{{{SessionName}}}}") }
            ));
        }
        // A second entry for t0: shadowed, so inactive.
        roles.push_str(
            "- rolearn: arn:aws:iam::111122223333:role/t0\n  username: other\n  groups: [team]\n",
        );
        s.aws_auth.insert("mapRoles".into(), roles);
        let inv = inventory::from_aws_auth(&s.aws_auth);
        assert!(
            inv.mappings.iter().any(|m| !m.active),
            "the fixture has an inactive mapping"
        );
        let snapshot = snapshot_of(&s, RuleSource::Aggregate);
        let checks = rbac::dangerous_capabilities();
        let sorted = |e: HashMap<IdentityKey, Evaluated>| {
            let mut v: Vec<String> = e.iter().map(|(k, v)| format!("{k:?} {v:?}")).collect();
            v.sort();
            v
        };
        let one = sorted(evaluate_identities(
            &inv.mappings,
            &snapshot,
            None,
            &checks,
            1,
        ));
        assert!(
            one.len() >= 8,
            "enough identities for threads: {}",
            one.len()
        );
        for threads in [2, 3, 4] {
            let many = evaluate_identities(&inv.mappings, &snapshot, None, &checks, threads);
            assert_eq!(sorted(many), one, "{threads} threads");
        }
    }

    /// Three IAM roles on one team group, one IAM user who is also bound by name, and the
    /// defaults every authenticated user holds.
    fn state() -> ClusterState {
        let mut s = ClusterState::default();
        let rbac = "\
kind: ClusterRole
metadata: {name: view}
rules: [{apiGroups: [''], resources: [pods], verbs: [get, list]}]
---
kind: ClusterRole
metadata: {name: admin}
rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]
---
kind: ClusterRole
metadata: {name: 'system:basic-user'}
rules: [{apiGroups: [authorization.k8s.io], resources: [selfsubjectaccessreviews], verbs: [create]}]
---
kind: ClusterRoleBinding
metadata: {name: 'system:basic-user'}
roleRef: {kind: ClusterRole, name: 'system:basic-user'}
subjects: [{kind: Group, name: 'system:authenticated'}]
---
kind: RoleBinding
metadata: {name: team-view, namespace: a}
roleRef: {kind: ClusterRole, name: view}
subjects: [{kind: Group, name: team}]
---
kind: RoleBinding
metadata: {name: team-view, namespace: c}
roleRef: {kind: ClusterRole, name: view}
subjects: [{kind: Group, name: team}, {kind: User, name: alice}]
---
kind: RoleBinding
metadata: {name: alice-admin, namespace: b}
roleRef: {kind: ClusterRole, name: admin}
subjects: [{kind: User, name: alice}]
---
kind: RoleBinding
metadata: {name: ghost, namespace: b}
roleRef: {kind: ClusterRole, name: missing}
subjects: [{kind: Group, name: team}]
---
kind: ConfigMap
metadata: {name: aws-auth, namespace: kube-system}
data:
  mapRoles: |
    - rolearn: arn:aws:iam::111122223333:role/r1
      username: r1
      groups: [team]
    - rolearn: arn:aws:iam::111122223333:role/r2
      username: r2:{{SessionName}}
      groups: [team, team]
    - rolearn: arn:aws:iam::111122223333:role/r3
      username: r3
      groups: [team]
  mapUsers: |
    - userarn: arn:aws:iam::111122223333:user/alice
      username: alice
      groups: [team]
";
        s.add_text("t.yaml", rbac).unwrap();
        s
    }

    fn key(r: &rbac::LookupRow) -> (String, String, String) {
        (
            r.scope.to_string(),
            r.role.to_string(),
            r.binding.to_string(),
        )
    }

    #[test]
    fn each_subject_and_role_is_listed_once_and_every_mapping_gets_its_own_bindings_back() {
        let s = state();
        let snapshot = snapshot_of(&s, RuleSource::AsStored);
        let r = build("t", &s, &snapshot);
        assert_eq!(r.schema_version, 3);
        assert!(
            r.complete && r.incomplete.is_empty(),
            "files are read whole"
        );
        let keys: Vec<&str> = r.subjects.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["Group/system:authenticated", "Group/team", "User/alice"]
        );
        let roles: Vec<&str> = r.roles.keys().map(String::as_str).collect();
        assert_eq!(
            roles,
            [
                "ClusterRole/admin",
                "ClusterRole/system:basic-user",
                "ClusterRole/view"
            ],
            "the missing role has no rules to list"
        );
        assert_eq!(r.roles["ClusterRole/view"], ["get,list pods."]);
        assert!(
            r.subjects["Group/team"]
                .iter()
                .any(|b| b.role == "ClusterRole/missing" && !b.role_exists)
        );

        for m in &r.mappings {
            // What schema 1 listed inside the mapping: every binding reaching its identity.
            let identity = identity_of(&m.mapping);
            let want: std::collections::BTreeSet<_> = rbac::lookup_identity(&snapshot, &identity)
                .iter()
                .map(key)
                .collect();
            let got: std::collections::BTreeSet<_> = m
                .binding_subjects
                .iter()
                .flat_map(|k| r.subjects[k].iter())
                .map(|b| (b.scope.clone(), b.role.clone(), b.binding.clone()))
                .collect();
            assert_eq!(got, want, "{}", m.mapping.principal);
            assert_eq!(
                m.access,
                snapshot.effective_summary(&identity).to_string(),
                "{}: the shared evaluation is the mapping's own",
                m.mapping.principal
            );
        }
        let alice = r
            .mappings
            .iter()
            .find(|m| m.mapping.principal.ends_with("user/alice"))
            .unwrap();
        assert_eq!(
            alice.binding_subjects,
            ["User/alice", "Group/team", "Group/system:authenticated"]
        );
        assert_eq!(
            alice.access, "namespaced(3)",
            "her own admin binding in b counts: the user is part of the sharing key"
        );
        let r2 = r
            .mappings
            .iter()
            .find(|m| m.mapping.principal.ends_with("role/r2"))
            .unwrap();
        assert_eq!(
            r2.binding_subjects,
            ["Group/team", "Group/system:authenticated"],
            "a repeated group is listed once"
        );
        assert_eq!(r2.access, "namespaced(2)");
    }

    fn chronom_role(
        profile: readonly_role::RoleProfile,
    ) -> k8s_openapi::api::rbac::v1::ClusterRole {
        readonly_role::cluster_role(
            "chronomReadOnlyRole",
            profile,
            readonly_role::profile_rules(profile, &readonly_role::DiscoveredResources::new()),
            &readonly_role::Provenance {
                granted_by: "a".into(),
                granted_at: "t".into(),
            },
        )
    }

    #[test]
    fn discovery_is_needed_only_for_a_managed_per_resource_role() {
        use readonly_role::RoleProfile;
        assert!(!needs_discovery(&[]));
        assert!(!needs_discovery(&[chronom_role(RoleProfile::Wildcard)]));
        assert!(needs_discovery(&[chronom_role(RoleProfile::ReadOnly)]));
        assert!(needs_discovery(&[chronom_role(
            RoleProfile::ReadOnlyWithSecrets
        )]));
        let mut foreign = chronom_role(RoleProfile::ReadOnly);
        foreign.metadata.labels = None;
        assert!(!needs_discovery(&[foreign]));
    }

    #[test]
    fn the_report_carries_chr028_when_discovery_shows_an_unread_resource() {
        let mut s = ClusterState::default();
        s.rbac.cluster_roles = vec![chronom_role(readonly_role::RoleProfile::ReadOnly)];
        let without = build("t", &s, &snapshot_of(&s, RuleSource::AsStored));
        assert!(!without.findings.iter().any(|f| f.rule == "CHR028"));
        let mut d = readonly_role::DiscoveredResources::new();
        d.entry("example.com".into())
            .or_default()
            .insert("widgets".into(), ["get", "list"].map(String::from).into());
        s.discovered = Some(d);
        let with = build("t", &s, &snapshot_of(&s, RuleSource::AsStored));
        let f: Vec<_> = with
            .findings
            .iter()
            .filter(|f| f.rule == "CHR028")
            .collect();
        assert_eq!(f.len(), 1, "{:?}", with.findings);
        assert!(
            f[0].evidence.contains("widgets.example.com"),
            "{}",
            f[0].evidence
        );
        assert_eq!(with.counts.low, without.counts.low + 1);
    }

    /// The audit path: an Edit policy scoped to `dev-*` is evaluated in the namespaces it
    /// names, so the entry's exec and secret rights are findings and its access is namespaced.
    #[test]
    fn a_wildcard_access_policy_scope_reaches_the_findings() {
        use crate::eks::access_entry::{AccessEntryView, EntryWithPolicies};
        use crate::eks::access_policies::{Association, PolicyScope};
        let arn = "arn:aws:iam::111122223333:role/dev";
        let eks = |namespaces: &[&str]| EksState {
            cluster: crate::eks::posture::ClusterFacts {
                name: "prod".into(),
                authentication_mode: Some("API".into()),
                ..Default::default()
            },
            access_entries: vec![EntryWithPolicies {
                entry: AccessEntryView {
                    principal_arn: arn.into(),
                    username: "dev".into(),
                    entry_type: "STANDARD".into(),
                    ..Default::default()
                },
                policies: vec![Association::new(
                    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
                    PolicyScope::Namespace {
                        namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
                    },
                )],
            }],
            access_entries_error: None,
            ..Default::default()
        };
        let s = ClusterState::default();
        let snapshot = snapshot_of(&s, RuleSource::AsStored);
        let r = build_with_eks("t", &s, &snapshot, Some(&eks(&["dev-*"])));
        let exec = r
            .findings
            .iter()
            .find(|f| f.rule == "CHR005" && f.subject.contains(arn))
            .unwrap_or_else(|| panic!("pods/exec in dev-*: {:#?}", r.findings));
        assert!(exec.evidence.contains("dev-*"), "{}", exec.evidence);
        let json = serde_json::to_value(&r).unwrap();
        let row = json["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["principal"] == arn)
            .unwrap();
        assert_eq!(row["access"], "namespaced(1)", "{row}");
        // The same policy in a literal namespace gives the same findings: the pattern is
        // not weaker than a name.
        let literal = build_with_eks("t", &s, &snapshot, Some(&eks(&["dev-x"])));
        let rules = |r: &AuditReport| {
            let mut v: Vec<&str> = r.findings.iter().map(|f| f.rule).collect();
            v.sort();
            v
        };
        assert_eq!(rules(&r), rules(&literal));
    }

    /// An Auto Mode cluster role's policies are evaluated (approximated from prose): its
    /// webhook rights are a finding, and the mapping says the rights are approximated.
    #[test]
    fn auto_mode_policies_are_evaluated_and_said_to_be_approximated() {
        use crate::eks::access_entry::{AccessEntryView, EntryWithPolicies};
        use crate::eks::access_policies::{Association, PolicyScope};
        let arn = "arn:aws:iam::111122223333:role/eks-cluster-role";
        let eks = EksState {
            cluster: crate::eks::posture::ClusterFacts {
                name: "auto".into(),
                authentication_mode: Some("API".into()),
                ..Default::default()
            },
            access_entries: vec![EntryWithPolicies {
                entry: AccessEntryView {
                    principal_arn: arn.into(),
                    username: "eks-cluster-role".into(),
                    entry_type: "STANDARD".into(),
                    ..Default::default()
                },
                policies: [
                    "AmazonEKSLoadBalancingClusterPolicy",
                    "AmazonEKSComputeClusterPolicy",
                ]
                .iter()
                .map(|p| {
                    Association::new(
                        &format!("arn:aws:eks::aws:cluster-access-policy/{p}"),
                        PolicyScope::Cluster,
                    )
                })
                .collect(),
            }],
            access_entries_error: None,
            ..Default::default()
        };
        let s = ClusterState::default();
        let r = build_with_eks("t", &s, &snapshot_of(&s, RuleSource::AsStored), Some(&eks));
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule == findings::WEBHOOKS.id && f.subject.contains(arn)),
            "{:#?}",
            r.findings
        );
        let json = serde_json::to_value(&r).unwrap();
        let row = json["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["principal"] == arn)
            .unwrap();
        assert_eq!(row["accessPolicies"][0]["approximated"], true, "{row}");
        assert!(row["notes"].to_string().contains("prose"), "{row}");
    }

    /// OIDC providers are inventoried in JSON and in the table, evaluated against the
    /// cluster's RBAC, and an unreadable list makes the report incomplete.
    #[test]
    fn oidc_providers_are_inventoried_and_judged() {
        let s = state();
        let snapshot = snapshot_of(&s, RuleSource::AsStored);
        let eks = EksState {
            identity_providers: vec![crate::eks::oidc::OidcProvider {
                name: "corp".into(),
                issuer_url: "https://idp.example.com".into(),
                client_id: "kubernetes".into(),
                groups_claim: Some("groups".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = build_with_eks("t", &s, &snapshot, Some(&eks));
        assert!(r.complete);
        let f = r
            .findings
            .iter()
            .find(|f| f.rule == findings::OIDC_GROUPS_UNPREFIXED.id)
            .unwrap_or_else(|| panic!("{:#?}", r.findings));
        assert!(f.subject.contains("oidc/corp"), "{}", f.subject);
        let json = serde_json::to_value(&r).unwrap();
        let p = &json["eks"]["identityProviders"][0];
        assert_eq!(p["issuerUrl"], "https://idp.example.com");
        assert_eq!(p["usernames"], "https://idp.example.com#<sub>");
        assert_eq!(p["groups"], "<groups>");
        let table = crate::report::audit_table::render(&r, false);
        assert!(table.contains("OIDC IDENTITY PROVIDERS"), "{table}");
        assert!(
            table.lines().any(|l| l.trim_start().starts_with("corp")
                && l.contains("https://idp.example.com#<sub>")),
            "{table}"
        );

        let unread = EksState {
            identity_providers_error: Some("AWS denied it".into()),
            ..Default::default()
        };
        let r = build_with_eks("t", &s, &snapshot, Some(&unread));
        assert!(!r.complete);
        assert_eq!(r.incomplete[0].source, "eks:identity-providers");
    }

    /// Pod Identity and IRSA through the report: the roles are in `eks.iamRolesFromPods` and
    /// the table, with the mappings that can make a pod there; CHR048 names them; unreadable
    /// inputs make the report incomplete.
    #[test]
    fn iam_roles_from_pods_are_reported_with_who_reaches_them() {
        use crate::eks::pod_roles::{PodIdentityAssociation, ServiceAccountSeen};
        // In state(): alice is admin (everything) in namespace b; team reads pods in a and c.
        let s = state();
        let snapshot = snapshot_of(&s, RuleSource::AsStored);
        let eks = EksState {
            pod_identity_associations: vec![PodIdentityAssociation {
                association_id: "a-1".into(),
                namespace: "b".into(),
                service_account: "uploader".into(),
                role_arn: "arn:aws:iam::111122223333:role/s3".into(),
                target_role_arn: None,
            }],
            service_accounts: vec![
                ServiceAccountSeen {
                    namespace: "b".into(),
                    name: "uploader".into(),
                    irsa_role_arn: None,
                },
                ServiceAccountSeen {
                    namespace: "a".into(),
                    name: "reporter".into(),
                    irsa_role_arn: Some("arn:aws:iam::111122223333:role/reports".into()),
                },
            ],
            ..Default::default()
        };
        let r = build_with_eks("t", &s, &snapshot, Some(&eks));
        assert!(r.complete);
        let json = serde_json::to_value(&r).unwrap();
        let roles = json["eks"]["iamRolesFromPods"].as_array().unwrap();
        assert_eq!(roles.len(), 2, "{roles:#?}");
        let s3 = roles.iter().find(|r| r["via"] == "pod-identity").unwrap();
        assert_eq!(
            s3["reachableBy"][0]["principal"],
            "arn:aws:iam::111122223333:user/alice"
        );
        assert_eq!(s3["reachableBy"][0]["by"], "create pods");
        let reports = roles.iter().find(|r| r["via"] == "irsa").unwrap();
        assert_eq!(
            reports["reachableBy"],
            serde_json::json!([]),
            "readers only read"
        );
        let f: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.rule == findings::POD_REACHES_IAM_ROLE.id)
            .collect();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(f[0].subject.contains("b/uploader"), "{}", f[0].subject);
        let table = crate::report::audit_table::render(&r, false);
        assert!(table.contains("IAM ROLES FROM PODS"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.contains("b/uploader") && l.contains("user/alice (create pods)")),
            "{table}"
        );

        let unread = EksState {
            pod_identity_error: Some("AWS denied it".into()),
            service_accounts_error: Some("403".into()),
            ..Default::default()
        };
        let r = build_with_eks("t", &s, &snapshot, Some(&unread));
        let sources: Vec<&str> = r.incomplete.iter().map(|u| u.source.as_str()).collect();
        assert_eq!(sources, ["eks:pod-identity", "serviceaccounts"]);
    }

    #[test]
    fn every_unread_source_makes_the_report_incomplete_in_every_format() {
        let mut s = state();
        s.unread = vec![UnreadSource::new(
            unread::ROLE_BINDINGS,
            "listing rolebindings in all namespaces: the API server answered 403: forbidden",
        )];
        let eks = EksState {
            access_entries_error: Some("AWS denied it".into()),
            ..Default::default()
        };
        let r = build_with_eks("t", &s, &snapshot_of(&s, RuleSource::AsStored), Some(&eks));
        assert!(!r.complete);
        assert_eq!(
            r.incomplete
                .iter()
                .map(|u| u.source.as_str())
                .collect::<Vec<_>>(),
            ["rolebindings", "eks:access-entries"]
        );
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule == findings::EKS_UNREADABLE.id),
            "CHR027 stays"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["complete"], false);
        assert_eq!(json["incomplete"][0]["source"], "rolebindings");
        assert!(
            json["incomplete"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("403")
        );
        let table = crate::report::audit_table::render(&r, false);
        assert!(
            table.starts_with("INCOMPLETE: 2 source(s) could not be read"),
            "{table}"
        );
        assert!(
            table.contains("\nINCOMPLETE (sources the audit could not read)\n"),
            "{table}"
        );
        assert!(
            table
                .lines()
                .any(|l| l.trim_start().starts_with("rolebindings") && l.contains("403")),
            "{table}"
        );
        let sarif: serde_json::Value =
            serde_json::from_str(&crate::report::sarif::render(&r)).unwrap();
        let inv = &sarif["runs"][0]["invocations"][0];
        assert_eq!(inv["executionSuccessful"], false);
        let notes = inv["toolExecutionNotifications"].as_array().unwrap();
        assert_eq!(notes.len(), 2);
        assert!(notes.iter().all(|n| n["level"] == "error"));

        let clean = build("t", &state(), &snapshot_of(&state(), RuleSource::AsStored));
        assert!(clean.complete && clean.incomplete.is_empty());
        let table = crate::report::audit_table::render(&clean, false);
        assert!(!table.contains("INCOMPLETE"), "{table}");
        let sarif: serde_json::Value =
            serde_json::from_str(&crate::report::sarif::render(&clean)).unwrap();
        assert_eq!(
            sarif["runs"][0]["invocations"][0]["executionSuccessful"],
            true
        );
    }

    #[test]
    fn taking_the_snapshot_keeps_only_the_chronom_roles_and_changes_nothing_in_the_report() {
        let mut s = ClusterState::default();
        s.add_text(
            "rbac.yaml",
            include_str!("../../../../tests/fixtures/audit/rbac.yaml"),
        )
        .unwrap();
        s.add_text(
            "aws-auth.yaml",
            include_str!("../../../../tests/fixtures/audit/aws-auth.yaml"),
        )
        .unwrap();
        let copied = build("t", &s, &snapshot_of(&s, RuleSource::Aggregate));
        let mut taken_state = s.clone();
        let taken = take_snapshot(&mut taken_state, RuleSource::Aggregate);
        let names: Vec<_> = taken_state
            .rbac
            .cluster_roles
            .iter()
            .map(|r| r.metadata.name.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(names, ["chronomReadOnlyRole"]);
        assert!(
            taken_state.rbac.role_bindings.is_empty()
                && taken_state.rbac.cluster_role_bindings.is_empty()
        );
        let after = build("t", &taken_state, &taken);
        assert_eq!(
            serde_json::to_value(&after).unwrap(),
            serde_json::to_value(&copied).unwrap()
        );
        assert!(
            after
                .findings
                .iter()
                .any(|f| f.rule == findings::CHRONOM_DRIFT.id),
            "CHR014 still sees the stored chronom role"
        );
    }

    #[test]
    fn applied_principal_checks_add_findings_counts_and_the_principals_section() {
        use crate::audit::principals::IamAnswer;
        use crate::audit::principals::fixture::*;
        let state = ClusterState {
            aws_auth: BTreeMap::from([(
                "mapRoles".to_string(),
                role(ADMIN, "system:masters", None),
            )]),
            aws_auth_present: true,
            ..Default::default()
        };
        let mut built = build(
            "ctx",
            &state,
            &snapshot_of(&state, crate::rbac::RuleSource::Aggregate),
        );
        let before = built.counts.critical;
        assert!(built.complete);
        apply_principal_checks(
            &mut built,
            &BTreeMap::from([(key(ADMIN), IamAnswer::Missing)]),
            NOW,
            90,
        );
        assert_eq!(built.counts.critical, before + 1);
        assert_eq!(built.findings[0].severity, Severity::Critical);
        assert!(built.complete);
        let json = serde_json::to_value(&built).unwrap();
        assert_eq!(json["principals"][0]["status"], "missing");
        assert_eq!(json["principals"][0]["arn"], ADMIN);
        apply_principal_checks(&mut built, &BTreeMap::new(), NOW, 90);
        assert!(!built.complete);
        assert_eq!(built.incomplete[0].source, "iam:principals");
    }
}
