//! The planner: how a query's matches are found, chosen from figures alone. No store in
//! here: [`choose`] takes what the search read of the store ([`Stats`]: the posts each term
//! is in, what the phrase index has of the terms) and returns a [`Plan`], one named variant
//! per strategy; src/search/exec.rs runs it. The costs behind each choice are measured in
//! benches/README.md.
//!
//! The strategies, for a query of words sorted by relevance or newest first:
//! - a query with hashtags reads its matches and checks each post's hashtags;
//! - newest first (asked for, or every word common), the phrase index reads the matches
//!   when it has the phrases and the other words have a bit, or when the rest of the query
//!   is sparse and its words in most posts have a bit;
//! - a phrase the index has, beside other words, takes its candidates from the index
//!   unless the costs say the plan without the index is quicker (decided once the
//!   candidates are counted: [`check_candidates`]);
//! - otherwise bm25 over the rare words, keeping the posts that have every word (read in
//!   `posts_fts`, or checked by the bits of the common words), or newest first.

use crate::search::lang::Sort;
use crate::store::phrases::reads::Bits;

/// A phrase the phrase index has, beside other words, gives its posts as candidates for the
/// rest of the query up to this many; a phrase in more is common, and quick without the index.
pub(super) const PHRASE_CANDIDATES: usize = 2_000;
/// Beside a word in this many posts or fewer, a phrase gives up to this many candidates, read
/// with the word's matches (`"глубокое обучение" собаке` at 1M: 9,558 posts with the phrase,
/// 12,619 with the word, 115 with both, which FTS5 finds by walking every post with the
/// phrase's stems): reading either is cheaper (benches/README.md).
pub(super) const PHRASE_READ_CANDIDATES: usize = 50_000;
/// What the plans of a phrase beside other words cost, in microseconds, as measured at 1M
/// posts (benches/README.md): checking one post for the other words in `posts_fts` (a rowid
/// IN the candidates);
const CHECK_POST_COST: f64 = 25.0;
/// reading one match of a word;
const READ_MATCH_COST: f64 = 0.1;
/// FTS5 comparing a phrase's position lists in one post having all its stems.
const WALK_POST_COST: f64 = 0.2;
/// Beside a word in more than one post in this many, FTS5 reads a common word's list as
/// quickly as its bits are looked up (benches/README.md).
const DENSE_SHARE: i64 = 10;

/// What the phrase index (src/store/phrases/) has of a query's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IndexTerms {
    /// Every post up to this id is in the index.
    pub upto: i64,
    /// Per term: a phrase whose stems are all paired.
    pub paired: Vec<bool>,
    /// Per term: a whole word's bit in `stem_bitmaps`.
    pub bits: Vec<Option<u32>>,
    /// The bits of the excluded words, when every exclusion is a word with a bit (0: none
    /// excluded); `None` when an exclusion can only be checked in `posts_fts`.
    pub forbidden: Option<u64>,
}

impl IndexTerms {
    /// The mask of the bits of these terms that have one.
    pub fn mask(&self, terms: impl IntoIterator<Item = usize>) -> u64 {
        terms.into_iter().filter_map(|i| self.bits[i]).fold(0, |mask, b| mask | 1 << b)
    }
}

/// The figures a plan is chosen on, read by src/search/stats.rs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stats {
    /// Posts each term is in (at most: a phrase's rarest stem's, a prefix's expansions').
    pub docs: Vec<i64>,
    /// A term in more posts than this is common.
    pub common_docs: i64,
    /// The rare terms bm25 ranks by differ from the rare terms as typed (a glossary term's
    /// common stems left out).
    pub rank_narrower: bool,
    /// What the phrase index has of the terms; `None`: no index, nothing in it for these
    /// terms, or not asked (a query with hashtags).
    pub index: Option<IndexTerms>,
    /// Take a phrase's candidates from the index whatever the costs say (tests on small data).
    pub force_pairs: bool,
}

impl Stats {
    pub fn is_common(&self, term: usize) -> bool {
        self.docs[term] > self.common_docs
    }

    /// The terms in fewer posts than common ones.
    pub fn rare(&self) -> Vec<usize> {
        (0..self.docs.len()).filter(|&i| !self.is_common(i)).collect()
    }
}

/// What of the query's scope the planner needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Filters {
    /// The query has hashtags (checked post by post).
    pub hashtags: bool,
    /// The query excludes words or phrases.
    pub exclusions: bool,
}

/// How the members a plan found are ordered on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// bm25 over the rare terms, keeping the members.
    Ranked,
    /// Newest first.
    Newest,
}

/// How the candidates of a phrase the index has are checked for the rest of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// By their bits alone: nothing of the rest is for `posts_fts`.
    Bits,
    /// Post by post in `posts_fts` (a rowid IN the candidates).
    PostByPost,
    /// By reading the matches of the rest once.
    ReadRest,
    /// Not at all: the plan without the index is quicker, or the candidates are too many.
    WithoutIndex,
}

/// The plan of a phrase the index has beside other words, until its candidates are
/// counted: read at most `cap` of them; [`check_candidates`] then says how to check them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Candidates {
    /// Every post up to this id is in the index.
    pub upto: i64,
    /// The paired phrases (term indexes), read from the pairs.
    pub phrases: Vec<usize>,
    /// The other terms that have no bit: checked in `posts_fts`.
    pub bitless: Vec<usize>,
    /// The other terms' bits, and the exclusions' when they all have one.
    pub bits: Bits,
    /// The exclusions are checked by their bits (else in `posts_fts`).
    pub exclusions_by_bits: bool,
    /// Candidates read at most (one more says they are too many).
    pub cap: usize,
    /// The posts the rarest paired phrase's rarest stem is in.
    pub least_phrase: i64,
    /// The posts the rarest bitless term is in (`None`: there is none).
    pub least_rest: Option<i64>,
    /// Something of the rest is checked in `posts_fts`.
    pub in_fts: bool,
    pub order: Order,
    /// The plan when the candidates are not worth it.
    pub otherwise: Box<Plan>,
}

/// How a query's matches are found: one variant a strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    /// The matches read from `posts_fts` and checked post by post for the hashtags (SQL
    /// keeps only the posts with a hashtag entity).
    Hashtags { order: Order },
    /// Newest first through the phrase index: the paired phrases read from the pairs, the
    /// other words and the exclusions checked by their bits; the posts newer than the index
    /// from `posts_fts`.
    NewestByPairs { upto: i64, phrases: Vec<usize>, bits: Bits },
    /// Newest first: the sparse rest of the query (`words`) read from `posts_fts`, its words
    /// in most posts (and the exclusions, when they all have a bit) checked by their bits;
    /// the posts newer than the index from `posts_fts`.
    NewestCheckedByBits { upto: i64, words: Vec<usize>, bits: Bits, exclusions_by_bits: bool },
    /// A paired phrase's candidates from the index, checked for the rest.
    PhraseCandidates(Candidates),
    /// Newest matches first in `posts_fts` (newest first was asked for, or no word is rare).
    Newest,
    /// bm25 over every word (all are rare).
    Ranked,
    /// bm25 over the ranked terms, keeping the posts the rare terms as typed match (all
    /// words are rare, a glossary term's common stems are left out of the ranking).
    RankedWithinRare,
    /// bm25 over the rare words, keeping the posts having every word, read from `posts_fts`.
    RankedWithinAll,
    /// bm25 over the rare words, keeping the posts they find that have the common words'
    /// bits (`required`); the posts newer than the index from `posts_fts`.
    RankedWithinBits { upto: i64, required: u64 },
}

impl Plan {
    /// The plan's name in the log and the search's span.
    pub fn name(&self) -> &'static str {
        match self {
            Plan::Hashtags { .. } => "hashtags",
            Plan::NewestByPairs { .. } => "newest-by-pairs",
            Plan::NewestCheckedByBits { .. } => "newest-checked-by-bits",
            Plan::PhraseCandidates(_) => "phrase-candidates",
            Plan::Newest => "newest",
            Plan::Ranked => "ranked",
            Plan::RankedWithinRare => "ranked-within-rare",
            Plan::RankedWithinAll => "ranked-within-all",
            Plan::RankedWithinBits { .. } => "ranked-within-bits",
        }
    }
}

/// The plan of a query of words (sorted by relevance or newest first: a query sorted by
/// reactions, or of filters only, has a plan of its own).
pub(super) fn choose(stats: &Stats, filters: Filters, sort: Sort) -> Plan {
    let newest = sort == Sort::Newest;
    let rare = stats.rare();
    let order = if !rare.is_empty() && !newest { Order::Ranked } else { Order::Newest };
    if filters.hashtags {
        return Plan::Hashtags { order };
    }
    if let Some(ix) = &stats.index {
        if (rare.is_empty() || newest)
            && let Some(plan) = newest_by_index(stats, ix)
        {
            return plan;
        }
        if ix.paired.contains(&true) {
            return Plan::PhraseCandidates(candidates(stats, ix, filters, order, without_index(stats, &rare, newest)));
        }
    }
    without_index(stats, &rare, newest)
}

/// The plan when the phrase index does nothing for the query.
fn without_index(stats: &Stats, rare: &[usize], newest: bool) -> Plan {
    let n = stats.docs.len();
    if newest || rare.is_empty() {
        // No rare word: bm25 would score most of the archive, and weakly; newest first.
        return Plan::Newest;
    }
    if rare.len() == n {
        return if stats.rank_narrower { Plan::RankedWithinRare } else { Plan::Ranked };
    }
    // Rank by the rare words (cheap: few posts), keep the posts that have all words. Those
    // are no more than the rarest word has: read once, for the count too (each read walks
    // the common words' long lists), or checked for the common words by their bits.
    let commons: Vec<usize> = (0..n).filter(|&i| stats.is_common(i)).collect();
    match &stats.index {
        Some(ix) if commons.iter().all(|&i| ix.bits[i].is_some()) => {
            Plan::RankedWithinBits { upto: ix.upto, required: ix.mask(commons) }
        }
        _ => Plan::RankedWithinAll,
    }
}

/// The matches newest first through the phrase index, when it can read them. Either
/// - the query's phrases, all of which the pairs match, give the posts, and its words and
///   exclusions, all with a bit, check them (`"глубокое обучение" -модели` at 1M: fifty
///   times quicker by the bits than by FTS5); or
/// - its words with a bit, and its exclusions when they all have one, check the posts the
///   rest of the query finds in `posts_fts`, when the rest has a word in a tenth of the
///   posts or fewer ([`DENSE_SHARE`]): FTS5 would seek a common word's long list once per
///   post the rest finds (`отвертки модели робот`, `модел` in 92 % and `робот` in 49 %).
///   When the rest is as common as the words, FTS5 reads the lists side by side as
///   quickly: the plan without the index.
fn newest_by_index(stats: &Stats, ix: &IndexTerms) -> Option<Plan> {
    let n = stats.docs.len();
    let with_bit = |i: usize| ix.bits[i].is_some();
    let forbidden = ix.forbidden.unwrap_or(0);
    let by_pairs =
        ix.forbidden.is_some() && (0..n).any(|i| ix.paired[i]) && (0..n).all(|i| ix.paired[i] || with_bit(i));
    if by_pairs {
        let required = ix.mask((0..n).filter(|&i| !ix.paired[i]));
        let phrases = (0..n).filter(|&i| ix.paired[i]).collect();
        return Some(Plan::NewestByPairs { upto: ix.upto, phrases, bits: Bits { required, forbidden } });
    }
    let rest: Vec<usize> = (0..n).filter(|&i| !with_bit(i)).collect();
    let sparse = rest.iter().any(|&i| stats.docs[i].saturating_mul(DENSE_SHARE) <= ix.upto);
    if (rest.len() == n && forbidden == 0) || !sparse || rest.iter().any(|&i| ix.paired[i]) {
        return None;
    }
    let required = ix.mask((0..n).filter(|&i| with_bit(i)));
    Some(Plan::NewestCheckedByBits {
        upto: ix.upto,
        words: rest,
        bits: Bits { required, forbidden },
        exclusions_by_bits: forbidden != 0,
    })
}

/// The plan of a phrase the index has beside other words or exclusions: its words with a
/// bit are checked by the bits, as are the exclusions when they all have one; the other
/// words in `posts_fts`. More than [`PHRASE_CANDIDATES`] candidates are read only beside a
/// word in [`PHRASE_READ_CANDIDATES`] posts or fewer (and then checked by reading its
/// matches).
fn candidates(stats: &Stats, ix: &IndexTerms, filters: Filters, order: Order, otherwise: Plan) -> Candidates {
    let n = stats.docs.len();
    let bitless: Vec<usize> = (0..n).filter(|&i| !ix.paired[i] && ix.bits[i].is_none()).collect();
    let bits = Bits { required: ix.mask((0..n).filter(|&i| !ix.paired[i])), forbidden: ix.forbidden.unwrap_or(0) };
    let least_rest = bitless.iter().map(|&i| stats.docs[i]).min();
    let least_phrase = (0..n).filter(|&i| ix.paired[i]).map(|i| stats.docs[i]).min().unwrap_or(0);
    let cap = match least_rest {
        Some(d) if d <= PHRASE_READ_CANDIDATES as i64 => PHRASE_READ_CANDIDATES,
        _ => PHRASE_CANDIDATES,
    };
    // Only what posts_fts checks costs (a bit costs next to nothing).
    let in_fts = !bitless.is_empty() || (ix.forbidden.is_none() && filters.exclusions);
    Candidates {
        upto: ix.upto,
        phrases: (0..n).filter(|&i| ix.paired[i]).collect(),
        bitless,
        bits,
        exclusions_by_bits: ix.forbidden.is_some(),
        cap,
        least_phrase,
        least_rest,
        in_fts,
        order,
        otherwise: Box::new(otherwise),
    }
}

/// How the `found` candidates of [`Candidates`] are checked, now that they are counted
/// (at most `cap`; more go [`Check::WithoutIndex`] before this is asked).
pub(super) fn check_candidates(c: &Candidates, found: usize, force_pairs: bool, count_cap: i64) -> Check {
    if !c.in_fts {
        return Check::Bits;
    }
    match costs(found, c.least_phrase, c.least_rest, c.upto, count_cap) {
        // Beyond PHRASE_CANDIDATES, only reading the rest's matches is quick enough.
        Some(false) if found > PHRASE_CANDIDATES => Check::WithoutIndex,
        Some(true) => Check::ReadRest,
        Some(false) => Check::PostByPost,
        None if force_pairs => Check::PostByPost,
        None => Check::WithoutIndex,
    }
}

/// Whether the candidates of a phrase the index has (`found` of them) beat the plan without
/// the index, and if so how the rest is checked: `Some(true)` by reading the matches of
/// its rarest word (in `least_rest` posts), `Some(false)` post by post. The plan without
/// the index walks the posts having all the phrase's stems (the rarest is in
/// `least_phrase` posts) until it has `count_cap` matches. `posts`: the archive's size.
fn costs(found: usize, least_phrase: i64, least_rest: Option<i64>, posts: i64, count_cap: i64) -> Option<bool> {
    let found = found as f64;
    let expected = found * least_rest.map_or(1.0, |d| d as f64 / posts.max(1) as f64);
    let without = WALK_POST_COST * least_phrase as f64 * (count_cap as f64 / expected.max(1.0)).min(1.0);
    let (check, read) = (CHECK_POST_COST * found, least_rest.map_or(f64::INFINITY, |d| READ_MATCH_COST * d as f64));
    (check.min(read) <= without).then_some(read < check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::COUNT_CAP;

    const COMMON: i64 = 1_500;
    const NO_BITS: Bits = Bits { required: 0, forbidden: 0 };

    fn stats(docs: &[i64], index: Option<IndexTerms>) -> Stats {
        Stats { docs: docs.to_vec(), common_docs: COMMON, rank_narrower: false, index, force_pairs: false }
    }

    fn index(upto: i64, paired: &[bool], bits: &[Option<u32>], forbidden: Option<u64>) -> Option<IndexTerms> {
        Some(IndexTerms { upto, paired: paired.to_vec(), bits: bits.to_vec(), forbidden })
    }

    /// A table of figures and the plan they choose.
    #[test]
    fn the_plan_follows_the_figures() {
        let relevance = Sort::Relevance;
        let none = Filters::default();
        let hashtags = Filters { hashtags: true, exclusions: false };
        let excluding = Filters { hashtags: false, exclusions: true };
        let narrower = Stats { rank_narrower: true, ..stats(&[10, 20], None) };
        let rows: Vec<(&str, Stats, Filters, Sort, Plan)> = vec![
            ("rare words: bm25", stats(&[10, 20], None), none, relevance, Plan::Ranked),
            ("a glossary term narrowed for bm25", narrower, none, relevance, Plan::RankedWithinRare),
            ("common words only: newest", stats(&[5_000, 9_000], None), none, relevance, Plan::Newest),
            ("newest first asked", stats(&[10], None), none, Sort::Newest, Plan::Newest),
            ("rare beside common", stats(&[10, 9_000], None), none, relevance, Plan::RankedWithinAll),
            ("hashtags, a rare word", stats(&[10], None), hashtags, relevance, Plan::Hashtags { order: Order::Ranked }),
            (
                "hashtags, common words",
                stats(&[9_000], None),
                hashtags,
                relevance,
                Plan::Hashtags { order: Order::Newest },
            ),
            (
                "rare beside common words with bits",
                stats(&[10, 9_000, 8_000], index(90_000, &[false; 3], &[None, Some(0), Some(3)], Some(0))),
                none,
                relevance,
                Plan::RankedWithinBits { upto: 90_000, required: 1 | 1 << 3 },
            ),
            (
                "rare beside a common word without a bit",
                stats(&[10, 9_000, 8_000], index(90_000, &[false; 3], &[None, Some(0), None], Some(0))),
                none,
                relevance,
                Plan::RankedWithinAll,
            ),
            (
                "a phrase of the index, a word with a bit: newest by the pairs",
                stats(&[40_000, 60_000], index(90_000, &[true, false], &[None, Some(2)], Some(0))),
                none,
                relevance,
                Plan::NewestByPairs { upto: 90_000, phrases: vec![0], bits: Bits { required: 1 << 2, forbidden: 0 } },
            ),
            (
                "an exclusion without a bit: not by the pairs alone",
                stats(&[40_000, 60_000], index(90_000, &[true, false], &[None, Some(2)], None)),
                excluding,
                relevance,
                Plan::PhraseCandidates(Candidates {
                    upto: 90_000,
                    phrases: vec![0],
                    bitless: vec![],
                    bits: Bits { required: 1 << 2, forbidden: 0 },
                    exclusions_by_bits: false,
                    cap: PHRASE_CANDIDATES,
                    least_phrase: 40_000,
                    least_rest: None,
                    in_fts: true,
                    order: Order::Newest,
                    otherwise: Box::new(Plan::Newest),
                }),
            ),
            (
                "a sparse word beside words with bits, newest first",
                stats(&[5_000, 80_000], index(90_000, &[false, false], &[None, Some(1)], Some(1 << 4))),
                none,
                Sort::Newest,
                Plan::NewestCheckedByBits {
                    upto: 90_000,
                    words: vec![0],
                    bits: Bits { required: 1 << 1, forbidden: 1 << 4 },
                    exclusions_by_bits: true,
                },
            ),
            (
                "a dense rest beside words with bits: FTS5 reads them side by side",
                stats(&[20_000, 80_000], index(90_000, &[false, false], &[None, Some(1)], Some(0))),
                none,
                Sort::Newest,
                Plan::Newest,
            ),
            (
                "a phrase of the index beside a rare word: its candidates, else bm25",
                stats(&[40_000, 12], index(90_000, &[true, false], &[None, None], Some(0))),
                none,
                relevance,
                Plan::PhraseCandidates(Candidates {
                    upto: 90_000,
                    phrases: vec![0],
                    bitless: vec![1],
                    bits: NO_BITS,
                    exclusions_by_bits: true,
                    cap: PHRASE_READ_CANDIDATES,
                    least_phrase: 40_000,
                    least_rest: Some(12),
                    in_fts: true,
                    order: Order::Ranked,
                    otherwise: Box::new(Plan::RankedWithinAll),
                }),
            ),
        ];
        for (what, stats, filters, sort, expected) in rows {
            assert_eq!(choose(&stats, filters, sort), expected, "{what}");
        }
    }

    fn candidates_of(least_phrase: i64, least_rest: Option<i64>, upto: i64) -> Candidates {
        Candidates {
            upto,
            phrases: vec![0],
            bitless: least_rest.map(|_| vec![1]).unwrap_or_default(),
            bits: NO_BITS,
            exclusions_by_bits: false,
            cap: PHRASE_CANDIDATES,
            least_phrase,
            least_rest,
            in_fts: true,
            order: Order::Ranked,
            otherwise: Box::new(Plan::RankedWithinAll),
        }
    }

    /// The costs decide as measured (benches/README.md): at 1M `"обучение с подкреплением"
    /// робот` with the index post by post (ten times quicker than without it, and than
    /// reading `робот`'s 489k matches); `... собаке` by reading its 12,619 matches; at 100k
    /// `"глубокое обучение" модели` without the index (reading `модел`'s 92k costs more).
    #[test]
    fn the_candidates_are_checked_as_the_measured_costs_say() {
        let rows: &[(usize, i64, Option<i64>, i64, Check)] = &[
            (579, 480_077, Some(489_451), 1_000_000, Check::PostByPost),
            (579, 480_077, Some(12_619), 1_000_000, Check::ReadRest),
            (579, 480_077, None, 1_000_000, Check::PostByPost), // exclusions only
            (913, 33_946, Some(92_423), 100_000, Check::WithoutIndex),
            (59, 47_916, Some(48_716), 100_000, Check::PostByPost),
            (0, 47_916, Some(48_716), 100_000, Check::PostByPost), // no candidate: nothing to check
            (2_500, 900_000, None, 1_000_000, Check::WithoutIndex), // too many to check one by one
        ];
        for &(found, least_phrase, least_rest, upto, expected) in rows {
            let c = candidates_of(least_phrase, least_rest, upto);
            assert_eq!(
                check_candidates(&c, found, false, COUNT_CAP),
                expected,
                "{found} {least_phrase} {least_rest:?}"
            );
        }
        let costly = candidates_of(33_946, Some(92_423), 100_000);
        assert_eq!(check_candidates(&costly, 913, true, COUNT_CAP), Check::PostByPost, "forced");
        let bits_only = Candidates { in_fts: false, ..costly };
        assert_eq!(check_candidates(&bits_only, 913, false, COUNT_CAP), Check::Bits);
    }
}
