//! Reading, backing up and writing the aws-auth ConfigMap with optimistic concurrency.
//!
//! The edit itself is pure (`chronom_core::awsauth`); this module only moves text to and from the
//! server. Every write carries the resourceVersion that was read, so a concurrent writer
//! makes the server answer 409 instead of one of us silently losing the other's entry.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use crate::adapters::kube::Connection;
use chronom_core::error::UserError;
use chronom_core::plan::aws_auth::AwsAuthSeen;

pub(crate) const NAMESPACE: &str = chronom_core::plan::report::AWS_AUTH_NAMESPACE;
pub(crate) const NAME: &str = chronom_core::plan::report::AWS_AUTH_NAME;
pub(crate) const MAP_ROLES: &str = "mapRoles";
pub(crate) const MAP_USERS: &str = "mapUsers";
/// Set when we created the mapRoles key, so that a revoke which empties it can remove the
/// key again and leave aws-auth exactly as it was before the grant.
pub(crate) const CREATED_KEY_ANNOTATION: &str = "chronom.io/created-map-roles";
/// Conflicts are retried with jittered exponential backoff: enough for dozens of concurrent
/// writers, bounded so a runaway writer cannot keep us waiting for ever (about 20 s at most).
const MAX_ATTEMPTS: usize = 30;
const BACKOFF_BASE: std::time::Duration = std::time::Duration::from_millis(20);
const BACKOFF_CAP: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) fn api(conn: &Connection) -> Api<ConfigMap> {
    Api::namespaced(conn.client.clone(), NAMESPACE)
}

pub(crate) async fn read(conn: &Connection) -> Result<Option<ConfigMap>, UserError> {
    conn.get_opt(&api(conn), NAME, "configmap kube-system/")
        .await
}

/// The mapRoles text of a ConfigMap; an absent ConfigMap or key reads as empty.
pub(crate) fn map_roles(cm: Option<&ConfigMap>) -> &str {
    cm.and_then(|c| c.data.as_ref())
        .and_then(|d| d.get(MAP_ROLES))
        .map(String::as_str)
        .unwrap_or("")
}

/// aws-auth as the write plans read it (`chronom_core::plan::aws_auth`).
pub fn seen(cm: Option<&ConfigMap>) -> AwsAuthSeen {
    let data = cm.and_then(|c| c.data.as_ref());
    AwsAuthSeen {
        exists: cm.is_some(),
        map_roles: data.and_then(|d| d.get(MAP_ROLES)).cloned(),
        map_users: data.and_then(|d| d.get(MAP_USERS)).cloned(),
        key_created_by_us: key_created_by_us(cm),
    }
}

/// What an edit wants done to the mapRoles text it was given.
pub(crate) enum EditOutcome {
    /// Nothing to write.
    NoChange,
    /// Write this text (None: remove the key we created).
    Write(Option<String>),
    /// Replace all of `data` (restore from a backup).
    ReplaceData(BTreeMap<String, String>),
}

/// The result of `update`: the ConfigMap as read before the write that succeeded, and
/// whether a write happened.
pub(crate) struct Updated {
    pub before: Option<ConfigMap>,
    pub wrote: bool,
    pub backup: Option<PathBuf>,
}

/// Read, edit, back up and write aws-auth, re-reading and re-editing on 409 Conflict.
/// The edit sees the current text and whether the ConfigMap exists; it must be pure.
pub(crate) async fn update<E>(conn: &Connection, mut edit: E) -> Result<Updated, UserError>
where
    E: FnMut(&str, Option<&ConfigMap>) -> Result<EditOutcome, UserError>,
{
    let api = api(conn);
    for attempt in 1..=MAX_ATTEMPTS {
        let current = read(conn).await?;
        let change = match edit(map_roles(current.as_ref()), current.as_ref())? {
            EditOutcome::NoChange => {
                return Ok(Updated {
                    before: current,
                    wrote: false,
                    backup: None,
                });
            }
            EditOutcome::Write(text) => Change::MapRoles(text),
            EditOutcome::ReplaceData(data) => Change::Data(data),
        };
        let backup = match &current {
            Some(cm) => Some(backup(conn, cm)?),
            None => None,
        };
        let outcome = match (&current, change) {
            (Some(cm), Change::MapRoles(text)) => {
                api.replace(
                    NAME,
                    &PostParams::default(),
                    &with_map_roles(cm.clone(), text),
                )
                .await
            }
            (None, Change::MapRoles(text)) => {
                api.create(&PostParams::default(), &new_config_map(text))
                    .await
            }
            (Some(cm), Change::Data(data)) => {
                let mut cm = cm.clone();
                cm.data = Some(data);
                api.replace(NAME, &PostParams::default(), &cm).await
            }
            (None, Change::Data(data)) => {
                let mut cm = new_config_map(None);
                cm.data = Some(data);
                api.create(&PostParams::default(), &cm).await
            }
        };
        match outcome {
            Ok(_) => {
                return Ok(Updated {
                    before: current,
                    wrote: true,
                    backup,
                });
            }
            // 409: someone wrote between our read and our write (or created it first): re-read.
            Err(kube::Error::Api(s)) if s.code == 409 => {
                tracing::info!(attempt, "aws-auth changed while we edited it; re-reading");
                if let Some(path) = backup {
                    let _ = std::fs::remove_file(path);
                }
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            Err(e) => {
                return Err(conn
                    .explain(e, "writing configmap aws-auth in kube-system")
                    .await);
            }
        }
    }
    Err(UserError::failed(
        format!(
            "aws-auth kept changing under us: {MAX_ATTEMPTS} attempts in a row met a conflicting write"
        ),
        "another tool is rewriting aws-auth in a loop; stop it, then re-run",
    ))
}

/// Full jitter: a random wait up to base * 2^attempt (capped), so competing writers spread out.
fn backoff(attempt: usize) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(10))
        .min(BACKOFF_CAP);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(attempt);
    let fraction = (h.finish() % 1000) as u32;
    ceiling * fraction / 1000
}

enum Change {
    MapRoles(Option<String>),
    Data(BTreeMap<String, String>),
}

fn with_map_roles(mut cm: ConfigMap, text: Option<String>) -> ConfigMap {
    let data = cm.data.get_or_insert_with(BTreeMap::new);
    let key_was_absent = !data.contains_key(MAP_ROLES);
    match text {
        Some(t) => {
            data.insert(MAP_ROLES.into(), t);
            if key_was_absent {
                cm.metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert(CREATED_KEY_ANNOTATION.into(), "true".into());
            }
        }
        None => {
            data.remove(MAP_ROLES);
            if let Some(a) = cm.metadata.annotations.as_mut() {
                a.remove(CREATED_KEY_ANNOTATION);
            }
        }
    }
    cm
}

fn new_config_map(text: Option<String>) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(NAME.into());
    cm.metadata.namespace = Some(NAMESPACE.into());
    with_map_roles(cm, text)
}

/// Whether the mapRoles key was created by a chronom grant (and may be removed when empty).
pub(crate) fn key_created_by_us(cm: Option<&ConfigMap>) -> bool {
    cm.and_then(|c| c.metadata.annotations.as_ref())
        .is_some_and(|a| a.get(CREATED_KEY_ANNOTATION).is_some_and(|v| v == "true"))
}

/// Save the ConfigMap as read, before we change it: `$XDG_STATE_HOME/kubectl-chronom/backups/<context>/<timestamp>-aws-auth.yaml`, mode 0600.
fn backup(conn: &Connection, cm: &ConfigMap) -> Result<PathBuf, UserError> {
    let dir = backup_dir(&conn.context);
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.fZ")
        .to_string();
    let path = dir.join(format!("{stamp}-aws-auth.yaml"));
    let yaml = serde_saphyr::to_string(cm).map_err(|e| {
        UserError::failed(
            format!("cannot render the aws-auth backup: {e}"),
            "report this bug",
        )
    })?;
    write_private(&dir, &path, yaml.as_bytes()).map_err(|e| {
        UserError::failed(
            format!(
                "cannot save the aws-auth backup to {}: {e}; nothing was changed",
                path.display()
            ),
            "make that directory writable, or set XDG_STATE_HOME to a writable place",
        )
    })?;
    Ok(path)
}

pub(crate) fn backup_dir(context: &str) -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home().join(".local/state"));
    let safe: String = context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    state.join("kubectl-chronom/backups").join(safe)
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn write_private(
    dir: &std::path::Path,
    path: &std::path::Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    // No fsync: it would widen the read-to-write window that conflicts come from, on every retry.
    options.open(path)?.write_all(bytes)
}
