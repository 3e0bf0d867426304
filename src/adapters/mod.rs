//! I/O only: the Kubernetes API server (`kube`) and AWS (`aws`). Adapters call the pure core
//! and never the flows or the commands above them.

pub mod aws;
pub mod kube;
pub(crate) mod parallel;
