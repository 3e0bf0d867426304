//! The unique names of one grant (role ARN, group, ClusterRole) and the plugin arguments that
//! name them, for the tests of grant and revoke.

use super::control_plane::unique_name;

/// A grant's names: the role ARN, the group it maps to, the ClusterRole (and binding) name.
pub struct Names {
    pub arn: String,
    pub group: String,
    pub role: String,
}

/// Names no other test uses: `<prefix>-<random>` as the role's name, `…-group`, `…-role`.
pub fn names(prefix: &str) -> Names {
    let id = unique_name(prefix);
    Names {
        arn: arn(&id),
        group: format!("{id}-group"),
        role: format!("{id}-role"),
    }
}

/// The ARN of the role `name` (no path) in the seed's account.
pub fn arn(name: &str) -> String {
    format!("arn:aws:iam::111122223333:role/{name}")
}

impl Names {
    /// The username grant writes by default: the role's name, without its path.
    pub fn user(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or_default()
    }

    /// `<command> --role-arn <arn> --group <group> --role-name <role> <extra…>`.
    pub fn args<'a>(&'a self, command: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            command,
            "--role-arn",
            &self.arn,
            "--group",
            &self.group,
            "--role-name",
            &self.role,
        ];
        args.extend_from_slice(extra);
        args
    }
}
