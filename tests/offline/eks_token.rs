//! The EKS bearer token: a fixed snapshot, aws-iam-authenticator's server-side format checks,
//! and the `kubectl chronom token` command's ExecCredential. No network and no AWS account:
//! the credentials are the well-known fake example keys.

use std::process::{Command, Output, Stdio};

use crate::support::moto::{ACCESS_KEY, SECRET_KEY, check_token};
use aws_credential_types::Credentials;
use base64::Engine;
use chronom::adapters::aws::token::{self, EksToken};
use jiff::{SignedDuration, Timestamp};

fn creds(session: Option<&str>) -> Credentials {
    Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        session.map(str::to_owned),
        None,
        "test",
    )
}

fn signed_at() -> Timestamp {
    "2026-03-01T12:34:56Z".parse().unwrap()
}

fn url_of(t: &EksToken) -> String {
    let body = t.token.strip_prefix(token::TOKEN_PREFIX).unwrap();
    String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .unwrap(),
    )
    .unwrap()
}

/// Re-encode a (tampered) URL as a token.
fn token_of(url: &str) -> String {
    format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    )
}

#[test]
fn token_snapshot_for_fixed_time_and_example_keys() {
    let cases = [
        ("us-east-1", "demo", None),
        (
            "eu-west-1",
            "prod-eu",
            Some("FwoGZXIvYXdzEXAMPLE+session/token=="),
        ),
        ("cn-north-1", "demo", None),
    ];
    let snapshot: Vec<serde_json::Value> = cases
        .iter()
        .map(|(region, cluster, session)| {
            let t = token::mint(&creds(*session), region, cluster, signed_at()).unwrap();
            serde_json::json!({
                "region": region,
                "cluster": cluster,
                "url": url_of(&t),
                "token": t.token,
                "expires_at": t.expires_at.to_string(),
            })
        })
        .collect();
    insta::assert_json_snapshot!(snapshot);
}

#[test]
fn our_tokens_pass_the_authenticator_checks() {
    for (region, partition) in [
        ("us-east-1", "aws"),
        ("eu-west-1", "aws"),
        ("us-gov-west-1", "aws-us-gov"),
        ("cn-north-1", "aws-cn"),
    ] {
        let t = token::mint(&creds(None), region, "demo", signed_at()).unwrap();
        let checked = check_token(&t.token, partition, signed_at())
            .unwrap_or_else(|e| panic!("{region}: {e}"));
        assert_eq!(checked.host_region, region);
        assert_eq!(checked.param("Action"), "GetCallerIdentity");
        assert_eq!(checked.param("Version"), "2011-06-15");
        assert_eq!(checked.param("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
        assert_eq!(checked.param("X-Amz-SignedHeaders"), "host;x-k8s-aws-id");
        assert_eq!(checked.param("X-Amz-Expires"), "60");
        assert_eq!(
            checked.param("X-Amz-Credential"),
            format!("{ACCESS_KEY}/20260301/{region}/sts/aws4_request")
        );
        assert_eq!(checked.access_key, ACCESS_KEY);
        assert_eq!(checked.signed_at, signed_at());
        assert_eq!(checked.param("X-Amz-Signature").len(), 64);
        assert!(checked.param("X-Amz-Security-Token").is_empty());
        // Valid until 15 minutes after signing; the ExecCredential says 14.
        assert_eq!(t.expires_at, signed_at() + SignedDuration::from_mins(14));
        assert!(
            check_token(
                &t.token,
                partition,
                signed_at() + SignedDuration::from_secs(15 * 60)
            )
            .is_ok()
        );
        let late = check_token(
            &t.token,
            partition,
            signed_at() + SignedDuration::from_secs(15 * 60 + 1),
        )
        .unwrap_err();
        assert!(late.contains("expired"), "{late}");
    }
}

#[test]
fn session_credentials_carry_their_session_token_and_stay_small() {
    // Real session tokens run to about a kilobyte; the authenticator refuses tokens over 4 KiB.
    let session: String = "FwoGZXIvYXdzE/+=".repeat(80);
    let t = token::mint(
        &creds(Some(&session)),
        "ap-southeast-2",
        "a-cluster-name-of-moderate-length",
        signed_at(),
    )
    .unwrap();
    let checked = check_token(&t.token, "aws", signed_at()).unwrap();
    assert!(
        checked.param("X-Amz-Security-Token") == session,
        "the session token must round-trip through the URL"
    );
    assert!(t.token.len() <= 4096);
}

#[test]
fn the_checks_are_not_vacuous() {
    let t = token::mint(&creds(None), "eu-west-1", "demo", signed_at()).unwrap();
    let url = url_of(&t);
    let now = signed_at();
    let rejects = |tampered: &str, why: &str| {
        let err = check_token(tampered, "aws", now)
            .err()
            .unwrap_or_else(|| panic!("accepted a token with {why}"));
        assert!(
            !err.contains(&t.token) && !err.contains(checked_signature(&url)),
            "error text leaks the token"
        );
    };
    rejects(&format!("{}=", t.token), "base64 padding");
    rejects(
        &t.token.replacen("k8s-aws-v1.", "k8s-aws-v2.", 1),
        "a wrong prefix",
    );
    rejects(
        &format!("{}{}", t.token, "A".repeat(4096)),
        "too many bytes",
    );
    rejects(&token_of(&url.replacen("https://", "http://", 1)), "http");
    rejects(
        &token_of(&url.replacen(
            "sts.eu-west-1.amazonaws.com",
            "sts.eu-west-1.amazonaws.com.evil.example",
            1,
        )),
        "a foreign host",
    );
    rejects(
        &token_of(&url.replacen("sts.eu-west-1.amazonaws.com", "iam.amazonaws.com", 1)),
        "a non-STS host",
    );
    rejects(
        &token_of(&url.replacen("amazonaws.com/", "amazonaws.com/x", 1)),
        "a path",
    );
    rejects(
        &token_of(&format!("{url}&X-Amz-User-Agent=x")),
        "a parameter outside the allowlist",
    );
    rejects(
        &token_of(&format!("{url}&action=GetCallerIdentity")),
        "a duplicated parameter",
    );
    rejects(
        &token_of(&url.replacen("Action=GetCallerIdentity", "Action=AssumeRole", 1)),
        "another action",
    );
    rejects(
        &token_of(&url.replacen("host%3Bx-k8s-aws-id", "host", 1)),
        "the cluster header unsigned",
    );
    rejects(
        &token_of(&url.replacen("X-Amz-Expires=60", "X-Amz-Expires=901", 1)),
        "X-Amz-Expires over 900",
    );
    rejects(
        &token_of(&url.replacen("X-Amz-Date=20260301T123456Z", "X-Amz-Date=2026-03-01", 1)),
        "an unparsable date",
    );
    assert!(
        check_token(&t.token, "aws-cn", now).is_err(),
        "a commercial-partition host at a China cluster"
    );
    // The legacy global endpoint is still accepted in the aws partition, and only there.
    let global = token_of(&url.replacen("sts.eu-west-1.amazonaws.com", "sts.amazonaws.com", 1));
    assert_eq!(
        check_token(&global, "aws", now).unwrap().host_region,
        "global"
    );
    assert!(check_token(&global, "aws-cn", now).is_err());
}

fn checked_signature(url: &str) -> &str {
    url.rsplit_once("X-Amz-Signature=").unwrap().1
}

// ---------------------------------------------------------------------------------------------
// `kubectl chronom token`: no AWS call is needed without --role-arn and -v, so no endpoint.

fn token_cmd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config"), "").unwrap();
    std::fs::write(home.path().join("credentials"), "").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    cmd.env_remove("KUBERNETES_EXEC_INFO")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        // Unroutable on purpose: any AWS call would fail fast instead of leaving the machine.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null());
    cmd.output().expect("run kubectl-chronom")
}

const KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
    ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
];

fn exec_credential(o: &Output) -> serde_json::Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "stdout is exactly one JSON line");
    serde_json::from_str(&stdout).expect("stdout is JSON")
}

#[test]
fn token_command_prints_an_exec_credential_that_passes_the_checks() {
    let before = Timestamp::now();
    let o = token_cmd(
        &["token", "--cluster", "demo", "--region", "eu-west-1"],
        &KEYS,
    );
    let v = exec_credential(&o);
    assert_eq!(v["kind"], "ExecCredential");
    assert_eq!(v["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert_eq!(v["spec"], serde_json::json!({}));
    let tok = v["status"]["token"].as_str().unwrap();
    let checked =
        check_token(tok, "aws", Timestamp::now()).unwrap_or_else(|e| panic!("token rejected: {e}"));
    assert_eq!(
        checked.host, "sts.eu-west-1.amazonaws.com",
        "AWS_ENDPOINT_URL never applies to the token"
    );
    assert_eq!(checked.access_key, ACCESS_KEY);
    let expires: Timestamp = v["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expires, checked.signed_at + SignedDuration::from_mins(14));
    assert!(
        checked.signed_at >= Timestamp::from_second(before.as_second()).unwrap()
            && checked.signed_at <= Timestamp::now()
    );
}

#[test]
fn exec_credential_api_version_follows_kubernetes_exec_info() {
    let ask = |info: &str| {
        let env = [KEYS[0], KEYS[1], ("KUBERNETES_EXEC_INFO", info)];
        exec_credential(&token_cmd(
            &["token", "--cluster", "demo", "--region", "us-east-1"],
            &env,
        ))["apiVersion"]
            .clone()
    };
    let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
    assert_eq!(ask(v1), "client.authentication.k8s.io/v1");
    let beta = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true}}"#;
    assert_eq!(ask(beta), "client.authentication.k8s.io/v1beta1");
    assert_eq!(ask("{not json"), "client.authentication.k8s.io/v1beta1");
    assert_eq!(
        ask(r#"{"apiVersion":"example.com/v1"}"#),
        "client.authentication.k8s.io/v1beta1"
    );
}

#[test]
fn region_comes_from_the_environment_when_not_given() {
    let env = [KEYS[0], KEYS[1], ("AWS_REGION", "cn-north-1")];
    let v = exec_credential(&token_cmd(&["token", "--cluster", "demo"], &env));
    let checked = check_token(
        v["status"]["token"].as_str().unwrap(),
        "aws-cn",
        Timestamp::now(),
    )
    .unwrap();
    assert_eq!(checked.host, "sts.cn-north-1.amazonaws.com.cn");
}

#[test]
fn token_command_errors_say_what_to_do() {
    let no_cluster = token_cmd(&["token", "--region", "us-east-1"], &KEYS);
    assert_eq!(no_cluster.status.code(), Some(2));
    assert!(no_cluster.stdout.is_empty());
    let err = String::from_utf8_lossy(&no_cluster.stderr);
    assert!(
        err.contains("needs --cluster") && err.contains("next:"),
        "{err}"
    );

    let no_region = token_cmd(&["token", "--cluster", "demo"], &KEYS);
    assert_eq!(no_region.status.code(), Some(2));
    let err = String::from_utf8_lossy(&no_region.stderr);
    assert!(
        err.contains("no AWS region") && err.contains("--region"),
        "{err}"
    );

    let bad_region = token_cmd(&["token", "--cluster", "demo", "--region", "Mars 1"], &KEYS);
    assert_eq!(bad_region.status.code(), Some(2));
    assert!(bad_region.stdout.is_empty());
    let err = String::from_utf8_lossy(&bad_region.stderr);
    assert!(
        err.contains("not an AWS region name") && err.contains("next:"),
        "{err}"
    );

    let no_creds = token_cmd(
        &["token", "--cluster", "demo", "--region", "us-east-1"],
        &[],
    );
    assert_eq!(no_creds.status.code(), Some(1));
    assert!(no_creds.stdout.is_empty());
    let err = String::from_utf8_lossy(&no_creds.stderr);
    assert!(
        err.contains("no AWS credentials") && err.contains("AWS_PROFILE"),
        "{err}"
    );
}
