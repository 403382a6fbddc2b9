use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use postkeeper::cli::{Cli, Command, run_archive_command};
use postkeeper::settings::{Settings, Sources};

const NO_TOKEN: &str = "TELOXIDE_TOKEN is not set.
Get a bot token from @BotFather (https://t.me/BotFather), then put TELOXIDE_TOKEN=... in .env
(.env.example lists every setting) or pass --token.
To try the bot without a token, chat with it in this terminal: postkeeper console";

/// The exit code of a bad setting (clap's, for a bad command line, is the same).
const BAD_SETTING: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every setting is checked before anything else happens: a bad one changes nothing.
    let settings = match Sources::from_process(cli.global.flags(), Path::new(".")).and_then(|s| Settings::resolve(&s)) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_SETTING);
        }
    };
    // Colours for a person at a terminal only: never into files, pipes or journald, nor
    // when NO_COLOR is set (no-color.org).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&settings.log_filter))
        .with_writer(std::io::stderr);
    if settings.log_json {
        logs.json().init();
    } else {
        logs.with_ansi(colour).init();
    }
    let result = match cli.command {
        None | Some(Command::Run) => with_token(&settings, |token, rt| {
            rt.block_on(postkeeper::bot::run(&settings, token)).map(|()| ExitCode::SUCCESS)
        }),
        Some(Command::Doctor) => with_token(&settings, |token, rt| {
            let healthy = rt.block_on(postkeeper::bot::doctor::run(&settings, token, &mut std::io::stdout()))?;
            Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }),
        Some(command) => run_archive_command(&settings, command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`postkeeper posts | head`): what it wanted
        // it has; nothing more to say.
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        // Only a new token helps: the same code as a bad setting.
        Err(e) if e.downcast_ref::<postkeeper::bot::TokenRefused>().is_some() => {
            eprintln!("error: {e}");
            ExitCode::from(BAD_SETTING)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether an error is a write to a pipe whose reader has gone.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Runs `f` with the token and a runtime, or explains where a token comes from.
fn with_token(
    settings: &Settings,
    f: impl FnOnce(&str, &tokio::runtime::Runtime) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    let token = match settings.bot_token() {
        Ok(Some(token)) => token,
        Ok(None) => {
            eprintln!("error: {NO_TOKEN}");
            return Ok(ExitCode::from(BAD_SETTING));
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(BAD_SETTING));
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    f(token.expose(), &runtime)
}
