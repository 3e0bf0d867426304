//! `audit --verify`: ask the live authorizer every allow/deny the report relies on, for every
//! active mapped identity, and list where our evaluator disagrees.
//!
//! The questions are asked once per class of mappings whose answers are provably identical
//! (`chronom_core::audit::review_classes`), several at a time; each mapping's own evaluator
//! answer is then compared with its class's server answer, so every mapping keeps its verdict.

use crate::adapters::kube::Connection;
use crate::adapters::kube::identity::can_they;
use crate::adapters::parallel::bounded_map;
use chronom_core::audit::questions::questions;
use chronom_core::audit::report::{
    AuditReport, Mismatch, Verification, VerifiedClass, identity_of,
};
use chronom_core::audit::review_classes::review_classes;
use chronom_core::error::UserError;
use chronom_core::rbac::{Identity, RbacSnapshot};

/// Reviews in flight at once: enough to hide the round trip, few enough not to load the API
/// server (its default max-requests-inflight is 400, shared with every other client).
const PARALLEL_REVIEWS: usize = 16;

pub(crate) async fn verify(
    conn: &Connection,
    report: &AuditReport,
    snapshot: &RbacSnapshot,
) -> Result<Verification, UserError> {
    let questions = questions();
    let active: Vec<_> = report
        .mappings
        .iter()
        .filter(|m| m.mapping.active)
        .collect();
    let identities: Vec<Identity> = active.iter().map(|m| identity_of(&m.mapping)).collect();
    let classes = review_classes(&identities, snapshot);

    let asks: Vec<(usize, usize)> = (0..classes.len())
        .flat_map(|c| (0..questions.len()).map(move |q| (c, q)))
        .collect();
    let reviews = asks.len();
    let answers = bounded_map(asks, PARALLEL_REVIEWS, |(c, q)| {
        let conn = conn.clone();
        let identity = classes[c].identity.clone();
        let question = questions[q].clone();
        async move {
            let request = question.describe_for_audit();
            can_they(&conn, &identity.user, &identity.groups, &question, &request).await
        }
    })
    .await;
    // server[class][question]; the first failure, in the order asked, fails the run.
    let mut server: Vec<Vec<bool>> = vec![Vec::with_capacity(questions.len()); classes.len()];
    for (i, answer) in answers.into_iter().enumerate() {
        server[i / questions.len()].push(answer?);
    }
    let mut class_of = vec![0; identities.len()];
    for (c, class) in classes.iter().enumerate() {
        for &m in &class.members {
            class_of[m] = c;
        }
    }

    let mut queries = 0;
    let mut mismatches = Vec::new();
    for (i, (m, identity)) in active.iter().zip(&identities).enumerate() {
        for (q, question) in questions.iter().enumerate() {
            let ours = snapshot.allows(identity, question).allowed;
            let server = server[class_of[i]][q];
            queries += 1;
            if ours != server {
                mismatches.push(Mismatch {
                    principal: m.mapping.principal.clone(),
                    user: identity.user.clone(),
                    groups: identity.groups.clone(),
                    request: question.describe_for_audit(),
                    ours,
                    server,
                });
            }
        }
    }
    Ok(Verification {
        queries,
        mismatches,
        reviews,
        classes: classes
            .iter()
            .map(|c| VerifiedClass {
                user: c.identity.user.clone(),
                groups: c.identity.groups.clone(),
                mappings: c.members.len(),
            })
            .collect(),
    })
}
