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
    t.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}
