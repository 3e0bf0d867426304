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

mod support;

use std::process::{Command, Output, Stdio};

use aws_credential_types::Credentials;
use aws_sdk_eks::types::VpcConfigRequest;
use chronom::eks::cluster::{self, EksCluster, EndpointAccess, ExecPlugin};
use chronom::eks::{identity, token};
use clap::Parser;
use jiff::Timestamp;
use support::moto::{ACCESS_KEY, ACCOUNT, SECRET_KEY, check_token, moto};
use support::{control_plane, unique_name};

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
    let python = support::moto::python().unwrap_or_else(|e| panic!("no Python with botocore: {e}"));
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
    assert_eq!(o.name, open);
    assert_eq!(o.region, region);
    assert_eq!(
        o.arn,
        format!("arn:aws:eks:{region}:{ACCOUNT}:cluster/{open}")
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
        chronom::eks::infer::region_from_endpoint(&o.endpoint).as_deref(),
        Some(region)
    );
    assert_eq!(o.endpoint_access(), EndpointAccess::Open);
    assert_eq!(p.endpoint_access(), EndpointAccess::PrivateOnly);
    assert_eq!(
        l.endpoint_access(),
        EndpointAccess::PublicFrom(vec!["203.0.113.0/24".into(), "198.51.100.7/32".into()])
    );
    assert!(l.endpoint_private_access);
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
    let cp = control_plane();
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
        name: "chronom".into(),
        region: "us-east-1".into(),
        arn: format!("arn:aws:eks:us-east-1:{ACCOUNT}:cluster/chronom"),
        status: "ACTIVE".into(),
        endpoint: cl.server.expect("server"),
        certificate_authority_data: cl
            .certificate_authority_data
            .expect("certificate-authority-data"),
        endpoint_public_access: true,
        endpoint_private_access: false,
        public_access_cidrs: vec!["0.0.0.0/0".into()],
        authentication_mode: Some("API_AND_CONFIG_MAP".into()),
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
        let conn =
            cluster::connection_for(&cluster, &plugin, &global(&["--request-timeout", "20"]))
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
        let conn =
            cluster::connection_for(&cluster, &plugin, &global(&["--request-timeout", "10"]))
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
