//! Distribution: the krew manifest (checked by krew itself), the release script's manifest
//! generation and archives (installed by krew itself), the release workflow's platforms,
//! `--version`, help, the static completion scripts and the Cobra `__complete` protocol that
//! kubectl uses for plugins.
//!
//! The oracle is krew: `validate-krew-manifest` and `krew` built from the sigs.k8s.io/krew Go
//! module (tests/peers/krew pins the version) by these tests, cached like the control plane.
//! Beside it, `manifest_rule_errors` is a port of krew's rules (`internal/index/validation`,
//! `cmd/validate-krew-manifest`) plus our own contract that krew does not check (no unknown
//! fields: krew v0.4.4 decodes leniently and would silently drop a misspelt one; matchLabels with
//! exactly os and arch; the five platforms; bin and LICENSE installed by `files`; line lengths).
//! The port gives readable messages and covers the contract; krew says what krew accepts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-chronom");
const REPO: &str = env!("CARGO_MANIFEST_DIR");
const PLATFORMS: [(&str, &str); 5] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
];

// ---------------------------------------------------------------------------------------------
// krew itself, built from its Go module

/// The wrapper Go module that pins sigs.k8s.io/krew.
const KREW_MODULE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/krew");

/// krew's binaries: `validate-krew-manifest` and `krew`.
struct Krew {
    bin: PathBuf,
}

/// Builds `validate-krew-manifest` and `krew` from the Go module proxy once, into
/// `${XDG_CACHE_HOME:-~/.cache}/kubectl-chronom/krew/<version>/bin`, rebuilt only when
/// tests/peers/krew's go.mod, go.sum or the Go version change (the stamp holds all three), under a
/// file lock so parallel test processes share one build. Never skipped: without Go the tests fail
/// and say so.
fn krew() -> &'static Krew {
    static BUILT: OnceLock<Result<Krew, String>> = OnceLock::new();
    match BUILT.get_or_init(build_krew) {
        Ok(k) => k,
        Err(why) => panic!("cannot build krew for the manifest checks: {why}"),
    }
}

fn build_krew() -> Result<Krew, String> {
    let module = Path::new(KREW_MODULE);
    let read = |f: &str| {
        std::fs::read_to_string(module.join(f))
            .map_err(|e| format!("{}/{f}: {e}", module.display()))
    };
    let (go_mod, go_sum) = (read("go.mod")?, read("go.sum")?);
    let version = go_mod
        .lines()
        .find_map(|l| l.trim().strip_prefix("require sigs.k8s.io/krew "))
        .ok_or("tests/peers/krew/go.mod does not require sigs.k8s.io/krew")?
        .trim()
        .to_string();
    let go_version = Command::new("go")
        .args(["env", "GOVERSION"])
        .output()
        .map_err(|e| {
            format!("go is required to build krew (install Go, as for the control plane): {e}")
        })?;
    let stamp = format!(
        "{go_mod}\n{go_sum}\n{}",
        String::from_utf8_lossy(&go_version.stdout)
    );
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .ok_or("neither XDG_CACHE_HOME nor HOME is set")?
        .join("kubectl-chronom/krew")
        .join(&version);
    let bin = cache.join("bin");
    let fresh = || std::fs::read_to_string(bin.join(".stamp")).is_ok_and(|s| s == stamp);
    if fresh() {
        return Ok(Krew { bin });
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let lock = std::fs::File::create(cache.join(".build.lock")).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    if fresh() {
        return Ok(Krew { bin });
    }
    let tmp = tempfile::Builder::new()
        .prefix(".bin.")
        .tempdir_in(&cache)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "building krew {version} (once; cached in {})",
        bin.display()
    );
    let out = Command::new("go")
        .current_dir(module)
        .env("GOFLAGS", {
            // go.sum is committed: build exactly what it pins (a caller's -mod= is replaced).
            let mut flags: Vec<String> = std::env::var("GOFLAGS")
                .unwrap_or_default()
                .split_whitespace()
                .filter(|f| !f.starts_with("-mod="))
                .map(str::to_string)
                .collect();
            flags.push("-mod=readonly".into());
            flags.join(" ")
        })
        .args(["build", "-trimpath", "-o"])
        .arg(format!("{}/", tmp.path().display()))
        .args([
            "sigs.k8s.io/krew/cmd/krew",
            "sigs.k8s.io/krew/cmd/validate-krew-manifest",
        ])
        .output()
        .map_err(|e| format!("go build: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "go build in {} failed:\n{}",
            module.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(tmp.path().join(".stamp"), &stamp).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::rename(tmp.keep(), &bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    Ok(Krew { bin })
}

impl Krew {
    /// `validate-krew-manifest -manifest <name>.yaml -skip-install`: krew's structural validation,
    /// its supported-platform and overlap checks. The install step it skips needs the network
    /// (it downloads every platform's archive); `release_pack_makes_the_archive_krew_installs`
    /// does that step with krew itself on a local archive.
    fn validate(&self, manifest: &Value, name: &str) -> Output {
        let dir = tempfile::tempdir().unwrap();
        // krew reads the plugin's name from the file name.
        let path = dir.path().join(format!("{name}.yaml"));
        // JSON is YAML: krew's reader (sigs.k8s.io/yaml, strict) takes it as it is.
        std::fs::write(&path, serde_json::to_string_pretty(manifest).unwrap()).unwrap();
        Command::new(self.bin.join("validate-krew-manifest"))
            .arg("-manifest")
            .arg(&path)
            .arg("-skip-install")
            .env("HOME", dir.path())
            .output()
            .unwrap()
    }

    /// Asserts that krew accepts `manifest`, and that it did run its checks.
    fn assert_accepts(&self, manifest: &Value, name: &str) {
        let out = self.validate(manifest, name);
        let log = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "krew rejected the manifest:\n{log}"
        );
        for step in [
            "structural validation OK",
            "all spec.platform[] items are used",
            "no overlapping spec.platform[].selector",
        ] {
            assert!(log.contains(step), "krew did not report {step:?}:\n{log}");
        }
    }

    /// krew's reason for rejecting `manifest`, or None when it accepts it.
    fn rejection(&self, manifest: &Value, name: &str) -> Option<String> {
        let out = self.validate(manifest, name);
        (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// krew's manifest rules, ported, and our own contract

fn krew_semver_ok(v: &str) -> bool {
    let Some(v) = v.strip_prefix('v') else {
        return false;
    };
    let (v, build) = match v.split_once('+') {
        Some((v, b)) => (v, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|id| ident(id) && (!id.bytes().all(|b| b.is_ascii_digit()) || numeric(id)))
        })
        && build.is_none_or(|b| b.split('.').all(ident))
}

fn safe_plugin_name(name: &str) -> bool {
    const WINDOWS_FORBIDDEN: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !WINDOWS_FORBIDDEN
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name))
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lines longer than `max` are allowed only when they are a single word (krew's check).
fn long_lines(s: &str, max: usize) -> Vec<String> {
    s.lines()
        .filter(|l| l.chars().count() > max && l.trim().contains(' '))
        .map(str::to_string)
        .collect()
}

fn unknown_keys(v: &Value, allowed: &[&str], at: &str, errors: &mut Vec<String>) {
    if let Some(map) = v.as_object() {
        for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
            errors.push(format!(
                "{at}: unknown field {key:?} (krew would ignore it)"
            ));
        }
    } else {
        errors.push(format!("{at}: must be a mapping"));
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Every ported krew rule, and every rule of our own contract, that `manifest` breaks, for a
/// plugin installed as `name`.
fn manifest_rule_errors(manifest: &Value, name: &str) -> Vec<String> {
    let mut e = Vec::new();
    unknown_keys(
        manifest,
        &["apiVersion", "kind", "metadata", "spec"],
        "manifest",
        &mut e,
    );
    if text(manifest, "apiVersion") != "krew.googlecontainertools.github.com/v1alpha2" {
        e.push(format!(
            "apiVersion {:?} is not supported",
            text(manifest, "apiVersion")
        ));
    }
    if text(manifest, "kind") != "Plugin" {
        e.push(format!(
            "kind {:?}, only \"Plugin\" is supported",
            text(manifest, "kind")
        ));
    }
    let metadata = &manifest["metadata"];
    unknown_keys(
        metadata,
        &["name", "labels", "annotations"],
        "metadata",
        &mut e,
    );
    if !safe_plugin_name(name) {
        e.push(format!("plugin name {name:?} is not allowed"));
    }
    if text(metadata, "name") != name {
        e.push(format!(
            "plugin should be named {name:?}, not {:?}",
            text(metadata, "name")
        ));
    }

    let spec = &manifest["spec"];
    unknown_keys(
        spec,
        &[
            "version",
            "shortDescription",
            "description",
            "caveats",
            "homepage",
            "platforms",
        ],
        "spec",
        &mut e,
    );
    let short = text(spec, "shortDescription");
    if short.trim().is_empty() {
        e.push("should have a short description".into());
    }
    if short.trim_end().contains('\n') {
        e.push(format!("shortDescription must be one line: {short:?}"));
    }
    for (field, max) in [
        ("shortDescription", 70),
        ("description", 80),
        ("caveats", 80),
    ] {
        for line in long_lines(text(spec, field), max) {
            e.push(format!(
                "{field}: line longer than {max} characters: {line:?}"
            ));
        }
    }
    if !text(spec, "homepage").starts_with("https://") {
        e.push(format!(
            "homepage {:?} should be an https URL",
            text(spec, "homepage")
        ));
    }
    if !krew_semver_ok(text(spec, "version")) {
        e.push(format!(
            "version {:?} is not a semantic version with a leading v",
            text(spec, "version")
        ));
    }

    let platforms = spec["platforms"].as_array().cloned().unwrap_or_default();
    if platforms.is_empty() {
        e.push("should have a platform specified".into());
    }
    let mut selected: Vec<(String, String)> = Vec::new();
    for (i, p) in platforms.iter().enumerate() {
        let at = format!("spec.platforms[{i}]");
        unknown_keys(
            p,
            &["uri", "sha256", "selector", "files", "bin"],
            &at,
            &mut e,
        );
        if text(p, "uri").is_empty() {
            e.push(format!("{at}: URI has to be set"));
        }
        if !is_sha256(text(p, "sha256")) {
            e.push(format!(
                "{at}: sha256 {:?} must match ^[a-f0-9]{{64}}$",
                text(p, "sha256")
            ));
        }
        let bin = text(p, "bin");
        if bin.is_empty() {
            e.push(format!("{at}: bin has to be set"));
        }
        let files = p["files"].as_array().cloned().unwrap_or_default();
        if files.is_empty() {
            e.push(format!(
                "{at}: can't have a plugin without specifying file operations"
            ));
        }
        for (j, f) in files.iter().enumerate() {
            unknown_keys(f, &["from", "to"], &format!("{at}.files[{j}]"), &mut e);
        }
        let copies = |file: &str| {
            files
                .iter()
                .any(|f| text(f, "from") == file && [".", ""].contains(&text(f, "to")))
        };
        if !bin.is_empty() && !copies(bin) {
            e.push(format!("{at}: bin {bin:?} is not installed by files"));
        }
        if !copies("LICENSE") {
            e.push(format!("{at}: files must install LICENSE"));
        }

        let selector = &p["selector"];
        if selector.is_null() {
            e.push(format!("{at}: nil selector is not supported"));
            continue;
        }
        unknown_keys(
            selector,
            &["matchLabels", "matchExpressions"],
            &format!("{at}.selector"),
            &mut e,
        );
        if selector.get("matchExpressions").is_some() {
            e.push(format!("{at}: use matchLabels only"));
        }
        let labels = selector["matchLabels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if labels.is_empty() {
            e.push(format!("{at}: empty selector is not supported"));
        }
        for key in labels.keys().filter(|k| *k != "os" && *k != "arch") {
            e.push(format!("{at}: selector key {key:?} not supported"));
        }
        let (os, arch) = (
            labels.get("os").and_then(Value::as_str),
            labels.get("arch").and_then(Value::as_str),
        );
        let (Some(os), Some(arch)) = (os, arch) else {
            e.push(format!("{at}: matchLabels must set os and arch"));
            continue;
        };
        let supported = ["linux", "darwin", "windows"].contains(&os)
            && ["amd64", "arm64", "386", "arm"].contains(&arch);
        if !supported {
            e.push(format!(
                "{at}: selector {os}/{arch} doesn't match any supported platform"
            ));
        }
        if selected.contains(&(os.to_string(), arch.to_string())) {
            e.push(format!("{at}: overlapping selectors for {os}/{arch}"));
        }
        selected.push((os.to_string(), arch.to_string()));
        let want_bin = if os == "windows" {
            "kubectl-chronom.exe"
        } else {
            "kubectl-chronom"
        };
        if bin != want_bin {
            e.push(format!(
                "{at}: bin for {os} should be {want_bin}, not {bin:?}"
            ));
        }
    }
    for (os, arch) in PLATFORMS {
        if !selected.contains(&(os.to_string(), arch.to_string())) {
            e.push(format!("no platform for {os}/{arch}"));
        }
    }
    e
}

fn parse_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn archive_uri(homepage: &str, version: &str, os: &str, arch: &str) -> String {
    let ext = if os == "windows" { "zip" } else { "tar.gz" };
    format!("{homepage}/releases/download/{version}/kubectl-chronom_{version}_{os}_{arch}.{ext}")
}

fn platform<'a>(manifest: &'a Value, os: &str, arch: &str) -> &'a Value {
    manifest["spec"]["platforms"]
        .as_array()
        .and_then(|ps| {
            ps.iter().find(|p| {
                p["selector"]["matchLabels"]["os"] == os
                    && p["selector"]["matchLabels"]["arch"] == arch
            })
        })
        .unwrap_or_else(|| panic!("no platform {os}/{arch}"))
}

#[test]
fn plugin_manifest_passes_krews_validator_and_our_contract() {
    let manifest = parse_yaml(&Path::new(REPO).join("plugin.yaml"));
    krew().assert_accepts(&manifest, "chronom");
    assert_eq!(
        manifest_rule_errors(&manifest, "chronom"),
        Vec::<String>::new()
    );

    let spec = &manifest["spec"];
    assert_eq!(
        text(spec, "version"),
        format!("v{}", env!("CARGO_PKG_VERSION")),
        "template tracks Cargo.toml"
    );
    for (os, arch) in PLATFORMS {
        let p = platform(&manifest, os, arch);
        assert_eq!(
            text(p, "uri"),
            archive_uri(text(spec, "homepage"), text(spec, "version"), os, arch)
        );
    }
}

/// Each edit breaks one rule. Where the rule is krew's, krew itself must reject the edited
/// manifest (so the port cannot drift from krew unnoticed); where it is only our contract, krew
/// accepts it and only the port catches it.
#[test]
fn the_manifest_checks_reject_what_krew_rejects_and_what_our_contract_forbids() {
    let good = parse_yaml(&Path::new(REPO).join("plugin.yaml"));
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut m = good.clone();
        edit(&mut m);
        manifest_rule_errors(&m, "chronom")
    };
    type Edit = Box<dyn Fn(&mut Value)>;
    const KREW: bool = true;
    const OURS: bool = false;
    let cases: Vec<(&str, bool, Edit)> = vec![
        (
            "apiVersion",
            KREW,
            Box::new(|m| m["apiVersion"] = json!("krew.googlecontainertools.github.com/v1alpha1")),
        ),
        ("kind", KREW, Box::new(|m| m["kind"] = json!("NotPlugin"))),
        (
            "named",
            KREW,
            Box::new(|m| m["metadata"]["name"] = json!("other")),
        ),
        (
            "version",
            KREW,
            Box::new(|m| m["spec"]["version"] = json!("0.1.0")),
        ),
        (
            "version",
            KREW,
            Box::new(|m| m["spec"]["version"] = json!("v01.02.3-a")),
        ),
        (
            "version",
            KREW,
            Box::new(|m| m["spec"]["version"] = json!("v1.2")),
        ),
        (
            "short description",
            KREW,
            Box::new(|m| m["spec"]["shortDescription"] = json!("")),
        ),
        (
            "one line",
            KREW,
            Box::new(|m| m["spec"]["shortDescription"] = json!("two\nlines")),
        ),
        (
            "longer than",
            OURS,
            Box::new(|m| m["spec"]["description"] = json!(format!("{} end", "word ".repeat(20)))),
        ),
        (
            "platform specified",
            KREW,
            Box::new(|m| m["spec"]["platforms"] = json!([])),
        ),
        (
            "sha256",
            KREW,
            Box::new(|m| m["spec"]["platforms"][0]["sha256"] = json!("A".repeat(64))),
        ),
        (
            "sha256",
            KREW,
            Box::new(|m| m["spec"]["platforms"][0]["sha256"] = json!("abc")),
        ),
        (
            "URI",
            KREW,
            Box::new(|m| m["spec"]["platforms"][0]["uri"] = json!("")),
        ),
        (
            "bin has to be set",
            KREW,
            Box::new(|m| m["spec"]["platforms"][0]["bin"] = json!("")),
        ),
        (
            "file operations",
            KREW,
            Box::new(|m| m["spec"]["platforms"][0]["files"] = json!([])),
        ),
        (
            "LICENSE",
            OURS,
            Box::new(|m| {
                m["spec"]["platforms"][1]["files"] = json!([{"from": "kubectl-chronom", "to": "."}])
            }),
        ),
        (
            "nil selector",
            KREW,
            Box::new(|m| m["spec"]["platforms"][0]["selector"] = Value::Null),
        ),
        (
            "\"distro\" not supported",
            KREW,
            Box::new(|m| {
                m["spec"]["platforms"][0]["selector"]["matchLabels"]["distro"] = json!("x")
            }),
        ),
        (
            "empty selector",
            KREW,
            Box::new(|m| m["spec"]["platforms"][0]["selector"]["matchLabels"] = json!({})),
        ),
        (
            "matchLabels only",
            KREW,
            Box::new(|m| m["spec"]["platforms"][0]["selector"]["matchExpressions"] = json!([])),
        ),
        (
            "supported platform",
            KREW,
            Box::new(|m| {
                m["spec"]["platforms"][0]["selector"]["matchLabels"]["os"] = json!("plan9")
            }),
        ),
        (
            "overlapping",
            KREW,
            Box::new(|m| {
                let first = m["spec"]["platforms"][0].clone();
                m["spec"]["platforms"].as_array_mut().unwrap().push(first);
            }),
        ),
        (
            "unknown field",
            OURS,
            Box::new(|m| m["spec"]["platforms"][0]["sha"] = json!("x")),
        ),
    ];
    let mut krew_rejected = 0;
    for (expected, krew_rule, edit) in cases {
        let errors = broken(&*edit);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "expected an error about {expected:?}, got {errors:?}"
        );
        let mut m = good.clone();
        edit(&mut m);
        match krew().rejection(&m, "chronom") {
            Some(_) if krew_rule => krew_rejected += 1,
            None if !krew_rule => {}
            Some(why) => panic!(
                "krew rejects the {expected:?} edit, which is marked as our contract only:\n{why}"
            ),
            None => panic!("krew accepts the {expected:?} edit, which the port says krew rejects"),
        }
    }
    assert!(
        krew_rejected >= 15,
        "krew rejected only {krew_rejected} edits"
    );
    assert!(!safe_plugin_name("../foo") && !safe_plugin_name("nul") && safe_plugin_name("foo-bar"));
    assert!(krew_semver_ok("v1.2.3-rc.1+build.5") && !krew_semver_ok("v1.2.3-01"));
}

// ---------------------------------------------------------------------------------------------
// scripts/release and the release workflow

#[test]
#[cfg(unix)]
fn release_manifest_fills_in_the_archives_sha256() {
    let dist = tempfile::tempdir().unwrap();
    // Known SHA-256 test vectors stand in for archives: "abc" and "" (FIPS 180-2).
    std::fs::write(
        dist.path()
            .join("kubectl-chronom_v9.8.7_linux_amd64.tar.gz"),
        "abc",
    )
    .unwrap();
    std::fs::write(
        dist.path().join("kubectl-chronom_v9.8.7_windows_amd64.zip"),
        "",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new("bash")
            .arg(Path::new(REPO).join("scripts/release"))
            .args(args)
            .env("DIST_DIR", dist.path())
            .env_remove("RELEASE_BASE_URL")
            .output()
            .unwrap()
    };

    let out = run(&["manifest", "9.8.7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PLACEHOLDER") && stderr.contains("linux/arm64 darwin/amd64 darwin/arm64"),
        "{stderr}"
    );

    let written = std::fs::read_to_string(dist.path().join("plugin.yaml")).unwrap();
    let manifest = parse_yaml(&dist.path().join("plugin.yaml"));
    krew().assert_accepts(&manifest, "chronom");
    assert_eq!(
        manifest_rule_errors(&manifest, "chronom"),
        Vec::<String>::new()
    );
    let spec = &manifest["spec"];
    assert_eq!(text(spec, "version"), "v9.8.7");
    let template = parse_yaml(&Path::new(REPO).join("plugin.yaml"));
    assert_eq!(spec["description"], template["spec"]["description"]);
    assert_eq!(
        text(platform(&manifest, "linux", "amd64"), "sha256"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        text(platform(&manifest, "windows", "amd64"), "sha256"),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    for (os, arch) in PLATFORMS {
        let p = platform(&manifest, os, arch);
        assert_eq!(
            text(p, "uri"),
            archive_uri(text(spec, "homepage"), "v9.8.7", os, arch)
        );
    }
    assert_eq!(
        text(platform(&manifest, "darwin", "arm64"), "sha256"),
        "0".repeat(64)
    );
    assert_eq!(written.matches("# PLACEHOLDER").count(), 3, "{written}");
    assert!(
        !written.contains("Template:"),
        "the template note is dropped: {written}"
    );

    let out = run(&["manifest", "--require-all", "v9.8.7"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no archive for linux/arm64"));

    let out = run(&["manifest", "v1.02.3"]);
    assert!(!out.status.success(), "krew would reject v1.02.3");
    let mut leading_zero = manifest.clone();
    leading_zero["spec"]["version"] = json!("v1.02.3");
    assert!(
        krew().rejection(&leading_zero, "chronom").is_some(),
        "krew does reject v1.02.3"
    );
}

#[test]
#[cfg(unix)]
fn release_pack_makes_the_archive_krew_installs() {
    let dist = tempfile::tempdir().unwrap();
    let fake_binary = dist.path().join("built");
    std::fs::write(&fake_binary, "#!/bin/sh\n").unwrap();
    let out = Command::new("bash")
        .arg(Path::new(REPO).join("scripts/release"))
        .args(["pack", "v0.1.0", "linux", "arm64"])
        .arg(&fake_binary)
        .env("DIST_DIR", dist.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = dist
        .path()
        .join("kubectl-chronom_v0.1.0_linux_arm64.tar.gz");
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["LICENSE", "kubectl-chronom", "kubectl_complete-chronom"]
    );
    // Every file the manifest installs for this platform is in the archive.
    let template = parse_yaml(&Path::new(REPO).join("plugin.yaml"));
    for f in platform(&template, "linux", "arm64")["files"]
        .as_array()
        .unwrap()
    {
        assert!(
            names.iter().any(|n| n == text(f, "from")),
            "{f} not in {names:?}"
        );
    }

    // krew itself installs it, offline, from the manifest the release script writes for it: the
    // install step of validate-krew-manifest, with the archive given locally.
    let out = Command::new("bash")
        .arg(Path::new(REPO).join("scripts/release"))
        .args(["manifest", "v0.1.0"])
        .env("DIST_DIR", dist.path())
        .env_remove("RELEASE_BASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = dist.path().join("krew-root");
    let out = Command::new(krew().bin.join("krew"))
        .arg("install")
        .arg(format!(
            "--manifest={}",
            dist.path().join("plugin.yaml").display()
        ))
        .arg(format!("--archive={}", archive.display()))
        .env("KREW_ROOT", &root)
        .env("KREW_OS", "linux")
        .env("KREW_ARCH", "arm64")
        .env("HOME", dist.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "krew install failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let store = root.join("store/chronom/v0.1.0");
    for installed in ["LICENSE", "kubectl-chronom", "kubectl_complete-chronom"] {
        assert!(
            store.join(installed).is_file(),
            "krew did not install {installed}"
        );
    }
    assert_eq!(
        std::fs::read(root.join("bin/kubectl-chronom")).unwrap(),
        b"#!/bin/sh\n",
        "krew links the plugin's bin onto its PATH"
    );
}

#[test]
fn release_workflow_builds_the_five_platforms_and_checks_the_manifest() {
    let workflow_path = Path::new(REPO).join(".github/workflows/release.yml");
    let workflow = parse_yaml(&workflow_path);
    let tags = &workflow["on"]["push"]["tags"];
    assert_eq!(tags, &json!(["v*"]));
    let include = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("matrix.include");
    let mut built: Vec<(String, String)> = include
        .iter()
        .map(|m| (text(m, "os").to_string(), text(m, "arch").to_string()))
        .collect();
    built.sort();
    let mut want: Vec<(String, String)> = PLATFORMS
        .iter()
        .map(|(o, a)| (o.to_string(), a.to_string()))
        .collect();
    want.sort();
    assert_eq!(built, want);
    let raw = std::fs::read_to_string(&workflow_path).unwrap();
    assert!(
        raw.contains("scripts/release manifest --require-all"),
        "the release refuses placeholder sha256"
    );
    assert!(raw.contains("scripts/release pack"));
}

// ---------------------------------------------------------------------------------------------
// The binary: version, help, completion scripts

/// The plugin binary, with no kubeconfig from the environment of whoever runs the tests.
fn chronom(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("KUBECONFIG")
        .env("HOME", home)
        .env("USERPROFILE", home);
    cmd
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

#[test]
fn version_shows_the_commit() {
    let home = tempfile::tempdir().unwrap();
    let version = stdout(&chronom(home.path()).arg("--version").output().unwrap());
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    // As a kubectl plugin names itself (docs/install.md: "kubectl chronom 0.1.0 (commit …)").
    assert!(
        version.starts_with(&format!("kubectl chronom {} ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let head = Command::new("git")
        .args(["-C", REPO, "rev-parse", "--short=7", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let expected = match (std::env::var("CHRONOM_GIT_COMMIT"), head) {
        (Ok(c), _) if !c.trim().is_empty() => c.trim().chars().take(7).collect(),
        (_, Some(head)) => head,
        _ => "unknown".to_string(),
    };
    assert!(
        version.contains(&format!("(commit {expected})")),
        "want commit {expected} in {version:?}"
    );
}

#[test]
fn help_speaks_of_kubectl_chronom_without_colour_when_piped() {
    let home = tempfile::tempdir().unwrap();
    for envs in [vec![("NO_COLOR", "1")], vec![]] {
        for args in [vec!["--help"], vec!["grant", "--help"]] {
            let mut cmd = chronom(home.path());
            cmd.env_remove("NO_COLOR")
                .env_remove("CLICOLOR_FORCE")
                .args(&args);
            for (k, v) in &envs {
                cmd.env(k, v);
            }
            let help = stdout(&cmd.output().unwrap());
            assert!(help.contains("kubectl chronom"), "{args:?}: {help}");
            assert!(
                !help.contains('\u{1b}'),
                "ANSI escape in {args:?} help with {envs:?}: {help:?}"
            );
        }
    }
    let grant = stdout(
        &chronom(home.path())
            .args(["grant", "--help"])
            .output()
            .unwrap(),
    );
    assert!(
        grant.contains("kubectl chronom grant --role-arn"),
        "examples use the kubectl form: {grant}"
    );
    // The global flags are listed apart from the command's own, as kubectl does.
    let (own, global) = grant
        .split_once("Global options:")
        .unwrap_or_else(|| panic!("no global options heading: {grant}"));
    assert!(
        own.contains("--role-arn") && !own.contains("--kubeconfig"),
        "{grant}"
    );
    assert!(
        global.contains("--kubeconfig") && global.contains("--request-timeout"),
        "{grant}"
    );
    // Examples are never wrapped in the middle of a command, whatever the terminal's width
    // (help is 100 columns when piped; clap reads COLUMNS): a long one is split with `\` where
    // a shell would take it.
    for (sub, cols, flag) in [
        "grant",
        "revoke",
        "audit",
        "audit who-can",
        "audit lookup",
        "restore-aws-auth",
        "token",
        "completion",
    ]
    .iter()
    .flat_map(|s| ["40", "100"].map(move |c| (*s, c)))
    .flat_map(|(s, c)| ["-h", "--help"].map(move |f| (s, c, f)))
    {
        let help = stdout(
            &chronom(home.path())
                .args(sub.split(' '))
                .arg(flag)
                .env("COLUMNS", cols)
                .output()
                .unwrap(),
        );
        let sub = format!("{sub} {flag} at {cols} columns");
        let examples = help.split("Examples:").nth(1).unwrap_or_default();
        let mut continued = false;
        for line in examples.lines() {
            let fine = line.is_empty()
                || line.starts_with("  #")
                || line.starts_with("  kubectl chronom ")
                || line.starts_with("  source <(")
                || (continued && line.starts_with("    "));
            assert!(
                fine,
                "{sub}: a wrapped example line {line:?} in:\n{examples}"
            );
            continued = line.ends_with('\\');
        }
    }
    // -h and --help open with the same summary.
    for args in [
        vec![],
        vec!["grant"],
        vec!["revoke"],
        vec!["audit"],
        vec!["audit", "who-can"],
        vec!["restore-aws-auth"],
        vec!["token"],
    ] {
        let first_line = |flag: &str| {
            let help = stdout(&chronom(home.path()).args(&args).arg(flag).output().unwrap());
            help.lines().next().unwrap_or_default().to_string()
        };
        assert_eq!(first_line("-h"), first_line("--help"), "{args:?}");
    }
    // token reads no kubeconfig: its help does not offer the flags that would do nothing there
    // (still accepted, like everywhere), while the commands that connect list them.
    assert!(
        grant.contains("--kubeconfig") && grant.contains("--context"),
        "{grant}"
    );
    let token = stdout(
        &chronom(home.path())
            .args(["token", "--help"])
            .output()
            .unwrap(),
    );
    assert!(
        !token.contains("--kubeconfig") && !token.contains("--context"),
        "{token}"
    );
}

#[test]
fn completion_scripts_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    // Every shell `completion` accepts is one the docs list (README, docs/install.md).
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
    let install = std::fs::read_to_string(Path::new(REPO).join("docs/install.md")).unwrap();
    let listed: Vec<&str> = readme
        .split("`kubectl chronom completion ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("README lists the completion shells")
        .split('|')
        .collect();
    for shell in <clap_complete::Shell as clap::ValueEnum>::value_variants() {
        let name = shell.to_string();
        assert!(
            listed.contains(&name.as_str()),
            "README's completion list {listed:?} lacks {name}"
        );
        assert!(
            install.contains(&format!("completion {name}")),
            "docs/install.md lacks {name}"
        );
    }
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout(
            &chronom(home.path())
                .args(["completion", shell])
                .output()
                .unwrap(),
        );
        assert!(script.len() > 200, "{shell}: {script}");
        assert!(
            script.contains("grant") && script.contains("revoke"),
            "{shell} script lacks subcommands"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The __complete protocol

/// `kubectl-chronom __complete WORDS...`: the candidate values and the directive.
fn complete(cmd: &mut Command, words: &[&str]) -> (Vec<String>, String) {
    let out = stdout(&cmd.arg("__complete").args(words).output().unwrap());
    let mut lines: Vec<&str> = out.lines().collect();
    let directive = lines.pop().unwrap_or_default().to_string();
    assert!(
        directive.starts_with(':') && directive[1..].parse::<u32>().is_ok(),
        "last line {directive:?} in {out:?}"
    );
    let values = lines
        .iter()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    (values, directive)
}

#[test]
fn complete_protocol_subcommands_flags_and_values() {
    let home = tempfile::tempdir().unwrap();
    let run = |words: &[&str]| complete(&mut chronom(home.path()), words);

    let (subs, directive) = run(&[""]);
    assert_eq!(directive, ":4", "no file names in place of subcommands");
    for s in ["grant", "revoke", "completion"] {
        assert!(subs.contains(&s.to_string()), "{subs:?}");
    }
    assert!(
        !subs.iter().any(|s| s.starts_with("__")),
        "hidden command offered: {subs:?}"
    );
    let out = stdout(
        &chronom(home.path())
            .args(["__complete", "re"])
            .output()
            .unwrap(),
    );
    assert!(
        out.starts_with("revoke\tRemove"),
        "candidate<TAB>description: {out:?}"
    );

    let (flags, _) = run(&["grant", "--"]);
    for f in [
        "--role-arn",
        "--dry-run",
        "--exclude-secrets",
        "--output",
        "--context",
        "--kubeconfig",
    ] {
        assert!(flags.contains(&f.to_string()), "{f} not in {flags:?}");
    }
    assert_eq!(run(&["revoke", "--dry-run", "--keep"]).0, ["--keep-rbac"]);
    assert_eq!(
        run(&["grant", "-o", ""]),
        (
            vec!["text".into(), "json".into(), "yaml".into()],
            ":4".into()
        )
    );
    assert_eq!(run(&["grant", "--output=j"]).0, ["--output=json"]);
    assert_eq!(
        run(&["grant", ""]).0,
        ["--role-arn"],
        "the missing required flag first"
    );
    assert_eq!(run(&["completion", "fi"]).0, ["fish"]);
    assert_eq!(
        run(&["grant", "--kubeconfig", ""]),
        (vec![], ":0".into()),
        "file names for --kubeconfig"
    );
    // Words that would not parse as a command line still complete.
    assert_eq!(run(&["--request-timeout", ""]), (vec![], ":4".into()));
    assert_eq!(run(&["--kubeconfig", ""]), (vec![], ":0".into()));
    assert_eq!(run(&["--he"]).0, ["--help"]);
}

const KUBECONFIG_A: &str = "apiVersion: v1
kind: Config
current-context: alpha
clusters:
- name: cluster-a
  cluster: {server: 'https://127.0.0.1:1'}
users:
- name: user-a
  user: {token: not-a-secret}
contexts:
- name: alpha
  context: {cluster: cluster-a, user: user-a}
- name: shared
  context: {cluster: cluster-a, user: user-a}
";

const KUBECONFIG_B: &str = "apiVersion: v1
kind: Config
clusters:
- name: cluster-b
  cluster: {server: 'https://127.0.0.1:2'}
contexts:
- name: beta
  context: {cluster: cluster-b, user: user-b}
- name: shared
  context: {cluster: cluster-b, user: user-b}
";

#[test]
fn context_completion_reads_the_kubeconfig() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, KUBECONFIG_A).unwrap();
    std::fs::write(&b, KUBECONFIG_B).unwrap();
    let missing = dir.path().join("missing.yaml");

    // KUBECONFIG with several files (one missing, as kubectl allows): all contexts, first wins.
    let list = std::env::join_paths([&a, &missing, &b]).unwrap();
    let mut cmd = chronom(home.path());
    cmd.env("KUBECONFIG", &list);
    let out = stdout(
        &cmd.args(["__complete", "grant", "--context", ""])
            .output()
            .unwrap(),
    );
    assert_eq!(
        out,
        "alpha\tcluster cluster-a (current)\nshared\tcluster cluster-a\nbeta\tcluster cluster-b\n:4\n"
    );

    // --kubeconfig on the line wins over KUBECONFIG, before or after the subcommand.
    for words in [
        vec![
            "--kubeconfig",
            b.to_str().unwrap(),
            "grant",
            "--context",
            "",
        ],
        vec![
            "revoke",
            &format!("--kubeconfig={}", b.display()),
            "--context=",
        ],
    ] {
        let mut cmd = chronom(home.path());
        cmd.env("KUBECONFIG", &a);
        let (values, directive) = complete(&mut cmd, &words);
        let values: Vec<String> = values
            .into_iter()
            .map(|v| v.trim_start_matches("--context=").to_string())
            .collect();
        assert_eq!(
            (values, directive),
            (
                vec!["beta".to_string(), "shared".to_string()],
                ":4".to_string()
            ),
            "{words:?}"
        );
    }

    // Prefix filtering, and a global flag before anything else.
    let mut cmd = chronom(home.path());
    cmd.env("KUBECONFIG", &list);
    assert_eq!(complete(&mut cmd, &["--context", "b"]).0, ["beta"]);

    // No KUBECONFIG: ~/.kube/config.
    std::fs::create_dir_all(home.path().join(".kube")).unwrap();
    std::fs::copy(&b, home.path().join(".kube/config")).unwrap();
    assert_eq!(
        complete(&mut chronom(home.path()), &["grant", "--context", ""]).0,
        ["beta", "shared"]
    );

    // An unreadable kubeconfig completes nothing, and prints nothing but the directive.
    let out = stdout(
        &chronom(home.path())
            .args([
                "__complete",
                "--kubeconfig",
                "/nonexistent",
                "--context",
                "",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(out, ":4\n");
}

/// kubectl built by scripts/control-plane (same version as the test server), else CHRONOM_KUBECTL,
/// else kubectl on PATH.
fn kubectl() -> PathBuf {
    if let Some(k) = std::env::var_os("CHRONOM_KUBECTL") {
        return PathBuf::from(k);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")));
    if let Some(cache) = cache {
        let mut built: Vec<PathBuf> = std::fs::read_dir(cache.join("kubectl-chronom/k8s"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|d| d.path().join("bin/kubectl"))
            .filter(|k| k.exists())
            .collect();
        built.sort();
        if let Some(k) = built.pop() {
            return k;
        }
    }
    PathBuf::from("kubectl")
}

#[test]
#[cfg(unix)]
fn kubectl_completes_the_plugin_through_kubectl_complete_chronom() {
    let home = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(BIN, bin.path().join("kubectl-chronom")).unwrap();
    std::os::unix::fs::symlink(
        Path::new(REPO).join("kubectl_complete-chronom"),
        bin.path().join("kubectl_complete-chronom"),
    )
    .unwrap();
    let path = std::env::join_paths(std::iter::once(bin.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, KUBECONFIG_A).unwrap();

    // The helper alone, as kubectl runs it: the words after `kubectl chronom`.
    let helper = Command::new(bin.path().join("kubectl_complete-chronom"))
        .args(["grant", "--dry"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let helper = stdout(&helper);
    assert!(
        helper.starts_with("--dry-run\tWrite nothing: print the aws-auth diff"),
        "{helper}"
    );
    assert_eq!(helper.lines().last(), Some(":4"), "{helper}");

    // And through kubectl's own completion (kubectl >= 1.26).
    let kubectl = kubectl();
    let run = |words: &[&str]| {
        let out = Command::new(&kubectl)
            .arg("__complete")
            .args(words)
            .env("PATH", &path)
            .env("HOME", home.path())
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (run scripts/control-plane build, or set CHRONOM_KUBECTL)",
                    kubectl.display()
                )
            });
        stdout(&out)
    };
    let out = run(&["chronom", "gr"]);
    assert!(
        out.lines().next().unwrap_or("").starts_with("grant\t"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some(":4"), "{out}");
    let out = run(&["chronom", "grant", "--context", ""]);
    assert!(
        out.lines().any(|l| l.starts_with("alpha\t"))
            && out.lines().any(|l| l.starts_with("shared\t")),
        "{out}"
    );
    let out = run(&["chronom", "revoke", "-o", "y"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["yaml", ":4"]);
}

/// The README's krew round-trip block (its Install section), between its ```sh fence and the
/// closing fence, found by its first command.
fn readme_round_trip() -> String {
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
    let install = readme
        .split("\n## Install\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an Install section");
    install
        .split("```sh\n")
        .filter_map(|b| b.split("```").next())
        .find(|b| b.starts_with("scripts/release pack "))
        .expect("the Install section shows the krew round trip")
        .to_string()
}

fn host_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

/// Issue 14: the krew round trip with the real binary, exactly as the README shows it.
/// `scripts/release` packs the host platform's archive from this build's binary and writes
/// dist/plugin.yaml with its sha256; in a fresh KREW_ROOT, `kubectl krew install` installs it
/// (krew built from its Go module, run as a kubectl plugin), kubectl finds `kubectl chronom`
/// through KREW_ROOT/bin, the completion helper linked there answers, and `kubectl krew
/// uninstall` takes it all away again.
#[test]
#[cfg(unix)]
fn krew_round_trip_as_the_readme_shows_it() {
    let block = readme_round_trip();
    for step in [
        "scripts/release pack v",
        "scripts/release manifest v",
        "kubectl krew install --manifest=dist/plugin.yaml --archive=dist/",
        "kubectl chronom --version",
        "kubectl_complete-chronom gr",
        "kubectl krew uninstall chronom",
    ] {
        assert!(
            block.contains(step),
            "the README block lacks {step:?}:\n{block}"
        );
    }
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    assert!(
        block.contains(&format!("scripts/release pack {version} ")),
        "the README packs this version ({version}):\n{block}"
    );
    let (os, arch) = host_platform();
    let script = block
        .replace("target/release/kubectl-chronom", BIN)
        .replace("linux amd64", &format!("{os} {arch}"))
        .replace("linux_amd64", &format!("{os}_{arch}"));

    // A source tree of links: scripts/release finds plugin.yaml, LICENSE and the helper beside
    // its own directory and writes dist/ there, never into this repository.
    let tree = tempfile::tempdir().unwrap();
    for f in [
        "scripts",
        "plugin.yaml",
        "LICENSE",
        "kubectl_complete-chronom",
    ] {
        std::os::unix::fs::symlink(Path::new(REPO).join(f), tree.path().join(f)).unwrap();
    }
    let krew_root = tree.path().join("krew-root");
    let tools = tree.path().join("tools");
    std::fs::create_dir(&tools).unwrap();
    std::os::unix::fs::symlink(kubectl(), tools.join("kubectl")).unwrap();
    std::os::unix::fs::symlink(krew().bin.join("krew"), tools.join("kubectl-krew")).unwrap();
    // PATH: krew's bin, kubectl and krew, then the system's tools, minus any directory with a
    // kubectl-chronom of its own (only krew's may answer).
    let system = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|d| {
            !d.join("kubectl-chronom").exists() && !d.join("kubectl_complete-chronom").exists()
        })
        .collect::<Vec<_>>();
    let path = std::env::join_paths(
        [krew_root.join("bin"), tools.clone()]
            .into_iter()
            .chain(system),
    )
    .unwrap();
    let home = tree.path().join("home");
    std::fs::create_dir(&home).unwrap();
    // A KREW_ROOT as a working krew has it: `kubectl krew update` has cloned the index, which
    // `krew uninstall` insists on (cmd/krew/cmd/root.go, checkIndex: KREW_ROOT/index/default/.git).
    // Offline, an empty git repository stands for that clone; install from a manifest and
    // uninstall read nothing from it.
    let index = krew_root.join("index/default");
    std::fs::create_dir_all(&index).unwrap();
    let git = Command::new("git")
        .args(["init", "-q"])
        .arg(&index)
        .output()
        .expect("git, to stand for krew's index");
    assert!(
        git.status.success(),
        "{}",
        String::from_utf8_lossy(&git.stderr)
    );
    let run = |script: &str| {
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(tree.path())
            .env("PATH", &path)
            .env("KREW_ROOT", &krew_root)
            .env("HOME", &home)
            .env_remove("KUBECONFIG")
            .env_remove("DIST_DIR")
            .env_remove("RELEASE_BASE_URL")
            .env_remove("KREW_OS")
            .env_remove("KREW_ARCH")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&script);
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the README block failed:\n{script}\n--- stdout\n{so}\n--- stderr\n{se}"
    );

    // The archive holds this build's binary, and the manifest its real sha256.
    let archive = tree
        .path()
        .join(format!("dist/kubectl-chronom_{version}_{os}_{arch}.tar.gz"));
    let manifest = parse_yaml(&tree.path().join("dist/plugin.yaml"));
    let sha = Command::new("sha256sum").arg(&archive).output().unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout);
    assert_eq!(
        text(platform(&manifest, os, arch), "sha256"),
        sha.split_whitespace().next().unwrap(),
        "dist/plugin.yaml has the archive's sha256"
    );
    assert!(
        se.contains("Installed plugin: chronom") || so.contains("Installed plugin: chronom"),
        "krew says it installed it:\n{so}\n{se}"
    );
    // `kubectl chronom --version`, through kubectl, found on KREW_ROOT/bin.
    assert!(
        so.lines()
            .any(|l| l.starts_with(&format!("kubectl chronom {}", env!("CARGO_PKG_VERSION")))),
        "{so}"
    );
    // The helper, linked into KREW_ROOT/bin as the README says, completes `gr` to grant.
    assert!(so.lines().any(|l| l.starts_with("grant\t")), "{so}");
    assert!(so.lines().any(|l| l == ":4"), "{so}");
    assert!(
        se.contains("Uninstalled plugin: chronom") || so.contains("Uninstalled plugin: chronom"),
        "krew says it uninstalled it:\n{so}\n{se}"
    );

    // Gone: the store, the receipt, the links, and kubectl no longer finds the plugin.
    assert!(!krew_root.join("store/chronom").exists());
    assert!(!krew_root.join("receipts/chronom.yaml").exists());
    for link in ["kubectl-chronom", "kubectl_complete-chronom"] {
        assert!(
            std::fs::symlink_metadata(krew_root.join("bin").join(link)).is_err(),
            "{link} is still in KREW_ROOT/bin"
        );
    }
    let after = run("kubectl chronom --version");
    assert!(
        !after.status.success(),
        "kubectl still runs a chronom plugin"
    );
}
