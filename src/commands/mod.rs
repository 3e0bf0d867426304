//! The command boundary: runs the flow a command names, prints its result (stdout) and its
//! error (stderr), and maps both to one exit code from [`chronom_core::exit`].

use chronom_core::exit::EXIT_OK;

use crate::cli::{Cli, Command};
use crate::flows::{audit, fleet, grant, restore, revoke};
use crate::report;
use chronom_core::error::UserError;
use chronom_core::outcome::{RollbackOutcome, RunResult};
use chronom_core::report::format::Format;

/// Run the parsed command line; the exit code is the process's.
pub fn run(cli: &Cli) -> i32 {
    let code = match &cli.command {
        Command::Completion { shell } => crate::cli::completion::print_script(*shell),
        Command::Complete { words } => crate::cli::completion::complete(&cli.global, words),
        command => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(run_async(cli, command))
        }
    };
    let requests = crate::adapters::kube::API_REQUESTS.load(std::sync::atomic::Ordering::Relaxed);
    tracing::info!(api_requests = requests, "done");
    code
}

async fn run_async(cli: &Cli, command: &Command) -> i32 {
    let global = &cli.global;
    match command {
        Command::Grant(args) => finish(&grant::run(global, args).await, args.output),
        Command::Revoke(args) => finish(&revoke::run(global, args).await, args.output),
        Command::Audit(args) if args.query.is_none() && args.all_clusters => {
            let fleet = match audit::check_verify_source(args) {
                Ok(()) => fleet::run(global, args).await,
                Err(e) => Err(e),
            };
            exit_code(fleet)
        }
        Command::Audit(args) => exit_code(audit::run(global, args).await),
        Command::RestoreAwsAuth(args) => exit_code(restore::restore(global, args).await),
        Command::Token(args) => exit_code(
            crate::flows::token::exec_credential(global, args)
                .await
                .map(|json| {
                    // stdout carries only the ExecCredential JSON.
                    println!("{json}");
                    EXIT_OK
                }),
        ),
        Command::Completion { .. } | Command::Complete { .. } => unreachable!("handled by run"),
    }
}

/// A flow that printed its own result: print its error, if any, and return its code.
fn exit_code(result: Result<i32, UserError>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code
        }
    }
}

/// Print the report (stdout) and the error (stderr); return the exit code.
fn finish(result: &RunResult, format: Format) -> i32 {
    let mut unprinted = None;
    if let Some(r) = &result.report {
        let printed = match format {
            Format::Json | Format::Yaml => report::print_structured(format, r),
            _ => report::print_text(&chronom_core::report::write_text::render(r)),
        };
        if let Err(e) = printed {
            eprintln!("{e}");
            unprinted = Some(e.exit_code);
        }
    }
    // What a rollback kept or could not undo is in the report (`rollback`), and on stderr
    // in every format, next to the error, where a person reads it.
    for step in result.report.iter().flat_map(|r| &r.rollback) {
        let level = match step.outcome {
            RollbackOutcome::Done => continue,
            RollbackOutcome::Kept => "note",
            RollbackOutcome::LeftInPlace | RollbackOutcome::Failed => "warning",
        };
        if let Some(reason) = &step.reason {
            eprintln!("{level}: {reason}");
        }
    }
    if let Some(e) = &result.error {
        eprintln!("{e}");
    }
    // A run that worked but whose report could not be written did not fully work.
    match (result.exit_code(), unprinted) {
        (EXIT_OK, Some(code)) => code,
        (code, _) => code,
    }
}
