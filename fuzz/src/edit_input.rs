//! The input of the `awsauth_edit` target.
//!
//! Layout: `TEXT` or `TEXT \0 ROLE \0 USERNAME \0 GROUP \0 GROUP ...`.
//!
//! - `TEXT` is the mapRoles value, fuzzed as plain bytes so a seed is just a YAML file.
//! - `ROLE` is the role name to upsert: a leading `!` asks for `force`; the rest keeps only
//!   IAM name characters (at most 64), and an empty result stands for `fuzz-new-role`.
//! - `USERNAME` and `GROUP`s are taken as they are: any Unicode except NUL (the separator),
//!   so newlines, `: `, `#`, quotes, `{{...}}`, YAML 1.1 words and control characters all occur.
//!
//! Without a `\0`, the entry is `fuzz-new-role` / `fuzz-user` / `[chronom:read-only]`.
//! Every segment must be UTF-8, else the input is skipped.

use std::fmt;

use crate::arn::{CanonicalRoleArn, MAX_NAME_LEN};
use crate::awsauth::NewRoleEntry;
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};

pub const DEFAULT_ROLE: &str = "fuzz-new-role";
pub const DEFAULT_USERNAME: &str = "fuzz-user";
pub const DEFAULT_GROUP: &str = "chronom:read-only";
pub const ACCOUNT: &str = "111122223333";

#[derive(Clone)]
pub struct EditInput {
    pub text: String,
    pub force: bool,
    pub entry: NewRoleEntry,
}

impl EditInput {
    pub fn from_bytes(data: &[u8]) -> Option<Self> {
        let mut segments = data.split(|b| *b == 0);
        let text = std::str::from_utf8(segments.next()?).ok()?.to_string();
        let rest: Vec<&str> = segments.map(std::str::from_utf8).collect::<Result<_, _>>().ok()?;
        let (force, name, username, groups) = match rest.split_first() {
            None => (false, DEFAULT_ROLE.to_string(), DEFAULT_USERNAME.to_string(), vec![DEFAULT_GROUP.to_string()]),
            Some((role, tail)) => {
                let (force, role) = match role.strip_prefix('!') {
                    Some(role) => (true, role),
                    None => (false, *role),
                };
                let username = tail.first().map_or_else(|| DEFAULT_USERNAME.to_string(), |u| u.to_string());
                let groups = tail.iter().skip(1).map(|g| g.to_string()).collect();
                (force, role_name(role), username, groups)
            }
        };
        let rolearn = CanonicalRoleArn::new("aws", ACCOUNT, &name).expect("a sanitised role name is valid");
        Some(EditInput { text, force, entry: NewRoleEntry { rolearn, username, groups } })
    }
}

/// Keeps the IAM role name characters of `raw`, at most 64 of them.
fn role_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))
        .take(MAX_NAME_LEN)
        .collect();
    if name.is_empty() { DEFAULT_ROLE.to_string() } else { name }
}

impl<'a> Arbitrary<'a> for EditInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let data = u.bytes(u.len())?;
        EditInput::from_bytes(data).ok_or(arbitrary::Error::IncorrectFormat)
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<Self> {
        Self::arbitrary(&mut u)
    }
}

/// What libFuzzer prints for a failing input: Rust literals that paste into a test.
impl fmt::Debug for EditInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "EditInput {{")?;
        writeln!(f, "    text: {:?},", self.text)?;
        writeln!(f, "    force: {},", self.force)?;
        writeln!(f, "    rolearn: {:?},", self.entry.rolearn.to_string())?;
        writeln!(f, "    username: {:?},", self.entry.username)?;
        writeln!(f, "    groups: {:?},", self.entry.groups)?;
        write!(f, "}}")
    }
}
