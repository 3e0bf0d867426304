//! RBAC model, indexes and an evaluator that agrees with the Kubernetes RBAC authorizer.
//!
//! Pure: objects in, decisions out. The reference is kubernetes v1.37.2:
//! `plugin/pkg/auth/authorizer/rbac/rbac.go`, `pkg/apis/rbac/v1/evaluation_helpers.go`,
//! `pkg/registry/rbac/validation/rule.go` and `pkg/controller/clusterroleaggregation`.
//! Each module says which part it follows.

pub mod aggregate;
pub mod capability;
pub mod catalog;
pub mod evaluator;
#[cfg(test)]
pub(crate) mod fixture;
pub mod index;
pub mod lookup;
pub mod model;
pub mod namespace_pattern;
pub mod node;
pub mod request;
pub mod rule;
pub mod summary;
pub mod well_formed;
pub mod who_can;

pub use aggregate::{AggregationIssue, RuleSource, aggregate_cluster_roles};
pub use capability::{CapabilityCheck, CapabilityHit, Placement, Probe, dangerous_capabilities};
pub use catalog::{ResourceCatalog, ResourceInfo};
pub use evaluator::{Decision, Grant};
pub use index::{DanglingBinding, DanglingReason, InertSubject, RbacObjects, RbacSnapshot};
pub use lookup::{LookupRow, lookup, lookup_identity, lookup_matching, lookup_users_and_groups};
pub use model::{
    BindingKind, BindingRef, Identity, QueryScope, RoleId, RoleKind, Scope, SubjectKind, SubjectRef,
};
pub use request::{
    NonResourceRequest, Request, RequestParseError, ResourceRequest, parse_request,
    parse_verb_target,
};
pub use summary::{AccessSummary, summarize};
pub use who_can::{WhoCanRow, WhoCanScope, who_can};
