//! The execution of a plan: the SQL that finds a query's matches as [`Plan`] says, and the
//! reads every plan shares (the scope's filters as SQL, counts, pages of ids, browsing by
//! filters alone). What the phrase index reads is its own (src/store/phrases/reads.rs).

use rusqlite::{OptionalExtension, params};
use rustc_hash::FxHashSet;

use super::plan::{self, Candidates, Check, Order, Plan};
use super::query::Query;
use super::{COUNT_CAP, MediaKind, Parsed, Search, lang};
use crate::model::EntityKind;
use crate::store::Result;
use crate::store::phrases::reads::{Bits, Source, pairs_expr};
use crate::text;

/// bm25 weights of the index columns: title, body.
const BM25: &str = "bm25(posts_fts, 4.0, 1.0)";
/// Posts with a hashtag entity, as the partial index `posts_with_hashtags` (V9) holds them.
const HASHTAG_ENTITY: &str = "p.entities LIKE '%\"type\":\"hashtag\"%'";
pub(super) const HASHTAGGED: &str =
    "SELECT id FROM posts INDEXED BY posts_with_hashtags WHERE entities LIKE '%\"type\":\"hashtag\"%'";
/// A date range of fewer posts than this narrows the matches by id range too (see `ids_in_dates`).
const DATE_HINT_POSTS: i64 = 20_000;

/// How a page is read once the matches are known: the form every plan ends in.
pub(super) enum Ranking {
    /// bm25 over an expression.
    Ranked(String),
    /// bm25 over the rare words, keeping `members`: the posts that have every word.
    RankedWithin { rank: String, members: FxHashSet<i64> },
    /// Newest matches first.
    Newest(String),
    /// These posts, newest first.
    Members(Vec<i64>),
}

impl Ranking {
    /// The ranking's name in the log.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Ranking::Ranked(_) => "ranked",
            Ranking::RankedWithin { .. } => "ranked-within",
            Ranking::Newest(_) => "newest",
            Ranking::Members(_) => "members",
        }
    }

    /// Every match, found by other means than FTS5's ranking: ranked by the rare words
    /// `rank` if the order is by rank, else newest first.
    fn of_members(members: Vec<i64>, rank: Option<&str>, order: Order) -> Ranking {
        match (order, rank) {
            (Order::Ranked, Some(rank)) => {
                Ranking::RankedWithin { rank: rank.to_string(), members: members.into_iter().collect() }
            }
            _ => {
                let mut ids = members;
                ids.sort_unstable_by(|a, b| b.cmp(a));
                Ranking::Members(ids)
            }
        }
    }
}

/// A query's FTS5 expressions, within its scope (the exclusions taken out).
pub(super) struct Exprs<'q> {
    pub query: &'q Query,
    /// Every term.
    pub all: String,
    /// The rare terms (`None`: none is rare).
    pub rare_all: Option<String>,
    /// What bm25 ranks by: the rare terms, a glossary term's common stems left out.
    pub rank_all: Option<String>,
    /// The matches the page needs, newest first: its offset and limit.
    pub wanted: usize,
}

impl Exprs<'_> {
    /// The rare terms (the planner ranks only when a term is rare).
    fn rare(&self) -> &str {
        self.rare_all.as_deref().unwrap_or(&self.all)
    }

    /// What bm25 ranks by (the rare terms, narrowed).
    fn rank(&self) -> &str {
        self.rank_all.as_deref().unwrap_or_else(|| self.rare())
    }

    /// Terms ANDed, by their indexes.
    fn terms(&self, terms: &[usize]) -> Option<String> {
        Query::join(terms.iter().map(|&i| &self.query.terms[i]), " AND ")
    }

    /// The paired phrases, by their indexes, as an expression over the pairs.
    fn pairs(&self, phrases: &[usize]) -> Option<String> {
        pairs_expr(phrases.iter().map(|&i| self.query.terms[i].phrase.as_slice()))
    }
}

/// Where a query's matches may be: the filters as SQL, the exclusions as FTS5 syntax, the
/// hashtags to check.
#[derive(Debug, Default, Clone)]
pub(super) struct Scope {
    /// ` AND ...` over `posts_fts.rowid`.
    pub(super) filter: String,
    /// The same over `p.id` of `posts p`.
    pub(super) browse_filter: String,
    /// The same over `pairs_fts.rowid` (the phrase index).
    pub(super) pairs_filter: String,
    /// The excluded words and phrases ORed (`NOT (...)` of every expression).
    pub(super) excluded: Option<String>,
    /// The stems of the exclusions when each is a whole word ([`Query::whole_word`]; none: no
    /// exclusion), which the bits of `stem_bitmaps` may check; `None` when one is not.
    pub(super) excluded_words: Option<Vec<String>>,
    pub(super) hashtags: Vec<String>,
}

impl Scope {
    /// An expression with the exclusions taken out.
    pub(super) fn wrap(&self, expr: &str) -> String {
        match &self.excluded {
            Some(not) => format!("({expr}) NOT ({not})"),
            None => expr.to_string(),
        }
    }
}

/// The SQL condition "post `id` carries media of `kind`": the one place media filters
/// meet the schema. Videos include animations and video notes; files are documents,
/// audio and voice.
fn media_sql(kind: MediaKind, id: &str) -> String {
    let kinds = media_kinds(kind);
    // A list SQLite builds once per statement, not a lookup per candidate post: a common
    // word over a million posts would otherwise probe post_media for each of its matches.
    format!("{id} IN (SELECT m.post_id FROM post_media m WHERE m.kind IN ({kinds}))")
}

/// The `post_media.kind`s of a media filter, as an SQL list.
pub(super) fn media_kinds(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Photo => "'photo'",
        MediaKind::Video => "'video', 'animation', 'video_note'",
        MediaKind::File => "'document', 'audio', 'voice'",
    }
}

/// The filters of a query as ` AND ...` conditions over the post id `id`. Every value
/// is a number computed here (dates, ids), never text a reader typed.
fn conditions(parsed: &Parsed, topic_id: Option<i64>, exclude: Option<i64>, id: &str) -> String {
    let mut c = String::new();
    if parsed.from.is_some() || parsed.to.is_some() {
        c.push_str(&format!(" AND EXISTS (SELECT 1 FROM posts d WHERE d.id = {id}"));
        if let Some(from) = &parsed.from {
            c.push_str(&format!(" AND d.date >= {}", from.at));
        }
        if let Some(to) = &parsed.to {
            c.push_str(&format!(" AND d.date < {}", to.at));
        }
        c.push(')');
    }
    match (&parsed.topic, topic_id) {
        (Some(_), Some(t)) => c.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM post_topics pt WHERE pt.post_id = {id} AND pt.topic_id = {t})"
        )),
        (Some(_), None) => c.push_str(" AND 0"),
        _ => {}
    }
    if let Some(kind) = parsed.has {
        c.push_str(&format!(" AND {}", media_sql(kind, id)));
    }
    if let Some(post) = exclude {
        c.push_str(&format!(" AND {id} != {post}"));
    }
    c
}

/// The hashtags of a post, from its entities (folded, without `#`).
pub(super) fn hashtags_of(body: &str, entities: &str) -> Vec<String> {
    let Ok(entities) = serde_json::from_str::<Vec<crate::model::Entity>>(entities) else { return Vec::new() };
    let mut out = Vec::new();
    for e in entities.iter().filter(|e| e.kind == EntityKind::Hashtag) {
        // UTF-16 offsets to a byte range.
        let (mut units, mut start, mut end) = (0u32, None, None);
        for (i, c) in body.char_indices() {
            if units == e.offset {
                start = Some(i);
            }
            if units == e.offset + e.length {
                end = Some(i);
                break;
            }
            units += c.len_utf16() as u32;
        }
        let end = end.or_else(|| (units == e.offset + e.length).then_some(body.len()));
        if let (Some(s), Some(en)) = (start, end)
            && let Some(tag) = body.get(s..en).and_then(lang::hashtag_of)
        {
            out.push(text::fold(tag));
        }
    }
    out
}

impl Search<'_> {
    pub(super) fn scope(&self, parsed: &Parsed, exclude: Option<i64>) -> Result<Scope> {
        let topic_id = match &parsed.topic {
            Some(t) => self
                .conn()
                .prepare_cached("SELECT id FROM topics WHERE slug = ?1")?
                .query_row([&t.slug], |r| r.get(0))
                .optional()?,
            None => None,
        };
        let mut filter = conditions(parsed, topic_id, exclude, "posts_fts.rowid");
        let mut browse_filter = conditions(parsed, topic_id, exclude, "p.id");
        let mut pairs_filter = conditions(parsed, topic_id, exclude, "pairs_fts.rowid");
        if let Some((lo, hi)) = self.ids_in_dates(parsed)? {
            // The date condition stays exact; this range only lets FTS5 and the primary key
            // skip to the posts of those dates instead of checking every match's date.
            filter.push_str(&format!(" AND posts_fts.rowid BETWEEN {lo} AND {hi}"));
            browse_filter.push_str(&format!(" AND p.id BETWEEN {lo} AND {hi}"));
            pairs_filter.push_str(&format!(" AND pairs_fts.rowid BETWEEN {lo} AND {hi}"));
        }
        Ok(Scope {
            filter,
            browse_filter,
            pairs_filter,
            excluded: Query::join(&parsed.excluded, " OR "),
            excluded_words: parsed.excluded.iter().map(|t| Query::whole_word(t).then(|| t.stem.clone())).collect(),
            hashtags: parsed.hashtags.clone(),
        })
    }

    /// The smallest and largest id of the posts dated within a query's date range, when the
    /// range holds few enough posts to read their ids off the date index; `(1, 0)` (no id)
    /// when it holds none.
    fn ids_in_dates(&self, parsed: &Parsed) -> Result<Option<(i64, i64)>> {
        if parsed.from.is_none() && parsed.to.is_none() {
            return Ok(None);
        }
        let from = parsed.from.as_ref().map_or(i64::MIN, |b| b.at);
        let to = parsed.to.as_ref().map_or(i64::MAX, |b| b.at);
        let (n, lo, hi): (i64, Option<i64>, Option<i64>) = self
            .conn()
            .prepare_cached(&format!(
                "SELECT count(*), min(id), max(id) FROM (SELECT id FROM posts INDEXED BY posts_date
                 WHERE date >= ?1 AND date < ?2 LIMIT {DATE_HINT_POSTS})"
            ))?
            .query_row(params![from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(match (lo, hi) {
            _ if n >= DATE_HINT_POSTS => None,
            (Some(lo), Some(hi)) => Some((lo, hi)),
            _ => Some((1, 0)),
        })
    }

    /// Runs a plan: the matches it finds, as the page is to be read from them.
    pub(super) fn execute(&self, plan: &Plan, ex: &Exprs<'_>, scope: &Scope) -> Result<Ranking> {
        Ok(match plan {
            // Hashtags are checked post by post, on the posts that have their words.
            Plan::Hashtags { order } => {
                Ranking::of_members(self.with_hashtags(&ex.all, scope)?, ex.rank_all.as_deref(), *order)
            }
            Plan::NewestByPairs { upto, phrases, bits } => {
                // (Never without a phrase: the planner gives one at least.)
                let Some(expr) = ex.pairs(phrases) else { return self.execute(&Plan::Newest, ex, scope) };
                Ranking::Members(self.newest_indexed(
                    Source::Pairs,
                    &expr,
                    &scope.pairs_filter,
                    *upto,
                    *bits,
                    ex,
                    scope,
                )?)
            }
            Plan::NewestCheckedByBits { upto, words, bits, exclusions_by_bits } => {
                let Some(expr) = ex.terms(words) else { return self.execute(&Plan::Newest, ex, scope) };
                // The exclusions by their bits when they all have one, else in FTS5.
                let expr = if *exclusions_by_bits { expr } else { scope.wrap(&expr) };
                Ranking::Members(self.newest_indexed(Source::Words, &expr, &scope.filter, *upto, *bits, ex, scope)?)
            }
            Plan::PhraseCandidates(c) => match self.phrase_candidates(c, ex, scope)? {
                Some(members) => Ranking::of_members(members, ex.rank_all.as_deref(), c.order),
                None => self.execute(&c.otherwise, ex, scope)?,
            },
            Plan::Newest => Ranking::Newest(ex.all.clone()),
            Plan::Ranked => Ranking::Ranked(ex.rare().to_string()),
            Plan::RankedWithinRare => {
                Ranking::RankedWithin { rank: ex.rank().to_string(), members: self.matching(ex.rare(), scope)? }
            }
            Plan::RankedWithinAll => {
                Ranking::RankedWithin { rank: ex.rank().to_string(), members: self.matching(&ex.all, scope)? }
            }
            Plan::RankedWithinBits { upto, required } => Ranking::RankedWithin {
                rank: ex.rank().to_string(),
                members: self.rare_checked_by_bits(*upto, *required, ex, scope)?,
            },
        })
    }

    /// The posts having every term, the most reactions first (then the newest). Not ranked
    /// by relevance: no score (lists show the reactions themselves).
    pub(super) fn top(&self, all: &str, scope: &Scope, offset: usize, limit: usize) -> Result<Vec<(i64, f64)>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT p.id FROM posts p
                 WHERE p.id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1{})
                 ORDER BY p.reactions_total DESC, p.id DESC LIMIT {limit} OFFSET {offset}",
                scope.filter
            ))?
            .query_map(params![all], |r| Ok((r.get(0)?, 0.0)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// One page of (post id, score), best first. LIMIT and OFFSET are written into the
    /// SQL, not bound: SQLite passes them to FTS5 and re-prepares a statement each time
    /// such a bound value is bound again (figures: benches/README.md).
    pub(super) fn rank(
        &self,
        ranking: &Ranking,
        scope: &Scope,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(i64, f64)>> {
        let filter = &scope.filter;
        let bm25 = |filter: &str| {
            format!(
                "SELECT rowid, {BM25} AS score FROM posts_fts WHERE posts_fts MATCH ?1{filter} ORDER BY score, rowid DESC"
            )
        };
        Ok(match ranking {
            Ranking::Ranked(expr) => self
                .conn()
                .prepare_cached(&format!("{} LIMIT {limit} OFFSET {offset}", bm25(filter)))?
                .query_map(params![expr], |r| Ok((r.get(0)?, -r.get::<_, f64>(1)?)))?
                .collect::<rusqlite::Result<_>>()?,
            Ranking::Newest(expr) => self
                .conn()
                .prepare_cached(&format!(
                    "SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1{filter} ORDER BY rowid DESC LIMIT {limit} OFFSET {offset}"
                ))?
                .query_map(params![expr], |r| Ok((r.get(0)?, 0.0)))?
                .collect::<rusqlite::Result<_>>()?,
            Ranking::Members(ids) => ids.iter().skip(offset).take(limit).map(|&id| (id, 0.0)).collect(),
            Ranking::RankedWithin { rank, members } => {
                let mut stmt = self.conn().prepare_cached(&bm25(""))?;
                let mut rows = stmt.query([rank])?;
                let mut out = Vec::with_capacity(limit);
                let mut skipped = 0;
                while let Some(row) = rows.next()? {
                    let id: i64 = row.get(0)?;
                    if !members.contains(&id) {
                        continue;
                    }
                    if skipped < offset {
                        skipped += 1;
                        continue;
                    }
                    out.push((id, -row.get::<_, f64>(1)?));
                    if out.len() == limit {
                        break;
                    }
                }
                out
            }
        })
    }

    /// The matches newest first through the phrase index: at least [`COUNT_CAP`] of them
    /// (for the count) and `ex.wanted` (for the page), when there are as many; the posts
    /// newer than the index from `posts_fts`, the rest `expr` matches in `source`, checked
    /// by `bits`.
    #[allow(clippy::too_many_arguments)]
    fn newest_indexed(
        &self,
        source: Source,
        expr: &str,
        filter: &str,
        upto: i64,
        bits: Bits,
        ex: &Exprs<'_>,
        scope: &Scope,
    ) -> Result<Vec<i64>> {
        let cap = ex.wanted.max(COUNT_CAP as usize);
        let mut ids = self.beyond_index(&ex.all, scope, upto, cap)?;
        if ids.len() < cap {
            ids.extend(self.archive.indexed_with_bits(source, expr, filter, upto, bits, Some(cap - ids.len()))?);
        }
        Ok(ids)
    }

    /// Every match of a query with rare words beside common ones that all have a bit: the
    /// posts the rare words find (a few: they are rare), checked for the common words by their
    /// bits instead of FTS5 seeking each common word's long list once per post
    /// (`роботу-собаке`: `робот` in half the posts); the posts newer than the index as any
    /// query. `required`: the common words' bits.
    fn rare_checked_by_bits(&self, upto: i64, required: u64, ex: &Exprs<'_>, scope: &Scope) -> Result<FxHashSet<i64>> {
        let bits = Bits { required, forbidden: 0 };
        let mut members: FxHashSet<i64> = self
            .archive
            .indexed_with_bits(Source::Words, ex.rare(), &scope.filter, upto, bits, None)?
            .into_iter()
            .collect();
        members.extend(self.beyond_index(&ex.all, scope, upto, i64::MAX as usize)?);
        Ok(members)
    }

    /// Posts newer than the phrase index's last, matching `all` within the scope, newest
    /// first, at most `n` (none asked when there are no newer posts: FTS5 takes most of a
    /// millisecond to find none past the end of long lists).
    pub(super) fn beyond_index(&self, all: &str, scope: &Scope, upto: i64, n: usize) -> Result<Vec<i64>> {
        let last: i64 =
            self.conn().prepare_cached("SELECT coalesce(max(id), 0) FROM posts")?.query_row([], |r| r.get(0))?;
        if last <= upto {
            return Ok(Vec::new());
        }
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1{} AND posts_fts.rowid > {upto}
                 ORDER BY rowid DESC LIMIT {n}",
                scope.filter
            ))?
            .query_map([all], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Every match of a query with a phrase the index has beside other words or exclusions:
    /// the posts the index has with its phrases, checked for the rest (by their bits, and in
    /// `posts_fts` one by one or by reading the matches of the rest), and the newer posts as
    /// any query. `None` when [`plan::check_candidates`] says the plan without the index is
    /// quicker, or the candidates are more than the plan reads.
    fn phrase_candidates(&self, c: &Candidates, ex: &Exprs<'_>, scope: &Scope) -> Result<Option<Vec<i64>>> {
        let Some(pairs) = ex.pairs(&c.phrases) else { return Ok(None) };
        let found = self.archive.posts_with_pairs(&pairs, &scope.pairs_filter, c.upto, c.cap + 1)?;
        let check = if found.len() > c.cap {
            Check::WithoutIndex
        } else {
            plan::check_candidates(c, found.len(), self.searcher.inner.force_pairs, COUNT_CAP)
        };
        tracing::debug!(found = found.len(), cap = c.cap, least_phrase = c.least_phrase, least_rest = ?c.least_rest, ?check, "phrase candidates");
        let read = match check {
            Check::WithoutIndex => return Ok(None),
            Check::ReadRest => true,
            Check::PostByPost | Check::Bits => false,
        };
        let mut bits = self.archive.stem_bits(c.bits);
        let mut candidates = Vec::with_capacity(found.len());
        for id in found {
            if bits.passes(id)? {
                candidates.push(id);
            }
        }
        // The exclusions in posts_fts unless the bits checked them.
        let wrap = |expr: &str| if c.exclusions_by_bits { expr.to_string() } else { scope.wrap(expr) };
        let among = |expr: &str| -> Result<FxHashSet<i64>> {
            if candidates.is_empty() {
                return Ok(FxHashSet::default());
            }
            let ids = candidates.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            // Not cached: the list is this query's.
            Ok(self
                .conn()
                .prepare(&format!(
                    "SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1 AND posts_fts.rowid IN ({ids})"
                ))?
                .query_map([expr], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?)
        };
        match (ex.terms(&c.bitless), &scope.excluded) {
            (Some(rest), _) => {
                let keep = if read { self.matching(&wrap(&rest), scope)? } else { among(&wrap(&rest))? };
                candidates.retain(|id| keep.contains(id));
            }
            (None, Some(not)) if !c.exclusions_by_bits => {
                let excluded = among(not)?;
                candidates.retain(|id| !excluded.contains(id));
            }
            (None, _) => {}
        }
        candidates.extend(self.beyond_index(&ex.all, scope, c.upto, i64::MAX as usize)?);
        Ok(Some(candidates))
    }

    /// Every post matching an expression within the scope's filters (for expressions with a rare word).
    pub(super) fn matching(&self, expr: &str, scope: &Scope) -> Result<FxHashSet<i64>> {
        Ok(self
            .conn()
            .prepare_cached(&format!("SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1{}", scope.filter))?
            .query_map([expr], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The posts matching `expr` within the scope whose entities carry every hashtag. SQL
    /// keeps only the posts with a hashtag entity at all (the partial index of V9, read
    /// once); their hashtags are then read from the text.
    fn with_hashtags(&self, expr: &str, scope: &Scope) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT p.id, p.body, p.entities FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid
             WHERE posts_fts MATCH ?1{} AND posts_fts.rowid IN ({HASHTAGGED}) AND {HASHTAG_ENTITY}",
            scope.filter
        ))?;
        let mut rows = stmt.query([expr])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let text = |i: usize| -> Result<String> { Ok(row.get(i)?) };
            let have = hashtags_of(&text(1)?, &text(2)?);
            if scope.hashtags.iter().all(|t| have.contains(t)) {
                out.push(row.get(0)?);
            }
        }
        Ok(out)
    }

    /// Does an expression match anything within the scope?
    pub(super) fn exists(&self, expr: &str, scope: &Scope) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached(&format!("SELECT 1 FROM posts_fts WHERE posts_fts MATCH ?1{} LIMIT 1", scope.filter))?
            .query_row(params![expr], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Matches of an expression within the scope, counted up to [`COUNT_CAP`].
    pub(super) fn count(&self, expr: &str, scope: &Scope) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT count(*) FROM (SELECT 1 FROM posts_fts WHERE posts_fts MATCH ?1{} LIMIT {COUNT_CAP})",
                scope.filter
            ))?
            .query_row(params![expr], |r| r.get(0))?)
    }

    /// The condition and parameter of a query of filters only, exclusions included.
    fn browse_sql(scope: &Scope) -> (String, Option<&str>) {
        match &scope.excluded {
            Some(not) => (
                format!(
                    "{} AND p.id NOT IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1)",
                    scope.browse_filter
                ),
                Some(not.as_str()),
            ),
            None => (scope.browse_filter.clone(), None),
        }
    }

    /// A page of the posts passing the filters, newest first.
    pub(super) fn browse(&self, scope: &Scope, top: bool, offset: usize, limit: usize) -> Result<Vec<i64>> {
        let (filter, not) = Self::browse_sql(scope);
        let order = if top { "p.reactions_total DESC, p.id DESC" } else { "p.id DESC" };
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT p.id FROM posts p WHERE 1{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        ))?;
        let rows = match not {
            Some(n) => stmt.query_map([n], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?,
            None => stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?,
        };
        Ok(rows)
    }

    pub(super) fn browse_count(&self, scope: &Scope) -> Result<i64> {
        let (filter, not) = Self::browse_sql(scope);
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM posts p WHERE 1{filter} LIMIT {COUNT_CAP})"
        ))?;
        Ok(match not {
            Some(n) => stmt.query_row([n], |r| r.get(0))?,
            None => stmt.query_row([], |r| r.get(0))?,
        })
    }

    /// The most frequent stems beginning with `prefix` (at most 5).
    pub(super) fn prefix_stems(&self, prefix: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT stem FROM (SELECT stem, docs FROM stems WHERE stem >= ?1 AND stem < ?1 || char(1114111) LIMIT 2000)
             ORDER BY docs DESC, stem LIMIT 5",
        )?;
        Ok(stmt.query_map([prefix], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
    }

    /// Is this (folded) form a word of the archive?
    pub(super) fn is_word(&self, folded: &str) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM vocabulary WHERE word = ?1")?
            .query_row([folded], |_| Ok(()))
            .optional()?
            .is_some())
    }
}
