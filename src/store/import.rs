//! Writing posts: the import transaction and the one upsert every source uses.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::{Result, StoreError};
use crate::model::{NewChannel, NewPost, links_of, title_of};
use crate::search::text;
use crate::topics::Taxonomy;

/// A stored post's id and the fields an upsert compares: body, entities, date, edited.
type Stored = (i64, String, String, Option<i64>, Option<i64>);

/// What an upsert did to a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    New,
    Updated,
    Unchanged,
}

/// Counts of one import, as printed at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub channels: usize,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Messages that carry no post: service messages, media with no text, non-channel chats.
    pub skipped: usize,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} new / {} updated / {} unchanged / {} skipped ({} channel{})",
            self.new,
            self.updated,
            self.unchanged,
            self.skipped,
            self.channels,
            if self.channels == 1 { "" } else { "s" }
        )
    }
}

/// One import transaction. Dropping it without [`ImportSink::commit`] rolls everything back.
pub struct ImportSink<'a> {
    tx: Transaction<'a>,
    taxonomy: &'a Taxonomy,
    topic_ids: &'a [i64],
    channel: Option<i64>,
    summary: ImportSummary,
    /// Word form -> occurrences, flushed to `vocabulary` at commit (one write per word, not per post).
    vocabulary: HashMap<String, i64>,
    /// Stem -> posts holding it, flushed to `stems` at commit.
    stems: HashMap<String, i64>,
}

/// Words worth suggesting: real words of 3..=40 characters with a letter in them.
fn vocabulary_word(folded: &str) -> bool {
    let n = folded.chars().count();
    (3..=40).contains(&n) && folded.chars().any(char::is_alphabetic)
}

/// Adds one to a count, allocating the key only the first time it is seen.
fn bump(counts: &mut HashMap<String, i64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// Topic indices of a post body.
pub(crate) fn topics_of(taxonomy: &Taxonomy, body: &str) -> Vec<usize> {
    let words = text::words(body);
    let stems: Vec<&str> = words.iter().map(|w| w.stem.as_str()).collect();
    taxonomy.tag(&stems)
}

impl<'a> ImportSink<'a> {
    pub(super) fn new(tx: Transaction<'a>, taxonomy: &'a Taxonomy, topic_ids: &'a [i64]) -> Self {
        ImportSink {
            tx,
            taxonomy,
            topic_ids,
            channel: None,
            summary: ImportSummary::default(),
            vocabulary: HashMap::new(),
            stems: HashMap::new(),
        }
    }

    /// Creates or updates a channel and makes it the target of the following posts.
    pub fn channel(&mut self, c: &NewChannel) -> Result<i64> {
        let counters = serde_json::to_string(&c.counters).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id: i64 = self.tx.query_row(
            "INSERT INTO channels(source_key, tg_id, username, title, description, counters)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(source_key) DO UPDATE SET
                tg_id = COALESCE(excluded.tg_id, tg_id),
                username = COALESCE(excluded.username, username),
                title = CASE WHEN excluded.title = '' THEN title ELSE excluded.title END,
                description = COALESCE(excluded.description, description),
                counters = CASE WHEN excluded.counters = '{}' THEN counters ELSE excluded.counters END
             RETURNING id",
            params![c.source_key, c.tg_id, c.username, c.title, c.description, counters],
            |r| r.get(0),
        )?;
        self.channel = Some(id);
        self.summary.channels += 1;
        Ok(id)
    }

    /// Counts a message that carries no post.
    pub fn skip(&mut self) {
        self.summary.skipped += 1;
    }

    /// Stores a post of the current channel: new, updated in place, or left as it was.
    pub fn post(&mut self, p: NewPost) -> Result<(i64, Outcome)> {
        let channel = self.channel.ok_or_else(|| StoreError::Corrupt("a post came before its channel".into()))?;
        let entities = serde_json::to_string(&p.entities).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let existing: Option<Stored> = self
            .tx
            .prepare_cached("SELECT id, body, entities, date, edited FROM posts WHERE channel_id = ?1 AND seq = ?2")?
            .query_row(params![channel, p.seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .optional()?;
        let title = title_of(&p.text);
        let links =
            serde_json::to_string(&links_of(&p.text, &p.entities)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (id, outcome) = match existing {
            Some((id, body, old_entities, date, edited))
                if body == p.text && old_entities == entities && date == p.date && edited == p.edited =>
            {
                self.summary.unchanged += 1;
                return Ok((id, Outcome::Unchanged));
            }
            Some((id, ..)) => {
                self.tx
                    .prepare_cached(
                        "UPDATE posts SET message_id = ?2, date = ?3, edited = ?4, title = ?5, body = ?6,
                                          entities = ?7, links = ?8 WHERE id = ?1",
                    )?
                    .execute(params![id, p.message_id, p.date, p.edited, title, p.text, entities, links])?;
                self.tx.prepare_cached("DELETE FROM posts_fts WHERE rowid = ?1")?.execute([id])?;
                self.tx.prepare_cached("DELETE FROM post_topics WHERE post_id = ?1")?.execute([id])?;
                self.summary.updated += 1;
                (id, Outcome::Updated)
            }
            None => {
                // Not `RETURNING`: its statement savepoint makes FTS5 flush a segment per post.
                self.tx
                    .prepare_cached(
                        "INSERT INTO posts(channel_id, message_id, seq, date, edited, title, body, entities, links)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )?
                    .execute(params![channel, p.message_id, p.seq, p.date, p.edited, title, p.text, entities, links])?;
                let id = self.tx.last_insert_rowid();
                self.summary.new += 1;
                (id, Outcome::New)
            }
        };
        self.index(id, &title, &p.text)?;
        Ok((id, outcome))
    }

    /// Search index, topics and vocabulary of one post.
    fn index(&mut self, id: i64, title: &str, body: &str) -> Result<()> {
        let words = text::words(body);
        let mut stemmed_body = String::with_capacity(body.len());
        for w in &words {
            if !stemmed_body.is_empty() {
                stemmed_body.push(' ');
            }
            stemmed_body.push_str(&w.stem);
            if vocabulary_word(&w.folded) {
                bump(&mut self.vocabulary, &w.folded);
            }
        }
        self.tx.prepare_cached("INSERT INTO posts_fts(rowid, title, body) VALUES (?1, ?2, ?3)")?.execute(params![
            id,
            text::stemmed(title),
            stemmed_body
        ])?;
        let stems: Vec<&str> = words.iter().map(|w| w.stem.as_str()).collect();
        let mut distinct: Vec<&str> = stems.clone();
        distinct.sort_unstable();
        distinct.dedup();
        for stem in distinct {
            bump(&mut self.stems, stem);
        }
        let mut insert =
            self.tx.prepare_cached("INSERT OR IGNORE INTO post_topics(post_id, topic_id) VALUES (?1, ?2)")?;
        for t in self.taxonomy.tag(&stems) {
            insert.execute(params![id, self.topic_ids[t]])?;
        }
        Ok(())
    }

    /// Writes the vocabulary and commits the whole import.
    pub fn commit(self) -> Result<ImportSummary> {
        let flush = |sql: &str, counts: &HashMap<String, i64>| -> Result<()> {
            let mut upsert = self.tx.prepare_cached(sql)?;
            for (key, n) in counts {
                upsert.execute(params![key, n])?;
            }
            Ok(())
        };
        flush(
            "INSERT INTO vocabulary(word, freq) VALUES (?1, ?2) ON CONFLICT(word) DO UPDATE SET freq = freq + excluded.freq",
            &self.vocabulary,
        )?;
        flush(
            "INSERT INTO stems(stem, docs) VALUES (?1, ?2) ON CONFLICT(stem) DO UPDATE SET docs = docs + excluded.docs",
            &self.stems,
        )?;
        self.tx.commit()?;
        Ok(self.summary)
    }
}
