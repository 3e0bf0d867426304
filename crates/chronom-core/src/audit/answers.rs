//! The answers of `audit who-can` and `audit lookup`: the peers' questions, answered purely
//! from an RBAC snapshot and the mappings, with the IAM principals behind each subject. The
//! reading and printing is in `queries`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::inventory::{Mapping, MappingSource};
use super::principals::{self, IamAnswer};
use super::produced::{LiteralEnds, bound_usernames, literal_ends, mapping_produces};
use super::report::identity_of;
use crate::arn::{self, PrincipalArn};
use crate::error::UserError;
use crate::rbac::{self, Identity, QueryScope, RbacSnapshot, Request, SubjectKind, SubjectRef};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoCanAnswer {
    /// IAM principals (ARNs, or accounts) whose mapping reaches the subject; empty when none.
    pub principals: Vec<String>,
    /// `Kind/name` (ServiceAccounts `ServiceAccount/ns:name`).
    pub subject: String,
    /// `binding -> role`, or `system:masters` for the privileged group.
    pub via: String,
    pub scope: String,
    /// Principals of `principals` IAM says are gone (`dangling`, `dead-entry`) or were
    /// re-created since their mapping's userid (`re-created`); only when IAM was asked
    /// (docs/principals.md).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub principal_marks: std::collections::BTreeMap<String, &'static str>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LookupAnswer {
    pub principal: Option<String>,
    pub subject: String,
    pub scope: String,
    pub role: String,
    pub binding: String,
    pub rules: Vec<String>,
    /// `dangling`, `dead-entry` or `re-created` when the principal's IAM check says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_mark: Option<&'static str>,
}

/// The active mappings whose identity is, or is in, a subject, for many subjects of one set of
/// mappings: the principals of each group are collected once, so a who-can answer costs a
/// lookup per row rather than a pass over every mapping (thousands of rows times thousands of
/// mappings on a large cluster).
pub struct PrincipalIndex<'a> {
    /// The active mappings with the literal ends of their usernames, worked out once: who-can
    /// asks for each User row (48 at 16x) against every mapping (1,700).
    users: Vec<(LiteralEnds<'a>, &'a Mapping)>,
    by_group: HashMap<&'a str, Vec<String>>,
    /// Every active mapping's principal: the members of system:authenticated.
    authenticated: Vec<String>,
}

impl<'a> PrincipalIndex<'a> {
    pub fn new(mappings: &'a [Mapping]) -> Self {
        let mut by_group: HashMap<&str, Vec<String>> = HashMap::new();
        let mut authenticated = Vec::new();
        let mut users = Vec::new();
        for m in mappings.iter().filter(|m| m.active) {
            users.push((literal_ends(m), m));
            authenticated.push(m.principal.clone());
            for g in &m.groups {
                by_group
                    .entry(g.as_str())
                    .or_default()
                    .push(m.principal.clone());
            }
        }
        for list in by_group
            .values_mut()
            .chain(std::iter::once(&mut authenticated))
        {
            list.sort();
            list.dedup();
        }
        PrincipalIndex {
            users,
            by_group,
            authenticated,
        }
    }

    /// The principals whose identity is, or is in, this subject, sorted.
    pub fn principals(&self, kind: SubjectKind, name: &str) -> Vec<String> {
        match kind {
            SubjectKind::Group if name == rbac::model::AUTHENTICATED_GROUP => {
                self.authenticated.clone()
            }
            SubjectKind::Group => self.by_group.get(name).cloned().unwrap_or_default(),
            // Usernames are templates: matched per mapping, the literal ends first.
            SubjectKind::User => {
                let mut out: Vec<String> = self
                    .users
                    .iter()
                    .filter(|(ends, m)| ends.fit(name) && mapping_produces(m, None, name))
                    .map(|(_, m)| m.principal.clone())
                    .collect();
                out.sort();
                out.dedup();
                out
            }
            SubjectKind::ServiceAccount => Vec::new(),
        }
    }
}

fn subject_text(kind: SubjectKind, name: &str, ns: Option<&str>) -> String {
    match ns {
        Some(ns) => format!("{kind}/{ns}:{name}"),
        None => format!("{kind}/{name}"),
    }
}

pub fn answer_who_can(
    snapshot: &RbacSnapshot,
    mappings: &[Mapping],
    request: &Request,
    scope: &QueryScope,
) -> Vec<WhoCanAnswer> {
    let index = PrincipalIndex::new(mappings);
    let mut out: Vec<WhoCanAnswer> = rbac::who_can(snapshot, request, scope)
        .into_iter()
        .map(|row| {
            let via = match (&row.via_binding, &row.via_role) {
                (Some(b), Some(r)) => format!("{b} -> {r}"),
                _ => "system:masters (bypasses RBAC)".into(),
            };
            WhoCanAnswer {
                principals: index.principals(row.subject_kind, &row.subject_name),
                subject: subject_text(
                    row.subject_kind,
                    &row.subject_name,
                    row.subject_namespace.as_deref(),
                ),
                via,
                scope: row.scope.to_string(),
                principal_marks: Default::default(),
            }
        })
        .collect();
    if let Some(via) = rbac::node::reach(request).describe() {
        out.push(WhoCanAnswer {
            principals: node_principals(mappings),
            subject: subject_text(SubjectKind::Group, NODES_GROUP, None),
            via: via.to_string(),
            // The Node authorizer is not scoped by namespace.
            scope: rbac::Scope::Cluster.to_string(),
            principal_marks: Default::default(),
        });
    }
    out.sort_by(|a, b| {
        (a.scope.as_str(), a.subject.as_str(), a.via.as_str()).cmp(&(
            b.scope.as_str(),
            b.subject.as_str(),
            b.via.as_str(),
        ))
    });
    out.dedup_by(|a, b| a.subject == b.subject && a.via == b.via && a.scope == b.scope);
    out
}

const NODES_GROUP: &str = "system:nodes";

/// The principals mapped to node identities (`system:node:...` in `system:nodes`), the only
/// ones the Node authorizer answers for.
fn node_principals(mappings: &[Mapping]) -> Vec<String> {
    let mut out: Vec<String> = mappings
        .iter()
        .filter(|m| m.active && is_node_identity(&identity_of(m)))
        .map(|m| m.principal.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn is_node_identity(id: &Identity) -> bool {
    rbac::node::node_identity(id).is_some_and(|n| !n.is_empty())
}

/// What lookup says besides its rows, which are RBAC bindings: for each node identity among
/// the targets, that the Node authorizer lets it do more than they show (kubelets' rights come
/// from it; the `system:node` ClusterRole is bound to no one on current clusters).
pub fn lookup_notes(targets: &[(Option<String>, LookupTarget)]) -> Vec<String> {
    let mut out = Vec::new();
    for (principal, target) in targets {
        let user = match target {
            LookupTarget::Identity(id) => is_node_identity(id).then(|| id.user.clone()),
            LookupTarget::Mapped {
                identity, mapping, ..
            } => is_node_identity(identity).then(|| mapping.username.clone()),
            LookupTarget::Named(_) => None,
        };
        let Some(user) = user else { continue };
        let who = match principal {
            Some(p) => format!("{p} maps to the node identity {user} (in system:nodes)"),
            None => format!("{user} is a node identity (in system:nodes)"),
        };
        out.push(format!(
            "{who}: besides the RBAC bindings listed, the Node authorizer (not RBAC) lets every node {}; each node its own Node, Lease and CSINode; and each node the secrets, configmaps, volumes, resource claims, service account tokens and pods of the pods bound to it",
            NODE_RULES_IN_WORDS
        ));
    }
    out
}

/// `bootstrappolicy.NodeRules()` (rbac::node::node_rules) in a few words.
/// Only what the authorizer grants every node: its subdivided resources (nodes, pods, secrets,
/// leases...) are said apart.
const NODE_RULES_IN_WORDS: &str = "read services, endpoints, CSI drivers, runtime classes and cluster trust bundles; create and update nodes and their status; create and delete (mirror) pods, update pod status and create evictions; write events; create and read CSRs; create token and access reviews";

/// The identities a lookup subject stands for: one per mapping for an IAM ARN, else one.
pub fn lookup_targets(
    subject: &str,
    mappings: &[Mapping],
) -> Result<Vec<(Option<String>, LookupTarget)>, UserError> {
    if subject.starts_with("arn:") {
        let principal = arn::parse_principal_arn(subject).map_err(|e| {
            UserError::usage(
                format!("{subject:?} is not an IAM principal ARN: {e}"),
                "pass an IAM role, assumed-role or user ARN",
            )
        })?;
        let hits: Vec<&Mapping> = mappings
            .iter()
            .filter(|m| m.active)
            .filter(|m| match (&principal, m.source) {
                (
                    PrincipalArn::Role { role, .. } | PrincipalArn::AssumedRole { role, .. },
                    MappingSource::MapRoles,
                ) => role.authenticator_matches(&m.principal),
                (PrincipalArn::User(u), MappingSource::MapUsers) => {
                    arn::go_equal_fold(&u.to_string(), &m.principal)
                }
                (p, MappingSource::MapAccounts) => p.account() == m.principal,
                (p, MappingSource::AccessEntry) => crate::mapping::entry_matches(p, &m.principal),
                _ => false,
            })
            .collect();
        let session = match &principal {
            PrincipalArn::AssumedRole { session, .. } => Some(session.clone()),
            _ => None,
        };
        return Ok(hits
            .into_iter()
            .map(|m| {
                (
                    Some(m.principal.clone()),
                    LookupTarget::Mapped {
                        identity: identity_of(m),
                        mapping: Box::new(m.clone()),
                        session: session.clone(),
                    },
                )
            })
            .collect());
    }
    if let Some(sa) = SubjectRef::parse_service_account(subject)
        && (!subject.starts_with("system:") || subject.starts_with("system:serviceaccount:"))
    {
        let ns = sa.namespace.clone().unwrap_or_default();
        return Ok(vec![(
            None,
            LookupTarget::Identity(Identity::service_account(&ns, &sa.name)),
        )]);
    }
    Ok(vec![(None, LookupTarget::Named(subject.to_string()))])
}

pub enum LookupTarget {
    /// Everything that applies to an identity: its user, its groups, system:authenticated.
    Identity(Identity),
    /// A mapping's identity, plus the bindings of every username its template can produce
    /// for callers of that session (any session when `None`): `dev:{{SessionName}}` is reached
    /// by a binding to `dev:alice`.
    Mapped {
        identity: Identity,
        mapping: Box<Mapping>,
        session: Option<String>,
    },
    /// A bare name: bindings naming it as a User or as a Group, as rbac-lookup shows them.
    Named(String),
}

pub fn answer_lookup(
    snapshot: &RbacSnapshot,
    targets: &[(Option<String>, LookupTarget)],
) -> Vec<LookupAnswer> {
    let mut out = Vec::new();
    for (principal, target) in targets {
        let rows = match target {
            LookupTarget::Identity(id) => rbac::lookup_identity(snapshot, id),
            LookupTarget::Mapped {
                identity,
                mapping,
                session,
            } => {
                // The identity's own username is a sample (`dev:chronom-verify`): what reaches
                // the user side is the usernames this session can really be given.
                let users = bound_usernames(mapping, session.as_deref(), snapshot);
                rbac::lookup_users_and_groups(snapshot, &users, &identity.groups)
            }
            LookupTarget::Named(name) => {
                let mut rows = rbac::lookup(snapshot, &SubjectRef::user(name));
                rows.extend(rbac::lookup(snapshot, &SubjectRef::group(name)));
                rows
            }
        };
        for r in rows {
            out.push(LookupAnswer {
                principal: principal.clone(),
                subject: r.subject.to_string(),
                scope: r.scope.to_string(),
                role: r.role.to_string(),
                binding: r.binding.to_string(),
                rules: super::report::rule_lines(snapshot.role_rules(&r.role)),
                principal_mark: None,
            });
        }
    }
    out
}

/// Marks the who-can rows whose principals IAM says are gone or re-created.
pub fn mark_who_can(
    rows: &mut [WhoCanAnswer],
    mappings: &[Mapping],
    answers: &BTreeMap<String, IamAnswer>,
) {
    for row in rows {
        for p in &row.principals {
            if let Some(m) = principals::mark_of(p, mappings, answers) {
                row.principal_marks.insert(p.clone(), m);
            }
        }
    }
}

/// Marks the lookup rows whose principal IAM says is gone or re-created.
pub fn mark_lookup(
    rows: &mut [LookupAnswer],
    mappings: &[Mapping],
    answers: &BTreeMap<String, IamAnswer>,
) {
    for row in rows {
        row.principal_mark = row
            .principal
            .as_deref()
            .and_then(|p| principals::mark_of(p, mappings, answers));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::inventory;
    use crate::awsauth::template::{self, Caller, Session};

    #[test]
    fn templates_match_usernames() {
        // Any session of a role whose account the entry does not say.
        let template_matches = |template: &str, username: &str| {
            template::can_produce(
                template,
                &Caller {
                    account_id: None,
                    session: Session::Any,
                },
                username,
            )
        };
        assert!(template_matches("chronom:{{SessionName}}", "chronom:alice"));
        assert!(!template_matches("chronom:{{SessionName}}", "chronom:"));
        assert!(!template_matches("chronom:{{SessionName}}", "other:alice"));
        assert!(template_matches(
            "system:node:{{EC2PrivateDNSName}}",
            "system:node:ip-10-0-0-1.ec2.internal"
        ));
        assert!(template_matches("plain", "plain"));
        assert!(!template_matches("plain", "plainer"));
        assert!(template_matches(
            "{{AccountID}}-{{SessionName}}",
            "111122223333-bob"
        ));
    }

    /// The straightforward answer the index must give: a pass over every mapping per subject.
    fn principals_for(mappings: &[Mapping], kind: SubjectKind, name: &str) -> Vec<String> {
        let mut out: Vec<String> = mappings
            .iter()
            .filter(|m| m.active)
            .filter(|m| match kind {
                SubjectKind::Group => {
                    name == rbac::model::AUTHENTICATED_GROUP || m.groups.iter().any(|g| g == name)
                }
                SubjectKind::User => mapping_produces(m, None, name),
                SubjectKind::ServiceAccount => false,
            })
            .map(|m| m.principal.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn the_principal_index_answers_as_principals_for() {
        let data = std::collections::BTreeMap::from([
            (
                "mapRoles".to_string(),
                "- rolearn: arn:aws:iam::111122223333:role/a\n  username: dev:{{SessionName}}\n  groups: [devs, ops]\n\
                 - rolearn: arn:aws:iam::111122223333:role/b\n  username: b\n  groups: [devs]\n\
                 - rolearn: arn:aws:iam::111122223333:role/b\n  username: b2\n  groups: [ops, ops]\n\
                 - rolearn: arn:aws:iam::111122223333:role/c\n  groups: [devs]\n"
                    .to_string(),
            ),
            ("mapAccounts".to_string(), "- \"444455556666\"\n".to_string()),
        ]);
        let inv = inventory::from_aws_auth(&data);
        assert!(
            inv.mappings.iter().any(|m| !m.active),
            "the fixture has a shadowed entry"
        );
        let index = PrincipalIndex::new(&inv.mappings);
        let subjects = [
            (SubjectKind::Group, "devs"),
            (SubjectKind::Group, "ops"),
            (SubjectKind::Group, "nobody"),
            (SubjectKind::Group, rbac::model::AUTHENTICATED_GROUP),
            (SubjectKind::User, "dev:alice"),
            (SubjectKind::User, "b"),
            (SubjectKind::User, "b2"),
            (SubjectKind::User, "arn:aws:iam::111122223333:role/c"),
            (SubjectKind::User, "arn:aws:iam::444455556666:role/x"),
            (SubjectKind::ServiceAccount, "default"),
        ];
        for (kind, name) in subjects {
            assert_eq!(
                index.principals(kind, name),
                principals_for(&inv.mappings, kind, name),
                "{kind} {name}"
            );
        }
        assert_eq!(
            index.principals(SubjectKind::Group, "ops"),
            [
                "arn:aws:iam::111122223333:role/a",
                "arn:aws:iam::111122223333:role/b"
            ]
        );
        assert_eq!(
            index
                .principals(SubjectKind::Group, rbac::model::AUTHENTICATED_GROUP)
                .len(),
            4,
            "a, b, c and the account"
        );
    }

    const NODE_ROLE: &str =
        "arn:aws:iam::111122223333:role/eksctl-demo-nodegroup-NodeInstanceRole-1ABCDEF";

    fn node_fixture() -> (RbacSnapshot, Vec<Mapping>) {
        use crate::audit::manifests::ClusterState;
        let mut s = ClusterState::default();
        s.add_text(
            "aws-auth.yaml",
            include_str!("../../../../tests/fixtures/audit/aws-auth.yaml"),
        )
        .unwrap();
        s.add_text(
            "rbac.yaml",
            include_str!("../../../../tests/fixtures/audit/rbac.yaml"),
        )
        .unwrap();
        let snapshot = super::super::report::snapshot_of(&s, rbac::RuleSource::AsStored);
        (snapshot, inventory::from_aws_auth(&s.aws_auth).mappings)
    }

    fn who_can(verb: &str, resource: &str, ns: Option<&str>) -> Vec<WhoCanAnswer> {
        let (snapshot, mappings) = node_fixture();
        let catalog = rbac::ResourceCatalog::builtin();
        let mut request = rbac::parse_verb_target(verb, resource, &catalog).unwrap();
        let scope = match ns {
            Some(ns) => {
                if let Request::Resource(r) = &mut request {
                    r.namespace = Some(ns.to_string());
                }
                QueryScope::Namespace(ns.to_string())
            }
            None => QueryScope::ClusterScoped,
        };
        answer_who_can(&snapshot, &mappings, &request, &scope)
    }

    fn node_row(rows: &[WhoCanAnswer]) -> Option<&WhoCanAnswer> {
        rows.iter().find(|r| r.via.starts_with("Node authorizer"))
    }

    #[test]
    fn who_can_names_the_node_authorizer_where_it_answers() {
        let rows = who_can("get", "secrets", Some("apps"));
        let node = node_row(&rows).expect("secrets of a node's pods");
        assert_eq!(node.subject, "Group/system:nodes");
        assert_eq!(node.principals, [NODE_ROLE], "the node group's role");
        assert_eq!(node.scope, "cluster-wide");
        assert!(
            node.via.contains("objects of the pods bound to it"),
            "{node:?}"
        );

        let rows = who_can("list", "services", Some("apps"));
        assert!(
            node_row(&rows).unwrap().via.contains("every node"),
            "{rows:?}"
        );
        let rows = who_can("get", "nodes", None);
        assert!(
            node_row(&rows).unwrap().via.contains("its own Node"),
            "{rows:?}"
        );

        for (verb, resource, ns) in [
            ("get", "clusterroles", None),
            ("create", "pods/exec", Some("apps")),
            ("delete", "secrets", Some("apps")),
            ("get", "/metrics", None),
        ] {
            assert!(
                node_row(&who_can(verb, resource, ns)).is_none(),
                "{verb} {resource}: the Node authorizer has no opinion"
            );
        }
    }

    #[test]
    fn lookup_of_a_node_role_notes_the_node_authorizer() {
        let (snapshot, mappings) = node_fixture();
        let targets = lookup_targets(NODE_ROLE, &mappings).unwrap();
        let notes = lookup_notes(&targets);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with(&format!(
                "{NODE_ROLE} maps to the node identity system:node:{{{{EC2PrivateDNSName}}}} (in system:nodes)"
            )) && notes[0].contains("Node authorizer (not RBAC)"),
            "{notes:?}"
        );
        // The rows stay the RBAC bindings, as the audit report lists them.
        assert!(
            answer_lookup(&snapshot, &targets)
                .iter()
                .all(|r| r.role != "Node authorizer")
        );
        for subject in ["arn:aws:iam::111122223333:role/chronom-scanner", "ops"] {
            let targets = lookup_targets(subject, &mappings).unwrap();
            assert!(lookup_notes(&targets).is_empty(), "{subject}");
        }
        let named = lookup_targets("system:node:ip-10-0-0-1", &mappings).unwrap();
        assert!(lookup_notes(&named).is_empty(), "a bare name has no groups");
    }

    #[test]
    fn who_can_and_lookup_rows_are_marked_by_what_iam_said() {
        use crate::audit::principals::fixture::*;
        let m = aws_auth(
            &format!(
                "{}{}{}",
                role(ADMIN, "g", None),
                role(DEV, "g", Some("AROAOLD")),
                role("arn:aws:iam::111122223333:role/fine", "g", None)
            ),
            "",
        );
        let answers = BTreeMap::from([
            (key(ADMIN), IamAnswer::Missing),
            (key(DEV), exists(DEV, "AROANEW", NOW, None)),
            (
                key("arn:aws:iam::111122223333:role/fine"),
                exists("x", "AROAF", NOW, None),
            ),
        ]);
        let mut rows = vec![WhoCanAnswer {
            principals: vec![
                ADMIN.into(),
                DEV.into(),
                "arn:aws:iam::111122223333:role/fine".into(),
            ],
            subject: "Group/g".into(),
            via: "b -> r".into(),
            scope: "cluster-wide".into(),
            principal_marks: Default::default(),
        }];
        mark_who_can(&mut rows, &m, &answers);
        assert_eq!(
            rows[0].principal_marks,
            BTreeMap::from([
                (ADMIN.to_string(), "dangling"),
                (DEV.to_string(), "re-created")
            ])
        );
        let mut lookup = vec![LookupAnswer {
            principal: Some(ADMIN.into()),
            subject: "Group/g".into(),
            scope: "cluster-wide".into(),
            role: "ClusterRole/r".into(),
            binding: "ClusterRoleBinding/b".into(),
            rules: vec![],
            principal_mark: None,
        }];
        mark_lookup(&mut lookup, &m, &answers);
        assert_eq!(lookup[0].principal_mark, Some("dangling"));
        mark_lookup(&mut lookup, &m, &BTreeMap::new());
        assert_eq!(lookup[0].principal_mark, None, "not checked is no mark");
    }
}
