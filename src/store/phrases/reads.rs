//! What a search reads of the phrase index: how far it goes, which stems it pairs or has a
//! bit for, a phrase as the phrase of its pairs, the posts it has with a phrase, and the
//! matches of an expression checked by bits. The search's planner decides when to read
//! them (src/search/plan.rs); these are the reads.

use rusqlite::OptionalExtension;

use super::{JOINER, StemBits};
use crate::store::{Archive, Result, meta_int};

/// The stems a post must have, by their bits in `stem_bitmaps`: every bit of `required`,
/// none of `forbidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bits {
    pub required: u64,
    pub forbidden: u64,
}

/// Where [`Archive::indexed_with_bits`] reads the matches of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The search index, `posts_fts` (an expression of stems).
    Words,
    /// The pairs, `pairs_fts` (an expression of [`pairs_expr`]).
    Pairs,
}

impl Source {
    fn table(self) -> &'static str {
        match self {
            Source::Words => "posts_fts",
            Source::Pairs => "pairs_fts",
        }
    }
}

/// Phrases (each as its stems) as an FTS5 expression over the pairs, ANDed: each the
/// phrase of its adjacent pairs of stems. `None` when there are none.
pub(crate) fn pairs_expr<'a>(phrases: impl IntoIterator<Item = &'a [String]>) -> Option<String> {
    let mut out = Vec::new();
    for phrase in phrases {
        let pairs: Vec<String> = phrase.windows(2).map(|w| format!("{}{}{}", w[0], JOINER, w[1])).collect();
        out.push(format!("\"{}\"", pairs.join(" ").replace('"', "\"\"")));
    }
    (!out.is_empty()).then(|| out.join(" AND "))
}

impl Archive {
    /// Every post up to this id is in the phrase index (0: there is none).
    pub(crate) fn phrase_index_upto(&self) -> Result<i64> {
        meta_int(&self.conn, "pairs_upto")
    }

    /// Is a stem one of the phrase index's?
    pub(crate) fn is_pair_stem(&self, stem: &str) -> Result<bool> {
        Ok(self.conn.prepare_cached("SELECT 1 FROM pair_stems WHERE stem = ?1")?.exists([stem])?)
    }

    /// A stem's bit in `stem_bitmaps`, if it has one.
    pub(crate) fn stem_bit(&self, stem: &str) -> Result<Option<u32>> {
        Ok(self
            .conn
            .prepare_cached("SELECT bit FROM pair_stems WHERE stem = ?1")?
            .query_row([stem], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// A check of posts for the stems of these bits (of [`Archive::stem_bit`]).
    pub(crate) fn stem_bits(&self, bits: Bits) -> StemBits<'_> {
        StemBits::new(&self.conn, bits.required, bits.forbidden)
    }

    /// The posts up to `upto` that have the phrases of `pairs` (a [`pairs_expr`]), within
    /// `filter` (` AND ...` over `pairs_fts.rowid`), at most `limit`. In FTS5's own order,
    /// not newest first: reading the pairs' lists backwards made these queries a quarter
    /// slower at 1M (`"обучение с подкреплением" отвертки`, `... собаке`: benches/README.md).
    pub(crate) fn posts_with_pairs(&self, pairs: &str, filter: &str, upto: i64, limit: usize) -> Result<Vec<i64>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT rowid FROM pairs_fts WHERE pairs_fts MATCH ?1{filter} AND pairs_fts.rowid <= {upto} LIMIT {limit}"
            ))?
            .query_map([pairs], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The posts up to `upto` (the phrase index's) that `expr` matches in `source` (`filter`
    /// its scope, ` AND ...` over the table's rowid) that have the stems of the `bits`
    /// asked, newest first, at most `limit` (`None`: all, in the table's order).
    pub(crate) fn indexed_with_bits(
        &self,
        source: Source,
        expr: &str,
        filter: &str,
        upto: i64,
        bits: Bits,
        limit: Option<usize>,
    ) -> Result<Vec<i64>> {
        let table = source.table();
        let order = if limit.is_some() { " ORDER BY rowid DESC" } else { "" };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT rowid FROM {table} WHERE {table} MATCH ?1{filter} AND {table}.rowid <= {upto}{order}"
        ))?;
        let mut rows = stmt.query([expr])?;
        // The matches come in the order of their ids: each chunk of a bitmap is read once.
        let mut check = self.stem_bits(bits);
        let (limit, mut ids) = (limit.unwrap_or(usize::MAX), Vec::new());
        while ids.len() < limit {
            let Some(row) = rows.next()? else { break };
            let id = row.get(0)?;
            if check.passes(id)? {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phrase_is_the_phrase_of_its_pairs() {
        let phrase = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (a, b) = (phrase(&["обучен", "с", "подкреплен"]), phrase(&["глубок", "обучен"]));
        assert_eq!(pairs_expr([a.as_slice()]).as_deref(), Some("\"обучен·с с·подкреплен\""));
        assert_eq!(
            pairs_expr([a.as_slice(), b.as_slice()]).as_deref(),
            Some("\"обучен·с с·подкреплен\" AND \"глубок·обучен\"")
        );
        assert_eq!(pairs_expr(std::iter::empty::<&[String]>()), None);
    }
}
