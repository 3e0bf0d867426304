//! Issue 12 item 6 on the real control plane: an aws-auth whose mapRoles hides a
//! system:masters mapping behind YAML aws-iam-authenticator accepts but the strict editor
//! refuses (an anchor and alias, a tab after a colon, a merge key). Before the lenient reader
//! the audit reported the whole section as unparseable (CHR011), listed none of its mappings,
//! and `audit lookup` said the ARN was not mapped. Now the audit lists the mapping, raises
//! CHR001 for it and CHR029 for the section, and lookup finds it.

use crate::support::ControlPlane;
use crate::support::cluster::{chronom, data, json, set_aws_auth, text};

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

const NODE: &str = "arn:aws:iam::111122223333:role/eksctl-demo-nodegroup-NodeInstanceRole-1ABCDEF";

fn backdoors() -> Vec<(&'static str, String, String)> {
    let alias = "arn:aws:iam::111122223333:role/alias-backdoor";
    let tab = "arn:aws:iam::111122223333:role/tab-backdoor";
    let merge = "arn:aws:iam::111122223333:role/merge-backdoor";
    vec![
        (
            "an anchor and an alias",
            alias.to_string(),
            format!(
                "- rolearn: {NODE}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n  groups: &admins\n    - system:masters\n- rolearn: {alias}\n  username: helper\n  groups: *admins\n"
            ),
        ),
        (
            "a tab after a colon",
            tab.to_string(),
            format!(
                "- rolearn: {NODE}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n  groups:\n    - system:nodes\n- rolearn:\t{tab}\n  username:\thelper\n  groups:\t[system:masters]\n"
            ),
        ),
        (
            "a merge key",
            merge.to_string(),
            format!(
                "- &base\n  rolearn: {NODE}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n  groups: [system:masters]\n- <<: *base\n  rolearn: {merge}\n"
            ),
        ),
    ]
}

#[test]
fn audit_and_lookup_see_masters_hidden_behind_yaml_the_editor_refuses() {
    let original = set_aws_auth(control_plane(), None);
    for (how, arn, map_roles) in backdoors() {
        set_aws_auth(control_plane(), data(&map_roles));

        let out = chronom(control_plane(), "chronom-admin", &["audit", "-o", "json"]);
        let report = json(&out);
        let mapping = report["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["principal"] == arn.as_str())
            .unwrap_or_else(|| panic!("{how}: the audit does not list {arn}:\n{}", text(&out)));
        assert_eq!(
            mapping["groups"],
            serde_json::json!(["system:masters"]),
            "{how}"
        );
        assert_eq!(mapping["active"], true, "{how}");
        let findings = report["findings"].as_array().unwrap();
        let has = |rule: &str, subject: &str| {
            findings.iter().any(|f| {
                f["rule"] == rule && f["subject"].as_str().unwrap_or("").starts_with(subject)
            })
        };
        assert!(
            has("CHR001", &format!("{arn} ")),
            "{how}: no CHR001 for {arn}:\n{}",
            text(&out)
        );
        assert!(
            has("CHR029", "aws-auth/mapRoles"),
            "{how}: no CHR029:\n{}",
            text(&out)
        );
        assert!(
            !has("CHR011", "aws-auth/mapRoles"),
            "{how}: the section is readable:\n{}",
            text(&out)
        );
        assert!(
            report["sectionErrors"].as_array().unwrap().is_empty(),
            "{how}: {}",
            text(&out)
        );

        let out = chronom(
            control_plane(),
            "chronom-admin",
            &["audit", "lookup", &arn, "-o", "json"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("is not mapped"),
            "{how}: lookup misses {arn}:\n{}",
            text(&out)
        );
        let rows = json(&out);
        let rows = rows.as_array().expect("lookup -o json prints a list");
        assert!(
            rows.iter().any(|r| r.to_string().contains("cluster-admin")),
            "{how}: lookup of {arn} does not reach cluster-admin through system:masters:\n{}",
            text(&out)
        );
    }
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
}
