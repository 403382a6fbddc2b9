//! Two `postkeeper run` processes on one store, configured through the environment
//! as an operator would (by mistake) set them up: the replay worker's lease lets
//! exactly one of them deliver, and the other takes over when the holder is killed.
//!
//! Each bot talks to a fake server of its own (one server would see two pollers on
//! the token and answer 409, which stops a bot); both servers know the channel, so a
//! second delivery would show on either.
//!
//! A worker that loses the lease in the middle of a run is tested in process, on a
//! manual clock, where the moment of the loss can be chosen.

use postkeeper::replay::state::{JobState, PartState, RunState};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use fake_bot_api::{FakeTelegram, Fault, updates};
use postkeeper::config::{ChatRef, Config};
use postkeeper::model::{NewChannel, NewPost};
use postkeeper::replay::jobs::Lease;
use postkeeper::replay::when::Schedule;
use postkeeper::replay::{Clock, Target};
use postkeeper::store::Archive;

use crate::support::harness::Harness;
use crate::support::process::{BotProcess, Workdir};
use crate::support::wait::eventually;

const CHANNEL: i64 = -1_002_000_000_001;
const ADMIN: i64 = 1001;
/// Long enough for a bot to start, and for a lease to expire (15 s) with room to spare.
const WAIT: Duration = Duration::from_secs(40);

/// The working directory both bots share, its `.env` as an operator would write it.
fn workdir() -> Workdir {
    Workdir::new(&format!(
        "POSTKEEPER_DB=shared.db\nPOSTKEEPER_ADMINS={ADMIN}\nPOSTKEEPER_REPLAY_CHAT={CHANNEL}\nRUST_LOG=info\n"
    ))
}

/// `postkeeper ARGS` as a CLI command on the shared store; must succeed.
fn cli(work: &Workdir, args: &[&str]) {
    let out = work.cli(args);
    assert!(
        out.status.success(),
        "postkeeper {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `postkeeper run` process with a fake server of its own.
struct Bot {
    name: &'static str,
    process: BotProcess,
    tg: FakeTelegram,
}

impl Bot {
    async fn start(work: &Workdir, name: &'static str) -> Bot {
        let tg = FakeTelegram::start().await;
        tg.add_chat(updates::channel_chat(CHANNEL, Some("replay_chan")));
        tg.add_chat(updates::private_chat(ADMIN));
        let url = tg.url();
        let env = [("TELOXIDE_TOKEN", fake_bot_api::TOKEN), ("TELOXIDE_API_URL", url.as_str()), ("NO_COLOR", "1")];
        let process = work.spawn_with(&env, &["run"]);
        let bot = Bot { name, process, tg };
        // Running: its replay worker has tried the lease (the dispatcher started with it).
        until(|| bot.logs(), || bot.logs().contains("replay lease")).await;
        bot
    }

    fn logs(&self) -> String {
        self.process.logs()
    }

    /// Replays that reached the channel through this bot's server.
    fn replays(&self) -> Vec<String> {
        self.tg.messages(CHANNEL).into_iter().map(|m| m.text).collect()
    }

    fn errors(&self) -> Vec<fake_bot_api::Call> {
        self.tg.errors()
    }
}

/// Waits (at most `WAIT`) until `done` holds; `what` explains a timeout.
async fn until(what: impl Fn() -> String, done: impl Fn() -> bool) {
    eventually(WAIT, what, done).await;
}

/// Both bots' logs, for a timeout's message.
fn describe<'a>(bots: [&'a Bot; 2]) -> impl Fn() -> String + 'a {
    move || bots.iter().map(|b| format!("--- {}:\n{}", b.name, b.logs())).collect()
}

fn store(dir: &Path) -> Archive {
    Archive::open(&dir.join("shared.db")).expect("the shared store opens")
}

fn lease(dir: &Path) -> Option<Lease> {
    store(dir).replay_lease().expect("reads the lease")
}

/// The states of the runs of job `id`.
fn runs_of(dir: &Path, id: i64) -> Vec<RunState> {
    let runs = store(dir).recent_runs(100).expect("reads runs");
    runs.into_iter().filter(|r| r.job_id == id).map(|r| r.state).collect()
}

fn title(dir: &Path, post: i64) -> String {
    store(dir).post(post).expect("reads").expect("the seed has the post").title
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_on_one_store_deliver_each_replay_once() {
    let work = workdir();
    let dir = work.path();
    // The store exists (seeded) before the bots start, as after an operator's first run.
    cli(&work, &["queue"]);
    let a = Bot::start(&work, "a").await;
    let b = Bot::start(&work, "b").await;
    // One worker took the lease, the other says it waits.
    const TOOK: &str = "took the replay lease";
    const WAITS: &str = "another worker holds the replay lease";
    until(describe([&a, &b]), || {
        let (la, lb) = (a.logs(), b.logs());
        (la.contains(TOOK) && lb.contains(WAITS)) || (lb.contains(TOOK) && la.contains(WAITS))
    })
    .await;
    let (mut holder, other) = if a.logs().contains(TOOK) { (a, b) } else { (b, a) };
    let first = lease(dir).expect("the lease is held");
    assert!(holder.logs().contains(&first.owner), "the holder's log names its lease: {}", holder.logs());

    // A due job: delivered once, by the holder.
    cli(&work, &["schedule", "3", "in", "2s"]);
    until(describe([&holder, &other]), || holder.replays().len() + other.replays().len() >= 1).await;
    until(|| format!("{:?}", runs_of(dir, 1)), || runs_of(dir, 1) == [RunState::Sent]).await;
    assert_eq!(holder.replays().len(), 1, "{:?}", holder.replays());
    assert!(holder.replays()[0].starts_with(&title(dir, 3)), "{:?}", holder.replays());
    assert!(other.replays().is_empty(), "the waiting bot delivered too: {:?}", other.replays());
    assert_eq!(
        store(dir).job(1).expect("reads").expect("job").state,
        JobState::Done,
        "nothing left for the other bot to deliver"
    );

    // The holder is killed: its lease stays until it expires, then the other bot takes
    // over and delivers the next job, once.
    holder.process.kill();
    let killed = (Instant::now(), Utc::now());
    let stale = lease(dir).expect("a killed holder leaves its lease");
    assert_eq!(stale.owner, first.owner);
    let expiry = killed.0 + (stale.expires_at - killed.1).to_std().unwrap_or_default();
    cli(&work, &["schedule", "5", "in", "2s"]);
    until(describe([&holder, &other]), || !other.replays().is_empty()).await;
    let sent = other.tg.calls_to("sendMessage");
    let delivery = sent.iter().find(|c| c.ok && c.params["chat_id"] == CHANNEL).expect("the replay's call");
    // (Instants and the system clock agree to well within 50 ms.)
    assert!(
        delivery.at + Duration::from_millis(50) >= expiry,
        "delivered {:?} before the killed holder's lease expired",
        expiry - delivery.at
    );
    until(|| format!("{:?}", runs_of(dir, 2)), || runs_of(dir, 2) == [RunState::Sent]).await;
    assert_eq!(other.replays().len(), 1, "{:?}", other.replays());
    assert!(other.replays()[0].starts_with(&title(dir, 5)), "{:?}", other.replays());
    assert_eq!(holder.replays().len(), 1, "the killed bot's server got nothing more");
    let took_over = lease(dir).expect("the other bot holds the lease");
    assert_ne!(took_over.owner, first.owner);
    let logs = other.logs();
    assert!(
        logs.contains("took over the replay lease") && logs.contains(&first.owner),
        "the log names the takeover and the previous holder: {logs}"
    );
    assert_eq!(runs_of(dir, 1), [RunState::Sent], "the first job was not delivered again");

    // A clean stop gives the lease back at once.
    let Bot { name, process, tg } = other;
    let (status, logs) = process.stop().await;
    assert!(status.success(), "{name}: exit status {status:?}: {logs}");
    assert_eq!(lease(dir), None, "released: {logs}");
    assert!(logs.contains("released the replay lease"), "{logs}");
    assert!(tg.errors().is_empty(), "{name}: {:#?}", tg.errors());
    assert!(!logs.contains("panicked"), "{name}: {logs}");
    assert!(holder.errors().is_empty(), "{}: {:#?}", holder.name, holder.errors());
    assert!(!holder.logs().contains("panicked"), "{}: {}", holder.name, holder.logs());
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().expect("valid")
}

/// A store on disk with the seed and one post long enough for several messages (#21).
fn long_post_store(path: &Path) -> Archive {
    let mut a = Archive::open(path).expect("store");
    postkeeper::ingest::import_seed(&mut a).expect("seed");
    let paragraph = "Длинный абзац про архив, повторы и каналы. ".repeat(60);
    let text = format!("Очень длинный пост\n{}", vec![paragraph; 6].join("\n\n"));
    a.import(|sink| -> Result<(), postkeeper::store::StoreError> {
        sink.channel(&NewChannel::telegram(-100_555, "Long"))?;
        sink.post(NewPost {
            message_id: Some(1),
            seq: 1,
            date: Some(1_634_000_000),
            edited: None,
            text,
            entities: vec![],
            ..Default::default()
        })?;
        Ok(())
    })
    .expect("import");
    a
}

/// In one process, on a manual clock: the worker holds the lease and is waiting out a
/// 429 on the first part of a run when another worker takes the lease over. It sends
/// nothing more; when the lease is free again it takes it back, resumes the run and
/// every part arrives once.
#[tokio::test]
async fn a_worker_that_lost_its_lease_mid_run_sends_no_further_part() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shared.db");
    let archive = long_post_store(&db);
    let config =
        Config { admins: vec![ADMIN], replay_chat: Some(ChatRef::Username("replay_chan".into())), ..Config::default() };
    let (clock, manual) = Clock::manual(t0());
    let h = Harness::with_clock(config, archive, clock, |tg| {
        tg.add_chat(updates::channel_chat(CHANNEL, Some("replay_chan")));
        tg.add_chat(updates::private_chat(ADMIN));
    })
    .await;
    // Another process's connection: the CLI, then the other worker.
    let other = Archive::open(&db).expect("second connection");
    until(|| "the bot's worker never took the lease".into(), || lease(dir.path()).is_some()).await;

    h.tg.inject("sendMessage", Fault::RetryAfter(30));
    let job = other.create_job(Target::Post(21), &Schedule::Once, t0(), None, t0()).expect("job");
    until(|| h.tg.dump_calls(), || !h.tg.calls_to("sendMessage").is_empty()).await;
    let run = || other.recent_runs(10).expect("runs").into_iter().find(|r| r.job_id == job).expect("the run began");
    let parts = || other.run_parts(run().id).expect("parts");
    // The 429 is recorded: part 0 is pending again, the worker waits 30 s (manual clock).
    until(|| format!("{:?}", parts()), || parts()[0].state == PartState::Pending).await;
    let total = parts().len();
    assert!(total >= 3, "{total} parts");

    // The lease goes to another worker (as after an expiry), which holds it for a while.
    let far = (Utc::now() + chrono::Duration::seconds(120)).timestamp_millis();
    rusqlite::Connection::open(&db)
        .and_then(|c| c.execute("UPDATE replay_lease SET owner = 'intruder', expires_at = ?1", [far]))
        .expect("the lease changes hands");
    let lost_before = h.state.passes.borrow().leases_lost;
    manual.advance(Duration::from_secs(30));
    // The wait is over: the next request would go out now, were it not checked. The worker
    // says when it has found the lease gone (its next write refused).
    until(|| format!("{:?}", *h.state.passes.borrow()), || h.state.passes.borrow().leases_lost > lost_before).await;
    h.tg.wait_idle(crate::support::harness::QUIET).await;
    assert_eq!(h.tg.calls_to("sendMessage").len(), 1, "sent after losing the lease: {}", h.tg.dump_calls());
    assert_eq!(run().state, RunState::Sending, "the run is left open for the holder");
    assert!(parts().iter().all(|p| p.state == PartState::Pending), "{:?}", parts());

    // The other worker stops cleanly: this one takes the lease back and resumes the run.
    assert!(other.release_lease("intruder").expect("releases"));
    until(|| h.tg.dump_calls(), || h.tg.messages(CHANNEL).len() >= total).await;
    until(|| format!("{:?}", run()), || run().state == RunState::Sent).await;
    h.tg.wait_idle(crate::support::harness::QUIET).await;
    let texts: Vec<String> = h.tg.messages(CHANNEL).into_iter().map(|m| m.text).collect();
    assert_eq!(texts.len(), total, "every part once: {texts:?}");
    assert!(
        texts[0].starts_with("Очень длинный пост"),
        "in order, from the first: {:?}",
        texts[0].chars().take(40).collect::<String>()
    );
    assert!(parts().iter().all(|p| p.state == PartState::Sent && p.message_id.is_some()), "{:?}", parts());
    assert!(h.tg.messages(ADMIN).is_empty(), "nothing uncertain to report");
    assert!(lease(dir.path()).is_some_and(|l| l.owner != "intruder"));
    h.finish().await;
    assert_eq!(lease(dir.path()), None, "a clean stop releases the lease");
}
