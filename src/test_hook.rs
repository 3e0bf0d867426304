//! A pause point for fault-injection tests, off unless an environment variable names it.
//!
//! `CHRONOM_TEST_PAUSE_AFTER_RBAC=FILE`: after the RBAC objects are applied and before
//! aws-auth is written, create FILE and wait (up to ten minutes) until the test deletes
//! it. The test can kill and restart the API server in between.

use std::time::{Duration, Instant};

pub const PAUSE_AFTER_RBAC: &str = "CHRONOM_TEST_PAUSE_AFTER_RBAC";

pub fn pause_after_rbac() {
    let Some(marker) = std::env::var_os(PAUSE_AFTER_RBAC) else {
        return;
    };
    if std::fs::write(&marker, b"paused\n").is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while std::path::Path::new(&marker).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}
