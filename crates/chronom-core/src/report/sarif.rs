//! SARIF 2.1.0 for code-scanning UIs: one rule per catalogue entry (stable ids), one result
//! per finding, located at the aws-auth line when the finding has one.

use serde_json::{Value, json};

use crate::audit::findings::CATALOGUE;
use crate::audit::findings::Severity;
use crate::audit::report::AuditReport;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning reads `security-severity` (0.1-10) to rank alerts.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.5",
    }
}

/// `... (mapRoles line 7)` in a subject gives a location in the aws-auth section.
fn location(subject: &str, evidence: &str) -> Option<(String, u64)> {
    let (section, rest) = ["mapRoles", "mapUsers", "mapAccounts"]
        .iter()
        .find_map(|s| {
            subject
                .find(&format!("({s} line "))
                .map(|i| (*s, &subject[i..]))
        })?;
    let line: u64 = rest
        .trim_start_matches(&format!("({section} line "))
        .trim_end_matches(')')
        .parse()
        .ok()?;
    let _ = evidence;
    Some((format!("aws-auth/{section}"), line))
}

/// SARIF 2.1.0 Appendix I ("Detecting incomplete result sets"): a consumer treats a run whose
/// invocation has `executionSuccessful: false`, or a tool execution notification at level
/// `error`, as possibly incomplete. Each source the audit could not read is one such
/// notification, so code-scanning UIs do not show a partial audit as a clean one.
fn invocation(r: &AuditReport) -> Value {
    let notifications: Vec<Value> = r
        .incomplete
        .iter()
        .map(|u| {
            json!({
                "level": "error",
                "message": { "text": format!("could not read {}: {}", u.source, u.reason) },
                "properties": { "source": u.source }
            })
        })
        .collect();
    json!({
        "executionSuccessful": r.complete,
        "toolExecutionNotifications": notifications,
        "properties": { "complete": r.complete }
    })
}

/// The subject with its aws-auth location taken out: `ARN (mapRoles line 7)` becomes
/// `ARN (mapRoles)`. The line moves whenever an entry above it is added or removed, and
/// code-scanning UIs would then close the alert and open a new one for the same problem.
fn subject_without_line(subject: &str) -> String {
    for section in ["mapRoles", "mapUsers", "mapAccounts"] {
        let open = format!("({section} line ");
        if let Some(i) = subject.find(&open) {
            let rest = &subject[i + open.len()..];
            if let Some(close) = rest.find(')')
                && !rest[..close].is_empty()
                && rest[..close].bytes().all(|b| b.is_ascii_digit())
            {
                return format!("{}({section}){}", &subject[..i], &rest[close + 1..]);
            }
        }
    }
    subject.to_string()
}

/// `partialFingerprints` for each finding: what the finding is about (rule and subject,
/// without line numbers and without the evidence, which changes as bindings come and go),
/// and, when one run has several findings with the same rule and subject (an entry with
/// two malformed fields, two entries for one ARN), their order among them.
fn fingerprints(r: &AuditReport) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    r.findings
        .iter()
        .map(|f| {
            let identity = format!("{}|{}", f.rule, subject_without_line(&f.subject));
            let n = seen.entry(identity.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                identity
            } else {
                format!("{identity}|{n}")
            }
        })
        .collect()
}

pub fn render(r: &AuditReport) -> String {
    let rules: Vec<Value> = CATALOGUE
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "name": rule.name,
                "shortDescription": { "text": rule.title },
                "help": { "text": rule.remediation },
                "defaultConfiguration": { "level": level(rule.severity) },
                "properties": { "security-severity": security_severity(rule.severity), "tags": ["security", "kubernetes", "eks"] }
            })
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .zip(fingerprints(r))
        .map(|(f, fingerprint)| {
            let index = CATALOGUE.iter().position(|rule| rule.id == f.rule).unwrap_or(0);
            let (uri, line) = location(&f.subject, &f.evidence).unwrap_or_else(|| ("cluster".to_string(), 1));
            json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": format!("{}: {}", f.subject, f.evidence) },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri }, "region": { "startLine": line } } }],
                "partialFingerprints": { "chronomFinding/v1": fingerprint },
                "properties": { "severity": format!("{:?}", f.severity).to_lowercase() }
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "kubectl-chronom",
                "informationUri": "https://github.com/chronom/kubectl-chronom",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "automationDetails": { "id": format!("kubectl-chronom/audit/{}", r.source) },
            "invocations": [invocation(r)],
            "results": results
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("sarif serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::manifests::ClusterState;
    use crate::audit::report::{build, snapshot_of};
    use crate::rbac::RuleSource;

    const RBAC: &str = include_str!("../../../../tests/fixtures/audit/rbac.yaml");
    const AWS_AUTH: &str = include_str!("../../../../tests/fixtures/audit/aws-auth.yaml");

    fn sarif_of(aws_auth: &str) -> Value {
        let mut s = ClusterState::default();
        s.add_text("rbac.yaml", RBAC).unwrap();
        s.add_text("aws-auth.yaml", aws_auth).unwrap();
        let r = build("t", &s, &snapshot_of(&s, RuleSource::AsStored));
        serde_json::from_str(&render(&r)).unwrap()
    }

    fn results(v: &Value) -> Vec<(String, u64, String)> {
        v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap().to_string(),
                    r["locations"][0]["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .unwrap(),
                    r["partialFingerprints"]["chronomFinding/v1"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn an_entry_added_above_moves_the_lines_but_no_fingerprint() {
        let before = results(&sarif_of(AWS_AUTH));
        // A harmless entry at the top of mapRoles and of mapUsers: every line below moves.
        let shifted = AWS_AUTH
            .replacen(
                "  mapRoles: |\n",
                "  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/new-viewer\n      username: new-viewer\n      groups:\n        - viewers\n",
                1,
            )
            .replacen(
                "  mapUsers: |\n",
                "  mapUsers: |\n    - userarn: arn:aws:iam::111122223333:user/new\n      username: new\n",
                1,
            );
        let after = results(&sarif_of(&shifted));
        assert!(before.len() > 5, "the fixture has findings: {before:?}");
        let moved = before
            .iter()
            .filter(|b| after.iter().any(|a| a.2 == b.2 && a.1 != b.1))
            .count();
        assert!(moved > 3, "the edit moved lines: {before:?} -> {after:?}");
        // The added entries bring findings of their own; every old one keeps its fingerprint.
        let fps = |rs: &[(String, u64, String)]| {
            let mut v: Vec<String> = rs
                .iter()
                .map(|r| r.2.clone())
                .filter(|f| !f.contains("new-viewer") && !f.contains("user/new "))
                .collect();
            v.sort();
            v
        };
        assert_eq!(fps(&before), fps(&after));
        for (_, line, fp) in &before {
            assert!(!fp.contains(&format!("line {line}")), "{fp}");
        }
    }

    #[test]
    fn fingerprints_are_unique_in_a_run() {
        // Two entries for one ARN: same rule and subject but for the line.
        let twice = AWS_AUTH.replacen(
            "  mapUsers: |\n",
            "    - rolearn: arn:aws:iam::111122223333:role/auditors\n      username: auditor2\n      groups:\n        - system:masters\n    - rolearn: arn:aws:iam::111122223333:role/auditors\n      username: auditor3\n      groups:\n        - system:masters\n  mapUsers: |\n",
            1,
        );
        let rs = results(&sarif_of(&twice));
        let mut fps: Vec<&String> = rs.iter().map(|r| &r.2).collect();
        let n = fps.len();
        fps.sort();
        fps.dedup();
        assert_eq!(fps.len(), n, "{rs:?}");
        assert!(
            rs.iter().any(|r| r.2.ends_with("|2")),
            "the repeated subject is numbered: {rs:?}"
        );
    }

    #[test]
    fn rules_carry_what_github_code_scanning_reads() {
        let v = sarif_of(AWS_AUTH);
        for rule in v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap() {
            let p = &rule["properties"];
            let score: f64 = p["security-severity"].as_str().unwrap().parse().unwrap();
            assert!((0.1..=10.0).contains(&score), "{rule}");
            assert!(
                p["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == "security"),
                "GitHub reads security-severity only on rules tagged security: {rule}"
            );
        }
    }

    #[test]
    fn the_line_comes_out_of_the_subject_only() {
        assert_eq!(
            subject_without_line("arn:aws:iam::1:role/a (mapRoles line 17)"),
            "arn:aws:iam::1:role/a (mapRoles)"
        );
        assert_eq!(
            subject_without_line("aws-auth/mapRoles"),
            "aws-auth/mapRoles"
        );
        assert_eq!(
            subject_without_line("x (mapUsers line seven)"),
            "x (mapUsers line seven)"
        );
    }
}
