//! kubectl-chronom: grant, revoke and audit read-only access for an IAM role on EKS.
//!
//! The pure core (ARNs, the aws-auth text, RBAC objects) never does I/O; the shell
//! modules (`connect`, the write flows) talk to the API server and call the core.

pub mod arn;
pub mod audit;
pub mod aws_auth_writer;
pub mod awsauth;
pub mod cli;
pub mod completion;
pub mod connect;
pub mod eks;
pub mod error;
pub mod grant;
pub mod inherited_access;
pub mod mapping;
pub mod outcome;
pub mod preflight;
pub mod rbac;
pub mod readonly_role;
pub mod report;
pub mod restore;
pub mod revoke;
pub mod verify;
