//! An aws-auth entry without its place in the text, to compare entries across edits; and the
//! same entries read by an independent YAML parser (libyaml, via yaml_serde).

use crate::awsauth::{EntryNote, ExtraField, MapRoleEntry, NewRoleEntry, SsoMatcher};
use serde_json::Value;

/// Everything a parsed mapRoles entry says, but not where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meaning {
    pub rolearn: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub userid: Option<String>,
    pub sso: Option<SsoMatcher>,
    pub extra: Vec<ExtraField>,
    pub notes: Vec<EntryNote>,
}

impl Meaning {
    pub fn of(entry: &MapRoleEntry) -> Self {
        Meaning {
            rolearn: entry.rolearn.clone(),
            username: entry.username.clone(),
            groups: entry.groups.clone(),
            userid: entry.userid.clone(),
            sso: entry.sso.clone(),
            extra: entry.extra.clone(),
            notes: entry.notes.clone(),
        }
    }

    /// What the entry chronom writes for `wanted` must read back as: exactly the asked
    /// values, nothing else, and nothing the authenticator would skip or reject.
    pub fn wanted(wanted: &NewRoleEntry) -> Self {
        Meaning {
            rolearn: wanted.rolearn.to_string(),
            username: Some(wanted.username.clone()),
            groups: wanted.groups.clone(),
            userid: None,
            sso: None,
            extra: Vec::new(),
            notes: Vec::new(),
        }
    }
}

pub fn meanings(entries: &[MapRoleEntry]) -> Vec<Meaning> {
    entries.iter().map(Meaning::of).collect()
}

/// Entries that were not edited keep their exact bytes and their meaning.
pub fn assert_untouched(old_text: &str, old: &MapRoleEntry, new_text: &str, new: &MapRoleEntry, what: &str) {
    assert_eq!(Meaning::of(old), Meaning::of(new), "{what}: an entry that was not edited reads differently");
    assert_eq!(
        &old_text[old.span.clone()],
        &new_text[new.span.clone()],
        "{what}: the bytes of an entry that was not edited changed"
    );
}

/// The top-level list as libyaml reads it, or `None` if libyaml does not read it as a list
/// (or null) at all.
pub fn libyaml_items(text: &str) -> Option<Vec<Value>> {
    match yaml_serde::from_str::<Value>(text).ok()? {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => Some(items),
        _ => None,
    }
}

/// Does this libyaml item say exactly `rolearn`, `username` and `groups`, as strings?
pub fn libyaml_item_is(item: &Value, wanted: &NewRoleEntry) -> Result<(), String> {
    let Value::Object(map) = item else { return Err(format!("not a mapping: {item}")) };
    let expected = serde_json::json!({
        "rolearn": wanted.rolearn.to_string(),
        "username": wanted.username,
        "groups": wanted.groups,
    });
    if Value::Object(map.clone()) == expected { Ok(()) } else { Err(format!("libyaml reads {item}, wanted {expected}")) }
}
