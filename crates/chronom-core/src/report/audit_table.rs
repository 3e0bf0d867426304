//! Tables for `audit`, `audit who-can` and `audit lookup`, in kubectl's plain column style.

use std::collections::BTreeSet;

use crate::audit::answers::{LookupAnswer, WhoCanAnswer};
use crate::audit::report::{AuditReport, Verification};
use crate::report::table::{plain_table as table, table_text as lines};

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

/// The audit as tables: mappings, the access they reach, findings, then the verification and
/// what could not be read.
pub fn render(r: &AuditReport, wide: bool) -> String {
    let mut out = String::new();
    if !r.complete {
        // First, so that nobody reads the tables below as the whole picture.
        out.push_str(&format!(
            "INCOMPLETE: {} source(s) could not be read; the mappings, access and findings below leave out what they hold (see INCOMPLETE at the end)\n\n",
            r.incomplete.len()
        ));
    }
    mappings_section(r, &mut out);
    oidc_section(r, &mut out);
    pods_to_iam_section(r, &mut out);
    access_section(r, wide, &mut out);
    findings_section(r, wide, &mut out);
    if let Some(v) = &r.verification {
        verification_section(v, &mut out);
    }
    other_accounts_section(r, &mut out);
    if !r.complete {
        out.push_str("\nINCOMPLETE (sources the audit could not read)\n");
        out.push_str(&unread_table(&r.incomplete));
    }
    out
}

/// The mapped principals IAM could not be asked about because they belong to another account:
/// not a gap in the audit (see `principals::evaluate`), but not a clean bill of health either.
fn other_accounts_section(r: &AuditReport, out: &mut String) {
    use crate::audit::principals::NotChecked;
    let others: Vec<_> = r
        .principals
        .iter()
        .flatten()
        .filter(|p| p.reason == Some(NotChecked::OtherAccount))
        .collect();
    if others.is_empty() {
        return;
    }
    out.push_str(&format!(
        "\nPRINCIPALS NOT CHECKED ({}: another account's IAM; audit with that account's credentials to check them)\n",
        others.len()
    ));
    for p in others {
        out.push_str(&format!("  {}\n", p.arn));
    }
}

/// MAPPINGS: every mapping with its source, access and state.
fn mappings_section(r: &AuditReport, out: &mut String) {
    let aws_auth_unread = r
        .incomplete
        .iter()
        .any(|u| u.source == crate::audit::completeness::source::AWS_AUTH);
    out.push_str(&format!(
        "MAPPINGS ({}: aws-auth{})\n",
        r.source,
        match (r.aws_auth_present, aws_auth_unread) {
            (true, _) => "",
            (false, true) => " unreadable",
            (false, false) => " absent",
        }
    ));
    let mut t = table(&[
        "SOURCE",
        "PRINCIPAL",
        "USERNAME",
        "GROUPS",
        "ACCESS",
        "STATE",
    ]);
    for m in &r.mappings {
        let state = match m.mapping.shadowed_by_line {
            Some(l) => format!("shadowed by line {l}"),
            None => m.mapping.state.to_string(),
        };
        t.add_row(vec![
            m.mapping.source.as_str().to_string(),
            m.mapping.principal.clone(),
            dash(&m.mapping.username),
            dash(&m.mapping.groups.join(",")),
            m.access.clone(),
            state,
        ]);
    }
    if r.mappings.is_empty() {
        out.push_str("  (none)\n");
    } else {
        out.push_str(&lines(&t));
    }
}

/// OIDC IDENTITY PROVIDERS: the EKS cluster's other way in, and what a token becomes.
fn oidc_section(r: &AuditReport, out: &mut String) {
    let Some(eks) = &r.eks else { return };
    if eks.identity_providers.is_empty() {
        return;
    }
    out.push_str("\nOIDC IDENTITY PROVIDERS (tokens become these usernames and groups)\n");
    let mut t = table(&[
        "NAME",
        "ISSUER",
        "CLIENT ID",
        "USERNAMES",
        "GROUPS",
        "REQUIRED CLAIMS",
        "STATUS",
    ]);
    for p in &eks.identity_providers {
        let required: Vec<String> = p
            .required_claims
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        t.add_row(vec![
            p.name.clone(),
            p.issuer_url.clone(),
            p.client_id.clone(),
            p.username_form(),
            p.groups_form(),
            dash(&required.join(",")),
            dash(p.status.as_deref().unwrap_or_default()),
        ]);
    }
    out.push_str(&lines(&t));
}

/// IAM ROLES FROM PODS: the way out of the cluster, and who can take it.
fn pods_to_iam_section(r: &AuditReport, out: &mut String) {
    let Some(eks) = &r.eks else { return };
    if eks.iam_roles_from_pods.is_empty() {
        return;
    }
    out.push_str("\nIAM ROLES FROM PODS (a pod running as the service account gets the role)\n");
    let mut t = table(&[
        "SERVICE ACCOUNT",
        "IAM ROLE",
        "VIA",
        "REACHABLE BY (mapped principals that can run such a pod)",
    ]);
    for role in &eks.iam_roles_from_pods {
        let via = match role.via {
            crate::eks::pod_roles::RoleLink::PodIdentity => "pod-identity",
            crate::eks::pod_roles::RoleLink::Irsa => "irsa",
        };
        let missing = if role.service_account_exists {
            ""
        } else {
            " (missing)"
        };
        let who: Vec<String> = role
            .reachable_by
            .iter()
            .map(|p| format!("{} ({})", p.principal, p.by))
            .collect();
        t.add_row(vec![
            format!("{}/{}{missing}", role.namespace, role.service_account),
            match &role.target_role_arn {
                Some(t) => format!("{} -> {t}", role.role_arn),
                None => role.role_arn.clone(),
            },
            via.into(),
            dash(&who.join(", ")),
        ]);
    }
    out.push_str(&lines(&t));
}

/// ACCESS: the bindings of each subject an active mapping reaches, once each.
fn access_section(r: &AuditReport, wide: bool, out: &mut String) {
    out.push_str(
        "\nACCESS (bindings per subject; each mapping above holds those of its user and groups)\n",
    );
    let mut header = vec!["SUBJECT", "SCOPE", "ROLE", "BINDING"];
    if wide {
        header.push("RULES");
    }
    let mut t = table(&header);
    let mut any = false;
    // Each subject once, however many mappings reach it; only subjects of active mappings.
    let reached: BTreeSet<&str> = r
        .mappings
        .iter()
        .filter(|m| m.mapping.active)
        .flat_map(|m| m.binding_subjects.iter().map(String::as_str))
        .collect();
    for subject in reached {
        for b in r.subjects.get(subject).into_iter().flatten() {
            // Every authenticated user holds the API server's defaults; they say nothing about this identity.
            if subject == "Group/system:authenticated"
                && b.binding.starts_with("ClusterRoleBinding/system:")
            {
                continue;
            }
            any = true;
            let mut row = vec![
                subject.to_string(),
                b.scope.clone(),
                b.role.clone(),
                b.binding.clone(),
            ];
            if !b.role_exists {
                row[2].push_str(" (missing)");
            }
            if wide {
                row.push(
                    r.roles
                        .get(&b.role)
                        .map(|rules| rules.join("\n"))
                        .unwrap_or_default(),
                );
            }
            t.add_row(row);
        }
    }
    if any {
        out.push_str(&lines(&t));
    } else {
        out.push_str("  (no bindings beyond the defaults every authenticated user has)\n");
    }
}

/// FINDINGS: worst first; wide adds the remediation.
fn findings_section(r: &AuditReport, wide: bool, out: &mut String) {
    out.push_str(&format!(
        "\nFINDINGS (critical {}, high {}, medium {}, low {})\n",
        r.counts.critical, r.counts.high, r.counts.medium, r.counts.low
    ));
    let mut header = vec!["SEVERITY", "RULE", "SUBJECT", "EVIDENCE"];
    if wide {
        header.push("REMEDIATION");
    }
    let mut t = table(&header);
    for f in &r.findings {
        let mut row = vec![
            format!("{:?}", f.severity).to_uppercase(),
            format!("{} {}", f.rule, f.name),
            f.subject.clone(),
            f.evidence.clone(),
        ];
        if wide {
            row.push(f.remediation.to_string());
        }
        t.add_row(row);
    }
    if r.findings.is_empty() {
        out.push_str("  (none)\n");
    } else {
        out.push_str(&lines(&t));
    }
}

/// VERIFICATION: how many answers were compared with the live authorizer, and the mismatches.
fn verification_section(v: &Verification, out: &mut String) {
    out.push_str(&format!(
        "\nVERIFICATION: {} SubjectAccessReview answers compared, {} mismatches\n",
        v.queries,
        v.mismatches.len()
    ));
    if !v.mismatches.is_empty() {
        let mut t = table(&["PRINCIPAL", "USER", "REQUEST", "OURS", "SERVER"]);
        for m in &v.mismatches {
            t.add_row(vec![
                m.principal.clone(),
                m.user.clone(),
                m.request.clone(),
                m.ours.to_string(),
                m.server.to_string(),
            ]);
        }
        out.push_str(&lines(&t));
    }
}

/// The sources an audit could not read, one row each.
pub fn unread_table(unread: &[crate::audit::completeness::UnreadSource]) -> String {
    let mut t = table(&["SOURCE", "REASON"]);
    for u in unread {
        t.add_row(vec![u.source.clone(), u.reason.clone()]);
    }
    lines(&t)
}

/// A principal with its IAM mark, in capitals so it stands out in a column of ARNs.
fn marked(principal: &str, mark: Option<&str>) -> String {
    match mark {
        Some(m) => format!("{principal} [{}]", m.to_uppercase()),
        None => principal.to_string(),
    }
}

pub fn who_can(rows: &[WhoCanAnswer]) -> String {
    let mut t = table(&["PRINCIPAL", "SUBJECT", "VIA", "SCOPE"]);
    for r in rows {
        let principals = if r.principals.is_empty() {
            "-".to_string()
        } else {
            r.principals
                .iter()
                .map(|p| marked(p, r.principal_marks.get(p).copied()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        t.add_row(vec![
            principals,
            r.subject.clone(),
            r.via.clone(),
            r.scope.clone(),
        ]);
    }
    lines(&t)
}

pub fn lookup(rows: &[LookupAnswer], wide: bool) -> String {
    let mut header = vec!["PRINCIPAL", "SUBJECT", "SCOPE", "ROLE", "BINDING"];
    if wide {
        header.push("RULES");
    }
    let mut t = table(&header);
    for r in rows {
        let mut row = vec![
            r.principal
                .as_deref()
                .map_or_else(|| "-".into(), |p| marked(p, r.principal_mark)),
            r.subject.clone(),
            r.scope.clone(),
            r.role.clone(),
            r.binding.clone(),
        ];
        if wide {
            row.push(r.rules.join("\n"));
        }
        t.add_row(row);
    }
    lines(&t)
}
