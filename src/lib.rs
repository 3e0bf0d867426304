//! kubectl-chronom: grant, revoke and audit read-only access for an IAM role on EKS.
//!
//! Every decision is made by the pure core, the `chronom_core` crate (crates/chronom-core),
//! which never does I/O. This crate is the shell around it (docs/architecture.md): `cli` (the
//! clap contract), `commands` (dispatch, printing, the exit code), `flows` (what each command
//! does: observe, plan, check, write, verify), `adapters` (the API server and AWS) and
//! `report` (writing the core's renderings to stdout).

pub mod adapters;
pub mod cli;
pub mod commands;
pub mod flows;
pub mod report;
