//! The aws-auth part of both plans: the edit of mapRoles, decided from the text as read.
//! A 409 on write re-reads aws-auth and runs the same functions again (`rebase`).

use serde::Serialize;

use crate::action::Action;
use crate::arn::RoleArnInput;
use crate::awsauth::{self, ownership};

use super::refusal::Refusal;

/// The aws-auth ConfigMap as read. `Default` is a cluster without it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsAuthSeen {
    pub exists: bool,
    /// None: no mapRoles key.
    pub map_roles: Option<String>,
    pub map_users: Option<String>,
    /// We created the mapRoles key (our annotation): emptying it may remove it again.
    pub key_created_by_us: bool,
}

impl AwsAuthSeen {
    pub fn map_roles(&self) -> &str {
        self.map_roles.as_deref().unwrap_or("")
    }

    pub fn map_users(&self) -> &str {
        self.map_users.as_deref().unwrap_or("")
    }
}

/// What a grant writes to mapRoles.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsAuthGrant {
    pub action: Action,
    pub before: String,
    /// None: nothing to write.
    pub after: Option<String>,
    pub diff: String,
    /// The entry replaces another one for the role (--force-update) rather than being added.
    pub replaced: bool,
    /// mapRoles was absent before: a rollback that empties it removes the key again.
    pub key_created: bool,
}

/// What grant asks of the aws-auth editor.
pub struct GrantEntry<'a> {
    pub role: &'a RoleArnInput,
    pub entry: &'a awsauth::NewRoleEntry,
    pub force_update: bool,
}

/// Add (or with --force-update replace) the grant's entry. Refused when the text cannot be
/// read, when the role is mapped differently, or when the authenticator would ignore it.
pub fn grant(seen: &AwsAuthSeen, want: &GrantEntry<'_>) -> Result<AwsAuthGrant, Refusal> {
    let text = seen.map_roles();
    if want.force_update {
        ownership::check_forced_replace(text, &want.role.canonical)?;
    }
    let edit = match awsauth::upsert_role(text, want.entry, want.force_update) {
        Ok(edit) => edit,
        Err(awsauth::EditError::Conflict { existing, .. }) => {
            let proposed = awsauth::upsert_role(text, want.entry, true)
                .map(|forced| forced.new_text)
                .unwrap_or_else(|_| text.to_string());
            return Err(Refusal::AwsAuthConflict {
                role: want.role.canonical.to_string(),
                line: existing.line,
                diff: awsauth::unified_diff(
                    text,
                    &proposed,
                    "mapRoles (live)",
                    "mapRoles (with --force-update)",
                ),
            });
        }
        Err(awsauth::EditError::Parse(p)) => {
            return Err(Refusal::AwsAuthMalformed {
                line: p.line,
                column: p.column,
                message: p.message,
            });
        }
        Err(other) => {
            return Err(Refusal::AwsAuthEdit {
                reason: other.to_string(),
            });
        }
    };
    let (action, after) = match edit.action {
        awsauth::EditAction::Unchanged => (Action::Unchanged, None),
        awsauth::EditAction::Added if text.is_empty() => (Action::Created, Some(edit.new_text)),
        awsauth::EditAction::Added | awsauth::EditAction::Updated { .. } => {
            (Action::Updated, Some(edit.new_text))
        }
    };
    // The strict editor accepts a few texts aws-iam-authenticator drops whole (`%YAML 1.2`,
    // a `\/` escape, a NaN): an entry written there would never take effect.
    if let Some(p) = awsauth::read_map_roles(after.as_deref().unwrap_or(text)).error {
        return Err(Refusal::AwsAuthIgnored {
            line: p.line,
            column: p.column,
            message: p.message,
        });
    }
    let diff = match &after {
        Some(n) => awsauth::unified_diff(text, n, "mapRoles (before)", "mapRoles (after)"),
        None => String::new(),
    };
    Ok(AwsAuthGrant {
        action,
        before: text.to_string(),
        after,
        diff,
        replaced: matches!(edit.action, awsauth::EditAction::Updated { .. }),
        key_created: seen.map_roles.is_none(),
    })
}

/// What a revoke removes from mapRoles, and whether anything in aws-auth still maps the group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsAuthRemoval {
    /// The text to write; None with entries removed: remove the key we created.
    pub after: Option<String>,
    pub removed: Vec<awsauth::MapRoleEntry>,
    pub diff: String,
    /// Another aws-auth entry (mapRoles or mapUsers) maps the group, or a section cannot be
    /// read (keeping RBAC is the safe side).
    pub group_still_mapped: bool,
    /// Entries that were not what grant writes, removed because of the override.
    pub forced: Vec<String>,
}

/// What revoke removes and may remove: the entry grant would have written, and the override.
pub struct RevokeEntry<'a> {
    pub role: &'a RoleArnInput,
    pub username: &'a str,
    pub group: &'a str,
    pub force: bool,
}

/// Remove every entry about the role, if each is what grant writes (decision 6).
pub fn revoke(seen: &AwsAuthSeen, want: &RevokeEntry<'_>) -> Result<AwsAuthRemoval, Refusal> {
    let text = seen.map_roles();
    let removal = awsauth::remove_role(text, &want.role.canonical).map_err(|p| {
        Refusal::AwsAuthMalformed {
            line: p.line,
            column: p.column,
            message: p.message,
        }
    })?;
    let granted = ownership::GrantedEntry {
        role: &want.role.canonical,
        username: want.username,
        group: want.group,
    };
    ownership::check_removal(text, &removal.removed, &granted, want.force)?;
    let forced = removal
        .removed
        .iter()
        .filter_map(|e| match ownership::ownership(e, &granted) {
            ownership::Ownership::Foreign { differences } => Some(format!(
                "mapRoles line {} was not what grant writes ({}); removed because of {}",
                e.line,
                differences
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                ownership::OVERRIDE_FLAG
            )),
            _ => None,
        })
        .collect();
    let group_still_mapped =
        super::mapped::group_still_mapped(&removal.new_text, seen.map_users(), want.group)
            .unwrap_or(true);
    if removal.removed.is_empty() {
        return Ok(AwsAuthRemoval {
            after: None,
            removed: vec![],
            diff: String::new(),
            group_still_mapped,
            forced,
        });
    }
    let diff = awsauth::unified_diff(
        text,
        &removal.new_text,
        "mapRoles (before)",
        "mapRoles (after)",
    );
    // Removing the key we created leaves aws-auth exactly as it was before the grant.
    let after = if removal.new_text.is_empty() && seen.key_created_by_us {
        None
    } else {
        Some(removal.new_text)
    };
    Ok(AwsAuthRemoval {
        after,
        removed: removal.removed,
        diff,
        group_still_mapped,
        forced,
    })
}
