//! The fuzz targets' crate: the plugin's pure core, compiled from its own source files, and
//! what the targets need around it.
//!
//! `arn` and `awsauth` are `crates/chronom-core/src/arn.rs` and `.../awsauth/` of the core,
//! byte for byte; they sit at this crate's root so their `crate::arn` paths resolve as in the
//! core, and the targets call them as `chronom_fuzz::arn::…` exactly where the plugin has
//! `chronom_core::arn::…`. Not a path dependency on `chronom-core`: that crate also holds the
//! RBAC model, so it would bring k8s-openapi into the ASan build (measured: 7 min 50 s against
//! 1 min 20 s for these two modules, docs/fuzzing.md) for code no target reaches.

#[allow(dead_code, unused_imports)]
#[path = "../../crates/chronom-core/src/arn.rs"]
pub mod arn;
#[allow(dead_code, unused_imports)]
#[path = "../../crates/chronom-core/src/awsauth/mod.rs"]
pub mod awsauth;

pub mod edit_input;
pub mod meaning;
