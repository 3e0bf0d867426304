//! Helpers shared by the integration tests: `mod support;` at the top of a file in `tests/`.
//!
//! Tests run against a real control plane (etcd + kube-apiserver, see docs/control-plane.md):
//! `support::control_plane()` gives the one shared by every test in the binary, and
//! `support::unique_name()` names the objects and namespaces a test creates, so tests that run
//! in parallel never touch each other's objects.
#![allow(dead_code, unused_imports)]

pub mod cluster;
mod control_plane;
pub mod moto;

pub use control_plane::{ControlPlane, control_plane, unique_name};
