//! The report of a write flow (grant, revoke): who ran it and where, around what its plan
//! decided (`chronom_core::plan::report::PlannedReport`). The flows then mark what happened.

use crate::adapters::kube::Connection;
use chronom_core::outcome::Caller;
use chronom_core::outcome::WriteReport;
use chronom_core::plan::report::PlannedReport;

pub fn planned(
    command: &'static str,
    conn: &Connection,
    caller: Caller,
    dry_run: bool,
    planned: PlannedReport,
) -> WriteReport {
    WriteReport {
        command,
        dry_run,
        context: conn.context.clone(),
        caller,
        role_arn: planned.role_arn,
        cluster_role: planned.cluster_role,
        cluster_role_binding: planned.cluster_role_binding,
        aws_auth: planned.aws_auth,
        access_entry: None,
        diff: planned.diff,
        manifests: planned.manifests,
        verification: vec![],
        notes: planned.notes,
        ok: true,
        rollback: vec![],
    }
}
