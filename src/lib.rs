//! kubectl-chronom: grant, revoke and audit read-only access for an IAM role on EKS.
//!
//! The pure core (ARNs, the aws-auth text, RBAC objects) is the `chronom_core` crate
//! (crates/chronom-core) and never does I/O; the shell modules here (`connect`, the write
//! flows) talk to the API server and call it.

pub mod adapters;
pub mod audit;
pub mod cli;
pub mod commands;
/// Pure diagnosis of a failed connection (moving to the core crate); the kube adapter that
/// connects is `adapters::kube`.
pub mod connect {
    pub mod diagnose;
}
/// EKS: the pure model (moving to the core crate) and the commands not yet in flows/; the AWS
/// calls are `adapters::aws`.
pub mod eks {
    pub mod access_policies;
    pub mod diagnosis;
    pub mod fleet;
    pub mod mapping_source;
    pub mod posture;
    pub mod token_cmd;
    pub mod via;
}
pub mod error;
pub mod grant;
pub mod outcome;
pub mod preflight;
pub mod report;
pub mod restore;
pub mod revoke;
pub mod verify;
