//! Which EKS cluster a kubeconfig context points at, read from its exec plugin and endpoint.
//!
//! Recognised plugins (flags may come in any order, also as `--flag=value`):
//! - `aws [--region R] [--profile P] eks get-token --cluster-name X` (or `--cluster-id X`), also
//!   behind wrappers such as `aws-vault exec P -- aws eks get-token …`;
//! - `aws-iam-authenticator token -i X [--region R]` (or `--cluster-id X`);
//! - `kubectl-chronom token --cluster X [--region R] [--profile P]` (or `kubectl chronom token …`).
//!
//! The plugin's env (`AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_PROFILE`) fills what the flags do
//! not say, and the endpoint host (`*.<region>.eks.amazonaws.com[.cn]`) the region last. Pure.

use kube::config::{ExecConfig, Kubeconfig};

use crate::eks::EksTarget;
use crate::eks::token::is_region_name;

/// What a context says about its EKS cluster. Each part may be unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InferredCluster {
    pub cluster: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
}

impl InferredCluster {
    /// The `--cluster/--region/--profile` equivalent, when the cluster name is known.
    pub fn target(&self) -> Option<EksTarget> {
        Some(EksTarget {
            cluster: self.cluster.clone()?,
            region: self.region.clone(),
            profile: self.profile.clone(),
        })
    }
}

/// Infer from `context` of `kubeconfig`: its user's exec plugin, then its cluster's server.
pub fn from_context(kubeconfig: &Kubeconfig, context: &str) -> InferredCluster {
    let ctx = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref());
    let exec = ctx
        .and_then(|c| c.user.as_deref())
        .and_then(|user| kubeconfig.auth_infos.iter().find(|a| a.name == user))
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.exec.as_ref());
    let server = ctx
        .and_then(|c| kubeconfig.clusters.iter().find(|cl| cl.name == c.cluster))
        .and_then(|cl| cl.cluster.as_ref())
        .and_then(|cl| cl.server.as_deref());
    infer(exec, server)
}

/// Infer from an exec plugin and a server URL, either of which may be missing.
pub fn infer(exec: Option<&ExecConfig>, server: Option<&str>) -> InferredCluster {
    let mut found = exec.map(from_exec).unwrap_or_default();
    if found.region.is_none() {
        found.region = server.and_then(region_from_endpoint);
    }
    found
}

/// What the exec plugin's command line and env say.
pub fn from_exec(exec: &ExecConfig) -> InferredCluster {
    let args: Vec<&str> = exec.args.iter().flatten().map(String::as_str).collect();
    let program = exec
        .command
        .as_deref()
        .map(program_name)
        .unwrap_or_default();
    let env = |name: &str| {
        exec.env
            .iter()
            .flatten()
            .find(|e| e.get("name").is_some_and(|n| n == name))
            .and_then(|e| e.get("value"))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let has_pair = |a: &str, b: &str| args.windows(2).any(|w| w[0] == a && w[1] == b);

    let (cluster_flags, profile_flag): (&[&str], bool) = if has_pair("eks", "get-token") {
        (&["--cluster-name", "--cluster-id"], true)
    } else if program == "aws-iam-authenticator" && args.contains(&"token") {
        (&["-i", "--cluster-id"], false)
    } else if (program == "kubectl-chronom" && args.contains(&"token"))
        || (program == "kubectl" && has_pair("chronom", "token"))
    {
        (&["--cluster"], true)
    } else {
        (&[], false)
    };
    if cluster_flags.is_empty() {
        return InferredCluster::default();
    }
    let cluster = cluster_flags.iter().find_map(|f| flag(&args, f));
    let region = flag(&args, "--region")
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"));
    let profile = profile_flag
        .then(|| flag(&args, "--profile"))
        .flatten()
        .or_else(|| env("AWS_PROFILE"));
    InferredCluster {
        cluster,
        region: region.filter(|r| is_region_name(r)),
        profile,
    }
}

/// The region in an EKS endpoint: `https://<id>.<suffix>.<region>.eks.amazonaws.com` (also
/// `.amazonaws.com.cn`), with or without scheme, port or path.
pub fn region_from_endpoint(server: &str) -> Option<String> {
    let rest = server.split_once("://").map_or(server, |(_, r)| r);
    let host = rest
        .split(['/', ':', '?'])
        .next()?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let eks = labels.iter().rposition(|l| *l == "eks")?;
    let suffix = &labels[eks + 1..];
    if suffix != ["amazonaws", "com"] && suffix != ["amazonaws", "com", "cn"] {
        return None;
    }
    // At least one label (the cluster's id) before the region.
    let region = *labels.get(eks.checked_sub(1)?)?;
    (eks >= 2 && is_region_name(region) && region.contains('-')).then(|| region.to_string())
}

/// `/usr/local/bin/aws-iam-authenticator.exe` -> `aws-iam-authenticator`.
fn program_name(command: &str) -> &str {
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command);
    base.strip_suffix(".exe").unwrap_or(base)
}

/// The value of `name VALUE` or `name=VALUE` (the last one wins, as with most CLIs).
fn flag(args: &[&str], name: &str) -> Option<String> {
    let mut found = None;
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        if *arg == name {
            if let Some(v) = it.peek().filter(|v| !v.starts_with('-')) {
                found = Some(v.to_string());
                it.next();
            }
        } else if let Some(v) = arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            found = Some(v.to_string());
        }
    }
    found.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn exec(command: &str, args: &[&str], env: &[(&str, &str)]) -> ExecConfig {
        ExecConfig {
            command: Some(command.into()),
            args: Some(args.iter().map(|s| s.to_string()).collect()),
            env: (!env.is_empty()).then(|| {
                env.iter()
                    .map(|(n, v)| {
                        HashMap::from([
                            ("name".to_string(), n.to_string()),
                            ("value".to_string(), v.to_string()),
                        ])
                    })
                    .collect()
            }),
            ..Default::default()
        }
    }

    fn found(
        cluster: Option<&str>,
        region: Option<&str>,
        profile: Option<&str>,
    ) -> InferredCluster {
        InferredCluster {
            cluster: cluster.map(Into::into),
            region: region.map(Into::into),
            profile: profile.map(Into::into),
        }
    }

    #[test]
    fn aws_cli_as_update_kubeconfig_writes_it() {
        let e = exec(
            "aws",
            &[
                "--region",
                "eu-west-1",
                "eks",
                "get-token",
                "--cluster-name",
                "prod",
                "--output",
                "json",
            ],
            &[],
        );
        assert_eq!(from_exec(&e), found(Some("prod"), Some("eu-west-1"), None));
        let e = exec(
            "aws",
            &[
                "--region",
                "eu-west-1",
                "eks",
                "get-token",
                "--cluster-name",
                "prod",
            ],
            &[("AWS_PROFILE", "ops")],
        );
        assert_eq!(
            from_exec(&e),
            found(Some("prod"), Some("eu-west-1"), Some("ops"))
        );
    }

    #[test]
    fn aws_cli_flag_forms_and_orders() {
        let e = exec(
            "/usr/local/bin/aws",
            &[
                "eks",
                "get-token",
                "--output",
                "json",
                "--cluster-name=prod",
                "--region=us-west-2",
                "--profile=dev",
            ],
            &[],
        );
        assert_eq!(
            from_exec(&e),
            found(Some("prod"), Some("us-west-2"), Some("dev"))
        );
        let e = exec(
            "aws",
            &[
                "eks",
                "get-token",
                "--cluster-id",
                "0b9a4b4e-1234-5678-9abc-def012345678",
                "--region",
                "us-east-1",
            ],
            &[],
        );
        assert_eq!(
            from_exec(&e),
            found(
                Some("0b9a4b4e-1234-5678-9abc-def012345678"),
                Some("us-east-1"),
                None
            )
        );
        // The --profile flag beats AWS_PROFILE.
        let e = exec(
            "aws",
            &[
                "--profile",
                "flag",
                "eks",
                "get-token",
                "--cluster-name",
                "x",
            ],
            &[("AWS_PROFILE", "env")],
        );
        assert_eq!(from_exec(&e).profile.as_deref(), Some("flag"));
        // A flag with no value is no value.
        let e = exec(
            "aws",
            &[
                "eks",
                "get-token",
                "--cluster-name",
                "--region",
                "us-east-1",
            ],
            &[],
        );
        assert_eq!(from_exec(&e), found(None, Some("us-east-1"), None));
    }

    #[test]
    fn region_from_exec_env_when_no_flag() {
        let e = exec(
            "aws",
            &["eks", "get-token", "--cluster-name", "prod"],
            &[("AWS_REGION", "ap-south-1")],
        );
        assert_eq!(from_exec(&e).region.as_deref(), Some("ap-south-1"));
        let e = exec(
            "aws",
            &["eks", "get-token", "--cluster-name", "prod"],
            &[("AWS_DEFAULT_REGION", "ca-central-1")],
        );
        assert_eq!(from_exec(&e).region.as_deref(), Some("ca-central-1"));
        let e = exec(
            "aws",
            &["eks", "get-token", "--cluster-name", "prod"],
            &[
                ("AWS_DEFAULT_REGION", "ca-central-1"),
                ("AWS_REGION", "ap-south-1"),
            ],
        );
        assert_eq!(
            from_exec(&e).region.as_deref(),
            Some("ap-south-1"),
            "AWS_REGION wins, as in the SDKs"
        );
        let e = exec(
            "aws",
            &[
                "eks",
                "get-token",
                "--cluster-name",
                "prod",
                "--region",
                "eu-north-1",
            ],
            &[("AWS_REGION", "ap-south-1")],
        );
        assert_eq!(
            from_exec(&e).region.as_deref(),
            Some("eu-north-1"),
            "the flag wins over env"
        );
    }

    #[test]
    fn wrappers_around_the_aws_cli() {
        let e = exec(
            "aws-vault",
            &[
                "exec",
                "prod-admin",
                "--",
                "aws",
                "eks",
                "get-token",
                "--cluster-name",
                "prod",
                "--region",
                "eu-west-1",
            ],
            &[],
        );
        assert_eq!(from_exec(&e), found(Some("prod"), Some("eu-west-1"), None));
        // The test control plane's stand-in for `aws`.
        let e = exec(
            "/tmp/cp/eks-get-token",
            &[
                "--region",
                "us-east-1",
                "eks",
                "get-token",
                "--cluster-name",
                "chronom",
                "--output",
                "json",
            ],
            &[],
        );
        assert_eq!(
            from_exec(&e),
            found(Some("chronom"), Some("us-east-1"), None)
        );
    }

    #[test]
    fn aws_iam_authenticator() {
        let e = exec(
            "aws-iam-authenticator",
            &["token", "-i", "legacy"],
            &[("AWS_PROFILE", "old"), ("AWS_REGION", "us-east-2")],
        );
        assert_eq!(
            from_exec(&e),
            found(Some("legacy"), Some("us-east-2"), Some("old"))
        );
        let e = exec(
            "C:\\tools\\aws-iam-authenticator.exe",
            &["token", "--cluster-id=legacy", "--region=eu-central-1"],
            &[],
        );
        assert_eq!(
            from_exec(&e),
            found(Some("legacy"), Some("eu-central-1"), None)
        );
        // -r is the role to assume, not a region or a cluster.
        let e = exec(
            "aws-iam-authenticator",
            &["token", "-i", "c", "-r", "arn:aws:iam::111122223333:role/x"],
            &[],
        );
        assert_eq!(from_exec(&e), found(Some("c"), None, None));
        // No `token` subcommand: not a token plugin.
        assert_eq!(
            from_exec(&exec("aws-iam-authenticator", &["verify", "-i", "c"], &[])),
            InferredCluster::default()
        );
    }

    #[test]
    fn our_own_token_command() {
        let e = exec(
            "/home/u/.krew/bin/kubectl-chronom",
            &[
                "token",
                "--cluster",
                "prod",
                "--region",
                "eu-west-1",
                "--profile",
                "p",
            ],
            &[],
        );
        assert_eq!(
            from_exec(&e),
            found(Some("prod"), Some("eu-west-1"), Some("p"))
        );
        let e = exec(
            "kubectl",
            &["chronom", "token", "--cluster=prod"],
            &[("AWS_DEFAULT_REGION", "eu-west-3")],
        );
        assert_eq!(from_exec(&e), found(Some("prod"), Some("eu-west-3"), None));
    }

    #[test]
    fn unrelated_plugins_say_nothing() {
        assert_eq!(
            from_exec(&exec("gke-gcloud-auth-plugin", &[], &[])),
            InferredCluster::default()
        );
        assert_eq!(
            from_exec(&exec(
                "kubelogin",
                &["get-token", "--server-id", "x"],
                &[("AWS_REGION", "us-east-1")]
            )),
            InferredCluster::default()
        );
        assert_eq!(
            from_exec(&exec(
                "aws",
                &["sts", "get-caller-identity", "--region", "us-east-1"],
                &[]
            )),
            InferredCluster::default()
        );
        assert_eq!(
            from_exec(&ExecConfig::default()),
            InferredCluster::default()
        );
    }

    #[test]
    fn invalid_regions_are_dropped() {
        let e = exec(
            "aws",
            &[
                "eks",
                "get-token",
                "--cluster-name",
                "c",
                "--region",
                "EU West",
            ],
            &[],
        );
        assert_eq!(from_exec(&e), found(Some("c"), None, None));
    }

    #[test]
    fn region_from_eks_endpoints() {
        let r = |s: &str| region_from_endpoint(s);
        assert_eq!(
            r("https://0123456789ABCDEF0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com")
                .as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            r("https://0123456789ABCDEF.yl4.eu-central-1.eks.amazonaws.com:443/").as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(
            r("https://ABCDEF.sk1.us-east-1.eks.amazonaws.com").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            r("https://ABCDEF.yl4.cn-north-1.eks.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(
            r("ABCDEF.gr7.ap-southeast-2.eks.amazonaws.com").as_deref(),
            Some("ap-southeast-2")
        );
        assert_eq!(
            r("https://ABCDEF.GR7.US-WEST-2.EKS.AMAZONAWS.COM.").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(r("https://127.0.0.1:6443"), None);
        assert_eq!(r("https://kubernetes.default.svc"), None);
        assert_eq!(r("https://eks.amazonaws.com"), None);
        assert_eq!(
            r("https://us-west-2.eks.amazonaws.com"),
            None,
            "no cluster id label"
        );
        assert_eq!(
            r("https://x.gr7.us-west-2.eks.amazonaws.com.evil.example"),
            None
        );
        assert_eq!(r("https://x.gr7.us-west-2.eks.example.com"), None);
        assert_eq!(r(""), None);
    }

    #[test]
    fn from_a_whole_kubeconfig() {
        let yaml = r#"
apiVersion: v1
kind: Config
current-context: arn:aws:eks:eu-west-1:111122223333:cluster/prod
clusters:
- name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
  cluster:
    server: https://ABC.gr7.eu-west-1.eks.amazonaws.com
    certificate-authority-data: AAAA
- name: local
  cluster:
    server: https://127.0.0.1:6443
- name: eks-by-endpoint
  cluster:
    server: https://DEF.yl4.ap-northeast-1.eks.amazonaws.com
contexts:
- name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
  context:
    cluster: arn:aws:eks:eu-west-1:111122223333:cluster/prod
    user: arn:aws:eks:eu-west-1:111122223333:cluster/prod
- name: static
  context:
    cluster: eks-by-endpoint
    user: static-token
- name: kind
  context:
    cluster: local
    user: static-token
users:
- name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [--region, eu-west-1, eks, get-token, --cluster-name, prod, --output, json]
      env:
      - name: AWS_PROFILE
        value: prod-readonly
- name: static-token
  user:
    token: not-a-real-token
"#;
        let kc: Kubeconfig = serde_saphyr::from_str(yaml).unwrap();
        let prod = from_context(&kc, "arn:aws:eks:eu-west-1:111122223333:cluster/prod");
        assert_eq!(
            prod,
            found(Some("prod"), Some("eu-west-1"), Some("prod-readonly"))
        );
        assert_eq!(
            prod.target(),
            Some(EksTarget {
                cluster: "prod".into(),
                region: Some("eu-west-1".into()),
                profile: Some("prod-readonly".into())
            })
        );
        let by_endpoint = from_context(&kc, "static");
        assert_eq!(by_endpoint, found(None, Some("ap-northeast-1"), None));
        assert_eq!(by_endpoint.target(), None);
        assert_eq!(from_context(&kc, "kind"), InferredCluster::default());
        assert_eq!(from_context(&kc, "missing"), InferredCluster::default());
    }
}
