//! Renderers: stdout carries the result in the chosen format; stderr carries the rest.

pub mod audit_table;
pub mod sarif;
pub mod write_text;

use comfy_table::{Table, presets::NOTHING};
use serde::Serialize;

use crate::cli::OutputFormat;

/// Render a document as JSON or YAML (stable schemas, see docs/json-schema.md).
pub fn structured<T: Serialize>(format: OutputFormat, value: &T) -> String {
    match format {
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(value).expect("report serialises");
            s.push('\n');
            s
        }
        OutputFormat::Yaml => serde_saphyr::to_string(value).expect("report serialises"),
        OutputFormat::Text => unreachable!("text has its own renderer"),
    }
}

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
