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

/// One right, phrased as the server's ResourceAttributes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Right {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Right {
    pub fn new(verb: &str, group: &str, resource: &str) -> Self {
        Self {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: None,
            name: None,
        }
    }

    pub fn in_namespace(mut self, ns: &str) -> Self {
        self.namespace = Some(ns.into());
        self
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }

    fn attributes(&self) -> ResourceAttributes {
        let (resource, subresource) = match self.resource.split_once('/') {
            Some((r, s)) => (r.to_string(), Some(s.to_string())),
            None => (self.resource.clone(), None),
        };
        ResourceAttributes {
            verb: Some(self.verb.clone()),
            group: Some(self.group.clone()),
            resource: Some(resource),
            subresource,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            ..Default::default()
        }
    }

    /// `verb resource[.group][/name] [-n ns]`, as a user would type it to kubectl auth can-i.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}", self.verb, self.resource);
        if !self.group.is_empty() {
            s = format!("{} {}.{}", self.verb, self.resource, self.group);
        }
        if let Some(n) = &self.name {
            s.push('/');
            s.push_str(n);
        }
        match &self.namespace {
            Some(ns) => s.push_str(&format!(" in namespace {ns}")),
            None => s.push_str(" (cluster-wide)"),
        }
        s
    }
}

/// Ask whether the caller has a right (SelfSubjectAccessReview).
pub async fn can_i(conn: &Connection, right: &Right) -> Result<bool, UserError> {
    let api: Api<SelfSubjectAccessReview> = Api::all(conn.client.clone());
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(right.attributes()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &review).await {
        Ok(r) => Ok(r.status.map(|s| s.allowed).unwrap_or(false)),
        Err(e) => Err(conn
            .explain(e, &format!("checking whether you may {}", right.describe()))
            .await),
    }
}

/// Ask whether someone else has a right (SubjectAccessReview), as the authorizer would decide it.
pub async fn can_they(
    conn: &Connection,
    user: &str,
    groups: &[String],
    right: &Right,
) -> Result<bool, UserError> {
    review(
        conn,
        user,
        groups,
        Some(right.attributes()),
        None,
        &right.describe(),
    )
    .await
}

/// One SubjectAccessReview for a resource or a non-resource request. `what` names it in errors.
pub async fn review(
    conn: &Connection,
    user: &str,
    groups: &[String],
    resource: Option<ResourceAttributes>,
    non_resource: Option<NonResourceAttributes>,
    what: &str,
) -> Result<bool, UserError> {
    let api: Api<SubjectAccessReview> = Api::all(conn.client.clone());
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.into()),
            groups: Some(groups.to_vec()),
            resource_attributes: resource,
            non_resource_attributes: non_resource,
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
