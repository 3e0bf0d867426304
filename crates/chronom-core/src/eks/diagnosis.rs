//! Why an EKS cluster could not be used, in words that name the cluster and say what to do.
//!
//! Pure: the shell gathers the facts (DescribeCluster's network settings, who we are on AWS,
//! who used the cluster recently according to CloudTrail) and the failure's class
//! ([`Unreachable`], from the error chain); this chooses the case and writes the message.

use super::recent_use::RecentPrincipal;
use crate::diagnose::Unreachable;
use crate::error::UserError;

/// Which network restriction of the endpoint could keep us out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointAccess {
    /// Public endpoint open to the internet.
    Open,
    /// `endpointPublicAccess=false`: only reachable from the VPC (or networks routed into it).
    PrivateOnly,
    /// Public, but only from these CIDRs.
    PublicFrom(Vec<String>),
}

impl EndpointAccess {
    /// From DescribeCluster's resourcesVpcConfig. No CIDRs means the default, 0.0.0.0/0.
    pub fn of(public_access: bool, public_access_cidrs: &[String]) -> Self {
        if !public_access {
            EndpointAccess::PrivateOnly
        } else if public_access_cidrs.is_empty()
            || public_access_cidrs.iter().any(|c| c == "0.0.0.0/0")
        {
            EndpointAccess::Open
        } else {
            EndpointAccess::PublicFrom(public_access_cidrs.to_vec())
        }
    }
}

/// What is known about the cluster when something failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// How messages name it: `EKS cluster prod in eu-west-1`, or with the context it came from.
    pub label: String,
    pub cluster: String,
    pub region: String,
    pub endpoint: String,
    /// None when DescribeCluster could not be read; `describe_error` then says why.
    pub access: Option<EndpointAccess>,
    pub private_access: bool,
    pub describe_error: Option<String>,
    /// The AWS principal we act as (STS GetCallerIdentity), when STS answered.
    pub caller: Option<String>,
    /// The caller's role ARN with its path (IAM GetRole), when it could be read: what an
    /// access entry must name. STS's assumed-role ARN drops the path, and EKS rejects an
    /// access entry for `role/NAME` when the role is `role/PATH/NAME`, as every IAM Identity
    /// Center role is (`/aws-reserved/sso.amazonaws.com/...`).
    pub principal_arn: Option<String>,
    /// Who used the cluster recently (CloudTrail), or why that could not be read. Only
    /// looked up when the cluster rejected our identity.
    pub recent: Option<Result<Vec<RecentPrincipal>, String>>,
}

impl Facts {
    /// `EKS cluster NAME in REGION`, prefixed with the kubeconfig context it was inferred from.
    pub fn label_for(cluster: &str, region: &str, context: Option<&str>) -> String {
        match context {
            Some(c) => format!("context {c:?} (EKS cluster {cluster} in {region})"),
            None => format!("EKS cluster {cluster} in {region}"),
        }
    }
}

/// The most principals the 401 message lists.
pub const MAX_LISTED: usize = 5;

/// The message for a failed request (`doing` in the user's words), or for the reachability
/// probe (`doing` empty).
pub fn explain(case: &Unreachable, f: &Facts, doing: &str, cause: &str) -> UserError {
    let mut err = match case {
        Unreachable::Unauthorized => unauthorized(f),
        Unreachable::Dns => UserError::failed(
            format!(
                "cannot resolve the API endpoint of {} ({}) (DNS failure)",
                f.label, f.endpoint
            ),
            format!(
                "check DNS on this machine; a private-only endpoint resolves only inside the cluster's VPC. Compare with `aws eks describe-cluster --name {} --region {} --query cluster.endpoint`",
                f.cluster, f.region
            ),
        ),
        Unreachable::Tls => UserError::failed(
            format!(
                "TLS with the API endpoint of {} ({}) failed: its certificate does not match the cluster's CA",
                f.label, f.endpoint
            ),
            format!(
                "check for a proxy that rewrites TLS; compare the CA with `aws eks describe-cluster --name {} --region {} --query cluster.certificateAuthority`",
                f.cluster, f.region
            ),
        ),
        Unreachable::PrivateEndpoint(_)
        | Unreachable::Timeout
        | Unreachable::Refused
        | Unreachable::Other => network(f, cause),
    };
    if !doing.is_empty() {
        err.what = format!("{doing}: {}", err.what);
    }
    err
}

/// The endpoint did not answer: say which of its settings keeps us out.
fn network(f: &Facts, cause: &str) -> UserError {
    let what = format!(
        "cannot reach the API endpoint of {} ({}): {cause}",
        f.label, f.endpoint
    );
    match &f.access {
        Some(EndpointAccess::PrivateOnly) => UserError::failed(
            format!("{what}; the cluster's endpoint is private (endpointPublicAccess=false)"),
            "run from inside the cluster's VPC or over a VPN/peering/Direct Connect into it, or have an admin enable public access (`aws eks update-cluster-config --resources-vpc-config endpointPublicAccess=true`)",
        ),
        Some(EndpointAccess::PublicFrom(cidrs)) => UserError::failed(
            format!(
                "{what}; the public endpoint only accepts {} (publicAccessCidrs), and this machine's public IP is likely outside them",
                cidrs.join(", ")
            ),
            format!(
                "run from a network whose public IP is in {}{}, or have an admin add your public IP to publicAccessCidrs",
                cidrs.join(", "),
                if f.private_access {
                    " or from inside the VPC (private access is on)"
                } else {
                    ""
                }
            ),
        ),
        Some(EndpointAccess::Open) => UserError::failed(
            format!("{what}; the endpoint is public and open to all addresses"),
            "check your network, proxy and firewall for the endpoint, or raise --request-timeout; re-run with -vv",
        ),
        None => UserError::failed(
            format!(
                "{what}; its network settings are unknown ({})",
                f.describe_error
                    .as_deref()
                    .unwrap_or("DescribeCluster was not read")
            ),
            format!(
                "check your network; `aws eks describe-cluster --name {} --region {} --query cluster.resourcesVpcConfig` shows whether the endpoint is private or limited to some CIDRs",
                f.cluster, f.region
            ),
        ),
    }
}

/// 401: the cluster does not know our principal. Name it, and who else could run the command.
fn unauthorized(f: &Facts) -> UserError {
    let who = f.caller.as_deref().unwrap_or("the current AWS principal");
    let what = format!(
        "{} ({}) rejected the token of {who} (401 Unauthorized): that principal is not mapped in the cluster (no access entry, and no aws-auth entry the cluster reads), or the token expired",
        f.label, f.endpoint
    );
    // Access entries and aws-auth take the role, not the session; an IAM user as it is.
    let role = f
        .caller
        .as_deref()
        .and_then(|arn| crate::arn::parse_role_arn(arn).ok());
    // An access entry names the role with its path; aws-auth's rolearn without it.
    let (entry_principal, map_principal, path_unknown) = match (&role, f.caller.as_deref()) {
        (Some(r), _) => (
            f.principal_arn
                .clone()
                .unwrap_or_else(|| r.canonical.to_string()),
            r.canonical.to_string(),
            f.principal_arn.is_none(),
        ),
        (None, Some(arn)) => (arn.to_string(), arn.to_string(), false),
        (None, None) => (
            "YOUR_PRINCIPAL_ARN".to_string(),
            "YOUR_PRINCIPAL_ARN".to_string(),
            false,
        ),
    };
    let mut next = format!(
        "ask a cluster admin to map {map_principal}: `aws eks create-access-entry --cluster-name {} --region {} --principal-arn {entry_principal}` (or an aws-auth entry for {map_principal} when the authentication mode is CONFIG_MAP)",
        f.cluster, f.region
    );
    if let (Some(r), true) = (&role, path_unknown) {
        let name = r.canonical.name();
        let sso = if name.starts_with("AWSReservedSSO_") {
            " (an IAM Identity Center role: its path is /aws-reserved/sso.amazonaws.com/...)"
        } else {
            ""
        };
        next.push_str(&format!(
            "; the access entry must name the role with its path{sso}, which could not be read here: `aws iam get-role --role-name {name} --query Role.Arn` prints it"
        ));
    }
    match &f.recent {
        Some(Ok(list)) if list.is_empty() => {
            next.push_str("; CloudTrail shows no other principal using this cluster recently")
        }
        Some(Ok(list)) => {
            let shown: Vec<String> = list
                .iter()
                .take(MAX_LISTED)
                .map(|p| format!("{} (last {} at {})", p.arn, p.event, p.last_seen))
                .collect();
            let more = list.len().saturating_sub(MAX_LISTED);
            next.push_str(&format!(
                "; or ask one of the principals that used this cluster recently (CloudTrail) to run the command instead: {}{}",
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ));
        }
        Some(Err(why)) => next.push_str(&format!(
            "; who else used this cluster recently is unknown: {why}"
        )),
        None => {}
    }
    UserError::failed(what, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            label: Facts::label_for("prod", "eu-west-1", None),
            cluster: "prod".into(),
            region: "eu-west-1".into(),
            endpoint: "https://ABC.gr7.eu-west-1.eks.amazonaws.com".into(),
            access: Some(EndpointAccess::Open),
            private_access: false,
            describe_error: None,
            caller: Some("arn:aws:sts::111122223333:assumed-role/dev/alice".into()),
            principal_arn: None,
            recent: None,
        }
    }

    fn recent(n: usize) -> Vec<RecentPrincipal> {
        (0..n)
            .map(|i| RecentPrincipal {
                arn: format!("arn:aws:iam::111122223333:user/u{i}"),
                last_seen: format!("2026-03-0{}T00:00:00Z", 9 - i),
                event: "DescribeCluster".into(),
            })
            .collect()
    }

    #[test]
    fn endpoint_access_from_the_vpc_config() {
        assert_eq!(EndpointAccess::of(true, &[]), EndpointAccess::Open);
        assert_eq!(
            EndpointAccess::of(true, &["10.0.0.0/8".into(), "0.0.0.0/0".into()]),
            EndpointAccess::Open
        );
        assert_eq!(
            EndpointAccess::of(true, &["203.0.113.0/24".into()]),
            EndpointAccess::PublicFrom(vec!["203.0.113.0/24".into()])
        );
        assert_eq!(
            EndpointAccess::of(false, &["0.0.0.0/0".into()]),
            EndpointAccess::PrivateOnly
        );
    }

    #[test]
    fn a_private_only_endpoint_says_to_run_from_the_vpc() {
        let mut f = facts();
        f.access = Some(EndpointAccess::PrivateOnly);
        for case in [
            Unreachable::Timeout,
            Unreachable::PrivateEndpoint("10.0.0.1".parse().unwrap()),
            Unreachable::Refused,
            Unreachable::Other,
        ] {
            let e = explain(&case, &f, "", "timed out");
            assert!(
                e.what.starts_with(
                    "cannot reach the API endpoint of EKS cluster prod in eu-west-1 (https://ABC"
                ),
                "{e}"
            );
            assert!(
                e.what.contains("endpointPublicAccess=false")
                    && e.next.contains("inside the cluster's VPC"),
                "{e}"
            );
        }
    }

    #[test]
    fn cidrs_that_exclude_the_caller_are_named() {
        let mut f = facts();
        f.access = Some(EndpointAccess::PublicFrom(vec![
            "203.0.113.0/24".into(),
            "198.51.100.7/32".into(),
        ]));
        let e = explain(
            &Unreachable::Timeout,
            &f,
            "listing pods",
            "no answer within 10s",
        );
        assert!(e.what.starts_with("listing pods: cannot reach"), "{e}");
        assert!(
            e.what
                .contains("only accepts 203.0.113.0/24, 198.51.100.7/32")
                && e.what.contains("public IP is likely outside"),
            "{e}"
        );
        assert!(
            e.next.contains("add your public IP") && !e.next.contains("private access is on"),
            "{e}"
        );
        f.private_access = true;
        assert!(
            explain(&Unreachable::Timeout, &f, "", "x")
                .next
                .contains("private access is on")
        );
    }

    #[test]
    fn an_open_or_unknown_endpoint_says_what_is_known() {
        let e = explain(&Unreachable::Timeout, &facts(), "", "timed out");
        assert!(
            e.what.contains("open to all addresses") && e.next.contains("--request-timeout"),
            "{e}"
        );
        let mut f = facts();
        f.access = None;
        f.describe_error = Some("eks:DescribeCluster was denied".into());
        let e = explain(&Unreachable::Refused, &f, "", "connection refused");
        assert!(
            e.what
                .contains("network settings are unknown (eks:DescribeCluster was denied)"),
            "{e}"
        );
        assert!(
            e.next
                .contains("aws eks describe-cluster --name prod --region eu-west-1"),
            "{e}"
        );
    }

    #[test]
    fn dns_and_tls_name_the_cluster_not_a_kubeconfig() {
        for case in [Unreachable::Dns, Unreachable::Tls] {
            let e = explain(&case, &facts(), "", "x");
            assert!(e.what.contains("EKS cluster prod in eu-west-1"), "{e}");
            assert!(!e.to_string().contains("kubeconfig"), "{e}");
        }
    }

    #[test]
    fn unauthorized_names_the_caller_and_the_role_to_map() {
        let e = explain(
            &Unreachable::Unauthorized,
            &facts(),
            "reading configmap kube-system/aws-auth",
            "",
        );
        assert!(
            e.what.starts_with("reading configmap kube-system/aws-auth: EKS cluster prod in eu-west-1 (https://ABC.gr7.eu-west-1.eks.amazonaws.com) rejected the token of arn:aws:sts::111122223333:assumed-role/dev/alice (401 Unauthorized)"),
            "{e}"
        );
        assert!(
            e.next
                .contains("--principal-arn arn:aws:iam::111122223333:role/dev"),
            "the role, not the session: {e}"
        );
        assert!(
            !e.next.contains("CloudTrail"),
            "not looked up, not mentioned: {e}"
        );
    }

    #[test]
    fn unauthorized_names_an_identity_center_role_with_its_path() {
        const SSO: &str = "AWSReservedSSO_Admin_0123456789abcdef";
        let mut f = facts();
        f.caller = Some(format!(
            "arn:aws:sts::111122223333:assumed-role/{SSO}/alice@example.com"
        ));
        // GetRole read the path: the access entry names it, aws-auth the path-less ARN.
        f.principal_arn = Some(format!(
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/{SSO}"
        ));
        let e = explain(&Unreachable::Unauthorized, &f, "", "");
        assert!(
            e.next.contains(&format!(
                "--principal-arn arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/{SSO}`"
            )) && e.next.contains(&format!(
                "an aws-auth entry for arn:aws:iam::111122223333:role/{SSO} when"
            )),
            "{e}"
        );
        assert!(!e.next.contains("get-role"), "{e}");
        // Unread: say the entry needs the path, that it is under /aws-reserved/, and how to get it.
        f.principal_arn = None;
        let e = explain(&Unreachable::Unauthorized, &f, "", "");
        assert!(
            e.next.contains("/aws-reserved/sso.amazonaws.com/")
                && e.next.contains(&format!(
                    "`aws iam get-role --role-name {SSO} --query Role.Arn`"
                )),
            "{e}"
        );
    }

    #[test]
    fn unauthorized_lists_recent_principals_up_to_a_limit() {
        let mut f = facts();
        f.recent = Some(Ok(recent(2)));
        let e = explain(&Unreachable::Unauthorized, &f, "", "");
        assert!(e.next.contains("run the command instead: arn:aws:iam::111122223333:user/u0 (last DescribeCluster at 2026-03-09T00:00:00Z), arn:aws:iam::111122223333:user/u1"), "{e}");
        f.recent = Some(Ok(recent(MAX_LISTED + 2)));
        let e = explain(&Unreachable::Unauthorized, &f, "", "");
        assert!(
            e.next.contains("user/u4 (")
                && !e.next.contains("user/u5")
                && e.next.ends_with(" and 2 more"),
            "{e}"
        );
        f.recent = Some(Ok(vec![]));
        assert!(
            explain(&Unreachable::Unauthorized, &f, "", "")
                .next
                .ends_with("CloudTrail shows no other principal using this cluster recently")
        );
    }

    #[test]
    fn unauthorized_without_cloudtrail_or_sts_still_explains() {
        let mut f = facts();
        f.caller = None;
        f.recent = Some(Err(
            "cloudtrail:LookupEvents was denied (AccessDeniedException)".into(),
        ));
        let e = explain(&Unreachable::Unauthorized, &f, "", "");
        assert!(
            e.what
                .contains("rejected the token of the current AWS principal"),
            "{e}"
        );
        assert!(e.next.contains("--principal-arn YOUR_PRINCIPAL_ARN"), "{e}");
        assert!(e.next.ends_with("who else used this cluster recently is unknown: cloudtrail:LookupEvents was denied (AccessDeniedException)"), "{e}");
    }

    #[test]
    fn an_inferred_cluster_is_named_with_its_context() {
        let mut f = facts();
        f.label = Facts::label_for(
            "prod",
            "eu-west-1",
            Some("arn:aws:eks:eu-west-1:1:cluster/prod"),
        );
        assert!(explain(&Unreachable::Unauthorized, &f, "", "").what.starts_with("context \"arn:aws:eks:eu-west-1:1:cluster/prod\" (EKS cluster prod in eu-west-1) (https://ABC"));
    }
}
