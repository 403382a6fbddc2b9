//! Does importing a big Telegram Desktop export stay in bounded memory?
//!
//! Writes a synthetic `result.json` of N posts (~150 words each; default 1 000 000)
//! to a temporary directory, imports it into a fresh store the way `postkeeper import`
//! does, and prints the rate and the peak resident memory (VmHWM) before and after.
//!
//!     cargo run --release --example import_memory -- 1000000
//!
//! The temporary directory is left in place when `KEEP=1` is set.

#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Instant;

use postkeeper::ingest::import_paths;
use postkeeper::store::Archive;

/// A line of /proc/self/status, e.g. `VmHWM`, in MiB.
fn status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?;
    let kib: f64 = line[key.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

fn memory(when: &str) {
    let show = |v: Option<f64>| v.map_or("?".to_string(), |m| format!("{m:.1} MiB"));
    println!("{when:<16} VmRSS {:>12}  VmHWM (peak) {:>12}", show(status_mib("VmRSS")), show(status_mib("VmHWM")));
}

fn file_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0))
}

fn main() -> anyhow::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.replace('_', "").parse()?,
        None => 1_000_000,
    };
    let dir = tempfile::Builder::new().prefix("postkeeper-import-memory").tempdir()?;
    let export = dir.path().join("result.json");
    let texts = dir.path().join("texts.bin");
    let db = dir.path().join("store.db");
    memory("start");

    let started = Instant::now();
    common::write_export(&export, &texts, n)?;
    let secs = started.elapsed().as_secs_f64();
    println!("wrote {} ({:.0} MiB, {n} posts) in {secs:.1} s", export.display(), file_mib(&export));
    memory("after writing");

    let mut archive = Archive::open(&db)?;
    memory("store opened");
    let started = Instant::now();
    let summary = import_paths(&mut archive, std::slice::from_ref(&export), false)?;
    let secs = started.elapsed().as_secs_f64();
    println!("imported: {summary}");
    println!("import took {secs:.1} s: {:.0} posts/s", summary.new as f64 / secs);
    memory("after import");
    let wal = db.with_extension("db-wal");
    println!("store {:.0} MiB, WAL {:.0} MiB before close", file_mib(&db), file_mib(&wal));
    let started = Instant::now();
    drop(archive);
    println!("close (WAL checkpoint) took {:.1} s; store {:.0} MiB", started.elapsed().as_secs_f64(), file_mib(&db));
    memory("after close");

    if std::env::var_os("KEEP").is_some_and(|v| v == "1") {
        println!("kept {}", dir.keep().display());
    }
    Ok(())
}
