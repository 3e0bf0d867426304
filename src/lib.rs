//! kubectl-chronom: grant, revoke and audit read-only access for an IAM role on EKS.
//!
//! The pure core (ARNs, the aws-auth text, RBAC objects) never does I/O; the shell
//! modules (`connect`, the write flows) talk to the API server and call the core.

pub mod arn;
pub mod awsauth;
pub mod rbac;
pub mod cli;
pub mod connect;
pub mod error;
pub mod readonly_role;
pub mod aws_auth_writer;
pub mod grant;
pub mod outcome;
pub mod preflight;
pub mod test_hook;
pub mod verify;
pub mod report;
pub mod revoke;
pub mod completion;
pub mod audit;
pub mod restore;
pub mod eks;
