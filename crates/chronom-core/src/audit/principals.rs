//! Dangling, re-created and stale IAM principals (docs/principals.md).
//!
//! aws-iam-authenticator maps aws-auth entries on the ARN, a friendly name: a role deleted and
//! re-created under the same name gets the old role's groups. This module decides, from what
//! IAM said about each mapped principal, which mappings are dangling (the principal is gone),
//! re-created (`userid` differs from the current unique id), dead (an access entry whose
//! principal is gone or younger than the entry), unused for too long, or map IAM users one by
//! one. Pure: the IAM answers and the clock are inputs.

use std::collections::BTreeMap;

use serde::Serialize;

use super::completeness::UnreadSource;
use super::findings::{self, Finding, Severity, mapping_subject};
use super::inventory::{Mapping, MappingSource};
use crate::arn::{self, PrincipalArn};

/// `incomplete[].source` of a principal IAM was not asked about, or did not answer for.
pub const SOURCE: &str = "iam:principals";

/// `--stale-days` when not given.
pub const DEFAULT_STALE_DAYS: u32 = 90;

/// The findings that make a mapping admin-equivalent: whoever gets its groups owns the cluster.
const ADMIN_EQUIVALENT: [&str; 4] = [
    findings::MAPPED_TO_MASTERS.id,
    findings::CLUSTER_ADMIN.id,
    findings::AWS_AUTH_WRITE.id,
    findings::ACCESS_POLICY_CLUSTER_ADMIN.id,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    Role,
    User,
}

/// One IAM principal to ask about: what GetRole/GetUser needs, and the ARN the mappings name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PrincipalRef {
    /// Lower-case authenticator ARN (role without path; user with it): the key of the answers.
    pub key: String,
    /// The ARN as the first mapping naming it wrote it.
    pub arn: String,
    pub kind: PrincipalKind,
    pub partition: String,
    pub account: String,
    /// The name GetRole/GetUser takes (no path).
    pub name: String,
}

impl PrincipalRef {
    /// The role grant maps.
    pub fn role(role: &arn::CanonicalRoleArn) -> Self {
        PrincipalRef {
            key: role.key(),
            arn: role.to_string(),
            kind: PrincipalKind::Role,
            partition: role.partition().to_string(),
            account: role.account().to_string(),
            name: role.name().to_string(),
        }
    }
}

/// The account (and partition) whose IAM the caller's credentials read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerAccount {
    pub partition: String,
    pub account: String,
}

/// Why a principal was not checked; `reason` in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotChecked {
    /// IAM refused the call (AccessDenied).
    Denied,
    /// The principal is in another account (or partition) than the credentials.
    OtherAccount,
    /// No AWS credentials could be found.
    NoCredentials,
    /// Any other failure: throttled, unreachable, an unexpected answer.
    Failed,
}

impl NotChecked {
    fn next_step(self) -> &'static str {
        match self {
            NotChecked::Denied => "give the auditing identity iam:GetRole and iam:GetUser",
            NotChecked::OtherAccount => {
                "audit with credentials of that account (--profile) to check its principals"
            }
            NotChecked::NoCredentials => {
                "set AWS credentials (AWS_PROFILE, --profile or the environment)"
            }
            NotChecked::Failed => "audit again; if it persists, run with -v and report it",
        }
    }
}

/// What IAM said about one principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamAnswer {
    Exists(IamPrincipal),
    /// NoSuchEntity.
    Missing,
    NotChecked {
        why: NotChecked,
        detail: String,
    },
}

/// A principal IAM knows. Times as RFC 3339 text (shown) and epoch seconds (compared).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IamPrincipal {
    /// The ARN IAM returned (with the path).
    pub arn: String,
    /// RoleId / UserId (AROA..., AIDA...).
    pub unique_id: String,
    pub created: Option<(String, i64)>,
    /// RoleLastUsed.LastUsedDate (roles only).
    pub last_used: Option<(String, i64)>,
}

/// `principals[]` in the report: what IAM said about each principal the mappings name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalCheck {
    pub arn: String,
    pub kind: PrincipalKind,
    pub account: String,
    /// `exists`, `missing` or `not-checked`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    /// Why it was not checked (`not-checked` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<NotChecked>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The principal an aws-auth or access-entry mapping names, when it is one IAM can be asked
/// about: a role or user ARN (not an SSO pattern, not an account).
pub fn principal_of(m: &Mapping) -> Option<PrincipalRef> {
    if m.sso.is_some() || m.source == MappingSource::MapAccounts {
        return None;
    }
    // The authenticator compares ARNs with EqualFold, so `ARN:AWS:IAM::...:Role/x` is live
    // (awsauth::entry reads it so too); it names the same principal as its folded form.
    let parsed = arn::parse_principal_arn(&m.principal)
        .or_else(|_| arn::parse_principal_arn(&arn::go_fold(&m.principal)))
        .ok()?;
    let (kind, partition, account, name) = match &parsed {
        PrincipalArn::Role { role, .. } | PrincipalArn::AssumedRole { role, .. } => (
            PrincipalKind::Role,
            role.partition(),
            role.account(),
            role.name(),
        ),
        PrincipalArn::User(u) => (
            PrincipalKind::User,
            u.partition.as_str(),
            u.account.as_str(),
            u.name.as_str(),
        ),
    };
    Some(PrincipalRef {
        key: parsed.authenticator_arn().to_ascii_lowercase(),
        arn: m.principal.clone(),
        kind,
        partition: partition.to_string(),
        account: account.to_string(),
        name: name.to_string(),
    })
}

/// Whether a mapping is one the checks judge: aws-auth entries the authenticator uses, and
/// every access entry (a dead one is worth deleting whether or not the mode reads it).
fn judged(m: &Mapping) -> bool {
    m.source == MappingSource::AccessEntry || m.active
}

/// The distinct principals to ask IAM about, in key order.
pub fn to_check(mappings: &[Mapping]) -> Vec<PrincipalRef> {
    let mut by_key: BTreeMap<String, PrincipalRef> = BTreeMap::new();
    for p in mappings
        .iter()
        .filter(|m| judged(m))
        .filter_map(principal_of)
    {
        by_key.entry(p.key.clone()).or_insert(p);
    }
    by_key.into_values().collect()
}

/// Which principals the caller's IAM can answer for: the others are not checked, and why. The
/// caller is unknown when there are no credentials, or STS did not say who they are.
pub fn split_by_account(
    principals: Vec<PrincipalRef>,
    caller: Result<&CallerAccount, (NotChecked, &str)>,
) -> (Vec<PrincipalRef>, BTreeMap<String, IamAnswer>) {
    let mut ask = Vec::new();
    let mut answered = BTreeMap::new();
    for p in principals {
        let skip = match caller {
            Err((why, detail)) => Some((why, detail.to_string())),
            Ok(c) if c.partition != p.partition || c.account != p.account => Some((
                NotChecked::OtherAccount,
                format!(
                    "the principal is in account {} ({}); the credentials read IAM of account {} ({}), and IAM answers only for its own account",
                    p.account, p.partition, c.account, c.partition
                ),
            )),
            Ok(_) => None,
        };
        match skip {
            Some((why, detail)) => {
                answered.insert(p.key.clone(), IamAnswer::NotChecked { why, detail });
            }
            None => ask.push(p),
        }
    }
    (ask, answered)
}

/// What the checks add to a report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub checks: Vec<PrincipalCheck>,
    pub findings: Vec<Finding>,
    pub unread: Vec<UnreadSource>,
}

/// The inputs besides the mappings: IAM's answers by [`PrincipalRef::key`], the clock, the
/// staleness threshold, and when each access entry was created (by principal ARN).
#[derive(Debug, Clone, Copy)]
pub struct Judgement<'a> {
    pub answers: &'a BTreeMap<String, IamAnswer>,
    pub now_epoch: i64,
    pub stale_days: u32,
    pub entry_created: &'a BTreeMap<String, i64>,
}

const DAY: i64 = 86_400;

/// The findings for every judged mapping, `existing` being the report's other findings (which
/// say whether a mapping is admin-equivalent).
pub fn evaluate(mappings: &[Mapping], existing: &[Finding], j: Judgement<'_>) -> Outcome {
    let mut out = Outcome::default();
    let principals = to_check(mappings);
    for p in &principals {
        let answer = j.answers.get(&p.key);
        out.checks.push(check_row(p, answer));
        // IAM answers only for its own account: a principal of another account is a limit of
        // what any credentials of this account can see, not a source that failed to answer. It
        // stays visible (the row, the text's NOT CHECKED list), but does not make the audit
        // incomplete, or every cluster mapping a vendor's cross-account role (the scanner this
        // tool grants) would fail every audit.
        if let Some(IamAnswer::NotChecked { why, detail }) = answer.filter(|a| {
            !matches!(
                a,
                IamAnswer::NotChecked {
                    why: NotChecked::OtherAccount,
                    ..
                }
            )
        }) {
            out.unread.push(UnreadSource::new(
                SOURCE,
                format!(
                    "{} not checked ({}): {detail}; next: {}",
                    p.arn,
                    label(*why),
                    why.next_step()
                ),
            ));
        }
        if answer.is_none() {
            out.unread.push(UnreadSource::new(
                SOURCE,
                format!("{} not checked: IAM was not asked", p.arn),
            ));
        }
    }
    // A live mapping whose principal is neither a role nor a user ARN (after folding) cannot be
    // asked about: say so rather than leave it out. SSO patterns and mapAccounts are not
    // principals (docs/principals.md).
    for m in mappings.iter().filter(|m| judged(m)) {
        if m.sso.is_none() && m.source != MappingSource::MapAccounts && principal_of(m).is_none() {
            out.unread.push(UnreadSource::new(
                SOURCE,
                format!(
                    "{} not checked: not a role or user ARN IAM can be asked about",
                    m.principal
                ),
            ));
        }
    }
    let mut stale_seen = Vec::new();
    for m in mappings.iter().filter(|m| judged(m)) {
        let Some(p) = principal_of(m) else { continue };
        let subject = mapping_subject(m);
        let grants = grants_of(m);
        let admin = existing
            .iter()
            .any(|f| f.subject == subject && ADMIN_EQUIVALENT.contains(&f.rule));
        let answer = j.answers.get(&p.key);
        if m.source == MappingSource::AccessEntry {
            let dead = dead_entry(m, &p, answer, &j, &subject, &grants);
            if let (None, Some(IamAnswer::Exists(found))) = (&dead, answer) {
                stale_once(&p, found, &j, &subject, &grants, &mut stale_seen, &mut out);
            }
            out.findings.extend(dead);
            continue;
        }
        if m.source == MappingSource::MapUsers {
            out.findings.push(findings::finding(
                findings::IAM_USER_MAPPED,
                &subject,
                format!(
                    "IAM user {} of account {} is mapped on its own and {grants}",
                    p.name, p.account
                ),
            ));
        }
        match answer {
            Some(IamAnswer::Missing) => out.findings.push(graded(
                findings::PRINCIPAL_MISSING,
                admin,
                &subject,
                format!(
                    "IAM {} {} does not exist in account {}; the mapping still {grants}: whoever creates a {} of that name in that account gets it",
                    kind_name(p.kind),
                    p.name,
                    p.account,
                    kind_name(p.kind)
                ),
            )),
            Some(IamAnswer::Exists(found)) => {
                if let Some(userid) = m.userid.as_deref().filter(|u| *u != found.unique_id) {
                    out.findings.push(graded(
                        findings::PRINCIPAL_RECREATED,
                        admin,
                        &subject,
                        format!(
                            "userid {userid} is not the unique id of {} {} in account {} today ({}{}): it was deleted and re-created, and the mapping, which the authenticator matches on the ARN alone, now {grants} to the new one",
                            kind_name(p.kind),
                            p.name,
                            p.account,
                            found.unique_id,
                            found
                                .created
                                .as_ref()
                                .map(|(t, _)| format!(", created {t}"))
                                .unwrap_or_default()
                        ),
                    ));
                }
                stale_once(&p, found, &j, &subject, &grants, &mut stale_seen, &mut out);
            }
            Some(IamAnswer::NotChecked { .. }) | None => {}
        }
    }
    out
}

/// CHR042: an access entry whose principal is gone, or younger than the entry.
fn dead_entry(
    m: &Mapping,
    p: &PrincipalRef,
    answer: Option<&IamAnswer>,
    j: &Judgement<'_>,
    subject: &str,
    grants: &str,
) -> Option<Finding> {
    let why = match answer? {
        IamAnswer::Missing => format!(
            "IAM {} {} does not exist in account {}",
            kind_name(p.kind),
            p.name,
            p.account
        ),
        IamAnswer::Exists(found) => {
            let entry = *j.entry_created.get(&m.principal)?;
            let (created, at) = found.created.as_ref()?;
            if *at <= entry {
                return None;
            }
            format!(
                "{} {} was created {created}, after the access entry: it is a re-created principal with a new unique id ({}), which EKS does not let in through this entry",
                kind_name(p.kind),
                p.name,
                found.unique_id
            )
        }
        IamAnswer::NotChecked { .. } => return None,
    };
    Some(findings::finding(
        findings::ACCESS_ENTRY_DEAD,
        subject,
        format!(
            "{why}; the entry {grants} to nobody: EKS keeps the principal's unique id, so a role re-created under this name does not inherit it"
        ),
    ))
}

/// CHR043 for a role, once per principal however many mappings name it.
fn stale_once(
    p: &PrincipalRef,
    found: &IamPrincipal,
    j: &Judgement<'_>,
    subject: &str,
    grants: &str,
    seen: &mut Vec<String>,
    out: &mut Outcome,
) {
    if p.kind != PrincipalKind::Role || seen.contains(&p.key) {
        return;
    }
    if let Some(f) = stale(p, found, j, subject, grants) {
        seen.push(p.key.clone());
        out.findings.push(f);
    }
}

/// CHR043: a role unused for `stale_days` or more (or with no recorded use since creation).
fn stale(
    p: &PrincipalRef,
    found: &IamPrincipal,
    j: &Judgement<'_>,
    subject: &str,
    grants: &str,
) -> Option<Finding> {
    let threshold = i64::from(j.stale_days) * DAY;
    let evidence = match (&found.last_used, &found.created) {
        (Some((date, at)), _) if j.now_epoch - at >= threshold => format!(
            "role {} of account {} was last used {date} ({} days ago, --stale-days {}); the mapping {grants}",
            p.name,
            p.account,
            (j.now_epoch - at) / DAY,
            j.stale_days
        ),
        (None, Some((created, at))) if j.now_epoch - at >= threshold => format!(
            "role {} of account {} has no recorded use since it was created {created} (IAM tracks the last 400 days; --stale-days {}); the mapping {grants}",
            p.name, p.account, j.stale_days
        ),
        _ => return None,
    };
    Some(findings::finding(
        findings::PRINCIPAL_UNUSED,
        subject,
        evidence,
    ))
}

/// CHR040/CHR041 are critical when the mapping is admin-equivalent, high otherwise.
fn graded(rule: findings::Rule, admin: bool, subject: &str, evidence: String) -> Finding {
    let mut f = findings::finding(rule, subject, evidence);
    if admin {
        f.severity = Severity::Critical;
        f.evidence
            .push_str("; its groups reach cluster-admin-equivalent rights");
    }
    f
}

/// What a mapping grants, in words, for the evidence.
fn grants_of(m: &Mapping) -> String {
    let mut parts = Vec::new();
    if !m.groups.is_empty() {
        parts.push(format!("groups [{}]", m.groups.join(", ")));
    }
    for p in &m.access_policies {
        parts.push(format!("access policy {}", p.policy));
    }
    if parts.is_empty() {
        format!("maps it to username {:?}", m.username)
    } else {
        format!("grants {}", parts.join(" and "))
    }
}

fn kind_name(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Role => "role",
        PrincipalKind::User => "user",
    }
}

fn label(why: NotChecked) -> &'static str {
    match why {
        NotChecked::Denied => "access denied",
        NotChecked::OtherAccount => "other account",
        NotChecked::NoCredentials => "no credentials",
        NotChecked::Failed => "IAM call failed",
    }
}

fn check_row(p: &PrincipalRef, answer: Option<&IamAnswer>) -> PrincipalCheck {
    let mut row = PrincipalCheck {
        arn: p.arn.clone(),
        kind: p.kind,
        account: p.account.clone(),
        status: "not-checked",
        unique_id: None,
        created: None,
        last_used: None,
        reason: None,
        detail: None,
    };
    match answer {
        Some(IamAnswer::Exists(found)) => {
            row.status = "exists";
            row.unique_id = Some(found.unique_id.clone());
            row.created = found.created.as_ref().map(|(t, _)| t.clone());
            row.last_used = found.last_used.as_ref().map(|(t, _)| t.clone());
        }
        Some(IamAnswer::Missing) => row.status = "missing",
        Some(IamAnswer::NotChecked { why, detail }) => {
            row.reason = Some(*why);
            row.detail = Some(detail.clone());
        }
        None => row.detail = Some("IAM was not asked".into()),
    }
    row
}

/// Whether a mapping reaches through a principal IAM says is gone or was re-created: the
/// mark who-can and lookup put on its rows. None when it is fine or was not checked.
pub fn mark(m: &Mapping, answers: &BTreeMap<String, IamAnswer>) -> Option<&'static str> {
    let p = principal_of(m)?;
    match answers.get(&p.key)? {
        IamAnswer::Missing if m.source == MappingSource::AccessEntry => Some("dead-entry"),
        IamAnswer::Missing => Some("dangling"),
        IamAnswer::Exists(found)
            if m.source != MappingSource::AccessEntry
                && m.userid.as_deref().is_some_and(|u| u != found.unique_id) =>
        {
            Some("re-created")
        }
        _ => None,
    }
}

/// The mark of the mapping of `principal` (an active one, as who-can and lookup list them).
pub fn mark_of(
    principal: &str,
    mappings: &[Mapping],
    answers: &BTreeMap<String, IamAnswer>,
) -> Option<&'static str> {
    mappings
        .iter()
        .filter(|m| m.active && m.principal == principal)
        .find_map(|m| mark(m, answers))
}

/// What the tests here and in `report` and `answers` (which apply and show the checks) share.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::audit::inventory;

    pub const NOW: i64 = 1_765_000_000; // 2025-12-06
    pub const ADMIN: &str = "arn:aws:iam::111122223333:role/admin";
    pub const DEV: &str = "arn:aws:iam::111122223333:role/dev";

    pub fn aws_auth(roles: &str, users: &str) -> Vec<Mapping> {
        inventory::from_aws_auth(&BTreeMap::from([
            ("mapRoles".to_string(), roles.to_string()),
            ("mapUsers".to_string(), users.to_string()),
        ]))
        .mappings
    }

    pub fn role(arn: &str, groups: &str, userid: Option<&str>) -> String {
        let userid = userid
            .map(|u| format!("  userid: {u}\n"))
            .unwrap_or_default();
        format!("- rolearn: {arn}\n  username: u\n  groups: [{groups}]\n{userid}")
    }

    pub fn key(arn: &str) -> String {
        arn.to_ascii_lowercase()
    }

    pub fn exists(arn: &str, id: &str, created: i64, last_used: Option<i64>) -> IamAnswer {
        IamAnswer::Exists(IamPrincipal {
            arn: arn.into(),
            unique_id: id.into(),
            created: Some((format!("t{created}"), created)),
            last_used: last_used.map(|t| (format!("used-{t}"), t)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;
    use crate::audit::inventory;
    use proptest::prelude::*;

    fn judge(mappings: &[Mapping], answers: &BTreeMap<String, IamAnswer>) -> Outcome {
        // The admin-equivalence the report computes: CHR001 for system:masters mappings.
        let existing = findings::mapping_findings(&inventory::Inventory {
            mappings: mappings.to_vec(),
            ..Default::default()
        });
        evaluate(
            mappings,
            &existing,
            Judgement {
                answers,
                now_epoch: NOW,
                stale_days: DEFAULT_STALE_DAYS,
                entry_created: &BTreeMap::new(),
            },
        )
    }

    fn rules(o: &Outcome) -> Vec<(&'static str, Severity)> {
        o.findings.iter().map(|f| (f.rule, f.severity)).collect()
    }

    #[test]
    fn a_missing_principal_is_critical_when_admin_equivalent_and_high_otherwise() {
        let m = aws_auth(
            &format!(
                "{}{}",
                role(ADMIN, "system:masters", None),
                role(DEV, "dev", None)
            ),
            "",
        );
        let answers = BTreeMap::from([
            (key(ADMIN), IamAnswer::Missing),
            (key(DEV), IamAnswer::Missing),
        ]);
        let o = judge(&m, &answers);
        assert_eq!(
            rules(&o),
            [("CHR040", Severity::Critical), ("CHR040", Severity::High)]
        );
        let admin = &o.findings[0];
        assert!(admin.subject.starts_with(ADMIN), "{admin:?}");
        assert!(
            admin
                .evidence
                .contains("role admin does not exist in account 111122223333")
                && admin.evidence.contains("groups [system:masters]")
                && admin.evidence.contains("cluster-admin-equivalent"),
            "{}",
            admin.evidence
        );
        assert!(admin.remediation.contains("access entry"));
        assert!(o.unread.is_empty());
        assert_eq!(
            o.checks.iter().map(|c| c.status).collect::<Vec<_>>(),
            ["missing", "missing"]
        );
    }

    #[test]
    fn a_userid_that_differs_means_the_role_was_recreated() {
        let m = aws_auth(&role(ADMIN, "system:masters", Some("AROAOLD")), "");
        let now_id = BTreeMap::from([(key(ADMIN), exists(ADMIN, "AROANEW", NOW - DAY, Some(NOW)))]);
        let o = judge(&m, &now_id);
        assert_eq!(rules(&o), [("CHR041", Severity::Critical)]);
        assert!(
            o.findings[0].evidence.contains("userid AROAOLD")
                && o.findings[0].evidence.contains("AROANEW")
        );
        let same = BTreeMap::from([(key(ADMIN), exists(ADMIN, "AROAOLD", NOW - DAY, Some(NOW)))]);
        assert!(judge(&m, &same).findings.is_empty());
        let m = aws_auth(&role(DEV, "dev", Some("AROAOLD")), "");
        let o = judge(
            &m,
            &BTreeMap::from([(key(DEV), exists(DEV, "AROANEW", NOW, None))]),
        );
        assert_eq!(rules(&o), [("CHR041", Severity::High)]);
    }

    #[test]
    fn stale_roles_are_reported_with_the_date() {
        let m = aws_auth(&role(DEV, "dev", None), "");
        let at = |a: IamAnswer| judge(&m, &BTreeMap::from([(key(DEV), a)]));
        let o = at(exists(DEV, "AROA1", NOW - 400 * DAY, Some(NOW - 100 * DAY)));
        assert_eq!(rules(&o), [("CHR043", Severity::Low)]);
        assert!(
            o.findings[0]
                .evidence
                .contains(&format!("last used used-{}", NOW - 100 * DAY))
                && o.findings[0].evidence.contains("100 days ago"),
            "{}",
            o.findings[0].evidence
        );
        assert!(
            at(exists(DEV, "AROA1", NOW - 400 * DAY, Some(NOW - 89 * DAY)))
                .findings
                .is_empty()
        );
        let never = at(exists(DEV, "AROA1", NOW - 200 * DAY, None));
        assert_eq!(rules(&never), [("CHR043", Severity::Low)]);
        assert!(never.findings[0].evidence.contains("no recorded use"));
        assert!(
            at(exists(DEV, "AROA1", NOW - 10 * DAY, None))
                .findings
                .is_empty()
        );
    }

    #[test]
    fn iam_users_mapped_one_by_one_are_low() {
        let user = "arn:aws:iam::111122223333:user/ops/alice";
        let m = aws_auth(
            "",
            &format!("- userarn: {user}\n  username: alice\n  groups: [dev]\n"),
        );
        let o = judge(
            &m,
            &BTreeMap::from([(key(user), exists(user, "AIDA1", NOW, None))]),
        );
        assert_eq!(rules(&o), [("CHR044", Severity::Low)]);
        assert_eq!(o.checks[0].kind, PrincipalKind::User);
        // Users are not judged stale: GetUser has no RoleLastUsed.
        let o = judge(
            &m,
            &BTreeMap::from([(key(user), exists(user, "AIDA1", 0, None))]),
        );
        assert_eq!(rules(&o), [("CHR044", Severity::Low)]);
    }

    #[test]
    fn not_checked_is_incomplete_with_the_reason_and_never_a_finding() {
        let m = aws_auth(&role(ADMIN, "system:masters", None), "");
        let answers = BTreeMap::from([(
            key(ADMIN),
            IamAnswer::NotChecked {
                why: NotChecked::Denied,
                detail: "AccessDenied: not authorized to perform iam:GetRole".into(),
            },
        )]);
        let o = judge(&m, &answers);
        assert!(o.findings.is_empty());
        assert_eq!(o.unread.len(), 1);
        assert_eq!(o.unread[0].source, SOURCE);
        assert!(
            o.unread[0].reason.contains(ADMIN)
                && o.unread[0].reason.contains("access denied")
                && o.unread[0].reason.contains("iam:GetRole and iam:GetUser"),
            "{}",
            o.unread[0].reason
        );
        assert_eq!(o.checks[0].reason, Some(NotChecked::Denied));
        // A principal nobody answered for is not a pass either.
        let o = judge(&m, &BTreeMap::new());
        assert_eq!(o.unread.len(), 1);
        assert!(o.findings.is_empty());
    }

    /// The authenticator matches ARNs case-insensitively, so an upper-case entry is live and
    /// its principal is checked like any other (it was left out, with the audit complete).
    #[test]
    fn a_live_entry_written_in_other_case_is_checked() {
        let shouted = "ARN:AWS:IAM::111122223333:Role/Admin";
        let m = aws_auth(&role(shouted, "system:masters", None), "");
        assert!(m[0].active, "{m:?}");
        let principals = to_check(&m);
        assert_eq!(principals.len(), 1, "{principals:?}");
        assert_eq!(principals[0].account, "111122223333");
        assert_eq!(
            principals[0].key,
            key("arn:aws:iam::111122223333:role/admin")
        );
        // Unanswered, it is a gap, never silently complete.
        let o = judge(&m, &BTreeMap::new());
        assert_eq!(o.unread.len(), 1, "{:?}", o.unread);
        assert_eq!(o.checks.len(), 1);
    }

    #[test]
    fn another_accounts_principal_is_shown_not_checked_but_leaves_the_audit_complete() {
        let other = "arn:aws:iam::444455556666:role/scanner";
        let m = aws_auth(&role(other, "system:masters", None), "");
        let answers = BTreeMap::from([(
            key(other),
            IamAnswer::NotChecked {
                why: NotChecked::OtherAccount,
                detail: "the principal is in account 444455556666".into(),
            },
        )]);
        let o = judge(&m, &answers);
        assert!(o.unread.is_empty(), "{:?}", o.unread);
        assert!(o.findings.is_empty());
        assert_eq!(o.checks[0].status, "not-checked");
        assert_eq!(o.checks[0].reason, Some(NotChecked::OtherAccount));
    }

    #[test]
    fn other_accounts_and_missing_credentials_are_not_asked() {
        let other = "arn:aws:iam::444455556666:role/x";
        let m = aws_auth(
            &format!("{}{}", role(DEV, "dev", None), role(other, "dev", None)),
            "",
        );
        let caller = CallerAccount {
            partition: "aws".into(),
            account: "111122223333".into(),
        };
        let (ask, skipped) = split_by_account(to_check(&m), Ok(&caller));
        assert_eq!(
            ask.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["dev"]
        );
        assert!(matches!(
            skipped.get(&key(other)),
            Some(IamAnswer::NotChecked { why: NotChecked::OtherAccount, detail }) if detail.contains("444455556666")
        ));
        let (ask, skipped) = split_by_account(
            to_check(&m),
            Err((NotChecked::NoCredentials, "no AWS credentials were found")),
        );
        assert!(ask.is_empty());
        assert_eq!(skipped.len(), 2);
        assert!(skipped.values().all(|a| matches!(
            a,
            IamAnswer::NotChecked {
                why: NotChecked::NoCredentials,
                ..
            }
        )));
    }

    #[test]
    fn only_principals_the_authenticator_uses_are_asked_once_each() {
        // The first entry is shadowed by the second (same ARN, other case); the SSO entry is a
        // pattern, not a principal.
        let m = aws_auth(
            &format!(
                "{}{}- sso:\n    permissionSetName: Admin\n    accountID: \"111122223333\"\n  username: s\n  groups: [g]\n",
                role(DEV, "a", None),
                role("arn:aws:iam::111122223333:role/DEV", "b", None)
            ),
            "",
        );
        let p = to_check(&m);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].arn, "arn:aws:iam::111122223333:role/DEV");
        assert_eq!(p[0].name, "DEV");
        let o = judge(&m, &BTreeMap::from([(key(DEV), IamAnswer::Missing)]));
        assert_eq!(
            o.findings.len(),
            1,
            "the shadowed entry is not judged: {o:?}"
        );
    }

    fn entry(arn: &str, groups: &[&str]) -> Mapping {
        let mut m = aws_auth(&role(arn, &groups.join(", "), None), "").remove(0);
        m.source = MappingSource::AccessEntry;
        m.line = None;
        m
    }

    #[test]
    fn a_dead_access_entry_is_low_whatever_it_grants() {
        let m = vec![entry(ADMIN, &["system:masters"])];
        let created = BTreeMap::from([(ADMIN.to_string(), NOW - 10 * DAY)]);
        let run = |a: IamAnswer| {
            evaluate(
                &m,
                &[],
                Judgement {
                    answers: &BTreeMap::from([(key(ADMIN), a)]),
                    now_epoch: NOW,
                    stale_days: 90,
                    entry_created: &created,
                },
            )
        };
        let gone = run(IamAnswer::Missing);
        assert_eq!(rules(&gone), [("CHR042", Severity::Low)]);
        assert!(gone.findings[0].evidence.contains("unique id"));
        let recreated = run(exists(ADMIN, "AROANEW", NOW - DAY, Some(NOW)));
        assert_eq!(rules(&recreated), [("CHR042", Severity::Low)]);
        assert!(recreated.findings[0].evidence.contains("AROANEW"));
        assert!(
            run(exists(ADMIN, "AROAOLD", NOW - 20 * DAY, Some(NOW)))
                .findings
                .is_empty()
        );
        assert_eq!(
            mark(&m[0], &BTreeMap::from([(key(ADMIN), IamAnswer::Missing)])),
            Some("dead-entry")
        );
    }

    fn answer() -> impl Strategy<Value = Option<IamAnswer>> {
        prop_oneof![
            Just(None),
            Just(Some(IamAnswer::Missing)),
            (0..3u8, 0..500i64, proptest::option::of(0..500i64)).prop_map(|(id, c, u)| Some(
                exists(
                    "x",
                    &format!("AROA{id}"),
                    NOW - c * DAY,
                    u.map(|u| NOW - u * DAY)
                )
            )),
            Just(Some(IamAnswer::NotChecked {
                why: NotChecked::Failed,
                detail: "throttled".into()
            })),
            Just(Some(IamAnswer::NotChecked {
                why: NotChecked::OtherAccount,
                detail: "account 444455556666".into()
            })),
        ]
    }

    proptest! {
        /// Whatever IAM says: each principal is reported once; the audit is complete exactly
        /// when every principal was answered or is another account's; a principal not answered raises no finding; a
        /// missing or re-created one is critical exactly when its mapping is admin-equivalent.
        #[test]
        fn every_principal_is_accounted_for(
            specs in proptest::collection::vec((0..4usize, any::<bool>(), proptest::option::of(0..3u8), answer()), 1..6)
        ) {
            let names = ["a", "b", "c", "d"];
            let text: String = specs.iter().map(|(n, admin, userid, _)| role(
                &format!("arn:aws:iam::111122223333:role/{}", names[*n]),
                if *admin { "system:masters" } else { "dev" },
                userid.map(|u| format!("AROA{u}")).as_deref(),
            )).collect();
            let m = aws_auth(&text, "");
            let mut answers = BTreeMap::new();
            for (n, _, _, a) in &specs {
                if let Some(a) = a {
                    answers.insert(key(&format!("arn:aws:iam::111122223333:role/{}", names[*n])), a.clone());
                }
            }
            let o = judge(&m, &answers);
            let distinct = to_check(&m);
            prop_assert_eq!(o.checks.len(), distinct.len());
            let unanswered = distinct.iter().filter(|p| !matches!(answers.get(&p.key), Some(IamAnswer::Missing | IamAnswer::Exists(_) | IamAnswer::NotChecked { why: NotChecked::OtherAccount, .. }))).count();
            prop_assert_eq!(o.unread.len(), unanswered);
            for f in &o.findings {
                let arn = f.subject.split(' ').next().unwrap();
                let a = answers.get(&key(arn));
                prop_assert!(matches!(a, Some(IamAnswer::Missing | IamAnswer::Exists(_))), "{:?} for {:?}", f, a);
                if f.rule == "CHR040" || f.rule == "CHR041" {
                    let admin = m.iter().any(|x| x.active && mapping_subject(x) == f.subject && x.groups.iter().any(|g| g == "system:masters"));
                    prop_assert_eq!(f.severity == Severity::Critical, admin);
                }
            }
        }
    }
}
