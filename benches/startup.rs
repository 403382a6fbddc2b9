//! The bot with a big store: time from spawning `postkeeper run` (the release binary) to
//! its first getUpdates at the fake Bot API server, and its resident memory (VmRSS) after
//! idling and after a few searches.
//!
//! Store: the generated archive of `POSTKEEPER_STARTUP_SIZE` posts (default 1,000,000),
//! built once under `target/bench-corpora/` (shared with `benches/search.rs`); the bot runs
//! on it in place (it writes only its small tables: queries, user languages). Runs:
//! `POSTKEEPER_STARTUP_RUNS` (default 5); the median and the worst are printed.
//! `POSTKEEPER_STARTUP_CALLS=1` prints each run's Bot API calls up to the first getUpdates.

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

/// One start: (spawn to first getUpdates, idle VmRSS, VmRSS after searches, VmHWM) in KiB.
async fn one_run(db: &std::path::Path, searches: &[&str]) -> (Duration, Option<u64>, Option<u64>, Option<u64>) {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spawned = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_postkeeper"))
        .arg("run")
        .current_dir(dir.path())
        .env_clear()
        .env("TELOXIDE_TOKEN", TOKEN)
        .env("TELOXIDE_API_URL", tg.url())
        .env("POSTKEEPER_DB", db)
        .env("POSTKEEPER_MEDIA_DIR", dir.path().join("media"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postkeeper run");
    let bot = Bot(child);
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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("POSTKEEPER_STARTUP_SIZE")
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("POSTKEEPER_STARTUP_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let db = tokio::task::spawn_blocking(move || common::corpus_db(n)).await.expect("the corpus store");
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
