//! kubectl-chronom: grant, revoke and audit read-only access for an IAM role on EKS.
//!
//! The pure core (ARNs, the aws-auth text, RBAC objects) is the `chronom_core` crate
//! (crates/chronom-core) and never does I/O; the shell modules here (`connect`, the write
//! flows) talk to the API server and call it.

pub mod adapters;
/// The audit's pure parts (moving to the core crate); the audit flow is `flows::audit`.
pub mod audit {
    pub(crate) mod completeness;
    pub(crate) mod findings;
    pub mod inventory;
    pub mod manifests;
    pub mod report;
}
pub mod cli;
pub mod commands;
/// Pure diagnosis of a failed connection (moving to the core crate); the kube adapter that
/// connects is `adapters::kube`.
pub(crate) mod connect {
    pub(crate) mod diagnose;
}
/// EKS: the pure model (moving to the core crate) and the commands not yet in flows/; the AWS
/// calls are `adapters::aws`.
pub mod eks {
    pub(crate) mod access_policies;
    pub mod diagnosis;
    pub mod posture;
}
pub mod error;
pub mod flows;
pub mod outcome;
pub mod plan;
pub mod report;
