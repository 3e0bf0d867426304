//! What `restore-aws-auth` decides about a backup: it may hold at most what the API server lets
//! a ConfigMap hold, so a wrong path (`/dev/zero`, a disk image) is refused after a bounded read
//! instead of filling memory; and what putting it back would drop or overwrite.

use std::collections::BTreeMap;

/// The API server refuses a ConfigMap whose keys and values together pass 1 MiB
/// (`ValidateConfigMap`, `core.MaxSecretSize`).
pub const MAX_DATA_BYTES: usize = 1 << 20;

/// The most of a backup file read: a 1 MiB ConfigMap as YAML, with its metadata and any
/// quoting and escaping the YAML writer adds, stays well under it.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// The size the API server counts: every key and value of `data`.
pub fn data_bytes(data: &BTreeMap<String, String>) -> usize {
    data.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Why `data` cannot be written back, if it cannot.
pub fn check_data(data: &BTreeMap<String, String>) -> Result<(), String> {
    let n = data_bytes(data);
    if n > MAX_DATA_BYTES {
        return Err(format!(
            "its data is {n} bytes, more than the {MAX_DATA_BYTES} (1 MiB) a ConfigMap may hold"
        ));
    }
    Ok(())
}

/// One mapping of aws-auth, as `restore-aws-auth` names it when it would drop it.
fn mappings(data: &BTreeMap<String, String>) -> Vec<String> {
    let text = |key: &str| data.get(key).map(String::as_str).unwrap_or("");
    let describe = |section: &str, arn: &str, user: &Option<String>, groups: &[String]| {
        let mut s = format!("{section} {arn}");
        if let Some(u) = user {
            s.push_str(&format!(" as {u}"));
        }
        if !groups.is_empty() {
            s.push_str(&format!(" in [{}]", groups.join(", ")));
        }
        s
    };
    let mut out: Vec<String> = super::read_map_roles(text("mapRoles"))
        .entries
        .iter()
        .map(|e| describe("mapRoles", &e.rolearn, &e.username, &e.groups))
        .collect();
    out.extend(
        super::read_map_users(text("mapUsers"))
            .entries
            .iter()
            .map(|e| describe("mapUsers", &e.userarn, &e.username, &e.groups)),
    );
    out.extend(
        super::read_map_accounts(text("mapAccounts"))
            .entries
            .iter()
            .map(|a| format!("mapAccounts {}", a.account)),
    );
    out
}

/// What putting `backup` back over `live` would do that the user should hear before it
/// happens.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestoreCheck {
    /// Mappings live now that the backup lacks (added since it was taken): the restore drops them.
    pub lost: Vec<String>,
    /// The backup is of another aws-auth object (its uid differs from the live one's): the
    /// ConfigMap was deleted and made again since, by someone who may have meant what it holds.
    pub other_object: Option<(String, String)>,
}

/// Compare the live aws-auth (`None` when there is none) with a backup; `uid`s are
/// `metadata.uid`, absent in a hand-written backup.
pub fn check_restore(
    live: Option<(&BTreeMap<String, String>, Option<&str>)>,
    backup: &BTreeMap<String, String>,
    backup_uid: Option<&str>,
) -> RestoreCheck {
    let Some((live, live_uid)) = live else {
        return RestoreCheck::default();
    };
    let kept = mappings(backup);
    let lost = mappings(live)
        .into_iter()
        .filter(|m| !kept.contains(m))
        .collect();
    let other_object = match (live_uid, backup_uid) {
        (Some(l), Some(b)) if l != b => Some((b.to_string(), l.to_string())),
        _ => None,
    };
    RestoreCheck { lost, other_object }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(map_roles: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("mapRoles".to_string(), map_roles.to_string())])
    }

    const NODE: &str = "- rolearn: arn:aws:iam::1:role/node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n";
    const ADDED: &str =
        "- rolearn: arn:aws:iam::1:role/added\n  username: added\n  groups: [team]\n";

    #[test]
    fn a_restore_names_each_mapping_added_since_the_backup() {
        let backup = data(NODE);
        let mut live = data(&format!("{NODE}{ADDED}"));
        live.insert(
            "mapUsers".into(),
            "- userarn: arn:aws:iam::1:user/alice\n  username: alice\n".into(),
        );
        let c = check_restore(Some((&live, Some("u1"))), &backup, Some("u1"));
        assert_eq!(
            c.lost,
            [
                "mapRoles arn:aws:iam::1:role/added as added in [team]",
                "mapUsers arn:aws:iam::1:user/alice as alice"
            ]
        );
        assert_eq!(c.other_object, None);
        // Going forward (the backup holds more than live) loses nothing.
        let c = check_restore(Some((&backup, Some("u1"))), &live, Some("u1"));
        assert!(c.lost.is_empty(), "{c:?}");
        // A changed entry counts as lost in its live form.
        let changed = data(&NODE.replace("system:nodes", "system:masters"));
        let c = check_restore(Some((&changed, None)), &backup, None);
        assert_eq!(c.lost.len(), 1, "{c:?}");
        assert!(c.lost[0].contains("system:masters"), "{c:?}");
    }

    #[test]
    fn a_backup_of_another_object_is_named_with_both_uids() {
        let d = data(NODE);
        let c = check_restore(Some((&d, Some("new"))), &d, Some("old"));
        assert_eq!(c.other_object, Some(("old".into(), "new".into())));
        // No uid on one side (a hand-written backup), or no live object: nothing to compare.
        assert_eq!(
            check_restore(Some((&d, Some("new"))), &d, None).other_object,
            None
        );
        assert_eq!(
            check_restore(None, &d, Some("old")),
            RestoreCheck::default()
        );
    }

    #[test]
    fn the_limit_counts_keys_and_values_as_the_api_server_does() {
        let at = |n: usize| BTreeMap::from([("mapRoles".to_string(), "x".repeat(n - 8))]);
        assert_eq!(data_bytes(&at(MAX_DATA_BYTES)), MAX_DATA_BYTES);
        assert!(check_data(&at(MAX_DATA_BYTES)).is_ok());
        let err = check_data(&at(MAX_DATA_BYTES + 1)).unwrap_err();
        assert!(
            err.contains("1048577 bytes") && err.contains("1 MiB"),
            "{err}"
        );
        assert!(check_data(&BTreeMap::new()).is_ok());
    }
}
