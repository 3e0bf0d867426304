//! `parse_principal_arn` and `parse_role_arn` on arbitrary text: never panic; what they accept
//! prints back as the input, and the canonical role is a fixed point without a path.
#![no_main]

use chronom_fuzz::arn::{parse_principal_arn, parse_role_arn, ArnError, CanonicalRoleArn, PrincipalArn};
use libfuzzer_sys::fuzz_target;

// A `&str` input: libFuzzer prints a failing one as a Rust string literal (bytes that are
// not UTF-8 end the text).
fuzz_target!(|s: &str| {
    let principal = parse_principal_arn(s);
    let role = parse_role_arn(s);
    match &principal {
        Ok(p) => check_principal(s, p),
        Err(e) => check_error(s, e),
    }
    match (&principal, &role) {
        (Ok(PrincipalArn::Role { role: r, path }), Ok(input)) => {
            assert_eq!(&input.canonical, r);
            assert_eq!(&input.stripped_path, path);
            assert_eq!(input.assumed_role_session, None);
            assert_eq!(input.original, s);
        }
        (Ok(PrincipalArn::AssumedRole { role: r, session }), Ok(input)) => {
            assert_eq!(&input.canonical, r);
            assert_eq!(input.stripped_path, None);
            assert_eq!(input.assumed_role_session.as_ref(), Some(session));
            assert_eq!(input.original, s);
        }
        (Ok(PrincipalArn::User(_)), Err(ArnError::WrongResourceType { .. })) => {}
        (Err(a), Err(b)) => assert_eq!(a, b, "parse_role_arn and parse_principal_arn refuse {s:?} differently"),
        (p, r) => panic!("parse_principal_arn and parse_role_arn disagree on {s:?}: {p:?} vs {r:?}"),
    }
    if let Ok(input) = &role {
        check_canonical(&input.canonical);
    }
});

fn check_principal(s: &str, principal: &PrincipalArn) {
    match principal {
        PrincipalArn::Role { role, path } => {
            // The input is the canonical ARN with the path put back, byte for byte.
            let with_path = format!(
                "arn:{}:iam::{}:role{}{}",
                role.partition(),
                role.account(),
                path.as_deref().unwrap_or("/"),
                role.name()
            );
            assert_eq!(with_path, s, "the parts of a role ARN do not print back as the input");
            if let Some(path) = path {
                assert!(path.len() >= 3 && path.starts_with('/') && path.ends_with('/'), "path {path:?}");
                assert!(!path.contains("//"), "path {path:?} has an empty segment");
            }
            // Path-less comparison finds the entry as written; the authenticator's exact
            // comparison only when there is no path.
            assert!(role.matches(s), "{role} does not match its own input {s:?}");
            assert_eq!(role.authenticator_matches(s), path.is_none(), "{role} vs {s:?}");
            check_canonical(role);
        }
        PrincipalArn::AssumedRole { role, session } => {
            let printed = format!("arn:{}:sts::{}:assumed-role/{}/{}", role.partition(), role.account(), role.name(), session);
            assert_eq!(printed, s, "the parts of an assumed-role ARN do not print back as the input");
            assert!(!role.matches(s), "an sts ARN is not a mapRoles rolearn");
            check_canonical(role);
        }
        PrincipalArn::User(user) => {
            assert_eq!(user.to_string(), s, "a user ARN does not print back as the input");
            assert!(user.path.starts_with('/') && user.path.ends_with('/'), "user path {:?}", user.path);
            match parse_principal_arn(&user.to_string()) {
                Ok(PrincipalArn::User(again)) => assert_eq!(&again, user),
                other => panic!("{user} re-parses as {other:?}"),
            }
        }
    }
    assert_eq!(principal.authenticator_arn(), match principal {
        PrincipalArn::Role { role, .. } | PrincipalArn::AssumedRole { role, .. } => role.to_string(),
        PrincipalArn::User(user) => user.to_string(),
    });
}

/// The canonical role: path-less, ASCII, a fixed point of parsing, and buildable from its parts.
fn check_canonical(role: &CanonicalRoleArn) {
    let text = role.to_string();
    assert!(text.is_ascii(), "{text:?}");
    let resource = text.splitn(6, ':').nth(5).expect("six parts");
    let name = resource.strip_prefix("role/").expect("an iam role resource");
    assert!(!name.contains('/'), "the canonical ARN {text:?} keeps a path");
    assert_eq!(name, role.name());

    let again = parse_role_arn(&text).unwrap_or_else(|e| panic!("the canonical ARN {text:?} does not re-parse: {e}"));
    assert_eq!(&again.canonical, role, "canonicalising {text:?} is not idempotent");
    assert_eq!(again.stripped_path, None);
    assert_eq!(again.assumed_role_session, None);
    assert_eq!(again.canonical.to_string(), text, "to_string does not round-trip");
    assert_eq!(text.parse::<CanonicalRoleArn>().as_ref(), Ok(role));
    assert_eq!(CanonicalRoleArn::new(role.partition(), role.account(), role.name()).as_ref(), Ok(role));

    assert_eq!(role.key(), text.to_ascii_lowercase());
    assert!(role.matches(&text) && role.authenticator_matches(&text));
    assert!(role.matches(&role.key()) && role.authenticator_matches(&role.key()));
    assert!(role.authenticator_matches(&text.to_ascii_uppercase()));
}

fn check_error(s: &str, error: &ArnError) {
    let message = error.to_string();
    assert!(message.contains("arn:"), "the message for {s:?} shows no valid ARN: {message}");
    match error {
        ArnError::Empty => assert!(s.is_empty()),
        ArnError::ForbiddenCharacter { position, character, .. } | ArnError::NonAscii { position, character } => {
            assert_eq!(s.chars().nth(position - 1), Some(*character), "position {position} in {s:?}");
        }
        _ => {}
    }
}
