//! Search over the archive: stemmed FTS5 with bm25 (title above body),
//! all-words first and any-word as a fallback, the query language's filters
//! pushed into SQL, snippets with the matched words marked, "more like this",
//! and typo corrections from the archive's own words and stems.
//!
//! Its rooms, in the order a search goes through them:
//! - here: the façade ([`Searcher`], with what searches share: the threshold of common
//!   terms, the glossary, the vocabularies), one search's course (`Search::run`: the
//!   glossary's alternatives, a correction, why nothing matched) and `find`, which reads
//!   the figures of a query's terms, has a plan chosen on them and runs it;
//! - `lang.rs`, `query.rs`: the query language, and FTS5 expressions of its terms;
//! - `stats.rs`: the figures a plan is chosen on, read from the store;
//! - `plan.rs`: the planner, pure: figures in, a named plan out;
//! - `exec.rs`: the SQL that runs a plan, the scope's filters, counts and pages;
//! - `snippet.rs`: the extract of a post around its matched words (rendered by src/render/);
//! - `similar.rs`, `suggest.rs`, `glossary.rs`, `facts.rs`: "more like this", typo
//!   corrections, the ru/en glossary, why a filter cannot match.
//!
//! The phrase index the plans read is the store's (src/store/phrases/).

mod exec;
pub mod facts;
pub mod glossary;
pub mod lang;
mod plan;
pub mod query;
mod similar;
pub mod snippet;
mod stats;
#[cfg(test)]
mod store_tests;
pub(crate) mod suggest;

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use chrono_tz::Tz;
use serde::Serialize;

pub use lang::{MediaKind, Parsed, Problem, Sort};
pub use query::Query;
pub use snippet::{Piece, Snippet, snippet};

use crate::i18n::Lang;
use crate::model::Post;
use crate::store::{Archive, Result, StoreError};
use crate::text;
use exec::{Ranking, Scope};

/// A term in more posts than this is "common": bm25 would have to visit every one of
/// them (FTS5 gathers each phrase's statistics over all its matches), so common terms
/// filter but do not rank; a query of common terms only is answered newest first.
pub const COMMON_DOCS: i64 = 1_500;
/// Totals are counted up to this; beyond it the count is shown as "N+".
const COUNT_CAP: i64 = 1_000;

/// Why a glossary was not kept in the store.
#[derive(Debug, thiserror::Error)]
pub enum SetGlossaryError {
    /// The file is not a glossary (its problem says where and why).
    #[error(transparent)]
    Invalid(#[from] glossary::GlossaryError),
    /// The store did not take it.
    #[error("cannot store the glossary: {0}")]
    Store(StoreError),
}

/// All words matched, or only some (fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    All,
    Any,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub post: Post,
    pub score: f64,
    pub snippet: Snippet,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Matches in all, counted up to a cap (see `total_capped`).
    pub total: usize,
    pub total_capped: bool,
    pub mode: Mode,
    /// When nothing matched: a close query made of real words from the archive.
    pub suggestion: Option<String>,
    /// What the query was understood as (plain text, in the request's language).
    pub understood: String,
    /// What was not understood, each with an example (plain text).
    pub problems: Vec<String>,
    pub sort: Sort,
    /// The query as typed found nothing: these are the results of this correction of it.
    pub corrected: Option<String>,
    /// When nothing matched: why an operator of the query cannot match anything in this
    /// archive (no dated posts, no photos, a hashtag no post carries), in the request's language.
    pub impossible: Vec<String>,
}

impl SearchPage {
    fn empty() -> Self {
        SearchPage {
            hits: Vec::new(),
            total: 0,
            total_capped: false,
            mode: Mode::All,
            suggestion: None,
            understood: String::new(),
            problems: Vec::new(),
            sort: Sort::Relevance,
            corrected: None,
            impossible: Vec::new(),
        }
    }
}

/// What to search for and how.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub input: &'a str,
    pub offset: usize,
    pub limit: usize,
    /// The language of the understood line and the problems.
    pub lang: Lang,
    /// The zone dates are read in (`POSTKEEPER_TIMEZONE`).
    pub tz: Tz,
    /// Run a typo correction at once when the query finds nothing (off for "search for
    /// what I typed").
    pub correct: bool,
}

impl<'a> Request<'a> {
    /// A page of a query in Russian, dates in UTC, typos corrected.
    pub fn new(input: &'a str, offset: usize, limit: usize) -> Self {
        Request { input, offset, limit, lang: Lang::Ru, tz: chrono_tz::UTC, correct: true }
    }
}

/// Searches an archive. Holds what searches share across the store's connections: the
/// threshold of common terms, and the vocabularies suggestions read (one copy for every
/// thread, read again when an import changed it). Cheap to clone.
#[derive(Clone)]
pub struct Searcher {
    inner: Arc<Shared>,
}

struct Shared {
    common_docs: i64,
    /// A phrase beside other words always takes its candidates from the phrase index,
    /// whatever the costs say (tests of that plan on small data).
    force_pairs: bool,
    vocabulary: Mutex<Option<Arc<suggest::Vocabulary>>>,
    stems: Mutex<Option<Arc<suggest::Vocabulary>>>,
    /// The store's own glossary (its text and the parsed sets), when it has one.
    glossary: Mutex<Option<(String, Arc<glossary::Glossary>)>>,
}

/// Where a store keeps a glossary loaded in place of the bundled one.
const GLOSSARY_KEY: &str = "glossary_toml";

impl Default for Searcher {
    fn default() -> Self {
        Self::with_common_docs(COMMON_DOCS)
    }
}

impl std::fmt::Debug for Searcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Searcher").field("common_docs", &self.inner.common_docs).finish_non_exhaustive()
    }
}

impl Searcher {
    /// A searcher for which a term in more than `posts` posts is common (tests exercise
    /// the large-archive plans on small data).
    pub fn with_common_docs(posts: i64) -> Self {
        Searcher {
            inner: Arc::new(Shared {
                common_docs: posts,
                force_pairs: false,
                vocabulary: Mutex::new(None),
                stems: Mutex::new(None),
                glossary: Mutex::new(None),
            }),
        }
    }

    /// [`Searcher::with_common_docs`] that takes the candidates of a phrase beside other
    /// words from the phrase index whenever it can (tests of that plan).
    #[cfg(test)]
    pub(crate) fn with_pairs_forced(posts: i64) -> Self {
        let mut searcher = Self::with_common_docs(posts);
        if let Some(shared) = Arc::get_mut(&mut searcher.inner) {
            shared.force_pairs = true;
        }
        searcher
    }

    /// Searches the archive; `offset`/`limit` select the page (Russian, UTC, typos corrected).
    pub fn search(&self, archive: &Archive, input: &str, offset: usize, limit: usize) -> Result<SearchPage> {
        self.search_with(archive, &Request::new(input, offset, limit))
    }

    /// Searches the archive as `request` says.
    pub fn search_with(&self, archive: &Archive, request: &Request<'_>) -> Result<SearchPage> {
        let span = tracing::debug_span!(
            "search",
            plan = tracing::field::Empty,
            hits = tracing::field::Empty,
            total = tracing::field::Empty,
            ms = tracing::field::Empty
        );
        let _entered = span.enter();
        let started = std::time::Instant::now();
        // One snapshot for the count and the page, and one read lock instead of one per statement.
        let _snapshot = archive.snapshot()?;
        let search = Search::new(archive, self);
        let page = search.run(request)?;
        span.record("plan", search.plan.get());
        span.record("hits", page.hits.len());
        span.record("total", page.total);
        span.record("ms", started.elapsed().as_secs_f64() * 1000.0);
        tracing::debug!("search done");
        Ok(page)
    }

    /// A query of real archive words close to one that found nothing, if it finds something.
    pub fn suggest(&self, archive: &Archive, query: &Query) -> Result<Option<String>> {
        let input = query.terms.iter().map(|t| t.folded.as_str()).collect::<Vec<_>>().join(" ");
        let parsed = Parsed { query: query.clone(), input: input.clone(), ..Default::default() };
        Search::new(archive, self).suggest(&input, &parsed, &Scope::default())
    }

    /// The posts most like post `id` (`None`: no such post), best first.
    pub fn similar(
        &self,
        archive: &Archive,
        id: i64,
        offset: usize,
        limit: usize,
    ) -> Result<Option<(Post, SearchPage)>> {
        let _snapshot = archive.snapshot()?;
        let Some(post) = archive.post(id)? else { return Ok(None) };
        let page = Search::new(archive, self).similar(&post, offset, limit)?;
        Ok(Some((post, page)))
    }

    /// [`Searcher::similar`] of a post already read.
    pub fn similar_to(&self, archive: &Archive, post: &Post, offset: usize, limit: usize) -> Result<SearchPage> {
        let _snapshot = archive.snapshot()?;
        Search::new(archive, self).similar(post, offset, limit)
    }

    /// Checks a glossary and keeps it in the store in place of the bundled one (every
    /// process using the store reads it at its next search); returns its number of sets.
    pub fn set_glossary(archive: &Archive, text: &str, path: &str) -> Result<usize, SetGlossaryError> {
        let g = glossary::Glossary::parse(text, path)?;
        crate::store::set_meta(archive.conn(), GLOSSARY_KEY, text).map_err(SetGlossaryError::Store)?;
        Ok(g.len())
    }

    /// The glossary in effect: the store's own if it keeps one, else the bundled one.
    /// Re-parsed only when the stored text changed.
    fn glossary(&self, archive: &Archive) -> Result<Arc<glossary::Glossary>> {
        let Some(text) = crate::store::meta(archive.conn(), GLOSSARY_KEY)? else {
            return Ok(glossary::Glossary::bundled());
        };
        let mut cached = self.inner.glossary.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, g)) = cached.as_ref()
            && *t == text
        {
            return Ok(g.clone());
        }
        let parsed = glossary::Glossary::parse(&text, "the store's glossary").unwrap_or_else(|e| {
            tracing::warn!("{e}; using the bundled glossary");
            glossary::Glossary::clone(&glossary::Glossary::bundled())
        });
        let g = Arc::new(parsed);
        *cached = Some((text, g.clone()));
        Ok(g)
    }

    /// The vocabulary as of `generation`, read from `archive` when the copy is older; one
    /// thread reads it while the others wait for it. `stems`: the stems', not the words'.
    fn vocabulary(&self, archive: &Archive, generation: i64, stems: bool) -> Result<Arc<suggest::Vocabulary>> {
        let slot = if stems { &self.inner.stems } else { &self.inner.vocabulary };
        let mut cached = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cached.as_ref().filter(|v| v.generation == generation) {
            return Ok(v.clone());
        }
        let fresh = Arc::new(suggest::Vocabulary::load(archive, generation, stems)?);
        *cached = Some(fresh.clone());
        Ok(fresh)
    }
}

/// One search: the archive's connection and the shared state.
struct Search<'a> {
    archive: &'a Archive,
    searcher: &'a Searcher,
    /// The plan of the page found last (for the search's span).
    plan: Cell<&'static str>,
}

impl<'a> Search<'a> {
    fn new(archive: &'a Archive, searcher: &'a Searcher) -> Self {
        Search { archive, searcher, plan: Cell::new("none") }
    }
}

impl Search<'_> {
    fn conn(&self) -> &rusqlite::Connection {
        self.archive.conn()
    }

    fn run(&self, request: &Request<'_>) -> Result<SearchPage> {
        let mut parsed = Parsed::parse(request.input, self.archive.taxonomy(), request.tz);
        let base = SearchPage {
            understood: parsed.understood(request.lang),
            problems: parsed.problems.iter().map(|p| p.explain(request.lang)).collect(),
            sort: parsed.sort,
            ..SearchPage::empty()
        };
        let scope = self.scope(&parsed, None)?;
        let glossary = self.searcher.glossary(self.archive)?;
        let page = if parsed.expand(&glossary) && self.keep_present_alternatives(&mut parsed)? {
            self.find_expanded(&mut parsed, &scope, request)?
        } else {
            self.find(&mut parsed, &scope, request.offset, request.limit, request.correct)?
        };
        if page.total > 0 || !request.correct || page.suggestion.is_none() {
            return self.explained(merge(base, page), &parsed, request);
        }
        // Nothing matched and a correction does: its results at once, saying so.
        let Some(corrected) = page.suggestion else { return Ok(base) };
        let again = Request { input: &corrected, correct: false, ..request.clone() };
        let mut reparsed = Parsed::parse(again.input, self.archive.taxonomy(), again.tz);
        let rescope = self.scope(&reparsed, None)?;
        let mut found = self.find(&mut reparsed, &rescope, again.offset, again.limit, false)?;
        if found.total == 0 {
            // The corrected words are in the archive, yet not as the query needs them (as a
            // hashtag, say): no correction, and why nothing matched if that can be told.
            return self.explained(base, &parsed, request);
        }
        found.suggestion = None;
        Ok(SearchPage {
            understood: reparsed.understood(request.lang),
            corrected: Some(corrected),
            ..merge(base, found)
        })
    }

    /// A page that found nothing, with why its operators cannot match here, if they cannot.
    fn explained(&self, mut page: SearchPage, parsed: &Parsed, request: &Request<'_>) -> Result<SearchPage> {
        if page.total > 0 {
            return Ok(page);
        }
        page.impossible = facts::impossible(self.archive, parsed, request.lang)?;
        // A hashtag is checked alone: does any post carry it at all? (The span keeps the
        // plan of the page, not of these checks.)
        let plan = self.plan.get();
        for tag in &parsed.hashtags {
            let mut alone = Parsed::parse(&format!("#{tag}"), self.archive.taxonomy(), request.tz);
            let scope = self.scope(&alone, None)?;
            if self.find(&mut alone, &scope, 0, 1, false)?.total == 0 {
                page.impossible.push(crate::i18n::fill(request.lang.texts().no_hashtag_posts, &[("tag", tag)]));
            }
        }
        self.plan.set(plan);
        Ok(page)
    }

    /// Drops the glossary alternatives with a stem the archive lacks (they cannot match; an
    /// English term's in a Russian archive, say): FTS5 would still walk the lists of the
    /// words as typed to find the posts only they match. Are any left?
    fn keep_present_alternatives(&self, parsed: &mut Parsed) -> Result<bool> {
        let mut left = false;
        for t in &mut parsed.query.terms {
            let mut kept = Vec::with_capacity(t.alternatives.len());
            for alternative in std::mem::take(&mut t.alternatives) {
                let mut present = true;
                for stem in &alternative {
                    if self.archive.doc_count(stem)? == 0 {
                        present = false;
                        break;
                    }
                }
                if present {
                    kept.push(alternative);
                }
            }
            left |= !kept.is_empty();
            t.alternatives = kept;
        }
        Ok(left)
    }

    /// A query with glossary alternatives: the posts matching it as typed first, then those
    /// only the alternatives find.
    fn find_expanded(&self, parsed: &mut Parsed, scope: &Scope, request: &Request<'_>) -> Result<SearchPage> {
        let (offset, limit) = (request.offset, request.limit);
        let mut exact = parsed.exact();
        let first = self.find(&mut exact, scope, offset, limit, false)?;
        if first.mode != Mode::All || first.total == 0 {
            return self.find(parsed, scope, offset, limit, request.correct);
        }
        let Some(typed) = exact.query.all_expr() else { return Ok(first) };
        let typed = scope.wrap(&typed);
        let rest_scope = Scope {
            excluded: Some(match &scope.excluded {
                Some(not) => format!("{not} OR ({typed})"),
                None => typed,
            }),
            // The typed query is excluded too: only `posts_fts` checks that.
            excluded_words: None,
            ..scope.clone()
        };
        let room = limit.saturating_sub(first.hits.len());
        if room == 0 {
            // The page is all posts matching the words as typed, which come first: what
            // only the alternatives find comes later, so it is counted (up to the cap, as
            // every count is) but not ranked (a common term's alternatives would cost a
            // ranking over most of the archive). Hashtags are checked post by post: those
            // are not counted, and the total says "or more".
            if !rest_scope.hashtags.is_empty() {
                return Ok(SearchPage { total_capped: true, ..first });
            }
            // Already at the cap: the total says "or more" whatever the rest counts, and a
            // count beside common words is a walk over most of the archive.
            if first.total_capped {
                return Ok(first);
            }
            self.settle_prefix(parsed)?;
            let rest = match parsed.query.all_expr() {
                Some(all) => self.count(&rest_scope.wrap(&all), &rest_scope)?,
                None => 0,
            };
            let total = first.total as i64 + rest;
            return Ok(SearchPage {
                total: total as usize,
                total_capped: first.total_capped || rest >= COUNT_CAP,
                ..first
            });
        }
        let mut rest = self.find(parsed, &rest_scope, offset.saturating_sub(first.total), room.max(1), false)?;
        if rest.mode != Mode::All {
            rest = SearchPage::empty();
        }
        let mut hits = first.hits;
        hits.extend(rest.hits.into_iter().take(room));
        let total = first.total + rest.total;
        Ok(SearchPage {
            hits,
            total,
            total_capped: first.total_capped || rest.total_capped,
            mode: Mode::All,
            ..SearchPage::empty()
        })
    }

    /// The page of a parsed query within a scope (the core of [`Searcher::search_with`]):
    /// the figures of its terms read, a plan chosen on them ([`plan::choose`]), the plan
    /// run ([`Search::execute`]).
    fn find(
        &self,
        parsed: &mut Parsed,
        scope: &Scope,
        offset: usize,
        limit: usize,
        correct: bool,
    ) -> Result<SearchPage> {
        if parsed.query.is_empty() {
            if !parsed.has_filters() {
                return Ok(SearchPage::empty());
            }
            self.plan.set("filters");
            let total = self.browse_count(scope)?;
            let ids = self.browse(scope, parsed.sort == Sort::Top, offset, limit)?;
            return self.page(&parsed.query, ids.into_iter().map(|id| (id, 0.0)).collect(), total, Mode::All);
        }
        self.settle_prefix(parsed)?;
        let query = &parsed.query;
        let Some(all) = query.all_expr() else {
            return Ok(SearchPage::empty());
        };
        let all = scope.wrap(&all);
        if parsed.sort == Sort::Top {
            return self.find_top(parsed, &all, scope, (offset, limit), correct);
        }

        // The figures.
        let docs: Vec<i64> = query.terms.iter().map(|t| self.docs(t)).collect::<Result<_>>()?;
        let common_docs = self.searcher.inner.common_docs;
        let rare: Vec<&query::Term> =
            query.terms.iter().zip(&docs).filter(|(_, d)| **d <= common_docs).map(|(t, _)| t).collect();
        let rare_all = Query::join(rare.iter().copied(), " AND ").map(|e| scope.wrap(&e));
        // What bm25 ranks by: the rare terms, a glossary term's common stems left out (`робот`
        // of `робот-собака`), as common words are: bm25 gathers each stem's statistics over
        // all its matches. They still filter (the plans' members have every term).
        let ranked: Vec<query::Term> = rare.iter().map(|t| self.without_common_stems(t)).collect::<Result<_>>()?;
        let rank_all = Query::join(&ranked, " AND ").map(|e| scope.wrap(&e));
        let stats = self.stats(query, scope, docs, rank_all != rare_all)?;

        // The plan.
        let filters = plan::Filters { hashtags: !scope.hashtags.is_empty(), exclusions: scope.excluded.is_some() };
        let chosen = plan::choose(&stats, filters, parsed.sort);
        tracing::debug!(plan = chosen.name(), ?stats, ?filters, sort = ?parsed.sort, "search plan chosen");
        self.plan.set(chosen.name());

        // Its execution.
        let exprs = exec::Exprs { query, all, rare_all, rank_all, wanted: offset + limit };
        let mut ranking = self.execute(&chosen, &exprs, scope)?;
        let mut mode = Mode::All;
        let mut total = match &ranking {
            Ranking::RankedWithin { members, .. } => (members.len() as i64).min(COUNT_CAP),
            Ranking::Members(ids) => (ids.len() as i64).min(COUNT_CAP),
            _ => self.count(&exprs.all, scope)?,
        };
        if total == 0 && query.terms.len() > 1 && scope.hashtags.is_empty() {
            // A word the archive does not have at all is likely a typo: its correction, if
            // one finds something, beats a result that ignores the word.
            let unknown = correct
                && stats
                    .docs
                    .iter()
                    .zip(&query.terms)
                    .any(|(&d, t)| d == 0 && !has_digit(&t.folded) && !has_cjk(&t.folded));
            let correction = if unknown { self.suggest_parsed(parsed, scope)? } else { None };
            if correction.is_some() {
                return Ok(SearchPage { suggestion: correction, ..SearchPage::empty() });
            }
            // Any word: a very common word would match nearly everything, so only the rare ones count.
            let any = if rare.is_empty() { query.any_expr() } else { Query::join(rare.iter().copied(), " OR ") };
            if let Some(any) = any {
                let any = scope.wrap(&any);
                let any_total = self.count(&any, scope)?;
                if any_total > 0 {
                    mode = Mode::Any;
                    total = any_total;
                    ranking = if rare.is_empty() || parsed.sort == Sort::Newest {
                        Ranking::Newest(any)
                    } else {
                        Ranking::Ranked(any)
                    };
                }
            }
        }
        if total == 0 {
            let suggestion = self.suggest_parsed(parsed, scope)?;
            return Ok(SearchPage { suggestion, ..SearchPage::empty() });
        }
        tracing::debug!(
            plan = chosen.name(),
            ranking = ranking.name(),
            total,
            rare = rare.len(),
            terms = query.terms.len(),
            ?mode,
            "search plan"
        );
        let ranked = self.rank(&ranking, scope, offset, limit)?;
        let mut page = self.page(&parsed.query, ranked, total, mode)?;
        page.total_capped = total >= COUNT_CAP;
        Ok(page)
    }

    /// The posts having every term, the most reactions first (then the newest): a plan of
    /// its own, the other plans' shortcuts are about relevance. Nothing found is handled as
    /// by relevance (a correction, a suggestion).
    fn find_top(
        &self,
        parsed: &Parsed,
        all: &str,
        scope: &Scope,
        (offset, limit): (usize, usize),
        correct: bool,
    ) -> Result<SearchPage> {
        let total = self.count(all, scope)?;
        if total == 0 {
            let mut relevance = parsed.clone();
            relevance.sort = Sort::Relevance;
            return self.find(&mut relevance, scope, offset, limit, correct);
        }
        let ids = self.top(all, scope, offset, limit)?;
        tracing::debug!(plan = "top", total, "search plan");
        self.plan.set("top");
        let mut page = self.page(&parsed.query, ids, total, Mode::All)?;
        page.total_capped = total >= COUNT_CAP;
        Ok(page)
    }

    /// The last word is a prefix only while it is not a word yet (being typed): a prefix of
    /// a common stem is costly, and a whole word needs none. (The last word typed, not the
    /// last term: phrases come after the words.)
    fn settle_prefix(&self, parsed: &mut Parsed) -> Result<()> {
        if let Some(last) = parsed.query.terms.iter_mut().find(|t| t.prefix) {
            if self.is_word(&last.folded)? {
                last.prefix = false;
            } else {
                last.expansions = self.prefix_stems(&last.stem)?;
            }
        }
        Ok(())
    }

    /// The hits of ranked ids, with snippets.
    fn page(&self, query: &Query, ranked: Vec<(i64, f64)>, total: i64, mode: Mode) -> Result<SearchPage> {
        let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
        let hits = self
            .archive
            .posts_by_id(&ids)?
            .into_iter()
            .map(|post| {
                let snippet = snippet(&post.body, query, 28);
                // A page is a handful of hits: a scan finds a post's score.
                let score = ranked.iter().find(|(id, _)| *id == post.id).map_or(0.0, |(_, s)| *s);
                SearchHit { post, score, snippet }
            })
            .collect();
        Ok(SearchPage { hits, total: total as usize, total_capped: total >= COUNT_CAP, mode, ..SearchPage::empty() })
    }

    /// The suggestion for a parsed query: the typed text with its unknown words corrected.
    fn suggest_parsed(&self, parsed: &Parsed, scope: &Scope) -> Result<Option<String>> {
        self.suggest(&parsed.input, parsed, scope)
    }
}

/// A page found, with what the request's parsing said about the query.
fn merge(base: SearchPage, found: SearchPage) -> SearchPage {
    SearchPage {
        hits: found.hits,
        total: found.total,
        total_capped: found.total_capped,
        mode: found.mode,
        suggestion: found.suggestion,
        corrected: found.corrected,
        ..base
    }
}

/// Names with digits (`M1`, `Wave2vec`) are never "corrected".
pub(crate) fn has_digit(word: &str) -> bool {
    word.chars().any(|c| c.is_numeric())
}

/// CJK words are never "corrected" either: their tokens are bigrams, no word forms.
pub(crate) fn has_cjk(word: &str) -> bool {
    word.chars().any(text::is_cjk)
}
