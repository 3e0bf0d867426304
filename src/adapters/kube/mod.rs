//! Reaching the API server the way kubectl does, and explaining why when we cannot.

pub(crate) mod aws_auth_writer;
pub(crate) mod binding_writer;
pub mod discovery;
pub mod eks_connection;
pub(crate) mod identity;
pub mod infer;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::adapters::aws::cluster::EksLink;
use crate::cli::GlobalArgs;
use chronom_core::diagnose;
use chronom_core::error::{UserError, error_chain};
use infer::ContextCluster;

/// A client for one kubeconfig context, with what we need to name it in messages.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    pub context: String,
    pub server: String,
    /// The context's namespace (or `default`), for commands that take `-n`.
    pub default_namespace: String,
    /// The EKS cluster behind it: `--cluster`, or a context inferred to be EKS. It lets the
    /// commands read the EKS side and lets failures be explained with the cluster's settings.
    pub eks: Option<Arc<EksLink>>,
}

/// Load the kubeconfig as kubectl would: `--kubeconfig`, else `$KUBECONFIG` (several files
/// merged), else `~/.kube/config`; then `--context` or the current context. Exec credential
/// plugins run through kube's own support.
pub async fn connect(global: &GlobalArgs) -> Result<Connection, UserError> {
    if global.cluster.is_some() {
        return eks_connection::connect_eks(global).await;
    }
    let kubeconfig = match &global.kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    }
    .map_err(|e| {
        UserError::failed(
            format!("cannot read the kubeconfig: {e}"),
            "pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config (for EKS: `aws eks update-kubeconfig --name CLUSTER`)",
        )
    })?;
    let context = match &global.context {
        Some(c) => c.clone(),
        None => kubeconfig.current_context.clone().ok_or_else(|| {
            UserError::failed(
                "the kubeconfig has no current context",
                "pass --context CTX or run `kubectl config use-context CTX`",
            )
        })?,
    };
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        return Err(UserError::failed(
            format!("context {context:?} is not in the kubeconfig"),
            format!(
                "use one of: {}",
                if known.is_empty() {
                    "(none)".into()
                } else {
                    known.join(", ")
                }
            ),
        ));
    }
    let eks_target = match infer::eks_cluster_of(&kubeconfig, &context) {
        ContextCluster::Eks(target) => Some(target),
        ContextCluster::NotEks(why) => {
            tracing::info!(%why, "not reading the EKS side");
            None
        }
    };
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| {
            UserError::failed(
                format!("cannot use context {context:?}: {e}"),
                "fix that context in the kubeconfig, or pick another with --context",
            )
        })?;
    let mut conn = connection_from_config(
        config,
        context,
        global,
        "check the context's cluster and user settings",
    )?;
    if let Some(target) = eks_target {
        tracing::info!(context = %conn.context, cluster = %target.cluster, region = ?target.region, "the context is an EKS cluster");
        conn.eks = Some(Arc::new(
            EksLink::inferred(&target, &conn.context, global.profile.as_deref()).await,
        ));
    }
    Ok(conn)
}

/// The client for a loaded `Config`, with `--request-timeout` and request counting; shared by
/// kubeconfig contexts and `--cluster` (EKS). `next_on_failure` is the advice when the client
/// cannot be built (which is when an exec credential plugin first runs).
pub(crate) fn connection_from_config(
    mut config: Config,
    context: String,
    global: &GlobalArgs,
    next_on_failure: &str,
) -> Result<Connection, UserError> {
    if !(global.request_timeout > 0.0 && global.request_timeout.is_finite()) {
        return Err(UserError::usage(
            "--request-timeout must be a positive number of seconds",
            "for example --request-timeout 30",
        ));
    }
    config.read_timeout = Some(Duration::from_secs_f64(global.request_timeout));
    config.connect_timeout = Some(Duration::from_secs_f64(global.request_timeout));
    config.reset_reader_on_write = true;
    let server = config.cluster_url.to_string();
    let default_namespace = config.default_namespace.clone();
    let client = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| {
            UserError::failed(
                format!("cannot build a client for {server}: {e}"),
                next_on_failure,
            )
        })?
        .with_layer(&tower::util::MapRequestLayer::new(count_request))
        .build();
    Ok(Connection {
        client,
        context,
        server,
        default_namespace,
        eks: None,
    })
}

impl Connection {
    /// GET that treats 404 as absent and explains any other failure.
    pub async fn get_opt<K>(
        &self,
        api: &kube::Api<K>,
        name: &str,
        what: &str,
    ) -> Result<Option<K>, UserError>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        match api.get_opt(name).await {
            Ok(o) => Ok(o),
            Err(e) => Err(self.explain(e, &format!("reading {what} {name}")).await),
        }
    }

    /// Turn a failed request into a message that names the case and the next step.
    /// `doing` says what we were trying to do, in the user's words.
    pub(crate) async fn explain(&self, err: kube::Error, doing: &str) -> UserError {
        let status = match &err {
            kube::Error::Api(s) => Some(s.code),
            _ => None,
        };
        if let Some(code) = status.filter(|c| *c != 401) {
            let message = match &err {
                kube::Error::Api(s) => s.message.clone(),
                _ => String::new(),
            };
            return UserError::failed(
                format!("{doing}: the API server answered {code}: {message}"),
                next_step_for_status(code),
            );
        }
        let chain = error_chain(&err);
        let resolved = self.resolve().await;
        let case = diagnose::classify(status, &chain, &resolved);
        if let Some(link) = &self.eks {
            tracing::debug!(cause = %chain.join(" | "), "request failed");
            return link
                .diagnose(&case, doing, chain.last().map_or("", String::as_str))
                .await;
        }
        let (what, next) = diagnose::explain(&case, &self.server);
        tracing::debug!(cause = %chain.join(" | "), "request failed");
        UserError::failed(format!("{doing}: {what}"), next)
    }

    async fn resolve(&self) -> Vec<IpAddr> {
        let Ok(uri) = self.server.parse::<http::Uri>() else {
            return vec![];
        };
        let Some(host) = uri.host() else {
            return vec![];
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return vec![ip];
        }
        let port = uri.port_u16().unwrap_or(443);
        match tokio::net::lookup_host((host, port)).await {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            Err(_) => vec![],
        }
    }
}

fn next_step_for_status(code: u16) -> &'static str {
    match code {
        403 => "ask a cluster admin for the missing right, or use a context with more rights",
        404 => "the object or API is missing; check the cluster version and the name",
        409 => "someone else changed the object at the same time; re-run the command",
        429 | 503 | 504 => "the API server is overloaded or unavailable; wait and re-run",
        _ => "re-run with -vv for details",
    }
}

/// API requests sent by this process: reported at -v, and read by the benchmarks.
pub(crate) static API_REQUESTS: AtomicUsize = AtomicUsize::new(0);

fn count_request<B>(request: http::Request<B>) -> http::Request<B> {
    API_REQUESTS.fetch_add(1, Ordering::Relaxed);
    // Method and path only: headers carry the bearer token.
    tracing::debug!(method = %request.method(), path = %request.uri().path(), "api request");
    request
}
