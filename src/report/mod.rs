//! Renderers: stdout carries the result in the chosen format; stderr carries the rest.
//!
//! The renderers in the submodules are pure (they write to a `Write` or return a String); this
//! file is the shell's part: the one place that writes them to stdout.

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use chronom_core::error::UserError;
use chronom_core::report::format::{Format, write_structured};

/// Run `write` against a locked, buffered stdout. A reader that went away (`| head`) ends the
/// output quietly: what it did not read it did not want, and the exit code still tells the
/// run's result. Any other write error is the user's to fix.
pub fn to_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), UserError> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(UserError::failed(
            format!("cannot write the output to stdout: {e}"),
            "check where stdout goes (a full disk, a closed file), or redirect it elsewhere",
        )),
    }
}

/// Stream a document to stdout as JSON or YAML.
pub fn print_structured<T: Serialize>(format: Format, value: &T) -> Result<(), UserError> {
    to_stdout(|out| write_structured(format, value, &mut *out))
}

/// Text (a table) to stdout, with the same closed-pipe handling as documents.
pub fn print_text(text: &str) -> Result<(), UserError> {
    to_stdout(|out| out.write_all(text.as_bytes()))
}
