//! `parse_map_roles`, `parse_map_users` and `parse_map_accounts` on arbitrary text (up to the
//! 64 KiB scripts/fuzz allows): never panic, never hang (libFuzzer's -timeout), agree on
//! what the list is, and place every entry inside the text where its line and column say.
#![no_main]

use std::ops::Range;

use chronom_fuzz::awsauth::{parse_map_accounts, parse_map_roles, parse_map_users, ParseError};
use libfuzzer_sys::fuzz_target;

// A `&str` input: libFuzzer prints a failing one as a Rust string literal (bytes that are
// not UTF-8 end the text).
fuzz_target!(|text: &str| {
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
