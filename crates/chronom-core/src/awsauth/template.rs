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
}
