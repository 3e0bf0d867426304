use chronom::cli::Command;
use chronom::{audit, completion, grant, report, restore, revoke};
use chronom_core::outcome::RunResult;
use chronom_core::report::format::Format;

fn main() {
    // `__complete` must answer before clap parses half-typed flags (see completion::intercept).
    if let Some(code) = chronom::completion::intercept() {
        std::process::exit(code);
    }
    let cli = chronom::cli::parse();
    init_logging(cli.global.verbose);
    let code = match &cli.command {
        Command::Completion { shell } => completion::print_script(*shell),
        Command::Complete { words } => completion::complete(&cli.global, words),
        command => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async {
                match command {
                    Command::Grant(args) => {
                        finish(&grant::run(&cli.global, args).await, args.output)
                    }
                    Command::Revoke(args) => {
                        finish(&revoke::run(&cli.global, args).await, args.output)
                    }
                    Command::Audit(args) => audit::run(&cli.global, args).await,
                    Command::RestoreAwsAuth(args) => restore::run(&cli.global, args).await,
                    Command::Token(args) => chronom::eks::token_cmd::run(&cli.global, args).await,
                    Command::Completion { .. } | Command::Complete { .. } => {
                        unreachable!("handled above")
                    }
                }
            })
        }
    };
    let requests = chronom::connect::API_REQUESTS.load(std::sync::atomic::Ordering::Relaxed);
    tracing::info!(api_requests = requests, "done");
    std::process::exit(code);
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
    if let Some(e) = &result.error {
        eprintln!("{e}");
    }
    // A run that worked but whose report could not be written did not fully work.
    match (result.exit_code(), unprinted) {
        (0, Some(code)) => code,
        (code, _) => code,
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Only our own crate gets the chosen level: the HTTP stack's trace logs carry headers.
    let filter =
        tracing_subscriber::EnvFilter::new(format!("warn,chronom={level},kubectl_chronom={level}"));
    let color = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(color)
        .init();
}
