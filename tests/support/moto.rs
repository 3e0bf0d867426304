//! The AWS side of the EKS tests: moto in server mode on loopback, and the format checks an EKS
//! cluster's authenticator (aws-iam-authenticator) applies to a bearer token before calling STS.
//!
//! `for_module()` starts one moto server per test module on a free 127.0.0.1 port. It finds a Python
//! with `moto[server]`, or makes a venv under the target dir and pip-installs it there; it never
//! skips: when moto cannot start, the caller panics with the log tail. The server exits with the
//! test process (it watches our pid). Children reach it through `AWS_ENDPOINT_URL`, with fake
//! credentials and no access to the machine's AWS config, IMDS or real endpoints.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use base64::Engine;

use super::per_module::PerModule;

/// The fake long-term keys every test signs with (moto accepts any; account 123456789012).
pub const ACCESS_KEY: &str = "AKIDEXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const ACCOUNT: &str = "123456789012";
/// Tags the launcher reads to let a test choose DescribeCluster's endpoint and CA (moto makes
/// random ones that no client could connect to).
pub const ENDPOINT_TAG: &str = "chronom-test/endpoint";
pub const CA_TAG: &str = "chronom-test/ca";
/// A tag the launcher turns into DescribeCluster's accessConfig.authenticationMode, which
/// moto's CreateCluster does not take.
pub const AUTH_MODE_TAG: &str = "chronom-test/authentication-mode";

/// Runs moto's server (`ThreadedMotoServer`, the same WSGI app `moto_server` serves); when the
/// test process is gone it removes the harness's temp dir (statics are never dropped) and exits.
const LAUNCHER: &str = r#"
import os, shutil, sys, time
import moto.eks.models as eks
from moto.server import ThreadedMotoServer

_init = eks.Cluster.__init__
def _init_with_test_tags(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.endpoint = self.tags.get("chronom-test/endpoint", self.endpoint)
    if "chronom-test/ca" in self.tags:
        self.certificate_authority = {"data": self.tags["chronom-test/ca"]}
    if "chronom-test/authentication-mode" in self.tags:
        self.access_config = {"authenticationMode": self.tags["chronom-test/authentication-mode"]}
eks.Cluster.__init__ = _init_with_test_tags

# moto has no identity provider or Pod Identity API. The audit lists both for every cluster;
# answer what EKS answers for a cluster that has none (their contents are tested with
# aws-smithy-mocks), so that an audit over moto is not incomplete for a missing route.
import json
import moto.eks.urls as eks_urls
def _none(key):
    def handler(request, full_url, headers):
        return 200, {"Content-Type": "application/json"}, json.dumps({key: []})
    return handler
eks_urls.url_paths["{0}/clusters/(?P<name>[^/]+)/identity-provider-configs$"] = _none("identityProviderConfigs")
eks_urls.url_paths["{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$"] = _none("associations")

port, parent, home = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
print("moto listening on", port, flush=True)
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        shutil.rmtree(home, ignore_errors=True)
        os._exit(0)
    time.sleep(0.5)
"#;

pub struct Moto {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub log: PathBuf,
    python: PathBuf,
    child: Mutex<Child>,
    /// Holds the log and the empty AWS config and credentials files the children are pointed at.
    home: tempfile::TempDir,
}

/// The moto server of one test module (`for_module(module_path!())` behind the module's
/// `fn moto()`): each test module has its own, as each had when it was its own test binary, so
/// the clusters and access entries one module creates are never another's. Panics (never
/// skips) if it cannot start.
pub fn for_module(module_path: &str) -> &'static Moto {
    static BY_MODULE: PerModule<Result<Moto, String>> = PerModule::new();
    match BY_MODULE.get_or_init(module_path, |_| Moto::start()) {
        Ok(m) => m,
        Err(why) => panic!("no moto server for the tests of {module_path}: {why}"),
    }
}

/// A Python that can `import moto.server` (with boto3/botocore), installing it if need be.
pub fn python() -> Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND.get_or_init(find_or_install_python).clone()
}

fn can_import_moto(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            "import moto.server, moto.eks.models, boto3, botocore, flask, flask_cors",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn find_or_install_python() -> Result<PathBuf, String> {
    let system =
        PathBuf::from(std::env::var_os("CHRONOM_PYTHON").unwrap_or_else(|| "python3".into()));
    if can_import_moto(&system) {
        return Ok(system);
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("moto-venv");
    let venv_python = venv.join("bin").join("python");
    if can_import_moto(&venv_python) {
        return Ok(venv_python);
    }
    eprintln!(
        "installing moto[server] into {} (first run only)",
        venv.display()
    );
    let run = |cmd: &mut Command, what: &str| -> Result<(), String> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed ({}):\n{}",
                out.status,
                tail(&String::from_utf8_lossy(&out.stderr), 30)
            ))
        }
    };
    run(
        Command::new(&system)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        "python3 -m venv",
    )?;
    run(
        Command::new(&venv_python).args(["-m", "pip", "install", "--quiet", "moto[server]"]),
        "pip install moto[server]",
    )?;
    if can_import_moto(&venv_python) {
        Ok(venv_python)
    } else {
        Err(format!(
            "{} still cannot import moto.server",
            venv_python.display()
        ))
    }
}

impl Moto {
    fn start() -> Result<Self, String> {
        Self::start_with("")
    }

    /// A moto server of the caller's own (it stops when dropped), with `prelude` (Python) run
    /// before it starts: to seed state or to make moto answer as AWS does where it does not.
    pub fn start_with(prelude: &str) -> Result<Self, String> {
        let script = format!("{prelude}\n{LAUNCHER}");
        let python = python()?;
        let home = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        for empty in ["aws-config", "aws-credentials"] {
            std::fs::write(home.path().join(empty), "").map_err(|e| format!("{empty}: {e}"))?;
        }
        let mut last = String::new();
        for _attempt in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            let log = home.path().join(format!("moto-{port}.log"));
            let log_file =
                std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let mut child = Command::new(&python)
                .args([
                    "-c",
                    &script,
                    &port.to_string(),
                    &std::process::id().to_string(),
                ])
                .arg(home.path())
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
                .stderr(log_file)
                .spawn()
                .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    let endpoint = format!("http://127.0.0.1:{port}");
                    return Ok(Self {
                        endpoint,
                        log,
                        python,
                        child: Mutex::new(child),
                        home,
                    });
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!(
                        "moto exited ({status}); log tail:\n{}",
                        tail(&std::fs::read_to_string(&log).unwrap_or_default(), 30)
                    );
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = format!(
                        "moto did not listen on {port} within 60 s; log tail:\n{}",
                        tail(&std::fs::read_to_string(&log).unwrap_or_default(), 30)
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Err(last)
    }

    /// The Python that runs moto (it has boto3 and botocore too).
    pub fn python(&self) -> &Path {
        &self.python
    }

    /// Point `cmd` at moto: every inherited `AWS_*` variable removed, fake keys, `region`, no
    /// shared config files, no IMDS.
    pub fn aws_env<'c>(&self, cmd: &'c mut Command, region: &str) -> &'c mut Command {
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(&name);
            }
        }
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", region)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.home.path().join("aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.path().join("aws-credentials"),
            )
            .env_remove("KUBERNETES_EXEC_INFO")
            .env_remove("KUBECONFIG")
    }

    /// `kubectl-chronom <args>` against moto in `region`.
    pub fn chronom(&self, region: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"));
        self.aws_env(&mut cmd, region)
            .args(args)
            .stdin(Stdio::null());
        cmd.output().expect("run kubectl-chronom")
    }

    /// An in-process AWS config for moto: explicit keys, region and endpoint; reads no env or files.
    pub fn sdk(&self, region: &str) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .http_client(chronom::adapters::aws::http_client())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "moto",
            )))
            .build()
    }

    /// Create an EKS cluster in moto. `endpoint_and_ca` sets what DescribeCluster returns.
    pub async fn create_cluster(
        &self,
        region: &str,
        name: &str,
        vpc: aws_sdk_eks::types::VpcConfigRequest,
        endpoint_and_ca: Option<(&str, &str)>,
    ) {
        self.create_cluster_with_mode(region, name, vpc, endpoint_and_ca, None)
            .await;
    }

    /// [`Moto::create_cluster`] with an authentication mode (`API`, `API_AND_CONFIG_MAP`, ...).
    pub async fn create_cluster_with_mode(
        &self,
        region: &str,
        name: &str,
        vpc: aws_sdk_eks::types::VpcConfigRequest,
        endpoint_and_ca: Option<(&str, &str)>,
        mode: Option<&str>,
    ) {
        let eks = aws_sdk_eks::Client::new(&self.sdk(region));
        let mut req = eks
            .create_cluster()
            .name(name)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/eks-cluster"))
            .resources_vpc_config(vpc);
        if let Some((endpoint, ca)) = endpoint_and_ca {
            req = req.tags(ENDPOINT_TAG, endpoint).tags(CA_TAG, ca);
        }
        if let Some(mode) = mode {
            req = req.tags(AUTH_MODE_TAG, mode);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("moto CreateCluster {name}: {e:?}"));
    }

    /// moto's record of the sessions it issued (`/moto-api/data.json`, `sts.AssumedRole`).
    pub fn assumed_roles(&self) -> Vec<serde_json::Value> {
        let body = http_get(&self.endpoint, "/moto-api/data.json");
        let data: serde_json::Value = serde_json::from_str(&body).expect("moto data.json is JSON");
        data["sts"]["AssumedRole"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn http_get(endpoint: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect to moto");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// The authenticator's checks, ported from aws-iam-authenticator pkg/token/token.go
// (tokenVerifier.Verify, verifySTSHostnameFormat), up to the point where it calls STS.

/// What a token that passed the checks says. Error texts never contain the token, the
/// signature or the session token.
#[derive(Debug)]
pub struct CheckedToken {
    pub host: String,
    /// The region in the host (`global` for sts.amazonaws.com).
    pub host_region: String,
    /// Query parameters, keys lowercased, values decoded.
    pub params: BTreeMap<String, String>,
    pub access_key: String,
    pub signed_at: jiff::Timestamp,
}

impl CheckedToken {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }
}

const ALLOWED_PARAMS: [&str; 9] = [
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

/// The STS DNS suffix the authenticator of a cluster in `partition` accepts.
fn sts_domain(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        "aws-iso-e" => "cloud.adc-e.uk",
        "aws-iso-f" => "csp.hci.ic.gov",
        "aws-eusc" => "amazonaws.eu",
        _ => "amazonaws.com",
    }
}

/// Apply the authenticator's format checks for a cluster in `partition` at time `now`.
pub fn check_token(
    token: &str,
    partition: &str,
    now: jiff::Timestamp,
) -> Result<CheckedToken, String> {
    if token.len() > 4096 {
        return Err("token is too large".into());
    }
    let Some(body) = token.strip_prefix("k8s-aws-v1.") else {
        return Err("token is missing expected \"k8s-aws-v1.\" prefix".into());
    };
    if body.contains('=') {
        return Err("token body is padded base64 (RawURLEncoding has no padding)".into());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|e| format!("token body is not base64url: {e}"))?;
    let url = String::from_utf8(bytes).map_err(|_| "token body is not UTF-8".to_string())?;

    let rest = url
        .strip_prefix("https://")
        .ok_or("unexpected scheme in pre-signed URL (want https)")?;
    let (host, path_query) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let host_region = check_sts_host(host, partition)?;
    if path != "/" {
        return Err(format!("unexpected path {path:?} in pre-signed URL"));
    }

    let mut params = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(k)?.to_ascii_lowercase();
        if !ALLOWED_PARAMS.contains(&key.as_str()) {
            return Err(format!("non-whitelisted query parameter {key:?}"));
        }
        if params.insert(key.clone(), percent_decode(v)?).is_some() {
            return Err(format!("duplicate query parameter {key:?}"));
        }
    }
    let get = |k: &str| params.get(k).map_or("", String::as_str);
    if get("action") != "GetCallerIdentity" {
        return Err("unexpected action parameter in pre-signed URL".into());
    }
    if !get("x-amz-signedheaders")
        .split(';')
        .any(|h| h.eq_ignore_ascii_case("x-k8s-aws-id"))
    {
        return Err("client did not sign the x-k8s-aws-id header in the pre-signed URL".into());
    }
    match get("x-amz-expires").parse::<i64>() {
        Ok(e) if (0..=900).contains(&e) => {}
        _ => {
            return Err(format!(
                "invalid X-Amz-Expires parameter in pre-signed URL: {:?}",
                get("x-amz-expires")
            ));
        }
    }
    let date = get("x-amz-date");
    if date.is_empty() {
        return Err("X-Amz-Date parameter must be present in pre-signed URL".into());
    }
    let signed_at = jiff::fmt::strtime::parse("%Y%m%dT%H%M%SZ", date)
        .and_then(|t| t.to_datetime())
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
        .map(|z| z.timestamp())
        .map_err(|e| format!("error parsing X-Amz-Date parameter {date}: {e}"))?;
    if now > signed_at + jiff::SignedDuration::from_mins(15) {
        return Err(format!(
            "X-Amz-Date parameter is expired (15 minute expiration) {date}"
        ));
    }
    let access_key = get("x-amz-credential")
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    Ok(CheckedToken {
        host: host.to_string(),
        host_region,
        params,
        access_key,
        signed_at,
    })
}

/// `sts.amazonaws.com` (aws partition only) or `sts.<region>.<partition domain>`.
fn check_sts_host(host: &str, partition: &str) -> Result<String, String> {
    if host == "sts.amazonaws.com" {
        return if partition == "aws" {
            Ok("global".into())
        } else {
            Err(format!(
                "global endpoint unsupported in partition {partition}"
            ))
        };
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 4 || labels[0] != "sts" {
        return Err(format!("unexpected hostname {host:?} in pre-signed URL"));
    }
    let region = labels[1];
    let valid_region = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if !valid_region {
        return Err(format!(
            "invalid region identifier format provided: {region}"
        ));
    }
    if labels[2..].join(".") != sts_domain(partition) {
        return Err(format!(
            "partition {{{partition}}} does not support hostname {host}"
        ));
    }
    Ok(region.to_string())
}

fn percent_decode(s: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex = [
                    bytes.next().ok_or("malformed query parameter")?,
                    bytes.next().ok_or("malformed query parameter")?,
                ];
                let hex = std::str::from_utf8(&hex).map_err(|_| "malformed query parameter")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| "malformed query parameter")?);
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| "malformed query parameter".to_string())
}
