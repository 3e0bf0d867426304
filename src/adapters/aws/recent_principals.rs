//! Who used an EKS cluster recently, according to CloudTrail: the people a user whose identity
//! the cluster rejects can ask to run the command instead.
//!
//! This is the shell: one bounded LookupEvents query (`ResourceName` = the cluster name: EKS
//! management events such as DescribeCluster or CreateAccessEntry name the cluster as their
//! resource). The fold from events to principals is pure, in `recent_use`. CloudTrail's event
//! history covers 90 days per region.

use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use chronom_core::eks::recent_use::{EventSummary, RecentPrincipal, fold};

/// Events per LookupEvents page (the API's maximum) and pages read at most: LookupEvents
/// allows 2 requests a second per account and region, and a diagnosis must stay quick.
pub const PAGE_SIZE: i32 = 50;
pub const MAX_PAGES: usize = 3;

/// The principals that used `cluster` recently, without `exclude`. Err is a sentence saying
/// why CloudTrail could not tell (never a hard failure: it only adds to a diagnosis).
pub async fn lookup(
    cloudtrail: &aws_sdk_cloudtrail::Client,
    cluster: &str,
    exclude: Option<&str>,
) -> Result<Vec<RecentPrincipal>, String> {
    let attribute = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ResourceName)
        .attribute_value(cluster)
        .build()
        .map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    let mut pages = cloudtrail
        .lookup_events()
        .lookup_attributes(attribute)
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut read = 0;
    while read < MAX_PAGES {
        let Some(page) = pages.next().await else {
            break;
        };
        read += 1;
        let page = page.map_err(|e| {
            let code = e.code().unwrap_or_default().to_string();
            match code.as_str() {
                "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
                    format!("cloudtrail:LookupEvents was denied ({code}); a principal allowed to call it can list who used the cluster")
                }
                "" => format!(
                    "CloudTrail LookupEvents failed ({}); check that CloudTrail is reachable in this region (and AWS_ENDPOINT_URL, if set)",
                    chronom_core::error::error_chain(&e).join(": ")
                ),
                _ => format!("CloudTrail LookupEvents failed ({code}: {})", e.message().unwrap_or_default()),
            }
        })?;
        events.extend(page.events().iter().map(|e| {
            EventSummary {
                event_name: e.event_name().unwrap_or_default().to_string(),
                time_epoch: e.event_time().map_or(0, |t| t.secs()),
                time: e
                    .event_time()
                    .and_then(|t| {
                        t.fmt(aws_sdk_cloudtrail::primitives::DateTimeFormat::DateTime)
                            .ok()
                    })
                    .unwrap_or_default(),
                document: e.cloud_trail_event().unwrap_or_default().to_string(),
            }
        }));
    }
    Ok(fold(&events, exclude))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::operation::lookup_events::{LookupEventsError, LookupEventsOutput};
    use aws_sdk_cloudtrail::types::Event;
    use aws_smithy_mocks::{Rule, mock};

    fn document(identity_type: &str, arn: &str) -> String {
        serde_json::json!({"eventVersion": "1.09", "userIdentity": {"type": identity_type, "arn": arn}, "eventSource": "eks.amazonaws.com"}).to_string()
    }

    const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/admin/alice";
    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const ME: &str = "arn:aws:sts::111122223333:assumed-role/dev/me";

    fn client(rules: &[&Rule]) -> aws_sdk_cloudtrail::Client {
        super::super::mocked_client!(aws_sdk_cloudtrail, "eu-west-1", rules)
    }

    fn event(secs: i64, name: &str, doc: String) -> Event {
        Event::builder()
            .event_name(name)
            .event_time(aws_sdk_cloudtrail::primitives::DateTime::from_secs(secs))
            .cloud_trail_event(doc)
            .build()
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn asks_for_the_cluster(
        r: &aws_sdk_cloudtrail::operation::lookup_events::LookupEventsInput,
    ) -> bool {
        let attrs = r.lookup_attributes();
        attrs.len() == 1
            && attrs[0].attribute_key() == &LookupAttributeKey::ResourceName
            && attrs[0].attribute_value() == "prod"
            && r.max_results() == Some(PAGE_SIZE)
    }

    #[test]
    fn lookup_asks_by_resource_name_and_reads_a_bounded_number_of_pages() {
        let first = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .match_requests(|r| asks_for_the_cluster(r) && r.next_token().is_none())
            .then_output(|| {
                LookupEventsOutput::builder()
                    .events(event(
                        1_772_000_000,
                        "DescribeCluster",
                        document("AssumedRole", ALICE),
                    ))
                    .next_token("p2")
                    .build()
            });
        let later = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .match_requests(|r| asks_for_the_cluster(r) && r.next_token() == Some("more"))
            .then_output(|| {
                LookupEventsOutput::builder()
                    .events(event(
                        1_772_000_100,
                        "ListNodegroups",
                        document("IAMUser", BOB),
                    ))
                    .next_token("more")
                    .build()
            });
        let second = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .match_requests(|r| asks_for_the_cluster(r) && r.next_token() == Some("p2"))
            .then_output(|| {
                LookupEventsOutput::builder()
                    .events(event(
                        1_772_000_050,
                        "DescribeCluster",
                        document("AssumedRole", ME),
                    ))
                    .next_token("more")
                    .build()
            });
        let got = run(lookup(
            &client(&[&first, &second, &later]),
            "prod",
            Some(ME),
        ))
        .unwrap();
        assert_eq!(
            got.iter().map(|p| p.arn.as_str()).collect::<Vec<_>>(),
            [BOB, ALICE]
        );
        assert_eq!(got[1].last_seen, "2026-02-25T06:13:20Z");
        assert_eq!(
            (first.num_calls(), second.num_calls(), later.num_calls()),
            (1, 1, MAX_PAGES - 2),
            "stops after {MAX_PAGES} pages"
        );
    }

    #[test]
    fn access_denied_is_a_sentence_not_a_failure() {
        let denied = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_error(|| {
            LookupEventsError::generic(
                aws_sdk_cloudtrail::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized")
                    .build(),
            )
        });
        let why = run(lookup(&client(&[&denied]), "prod", None)).unwrap_err();
        assert!(
            why.starts_with("cloudtrail:LookupEvents was denied (AccessDeniedException)"),
            "{why}"
        );
        let other = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_error(|| {
            LookupEventsError::generic(
                aws_sdk_cloudtrail::error::ErrorMetadata::builder()
                    .code("InvalidLookupAttributesException")
                    .message("bad attribute")
                    .build(),
            )
        });
        assert_eq!(
            run(lookup(&client(&[&other]), "prod", None)).unwrap_err(),
            "CloudTrail LookupEvents failed (InvalidLookupAttributesException: bad attribute)"
        );
    }
}
