//! Who we are on AWS: the credentials of the standard chain, and STS GetCallerIdentity.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};

use chronom_core::aws_profile::MfaProfile;
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
    provider.provide_credentials().await.map_err(|e| {
        if let Some(MfaProfileError(mfa)) =
            std::error::Error::source(&e).and_then(|s| s.downcast_ref::<MfaProfileError>())
        {
            return mfa_error(mfa);
        }
        let chain = chronom_core::error::error_chain(&e);
        match &e {
            CredentialsError::CredentialsNotLoaded(_) => {
                no_credentials("no AWS credentials were found")
            }
            _ => UserError::failed(
                format!("cannot load AWS credentials: {}", chain.join(": ")),
                RENEW,
            ),
        }
    })
}

/// How to get working credentials back. `aws login` (a profile's `login_session`, read with
/// aws-config's `credentials-login` feature) and `aws sso login` are both logins that expire.
pub(crate) const RENEW: &str = "renew the login (`aws login` or `aws sso login` for the profile, or fresh keys), or pass --profile";

/// A profile whose role needs an MFA code, which the Rust SDK cannot ask for.
#[derive(Debug)]
pub(crate) struct MfaProfileError(pub MfaProfile);

impl std::fmt::Display for MfaProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "profile {:?} assumes a role with an MFA code (mfa_serial in profile {:?})",
            self.0.profile, self.0.role_profile
        )
    }
}

impl std::error::Error for MfaProfileError {}

/// The credentials of a profile that needs MFA: an error that says so, before any AssumeRole.
#[derive(Debug)]
pub(crate) struct MfaRequired(pub MfaProfile);

impl ProvideCredentials for MfaRequired {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::invalid_configuration(
            MfaProfileError(self.0.clone()),
        )))
    }
}

fn mfa_error(mfa: &MfaProfile) -> UserError {
    UserError::failed(
        format!(
            "AWS profile {:?} assumes a role with an MFA code (mfa_serial {} in profile {:?}), and the AWS SDK for Rust that kubectl-chronom uses cannot prompt for one, so no AssumeRole was attempted",
            mfa.profile, mfa.mfa_serial, mfa.role_profile
        ),
        format!(
            "get the role's credentials first and run with them: `eval \"$(aws configure export-credentials --profile {p} --format env)\"` (the AWS CLI asks for the code) and re-run without --profile, or `aws-vault exec {p} -- kubectl chronom …`",
            p = mfa.profile
        ),
    )
}

fn no_credentials(what: &str) -> UserError {
    UserError::failed(
        what,
        "set AWS_PROFILE or pass --profile (after `aws configure`, `aws login` or `aws sso login`), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
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

#[cfg(test)]
// ProfileFiles' new name lives in aws-runtime, which is not a dependency of ours.
#[allow(deprecated)]
mod tests {
    use super::*;
    use aws_config::profile::ProfileFileCredentialsProvider;
    use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
    use aws_credential_types::provider::SharedCredentialsProvider;

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn sdk_with(provider: impl ProvideCredentials + 'static) -> SdkConfig {
        SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build()
    }

    /// aws-config has no MFA prompt: a role profile with mfa_serial is refused with the
    /// reason and a way to get the role's credentials, and nothing is asked of AWS.
    #[test]
    fn an_mfa_profile_says_why_and_what_to_do() {
        let mfa = MfaProfile {
            profile: "chained".into(),
            role_profile: "admin".into(),
            mfa_serial: "arn:aws:iam::111122223333:mfa/alice".into(),
        };
        let err = run(credentials(&sdk_with(MfaRequired(mfa)))).unwrap_err();
        assert!(
            err.what.contains("\"chained\"")
                && err.what.contains(
                    "mfa_serial arn:aws:iam::111122223333:mfa/alice in profile \"admin\""
                )
                && err.what.contains("cannot prompt")
                && err.what.contains("no AssumeRole was attempted"),
            "{err}"
        );
        assert!(
            err.next
                .contains("aws configure export-credentials --profile chained")
                && err.next.contains("aws-vault exec chained"),
            "{err}"
        );
        assert!(!err.next.contains("aws sso login"), "{err}");
    }

    /// An `aws login` profile (login_session) is read with aws-config 1.13's
    /// `credentials-login` feature. Before it was enabled, the provider failed with "requires
    /// cargo feature credentials-login" and the next step said `aws sso login`. With no login
    /// cached here, the failure is the login's, and the next step names `aws login`.
    #[test]
    fn an_aws_login_profile_is_read_and_its_next_step_is_aws_login() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "[profile signin]\nlogin_session = arn:aws:iam::111122223333:user/alice\nregion = eu-west-1\n",
        )
        .unwrap();
        let provider = ProfileFileCredentialsProvider::builder()
            .profile_files(
                ProfileFiles::builder()
                    .with_file(ProfileFileKind::Config, &config)
                    .build(),
            )
            .profile_name("signin")
            // As aws_config's loader configures it: the login provider needs an HTTP client
            // to be built, and the SDK's default one is not compiled in (docs/dependencies.md).
            .configure(
                &aws_config::provider_config::ProviderConfig::without_region()
                    .with_http_client(crate::adapters::aws::http_client()),
            )
            .build();
        let err = run(credentials(&sdk_with(provider))).unwrap_err();
        assert!(!err.what.contains("credentials-login"), "{err}");
        assert!(err.next.contains("`aws login`"), "{err}");
    }
}
