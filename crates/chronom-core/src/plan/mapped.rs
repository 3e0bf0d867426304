//! Whether anything else still maps a group: the one answer grant's rollback and revoke use
//! before they take a group's RBAC away.

use crate::awsauth;

/// Whether an aws-auth entry (`mapRoles` or `mapUsers`, read strictly) maps `group`:
/// Some(true/false), or None when either section does not parse. Callers keep the RBAC
/// objects on None: removing what another entry relies on is the unsafe side.
pub fn group_still_mapped(map_roles: &str, map_users: &str, group: &str) -> Option<bool> {
    let roles = awsauth::parse_map_roles(map_roles)
        .ok()
        .map(|e| e.iter().any(|e| e.groups.iter().any(|g| g == group)));
    let users = awsauth::parse_map_users(map_users)
        .ok()
        .map(|e| e.iter().any(|e| e.groups.iter().any(|g| g == group)));
    match (roles, users) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE_G: &str =
        "- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n  groups:\n  - g\n";
    const USER_G: &str =
        "- userarn: arn:aws:iam::111122223333:user/u\n  username: u\n  groups:\n  - g\n";

    #[test]
    fn either_section_maps_the_group() {
        assert_eq!(group_still_mapped(ROLE_G, "", "g"), Some(true));
        // grant's rollback used to read mapRoles only: a mapUsers entry now keeps the RBAC too.
        assert_eq!(group_still_mapped("", USER_G, "g"), Some(true));
        assert_eq!(group_still_mapped(ROLE_G, USER_G, "other"), Some(false));
        assert_eq!(group_still_mapped("", "", "g"), Some(false));
    }

    #[test]
    fn an_unreadable_section_cannot_tell_unless_the_other_maps_it() {
        assert_eq!(group_still_mapped("- [", "", "g"), None);
        assert_eq!(group_still_mapped("", "- [", "g"), None);
        assert_eq!(group_still_mapped(ROLE_G, "- [", "g"), Some(true));
    }
}
