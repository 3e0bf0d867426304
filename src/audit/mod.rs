//! `audit`: who maps to what through aws-auth, what they can really do, what is dangerous.

use crate::cli::{AuditArgs, GlobalArgs};

pub async fn run(_global: &GlobalArgs, _args: &AuditArgs) -> i32 {
    eprintln!("error: audit is being built in this change");
    1
}
