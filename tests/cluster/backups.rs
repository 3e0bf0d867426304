//! Where grant and revoke put their aws-auth backups, and the restore prompt (issue 14),
//! against the real control plane:
//! - every directory the plugin makes for backups is 0700, whatever the umask;
//! - a context named `..` keeps its backups inside the backups directory;
//! - a context directory that is a symbolic link is refused, neither followed nor chmodded,
//!   and the grant changes nothing;
//! - declining the restore prompt on a terminal changes nothing and exits 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

use crate::support::ControlPlane;
use crate::support::cluster::*;
use crate::support::names::{Names, names};

fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

static AWS_AUTH: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    AWS_AUTH.lock().unwrap_or_else(|p| p.into_inner())
}

/// `grant` (or `revoke`) as admin, with backups under `state`.
fn run(kubeconfig: &Path, context: &str, state: &Path, args: &[&str]) -> Output {
    plugin_command(kubeconfig, context)
        .env("XDG_STATE_HOME", state)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-chronom")
}

fn backup_path(o: &Output) -> PathBuf {
    PathBuf::from(
        json(o)["awsAuth"]["backup"]
            .as_str()
            .unwrap_or_else(|| panic!("no backup reported:\n{}", text(o))),
    )
}

fn revoke(n: &Names, state: &Path) {
    let o = run(
        &control_plane().kubeconfig,
        "chronom-admin",
        state,
        &n.args("revoke", &[]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn every_backup_directory_is_private_whatever_the_umask() {
    let _g = lock();
    let state = tempfile::tempdir().unwrap();
    let n = names("umask");
    // The umask most systems have: directories would be 0755.
    let o = Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_kubectl-chronom"))
        .arg("--kubeconfig")
        .arg(&control_plane().kubeconfig)
        .args(["--context", "chronom-admin"])
        .args(n.args("grant", &["-o", "json"]))
        .env_remove("KUBECONFIG")
        .env("XDG_STATE_HOME", state.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let backup = backup_path(&o);
    for dir in [
        "kubectl-chronom",
        "kubectl-chronom/backups",
        "kubectl-chronom/backups/chronom-admin",
    ] {
        assert_eq!(mode(&state.path().join(dir)), 0o700, "{dir}");
    }
    assert_eq!(mode(&backup), 0o600);
    revoke(&n, state.path());
}

#[test]
fn a_context_named_dot_dot_keeps_its_backups_inside_the_backups_directory() {
    let _g = lock();
    let cp = control_plane();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::copy(&cp.kubeconfig, &kubeconfig).unwrap();
    let renamed = Command::new(cp.kubectl_path())
        .env_remove("KUBECONFIG")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["config", "rename-context", "chronom-admin", ".."])
        .output()
        .unwrap();
    assert!(renamed.status.success(), "{}", text(&renamed));
    let state = tempfile::tempdir().unwrap();
    let n = names("dotdot");
    let o = run(
        &kubeconfig,
        "..",
        state.path(),
        &n.args("grant", &["-o", "json"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let backup = backup_path(&o);
    let backups = state.path().join("kubectl-chronom/backups");
    assert_eq!(backup.parent(), Some(backups.join("_.").as_path()));
    // Nothing was written next to the backups directory, where `backups/..` points.
    let beside: Vec<_> = std::fs::read_dir(state.path().join("kubectl-chronom"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["backups"], "{beside:?}");
    let o = run(&kubeconfig, "..", state.path(), &n.args("revoke", &[]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[cfg(unix)]
#[test]
fn a_linked_context_directory_is_refused_and_nothing_changes() {
    use std::os::unix::fs::PermissionsExt;
    let _g = lock();
    let cp = control_plane();
    let state = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::set_permissions(elsewhere.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let backups = state.path().join("kubectl-chronom/backups");
    std::fs::create_dir_all(&backups).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), backups.join("chronom-admin")).unwrap();
    let before = get_aws_auth(cp).map(|c| c.metadata.resource_version);
    let n = names("linked");
    let o = run(
        &cp.kubeconfig,
        "chronom-admin",
        state.path(),
        &n.args("grant", &[]),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("is a symbolic link, and backups are never written through one")
            && err.contains("nothing was changed")
            && err.contains("next: replace the link with a directory"),
        "{}",
        text(&o)
    );
    assert_eq!(
        mode(elsewhere.path()),
        0o755,
        "the link's target is not chmodded"
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    assert_eq!(
        get_aws_auth(cp).map(|c| c.metadata.resource_version),
        before
    );
    // The RBAC objects may be written before aws-auth; the failed grant rolls them back.
    assert!(cluster_role_binding(cp, &n.role).is_none());
}

/// Declining is the user's answer, not a failure of the plugin, yet the run did not do what it
/// was asked: exit 1 ("not restored"), as `terraform apply` and `apt-get` exit when told no, so
/// a wrapper that checks the status never reads a declined restore as done (README, Use).
#[test]
fn declining_the_restore_prompt_changes_nothing_and_exits_1() {
    let _g = lock();
    let cp = control_plane();
    let state = tempfile::tempdir().unwrap();
    let n = names("decline");
    let o = run(
        &cp.kubeconfig,
        "chronom-admin",
        state.path(),
        &n.args("grant", &["-o", "json"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let backup = backup_path(&o);
    let granted = map_roles(cp);
    assert!(granted.contains(&n.arn));

    // A terminal for the prompt: script(1) runs the plugin on a pseudo-terminal and passes our
    // "n" to it. `--return` gives back the plugin's exit status.
    let cmd = format!(
        "XDG_STATE_HOME='{}' '{}' --kubeconfig '{}' --context chronom-admin restore-aws-auth '{}'",
        state.path().display(),
        env!("CARGO_BIN_EXE_kubectl-chronom"),
        cp.kubeconfig.display(),
        backup.display()
    );
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &cmd, "/dev/null"])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // After the prompt is up: the diff comes from the API server first.
        std::thread::sleep(std::time::Duration::from_secs(3));
        stdin.write_all(b"n\n").unwrap();
    }
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Restore aws-auth to this backup? [y/N]"),
        "the prompt was shown: {}",
        text(&o)
    );
    assert!(
        out.contains("not restored: nothing was changed"),
        "{}",
        text(&o)
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(map_roles(cp), granted, "aws-auth as it was");
    revoke(&n, state.path());
}

/// Issue 14: a backup older than the live aws-auth drops the mappings added since; restore
/// names each before it writes. A backup of an aws-auth that was deleted and created again
/// (another uid) is refused unless `--allow-recreated`.
#[test]
fn restore_names_what_it_would_drop_and_refuses_another_objects_backup() {
    let _g = lock();
    let cp = control_plane();
    let state = tempfile::tempdir().unwrap();
    let (first, second) = (names("older"), names("since"));
    let o = run(
        &cp.kubeconfig,
        "chronom-admin",
        state.path(),
        &first.args("grant", &["-o", "json"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before_first = backup_path(&o);
    let o = run(
        &cp.kubeconfig,
        "chronom-admin",
        state.path(),
        &second.args("grant", &["-o", "json"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Back to before the first grant: both grants' entries are dropped, and said so.
    let o = run(
        &cp.kubeconfig,
        "chronom-admin",
        state.path(),
        &["restore-aws-auth", before_first.to_str().unwrap(), "--yes"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "warning: restoring drops 2 mapping(s) that are in aws-auth now but not in the backup"
        ),
        "{}",
        text(&o)
    );
    for n in [&first, &second] {
        assert!(
            err.contains(&format!(
                "  - mapRoles {} as {} in [{}]",
                n.arn,
                n.user(),
                n.group
            )),
            "{} not named:\n{}",
            n.arn,
            text(&o)
        );
        assert!(
            !map_roles(cp).contains(&n.arn),
            "restored without {}",
            n.arn
        );
    }

    // aws-auth deleted and created again: the backup is of another object.
    let o = run(
        &cp.kubeconfig,
        "chronom-admin",
        state.path(),
        &first.args("grant", &["-o", "json"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let old = backup_path(&o);
    let old_uid = get_aws_auth(cp).unwrap().metadata.uid.unwrap();
    let now = map_roles(cp);
    set_aws_auth(cp, None);
    set_aws_auth(cp, data(&now));
    let new_uid = get_aws_auth(cp).unwrap().metadata.uid.unwrap();
    assert_ne!(old_uid, new_uid);
    let restore = |extra: &[&str]| {
        let mut args = vec!["restore-aws-auth", old.to_str().unwrap(), "--yes"];
        args.extend_from_slice(extra);
        run(&cp.kubeconfig, "chronom-admin", state.path(), &args)
    };
    let refused = restore(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("was saved from another aws-auth")
            && err.contains(&format!("(uid {new_uid})"))
            && err.contains("nothing was restored")
            && err.contains("next: check the diff above, then re-run with --allow-recreated"),
        "{}",
        text(&refused)
    );
    assert_eq!(map_roles(cp), now, "a refused restore changes nothing");
    let forced = restore(&["--allow-recreated"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert!(!map_roles(cp).contains(&first.arn), "{}", text(&forced));
    // Leave no RBAC behind (the mappings are gone already; revoke removes the objects).
    for n in [&first, &second] {
        revoke(n, state.path());
    }
}
