//! OIDC identity providers associated with an EKS cluster: a way into the cluster that no
//! aws-auth entry or access entry shows. Pure: the configurations in, what a token becomes and
//! the findings out.
//!
//! What a token becomes follows kube-apiserver's OIDC authenticator
//! (`k8s.io/apiserver/plugin/pkg/authenticator/token/oidc`), configured by EKS from the
//! association (botocore's `OidcIdentityProviderConfigRequest`):
//! - the username is the `usernameClaim` value (default `sub`) behind `usernamePrefix`; with no
//!   prefix given, a claim other than `email` gets `<issuerUrl>#`, and `-` turns prefixing off;
//! - the groups are the `groupsClaim` values (a string or a list), each behind `groupsPrefix`,
//!   which has no default: without one, the identity provider names Kubernetes groups
//!   directly, `system:masters` included (EKS only refuses a prefix that contains `system:`).
//!
//! So whoever can shape those claims (the IdP's administrators, and users where the IdP lets
//! them edit the attribute behind a claim) reaches every group and user the prefixes allow.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::audit::findings::{self, Finding};
use crate::rbac::{AccessSummary, Identity, RbacSnapshot};

/// One DescribeIdentityProviderConfig answer (type `oidc`). In JSON it also carries
/// `usernames` and `groups`: what a token becomes ([`OidcProvider::username_form`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(into = "OidcProviderJson")]
pub struct OidcProvider {
    pub name: String,
    pub issuer_url: String,
    pub client_id: String,
    pub username_claim: Option<String>,
    pub username_prefix: Option<String>,
    pub groups_claim: Option<String>,
    pub groups_prefix: Option<String>,
    pub required_claims: BTreeMap<String, String>,
    /// CREATING, DELETING or ACTIVE.
    pub status: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OidcProviderJson {
    #[serde(flatten)]
    config: OidcConfigJson,
    usernames: String,
    groups: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OidcConfigJson {
    name: String,
    issuer_url: String,
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username_claim: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups_claim: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups_prefix: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    required_claims: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

impl From<OidcProvider> for OidcProviderJson {
    fn from(p: OidcProvider) -> Self {
        let usernames = p.username_form();
        let groups = p.groups_form();
        OidcProviderJson {
            config: OidcConfigJson {
                name: p.name,
                issuer_url: p.issuer_url,
                client_id: p.client_id,
                username_claim: p.username_claim,
                username_prefix: p.username_prefix,
                groups_claim: p.groups_claim,
                groups_prefix: p.groups_prefix,
                required_claims: p.required_claims,
                status: p.status,
            },
            usernames,
            groups,
        }
    }
}

/// Where a prefix leaves a claim: the names a token can produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Any name at all: the claim is used as it is.
    Any,
    /// Only names starting with this prefix.
    Prefixed(String),
}

impl Reach {
    fn of(prefix: &str) -> Reach {
        if prefix.is_empty() {
            Reach::Any
        } else {
            Reach::Prefixed(prefix.to_string())
        }
    }

    pub fn allows(&self, name: &str) -> bool {
        match self {
            Reach::Any => true,
            Reach::Prefixed(p) => name.starts_with(p.as_str()),
        }
    }
}

impl OidcProvider {
    /// The claim the username comes from (`sub` unless configured).
    pub fn username_claim(&self) -> &str {
        self.username_claim
            .as_deref()
            .filter(|c| !c.is_empty())
            .unwrap_or("sub")
    }

    /// The prefix every username gets, as the API server applies it.
    pub fn effective_username_prefix(&self) -> String {
        match self.username_prefix.as_deref() {
            Some("-") => String::new(),
            Some(p) if !p.is_empty() => p.to_string(),
            _ if self.username_claim() == "email" => String::new(),
            _ => format!("{}#", self.issuer_url),
        }
    }

    /// The usernames a token can produce.
    pub fn usernames(&self) -> Reach {
        Reach::of(&self.effective_username_prefix())
    }

    /// The groups a token can produce; None when no groups claim is configured.
    pub fn groups(&self) -> Option<Reach> {
        self.groups_claim
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|_| Reach::of(self.groups_prefix.as_deref().unwrap_or_default()))
    }

    /// `PREFIX<claim>`, as the inventory shows what a username looks like.
    pub fn username_form(&self) -> String {
        format!(
            "{}<{}>",
            self.effective_username_prefix(),
            self.username_claim()
        )
    }

    /// `PREFIX<claim>` for groups, or `-` without a groups claim.
    pub fn groups_form(&self) -> String {
        match self.groups_claim.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => format!("{}<{c}>", self.groups_prefix.as_deref().unwrap_or_default()),
            None => "-".into(),
        }
    }

    fn subject(&self) -> String {
        format!("oidc/{} ({})", self.name, self.issuer_url)
    }
}

/// The bound groups and users with cluster-admin-equivalent rights (the privileged-group
/// authorizer's system:masters included), asked only for names a provider's prefixes let a
/// token reach, each once.
struct Privileged<'a> {
    snapshot: &'a RbacSnapshot,
    known: HashMap<(bool, String), bool>,
}

impl<'a> Privileged<'a> {
    fn new(snapshot: &'a RbacSnapshot) -> Self {
        Privileged {
            snapshot,
            known: HashMap::new(),
        }
    }

    fn admin(&mut self, group: bool, name: &str) -> bool {
        let snapshot = self.snapshot;
        *self
            .known
            .entry((group, name.to_string()))
            .or_insert_with(|| {
                let id = if group {
                    Identity::exact("", &[name])
                } else {
                    Identity::exact(name, &[])
                };
                snapshot.effective_summary(&id) == AccessSummary::ClusterAdmin
            })
    }

    /// Sorted: system:masters when `reach` allows it, and every bound group it allows that
    /// is cluster-admin-equivalent.
    fn groups(&mut self, reach: &Reach) -> Vec<String> {
        let names: Vec<String> = self
            .snapshot
            .group_names()
            .filter(|g| reach.allows(g))
            .map(String::from)
            .collect();
        let mut out: Vec<String> = names.into_iter().filter(|g| self.admin(true, g)).collect();
        let masters = crate::rbac::model::PRIVILEGED_GROUP;
        if reach.allows(masters) && !out.iter().any(|g| g == masters) {
            out.push(masters.to_string());
        }
        out.sort();
        out
    }

    /// Sorted: every bound username `keep` allows that is cluster-admin-equivalent.
    fn users(&mut self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let names: Vec<String> = self
            .snapshot
            .usernames_starting_with("")
            .filter(|u| keep(u))
            .map(String::from)
            .collect();
        let mut out: Vec<String> = names.into_iter().filter(|u| self.admin(false, u)).collect();
        out.sort();
        out
    }
}

fn list(names: &[String]) -> String {
    names.join(", ")
}

/// What each provider lets a token reach that is cluster-admin or more: CHR045 for a groups
/// claim without a prefix, CHR046 for usernames taken without a prefix, CHR047 for
/// privileged groups or users inside the prefixes.
pub fn findings(providers: &[OidcProvider], snapshot: &RbacSnapshot) -> Vec<Finding> {
    if providers.is_empty() {
        return Vec::new();
    }
    let mut privileged = Privileged::new(snapshot);
    let mut out = Vec::new();
    for p in providers {
        let subject = p.subject();
        let mut reached = Vec::new();
        match p.groups() {
            Some(Reach::Any) => {
                let named = privileged.groups(&Reach::Any);
                out.push(findings::finding(
                    findings::OIDC_GROUPS_UNPREFIXED,
                    &subject,
                    format!(
                        "groupsClaim {:?} has no groupsPrefix: a token's groups become Kubernetes groups as they are, so one naming system:masters is cluster-admin before RBAC; cluster-admin-equivalent groups it can name: {}",
                        p.groups_claim.as_deref().unwrap_or_default(),
                        list(&named)
                    ),
                ));
            }
            Some(reach) => {
                let named = privileged.groups(&reach);
                if !named.is_empty() {
                    reached.push(format!("groups {}", list(&named)));
                }
            }
            None => {}
        }
        let users = p.usernames();
        let claim = p.username_claim();
        match &users {
            Reach::Any => {
                // An email claim without a prefix is EKS's documented default; it reaches only
                // users named like an address. Any other claim can be any name, system: ones too.
                let named = privileged.users(|u| claim != "email" || u.contains('@'));
                if claim != "email" || !named.is_empty() {
                    out.push(findings::finding(
                        findings::OIDC_USERNAMES_UNPREFIXED,
                        &subject,
                        format!(
                            "usernames are the {claim:?} claim with no prefix (usernamePrefix {:?}): a token can name any user bound in the cluster; cluster-admin-equivalent users it can name: {}",
                            p.username_prefix.as_deref().unwrap_or("(not set)"),
                            if named.is_empty() { "none today".to_string() } else { list(&named) }
                        ),
                    ));
                }
            }
            Reach::Prefixed(_) => {
                let named = privileged.users(|u| users.allows(u));
                if !named.is_empty() {
                    reached.push(format!("users {}", list(&named)));
                }
            }
        }
        if !reached.is_empty() {
            out.push(findings::finding(
                findings::OIDC_REACHES_CLUSTER_ADMIN,
                &subject,
                format!(
                    "tokens of this provider can be {} (usernames {}, groups {}), which hold cluster-admin-equivalent rights",
                    reached.join(" and "),
                    p.username_form(),
                    p.groups_form()
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::RuleSource;

    fn provider(
        username: (Option<&str>, Option<&str>),
        groups: (Option<&str>, Option<&str>),
    ) -> OidcProvider {
        OidcProvider {
            name: "corp".into(),
            issuer_url: "https://idp.example.com".into(),
            client_id: "kubernetes".into(),
            username_claim: username.0.map(String::from),
            username_prefix: username.1.map(String::from),
            groups_claim: groups.0.map(String::from),
            groups_prefix: groups.1.map(String::from),
            status: Some("ACTIVE".into()),
            ..Default::default()
        }
    }

    /// cluster-admin bound to the groups `platform-admins` and `oidc:admins` and to the user
    /// `root@example.com`; view bound to `oidc:devs`.
    fn snapshot() -> RbacSnapshot {
        use crate::rbac::fixture::*;
        let objects = crate::rbac::RbacObjects {
            cluster_roles: vec![
                cluster_role(
                    "cluster-admin",
                    vec![
                        rule(&["*"], &["*"], &["*"], &[]),
                        non_resource_rule(&["*"], &["*"]),
                    ],
                ),
                cluster_role("view", vec![rule(&["get"], &[""], &["pods"], &[])]),
            ],
            cluster_role_bindings: vec![
                crb(
                    "admins",
                    "cluster-admin",
                    vec![
                        group("platform-admins"),
                        group("oidc:admins"),
                        user("root@example.com"),
                    ],
                ),
                crb("devs", "view", vec![group("oidc:devs")]),
            ],
            ..Default::default()
        };
        RbacSnapshot::new(objects, RuleSource::AsStored)
    }

    fn rules(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn what_a_token_becomes_follows_the_api_server() {
        let p = provider((None, None), (None, None));
        assert_eq!(p.username_form(), "https://idp.example.com#<sub>");
        assert_eq!(p.groups_form(), "-");
        assert_eq!(p.groups(), None);
        let p = provider((Some("email"), None), (Some("groups"), Some("oidc:")));
        assert_eq!(p.username_form(), "<email>");
        assert_eq!(p.usernames(), Reach::Any);
        assert_eq!(p.groups_form(), "oidc:<groups>");
        let p = provider((Some("name"), Some("-")), (Some("groups"), None));
        assert_eq!(p.usernames(), Reach::Any);
        assert_eq!(p.groups(), Some(Reach::Any));
        let p = provider((Some("name"), Some("corp:")), (None, None));
        assert_eq!(p.username_form(), "corp:<name>");
        assert!(p.usernames().allows("corp:alice") && !p.usernames().allows("alice"));
    }

    #[test]
    fn json_carries_the_config_and_what_a_token_becomes() {
        let mut p = provider((Some("email"), None), (Some("groups"), Some("oidc:")));
        p.required_claims.insert("hd".into(), "example.com".into());
        let j = serde_json::to_value(&p).unwrap();
        assert_eq!(j["issuerUrl"], "https://idp.example.com");
        assert_eq!(j["clientId"], "kubernetes");
        assert_eq!(j["usernameClaim"], "email");
        assert!(j.get("usernamePrefix").is_none());
        assert_eq!(j["groupsPrefix"], "oidc:");
        assert_eq!(j["requiredClaims"]["hd"], "example.com");
        assert_eq!(j["usernames"], "<email>");
        assert_eq!(j["groups"], "oidc:<groups>");
        assert_eq!(j["status"], "ACTIVE");
    }

    #[test]
    fn a_groups_claim_without_prefix_reaches_system_masters() {
        let f = findings(
            &[provider((None, None), (Some("groups"), None))],
            &snapshot(),
        );
        assert_eq!(rules(&f), [findings::OIDC_GROUPS_UNPREFIXED.id], "{f:#?}");
        assert_eq!(f[0].severity, findings::Severity::Critical);
        assert!(
            f[0].evidence.contains("system:masters")
                && f[0].evidence.contains("platform-admins")
                && f[0].evidence.contains("oidc:admins"),
            "{}",
            f[0].evidence
        );
        assert!(f[0].subject.contains("https://idp.example.com"));
    }

    #[test]
    fn a_prefix_limits_the_reach_to_the_groups_it_starts() {
        let f = findings(
            &[provider((None, None), (Some("groups"), Some("oidc:")))],
            &snapshot(),
        );
        assert_eq!(
            rules(&f),
            [findings::OIDC_REACHES_CLUSTER_ADMIN.id],
            "{f:#?}"
        );
        assert!(
            f[0].evidence.contains("groups oidc:admins"),
            "{}",
            f[0].evidence
        );
        assert!(!f[0].evidence.contains("platform-admins"));
        assert!(
            !f[0].evidence.contains("oidc:devs"),
            "view is not cluster-admin"
        );
        // A prefix no privileged group starts with: nothing to say.
        let f = findings(
            &[provider((None, None), (Some("groups"), Some("sso:")))],
            &snapshot(),
        );
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn usernames_without_prefix_can_name_any_user() {
        // usernamePrefix "-" on the sub claim: any name, system: ones included.
        let f = findings(&[provider((None, Some("-")), (None, None))], &snapshot());
        assert_eq!(rules(&f), [findings::OIDC_USERNAMES_UNPREFIXED.id]);
        assert!(
            f[0].evidence.contains("root@example.com"),
            "{}",
            f[0].evidence
        );
        // The email claim without a prefix (EKS's default) is raised only when a
        // cluster-admin user is named like an address.
        let f = findings(
            &[provider((Some("email"), None), (None, None))],
            &snapshot(),
        );
        assert_eq!(rules(&f), [findings::OIDC_USERNAMES_UNPREFIXED.id]);
        let none = findings(
            &[provider((Some("email"), None), (None, None))],
            &RbacSnapshot::new(Default::default(), RuleSource::AsStored),
        );
        assert!(none.is_empty(), "{none:#?}");
        // The default: sub behind issuer#, no groups claim: nothing reaches anything.
        assert!(findings(&[provider((None, None), (None, None))], &snapshot()).is_empty());
    }
}
