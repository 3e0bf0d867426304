//! The helpers of the offline tests (tests/offline/main.rs mounts this file as `support`; the
//! cluster target mounts mod.rs): no control plane and no kube client helper is compiled there.

#![allow(dead_code)] // moto.rs: the token checks are used offline, the moto server is not

#[path = "awsauth_oracle.rs"]
pub mod awsauth_oracle;
#[path = "moto.rs"]
pub mod moto;
#[path = "per_module.rs"]
mod per_module;
#[path = "splitmix.rs"]
pub mod splitmix;
