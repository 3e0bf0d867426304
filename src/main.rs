//! Parse, dispatch, exit: everything else is in the `chronom` library (`commands` first).

fn main() {
    // `__complete` must answer before clap parses half-typed flags (see completion::intercept).
    if let Some(code) = chronom::cli::completion::intercept() {
        std::process::exit(code);
    }
    let cli = chronom::cli::parse();
    init_logging(cli.global.verbose);
    std::process::exit(chronom::commands::run(&cli));
}

fn init_logging(verbose: u8) {
    let filter = tracing_subscriber::EnvFilter::new(chronom::cli::log_filter(verbose));
    let color = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(color)
        .init();
}
