//! An audit that cannot read something it needs is never silent and never passes by mistake
//! (docs/decisions.md, decision 8), against the real control plane:
//! - a caller that may read everything but RoleBindings gets a report that says
//!   `complete: false` and names `rolebindings` with the API server's reason; `--fail-on` exits
//!   3 on it even without a finding at the threshold, unless `--allow-incomplete`;
//! - an identity with no rights at all gets every source named, and a failed gate;
//! - who-can and lookup refuse to answer from a partial read (exit 1, naming the source) unless
//!   `--allow-incomplete`;
//! - an audit with full read access is `complete: true`.
//!
//! The restricted caller is a ServiceAccount with a token from the TokenRequest API: a real
//! bearer token whose every request goes through RBAC.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::ControlPlane;
use crate::support::cluster::auditor_with;

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

fn chronom(kubeconfig: &Path, context: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--context", context])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-chronom")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stderr\n{}\n--- stdout\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e}):\n{}", text(o)))
}

/// Everything the audit reads, except RoleBindings.
const ALL_BUT_ROLEBINDINGS: &str = "- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles, clusterrolebindings, roles], verbs: [get, list, watch]}
- {apiGroups: [''], resources: [configmaps], resourceNames: [aws-auth], verbs: [get]}
";

#[test]
fn a_caller_forbidden_to_list_rolebindings_gets_an_incomplete_report_and_a_failed_gate() {
    let cp = control_plane();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = auditor_with(cp, dir.path(), ALL_BUT_ROLEBINDINGS);

    // Without --fail-on: the report is printed, says what is missing, and the run fails (1).
    let o = chronom(&kubeconfig, "auditor", &["audit", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["schemaVersion"], 3);
    assert_eq!(r["complete"], false, "{r:#}");
    let incomplete = r["incomplete"].as_array().unwrap();
    assert_eq!(incomplete.len(), 1, "{incomplete:#?}");
    assert_eq!(incomplete[0]["source"], "rolebindings");
    let reason = incomplete[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("403") && reason.contains("cannot list resource \"rolebindings\""),
        "the API server's own reason: {reason}"
    );
    assert_eq!(r["awsAuthPresent"], true, "aws-auth was read");
    assert!(!r["mappings"].as_array().unwrap().is_empty(), "{r:#}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("error: the audit is INCOMPLETE")
            && err.contains("rolebindings: ")
            && err.contains("--allow-incomplete"),
        "{}",
        text(&o)
    );

    // --fail-on: exit 3 although no finding is at or above high (the next call proves it).
    let o = chronom(&kubeconfig, "auditor", &["audit", "--fail-on", "high"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.starts_with("INCOMPLETE: 1 source(s) could not be read")
            && table.contains("\nINCOMPLETE (sources the audit could not read)\n"),
        "{}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("but the audit is incomplete: --fail-on fails"),
        "{}",
        text(&o)
    );

    // Accepted explicitly: the gate looks at the findings alone, and still says what is missing.
    let o = chronom(
        &kubeconfig,
        "auditor",
        &[
            "audit",
            "--fail-on",
            "high",
            "--allow-incomplete",
            "-o",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["complete"], false);
    assert_eq!(r["counts"]["high"], 0, "{r:#}");
    assert_eq!(r["counts"]["critical"], 0, "{r:#}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("warning: the audit is INCOMPLETE"),
        "{}",
        text(&o)
    );
    let o = chronom(&kubeconfig, "auditor", &["audit", "--allow-incomplete"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // SARIF: a tool execution notification at level error, executionSuccessful false.
    let o = chronom(&kubeconfig, "auditor", &["audit", "-o", "sarif"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let sarif = json(&o);
    let inv = &sarif["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false, "{inv:#}");
    assert_eq!(inv["toolExecutionNotifications"][0]["level"], "error");
    assert_eq!(
        inv["toolExecutionNotifications"][0]["properties"]["source"],
        "rolebindings"
    );
}

#[test]
fn who_can_and_lookup_refuse_to_answer_from_a_partial_read() {
    let cp = control_plane();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = auditor_with(cp, dir.path(), ALL_BUT_ROLEBINDINGS);
    for args in [
        &["audit", "who-can", "get", "secrets", "-A"][..],
        &["audit", "who-can", "get", "secrets", "-n", "kube-system"][..],
        &["audit", "lookup", "system:masters"][..],
    ] {
        let o = chronom(&kubeconfig, "auditor", args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(o.stdout.is_empty(), "no answer: {args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("cannot answer: 1 source(s) could not be read")
                && err.contains("rolebindings: ")
                && err.contains("403")
                && err.contains("--allow-incomplete"),
            "{args:?}: {}",
            text(&o)
        );
        let mut allowed = args.to_vec();
        allowed.push("--allow-incomplete");
        let o = chronom(&kubeconfig, "auditor", &allowed);
        assert_eq!(o.status.code(), Some(0), "{allowed:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("warning: the answer is INCOMPLETE"),
            "{allowed:?}: {}",
            text(&o)
        );
    }
    // A cluster-scoped question reads no RoleBindings, so it is answered whole.
    let o = chronom(
        &kubeconfig,
        "auditor",
        &["audit", "who-can", "list", "nodes"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn an_identity_with_no_rights_gets_every_source_named_and_never_passes() {
    let cp = control_plane();
    let o = chronom(
        &cp.kubeconfig,
        "chronom-operator",
        &["audit", "--fail-on", "critical", "-o", "json"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["complete"], false);
    let mut sources: Vec<&str> = r["incomplete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["source"].as_str().unwrap())
        .collect();
    sources.sort();
    assert_eq!(
        sources,
        [
            "aws-auth",
            "clusterrolebindings",
            "clusterroles",
            "rolebindings",
            "roles"
        ]
    );
    assert_eq!(r["awsAuthPresent"], false);
    let table = chronom(&cp.kubeconfig, "chronom-operator", &["audit"]);
    assert_eq!(table.status.code(), Some(1), "{}", text(&table));
    assert!(
        String::from_utf8_lossy(&table.stdout).contains("aws-auth unreadable"),
        "{}",
        text(&table)
    );
}

#[test]
fn an_audit_that_reads_everything_is_complete() {
    let cp = control_plane();
    let o = chronom(&cp.kubeconfig, "chronom-admin", &["audit", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["schemaVersion"], 3);
    assert_eq!(r["complete"], true, "{r:#}");
    assert_eq!(r["incomplete"], serde_json::json!([]));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("INCOMPLETE"),
        "{}",
        text(&o)
    );
    let o = chronom(&cp.kubeconfig, "chronom-admin", &["audit", "-o", "sarif"]);
    assert_eq!(
        json(&o)["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
}
