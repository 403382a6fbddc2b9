//! The whole import path at scale: `postkeeper import` (the release binary, a child
//! process) of a generated Telegram Desktop export into a fresh store, beside bare FTS5
//! fed the same texts in one transaction, alternating, in one run.
//!
//! Sizes: `POSTKEEPER_IMPORT_SIZES=100000,1000000` (the default); runs of each:
//! `POSTKEEPER_IMPORT_RUNS` (default 3 below 1M posts, 1 at 1M: a run takes minutes).
//! The exports are written once under `target/bench-corpora/export-{n}/`; the stores
//! under `target/bench-tmp/` and removed after each run. Peak memory of the import is
//! read through `/usr/bin/time` when it is there. Both sides are timed up to the
//! closed store (the WAL checkpointed into the database file).

#[allow(dead_code)]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

fn env_list(key: &str, default: &str) -> Vec<usize> {
    std::env::var(key)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().replace('_', "").parse().unwrap_or_else(|_| panic!("{key}: {s:?} is not a number")))
        .collect()
}

/// A fresh, empty folder for one run's store.
fn scratch(name: &str) -> PathBuf {
    let dir = common::target_dir().join("bench-tmp").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    dir
}

/// `postkeeper import` of the export into a fresh store: wall time and peak RSS (KiB).
fn ours(export: &Path) -> (Duration, Option<u64>) {
    let dir = scratch("ours");
    let bin = env!("CARGO_BIN_EXE_postkeeper");
    let time = Path::new("/usr/bin/time");
    let rss_file = dir.join("rss");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.arg("--db").arg(dir.join("store.db")).arg("--media-dir").arg(dir.join("media")).arg("import").arg(export);
    cmd.env("RUST_LOG", "warn").stdout(std::process::Stdio::piped());
    let started = Instant::now();
    let out = cmd.output().expect("run postkeeper import");
    let took = started.elapsed();
    assert!(out.status.success(), "postkeeper import failed: {}", String::from_utf8_lossy(&out.stderr));
    eprintln!("    {}", String::from_utf8_lossy(&out.stdout).trim());
    let rss = std::fs::read_to_string(&rss_file).ok().and_then(|s| s.trim().parse().ok());
    let _ = std::fs::remove_dir_all(&dir);
    (took, rss)
}

/// The same texts into a bare contentless FTS5 table (`ascii` tokenizer, the store's
/// pragmas), one transaction, the connection closed.
fn raw_fts5(texts: &Path) -> Duration {
    let dir = scratch("raw");
    let started = Instant::now();
    let mut conn = Connection::open(dir.join("bare.db")).expect("open");
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).expect("wal");
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         CREATE VIRTUAL TABLE t USING fts5(title, body, content = '', contentless_delete = 1, tokenize = \"ascii\");",
    )
    .expect("create");
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx.prepare("INSERT INTO t(rowid, title, body) VALUES (?1, ?2, ?3)").expect("prepare");
        for (i, (title, body)) in common::read_texts(texts).enumerate() {
            insert.execute(params![i as i64 + 1, title, body]).expect("insert");
        }
    }
    tx.commit().expect("commit");
    drop(conn);
    let took = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    took
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter, if any, picks nothing here.
    for n in env_list("POSTKEEPER_IMPORT_SIZES", "100000,1000000") {
        let dir = common::export_dir(n);
        let (export, texts) = (dir.join("result.json"), dir.join("texts.bin"));
        let mib = std::fs::metadata(&export).map_or(0.0, |m| m.len() as f64 / (1 << 20) as f64);
        let runs = env_list("POSTKEEPER_IMPORT_RUNS", if n >= 1_000_000 { "1" } else { "3" })[0].max(1);
        eprintln!("import/{n}: export {mib:.0} MiB, {runs} run(s) each");
        let (mut ours_rates, mut raw_rates, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..runs {
            let (took, rss) = ours(&export);
            let rate = n as f64 / took.as_secs_f64();
            eprintln!(
                "  run {run}: postkeeper import {:.1} s, {rate:.0} posts/s, peak RSS {}",
                took.as_secs_f64(),
                rss.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
            );
            ours_rates.push(rate);
            peaks.extend(rss);
            let took = raw_fts5(&texts);
            let rate = n as f64 / took.as_secs_f64();
            eprintln!("  run {run}: raw FTS5 {:.1} s, {rate:.0} posts/s", took.as_secs_f64());
            raw_rates.push(rate);
        }
        let (o, r) = (median(ours_rates), median(raw_rates));
        println!(
            "import/{n}: postkeeper import {o:.0} posts/s, raw FTS5 {r:.0} posts/s, ratio {:.2}, peak RSS {}",
            o / r,
            peaks.iter().max().map_or("?".into(), |k| format!("{:.1} MiB", *k as f64 / 1024.0))
        );
    }
}
