//! aws-auth read the way aws-iam-authenticator v0.7.8 reads it, whatever the YAML looks like:
//! the layer the audit, who-can and lookup use to see every mapping in effect.
//!
//! The strict reader ([`super::parse_map_roles`]) refuses what it cannot edit losslessly
//! (anchors, aliases, merge keys, tabs, a second document); the authenticator accepts all of
//! those, so an audit built on the strict reader could be blinded. This one follows the
//! authenticator step by step (`pkg/mapper/configmap/configmap.go` `ParseMap`):
//!
//! - mapRoles and mapUsers: blank text, ``` `` ```, `""` and `''` are skipped; text starting
//!   with `{` is handed to `encoding/json` as is (an object: nothing loads); anything else goes
//!   through go-yaml v2 (first document only; anchors, aliases and `<<` merge keys expanded as
//!   go-yaml does, with its "excessive aliasing" limit), then sigs.k8s.io/yaml's conversion to
//!   JSON (a null or uint64 map key, or a NaN/infinite number anywhere, fails the whole
//!   section), then `encoding/json` into the entries (keys in sorted order, see
//!   [`super::entry`]), and each entry's `Validate`.
//! - mapAccounts: go-yaml v2 straight into `[]string`.
//!
//! The YAML events come from libyaml ([`super::yaml11`]), the C library go-yaml v2 was ported
//! from. tests/offline/awsauth_oracle.rs compares the result with the authenticator's own mapper.

use std::collections::HashMap;

use base64::Engine as _;
use saphyr_parser::ScalarStyle;

use super::document::{LineIndex, Node, NodeKind, find_dash};
use super::entry::{self, MapAccount, MapRoleEntry, MapUserEntry, Place, Yaml11, yaml11_resolve};
use super::parse_error::ParseError;
use super::yaml11::{Event, Mark, Parser};

/// Deeper than this we stop (the decoder recurses); the authenticator has no such limit, so
/// such a section is reported as unreadable rather than guessed at.
const MAX_DEPTH: usize = 256;

/// One section as the authenticator loads it: every entry (those it rejects too, with notes),
/// and why nothing loaded when the whole section failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LenientRead<T> {
    pub entries: Vec<T>,
    /// Set when go-yaml fails on this section (the authenticator logs the error and keeps the
    /// other sections). `entries` is then empty, except in mapAccounts, where go-yaml keeps
    /// what it decoded before the failure (and pads the list with empty strings).
    pub error: Option<ParseError>,
}

impl<T> LenientRead<T> {
    /// Nothing in the section, and nothing wrong with it.
    fn empty() -> Self {
        LenientRead {
            entries: Vec::new(),
            error: None,
        }
    }

    fn failed(error: ParseError) -> Self {
        LenientRead {
            entries: Vec::new(),
            error: Some(error),
        }
    }
}

/// mapRoles as the authenticator loads it.
pub fn read_map_roles(text: &str) -> LenientRead<MapRoleEntry> {
    read_json_section(text, entry::role_entry)
}

/// mapUsers as the authenticator loads it.
pub fn read_map_users(text: &str) -> LenientRead<MapUserEntry> {
    read_json_section(text, entry::user_entry)
}

/// mapAccounts as the authenticator loads it (go-yaml v2 into `[]string`).
pub fn read_map_accounts(text: &str) -> LenientRead<MapAccount> {
    if is_skippable(text) {
        return LenientRead::empty();
    }
    let tree = match Tree::read(text) {
        Ok(tree) => tree,
        Err(e) => return LenientRead::failed(e),
    };
    let Some(root) = tree.root else {
        return LenientRead::empty();
    };
    let mut decoder = Decoder::new(&tree, text);
    match decoder.accounts(root) {
        Ok((entries, error)) => LenientRead { entries, error },
        Err(e) => LenientRead::failed(e),
    }
}

/// `isSkippable` in configmap.go.
fn is_skippable(text: &str) -> bool {
    matches!(text.trim(), "" | "``" | "\"\"" | "''")
}

fn error_at(mark: Mark, message: impl Into<String>) -> ParseError {
    ParseError {
        line: mark.line,
        column: mark.column,
        message: message.into(),
    }
}

fn read_json_section<T>(text: &str, make: impl Fn(&str, &Node, Place) -> T) -> LenientRead<T> {
    if is_skippable(text) {
        return LenientRead::empty();
    }
    // apimachinery's `yaml.ToJSON` passes text that starts with `{` to encoding/json as is:
    // an object (or not JSON at all), never a list, so nothing loads.
    if text.trim_start().starts_with('{') {
        let byte = text.len() - text.trim_start().len();
        let (line, column) = super::document::line_column(text, byte);
        return LenientRead::failed(ParseError {
            line,
            column,
            message: "the text starts with `{`, so aws-iam-authenticator reads it as JSON, and a JSON object is not a list of entries".into(),
        });
    }
    let tree = match Tree::read(text) {
        Ok(tree) => tree,
        Err(e) => return LenientRead::failed(e),
    };
    let Some(root) = tree.root else {
        return LenientRead::empty();
    };
    let mut decoder = Decoder::new(&tree, text);
    let decoded = match decoder.node(root, 0) {
        Ok(node) => node,
        Err(e) => return LenientRead::failed(e),
    };
    if let Err(e) = check_json(&decoded) {
        return LenientRead::failed(e);
    }
    let root_mark = tree.nodes[root].start;
    match &decoded.kind {
        NodeKind::Seq(items) => {
            let raw_items = tree.item_marks(root);
            let entries = items
                .iter()
                .zip(raw_items)
                .map(|(item, (start, end))| make(text, item, place(&decoder.lines, start, end)))
                .collect();
            LenientRead {
                entries,
                error: None,
            }
        }
        NodeKind::Scalar {
            value,
            style,
            str_tag,
        } if *style == ScalarStyle::Plain && !*str_tag && yaml11_resolve(value) == Yaml11::Null => {
            LenientRead {
                entries: Vec::new(),
                error: None,
            }
        }
        NodeKind::Scalar { value, .. } => LenientRead::failed(error_at(
            root_mark,
            format!(
                "expected a list of entries (lines starting with `- `), found the single value {value:?}; aws-iam-authenticator loads nothing from this section"
            ),
        )),
        NodeKind::Map(_) => LenientRead::failed(error_at(
            root_mark,
            "expected a list of entries (lines starting with `- `), found a mapping; aws-iam-authenticator loads nothing from this section",
        )),
    }
}

/// Where a top-level item is: from its `-` when there is one, like the strict reader.
fn place(lines: &LineIndex<'_>, start: Mark, end: Mark) -> Place {
    let text = lines.text;
    let (start_byte, end_byte) = (start.index.min(text.len()), end.index.min(text.len()));
    let dash = text
        .is_char_boundary(start_byte)
        .then(|| find_dash(text, start_byte))
        .flatten();
    match dash {
        Some(dash) => {
            let (line, column) = lines.line_column(dash);
            Place {
                span: dash..end_byte.max(dash),
                line,
                column,
            }
        }
        None => Place {
            span: start_byte..end_byte.max(start_byte),
            line: start.line,
            column: start.column,
        },
    }
}

/// A node as libyaml read it, before aliases and merges are expanded.
#[derive(Debug)]
enum RawKind {
    Scalar {
        value: String,
        style: ScalarStyle,
        tag: Option<String>,
    },
    Seq(Vec<usize>),
    Map(Vec<(usize, usize)>),
    /// `*name`, pointing at the node its anchor was on when the alias was read.
    Alias(usize),
}

#[derive(Debug)]
struct Raw {
    kind: RawKind,
    start: Mark,
    end: Mark,
    flow: bool,
}

/// The first document's nodes, in an arena (aliases are indices, so a self-reference cannot
/// loop here; the decoder catches it as go-yaml does).
struct Tree {
    nodes: Vec<Raw>,
    root: Option<usize>,
}

impl Tree {
    /// libyaml refuses a plain scalar in a flow collection that ends in `:` right before
    /// `,?[]{}` ("found unexpected ':'"); go-yaml v2 takes the `:` into the scalar. Read such
    /// text with that `:` replaced by `;` (same length, not an indicator), and put the `:` back
    /// into the scalar it ends.
    ///
    /// libyaml also skips a byte-order mark at the start of any line; go-yaml v2 skips only
    /// the one that starts the text (its `is_bom` looks at the start of its buffer, not at the
    /// current position), so a later one is content (`\u{feff}- a: b` is a mapping key). Such
    /// marks are read as a private-use character absent from the text, then put back.
    fn read(text: &str) -> Result<Tree, ParseError> {
        let mut work = text.to_string();
        let body = text.strip_prefix('\u{feff}').unwrap_or(text);
        let base = text.len() - body.len();
        let line_boms: Vec<usize> = body
            .match_indices('\u{feff}')
            .map(|(i, _)| base + i)
            .filter(|&i| {
                i > base && text[..i].ends_with(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
            })
            .collect();
        let placeholder = (!line_boms.is_empty())
            .then(|| ('\u{e000}'..='\u{f8ff}').find(|c| !text.contains(*c)))
            .flatten();
        if let Some(p) = placeholder {
            for &i in &line_boms {
                work.replace_range(i..i + 3, p.encode_utf8(&mut [0; 4]));
            }
        }
        let mut patched: Vec<usize> = Vec::new();
        loop {
            match Tree::read_once(&work, &patched) {
                Ok(mut tree) => {
                    if let Some(p) = placeholder {
                        tree.restore(p, '\u{feff}');
                    }
                    return Ok(tree);
                }
                Err((_, Some(colon))) if patched.len() < 64 && !patched.contains(&colon) => {
                    work.replace_range(colon..colon + 1, ";");
                    patched.push(colon);
                }
                Err((err, _)) => return Err(err),
            }
        }
    }

    /// Puts `original` back where the reading used `stand_in`.
    fn restore(&mut self, stand_in: char, original: char) {
        for node in &mut self.nodes {
            if let RawKind::Scalar { value, .. } = &mut node.kind
                && value.contains(stand_in)
            {
                *value = value.replace(stand_in, &original.to_string());
            }
        }
    }

    fn read_once(text: &str, patched: &[usize]) -> Result<Tree, (ParseError, Option<usize>)> {
        let mut parser = Parser::new(text);
        let mut nodes: Vec<Raw> = Vec::new();
        let mut anchors: HashMap<String, usize> = HashMap::new();
        let mut stack: Vec<usize> = Vec::new();
        let mut root = None;
        loop {
            let (event, start, end) = parser.next_event().map_err(|e| {
                let colon = (e.message.starts_with("found unexpected ':'")
                    && text.as_bytes().get(e.mark.index) == Some(&b':'))
                .then_some(e.mark.index);
                (error_at(e.mark, e.message), colon)
            })?;
            let in_flow = stack.last().is_some_and(|&p| nodes[p].flow);
            let (anchor, kind, flow) = match event {
                Event::StreamStart => continue,
                Event::DocumentStart { version } => {
                    if version.is_some_and(|v| v != (1, 1)) {
                        return Err((
                            error_at(
                                start,
                                "found incompatible YAML document (go-yaml v2 reads only %YAML 1.1)",
                            ),
                            None,
                        ));
                    }
                    continue;
                }
                // go-yaml reads the first document and stops: whatever follows is never parsed.
                Event::DocumentEnd | Event::StreamEnd => break,
                Event::SequenceEnd | Event::MappingEnd => {
                    let done = stack.pop().expect("libyaml balances collection events");
                    nodes[done].end = end;
                    if stack.is_empty() {
                        root = Some(done);
                    }
                    continue;
                }
                Event::Alias { anchor } => {
                    let Some(&target) = anchors.get(&anchor) else {
                        return Err((
                            error_at(start, format!("unknown anchor '{anchor}' referenced")),
                            None,
                        ));
                    };
                    (None, RawKind::Alias(target), false)
                }
                Event::Scalar {
                    anchor,
                    tag,
                    mut value,
                    style,
                } => {
                    let source = text.get(start.index..end.index).unwrap_or_default();
                    if let Some(problem) = go_yaml_refuses(source, style, in_flow) {
                        return Err((error_at(start, problem), None));
                    }
                    if style == ScalarStyle::Plain
                        && end.index > 0
                        && patched.contains(&(end.index - 1))
                        && value.ends_with(';')
                    {
                        value.pop();
                        value.push(':');
                    }
                    (anchor, RawKind::Scalar { value, style, tag }, false)
                }
                Event::SequenceStart { anchor, flow } => (anchor, RawKind::Seq(Vec::new()), flow),
                Event::MappingStart { anchor, flow } => (anchor, RawKind::Map(Vec::new()), flow),
            };
            let collection = matches!(kind, RawKind::Seq(_) | RawKind::Map(_));
            let id = nodes.len();
            nodes.push(Raw {
                kind,
                start,
                end,
                flow,
            });
            // go-yaml registers an anchor when its node starts, so an alias inside the node
            // refers to the node itself ("value contains itself" when decoded).
            if let Some(anchor) = anchor {
                anchors.insert(anchor, id);
            }
            match stack.last().copied() {
                None => root = Some(id),
                Some(parent) => match &mut nodes[parent].kind {
                    RawKind::Seq(items) => items.push(id),
                    RawKind::Map(pairs) => match pairs.last_mut() {
                        Some((_, value)) if *value == usize::MAX => *value = id,
                        _ => pairs.push((id, usize::MAX)),
                    },
                    _ => unreachable!("only collections are on the stack"),
                },
            }
            if collection {
                if stack.len() >= MAX_DEPTH {
                    return Err((
                        error_at(
                            start,
                            format!(
                                "the YAML nests deeper than {MAX_DEPTH} levels; kubectl-chronom cannot read it (aws-auth entries are shallow)"
                            ),
                        ),
                        None,
                    ));
                }
                stack.push(id);
            }
        }
        Ok(Tree { nodes, root })
    }

    /// Start and end of each item of the collection `id` (aliases at their own place).
    fn item_marks(&self, id: usize) -> Vec<(Mark, Mark)> {
        let id = match self.nodes[id].kind {
            RawKind::Alias(target) => target,
            _ => id,
        };
        match &self.nodes[id].kind {
            RawKind::Seq(items) => items
                .iter()
                .map(|&i| (self.nodes[i].start, self.nodes[i].end))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Where go-yaml v2's scanner refuses a scalar libyaml 0.2.5 accepts: the escape `\/` (a
/// YAML 1.2 addition), and a `?` inside a plain scalar in a flow collection
/// (go-yaml ends the scalar there, and a `?` right after a scalar is always an error).
fn go_yaml_refuses(source: &str, style: ScalarStyle, in_flow: bool) -> Option<String> {
    match style {
        ScalarStyle::DoubleQuoted => {
            let mut chars = source.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.next() {
                        Some(e @ '/') => {
                            return Some(format!(
                                "found unknown escape character {e:?} (go-yaml v2 reads YAML 1.1 escapes only)"
                            ));
                        }
                        _ => continue,
                    }
                }
            }
            None
        }
        ScalarStyle::Plain if in_flow && source.contains('?') => Some(
            "a `?` inside a plain value in a flow collection ends the value for go-yaml v2, which then finds no ',' or closing bracket".into(),
        ),
        _ => None,
    }
}

/// A map key as go-yaml's `map[interface{}]interface{}` compares them.
#[derive(Debug, Clone, PartialEq)]
enum KeyId {
    Str(String),
    Null,
    Bool(bool),
    Int(i128),
    Float(u64),
}

/// go-yaml v2's decoding into `interface{}` (decode.go), producing [`Node`]s whose scalars
/// read as go-yaml resolved them: text is quoted-style or `str_tag`, other values are plain.
struct Decoder<'a> {
    tree: &'a Tree,
    text: &'a str,
    /// For the line and column of each entry's place.
    lines: LineIndex<'a>,
    decode_count: u64,
    alias_count: u64,
    alias_depth: usize,
    /// Aliases being expanded (go-yaml's `d.aliases`).
    expanding: Vec<usize>,
}

impl<'a> Decoder<'a> {
    fn new(tree: &'a Tree, text: &'a str) -> Self {
        Decoder {
            tree,
            text,
            lines: LineIndex::new(text),
            // The document node counts too.
            decode_count: 1,
            alias_count: 0,
            alias_depth: 0,
            expanding: Vec::new(),
        }
    }

    /// `d.unmarshal`'s bookkeeping: go-yaml refuses "excessive aliasing" (the YAML bomb).
    fn count(&mut self, at: Mark) -> Result<(), ParseError> {
        self.decode_count += 1;
        if self.alias_depth > 0 {
            self.alias_count += 1;
        }
        if self.alias_count > 100
            && self.decode_count > 1000
            && self.alias_count as f64 / self.decode_count as f64
                > allowed_alias_ratio(self.decode_count)
        {
            return Err(error_at(
                at,
                "document contains excessive aliasing (a YAML bomb); aws-iam-authenticator loads nothing from this section",
            ));
        }
        Ok(())
    }

    fn raw(&self, id: usize) -> &'a Raw {
        &self.tree.nodes[id]
    }

    fn span(&self, raw: &Raw) -> (usize, usize) {
        let len = self.text.len();
        let start = raw.start.index.min(len);
        let end = raw.end.index.min(len).max(start);
        match (
            self.text.is_char_boundary(start),
            self.text.is_char_boundary(end),
        ) {
            (true, true) => (start, end),
            (true, false) => (start, start),
            _ => (0, 0),
        }
    }

    fn make(&self, raw: &Raw, kind: NodeKind) -> Node {
        let (start, end) = self.span(raw);
        Node {
            kind,
            start,
            end,
            flow: raw.flow,
            line: raw.start.line,
            column: raw.start.column,
        }
    }

    fn enter_alias(&mut self, id: usize) -> Result<usize, ParseError> {
        let RawKind::Alias(target) = self.raw(id).kind else {
            unreachable!("enter_alias is called on aliases")
        };
        if self.expanding.contains(&id) || self.alias_depth >= MAX_DEPTH {
            return Err(error_at(
                self.raw(id).start,
                "an anchor's value contains an alias to itself; aws-iam-authenticator loads nothing from this section",
            ));
        }
        self.expanding.push(id);
        self.alias_depth += 1;
        Ok(target)
    }

    fn leave_alias(&mut self) {
        self.expanding.pop();
        self.alias_depth -= 1;
    }

    fn node(&mut self, id: usize, depth: usize) -> Result<Node, ParseError> {
        let raw = self.raw(id);
        self.count(raw.start)?;
        if depth > MAX_DEPTH {
            return Err(error_at(
                raw.start,
                format!(
                    "the YAML nests deeper than {MAX_DEPTH} levels; kubectl-chronom cannot read it"
                ),
            ));
        }
        match &raw.kind {
            RawKind::Alias(_) => {
                let target = self.enter_alias(id)?;
                let node = self.node(target, depth + 1);
                self.leave_alias();
                node
            }
            RawKind::Scalar { value, style, tag } => {
                let kind = scalar(value, *style, tag.as_deref(), raw.start)?;
                Ok(self.make(raw, kind))
            }
            RawKind::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for &item in items {
                    out.push(self.node(item, depth + 1)?);
                }
                Ok(self.make(raw, NodeKind::Seq(out)))
            }
            RawKind::Map(_) => {
                let mut map = Vec::new();
                self.map_into(id, &mut map, depth)?;
                Ok(self.make(
                    raw,
                    NodeKind::Map(map.into_iter().map(|(_, k, v)| (k, v)).collect()),
                ))
            }
        }
    }

    /// `d.mapping` into a `map[interface{}]interface{}`: pairs in order, a repeated key
    /// replaces the earlier value, a `<<` merge sets the merged pairs at its place.
    fn map_into(
        &mut self,
        id: usize,
        map: &mut Vec<(KeyId, Node, Node)>,
        depth: usize,
    ) -> Result<(), ParseError> {
        let RawKind::Map(pairs) = &self.raw(id).kind else {
            unreachable!("map_into is called on mappings")
        };
        for &(k, v) in pairs {
            if self.is_merge(k) {
                self.merge(v, map, depth)?;
                continue;
            }
            let key = self.node(k, depth + 1)?;
            if !matches!(key.kind, NodeKind::Scalar { .. }) {
                return Err(error_at(
                    self.raw(k).start,
                    "a mapping key is a list or a mapping (invalid map key); aws-iam-authenticator loads nothing from this section",
                ));
            }
            let value = if v == usize::MAX {
                // libyaml always pairs keys with values; keep go-yaml's null if not.
                Node {
                    kind: NodeKind::Scalar {
                        value: String::new(),
                        style: ScalarStyle::Plain,
                        str_tag: false,
                    },
                    ..key.clone()
                }
            } else {
                self.node(v, depth + 1)?
            };
            let id = key_id(&key);
            match map.iter_mut().find(|(existing, _, _)| *existing == id) {
                Some(slot) => *slot = (id, key, value),
                None => map.push((id, key, value)),
            }
        }
        Ok(())
    }

    /// go-yaml v2's `isMerge`: a plain `<<` (or one tagged `!!merge`).
    fn is_merge(&self, id: usize) -> bool {
        match &self.raw(id).kind {
            RawKind::Scalar { value, style, tag } => {
                value == "<<"
                    && match tag.as_deref() {
                        None => *style == ScalarStyle::Plain,
                        Some(tag) => tag == "tag:yaml.org,2002:merge",
                    }
            }
            _ => false,
        }
    }

    /// `d.merge`: a mapping, an alias of one, or a list of those (earlier ones win, so they
    /// are applied last).
    fn merge(
        &mut self,
        id: usize,
        map: &mut Vec<(KeyId, Node, Node)>,
        depth: usize,
    ) -> Result<(), ParseError> {
        let fail = |at: Mark| {
            error_at(
                at,
                "map merge requires map or sequence of maps as the value; aws-iam-authenticator loads nothing from this section",
            )
        };
        let raw = self.raw(id);
        match &raw.kind {
            RawKind::Map(_) => {
                self.count(raw.start)?;
                self.map_into(id, map, depth + 1)
            }
            RawKind::Alias(target) => {
                if !matches!(self.raw(*target).kind, RawKind::Map(_)) {
                    return Err(fail(raw.start));
                }
                self.merge_alias(id, map, depth)
            }
            RawKind::Seq(items) => {
                for &item in items.iter().rev() {
                    let item_raw = self.raw(item);
                    match &item_raw.kind {
                        RawKind::Map(_) => {
                            self.count(item_raw.start)?;
                            self.map_into(item, map, depth + 1)?;
                        }
                        RawKind::Alias(target)
                            if matches!(self.raw(*target).kind, RawKind::Map(_)) =>
                        {
                            self.merge_alias(item, map, depth)?;
                        }
                        _ => return Err(fail(item_raw.start)),
                    }
                }
                Ok(())
            }
            _ => Err(fail(raw.start)),
        }
    }

    fn merge_alias(
        &mut self,
        id: usize,
        map: &mut Vec<(KeyId, Node, Node)>,
        depth: usize,
    ) -> Result<(), ParseError> {
        self.count(self.raw(id).start)?;
        let target = self.enter_alias(id)?;
        let result = self
            .count(self.raw(target).start)
            .and_then(|_| self.map_into(target, map, depth + 1));
        self.leave_alias();
        result
    }

    /// go-yaml v2 into `[]string` (mapAccounts): scalars keep their text (`!!binary` decoded,
    /// null as ""), other items are skipped with a type error, the rest still load.
    ///
    /// When go-yaml fails part-way (a bad tag, excessive aliasing), the list it was filling
    /// keeps its length: the items decoded so far, then empty strings.
    fn accounts(
        &mut self,
        root: usize,
    ) -> Result<(Vec<MapAccount>, Option<ParseError>), ParseError> {
        self.count(self.raw(root).start)?;
        let mut root_id = root;
        let mut entered = false;
        if let RawKind::Alias(_) = self.raw(root).kind {
            root_id = self.enter_alias(root)?;
            entered = true;
            self.count(self.raw(root_id).start)?;
        }
        let raw = self.raw(root_id);
        let result = match &raw.kind {
            RawKind::Seq(items) => {
                let mut out: Vec<MapAccount> = Vec::with_capacity(items.len());
                let mut failure = None;
                for &item in items {
                    match self.account(item) {
                        Ok(account) => out.push(account),
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                if failure.is_some() {
                    let kept = out
                        .iter()
                        .filter(|a| !a.notes.iter().any(|n| n.drops_entry()))
                        .count();
                    let failed_at = out.len();
                    for n in 0..items.len() - kept {
                        let raw = self.raw(items[(failed_at + n).min(items.len() - 1)]);
                        let empty = self.make(
                            raw,
                            NodeKind::Scalar {
                                value: String::new(),
                                style: ScalarStyle::Plain,
                                str_tag: false,
                            },
                        );
                        let at = Place {
                            span: empty.start..empty.start,
                            line: raw.start.line,
                            column: raw.start.column,
                        };
                        out.push(entry::account(self.text, &empty, at));
                    }
                }
                Ok((out, failure))
            }
            RawKind::Scalar { value, style, tag } => {
                match scalar(value, *style, tag.as_deref(), raw.start)? {
                    NodeKind::Scalar {
                        value,
                        style: ScalarStyle::Plain,
                        str_tag: false,
                    } if yaml11_resolve(&value) == Yaml11::Null => Ok((Vec::new(), None)),
                    _ => Err(error_at(
                        raw.start,
                        "expected a list of account IDs, found a single value; aws-iam-authenticator loads nothing from this section",
                    )),
                }
            }
            _ => Err(error_at(
                raw.start,
                "expected a list of account IDs, found a mapping; aws-iam-authenticator loads nothing from this section",
            )),
        };
        if entered {
            self.leave_alias();
        }
        result
    }

    fn account(&mut self, item: usize) -> Result<MapAccount, ParseError> {
        let (start, end) = (self.raw(item).start, self.raw(item).end);
        self.count(start)?;
        let mut id = item;
        let mut entered = false;
        if let RawKind::Alias(_) = self.raw(item).kind {
            id = self.enter_alias(item)?;
            entered = true;
            self.count(self.raw(id).start)?;
        }
        let raw = self.raw(id);
        let node = match &raw.kind {
            RawKind::Scalar { value, style, tag } => {
                scalar(value, *style, tag.as_deref(), raw.start).map(|kind| self.make(raw, kind))
            }
            // A list or mapping item: go-yaml reports a type error and skips it, without
            // decoding what is inside.
            _ => Ok(self.make(raw, NodeKind::Seq(Vec::new()))),
        };
        if entered {
            self.leave_alias();
        }
        Ok(entry::account(
            self.text,
            &node?,
            place(&self.lines, start, end),
        ))
    }
}

/// go-yaml v2's `allowedAliasRatio`.
fn allowed_alias_ratio(decode_count: u64) -> f64 {
    const LOW: f64 = 400_000.0;
    const HIGH: f64 = 4_000_000.0;
    let n = decode_count as f64;
    if n <= LOW {
        0.99
    } else if n >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((n - LOW) / (HIGH - LOW))
    }
}

const CORE: &str = "tag:yaml.org,2002:";

/// A scalar as go-yaml v2 resolves it into `interface{}` (resolve.go, decode.go `d.scalar`).
fn scalar(
    value: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    at: Mark,
) -> Result<NodeKind, ParseError> {
    let text = |value: String| NodeKind::Scalar {
        value,
        style,
        str_tag: true,
    };
    let Some(tag) = tag else {
        return Ok(NodeKind::Scalar {
            value: value.to_string(),
            style,
            str_tag: false,
        });
    };
    let Some(short) = tag.strip_prefix(CORE) else {
        // A local or unknown tag: go-yaml cannot resolve it and keeps the text.
        return Ok(text(value.to_string()));
    };
    let wanted = match short {
        "str" => return Ok(text(value.to_string())),
        "binary" => {
            let clean: String = value
                .chars()
                .filter(|c| !matches!(c, '\n' | '\r'))
                .collect();
            return match base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()) {
                Ok(bytes) => Ok(text(String::from_utf8_lossy(&bytes).into_owned())),
                Err(_) => Err(error_at(
                    at,
                    "!!binary value contains invalid base64 data; aws-iam-authenticator loads nothing from this section",
                )),
            };
        }
        "int" => Yaml11::Int,
        "float" => Yaml11::Float,
        "bool" => Yaml11::Bool,
        "null" => Yaml11::Null,
        // !!timestamp and others: kept as text for `interface{}`.
        _ => return Ok(text(value.to_string())),
    };
    let resolved = yaml11_resolve(value);
    let fits = resolved == wanted || (wanted == Yaml11::Float && resolved == Yaml11::Int);
    if !fits {
        return Err(error_at(
            at,
            format!(
                "cannot decode {value:?} as a !!{short}; aws-iam-authenticator loads nothing from this section"
            ),
        ));
    }
    // Plain, so that the entry reader resolves it to the tagged type.
    Ok(NodeKind::Scalar {
        value: value.to_string(),
        style: ScalarStyle::Plain,
        str_tag: false,
    })
}

fn key_id(key: &Node) -> KeyId {
    let NodeKind::Scalar {
        value,
        style,
        str_tag,
    } = &key.kind
    else {
        return KeyId::Null;
    };
    if *style != ScalarStyle::Plain || *str_tag {
        return KeyId::Str(value.clone());
    }
    match yaml11_resolve(value) {
        Yaml11::Str => KeyId::Str(value.clone()),
        Yaml11::Null => KeyId::Null,
        Yaml11::Bool => KeyId::Bool(entry::yaml11_bool(value)),
        Yaml11::Int => match entry::go_int_value(value) {
            Some(v) => KeyId::Int(v),
            None => KeyId::Str(value.clone()),
        },
        Yaml11::Float => KeyId::Float(
            value
                .replace('_', "")
                .parse::<f64>()
                .map(f64::to_bits)
                .unwrap_or_default(),
        ),
    }
}

/// sigs.k8s.io/yaml's conversion to JSON and `json.Marshal`: map keys must be strings,
/// numbers or booleans (a null key, or an integer only uint64 holds, fails), and no number
/// may be NaN or infinite.
fn check_json(node: &Node) -> Result<(), ParseError> {
    let at = |n: &Node| ParseError {
        line: n.line,
        column: n.column,
        message: String::new(),
    };
    match &node.kind {
        NodeKind::Scalar {
            value,
            style: ScalarStyle::Plain,
            str_tag: false,
        } if entry::is_nan_or_infinite(value) => Err(ParseError {
            message: format!(
                "the value {value:?} is not a finite number, which JSON cannot hold; aws-iam-authenticator loads nothing from this section"
            ),
            ..at(node)
        }),
        NodeKind::Scalar { .. } => Ok(()),
        NodeKind::Seq(items) => items.iter().try_for_each(check_json),
        NodeKind::Map(pairs) => {
            for (k, v) in pairs {
                match key_id(k) {
                    KeyId::Null => {
                        return Err(ParseError {
                            message: "a mapping key is null (`~`, `null` or empty), which JSON cannot hold; aws-iam-authenticator loads nothing from this section".into(),
                            ..at(k)
                        });
                    }
                    KeyId::Int(i) if i > i64::MAX as i128 => {
                        return Err(ParseError {
                            message: "a mapping key is an integer beyond int64 (unsupported map key of type uint64); aws-iam-authenticator loads nothing from this section".into(),
                            ..at(k)
                        });
                    }
                    _ => {}
                }
                check_json(v)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "arn:aws:iam::111122223333:role/a";

    fn roles(text: &str) -> Vec<(String, String, Vec<String>)> {
        let read = read_map_roles(text);
        assert_eq!(read.error, None, "{text:?}");
        read.entries
            .into_iter()
            .filter(|e| !e.is_dropped())
            .map(|e| (e.rolearn, e.username.unwrap_or_default(), e.groups))
            .collect()
    }

    fn masters(arn: &str) -> (String, String, Vec<String>) {
        (arn.into(), String::new(), vec!["system:masters".into()])
    }

    #[test]
    fn sees_through_what_the_strict_reader_refuses() {
        let hidden = [
            format!("- rolearn:\t{R}\n  groups:\t[system:masters]\n"),
            format!("- rolearn: {R}\n  groups: &g [system:masters]\n"),
            format!("- &e {{rolearn: {R}, groups: [system:masters]}}\n"),
            format!("- rolearn: {R}\n  groups: [system:masters]\n---\n- rolearn: x\n"),
            format!("- &b\n  groups: [system:masters]\n  rolearn: x\n- <<: *b\n  rolearn: {R}\n"),
        ];
        for text in &hidden {
            assert!(super::super::parse_map_roles(text).is_err(), "{text:?}");
            assert!(roles(text).contains(&masters(R)), "{text:?}");
        }
        let bom = format!("\u{feff}- rolearn: {R}\n  groups: [system:masters]\n");
        assert_eq!(roles(&bom), [masters(R)]);
    }

    #[test]
    fn aliases_merges_and_duplicate_keys_as_go_yaml() {
        let text = format!(
            "- &a {{rolearn: {R}, username: A}}\n- username: before\n  <<: *a\n  groups: [g]\n- {{<<: [*a, {{username: B, groups: [x]}}]}}\n"
        );
        let got = roles(&text);
        // A merge overrides keys written before it (go-yaml v2), and earlier merge sources win.
        assert_eq!(got[1], (R.into(), "A".into(), vec!["g".into()]));
        assert_eq!(got[2], (R.into(), "A".into(), vec!["x".into()]));
        // Keys that fold alike: encoding/json sees them in sorted order, the last one wins.
        let text = format!("- rolearn: {R}\n  RoleArn: arn:aws:iam::111122223333:role/b\n");
        assert_eq!(roles(&text)[0].0, R);
        // Sorted, GROUPS fills the slice, Groups' `[]` gives it a new empty one, and groups'
        // booleans then land in fresh elements: two empty groups, not GROUPS' values.
        let text = format!("- rolearn: {R}\n  GROUPS: [a, b]\n  Groups: []\n  groups: [yes, y]\n");
        assert_eq!(roles(&text)[0].2, vec![String::new(), String::new()]);
        // Without the empty list between, the elements a wrong value leaves are reused.
        let text = format!("- rolearn: {R}\n  GROUPS: [a, b]\n  groups: [yes, y]\n");
        assert_eq!(roles(&text)[0].2, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn whole_section_failures() {
        for text in [
            format!("- rolearn: {R}\n  ~: x\n"),
            format!("- rolearn: {R}\n  x: .nan\n"),
            format!("- rolearn: {R}\n  18446744073709551615: x\n"),
            format!("- rolearn: {R}\n  <<: 5\n"),
            "- &a [*a]\n".to_string(),
            "- *nope\n".to_string(),
            format!("- rolearn: {R}\n  username: !!int abc\n"),
            "{\"a\": 1}".to_string(),
            "hello\n".to_string(),
            format!("- rolearn: {R}\n\tgroups: [g]\n"),
        ] {
            let read = read_map_roles(&text);
            assert!(read.error.is_some(), "{text:?}");
            assert!(read.entries.is_empty());
        }
    }

    #[test]
    fn a_yaml_bomb_is_refused() {
        let mut text = String::from("- &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "- &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let read = read_map_roles(&text);
        assert!(read.error.unwrap().message.contains("aliasing"));
    }

    #[test]
    fn accounts_keep_their_text() {
        let read =
            read_map_accounts("- &a 012345678901\n- *a\n- 1.50\n- ~\n- [x]\n- \"111122223333\"\n");
        assert_eq!(read.error, None);
        let accounts: Vec<_> = read.entries.iter().map(|a| a.account.as_str()).collect();
        assert_eq!(
            accounts,
            [
                "012345678901",
                "012345678901",
                "1.50",
                "",
                "[x]",
                "111122223333"
            ]
        );
        assert!(read.entries[4].notes.iter().any(|n| n.drops_entry()));
    }

    #[test]
    fn entries_know_their_line() {
        let text = format!("# c\n- rolearn:\t{R}\n-\n  rolearn: {R}\n");
        let read = read_map_roles(&text);
        let lines: Vec<_> = read.entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3]);
    }
}
