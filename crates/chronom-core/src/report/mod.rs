//! Renderers: each writes to a `Write` or returns a String. Printing to stdout is the
//! binary's `report`.

pub mod audit_table;
pub mod fleet;
pub mod format;
pub mod sarif;
pub mod table;
pub mod write_text;
