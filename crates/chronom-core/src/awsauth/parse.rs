//! Reading mapRoles, mapUsers and mapAccounts text into entries that know where they are.

use super::document::{Document, Layout, Node, read_document};
use super::entry::{self, MapAccount, MapRoleEntry, MapUserEntry, Place};
use super::parse_error::ParseError;

/// Parses the mapRoles text. Empty text, blanks, comments, `[]` and `null` hold no entries.
pub fn parse_map_roles(text: &str) -> Result<Vec<MapRoleEntry>, ParseError> {
    Ok(role_entries(text, &read_document(text)?))
}

/// The entries of an already-read mapRoles document.
pub(crate) fn role_entries(text: &str, document: &Document) -> Vec<MapRoleEntry> {
    places(text, document)
        .map(|(node, place)| entry::role_entry(text, node, place))
        .collect()
}

/// Whether the strict editor can read (and so edit) a mapRoles, mapUsers or mapAccounts text:
/// its refusal, without building the entries.
pub fn check_editable(text: &str) -> Result<(), ParseError> {
    read_document(text).map(|_| ())
}

/// Parses the mapUsers text.
pub fn parse_map_users(text: &str) -> Result<Vec<MapUserEntry>, ParseError> {
    let document = read_document(text)?;
    Ok(places(text, &document)
        .map(|(node, place)| entry::user_entry(text, node, place))
        .collect())
}

/// Parses the mapAccounts text.
pub fn parse_map_accounts(text: &str) -> Result<Vec<MapAccount>, ParseError> {
    let document = read_document(text)?;
    Ok(places(text, &document)
        .map(|(node, place)| entry::account(text, node, place))
        .collect())
}

/// Each item with its span: from the `-` for block lists, else from the item's first byte, to
/// the end of its last value, trailing blanks and line breaks left out: a `|`/`>` value's final
/// line break and an empty value's run-on over the next line's indentation depend on what
/// follows, and leaving them out keeps an untouched entry's span the same across edits.
fn places<'d>(
    text: &'d str,
    document: &'d Document,
) -> impl Iterator<Item = (&'d Node, Place)> + 'd {
    document.items.iter().enumerate().map(move |(i, node)| {
        let trimmed_end = text[..node.end]
            .trim_end_matches([' ', '\t', '\n', '\r'])
            .len();
        let place = match &document.layout {
            Layout::Block { dashes } => {
                let dash = dashes[i];
                let between = &text[dash..node.start];
                let line = node.line - between.bytes().filter(|b| *b == b'\n').count();
                let line_start = text[..dash].rfind('\n').map_or(0, |p| p + 1);
                let column = text[line_start..dash].chars().count() + 1;
                // An empty `>` value starts after its header's line break, and so after that
                // trimmed end: the span must not depend on what follows it.
                Place {
                    span: dash..dash.max(trimmed_end),
                    line,
                    column,
                }
            }
            _ => Place {
                span: node.start..node.start.max(trimmed_end),
                line: node.line,
                column: node.column,
            },
        };
        (node, place)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::awsauth::EntryNote;

    #[test]
    fn reads_a_block_document() {
        let text = "- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n  groups:\n    - g1\n    - g2\n";
        let entries = parse_map_roles(text).unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.rolearn, "arn:aws:iam::111122223333:role/a");
        assert_eq!(e.username.as_deref(), Some("a"));
        assert_eq!(e.groups, vec!["g1", "g2"]);
        assert_eq!((e.line, e.column), (1, 1));
        assert_eq!(&text[e.span.clone()], text.trim_end());
        assert!(e.notes.is_empty(), "{:?}", e.notes);
    }

    #[test]
    fn keys_match_case_insensitively_and_last_wins() {
        let text = "- RoleArn: arn:aws:iam::111122223333:role/a\n  USERNAME: first\n  userName: second\n  gRoUpS: [x]\n  Extra: {k: v}\n";
        let e = &parse_map_roles(text).unwrap()[0];
        assert_eq!(e.rolearn, "arn:aws:iam::111122223333:role/a");
        assert_eq!(e.username.as_deref(), Some("second"));
        assert_eq!(e.groups, vec!["x"]);
        assert_eq!(e.extra.len(), 1);
        assert_eq!(e.extra[0].value, "{k: v}");
        assert!(e.notes.contains(&EntryNote::DuplicateField {
            field: "username".into()
        }));
    }

    #[test]
    fn yaml11_values_are_ignored_like_the_authenticator() {
        let text = "- rolearn: arn:aws:iam::111122223333:role/a\n  username: yes\n  groups: [on, \"on\", 12]\n";
        let e = &parse_map_roles(text).unwrap()[0];
        assert_eq!(e.username, None);
        assert_eq!(e.groups, vec!["", "on", ""]);
        assert_eq!(
            e.notes
                .iter()
                .filter(|n| matches!(n, EntryNote::IgnoredValue { .. }))
                .count(),
            3
        );
    }

    #[test]
    fn sso_entries_are_kept() {
        let text = "- sso:\n    permissionSetName: ReadOnly\n    accountID: \"111122223333\"\n  username: ro\n  groups: [viewers]\n- sso: {permissionSetName: X, accountID: 111122223333}\n  username: bad\n";
        let entries = parse_map_roles(text).unwrap();
        let sso = entries[0].sso.as_ref().unwrap();
        assert_eq!(sso.permission_set_name, "ReadOnly");
        assert_eq!(sso.account_id, "111122223333");
        assert!(!entries[0].is_dropped());
        assert!(
            entries[1].is_dropped(),
            "unquoted accountID is a number: {:?}",
            entries[1].notes
        );
    }

    /// A random-seed run of awsauth_props found this entry: go-yaml v2 reads `.4_4` as the
    /// number 0.44 (Go's ParseFloat takes `_` between digits), so the permission set name is
    /// skipped and aws-iam-authenticator drops the entry. Both readers must drop it too.
    #[test]
    fn go_syntax_numbers_are_not_text_to_the_authenticator() {
        let dropped = [
            "  -   SSO:\n        permissionSetName: .4_4\n        accountID: '111122223333'\n      groups:\n        - \"\u{863e9}\\u000b\u{468}<\u{468}\\\\\"\n      USERNAME:  \"true\"\n",
            "- sso: {permissionSetName: .5_5e1_0, accountID: '111122223333'}\n",
            "- sso: {permissionSetName: 0b-101, accountID: '111122223333'}\n",
            "- sso: {permissionSetName: Admin, accountID: 1111_2222_3333}\n",
            "- rolearn: .4_4\n",
        ];
        for text in dropped {
            let strict = parse_map_roles(text).unwrap();
            assert!(strict[0].is_dropped(), "{text:?}: {strict:?}");
            let lenient = crate::awsauth::read_map_roles(text);
            assert!(lenient.entries[0].is_dropped(), "{text:?}: {lenient:?}");
        }
        // What Go's integer parser refuses (a sign after `0x`, `0o` or a leading `0`) stays
        // text, so these entries are in effect, with these values.
        let text = "- sso: {permissionSetName: 0+17, accountID: '111122223333'}\n  username: 0o+17\n- rolearn: 0x+1F\n  username: .4_4\n  groups: [0+17, 0b-101, ._4, .4_4]\n";
        let strict = parse_map_roles(text).unwrap();
        let lenient = crate::awsauth::read_map_roles(text).entries;
        for entries in [&strict, &lenient] {
            assert!(entries.iter().all(|e| !e.is_dropped()), "{entries:?}");
            let sso = entries[0].sso.as_ref().unwrap();
            assert_eq!(sso.permission_set_name, "0+17");
            assert_eq!(entries[0].username.as_deref(), Some("0o+17"));
            assert_eq!(entries[1].rolearn, "0x+1F");
            assert_eq!(entries[1].username, None);
            assert_eq!(entries[1].groups, ["0+17", "", "._4", ""]);
        }
    }

    #[test]
    fn dead_entries_are_explained() {
        let text = "- rolearn: arn:aws:iam::111122223333:role/team/a\n- username: x\n- just text\n";
        let entries = parse_map_roles(text).unwrap();
        assert!(matches!(
            entries[0].notes[..],
            [EntryNote::UnusableArn { .. }]
        ));
        assert!(entries[1].is_dropped());
        assert!(entries[2].is_dropped());
    }

    #[test]
    fn users_and_accounts() {
        let users = parse_map_users("- userarn: arn:aws:iam::111122223333:user/ops/alice\n  username: alice\n  groups: [g]\n").unwrap();
        assert_eq!(users[0].userarn, "arn:aws:iam::111122223333:user/ops/alice");
        let accounts = parse_map_accounts("- 111122223333\n- \"444455556666\"\n- 12\n").unwrap();
        assert_eq!(
            accounts
                .iter()
                .map(|a| a.account.as_str())
                .collect::<Vec<_>>(),
            ["111122223333", "444455556666", "12"]
        );
        assert!(accounts[2].notes.contains(&EntryNote::InvalidAccount {
            account: "12".into()
        }));
    }

    #[test]
    fn empty_shapes_hold_nothing() {
        for text in [
            "", "  \n", "# c\n", "[]", "null", "~", "\"\"", "''", "``", "---\n",
        ] {
            assert_eq!(parse_map_roles(text).unwrap(), vec![], "{text:?}");
        }
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = parse_map_roles("- rolearn: a\n  groups:\n    - x\n   - y\n").unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        assert!(err.column >= 1);
        let err = parse_map_roles("- rolearn: &a x\n").unwrap_err();
        assert!(err.message.contains("anchor"), "{err}");
        assert_eq!((err.line, err.column), (1, 12));
        let err = parse_map_roles("rolearn: x\n").unwrap_err();
        assert!(err.message.contains("mapping"), "{err}");
        let err = parse_map_roles("- a\n---\n- b\n").unwrap_err();
        assert!(err.message.contains("document"), "{err}");
    }

    /// Block scalars at the end of the text, every way they can end: saphyr (YAML 1.2) and
    /// go-yaml (libyaml's port, as aws-iam-authenticator reads) disagree on the last line, and
    /// the editor must read each value as the authenticator does (a fuzzing find).
    #[test]
    fn block_scalars_ending_the_text_read_as_the_authenticator_reads_them() {
        let headers = [
            "|", ">", "|-", ">-", "|+", ">+", "|2", ">1", "|2-", "|1+", "| # c",
        ];
        let firsts = ["x", "|x", ">x", "#x", " x", "x  ", "- x", ""];
        let mut compared = 0;
        for header in headers {
            for on_own_line in [false, true] {
                for first in firsts {
                    for blank_before in ["", "\n", "\n  \n"] {
                        for indent in [2, 4, 5] {
                            for last_spaces in 0..8 {
                                for final_break in ["", "\n"] {
                                    let pad = " ".repeat(indent);
                                    let head = if on_own_line {
                                        format!("  username:\n    {header}\n")
                                    } else {
                                        format!("  username: {header}\n")
                                    };
                                    let text = format!(
                                        "- rolearn: arn:aws:iam::111122223333:role/a\n{head}{blank_before}{pad}{first}\n{}{final_break}",
                                        " ".repeat(last_spaces)
                                    );
                                    let lenient = crate::awsauth::read_map_roles(&text);
                                    let (Ok(strict), None) =
                                        (parse_map_roles(&text), &lenient.error)
                                    else {
                                        continue;
                                    };
                                    compared += 1;
                                    let meaning = |e: &MapRoleEntry| {
                                        (e.rolearn.clone(), e.username.clone(), e.is_dropped())
                                    };
                                    assert_eq!(
                                        strict.iter().map(meaning).collect::<Vec<_>>(),
                                        lenient.entries.iter().map(meaning).collect::<Vec<_>>(),
                                        "{text:?}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(compared > 5000, "only {compared} texts read by both");
    }

    /// A plain value ending in `:` right before `,`, `]` or `}` inside [ ] or { }: go-yaml
    /// keeps it as text with its colon, saphyr reads a key with no value. The editor must read
    /// it as the authenticator does or refuse (a fuzzing find).
    #[test]
    fn flow_values_ending_in_a_colon_read_as_the_authenticator_reads_them() {
        let arn = "arn:aws:iam::111122223333:role/a";
        let texts = [
            format!("[{{rolearn: {arn}, groups: [x:, system:masters]}}]"),
            format!("[{{rolearn: {arn}, groups: [a b:c d:, g]}}]"),
            format!("[{{rolearn: {arn}, groups: [a:]}}]"),
            format!("[{{rolearn: {arn}, username: a:}}]"),
            format!("[{{rolearn: {arn}, username: a b:, groups: [g]}}]"),
            format!("- rolearn: {arn}\n  groups: [x:, g]\n"),
            format!("- {{rolearn: {arn}, groups: [x:]}}\n"),
        ];
        for text in &texts {
            let lenient = crate::awsauth::read_map_roles(text);
            assert!(lenient.error.is_none(), "{text:?}: {lenient:?}");
            let err = parse_map_roles(text).unwrap_err();
            assert!(err.message.contains("quote it"), "{text:?}: {err}");
        }
        // Quoted, or with a space after the colon (a key to both), it reads.
        let quoted = format!("[{{rolearn: {arn}, groups: ['x:', g]}}]");
        assert_eq!(parse_map_roles(&quoted).unwrap()[0].groups, ["x:", "g"]);
        let spaced = format!("[{{rolearn: {arn}, groups: [x: , g]}}]");
        let (strict, lenient) = (
            parse_map_roles(&spaced).unwrap(),
            crate::awsauth::read_map_roles(&spaced),
        );
        assert_eq!(strict[0].groups, lenient.entries[0].groups);
    }
}
