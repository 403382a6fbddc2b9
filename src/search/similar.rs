//! "More like this": a post's most distinctive stems (tf-idf against the archive's
//! per-stem counts), ORed and ranked by bm25, the post itself left out. Only stems
//! that are neither unique to the post nor common are used, so bm25 scores a bounded
//! number of posts whatever the archive's size (`DOCS_BUDGET`; see [`choose`]).

use rustc_hash::FxHashMap;

use super::exec::{Ranking, Scope};
use super::query::{Term, is_stopword};
use super::{COUNT_CAP, Mode, Query, Search, SearchPage};
use crate::model::Post;
use crate::store::Result;
use crate::text;

/// Stems of a post that its neighbours are searched by.
const SIMILAR_TERMS: usize = 10;
/// Posts the chosen stems may hold in all: bm25 scores every one of them. The most
/// distinctive stems are taken while they fit.
const DOCS_BUDGET: i64 = 1_000;
/// Stems ANDed in pairs at most, when every stem of the post is in many posts.
const PAIR_TERMS: usize = 3;
/// Stems in more than this share of the archive's posts say little about a post: not paired.
const COMMON_SHARE: f64 = 0.05;
/// Entries of FTS5's lists the pairs may walk in all, beyond the first pair: FTS5 walks both
/// lists of each pair whole, so their lengths are what the pairs cost (figures:
/// benches/README.md).
const WALK_BUDGET: i64 = 30_000;
/// The best matches by words that are re-ranked by shared topics (later pages keep the words' order).
const CANDIDATES: usize = 50;
/// How much each topic shared with the post raises a match's score.
const TOPIC_BOOST: f64 = 0.5;

/// How a post's neighbours are found.
enum Neighbours {
    /// An OR of stems, ranked by bm25.
    Ranked(String),
    /// ANDs of pairs of stems with their weights: a post's score is the sum of the pairs it
    /// matches (a post with all the stems matches every pair).
    Pairs(Vec<(String, f64)>),
}

/// The stems a post's neighbours are searched by and how, from the post's stems by
/// tf-idf, best first (`(score, stem, folded, posts)`); `size` stands for the archive's
/// number of posts.
///
/// The most distinctive stems are ORed while their posts fit in [`DOCS_BUDGET`]. When not
/// even one fits (every stem of the post is in many posts, as in a big archive of one
/// field's vocabulary), a neighbour must share two of them: pairs of the rarest of the most
/// distinctive stems, taken while the posts they are expected to hold (the product of two
/// stems' shares of the archive, for independent words) fit the same budget, and while the
/// lists FTS5 walks for them fit `walk` entries (the first pair is always taken). FTS5
/// intersects each pair's lists; the pairs are not ranked by bm25, whose weights would
/// walk every stem's whole list once more for each time it appears in the query.
fn choose(scored: &[(f64, String, String, i64)], size: i64) -> Option<(Vec<Term>, Neighbours)> {
    choose_within(scored, size, WALK_BUDGET)
}

/// [`choose`] with the pairs' walk budget given.
fn choose_within(scored: &[(f64, String, String, i64)], size: i64, walk: i64) -> Option<(Vec<Term>, Neighbours)> {
    let term = |(_, stem, folded, _): &(f64, String, String, i64)| Term::word(folded.clone(), stem.clone());
    let mut spent = 0;
    let fitting: Vec<Term> = scored
        .iter()
        .filter(|(_, _, _, docs)| {
            let fits = spent + docs <= DOCS_BUDGET;
            if fits {
                spent += docs;
            }
            fits
        })
        .take(SIMILAR_TERMS)
        .map(term)
        .collect();
    if let Some(expr) = Query::join(&fitting, " OR ") {
        return Some((fitting, Neighbours::Ranked(expr)));
    }
    let size = size.max(1) as f64;
    // Of the most distinctive stems, the rarest: FTS5 walks the lists of each pair's stems,
    // so their lengths are what the query costs.
    let mut distinctive: Vec<&(f64, String, String, i64)> =
        scored.iter().filter(|c| c.3 as f64 <= size * COMMON_SHARE).take(SIMILAR_TERMS).collect();
    distinctive.sort_by(|a, b| a.3.cmp(&b.3).then_with(|| a.1.cmp(&b.1)));
    let mut chosen: Vec<&(f64, String, String, i64)> = Vec::new();
    let mut expected = 0.0;
    let mut walked = 0;
    for candidate in distinctive {
        let added: f64 = chosen.iter().map(|c| c.3 as f64 * candidate.3 as f64 / size).sum();
        if expected + added > DOCS_BUDGET as f64 {
            continue;
        }
        let steps: i64 = chosen.iter().map(|c| c.3 + candidate.3).sum();
        if chosen.len() >= 2 && walked + steps > walk {
            // The next candidates are in more posts still: none of them fits either.
            break;
        }
        expected += added;
        walked += steps;
        chosen.push(candidate);
        if chosen.len() == PAIR_TERMS {
            break;
        }
    }
    let terms: Vec<Term> = chosen.iter().copied().map(term).collect();
    let mut pairs = Vec::new();
    for (i, a) in terms.iter().enumerate() {
        for (j, b) in terms.iter().enumerate().skip(i + 1) {
            pairs.push((Query::join([a, b], " AND ")?, chosen[i].0 + chosen[j].0));
        }
    }
    if !pairs.is_empty() {
        return Some((terms, Neighbours::Pairs(pairs)));
    }
    // A post of one distinctive stem: the rarest.
    let rarest = scored.iter().min_by(|a, b| a.3.cmp(&b.3).then_with(|| a.1.cmp(&b.1)))?;
    let terms = vec![term(rarest)];
    let expr = Query::join(&terms, " OR ")?;
    Some((terms, Neighbours::Ranked(expr)))
}

impl Search<'_> {
    pub(super) fn similar(&self, post: &Post, offset: usize, limit: usize) -> Result<SearchPage> {
        let id = post.id;
        // The largest id stands for the archive's size: one b-tree probe, not a count.
        let size: i64 = self.conn().query_row("SELECT coalesce(max(id), 1) FROM posts", [], |r| r.get(0))?;
        let mut tf: FxHashMap<String, (u32, String)> = FxHashMap::default();
        for w in text::words(&post.body) {
            // A CJK bigram is a word's worth of meaning; its lone run-end character is not.
            let short = if text::is_cjk_word(&w.folded) { 2 } else { 3 };
            if w.folded.chars().count() < short || is_stopword(&w.folded) || w.folded.chars().all(|c| c.is_numeric()) {
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
        let Some((terms, how)) = choose(&scored, size) else {
            return Ok(SearchPage::empty());
        };
        let query = Query { terms };
        let scope = Scope { filter: format!(" AND posts_fts.rowid != {id}"), ..Scope::default() };
        let mut total = None;
        let mut ranked = match how {
            Neighbours::Ranked(expr) => {
                let wanted = CANDIDATES.max(offset + limit);
                let ranked = self.rank(&Ranking::Ranked(expr.clone()), &scope, 0, wanted)?;
                // Fewer matches than asked for are all of them; only a full list needs a count.
                if ranked.len() == wanted {
                    total = Some(self.count(&expr, &scope)?);
                }
                ranked
            }
            Neighbours::Pairs(pairs) => {
                let mut scores: FxHashMap<i64, f64> = FxHashMap::default();
                for (expr, weight) in pairs {
                    for post in self.matching(&expr, &scope)? {
                        *scores.entry(post).or_default() += weight;
                    }
                }
                let mut ranked: Vec<(i64, f64)> = scores.into_iter().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
                ranked.truncate(COUNT_CAP as usize);
                ranked
            }
        };
        let total = total.unwrap_or(ranked.len() as i64);
        // The best by words, re-ranked by the topics they share with the post: words say
        // what a post is about less surely than its topics do.
        ranked.truncate(CANDIDATES.max(offset + limit));
        // The topics of the candidates, by their keys (a seek each), counted against the
        // post's (read with it).
        let mut shared: FxHashMap<i64, i64> = FxHashMap::default();
        if !ranked.is_empty() && !post.topics.is_empty() {
            // The candidates as one JSON array: one statement, prepared once.
            let candidates = format!("[{}]", ranked.iter().map(|(c, _)| c.to_string()).collect::<Vec<_>>().join(","));
            let mut stmt = self.conn().prepare_cached(
                "SELECT pt.post_id, t.slug FROM post_topics pt JOIN topics t ON t.id = pt.topic_id
                 WHERE pt.post_id IN (SELECT value FROM json_each(?1))",
            )?;
            let mut rows = stmt.query([candidates])?;
            while let Some(row) = rows.next()? {
                let slug: String = row.get(1)?;
                if post.topics.iter().any(|t| t.slug == slug) {
                    *shared.entry(row.get(0)?).or_default() += 1;
                }
            }
        }
        for (candidate, score) in ranked.iter_mut() {
            let n = shared.get(candidate).copied().unwrap_or(0);
            *score *= 1.0 + TOPIC_BOOST * n as f64;
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        let ranked: Vec<(i64, f64)> = ranked.into_iter().skip(offset).take(limit).collect();
        self.page(&query, ranked, total, Mode::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stem(score: f64, stem: &str, docs: i64) -> (f64, String, String, i64) {
        (score, stem.to_string(), stem.to_string(), docs)
    }

    fn stems(terms: &[Term]) -> Vec<&str> {
        terms.iter().map(|t| t.stem.as_str()).collect()
    }

    #[test]
    fn distinctive_stems_that_fit_the_budget_are_ored() {
        let scored = vec![stem(9.0, "робот", 40), stem(8.0, "обучен", 900_000), stem(7.0, "собак", 30)];
        let (terms, how) = choose(&scored, 1_000_000).expect("stems");
        assert_eq!(stems(&terms), ["робот", "собак"]);
        assert!(matches!(how, Neighbours::Ranked(e) if e.contains(" OR ") && !e.contains("обучен")));
    }

    #[test]
    fn when_no_stem_fits_the_rarest_distinctive_ones_are_paired() {
        // Every stem is in more posts than the budget; "модел" is in more than COMMON_SHARE.
        let scored = vec![
            stem(9.0, "модел", 80_000),
            stem(8.0, "агент", 9_000),
            stem(7.0, "награ", 8_000),
            stem(6.0, "средн", 30_000),
            stem(5.0, "игр", 12_000),
        ];
        let (terms, how) = choose_within(&scored, 1_000_000, i64::MAX).expect("stems");
        assert_eq!(stems(&terms), ["награ", "агент", "игр"]);
        let Neighbours::Pairs(pairs) = how else { panic!("pairs expected") };
        assert_eq!(pairs.len(), 3);
        assert!(pairs.iter().all(|(e, _)| e.matches(" AND ").count() == 1));
        // A pair weighs its two stems' scores.
        assert!(pairs.iter().any(|(e, w)| e.contains("агент") && e.contains("награ") && (*w - 15.0).abs() < 1e-9));
    }

    #[test]
    fn pairs_stop_where_their_expected_matches_pass_the_budget() {
        // Three stems, each in ten budgets' worth of posts: none fits alone.
        let d = DOCS_BUDGET * 10;
        let scored = vec![stem(2.0, "a", d), stem(1.0, "b", d), stem(0.5, "c", d)];
        // In half of the archive's posts each: too common to pair, the rarest alone.
        let choose = |scored: &[_], size| choose_within(scored, size, i64::MAX);
        let (terms, how) = choose(&scored, 2 * d).expect("stems");
        assert!(matches!(how, Neighbours::Ranked(_)), "too common to pair: the rarest alone");
        assert_eq!(terms.len(), 1);
        // In 2.5 % of the posts: a pair is expected in d² / size = a quarter of the budget,
        // so all three pairs fit.
        let (terms, how) = choose(&scored, 40 * d).expect("stems");
        let Neighbours::Pairs(pairs) = how else { panic!("pairs expected") };
        assert_eq!((terms.len(), pairs.len()), (3, 3));
        // In 4 % of the posts: a pair is expected in 0.4 budgets, the third stem would add
        // 0.8 more: two stems, one pair.
        let (terms, how) = choose(&scored, 25 * d).expect("stems");
        let Neighbours::Pairs(pairs) = how else { panic!("pairs expected") };
        assert_eq!((terms.len(), pairs.len()), (2, 1));
    }

    #[test]
    fn pairs_stop_where_the_lists_they_walk_pass_the_walk_budget() {
        // Each pair is expected in 81 posts: the expected matches do not bind.
        let scored = vec![stem(9.0, "a", 9_000), stem(8.0, "b", 9_000), stem(7.0, "c", 9_000), stem(6.0, "d", 9_000)];
        let pairs_of = |walk| match choose_within(&scored, 1_000_000, walk).expect("stems") {
            (terms, Neighbours::Pairs(pairs)) => (terms.len(), pairs.len()),
            (_, Neighbours::Ranked(_)) => panic!("pairs expected"),
        };
        // The first pair is always taken, however long its lists.
        assert_eq!(pairs_of(0), (2, 1));
        // A third stem walks two more pairs' lists: 36,000 entries beside the first pair's 18,000.
        assert_eq!(pairs_of(53_999), (2, 1));
        assert_eq!(pairs_of(54_000), (3, 3));
        assert_eq!(pairs_of(i64::MAX), (3, 3), "PAIR_TERMS at most");
        // The default budget: a third stem of lists this long does not fit.
        assert_eq!(choose(&scored, 1_000_000).map(|(t, _)| t.len()), Some(2));
    }

    #[test]
    fn a_post_without_stems_has_no_neighbours() {
        assert!(choose(&[], 100).is_none());
    }
}
