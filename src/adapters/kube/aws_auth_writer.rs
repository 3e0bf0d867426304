//! Reading, backing up and writing the aws-auth ConfigMap with optimistic concurrency.
//!
//! The edit itself is pure (`chronom_core::awsauth`); this module only moves text to and from the
//! server. Every write carries the resourceVersion that was read, so a concurrent writer
//! makes the server answer 409 instead of one of us silently losing the other's entry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    let cannot = |e: std::io::Error| {
        UserError::failed(
            format!(
                "cannot save the aws-auth backup to {}: {e}; nothing was changed",
                path.display()
            ),
            "make that directory writable, or set XDG_STATE_HOME to a writable place",
        )
    };
    match private_dirs(&state_home(), &dir).map_err(cannot)? {
        None => {}
        Some(link) => {
            return Err(UserError::failed(
                format!(
                    "cannot save the aws-auth backup: {} is a symbolic link, and backups are never written through one (it could point anywhere, and its target would be made private); nothing was changed",
                    link.display()
                ),
                "replace the link with a directory, or set XDG_STATE_HOME to another place",
            ));
        }
    }
    write_private(&path, yaml.as_bytes()).map_err(cannot)?;
    Ok(path)
}

fn state_home() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home().join(".local/state"))
}

pub(crate) fn backup_dir(context: &str) -> PathBuf {
    state_home()
        .join("kubectl-chronom/backups")
        .join(context_dir_name(context))
}

/// A context name as one directory name: characters other than ASCII letters, digits, `-`,
/// `_` and `.` become `_`, and a leading `.` does too, so `..`, `.` and the empty name stay
/// inside the backups directory (`_.`, `_`, `_`) and no context is a hidden directory.
fn context_dir_name(context: &str) -> String {
    let mut safe: String = context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        safe.replace_range(..safe.len().min(1), "_");
    }
    safe
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Make `dir` (under `state`) and the directories between them that are ours
/// (`kubectl-chronom`, `backups`, the context's) exist with mode 0700, whatever the umask:
/// backups hold every IAM mapping of the cluster. `state` itself is created 0700 when absent
/// (the XDG base directory spec asks that of it) but left alone when it exists. Returns the
/// first of our directories that is a symbolic link, without following or changing it.
fn private_dirs(state: &Path, dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(state)?;
    let ours = dir.strip_prefix(state).map_err(std::io::Error::other)?;
    let mut at = state.to_path_buf();
    for part in ours.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return Ok(Some(at)),
            Ok(m) if !m.is_dir() => {
                return Err(std::io::Error::other(format!(
                    "{} is not a directory",
                    at.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                builder.recursive(false);
                match builder.create(&at) {
                    Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
                    // Made by a concurrent run: checked again below, as any existing one.
                    _ => {}
                }
                if std::fs::symlink_metadata(&at)?.file_type().is_symlink() {
                    return Ok(Some(at));
                }
            }
            Err(e) => return Err(e),
        }
        // Not a link (checked above), so this changes our directory and nothing else: an
        // older version, or a umask, may have left it readable by others.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(None)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    // create_new: O_EXCL, which also refuses a symbolic link planted at the file's name.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    // No fsync: it would widen the read-to-write window that conflicts come from, on every retry.
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod backup_dir_tests {
    use super::*;

    #[test]
    fn every_context_name_is_one_directory_inside_backups() {
        for (context, dir) in [
            ("..", "_."),
            (".", "_"),
            ("", "_"),
            (".hidden", "_hidden"),
            ("../../etc", "_._.._etc"),
            (
                "arn:aws:eks:eu-west-1:111122223333:cluster/prod",
                "arn_aws_eks_eu-west-1_111122223333_cluster_prod",
            ),
            ("kind-dev.1", "kind-dev.1"),
        ] {
            assert_eq!(context_dir_name(context), dir, "{context:?}");
            let p = Path::new("/s/backups").join(context_dir_name(context));
            assert_eq!(p.parent(), Some(Path::new("/s/backups")), "{context:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn our_directories_are_0700_whatever_the_umask_and_links_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let dir = state.join("kubectl-chronom/backups/ctx");
        // An older version (or a 022 umask) left the upper directories world-readable.
        std::fs::create_dir_all(state.join("kubectl-chronom/backups")).unwrap();
        for d in ["kubectl-chronom", "kubectl-chronom/backups"] {
            std::fs::set_permissions(state.join(d), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        assert_eq!(private_dirs(&state, &dir).unwrap(), None);
        for d in [
            "kubectl-chronom",
            "kubectl-chronom/backups",
            "kubectl-chronom/backups/ctx",
        ] {
            assert_eq!(mode(&state.join(d)), 0o700, "{d}");
        }

        // A context directory that is a link is neither followed nor changed.
        let target = tmp.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
        let linked = state.join("kubectl-chronom/backups/linked");
        std::os::unix::fs::symlink(&target, &linked).unwrap();
        assert_eq!(private_dirs(&state, &linked).unwrap(), Some(linked.clone()));
        assert_eq!(mode(&target), 0o755, "the link's target keeps its mode");
        // And no backup is written there.
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);

        // A link higher up is refused too.
        let tmp2 = tempfile::tempdir().unwrap();
        let state2 = tmp2.path().join("state");
        std::fs::create_dir(&state2).unwrap();
        std::os::unix::fs::symlink(&target, state2.join("kubectl-chronom")).unwrap();
        assert_eq!(
            private_dirs(&state2, &state2.join("kubectl-chronom/backups/ctx")).unwrap(),
            Some(state2.join("kubectl-chronom"))
        );
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    }
}
