//! Which regions a fleet (`audit --all-clusters`) scans, and what a region's ListClusters
//! failure means: a region the account has not enabled (skipped), or a failed region with its
//! reason. Pure: the flow (`flows::fleet`) asks AWS and hands the answers here.

use crate::error::UserError;

/// The commercial-partition (aws) regions where EKS is offered. Fixed lists (EC2
/// DescribeRegions would need another SDK), from botocore's endpoints.json (1.43.11: the
/// `eks` service's endpoints of each partition, which also name every region of the
/// partition); opt-in regions an account has not enabled answer with an authentication error
/// and are reported as skipped (see [`region_skipped`]).
pub const EKS_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
];

/// aws-cn: China (Beijing, Ningxia).
pub const EKS_REGIONS_CN: &[&str] = &["cn-north-1", "cn-northwest-1"];
/// aws-us-gov: AWS GovCloud (US-West, US-East).
pub const EKS_REGIONS_US_GOV: &[&str] = &["us-gov-west-1", "us-gov-east-1"];
/// aws-iso: US ISO East and West.
pub const EKS_REGIONS_ISO: &[&str] = &["us-iso-east-1", "us-iso-west-1"];
/// aws-iso-b: US ISOB East (Ohio) and West.
pub const EKS_REGIONS_ISO_B: &[&str] = &["us-isob-east-1", "us-isob-west-1"];
/// aws-iso-e.
pub const EKS_REGIONS_ISO_E: &[&str] = &["eu-isoe-west-1"];
/// aws-iso-f.
pub const EKS_REGIONS_ISO_F: &[&str] = &["us-isof-east-1", "us-isof-south-1"];
/// aws-eusc: the AWS European Sovereign Cloud.
pub const EKS_REGIONS_EUSC: &[&str] = &["eusc-de-east-1"];

/// The regions where EKS is offered in `partition` (as [`crate::partition`] names it): what
/// `--regions all` scans. An unknown partition has none.
pub fn eks_regions(partition: &str) -> &'static [&'static str] {
    match partition {
        "aws" => EKS_REGIONS,
        "aws-cn" => EKS_REGIONS_CN,
        "aws-us-gov" => EKS_REGIONS_US_GOV,
        "aws-iso" => EKS_REGIONS_ISO,
        "aws-iso-b" => EKS_REGIONS_ISO_B,
        "aws-iso-e" => EKS_REGIONS_ISO_E,
        "aws-iso-f" => EKS_REGIONS_ISO_F,
        "aws-eusc" => EKS_REGIONS_EUSC,
        _ => &[],
    }
}

/// The commercial regions enabled in every account: those launched before 2019-03-20. They
/// cannot be disabled (AWS Account Management, "Enable or disable AWS Regions in your
/// account"), so an authentication error there is never "not enabled". Every later region is
/// opt-in; this list does not grow.
pub const DEFAULT_ENABLED_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "sa-east-1",
];

/// Can `region` be one the account has not enabled? Only an opt-in region of the commercial
/// partition can; the other partitions have no opt-in regions.
pub fn may_be_disabled(region: &str) -> bool {
    !DEFAULT_ENABLED_REGIONS.contains(&region) && crate::partition::of_region(region) == "aws"
}

/// The error codes AWS answers a request to a region the account has not enabled with, by
/// protocol: `UnrecognizedClientException` (JSON and REST-JSON services such as EKS),
/// `InvalidClientTokenId` (query services such as STS), `AuthFailure` (EC2). They are also
/// what a bad key gets everywhere, which is why [`verify_credentials`] runs first.
const NOT_ENABLED_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AuthFailure",
];

/// Is a ListClusters failure in `region` (with credentials STS has accepted) a region the
/// account has not enabled, to be skipped? Only for an opt-in region and an authentication
/// code; anything else (AccessDenied from a policy or an SCP, throttling, a network error, an
/// authentication error in a default region) is a failed region.
pub fn region_skipped(region: &str, code: Option<&str>) -> bool {
    may_be_disabled(region) && code.is_some_and(|c| NOT_ENABLED_CODES.contains(&c))
}

/// The region STS GetCallerIdentity is asked in: the configured one unless it is opt-in (it
/// may be disabled, which would read as bad credentials), else the first default-enabled
/// region scanned, else the configured or first scanned one, else us-east-1.
pub fn sts_region(configured: Option<&str>, scanned: &[String]) -> String {
    configured
        .filter(|r| !may_be_disabled(r))
        .map(str::to_string)
        .or_else(|| scanned.iter().find(|r| !may_be_disabled(r)).cloned())
        .or_else(|| configured.map(str::to_string))
        .or_else(|| scanned.first().cloned())
        .unwrap_or_else(|| "us-east-1".to_string())
}

/// The regions `--regions` names: a list, `all` (every region of the partition of
/// `default_region`, the one --region or the profile gives, where EKS is offered: China and
/// GovCloud credentials work only there), or (empty) `default_region` itself.
pub fn regions_to_scan(
    requested: &[String],
    default_region: Option<&str>,
) -> Result<Vec<String>, UserError> {
    let requested: Vec<&str> = requested
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .collect();
    if requested.iter().any(|r| r.eq_ignore_ascii_case("all")) {
        if requested.len() > 1 {
            return Err(UserError::usage(
                "--regions all cannot be combined with other regions",
                "pass either --regions all or a list such as --regions eu-west-1,us-east-1",
            ));
        }
        let partition = crate::partition::of_region(default_region.unwrap_or("us-east-1"));
        return Ok(eks_regions(partition)
            .iter()
            .map(|r| r.to_string())
            .collect());
    }
    let mut out: Vec<String> = Vec::new();
    for r in requested {
        let valid = r.len() <= 32
            && r.split('-').count() >= 3
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(UserError::usage(
                format!("--regions: {r:?} is not an AWS region name"),
                "use names such as eu-west-1 or us-east-1, or all",
            ));
        }
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    if out.is_empty() {
        match default_region {
            Some(r) => out.push(r.to_string()),
            None => {
                return Err(UserError::usage(
                    "--all-clusters needs regions: none given, and neither --region nor the AWS profile sets one",
                    "pass --regions eu-west-1,us-east-1 (or --regions all)",
                ));
            }
        }
    }
    Ok(out)
}

/// Whether an AccessDenied answer names a policy of the AWS Organization as its cause: a
/// service control policy ("with an explicit deny in a service control policy", or "because no
/// service control policy allows ..." when none allows it) or a resource control policy, in
/// the words IAM's access-denied messages use (IAM User Guide, "Troubleshoot access denied
/// error messages"). That is how an organization keeps an account out of a region, which a
/// fleet reports as denied by policy, not as a region that is not enabled.
pub fn denied_by_organization_policy(code: &str, message: &str) -> bool {
    code.contains("AccessDenied")
        && ["service control policy", "resource control policy"]
            .iter()
            .any(|policy| message.contains(policy))
}

/// A region's ListClusters failure as its row says it: `(skipped, why)`.
pub fn region_failure(
    region: &str,
    coded: Option<(&str, &str)>,
    status: Option<u16>,
    transport: &str,
) -> (bool, String) {
    match coded {
        Some((code, message)) if region_skipped(region, Some(code)) => (
            true,
            format!(
                "not enabled for this account: ListClusters answered {code}: {message} (what an opt-in region answers until it is enabled; if it is enabled, the session token may come from the global STS endpoint, which is valid in default regions only)"
            ),
        ),
        Some((code, message)) if denied_by_organization_policy(code, message) => (
            false,
            format!(
                "denied by policy: listing the EKS clusters in {region}: AWS denied it with a policy of the AWS Organization ({code}: {message})"
            ),
        ),
        Some((code, message)) if code.contains("AccessDenied") => (
            false,
            format!(
                "listing the EKS clusters in {region}: AWS denied it ({code}: {message}); allow eks:ListClusters for this identity there (an SCP or a permissions boundary may deny it)"
            ),
        ),
        Some((code, message)) => (
            false,
            format!("listing the EKS clusters in {region}: {code}: {message}"),
        ),
        None => (
            false,
            match status {
                Some(status) => {
                    format!("listing the EKS clusters in {region}: AWS answered HTTP {status}")
                }
                None => format!("listing the EKS clusters in {region}: no answer: {transport}"),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_list_all_or_default() {
        assert_eq!(
            regions_to_scan(
                &["eu-west-1".into(), " us-east-1".into(), "eu-west-1".into()],
                None
            )
            .unwrap(),
            ["eu-west-1", "us-east-1"]
        );
        assert!(
            regions_to_scan(&["all".into()], None)
                .unwrap()
                .contains(&"us-east-1".to_string())
        );
        assert_eq!(
            regions_to_scan(&[], Some("eu-central-1")).unwrap(),
            ["eu-central-1"]
        );
        assert_eq!(
            regions_to_scan(&[], None).unwrap_err().exit_code,
            crate::exit::EXIT_USAGE
        );
        assert!(regions_to_scan(&["all".into(), "eu-west-1".into()], None).is_err());
        assert!(regions_to_scan(&["Europe".into()], None).is_err());
    }

    #[test]
    fn only_an_opt_in_region_answering_with_an_authentication_error_is_skipped() {
        for code in [
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "AuthFailure",
        ] {
            assert!(region_skipped("af-south-1", Some(code)), "{code}");
            assert!(region_skipped("mx-central-1", Some(code)), "{code}");
            assert!(
                !region_skipped("eu-west-1", Some(code)),
                "{code}: a default region cannot be disabled"
            );
            assert!(!region_skipped("cn-north-1", Some(code)), "{code}");
            assert!(!region_skipped("us-gov-west-1", Some(code)), "{code}");
        }
        for code in [
            Some("AccessDeniedException"),
            Some("AccessDenied"),
            Some("ThrottlingException"),
            Some("InvalidSignatureException"),
            None,
        ] {
            assert!(
                !region_skipped("af-south-1", code),
                "{code:?}: denied (an SCP), throttled or unreachable is a failed region"
            );
        }
        let (skipped, why) = region_failure(
            "af-south-1",
            Some(("UnrecognizedClientException", "bad token")),
            Some(403),
            "",
        );
        assert!(
            skipped && why.starts_with("not enabled for this account"),
            "{why}"
        );
        let (skipped, why) = region_failure(
            "af-south-1",
            Some((
                "AccessDeniedException",
                "explicit deny in a service control policy",
            )),
            Some(403),
            "",
        );
        assert!(
            !skipped && why.contains("AWS denied it") && why.contains("service control policy"),
            "{why}"
        );
        let (skipped, why) = region_failure("eu-west-1", None, None, "dispatch failure: refused");
        assert!(
            !skipped && why.ends_with("no answer: dispatch failure: refused"),
            "{why}"
        );
        for r in DEFAULT_ENABLED_REGIONS {
            assert!(EKS_REGIONS.contains(r), "{r}");
        }
        assert_eq!(
            EKS_REGIONS.iter().filter(|r| may_be_disabled(r)).count(),
            EKS_REGIONS.len() - DEFAULT_ENABLED_REGIONS.len()
        );
    }

    #[test]
    fn sts_is_asked_in_a_region_that_cannot_be_disabled_when_there_is_one() {
        let scanned = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sts_region(Some("eu-west-1"), &scanned(&["af-south-1"])),
            "eu-west-1"
        );
        assert_eq!(
            sts_region(Some("af-south-1"), &scanned(&["af-south-1", "us-east-2"])),
            "us-east-2"
        );
        assert_eq!(
            sts_region(Some("af-south-1"), &scanned(&["me-south-1"])),
            "af-south-1"
        );
        assert_eq!(sts_region(None, &scanned(&["me-south-1"])), "me-south-1");
        assert_eq!(sts_region(None, &scanned(&["cn-north-1"])), "cn-north-1");
        assert_eq!(sts_region(None, &[]), "us-east-1");
    }

    #[test]
    fn a_region_an_organization_policy_denies_is_denied_by_policy() {
        let explicit = "User: arn:aws:sts::111122223333:assumed-role/audit/s is not authorized to perform: eks:ListClusters on resource: arn:aws:eks:me-south-1:111122223333:cluster/* with an explicit deny in a service control policy";
        let implicit = "User: arn:aws:iam::111122223333:user/s is not authorized to perform: eks:ListClusters because no service control policy allows the eks:ListClusters action";
        for message in [explicit, implicit] {
            assert!(denied_by_organization_policy(
                "AccessDeniedException",
                message
            ));
            let (skipped, why) = region_failure(
                "me-south-1",
                Some(("AccessDeniedException", message)),
                Some(403),
                "",
            );
            assert!(!skipped, "not an opt-in region left disabled");
            assert!(why.starts_with("denied by policy: "), "{why}");
        }
        let identity = "User: x is not authorized to perform: eks:ListClusters on resource: y because no identity-based policy allows the eks:ListClusters action";
        assert!(!denied_by_organization_policy(
            "AccessDeniedException",
            identity
        ));
        assert!(!denied_by_organization_policy(
            "ThrottlingException",
            explicit
        ));
    }

    #[test]
    fn all_is_every_eks_region_of_the_configured_regions_partition() {
        let all = |r: Option<&str>| regions_to_scan(&["all".into()], r).unwrap();
        assert!(all(None).contains(&"ap-southeast-6".to_string()));
        assert_eq!(all(Some("eu-west-1")), all(None));
        assert_eq!(all(Some("cn-north-1")), ["cn-north-1", "cn-northwest-1"]);
        assert_eq!(
            all(Some("us-gov-east-1")),
            ["us-gov-west-1", "us-gov-east-1"]
        );
        for p in crate::arn::PARTITIONS {
            let regions = eks_regions(p);
            assert!(!regions.is_empty(), "{p}");
            for r in regions {
                assert_eq!(crate::partition::of_region(r), *p, "{r}");
            }
        }
        assert!(eks_regions("nope").is_empty());
    }
}
