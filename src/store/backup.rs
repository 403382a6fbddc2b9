//! `postkeeper backup FILE`: a consistent copy of the store made while the bot runs and
//! writes, with SQLite's online backup API.
//!
//! The copy is read from one snapshot: the source connection holds a read transaction for
//! the whole backup, so a write by the running bot (WAL) neither shows up half in the copy
//! nor makes the backup start over; and since WAL readers do not block the writer, the bot
//! goes on as before. Pages are copied a few at a time with short pauses, leaving the disk
//! to the bot between steps. The copy is written under a temporary name beside `FILE` and
//! renamed at the end: a crash leaves no half backup under the name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{BUSY_TIMEOUT, StoreError};

/// Pages copied per step (4 KiB each: 1 MiB a step).
const PAGES_PER_STEP: i32 = 256;
/// The pause between steps.
const PAUSE: Duration = Duration::from_millis(5);

/// What a backup made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupReport {
    pub file: PathBuf,
    pub bytes: u64,
    pub posts: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists: choose another name, or add --force to replace it")]
    Exists(String),
    #[error("cannot back up {path}: {source}")]
    Source { path: String, source: rusqlite::Error },
    #[error("cannot write the backup {path}: {problem}")]
    Write { path: String, problem: String },
    #[error("the backup {path} failed its integrity check: {problem}")]
    Damaged { path: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Copies the store at `store` into `file`; `progress(copied, total)` after each step (pages).
pub fn backup(
    store: &Path,
    file: &Path,
    force: bool,
    mut progress: impl FnMut(i32, i32),
) -> Result<BackupReport, BackupError> {
    let shown = file.display().to_string();
    if file.exists() && !force {
        return Err(BackupError::Exists(shown));
    }
    let source_error = |source| BackupError::Source { path: store.display().to_string(), source };
    if !store.is_file() {
        return Err(BackupError::Store(StoreError::Corrupt(format!("{} does not exist", store.display()))));
    }
    let source = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(source_error)?;
    source.busy_timeout(BUSY_TIMEOUT).map_err(source_error)?;
    let write_error = |e: &dyn std::fmt::Display| BackupError::Write { path: shown.clone(), problem: e.to_string() };
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    let partial = dir.join(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| {
        // One snapshot for the whole copy: the read transaction stays open until it ends.
        source.execute_batch("BEGIN").map_err(source_error)?;
        let posts: i64 = source.query_row("SELECT count(*) FROM posts", [], |r| r.get(0)).map_err(source_error)?;
        let mut target = Connection::open(&partial).map_err(|e| write_error(&e))?;
        {
            let copy = Backup::new(&source, &mut target).map_err(|e| write_error(&e))?;
            loop {
                let step = copy.step(PAGES_PER_STEP).map_err(|e| write_error(&e))?;
                let p = copy.progress();
                progress(p.pagecount - p.remaining, p.pagecount);
                if step == StepResult::Done {
                    break;
                }
                // More to copy, or the store busy for a moment: the same pause either way.
                std::thread::sleep(PAUSE);
            }
        }
        source.execute_batch("COMMIT").map_err(source_error)?;
        // The copy is a store of its own: no WAL to carry along.
        target.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(())).map_err(|e| write_error(&e))?;
        let check: String =
            target.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| write_error(&e))?;
        if check != "ok" {
            return Err(BackupError::Damaged { path: shown.clone(), problem: check });
        }
        drop(target);
        std::fs::rename(&partial, file).map_err(|e| write_error(&e))?;
        let bytes = std::fs::metadata(file).map_err(|e| write_error(&e))?.len();
        Ok(BackupReport { file: file.to_path_buf(), bytes, posts })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_file(dir.join(format!(".{name}.partial-{}-journal", std::process::id())));
    }
    result
}
