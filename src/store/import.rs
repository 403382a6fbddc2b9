//! Writing posts: the import transaction and the one upsert every source uses.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::{Result, StoreError};
use crate::model::{Entity, Extra, NewChannel, NewPost, Reaction, links_of, title_of};
use crate::text;
use crate::text::lexicon::Lexicon;
use crate::topics::Taxonomy;

/// The fields of a stored post an upsert compares (and an album part is merged into).
#[derive(Debug, Clone)]
struct StoredPost {
    message_id: Option<i64>,
    seq: i64,
    body: String,
    /// As stored (JSON), for the comparison.
    entities: String,
    entities_parsed: Vec<Entity>,
    date: Option<i64>,
    edited: Option<i64>,
    media: Vec<crate::model::Media>,
    /// As stored (JSON or NULL), for the comparison.
    reactions: Option<String>,
    extra: Option<String>,
}

impl StoredPost {
    fn reactions(&self) -> Result<Vec<Reaction>> {
        Ok(match &self.reactions {
            Some(json) => serde_json::from_str(json)?,
            None => Vec::new(),
        })
    }

    fn extra(&self) -> Result<Extra> {
        Ok(match &self.extra {
            Some(json) => serde_json::from_str(json)?,
            None => Extra::default(),
        })
    }
}

/// A live album part merged into its album's post: its items replace the ones its message
/// gave before (an edit), the items keep message order, the post's seq and date are the
/// first part's. The caption is the part's that has one: the post's `message_id` names
/// that part, so an edit removing the caption there removes it from the post, and a
/// part without one leaves another part's caption alone.
fn merge_part(stored: StoredPost, part: NewPost) -> Result<NewPost> {
    let reactions = if part.reactions.is_empty() { stored.reactions()? } else { part.reactions };
    let extra = if part.extra.is_empty() { stored.extra()? } else { part.extra };
    let mut media: Vec<crate::model::Media> =
        stored.media.into_iter().filter(|m| m.message_id.is_none() || m.message_id != part.message_id).collect();
    media.extend(part.media.into_iter().map(|mut m| {
        m.message_id = m.message_id.or(part.message_id);
        m
    }));
    media.sort_by_key(|m| m.message_id.unwrap_or(i64::MAX));
    let (text, entities, message_id) = if !part.text.trim().is_empty() {
        (part.text, part.entities, part.message_id)
    } else if stored.message_id == part.message_id {
        (String::new(), Vec::new(), part.message_id)
    } else {
        (stored.body, stored.entities_parsed, stored.message_id)
    };
    let date = match (stored.date, part.date) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(NewPost {
        message_id,
        seq: stored.seq.min(part.seq),
        date,
        edited: stored.edited.max(part.edited),
        text,
        entities,
        media,
        media_group: part.media_group,
        reactions,
        extra,
    })
}

/// A post read again (a re-import) never loses what the store has: an item the new
/// source names without its file (an export made without media, a file that is not there)
/// keeps the stored item's file when the stored post has one for the same message and
/// kind; a date, reactions or a poll the new source lacks stay. Returns the items kept so.
fn keep_stored(stored: &StoredPost, p: &mut NewPost) -> Result<Kept> {
    let mut taken = vec![false; stored.media.len()];
    let mut kept = 0;
    let mut changed = false;
    for item in p.media.iter_mut().filter(|m| m.missing && m.file.is_none()) {
        let found =
            stored.media.iter().enumerate().position(|(i, s)| {
                !taken[i] && s.file.is_some() && s.kind == item.kind && s.message_id == item.message_id
            });
        if let Some(i) = found {
            taken[i] = true;
            *item = stored.media[i].clone();
            kept += 1;
        }
    }
    if p.date.is_none() && stored.date.is_some() {
        p.date = stored.date;
        changed = true;
    }
    if p.edited.is_none() && stored.edited.is_some() {
        p.edited = stored.edited;
        changed = true;
    }
    // An export made before reactions were exported, or a poll read as something else.
    if p.reactions.is_empty() && stored.reactions.is_some() {
        p.reactions = stored.reactions()?;
        changed = true;
    }
    if p.extra.poll.is_none() && stored.extra.is_some() {
        let poll = stored.extra()?.poll;
        changed |= poll.is_some();
        p.extra.poll = poll;
    }
    Ok(Kept { media: kept, changed: changed || kept > 0 })
}

/// What [`keep_stored`] took from the stored post.
struct Kept {
    media: usize,
    /// Anything at all: the post's row must be made again.
    changed: bool,
}

/// The columns of a post's row made from its text and entities.
struct Row {
    title: String,
    /// JSON.
    entities: String,
    /// JSON.
    links: String,
    /// JSON, NULL when none are known.
    reactions: Option<String>,
    reactions_total: i64,
    /// JSON, NULL when the post has nothing of the kind.
    extra: Option<String>,
}

impl Row {
    /// `first` (the channel of an insert, the post of an update), then the post's columns
    /// in the order both statements bind them.
    fn with_post<'a>(&'a self, first: &'a i64, p: &'a NewPost) -> [&'a dyn rusqlite::ToSql; 12] {
        [
            first,
            &p.message_id,
            &p.seq,
            &p.date,
            &p.edited,
            &self.title,
            &p.text,
            &self.entities,
            &self.links,
            &self.reactions,
            &self.reactions_total,
            &self.extra,
        ]
    }

    fn of(p: &NewPost) -> Result<Row> {
        let json = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        Ok(Row {
            title: title_of(&p.text),
            entities: serde_json::to_string(&p.entities).map_err(json)?,
            links: serde_json::to_string(&links_of(&p.text, &p.entities)).map_err(json)?,
            reactions: if p.reactions.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&p.reactions).map_err(json)?)
            },
            reactions_total: Reaction::total(&p.reactions),
            extra: if p.extra.is_empty() { None } else { Some(serde_json::to_string(&p.extra).map_err(json)?) },
        })
    }
}

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
    /// Messages that carry no post: service messages, empty messages, non-channel chats.
    pub skipped: usize,
    /// Media files copied into the media folder by this import.
    pub media_copied: usize,
    /// Media files the media folder already held (the same content, by its hash).
    pub media_present: usize,
    /// Media the export names without including the file (or whose file is not there),
    /// and that the store had no file for either.
    pub media_missing: usize,
    /// Media the export names without their file, whose file the store already had (a
    /// re-import of an export made without media): kept, not counted as missing.
    pub media_kept: usize,
    /// Posts whose date came from the export's local time (an old export without
    /// `date_unixtime`), read in `dates_zone`.
    pub dates_local: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dates_zone: Option<String>,
    /// Posts with a `date_unixtime` / `edited_unixtime` that could not be read (each warned of).
    pub dates_unreadable: usize,
    /// The demo archive, removed by this import because the store's own channel arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo_removed: Option<super::Removed>,
    /// Chats of the export that are not channels, whose messages were skipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_chats: Vec<SkippedChat>,
}

/// A chat an import passed over: only channels are archived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SkippedChat {
    pub name: String,
    /// `supergroup`, `personal chat`, …
    pub kind: String,
    pub messages: usize,
}

/// What became of one media file of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaOutcome {
    Copied,
    AlreadyPresent,
    Missing,
}

impl ImportSummary {
    /// Counts a media file of the import.
    pub fn count_media(&mut self, outcome: MediaOutcome) {
        match outcome {
            MediaOutcome::Copied => self.media_copied += 1,
            MediaOutcome::AlreadyPresent => self.media_present += 1,
            MediaOutcome::Missing => self.media_missing += 1,
        }
    }
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
        )?;
        if self.media_copied + self.media_present + self.media_missing + self.media_kept > 0 {
            write!(
                f,
                "; media: {} copied / {} already present / {} kept / {} missing",
                self.media_copied, self.media_present, self.media_kept, self.media_missing
            )?;
        }
        if let Some(demo) = &self.demo_removed {
            write!(
                f,
                "\nthe demo archive «{}» ({} posts) was removed: the store holds your own channels now",
                demo.title, demo.posts
            )?;
        }
        if self.dates_local > 0 {
            let zone = self.dates_zone.as_deref().unwrap_or("UTC");
            write!(
                f,
                "\ndates: {} read as local time in {zone} (the export has no date_unixtime; --export-timezone names the exporting computer's zone)",
                self.dates_local
            )?;
        }
        if self.dates_unreadable > 0 {
            write!(
                f,
                "\ndates: {} unreadable date_unixtime, the local date used (see the warnings)",
                self.dates_unreadable
            )?;
        }
        if !self.skipped_chats.is_empty() {
            let chats: Vec<String> = self
                .skipped_chats
                .iter()
                .map(|c| {
                    format!(
                        "«{}» ({}, {} message{})",
                        c.name,
                        c.kind,
                        c.messages,
                        if c.messages == 1 { "" } else { "s" }
                    )
                })
                .collect();
            write!(f, "\nskipped: {}: only channels are archived", chats.join(", "))?;
        }
        Ok(())
    }
}

/// One import transaction. Dropping it without [`ImportSink::commit`] rolls everything back.
pub struct ImportSink<'a> {
    tx: Transaction<'a>,
    taxonomy: &'a Taxonomy,
    topics: TopicRows<'a>,
    channel: Option<i64>,
    summary: ImportSummary,
    /// Where posts are analysed; its word and stem counts are flushed to `vocabulary`
    /// and `stems` at commit (one write per word, not per post).
    analyzer: Analyzer,
    pairs: super::phrases::Upkeep,
}

/// Posts an import indexes before its analysis moves to a second thread: a live post or
/// a small file is analysed inline; a big import overlaps stemming with SQLite's writes.
const INLINE_POSTS: usize = 256;
/// Posts waiting for the analysis thread at most (bounds the memory a fast parser can fill).
const QUEUED_POSTS: usize = 1024;
/// Posts sent to the analysis thread at a time: a message per post woke the other thread
/// for each (a futex call on each side: a fourteenth of the writer's time).
const BATCH_POSTS: usize = 64;

/// A post to analyse: its id and text (its title is the text's first line). Nothing the
/// writer allocated goes to the analysis thread to be freed there: with glibc's malloc,
/// such frees lock the writer's arena while SQLite allocates in it.
struct Job {
    id: i64,
    body: String,
}

/// A post analysed: what its index row and topics are.
struct Analysed {
    id: i64,
    title: String,
    body: String,
    topics: Vec<usize>,
}

fn analyse(lexicon: &mut Lexicon, taxonomy: &Taxonomy, job: Job) -> Analysed {
    let analysis = lexicon.count(&job.body);
    let stems: Vec<&str> = analysis.stems.iter().map(|&s| lexicon.stem(s)).collect();
    let topics = taxonomy.tag(&stems);
    Analysed { id: job.id, title: lexicon.stemmed(&title_of(&job.body)), body: analysis.stemmed, topics }
}

/// Stemming and tagging, in line or on a thread of their own. Every word form is
/// stemmed once per import (the lexicon), so the second thread mostly folds and
/// looks words up while this one writes rows.
enum Analyzer {
    Inline(Lexicon),
    Thread {
        jobs: SyncSender<Batch>,
        done: Receiver<Vec<Analysed>>,
        worker: JoinHandle<Lexicon>,
        /// Jobs not sent yet (fewer than [`BATCH_POSTS`]).
        batch: Vec<Job>,
        /// Analyses written, going back with the next batch to be freed where they were made.
        spent: Vec<Vec<Analysed>>,
        /// Jobs sent whose results have not been written yet.
        pending: usize,
    },
    /// Only while switching from one to the other.
    Gone,
}

impl Analyzer {
    fn spawn(lexicon: Lexicon, taxonomy: Taxonomy) -> Result<Analyzer> {
        let (jobs, inbox) = mpsc::sync_channel::<Batch>(QUEUED_POSTS / BATCH_POSTS);
        // Unbounded: the writer drains it after every post, and a bounded one could
        // deadlock with the bounded job queue.
        let (outbox, done) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("postkeeper-analyse".into())
            .spawn(move || {
                let mut lexicon = lexicon;
                for Batch { jobs, spent } in inbox {
                    drop(spent);
                    let analysed = jobs.into_iter().map(|job| analyse(&mut lexicon, &taxonomy, job)).collect();
                    if outbox.send(analysed).is_err() {
                        break;
                    }
                }
                lexicon
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start the analysis thread: {e}")))?;
        Ok(Analyzer::Thread {
            jobs,
            done,
            worker,
            batch: Vec::with_capacity(BATCH_POSTS),
            spent: Vec::new(),
            pending: 0,
        })
    }
}

/// Posts for the analysis thread, and the analyses it made that are written: freed on the
/// thread that allocated them. With glibc's malloc, a free on another thread locks the
/// allocating thread's arena; the writer freeing the analyses slept on that lock hundreds
/// of times an import, and the analysis thread freeing the writer's strings made SQLite's
/// own allocations wait.
struct Batch {
    jobs: Vec<Job>,
    spent: Vec<Vec<Analysed>>,
}

/// Sends the posts batched so far to the analysis thread; they are pending until written.
fn send_batch(
    jobs: &SyncSender<Batch>,
    batch: &mut Vec<Job>,
    spent: &mut Vec<Vec<Analysed>>,
    pending: &mut usize,
) -> Result<()> {
    *pending += batch.len();
    let batch = Batch { jobs: std::mem::replace(batch, Vec::with_capacity(BATCH_POSTS)), spent: std::mem::take(spent) };
    jobs.send(batch).map_err(|_| analysis_lost())
}

fn analysis_lost() -> StoreError {
    StoreError::Corrupt("the analysis thread stopped".into())
}

/// Writes a post's index row and topics.
fn write_index(
    tx: &Transaction<'_>,
    topics: &mut TopicRows<'_>,
    pairs: &mut super::phrases::Upkeep,
    a: &Analysed,
) -> Result<()> {
    tx.prepare_cached("INSERT INTO posts_fts(rowid, title, body) VALUES (?1, ?2, ?3)")?
        .execute(params![a.id, a.title, a.body])?;
    pairs.write(tx, a.id, &a.title, &a.body)?;
    topics.write(tx, a.id, &a.topics)
}

/// A post's topic rows: one statement per post, not per topic (posts of the bench corpus
/// have 4.7; the statement's own cost was most of each row's), its SQL made once per
/// number of topics.
struct TopicRows<'a> {
    /// Row ids of the taxonomy's topics, by index.
    ids: &'a [i64],
    /// `sql[n]`: the statement for n + 1 topics.
    sql: Vec<String>,
}

impl TopicRows<'_> {
    fn write(&mut self, tx: &Transaction<'_>, post: i64, topics: &[usize]) -> Result<()> {
        let Some(last) = topics.len().checked_sub(1) else { return Ok(()) };
        while self.sql.len() <= last {
            let n = self.sql.len() + 1;
            let values: Vec<String> = (2..=n + 1).map(|i| format!("(?1, ?{i})")).collect();
            self.sql.push(format!("INSERT OR IGNORE INTO post_topics(post_id, topic_id) VALUES {}", values.join(", ")));
        }
        let mut insert = tx.prepare_cached(&self.sql[last])?;
        insert.raw_bind_parameter(1, post)?;
        for (i, &t) in topics.iter().enumerate() {
            insert.raw_bind_parameter(i + 2, self.ids[t])?;
        }
        insert.raw_execute()?;
        Ok(())
    }
}

/// Rebuilds the search index from the posts (after a change of the index table).
pub(super) fn reindex(tx: &Transaction<'_>) -> Result<()> {
    let posts: i64 = tx.query_row("SELECT count(*) FROM posts", [], |r| r.get(0))?;
    if posts > 0 {
        // Minutes for millions of posts: say why opening the store takes a while.
        tracing::info!(posts, "rebuilding the search index for this version's format (once)");
    }
    let mut lexicon = Lexicon::new();
    let mut select = tx.prepare("SELECT id, title, body FROM posts")?;
    let mut insert = tx.prepare("INSERT INTO posts_fts(rowid, title, body) VALUES (?1, ?2, ?3)")?;
    let mut rows = select.query([])?;
    while let Some(row) = rows.next()? {
        let (id, title, body): (i64, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        insert.execute(params![id, lexicon.stemmed(&title), lexicon.stemmed(&body)])?;
    }
    if posts > 0 {
        tracing::info!(posts, "search index rebuilt");
    }
    Ok(())
}

/// Re-indexes the posts that have CJK letters (V14): their runs were one token each, and are
/// their bigrams now (`text::grams`). Only those posts are read again and written (a
/// Russian archive's rows stay as they are: a read of every post, no write); their stems'
/// post counts move from the old tokens to the new, the old runs leave the vocabulary, and
/// the phrase index, where it has them, gets them anew.
pub(super) fn reindex_cjk(tx: &Transaction<'_>) -> Result<()> {
    // The tokens as the version before split them: a run of letters and digits of any
    // script, its CJK letters included, folded and stemmed whole.
    fn old_words(text: &str) -> Vec<(String, String)> {
        text.split(|c: char| !text::is_word_char(c))
            .filter(|w| !w.is_empty())
            .map(|w| {
                let folded = text::fold(w);
                let stem = text::stem_folded(&folded).into_owned();
                (folded, stem)
            })
            .collect()
    }
    fn has_cjk(text: &str) -> bool {
        // Every CJK letter's UTF-8 lead byte is 0xE1 or above; Cyrillic's are 0xD0 and 0xD1.
        text.bytes().any(|b| b >= 0xE1) && text.chars().any(text::is_cjk)
    }
    let mut ids: Vec<i64> = Vec::new();
    {
        let mut select = tx.prepare("SELECT id, title, body FROM posts")?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let text = |i: usize| -> Result<&str> { Ok(row.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?) };
            let (title, body) = (text(1)?, text(2)?);
            if has_cjk(title) || has_cjk(body) {
                ids.push(row.get(0)?);
            }
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    tracing::info!(posts = ids.len(), "indexing the Chinese, Japanese and Korean words of posts (once)");
    let mut lexicon = Lexicon::new();
    let mut pairs = super::phrases::Upkeep::default();
    // Posts each old stem leaves, and the old CJK word forms (to leave the vocabulary).
    let mut left: rustc_hash::FxHashMap<String, i64> = rustc_hash::FxHashMap::default();
    let mut old_forms: rustc_hash::FxHashSet<String> = rustc_hash::FxHashSet::default();
    {
        let mut read = tx.prepare("SELECT title, body FROM posts WHERE id = ?1")?;
        let mut delete = tx.prepare("DELETE FROM posts_fts WHERE rowid = ?1")?;
        let mut insert = tx.prepare("INSERT INTO posts_fts(rowid, title, body) VALUES (?1, ?2, ?3)")?;
        for &id in &ids {
            let (title, body): (String, String) = read.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let mut stems: Vec<String> = Vec::new();
            for (folded, stem) in old_words(&body) {
                if folded.chars().any(text::is_cjk) {
                    old_forms.insert(folded);
                }
                stems.push(stem);
            }
            stems.sort_unstable();
            stems.dedup();
            for stem in stems {
                *left.entry(stem).or_default() += 1;
            }
            let title = lexicon.stemmed(&title);
            let body = lexicon.count(&body).stemmed;
            delete.execute([id])?;
            insert.execute(params![id, title, body])?;
            pairs.forget(tx, id)?;
            pairs.write(tx, id, &title, &body)?;
        }
    }
    pairs.finish(tx)?;
    let mut leave = tx.prepare("UPDATE stems SET docs = docs - ?2 WHERE stem = ?1")?;
    for (stem, n) in &left {
        leave.execute(params![stem, n])?;
    }
    tx.execute("DELETE FROM stems WHERE docs <= 0", [])?;
    let mut add = tx.prepare(
        "INSERT INTO stems(stem, docs) VALUES (?1, ?2) ON CONFLICT(stem) DO UPDATE SET docs = docs + excluded.docs",
    )?;
    for (stem, n) in lexicon.stem_counts() {
        add.execute(params![stem, n])?;
    }
    let mut forget = tx.prepare("DELETE FROM vocabulary WHERE word = ?1")?;
    for form in &old_forms {
        forget.execute([form])?;
    }
    // A run's Latin or Cyrillic part (`gpt` of `gpt模型`) is a word of its own now.
    let mut word = tx.prepare(
        "INSERT INTO vocabulary(word, freq) VALUES (?1, ?2) ON CONFLICT(word) DO UPDATE SET freq = freq + excluded.freq",
    )?;
    for (form, n) in lexicon.word_counts() {
        if !is_word(tx, form)? {
            word.execute(params![form, n])?;
        }
    }
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('vocabulary_generation', '1')
         ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        [],
    )?;
    tracing::info!(posts = ids.len(), "Chinese, Japanese and Korean words indexed");
    Ok(())
}

/// Does the vocabulary have this word form already? (Then its count already holds it.)
fn is_word(tx: &Transaction<'_>, form: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM vocabulary WHERE word = ?1")?
        .query_row([form], |_| Ok(()))
        .optional()?
        .is_some())
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
            topics: TopicRows { ids: topic_ids, sql: Vec::new() },
            channel: None,
            summary: ImportSummary::default(),
            analyzer: Analyzer::Inline(Lexicon::new()),
            pairs: super::phrases::Upkeep::default(),
        }
    }

    /// Creates or updates a channel and makes it the target of the following posts. The
    /// first channel of the store's own takes the demo archive's place: the demo is removed
    /// in the same transaction.
    pub fn channel(&mut self, c: &NewChannel) -> Result<i64> {
        if let Some(demo) = super::channels::demo_to_remove(&self.tx, &c.source_key)? {
            // Its posts' index rows may still be on their way (not in practice: a demo's
            // posts come from another import).
            self.drain(true)?;
            if let Some(removed) = super::channels::remove_in(&self.tx, &mut self.pairs, demo)? {
                tracing::info!(
                    posts = removed.posts,
                    "the demo archive «{}» removed: your own channel is here",
                    removed.title
                );
                self.summary.demo_removed = Some(removed);
            }
        }
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

    /// Counts a media file of the import.
    pub fn count_media(&mut self, outcome: MediaOutcome) {
        self.summary.count_media(outcome);
    }

    /// Names a chat whose messages were skipped.
    pub fn skip_chat(&mut self, chat: SkippedChat) {
        self.summary.skipped_chats.push(chat);
    }

    /// The summary's counts, to add to.
    pub fn counts(&mut self) -> &mut ImportSummary {
        &mut self.summary
    }

    /// Adds skipped messages and media files counted elsewhere (a parser on another
    /// thread: `ingest::pipe`); its post counts are not taken.
    pub fn add_counts(&mut self, counts: &ImportSummary) {
        self.summary.skipped += counts.skipped;
        self.summary.media_copied += counts.media_copied;
        self.summary.media_present += counts.media_present;
        self.summary.media_missing += counts.media_missing;
        self.summary.skipped_chats.extend(counts.skipped_chats.iter().cloned());
        self.summary.dates_local += counts.dates_local;
        self.summary.dates_unreadable += counts.dates_unreadable;
        if counts.dates_zone.is_some() {
            self.summary.dates_zone.clone_from(&counts.dates_zone);
        }
    }

    /// Stores a post of the current channel: new, updated in place, or left as it was.
    /// A live album part (`media_group`) is merged into the post of its album.
    pub fn post(&mut self, p: NewPost) -> Result<(i64, Outcome)> {
        let channel = self.channel.ok_or_else(|| StoreError::Corrupt("a post came before its channel".into()))?;
        // Most posts of an import are new: inserted at once, with no lookup first. One whose
        // seq is taken is compared with the stored one below; an album part's row is made
        // after it is merged into its album's post.
        let mut row = match p.media_group {
            None => {
                let row = Row::of(&p)?;
                if self.insert_row(channel, &p, &row)? == 1 {
                    return self.inserted(channel, p);
                }
                Some(row)
            }
            Some(_) => None,
        };
        let (target, p) = match &p.media_group {
            Some(group) => match self.album_post(channel, group, &p)? {
                Some(id) => {
                    let stored = self.stored(id)?;
                    (Some((id, stored.clone())), merge_part(stored, p)?)
                }
                None => (None, p),
            },
            None => {
                let id: Option<i64> = self
                    .tx
                    .prepare_cached("SELECT id FROM posts WHERE channel_id = ?1 AND seq = ?2")?
                    .query_row(params![channel, p.seq], |r| r.get(0))
                    .optional()?;
                match id {
                    Some(id) => {
                        let stored = self.stored(id)?;
                        let mut p = p;
                        let kept = keep_stored(&stored, &mut p)?;
                        self.summary.media_kept += kept.media;
                        if kept.changed {
                            row = None;
                        }
                        (Some((id, stored)), p)
                    }
                    None => (None, p),
                }
            }
        };
        let row = match row {
            Some(row) => row,
            None => Row::of(&p)?,
        };
        let (id, outcome) = match target {
            Some((id, stored))
                if stored.body == p.text
                    && stored.entities == row.entities
                    && stored.reactions == row.reactions
                    && stored.extra == row.extra
                    && stored.date == p.date
                    && stored.edited == p.edited
                    && stored.seq == p.seq
                    && stored.message_id == p.message_id
                    && stored.media == p.media =>
            {
                self.summary.unchanged += 1;
                self.remember_group(channel, &p, id)?;
                return Ok((id, Outcome::Unchanged));
            }
            Some((id, _)) => {
                // The old index row may still be on its way (the same post twice in one import).
                self.drain(true)?;
                self.tx
                    .prepare_cached(
                        "UPDATE posts SET message_id = ?2, seq = ?3, date = ?4, edited = ?5, title = ?6, body = ?7,
                                          entities = ?8, links = ?9, reactions = ?10, reactions_total = ?11,
                                          extra = ?12 WHERE id = ?1",
                    )?
                    .execute(rusqlite::params_from_iter(row.with_post(&id, &p)))?;
                self.tx.prepare_cached("DELETE FROM posts_fts WHERE rowid = ?1")?.execute([id])?;
                self.pairs.forget(&self.tx, id)?;
                self.tx.prepare_cached("DELETE FROM post_topics WHERE post_id = ?1")?.execute([id])?;
                super::media::write_media(&self.tx, id, &p.media)?;
                self.summary.updated += 1;
                (id, Outcome::Updated)
            }
            None => {
                if self.insert_row(channel, &p, &row)? == 0 {
                    return Err(StoreError::Corrupt(format!("post {} of the channel is there twice", p.seq)));
                }
                return self.inserted(channel, p);
            }
        };
        self.remember_group(channel, &p, id)?;
        self.index(Job { id, body: p.text })?;
        Ok((id, outcome))
    }

    /// Inserts a post's row unless the channel has a post at its seq: 1 row or 0.
    fn insert_row(&self, channel: i64, p: &NewPost, row: &Row) -> Result<usize> {
        // Not `RETURNING`: its statement savepoint makes FTS5 flush a segment per post.
        Ok(self
            .tx
            .prepare_cached(
                "INSERT INTO posts(channel_id, message_id, seq, date, edited, title, body, entities, links,
                                   reactions, reactions_total, extra)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(channel_id, seq) DO NOTHING",
            )?
            .execute(rusqlite::params_from_iter(row.with_post(&channel, p)))?)
    }

    /// The rest of a new post, its row just inserted: media, album, index.
    fn inserted(&mut self, channel: i64, p: NewPost) -> Result<(i64, Outcome)> {
        let id = self.tx.last_insert_rowid();
        if !p.media.is_empty() {
            super::media::write_media(&self.tx, id, &p.media)?;
        }
        self.summary.new += 1;
        self.remember_group(channel, &p, id)?;
        self.index(Job { id, body: p.text })?;
        Ok((id, Outcome::New))
    }

    /// The post an album part belongs to: by its group id, else (an album imported from an
    /// export, which has no group id) by the message of one of its items, else by its own seq.
    fn album_post(&self, channel: i64, group: &str, p: &NewPost) -> Result<Option<i64>> {
        let by_group: Option<i64> = self
            .tx
            .prepare_cached("SELECT post_id FROM post_groups WHERE channel_id = ?1 AND media_group = ?2")?
            .query_row(params![channel, group], |r| r.get(0))
            .optional()?;
        if by_group.is_some() {
            return Ok(by_group);
        }
        if let Some(message_id) = p.message_id {
            let by_item: Option<i64> = self
                .tx
                .prepare_cached(
                    "SELECT m.post_id FROM post_media m JOIN posts p ON p.id = m.post_id
                     WHERE m.message_id = ?2 AND p.channel_id = ?1 LIMIT 1",
                )?
                .query_row(params![channel, message_id], |r| r.get(0))
                .optional()?;
            if by_item.is_some() {
                return Ok(by_item);
            }
        }
        Ok(self
            .tx
            .prepare_cached("SELECT id FROM posts WHERE channel_id = ?1 AND seq = ?2")?
            .query_row(params![channel, p.seq], |r| r.get(0))
            .optional()?)
    }

    fn remember_group(&self, channel: i64, p: &NewPost, id: i64) -> Result<()> {
        if let Some(group) = &p.media_group {
            self.tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO post_groups(channel_id, media_group, post_id) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![channel, group, id])?;
        }
        Ok(())
    }

    /// What an upsert compares a post with.
    fn stored(&self, id: i64) -> Result<StoredPost> {
        type Columns = (Option<i64>, i64, String, String, Option<i64>, Option<i64>, Option<String>, Option<String>);
        let (message_id, seq, body, entities, date, edited, reactions, extra): Columns = self
            .tx
            .prepare_cached(
                "SELECT message_id, seq, body, entities, date, edited, reactions, extra FROM posts WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })?;
        let entities_parsed: Vec<Entity> = serde_json::from_str(&entities)?;
        Ok(StoredPost {
            message_id,
            seq,
            body,
            entities,
            entities_parsed,
            date,
            edited,
            media: super::media::media_of(&self.tx, id)?,
            reactions,
            extra,
        })
    }

    /// Search index, topics and vocabulary of one post: now, or queued to the analysis thread.
    fn index(&mut self, job: Job) -> Result<()> {
        if let Analyzer::Inline(lexicon) = &mut self.analyzer {
            let analysed = analyse(lexicon, self.taxonomy, job);
            write_index(&self.tx, &mut self.topics, &mut self.pairs, &analysed)?;
            if self.summary.new + self.summary.updated >= INLINE_POSTS
                && let Analyzer::Inline(lexicon) = std::mem::replace(&mut self.analyzer, Analyzer::Gone)
            {
                self.analyzer = Analyzer::spawn(lexicon, self.taxonomy.clone())?;
            }
            return Ok(());
        }
        let Analyzer::Thread { jobs, batch, spent, pending, .. } = &mut self.analyzer else {
            return Err(analysis_lost());
        };
        batch.push(job);
        if batch.len() < BATCH_POSTS {
            return Ok(());
        }
        send_batch(jobs, batch, spent, pending)?;
        self.drain(false)
    }

    /// Writes the analyses that are ready (`all`: sends the posts not sent yet and waits
    /// for every one).
    fn drain(&mut self, all: bool) -> Result<()> {
        let Analyzer::Thread { jobs, done, batch, spent, pending, .. } = &mut self.analyzer else { return Ok(()) };
        if all && !batch.is_empty() {
            send_batch(jobs, batch, spent, pending)?;
        }
        while *pending > 0 {
            let analysed = if all {
                done.recv().map_err(|_| analysis_lost())?
            } else {
                match done.try_recv() {
                    Ok(a) => a,
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => return Err(analysis_lost()),
                }
            };
            *pending -= analysed.len();
            for a in &analysed {
                write_index(&self.tx, &mut self.topics, &mut self.pairs, a)?;
            }
            spent.push(analysed);
        }
        Ok(())
    }

    /// Writes the vocabulary and commits the whole import.
    pub fn commit(mut self) -> Result<ImportSummary> {
        self.drain(true)?;
        // The parser counted a kept item as missing: it could not know the store had it.
        self.summary.media_missing = self.summary.media_missing.saturating_sub(self.summary.media_kept);
        self.pairs.finish(&self.tx)?;
        let lexicon = match std::mem::replace(&mut self.analyzer, Analyzer::Gone) {
            Analyzer::Inline(lexicon) => lexicon,
            Analyzer::Thread { jobs, worker, .. } => {
                drop(jobs);
                worker.join().map_err(|_| analysis_lost())?
            }
            Analyzer::Gone => return Err(analysis_lost()),
        };
        let flush = |sql: &str, counts: &mut dyn Iterator<Item = (&str, i64)>| -> Result<()> {
            let mut upsert = self.tx.prepare_cached(sql)?;
            for (key, n) in counts {
                upsert.execute(params![key, n])?;
            }
            Ok(())
        };
        flush(
            "INSERT INTO vocabulary(word, freq) VALUES (?1, ?2) ON CONFLICT(word) DO UPDATE SET freq = freq + excluded.freq",
            &mut lexicon.word_counts(),
        )?;
        flush(
            "INSERT INTO stems(stem, docs) VALUES (?1, ?2) ON CONFLICT(stem) DO UPDATE SET docs = docs + excluded.docs",
            &mut lexicon.stem_counts(),
        )?;
        self.tx.execute(
            "INSERT INTO meta(key, value) VALUES ('vocabulary_generation', '1')
             ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            [],
        )?;
        self.tx.commit()?;
        Ok(self.summary)
    }
}
