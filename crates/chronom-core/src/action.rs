//! What a write did to one object, or, with `--dry-run`, would do: the word every report
//! (text, JSON) and every plan uses for it. Its own module because the plans, the EKS model and
//! the report schema all speak it and none of them owns it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    Deleted,
    /// Not there, and nothing to do.
    Absent,
    /// There, and deliberately left in place (`--keep-rbac`, still in use, or not ours).
    Kept,
    /// Created by this run, then deleted again because a later step failed.
    RolledBack,
    /// A write was needed but did not happen (a later step failed first, or it was refused).
    Failed,
}

impl Action {
    pub fn word(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Absent => "absent",
            Action::Kept => "kept",
            Action::RolledBack => "rolled back",
            Action::Failed => "failed",
        }
    }
}
