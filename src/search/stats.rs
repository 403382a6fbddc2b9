//! The figures a plan is chosen on ([`plan::Stats`]), read from the store: the posts each
//! term is in (the `stems` table), and what the phrase index has of the terms.

use super::plan::{self, IndexTerms};
use super::query::{self, Query};
use super::{Search, exec::Scope};
use crate::store::Result;

impl Search<'_> {
    /// The figures of a query's terms within a scope. `rank_narrower`: the terms bm25 ranks
    /// by are not the rare terms as typed.
    pub(super) fn stats(
        &self,
        query: &Query,
        scope: &Scope,
        docs: Vec<i64>,
        rank_narrower: bool,
    ) -> Result<plan::Stats> {
        // A query with hashtags is read and checked post by post: the index does nothing for it.
        let index = if scope.hashtags.is_empty() { self.index_terms(query, scope)? } else { None };
        Ok(plan::Stats {
            docs,
            common_docs: self.searcher.inner.common_docs,
            rank_narrower,
            index,
            force_pairs: self.searcher.inner.force_pairs,
        })
    }

    /// A glossary term of several words as bm25 should rank it: its common stems left out
    /// (all of them, if all are common).
    pub(super) fn without_common_stems(&self, t: &query::Term) -> Result<query::Term> {
        if t.all_of.len() < 2 {
            return Ok(t.clone());
        }
        let mut rare = Vec::with_capacity(t.all_of.len());
        for stem in &t.all_of {
            if self.archive.doc_count(stem)? <= self.searcher.inner.common_docs {
                rare.push(stem.clone());
            }
        }
        Ok(if rare.is_empty() { t.clone() } else { query::Term { all_of: rare, ..t.clone() } })
    }

    /// Posts a term is in (a prefix: its expansions'; a phrase: at most its rarest stem's;
    /// with glossary alternatives: at most theirs added).
    pub(super) fn docs(&self, t: &query::Term) -> Result<i64> {
        if !t.alternatives.is_empty() || !t.all_of.is_empty() {
            let least = |stems: &[String]| -> Result<i64> {
                let mut least = i64::MAX;
                for s in stems {
                    least = least.min(self.archive.doc_count(s)?);
                }
                Ok(if stems.is_empty() { 0 } else { least })
            };
            let mut sum = if t.all_of.is_empty() {
                self.docs(&query::Term { alternatives: Vec::new(), ..t.clone() })?
            } else {
                least(&t.all_of)?
            };
            for a in &t.alternatives {
                sum = sum.saturating_add(least(a)?);
            }
            return Ok(sum);
        }
        if !t.phrase.is_empty() {
            let mut least = i64::MAX;
            for s in &t.phrase {
                least = least.min(self.archive.doc_count(s)?);
            }
            return Ok(least);
        }
        if t.prefix {
            return t.expansions.iter().map(|s| self.archive.doc_count(s)).sum::<Result<i64>>();
        }
        if t.cjk_char {
            // At most the posts of every token it begins (a post may hold several).
            return self.archive.prefix_doc_count(&t.stem);
        }
        self.archive.doc_count(&t.stem)
    }

    /// What the phrase index (src/store/phrases/) can do for a query's terms; `None` when
    /// there is no index or it can do nothing for them (a single word needs no index).
    fn index_terms(&self, query: &Query, scope: &Scope) -> Result<Option<IndexTerms>> {
        let worded = Query::whole_word;
        let several_words = query.terms.len() > 1 && query.terms.iter().any(worded);
        let excluded_words = scope.excluded_words.as_ref().is_some_and(|w| !w.is_empty());
        if !several_words && !excluded_words && !query.terms.iter().any(Query::pairable) {
            return Ok(None);
        }
        let upto = self.archive.phrase_index_upto()?;
        if upto == 0 {
            return Ok(None);
        }
        let (mut paired, mut bits) = (Vec::with_capacity(query.terms.len()), Vec::with_capacity(query.terms.len()));
        for t in &query.terms {
            let mut pairs = Query::pairable(t);
            if pairs {
                for stem in &t.phrase {
                    if !self.archive.is_pair_stem(stem)? {
                        pairs = false;
                        break;
                    }
                }
            }
            paired.push(pairs);
            bits.push(if worded(t) { self.archive.stem_bit(&t.stem)? } else { None });
        }
        let mut forbidden = scope.excluded_words.as_ref().map(|_| 0u64);
        for stem in scope.excluded_words.iter().flatten() {
            forbidden = match (forbidden, self.archive.stem_bit(stem)?) {
                (Some(mask), Some(b)) => Some(mask | 1 << b),
                _ => None,
            };
        }
        let useful = paired.contains(&true)
            || (query.terms.len() > 1 && bits.iter().any(Option::is_some))
            || forbidden.is_some_and(|f| f != 0);
        Ok(useful.then_some(IndexTerms { upto, paired, bits, forbidden }))
    }
}
