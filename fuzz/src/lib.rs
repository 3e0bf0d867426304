//! The fuzz targets' crate: the plugin's pure core, compiled from its own source files, and
//! what the targets need around it.
//!
//! `arn` and `awsauth` are `src/arn.rs` and `src/awsauth/` of the plugin, byte for byte; they
//! sit at this crate's root so their `crate::arn` paths resolve as in the plugin, and the
//! targets call them as `chronom_fuzz::arn::…` exactly where the plugin has `chronom::arn::…`.
//! If the core moves into a crate of its own, depend on it instead and drop these two lines.

#[allow(dead_code, unused_imports)]
#[path = "../../crates/chronom-core/src/arn.rs"]
pub mod arn;
#[allow(dead_code, unused_imports)]
#[path = "../../crates/chronom-core/src/awsauth/mod.rs"]
pub mod awsauth;

pub mod edit_input;
pub mod meaning;
