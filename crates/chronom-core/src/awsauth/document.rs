//! The spanned view of one aws-auth data value (mapRoles, mapUsers or mapAccounts): the
//! top-level list, where it sits in the text and where each of its items starts and ends,
//! in bytes. Built from saphyr-parser events; nothing here knows what an entry means.

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::parse_error::ParseError;

/// Deeper than this is not an aws-auth document; refusing keeps memory and time bounded.
const MAX_DEPTH: usize = 64;

/// Translates saphyr's character indices into byte offsets.
struct Offsets {
    /// `None` for ASCII text, where characters and bytes coincide.
    table: Option<Vec<usize>>,
}

impl Offsets {
    fn new(text: &str) -> Self {
        if text.is_ascii() {
            return Offsets { table: None };
        }
        let mut table: Vec<usize> = text.char_indices().map(|(byte, _)| byte).collect();
        table.push(text.len());
        Offsets { table: Some(table) }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index,
            Some(table) => table[char_index.min(table.len() - 1)],
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Scalar {
        value: String,
        style: ScalarStyle,
        str_tag: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// One YAML node with its place in the text. `start..end` covers the node's own content:
/// for a block collection from its first indicator or key to the end of its last scalar
/// (trailing comments and blank lines are not part of it), for a flow collection from the
/// opening to the closing bracket.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub start: usize,
    pub end: usize,
    pub flow: bool,
    /// 1-based line and column (in characters) of `start`.
    pub line: usize,
    pub column: usize,
}

impl Node {
    pub fn as_scalar(&self) -> Option<(&str, ScalarStyle, bool)> {
        match &self.kind {
            NodeKind::Scalar {
                value,
                style,
                str_tag,
            } => Some((value, *style, *str_tag)),
            _ => None,
        }
    }
}

/// How the top-level list is written.
#[derive(Debug, Clone)]
pub(crate) enum Layout {
    /// No node at all (empty text, blanks, comments, or an empty explicit document).
    Empty,
    /// A null-like scalar (`null`, `~`, `""`) stands where the list would be.
    NullScalar { start: usize, end: usize },
    /// `- a` items; `dashes[i]` is the byte offset of item i's `-`.
    Block { dashes: Vec<usize> },
    /// `[a, b]`; byte offsets of the brackets.
    Flow { open: usize, close: usize },
}

#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub layout: Layout,
    pub items: Vec<Node>,
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: usize,
        flow: bool,
        line: usize,
        column: usize,
    },
    Map {
        pairs: Vec<(Node, Node)>,
        key: Option<Node>,
        start: usize,
        flow: bool,
        line: usize,
        column: usize,
    },
}

impl Frame {
    fn is_flow(&self) -> bool {
        match self {
            Frame::Seq { flow, .. } | Frame::Map { flow, .. } => *flow,
        }
    }
}

fn error_at(line: usize, column: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        column,
        message: message.into(),
    }
}

fn check_tag(
    tag: &Option<Cow<'_, Tag>>,
    allowed: &str,
    line: usize,
    column: usize,
) -> Result<bool, ParseError> {
    match tag {
        None => Ok(false),
        Some(tag) if tag.is_yaml_core_schema() && tag.suffix == allowed => Ok(true),
        Some(tag) => Err(error_at(
            line,
            column,
            format!(
                "the YAML tag {tag} is not supported in aws-auth; remove it (quote the value if it must stay text)"
            ),
        )),
    }
}

/// YAML 1.1 parsers (aws-iam-authenticator's go-yaml v2) end lines at these characters, YAML
/// 1.2 parsers do not: the two would read different entries, so refuse the text.
const AMBIGUOUS_BREAKS: &[char] = &['\u{85}', '\u{2028}', '\u{2029}'];

/// YAML's printable set (c-printable): anything else makes go-yaml refuse the whole text.
fn is_yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Reads `text` into its top-level list. Refuses anchors and aliases (the YAML bomb),
/// tags other than `!!str`, several documents, and anything that is not a list.
pub(crate) fn read_document(text: &str) -> Result<Document, ParseError> {
    if let Some(byte) = text.find(AMBIGUOUS_BREAKS) {
        let (line, column) = line_column(text, byte);
        return Err(error_at(
            line,
            column,
            "the text contains a Unicode line or paragraph separator (U+0085, U+2028 or U+2029), which YAML 1.1 (aws-iam-authenticator) and YAML 1.2 read differently; replace it",
        ));
    }
    if let Some((byte, c)) = text.char_indices().find(|&(_, c)| !is_yaml_printable(c)) {
        let (line, column) = line_column(text, byte);
        return Err(error_at(
            line,
            column,
            format!(
                "the text contains the control character U+{:04X}, which YAML does not allow (aws-iam-authenticator cannot read this mapRoles); remove it",
                c as u32
            ),
        ));
    }
    // aws-iam-authenticator skips this outright (`isSkippable`): no entries, not an error.
    if text.trim() == "``" {
        let start = text.find('`').unwrap_or_default();
        return Ok(Document {
            layout: Layout::NullScalar {
                start,
                end: start + 2,
            },
            items: Vec::new(),
        });
    }
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<(Node, Option<(usize, usize)>)> = None;
    let mut documents = 0usize;
    let has_cr = text.contains('\r');

    while let Some(next) = parser.next_event() {
        let (event, span) =
            next.map_err(|e| error_at(e.marker().line(), e.marker().col() + 1, e.info()))?;
        let start = offsets.byte(span.start.index());
        // saphyr does not count byte-order marks as columns; editors show them as characters.
        // A text with `\r` line breaks keeps saphyr's columns, which follow those breaks.
        let line = span.start.line();
        let column = if has_cr {
            span.start.col() + 1
        } else {
            text[line_start(text, start)..start].chars().count() + 1
        };
        let end = offsets.byte(span.end.index());
        // A flow collection's closing bracket is the one character at the end event's start;
        // the event's span can run on over a trailing comment. A pair inside [ ] (`? a : b`)
        // has no bracket: its end event starts at the line break after it, and a `\r\n` is
        // taken whole, as a `\n` is, or an edit there would split it into a bare `\r` (found by
        // fuzzing).
        let bracket_end = if text[start..].starts_with("\r\n") {
            start + 2
        } else {
            start + 1
        };
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => continue,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(error_at(
                        line,
                        column,
                        "the text holds more than one YAML document (a second `---`); aws-auth values hold exactly one list",
                    ));
                }
                continue;
            }
            Event::Alias(_) => {
                return Err(error_at(
                    line,
                    column,
                    "YAML aliases (*name) are not allowed in aws-auth: they can expand without bound (a YAML bomb); write the values out",
                ));
            }
            Event::Scalar(value, style, anchor, tag) => {
                refuse_anchor(anchor, line, column)?;
                let str_tag = check_tag(&tag, "str", line, column)?;
                // Inside [ ] or { }, go-yaml (YAML 1.1, as aws-iam-authenticator reads) takes a
                // leading `?` or `:` as a key or value indicator, where saphyr (YAML 1.2) reads
                // a plain value: the two would see different entries.
                if style == ScalarStyle::Plain
                    && value.starts_with(['?', ':'])
                    && stack.iter().any(Frame::is_flow)
                {
                    return Err(error_at(
                        line,
                        column,
                        "a plain value starting with `?` or `:` inside [ ] or { } is read as a key or value indicator by aws-iam-authenticator; quote it",
                    ));
                }
                // Inside [ ] or { }, a `:` right before `,`, `[`, `]`, `{` or `}` ends a key for
                // saphyr; go-yaml keeps it as the plain value's last character (`[x:, g]` is
                // the groups `x:` and `g` to aws-iam-authenticator).
                if style == ScalarStyle::Plain
                    && end > start
                    && stack.iter().any(Frame::is_flow)
                    && text[end..].starts_with(':')
                    && text[end + 1..].starts_with([',', '[', ']', '{', '}'])
                {
                    return Err(error_at(
                        line,
                        column,
                        "a plain value ending in `:` inside [ ] or { } is text to aws-iam-authenticator but a key to YAML 1.2 readers; quote it",
                    ));
                }
                // A block scalar's span runs on over the next line's indentation; end it at
                // that line's start instead.
                let mut value = value.into_owned();
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    // saphyr gives a `|`/`>` value that ends the text without a line break a
                    // final `\n` anyway; go-yaml (aws-iam-authenticator) does not.
                    if (ends_without_line_break(text, end)
                        || ends_in_blank_content_line(text, start, end, &value))
                        && value.ends_with('\n')
                    {
                        value.pop();
                    } else if let Some(breaks) = kept_breaks_at_end(text, start, end, &value) {
                        value = breaks;
                    }
                }
                let mut end = end;
                let (mut start, mut line, mut column) = (start, line, column);
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    // saphyr starts a `|`/`>` value with no content at the token after it
                    // (the next item's `-`): the node starts at its header instead.
                    if let Some(header) = empty_block_header(text, start, &value) {
                        start = header;
                        end = end.max(header + 1);
                        (line, column) = line_column(text, header);
                    }
                    let next_line = line_start(text, end);
                    if next_line > start && text[next_line..end].bytes().all(|b| b == b' ') {
                        end = next_line;
                    }
                }
                Node {
                    kind: NodeKind::Scalar {
                        value,
                        style,
                        str_tag,
                    },
                    start,
                    end,
                    flow: false,
                    line,
                    column,
                }
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                refuse_anchor(anchor, line, column)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(error_at(
                        line,
                        column,
                        format!(
                            "the YAML nests deeper than {MAX_DEPTH} levels; aws-auth entries are shallow"
                        ),
                    ));
                }
                let flow = !span_is_empty(&span);
                if matches!(event, Event::SequenceStart(..)) {
                    check_tag(tag, "seq", line, column)?;
                    stack.push(Frame::Seq {
                        items: Vec::new(),
                        start,
                        flow,
                        line,
                        column,
                    });
                } else {
                    check_tag(tag, "map", line, column)?;
                    stack.push(Frame::Map {
                        pairs: Vec::new(),
                        key: None,
                        start,
                        flow,
                        line,
                        column,
                    });
                }
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().expect("the parser balances collection events");
                let (kind, start, flow, line, column) = match frame {
                    Frame::Seq {
                        items,
                        start,
                        flow,
                        line,
                        column,
                    } => (NodeKind::Seq(items), start, flow, line, column),
                    Frame::Map {
                        pairs,
                        start,
                        flow,
                        line,
                        column,
                        ..
                    } => (NodeKind::Map(pairs), start, flow, line, column),
                };
                let content_end = if flow {
                    bracket_end
                } else {
                    match &kind {
                        NodeKind::Seq(items) => items.last().map_or(start, |n| n.end),
                        NodeKind::Map(pairs) => {
                            pairs.last().map_or(start, |(k, v)| v.end.max(k.end))
                        }
                        NodeKind::Scalar { .. } => unreachable!(),
                    }
                };
                let node = Node {
                    kind,
                    start,
                    end: content_end,
                    flow,
                    line,
                    column,
                };
                if stack.is_empty() {
                    let brackets = flow.then_some((start, bracket_end - 1));
                    root = Some((node, brackets));
                    continue;
                }
                node
            }
        };
        match stack.last_mut() {
            None => root = Some((node, None)),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { pairs, key, .. }) => match key.take() {
                None => {
                    if node.as_scalar().is_none() {
                        return Err(error_at(
                            node.line,
                            node.column,
                            "a mapping key here is a list or a mapping; aws-auth keys are plain words such as rolearn",
                        ));
                    }
                    *key = Some(node);
                }
                Some(k) => pairs.push((k, node)),
            },
        }
    }

    let Some((root, brackets)) = root else {
        return Ok(Document {
            layout: Layout::Empty,
            items: Vec::new(),
        });
    };
    match root.kind {
        NodeKind::Seq(items) => {
            let layout = match brackets {
                Some((open, close)) => Layout::Flow { open, close },
                None => {
                    let mut dashes = Vec::with_capacity(items.len());
                    for item in &items {
                        let dash = find_dash(text, item.start).ok_or_else(|| {
                            error_at(
                                item.line,
                                item.column,
                                "could not find the `-` that starts this list item",
                            )
                        })?;
                        dashes.push(dash);
                    }
                    Layout::Block { dashes }
                }
            };
            check_sibling_order(&items)?;
            for item in &items {
                check_spans(text, item)?;
            }
            Ok(Document { layout, items })
        }
        NodeKind::Scalar {
            ref value,
            style,
            str_tag,
        } => {
            let null_like = if style == ScalarStyle::Plain && !str_tag {
                matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL")
            } else {
                value.is_empty()
            };
            if !null_like {
                return Err(error_at(
                    root.line,
                    root.column,
                    format!(
                        "expected a list of entries (lines starting with `- `), found the single value {value:?}"
                    ),
                ));
            }
            if root.start == root.end {
                Ok(Document {
                    layout: Layout::Empty,
                    items: Vec::new(),
                })
            } else {
                Ok(Document {
                    layout: Layout::NullScalar {
                        start: root.start,
                        end: root.end,
                    },
                    items: Vec::new(),
                })
            }
        }
        NodeKind::Map(_) => Err(error_at(
            root.line,
            root.column,
            "expected a list of entries (lines starting with `- `), found a mapping; put `- ` before the first key",
        )),
    }
}

/// What a construct whose spans are out of place (see [`check_spans`]) is refused with.
const UNSUPPORTED_CONSTRUCT: &str = "this YAML construct (for example an explicit `?` key) is not supported in aws-auth; write entries as plain `key: value` mappings";

/// Every node's span must lie inside the text, in order, on character boundaries. Constructs
/// the editor does not support (explicit `?` keys in flow collections, found by fuzzing) give
/// spans that do not; refuse them here, with a position, rather than slice out of bounds later.
fn check_spans(text: &str, node: &Node) -> Result<(), ParseError> {
    let sane = node.start <= node.end
        && node.end <= text.len()
        && text.is_char_boundary(node.start)
        && text.is_char_boundary(node.end);
    if !sane {
        return Err(error_at(node.line, node.column, UNSUPPORTED_CONSTRUCT));
    }
    match &node.kind {
        NodeKind::Scalar { .. } => Ok(()),
        NodeKind::Seq(items) => {
            check_sibling_order(items)?;
            items.iter().try_for_each(|n| check_spans(text, n))
        }
        NodeKind::Map(pairs) => pairs
            .iter()
            .try_for_each(|(k, v)| check_spans(text, k).and_then(|_| check_spans(text, v))),
    }
}

/// Items of one list must not overlap (explicit `?` keys in flow lists give spans that do).
fn check_sibling_order(items: &[Node]) -> Result<(), ParseError> {
    match items.windows(2).find(|w| w[1].start < w[0].end) {
        Some(pair) => Err(error_at(
            pair[1].line,
            pair[1].column,
            UNSUPPORTED_CONSTRUCT,
        )),
        None => Ok(()),
    }
}

fn refuse_anchor(anchor: usize, line: usize, column: usize) -> Result<(), ParseError> {
    if anchor != 0 {
        return Err(error_at(
            line,
            column,
            "YAML anchors (&name) are not allowed in aws-auth: with aliases they can expand without bound (a YAML bomb); write the values out",
        ));
    }
    Ok(())
}

fn span_is_empty(span: &Span) -> bool {
    span.start.index() == span.end.index()
}

/// Whether the block scalar ending at `end` runs to the end of the text into a last line of
/// only spaces, indented at least as far as its content, with no line break after it: go-yaml
/// reads that line's extra spaces as content without a break; saphyr adds one.
fn ends_in_blank_content_line(text: &str, start: usize, end: usize, value: &str) -> bool {
    let last_line = text.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let tail = &text[last_line..];
    if end < last_line || tail.is_empty() || !tail.bytes().all(|b| b == b' ') {
        return false;
    }
    // saphyr's scalar starts at its first content character, after the content's
    // indentation (explicit or detected), on the last line too; only a value with no content
    // starts at its header.
    if value.bytes().all(|b| b == b'\n') {
        return false;
    }
    let indent = text[line_start(text, start)..start].chars().count();
    tail.len() >= indent
}

/// The header (`|` or `>`) of a block scalar with no content whose span saphyr starts
/// elsewhere: at the token after it, past blank lines. `None` when the span starts at the
/// header already, or the value has content.
fn empty_block_header(text: &str, start: usize, value: &str) -> Option<usize> {
    if value.bytes().any(|b| b != b'\n') || text[start..].starts_with(['|', '>']) {
        return None;
    }
    let before = text[..start].trim_end_matches([' ', '\t', '\n', '\r']);
    let line = &before[line_start(before, before.len())..];
    let code = line.find(" #").map_or(line, |i| &line[..i]).trim_end();
    let header = code.trim_end_matches(|c: char| c == '+' || c == '-' || c.is_ascii_digit());
    header
        .ends_with(['|', '>'])
        .then(|| before.len() - line.len() + header.len() - 1)
}

/// go-yaml's value of a block scalar with no content that runs to the end of the text into a
/// last line of only spaces with no line break after it: with `+` the line breaks after its
/// header's line, else nothing. saphyr counts that last line as one more break (`|+` then
/// `    ` is one line break to it, none to go-yaml). `None` for any other scalar.
fn kept_breaks_at_end(text: &str, start: usize, end: usize, value: &str) -> Option<String> {
    let last_line = text.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let tail = &text[last_line..];
    let content = value.bytes().any(|b| b != b'\n');
    if content || end < last_line || tail.is_empty() || !tail.bytes().all(|b| b == b' ') {
        return None;
    }
    // Without content, saphyr's scalar starts at its header.
    let header_end = start + text[start..].find('\n')?;
    let header = text[start..header_end]
        .split('#')
        .next()
        .unwrap_or_default();
    let breaks = if header.contains('+') {
        text[header_end + 1..].matches('\n').count()
    } else {
        0
    };
    Some("\n".repeat(breaks))
}

fn ends_without_line_break(text: &str, end: usize) -> bool {
    let last_line = text.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    end >= text.len() && !text[last_line..].trim_matches([' ', '\t']).is_empty()
}

/// Byte offset of the start of the line holding `byte`.
pub(crate) fn line_start(text: &str, byte: usize) -> usize {
    text[..byte].rfind('\n').map_or(0, |i| i + 1)
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, byte: usize) -> (usize, usize) {
    let line = text[..byte].bytes().filter(|b| *b == b'\n').count() + 1;
    let column = text[line_start(text, byte)..byte].chars().count() + 1;
    (line, column)
}

/// The newlines of one text, for many [`line_column`] questions about it: each is a binary
/// search, not a count from the start (an aws-auth of 1,700 entries asks once per entry, which
/// counted its way through the text 1,700 times).
pub(crate) struct LineIndex<'a> {
    pub(crate) text: &'a str,
    newlines: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i)
            .collect();
        LineIndex { text, newlines }
    }

    /// The answer of [`line_column`].
    pub(crate) fn line_column(&self, byte: usize) -> (usize, usize) {
        let before = self.newlines.partition_point(|&i| i < byte);
        let start = before.checked_sub(1).map_or(0, |i| self.newlines[i] + 1);
        (before + 1, self.text[start..byte].chars().count() + 1)
    }
}

/// The `-` of a block list item whose content starts at `item_start`: either earlier on the
/// same line, or alone (perhaps with a comment) on the closest earlier non-comment line.
pub(crate) fn find_dash(text: &str, item_start: usize) -> Option<usize> {
    let start_of_line = line_start(text, item_start);
    let before = text[start_of_line..item_start].trim_end_matches([' ', '\t']);
    if !before.is_empty() {
        return before
            .ends_with('-')
            .then(|| start_of_line + before.len() - 1);
    }
    let mut next_line = start_of_line;
    while next_line > 0 {
        let prev_start = line_start(text, next_line - 1);
        let line = text[prev_start..next_line - 1].trim_end_matches('\r');
        let content = line.trim_start_matches([' ', '\t']);
        if content.is_empty() || content.starts_with('#') {
            next_line = prev_start;
            continue;
        }
        let after_dash = content.strip_prefix('-')?;
        let rest = after_dash.trim_start_matches([' ', '\t']);
        let block_scalar_header = rest.len() < after_dash.len() && is_block_scalar_header(rest);
        return (rest.is_empty() || rest.starts_with('#') || block_scalar_header)
            .then(|| prev_start + line.len() - content.len());
    }
    None
}

/// `|`, `>-`, `|+2 # comment` and the like.
fn is_block_scalar_header(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(['|', '>']) else {
        return false;
    };
    let rest = rest.trim_start_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
    let rest = rest.trim_start_matches([' ', '\t']);
    rest.is_empty() || rest.starts_with('#')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The index answers as the count from the start does, at every character boundary.
        #[test]
        fn the_line_index_answers_as_line_column(text in "[a\\n\\r é-]{0,40}") {
            let index = super::LineIndex::new(&text);
            for byte in (0..=text.len()).filter(|&b| text.is_char_boundary(b)) {
                prop_assert_eq!(index.line_column(byte), super::line_column(&text, byte), "{:?} at {}", text, byte);
            }
        }
    }

    /// Found by the same fuzz check in a 180 s run: a last line of only spaces, as indented as
    /// the content or more, with no break after it. Values are aws-iam-authenticator's.
    #[test]
    fn a_block_scalar_ending_in_a_blank_line_without_a_break_keeps_its_spaces() {
        let value = |text: &str| match &read_document(text).unwrap().items[0].kind {
            NodeKind::Map(pairs) => pairs[0].1.as_scalar().unwrap().0.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(value("- u: |\n    a\n     "), "a\n ");
        assert_eq!(value("- u: |\n    a\n    "), "a\n");
        assert_eq!(value("- u: |\n    a\n  "), "a\n");
        assert_eq!(value("- u: |\n    a\n       "), "a\n   ");
        assert_eq!(value("- u: >\n    a\n     "), "a\n ");
        assert_eq!(value("- u: |+\n    a\n     "), "a\n ");
        assert_eq!(value("- u: |-\n    a\n     "), "a\n ");
        assert_eq!(value("- u: |\n    a\n\n     "), "a\n\n ");
        assert_eq!(value("- u: |\n    a\n     \n"), "a\n \n");
    }

    /// Found by the awsauth_parse target's place check: a leading byte-order mark is a column.
    #[test]
    fn columns_on_the_first_line_count_a_byte_order_mark() {
        let d = read_document("\u{feff} [{rolearn: a}]").unwrap();
        assert_eq!((d.items[0].line, d.items[0].column), (1, 4));
        let d = read_document("\u{feff}\u{feff} [{rolearn: a}]").unwrap();
        assert_eq!((d.items[0].line, d.items[0].column), (1, 5));
    }

    /// Found by the awsauth_parse fuzz target's strict-versus-lenient check (CI, 2026-12-07):
    /// go-yaml reads `[?!!x- rolearn: ARN]` as an entry with that rolearn, saphyr as text.
    #[test]
    fn a_leading_question_mark_or_colon_inside_flow_brackets_is_refused() {
        for text in [
            "[?!!!!-   rolearn: arn:aws:iam::111122223333:role/n]\n",
            "[?rolearn: arn:aws:iam::111122223333:role/n]\n",
            "- {rolearn: arn:aws:iam::111122223333:role/n, groups: [:g]}\n",
        ] {
            let e = read_document(text).unwrap_err();
            assert!(e.message.contains("quote it"), "{text:?}: {e:?}");
        }
        // Outside brackets, and quoted, both readers agree: still read.
        for text in [
            "- rolearn: arn:aws:iam::111122223333:role/n\n  username: ?x\n",
            "- {rolearn: arn:aws:iam::111122223333:role/n, username: '?x'}\n",
        ] {
            assert!(read_document(text).is_ok(), "{text:?}");
        }
    }

    use super::*;

    #[test]
    fn block_scalars_end_before_the_next_line() {
        let text = "  - u: |-\n      a\n  - u: >\n      b\n\n  - |\n    c\n  - x: 1\n";
        let doc = read_document(text).unwrap();
        let ends: Vec<&str> = doc.items.iter().map(|i| &text[i.end - 1..i.end]).collect();
        assert_eq!(ends, vec!["\n", "\n", "\n", "1"]);
        let Layout::Block { dashes } = doc.layout else {
            panic!()
        };
        assert_eq!(dashes, vec![2, 20, 38, 50]);
    }

    #[test]
    fn block_items_know_their_dash() {
        let text = "# c\n- a: 1\n-\n  b: 2\n- # note\n  c: 3\n";
        let doc = read_document(text).unwrap();
        let Layout::Block { dashes } = doc.layout else {
            panic!()
        };
        assert_eq!(dashes, vec![4, 11, 20]);
        assert_eq!(&text[doc.items[0].start..doc.items[0].end], "a: 1");
        assert_eq!(&text[doc.items[2].start..doc.items[2].end], "c: 3");
    }

    #[test]
    fn flow_brackets_are_bytes() {
        let text = "[{a: \u{e9}}, {b: 2}]";
        let doc = read_document(text).unwrap();
        let Layout::Flow { open, close } = doc.layout else {
            panic!()
        };
        assert_eq!((open, close), (0, text.len() - 1));
        assert_eq!(&text[doc.items[0].start..doc.items[0].end], "{a: \u{e9}}");
    }

    #[test]
    fn flow_item_end_stops_at_its_bracket() {
        let text = "[\n  {a: b}, # one\n  {c: [d]} # two\n]";
        let doc = read_document(text).unwrap();
        assert_eq!(&text[doc.items[0].start..doc.items[0].end], "{a: b}");
        assert_eq!(&text[doc.items[1].start..doc.items[1].end], "{c: [d]}");
        let Layout::Flow { close, .. } = doc.layout else {
            panic!()
        };
        assert_eq!(close, text.len() - 1);
    }

    #[test]
    fn null_and_empty() {
        assert!(matches!(read_document("").unwrap().layout, Layout::Empty));
        assert!(matches!(
            read_document("# only\n").unwrap().layout,
            Layout::Empty
        ));
        assert!(matches!(
            read_document("null\n").unwrap().layout,
            Layout::NullScalar { .. }
        ));
        assert!(read_document("hello").is_err());
        assert!(read_document("a: b").is_err());
    }

    /// Found by fuzzing the strict reader against the lenient one; the values are what
    /// aws-iam-authenticator v0.7.8 reads (tests/offline/awsauth_oracle.rs has these documents).
    #[test]
    fn a_block_scalar_ending_the_text_has_no_final_line_break() {
        let value = |text: &str| match &read_document(text).unwrap().items[0].kind {
            NodeKind::Map(pairs) => pairs[0].1.as_scalar().unwrap().0.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(value("- u: |\n    multi"), "multi");
        assert_eq!(value("- u: |+\n    multi"), "multi");
        assert_eq!(value("- u: >\n    a\n    b"), "a b");
        assert_eq!(value("- u: |\n    multi  "), "multi  ");
        assert_eq!(value("- u: |\n    multi\n"), "multi\n");
        assert_eq!(value("- u: |\n    multi\n# c"), "multi\n");
        assert_eq!(value("- u: |\n    multi\n   "), "multi\n");
    }
}
