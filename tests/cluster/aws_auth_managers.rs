//! grant on an aws-auth that Terraform or Pulumi also manages (issue 14), against the real
//! control plane: the ConfigMap carries the marks the tool leaves (a server-side apply by the
//! field manager `Terraform`, the label `app.kubernetes.io/managed-by: pulumi`), and grant names
//! the tool and prints the entry as that tool's source expects it, in the text and JSON reports.
//! The marks and the rendering are decided by `chronom_core::plan::managed_by` (unit and
//! snapshot tests there).

use std::sync::{Mutex, MutexGuard};

use crate::support::ControlPlane;
use crate::support::cluster::*;
use crate::support::names::names;

fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

static AWS_AUTH: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    AWS_AUTH.lock().unwrap_or_else(|p| p.into_inner())
}

/// `kubectl apply --server-side --field-manager <manager>` of aws-auth with the seed's mapRoles
/// and `labels`, as admin.
fn apply_as(cp: &ControlPlane, manager: &str, labels: &str) {
    use std::io::Write;
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\n  labels: {{{labels}}}\ndata:\n  mapRoles: |\n{}",
        NODE_ENTRY
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    let mut child = cp
        .kubectl("chronom-admin")
        .args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            manager,
            "-f",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kubectl apply: {}", text(&out));
}

#[test]
fn grant_names_terraform_and_prints_the_hcl_entry() {
    let _g = lock();
    let cp = control_plane();
    apply_as(cp, "Terraform", "");
    let managers: Vec<String> = get_aws_auth(cp)
        .unwrap()
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.manager)
        .collect();
    assert!(managers.iter().any(|m| m == "Terraform"), "{managers:?}");

    let n = names("terraform");
    let o = chronom(cp, "chronom-admin", &n.args("grant", &["-o", "json"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let notes = json(&o)["notes"].clone();
    let note = notes
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .find(|n| n.starts_with("aws-auth is also managed by Terraform (field manager Terraform)"))
        .unwrap_or_else(|| panic!("no Terraform note: {notes:#}"));
    for want in [
        "aws_auth_roles = [".to_string(),
        format!("rolearn  = \"{}\"", n.arn),
        format!("username = \"{}\"", n.user()),
        format!("groups   = [\"{}\"]", n.group),
    ] {
        assert!(note.contains(&want), "{want:?} missing: {note}");
    }
    assert!(
        map_roles(cp).contains(&n.arn),
        "grant still wrote its entry"
    );

    // The text report says the same, the block under its note line.
    let o = chronom(cp, "chronom-admin", &n.args("grant", &[]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("note: aws-auth is also managed by Terraform")
            && out.contains("\n    aws_auth_roles = [\n"),
        "{}",
        text(&o)
    );
    let o = chronom(cp, "chronom-admin", &n.args("revoke", &[]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn grant_names_pulumi_by_its_label_and_nothing_without_a_mark() {
    let _g = lock();
    let cp = control_plane();
    apply_as(
        cp,
        "pulumi-kubernetes-5a1b2c3d",
        "app.kubernetes.io/managed-by: pulumi",
    );
    let n = names("pulumi");
    let o = chronom(
        cp,
        "chronom-admin",
        &n.args("grant", &["-o", "json", "--dry-run"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let notes = json(&o)["notes"].to_string();
    assert!(
        notes.contains(
            "aws-auth is also managed by Pulumi (field manager pulumi-kubernetes-5a1b2c3d)"
        ) && notes.contains("roleMappings: ["),
        "{notes}"
    );
    assert!(
        !notes.contains("Terraform"),
        "one note per tool found: {notes}"
    );

    // A fresh aws-auth written by a plain client (no tool's marks): no note.
    set_aws_auth(cp, None);
    set_aws_auth(cp, data(NODE_ENTRY));
    let plain = chronom(
        cp,
        "chronom-admin",
        &n.args("grant", &["-o", "json", "--dry-run"]),
    );
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    let notes = json(&plain)["notes"].to_string();
    assert!(!notes.contains("also managed by"), "{notes}");
}
