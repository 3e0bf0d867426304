//! A LIST answer read as its bytes arrive: each object of `items` is parsed, trimmed and
//! appended as soon as its last byte is in, and its bytes are dropped. The plugin asks for
//! protobuf first (`super::page_proto`); this reads the JSON answers: a kind the server cannot
//! encode in protobuf, and a page asked again because its protobuf could not be read.
//!
//! Why: a page of 5,000 RoleBindings is ~3 MB of JSON at 16x. Read whole (kube's
//! `request_text` collects the body, then copies it twice), the bodies in flight and their
//! copies were the largest part of the audit's peak heap, and every page was parsed only after
//! its last byte. serde_json parses complete texts only, so this module frames the answer: it
//! finds where each item ends (following strings, escapes and nesting) and hands serde_json
//! the item's bytes; what is around `items` (kind, metadata) is parsed whole at the end.
//! serde_json still reads every byte, so a malformed answer fails as it would whole. No
//! maintained crate frames an array inside an object from async chunks (json-array-stream
//! 0.1, of 2020, reads top-level arrays only).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;

use super::trimmed::{PageInto, Trimmed};

/// Where the framing is in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Before `items` starts: everything is kept, to be parsed at the end.
    Head,
    /// Inside `items`: only the current item's bytes are kept.
    Items,
    /// After `items`: kept, with the head, to be parsed at the end.
    Tail,
}

/// One LIST answer being read into `items`, chunk by chunk ([`PageStream::push`]), then
/// [`PageStream::finish`]ed for its metadata. The result is what [`PageInto`] reads from the
/// whole text, whatever the chunks.
pub struct PageStream<'a, K> {
    items: &'a mut Vec<K>,
    limit: usize,
    part: Part,
    /// The bytes not yet parsed: the head while in `Head`, the current item in `Items`.
    pending: Vec<u8>,
    /// How much of `pending` has been scanned.
    scanned: usize,
    /// Nesting depth at `scanned`: 1 inside the answer, 2 inside `items`.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// In `Head`, the span of the last string at depth 1: a value's key, when a value starts.
    key: (usize, usize),
    /// In `Items`, where the current item starts in `pending`.
    item: Option<usize>,
    /// In `Items`, whether a `,` came since the last item (so an item must follow).
    after_comma: bool,
    /// The answer without its items (`"items":null`), once `items` has started.
    outside: Vec<u8>,
    /// How many items the head held (under a key spelled with escapes, so not framed): read
    /// when `items` started, and read again with the whole outside at the end.
    head_items: usize,
}

impl<'a, K: Trimmed> PageStream<'a, K> {
    /// `limit` is the page size asked for (see [`PageInto::limit`]).
    pub fn new(items: &'a mut Vec<K>, limit: usize) -> Self {
        PageStream {
            items,
            limit,
            part: Part::Head,
            pending: Vec::new(),
            scanned: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            key: (0, 0),
            item: None,
            after_comma: false,
            outside: Vec::new(),
            head_items: 0,
        }
    }

    /// The next bytes of the answer; every item they complete is appended to `items`.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), serde_json::Error> {
        if self.part == Part::Tail {
            self.outside.extend_from_slice(chunk);
            return Ok(());
        }
        self.pending.extend_from_slice(chunk);
        self.scan()?;
        if self.part == Part::Items {
            // Keep only the item not yet complete.
            let keep = self.item.unwrap_or(self.scanned);
            self.pending.drain(..keep);
            self.scanned -= keep;
            self.item = self.item.map(|_| 0);
        }
        Ok(())
    }

    /// The answer's metadata, once every byte was pushed; an error if it is not a whole,
    /// well-formed LIST answer.
    pub fn finish(self) -> Result<ListMeta, serde_json::Error> {
        match self.part {
            // `items` never started as an array (null, absent, or not a list): the whole
            // text is still here.
            Part::Head => PageInto {
                items: self.items,
                limit: Some(self.limit),
            }
            .read(&self.pending),
            Part::Items => Err(malformed(b"[")),
            // Room was made when `items` started (if the metadata came before it, as the API
            // server writes it). The head's own items are in `items` already, in their place.
            Part::Tail => {
                let mut outside = Vec::new();
                let meta = PageInto {
                    items: &mut outside,
                    limit: None,
                }
                .read(&self.outside)?;
                self.items.extend(outside.into_iter().skip(self.head_items));
                Ok(meta)
            }
        }
    }

    fn scan(&mut self) -> Result<(), serde_json::Error> {
        let mut i = self.scanned;
        while i < self.pending.len() {
            let b = self.pending[i];
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.part == Part::Head && self.depth == 1 {
                        self.key.1 = i;
                    }
                } else {
                    // Most of an answer is strings: jump to the next byte that can end one.
                    match memchr::memchr2(b'"', b'\\', &self.pending[i..]) {
                        Some(n) => {
                            i += n;
                            continue;
                        }
                        None => {
                            i = self.pending.len();
                            break;
                        }
                    }
                }
                i += 1;
                continue;
            }
            let in_items = self.part == Part::Items && self.depth == 2;
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b',' if in_items => {
                    if self.item.is_none() {
                        return Err(malformed(b"[,"));
                    }
                    self.end_item(i)?;
                    self.after_comma = true;
                }
                b']' if in_items => {
                    if self.item.is_none() && self.after_comma {
                        return Err(malformed(b"[1,]"));
                    }
                    self.end_item(i)?;
                    self.outside.extend_from_slice(&self.pending[i + 1..]);
                    self.pending = Vec::new();
                    self.part = Part::Tail;
                    self.scanned = 0;
                    return Ok(());
                }
                b'}' if in_items => return Err(malformed(b"[}")),
                b'[' if self.part == Part::Head
                    && self.depth == 1
                    && &self.pending[self.key.0..self.key.1] == b"items" =>
                {
                    self.start_items(i)?;
                    i = 0;
                    continue;
                }
                _ => {
                    if in_items && self.item.is_none() {
                        self.item = Some(i);
                        self.after_comma = false;
                    }
                    match b {
                        b'"' => {
                            self.in_string = true;
                            if self.part == Part::Head && self.depth == 1 {
                                self.key = (i + 1, i + 1);
                            }
                        }
                        b'{' | b'[' => self.depth += 1,
                        // An unbalanced close is serde_json's to report, from the whole text.
                        b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        self.scanned = i;
        Ok(())
    }

    /// `items` opens at `pending[at]`: what came before is the head; the page's metadata,
    /// read from it now, says how many items are left to make room for.
    fn start_items(&mut self, at: usize) -> Result<(), serde_json::Error> {
        self.outside = self.pending[..at].to_vec();
        self.outside.extend_from_slice(b"null}");
        let before = self.items.len();
        PageInto {
            items: &mut *self.items,
            limit: Some(self.limit),
        }
        .read(&self.outside)?;
        self.head_items = self.items.len() - before;
        // The tail follows `null` in place of the items.
        self.outside.pop();
        self.pending.drain(..=at);
        self.part = Part::Items;
        self.depth = 2;
        self.scanned = 0;
        Ok(())
    }

    /// The item from `self.item` ends before `pending[at]` (a `,` or the closing `]`).
    fn end_item(&mut self, at: usize) -> Result<(), serde_json::Error> {
        if let Some(start) = self.item.take() {
            let wire: K::Wire = serde_json::from_slice(&self.pending[start..at])?;
            self.items.push(wire.into());
        }
        Ok(())
    }
}

/// serde_json's own error for `text`, the smallest array broken as `items` is.
fn malformed(text: &[u8]) -> serde_json::Error {
    serde_json::from_slice::<serde::de::IgnoredAny>(text).expect_err("a malformed array")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
    use proptest::prelude::*;
    use serde_json::json;

    fn whole<K: Trimmed>(text: &[u8], limit: usize) -> Result<(Vec<K>, ListMeta), String> {
        let mut items = Vec::new();
        PageInto {
            items: &mut items,
            limit: Some(limit),
        }
        .read(text)
        .map(|m| (items, m))
        .map_err(|e| e.to_string())
    }

    fn streamed<K: Trimmed>(
        text: &[u8],
        cuts: &[usize],
        limit: usize,
    ) -> Result<(Vec<K>, ListMeta), String> {
        let mut items = Vec::new();
        let mut stream = PageStream::new(&mut items, limit);
        let mut from = 0;
        for &cut in cuts.iter().chain([&text.len()]) {
            let to = cut.clamp(from, text.len());
            stream.push(&text[from..to]).map_err(|e| e.to_string())?;
            from = to;
        }
        let meta = stream.finish().map_err(|e| e.to_string())?;
        Ok((items, meta))
    }

    fn binding(name: &str, subject: &str) -> serde_json::Value {
        json!({
            "metadata": {"name": name, "namespace": "n\"s]", "annotations": {"x": "}{\\\"[", "chronom.io/profile": "read-only"},
                         "managedFields": [{"fieldsV1": {"f:a": {"[": {}}}}]},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "name": subject}],
        })
    }

    fn answer(names: &[String]) -> serde_json::Value {
        json!({
            "kind": "RoleBindingList", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"resourceVersion": "9", "continue": "c]\"{", "remainingItemCount": 4},
            "items": names.iter().map(|n| binding(n, &format!("{n}-g\\\u{e9}"))).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn an_answer_cut_anywhere_reads_as_the_whole_text() {
        let names: Vec<String> = (0..3).map(|i| format!("b{i}")).collect();
        for text in [
            serde_json::to_vec(&answer(&names)).unwrap(),
            serde_json::to_vec_pretty(&answer(&names)).unwrap(),
        ] {
            let expected = whole::<RoleBinding>(&text, 3).unwrap();
            assert_eq!(expected.0.len(), 3);
            for cut in 0..=text.len() {
                assert_eq!(
                    streamed::<RoleBinding>(&text, &[cut], 3),
                    Ok(expected.clone()),
                    "cut at {cut}"
                );
            }
            let bytes: Vec<usize> = (0..text.len()).collect();
            assert_eq!(streamed::<RoleBinding>(&text, &bytes, 3), Ok(expected));
        }
    }

    #[test]
    fn room_for_the_items_left_is_made_once_from_the_head() {
        let names: Vec<String> = (0..3).map(|i| format!("b{i}")).collect();
        let text = serde_json::to_vec(&answer(&names)).unwrap();
        let mut items: Vec<RoleBinding> = Vec::new();
        let mut stream = PageStream::new(&mut items, 3);
        stream.push(&text).unwrap();
        stream.finish().unwrap();
        // 3 on this page, 4 left.
        assert_eq!((items.len(), items.capacity()), (3, 7));
    }

    #[test]
    fn odd_answers_read_as_the_whole_text() {
        let item = binding("a", "g");
        let cases = [
            json!({"items": null, "metadata": {"continue": "x"}}),
            json!({"metadata": {}, "items": []}),
            json!({"items": [item.clone()], "metadata": {"continue": "after"}, "more": [1, {"items": []}]}),
            json!({"nested": {"items": [1]}, "items": [item.clone(), item.clone()]}),
            json!({}),
        ];
        for case in cases {
            let text = serde_json::to_vec(&case).unwrap();
            let expected = whole::<RoleBinding>(&text, 9);
            for cut in 0..=text.len() {
                assert_eq!(
                    streamed::<RoleBinding>(&text, &[cut], 9),
                    expected,
                    "{case} cut at {cut}"
                );
            }
        }
    }

    /// Found by an adversarial review: a key spelled with escapes is still `items` to
    /// serde_json, but not to the framing, which leaves its array in the head.
    #[test]
    fn an_escaped_items_key_reads_as_the_whole_text() {
        for text in [
            r#"{"it\u0065ms":[{"metadata":{"name":"a"}}],"items":[]}"#,
            r#"{"\u0069tems":[{"metadata":{"name":"a"}}],"items":[{"metadata":{"name":"b"}}],"items":[{}]}"#,
            r#"{"items":[{"metadata":{"name":"b"}}],"it\u0065ms":[{"metadata":{"name":"a"}}]}"#,
        ] {
            let expected = whole::<ClusterRole>(text.as_bytes(), 9);
            assert!(expected.is_ok(), "{text}");
            for cut in 0..=text.len() {
                assert_eq!(
                    streamed::<ClusterRole>(text.as_bytes(), &[cut], 9),
                    expected,
                    "{text} cut at {cut}"
                );
            }
        }
    }

    /// The server's count of items left is a hint: one no memory could hold neither panics
    /// nor aborts, and one that follows the items makes room for the rest of the list only.
    #[test]
    fn room_follows_the_count_left_within_reason() {
        for left in ["9223372036854775807", "100000000000"] {
            let text = format!(
                r#"{{"metadata":{{"remainingItemCount":{left}}},"items":[{{"metadata":{{"name":"a"}}}}]}}"#
            );
            let expected = whole::<ClusterRole>(text.as_bytes(), 9).unwrap();
            assert_eq!(expected.0.len(), 1);
            assert_eq!(
                streamed::<ClusterRole>(text.as_bytes(), &[5], 9),
                Ok(expected)
            );
        }
        let after = r#"{"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}],"metadata":{"remainingItemCount":3}}"#;
        let (items, _) = whole::<ClusterRole>(after.as_bytes(), 2).unwrap();
        // Two on this page, three left: room for five, not for another page.
        assert_eq!((items.len(), items.capacity()), (2, 5));
    }

    #[test]
    fn malformed_answers_fail_as_the_whole_text_does() {
        let good = serde_json::to_string(&answer(&["a".into()])).unwrap();
        let cases = [
            good[..good.len() - 1].to_string(),
            good[..good.len() / 2].to_string(),
            good.replace("\"items\":[", "\"items\":[null,"),
            good.replace("\"items\":[", "\"items\":[1,"),
            good.replace("}]}", "}}]}"),
            good.replace("}]}", "},]}"),
            format!("{good} x"),
            format!("x{good}"),
            "[]".to_string(),
            "{\"items\":[{\"metadata\":{}}]}".to_string(),
        ];
        for case in cases {
            assert!(whole::<RoleBinding>(case.as_bytes(), 9).is_err(), "{case}");
            for cut in [0, 1, case.len() / 3, case.len() / 2, case.len()] {
                assert!(
                    streamed::<RoleBinding>(case.as_bytes(), &[cut], 9).is_err(),
                    "{case} cut at {cut}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any answer, cut into any chunks, reads as its whole text reads: the same objects in
        /// the same order and the same metadata, or an error for both.
        #[test]
        fn chunks_never_change_what_is_read(
            names in proptest::collection::vec("[a-z\"\\\\\\[\\]{},:é ]{0,6}", 0..6),
            rules in proptest::collection::vec("[a-z\\[\\]{}\"\\\\]{0,4}", 0..3),
            cuts in proptest::collection::vec(0usize..2000, 0..8),
            pretty in any::<bool>(),
            damage in proptest::option::of((0usize..2000, "[\\[\\]{}\",:a ]")),
        ) {
            let roles: Vec<_> = names.iter().map(|n| json!({
                "metadata": {"name": n, "labels": {n.clone(): n}},
                "rules": [{"verbs": rules.clone(), "resources": [n]}],
            })).collect();
            let value = json!({"kind": "ClusterRoleList", "metadata": {"continue": names.join("")}, "items": roles});
            let mut text = if pretty { serde_json::to_vec_pretty(&value) } else { serde_json::to_vec(&value) }.unwrap();
            if let Some((at, with)) = damage {
                let at = at % (text.len() + 1);
                text.splice(at..at, with.bytes());
            }
            let mut cuts = cuts;
            cuts.sort_unstable();
            let expected = whole::<ClusterRole>(&text, 5);
            let got = streamed::<ClusterRole>(&text, &cuts, 5);
            match (&expected, &got) {
                (Ok(e), Ok(g)) => prop_assert_eq!(e, g),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "whole {:?}, streamed {:?}", expected.is_ok(), got.is_ok()),
            }
        }
    }
}
