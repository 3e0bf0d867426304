//! Differential test of the audit's aws-auth reading against aws-iam-authenticator itself.
//!
//! Over hostile-but-valid aws-auth documents (a hand list of every construct go-yaml v2
//! accepts and the strict editor refuses, then thousands of generated ones mixing them), the
//! mappings chronom's lenient reader says are in effect must equal what the authenticator's
//! own mapper (`configmap.ParseMap` from sigs.k8s.io/aws-iam-authenticator v0.7.8, built by
//! scripts/oracle) puts in effect: same entries, same order, same fields. Nothing hidden,
//! nothing invented. The whole batch goes to one oracle process.
//!
//! The generated documents come from a fixed seed and a rotating one (printed; set
//! `CHRONOM_ORACLE_SEED` to replay). The number of documents compared is printed and must
//! reach a floor, so a run that compared nothing fails.

// `*dice.pick(WORDS)` copies the &str out of the shared SplitMix64's borrowed pick; without the
// `*`, as clippy suggests, inference takes the item type to be `str` and it does not compile.
#![allow(clippy::explicit_auto_deref)]

use crate::support::awsauth_oracle;
use crate::support::splitmix::SplitMix64 as Dice;

use std::collections::BTreeMap;

use awsauth_oracle::{Data, InEffect, lenient, oracle_with_errors, roles_only};

const FIXED_SEED: u64 = 0x00C0_FFEE_A0A0_2026;
/// Generated documents per seed.
const GENERATED: usize = 1500;
/// Fewer documents than this compared means the test did not really run.
const FLOOR: usize = 2 * GENERATED;

const R: &str = "arn:aws:iam::111122223333:role/admin";
const U: &str = "arn:aws:iam::111122223333:user/alice";

/// Every construct the issue names, one document each (and a few the oracle taught us).
fn hand_list() -> Vec<Data> {
    let roles = [
        // A tab after a colon (in block and flow), but not after `-` or as indentation.
        format!("- rolearn:\t{R}\n  groups:\t[system:masters]\n"),
        format!("- rolearn: {R}\n  groups:\n    -\tsystem:masters\n"),
        format!("- rolearn: {R}\n\tgroups: [system:masters]\n"),
        format!("[\t{{rolearn:\t{R},\tgroups:\t[system:masters]}}\t]"),
        format!("- rolearn \t: {R}\n  username:\t \tadmin\n"),
        // Anchors and aliases.
        format!("- rolearn: {R}\n  groups: &g [system:masters]\n- rolearn: {R}x\n  groups: *g\n"),
        format!("- &e {{rolearn: {R}, groups: [system:masters]}}\n- *e\n"),
        format!("- rolearn: &a {R}\n  username: *a\n"),
        format!("- &a [*a]\n- rolearn: {R}\n"),
        "- *missing\n".to_string(),
        format!("- &x {{rolearn: {R}}}\n- &x {{rolearn: {R}2}}\n- *x\n"),
        // Merge keys: before and after explicit keys, lists of sources, nested, quoted.
        format!(
            "- &b {{groups: [system:masters], username: b}}\n  rolearn: x\n- <<: *b\n  rolearn: {R}\n"
        ),
        format!("- &b {{rolearn: {R}, username: base}}\n- username: explicit\n  <<: *b\n"),
        format!("- &b {{rolearn: {R}, username: base}}\n- <<: *b\n  username: explicit\n"),
        format!(
            "- &a {{rolearn: {R}, username: A}}\n- &b {{username: B, groups: [g]}}\n- <<: [*a, *b]\n"
        ),
        format!("- {{<<: {{rolearn: {R}, groups: [system:masters]}}}}\n"),
        format!("- \"<<\": {{rolearn: {R}}}\n"),
        format!("- !!merge <<: {{rolearn: {R}}}\n"),
        format!("- rolearn: {R}\n  <<: ~\n"),
        format!("- rolearn: {R}\n  <<: [x]\n"),
        // A second document is never read; nor is anything after `...`.
        format!("- rolearn: {R}\n  groups: [system:masters]\n---\n- rolearn: {R}2\n"),
        format!("- rolearn: {R}\n---\n- broken: [\n"),
        format!("- rolearn: {R}\n...\n- rolearn: {R}2\n"),
        format!("---\n- rolearn: {R}\n"),
        "---\n".to_string(),
        // Byte-order mark; line breaks YAML 1.1 knows.
        format!("\u{feff}- rolearn: {R}\n  groups: [system:masters]\n"),
        format!("- rolearn: x\n\u{feff}- rolearn: {R}\n  groups: [system:masters]\n"),
        format!("\u{feff}- rolearn:\t{R}\n  groups:\t[system:masters]\n"),
        format!("---\n\u{feff}- rolearn: {R}\n"),
        format!("- rolearn: {R}\r\n  groups: [g]\r\n"),
        format!("- rolearn: {R}\r  groups: [g]\r"),
        format!("- rolearn: {R}\u{85}  groups: [g]\n"),
        format!("- rolearn: {R}\u{2028}  username: x\n"),
        format!("- rolearn: {R}\n  username: \"a\u{85} b\"\n"),
        // YAML 1.1 scalars.
        format!(
            "- rolearn: {R}\n  username: yes\n  groups: [on, off, y, n, NO, null, ~, 012, 0x1F, 1_000, 1.5, .5]\n"
        ),
        format!("- rolearn: {R}\n  username: 2024-01-01\n  groups: [\"on\", 'off', !!str yes]\n"),
        format!("- rolearn: {R}\n  username: !!int 5\n"),
        format!("- rolearn: {R}\n  username: !!int abc\n"),
        format!("- rolearn: {R}\n  username: !!float 1\n"),
        format!("- rolearn: {R}\n  username: !foo bar\n"),
        format!(
            "- rolearn: !!binary {}\n",
            "YXJuOmF3czppYW06OjExMTEyMjIyMzMzMzpyb2xlL2FkbWlu"
        ),
        "- rolearn: !!binary '*'\n".to_string(),
        format!("- rolearn: {R}\n  x: .nan\n"),
        format!("- rolearn: {R}\n  groups: [-.Inf]\n"),
        format!("- rolearn: {R}\n  username: 1e999\n"),
        // Keys: duplicates, case folding, odd key types.
        format!("- rolearn: {R}\n  RoleArn: {R}2\n"),
        format!("- RoleArn: {R}2\n  rolearn: {R}\n"),
        format!("- ROLEARN: {R}\n  RoleArn: {R}2\n"),
        format!("- rolearn: {R}\n  rolearn: 5\n"),
        format!("- rolearn: {R}2\n  rolearn: {R}\n  username: a\n  UserName: b\n  USERNAME: c\n"),
        format!("- rolearn: {R}\n  ~: x\n"),
        format!("- rolearn: {R}\n  yes: x\n  1: y\n  0x1: z\n  1.5: w\n"),
        format!("- rolearn: {R}\n  18446744073709551615: x\n"),
        format!("- rolearn: {R}\n  9223372036854775807: x\n"),
        format!("- rolearn: {R}\n  [a]: x\n"),
        format!("- rolearn: {R}\n  \u{212A}: kelvin\n  groups: [g]\n"),
        format!("- rolearn: {R}\n  gRoUpS: [g]\n  Groups: [h]\n"),
        // Values of the wrong type, validation, sso.
        format!(
            "- rolearn: {R}\n  groups: system:masters\n- rolearn: 5\n- username: x\n- just text\n- null\n- [a]\n"
        ),
        format!("- rolearn: {R}\n  groups: ~\n  username: ~\n"),
        "- sso: {permissionSetName: Admin, accountID: \"012345678901\"}\n  groups: [system:masters]\n".to_string(),
        "- sso: {permissionSetName: Admin, accountID: 012345678901}\n".to_string(),
        "- sso: {permissionSetName: Admin, accountID: '111122223333', partition: aws-cn}\n".to_string(),
        "- sso: {permissionSetName: 'bad name', accountID: '111122223333'}\n".to_string(),
        "- sso: {permissionSetName: A, accountID: '111122223333'}\n  sso: {accountID: '444455556666'}\n".to_string(),
        format!("- sso: {{permissionSetName: A, accountID: '111122223333'}}\n  rolearn: {R}\n"),
        // Numbers in Go's syntax, which go-yaml v2 takes through strconv: `_` between digits
        // in a `.` float (`.4_4` is 0.44, so this entry is dropped), a sign after `0b`, but not
        // after `0x`/`0o`/a leading `0` (those stay text). Found by awsauth_props (random seed).
        "  -   SSO:\n        permissionSetName: .4_4\n        accountID: '111122223333'\n      groups:\n        - \"\u{863e9}\\u000b\u{468}<\u{468}\\\\\"\n      USERNAME:  \"true\"\n".to_string(),
        "- sso: {permissionSetName: .5_5e1_0, accountID: '111122223333'}\n".to_string(),
        "- sso: {permissionSetName: 0+17, accountID: '111122223333'}\n  username: 0b-101\n".to_string(),
        "- rolearn: 0x+1F\n  username: .4_4\n  groups: [0+17, 0o+17, 0b-101, 0b+101, -0b+101, -0b-101, -+3, ++1, +_+4, ._4, .4_, .4__4, 1:30, .1e-999, .1e999]\n".to_string(),
        format!(
            "- rolearn: {R}\n  username: +.4_4\n  groups: [.4_4e, .1_0e1_0, 1_0.5, 0b+{ones}, 0b{ones}]\n",
            ones = "1".repeat(64)
        ),
        "- rolearn: .4_4\n  groups: [g]\n- rolearn: 1_0.5\n- rolearn: 0b-1\n".to_string(),
        format!("- rolearn: {R}\n  .4_4: x\n  0x+1F: y\n"),
        format!("- rolearn: {R}\n  username: !!float .4_4\n"),
        format!("- rolearn: {R}\n  username: !!int 0x+1F\n"),
        format!("- rolearn: {R}\n  username: !!int 0b-101\n"),
        // Whole-section shapes.
        "{\"a\": 1}".to_string(),
        format!("  {{rolearn: {R}}}"),
        format!("[{{\"rolearn\": \"{R}\", \"groups\": [\"system:masters\"]}}]"),
        "hello\n".to_string(),
        "yes\n".to_string(),
        "null\n".to_string(),
        "``".to_string(),
        " '' ".to_string(),
        format!("# only a comment\n- rolearn: {R} # trailing\n  # between\n  groups: [g] # more\n"),
        format!("%YAML 1.1\n---\n- rolearn: {R}\n"),
        format!("%YAML 1.2\n---\n- rolearn: {R}\n"),
        format!("- rolearn: \"{R}\"\n  username: \"a\\/b\"\n"),
        format!("[{{rolearn: {R}, username: x?y}}]"),
        format!("[{{rolearn: {R}, username: a:b, groups: [c:d]}}]"),
        // libyaml refuses a flow value ending in `:` before `,]}`; go-yaml keeps the colon.
        format!("[{{rolearn: {R}, username: a:, groups: [x:, system:masters]}}]"),
        format!("- {{rolearn: {R}, groups: [system:masters], u: z:}}\n"),
        format!("[{{rolearn: {R}, groups: [a:[b]]}}]"),
        format!("- rolearn: \"{R}\"\n  username: \"a\\\tb\"\n"),
        format!("- rolearn: >-\n    {R}\n  username: |\n    multi\n    line\n"),
        // A block scalar that ends the text without a line break (found by fuzzing).
        format!("- rolearn: {R}\n  username: |\n    multi"),
        format!("- rolearn: {R}\n  username: |+\n    multi"),
        format!("- rolearn: {R}\n  username: >\n    a\n    b"),
        format!("- rolearn: {R}\n  username: |\n    multi  "),
        format!("- rolearn: {R}\n  username: |\n    multi\n   "),
        format!("- rolearn: {R}\n  username: |\n    multi\n# c"),
        // Content that starts like a header, an explicit indentation, and a last line of
        // spaces at or past the content's indentation (found by fuzzing).
        format!("- rolearn: {R}\n  username: |\n    |multi\n     "),
        format!("- rolearn: {R}\n  username: |\n    >multi\n    "),
        format!("- rolearn: {R}\n  username: |2\n    multi\n     "),
        format!("- rolearn: {R}\n  username: >1-\n    multi\n       "),
        format!("- ? rolearn\n  : {R}\n"),
        // An empty item, which Validate drops alone, and a comment ending like one, last and
        // without a final line break (grant refused both once).
        format!("- rolearn: {R}\n  groups: [system:masters]\n-"),
        format!("  - rolearn: {R}\n    groups:\n      -\n      - system:masters\n  -"),
        format!("- rolearn: {R}\n  groups: [system:masters]\n# see -"),
    ];
    let mut docs: Vec<Data> = roles.iter().map(|t| roles_only(t)).collect();
    let users = [
        format!("- userarn:\t{U}\n  groups: &g [system:masters]\n- userarn: {U}2\n  groups: *g\n"),
        format!("- &u {{userarn: {U}, username: alice}}\n- <<: *u\n  UserArn: {U}3\n"),
        format!("- userarn: {U}\n  USERARN: {U}2\n"),
        format!("\u{feff}- userarn: {U}\n---\n- x\n"),
    ];
    docs.extend(users.iter().map(|t| data("mapUsers", t)));
    let accounts = [
        "- 0123\n- 111122223333\n- 1_000\n- 0x1F\n- yes\n- ~\n- [a]\n- 1.50\n- \"012345678901\"\n- 012345678901\n",
        "- &a 012345678901\n- *a\n- !!binary MTExMTIyMjIzMzMz\n- {a: b}\n",
        "- 111122223333\n- !!int abc\n- 444455556666\n",
        "\u{feff}-\t111122223333\n",
        "111122223333\n",
        "{a: 1}\n",
        "- 111122223333\n---\n- 444455556666\n",
        "- &a [*a]\n- 111122223333\n",
    ];
    docs.extend(accounts.iter().map(|t| data("mapAccounts", t)));
    docs
}

fn data(key: &str, text: &str) -> Data {
    BTreeMap::from([(key.to_string(), text.to_string())])
}

const WORDS: &[&str] = &[
    "system:masters",
    "admin",
    "viewers",
    "ops:{{SessionName}}",
    "system:node:{{EC2PrivateDNSName}}",
    "system:bootstrappers",
    "y",
    "n",
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "null",
    "~",
    "",
    "012",
    "0x1F",
    "1_000",
    "1.5",
    "1e3",
    "2024-01-01",
    "a b",
    "é-ünï",
    "#x",
    "x#y",
    "- dash",
    "colon: space",
    "quote'\"",
    "back\\slash",
    "end:",
    "a:b:",
];

const ROLE_ARNS: &[&str] = &[
    "arn:aws:iam::111122223333:role/admin",
    "arn:aws:iam::111122223333:role/Admin",
    "ARN:AWS:IAM::111122223333:ROLE/ADMIN",
    "arn:aws:iam::111122223333:role/team/admin",
    "arn:aws:sts::111122223333:assumed-role/admin/s",
    "arn:aws:iam::012345678901:role/zero",
    "arn:aws-cn:iam::111122223333:role/cn",
    "not-an-arn",
];

const ACCOUNTS: &[&str] = &[
    "111122223333",
    "012345678901",
    "0123",
    "1_000",
    "0x1F",
    "1.50",
    "yes",
    "~",
    "",
    "444455556666",
];

/// A scalar in a style chosen by the dice; the plain style only where it stays one scalar.
fn scalar(s: &str, flow: bool, dice: &mut Dice) -> String {
    let plain_safe = !s.is_empty()
        && !s.starts_with(|c: char| "-#&*!|>'\"%@`{}[],? ".contains(c))
        && !s.contains(": ")
        && !s.contains(" #")
        && (flow || !s.ends_with(':'))
        && !s.ends_with(' ')
        && !(flow && s.contains(|c: char| ",[]{}?".contains(c)))
        && !s.contains(['\\', '\'', '"'])
        && !s.contains("{{");
    match dice.below(10) {
        0..=4 if plain_safe => s.to_string(),
        5 => format!("'{}'", s.replace('\'', "''")),
        6 => format!("!!str {}", scalar(s, flow, dice)),
        7 if !s.is_empty() => {
            use base64::Engine as _;
            format!(
                "!!binary {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        }
        _ => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

/// The separator after a key's colon: go-yaml takes a tab there.
fn colon(dice: &mut Dice) -> &'static str {
    *dice.pick(&[": ", ": ", ":\t", ": \t", ":\t "])
}

fn key_spelling(name: &str, dice: &mut Dice) -> String {
    match dice.below(8) {
        0 => name.to_uppercase(),
        1 => {
            let mut c = name.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
        2 => format!("\"{name}\""),
        _ => name.to_string(),
    }
}

/// A generated entry: its fields as (key, rendered value) in writing order.
fn entry_fields(
    arn_key: &str,
    dice: &mut Dice,
    flow: bool,
    anchors: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let arn = if arn_key == "userarn" {
        dice.pick(&[
            U,
            "arn:aws:iam::111122223333:user/ops/bob",
            "ARN:AWS:IAM::111122223333:USER/ALICE",
        ])
        .to_string()
    } else {
        dice.pick(ROLE_ARNS).to_string()
    };
    if arn_key == "rolearn" && dice.chance(8) {
        let account = *dice.pick(ACCOUNTS);
        let account = if dice.chance(50) {
            account.to_string()
        } else {
            format!("'{account}'")
        };
        let name = *dice.pick(&["Admin", "Read_Only", "bad name", ""]);
        fields.push((
            key_spelling("sso", dice),
            format!(
                "{{permissionSetName: {}, accountID: {account}}}",
                scalar(name, true, dice)
            ),
        ));
    } else if !dice.chance(5) {
        fields.push((key_spelling(arn_key, dice), scalar(&arn, flow, dice)));
    }
    if dice.chance(80) {
        fields.push((
            key_spelling("username", dice),
            scalar(*dice.pick(WORDS), flow, dice),
        ));
    }
    if dice.chance(85) {
        let n = dice.below(4);
        let groups: Vec<String> = (0..n)
            .map(|_| scalar(*dice.pick(WORDS), true, dice))
            .collect();
        let mut list = format!("[{}]", groups.join(", "));
        if dice.chance(20) {
            let name = format!("g{}", anchors.len());
            list = format!("&{name} {list}");
            anchors.push(name);
        } else if !anchors.is_empty() && dice.chance(15) {
            list = format!("*{}", *dice.pick(anchors));
        } else if dice.chance(10) {
            list = scalar(*dice.pick(WORDS), flow, dice);
        }
        fields.push((key_spelling("groups", dice), list));
    }
    if dice.chance(10) {
        fields.push((
            key_spelling("userid", dice),
            scalar(*dice.pick(WORDS), flow, dice),
        ));
    }
    if dice.chance(15) {
        fields.push((
            key_spelling(*dice.pick(&["extra", "note", "k"]), dice),
            scalar(*dice.pick(WORDS), flow, dice),
        ));
    }
    // A key written twice, or two spellings that fold alike.
    if !fields.is_empty() && dice.chance(15) {
        let (k, _) = fields[dice.below(fields.len())].clone();
        let k = if dice.chance(50) {
            key_spelling(&k.trim_matches('"').to_lowercase(), dice)
        } else {
            k
        };
        let v = if k.to_lowercase().contains("groups") {
            "[system:masters]".to_string()
        } else {
            scalar(*dice.pick(WORDS), flow, dice)
        };
        fields.push((k, v));
    }
    let n = fields.len();
    for i in 0..n {
        let j = dice.below(n);
        fields.swap(i, j);
    }
    fields
}

/// A generated mapRoles or mapUsers document mixing every construct.
fn generated_entries(arn_key: &str, dice: &mut Dice) -> String {
    let mut out = String::new();
    let mut anchors: Vec<String> = Vec::new();
    let mut entry_anchors: Vec<String> = Vec::new();
    if dice.chance(10) {
        out.push('\u{feff}');
    }
    if dice.chance(10) {
        out.push_str("# aws-auth\n");
    }
    if dice.chance(10) {
        out.push_str("---\n");
    }
    let flow_doc = dice.chance(15);
    if flow_doc {
        out.push('[');
    }
    let entries = 1 + dice.below(5);
    for i in 0..entries {
        let flow_entry = flow_doc || dice.chance(25);
        let fields = entry_fields(arn_key, dice, flow_entry, &mut anchors);
        let mut anchor = String::new();
        if dice.chance(20) {
            let name = format!("e{}", entry_anchors.len());
            anchor = format!("&{name} ");
            entry_anchors.push(name);
        }
        // Whole entry as an alias, or a merge of earlier entries.
        let alias = !entry_anchors.is_empty() && anchor.is_empty() && dice.chance(10);
        let merge = if !entry_anchors.is_empty() && anchor.is_empty() && !alias && dice.chance(20) {
            let a = dice.pick(&entry_anchors);
            Some(if dice.chance(30) {
                let b = dice.pick(&entry_anchors);
                format!("[*{a}, *{b}]")
            } else {
                format!("*{a}")
            })
        } else {
            None
        };
        if flow_doc {
            if i > 0 {
                out.push_str(if dice.chance(50) { ", " } else { ",\n  " });
            }
            if alias {
                out.push_str(&format!("*{}", *dice.pick(&entry_anchors)));
                continue;
            }
            let mut parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}{}{v}", colon(dice)))
                .collect();
            if let Some(m) = merge {
                parts.insert(dice.below(parts.len() + 1), format!("<<: {m}"));
            }
            out.push_str(&format!("{anchor}{{{}}}", parts.join(", ")));
        } else {
            if alias {
                out.push_str(&format!("- *{}\n", *dice.pick(&entry_anchors)));
                continue;
            }
            let mut lines: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}{}{v}", colon(dice)))
                .collect();
            if let Some(m) = merge {
                lines.insert(dice.below(lines.len() + 1), format!("<<: {m}"));
            }
            if lines.is_empty() {
                out.push_str(&format!("- {anchor}{{}}\n"));
                continue;
            }
            if !anchor.is_empty() && dice.chance(50) {
                // An anchored block mapping starts on the next line.
                out.push_str(&format!("- {}\n", anchor.trim_end()));
                for l in &lines {
                    out.push_str(&format!("  {l}\n"));
                }
                continue;
            }
            for (n, l) in lines.iter().enumerate() {
                let lead = if n == 0 {
                    format!("- {anchor}")
                } else {
                    "  ".to_string()
                };
                out.push_str(&format!("{lead}{l}"));
                out.push_str(if dice.chance(5) { " # note\n" } else { "\n" });
            }
        }
    }
    if flow_doc {
        out.push_str("]\n");
    }
    if dice.chance(10) {
        out.push_str(*dice.pick(&[
            "---\n- rolearn: x\n  groups: [system:masters]\n",
            "...\n",
            "---\n- [broken\n",
        ]));
    }
    match dice.below(20) {
        0 => out.replace('\n', "\r\n"),
        1 => out.replacen('\n', "\u{85}", 1),
        // go-yaml skips a byte-order mark only at the very start, not at a later line's.
        2 => out.replacen("\n", "\n\u{feff}", 1),
        _ => out,
    }
}

fn generated_accounts(dice: &mut Dice) -> String {
    let mut out = String::new();
    if dice.chance(10) {
        out.push('\u{feff}');
    }
    let mut anchored = Vec::new();
    for i in 0..1 + dice.below(4) {
        let a = *dice.pick(ACCOUNTS);
        let v = if !anchored.is_empty() && dice.chance(15) {
            format!("*{}", *dice.pick(&anchored))
        } else if dice.chance(15) {
            anchored.push(format!("a{i}"));
            format!("&a{i} {}", scalar(a, false, dice))
        } else {
            scalar(a, false, dice)
        };
        out.push_str(&format!(
            "-{}{v}\n",
            if dice.chance(10) { "\t" } else { " " }
        ));
    }
    out
}

fn generated(seed: u64) -> Vec<Data> {
    let mut dice = Dice(seed);
    (0..GENERATED)
        .map(|_| {
            let mut d = Data::new();
            d.insert("mapRoles".into(), generated_entries("rolearn", &mut dice));
            if dice.chance(40) {
                d.insert("mapUsers".into(), generated_entries("userarn", &mut dice));
            }
            if dice.chance(30) {
                d.insert("mapAccounts".into(), generated_accounts(&mut dice));
            }
            d
        })
        .collect()
}

/// The old audit's reading: the strict parser, where a refused section showed nothing.
fn strict(data: &Data) -> InEffect {
    let text = |k: &str| data.get(k).map(String::as_str).unwrap_or("");
    let mut as_lenient = lenient(&Data::new());
    if let Ok(entries) = chronom_core::awsauth::parse_map_roles(text("mapRoles")) {
        as_lenient.roles = entries
            .into_iter()
            .filter(|e| !e.is_dropped())
            .map(|e| awsauth_oracle::Role {
                rolearn: e.rolearn,
                sso: e.sso.map(|s| awsauth_oracle::Sso {
                    permission_set_name: s.permission_set_name,
                    account_id: s.account_id,
                    partition: s.partition,
                }),
                username: e.username.unwrap_or_default(),
                groups: e.groups,
                userid: e.userid.unwrap_or_default(),
            })
            .collect();
    }
    if let Ok(entries) = chronom_core::awsauth::parse_map_users(text("mapUsers")) {
        as_lenient.users = entries
            .into_iter()
            .filter(|e| !e.is_dropped())
            .map(|e| awsauth_oracle::User {
                userarn: e.userarn,
                username: e.username.unwrap_or_default(),
                groups: e.groups,
                userid: e.userid.unwrap_or_default(),
            })
            .collect();
    }
    if let Ok(accounts) = chronom_core::awsauth::parse_map_accounts(text("mapAccounts")) {
        as_lenient.accounts = accounts
            .into_iter()
            .filter(|a| !a.notes.iter().any(|n| n.drops_entry()))
            .map(|a| a.account)
            .collect();
    }
    as_lenient
}

#[test]
fn lenient_reader_agrees_with_aws_iam_authenticator() {
    let rotating = std::env::var("CHRONOM_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!(
        "generated documents: fixed seed {FIXED_SEED}, rotating seed {rotating} (CHRONOM_ORACLE_SEED={rotating} replays it)"
    );
    let hand = hand_list();
    let mut docs = hand.clone();
    docs.extend(generated(FIXED_SEED));
    docs.extend(generated(rotating));

    let answers = oracle_with_errors(&docs);
    let mut mismatches = Vec::new();
    let (mut strict_mismatches, mut in_effect, mut section_failures) = (0usize, 0usize, 0usize);
    for (doc, (want, error)) in docs.iter().zip(&answers) {
        let got = lenient(doc);
        if got != *want {
            mismatches.push(format!(
                "document {doc:?}\n  aws-iam-authenticator: {want:?} (error: {error:?})\n  lenient reader:        {got:?}"
            ));
        }
        if strict(doc) != *want {
            strict_mismatches += 1;
        }
        in_effect += want.roles.len() + want.users.len() + want.accounts.len();
        section_failures += usize::from(error.contains("yaml:") || error.contains("unsupported"));
    }
    eprintln!(
        "compared {} documents with aws-iam-authenticator v0.7.8 ({} hand-written, {} generated): {} mappings in effect, {} with a section the authenticator could not read; lenient reader mismatches: {}; the strict parser (the old audit's reading) differs on {}",
        docs.len(),
        hand.len(),
        docs.len() - hand.len(),
        in_effect,
        section_failures,
        mismatches.len(),
        strict_mismatches
    );
    assert!(
        mismatches.is_empty(),
        "{} documents read differently:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        docs.len() >= FLOOR,
        "only {} documents compared",
        docs.len()
    );
    // The comparison must have had something to compare: mappings in effect, and documents
    // the strict parser could not read.
    assert!(in_effect > GENERATED, "only {in_effect} mappings in effect");
    assert!(
        strict_mismatches > 0,
        "no document exercised what the strict parser refuses"
    );
}
