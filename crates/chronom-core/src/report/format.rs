//! The formats a result is rendered in, and JSON and YAML documents (stable schemas, see
//! docs/json-schema.md) written to any `Write`.

use std::io::{self, Write};

use serde::Serialize;

/// How a result is rendered: the renderers' one view of `-o`. Each command accepts its own
/// subset (cli.rs): grant and revoke text, json, yaml; audit table, wide, json, yaml, sarif;
/// who-can and lookup table, wide, json, yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The write report as prose (grant, revoke).
    Text,
    /// A table in kubectl's plain column style.
    Table,
    /// The table with the rules behind each grant.
    Wide,
    Json,
    Yaml,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

impl Format {
    /// The name `-o` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Table => "table",
            Format::Wide => "wide",
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Sarif => "sarif",
        }
    }
}

/// Write a document as JSON or YAML (stable schemas, see docs/json-schema.md) while it is
/// serialised: a large audit never exists as one string next to the report it came from.
pub fn write_structured<T: Serialize, W: Write + ?Sized>(
    format: Format,
    value: &T,
    out: &mut W,
) -> io::Result<()> {
    match format {
        Format::Json => {
            // serde_json hands back the writer's own io::Error (a closed pipe stays BrokenPipe).
            serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::from)?;
            out.write_all(b"\n")
        }
        Format::Yaml => serde_saphyr::to_io_writer(&mut &mut *out, value).map_err(|e| match e {
            serde_saphyr::ser::Error::IO { error } => error,
            other => io::Error::other(other),
        }),
        Format::Text | Format::Table | Format::Wide | Format::Sarif => {
            unreachable!("{} has its own renderer", format.name())
        }
    }
}

/// A document as JSON or YAML text, for small documents and tests; commands stream with
/// [`write_structured`] through `report::to_stdout`.
pub fn structured<T: Serialize>(format: Format, value: &T) -> String {
    let mut buf = Vec::new();
    write_structured(format, value, &mut buf).expect("report serialises");
    String::from_utf8(buf).expect("JSON and YAML are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `room` bytes, then fails as a closed pipe does.
    struct ClosedAfter {
        room: usize,
    }

    impl Write for ClosedAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_surfaces_as_broken_pipe_in_both_formats() {
        let doc: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        for format in [Format::Json, Format::Yaml] {
            let err = write_structured(format, &doc, &mut ClosedAfter { room: 100 }).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{format:?}: {err}");
        }
    }

    #[test]
    fn streamed_and_string_forms_agree() {
        let doc = serde_json::json!({"a": [1, 2], "b": "x: y"});
        for format in [Format::Json, Format::Yaml] {
            let mut buf = Vec::new();
            write_structured(format, &doc, &mut buf).unwrap();
            assert_eq!(String::from_utf8(buf).unwrap(), structured(format, &doc));
        }
        assert!(structured(Format::Json, &doc).ends_with("}\n"));
    }
}
