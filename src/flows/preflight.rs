//! Before any write: ask the server whether the caller has exactly the rights this run
//! needs, so a denied run fails up front and changes nothing.

use crate::adapters::kube::Connection;
use crate::adapters::kube::identity::can_i;
use crate::adapters::parallel::bounded_map;
use chronom_core::action::Action;
use chronom_core::error::UserError;
use chronom_core::outcome::Caller;
use chronom_core::plan::escalation::{self, CallerRights, EscalationRefusal};
use chronom_core::plan::grant::GrantPlan;
use chronom_core::rbac::{Request, ResourceRequest};

/// The rights `grant` needs. Whether aws-auth exists decides update vs create.
pub(crate) fn for_grant(aws_auth_exists: bool, role_name: &str) -> Vec<ResourceRequest> {
    let rbac = "rbac.authorization.k8s.io";
    let mut rights = vec![
        ResourceRequest::new("create", rbac, "clusterroles"),
        ResourceRequest::new("patch", rbac, "clusterroles").name(role_name),
        ResourceRequest::new("create", rbac, "clusterrolebindings"),
        ResourceRequest::new("patch", rbac, "clusterrolebindings").name(role_name),
        ResourceRequest::new("get", "", "configmaps")
            .namespace("kube-system")
            .name("aws-auth"),
    ];
    rights.push(if aws_auth_exists {
        ResourceRequest::new("update", "", "configmaps")
            .namespace("kube-system")
            .name("aws-auth")
    } else {
        ResourceRequest::new("create", "", "configmaps").namespace("kube-system")
    });
    rights.push(ResourceRequest::new(
        "create",
        "authorization.k8s.io",
        "subjectaccessreviews",
    ));
    rights
}

/// The rights `revoke` needs.
pub(crate) fn for_revoke(delete_rbac: bool, role_name: &str) -> Vec<ResourceRequest> {
    let rbac = "rbac.authorization.k8s.io";
    let mut rights = vec![
        ResourceRequest::new("get", "", "configmaps")
            .namespace("kube-system")
            .name("aws-auth"),
        ResourceRequest::new("update", "", "configmaps")
            .namespace("kube-system")
            .name("aws-auth"),
    ];
    if delete_rbac {
        // The binding may be shared: revoke takes its group out (update) and deletes it only
        // when no subject is left; the role goes only if no other binding refers to it (list).
        rights.push(ResourceRequest::new("update", rbac, "clusterrolebindings").name(role_name));
        rights.push(ResourceRequest::new("list", rbac, "clusterrolebindings"));
        rights.push(ResourceRequest::new("delete", rbac, "clusterrolebindings").name(role_name));
        rights.push(ResourceRequest::new("delete", rbac, "clusterroles").name(role_name));
        rights.push(ResourceRequest::new(
            "create",
            "authorization.k8s.io",
            "subjectaccessreviews",
        ));
    }
    rights
}

/// The rights the caller lacks (empty when all are granted).
pub(crate) async fn missing(
    conn: &Connection,
    rights: &[ResourceRequest],
) -> Result<Vec<ResourceRequest>, UserError> {
    let mut denied = Vec::new();
    for right in rights {
        if !can_i(conn, &Request::from(right.clone())).await? {
            denied.push(right.clone());
        }
    }
    Ok(denied)
}

/// Reviews in flight at once while asking about each right of the role.
const PARALLEL_REVIEWS: usize = 16;

/// Whether the API server's escalation checks would refuse the role or binding write `plan`
/// makes (`chronom_core::plan::escalation`). The role's rights are asked about only when
/// `escalate` or `bind` is missing, since holding them all is then the other way through.
pub(crate) async fn escalation(
    conn: &Connection,
    plan: &GrantPlan,
) -> Result<Option<EscalationRefusal>, UserError> {
    let writes_role = plan.role_action != Action::Unchanged;
    let writes_binding = plan.binding_action != Action::Unchanged;
    if !writes_role && !writes_binding {
        return Ok(None);
    }
    let name = &plan.request.role_name;
    let mut caller = CallerRights {
        may_escalate: !writes_role
            || can_i(conn, &Request::from(escalation::escalate(name))).await?,
        may_bind: !writes_binding || can_i(conn, &Request::from(escalation::bind(name))).await?,
        not_held: None,
    };
    if !(caller.may_escalate && caller.may_bind) {
        let rights = escalation::rights_of(&plan.role);
        let held = bounded_map(rights.clone(), PARALLEL_REVIEWS, |right| {
            let conn = conn.clone();
            async move { can_i(&conn, &right).await }
        })
        .await;
        let mut not_held = Vec::new();
        for (right, held) in rights.into_iter().zip(held) {
            if !held? {
                not_held.push(right);
            }
        }
        caller.not_held = Some(not_held);
    }
    Ok(escalation::check(
        name,
        writes_role,
        writes_binding,
        &caller,
    ))
}

pub(crate) fn denied_error(
    denied: &[ResourceRequest],
    caller: &Caller,
    context: &str,
) -> UserError {
    let list: Vec<String> = denied
        .iter()
        .map(|r| format!("    - {}", r.describe()))
        .collect();
    UserError::failed(
        format!(
            "you lack {} right(s) this run needs, so nothing was changed.\n  The API server knows you as {} (context {context}).\n  Missing:\n{}",
            denied.len(),
            caller.describe(),
            list.join("\n")
        ),
        "ask a cluster admin to grant these rights, or use a context with cluster-admin rights (--context)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_asks_for_create_only_when_aws_auth_is_absent() {
        let absent = for_grant(false, "r");
        assert!(
            absent
                .iter()
                .any(|r| r.verb == "create" && r.resource == "configmaps" && r.name.is_none())
        );
        assert!(!absent.iter().any(|r| r.verb == "update"));
        let present = for_grant(true, "r");
        assert!(
            present
                .iter()
                .any(|r| r.verb == "update" && r.name.as_deref() == Some("aws-auth"))
        );
        assert!(
            !present
                .iter()
                .any(|r| r.verb == "create" && r.resource == "configmaps")
        );
    }

    #[test]
    fn keep_rbac_needs_no_delete() {
        assert!(!for_revoke(false, "r").iter().any(|r| r.verb == "delete"));
        assert_eq!(
            for_revoke(true, "r")
                .iter()
                .filter(|r| r.verb == "delete")
                .count(),
            2
        );
    }
}
