//! The SQLite store: opening (pragmas, migrations), posts, topics and the
//! small tables the bot keeps. Everything important lives here, not in memory.

mod backup;
mod channels;
mod files;
mod import;
mod media;
mod pages;
pub(crate) mod phrases;
mod platform;
mod posts;
mod shared;

pub use backup::{BackupError, BackupReport, backup};
pub use channels::{ChannelInfo, Removed};
pub use files::{MediaFiles, Stored, extension_of, keep_bytes, sendable};
pub use import::{ImportSink, ImportSummary, MediaOutcome, Outcome, SkippedChat};
pub use pages::{ChannelName, private_id, web_path};
pub use phrases::{
    MIN_POSTS as PHRASE_INDEX_MIN_POSTS, PhraseProgress, STEP_POSTS as PHRASE_INDEX_STEP, keep_phrase_index,
};
pub use posts::{Stats, TopicCount};
pub use shared::{CallError, SharedArchive};

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::topics::Taxonomy;

/// A step of a migration that SQL cannot do (stemming), run after its script in the same transaction.
type After = fn(&rusqlite::Transaction<'_>) -> Result<()>;

/// Migrations, applied in order at open; `PRAGMA user_version` records how many ran.
pub(crate) const MIGRATIONS: &[(&str, &str, Option<After>)] = &[
    ("V1__archive.sql", include_str!("../../migrations/V1__archive.sql"), None),
    ("V2__bot.sql", include_str!("../../migrations/V2__bot.sql"), None),
    ("V3__replay.sql", include_str!("../../migrations/V3__replay.sql"), None),
    ("V4__stems.sql", include_str!("../../migrations/V4__stems.sql"), None),
    ("V5__ascii_tokens.sql", include_str!("../../migrations/V5__ascii_tokens.sql"), Some(import::reindex)),
    ("V6__replay_lease.sql", include_str!("../../migrations/V6__replay_lease.sql"), None),
    ("V7__user_langs.sql", include_str!("../../migrations/V7__user_langs.sql"), None),
    ("V8__media.sql", include_str!("../../migrations/V8__media.sql"), None),
    ("V9__replay_media.sql", include_str!("../../migrations/V9__replay_media.sql"), None),
    ("V10__search.sql", include_str!("../../migrations/V10__search.sql"), None),
    ("V11__phrase_pairs.sql", include_str!("../../migrations/V11__phrase_pairs.sql"), None),
    ("V12__stem_bitmaps.sql", include_str!("../../migrations/V12__stem_bitmaps.sql"), None),
    ("V13__reactions_extra.sql", include_str!("../../migrations/V13__reactions_extra.sql"), Some(add_post_columns)),
    ("V14__cjk.sql", include_str!("../../migrations/V14__cjk.sql"), Some(import::reindex_cjk)),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite's message once: not also as the error's source, which would print it again
    /// (and SQLite's own source, `Error code N`) in an error chain.
    #[error("database error: {0}")]
    Sql(rusqlite::Error),
    /// The store's file cannot be opened; `reason` says why in words (a missing folder, …).
    #[error("cannot open the store {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("{path} is not a postkeeper store (not an SQLite file)")]
    NotSqlite { path: String },
    #[error("the store {path} was written by a newer postkeeper (schema {found}, this build knows {known})")]
    TooNew { path: String, found: i64, known: usize },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Writing out what was read failed (a closed pipe: `postkeeper posts | head`).
    #[error("output: {0}")]
    Output(#[source] std::io::Error),
    #[error(
        "the store {path} is busy: another postkeeper has it to itself for a big import; it is free again when that import ends"
    )]
    Busy { path: String },
    #[error(transparent)]
    Topics(#[from] crate::topics::TopicsError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e)
    }
}

/// Why SQLite could not open `path`, in words: the folder, the file, or SQLite's message
/// (without its error code).
fn open_error(path: &Path, e: &rusqlite::Error) -> StoreError {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let reason = if !folder.exists() {
        format!("the folder {} does not exist", folder.display())
    } else if !folder.is_dir() {
        format!("{} is not a folder", folder.display())
    } else if path.is_dir() {
        "it is a folder, not a file".to_string()
    } else {
        match e {
            rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
            rusqlite::Error::SqliteFailure(code, None) => code.to_string(),
            other => other.to_string(),
        }
    };
    StoreError::Open { path: path.display().to_string(), reason }
}

/// A file SQLite does not recognise is named as such, not as SQLite's "file is not a database".
fn not_sqlite(path: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Sql(ref sql) if sql.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
            StoreError::NotSqlite { path: path.to_string() }
        }
        e => e,
    }
}

/// What `postkeeper doctor` reports of a store, read without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    /// Migrations applied to it.
    pub schema: i64,
    /// Migrations this build knows (opening the store applies the missing ones).
    pub known: usize,
    pub posts: i64,
    /// Replay jobs still to run (once or recurring).
    pub pending_jobs: i64,
    /// The channels' titles, `(demo)` after the demo archive's.
    pub channels: Vec<String>,
}

/// Reads a store's schema version and sizes through a read-only connection: no
/// migration runs and nothing is written.
pub fn inspect(path: &Path) -> Result<StoreInfo> {
    let display = path.display().to_string();
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, &e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let schema: i64 =
        conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| not_sqlite(&display, e.into()))?;
    if schema > MIGRATIONS.len() as i64 {
        return Err(StoreError::TooNew { path: display, found: schema, known: MIGRATIONS.len() });
    }
    let table = |name: &str| -> Result<bool> {
        Ok(conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| {
            r.get::<_, i64>(0)
        })? > 0)
    };
    if !table("posts")? {
        return Err(StoreError::Corrupt(format!("{display} is not a postkeeper store (it has no posts table)")));
    }
    let posts = conn.query_row("SELECT count(*) FROM posts", [], |r| r.get(0))?;
    let pending_jobs = if table("replay_jobs")? {
        conn.query_row("SELECT count(*) FROM replay_jobs WHERE state = 'active' AND next_run IS NOT NULL", [], |r| {
            r.get(0)
        })?
    } else {
        0
    };
    let demo = if table("meta")? { meta(&conn, "demo_source_key")? } else { None };
    let channels =
        conn.prepare("SELECT title, source_key FROM channels ORDER BY id")?
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .map(|row| {
                row.map(|(title, key)| {
                    if Some(&key) == demo.as_ref() { format!("«{title}» (demo)") } else { format!("«{title}»") }
                })
            })
            .collect::<rusqlite::Result<_>>()?;
    Ok(StoreInfo { schema, known: MIGRATIONS.len(), posts, pending_jobs, channels })
}

/// The archive: one SQLite connection and the taxonomy used to tag posts.
pub struct Archive {
    conn: Connection,
    taxonomy: Taxonomy,
    /// topic index in `taxonomy` -> topics.id
    topic_ids: Vec<i64>,
}

/// See [`Archive::snapshot`].
pub(crate) struct Snapshot<'a> {
    conn: &'a Connection,
    /// Whether the savepoint began the transaction (no transaction was open).
    outermost: bool,
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.conn.prepare_cached("RELEASE snapshot").and_then(|mut release| release.execute([])) {
            tracing::warn!("ending a read snapshot of the store: {e}");
            // Never leave the connection inside a transaction of ours: later reads would
            // keep seeing this state, and later writes would fail to begin.
            if self.outermost && !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
    }
}

impl Archive {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let display = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| open_error(path, &e))?;
        Self::setup(conn, &display).map_err(|e| not_sqlite(&display, e))
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?, ":memory:")
    }

    /// Another connection to the same store file, sharing the taxonomy (`None` for a store
    /// in memory, which one connection owns). WAL lets connections read in parallel.
    pub fn reopen(&self) -> Result<Option<Archive>> {
        let Some(path) = self.conn.path().filter(|p| !p.is_empty()) else { return Ok(None) };
        let mut conn = Connection::open(path).map_err(|e| open_error(Path::new(path), &e))?;
        configure(&mut conn)?;
        migrate(&mut conn, path)?;
        Ok(Some(Archive { conn, taxonomy: self.taxonomy.clone(), topic_ids: self.topic_ids.clone() }))
    }

    /// Reads the store through memory-mapped I/O, up to `bytes` of it: no copy of each page
    /// read into SQLite's cache. The running bot's and web archive's connections do (they
    /// read the same index pages again and again); an import does not (it writes). The
    /// pages mapped are the file's own, in the system's page cache: they count in the
    /// process's resident size but are no memory of its own.
    pub fn map_memory(&self, bytes: i64) -> Result<()> {
        self.conn.query_row(&format!("PRAGMA mmap_size = {bytes}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// Counts each transaction this connection commits in `commits` (the shared store's
    /// connections: pages kept by the web archive are made again at once after a write of
    /// this process).
    pub fn count_commits(&self, commits: std::sync::Arc<std::sync::atomic::AtomicU64>) {
        self.conn.commit_hook(Some(move || {
            commits.fetch_add(1, std::sync::atomic::Ordering::Release);
            false
        }));
    }

    /// SQLite's `data_version`: a number that changes whenever another connection (of this
    /// process or another) commits a change to the store, and only then. Kept pages compare
    /// it to the one they were made at.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get(0))?)
    }

    fn setup(mut conn: Connection, path: &str) -> Result<Self> {
        configure(&mut conn)?;
        migrate(&mut conn, path)?;
        let taxonomy = match meta(&conn, TOPICS_KEY)? {
            Some(text) => Taxonomy::parse(&text, "the store's saved taxonomy")?,
            None => Taxonomy::bundled(),
        };
        let mut archive = Archive { conn, taxonomy, topic_ids: Vec::new() };
        archive.sync_topics()?;
        Ok(archive)
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    /// A read snapshot for several statements: they see one state of the store, and take
    /// SQLite's read lock (file locks on the WAL index: system calls) once instead of once
    /// each. Nests inside a transaction already open. Ends when dropped.
    pub(crate) fn snapshot(&self) -> Result<Snapshot<'_>> {
        let outermost = self.conn.is_autocommit();
        // Cached: a search begins and ends one, and `execute_batch` would parse them each time.
        self.conn.prepare_cached("SAVEPOINT snapshot")?.execute([])?;
        Ok(Snapshot { conn: &self.conn, outermost })
    }

    /// The raw connection, for the modules that own their own tables (search, replay).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Replaces the taxonomy (remembering it in the store) and re-tags every post.
    pub fn set_taxonomy(&mut self, taxonomy: Taxonomy, toml_text: &str) -> Result<usize> {
        set_meta(&self.conn, TOPICS_KEY, toml_text)?;
        self.taxonomy = taxonomy;
        self.sync_topics()?;
        self.retag()
    }

    /// Makes the topics table match the taxonomy (names updated, removed topics dropped).
    fn sync_topics(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(self.taxonomy.topics.len());
        for t in &self.taxonomy.topics {
            let id: i64 = tx.query_row(
                "INSERT INTO topics(slug, ru, en, emoji) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(slug) DO UPDATE SET ru = excluded.ru, en = excluded.en, emoji = excluded.emoji
                 RETURNING id",
                params![t.slug, t.ru, t.en, t.emoji],
                |r| r.get(0),
            )?;
            ids.push(id);
        }
        let keep = serde_json::to_string(&ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute("DELETE FROM topics WHERE id NOT IN (SELECT value FROM json_each(?1))", [keep])?;
        tx.commit()?;
        self.topic_ids = ids;
        Ok(())
    }

    /// Recomputes every post's topics; returns how many posts have at least one.
    pub fn retag(&mut self) -> Result<usize> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM post_topics", [])?;
        let mut tagged = 0;
        {
            let mut select = tx.prepare("SELECT id, body FROM posts")?;
            let mut insert = tx.prepare("INSERT OR IGNORE INTO post_topics(post_id, topic_id) VALUES (?1, ?2)")?;
            let mut rows = select.query([])?;
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                let body: String = row.get(1)?;
                let topics = import::topics_of(&self.taxonomy, &body);
                if !topics.is_empty() {
                    tagged += 1;
                }
                for t in topics {
                    insert.execute(params![id, self.topic_ids[t]])?;
                }
            }
        }
        tx.commit()?;
        Ok(tagged)
    }

    /// Runs `f` as one import transaction: everything it stores lands, or nothing does.
    pub fn import<E>(&mut self, f: impl FnOnce(&mut ImportSink<'_>) -> Result<(), E>) -> Result<ImportSummary, E>
    where
        E: From<StoreError>,
    {
        // Every row an import writes references rows it made itself: no lookup of each
        // parent (a twentieth of a big import's writer). Set around the transaction, as
        // the pragma does nothing inside one; imports delete no posts, so no cascade is lost.
        self.conn.execute_batch("PRAGMA foreign_keys = OFF").map_err(StoreError::from)?;
        let result = (|| -> Result<ImportSummary, E> {
            let tx = self.conn.transaction().map_err(StoreError::from)?;
            let mut sink = ImportSink::new(tx, &self.taxonomy, &self.topic_ids);
            f(&mut sink)?;
            Ok(sink.commit()?)
        })();
        let restored = self.conn.execute_batch("PRAGMA foreign_keys = ON");
        // The import's own failure first; else a connection left without the checks is one.
        let summary = result?;
        restored.map_err(StoreError::from)?;
        Ok(summary)
    }

    /// [`Archive::import`] for a big import: when no other connection has the store open,
    /// the transaction runs with a rollback journal instead of the WAL, and the WAL comes
    /// back after it, whatever `f` returned. One transaction of a big import spills pages
    /// to the WAL over and over and the checkpoint then copies them all into the store: a
    /// 1M-post import wrote 8.3 GB for a 2.6 GB store, against 3.0 GB with a rollback
    /// journal, which writes a new page once (80.7 s against 63.4 s: benches/README.md).
    /// With another connection open (a running bot) the store stays in WAL mode, so that
    /// it keeps reading. A store opened while such an import runs waits for it for the
    /// busy timeout (5 s), then fails with [`StoreError::Busy`]. Returns whether the
    /// store was had alone.
    pub fn import_alone<E>(
        &mut self,
        f: impl FnOnce(&mut ImportSink<'_>) -> Result<(), E>,
    ) -> Result<(ImportSummary, bool), E>
    where
        E: From<StoreError>,
    {
        let alone = self.rollback_journal().map_err(StoreError::from)?;
        if alone {
            tracing::info!("this import has the store to itself until it ends: other commands wait for it");
        }
        let result = self.import(f);
        if alone {
            // Back to the WAL even after a failed import; a failure to switch back is
            // repaired at the next open, which asks for the WAL again (`configure`).
            if let Err(e) = self.conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())) {
                tracing::warn!("the store stays in rollback-journal mode until it is opened again: {e}");
            }
        }
        Ok((result?, alone))
    }

    /// Switches the store to a rollback journal if no other connection has it open
    /// (without waiting for one to close). Is it one now?
    fn rollback_journal(&mut self) -> rusqlite::Result<bool> {
        if self.conn.path().is_none_or(str::is_empty) {
            return Ok(false); // in memory: no WAL to leave
        }
        self.conn.busy_timeout(Duration::ZERO)?;
        let mode = self.conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0));
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        match mode {
            Ok(m) => Ok(m.eq_ignore_ascii_case("delete")),
            Err(e) if is_busy(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The store's journal mode (`wal` unless a big import has it alone).
    #[cfg(test)]
    fn journal_mode(&self) -> Result<String> {
        Ok(self.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?)
    }

    /// What `/healthz` and `/metrics` read: posts, replay jobs still to run, the last
    /// run's state, and the store's size in bytes.
    pub fn health_facts(&self) -> Result<(i64, i64, Option<String>, Option<u64>)> {
        let posts = self.conn.query_row("SELECT count(*) FROM posts", [], |r| r.get(0))?;
        let pending = self.conn.query_row(
            "SELECT count(*) FROM replay_jobs WHERE state = 'active' AND next_run IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        let last = self
            .conn
            .query_row("SELECT state FROM replay_runs ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
            .optional()?;
        let bytes: Option<i64> = self
            .conn
            .query_row("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", [], |r| r.get(0))
            .optional()?;
        Ok((posts, pending, last, bytes.and_then(|b| u64::try_from(b).ok())))
    }

    /// The value the store keeps under `key`, made by `make` and kept the first time it is
    /// asked for (a generated secret that must survive restarts).
    pub fn kept_value(&self, key: &str, make: impl FnOnce() -> String) -> Result<String> {
        if let Some(v) = meta(&self.conn, key)? {
            return Ok(v);
        }
        let value = make();
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING", (key, &value))?;
        Ok(meta(&self.conn, key)?.unwrap_or(value))
    }

    /// True when the store holds no post at all.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM posts)", [], |r| r.get(0))?)
    }

    /// Posts holding a stem (0 when none), from the per-stem counts imports keep.
    pub fn doc_count(&self, stem: &str) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT docs FROM stems WHERE stem = ?1")?
            .query_row([stem], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// The posts of every stem beginning with `prefix`, summed (more than the posts with
    /// any of them when a post has several).
    pub fn prefix_doc_count(&self, prefix: &str) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT coalesce(sum(docs), 0) FROM stems WHERE stem >= ?1 AND stem < ?1 || char(1114111)")?
            .query_row([prefix], |r| r.get(0))?)
    }

    /// Advances with every import that commits, in any process: what a copy of the
    /// vocabulary held in memory is checked against.
    pub fn vocabulary_generation(&self) -> Result<i64> {
        meta_int(&self.conn, "vocabulary_generation")
    }

    /// Records the language a user writes in. Read first, written only when it changed:
    /// an admin's every message passes here, and a read takes no write lock.
    pub fn remember_lang(&self, user_id: i64, lang: crate::i18n::Lang, now: i64) -> Result<()> {
        if self.user_lang(user_id)? == Some(lang) {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "INSERT INTO user_langs(user_id, lang, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(user_id) DO UPDATE SET lang = excluded.lang, seen_at = excluded.seen_at
             WHERE lang != excluded.lang",
            )?
            .execute(params![user_id, lang.code(), now])?;
        Ok(())
    }

    /// The language a user last wrote in, if known.
    pub fn user_lang(&self, user_id: i64) -> Result<Option<crate::i18n::Lang>> {
        let code: Option<String> = self
            .conn
            .prepare_cached("SELECT lang FROM user_langs WHERE user_id = ?1")?
            .query_row([user_id], |r| r.get(0))
            .optional()?;
        Ok(code.map(|c| crate::i18n::Lang::from_code(Some(&c))))
    }

    /// Every word of the vocabulary with its occurrences, in alphabetical order.
    pub fn for_each_word(&self, mut f: impl FnMut(&str, i64)) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT word, freq FROM vocabulary ORDER BY word")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            f(row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?, row.get(1)?);
        }
        Ok(())
    }
}

/// Where the store keeps the taxonomy an operator loaded.
const TOPICS_KEY: &str = "topics_toml";

/// How long a connection waits for another's lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A value the store keeps about itself in `meta`.
pub(crate) fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?)
}

/// A number the store keeps in `meta` (0 when it has none).
fn meta_int(conn: &Connection, key: &str) -> Result<i64> {
    Ok(meta(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Keeps a value in `meta`, replacing the one the key had.
pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// Did another connection hold the lock for longer than the busy timeout?
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// Settings of every connection.
fn configure(conn: &mut Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Write transactions take the write lock when they begin, waiting for another connection's
    // (the bot's others, the CLI) instead of failing when a read must become a write.
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    // Searches format their LIMIT/OFFSET into the SQL (see `search::rank`): room for pages.
    conn.set_prepared_statement_cache_capacity(64);
    // WAL lets the CLI read (and write small changes) while the bot runs. Asking for it
    // waits while a big import has the store alone (`Archive::import_alone`).
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).map_err(|e| match e {
        e if is_busy(&e) => StoreError::Busy { path: conn.path().unwrap_or_default().to_string() },
        e => e.into(),
    })?;
    // A big import is one transaction, so the WAL grows to its size; the limit truncates
    // the file back after the following checkpoint instead of keeping it until close.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 67108864;")?;
    Ok(())
}

fn migrate(conn: &mut Connection, path: &str) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() as i64 {
        return Err(StoreError::TooNew { path: path.to_string(), found: version, known: MIGRATIONS.len() });
    }
    apply_migrations(conn, version.max(0) as usize, MIGRATIONS.len())
}

/// V13: the columns of reactions and of a post's kind, each added unless it is there.
fn add_post_columns(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let mut columns = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT name FROM pragma_table_info('posts')")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            columns.push(row.get::<_, String>(0)?);
        }
    }
    for (name, declaration) in
        [("reactions", "TEXT"), ("reactions_total", "INTEGER NOT NULL DEFAULT 0"), ("extra", "TEXT")]
    {
        if !columns.iter().any(|c| c == name) {
            tx.execute_batch(&format!("ALTER TABLE posts ADD COLUMN {name} {declaration}"))?;
        }
    }
    tx.execute_batch(
        "CREATE INDEX IF NOT EXISTS posts_by_reactions ON posts(reactions_total DESC) WHERE reactions_total > 0",
    )?;
    Ok(())
}

/// Applies migrations `from..to` (0-based), each in its own transaction.
pub(crate) fn apply_migrations(conn: &mut Connection, from: usize, to: usize) -> Result<()> {
    for (i, (_name, sql, after)) in MIGRATIONS.iter().enumerate().take(to).skip(from) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if let Some(after) = after {
            after(&tx)?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_post(sink: &mut ImportSink<'_>, text: &str) -> Result<()> {
        sink.channel(&crate::model::NewChannel::telegram(-1001, "c"))?;
        let post = crate::model::NewPost { seq: 1, text: text.into(), ..Default::default() };
        sink.post(post)?;
        Ok(())
    }

    #[test]
    fn a_big_import_has_the_store_alone_only_when_nobody_else_has_it_open() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("store.db");
        let mut archive = Archive::open(&path)?;
        let (summary, alone) = archive.import_alone(|sink| one_post(sink, "первый"))?;
        assert!(alone, "nobody else had the store open");
        assert_eq!(summary.new, 1);
        assert_eq!(archive.journal_mode()?, "wal", "the WAL is back after the import");

        // A failed import changes nothing and gives the WAL back too.
        let failed = archive.import_alone(|sink| {
            one_post(sink, "второй")?;
            Err(StoreError::Corrupt("broken".into()))
        });
        assert!(failed.is_err());
        assert_eq!(archive.journal_mode()?, "wal");
        assert_eq!(archive.post_count()?, 1);

        // Another connection open (a running bot): the import shares the store, in WAL mode.
        let other = Archive::open(&path)?;
        let (_, alone) = archive.import_alone(|sink| one_post(sink, "третий"))?;
        assert!(!alone, "another connection had the store open");
        assert_eq!(other.journal_mode()?, "wal");
        assert_eq!(other.post_count()?, 1, "the same post, updated: {:?}", other.post(1)?.map(|p| p.body));
        assert_eq!(other.post(1)?.map(|p| p.body).as_deref(), Some("третий"));
        Ok(())
    }

    #[test]
    fn a_store_opened_during_a_big_import_fails_saying_why() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("store.db");
        let mut archive = Archive::open(&path)?;
        let mut during = None;
        archive.import_alone(|sink| {
            one_post(sink, "пост")?;
            during = Some(Archive::open(&path).map(|_| ()));
            Ok::<(), StoreError>(())
        })?;
        let err = during.expect("opened during the import").expect_err("the store is busy");
        assert!(matches!(err, StoreError::Busy { .. }), "{err}");
        assert!(err.to_string().contains("big import"), "{err}");
        // And free again after it.
        assert_eq!(Archive::open(&path)?.post_count()?, 1);
        Ok(())
    }

    /// An import runs without foreign-key checks (its rows reference what it made itself:
    /// a lookup per row otherwise); they are on again after it, whether it landed or not,
    /// and what it wrote satisfies them.
    #[test]
    fn foreign_keys_are_on_again_after_an_import() -> anyhow::Result<()> {
        let mut archive = Archive::open_in_memory()?;
        let on = |a: &Archive| -> rusqlite::Result<i64> { a.conn().query_row("PRAGMA foreign_keys", [], |r| r.get(0)) };
        assert_eq!(on(&archive)?, 1);
        archive.import(|sink| {
            let robots = "Робот-собака научилась ходить: обучение с подкреплением и нейросеть в симуляторе.";
            sink.channel(&crate::model::NewChannel::telegram(-1001, "c"))?;
            sink.post(crate::model::NewPost { seq: 1, text: robots.into(), ..Default::default() })?;
            Ok::<(), StoreError>(())
        })?;
        assert_eq!(on(&archive)?, 1, "on after an import that landed");
        let topics: i64 = archive.conn().query_row("SELECT count(*) FROM post_topics", [], |r| r.get(0))?;
        assert!(topics > 0, "the post was tagged, so its topics were written");
        let broken: i64 =
            archive.conn().query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
        assert_eq!(broken, 0);
        let failed = archive.import(|sink| {
            one_post(sink, "второй")?;
            Err(StoreError::Corrupt("broken".into()))
        });
        assert!(failed.is_err());
        assert_eq!(on(&archive)?, 1, "on after an import that failed");
        // And they act: a channel's posts go with it.
        archive.conn().execute("DELETE FROM channels", [])?;
        assert_eq!(archive.post_count()?, 0);
        Ok(())
    }

    /// A query searched again within the hour is read back, not written; later it is refreshed.
    #[test]
    fn repeated_queries_are_not_rewritten() -> Result<()> {
        let archive = Archive::open_in_memory()?;
        let used_at = |id: i64| -> Result<i64> {
            Ok(archive.conn().query_row("SELECT used_at FROM queries WHERE id = ?1", [id], |r| r.get(0))?)
        };
        let id = archive.remember_query("робот", 1_000_000)?;
        assert_eq!(archive.remember_query("робот", 1_000_000 + 3_599)?, id);
        assert_eq!(used_at(id)?, 1_000_000);
        assert_eq!(archive.remember_query("робот", 1_000_000 + 3_600)?, id);
        assert_eq!(used_at(id)?, 1_003_600);
        assert_ne!(archive.remember_query("собака", 1_003_600)?, id);
        Ok(())
    }
}
