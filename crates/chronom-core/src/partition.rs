//! AWS partitions (aws, aws-cn, aws-us-gov, ...): which one an ARN or a region belongs to.
//! A role ARN, an ARN in a hint, and the regions `--regions all` scans all depend on it; the
//! caller's identity ARN says it for certain, the region when there is no ARN.

use crate::arn::PARTITIONS;

/// The partition an ARN names (`arn:PARTITION:...`), if it is one we know.
pub fn of_arn(arn: &str) -> Option<&'static str> {
    let mut parts = arn.split(':');
    if parts.next() != Some("arn") {
        return None;
    }
    let named = parts.next()?;
    PARTITIONS.iter().copied().find(|p| *p == named)
}

/// The partition a region belongs to, by the region patterns of botocore's endpoints.json
/// (`regionRegex`): `cn-*` is aws-cn, `us-gov-*` aws-us-gov, `us-iso-*` aws-iso, `us-isob-*`
/// aws-iso-b, `eu-isoe-*` aws-iso-e, `us-isof-*` aws-iso-f, `eusc-*` aws-eusc;
/// everything else is aws.
pub fn of_region(region: &str) -> &'static str {
    let starts = |p: &str| region.starts_with(p);
    if starts("cn-") {
        "aws-cn"
    } else if starts("us-gov-") {
        "aws-us-gov"
    } else if starts("us-isob-") {
        "aws-iso-b"
    } else if starts("us-iso-") {
        "aws-iso"
    } else if starts("eu-isoe-") {
        "aws-iso-e"
    } else if starts("us-isof-") {
        "aws-iso-f"
    } else if starts("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_of_an_arn_or_a_region() {
        assert_eq!(of_arn("arn:aws-cn:iam::1:user/a"), Some("aws-cn"));
        assert_eq!(
            of_arn("arn:aws-us-gov:sts::1:assumed-role/r/s"),
            Some("aws-us-gov")
        );
        assert_eq!(of_arn("arn:aws:iam::1:root"), Some("aws"));
        assert_eq!(of_arn("arn:nope:iam::1:root"), None);
        assert_eq!(of_arn("aws:iam"), None);
        for (region, partition) in [
            ("eu-west-1", "aws"),
            ("ap-southeast-6", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(of_region(region), partition, "{region}");
        }
    }
}
