//! Sets CHRONOM_VERSION, shown by `kubectl chronom --version`: "0.1.0 (commit abc1234)".
//!
//! The commit comes from, in order: $CHRONOM_GIT_COMMIT (release builds that have no .git),
//! `git rev-parse` when this crate is the root of a git work tree, the `.cargo_vcs_info.json`
//! that `cargo package` writes into a crate tarball, else "unknown". No build dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let version = std::env::var("CARGO_PKG_VERSION").expect("set by cargo");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CHRONOM_GIT_COMMIT");

    let commit = std::env::var("CHRONOM_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().chars().take(7).collect())
        .or_else(|| git_commit(&manifest_dir))
        .or_else(|| vcs_info_commit(&manifest_dir))
        .unwrap_or_else(|| "unknown".to_string());

    println!("cargo:rustc-env=CHRONOM_VERSION={version} (commit {commit})");
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// The short HEAD commit, only when the manifest directory is the top of the work tree (a
/// crate unpacked inside some other repository must not report that repository's commit).
fn git_commit(manifest_dir: &Path) -> Option<String> {
    let top = git(manifest_dir, &["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if !same(Path::new(&top), manifest_dir) {
        return None;
    }

    // Rebuild when HEAD moves: HEAD itself (checkout), the branch refs (commit) and
    // packed-refs. Only existing paths, or cargo would rerun this script on every build.
    // `--git-path` finds each where git keeps it: in a linked work tree (`git worktree`) HEAD
    // is the work tree's own, while the refs live in the main repository's .git.
    for name in ["HEAD", "refs/heads", "packed-refs"] {
        let Some(path) = git(manifest_dir, &["rev-parse", "--git-path", name]) else {
            continue;
        };
        let watched = manifest_dir.join(path);
        if watched.exists() {
            println!("cargo:rerun-if-changed={}", watched.display());
        }
    }

    git(manifest_dir, &["rev-parse", "--short=7", "HEAD"])
}

/// `cargo package` records the commit as {"git": {"sha1": "..."}}.
fn vcs_info_commit(manifest_dir: &Path) -> Option<String> {
    let path = manifest_dir.join(".cargo_vcs_info.json");
    if !path.exists() {
        return None;
    }
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path).ok()?;
    let start = text.find("\"sha1\"")? + "\"sha1\"".len();
    let rest = text[start..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let sha: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    (sha.len() >= 7).then(|| sha[..7].to_string())
}
