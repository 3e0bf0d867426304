//! `restore-aws-auth FILE`: put back a ConfigMap saved before a grant or revoke.
//!
//! Shows the diff of every data key, asks unless `--yes`, backs up what is live now, and
//! writes with the resourceVersion it showed the diff against: if aws-auth changes in the
//! meantime, the write is refused rather than overwriting what the user did not see.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read, Write};

use k8s_openapi::api::core::v1::ConfigMap;

use crate::adapters::kube as connect;
use crate::adapters::kube::aws_auth_writer::{self as writer, EditOutcome};
use crate::cli::{GlobalArgs, RestoreArgs};
use chronom_core::awsauth::{backup, unified_diff};
use chronom_core::error::UserError;

/// A backup file's ConfigMap: its data, and the uid of the object it was saved from.
pub(crate) struct Backup {
    data: BTreeMap<String, String>,
    uid: Option<String>,
}

/// Read a backup file: the ConfigMap aws-auth in kube-system, as YAML or JSON.
pub(crate) fn read_backup(path: &std::path::Path) -> Result<Backup, UserError> {
    let cannot = |e: std::io::Error| {
        UserError::usage(
            format!("cannot read {}: {e}", path.display()),
            "pass a backup file written by grant or revoke",
        )
    };
    // Bounded: a device or a huge file is refused after MAX_FILE_BYTES, not read to the end.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(backup::MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > backup::MAX_FILE_BYTES {
        return Err(UserError::usage(
            format!(
                "{} is larger than {} MiB, so it is no aws-auth backup: a ConfigMap holds at most 1 MiB of data",
                path.display(),
                backup::MAX_FILE_BYTES >> 20
            ),
            "pass a backup file written by grant or revoke",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        cannot(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))
    })?;
    let cm: ConfigMap = serde_saphyr::from_str(&text).map_err(|e| {
        UserError::usage(
            format!("{} is not a ConfigMap: {e}", path.display()),
            "pass a backup file written by grant or revoke",
        )
    })?;
    if cm.metadata.name.as_deref() != Some(writer::NAME)
        || cm
            .metadata
            .namespace
            .as_deref()
            .is_some_and(|n| n != writer::NAMESPACE)
    {
        return Err(UserError::usage(
            format!(
                "{} holds {:?}, not kube-system/aws-auth",
                path.display(),
                cm.metadata.name.unwrap_or_default()
            ),
            "pass a backup of aws-auth",
        ));
    }
    let data = cm.data.unwrap_or_default();
    backup::check_data(&data).map_err(|why| {
        UserError::usage(
            format!("{} cannot be restored: {why}", path.display()),
            "pass a backup file written by grant or revoke",
        )
    })?;
    Ok(Backup {
        data,
        uid: cm.metadata.uid,
    })
}

/// A diff of every data key, live against the backup.
pub(crate) fn data_diff(
    live: &BTreeMap<String, String>,
    backup: &BTreeMap<String, String>,
) -> String {
    let keys: std::collections::BTreeSet<&String> = live.keys().chain(backup.keys()).collect();
    let mut out = String::new();
    for k in keys {
        let a = live.get(k).map(String::as_str).unwrap_or("");
        let b = backup.get(k).map(String::as_str).unwrap_or("");
        if a != b || live.contains_key(k) != backup.contains_key(k) {
            out.push_str(&unified_diff(
                a,
                b,
                &format!("{k} (live)"),
                &format!("{k} (backup)"),
            ));
        }
    }
    out
}

pub(crate) async fn restore(global: &GlobalArgs, args: &RestoreArgs) -> Result<i32, UserError> {
    let Backup {
        data: saved,
        uid: saved_uid,
    } = read_backup(&args.file)?;
    let conn = connect::connect(global).await?;
    let live = writer::read(&conn).await?;
    let live_data = live
        .as_ref()
        .and_then(|c| c.data.clone())
        .unwrap_or_default();
    let diff = data_diff(&live_data, &saved);
    if diff.is_empty() {
        println!(
            "aws-auth already matches {}; nothing to restore",
            args.file.display()
        );
        return Ok(chronom_core::exit::EXIT_OK);
    }
    print!("{diff}");
    let check = backup::check_restore(
        live.as_ref()
            .map(|c| (&live_data, c.metadata.uid.as_deref())),
        &saved,
        saved_uid.as_deref(),
    );
    if let Some((saved_from, live_uid)) = &check.other_object
        && !args.allow_recreated
    {
        return Err(UserError::failed(
            format!(
                "{} was saved from another aws-auth (uid {saved_from}) than the one in the cluster now (uid {live_uid}): aws-auth was deleted and created again since, and restoring would overwrite what its new owner wrote; nothing was restored",
                args.file.display()
            ),
            "check the diff above, then re-run with --allow-recreated to restore it anyway",
        ));
    }
    if !check.lost.is_empty() {
        // On stderr, before the prompt: entries added since the backup are not in the diff's
        // context lines alone, and a restore silently dropping access is what this prevents.
        eprintln!(
            "warning: restoring drops {} mapping(s) that are in aws-auth now but not in the backup (added or changed since it was taken):",
            check.lost.len()
        );
        for m in &check.lost {
            eprintln!("  - {m}");
        }
    }
    if !args.yes && !confirm()? {
        eprintln!("not restored: nothing was changed");
        return Ok(1);
    }
    let shown_rv = live
        .as_ref()
        .and_then(|c| c.metadata.resource_version.clone());
    let done = writer::update(&conn, |_, cm| {
        if cm.and_then(|c| c.metadata.resource_version.clone()) != shown_rv {
            return Err(UserError::failed(
                "aws-auth changed after the diff was shown; nothing was restored",
                "re-run restore-aws-auth to see the new diff",
            ));
        }
        Ok(EditOutcome::ReplaceData(saved.clone()))
    })
    .await?;
    if let Some(b) = done.backup {
        println!(
            "backup of aws-auth as it was before the restore: {}",
            b.display()
        );
    }
    println!(
        "configmap/aws-auth -n kube-system restored from {}",
        args.file.display()
    );
    Ok(chronom_core::exit::EXIT_OK)
}

fn confirm() -> Result<bool, UserError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(UserError::usage(
            "restore needs confirmation, and standard input is not a terminal",
            "re-run with --yes to restore without asking",
        ));
    }
    eprint!("Restore aws-auth to this backup? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| {
        UserError::failed(format!("cannot read the answer: {e}"), "re-run with --yes")
    })?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
