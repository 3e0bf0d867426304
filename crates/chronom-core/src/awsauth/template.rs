//! Username and group templates of mapRoles entries. aws-iam-authenticator
//! (`pkg/server/server.go`, `renderTemplate`) replaces, in this order:
//! `{{EC2PrivateDNSName}}` (an EC2 API call; the session name must be an instance ID),
//! `{{AccountID}}`, `{{SessionName}}` (the session name with `@` turned into `-`),
//! `{{SessionNameRaw}}` and `{{AccessKeyID}}`. Anything else in braces stays literal there;
//! we refuse it when writing, because it is almost always a typo.

use std::fmt;

use serde::Serialize;

use crate::arn::CanonicalRoleArn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Placeholder {
    AccountId,
    SessionName,
    SessionNameRaw,
    Ec2PrivateDnsName,
    AccessKeyId,
}

impl Placeholder {
    pub const ALL: [Placeholder; 5] = [
        Placeholder::AccountId,
        Placeholder::SessionName,
        Placeholder::SessionNameRaw,
        Placeholder::Ec2PrivateDnsName,
        Placeholder::AccessKeyId,
    ];

    /// The name between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::AccountId => "AccountID",
            Placeholder::SessionName => "SessionName",
            Placeholder::SessionNameRaw => "SessionNameRaw",
            Placeholder::Ec2PrivateDnsName => "EC2PrivateDNSName",
            Placeholder::AccessKeyId => "AccessKeyID",
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            Placeholder::AccountId => "the caller's 12-digit AWS account ID",
            Placeholder::SessionName => "the role session name, with '@' replaced by '-'",
            Placeholder::SessionNameRaw => "the role session name as is",
            Placeholder::Ec2PrivateDnsName => {
                "the private DNS name of the EC2 instance whose ID is the session name"
            }
            Placeholder::AccessKeyId => "the access key ID that signed the token",
        }
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{{}}}}}", self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TemplatePart {
    Text(String),
    Placeholder(Placeholder),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the username is empty; Kubernetes needs a username (the role name is a good default)")]
    Empty,
    #[error(
        "unknown placeholder {{{{{name}}}}} at character {position}; known ones are {{{{AccountID}}}}, {{{{SessionName}}}}, {{{{SessionNameRaw}}}}, {{{{EC2PrivateDNSName}}}} and {{{{AccessKeyID}}}} (names are case-sensitive)"
    )]
    UnknownPlaceholder { name: String, position: usize },
    #[error(
        "\"{{{{\" at character {position} is never closed with \"}}}}\"; write a placeholder such as {{{{SessionName}}}}"
    )]
    Unclosed { position: usize },
}

/// Splits a template into text and placeholders. `{{X}}` with an unknown X is an error.
pub fn parse_template(template: &str) -> Result<Vec<TemplatePart>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        let position = template[..offset + open].chars().count() + 1;
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or(TemplateError::Unclosed { position })?;
        let name = &after[..close];
        let placeholder = Placeholder::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| TemplateError::UnknownPlaceholder {
                name: name.to_string(),
                position,
            })?;
        if open > 0 {
            parts.push(TemplatePart::Text(rest[..open].to_string()));
        }
        parts.push(TemplatePart::Placeholder(placeholder));
        let consumed = open + 2 + close + 2;
        rest = &rest[consumed..];
        offset += consumed;
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_string()));
    }
    Ok(parts)
}

/// A username template we are willing to write: not empty, only known placeholders.
pub fn validate_username(template: &str) -> Result<(), TemplateError> {
    if template.is_empty() {
        return Err(TemplateError::Empty);
    }
    parse_template(template).map(|_| ())
}

/// The username chronom writes when none is given: the role name.
pub fn default_username(role: &CanonicalRoleArn) -> String {
    role.name().to_string()
}

/// What the authenticator knows about a caller when it renders a template.
#[derive(Debug, Clone, Copy)]
pub struct SessionFacts<'a> {
    pub account_id: &'a str,
    pub session_name: &'a str,
    pub access_key_id: &'a str,
    /// `None` when the caller is not an EC2 instance (rendering then fails, as it does there).
    pub ec2_private_dns_name: Option<&'a str>,
}

/// Renders a template the way aws-iam-authenticator does; `None` where it would fail.
pub fn render_template(template: &str, facts: &SessionFacts<'_>) -> Option<String> {
    let mut out = template.to_string();
    if out.contains("{{EC2PrivateDNSName}}") {
        out = out.replace("{{EC2PrivateDNSName}}", facts.ec2_private_dns_name?);
    }
    out = out.replace("{{AccountID}}", facts.account_id);
    out = out.replace("{{SessionName}}", &facts.session_name.replace('@', "-"));
    out = out.replace("{{SessionNameRaw}}", facts.session_name);
    out = out.replace("{{AccessKeyID}}", facts.access_key_id);
    Some(out)
}

/// A concrete username for a template, so the authorizer can be asked about it. The
/// placeholder values cannot collide with real identities' rights in a way that matters:
/// RBAC for this grant binds the group, not the user.
pub fn sample_username(template: &str, account: &str) -> String {
    let facts = SessionFacts {
        account_id: account,
        session_name: "chronom-verify",
        access_key_id: "AKIACHRONOMVERIFY",
        ec2_private_dns_name: Some("ip-10-0-0-1.ec2.internal"),
    };
    render_template(template, &facts).unwrap_or_else(|| template.to_string())
}

/// Whose session the authenticator renders a template for, as far as the caller is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session<'a> {
    /// An IAM user (mapUsers): GetCallerIdentity's UserID has no `:session` part, so
    /// `{{SessionName}}` and `{{SessionNameRaw}}` render as "" and `{{EC2PrivateDNSName}}` fails.
    None,
    /// Any session of a role (a mapRoles entry, or a role ARN given to lookup).
    Any,
    /// This session of a role (an assumed-role ARN names it).
    Named(&'a str),
}

/// What is known about the callers a mapping lets in when its username is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller<'a> {
    /// The mapped principal's account: GetCallerIdentity's `Account`, which is the account of
    /// the role or user the entry names. `None` when the entry does not say.
    pub account_id: Option<&'a str>,
    pub session: Session<'a>,
}

/// A template read as aws-iam-authenticator renders it: only the five exact `{{Name}}` strings
/// are replaced (`strings.ReplaceAll`), anything else, unknown `{{x}}` included, stays literal.
fn lenient_parts(template: &str) -> Vec<TemplatePart> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        let hit = Placeholder::ALL.into_iter().find(|p| {
            rest.starts_with("{{")
                && rest[2..].starts_with(p.name())
                && rest[2 + p.name().len()..].starts_with("}}")
        });
        match hit {
            Some(p) => {
                if !text.is_empty() {
                    parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                }
                parts.push(TemplatePart::Placeholder(p));
                rest = &rest[p.name().len() + 4..];
            }
            None => {
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !text.is_empty() {
        parts.push(TemplatePart::Text(text));
    }
    parts
}

/// The characters a placeholder's value can hold, as the authenticator can render it.
/// - `{{AccountID}}`: GetCallerIdentity's `Account`, 12 digits (used only when the entry does
///   not name the account; otherwise it is that account).
/// - `{{SessionNameRaw}}`: the part after `:` of GetCallerIdentity's `UserId`, which is the
///   role session name; STS allows `[\w+=,.@-]` there (AssumeRole, AssumeRoleWithSAML and
///   AssumeRoleWithWebIdentity's RoleSessionName). No `:`: the authenticator splits `UserId` on
///   it and refuses more than two parts.
/// - `{{SessionName}}`: the same with `@` replaced by `-`, so never an `@`.
/// - `{{AccessKeyID}}`: the signing key of the pre-signed URL (`X-Amz-Credential` up to `/`),
///   which STS accepts only for a real key: `[\w]` (STS `Credentials.AccessKeyId`).
/// - `{{EC2PrivateDNSName}}`: EC2's `PrivateDnsName` of the instance, a lowercase DNS name
///   (`ip-10-0-0-1.ec2.internal`, `i-0123456789abcdef0.us-west-2.compute.internal`).
fn allowed_char(p: Placeholder, c: char) -> bool {
    let word = c.is_ascii_alphanumeric() || c == '_';
    match p {
        Placeholder::AccountId => c.is_ascii_digit(),
        Placeholder::SessionNameRaw => word || "+=,.@-".contains(c),
        Placeholder::SessionName => word || "+=,.-".contains(c),
        Placeholder::AccessKeyId => word,
        Placeholder::Ec2PrivateDnsName => {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
        }
    }
}

/// The lengths a placeholder's value can have: session names 2-64 (RoleSessionName), access
/// key IDs 16-128 (`Credentials.AccessKeyId`), an account 12 digits, a DNS name at most 253
/// and never empty (the authenticator refuses an instance without one: "failed to find node").
fn length_range(p: Placeholder) -> (usize, usize) {
    match p {
        Placeholder::AccountId => (12, 12),
        Placeholder::SessionName | Placeholder::SessionNameRaw => (2, 64),
        Placeholder::AccessKeyId => (16, 128),
        Placeholder::Ec2PrivateDnsName => (1, 253),
    }
}

/// Values bound so far: one placeholder renders to the same value wherever it appears, and
/// `{{SessionName}}` is `{{SessionNameRaw}}` with `@` turned into `-`.
#[derive(Default, Clone)]
struct Bound {
    account: Option<String>,
    session: Option<String>,
    session_raw: Option<String>,
    access_key: Option<String>,
    dns: Option<String>,
}

impl Bound {
    fn slot(&mut self, p: Placeholder) -> &mut Option<String> {
        match p {
            Placeholder::AccountId => &mut self.account,
            Placeholder::SessionName => &mut self.session,
            Placeholder::SessionNameRaw => &mut self.session_raw,
            Placeholder::AccessKeyId => &mut self.access_key,
            Placeholder::Ec2PrivateDnsName => &mut self.dns,
        }
    }

    /// The session values agree with each other.
    fn consistent(&self) -> bool {
        match (&self.session, &self.session_raw) {
            (Some(s), Some(raw)) => *s == raw.replace('@', "-"),
            _ => true,
        }
    }
}

/// Can the authenticator render `template` as exactly `username` for some caller that fits
/// `caller`? The one answer who-can, lookup and the findings all use to tie bindings to a
/// mapping's templated username.
pub fn can_produce(template: &str, caller: &Caller<'_>, username: &str) -> bool {
    let parts = lenient_parts(template);
    let needs_instance = parts.contains(&TemplatePart::Placeholder(Placeholder::Ec2PrivateDnsName));
    let mut bound = Bound {
        account: caller.account_id.map(str::to_string),
        ..Bound::default()
    };
    match caller.session {
        Session::None => {
            if needs_instance {
                return false;
            }
            bound.session = Some(String::new());
            bound.session_raw = Some(String::new());
        }
        Session::Any => {}
        Session::Named(name) => {
            if needs_instance && !is_instance_id(name) {
                return false;
            }
            bound.session = Some(name.replace('@', "-"));
            bound.session_raw = Some(name.to_string());
        }
    }
    matches_from(&parts, username, &mut bound, needs_instance)
}

/// An EC2 instance ID as the authenticator checks it before it calls EC2
/// (`instanceIDPattern`, `^i-(\w{8}|\w{17})$` in pkg/server/server.go).
fn is_instance_id(session: &str) -> bool {
    session.strip_prefix("i-").is_some_and(|id| {
        (id.len() == 8 || id.len() == 17)
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn matches_from(
    parts: &[TemplatePart],
    rest: &str,
    bound: &mut Bound,
    needs_instance: bool,
) -> bool {
    let Some((first, others)) = parts.split_first() else {
        return rest.is_empty()
            && bound.consistent()
            && (!needs_instance
                || [&bound.session_raw, &bound.session]
                    .into_iter()
                    .flatten()
                    .all(|s| is_instance_id(s)));
    };
    let p = match first {
        TemplatePart::Text(t) => {
            return rest
                .strip_prefix(t.as_str())
                .is_some_and(|r| matches_from(others, r, bound, needs_instance));
        }
        TemplatePart::Placeholder(p) => *p,
    };
    if let Some(value) = bound.slot(p).clone() {
        return rest
            .strip_prefix(value.as_str())
            .is_some_and(|r| matches_from(others, r, bound, needs_instance));
    }
    let (min, max) = length_range(p);
    let mut len = 0;
    for (at, c) in rest.char_indices() {
        if len == max || !allowed_char(p, c) {
            break;
        }
        len += 1;
        let end = at + c.len_utf8();
        if len < min {
            continue;
        }
        *bound.slot(p) = Some(rest[..end].to_string());
        let ok = bound.consistent() && matches_from(others, &rest[end..], bound, needs_instance);
        *bound.slot(p) = None;
        if ok {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_placeholders() {
        let parts = parse_template("ops:{{SessionName}}@{{AccountID}}").unwrap();
        assert_eq!(
            parts,
            vec![
                TemplatePart::Text("ops:".into()),
                TemplatePart::Placeholder(Placeholder::SessionName),
                TemplatePart::Text("@".into()),
                TemplatePart::Placeholder(Placeholder::AccountId),
            ]
        );
        for p in Placeholder::ALL {
            assert!(validate_username(&p.to_string()).is_ok());
        }
    }

    #[test]
    fn refuses_unknown_and_unclosed() {
        assert_eq!(
            validate_username("x-{{sessionname}}"),
            Err(TemplateError::UnknownPlaceholder {
                name: "sessionname".into(),
                position: 3
            })
        );
        assert_eq!(
            validate_username("x-{{SessionName"),
            Err(TemplateError::Unclosed { position: 3 })
        );
        assert_eq!(validate_username(""), Err(TemplateError::Empty));
        assert!(validate_username("a}}b{c}").is_ok());
        let message = validate_username("{{Foo}}").unwrap_err().to_string();
        assert!(
            message.contains("{{Foo}}") && message.contains("{{SessionName}}"),
            "{message}"
        );
    }

    #[test]
    fn renders_like_the_authenticator() {
        let facts = SessionFacts {
            account_id: "111122223333",
            session_name: "alice@example.com",
            access_key_id: "ASIAEXAMPLE",
            ec2_private_dns_name: None,
        };
        assert_eq!(
            render_template(
                "{{SessionName}}/{{SessionNameRaw}}/{{AccountID}}/{{AccessKeyID}}",
                &facts
            )
            .as_deref(),
            Some("alice-example.com/alice@example.com/111122223333/ASIAEXAMPLE")
        );
        assert_eq!(
            render_template("system:node:{{EC2PrivateDNSName}}", &facts),
            None
        );
    }

    #[test]
    fn default_username_is_the_role_name_without_path() {
        let role =
            crate::arn::parse_role_arn("arn:aws:iam::111122223333:role/team/ops/reader").unwrap();
        assert_eq!(default_username(&role.canonical), "reader");
    }

    #[test]
    fn templates_become_concrete() {
        assert_eq!(
            sample_username("chronom:{{SessionName}}@{{AccountID}}", "111122223333"),
            "chronom:chronom-verify@111122223333"
        );
        assert!(
            !sample_username(
                "{{EC2PrivateDNSName}}{{AccessKeyID}}{{SessionNameRaw}}",
                "1"
            )
            .contains("{{")
        );
    }

    const ROLE: Caller<'static> = Caller {
        account_id: Some("111122223333"),
        session: Session::Any,
    };

    /// What each placeholder can render as, per aws-iam-authenticator and STS (issue 14).
    #[test]
    fn each_placeholder_renders_only_what_the_authenticator_can() {
        let yes = |t: &str, u: &str| assert!(can_produce(t, &ROLE, u), "{t} should give {u}");
        let no = |t: &str, u: &str| assert!(!can_produce(t, &ROLE, u), "{t} cannot give {u}");
        // Session names: [\w+=,.@-]{2,64}; SessionName has '-' for '@'; never ':'.
        yes("dev:{{SessionName}}", "dev:alice");
        yes("dev:{{SessionName}}", "dev:a_b+c=d,e.f-g");
        no("dev:{{SessionName}}", "dev:alice:admin");
        no("dev:{{SessionName}}", "dev:alice@example.com");
        no("dev:{{SessionName}}", "dev:a");
        no("dev:{{SessionName}}", "dev:alice smith");
        no("dev:{{SessionName}}", "dev:ålice");
        yes("dev:{{SessionName}}", &format!("dev:{}", "a".repeat(64)));
        no("dev:{{SessionName}}", &format!("dev:{}", "a".repeat(65)));
        yes("dev:{{SessionNameRaw}}", "dev:alice@example.com");
        no("dev:{{SessionNameRaw}}", "dev:alice:admin");
        // Both name the same session.
        yes("{{SessionName}}/{{SessionNameRaw}}", "a-b/a@b");
        yes("{{SessionName}}/{{SessionNameRaw}}", "a-b/a-b");
        no("{{SessionName}}/{{SessionNameRaw}}", "a-b/a@c");
        no("{{SessionName}}/{{SessionName}}", "alice/bob");
        // The account is the mapped principal's; unknown, any 12 digits.
        yes("{{AccountID}}-{{SessionName}}", "111122223333-bob");
        no("{{AccountID}}-{{SessionName}}", "444455556666-bob");
        let anywhere = Caller {
            account_id: None,
            session: Session::Any,
        };
        assert!(can_produce("{{AccountID}}", &anywhere, "444455556666"));
        assert!(!can_produce("{{AccountID}}", &anywhere, "44445555666"));
        assert!(!can_produce("{{AccountID}}", &anywhere, "44445555666x"));
        // Access key IDs: [\w]{16,128}.
        yes("k:{{AccessKeyID}}", "k:ASIAEXAMPLEEXAMPLE1");
        no("k:{{AccessKeyID}}", "k:ASIASHORT");
        no("k:{{AccessKeyID}}", "k:ASIA-EXAMPLE-EXAMPLE");
        // EC2 private DNS names, only for a session named after an instance ID.
        yes(
            "system:node:{{EC2PrivateDNSName}}",
            "system:node:ip-10-0-0-1.ec2.internal",
        );
        no(
            "system:node:{{EC2PrivateDNSName}}",
            "system:node:IP-10-0-0-1.EC2.INTERNAL",
        );
        no("system:node:{{EC2PrivateDNSName}}", "system:node:");
        yes(
            "{{EC2PrivateDNSName}}/{{SessionName}}",
            "ip-10-0-0-1.ec2.internal/i-0123456789abcdef0",
        );
        no(
            "{{EC2PrivateDNSName}}/{{SessionName}}",
            "ip-10-0-0-1.ec2.internal/alice",
        );
        // Unknown placeholders stay literal, as the authenticator leaves them.
        yes("dev:{{sessionname}}", "dev:{{sessionname}}");
        no("dev:{{sessionname}}", "dev:alice");
    }

    #[test]
    fn a_named_session_or_a_user_renders_one_name() {
        let session = |name| Caller {
            account_id: Some("111122223333"),
            session: Session::Named(name),
        };
        assert!(can_produce(
            "dev:{{SessionName}}",
            &session("a@b"),
            "dev:a-b"
        ));
        assert!(!can_produce(
            "dev:{{SessionName}}",
            &session("a@b"),
            "dev:a@b"
        ));
        assert!(!can_produce(
            "dev:{{SessionName}}",
            &session("alice"),
            "dev:bob"
        ));
        assert!(can_produce(
            "n:{{EC2PrivateDNSName}}",
            &session("i-0123456789abcdef0"),
            "n:ip-10-0-0-1.ec2.internal"
        ));
        assert!(!can_produce(
            "n:{{EC2PrivateDNSName}}",
            &session("alice"),
            "n:ip-10-0-0-1.ec2.internal"
        ));
        // An IAM user has no session: "" for both names, and no EC2 name at all.
        let user = Caller {
            account_id: Some("111122223333"),
            session: Session::None,
        };
        assert!(can_produce("dev:{{SessionName}}", &user, "dev:"));
        assert!(!can_produce("dev:{{SessionName}}", &user, "dev:alice"));
        assert!(!can_produce(
            "n:{{EC2PrivateDNSName}}",
            &user,
            "n:ip-10-0-0-1.ec2.internal"
        ));
    }

    /// The sample values the verify and report paths render with are values the authenticator
    /// could produce, so a binding to a sample username is reported for the mapping.
    #[test]
    fn sample_usernames_are_producible() {
        for template in [
            "dev:{{SessionName}}",
            "{{SessionNameRaw}}@{{AccountID}}",
            "k:{{AccessKeyID}}",
            "system:node:{{EC2PrivateDNSName}}",
        ] {
            let sample = sample_username(template, "111122223333");
            assert!(
                can_produce(template, &ROLE, &sample),
                "{template}: {sample}"
            );
        }
    }
}
