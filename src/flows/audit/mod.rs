//! `audit`: who maps to what through aws-auth, what they can really do, what is dangerous.
//!
//! The shell lists the four RBAC kinds and reads aws-auth (a constant number of paginated
//! requests, whatever the cluster's size), or reads manifests; everything else is pure.

pub mod mapping_source;
pub mod principals;
pub mod queries;
pub mod sar_check;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::api::{Api, ListParams};

use crate::adapters::kube::{self as connect, Connection};
use crate::cli::{AuditArgs, AuditQuery, GlobalArgs};
use chronom_core::audit::completeness::{self, UnreadSource, Verdict, source};
use chronom_core::audit::inventory::{self, Inventory};
use chronom_core::audit::manifests::ClusterState;
use chronom_core::audit::page_proto::{self, FromProtobuf};
use chronom_core::audit::page_stream::PageStream;
use chronom_core::audit::report;
use chronom_core::error::UserError;
use chronom_core::rbac::{QueryScope, RbacObjects, RuleSource};
use chronom_core::report::format::Format;

/// Items per LIST page. The API server spends ~4 ms on each continue request beyond the
/// objects' own cost: at 16x (15,198 RBAC objects) pages of 500 (kubectl's) take 35 requests
/// and 0.227 s to replay, pages of 5,000 take 7 and 0.111 s. A page of 5,000 RoleBindings is
/// ~4.6 MB of JSON, parsed and dropped before the next.
const PAGE_SIZE: u32 = 5000;

/// The audit, or the query it names; the exit code follows the audit gate.
pub(crate) async fn run(global: &GlobalArgs, args: &AuditArgs) -> Result<i32, UserError> {
    match &args.query {
        Some(AuditQuery::WhoCan(q)) => queries::who_can(global, q).await,
        Some(AuditQuery::Lookup(q)) => queries::lookup(global, q).await,
        None => audit(global, args).await,
    }
}

/// `--verify` asks a live API server: refused with `--from-file`, for one cluster and for the
/// fleet alike, before anything is read.
pub(crate) fn check_verify_source(args: &AuditArgs) -> Result<(), UserError> {
    if args.verify && !args.from_file.is_empty() {
        return Err(UserError::usage(
            "--verify asks a live API server, so it cannot be combined with --from-file",
            "drop --verify to audit files, or drop --from-file to verify against the current context",
        ));
    }
    Ok(())
}

/// The audit of one cluster (or of manifests); `commands` sends `--all-clusters` to the fleet.
async fn audit(global: &GlobalArgs, args: &AuditArgs) -> Result<i32, UserError> {
    check_verify_source(args)?;
    let live = LiveOptions {
        verify: args.verify,
        principals: principals::PrincipalOptions::of(global, args),
    };
    let built = build_report(global, &args.from_file, live).await?;
    match args.output {
        Format::Wide => {
            crate::report::print_text(&chronom_core::report::audit_table::render(&built, true))?
        }
        Format::Json | Format::Yaml => crate::report::print_structured(args.output, &built)?,
        Format::Sarif => crate::report::print_text(&chronom_core::report::sarif::render(&built))?,
        // audit accepts table, wide, json, yaml and sarif (cli.rs); text would be the table.
        Format::Table | Format::Text => {
            crate::report::print_text(&chronom_core::report::audit_table::render(&built, false))?
        }
    }
    let mismatches = built
        .verification
        .as_ref()
        .map_or(0, |v| v.mismatches.len());
    if let Some(v) = &built.verification {
        if mismatches > 0 {
            eprintln!(
                "error: {} of {} answers differ from the live authorizer (see verification in the report)\n  next: report this with the -o json output; the report cannot be trusted for these identities",
                mismatches, v.queries
            );
        } else {
            eprintln!(
                "verified: {} answers agree with the live authorizer",
                v.queries
            );
        }
    }
    if !built.complete {
        let unread: Vec<(String, &UnreadSource)> = built
            .incomplete
            .iter()
            .map(|u| (String::new(), u))
            .collect();
        eprint!(
            "{}",
            completeness::stderr_message("the audit", &unread, args.allow_incomplete)
        );
    }
    let severities: Vec<chronom_core::audit::findings::Severity> =
        built.findings.iter().map(|f| f.severity).collect();
    let verdict = completeness::gate(completeness::GateInput {
        mismatches,
        severities: &severities,
        fail_on: args.fail_on,
        complete: built.complete,
        allow_incomplete: args.allow_incomplete,
    });
    match (verdict, args.fail_on) {
        (Verdict::Threshold(n), Some(threshold)) => {
            eprintln!(
                "{n} finding(s) at or above {} (--fail-on)",
                threshold.name()
            )
        }
        (Verdict::Incomplete { fail_on: true }, Some(threshold)) => eprintln!(
            "no finding at or above {}, but the audit is incomplete: --fail-on fails (pass --allow-incomplete to accept it)",
            threshold.name()
        ),
        _ => {}
    }
    crate::flows::free_aside(built);
    Ok(verdict.exit_code())
}

/// What a live audit does besides reading the cluster: `--verify`, and the IAM check of the
/// mapped principals. A bare `bool` is `--verify` with the default IAM check.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    pub verify: bool,
    pub principals: principals::PrincipalOptions,
}

impl From<bool> for LiveOptions {
    fn from(verify: bool) -> Self {
        LiveOptions {
            verify,
            ..Default::default()
        }
    }
}

/// Read and evaluate one cluster (or the files): the report, verified when asked.
pub(crate) async fn build_report(
    global: &GlobalArgs,
    from_file: &[PathBuf],
    live: LiveOptions,
) -> Result<report::AuditReport, UserError> {
    if from_file.is_empty() {
        return live_report(&connect::connect(global).await?, &live).await;
    }
    let mut state = read_files(from_file)?;
    let snapshot = report::take_snapshot(&mut state, rule_source(from_file));
    let mut built = report::build("files", &state, &snapshot);
    principals::add_checks(&mut built, None, &live.principals).await;
    Ok(built)
}

/// The report for a live cluster. For an EKS cluster (--cluster, the context's, or one of the
/// fleet) its EKS side is read too: DescribeCluster, and the access entries.
pub(crate) async fn live_report(
    conn: &Connection,
    live: &LiveOptions,
) -> Result<report::AuditReport, UserError> {
    // aws-auth is read after the snapshot is taken, not as it arrives as who-can does: its
    // reading alive while the snapshot is built was 1.5 MiB more peak RSS at 16x (43.1 against
    // 44.6 MiB, medians of 6 runs), for ~20 ms.
    let (mut state, _) = read_readable(conn, &QueryScope::AllNamespaces, None).await?;
    let (eks, eks_unread) = read_audit_eks_side(conn).await;
    state.unread.extend(eks_unread);
    state.discovered = discover_for_chronom_roles(conn, &mut state).await;
    // Made before take_snapshot moves the objects out of the state.
    let augmented = eks
        .as_ref()
        .map(|e| report::augmented_snapshot(&state.rbac, e));
    let snapshot = report::take_snapshot(&mut state, RuleSource::AsStored);
    let inv = inventory::for_audit(&state.aws_auth);
    let mut built = report::build_with_snapshots(
        &conn.context,
        &state,
        inv,
        &snapshot,
        augmented.as_ref(),
        eks.as_ref(),
    );
    principals::add_checks(&mut built, Some(conn), &live.principals).await;
    if live.verify {
        built.verification = Some(sar_check::verify(conn, &built, &snapshot).await?);
    }
    crate::flows::free_aside((state, snapshot, augmented));
    Ok(built)
}

/// Discovery, for CHR028, only when the cluster holds a chronom-managed role with a
/// per-resource profile (one aggregated-discovery round trip: 2 requests). A failure is said
/// on stderr and leaves CHR028 out rather than failing the audit.
async fn discover_for_chronom_roles(
    conn: &Connection,
    state: &mut ClusterState,
) -> Option<chronom_core::readonly_role::DiscoveredResources> {
    if !report::needs_discovery(&state.rbac.cluster_roles) {
        return None;
    }
    match connect::discovery::served_resources(conn, "checking the chronom role for CHR028").await {
        Ok(d) => Some(d),
        // CHR028 cannot be judged without it: the report says so rather than passing.
        Err(e) => {
            state
                .unread
                .push(UnreadSource::new(source::DISCOVERY, e.what.clone()));
            None
        }
    }
}

/// The EKS side of the audit; None without an EKS cluster, or (said on stderr) when the one
/// the context points at cannot be read. The access entries may fail to read, which the
/// report says (CHR027) rather than stopping.
pub async fn read_eks(conn: &Connection) -> Option<report::EksState> {
    read_eks_side(conn).await.0
}

/// [`read_eks`], and what could not be read: an EKS cluster whose DescribeCluster failed
/// leaves the audit without its authentication mode (which mappings count), its access
/// entries and its posture.
pub async fn read_eks_side(conn: &Connection) -> (Option<report::EksState>, Option<UnreadSource>) {
    read_side(conn, false).await
}

/// [`read_eks_side`] for the audit report, which also shows the other ways in and out: OIDC
/// identity providers, Pod Identity associations and IRSA service accounts (who-can and
/// lookup do not use them).
async fn read_audit_eks_side(
    conn: &Connection,
) -> (Option<report::EksState>, Option<UnreadSource>) {
    read_side(conn, true).await
}

async fn read_side(
    conn: &Connection,
    ways_in_and_out: bool,
) -> (Option<report::EksState>, Option<UnreadSource>) {
    let side = crate::flows::via::side(conn).await;
    side.tell();
    let unread = side
        .unreadable
        .as_ref()
        .map(|why| UnreadSource::new(source::EKS_CLUSTER, why.what.clone()));
    match &side.ctx {
        Some(ctx) => {
            let mut state = eks_state(ctx).await;
            if ways_in_and_out {
                read_ways_in_and_out(conn, ctx, &mut state).await;
            }
            (Some(state), unread)
        }
        None => (None, unread),
    }
}

/// OIDC providers and Pod Identity associations (EKS API, whatever the authentication mode),
/// and the service accounts (Kubernetes API) for IRSA; each failure is the report's to say.
async fn read_ways_in_and_out(
    conn: &Connection,
    ctx: &crate::adapters::aws::EksContext,
    state: &mut report::EksState,
) {
    use crate::adapters::aws::{identity_providers, pod_identity};
    let (providers, associations, accounts) = tokio::join!(
        identity_providers::read_all(&ctx.eks, ctx.name()),
        pod_identity::read_all(&ctx.eks, ctx.name()),
        read_service_accounts(conn),
    );
    match providers {
        Ok(p) => state.identity_providers = p,
        Err(e) => state.identity_providers_error = Some(e.what),
    }
    match associations {
        Ok(a) => state.pod_identity_associations = a,
        Err(e) => state.pod_identity_error = Some(e.what),
    }
    match accounts {
        Ok(Ok(a)) => state.service_accounts = a,
        Ok(Err(unread)) => state.service_accounts_error = Some(unread.reason),
        Err(e) => state.service_accounts_error = Some(e.what),
    }
}

/// Every ServiceAccount, with its IRSA annotation (`eks.amazonaws.com/role-arn`).
pub async fn read_service_accounts(
    conn: &Connection,
) -> Result<Readable<Vec<chronom_core::eks::pod_roles::ServiceAccountSeen>>, UserError> {
    use chronom_core::eks::pod_roles::{IRSA_ANNOTATION, ServiceAccountSeen};
    use k8s_openapi::api::core::v1::ServiceAccount;
    let listed = list_all(
        conn,
        Api::<ServiceAccount>::all(conn.client.clone()),
        source::SERVICE_ACCOUNTS,
        "in all namespaces",
    )
    .await?;
    Ok(listed.map(|all| {
        all.into_iter()
            .map(|sa| ServiceAccountSeen {
                namespace: sa.metadata.namespace.unwrap_or_default(),
                irsa_role_arn: sa
                    .metadata
                    .annotations
                    .and_then(|a| a.get(IRSA_ANNOTATION).cloned()),
                name: sa.metadata.name.unwrap_or_default(),
            })
            .collect()
    }))
}

pub(crate) async fn eks_state(ctx: &crate::adapters::aws::EksContext) -> report::EksState {
    let mut state = report::EksState {
        cluster: ctx.cluster.clone(),
        ..Default::default()
    };
    if ctx.auth_mode().is_some_and(|m| m.reads_access_entries()) {
        match crate::adapters::aws::access_entries::read_all(&ctx.eks, ctx.name()).await {
            Ok(entries) => state.access_entries = entries,
            Err(e) => state.access_entries_error = Some(e.what),
        }
    }
    state
}

/// Live objects as stored already carry aggregated rules; manifests need aggregating.
pub(crate) fn rule_source(from_file: &[PathBuf]) -> RuleSource {
    if from_file.is_empty() {
        RuleSource::AsStored
    } else {
        RuleSource::Aggregate
    }
}

/// The connection to the current context, or none when the flow reads files.
pub(crate) async fn connect_unless_files(
    global: &GlobalArgs,
    from_file: &[PathBuf],
) -> Result<Option<Connection>, UserError> {
    if from_file.is_empty() {
        Ok(Some(connect::connect(global).await?))
    } else {
        Ok(None)
    }
}

/// How a flow reads aws-auth: who it maps ([`inventory::from_aws_auth`]), or that and what
/// the strict editor refuses ([`inventory::for_audit`], the audit's).
pub(crate) type AwsAuthReading = fn(&BTreeMap<String, String>) -> Inventory;

/// Read the cluster `conn` connects to, or else the files: the state and aws-auth as `reading`
/// reads it. From a cluster, Roles and RoleBindings are listed only where `scope` looks (see
/// [`read_readable`]), and what could not be read is in the state's `unread`; files are read
/// whole.
pub(crate) async fn read_source(
    conn: Option<&Connection>,
    from_file: &[PathBuf],
    scope: &QueryScope,
    reading: AwsAuthReading,
) -> Result<(ClusterState, Inventory), UserError> {
    let (state, read) = match conn {
        Some(c) => read_readable(c, scope, Some(reading)).await?,
        None => (read_files(from_file)?, None),
    };
    let inv = read.unwrap_or_else(|| reading(&state.aws_auth));
    Ok((state, inv))
}

/// Every RBAC object of the cluster, and aws-auth.
pub async fn read_cluster(conn: &Connection) -> Result<ClusterState, UserError> {
    read_cluster_for(conn, &QueryScope::AllNamespaces).await
}

/// [`read_readable`], failing when anything could not be read: for callers that decide
/// something from the objects (an empty list read as "no bindings" would be a wrong answer).
pub async fn read_cluster_for(
    conn: &Connection,
    scope: &QueryScope,
) -> Result<ClusterState, UserError> {
    // The callers read aws-auth themselves, from the state.
    let (state, _) = read_readable(conn, scope, None).await?;
    if state.unread.is_empty() {
        return Ok(state);
    }
    // Every refused read at once, so one request to an admin covers them all.
    let reasons: Vec<String> = state
        .unread
        .iter()
        .map(|u| format!("  - {}: {}", u.source, u.reason))
        .collect();
    Err(UserError::failed(
        format!(
            "{} source(s) could not be read:\n{}",
            state.unread.len(),
            reasons.join("\n")
        ),
        "ask a cluster admin for the missing rights, or use a context with more rights",
    ))
}

/// The RBAC objects a question in `scope` can depend on, and aws-auth: every ClusterRole and
/// ClusterRoleBinding, and the Roles and RoleBindings of every namespace (`AllNamespaces`), of
/// one namespace (`Namespace`), or of none (`ClusterScoped`: RBAC consults RoleBindings only for
/// requests in a namespace). A constant number of paginated LISTs whatever the cluster's size.
/// What the API server refuses (403) is left empty and named in `unread`; the caller must say
/// the result is incomplete. aws-auth is also read as `reading` says, if given, while the lists
/// are in flight (see [`read_aws_auth`]); no reading comes back when aws-auth was unreadable.
pub(crate) async fn read_readable(
    conn: &Connection,
    scope: &QueryScope,
    reading: Option<AwsAuthReading>,
) -> Result<(ClusterState, Option<Inventory>), UserError> {
    let c = conn.client.clone();
    let (cluster_roles, cluster_role_bindings, (roles, role_bindings), aws_auth) = tokio::try_join!(
        list_all(
            conn,
            Api::<ClusterRole>::all(c.clone()),
            source::CLUSTER_ROLES,
            "(cluster-scoped)"
        ),
        list_all(
            conn,
            Api::<ClusterRoleBinding>::all(c.clone()),
            source::CLUSTER_ROLE_BINDINGS,
            "(cluster-scoped)"
        ),
        read_namespaced(conn, scope),
        read_aws_auth(conn, reading),
    )?;
    let mut unread = Vec::new();
    let rbac = RbacObjects {
        cluster_roles: or_unread(cluster_roles, &mut unread),
        cluster_role_bindings: or_unread(cluster_role_bindings, &mut unread),
        roles: or_unread(roles, &mut unread),
        role_bindings: or_unread(role_bindings, &mut unread),
    };
    let aws_auth = aws_auth.unwrap_or_else(|u| {
        unread.push(u);
        AwsAuthRead {
            present: false,
            data: BTreeMap::new(),
            inventory: None,
        }
    });
    let state = ClusterState {
        rbac,
        aws_auth_present: aws_auth.present,
        aws_auth: aws_auth.data,
        discovered: None,
        unread,
    };
    Ok((state, aws_auth.inventory))
}

/// The Roles and RoleBindings `scope` can depend on (none for `ClusterScoped`).
async fn read_namespaced(
    conn: &Connection,
    scope: &QueryScope,
) -> Result<(Readable<Vec<Role>>, Readable<Vec<RoleBinding>>), UserError> {
    let c = conn.client.clone();
    match scope {
        QueryScope::AllNamespaces => tokio::try_join!(
            list_all(
                conn,
                Api::<Role>::all(c.clone()),
                source::ROLES,
                "in all namespaces"
            ),
            list_all(
                conn,
                Api::<RoleBinding>::all(c.clone()),
                source::ROLE_BINDINGS,
                "in all namespaces"
            ),
        ),
        QueryScope::Namespace(ns) => {
            let within = format!("in namespace {ns}");
            tokio::try_join!(
                list_all(
                    conn,
                    Api::<Role>::namespaced(c.clone(), ns),
                    source::ROLES,
                    &within
                ),
                list_all(
                    conn,
                    Api::<RoleBinding>::namespaced(c.clone(), ns),
                    source::ROLE_BINDINGS,
                    &within
                ),
            )
        }
        QueryScope::ClusterScoped => Ok((Ok(Vec::new()), Ok(Vec::new()))),
    }
}

/// aws-auth's data (empty when there is none), and its reading when one was asked for and
/// aws-auth could be read.
struct AwsAuthRead {
    present: bool,
    data: BTreeMap<String, String>,
    inventory: Option<Inventory>,
}

/// aws-auth, or why it could not be read (its absence is a valid answer), read as `reading`
/// says (if given) as soon as it arrives: it comes back long before the RBAC lists, and reading
/// its 1,700 entries at 16x with the authenticator's semantics takes ~20 ms (perf, release
/// build), which who-can's answer would otherwise wait for after the last list. Read here, the
/// lists' bytes wait in the socket buffers meanwhile; on a thread of its own it was no faster
/// and cost ~1 MiB more peak RSS (the thread's own malloc arena).
async fn read_aws_auth(
    conn: &Connection,
    reading: Option<AwsAuthReading>,
) -> Result<Readable<AwsAuthRead>, UserError> {
    let config_maps = Api::<ConfigMap>::namespaced(conn.client.clone(), "kube-system");
    let config_map = match config_maps.get_opt("aws-auth").await {
        Ok(cm) => cm,
        Err(e) => {
            return refused(
                conn,
                e,
                source::AWS_AUTH,
                "reading configmap kube-system/aws-auth",
            )
            .await
            .map(Err);
        }
    };
    let present = config_map.is_some();
    let data = config_map.and_then(|c| c.data).unwrap_or_default();
    let inventory = reading.map(|read| read(&data));
    Ok(Ok(AwsAuthRead {
        present,
        data,
        inventory,
    }))
}

/// A read the API server refused, or its result.
pub type Readable<T> = Result<T, UnreadSource>;

fn or_unread<T: Default>(read: Readable<T>, unread: &mut Vec<UnreadSource>) -> T {
    read.unwrap_or_else(|u| {
        unread.push(u);
        T::default()
    })
}

/// A read the API server refused (403) is a gap in the audit, not its end: what else can be
/// read is still worth reporting, and the report says what is missing. Any other failure (a
/// rejected token, an unreachable server, a timeout) ends the run as before: nothing else
/// could be read either.
async fn refused(
    conn: &Connection,
    err: kube::Error,
    source: &str,
    doing: &str,
) -> Result<UnreadSource, UserError> {
    let forbidden = matches!(&err, kube::Error::Api(s) if s.code == 403);
    let explained = conn.explain(err, doing).await;
    if forbidden {
        tracing::info!(source, reason = %explained.what, "not readable");
        Ok(UnreadSource::new(source, explained.what))
    } else {
        Err(explained)
    }
}

/// Every object of a kind, page by page, for a write flow that decides from the list: a
/// refused read (403) is an error there, since an empty list would read as "nothing else".
pub async fn list_every<K>(
    conn: &Connection,
    api: Api<K>,
    what: &str,
    within: &str,
) -> Result<Vec<K>, UserError>
where
    K: kube::Resource<DynamicType = ()> + FromProtobuf,
{
    list_all(conn, api, what, within).await?.map_err(|u| {
        UserError::failed(
            u.reason,
            "ask a cluster admin for the missing right, or use a context with more rights",
        )
    })
}

/// Every ClusterRole, ClusterRoleBinding, Role and RoleBinding, paginated, all readable.
pub async fn read_rbac(conn: &Connection) -> Result<RbacObjects, UserError> {
    const CLUSTER: &str = "(cluster-scoped)";
    const ALL: &str = "in all namespaces";
    let c = &conn.client;
    let (cluster_roles, cluster_role_bindings, roles, role_bindings) = tokio::try_join!(
        list_every(
            conn,
            Api::<ClusterRole>::all(c.clone()),
            source::CLUSTER_ROLES,
            CLUSTER
        ),
        list_every(
            conn,
            Api::<ClusterRoleBinding>::all(c.clone()),
            source::CLUSTER_ROLE_BINDINGS,
            CLUSTER
        ),
        list_every(conn, Api::<Role>::all(c.clone()), source::ROLES, ALL),
        list_every(
            conn,
            Api::<RoleBinding>::all(c.clone()),
            source::ROLE_BINDINGS,
            ALL
        ),
    )?;
    Ok(RbacObjects {
        cluster_roles,
        cluster_role_bindings,
        roles,
        role_bindings,
    })
}

/// Every object of a kind, in pages of [`PAGE_SIZE`].
async fn list_all<K>(
    conn: &Connection,
    api: Api<K>,
    what: &str,
    within: &str,
) -> Result<Readable<Vec<K>>, UserError>
where
    K: kube::Resource<DynamicType = ()> + FromProtobuf,
{
    list_in_pages(conn, api, what, within, PAGE_SIZE).await
}

/// Every object of a kind, `page` at a time, read through its trimmed form (`audit::trimmed`),
/// so what is built is what the audit reads, not what the API sends.
pub async fn list_in_pages<K>(
    conn: &Connection,
    api: Api<K>,
    what: &str,
    within: &str,
    page: u32,
) -> Result<Readable<Vec<K>>, UserError>
where
    K: kube::Resource<DynamicType = ()> + FromProtobuf,
{
    let request = kube::core::Request::new(api.resource_url());
    let mut params = ListParams::default().limit(page);
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let listed = match list_page(&conn.client, &request, &params, &mut items, page).await {
            Ok(p) => p,
            Err(e) => {
                let doing = format!("listing {what} {within}");
                return refused(conn, e, what, &doing).await.map(Err);
            }
        };
        pages += 1;
        match listed.continue_.filter(|t| !t.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    tracing::info!(
        what,
        within,
        items = items.len(),
        requests = pages,
        "listed"
    );
    Ok(Ok(items))
}

/// What a LIST asks for: the API server's protobuf first (`audit::page_proto`: less of its
/// time and ours than JSON), JSON where it has no protobuf for the kind.
pub const ACCEPT_LIST: &str = "application/vnd.kubernetes.protobuf, application/json";

/// One LIST page, as `Api::list` asks for it, its objects trimmed into `items`; the page's
/// metadata. A protobuf answer this reader cannot read (a text field that is not UTF-8, which
/// JSON would carry replaced) is asked again as JSON, so the audit reads what it read before.
async fn list_page<K: FromProtobuf>(
    client: &kube::Client,
    request: &kube::core::Request,
    params: &ListParams,
    items: &mut Vec<K>,
    limit: u32,
) -> Result<ListMeta, kube::Error> {
    let before = items.len();
    match read_page(client, request, params, items, limit, ACCEPT_LIST).await? {
        Ok(meta) => Ok(meta),
        Err(e) => {
            tracing::info!(error = %e, "a protobuf LIST answer could not be read; reading it as JSON");
            items.truncate(before);
            read_page(client, request, params, items, limit, "application/json")
                .await?
                .map_err(|e| {
                    let message = format!(
                        "its answer could not be read ({e}), not even when asked for as JSON"
                    );
                    kube::Error::Api(
                        kube::core::Status::failure(&message, "")
                            .with_code(200)
                            .boxed(),
                    )
                })
        }
    }
}

/// One LIST page in the media type `accept` asks for: a protobuf answer is read whole, a JSON
/// one as its bytes arrive (`audit::page_stream`). The inner error is a protobuf answer that
/// could not be read.
async fn read_page<K: FromProtobuf>(
    client: &kube::Client,
    request: &kube::core::Request,
    params: &ListParams,
    items: &mut Vec<K>,
    limit: u32,
    accept: &'static str,
) -> Result<Result<ListMeta, page_proto::ProtoError>, kube::Error> {
    use http_body_util::BodyExt;
    let mut req = request.list(params).map_err(kube::Error::BuildRequest)?;
    req.extensions_mut().insert("list");
    req.headers_mut()
        .insert(http::header::ACCEPT, http::HeaderValue::from_static(accept));
    let res = client.send(req.map(kube::client::Body::from)).await?;
    let protobuf = answers_protobuf(res.headers());
    let status = res.status();
    if status.is_client_error() || status.is_server_error() {
        let body = res.into_body().collect_bytes().await?;
        return Err(refusal(status, protobuf, body));
    }
    if protobuf {
        let body = res.into_body().collect_bytes().await?;
        return Ok(page_proto::read_page(body, items));
    }
    let mut body = res.into_body();
    let mut page = PageStream::new(items, limit as usize);
    while let Some(frame) = body.frame().await {
        if let Ok(chunk) = frame?.into_data() {
            page.push(&chunk).map_err(kube::Error::SerdeError)?;
        }
    }
    page.finish().map(Ok).map_err(kube::Error::SerdeError)
}

/// Whether an answer says it is protobuf: its media type, before any parameter, in any case.
pub fn answers_protobuf(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(page_proto::MEDIA_TYPE))
}

/// A refused request's `Status`, as kube reads a JSON one (`Error::Api`), from either encoding
/// (a protobuf body is known by its first bytes too); a body that is no `Status`, or one
/// without a code, keeps the HTTP code, which is what the callers decide on. No bytes of a
/// protobuf body are ever shown.
fn refusal(status: http::StatusCode, protobuf: bool, body: bytes::Bytes) -> kube::Error {
    use kube::core::Status;
    let code = status.as_u16();
    let status = if protobuf || page_proto::is_protobuf(&body) {
        match page_proto::read_status(body) {
            Ok((c, reason, message)) => Status::failure(&message, &reason).with_code(c),
            Err(e) => Status::failure(&format!("(its protobuf Status could not be read: {e})"), ""),
        }
    } else {
        serde_json::from_slice::<Status>(&body).unwrap_or_else(|_| {
            Status::failure(
                String::from_utf8_lossy(&body).trim(),
                "Failed to parse error data",
            )
        })
    };
    let status = if status.code == 0 {
        status.with_code(code)
    } else {
        status
    };
    kube::Error::Api(status.boxed())
}

/// Every file named, and every .yaml/.yml/.json file under each directory named, in order.
pub(crate) fn read_files(paths: &[PathBuf]) -> Result<ClusterState, UserError> {
    let mut state = ClusterState::default();
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files).map_err(|e| {
            UserError::usage(
                format!("cannot read {}: {e}", p.display()),
                "pass existing files or directories to --from-file",
            )
        })?;
    }
    for f in files {
        let cannot_read = |e: std::io::Error| {
            UserError::failed(
                format!("cannot read {}: {e}", f.display()),
                "check the file's permissions and encoding (UTF-8)",
            )
        };
        let file = std::fs::File::open(&f).map_err(cannot_read)?;
        let len = file.metadata().map_or(0, |m| m.len() as usize);
        let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
        let origin = f.display().to_string();
        // JSON is read whole (serde_json is fastest on a slice); YAML is streamed, document
        // by document, so a large dump is never held as text.
        let added = if starts_like_json(&mut reader).map_err(cannot_read)? {
            let mut text = String::with_capacity(len);
            std::io::Read::read_to_string(&mut reader, &mut text).map_err(cannot_read)?;
            state.add_text(&origin, &text)
        } else {
            state.add_yaml(&origin, reader, len)
        };
        added.map_err(|e| UserError::failed(e.to_string(), e.next))?;
    }
    Ok(state)
}

/// Whether the first byte past leading blanks is `{` or `[` (what `add_text` reads as JSON),
/// looking at the reader's buffer without consuming it: YAML's first line keeps its indentation.
fn starts_like_json(reader: &mut impl std::io::BufRead) -> std::io::Result<bool> {
    let buffered = reader.fill_buf()?;
    Ok(buffered
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'[')))
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            let manifest = e
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"));
            if e.is_dir() || manifest {
                collect(&e, out)?;
            }
        }
        Ok(())
    } else {
        std::fs::metadata(path)?;
        out.push(path.to_path_buf());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::answers_protobuf;

    #[test]
    fn an_answer_is_protobuf_by_its_media_type_whatever_its_parameters_and_case() {
        let with = |t: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::CONTENT_TYPE, t.parse().unwrap());
            answers_protobuf(&h)
        };
        assert!(with("application/vnd.kubernetes.protobuf"));
        assert!(with("application/vnd.kubernetes.protobuf; charset=utf-8"));
        assert!(with("Application/VND.Kubernetes.Protobuf"));
        assert!(!with("application/json"));
        assert!(!with("application/vnd.kubernetes.protobuf-other"));
        assert!(!answers_protobuf(&http::HeaderMap::new()));
    }
}
