//! `audit --verify`: ask the live authorizer every allow/deny the report relies on, for every
//! active mapped identity, and list where our evaluator disagrees.

use k8s_openapi::api::authorization::v1::{NonResourceAttributes, ResourceAttributes};

use crate::adapters::kube::Connection;
use crate::adapters::kube::identity::review;
use chronom_core::audit::questions::{describe, questions};
use chronom_core::audit::report::{AuditReport, Mismatch, Verification, identity_of};
use chronom_core::error::UserError;
use chronom_core::rbac::{RbacSnapshot, Request};

fn attributes(q: &Request) -> (Option<ResourceAttributes>, Option<NonResourceAttributes>) {
    match q {
        Request::Resource(r) => (
            Some(ResourceAttributes {
                verb: Some(r.verb.clone()),
                group: Some(r.api_group.clone()),
                resource: Some(r.resource.clone()),
                subresource: r.subresource.clone(),
                name: r.name.clone(),
                namespace: r.namespace.clone(),
                ..Default::default()
            }),
            None,
        ),
        Request::NonResource(n) => (
            None,
            Some(NonResourceAttributes {
                verb: Some(n.verb.clone()),
                path: Some(n.path.clone()),
            }),
        ),
    }
}

pub(crate) async fn verify(
    conn: &Connection,
    report: &AuditReport,
    snapshot: &RbacSnapshot,
) -> Result<Verification, UserError> {
    let questions = questions();
    let mut queries = 0;
    let mut mismatches = Vec::new();
    for m in report.mappings.iter().filter(|m| m.mapping.active) {
        let identity = identity_of(&m.mapping);
        for q in &questions {
            let ours = snapshot.allows(&identity, q).allowed;
            let (res, non) = attributes(q);
            let server = review(
                conn,
                &identity.user,
                &identity.groups,
                res,
                non,
                &describe(q),
            )
            .await?;
            queries += 1;
            if ours != server {
                mismatches.push(Mismatch {
                    principal: m.mapping.principal.clone(),
                    user: identity.user.clone(),
                    groups: identity.groups.clone(),
                    request: describe(q),
                    ours,
                    server,
                });
            }
        }
    }
    Ok(Verification {
        queries,
        mismatches,
    })
}
