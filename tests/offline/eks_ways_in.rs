//! The EKS calls behind the audit's other ways in and out of a cluster, against mocked
//! clients (aws-smithy-mocks; moto has neither API): OIDC identity provider configurations
//! and EKS Pod Identity associations.

use aws_sdk_eks::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_eks::error::ErrorMetadata;
use aws_sdk_eks::operation::describe_identity_provider_config::{
    DescribeIdentityProviderConfigError, DescribeIdentityProviderConfigOutput,
};
use aws_sdk_eks::operation::describe_pod_identity_association::{
    DescribePodIdentityAssociationError, DescribePodIdentityAssociationOutput,
};
use aws_sdk_eks::operation::list_identity_provider_configs::ListIdentityProviderConfigsOutput;
use aws_sdk_eks::operation::list_pod_identity_associations::ListPodIdentityAssociationsOutput;
use aws_sdk_eks::types::error::ResourceNotFoundException;
use aws_sdk_eks::types::{
    ConfigStatus, IdentityProviderConfig, IdentityProviderConfigResponse,
    OidcIdentityProviderConfig, PodIdentityAssociation, PodIdentityAssociationSummary,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};

const CLUSTER: &str = "prod";

/// An EKS client answered by `rules` (no network; retries off so errors show at once).
fn eks_with(rules: &[&Rule]) -> aws_sdk_eks::Client {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    );
    let config = aws_sdk_eks::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(
            "AKIDMOCK",
            "mock-secret",
            None,
            None,
            "mock",
        ))
        .retry_config(aws_sdk_eks::config::retry::RetryConfig::disabled())
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    aws_sdk_eks::Client::from_conf(config)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn idp(name: &str) -> IdentityProviderConfig {
    IdentityProviderConfig::builder()
        .r#type("oidc")
        .name(name)
        .build()
        .unwrap()
}

fn describe_oidc(name: &'static str, config: OidcIdentityProviderConfig) -> Rule {
    mock!(aws_sdk_eks::Client::describe_identity_provider_config)
        .match_requests(move |r| {
            r.cluster_name() == Some(CLUSTER)
                && r.identity_provider_config().map(|c| c.name()) == Some(name)
        })
        .then_output(move || {
            DescribeIdentityProviderConfigOutput::builder()
                .identity_provider_config(
                    IdentityProviderConfigResponse::builder()
                        .oidc(config.clone())
                        .build(),
                )
                .build()
        })
}

/// Both pages are listed, each config described, and every field the audit shows is read.
#[test]
fn identity_providers_are_listed_across_pages_and_described() {
    let first = mock!(aws_sdk_eks::Client::list_identity_provider_configs)
        .match_requests(|r| r.cluster_name() == Some(CLUSTER) && r.next_token().is_none())
        .then_output(|| {
            ListIdentityProviderConfigsOutput::builder()
                .identity_provider_configs(idp("okta"))
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_eks::Client::list_identity_provider_configs)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            ListIdentityProviderConfigsOutput::builder()
                .identity_provider_configs(idp("dex"))
                .build()
        });
    let okta = describe_oidc(
        "okta",
        OidcIdentityProviderConfig::builder()
            .identity_provider_config_name("okta")
            .issuer_url("https://corp.okta.com")
            .client_id("kubernetes")
            .username_claim("email")
            .groups_claim("groups")
            .groups_prefix("okta:")
            .required_claims("hd", "example.com")
            .status(ConfigStatus::Active)
            .build(),
    );
    let dex = describe_oidc(
        "dex",
        OidcIdentityProviderConfig::builder()
            .identity_provider_config_name("dex")
            .issuer_url("https://dex.example.com")
            .client_id("k8s")
            .username_prefix("-")
            .groups_claim("groups")
            .status(ConfigStatus::Creating)
            .build(),
    );
    let eks = eks_with(&[&first, &second, &okta, &dex]);
    let got = rt()
        .block_on(chronom::adapters::aws::identity_providers::read_all(
            &eks, CLUSTER,
        ))
        .unwrap();
    assert_eq!(first.num_calls() + second.num_calls(), 2);
    let names: Vec<&str> = got.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["dex", "okta"]);
    let okta = &got[1];
    assert_eq!(okta.issuer_url, "https://corp.okta.com");
    assert_eq!(okta.client_id, "kubernetes");
    assert_eq!(okta.username_claim.as_deref(), Some("email"));
    assert_eq!(okta.groups_prefix.as_deref(), Some("okta:"));
    assert_eq!(
        okta.required_claims.get("hd").map(String::as_str),
        Some("example.com")
    );
    assert_eq!(okta.status.as_deref(), Some("ACTIVE"));
    assert_eq!(okta.groups_form(), "okta:<groups>");
    let dex = &got[0];
    assert_eq!(dex.username_prefix.as_deref(), Some("-"));
    assert_eq!(dex.groups_prefix, None);
    assert_eq!(dex.status.as_deref(), Some("CREATING"));
    assert_eq!(dex.username_form(), "<sub>");
}

/// A denied Describe is the audit's reason for `eks:identity-providers`, naming the permission.
#[test]
fn a_denied_describe_names_the_permission() {
    let list = mock!(aws_sdk_eks::Client::list_identity_provider_configs).then_output(|| {
        ListIdentityProviderConfigsOutput::builder()
            .identity_provider_configs(idp("okta"))
            .build()
    });
    let denied = mock!(aws_sdk_eks::Client::describe_identity_provider_config).then_error(|| {
        DescribeIdentityProviderConfigError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized")
                .build(),
        )
    });
    let eks = eks_with(&[&list, &denied]);
    let e = rt()
        .block_on(chronom::adapters::aws::identity_providers::read_all(
            &eks, CLUSTER,
        ))
        .unwrap_err();
    assert!(
        e.what.contains("identity provider config okta") && e.what.contains("AccessDenied"),
        "{e}"
    );
    assert!(e.next.contains("eks:DescribeIdentityProviderConfig"), "{e}");
}

fn summary(id: &str) -> PodIdentityAssociationSummary {
    PodIdentityAssociationSummary::builder()
        .association_id(id)
        .cluster_name(CLUSTER)
        .build()
}

fn describe_association(
    id: &'static str,
    ns: &str,
    sa: &str,
    role: &str,
    target: Option<&str>,
) -> Rule {
    let a = PodIdentityAssociation::builder()
        .association_id(id)
        .namespace(ns)
        .service_account(sa)
        .role_arn(role)
        .set_target_role_arn(target.map(String::from))
        .build();
    mock!(aws_sdk_eks::Client::describe_pod_identity_association)
        .match_requests(move |r| {
            r.cluster_name() == Some(CLUSTER) && r.association_id() == Some(id)
        })
        .then_output(move || {
            DescribePodIdentityAssociationOutput::builder()
                .association(a.clone())
                .build()
        })
}

/// The list's pages give the ids; each Describe gives the role, and the target role for
/// cross-account access. One deleted between List and Describe is simply gone.
#[test]
fn pod_identity_associations_are_listed_and_described() {
    let first = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
        .match_requests(|r| r.cluster_name() == Some(CLUSTER) && r.next_token().is_none())
        .then_output(|| {
            ListPodIdentityAssociationsOutput::builder()
                .associations(summary("a-1"))
                .associations(summary("a-gone"))
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            ListPodIdentityAssociationsOutput::builder()
                .associations(summary("a-2"))
                .build()
        });
    let one = describe_association(
        "a-1",
        "apps",
        "uploader",
        "arn:aws:iam::111122223333:role/s3",
        None,
    );
    let two = describe_association(
        "a-2",
        "jobs",
        "worker",
        "arn:aws:iam::111122223333:role/hop",
        Some("arn:aws:iam::444455556666:role/target"),
    );
    let gone = mock!(aws_sdk_eks::Client::describe_pod_identity_association)
        .match_requests(|r| r.association_id() == Some("a-gone"))
        .then_error(|| {
            DescribePodIdentityAssociationError::ResourceNotFoundException(
                ResourceNotFoundException::builder().message("gone").build(),
            )
        });
    let eks = eks_with(&[&first, &second, &one, &two, &gone]);
    let got = rt()
        .block_on(chronom::adapters::aws::pod_identity::read_all(
            &eks, CLUSTER,
        ))
        .unwrap();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(
        (
            got[0].namespace.as_str(),
            got[0].service_account.as_str(),
            got[0].role_arn.as_str()
        ),
        ("apps", "uploader", "arn:aws:iam::111122223333:role/s3")
    );
    assert_eq!(got[0].target_role_arn, None);
    assert_eq!(got[1].association_id, "a-2");
    assert_eq!(
        got[1].target_role_arn.as_deref(),
        Some("arn:aws:iam::444455556666:role/target")
    );
    assert_eq!(gone.num_calls(), 1);
}

#[test]
fn a_denied_list_names_the_permission() {
    let denied = mock!(aws_sdk_eks::Client::list_pod_identity_associations).then_error(|| {
        aws_sdk_eks::operation::list_pod_identity_associations::ListPodIdentityAssociationsError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized")
                .build(),
        )
    });
    let eks = eks_with(&[&denied]);
    let e = rt()
        .block_on(chronom::adapters::aws::pod_identity::read_all(
            &eks, CLUSTER,
        ))
        .unwrap_err();
    assert!(e.what.contains("Pod Identity associations"), "{e}");
    assert!(e.next.contains("eks:ListPodIdentityAssociations"), "{e}");
}
