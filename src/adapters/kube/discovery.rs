//! Discovery: which resources the API server serves, and the verbs each supports.

use super::Connection;
use chronom_core::error::UserError;
use chronom_core::readonly_role::DiscoveredResources;

/// Every resource and subresource the server serves, per API group and across its versions,
/// with the verbs each supports: what the per-resource profiles are built from.
///
/// Aggregated discovery (`/api` and `/apis` with the v2 Accept type, GA in Kubernetes 1.30) is 2
/// requests whatever the number of groups; servers without it get the per-group walk
/// (2 requests plus one per group version).
pub async fn served_resources(
    conn: &Connection,
    doing: &str,
) -> Result<DiscoveredResources, UserError> {
    let discovery = match kube::Discovery::new(conn.client.clone())
        .run_aggregated()
        .await
    {
        Ok(d) => d,
        Err(aggregated) => {
            tracing::debug!("aggregated discovery failed ({aggregated}); walking each group");
            match kube::Discovery::new(conn.client.clone()).run().await {
                Ok(d) => d,
                Err(e) => {
                    return Err(conn
                        .explain(e, &format!("discovering the API resources ({doing})"))
                        .await);
                }
            }
        }
    };
    let mut out = DiscoveredResources::new();
    for group in discovery.groups() {
        let resources = out.entry(group.name().to_string()).or_default();
        for version in group.versions() {
            for (resource, caps) in group.versioned_resources(version) {
                for (sub, sub_caps) in &caps.subresources {
                    resources
                        .entry(format!("{}/{}", resource.plural, sub.plural))
                        .or_default()
                        .extend(sub_caps.operations.iter().cloned());
                }
                resources
                    .entry(resource.plural)
                    .or_default()
                    .extend(caps.operations.iter().cloned());
            }
        }
    }
    Ok(out)
}
