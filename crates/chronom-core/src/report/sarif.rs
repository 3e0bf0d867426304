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
        .map(|f| {
            let index = CATALOGUE.iter().position(|rule| rule.id == f.rule).unwrap_or(0);
            let (uri, line) = location(&f.subject, &f.evidence).unwrap_or_else(|| ("cluster".to_string(), 1));
            json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": format!("{}: {}", f.subject, f.evidence) },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri }, "region": { "startLine": line } } }],
                "partialFingerprints": { "chronomFinding/v1": format!("{}|{}|{}", f.rule, f.subject, f.evidence) },
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
