//! `audit` on manifests (--from-file): fixed input, so table, JSON and SARIF are snapshots.

use std::io::Read;
use std::process::{Command, Output, Stdio};

fn chronom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .expect("run kubectl-chronom")
}

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/audit");

fn stdout(o: &Output) -> String {
    assert!(o.status.code().is_some(), "killed: {o:?}");
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn audit(extra: &[&str]) -> Output {
    let mut args = vec!["audit", "--from-file", FIXTURE];
    args.extend_from_slice(extra);
    chronom(&args)
}

#[test]
fn table_snapshot() {
    let o = audit(&[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    insta::assert_snapshot!("audit_table", stdout(&o));
}

#[test]
fn wide_adds_rules_and_remediation() {
    let o = audit(&["-o", "wide"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.contains("RULES") && out.contains("REMEDIATION"),
        "{out}"
    );
    assert!(out.contains("get,list,watch,delete *.*"), "{out}");
}

#[test]
fn json_snapshot_and_schema_keys() {
    let o = audit(&["-o", "json"]);
    let text = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in [
        "schemaVersion",
        "source",
        "complete",
        "incomplete",
        "mappings",
        "findings",
        "counts",
        "sectionErrors",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let f = &v["findings"][0];
    for key in ["rule", "severity", "subject", "evidence", "remediation"] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
    insta::assert_snapshot!("audit_json", text);
}

#[test]
fn yaml_carries_the_same_document() {
    let json: serde_json::Value = serde_json::from_slice(&audit(&["-o", "json"]).stdout).unwrap();
    let yaml: serde_json::Value = serde_saphyr::from_str(&stdout(&audit(&["-o", "yaml"]))).unwrap();
    assert_eq!(json, yaml);
}

/// The SARIF 2.1.0 JSON schema our output names in `$schema` (json.schemastore.org's
/// sarif-2.1.0.json, the draft-07 form of the OASIS schema). It comes from a registry package,
/// not from this repository: the `serde-sarif` crate (MIT, a pinned dev-dependency) ships it as
/// src/schema.json. `cargo metadata` says where cargo unpacked that crate.
fn sarif_schema() -> serde_json::Value {
    // Offline, cargo metadata can only resolve this platform's dependencies: ask for those.
    let rustc = std::path::Path::new(env!("CARGO")).with_file_name("rustc");
    let version = Command::new(&rustc)
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    let host = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host, "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "serde-sarif")
        .expect("serde-sarif is a dev-dependency")["manifest_path"]
        .as_str()
        .unwrap()
        .to_string();
    let path = std::path::Path::new(&manifest).with_file_name("src/schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // Make sure it is the schema we mean, not whatever a future serde-sarif ships.
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    schema
}

/// Every way `doc` breaks the SARIF 2.1.0 schema (empty when it is valid).
fn sarif_schema_errors(validator: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn sarif_validator() -> jsonschema::Validator {
    // The language patterns (run, toolComponent) have a lone `]`: a literal `]` in ECMA-262
    // regexes (Annex B), but the validator refuses the schema over it. Escaping it changes
    // nothing the pattern matches.
    const LONE_BRACKET: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    fn escape(v: &mut serde_json::Value, fixed: &mut usize) {
        match v {
            serde_json::Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if key == "pattern" && *child == LONE_BRACKET {
                        *child = r"^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\]?$".into();
                        *fixed += 1;
                    } else {
                        escape(child, fixed);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| escape(i, fixed)),
            _ => {}
        }
    }
    let mut schema = sarif_schema();
    let mut fixed = 0;
    escape(&mut schema, &mut fixed);
    assert_eq!(
        fixed, 2,
        "the schema's language patterns changed: revisit this fix-up"
    );
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

#[test]
fn sarif_snapshot_is_valid_2_1_0() {
    let o = audit(&["-o", "sarif"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = sarif_validator();
    assert_eq!(sarif_schema_errors(&validator, &v), Vec::<String>::new());
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= 10, "{} results", results.len());
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[idx]["id"], r["ruleId"],
            "ruleIndex must point at the rule"
        );
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
    }
    insta::assert_snapshot!("audit_sarif", text);
}

/// The schema check is not vacuous: the same output with one wrong field is rejected.
#[test]
fn the_sarif_schema_check_rejects_a_wrong_field() {
    let v: serde_json::Value = serde_json::from_str(&stdout(&audit(&["-o", "sarif"]))).unwrap();
    let validator = sarif_validator();
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 5] = [
        ("level outside the enum", |v| {
            v["runs"][0]["results"][0]["level"] = "critical".into()
        }),
        ("misspelt property", |v| {
            let r = v["runs"][0]["results"][0].as_object_mut().unwrap();
            let id = r.remove("ruleId").unwrap();
            r.insert("rule_id".into(), id);
        }),
        ("message without text", |v| {
            v["runs"][0]["results"][0]["message"] = serde_json::json!({})
        }),
        ("version", |v| v["version"] = "2.0.0".into()),
        ("ruleIndex below -1", |v| {
            v["runs"][0]["results"][0]["ruleIndex"] = (-2).into()
        }),
    ];
    for (what, edit) in edits {
        let mut broken = v.clone();
        edit(&mut broken);
        assert!(
            !sarif_schema_errors(&validator, &broken).is_empty(),
            "the schema accepted SARIF with a {what}"
        );
    }
}

#[test]
fn every_catalogue_rule_the_fixture_should_raise_is_raised() {
    let v: serde_json::Value = serde_json::from_slice(&audit(&["-o", "json"]).stdout).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for want in [
        "CHR001", "CHR002", "CHR003", "CHR004", "CHR005", "CHR006", "CHR007", "CHR008", "CHR009",
        "CHR012", "CHR013", "CHR014", "CHR015", "CHR016", "CHR017", "CHR018", "CHR019",
    ] {
        assert!(rules.contains(&want), "{want} not raised; got {rules:?}");
    }
}

#[test]
fn fail_on_exits_3_at_or_above_the_threshold() {
    assert_eq!(audit(&["--fail-on", "critical"]).status.code(), Some(3));
    assert_eq!(audit(&["--fail-on", "low"]).status.code(), Some(3));
    let clean = tempfile::tempdir().unwrap();
    std::fs::write(
        clean.path().join("rbac.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: harmless}\nrules: []\n",
    )
    .unwrap();
    let o = chronom(&[
        "audit",
        "--from-file",
        clean.path().to_str().unwrap(),
        "--fail-on",
        "low",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // One low finding (CHR013, a group no binding names): exit 3 at its severity, 0 above it.
    let low = tempfile::tempdir().unwrap();
    std::fs::write(
        low.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/lonely\n      username: lonely\n      groups: [nobody-binds-this]\n",
    )
    .unwrap();
    let dir = low.path().to_str().unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&chronom(&["audit", "--from-file", dir, "-o", "json"]).stdout)
            .unwrap();
    let found: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect();
    assert_eq!(found, [("CHR013", "low")]);
    for (threshold, code) in [("low", 3), ("medium", 0), ("high", 0), ("critical", 0)] {
        let o = chronom(&["audit", "--from-file", dir, "--fail-on", threshold]);
        assert_eq!(o.status.code(), Some(code), "--fail-on {threshold}");
    }
}

#[test]
fn unparseable_map_roles_is_critical_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/node\n      groups: [system:nodes\n",
    )
    .unwrap();
    let o = chronom(&[
        "audit",
        "--from-file",
        dir.path().to_str().unwrap(),
        "-o",
        "json",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "CHR011")
        .expect("CHR011");
    assert_eq!(f["severity"], "critical");
    assert!(f["evidence"].as_str().unwrap().starts_with("line "), "{f}");
}

/// The threshold is named as the user wrote it (`high`), not as a Rust enum (`High`).
#[test]
fn fail_on_names_the_threshold_as_given() {
    let o = audit(&["--fail-on", "high"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("at or above high (--fail-on)"), "{err}");
}

#[test]
fn verify_needs_a_live_cluster() {
    let o = audit(&["--verify"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--verify"));
}

/// A question the authorizer could never be asked is a usage error, not an answer of "nobody":
/// a verb kubectl auth can-i does not know, an object name with `/`, a resource type without
/// its group. Each says what to write instead, and names no option that does not exist.
#[test]
fn who_can_refuses_questions_no_request_could_ask() {
    for (verb, target, hint) in [
        ("fly", "pods", "use one of: get, list"),
        ("list", "/metrics", "use one of: get, put"),
        ("get", "pods/exec/extra/more", "RESOURCE/NAME/SUBRESOURCE"),
        ("get", "widgets", "widgets.GROUP"),
    ] {
        let o = chronom(&["audit", "who-can", verb, target, "--from-file", FIXTURE]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{verb} {target}: {err}");
        assert!(err.contains(hint), "{verb} {target}: {err}");
        assert!(o.stdout.is_empty(), "{verb} {target}: no answer");
        assert!(!err.contains("discovery data"), "no such option: {err}");
    }
}

fn who_can(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["audit", "who-can"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--from-file", FIXTURE, "-o", "json"]);
    let o = chronom(&all);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn subjects(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} @ {}",
                r["subject"].as_str().unwrap(),
                r["scope"].as_str().unwrap()
            )
        })
        .collect()
}

/// Issue 14: a node identity's rights come from the Node authorizer, not from RBAC; who-can
/// and lookup say so (the pure answers are tested in chronom_core::audit::answers).
#[test]
fn who_can_and_lookup_name_the_node_authorizer() {
    const NODE_ROLE: &str =
        "arn:aws:iam::111122223333:role/eksctl-demo-nodegroup-NodeInstanceRole-1ABCDEF";
    let v = who_can(&["get", "secrets", "-n", "apps"]);
    let node = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject"] == "Group/system:nodes")
        .unwrap_or_else(|| panic!("no node row: {v:#}"));
    assert_eq!(node["principals"], serde_json::json!([NODE_ROLE]));
    assert_eq!(
        node["via"],
        "Node authorizer (not RBAC): each node only the objects of the pods bound to it"
    );
    let v = who_can(&["get", "clusterroles"]);
    assert!(
        !subjects(&v).iter().any(|s| s.contains("system:nodes")),
        "{v:#}"
    );

    let o = chronom(&["audit", "lookup", NODE_ROLE, "--from-file", FIXTURE]);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("note: ") && err.contains("the Node authorizer (not RBAC) lets every node"),
        "{err}"
    );
    let o = chronom(&[
        "audit",
        "lookup",
        "arn:aws:iam::111122223333:role/chronom-scanner",
        "--from-file",
        FIXTURE,
    ]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("Node authorizer"));
}

#[test]
fn who_can_all_namespaces_includes_namespaced_bindings_with_principals() {
    let v = who_can(&["create", "pods/exec", "-A"]);
    let rows = subjects(&v);
    assert!(
        rows.contains(&"Group/deployers @ namespace/kube-system".to_string())
            || rows
                .iter()
                .any(|r| r.starts_with("Group/deployers") && r.contains("kube-system")),
        "{rows:?}"
    );
    let deployers = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject"] == "Group/deployers")
        .unwrap();
    let principals: Vec<&str> = deployers["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        principals,
        ["arn:aws:iam::111122223333:role/CI-Deployer"],
        "the shadowed entry must not be listed"
    );
}

/// Peer gap: nonResourceURLs with `*` are matched as prefixes, not exact strings.
#[test]
fn who_can_matches_non_resource_wildcards() {
    let rows = subjects(&who_can(&["get", "/logs/kube-apiserver.log"]));
    assert!(
        rows.iter().any(|r| r.starts_with("Group/auditors")),
        "{rows:?}"
    );
}

/// Peer gap: `*/scale` rules count for every resource's scale subresource.
#[test]
fn who_can_matches_star_subresource_rules() {
    let rows = subjects(&who_can(&[
        "update",
        "deployments.apps/scale",
        "-n",
        "apps",
    ]));
    assert!(
        rows.iter().any(|r| r.starts_with("Group/deployers")),
        "{rows:?}"
    );
    let rows = subjects(&who_can(&[
        "update",
        "deployments.apps/scale",
        "-n",
        "default",
    ]));
    assert!(
        !rows.iter().any(|r| r.starts_with("Group/deployers")),
        "the RoleBinding is in apps only: {rows:?}"
    );
}

/// Peer gap: a rule restricted to resourceNames is not a broad grant.
#[test]
fn who_can_respects_resource_names() {
    let broad = subjects(&who_can(&["get", "secrets", "-n", "default"]));
    assert!(
        !broad.iter().any(|r| r.starts_with("Group/auditors")),
        "{broad:?}"
    );
    let named = subjects(&who_can(&["get", "secrets/audit-token", "-n", "default"]));
    assert!(
        named.iter().any(|r| r.starts_with("Group/auditors")),
        "{named:?}"
    );
}

/// Peer gap: bind, escalate and impersonate are verbs like any other. system:masters is always
/// listed, so the test names the group that holds them through RBAC (ops, via cluster-admin's
/// `*`) and checks that no one else does.
#[test]
fn who_can_accepts_bind_escalate_impersonate() {
    for (verb, target, ns) in [
        ("bind", "clusterroles", "apps"),
        ("escalate", "clusterroles", "apps"),
        ("impersonate", "users", "apps"),
    ] {
        let mut rows = subjects(&who_can(&[verb, target, "-n", ns]));
        rows.sort();
        assert_eq!(
            rows,
            [
                "Group/ops @ cluster-wide",
                "Group/system:masters @ cluster-wide"
            ],
            "{verb} {target}"
        );
    }
    // Only through RBAC: the deployers in apps can create pods, but not bind.
    assert!(
        subjects(&who_can(&["create", "pods", "-n", "apps"]))
            .iter()
            .any(|r| r.starts_with("Group/deployers")),
        "the comparison above would see a namespaced grant"
    );
}

#[test]
fn lookup_follows_an_arn_through_aws_auth_into_rbac() {
    let o = chronom(&[
        "audit",
        "lookup",
        "arn:aws:sts::111122223333:assumed-role/CI-Deployer/build-42",
        "--from-file",
        FIXTURE,
        "-o",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let roles: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert!(
        roles.contains(&"ClusterRole/deployer") && roles.contains(&"ClusterRole/scaler"),
        "{roles:?}"
    );
    let o = chronom(&["audit", "lookup", "ops", "--from-file", FIXTURE]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("ClusterRole/cluster-admin"));
}

/// `NAMESPACE:NAME` is a service account: one with no binding gets an empty list and a note on
/// stderr (not an error), and the same lookup does find a service account that is bound.
#[test]
fn lookup_of_a_service_account_lists_exactly_its_bindings() {
    let lookup = |dir: &str, who: &str| {
        let o = chronom(&["audit", "lookup", who, "--from-file", dir, "-o", "json"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{who}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (rows, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (rows, note) = lookup(FIXTURE, "kube-system:nobody");
    assert_eq!(rows, serde_json::json!([]));
    assert!(
        note.contains("no binding applies to kube-system:nobody"),
        "{note}"
    );

    // The fixture plus a RoleBinding for kube-system:builder.
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(FIXTURE).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("builder.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: builders, namespace: kube-system}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: deployer}\nsubjects: [{kind: ServiceAccount, name: builder, namespace: kube-system}]\n",
    )
    .unwrap();
    let dir = dir.path().to_str().unwrap();
    let (rows, _) = lookup(dir, "kube-system:builder");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["subject"], "ServiceAccount/kube-system:builder");
    assert_eq!(rows[0]["scope"], "kube-system");
    assert_eq!(rows[0]["role"], "ClusterRole/deployer");
    assert_eq!(rows[0]["binding"], "RoleBinding/kube-system/builders");
    let (rows, _) = lookup(dir, "kube-system:nobody");
    assert_eq!(
        rows,
        serde_json::json!([]),
        "a neighbour's binding is not nobody's"
    );
}

/// An ARN no mapping names has no bindings: `-o json` and `-o yaml` print the empty list (a
/// script parses it as any other answer), the why goes to stderr, and the exit code is 0.
#[test]
fn lookup_of_an_unmapped_arn_prints_an_empty_list() {
    let arn = "arn:aws:iam::111122223333:role/nobody";
    for (format, want) in [("json", "[]\n"), ("yaml", "[]\n")] {
        let o = chronom(&["audit", "lookup", arn, "--from-file", FIXTURE, "-o", format]);
        assert_eq!(o.status.code(), Some(0), "{format}");
        assert_eq!(stdout(&o), want, "{format}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("is not mapped"),
            "{format}"
        );
    }
    let table = chronom(&["audit", "lookup", arn, "--from-file", FIXTURE]);
    assert_eq!(table.status.code(), Some(0));
    assert_eq!(
        stdout(&table),
        "",
        "the table says nothing; stderr says why"
    );
}

/// Schema 2 lists bindings per subject: a mapping's bindings are those of its `bindingSubjects`.
/// `audit lookup ARN` computes them per identity, as schema 1 did inside each mapping; both must
/// agree, rules included.
#[test]
fn a_mappings_subjects_give_back_what_lookup_finds_for_its_arn() {
    let report: serde_json::Value = serde_json::from_slice(&audit(&["-o", "json"]).stdout).unwrap();
    let mut checked = 0;
    for m in report["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["active"] == true && m["source"] != "aws-auth/mapAccounts")
    {
        let principal = m["principal"].as_str().unwrap();
        let o = chronom(&[
            "audit",
            "lookup",
            principal,
            "--from-file",
            FIXTURE,
            "-o",
            "json",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{principal}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut want: Vec<(String, String, String, serde_json::Value)> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["scope"].to_string(),
                    r["role"].to_string(),
                    r["binding"].to_string(),
                    r["rules"].clone(),
                )
            })
            .collect();
        let mut got: Vec<(String, String, String, serde_json::Value)> = m["bindingSubjects"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|k| {
                report["subjects"][k.as_str().unwrap()]
                    .as_array()
                    .unwrap()
                    .iter()
            })
            .map(|b| {
                let rules = report["roles"]
                    .get(b["role"].as_str().unwrap())
                    .cloned()
                    .unwrap_or(serde_json::json!([]));
                (
                    b["scope"].to_string(),
                    b["role"].to_string(),
                    b["binding"].to_string(),
                    rules,
                )
            })
            .collect();
        want.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
        got.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
        got.dedup();
        assert_eq!(got, want, "{principal}");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} mappings compared");
}

/// A manifest directory whose audit prints far more than a pipe holds.
fn big_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut roles = String::new();
    for i in 0..3000 {
        roles.push_str(&format!("    - rolearn: arn:aws:iam::111122223333:role/r{i}\n      username: r{i}\n      groups: [team-{}]\n", i % 7));
    }
    std::fs::write(
        dir.path().join("aws-auth.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: aws-auth, namespace: kube-system}}\ndata:\n  mapRoles: |\n{roles}"),
    )
    .unwrap();
    dir
}

/// `audit ... | head`: the reader leaves early. The plugin must stop quietly, not panic.
#[test]
fn a_reader_that_leaves_early_ends_the_output_quietly() {
    let dir = big_fixture();
    for format in ["json", "yaml", "table"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"))
            .args([
                "audit",
                "--from-file",
                dir.path().to_str().unwrap(),
                "-o",
                format,
            ])
            .env("NO_COLOR", "1")
            .env_remove("KUBECONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 100];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout); // the pipe's read end is now closed: further writes fail with EPIPE
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(0),
            "{format}: {status:?}, stderr: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.to_lowercase().contains("broken pipe"),
            "{format}: {stderr}"
        );
    }
    // The whole output is far larger than a pipe buffer, so the early close did cut it short.
    let full = audit_dir(dir.path(), "yaml");
    assert!(full.stdout.len() > 1 << 20, "{} bytes", full.stdout.len());
}

fn audit_dir(dir: &std::path::Path, format: &str) -> Output {
    chronom(&["audit", "--from-file", dir.to_str().unwrap(), "-o", format])
}

/// Issue 14: a binding to a username a mapping's template renders for some caller reaches that
/// mapping in every answer. For each template and bound username, `who-can` (which principals
/// reach the subject), `lookup` of the role (any session), `lookup` of named sessions, and the
/// findings (CHR005 for pods/exec) must say the same thing.
#[test]
fn templated_usernames_get_one_answer_from_who_can_lookup_and_findings() {
    const ROLE: &str = "arn:aws:iam::111122223333:role/dev";
    // (template, the username a RoleBinding gives pods/exec, reached by some session of the
    // role, [(a named session, reached by it)])
    type Case<'a> = (&'a str, &'a str, bool, &'a [(&'a str, bool)]);
    let cases: &[Case] = &[
        (
            "dev:{{SessionName}}",
            "dev:alice",
            true,
            &[("alice", true), ("bob", false)],
        ),
        // '@' renders as '-' in {{SessionName}}.
        (
            "dev:{{SessionName}}",
            "dev:alice-example.com",
            true,
            &[
                ("alice@example.com", true),
                ("alice-example.com", true),
                ("alice", false),
            ],
        ),
        (
            "dev:{{SessionNameRaw}}",
            "dev:alice@example.com",
            true,
            &[("alice@example.com", true), ("alice-example.com", false)],
        ),
        // {{AccountID}} is the mapped role's account, never another.
        (
            "acct-{{AccountID}}",
            "acct-111122223333",
            true,
            &[("alice", true)],
        ),
        (
            "acct-{{AccountID}}",
            "acct-444455556666",
            false,
            &[("alice", false)],
        ),
        // Rendered only for a session named after an EC2 instance ID.
        (
            "system:node:{{EC2PrivateDNSName}}",
            "system:node:ip-10-0-0-1.ec2.internal",
            true,
            &[("i-0123456789abcdef0", true), ("alice", false)],
        ),
        ("dev-literal", "dev-literal", true, &[("alice", true)]),
        ("dev-literal", "dev-literal2", false, &[("alice", false)]),
        // Only what the authenticator can render: session names are [\w+=,.@-]{2,64} ('@' as
        // '-' in {{SessionName}}, never ':'), access key IDs [\w]{16,128}, EC2 private DNS
        // names lowercase.
        (
            "dev:{{SessionName}}",
            "dev:alice:admin",
            false,
            &[("alice", false)],
        ),
        (
            "dev:{{SessionName}}",
            "dev:alice@example.com",
            false,
            &[("alice@example.com", false)],
        ),
        ("dev:{{SessionName}}", "dev:a", false, &[("alice", false)]),
        (
            "key-{{AccessKeyID}}",
            "key-ASIAEXAMPLEEXAMPLE1",
            true,
            &[("alice", true)],
        ),
        (
            "key-{{AccessKeyID}}",
            "key-ASIA",
            false,
            &[("alice", false)],
        ),
        (
            "system:node:{{EC2PrivateDNSName}}",
            "system:node:IP-10-0-0-1.EC2.INTERNAL",
            false,
            &[("i-0123456789abcdef0", false)],
        ),
        // No binding names anything the template renders.
        (
            "dev:{{SessionName}}",
            "someone-else",
            false,
            &[("alice", false)],
        ),
    ];
    for &(template, bound, reached, sessions) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("objects.yaml"),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: aws-auth, namespace: kube-system}}\ndata:\n  mapRoles: |\n    - rolearn: {ROLE}\n      username: \"{template}\"\n      groups: []\n\
                 ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: exec, namespace: apps}}\nrules: [{{apiGroups: [\"\"], resources: [pods/exec], verbs: [create]}}]\n\
                 ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: exec, namespace: apps}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: exec}}\nsubjects: [{{kind: User, name: \"{bound}\", apiGroup: rbac.authorization.k8s.io}}]\n"
            ),
        )
        .unwrap();
        let dir = dir.path().to_str().unwrap();
        let json = |args: &[&str]| -> serde_json::Value {
            let mut all = args.to_vec();
            all.extend_from_slice(&["--from-file", dir, "-o", "json"]);
            let o = chronom(&all);
            assert!(
                matches!(o.status.code(), Some(0 | 3)),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            serde_json::from_slice(&o.stdout).unwrap()
        };
        let case = format!("template {template:?}, binding to {bound:?}");

        let who_can = json(&["audit", "who-can", "create", "pods/exec", "-A"]);
        let who_can_reached = who_can.as_array().unwrap().iter().any(|r| {
            r["subject"] == format!("User/{bound}")
                && r["principals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == ROLE)
        });
        assert_eq!(who_can_reached, reached, "who-can: {case}: {who_can:#}");

        let through_binding = |rows: &serde_json::Value| {
            rows.as_array()
                .unwrap()
                .iter()
                .any(|r| r["binding"] == "RoleBinding/apps/exec")
        };
        let lookup = json(&["audit", "lookup", ROLE]);
        assert_eq!(
            through_binding(&lookup),
            reached,
            "lookup {ROLE}: {case}: {lookup:#}"
        );
        for &(session, want) in sessions {
            let arn = format!("arn:aws:sts::111122223333:assumed-role/dev/{session}");
            let lookup = json(&["audit", "lookup", &arn]);
            assert_eq!(
                through_binding(&lookup),
                want,
                "lookup {arn}: {case}: {lookup:#}"
            );
        }

        let report = json(&["audit"]);
        let finding = report["findings"].as_array().unwrap().iter().any(|f| {
            f["rule"] == "CHR005"
                && f["subject"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{ROLE} "))
        });
        assert_eq!(
            finding, reached,
            "findings: {case}: {:#}",
            report["findings"]
        );
        let subjects = report["mappings"][0]["bindingSubjects"].clone();
        assert_eq!(
            subjects
                .as_array()
                .unwrap()
                .iter()
                .any(|s| *s == format!("User/{bound}")),
            reached,
            "bindingSubjects: {case}: {subjects:#}"
        );
    }
}

/// `kubectl get clusterroles,clusterrolebindings,roles,rolebindings -A` at the 16x bench shape
/// (bench/seed's own objects, 15,000 of them, as one `kind: List`), beside the seed's aws-auth:
/// YAML (past the YAML parser's fixed default budget of 250,000 nodes, which refused it) and
/// JSON read from files give the same report.
#[test]
fn a_16x_dump_reads_the_same_as_yaml_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let seed = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/seed"))
        .args(["--scale", "16", "--dry-run"])
        .arg(dir.path().join("seed"))
        .output()
        .expect("run bench/seed (python3)");
    assert!(seed.status.success(), "{seed:?}");
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("seed"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut items = Vec::new();
    for kind in [
        "clusterroles",
        "clusterrolebindings",
        "roles",
        "rolebindings",
    ] {
        for f in files.iter().filter(|f| {
            let name = f.file_name().unwrap().to_str().unwrap();
            name.ends_with(&format!("-{kind}.json"))
        }) {
            let list: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
            for mut item in list["items"].as_array().unwrap().clone() {
                // What the API server adds and kubectl prints.
                let n = items.len();
                let meta = item["metadata"].as_object_mut().unwrap();
                meta.insert("resourceVersion".into(), (1000 + n).to_string().into());
                meta.insert(
                    "uid".into(),
                    format!("00000000-0000-0000-0000-{n:012}").into(),
                );
                items.push(item);
            }
        }
    }
    assert_eq!(items.len(), 15_000);
    let dump = serde_json::json!({
        "apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""},
    });
    let aws_auth = files
        .iter()
        .find(|f| f.ends_with("aws-auth.json"))
        .expect("the seed writes aws-auth");
    let mut reports = Vec::new();
    for (name, text) in [
        ("dump.json", serde_json::to_string_pretty(&dump).unwrap()),
        ("dump.yaml", serde_saphyr::to_string(&dump).unwrap()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let o = chronom(&[
            "audit",
            "--from-file",
            path.to_str().unwrap(),
            "--from-file",
            aws_auth.to_str().unwrap(),
            "-o",
            "json",
        ]);
        assert!(
            o.status.code().is_some_and(|c| c == 0 || c == 3),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        reports.push(stdout(&o));
    }
    let report: serde_json::Value = serde_json::from_str(&reports[0]).unwrap();
    assert!(
        report["mappings"].as_array().unwrap().len() >= 1_700,
        "the seed's aws-auth was read"
    );
    assert!(!report["findings"].as_array().unwrap().is_empty());
    assert!(
        reports[0] == reports[1],
        "the YAML dump's report differs from the JSON dump's"
    );
}
