//! Speaking EKS directly: AWS configuration, DescribeCluster, the native bearer token,
//! access entries, CloudTrail. I/O only: the decisions are in the pure EKS model.

/// An SDK client (`aws_sdk_eks`, `aws_sdk_sts`, ...) answered by aws-smithy-mocks `rules`
/// (`&[&Rule]` or an array of them): no network, fixed test credentials, in `region`. One place
/// for the unit tests' mocked clients.
#[cfg(test)]
macro_rules! mocked_client {
    ($sdk:ident, $region:expr, $rules:expr) => {{
        let interceptor = $rules.iter().fold(
            aws_smithy_mocks::MockResponseInterceptor::new()
                .rule_mode(aws_smithy_mocks::RuleMode::MatchAny),
            |i, r| i.with_rule(r),
        );
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version_latest()
                .region(aws_config::Region::new($region))
                .credentials_provider(aws_credential_types::Credentials::new(
                    "AKIDEXAMPLE",
                    "secret",
                    None,
                    None,
                    "test",
                ))
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }};
}
#[cfg(test)]
pub(crate) use mocked_client;

pub mod access_entries;
pub mod accounts;
pub mod cluster;
pub mod iam_principals;
pub mod identity;
pub mod identity_providers;
pub mod pod_identity;
pub(crate) mod recent_principals;
pub mod token;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};

use chronom_core::eks::posture::{AuthMode, ClusterFacts};

/// The EKS cluster a kubeconfig context was inferred to be, and the AWS identity its exec
/// plugin uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksTarget {
    pub cluster: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// The role the plugin assumes before signing (`aws eks get-token --role-arn`/`--role`,
    /// `aws-iam-authenticator token -r`): the cluster knows the caller as this role.
    pub role_arn: Option<String>,
}

/// The EKS side of one command: the clients and what DescribeCluster said.
#[derive(Debug, Clone)]
pub struct EksContext {
    pub eks: aws_sdk_eks::Client,
    /// For GetRole, to find a role's path; None where IAM must not be asked.
    pub iam: Option<aws_sdk_iam::Client>,
    pub cluster: ClusterFacts,
}

impl EksContext {
    pub(crate) fn name(&self) -> &str {
        &self.cluster.name
    }

    pub(crate) fn auth_mode(&self) -> Option<AuthMode> {
        self.cluster.auth_mode()
    }
}

/// The standard AWS credential chain (env, profile, SSO, IMDS, web identity), with the
/// region and profile the user chose. `AWS_ENDPOINT_URL` is honoured, which is how the tests
/// reach moto on loopback.
pub(crate) async fn aws_config(region: Option<&str>, profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Ok(mut chosen) = CHOSEN_PROFILE.lock() {
        *chosen = profile.map(String::from);
    }
    loader = loader.http_client(http_client());
    if let Some(mfa) = mfa_profile(profile) {
        // aws-config cannot prompt for the code and would call AssumeRole without one; every
        // use of these credentials says why instead (identity::credentials turns it into the
        // message and the next step).
        loader = loader.credentials_provider(identity::MfaRequired(mfa));
    }
    loader.load().await
}

/// The one HTTP client of every AWS call: rustls with ring, the TLS stack and crypto provider
/// the Kubernetes client uses (docs/dependencies.md). The SDK's default client would bring
/// aws-lc-rs, and with it a second provider and its CPU-jitter seeding, into the process. The
/// proxy variables (`HTTPS_PROXY`, `NO_PROXY`, ...) are honoured as the SDK's default client
/// honours them.
pub fn http_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The selected profile (`profile`, else `AWS_PROFILE`, else `default`) of the shared config
/// files (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and
/// `~/.aws/credentials`), when it assumes a role with an MFA code. Keys in the environment
/// come first in the credential chain: without an explicit profile they make it moot.
fn mfa_profile(profile: Option<&str>) -> Option<chronom_core::aws_profile::MfaProfile> {
    let (name, config, credentials) = selected_profile(profile)?;
    chronom_core::aws_profile::mfa_required(&config, &credentials, &name)
}

/// The `--profile` the last [`aws_config`] was loaded with: an error far from there (a
/// rejected or expired credential) names the login that renews that profile.
static CHOSEN_PROFILE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// The selected profile's name and the shared config and credentials files' text, or None
/// when keys in the environment come first in the chain (no explicit profile).
fn selected_profile(profile: Option<&str>) -> Option<(String, String, String)> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if profile.is_none() && env("AWS_ACCESS_KEY_ID").is_some() {
        return None;
    }
    let name = profile
        .map(String::from)
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let home = env("HOME").or_else(|| env("USERPROFILE"));
    let file = |var: &str, default: &str| {
        let path = env(var).or_else(|| home.as_ref().map(|h| format!("{h}/.aws/{default}")))?;
        std::fs::read_to_string(path).ok()
    };
    let config = file("AWS_CONFIG_FILE", "config").unwrap_or_default();
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials").unwrap_or_default();
    Some((name, config, credentials))
}

/// What to do about credentials AWS rejected or that expired, for the profile in use: `aws sso
/// login` for an IAM Identity Center profile, `aws login` for a console-login profile, else
/// new keys (core `aws_profile::renew_step`).
pub(crate) fn renew_step() -> String {
    use chronom_core::aws_profile::{LoginKind, login_kind, renew_step};
    let chosen = CHOSEN_PROFILE.lock().ok().and_then(|p| p.clone());
    match selected_profile(chosen.as_deref()) {
        Some((name, config, credentials)) => {
            renew_step(login_kind(&config, &credentials, &name), &name)
        }
        None => renew_step(LoginKind::Environment, "default"),
    }
}

/// `base` with credentials of `role_arn`, assumed with base's credentials (session name
/// `kubectl-chronom`, as the token command's `--role-arn`) and renewed before they expire.
/// What reading the EKS side of a context whose exec plugin assumes a role needs: access
/// entries and aws-auth map the role, not the identity it was assumed from.
pub async fn assuming(base: &SdkConfig, role_arn: &str) -> SdkConfig {
    // `base` comes from aws_config's loader ([`aws_config`]), which gives it the time source
    // the provider needs to name and expire sessions.
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("kubectl-chronom")
        .configure(base)
        .build()
        .await;
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}
