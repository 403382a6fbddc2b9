use std::process::ExitCode;

use clap::Parser;
use postkeeper::cli::{Cli, Command, run_archive_command};

const NO_TOKEN: &str = "TELOXIDE_TOKEN is not set.
Get a bot token from @BotFather (https://t.me/BotFather), then put TELOXIDE_TOKEN=... in .env
(.env.example lists every setting) or pass --token.
To try the bot without a token, chat with it in this terminal: postkeeper console";

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
        None | Some(Command::Run) => run_bot(&cli),
        Some(command) => run_archive_command(&cli.global, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_bot(cli: &Cli) -> anyhow::Result<()> {
    let Some(token) = cli.global.token.as_ref().filter(|t| !t.expose().is_empty()) else {
        anyhow::bail!(NO_TOKEN);
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(postkeeper::bot::run(cli.global.config(), token.expose(), cli.global.api_url.as_deref()))
}
