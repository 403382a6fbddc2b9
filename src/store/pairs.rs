//! The phrase index: the adjacent pairs of the archive's commonest stems, one token a
//! pair (`обучен·с`), in `pairs_fts` (V11).
//!
//! A phrase of common words that is rare as a phrase (`"обучение с подкреплением"`: its
//! stems are in 97 %, 99.7 % and 48 % of a big archive's posts, the phrase in 0.06 %)
//! makes FTS5 compare the position lists of every post that has all its stems (a tenth of a
//! second at a million posts). Its pairs (`обучен·с`, `с·подкреплен`) are rare tokens, and the phrase
//! is the phrase of its pairs: a lookup (benches/README.md).
//!
//! Indexing every pair of every post would cost as much as the search index itself, and
//! double an import's time; only the pairs of common stems are indexed (the phrases of
//! rarer words are quick in `posts_fts`), and the index is built after the import, by
//! the running bot in the background, oldest posts first, up to meta `pairs_upto`. A
//! search of phrases reads the posts up to there from the pairs and the newer ones from
//! `posts_fts`; a phrase beside other words takes its candidates from the pairs and checks
//! them for the rest by their bits (below) or in `posts_fts` (src/search/mod.rs). The
//! common stems are chosen when the index is begun (stems in a fifth of the posts or more)
//! and kept in `pair_stems`: a post's pairs then never depend on when it was indexed. When the archive has doubled since, the stems are chosen again and the
//! index is rebuilt; until it catches up, phrases are matched in `posts_fts` as before.
//!
//! Beside the pairs, `stem_bitmaps` (V12) holds for each of the 64 commonest of those
//! stems (`pair_stems.bit`) a bitmap of the posts that have it, in chunks of
//! [`CHUNK_POSTS`] posts. A word in nearly every post (`обучен`, 97 %) beside rarer ones
//! makes FTS5 seek its long list once per candidate (`торговые стратегии обучения`); its
//! bitmap is a few rows read once, and a bit a candidate. (A mask of bits for each post,
//! measured first, was a row looked up for each candidate: most of a query's time.)
//!
//! Pairs that are not indexed leave gaps: `a b X b c` indexes `a·b` and `b·c`, which a
//! phrase `a b c` would find adjacent. Where the pair after a gap begins with the stem
//! the pair before it ended with, a lone `·` token stands in the gap. (Pairs on each side
//! of any other gap cannot be read as a chain: consecutive pairs of a phrase share a stem.)

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use rustc_hash::FxHashMap;

use super::{Archive, Result, StoreError, meta_int, set_meta};
use crate::text::lexicon::Lexicon;

/// Archives of fewer posts get no phrase index: their phrases take a few milliseconds.
pub const MIN_POSTS: i64 = 20_000;
/// Posts a background step indexes: one short write transaction, so that the bot's own
/// writes wait little (figures: benches/README.md).
pub const STEP_POSTS: usize = 2_000;
/// Stems in this share of the posts or more are paired.
const COMMON_SHARE: f64 = 0.2;
/// The stems are chosen again, and the index rebuilt, when the archive has grown this
/// many times over since they were chosen.
const REGROW: i64 = 2;
/// Stems with a bit: the commonest of the paired ones, as many as a mask has bits.
const MASK_BITS: i64 = 64;
/// Posts a row of `stem_bitmaps` holds: 2 KiB of bits, which fit a page.
pub(crate) const CHUNK_POSTS: i64 = 1 << 14;
const CHUNK_BYTES: usize = (CHUNK_POSTS / 8) as usize;
/// Chunks an import holds changed in memory before it writes them (256 KiB).
const HELD_CHUNKS: usize = 128;
/// Joins the two stems of a pair: not a character of any stem (letters and digits), and
/// not ASCII, so that the `ascii` tokenizer keeps a pair one token.
pub(crate) const JOINER: char = '·';

/// Where a step of [`Archive::build_phrase_index`] left the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhraseProgress {
    /// Posts indexed by this step.
    pub indexed: usize,
    /// Every post up to this id is in the index (0: none).
    pub upto: i64,
    /// Posts newer than `upto` remain.
    pub remaining: bool,
}

/// The pairs text of a post's stemmed text (stems joined by spaces, as `posts_fts` holds it).
fn pairs_text(stemmed: &str, common: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    let mut prev: Option<&str> = None;
    let mut last_second: Option<&str> = None;
    let mut gap = false;
    for stem in stemmed.split(' ').filter(|s| !s.is_empty()) {
        let pairable = common(stem);
        if let Some(p) = prev
            && pairable
        {
            if gap && last_second == Some(p) {
                out.push_str(" ·");
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(p);
            out.push(JOINER);
            out.push_str(stem);
            last_second = Some(stem);
            gap = false;
        }
        // Only a common stem can begin a pair; any other leaves a gap after the last pair.
        prev = pairable.then_some(stem);
        gap |= !pairable && last_second.is_some();
    }
    out
}

/// The paired stems, each with its bit in `stem_bitmaps` if it has one.
type PairStems = FxHashMap<String, Option<u32>>;

fn pair_stems(tx: &Transaction<'_>) -> Result<PairStems> {
    Ok(tx
        .prepare_cached("SELECT stem, bit FROM pair_stems")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The bits of the stems a post's stemmed texts have.
fn mask_of<'a>(texts: impl IntoIterator<Item = &'a str>, bit: impl Fn(&str) -> Option<u32>) -> u64 {
    let mut mask = 0u64;
    for stem in texts.into_iter().flat_map(|t| t.split(' ')) {
        if let Some(b) = bit(stem) {
            mask |= 1 << b;
        }
    }
    mask
}

/// The bits set in a mask.
fn bits_of(mask: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |b| mask & 1 << b != 0)
}

/// Where a post's bit is in `stem_bitmaps`: its chunk, the byte in the chunk, the bit.
fn place(id: i64) -> (i64, usize, u8) {
    let within = id.rem_euclid(CHUNK_POSTS);
    (id.div_euclid(CHUNK_POSTS), (within / 8) as usize, 1 << (within % 8))
}

/// A chunk of a stem's bitmap as stored (`None`: no post of it has the stem).
fn read_chunk(conn: &rusqlite::Connection, bit: u32, chunk: i64) -> Result<Option<Vec<u8>>> {
    let stored: Option<Vec<u8>> = conn
        .prepare_cached("SELECT posts FROM stem_bitmaps WHERE bit = ?1 AND chunk = ?2")?
        .query_row(params![bit, chunk], |r| r.get(0))
        .optional()?;
    Ok(stored.map(|mut posts| {
        posts.resize(CHUNK_BYTES, 0);
        posts
    }))
}

/// Chunks of `stem_bitmaps` being changed, read once and written back by [`Self::flush`].
#[derive(Default)]
struct BitmapWrites {
    chunks: FxHashMap<(u32, i64), Vec<u8>>,
}

impl BitmapWrites {
    /// Sets or clears a post's bit of a stem.
    fn set(&mut self, tx: &Transaction<'_>, bit: u32, id: i64, on: bool) -> Result<()> {
        let (chunk, byte, mask) = place(id);
        let posts = match self.chunks.entry((bit, chunk)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(read_chunk(tx, bit, chunk)?.unwrap_or_else(|| vec![0; CHUNK_BYTES]))
            }
        };
        if on {
            posts[byte] |= mask;
        } else {
            posts[byte] &= !mask;
        }
        Ok(())
    }

    /// Writes the changed chunks (a chunk left without a post goes).
    fn flush(&mut self, tx: &Transaction<'_>) -> Result<()> {
        let mut put =
            tx.prepare_cached("INSERT OR REPLACE INTO stem_bitmaps(bit, chunk, posts) VALUES (?1, ?2, ?3)")?;
        let mut drop = tx.prepare_cached("DELETE FROM stem_bitmaps WHERE bit = ?1 AND chunk = ?2")?;
        for ((bit, chunk), posts) in self.chunks.drain() {
            if posts.iter().all(|&b| b == 0) {
                drop.execute(params![bit, chunk])?;
            } else {
                put.execute(params![bit, chunk, posts])?;
            }
        }
        Ok(())
    }
}

/// Indexes a post's pairs (none when it has no pair of common stems) and sets its bits.
fn insert(
    tx: &Transaction<'_>,
    stems: &PairStems,
    bitmaps: &mut BitmapWrites,
    id: i64,
    title: &str,
    body: &str,
) -> Result<()> {
    let common = |s: &str| stems.contains_key(s);
    let mask = mask_of([title, body], |s| stems.get(s).copied().flatten());
    let (title, body) = (pairs_text(title, common), pairs_text(body, common));
    if !title.is_empty() || !body.is_empty() {
        tx.prepare_cached("INSERT INTO pairs_fts(rowid, title, body) VALUES (?1, ?2, ?3)")?
            .execute(params![id, title, body])?;
    }
    for bit in bits_of(mask) {
        bitmaps.set(tx, bit, id, true)?;
    }
    Ok(())
}

/// Checks posts for stems by their bits: every one of `required`, none of `forbidden`. Holds
/// one chunk of each bit's bitmap at a time: posts checked in the order of their ids read
/// each chunk once.
pub(crate) struct StemBits<'a> {
    conn: &'a rusqlite::Connection,
    bits: Vec<Checked>,
}

/// A bit [`StemBits`] checks: whether posts must have it, and the chunk of it held (its
/// number, and the chunk as stored).
struct Checked {
    bit: u32,
    wanted: bool,
    held: Option<(i64, Option<Vec<u8>>)>,
}

impl StemBits<'_> {
    /// Does the post have every required stem and no forbidden one?
    pub(crate) fn passes(&mut self, id: i64) -> Result<bool> {
        let (chunk, byte, mask) = place(id);
        for Checked { bit, wanted, held } in &mut self.bits {
            let posts = match held {
                Some((c, posts)) if *c == chunk => posts,
                _ => &mut held.insert((chunk, read_chunk(self.conn, *bit, chunk)?)).1,
            };
            let has = posts.as_ref().is_some_and(|p| p[byte] & mask != 0);
            if has != *wanted {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Archive {
    /// One step of building the phrase index: indexes up to `max_posts` posts beyond the
    /// ones already in it (choosing the stems first, and starting over, when the index is
    /// new or the archive has doubled since), in one transaction of its own. A step is
    /// short, so that the bot can run steps in the background between other writes. An
    /// archive of fewer than `min_posts` posts ([`MIN_POSTS`] but in tests) gets none.
    pub fn build_phrase_index(&mut self, max_posts: usize, min_posts: i64) -> Result<PhraseProgress> {
        // Whether there is anything to do is read without the write lock: the bot asks
        // every few minutes, also while an import holds the lock for minutes.
        let state = |tx: &Transaction<'_>| -> Result<(i64, i64, i64)> {
            let last: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM posts", [], |r| r.get(0))?;
            Ok((last, meta_int(tx, "pairs_upto")?, meta_int(tx, "pairs_chosen_at")?))
        };
        let rechoose = |last: i64, chosen_at: i64| chosen_at == 0 || last >= chosen_at.saturating_mul(REGROW);
        let (last, upto, chosen_at) = state(&self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?)?;
        if last < min_posts.max(1) || (upto >= last && !rechoose(last, chosen_at)) {
            return Ok(PhraseProgress { indexed: 0, upto, remaining: false });
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (last, mut upto, chosen_at) = state(&tx)?;
        if rechoose(last, chosen_at) {
            // Post ids are never reused and posts never deleted: the last id is their number.
            let min_docs = (last as f64 * COMMON_SHARE).ceil() as i64;
            tx.execute("DELETE FROM pair_stems", [])?;
            let chosen = tx.execute(
                "INSERT INTO pair_stems(stem, bit)
                 SELECT stem, CASE WHEN n <= ?2 THEN n - 1 END
                 FROM (SELECT stem, row_number() OVER (ORDER BY docs DESC, stem) AS n FROM stems WHERE docs >= ?1)",
                [min_docs, MASK_BITS],
            )?;
            tx.execute("INSERT INTO pairs_fts(pairs_fts) VALUES ('delete-all')", [])?;
            tx.execute("DELETE FROM stem_bitmaps", [])?;
            upto = 0;
            set_meta(&tx, "pairs_chosen_at", &last.to_string())?;
            tracing::info!(posts = last, stems = chosen, "building the phrase index (in the background)");
        }
        let stems = pair_stems(&tx)?;
        let mut lexicon = Lexicon::new();
        let mut bitmaps = BitmapWrites::default();
        let mut indexed = 0;
        {
            let mut select =
                tx.prepare_cached("SELECT id, title, body FROM posts WHERE id > ?1 ORDER BY id LIMIT ?2")?;
            let mut rows = select.query(params![upto, max_posts as i64])?;
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                let (title, body): (String, String) = (row.get(1)?, row.get(2)?);
                let (title, body) = (lexicon.stemmed(&title), lexicon.stemmed(&body));
                insert(&tx, &stems, &mut bitmaps, id, &title, &body)?;
                upto = id;
                indexed += 1;
            }
        }
        bitmaps.flush(&tx)?;
        set_meta(&tx, "pairs_upto", &upto.to_string())?;
        tx.commit()?;
        let remaining = upto < last;
        if !remaining && indexed > 0 {
            // The build filled the page cache with pages an idle bot will not read again.
            self.conn.execute_batch("PRAGMA shrink_memory")?;
            tracing::info!(upto, "the phrase index has every post");
        }
        Ok(PhraseProgress { indexed, upto, remaining })
    }

    /// Every post up to this id is in the phrase index (0: there is none).
    pub(crate) fn phrase_index_upto(&self) -> Result<i64> {
        meta_int(&self.conn, "pairs_upto")
    }

    /// Is a stem one of the phrase index's?
    pub(crate) fn is_pair_stem(&self, stem: &str) -> Result<bool> {
        Ok(self.conn.prepare_cached("SELECT 1 FROM pair_stems WHERE stem = ?1")?.exists([stem])?)
    }

    /// A stem's bit in `stem_bitmaps`, if it has one.
    pub(crate) fn mask_bit(&self, stem: &str) -> Result<Option<u32>> {
        Ok(self
            .conn
            .prepare_cached("SELECT bit FROM pair_stems WHERE stem = ?1")?
            .query_row([stem], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// A check of posts for the stems of these bits (masks of [`Archive::mask_bit`]'s).
    pub(crate) fn stem_bits(&self, required: u64, forbidden: u64) -> StemBits<'_> {
        let of = |mask: u64, wanted: bool| bits_of(mask).map(move |bit| Checked { bit, wanted, held: None });
        StemBits { conn: &self.conn, bits: of(required, true).chain(of(forbidden, false)).collect() }
    }
}

/// The running bot's builder of the phrase index: a step ([`STEP_POSTS`] posts), a pause as
/// long as the step took (half a core at most, beside the searches), the next step; once
/// the index has every post, a look every few minutes for posts stored since (live posts,
/// an import by the CLI). Begins a moment after the start, so as not to delay the first
/// poll. Runs until its task is aborted.
pub async fn keep_phrase_index(archive: super::SharedArchive) {
    tokio::time::sleep(FIRST_STEP_AFTER).await;
    loop {
        let started = std::time::Instant::now();
        let step = archive.try_call(|a| a.build_phrase_index(STEP_POSTS, MIN_POSTS)).await;
        let pause = match step {
            Ok(step) if step.remaining => started.elapsed().max(std::time::Duration::from_millis(10)),
            Ok(step) => {
                if step.indexed > 0 {
                    give_back_memory();
                }
                LOOK_AGAIN_AFTER
            }
            Err(e) if is_busy(&e) => {
                tracing::info!("the store is busy (an import?): the phrase index goes on later");
                LOOK_AGAIN_AFTER
            }
            Err(e) => {
                tracing::warn!("building the phrase index (phrases are matched without it meanwhile): {e:#}");
                LOOK_AGAIN_AFTER
            }
        };
        tokio::time::sleep(pause).await;
    }
}

/// Returns the heap the build freed to the system: glibc keeps the freed memory of a
/// thread's arena mapped, and the bot would idle with what the steps held (figures:
/// benches/README.md).
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer; it only hands free heap pages back to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Another connection held the write lock for longer than the busy timeout.
fn is_busy(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<StoreError>(), Some(StoreError::Sql(e)) if super::is_busy(e))
}

const FIRST_STEP_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
const LOOK_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// The paired stems, read at the first use.
fn loaded<'s>(stems: &'s mut Option<PairStems>, tx: &Transaction<'_>) -> Result<&'s PairStems> {
    Ok(match stems {
        Some(stems) => stems,
        none => none.insert(pair_stems(tx)?),
    })
}

/// What an import does to the phrase index: a post it rewrites that the index has is
/// written there again (new posts are beyond the index: nothing to do).
#[derive(Default)]
pub(super) struct Upkeep {
    /// `pairs_upto`, read at the first post.
    upto: Option<i64>,
    stems: Option<PairStems>,
    /// The rewritten posts' bits, written at most [`HELD_CHUNKS`] chunks at a time and
    /// at the end ([`Upkeep::finish`]).
    bitmaps: BitmapWrites,
}

impl Upkeep {
    fn covers(&mut self, tx: &Transaction<'_>, id: i64) -> Result<bool> {
        let upto = match self.upto {
            Some(upto) => upto,
            None => *self.upto.insert(meta_int(tx, "pairs_upto")?),
        };
        Ok(id <= upto)
    }

    /// Takes a post out of the index before it is rewritten.
    pub(super) fn forget(&mut self, tx: &Transaction<'_>, id: i64) -> Result<()> {
        if self.covers(tx, id)? {
            tx.prepare_cached("DELETE FROM pairs_fts WHERE rowid = ?1")?.execute([id])?;
            for &bit in loaded(&mut self.stems, tx)?.values().flatten() {
                self.bitmaps.set(tx, bit, id, false)?;
            }
            self.hold(tx)?;
        }
        Ok(())
    }

    /// Writes the changed chunks when it holds many.
    fn hold(&mut self, tx: &Transaction<'_>) -> Result<()> {
        if self.bitmaps.chunks.len() >= HELD_CHUNKS {
            self.bitmaps.flush(tx)?;
        }
        Ok(())
    }

    /// Writes what the import changed: before its commit.
    pub(super) fn finish(&mut self, tx: &Transaction<'_>) -> Result<()> {
        self.bitmaps.flush(tx)
    }

    /// Indexes a post's new stemmed text, if the index covers it.
    pub(super) fn write(&mut self, tx: &Transaction<'_>, id: i64, title: &str, body: &str) -> Result<()> {
        if !self.covers(tx, id)? {
            return Ok(());
        }
        insert(tx, loaded(&mut self.stems, tx)?, &mut self.bitmaps, id, title, body)?;
        self.hold(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str, common: &[&str]) -> String {
        pairs_text(text, |s| common.contains(&s))
    }

    #[test]
    fn only_pairs_of_common_stems_are_written() {
        assert_eq!(pairs("обучен с подкреплен", &["обучен", "с", "подкреплен"]), "обучен·с с·подкреплен");
        assert_eq!(pairs("обучен с подкреплен", &["обучен", "с"]), "обучен·с");
        assert_eq!(pairs("a x b c", &["a", "b", "c"]), "b·c");
        assert_eq!(pairs("a", &["a"]), "");
        assert_eq!(pairs("", &["a"]), "");
        assert_eq!(pairs("a a a", &["a"]), "a·a a·a");
    }

    #[test]
    fn a_mask_has_the_bits_of_the_stems_a_post_has() {
        let bit = |s: &str| match s {
            "a" => Some(0),
            "b" => Some(5),
            "z" => Some(63),
            _ => None,
        };
        assert_eq!(mask_of(["a x", "b a"], bit), 1 | 1 << 5);
        assert_eq!(mask_of(["", "x y"], bit), 0);
        assert_eq!(mask_of(["z"], bit), 1 << 63);
    }

    #[test]
    fn the_bits_written_in_chunks_are_read_back_post_by_post() -> Result<()> {
        let mut archive = Archive::open_in_memory()?;
        let tx = archive.conn.transaction()?;
        let mut writes = BitmapWrites::default();
        let with_2 = [1, 8, CHUNK_POSTS - 1, CHUNK_POSTS, 3 * CHUNK_POSTS + 5];
        for id in with_2 {
            writes.set(&tx, 2, id, true)?;
        }
        writes.set(&tx, 5, 8, true)?;
        writes.set(&tx, 5, 9, true)?;
        writes.flush(&tx)?;
        // Changed again after a flush: read back from the store.
        writes.set(&tx, 2, 1, false)?;
        writes.set(&tx, 5, 9, false)?;
        writes.flush(&tx)?;
        tx.commit()?;
        let rows = |bit: u32| -> Result<i64> {
            Ok(archive.conn.query_row("SELECT count(*) FROM stem_bitmaps WHERE bit = ?1", [bit], |r| r.get(0))?)
        };
        assert_eq!((rows(2)?, rows(5)?), (3, 1), "one row a chunk with posts");

        let passing = |required: u64, forbidden: u64| -> Result<Vec<i64>> {
            let mut check = archive.stem_bits(required, forbidden);
            let mut ids = Vec::new();
            for id in (0..4 * CHUNK_POSTS).rev() {
                if check.passes(id)? {
                    ids.push(id);
                }
            }
            Ok(ids)
        };
        assert_eq!(passing(1 << 2, 0)?, [3 * CHUNK_POSTS + 5, CHUNK_POSTS, CHUNK_POSTS - 1, 8]);
        assert_eq!(passing(1 << 2, 1 << 5)?, [3 * CHUNK_POSTS + 5, CHUNK_POSTS, CHUNK_POSTS - 1]);
        assert_eq!(passing(1 << 2 | 1 << 5, 0)?, [8]);
        assert_eq!(passing(0, 1 << 2)?.len() as i64, 4 * CHUNK_POSTS - 4, "every post but bit 2's");
        Ok(())
    }

    #[test]
    fn a_gap_that_could_join_two_pairs_into_a_chain_is_marked() {
        // `a b X b c`: `a·b b·c` would read as the phrase `a b c`.
        assert_eq!(pairs("a b x b c", &["a", "b", "c"]), "a·b · b·c");
        // A gap between pairs that share no stem needs no mark.
        assert_eq!(pairs("a b x c d", &["a", "b", "c", "d"]), "a·b c·d");
        // Nor does a gap before the first pair.
        assert_eq!(pairs("x b c", &["b", "c"]), "b·c");
    }
}
