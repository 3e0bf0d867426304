//! `parse_map_roles`, `parse_map_users` and `parse_map_accounts` (the strict editor's reader)
//! and `read_map_roles`, `read_map_users` and `read_map_accounts` (the lenient reader, with
//! aws-iam-authenticator's semantics) on arbitrary text (up to the 64 KiB scripts/fuzz
//! allows): never panic, never hang (libFuzzer's -timeout), agree on what the list is, and
//! place every entry inside the text where its line and column say. Where both readers read
//! a text, they must mean the same entries: the editor may only edit what it reads as the
//! authenticator does. (The lenient reader's oracle is aws-iam-authenticator itself, in
//! tests/offline/awsauth_oracle.rs; a fuzz target cannot call Go per input, see docs/fuzzing.md.)
#![no_main]

use std::ops::Range;

use chronom_fuzz::awsauth::{
    parse_map_accounts, parse_map_roles, parse_map_users, read_map_accounts, read_map_roles, read_map_users,
    ParseError,
};
use libfuzzer_sys::fuzz_target;

// A `&str` input: libFuzzer prints a failing one as a Rust string literal (bytes that are
// not UTF-8 end the text).
fuzz_target!(|text: &str| {
    check_lenient(text);
    let roles = parse_map_roles(text);
    let users = parse_map_users(text);
    let accounts = parse_map_accounts(text);
    match (&roles, &users, &accounts) {
        (Ok(roles), Ok(users), Ok(accounts)) => {
            let places = |spans: Vec<(Range<usize>, usize, usize)>| {
                check_places(text, &spans);
                spans
            };
            let r = places(roles.iter().map(|e| (e.span.clone(), e.line, e.column)).collect());
            let u = places(users.iter().map(|e| (e.span.clone(), e.line, e.column)).collect());
            let a = places(accounts.iter().map(|e| (e.span.clone(), e.line, e.column)).collect());
            assert_eq!(r, u, "mapRoles and mapUsers place the items of the same list differently");
            assert_eq!(r, a, "mapRoles and mapAccounts place the items of the same list differently");
            for entry in roles {
                assert!(entry.rolearn.is_empty() || entry.sso.is_none() || entry.is_dropped(), "rolearn and sso both kept: {entry:?}");
            }
        }
        (Err(r), Err(u), Err(a)) => {
            assert_eq!(r, u, "mapRoles and mapUsers refuse the same text differently");
            assert_eq!(r, a, "mapRoles and mapAccounts refuse the same text differently");
            check_error(text, r);
        }
        _ => panic!("the three readers disagree on whether the text is readable: {roles:?} / {users:?} / {accounts:?}"),
    }
});

/// The lenient reader: never panics, reports a failed section with a position and no entries
/// (mapAccounts may keep what go-yaml decoded before failing), places entries inside the text,
/// and means the same as the strict reader wherever both read the text.
fn check_lenient(text: &str) {
    let roles = read_map_roles(text);
    let users = read_map_users(text);
    let accounts = read_map_accounts(text);
    for error in [&roles.error, &users.error, &accounts.error].into_iter().flatten() {
        assert!(error.line >= 1 && error.column >= 1 && !error.message.is_empty(), "{error:?}");
    }
    assert!(roles.error.is_none() || roles.entries.is_empty(), "mapRoles failed but kept entries");
    assert!(users.error.is_none() || users.entries.is_empty(), "mapUsers failed but kept entries");
    let spans = roles.entries.iter().map(|e| (e.span.clone(), e.line, e.column))
        .chain(users.entries.iter().map(|e| (e.span.clone(), e.line, e.column)))
        .chain(accounts.entries.iter().map(|e| (e.span.clone(), e.line, e.column)));
    for (span, line, column) in spans {
        assert!(span.start <= span.end && span.end <= text.len(), "lenient span {span:?} outside the text");
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "lenient span {span:?} splits a character");
        assert!(line >= 1 && column >= 1);
    }
    for entry in &roles.entries {
        assert!(entry.rolearn.is_empty() || entry.sso.is_none() || entry.is_dropped(), "rolearn and sso both kept: {entry:?}");
    }
    if roles.error.is_none()
        && let Ok(strict) = parse_map_roles(text)
    {
        let meaning = |e: &chronom_fuzz::awsauth::MapRoleEntry| {
            (e.rolearn.clone(), e.username.clone(), e.groups.clone(), e.userid.clone(), e.sso.clone(), e.is_dropped())
        };
        assert_eq!(
            strict.iter().map(meaning).collect::<Vec<_>>(),
            roles.entries.iter().map(meaning).collect::<Vec<_>>(),
            "the strict editor and the lenient reader (aws-iam-authenticator's semantics) read this mapRoles differently"
        );
    }
}

/// Spans are in the text, on character boundaries, in order and disjoint; when the text has
/// only `\n` line breaks, line and column (1-based, in characters) are those of the start.
fn check_places(text: &str, spans: &[(Range<usize>, usize, usize)]) {
    let mut previous_end = 0;
    for (span, line, column) in spans {
        assert!(span.start <= span.end && span.end <= text.len(), "span {span:?} outside the text ({} bytes)", text.len());
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "span {span:?} splits a character");
        assert!(span.start >= previous_end, "span {span:?} overlaps the previous entry (ends at {previous_end})");
        previous_end = span.end;
        if !text.contains('\r') {
            assert_eq!((*line, *column), line_column(text, span.start), "line/column of span {span:?}");
        }
    }
}

fn check_error(text: &str, error: &ParseError) {
    let lines = text.split('\n').count() + text.matches('\r').count();
    assert!(error.line >= 1 && error.line <= lines.max(1) + 1, "error line {} past the text: {error}", error.line);
    assert!(error.column >= 1, "{error}");
    assert!(!error.message.is_empty());
}

fn line_column(text: &str, byte: usize) -> (usize, usize) {
    let before = &text[..byte];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..byte].chars().count() + 1)
}
