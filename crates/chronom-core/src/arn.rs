//! IAM and STS ARN parsing and the canonical form aws-auth matches on.
//!
//! Why the canonical form drops the role path: aws-iam-authenticator learns who is calling
//! from STS `GetCallerIdentity`, which for a role session answers
//! `arn:aws:sts::<acct>:assumed-role/<name>/<session>`: the role's path is not in it.
//! `pkg/arn/arn.go` `Canonicalize` turns that into `arn:aws:iam::<acct>:role/<name>` and the
//! configmap mapper compares mapRoles' `rolearn` against it with `strings.EqualFold`
//! (`pkg/config/mapper.go` `RoleMapping.Matches`). So an entry written with the path,
//! `role/team/ops/name`, never matches anybody (aws-iam-authenticator issues #153, #268).
//! IAM users are different: their `GetCallerIdentity` ARN keeps the path, so a mapUsers
//! `userarn` must keep it too.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Partitions aws-iam-authenticator recognises (`pkg/endpoints`, `PARTITIONS`).
pub const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// Longest IAM role or user name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest IAM path, slashes included.
pub const MAX_PATH_LEN: usize = 512;

const ROLE_EXAMPLE: &str = "arn:aws:iam::123456789012:role/my-role";
const PRINCIPAL_EXAMPLE: &str = "arn:aws:iam::123456789012:role/my-role, \
arn:aws:iam::123456789012:user/alice or arn:aws:sts::123456789012:assumed-role/my-role/session";

/// Why a text is not an ARN we accept. Every message says what is wrong and shows a valid ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("the ARN is empty; expected something like {ROLE_EXAMPLE}")]
    Empty,
    #[error(
        "the ARN contains {what} at character {position}; ARNs never contain spaces, line breaks or control characters (expected something like {ROLE_EXAMPLE})"
    )]
    ForbiddenCharacter {
        position: usize,
        character: char,
        what: String,
    },
    #[error(
        "the ARN contains the non-ASCII character {character:?} (U+{code:04X}) at character {position}; ARNs are plain ASCII, so this is probably a look-alike pasted from a document: retype it (expected something like {ROLE_EXAMPLE})",
        code = *character as u32
    )]
    NonAscii { position: usize, character: char },
    #[error(
        "{text:?} is not an ARN: an ARN starts with \"arn:\" (expected something like {ROLE_EXAMPLE})"
    )]
    NotAnArn { text: String },
    #[error(
        "the ARN has {found} colon-separated parts, it needs 6: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (expected something like {ROLE_EXAMPLE})"
    )]
    WrongShape { found: usize },
    #[error(
        "unknown partition {partition:?}; use one of {known} (expected something like {ROLE_EXAMPLE})",
        known = PARTITIONS.join(", ")
    )]
    UnknownPartition { partition: String },
    #[error(
        "service {service:?} is not an identity service; use \"iam\" for roles and users or \"sts\" for assumed-role sessions (expected something like {ROLE_EXAMPLE})"
    )]
    WrongService { service: String },
    #[error(
        "IAM and STS ARNs have an empty region field, found {region:?}: write \"::\" between the service and the account (expected something like {ROLE_EXAMPLE})"
    )]
    UnexpectedRegion { region: String },
    #[error(
        "account ID {account:?} {reason}; it must be exactly 12 digits, leading zeros included (expected something like {ROLE_EXAMPLE})"
    )]
    BadAccount { account: String, reason: String },
    #[error("{found} ARNs are not accepted here; {wanted} (expected something like {example})")]
    WrongResourceType {
        found: String,
        wanted: &'static str,
        example: &'static str,
    },
    #[error(
        "{kind} name {name:?} {reason}; IAM names are 1 to {MAX_NAME_LEN} characters from A-Z a-z 0-9 and + = , . @ _ - (expected something like {ROLE_EXAMPLE})"
    )]
    BadName {
        kind: &'static str,
        name: String,
        reason: String,
    },
    #[error(
        "IAM path {path:?} {reason}; a path is /segment/.../ with printable ASCII and at most {MAX_PATH_LEN} characters (expected something like arn:aws:iam::123456789012:role/team/ops/my-role)"
    )]
    BadPath { path: String, reason: String },
    #[error(
        "assumed-role ARN resource {resource:?} must be assumed-role/ROLE-NAME/SESSION-NAME (expected something like arn:aws:sts::123456789012:assumed-role/my-role/my-session)"
    )]
    BadAssumedRole { resource: String },
    #[error(
        "session name {session:?} {reason}; STS session names are 2 to 64 characters from A-Z a-z 0-9 and + = , . @ _ - (expected something like arn:aws:sts::123456789012:assumed-role/my-role/my-session)"
    )]
    BadSession { session: String, reason: String },
}

/// An IAM role as aws-iam-authenticator sees it after `Canonicalize`:
/// `arn:{partition}:iam::{account}:role/{name}`, no path. Serialises as that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonicalRoleArn {
    partition: String,
    account: String,
    name: String,
}

impl CanonicalRoleArn {
    /// Builds a canonical role ARN from its parts, validating each.
    pub fn new(partition: &str, account: &str, name: &str) -> Result<Self, ArnError> {
        let text = format!("arn:{partition}:iam::{account}:role/{name}");
        let parsed = parse_role_arn(&text)?;
        if parsed.stripped_path.is_some() {
            return Err(ArnError::BadName {
                kind: "role",
                name: name.to_string(),
                reason: "contains '/'".to_string(),
            });
        }
        Ok(parsed.canonical)
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// The role name without any path.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Lower-case canonical text: the key aws-iam-authenticator stores mapRoles under.
    pub fn key(&self) -> String {
        self.to_string().to_ascii_lowercase()
    }

    /// Does `rolearn_text` (a mapRoles `rolearn` value) name this same role? Case-insensitive
    /// the way Go's `strings.EqualFold` is, and the path ignored: `role/team/name` names
    /// `role/name` because IAM role names are unique within an account whatever the path.
    /// Use this to find the entries that are about a role (to update or remove them).
    pub fn matches(&self, rolearn_text: &str) -> bool {
        let folded = go_fold(rolearn_text);
        let parts: Vec<&str> = folded.splitn(6, ':').collect();
        if parts.len() != 6 {
            return false;
        }
        let Some(resource) = parts[5].strip_prefix("role/") else {
            return false;
        };
        let name = resource.rsplit('/').next().unwrap_or(resource);
        parts[0] == "arn"
            && parts[1] == self.partition.to_ascii_lowercase()
            && parts[2] == "iam"
            && parts[3].is_empty()
            && parts[4] == self.account
            && name == self.name.to_ascii_lowercase()
    }

    /// Would aws-iam-authenticator map a session of this role to an entry whose `rolearn` is
    /// `rolearn_text`? Exactly `strings.EqualFold(rolearn, canonical)`: an entry that keeps
    /// the role's path, or has stray spaces inside quotes, never matches.
    pub fn authenticator_matches(&self, rolearn_text: &str) -> bool {
        go_equal_fold(rolearn_text, &self.to_string())
    }
}

impl fmt::Display for CanonicalRoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:role/{}",
            self.partition, self.account, self.name
        )
    }
}

impl Serialize for CanonicalRoleArn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for CanonicalRoleArn {
    type Err = ArnError;
    fn from_str(s: &str) -> Result<Self, ArnError> {
        parse_role_arn(s).map(|input| input.canonical)
    }
}

/// A role ARN as the user typed it, and what we made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleArnInput {
    pub canonical: CanonicalRoleArn,
    /// The path that was removed, slashes included, e.g. `/team/ops/`.
    pub stripped_path: Option<String>,
    /// Set when the input was an STS assumed-role ARN; the session name it carried.
    pub assumed_role_session: Option<String>,
    pub original: String,
}

/// Parses a role ARN (`arn:P:iam::ACCT:role/[path/]name`) or an assumed-role session ARN
/// (`arn:P:sts::ACCT:assumed-role/name/session`) into the canonical role.
pub fn parse_role_arn(s: &str) -> Result<RoleArnInput, ArnError> {
    match parse_principal_arn(s)? {
        PrincipalArn::Role { role, path } => Ok(RoleArnInput {
            canonical: role,
            stripped_path: path,
            assumed_role_session: None,
            original: s.to_string(),
        }),
        PrincipalArn::AssumedRole { role, session } => Ok(RoleArnInput {
            canonical: role,
            stripped_path: None,
            assumed_role_session: Some(session),
            original: s.to_string(),
        }),
        PrincipalArn::User(_) => Err(ArnError::WrongResourceType {
            found: "IAM user (:user/)".to_string(),
            wanted: "give an IAM role ARN (:role/); users belong in mapUsers",
            example: ROLE_EXAMPLE,
        }),
    }
}

/// An IAM user: `arn:P:iam::ACCT:user/[path/]name`. The path is part of its identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IamUserArn {
    pub partition: String,
    pub account: String,
    /// `/` when the user has no path, else `/a/b/`.
    pub path: String,
    pub name: String,
}

impl fmt::Display for IamUserArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:user{}{}",
            self.partition, self.account, self.path, self.name
        )
    }
}

/// Any principal an aws-auth entry can be about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PrincipalArn {
    Role {
        role: CanonicalRoleArn,
        path: Option<String>,
    },
    AssumedRole {
        role: CanonicalRoleArn,
        session: String,
    },
    User(IamUserArn),
}

impl PrincipalArn {
    /// The ARN aws-iam-authenticator compares mapRoles / mapUsers entries against.
    pub fn authenticator_arn(&self) -> String {
        match self {
            PrincipalArn::Role { role, .. } | PrincipalArn::AssumedRole { role, .. } => {
                role.to_string()
            }
            PrincipalArn::User(user) => user.to_string(),
        }
    }

    pub fn account(&self) -> &str {
        match self {
            PrincipalArn::Role { role, .. } | PrincipalArn::AssumedRole { role, .. } => {
                role.account()
            }
            PrincipalArn::User(user) => &user.account,
        }
    }
}

/// Parses an IAM user, IAM role or STS assumed-role ARN.
pub fn parse_principal_arn(s: &str) -> Result<PrincipalArn, ArnError> {
    if s.is_empty() {
        return Err(ArnError::Empty);
    }
    check_characters(s)?;
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    if parts[0] != "arn" {
        return Err(ArnError::NotAnArn {
            text: s.to_string(),
        });
    }
    if parts.len() != 6 {
        return Err(ArnError::WrongShape { found: parts.len() });
    }
    let (partition, service, region, account, resource) =
        (parts[1], parts[2], parts[3], parts[4], parts[5]);
    if !PARTITIONS.contains(&partition) {
        return Err(ArnError::UnknownPartition {
            partition: partition.to_string(),
        });
    }
    if service != "iam" && service != "sts" {
        return Err(ArnError::WrongService {
            service: service.to_string(),
        });
    }
    if !region.is_empty() {
        return Err(ArnError::UnexpectedRegion {
            region: region.to_string(),
        });
    }
    check_account(account)?;
    let (kind, rest) = resource.split_once('/').unwrap_or((resource, ""));
    match (service, kind) {
        ("iam", "role") => {
            let (path, name) = split_path(rest, "role")?;
            let role = CanonicalRoleArn {
                partition: partition.to_string(),
                account: account.to_string(),
                name,
            };
            Ok(PrincipalArn::Role { role, path })
        }
        ("iam", "user") => {
            let (path, name) = split_path(rest, "user")?;
            Ok(PrincipalArn::User(IamUserArn {
                partition: partition.to_string(),
                account: account.to_string(),
                path: path.unwrap_or_else(|| "/".to_string()),
                name,
            }))
        }
        ("sts", "assumed-role") => {
            let segments: Vec<&str> = rest.split('/').collect();
            if segments.len() != 2 {
                return Err(ArnError::BadAssumedRole {
                    resource: resource.to_string(),
                });
            }
            check_name(segments[0], "role")?;
            check_session(segments[1])?;
            let role = CanonicalRoleArn {
                partition: partition.to_string(),
                account: account.to_string(),
                name: segments[0].to_string(),
            };
            Ok(PrincipalArn::AssumedRole {
                role,
                session: segments[1].to_string(),
            })
        }
        _ => Err(ArnError::WrongResourceType {
            found: format!("{service} {kind:?}"),
            wanted: "use an IAM role (iam ... :role/NAME), an IAM user (iam ... :user/NAME) or an STS assumed-role session",
            example: PRINCIPAL_EXAMPLE,
        }),
    }
}

fn check_characters(s: &str) -> Result<(), ArnError> {
    for (index, character) in s.chars().enumerate() {
        let position = index + 1;
        let what = match character {
            '\n' => Some("a line break (\\n)".to_string()),
            '\r' => Some("a carriage return (\\r)".to_string()),
            '\t' => Some("a tab".to_string()),
            ' ' => Some("a space".to_string()),
            c if c.is_control() => Some(format!("the control character U+{:04X}", c as u32)),
            c if c.is_whitespace() => Some(format!("the whitespace character U+{:04X}", c as u32)),
            _ => None,
        };
        if let Some(what) = what {
            return Err(ArnError::ForbiddenCharacter {
                position,
                character,
                what,
            });
        }
        if !character.is_ascii() {
            return Err(ArnError::NonAscii {
                position,
                character,
            });
        }
    }
    Ok(())
}

fn check_account(account: &str) -> Result<(), ArnError> {
    let reason = if account.is_empty() {
        Some("is empty".to_string())
    } else if !account.bytes().all(|b| b.is_ascii_digit()) {
        Some("contains something other than digits".to_string())
    } else if account.len() != 12 {
        Some(format!("has {} digits", account.len()))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ArnError::BadAccount {
            account: account.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Splits `[path/]name` (what follows `role/` or `user/`) into the path, slashes included,
/// and the name.
fn split_path(rest: &str, kind: &'static str) -> Result<(Option<String>, String), ArnError> {
    let (middle, name) = match rest.rsplit_once('/') {
        Some((middle, name)) => (Some(middle), name),
        None => (None, rest),
    };
    check_name(name, kind)?;
    let path = match middle {
        None => None,
        Some(middle) => {
            let path = format!("/{middle}/");
            let reason = if middle.is_empty() || middle.split('/').any(str::is_empty) {
                Some("has an empty segment (two slashes in a row)")
            } else if path.len() > MAX_PATH_LEN {
                Some("is too long")
            } else if !middle.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                Some("contains a character outside printable ASCII")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(ArnError::BadPath {
                    path,
                    reason: reason.to_string(),
                });
            }
            Some(path)
        }
    };
    Ok((path, name.to_string()))
}

fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

fn check_name(name: &str, kind: &'static str) -> Result<(), ArnError> {
    let reason = if name.is_empty() {
        Some("is empty".to_string())
    } else if name.len() > MAX_NAME_LEN {
        Some(format!("is {} characters long", name.len()))
    } else {
        name.chars()
            .find(|c| !is_iam_name_char(*c))
            .map(|bad| format!("contains {bad:?}"))
    };
    match reason {
        Some(reason) => Err(ArnError::BadName {
            kind,
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

fn check_session(session: &str) -> Result<(), ArnError> {
    let reason = if session.len() < 2 {
        Some("is shorter than 2 characters".to_string())
    } else if session.len() > 64 {
        Some(format!("is {} characters long", session.len()))
    } else {
        session
            .chars()
            .find(|c| !is_iam_name_char(*c))
            .map(|bad| format!("contains {bad:?}"))
    };
    match reason {
        Some(reason) => Err(ArnError::BadSession {
            session: session.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// One representative per Go `unicode.SimpleFold` orbit, for the orbits that matter when one
/// side is ASCII: KELVIN SIGN folds with `k`, LATIN SMALL LETTER LONG S with `s`.
fn go_fold_char(c: char) -> char {
    match c {
        '\u{212A}' => 'k',
        '\u{017F}' => 's',
        c if c.is_ascii() => c.to_ascii_lowercase(),
        c => {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        }
    }
}

/// The text folded the way Go's `strings.EqualFold` compares it.
pub fn go_fold(text: &str) -> String {
    text.chars().map(go_fold_char).collect()
}

/// Go's `strings.EqualFold` (Unicode simple case folding), for the cases aws-auth meets.
pub fn go_equal_fold(a: &str, b: &str) -> bool {
    a.chars().map(go_fold_char).eq(b.chars().map(go_fold_char))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_with_path_is_canonicalised_to_name() {
        let input = parse_role_arn("arn:aws:iam::123456789012:role/team/ops/deployer").unwrap();
        assert_eq!(
            input.canonical.to_string(),
            "arn:aws:iam::123456789012:role/deployer"
        );
        assert_eq!(input.canonical.name(), "deployer");
        assert_eq!(input.stripped_path.as_deref(), Some("/team/ops/"));
        assert_eq!(input.assumed_role_session, None);
    }

    #[test]
    fn assumed_role_becomes_iam_role() {
        let input =
            parse_role_arn("arn:aws-cn:sts::123456789012:assumed-role/Admin/alice@example.com")
                .unwrap();
        assert_eq!(
            input.canonical.to_string(),
            "arn:aws-cn:iam::123456789012:role/Admin"
        );
        assert_eq!(
            input.assumed_role_session.as_deref(),
            Some("alice@example.com")
        );
    }

    #[test]
    fn rejects_with_specific_errors() {
        type Check = fn(&ArnError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, ArnError::Empty)),
            ("arn:aws:iam::12345678901:role/x", |e| {
                matches!(e, ArnError::BadAccount { .. })
            }),
            ("arn:aws:iam::1234567890123:role/x", |e| {
                matches!(e, ArnError::BadAccount { .. })
            }),
            ("arn:aws:iam::12345678901a:role/x", |e| {
                matches!(e, ArnError::BadAccount { .. })
            }),
            ("arn:amazon:iam::123456789012:role/x", |e| {
                matches!(e, ArnError::UnknownPartition { .. })
            }),
            ("arn:aws:iam::123456789012:user/x", |e| {
                matches!(e, ArnError::WrongResourceType { .. })
            }),
            ("arn:aws:iam::123456789012:role/x\n", |e| {
                matches!(e, ArnError::ForbiddenCharacter { .. })
            }),
            (" arn:aws:iam::123456789012:role/x", |e| {
                matches!(e, ArnError::ForbiddenCharacter { .. })
            }),
            ("arn:aws:iam::123456789012:role/x\u{7f}", |e| {
                matches!(e, ArnError::ForbiddenCharacter { .. })
            }),
            ("arn:aws:iam::123456789012:role/x\u{a0}", |e| {
                matches!(e, ArnError::ForbiddenCharacter { .. })
            }),
            ("arn:aws:iam::123456789012:role/\u{430}dmin", |e| {
                matches!(e, ArnError::NonAscii { .. })
            }),
            ("arn:aws:iam:\u{ff1a}123456789012:role/x", |e| {
                matches!(e, ArnError::NonAscii { .. })
            }),
            ("arn:aws:iam::123456789012:role/", |e| {
                matches!(e, ArnError::BadName { .. })
            }),
            ("arn:aws:iam::123456789012:role/a*b", |e| {
                matches!(e, ArnError::BadName { .. })
            }),
            ("arn:aws:iam::123456789012:role/a//b", |e| {
                matches!(e, ArnError::BadPath { .. })
            }),
            ("arn:aws:s3::123456789012:role/x", |e| {
                matches!(e, ArnError::WrongService { .. })
            }),
            ("arn:aws:iam:us-east-1:123456789012:role/x", |e| {
                matches!(e, ArnError::UnexpectedRegion { .. })
            }),
            ("arn:aws:iam::123456789012", |e| {
                matches!(e, ArnError::WrongShape { .. })
            }),
            ("ARN:aws:iam::123456789012:role/x", |e| {
                matches!(e, ArnError::NotAnArn { .. })
            }),
            ("arn:aws:sts::123456789012:assumed-role/x", |e| {
                matches!(e, ArnError::BadAssumedRole { .. })
            }),
            ("arn:aws:sts::123456789012:assumed-role/x/s", |e| {
                matches!(e, ArnError::BadSession { .. })
            }),
        ];
        for (text, check) in cases {
            let err = parse_role_arn(text).expect_err(text);
            assert!(check(&err), "{text:?} gave {err:?}");
            let message = err.to_string();
            assert!(
                message.contains("arn:"),
                "message shows a valid ARN: {message}"
            );
        }
        let long = format!("arn:aws:iam::123456789012:role/{}", "a".repeat(65));
        assert!(matches!(
            parse_role_arn(&long),
            Err(ArnError::BadName { .. })
        ));
        let ok = format!("arn:aws:iam::123456789012:role/{}", "a".repeat(64));
        assert!(parse_role_arn(&ok).is_ok());
    }

    #[test]
    fn non_ascii_message_names_the_character() {
        let err = parse_role_arn("arn:aws:iam::123456789012:role/\u{430}dmin").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("U+0430"), "{message}");
        assert!(message.contains("character 32"), "{message}");
    }

    #[test]
    fn matching_is_path_less_and_case_insensitive() {
        let role: CanonicalRoleArn = "arn:aws:iam::123456789012:role/Deployer".parse().unwrap();
        assert!(role.matches("arn:aws:iam::123456789012:role/deployer"));
        assert!(role.matches("ARN:AWS:IAM::123456789012:ROLE/team/DEPLOYER"));
        assert!(!role.matches("arn:aws:iam::123456789013:role/deployer"));
        assert!(!role.matches("arn:aws:iam::123456789012:role/deployer2"));
        assert!(!role.matches("arn:aws:iam::123456789012:user/deployer"));
        assert!(role.authenticator_matches("arn:aws:iam::123456789012:role/DEPLOYER"));
        assert!(!role.authenticator_matches("arn:aws:iam::123456789012:role/team/deployer"));
        assert_eq!(role.key(), "arn:aws:iam::123456789012:role/deployer");
    }

    #[test]
    fn go_equal_fold_knows_kelvin_and_long_s() {
        assert!(go_equal_fold("\u{212A}ube", "kube"));
        assert!(go_equal_fold("\u{17F}re", "SRE"));
        assert!(!go_equal_fold("\u{131}", "i"));
        let role: CanonicalRoleArn = "arn:aws:iam::123456789012:role/kube-admin".parse().unwrap();
        assert!(role.authenticator_matches("arn:aws:iam::123456789012:role/\u{212A}ube-admin"));
    }

    #[test]
    fn principal_kinds() {
        let user = parse_principal_arn("arn:aws:iam::123456789012:user/dev/alice").unwrap();
        assert_eq!(
            user.authenticator_arn(),
            "arn:aws:iam::123456789012:user/dev/alice"
        );
        let user = parse_principal_arn("arn:aws:iam::123456789012:user/bob").unwrap();
        assert_eq!(
            user.authenticator_arn(),
            "arn:aws:iam::123456789012:user/bob"
        );
        let role = parse_principal_arn("arn:aws:iam::123456789012:role/a/b").unwrap();
        assert_eq!(role.authenticator_arn(), "arn:aws:iam::123456789012:role/b");
        assert!(parse_principal_arn("arn:aws:iam::123456789012:root").is_err());
        assert!(parse_principal_arn("arn:aws:sts::123456789012:federated-user/x").is_err());
    }

    #[test]
    fn serialises_as_the_arn_text() {
        let role: CanonicalRoleArn = "arn:aws:iam::123456789012:role/a/b".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&role).unwrap(),
            "\"arn:aws:iam::123456789012:role/b\""
        );
    }

    #[test]
    fn new_validates() {
        assert!(CanonicalRoleArn::new("aws", "123456789012", "x").is_ok());
        assert!(CanonicalRoleArn::new("aws", "123456789012", "a/b").is_err());
        assert!(CanonicalRoleArn::new("aws", "1234", "x").is_err());
    }
}
