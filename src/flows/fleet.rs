//! `audit --all-clusters`: every EKS cluster in the chosen regions, audited concurrently with
//! bounded parallelism, in one report.

use std::io::IsTerminal;
use std::sync::Arc;

use aws_config::SdkConfig;

use crate::adapters::aws::cluster::{self, EksCluster};
use crate::adapters::aws::identity::AwsCaller;
use crate::adapters::kube::eks_connection::{self, ExecPlugin};
use crate::cli::{AuditArgs, GlobalArgs};
use chronom_core::audit::completeness::{self, UnreadSource, Verdict};
use chronom_core::audit::fleet::{ClusterRow, FleetReport, RegionRow};
use chronom_core::audit::report::AuditReport;
use chronom_core::error::UserError;
use chronom_core::report::fleet::render;
use chronom_core::report::format::Format;

/// How many clusters are audited at once. A cluster's wait is mostly the network (its API
/// server, DescribeCluster, the token plugin), and an unanswering endpoint holds its slot for the
/// whole request timeout; 16 kept a 40-cluster fleet with slow and silent endpoints at 7.7 s where
/// 4 took 10.5 s (tests/cluster/fleet_scale.rs, debug build). Memory in flight is at most 16
/// clusters' listings; each finished cluster keeps only its report.
pub const PARALLEL_CLUSTERS: usize = 16;

/// The commercial-partition regions where EKS is offered, for `--regions all`. A fixed list
/// (EC2 DescribeRegions would need another SDK); opt-in regions an account has not enabled
/// answer with an authentication error and are reported as skipped (see [`region_skipped`]).
/// Keep it in sync with the EKS endpoints page (docs.aws.amazon.com/general/latest/gr/eks.html).
pub(crate) const EKS_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
];

/// The commercial regions enabled in every account: those launched before 2019-03-20. They
/// cannot be disabled (AWS Account Management, "Enable or disable AWS Regions in your
/// account"), so an authentication error there is never "not enabled". Every later region is
/// opt-in; this list does not grow.
pub(crate) const DEFAULT_ENABLED_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "sa-east-1",
];

/// Can `region` be one the account has not enabled? Only an opt-in region of the commercial
/// partition can; the China and GovCloud partitions have no opt-in regions.
pub(crate) fn may_be_disabled(region: &str) -> bool {
    !DEFAULT_ENABLED_REGIONS.contains(&region)
        && !region.starts_with("cn-")
        && !region.starts_with("us-gov-")
        && !region.starts_with("us-iso")
}

/// The error codes AWS answers a request to a region the account has not enabled with, by
/// protocol: `UnrecognizedClientException` (JSON and REST-JSON services such as EKS),
/// `InvalidClientTokenId` (query services such as STS), `AuthFailure` (EC2). They are also
/// what a bad key gets everywhere, which is why [`verify_credentials`] runs first.
const NOT_ENABLED_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AuthFailure",
];

/// Is a ListClusters failure in `region` (with credentials STS has accepted) a region the
/// account has not enabled, to be skipped? Only for an opt-in region and an authentication
/// code; anything else (AccessDenied from a policy or an SCP, throttling, a network error, an
/// authentication error in a default region) is a failed region.
pub(crate) fn region_skipped(region: &str, code: Option<&str>) -> bool {
    may_be_disabled(region) && code.is_some_and(|c| NOT_ENABLED_CODES.contains(&c))
}

/// The region STS GetCallerIdentity is asked in: the configured one unless it is opt-in (it
/// may be disabled, which would read as bad credentials), else the first default-enabled
/// region scanned, else the configured or first scanned one, else us-east-1.
pub(crate) fn sts_region(configured: Option<&str>, scanned: &[String]) -> String {
    configured
        .filter(|r| !may_be_disabled(r))
        .map(str::to_string)
        .or_else(|| scanned.iter().find(|r| !may_be_disabled(r)).cloned())
        .or_else(|| configured.map(str::to_string))
        .or_else(|| scanned.first().cloned())
        .unwrap_or_else(|| "us-east-1".to_string())
}

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

/// The one error for credentials STS would not accept, from what GetCallerIdentity answered.
pub(crate) fn credentials_error(region: &str, answer: StsAnswer<'_>) -> UserError {
    let (code, message, transport) = match answer {
        StsAnswer::Error { code, message } => (Some(code), message.to_string(), ""),
        StsAnswer::Status(status) => (None, format!("HTTP {status}"), ""),
        StsAnswer::None(transport) => (None, String::new(), transport),
    };
    const RENEW: &str = "check which AWS credentials are used (--profile, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment) and renew them: `aws sso login` for an SSO profile, `aws configure` for access keys; `aws sts get-caller-identity` shows whether they work";
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
            RENEW,
        ),
        Some(c @ ("ExpiredToken" | "ExpiredTokenException" | "RequestExpired")) => {
            UserError::failed(
                format!(
                    "the AWS credentials have expired: STS GetCallerIdentity in {region} answered {c}: {message}; no region was scanned"
                ),
                RENEW,
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
            Err(credentials_error(&region, answer))
        }
    }
}

/// The regions `--regions` names: a list, `all`, or (empty) the one the profile or --region gives.
pub(crate) fn regions_to_scan(
    requested: &[String],
    default_region: Option<&str>,
) -> Result<Vec<String>, UserError> {
    let requested: Vec<&str> = requested
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .collect();
    if requested.iter().any(|r| r.eq_ignore_ascii_case("all")) {
        if requested.len() > 1 {
            return Err(UserError::usage(
                "--regions all cannot be combined with other regions",
                "pass either --regions all or a list such as --regions eu-west-1,us-east-1",
            ));
        }
        return Ok(EKS_REGIONS.iter().map(|r| r.to_string()).collect());
    }
    let mut out: Vec<String> = Vec::new();
    for r in requested {
        let valid = r.len() <= 32
            && r.split('-').count() >= 3
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(UserError::usage(
                format!("--regions: {r:?} is not an AWS region name"),
                "use names such as eu-west-1 or us-east-1, or all",
            ));
        }
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    if out.is_empty() {
        match default_region {
            Some(r) => out.push(r.to_string()),
            None => {
                return Err(UserError::usage(
                    "--all-clusters needs regions: none given, and neither --region nor the AWS profile sets one",
                    "pass --regions eu-west-1,us-east-1 (or --regions all)",
                ));
            }
        }
    }
    Ok(out)
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

/// The exec credential plugin that gets a described cluster's bearer token.
pub(crate) type TokenPlugin =
    Arc<dyn Fn(&EksCluster) -> Result<ExecPlugin, UserError> + Send + Sync>;

impl FleetEnv {
    /// The standard chain with --profile, and `kubectl-chronom token` for the tokens.
    pub(crate) async fn standard(global: &GlobalArgs) -> Self {
        let sdk =
            crate::adapters::aws::aws_config(global.region.as_deref(), global.profile.as_deref())
                .await;
        let profile = global.profile.clone();
        FleetEnv {
            sdk,
            token_plugin: Arc::new(move |c: &EksCluster| {
                ExecPlugin::for_cluster(c, profile.as_deref())
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

/// Region -> ListClusters; an opt-in region that is not enabled is `Err((true, why))` (skipped),
/// any other failure `Err((false, why))`. Only called once the credentials are known to work.
async fn list_region(env: &FleetEnv, region: &str) -> Result<Vec<String>, (bool, String)> {
    cluster::list_clusters(&aws_sdk_eks::Client::new(&env.in_region(region)))
        .await
        .map_err(|e| {
            let (coded, status, transport) = failure_of(&e);
            region_failure(
                region,
                coded.as_ref().map(|(c, m)| (c.as_str(), m.as_str())),
                status,
                &transport,
            )
        })
}

/// A region's ListClusters failure as its row says it: `(skipped, why)`.
pub(crate) fn region_failure(
    region: &str,
    coded: Option<(&str, &str)>,
    status: Option<u16>,
    transport: &str,
) -> (bool, String) {
    match coded {
        Some((code, message)) if region_skipped(region, Some(code)) => (
            true,
            format!(
                "not enabled for this account: ListClusters answered {code}: {message} (what an opt-in region answers until it is enabled; if it is enabled, the session token may come from the global STS endpoint, which is valid in default regions only)"
            ),
        ),
        Some((code, message)) if code.contains("AccessDenied") => (
            false,
            format!(
                "listing the EKS clusters in {region}: AWS denied it ({code}: {message}); allow eks:ListClusters for this identity there (an SCP or a permissions boundary may deny it)"
            ),
        ),
        Some((code, message)) => (
            false,
            format!("listing the EKS clusters in {region}: {code}: {message}"),
        ),
        None => (
            false,
            match status {
                Some(status) => {
                    format!("listing the EKS clusters in {region}: AWS answered HTTP {status}")
                }
                None => format!("listing the EKS clusters in {region}: no answer: {transport}"),
            },
        ),
    }
}

/// One cluster: DescribeCluster, connect with the token plugin, audit.
async fn audit_one(
    env: &FleetEnv,
    global: &GlobalArgs,
    region: &str,
    name: &str,
    verify: bool,
) -> Result<AuditReport, UserError> {
    let sdk = env.in_region(region);
    let described = cluster::describe(&sdk, region, name).await?;
    let exec = (env.token_plugin)(&described)?;
    let conn = eks_connection::open(described, &exec, sdk, global).await?;
    crate::flows::audit::live_report(&conn, verify).await
}

/// `audit --all-clusters` up to the report: list every region, audit each cluster (at most
/// [`PARALLEL_CLUSTERS`] at once). Fails only when no region could be listed at all.
pub async fn collect(
    env: &FleetEnv,
    global: &GlobalArgs,
    regions: &[String],
    verify: bool,
    progress: bool,
) -> Result<FleetReport, UserError> {
    verify_credentials(env, regions).await?;
    let (region_rows, targets) = list_regions(env, regions).await?;
    let cluster_rows = audit_clusters(env, global, targets, verify, progress).await;
    Ok(FleetReport::new(region_rows, cluster_rows))
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
                    region: region.clone(),
                    clusters: names.len(),
                    skipped: false,
                    error: None,
                });
                targets.extend(names.into_iter().map(|n| (region.clone(), n)));
            }
            Err((skipped, why)) => region_rows.push(RegionRow {
                region,
                clusters: 0,
                skipped,
                error: Some(why),
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
            "check the AWS credentials (--profile, AWS_PROFILE, `aws sso login`) and eks:ListClusters",
        ));
    }
    Ok((region_rows, targets))
}

/// Phase 2: audit every `(region, cluster)` target, at most [`PARALLEL_CLUSTERS`] at once; a
/// cluster that fails is a row with its reason, never the end of the run.
async fn audit_clusters(
    env: &FleetEnv,
    global: &GlobalArgs,
    targets: Vec<(String, String)>,
    verify: bool,
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
            let (env, bar) = (env.clone(), bar.clone());
            async move {
                let result = audit_one(&env, &global, &region, &cluster, verify).await;
                if result.is_err() {
                    bar.println(format!("{region}/{cluster} failed"));
                }
                bar.set_message(format!("{region}/{cluster}"));
                bar.inc(1);
                cluster_row(region, cluster, result)
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
            cluster,
            region,
            ok: true,
            error: None,
            next: None,
            report: Some(r),
        },
        Err(e) => ClusterRow {
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
    let fleet = collect(
        &env,
        global,
        &regions,
        args.verify,
        std::io::stderr().is_terminal(),
    )
    .await?;
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
            "error: {} cluster(s) or region(s) could not be audited (see the report)",
            fleet.failed()
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
                    region: "eu-west-1".into(),
                    clusters: 2,
                    skipped: false,
                    error: None,
                },
                RegionRow {
                    region: "ap-east-2".into(),
                    clusters: 0,
                    skipped: true,
                    error: Some("not enabled".into()),
                },
            ],
            vec![
                ClusterRow {
                    cluster: "prod".into(),
                    region: "eu-west-1".into(),
                    ok: true,
                    error: None,
                    next: None,
                    report: Some(sample_report()),
                },
                ClusterRow {
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
    fn regions_list_all_or_default() {
        assert_eq!(
            regions_to_scan(
                &["eu-west-1".into(), " us-east-1".into(), "eu-west-1".into()],
                None
            )
            .unwrap(),
            ["eu-west-1", "us-east-1"]
        );
        assert!(
            regions_to_scan(&["all".into()], None)
                .unwrap()
                .contains(&"us-east-1".to_string())
        );
        assert_eq!(
            regions_to_scan(&[], Some("eu-central-1")).unwrap(),
            ["eu-central-1"]
        );
        assert_eq!(
            regions_to_scan(&[], None).unwrap_err().exit_code,
            chronom_core::exit::EXIT_USAGE
        );
        assert!(regions_to_scan(&["all".into(), "eu-west-1".into()], None).is_err());
        assert!(regions_to_scan(&["Europe".into()], None).is_err());
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
    fn only_an_opt_in_region_answering_with_an_authentication_error_is_skipped() {
        for code in [
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "AuthFailure",
        ] {
            assert!(region_skipped("af-south-1", Some(code)), "{code}");
            assert!(region_skipped("mx-central-1", Some(code)), "{code}");
            assert!(
                !region_skipped("eu-west-1", Some(code)),
                "{code}: a default region cannot be disabled"
            );
            assert!(!region_skipped("cn-north-1", Some(code)), "{code}");
            assert!(!region_skipped("us-gov-west-1", Some(code)), "{code}");
        }
        for code in [
            Some("AccessDeniedException"),
            Some("AccessDenied"),
            Some("ThrottlingException"),
            Some("InvalidSignatureException"),
            None,
        ] {
            assert!(
                !region_skipped("af-south-1", code),
                "{code:?}: denied (an SCP), throttled or unreachable is a failed region"
            );
        }
        let (skipped, why) = region_failure(
            "af-south-1",
            Some(("UnrecognizedClientException", "bad token")),
            Some(403),
            "",
        );
        assert!(
            skipped && why.starts_with("not enabled for this account"),
            "{why}"
        );
        let (skipped, why) = region_failure(
            "af-south-1",
            Some((
                "AccessDeniedException",
                "explicit deny in a service control policy",
            )),
            Some(403),
            "",
        );
        assert!(
            !skipped && why.contains("AWS denied it") && why.contains("service control policy"),
            "{why}"
        );
        let (skipped, why) = region_failure("eu-west-1", None, None, "dispatch failure: refused");
        assert!(
            !skipped && why.ends_with("no answer: dispatch failure: refused"),
            "{why}"
        );
        for r in DEFAULT_ENABLED_REGIONS {
            assert!(EKS_REGIONS.contains(r), "{r}");
        }
        assert_eq!(
            EKS_REGIONS.iter().filter(|r| may_be_disabled(r)).count(),
            EKS_REGIONS.len() - DEFAULT_ENABLED_REGIONS.len()
        );
    }

    #[test]
    fn sts_is_asked_in_a_region_that_cannot_be_disabled_when_there_is_one() {
        let scanned = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sts_region(Some("eu-west-1"), &scanned(&["af-south-1"])),
            "eu-west-1"
        );
        assert_eq!(
            sts_region(Some("af-south-1"), &scanned(&["af-south-1", "us-east-2"])),
            "us-east-2"
        );
        assert_eq!(
            sts_region(Some("af-south-1"), &scanned(&["me-south-1"])),
            "af-south-1"
        );
        assert_eq!(sts_region(None, &scanned(&["me-south-1"])), "me-south-1");
        assert_eq!(sts_region(None, &scanned(&["cn-north-1"])), "cn-north-1");
        assert_eq!(sts_region(None, &[]), "us-east-1");
    }

    #[test]
    fn rejected_credentials_are_one_message_with_the_next_step() {
        let e = credentials_error(
            "eu-west-1",
            StsAnswer::Error {
                code: "InvalidClientTokenId",
                message: "The security token included in the request is invalid.",
            },
        );
        assert_eq!(e.exit_code, chronom_core::exit::EXIT_FAILED);
        assert!(
            e.what.starts_with("AWS rejected the credentials: STS GetCallerIdentity in eu-west-1 answered InvalidClientTokenId: The security token")
                && e.what.ends_with("no region was scanned"),
            "{e}"
        );
        assert!(
            e.next.contains("AWS_PROFILE")
                && e.next.contains("aws sso login")
                && e.next.contains("aws configure"),
            "{e}"
        );
        let e = credentials_error(
            "us-east-1",
            StsAnswer::Error {
                code: "ExpiredToken",
                message: "expired",
            },
        );
        assert!(
            e.what.starts_with("the AWS credentials have expired"),
            "{e}"
        );
        let e = credentials_error(
            "us-east-1",
            StsAnswer::None("dispatch failure: connection refused"),
        );
        assert!(
            e.what
                .contains("got no answer: dispatch failure: connection refused")
                && e.next.contains("network"),
            "{e}"
        );
        let e = credentials_error("us-east-1", StsAnswer::Status(503));
        assert!(e.what.contains("answered HTTP 503"), "{e}");
        for e in [
            credentials_error(
                "r",
                StsAnswer::Error {
                    code: "Throttling",
                    message: "slow down",
                },
            ),
            credentials_error("r", StsAnswer::Status(403)),
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
}
