//! Building the phrase index: the pairs text of a post, choosing the paired stems, and one
//! step of the build (a short write transaction of its own).
//!
//! Pairs that are not indexed leave gaps: `a b X b c` indexes `a·b` and `b·c`, which a
//! phrase `a b c` would find adjacent. Where the pair after a gap begins with the stem
//! the pair before it ended with, a lone `·` token stands in the gap. (Pairs on each side
//! of any other gap cannot be read as a chain: consecutive pairs of a phrase share a stem.)

use rusqlite::{Transaction, TransactionBehavior, params};
use rustc_hash::FxHashMap;

use super::JOINER;
use super::bitmaps::{BitmapWrites, bits_of, mask_of};
use crate::store::{Archive, Result, meta_int, set_meta};
use crate::text::lexicon::Lexicon;

/// Stems in this share of the posts or more are paired.
const COMMON_SHARE: f64 = 0.2;
/// The stems are chosen again, and the index rebuilt, when the archive has grown this
/// many times over since they were chosen.
const REGROW: i64 = 2;
/// Stems with a bit: the commonest of the paired ones, as many as a `u64` has bits.
const BITS: i64 = 64;

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
pub(super) type PairStems = FxHashMap<String, Option<u32>>;

fn pair_stems(tx: &Transaction<'_>) -> Result<PairStems> {
    Ok(tx
        .prepare_cached("SELECT stem, bit FROM pair_stems")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The paired stems, read at the first use.
pub(super) fn loaded<'s>(stems: &'s mut Option<PairStems>, tx: &Transaction<'_>) -> Result<&'s PairStems> {
    Ok(match stems {
        Some(stems) => stems,
        none => none.insert(pair_stems(tx)?),
    })
}

/// Indexes a post's pairs (none when it has no pair of common stems) and sets its bits.
pub(super) fn insert(
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
                [min_docs, BITS],
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
    fn a_gap_that_could_join_two_pairs_into_a_chain_is_marked() {
        // `a b X b c`: `a·b b·c` would read as the phrase `a b c`.
        assert_eq!(pairs("a b x b c", &["a", "b", "c"]), "a·b · b·c");
        // A gap between pairs that share no stem needs no mark.
        assert_eq!(pairs("a b x c d", &["a", "b", "c", "d"]), "a·b c·d");
        // Nor does a gap before the first pair.
        assert_eq!(pairs("x b c", &["b", "c"]), "b·c");
    }
}
