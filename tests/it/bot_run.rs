//! `postkeeper run` as a process: start-up checks, the command menu,
//! SIGTERM, and the token kept out of the logs.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::wait::eventually;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_postkeeper"));
    for var in [
        "TELOXIDE_TOKEN",
        "TELOXIDE_API_URL",
        "POSTKEEPER_DB",
        "POSTKEEPER_SOURCE_CHAT",
        "POSTKEEPER_REPLAY_CHAT",
        "POSTKEEPER_ADMINS",
    ] {
        c.env_remove(var);
    }
    c
}

#[test]
fn a_missing_token_is_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin().current_dir(dir.path()).arg("run").output().expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TELOXIDE_TOKEN")
            && err.contains("@BotFather")
            && err.contains(".env.example")
            && err.contains("postkeeper console"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn runs_against_the_api_url_and_stops_on_sigterm() {
    let tg = fake_bot_api::FakeTelegram::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = bin()
        .current_dir(dir.path())
        .env("TELOXIDE_TOKEN", fake_bot_api::TOKEN)
        .env("TELOXIDE_API_URL", tg.url())
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // A message while running (taken by the first long poll), then SIGTERM.
    tg.push_update(fake_bot_api::updates::text(7, 7, None, "/random"));
    tg.wait_for_calls("sendMessage", 1, Duration::from_secs(20)).await;
    assert!(tg.my_commands(None).iter().any(|(c, _)| c == "search"), "commands registered");
    assert!(tg.my_commands(Some("en")).iter().any(|(c, _)| c == "search"));
    assert!(dir.path().join("postkeeper.db").exists(), "the default store was created");

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
    let mut status = None;
    eventually(
        Duration::from_secs(5),
        || "the bot stopping after SIGTERM",
        || {
            status = child.try_wait().expect("waits");
            status.is_some()
        },
    )
    .await;
    let status = status.expect("exited");
    assert!(status.success(), "exit status {status:?}");
    let output = child.wait_with_output().expect("output");
    let logs = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(logs.contains("stopped"), "{logs}");
    let secret = fake_bot_api::TOKEN.split(':').nth(1).expect("token secret part");
    assert!(!logs.contains(secret), "the token leaked into the logs");
    assert!(tg.errors().is_empty(), "{:#?}", tg.errors());
}
