//! Races, faults and secrets on the real control plane: no aws-auth entry is ever lost, no
//! write is half done without being reported, and no token is ever printed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use crate::support::cluster::*;
use crate::support::{ControlPlane, unique_name};
use chronom::flows::grant::{GrantPhase, Mapper};
use chronom_core::outcome::RunResult;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, DeleteParams, PostParams};

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

static AWS_AUTH: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    AWS_AUTH.lock().unwrap_or_else(|p| p.into_inner())
}

fn arn(name: &str) -> String {
    format!("arn:aws:iam::111122223333:role/{name}")
}

/// One round: 8 grants and 8 revokes run as 16 parallel processes while another writer keeps
/// editing an unrelated aws-auth key. Returns a description of anything lost (or of a round
/// that could not have lost anything), and what the writer did.
fn race_round(round: usize) -> (Vec<String>, WriterTally) {
    let id = unique_name(&format!("race{round}"));
    let group = format!("{id}-group");
    let role = format!("{id}-role");
    let to_grant: Vec<String> = (0..8).map(|i| arn(&format!("{id}-new-{i}"))).collect();
    let to_revoke: Vec<String> = (0..8).map(|i| arn(&format!("{id}-old-{i}"))).collect();
    let mut seeded = NODE_ENTRY.to_string();
    for a in &to_revoke {
        // What grant writes for the role (revoke removes nothing else without an override).
        let name = a.rsplit('/').next().unwrap();
        seeded.push_str(&format!(
            "- rolearn: {a}\n  username: {name}\n  groups:\n    - {group}\n"
        ));
    }
    let mut initial = BTreeMap::from([("mapRoles".to_string(), seeded)]);
    initial.insert("unrelated".into(), "0".into());
    set_aws_auth(control_plane(), Some(initial));

    // The unrelated writer: read-modify-write of another key as fast as 50 times a second,
    // far busier than any real controller, re-reading after each conflict. A conflict (409)
    // is expected and retried; any other failure means the writer is broken, and so would be
    // the test, which is only meaningful if the writer's updates really land among the
    // plugin's: it counts them, and the round fails with none.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut tally = WriterTally::default();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let written = with_client(control_plane(), async |c| {
                    let api = Api::<ConfigMap>::namespaced(c, "kube-system");
                    let mut cm = api.get("aws-auth").await?;
                    cm.data
                        .get_or_insert_with(BTreeMap::new)
                        .insert("unrelated".into(), n.to_string());
                    api.replace("aws-auth", &PostParams::default(), &cm).await
                });
                match written {
                    Ok(_) => {
                        tally.last_written = n;
                        tally.successes += 1;
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 => tally.conflicts += 1,
                    Err(e) => tally.errors.push(e.to_string()),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            tally
        })
    };
    let mut children = Vec::new();
    for (i, a) in to_grant.iter().chain(to_revoke.iter()).enumerate() {
        let cmd = if i < 8 { "grant" } else { "revoke" };
        let mut args = vec![
            cmd,
            "--role-arn",
            a.as_str(),
            "--group",
            &group,
            "--role-name",
            &role,
        ];
        if cmd == "revoke" {
            args.push("--keep-rbac");
        }
        let child = plugin_command(&control_plane().kubeconfig, "chronom-admin")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        children.push((a.clone(), child));
    }
    let mut problems = Vec::new();
    for (a, child) in children {
        let out = child.wait_with_output().unwrap();
        if out.status.code() != Some(0) {
            problems.push(format!("{a}: {}", text(&out)));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let tally = writer.join().unwrap();
    let last_unrelated = tally.last_written;
    if tally.successes == 0 {
        problems.push(format!(
            "the unrelated writer never wrote ({} conflicts): the round tested nothing",
            tally.conflicts
        ));
    }
    if !tally.errors.is_empty() {
        problems.push(format!(
            "the unrelated writer failed {} times other than by conflict, first: {}",
            tally.errors.len(),
            tally.errors[0]
        ));
    }

    let cm = get_aws_auth(control_plane()).unwrap();
    let data = cm.data.unwrap();
    let roles = &data["mapRoles"];
    if !roles.starts_with(NODE_ENTRY) {
        problems.push(format!("node entry damaged:\n{roles}"));
    }
    for a in &to_grant {
        if roles.matches(a.as_str()).count() != 1 {
            problems.push(format!("granted {a} missing or doubled"));
        }
    }
    for a in &to_revoke {
        if roles.contains(a.as_str()) {
            problems.push(format!("revoked {a} still present"));
        }
    }
    let entries = chronom_core::awsauth::parse_map_roles(roles)
        .map(|e| e.len())
        .unwrap_or(0);
    if entries != 9 {
        problems.push(format!("expected 9 entries, found {entries}:\n{roles}"));
    }
    if data["unrelated"] != last_unrelated.to_string() {
        problems.push(format!(
            "unrelated key is {:?}, its writer last wrote {last_unrelated}",
            data["unrelated"]
        ));
    }
    with_client(control_plane(), async |c| {
        let _ = Api::<ClusterRoleBinding>::all(c.clone())
            .delete(&role, &DeleteParams::default())
            .await;
        let _ = Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(c)
            .delete(&role, &DeleteParams::default())
            .await;
    });
    (problems, tally)
}

/// What the unrelated writer of one round did.
#[derive(Debug, Default)]
struct WriterTally {
    /// Updates the API server accepted.
    successes: u64,
    /// Updates refused with 409 (another write came first): expected under the race.
    conflicts: u64,
    /// Any other failure.
    errors: Vec<String>,
    /// The value of the last accepted update (what the key must hold at the end).
    last_written: u64,
}

#[test]
fn parallel_grants_and_revokes_with_an_unrelated_writer_lose_nothing_20_times() {
    let _g = lock();
    let original = get_aws_auth(control_plane());
    let mut lost = Vec::new();
    let mut writes = Vec::new();
    let started = Instant::now();
    for round in 0..20 {
        let (problems, tally) = race_round(round);
        writes.push(format!("{}/{}", tally.successes, tally.conflicts));
        if !problems.is_empty() {
            lost.push(format!("round {round}:\n  {}", problems.join("\n  ")));
        }
    }
    println!(
        "concurrency: 20 rounds x 16 processes in {:.1}s, {} rounds with losses; unrelated writer \
         per round (accepted/conflicts): {}",
        started.elapsed().as_secs_f64(),
        lost.len(),
        writes.join(" ")
    );
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
    assert!(lost.is_empty(), "{}", lost.join("\n"));
}

/// The token the exec plugin of context chronom-eks hands out, read by running the plugin.
fn eks_token() -> String {
    let kc = kube::config::Kubeconfig::read_from(&control_plane().kubeconfig).unwrap();
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == "chronom-eks")
        .unwrap();
    let user_name = ctx.context.as_ref().unwrap().user.clone().unwrap();
    let user = kc.auth_infos.iter().find(|u| u.name == user_name).unwrap();
    let exec = user.auth_info.as_ref().unwrap().exec.as_ref().unwrap();
    let out = std::process::Command::new(exec.command.as_ref().unwrap())
        .args(exec.args.clone().unwrap_or_default())
        .output()
        .unwrap();
    let cred: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    cred["status"]["token"].as_str().unwrap().to_string()
}

/// A copy of the control plane's kubeconfig whose chronom-eks exec plugin is wrapped by a script
/// that appends a line to the returned marker file each time it runs, then runs the real plugin.
fn kubeconfig_counting_exec_runs(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let original = &control_plane().kubeconfig;
    let kc = kube::config::Kubeconfig::read_from(original).unwrap();
    let user = kc
        .auth_infos
        .iter()
        .find(|u| u.name == "chronom-eks")
        .unwrap();
    let real = user
        .auth_info
        .as_ref()
        .unwrap()
        .exec
        .as_ref()
        .unwrap()
        .command
        .clone()
        .unwrap();
    let marker = dir.join("exec-plugin-runs");
    let wrapper = dir.join("eks-get-token-counted");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho ran >>'{}'\nexec '{real}' \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o700)).unwrap();
    let text = std::fs::read_to_string(original).unwrap();
    let line = format!("command: {real}\n");
    assert_eq!(text.matches(&line).count(), 1, "one exec plugin in {text}");
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        text.replace(&line, &format!("command: {}\n", wrapper.display())),
    )
    .unwrap();
    (path, marker)
}

fn exec_runs(marker: &std::path::Path) -> usize {
    std::fs::read_to_string(marker)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn no_token_is_printed_even_at_the_highest_verbosity() {
    let _g = lock();
    let token = eks_token();
    assert!(token.len() >= 16, "the test needs a real token to look for");
    let scratch = tempfile::tempdir().unwrap();
    let (kubeconfig, marker) = kubeconfig_counting_exec_runs(scratch.path());
    let id = unique_name("secret");
    let a = arn(&id);
    let mut all = String::new();
    // -vvv is the highest level the CLI has (trace); more v's change nothing. Each command
    // must really run (exit 0) and authenticate through the exec plugin, or it proves nothing.
    for args in [
        vec![
            "-vvv",
            "grant",
            "--role-arn",
            &a,
            "--group",
            &id,
            "--role-name",
            &id,
            "-o",
            "json",
        ],
        vec!["-vvv", "audit", "--verify", "-o", "yaml"],
        vec![
            "-vvv",
            "revoke",
            "--role-arn",
            &a,
            "--group",
            &id,
            "--role-name",
            &id,
        ],
        vec![
            "-v",
            "-v",
            "--v",
            "grant",
            "--role-arn",
            "arn:aws:iam::111122223333:role/x",
            "--dry-run",
        ],
    ] {
        let before = exec_runs(&marker);
        let out = plugin_command(&kubeconfig, "chronom-eks")
            .args(&args)
            .output()
            .unwrap();
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}:\n{shown}");
        assert!(
            exec_runs(&marker) > before,
            "{args:?} did not run the exec plugin:\n{shown}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("DEBUG api request"),
            "{args:?}: verbose logging should have logged the API requests:\n{shown}"
        );
        all.push_str(&shown);
    }
    // The token also must not leak into backups' text shown to the user.
    assert!(
        !all.contains(&token),
        "the bearer token appeared in the output"
    );
}

#[test]
fn backups_are_private_and_restore_puts_aws_auth_back() {
    let _g = lock();
    let original = get_aws_auth(control_plane());
    set_aws_auth(control_plane(), data(NODE_ENTRY));
    let id = unique_name("backup");
    let out = chronom(
        control_plane(),
        "chronom-admin",
        &[
            "grant",
            "--role-arn",
            &arn(&id),
            "--group",
            &id,
            "--role-name",
            &id,
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let backup = PathBuf::from(
        json(&out)["awsAuth"]["backup"]
            .as_str()
            .expect("backup path reported")
            .to_string(),
    );
    assert!(
        backup.starts_with(
            state_dir(&control_plane().kubeconfig).join("kubectl-chronom/backups/chronom-admin")
        ),
        "{}",
        backup.display()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(map_roles(control_plane()).contains(&id));

    // Without --yes and without a terminal, restore refuses and changes nothing.
    let refused = chronom(
        control_plane(),
        "chronom-admin",
        &["restore-aws-auth", backup.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains(&format!("-  - {id}"))
            || String::from_utf8_lossy(&refused.stdout).contains(&id),
        "the diff is shown first: {}",
        text(&refused)
    );
    assert!(map_roles(control_plane()).contains(&id));

    let restored = chronom(
        control_plane(),
        "chronom-admin",
        &["restore-aws-auth", backup.to_str().unwrap(), "--yes"],
    );
    assert_eq!(restored.status.code(), Some(0), "{}", text(&restored));
    assert_eq!(map_roles(control_plane()), NODE_ENTRY);
    let again = chronom(
        control_plane(),
        "chronom-admin",
        &["restore-aws-auth", backup.to_str().unwrap(), "--yes"],
    );
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to restore"),
        "{}",
        text(&again)
    );
    chronom(
        control_plane(),
        "chronom-admin",
        &[
            "revoke",
            "--role-arn",
            &arn(&id),
            "--group",
            &id,
            "--role-name",
            &id,
        ],
    );
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
}

#[test]
fn forbidden_rbac_deletion_reports_what_is_left_and_exits_1() {
    let _g = lock();
    let original = get_aws_auth(control_plane());
    set_aws_auth(control_plane(), data(NODE_ENTRY));
    let id = unique_name("stuck");
    let grant = chronom(
        control_plane(),
        "chronom-admin",
        &[
            "grant",
            "--role-arn",
            &arn(&id),
            "--group",
            &id,
            "--role-name",
            &id,
        ],
    );
    assert_eq!(grant.status.code(), Some(0), "{}", text(&grant));
    let policy = unique_name("deny-delete");
    let expression = format!("oldObject.metadata.name != '{id}'");
    let probe = || {
        let id = id.clone();
        with_client(control_plane(), async move |c| {
            Api::<ClusterRoleBinding>::all(c)
                .delete(
                    &id,
                    &DeleteParams {
                        dry_run: true,
                        ..Default::default()
                    },
                )
                .await
                .is_err()
        })
    };
    deny_policy(
        control_plane(),
        &policy,
        "DELETE",
        "clusterrolebindings",
        "rbac.authorization.k8s.io",
        &expression,
        probe,
    );

    let out = chronom(
        control_plane(),
        "chronom-admin",
        &[
            "revoke",
            "--role-arn",
            &arn(&id),
            "--group",
            &id,
            "--role-name",
            &id,
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["awsAuth"]["removed"], 1);
    assert_eq!(r["clusterRoleBinding"]["action"], "failed");
    assert_eq!(r["clusterRole"]["action"], "deleted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("clusterrolebinding/{id}")) && err.contains("left"),
        "{err}"
    );
    assert!(cluster_role_binding(control_plane(), &id).is_some());
    assert!(!map_roles(control_plane()).contains(&id));

    remove_policy(control_plane(), &policy);
    // Policy removal reaches the admission chain asynchronously: wait until a delete would pass.
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe() {
        assert!(
            Instant::now() < deadline,
            "admission policy {policy} never went away"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = chronom(
        control_plane(),
        "chronom-admin",
        &[
            "revoke",
            "--role-arn",
            &arn(&id),
            "--group",
            &id,
            "--role-name",
            &id,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(cluster_role_binding(control_plane(), &id).is_none());
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
}

/// The aws-auth write is refused, and so is the rollback's delete of the ClusterRole: grant
/// exits 1 and names on stderr what it left behind. (Through the binary: the warning is
/// printed, so an in-process run could not see it.)
#[test]
fn grant_whose_rollback_is_refused_names_what_it_left_on_stderr() {
    let _g = lock();
    let original = get_aws_auth(control_plane());
    set_aws_auth(control_plane(), data(NODE_ENTRY));
    let id = unique_name("orphan");
    let probe_role = format!("{id}-probe");
    with_client(control_plane(), async |c| {
        let role = k8s_openapi::api::rbac::v1::ClusterRole {
            metadata: kube::api::ObjectMeta {
                name: Some(probe_role.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(c)
            .create(&PostParams::default(), &role)
            .await
            .unwrap();
    });
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let aws_auth_refused = || {
        with_client(control_plane(), async |c| {
            let api = Api::<ConfigMap>::namespaced(c, "kube-system");
            let mut cm = api.get("aws-auth").await.unwrap();
            let roles = cm.data.get_or_insert_with(BTreeMap::new);
            let probe_entry = format!("- rolearn: {}\n  groups: [{id}]\n", arn(&id));
            roles
                .entry("mapRoles".into())
                .or_default()
                .push_str(&probe_entry);
            api.replace("aws-auth", &dry_run, &cm).await.is_err()
        })
    };
    let delete_refused = || {
        with_client(control_plane(), async |c| {
            Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(c)
                .delete(
                    &probe_role,
                    &DeleteParams {
                        dry_run: true,
                        ..Default::default()
                    },
                )
                .await
                .is_err()
        })
    };
    let no_write = unique_name("deny-aws-auth");
    deny_policy(
        control_plane(),
        &no_write,
        "UPDATE",
        "configmaps",
        "",
        &format!(
            "object.metadata.name != 'aws-auth' || !has(object.data) || !has(object.data.mapRoles) || !object.data.mapRoles.contains('{id}')"
        ),
        aws_auth_refused,
    );
    let no_delete = unique_name("deny-delete");
    deny_policy(
        control_plane(),
        &no_delete,
        "DELETE",
        "clusterroles",
        "rbac.authorization.k8s.io",
        &format!("!(oldObject.metadata.name in ['{id}', '{probe_role}'])"),
        delete_refused,
    );

    let out = chronom(
        control_plane(),
        "chronom-admin",
        &[
            "grant",
            "--role-arn",
            &arn(&id),
            "--group",
            &id,
            "--role-name",
            &id,
            "-o",
            "json",
        ],
    );
    remove_policy(control_plane(), &no_write);
    remove_policy(control_plane(), &no_delete);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["awsAuth"]["action"], "failed", "{}", text(&out));
    assert_eq!(r["clusterRole"]["action"], "created", "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("clusterrole {id}")) && err.contains("delete it by hand"),
        "orphans must be named:\n{err}"
    );
    assert!(
        !map_roles(control_plane()).contains(&id),
        "no partial aws-auth write"
    );

    // Policy removal reaches the admission chain asynchronously.
    let deadline = Instant::now() + Duration::from_secs(30);
    while delete_refused() {
        assert!(
            Instant::now() < deadline,
            "admission policy {no_delete} never went away"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    with_client(control_plane(), async |c| {
        let roles = Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(c);
        for name in [&id, &probe_role] {
            let _ = roles.delete(name, &DeleteParams::default()).await;
        }
    });
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
}

/// Issue 12 item 8: the plugin binary carries no test hook. The fault tests above pause a
/// grant through `grant::execute_observed` in this process instead of an environment variable.
#[test]
fn the_plugin_binary_reads_no_test_environment_variable() {
    let path = env!("CARGO_BIN_EXE_kubectl-chronom");
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // As text (std's searcher is fast even in a debug test build); the ASCII strings survive.
    // String literals sit side by side in the binary, with no separator: look for the prefix.
    let text = String::from_utf8_lossy(&bytes);
    // The scan sees the binary's strings: the documented variable is there.
    assert!(
        text.contains("CHRONOM_REQUEST_TIMEOUT"),
        "the scan found no CHRONOM_REQUEST_TIMEOUT in {path}"
    );
    if let Some(i) = text.find("CHRONOM_TEST_") {
        let context: String = text[i..].chars().take(60).collect();
        panic!("a test hook in the plugin binary {path}: {context:?}");
    }
}

/// The kube-apiserver process of a dedicated control plane, to stop and start it again.
struct ApiServer {
    dir: PathBuf,
    cmdline: Vec<String>,
}

impl ApiServer {
    fn of(cp: &ControlPlane) -> Self {
        let dir = cp.dir.clone().expect("a dedicated control plane has a dir");
        let pid = std::fs::read_to_string(dir.join("kube-apiserver.pid"))
            .unwrap()
            .trim()
            .to_string();
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let cmdline = raw
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        ApiServer { dir, cmdline }
    }

    fn pid(&self) -> String {
        std::fs::read_to_string(self.dir.join("kube-apiserver.pid"))
            .unwrap()
            .trim()
            .to_string()
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.pid()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    fn kill(&self) {
        self.signal("-KILL");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{}/stat", self.pid())).exists()
            && !std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
                .unwrap_or_default()
                .contains(") Z")
        {
            assert!(Instant::now() < deadline, "kube-apiserver did not die");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Start it again with the same flags (same etcd, same data), recording the new pid so
    /// that `down` stops it.
    #[expect(
        clippy::zombie_processes,
        reason = "the restarted API server outlives this call on purpose; `down` stops it by its pid file"
    )]
    fn restart(&self, cp: &ControlPlane) {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.dir.join("kube-apiserver.restart.log"))
            .unwrap();
        let child = std::process::Command::new(&self.cmdline[0])
            .args(&self.cmdline[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        std::fs::write(self.dir.join("kube-apiserver.pid"), child.id().to_string()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = cp
                .kubectl("chronom-admin")
                .args(["get", "--raw", "/readyz"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver did not come back"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A grant run in this process through the library (`grant::execute_observed`), held by its
/// phase observer after the RBAC objects are written and before the aws-auth write, until the
/// test resumes it. The shipped binary has no pause point (issue 12 item 8): the seam is the
/// observer argument, and the CLI passes none.
struct PausedGrant {
    reached: mpsc::Receiver<GrantPhase>,
    resume: mpsc::Sender<()>,
    run: std::thread::JoinHandle<RunResult>,
}

impl PausedGrant {
    /// `grant --role-arn <id> --group <id> --role-name <id>` as the CLI parses it, with
    /// `--request-timeout <timeout>`, against `cp` as chronom-admin, mapped through aws-auth.
    fn start(cp: &ControlPlane, id: &str, timeout: &str) -> Self {
        let kubeconfig = cp.kubeconfig.to_str().expect("kubeconfig path is UTF-8");
        let role_arn = arn(id);
        let cli = <chronom::cli::Cli as clap::Parser>::try_parse_from([
            "kubectl-chronom",
            "--kubeconfig",
            kubeconfig,
            "--context",
            "chronom-admin",
            "--request-timeout",
            timeout,
            "grant",
            "--role-arn",
            &role_arn,
            "--group",
            id,
            "--role-name",
            id,
        ])
        .unwrap_or_else(|e| panic!("grant arguments: {e}"));
        let (reached_tx, reached) = mpsc::channel();
        let (resume, resume_rx) = mpsc::channel::<()>();
        let run = std::thread::spawn(move || {
            let chronom::cli::Command::Grant(args) = &cli.command else {
                unreachable!("parsed a grant")
            };
            let valid = chronom::flows::grant::validate(args).unwrap_or_else(|e| panic!("{e}"));
            let resume_rx = Mutex::new(resume_rx);
            let observe = move |phase: GrantPhase| {
                if phase != GrantPhase::RbacApplied {
                    return;
                }
                let _ = reached_tx.send(phase);
                // Blocks the flow and its runtime thread, as the removed env hook did. A test
                // that panics drops the sender, which ends the wait.
                let _ = resume_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async {
                let conn = match chronom::adapters::kube::connect(&cli.global).await {
                    Ok(conn) => conn,
                    Err(e) => return e.into(),
                };
                chronom::flows::grant::execute_observed(
                    &conn,
                    &valid,
                    Mapper::AwsAuth,
                    None,
                    &observe,
                )
                .await
                .unwrap_or_else(RunResult::from)
            })
        });
        PausedGrant {
            reached,
            resume,
            run,
        }
    }

    /// Waits until the grant has applied its RBAC objects and is held before the aws-auth write.
    fn wait_until_paused(self) -> Self {
        match self.reached.recv_timeout(Duration::from_secs(60)) {
            Ok(phase) => assert_eq!(phase, GrantPhase::RbacApplied),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the grant never reached the pause point (60 s)")
            }
            // The flow ended without reaching the pause point: show why.
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
                "the grant ended before the pause point:\n{}",
                describe_run(&self.run.join().expect("the grant thread panicked"))
            ),
        }
        self
    }

    /// Lets the grant go on and returns what it reports.
    fn resume(self) -> RunResult {
        let _ = self.resume.send(());
        self.run.join().expect("the grant thread panicked")
    }
}

/// A run's outcome as the CLI would show it: exit code, `-o json` report and stderr error.
fn describe_run(r: &RunResult) -> String {
    format!(
        "exit {}\n--- report\n{}\n--- error\n{}",
        r.exit_code(),
        r.report
            .as_ref()
            .map(|w| serde_json::to_string_pretty(w).unwrap())
            .unwrap_or_default(),
        r.error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    )
}

fn report_json(r: &RunResult) -> serde_json::Value {
    let report = r
        .report
        .as_ref()
        .unwrap_or_else(|| panic!("no report:\n{}", describe_run(r)));
    serde_json::to_value(report).unwrap()
}

/// Kill kube-apiserver between the RBAC apply and the aws-auth write, restart it, re-run:
/// the first run reports exactly what it left, the second completes the grant.
#[test]
fn apiserver_killed_mid_grant_then_rerun_completes_and_nothing_is_left_unreported() {
    let cp = ControlPlane::up(&["--seed", "eks"]).expect("dedicated control plane");
    let server = ApiServer::of(&cp);
    let before = map_roles(&cp);
    let id = unique_name("killed");
    let grant = PausedGrant::start(&cp, &id, "3").wait_until_paused();
    assert!(
        cluster_role(&cp, &id).is_some(),
        "RBAC is applied before the pause"
    );
    server.kill();
    let out = grant.resume();
    let shown = describe_run(&out);
    assert_eq!(out.exit_code(), 1, "{shown}");
    let r = report_json(&out);
    assert_eq!(r["awsAuth"]["action"], "failed", "{shown}");
    // The rollback cannot reach the server either: the objects must be reported as left behind,
    // in the report and in the table the user reads.
    assert_eq!(r["clusterRole"]["name"], id.as_str(), "{shown}");
    assert_eq!(r["clusterRole"]["action"], "created", "{shown}");
    let table = chronom_core::report::write_text::render(out.report.as_ref().unwrap());
    assert!(
        table
            .lines()
            .any(|l| l.contains(&id) && l.contains("created")),
        "the table must show the clusterrole as created (left behind):\n{table}"
    );
    let err = out
        .error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(err.contains("next:"), "{shown}");

    server.restart(&cp);
    assert_eq!(map_roles(&cp), before, "no partial aws-auth write");
    let out = chronom(
        &cp,
        "chronom-admin",
        &[
            "grant",
            "--role-arn",
            &arn(&id),
            "--group",
            &id,
            "--role-name",
            &id,
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["clusterRole"]["action"], "unchanged");
    assert_eq!(r["awsAuth"]["action"], "updated");
    assert!(map_roles(&cp).contains(&arn(&id)));
    cp.down().unwrap();
}

/// A server that stops answering mid-run: a clear timeout error, and no partial write.
#[test]
fn timeout_mid_request_is_clear_and_writes_nothing() {
    let cp = ControlPlane::up(&["--seed", "eks"]).expect("dedicated control plane");
    let server = ApiServer::of(&cp);
    let before = map_roles(&cp);
    let id = unique_name("frozen");
    let grant = PausedGrant::start(&cp, &id, "2").wait_until_paused();
    server.signal("-STOP");
    let started = Instant::now();
    let out = grant.resume();
    server.signal("-CONT");
    let shown = describe_run(&out);
    assert_eq!(out.exit_code(), 1, "{shown}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the timeout must be honoured"
    );
    let err = out
        .error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(err.contains("timeout") && err.contains("next:"), "{shown}");
    assert_eq!(report_json(&out)["awsAuth"]["action"], "failed", "{shown}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while cp
        .kubectl("chronom-admin")
        .args(["get", "--raw", "/readyz"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "server did not recover after SIGCONT"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(map_roles(&cp), before, "no partial aws-auth write");
    cp.down().unwrap();
}
