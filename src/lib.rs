//! kubectl-chronom: grant, revoke and audit read-only access for an IAM role on EKS.
//!
//! The pure core (ARNs, the aws-auth text, RBAC objects) is the `chronom_core` crate
//! (crates/chronom-core) and never does I/O; the shell modules here (`connect`, the write
//! flows) talk to the API server and call it.

pub mod audit;
pub mod aws_auth_writer;
pub mod cli;
pub mod completion;
pub mod connect;
pub mod eks;
pub mod grant;
pub mod preflight;
pub mod report;
pub mod restore;
pub mod revoke;
pub mod verify;
