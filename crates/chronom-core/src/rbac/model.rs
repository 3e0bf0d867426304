//! Who asks (`Identity`), and the names of the things a decision points at: subjects,
//! bindings, roles and scopes.

use std::fmt;

use serde::Serialize;

/// Members of this group are allowed everything, before RBAC is consulted. This is not part of
/// the RBAC authorizer: kube-apiserver puts a privileged-group authorizer first in its chain
/// (`pkg/kubeapiserver/authorizer/reload.go`, `authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)`,
/// implemented in `staging/src/k8s.io/apiserver/pkg/authorization/authorizerfactory/builtin.go`).
pub const PRIVILEGED_GROUP: &str = "system:masters";
/// Added to every authenticated user by the authenticator chain.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
pub const ANONYMOUS_USER: &str = "system:anonymous";
pub const ALL_SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
pub const SERVICE_ACCOUNT_USERNAME_PREFIX: &str = "system:serviceaccount:";
pub const SERVICE_ACCOUNT_GROUP_PREFIX: &str = "system:serviceaccounts:";

/// `system:serviceaccount:<ns>:<name>` (MakeUsername in
/// `staging/src/k8s.io/apiserver/pkg/authentication/serviceaccount/util.go`).
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_USERNAME_PREFIX}{namespace}:{name}")
}

/// The inverse of [`service_account_username`]: exactly two non-empty parts after the prefix.
pub fn split_service_account_username(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SERVICE_ACCOUNT_USERNAME_PREFIX)?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

/// The user a request is authorized as.
///
/// RBAC matches only `user` and `groups`; `service_account` is informational (ServiceAccount
/// subjects are matched through the username, like serviceaccount.MatchesUsername does).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
    /// `(namespace, name)` when `user` is a ServiceAccount username.
    pub service_account: Option<(String, String)>,
}

impl Identity {
    /// Exactly these attributes, nothing added: what a SubjectAccessReview evaluates
    /// (`AuthorizationAttributesFrom` in `pkg/registry/authorization/util/helpers.go` copies
    /// `spec.user` and `spec.groups` verbatim, it does *not* add `system:authenticated`).
    pub fn exact(user: &str, groups: &[&str]) -> Self {
        Identity {
            user: user.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            service_account: split_service_account_username(user)
                .map(|(ns, n)| (ns.to_string(), n.to_string())),
        }
    }

    /// An authenticated user as the authenticator chain presents it: the given groups plus
    /// `system:authenticated`. (On EKS, an IAM role mapped in aws-auth becomes the mapped
    /// username with the mapped groups.)
    pub fn user(user: &str, groups: &[&str]) -> Self {
        let mut id = Self::exact(user, groups);
        id.add_group(AUTHENTICATED_GROUP);
        id
    }

    /// A ServiceAccount token's user: `system:serviceaccount:<ns>:<name>` in
    /// `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Identity {
            user: service_account_username(namespace, name),
            groups: vec![
                ALL_SERVICE_ACCOUNTS_GROUP.to_string(),
                format!("{SERVICE_ACCOUNT_GROUP_PREFIX}{namespace}"),
                AUTHENTICATED_GROUP.to_string(),
            ],
            service_account: Some((namespace.to_string(), name.to_string())),
        }
    }

    /// The anonymous user (`system:anonymous` in `system:unauthenticated`).
    pub fn anonymous() -> Self {
        Self::exact(ANONYMOUS_USER, &[UNAUTHENTICATED_GROUP])
    }

    pub fn add_group(&mut self, group: &str) {
        if !self.groups.iter().any(|g| g == group) {
            self.groups.push(group.to_string());
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Whether the privileged-group authorizer allows this identity everything.
    pub fn is_privileged(&self) -> bool {
        self.in_group(PRIVILEGED_GROUP)
    }
}

/// The three subject kinds RBAC understands. Kinds are compared case-sensitively, and a
/// subject's `apiGroup` is not consulted when matching (appliesToUser in
/// `pkg/registry/rbac/validation/rule.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum SubjectKind {
    User,
    Group,
    ServiceAccount,
}

impl SubjectKind {
    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "User" => Some(SubjectKind::User),
            "Group" => Some(SubjectKind::Group),
            "ServiceAccount" => Some(SubjectKind::ServiceAccount),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "User",
            SubjectKind::Group => "Group",
            SubjectKind::ServiceAccount => "ServiceAccount",
        }
    }
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subject as a binding names it, with a ServiceAccount's namespace already defaulted to the
/// RoleBinding's namespace when the subject left it empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SubjectRef {
    pub kind: SubjectKind,
    pub name: String,
    /// Only for ServiceAccounts.
    pub namespace: Option<String>,
}

impl SubjectRef {
    pub fn user(name: &str) -> Self {
        SubjectRef {
            kind: SubjectKind::User,
            name: name.to_string(),
            namespace: None,
        }
    }
    pub fn group(name: &str) -> Self {
        SubjectRef {
            kind: SubjectKind::Group,
            name: name.to_string(),
            namespace: None,
        }
    }
    pub fn service_account(namespace: &str, name: &str) -> Self {
        SubjectRef {
            kind: SubjectKind::ServiceAccount,
            name: name.to_string(),
            namespace: Some(namespace.to_string()),
        }
    }

    /// `ns:name` (the rbac-lookup form) or a full `system:serviceaccount:ns:name` username.
    pub fn parse_service_account(text: &str) -> Option<Self> {
        if let Some((ns, name)) = split_service_account_username(text) {
            return Some(Self::service_account(ns, name));
        }
        let (ns, name) = text.split_once(':')?;
        (!ns.is_empty() && !name.is_empty() && !name.contains(':'))
            .then(|| Self::service_account(ns, name))
    }

    /// The username RBAC compares against for User and ServiceAccount subjects; `None` for groups.
    pub fn username(&self) -> Option<String> {
        match self.kind {
            SubjectKind::User => Some(self.name.clone()),
            SubjectKind::ServiceAccount => self
                .namespace
                .as_deref()
                .map(|ns| service_account_username(ns, &self.name)),
            SubjectKind::Group => None,
        }
    }
}

impl fmt::Display for SubjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}:{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum BindingKind {
    ClusterRoleBinding,
    RoleBinding,
}

/// A ClusterRoleBinding (`namespace: None`) or a RoleBinding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct BindingRef {
    pub kind: BindingKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for BindingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{:?}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{:?}/{}", self.kind, self.name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RoleKind {
    ClusterRole,
    Role,
}

/// A ClusterRole (`namespace: None`) or a Role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RoleId {
    pub kind: RoleKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl RoleId {
    pub fn cluster_role(name: &str) -> Self {
        RoleId {
            kind: RoleKind::ClusterRole,
            namespace: None,
            name: name.to_string(),
        }
    }
    pub fn role(namespace: &str, name: &str) -> Self {
        RoleId {
            kind: RoleKind::Role,
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for RoleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{:?}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{:?}/{}", self.kind, self.name),
        }
    }
}

/// Where a grant applies: everywhere (a ClusterRoleBinding) or in one namespace (a RoleBinding).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    Cluster,
    Namespace(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Cluster => f.write_str("cluster-wide"),
            Scope::Namespace(ns) => f.write_str(ns),
        }
    }
}

/// Which bindings a query considers; shared by who-can, grants and lookups.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueryScope {
    /// One namespace: ClusterRoleBindings plus the RoleBindings of that namespace.
    Namespace(String),
    /// Every namespace: ClusterRoleBindings plus every RoleBinding, each reported with its own scope.
    AllNamespaces,
    /// Cluster-wide only: ClusterRoleBindings. The right scope for cluster-scoped resources and
    /// for "in all namespaces at once" (a list across namespaces).
    ClusterScoped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        let u = Identity::user("alice", &["dev", "system:authenticated"]);
        assert_eq!(u.groups, vec!["dev", "system:authenticated"]);
        assert_eq!(u.service_account, None);
        let sa = Identity::service_account("kube-system", "builder");
        assert_eq!(sa.user, "system:serviceaccount:kube-system:builder");
        assert!(sa.in_group("system:serviceaccounts"));
        assert!(sa.in_group("system:serviceaccounts:kube-system"));
        assert!(sa.in_group("system:authenticated"));
        let exact = Identity::exact("system:serviceaccount:a:b", &[]);
        assert_eq!(exact.service_account, Some(("a".into(), "b".into())));
        assert!(exact.groups.is_empty());
        assert!(Identity::exact("x", &["system:masters"]).is_privileged());
        assert_eq!(Identity::anonymous().groups, vec!["system:unauthenticated"]);
    }

    #[test]
    fn service_account_names() {
        assert_eq!(
            split_service_account_username("system:serviceaccount:ns:n"),
            Some(("ns", "n"))
        );
        assert_eq!(
            split_service_account_username("system:serviceaccount:ns"),
            None
        );
        assert_eq!(
            split_service_account_username("system:serviceaccount:a:b:c"),
            None
        );
        assert_eq!(
            SubjectRef::parse_service_account("ns:n"),
            Some(SubjectRef::service_account("ns", "n"))
        );
        assert_eq!(
            SubjectRef::parse_service_account("system:serviceaccount:ns:n"),
            Some(SubjectRef::service_account("ns", "n"))
        );
        assert_eq!(SubjectRef::parse_service_account("nocolon"), None);
        assert_eq!(
            SubjectRef::service_account("a", "b").username().as_deref(),
            Some("system:serviceaccount:a:b")
        );
    }
}
