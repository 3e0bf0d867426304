//! Starting, reusing and stopping the test control plane through `scripts/control-plane`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::per_module::PerModule;

/// `scripts/control-plane` in this repository.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/control-plane");

/// Names a kubeconfig written by an already running `scripts/control-plane up --seed eks`;
/// when set, the tests use that control plane instead of starting their own.
pub const REUSE_ENV: &str = "CHRONOM_TEST_KUBECONFIG";

/// A running control plane. Its kubeconfig has the contexts `chronom-admin` (system:masters),
/// `chronom-operator` (authenticated, no rights) and `chronom-eks` (exec plugin, admin).
#[derive(Debug)]
pub struct ControlPlane {
    /// The kubeconfig to hand to the code under test.
    pub kubeconfig: PathBuf,
    /// The control plane's directory (logs, pki, pids), when it was made by `scripts/control-plane`.
    pub dir: Option<PathBuf>,
    kubectl: PathBuf,
    /// Stopped on drop (and by its watcher when the test process exits).
    owned: bool,
}

/// The control plane of one test module, seeded like a fresh EKS cluster: each module of the
/// cluster target gets its own, as each was its own test binary with its own control plane
/// before (tests/cluster/main.rs). Tests that own aws-auth or the RBAC of their cluster (the
/// differential, reliability) take turns only with the tests of their module, so no other
/// module may share it. Call it as `for_module(module_path!())` from a module's
/// `fn control_plane()`; a nested module counts as the test module it is in.
///
/// Started on first use, with `up --seed eks --watch-pid <this process>`, so it is stopped
/// when the test process exits even though statics are never dropped. With
/// `CHRONOM_TEST_KUBECONFIG` set, every module uses that control plane instead. Never skips: if
/// no control plane can be had, every caller panics with the reason.
pub fn for_module(module_path: &str) -> &'static ControlPlane {
    static BY_MODULE: PerModule<Result<ControlPlane, String>> = PerModule::new();
    let started = BY_MODULE.get_or_init(module_path, |module| match std::env::var_os(REUSE_ENV) {
        Some(path) => ControlPlane::reuse(Path::new(&path)),
        None => {
            eprintln!("{module}: starting its control plane");
            ControlPlane::up(&["--seed", "eks"])
        }
    });
    match started {
        Ok(cp) => cp,
        Err(why) => panic!("no control plane for the tests of {module_path}: {why}"),
    }
}

impl ControlPlane {
    /// Starts a dedicated control plane: `scripts/control-plane up <args> --watch-pid <this
    /// process>`. It is stopped by [`ControlPlane::down`], on drop, or when the process exits.
    /// Use it only for tests that need a cluster of their own (e.g. to break it on purpose).
    pub fn up(args: &[&str]) -> Result<Self, String> {
        let pid = std::process::id().to_string();
        eprintln!("starting a control plane (the first run ever builds kube-apiserver: minutes)");
        let out = Command::new(SCRIPT)
            .arg("up")
            .args(args)
            .args(["--watch-pid", &pid])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {SCRIPT}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "`{SCRIPT} up` failed ({}):\n{}",
                out.status,
                tail(&stderr, 60)
            ));
        }
        let kubeconfig = exported(&stdout, "KUBECONFIG").ok_or_else(|| {
            format!(
                "`{SCRIPT} up` printed no `export KUBECONFIG=`; stdout:\n{stdout}\nstderr:\n{}",
                tail(&stderr, 20)
            )
        })?;
        let mut cp = Self::at(PathBuf::from(kubeconfig))?;
        cp.owned = true;
        Ok(cp)
    }

    /// Uses a control plane that is already running, named by its kubeconfig.
    pub fn reuse(kubeconfig: &Path) -> Result<Self, String> {
        if !kubeconfig.is_file() {
            return Err(format!(
                "{REUSE_ENV}={} is not a file",
                kubeconfig.display()
            ));
        }
        Self::at(kubeconfig.to_path_buf())
    }

    fn at(kubeconfig: PathBuf) -> Result<Self, String> {
        let kubeconfig = kubeconfig
            .canonicalize()
            .map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
        let dir = kubeconfig
            .parent()
            .filter(|d| d.join(".chronom-control-plane").exists())
            .map(Path::to_path_buf);
        // `up` links the kubectl it built into its directory; otherwise CHRONOM_KUBECTL or PATH.
        let kubectl = match &dir {
            Some(d) if d.join("kubectl").exists() => d.join("kubectl"),
            _ => std::env::var_os("CHRONOM_KUBECTL")
                .map_or_else(|| PathBuf::from("kubectl"), PathBuf::from),
        };
        Ok(Self {
            kubeconfig,
            dir,
            kubectl,
            owned: false,
        })
    }

    /// `kubectl --kubeconfig <ours> --context <context>`, using the kubectl built with the
    /// control plane (same version as the server).
    pub fn kubectl(&self, context: &str) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.env_remove("KUBECONFIG")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--context")
            .arg(context)
            .stdin(Stdio::null());
        cmd
    }

    /// The kubectl binary [`ControlPlane::kubectl`] runs.
    pub fn kubectl_path(&self) -> &Path {
        &self.kubectl
    }

    /// Stops a control plane started by [`ControlPlane::up`] and removes its directory.
    pub fn down(mut self) -> Result<(), String> {
        self.owned = false;
        match &self.dir {
            Some(dir) => run_down(dir),
            None => Ok(()),
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if self.owned
            && let Some(dir) = &self.dir
            && let Err(why) = run_down(dir)
        {
            eprintln!("{why}");
        }
    }
}

fn run_down(dir: &Path) -> Result<(), String> {
    let out = Command::new(SCRIPT)
        .arg("down")
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {SCRIPT}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{SCRIPT} down --dir {}` failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The value of `export NAME=value` in the script's output (bash `%q` quoting undone).
fn exported(stdout: &str, name: &str) -> Option<String> {
    let prefix = format!("export {name}=");
    let raw = stdout.lines().rev().find_map(|l| l.strip_prefix(&prefix))?;
    let mut value = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        value.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(value)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `prefix` plus a short random suffix: a valid DNS-1123 label (lowercase alphanumerics and
/// '-', at most 63 characters), unique per call, for namespaces and object names in tests.
pub fn unique_name(prefix: &str) -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let mut n = hasher.finish();
    let suffix: String = (0..8)
        .map(|_| {
            let digit = (n % 36) as u32;
            n /= 36;
            char::from_digit(digit, 36).expect("digit below 36")
        })
        .collect();
    let mut name: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_start_matches('-').chars().take(63 - 9).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        format!("t-{suffix}")
    } else {
        format!("{name}-{suffix}")
    }
}
