//! Reading the archive: posts, topics, counts, and the bot's small tables.

use chrono::{DateTime, Utc};
use rand::Rng;
use rusqlite::types::{Type, ValueRef};
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{Archive, Result, StoreError};
use crate::model::{Channel, Entity, Post, TopicRef, from_unix, post_url};

const POST_COLUMNS: &str = "p.id, p.channel_id, c.title, c.username, p.message_id, p.seq, p.date, p.edited,
                            p.title, p.body, p.entities, p.links, p.reactions, p.extra";

/// Archive order: dated posts by date, undated ones (a dump) by their place in the dump, first.
const ARCHIVE_ORDER: &str = "p.date IS NOT NULL, p.date, p.channel_id, p.seq";
/// Ids read by one statement in [`Archive::posts_by_id`] (SQLite allows 32,766 parameters).
const POSTS_PER_STATEMENT: usize = 100;
/// A remembered query used again within this many seconds keeps its `used_at`.
const QUERY_REFRESH_SECS: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicCount {
    #[serde(flatten)]
    pub topic: TopicRef,
    pub posts: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub posts: i64,
    pub channels: i64,
    pub first_date: Option<DateTime<Utc>>,
    pub last_date: Option<DateTime<Utc>>,
    pub undated: i64,
    pub untagged: i64,
    pub topics: Vec<TopicCount>,
}

fn corrupt(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

/// A text column, its UTF-8 checked with SIMD: rusqlite's own check of a page of post
/// bodies was a visible part of a search (benches/README.md).
fn text(r: &Row<'_>, i: usize) -> rusqlite::Result<String> {
    match r.get_ref(i)? {
        ValueRef::Text(bytes) => simdutf8::compat::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e))),
        other => Err(rusqlite::Error::InvalidColumnType(i, format!("column {i}"), other.data_type())),
    }
}

fn post_from_row(r: &Row<'_>) -> rusqlite::Result<Post> {
    let username: Option<String> = r.get(3)?;
    let message_id: Option<i64> = r.get(4)?;
    let entities = r.get_ref(10)?.as_bytes()?;
    let links = r.get_ref(11)?.as_bytes()?;
    Ok(Post {
        id: r.get(0)?,
        channel_id: r.get(1)?,
        channel_title: r.get(2)?,
        message_id,
        seq: r.get(5)?,
        date: from_unix(r.get(6)?),
        edited: from_unix(r.get(7)?),
        title: text(r, 8)?,
        body: text(r, 9)?,
        entities: serde_json::from_slice::<Vec<Entity>>(entities).map_err(corrupt)?,
        links: serde_json::from_slice(links).map_err(corrupt)?,
        topics: Vec::new(),
        url: post_url(username.as_deref(), message_id),
        media: Vec::new(),
        reactions: json_or_default(r, 12)?,
        extra: json_or_default(r, 13)?,
    })
}

/// A JSON column that is NULL when it holds nothing.
fn json_or_default<T: serde::de::DeserializeOwned + Default>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    match r.get_ref(i)?.as_bytes_or_null()? {
        Some(json) => serde_json::from_slice(json).map_err(corrupt),
        None => Ok(T::default()),
    }
}

impl Archive {
    /// One post by id, with its topics.
    pub fn post(&self, id: i64) -> Result<Option<Post>> {
        Ok(self.posts_by_id(&[id])?.pop())
    }

    /// Several posts by id, in the order given (missing ids are left out): two statements
    /// per [`POSTS_PER_STATEMENT`] ids (the posts, then their topics), not two per post.
    pub fn posts_by_id(&self, ids: &[i64]) -> Result<Vec<Post>> {
        let mut out: Vec<Post> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(POSTS_PER_STATEMENT) {
            // One statement per chunk length (a page has a handful of lengths), so they stay cached.
            let marks = (1..=chunk.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(",");
            let mut found: FxHashMap<i64, Post> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {POST_COLUMNS} FROM posts p JOIN channels c ON c.id = p.channel_id WHERE p.id IN ({marks})"
                ))?
                .query_map(params_from_iter(chunk), post_from_row)?
                .map(|r| r.map(|p| (p.id, p)))
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT pt.post_id, t.slug, t.ru, t.en, t.emoji FROM post_topics pt JOIN topics t ON t.id = pt.topic_id
                 WHERE pt.post_id IN ({marks}) ORDER BY t.id"
            ))?;
            let mut rows = stmt.query(params_from_iter(chunk))?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                if let Some(post) = found.get_mut(&id) {
                    post.topics.push(TopicRef { slug: r.get(1)?, ru: r.get(2)?, en: r.get(3)?, emoji: r.get(4)? });
                }
            }
            for (id, media) in super::media::media_of_posts(&self.conn, chunk, &marks)? {
                if let Some(post) = found.get_mut(&id) {
                    post.media = media;
                }
            }
            for id in chunk {
                match found.remove(id) {
                    Some(post) => out.push(post),
                    // The same id again: a copy of the one already placed.
                    None => {
                        if let Some(again) = out.iter().find(|p| p.id == *id).cloned() {
                            out.push(again);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// A page of the archive, oldest first, optionally of one topic; with the total count.
    pub fn posts(&self, topic: Option<&str>, offset: usize, limit: usize) -> Result<(Vec<Post>, usize)> {
        // The count and the page from one state of the store (as a search reads them).
        let _snapshot = self.snapshot()?;
        // ?1 is the topic slug, or '' for all posts.
        let slug = topic.unwrap_or("");
        let total: i64 = self.conn.query_row(
            "SELECT count(*) FROM posts p
             WHERE ?1 = '' OR p.id IN (SELECT pt.post_id FROM post_topics pt JOIN topics t ON t.id = pt.topic_id WHERE t.slug = ?1)",
            [slug],
            |r| r.get(0),
        )?;
        let sql = format!(
            "SELECT p.id FROM posts p
             WHERE ?1 = '' OR p.id IN (SELECT pt.post_id FROM post_topics pt JOIN topics t ON t.id = pt.topic_id WHERE t.slug = ?1)
             ORDER BY {ARCHIVE_ORDER} LIMIT ?2 OFFSET ?3"
        );
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![slug, limit as i64, offset as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok((self.posts_by_id(&ids)?, total as usize))
    }

    /// Whether any post has reactions (the sort by them is offered then).
    pub fn has_reactions(&self) -> Result<bool> {
        Ok(self.conn.query_row("SELECT EXISTS (SELECT 1 FROM posts WHERE reactions_total > 0)", [], |r| r.get(0))?)
    }

    /// The reactions of a live channel's message (a `message_reaction_count` update): the
    /// counts replace the ones kept. `false` when the archive has no such post.
    pub fn set_reactions(&self, tg_chat: i64, message_id: i64, reactions: &[crate::model::Reaction]) -> Result<bool> {
        let json = if reactions.is_empty() {
            None
        } else {
            Some(serde_json::to_string(reactions).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        };
        let total = crate::model::Reaction::total(reactions);
        // A live album is one post: its reactions are counted on the message that has them.
        // The post by its `seq` (which is its message id) and the album's items by their
        // index: by `message_id` alone the update read every post of the channel.
        let changed = self.conn.execute(
            "UPDATE posts SET reactions = ?3, reactions_total = ?4
             WHERE channel_id = (SELECT id FROM channels WHERE tg_id = ?1)
               AND id IN (SELECT id FROM posts WHERE channel_id = (SELECT id FROM channels WHERE tg_id = ?1)
                                                 AND seq = ?2 AND message_id = ?2
                          UNION SELECT post_id FROM post_media WHERE message_id = ?2)",
            params![tg_chat, message_id, json, total],
        )?;
        Ok(changed > 0)
    }

    /// Every post (of one topic), oldest first, one at a time: for exports of any size.
    pub fn for_each_post(&self, topic: Option<&str>, mut f: impl FnMut(Post) -> std::io::Result<()>) -> Result<()> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT p.id FROM posts p
             WHERE ?1 = '' OR p.id IN (SELECT pt.post_id FROM post_topics pt JOIN topics t ON t.id = pt.topic_id WHERE t.slug = ?1)
             ORDER BY {ARCHIVE_ORDER}"
        ))?;
        let mut rows = stmt.query([topic.unwrap_or("")])?;
        while let Some(row) = rows.next()? {
            if let Some(post) = self.post(row.get(0)?)? {
                f(post).map_err(StoreError::Output)?;
            }
        }
        Ok(())
    }

    /// The newest posts first (inline mode with an empty query).
    pub fn newest(&self, offset: usize, limit: usize) -> Result<Vec<Post>> {
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT p.id FROM posts p ORDER BY p.date IS NULL, p.date DESC, p.channel_id DESC, p.seq DESC LIMIT ?1 OFFSET ?2",
            )?
            .query_map(params![limit as i64, offset as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        self.posts_by_id(&ids)
    }

    /// The titles of the newest `limit` posts (examples of searches drawn from the archive).
    pub fn recent_titles(&self, limit: usize) -> Result<Vec<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT title FROM posts ORDER BY date IS NULL, date DESC, id DESC LIMIT ?1")?
            .query_map(params![limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// How many posts the archive holds.
    pub fn post_count(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT count(*) FROM posts", [], |r| r.get(0))?)
    }

    /// Topics with their post counts, in taxonomy order.
    pub fn topic_counts(&self) -> Result<Vec<TopicCount>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.slug, t.ru, t.en, t.emoji, (SELECT count(*) FROM post_topics pt WHERE pt.topic_id = t.id)
             FROM topics t ORDER BY t.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TopicCount {
                topic: TopicRef { slug: r.get(0)?, ru: r.get(1)?, en: r.get(2)?, emoji: r.get(3)? },
                posts: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn stats(&self) -> Result<Stats> {
        let (posts, channels, first, last, undated, untagged): (i64, i64, Option<i64>, Option<i64>, i64, i64) =
            self.conn.query_row(
                "SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM channels),
                        (SELECT min(date) FROM posts), (SELECT max(date) FROM posts),
                        (SELECT count(*) FROM posts WHERE date IS NULL),
                        (SELECT count(*) FROM posts WHERE id NOT IN (SELECT post_id FROM post_topics))",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )?;
        Ok(Stats {
            posts,
            channels,
            first_date: from_unix(first),
            last_date: from_unix(last),
            undated,
            untagged,
            topics: self.topic_counts()?,
        })
    }

    pub fn channels(&self) -> Result<Vec<Channel>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, source_key, tg_id, username, title, description, counters FROM channels ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let counters: String = r.get(6)?;
            Ok(Channel {
                id: r.get(0)?,
                source_key: r.get(1)?,
                tg_id: r.get(2)?,
                username: r.get(3)?,
                title: r.get(4)?,
                description: r.get(5)?,
                counters: serde_json::from_str(&counters).map_err(corrupt)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The channel the archive is about: the one with the most posts. A store of one channel
    /// (the common case; every web page asks) reads no post, where counting them all was
    /// most of a page's time at scale (benches/README.md). With several, each is counted over its part of the
    /// `(channel_id, seq)` index.
    pub fn main_channel(&self) -> Result<Option<Channel>> {
        let channels = self.channels()?;
        if channels.len() <= 1 {
            let has_posts = self.conn.query_row("SELECT EXISTS (SELECT 1 FROM posts)", [], |r| r.get::<_, bool>(0))?;
            return Ok(channels.into_iter().next().filter(|_| has_posts));
        }
        let mut count = self.conn.prepare_cached("SELECT count(*) FROM posts WHERE channel_id = ?1")?;
        let mut best: Option<(i64, Channel)> = None;
        for channel in channels {
            let n: i64 = count.query_row([channel.id], |r| r.get(0))?;
            if n > 0 && best.as_ref().is_none_or(|(most, _)| n > *most) {
                best = Some((n, channel));
            }
        }
        Ok(best.map(|(_, c)| c))
    }

    /// A random post this chat has not been shown yet; when every post has been
    /// shown the chat starts over (never with the post it saw last).
    pub fn random_post(&mut self, chat_id: i64) -> Result<Option<Post>> {
        // Only whether there are 0, 1 or more posts matters: no full count on a big archive.
        let (total, max_id): (i64, i64) = self.conn.query_row(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM posts LIMIT 2)), coalesce(max(id), 0) FROM posts",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if total == 0 {
            return Ok(None);
        }
        let unseen = |archive: &Archive, exclude: i64| -> Result<Option<i64>> {
            let mut rng = rand::rng();
            // Cheap probes first: a random id, then the next unseen one after it.
            for _ in 0..8 {
                let probe = rng.random_range(1..=max_id.max(1));
                let id: Option<i64> = archive
                    .conn
                    .prepare_cached(
                        "SELECT id FROM posts WHERE id >= ?1 AND id <> ?3
                           AND id NOT IN (SELECT post_id FROM random_seen WHERE chat_id = ?2) ORDER BY id LIMIT 1",
                    )?
                    .query_row(params![probe, chat_id, exclude], |r| r.get(0))
                    .optional()?;
                if id.is_some() {
                    return Ok(id);
                }
            }
            Ok(archive
                .conn
                .prepare_cached(
                    "SELECT id FROM posts WHERE id <> ?2 AND id NOT IN (SELECT post_id FROM random_seen WHERE chat_id = ?1)
                     ORDER BY random() LIMIT 1",
                )?
                .query_row(params![chat_id, exclude], |r| r.get(0))
                .optional()?)
        };
        let id = match unseen(self, 0)? {
            Some(id) => id,
            None => {
                let last: i64 = self
                    .conn
                    .query_row(
                        "SELECT post_id FROM random_seen WHERE chat_id = ?1 ORDER BY rowid DESC LIMIT 1",
                        [chat_id],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(0);
                self.conn.execute("DELETE FROM random_seen WHERE chat_id = ?1", [chat_id])?;
                match unseen(self, if total > 1 { last } else { 0 })? {
                    Some(id) => id,
                    None => return Ok(None),
                }
            }
        };
        self.conn
            .execute("INSERT OR IGNORE INTO random_seen(chat_id, post_id) VALUES (?1, ?2)", params![chat_id, id])?;
        self.post(id)
    }

    /// Stores a search query and returns its compact id for callback data.
    pub fn remember_query(&self, text: &str, now: i64) -> Result<i64> {
        // Queries repeat (paging, popular words): one seen within the hour is only read,
        // not written again; `used_at` needs no finer grain than the 30 days it is kept.
        let seen: Option<(i64, i64)> = self
            .conn
            .prepare_cached("SELECT id, used_at FROM queries WHERE text = ?1")?
            .query_row([text], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((id, used_at)) = seen
            && (0..QUERY_REFRESH_SECS).contains(&(now - used_at))
        {
            return Ok(id);
        }
        Ok(self.conn.query_row(
            "INSERT INTO queries(text, used_at) VALUES (?1, ?2)
             ON CONFLICT(text) DO UPDATE SET used_at = excluded.used_at RETURNING id",
            params![text, now],
            |r| r.get(0),
        )?)
    }

    pub fn query_text(&self, id: i64) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT text FROM queries WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }

    /// Forgets queries unused since `before` (their buttons then answer "search again").
    pub fn forget_queries(&self, before: i64) -> Result<usize> {
        Ok(self.conn.execute("DELETE FROM queries WHERE used_at < ?1", [before])?)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading posts in batches gives what reading them one at a time gives (and what the
    /// tables hold), in the order asked, across statement chunks, with unknown ids left out
    /// and repeated ids repeated.
    #[test]
    fn posts_by_id_matches_one_at_a_time() -> anyhow::Result<()> {
        let mut archive = Archive::open_in_memory()?;
        // Twenty posts, some with topic markers (robots, trading), some with none.
        let channel = crate::model::NewChannel {
            source_key: "tg:-1001".into(),
            tg_id: Some(-1001),
            username: Some("chan".into()),
            title: "Test".into(),
            description: None,
            counters: Default::default(),
        };
        archive.import(|sink| -> Result<()> {
            sink.channel(&channel)?;
            for seq in 1..=20 {
                let theme = ["робот-собака учится ходить", "торговая стратегия на бирже", "просто заметка"];
                sink.post(crate::model::NewPost {
                    message_id: Some(seq),
                    seq,
                    date: Some(1_600_000_000 + seq),
                    edited: None,
                    text: format!("Пост {seq}\n{} номер {seq}", theme[seq as usize % 3]),
                    entities: vec![],
                    ..Default::default()
                })?;
            }
            Ok(())
        })?;
        let mut ids: Vec<i64> = archive
            .conn
            .prepare("SELECT id FROM posts ORDER BY id DESC")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        // The posts over and over, every other time oldest first: several chunks, ids met again.
        let once = ids.clone();
        while ids.len() <= 2 * POSTS_PER_STATEMENT {
            ids.extend(once.iter().rev());
            ids.extend(once.iter());
        }
        assert!(ids.len() > 2 * POSTS_PER_STATEMENT, "the ids span several chunks ({})", ids.len());
        let tagged: i64 =
            archive.conn.query_row("SELECT count(DISTINCT post_id) FROM post_topics", [], |r| r.get(0))?;
        assert!(tagged > 0 && tagged < 20, "some posts have topics, some none");
        ids.insert(7, -5);
        ids.insert(150, ids[3]);
        ids.push(i64::MAX);
        let expected: Vec<Post> = ids.iter().filter_map(|&id| archive.post(id).transpose()).collect::<Result<_>>()?;
        assert_eq!(expected.len(), ids.len() - 2);
        // Each post's own fields and topics, read without `posts_by_id`.
        let mut topics = archive.conn.prepare(
            "SELECT t.slug FROM post_topics pt JOIN topics t ON t.id = pt.topic_id WHERE pt.post_id = ?1 ORDER BY t.id",
        )?;
        for post in &expected {
            let body: String =
                archive.conn.query_row("SELECT body FROM posts WHERE id = ?1", [post.id], |r| r.get(0))?;
            assert_eq!(post.body, body);
            let slugs: Vec<String> = topics.query_map([post.id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            assert_eq!(post.topics.iter().map(|t| t.slug.clone()).collect::<Vec<_>>(), slugs);
        }
        assert_eq!(archive.posts_by_id(&ids)?, expected);
        assert_eq!(archive.posts_by_id(&[])?, Vec::<Post>::new());
        Ok(())
    }
}
