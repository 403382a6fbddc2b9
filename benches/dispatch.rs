//! Dispatch throughput and update→reply latency over loopback, against the fake Bot API
//! server of the tests (`crates/fake-bot-api`): the real bot (`postkeeper::bot::spawn`, handler
//! tree, `SharedArchive`) answering `/search` over the seed archive and over a generated
//! 100k-post archive, and a bare teloxide echo bot with the same polling as the baseline;
//! also a bare bot sending postkeeper's seed replies made in advance, which separates what
//! the size of those replies costs (HTML and JSON on both sides) from the search.
//!
//! Each update comes from its own private chat, so the reply to update i is the first
//! `sendMessage` to chat i; its time is when the fake server received the request
//! (`Call::at`), the update's time is just before `push_update`. The fake long poll hands
//! out at most 100 updates per `getUpdates`, like Telegram.
//!
//! Phases per bot (after a warm-up):
//! * burst: N updates pushed at once; updates/s = N / (last reply − first push), median
//!   of several rounds (one only when a round takes over 12 s);
//! * steady: updates at a fixed rate (default 200/s; for a bot that cannot keep up, half
//!   its burst throughput for 5 s), latency percentiles;
//! * one at a time: the next update is pushed when the previous one was answered.
//!
//! The echo, seed and canned bots run at the same time and take turns within each phase
//! (burst rounds alternate, the steady phase alternates in 5 blocks, one-at-a-time
//! updates in blocks of 50; a 20 ms pause at each change of bot), so the machine's
//! changing load falls on them alike and their ratios (the targets) are not set by which
//! bot happened to run during a busy spell. The 100k-post bot runs after them, alone.
//!
//! Knobs (environment): `POSTKEEPER_DISPATCH_N` (2000), `POSTKEEPER_DISPATCH_ROUNDS` (3),
//! `POSTKEEPER_DISPATCH_RATE` (200), `POSTKEEPER_DISPATCH_STEADY` (2000 updates),
//! `POSTKEEPER_DISPATCH_SEQUENTIAL` (1000), `POSTKEEPER_DISPATCH_POSTS` (100000),
//! `POSTKEEPER_DISPATCH_BOTS` (`echo,seed,canned,big`: which bots to run; `canned` and
//! `webhook` (the seed bot in webhook mode, measured beside the polling one) need `seed`),
//! `POSTKEEPER_DISPATCH_METRICS=1` (the Prometheus recorder installed, as `run` with
//! `POSTKEEPER_LISTEN` does; without it the `metrics` calls go nowhere),
//! `POSTKEEPER_DISPATCH_SPLIT=1` (Telegram on a core of its own: the fake servers on a runtime
//! pinned to the first core, the bots, their store threads and this bench on the second,
//! one worker; Linux only). Without it the fake servers and the bots share both cores, so a
//! bot that makes Telegram work more (a webhook: one HTTP request per update instead of
//! one per hundred) pays for Telegram's side too, which no production server does.
//! Run: `cargo bench --bench dispatch`.
//!
//! The `core` column is the `/search` handling alone (`chat::on_command`, in process, no
//! Telegram, one connection): the time an update holds one of the store's connections (one
//! per core), so cores × 1000/core is the most updates/s any dispatcher could get out of it.

#[allow(dead_code)]
mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_bot_api::{FakeTelegram, updates};
use postkeeper::bot::{self, BotState};
use postkeeper::chat::{self, Command, Ctx, Reply};
use postkeeper::config::Config;
use postkeeper::i18n::Lang;
use postkeeper::replay::commands::Access;
use postkeeper::store::Archive;
use postkeeper::store::SharedArchive;
use serde_json::Value;
use teloxide::dispatching::{ShutdownToken, UpdateHandler};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::update_listeners::Polling;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The long-poll wait of both bots (what the bot's tests use).
const POLL_TIMEOUT: Duration = Duration::from_secs(1);
/// Updates pushed (and answered) before measuring.
const WARMUP: usize = 100;
/// A phase gives up waiting for replies after this long.
const PHASE_TIMEOUT: Duration = Duration::from_secs(90);
/// Passes through the queries when timing the search alone.
const CORE_PASSES: usize = 15;
/// When the steady rate is lowered to what a slow bot keeps up with, it lasts this long.
const STEADY_SECS: f64 = 5.0;
/// Further burst rounds are skipped once one took longer than this.
const SLOW_ROUND: Duration = Duration::from_secs(12);
/// The steady phase of bots measured together runs in this many alternating blocks.
const STEADY_BLOCKS: usize = 5;
/// One-at-a-time updates of bots measured together alternate in blocks of this many.
const SEQUENTIAL_BLOCK: usize = 50;
/// A pause before a bot's turn, so that the work the previous bot still does after its
/// last reply was received (reading the response, freeing) is not timed as this one's.
const SETTLE: Duration = Duration::from_millis(20);

const ECHO: &str = "echo (bare teloxide)";
const SEED: &str = "postkeeper, seed";
const CANNED: &str = "canned seed replies";
const WEBHOOK: &str = "postkeeper, seed, webhook";

/// Realistic queries, cycled through: phrases, single words, an inflected form, a word
/// the seed lacks (found in none or few posts).
const QUERIES: &[&str] = &[
    "обучение с подкреплением",
    "робот",
    "экзопланеты",
    "распознавание речи",
    "нейросети",
    "компьютерное зрение",
    "языковые модели",
    "глубокое обучение",
    "медицина",
    "роботу-собаке",
];

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        Err(_) => default,
    }
}

struct Settings {
    burst: usize,
    rounds: usize,
    rate: f64,
    steady: usize,
    sequential: usize,
    posts: usize,
    bots: Vec<String>,
}

impl Settings {
    fn from_env() -> Self {
        Settings {
            burst: env_usize("POSTKEEPER_DISPATCH_N", 2000),
            rounds: env_usize("POSTKEEPER_DISPATCH_ROUNDS", 3).max(1),
            rate: env_usize("POSTKEEPER_DISPATCH_RATE", 200).max(1) as f64,
            steady: env_usize("POSTKEEPER_DISPATCH_STEADY", 2000),
            sequential: env_usize("POSTKEEPER_DISPATCH_SEQUENTIAL", 1000),
            posts: env_usize("POSTKEEPER_DISPATCH_POSTS", 100_000),
            bots: std::env::var("POSTKEEPER_DISPATCH_BOTS")
                .unwrap_or_else(|_| "echo,seed,canned,big".into())
                .split(',')
                .map(|b| b.trim().to_string())
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The bots under test

enum Stop {
    Postkeeper(bot::Running),
    /// A bot in webhook mode, and its HTTP server.
    Webhook(bot::Running, CancellationToken, JoinHandle<()>),
    Bare(ShutdownToken, JoinHandle<()>),
}

/// A bot polling its own fake server.
struct Target {
    tg: FakeTelegram,
    stop: Stop,
    next_chat: i64,
    /// Updates pushed so far.
    pushed: usize,
}

/// One pushed update: its private chat and when it was pushed.
struct Sent {
    chat: i64,
    at: Instant,
}

impl Target {
    async fn postkeeper(archive: Archive) -> Target {
        let tg = telegram().await;
        let state = Arc::new(BotState::new(SharedArchive::new(archive), Config::default()));
        let running = bot::spawn(tg.bot(), state, POLL_TIMEOUT).await.expect("the bot starts");
        Target { tg, stop: Stop::Postkeeper(running), next_chat: 1_000_000, pushed: 0 }
    }

    /// postkeeper in webhook mode: the fake server POSTs each update to the bot's HTTP
    /// server (through its stand-in for the proxy) instead of answering getUpdates.
    async fn webhook(archive: Archive) -> Target {
        let tg = telegram().await;
        let state = Arc::new(BotState::new(SharedArchive::new(archive), Config::default()));
        let url = "https://bot.example.org/telegram".parse().expect("a URL");
        let hook = Arc::new(bot::webhook::Webhook::new(url, "bench-secret".to_string()));
        let addr = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
        let stop = CancellationToken::new();
        let routes = hook.route(state.raw.clone(), state.health.clone());
        let server = bot::http::serve(addr, state.clone(), routes, stop.clone()).await.expect("the server starts");
        tg.proxy("https://bot.example.org", &format!("http://{addr}"));
        let running = bot::spawn_with(tg.bot(), state, bot::Intake::Webhook(hook)).await.expect("the bot starts");
        tg.wait_for_calls("setWebhook", 1, Duration::from_secs(10)).await;
        Target { tg, stop: Stop::Webhook(running, stop, server), next_chat: 1_000_000, pushed: 0 }
    }

    /// A bare teloxide bot (no state, no store) with the same polling as postkeeper's.
    async fn bare(handler: UpdateHandler<teloxide::RequestError>) -> Target {
        let tg = telegram().await;
        let bot = tg.bot();
        let mut dispatcher = Dispatcher::builder(bot.clone(), handler).build();
        let shutdown = dispatcher.shutdown_token();
        let listener = Polling::builder(bot).timeout(POLL_TIMEOUT).build();
        let task = tokio::spawn(async move {
            let errors = LoggingErrorHandler::with_custom_text("polling failed");
            dispatcher.dispatch_with_listener(listener, errors).await;
        });
        Target { tg, stop: Stop::Bare(shutdown, task), next_chat: 1_000_000, pushed: 0 }
    }

    /// A bare bot that sends the text back.
    async fn echo() -> Target {
        Self::bare(Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
            if let Some(text) = msg.text() {
                bot.send_message(msg.chat.id, text).await?;
            }
            Ok(())
        }))
        .await
    }

    /// A bare bot that answers each `/search` with the reply postkeeper gives it over
    /// the seed, made in advance (HTML, keyboard, no preview): what sending that message
    /// costs any bot, with no search behind it.
    async fn canned(replies: HashMap<String, Reply>) -> Target {
        let replies = Arc::new(replies);
        Self::bare(Update::filter_message().endpoint(move |bot: Bot, msg: Message| {
            let replies = replies.clone();
            async move {
                let reply = msg.text().and_then(|t| t.strip_prefix("/search ")).and_then(|q| replies.get(q));
                if let Some(reply) = reply {
                    bot::send_reply(&bot, msg.chat.id, reply).await?;
                }
                Ok(())
            }
        }))
        .await
    }

    /// Pushes `/search <the next query>` from a new private chat.
    fn push(&mut self) -> Sent {
        let chat = self.next_chat;
        self.next_chat += 1;
        let query = QUERIES[self.pushed % QUERIES.len()];
        self.pushed += 1;
        let update = updates::text(chat, chat, Some("ru"), &format!("/search {query}"));
        let at = Instant::now();
        self.tg.push_update(update);
        Sent { chat, at }
    }

    /// Updates pushed whose reply the fake server has not recorded yet (each gets one).
    fn unanswered(&self) -> usize {
        self.pushed.saturating_sub(self.tg.successful_calls("sendMessage"))
    }

    /// Waits until every update pushed so far got its reply (or the phase timeout).
    async fn wait_replies(&self, poll: Duration) {
        let deadline = Instant::now() + PHASE_TIMEOUT;
        loop {
            let left = self.unanswered();
            if left == 0 {
                return;
            }
            if Instant::now() >= deadline {
                eprintln!("  timed out: {left} updates unanswered");
                return;
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// chat id -> when the first successful sendMessage to it arrived.
    fn replies(&self) -> HashMap<i64, Instant> {
        let mut first = HashMap::new();
        for call in self.tg.calls_to("sendMessage").into_iter().filter(|c| c.ok) {
            let chat = match &call.params["chat_id"] {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            if let Some(chat) = chat {
                first.entry(chat).and_modify(|t: &mut Instant| *t = (*t).min(call.at)).or_insert(call.at);
            }
        }
        first
    }

    /// Latencies of `sent` (the unanswered ones left out) and the time of the last reply.
    fn latencies(&self, sent: &[Sent]) -> (Vec<Duration>, Option<Instant>, usize) {
        let replies = self.replies();
        let mut lat = Vec::with_capacity(sent.len());
        let mut last = None::<Instant>;
        let mut missing = 0;
        for s in sent {
            match replies.get(&s.chat) {
                Some(&at) => {
                    lat.push(at.saturating_duration_since(s.at));
                    last = Some(last.map_or(at, |l| l.max(at)));
                }
                None => missing += 1,
            }
        }
        (lat, last, missing)
    }

    async fn shutdown(self) -> usize {
        let errors = self.tg.errors().len();
        match self.stop {
            Stop::Postkeeper(running) => running.shutdown(Duration::from_secs(5)).await,
            Stop::Webhook(running, stop, server) => {
                stop.cancel();
                let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
                running.shutdown(Duration::from_secs(5)).await;
            }
            Stop::Bare(token, task) => {
                if let Ok(done) = token.shutdown() {
                    let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            }
        }
        drop(self.tg);
        errors
    }
}

// ---------------------------------------------------------------------------------------
// Statistics

#[derive(Clone, Copy, Default)]
struct Percentiles {
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
}

/// Nearest-rank percentiles.
fn percentiles(mut v: Vec<Duration>) -> Percentiles {
    if v.is_empty() {
        return Percentiles::default();
    }
    v.sort_unstable();
    let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Percentiles { p50: at(0.50), p90: at(0.90), p99: at(0.99), max: v[v.len() - 1] }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

struct Row {
    name: String,
    /// updates/s of each burst round
    rounds: Vec<f64>,
    burst: Percentiles,
    steady: Percentiles,
    steady_rate: f64,
    sequential: Percentiles,
    /// The `/search` handling alone (None for the echo bot).
    core: Option<Core>,
    missing: usize,
    errors: usize,
}

impl Row {
    fn throughput(&self) -> f64 {
        median(&self.rounds)
    }
}

// ---------------------------------------------------------------------------------------
// Phases

async fn warm_up(target: &mut Target) {
    for _ in 0..WARMUP {
        target.push();
    }
    target.wait_replies(Duration::from_millis(5)).await;
}

/// `n` updates pushed at once: (updates/s, latencies, unanswered).
async fn burst(target: &mut Target, n: usize) -> (f64, Vec<Duration>, usize) {
    let sent: Vec<Sent> = (0..n).map(|_| target.push()).collect();
    target.wait_replies(Duration::from_millis(5)).await;
    let (lat, last, missing) = target.latencies(&sent);
    let span = last.map_or(Duration::ZERO, |l| l.saturating_duration_since(sent[0].at));
    let rate = if span.is_zero() { 0.0 } else { lat.len() as f64 / span.as_secs_f64() };
    (rate, lat, missing)
}

/// `n` updates at `rate` per second: (latencies, time from the first push to the last, unanswered).
async fn steady(target: &mut Target, n: usize, rate: f64) -> (Vec<Duration>, Duration, usize) {
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut ticks = tokio::time::interval(period);
    let mut sent = Vec::with_capacity(n);
    for _ in 0..n {
        ticks.tick().await;
        sent.push(target.push());
    }
    let pushed_in = sent.last().map_or(Duration::ZERO, |l| l.at.saturating_duration_since(sent[0].at));
    target.wait_replies(Duration::from_millis(20)).await;
    let (lat, _, missing) = target.latencies(&sent);
    (lat, pushed_in, missing)
}

/// One update, pushed when every earlier one was answered, and waited for.
async fn one_alone(target: &mut Target) -> Sent {
    let sent = target.push();
    let deadline = Instant::now() + Duration::from_secs(10);
    while target.unanswered() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sent
}

/// Time of `chat::on_command(Search)` for each query: the median over passes through all
/// the queries (after one warm-up pass), so that other load on the machine counts less.
fn core_ctx() -> Ctx {
    let config = Config::default();
    Ctx {
        chat_id: 1,
        lang: Lang::Ru,
        private: true,
        bot_username: fake_bot_api::BOT_USERNAME.to_string(),
        tz: config.timezone,
        now: chrono::Utc::now(),
        user_id: Some(1),
        access: Access::for_user(&config, 1),
        searcher: postkeeper::search::Searcher::default(),
        media_dir: config.media_dir,
        public_url: None,
    }
}

/// postkeeper's reply to each query (the first, when a command gives several).
fn canned_replies(archive: &mut Archive) -> HashMap<String, Reply> {
    let ctx = core_ctx();
    QUERIES
        .iter()
        .map(|q| {
            let replies = chat::on_command(archive, &ctx, Command::Search(q.to_string())).expect("search");
            (q.to_string(), replies.into_iter().next().expect("a reply"))
        })
        .collect()
}

fn core_search(archive: &mut Archive) -> Core {
    let ctx = core_ctx();
    let mut pass = || -> Vec<Duration> {
        QUERIES
            .iter()
            .map(|q| {
                let started = Instant::now();
                black_box(chat::on_command(archive, &ctx, Command::Search(q.to_string())).expect("search"));
                started.elapsed()
            })
            .collect()
    };
    pass();
    let passes: Vec<Vec<Duration>> = (0..CORE_PASSES).map(|_| pass()).collect();
    let per_query: Vec<Duration> = (0..QUERIES.len())
        .map(|q| {
            let mut times: Vec<Duration> = passes.iter().map(|p| p[q]).collect();
            times.sort_unstable();
            times[times.len() / 2]
        })
        .collect();
    Core { mean: per_query.iter().sum::<Duration>() / QUERIES.len() as u32, per_query }
}

/// The `/search` handling alone, in process.
struct Core {
    /// Mean over the queries (each update cycles through them).
    mean: Duration,
    /// In the order of `QUERIES`.
    per_query: Vec<Duration>,
}

/// A bot under measurement and what was measured of it so far.
struct Bench {
    name: String,
    target: Target,
    core: Option<Core>,
    rounds: Vec<f64>,
    burst_lat: Vec<Duration>,
    /// No further burst rounds (one was slow).
    slow: bool,
    steady_lat: Vec<Duration>,
    /// (updates pushed, seconds they took) over the steady blocks.
    steady_pushed: (usize, f64),
    sequential: Vec<Sent>,
    missing: usize,
}

impl Bench {
    fn new(name: &str, target: Target, core: Option<Core>) -> Self {
        Bench {
            name: name.to_string(),
            target,
            core,
            rounds: Vec::new(),
            burst_lat: Vec::new(),
            slow: false,
            steady_lat: Vec::new(),
            steady_pushed: (0, 0.0),
            sequential: Vec::new(),
            missing: 0,
        }
    }
}

/// Measures bots together: in each phase they take turns (burst rounds alternate, the
/// steady phase and the one-at-a-time updates run in alternating blocks),
/// so that a change in the machine's load during the run falls on all of them alike.
/// The targets are ratios between bots; measured one after the other, the same code's
/// ratio moved by a factor of two between runs.
async fn measure_together(mut bots: Vec<Bench>, s: &Settings) -> Vec<Row> {
    for b in &mut bots {
        eprintln!("{}: warming up", b.name);
        warm_up(&mut b.target).await;
    }
    for round in 0..s.rounds {
        for b in bots.iter_mut().filter(|b| !b.slow) {
            tokio::time::sleep(SETTLE).await;
            let started = Instant::now();
            let (rate, lat, miss) = burst(&mut b.target, s.burst).await;
            eprintln!("{}: burst round {}: {rate:.0} updates/s", b.name, round + 1);
            b.rounds.push(rate);
            b.burst_lat.extend(lat);
            b.missing += miss;
            if started.elapsed() > SLOW_ROUND && round + 1 < s.rounds {
                eprintln!("{}: burst rounds are slow, skipping the remaining ones", b.name);
                b.slow = true;
            }
        }
    }
    // A steady rate each bot can keep up with: at most half of its burst throughput, and
    // then at most STEADY_SECS of updates.
    let plans: Vec<(f64, usize)> = bots
        .iter()
        .map(|b| {
            let throughput = median(&b.rounds);
            if s.rate <= throughput / 2.0 {
                (s.rate, s.steady)
            } else {
                let rate = (throughput / 2.0).floor().max(1.0);
                (rate, s.steady.min((rate * STEADY_SECS) as usize).max(2))
            }
        })
        .collect();
    for (b, (rate, count)) in bots.iter().zip(&plans) {
        eprintln!("{}: steady {rate:.0}/s, {count} updates in {STEADY_BLOCKS} blocks", b.name);
    }
    for block in 0..STEADY_BLOCKS {
        for (b, &(rate, count)) in bots.iter_mut().zip(&plans) {
            // This block's share of the bot's updates.
            let n = count * (block + 1) / STEADY_BLOCKS - count * block / STEADY_BLOCKS;
            if n == 0 {
                continue;
            }
            tokio::time::sleep(SETTLE).await;
            let (lat, pushed_in, miss) = steady(&mut b.target, n, rate).await;
            b.steady_lat.extend(lat);
            b.steady_pushed.0 += n - 1;
            b.steady_pushed.1 += pushed_in.as_secs_f64();
            b.missing += miss;
        }
    }
    eprintln!("one at a time: {} updates each, the bots taking turns every {SEQUENTIAL_BLOCK}", s.sequential);
    for block in 0..s.sequential.div_ceil(SEQUENTIAL_BLOCK) {
        let n = SEQUENTIAL_BLOCK.min(s.sequential - block * SEQUENTIAL_BLOCK);
        for b in &mut bots {
            tokio::time::sleep(SETTLE).await;
            for _ in 0..n {
                let sent = one_alone(&mut b.target).await;
                b.sequential.push(sent);
            }
        }
    }
    let mut rows = Vec::new();
    for mut b in bots {
        let (seq_lat, _, miss) = b.target.latencies(&b.sequential);
        b.missing += miss;
        let errors = b.target.shutdown().await;
        let (pushed, secs) = b.steady_pushed;
        rows.push(Row {
            name: b.name,
            rounds: b.rounds,
            burst: percentiles(b.burst_lat),
            steady: percentiles(b.steady_lat),
            steady_rate: if secs > 0.0 { pushed as f64 / secs } else { 0.0 },
            sequential: percentiles(seq_lat),
            core: b.core,
            missing: b.missing,
            errors,
        });
    }
    rows
}

/// A private copy of the cached corpus store (the bot writes its search queries into the
/// store it runs on; the cache stays as built).
fn big_archive(posts: usize, dir: &Path) -> Archive {
    let cached = common::corpus_db(posts);
    let copy = dir.join(format!("posts-{posts}.db"));
    std::fs::copy(&cached, &copy).expect("copy the corpus store");
    Archive::open(&copy).expect("open the corpus store")
}

// ---------------------------------------------------------------------------------------
// Report

fn print_table(rows: &[Row], s: &Settings) {
    println!();
    println!(
        "dispatch over loopback: {}, {} cores, long poll {} s, ≤100 updates per getUpdates",
        if TELEGRAM.get().is_some() {
            "fake Bot API servers on core 0, bots on core 1 (one worker)"
        } else {
            "fake Bot API server and bot on one tokio runtime (2 workers)"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        POLL_TIMEOUT.as_secs()
    );
    println!(
        "burst: {} updates pushed at once, median of ≤{} rounds; steady: {} updates at {:.0}/s; \
         one at a time: {} updates; latency = push → sendMessage received, ms",
        s.burst, s.rounds, s.steady, s.rate, s.sequential
    );
    println!();
    println!(
        "{:<22} {:>6} {:>11} {:>6} | {:>7} {:>7} | {:>6} {:>6} {:>6} {:>6} | {:>6} {:>6} {:>6} {:>6} | {:>4} {:>3}",
        "bot",
        "upd/s",
        "rounds",
        "core",
        "burst50",
        "burst99",
        "st p50",
        "st p90",
        "st p99",
        "st max",
        "1 p50",
        "1 p90",
        "1 p99",
        "1 max",
        "miss",
        "err"
    );
    println!("{}", "-".repeat(139));
    for r in rows {
        let min = r.rounds.iter().copied().fold(f64::INFINITY, f64::min);
        let max = r.rounds.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<22} {:>6.0} {:>11} {:>6} | {:>7.1} {:>7.1} | {:>6.2} {:>6.2} {:>6.2} {:>6.2} | {:>6.2} {:>6.2} {:>6.2} {:>6.2} | {:>4} {:>3}",
            r.name,
            r.throughput(),
            format!("{min:.0}-{max:.0}"),
            r.core.as_ref().map_or("-".to_string(), |c| format!("{:.2}", ms(c.mean))),
            ms(r.burst.p50),
            ms(r.burst.p99),
            ms(r.steady.p50),
            ms(r.steady.p90),
            ms(r.steady.p99),
            ms(r.steady.max),
            ms(r.sequential.p50),
            ms(r.sequential.p90),
            ms(r.sequential.p99),
            ms(r.sequential.max),
            r.missing,
            r.errors
        );
    }
    println!();
    println!("upd/s: median of the burst rounds (min-max); core: ms per /search in process, no Telegram");
    for r in rows {
        if (r.steady_rate - s.rate).abs() > s.rate * 0.05 {
            println!(
                "note: {}: steady updates came at {:.0}/s, not {:.0}/s (at most half the bot's burst throughput)",
                r.name, r.steady_rate, s.rate
            );
        }
        if let Some(core) = &r.core {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let ceiling = cores as f64 / core.mean.as_secs_f64();
            println!(
                "{}: {cores} store connections allow at most {ceiling:.0} updates/s; the bot got {:.0} ({:.0}%)",
                r.name,
                r.throughput(),
                100.0 * r.throughput() / ceiling
            );
        }
    }
    let cores: Vec<(&str, &Core)> = rows.iter().filter_map(|r| Some((r.name.as_str(), r.core.as_ref()?))).collect();
    if !cores.is_empty() {
        println!();
        print!("{:<28}", "/search alone, ms per query");
        for (name, _) in &cores {
            print!(" {name:>24}");
        }
        println!();
        for (i, q) in QUERIES.iter().enumerate() {
            print!("{q:<28}");
            for (_, core) in &cores {
                print!(" {:>24.2}", ms(core.per_query[i]));
            }
            println!();
        }
        println!();
    }
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("targets:");
    let row = |name: &str| rows.iter().find(|r| r.name == name);
    if let (Some(echo), Some(seed)) = (row(ECHO), row(SEED)) {
        let ratio = seed.throughput() / echo.throughput();
        println!("  seed / echo throughput          = {ratio:.2} (≥ 0.80): {}", verdict(ratio >= 0.8));
        let p99 = ms(seed.steady.p99) / ms(echo.steady.p99);
        println!("  seed / echo p99, steady         = {p99:.2} (≤ 2.00): {}", verdict(p99 <= 2.0));
        let p99 = ms(seed.sequential.p99) / ms(echo.sequential.p99);
        println!("  seed / echo p99, one at a time  = {p99:.2} (≤ 2.00): {}", verdict(p99 <= 2.0));
    }
    if let (Some(hook), Some(seed)) = (row(WEBHOOK), row(SEED)) {
        let ratio = hook.throughput() / seed.throughput();
        println!("  webhook / polling throughput    = {ratio:.2} (≥ 0.90): {}", verdict(ratio >= 0.9));
        println!(
            "  webhook / polling p99, steady   = {:.2}; one at a time = {:.2}",
            ms(hook.steady.p99) / ms(seed.steady.p99),
            ms(hook.sequential.p99) / ms(seed.sequential.p99)
        );
    }
    if let (Some(canned), Some(seed), Some(echo)) = (row(CANNED), row(SEED), row(ECHO)) {
        println!(
            "  (canned replies / echo throughput = {:.2}; seed / canned = {:.2}: the share of the gap that is the search)",
            canned.throughput() / echo.throughput(),
            seed.throughput() / canned.throughput()
        );
    }
    for big in rows.iter().filter(|r| ![ECHO, SEED, CANNED, WEBHOOK].contains(&r.name.as_str())) {
        let t = big.throughput();
        println!("  {} throughput = {t:.0} updates/s (≥ 300): {}", big.name, verdict(t >= 300.0));
    }
    if rows.iter().any(|r| r.missing > 0 || r.errors > 0) {
        println!("  (some updates were not answered or some calls failed: see the miss/err columns)");
    }
}

/// The runtime the fake servers run on when Telegram has a core of its own.
static TELEGRAM: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();

/// A fake Bot API server: on Telegram's own runtime when there is one, else on this one.
async fn telegram() -> FakeTelegram {
    match TELEGRAM.get() {
        Some(rt) => rt.spawn(FakeTelegram::start()).await.expect("the fake server starts"),
        None => FakeTelegram::start().await,
    }
}

/// Pins the calling thread (and the threads it starts later) to `core`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn pin_to(core: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes inside it; the call reads it.
    let pinned = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(pinned, 0, "cannot pin a thread to core {core}: {}", std::io::Error::last_os_error());
}

/// Telegram's runtime on core 0, this thread (the bots' runtime and store) on core 1.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn split_cores() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(cores >= 2, "POSTKEEPER_DISPATCH_SPLIT needs two cores, this machine gives {cores}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        pin_to(0);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        tx.send(rt.handle().clone()).expect("the bench waits for it");
        rt.block_on(std::future::pending::<()>());
    });
    TELEGRAM.set(rx.recv().expect("Telegram's runtime")).expect("set once");
    pin_to(1);
    true
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn split_cores() -> bool {
    eprintln!("POSTKEEPER_DISPATCH_SPLIT works on Linux only; the cores are shared");
    false
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let split = std::env::var_os("POSTKEEPER_DISPATCH_SPLIT").is_some_and(|v| v == "1") && split_cores();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(if split { 1 } else { 2 })
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(bench(split));
}

async fn bench(split: bool) {
    let s = Settings::from_env();
    if split {
        eprintln!("Telegram on core 0, the bots on core 1");
    }
    if std::env::var_os("POSTKEEPER_DISPATCH_METRICS").is_some_and(|v| v == "1") {
        // What `run` does with POSTKEEPER_LISTEN: every counter and histogram recorded.
        bot::http::recorder();
        eprintln!("metrics recorder installed");
    }
    let started = Instant::now();
    let runs = |bot: &str| s.bots.iter().any(|b| b == bot);
    let mut rows = Vec::new();

    // The bots whose ratios are the targets are measured together, taking turns.
    let mut together = Vec::new();
    if runs("echo") {
        together.push(Bench::new(ECHO, Target::echo().await, None));
    }
    let dir = tempfile::tempdir_in(common::target_dir()).expect("a temporary directory under target/");
    if runs("seed") {
        // A store on disk, as `postkeeper run` keeps it (one connection per core).
        let mut seed = Archive::open(&dir.path().join("seed.db")).expect("a store");
        postkeeper::ingest::seed_if_empty(&mut seed).expect("seed imports");
        let core = core_search(&mut seed);
        let canned = canned_replies(&mut seed);
        together.push(Bench::new(SEED, Target::postkeeper(seed).await, Some(core)));
        if runs("canned") {
            together.push(Bench::new(CANNED, Target::canned(canned).await, None));
        }
        if runs("webhook") {
            let mut store = Archive::open(&dir.path().join("seed-webhook.db")).expect("a store");
            postkeeper::ingest::seed_if_empty(&mut store).expect("seed imports");
            let core = core_search(&mut store);
            together.push(Bench::new(WEBHOOK, Target::webhook(store).await, Some(core)));
        }
    }
    rows.extend(measure_together(together, &s).await);
    if runs("big") && s.posts > 0 {
        let mut archive = big_archive(s.posts, dir.path());
        let core = core_search(&mut archive);
        let name = format!("postkeeper, {}k posts", s.posts / 1000);
        rows.extend(measure_together(vec![Bench::new(&name, Target::postkeeper(archive).await, Some(core))], &s).await);
    }

    print_table(&rows, &s);
    eprintln!("total {:.0} s", started.elapsed().as_secs_f64());
}
