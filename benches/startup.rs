//! The bot with a big store: time from spawning `postkeeper run` (the release binary) to
//! its first getUpdates at the fake Bot API server, and its resident memory (VmRSS) after
//! idling and after a few searches.
//!
//! Store: the generated archive of `POSTKEEPER_STARTUP_SIZE` posts (default 1,000,000),
//! built once under `target/bench-corpora/` (shared with `benches/search.rs`); the bot runs
//! on it in place (it writes only its small tables: queries, user languages). Runs:
//! `POSTKEEPER_STARTUP_RUNS` (default 5); the median and the worst are printed.
//! `POSTKEEPER_STARTUP_CALLS=1` prints each run's Bot API calls up to the first getUpdates.
//!
//! `POSTKEEPER_STARTUP_BUILD=1` measures instead the bot building the phrase index in the
//! background (src/store/phrases/) on a copy of the store without one: the time from the
//! start to the log's "the phrase index has every post", VmRSS sampled every 100 ms, and
//! the time the bot takes to answer a /search meanwhile (one every second).

#[allow(dead_code)]
mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_bot_api::{FakeTelegram, TOKEN, updates};

/// A line of /proc/<pid>/status, in KiB.
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?;
    line[key.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

struct Bot(Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `postkeeper run` on `db` against the fake server, in `dir`, its log to `stderr`.
fn start_bot(tg: &FakeTelegram, dir: &std::path::Path, db: &std::path::Path, log: &str, stderr: Stdio) -> Bot {
    let child = Command::new(env!("CARGO_BIN_EXE_postkeeper"))
        .arg("run")
        .current_dir(dir)
        .env_clear()
        .env("TELOXIDE_TOKEN", TOKEN)
        .env("TELOXIDE_API_URL", tg.url())
        .env("POSTKEEPER_DB", db)
        .env("POSTKEEPER_MEDIA_DIR", dir.join("media"))
        .env("RUST_LOG", log)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start postkeeper run");
    Bot(child)
}

/// One start: (spawn to first getUpdates, idle VmRSS, VmRSS after searches, VmHWM) in KiB.
async fn one_run(db: &std::path::Path, searches: &[&str]) -> (Duration, Option<u64>, Option<u64>, Option<u64>) {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spawned = Instant::now();
    let bot = start_bot(&tg, dir.path(), db, "warn", Stdio::null());
    let pid = bot.0.id();
    let first = tg.wait_for_calls("getUpdates", 1, Duration::from_secs(60)).await;
    let to_poll = first[0].at.saturating_duration_since(spawned);
    if std::env::var_os("POSTKEEPER_STARTUP_CALLS").is_some() {
        for call in tg.calls().iter().take_while(|c| c.at <= first[0].at) {
            eprintln!("  {:>6.1} ms {}", call.at.saturating_duration_since(spawned).as_secs_f64() * 1e3, call.method);
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = status_kib(pid, "VmRSS");
    for (i, q) in searches.iter().enumerate() {
        tg.push_update(updates::text(7, 7, Some("ru"), &format!("/search {q}")));
        tg.wait_for_calls("sendMessage", i + 1, Duration::from_secs(30)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let searched = status_kib(pid, "VmRSS");
    let peak = status_kib(pid, "VmHWM");
    drop(bot);
    (to_poll, idle, searched, peak)
}

/// The bot building the phrase index of a copy of `db` from nothing.
async fn build_run(db: &std::path::Path) {
    let dir = tempfile::tempdir_in(common::target_dir()).expect("tempdir");
    let copy = dir.path().join("store.db");
    std::fs::copy(db, &copy).expect("copy the corpus store");
    {
        let conn = rusqlite::Connection::open(&copy).expect("open the copy");
        conn.execute_batch(
            "INSERT INTO pairs_fts(pairs_fts) VALUES ('delete-all'); DELETE FROM pair_stems; DELETE FROM stem_bitmaps;
             DELETE FROM meta WHERE key IN ('pairs_upto', 'pairs_chosen_at');",
        )
        .expect("take the phrase index out");
    }
    let tg = FakeTelegram::start().await;
    let log = dir.path().join("log");
    let spawned = Instant::now();
    let bot = start_bot(&tg, dir.path(), &copy, "info", std::fs::File::create(&log).expect("the log file").into());
    let pid = bot.0.id();
    // Not waiting for the first getUpdates to be answered: the fake server answers a long
    // poll when it times out (25 s) or an update comes. Searches queue until the bot polls.
    let (mut peak, mut answers, mut sent) = (0u64, Vec::new(), 0);
    let mut last_search = Instant::now();
    loop {
        peak = peak.max(status_kib(pid, "VmRSS").unwrap_or(0));
        if std::fs::read_to_string(&log).is_ok_and(|l| l.contains("the phrase index has every post")) {
            break;
        }
        assert!(spawned.elapsed() < Duration::from_secs(1200), "the phrase index was not built in 20 minutes");
        if last_search.elapsed() >= Duration::from_secs(1) {
            last_search = Instant::now();
            tg.push_update(updates::text(7, 7, Some("ru"), "/search торговые стратегии обучения"));
            sent += 1;
            tg.wait_for_calls("sendMessage", sent, Duration::from_secs(30)).await;
            answers.push(last_search.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = spawned.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = status_kib(pid, "VmRSS");
    let parts = ["RssAnon", "RssFile", "RssShmem"].map(|k| format!("{k} {}", mib(status_kib(pid, k)))).join(", ");
    // The same search with the index complete and nothing else running.
    let mut after = Vec::new();
    for _ in 0..30 {
        let asked = Instant::now();
        tg.push_update(updates::text(7, 7, Some("ru"), "/search торговые стратегии обучения"));
        sent += 1;
        tg.wait_for_calls("sendMessage", sent, Duration::from_secs(30)).await;
        after.push(asked.elapsed());
    }
    let ms = |mut v: Vec<Duration>, q: f64| {
        v.sort();
        v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default().as_secs_f64() * 1e3
    };
    println!(
        "startup/build: the phrase index built by the bot in {:.1} s; VmRSS at most {} while building, {} idle \
         after ({parts}); /search answered in {:.1} ms median, {:.1} ms worst while building ({} searches), {:.1} ms median, \
         {:.1} ms worst after ({} searches)",
        took.as_secs_f64(),
        mib(Some(peak)),
        mib(idle),
        ms(answers.clone(), 0.5),
        ms(answers.clone(), 1.0),
        answers.len(),
        ms(after.clone(), 0.5),
        ms(after.clone(), 1.0),
        after.len()
    );
    drop(bot);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("POSTKEEPER_STARTUP_SIZE")
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("POSTKEEPER_STARTUP_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let db = tokio::task::spawn_blocking(move || common::corpus_db(n)).await.expect("the corpus store");
    if std::env::var_os("POSTKEEPER_STARTUP_BUILD").is_some() {
        build_run(&db).await;
        return;
    }
    // The search bench's queries: a rare word, common words, a typo (the suggestion loads
    // the vocabulary), a prefix.
    let searches = ["обучение с подкреплением", "обучение модели", "экзопланиты", "распознавание изобр"];
    let mut times = Vec::new();
    for run in 0..runs {
        let (to_poll, idle, searched, peak) = one_run(&db, &searches).await;
        eprintln!(
            "startup/{n} run {run}: first getUpdates {:.1} ms after spawn; VmRSS idle {}, after {} searches {}; VmHWM {}",
            to_poll.as_secs_f64() * 1e3,
            mib(idle),
            searches.len(),
            mib(searched),
            mib(peak)
        );
        times.push((to_poll, idle, searched));
    }
    times.sort_by_key(|t| t.0);
    let median = times[times.len() / 2];
    let worst = times[times.len() - 1];
    let max_idle = times.iter().filter_map(|t| t.1).max();
    let max_searched = times.iter().filter_map(|t| t.2).max();
    println!(
        "startup/{n}: first getUpdates median {:.1} ms, worst {:.1} ms; VmRSS idle at most {}, after searches at most {}",
        median.0.as_secs_f64() * 1e3,
        worst.0.as_secs_f64() * 1e3,
        mib(max_idle),
        mib(max_searched)
    );
}
