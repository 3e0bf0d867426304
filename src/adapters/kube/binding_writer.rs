//! Writing the shared ClusterRoleBinding with optimistic concurrency: read, decide (purely,
//! in `chronom_core::plan::binding`), write with the resourceVersion read, and on a 409 or 404 read
//! again. Grant's add, grant's rollback and revoke's release all go through [`update`].

use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use crate::adapters::kube::Connection;
use chronom_core::action::Action;
use chronom_core::error::UserError;
use chronom_core::plan::binding::{self, BindingStep};
use chronom_core::readonly_role as ro;

/// What to do with the binding as just read, and what to return once it is done.
pub enum Next<T> {
    Done(T),
    Create(ClusterRoleBinding, T),
    /// Write this (the live object, changed: it carries the resourceVersion read).
    Replace(ClusterRoleBinding, T),
    Delete(Preconditions, T),
}

const ATTEMPTS: usize = 10;

/// Read binding `name`, ask `decide`, write; a conflicting writer (409) or a binding gone
/// meanwhile (404) means read and decide again. `doing` names the change for errors.
/// Returns the decision's result and the binding the server wrote (create or replace).
pub async fn update<T>(
    conn: &Connection,
    name: &str,
    doing: &str,
    mut decide: impl FnMut(Option<ClusterRoleBinding>) -> Result<Next<T>, UserError>,
) -> Result<(T, Option<ClusterRoleBinding>), UserError> {
    let api: Api<ClusterRoleBinding> = Api::all(conn.client.clone());
    let post = PostParams {
        field_manager: Some(ro::FIELD_MANAGER.into()),
        ..Default::default()
    };
    for _ in 0..ATTEMPTS {
        let live = conn.get_opt(&api, name, "clusterrolebinding").await?;
        let (written, result) = match decide(live)? {
            Next::Done(result) => return Ok((result, None)),
            Next::Create(b, result) => (api.create(&post, &b).await.map(Some), result),
            Next::Replace(b, result) => (api.replace(name, &post, &b).await.map(Some), result),
            Next::Delete(preconditions, result) => {
                let params = DeleteParams {
                    preconditions: Some(preconditions),
                    ..Default::default()
                };
                (api.delete(name, &params).await.map(|_| None), result)
            }
        };
        match written {
            Ok(written) => return Ok((result, written)),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => continue,
            Err(e) => return Err(conn.explain(e, doing).await),
        }
    }
    Err(UserError::failed(
        format!("clusterrolebinding {name} kept changing while {doing}"),
        "another tool is rewriting that binding in a loop; stop it, then re-run",
    ))
}

/// Take `group` out of our binding `name`: when no subject would be left and `may_delete`
/// allows it, delete the binding (preconditioned on the uid and resourceVersion read), else
/// write it back without the group. A binding without our label is left alone.
/// Returns `absent` (gone already), `kept` (not ours), `unchanged` (the group is not bound),
/// `deleted` or `updated`.
pub async fn release(
    conn: &Connection,
    name: &str,
    group: &str,
    may_delete: impl Fn(&ClusterRoleBinding) -> bool,
) -> Result<Action, UserError> {
    let doing = format!("removing group {group} from clusterrolebinding {name}");
    let (action, _) = update(conn, name, &doing, |live| {
        let Some(mut live) = live else {
            return Ok(Next::Done(Action::Absent));
        };
        if !ro::is_managed(&live.metadata) {
            return Ok(Next::Done(Action::Kept));
        }
        let remaining = match binding::leave(&live, group) {
            BindingStep::Absent | BindingStep::Kept => return Ok(Next::Done(Action::Unchanged)),
            BindingStep::Delete if may_delete(&live) => {
                let preconditions = Preconditions {
                    uid: live.metadata.uid.clone(),
                    resource_version: live.metadata.resource_version.clone(),
                };
                return Ok(Next::Delete(preconditions, Action::Deleted));
            }
            BindingStep::Delete => vec![],
            BindingStep::RemoveSubject { remaining } => remaining,
        };
        live.subjects = Some(remaining);
        Ok(Next::Replace(live, Action::Updated))
    })
    .await?;
    Ok(action)
}
