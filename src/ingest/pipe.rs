//! An export parsed on a thread of its own, ahead of the store's writes.
//!
//! A big import is bound by the thread that writes to SQLite (the one that owns the
//! transaction): its posts rows, index rows and topics. Reading the export (cutting
//! messages out of the stream, JSON, media files) was a fifth of that thread's
//! instructions; here it runs beside it, and hands over what it found in batches.
//! Stemming already has a thread of its own (`store::import`), so an import keeps both
//! cores busy: the writer on one, the parser and the analysis on the other.

use std::sync::mpsc::{self, Receiver, SyncSender};

use crate::model::{NewChannel, NewPost};
use crate::store::{ImportSink, ImportSummary, MediaOutcome, SkippedChat, StoreError};

use super::tdesktop::ExportError;

/// What a parser hands the store: the calls of [`ImportSink`] a parser makes.
pub trait PostSink {
    /// Makes `c` the channel of the posts that follow.
    fn channel(&mut self, c: &NewChannel) -> Result<(), StoreError>;
    /// Stores a post of the current channel.
    fn post(&mut self, p: NewPost) -> Result<(), StoreError>;
    /// Counts a message that carries no post.
    fn skip(&mut self);
    /// Counts a media file of the import.
    fn count_media(&mut self, outcome: MediaOutcome);
    /// Names a chat whose messages were skipped (not a channel).
    fn skip_chat(&mut self, chat: SkippedChat);
    /// The other counts of the summary (dates guessed), to add to.
    fn counts(&mut self) -> &mut ImportSummary;
}

impl PostSink for ImportSink<'_> {
    fn channel(&mut self, c: &NewChannel) -> Result<(), StoreError> {
        ImportSink::channel(self, c).map(|_| ())
    }

    fn post(&mut self, p: NewPost) -> Result<(), StoreError> {
        ImportSink::post(self, p).map(|_| ())
    }

    fn skip(&mut self) {
        ImportSink::skip(self);
    }

    fn count_media(&mut self, outcome: MediaOutcome) {
        ImportSink::count_media(self, outcome);
    }

    fn skip_chat(&mut self, chat: SkippedChat) {
        ImportSink::skip_chat(self, chat);
    }

    fn counts(&mut self) -> &mut ImportSummary {
        ImportSink::counts(self)
    }
}

/// Events sent to the writer at a time: one send per post would wake the writer for each.
const BATCH: usize = 64;
/// Batches waiting for the writer at most: bounds the memory a fast parser can fill
/// (1,024 posts, about 1.5 MB of ~150-word posts).
const QUEUED: usize = 16;

/// One call of the parser, as the writer replays it.
#[allow(clippy::large_enum_variant, reason = "nearly every event is a post: boxing it would allocate once per post")]
enum Event {
    Channel(NewChannel),
    Post(NewPost),
    /// Messages without a post and media outcomes since the last batch: counted, not
    /// queued one by one (a chat of a million service messages stays one event).
    Counts(ImportSummary),
}

/// The parser's side: its calls, batched and sent to the writer.
struct Forward {
    out: SyncSender<Vec<Event>>,
    batch: Vec<Event>,
    /// Skipped messages and media outcomes not sent yet.
    counts: ImportSummary,
}

impl Forward {
    fn push(&mut self, event: Event) -> Result<(), StoreError> {
        self.batch.push(event);
        if self.batch.len() >= BATCH { self.send() } else { Ok(()) }
    }

    /// Sends what is batched, the counts last (they are only added up).
    fn send(&mut self) -> Result<(), StoreError> {
        if self.counts != ImportSummary::default() {
            self.batch.push(Event::Counts(std::mem::take(&mut self.counts)));
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        // The writer only stops taking batches when it failed; its error is the one reported.
        self.out.send(batch).map_err(|_| StoreError::Corrupt("the store stopped taking posts".into()))
    }
}

impl PostSink for Forward {
    fn channel(&mut self, c: &NewChannel) -> Result<(), StoreError> {
        self.push(Event::Channel(c.clone()))
    }

    fn post(&mut self, p: NewPost) -> Result<(), StoreError> {
        self.push(Event::Post(p))
    }

    fn skip(&mut self) {
        self.counts.skipped += 1;
    }

    fn count_media(&mut self, outcome: MediaOutcome) {
        self.counts.count_media(outcome);
    }

    fn skip_chat(&mut self, chat: SkippedChat) {
        self.counts.skipped_chats.push(chat);
    }

    fn counts(&mut self) -> &mut ImportSummary {
        &mut self.counts
    }
}

/// Writes the parser's batches into `sink` until the parser is done or a write fails.
fn write(sink: &mut ImportSink<'_>, batches: &Receiver<Vec<Event>>) -> Result<(), StoreError> {
    for batch in batches {
        for event in batch {
            match event {
                Event::Channel(c) => PostSink::channel(sink, &c)?,
                Event::Post(p) => PostSink::post(sink, p)?,
                Event::Counts(counts) => sink.add_counts(&counts),
            }
        }
    }
    Ok(())
}

/// Runs `parse` on a thread of its own while this thread writes what it finds into
/// `sink`, in the order it was found. A failed write stops the parser (its next batch
/// cannot be sent) and is the error returned; a parser's failure is returned after what
/// it found before it was written (the transaction is rolled back either way).
pub fn parse_beside<T: Send>(
    sink: &mut ImportSink<'_>,
    parse: impl FnOnce(&mut dyn PostSink) -> Result<T, ExportError> + Send,
) -> Result<T, ExportError> {
    std::thread::scope(|scope| {
        let (out, batches) = mpsc::sync_channel(QUEUED);
        let parser = std::thread::Builder::new()
            .name("postkeeper-parse".into())
            .spawn_scoped(scope, move || {
                let mut forward = Forward { out, batch: Vec::with_capacity(BATCH), counts: ImportSummary::default() };
                let parsed = parse(&mut forward)?;
                forward.send()?;
                Ok(parsed)
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start the parser thread: {e}")))?;
        let written = write(sink, &batches);
        // A parser still sending stops at its next batch.
        drop(batches);
        let parsed = parser.join().map_err(|_| StoreError::Corrupt("the export's parser panicked".into()))?;
        written?;
        parsed
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Archive;

    fn post(seq: i64) -> NewPost {
        NewPost { seq, message_id: Some(seq), text: format!("пост номер {seq}"), ..Default::default() }
    }

    /// Every call reaches the store in order, across batches, with the counts added up.
    #[test]
    fn the_writer_replays_the_parsers_calls_in_order() -> anyhow::Result<()> {
        let mut archive = Archive::open_in_memory()?;
        let summary = archive.import(|sink| {
            parse_beside(sink, |forward| {
                forward.channel(&NewChannel::telegram(-1001, "канал"))?;
                for seq in 1..=3 * BATCH as i64 + 5 {
                    forward.post(post(seq))?;
                    if seq % 10 == 0 {
                        forward.skip();
                        forward.count_media(MediaOutcome::Missing);
                    }
                }
                forward.count_media(MediaOutcome::Copied);
                forward.skip();
                Ok(())
            })
        })?;
        let posts = 3 * BATCH + 5;
        assert_eq!(summary.new, posts);
        assert_eq!(summary.skipped, posts / 10 + 1);
        assert_eq!((summary.media_missing, summary.media_copied, summary.media_present), (posts / 10, 1, 0));
        assert_eq!(archive.post_count()?, posts as i64);
        // In the parser's order: ids follow the seqs.
        let last = archive.post(posts as i64)?.map(|p| p.body);
        assert_eq!(last.as_deref(), Some(format!("пост номер {posts}").as_str()));
        Ok(())
    }

    /// A failed write stops the parser at its next batch, and is the error returned.
    #[test]
    fn a_failed_write_stops_the_parser() -> anyhow::Result<()> {
        let mut archive = Archive::open_in_memory()?;
        let mut sent = 0;
        let result = archive.import(|sink| {
            parse_beside(sink, |forward| {
                // No channel first: the writer fails at the first post.
                for seq in 1..=1_000_000 {
                    forward.post(post(seq))?;
                    sent += 1;
                }
                Ok(())
            })
        });
        let err = result.expect_err("a post before its channel");
        assert!(err.to_string().contains("before its channel"), "{err}");
        assert!(sent < 1_000_000, "the parser went on after the writer failed");
        assert_eq!(archive.post_count()?, 0);
        Ok(())
    }

    /// A parser's failure comes back as it is; what it found before is rolled back.
    #[test]
    fn a_failed_parse_changes_nothing() -> anyhow::Result<()> {
        let mut archive = Archive::open_in_memory()?;
        let result = archive.import(|sink| {
            parse_beside(sink, |forward| {
                forward.channel(&NewChannel::telegram(-1001, "канал"))?;
                for seq in 1..=2 * BATCH as i64 {
                    forward.post(post(seq))?;
                }
                Err::<(), _>(ExportError::NotExport)
            })
        });
        assert!(matches!(result, Err(ExportError::NotExport)), "{result:?}");
        assert_eq!(archive.post_count()?, 0);
        Ok(())
    }
}
