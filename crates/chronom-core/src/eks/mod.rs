//! The EKS model: a cluster's facts and authentication mode (posture), access entries and
//! their decisions, access policies as RBAC, who used a cluster recently, and why a cluster
//! could not be used (diagnosis). The AWS calls are the binary's `eks`.

pub mod access_entry;
pub mod access_policies;
pub mod diagnosis;
pub mod mapping_source;
pub mod oidc;
pub mod pod_roles;
pub mod posture;
pub mod recent_use;
pub mod regions;
