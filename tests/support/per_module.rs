//! One value per test module, for what each test module owned when it was its own test binary
//! (a control plane, a moto server): the modules of one target now share a process and run
//! concurrently on the harness's threads, and tests that assume they own their cluster's
//! aws-auth or RBAC take turns only with the tests of their own module.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// Values by test module, each made on first use and kept until the process exits.
pub struct PerModule<T: 'static> {
    slots: Mutex<BTreeMap<String, &'static OnceLock<T>>>,
}

impl<T: Send + Sync + 'static> PerModule<T> {
    pub const fn new() -> Self {
        Self {
            slots: Mutex::new(BTreeMap::new()),
        }
    }

    /// The value of the test module `module_path` (as `module_path!()` gives it) is in, made by
    /// `init(test module)` on first use. The map is locked only to find the module's slot, so
    /// modules make theirs in parallel while the tests of one module wait for its first one.
    pub fn get_or_init(&self, module_path: &str, init: impl FnOnce(&str) -> T) -> &'static T {
        let module = test_module(module_path);
        let slot: &'static OnceLock<T> = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(module.to_string())
            .or_insert_with(|| Box::leak(Box::new(OnceLock::new())));
        slot.get_or_init(|| init(module))
    }
}

/// `cluster::grant_revoke` for `cluster::grant_revoke::inner`: the target and the test module,
/// so that a module nested in a test module shares its value.
fn test_module(module_path: &str) -> &str {
    match module_path.match_indices("::").nth(1) {
        Some((end, _)) => &module_path[..end],
        None => module_path,
    }
}
