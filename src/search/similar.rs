//! "More like this": a post's most distinctive stems (tf-idf against the archive's
//! per-stem counts), ORed and ranked by bm25, the post itself left out. Only stems
//! that are neither unique to the post nor common are used, so the query touches
//! a few short posting lists whatever the archive's size (`DOCS_BUDGET` posts at most,
//! beyond the one rarest stem).

use rustc_hash::FxHashMap;

use super::query::{Term, is_stopword};
use super::{Mode, Plan, Query, Scope, Search, SearchPage};
use crate::model::Post;
use crate::store::Result;
use crate::text;

/// Stems of a post that its neighbours are searched by.
const SIMILAR_TERMS: usize = 10;
/// Posts the chosen stems may hold in all: bm25 scores every one of them. The most
/// distinctive stems are taken while they fit (the first always is).
const DOCS_BUDGET: i64 = 6_000;
/// The best matches by words that are re-ranked by shared topics (later pages keep bm25's order).
const CANDIDATES: usize = 50;
/// How much each topic shared with the post raises a match's score.
const TOPIC_BOOST: f64 = 0.5;

impl Search<'_> {
    pub(super) fn similar(&self, id: i64, offset: usize, limit: usize) -> Result<Option<(Post, SearchPage)>> {
        let Some(post) = self.archive.post(id)? else { return Ok(None) };
        // The largest id stands for the archive's size: one b-tree probe, not a count.
        let size: i64 = self.conn().query_row("SELECT coalesce(max(id), 1) FROM posts", [], |r| r.get(0))?;
        let mut tf: FxHashMap<String, (u32, String)> = FxHashMap::default();
        for w in text::words(&post.body) {
            if w.folded.chars().count() < 3 || is_stopword(&w.folded) || w.folded.chars().all(|c| c.is_numeric()) {
                continue;
            }
            tf.entry(w.stem).or_insert((0, w.folded)).0 += 1;
        }
        let mut scored: Vec<(f64, String, String, i64)> = Vec::with_capacity(tf.len());
        for (stem, (n, folded)) in tf {
            let docs = self.archive.doc_count(&stem)?;
            if docs <= 1 {
                continue;
            }
            let idf = (size.max(docs) as f64 / docs as f64).ln() + 1.0;
            scored.push(((1.0 + f64::from(n).ln()) * idf, stem, folded, docs));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut spent = 0;
        scored.retain(|(_, _, _, docs)| {
            let fits = spent == 0 || spent + docs <= DOCS_BUDGET;
            if fits {
                spent += docs;
            }
            fits
        });
        scored.truncate(SIMILAR_TERMS);
        let query = Query { terms: scored.into_iter().map(|(_, stem, folded, _)| Term::word(folded, stem)).collect() };
        let Some(expr) = Query::join(&query.terms, " OR ") else {
            return Ok(Some((post, SearchPage::empty())));
        };
        let scope = Scope { filter: format!(" AND posts_fts.rowid != {id}"), ..Scope::default() };
        let total = self.count(&expr, &scope)?;
        // The best by bm25, re-ranked by the topics they share with the post: words say
        // what a post is about less surely than its topics do.
        let mut ranked = self.rank(&Plan::Ranked(expr), &scope, 0, CANDIDATES.max(offset + limit))?;
        let mut shared = self.conn().prepare_cached(
            "SELECT count(*) FROM post_topics WHERE post_id = ?1
             AND topic_id IN (SELECT topic_id FROM post_topics WHERE post_id = ?2)",
        )?;
        for (candidate, score) in ranked.iter_mut() {
            let n: i64 = shared.query_row([*candidate, id], |r| r.get(0))?;
            *score *= 1.0 + TOPIC_BOOST * n as f64;
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        let ranked: Vec<(i64, f64)> = ranked.into_iter().skip(offset).take(limit).collect();
        let page = self.page(&query, ranked, total, Mode::Any)?;
        Ok(Some((post, page)))
    }
}
