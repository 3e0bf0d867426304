//! The EKS bearer token, minted exactly as `aws eks get-token` and aws-iam-authenticator do.
//!
//! A token is a presigned STS `GetCallerIdentity` URL that signs the header
//! `x-k8s-aws-id: <cluster>`, encoded as `k8s-aws-v1.` + base64url (no padding). The cluster's
//! authenticator replays the URL against STS with that header to learn who signed it, so the
//! host must be a real STS endpoint: `AWS_ENDPOINT_URL` never applies to the token.
//!
//! Pure: credentials, region, cluster and time in; token and expiry out. No I/O.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use jiff::Timestamp;

/// Every token starts with this; the authenticator rejects anything else.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header that binds a token to one cluster.
pub(crate) const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// `X-Amz-Expires`: STS ignores it (a presigned GetCallerIdentity is valid 15 minutes after
/// `X-Amz-Date`), but authenticators up to 0.3.0 want 0..=60, so every client sends 60.
pub(crate) const PRESIGN_EXPIRES_SECS: u64 = 60;
/// STS honours the URL for 15 minutes; clients refresh one minute earlier.
pub(crate) const TOKEN_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(14);
/// `apiVersion` of the ExecCredential when the client does not say (same as `aws eks get-token`).
pub(crate) const DEFAULT_EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

const STS_QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// A minted token and when a client should replace it.
#[derive(Clone, PartialEq, Eq)]
pub struct EksToken {
    /// `k8s-aws-v1.…`: a bearer credential. Never log it.
    pub token: String,
    /// Signing time + 14 minutes, whole seconds (what `aws eks get-token` reports).
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for EksToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksToken")
            .field("token", &"** redacted **")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0:?} is not an AWS region name (expected something like us-east-1); pass --region")]
    Region(String),
    #[error(
        "{0:?} is not an EKS cluster name or id; pass the name shown by `aws eks list-clusters`"
    )]
    Cluster(String),
    #[error("cannot sign the STS request: {0}; check the AWS credentials")]
    Sign(String),
}

/// The STS host a token for `region` must name: the regional endpoint of the region's
/// partition, as `aws eks get-token` (botocore's default `sts_regional_endpoints=regional`) and
/// aws-iam-authenticator (`--region`) produce. us-east-1 also gets its regional host; the
/// authenticator accepts it, and the legacy global `sts.amazonaws.com` alike.
pub(crate) fn sts_host(region: &str) -> String {
    format!("sts.{region}.{}", partition_domain(region))
}

/// DNS suffix of the AWS partition a region belongs to (aws-iam-authenticator's
/// `GetSTSPartitionDomain`, keyed by the partitions' region patterns).
pub(crate) fn partition_domain(region: &str) -> &'static str {
    const BY_PREFIX: [(&str, &str); 6] = [
        ("cn-", "amazonaws.com.cn"),
        ("us-isob-", "sc2s.sgov.gov"),
        ("us-isof-", "csp.hci.ic.gov"),
        ("us-iso-", "c2s.ic.gov"),
        ("eu-isoe-", "cloud.adc-e.uk"),
        ("eusc-", "amazonaws.eu"),
    ];
    BY_PREFIX
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("amazonaws.com", |(_, domain)| domain)
}

/// Mint a token for `cluster` (the name, or the id of an Outposts local cluster) in `region`,
/// signed with `credentials` at `now`.
pub fn mint(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    now: Timestamp,
) -> Result<EksToken, TokenError> {
    let url = presigned_url(credentials, region, cluster, now)?;
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    );
    let expires_at = Timestamp::from_second(now.as_second())
        .expect("a valid timestamp truncated to seconds")
        + TOKEN_LIFETIME;
    Ok(EksToken { token, expires_at })
}

/// The presigned `GET https://sts.<region>.<domain>/?Action=GetCallerIdentity&…` URL, with
/// the query in botocore's order: operation parameters, then `X-Amz-*`, signature last.
pub fn presigned_url(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    now: Timestamp,
) -> Result<String, TokenError> {
    if !is_region_name(region) {
        return Err(TokenError::Region(region.to_string()));
    }
    if cluster.is_empty() || !cluster.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TokenError::Cluster(cluster.to_string()));
    }
    let base = format!("https://{}/?{STS_QUERY}", sts_host(region));

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(PRESIGN_EXPIRES_SECS));
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now.into())
        .settings(settings)
        .build()
        .map_err(|e| TokenError::Sign(e.to_string()))?
        .into();
    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        [(CLUSTER_ID_HEADER, cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| TokenError::Sign(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| TokenError::Sign(e.to_string()))?
        .into_parts();

    let signed: Vec<(&str, &str)> = instructions
        .params()
        .iter()
        .map(|(k, v)| (*k, v.as_ref()))
        .collect();
    let order = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
    ];
    let mut url = base;
    for name in order {
        if let Some((_, value)) = signed.iter().find(|(k, _)| *k == name) {
            url.push('&');
            url.push_str(name);
            url.push('=');
            url.push_str(&uri_encode(value));
        }
    }
    debug_assert_eq!(
        signed.len(),
        url.matches("&X-Amz-").count(),
        "every signing parameter is in the URL"
    );
    Ok(url)
}

/// The ExecCredential a kubeconfig exec plugin prints (one line, like `aws eks get-token -o json`).
pub(crate) fn exec_credential_json(token: &EksToken, api_version: &str) -> String {
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": api_version,
        "spec": {},
        "status": {
            "expirationTimestamp": token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "token": token.token,
        },
    })
    .to_string()
}

/// The `apiVersion` to answer with: the one in `KUBERNETES_EXEC_INFO` (set by kubectl and
/// kube-rs), else v1beta1. Like `aws eks get-token`, an unknown or malformed value falls back.
pub(crate) fn exec_api_version(exec_info: Option<&str>) -> &'static str {
    const KNOWN: [&str; 3] = [
        "client.authentication.k8s.io/v1",
        "client.authentication.k8s.io/v1beta1",
        "client.authentication.k8s.io/v1alpha1",
    ];
    let asked = exec_info
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
        .and_then(|info| {
            info.get("apiVersion")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        });
    asked
        .and_then(|a| KNOWN.into_iter().find(|k| *k == a))
        .unwrap_or(DEFAULT_EXEC_API_VERSION)
}

/// SigV4 URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as uppercase `%XX`.
fn uri_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Lowercase letters, digits and inner dashes (`us-east-1`, `cn-north-1`, `us-gov-west-1`).
pub(crate) fn is_region_name(region: &str) -> bool {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = region.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            ok(first) && ok(last) && bytes.iter().all(|&b| ok(b) || b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(session: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session.map(str::to_owned),
            None,
            "test",
        )
    }

    fn at() -> Timestamp {
        "2026-03-01T12:34:56Z".parse().unwrap()
    }

    fn decode(token: &str) -> String {
        let body = token.strip_prefix(TOKEN_PREFIX).unwrap();
        String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(body)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn sts_hosts_follow_the_partition() {
        assert_eq!(sts_host("us-east-1"), "sts.us-east-1.amazonaws.com");
        assert_eq!(sts_host("eu-west-1"), "sts.eu-west-1.amazonaws.com");
        assert_eq!(sts_host("us-gov-west-1"), "sts.us-gov-west-1.amazonaws.com");
        assert_eq!(sts_host("cn-north-1"), "sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(
            sts_host("cn-northwest-1"),
            "sts.cn-northwest-1.amazonaws.com.cn"
        );
        assert_eq!(sts_host("us-iso-east-1"), "sts.us-iso-east-1.c2s.ic.gov");
        assert_eq!(
            sts_host("us-isob-east-1"),
            "sts.us-isob-east-1.sc2s.sgov.gov"
        );
        assert_eq!(
            sts_host("us-isof-south-1"),
            "sts.us-isof-south-1.csp.hci.ic.gov"
        );
        assert_eq!(
            sts_host("eu-isoe-west-1"),
            "sts.eu-isoe-west-1.cloud.adc-e.uk"
        );
        assert_eq!(
            sts_host("eusc-de-east-1"),
            "sts.eusc-de-east-1.amazonaws.eu"
        );
    }

    #[test]
    fn token_is_prefixed_unpadded_base64url_of_the_presigned_url() {
        let t = mint(&creds(None), "eu-west-1", "demo", at()).unwrap();
        assert!(t.token.starts_with(TOKEN_PREFIX));
        assert!(!t.token.contains('=') && !t.token.contains('+') && !t.token.contains('/'));
        let url = decode(&t.token);
        assert_eq!(
            url,
            presigned_url(&creds(None), "eu-west-1", "demo", at()).unwrap()
        );
        assert!(url.starts_with("https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260301%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20260301T123456Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature="), "{url}");
        assert!(!url.contains("X-Amz-Security-Token"));
    }

    #[test]
    fn expiry_is_fourteen_minutes_after_signing_in_whole_seconds() {
        let now: Timestamp = "2026-03-01T12:34:56.789Z".parse().unwrap();
        let t = mint(&creds(None), "us-east-1", "demo", now).unwrap();
        assert_eq!(t.expires_at.to_string(), "2026-03-01T12:48:56Z");
    }

    #[test]
    fn session_token_is_signed_and_sent_before_the_signature() {
        let url =
            presigned_url(&creds(Some("FwoGZXIvYXdzE+/=")), "us-east-1", "demo", at()).unwrap();
        let (before, after) = url.split_once("&X-Amz-Security-Token=").unwrap();
        assert!(before.ends_with("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"));
        assert!(
            after.starts_with("FwoGZXIvYXdzE%2B%2F%3D&X-Amz-Signature="),
            "{after}"
        );
        // The session token is part of what is signed: a different token, a different signature.
        let sig = |u: &str| u.rsplit_once("X-Amz-Signature=").unwrap().1.to_owned();
        let other = presigned_url(&creds(Some("other")), "us-east-1", "demo", at()).unwrap();
        assert_ne!(sig(&url), sig(&other));
    }

    #[test]
    fn signature_binds_cluster_region_and_time() {
        let sig = |region: &str, cluster: &str, now: Timestamp| {
            presigned_url(&creds(None), region, cluster, now)
                .unwrap()
                .rsplit_once('=')
                .unwrap()
                .1
                .to_owned()
        };
        let base = sig("us-east-1", "demo", at());
        assert_eq!(base.len(), 64);
        assert_eq!(base, sig("us-east-1", "demo", at()), "deterministic");
        assert_ne!(base, sig("us-east-1", "other", at()));
        assert_ne!(base, sig("us-west-2", "demo", at()));
        assert_ne!(
            base,
            sig(
                "us-east-1",
                "demo",
                at() + jiff::SignedDuration::from_secs(1)
            )
        );
    }

    #[test]
    fn rejects_bad_region_and_cluster() {
        assert!(matches!(
            mint(&creds(None), "", "demo", at()),
            Err(TokenError::Region(_))
        ));
        assert!(matches!(
            mint(&creds(None), "US-EAST-1", "demo", at()),
            Err(TokenError::Region(_))
        ));
        assert!(matches!(
            mint(&creds(None), "us-east-1/x", "demo", at()),
            Err(TokenError::Region(_))
        ));
        assert!(matches!(
            mint(&creds(None), "us-east-1", "", at()),
            Err(TokenError::Cluster(_))
        ));
        assert!(matches!(
            mint(&creds(None), "us-east-1", "a b", at()),
            Err(TokenError::Cluster(_))
        ));
        assert!(matches!(
            mint(&creds(None), "us-east-1", "a\nb", at()),
            Err(TokenError::Cluster(_))
        ));
    }

    #[test]
    fn exec_credential_shape() {
        let t = mint(&creds(None), "us-east-1", "demo", at()).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&exec_credential_json(&t, DEFAULT_EXEC_API_VERSION)).unwrap();
        assert_eq!(v["kind"], "ExecCredential");
        assert_eq!(v["apiVersion"], DEFAULT_EXEC_API_VERSION);
        assert_eq!(v["spec"], serde_json::json!({}));
        assert_eq!(v["status"]["expirationTimestamp"], "2026-03-01T12:48:56Z");
        assert!(v["status"]["token"] == t.token.as_str());
    }

    #[test]
    fn api_version_comes_from_exec_info() {
        let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
        assert_eq!(
            exec_api_version(Some(v1)),
            "client.authentication.k8s.io/v1"
        );
        let alpha = r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#;
        assert_eq!(
            exec_api_version(Some(alpha)),
            "client.authentication.k8s.io/v1alpha1"
        );
        assert_eq!(exec_api_version(None), DEFAULT_EXEC_API_VERSION);
        assert_eq!(exec_api_version(Some("")), DEFAULT_EXEC_API_VERSION);
        assert_eq!(exec_api_version(Some("not json")), DEFAULT_EXEC_API_VERSION);
        assert_eq!(
            exec_api_version(Some(r#"{"apiVersion":"example.com/v9"}"#)),
            DEFAULT_EXEC_API_VERSION
        );
        assert_eq!(
            exec_api_version(Some(r#"{"apiVersion":7}"#)),
            DEFAULT_EXEC_API_VERSION
        );
    }

    #[test]
    fn uri_encoding_matches_sigv4() {
        assert_eq!(uri_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(uri_encode("a/b+c=d;e f"), "a%2Fb%2Bc%3Dd%3Be%20f");
    }
}
