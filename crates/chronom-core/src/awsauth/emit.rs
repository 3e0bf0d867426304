//! Writing an entry as YAML text. Every value comes out as exactly one scalar for every
//! YAML parser: plain only when it is unmistakably a string in YAML 1.1 and 1.2 alike,
//! otherwise double-quoted with JSON-compatible escapes (so the same text is valid JSON
//! inside a JSON-style flow list).

/// Where a scalar is written. Flow context forbids `, [ ] { }` in plain scalars, and we also
/// quote any `:` there: go-yaml v2.4 accepts `[a:b]`, but PyYAML, SnakeYAML and old go-yaml
/// reject a colon inside a flow plain scalar ("found unexpected ':'").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Block,
    Flow,
}

/// Words YAML 1.1 (go-yaml v2) reads as booleans or null; compared case-insensitively.
const YAML11_WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];

fn plain_is_safe(s: &str, context: Context) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || "._-@/+=".contains(c)
                || (context == Context::Block && "{}[],:".contains(c))
        })
        && !s.ends_with(':')
        && !YAML11_WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// Characters we never write raw: controls, line/paragraph separators, BOM and non-characters,
/// and invisible formatting (zero-width and bidirectional controls) that could make a value
/// look like something else on screen.
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x2069)
}

/// A double-quoted scalar; the escapes used are valid in both YAML and JSON.
pub(crate) fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if must_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A scalar, plain when that is unambiguous, else double-quoted.
pub(crate) fn scalar(s: &str, context: Context) -> String {
    if plain_is_safe(s, context) {
        s.to_string()
    } else {
        double_quoted(s)
    }
}

/// The fields chronom writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryFields<'a> {
    pub rolearn: &'a str,
    pub username: &'a str,
    pub groups: &'a [String],
}

/// How groups are written under `groups:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupsStyle {
    /// `- g` lines, indented this many columns past the key.
    Block { indent: usize },
    /// `[g1, g2]` on the key's line.
    Flow,
}

/// The layout of block entries, copied from the document.
#[derive(Debug, Clone)]
pub(crate) struct BlockStyle {
    /// What precedes the `-` on its line.
    pub indent: String,
    /// Columns from the `-` to the keys.
    pub key_offset: usize,
    pub groups: GroupsStyle,
    pub eol: &'static str,
}

impl Default for BlockStyle {
    fn default() -> Self {
        BlockStyle {
            indent: String::new(),
            key_offset: 2,
            groups: GroupsStyle::Block { indent: 2 },
            eol: "\n",
        }
    }
}

fn flow_list(items: &[String], json: bool) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|g| {
            if json {
                double_quoted(g)
            } else {
                scalar(g, Context::Flow)
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// The mapping's lines after `- `: the first line bare, the others indented to the keys.
pub(crate) fn block_body(fields: EntryFields<'_>, style: &BlockStyle) -> String {
    let pad = format!("{}{}", style.indent, " ".repeat(style.key_offset));
    let mut lines = vec![
        format!("rolearn: {}", scalar(fields.rolearn, Context::Block)),
        format!("{pad}username: {}", scalar(fields.username, Context::Block)),
    ];
    match style.groups {
        _ if fields.groups.is_empty() => lines.push(format!("{pad}groups: []")),
        GroupsStyle::Flow => {
            lines.push(format!("{pad}groups: {}", flow_list(fields.groups, false)))
        }
        GroupsStyle::Block { indent } => {
            lines.push(format!("{pad}groups:"));
            for group in fields.groups {
                lines.push(format!(
                    "{pad}{}- {}",
                    " ".repeat(indent),
                    scalar(group, Context::Block)
                ));
            }
        }
    }
    lines.join(style.eol)
}

/// A whole block list item, without a final line break.
pub(crate) fn block_item(fields: EntryFields<'_>, style: &BlockStyle) -> String {
    format!(
        "{}-{}{}",
        style.indent,
        " ".repeat(style.key_offset.max(1) - 1),
        block_body(fields, style)
    )
}

/// A flow mapping on one line; `json` quotes keys and values like JSON.
pub(crate) fn flow_mapping(fields: EntryFields<'_>, json: bool) -> String {
    let value = |s: &str| {
        if json {
            double_quoted(s)
        } else {
            scalar(s, Context::Flow)
        }
    };
    let key = |k: &str| {
        if json {
            format!("\"{k}\"")
        } else {
            k.to_string()
        }
    };
    format!(
        "{{{}: {}, {}: {}, {}: {}}}",
        key("rolearn"),
        value(fields.rolearn),
        key("username"),
        value(fields.username),
        key("groups"),
        flow_list(fields.groups, json)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_only_when_unambiguous() {
        assert_eq!(scalar("system:masters", Context::Block), "system:masters");
        assert_eq!(
            scalar("arn:aws:iam::111122223333:role/a", Context::Block),
            "arn:aws:iam::111122223333:role/a"
        );
        assert_eq!(
            scalar("arn:aws:iam::111122223333:role/a", Context::Flow),
            "\"arn:aws:iam::111122223333:role/a\""
        );
        assert_eq!(
            scalar("system:node:{{EC2PrivateDNSName}}", Context::Block),
            "system:node:{{EC2PrivateDNSName}}"
        );
        assert_eq!(
            scalar("system:node:{{EC2PrivateDNSName}}", Context::Flow),
            "\"system:node:{{EC2PrivateDNSName}}\""
        );
        for s in [
            "yes", "No", "NULL", "123", "", "a: b", "a #b", "- x", "*x", "&x", "!x", "x:", "é",
            "a b", "'q'",
        ] {
            assert!(scalar(s, Context::Block).starts_with('"'), "{s:?}");
        }
    }

    #[test]
    fn escapes_are_json_compatible() {
        let s = "a\"b\\c\nd\re\tf\u{0}\u{7f}\u{85}\u{2028}\u{feff}\u{202e}é😀";
        let quoted = double_quoted(s);
        assert!(!quoted.contains('\n'));
        let back: String = serde_json::from_str(&quoted).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn block_and_flow_shapes() {
        let groups = vec!["g1".to_string(), "g 2".to_string()];
        let fields = EntryFields {
            rolearn: "arn:aws:iam::111122223333:role/a",
            username: "a",
            groups: &groups,
        };
        assert_eq!(
            block_item(fields, &BlockStyle::default()),
            "- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n  groups:\n    - g1\n    - \"g 2\""
        );
        assert_eq!(
            flow_mapping(fields, false),
            "{rolearn: \"arn:aws:iam::111122223333:role/a\", username: a, groups: [g1, \"g 2\"]}"
        );
        assert_eq!(
            flow_mapping(fields, true),
            "{\"rolearn\": \"arn:aws:iam::111122223333:role/a\", \"username\": \"a\", \"groups\": [\"g1\", \"g 2\"]}"
        );
    }
}
