//! The fleet report (`audit --all-clusters -o json|yaml`): every region's ListClusters and every
//! cluster's audit, with the findings and the unread sources of all of them. Collecting it is
//! the binary's `eks::fleet`; rendering it is `report::fleet`.

use serde::Serialize;

use super::completeness::{UnreadSource, source};
use super::findings::Finding;
use super::report::{self, AuditReport, Counts};
use crate::error::UserError;

/// One region's ListClusters.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionRow {
    /// The account it belongs to, in a cross-account fleet (`--accounts`, `--organization`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub region: String,
    pub clusters: usize,
    /// The region is an opt-in region not enabled for the account (an authentication error
    /// there, with credentials STS accepted), so it was left out. `error` says what it answered.
    pub skipped: bool,
    /// ListClusters was denied by a policy of the AWS Organization (an SCP keeping the account
    /// out of the region): still a region not read, with `error` saying so.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub denied_by_policy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One cluster's audit: its report, or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRow {
    /// The account it belongs to, in a cross-account fleet (`--accounts`, `--organization`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
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
    /// The account it belongs to, in a cross-account fleet (`--accounts`, `--organization`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
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
    /// The account it belongs to, in a cross-account fleet (`--accounts`, `--organization`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Empty (and left out) for an account that could not be entered at all.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(flatten)]
    pub unread: UnreadSource,
}

impl FleetUnread {
    /// `[account/]region/cluster `, `[account/]region ` or `account `, to put before the
    /// source in messages.
    pub fn prefix(&self) -> String {
        let path: Vec<&str> = [
            self.account.as_deref(),
            Some(self.region.as_str()).filter(|r| !r.is_empty()),
            self.cluster.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        format!("{} ", path.join("/"))
    }
}

/// One account of a cross-account fleet: the role assumed in it, or why it could not be.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRow {
    pub account: String,
    /// The role assumed there (`--assume-role-name` in the account, in the caller's partition).
    pub role_arn: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do about the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `audit --all-clusters -o json|yaml`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetReport {
    pub schema_version: u32,
    /// True when every region was listed (or skipped as not enabled), every cluster audited,
    /// and every cluster's audit complete.
    pub complete: bool,
    /// What was not read: accounts the role could not be assumed in (`account`), failed
    /// regions (`eks:clusters`), clusters that could not be audited (`cluster`), and each
    /// cluster's own unread sources.
    pub incomplete: Vec<FleetUnread>,
    /// A cross-account fleet's accounts; left out of a single-account fleet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountRow>,
    pub regions: Vec<RegionRow>,
    pub clusters: Vec<ClusterRow>,
    /// Every cluster's findings, worst first, each with its cluster and region.
    pub findings: Vec<FleetFinding>,
    pub counts: Counts,
}

impl FleetReport {
    pub fn new(regions: Vec<RegionRow>, clusters: Vec<ClusterRow>) -> Self {
        Self::across_accounts(Vec::new(), regions, clusters)
    }

    /// A cross-account fleet: the rows of every account, each row carrying its account.
    pub fn across_accounts(
        accounts: Vec<AccountRow>,
        regions: Vec<RegionRow>,
        clusters: Vec<ClusterRow>,
    ) -> Self {
        let mut findings: Vec<FleetFinding> = clusters
            .iter()
            .flat_map(|c| {
                c.report
                    .iter()
                    .flat_map(|r| r.findings.iter())
                    .map(|f| FleetFinding {
                        account: c.account.clone(),
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
                .then(a.account.cmp(&b.account))
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
        let incomplete = fleet_unread(&accounts, &regions, &clusters);
        FleetReport {
            schema_version: report::SCHEMA_VERSION,
            complete: incomplete.is_empty(),
            incomplete,
            accounts,
            regions,
            clusters,
            findings,
            counts,
        }
    }

    pub fn failed(&self) -> usize {
        self.accounts.iter().filter(|a| !a.ok).count()
            + self.clusters.iter().filter(|c| !c.ok).count()
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

/// Everything the fleet could not read, in report order: accounts, regions, then clusters.
fn fleet_unread(
    accounts: &[AccountRow],
    regions: &[RegionRow],
    clusters: &[ClusterRow],
) -> Vec<FleetUnread> {
    let mut out: Vec<FleetUnread> = accounts
        .iter()
        .filter_map(|a| {
            Some(FleetUnread {
                account: Some(a.account.clone()),
                region: String::new(),
                cluster: None,
                unread: UnreadSource::new(source::ACCOUNT, a.error.clone()?),
            })
        })
        .collect();
    out.extend(regions.iter().filter(|r| !r.skipped).filter_map(|r| {
        Some(FleetUnread {
            account: r.account.clone(),
            region: r.region.clone(),
            cluster: None,
            unread: UnreadSource::new(source::EKS_CLUSTERS, r.error.clone()?),
        })
    }));
    for c in clusters {
        let at = |unread: UnreadSource| FleetUnread {
            account: c.account.clone(),
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

/// `--accounts`: twelve-digit AWS account ids, each once, in the order given.
pub fn accounts_to_audit(requested: &[String]) -> Result<Vec<String>, UserError> {
    let mut out: Vec<String> = Vec::new();
    for a in requested.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UserError::usage(
                format!("--accounts: {a:?} is not an AWS account id"),
                "pass twelve-digit account ids, such as --accounts 111122223333,444455556666",
            ));
        }
        if !out.iter().any(|o| o == a) {
            out.push(a.to_string());
        }
    }
    if out.is_empty() {
        return Err(UserError::usage(
            "--accounts names no account",
            "pass twelve-digit account ids, such as --accounts 111122223333,444455556666",
        ));
    }
    Ok(out)
}

/// The role `--assume-role-name` names in `account`: `arn:PARTITION:iam::ACCOUNT:role/NAME`,
/// in the caller's partition (a role in aws-cn or aws-us-gov has that partition in its ARN,
/// and AssumeRole rejects an ARN of another one). NAME may carry a path (`audit/scanner`).
pub fn member_role_arn(partition: &str, account: &str, name: &str) -> Result<String, UserError> {
    let name = name.trim_matches('/');
    let (path, leaf) = name.rsplit_once('/').unwrap_or(("", name));
    let iam_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    let valid = !leaf.is_empty()
        && leaf.len() <= crate::arn::MAX_NAME_LEN
        && iam_chars(leaf)
        && path.len() + 2 <= crate::arn::MAX_PATH_LEN
        && path
            .split('/')
            .all(|p| path.is_empty() || (!p.is_empty() && iam_chars(p)));
    if !valid {
        return Err(UserError::usage(
            format!("--assume-role-name: {name:?} is not an IAM role name"),
            "pass the role's name as it is in every account (letters, digits and +=,.@_-, at most 64), optionally with its path: audit/chronom-scanner",
        ));
    }
    Ok(format!("arn:{partition}:iam::{account}:role/{name}"))
}

/// The row of an account the role could not be assumed in, from what STS AssumeRole answered
/// (`code` and message; without a code, `message` says what came back: an HTTP status, or
/// "no answer" and the transport's words).
pub fn account_not_entered(
    account: &str,
    role_arn: &str,
    caller: &str,
    code: Option<&str>,
    message: &str,
) -> AccountRow {
    let (error, next) = match code {
        Some(c) if c.starts_with("AccessDenied") => (
            format!("cannot assume {role_arn}: AWS denied it ({c}: {message})"),
            format!(
                "check that the role exists in account {account} and that its trust policy lets {caller} assume it, and that {caller} may call sts:AssumeRole on it (an SCP or a permissions boundary may deny it)"
            ),
        ),
        Some(c @ "RegionDisabledException") => (
            format!("cannot assume {role_arn}: {c}: {message}"),
            "activate STS in this region for the calling account (IAM account settings), or run with --region set to a region where it is active".to_string(),
        ),
        Some(c) => (
            format!("cannot assume {role_arn}: {c}: {message}"),
            "re-run with -vv to see the request; if it persists, assume the role by hand with `aws sts assume-role`".to_string(),
        ),
        None => (
            format!("cannot assume {role_arn}: {message}"),
            "check the network, proxy settings and AWS_ENDPOINT_URL if set, then re-run (-vv for details)".to_string(),
        ),
    };
    AccountRow {
        account: account.to_string(),
        role_arn: role_arn.to_string(),
        ok: false,
        error: Some(error),
        next: Some(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_not_entered_says_why_and_what_to_do() {
        let caller = "arn:aws:iam::123456789012:user/scanner";
        let role = "arn:aws:iam::444455556666:role/scanner";
        let row = account_not_entered(
            "444455556666",
            role,
            caller,
            Some("AccessDenied"),
            "User is not authorized to perform: sts:AssumeRole",
        );
        assert!(!row.ok);
        let (error, next) = (row.error.unwrap(), row.next.unwrap());
        assert!(
            error.starts_with(&format!(
                "cannot assume {role}: AWS denied it (AccessDenied: User is not"
            )) && next.contains("trust policy lets arn:aws:iam::123456789012:user/scanner"),
            "{error} / {next}"
        );
        let row = account_not_entered("1", role, caller, None, "no answer: connection refused");
        assert!(
            row.error
                .unwrap()
                .ends_with("no answer: connection refused")
        );
        assert!(row.next.unwrap().contains("network"));
    }

    #[test]
    fn accounts_are_twelve_digits_each_once() {
        assert_eq!(
            accounts_to_audit(&[
                "111122223333".into(),
                " 444455556666".into(),
                "111122223333".into()
            ])
            .unwrap(),
            ["111122223333", "444455556666"]
        );
        for bad in ["11112222333", "1111222233334", "11112222333x", ""] {
            let e = accounts_to_audit(&[bad.into()]).unwrap_err();
            assert_eq!(e.exit_code, crate::exit::EXIT_USAGE, "{bad:?}");
        }
    }

    #[test]
    fn the_member_role_is_in_the_callers_partition_with_its_path() {
        assert_eq!(
            member_role_arn("aws", "111122223333", "scanner").unwrap(),
            "arn:aws:iam::111122223333:role/scanner"
        );
        assert_eq!(
            member_role_arn("aws-cn", "111122223333", "audit/scanner").unwrap(),
            "arn:aws-cn:iam::111122223333:role/audit/scanner"
        );
        assert_eq!(
            member_role_arn("aws-us-gov", "111122223333", "/scanner").unwrap(),
            "arn:aws-us-gov:iam::111122223333:role/scanner"
        );
        for bad in [
            "",
            "a b",
            "x".repeat(65).as_str(),
            "a//b",
            "arn:aws:iam::1:role/x",
        ] {
            assert!(
                member_role_arn("aws", "111122223333", bad).is_err(),
                "{bad:?}"
            );
        }
    }
}
