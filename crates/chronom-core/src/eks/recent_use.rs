//! Who used an EKS cluster recently: the fold from CloudTrail events to the principals a user
//! whose identity the cluster rejects can ask to run the command instead. Pure; the
//! LookupEvents query is in `recent_principals`.

use serde::Serialize;

/// One principal that used the cluster, with its latest event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentPrincipal {
    /// `userIdentity.arn` of the event: an IAM user, or an assumed-role session.
    pub arn: String,
    /// RFC 3339.
    pub last_seen: String,
    /// The API call, e.g. `DescribeCluster`.
    pub event: String,
}

/// What the fold needs from one CloudTrail event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    pub event_name: String,
    /// Seconds since the epoch, for ordering.
    pub time_epoch: i64,
    pub time: String,
    /// The `CloudTrailEvent` JSON document.
    pub document: String,
}

/// The event source of EKS's own API calls. LookupEvents filters on one attribute only, the
/// resource name, and every service's resource of the same name matches it (an S3 bucket, an
/// IAM role or a CloudFormation stack called like the cluster), so the fold keeps EKS's.
pub const EKS_EVENT_SOURCE: &str = "eks.amazonaws.com";

/// The distinct principals of `events` from EKS ([`EKS_EVENT_SOURCE`]), most recent first,
/// without `exclude` (the caller itself) and without AWS services acting for the cluster (no
/// ARN in their identity).
pub fn fold(events: &[EventSummary], exclude: Option<&str>) -> Vec<RecentPrincipal> {
    let mut latest: Vec<(i64, RecentPrincipal)> = Vec::new();
    for e in events {
        let Some(arn) = eks_principal_arn(&e.document) else {
            continue;
        };
        if exclude == Some(arn.as_str()) {
            continue;
        }
        match latest.iter_mut().find(|(_, p)| p.arn == arn) {
            Some((t, p)) if e.time_epoch > *t => {
                *t = e.time_epoch;
                p.last_seen = e.time.clone();
                p.event = e.event_name.clone();
            }
            Some(_) => {}
            None => latest.push((
                e.time_epoch,
                RecentPrincipal {
                    arn,
                    last_seen: e.time.clone(),
                    event: e.event_name.clone(),
                },
            )),
        }
    }
    latest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.arn.cmp(&b.1.arn)));
    latest.into_iter().map(|(_, p)| p).collect()
}

/// `userIdentity.arn` of a CloudTrail event document of EKS, for IAM users and roles only.
fn eks_principal_arn(document: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(document).ok()?;
    if v["eventSource"].as_str() != Some(EKS_EVENT_SOURCE) {
        return None;
    }
    let identity = &v["userIdentity"];
    let arn = identity["arn"].as_str().filter(|a| a.starts_with("arn:"))?;
    matches!(
        identity["type"].as_str(),
        Some("IAMUser" | "AssumedRole" | "Role" | "FederatedUser") | None
    )
    .then(|| arn.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(identity_type: &str, arn: &str) -> String {
        serde_json::json!({"eventVersion": "1.09", "userIdentity": {"type": identity_type, "arn": arn}, "eventSource": "eks.amazonaws.com"}).to_string()
    }

    fn summary(t: i64, name: &str, doc: String) -> EventSummary {
        EventSummary {
            event_name: name.into(),
            time_epoch: t,
            time: format!("t{t}"),
            document: doc,
        }
    }

    const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/admin/alice";
    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const ME: &str = "arn:aws:sts::111122223333:assumed-role/dev/me";

    #[test]
    fn fold_keeps_each_principal_once_with_its_latest_event() {
        let events = vec![
            summary(10, "DescribeCluster", document("AssumedRole", ALICE)),
            summary(30, "ListNodegroups", document("IAMUser", BOB)),
            summary(20, "CreateAccessEntry", document("AssumedRole", ALICE)),
            summary(40, "DescribeCluster", document("AssumedRole", ME)),
            summary(50, "UpdateClusterVersion", document("AWSService", "")),
            summary(60, "x", "not json".into()),
        ];
        let got = fold(&events, Some(ME));
        assert_eq!(
            got,
            vec![
                RecentPrincipal {
                    arn: BOB.into(),
                    last_seen: "t30".into(),
                    event: "ListNodegroups".into()
                },
                RecentPrincipal {
                    arn: ALICE.into(),
                    last_seen: "t20".into(),
                    event: "CreateAccessEntry".into()
                },
            ]
        );
        assert_eq!(
            fold(&events, None).len(),
            3,
            "the caller is listed when not excluded"
        );
        assert!(fold(&[], None).is_empty());
    }

    #[test]
    fn only_eks_events_count_not_another_services_resource_of_the_same_name() {
        let other = |source: &str| {
            serde_json::json!({"userIdentity": {"type": "IAMUser", "arn": BOB}, "eventSource": source}).to_string()
        };
        let events = vec![
            summary(10, "DescribeCluster", document("AssumedRole", ALICE)),
            summary(20, "PutObject", other("s3.amazonaws.com")),
            summary(30, "GetRole", other("iam.amazonaws.com")),
            summary(
                40,
                "DescribeCluster",
                serde_json::json!({"userIdentity": {"type": "IAMUser", "arn": BOB}}).to_string(),
            ),
        ];
        let got: Vec<String> = fold(&events, None).into_iter().map(|p| p.arn).collect();
        assert_eq!(got, [ALICE]);
    }
}
