//! The text form of a grant or revoke: one line per object, then the diff, then the
//! verification table.

use crate::action::Action;
use crate::outcome::{ObjectResult, WriteReport};

pub fn render(r: &WriteReport) -> String {
    let mut out = String::new();
    let suffix = if r.dry_run { " (dry run)" } else { "" };
    out.push_str(&format!("Role:    {}\n", r.role_arn.canonical));
    out.push_str(&format!(
        "Caller:  {} (context {})\n",
        r.caller.describe(),
        r.context
    ));
    for note in &r.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push('\n');
    out.push_str(&object_line(
        "clusterrole.rbac.authorization.k8s.io",
        &r.cluster_role,
        r.dry_run,
        suffix,
    ));
    out.push_str(&object_line(
        "clusterrolebinding.rbac.authorization.k8s.io",
        &r.cluster_role_binding,
        r.dry_run,
        suffix,
    ));
    if let Some(ae) = &r.access_entry {
        let e = &ae.entry;
        out.push_str(&format!(
            "accessentry {} (cluster {}) {}{suffix}: username {:?}, kubernetesGroups [{}]\n",
            ae.name,
            ae.cluster,
            verb(ae.action, r.dry_run),
            e.username,
            e.kubernetes_groups.join(", ")
        ));
    }
    out.push_str(&aws_auth_line(r, suffix));
    if let Some(b) = &r.aws_auth.backup {
        out.push_str(&format!("backup of aws-auth as read: {b}\n"));
    }
    if !r.diff.is_empty() {
        out.push('\n');
        out.push_str(&r.diff);
        if !r.diff.ends_with('\n') {
            out.push('\n');
        }
    }
    if r.dry_run && !r.manifests.is_empty() {
        out.push_str("\nManifests that would be applied (server-side apply, field manager kubectl-chronom):\n");
        for m in &r.manifests {
            out.push_str("---\n");
            out.push_str(m);
        }
    }
    if !r.verification.is_empty() {
        out.push_str(&verification_table(r));
    }
    out
}

/// The aws-auth line: what happened to the role's mapRoles entry (or why it was not used).
fn aws_auth_line(r: &WriteReport, suffix: &str) -> String {
    let entry = &r.aws_auth.entry;
    let detail = match (r.aws_auth.removed, &r.aws_auth.note) {
        (_, Some(note)) if r.access_entry.is_some() && r.aws_auth.action == Action::Unchanged => {
            note.clone()
        }
        (Some(n), _) => format!(
            "{n} mapRoles entr{} for {} removed",
            if n == 1 { "y" } else { "ies" },
            entry.rolearn
        ),
        (None, _) => format!(
            "rolearn {} -> username {:?}, groups [{}]",
            entry.rolearn,
            entry.username,
            entry.groups.join(", ")
        ),
    };
    format!(
        "configmap/{} -n {} {}{}: {}\n",
        r.aws_auth.name,
        r.aws_auth.namespace,
        verb(r.aws_auth.action, r.dry_run),
        suffix,
        detail
    )
}

/// The verification table: each SubjectAccessReview answer against what the grant must mean.
fn verification_table(r: &WriteReport) -> String {
    let mut out = format!(
        "\nVerification (SubjectAccessReview as user {:?}, group {:?}):\n",
        r.aws_auth.entry.username,
        r.aws_auth.entry.groups.first().cloned().unwrap_or_default()
    );
    let mut table = crate::report::table::plain_table(&[
        "VERB",
        "RESOURCE",
        "NAMESPACE",
        "ALLOWED",
        "EXPECTED",
        "RESULT",
    ]);
    for c in &r.verification {
        table.add_row([
            c.verb.clone(),
            c.resource.clone(),
            if c.namespace.is_empty() {
                "(all)".into()
            } else {
                c.namespace.clone()
            },
            yes_no(c.allowed).into(),
            yes_no(c.expected).into(),
            if c.ok() { "ok".into() } else { "WRONG".into() },
        ]);
    }
    out.push_str(&crate::report::table::table_text(&table));
    out
}

fn object_line(kind: &str, o: &ObjectResult, dry_run: bool, suffix: &str) -> String {
    let mut line = format!("{kind}/{} {}{suffix}", o.name, verb(o.action, dry_run));
    if let Some(p) = o.profile {
        line.push_str(&format!(" (profile {p})"));
    }
    if let Some(n) = &o.note {
        line.push_str(&format!(": {n}"));
    }
    line.push('\n');
    line
}

fn verb(a: Action, dry_run: bool) -> &'static str {
    if !dry_run {
        return a.word();
    }
    match a {
        Action::Created => "would be created",
        Action::Updated => "would be updated",
        Action::Deleted => "would be deleted",
        other => other.word(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
