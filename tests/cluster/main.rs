//! The integration tests that run against a real control plane (etcd + kube-apiserver, built
//! and started by scripts/control-plane; docs/control-plane.md). One test binary, so the kube
//! and AWS stack is linked once; `cargo test --test cluster grant_revoke::` runs one module.
//!
//! Each module was its own test binary and keeps what it owned then: its own control plane
//! (its `fn control_plane()`), moto server and plugin state dir, started on first use and
//! stopped when the process exits (support::control_plane, support::per_module). Its turn-taking
//! locks are statics of the module, so they order its own tests only, as before.

#[path = "../support/mod.rs"]
mod support;

mod audit_completeness;
mod audit_differential;
mod audit_hostile_awsauth;
mod aws_auth_managers;
mod backups;
mod connect_errors;
mod control_plane;
mod eks_access_entries;
mod eks_moto;
mod fleet_scale;
mod grant_revoke;
mod irsa;
mod preflight_rights;
mod principals;
mod readonly_profiles;
mod reliability;
mod revoke_ownership;
