//! The audit's model: who maps to what (inventory), the findings catalogue and its rules, what
//! could not be read (completeness), the report document (`-o json` schema 3), and the
//! answers of who-can and lookup. Reading the cluster and printing are the binary's `audit`.

pub mod answers;
pub mod completeness;
pub mod findings;
pub mod fleet;
pub mod inventory;
pub mod manifests;
pub mod page_proto;
pub mod page_stream;
pub mod principals;
pub mod produced;
pub mod questions;
pub mod report;
pub mod review_classes;
pub mod trimmed;
