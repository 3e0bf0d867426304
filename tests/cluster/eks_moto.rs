//! `--cluster` and `kubectl chronom token` against AWS played by moto (server mode, loopback),
//! and the resulting connection against the real test control plane.
//!
//! What is proven where:
//! - botocore (the library behind `aws eks get-token`) signs byte-identical tokens for the same
//!   keys, time, region and cluster: our signature is the one STS accepts from the aws CLI.
//! - moto: the token command's credential chain, STS GetCallerIdentity (-v), AssumeRole with
//!   `--role-arn`, DescribeCluster and ListClusters, and the error texts.
//! - control plane, in process: a Connection built from DescribeCluster-shaped data (its endpoint
//!   and CA) authenticates through an exec plugin. The control plane cannot ask STS about an EKS
//!   token, so that test uses its own static-token plugin instead of ours.
//! - control plane, whole binary: `--cluster` with moto answering DescribeCluster (endpoint and CA
//!   of the control plane) verifies TLS with that CA, runs our own `token` command as the exec
//!   plugin, and presents its token, which the control plane rejects as unknown (401).
//!   Only a real EKS cluster can accept the token; that step is covered by the botocore test.

use std::process::{Command, Output, Stdio};

use crate::support::moto::{ACCESS_KEY, ACCOUNT, Moto, SECRET_KEY, check_token};
use crate::support::{ControlPlane, unique_name};
use aws_credential_types::Credentials;
use aws_sdk_eks::types::VpcConfigRequest;
use chronom::adapters::aws::cluster::{self, EksCluster};
use chronom::adapters::aws::{identity, token};
use chronom::adapters::kube::eks_connection::{self, ExecPlugin};
use chronom_core::eks::diagnosis::EndpointAccess;
use chronom_core::eks::posture::ClusterFacts;
use clap::Parser;
use jiff::Timestamp;

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

/// This module's own moto server (support::moto::for_module).
fn moto() -> &'static Moto {
    crate::support::moto::for_module(module_path!())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn exec_credential(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    serde_json::from_slice(&o.stdout).expect("stdout is the ExecCredential JSON")
}

fn vpc(public: bool, private: bool, cidrs: &[&str]) -> VpcConfigRequest {
    let mut v = VpcConfigRequest::builder()
        .subnet_ids("subnet-0123")
        .endpoint_public_access(public)
        .endpoint_private_access(private);
    for c in cidrs {
        v = v.public_access_cidrs(*c);
    }
    v.build()
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn botocore_signs_the_same_tokens() {
    // The signer of `aws eks get-token` (awscli's TokenGenerator on botocore), at a frozen time.
    const BOTOCORE: &str = r#"
import datetime, json, sys
import botocore.auth, botocore.session
botocore.auth.get_current_datetime = lambda remove_tzinfo=True: datetime.datetime(2026, 3, 1, 12, 34, 56)
out = []
for case in json.loads(sys.argv[1]):
    sts = botocore.session.get_session().create_client(
        "sts", region_name=case["region"], aws_access_key_id=case["key"],
        aws_secret_access_key=case["secret"], aws_session_token=case["session"])
    def keep(params, context, **kw):
        context["x-k8s-aws-id"] = params.pop("x-k8s-aws-id")
    def inject(request, **kw):
        request.headers["x-k8s-aws-id"] = request.context["x-k8s-aws-id"]
    sts.meta.events.register("provide-client-params.sts.GetCallerIdentity", keep)
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", inject)
    out.append(sts.generate_presigned_url("get_caller_identity", Params={"x-k8s-aws-id": case["cluster"]}, ExpiresIn=60, HttpMethod="GET"))
print(json.dumps(out))
"#;
    let session = "FwoGZXIvYXdzEJr//////////wEaDExample+Session/Token=";
    let cases: Vec<serde_json::Value> = [
        ("us-east-1", "demo", None),
        ("us-east-1", "demo", Some(session)),
        ("eu-west-1", "prod_eu-1", Some(session)),
        ("ap-southeast-3", "x", None),
        ("us-gov-west-1", "gov", None),
        ("cn-north-1", "china", Some(session)),
        ("cn-northwest-1", "china", None),
    ]
    .iter()
    .map(|(region, cluster, session)| {
        serde_json::json!({"region": region, "cluster": cluster, "key": ACCESS_KEY, "secret": SECRET_KEY, "session": session})
    })
    .collect();
    let python =
        crate::support::moto::python().unwrap_or_else(|e| panic!("no Python with botocore: {e}"));
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config"), "").unwrap();
    std::fs::write(home.path().join("credentials"), "").unwrap();
    let mut cmd = Command::new(&python);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    let out = cmd
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .args([
            "-c",
            BOTOCORE,
            &serde_json::Value::from(cases.clone()).to_string(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "botocore failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let urls: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    let at: Timestamp = "2026-03-01T12:34:56Z".parse().unwrap();
    for (case, botocore_url) in cases.iter().zip(&urls) {
        let creds = Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            case["session"].as_str().map(str::to_owned),
            None,
            "test",
        );
        let ours = token::presigned_url(
            &creds,
            case["region"].as_str().unwrap(),
            case["cluster"].as_str().unwrap(),
            at,
        )
        .unwrap();
        assert!(
            &ours == botocore_url,
            "our presigned URL differs from botocore's for {} / {}",
            case["region"],
            case["cluster"]
        );
    }
    assert_eq!(urls.len(), cases.len());
}

#[test]
fn token_command_signs_with_the_chain_and_names_the_caller_at_v() {
    let o = moto().chronom("eu-west-1", &["-v", "token", "--cluster", "demo"]);
    let v = exec_credential(&o);
    let checked = check_token(
        v["status"]["token"].as_str().unwrap(),
        "aws",
        Timestamp::now(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(checked.host, "sts.eu-west-1.amazonaws.com");
    assert_eq!(checked.access_key, ACCESS_KEY);
    let err = stderr(&o);
    assert!(
        err.contains("signing the token as")
            && err.contains(&format!("arn=arn:aws:sts::{ACCOUNT}:user/moto")),
        "{err}"
    );
}

#[test]
fn role_arn_assumes_the_role_and_signs_with_its_session() {
    let role = format!(
        "arn:aws:iam::{ACCOUNT}:role/{}",
        unique_name("chronom-reader")
    );
    let o = moto().chronom(
        "us-west-2",
        &["-v", "token", "--cluster", "demo", "--role-arn", &role],
    );
    let v = exec_credential(&o);
    let checked = check_token(
        v["status"]["token"].as_str().unwrap(),
        "aws",
        Timestamp::now(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(checked.host, "sts.us-west-2.amazonaws.com");

    // moto's record of the session it issued for this role is what signed the token.
    let sessions: Vec<_> = moto()
        .assumed_roles()
        .into_iter()
        .filter(|s| s["role_arn"] == role.as_str())
        .collect();
    assert_eq!(sessions.len(), 1, "exactly one AssumeRole for {role}");
    let session = &sessions[0];
    assert_eq!(session["session_name"], "kubectl-chronom");
    assert_ne!(checked.access_key, ACCESS_KEY);
    assert!(
        session["access_key_id"] == checked.access_key.as_str(),
        "the token is signed with the assumed role's key"
    );
    assert!(
        session["session_token"] == checked.param("X-Amz-Security-Token"),
        "the token carries the role session's token"
    );

    // With -v, STS says who the token identifies.
    let role_name = role.rsplit('/').next().unwrap();
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "arn=arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/kubectl-chronom"
        )),
        "{err}"
    );
}

/// A context whose exec plugin assumes a role (`get-token --role`, the authenticator's `-r`) is
/// read on the AWS side as that role: moto's STS AssumeRole with the base credentials, then
/// every call (here GetCallerIdentity) with the role's session. Before, it was the base identity.
#[test]
fn the_eks_side_is_read_as_the_role_the_plugin_assumes() {
    let role_name = unique_name("eks-admin");
    let role = format!("arn:aws:iam::{ACCOUNT}:role/{role_name}");
    let caller = rt()
        .block_on(async {
            // Loaded as the link loads it (aws_config's loader), pointed at moto.
            let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("eu-west-1"))
                .endpoint_url(&moto().endpoint)
                .http_client(chronom::adapters::aws::http_client())
                .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto"))
                .load()
                .await;
            let sdk = chronom::adapters::aws::assuming(&base, &role).await;
            identity::caller(&sdk).await
        })
        .unwrap();
    assert_eq!(
        caller.arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/kubectl-chronom")
    );
    let sessions = moto()
        .assumed_roles()
        .into_iter()
        .filter(|s| s["role_arn"] == role.as_str())
        .count();
    assert_eq!(sessions, 1, "one AssumeRole for {role}");
}

#[test]
fn caller_identity_from_sts() {
    let caller = rt()
        .block_on(identity::caller(&moto().sdk("us-east-1")))
        .unwrap();
    assert_eq!(caller.account, ACCOUNT);
    assert_eq!(caller.arn, format!("arn:aws:sts::{ACCOUNT}:user/moto"));
    assert!(!caller.user_id.is_empty());
}

#[test]
fn describe_cluster_reads_endpoint_ca_and_network_access() {
    let m = moto();
    let (open, private, limited) = (
        unique_name("open"),
        unique_name("private"),
        unique_name("limited"),
    );
    let region = "eu-central-1";
    let (o, p, l) = rt().block_on(async {
        m.create_cluster(region, &open, vpc(true, false, &[]), None)
            .await;
        m.create_cluster(region, &private, vpc(false, true, &[]), None)
            .await;
        m.create_cluster(
            region,
            &limited,
            vpc(true, true, &["203.0.113.0/24", "198.51.100.7/32"]),
            None,
        )
        .await;
        let sdk = m.sdk(region);
        (
            cluster::describe(&sdk, region, &open).await.unwrap(),
            cluster::describe(&sdk, region, &private).await.unwrap(),
            cluster::describe(&sdk, region, &limited).await.unwrap(),
        )
    });
    assert_eq!(o.name(), open);
    assert_eq!(o.region, region);
    assert_eq!(
        o.facts.arn,
        Some(format!("arn:aws:eks:{region}:{ACCOUNT}:cluster/{open}"))
    );
    assert_eq!(o.status, "ACTIVE");
    assert!(
        o.endpoint.starts_with("https://")
            && o.endpoint.contains(&format!(".{region}.eks.amazonaws.com")),
        "{}",
        o.endpoint
    );
    assert!(!o.certificate_authority_data.is_empty());
    assert_eq!(o.context_name(), format!("eks:{region}/{open}"));
    assert_eq!(
        chronom::adapters::kube::infer::region_from_endpoint(&o.endpoint).as_deref(),
        Some(region)
    );
    assert_eq!(o.endpoint_access(), EndpointAccess::Open);
    assert_eq!(p.endpoint_access(), EndpointAccess::PrivateOnly);
    assert_eq!(
        l.endpoint_access(),
        EndpointAccess::PublicFrom(vec!["203.0.113.0/24".into(), "198.51.100.7/32".into()])
    );
    assert!(l.facts.endpoint_private_access);
}

#[test]
fn cluster_not_found_lists_the_clusters_of_the_region() {
    let m = moto();
    let region = "ap-south-1";
    let (a, b) = (unique_name("alpha"), unique_name("beta"));
    rt().block_on(async {
        m.create_cluster(region, &a, vpc(true, false, &[]), None)
            .await;
        m.create_cluster(region, &b, vpc(true, false, &[]), None)
            .await;
    });
    // In process.
    let err = rt()
        .block_on(cluster::describe(&m.sdk(region), region, "nope"))
        .unwrap_err();
    assert!(
        err.what.contains(&format!(
            "no EKS cluster named \"nope\" in {region} of account {ACCOUNT}"
        )),
        "{err}"
    );
    assert!(
        err.next.contains(&a) && err.next.contains(&b) && err.next.contains("--cluster"),
        "{err}"
    );
    // Through the binary: connect() goes through EKS when --cluster is given.
    let o = m.chronom(region, &["--cluster", "nope", "audit"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert!(
        e.contains("no EKS cluster named \"nope\"") && e.contains(&a),
        "{e}"
    );
    // A region with no clusters says so.
    let o = m.chronom("sa-east-1", &["--cluster", "nope", "audit"]);
    let e = stderr(&o);
    assert!(
        e.contains("there are no clusters in sa-east-1") && e.contains("--region"),
        "{e}"
    );
}

#[test]
fn unreachable_private_endpoint_says_to_run_from_the_vpc() {
    let m = moto();
    let region = "eu-west-3";
    let name = unique_name("private");
    let endpoint = format!("https://127.0.0.1:{}", closed_port());
    rt().block_on(m.create_cluster(
        region,
        &name,
        vpc(false, true, &[]),
        Some((&endpoint, "bm90LWEtY2E=")),
    ));
    let o = m.chronom(region, &["--cluster", &name, "audit"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let e = stderr(&o);
    assert!(
        e.contains("endpointPublicAccess=false") && e.contains("inside the cluster's VPC"),
        "{e}"
    );
}

#[test]
fn unreachable_cidr_limited_endpoint_names_the_cidrs() {
    let m = moto();
    let region = "eu-west-3";
    let name = unique_name("limited");
    let endpoint = format!("https://127.0.0.1:{}", closed_port());
    rt().block_on(m.create_cluster(
        region,
        &name,
        vpc(true, false, &["203.0.113.0/24"]),
        Some((&endpoint, "bm90LWEtY2E=")),
    ));
    let o = m.chronom(region, &["--cluster", &name, "audit"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let e = stderr(&o);
    assert!(
        e.contains("only accepts 203.0.113.0/24") && e.contains("public IP"),
        "{e}"
    );
}

#[test]
fn unusable_certificate_authority_is_reported_before_connecting() {
    // moto answers DescribeCluster with 1400 random characters as the CA.
    let m = moto();
    let region = "eu-north-1";
    let name = unique_name("badca");
    rt().block_on(m.create_cluster(region, &name, vpc(true, false, &[]), None));
    let o = m.chronom(region, &["--cluster", &name, "audit"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let e = stderr(&o);
    assert!(
        e.contains("unusable certificate authority") && e.contains("aws eks describe-cluster"),
        "{e}"
    );
}

#[test]
fn cluster_and_context_are_alternatives() {
    let o = moto().chronom("us-east-1", &["--cluster", "x", "--context", "y", "audit"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("cannot be combined with --context"));
}

/// The control plane as DescribeCluster would describe it, and its own exec plugin.
fn control_plane_as_eks() -> (EksCluster, ExecPlugin) {
    eks_stand_in(control_plane())
}

/// A control plane as DescribeCluster would describe it (its endpoint and CA), and the
/// static-token plugin it accepts in place of an EKS token. fleet_scale uses it too.
pub(crate) fn eks_stand_in(cp: &ControlPlane) -> (EksCluster, ExecPlugin) {
    let kc = kube::config::Kubeconfig::read_from(&cp.kubeconfig).unwrap();
    let cl = kc
        .clusters
        .iter()
        .find(|c| c.name == "chronom")
        .and_then(|c| c.cluster.clone())
        .expect("cluster chronom");
    let exec = kc
        .auth_infos
        .iter()
        .find(|a| a.name == "chronom-eks")
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.exec.clone())
        .expect("user chronom-eks has an exec plugin");
    let cluster = EksCluster {
        region: "us-east-1".into(),
        status: "ACTIVE".into(),
        endpoint: cl.server.expect("server"),
        certificate_authority_data: cl
            .certificate_authority_data
            .expect("certificate-authority-data"),
        facts: ClusterFacts {
            name: "chronom".into(),
            arn: Some(format!("arn:aws:eks:us-east-1:{ACCOUNT}:cluster/chronom")),
            region: Some("us-east-1".into()),
            endpoint_public_access: true,
            endpoint_private_access: false,
            public_access_cidrs: vec!["0.0.0.0/0".into()],
            authentication_mode: Some("API_AND_CONFIG_MAP".into()),
            ..Default::default()
        },
        local_cluster_id: None,
    };
    let plugin = ExecPlugin {
        command: exec.command.expect("command").into(),
        args: exec.args.unwrap_or_default(),
    };
    (cluster, plugin)
}

fn global(args: &[&str]) -> chronom::cli::GlobalArgs {
    let argv = ["kubectl-chronom"].iter().chain(args).chain(&["token"]);
    chronom::cli::Cli::try_parse_from(argv)
        .expect("valid flags")
        .global
}

#[test]
fn eks_connection_authenticates_to_the_control_plane_through_an_exec_plugin() {
    let (cluster, plugin) = control_plane_as_eks();
    rt().block_on(async {
        let conn = eks_connection::connection_for(
            &cluster,
            &plugin,
            &global(&["--request-timeout", "20"]),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(conn.context, "eks:us-east-1/chronom");
        assert_eq!(conn.default_namespace, "default");
        let cms = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(
            conn.client.clone(),
            "kube-system",
        );
        let aws_auth = conn
            .get_opt(&cms, "aws-auth", "configmap kube-system/")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            aws_auth.is_some(),
            "the seeded aws-auth is readable as kubernetes-admin"
        );
    });
}

#[test]
fn eks_connection_with_another_ca_refuses_the_server() {
    let (mut cluster, plugin) = control_plane_as_eks();
    cluster.certificate_authority_data =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, UNRELATED_CA);
    rt().block_on(async {
        let conn = eks_connection::connection_for(
            &cluster,
            &plugin,
            &global(&["--request-timeout", "10"]),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let cms = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(
            conn.client.clone(),
            "kube-system",
        );
        let err = conn
            .get_opt(&cms, "aws-auth", "configmap kube-system/")
            .await
            .unwrap_err()
            .to_string()
            .to_lowercase();
        assert!(err.contains("certificate") || err.contains("tls"), "{err}");
    });
}

#[test]
fn cluster_flag_end_to_end_runs_our_token_plugin_against_the_control_plane() {
    let (cp, _) = control_plane_as_eks();
    let m = moto();
    let region = "us-east-2";
    let name = unique_name("cp");
    // Limited to loopback, so connect also probes the endpoint (and finds it).
    rt().block_on(m.create_cluster(
        region,
        &name,
        vpc(true, false, &["127.0.0.0/8"]),
        Some((&cp.endpoint, &cp.certificate_authority_data)),
    ));
    let o = m.chronom(
        region,
        &["--request-timeout", "20", "--cluster", &name, "audit"],
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // TLS was verified with DescribeCluster's CA, our token command ran as the exec plugin (a
    // failing plugin stops the client from being built), and its token was presented: the
    // control plane answers 401 for an unknown bearer token (403 would mean anonymous).
    assert!(
        e.contains(&cp.endpoint) && e.contains("401 Unauthorized"),
        "{e}"
    );
    assert!(
        !e.contains("cannot build a client") && !e.to_lowercase().contains("certificate"),
        "{e}"
    );
    // The diagnosis names the cluster (not a kubeconfig context) and the caller STS reports,
    // and says how to map it; moto has no CloudTrail LookupEvents, which costs one sentence.
    assert!(
        e.contains(&format!("EKS cluster {name} in {region} ({})", cp.endpoint)),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "rejected the token of arn:aws:sts::{ACCOUNT}:user/moto"
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "aws eks create-access-entry --cluster-name {name} --region {region}"
        )),
        "{e}"
    );
    assert!(
        e.contains(
            "who else used this cluster recently is unknown: CloudTrail LookupEvents failed"
        ),
        "{e}"
    );
    assert!(!e.contains("kubeconfig"), "{e}");
}

/// A self-signed CA (EC P-256, valid until 2126) unrelated to the control plane's.
const UNRELATED_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBoDCCAUWgAwIBAgIUF3JNKmeGlKEP/vNChodlQmo81PgwCgYIKoZIzj0EAwIw
JDEiMCAGA1UEAwwZY2hyb25vbS10ZXN0LXVucmVsYXRlZC1jYTAgFw0yNjExMjMx
MzA1MjZaGA8yMTI2MTAzMDEzMDUyNlowJDEiMCAGA1UEAwwZY2hyb25vbS10ZXN0
LXVucmVsYXRlZC1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHsgHfChMuzO
igflA7v7qNowN9GHWJ6MRpEpCCgSiMxdWIMKHmZhy2KihDtbVK2TjGOHUOHBWXlo
F8MpvI3hclOjUzBRMB0GA1UdDgQWBBSWFfmiz/ZUS/bTC4KER573DdwXijAfBgNV
HSMEGDAWgBSWFfmiz/ZUS/bTC4KER573DdwXijAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0kAMEYCIQC7sHKezIc5SuHDQQDG4M6D0/D9+iAVpnXnLyVMg0do
MAIhAN+/EH8iL2TSzrv5kNGwPg3VlTGcVBbaUHvjLUbfJImI
-----END CERTIFICATE-----
";

// ---------------------------------------------------------------------------------------------
// A kubeconfig context that points at EKS: the cluster is inferred, its EKS side read.

/// A kubeconfig as `aws eks update-kubeconfig` writes it for `cluster` in `region`: the
/// endpoint DescribeCluster returned (never resolvable here) and `aws eks get-token` args. The
/// command is the control plane's stand-in for `aws` (kube runs the plugin when it builds the
/// client, and there are no AWS credentials for a real `aws` here).
fn eks_kubeconfig(dir: &std::path::Path, cluster: &EksCluster) -> std::path::PathBuf {
    let arn = cluster.facts.arn.clone().unwrap();
    let (_, stand_in) = control_plane_as_eks();
    let yaml = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: {arn}
  cluster: {{server: "{endpoint}", certificate-authority-data: "{ca}"}}
users:
- name: {arn}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: {command}
      args: [--region, {region}, eks, get-token, --cluster-name, {name}, --output, json]
contexts:
- name: prod
  context: {{cluster: "{arn}", user: "{arn}"}}
current-context: prod
"#,
        endpoint = cluster.endpoint,
        ca = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, UNRELATED_CA),
        region = cluster.region,
        name = cluster.name(),
        command = stand_in.command.display(),
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// An inferred link with another AWS configuration: the one substitution these tests make
/// (the process environment, which the real link reads, is not the tests' to change).
fn with_sdk(conn: &mut chronom::adapters::kube::Connection, sdk: aws_config::SdkConfig) {
    let link = conn
        .eks
        .as_ref()
        .expect("the context is inferred to be EKS");
    conn.eks = Some(std::sync::Arc::new(cluster::EksLink {
        sdk,
        ..(**link).clone()
    }));
}

#[test]
fn a_context_on_an_eks_endpoint_reads_the_eks_side_of_its_cluster() {
    use chronom::cli::MappingVia;
    use chronom::flows::via::{self, MapWith};
    let m = moto();
    let region = "eu-west-2";
    let name = unique_name("inferred");
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, described) = rt().block_on(async {
        m.create_cluster_with_mode(region, &name, vpc(false, true, &[]), None, Some("API"))
            .await;
        let described = cluster::describe(&m.sdk(region), region, &name)
            .await
            .unwrap();
        let kubeconfig = eks_kubeconfig(dir.path(), &described);
        let conn = chronom::adapters::kube::connect(&global(&[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--request-timeout",
            "5",
        ]))
        .await
        .unwrap();
        (conn, described)
    });
    let link = conn
        .eks
        .clone()
        .expect("inferred from the exec plugin and the endpoint");
    assert_eq!(
        (
            link.name.as_str(),
            link.region.as_str(),
            link.inferred_from.as_deref()
        ),
        (name.as_str(), region, Some("prod"))
    );
    assert!(
        link.described.is_none(),
        "nothing is asked of AWS until a command needs it"
    );
    with_sdk(&mut conn, m.sdk(region));

    rt().block_on(async {
        // grant --via auto: the mode DescribeCluster reports decides.
        let side = via::side(&conn).await;
        let ctx = side.ctx.as_ref().expect("DescribeCluster answered");
        assert_eq!(ctx.cluster.name, name);
        assert_eq!(ctx.cluster.authentication_mode.as_deref(), Some("API"));
        assert!(side.unreadable.is_none());
        assert!(side.notes[0].contains(&format!("context \"prod\" is EKS cluster {name} in {region}")), "{:?}", side.notes);
        let choice = via::choose(MappingVia::Auto, Some(&ctx.cluster), None).unwrap();
        assert_eq!(choice.with, MapWith::AccessEntry);

        // The audit reads the same EKS side: the facts, and (moto has no access entries API)
        // the reason the entries are missing, which the report turns into CHR027.
        let state = chronom::flows::audit::read_eks(&conn).await.expect("an EKS side");
        assert_eq!(state.cluster.name, name);
        assert!(state.access_entries_error.is_some());

        // who-can and lookup read it as well: in API mode, aws-auth mappings count for nothing.
        let aws_auth = std::collections::BTreeMap::from([("mapRoles".to_string(), format!("- rolearn: arn:aws:iam::{ACCOUNT}:role/admin\n  username: admin\n  groups: [system:masters]\n"))]);
        let mut mappings = chronom_core::audit::inventory::from_aws_auth(&aws_auth).mappings;
        let mut objects = chronom_core::rbac::RbacObjects::default();
        chronom::flows::audit::mapping_source::add_from(&conn, &mut mappings, &mut objects).await;
        assert_eq!(mappings.iter().map(|m| (m.active, m.state)).collect::<Vec<_>>(), [(false, "ignored")]);

        // A failed request is explained with the cluster's own settings, named by context.
        let cms = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(conn.client.clone(), "kube-system");
        let err = conn.get_opt(&cms, "aws-auth", "configmap kube-system/").await.unwrap_err();
        assert!(err.what.contains(&format!("context \"prod\" (EKS cluster {name} in {region})")), "{err}");
        assert!(err.what.contains(&described.endpoint), "{err}");
        assert!(!err.next.contains("kubeconfig"), "{err}");
    });
}

#[test]
fn without_aws_credentials_an_eks_context_falls_back_to_aws_auth_and_says_why() {
    use chronom::cli::MappingVia;
    use chronom::flows::via::{self, MapWith};
    let m = moto();
    let region = "eu-west-2";
    let name = unique_name("nocreds");
    let dir = tempfile::tempdir().unwrap();
    let mut conn = rt().block_on(async {
        m.create_cluster_with_mode(
            region,
            &name,
            vpc(true, false, &[]),
            None,
            Some("API_AND_CONFIG_MAP"),
        )
        .await;
        let described = cluster::describe(&m.sdk(region), region, &name)
            .await
            .unwrap();
        let kubeconfig = eks_kubeconfig(dir.path(), &described);
        chronom::adapters::kube::connect(&global(&["--kubeconfig", kubeconfig.to_str().unwrap()]))
            .await
            .unwrap()
    });
    // The same moto, but no credentials at all.
    let no_credentials = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .endpoint_url(&m.endpoint)
        .http_client(chronom::adapters::aws::http_client())
        .build();
    with_sdk(&mut conn, no_credentials);
    rt().block_on(async {
        let side = via::side(&conn).await;
        assert!(side.ctx.is_none());
        let why = side.unreadable.as_ref().expect("says why");
        assert!(why.what.contains(&format!("the EKS side of context \"prod\" (EKS cluster {name} in {region}) could not be read")), "{why}");
        assert!(why.what.contains("credential") && why.next.contains("--profile"), "{why}");
        assert!(side.notes[0].contains("working with the kubeconfig alone (aws-auth and RBAC)"), "{:?}", side.notes);

        let choice = via::choose(MappingVia::Auto, None, side.unreadable.as_ref()).unwrap();
        assert_eq!(choice.with, MapWith::AwsAuth);
        assert!(choice.note.unwrap().contains("If it is API, EKS ignores aws-auth"));
        let refused = via::choose(MappingVia::AccessEntry, None, side.unreadable.as_ref()).unwrap_err();
        assert!(refused.what.contains("--via access-entry needs the EKS API") && refused.next.contains("--via aws-auth"), "{refused}");
        assert!(chronom::flows::audit::read_eks(&conn).await.is_none());
    });
}

#[test]
fn the_control_planes_look_alike_eks_context_is_not_eks_and_changes_nothing() {
    // Its user runs a stand-in for `aws eks get-token --cluster-name chronom`, on a loopback
    // server: the binary must not take it for an EKS cluster (AWS is moto here, so a wrong
    // guess would show as a note or an EKS section rather than as a real AWS call).
    let cp = control_plane();
    let m = moto();
    let kubeconfig = cp.kubeconfig.to_str().unwrap();
    let o = m.chronom(
        "us-east-1",
        &[
            "--kubeconfig",
            kubeconfig,
            "--context",
            "chronom-eks",
            "audit",
            "-o",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["source"], "chronom-eks");
    assert!(
        report.get("eks").is_none(),
        "no EKS section for a non-EKS server: {report:#}"
    );
    assert!(!stderr(&o).contains("note:"), "{}", text(&o));

    let role = format!("arn:aws:iam::{ACCOUNT}:role/{}", unique_name("lookalike"));
    let o = m.chronom(
        "us-east-1",
        &[
            "--kubeconfig",
            kubeconfig,
            "--context",
            "chronom-eks",
            "grant",
            "--role-arn",
            &role,
            "--dry-run",
            "-o",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let notes = report["notes"].as_array().unwrap();
    assert!(notes.iter().any(|n| n.as_str().unwrap().contains("--via auto used aws-auth: no EKS cluster is known (the context's server is not an EKS endpoint")), "{report:#}");
    assert!(
        report.get("accessEntry").is_none_or(|a| a.is_null()),
        "{report:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// The fleet: ListClusters and DescribeCluster from moto, every cluster's endpoint and CA the
// real control plane's; only the token plugin is the control plane's stand-in.

fn fleet_env() -> chronom::flows::fleet::FleetEnv {
    let (_, plugin) = control_plane_as_eks();
    chronom::flows::fleet::FleetEnv {
        sdk: moto().sdk("us-east-1"),
        token_plugin: std::sync::Arc::new(
            move |_: &EksCluster, _: Option<&str>| Ok(plugin.clone()),
        ),
    }
}

#[test]
fn all_clusters_audits_every_cluster_into_one_report_and_a_failing_one_is_a_row() {
    use chronom::flows::fleet;
    use chronom_core::audit::findings::Severity;
    let (cp, _) = control_plane_as_eks();
    let m = moto();
    // Regions no other test of this binary creates clusters in.
    let (busy, quiet) = ("ca-central-1", "ap-northeast-2");
    let good: Vec<String> = (0..6).map(|i| unique_name(&format!("fleet{i}"))).collect();
    let other: Vec<String> = (0..2).map(|i| unique_name(&format!("other{i}"))).collect();
    let walled = unique_name("walled");
    let unreachable = format!("https://127.0.0.1:{}", closed_port());
    rt().block_on(async {
        for (i, name) in good.iter().enumerate() {
            let mode = (i == 0).then_some("API_AND_CONFIG_MAP");
            m.create_cluster_with_mode(
                busy,
                name,
                vpc(true, false, &[]),
                Some((&cp.endpoint, &cp.certificate_authority_data)),
                mode,
            )
            .await;
        }
        for name in &other {
            m.create_cluster(
                quiet,
                name,
                vpc(true, false, &[]),
                Some((&cp.endpoint, &cp.certificate_authority_data)),
            )
            .await;
        }
        m.create_cluster(
            busy,
            &walled,
            vpc(true, false, &["203.0.113.0/24"]),
            Some((&unreachable, &cp.certificate_authority_data)),
        )
        .await;
    });
    let env = fleet_env();
    let g = global(&["--request-timeout", "20"]);
    let regions = vec![busy.to_string(), quiet.to_string()];
    let started = std::time::Instant::now();
    let report = rt()
        .block_on(fleet::collect(&env, &g, &regions, false, false))
        .unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    eprintln!(
        "fleet: {} clusters in 2 regions audited in {took:?}",
        report.clusters.len()
    );

    assert_eq!(
        report
            .regions
            .iter()
            .map(|r| (r.region.as_str(), r.clusters, r.error.is_none()))
            .collect::<Vec<_>>(),
        [(busy, 7, true), (quiet, 2, true)]
    );
    assert_eq!(report.clusters.len(), 9);
    for name in good.iter().chain(&other) {
        let row = report
            .clusters
            .iter()
            .find(|c| &c.cluster == name)
            .unwrap_or_else(|| panic!("no row for {name}"));
        assert!(
            row.ok && row.error.is_none(),
            "{name}: {:?} {:?}",
            row.error,
            row.next
        );
        let r = row.report.as_ref().unwrap();
        assert_eq!(r.source, format!("eks:{}/{name}", row.region));
        assert_eq!(
            r.eks.as_ref().map(|e| e.cluster.name.as_str()),
            Some(name.as_str()),
            "the EKS side is read for each cluster"
        );
        let rules: Vec<&str> = r.findings.iter().map(|f| f.rule).collect();
        for posture in ["CHR024", "CHR025", "CHR026"] {
            assert!(rules.contains(&posture), "{name}: {rules:?}");
        }
    }
    let first = report
        .clusters
        .iter()
        .find(|c| c.cluster == good[0])
        .and_then(|c| c.report.as_ref())
        .unwrap();
    assert!(
        first.findings.iter().any(|f| f.rule == "CHR027"),
        "access entries read (and missing in moto) for the API_AND_CONFIG_MAP cluster"
    );

    // The failing cluster is a row with its reason and what to do; the others were audited.
    let failed = report
        .clusters
        .iter()
        .find(|c| c.cluster == walled)
        .unwrap();
    assert!(!failed.ok && failed.report.is_none());
    let why = failed.error.as_deref().unwrap();
    assert!(
        why.contains(&format!("EKS cluster {walled} in {busy}"))
            && why.contains("only accepts 203.0.113.0/24"),
        "{why}"
    );
    assert!(
        failed
            .next
            .as_deref()
            .unwrap()
            .contains("publicAccessCidrs"),
        "{:?}",
        failed.next
    );

    // One report in every format, with the cluster as a column.
    let table = chronom_core::report::fleet::render_table(&report, false);
    assert!(
        table
            .lines()
            .any(|l| l.contains(busy) && l.contains(&walled) && l.contains("failed: ")),
        "{table}"
    );
    for name in good.iter().chain(&other) {
        assert!(
            table
                .lines()
                .any(|l| l.contains(name.as_str()) && l.contains("audited")),
            "{name}:\n{table}"
        );
        assert!(
            table
                .lines()
                .any(|l| l.trim_start().starts_with(name.as_str()) && l.contains("CHR025")),
            "{name}:\n{table}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&chronom_core::report::fleet::render(
        &report,
        chronom_core::report::format::Format::Json,
    ))
    .unwrap();
    assert_eq!(json["clusters"].as_array().unwrap().len(), 9);
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["cluster"].is_string() && f["region"].is_string())
    );
    let sarif: serde_json::Value = serde_json::from_str(&chronom_core::report::fleet::render(
        &report,
        chronom_core::report::format::Format::Sarif,
    ))
    .unwrap();
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );

    // --fail-on looks at every cluster's findings; a failed cluster alone exits 1.
    let worst = report
        .findings
        .iter()
        .map(|f| f.finding.severity)
        .max()
        .unwrap();
    assert!(worst >= Severity::Medium);
    assert_eq!(
        fleet::exit_code(&report, Some(Severity::Medium), false),
        chronom_core::exit::EXIT_FINDINGS
    );
    assert_eq!(
        fleet::exit_code(&report, None, false),
        chronom_core::exit::EXIT_FAILED
    );
    // What was not read is in the report: the walled cluster, and the access entries (moto has
    // no such API) of the API_AND_CONFIG_MAP cluster.
    assert!(!report.complete);
    let gaps: Vec<(Option<&str>, &str)> = report
        .incomplete
        .iter()
        .map(|u| (u.cluster.as_deref(), u.unread.source.as_str()))
        .collect();
    assert!(
        gaps.contains(&(Some(walled.as_str()), "cluster"))
            && gaps.contains(&(Some(good[0].as_str()), "eks:access-entries")),
        "{gaps:?}"
    );
    assert_eq!(json["complete"], false);
    assert_eq!(
        fleet::exit_code(&report, None, true),
        0,
        "accepted with --allow-incomplete"
    );

    // The fleet reads IAM for the mapped principals by default (docs/principals.md): the seeded
    // node role is in account 111122223333 and these credentials are moto's 123456789012, so it
    // is not checked, with the reason, and (another account's IAM being out of reach, not a
    // failed read) the fleet stays complete.
    let checked = rt()
        .block_on(fleet::collect(&env, &g, &[quiet.to_string()], false, false))
        .unwrap();
    assert!(checked.complete, "{:?}", checked.incomplete);
    for c in &checked.clusters {
        let principals = c.report.as_ref().unwrap().principals.as_ref().unwrap();
        assert!(
            principals.iter().any(|p| p.account == "111122223333"
                && p.status == "not-checked"
                && p.reason == Some(chronom_core::audit::principals::NotChecked::OtherAccount)),
            "{principals:?}"
        );
    }
    // Without the failing cluster and without the IAM check: 0 under the threshold, 3 at it.
    let no_iam = chronom::flows::audit::LiveOptions {
        verify: false,
        principals: chronom::flows::audit::principals::PrincipalOptions {
            when: chronom::flows::audit::principals::CheckPrincipals::Never,
            ..Default::default()
        },
    };
    let clean = rt()
        .block_on(fleet::collect(
            &env,
            &g,
            &[quiet.to_string()],
            no_iam,
            false,
        ))
        .unwrap();
    assert_eq!(clean.clusters.len(), 2);
    assert!(clean.clusters.iter().all(|c| c.ok));
    assert!(clean.complete && clean.incomplete.is_empty());
    assert!(
        clean
            .findings
            .iter()
            .all(|f| f.finding.severity < Severity::Critical),
        "the seeded cluster has no critical finding"
    );
    assert_eq!(fleet::exit_code(&clean, Some(Severity::Critical), false), 0);
    assert_eq!(
        fleet::exit_code(&clean, Some(Severity::Medium), false),
        chronom_core::exit::EXIT_FINDINGS
    );
}

#[test]
fn all_clusters_through_the_binary_keeps_going_past_clusters_that_reject_it() {
    // The binary's own token (from moto's credentials) is unknown to the control plane: each
    // cluster answers 401, which is a row with the diagnosis, and the run still reports.
    let (cp, _) = control_plane_as_eks();
    let m = moto();
    let region = "ap-southeast-1";
    let names: Vec<String> = (0..2).map(|i| unique_name(&format!("denied{i}"))).collect();
    rt().block_on(async {
        for name in &names {
            m.create_cluster(
                region,
                name,
                vpc(true, false, &[]),
                Some((&cp.endpoint, &cp.certificate_authority_data)),
            )
            .await;
        }
    });
    let o = m.chronom(
        region,
        &[
            "--request-timeout",
            "20",
            "audit",
            "--all-clusters",
            "--regions",
            region,
            "-o",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let rows = report["clusters"].as_array().unwrap();
    for name in &names {
        let row = rows
            .iter()
            .find(|r| r["cluster"] == name.as_str())
            .unwrap_or_else(|| panic!("no row for {name}: {report:#}"));
        assert_eq!(row["ok"], false);
        assert!(
            row["error"].as_str().unwrap().contains("401 Unauthorized"),
            "{row:#}"
        );
        assert!(
            row["next"]
                .as_str()
                .unwrap()
                .contains("aws eks create-access-entry"),
            "{row:#}"
        );
    }
    assert!(stderr(&o).contains("could not be audited"), "{}", text(&o));
}

// ---------------------------------------------------------------------------------------------
// Issue 12 item 7: `audit --all-clusters` must not pass on credentials AWS rejects. The first
// test runs a moto server of its own that checks every request's signature and IAM policy, as
// AWS does (moto's IAM authentication), so an unknown key is rejected by STS and EKS alike. (A
// key moto did issue fails its SigV4 check on EKS's REST paths, so moto cannot play "good key,
// AccessDenied in one region"; `aws_answering_per_region` below plays the answers per region.)

/// Starts moto with IAM authentication on (a moto of its own: the shared one accepts any key).
const AUTH_LAUNCHER: &str = r#"
import os, sys, time
from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.server import ThreadedMotoServer

port, parent = int(sys.argv[1]), int(sys.argv[2])
# From the first request on, every request is authenticated and authorized
# (moto's INITIAL_NO_AUTH_ACTION_COUNT), so a key moto never issued is rejected.
settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
ActionAuthenticatorMixin.request_count = 0
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
print("ready", flush=True)
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        os._exit(0)
    time.sleep(0.5)
"#;

struct AuthMoto {
    endpoint: String,
    child: std::process::Child,
    /// Empty AWS config and credentials files, so nothing of the machine's is read.
    home: tempfile::TempDir,
}

impl Drop for AuthMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_with_iam_auth() -> AuthMoto {
    use std::io::BufRead;
    let python = crate::support::moto::python().unwrap_or_else(|e| panic!("no moto: {e}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = tempfile::tempdir().unwrap();
    for empty in ["config", "credentials"] {
        std::fs::write(home.path().join(empty), "").unwrap();
    }
    let mut child = Command::new(python)
        .args([
            "-c",
            AUTH_LAUNCHER,
            &port.to_string(),
            &std::process::id().to_string(),
        ])
        .env_remove("INITIAL_NO_AUTH_ACTION_COUNT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "moto with IAM auth did not start");
    AuthMoto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
        home,
    }
}

impl AuthMoto {
    /// `kubectl-chronom <args>` with these keys against this moto, and nothing else of AWS.
    fn chronom(&self, key: &str, secret: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(&name);
            }
        }
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.path().join("credentials"),
            )
            .env_remove("KUBECONFIG")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl-chronom")
    }
}

#[test]
fn all_clusters_with_credentials_aws_rejects_fails_with_one_message_even_with_fail_on() {
    let m = moto_with_iam_auth();
    // An opt-in and a default region: before the credentials were checked first, both answered
    // InvalidClientTokenId, both were "skipped (not enabled)", and the run exited 0.
    for extra in [&[][..], &["-o", "json"][..]] {
        let mut args = vec![
            "audit",
            "--all-clusters",
            "--regions",
            "af-south-1,eu-west-1",
            "--fail-on",
            "low",
        ];
        args.extend_from_slice(extra);
        let o = m.chronom("AKIDNOTAREALKEY00000", "not-the-secret", &args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = stderr(&o);
        assert!(
            err.contains("AWS rejected the credentials: STS GetCallerIdentity in eu-west-1 answered InvalidClientTokenId")
                && err.contains("no region was scanned"),
            "{}",
            text(&o)
        );
        // Keys in the environment and no profile: the next step is new keys, not a login
        // (issue 13: it used to name `aws sso login` whatever the credentials were).
        assert!(
            err.contains("next: ")
                && err.contains("AWS_PROFILE")
                && err.contains("export fresh keys (AWS_ACCESS_KEY_ID")
                && err.contains("AWS_SESSION_TOKEN")
                && !err.contains("aws sso login"),
            "{}",
            text(&o)
        );
        assert_eq!(
            err.matches("error: ").count(),
            1,
            "one message: {}",
            text(&o)
        );
        for debug in ["Error {", "ErrorMetadata", "SdkError", "ServiceError {"] {
            assert!(!err.contains(debug), "no Debug structs: {}", text(&o));
        }
        assert!(
            o.stdout.is_empty() && !err.contains("skipped"),
            "no report, nothing skipped: {}\n--- stdout\n{}",
            text(&o),
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

/// A stand-in for AWS for what moto cannot play: an answer per region, and errors in AWS's own
/// shapes. STS GetCallerIdentity succeeds, or answers `answers["sts"]` (status, code, message);
/// EKS ListClusters answers `answers[region]` (or `answers["*"]`: status, X-Amzn-ErrorType,
/// message), else an empty list. The region and service are read from each request's SigV4
/// credential scope.
fn aws_answering_per_region(
    answers: std::collections::HashMap<&'static str, (u16, &'static str, &'static str)>,
) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < head_end + length {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            // Credential=KEY/DATE/REGION/SERVICE/aws4_request
            let scope: Vec<&str> = head
                .split("credential=")
                .nth(1)
                .unwrap_or_default()
                .split('/')
                .collect();
            let (region, service) = (
                scope.get(2).copied().unwrap_or_default(),
                scope.get(3).copied().unwrap_or_default(),
            );
            let (status, error_type, body, content_type) = if let (
                true,
                Some((status, code, message)),
            ) =
                (service == "sts", answers.get("sts"))
            {
                // STS's own error shape (query protocol), as AWS sends it for a bad key.
                (
                    *status,
                    "",
                    format!(
                        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>1</RequestId></ErrorResponse>"
                    ),
                    "text/xml",
                )
            } else if service == "sts" {
                (
                    200,
                    "",
                    format!(
                        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/scanner</Arn><UserId>AIDAEXAMPLE</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
                    ),
                    "text/xml",
                )
            } else {
                match answers.get(region).or_else(|| answers.get("*")) {
                    Some((status, error_type, message)) => (
                        *status,
                        *error_type,
                        serde_json::json!({ "message": message }).to_string(),
                        "application/json",
                    ),
                    None => (
                        200,
                        "",
                        r#"{"clusters":[]}"#.to_string(),
                        "application/json",
                    ),
                }
            };
            let mut response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            if !error_type.is_empty() {
                response.push_str(&format!("X-Amzn-ErrorType: {error_type}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    endpoint
}

#[test]
fn with_good_credentials_only_an_opt_in_region_is_skipped_and_other_failures_are_rows() {
    const BAD_TOKEN: &str = "The security token included in the request is invalid.";
    let endpoint = aws_answering_per_region(std::collections::HashMap::from([
        // What a disabled opt-in region answers: skipped.
        (
            "af-south-1",
            (403, "UnrecognizedClientException", BAD_TOKEN),
        ),
        // The same answer from a region every account has cannot be "not enabled".
        ("eu-west-1", (403, "UnrecognizedClientException", BAD_TOKEN)),
        // An SCP denying EKS in one region: a failed region with the reason.
        (
            "me-south-1",
            (
                403,
                "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/scanner is not authorized to perform: eks:ListClusters with an explicit deny in a service control policy",
            ),
        ),
    ]));
    let home = tempfile::tempdir().unwrap();
    for empty in ["config", "credentials"] {
        std::fs::write(home.path().join(empty), "").unwrap();
    }
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(&name);
            }
        }
        cmd.env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "eu-central-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                home.path().join("credentials"),
            )
            .env_remove("KUBECONFIG")
            .args([
                "audit",
                "--all-clusters",
                "--regions",
                "eu-central-1,af-south-1,eu-west-1,me-south-1",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl-chronom")
    };
    let o = run(&["--fail-on", "low", "-o", "json"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let row = |region: &str| {
        report["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["region"] == region)
            .unwrap_or_else(|| panic!("no row for {region}: {report:#}"))
            .clone()
    };
    assert_eq!(row("eu-central-1")["error"], serde_json::Value::Null);
    assert_eq!(row("af-south-1")["skipped"], true, "{report:#}");
    assert!(
        row("af-south-1")["error"]
            .as_str()
            .unwrap()
            .starts_with("not enabled for this account"),
        "{report:#}"
    );
    for failed in ["eu-west-1", "me-south-1"] {
        assert_eq!(row(failed)["skipped"], false, "{failed}: {report:#}");
    }
    assert!(
        row("me-south-1")["error"]
            .as_str()
            .unwrap()
            .contains("service control policy"),
        "{report:#}"
    );
    // Issue 13: an SCP keeping the account out of a region is said as such, in the row's flag
    // and its reason; it is still a region not read.
    assert_eq!(row("me-south-1")["deniedByPolicy"], true, "{report:#}");
    assert!(
        row("me-south-1")["error"]
            .as_str()
            .unwrap()
            .starts_with("denied by policy: "),
        "{report:#}"
    );
    assert!(
        row("eu-west-1").get("deniedByPolicy").is_none(),
        "{report:#}"
    );
    assert_eq!(report["complete"], false);
    let gaps: Vec<(&str, &str)> = report["incomplete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["region"].as_str().unwrap(), u["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        gaps,
        [
            ("eu-west-1", "eks:clusters"),
            ("me-south-1", "eks:clusters")
        ]
    );
    let table = run(&[]);
    assert_eq!(table.status.code(), Some(1), "{}", text(&table));
    let out = String::from_utf8_lossy(&table.stdout);
    assert!(
        out.contains("skipped (not enabled for this account): af-south-1\n")
            && out.contains("INCOMPLETE (2 source(s)"),
        "{out}"
    );
    assert_eq!(
        run(&["--fail-on", "low", "--allow-incomplete"])
            .status
            .code(),
        Some(0),
        "accepted explicitly"
    );
}

#[test]
fn an_eks_context_whose_eks_side_cannot_be_read_makes_the_audit_incomplete() {
    // The context is an EKS cluster, but there are no AWS credentials: the audit cannot know
    // the authentication mode (which mappings count) nor read the access entries. That used
    // to be a note on stderr; it is now an unread source, so the report says it is partial.
    let m = moto();
    let region = "eu-west-2";
    let name = unique_name("unreadable");
    let dir = tempfile::tempdir().unwrap();
    let mut conn = rt().block_on(async {
        m.create_cluster_with_mode(region, &name, vpc(true, false, &[]), None, Some("API"))
            .await;
        let described = cluster::describe(&m.sdk(region), region, &name)
            .await
            .unwrap();
        let kubeconfig = eks_kubeconfig(dir.path(), &described);
        chronom::adapters::kube::connect(&global(&["--kubeconfig", kubeconfig.to_str().unwrap()]))
            .await
            .unwrap()
    });
    let no_credentials = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .endpoint_url(&m.endpoint)
        .http_client(chronom::adapters::aws::http_client())
        .build();
    with_sdk(&mut conn, no_credentials);
    let (state, unread) = rt().block_on(chronom::flows::audit::read_eks_side(&conn));
    assert!(state.is_none());
    let unread = unread.expect("an unread source");
    assert_eq!(unread.source, "eks:cluster");
    assert!(
        unread.reason.contains(&format!(
            "the EKS side of context \"prod\" (EKS cluster {name} in {region}) could not be read"
        )),
        "{unread:?}"
    );

    // who-can and lookup get it too, and refuse to answer from the rest alone.
    let mut mappings = Vec::new();
    let mut objects = chronom_core::rbac::RbacObjects::default();
    let gaps = rt().block_on(chronom::flows::audit::mapping_source::add_from(
        &conn,
        &mut mappings,
        &mut objects,
    ));
    assert_eq!(gaps, std::slice::from_ref(&unread));
    let refused = chronom::flows::audit::queries::check_complete(&gaps, false).unwrap_err();
    assert!(
        refused
            .what
            .contains("eks:cluster: the EKS side of context")
            && refused.next.contains("--allow-incomplete"),
        "{refused}"
    );
    assert!(chronom::flows::audit::queries::check_complete(&gaps, true).is_ok());

    // With the credentials, the same context reads whole (moto has no access entries API, so
    // an API-mode cluster still misses those, by name).
    with_sdk(&mut conn, m.sdk(region));
    let (state, unread) = rt().block_on(chronom::flows::audit::read_eks_side(&conn));
    assert!(unread.is_none());
    assert!(state.unwrap().access_entries_error.is_some());
}

#[test]
fn all_clusters_with_a_key_aws_rejects_as_aws_answers_it_is_one_error_not_skipped_regions() {
    // What AWS answers a bad key: STS InvalidClientTokenId; EKS, in every region,
    // UnrecognizedClientException, the same answer a disabled opt-in region gives. The seed
    // marked every region "skipped (not enabled)", printed "(no EKS clusters)" and exited 0
    // even with --fail-on low.
    const BAD_TOKEN: &str = "The security token included in the request is invalid.";
    let endpoint = aws_answering_per_region(std::collections::HashMap::from([
        ("sts", (403, "InvalidClientTokenId", BAD_TOKEN)),
        ("*", (403, "UnrecognizedClientException", BAD_TOKEN)),
    ]));
    let home = tempfile::tempdir().unwrap();
    for empty in ["config", "credentials"] {
        std::fs::write(home.path().join(empty), "").unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    let o = cmd
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIDREVOKEDKEY000000")
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env_remove("KUBECONFIG")
        .args([
            "audit",
            "--all-clusters",
            "--regions",
            "all",
            "--fail-on",
            "low",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-chronom");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: AWS rejected the credentials: STS GetCallerIdentity in us-east-1 answered InvalidClientTokenId: The security token included in the request is invalid.")
            && err.contains("next: ")
            // Keys in the environment: fresh keys, not an SSO login (issue 13).
            && err.contains("export fresh keys (AWS_ACCESS_KEY_ID")
            && !err.contains("aws sso login"),
        "{}",
        text(&o)
    );
    assert_eq!(err.matches("error: ").count(), 1, "{}", text(&o));
    assert!(o.stdout.is_empty(), "no report: {}", text(&o));
}

// ---------------------------------------------------------------------------------------------
// Issue 13: a cross-account fleet. Three accounts, two regions; the role exists in two of them.
//
// moto lets anyone assume any role ARN, existing or not ("the role does not need to exist",
// moto's STS backend), so on its own no account could ever be denied. AWS answers AccessDenied
// when the role is not there (or does not trust the caller), and that is what the prelude makes
// moto do: AssumeRole of a role missing from its account's IAM fails with AWS's code and words.
// The roles of the two good accounts are created in moto's IAM before it starts; the third
// account has none, so entering it is denied exactly as AWS denies it.

const FLEET_ROLE: &str = "chronom-fleet-auditor";
const GOOD_ACCOUNTS: [&str; 2] = ["111122223333", "222233334444"];
const DENIED_ACCOUNT: &str = "444455556666";

fn moto_denying_missing_roles() -> Moto {
    let seed: Vec<String> = GOOD_ACCOUNTS
        .iter()
        .map(|a| {
            format!(
                "_iam[{a:?}]['aws'].create_role({FLEET_ROLE:?}, '{{}}', '/', None, 'fleet test', [], None)"
            )
        })
        .collect();
    let prelude = format!(
        r#"
import moto.sts.models as _sts
from moto.iam.models import iam_backends as _iam
from moto.sts.exceptions import STSClientError as _StsError

_assume = _sts.STSBackend.assume_role
def _assume_existing(self, region_name, role_session_name, role_arn, *args, **kwargs):
    account = role_arn.split(":")[4]
    try:
        _iam[account]["aws"].get_role_by_arn(role_arn)
    except Exception:
        raise _StsError("AccessDenied", "User: arn:aws:iam::{ACCOUNT}:user/moto is not authorized to perform: sts:AssumeRole on resource: " + role_arn)
    return _assume(self, region_name, role_session_name, role_arn, *args, **kwargs)
_sts.STSBackend.assume_role = _assume_existing
{}
"#,
        seed.join("\n")
    );
    Moto::start_with(&prelude).unwrap_or_else(|e| panic!("no moto for the fleet: {e}"))
}

/// `sdk`'s config with the credentials of `role_arn`, assumed through moto.
async fn as_role(m: &Moto, region: &str, role_arn: &str) -> aws_config::SdkConfig {
    let out = aws_sdk_sts::Client::new(&m.sdk(region))
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("fleet-test")
        .send()
        .await
        .unwrap_or_else(|e| panic!("assume {role_arn}: {e:?}"));
    let c = out.credentials.unwrap();
    m.sdk(region)
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                None,
                "fleet-test",
            )),
        )
        .build()
}

#[test]
fn a_cross_account_fleet_is_one_report_with_an_account_column_and_a_denied_account_row() {
    use chronom::flows::fleet;
    use chronom_core::exit::{EXIT_FAILED, EXIT_OK};
    let (cp, plugin) = control_plane_as_eks();
    let m = moto_denying_missing_roles();
    let regions = ["eu-west-2", "ap-south-1"];
    // One cluster per good account and region, created with that account's own credentials.
    let mut clusters: Vec<(&str, &str, String)> = Vec::new();
    rt().block_on(async {
        for account in GOOD_ACCOUNTS {
            let role = format!("arn:aws:iam::{account}:role/{FLEET_ROLE}");
            for region in regions {
                let name = unique_name(&format!("acct{}", &account[..4]));
                aws_sdk_eks::Client::new(&as_role(&m, region, &role).await)
                    .create_cluster()
                    .name(&name)
                    .role_arn(format!("arn:aws:iam::{account}:role/eks-cluster"))
                    .resources_vpc_config(vpc(true, false, &[]))
                    .tags(crate::support::moto::ENDPOINT_TAG, &cp.endpoint)
                    .tags(crate::support::moto::CA_TAG, &cp.certificate_authority_data)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("CreateCluster {name}: {e:?}"));
                clusters.push((account, region, name));
            }
        }
    });

    // Loaded as `FleetEnv::standard` loads it (aws_config's loader: the member roles' renewing
    // provider needs its time source), pointed at moto.
    let sdk = rt().block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-2"))
            .endpoint_url(&m.endpoint)
            .http_client(chronom::adapters::aws::http_client())
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto"))
            .load(),
    );
    let env = fleet::FleetEnv {
        sdk,
        token_plugin: std::sync::Arc::new(
            move |_: &EksCluster, _: Option<&str>| Ok(plugin.clone()),
        ),
    };
    let accounts = [GOOD_ACCOUNTS[0], DENIED_ACCOUNT, GOOD_ACCOUNTS[1]]
        .map(String::from)
        .to_vec();
    let regions: Vec<String> = regions.map(String::from).to_vec();
    let report = rt()
        .block_on(fleet::collect_accounts(
            &env,
            &global(&["--request-timeout", "20"]),
            FLEET_ROLE,
            fleet::Accounts::Listed(accounts),
            &regions,
            false,
            false,
        ))
        .unwrap_or_else(|e| panic!("{e}"));

    // Every account is a row; the one without the role says AWS denied it and what to do.
    let rows: Vec<(&str, bool)> = report
        .accounts
        .iter()
        .map(|a| (a.account.as_str(), a.ok))
        .collect();
    assert_eq!(
        rows,
        [
            (GOOD_ACCOUNTS[0], true),
            (DENIED_ACCOUNT, false),
            (GOOD_ACCOUNTS[1], true)
        ]
    );
    let denied = &report.accounts[1];
    assert_eq!(
        denied.role_arn,
        format!("arn:aws:iam::{DENIED_ACCOUNT}:role/{FLEET_ROLE}")
    );
    let why = denied.error.as_deref().unwrap();
    assert!(
        why.contains("AWS denied it (AccessDenied: User: ")
            && why.contains("sts:AssumeRole on resource"),
        "{why}"
    );
    assert!(
        denied.next.as_deref().unwrap().contains("trust policy"),
        "{:?}",
        denied.next
    );
    // Each good account's clusters were listed and audited in its own account, in both regions.
    assert_eq!(report.regions.len(), 4, "{:?}", report.regions);
    assert!(report.regions.iter().all(|r| r.error.is_none()));
    assert_eq!(report.clusters.len(), clusters.len());
    for (account, region, name) in &clusters {
        let row = report
            .clusters
            .iter()
            .find(|c| &c.cluster == name)
            .unwrap_or_else(|| panic!("no row for {name}"));
        assert_eq!(
            (row.account.as_deref(), row.region.as_str(), row.ok),
            (Some(*account), *region, true),
            "{:?}",
            row.error
        );
        let eks = row.report.as_ref().unwrap().eks.as_ref().unwrap();
        assert!(
            eks.cluster
                .arn
                .as_deref()
                .is_some_and(|arn| arn.contains(&format!(":{account}:cluster/{name}"))),
            "the cluster was described in its own account: {:?}",
            eks.cluster.arn
        );
    }
    assert!(report.findings.iter().all(|f| {
        f.account
            .as_deref()
            .is_some_and(|a| GOOD_ACCOUNTS.contains(&a))
    }));

    // One table, JSON and SARIF with the account; incomplete because of the denied account.
    let table = chronom_core::report::fleet::render_table(&report, false);
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .trim_start()
            .starts_with("ACCOUNT"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.trim_start().starts_with(DENIED_ACCOUNT)
                && l.contains("failed: cannot assume")),
        "{table}"
    );
    for (account, _, name) in &clusters {
        assert!(
            table.lines().any(|l| l.trim_start().starts_with(account)
                && l.contains(name.as_str())
                && l.contains("audited")),
            "{name}:\n{table}"
        );
    }
    assert!(table.contains("INCOMPLETE"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&chronom_core::report::fleet::render(
        &report,
        chronom_core::report::format::Format::Json,
    ))
    .unwrap();
    assert_eq!(json["complete"], false);
    assert_eq!(json["accounts"].as_array().unwrap().len(), 3);
    assert!(
        json["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["account"].is_string())
    );
    assert_eq!(
        json["incomplete"][0]["account"], DENIED_ACCOUNT,
        "{:#}",
        json["incomplete"]
    );
    assert_eq!(json["incomplete"][0]["source"], "account");
    let sarif: serde_json::Value = serde_json::from_str(&chronom_core::report::fleet::render(
        &report,
        chronom_core::report::format::Format::Sarif,
    ))
    .unwrap();
    let inv = &sarif["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    assert!(
        inv["toolExecutionNotifications"][0]["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{DENIED_ACCOUNT}: cannot assume")),
        "{inv:#}"
    );
    assert_eq!(fleet::exit_code(&report, None, false), EXIT_FAILED);
    assert_eq!(fleet::exit_code(&report, None, true), EXIT_OK);

    // The same through the binary: the flags, one JSON report with the account, exit 1. (Its
    // own token is unknown to the control plane, so there every cluster is a 401 row.)
    let o = m.chronom(
        "eu-west-2",
        &[
            "--request-timeout",
            "20",
            "audit",
            "--all-clusters",
            "--regions",
            "eu-west-2,ap-south-1",
            "--assume-role-name",
            FLEET_ROLE,
            "--accounts",
            &format!("{},{DENIED_ACCOUNT},{}", GOOD_ACCOUNTS[0], GOOD_ACCOUNTS[1]),
            "-o",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(EXIT_FAILED), "{}", text(&o));
    let out: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert_eq!(out["complete"], false);
    assert_eq!(
        out["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["account"].as_str().unwrap(), a["ok"].as_bool().unwrap()))
            .collect::<Vec<_>>(),
        [
            (GOOD_ACCOUNTS[0], true),
            (DENIED_ACCOUNT, false),
            (GOOD_ACCOUNTS[1], true)
        ]
    );
    assert_eq!(out["clusters"].as_array().unwrap().len(), clusters.len());
    assert!(
        stderr(&o).contains(&format!("  {DENIED_ACCOUNT} account: cannot assume arn:aws:iam::{DENIED_ACCOUNT}:role/{FLEET_ROLE}"))
            && stderr(&o).contains("account(s), cluster(s) or region(s) could not be audited"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_organization_s_active_accounts_are_listed_across_pages() {
    let m = moto();
    let (listed, expected) = rt().block_on(async {
        let org = aws_sdk_organizations::Client::new(&m.sdk("us-east-1"));
        org.create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateOrganization: {e:?}"));
        // More than one page of 20, and one account closed (SUSPENDED): it is left out.
        let mut created = Vec::new();
        for i in 0..23 {
            let status = org
                .create_account()
                .account_name(format!("member{i}"))
                .email(format!("member{i}@example.com"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("CreateAccount: {e:?}"))
                .create_account_status
                .unwrap();
            created.push(status.account_id.unwrap());
        }
        org.close_account()
            .account_id(&created[5])
            .send()
            .await
            .unwrap_or_else(|e| panic!("CloseAccount: {e:?}"));
        let mut expected: Vec<String> = created
            .iter()
            .filter(|a| *a != &created[5])
            .cloned()
            .collect();
        expected.push(ACCOUNT.to_string());
        expected.sort();
        let mut listed = chronom::adapters::aws::accounts::active_accounts(&m.sdk("us-east-1"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        listed.sort();
        (listed, expected)
    });
    assert_eq!(
        listed, expected,
        "the management account and every active member"
    );
}
