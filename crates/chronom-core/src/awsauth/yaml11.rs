//! YAML 1.1 events as aws-iam-authenticator's go-yaml v2 scans them.
//!
//! go-yaml v2 is a Go port of libyaml; `libyaml-rs` (maintained by the YAML organization) is
//! libyaml translated to Rust. Using the same scanner, rather than a YAML 1.2 one (saphyr),
//! gets the authenticator's syntax for free: a tab after a `:` is a separator but not after a
//! `-` or at the start of a line, NEL/LS/PS end lines, a byte-order mark is skipped, and only
//! the events up to the end of the first document are ever asked for (go-yaml reads one
//! document and stops). This module is the only place that touches the C-shaped API.

#![allow(unsafe_code)] // the libyaml binding: each block says why it is sound

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::ptr::addr_of_mut;

use libyaml_rs as sys;
use saphyr_parser::ScalarStyle;

/// A position in the text: byte offset, 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub index: usize,
    pub line: usize,
    pub column: usize,
}

impl Mark {
    fn from_sys(mark: sys::yaml_mark_t) -> Self {
        Mark {
            index: mark.index as usize,
            line: mark.line as usize + 1,
            column: mark.column as usize + 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    StreamStart,
    StreamEnd,
    /// With the `%YAML` directive's version, if any.
    DocumentStart {
        version: Option<(i32, i32)>,
    },
    DocumentEnd,
    Alias {
        anchor: String,
    },
    Scalar {
        anchor: Option<String>,
        tag: Option<String>,
        value: String,
        style: ScalarStyle,
    },
    SequenceStart {
        anchor: Option<String>,
        flow: bool,
    },
    SequenceEnd,
    MappingStart {
        anchor: Option<String>,
        flow: bool,
    },
    MappingEnd,
}

/// What libyaml could not read, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub mark: Mark,
}

/// A libyaml parser over borrowed text. The parser keeps a pointer to itself (its read
/// handler's data) and to the text, so it lives in a box and the text outlives it.
pub(crate) struct Parser<'t> {
    sys: Box<MaybeUninit<sys::yaml_parser_t>>,
    _text: &'t [u8],
    failed: bool,
    /// Bytes skipped before the parser's input (a byte-order mark), added back to marks.
    base: usize,
}

impl<'t> Parser<'t> {
    pub fn new(text: &'t str) -> Self {
        let mut sys = Box::new(MaybeUninit::<sys::yaml_parser_t>::uninit());
        // go-yaml skips a leading byte-order mark; libyaml does too when it detects the
        // encoding, but then its marks no longer count it. Skip it here and add it back.
        let body = text.strip_prefix('\u{feff}').unwrap_or(text);
        let base = text.len() - body.len();
        let bytes = body.as_bytes();
        // SAFETY: `yaml_parser_initialize` initialises the boxed parser in place; it does not
        // move afterwards, so the self-pointer set by `set_input_string` stays valid, and the
        // input slice is borrowed for 't, which the parser cannot outlive.
        unsafe {
            let parser = sys.as_mut_ptr();
            if sys::yaml_parser_initialize(parser).fail {
                // libyaml only fails here when an allocation fails, which aborts in Rust.
                unreachable!("libyaml could not initialise a parser");
            }
            sys::yaml_parser_set_encoding(parser, sys::YAML_UTF8_ENCODING);
            sys::yaml_parser_set_input_string(parser, bytes.as_ptr(), bytes.len() as u64);
        }
        Parser {
            sys,
            _text: bytes,
            failed: false,
            base,
        }
    }

    /// The next event with its start and end marks.
    pub fn next_event(&mut self) -> Result<(Event, Mark, Mark), SyntaxError> {
        if self.failed {
            return Err(self.error());
        }
        let mut event = MaybeUninit::<sys::yaml_event_t>::uninit();
        // SAFETY: the parser was initialised in `new`; the event is only read after
        // `yaml_parser_parse` succeeded (it is then initialised) and deleted right after.
        unsafe {
            let parser = self.sys.as_mut_ptr();
            if sys::yaml_parser_parse(parser, event.as_mut_ptr()).fail {
                self.failed = true;
                return Err(self.error());
            }
            let event = addr_of_mut!(*event.as_mut_ptr());
            let converted = convert(&*event);
            let start = self.mark((*event).start_mark);
            let end = self.mark((*event).end_mark);
            sys::yaml_event_delete(event);
            Ok((converted, start, end))
        }
    }

    fn mark(&self, mark: sys::yaml_mark_t) -> Mark {
        let mut mark = Mark::from_sys(mark);
        mark.index += self.base;
        mark
    }

    fn error(&self) -> SyntaxError {
        // SAFETY: initialised in `new`; `problem` and `context` are null or point to static
        // C strings in libyaml.
        unsafe {
            let parser = &*self.sys.as_ptr();
            let problem = c_text(parser.problem.cast()).unwrap_or_else(|| "invalid YAML".into());
            let message = match c_text(parser.context.cast()) {
                Some(context) => format!("{problem} ({context})"),
                None => problem,
            };
            SyntaxError {
                message,
                mark: self.mark(parser.problem_mark),
            }
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: initialised in `new` and deleted exactly once.
        unsafe { sys::yaml_parser_delete(self.sys.as_mut_ptr()) }
    }
}

unsafe fn c_text(ptr: *const u8) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: libyaml's strings are NUL-terminated.
    Some(
        unsafe { CStr::from_ptr(ptr.cast()) }
            .to_string_lossy()
            .into_owned(),
    )
}

unsafe fn convert(event: &sys::yaml_event_t) -> Event {
    // SAFETY (whole function): each union field is read only for its event type.
    unsafe {
        match event.type_ {
            sys::YAML_STREAM_START_EVENT => Event::StreamStart,
            sys::YAML_STREAM_END_EVENT => Event::StreamEnd,
            sys::YAML_DOCUMENT_START_EVENT => {
                let v = event.data.document_start.version_directive;
                Event::DocumentStart {
                    version: (!v.is_null()).then(|| ((*v).major, (*v).minor)),
                }
            }
            sys::YAML_DOCUMENT_END_EVENT => Event::DocumentEnd,
            sys::YAML_ALIAS_EVENT => Event::Alias {
                anchor: c_text(event.data.alias.anchor).unwrap_or_default(),
            },
            sys::YAML_SCALAR_EVENT => {
                let s = event.data.scalar;
                let bytes = std::slice::from_raw_parts(s.value, s.length as usize);
                Event::Scalar {
                    anchor: c_text(s.anchor),
                    tag: c_text(s.tag),
                    value: String::from_utf8_lossy(bytes).into_owned(),
                    style: match s.style {
                        sys::YAML_SINGLE_QUOTED_SCALAR_STYLE => ScalarStyle::SingleQuoted,
                        sys::YAML_DOUBLE_QUOTED_SCALAR_STYLE => ScalarStyle::DoubleQuoted,
                        sys::YAML_LITERAL_SCALAR_STYLE => ScalarStyle::Literal,
                        sys::YAML_FOLDED_SCALAR_STYLE => ScalarStyle::Folded,
                        _ => ScalarStyle::Plain,
                    },
                }
            }
            sys::YAML_SEQUENCE_START_EVENT => Event::SequenceStart {
                anchor: c_text(event.data.sequence_start.anchor),
                flow: event.data.sequence_start.style == sys::YAML_FLOW_SEQUENCE_STYLE,
            },
            sys::YAML_SEQUENCE_END_EVENT => Event::SequenceEnd,
            sys::YAML_MAPPING_START_EVENT => Event::MappingStart {
                anchor: c_text(event.data.mapping_start.anchor),
                flow: event.data.mapping_start.style == sys::YAML_FLOW_MAPPING_STYLE,
            },
            sys::YAML_MAPPING_END_EVENT => Event::MappingEnd,
            // YAML_NO_EVENT: libyaml produces it only after the stream ended.
            _ => Event::StreamEnd,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Result<Vec<Event>, SyntaxError> {
        let mut p = Parser::new(text);
        let mut out = Vec::new();
        loop {
            let (e, _, _) = p.next_event()?;
            if e == Event::StreamEnd {
                return Ok(out);
            }
            out.push(e);
        }
    }

    fn scalars(text: &str) -> Vec<String> {
        events(text)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e {
                Event::Scalar { value, .. } => Some(value),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn reads_what_go_yaml_reads() {
        // A tab after a key's colon separates; a byte-order mark is skipped; NEL ends a line.
        assert_eq!(scalars("- a:\tb\n"), ["a", "b"]);
        assert_eq!(scalars("\u{feff}- a: b\n"), ["a", "b"]);
        assert_eq!(scalars("- a: b\u{85}- c\n"), ["a", "b", "c"]);
        // A tab after `-` or as indentation is not whitespace there.
        assert!(events("-\ta\n").is_err());
        assert!(events("- a: b\n\tc: d\n").is_err());
    }

    #[test]
    fn errors_have_a_position() {
        let err = events("- a\n- [b\n").unwrap_err();
        assert!(err.mark.line >= 2, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn anchors_tags_and_styles() {
        let e = events("- &x !!str 'a'\n- *x\n").unwrap();
        assert!(e.contains(&Event::Scalar {
            anchor: Some("x".into()),
            tag: Some("tag:yaml.org,2002:str".into()),
            value: "a".into(),
            style: ScalarStyle::SingleQuoted,
        }));
        assert!(e.contains(&Event::Alias { anchor: "x".into() }));
    }
}
