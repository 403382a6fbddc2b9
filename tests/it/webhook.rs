//! Webhook mode: the fake Bot API server delivers updates by POST (through a stand-in for
//! the reverse proxy) with the secret token; the bot answers them with the same handler
//! tree as polling, refuses requests without the secret, keeps a generated secret across
//! restarts, stops on SIGTERM within 5 s, and goes back to polling (deleting the webhook)
//! when the setting is removed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use fake_bot_api::{FakeTelegram, TOKEN, WEBHOOK_SECRET_HEADER, updates};
use postkeeper::bot::{self, BotState, Intake};
use postkeeper::config::Config;
use postkeeper::store::{Archive, SharedArchive};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::harness::Harness;
use crate::support::process::Workdir;

const WAIT: Duration = Duration::from_secs(20);
const PUBLIC: &str = "https://bot.example.org";
const URL: &str = "https://bot.example.org/telegram";
const SOURCE: i64 = -1_001_500_000_001;

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    l.local_addr().expect("address")
}

/// A request over a plain socket: (status, body).
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("writes");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

async fn send(addr: SocketAddr, method: &'static str, headers: Vec<(&'static str, String)>, body: String) -> u16 {
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        request(addr, method, "/telegram", &headers, &body).0
    })
    .await
    .expect("runs")
}

fn reply_texts(tg: &FakeTelegram, chat: i64) -> Vec<String> {
    tg.messages(chat).into_iter().map(|m| m.text).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_updates_get_the_replies_polling_gets_and_strangers_get_401() {
    let tg = FakeTelegram::start().await;
    let mut archive = Archive::open_in_memory().expect("store");
    postkeeper::ingest::import_seed(&mut archive).expect("seed");
    let state = Arc::new(BotState::new(SharedArchive::new(archive), Config::default()));
    let hook = Arc::new(bot::webhook::Webhook::new(URL.parse().expect("url"), "s3cret_token-1".to_string()));
    let addr = free_addr();
    let stop = CancellationToken::new();
    let routes = hook.route(state.raw.clone(), state.health.clone());
    let server = bot::http::serve(addr, state.clone(), routes, stop.clone()).await.expect("serves");
    tg.proxy(PUBLIC, &format!("http://{addr}"));
    let running = bot::spawn_with(tg.bot(), state.clone(), Intake::Webhook(hook)).await.expect("starts");

    // setWebhook: the URL, the secret, and the kinds the handler tree takes (reactions
    // are delivered only when named).
    let set = tg.wait_for_calls("setWebhook", 1, WAIT).await;
    let params = &set[0].params;
    assert_eq!((params["url"].as_str(), params["secret_token"].as_str()), (Some(URL), Some("s3cret_token-1")));
    // setWebhook goes as multipart (it may carry a certificate): the list is a JSON string.
    let allowed: Vec<String> = match &params["allowed_updates"] {
        Value::String(s) => serde_json::from_str(s).expect("a list"),
        other => serde_json::from_value(other.clone()).expect("a list"),
    };
    for kind in ["message", "callback_query", "inline_query", "channel_post", "message_reaction_count"] {
        assert!(allowed.iter().any(|k| k == kind), "{kind} not in {allowed:?}");
    }

    // An update delivered by POST gets the reply a polling bot gives.
    let chat = 5001;
    tg.push_update(updates::text(chat, chat, Some("ru"), "/search робот"));
    tg.wait_for_calls("sendMessage", 1, WAIT).await;
    let polling = Harness::start(Config::default()).await;
    polling.exchange(updates::text(chat, chat, Some("ru"), "/search робот"), "sendMessage", 1).await;
    assert_eq!(reply_texts(&tg, chat), reply_texts(&polling.tg, chat));
    polling.finish().await;
    let deliveries = tg.deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].status, Some(200));
    assert_eq!(tg.webhook_info()["pending_update_count"], 0);

    // Without the secret, with a wrong one, or with a body that is no update: refused. The
    // refused ones are for the same chat as the next good one, so had any reached the
    // dispatcher its reply would come before the good one's (a chat's updates are handled
    // in order): the good one's reply being the second message proves none did.
    let stray = json!({"update_id": 1, "message": updates::text(chat, chat, Some("ru"), "/random")["message"]});
    assert_eq!(send(addr, "POST", vec![], stray.to_string()).await, 401);
    let wrong = vec![(WEBHOOK_SECRET_HEADER, "s3cret_token-2".to_string())];
    assert_eq!(send(addr, "POST", wrong, stray.to_string()).await, 401);
    let right = vec![(WEBHOOK_SECRET_HEADER, "s3cret_token-1".to_string())];
    assert_eq!(send(addr, "POST", right.clone(), "{not json".to_string()).await, 400);
    assert_eq!(send(addr, "POST", right, "[1, 2]".to_string()).await, 400);
    assert_eq!(send(addr, "GET", vec![], String::new()).await, 405);
    tg.push_update(updates::text(chat, chat, Some("en"), "/help"));
    tg.wait_for_calls("sendMessage", 2, WAIT).await;
    let texts = reply_texts(&tg, chat);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("/search"), "the /help reply: {}", texts[1]);

    running.shutdown(Duration::from_secs(3)).await;
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    assert!(tg.errors().is_empty(), "Bot API errors: {:#?}", tg.errors());
}

/// The `.env` of a bot in webhook mode behind a proxy.
fn dotenv(tg: &FakeTelegram, listen: SocketAddr) -> String {
    format!(
        "TELOXIDE_TOKEN={TOKEN}\nTELOXIDE_API_URL={}\nPOSTKEEPER_SOURCE_CHAT=@source_chan\n\
         POSTKEEPER_LISTEN={listen}\nPOSTKEEPER_WEBHOOK_URL={URL}\nRUST_LOG=info\n",
        tg.url()
    )
}

fn secret_of(call: &fake_bot_api::Call) -> String {
    call.params["secret_token"].as_str().expect("a secret token").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_in_webhook_mode_archives_answers_keeps_its_secret_and_stops_on_sigterm() {
    let tg = FakeTelegram::start().await;
    tg.add_chat(updates::channel_chat(SOURCE, Some("source_chan")));
    let listen = free_addr();
    tg.proxy(PUBLIC, &format!("http://{listen}"));
    let dir = Workdir::new(&dotenv(&tg, listen));

    let bot = dir.start_bot();
    let first = tg.wait_for_calls("setWebhook", 1, WAIT).await;
    let secret = secret_of(&first[0]);
    assert!(postkeeper::settings::valid_webhook_secret(&secret) && secret.len() >= 32, "{secret}");
    tg.push_update(updates::text(5002, 5002, Some("ru"), "/search робот"));
    tg.wait_for_calls("sendMessage", 1, WAIT).await;
    tg.push_update(updates::channel_post(
        SOURCE,
        Some("source_chan"),
        77,
        1_700_000_000,
        "Пост через вебхук",
        json!([]),
    ));
    // A POST that Telegram has seen answered is handled before the process ends.
    let delivered = tg.wait_for_deliveries(2, WAIT).await;
    assert!(delivered.iter().all(|d| d.status == Some(200)), "{delivered:?}");
    let (status, logs) = bot.stop().await;
    assert!(status.success(), "exit {status:?}: {logs}");
    assert!(!logs.contains(&secret), "the secret leaked into the log");
    let out = dir.cli(&["posts", "--json"]);
    let posts: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let texts: Vec<&str> = posts.as_array().into_iter().flatten().filter_map(|p| p["title"].as_str()).collect();
    assert!(texts.contains(&"Пост через вебхук"), "{texts:?}");

    // A restart keeps the generated secret (Telegram's pending updates carry the old one).
    let bot = dir.start_bot();
    let again = tg.wait_for_calls("setWebhook", 2, WAIT).await;
    assert_eq!(secret_of(&again[1]), secret);
    tg.push_update(updates::text(5003, 5003, Some("en"), "/help"));
    tg.wait_for_calls("sendMessage", 2, WAIT).await;
    let (status, logs) = bot.stop().await;
    assert!(status.success(), "exit {status:?}: {logs}");

    // The setting removed: the bot polls, the webhook it finds is deleted.
    let bot = dir.spawn_with(&[("POSTKEEPER_WEBHOOK_URL", "")], &[]);
    tg.wait_for_calls("deleteWebhook", 1, WAIT).await;
    tg.push_update(updates::text(5004, 5004, Some("en"), "/help"));
    tg.wait_for_calls("sendMessage", 3, WAIT).await;
    assert_eq!(tg.webhook_info()["url"], "");
    let (status, logs) = bot.stop().await;
    assert!(status.success(), "exit {status:?}: {logs}");
    assert!(logs.contains("a webhook was set: deleted"), "{logs}");
    assert!(tg.errors().is_empty(), "Bot API errors: {:#?}", tg.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_webhook_url_stops_the_bot_with_the_reason_and_doctor_tells_the_state() {
    let tg = FakeTelegram::start().await;
    let listen = free_addr();
    // A self-hosted Bot API server would take port 9443; Telegram's (the fake) refuses it.
    let env = format!(
        "TELOXIDE_TOKEN={TOKEN}\nTELOXIDE_API_URL={}\nPOSTKEEPER_LISTEN={listen}\n\
         POSTKEEPER_WEBHOOK_URL=https://bot.example.org:9443/telegram\n",
        tg.url()
    );
    let dir = Workdir::new(&env);
    let mut bot = dir.start_bot();
    let status = bot.exit_within(WAIT).await;
    let logs = bot.logs();
    assert!(!status.success(), "{logs}");
    assert!(logs.contains("Telegram refuses the webhook https://bot.example.org:9443/telegram"), "{logs}");

    // doctor: a webhook Telegram cannot deliver to is a failed check with the fix.
    let dir = Workdir::new(&dotenv(&tg, listen));
    use teloxide::prelude::*;
    tg.bot().set_webhook(URL.parse().expect("url")).await.expect("set");
    tg.push_update(updates::text(9, 9, None, "hello"));
    tg.wait_for_deliveries(1, WAIT).await;
    let out = dir.cli(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(&format!("✗ Telegram cannot deliver to {URL}")), "{text}");
    assert!(text.contains("updates waiting"), "{text}");
}
