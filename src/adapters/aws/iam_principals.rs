//! IAM GetRole / GetUser for the principals the mappings name (docs/principals.md): one call per
//! distinct ARN, a bounded number in flight. I/O only: which principals to ask and what the
//! answers mean are `chronom_core::audit::principals`.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

use chronom_core::audit::principals::{
    self as core, CallerAccount, IamAnswer, IamPrincipal, NotChecked, PrincipalKind, PrincipalRef,
};

use crate::adapters::parallel::bounded_map;

/// IAM throttles GetRole/GetUser per account; 8 in flight keeps a 200-mapping aws-auth at a few
/// seconds without tripping it.
const IN_FLIGHT: usize = 8;

/// What IAM says about each principal, by key; the ones these credentials cannot answer for
/// (another account, no credentials) are not asked and say why.
pub async fn check(sdk: &SdkConfig, principals: Vec<PrincipalRef>) -> BTreeMap<String, IamAnswer> {
    if principals.is_empty() {
        return BTreeMap::new();
    }
    let caller = match crate::adapters::aws::identity::credentials(sdk).await {
        Ok(_) => crate::adapters::aws::identity::caller(sdk)
            .await
            .map_err(|e| (NotChecked::Failed, e.what)),
        Err(e) => Err((NotChecked::NoCredentials, e.what)),
    };
    let caller = caller.map(|c| CallerAccount {
        partition: c.arn.split(':').nth(1).unwrap_or("aws").to_string(),
        account: c.account,
    });
    check_with(&aws_sdk_iam::Client::new(sdk), caller, principals).await
}

/// [`check`] with the client and the caller's account given.
pub(crate) async fn check_with(
    iam: &aws_sdk_iam::Client,
    caller: Result<CallerAccount, (NotChecked, String)>,
    principals: Vec<PrincipalRef>,
) -> BTreeMap<String, IamAnswer> {
    let (ask, mut answers) = core::split_by_account(
        principals,
        caller
            .as_ref()
            .map_err(|(why, detail)| (*why, detail.as_str())),
    );
    let asked = bounded_map(ask, IN_FLIGHT, |p| {
        let iam = iam.clone();
        async move {
            let answer = match p.kind {
                PrincipalKind::Role => get_role(&iam, &p).await,
                PrincipalKind::User => get_user(&iam, &p).await,
            };
            (p.key, answer)
        }
    })
    .await;
    answers.extend(asked);
    tracing::info!(principals = answers.len(), "IAM principals checked");
    answers
}

async fn get_role(iam: &aws_sdk_iam::Client, p: &PrincipalRef) -> IamAnswer {
    match iam.get_role().role_name(&p.name).send().await {
        Ok(out) => match out.role() {
            Some(r) => IamAnswer::Exists(IamPrincipal {
                arn: r.arn.clone(),
                unique_id: r.role_id.clone(),
                created: Some(time(&r.create_date)),
                last_used: r
                    .role_last_used()
                    .and_then(|u| u.last_used_date())
                    .map(time),
            }),
            None => failed("GetRole answered without a role"),
        },
        Err(e) => from_error(&e, "iam:GetRole", |e| e.is_no_such_entity_exception()),
    }
}

async fn get_user(iam: &aws_sdk_iam::Client, p: &PrincipalRef) -> IamAnswer {
    match iam.get_user().user_name(&p.name).send().await {
        Ok(out) => match out.user() {
            // A user of that name at another path is not the mapped ARN (users keep their path).
            Some(u) if u.arn.eq_ignore_ascii_case(&p.arn) => IamAnswer::Exists(IamPrincipal {
                arn: u.arn.clone(),
                unique_id: u.user_id.clone(),
                created: Some(time(&u.create_date)),
                last_used: None,
            }),
            Some(_) => IamAnswer::Missing,
            None => failed("GetUser answered without a user"),
        },
        Err(e) => from_error(&e, "iam:GetUser", |e| e.is_no_such_entity_exception()),
    }
}

fn time(t: &aws_sdk_iam::primitives::DateTime) -> (String, i64) {
    let text = t
        .fmt(aws_sdk_iam::primitives::DateTimeFormat::DateTime)
        .unwrap_or_else(|_| t.secs().to_string());
    (text, t.secs())
}

fn failed(detail: &str) -> IamAnswer {
    IamAnswer::NotChecked {
        why: NotChecked::Failed,
        detail: detail.to_string(),
    }
}

/// NoSuchEntity is an answer (missing); a refusal or a failure is "not checked", never a pass.
fn from_error<E>(
    err: &SdkError<E, aws_sdk_iam::config::http::HttpResponse>,
    permission: &str,
    no_such_entity: impl Fn(&E) -> bool,
) -> IamAnswer
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if err.as_service_error().is_some_and(no_such_entity) {
        return IamAnswer::Missing;
    }
    let message = err.message().unwrap_or_default();
    let status = err.raw_response().map(|r| r.status().as_u16());
    match (err.code(), status) {
        (Some("NoSuchEntity"), _) => IamAnswer::Missing,
        (Some(code), _) if code.contains("AccessDenied") || code == "UnauthorizedOperation" => {
            IamAnswer::NotChecked {
                why: NotChecked::Denied,
                detail: format!("{permission} was denied ({code}: {message})"),
            }
        }
        (Some(code), _) => failed(&format!("{permission} failed ({code}: {message})")),
        // IAM answers 403 only to a caller it does not authorize; a body the SDK cannot read
        // (moto's, some proxies') leaves no code, but the status says it.
        (None, Some(403)) => IamAnswer::NotChecked {
            why: NotChecked::Denied,
            detail: format!("{permission} was denied (HTTP 403)"),
        },
        (None, _) => failed(&format!(
            "{permission} failed: {}",
            chronom_core::error::error_chain(err).join(": ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::get_role::{GetRoleError, GetRoleOutput};
    use aws_sdk_iam::types::error::NoSuchEntityException;
    use aws_smithy_mocks::{Rule, mock};
    use chronom_core::audit::completeness::{self, GateInput, Verdict};
    use chronom_core::audit::findings::Severity;

    fn client(rules: &[&Rule]) -> aws_sdk_iam::Client {
        super::super::mocked_client!(aws_sdk_iam, "us-east-1", rules)
    }

    fn denied_rule() -> Rule {
        mock!(aws_sdk_iam::Client::get_role).then_error(|| {
            GetRoleError::generic(
                aws_sdk_iam::error::ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("User: arn:aws:iam::111122223333:user/auditor is not authorized to perform: iam:GetRole")
                    .build(),
            )
        })
    }

    fn role_ref(name: &str) -> PrincipalRef {
        PrincipalRef {
            key: format!("arn:aws:iam::111122223333:role/{name}"),
            arn: format!("arn:aws:iam::111122223333:role/{name}"),
            kind: PrincipalKind::Role,
            partition: "aws".into(),
            account: "111122223333".into(),
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn each_answer_is_read_as_what_it_means() {
        let exists = mock!(aws_sdk_iam::Client::get_role)
            .match_requests(|r| r.role_name() == Some("here"))
            .then_output(|| {
                GetRoleOutput::builder()
                    .role(
                        aws_sdk_iam::types::Role::builder()
                            .path("/")
                            .role_name("here")
                            .role_id("AROAHERE")
                            .arn("arn:aws:iam::111122223333:role/here")
                            .create_date(aws_sdk_iam::primitives::DateTime::from_secs(
                                1_700_000_000,
                            ))
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let gone = mock!(aws_sdk_iam::Client::get_role)
            .match_requests(|r| r.role_name() == Some("gone"))
            .then_error(|| {
                GetRoleError::NoSuchEntityException(
                    NoSuchEntityException::builder().message("no role").build(),
                )
            });
        let denied = mock!(aws_sdk_iam::Client::get_role)
            .match_requests(|r| r.role_name() == Some("secret"))
            .then_error(|| {
                GetRoleError::generic(
                    aws_sdk_iam::error::ErrorMetadata::builder()
                        .code("AccessDenied")
                        .message("User: arn:aws:iam::111122223333:user/auditor is not authorized to perform: iam:GetRole")
                        .build(),
                )
            });
        let iam = client(&[&exists, &gone, &denied]);
        let here = get_role(&iam, &role_ref("here")).await;
        assert!(
            matches!(&here, IamAnswer::Exists(p) if p.unique_id == "AROAHERE" && p.created.as_ref().is_some_and(|c| c.1 == 1_700_000_000) && p.last_used.is_none()),
            "{here:?}"
        );
        assert_eq!(get_role(&iam, &role_ref("gone")).await, IamAnswer::Missing);
        match get_role(&iam, &role_ref("secret")).await {
            IamAnswer::NotChecked { why, detail } => {
                assert_eq!(why, NotChecked::Denied);
                assert!(
                    detail.contains("iam:GetRole was denied (AccessDenied"),
                    "{detail}"
                );
            }
            other => panic!("a refusal must not read as an answer: {other:?}"),
        }
    }

    /// IAM refusing GetRole, end to end through the audit's decisions: the principal is "not
    /// checked" with the reason, the report is incomplete, and `--fail-on` fails (exit 3) even
    /// with no finding at the threshold; without --fail-on the run fails (exit 1).
    #[tokio::test]
    async fn a_denied_check_is_incomplete_and_fails_the_gate() {
        let rule = denied_rule();
        let iam = client(&[&rule]);
        let admin = "arn:aws:iam::111122223333:role/admin";
        let state = chronom_core::audit::manifests::ClusterState {
            aws_auth: BTreeMap::from([(
                "mapRoles".to_string(),
                format!("- rolearn: {admin}\n  username: admin\n  groups: [dev]\n"),
            )]),
            aws_auth_present: true,
            ..Default::default()
        };
        let mut report = chronom_core::audit::report::build(
            "ctx",
            &state,
            &chronom_core::audit::report::snapshot_of(
                &state,
                chronom_core::rbac::RuleSource::Aggregate,
            ),
        );
        assert!(report.complete);
        let mappings: Vec<_> = report.mappings.iter().map(|m| m.mapping.clone()).collect();
        let caller = CallerAccount {
            partition: "aws".into(),
            account: "111122223333".into(),
        };
        let answers = check_with(&iam, Ok(caller), core::to_check(&mappings)).await;
        assert_eq!(rule.num_calls(), 1, "one GetRole for the one principal");
        chronom_core::audit::report::apply_principal_checks(
            &mut report,
            &answers,
            1_765_000_000,
            90,
        );
        assert!(!report.complete);
        let unread = &report.incomplete[0];
        assert_eq!(unread.source, core::SOURCE);
        assert!(
            unread.reason.contains(admin) && unread.reason.contains("access denied"),
            "{}",
            unread.reason
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["principals"][0]["status"], "not-checked");
        assert_eq!(json["principals"][0]["reason"], "denied");
        assert!(
            !report
                .findings
                .iter()
                .any(|f| ["CHR040", "CHR041", "CHR042", "CHR043"].contains(&f.rule)),
            "no finding claims anything about a principal IAM did not describe: {:?}",
            report.findings
        );
        let severities: Vec<Severity> = report.findings.iter().map(|f| f.severity).collect();
        let gate = |fail_on| {
            completeness::gate(GateInput {
                mismatches: 0,
                severities: &severities,
                fail_on,
                complete: report.complete,
                allow_incomplete: false,
            })
        };
        assert_eq!(
            gate(Some(Severity::Critical)),
            Verdict::Incomplete { fail_on: true }
        );
        assert_eq!(gate(Some(Severity::Critical)).exit_code(), 3);
        assert_eq!(gate(None).exit_code(), 1);
    }

    #[tokio::test]
    async fn without_credentials_nothing_is_asked_and_every_principal_says_why() {
        let rule = denied_rule();
        let iam = client(&[&rule]);
        let p = role_ref("x");
        let answers = check_with(
            &iam,
            Err((
                NotChecked::NoCredentials,
                "no AWS credentials were found".into(),
            )),
            vec![p.clone()],
        )
        .await;
        assert_eq!(rule.num_calls(), 0);
        assert!(matches!(
            answers.get(&p.key),
            Some(IamAnswer::NotChecked { why: NotChecked::NoCredentials, detail }) if detail.contains("no AWS credentials")
        ));
    }
}
