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
    let mut out = format!(
        "CLUSTERS ({} in {} region(s))\n",
        r.clusters.len(),
        r.regions.iter().filter(|g| !g.skipped).count()
    );
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
            None => t.add_row(failed_row(&c.region, &c.cluster, c.error.as_deref())),
        };
    }
    for g in r.regions.iter().filter(|g| g.error.is_some() && !g.skipped) {
        t.add_row(failed_row(&g.region, "-", g.error.as_deref()));
    }
    if r.clusters.is_empty() && r.failed() == 0 {
        let listed = r.regions.iter().filter(|g| !g.skipped).count();
        out.push_str(&format!(
            "  (no EKS clusters in the {listed} region(s) listed)\n"
        ));
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
    out
}

/// MAPPINGS: every cluster's mappings with their cluster.
fn mappings_section(r: &FleetReport) -> String {
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
    let body = if any { lines(&t) } else { "  (none)\n".into() };
    format!("\nMAPPINGS\n{body}")
}

/// FINDINGS: worst first, with their cluster; wide adds the remediation.
fn findings_section(r: &FleetReport, wide: bool) -> String {
    let mut out = format!(
        "\nFINDINGS (critical {}, high {}, medium {}, low {})\n",
        r.counts.critical, r.counts.high, r.counts.medium, r.counts.low
    );
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

/// INCOMPLETE: what could not be read, so the tables above are read as partial.
fn incomplete_section(r: &FleetReport) -> String {
    let mut out = format!(
        "\nINCOMPLETE ({} source(s) could not be read; the tables above leave out what they hold)\n",
        r.incomplete.len()
    );
    let mut t = table(&["REGION", "CLUSTER", "SOURCE", "REASON"]);
    for u in &r.incomplete {
        t.add_row(vec![
            u.region.clone(),
            u.cluster.clone().unwrap_or_else(|| "-".into()),
            u.unread.source.clone(),
            u.unread.reason.clone(),
        ]);
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
    // Failed clusters and regions, and every cluster's unread sources: each a notification at
    // level error, which SARIF consumers read as "the results may be incomplete".
    let failures: Vec<Value> = r
        .clusters
        .iter()
        .filter(|c| !c.ok)
        .map(|c| (format!("{}/{}", c.region, c.cluster), c.error.clone().unwrap_or_default(), source::CLUSTER.to_string()))
        .chain(r.regions.iter().filter(|g| g.error.is_some() && !g.skipped).map(|g| (g.region.clone(), g.error.clone().unwrap_or_default(), source::EKS_CLUSTERS.to_string())))
        .chain(r.incomplete.iter().filter(|u| u.unread.source != source::CLUSTER && u.unread.source != source::EKS_CLUSTERS).map(|u| (format!("{}/{}", u.region, u.cluster.as_deref().unwrap_or("-")), format!("could not read {}: {}", u.unread.source, u.unread.reason), u.unread.source.clone())))
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
}
