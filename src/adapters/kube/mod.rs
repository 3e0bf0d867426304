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
    let kubeconfig = load_kubeconfig(
        global.kubeconfig.as_deref(),
        std::env::var_os("KUBECONFIG").as_deref(),
    )?;
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

const KUBECONFIG_NEXT: &str = "pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config (for EKS: `aws eks update-kubeconfig --name CLUSTER`)";

/// client-go's loading rules (clientcmd's `ClientConfigLoadingRules.Load`): `--kubeconfig` must
/// exist; the files `$KUBECONFIG` lists are merged, first one to set a value wins, and a listed
/// file that does not exist is skipped (one that exists but cannot be read or parsed is an
/// error, as in kubectl); without either, `~/.kube/config`. Where kubectl would go on with an
/// empty config when no listed file exists (and then fail on localhost:8080), we stop and say so.
pub(crate) fn load_kubeconfig(
    explicit: Option<&std::path::Path>,
    env_list: Option<&std::ffi::OsStr>,
) -> Result<Kubeconfig, UserError> {
    let unreadable = |e: kube::config::KubeconfigError| {
        UserError::failed(format!("cannot read the kubeconfig: {e}"), KUBECONFIG_NEXT)
    };
    if let Some(path) = explicit {
        return Kubeconfig::read_from(path).map_err(unreadable);
    }
    let listed: Vec<std::path::PathBuf> = env_list
        .map(|v| {
            std::env::split_paths(v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        return Kubeconfig::read().map_err(unreadable);
    }
    let (present, missing): (Vec<_>, Vec<_>) = listed.iter().partition(|p| p.exists());
    for path in &missing {
        tracing::info!(file = %path.display(), "KUBECONFIG lists a file that does not exist: skipped, as kubectl does");
    }
    if present.is_empty() {
        let names: Vec<String> = listed.iter().map(|p| p.display().to_string()).collect();
        return Err(UserError::failed(
            format!(
                "cannot read the kubeconfig: no file KUBECONFIG lists exists ({})",
                names.join(", ")
            ),
            KUBECONFIG_NEXT,
        ));
    }
    present
        .into_iter()
        .try_fold(Kubeconfig::default(), |merged, path| {
            Kubeconfig::read_from(path).and_then(|next| merged.merge(next))
        })
        .map_err(unreadable)
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
    // The parser (cli::request_timeout_seconds) admits only positive seconds, or infinity for
    // kubectl's `0` (no timeout).
    let timeout = Duration::try_from_secs_f64(global.request_timeout).ok();
    config.read_timeout = timeout;
    config.connect_timeout = timeout;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    const GOOD: &str = "apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: t\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: x}\n";

    fn list(paths: &[&std::path::Path]) -> OsString {
        std::env::join_paths(paths).unwrap()
    }

    #[test]
    fn kubeconfig_list_skips_missing_files_as_client_go_does() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.yaml");
        std::fs::write(&good, GOOD).unwrap();
        let missing = dir.path().join("nonexistent");
        for order in [[&missing, &good], [&good, &missing]] {
            let env = list(&[order[0], order[1]]);
            let kc = load_kubeconfig(None, Some(&env)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(kc.current_context.as_deref(), Some("t"));
            assert_eq!(kc.contexts.len(), 1);
        }
    }

    #[test]
    fn kubeconfig_errors_stay_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nonexistent");
        // No listed file exists: say which were looked for.
        let env = list(&[&missing, &dir.path().join("also-missing")]);
        let e = load_kubeconfig(None, Some(&env)).unwrap_err().to_string();
        assert!(
            e.contains("nonexistent") && e.contains("also-missing"),
            "{e}"
        );
        assert!(e.contains("next:"), "{e}");
        // --kubeconfig names one file: it must exist (kubectl: `stat FILE: no such file`).
        let good = dir.path().join("good.yaml");
        std::fs::write(&good, GOOD).unwrap();
        let env = list(&[&good]);
        assert!(load_kubeconfig(Some(&missing), Some(&env)).is_err());
        // A listed file that exists but is not a kubeconfig is an error, as in kubectl.
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "garbage: [").unwrap();
        let env = list(&[&bad, &good]);
        assert!(load_kubeconfig(None, Some(&env)).is_err());
    }
}
