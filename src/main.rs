use std::process::ExitCode;

use clap::Parser;
use postkeeper::cli::{Cli, run_archive_command};

fn main() -> ExitCode {
    // `.env` first, so clap's env fallbacks see it.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Some(command) => run_archive_command(&cli.global, command),
        None => Err(anyhow::anyhow!("not yet")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
