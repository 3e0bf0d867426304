//! A kube connection to an EKS cluster found through AWS (`--cluster`, each cluster of the
//! fleet): what `aws eks update-kubeconfig` would write, held in memory.
//!
//! `--cluster NAME`: DescribeCluster, then a client whose credentials come from this same
//! binary as a kubeconfig exec plugin (`kubectl-chronom token --cluster NAME --region R`), so
//! kube refreshes the 14-minute token itself. No kubeconfig file and no aws CLI are needed.
//! It lives here, not in adapters/aws, so that the dependency between the two adapters goes one
//! way: kube uses aws (DescribeCluster, the EKS link a connection carries), aws never uses kube.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use kube::config::{
    AuthInfo, Context, ExecConfig, ExecInteractiveMode, KubeConfigOptions, Kubeconfig,
    NamedAuthInfo, NamedCluster, NamedContext,
};

use super::{Connection, connection_from_config};
use crate::adapters::aws::cluster::{EksCluster, EksLink, describe, sdk_for};
use crate::adapters::aws::identity;
use crate::adapters::aws::token::DEFAULT_EXEC_API_VERSION;
use crate::cli::GlobalArgs;
use chronom_core::diagnose as classify;
use chronom_core::eks::diagnosis::{self, EndpointAccess};
use chronom_core::error::UserError;

/// The exec credential plugin a connection runs for its bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecPlugin {
    pub command: PathBuf,
    pub args: Vec<String>,
}

impl ExecPlugin {
    /// `<this binary> token --cluster ID --region R [--profile P]`, ID being what the token
    /// names ([`EksCluster::token_cluster_id`]: the name, or an Outposts local cluster's id).
    pub fn this_binary(
        cluster: &str,
        region: &str,
        profile: Option<&str>,
    ) -> Result<Self, UserError> {
        let command = std::env::current_exe().map_err(|e| {
            UserError::failed(
                format!("cannot find the path of this program ({e}) to use it as the token plugin"),
                "run kubectl-chronom by its full path",
            )
        })?;
        let mut args: Vec<String> = ["token", "--cluster", cluster, "--region", region]
            .map(String::from)
            .into();
        if let Some(p) = profile {
            args.extend(["--profile".to_string(), p.to_string()]);
        }
        Ok(Self { command, args })
    }

    /// This binary's token command for a described cluster: an Outposts local cluster is
    /// named by its id in the token, any other by its name.
    pub fn for_cluster(cluster: &EksCluster, profile: Option<&str>) -> Result<Self, UserError> {
        Self::this_binary(cluster.token_cluster_id(), &cluster.region, profile)
    }
}

/// The in-memory kubeconfig `aws eks update-kubeconfig` would write, with our exec plugin.
pub fn kubeconfig_for(cluster: &EksCluster, exec: &ExecPlugin) -> Kubeconfig {
    let name = cluster.context_name();
    let exec = ExecConfig {
        api_version: Some(DEFAULT_EXEC_API_VERSION.to_string()),
        command: Some(exec.command.to_string_lossy().into_owned()),
        args: Some(exec.args.clone()),
        // stderr stays the user's: the plugin's own error message is what they need to see.
        interactive_mode: Some(ExecInteractiveMode::IfAvailable),
        ..Default::default()
    };
    Kubeconfig {
        clusters: vec![NamedCluster {
            name: name.clone(),
            cluster: Some(kube::config::Cluster {
                server: Some(cluster.endpoint.clone()),
                certificate_authority_data: Some(cluster.certificate_authority_data.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: name.clone(),
            auth_info: Some(AuthInfo {
                exec: Some(exec),
                ..Default::default()
            }),
            ..Default::default()
        }],
        contexts: vec![NamedContext {
            name: name.clone(),
            context: Some(Context {
                cluster: name.clone(),
                user: Some(name.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        current_context: Some(name),
        ..Default::default()
    }
}

/// A connection to `cluster` that gets its token from `exec`. This is the whole client side of
/// `--cluster`, minus DescribeCluster; tests call it with a different plugin.
pub async fn connection_for(
    cluster: &EksCluster,
    exec: &ExecPlugin,
    global: &GlobalArgs,
) -> Result<Connection, UserError> {
    cluster.check_connectable()?;
    let name = cluster.context_name();
    if let Err(why) = check_certificate_authority(&cluster.certificate_authority_data) {
        return Err(UserError::failed(
            format!("DescribeCluster returned an unusable certificate authority for {name}: {why}"),
            format!(
                "check `aws eks describe-cluster --name {} --region {} --query cluster.certificateAuthority`",
                cluster.name(),
                cluster.region
            ),
        ));
    }
    let options = KubeConfigOptions {
        context: Some(name.clone()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig_for(cluster, exec), &options).await.map_err(|e| {
        UserError::failed(
            format!("cannot use what DescribeCluster returned for {name}: {e}"),
            "check the cluster's endpoint and certificateAuthority with `aws eks describe-cluster`",
        )
    })?;
    let next = format!(
        "run `kubectl chronom token --cluster {} --region {}` to see why no token could be made",
        cluster.token_cluster_id(),
        cluster.region
    );
    connection_from_config(config, name, global, &next)
}

/// The CA must be base64 of at least one PEM certificate, as EKS returns it.
pub fn check_certificate_authority(data: &str) -> Result<(), String> {
    use base64::Engine;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("not base64 ({e})"))?;
    let pem = String::from_utf8_lossy(&pem);
    if pem.contains("-----BEGIN CERTIFICATE-----") && pem.contains("-----END CERTIFICATE-----") {
        Ok(())
    } else {
        Err("not a PEM certificate".into())
    }
}

/// `--cluster`: DescribeCluster, then [`open`] with this binary's `token` command as the plugin.
pub async fn connect_eks(global: &GlobalArgs) -> Result<Connection, UserError> {
    let Some(name) = global.cluster.as_deref() else {
        return Err(UserError::usage(
            "no --cluster given",
            "pass --cluster NAME",
        ));
    };
    if global.context.is_some() || global.kubeconfig.is_some() {
        return Err(UserError::usage(
            "--cluster connects through EKS and cannot be combined with --context or --kubeconfig",
            "pass either --cluster NAME [--region R] or --context CTX",
        ));
    }
    let (sdk, region) = sdk_for(global).await?;
    identity::credentials(&sdk).await?;
    let cluster = describe(&sdk, &region, name).await?;
    let exec = ExecPlugin::for_cluster(&cluster, global.profile.as_deref())?;
    open(cluster, &exec, sdk, global).await
}

/// Connect to a described cluster: a reachability check when the endpoint is restricted, a
/// client that runs `exec` for its token, and the EKS link (no second DescribeCluster). What
/// `--cluster` and each cluster of the fleet do.
pub async fn open(
    cluster: EksCluster,
    exec: &ExecPlugin,
    sdk: SdkConfig,
    global: &GlobalArgs,
) -> Result<Connection, UserError> {
    if cluster.endpoint_access() != EndpointAccess::Open {
        let timeout = Duration::try_from_secs_f64(global.request_timeout.clamp(0.5, 10.0))
            .unwrap_or(Duration::from_secs(10));
        probe(&cluster, timeout).await?;
    }
    tracing::info!(cluster = %cluster.context_name(), endpoint = %cluster.endpoint, "connecting through EKS");
    let mut conn = connection_for(&cluster, exec, global).await?;
    conn.eks = Some(Arc::new(EksLink {
        sdk,
        name: cluster.name().to_string(),
        region: cluster.region.clone(),
        inferred_from: None,
        described: Some(cluster),
    }));
    Ok(conn)
}

/// TCP connect to the endpoint: only done when the endpoint is private or limited to CIDRs,
/// to turn an opaque timeout into an explanation.
async fn probe(cluster: &EksCluster, timeout: Duration) -> Result<(), UserError> {
    let fail = |cause: String| {
        let case = classify::classify(None, std::slice::from_ref(&cause), &[]);
        diagnosis::explain(&case, &cluster.diagnosis_facts(None), "", &cause)
    };
    let uri: http::Uri = cluster
        .endpoint
        .parse()
        .map_err(|e| fail(format!("not a URL: {e}")))?;
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(443);
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(fail(e.to_string())),
        Err(_) => Err(fail(format!("no answer within {timeout:?} (timed out)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::aws::cluster::tests::cluster;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Moved from adapters/aws/cluster.rs (a_cluster_still_being_created_has_no_endpoint, which
    /// keeps the DescribeCluster half): the cluster DescribeCluster returns while it is being
    /// created has no endpoint, and connecting fails with check_connectable's message.
    #[test]
    fn connecting_to_a_cluster_still_being_created_fails_as_check_connectable_says() {
        let sdk = aws_sdk_eks::types::Cluster::builder()
            .name("prod")
            .status(aws_sdk_eks::types::ClusterStatus::Creating)
            .build();
        let c = EksCluster::from_sdk(&sdk, "eu-west-1", "prod");
        let err = c.check_connectable().unwrap_err();
        assert!(
            err.what.contains("no API endpoint yet (status CREATING)"),
            "{err}"
        );
        let global =
            <crate::cli::Cli as clap::Parser>::try_parse_from(["kubectl-chronom", "token"])
                .unwrap()
                .global;
        let exec = ExecPlugin {
            command: "/bin/false".into(),
            args: vec![],
        };
        assert_eq!(
            run(connection_for(&c, &exec, &global))
                .err()
                .map(|e| e.what),
            Some(err.what)
        );
    }

    #[test]
    fn certificate_authority_must_be_base64_pem() {
        use base64::Engine;
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert!(
            check_certificate_authority(&base64::engine::general_purpose::STANDARD.encode(pem))
                .is_ok()
        );
        assert_eq!(
            check_certificate_authority("%%%")
                .unwrap_err()
                .split(' ')
                .next(),
            Some("not")
        );
        assert_eq!(
            check_certificate_authority(&base64::engine::general_purpose::STANDARD.encode("hello")),
            Err("not a PEM certificate".into())
        );
        assert!(check_certificate_authority("").is_err());
    }

    #[test]
    fn exec_plugin_is_this_binary_token_command() {
        let p = ExecPlugin::this_binary("demo", "eu-west-1", None).unwrap();
        assert_eq!(p.command, std::env::current_exe().unwrap());
        assert_eq!(
            p.args,
            ["token", "--cluster", "demo", "--region", "eu-west-1"]
        );
        let p = ExecPlugin::this_binary("demo", "eu-west-1", Some("prod")).unwrap();
        assert_eq!(p.args[5..], ["--profile", "prod"]);
    }

    /// get_token.py: `--cluster-id` is "for local clusters on AWS Outposts only", and
    /// update-kubeconfig writes it for them; the authenticator matches the token's
    /// x-k8s-aws-id against the id. DescribeCluster still took the name.
    #[test]
    fn an_outposts_local_cluster_token_names_its_id_not_its_name() {
        let sdk = aws_sdk_eks::types::Cluster::builder()
            .name("edge")
            .id("0b9a4b4e-1234-5678-9abc-def012345678")
            .outpost_config(
                aws_sdk_eks::types::OutpostConfigResponse::builder()
                    .outpost_arns(
                        "arn:aws:outposts:us-west-2:111122223333:outpost/op-0123456789abcdef0",
                    )
                    .control_plane_instance_type("m5.large")
                    .build()
                    .unwrap(),
            )
            .status(aws_sdk_eks::types::ClusterStatus::Active)
            .build();
        let local = EksCluster::from_sdk(&sdk, "us-west-2", "edge");
        assert_eq!(local.name(), "edge");
        let p = ExecPlugin::for_cluster(&local, None).unwrap();
        assert_eq!(
            p.args,
            [
                "token",
                "--cluster",
                "0b9a4b4e-1234-5678-9abc-def012345678",
                "--region",
                "us-west-2"
            ]
        );
        // An in-region cluster has no id: its token names it.
        let p = ExecPlugin::for_cluster(&cluster(), Some("ops")).unwrap();
        assert_eq!(
            p.args,
            [
                "token",
                "--cluster",
                "demo",
                "--region",
                "eu-west-1",
                "--profile",
                "ops"
            ]
        );
    }

    #[test]
    fn kubeconfig_is_what_update_kubeconfig_would_write() {
        let exec = ExecPlugin {
            command: "/opt/bin/kubectl-chronom".into(),
            args: vec!["token".into(), "--cluster".into(), "demo".into()],
        };
        let kc = kubeconfig_for(&cluster(), &exec);
        let yaml: serde_json::Value = serde_json::to_value(&kc).unwrap();
        assert_eq!(yaml["current-context"], "eks:eu-west-1/demo");
        assert_eq!(
            yaml["clusters"][0]["cluster"]["server"],
            "https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com"
        );
        assert_eq!(
            yaml["clusters"][0]["cluster"]["certificate-authority-data"],
            "LS0tLS1CRUdJTi=="
        );
        let user = &yaml["users"][0]["user"]["exec"];
        assert_eq!(user["apiVersion"], DEFAULT_EXEC_API_VERSION);
        assert_eq!(user["command"], "/opt/bin/kubectl-chronom");
        assert_eq!(
            user["args"],
            serde_json::json!(["token", "--cluster", "demo"])
        );
        assert_eq!(user["interactiveMode"], "IfAvailable");
        assert_eq!(
            yaml["contexts"][0]["context"],
            serde_json::json!({"cluster": "eks:eu-west-1/demo", "user": "eks:eu-west-1/demo"})
        );
    }
}
