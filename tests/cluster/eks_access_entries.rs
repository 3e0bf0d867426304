//! EKS access entries: the EKS and IAM calls against mocked clients (aws-smithy-mocks), and
//! the access-entry grant and revoke flows with a mocked EKS client on the real control plane
//! (the RBAC half is real: server-side apply, SubjectAccessReview).

use std::collections::BTreeMap;

use aws_sdk_eks::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_eks::error::ErrorMetadata;
use aws_sdk_eks::operation::create_access_entry::{
    CreateAccessEntryError, CreateAccessEntryOutput,
};
use aws_sdk_eks::operation::delete_access_entry::{
    DeleteAccessEntryError, DeleteAccessEntryOutput,
};
use aws_sdk_eks::operation::describe_access_entry::{
    DescribeAccessEntryError, DescribeAccessEntryOutput,
};
use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput;
use aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput;
use aws_sdk_eks::operation::update_access_entry::UpdateAccessEntryOutput;
use aws_sdk_eks::types::error::{ResourceInUseException, ResourceNotFoundException};
use aws_sdk_eks::types::{
    AccessConfigResponse, AccessEntry, AccessScope, AccessScopeType, AssociatedAccessPolicy,
    AuthenticationMode, Cluster, LogSetup, LogType, Logging, VpcConfigResponse,
};
use aws_sdk_iam::operation::get_role::{GetRoleError, GetRoleOutput};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use chronom::adapters::aws::EksContext;
use chronom::adapters::aws::access_entries as entries;
use chronom::flows::via::{self, MapWith};
use chronom_core::action::Action;
use chronom_core::audit::manifests::ClusterState;
use chronom_core::audit::report::{self, EksState};
use chronom_core::eks::access_entry::EntryPlan;
use chronom_core::eks::posture::ClusterFacts;

use crate::support::ControlPlane;

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

const ACCOUNT: &str = "111122223333";
const CLUSTER: &str = "prod";

fn role(path_and_name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{path_and_name}")
}

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    )
}

/// An EKS client answered by `rules` (no network; retries off so errors show at once).
fn eks_with(rules: &[&Rule]) -> aws_sdk_eks::Client {
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
        .interceptor(interceptor(rules))
        .build();
    aws_sdk_eks::Client::from_conf(config)
}

fn sts_with(rules: &[&Rule]) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(
            "AKIDMOCK",
            "mock-secret",
            None,
            None,
            "mock",
        ))
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

fn iam_with(rules: &[&Rule]) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "AKIDMOCK",
            "mock-secret",
            None,
            None,
            "mock",
        ))
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

fn entry(principal: &str, username: &str, groups: &[&str], ty: &str) -> AccessEntry {
    let mut b = AccessEntry::builder()
        .cluster_name(CLUSTER)
        .principal_arn(principal)
        .username(username)
        .r#type(ty);
    for g in groups {
        b = b.kubernetes_groups(*g);
    }
    b.build()
}

fn not_found() -> DescribeAccessEntryError {
    DescribeAccessEntryError::ResourceNotFoundException(
        ResourceNotFoundException::builder()
            .message("no access entry")
            .build(),
    )
}

fn describe_rule(principal: &'static str, answer: Option<AccessEntry>) -> Rule {
    let r = mock!(aws_sdk_eks::Client::describe_access_entry)
        .match_requests(move |req| req.principal_arn() == Some(principal));
    match answer {
        Some(e) => r.then_output(move || {
            DescribeAccessEntryOutput::builder()
                .access_entry(e.clone())
                .build()
        }),
        None => r.then_error(not_found),
    }
}

fn list_rule(principals: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_eks::Client::list_access_entries).then_output(move || {
        ListAccessEntriesOutput::builder()
            .set_access_entries(Some(principals.iter().map(|p| p.to_string()).collect()))
            .build()
    })
}

fn no_policies() -> Rule {
    mock!(aws_sdk_eks::Client::list_associated_access_policies)
        .then_output(|| ListAssociatedAccessPoliciesOutput::builder().build())
}

fn get_role_rule(arn: &'static str) -> Rule {
    mock!(aws_sdk_iam::Client::get_role).then_output(move || {
        let (path, name) = {
            let resource = arn.split_once(":role").unwrap().1;
            let i = resource.rfind('/').unwrap();
            (resource[..=i].to_string(), resource[i + 1..].to_string())
        };
        GetRoleOutput::builder()
            .role(
                aws_sdk_iam::types::Role::builder()
                    .path(path)
                    .role_name(name)
                    .role_id("AROAEXAMPLEID123")
                    .arn(arn)
                    .create_date(aws_sdk_iam::primitives::DateTime::from_secs(0))
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

fn get_role_denied() -> Rule {
    mock!(aws_sdk_iam::Client::get_role).then_error(|| {
        GetRoleError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("not authorized to perform iam:GetRole")
                .build(),
        )
    })
}

fn facts(mode: &str) -> ClusterFacts {
    ClusterFacts {
        name: CLUSTER.into(),
        authentication_mode: Some(mode.into()),
        ..Default::default()
    }
}

fn ctx(eks: aws_sdk_eks::Client, iam: Option<aws_sdk_iam::Client>, mode: &str) -> EksContext {
    EksContext {
        eks,
        iam,
        cluster: facts(mode),
    }
}

fn input(arn: &str) -> chronom_core::arn::RoleArnInput {
    chronom_core::arn::parse_role_arn(arn).unwrap()
}

#[tokio::test]
async fn describe_cluster_reads_the_mode_and_auto_chooses_from_it() {
    for (mode, want) in [
        (AuthenticationMode::ApiAndConfigMap, MapWith::AccessEntry),
        (AuthenticationMode::Api, MapWith::AccessEntry),
        (AuthenticationMode::ConfigMap, MapWith::AwsAuth),
    ] {
        let m = mode.clone();
        let rule = mock!(aws_sdk_eks::Client::describe_cluster)
            .match_requests(|r| r.name() == Some(CLUSTER))
            .then_output(move || {
                DescribeClusterOutput::builder()
                    .cluster(
                        Cluster::builder()
                            .name(CLUSTER)
                            .access_config(
                                AccessConfigResponse::builder()
                                    .authentication_mode(m.clone())
                                    .build(),
                            )
                            .resources_vpc_config(
                                VpcConfigResponse::builder()
                                    .endpoint_public_access(true)
                                    .public_access_cidrs("0.0.0.0/0")
                                    .build(),
                            )
                            .logging(
                                Logging::builder()
                                    .cluster_logging(
                                        LogSetup::builder()
                                            .enabled(true)
                                            .types(LogType::Audit)
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let eks = eks_with(&[&rule]);
        let cluster = chronom::adapters::aws::cluster::describe_with(
            &eks,
            &sts_with(&[]),
            "eu-west-1",
            CLUSTER,
        )
        .await
        .unwrap()
        .facts;
        assert_eq!(cluster.authentication_mode.as_deref(), Some(mode.as_str()));
        assert_eq!(cluster.region.as_deref(), Some("eu-west-1"));
        assert_eq!(cluster.enabled_log_types, ["audit"]);
        let choice = via::choose(chronom::cli::MappingVia::Auto, Some(&cluster), None).unwrap();
        assert_eq!(choice.with, want, "{mode:?}");
        assert!(choice.note.unwrap().contains(mode.as_str()));
        assert_eq!(rule.num_calls(), 1);
    }
}

#[tokio::test]
async fn a_missing_cluster_says_to_check_the_name_and_region() {
    let rule = mock!(aws_sdk_eks::Client::describe_cluster).then_error(|| {
        aws_sdk_eks::operation::describe_cluster::DescribeClusterError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("No cluster found for name: prod.")
                .build(),
        )
    });
    let listed = mock!(aws_sdk_eks::Client::list_clusters).then_output(|| {
        aws_sdk_eks::operation::list_clusters::ListClustersOutput::builder()
            .clusters("staging")
            .build()
    });
    let caller = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder()
            .account(ACCOUNT)
            .arn(format!("arn:aws:iam::{ACCOUNT}:user/u"))
            .build()
    });
    let e = chronom::adapters::aws::cluster::describe_with(
        &eks_with(&[&rule, &listed]),
        &sts_with(&[&caller]),
        "eu-west-1",
        CLUSTER,
    )
    .await
    .unwrap_err();
    assert!(
        e.what
            .contains(&format!("\"{CLUSTER}\" in eu-west-1 of account {ACCOUNT}")),
        "{e}"
    );
    assert!(
        e.next.contains("clusters in eu-west-1")
            && e.next.contains("staging")
            && e.next.contains("--cluster"),
        "{e}"
    );
}

const SCANNER_WITH_PATH: &str = "arn:aws:iam::111122223333:role/platform/scanner";

#[tokio::test]
async fn grant_creates_an_entry_for_the_arn_iam_reports_with_its_path() {
    let get_role = get_role_rule(SCANNER_WITH_PATH);
    let list = list_rule(&[]);
    let describe = describe_rule(SCANNER_WITH_PATH, None);
    let create = mock!(aws_sdk_eks::Client::create_access_entry)
        .match_requests(|r| {
            r.cluster_name() == Some(CLUSTER)
                && r.principal_arn() == Some(SCANNER_WITH_PATH)
                && r.kubernetes_groups() == ["chronomReadOnlyGroup"]
                && r.username() == Some("scanner")
                && r.r#type() == Some("STANDARD")
                && r.tags()
                    .and_then(|t| t.get("managed-by"))
                    .map(String::as_str)
                    == Some("kubectl-chronom")
        })
        .then_output(|| {
            CreateAccessEntryOutput::builder()
                .access_entry(entry(
                    SCANNER_WITH_PATH,
                    "scanner",
                    &["chronomReadOnlyGroup"],
                    "STANDARD",
                ))
                .build()
        });
    let c = ctx(
        eks_with(&[&list, &describe, &create]),
        Some(iam_with(&[&get_role])),
        "API_AND_CONFIG_MAP",
    );

    let p = entries::prepare_grant(
        &c,
        &input(&role("scanner")),
        "scanner",
        "chronomReadOnlyGroup",
        false,
    )
    .await
    .unwrap();
    assert_eq!(p.desired.principal_arn, SCANNER_WITH_PATH);
    assert_eq!(p.plan, EntryPlan::Create);
    assert_eq!(p.role_id.as_deref(), Some("AROAEXAMPLEID123"));
    assert!(
        p.notes.iter().any(|n| n.contains("/platform/")),
        "{:?}",
        p.notes
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("unique ID AROAEXAMPLEID123")),
        "{:?}",
        p.notes
    );
    assert_eq!(create.num_calls(), 0, "preparing writes nothing");

    assert_eq!(
        entries::apply_grant(&c.eks, &p, false).await.unwrap(),
        Action::Created
    );
    assert_eq!(create.num_calls(), 1);
    assert_eq!(get_role.num_calls(), 1);
    assert_eq!(
        list.num_calls(),
        0,
        "IAM answered, so the entries were not listed"
    );
    let json = serde_json::to_value(p.result()).unwrap();
    assert_eq!(json["name"], SCANNER_WITH_PATH);
    assert_eq!(json["entry"]["type"], "STANDARD");
    assert_eq!(json["entry"]["kubernetesGroups"][0], "chronomReadOnlyGroup");
}

#[tokio::test]
async fn an_arn_with_its_path_needs_no_iam() {
    let describe = describe_rule(SCANNER_WITH_PATH, None);
    let c = ctx(eks_with(&[&describe]), None, "API");
    let p = entries::prepare_grant(&c, &input(SCANNER_WITH_PATH), "scanner", "g", false)
        .await
        .unwrap();
    assert_eq!(
        (p.desired.principal_arn.as_str(), p.plan),
        (SCANNER_WITH_PATH, EntryPlan::Create)
    );
}

#[tokio::test]
async fn an_identical_entry_is_unchanged_and_nothing_is_written() {
    let describe = describe_rule(
        SCANNER_WITH_PATH,
        Some(entry(
            SCANNER_WITH_PATH,
            "scanner",
            &["chronomReadOnlyGroup"],
            "STANDARD",
        )),
    );
    let policies = no_policies();
    let create = mock!(aws_sdk_eks::Client::create_access_entry)
        .then_output(|| CreateAccessEntryOutput::builder().build());
    let update = mock!(aws_sdk_eks::Client::update_access_entry)
        .then_output(|| UpdateAccessEntryOutput::builder().build());
    let c = ctx(
        eks_with(&[&describe, &policies, &create, &update]),
        None,
        "API",
    );
    let p = entries::prepare_grant(
        &c,
        &input(SCANNER_WITH_PATH),
        "scanner",
        "chronomReadOnlyGroup",
        false,
    )
    .await
    .unwrap();
    assert_eq!(p.plan, EntryPlan::Unchanged);
    assert_eq!(
        entries::apply_grant(&c.eks, &p, false).await.unwrap(),
        Action::Unchanged
    );
    assert_eq!((create.num_calls(), update.num_calls()), (0, 0));
    assert_eq!(
        policies.num_calls(),
        1,
        "an existing entry's policies are checked"
    );
}

#[tokio::test]
async fn a_different_entry_is_refused_and_replaced_with_force_update() {
    let describe = describe_rule(
        SCANNER_WITH_PATH,
        Some(entry(SCANNER_WITH_PATH, "admin", &["admins"], "STANDARD")),
    );
    let policies = mock!(aws_sdk_eks::Client::list_associated_access_policies).then_output(|| {
        ListAssociatedAccessPoliciesOutput::builder()
            .associated_access_policies(
                AssociatedAccessPolicy::builder()
                    .policy_arn(
                        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                    )
                    .access_scope(
                        AccessScope::builder()
                            .r#type(AccessScopeType::Cluster)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let update = mock!(aws_sdk_eks::Client::update_access_entry)
        .match_requests(|r| {
            r.principal_arn() == Some(SCANNER_WITH_PATH)
                && r.username() == Some("scanner")
                && r.kubernetes_groups() == ["chronomReadOnlyGroup"]
        })
        .then_output(|| {
            UpdateAccessEntryOutput::builder()
                .access_entry(entry(
                    SCANNER_WITH_PATH,
                    "scanner",
                    &["chronomReadOnlyGroup"],
                    "STANDARD",
                ))
                .build()
        });
    let c = ctx(
        eks_with(&[&describe, &policies, &update]),
        None,
        "API_AND_CONFIG_MAP",
    );
    let refused = entries::prepare_grant(
        &c,
        &input(SCANNER_WITH_PATH),
        "scanner",
        "chronomReadOnlyGroup",
        false,
    )
    .await
    .unwrap_err();
    assert!(
        refused.what.contains("\"admin\"") && refused.next.contains("--force-update"),
        "{refused}"
    );
    assert_eq!(update.num_calls(), 0);

    let p = entries::prepare_grant(
        &c,
        &input(SCANNER_WITH_PATH),
        "scanner",
        "chronomReadOnlyGroup",
        true,
    )
    .await
    .unwrap();
    assert_eq!(p.plan, EntryPlan::Update);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("AmazonEKSClusterAdminPolicy (cluster)")),
        "the kept policy is named: {:?}",
        p.notes
    );
    assert_eq!(
        entries::apply_grant(&c.eks, &p, true).await.unwrap(),
        Action::Updated
    );
    assert_eq!(update.num_calls(), 1);
    let json = serde_json::to_value(p.result()).unwrap();
    assert_eq!(json["action"], "updated");
    assert_eq!(json["previous"]["username"], "admin");
}

#[tokio::test]
async fn without_iam_the_path_comes_from_the_existing_entry_or_the_user() {
    let denied = get_role_denied();
    let list = list_rule(&[SCANNER_WITH_PATH, "arn:aws:iam::111122223333:role/other"]);
    let c = ctx(eks_with(&[&list]), Some(iam_with(&[&denied])), "API");
    let r = entries::resolve_principal(c.iam.as_ref(), &c.eks, CLUSTER, &input(&role("scanner")))
        .await
        .unwrap();
    assert_eq!(r.arn, SCANNER_WITH_PATH);
    assert!(r.note.unwrap().contains("existing access entry"));

    let empty = list_rule(&[]);
    let c = ctx(eks_with(&[&empty]), Some(iam_with(&[&denied])), "API");
    let e = entries::resolve_principal(c.iam.as_ref(), &c.eks, CLUSTER, &input(&role("scanner")))
        .await
        .unwrap_err();
    assert_eq!(e.exit_code, chronom_core::exit::EXIT_USAGE);
    assert!(
        e.what.contains("full ARN") && e.what.contains("AccessDenied"),
        "{e}"
    );
    assert!(
        e.next.contains("aws iam get-role --role-name scanner"),
        "{e}"
    );
}

#[tokio::test]
async fn a_create_that_races_another_writer_reads_again() {
    let create = mock!(aws_sdk_eks::Client::create_access_entry).then_error(|| {
        CreateAccessEntryError::ResourceInUseException(
            ResourceInUseException::builder()
                .message("already exists")
                .build(),
        )
    });
    let describe = mock!(aws_sdk_eks::Client::describe_access_entry)
        .sequence()
        .error(not_found)
        .output(|| {
            DescribeAccessEntryOutput::builder()
                .access_entry(entry(SCANNER_WITH_PATH, "scanner", &["g"], "STANDARD"))
                .build()
        })
        .build();
    let c = ctx(eks_with(&[&create, &describe]), None, "API");
    let p = entries::prepare_grant(&c, &input(SCANNER_WITH_PATH), "scanner", "g", false)
        .await
        .unwrap();
    assert_eq!(p.plan, EntryPlan::Create);
    assert_eq!(
        entries::apply_grant(&c.eks, &p, false).await.unwrap(),
        Action::Unchanged
    );
    assert_eq!(describe.num_calls(), 2);
}

#[tokio::test]
async fn access_denied_is_explained_with_the_missing_permission() {
    let create = mock!(aws_sdk_eks::Client::create_access_entry).then_error(|| {
        CreateAccessEntryError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("User is not authorized")
                .build(),
        )
    });
    let describe = describe_rule(SCANNER_WITH_PATH, None);
    let c = ctx(eks_with(&[&create, &describe]), None, "API");
    let p = entries::prepare_grant(&c, &input(SCANNER_WITH_PATH), "scanner", "g", false)
        .await
        .unwrap();
    let e = entries::apply_grant(&c.eks, &p, false).await.unwrap_err();
    assert!(
        e.what.contains("AWS denied it") && e.next.contains("eks:CreateAccessEntry"),
        "{e}"
    );
}

#[tokio::test]
async fn revoke_finds_the_entry_whatever_its_path_and_sees_other_entries_of_the_group() {
    let list = list_rule(&[SCANNER_WITH_PATH, "arn:aws:iam::111122223333:role/other"]);
    let ours = describe_rule(
        SCANNER_WITH_PATH,
        Some(entry(SCANNER_WITH_PATH, "scanner", &["g"], "STANDARD")),
    );
    let other = describe_rule(
        "arn:aws:iam::111122223333:role/other",
        Some(entry(
            "arn:aws:iam::111122223333:role/other",
            "other",
            &["g"],
            "STANDARD",
        )),
    );
    let policies = no_policies();
    let delete = mock!(aws_sdk_eks::Client::delete_access_entry)
        .match_requests(|r| r.principal_arn() == Some(SCANNER_WITH_PATH))
        .then_output(|| DeleteAccessEntryOutput::builder().build());
    let c = ctx(
        eks_with(&[&list, &ours, &other, &policies, &delete]),
        None,
        "API",
    );
    let p = entries::prepare_revoke(&c, &input(&role("scanner")), "g", false)
        .await
        .unwrap();
    assert_eq!(p.entry.as_ref().unwrap().principal_arn, SCANNER_WITH_PATH);
    assert_eq!(p.others_map_group, Some(true));
    assert!(p.group_still_mapped());
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("role/other also maps group g")),
        "{:?}",
        p.notes
    );
    assert!(
        entries::delete(&c.eks, CLUSTER, SCANNER_WITH_PATH)
            .await
            .unwrap()
    );
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(
        serde_json::to_value(p.result(&input(&role("scanner")))).unwrap()["action"],
        "deleted"
    );
}

#[tokio::test]
async fn deleting_a_missing_entry_is_idempotent() {
    let delete = mock!(aws_sdk_eks::Client::delete_access_entry).then_error(|| {
        DeleteAccessEntryError::ResourceNotFoundException(
            ResourceNotFoundException::builder().message("gone").build(),
        )
    });
    assert!(
        !entries::delete(&eks_with(&[&delete]), CLUSTER, SCANNER_WITH_PATH)
            .await
            .unwrap()
    );
}

const ADMIN: &str = "arn:aws:iam::111122223333:role/admin";
const VIEWER: &str = "arn:aws:iam::111122223333:role/team/viewer";
const NODE: &str = "arn:aws:iam::111122223333:role/node";

fn association(policy: &str, namespaces: Option<&[&str]>) -> AssociatedAccessPolicy {
    let scope = match namespaces {
        None => AccessScope::builder()
            .r#type(AccessScopeType::Cluster)
            .build(),
        Some(ns) => ns
            .iter()
            .fold(
                AccessScope::builder().r#type(AccessScopeType::Namespace),
                |b, n| b.namespaces(*n),
            )
            .build(),
    };
    AssociatedAccessPolicy::builder()
        .policy_arn(format!("arn:aws:eks::aws:cluster-access-policy/{policy}"))
        .access_scope(scope)
        .build()
}

/// A cluster with three entries (cluster-admin, a namespaced editor, a node) read page by page.
fn audit_rules() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_eks::Client::list_access_entries)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListAccessEntriesOutput::builder()
                    .access_entries(ADMIN)
                    .access_entries(VIEWER)
                    .next_token("page-2")
                    .build()
            }),
        mock!(aws_sdk_eks::Client::list_access_entries)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                ListAccessEntriesOutput::builder()
                    .access_entries(NODE)
                    .build()
            }),
        describe_rule(
            ADMIN,
            Some(entry(
                ADMIN,
                "arn:aws:sts::111122223333:assumed-role/admin/{{SessionName}}",
                &[],
                "STANDARD",
            )),
        ),
        describe_rule(VIEWER, Some(entry(VIEWER, "viewer", &[], "STANDARD"))),
        describe_rule(
            NODE,
            Some(entry(
                NODE,
                "system:node:{{EC2PrivateDNSName}}",
                &[],
                "EC2_LINUX",
            )),
        ),
        mock!(aws_sdk_eks::Client::list_associated_access_policies)
            .match_requests(|r| r.principal_arn() == Some(ADMIN))
            .then_output(|| {
                ListAssociatedAccessPoliciesOutput::builder()
                    .associated_access_policies(association("AmazonEKSClusterAdminPolicy", None))
                    .build()
            }),
        mock!(aws_sdk_eks::Client::list_associated_access_policies)
            .match_requests(|r| r.principal_arn() == Some(VIEWER))
            .then_output(|| {
                ListAssociatedAccessPoliciesOutput::builder()
                    .associated_access_policies(association(
                        "AmazonEKSEditPolicy",
                        Some(&["team-a"]),
                    ))
                    .build()
            }),
        mock!(aws_sdk_eks::Client::list_associated_access_policies)
            .match_requests(|r| r.principal_arn() == Some(NODE))
            .then_output(|| ListAssociatedAccessPoliciesOutput::builder().build()),
    ]
}

fn aws_auth_state(map_roles: &str) -> ClusterState {
    ClusterState {
        aws_auth: BTreeMap::from([("mapRoles".to_string(), map_roles.to_string())]),
        aws_auth_present: true,
        ..Default::default()
    }
}

async fn audit_with(mode: &str, map_roles: &str) -> (report::AuditReport, serde_json::Value) {
    let rules = audit_rules();
    let refs: Vec<&Rule> = rules.iter().collect();
    let eks = eks_with(&refs);
    let access_entries = entries::read_all(&eks, CLUSTER).await.unwrap();
    let mut cluster = facts(mode);
    cluster.endpoint_public_access = true;
    cluster.bootstrap_cluster_creator_admin_permissions = Some(true);
    let state = aws_auth_state(map_roles);
    let snapshot = report::snapshot_of(&state, chronom_core::rbac::RuleSource::AsStored);
    let eks_state = EksState {
        cluster,
        access_entries,
        access_entries_error: None,
        ..Default::default()
    };
    let r = report::build_with_eks("ctx", &state, &snapshot, Some(&eks_state));
    let json = serde_json::to_value(&r).unwrap();
    (r, json)
}

fn rules_of(r: &report::AuditReport) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.rule).collect()
}

#[tokio::test]
async fn the_audit_reads_entries_and_policies_and_evaluates_them() {
    let (r, json) = audit_with("API_AND_CONFIG_MAP", "- rolearn: arn:aws:iam::111122223333:role/viewer\n  username: viewer\n  groups: [system:masters]\n").await;
    let entry_rows: Vec<&serde_json::Value> = json["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["source"] == "access-entry")
        .collect();
    assert_eq!(entry_rows.len(), 3, "both pages were read: {json:#}");
    let admin = entry_rows.iter().find(|m| m["principal"] == ADMIN).unwrap();
    assert_eq!(admin["access"], "cluster-admin");
    assert_eq!(
        admin["accessPolicies"][0]["policy"],
        "AmazonEKSClusterAdminPolicy"
    );
    assert!(
        !admin["kubernetesGroups"]
            .to_string()
            .contains("eks-access-entry:"),
        "the stand-in group stays internal: {admin}"
    );
    let viewer = entry_rows
        .iter()
        .find(|m| m["principal"] == VIEWER)
        .unwrap();
    assert_eq!(viewer["access"], "namespaced(1)");
    assert_eq!(
        viewer["accessPolicies"][0]["scope"]["namespaces"][0],
        "team-a"
    );
    let node = entry_rows.iter().find(|m| m["principal"] == NODE).unwrap();
    assert!(
        node["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "system:nodes"),
        "{node}"
    );

    let rules = rules_of(&r);
    assert!(rules.contains(&"CHR020"), "cluster-admin policy: {rules:?}");
    assert!(
        !r.findings
            .iter()
            .any(|f| f.rule == "CHR002" && f.subject.contains(ADMIN)),
        "CHR020 replaces CHR002 for the policy"
    );
    assert!(
        rules.contains(&"CHR005"),
        "the editor may exec in team-a: {rules:?}"
    );
    let twice = r
        .findings
        .iter()
        .find(|f| f.rule == "CHR021")
        .expect("viewer is in both sources with different rights");
    assert!(
        twice.evidence.contains("cluster-admin (system:masters)")
            && twice.evidence.contains("EKS uses the access entry"),
        "{}",
        twice.evidence
    );
    let overridden = json["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["source"] == "aws-auth/mapRoles")
        .unwrap();
    assert_eq!(overridden["state"], "overridden");
    assert_eq!(overridden["active"], false);
    assert!(rules.contains(&"CHR023"), "{rules:?}");
    let creator = r.findings.iter().find(|f| f.rule == "CHR023").unwrap();
    assert!(
        creator
            .evidence
            .contains("bootstrapClusterCreatorAdminPermissions"),
        "{}",
        creator.evidence
    );
    for posture in ["CHR024", "CHR025", "CHR026"] {
        assert!(rules.contains(&posture), "{posture}: {rules:?}");
    }
    assert!(
        !rules.contains(&"CHR022"),
        "aws-auth is read in API_AND_CONFIG_MAP"
    );
    assert_eq!(
        json["eks"]["cluster"]["authenticationMode"],
        "API_AND_CONFIG_MAP"
    );
}

/// Schema 2: an access entry's policies are bindings of the subject `AccessEntry/<principal>`,
/// listed once, with each policy's rules once under `roles`.
#[tokio::test]
async fn access_policies_are_listed_under_the_entry_and_their_rules_once() {
    let (_, json) = audit_with("API_AND_CONFIG_MAP", "- rolearn: arn:aws:iam::111122223333:role/viewer\n  username: viewer\n  groups: [system:masters]\n").await;
    let entry = |arn: &str| {
        json["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["source"] == "access-entry" && m["principal"] == arn)
            .unwrap()
            .clone()
    };
    let admin_key = format!("AccessEntry/{ADMIN}");
    assert!(
        entry(ADMIN)["bindingSubjects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| *k == admin_key.as_str()),
        "{}",
        entry(ADMIN)
    );
    let admin_rows = json["subjects"][&admin_key].as_array().unwrap();
    assert_eq!(admin_rows.len(), 1, "{admin_rows:?}");
    assert_eq!(
        admin_rows[0]["role"],
        "AccessPolicy/AmazonEKSClusterAdminPolicy"
    );
    assert_eq!(admin_rows[0]["scope"], "cluster-wide");
    assert_eq!(admin_rows[0]["binding"], "EKS access policy association");
    assert!(
        !json["roles"]["AccessPolicy/AmazonEKSClusterAdminPolicy"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let viewer_rows = json["subjects"][format!("AccessEntry/{VIEWER}")]
        .as_array()
        .unwrap();
    assert!(
        viewer_rows
            .iter()
            .all(|r| r["scope"] == "team-a" && r["role"] == "AccessPolicy/AmazonEKSEditPolicy"),
        "{viewer_rows:?}"
    );
    assert!(
        !json.to_string().contains("eks-access-entry:"),
        "the stand-in group stays internal"
    );
}

/// A wildcard namespace scope as EKS returns it (`dev-*`), read through the adapter: the audit's
/// findings and who-can in `dev-x` include the entry's Edit rights; `prod` does not.
#[tokio::test]
async fn a_wildcard_scope_read_from_eks_reaches_who_can_and_the_findings() {
    let list = list_rule(&[VIEWER]);
    let describe = describe_rule(VIEWER, Some(entry(VIEWER, "viewer", &[], "STANDARD")));
    let policies = mock!(aws_sdk_eks::Client::list_associated_access_policies)
        .match_requests(|r| r.principal_arn() == Some(VIEWER))
        .then_output(|| {
            ListAssociatedAccessPoliciesOutput::builder()
                .associated_access_policies(association("AmazonEKSEditPolicy", Some(&["dev-*"])))
                .build()
        });
    let eks = eks_with(&[&list, &describe, &policies]);
    let access_entries = entries::read_all(&eks, CLUSTER).await.unwrap();
    assert_eq!(
        access_entries[0].policies[0].scope,
        chronom_core::eks::access_policies::PolicyScope::Namespace {
            namespaces: vec!["dev-*".into()]
        }
    );
    let state = ClusterState::default();
    let snapshot = report::snapshot_of(&state, chronom_core::rbac::RuleSource::AsStored);
    let eks_state = EksState {
        cluster: facts("API"),
        access_entries: access_entries.clone(),
        ..Default::default()
    };
    let r = report::build_with_eks("ctx", &state, &snapshot, Some(&eks_state));
    assert!(
        r.findings.iter().any(|f| f.rule == "CHR005"
            && f.subject.contains(VIEWER)
            && f.evidence.contains("dev-*")),
        "{:#?}",
        r.findings
    );

    // who-can, as `audit who-can` builds its inputs (eks::mapping_source::add).
    let mut mappings = Vec::new();
    let mut objects = chronom_core::rbac::RbacObjects::default();
    chronom_core::eks::mapping_source::add(
        &mut mappings,
        &mut objects,
        &facts("API"),
        &access_entries,
    );
    let snapshot =
        chronom_core::rbac::RbacSnapshot::new(objects, chronom_core::rbac::RuleSource::AsStored);
    let ask = |ns: &str| {
        let catalog = chronom_core::rbac::ResourceCatalog::builtin();
        let mut request =
            chronom_core::rbac::parse_verb_target("create", "pods/exec", &catalog).unwrap();
        if let chronom_core::rbac::Request::Resource(q) = &mut request {
            q.namespace = Some(ns.into());
        }
        chronom_core::audit::answers::answer_who_can(
            &snapshot,
            &mappings,
            &request,
            &chronom_core::rbac::QueryScope::Namespace(ns.into()),
        )
    };
    assert!(
        ask("dev-x")
            .iter()
            .any(|a| a.principals == [VIEWER] && a.scope == "dev-*"),
        "{:#?}",
        ask("dev-x")
    );
    assert!(ask("prod").iter().all(|a| a.principals != [VIEWER]));
}

#[tokio::test]
async fn in_api_mode_aws_auth_is_ignored_and_said_once() {
    let (r, json) = audit_with("API", "- rolearn: arn:aws:iam::111122223333:role/old\n  username: old\n  groups: [system:masters]\n").await;
    let ignored = r.findings.iter().filter(|f| f.rule == "CHR022").count();
    assert_eq!(ignored, 1, "{:?}", rules_of(&r));
    let old = json["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["principal"] == "arn:aws:iam::111122223333:role/old")
        .unwrap();
    assert_eq!(old["state"], "ignored");
    assert!(
        rules_of(&r).contains(&"CHR001"),
        "the aws-auth text is still audited (it would apply if read again)"
    );
}

#[tokio::test]
async fn unreadable_entries_are_a_finding_not_a_silent_gap() {
    let list = mock!(aws_sdk_eks::Client::list_access_entries).then_error(|| {
        aws_sdk_eks::operation::list_access_entries::ListAccessEntriesError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("no")
                .build(),
        )
    });
    let e = entries::read_all(&eks_with(&[&list]), CLUSTER)
        .await
        .unwrap_err();
    let state = ClusterState::default();
    let snapshot = report::snapshot_of(&state, chronom_core::rbac::RuleSource::AsStored);
    let eks_state = EksState {
        cluster: facts("API"),
        access_entries: vec![],
        access_entries_error: Some(e.what.clone()),
        ..Default::default()
    };
    let r = report::build_with_eks("ctx", &state, &snapshot, Some(&eks_state));
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "CHR027")
        .expect("CHR027");
    assert!(
        f.evidence.contains("eks:ListAccessEntries") || f.evidence.contains("denied"),
        "{}",
        f.evidence
    );
}

// ---------------------------------------------------------------------------------------
// The whole flow on the real control plane, with EKS mocked.
// ---------------------------------------------------------------------------------------

fn parse(args: &[&str]) -> chronom::cli::Cli {
    use clap::Parser;
    let cp = control_plane();
    let mut argv = vec![
        "kubectl-chronom",
        "--kubeconfig",
        cp.kubeconfig.to_str().unwrap(),
        "--context",
        "chronom-admin",
    ];
    argv.extend_from_slice(args);
    chronom::cli::Cli::try_parse_from(argv).unwrap()
}

#[test]
fn grant_and_revoke_through_an_access_entry_on_the_control_plane() {
    let id = crate::support::unique_name("ae");
    let principal: &'static str =
        Box::leak(format!("arn:aws:iam::{ACCOUNT}:role/eks/{id}").into_boxed_str());
    let group = format!("{id}-group");
    let role_name = format!("{id}-role");
    let aws_auth_before =
        crate::support::cluster::get_aws_auth(control_plane()).and_then(|c| c.data);

    let cli = parse(&[
        "grant",
        "--role-arn",
        principal,
        "--group",
        &group,
        "--role-name",
        &role_name,
        "--via",
        "access-entry",
    ]);
    let chronom::cli::Command::Grant(args) = &cli.command else {
        unreachable!()
    };
    let v = chronom::flows::grant::validate(args).unwrap();
    let describe = describe_rule(principal, None);
    let g = group.clone();
    let create = mock!(aws_sdk_eks::Client::create_access_entry)
        .match_requests(move |r| {
            r.principal_arn() == Some(principal) && r.kubernetes_groups() == [g.clone()]
        })
        .then_output(|| CreateAccessEntryOutput::builder().build());
    let eks = ctx(eks_with(&[&describe, &create]), None, "API_AND_CONFIG_MAP");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        let conn = chronom::adapters::kube::connect(&cli.global).await.unwrap();
        chronom::flows::grant::execute(
            &conn,
            &v,
            chronom::flows::grant::Mapper::AccessEntry(&eks),
            Some("chosen by the test".into()),
        )
        .await
        .unwrap()
    });
    assert!(
        result.error.is_none(),
        "{:?}",
        result.error.map(|e| e.to_string())
    );
    let r = result.report.unwrap();
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["accessEntry"]["action"], "created", "{json:#}");
    assert_eq!(json["accessEntry"]["cluster"], CLUSTER);
    assert_eq!(json["awsAuth"]["action"], "unchanged");
    assert!(
        json["awsAuth"]["note"]
            .as_str()
            .unwrap()
            .contains("access entry")
    );
    assert_eq!(json["clusterRole"]["action"], "created");
    assert_eq!(json["clusterRoleBinding"]["action"], "created");
    assert!(
        r.ok && !r.verification.is_empty() && r.verification.iter().all(|c| c.ok()),
        "{json:#}"
    );
    assert_eq!(r.notes[0], "chosen by the test");
    assert_eq!(create.num_calls(), 1);
    assert!(crate::support::cluster::cluster_role(control_plane(), &role_name).is_some());
    assert_eq!(
        crate::support::cluster::get_aws_auth(control_plane()).and_then(|c| c.data),
        aws_auth_before,
        "aws-auth is not touched"
    );
    let text = chronom_core::report::write_text::render(&r);
    assert!(
        text.contains(&format!("accessentry {principal} (cluster prod) created")),
        "{text}"
    );

    // Revoke on an API-mode cluster: the entry is deleted, then the unused RBAC objects.
    let cli = parse(&[
        "revoke",
        "--role-arn",
        &role(&id),
        "--group",
        &group,
        "--role-name",
        &role_name,
    ]);
    let chronom::cli::Command::Revoke(args) = &cli.command else {
        unreachable!()
    };
    let list = mock!(aws_sdk_eks::Client::list_access_entries).then_output(move || {
        ListAccessEntriesOutput::builder()
            .access_entries(principal)
            .build()
    });
    let describe = describe_rule(
        principal,
        Some(entry(principal, &id, &[&group], "STANDARD")),
    );
    let policies = no_policies();
    let delete = mock!(aws_sdk_eks::Client::delete_access_entry)
        .match_requests(move |r| r.principal_arn() == Some(principal))
        .then_output(|| DeleteAccessEntryOutput::builder().build());
    let eks = ctx(
        eks_with(&[&list, &describe, &policies, &delete]),
        None,
        "API",
    );
    let result = rt.block_on(async {
        let conn = chronom::adapters::kube::connect(&cli.global).await.unwrap();
        chronom::flows::revoke::execute(&conn, args, &input(&role(&id)), Some(&eks))
            .await
            .unwrap()
    });
    assert!(
        result.error.is_none(),
        "{:?}",
        result.error.map(|e| e.to_string())
    );
    let json = serde_json::to_value(result.report.as_ref().unwrap()).unwrap();
    assert_eq!(json["accessEntry"]["action"], "deleted", "{json:#}");
    assert_eq!(json["accessEntry"]["name"], principal);
    assert_eq!(json["clusterRoleBinding"]["action"], "deleted");
    assert_eq!(json["clusterRole"]["action"], "deleted");
    assert!(
        json["awsAuth"]["note"]
            .as_str()
            .unwrap()
            .contains("authenticationMode is API")
    );
    assert_eq!(delete.num_calls(), 1);
    drop(rt);
    assert!(crate::support::cluster::cluster_role(control_plane(), &role_name).is_none());
    assert_eq!(
        crate::support::cluster::get_aws_auth(control_plane()).and_then(|c| c.data),
        aws_auth_before,
        "aws-auth is not touched"
    );
}

#[test]
fn a_reserved_username_is_refused_before_anything_is_read() {
    let grant_as = |username: &str| {
        parse(&[
            "grant",
            "--role-arn",
            SCANNER_WITH_PATH,
            "--username",
            username,
            "--via",
            "access-entry",
        ])
    };
    // Reserved prefixes are refused on every path, before connecting (grant::validate).
    let cli = grant_as("eks:scanner");
    let chronom::cli::Command::Grant(args) = &cli.command else {
        unreachable!()
    };
    let e = chronom::flows::grant::validate(args).expect_err("eks: is reserved");
    assert_eq!(e.exit_code, chronom_core::exit::EXIT_USAGE);
    assert!(e.what.contains("eks:"), "{e}");
    // EKS's own rule for access entries (a session name after a colon) is checked before
    // anything is read from EKS.
    let cli = grant_as("chronom{{SessionName}}");
    let chronom::cli::Command::Grant(args) = &cli.command else {
        unreachable!()
    };
    let v = chronom::flows::grant::validate(args).unwrap();
    let describe = describe_rule(SCANNER_WITH_PATH, None);
    let eks = ctx(eks_with(&[&describe]), None, "API");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(async {
            let conn = chronom::adapters::kube::connect(&cli.global).await.unwrap();
            chronom::flows::grant::execute(
                &conn,
                &v,
                chronom::flows::grant::Mapper::AccessEntry(&eks),
                None,
            )
            .await
        })
        .err()
        .expect("refused");
    assert_eq!(e.exit_code, chronom_core::exit::EXIT_USAGE);
    assert!(e.what.contains("colon"), "{e}");
    assert_eq!(describe.num_calls(), 0);
}

/// EKS rejects kubernetesGroups starting with `system:` ("The kubernetes group name ... cannot
/// start with system:"); grant says so itself, before any AWS call, instead of letting the
/// EKS error read as if the role ARN were wrong. `--allow-privileged-group` does not help.
#[test]
fn a_system_group_is_refused_before_any_aws_call() {
    let cli = parse(&[
        "grant",
        "--role-arn",
        SCANNER_WITH_PATH,
        "--group",
        "system:readers",
        "--allow-privileged-group",
        "--via",
        "access-entry",
        "--cluster",
        CLUSTER,
        "--region",
        "eu-west-1",
    ]);
    let chronom::cli::Command::Grant(args) = &cli.command else {
        unreachable!()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // `run` refuses before connecting: with --cluster, connecting is already an AWS call.
    let result = rt.block_on(chronom::flows::grant::run(&cli.global, args));
    let e = result.error.expect("refused");
    assert_eq!(e.exit_code, chronom_core::exit::EXIT_FAILED);
    assert!(
        e.what.contains("system:readers")
            && e.what.contains("cannot start with system:")
            && e.what.contains("no AWS call was made")
            && !e.what.contains("role ARN"),
        "{e}"
    );
    assert!(e.next.contains("chronomReadOnlyGroup"), "{e}");

    // --via auto that lands on an access entry: refused before DescribeAccessEntry.
    let v = chronom::flows::grant::validate(args).unwrap();
    let describe = describe_rule(SCANNER_WITH_PATH, None);
    let eks = ctx(eks_with(&[&describe]), None, "API");
    let e = rt
        .block_on(async {
            let cli = parse(&["audit"]);
            let conn = chronom::adapters::kube::connect(&cli.global).await.unwrap();
            chronom::flows::grant::execute(
                &conn,
                &v,
                chronom::flows::grant::Mapper::AccessEntry(&eks),
                None,
            )
            .await
        })
        .err()
        .expect("refused");
    assert!(e.what.contains("cannot start with system:"), "{e}");
    assert_eq!(describe.num_calls(), 0);
}

// ---------------------------------------------------------------------------------------
// revoke deletes only the entry grant creates (decision 6 in docs/decisions.md; docs/ownership.md).
// ---------------------------------------------------------------------------------------

/// revoke through `revoke::execute` on the real control plane (API mode: aws-auth is not
/// read), with the role's entry `live` and its policies as EKS answers them. Returns the
/// result and how many DeleteAccessEntry calls were made.
fn revoke_entry(
    live: AccessEntry,
    policies: Vec<AssociatedAccessPolicy>,
    extra: &[&str],
) -> (
    Result<chronom_core::outcome::RunResult, chronom_core::error::UserError>,
    usize,
) {
    let id = crate::support::unique_name("aerevoke");
    let principal: &'static str =
        Box::leak(format!("arn:aws:iam::{ACCOUNT}:role/eks/{id}").into_boxed_str());
    let live = AccessEntry::builder()
        .set_cluster_name(live.cluster_name().map(str::to_string))
        .principal_arn(principal)
        .set_username(live.username().map(str::to_string))
        .set_kubernetes_groups(Some(live.kubernetes_groups().to_vec()))
        .set_type(live.r#type().map(str::to_string))
        .build();
    let mut args = vec![
        "revoke",
        "--role-arn",
        principal,
        "--group",
        "readers",
        "--role-name",
        &id,
    ];
    args.extend_from_slice(extra);
    let cli = parse(&args);
    let chronom::cli::Command::Revoke(args) = &cli.command else {
        unreachable!()
    };
    let list = mock!(aws_sdk_eks::Client::list_access_entries).then_output(move || {
        ListAccessEntriesOutput::builder()
            .access_entries(principal)
            .build()
    });
    let describe = describe_rule(principal, Some(live));
    let listed =
        mock!(aws_sdk_eks::Client::list_associated_access_policies).then_output(move || {
            ListAssociatedAccessPoliciesOutput::builder()
                .set_associated_access_policies(Some(policies.clone()))
                .build()
        });
    let delete = mock!(aws_sdk_eks::Client::delete_access_entry)
        .then_output(|| DeleteAccessEntryOutput::builder().build());
    let eks = ctx(eks_with(&[&list, &describe, &listed, &delete]), None, "API");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        let conn = chronom::adapters::kube::connect(&cli.global).await.unwrap();
        chronom::flows::revoke::execute(&conn, args, &input(principal), Some(&eks)).await
    });
    (result, delete.num_calls())
}

#[test]
fn revoke_never_deletes_a_node_entry_or_a_cluster_admin_entry() {
    let cases: Vec<(&str, AccessEntry, Vec<AssociatedAccessPolicy>)> = vec![
        (
            "EC2_LINUX",
            entry("x", "system:node:{{EC2PrivateDNSName}}", &[], "EC2_LINUX"),
            vec![],
        ),
        (
            "FARGATE_LINUX",
            entry("x", "system:node:{{SessionName}}", &[], "FARGATE_LINUX"),
            vec![],
        ),
        // SageMaker HyperPod nodes' type is not STANDARD either.
        (
            "HYPERPOD_LINUX",
            entry("x", "hp", &["readers"], "HYPERPOD_LINUX"),
            vec![],
        ),
        (
            "AmazonEKSClusterAdminPolicy",
            entry("x", "scanner", &["readers"], "STANDARD"),
            vec![association("AmazonEKSClusterAdminPolicy", None)],
        ),
    ];
    for (what, live, policies) in cases {
        for force in [false, true] {
            let extra: &[&str] = if force {
                &["--force-remove-foreign-entry"]
            } else {
                &[]
            };
            let (result, deletes) = revoke_entry(live.clone(), policies.clone(), extra);
            let e = result
                .err()
                .unwrap_or_else(|| panic!("{what}: not refused"));
            assert_eq!(e.exit_code, chronom_core::exit::EXIT_FAILED, "{what}");
            assert!(
                e.what.contains("refusing to delete the access entry")
                    && e.what.contains(what)
                    && e.next.contains("no flag"),
                "{what} force={force}: {e}"
            );
            assert_eq!(deletes, 0, "{what} force={force}: nothing deleted");
        }
    }
}

#[test]
fn revoke_deletes_a_foreign_standard_entry_only_with_the_override() {
    for (what, live, policies) in [
        (
            "another group",
            entry("x", "scanner", &["readers", "deployers"], "STANDARD"),
            vec![],
        ),
        (
            "a policy",
            entry("x", "scanner", &["readers"], "STANDARD"),
            vec![association("AmazonEKSViewPolicy", Some(&["apps"]))],
        ),
    ] {
        let (result, deletes) = revoke_entry(live.clone(), policies.clone(), &[]);
        let e = result
            .err()
            .unwrap_or_else(|| panic!("{what}: not refused"));
        assert!(
            e.what.contains("it is not the entry grant creates")
                && e.next.contains("--force-remove-foreign-entry"),
            "{what}: {e}"
        );
        assert_eq!(deletes, 0, "{what}");
        let (result, deletes) = revoke_entry(
            live,
            policies,
            &["--force-remove-foreign-entry", "--keep-rbac"],
        );
        let r = result.unwrap();
        assert!(
            r.error.is_none(),
            "{what}: {:?}",
            r.error.map(|e| e.to_string())
        );
        let report = r.report.unwrap();
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("deleted because of --force-remove-foreign-entry")),
            "{what}: {:?}",
            report.notes
        );
        assert_eq!(deletes, 1, "{what}");
    }
    // What grant creates goes without any flag.
    let (result, deletes) = revoke_entry(
        entry("x", "scanner", &["readers"], "STANDARD"),
        vec![],
        &["--keep-rbac"],
    );
    assert!(result.unwrap().error.is_none());
    assert_eq!(deletes, 1);
}

#[tokio::test]
async fn revoke_stops_when_the_entry_policies_cannot_be_read() {
    let list = list_rule(&[SCANNER_WITH_PATH]);
    let ours = describe_rule(
        SCANNER_WITH_PATH,
        Some(entry(SCANNER_WITH_PATH, "scanner", &["g"], "STANDARD")),
    );
    let denied = mock!(aws_sdk_eks::Client::list_associated_access_policies).then_error(|| {
        aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized")
                .build(),
        )
    });
    let c = ctx(eks_with(&[&list, &ours, &denied]), None, "API");
    let e = entries::prepare_revoke(&c, &input(&role("scanner")), "g", true)
        .await
        .unwrap_err();
    assert!(
        e.what.contains("AWS denied it") && e.next.contains("eks:ListAssociatedAccessPolicies"),
        "{e}"
    );
}
