//! What an aws-auth entry says, read the way aws-iam-authenticator reads it: YAML (go-yaml v2,
//! YAML 1.1 scalars) turned into JSON, then Go's `encoding/json` into `RoleMapping` /
//! `UserMapping` (`pkg/config/types.go`): field names match case-insensitively, unknown
//! fields are ignored, a later duplicate field wins, a value of the wrong JSON type is
//! skipped with an error while the rest of the entry is still used.

use std::fmt;
use std::ops::Range;

use saphyr_parser::ScalarStyle;
use serde::Serialize;

use super::document::{Node, NodeKind};
use crate::arn::{self, CanonicalRoleArn, PrincipalArn};

/// The alpha `sso` matcher of a mapRoles entry (feature gate `SSORoleMatch`, off by
/// default): matches `arn:aws:iam::ACCOUNT:role/AWSReservedSSO_PERMISSIONSET_*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SsoMatcher {
    pub permission_set_name: String,
    pub account_id: String,
    /// Empty when not given.
    pub partition: String,
}

/// A key the authenticator does not know, kept with its value's source text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtraField {
    pub key: String,
    pub value: String,
}

/// Something about an entry that makes aws-iam-authenticator read it differently from how
/// it looks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EntryNote {
    /// The list item is not a mapping: the authenticator rejects it.
    NotAMapping,
    /// No `rolearn`/`sso` (mapRoles) or no `userarn` (mapUsers): rejected.
    MissingArn { field: &'static str },
    /// Both `rolearn` and `sso`: rejected.
    ArnAndSso,
    /// A value of the wrong type, skipped by the authenticator (the field stays empty).
    IgnoredValue {
        field: String,
        raw: String,
        reason: String,
    },
    /// The field appears more than once (keys compare case-insensitively); the last wins.
    DuplicateField { field: String },
    /// The `sso` matcher fails the authenticator's validation: rejected.
    InvalidSso { reason: String },
    /// `sso.partition` is set: the authenticator then builds a pattern with an empty
    /// partition (`SSOArnLike`), which matches no real ARN.
    SsoPartitionNeverMatches { partition: String },
    /// The ARN can never equal a caller's canonical ARN.
    UnusableArn { reason: String },
    /// A mapAccounts item that is not a 12-digit account ID.
    InvalidAccount { account: String },
}

impl EntryNote {
    /// Does aws-iam-authenticator drop the whole entry because of this?
    pub fn drops_entry(&self) -> bool {
        matches!(
            self,
            EntryNote::NotAMapping
                | EntryNote::MissingArn { .. }
                | EntryNote::ArnAndSso
                | EntryNote::InvalidSso { .. }
        )
    }
}

impl fmt::Display for EntryNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryNote::NotAMapping => write!(
                f,
                "the item is not a mapping; aws-iam-authenticator rejects it"
            ),
            EntryNote::MissingArn { field } => write!(
                f,
                "the entry has no {field}; aws-iam-authenticator rejects it"
            ),
            EntryNote::ArnAndSso => write!(
                f,
                "the entry has both rolearn and sso; aws-iam-authenticator rejects it"
            ),
            EntryNote::IgnoredValue { field, raw, reason } => {
                write!(
                    f,
                    "{field} {raw:?} {reason}; aws-iam-authenticator ignores the value (quote it to keep it as text)"
                )
            }
            EntryNote::DuplicateField { field } => {
                write!(
                    f,
                    "{field} is given more than once (keys compare case-insensitively); the last one wins"
                )
            }
            EntryNote::InvalidSso { reason } => write!(
                f,
                "sso is invalid ({reason}); aws-iam-authenticator rejects the entry"
            ),
            EntryNote::SsoPartitionNeverMatches { partition } => write!(
                f,
                "sso.partition {partition:?} is set; aws-iam-authenticator then matches against an empty partition, so this entry never matches"
            ),
            EntryNote::UnusableArn { reason } => write!(
                f,
                "aws-iam-authenticator never matches this entry: {reason}"
            ),
            EntryNote::InvalidAccount { account } => {
                write!(f, "{account:?} is not a 12-digit AWS account ID")
            }
        }
    }
}

/// One mapRoles entry as written, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapRoleEntry {
    /// `""` when absent (as in Go): `sso` entries have none.
    pub rolearn: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub userid: Option<String>,
    pub sso: Option<SsoMatcher>,
    pub extra: Vec<ExtraField>,
    pub notes: Vec<EntryNote>,
    /// Byte range of the entry in the text: from its `-` (block) or its first character
    /// (flow) to the end of its last value.
    pub span: Range<usize>,
    /// 1-based line and column (in characters) of `span.start`.
    pub line: usize,
    pub column: usize,
}

impl MapRoleEntry {
    /// Does aws-iam-authenticator reject this entry outright?
    pub fn is_dropped(&self) -> bool {
        self.notes.iter().any(EntryNote::drops_entry)
    }

    /// Is this entry about `role` (path ignored, case-insensitive)? Dead entries included.
    pub fn refers_to(&self, role: &CanonicalRoleArn) -> bool {
        !self.rolearn.is_empty() && role.matches(&self.rolearn)
    }

    /// Would aws-iam-authenticator use this entry for a session of `role`?
    pub fn authenticator_matches(&self, role: &CanonicalRoleArn) -> bool {
        !self.is_dropped() && role.authenticator_matches(&self.rolearn)
    }
}

/// One mapUsers entry as written, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapUserEntry {
    /// `""` when absent.
    pub userarn: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub userid: Option<String>,
    pub extra: Vec<ExtraField>,
    pub notes: Vec<EntryNote>,
    pub span: Range<usize>,
    pub line: usize,
    pub column: usize,
}

impl MapUserEntry {
    pub fn is_dropped(&self) -> bool {
        self.notes.iter().any(EntryNote::drops_entry)
    }
}

/// One mapAccounts item: callers from this account are let in as their ARN, no groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapAccount {
    /// The text go-yaml reads into the string (`""` for a null item).
    pub account: String,
    pub notes: Vec<EntryNote>,
    pub span: Range<usize>,
    pub line: usize,
    pub column: usize,
}

/// Where an item sits: passed in by the parser.
pub(crate) struct Place {
    pub span: Range<usize>,
    pub line: usize,
    pub column: usize,
}

/// What go-yaml v2 resolves a plain scalar to (`resolve.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Yaml11 {
    Str,
    Null,
    Bool,
    Int,
    Float,
}

/// go-yaml v2's implicit typing of a plain scalar.
pub(crate) fn yaml11_resolve(s: &str) -> Yaml11 {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Yaml11::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" | "n"
        | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Yaml11::Bool;
        }
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => return Yaml11::Float,
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        // go-yaml tries `strconv.ParseFloat(in)` on the text as written, and Go's float syntax
        // takes `_` between digits: `.4_4` is the number 0.44, not text.
        return if go_parses_float(s) {
            Yaml11::Float
        } else {
            Yaml11::Str
        };
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Yaml11::Str;
    }
    if go_int_value(s).is_some() {
        return Yaml11::Int;
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    if yaml_style_float(&plain) && plain.parse::<f64>().is_ok_and(f64::is_finite) {
        return Yaml11::Float;
    }
    Yaml11::Str
}

/// The boolean go-yaml v2 reads a plain scalar that [`yaml11_resolve`]s to `Bool` as.
pub(crate) fn yaml11_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON"
    )
}

/// The integer go-yaml v2 (resolve.go, hints `D` and `S`) reads a plain scalar as, if any: it
/// drops every `_`, tries `strconv.ParseInt(plain, 0, 64)` and `ParseUint(plain, 0, 64)`, and
/// after the float check (which no text passing these passes) `0b` + `ParseInt(rest, 2, 64)`,
/// which takes a sign after the prefix (`0b-101` is -5), or `-0b` + `ParseInt("-" + rest, 2)`.
pub(crate) fn go_int_value(s: &str) -> Option<i128> {
    if !s.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-') {
        return None;
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    if let Some(v) = go_parse_int(&plain, 0) {
        return Some(v.into());
    }
    if let Some(v) = go_parse_uint(&plain, 0) {
        return Some(v.into());
    }
    if let Some(rest) = plain.strip_prefix("0b") {
        go_parse_int(rest, 2)
            .map(i128::from)
            .or_else(|| go_parse_uint(rest, 2).map(i128::from))
    } else if let Some(rest) = plain.strip_prefix("-0b") {
        go_parse_int(&format!("-{rest}"), 2).map(i128::from)
    } else {
        None
    }
}

/// A plain scalar go-yaml v2 reads as a NaN or infinite float (JSON cannot hold those).
pub(crate) fn is_nan_or_infinite(s: &str) -> bool {
    yaml11_resolve(s) == Yaml11::Float
        && !s
            .chars()
            .filter(|c| *c != '_')
            .collect::<String>()
            .parse::<f64>()
            .is_ok_and(f64::is_finite)
}

/// The pairs of an entry in the order `encoding/json` sees them, each with whether a later
/// identical key replaced it. sigs.k8s.io/yaml turns the YAML mapping into a Go map (a
/// repeated key keeps its last value) and `json.Marshal` writes the keys sorted, so among
/// keys that fold alike (`RoleArn`, `rolearn`) the one that sorts last wins, wherever it was
/// written.
fn json_order(pairs: &[(Node, Node)]) -> Vec<(&Node, &Node, bool)> {
    let identity = |n: &Node| match n.as_scalar() {
        Some((k, style, str_tag)) => {
            let text = style != ScalarStyle::Plain || str_tag || yaml11_resolve(k) == Yaml11::Str;
            Some((k.to_string(), text))
        }
        None => None,
    };
    let mut ordered: Vec<(&Node, &Node, bool)> = pairs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let id = identity(k);
            let superseded = id.is_some()
                && pairs[i + 1..]
                    .iter()
                    .any(|(later, _)| identity(later) == id);
            (k, v, superseded)
        })
        .collect();
    ordered.sort_by(|a, b| {
        let key = |n: &Node| {
            n.as_scalar()
                .map(|(k, _, _)| k.to_string())
                .unwrap_or_default()
        };
        key(a.0).cmp(&key(b.0))
    });
    ordered
}

/// Go `strconv.ParseUint(s, base, 64)` for text without `_` (go-yaml removes them first):
/// no sign; base 0 reads the `0x`/`0o`/`0b` prefixes (followed by at least one character) and
/// a leading `0` as octal.
fn go_parse_uint(s: &str, base: u32) -> Option<u64> {
    let b = s.as_bytes();
    let (radix, digits) = match base {
        0 if b.first() == Some(&b'0') && b.len() >= 3 && b[1].eq_ignore_ascii_case(&b'x') => {
            (16, &s[2..])
        }
        0 if b.first() == Some(&b'0') && b.len() >= 3 && b[1].eq_ignore_ascii_case(&b'o') => {
            (8, &s[2..])
        }
        0 if b.first() == Some(&b'0') && b.len() >= 3 && b[1].eq_ignore_ascii_case(&b'b') => {
            (2, &s[2..])
        }
        0 if b.first() == Some(&b'0') => (8, &s[1..]),
        0 => (10, s),
        radix => (radix, s),
    };
    // Rust's `from_str_radix` takes a leading `+`; Go's digit loop does not.
    if s.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if digits.is_empty() {
        // Only a lone `0` (base 0) gets here with nothing left: it is zero.
        return (s == "0").then_some(0);
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go `strconv.ParseInt(s, base, 64)`: an optional sign, then [`go_parse_uint`], in range.
fn go_parse_int(s: &str, base: u32) -> Option<i64> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let value = i128::from(go_parse_uint(body, base)?);
    i64::try_from(if negative { -value } else { value }).ok()
}

/// Go `strconv.ParseFloat(s, 64)` succeeds, for text starting with `.` (go-yaml's `.` hint):
/// Go's float syntax, where `_` may stand only between digits, and no overflow to infinity
/// (an underflow to zero is no error).
fn go_parses_float(s: &str) -> bool {
    go_underscores_ok(s)
        && s.chars()
            .filter(|c| *c != '_')
            .collect::<String>()
            .parse::<f64>()
            .is_ok_and(f64::is_finite)
}

/// Go strconv's `underscoreOK` for decimal text: each `_` stands between two digits.
fn go_underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, c)| {
        *c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    })
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A YAML value as Go's `encoding/json` sees it when the target is a string.
enum GoString {
    Str(String),
    Null,
    Wrong(String),
}

fn go_string(node: &Node) -> GoString {
    match &node.kind {
        NodeKind::Scalar {
            value,
            style,
            str_tag,
        } => {
            if *style != ScalarStyle::Plain || *str_tag {
                return GoString::Str(value.clone());
            }
            match yaml11_resolve(value) {
                Yaml11::Str => GoString::Str(value.clone()),
                Yaml11::Null => GoString::Null,
                Yaml11::Bool => GoString::Wrong("is read by YAML 1.1 as a boolean".to_string()),
                Yaml11::Int => GoString::Wrong("is read by YAML 1.1 as a number".to_string()),
                Yaml11::Float => GoString::Wrong("is read by YAML 1.1 as a number".to_string()),
            }
        }
        NodeKind::Seq(_) => GoString::Wrong("is a list, not text".to_string()),
        NodeKind::Map(_) => GoString::Wrong("is a mapping, not text".to_string()),
    }
}

/// Reads entries' fields with Go `encoding/json` rules, collecting notes.
struct FieldReader<'t> {
    text: &'t str,
    notes: Vec<EntryNote>,
    seen: Vec<String>,
    /// The Go slice behind `groups`, up to its capacity (see [`FieldReader::groups`]).
    groups_backing: Vec<String>,
}

/// The capacity Go's `growslice` gives a slice of strings of capacity `cap` that must hold
/// `needed` elements (runtime/slice.go `nextslicecap`, then the allocator's size classes,
/// which for 16-byte elements keep powers of two up to 256).
fn go_grown_capacity(cap: usize, needed: usize) -> usize {
    let double = cap * 2;
    if needed > double {
        return needed;
    }
    if cap < 256 {
        return double;
    }
    let mut new = cap;
    while new < needed {
        new += (new + 3 * 256) >> 2;
    }
    new
}

impl<'t> FieldReader<'t> {
    fn new(text: &'t str) -> Self {
        FieldReader {
            text,
            notes: Vec::new(),
            seen: Vec::new(),
            groups_backing: Vec::new(),
        }
    }

    /// The value's source text; for a block scalar (`|`, `>`) its value instead, and nothing
    /// for an empty plain one (`key:`): the parser's span of those (a final line break, the
    /// blanks or the `}` after an empty value) depends on what follows, so the source text of
    /// an untouched entry would change when an entry is added after it.
    fn raw(&self, node: &Node) -> String {
        match node.as_scalar() {
            Some((value, ScalarStyle::Literal | ScalarStyle::Folded, _)) => value.to_string(),
            Some(("", ScalarStyle::Plain, _)) => String::new(),
            _ => self.text[node.start..node.end].to_string(),
        }
    }

    fn seen(&mut self, field: &str) {
        if self.seen.iter().any(|f| f == field) {
            if !self
                .notes
                .iter()
                .any(|n| matches!(n, EntryNote::DuplicateField { field: f } if f == field))
            {
                self.notes.push(EntryNote::DuplicateField {
                    field: field.to_string(),
                });
            }
        } else {
            self.seen.push(field.to_string());
        }
    }

    fn string(&mut self, field: &str, node: &Node, slot: &mut Option<String>) {
        self.seen(field);
        match go_string(node) {
            GoString::Str(s) => *slot = Some(s),
            GoString::Null => {}
            GoString::Wrong(reason) => {
                let raw = self.raw(node);
                self.notes.push(EntryNote::IgnoredValue {
                    field: field.to_string(),
                    raw,
                    reason,
                });
            }
        }
    }

    /// `encoding/json` decodes a list into the slice already there, element by element
    /// (decode.go `array`): a later `groups` key (see [`json_order`]) overwrites the earlier
    /// list in place, and an element that is null or of the wrong type keeps whatever that
    /// place held, an earlier group included, or an empty string in fresh memory.
    fn groups(&mut self, node: &Node, slot: &mut Vec<String>) {
        self.seen("groups");
        match &node.kind {
            NodeKind::Seq(items) => {
                let mut backing = std::mem::take(&mut self.groups_backing);
                let mut len = slot.len();
                for (i, item) in items.iter().enumerate() {
                    if i >= backing.len() {
                        let cap = go_grown_capacity(backing.len(), len + 1);
                        backing.truncate(len);
                        backing.resize(cap, String::new());
                    }
                    len = len.max(i + 1);
                    match go_string(item) {
                        GoString::Str(s) => backing[i] = s,
                        GoString::Null => {}
                        GoString::Wrong(reason) => {
                            let raw = self.raw(item);
                            self.notes.push(EntryNote::IgnoredValue {
                                field: "groups".to_string(),
                                raw,
                                reason,
                            });
                        }
                    }
                }
                len = len.min(items.len());
                *slot = backing[..len].to_vec();
                // encoding/json gives an empty array a new empty slice (`reflect.MakeSlice(t, 0,
                // 0)` in decode.go's `array`): a later list of wrong-typed values reuses nothing
                // (found by the oracle's rotating seed 1796700184065835962).
                if items.is_empty() {
                    backing.clear();
                }
                self.groups_backing = backing;
            }
            NodeKind::Scalar {
                value,
                style,
                str_tag,
            } if *style == ScalarStyle::Plain
                && !*str_tag
                && yaml11_resolve(value) == Yaml11::Null =>
            {
                slot.clear();
                self.groups_backing.clear();
            }
            _ => {
                let raw = self.raw(node);
                let reason = "is not a list".to_string();
                self.notes.push(EntryNote::IgnoredValue {
                    field: "groups".to_string(),
                    raw,
                    reason,
                });
            }
        }
    }

    fn sso(&mut self, node: &Node, slot: &mut Option<SsoMatcher>) {
        self.seen("sso");
        match &node.kind {
            NodeKind::Map(pairs) => {
                let mut sso = slot.take().unwrap_or_default();
                let (mut name, mut account, mut partition) = (None, None, None);
                for (key, value, superseded) in json_order(pairs) {
                    let Some((key, _, _)) = key.as_scalar() else {
                        continue;
                    };
                    let field = match arn::go_fold(key).as_str() {
                        "permissionsetname" => "sso.permissionSetName",
                        "accountid" => "sso.accountID",
                        "partition" => "sso.partition",
                        _ => continue,
                    };
                    if superseded {
                        self.seen(field);
                        continue;
                    }
                    match field {
                        "sso.permissionSetName" => {
                            self.string("sso.permissionSetName", value, &mut name)
                        }
                        "sso.accountID" => self.string(field, value, &mut account),
                        _ => self.string(field, value, &mut partition),
                    }
                }
                if let Some(v) = name {
                    sso.permission_set_name = v;
                }
                if let Some(v) = account {
                    sso.account_id = v;
                }
                if let Some(v) = partition {
                    sso.partition = v;
                }
                *slot = Some(sso);
            }
            NodeKind::Scalar {
                value,
                style,
                str_tag,
            } if *style == ScalarStyle::Plain
                && !*str_tag
                && yaml11_resolve(value) == Yaml11::Null =>
            {
                *slot = None;
            }
            _ => {
                let raw = self.raw(node);
                self.notes.push(EntryNote::IgnoredValue {
                    field: "sso".to_string(),
                    raw,
                    reason: "is not a mapping".to_string(),
                });
                // encoding/json allocates the pointer before it finds the type wrong, so the
                // entry now has an (empty) sso: with a rolearn, the authenticator rejects it.
                *slot = Some(slot.take().unwrap_or_default());
            }
        }
    }

    fn extra(&self, key: &str, value: &Node) -> ExtraField {
        ExtraField {
            key: key.to_string(),
            value: self.raw(value),
        }
    }
}

fn is_go_word(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// Validation the authenticator applies (`RoleMapping.Validate`), plus whether the rolearn can
/// ever match a caller.
fn role_notes(entry: &mut MapRoleEntry) {
    let has_arn = !entry.rolearn.is_empty();
    match (&entry.sso, has_arn) {
        (None, false) => entry.notes.push(EntryNote::MissingArn {
            field: "rolearn (or sso)",
        }),
        (Some(_), true) => entry.notes.push(EntryNote::ArnAndSso),
        (Some(sso), false) => {
            let reason = if !(sso.account_id.len() == 12
                && sso.account_id.bytes().all(|b| b.is_ascii_digit()))
            {
                Some(format!(
                    "accountID {:?} is not a 12-digit AWS account ID (quote it: unquoted digits are a number)",
                    sso.account_id
                ))
            } else if !is_go_word(&sso.permission_set_name, 32) {
                Some(format!(
                    "permissionSetName {:?} is not a valid permission set name",
                    sso.permission_set_name
                ))
            } else if !sso.partition.is_empty()
                && !arn::PARTITIONS.contains(&sso.partition.as_str())
            {
                Some(format!(
                    "partition {:?} is not an AWS partition",
                    sso.partition
                ))
            } else {
                None
            };
            match reason {
                Some(reason) => entry.notes.push(EntryNote::InvalidSso { reason }),
                None if !sso.partition.is_empty() => {
                    entry.notes.push(EntryNote::SsoPartitionNeverMatches {
                        partition: sso.partition.clone(),
                    })
                }
                None => {}
            }
        }
        (None, true) => {
            let text = entry.rolearn.as_str();
            // Classify what EqualFold sees: `ARN:AWS:IAM::...` or a KELVIN SIGN still match.
            let parsed = arn::parse_principal_arn(text)
                .or_else(|err| arn::parse_principal_arn(&arn::go_fold(text)).map_err(|_| err));
            let reason = match parsed {
                Ok(PrincipalArn::Role {
                    path: Some(path),
                    role,
                }) => Some(format!(
                    "the rolearn keeps the role path {path:?}, but callers are identified without it; write {role}"
                )),
                Ok(PrincipalArn::Role { path: None, .. }) => None,
                Ok(PrincipalArn::AssumedRole { role, .. }) => Some(format!(
                    "the rolearn is an STS session ARN; callers are identified as the IAM role, write {role}"
                )),
                Ok(PrincipalArn::User(_)) => {
                    Some("the rolearn is an IAM user ARN; users belong in mapUsers".to_string())
                }
                Err(err) => Some(format!("the rolearn is not a valid IAM role ARN ({err})")),
            };
            if let Some(reason) = reason {
                entry.notes.push(EntryNote::UnusableArn { reason });
            }
        }
    }
}

pub(crate) fn role_entry(text: &str, node: &Node, place: Place) -> MapRoleEntry {
    let mut entry = MapRoleEntry {
        rolearn: String::new(),
        username: None,
        groups: Vec::new(),
        userid: None,
        sso: None,
        extra: Vec::new(),
        notes: Vec::new(),
        span: place.span,
        line: place.line,
        column: place.column,
    };
    let NodeKind::Map(pairs) = &node.kind else {
        entry.notes.push(EntryNote::NotAMapping);
        return entry;
    };
    let mut reader = FieldReader::new(text);
    let mut rolearn = None;
    for (key, value, superseded) in json_order(pairs) {
        let Some((key, _, _)) = key.as_scalar() else {
            continue;
        };
        let field = arn::go_fold(key);
        if superseded {
            if matches!(
                field.as_str(),
                "rolearn" | "username" | "groups" | "userid" | "sso"
            ) {
                reader.seen(&field);
            }
            continue;
        }
        match field.as_str() {
            "rolearn" => reader.string("rolearn", value, &mut rolearn),
            "username" => reader.string("username", value, &mut entry.username),
            "groups" => reader.groups(value, &mut entry.groups),
            "userid" => reader.string("userid", value, &mut entry.userid),
            "sso" => reader.sso(value, &mut entry.sso),
            _ => entry.extra.push(reader.extra(key, value)),
        }
    }
    entry.rolearn = rolearn.unwrap_or_default();
    entry.notes = reader.notes;
    role_notes(&mut entry);
    entry
}

pub(crate) fn user_entry(text: &str, node: &Node, place: Place) -> MapUserEntry {
    let mut entry = MapUserEntry {
        userarn: String::new(),
        username: None,
        groups: Vec::new(),
        userid: None,
        extra: Vec::new(),
        notes: Vec::new(),
        span: place.span,
        line: place.line,
        column: place.column,
    };
    let NodeKind::Map(pairs) = &node.kind else {
        entry.notes.push(EntryNote::NotAMapping);
        return entry;
    };
    let mut reader = FieldReader::new(text);
    let mut userarn = None;
    for (key, value, superseded) in json_order(pairs) {
        let Some((key, _, _)) = key.as_scalar() else {
            continue;
        };
        let field = arn::go_fold(key);
        if superseded {
            if matches!(field.as_str(), "userarn" | "username" | "groups" | "userid") {
                reader.seen(&field);
            }
            continue;
        }
        match field.as_str() {
            "userarn" => reader.string("userarn", value, &mut userarn),
            "username" => reader.string("username", value, &mut entry.username),
            "groups" => reader.groups(value, &mut entry.groups),
            "userid" => reader.string("userid", value, &mut entry.userid),
            _ => entry.extra.push(reader.extra(key, value)),
        }
    }
    entry.userarn = userarn.unwrap_or_default();
    entry.notes = reader.notes;
    if entry.userarn.is_empty() {
        entry.notes.push(EntryNote::MissingArn { field: "userarn" });
    }
    entry
}

/// mapAccounts goes straight through go-yaml v2 into `[]string`: a scalar keeps its text
/// (even `123456789012` unquoted), a null item is `""`, a list or mapping item is skipped.
pub(crate) fn account(text: &str, node: &Node, place: Place) -> MapAccount {
    let mut notes = Vec::new();
    let account = match &node.kind {
        NodeKind::Scalar {
            value,
            style,
            str_tag,
        } => {
            if *style == ScalarStyle::Plain && !*str_tag && yaml11_resolve(value) == Yaml11::Null {
                String::new()
            } else {
                value.clone()
            }
        }
        _ => {
            notes.push(EntryNote::NotAMapping);
            text[node.start..node.end].to_string()
        }
    };
    if notes.is_empty() && !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        notes.push(EntryNote::InvalidAccount {
            account: account.clone(),
        });
    }
    MapAccount {
        account,
        notes,
        span: place.span,
        line: place.line,
        column: place.column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_typing_matches_go_yaml_v2() {
        for s in ["yes", "No", "ON", "off", "y", "N", "true"] {
            assert_eq!(yaml11_resolve(s), Yaml11::Bool, "{s}");
        }
        for s in ["~", "null", "NULL", ""] {
            assert_eq!(yaml11_resolve(s), Yaml11::Null, "{s}");
        }
        for s in [
            "123456789012",
            "0x1F",
            "-12",
            "0o17",
            "0b101",
            "1_000",
            "017",
            "+5",
            // go-yaml's own `0b` branch: `ParseInt(rest, 2)` takes a sign after the prefix.
            "0b-101",
            "0b+101",
        ] {
            assert_eq!(yaml11_resolve(s), Yaml11::Int, "{s}");
        }
        for s in [
            "1.5",
            ".5",
            "1e3",
            "-.inf",
            ".NaN",
            "019",
            "99999999999999999999999",
            // A `.` float goes to Go's ParseFloat as written: `_` between digits is fine.
            ".4_4",
            ".5_5e1_0",
            "+.4_4",
            ".1e-999",
        ] {
            assert_eq!(yaml11_resolve(s), Yaml11::Float, "{s}");
        }
        for s in [
            "admin",
            "2024-01-01",
            "1e999",
            "0xZZ",
            "system:masters",
            "yes please",
            "Yes!",
            ".",
            "-",
            "1.2.3",
            // Go's integer parser takes no sign after a prefix or a leading 0 (Rust's does).
            "0x+1F",
            "0+17",
            "0o+17",
            "-0b+101",
            "-0b-101",
            // Nor a second sign, even with a `_` (removed first) between.
            "-+3",
            "++1",
            "+_+4",
            // `_` only between digits; no overflow to infinity; no base 60.
            "._4",
            ".4_",
            ".4__4",
            ".4_4e",
            ".1e999",
            "1:30",
        ] {
            assert_eq!(yaml11_resolve(s), Yaml11::Str, "{s}");
        }
        let ones = "1".repeat(64);
        assert_eq!(yaml11_resolve(&format!("0b{ones}")), Yaml11::Int);
        assert_eq!(yaml11_resolve(&format!("0b+{ones}")), Yaml11::Str);
        assert_eq!(go_int_value("0b-101"), Some(-5));
        assert_eq!(go_int_value("0"), Some(0));
        assert_eq!(go_int_value("0x"), None);
    }
}
