//! The fleet report (`audit --all-clusters -o json|yaml`): every region's ListClusters and every
//! cluster's audit, with the findings and the unread sources of all of them. Collecting it is
//! the binary's `eks::fleet`; rendering it is `report::fleet`.

use serde::Serialize;

use super::completeness::{UnreadSource, source};
use super::findings::Finding;
use super::report::{self, AuditReport, Counts};

/// One region's ListClusters.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionRow {
    pub region: String,
    pub clusters: usize,
    /// The region is an opt-in region not enabled for the account (an authentication error
    /// there, with credentials STS accepted), so it was left out. `error` says what it answered.
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

/// A source the fleet audit could not read: a region's ListClusters, a cluster that could not
/// be audited, or one of a cluster's own sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetUnread {
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(flatten)]
    pub unread: UnreadSource,
}

impl FleetUnread {
    /// `region/cluster ` or `region `, to put before the source in messages.
    pub fn prefix(&self) -> String {
        match &self.cluster {
            Some(c) => format!("{}/{c} ", self.region),
            None => format!("{} ", self.region),
        }
    }
}

/// `audit --all-clusters -o json|yaml`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetReport {
    pub schema_version: u32,
    /// True when every region was listed (or skipped as not enabled), every cluster audited,
    /// and every cluster's audit complete.
    pub complete: bool,
    /// What was not read: failed regions (`eks:clusters`), clusters that could not be audited
    /// (`cluster`), and each cluster's own unread sources.
    pub incomplete: Vec<FleetUnread>,
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
        let incomplete = fleet_unread(&regions, &clusters);
        FleetReport {
            schema_version: report::SCHEMA_VERSION,
            complete: incomplete.is_empty(),
            incomplete,
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

/// Everything the fleet could not read, in report order: regions, then clusters.
fn fleet_unread(regions: &[RegionRow], clusters: &[ClusterRow]) -> Vec<FleetUnread> {
    let mut out: Vec<FleetUnread> = regions
        .iter()
        .filter(|r| !r.skipped)
        .filter_map(|r| {
            Some(FleetUnread {
                region: r.region.clone(),
                cluster: None,
                unread: UnreadSource::new(source::EKS_CLUSTERS, r.error.clone()?),
            })
        })
        .collect();
    for c in clusters {
        let at = |unread: UnreadSource| FleetUnread {
            region: c.region.clone(),
            cluster: Some(c.cluster.clone()),
            unread,
        };
        match &c.report {
            Some(r) => out.extend(r.incomplete.iter().cloned().map(at)),
            None => out.push(at(UnreadSource::new(
                source::CLUSTER,
                c.error.clone().unwrap_or_else(|| "not audited".into()),
            ))),
        }
    }
    out
}
