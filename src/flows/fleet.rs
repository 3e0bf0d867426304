//! `audit --all-clusters`: every EKS cluster in the chosen regions, audited concurrently with
//! bounded parallelism, in one report.

use std::io::IsTerminal;
use std::sync::Arc;

use aws_config::SdkConfig;

use crate::adapters::aws::cluster::{self, EksCluster};
use crate::adapters::aws::identity::AwsCaller;
use crate::adapters::kube::eks_connection::{self, ExecPlugin};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::flows::audit::LiveOptions;
use chronom_core::audit::completeness::{self, UnreadSource, Verdict};
use chronom_core::audit::fleet::{self, ClusterRow, FleetReport, RegionRow};
use chronom_core::audit::report::AuditReport;
use chronom_core::eks::regions::{
    denied_by_organization_policy, region_failure, regions_to_scan, sts_region,
};
use chronom_core::error::UserError;
use chronom_core::report::fleet::render;
use chronom_core::report::format::Format;

/// How many clusters are audited at once. A cluster's wait is mostly the network (its API
/// server, DescribeCluster, the token plugin), and an unanswering endpoint holds its slot for the
/// whole request timeout; 16 kept a 40-cluster fleet with slow and silent endpoints at 7.7 s where
/// 4 took 10.5 s (tests/cluster/fleet_scale.rs, debug build). Memory in flight is at most 16
/// clusters' listings; each finished cluster keeps only its report.
pub const PARALLEL_CLUSTERS: usize = 16;

/// What STS answered, when it answered: its error code and message, else the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StsAnswer<'a> {
    Error {
        code: &'a str,
        message: &'a str,
    },
    Status(u16),
    /// No answer (DNS, TCP, TLS, timeout): the transport's own words.
    None(&'a str),
}

/// The error code and message of an AWS error answer the SDK could not parse: the
/// `X-Amzn-ErrorType` header, else `<Code>` and `<Message>` anywhere in an XML body (AWS nests
/// them under `<ErrorResponse><Error>`, some emulators under `<Errors><Error>`).
pub(crate) fn raw_error(error_type: Option<&str>, body: &[u8]) -> Option<(String, String)> {
    let body = String::from_utf8_lossy(body);
    let between = |open: &str, close: &str| {
        let start = body.find(open)? + open.len();
        let len = body[start..].find(close)?;
        Some(body[start..start + len].trim().to_string())
    };
    let code = error_type
        .map(|t| t.split(':').next().unwrap_or(t).trim().to_string())
        .filter(|c| !c.is_empty())
        .or_else(|| between("<Code>", "</Code>"))?;
    Some((code, between("<Message>", "</Message>").unwrap_or_default()))
}

/// What AWS answered to a failed call, without the SDK's Debug output: the error code and
/// message (read from the raw answer when the SDK could not parse it), else the HTTP status,
/// else (nothing came back) the transport's own words.
pub(crate) fn failure_of<E>(
    e: &aws_sdk_eks::error::SdkError<E, aws_sdk_eks::config::http::HttpResponse>,
) -> (Option<(String, String)>, Option<u16>, String)
where
    E: aws_sdk_eks::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_eks::error::ProvideErrorMetadata;
    let transport = chronom_core::error::error_chain(e).join(": ");
    tracing::debug!(error = %transport, "AWS call failed");
    if let Some(code) = e.code() {
        let message = e.message().unwrap_or_default().to_string();
        return (Some((code.to_string(), message)), None, transport);
    }
    match e.raw_response() {
        Some(r) => (
            raw_error(
                r.headers().get("x-amzn-errortype"),
                r.body().bytes().unwrap_or_default(),
            ),
            Some(r.status().as_u16()),
            transport,
        ),
        None => (None, None, transport),
    }
}

/// The one error for credentials STS would not accept, from what GetCallerIdentity answered;
/// `renew` is the next step for the profile in use (`adapters::aws::renew_step`).
pub(crate) fn credentials_error(region: &str, answer: StsAnswer<'_>, renew: &str) -> UserError {
    let (code, message, transport) = match answer {
        StsAnswer::Error { code, message } => (Some(code), message.to_string(), ""),
        StsAnswer::Status(status) => (None, format!("HTTP {status}"), ""),
        StsAnswer::None(transport) => (None, String::new(), transport),
    };
    let renew = format!(
        "check which AWS credentials are used (--profile, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment), then {renew}"
    );
    match code {
        Some(
            c @ ("InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature"
            | "InvalidAccessKeyId"
            | "AuthFailure"),
        ) => UserError::failed(
            format!(
                "AWS rejected the credentials: STS GetCallerIdentity in {region} answered {c}: {message}; no region was scanned"
            ),
            // A key is valid in its own partition only: a China or GovCloud key is unknown to
            // a commercial region, which answers just this.
            format!(
                "{renew}; a China or GovCloud key works only in its own partition's regions, so pass --region in it (cn-north-1, us-gov-west-1) if the key is one (the region was {region}, partition {})",
                chronom_core::partition::of_region(region)
            ),
        ),
        Some(c @ ("ExpiredToken" | "ExpiredTokenException" | "RequestExpired")) => {
            UserError::failed(
                format!(
                    "the AWS credentials have expired: STS GetCallerIdentity in {region} answered {c}: {message}; no region was scanned"
                ),
                renew,
            )
        }
        Some(c) => UserError::failed(
            format!(
                "cannot check the AWS credentials: STS GetCallerIdentity in {region} answered {c}: {message}; no region was scanned"
            ),
            "check the credentials and that STS is allowed and reachable from here (re-run with -vv)",
        ),
        None if transport.is_empty() => UserError::failed(
            format!(
                "cannot check the AWS credentials: STS GetCallerIdentity in {region} answered {message}; no region was scanned"
            ),
            "check the credentials and that STS is allowed and reachable from here (re-run with -vv)",
        ),
        None => UserError::failed(
            format!(
                "cannot check the AWS credentials: STS GetCallerIdentity in {region} got no answer: {transport}; no region was scanned"
            ),
            "check the network, proxy settings and AWS_ENDPOINT_URL if set, then re-run (-vv for details)",
        ),
    }
}

/// Before any region is listed: do the credentials work? A rejected or expired key makes every
/// region answer with an authentication error, the answer a disabled opt-in region gives, so
/// without this check a broken key would skip the whole fleet and pass.
pub(crate) async fn verify_credentials(
    env: &FleetEnv,
    regions: &[String],
) -> Result<AwsCaller, UserError> {
    let configured = env.sdk.region().map(|r| r.to_string());
    let region = sts_region(configured.as_deref(), regions);
    let sdk = env.in_region(&region);
    crate::adapters::aws::identity::credentials(&sdk).await?;
    match aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
    {
        Ok(out) => {
            let caller = AwsCaller {
                account: out.account.unwrap_or_default(),
                arn: out.arn.unwrap_or_default(),
                user_id: out.user_id.unwrap_or_default(),
            };
            tracing::info!(arn = %caller.arn, region, "the AWS credentials work");
            Ok(caller)
        }
        Err(e) => {
            let (coded, status, transport) = failure_of(&e);
            let answer = match (&coded, status) {
                (Some((code, message)), _) => StsAnswer::Error { code, message },
                (None, Some(status)) => StsAnswer::Status(status),
                (None, None) => StsAnswer::None(&transport),
            };
            Err(credentials_error(
                &region,
                answer,
                &crate::adapters::aws::renew_step(),
            ))
        }
    }
}

/// How the fleet reaches AWS and each cluster's API server. [`run`] uses the standard
/// credential chain and this binary's `token` command; a test can point the SDK at moto and
/// hand out another token plugin, with everything else (ListClusters, DescribeCluster, the
/// connection built from DescribeCluster's endpoint and CA, the audit) unchanged.
#[derive(Clone)]
pub struct FleetEnv {
    /// AWS configuration; each region gets a copy with its region set.
    pub sdk: SdkConfig,
    pub token_plugin: TokenPlugin,
}

/// One account of a cross-account fleet, entered: the member role's credentials and ARN.
#[derive(Clone)]
struct Member {
    account: String,
    role_arn: String,
}

/// The exec credential plugin that gets a described cluster's bearer token, signed as the role
/// given (a cross-account fleet's member role) or as the base credentials.
pub(crate) type TokenPlugin =
    Arc<dyn Fn(&EksCluster, Option<&str>) -> Result<ExecPlugin, UserError> + Send + Sync>;

impl FleetEnv {
    /// The standard chain with --profile, and `kubectl-chronom token` for the tokens.
    pub(crate) async fn standard(global: &GlobalArgs) -> Self {
        let sdk =
            crate::adapters::aws::aws_config(global.region.as_deref(), global.profile.as_deref())
                .await;
        let profile = global.profile.clone();
        FleetEnv {
            sdk,
            token_plugin: Arc::new(move |c: &EksCluster, role_arn: Option<&str>| {
                let mut plugin = ExecPlugin::for_cluster(c, profile.as_deref())?;
                if let Some(role) = role_arn {
                    plugin
                        .args
                        .extend(["--role-arn".to_string(), role.to_string()]);
                }
                Ok(plugin)
            }),
        }
    }

    pub(crate) fn in_region(&self, region: &str) -> SdkConfig {
        self.sdk
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build()
    }
}

/// A region's ListClusters failure: skipped (an opt-in region not enabled), denied by a
/// policy of the AWS Organization, and the row's reason.
struct RegionFailure {
    skipped: bool,
    denied_by_policy: bool,
    why: String,
}

/// Region -> ListClusters, or how it failed. Only called once the credentials are known to work.
async fn list_region(env: &FleetEnv, region: &str) -> Result<Vec<String>, RegionFailure> {
    let client = aws_sdk_eks::Client::new(&env.in_region(region));
    cluster::list_clusters(&client)
        .await
        .map_err(|e| region_failure_of(region, &e))
}

/// What a failed ListClusters in `region` means for its row (core `eks::regions` decides).
fn region_failure_of(
    region: &str,
    e: &aws_sdk_eks::error::SdkError<
        aws_sdk_eks::operation::list_clusters::ListClustersError,
        aws_sdk_eks::config::http::HttpResponse,
    >,
) -> RegionFailure {
    let (coded, status, transport) = failure_of(e);
    let coded = coded.as_ref().map(|(c, m)| (c.as_str(), m.as_str()));
    let (skipped, why) = region_failure(region, coded, status, &transport);
    RegionFailure {
        skipped,
        denied_by_policy: coded.is_some_and(|(c, m)| denied_by_organization_policy(c, m)),
        why,
    }
}

/// One cluster: DescribeCluster, connect with the token plugin, audit.
async fn audit_one(
    env: &FleetEnv,
    member: Option<&Member>,
    global: &GlobalArgs,
    region: &str,
    name: &str,
    live: &LiveOptions,
) -> Result<AuditReport, UserError> {
    let sdk = env.in_region(region);
    let described = cluster::describe(&sdk, region, name).await?;
    let exec = (env.token_plugin)(&described, member.map(|m| m.role_arn.as_str()))?;
    let conn = eks_connection::open(described, &exec, sdk, global).await?;
    crate::flows::audit::live_report(&conn, live).await
}

/// `audit --all-clusters` up to the report: list every region, audit each cluster (at most
/// [`PARALLEL_CLUSTERS`] at once). Fails only when no region could be listed at all.
pub async fn collect(
    env: &FleetEnv,
    global: &GlobalArgs,
    regions: &[String],
    live: impl Into<LiveOptions>,
    progress: bool,
) -> Result<FleetReport, UserError> {
    verify_credentials(env, regions).await?;
    let (region_rows, targets) = list_regions(env, regions).await?;
    let cluster_rows = audit_clusters(env, None, global, targets, live.into(), progress).await;
    Ok(FleetReport::new(region_rows, cluster_rows))
}

/// Which accounts a cross-account fleet audits, and through which role.
pub enum Accounts {
    /// `--accounts`: these ids.
    Listed(Vec<String>),
    /// `--organization`: every ACTIVE account of the caller's AWS Organization.
    Organization,
}

/// `audit --all-clusters --assume-role-name NAME --accounts ...|--organization` up to the
/// report: the base credentials are checked once, then each account is entered through its
/// role (STS AssumeRole, in the caller's partition) and audited as [`collect`] audits one
/// account. An account that cannot be entered, or whose regions all fail, is a row with its
/// reason; the run goes on.
pub async fn collect_accounts(
    env: &FleetEnv,
    global: &GlobalArgs,
    role_name: &str,
    accounts: Accounts,
    regions: &[String],
    live: impl Into<LiveOptions>,
    progress: bool,
) -> Result<FleetReport, UserError> {
    let live = live.into();
    let caller = verify_credentials(env, regions).await?;
    let partition = chronom_core::partition::of_arn(&caller.arn).unwrap_or("aws");
    // STS and Organizations are asked where the credentials were checked.
    let home = env.in_region(&sts_region(env.sdk.region().map(|r| r.as_ref()), regions));
    let ids = match accounts {
        Accounts::Listed(ids) => ids,
        Accounts::Organization => crate::adapters::aws::accounts::active_accounts(&home).await?,
    };
    let (mut account_rows, mut region_rows, mut cluster_rows) =
        (Vec::new(), Vec::new(), Vec::new());
    for account in ids {
        let role_arn = fleet::member_role_arn(partition, &account, role_name)?;
        if let Err(e) = crate::adapters::aws::accounts::can_assume(&home, &role_arn).await {
            let (coded, status, transport) = failure_of(&e);
            let (code, message) = match (&coded, status) {
                (Some((code, message)), _) => (Some(code.as_str()), message.clone()),
                (None, Some(status)) => (None, format!("AWS answered HTTP {status}")),
                (None, None) => (None, format!("no answer: {transport}")),
            };
            account_rows.push(fleet::account_not_entered(
                &account,
                &role_arn,
                &caller.arn,
                code,
                &message,
            ));
            continue;
        }
        let member = Member {
            account: account.clone(),
            role_arn: role_arn.clone(),
        };
        let entered = FleetEnv {
            sdk: crate::adapters::aws::assuming(&env.sdk, &role_arn).await,
            token_plugin: env.token_plugin.clone(),
        };
        match list_regions(&entered, regions).await {
            Ok((regions, targets)) => {
                region_rows.extend(regions.into_iter().map(|mut r| {
                    r.account = Some(account.clone());
                    r
                }));
                let rows = audit_clusters(
                    &entered,
                    Some(&member),
                    global,
                    targets,
                    live.clone(),
                    progress,
                )
                .await;
                cluster_rows.extend(rows);
                account_rows.push(fleet::AccountRow {
                    account,
                    role_arn,
                    ok: true,
                    error: None,
                    next: None,
                });
            }
            Err(e) => account_rows.push(fleet::AccountRow {
                account,
                role_arn,
                ok: false,
                error: Some(e.what),
                next: Some(e.next),
            }),
        }
    }
    Ok(FleetReport::across_accounts(
        account_rows,
        region_rows,
        cluster_rows,
    ))
}

/// Phase 1: ListClusters in every region. Each region is a row; the clusters found are the
/// `(region, name)` targets. An error only when no region could be listed at all.
async fn list_regions(
    env: &FleetEnv,
    regions: &[String],
) -> Result<(Vec<RegionRow>, Vec<(String, String)>), UserError> {
    let listed =
        crate::adapters::parallel::bounded_map(regions.to_vec(), PARALLEL_CLUSTERS * 2, |region| {
            let env = env.clone();
            async move {
                let result = list_region(&env, &region).await;
                (region, result)
            }
        })
        .await;
    let mut region_rows = Vec::new();
    let mut targets: Vec<(String, String)> = Vec::new();
    for (region, result) in listed {
        match result {
            Ok(names) => {
                region_rows.push(RegionRow {
                    account: None,
                    region: region.clone(),
                    clusters: names.len(),
                    skipped: false,
                    denied_by_policy: false,
                    error: None,
                });
                targets.extend(names.into_iter().map(|n| (region.clone(), n)));
            }
            Err(failed) => region_rows.push(RegionRow {
                account: None,
                region,
                clusters: 0,
                skipped: failed.skipped,
                denied_by_policy: failed.denied_by_policy,
                error: Some(failed.why),
            }),
        }
    }
    if region_rows.iter().all(|r| r.error.is_some()) && !region_rows.iter().all(|r| r.skipped) {
        // Nothing could be listed anywhere: that is one error, not a report of failures.
        let first = region_rows
            .iter()
            .find(|r| !r.skipped)
            .and_then(|r| r.error.clone())
            .unwrap_or_default();
        return Err(UserError::failed(
            format!("--all-clusters could not list clusters in any region: {first}"),
            format!(
                "check the AWS credentials (--profile, AWS_PROFILE; {}) and that they may call eks:ListClusters",
                crate::adapters::aws::renew_step()
            ),
        ));
    }
    Ok((region_rows, targets))
}

/// Phase 2: audit every `(region, cluster)` target, at most [`PARALLEL_CLUSTERS`] at once; a
/// cluster that fails is a row with its reason, never the end of the run.
async fn audit_clusters(
    env: &FleetEnv,
    member: Option<&Member>,
    global: &GlobalArgs,
    targets: Vec<(String, String)>,
    live: LiveOptions,
    progress: bool,
) -> Vec<ClusterRow> {
    let bar = progress_bar(progress, targets.len());
    let cluster_rows =
        crate::adapters::parallel::bounded_map(targets, PARALLEL_CLUSTERS, |(region, cluster)| {
            let global = GlobalArgs {
                kubeconfig: None,
                context: None,
                verbose: global.verbose,
                cluster: Some(cluster.clone()),
                region: Some(region.clone()),
                profile: global.profile.clone(),
                request_timeout: global.request_timeout,
            };
            let (env, bar, member, live) =
                (env.clone(), bar.clone(), member.cloned(), live.clone());
            async move {
                let result =
                    audit_one(&env, member.as_ref(), &global, &region, &cluster, &live).await;
                let at = match &member {
                    Some(m) => format!("{}/{region}/{cluster}", m.account),
                    None => format!("{region}/{cluster}"),
                };
                if result.is_err() {
                    bar.println(format!("{at} failed"));
                }
                bar.set_message(at);
                bar.inc(1);
                let mut row = cluster_row(region, cluster, result);
                row.account = member.map(|m| m.account);
                row
            }
        })
        .await;
    bar.finish_and_clear();
    cluster_rows
}

fn cluster_row(
    region: String,
    cluster: String,
    result: Result<AuditReport, UserError>,
) -> ClusterRow {
    match result {
        Ok(r) => ClusterRow {
            account: None,
            cluster,
            region,
            ok: true,
            error: None,
            next: None,
            report: Some(r),
        },
        Err(e) => ClusterRow {
            account: None,
            cluster,
            region,
            ok: false,
            error: Some(e.what),
            next: Some(e.next),
            report: None,
        },
    }
}

/// A bar on stderr when it is a terminal (`show`), else nothing: the report goes to stdout and
/// a log of CI runs needs no redraws.
fn progress_bar(show: bool, total: usize) -> indicatif::ProgressBar {
    if !show || total == 0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let style =
        indicatif::ProgressStyle::with_template("auditing {pos}/{len} clusters [{bar:30}] {msg}")
            .map(|s| s.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}

/// `audit --all-clusters`: check the credentials, collect, print one report, and exit as
/// [`exit_code`] says.
pub(crate) async fn run(global: &GlobalArgs, args: &AuditArgs) -> Result<i32, UserError> {
    let env = FleetEnv::standard(global).await;
    let default_region = env.sdk.region().map(|r| r.to_string());
    let regions = regions_to_scan(&args.regions, default_region.as_deref())?;
    let progress = std::io::stderr().is_terminal();
    let live = LiveOptions {
        verify: args.verify,
        principals: crate::flows::audit::principals::PrincipalOptions::of(global, args),
    };
    let fleet = match &args.assume_role_name {
        Some(role_name) => {
            let accounts = if args.organization {
                Accounts::Organization
            } else {
                Accounts::Listed(fleet::accounts_to_audit(&args.accounts)?)
            };
            collect_accounts(&env, global, role_name, accounts, &regions, live, progress).await?
        }
        None => collect(&env, global, &regions, live, progress).await?,
    };
    // Streamed: a fleet's JSON holds every cluster's report.
    match args.output {
        Format::Json | Format::Yaml => crate::report::print_structured(args.output, &fleet)?,
        other => crate::report::print_text(&render(&fleet, other))?,
    }
    Ok(exit_code(&fleet, args.fail_on, args.allow_incomplete))
}

/// 4 on a verification mismatch, 3 at or above `fail_on`; an incomplete fleet (a failed
/// region or cluster, or a cluster's unread source) then 3 with `fail_on` and 1 without,
/// unless `allow_incomplete`; else 0. What was not read is said on stderr either way.
pub fn exit_code(
    fleet: &FleetReport,
    fail_on: Option<chronom_core::audit::findings::Severity>,
    allow_incomplete: bool,
) -> i32 {
    if !fleet.complete {
        let named: Vec<(String, &UnreadSource)> = fleet
            .incomplete
            .iter()
            .map(|u| (u.prefix(), &u.unread))
            .collect();
        eprint!(
            "{}",
            completeness::stderr_message("the fleet audit", &named, allow_incomplete)
        );
    }
    let severities: Vec<chronom_core::audit::findings::Severity> =
        fleet.findings.iter().map(|f| f.finding.severity).collect();
    let verdict = completeness::gate(completeness::GateInput {
        mismatches: fleet.mismatches(),
        severities: &severities,
        fail_on,
        complete: fleet.complete,
        allow_incomplete,
    });
    match (verdict, fail_on) {
        (Verdict::Mismatch, _) => eprintln!(
            "error: {} answer(s) differ from the live authorizers (see verification in each cluster's report)",
            fleet.mismatches()
        ),
        (Verdict::Threshold(n), Some(threshold)) => {
            eprintln!(
                "{n} finding(s) at or above {} across all clusters (--fail-on)",
                threshold.name()
            )
        }
        (Verdict::Incomplete { fail_on: true }, Some(threshold)) => eprintln!(
            "no finding at or above {} in what was read, but the fleet audit is incomplete: --fail-on fails (pass --allow-incomplete to accept it)",
            threshold.name()
        ),
        (Verdict::Incomplete { .. }, _) if fleet.failed() > 0 => eprintln!(
            "error: {} {} could not be audited (see the report)",
            fleet.failed(),
            if fleet.accounts.is_empty() {
                "cluster(s) or region(s)"
            } else {
                "account(s), cluster(s) or region(s)"
            }
        ),
        _ => {}
    }
    verdict.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chronom_core::audit::completeness::source;
    use chronom_core::audit::fleet::FleetUnread;
    use chronom_core::audit::manifests::ClusterState;
    use chronom_core::audit::report;
    use chronom_core::report::fleet::{render_sarif, render_table};
    use serde_json::Value;

    fn sample_report() -> AuditReport {
        let mut state = ClusterState::default();
        state
            .add_text(
                "t",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/admin\n      username: admin\n      groups: [system:masters]\n",
            )
            .unwrap();
        report::build(
            "ctx",
            &state,
            &report::snapshot_of(&state, chronom_core::rbac::RuleSource::Aggregate),
        )
    }

    fn fleet() -> FleetReport {
        FleetReport::new(
            vec![
                RegionRow {
                    account: None,
                    region: "eu-west-1".into(),
                    clusters: 2,
                    skipped: false,
                    denied_by_policy: false,
                    error: None,
                },
                RegionRow {
                    account: None,
                    region: "ap-east-2".into(),
                    clusters: 0,
                    skipped: true,
                    denied_by_policy: false,
                    error: Some("not enabled".into()),
                },
            ],
            vec![
                ClusterRow {
                    account: None,
                    cluster: "prod".into(),
                    region: "eu-west-1".into(),
                    ok: true,
                    error: None,
                    next: None,
                    report: Some(sample_report()),
                },
                ClusterRow {
                    account: None,
                    cluster: "dev".into(),
                    region: "eu-west-1".into(),
                    ok: false,
                    error: Some("AccessDenied".into()),
                    next: Some("ask for eks:DescribeCluster".into()),
                    report: None,
                },
            ],
        )
    }

    #[test]
    fn exit_codes_put_findings_before_failures() {
        let f = fleet();
        assert_eq!(
            exit_code(
                &f,
                Some(chronom_core::audit::findings::Severity::Critical),
                false
            ),
            chronom_core::exit::EXIT_FINDINGS
        );
        assert_eq!(exit_code(&f, None, false), chronom_core::exit::EXIT_FAILED);
    }

    #[test]
    fn a_failed_cluster_makes_the_fleet_incomplete_and_fails_the_gate_unless_allowed() {
        use chronom_core::audit::findings::Severity;
        let mut f = fleet();
        // Keep the failed cluster, drop the audited one's findings: nothing reaches a threshold.
        f.clusters[0].report.as_mut().unwrap().findings.clear();
        let f = FleetReport::new(f.regions, f.clusters);
        assert!(f.findings.is_empty());
        assert!(!f.complete);
        assert_eq!(
            f.incomplete,
            [FleetUnread {
                account: None,
                region: "eu-west-1".into(),
                cluster: Some("dev".into()),
                unread: UnreadSource::new(source::CLUSTER, "AccessDenied"),
            }],
            "the skipped region is not a gap; the failed cluster is"
        );
        assert_eq!(exit_code(&f, Some(Severity::Low), false), 3);
        assert_eq!(exit_code(&f, None, false), 1);
        assert_eq!(exit_code(&f, Some(Severity::Low), true), 0);
        assert_eq!(exit_code(&f, None, true), 0);
        let json: Value =
            serde_json::from_str(&chronom_core::report::format::structured(Format::Json, &f))
                .unwrap();
        assert_eq!(json["complete"], false);
        assert_eq!(
            json["incomplete"],
            serde_json::json!([{"region": "eu-west-1", "cluster": "dev", "source": "cluster", "reason": "AccessDenied"}])
        );
        let t = render_table(&f, false);
        assert!(t.contains("INCOMPLETE (1 source(s)"), "{t}");

        // A cluster audited with a gap of its own (a forbidden list) counts as well.
        let mut r = sample_report();
        r.incomplete = vec![UnreadSource::new(source::ROLE_BINDINGS, "403")];
        r.complete = false;
        r.findings.clear();
        let g = FleetReport::new(
            vec![],
            vec![ClusterRow {
                account: None,
                cluster: "prod".into(),
                region: "eu-west-1".into(),
                ok: true,
                error: None,
                next: None,
                report: Some(r),
            }],
        );
        assert!(!g.complete);
        assert_eq!(g.incomplete[0].unread.source, "rolebindings");
        assert_eq!(g.incomplete[0].cluster.as_deref(), Some("prod"));
        assert_eq!(exit_code(&g, Some(Severity::Critical), false), 3);
        let v: Value = serde_json::from_str(&render_sarif(&g)).unwrap();
        let inv = &v["runs"][0]["invocations"][0];
        assert_eq!(inv["executionSuccessful"], false);
        assert!(
            inv["toolExecutionNotifications"][0]["message"]["text"]
                .as_str()
                .unwrap()
                .contains("eu-west-1/prod: could not read rolebindings: 403"),
            "{inv:#}"
        );
    }

    #[test]
    fn rejected_credentials_are_one_message_with_the_next_step() {
        use chronom_core::aws_profile::{LoginKind, renew_step};
        let (sso, keys) = (
            renew_step(LoginKind::Sso, "dev"),
            renew_step(LoginKind::Other, "default"),
        );
        let rejected = StsAnswer::Error {
            code: "InvalidClientTokenId",
            message: "The security token included in the request is invalid.",
        };
        let e = credentials_error("eu-west-1", rejected, &sso);
        assert_eq!(e.exit_code, chronom_core::exit::EXIT_FAILED);
        assert!(
            e.what.starts_with("AWS rejected the credentials: STS GetCallerIdentity in eu-west-1 answered InvalidClientTokenId: The security token")
                && e.what.ends_with("no region was scanned"),
            "{e}"
        );
        // The login that renews the profile in use: `aws sso login` for an SSO profile, new
        // keys (`aws configure`) for keys, never the other's command.
        assert!(
            e.next.contains("AWS_PROFILE")
                && e.next.contains("aws sso login --profile dev")
                && !e.next.contains("aws configure"),
            "{e}"
        );
        let e = credentials_error("eu-west-1", rejected, &keys);
        assert!(
            e.next
                .contains("pass --region in it (cn-north-1, us-gov-west-1)")
                && e.next
                    .ends_with("(the region was eu-west-1, partition aws)"),
            "{e}"
        );
        assert!(
            e.next.contains("AWS_PROFILE")
                && e.next.contains("aws configure")
                && !e.next.contains("aws sso login"),
            "{e}"
        );
        let e = credentials_error(
            "us-east-1",
            StsAnswer::Error {
                code: "ExpiredToken",
                message: "expired",
            },
            &sso,
        );
        assert!(
            e.what.starts_with("the AWS credentials have expired"),
            "{e}"
        );
        let e = credentials_error(
            "us-east-1",
            StsAnswer::None("dispatch failure: connection refused"),
            &keys,
        );
        assert!(
            e.what
                .contains("got no answer: dispatch failure: connection refused")
                && e.next.contains("network"),
            "{e}"
        );
        let e = credentials_error("us-east-1", StsAnswer::Status(503), &keys);
        assert!(e.what.contains("answered HTTP 503"), "{e}");
        for e in [
            credentials_error(
                "r",
                StsAnswer::Error {
                    code: "Throttling",
                    message: "slow down",
                },
                &keys,
            ),
            credentials_error("r", StsAnswer::Status(403), &keys),
        ] {
            assert!(!format!("{e}").contains('{'), "no Debug structs: {e}");
        }
    }

    #[test]
    fn an_error_answer_the_sdk_cannot_parse_is_read_from_its_header_or_body() {
        // AWS's query-protocol shape, and moto's (an extra <Errors> level the SDK does not read).
        let aws = b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>";
        let moto = b"<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>bad</Message></Error></Errors></ErrorResponse>";
        assert_eq!(
            raw_error(None, aws),
            Some((
                "InvalidClientTokenId".into(),
                "The security token included in the request is invalid.".into()
            ))
        );
        assert_eq!(
            raw_error(None, moto),
            Some(("InvalidClientTokenId".into(), "bad".into()))
        );
        assert_eq!(
            raw_error(
                Some("UnrecognizedClientException:http://internal.amazon.com/"),
                b"{}"
            ),
            Some(("UnrecognizedClientException".into(), String::new()))
        );
        assert_eq!(raw_error(None, b"<html>bad gateway</html>"), None);
        assert_eq!(raw_error(Some(""), b""), None);
    }

    #[tokio::test]
    async fn listclusters_denied_by_an_scp_is_a_region_denied_by_policy() {
        use aws_sdk_eks::operation::list_clusters::ListClustersError;
        use aws_smithy_mocks::mock;
        // EKS's answer when an SCP denies the region (the IAM access-denied wording).
        const SCP: &str = "User: arn:aws:iam::111122223333:user/scanner is not authorized to perform: eks:ListClusters on resource: arn:aws:eks:me-south-1:111122223333:cluster/* with an explicit deny in a service control policy";
        let denied = mock!(aws_sdk_eks::Client::list_clusters).then_error(|| {
            ListClustersError::generic(
                aws_sdk_eks::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message(SCP)
                    .build(),
            )
        });
        let eks = crate::adapters::aws::mocked_client!(aws_sdk_eks, "me-south-1", [&denied]);
        let e = cluster::list_clusters(&eks).await.unwrap_err();
        let failed = region_failure_of("me-south-1", &e);
        assert!(failed.denied_by_policy && !failed.skipped);
        assert!(
            failed
                .why
                .starts_with("denied by policy: listing the EKS clusters in me-south-1")
                && failed
                    .why
                    .contains("explicit deny in a service control policy"),
            "{}",
            failed.why
        );
    }

    #[tokio::test]
    async fn a_member_accounts_token_is_signed_as_its_role() {
        let global = GlobalArgs {
            kubeconfig: None,
            context: None,
            verbose: 0,
            cluster: None,
            region: Some("eu-west-1".into()),
            profile: Some("audit".into()),
            request_timeout: 30.0,
        };
        let env = FleetEnv::standard(&global).await;
        let mut cluster = EksCluster {
            region: "eu-west-1".into(),
            status: "ACTIVE".into(),
            endpoint: String::new(),
            certificate_authority_data: String::new(),
            facts: Default::default(),
            local_cluster_id: None,
        };
        cluster.facts.name = "prod".into();
        let role = "arn:aws:iam::444455556666:role/chronom-fleet-auditor";
        let member = (env.token_plugin)(&cluster, Some(role)).unwrap();
        assert_eq!(
            member.args,
            [
                "token",
                "--cluster",
                "prod",
                "--region",
                "eu-west-1",
                "--profile",
                "audit",
                "--role-arn",
                role
            ]
        );
        let own = (env.token_plugin)(&cluster, None).unwrap();
        assert!(
            !own.args.iter().any(|a| a == "--role-arn"),
            "{:?}",
            own.args
        );
    }
}
