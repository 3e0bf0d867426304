//! Dangling, re-created and stale IAM principals (issue 16, docs/principals.md): the audit and
//! grant against this module's own control plane, with moto as IAM (GetRole, GetUser,
//! CreateRole, DeleteRole are moto's real implementations; RoleIds are moto's).
//!
//! The audit test rewrites the control plane's aws-auth and the grant test checks it is left
//! as it was: they take turns ([`TURN`]).

use std::collections::BTreeMap;
use std::process::{Output, Stdio};

use crate::support::cluster::{plugin_command, set_aws_auth, text};
use crate::support::moto::{ACCOUNT, Moto};
use crate::support::{ControlPlane, unique_name};
use chronom::adapters::aws::cluster::EksCluster;
use chronom::adapters::kube::eks_connection::{self, ExecPlugin};
use clap::Parser;

const REGION: &str = "us-east-1";

/// Held by each test of this module for its whole run: they share the control plane's aws-auth.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

fn moto() -> &'static Moto {
    crate::support::moto::for_module(module_path!())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The plugin on the control plane's admin context, with moto as its AWS.
fn chronom(args: &[&str]) -> Output {
    let cp = control_plane();
    let mut cmd = plugin_command(&cp.kubeconfig, "chronom-admin");
    moto()
        .aws_env(&mut cmd, REGION)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-chronom")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(o)))
}

fn iam() -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&moto().sdk(REGION))
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

async fn create_role(name: &str) -> String {
    iam()
        .create_role()
        .role_name(name)
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateRole {name}: {e:?}"))
        .role()
        .expect("the created role")
        .role_id
        .clone()
}

async fn delete_role(name: &str) {
    iam()
        .delete_role()
        .role_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteRole {name}: {e:?}"));
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn entry(arn: &str, groups: &str, userid: Option<&str>) -> String {
    let userid = userid
        .map(|u| format!("  userid: {u}\n"))
        .unwrap_or_default();
    format!(
        "- rolearn: {arn}\n  username: u-{}\n  groups: [{groups}]\n{userid}",
        arn.rsplit('/').next().unwrap()
    )
}

/// The findings of `rule` whose subject is the mapping of `arn`.
fn findings<'a>(
    report: &'a serde_json::Value,
    rule: &str,
    arn: &str,
) -> Vec<&'a serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["rule"] == rule
                && f["subject"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{arn} ("))
        })
        .collect()
}

fn principal<'a>(report: &'a serde_json::Value, arn: &str) -> &'a serde_json::Value {
    report["principals"]
        .as_array()
        .unwrap_or_else(|| panic!("no principals section: {report}"))
        .iter()
        .find(|p| p["arn"] == arn)
        .unwrap_or_else(|| panic!("{arn} not in {}", report["principals"]))
}

#[test]
fn the_audit_finds_missing_deleted_and_recreated_roles_through_iam() {
    let _turn = turn();
    let cp = control_plane();
    let u = unique_name("p");
    let (exists, never, deleted, recreated) = (
        format!("exists-{u}"),
        format!("never-{u}"),
        format!("deleted-{u}"),
        format!("recreated-{u}"),
    );
    let user = format!("alice-{u}");
    let (exists_id, old_id, new_id, user_id) = rt().block_on(async {
        let exists_id = create_role(&exists).await;
        create_role(&deleted).await;
        delete_role(&deleted).await;
        let old_id = create_role(&recreated).await;
        delete_role(&recreated).await;
        let new_id = create_role(&recreated).await;
        let user_id = iam()
            .create_user()
            .user_name(&user)
            .send()
            .await
            .unwrap()
            .user()
            .unwrap()
            .user_id
            .clone();
        (exists_id, old_id, new_id, user_id)
    });
    assert_ne!(old_id, new_id, "moto gives a re-created role a new RoleId");
    let user_arn = format!("arn:aws:iam::{ACCOUNT}:user/{user}");
    let map_roles = [
        entry(&role_arn(&exists), "viewers", Some(&exists_id)),
        entry(&role_arn(&never), "system:masters", None),
        entry(&role_arn(&deleted), "viewers", None),
        entry(&role_arn(&recreated), "system:masters", Some(&old_id)),
    ]
    .concat();
    let data = BTreeMap::from([
        ("mapRoles".to_string(), map_roles.clone()),
        (
            "mapUsers".to_string(),
            format!("- userarn: {user_arn}\n  username: alice\n  groups: [viewers]\n"),
        ),
    ]);
    let seeded = set_aws_auth(cp, Some(data)).and_then(|c| c.data);

    // Off EKS the check is asked for; every principal is in moto's account, so it is complete.
    let o = chronom(&["audit", "--check-principals", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["complete"], true, "{}", r["incomplete"]);

    let never_f = findings(&r, "CHR040", &role_arn(&never));
    assert_eq!(never_f.len(), 1, "{}", r["findings"]);
    assert_eq!(
        never_f[0]["severity"], "critical",
        "system:masters: {}",
        never_f[0]
    );
    let evidence = never_f[0]["evidence"].as_str().unwrap();
    assert!(
        evidence.contains(&format!("role {never} does not exist in account {ACCOUNT}"))
            && evidence.contains("groups [system:masters]"),
        "{evidence}"
    );
    let deleted_f = findings(&r, "CHR040", &role_arn(&deleted));
    assert_eq!(deleted_f.len(), 1);
    assert_eq!(
        deleted_f[0]["severity"], "high",
        "viewers only: {}",
        deleted_f[0]
    );
    assert!(
        deleted_f[0]["remediation"]
            .as_str()
            .unwrap()
            .contains("access entry")
    );

    let recreated_f = findings(&r, "CHR041", &role_arn(&recreated));
    assert_eq!(recreated_f.len(), 1, "{}", r["findings"]);
    assert_eq!(recreated_f[0]["severity"], "critical");
    let evidence = recreated_f[0]["evidence"].as_str().unwrap();
    assert!(
        evidence.contains(&old_id) && evidence.contains(&new_id),
        "{evidence}"
    );
    assert!(findings(&r, "CHR040", &role_arn(&recreated)).is_empty());

    for rule in ["CHR040", "CHR041", "CHR043"] {
        assert!(
            findings(&r, rule, &role_arn(&exists)).is_empty(),
            "the role that exists, with its own userid and just created, has no {rule}: {}",
            r["findings"]
        );
    }
    let user_f = findings(&r, "CHR044", &user_arn);
    assert_eq!(user_f.len(), 1);
    assert_eq!(user_f[0]["severity"], "low");

    assert_eq!(principal(&r, &role_arn(&exists))["status"], "exists");
    assert_eq!(
        principal(&r, &role_arn(&exists))["uniqueId"],
        exists_id.as_str()
    );
    assert_eq!(principal(&r, &role_arn(&never))["status"], "missing");
    assert_eq!(principal(&r, &role_arn(&deleted))["status"], "missing");
    assert_eq!(
        principal(&r, &role_arn(&recreated))["uniqueId"],
        new_id.as_str()
    );
    assert_eq!(principal(&r, &user_arn)["kind"], "user");
    assert_eq!(principal(&r, &user_arn)["uniqueId"], user_id.as_str());

    // The gate: the critical findings fail --fail-on critical.
    let o = chronom(&["audit", "--check-principals", "--fail-on", "critical"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("CHR040") && table.contains("CHR041"),
        "{table}"
    );

    // who-can and lookup mark the rows that reach through a dangling or re-created principal.
    let o = chronom(&[
        "audit",
        "who-can",
        "delete",
        "nodes",
        "--check-principals",
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = json(&o);
    let masters = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["principals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == role_arn(&never).as_str())
        })
        .unwrap_or_else(|| panic!("no row reaches {never}: {rows}"));
    assert_eq!(
        masters["principalMarks"][role_arn(&never)],
        "dangling",
        "{masters}"
    );
    assert_eq!(
        masters["principalMarks"][role_arn(&recreated)],
        "re-created",
        "{masters}"
    );
    let o = chronom(&["audit", "who-can", "delete", "nodes", "--check-principals"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains(&format!("{} [DANGLING]", role_arn(&never)))
            && table.contains(&format!("{} [RE-CREATED]", role_arn(&recreated))),
        "{table}"
    );
    let o = chronom(&[
        "audit",
        "lookup",
        &role_arn(&never),
        "--check-principals",
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = json(&o);
    assert!(
        !rows.as_array().unwrap().is_empty(),
        "system:masters is bound to cluster-admin"
    );
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["principalMark"] == "dangling"),
        "{rows}"
    );
    let rows = json(&chronom(&[
        "audit",
        "lookup",
        &role_arn(&exists),
        "--check-principals",
        "-o",
        "json",
    ]));
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("principalMark").is_none()),
        "{rows}"
    );

    // Stale: moto records no use, so with --stale-days 0 every role that exists is reported,
    // with the date it was created.
    let r = json(&chronom(&[
        "audit",
        "--check-principals",
        "--stale-days",
        "0",
        "-o",
        "json",
    ]));
    let stale = findings(&r, "CHR043", &role_arn(&exists));
    assert_eq!(stale.len(), 1, "{}", r["findings"]);
    let created = principal(&r, &role_arn(&exists))["created"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        stale[0]["evidence"]
            .as_str()
            .unwrap()
            .contains(&format!("no recorded use since it was created {created}")),
        "{}",
        stale[0]
    );

    // Off EKS without the flag nothing is asked, and --no-check-principals wins over nothing.
    for args in [
        &["audit", "-o", "json"][..],
        &["audit", "--no-check-principals", "-o", "json"],
    ] {
        let o = chronom(args);
        let r = json(&o);
        assert!(
            r.get("principals").is_none(),
            "{args:?}: {}",
            r["principals"]
        );
        assert!(findings(&r, "CHR040", &role_arn(&never)).is_empty());
    }
    let o = chronom(&["audit", "--check-principals", "--no-check-principals"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // A principal of another account is not checked: IAM answers only for its own account. It is
    // shown (the JSON row with its reason, the text's NOT CHECKED list) but is not a gap: the
    // vendor's cross-account scanner role, which grant maps, would otherwise fail every audit.
    // The gap case (IAM refused the call) is a_role_iam_will_not_describe_is_not_checked_and_fails_the_gate.
    let other = "arn:aws:iam::444455556666:role/auditor";
    set_aws_auth(
        cp,
        Some(BTreeMap::from([(
            "mapRoles".to_string(),
            [
                entry(&role_arn(&exists), "viewers", None),
                entry(other, "system:masters", None),
            ]
            .concat(),
        )])),
    );
    let o = chronom(&["audit", "--check-principals", "-o", "json"]);
    let r = json(&o);
    assert_eq!(r["complete"], true, "{}", text(&o));
    assert_eq!(principal(&r, other)["status"], "not-checked");
    assert_eq!(principal(&r, other)["reason"], "other-account");
    assert!(
        principal(&r, other)["detail"]
            .as_str()
            .unwrap()
            .contains("444455556666"),
        "{r}"
    );
    assert_eq!(principal(&r, &role_arn(&exists))["status"], "exists");
    // Its system:masters mapping is still a critical finding (CHR001); only the IAM check is
    // out of reach, and no CHR040 is made up for it.
    assert!(!findings(&r, "CHR001", other).is_empty(), "{r}");
    assert!(findings(&r, "CHR040", other).is_empty());
    let o = chronom(&["audit", "--check-principals"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("PRINCIPALS NOT CHECKED (1: another account's IAM") && out.contains(other),
        "{}",
        text(&o)
    );
    assert!(!out.contains("INCOMPLETE"), "{}", text(&o));
    let o = chronom(&["audit", "--check-principals", "--fail-on", "critical"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "CHR001 is at the threshold: {}",
        text(&o)
    );
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("the audit is incomplete"),
        "{}",
        text(&o)
    );

    set_aws_auth(cp, seeded);
}

/// The control plane as an EKS cluster DescribeCluster in moto describes: its endpoint and CA,
/// and the static-token exec plugin of its kubeconfig (the control plane cannot ask STS about
/// an EKS token).
fn control_plane_as_eks() -> (String, String, ExecPlugin) {
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
    (
        cl.server.expect("server"),
        cl.certificate_authority_data.expect("ca"),
        ExecPlugin {
            command: exec.command.expect("command").into(),
            args: exec.args.unwrap_or_default(),
        },
    )
}

fn vpc() -> aws_sdk_eks::types::VpcConfigRequest {
    aws_sdk_eks::types::VpcConfigRequest::builder()
        .subnet_ids("subnet-0123")
        .endpoint_public_access(true)
        .endpoint_private_access(false)
        .build()
}

/// grant on an EKS cluster asks IAM first: a role that was never created is refused before
/// anything is written, and a role that exists (or one said to come later) goes on.
#[test]
fn grant_refuses_a_role_iam_does_not_have() {
    let _turn = turn();
    let (endpoint, ca, plugin) = control_plane_as_eks();
    let name = unique_name("grant");
    let u = unique_name("g");
    let (missing, present) = (role_arn(&format!("nobody-{u}")), format!("scanner-{u}"));
    rt().block_on(async {
        moto()
            .create_cluster(REGION, &name, vpc(), Some((&endpoint, &ca)))
            .await;
        create_role(&present).await;
    });
    let before = crate::support::cluster::get_aws_auth(control_plane()).and_then(|c| c.data);

    // The whole binary: refused with exit 1, before any write (aws-auth is as it was).
    let o = moto().chronom(
        REGION,
        &[
            "--request-timeout",
            "20",
            "--cluster",
            &name,
            "grant",
            "--role-arn",
            &missing,
            "--via",
            "aws-auth",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("IAM role {missing} does not exist"))
            && stderr.contains("--role-created-later"),
        "{stderr}"
    );
    assert_eq!(
        crate::support::cluster::get_aws_auth(control_plane()).and_then(|c| c.data),
        before
    );

    // The flow's own lookup on a connection to the cluster (the binary's token plugin cannot
    // authenticate to the test control plane): what grant then says in each case.
    rt().block_on(async {
        let sdk = moto().sdk(REGION);
        let described = chronom::adapters::aws::cluster::describe(&sdk, REGION, &name)
            .await
            .unwrap();
        let global = chronom::cli::Cli::try_parse_from([
            "kubectl-chronom",
            "--request-timeout",
            "20",
            "token",
        ])
        .unwrap()
        .global;
        let conn = eks_connection::open(described, &plugin, sdk, &global)
            .await
            .unwrap();
        let grant = |arn: &str, later: bool| {
            let mut argv = vec!["kubectl-chronom", "grant", "--role-arn", arn];
            if later {
                argv.push("--role-created-later");
            }
            let cli = chronom::cli::Cli::try_parse_from(argv).unwrap();
            match cli.command {
                chronom::cli::Command::Grant(a) => (
                    chronom::flows::grant::validate(&a).unwrap(),
                    a.role_created_later,
                ),
                _ => unreachable!(),
            }
        };
        let (v, later) = grant(&missing, false);
        let e = chronom::flows::grant::role_in_iam(&conn, &v, later, false)
            .await
            .unwrap_err();
        assert!(e.what.contains("does not exist"), "{e}");
        let (v, later) = grant(&missing, true);
        let note = chronom::flows::grant::role_in_iam(&conn, &v, later, false)
            .await
            .unwrap()
            .unwrap();
        assert!(
            note.contains("does not exist yet") && note.contains("whoever creates"),
            "{note}"
        );
        let (v, later) = grant(&role_arn(&present), false);
        let note = chronom::flows::grant::role_in_iam(&conn, &v, later, false)
            .await
            .unwrap()
            .unwrap();
        assert!(note.contains("exists (unique id AROA"), "{note}");

        // The fleet's default: the audit of an EKS cluster checks the principals unasked.
        let env = chronom::flows::fleet::FleetEnv {
            sdk: moto().sdk(REGION),
            token_plugin: std::sync::Arc::new({
                let plugin = plugin.clone();
                move |_: &EksCluster, _: Option<&str>| Ok(plugin.clone())
            }),
        };
        let fleet =
            chronom::flows::fleet::collect(&env, &global, &[REGION.to_string()], false, false)
                .await
                .unwrap();
        let row = fleet
            .clusters
            .iter()
            .find(|c| c.cluster == name)
            .expect("the cluster's row");
        let report = row
            .report
            .as_ref()
            .unwrap_or_else(|| panic!("{:?}", row.error));
        // The seeded node role is in account 111122223333, moto's credentials in 123456789012.
        let checks = report
            .principals
            .as_ref()
            .expect("checked by default on EKS");
        let node = checks
            .iter()
            .find(|c| c.arn.contains("NodeInstanceRole"))
            .unwrap_or_else(|| panic!("the seeded node role: {checks:?}"));
        assert_eq!(
            (node.status, node.reason),
            (
                "not-checked",
                Some(chronom_core::audit::principals::NotChecked::OtherAccount)
            )
        );
        // Another account's IAM is out of reach, not a failed read: shown, and still complete.
        assert!(report.complete, "{:?}", report.incomplete);
    });
}

/// A moto of its own that authenticates and authorizes every request after the first
/// `open_requests` (moto's INITIAL_NO_AUTH_ACTION_COUNT), as AWS does: the setup runs in that
/// window, the plugin after it, with the key and the policy the setup made.
const AUTH_LAUNCHER: &str = r#"
import os, sys, time
from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.server import ThreadedMotoServer

port, parent, open_requests = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
settings.INITIAL_NO_AUTH_ACTION_COUNT = open_requests
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
    home: tempfile::TempDir,
}

impl Drop for AuthMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_with_iam_auth(open_requests: usize) -> AuthMoto {
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
    let mut child = std::process::Command::new(python)
        .args([
            "-c",
            AUTH_LAUNCHER,
            &port.to_string(),
            &std::process::id().to_string(),
            &open_requests.to_string(),
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

/// IAM refusing GetRole for real (moto enforcing the auditor's policy): the principal is not
/// checked, with the reason, the audit is incomplete, and the gate fails on it.
#[test]
fn a_role_iam_will_not_describe_is_not_checked_and_fails_the_gate() {
    let _turn = turn();
    let cp = control_plane();
    // The four setup requests below are the unauthenticated window.
    let m = moto_with_iam_auth(4);
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(&m.endpoint)
        .http_client(chronom::adapters::aws::http_client())
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("AKIDSETUP", "setup", None, None, "setup"),
            ),
        )
        .build();
    let iam = aws_sdk_iam::Client::new(&sdk);
    let (key, secret) = rt().block_on(async {
        iam.create_user().user_name("auditor").send().await.unwrap();
        // GetCallerIdentity and GetUser, not GetRole.
        iam.put_user_policy()
            .user_name("auditor")
            .policy_name("no-get-role")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetCallerIdentity","iam:GetUser"],"Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        let k = iam.create_access_key().user_name("auditor").send().await.unwrap();
        let k = k.access_key().unwrap();
        iam.create_role()
            .role_name("deploy")
            .assume_role_policy_document(TRUST)
            .send()
            .await
            .unwrap();
        (k.access_key_id.clone(), k.secret_access_key.clone())
    });
    let role = role_arn("deploy");
    let user = format!("arn:aws:iam::{ACCOUNT}:user/auditor");
    let seeded = set_aws_auth(
        cp,
        Some(BTreeMap::from([
            ("mapRoles".to_string(), entry(&role, "viewers", None)),
            (
                "mapUsers".to_string(),
                format!("- userarn: {user}\n  username: auditor\n  groups: [viewers]\n"),
            ),
        ])),
    )
    .and_then(|c| c.data);
    let run = |args: &[&str]| {
        let mut cmd = plugin_command(&cp.kubeconfig, "chronom-admin");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(&name);
            }
        }
        cmd.env("AWS_ENDPOINT_URL", &m.endpoint)
            .env("AWS_ACCESS_KEY_ID", &key)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", m.home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                m.home.path().join("credentials"),
            )
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl-chronom")
    };
    let o = run(&["audit", "--check-principals", "-o", "json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "incomplete, no --fail-on: {}",
        text(&o)
    );
    let r = json(&o);
    assert_eq!(r["complete"], false);
    let gap = &r["incomplete"][0];
    assert_eq!(gap["source"], "iam:principals", "{r:#}");
    let reason = gap["reason"].as_str().unwrap();
    assert!(
        reason.contains(&role)
            && reason.contains("access denied")
            && reason.contains("iam:GetRole was denied"),
        "{reason}"
    );
    assert_eq!(principal(&r, &role)["status"], "not-checked");
    assert_eq!(principal(&r, &role)["reason"], "denied");
    // The same key may GetUser: what moto refused is GetRole, not the key.
    assert_eq!(principal(&r, &user)["status"], "exists", "{r:#}");
    assert_eq!(r["incomplete"].as_array().unwrap().len(), 1);
    for rule in ["CHR040", "CHR041", "CHR043"] {
        assert!(
            findings(&r, rule, &role).is_empty(),
            "nothing is claimed about {role}: {}",
            r["findings"]
        );
    }
    let o = run(&["audit", "--check-principals", "--fail-on", "critical"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = run(&[
        "audit",
        "--check-principals",
        "--fail-on",
        "critical",
        "--allow-incomplete",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    set_aws_auth(cp, seeded);
}
