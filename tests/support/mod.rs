//! Helpers of the cluster tests (tests/cluster/main.rs mounts this file as `support`).
//!
//! Tests run against a real control plane (etcd + kube-apiserver, see docs/control-plane.md):
//! each test module has its own, `control_plane::for_module(module_path!())` behind the
//! module's `fn control_plane()`, and `support::unique_name()` names the objects and namespaces
//! a test creates, so tests that run in parallel never touch each other's objects.
//!
//! The offline target mounts offline.rs instead: the aws-auth oracle, moto.rs for its token
//! checks (it starts no moto server) and SplitMix64, but no kube client helper.
#![allow(dead_code, unused_imports)]

pub mod cluster;
pub mod control_plane;
pub mod moto;
pub mod names;
pub mod per_module;
pub mod splitmix;

pub use control_plane::{ControlPlane, unique_name};
