//! Table tests for the aws-auth model: real-world mapRoles shapes, hostile values, size and
//! safety limits. Pure: no cluster needed.

use std::time::{Duration, Instant};

use chronom_core::arn::{CanonicalRoleArn, parse_role_arn};
use chronom_core::awsauth::{
    EditAction, EditError, MapRoleEntry, NewRoleEntry, default_username, parse_map_roles,
    remove_role, upsert_role,
};
use serde_json::Value;

const NODE: &str = "arn:aws:iam::111122223333:role/node";

/// What an entry means, without where it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Mapping {
    rolearn: String,
    username: Option<String>,
    groups: Vec<String>,
}

fn mappings(entries: &[MapRoleEntry]) -> Vec<Mapping> {
    entries
        .iter()
        .map(|e| Mapping {
            rolearn: e.rolearn.clone(),
            username: e.username.clone(),
            groups: e.groups.clone(),
        })
        .collect()
}

fn mapping_of(entry: &NewRoleEntry) -> Mapping {
    Mapping {
        rolearn: entry.rolearn.to_string(),
        username: Some(entry.username.clone()),
        groups: entry.groups.clone(),
    }
}

/// Go `encoding/json` key folding, written independently of the library.
fn go_key(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{17F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The same text read by an independent parser (libyaml via yaml_serde), then interpreted the
/// way Go's `encoding/json` fills `RoleMapping` (case-insensitive keys, wrong types skipped).
fn independent(text: &str) -> Vec<Mapping> {
    let value: Value =
        yaml_serde::from_str(text).unwrap_or_else(|e| panic!("libyaml rejects {text:?}: {e}"));
    let items = match value {
        Value::Null => return Vec::new(),
        Value::Array(items) => items,
        other => panic!("not a list: {other:?}"),
    };
    items
        .iter()
        .map(|item| {
            let mut m = Mapping::default();
            for (key, value) in item.as_object().expect("entries are mappings") {
                match (go_key(key).as_str(), value) {
                    ("rolearn", Value::String(s)) => m.rolearn = s.clone(),
                    ("username", Value::String(s)) => m.username = Some(s.clone()),
                    ("groups", Value::Array(groups)) => {
                        m.groups = groups
                            .iter()
                            .map(|g| g.as_str().unwrap_or_default().to_string())
                            .collect()
                    }
                    _ => {}
                }
            }
            m
        })
        .collect()
}

fn reader() -> NewRoleEntry {
    let input = parse_role_arn("arn:aws:iam::111122223333:role/team/ops/chronom-reader").unwrap();
    NewRoleEntry {
        username: default_username(&input.canonical),
        rolearn: input.canonical,
        groups: vec!["chronom:read-only".to_string()],
    }
}

const SHAPES: &[(&str, &str)] = &[
    (
        "block",
        "- rolearn: arn:aws:iam::111122223333:role/node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n",
    ),
    (
        "block, indentless groups",
        "- rolearn: arn:aws:iam::111122223333:role/node\n  username: n\n  groups:\n  - system:nodes\n",
    ),
    (
        "block, dash indented 2",
        "  - rolearn: arn:aws:iam::111122223333:role/node\n    username: n\n    groups:\n      - system:nodes\n",
    ),
    (
        "block, dash indented 4, no trailing newline",
        "    - rolearn: arn:aws:iam::111122223333:role/node\n      username: n\n      groups:\n        - system:nodes",
    ),
    (
        "comments everywhere",
        "# managed by terraform\n- rolearn: arn:aws:iam::111122223333:role/node # node role\n  username: system:node:{{EC2PrivateDNSName}}\n  # keep these\n  groups:\n  - system:nodes # nodes\n# trailing comment\n",
    ),
    (
        "quoted keys and values",
        "- \"rolearn\": \"arn:aws:iam::111122223333:role/node\"\n  'username': 'system:node:{{EC2PrivateDNSName}}'\n  \"groups\": [\"system:nodes\"]\n",
    ),
    (
        "CRLF",
        "- rolearn: arn:aws:iam::111122223333:role/node\r\n  username: n\r\n  groups:\r\n    - system:nodes\r\n",
    ),
    (
        "CRLF, no trailing newline",
        "# c\r\n- rolearn: arn:aws:iam::111122223333:role/node\r\n  username: n",
    ),
    (
        "flow, JSON on one line",
        "[{\"rolearn\":\"arn:aws:iam::111122223333:role/node\",\"username\":\"system:node:{{EC2PrivateDNSName}}\",\"groups\":[\"system:nodes\"]}]",
    ),
    (
        "flow, multi-line",
        "[\n  {rolearn: 'arn:aws:iam::111122223333:role/node', username: n, groups: [system:nodes]},\n  {rolearn: 'arn:aws:iam::111122223333:role/other', username: o, groups: []}\n]\n",
    ),
    (
        "flow, comments",
        "[ # nodes\n  {rolearn: \"arn:aws:iam::111122223333:role/node\", username: n}, # first\n  {rolearn: \"arn:aws:iam::111122223333:role/b\", username: b}\n]\n",
    ),
    (
        "block list of flow mappings",
        "- {rolearn: \"arn:aws:iam::111122223333:role/node\", username: n, groups: [system:nodes]}\n",
    ),
    ("empty text", ""),
    ("empty list", "[]"),
    ("empty list with space and newline", "[ ]\n"),
    ("only a comment", "# nothing yet\n"),
    ("only a comment, no newline", "# nothing yet"),
    ("blank lines", "  \n\n"),
    (
        "explicit document start",
        "---\n- rolearn: arn:aws:iam::111122223333:role/node\n  username: n\n",
    ),
    (
        "document end marker",
        "- rolearn: arn:aws:iam::111122223333:role/node\n  username: n\n...\n",
    ),
    (
        "literal block username last",
        "- rolearn: arn:aws:iam::111122223333:role/node\n  username: |\n    multi\n\n# after\n",
    ),
    (
        "userid and sso entries",
        "- rolearn: arn:aws:iam::111122223333:role/node\n  username: n\n  userid: AROAEXAMPLE\n  groups: [system:nodes]\n- sso:\n    permissionSetName: Admin\n    accountID: \"111122223333\"\n  username: admin:{{SessionName}}\n  groups: [admins]\n",
    ),
    (
        "dash on its own line",
        "-\n  rolearn: arn:aws:iam::111122223333:role/node\n  username: n\n",
    ),
    (
        "wide key offset, flow groups",
        "-   rolearn: arn:aws:iam::111122223333:role/node\n    username: n\n    groups: [a, b]\n",
    ),
    (
        "mixed-case keys",
        "- RoleArn: arn:aws:iam::111122223333:role/node\n  UserName: n\n  GROUPS: [a]\n",
    ),
];

#[test]
fn grant_then_revoke_gives_back_the_original_bytes_for_every_shape() {
    let new = reader();
    for (name, text) in SHAPES {
        let before = parse_map_roles(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let edit = upsert_role(text, &new, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(edit.action, EditAction::Added, "{name}");

        let after = parse_map_roles(&edit.new_text)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", edit.new_text));
        let mut expected = mappings(&before);
        expected.push(mapping_of(&new));
        assert_eq!(mappings(&after), expected, "{name}:\n{}", edit.new_text);

        let mut expected_independent = independent(text);
        expected_independent.push(mapping_of(&new));
        assert_eq!(
            independent(&edit.new_text),
            expected_independent,
            "{name}:\n{}",
            edit.new_text
        );

        assert!(
            edit.new_text.starts_with(&text[..text.len().min(1)]),
            "{name}: prefix kept"
        );
        if text.contains("\r\n") {
            assert!(
                !edit.new_text.replace("\r\n", "").contains('\n'),
                "{name}: mixed line endings\n{:?}",
                edit.new_text
            );
        }
        if text.trim_start().starts_with('[') {
            assert!(
                edit.new_text.trim_end().ends_with(']'),
                "{name}: stays flow\n{}",
                edit.new_text
            );
        }

        let again = upsert_role(&edit.new_text, &new, false).unwrap();
        assert_eq!(again.action, EditAction::Unchanged, "{name}");
        assert_eq!(again.new_text, edit.new_text, "{name}");

        let removal =
            remove_role(&edit.new_text, &new.rolearn).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(removal.removed.len(), 1, "{name}");
        assert_eq!(
            removal.new_text, *text,
            "{name}: revoke must restore the original bytes"
        );
    }
}

#[test]
fn new_entries_follow_the_surrounding_style() {
    let new = reader();
    let indented = upsert_role(SHAPES[2].1, &new, false).unwrap().new_text;
    assert!(indented.contains("\n  - rolearn: arn:aws:iam::111122223333:role/chronom-reader\n    username: chronom-reader\n      - chronom:read-only\n") || indented.contains("\n  - rolearn: arn:aws:iam::111122223333:role/chronom-reader\n    username: chronom-reader\n    groups:\n      - chronom:read-only\n"), "{indented}");
    let indentless = upsert_role(SHAPES[1].1, &new, false).unwrap().new_text;
    assert!(
        indentless.ends_with("  groups:\n  - chronom:read-only\n"),
        "{indentless}"
    );
    let json = upsert_role(SHAPES[8].1, &new, false).unwrap().new_text;
    assert!(
        json.contains("{\"rolearn\": \"arn:aws:iam::111122223333:role/chronom-reader\""),
        "{json}"
    );
    let multi = upsert_role(SHAPES[9].1, &new, false).unwrap().new_text;
    assert!(
        multi.contains("},\n  {rolearn: \"arn:aws:iam::111122223333:role/chronom-reader\""),
        "{multi}"
    );
    let flow_items = upsert_role(SHAPES[11].1, &new, false).unwrap().new_text;
    assert!(flow_items.ends_with("\n- {rolearn: \"arn:aws:iam::111122223333:role/chronom-reader\", username: chronom-reader, groups: [\"chronom:read-only\"]}\n"), "{flow_items}");
    let crlf = upsert_role(SHAPES[7].1, &new, false).unwrap().new_text;
    assert!(crlf.ends_with("username: n\r\n- rolearn: arn:aws:iam::111122223333:role/chronom-reader\r\n  username: chronom-reader\r\n  groups:\r\n    - chronom:read-only"), "{crlf:?}");
}

const HOSTILE: &[&str] = &[
    "evil\n- rolearn: arn:aws:iam::111122223333:role/x\n  groups: [system:masters]",
    "evil\n  groups: [system:masters]",
    "a: b",
    "a:b",
    "x #comment",
    "#comment",
    "- item",
    "-",
    "\"double\"",
    "'single'",
    "it's",
    "back\\slash",
    "{{SessionName}}",
    "system:node:{{EC2PrivateDNSName}}",
    "{a: b}",
    "[a, b]",
    "a, b",
    "}",
    "]",
    "*alias",
    "&anchor x",
    "!!str",
    "!tag",
    "%YAML 1.2",
    "@at",
    "`tick",
    "|",
    ">-",
    "? key",
    "---",
    "...",
    "--- x",
    "yes",
    "No",
    "on",
    "null",
    "~",
    "123",
    "0x1F",
    "1e3",
    ".inf",
    " leading",
    "trailing ",
    "tab\there",
    "cr\rlf\r\n",
    "nul\u{0}byte",
    "esc\u{1b}[31m",
    "del\u{7f}",
    "nel\u{85}",
    "line\u{2028}sep",
    "para\u{2029}sep",
    "bom\u{feff}",
    "rtl\u{202e}txe",
    "zero\u{200b}width",
    "ünïcødé",
    "日本語",
    "emoji 😀",
    "а-cyrillic",
    "ｆｕｌｌ：width",
    "<<",
    "=",
    "\\u0041",
    "\\\"",
    "a\n\n\nb",
    "\n",
    " ",
];

#[test]
fn hostile_usernames_and_groups_stay_one_scalar() {
    let role: CanonicalRoleArn = "arn:aws:iam::111122223333:role/target".parse().unwrap();
    let bases = [
        SHAPES[0].1,
        SHAPES[8].1,
        SHAPES[11].1,
        "",
        "[]",
        SHAPES[7].1,
    ];
    for payload in HOSTILE {
        let entry = NewRoleEntry {
            rolearn: role.clone(),
            username: payload.to_string(),
            groups: vec![payload.to_string(), "ok".to_string()],
        };
        for base in bases {
            let edit = upsert_role(base, &entry, false)
                .unwrap_or_else(|e| panic!("{payload:?} into {base:?}: {e}"));
            let before = parse_map_roles(base).unwrap();
            let after = parse_map_roles(&edit.new_text).unwrap();
            assert_eq!(
                after.len(),
                before.len() + 1,
                "{payload:?}: one entry added\n{}",
                edit.new_text
            );
            let ours: Vec<_> = after.iter().filter(|e| e.refers_to(&role)).collect();
            assert_eq!(ours.len(), 1, "{payload:?}");
            assert_eq!(
                ours[0].username.as_deref(),
                Some(*payload),
                "{payload:?}\n{}",
                edit.new_text
            );
            assert_eq!(
                ours[0].groups,
                vec![payload.to_string(), "ok".to_string()],
                "{payload:?}"
            );
            assert!(ours[0].notes.is_empty(), "{payload:?}: {:?}", ours[0].notes);

            let theirs = independent(&edit.new_text);
            assert_eq!(theirs.len(), before.len() + 1, "{payload:?}");
            assert_eq!(
                theirs.last().unwrap(),
                &mapping_of(&entry),
                "{payload:?}\n{}",
                edit.new_text
            );

            assert_eq!(
                remove_role(&edit.new_text, &role).unwrap().new_text,
                base,
                "{payload:?}"
            );
        }
    }
}

#[test]
fn unknown_placeholders_are_refused() {
    let mut entry = reader();
    entry.username = "ops:{{SessionID}}".to_string();
    let err = upsert_role("", &entry, false).unwrap_err();
    assert!(matches!(err, EditError::Username(_)), "{err}");
    assert!(err.to_string().contains("{{SessionID}}"), "{err}");
    let mut entry = reader();
    entry.groups = vec!["team-{{accountid}}".to_string()];
    assert!(matches!(
        upsert_role("", &entry, false),
        Err(EditError::Group { .. })
    ));
}

fn big_document(min_bytes: usize) -> String {
    let mut text = String::from("# generated\n");
    let mut i = 0;
    while text.len() < min_bytes {
        text.push_str(&format!(
            "- rolearn: arn:aws:iam::111122223333:role/role-{i}\n  username: user-{i}:{{{{SessionName}}}}\n  groups:\n    - group-{i}\n    - system:authenticated\n"
        ));
        i += 1;
    }
    text
}

#[test]
fn a_one_mebibyte_document_is_handled_quickly() {
    let text = big_document(1 << 20);
    assert!(text.len() >= 1 << 20);
    let started = Instant::now();
    let entries = parse_map_roles(&text).unwrap();
    let parse_time = started.elapsed();
    let new = reader();
    let edit = upsert_role(&text, &new, false).unwrap();
    assert_eq!(
        parse_map_roles(&edit.new_text).unwrap().len(),
        entries.len() + 1
    );
    let removal = remove_role(&edit.new_text, &new.rolearn).unwrap();
    assert_eq!(removal.new_text, text);
    let middle: CanonicalRoleArn =
        format!("arn:aws:iam::111122223333:role/role-{}", entries.len() / 2)
            .parse()
            .unwrap();
    let without_middle = remove_role(&text, &middle).unwrap();
    assert_eq!(without_middle.removed.len(), 1);
    let total = started.elapsed();
    eprintln!(
        "1 MiB, {} entries: parse {parse_time:?}, parse+grant+revoke+remove {total:?}",
        entries.len()
    );
    // Generous bounds for unoptimised test builds on a 2-core machine; linear work is far below.
    assert!(
        parse_time < Duration::from_secs(5),
        "parse took {parse_time:?}"
    );
    assert!(total < Duration::from_secs(30), "took {total:?}");
}

#[test]
fn yaml_bombs_and_deep_nesting_are_refused_fast() {
    let mut bomb = String::from(
        "- &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        bomb.push_str(&format!("- &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    bomb.push_str("- rolearn: arn:aws:iam::111122223333:role/x\n  username: *i\n");
    let started = Instant::now();
    let err = parse_map_roles(&bomb).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.message.contains("anchor"), "{err}");
    assert_eq!((err.line, err.column), (1, 3), "{err}");
    assert!(matches!(
        upsert_role(&bomb, &reader(), false),
        Err(EditError::Parse(_))
    ));

    let alias_only = "- rolearn: arn:aws:iam::111122223333:role/x\n  username: *undefined\n";
    assert!(parse_map_roles(alias_only).is_err());

    let deep = "[".repeat(100_000);
    let started = Instant::now();
    let err = parse_map_roles(&deep).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.message.contains("recursion limit") || err.message.contains("nests deeper"),
        "{err}"
    );
    let err = parse_map_roles(&format!("{}{}", "[".repeat(100), "]".repeat(100))).unwrap_err();
    assert!(err.message.contains("nests deeper"), "{err}");
    let err = parse_map_roles(&"- ".repeat(100)).unwrap_err();
    assert!(err.message.contains("nests deeper"), "{err}");
}

#[test]
fn malformed_map_roles_reports_line_and_column() {
    let err = parse_map_roles("- rolearn: a\n  groups:\n    - x\n   - y\n").unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    assert!(err.column >= 1, "{err}");
    assert!(err.to_string().starts_with("line 4, column "), "{err}");

    let err = parse_map_roles("- rolearn: [unclosed\n  groups: x\n").unwrap_err();
    assert!(err.line >= 1 && err.column >= 1, "{err}");
    // saphyr points at the scalar the tab interrupts.
    let err = parse_map_roles("- rolearn: x\n\tusername: y\n").unwrap_err();
    assert!(
        (1..=2).contains(&err.line) && err.message.contains("tab"),
        "{err}"
    );
    let err =
        parse_map_roles("rolearn: arn:aws:iam::111122223333:role/x\nusername: y\n").unwrap_err();
    assert_eq!((err.line, err.column), (1, 1), "{err}");
    assert!(err.message.contains("`- `"), "{err}");
    let err = upsert_role("- a: [\n", &reader(), false).unwrap_err();
    assert!(matches!(err, EditError::Parse(_)), "{err}");
}

#[test]
fn agrees_with_the_authenticators_own_fixture() {
    // aws-iam-authenticator's aws-auth-space-out-of-place.yaml: it parses, and the two group
    // lines fold into one plain scalar (its yaml_test.go expects exactly this).
    let text = "- rolearn: arn:aws:iam::555555555555:role/devel-worker-nodes-NodeInstanceRole-74RF4UBDUKL6\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n     - system:nodes\n";
    let entries = parse_map_roles(text).unwrap();
    assert_eq!(
        entries[0].groups,
        vec!["system:bootstrappers - system:nodes"]
    );
    // aws-auth-crazy-case-keys.yaml
    let text = "- rOlEaRn: arn:aws:iam::555555555555:role/devel-worker-nodes-NodeInstanceRole-74RF4UBDUKL6\n  UsErNaMe: system:node:{{EC2PrivateDNSName}}\n  gRoUpS:\n    - system:bootstrappers\n    - system:nodes\n";
    let entries = parse_map_roles(text).unwrap();
    assert_eq!(
        entries[0].username.as_deref(),
        Some("system:node:{{EC2PrivateDNSName}}")
    );
    assert_eq!(
        entries[0].groups,
        vec!["system:bootstrappers", "system:nodes"]
    );
    assert!(entries[0].notes.is_empty());
}

#[test]
fn a_role_path_is_stripped_and_the_username_is_the_role_name() {
    let input = parse_role_arn("arn:aws:iam::111122223333:role/team/ops/chronom-reader").unwrap();
    assert_eq!(input.stripped_path.as_deref(), Some("/team/ops/"));
    let username = default_username(&input.canonical);
    assert_eq!(username, "chronom-reader");
    assert_ne!(username, "team");
    let entry = NewRoleEntry {
        rolearn: input.canonical.clone(),
        username,
        groups: vec!["g".into()],
    };
    let edit = upsert_role(SHAPES[0].1, &entry, false).unwrap();
    assert!(!edit.new_text.contains("team/ops"), "{}", edit.new_text);
    assert_eq!(
        edit.entry.rolearn,
        "arn:aws:iam::111122223333:role/chronom-reader"
    );
    assert_eq!(edit.entry.username.as_deref(), Some("chronom-reader"));
    assert!(edit.entry.authenticator_matches(&input.canonical));

    // An assumed-role session ARN names the same role.
    let session =
        parse_role_arn("arn:aws:sts::111122223333:assumed-role/chronom-reader/alice").unwrap();
    assert_eq!(session.canonical, input.canonical);
}

#[test]
fn duplicate_entries_are_detected_and_explained() {
    let text = format!(
        "- rolearn: {NODE}\n  username: n\n- rolearn: arn:aws:iam::111122223333:role/team/ops/chronom-reader\n  username: old-with-path\n  groups: [x]\n- rolearn: ARN:AWS:IAM::111122223333:ROLE/CHRONOM-READER\n  username: old\n  groups: [y]\n# end\n"
    );
    let new = reader();
    let err = upsert_role(&text, &new, false).unwrap_err();
    let EditError::Duplicates {
        entries, effective, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        entries.iter().map(|e| e.line).collect::<Vec<_>>(),
        vec![3, 6]
    );
    assert_eq!(
        *effective,
        Some(1),
        "the last exact (case-insensitive) match wins"
    );
    let message = err.to_string();
    assert!(
        message.contains("lines 3, 6") && message.contains("line 6") && message.contains("--force"),
        "{message}"
    );

    let edit = upsert_role(&text, &new, true).unwrap();
    let EditAction::Updated {
        previous,
        removed_duplicates,
    } = &edit.action
    else {
        panic!("{:?}", edit.action)
    };
    assert_eq!(previous.username.as_deref(), Some("old"));
    assert_eq!(removed_duplicates.len(), 1);
    assert_eq!(
        edit.new_text,
        format!(
            "- rolearn: {NODE}\n  username: n\n- rolearn: arn:aws:iam::111122223333:role/chronom-reader\n  username: chronom-reader\n  groups: [\"chronom:read-only\"]\n# end\n"
        )
    );

    let removal = remove_role(&text, &new.rolearn).unwrap();
    assert_eq!(removal.removed.len(), 2);
    assert_eq!(
        removal.new_text,
        format!("- rolearn: {NODE}\n  username: n\n# end\n")
    );
}

#[test]
fn a_dead_path_entry_or_a_different_mapping_is_a_conflict() {
    let new = reader();
    let with_path = "- rolearn: arn:aws:iam::111122223333:role/team/ops/chronom-reader\n  username: chronom-reader\n  groups: [\"chronom:read-only\"]\n";
    let err = upsert_role(with_path, &new, false).unwrap_err();
    assert!(matches!(err, EditError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("never matches"), "{err}");
    let fixed = upsert_role(with_path, &new, true).unwrap();
    assert_eq!(
        fixed.new_text,
        "- rolearn: arn:aws:iam::111122223333:role/chronom-reader\n  username: chronom-reader\n  groups: [\"chronom:read-only\"]\n"
    );

    let admin = "- rolearn: arn:aws:iam::111122223333:role/chronom-reader\n  username: chronom-reader\n  groups:\n    - system:masters\n";
    let err = upsert_role(admin, &new, false).unwrap_err();
    let EditError::Conflict { existing, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(existing.groups, vec!["system:masters"]);
    assert!(err.to_string().contains("system:masters"), "{err}");

    let same = "- rolearn: arn:aws:iam::111122223333:role/chronom-reader\n  username: chronom-reader\n  groups:\n    - chronom:read-only\n    - chronom:read-only\n";
    assert_eq!(
        upsert_role(same, &new, false).unwrap().action,
        EditAction::Unchanged
    );
}

/// Found by fuzzing: flow lists whose last item ends beyond its parsed span. The editor must
/// refuse them explicitly (UnsupportedLayout, with a position) rather than emit broken YAML.
#[test]
fn flow_lists_it_cannot_extend_are_refused_explicitly() {
    let entry = chronom_core::awsauth::NewRoleEntry {
        rolearn: chronom_core::arn::CanonicalRoleArn::new("aws", "111122223333", "fuzzed").unwrap(),
        username: "fuzzed".into(),
        groups: vec!["g".into()],
    };
    for text in [
        "[:]",
        "[a\t-\t]",
        "[r - - -   ]\n",
        "[a, b -  ]",
        "[a, k: v -  ]",
    ] {
        match chronom_core::awsauth::upsert_role(text, &entry, false) {
            Err(chronom_core::awsauth::EditError::UnsupportedLayout { line, column, .. }) => {
                assert!(line >= 1 && column >= 1, "{text:?}")
            }
            other => panic!("{text:?}: expected UnsupportedLayout, got {other:?}"),
        }
    }
    // `a:` before `]` is the text `a:` to aws-iam-authenticator and a key to YAML 1.2: refused
    // as unreadable, at its place, before any layout question.
    match chronom_core::awsauth::upsert_role("[a:]", &entry, false) {
        Err(chronom_core::awsauth::EditError::Parse(e)) => {
            assert_eq!((e.line, e.column), (1, 2));
            assert!(e.message.contains("quote it"), "{e}");
        }
        other => panic!("[a:]: expected a parse error, got {other:?}"),
    }
}
