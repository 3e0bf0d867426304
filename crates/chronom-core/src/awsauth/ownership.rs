//! Which mapRoles entries chronom may remove or replace (decision 6 in docs/decisions.md). Pure.
//!
//! revoke removes an entry only when it is exactly what grant writes: the role's canonical ARN
//! (compared as aws-iam-authenticator compares it, case-insensitively), `groups` exactly
//! `[--group]`, `username` exactly the one grant writes, and no other key. Anything else is
//! someone else's mapping, or ours changed by hand, and removing it takes away access we
//! cannot see the purpose of. It is refused unless `--force-remove-foreign-entry` is given.
//!
//! Some entries keep the cluster itself working: a node role (system:nodes,
//! system:bootstrappers, a `system:node:` username) or an admin role (system:masters). Removing
//! or replacing one takes nodes out of the cluster or locks its admins out, so no flag allows
//! it: such an entry is edited by hand, by someone who knows why.

use std::fmt;

use super::entry::{EntryNote, MapRoleEntry};
use crate::arn::CanonicalRoleArn;

/// Groups whose mapping chronom never removes or replaces.
pub const PROTECTED_GROUPS: [&str; 3] = ["system:masters", "system:nodes", "system:bootstrappers"];
/// The username prefix nodes authenticate with (`system:node:{{EC2PrivateDNSName}}`).
pub const NODE_USERNAME_PREFIX: &str = "system:node:";
/// The flag that lets revoke remove an entry that is not what grant writes.
pub const OVERRIDE_FLAG: &str = "--force-remove-foreign-entry";

/// What a protected mapping keeps working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protects {
    /// system:nodes, system:bootstrappers or a `system:node:` username.
    Nodes,
    /// system:masters.
    Admins,
}

impl Protects {
    /// What removing the mapping would break.
    pub fn breakage(self) -> &'static str {
        match self {
            Protects::Nodes => {
                "nodes of this role would drop out of the cluster (it maps them as system:nodes / system:bootstrappers)"
            }
            Protects::Admins => {
                "this role would lose system:masters (cluster-admin, beyond RBAC): whoever administers the cluster through it would be locked out"
            }
        }
    }
}

/// What a mapping keeps working, from its username and groups (access entries use it too).
pub fn protects(username: Option<&str>, groups: &[String]) -> Vec<Protects> {
    let mut out = Vec::new();
    let node_group = groups
        .iter()
        .any(|g| g == "system:nodes" || g == "system:bootstrappers");
    if node_group || username.is_some_and(|u| u.starts_with(NODE_USERNAME_PREFIX)) {
        out.push(Protects::Nodes);
    }
    if groups.iter().any(|g| g == "system:masters") {
        out.push(Protects::Admins);
    }
    out
}

/// The entry grant writes for a role: the only one revoke removes without the override.
#[derive(Debug, Clone, Copy)]
pub struct GrantedEntry<'a> {
    pub role: &'a CanonicalRoleArn,
    pub username: &'a str,
    pub group: &'a str,
}

/// One way an entry differs from what grant writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// aws-iam-authenticator never uses the entry (a role path, an invalid field, ...).
    NotInEffect {
        reason: String,
    },
    /// Something about the entry reads differently from how it looks.
    Note {
        note: String,
    },
    Groups {
        groups: Vec<String>,
    },
    Username {
        username: Option<String>,
    },
    /// Keys grant never writes (userid, sso, anything unknown).
    OtherKeys {
        keys: Vec<String>,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::NotInEffect { reason } => {
                write!(f, "aws-iam-authenticator never uses it ({reason})")
            }
            Difference::Note { note } => f.write_str(note),
            Difference::Groups { groups } => write!(f, "groups are [{}]", groups.join(", ")),
            Difference::Username { username: Some(u) } => write!(f, "username is {u:?}"),
            Difference::Username { username: None } => f.write_str("it has no username"),
            Difference::OtherKeys { keys } => {
                write!(f, "it has keys grant never writes: {}", keys.join(", "))
            }
        }
    }
}

/// How chronom may treat one entry about the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Exactly what grant writes.
    Ours,
    /// Not what grant writes: removed only with the override.
    Foreign { differences: Vec<Difference> },
    /// Nodes or admins depend on it: never removed or replaced.
    Protected {
        differences: Vec<Difference>,
        protects: Vec<Protects>,
    },
}

/// Decide whether `entry` (an entry about `want.role`) is exactly what grant writes.
pub fn ownership(entry: &MapRoleEntry, want: &GrantedEntry<'_>) -> Ownership {
    let mut differences = Vec::new();
    if !entry.authenticator_matches(want.role) {
        let reason = entry
            .notes
            .iter()
            .find_map(|n| match n {
                EntryNote::UnusableArn { reason } => Some(reason.clone()),
                _ => None,
            })
            .or_else(|| {
                entry
                    .notes
                    .iter()
                    .find(|n| n.drops_entry())
                    .map(ToString::to_string)
            })
            .unwrap_or_else(|| format!("its rolearn {:?} is not {}", entry.rolearn, want.role));
        differences.push(Difference::NotInEffect { reason });
    }
    for note in &entry.notes {
        if !matches!(note, EntryNote::UnusableArn { .. }) && !note.drops_entry() {
            differences.push(Difference::Note {
                note: note.to_string(),
            });
        }
    }
    if entry.groups != [want.group] {
        differences.push(Difference::Groups {
            groups: entry.groups.clone(),
        });
    }
    if entry.username.as_deref() != Some(want.username) {
        differences.push(Difference::Username {
            username: entry.username.clone(),
        });
    }
    let mut keys: Vec<String> = Vec::new();
    if entry.userid.is_some() {
        keys.push("userid".into());
    }
    if entry.sso.is_some() {
        keys.push("sso".into());
    }
    keys.extend(entry.extra.iter().map(|e| e.key.clone()));
    if !keys.is_empty() {
        differences.push(Difference::OtherKeys { keys });
    }
    let protects = protects(entry.username.as_deref(), &entry.groups);
    if !protects.is_empty() {
        Ownership::Protected {
            differences,
            protects,
        }
    } else if differences.is_empty() {
        Ownership::Ours
    } else {
        Ownership::Foreign { differences }
    }
}

/// Why an entry may not be removed or replaced, with everything the message shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRefusal {
    /// What was refused: "remove" or "replace".
    pub doing: &'static str,
    pub role: String,
    pub line: usize,
    /// The entry as written in mapRoles.
    pub yaml: String,
    pub differences: Vec<Difference>,
    /// What removing it would break.
    pub breaks: Vec<String>,
    /// Whether `--force-remove-foreign-entry` would let revoke remove it.
    pub overridable: bool,
    /// For a foreign entry that maps a single group and has no other key: the flags that
    /// describe it (so the user can revoke what they really granted).
    pub matching_flags: Option<String>,
}

impl EntryRefusal {
    fn new(
        doing: &'static str,
        text: &str,
        entry: &MapRoleEntry,
        role: &CanonicalRoleArn,
        verdict: Ownership,
    ) -> Self {
        let (differences, protects, overridable) = match verdict {
            Ownership::Ours => (vec![], vec![], true),
            Ownership::Foreign { differences } => (differences, vec![], true),
            Ownership::Protected {
                differences,
                protects,
            } => (differences, protects, false),
        };
        let mut breaks: Vec<String> = protects.iter().map(|p| p.breakage().to_string()).collect();
        let in_effect = entry.authenticator_matches(role);
        if !protects.is_empty() {
            // Said above; nothing else matters next to it.
        } else if !in_effect {
            breaks.push(
                "nothing in effect today (aws-iam-authenticator ignores this entry), but it is not an entry grant wrote".into(),
            );
        } else {
            let others: Vec<&str> = entry.groups.iter().map(String::as_str).collect();
            if !others.is_empty() {
                breaks.push(format!(
                    "sessions of this role would lose what groups [{}] are bound to",
                    others.join(", ")
                ));
            }
            if let Some(u) = &entry.username {
                breaks.push(format!(
                    "bindings to user {u:?} would no longer apply to this role's sessions"
                ));
            }
            if entry.groups.is_empty() && entry.username.is_none() {
                breaks.push("the role would no longer be able to log in to the cluster".into());
            }
        }
        let simple = in_effect
            && entry.notes.is_empty()
            && entry.userid.is_none()
            && entry.sso.is_none()
            && entry.extra.is_empty()
            && entry.groups.len() == 1;
        let matching_flags = match (&entry.username, simple) {
            (Some(u), true) => Some(format!("--username '{u}' --group '{}'", entry.groups[0])),
            _ => None,
        };
        EntryRefusal {
            doing,
            role: role.to_string(),
            line: entry.line,
            yaml: entry_yaml(text, entry),
            differences,
            breaks,
            overridable,
            matching_flags,
        }
    }

    pub fn what(&self) -> String {
        let kind = if self.overridable {
            "it is not the entry grant writes"
        } else {
            "it keeps the cluster working"
        };
        let mut out = format!(
            "refusing to {} the aws-auth entry for {} at mapRoles line {}: {kind}; nothing was changed.\n  entry:\n",
            self.doing, self.role, self.line
        );
        for line in self.yaml.lines() {
            out.push_str("    ");
            out.push_str(line);
            out.push('\n');
        }
        if !self.differences.is_empty() {
            out.push_str("  differs from what grant writes: ");
            out.push_str(
                &self
                    .differences
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            out.push('\n');
        }
        out.push_str(&format!("  if it were {}d:", self.doing));
        for b in &self.breaks {
            out.push_str("\n    - ");
            out.push_str(b);
        }
        out
    }

    pub fn next(&self) -> String {
        if !self.overridable {
            return format!(
                "no flag of kubectl-chronom {}s this entry (not even {OVERRIDE_FLAG} or --force-update); if the role really must lose it, edit aws-auth by hand (`kubectl -n kube-system edit configmap aws-auth`)",
                self.doing
            );
        }
        match &self.matching_flags {
            Some(flags) => format!(
                "if the scanner was granted with other flags, revoke with the same ones ({flags}); to remove this entry anyway, add {OVERRIDE_FLAG}"
            ),
            None => format!(
                "check who wrote this entry; to remove it anyway, re-run with {OVERRIDE_FLAG}"
            ),
        }
    }
}

/// The entry's own text, its continuation lines unindented to its column.
fn entry_yaml(text: &str, entry: &MapRoleEntry) -> String {
    let own = text.get(entry.span.clone()).unwrap_or_default();
    let mut out = String::new();
    for (i, line) in own.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if i == 0 {
            out.push_str(line);
        } else {
            let blank = line.len() - line.trim_start_matches(' ').len();
            out.push_str(&line[blank.min(entry.column.saturating_sub(1))..]);
        }
        out.push('\n');
    }
    out
}

/// revoke: may every entry about the role (`entries`, as `refers_to` selects them) be removed?
/// All of them are judged before anything is written; the first refusal wins.
pub fn check_removal(
    text: &str,
    entries: &[MapRoleEntry],
    want: &GrantedEntry<'_>,
    force: bool,
) -> Result<(), Box<EntryRefusal>> {
    for entry in entries {
        match ownership(entry, want) {
            Ownership::Ours => {}
            Ownership::Foreign { .. } if force => {}
            verdict => {
                return Err(Box::new(EntryRefusal::new(
                    "remove", text, entry, want.role, verdict,
                )));
            }
        }
    }
    Ok(())
}

/// grant --force-update: may the entries about the role be replaced? Never a protected one,
/// whatever it says; anything else is what --force-update is for.
pub fn check_forced_replace(text: &str, role: &CanonicalRoleArn) -> Result<(), Box<EntryRefusal>> {
    let Ok(entries) = super::parse_map_roles(text) else {
        // The edit itself reports an unreadable text, with its place.
        return Ok(());
    };
    for entry in entries.iter().filter(|e| e.refers_to(role)) {
        if !protects(entry.username.as_deref(), &entry.groups).is_empty() {
            let verdict = Ownership::Protected {
                differences: vec![],
                protects: protects(entry.username.as_deref(), &entry.groups),
            };
            return Err(Box::new(EntryRefusal::new(
                "replace", text, entry, role, verdict,
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::awsauth::parse_map_roles;

    const ARN: &str = "arn:aws:iam::111122223333:role/scanner";
    const NODE: &str = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n";

    fn role() -> CanonicalRoleArn {
        ARN.parse().unwrap()
    }

    fn judge(text: &str) -> Ownership {
        judge_as(text, "scanner", "readers")
    }

    fn judge_as(text: &str, username: &str, group: &str) -> Ownership {
        let role = role();
        let entries = parse_map_roles(text).unwrap();
        assert_eq!(entries.len(), 1, "{text}");
        ownership(
            &entries[0],
            &GrantedEntry {
                role: &role,
                username,
                group,
            },
        )
    }

    fn differences(o: Ownership) -> Vec<Difference> {
        match o {
            Ownership::Foreign { differences } => differences,
            other => panic!("expected Foreign, got {other:?}"),
        }
    }

    fn removal(text: &str, force: bool) -> Result<(), Box<EntryRefusal>> {
        let role = role();
        let entries: Vec<MapRoleEntry> = parse_map_roles(text)
            .unwrap()
            .into_iter()
            .filter(|e| e.refers_to(&role))
            .collect();
        check_removal(
            text,
            &entries,
            &GrantedEntry {
                role: &role,
                username: "scanner",
                group: "readers",
            },
            force,
        )
    }

    #[test]
    fn what_grant_writes_is_ours_in_any_layout() {
        for text in [
            "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups:\n  - readers\n",
            "- groups: [readers]\n  username: \"scanner\"\n  rolearn: 'arn:aws:iam::111122223333:role/scanner'\n",
            "[{rolearn: arn:aws:iam::111122223333:role/scanner, username: scanner, groups: [readers]}]",
            // aws-iam-authenticator compares ARNs case-insensitively: this is the same role.
            "- rolearn: ARN:AWS:IAM::111122223333:ROLE/SCANNER\n  username: scanner\n  groups: [readers]\n",
            "    - rolearn: arn:aws:iam::111122223333:role/scanner\r\n      username: scanner\r\n      groups:\r\n        - readers\r\n",
        ] {
            assert_eq!(judge(text), Ownership::Ours, "{text}");
        }
    }

    #[test]
    fn another_group_or_a_second_group_is_foreign() {
        let base = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n";
        for groups in [
            "  groups: [readers, admins]\n",
            "  groups: [admins]\n",
            "  groups: [readers, readers]\n",
            "  groups: []\n",
            "",
        ] {
            let d = differences(judge(&format!("{base}{groups}")));
            assert!(
                matches!(d.as_slice(), [Difference::Groups { .. }]),
                "{groups}: {d:?}"
            );
        }
    }

    #[test]
    fn another_or_no_username_is_foreign_and_an_explicit_one_is_compared() {
        let text = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: chronom:{{SessionName}}\n  groups: [readers]\n";
        assert_eq!(
            differences(judge(text)),
            [Difference::Username {
                username: Some("chronom:{{SessionName}}".into())
            }]
        );
        // revoke --username chronom:{{SessionName}} names what grant --username wrote.
        assert_eq!(
            judge_as(text, "chronom:{{SessionName}}", "readers"),
            Ownership::Ours
        );
        let none = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  groups: [readers]\n";
        assert_eq!(
            differences(judge(none)),
            [Difference::Username { username: None }]
        );
        // A value the authenticator does not read as text is not what grant wrote either.
        let boolean = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: yes\n  groups: [readers]\n";
        assert!(!matches!(judge(boolean), Ownership::Ours));
    }

    #[test]
    fn any_other_key_is_foreign() {
        for (extra, key) in [
            ("  userid: AROAEXAMPLE\n", "userid"),
            ("  comment: team-b\n", "comment"),
            ("  Extra: {a: 1}\n", "Extra"),
        ] {
            let text = format!(
                "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups: [readers]\n{extra}"
            );
            let d = differences(judge(&text));
            assert!(
                d.contains(&Difference::OtherKeys {
                    keys: vec![key.into()]
                }),
                "{text}: {d:?}"
            );
        }
    }

    #[test]
    fn an_entry_the_authenticator_never_uses_is_not_ours() {
        // grant never writes a role path; the authenticator never matches one.
        let path = "- rolearn: arn:aws:iam::111122223333:role/team/scanner\n  username: scanner\n  groups: [readers]\n";
        let d = differences(judge(path));
        assert!(
            matches!(&d[..], [Difference::NotInEffect { reason }] if reason.contains("path")),
            "{d:?}"
        );
        let e = removal(path, false).unwrap_err();
        assert!(e.what().contains("nothing in effect"), "{}", e.what());
        assert!(removal(path, true).is_ok());
    }

    #[test]
    fn a_repeated_key_is_not_what_grant_writes() {
        let text = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups: [admins]\n  groups: [readers]\n";
        let d = differences(judge(text));
        assert!(
            d.iter()
                .any(|d| matches!(d, Difference::Note { note } if note.contains("more than once"))),
            "{d:?}"
        );
    }

    #[test]
    fn node_and_admin_mappings_are_protected() {
        assert_eq!(
            judge(NODE),
            Ownership::Protected {
                differences: vec![
                    Difference::Groups {
                        groups: vec!["system:bootstrappers".into(), "system:nodes".into()]
                    },
                    Difference::Username {
                        username: Some("system:node:{{EC2PrivateDNSName}}".into())
                    }
                ],
                protects: vec![Protects::Nodes],
            }
        );
        for (text, want) in [
            (
                "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups: [readers, system:masters]\n",
                vec![Protects::Admins],
            ),
            (
                "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups: [system:bootstrappers]\n",
                vec![Protects::Nodes],
            ),
            (
                "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: system:node:x\n  groups: [readers]\n",
                vec![Protects::Nodes],
            ),
            (
                "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: x\n  groups: [system:nodes, system:masters]\n",
                vec![Protects::Nodes, Protects::Admins],
            ),
        ] {
            match judge(text) {
                Ownership::Protected { protects, .. } => assert_eq!(protects, want, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        // Even an entry that is otherwise exactly grant's: --group system:masters was granted
        // with --allow-privileged-group; revoking it still needs a human.
        assert!(matches!(
            judge_as(
                "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups: [system:masters]\n",
                "scanner",
                "system:masters"
            ),
            Ownership::Protected { .. }
        ));
        // Look-alikes are not protected.
        assert!(
            protects(
                Some("system:nodes-reader"),
                &["system:node".into(), "my:system:masters".into()]
            )
            .is_empty()
        );
    }

    #[test]
    fn removal_of_a_node_entry_is_refused_even_with_the_override() {
        for force in [false, true] {
            let e = removal(NODE, force).unwrap_err();
            assert!(!e.overridable);
            let what = e.what();
            assert!(
                what.contains("nodes of this role would drop out of the cluster"),
                "{what}"
            );
            assert!(
                what.contains("    - rolearn: arn:aws:iam::111122223333:role/scanner\n      username: system:node:{{EC2PrivateDNSName}}\n      groups:\n        - system:bootstrappers\n"),
                "the entry is shown as YAML: {what}"
            );
            assert!(what.contains("mapRoles line 1"), "{what}");
            assert!(e.next().contains("edit aws-auth by hand"), "{}", e.next());
            assert!(!e.next().contains("re-run with"), "{}", e.next());
        }
    }

    #[test]
    fn removal_of_a_foreign_entry_needs_the_override_and_says_what_breaks() {
        let text = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups: [readers, deployers]\n";
        let e = removal(text, false).unwrap_err();
        assert!(e.overridable);
        assert!(
            e.what()
                .contains("sessions of this role would lose what groups [readers, deployers]"),
            "{}",
            e.what()
        );
        assert!(e.what().contains("groups are [readers, deployers]"));
        assert!(e.next().contains(OVERRIDE_FLAG), "{}", e.next());
        assert!(removal(text, true).is_ok());

        // A single other group: say which flags describe it.
        let other = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: chronom\n  groups: [team-readers]\n";
        let e = removal(other, false).unwrap_err();
        assert!(
            e.next()
                .contains("--username 'chronom' --group 'team-readers'"),
            "{}",
            e.next()
        );
        assert!(
            e.what()
                .contains("bindings to user \"chronom\" would no longer apply"),
            "{}",
            e.what()
        );
    }

    #[test]
    fn every_entry_about_the_role_is_judged_before_anything_is_removed() {
        let ours = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups: [readers]\n";
        assert!(removal(&format!("{ours}{ours}"), false).is_ok());
        let mixed = format!("{ours}{NODE}");
        assert!(!removal(&mixed, true).unwrap_err().overridable);
        let foreign = format!(
            "{ours}- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups: [x]\n"
        );
        let e = removal(&foreign, false).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(removal(&foreign, true).is_ok());
        // Other roles' entries are not judged.
        let others = "- rolearn: arn:aws:iam::111122223333:role/node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:nodes]\n";
        assert!(removal(&format!("{others}{ours}"), false).is_ok());
    }

    #[test]
    fn force_update_never_replaces_a_protected_entry() {
        let role = role();
        let e = check_forced_replace(NODE, &role).unwrap_err();
        assert!(e.what().starts_with("refusing to replace"), "{}", e.what());
        assert!(e.what().contains("drop out of the cluster"));
        assert!(e.next().contains("--force-update"), "{}", e.next());
        let admin = "- rolearn: arn:aws:iam::111122223333:role/team/scanner\n  username: admin\n  groups: [system:masters]\n";
        assert!(
            check_forced_replace(admin, &role).is_err(),
            "a path entry too"
        );
        // What --force-update is for: someone else's ordinary mapping of the role.
        let foreign = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: old\n  groups: [viewers]\n";
        assert!(check_forced_replace(foreign, &role).is_ok());
        // Another role's node entry is not this grant's business.
        let other = "- rolearn: arn:aws:iam::111122223333:role/node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:nodes]\n";
        assert!(check_forced_replace(other, &role).is_ok());
        assert!(check_forced_replace("", &role).is_ok());
    }

    #[test]
    fn the_refusal_is_one_message_with_a_next_step() {
        let r = removal(NODE, false).unwrap_err();
        assert!(r.what().contains("nothing was changed") && !r.next().is_empty());
        assert!(
            !r.what().contains("MapRoleEntry"),
            "no Debug output: {}",
            r.what()
        );
    }
}
