//! The archive's channels: a listing with counts and dates, and removing a channel with
//! everything it holds (its posts, their index rows, media rows, replay jobs). The demo
//! archive (the bundled seed) is removed so when the store's first channel of its own
//! arrives.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::phrases::Upkeep;
use super::{Archive, Result, meta, set_meta};
use crate::model::{Channel, from_unix};
use crate::text::lexicon::Lexicon;

/// The meta key naming the demo channel's `source_key` (set when the seed fills a store).
const DEMO_KEY: &str = "demo_source_key";

/// A channel as `postkeeper channels` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelInfo {
    #[serde(flatten)]
    pub channel: Channel,
    pub posts: i64,
    #[serde(serialize_with = "crate::model::rfc3339")]
    pub first_date: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::model::rfc3339")]
    pub last_date: Option<DateTime<Utc>>,
    /// Where its posts came from: `demo`, `t.me dump` or `telegram` (exports and live posts).
    pub origin: &'static str,
}

/// What removing a channel took away.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub title: String,
    pub posts: usize,
    /// Scheduled replays of its posts, cancelled.
    pub jobs_cancelled: usize,
    /// Media files (names in the media folder) no other post uses any more: the caller
    /// deletes them once the transaction has committed.
    pub unused_files: Vec<String>,
}

impl Archive {
    /// Every channel with its post count and date range, oldest channel first.
    pub fn channel_infos(&self) -> Result<Vec<ChannelInfo>> {
        let demo = meta(&self.conn, DEMO_KEY)?;
        let mut out = Vec::new();
        for channel in self.channels()? {
            let (posts, first, last): (i64, Option<i64>, Option<i64>) = self.conn.query_row(
                "SELECT count(*), min(date), max(date) FROM posts WHERE channel_id = ?1",
                [channel.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let origin = if demo.as_deref() == Some(channel.source_key.as_str()) {
                "demo"
            } else if channel.source_key.starts_with("tme:") {
                "t.me dump"
            } else {
                "telegram"
            };
            out.push(ChannelInfo { channel, posts, first_date: from_unix(first), last_date: from_unix(last), origin });
        }
        Ok(out)
    }

    /// Removes a channel with its posts, their index and media rows, the replay jobs of
    /// its posts, in one transaction. `None` when there is no such channel.
    pub fn remove_channel(&mut self, id: i64) -> Result<Option<Removed>> {
        let tx = self.conn.transaction()?;
        let mut upkeep = Upkeep::default();
        let removed = remove_in(&tx, &mut upkeep, id)?;
        upkeep.finish(&tx)?;
        tx.commit()?;
        Ok(removed)
    }

    /// Marks the channel with `source_key` as the demo archive (the seed that filled a new store).
    pub fn mark_demo(&self, source_key: &str) -> Result<()> {
        set_meta(&self.conn, DEMO_KEY, source_key)
    }

    /// [`Archive::mark_demo`] for a store seeded before the mark existed: when it has no
    /// mark and holds a channel with the seed's key (asked of `source_key` only then).
    pub fn mark_demo_if_there(&self, source_key: impl FnOnce() -> Result<String>) -> Result<()> {
        if meta(&self.conn, DEMO_KEY)?.is_some() {
            return Ok(());
        }
        let key = source_key()?;
        let there: bool =
            self.conn
                .query_row("SELECT EXISTS (SELECT 1 FROM channels WHERE source_key = ?1)", [&key], |r| r.get(0))?;
        if there {
            self.mark_demo(&key)?;
        }
        Ok(())
    }
}

/// The demo channel of the store, if it still holds one and `arriving` is not it.
pub(super) fn demo_to_remove(tx: &Transaction<'_>, arriving: &str) -> Result<Option<i64>> {
    let Some(key) = meta(tx, DEMO_KEY)? else { return Ok(None) };
    if key == arriving {
        return Ok(None);
    }
    Ok(tx.query_row("SELECT id FROM channels WHERE source_key = ?1", [key], |r| r.get(0)).optional()?)
}

/// Removes channel `id` inside `tx`. Every row that points at its posts or at it goes with
/// them, found through the schema's foreign keys rather than a list kept by hand (an import
/// runs with the keys' checks off, so no cascade would do it); the search index, the phrase
/// index and the word counts lose what its posts gave them.
pub(super) fn remove_in(tx: &Transaction<'_>, upkeep: &mut Upkeep, id: i64) -> Result<Option<Removed>> {
    let Some(title) =
        tx.query_row("SELECT title FROM channels WHERE id = ?1", [id], |r| r.get::<_, String>(0)).optional()?
    else {
        return Ok(None);
    };
    let mut removed = Removed { title, ..Removed::default() };
    let mut lexicon = Lexicon::new();
    {
        let mut posts = tx.prepare("SELECT id, body FROM posts WHERE channel_id = ?1")?;
        let mut rows = posts.query([id])?;
        while let Some(row) = rows.next()? {
            let post: i64 = row.get(0)?;
            let body: String = row.get(1)?;
            tx.prepare_cached("DELETE FROM posts_fts WHERE rowid = ?1")?.execute([post])?;
            upkeep.forget(tx, post)?;
            lexicon.count(&body);
            removed.posts += 1;
        }
    }
    for (word, n) in lexicon.word_counts() {
        tx.prepare_cached("UPDATE vocabulary SET freq = freq - ?2 WHERE word = ?1")?.execute(params![word, n])?;
    }
    for (stem, n) in lexicon.stem_counts() {
        tx.prepare_cached("UPDATE stems SET docs = docs - ?2 WHERE stem = ?1")?.execute(params![stem, n])?;
    }
    tx.execute_batch(
        "DELETE FROM vocabulary WHERE freq <= 0;
         DELETE FROM stems WHERE docs <= 0;
         INSERT INTO meta(key, value) VALUES ('vocabulary_generation', '1')
         ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;",
    )?;
    // Replays of its posts: jobs naming one of them by id stop.
    removed.jobs_cancelled = tx.execute(
        "UPDATE replay_jobs SET state = 'cancelled', next_run = NULL
         WHERE state = 'active' AND target IN (SELECT CAST(id AS TEXT) FROM posts WHERE channel_id = ?1)",
        [id],
    )?;
    let files: Vec<String> = tx
        .prepare(
            "SELECT DISTINCT m.file FROM post_media m JOIN posts p ON p.id = m.post_id
             WHERE p.channel_id = ?1 AND m.file IS NOT NULL",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // The tables pointing at posts and at channels, from the schema.
    let references: Vec<(String, String, String)> = tx
        .prepare(
            "SELECT m.name, f.\"from\", f.\"table\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f
             WHERE m.type = 'table' AND f.\"table\" IN ('posts', 'channels')",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    // (`posts` itself points at `channels`: it goes last, below.)
    for (table, column, target) in references.iter().filter(|(table, ..)| table != "posts") {
        let sql = if target == "posts" {
            format!("DELETE FROM \"{table}\" WHERE \"{column}\" IN (SELECT id FROM posts WHERE channel_id = ?1)")
        } else {
            format!("DELETE FROM \"{table}\" WHERE \"{column}\" = ?1")
        };
        tx.execute(&sql, [id])?;
    }
    tx.execute("DELETE FROM posts WHERE channel_id = ?1", [id])?;
    tx.execute("DELETE FROM channels WHERE id = ?1", [id])?;
    for file in files {
        let used: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM post_media WHERE file = ?1)", [&file], |r| r.get(0))?;
        if !used {
            removed.unused_files.push(file);
        }
    }
    Ok(Some(removed))
}
