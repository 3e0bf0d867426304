//! Tables in kubectl's plain column style, as text.

use comfy_table::{Table, presets::NOTHING};

/// A table in kubectl's plain column style.
pub fn plain_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(NOTHING);
    t.set_header(header.to_vec());
    t
}

/// The table's lines without comfy-table's trailing padding (noise in terminals and diffs).
pub fn table_text(t: &Table) -> String {
    let mut text = String::new();
    for line in t.lines() {
        // The padding is ASCII spaces, often most of a long table's last column: cut as bytes
        // first (a UTF-8 character never ends in a space byte), then as `trim_end` would.
        let end = line.bytes().rposition(|b| b != b' ').map_or(0, |p| p + 1);
        text.push_str(line[..end].trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_their_trailing_blanks_as_trim_end_cuts_them() {
        let mut t = plain_table(&["NAME", "NOTE"]);
        t.add_row(vec!["é-long-name", "ü"]);
        t.add_row(vec!["a", "tab\t"]);
        t.add_row(vec!["b", ""]);
        t.add_row(vec!["日本", "x \u{3000}"]);
        let expected: String = t.lines().map(|l| format!("{}\n", l.trim_end())).collect();
        assert_eq!(table_text(&t), expected);
        assert!(
            table_text(&t)
                .lines()
                .all(|l| !l.ends_with(char::is_whitespace))
        );
    }
}
