//! The unified diff shown for `--dry-run` and conflicts.

use similar::TextDiff;

/// A unified diff of two versions of a text (three lines of context, the labels in the
/// `---`/`+++` header); empty when they are equal. Control and invisible formatting
/// characters are shown escaped so the diff cannot drive the terminal.
pub fn unified_diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    let diff = TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string();
    visible(&diff)
}

fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let keep = match c {
            '\n' | '\t' => true,
            '\r' => chars.peek() == Some(&'\n'),
            c => {
                !(c.is_control()
                    || matches!(c as u32, 0x2028 | 0x2029 | 0x200B..=0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0xFEFF))
            }
        };
        if keep {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_added_lines() {
        let diff = unified_diff("- a: 1\n", "- a: 1\n- b: 2\n", "current", "proposed");
        assert!(diff.contains("+- b: 2"), "{diff}");
        assert!(
            diff.contains("--- current") && diff.contains("+++ proposed"),
            "{diff}"
        );
        assert_eq!(unified_diff("x\n", "x\n", "a", "b"), "");
    }

    #[test]
    fn escapes_terminal_controls() {
        let diff = unified_diff("a\n", "a\u{1b}[31m\u{202e}\n", "a", "b");
        assert!(
            !diff.contains('\u{1b}') && !diff.contains('\u{202e}'),
            "{diff}"
        );
        assert!(diff.contains("\\u{001B}"), "{diff}");
    }
}
