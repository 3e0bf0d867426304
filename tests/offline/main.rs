//! The integration tests that need no control plane: the plugin offline (files, fixtures),
//! property and oracle tests of the pure core, the fuzz seeds, the EKS token (its snapshot and
//! the authenticator's checks), and the release archive against krew. One test binary;
//! `cargo test --test offline rbac_eval::` runs one module.

#[path = "../support/offline.rs"]
mod support;

mod audit_offline;
mod awsauth_cases;
mod awsauth_oracle;
mod awsauth_props;
mod conventions;
mod distribution;
mod eks_token;
mod eks_ways_in;
mod fuzz_seeds;
mod rbac_eval;

// --- the fuzz crate's paths, at this crate's root ---------------------------------------------
// fuzz_seeds compiles the fuzz targets as they are; they name `chronom_fuzz::…` and
// `libfuzzer_sys::…`, and fuzz/src's files name `crate::arn`, so those paths must start at the
// root of this crate (see fuzz_seeds' module documentation).

extern crate self as chronom_fuzz;
extern crate self as libfuzzer_sys;

pub use ::arbitrary;
pub use chronom_core::{arn, awsauth};
pub use fuzz_seeds::{edit_input, meaning};
