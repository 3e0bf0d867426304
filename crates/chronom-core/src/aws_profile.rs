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
