//! The aws-auth oracle: aws-iam-authenticator v0.7.8's own ConfigMap mapper
//! (`configmap.ParseMap`), built from the Go module proxy by `scripts/oracle build` (wrapper
//! module: tests/oracle/aws-iam-authenticator). Include with
//! `#[path = "support/awsauth_oracle.rs"] mod awsauth_oracle;`.
//!
//! [`oracle`] runs one process for a whole batch of ConfigMaps; [`lenient`] gives chronom's
//! lenient reader's answer in the same shape, so a test compares the two with `==`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// ConfigMap data: mapRoles, mapUsers, mapAccounts (an absent key is absent).
pub type Data = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sso {
    #[serde(rename = "permissionSetName")]
    pub permission_set_name: String,
    #[serde(rename = "accountID")]
    pub account_id: String,
    pub partition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub rolearn: String,
    pub sso: Option<Sso>,
    pub username: String,
    pub groups: Vec<String>,
    pub userid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub userarn: String,
    pub username: String,
    pub groups: Vec<String>,
    pub userid: String,
}

/// What the authenticator puts in effect: `ParseMap`'s lists, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InEffect {
    pub roles: Vec<Role>,
    pub users: Vec<User>,
    pub accounts: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct OracleAnswer {
    roles: Vec<Role>,
    users: Vec<User>,
    accounts: Vec<String>,
    error: String,
}

/// The oracle binary, built (or found in the cache) once per test process. A missing Go
/// toolchain or a failed build fails the test: an oracle that silently is not there would
/// make the comparison pass by comparing nothing.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/oracle");
        let started = std::time::Instant::now();
        let out = Command::new(&script)
            .arg("build")
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/oracle build failed ({}); the aws-auth oracle needs Go 1.25+ and the Go module proxy",
            out.status
        );
        let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        eprintln!(
            "aws-auth oracle: {} (ready in {:.1}s)",
            path.display(),
            started.elapsed().as_secs_f64()
        );
        path
    })
}

/// The authenticator's reading of each ConfigMap, with `ParseMap`'s error text ("" if none).
pub fn oracle_with_errors(batch: &[Data]) -> Vec<(InEffect, String)> {
    let mut child = Command::new(binary())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the aws-auth oracle");
    let input = serde_json::to_vec(batch).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("run the aws-auth oracle");
    writer
        .join()
        .unwrap()
        .expect("write to the aws-auth oracle");
    assert!(
        out.status.success(),
        "the aws-auth oracle failed: {}",
        out.status
    );
    let answers: Vec<OracleAnswer> =
        serde_json::from_slice(&out.stdout).expect("the oracle prints a JSON array");
    assert_eq!(answers.len(), batch.len(), "one oracle answer per document");
    answers
        .into_iter()
        .map(|a| {
            (
                InEffect {
                    roles: a.roles,
                    users: a.users,
                    accounts: a.accounts,
                },
                a.error,
            )
        })
        .collect()
}

/// The authenticator's reading of each ConfigMap.
pub fn oracle(batch: &[Data]) -> Vec<InEffect> {
    oracle_with_errors(batch)
        .into_iter()
        .map(|(e, _)| e)
        .collect()
}

/// chronom's lenient reader, in the oracle's shape: the entries it says are in effect (not
/// rejected), in order.
pub fn lenient(data: &Data) -> InEffect {
    let text = |k: &str| data.get(k).map(String::as_str).unwrap_or("");
    let roles = chronom_core::awsauth::read_map_roles(text("mapRoles"))
        .entries
        .into_iter()
        .filter(|e| !e.is_dropped())
        .map(|e| Role {
            rolearn: e.rolearn,
            sso: e.sso.map(|s| Sso {
                permission_set_name: s.permission_set_name,
                account_id: s.account_id,
                partition: s.partition,
            }),
            username: e.username.unwrap_or_default(),
            groups: e.groups,
            userid: e.userid.unwrap_or_default(),
        })
        .collect();
    let users = chronom_core::awsauth::read_map_users(text("mapUsers"))
        .entries
        .into_iter()
        .filter(|e| !e.is_dropped())
        .map(|e| User {
            userarn: e.userarn,
            username: e.username.unwrap_or_default(),
            groups: e.groups,
            userid: e.userid.unwrap_or_default(),
        })
        .collect();
    let accounts = chronom_core::awsauth::read_map_accounts(text("mapAccounts"))
        .entries
        .into_iter()
        .filter(|a| !a.notes.iter().any(|n| n.drops_entry()))
        .map(|a| a.account)
        .collect();
    InEffect {
        roles,
        users,
        accounts,
    }
}

/// One ConfigMap with only mapRoles.
pub fn roles_only(text: &str) -> Data {
    BTreeMap::from([("mapRoles".to_string(), text.to_string())])
}
