//! Lossless edits of the mapRoles text: only the bytes of the entry being added, replaced
//! or removed change; comments, order, quoting, indentation, flow or block style, line
//! endings and a missing final newline all stay. Each edit re-parses its result and checks
//! that exactly the intended entries come out, or fails.

use std::ops::Range;

use serde::Serialize;

use super::document::{Document, Layout, Node, NodeKind, line_start, read_document};
use super::emit::{self, BlockStyle, EntryFields, GroupsStyle};
use super::entry::MapRoleEntry;
use super::parse::{parse_map_roles, role_entries};
use super::parse_error::ParseError;
use super::template::{TemplateError, parse_template, validate_username};
use crate::arn::{self, CanonicalRoleArn};
use saphyr_parser::ScalarStyle;

/// The entry chronom wants for a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRoleEntry {
    pub rolearn: CanonicalRoleArn,
    pub username: String,
    pub groups: Vec<String>,
}

impl NewRoleEntry {
    /// Same username and the same set of groups (order and repeats do not matter to RBAC).
    pub fn same_mapping_as(&self, entry: &MapRoleEntry) -> bool {
        entry.username.as_deref() == Some(self.username.as_str())
            && group_set(&entry.groups) == group_set(&self.groups)
    }
}

fn group_set(groups: &[String]) -> Vec<&str> {
    let mut set: Vec<&str> = groups.iter().map(String::as_str).collect();
    set.sort_unstable();
    set.dedup();
    set
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum EditAction {
    /// No entry was about the role; one was appended.
    Added,
    /// The role already maps to this username and groups; the text is untouched.
    Unchanged,
    /// With `force`: `previous` was replaced in place, `removed_duplicates` were deleted.
    Updated {
        previous: Box<MapRoleEntry>,
        removed_duplicates: Vec<MapRoleEntry>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleEdit {
    pub new_text: String,
    pub action: EditAction,
    /// The role's entry as it reads in `new_text`.
    pub entry: MapRoleEntry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRemoval {
    pub new_text: String,
    /// Every entry that was about the role, as it was in the old text.
    pub removed: Vec<MapRoleEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("mapRoles cannot be read safely: {0}")]
    Parse(#[from] ParseError),
    #[error("invalid username: {0}")]
    Username(TemplateError),
    #[error("invalid group {group:?}: {error}")]
    Group { group: String, error: TemplateError },
    #[error("mapRoles line {}: an entry for this role already exists and {reason}; re-run with --force-update to replace it", .existing.line)]
    Conflict {
        existing: Box<MapRoleEntry>,
        reason: String,
    },
    #[error(
        "mapRoles has {} entries for {role} (lines {}); {}; re-run with --force-update to replace them with one entry",
        .entries.len(),
        lines(.entries),
        effective_text(.entries, .effective)
    )]
    Duplicates {
        role: String,
        entries: Vec<MapRoleEntry>,
        effective: Option<usize>,
    },
    #[error("mapRoles line {line}, column {column}: {reason}; edit this entry by hand")]
    UnsupportedLayout {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error(
        "refusing the edit: re-reading the edited mapRoles did not give the intended entries ({reason}); please report this"
    )]
    Verification { reason: String },
}

fn lines(entries: &[MapRoleEntry]) -> String {
    entries
        .iter()
        .map(|e| e.line.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn effective_text(entries: &[MapRoleEntry], effective: &Option<usize>) -> String {
    match effective {
        Some(i) => format!(
            "aws-iam-authenticator uses only the last exact match, line {}, and ignores the others",
            entries[*i].line
        ),
        None => {
            "aws-iam-authenticator matches none of them (they carry a role path or are invalid)"
                .to_string()
        }
    }
}

fn validate(entry: &NewRoleEntry) -> Result<(), EditError> {
    validate_username(&entry.username).map_err(EditError::Username)?;
    for group in &entry.groups {
        let error = if group.is_empty() {
            Some(TemplateError::Empty)
        } else {
            parse_template(group).err()
        };
        if let Some(error) = error {
            return Err(EditError::Group {
                group: group.clone(),
                error,
            });
        }
    }
    Ok(())
}

/// Adds the role's entry, or leaves the text alone if it is already there. An existing,
/// different entry for the role is a `Conflict` unless `force`, which replaces that entry's
/// bytes only; several entries for the role are `Duplicates` unless `force`, which keeps one
/// (the one aws-iam-authenticator uses: the last exact match) and removes the rest.
pub fn upsert_role(text: &str, entry: &NewRoleEntry, force: bool) -> Result<RoleEdit, EditError> {
    validate(entry)?;
    let document = read_document(text)?;
    let entries = role_entries(text, &document);
    let role = &entry.rolearn;
    let matching: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].refers_to(role))
        .collect();
    let effective = matching
        .iter()
        .rposition(|&i| entries[i].authenticator_matches(role));
    let rolearn = role.to_string();
    let fields = EntryFields {
        rolearn: &rolearn,
        username: &entry.username,
        groups: &entry.groups,
    };
    let editor = Editor::new(text, &document);

    if matching.is_empty() {
        let (at, insert) = editor.insertion(fields)?;
        let new_text = splice(text, vec![(at, insert)])?;
        let mut expected: Vec<MapRoleEntry> = entries.clone();
        expected.push(wanted_entry(entry));
        let reparsed = verify(&new_text, &expected)?;
        let entry = reparsed.last().cloned().expect("verified");
        return Ok(RoleEdit {
            new_text,
            action: EditAction::Added,
            entry,
        });
    }

    if let [only] = matching[..] {
        let existing = &entries[only];
        if existing.authenticator_matches(role) && entry.same_mapping_as(existing) {
            return Ok(RoleEdit {
                new_text: text.to_string(),
                action: EditAction::Unchanged,
                entry: existing.clone(),
            });
        }
        if !force {
            return Err(EditError::Conflict {
                existing: Box::new(existing.clone()),
                reason: conflict_reason(existing, entry, role),
            });
        }
    } else if !force {
        return Err(EditError::Duplicates {
            role: rolearn,
            entries: matching.iter().map(|&i| entries[i].clone()).collect(),
            effective,
        });
    }

    let keep = matching[effective.unwrap_or(matching.len() - 1)];
    let removed: Vec<usize> = matching.iter().copied().filter(|&i| i != keep).collect();
    let mut edits = editor.removals(&removed)?;
    edits.push(editor.replacement(keep, fields)?);
    let new_text = splice(text, edits)?;
    let expected: Vec<MapRoleEntry> = (0..entries.len())
        .filter(|i| !removed.contains(i))
        .map(|i| {
            if i == keep {
                wanted_entry(entry)
            } else {
                entries[i].clone()
            }
        })
        .collect();
    let reparsed = verify(&new_text, &expected)?;
    let position = (0..keep).filter(|i| !removed.contains(i)).count();
    Ok(RoleEdit {
        new_text,
        action: EditAction::Updated {
            previous: Box::new(entries[keep].clone()),
            removed_duplicates: removed.iter().map(|&i| entries[i].clone()).collect(),
        },
        entry: reparsed[position].clone(),
    })
}

fn conflict_reason(
    existing: &MapRoleEntry,
    wanted: &NewRoleEntry,
    role: &CanonicalRoleArn,
) -> String {
    if existing.is_dropped() {
        let notes: Vec<String> = existing
            .notes
            .iter()
            .filter(|n| n.drops_entry())
            .map(ToString::to_string)
            .collect();
        return format!("is invalid ({})", notes.join("; "));
    }
    if !existing.authenticator_matches(role) {
        return format!(
            "writes the role as {:?}, which aws-iam-authenticator never matches (callers are identified as {role})",
            existing.rolearn
        );
    }
    format!(
        "maps it to username {:?} and groups {:?}, not username {:?} and groups {:?}",
        existing.username.as_deref().unwrap_or_default(),
        existing.groups,
        wanted.username,
        wanted.groups
    )
}

/// Removes every entry about the role (path ignored, case-insensitive), wherever it is.
/// A text that cannot be edited safely is reported like a parse error, with its place.
pub fn remove_role(text: &str, role: &CanonicalRoleArn) -> Result<RoleRemoval, ParseError> {
    remove_role_edit(text, role).map_err(|error| match error {
        EditError::Parse(p) => p,
        EditError::UnsupportedLayout {
            line,
            column,
            reason,
        } => ParseError {
            line,
            column,
            message: format!("{reason}; edit this entry by hand"),
        },
        other => ParseError {
            line: 1,
            column: 1,
            message: other.to_string(),
        },
    })
}

fn remove_role_edit(text: &str, role: &CanonicalRoleArn) -> Result<RoleRemoval, EditError> {
    let document = read_document(text)?;
    let entries = role_entries(text, &document);
    let matching: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].refers_to(role))
        .collect();
    if matching.is_empty() {
        return Ok(RoleRemoval {
            new_text: text.to_string(),
            removed: Vec::new(),
        });
    }
    let editor = Editor::new(text, &document);
    let new_text = splice(text, editor.removals(&matching)?)?;
    let expected: Vec<MapRoleEntry> = (0..entries.len())
        .filter(|i| !matching.contains(i))
        .map(|i| entries[i].clone())
        .collect();
    verify(&new_text, &expected)?;
    Ok(RoleRemoval {
        new_text,
        removed: matching.iter().map(|&i| entries[i].clone()).collect(),
    })
}

fn wanted_entry(entry: &NewRoleEntry) -> MapRoleEntry {
    MapRoleEntry {
        rolearn: entry.rolearn.to_string(),
        username: Some(entry.username.clone()),
        groups: entry.groups.clone(),
        userid: None,
        sso: None,
        extra: Vec::new(),
        notes: Vec::new(),
        span: 0..0,
        line: 0,
        column: 0,
    }
}

fn without_place(entry: &MapRoleEntry) -> MapRoleEntry {
    MapRoleEntry {
        span: 0..0,
        line: 0,
        column: 0,
        ..entry.clone()
    }
}

/// The safety net: the edited text must read back as exactly `expected`.
fn verify(new_text: &str, expected: &[MapRoleEntry]) -> Result<Vec<MapRoleEntry>, EditError> {
    let reparsed = parse_map_roles(new_text).map_err(|e| EditError::Verification {
        reason: e.to_string(),
    })?;
    if reparsed.len() != expected.len() {
        return Err(EditError::Verification {
            reason: format!(
                "expected {} entries, read {}",
                expected.len(),
                reparsed.len()
            ),
        });
    }
    for (got, want) in reparsed.iter().zip(expected) {
        if without_place(got) != without_place(want) {
            return Err(EditError::Verification {
                reason: format!("line {} reads differently", got.line),
            });
        }
    }
    Ok(reparsed)
}

/// Applies non-overlapping edits (overlapping pure removals are merged).
fn splice(text: &str, mut edits: Vec<(Range<usize>, String)>) -> Result<String, EditError> {
    edits.sort_by_key(|(range, _)| (range.start, range.end));
    let mut merged: Vec<(Range<usize>, String)> = Vec::with_capacity(edits.len());
    for (range, insert) in edits {
        if let Some((last, last_insert)) = merged.last_mut()
            && range.start < last.end
            && insert.is_empty()
            && last_insert.is_empty()
        {
            last.end = last.end.max(range.end);
            continue;
        }
        merged.push((range, insert));
    }
    let mut out =
        String::with_capacity(text.len() + merged.iter().map(|(_, s)| s.len()).sum::<usize>());
    let mut at = 0;
    for (range, insert) in merged {
        if range.start < at {
            return Err(EditError::Verification {
                reason: "two edits overlap".to_string(),
            });
        }
        out.push_str(&text[at..range.start]);
        out.push_str(&insert);
        at = range.end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

fn eol_of(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

/// Characters from the start of its line to `byte`.
fn column_of(text: &str, byte: usize) -> usize {
    text[line_start(text, byte)..byte].chars().count()
}

struct Editor<'t> {
    text: &'t str,
    document: &'t Document,
    eol: &'static str,
}

impl<'t> Editor<'t> {
    fn new(text: &'t str, document: &'t Document) -> Self {
        Editor {
            text,
            document,
            eol: eol_of(text),
        }
    }

    fn unsupported(&self, byte: usize, reason: &str) -> EditError {
        let (line, column) = super::document::line_column(self.text, byte);
        EditError::UnsupportedLayout {
            line,
            column,
            reason: reason.to_string(),
        }
    }

    fn check_line_breaks(&self) -> Result<(), EditError> {
        let bytes = self.text.as_bytes();
        if let Some(i) =
            (0..bytes.len()).find(|&i| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
        {
            return Err(self.unsupported(i, "the text uses a bare carriage return as a line break"));
        }
        Ok(())
    }

    /// Where a block item's lines end: after the line break of the line holding its last
    /// value (its trailing comment included), or the end of the text.
    fn block_item_lines_end(&self, item: &Node) -> usize {
        let end = item.end;
        if end > 0 && self.text.as_bytes()[end - 1] == b'\n' {
            return end;
        }
        self.text[end..]
            .find('\n')
            .map_or(self.text.len(), |p| end + p + 1)
    }

    fn dash_line_start(&self, dash: usize) -> Result<usize, EditError> {
        let start = line_start(self.text, dash);
        if !self.text[start..dash].bytes().all(|b| b == b' ') {
            return Err(self.unsupported(dash, "the list item does not start its own line"));
        }
        Ok(start)
    }

    fn block_style(&self, dashes: &[usize]) -> Result<BlockStyle, EditError> {
        let items = &self.document.items;
        let last = items.len() - 1;
        let dash = dashes[last];
        let indent = self.text[self.dash_line_start(dash)?..dash].to_string();
        let mut style = BlockStyle {
            indent,
            eol: self.eol,
            ..BlockStyle::default()
        };
        if let Some(i) = (0..items.len())
            .rev()
            .find(|&i| matches!(items[i].kind, NodeKind::Map(_)) && !items[i].flow)
        {
            let key_column = column_of(self.text, items[i].start);
            let dash_column = column_of(self.text, dashes[i]);
            style.key_offset = key_column.saturating_sub(dash_column).max(2);
        }
        if let Some(groups) = items.iter().rev().find_map(block_groups) {
            style.groups = groups_style(self.text, groups);
        }
        Ok(style)
    }

    /// The text after `at` ends up after the new entry, where go-yaml (aws-iam-authenticator)
    /// rejects a tab in the indentation that it tolerated after the old last item.
    fn check_lines_after(&self, at: usize) -> Result<(), EditError> {
        let text = self.text;
        let tab = text[at..].lines().find_map(|l| {
            let indent = &l[..l.len() - l.trim_start().len()];
            indent
                .find('\t')
                .map(|p| l.as_ptr() as usize - text.as_ptr() as usize + p)
        });
        match tab {
            Some(tab) => Err(self.unsupported(
                tab,
                "a line after the last entry is indented with a tab, which YAML parsers read differently once an entry follows it; remove the tab first",
            )),
            None => Ok(()),
        }
    }

    /// The entry goes after the text's last line, so that line gets the line break it lacks.
    /// saphyr reads a few lines differently at the very end of the text (an explicit `?` key
    /// after a compact nested list, found by fuzzing), so the text with that line break must
    /// read as the text does. A test of the bytes (a last line ending in `-` or `?`) also
    /// refused comments (`# see -`), values (`|-` then `-`) and empty items (`-`), which
    /// read alike either way.
    fn check_final_line_break(&self) -> Result<(), EditError> {
        let text = self.text;
        let completed = format!("{text}{}", self.eol);
        let reads_alike = read_document(&completed).is_ok_and(|document| {
            let ours = role_entries(text, self.document);
            let theirs = role_entries(&completed, &document);
            ours.len() == theirs.len()
                && ours
                    .iter()
                    .zip(&theirs)
                    .all(|(a, b)| without_place(a) == without_place(b))
        });
        if reads_alike {
            return Ok(());
        }
        Err(self.unsupported(
            text.len(),
            "the last line reads differently once a line break follows it, as it must before an added entry; add a line break at the end of mapRoles, check that it reads as intended, then retry",
        ))
    }

    /// Where and what to insert to append the entry.
    fn insertion(&self, fields: EntryFields<'_>) -> Result<(Range<usize>, String), EditError> {
        self.check_line_breaks()?;
        let text = self.text;
        let end = text.len();
        match &self.document.layout {
            Layout::Empty => {
                let item = emit::block_item(
                    fields,
                    &BlockStyle {
                        eol: self.eol,
                        ..BlockStyle::default()
                    },
                );
                Ok(if text.is_empty() || text.ends_with('\n') {
                    (end..end, format!("{item}{}", self.eol))
                } else {
                    (end..end, format!("{}{item}", self.eol))
                })
            }
            Layout::NullScalar { start, end } => {
                self.check_lines_after(*end)?;
                Ok((
                    *start..*end,
                    format!("[{}]", emit::flow_mapping(fields, false)),
                ))
            }
            Layout::Block { dashes } => {
                let last = self.document.items.last().expect("a block list has items");
                let style = self.block_style(dashes)?;
                let item = if last.flow && matches!(last.kind, NodeKind::Map(_)) {
                    format!(
                        "{}- {}",
                        style.indent,
                        emit::flow_mapping(fields, json_style(last))
                    )
                } else {
                    emit::block_item(fields, &style)
                };
                let at = self.block_item_lines_end(last);
                self.check_lines_after(at)?;
                if let Some(scalar) = last_block_scalar(last)
                    && text[at..]
                        .lines()
                        .any(|l| !l.is_empty() && l.trim().is_empty())
                {
                    // Blank lines holding spaces after a `|`/`>` value can be part of it; the
                    // new entry would cut them off (found by fuzzing).
                    return Err(self.unsupported(
                        scalar.start,
                        "the last entry ends with a `|` or `>` value followed by lines of spaces, which may belong to that value; remove the trailing spaces first",
                    ));
                }
                Ok(if at == end && !text.ends_with('\n') {
                    if let Some(scalar) = last_block_scalar(last)
                        && scalar.end == end
                        && !block_scalar_strips(text, scalar)
                    {
                        return Err(self.unsupported(
                            scalar.start,
                            "the text ends inside a `|` or `>` value with no final line break, so an entry added after it would change that value; add a line break at the end of mapRoles first",
                        ));
                    }
                    self.check_final_line_break()?;
                    (end..end, format!("{}{item}", self.eol))
                } else {
                    (at..at, format!("{item}{}", self.eol))
                })
            }
            Layout::Flow { close, .. } => {
                let items = &self.document.items;
                let Some(last) = items.last() else {
                    return Ok((*close..*close, emit::flow_mapping(fields, false)));
                };
                self.check_flow_items()?;
                let separator = self.flow_separator();
                Ok((
                    last.end..last.end,
                    format!(
                        "{separator}{}",
                        emit::flow_mapping(fields, json_style(last))
                    ),
                ))
            }
        }
    }

    /// A block item whose last value is empty (`username:`) ends, for the parser, before that
    /// key's `:`; the rest of the line up to a comment belongs to the item (found by fuzzing).
    fn block_value_end(&self, range: Range<usize>) -> Result<Range<usize>, EditError> {
        if self.text[..range.end].ends_with('\n') {
            // A block scalar's span takes in its final line break.
            return Ok(range);
        }
        let line_end = self.text[range.end..]
            .find(['\n', '\r'])
            .map_or(self.text.len(), |p| range.end + p);
        let rest = &self.text[range.end..line_end];
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(range);
        }
        let after_colon = trimmed
            .strip_prefix(':')
            .map(|t| t.trim_start_matches([' ', '\t']));
        match after_colon {
            Some(t) if t.is_empty() || t.starts_with('#') => {
                Ok(range.start..range.end + (rest.len() - trimmed.len()) + 1)
            }
            _ => Err(self.unsupported(
                range.end,
                "the entry ends in a form that cannot be replaced safely; edit this entry by hand",
            )),
        }
    }

    /// Every flow item's span must reach the text that follows it (a comma, a comment, blanks
    /// or `]`), since edits cut and insert at those ends. An empty pair value (`[a:]`), a plain
    /// scalar with tabs, or an explicit `?` key ends beyond or before its span (found by fuzzing).
    fn check_flow_items(&self) -> Result<(), EditError> {
        let Layout::Flow { close, .. } = self.document.layout else {
            return Ok(());
        };
        let items = &self.document.items;
        for (i, item) in items.iter().enumerate() {
            let next = items.get(i + 1).map_or(close, |n| n.start);
            let tail = self.text.get(item.end..next).map(str::trim_start);
            let clean_tail =
                tail.is_some_and(|t| t.is_empty() || t.starts_with(',') || t.starts_with('#'));
            let multi_line_plain = matches!(
                &item.kind,
                NodeKind::Scalar {
                    style: ScalarStyle::Plain,
                    ..
                }
            ) && self
                .text
                .get(item.start..item.end)
                .is_some_and(|t| t.contains('\n'));
            let tabs_in_item = multi_line_plain
                || self
                    .text
                    .get(item.start..item.end)
                    .is_none_or(|t| t.contains('\t'));
            // `[a - ]` reads, but `[a -, b]` does not: a lone `-`, `?` or `:` ending a plain
            // value (the item's, or its pair's) becomes an indicator once a comma follows it
            // (found by fuzzing).
            let ends_in_indicator = self.text.get(item.start..item.end).is_some_and(|t| {
                t.rsplit([' ', '\t', '\n', '\r'])
                    .next()
                    .is_some_and(|w| matches!(w, "-" | "?" | ":"))
            });
            if tabs_in_item || ends_in_indicator || !clean_tail {
                return Err(self.unsupported(
                    item.start.min(self.text.len()),
                    "an item of this flow list ends in a form that cannot be edited safely (an empty value, an explicit `?` key, a plain value over several lines, with tabs or ending in a lone `-`); rewrite mapRoles in block style or fix that item first",
                ));
            }
        }
        Ok(())
    }

    /// The text between flow items, copied from the document when it is plain.
    fn flow_separator(&self) -> String {
        let items = &self.document.items;
        let Layout::Flow { open, .. } = self.document.layout else {
            unreachable!()
        };
        if items.len() >= 2 {
            let between = &self.text[items[items.len() - 2].end..items[items.len() - 1].start];
            if between.matches(',').count() == 1
                && between.chars().all(|c| c == ',' || c.is_whitespace())
            {
                return between.to_string();
            }
        }
        let before_first = &self.text[open + 1..items[0].start];
        if before_first.contains('\n') {
            let indent: String = before_first
                .rsplit('\n')
                .next()
                .unwrap_or("")
                .chars()
                .take_while(|c| *c == ' ')
                .collect();
            format!(",{}{indent}", self.eol)
        } else {
            ", ".to_string()
        }
    }

    /// Byte ranges that delete the given items (sorted indices) and nothing else.
    fn removals(&self, indices: &[usize]) -> Result<Vec<(Range<usize>, String)>, EditError> {
        self.check_line_breaks()?;
        let text = self.text;
        let items = &self.document.items;
        let mut out = Vec::new();
        match &self.document.layout {
            Layout::Block { dashes } => {
                for &i in indices {
                    let start = self.dash_line_start(dashes[i])?;
                    let end = self.block_item_lines_end(&items[i]);
                    // Taking the line break before the last line would also take the final
                    // line break of a `|`/`>` value ending right there, and change it.
                    let after_block_scalar = i > 0
                        && items[i - 1].end == start
                        && last_block_scalar(&items[i - 1])
                            .is_some_and(|s| !block_scalar_strips(text, s));
                    if end == text.len()
                        && !text.ends_with('\n')
                        && start > 0
                        && !after_block_scalar
                    {
                        // The last line has no line break: take the one before it instead.
                        let mut from = start - 1;
                        if from > 0 && text.as_bytes()[from - 1] == b'\r' {
                            from -= 1;
                        }
                        out.push((from..end, String::new()));
                    } else {
                        out.push((start..end, String::new()));
                    }
                }
            }
            Layout::Flow { close, .. } => {
                self.check_flow_items()?;
                let mut k = 0;
                while k < indices.len() {
                    let first = indices[k];
                    let mut last = first;
                    while k + 1 < indices.len() && indices[k + 1] == last + 1 {
                        k += 1;
                        last = indices[k];
                    }
                    let range = if first > 0 {
                        items[first - 1].end..items[last].end
                    } else if last + 1 < items.len() {
                        items[first].start..items[last + 1].start
                    } else {
                        // Every item goes: a trailing comma (`[a,]`) must go with them.
                        let tail = &text[items[last].end..*close];
                        let comma = tail
                            .trim_start()
                            .starts_with(',')
                            .then(|| items[last].end + tail.find(',').unwrap_or(0) + 1);
                        items[first].start..comma.unwrap_or(items[last].end)
                    };
                    out.push((range, String::new()));
                    k += 1;
                }
            }
            Layout::Empty | Layout::NullScalar { .. } => {}
        }
        Ok(out)
    }

    /// Replaces one item's own bytes (after its `-`) with the entry, in the item's style.
    fn replacement(
        &self,
        index: usize,
        fields: EntryFields<'_>,
    ) -> Result<(Range<usize>, String), EditError> {
        self.check_line_breaks()?;
        let item = &self.document.items[index];
        let range = item.start..item.end;
        if item.flow || matches!(self.document.layout, Layout::Flow { .. }) {
            return Ok((range, emit::flow_mapping(fields, json_style(item))));
        }
        if !matches!(item.kind, NodeKind::Map(_)) {
            return Err(self.unsupported(item.start, "the entry is not a mapping"));
        }
        let range = self.block_value_end(range)?;
        let mut style = BlockStyle {
            indent: String::new(),
            key_offset: column_of(self.text, item.start),
            eol: self.eol,
            ..BlockStyle::default()
        };
        if let Some(groups) =
            block_groups(item).or_else(|| self.document.items.iter().rev().find_map(block_groups))
        {
            style.groups = groups_style(self.text, groups);
        }
        let mut body = emit::block_body(fields, &style);
        if range.end > 0 && self.text.as_bytes()[range.end - 1] == b'\n' {
            // The old entry ended with a block scalar, whose line break is inside its span.
            body.push_str(self.eol);
        }
        Ok((range, body))
    }
}

/// The block scalar (`|`, `>`) an item ends with, if it ends with one.
fn last_block_scalar(node: &Node) -> Option<&Node> {
    match &node.kind {
        NodeKind::Scalar {
            style: ScalarStyle::Literal | ScalarStyle::Folded,
            ..
        } => Some(node),
        NodeKind::Seq(items) if !node.flow => items.last().and_then(last_block_scalar),
        NodeKind::Map(pairs) if !node.flow => pairs.last().and_then(|(_, v)| last_block_scalar(v)),
        _ => None,
    }
}

/// Does this block scalar's header strip the final line break (`|-`, `>-`)? Its header ends
/// the last non-blank line before the content.
fn block_scalar_strips(text: &str, scalar: &Node) -> bool {
    let before = &text[..line_start(text, scalar.start)];
    let Some(header_line) = before.lines().rev().find(|l| !l.trim().is_empty()) else {
        return false;
    };
    let header_line = header_line
        .split(" #")
        .next()
        .unwrap_or(header_line)
        .trim_end();
    let indicators =
        header_line.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
    (indicators.ends_with('|') || indicators.ends_with('>'))
        && header_line[indicators.len()..].contains('-')
}

/// The `groups` key and its list in a block mapping item.
fn block_groups(item: &Node) -> Option<(&Node, &Node)> {
    let NodeKind::Map(pairs) = &item.kind else {
        return None;
    };
    if item.flow {
        return None;
    }
    pairs.iter().rev().find_map(|(k, v)| {
        let (key, _, _) = k.as_scalar()?;
        (arn::go_fold(key) == "groups" && matches!(v.kind, NodeKind::Seq(ref g) if !g.is_empty()))
            .then_some((k, v))
    })
}

fn groups_style(text: &str, (key, list): (&Node, &Node)) -> GroupsStyle {
    if list.flow {
        return GroupsStyle::Flow;
    }
    // An indentless list (`groups:` then `- g` in the key's column) starts its node at the
    // first item, so locate the first `-` itself.
    let first = match &list.kind {
        NodeKind::Seq(items) => items.first().map_or(list.start, |i| i.start),
        _ => list.start,
    };
    let dash = super::document::find_dash(text, first).unwrap_or(list.start);
    let indent = column_of(text, dash).saturating_sub(column_of(text, key.start));
    GroupsStyle::Block { indent }
}

/// Is this flow mapping written like JSON (double-quoted keys)?
fn json_style(item: &Node) -> bool {
    match &item.kind {
        NodeKind::Map(pairs) => pairs
            .first()
            .and_then(|(k, _)| k.as_scalar())
            .is_some_and(|(_, style, _)| style == ScalarStyle::DoubleQuoted),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> CanonicalRoleArn {
        format!("arn:aws:iam::111122223333:role/{name}")
            .parse()
            .unwrap()
    }

    fn wanted(name: &str) -> NewRoleEntry {
        NewRoleEntry {
            rolearn: role(name),
            username: name.to_string(),
            groups: vec!["chronom:read-only".to_string()],
        }
    }

    #[test]
    fn add_then_remove_restores_block_text() {
        let text = "# nodes\n- rolearn: arn:aws:iam::111122223333:role/node # the nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:nodes\n# trailing\n";
        let edit = upsert_role(text, &wanted("reader"), false).unwrap();
        assert_eq!(edit.action, EditAction::Added);
        assert!(
            edit.new_text
                .contains("  groups:\n  - chronom:read-only\n# trailing"),
            "{}",
            edit.new_text
        );
        let removal = remove_role(&edit.new_text, &role("reader")).unwrap();
        assert_eq!(removal.new_text, text);
        assert_eq!(removal.removed.len(), 1);
    }

    #[test]
    fn unchanged_and_conflict() {
        let text = "- rolearn: arn:aws:iam::111122223333:role/READER\n  username: reader\n  groups: [chronom:read-only]\n";
        let edit = upsert_role(text, &wanted("reader"), false).unwrap();
        assert_eq!(edit.action, EditAction::Unchanged);
        assert_eq!(edit.new_text, text);
        let mut other = wanted("reader");
        other.username = "someone".into();
        let err = upsert_role(text, &other, false).unwrap_err();
        assert!(matches!(err, EditError::Conflict { .. }), "{err}");
        assert!(err.to_string().contains("--force"), "{err}");
        let edit = upsert_role(text, &other, true).unwrap();
        assert!(matches!(edit.action, EditAction::Updated { .. }));
        assert_eq!(
            edit.new_text,
            "- rolearn: arn:aws:iam::111122223333:role/reader\n  username: someone\n  groups: [\"chronom:read-only\"]\n"
        );
    }

    #[test]
    fn duplicates_are_explained_and_force_keeps_the_effective_one() {
        let text = "- rolearn: arn:aws:iam::111122223333:role/a/reader\n  username: x\n- rolearn: arn:aws:iam::111122223333:role/reader\n  username: y\n# keep\n- rolearn: arn:aws:iam::111122223333:role/other\n  username: o\n";
        let err = upsert_role(text, &wanted("reader"), false).unwrap_err();
        let EditError::Duplicates {
            entries, effective, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(*effective, Some(1));
        assert!(err.to_string().contains("line 3"), "{err}");
        let edit = upsert_role(text, &wanted("reader"), true).unwrap();
        assert_eq!(
            edit.new_text,
            "- rolearn: arn:aws:iam::111122223333:role/reader\n  username: reader\n  groups:\n    - chronom:read-only\n# keep\n- rolearn: arn:aws:iam::111122223333:role/other\n  username: o\n"
        );
    }

    #[test]
    fn flow_documents_stay_flow() {
        let text = "[{\"rolearn\": \"arn:aws:iam::111122223333:role/a\", \"username\": \"a\", \"groups\": []}]";
        let edit = upsert_role(text, &wanted("reader"), false).unwrap();
        assert!(edit.new_text.ends_with(", {\"rolearn\": \"arn:aws:iam::111122223333:role/reader\", \"username\": \"reader\", \"groups\": [\"chronom:read-only\"]}]"), "{}", edit.new_text);
        assert_eq!(
            remove_role(&edit.new_text, &role("reader"))
                .unwrap()
                .new_text,
            text
        );
        let both = remove_role(&edit.new_text, &role("a")).unwrap().new_text;
        assert_eq!(remove_role(&both, &role("reader")).unwrap().new_text, "[]");
    }

    #[test]
    fn literal_values_at_the_end_of_an_entry() {
        let text = "  - rolearn: arn:aws:iam::111122223333:role/a\n    username: |-\n      a\n  - rolearn: arn:aws:iam::111122223333:role/reader\n    username: >\n      x\n\n  - rolearn: arn:aws:iam::111122223333:role/b\n    username: |\n      b\n";
        let edit = upsert_role(text, &wanted("new"), false).unwrap();
        assert_eq!(
            remove_role(&edit.new_text, &role("new")).unwrap().new_text,
            text
        );
        let removal = remove_role(text, &role("reader")).unwrap();
        assert_eq!(
            removal.new_text,
            "  - rolearn: arn:aws:iam::111122223333:role/a\n    username: |-\n      a\n  - rolearn: arn:aws:iam::111122223333:role/b\n    username: |\n      b\n"
        );
        let forced = upsert_role(text, &wanted("reader"), true).unwrap();
        assert_eq!(
            forced.new_text,
            "  - rolearn: arn:aws:iam::111122223333:role/a\n    username: |-\n      a\n  - rolearn: arn:aws:iam::111122223333:role/reader\n    username: reader\n    groups:\n      - chronom:read-only\n  - rolearn: arn:aws:iam::111122223333:role/b\n    username: |\n      b\n"
        );
    }

    #[test]
    fn block_scalar_at_the_end_without_a_final_line_break() {
        let strip = "- rolearn: arn:aws:iam::111122223333:role/a\n  note: |-\n    a";
        let edit = upsert_role(strip, &wanted("new"), false).unwrap();
        assert_eq!(
            remove_role(&edit.new_text, &role("new")).unwrap().new_text,
            strip
        );
        let clip = "- rolearn: arn:aws:iam::111122223333:role/a\n  username: |\n    a";
        let err = upsert_role(clip, &wanted("new"), false).unwrap_err();
        assert!(matches!(err, EditError::UnsupportedLayout { .. }), "{err}");
        let then = "- rolearn: arn:aws:iam::111122223333:role/a\n  username: >\n    a\n- rolearn: arn:aws:iam::111122223333:role/new";
        let removal = remove_role(then, &role("new")).unwrap();
        assert_eq!(
            removal.new_text,
            "- rolearn: arn:aws:iam::111122223333:role/a\n  username: >\n    a\n"
        );
        assert_eq!(
            parse_map_roles(&removal.new_text).unwrap()[0]
                .username
                .as_deref(),
            Some("a\n")
        );
    }

    /// A last line ending in `-` or `?` with no final line break: a comment (`# see -`), a
    /// `|-` value `-`, or an empty item `-` (aws-iam-authenticator drops that entry alone: "one
    /// of rolearn or SSO must be supplied", and keeps the others, in its own mapper). Each
    /// reads as it does with the line break, so the entry is added as it would be there, and
    /// revoking it gives back the bytes. Found by tests/offline/awsauth_props.rs (a trailing
    /// comment `# -`), once in a random-seed run.
    #[test]
    fn a_last_line_ending_in_a_dash_or_question_mark_without_a_final_line_break() {
        let a = "- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n";
        let b = "- rolearn: arn:aws:iam::111122223333:role/b\n";
        let texts = [
            format!("{a}# -"),
            format!("{a}# see -"),
            format!("{a}  # why ?"),
            "- {rolearn: \"arn:aws:iam::111122223333:role/a\"}\n# -".to_string(),
            "- {rolearn: \"arn:aws:iam::111122223333:role/a\"} # -".to_string(),
            format!("{a}  groups: [g] # x -"),
            "- rolearn: arn:aws:iam::111122223333:role/a\n  username: |-\n    -".to_string(),
            "- rolearn: arn:aws:iam::111122223333:role/a\n  username: |-\n    ?".to_string(),
            format!("{a}-"),
            format!("{a}{b}-"),
            format!("{a}-  "),
            format!("{a}- -"),
            "-".to_string(),
            "  - rolearn: arn:aws:iam::111122223333:role/a\n    username: a\n  -".to_string(),
            "    -\n    - rolearn: arn:aws:iam::111122223333:role/a\n    -".to_string(),
            format!("{a}  groups:\n  -"),
            format!("{a}  groups:\n    - g\n    -"),
            format!("{a}-").replace('\n', "\r\n"),
        ];
        let new = NewRoleEntry {
            rolearn: role("new-"),
            username: "a".into(),
            groups: vec![],
        };
        for text in &texts {
            let before = parse_map_roles(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let edit = upsert_role(text, &new, false).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(edit.action, EditAction::Added, "{text:?}");
            let after = parse_map_roles(&edit.new_text).unwrap();
            assert_eq!(after.len(), before.len() + 1, "{:?}", edit.new_text);
            for (old, new) in before.iter().zip(&after) {
                assert_eq!(
                    without_place(old),
                    without_place(new),
                    "{:?}",
                    edit.new_text
                );
                assert_eq!(
                    &edit.new_text[new.span.clone()],
                    &text[old.span.clone()],
                    "{:?}",
                    edit.new_text
                );
            }
            let eol = eol_of(text);
            let with_break = upsert_role(&format!("{text}{eol}"), &new, false).unwrap();
            assert_eq!(
                format!("{}{eol}", edit.new_text),
                with_break.new_text,
                "{text:?}: the missing final line break changes the edit"
            );
            assert_eq!(
                remove_role(&edit.new_text, &new.rolearn).unwrap().new_text,
                *text
            );
        }
        // An explicit `?` key ending the text reads differently once a line break follows:
        // refused with its place (the byte test let the second one through to the
        // self-check's "please report this").
        for text in [
            "-    :  -       -   ?  ",
            "- rolearn: arn:aws:iam::111122223333:role/a\n  groups:\n  - ? x",
        ] {
            match upsert_role(text, &new, false) {
                Err(EditError::UnsupportedLayout { reason, .. }) => {
                    assert!(reason.contains("add a line break"), "{text:?}: {reason}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn placeholders_for_nothing_are_replaced() {
        for text in ["null", "~", "\"\"", "''", "``", "null\n", "--- null\n"] {
            let edit = upsert_role(text, &wanted("reader"), false)
                .unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(
                parse_map_roles(&edit.new_text).unwrap().len(),
                1,
                "{text:?}"
            );
            assert!(
                edit.new_text
                    .contains("[{rolearn: \"arn:aws:iam::111122223333:role/reader\""),
                "{}",
                edit.new_text
            );
            assert_eq!(
                remove_role(&edit.new_text, &role("reader"))
                    .unwrap()
                    .new_text,
                edit.new_text.replace(
                    &edit.new_text
                        [edit.new_text.find('[').unwrap()..=edit.new_text.rfind(']').unwrap()],
                    "[]"
                )
            );
        }
    }

    #[test]
    fn refuses_bad_usernames_and_groups() {
        let mut entry = wanted("reader");
        entry.username = "{{Nope}}".into();
        assert!(matches!(
            upsert_role("", &entry, false),
            Err(EditError::Username(_))
        ));
        let mut entry = wanted("reader");
        entry.groups = vec![String::new()];
        assert!(matches!(
            upsert_role("", &entry, false),
            Err(EditError::Group { .. })
        ));
    }

    /// Fuzzing finds (fuzz/seeds/awsauth_edit/bug-*): each must be a safe edit or a refusal
    /// that names the layout, never the self-check's "please report this".
    #[test]
    fn fuzz_finds_edit_safely_or_refuse_with_a_reason() {
        let comment_after_last_comma = "[ # nodes\n  {rolearn: \"arn:aws:iam::111122223333:role/node\", username: n}, # frn: \"arn:aws:iam::111122223333:role/b\", username: b}\n]\n";
        let mut entry = wanted("b");
        entry.username = "bee".into();
        entry.groups = vec!["g".into()];
        let edit =
            upsert_role(comment_after_last_comma, &entry, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            parse_map_roles(&edit.new_text).unwrap().len(),
            2,
            "{}",
            edit.new_text
        );
        assert_eq!(
            remove_role(&edit.new_text, &role("b")).unwrap().new_text,
            comment_after_last_comma
        );
        assert_eq!(
            remove_role(comment_after_last_comma, &role("node"))
                .unwrap()
                .new_text,
            "[ # nodes\n   # frn: \"arn:aws:iam::111122223333:role/b\", username: b}\n]\n"
        );

        let after_empty_pair = "[a:, {rolearn: \"arn:aws:iam::111122223333:role/x\"}]";
        match remove_role(after_empty_pair, &role("x")) {
            Ok(removal) => assert_eq!(
                parse_map_roles(&removal.new_text).unwrap().len(),
                1,
                "{}",
                removal.new_text
            ),
            Err(e) => assert!(!e.to_string().contains("please report"), "{e}"),
        }

        let tab_line_after_last_item = "- a\n  \t";
        match upsert_role(tab_line_after_last_item, &wanted("new"), false) {
            Ok(edit) => panic!(
                "a tab-indented line after the new entry breaks go-yaml: {:?}",
                edit.new_text
            ),
            Err(e) => assert!(matches!(e, EditError::UnsupportedLayout { .. }), "{e}"),
        }

        for empty_block_scalar in ["- >", "- |+", "- |-", "- a: |+"] {
            let before = parse_map_roles(empty_block_scalar).unwrap();
            match upsert_role(empty_block_scalar, &wanted("new"), false) {
                Ok(edit) => {
                    let after = parse_map_roles(&edit.new_text).unwrap();
                    assert_eq!(
                        without_place(&after[0]),
                        without_place(&before[0]),
                        "{empty_block_scalar:?} -> {:?}",
                        edit.new_text
                    );
                }
                Err(e) => assert!(
                    matches!(e, EditError::UnsupportedLayout { .. }),
                    "{empty_block_scalar:?}: {e}"
                ),
            }
        }

        for trailing in ["- |\n /   o |\n  ", "- a: |\n   x\n    ", "~\t\n\t"] {
            match upsert_role(trailing, &wanted("new"), false) {
                Ok(edit) => panic!("{trailing:?} -> {:?}", edit.new_text),
                Err(e) => assert!(
                    matches!(e, EditError::UnsupportedLayout { .. }),
                    "{trailing:?}: {e}"
                ),
            }
        }

        for exotic in ["[r', 0%556111- \n\n-\n\n -  ]\n", "-    :  -       -   ?  "] {
            match upsert_role(exotic, &wanted("new"), false) {
                Ok(edit) => assert_eq!(
                    parse_map_roles(&edit.new_text).unwrap().len(),
                    parse_map_roles(exotic).unwrap().len() + 1
                ),
                Err(e) => assert!(
                    matches!(e, EditError::UnsupportedLayout { .. }),
                    "{exotic:?}: {e}"
                ),
            }
        }
        let empty_last_value = "- rolearn: arn:aws:iam::111122223333:role/reader\n  username:\n #y keep\n- rolearn: arn:aws:iam::111122223333:role/other\n";
        let edit = upsert_role(empty_last_value, &wanted("reader"), true).unwrap();
        assert_eq!(
            edit.new_text,
            "- rolearn: arn:aws:iam::111122223333:role/reader\n  username: reader\n  groups:\n    - chronom:read-only\n #y keep\n- rolearn: arn:aws:iam::111122223333:role/other\n"
        );

        let err = parse_map_roles("\u{c}``").unwrap_err();
        assert!(err.to_string().contains("U+000C"), "{err}");
    }
}
