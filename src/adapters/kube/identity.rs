//! Who the API server thinks we are, and what it says we (or someone else) may do.

use k8s_openapi::api::authentication::v1::{SelfSubjectReview, SelfSubjectReviewStatus};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SelfSubjectAccessReview,
    SelfSubjectAccessReviewSpec, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use super::Connection;
use chronom_core::error::UserError;
use chronom_core::outcome::Caller;
use chronom_core::rbac::Request;

pub async fn whoami(conn: &Connection) -> Result<Caller, UserError> {
    let api: Api<SelfSubjectReview> = Api::all(conn.client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .map(|r| r.status.unwrap_or_default());
    match review {
        Ok(SelfSubjectReviewStatus {
            user_info: Some(info),
            ..
        }) => Ok(Caller {
            username: info.username.unwrap_or_default(),
            groups: info.groups.unwrap_or_default(),
        }),
        Ok(_) => Ok(Caller {
            username: "(unknown)".into(),
            groups: vec![],
        }),
        Err(e) => Err(conn.explain(e, "asking the API server who you are").await),
    }
}

/// The question as the server's access-review attributes: the one conversion from the core's
/// [`Request`] to a SubjectAccessReview's or SelfSubjectAccessReview's spec.
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

/// Ask whether the caller may do `q` (SelfSubjectAccessReview).
pub async fn can_i(conn: &Connection, q: &Request) -> Result<bool, UserError> {
    let api: Api<SelfSubjectAccessReview> = Api::all(conn.client.clone());
    let (resource_attributes, non_resource_attributes) = attributes(q);
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes,
            non_resource_attributes,
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &review).await {
        Ok(r) => Ok(r.status.map(|s| s.allowed).unwrap_or(false)),
        Err(e) => Err(conn
            .explain(e, &format!("checking whether you may {}", q.describe()))
            .await),
    }
}

/// Ask whether someone else may do `q`, as the authorizer would decide it
/// (SubjectAccessReview). `what` names the question in errors, in the caller's wording
/// (grant's [`Request::describe`], the audit's [`Request::describe_for_audit`]).
pub async fn can_they(
    conn: &Connection,
    user: &str,
    groups: &[String],
    q: &Request,
    what: &str,
) -> Result<bool, UserError> {
    let api: Api<SubjectAccessReview> = Api::all(conn.client.clone());
    let (resource_attributes, non_resource_attributes) = attributes(q);
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.into()),
            groups: Some(groups.to_vec()),
            resource_attributes,
            non_resource_attributes,
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &review).await {
        Ok(r) => Ok(r.status.map(|s| s.allowed).unwrap_or(false)),
        Err(e) => Err(conn
            .explain(e, &format!("asking whether {user} may {what}"))
            .await),
    }
}
