//! `kubectl chronom token --cluster NAME [--region R] [--profile P] [--role-arn ARN]`: print an
//! ExecCredential with an EKS bearer token, like `aws eks get-token`, without the aws CLI.
//! stdout carries only the JSON; errors go to stderr.

use aws_credential_types::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;

use crate::adapters::aws::{cluster, identity, token};
use crate::cli::{GlobalArgs, TokenArgs};
use chronom_core::error::UserError;
use chronom_core::error::error_chain;

/// The session name of `--role-arn` sessions, as CloudTrail and the cluster's audit log show it.
pub(crate) const SESSION_NAME: &str = "kubectl-chronom";

/// The ExecCredential JSON for `--cluster`, signed with the chain's credentials (or with the
/// role's, after AssumeRole).
pub(crate) async fn exec_credential(
    global: &GlobalArgs,
    args: &TokenArgs,
) -> Result<String, UserError> {
    let Some(name) = global.cluster.as_deref() else {
        return Err(UserError::usage(
            "kubectl chronom token needs --cluster NAME",
            "for example: kubectl chronom token --cluster prod --region eu-west-1",
        ));
    };
    let (sdk, region) = cluster::sdk_for(global).await?;
    let mut credentials = identity::credentials(&sdk).await?;
    if let Some(role) = &args.role_arn {
        credentials = assume_role(&sdk, role).await?;
    }
    if tracing::enabled!(tracing::Level::INFO) {
        // Only when asked (-v): one STS call to say whom the token will identify.
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&sdk)
                .credentials_provider(credentials.clone())
                .build(),
        );
        match identity::caller_with(&sts).await {
            Ok(c) => {
                tracing::info!(arn = %c.arn, account = %c.account, cluster = name, region = %region, "signing the token as")
            }
            Err(e) => tracing::info!("cannot tell who signs the token: {}", e.what),
        }
    }
    let minted = token::mint(&credentials, &region, name, jiff::Timestamp::now())
        .map_err(|e| UserError::usage(e.to_string(), "fix the --cluster and --region values"))?;
    let api_version =
        token::exec_api_version(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref());
    Ok(token::exec_credential_json(&minted, api_version))
}

/// STS AssumeRole with session name `kubectl-chronom`; the temporary credentials sign the token.
async fn assume_role(
    sdk: &aws_config::SdkConfig,
    role_arn: &str,
) -> Result<Credentials, UserError> {
    let sts = aws_sdk_sts::Client::new(sdk);
    let out = match sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(SESSION_NAME)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let code = e.code().unwrap_or_default().to_string();
            let message = e.message().unwrap_or_default().to_string();
            if code.is_empty() {
                return Err(UserError::failed(
                    format!("cannot assume {role_arn}: {}", error_chain(&e).join(": ")),
                    "check network access to STS (or AWS_ENDPOINT_URL), then re-run with -vv",
                ));
            }
            let who = identity::caller_with(&sts)
                .await
                .map_or_else(|_| "the current principal".to_string(), |c| c.arn);
            return Err(UserError::failed(
                format!("{who} cannot assume {role_arn}: {code}: {message}"),
                format!(
                    "the role's trust policy must allow {who} to sts:AssumeRole, and that principal needs sts:AssumeRole on the role"
                ),
            ));
        }
    };
    let Some(c) = out.credentials else {
        return Err(UserError::failed(
            format!("AssumeRole {role_arn} returned no credentials"),
            "re-run with -vv",
        ));
    };
    let expiry = std::time::SystemTime::try_from(c.expiration).ok();
    Ok(Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        expiry,
        "AssumeRole",
    ))
}
