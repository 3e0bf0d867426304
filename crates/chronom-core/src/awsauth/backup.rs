//! What a backup file given to `restore-aws-auth` may hold: at most what the API server lets a
//! ConfigMap hold, so a wrong path (`/dev/zero`, a disk image) is refused after a bounded read
//! instead of filling memory.

use std::collections::BTreeMap;

/// The API server refuses a ConfigMap whose keys and values together pass 1 MiB
/// (`ValidateConfigMap`, `core.MaxSecretSize`).
pub const MAX_DATA_BYTES: usize = 1 << 20;

/// The most of a backup file read: a 1 MiB ConfigMap as YAML, with its metadata and any
/// quoting and escaping the YAML writer adds, stays well under it.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// The size the API server counts: every key and value of `data`.
pub fn data_bytes(data: &BTreeMap<String, String>) -> usize {
    data.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Why `data` cannot be written back, if it cannot.
pub fn check_data(data: &BTreeMap<String, String>) -> Result<(), String> {
    let n = data_bytes(data);
    if n > MAX_DATA_BYTES {
        return Err(format!(
            "its data is {n} bytes, more than the {MAX_DATA_BYTES} (1 MiB) a ConfigMap may hold"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_keys_and_values_as_the_api_server_does() {
        let at = |n: usize| BTreeMap::from([("mapRoles".to_string(), "x".repeat(n - 8))]);
        assert_eq!(data_bytes(&at(MAX_DATA_BYTES)), MAX_DATA_BYTES);
        assert!(check_data(&at(MAX_DATA_BYTES)).is_ok());
        let err = check_data(&at(MAX_DATA_BYTES + 1)).unwrap_err();
        assert!(
            err.contains("1048577 bytes") && err.contains("1 MiB"),
            "{err}"
        );
        assert!(check_data(&BTreeMap::new()).is_ok());
    }
}
