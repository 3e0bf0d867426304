//! Who we are on AWS: the credentials of the standard chain, and STS GetCallerIdentity.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;

use chronom_core::error::UserError;

/// The principal behind the credentials, as STS GetCallerIdentity reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AwsCaller {
    pub account: String,
    /// `arn:aws:iam::ACCOUNT:user/NAME` or `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    pub user_id: String,
}

/// Resolve credentials from the configured chain (env, profile, SSO, web identity, IMDS), so a
/// missing or expired login is reported before any AWS call is made.
pub(crate) async fn credentials(sdk: &SdkConfig) -> Result<Credentials, UserError> {
    let Some(provider) = sdk.credentials_provider() else {
        return Err(no_credentials("no credential provider is configured"));
    };
    provider.provide_credentials().await.map_err(|e| match &e {
        CredentialsError::CredentialsNotLoaded(_) => {
            no_credentials("no AWS credentials were found")
        }
        _ => UserError::failed(
            format!(
                "cannot load AWS credentials: {}",
                chronom_core::error::error_chain(&e).join(": ")
            ),
            "renew the login (`aws sso login`, or fresh keys for the profile), or pass --profile",
        ),
    })
}

fn no_credentials(what: &str) -> UserError {
    UserError::failed(
        what,
        "set AWS_PROFILE or pass --profile (after `aws configure` or `aws sso login`), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    )
}

/// STS GetCallerIdentity. It needs no IAM permission, so it also names the principal when
/// another call was denied.
pub async fn caller(sdk: &SdkConfig) -> Result<AwsCaller, UserError> {
    caller_with(&aws_sdk_sts::Client::new(sdk)).await
}

pub(crate) async fn caller_with(sts: &aws_sdk_sts::Client) -> Result<AwsCaller, UserError> {
    let out = sts.get_caller_identity().send().await.map_err(|e| {
        UserError::failed(
            format!(
                "STS GetCallerIdentity failed: {}",
                chronom_core::error::error_chain(&e).join(": ")
            ),
            "check the AWS credentials and network access to STS (re-run with -vv)",
        )
    })?;
    Ok(AwsCaller {
        account: out.account.unwrap_or_default(),
        arn: out.arn.unwrap_or_default(),
        user_id: out.user_id.unwrap_or_default(),
    })
}
