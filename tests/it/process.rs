//! postkeeper as an operator runs it: the built binary as a child process, configured only
//! through `.env` in its working directory, against the strict fake Bot API server
//! (`TELOXIDE_API_URL`). Chat, the live archive, replays (with SIGTERM, restart and a 429),
//! `doctor`, a second process on the same token, and a big import with and without the bot
//! running. Every test ends by checking that the fake server saw no error the bot caused.
//! The tests run on two threads: a CLI command run to its end blocks one while the other
//! serves the fake server.

use std::time::Duration;

use fake_bot_api::{FakeTelegram, Fault, StoredMessage, TOKEN, updates};
use serde_json::{Value, json};

use crate::support::harness::{button, labels};
use crate::support::process::{BotProcess, Workdir};
use crate::support::wait::eventually;

const ME: i64 = 7001;
const ADMIN: i64 = 1001;
const STRANGER: i64 = 2002;
const REPLAY: i64 = -1_002_000_000_001;
const SOURCE: i64 = -1_001_500_000_001;
const WAIT: Duration = Duration::from_secs(20);

/// The `.env` an operator writes after reading `.env.example`.
fn dotenv(tg: &FakeTelegram) -> String {
    format!(
        "# as in .env.example\nTELOXIDE_TOKEN={TOKEN}\nTELOXIDE_API_URL={}\nPOSTKEEPER_ADMINS={ADMIN}\n\
         POSTKEEPER_REPLAY_CHAT=@replay_chan\nPOSTKEEPER_SOURCE_CHAT=@source_chan\n\
         POSTKEEPER_TIMEZONE=Europe/Moscow\nRUST_LOG=info\n",
        tg.url()
    )
}

async fn fake() -> FakeTelegram {
    let tg = FakeTelegram::start().await;
    tg.add_chat(updates::channel_chat(REPLAY, Some("replay_chan")));
    tg.add_chat(updates::channel_chat(SOURCE, Some("source_chan")));
    tg
}

fn ok_calls(tg: &FakeTelegram, method: &str) -> usize {
    tg.calls_to(method).iter().filter(|c| c.ok).count()
}

/// Pushes an update and waits for `n` more successful calls of `method`.
async fn exchange(tg: &FakeTelegram, update: Value, method: &str, n: usize) {
    let before = ok_calls(tg, method);
    tg.push_update(update);
    tg.wait_for_calls(method, before + n, WAIT).await;
}

fn last(tg: &FakeTelegram, chat: i64) -> StoredMessage {
    tg.messages(chat).into_iter().next_back().expect("the bot wrote to this chat")
}

fn ru(text: &str) -> Value {
    updates::text(ME, ME, Some("ru"), text)
}

/// No Bot API error the bot caused, no callback left unanswered, a clean exit.
async fn finish(tg: &FakeTelegram, bot: BotProcess) -> String {
    let (status, logs) = bot.stop().await;
    assert!(status.success(), "exit status {status:?}; log:\n{logs}");
    assert!(tg.errors().is_empty(), "Bot API errors: {:#?}", tg.errors());
    assert!(tg.unanswered_callbacks().is_empty(), "unanswered: {:?}", tg.unanswered_callbacks());
    let secret = TOKEN.split(':').nth(1).expect("token secret part");
    assert!(!logs.contains(secret), "the token leaked into the log");
    // A log file (as journald gets it) holds plain text, no terminal colour codes.
    assert!(!logs.contains('\u{1b}'), "escape codes in a log file: {logs}");
    logs
}

/// A post's fields as `postkeeper show ID --json` prints them (the store the bot uses).
fn show(dir: &Workdir, id: i64) -> Value {
    let out = dir.cli(&["show", &id.to_string(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v[0].clone()
}

/// The titles `postkeeper search` finds in the store.
fn cli_titles(dir: &Workdir, query: &str) -> Vec<String> {
    let out = dir.cli(&["search", query, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(json!([]));
    v.as_array().into_iter().flatten().filter_map(|h| h["title"].as_str().map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_search_paging_random_topics_posts_and_inline() {
    let tg = fake().await;
    let dir = Workdir::new(&dotenv(&tg));
    let bot = dir.start_bot();

    exchange(&tg, ru("/search обучение"), "sendMessage", 1).await;
    let results = last(&tg, ME);
    assert!(results.text.contains("Найдено"), "{}", results.text);
    let next = button(&results, "▶").expect("several pages");
    exchange(&tg, updates::callback(ME, Some("ru"), &results, &next), "editMessageText", 1).await;
    assert!(last(&tg, ME).text.contains("стр. 2/"), "{}", last(&tg, ME).text);

    exchange(&tg, ru("/random"), "sendMessage", 1).await;
    let random = last(&tg, ME);
    assert!(labels(&random).iter().any(|l| l.contains("🎲")), "{:?}", labels(&random));

    exchange(&tg, ru("/topic"), "sendMessage", 1).await;
    let topics = last(&tg, ME);
    let robotics = button(&topics, "🤖").expect("robotics button");
    exchange(&tg, updates::callback(ME, Some("ru"), &topics, &robotics), "editMessageText", 1).await;
    assert!(last(&tg, ME).text.contains("Робототехника — 4"), "{}", last(&tg, ME).text);

    exchange(&tg, ru("/post 3"), "sendMessage", 1).await;
    let title = show(&dir, 3)["title"].as_str().expect("title").to_string();
    assert!(last(&tg, ME).text.contains(&title), "{} / {title}", last(&tg, ME).text);

    exchange(&tg, updates::inline_query(ME, Some("ru"), "робот", ""), "answerInlineQuery", 1).await;
    let answer = tg.inline_answers().pop().expect("answered");
    let results = answer["results"].as_array().expect("results");
    assert!(!results.is_empty() && results.iter().all(|r| r["type"] == "article"), "{answer}");

    // The English menu for an English user.
    exchange(&tg, updates::text(ME + 1, ME + 1, Some("en"), "/search robot"), "sendMessage", 1).await;
    assert!(last(&tg, ME + 1).text.contains("Found"), "{}", last(&tg, ME + 1).text);
    assert!(tg.my_commands(Some("en")).iter().any(|(c, _)| c == "search"));
    finish(&tg, bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_channel_posts_are_archived_and_edits_replace_them() {
    let tg = fake().await;
    let dir = Workdir::new(&dotenv(&tg));
    let bot = dir.start_bot();
    exchange(&tg, ru("/start"), "sendMessage", 1).await;

    let text = "Квантовые чипы\nНовые квантовые компьютеры и зюзябра обучают нейросети.";
    tg.push_update(updates::channel_post(SOURCE, Some("source_chan"), 42, 1_700_000_000, text, json!([])));
    eventually(WAIT, || "the post is in the store", || cli_titles(&dir, "зюзябра") == ["Квантовые чипы"]).await;
    exchange(&tg, ru("/search зюзябра"), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Квантовые чипы"), "{}", last(&tg, ME).text);

    let edited = "Квантовые чипы\nТеперь про фотонные процессоры.";
    tg.push_update(updates::edited_channel_post(
        SOURCE,
        Some("source_chan"),
        42,
        1_700_000_000,
        1_700_000_600,
        edited,
        json!([]),
    ));
    eventually(WAIT, || "the edit is in the store", || cli_titles(&dir, "фотонные процессоры") == ["Квантовые чипы"])
        .await;
    exchange(&tg, ru("/search фотонные процессоры"), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Квантовые чипы"), "{}", last(&tg, ME).text);
    exchange(&tg, ru("/search зюзябра"), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Ничего не нашлось"), "the old text is gone: {}", last(&tg, ME).text);

    // A post of another channel is not archived.
    tg.push_update(updates::channel_post(
        -1_009,
        Some("other_chan"),
        5,
        1_700_000_000,
        "Чужой пост\nкракозябра",
        json!([]),
    ));
    exchange(&tg, ru("/search кракозябра"), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Ничего не нашлось"), "{}", last(&tg, ME).text);
    finish(&tg, bot).await;
}

fn admin(text: &str) -> Value {
    updates::text(ADMIN, ADMIN, Some("en"), text)
}

/// Replays that reached the channel, as plain text.
fn channel(tg: &FakeTelegram) -> Vec<String> {
    tg.messages(REPLAY).into_iter().map(|m| m.text).collect()
}

async fn wait_channel(tg: &FakeTelegram, n: usize) {
    eventually(WAIT, || format!("{n} messages in the channel"), || tg.messages(REPLAY).len() >= n).await;
}

/// The sends to the replay channel, in order.
fn channel_sends(tg: &FakeTelegram) -> Vec<fake_bot_api::Call> {
    tg.calls_to("sendMessage").into_iter().filter(|c| c.params["chat_id"] == "@replay_chan").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_go_out_once_across_sigterm_and_restart_and_wait_out_a_429() {
    let tg = fake().await;
    let dir = Workdir::new(&dotenv(&tg));
    let bot = dir.start_bot();

    exchange(&tg, updates::text(STRANGER, STRANGER, Some("en"), "/schedule 3 in 2s"), "sendMessage", 1).await;
    assert!(last(&tg, STRANGER).text.contains("only the channel's admins"), "{}", last(&tg, STRANGER).text);

    exchange(&tg, admin("/schedule 3 in 2s"), "sendMessage", 1).await;
    assert!(last(&tg, ADMIN).text.contains("#1"), "{}", last(&tg, ADMIN).text);
    // The channel's first send is refused with a 429: the replay waits it out and resends.
    tg.inject("sendMessage", Fault::RetryAfter(1));
    wait_channel(&tg, 1).await;
    let post3 = show(&dir, 3);
    let title3 = post3["title"].as_str().expect("title");
    assert!(channel(&tg)[0].contains(title3), "{:?}", channel(&tg));
    let sends = channel_sends(&tg);
    assert_eq!(sends.len(), 2, "one 429, one resend: {}", tg.dump_calls());
    assert!(sends[0].injected && sends[0].status == 429 && sends[1].ok);
    assert!(sends[1].at.duration_since(sends[0].at) >= Duration::from_secs(1), "resent before retry_after");

    // A job pending at SIGTERM is delivered once by the next start.
    exchange(&tg, admin("/schedule 5 in 3s"), "sendMessage", 1).await;
    assert!(last(&tg, ADMIN).text.contains("#2"), "{}", last(&tg, ADMIN).text);
    let (status, logs) = bot.stop().await;
    assert!(status.success(), "{status:?}\n{logs}");
    assert_eq!(tg.messages(REPLAY).len(), 1, "nothing more went out before the stop");

    let bot = dir.start_bot();
    wait_channel(&tg, 2).await;
    finish(&tg, bot).await;
    // Both processes have exited: nothing more can arrive.
    let texts = channel(&tg);
    assert_eq!(texts.len(), 2, "{texts:?}");
    let title5 = show(&dir, 5)["title"].as_str().expect("title").to_string();
    assert!(texts[1].contains(&title5), "{texts:?}");
    let out = dir.cli(&["queue"]);
    let queue = String::from_utf8_lossy(&out.stdout);
    assert!(queue.contains("sent"), "{queue}");
}

/// `doctor`'s output and exit status.
fn doctor(dir: &Workdir) -> (bool, String) {
    let out = dir.cli(&["doctor"]);
    // Shown with --nocapture: what an operator sees.
    println!("$ postkeeper doctor\n{}", String::from_utf8_lossy(&out.stdout));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_healthy_setup_and_names_the_fix_for_a_broken_one() {
    let tg = fake().await;
    let dir = Workdir::new(&dotenv(&tg));
    let (ok, out) = doctor(&dir);
    assert!(ok, "{out}");
    for line in [
        "✓ the token works: @postkeeper_test_bot",
        "✓ POSTKEEPER_REPLAY_CHAT @replay_chan",
        "may post there",
        "✓ POSTKEEPER_SOURCE_CHAT @source_chan",
        "✓ admins who may replay and schedule: 1001",
        "✓ the store postkeeper.db does not exist yet",
        "✓ time zone Europe/Moscow",
        "all checks passed",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(!out.contains('✗'), "{out}");
    assert!(!dir.path().join("postkeeper.db").exists(), "doctor creates no store");

    // The bot cannot post to the replay channel, is no admin of the source, and no admins.
    tg.set_bot_member(REPLAY, "administrator", false);
    tg.set_bot_member(SOURCE, "member", false);
    let broken = dotenv(&tg).replace(&format!("POSTKEEPER_ADMINS={ADMIN}\n"), "");
    std::fs::write(dir.path().join(".env"), broken).expect("writes .env");
    let (ok, out) = doctor(&dir);
    assert!(!ok, "{out}");
    assert!(
        out.contains("✗ POSTKEEPER_REPLAY_CHAT @replay_chan") && out.contains("without the right to post"),
        "{out}"
    );
    assert!(out.contains("→ give @postkeeper_test_bot the right \"Post messages\""), "{out}");
    assert!(out.contains("✗ POSTKEEPER_SOURCE_CHAT @source_chan") && out.contains("is not an administrator"), "{out}");
    assert!(out.contains("→ add @postkeeper_test_bot to @source_chan as an administrator"), "{out}");
    assert!(out.contains("✗ POSTKEEPER_REPLAY_CHAT is set but POSTKEEPER_ADMINS is empty"), "{out}");
    assert!(out.contains("3 checks failed"), "{out}");

    // A chat Telegram does not know, a bot that left, a token it refuses.
    tg.set_bot_member(SOURCE, "left", false);
    let unknown = dotenv(&tg).replace("@replay_chan", "@no_such_chan");
    std::fs::write(dir.path().join(".env"), unknown).expect("writes .env");
    let (ok, out) = doctor(&dir);
    assert!(!ok);
    assert!(out.contains("✗ POSTKEEPER_REPLAY_CHAT @no_such_chan: Telegram finds no such chat"), "{out}");
    assert!(out.contains("✗ POSTKEEPER_SOURCE_CHAT @source_chan") && out.contains("is not a member"), "{out}");
    let bad_token = dotenv(&tg).replace(TOKEN, "42:not-this-bots-token");
    std::fs::write(dir.path().join(".env"), bad_token).expect("writes .env");
    let (ok, out) = doctor(&dir);
    assert!(!ok);
    assert!(out.contains("✗ the Bot API refuses the token (Unauthorized)") && out.contains("@BotFather"), "{out}");
    assert!(!out.contains("not-this-bots-token"), "the token is never printed: {out}");

    // `run` makes the same checks and logs the failures, but starts.
    tg.set_bot_member(SOURCE, "member", false);
    std::fs::write(dir.path().join(".env"), dotenv(&tg)).expect("writes .env");
    let bot = dir.start_bot();
    exchange(&tg, ru("/start"), "sendMessage", 1).await;
    let logs = bot.wait_for_log("is not an administrator there", WAIT).await;
    assert!(logs.contains("WARN"), "{logs}");
    let (status, _) = bot.stop().await;
    assert!(status.success());
    // The only errors are the ones doctor provoked on purpose (the unknown chat, the bot
    // that left, the wrong token).
    let unexpected: Vec<_> = tg
        .errors()
        .into_iter()
        .filter(|c| !matches!(c.method.as_str(), "getChat" | "getChatMember" | "getMe"))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_token_makes_the_first_stop_with_a_clear_error() {
    let tg = fake().await;
    let first_dir = Workdir::new(&dotenv(&tg));
    let second_dir = Workdir::new(&dotenv(&tg));
    let mut first = first_dir.start_bot();
    exchange(&tg, ru("/start"), "sendMessage", 1).await;
    let second = second_dir.start_bot();
    // Telegram cuts the older long poll off with a 409: the first stops and says why.
    let status = first.exit_within(WAIT).await;
    assert!(!status.success(), "{status:?}");
    let logs = first.logs();
    assert!(logs.contains("another instance is running with this token"), "{logs}");
    assert_eq!(logs.matches("another instance is running").count(), 2, "one log line and one error:\n{logs}");
    // The second keeps the token and answers.
    exchange(&tg, ru("/random"), "sendMessage", 1).await;
    let (status, logs) = second.stop().await;
    assert!(status.success(), "{logs}");
    let conflicts: Vec<_> = tg.errors().into_iter().filter(|c| c.status == 409).collect();
    assert_eq!(conflicts.len(), 1, "no fight over the token: {:#?}", tg.errors());
    assert!(tg.errors().iter().all(|c| c.status == 409), "{:#?}", tg.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_long_polls_end_as_answers_not_as_client_timeouts() {
    let tg = fake().await;
    // Short polls (POSTKEEPER_POLL_TIMEOUT) so that idle ones come by in seconds; the HTTP
    // client's timeout follows the poll's (`bot::client_timeout`, unit-tested for every
    // allowed length).
    let dir = Workdir::new(&format!("{}POSTKEEPER_POLL_TIMEOUT=2s\n", dotenv(&tg)));
    let bot = dir.start_bot();
    exchange(&tg, ru("/start"), "sendMessage", 1).await;
    // Nothing to deliver: two polls wait their whole 2 s and are answered empty.
    let idle = || tg.calls_to("getUpdates").iter().filter(|c| c.ok && c.result == Some(json!([]))).count();
    eventually(WAIT, || tg.dump_calls(), || idle() >= 2).await;
    let polls = tg.calls_to("getUpdates");
    assert!(polls.iter().all(|c| c.params["timeout"] == 2 || c.params["timeout"] == 0), "{polls:?}");
    exchange(&tg, ru("/random"), "sendMessage", 1).await;
    let logs = finish(&tg, bot).await;
    assert!(!logs.contains("polling failed") && !logs.contains("ERROR"), "{logs}");
}

/// A single-chat export of a channel under `dir/name`, in Telegram Desktop's order (the
/// chat's name, type and id before its messages): a text message for each (id, text), its
/// text twice (`text` and `text_entities`), as Telegram Desktop writes them.
fn channel_export(dir: &std::path::Path, name: &str, posts: impl IntoIterator<Item = (usize, String)>) -> String {
    let messages: Vec<Value> = posts
        .into_iter()
        .map(|(i, text)| {
            json!({
                "id": i, "type": "message", "date": "2021-01-01T00:00:00",
                "date_unixtime": (1_609_459_200 + i).to_string(),
                "text": text, "text_entities": [{"type": "plain", "text": text}],
            })
        })
        .collect();
    let export = format!(
        r#"{{"name":"Big channel","type":"public_channel","id":7777777,"messages":{}}}"#,
        Value::Array(messages)
    );
    let path = dir.join(name);
    std::fs::write(&path, export).expect("writes the export");
    path.to_str().expect("a UTF-8 path").to_string()
}

/// A channel export of `posts` text posts of about 3 KB each, like the posts of the
/// bench's exports.
fn big_export(dir: &std::path::Path, posts: usize) -> String {
    let sentence = "Глубокое обучение с подкреплением учит агента действовать в среде, получая награду. ";
    channel_export(dir, "big.json", (1..=posts).map(|i| (i, format!("Пост {i}. {}", sentence.repeat(10)))))
}

/// Log lines without the terminal colours tracing writes.
fn plain_log(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().take_while(|&c| c != 'm').for_each(drop);
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_import_has_the_store_alone_unless_the_bot_runs() {
    let tg = fake().await;
    let dir = Workdir::new(&dotenv(&tg).replace("RUST_LOG=info", "RUST_LOG=info,postkeeper::ingest=debug"));
    let posts = 11_000;
    let export = big_export(dir.path(), posts);
    let size = std::fs::metadata(&export).expect("the export").len();
    assert!(size >= 32 << 20, "the export must pass the big-import size: {size} bytes");
    let export = export.as_str();
    let journal = || -> String {
        let conn = rusqlite::Connection::open(dir.path().join("postkeeper.db")).expect("opens the store");
        conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("journal mode")
    };

    // Nobody else has the store open: the import has it alone, and the WAL is back after it.
    let out = dir.cli(&["import", export]);
    let log = plain_log(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("big import alone=true"), "{log}");
    assert!(log.contains("has the store to itself until it ends"), "the operator is told: {log}");
    assert!(plain_log(&out.stdout).contains(&format!("{posts} new")), "{}", plain_log(&out.stdout));
    assert_eq!(journal(), "wal");

    // With the bot running the import shares the store, in WAL mode, and the bot goes on.
    let bot = dir.start_bot();
    exchange(&tg, ru("/search подкреплением"), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Найдено"), "{}", last(&tg, ME).text);
    let out = dir.cli(&["import", export]);
    let log = plain_log(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("big import alone=false"), "{log}");
    assert!(!log.contains("to itself"), "{log}");
    assert!(plain_log(&out.stdout).contains(&format!("{posts} unchanged")), "{}", plain_log(&out.stdout));
    assert_eq!(journal(), "wal");
    exchange(&tg, ru("/post 7"), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Пост 7."), "{}", last(&tg, ME).text);
    finish(&tg, bot).await;
}

/// An export of the short posts `ids`, whose every word is common; the phrase «обучение с
/// подкреплением» is in every `every`-th one only (the others have the same words apart),
/// and without «учителем» in those of them whose id is a multiple of 100.
fn phrase_export(dir: &std::path::Path, name: &str, ids: std::ops::RangeInclusive<usize>, every: usize) -> String {
    let text = |i: usize| match i % every {
        0 if i.is_multiple_of(100) => format!("Пост {i}. Обучение с подкреплением."),
        0 => format!("Пост {i}. Обучение с подкреплением и с учителем."),
        _ => format!("Пост {i}. Обучение с учителем и подкреплением."),
    };
    channel_export(dir, name, ids.map(|i| (i, text(i))))
}

/// How many posts `postkeeper search` says a query finds.
fn cli_found(dir: &Workdir, query: &str) -> String {
    let out = dir.cli(&["search", query]);
    assert!(out.status.success(), "{}", plain_log(&out.stderr));
    let stdout = plain_log(&out.stdout);
    stdout.lines().find(|l| l.ends_with(" found")).unwrap_or(&stdout).to_string()
}

/// The running bot builds the phrase index of a big archive in the background; phrases
/// (alone, beside a word and an exclusion, checked by their bits) and words beside a word in
/// most posts or an excluded one (checked by its bit: common words, and a rare word that
/// ranks) then find what they found before, in chat and in the CLI, and so do
/// posts imported after it (beyond the index) and posts rewritten after it (in it again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_builds_the_phrase_index_and_phrases_still_find_the_same_posts() {
    let tg = fake().await;
    let dir = Workdir::new(&dotenv(&tg));
    let posts = 20_000; // the size from which an archive gets a phrase index
    let export = phrase_export(dir.path(), "big.json", 1..=posts, 50);
    let out = dir.cli(&["import", &export]);
    assert!(out.status.success(), "{}", plain_log(&out.stderr));
    assert!(plain_log(&out.stdout).contains(&format!("{posts} new")), "{}", plain_log(&out.stdout));
    // `торгов` in 2,000 posts (not rare, too rare to pair), `обучен` in 93 % of them all;
    // the posts without it have other stems with bits.
    // `биржевые` in 80 of them (rare: ranked by it), half of those with `обучен`.
    let text = |i: usize| {
        let words = if i % 10 < 3 {
            "Торговые стратегии обучения"
        } else {
            "Торговые стратегии с учителем"
        };
        if i.is_multiple_of(25) { format!("{words} биржевые") } else { words.to_string() }
    };
    let trading = (30_001..=32_000).map(|i| (i, text(i)));
    let out = dir.cli(&["import", &channel_export(dir.path(), "trading.json", trading)]);
    assert!(out.status.success(), "{}", plain_log(&out.stderr));
    let phrase = "\"обучение с подкреплением\"";
    let (words, rare) = ("торговые обучения", "биржевые обучения");
    // Exclusions of words with a bit: beside the phrase (checked in the pairs' posts), and
    // beside a sparse word, newest first.
    let (phrase_but, sparse_but) = (format!("{phrase} -учителем"), "биржевые -обучения порядок:новые");
    assert_eq!(cli_found(&dir, phrase), "400 found", "without the index");
    assert_eq!(cli_found(&dir, words), "600 found", "without the index");
    assert_eq!(cli_found(&dir, rare), "40 found", "without the index");
    assert_eq!(cli_found(&dir, &phrase_but), "200 found", "without the index");
    assert_eq!(cli_found(&dir, sparse_but), "40 found", "without the index");

    let bot = dir.start_bot();
    let logs = bot.wait_for_log("the phrase index has every post", Duration::from_secs(120)).await;
    assert!(plain_log(logs.as_bytes()).contains("building the phrase index"), "{logs}");
    exchange(&tg, ru(&format!("/search {phrase}")), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Найдено 400"), "{}", last(&tg, ME).text);
    assert_eq!(cli_found(&dir, phrase), "400 found", "with the index");
    let beside = format!("{phrase} учителем");
    assert_eq!(cli_found(&dir, &beside), "200 found", "a word beside the phrase");
    assert_eq!(cli_found(&dir, words), "600 found", "with the index");
    assert_eq!(cli_found(&dir, rare), "40 found", "with the index");
    assert_eq!(cli_found(&dir, &phrase_but), "200 found", "with the index");
    assert_eq!(cli_found(&dir, sparse_but), "40 found", "with the index");
    exchange(&tg, ru(&format!("/search {phrase_but}")), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Найдено 200"), "{}", last(&tg, ME).text);
    exchange(&tg, ru(&format!("/search {words}")), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Найдено 600"), "{}", last(&tg, ME).text);

    // Newer posts, beyond the index; a rewritten post that has the phrase no more.
    let newer = phrase_export(dir.path(), "newer.json", posts + 1..=posts + 100, 5);
    let out = dir.cli(&["import", &newer]);
    assert!(out.status.success(), "{}", plain_log(&out.stderr));
    let edit = phrase_export(dir.path(), "edit.json", 50..=50, 7);
    let out = dir.cli(&["import", &edit]);
    assert!(out.status.success(), "{}", plain_log(&out.stderr));
    assert!(plain_log(&out.stdout).contains("1 updated"), "{}", plain_log(&out.stdout));
    assert_eq!(cli_found(&dir, phrase), "419 found");
    assert_eq!(cli_found(&dir, &beside), "218 found");
    assert_eq!(cli_found(&dir, &phrase_but), "201 found");
    exchange(&tg, ru(&format!("/search {phrase}")), "sendMessage", 1).await;
    assert!(last(&tg, ME).text.contains("Найдено 419"), "{}", last(&tg, ME).text);
    let logs = finish(&tg, bot).await;
    assert!(!logs.contains("WARN"), "{logs}");
}

/// A server booting before its network, a DNS hiccup, a Telegram outage: `run` waits with
/// growing pauses and serves as soon as Telegram answers, without a restart; SIGTERM while
/// it waits stops it at once; a refused token stops it at once with exit code 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_waits_out_an_unreachable_telegram_but_not_a_refused_token() {
    // An address nobody listens on yet.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = free.local_addr().expect("address");
    drop(free);
    let env = format!("TELOXIDE_TOKEN={TOKEN}\nTELOXIDE_API_URL=http://{addr}/\nRUST_LOG=info\n");

    // Stopped while it waits.
    let waiting = Workdir::new(&env);
    let mut bot = waiting.start_bot();
    bot.wait_for_log("trying again in 1 s", WAIT).await;
    bot.sigterm();
    let status = bot.exit_within(Duration::from_secs(3)).await;
    assert!(status.success(), "{status:?}: {}", bot.logs());

    let dir = Workdir::new(&env);
    let bot = dir.start_bot();
    // Three tries failed (1 s, 2 s, 4 s pauses): the bot is still there, waiting.
    let logs = bot.wait_for_log("trying again in 4 s", WAIT).await;
    assert!(logs.contains("cannot reach the Bot API") && logs.contains("WARN"), "{logs}");
    let tg = FakeTelegram::start_on(addr).await;
    exchange(&tg, ru("/start"), "sendMessage", 1).await;
    finish(&tg, bot).await;

    let refused = Workdir::new(&format!("TELOXIDE_TOKEN=42:not-this-bots-token\nTELOXIDE_API_URL={}\n", tg.url()));
    let mut bot = refused.start_bot();
    let status = bot.exit_within(Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(2), "{}", bot.logs());
    assert!(bot.logs().contains("refuses the token") && bot.logs().contains("@BotFather"), "{}", bot.logs());
    assert!(!bot.logs().contains("not-this-bots-token"), "the token is never printed");
}

/// `run` with POSTKEEPER_LISTEN in `.env` serves /healthz and /metrics beside the bot, and
/// an address it cannot have stops it at start with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_health_and_metrics_where_told() {
    let tg = fake().await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = free.local_addr().expect("address");
    drop(free);
    let dir = Workdir::new(&format!("{}POSTKEEPER_LISTEN={addr}\n", dotenv(&tg)));
    let bot = dir.start_bot();
    bot.wait_for_log("HTTP server", WAIT).await;
    exchange(&tg, ru("/search робот"), "sendMessage", 1).await;
    let get = move |path: &'static str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).expect("connects");
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("writes");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("reads");
        out
    };
    let health = tokio::task::spawn_blocking(move || get("/healthz")).await.expect("runs");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"worker\":\"running\"") && health.contains("\"lease\":\"held\""), "{health}");
    let metrics = tokio::task::spawn_blocking(move || get("/metrics")).await.expect("runs");
    assert!(metrics.contains("postkeeper_searches_total 1"), "{metrics}");
    assert!(metrics.contains("postkeeper_bot_api_requests_total{method=\"getUpdates\",outcome=\"ok\"}"), "{metrics}");
    assert!(
        metrics.contains("postkeeper_bot_api_requests_total{method=\"sendMessage\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("postkeeper_bot_api_requests_total{method=\"setMyCommands\",outcome=\"ok\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("postkeeper_bot_api_requests_total{method=\"getMe\",outcome=\"ok\"}"), "{metrics}");
    // A replay goes out: its run and its lag are counted.
    exchange(&tg, updates::text(ADMIN, ADMIN, Some("ru"), "/replay 3"), "sendMessage", 1).await;
    eventually(WAIT, || "the replay is posted", || !tg.messages(REPLAY).is_empty()).await;
    eventually(
        WAIT,
        || "the replay's run counted",
        || {
            let m = get("/metrics");
            m.contains("postkeeper_replay_runs_total{outcome=\"sent\"} 1")
                && m.contains("postkeeper_replay_delivery_lag_seconds_count 1")
        },
    )
    .await;
    finish(&tg, bot).await;

    // The address taken (by the fake server itself): the start stops, naming the setting.
    let taken = tg.url().trim_start_matches("http://").trim_end_matches('/').to_string();
    let busy = Workdir::new(&format!("{}POSTKEEPER_LISTEN={taken}\n", dotenv(&tg)));
    let mut bot = busy.start_bot();
    let status = bot.exit_within(Duration::from_secs(10)).await;
    assert!(!status.success());
    assert!(bot.logs().contains("cannot listen on") && bot.logs().contains("POSTKEEPER_LISTEN"), "{}", bot.logs());
}

/// The running binary, fresh store: the demo until the source channel's first post, then
/// only that channel; kinds teloxide 0.17 cannot read (a `date_time` entity with a photo, a
/// `rich_message`) and polls archived; reaction counts kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_bot_archives_every_kind_and_the_demo_gives_way() {
    let tg = fake().await;
    let dir = Workdir::new(&dotenv(&tg));
    let bot = dir.start_bot();
    exchange(&tg, ru("/start"), "sendMessage", 1).await;
    let channels = |dir: &Workdir| -> Vec<(String, i64)> {
        let out = dir.cli(&["channels", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|c| (c["origin"].as_str().unwrap_or("").to_string(), c["posts"].as_i64().unwrap_or(-1)))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(channels(&dir), [("demo".to_string(), 20)]);
    let photo = json!([{"file_id": "ph", "file_unique_id": "phu", "width": 800, "height": 600}]);
    tg.push_update(updates::channel_post_with(
        SOURCE,
        Some("source_chan"),
        301,
        1_700_000_001,
        json!({
            "photo": photo, "caption": "Митап 12 мая в 18:00",
            "caption_entities": [{"type": "date_time", "offset": 6, "length": 14, "unix_time": 1_715_526_000}],
        }),
    ));
    tg.push_update(updates::channel_post_with(
        SOURCE,
        Some("source_chan"),
        302,
        1_700_000_002,
        json!({
            "rich_message": {"blocks": [{"type": "paragraph", "text": "Квазарный отчёт за год"}]},
        }),
    ));
    tg.push_update(updates::channel_post_with(SOURCE, Some("source_chan"), 303, 1_700_000_003, json!({
        "poll": {"id": "p", "question": "Голосуем за зюзябру?", "options": [{"text": "да", "voter_count": 2}, {"text": "нет", "voter_count": 0}],
                 "total_voter_count": 2, "is_closed": true, "is_anonymous": true, "type": "regular", "allows_multiple_answers": false},
    })));
    eventually(WAIT, || "three live posts archived", || channels(&dir) == [("telegram".to_string(), 3)]).await;
    assert_eq!(cli_titles(&dir, "митап"), ["Митап 12 мая в 18:00"]);
    assert_eq!(cli_titles(&dir, "квазарный"), ["Квазарный отчёт за год"]);
    assert_eq!(cli_titles(&dir, "зюзябру"), ["📊 Голосуем за зюзябру?"]);
    tg.push_update(updates::reaction_count(SOURCE, Some("source_chan"), 303, &[("🔥", 7)]));
    let reactions = || {
        let out = dir.cli(&["posts", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.as_array().and_then(|a| a.iter().find(|p| p["message_id"] == 303).and_then(|p| p["reactions"].as_i64()))
    };
    eventually(WAIT, || "the reaction count kept", || reactions() == Some(7)).await;
    let logs = finish(&tg, bot).await;
    assert!(logs.contains("\"rich_message\", which this postkeeper does not know"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_bot_backs_up_daily_and_keeps_the_newest() {
    let tg = fake().await;
    let dir = Workdir::new(&format!("{}POSTKEEPER_BACKUP_DIR=backups\nPOSTKEEPER_BACKUP_KEEP=2\n", dotenv(&tg)));
    // Three old backups (of nothing: only their names count) and a file that is not one.
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).expect("creates");
    for day in ["01", "02", "03"] {
        std::fs::write(backups.join(format!("postkeeper-2020-01-{day}T000000Z.db")), "old").expect("writes");
    }
    std::fs::write(backups.join("notes.txt"), "mine").expect("writes");
    let bot = dir.start_bot();
    exchange(&tg, ru("/start"), "sendMessage", 1).await;
    let names = || -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(&backups)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect())
            .unwrap_or_default();
        n.sort();
        n
    };
    // The newest was years ago: one now, and the oldest go, two kept; not our files stay.
    eventually(
        WAIT,
        || format!("{:?}", names()),
        || {
            let n = names();
            n.len() == 3 && !n.iter().any(|f| f.starts_with("postkeeper-2020-01-02"))
        },
    )
    .await;
    let made = names().into_iter().find(|f| f.starts_with("postkeeper-20") && !f.starts_with("postkeeper-2020"));
    let made = backups.join(made.expect("the new backup"));
    let logs = finish(&tg, bot).await;
    assert!(logs.contains("daily backup made"), "{logs}");
    assert_eq!(names().iter().filter(|n| n.starts_with("postkeeper-2020-01-03")).count(), 1, "{:?}", names());
    assert!(names().contains(&"notes.txt".to_string()));
    // The backup is a store: it opens and has the demo's posts.
    let out = dir.cli(&["--db", &made.display().to_string(), "stats"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("posts:    20"), "{}", String::from_utf8_lossy(&out.stdout));
}
