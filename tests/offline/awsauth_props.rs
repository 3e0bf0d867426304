//! Property tests for the aws-auth model. Generated mapRoles / mapUsers / mapAccounts
//! documents (block and flow, comments, odd quoting and key case, keys that fold alike, CRLF,
//! unicode, extra keys, sso entries, YAML 1.1 words, bare numbers and leading-zero accounts
//! written plain) are written by a YAML writer that lives only here, then checked three ways:
//! the strict parser reads one entry per generated item with the generated ARNs, what it says
//! is in effect equals what aws-iam-authenticator's own mapper puts in effect (the Go oracle,
//! tests/support/awsauth_oracle.rs; every text of a property run goes to it in one batch), and
//! every edit (grant, revoke, forced replace) keeps all other bytes.
//!
//! The number of generated cases each property ran is printed to stderr, appended to
//! `$CARGO_TARGET_TMPDIR/awsauth_props_cases.txt`, and must reach a floor (so
//! `PROPTEST_CASES=0` fails). `PROPTEST_CASES` overrides the defaults (512 for mapRoles, 256
//! for mapUsers and mapAccounts); `PROPTEST_CASES_BIG` the 3,000-entry property's 4.

use crate::support::awsauth_oracle;
use crate::support::splitmix::SplitMix64 as Dice;

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use chronom_core::arn::CanonicalRoleArn;
use std::sync::Mutex;

use awsauth_oracle::{Data, InEffect, Role, Sso, User};
use chronom_core::awsauth::{
    EditAction, EditError, MapRoleEntry, NewRoleEntry, parse_map_accounts, parse_map_roles,
    parse_map_users, remove_role, upsert_role,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

// ---------------------------------------------------------------------------------------
// What a document means.

/// One entry's meaning, as Go's `RoleMapping` / `UserMapping` would hold it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Meaning {
    arn: String,
    username: Option<String>,
    groups: Vec<String>,
    userid: Option<String>,
    sso: Option<(String, String)>,
    /// How many keys the authenticator does not know.
    extra: usize,
}

fn ours_roles(entries: &[MapRoleEntry]) -> Vec<Meaning> {
    entries
        .iter()
        .map(|e| Meaning {
            arn: e.rolearn.clone(),
            username: e.username.clone(),
            groups: e.groups.clone(),
            userid: e.userid.clone(),
            sso: e
                .sso
                .as_ref()
                .map(|s| (s.permission_set_name.clone(), s.account_id.clone())),
            extra: e.extra.len(),
        })
        .collect()
}

fn new_meaning(entry: &NewRoleEntry) -> Meaning {
    Meaning {
        arn: entry.rolearn.to_string(),
        username: Some(entry.username.clone()),
        groups: entry.groups.clone(),
        ..Meaning::default()
    }
}

/// What the strict parser says aws-iam-authenticator puts in effect, in the oracle's shape.
fn in_effect_roles(entries: &[MapRoleEntry]) -> Vec<Role> {
    entries
        .iter()
        .filter(|e| !e.is_dropped())
        .map(|e| Role {
            rolearn: e.rolearn.clone(),
            sso: e.sso.as_ref().map(|s| Sso {
                permission_set_name: s.permission_set_name.clone(),
                account_id: s.account_id.clone(),
                partition: s.partition.clone(),
            }),
            username: e.username.clone().unwrap_or_default(),
            groups: e.groups.clone(),
            userid: e.userid.clone().unwrap_or_default(),
        })
        .collect()
}

/// Texts a property run produced, with what the strict parser said was in effect; checked
/// against the oracle in one batch when the run ends.
#[derive(Default)]
struct OracleChecks(Mutex<Vec<(String, Data, InEffect)>>);

impl OracleChecks {
    fn roles(&self, what: &str, text: &str, entries: &[MapRoleEntry]) {
        self.push(
            what,
            "mapRoles",
            text,
            InEffect {
                roles: in_effect_roles(entries),
                users: vec![],
                accounts: vec![],
            },
        );
    }

    fn push(&self, what: &str, section: &str, text: &str, ours: InEffect) {
        let data = Data::from([(section.to_string(), text.to_string())]);
        self.0.lock().unwrap().push((what.to_string(), data, ours));
    }

    /// Runs the oracle over every text and fails with the first few disagreements.
    fn verify(&self, name: &str) -> usize {
        let checks = std::mem::take(&mut *self.0.lock().unwrap());
        let batch: Vec<Data> = checks.iter().map(|(_, d, _)| d.clone()).collect();
        let answers = awsauth_oracle::oracle(&batch);
        let wrong: Vec<String> = checks
            .iter()
            .zip(&answers)
            .filter(|((_, _, ours), theirs)| ours != *theirs)
            .take(5)
            .map(|((what, data, ours), theirs)| {
                format!("{what}: {data:?}\n  strict parser:         {ours:?}\n  aws-iam-authenticator: {theirs:?}")
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{name}: the strict parser and aws-iam-authenticator disagree:\n{}",
            wrong.join("\n")
        );
        eprintln!(
            "awsauth_props: {name}: {} texts agree with aws-iam-authenticator",
            checks.len()
        );
        checks.len()
    }
}

// ---------------------------------------------------------------------------------------
// A YAML writer that is not the library's.

fn yaml_printable(c: char) -> bool {
    matches!(c, ' '..='~')
        || (c as u32 >= 0xA0 && !matches!(c as u32, 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF))
}

/// Written plain, `s` stays one scalar: YAML 1.1 words (`yes`, `off`, `~`) and numbers
/// (`012`, `0x1F`, `1_000`) are allowed on purpose, since the authenticator reads them as
/// something other than text and the oracle checks that we do too.
fn plain_ok(s: &str, flow: bool) -> bool {
    (s == "~"
        || s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || (c == '.' && s.len() > 1)))
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || "_./@=+-~".contains(c) || (!flow && ":{}".contains(c))
        })
        && !s.ends_with(':')
}

fn double(s: &str, dice: &mut Dice) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if dice.chance(50) => out.push_str("\\n"),
            '\t' if dice.chance(50) => out.push_str("\\t"),
            c if yaml_printable(c) && c != '\t' && c != '\u{85}' => out.push(c),
            c if (c as u32) < 0x100 && dice.chance(30) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A scalar in a random but valid style for its context.
fn scalar(s: &str, flow: bool, dice: &mut Dice) -> String {
    match dice.below(3) {
        0 if plain_ok(s, flow) => s.to_string(),
        1 if s.chars().all(yaml_printable) => format!("'{}'", s.replace('\'', "''")),
        _ if plain_ok(s, flow) && dice.chance(50) => s.to_string(),
        _ => double(s, dice),
    }
}

fn key(variants: &[&str], flow: bool, dice: &mut Dice) -> String {
    let name = *dice.pick(variants);
    match dice.below(6) {
        0 => format!("\"{name}\""),
        1 => format!("'{name}'"),
        _ if name.is_ascii() || !flow => name.to_string(),
        _ => format!("\"{name}\""),
    }
}

#[derive(Debug, Clone)]
enum Val {
    Text(String),
    List(Vec<String>),
    Sso(String, String),
}

#[derive(Debug, Clone)]
struct Field {
    keys: &'static [&'static str],
    val: Val,
}

const ROLEARN_KEYS: &[&str] = &["rolearn", "RoleArn", "ROLEARN", "roleARN"];
const USERARN_KEYS: &[&str] = &["userarn", "UserArn", "USERARN", "u\u{17F}erarn"];
const USERNAME_KEYS: &[&str] = &["username", "UserName", "USERNAME", "u\u{17F}ername"];
const GROUPS_KEYS: &[&str] = &["groups", "Groups", "GROUPS", "group\u{17F}"];
const USERID_KEYS: &[&str] = &["userid", "userId", "UserID"];
const SSO_KEYS: &[&str] = &["sso", "SSO", "Sso"];

fn flow_value(val: &Val, dice: &mut Dice) -> String {
    match val {
        Val::Text(s) => scalar(s, true, dice),
        Val::List(items) => {
            let items: Vec<String> = items.iter().map(|g| scalar(g, true, dice)).collect();
            format!("[{}]", items.join(if dice.chance(50) { ", " } else { "," }))
        }
        Val::Sso(name, account) => format!(
            "{{{}: {}, {}: {}}}",
            key(
                &[
                    "permissionSetName",
                    "PermissionSetName",
                    "permissionsetname"
                ],
                true,
                dice
            ),
            scalar(name, true, dice),
            key(&["accountID", "AccountId", "accountid"], true, dice),
            scalar(account, true, dice)
        ),
    }
}

fn flow_mapping(fields: &[Field], dice: &mut Dice) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| format!("{}: {}", key(f.keys, true, dice), flow_value(&f.val, dice)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Layout shared by all block items of one document.
struct BlockLayout {
    indent: String,
    key_offset: usize,
    groups_indent: usize,
}

fn block_item(fields: &[Field], layout: &BlockLayout, dice: &mut Dice) -> Vec<String> {
    let pad = format!("{}{}", layout.indent, " ".repeat(layout.key_offset));
    if dice.chance(10) {
        return vec![format!("{}- {}", layout.indent, flow_mapping(fields, dice))];
    }
    let mut lines = Vec::new();
    let dash_alone = dice.chance(5);
    if dash_alone {
        lines.push(format!("{}-", layout.indent));
    }
    for (i, field) in fields.iter().enumerate() {
        let lead = if i == 0 && !dash_alone {
            format!("{}-{}", layout.indent, " ".repeat(layout.key_offset - 1))
        } else {
            pad.clone()
        };
        let k = key(field.keys, false, dice);
        match &field.val {
            Val::Text(s) => {
                let literal = !s.is_empty()
                    && s.chars().all(|c| yaml_printable(c) && c != ' ')
                    && !s.starts_with('#')
                    && dice.chance(10);
                if literal {
                    lines.push(format!("{lead}{k}: |-"));
                    lines.push(format!("{pad}  {s}"));
                } else {
                    lines.push(format!(
                        "{lead}{k}:{}{}",
                        " ".repeat(1 + dice.below(2)),
                        scalar(s, false, dice)
                    ));
                }
            }
            Val::List(items) if items.is_empty() || dice.chance(30) => {
                lines.push(format!("{lead}{k}: {}", flow_value(&field.val, dice)));
            }
            Val::List(items) => {
                lines.push(format!("{lead}{k}:"));
                for g in items {
                    lines.push(format!(
                        "{pad}{}- {}",
                        " ".repeat(layout.groups_indent),
                        scalar(g, false, dice)
                    ));
                }
            }
            Val::Sso(name, account) => {
                if dice.chance(30) {
                    lines.push(format!("{lead}{k}: {}", flow_value(&field.val, dice)));
                } else {
                    lines.push(format!("{lead}{k}:"));
                    lines.push(format!(
                        "{pad}  permissionSetName: {}",
                        scalar(name, false, dice)
                    ));
                    lines.push(format!(
                        "{pad}  accountID: {}",
                        scalar(account, false, dice)
                    ));
                }
            }
        }
    }
    lines
}

#[derive(Debug, Clone)]
struct DocStyle {
    seed: u64,
    flow: bool,
    crlf: bool,
    trailing_newline: bool,
    head_comment: Option<String>,
    tail_comment: Option<String>,
}

fn render(items: &[Vec<Field>], style: &DocStyle, comments: &[String]) -> String {
    let mut dice = Dice(style.seed);
    let comment = |dice: &mut Dice| -> String { comments[dice.below(comments.len())].clone() };
    let mut text = String::new();
    if let Some(head) = &style.head_comment {
        text.push_str(&format!("# {head}\n"));
    }
    if style.flow {
        let multiline = dice.chance(50);
        if items.is_empty() {
            let empty: &&str = dice.pick(&["[]", "[ ]", "[\n]"]);
            text.push_str(empty);
        } else if multiline {
            text.push_str("[\n");
            for (i, fields) in items.iter().enumerate() {
                text.push_str("  ");
                text.push_str(&flow_mapping(fields, &mut dice));
                if i + 1 < items.len() {
                    text.push(',');
                }
                if dice.chance(20) {
                    text.push_str(&format!(" # {}", comment(&mut dice)));
                }
                text.push('\n');
            }
            text.push(']');
        } else {
            let sep = *dice.pick(&[", ", ",", " , "]);
            let parts: Vec<String> = items.iter().map(|f| flow_mapping(f, &mut dice)).collect();
            text.push_str(&format!("[{}]", parts.join(sep)));
        }
        text.push('\n');
    } else {
        let layout = BlockLayout {
            indent: " ".repeat(*dice.pick(&[0usize, 0, 2, 4])),
            key_offset: *dice.pick(&[2usize, 2, 3, 4]),
            groups_indent: *dice.pick(&[0usize, 2, 2, 4]),
        };
        for fields in items {
            if dice.chance(15) {
                let at = if dice.chance(50) {
                    String::new()
                } else {
                    layout.indent.clone()
                };
                text.push_str(&format!("{at}# {}\n", comment(&mut dice)));
            }
            let mut lines = block_item(fields, &layout, &mut dice);
            if dice.chance(15) && !lines[0].ends_with("|-") {
                lines[0].push_str(&format!(" # {}", comment(&mut dice)));
            }
            for line in lines {
                text.push_str(&line);
                text.push('\n');
            }
        }
    }
    if let Some(tail) = &style.tail_comment {
        text.push_str(&format!("# {tail}\n"));
    }
    if !style.trailing_newline {
        text.pop();
    }
    if style.crlf {
        text.replace('\n', "\r\n")
    } else {
        text
    }
}

// ---------------------------------------------------------------------------------------
// Generated entries.

const ACCOUNTS: &[&str] = &["111122223333", "444455556666", "012345678901"];

#[derive(Debug, Clone)]
struct RoleItem {
    account: usize,
    /// Starts with `r`: never collides with the new roles (`new-`).
    name: String,
    path: Option<String>,
    upper: bool,
    username: Option<String>,
    groups: Option<Vec<String>>,
    userid: Option<String>,
    /// A second userid key (a spelling that folds alike, or the same): the authenticator
    /// keeps the one encoding/json sees last.
    userid2: Option<String>,
    extra: Option<String>,
    sso: Option<String>,
    order: u64,
}

impl RoleItem {
    fn arn(&self) -> String {
        let path = self
            .path
            .as_ref()
            .map(|p| format!("{p}/"))
            .unwrap_or_default();
        let arn = format!(
            "arn:aws:iam::{}:role/{path}{}",
            ACCOUNTS[self.account], self.name
        );
        if self.upper { arn.to_uppercase() } else { arn }
    }

    fn fields(&self) -> Vec<Field> {
        let mut fields = Vec::new();
        match &self.sso {
            Some(set) => fields.push(Field {
                keys: SSO_KEYS,
                val: Val::Sso(set.clone(), ACCOUNTS[self.account].to_string()),
            }),
            None => fields.push(Field {
                keys: ROLEARN_KEYS,
                val: Val::Text(self.arn()),
            }),
        }
        if let Some(u) = &self.username {
            fields.push(Field {
                keys: USERNAME_KEYS,
                val: Val::Text(u.clone()),
            });
        }
        if let Some(g) = &self.groups {
            fields.push(Field {
                keys: GROUPS_KEYS,
                val: Val::List(g.clone()),
            });
        }
        if let Some(id) = &self.userid {
            fields.push(Field {
                keys: USERID_KEYS,
                val: Val::Text(id.clone()),
            });
        }
        if let Some(id) = &self.userid2 {
            fields.push(Field {
                keys: USERID_KEYS,
                val: Val::Text(id.clone()),
            });
        }
        if let Some(x) = &self.extra {
            fields.push(Field {
                keys: &["x-owner", "managedBy", "note"],
                val: Val::Text(x.clone()),
            });
        }
        // A deterministic shuffle: key order must not matter.
        let mut dice = Dice(self.order);
        for i in (1..fields.len()).rev() {
            fields.swap(i, dice.below(i + 1));
        }
        fields
    }

    fn refers_to(&self, account: usize, name: &str) -> bool {
        self.sso.is_none() && self.account == account && self.name.eq_ignore_ascii_case(name)
    }

    fn exact(&self, account: usize, name: &str) -> bool {
        self.refers_to(account, name) && self.path.is_none()
    }
}

const HOSTILE: &[&str] = &[
    "evil\n- rolearn: arn:aws:iam::111122223333:role/x\n  groups: [system:masters]",
    "a: b",
    "x #y",
    "- z",
    "{{SessionName}}",
    "system:node:{{EC2PrivateDNSName}}",
    "[a, b]",
    "{a: b}",
    "*x",
    "&x",
    "!x",
    "yes",
    "NULL",
    "0x1F",
    "12",
    "y",
    "n",
    "on",
    "Off",
    "true",
    "~",
    "null",
    "012",
    "012345678901",
    "1_000",
    "1e3",
    ".5",
    "'",
    "\"",
    "\\",
    " ",
    "",
    "\u{2028}",
    "\u{feff}",
    "日本",
    "---",
    "...",
    "-",
    "?",
];

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z][a-z0-9-]{0,10}(:[a-z0-9{}A-Z-]{1,12})?",
        2 => proptest::sample::select(HOSTILE).prop_map(str::to_string),
        2 => proptest::collection::vec(any::<char>(), 0..8).prop_map(String::from_iter),
        1 => "[ -~]{0,12}",
        1 => "[a-zäöüßéè日本語😀 :#-]{0,10}",
    ]
}

fn comment_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~äöü日本😀]{0,24}",
        // Ending like an empty item or key (`# see -`): as the last line of a text without a
        // final line break, grant once refused it as an empty `-`.
        1 => "([ -~]{0,8} )?[-?]",
    ]
}

fn role_item() -> impl Strategy<Value = RoleItem> {
    (
        (
            0..ACCOUNTS.len(),
            "[rR][A-Za-z0-9+=,.@_-]{0,8}",
            proptest::option::weighted(0.15, "[a-z]{1,5}(/[a-z0-9]{1,4}){0,2}"),
        ),
        (any::<bool>(), proptest::option::weighted(0.9, any_text())),
        proptest::option::weighted(0.8, proptest::collection::vec(any_text(), 0..4)),
        (
            proptest::option::weighted(0.1, "AROA[A-Z0-9]{8}"),
            proptest::option::weighted(0.1, any_text()),
            proptest::option::weighted(0.1, "[a-z]{1,8}"),
        ),
        (
            proptest::option::weighted(0.08, "[A-Za-z0-9+=,.@_-]{1,12}"),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (account, name, path),
                (upper, username),
                groups,
                (userid, userid2, extra),
                (sso, order),
            )| {
                RoleItem {
                    account,
                    name,
                    path,
                    upper: upper && order % 5 == 0,
                    username,
                    groups,
                    userid,
                    userid2,
                    extra,
                    sso,
                    order,
                }
            },
        )
}

fn doc_style() -> impl Strategy<Value = DocStyle> {
    (
        any::<u64>(),
        proptest::bool::weighted(0.3),
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.8),
        proptest::option::weighted(0.3, comment_text()),
        proptest::option::weighted(0.3, comment_text()),
    )
        .prop_map(
            |(seed, flow, crlf, trailing_newline, head_comment, tail_comment)| DocStyle {
                seed,
                flow,
                crlf,
                trailing_newline,
                head_comment,
                tail_comment,
            },
        )
}

/// chronom's rule for usernames and groups it writes, transcribed here rather than calling
/// `validate_username`, so that an over-strict validator fails a test instead of silently
/// narrowing what is generated: not empty, and every `{{` closed by `}}` around one of the
/// authenticator's placeholder names.
fn template_ok(s: &str) -> bool {
    const KNOWN: [&str; 5] = [
        "AccountID",
        "SessionName",
        "SessionNameRaw",
        "EC2PrivateDNSName",
        "AccessKeyID",
    ];
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return false;
        };
        if !KNOWN.contains(&&after[..close]) {
            return false;
        }
        rest = &after[close + 2..];
    }
    !s.is_empty()
}

/// What grant writes when the generated mapping is refused, so the case still runs.
fn fallback_mapping() -> (String, Vec<String>) {
    (
        "reader:{{SessionName}}".to_string(),
        vec!["viewers".to_string()],
    )
}

fn new_entry(account: usize, name: &str, username: String, groups: Vec<String>) -> NewRoleEntry {
    NewRoleEntry {
        rolearn: format!("arn:aws:iam::{}:role/{name}", ACCOUNTS[account])
            .parse::<CanonicalRoleArn>()
            .unwrap(),
        username,
        groups,
    }
}

fn wanted() -> impl Strategy<Value = (String, Vec<String>)> {
    (any_text(), proptest::collection::vec(any_text(), 0..4))
}

#[derive(Debug, Clone)]
struct Case {
    items: Vec<RoleItem>,
    style: DocStyle,
    comments: Vec<String>,
    new_name: String,
    new_account: usize,
    new_mapping: (String, Vec<String>),
    target: usize,
    reuse_existing: bool,
}

fn case(items: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(role_item(), items),
        doc_style(),
        proptest::collection::vec(comment_text(), 1..4),
        ("new-[A-Za-z0-9+=,.@_-]{0,10}", 0..ACCOUNTS.len()),
        wanted(),
        (any::<usize>(), proptest::bool::weighted(0.3)),
    )
        .prop_map(
            |(
                items,
                style,
                comments,
                (new_name, new_account),
                new_mapping,
                (target, reuse_existing),
            )| Case {
                items,
                style,
                comments,
                new_name,
                new_account,
                new_mapping,
                target,
                reuse_existing,
            },
        )
}

// ---------------------------------------------------------------------------------------
// The properties.

fn check<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: T,
    want: T,
    text: &str,
) -> Result<(), TestCaseError> {
    if got != want {
        return Err(TestCaseError::fail(format!(
            "{what}\n got: {got:?}\nwant: {want:?}\ntext:\n{text}"
        )));
    }
    Ok(())
}

fn group_set(groups: &[String]) -> BTreeSet<&str> {
    groups.iter().map(String::as_str).collect()
}

/// Every entry of `before` for which `untouched(i)` holds keeps its bytes in `after`, where
/// the untouched entries appear in the same order among `after[positions]`.
fn keeps_bytes(
    what: &str,
    (old_text, before): (&str, &[MapRoleEntry]),
    (new_text, after): (&str, &[MapRoleEntry]),
    pairs: impl Iterator<Item = (usize, usize)>,
) -> Result<usize, TestCaseError> {
    let mut compared = 0;
    for (old, new) in pairs {
        check(
            what,
            &new_text[after[new].span.clone()],
            &old_text[before[old].span.clone()],
            new_text,
        )?;
        compared += 1;
    }
    Ok(compared)
}

fn run_case(case: &Case, oracle: &OracleChecks) -> Result<(), TestCaseError> {
    let fields: Vec<Vec<Field>> = case.items.iter().map(RoleItem::fields).collect();
    let text = render(&fields, &case.style, &case.comments);

    // 1. One entry per generated item, with its ARN; what they mean is the oracle's to say.
    let before = parse_map_roles(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    check(
        "one entry per item, with its ARN",
        before.iter().map(|e| e.rolearn.clone()).collect::<Vec<_>>(),
        case.items
            .iter()
            .map(|i| {
                if i.sso.is_some() {
                    String::new()
                } else {
                    i.arn()
                }
            })
            .collect(),
        &text,
    )?;
    oracle.roles("generated", &text, &before);
    let model = ours_roles(&before);

    // 2. Grant a new role: exactly one entry more; revoke restores the bytes. A mapping
    // chronom must refuse is refused (by the test's own rule), and the case goes on with one
    // it accepts.
    let (username, groups) = case.new_mapping.clone();
    let acceptable = template_ok(&username) && groups.iter().all(|g| template_ok(g));
    let generated = new_entry(case.new_account, &case.new_name, username, groups);
    let new = match upsert_role(&text, &generated, false) {
        Ok(_) if acceptable => generated,
        Err(EditError::Username(_) | EditError::Group { .. }) if !acceptable => {
            let (username, groups) = fallback_mapping();
            new_entry(case.new_account, &case.new_name, username, groups)
        }
        other => {
            return Err(TestCaseError::fail(format!(
                "grant of {generated:?} (acceptable: {acceptable}) gave {other:?}\n{text}"
            )));
        }
    };
    let edit =
        upsert_role(&text, &new, false).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    check("grant adds", &edit.action, &EditAction::Added, &text)?;
    let mut expected = model.clone();
    expected.push(new_meaning(&new));
    let after = parse_map_roles(&edit.new_text)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", edit.new_text)))?;
    check(
        "our reading after grant",
        ours_roles(&after),
        expected,
        &edit.new_text,
    )?;
    oracle.roles("after grant", &edit.new_text, &after);
    keeps_bytes(
        "grant keeps every other entry's bytes",
        (&text, &before),
        (&edit.new_text, &after),
        (0..before.len()).map(|i| (i, i)),
    )?;
    if text.contains("\r\n") {
        check(
            "CRLF stays CRLF",
            edit.new_text.replace("\r\n", "").contains('\n'),
            false,
            &edit.new_text,
        )?;
    } else {
        check(
            "LF stays LF",
            edit.new_text.contains('\r'),
            text.contains('\r'),
            &edit.new_text,
        )?;
    }
    let again =
        upsert_role(&edit.new_text, &new, false).map_err(|e| TestCaseError::fail(e.to_string()))?;
    check(
        "grant is idempotent",
        (&again.action, &again.new_text),
        (&EditAction::Unchanged, &edit.new_text),
        &edit.new_text,
    )?;
    let removal = remove_role(&edit.new_text, &new.rolearn)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", edit.new_text)))?;
    check(
        "grant then revoke gives back the original bytes",
        &removal.new_text,
        &text,
        &edit.new_text,
    )?;
    check(
        "revoke removed one",
        removal.removed.len(),
        1,
        &edit.new_text,
    )?;

    // 3. Revoke an existing role: every entry about it goes, nothing else, and every other
    // entry keeps its bytes. With no role in the document, revoking one changes nothing and a
    // forced grant adds it.
    let roles: Vec<&RoleItem> = case.items.iter().filter(|i| i.sso.is_none()).collect();
    if roles.is_empty() {
        let absent = new_entry(0, "absent-role", "x".into(), vec![]).rolearn;
        let removal =
            remove_role(&text, &absent).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        check(
            "revoking an absent role",
            (removal.removed.len(), removal.new_text.as_str()),
            (0, text.as_str()),
            &text,
        )?;
        let forced = upsert_role(&text, &new, true)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        return check(
            "forced grant of a new role adds",
            &forced.action,
            &EditAction::Added,
            &text,
        );
    }
    let target = roles[case.target % roles.len()];
    let role = new_entry(target.account, &target.name, "x".into(), vec![]).rolearn;
    let removal =
        remove_role(&text, &role).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    let keep: Vec<bool> = case
        .items
        .iter()
        .map(|i| !i.refers_to(target.account, &target.name))
        .collect();
    let kept_indices: Vec<usize> = (0..keep.len()).filter(|&i| keep[i]).collect();
    check(
        "removed count",
        removal.removed.len(),
        keep.iter().filter(|k| !**k).count(),
        &text,
    )?;
    let after = parse_map_roles(&removal.new_text)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", removal.new_text)))?;
    check(
        "our reading after revoke",
        ours_roles(&after),
        kept_indices
            .iter()
            .map(|&i| model[i].clone())
            .collect::<Vec<_>>(),
        &removal.new_text,
    )?;
    keeps_bytes(
        "revoke keeps every other entry's bytes",
        (&text, &before),
        (&removal.new_text, &after),
        kept_indices.iter().copied().zip(0..),
    )?;
    oracle.roles("after revoke", &removal.new_text, &after);

    // 4. Grant for an existing role: unchanged, conflict, duplicates, or (forced) replaced,
    // the other entries keeping their bytes.
    let matching: Vec<usize> = (0..case.items.len()).filter(|&i| !keep[i]).collect();
    let target_entry = &before[matching[0]];
    let (username, groups) = if case.reuse_existing
        && target_entry.username.as_deref().is_some_and(template_ok)
        && target_entry.groups.iter().all(|g| template_ok(g))
    {
        (
            target_entry.username.clone().unwrap(),
            target_entry.groups.clone(),
        )
    } else if acceptable {
        case.new_mapping.clone()
    } else {
        fallback_mapping()
    };
    let wanted = new_entry(target.account, &target.name, username, groups);
    let first = &case.items[matching[0]];
    let unchanged = matching.len() == 1
        && first.exact(target.account, &target.name)
        && target_entry.username.as_deref() == Some(wanted.username.as_str())
        && group_set(&target_entry.groups) == group_set(&wanted.groups);
    let plain = upsert_role(&text, &wanted, false);
    match (&plain, unchanged, matching.len()) {
        (Ok(edit), true, _) => check("unchanged text", &edit.new_text, &text, &text)?,
        (Err(EditError::Conflict { .. }), false, 1) => {}
        (Err(EditError::Duplicates { entries, .. }), false, n) if n > 1 => {
            check("duplicates", entries.len(), n, &text)?
        }
        other => {
            return Err(TestCaseError::fail(format!(
                "unexpected outcome {other:?}\n{text}"
            )));
        }
    }
    let forced = upsert_role(&text, &wanted, true)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    if unchanged {
        return check(
            "forced unchanged",
            (&forced.action, forced.new_text.as_str()),
            (&EditAction::Unchanged, text.as_str()),
            &text,
        );
    }
    let kept = *matching
        .iter()
        .rev()
        .find(|&&i| case.items[i].exact(target.account, &target.name))
        .unwrap_or(matching.last().unwrap());
    let survivors: Vec<usize> = (0..keep.len()).filter(|&i| keep[i] || i == kept).collect();
    let expected: Vec<Meaning> = survivors
        .iter()
        .map(|&i| {
            if i == kept {
                new_meaning(&wanted)
            } else {
                model[i].clone()
            }
        })
        .collect();
    let after = parse_map_roles(&forced.new_text)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", forced.new_text)))?;
    check(
        "our reading after forced grant",
        ours_roles(&after),
        expected,
        &forced.new_text,
    )?;
    keeps_bytes(
        "a forced replace keeps every other entry's bytes",
        (&text, &before),
        (&forced.new_text, &after),
        survivors
            .iter()
            .copied()
            .zip(0..)
            .filter(|&(i, _)| i != kept),
    )?;
    oracle.roles("after forced grant", &forced.new_text, &after);
    Ok(())
}

/// `PROPTEST_CASES` (or `PROPTEST_CASES_BIG` for the 3,000-entry property) overrides.
fn cases(variable: &str, default: u32) -> u32 {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fewer cases than this means the property did not really run (`PROPTEST_CASES=0`).
const CASE_FLOOR: u32 = 32;

fn record(name: &str, ran: u32, floor: u32) {
    eprintln!("awsauth_props: {name}: {ran} generated cases passed");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("awsauth_props_cases.txt"))
    {
        let _ = writeln!(file, "{name}: {ran}");
    }
    assert!(
        ran >= floor,
        "{name}: only {ran} cases ran, fewer than the floor of {floor}; PROPTEST_CASES must not turn the property off"
    );
}

fn run<S: Strategy>(
    name: &str,
    (cases, floor): (u32, u32),
    strategy: S,
    test: impl Fn(&S::Value, &OracleChecks) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let ran = AtomicU32::new(0);
    let oracle = OracleChecks::default();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| {
        // Proptest re-runs shrunk inputs: only the texts of the last run of a case count.
        let pending = oracle.0.lock().unwrap().len();
        let outcome = test(&value, &oracle);
        if outcome.is_err() {
            oracle.0.lock().unwrap().truncate(pending);
        }
        outcome?;
        ran.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
    let ran = ran.load(Ordering::Relaxed);
    record(name, ran, floor);
    let texts = oracle.verify(name);
    assert!(texts as u32 >= ran, "{name}: {texts} texts for {ran} cases");
}

#[test]
fn map_roles_documents_read_edit_and_restore() {
    run(
        "mapRoles documents up to 30 entries",
        (cases("PROPTEST_CASES", 512), CASE_FLOOR),
        case(0..=30),
        run_case,
    );
}

#[test]
fn map_roles_documents_with_3000_entries() {
    run(
        "mapRoles documents with 3,000 entries",
        (cases("PROPTEST_CASES_BIG", 4), 1),
        case(3000..=3000),
        run_case,
    );
}

// mapUsers and mapAccounts: both parsers read the generated entries.

#[derive(Debug, Clone)]
struct UserItem {
    account: usize,
    path: Option<String>,
    name: String,
    username: Option<String>,
    groups: Option<Vec<String>>,
    order: u64,
}

fn user_item() -> impl Strategy<Value = UserItem> {
    (
        0..ACCOUNTS.len(),
        proptest::option::weighted(0.3, "[a-z]{1,5}"),
        "[A-Za-z0-9+=,.@_-]{1,10}",
        proptest::option::weighted(0.9, any_text()),
        proptest::option::weighted(0.8, proptest::collection::vec(any_text(), 0..3)),
        any::<u64>(),
    )
        .prop_map(|(account, path, name, username, groups, order)| UserItem {
            account,
            path,
            name,
            username,
            groups,
            order,
        })
}

#[test]
fn map_users_documents_read_alike() {
    run(
        "mapUsers documents",
        (cases("PROPTEST_CASES", 256), CASE_FLOOR),
        (
            proptest::collection::vec(user_item(), 0..20),
            doc_style(),
            proptest::collection::vec(comment_text(), 1..3),
        ),
        |(items, style, comments), oracle| {
            let mut fields_list = Vec::new();
            let mut arns = Vec::new();
            for item in items {
                let path = item
                    .path
                    .as_ref()
                    .map(|p| format!("{p}/"))
                    .unwrap_or_default();
                let arn = format!(
                    "arn:aws:iam::{}:user/{path}{}",
                    ACCOUNTS[item.account], item.name
                );
                let mut fields = vec![Field {
                    keys: USERARN_KEYS,
                    val: Val::Text(arn.clone()),
                }];
                if let Some(u) = &item.username {
                    fields.push(Field {
                        keys: USERNAME_KEYS,
                        val: Val::Text(u.clone()),
                    });
                }
                if let Some(g) = &item.groups {
                    fields.push(Field {
                        keys: GROUPS_KEYS,
                        val: Val::List(g.clone()),
                    });
                }
                if item.order % 2 == 1 {
                    fields.reverse();
                }
                fields_list.push(fields);
                arns.push(arn);
            }
            let text = render(&fields_list, style, comments);
            let entries =
                parse_map_users(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            check(
                "one mapUsers entry per item, with its ARN",
                entries
                    .iter()
                    .map(|e| e.userarn.clone())
                    .collect::<Vec<_>>(),
                arns,
                &text,
            )?;
            let users = entries
                .into_iter()
                .filter(|e| !e.is_dropped())
                .map(|e| User {
                    userarn: e.userarn,
                    username: e.username.unwrap_or_default(),
                    groups: e.groups,
                    userid: e.userid.unwrap_or_default(),
                })
                .collect();
            oracle.push(
                "mapUsers",
                "mapUsers",
                &text,
                InEffect {
                    roles: vec![],
                    users,
                    accounts: vec![],
                },
            );
            Ok(())
        },
    );
}

/// mapAccounts items: 12 digits (leading zeros included) or a YAML 1.1 word or number.
const ACCOUNT_WORDS: &[&str] = &["~", "null", "yes", "0x1F", "1_000", "1.50", "012", ""];

#[test]
fn map_accounts_documents_read_alike() {
    run(
        "mapAccounts documents",
        (cases("PROPTEST_CASES", 256), CASE_FLOOR),
        (
            proptest::collection::vec(
                (
                    prop_oneof![
                        4 => "[0-9]{12}",
                        1 => proptest::sample::select(ACCOUNT_WORDS).prop_map(str::to_string),
                    ],
                    any::<u8>(),
                ),
                0..10,
            ),
            any::<u64>(),
            any::<bool>(),
            any::<bool>(),
        ),
        |(accounts, seed, flow, crlf), oracle| {
            let mut dice = Dice(*seed);
            let written: Vec<String> = accounts
                .iter()
                .map(|(a, style)| match style % 3 {
                    0 if plain_ok(a, *flow) || (a.is_empty() && !*flow) => a.clone(),
                    1 => format!("'{a}'"),
                    _ => double(a, &mut dice),
                })
                .collect();
            let mut text = if *flow {
                format!("[{}]\n", written.join(", "))
            } else {
                written.iter().map(|w| format!("- {w}\n")).collect()
            };
            if *crlf {
                text = text.replace('\n', "\r\n");
            }
            let ours = parse_map_accounts(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            check("one account per item", ours.len(), accounts.len(), &text)?;
            let digits: Vec<(String, String)> = ours
                .iter()
                .zip(accounts)
                .filter(|(_, (a, _))| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
                .map(|(o, (a, _))| (o.account.clone(), a.clone()))
                .collect();
            check(
                "12 digits keep their text, leading zeros included",
                digits.iter().map(|(o, _)| o.as_str()).collect::<Vec<_>>(),
                digits.iter().map(|(_, a)| a.as_str()).collect::<Vec<_>>(),
                &text,
            )?;
            let in_effect = ours
                .into_iter()
                .filter(|a| !a.notes.iter().any(|n| n.drops_entry()))
                .map(|a| a.account)
                .collect();
            oracle.push(
                "mapAccounts",
                "mapAccounts",
                &text,
                InEffect {
                    roles: vec![],
                    users: vec![],
                    accounts: in_effect,
                },
            );
            Ok(())
        },
    );
}
