//! The fleet report as a table (with its sections), as one SARIF run, or as JSON or YAML.

use serde_json::Value;

use super::format::Format;
use super::table::{plain_table as table, table_text as lines};
use crate::audit::completeness::source;
use crate::audit::fleet::FleetReport;
use crate::audit::report;

/// The fleet report in the chosen format.
pub fn render(fleet: &FleetReport, format: Format) -> String {
    match format {
        Format::Wide => render_table(fleet, true),
        Format::Json | Format::Yaml => super::format::structured(format, fleet),
        Format::Sarif => render_sarif(fleet),
        // audit accepts table, wide, json, yaml and sarif (cli.rs); text would be the table.
        Format::Table | Format::Text => render_table(fleet, false),
    }
}

/// The table form: clusters, then every mapping and every finding with its cluster.
pub fn render_table(r: &FleetReport, wide: bool) -> String {
    let mut out = clusters_section(r);
    out.push_str(&mappings_section(r));
    out.push_str(&findings_section(r, wide));
    if !r.complete {
        out.push_str(&incomplete_section(r));
    }
    out
}

/// The header, with ACCOUNT first in a cross-account fleet.
fn header<'a>(r: &FleetReport, rest: &[&'a str]) -> Vec<&'a str> {
    let mut h = Vec::with_capacity(rest.len() + 1);
    if !r.accounts.is_empty() {
        h.push("ACCOUNT");
    }
    h.extend_from_slice(rest);
    h
}

/// A row, with its account first in a cross-account fleet.
fn row(r: &FleetReport, account: Option<&str>, rest: Vec<String>) -> Vec<String> {
    if r.accounts.is_empty() {
        return rest;
    }
    let mut out = vec![account.unwrap_or("-").to_string()];
    out.extend(rest);
    out
}

/// A row of dashes after the first columns, for a cluster or region with no report.
fn failed_row(region: &str, cluster: &str, error: Option<&str>) -> Vec<String> {
    let mut row = vec![
        region.to_string(),
        cluster.to_string(),
        format!("failed: {}", error.unwrap_or("?")),
    ];
    row.extend(std::iter::repeat_n("-".to_string(), 6));
    row
}

/// CLUSTERS: one row per audited or failed cluster and per failed region, then the skipped
/// regions and each failed cluster's next step.
fn clusters_section(r: &FleetReport) -> String {
    let mut out = if r.accounts.is_empty() {
        format!(
            "CLUSTERS ({} in {} region(s))\n",
            r.clusters.len(),
            r.regions.iter().filter(|g| !g.skipped).count()
        )
    } else {
        format!(
            "CLUSTERS ({} in {} account(s), {} failed)\n",
            r.clusters.len(),
            r.accounts.len(),
            r.accounts.iter().filter(|a| !a.ok).count()
        )
    };
    let mut t = table(&header(
        r,
        &[
            "REGION", "CLUSTER", "STATUS", "MAPPINGS", "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO",
        ],
    ));
    for a in r.accounts.iter().filter(|a| !a.ok) {
        t.add_row(row(
            r,
            Some(&a.account),
            failed_row("-", "-", a.error.as_deref()),
        ));
    }
    for c in &r.clusters {
        let account = c.account.as_deref();
        match &c.report {
            Some(rep) => t.add_row(row(
                r,
                account,
                vec![
                    c.region.clone(),
                    c.cluster.clone(),
                    "audited".into(),
                    rep.mappings.len().to_string(),
                    rep.counts.critical.to_string(),
                    rep.counts.high.to_string(),
                    rep.counts.medium.to_string(),
                    rep.counts.low.to_string(),
                    rep.counts.info.to_string(),
                ],
            )),
            None => t.add_row(row(
                r,
                account,
                failed_row(&c.region, &c.cluster, c.error.as_deref()),
            )),
        };
    }
    for g in r.regions.iter().filter(|g| g.error.is_some() && !g.skipped) {
        let mut cells = failed_row(&g.region, "-", g.error.as_deref());
        if g.denied_by_policy {
            // Its reason starts "denied by policy": not a failure to explain.
            cells[2] = g.error.clone().unwrap_or_default();
        }
        t.add_row(row(r, g.account.as_deref(), cells));
    }
    if r.clusters.is_empty() && r.failed() == 0 {
        let listed = r.regions.iter().filter(|g| !g.skipped).count();
        out.push_str(&format!(
            "  (no EKS clusters in the {listed} region(s) listed)\n"
        ));
    } else {
        out.push_str(&lines(&t));
    }
    let skipped: Vec<String> = r
        .regions
        .iter()
        .filter(|g| g.skipped)
        .map(|g| match &g.account {
            Some(a) => format!("{a}/{}", g.region),
            None => g.region.clone(),
        })
        .collect();
    if !skipped.is_empty() {
        out.push_str(&format!(
            "skipped (not enabled for this account): {}\n",
            skipped.join(", ")
        ));
    }
    for a in r.accounts.iter().filter(|a| !a.ok) {
        if let Some(next) = &a.next {
            out.push_str(&format!("{} next: {next}\n", a.account));
        }
    }
    for c in r.clusters.iter().filter(|c| !c.ok) {
        if let Some(next) = &c.next {
            let account = c
                .account
                .as_deref()
                .map(|a| format!("{a}/"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{account}{}/{} next: {next}\n",
                c.region, c.cluster
            ));
        }
    }
    out
}

/// MAPPINGS: every cluster's mappings with their cluster.
fn mappings_section(r: &FleetReport) -> String {
    let mut t = table(&header(
        r,
        &[
            "CLUSTER",
            "SOURCE",
            "PRINCIPAL",
            "USERNAME",
            "GROUPS",
            "ACCESS",
            "STATE",
        ],
    ));
    let mut any = false;
    for c in &r.clusters {
        for m in c.report.iter().flat_map(|r| r.mappings.iter()) {
            any = true;
            let dash = |s: String| if s.is_empty() { "-".to_string() } else { s };
            t.add_row(row(
                r,
                c.account.as_deref(),
                vec![
                    c.cluster.clone(),
                    m.mapping.source.as_str().to_string(),
                    m.mapping.principal.clone(),
                    dash(m.mapping.username.clone()),
                    dash(m.mapping.groups.join(",")),
                    m.access.clone(),
                    m.mapping.state.to_string(),
                ],
            ));
        }
    }
    let body = if any { lines(&t) } else { "  (none)\n".into() };
    format!("\nMAPPINGS\n{body}")
}

/// FINDINGS: worst first, with their cluster; wide adds the remediation.
fn findings_section(r: &FleetReport, wide: bool) -> String {
    let mut out = format!(
        "\nFINDINGS (critical {}, high {}, medium {}, low {})\n",
        r.counts.critical, r.counts.high, r.counts.medium, r.counts.low
    );
    let mut columns = header(r, &["CLUSTER", "SEVERITY", "RULE", "SUBJECT", "EVIDENCE"]);
    if wide {
        columns.push("REMEDIATION");
    }
    let mut t = table(&columns);
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
        t.add_row(self::row(r, f.account.as_deref(), row));
    }
    out.push_str(&if r.findings.is_empty() {
        "  (none)\n".into()
    } else {
        lines(&t)
    });
    out
}

/// INCOMPLETE: what could not be read, so the tables above are read as partial.
fn incomplete_section(r: &FleetReport) -> String {
    let mut out = format!(
        "\nINCOMPLETE ({} source(s) could not be read; the tables above leave out what they hold)\n",
        r.incomplete.len()
    );
    let mut t = table(&header(r, &["REGION", "CLUSTER", "SOURCE", "REASON"]));
    for u in &r.incomplete {
        t.add_row(row(
            r,
            u.account.as_deref(),
            vec![
                Some(u.region.clone())
                    .filter(|g| !g.is_empty())
                    .unwrap_or_else(|| "-".into()),
                u.cluster.clone().unwrap_or_else(|| "-".into()),
                u.unread.source.clone(),
                u.unread.reason.clone(),
            ],
        ));
    }
    out.push_str(&lines(&t));
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
        serde_json::from_str(&super::sarif::render(&empty)).expect("our SARIF is JSON");
    let mut results = Vec::new();
    for c in &r.clusters {
        let Some(rep) = &c.report else { continue };
        let one: Value =
            serde_json::from_str(&super::sarif::render(rep)).expect("our SARIF is JSON");
        for mut res in one["runs"][0]["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let tag = match &c.account {
                Some(a) => format!("{a}/{}/{}", c.region, c.cluster),
                None => format!("{}/{}", c.region, c.cluster),
            };
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
            if let Some(a) = &c.account {
                res["properties"]["account"] = Value::String(a.clone());
            }
            results.push(res);
        }
    }
    // Failed clusters and regions, and every cluster's unread sources: each a notification at
    // level error, which SARIF consumers read as "the results may be incomplete".
    let in_account = |a: &Option<String>| a.as_deref().map(|a| format!("{a}/")).unwrap_or_default();
    let failures: Vec<Value> = r
        .accounts
        .iter()
        .filter(|a| !a.ok)
        .map(|a| (a.account.clone(), a.error.clone().unwrap_or_default(), source::ACCOUNT.to_string()))
        .chain(r.clusters.iter().filter(|c| !c.ok).map(|c| (format!("{}{}/{}", in_account(&c.account), c.region, c.cluster), c.error.clone().unwrap_or_default(), source::CLUSTER.to_string())))
        .chain(r.regions.iter().filter(|g| g.error.is_some() && !g.skipped).map(|g| (format!("{}{}", in_account(&g.account), g.region), g.error.clone().unwrap_or_default(), source::EKS_CLUSTERS.to_string())))
        .chain(r.incomplete.iter().filter(|u| ![source::CLUSTER, source::EKS_CLUSTERS, source::ACCOUNT].contains(&u.unread.source.as_str())).map(|u| (format!("{}{}/{}", in_account(&u.account), u.region, u.cluster.as_deref().unwrap_or("-")), format!("could not read {}: {}", u.unread.source, u.unread.reason), u.unread.source.clone())))
        .map(|(what, why, source)| serde_json::json!({ "level": "error", "message": { "text": format!("{what}: {why}") }, "properties": { "source": source } }))
        .collect();
    let run = &mut doc["runs"][0];
    run["results"] = Value::Array(results);
    run["automationDetails"]["id"] = Value::String("kubectl-chronom/audit/all-clusters".into());
    run["invocations"] = serde_json::json!([{ "executionSuccessful": r.complete, "toolExecutionNotifications": failures, "properties": { "complete": r.complete } }]);
    let mut s = serde_json::to_string_pretty(&doc).expect("sarif serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::fleet::{ClusterRow, RegionRow};
    use crate::audit::manifests::ClusterState;
    use crate::audit::report::AuditReport;

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
            serde_json::from_str(&crate::report::format::structured(Format::Json, &f)).unwrap();
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

    /// Two accounts, one of which the role could not be assumed in.
    fn across_accounts() -> FleetReport {
        use crate::audit::fleet::AccountRow;
        let account = |a: &str, error: Option<&str>| AccountRow {
            account: a.into(),
            role_arn: format!("arn:aws:iam::{a}:role/scanner"),
            ok: error.is_none(),
            error: error.map(String::from),
            next: error.map(|_| "create the role there".to_string()),
        };
        FleetReport::across_accounts(
            vec![
                account("111122223333", None),
                account("444455556666", Some("cannot assume: AccessDenied")),
            ],
            vec![RegionRow {
                account: Some("111122223333".into()),
                region: "eu-west-1".into(),
                clusters: 1,
                skipped: false,
                denied_by_policy: false,
                error: None,
            }],
            vec![ClusterRow {
                account: Some("111122223333".into()),
                cluster: "prod".into(),
                region: "eu-west-1".into(),
                ok: true,
                error: None,
                next: None,
                report: Some(sample_report()),
            }],
        )
    }

    #[test]
    fn a_cross_account_fleet_has_an_account_column_and_a_failed_account_is_a_row() {
        let f = across_accounts();
        assert!(!f.complete);
        assert_eq!(f.failed(), 1);
        assert_eq!(f.incomplete.len(), 1);
        assert_eq!(f.incomplete[0].prefix(), "444455556666 ");
        assert!(
            f.findings
                .iter()
                .all(|x| x.account.as_deref() == Some("111122223333"))
        );
        let t = render_table(&f, false);
        let first = t.lines().nth(1).unwrap();
        assert!(first.trim_start().starts_with("ACCOUNT"), "{t}");
        assert!(
            t.lines().any(|l| l.trim_start().starts_with("444455556666")
                && l.contains("failed: cannot assume: AccessDenied")),
            "{t}"
        );
        assert!(
            t.contains("444455556666 next: create the role there"),
            "{t}"
        );
        assert!(
            t.lines().any(|l| l.trim_start().starts_with("111122223333")
                && l.contains("prod")
                && l.contains("CHR001")),
            "{t}"
        );
        assert!(t.contains("CLUSTERS (1 in 2 account(s), 1 failed)"), "{t}");
        let json: Value =
            serde_json::from_str(&crate::report::format::structured(Format::Json, &f)).unwrap();
        assert_eq!(json["accounts"][1]["ok"], false);
        assert_eq!(json["clusters"][0]["account"], "111122223333");
        assert_eq!(json["findings"][0]["account"], "111122223333");
        assert_eq!(
            json["incomplete"],
            serde_json::json!([{"account": "444455556666", "source": "account", "reason": "cannot assume: AccessDenied"}])
        );
        let v: Value = serde_json::from_str(&render_sarif(&f)).unwrap();
        let run = &v["runs"][0];
        assert!(
            run["results"][0]["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with("[111122223333/eu-west-1/prod] ")
        );
        assert_eq!(run["results"][0]["properties"]["account"], "111122223333");
        assert_eq!(
            run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"],
            "444455556666: cannot assume: AccessDenied"
        );
    }

    #[test]
    fn a_single_account_fleet_has_no_account_key_or_column() {
        let f = fleet();
        let json: Value =
            serde_json::from_str(&crate::report::format::structured(Format::Json, &f)).unwrap();
        assert!(json.get("accounts").is_none());
        assert!(json["clusters"][0].get("account").is_none());
        assert!(!render_table(&f, false).contains("ACCOUNT"));
    }
}
