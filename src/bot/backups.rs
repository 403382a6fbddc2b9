//! Daily backups by the running bot (`POSTKEEPER_BACKUP_DIR`, `POSTKEEPER_BACKUP_KEEP`):
//! the same online backup as `postkeeper backup`, into `postkeeper-<UTC time>.db` files,
//! the oldest beyond the number kept deleted. When a backup is due is read from the newest
//! file's name, so restarts neither skip nor repeat one; a store with none is backed up at
//! start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio_util::sync::CancellationToken;

/// How often.
const EVERY: Duration = Duration::from_secs(24 * 3600);
/// After a failed backup, the next try.
const RETRY: Duration = Duration::from_secs(3600);
const PREFIX: &str = "postkeeper-";
const SUFFIX: &str = ".db";
const TIME: &str = "%Y-%m-%dT%H%M%SZ";

/// What to back up, where, and how many to keep.
#[derive(Debug, Clone)]
pub struct Backups {
    pub db: PathBuf,
    pub dir: PathBuf,
    pub keep: usize,
}

/// When a backup file named as ours was made.
fn made_at(name: &str) -> Option<DateTime<Utc>> {
    let time = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    NaiveDateTime::parse_from_str(time, TIME).ok().map(|t| t.and_utc())
}

/// Our backup files in `dir`, oldest first.
fn ours(dir: &Path) -> std::io::Result<Vec<(DateTime<Utc>, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if let Some(at) = entry.file_name().to_str().and_then(made_at)
            && entry.file_type()?.is_file()
        {
            found.push((at, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// How long until the next backup is due.
fn due_in(dir: &Path, now: DateTime<Utc>) -> Duration {
    match ours(dir).ok().and_then(|files| files.last().map(|(at, _)| *at)) {
        Some(last) => (last + chrono::Duration::from_std(EVERY).unwrap_or_default() - now).to_std().unwrap_or_default(),
        None => Duration::ZERO,
    }
}

/// One backup now, then the oldest beyond `keep` deleted: the new file and what went.
pub fn back_up(b: &Backups, now: DateTime<Utc>) -> anyhow::Result<(crate::store::BackupReport, Vec<PathBuf>)> {
    std::fs::create_dir_all(&b.dir)?;
    let file = b.dir.join(format!("{PREFIX}{}{SUFFIX}", now.format(TIME)));
    let report = crate::store::backup(&b.db, &file, false, |_, _| {})?;
    let files = ours(&b.dir)?;
    let mut removed = Vec::new();
    for (_, path) in files.iter().take(files.len().saturating_sub(b.keep)) {
        std::fs::remove_file(path)?;
        removed.push(path.clone());
    }
    Ok((report, removed))
}

/// Backs up whenever one is due, until `stop`.
pub async fn keep_backups(b: Backups, stop: CancellationToken) {
    loop {
        let wait = due_in(&b.dir, Utc::now());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return,
        }
        let job = b.clone();
        let made = tokio::task::spawn_blocking(move || back_up(&job, Utc::now())).await;
        let pause = match made {
            Ok(Ok((report, removed))) => {
                metrics::counter!("postkeeper_backups_total", "outcome" => "ok").increment(1);
                tracing::info!(
                    file = %report.file.display(), bytes = report.bytes, posts = report.posts, removed = removed.len(),
                    "daily backup made"
                );
                Duration::ZERO
            }
            Ok(Err(e)) => {
                metrics::counter!("postkeeper_backups_total", "outcome" => "failed").increment(1);
                tracing::error!("the daily backup failed (trying again in an hour): {e:#}");
                RETRY
            }
            Err(e) => {
                tracing::error!("the daily backup failed (trying again in an hour): {e}");
                RETRY
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tell_when_and_the_next_is_due_a_day_after_the_newest() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let at = |s: &str| DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc));
        assert_eq!(due_in(dir.path(), at("2026-12-07T10:00:00Z")?), Duration::ZERO, "none yet: now");
        std::fs::write(dir.path().join("postkeeper-2026-12-07T090000Z.db"), "x")?;
        std::fs::write(dir.path().join("notes.txt"), "not ours")?;
        assert_eq!(due_in(dir.path(), at("2026-12-07T10:00:00Z")?), Duration::from_secs(23 * 3600));
        assert_eq!(due_in(dir.path(), at("2026-12-09T10:00:00Z")?), Duration::ZERO, "overdue: now");
        assert_eq!(made_at("postkeeper-2026-12-07T090000Z.db"), Some(at("2026-12-07T09:00:00Z")?));
        assert_eq!(made_at("postkeeper-latest.db"), None);
        Ok(())
    }
}
