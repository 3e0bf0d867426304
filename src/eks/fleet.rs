//! `audit --all-clusters`: every EKS cluster in the chosen regions, audited concurrently with
//! bounded parallelism, in one report.

use std::future::Future;

/// Run `f` on every item, at most `limit` at a time, and return the results in input order.
pub async fn bounded_map<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let mut pending = items.into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    for (i, item) in pending.by_ref().take(limit.max(1)) {
        let fut = f(item);
        running.spawn(async move { (i, fut.await) });
    }
    while let Some(done) = running.join_next().await {
        let (i, r) = match done {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("task failed: {e}"),
        };
        results[i] = Some(r);
        if let Some((i, item)) = pending.next() {
            let fut = f(item);
            running.spawn(async move { (i, fut.await) });
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every task ran"))
        .collect()
}

use std::io::IsTerminal;
use std::sync::Arc;

use comfy_table::{Table, presets::NOTHING};
use serde::Serialize;
use serde_json::Value;

use aws_config::SdkConfig;

use super::cluster::{self, EksCluster, ExecPlugin};
use crate::audit::findings::Finding;
use crate::audit::report::{self, AuditReport, Counts};
use crate::cli::{AuditArgs, AuditFormat, GlobalArgs, OutputFormat};
use crate::error::UserError;

/// How many clusters are audited at once.
pub const PARALLEL_CLUSTERS: usize = 4;

/// The commercial-partition regions where EKS is offered, for `--regions all`. A fixed list
/// (EC2 DescribeRegions would need another SDK); regions an account has not opted into answer
/// with an authentication error and are reported as skipped. Keep it in sync with the EKS
/// endpoints page (docs.aws.amazon.com/general/latest/gr/eks.html).
pub const EKS_REGIONS: &[&str] = &[
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

/// The regions `--regions` names: a list, `all`, or (empty) the one the profile or --region gives.
pub fn regions_to_scan(
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

/// One region's ListClusters.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionRow {
    pub region: String,
    pub clusters: usize,
    /// The region is not enabled for the account (opt-in regions), so it was left out.
    pub skipped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One cluster's audit: its report, or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRow {
    pub cluster: String,
    pub region: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do about the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<AuditReport>,
}

/// A finding with the cluster it was found in.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetFinding {
    pub cluster: String,
    pub region: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// `audit --all-clusters -o json|yaml`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetReport {
    pub schema_version: u32,
    pub regions: Vec<RegionRow>,
    pub clusters: Vec<ClusterRow>,
    /// Every cluster's findings, worst first, each with its cluster and region.
    pub findings: Vec<FleetFinding>,
    pub counts: Counts,
}

impl FleetReport {
    pub fn new(regions: Vec<RegionRow>, clusters: Vec<ClusterRow>) -> Self {
        let mut findings: Vec<FleetFinding> = clusters
            .iter()
            .flat_map(|c| {
                c.report
                    .iter()
                    .flat_map(|r| r.findings.iter())
                    .map(|f| FleetFinding {
                        cluster: c.cluster.clone(),
                        region: c.region.clone(),
                        finding: f.clone(),
                    })
            })
            .collect();
        findings.sort_by(|a, b| {
            b.finding
                .severity
                .cmp(&a.finding.severity)
                .then(a.region.cmp(&b.region))
                .then(a.cluster.cmp(&b.cluster))
                .then(a.finding.rule.cmp(b.finding.rule))
        });
        let mut counts = Counts::default();
        for c in clusters.iter().filter_map(|c| c.report.as_ref()) {
            counts.critical += c.counts.critical;
            counts.high += c.counts.high;
            counts.medium += c.counts.medium;
            counts.low += c.counts.low;
            counts.info += c.counts.info;
        }
        FleetReport {
            schema_version: report::SCHEMA_VERSION,
            regions,
            clusters,
            findings,
            counts,
        }
    }

    pub fn failed(&self) -> usize {
        self.clusters.iter().filter(|c| !c.ok).count()
            + self
                .regions
                .iter()
                .filter(|r| r.error.is_some() && !r.skipped)
                .count()
    }

    pub fn mismatches(&self) -> usize {
        self.clusters
            .iter()
            .filter_map(|c| c.report.as_ref()?.verification.as_ref())
            .map(|v| v.mismatches.len())
            .sum()
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(NOTHING);
    t.set_header(header.to_vec());
    t
}

fn lines(t: &Table) -> String {
    t.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

/// The table form: clusters, then every mapping and every finding with its cluster.
pub fn render_table(r: &FleetReport, wide: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "CLUSTERS ({} in {} region(s))\n",
        r.clusters.len(),
        r.regions.iter().filter(|g| !g.skipped).count()
    ));
    let mut t = table(&[
        "REGION", "CLUSTER", "STATUS", "MAPPINGS", "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO",
    ]);
    for c in &r.clusters {
        match &c.report {
            Some(rep) => t.add_row(vec![
                c.region.clone(),
                c.cluster.clone(),
                "audited".into(),
                rep.mappings.len().to_string(),
                rep.counts.critical.to_string(),
                rep.counts.high.to_string(),
                rep.counts.medium.to_string(),
                rep.counts.low.to_string(),
                rep.counts.info.to_string(),
            ]),
            None => t.add_row(vec![
                c.region.clone(),
                c.cluster.clone(),
                format!("failed: {}", c.error.as_deref().unwrap_or("?")),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]),
        };
    }
    for g in r.regions.iter().filter(|g| g.error.is_some() && !g.skipped) {
        t.add_row(vec![
            g.region.clone(),
            "-".into(),
            format!("failed: {}", g.error.as_deref().unwrap_or("?")),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
    }
    if r.clusters.is_empty() && r.failed() == 0 {
        out.push_str("  (no EKS clusters)\n");
    } else {
        out.push_str(&lines(&t));
    }
    let skipped: Vec<&str> = r
        .regions
        .iter()
        .filter(|g| g.skipped)
        .map(|g| g.region.as_str())
        .collect();
    if !skipped.is_empty() {
        out.push_str(&format!(
            "skipped (not enabled for this account): {}\n",
            skipped.join(", ")
        ));
    }
    for c in r.clusters.iter().filter(|c| !c.ok) {
        if let Some(next) = &c.next {
            out.push_str(&format!("{}/{} next: {next}\n", c.region, c.cluster));
        }
    }

    out.push_str("\nMAPPINGS\n");
    let mut t = table(&[
        "CLUSTER",
        "SOURCE",
        "PRINCIPAL",
        "USERNAME",
        "GROUPS",
        "ACCESS",
        "STATE",
    ]);
    let mut any = false;
    for c in &r.clusters {
        for m in c.report.iter().flat_map(|r| r.mappings.iter()) {
            any = true;
            let dash = |s: String| if s.is_empty() { "-".to_string() } else { s };
            t.add_row(vec![
                c.cluster.clone(),
                m.mapping.source.as_str().to_string(),
                m.mapping.principal.clone(),
                dash(m.mapping.username.clone()),
                dash(m.mapping.groups.join(",")),
                m.access.clone(),
                m.mapping.state.to_string(),
            ]);
        }
    }
    out.push_str(&if any { lines(&t) } else { "  (none)\n".into() });

    out.push_str(&format!(
        "\nFINDINGS (critical {}, high {}, medium {}, low {})\n",
        r.counts.critical, r.counts.high, r.counts.medium, r.counts.low
    ));
    let mut header = vec!["CLUSTER", "SEVERITY", "RULE", "SUBJECT", "EVIDENCE"];
    if wide {
        header.push("REMEDIATION");
    }
    let mut t = table(&header);
    for f in &r.findings {
        let mut row = vec![
            f.cluster.clone(),
            format!("{:?}", f.finding.severity).to_uppercase(),
            format!("{} {}", f.finding.rule, f.finding.name),
            f.finding.subject.clone(),
            f.finding.evidence.clone(),
        ];
        if wide {
            row.push(f.finding.remediation.to_string());
        }
        t.add_row(row);
    }
    out.push_str(&if r.findings.is_empty() {
        "  (none)\n".into()
    } else {
        lines(&t)
    });
    out
}

/// One SARIF run for the whole fleet: every cluster's results, located under
/// `eks/REGION/CLUSTER/...` and prefixed with the cluster, and the failed clusters as
/// tool execution notifications.
pub fn render_sarif(r: &FleetReport) -> String {
    let empty = report::build(
        "all-clusters",
        &Default::default(),
        &report::snapshot_of(&Default::default(), crate::rbac::RuleSource::AsStored),
    );
    let mut doc: Value =
        serde_json::from_str(&crate::report::sarif::render(&empty)).expect("our SARIF is JSON");
    let mut results = Vec::new();
    for c in &r.clusters {
        let Some(rep) = &c.report else { continue };
        let one: Value =
            serde_json::from_str(&crate::report::sarif::render(rep)).expect("our SARIF is JSON");
        for mut res in one["runs"][0]["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let tag = format!("{}/{}", c.region, c.cluster);
            if let Some(text) = res["message"]["text"].as_str().map(str::to_string) {
                res["message"]["text"] = Value::String(format!("[{tag}] {text}"));
            }
            let loc = &mut res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
            if let Some(uri) = loc.as_str().map(str::to_string) {
                *loc = Value::String(format!("eks/{tag}/{uri}"));
            }
            let fp = &mut res["partialFingerprints"]["chronomFinding/v1"];
            if let Some(f) = fp.as_str().map(str::to_string) {
                *fp = Value::String(format!("{tag}|{f}"));
            }
            res["properties"]["cluster"] = Value::String(c.cluster.clone());
            res["properties"]["region"] = Value::String(c.region.clone());
            results.push(res);
        }
    }
    let failures: Vec<Value> = r
        .clusters
        .iter()
        .filter(|c| !c.ok)
        .map(|c| (format!("{}/{}", c.region, c.cluster), c.error.clone().unwrap_or_default()))
        .chain(r.regions.iter().filter(|g| g.error.is_some() && !g.skipped).map(|g| (g.region.clone(), g.error.clone().unwrap_or_default())))
        .map(|(what, why)| serde_json::json!({ "level": "error", "message": { "text": format!("{what}: {why}") } }))
        .collect();
    let run = &mut doc["runs"][0];
    run["results"] = Value::Array(results);
    run["automationDetails"]["id"] = Value::String("kubectl-chronom/audit/all-clusters".into());
    run["invocations"] = serde_json::json!([{ "executionSuccessful": failures.is_empty(), "toolExecutionNotifications": failures }]);
    let mut s = serde_json::to_string_pretty(&doc).expect("sarif serialises");
    s.push('\n');
    s
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
pub type TokenPlugin = Arc<dyn Fn(&EksCluster) -> Result<ExecPlugin, UserError> + Send + Sync>;

impl FleetEnv {
    /// The standard chain with --profile, and `kubectl-chronom token` for the tokens.
    pub async fn standard(global: &GlobalArgs) -> Self {
        let sdk = super::aws_config(global.region.as_deref(), global.profile.as_deref()).await;
        let profile = global.profile.clone();
        FleetEnv {
            sdk,
            token_plugin: Arc::new(move |c: &EksCluster| {
                ExecPlugin::this_binary(c.name(), &c.region, profile.as_deref())
            }),
        }
    }

    pub fn in_region(&self, region: &str) -> SdkConfig {
        self.sdk
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build()
    }
}

/// Region -> ListClusters, with opt-in regions that are not enabled marked skipped.
async fn list_region(env: &FleetEnv, region: &str) -> Result<Vec<String>, (bool, String)> {
    use aws_sdk_eks::error::ProvideErrorMetadata;
    cluster::list_clusters(&aws_sdk_eks::Client::new(&env.in_region(region)))
        .await
        .map_err(|e| {
            let skipped = matches!(
                e.code(),
                Some(
                    "UnrecognizedClientException"
                        | "InvalidClientTokenId"
                        | "InvalidSignatureException"
                )
            );
            (
                skipped,
                super::access_entries::aws_error(
                    &e,
                    &format!("listing the EKS clusters in {region}"),
                    "eks:ListClusters",
                )
                .what,
            )
        })
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
    let conn = cluster::open(described, &exec, sdk, global).await?;
    crate::audit::live_report(&conn, verify).await
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
    let listed = bounded_map(regions.to_vec(), PARALLEL_CLUSTERS * 2, |region| {
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

    let total = targets.len();
    let bar = progress_bar(progress, total);
    let cluster_rows = bounded_map(targets, PARALLEL_CLUSTERS, |(region, cluster)| {
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
    })
    .await;
    bar.finish_and_clear();
    Ok(FleetReport::new(region_rows, cluster_rows))
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

/// The fleet report in the chosen format.
pub fn render(fleet: &FleetReport, format: AuditFormat) -> String {
    match format {
        AuditFormat::Table => render_table(fleet, false),
        AuditFormat::Wide => render_table(fleet, true),
        AuditFormat::Json => crate::report::structured(OutputFormat::Json, fleet),
        AuditFormat::Yaml => crate::report::structured(OutputFormat::Yaml, fleet),
        AuditFormat::Sarif => render_sarif(fleet),
    }
}

/// `audit --all-clusters`: collect, print one report, and exit 4 on a verification mismatch,
/// 3 at or above --fail-on, 1 when a cluster or region failed, else 0.
pub async fn run(global: &GlobalArgs, args: &AuditArgs) -> Result<i32, UserError> {
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
        AuditFormat::Json => crate::report::print_structured(OutputFormat::Json, &fleet)?,
        AuditFormat::Yaml => crate::report::print_structured(OutputFormat::Yaml, &fleet)?,
        other => crate::report::print_text(&render(&fleet, other))?,
    }
    Ok(exit_code(&fleet, args.fail_on))
}

/// 4 on a verification mismatch, 3 at or above `fail_on`, 1 when a cluster or region failed.
pub fn exit_code(fleet: &FleetReport, fail_on: Option<crate::cli::Severity>) -> i32 {
    if fleet.mismatches() > 0 {
        eprintln!(
            "error: {} answer(s) differ from the live authorizers (see verification in each cluster's report)",
            fleet.mismatches()
        );
        return crate::audit::EXIT_MISMATCH;
    }
    if let Some(threshold) = fail_on {
        let at_or_above = fleet
            .findings
            .iter()
            .filter(|f| f.finding.severity >= threshold)
            .count();
        if at_or_above > 0 {
            eprintln!(
                "{at_or_above} finding(s) at or above {threshold:?} across all clusters (--fail-on)"
            );
            return crate::audit::EXIT_FINDINGS;
        }
    }
    if fleet.failed() > 0 {
        eprintln!(
            "error: {} cluster(s) or region(s) could not be audited (see the report)",
            fleet.failed()
        );
        return crate::error::EXIT_FAILED;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::manifests::ClusterState;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
            &report::snapshot_of(&state, crate::rbac::RuleSource::Aggregate),
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
            crate::error::EXIT_USAGE
        );
        assert!(regions_to_scan(&["all".into(), "eu-west-1".into()], None).is_err());
        assert!(regions_to_scan(&["Europe".into()], None).is_err());
    }

    #[test]
    fn every_finding_carries_its_cluster_and_counts_add_up() {
        let f = fleet();
        assert!(!f.findings.is_empty());
        assert!(
            f.findings
                .iter()
                .all(|x| x.cluster == "prod" && x.region == "eu-west-1")
        );
        assert_eq!(
            f.counts.critical,
            f.clusters[0].report.as_ref().unwrap().counts.critical
        );
        assert_eq!(
            f.failed(),
            1,
            "the failed cluster counts, the skipped region does not"
        );
        let json: Value =
            serde_json::from_str(&crate::report::structured(OutputFormat::Json, &f)).unwrap();
        assert_eq!(json["findings"][0]["cluster"], "prod");
        assert_eq!(json["findings"][0]["rule"], "CHR001");
        assert_eq!(json["clusters"][1]["error"], "AccessDenied");
    }

    #[test]
    fn the_table_has_a_cluster_column_and_the_failed_row() {
        let t = render_table(&fleet(), true);
        assert!(t.contains("failed: AccessDenied"), "{t}");
        assert!(
            t.contains("eu-west-1/dev next: ask for eks:DescribeCluster"),
            "{t}"
        );
        assert!(
            t.lines()
                .any(|l| l.trim_start().starts_with("prod") && l.contains("CHR001")),
            "{t}"
        );
        assert!(
            t.contains("skipped (not enabled for this account): ap-east-2"),
            "{t}"
        );
        assert!(t.contains("REMEDIATION"));
    }

    #[test]
    fn sarif_is_one_run_with_located_results_and_failures() {
        let v: Value = serde_json::from_str(&render_sarif(&fleet())).unwrap();
        assert_eq!(v["runs"].as_array().unwrap().len(), 1);
        let run = &v["runs"][0];
        let res = run["results"].as_array().unwrap();
        assert!(!res.is_empty());
        assert!(res.iter().all(|r| {
            r["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with("[eu-west-1/prod] ")
        }));
        assert!(
            res[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .starts_with("eks/eu-west-1/prod/")
        );
        assert_eq!(run["invocations"][0]["executionSuccessful"], false);
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for r in res {
            assert_eq!(
                rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
                r["ruleId"]
            );
        }
    }

    #[test]
    fn exit_codes_put_findings_before_failures() {
        let f = fleet();
        assert_eq!(
            exit_code(&f, Some(crate::cli::Severity::Critical)),
            crate::audit::EXIT_FINDINGS
        );
        assert_eq!(exit_code(&f, None), crate::error::EXIT_FAILED);
    }

    /// Proves both halves of "bounded": the tasks did overlap (a sequential run peaks at 1), and
    /// never more than `limit` of them at once. The first `limit` tasks sleep longest, so all of
    /// them are in flight together before any finishes.
    #[tokio::test]
    async fn bounded_map_keeps_order_and_limits_concurrency() {
        const LIMIT: usize = 3;
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let out = bounded_map((0..20u64).collect(), LIMIT, |i| {
            let (running, peak, started) = (running.clone(), peak.clone(), started.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20 - i)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        assert_eq!(out, (0..20).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(started.load(Ordering::SeqCst), 20, "every item ran once");
        let peak = peak.load(Ordering::SeqCst);
        assert!(
            peak > 1,
            "never more than one task in flight: ran sequentially"
        );
        assert!(peak <= LIMIT, "{peak} tasks in flight, limit {LIMIT}");
        assert_eq!(peak, LIMIT, "the limit is also reached");
    }
}
