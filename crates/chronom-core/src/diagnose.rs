//! Why the API server could not be reached, in words a user can act on.
//!
//! Pure: the shell gathers the error chain and the addresses the endpoint resolves to,
//! and this decides which case it is.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    Dns,
    PrivateEndpoint(IpAddr),
    Tls,
    Unauthorized,
    Timeout,
    Refused,
    Other,
}

/// Classify a failed request from its error chain (outermost first) and the endpoint's
/// resolved addresses. `status` is the HTTP status when the server answered.
pub fn classify(status: Option<u16>, chain: &[String], resolved: &[IpAddr]) -> Unreachable {
    if status == Some(401) {
        return Unreachable::Unauthorized;
    }
    let text = chain.join(" | ").to_lowercase();
    if text.contains("dns error")
        || text.contains("failed to lookup address")
        || text.contains("name or service not known")
    {
        return Unreachable::Dns;
    }
    if text.contains("certificate")
        || text.contains("tls")
        || text.contains("handshake")
        || text.contains("rustls")
    {
        return Unreachable::Tls;
    }
    let timed_out =
        text.contains("timed out") || text.contains("timeout") || text.contains("elapsed");
    if timed_out || text.contains("no route to host") || text.contains("network is unreachable") {
        // A private endpoint from outside its network looks like a timeout: name the real cause.
        if let Some(ip) = resolved.iter().find(|ip| is_private(ip)) {
            return Unreachable::PrivateEndpoint(*ip);
        }
        if timed_out {
            return Unreachable::Timeout;
        }
    }
    if text.contains("connection refused") {
        return Unreachable::Refused;
    }
    Unreachable::Other
}

/// RFC 1918 IPv4 ranges and IPv6 unique local addresses: reachable only inside a VPC or VPN.
pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168)
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// What to tell the user: the case, then the next step.
pub fn explain(case: &Unreachable, server: &str) -> (String, String) {
    match case {
        Unreachable::Dns => (
            format!("cannot resolve the API server host of {server} (DNS failure)"),
            "check the cluster endpoint in your kubeconfig and your DNS; for EKS, refresh it with `aws eks update-kubeconfig`".into(),
        ),
        Unreachable::PrivateEndpoint(ip) => (
            format!("the API server {server} resolves to the private address {ip}, which this machine cannot reach"),
            "run this from inside the cluster's VPC or over its VPN, or enable the cluster's public endpoint for your address".into(),
        ),
        Unreachable::Tls => (
            format!("TLS with the API server {server} failed: its certificate is not trusted by your kubeconfig's CA, or the connection is intercepted"),
            "check certificate-authority-data for this cluster in your kubeconfig, or a proxy that rewrites TLS".into(),
        ),
        Unreachable::Unauthorized => (
            format!("the API server {server} rejected your credentials (401 Unauthorized): your identity is not mapped in this cluster, or the token expired"),
            "check who you are (`aws sts get-caller-identity`), then ask a cluster admin to map that principal in aws-auth or an access entry".into(),
        ),
        Unreachable::Timeout => (
            format!("the API server {server} did not answer in time (timeout)"),
            "check that the endpoint is reachable from here (security groups, firewall, public access CIDRs), or raise --request-timeout".into(),
        ),
        Unreachable::Refused => (
            format!("the API server {server} refused the connection"),
            "check that the cluster is running and that the kubeconfig points at the right address and port".into(),
        ),
        Unreachable::Other => (
            format!("cannot talk to the API server {server}"),
            "re-run with -vv to see the full cause".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "fc00::1",
            "fd12::1",
        ] {
            assert!(is_private(&ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "172.15.0.1",
            "172.32.0.1",
            "8.8.8.8",
            "127.0.0.1",
            "fe80::1",
            "2001:db8::1",
        ] {
            assert!(!is_private(&ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn cases() {
        assert_eq!(classify(Some(401), &[], &[]), Unreachable::Unauthorized);
        assert_eq!(
            classify(
                None,
                &s(&[
                    "client error (Connect)",
                    "dns error: failed to lookup address information"
                ]),
                &[]
            ),
            Unreachable::Dns
        );
        assert_eq!(
            classify(None, &s(&["invalid peer certificate: UnknownIssuer"]), &[]),
            Unreachable::Tls
        );
        assert_eq!(
            classify(
                None,
                &s(&["operation timed out"]),
                &["52.1.2.3".parse().unwrap()]
            ),
            Unreachable::Timeout
        );
        assert_eq!(
            classify(
                None,
                &s(&["operation timed out"]),
                &["10.1.2.3".parse().unwrap()]
            ),
            Unreachable::PrivateEndpoint("10.1.2.3".parse().unwrap())
        );
        assert_eq!(
            classify(None, &s(&["Connection refused (os error 111)"]), &[]),
            Unreachable::Refused
        );
    }
}
