//! Access entries as a mapping source for `audit who-can` and `audit lookup`: [`add_from`]
//! reads the EKS side of a connection, then adds it with the pure
//! `chronom_core::eks::mapping_source::add`.

use crate::adapters::kube::Connection;
use chronom_core::audit::completeness::{UnreadSource, source};
use chronom_core::audit::inventory::Mapping;
use chronom_core::eks::mapping_source::add;
use chronom_core::rbac::RbacObjects;

/// `add` with the EKS side of `conn` (the `--cluster` cluster, or the one its context points
/// at); nothing without one. Returns what could not be read (DescribeCluster, the access
/// entries): the caller must not answer as if it had seen everything.
pub async fn add_from(
    conn: &Connection,
    mappings: &mut Vec<Mapping>,
    objects: &mut RbacObjects,
) -> Vec<UnreadSource> {
    let (eks, unread) = crate::flows::audit::read_eks_side(conn).await;
    let mut unread: Vec<UnreadSource> = unread.into_iter().collect();
    let Some(eks) = eks else {
        return unread;
    };
    if let Some(why) = &eks.access_entries_error {
        unread.push(UnreadSource::new(source::EKS_ACCESS_ENTRIES, why.clone()));
    }
    add(mappings, objects, &eks.cluster, &eks.access_entries);
    unread
}
