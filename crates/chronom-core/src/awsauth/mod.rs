//! The aws-auth ConfigMap model: parse with spans, lossless edit, render an entry.
//!
//! mapRoles, mapUsers and mapAccounts are YAML *text* inside ConfigMap data keys. What an
//! entry means is what aws-iam-authenticator makes of it; what we read there (sources in
//! kubernetes-sigs/aws-iam-authenticator, and eksctl-io/eksctl):
//!
//! - `pkg/mapper/configmap/configmap.go` `ParseMap`: mapRoles and mapUsers go through
//!   `k8s.io/apimachinery/pkg/util/yaml.ToJSON` (sigs.k8s.io/yaml, i.e. go-yaml v2, YAML 1.1
//!   scalars: unquoted `yes`/`on`/`123` are not strings) and then `encoding/json.Unmarshal`
//!   into `[]RoleMapping` / `[]UserMapping`. So keys match case-insensitively (`RoleArn`,
//!   `USERNAME`), unknown keys are ignored, a later duplicate key wins, and a value of the
//!   wrong JSON type is skipped while the rest still loads. mapAccounts goes through go-yaml v2
//!   straight into `[]string`. Each entry is then checked (`Validate`) and dropped alone if
//!   invalid. A YAML syntax error drops that one section only; the other sections still load
//!   ("Only saving data that was good"). Blank text and ``` `` ```, `""`, `''` are skipped.
//! - `saveMap` keys roles by `strings.ToLower(rolearn)`, so among entries with the same ARN
//!   the LAST one wins. Users are keyed by the ARN as written (not lower-cased) but matched
//!   with `EqualFold` while iterating a Go map, so case-variant duplicate users are picked at
//!   random. `Map` looks at roles first, then users; an account in mapAccounts lets unmapped
//!   callers in with their ARN as username and no groups.
//! - `pkg/config/mapper.go` `RoleMapping.Matches`: `strings.EqualFold(rolearn, canonicalARN)`.
//!   `pkg/arn/arn.go` `Canonicalize` turns `sts ... assumed-role/NAME/SESSION` into
//!   `iam ... role/NAME`; `GetCallerIdentity` never includes a role path, so an entry that
//!   keeps the path never matches (`StripPath` exists but is only used by the dynamicfile
//!   mapper). We therefore write path-less ARNs, compare path-less to find "the same role",
//!   and flag path entries as dead. eksctl's `iamidentitymapping` writes the ARN as given;
//!   only its node-group code (`pkg/cfn/builder/iam_helper.go` `NormalizeARN`) strips the path.
//! - `sso` entries (alpha, feature gate `SSORoleMatch`, off by default): `permissionSetName`
//!   and `accountID` (must be a quoted 12-digit string) build the pattern
//!   `arn:aws:iam::ACCT:role/AWSReservedSSO_NAME_*`; `rolearn` and `sso` are exclusive. When
//!   `partition` is set, `SSOArnLike` leaves the partition empty: such an entry never matches.
//! - Username/group templates: see [`template`].
//! - Because of the YAML 1.1 step, an unquoted `username: yes`, `groups: [on]` or
//!   `accountID: 111122223333` is not text to the authenticator (the value is skipped, a
//!   group becomes `""`); [`EntryNote`] says so, and everything we write is quoted when a YAML
//!   1.1 or 1.2 parser could read it as anything but the intended string.
//!
//! What we refuse to read (a [`ParseError`] with line and column), so that the authenticator
//! and we can never disagree: anchors and aliases (also the YAML bomb), tags other than
//! `!!str`, several documents, nesting deeper than 64, and U+0085/U+2028/U+2029 (line breaks
//! to YAML 1.1, not to 1.2). Every edit re-reads its result and fails rather than write text
//! that reads differently from what was intended.

pub mod backup;
mod diff;
mod document;
mod edit;
mod emit;
mod entry;
mod lenient;
pub mod ownership;
mod parse;
mod parse_error;
pub mod template;
mod yaml11;

pub use diff::unified_diff;
pub use edit::{
    EditAction, EditError, NewRoleEntry, RoleEdit, RoleRemoval, remove_role, upsert_role,
};
pub use entry::{EntryNote, ExtraField, MapAccount, MapRoleEntry, MapUserEntry, SsoMatcher};
pub use lenient::{LenientRead, read_map_accounts, read_map_roles, read_map_users};
pub use parse::{check_editable, parse_map_accounts, parse_map_roles, parse_map_users};
pub use parse_error::ParseError;
pub use template::{Placeholder, TemplateError, default_username, validate_username};

use crate::arn::CanonicalRoleArn;

/// The entry as chronom would write it in a block-style mapRoles, for display.
pub fn render_entry_yaml(entry: &NewRoleEntry) -> String {
    let rolearn = entry.rolearn.to_string();
    let fields = emit::EntryFields {
        rolearn: &rolearn,
        username: &entry.username,
        groups: &entry.groups,
    };
    format!(
        "{}\n",
        emit::block_item(fields, &emit::BlockStyle::default())
    )
}

/// Among mapRoles entries, the one aws-iam-authenticator uses for a session of `role`: the
/// last valid entry whose rolearn equals the canonical ARN (case-insensitively). `sso`
/// entries are not considered (alpha feature, off by default).
pub fn effective_role_entry<'e>(
    entries: &'e [MapRoleEntry],
    role: &CanonicalRoleArn,
) -> Option<&'e MapRoleEntry> {
    entries.iter().rev().find(|e| e.authenticator_matches(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_entry() {
        let entry = NewRoleEntry {
            rolearn: "arn:aws:iam::111122223333:role/reader".parse().unwrap(),
            username: "reader:{{SessionName}}".into(),
            groups: vec!["chronom:read-only".into()],
        };
        assert_eq!(
            render_entry_yaml(&entry),
            "- rolearn: arn:aws:iam::111122223333:role/reader\n  username: reader:{{SessionName}}\n  groups:\n    - chronom:read-only\n"
        );
    }

    #[test]
    fn effective_entry_is_the_last_exact_match() {
        let text = "- rolearn: arn:aws:iam::111122223333:role/reader\n  username: first\n- rolearn: arn:aws:iam::111122223333:role/x/reader\n  username: path\n- rolearn: ARN:AWS:IAM::111122223333:ROLE/READER\n  username: last\n";
        let entries = parse_map_roles(text).unwrap();
        let role: CanonicalRoleArn = "arn:aws:iam::111122223333:role/reader".parse().unwrap();
        assert_eq!(
            effective_role_entry(&entries, &role)
                .unwrap()
                .username
                .as_deref(),
            Some("last")
        );
    }
}
