//! `audit --verify`: ask the live authorizer every allow/deny the report relies on, for every
//! active mapped identity, and list where our evaluator disagrees.

use crate::adapters::kube::Connection;
use crate::adapters::kube::identity::can_they;
use chronom_core::audit::questions::questions;
use chronom_core::audit::report::{AuditReport, Mismatch, Verification, identity_of};
use chronom_core::error::UserError;
use chronom_core::rbac::RbacSnapshot;

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
            let request = q.describe_for_audit();
            let server = can_they(conn, &identity.user, &identity.groups, q, &request).await?;
            queries += 1;
            if ours != server {
                mismatches.push(Mismatch {
                    principal: m.mapping.principal.clone(),
                    user: identity.user.clone(),
                    groups: identity.groups.clone(),
                    request,
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
