//! The accounts of a cross-account fleet (`audit --all-clusters --accounts|--organization`):
//! the ACTIVE accounts of the caller's AWS Organization, and entering each one through the
//! role `--assume-role-name` names there. I/O only: the role ARN and the messages are the
//! core's (`audit::fleet`).

use aws_config::SdkConfig;
use aws_sdk_organizations::types::{AccountState, AccountStatus};
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;

use chronom_core::error::UserError;

/// Organizations ListAccounts, every page: the ids of the ACTIVE accounts (suspended, closed
/// and closing ones have nothing to audit and cannot be entered).
pub async fn active_accounts(sdk: &SdkConfig) -> Result<Vec<String>, UserError> {
    let client = aws_sdk_organizations::Client::new(sdk);
    // 20 is the most ListAccounts returns per page.
    let mut pages = client
        .list_accounts()
        .max_results(20)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            use aws_sdk_organizations::error::ProvideErrorMetadata;
            let answered = match (e.code(), e.message()) {
                (Some(code), message) => format!("{code}: {}", message.unwrap_or_default()),
                (None, _) => chronom_core::error::error_chain(&e).join(": "),
            };
            UserError::failed(
                format!("cannot list the accounts of the AWS Organization: ListAccounts answered {answered}"),
                "run it with the organization's management account or a delegated administrator (organizations:ListAccounts), or name the accounts with --accounts",
            )
        })?;
        for account in page.accounts() {
            // `state` replaces the deprecated `status`; older answers only have the latter.
            let active = match (account.state(), account.status()) {
                (Some(state), _) => *state == AccountState::Active,
                (None, Some(status)) => *status == AccountStatus::Active,
                (None, None) => false,
            };
            if let (true, Some(id)) = (active, account.id()) {
                out.push(id.to_string());
            }
        }
    }
    Ok(out)
}

/// STS AssumeRole of `role_arn` with `base`'s credentials, to learn before any region is listed
/// whether the account can be entered at all (the renewing provider the run then uses, see
/// [`super::assuming`], would fail the same way on every call, once per region). The error is
/// the SDK's, for the caller to read its code the way it reads every STS answer.
pub async fn can_assume(
    base: &SdkConfig,
    role_arn: &str,
) -> Result<(), aws_sdk_sts::error::SdkError<AssumeRoleError, HttpResponse>> {
    aws_sdk_sts::Client::new(base)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("kubectl-chronom")
        .send()
        .await
        .map(|_| ())
}
