//! EKS Pod Identity associations: ListPodIdentityAssociations, then one
//! DescribePodIdentityAssociation each (the list has no role ARN). I/O only; who can reach the
//! roles is `eks::pod_roles`.

use chronom_core::eks::pod_roles::PodIdentityAssociation;
use chronom_core::error::UserError;

use super::access_entries::{PARALLEL_REQUESTS, aws_error};

async fn list_ids(eks: &aws_sdk_eks::Client, cluster: &str) -> Result<Vec<String>, UserError> {
    let mut out = Vec::new();
    let mut pages = eks
        .list_pod_identity_associations()
        .cluster_name(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            aws_error(
                &e,
                &format!("listing the Pod Identity associations of cluster {cluster}"),
                "eks:ListPodIdentityAssociations",
            )
        })?;
        out.extend(
            page.associations()
                .iter()
                .filter_map(|a| a.association_id().map(str::to_string)),
        );
    }
    Ok(out)
}

/// Every Pod Identity association of `cluster`, with its role (and target role).
pub async fn read_all(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<Vec<PodIdentityAssociation>, UserError> {
    let ids = list_ids(eks, cluster).await?;
    let results = crate::adapters::parallel::bounded_map(ids, PARALLEL_REQUESTS, |id| {
        let eks = eks.clone();
        let cluster = cluster.to_string();
        async move {
            let out = eks
                .describe_pod_identity_association()
                .cluster_name(&cluster)
                .association_id(&id)
                .send()
                .await;
            let out = match out {
                Ok(o) => o,
                // Deleted between List and Describe: simply gone.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Ok(None);
                }
                Err(e) => {
                    return Err(aws_error(
                        &e,
                        &format!("reading Pod Identity association {id} of cluster {cluster}"),
                        "eks:DescribePodIdentityAssociation",
                    ));
                }
            };
            Ok::<_, UserError>(out.association().map(|a| PodIdentityAssociation {
                association_id: a.association_id().unwrap_or(&id).to_string(),
                namespace: a.namespace().unwrap_or_default().to_string(),
                service_account: a.service_account().unwrap_or_default().to_string(),
                role_arn: a.role_arn().unwrap_or_default().to_string(),
                target_role_arn: a.target_role_arn().map(str::to_string),
            }))
        }
    })
    .await;
    let mut out = Vec::new();
    for r in results {
        if let Some(a) = r? {
            out.push(a);
        }
    }
    Ok(out)
}
