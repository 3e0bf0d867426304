//! EKS OIDC identity provider configurations: ListIdentityProviderConfigs, then one
//! DescribeIdentityProviderConfig each. I/O only; what a token becomes is `eks::oidc`.

use chronom_core::eks::oidc::OidcProvider;
use chronom_core::error::UserError;

use super::access_entries::{PARALLEL_REQUESTS, aws_error};

fn provider_of(c: &aws_sdk_eks::types::OidcIdentityProviderConfig) -> OidcProvider {
    let text = |v: Option<&str>| v.map(str::to_string);
    OidcProvider {
        name: c.identity_provider_config_name().unwrap_or_default().into(),
        issuer_url: c.issuer_url().unwrap_or_default().into(),
        client_id: c.client_id().unwrap_or_default().into(),
        username_claim: text(c.username_claim()),
        username_prefix: text(c.username_prefix()),
        groups_claim: text(c.groups_claim()),
        groups_prefix: text(c.groups_prefix()),
        required_claims: c
            .required_claims()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        status: c.status().map(|s| s.as_str().to_string()),
    }
}

/// The names of the cluster's OIDC configurations (the only identity provider type EKS has).
async fn list(eks: &aws_sdk_eks::Client, cluster: &str) -> Result<Vec<String>, UserError> {
    let mut out = Vec::new();
    let mut pages = eks
        .list_identity_provider_configs()
        .cluster_name(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            aws_error(
                &e,
                &format!("listing the identity provider configs of cluster {cluster}"),
                "eks:ListIdentityProviderConfigs",
            )
        })?;
        out.extend(
            page.identity_provider_configs()
                .iter()
                .filter(|c| c.r#type() == "oidc")
                .map(|c| c.name().to_string()),
        );
    }
    Ok(out)
}

/// Every OIDC identity provider associated with `cluster`, by name.
pub async fn read_all(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<Vec<OidcProvider>, UserError> {
    let names = list(eks, cluster).await?;
    let results = crate::adapters::parallel::bounded_map(names, PARALLEL_REQUESTS, |name| {
        let eks = eks.clone();
        let cluster = cluster.to_string();
        async move {
            let config = aws_sdk_eks::types::IdentityProviderConfig::builder()
                .r#type("oidc")
                .name(&name)
                .build()
                .map_err(|e| {
                    UserError::failed(
                        format!("cannot ask for identity provider config {name}: {e}"),
                        "report this as a bug in kubectl-chronom",
                    )
                })?;
            let out = eks
                .describe_identity_provider_config()
                .cluster_name(&cluster)
                .identity_provider_config(config)
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        &e,
                        &format!("reading identity provider config {name} of cluster {cluster}"),
                        "eks:DescribeIdentityProviderConfig",
                    )
                })?;
            Ok::<_, UserError>(
                out.identity_provider_config()
                    .and_then(|c| c.oidc())
                    .map(provider_of),
            )
        }
    })
    .await;
    let mut out = Vec::new();
    for r in results {
        if let Some(p) = r? {
            out.push(p);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
