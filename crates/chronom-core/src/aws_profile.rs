//! What a profile of the shared AWS config files asks for that the Rust SDK cannot do: an MFA
//! code before AssumeRole (`mfa_serial`). Read as the AWS CLI reads the files: `[default]` and
//! `[profile NAME]` in the config file, `[NAME]` in the credentials file, `role_arn` with its
//! `mfa_serial` on the same profile, `source_profile` chains. Pure: the files' text is input.

use std::collections::BTreeMap;

/// A profile in the chain that assumes a role with an MFA code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaProfile {
    /// The profile that was selected.
    pub profile: String,
    /// The profile in its `source_profile` chain that has `role_arn` and `mfa_serial`.
    pub role_profile: String,
    pub mfa_serial: String,
}

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// `profile`'s chain asks for MFA before an AssumeRole: botocore's assume-role provider reads
/// `mfa_serial` from the profile that has `role_arn` and prompts for a code; aws-config has
/// no such prompt and would call AssumeRole without one.
pub fn mfa_required(config: &str, credentials: &str, profile: &str) -> Option<MfaProfile> {
    let mut sections = parse(credentials, false);
    // The config file's keys win over the credentials file's for the same profile's role
    // settings; role settings belong in the config file anyway.
    for (name, keys) in parse(config, true) {
        sections.entry(name).or_default().extend(keys);
    }
    let mut name = profile.to_string();
    // A cycle or a long chain ends the walk; the SDK reports those itself.
    for _ in 0..16 {
        let keys = sections.get(&name)?;
        if keys.contains_key("role_arn")
            && let Some(serial) = keys.get("mfa_serial").filter(|s| !s.is_empty())
        {
            return Some(MfaProfile {
                profile: profile.to_string(),
                role_profile: name,
                mfa_serial: serial.clone(),
            });
        }
        let next = keys.get("source_profile")?;
        if *next == name {
            return None;
        }
        name = next.clone();
    }
    None
}

/// How a profile's credentials are renewed once they expire or are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// IAM Identity Center: `sso_session` or `sso_start_url` (`aws sso login`).
    Sso,
    /// `aws login` (console credentials): `login_session`, read by aws-config's
    /// `credentials-login` feature.
    Login,
    /// Keys, a credential process, or anything else: new credentials by hand.
    Other,
    /// Keys exported in the environment (AWS_ACCESS_KEY_ID), which come first in the chain.
    Environment,
}

/// The login behind `profile`: its own, else that of the profile its `source_profile` chain
/// ends in (a role assumed from an SSO profile is renewed by logging in to SSO again).
pub fn login_kind(config: &str, credentials: &str, profile: &str) -> LoginKind {
    let mut sections = parse(credentials, false);
    for (name, keys) in parse(config, true) {
        sections.entry(name).or_default().extend(keys);
    }
    let mut name = profile.to_string();
    for _ in 0..16 {
        let Some(keys) = sections.get(&name) else {
            break;
        };
        if keys.contains_key("sso_session") || keys.contains_key("sso_start_url") {
            return LoginKind::Sso;
        }
        if keys.contains_key("login_session") {
            return LoginKind::Login;
        }
        match keys.get("source_profile") {
            Some(next) if *next != name => name = next.clone(),
            _ => break,
        }
    }
    LoginKind::Other
}

/// The next step for credentials AWS rejected or that have expired, naming the command for
/// the profile's kind of login.
pub fn renew_step(kind: LoginKind, profile: &str) -> String {
    let flag = if profile == "default" {
        String::new()
    } else {
        format!(" --profile {profile}")
    };
    let check = format!("; `aws sts get-caller-identity{flag}` shows whether they work");
    match kind {
        LoginKind::Sso => format!("log in again: `aws sso login{flag}`{check}"),
        LoginKind::Login => format!("log in again: `aws login{flag}`{check}"),
        LoginKind::Environment => format!(
            "export fresh keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for a session, AWS_SESSION_TOKEN; `aws configure export-credentials --format env` prints a profile's), or unset them and pass --profile{check}"
        ),
        LoginKind::Other => format!(
            "refresh the credentials of profile {profile:?} (new access keys with `aws configure{flag}`), or of the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN), or pick others with --profile{check}"
        ),
    }
}

/// INI sections to their keys. In the config file a profile is `[default]` or
/// `[profile NAME]` (other sections, `[sso-session X]` and `[services X]`, are not profiles);
/// in the credentials file it is `[NAME]`. Indented lines continue a nested value and are
/// skipped; `#` and `;` start comments.
fn parse(text: &str, config_file: bool) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            current = if !config_file || header == "default" {
                Some(header.to_string())
            } else {
                header
                    .strip_prefix("profile")
                    .filter(|rest| rest.starts_with([' ', '\t']))
                    .map(|rest| rest.trim().to_string())
            };
            continue;
        }
        let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_that_renews_a_profile_names_its_command() {
        let config = "
[profile dev]
sso_session = corp
sso_account_id = 111122223333
[profile old-sso]
sso_start_url = https://corp.awsapps.com/start
[profile console]
login_session = arn:aws:iam::111122223333:user/alice
[profile eks-admin]
role_arn = arn:aws:iam::111122223333:role/eks
source_profile = dev
[profile keys]
region = eu-west-1
";
        let kind = |p: &str| login_kind(config, "[keys]\naws_access_key_id = AKID\n", p);
        assert_eq!(kind("dev"), LoginKind::Sso);
        assert_eq!(kind("old-sso"), LoginKind::Sso);
        assert_eq!(kind("console"), LoginKind::Login);
        assert_eq!(kind("eks-admin"), LoginKind::Sso, "through source_profile");
        assert_eq!(kind("keys"), LoginKind::Other);
        assert_eq!(kind("missing"), LoginKind::Other);
        assert!(
            renew_step(LoginKind::Sso, "dev")
                .starts_with("log in again: `aws sso login --profile dev`")
        );
        assert!(
            renew_step(LoginKind::Login, "console")
                .starts_with("log in again: `aws login --profile console`")
        );
        assert!(
            renew_step(LoginKind::Sso, "default").starts_with("log in again: `aws sso login`;")
        );
        let other = renew_step(LoginKind::Other, "keys");
        let env = renew_step(LoginKind::Environment, "default");
        assert!(
            env.starts_with("export fresh keys") && !env.contains("sso"),
            "{env}"
        );
        assert!(
            other.starts_with("refresh the credentials")
                && !other.contains("sso")
                && other.contains("AWS_SESSION_TOKEN"),
            "{other}"
        );
    }

    const CONFIG: &str = "
[default]
region = eu-west-1

[profile admin]
role_arn = arn:aws:iam::111122223333:role/admin
source_profile = default
mfa_serial = arn:aws:iam::111122223333:mfa/alice
; a comment

[profile readonly]
role_arn = arn:aws:iam::111122223333:role/readonly
source_profile = default

[profile chained]
role_arn = arn:aws:iam::444455556666:role/eks
source_profile = admin
s3 =
  max_concurrent_requests = 20

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start

[admin-no-prefix]
mfa_serial = arn:aws:iam::111122223333:mfa/ignored
role_arn = arn:aws:iam::111122223333:role/x
";

    const CREDENTIALS: &str = "
[default]
aws_access_key_id = AKIDEXAMPLE
aws_secret_access_key = not-a-secret

[keys-mfa]
aws_access_key_id = AKIDEXAMPLE
mfa_serial = arn:aws:iam::111122223333:mfa/bob
";

    #[test]
    fn a_role_profile_with_mfa_serial_needs_mfa() {
        assert_eq!(
            mfa_required(CONFIG, CREDENTIALS, "admin"),
            Some(MfaProfile {
                profile: "admin".into(),
                role_profile: "admin".into(),
                mfa_serial: "arn:aws:iam::111122223333:mfa/alice".into(),
            })
        );
    }

    #[test]
    fn the_mfa_of_a_source_profile_in_the_chain_counts() {
        let m = mfa_required(CONFIG, CREDENTIALS, "chained").unwrap();
        assert_eq!(
            (m.profile.as_str(), m.role_profile.as_str()),
            ("chained", "admin")
        );
    }

    #[test]
    fn profiles_without_mfa_or_without_a_role_do_not() {
        for p in [
            "default",
            "readonly",
            "keys-mfa",
            "corp",
            "admin-no-prefix",
            "missing",
        ] {
            assert_eq!(mfa_required(CONFIG, CREDENTIALS, p), None, "{p}");
        }
    }

    #[test]
    fn cycles_end() {
        let config = "[profile a]\nsource_profile = b\n[profile b]\nsource_profile = a\n[profile c]\nsource_profile = c\n";
        assert_eq!(mfa_required(config, "", "a"), None);
        assert_eq!(mfa_required(config, "", "c"), None);
    }
}
