//! Which EKS cluster a kubeconfig context points at, read from its exec plugin and endpoint.
//!
//! Recognised plugins (flags may come in any order, also as `--flag=value`):
//! - `aws [--region R] [--profile P] eks get-token --cluster-name X` (or `--cluster-id X`), also
//!   behind wrappers such as `aws-vault exec P -- aws eks get-token …`;
//! - `aws-iam-authenticator token -i X [--region R]` (or `--cluster-id X`);
//! - `kubectl-chronom token --cluster X [--region R] [--profile P]` (or `kubectl chronom token …`).
//!
//! The plugin's env (`AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_PROFILE`) fills what the flags do
//! not say. [`eks_cluster_of`] decides whether a context is an EKS cluster at all: only on an
//! EKS endpoint host (IPv4 `*.<region>.eks.amazonaws.com[.cn]`, dual-stack `*.<region>.api.aws`;
//! see [`region_from_endpoint`]), or behind a tunnel whose `tls-server-name` is one; the
//! endpoint's region wins. Pure.

use kube::config::{ExecConfig, Kubeconfig};

use crate::adapters::aws::EksTarget;
use crate::adapters::aws::token::{is_region_name, partition_domain};

/// What a context says about its EKS cluster. Each part may be unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InferredCluster {
    /// The cluster's name: what DescribeCluster and the access-entry calls take.
    pub cluster: Option<String>,
    /// An Outposts local cluster's id (`aws eks get-token --cluster-id`), which names the
    /// cluster in its tokens but which DescribeCluster does not take.
    pub cluster_id: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// The role the plugin assumes before it signs.
    pub role_arn: Option<String>,
}

/// The parts of a context inference reads: its user's exec plugin, its cluster's server (and
/// `tls-server-name`), and the name of its cluster entry.
struct ContextParts<'k> {
    exec: Option<&'k ExecConfig>,
    server: Option<&'k str>,
    tls_server_name: Option<&'k str>,
    cluster_entry: Option<&'k str>,
}

fn context_parts<'k>(kubeconfig: &'k Kubeconfig, context: &str) -> ContextParts<'k> {
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
    let cluster = ctx.and_then(|c| kubeconfig.clusters.iter().find(|cl| cl.name == c.cluster));
    let entry = cluster.and_then(|cl| cl.cluster.as_ref());
    ContextParts {
        exec,
        server: entry.and_then(|cl| cl.server.as_deref()),
        tls_server_name: entry.and_then(|cl| cl.tls_server_name.as_deref()),
        cluster_entry: cluster.map(|cl| cl.name.as_str()),
    }
}

/// Whether a kubeconfig context is an EKS cluster whose EKS side (DescribeCluster, access
/// entries) can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContextCluster {
    /// The server is an EKS endpoint and the context says which cluster it is.
    Eks(EksTarget),
    /// Not an EKS cluster, or not one we can name; the text says why.
    NotEks(String),
}

/// Decide whether `context` points at an EKS cluster. Only a server on an EKS endpoint host
/// ([`region_from_endpoint`]), or one whose `tls-server-name` is, counts: an exec plugin that runs `aws eks get-token` can
/// front any API server (the test control plane's does), and asking AWS about a cluster that
/// is not the one we talk to would mislead. The endpoint gives the region (the cluster lives
/// there, whatever the plugin's `--region` says); the name comes from the exec plugin, else
/// from a context or cluster entry named by its ARN, as `aws eks update-kubeconfig` names them.
pub(crate) fn eks_cluster_of(kubeconfig: &Kubeconfig, context: &str) -> ContextCluster {
    let ContextParts {
        exec,
        server,
        tls_server_name,
        cluster_entry,
    } = context_parts(kubeconfig, context);
    let Some(server) = server else {
        return ContextCluster::NotEks(format!("context {context:?} names no server"));
    };
    // A tunnel, proxy or private DNS name in front of the endpoint keeps TLS honest with
    // `tls-server-name`: the name the certificate is checked against is the EKS endpoint's.
    let Some(region) =
        region_from_endpoint(server).or_else(|| tls_server_name.and_then(region_from_endpoint))
    else {
        let tls = tls_server_name
            .map(|t| format!(" nor is its tls-server-name ({t})"))
            .unwrap_or_default();
        return ContextCluster::NotEks(format!(
            "the server of context {context:?} ({server}) is not an EKS endpoint{tls}"
        ));
    };
    let from_plugin = exec.map(from_exec).unwrap_or_default();
    let from_arn = [Some(context), cluster_entry]
        .into_iter()
        .flatten()
        .find_map(cluster_arn);
    let name = from_plugin
        .cluster
        .or_else(|| from_arn.filter(|(r, _)| *r == region).map(|(_, n)| n));
    match (name, from_plugin.cluster_id) {
        (Some(cluster), _) => ContextCluster::Eks(EksTarget {
            cluster,
            region: Some(region),
            profile: from_plugin.profile,
            role_arn: from_plugin.role_arn,
        }),
        (None, Some(id)) => ContextCluster::NotEks(format!(
            "context {context:?} names its EKS cluster only by the Outposts local cluster id {id}, and DescribeCluster takes the name; pass --cluster NAME --region {region} (the name `aws eks list-clusters --region {region}` shows)"
        )),
        (None, None) => ContextCluster::NotEks(format!(
            "the server of context {context:?} is an EKS endpoint in {region}, but neither its exec plugin nor its name says which cluster it is; pass --cluster NAME --region {region}"
        )),
    }
}

/// `arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME` -> (region, name).
pub(crate) fn cluster_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    let name = resource.strip_prefix("cluster/")?;
    let valid = *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "eks"
        && is_region_name(region)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| (region.to_string(), name.to_string()))
}

/// What the exec plugin's command line and env say.
pub(crate) fn from_exec(exec: &ExecConfig) -> InferredCluster {
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

    // Which flag names the cluster, and whether its value is a name. get_token.py: only
    // `--cluster-id` is the id, "for local clusters on AWS Outposts only". The authenticator's
    // `-i` and our `--cluster` carry whatever the token names: the name, or a local cluster's
    // id, told apart by the id's UUID shape.
    enum Names {
        Name,
        Id,
        Either,
    }
    // The role flags: get_token.py's `--role-arn`, which update-kubeconfig --role-arn writes
    // as `--role` (argparse takes the unambiguous prefix); aws-iam-authenticator's
    // `-r`/`--role`; our `--role-arn`.
    type Flags<'f> = (&'f [(&'f str, Names)], &'f [&'f str], bool);
    let (cluster_flags, role_flags, profile_flag): Flags = if has_pair("eks", "get-token") {
        (
            &[("--cluster-name", Names::Name), ("--cluster-id", Names::Id)],
            &["--role-arn", "--role"],
            true,
        )
    } else if program == "aws-iam-authenticator" && args.contains(&"token") {
        (
            &[("-i", Names::Either), ("--cluster-id", Names::Either)],
            &["-r", "--role"],
            false,
        )
    } else if (program == "kubectl-chronom" && args.contains(&"token"))
        || (program == "kubectl" && has_pair("chronom", "token"))
    {
        (&[("--cluster", Names::Either)], &["--role-arn"], true)
    } else {
        (&[], &[], false)
    };
    if cluster_flags.is_empty() {
        return InferredCluster::default();
    }
    let (mut cluster, mut cluster_id) = (None, None);
    for (name, names) in cluster_flags {
        let Some(value) = flag(&args, name) else {
            continue;
        };
        let is_id = match names {
            Names::Name => false,
            Names::Id => true,
            Names::Either => is_local_cluster_id(&value),
        };
        let slot = if is_id { &mut cluster_id } else { &mut cluster };
        slot.get_or_insert(value);
    }
    let region = flag(&args, "--region")
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"));
    // The wrapped command's own --profile, else the wrapper's (aws-vault runs it with that
    // profile's credentials), else the env's.
    let profile = profile_flag
        .then(|| flag(&args, "--profile"))
        .flatten()
        .or_else(|| {
            (program == "aws-vault")
                .then(|| aws_vault_profile(&args))
                .flatten()
        })
        .or_else(|| env("AWS_PROFILE"));
    let role_arn = role_flags.iter().find_map(|f| flag(&args, f));
    InferredCluster {
        cluster,
        cluster_id,
        region: region.filter(|r| is_region_name(r)),
        profile,
        role_arn,
    }
}

/// `aws-vault [GLOBAL FLAGS] exec [FLAGS] PROFILE -- COMMAND…` -> PROFILE. The flags of
/// `exec` that take a separate value are skipped with it.
fn aws_vault_profile(args: &[&str]) -> Option<String> {
    const TAKES_VALUE: [&str; 5] = ["-d", "--duration", "-t", "--mfa-token", "--region"];
    let exec = args.iter().position(|a| *a == "exec")?;
    let mut it = args[exec + 1..].iter();
    while let Some(arg) = it.next() {
        if *arg == "--" {
            return None;
        }
        if TAKES_VALUE.contains(arg) {
            it.next();
        } else if !arg.starts_with('-') {
            return Some(arg.to_string());
        }
    }
    None
}

/// The region in an EKS cluster endpoint, with or without scheme, port or path. The forms, from
/// the EKS User Guide ("Cluster API server endpoint") and botocore's endpoints.json partitions:
/// - IPv4 (and IPv6 clusters made before October 2024): `<id>.<sfx>.<region>.eks.<dns suffix>`,
///   the DNS suffix being the region's partition's (`amazonaws.com`, `amazonaws.com.cn`, the
///   ISO and EUSC suffixes);
/// - dual-stack, for IPv6 clusters made since October 2024: `<id>.<sfx>.<region>.api.aws`, and
///   in China `<id>.<sfx>.<region>.api.amazonwebservices.com.cn`.
///
/// The dual-stack suffixes are shared by every AWS service (`eks.<region>.api.aws` is the EKS
/// API itself), so there the two labels before the region are required.
pub fn region_from_endpoint(server: &str) -> Option<String> {
    let rest = server.split_once("://").map_or(server, |(_, r)| r);
    let host = rest
        .split(['/', ':', '?'])
        .next()?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    (0..labels.len()).find_map(|at| {
        let region = labels[at];
        if !is_region_name(region) || !region.contains('-') {
            return None;
        }
        let suffix = labels[at + 1..].join(".");
        let before = &labels[..at];
        let ipv4 = suffix == format!("eks.{}", partition_domain(region)) && !before.is_empty();
        let dual_stack = match suffix.as_str() {
            "api.aws" => !region.starts_with("cn-"),
            "api.amazonwebservices.com.cn" => region.starts_with("cn-"),
            _ => false,
        } && before.len() == 2
            && before
                .iter()
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric()));
        (ipv4 || dual_stack).then(|| region.to_string())
    })
}

/// An Outposts local cluster's id is a UUID (8-4-4-4-12 hex digits). A name could take that
/// shape too, but where a flag takes either the shape is the only tell.
fn is_local_cluster_id(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
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
            cluster_id: None,
            region: region.map(Into::into),
            profile: profile.map(Into::into),
            role_arn: None,
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
        // --cluster-id is an Outposts local cluster's id, not a name (get_token.py).
        assert_eq!(
            from_exec(&e),
            InferredCluster {
                cluster_id: Some("0b9a4b4e-1234-5678-9abc-def012345678".into()),
                ..found(None, Some("us-east-1"), None)
            }
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
        // aws-vault runs the command with its profile's credentials.
        assert_eq!(
            from_exec(&e),
            found(Some("prod"), Some("eu-west-1"), Some("prod-admin"))
        );
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

    /// The identity the plugin signs as: update-kubeconfig --role-arn writes `--role ARN`
    /// (get_token.py's `--role-arn`, by argparse prefix), the authenticator takes `-r`/`--role`,
    /// aws-vault runs the command as its profile.
    #[test]
    fn the_plugin_identity_role_and_profile() {
        let role = "arn:aws:iam::111122223333:role/eks-admin";
        let with_role = |e: &ExecConfig| from_exec(e).role_arn;
        let aws = |extra: &[&str]| {
            let mut args = vec![
                "--region",
                "eu-west-1",
                "eks",
                "get-token",
                "--cluster-name",
                "prod",
            ];
            args.extend(extra);
            exec("aws", &args, &[("AWS_PROFILE", "base")])
        };
        assert_eq!(with_role(&aws(&["--role", role])).as_deref(), Some(role));
        assert_eq!(
            with_role(&aws(&["--role-arn", role])).as_deref(),
            Some(role)
        );
        let eq_form = format!("--role-arn={role}");
        assert_eq!(with_role(&aws(&[&eq_form])).as_deref(), Some(role));
        assert_eq!(with_role(&aws(&[])), None);
        assert_eq!(
            from_exec(&aws(&["--role", role])).profile.as_deref(),
            Some("base")
        );
        let e = exec(
            "aws-iam-authenticator",
            &["token", "--cluster-id", "prod", "--role", role],
            &[],
        );
        assert_eq!(with_role(&e).as_deref(), Some(role));
        let e = exec(
            "kubectl-chronom",
            &["token", "--cluster", "prod", "--role-arn", role],
            &[],
        );
        assert_eq!(with_role(&e).as_deref(), Some(role));
        // aws-vault: the profile after `exec` and its flags; the wrapped --profile wins.
        let vault =
            |args: &[&str]| from_exec(&exec("aws-vault", args, &[("AWS_PROFILE", "env")])).profile;
        let cmd = ["--", "aws", "eks", "get-token", "--cluster-name", "prod"];
        let with = |pre: &[&'static str]| [pre, &cmd[..]].concat();
        assert_eq!(vault(&with(&["exec", "ops"])).as_deref(), Some("ops"));
        assert_eq!(
            vault(&with(&[
                "--backend=file",
                "exec",
                "-d",
                "1h",
                "--no-session",
                "ops"
            ]))
            .as_deref(),
            Some("ops")
        );
        assert_eq!(
            vault(&with(&["exec", "--duration=1h", "ops"])).as_deref(),
            Some("ops")
        );
        assert_eq!(
            vault(&[&with(&["exec", "ops"])[..], &["--profile", "inner"]].concat()).as_deref(),
            Some("inner")
        );
        assert_eq!(vault(&with(&["exec"])).as_deref(), Some("env"));
        // And the target carries it to the AWS side.
        let kc = kubeconfig(&format!(
            r#"
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "https://ABC.gr7.eu-west-1.eks.amazonaws.com"}}
users:
- name: u
  user:
    exec:
      command: aws
      args: [--region, eu-west-1, eks, get-token, --cluster-name, prod, --role, "{role}"]
      env: [{{name: AWS_PROFILE, value: base}}]
contexts:
- name: ctx
  context: {{cluster: c, user: u}}
"#
        ));
        assert_eq!(
            eks_cluster_of(&kc, "ctx"),
            ContextCluster::Eks(EksTarget {
                cluster: "prod".into(),
                region: Some("eu-west-1".into()),
                profile: Some("base".into()),
                role_arn: Some(role.into()),
            })
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
        assert_eq!(
            from_exec(&e),
            InferredCluster {
                role_arn: Some("arn:aws:iam::111122223333:role/x".into()),
                ..found(Some("c"), None, None)
            }
        );
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

    /// The EKS User Guide, "Cluster API server endpoint": IPv6 clusters made since October 2024
    /// get a dual-stack endpoint, `<id>.<sfx>.<region>.api.aws` (AWS and GovCloud) and
    /// `....<region>.api.amazonwebservices.com.cn` (China); the ISO partitions' endpoints use
    /// their DNS suffix (botocore's endpoints.json).
    #[test]
    fn region_from_dual_stack_and_partition_endpoints() {
        let r = |s: &str| region_from_endpoint(s);
        assert_eq!(
            r("https://0123456789ABCDEF0123456789ABCDEF.gr7.us-west-2.api.aws").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            r("https://ABCDEF.sk1.us-gov-west-1.api.aws:443/").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(
            r("https://ABCDEF.yl4.cn-northwest-1.api.amazonwebservices.com.cn").as_deref(),
            Some("cn-northwest-1")
        );
        assert_eq!(
            r("https://ABCDEF.ab1.us-iso-east-1.eks.c2s.ic.gov").as_deref(),
            Some("us-iso-east-1")
        );
        // The dual-stack suffixes are every service's: the EKS API itself, STS, S3 are not
        // cluster endpoints.
        assert_eq!(r("https://eks.us-west-2.api.aws"), None);
        assert_eq!(r("https://sts.us-east-1.api.aws"), None);
        assert_eq!(r("https://a.b.c.us-east-1.api.aws"), None);
        // Each partition's suffix with its own regions only.
        assert_eq!(
            r("https://ABCDEF.gr7.us-west-2.api.amazonwebservices.com.cn"),
            None
        );
        assert_eq!(r("https://ABCDEF.gr7.cn-north-1.api.aws"), None);
        assert_eq!(r("https://ABCDEF.gr7.us-west-2.eks.amazonaws.com.cn"), None);
        assert_eq!(r("https://x.gr7.us-west-2.api.aws.evil.example"), None);
    }

    #[test]
    fn a_tunnel_with_an_eks_tls_server_name_is_eks() {
        let kc = kubeconfig(
            r#"
apiVersion: v1
kind: Config
clusters:
- name: tunnel
  cluster:
    server: "https://127.0.0.1:8443"
    tls-server-name: ABCDEF.gr7.eu-west-1.eks.amazonaws.com
- name: private-dns
  cluster:
    server: "https://k8s.prod.corp.example"
    tls-server-name: ABCDEF.gr7.ap-south-1.api.aws
- name: plain-tunnel
  cluster:
    server: "https://127.0.0.1:8443"
    tls-server-name: kubernetes.default.svc
users:
- name: cli
  user:
    exec:
      command: aws
      args: [eks, get-token, --cluster-name, prod]
contexts:
- name: tunnel
  context: {cluster: tunnel, user: cli}
- name: private-dns
  context: {cluster: private-dns, user: cli}
- name: plain-tunnel
  context: {cluster: plain-tunnel, user: cli}
"#,
        );
        let eks = |region: &str| {
            ContextCluster::Eks(EksTarget {
                cluster: "prod".into(),
                region: Some(region.into()),
                profile: None,
                role_arn: None,
            })
        };
        assert_eq!(eks_cluster_of(&kc, "tunnel"), eks("eu-west-1"));
        assert_eq!(eks_cluster_of(&kc, "private-dns"), eks("ap-south-1"));
        let ContextCluster::NotEks(why) = eks_cluster_of(&kc, "plain-tunnel") else {
            panic!("a tls-server-name that is no EKS endpoint is not EKS")
        };
        assert!(
            why.contains("tls-server-name (kubernetes.default.svc)"),
            "{why}"
        );
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
        assert_eq!(
            eks_cluster_of(&kc, "arn:aws:eks:eu-west-1:111122223333:cluster/prod"),
            ContextCluster::Eks(EksTarget {
                cluster: "prod".into(),
                region: Some("eu-west-1".into()),
                profile: Some("prod-readonly".into()),
                role_arn: None,
            })
        );
        // A static token on an EKS endpoint: the region is known, the cluster is not.
        let ContextCluster::NotEks(why) = eks_cluster_of(&kc, "static") else {
            panic!("no cluster name")
        };
        assert!(why.contains("EKS endpoint in ap-northeast-1"), "{why}");
        assert!(
            matches!(eks_cluster_of(&kc, "kind"), ContextCluster::NotEks(why) if why.contains("not an EKS endpoint"))
        );
    }

    fn kubeconfig(yaml: &str) -> Kubeconfig {
        serde_saphyr::from_str(yaml).unwrap()
    }

    /// The test control plane's kubeconfig, as scripts/control-plane writes it: its `chronom-eks`
    /// user runs a stand-in for `aws eks get-token --cluster-name chronom`, on a loopback server.
    const CONTROL_PLANE: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: chronom
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: AAAA}
users:
- name: chronom-admin
  user: {client-certificate-data: AAAA, client-key-data: AAAA}
- name: chronom-eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: /tmp/cp/eks-get-token
      args: [--region, us-east-1, eks, get-token, --cluster-name, chronom, --output, json]
contexts:
- name: chronom-admin
  context: {cluster: chronom, user: chronom-admin}
- name: chronom-eks
  context: {cluster: chronom, user: chronom-eks}
current-context: chronom-admin
"#;

    #[test]
    fn a_look_alike_plugin_on_a_non_eks_server_is_not_eks() {
        let kc = kubeconfig(CONTROL_PLANE);
        for context in ["chronom-admin", "chronom-eks"] {
            match eks_cluster_of(&kc, context) {
                ContextCluster::NotEks(why) => assert!(
                    why.contains("https://127.0.0.1:6443") && why.contains("not an EKS endpoint"),
                    "{why}"
                ),
                other => panic!("{context}: {other:?}"),
            }
        }
        // The plugin alone does name a cluster: only the server keeps it from counting.
        let exec = context_parts(&kc, "chronom-eks").exec;
        assert_eq!(from_exec(exec.unwrap()).cluster.as_deref(), Some("chronom"));
        assert!(
            matches!(eks_cluster_of(&kc, "missing"), ContextCluster::NotEks(why) if why.contains("names no server"))
        );
    }

    #[test]
    fn an_eks_server_with_a_named_cluster_is_eks() {
        let kc = kubeconfig(
            r#"
apiVersion: v1
kind: Config
clusters:
- name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
  cluster: {server: "https://ABC.gr7.eu-west-1.eks.amazonaws.com"}
- name: staging
  cluster: {server: "https://DEF.yl4.us-east-2.eks.amazonaws.com"}
users:
- name: cli
  user:
    exec:
      command: aws
      args: [--region, us-west-2, eks, get-token, --cluster-name, prod]
      env: [{name: AWS_PROFILE, value: ops}]
- name: static
  user: {token: not-a-real-token}
contexts:
- name: by-plugin
  context: {cluster: "arn:aws:eks:eu-west-1:111122223333:cluster/prod", user: cli}
- name: by-cluster-arn
  context: {cluster: "arn:aws:eks:eu-west-1:111122223333:cluster/prod", user: static}
- name: arn:aws:eks:us-east-2:111122223333:cluster/staging
  context: {cluster: staging, user: static}
- name: unnamed
  context: {cluster: staging, user: static}
- name: arn:aws:eks:eu-west-1:111122223333:cluster/elsewhere
  context: {cluster: staging, user: static}
"#,
        );
        let eks = |cluster: &str, region: &str, profile: Option<&str>| {
            ContextCluster::Eks(EksTarget {
                cluster: cluster.into(),
                region: Some(region.into()),
                profile: profile.map(Into::into),
                role_arn: None,
            })
        };
        // The endpoint's region wins over the plugin's --region: the cluster lives there.
        assert_eq!(
            eks_cluster_of(&kc, "by-plugin"),
            eks("prod", "eu-west-1", Some("ops"))
        );
        assert_eq!(
            eks_cluster_of(&kc, "by-cluster-arn"),
            eks("prod", "eu-west-1", None)
        );
        assert_eq!(
            eks_cluster_of(&kc, "arn:aws:eks:us-east-2:111122223333:cluster/staging"),
            eks("staging", "us-east-2", None)
        );
        let ContextCluster::NotEks(why) = eks_cluster_of(&kc, "unnamed") else {
            panic!("no name, no cluster")
        };
        assert!(
            why.contains("us-east-2") && why.contains("--cluster NAME --region us-east-2"),
            "{why}"
        );
        // An ARN of another region than the endpoint's is not this cluster's name.
        assert!(matches!(
            eks_cluster_of(&kc, "arn:aws:eks:eu-west-1:111122223333:cluster/elsewhere"),
            ContextCluster::NotEks(_)
        ));
    }

    /// Outposts local clusters: update-kubeconfig names the entries by the cluster's ARN (which
    /// holds the name) and writes `get-token --cluster-id <id>`. The token needs the id;
    /// DescribeCluster takes the name (EKS User Guide, local clusters on Outposts:
    /// `aws eks describe-cluster --name`). Neither may stand in for the other.
    #[test]
    fn an_outposts_local_cluster_is_described_by_name_not_id() {
        let kc = kubeconfig(
            r#"
apiVersion: v1
kind: Config
clusters:
- name: arn:aws:eks:us-west-2:111122223333:cluster/edge
  cluster: {server: "https://ABCDEF.gr7.us-west-2.eks.amazonaws.com"}
- name: renamed
  cluster: {server: "https://ABCDEF.gr7.us-west-2.eks.amazonaws.com"}
users:
- name: by-id
  user:
    exec:
      command: aws
      args: [--region, us-west-2, eks, get-token, --cluster-id, 0b9a4b4e-1234-5678-9abc-def012345678, --output, json]
- name: authenticator
  user:
    exec:
      command: aws-iam-authenticator
      args: [token, -i, 0B9A4B4E-1234-5678-9ABC-DEF012345678]
contexts:
- name: arn:aws:eks:us-west-2:111122223333:cluster/edge
  context: {cluster: "arn:aws:eks:us-west-2:111122223333:cluster/edge", user: by-id}
- name: edge-authenticator
  context: {cluster: "arn:aws:eks:us-west-2:111122223333:cluster/edge", user: authenticator}
- name: id-only
  context: {cluster: renamed, user: by-id}
"#,
        );
        let edge = ContextCluster::Eks(EksTarget {
            cluster: "edge".into(),
            region: Some("us-west-2".into()),
            profile: None,
            role_arn: None,
        });
        assert_eq!(
            eks_cluster_of(&kc, "arn:aws:eks:us-west-2:111122223333:cluster/edge"),
            edge
        );
        assert_eq!(eks_cluster_of(&kc, "edge-authenticator"), edge);
        let ContextCluster::NotEks(why) = eks_cluster_of(&kc, "id-only") else {
            panic!("an id alone cannot be described")
        };
        assert!(
            why.contains("local cluster id 0b9a4b4e-1234-5678-9abc-def012345678")
                && why.contains("--cluster NAME --region us-west-2"),
            "{why}"
        );
        // The authenticator's -i carries a name unless it has the id's shape.
        let e = exec("aws-iam-authenticator", &["token", "-i", "prod"], &[]);
        assert_eq!(from_exec(&e), found(Some("prod"), None, None));
        let e = exec(
            "aws-iam-authenticator",
            &["token", "-i", "0b9a4b4e-1234-5678-9abc-def012345678"],
            &[],
        );
        assert_eq!(
            from_exec(&e),
            InferredCluster {
                cluster_id: Some("0b9a4b4e-1234-5678-9abc-def012345678".into()),
                ..Default::default()
            }
        );
    }

    #[test]
    fn cluster_arns() {
        assert_eq!(
            cluster_arn("arn:aws:eks:eu-west-1:111122223333:cluster/prod"),
            Some(("eu-west-1".into(), "prod".into()))
        );
        assert_eq!(
            cluster_arn("arn:aws-cn:eks:cn-north-1:111122223333:cluster/a_b-1"),
            Some(("cn-north-1".into(), "a_b-1".into()))
        );
        for bad in [
            "arn:aws:eks:eu-west-1:111122223333:nodegroup/prod/x",
            "arn:aws:iam::111122223333:role/x",
            "arn:aws:eks:eu-west-1:1111:cluster/p",
            "arn:aws:eks:eu-west-1:111122223333:cluster/",
            "prod",
            "",
        ] {
            assert_eq!(cluster_arn(bad), None, "{bad}");
        }
    }
}
