//! Search over the archive: stemmed FTS5 with bm25 (title above body),
//! all-words first and any-word as a fallback, the query language's filters
//! pushed into SQL, snippets with the matched words marked, "more like this",
//! and typo corrections from the archive's own words and stems.

pub mod facts;
pub mod glossary;
pub mod lang;
pub mod query;
mod similar;
#[cfg(test)]
mod store_tests;
pub(crate) mod suggest;

use rustc_hash::FxHashSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use chrono_tz::Tz;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

pub use lang::{MediaKind, Parsed, Problem, Sort};
pub use query::Query;

use crate::i18n::Lang;
use crate::model::{EntityKind, Post};
use crate::store::{Archive, Result};
use crate::text;

/// bm25 weights of the index columns: title, body.
const BM25: &str = "bm25(posts_fts, 4.0, 1.0)";
/// A term in more posts than this is "common": bm25 would have to visit every one of
/// them (FTS5 gathers each phrase's statistics over all its matches), so common terms
/// filter but do not rank; a query of common terms only is answered newest first.
pub const COMMON_DOCS: i64 = 1_500;

/// How a query's page is found.
enum Plan {
    /// bm25 over an expression.
    Ranked(String),
    /// bm25 over the rare words, keeping `members`: the posts that have every word.
    RankedWithin { rank: String, members: FxHashSet<i64> },
    /// Newest matches first (every word is common, or newest first was asked for).
    Newest(String),
    /// These posts, newest first (hashtags, checked one post at a time; the phrase index's).
    Members(Vec<i64>),
}

impl Plan {
    /// The plan's name in the log.
    fn name(&self) -> &'static str {
        match self {
            Plan::Ranked(_) => "ranked",
            Plan::RankedWithin { .. } => "ranked-within",
            Plan::Newest(_) => "newest",
            Plan::Members(_) => "members",
        }
    }

    /// The plan of every match, found by other means than FTS5's ranking: ranked by the
    /// rare words `rank` if there are any and newest first was not asked for, else newest first.
    fn of_members(members: Vec<i64>, rank: Option<String>, newest: bool) -> Plan {
        match rank {
            Some(rank) if !newest => Plan::RankedWithin { rank, members: members.into_iter().collect() },
            _ => {
                let mut ids = members;
                ids.sort_unstable_by(|a, b| b.cmp(a));
                Plan::Members(ids)
            }
        }
    }
}
/// Posts with a hashtag entity, as the partial index `posts_with_hashtags` (V9) holds them.
const HASHTAG_ENTITY: &str = "p.entities LIKE '%\"type\":\"hashtag\"%'";
const HASHTAGGED: &str =
    "SELECT id FROM posts INDEXED BY posts_with_hashtags WHERE entities LIKE '%\"type\":\"hashtag\"%'";
/// A date range of fewer posts than this narrows the matches by id range too (see `ids_in_dates`).
const DATE_HINT_POSTS: i64 = 20_000;
/// Totals are counted up to this; beyond it the count is shown as "N+".
const COUNT_CAP: i64 = 1_000;
/// A phrase the phrase index has, beside other words, gives its posts as candidates for the
/// rest of the query up to this many; a phrase in more is common, and quick without the index.
const PHRASE_CANDIDATES: usize = 2_000;
/// Beside a word in this many posts or fewer, a phrase gives up to this many candidates, read
/// with the word's matches (`"глубокое обучение" собаке` at 1M: 9,558 posts with the phrase,
/// 12,619 with the word, 115 with both, which FTS5 finds by walking every post with the
/// phrase's stems): reading either is cheaper (benches/README.md).
const PHRASE_READ_CANDIDATES: usize = 50_000;
/// What the plans of a phrase beside other words cost, in µs, as measured at 1M posts:
/// checking one post for the other words in `posts_fts` (a rowid IN the candidates);
const CHECK_POST_US: f64 = 25.0;
/// reading one match of a word;
const READ_MATCH_US: f64 = 0.1;
/// FTS5 comparing a phrase's position lists in one post having all its stems.
const WALK_POST_US: f64 = 0.2;
/// Beside a word in more than one post in this many, FTS5 reads a common word's list as
/// quickly as its bits are looked up (1,000 matches newest first beside `обучен` at 1M;
/// 2 in place of 10 was within the spread on nine queries: benches/README.md).
const DENSE_SHARE: i64 = 10;

/// What the phrase index (src/store/pairs.rs) can do for a query's terms.
struct IndexTerms {
    /// Every post up to this id is in the index.
    upto: i64,
    /// Per term: a phrase whose stems are all paired.
    paired: Vec<bool>,
    /// Per term: a whole word's bit in `stem_bitmaps`.
    bits: Vec<Option<u32>>,
    /// The bits of the excluded words, when every exclusion is a word with a bit (0: none
    /// excluded); `None` when an exclusion can only be checked in `posts_fts`.
    forbidden: Option<u64>,
}

/// The stems a post must have, by their bits in `stem_bitmaps`: every bit of `required`,
/// none of `forbidden`.
#[derive(Clone, Copy)]
struct Bits {
    required: u64,
    forbidden: u64,
}

impl IndexTerms {
    /// The mask of the bits of these terms that have one.
    fn mask(&self, terms: impl IntoIterator<Item = usize>) -> u64 {
        terms.into_iter().filter_map(|i| self.bits[i]).fold(0, |mask, b| mask | 1 << b)
    }
}

/// A piece of a snippet: text, and whether it is a matched word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Piece {
    pub text: String,
    pub mark: bool,
}

/// A short extract of a post around the matched words. Kept as pieces, not
/// as marked-up text, so each output (HTML, terminal) escapes the text and
/// adds its own marks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Snippet(pub Vec<Piece>);

impl Snippet {
    /// The snippet with marked words wrapped in `open`/`close`, text appended through
    /// `escape` (`String::push_str` for none).
    pub fn render(&self, escape: impl Fn(&mut String, &str), open: &str, close: &str) -> String {
        let mut out = String::new();
        for p in &self.0 {
            render_piece(&mut out, &p.text, p.mark, &escape, open, close);
        }
        out
    }

    pub fn plain(&self) -> String {
        self.render(String::push_str, "", "")
    }
}

/// Appends one piece of a snippet as [`Snippet::render`] does.
pub fn render_piece(
    out: &mut String,
    text: &str,
    mark: bool,
    escape: impl Fn(&mut String, &str),
    open: &str,
    close: &str,
) {
    if mark {
        out.push_str(open);
        escape(out, text);
        out.push_str(close);
    } else {
        escape(out, text);
    }
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
            hits = tracing::field::Empty,
            total = tracing::field::Empty,
            ms = tracing::field::Empty
        );
        let _entered = span.enter();
        let started = std::time::Instant::now();
        // One snapshot for the count and the page, and one read lock instead of one per statement.
        let _snapshot = archive.snapshot()?;
        let page = Search { archive, searcher: self }.run(request)?;
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
        Search { archive, searcher: self }.suggest(&input, &parsed, &Scope::default())
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
        Search { archive, searcher: self }.similar(id, offset, limit)
    }

    /// Checks a glossary and keeps it in the store in place of the bundled one (every
    /// process using the store reads it at its next search); returns its number of sets.
    pub fn set_glossary(archive: &Archive, text: &str, path: &str) -> Result<usize, String> {
        let g = glossary::Glossary::parse(text, path)?;
        crate::store::set_meta(archive.conn(), GLOSSARY_KEY, text)
            .map_err(|e| format!("cannot store the glossary: {e}"))?;
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

/// Where a query's matches may be: the filters as SQL, the exclusions as FTS5 syntax, the
/// hashtags to check.
#[derive(Debug, Default, Clone)]
struct Scope {
    /// ` AND ...` over `posts_fts.rowid`.
    filter: String,
    /// The same over `p.id` of `posts p`.
    browse_filter: String,
    /// The same over `pairs_fts.rowid` (the phrase index).
    pairs_filter: String,
    /// The excluded words and phrases ORed (`NOT (...)` of every expression).
    excluded: Option<String>,
    /// The stems of the exclusions when each is a whole word ([`Query::masked`]; none: no
    /// exclusion), which the bits of `stem_bitmaps` may check; `None` when one is not.
    excluded_words: Option<Vec<String>>,
    hashtags: Vec<String>,
}

impl Scope {
    /// An expression with the exclusions taken out.
    fn wrap(&self, expr: &str) -> String {
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
fn media_kinds(kind: MediaKind) -> &'static str {
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

/// Whether the candidates of a phrase the index has (`found` of them) beat the plan without
/// the index, and if so how the rest is checked: `Some(true)` by reading the matches of
/// its rarest word (in `least_rest` posts), `Some(false)` post by post. The plan without
/// the index walks the posts having all the phrase's stems (the rarest is in
/// `least_phrase` posts) until it has [`COUNT_CAP`] matches. `posts`: the archive's size.
fn candidates_plan(found: usize, least_phrase: i64, least_rest: Option<i64>, posts: i64) -> Option<bool> {
    let found = found as f64;
    let expected = found * least_rest.map_or(1.0, |d| d as f64 / posts.max(1) as f64);
    let without = WALK_POST_US * least_phrase as f64 * (COUNT_CAP as f64 / expected.max(1.0)).min(1.0);
    let (check, read) = (CHECK_POST_US * found, least_rest.map_or(f64::INFINITY, |d| READ_MATCH_US * d as f64));
    (check.min(read) <= without).then_some(read < check)
}

/// The hashtags of a post, from its entities (folded, without `#`).
fn hashtags_of(body: &str, entities: &str) -> Vec<String> {
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

/// One search: the archive's connection and the shared state.
struct Search<'a> {
    archive: &'a Archive,
    searcher: &'a Searcher,
}

impl Search<'_> {
    fn conn(&self) -> &rusqlite::Connection {
        self.archive.conn()
    }

    fn scope(&self, parsed: &Parsed, exclude: Option<i64>) -> Result<Scope> {
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
            excluded_words: parsed.excluded.iter().map(|t| Query::masked(t).then(|| t.stem.clone())).collect(),
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

    /// A glossary term of several words as bm25 should rank it: its common stems left out
    /// (all of them, if all are common).
    fn without_common_stems(&self, t: &query::Term) -> Result<query::Term> {
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
    fn docs(&self, t: &query::Term) -> Result<i64> {
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
        // A hashtag is checked alone: does any post carry it at all?
        for tag in &parsed.hashtags {
            let mut alone = Parsed::parse(&format!("#{tag}"), self.archive.taxonomy(), request.tz);
            let scope = self.scope(&alone, None)?;
            if self.find(&mut alone, &scope, 0, 1, false)?.total == 0 {
                page.impossible.push(crate::i18n::fill(request.lang.texts().no_hashtag_posts, &[("tag", tag)]));
            }
        }
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

    /// The page of a parsed query within a scope (the core of [`Searcher::search_with`]).
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
        let docs: Vec<i64> = query.terms.iter().map(|t| self.docs(t)).collect::<Result<_>>()?;
        let common = |i: usize| docs[i] > self.searcher.inner.common_docs;
        let rare: Vec<&query::Term> =
            query.terms.iter().enumerate().filter(|(i, _)| !common(*i)).map(|(_, t)| t).collect();
        let newest = parsed.sort == Sort::Newest;

        let mut mode = Mode::All;
        let rare_all = Query::join(rare.iter().copied(), " AND ").map(|e| scope.wrap(&e));
        // What bm25 ranks by: the rare terms, a glossary term's common stems left out (`робот`
        // of `робот-собака`), as common words are: bm25 gathers each stem's statistics over
        // all its matches. They still filter (the plans' members have every term).
        let ranked: Vec<query::Term> = rare.iter().map(|t| self.without_common_stems(t)).collect::<Result<_>>()?;
        let rank_all = Query::join(&ranked, " AND ").map(|e| scope.wrap(&e));
        let mut plan = if !scope.hashtags.is_empty() {
            // Hashtags are checked post by post, on the posts that have their words.
            Plan::of_members(self.with_hashtags(&all, scope)?, rank_all, newest)
        } else {
            let index = self.index_terms(query, scope)?;
            let newest_page = rare.is_empty() || newest;
            let by_index = match &index {
                Some(ix) if newest_page => self.newest_by_index(query, ix, &docs, &all, scope, offset + limit)?,
                _ => None,
            };
            let by_pairs = match (by_index, &index) {
                // Read as far as the page and the count need.
                (Some(ids), _) => Some(Plan::Members(ids)),
                (None, Some(ix)) if ix.paired.contains(&true) => self
                    .phrase_candidates(query, ix, &docs, &all, scope)?
                    .map(|members| Plan::of_members(members, rank_all.clone(), newest)),
                _ => None,
            };
            match (by_pairs, rare_all) {
                (Some(plan), _) => plan,
                (None, _) if newest => Plan::Newest(all.clone()),
                // No rare word: bm25 would score most of the archive, and weakly; newest first.
                (None, None) => Plan::Newest(all.clone()),
                (None, Some(rare_all)) if rare.len() == query.terms.len() => match rank_all {
                    Some(rank) if rank != rare_all => {
                        Plan::RankedWithin { rank, members: self.matching(&rare_all, scope)? }
                    }
                    _ => Plan::Ranked(rare_all),
                },
                // Rank by the rare words (cheap: few posts), keep the posts that have all words.
                // Those are no more than the rarest word has: read once, for the count too (each
                // read walks the common words' long lists).
                (None, Some(rare_all)) => {
                    let commons: Vec<usize> = (0..query.terms.len()).filter(|&i| common(i)).collect();
                    let members = match &index {
                        Some(ix) if commons.iter().all(|&i| ix.bits[i].is_some()) => {
                            self.rare_checked_by_bits(ix, ix.mask(commons), &rare_all, &all, scope)?
                        }
                        _ => self.matching(&all, scope)?,
                    };
                    Plan::RankedWithin { rank: rank_all.unwrap_or(rare_all), members }
                }
            }
        };
        let mut total = match &plan {
            Plan::RankedWithin { members, .. } => (members.len() as i64).min(COUNT_CAP),
            Plan::Members(ids) => (ids.len() as i64).min(COUNT_CAP),
            _ => self.count(&all, scope)?,
        };
        if total == 0 && query.terms.len() > 1 && scope.hashtags.is_empty() {
            // A word the archive does not have at all is likely a typo: its correction, if
            // one finds something, beats a result that ignores the word.
            let unknown = correct
                && docs.iter().zip(&query.terms).any(|(&d, t)| d == 0 && !has_digit(&t.folded) && !has_cjk(&t.folded));
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
                    plan = if rare.is_empty() || newest { Plan::Newest(any) } else { Plan::Ranked(any) };
                }
            }
        }
        if total == 0 {
            let suggestion = self.suggest_parsed(parsed, scope)?;
            return Ok(SearchPage { suggestion, ..SearchPage::empty() });
        }
        tracing::debug!(plan = plan.name(), total, rare = rare.len(), terms = query.terms.len(), ?mode, "search plan");
        let ranked = self.rank(&plan, scope, offset, limit)?;
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
        let ids: Vec<(i64, f64)> = self
            .conn()
            .prepare_cached(&format!(
                "SELECT p.id FROM posts p
                 WHERE p.id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1{})
                 ORDER BY p.reactions_total DESC, p.id DESC LIMIT {limit} OFFSET {offset}",
                scope.filter
            ))?
            // Not ranked by relevance: no score (lists show the reactions themselves).
            .query_map(params![all], |r| Ok((r.get(0)?, 0.0)))?
            .collect::<rusqlite::Result<_>>()?;
        tracing::debug!(plan = "top", total, "search plan");
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

    /// One page of (post id, score), best first. LIMIT and OFFSET are written into the
    /// SQL, not bound: SQLite passes them to FTS5 and re-prepares a statement each time
    /// such a bound value is bound again (figures: benches/README.md).
    fn rank(&self, plan: &Plan, scope: &Scope, offset: usize, limit: usize) -> Result<Vec<(i64, f64)>> {
        let filter = &scope.filter;
        let bm25 = |filter: &str| {
            format!(
                "SELECT rowid, {BM25} AS score FROM posts_fts WHERE posts_fts MATCH ?1{filter} ORDER BY score, rowid DESC"
            )
        };
        Ok(match plan {
            Plan::Ranked(expr) => self
                .conn()
                .prepare_cached(&format!("{} LIMIT {limit} OFFSET {offset}", bm25(filter)))?
                .query_map(params![expr], |r| Ok((r.get(0)?, -r.get::<_, f64>(1)?)))?
                .collect::<rusqlite::Result<_>>()?,
            Plan::Newest(expr) => self
                .conn()
                .prepare_cached(&format!(
                    "SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1{filter} ORDER BY rowid DESC LIMIT {limit} OFFSET {offset}"
                ))?
                .query_map(params![expr], |r| Ok((r.get(0)?, 0.0)))?
                .collect::<rusqlite::Result<_>>()?,
            Plan::Members(ids) => ids.iter().skip(offset).take(limit).map(|&id| (id, 0.0)).collect(),
            Plan::RankedWithin { rank, members } => {
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

    /// What the phrase index (src/store/pairs.rs) can do for a query's terms; `None` when
    /// there is no index or it can do nothing for them (a single word needs no index).
    fn index_terms(&self, query: &Query, scope: &Scope) -> Result<Option<IndexTerms>> {
        let worded = Query::masked;
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
            bits.push(if worded(t) { self.archive.mask_bit(&t.stem)? } else { None });
        }
        let mut forbidden = scope.excluded_words.as_ref().map(|_| 0u64);
        for stem in scope.excluded_words.iter().flatten() {
            forbidden = match (forbidden, self.archive.mask_bit(stem)?) {
                (Some(mask), Some(b)) => Some(mask | 1 << b),
                _ => None,
            };
        }
        let useful = paired.contains(&true)
            || (query.terms.len() > 1 && bits.iter().any(Option::is_some))
            || forbidden.is_some_and(|f| f != 0);
        Ok(useful.then_some(IndexTerms { upto, paired, bits, forbidden }))
    }

    /// The matches of a query, newest first, read through the phrase index, or `None` when
    /// it cannot read them: at least [`COUNT_CAP`] of them (for the count) and `wanted`
    /// (for the page), when there are as many; the posts newer than the index from
    /// `posts_fts`. Either
    /// - the query's phrases, all of which the pairs match, give the posts, and its words
    ///   and exclusions, all with a bit, check them (`"глубокое обучение" -модели` at 1M:
    ///   fifty times quicker by the bits than by FTS5); or
    /// - its words with a bit, and its exclusions when they all have one, check the posts the
    ///   rest of the query finds in `posts_fts`, when the rest has a word in a tenth of the
    ///   posts or fewer ([`DENSE_SHARE`]): FTS5 would seek a common word's long list once per
    ///   post the rest finds (`отвертки модели робот`, `модел` in 92 % and `робот` in 49 %:
    ///   three times quicker by the bits at 1M; `торговые -модели` four). When the rest
    ///   is as common as the words, FTS5 reads the lists side by side as quickly: the plan
    ///   without the index.
    fn newest_by_index(
        &self,
        query: &Query,
        ix: &IndexTerms,
        docs: &[i64],
        all: &str,
        scope: &Scope,
        wanted: usize,
    ) -> Result<Option<Vec<i64>>> {
        let n = query.terms.len();
        let with_bit = |i: usize| ix.bits[i].is_some();
        let by_pairs =
            ix.forbidden.is_some() && (0..n).any(|i| ix.paired[i]) && (0..n).all(|i| ix.paired[i] || with_bit(i));
        let (table, expr, filter, checked, forbidden): (&str, String, &str, Vec<usize>, u64) = if by_pairs {
            let phrases = (0..n).filter(|&i| ix.paired[i]).map(|i| &query.terms[i]);
            let Some(expr) = Query::pairs_expr(phrases) else { return Ok(None) };
            let checked = (0..n).filter(|&i| !ix.paired[i]).collect();
            ("pairs_fts", expr, &scope.pairs_filter, checked, ix.forbidden.unwrap_or(0))
        } else {
            let rest: Vec<usize> = (0..n).filter(|&i| !with_bit(i)).collect();
            let sparse = rest.iter().any(|&i| docs[i].saturating_mul(DENSE_SHARE) <= ix.upto);
            let forbidden = ix.forbidden.unwrap_or(0);
            if (rest.len() == n && forbidden == 0) || !sparse || rest.iter().any(|&i| ix.paired[i]) {
                return Ok(None);
            }
            let Some(expr) = Query::join(rest.iter().map(|&i| &query.terms[i]), " AND ") else { return Ok(None) };
            // The exclusions by their bits when they all have one, else in FTS5.
            let expr = if forbidden == 0 { scope.wrap(&expr) } else { expr };
            ("posts_fts", expr, &scope.filter, (0..n).filter(|&i| with_bit(i)).collect(), forbidden)
        };
        // Every checked term has a bit (`by_pairs`: all but the phrases).
        let required = ix.mask(checked);
        let cap = wanted.max(COUNT_CAP as usize);
        let mut ids = self.beyond_index(all, scope, ix.upto, cap)?;
        if ids.len() < cap {
            let bits = Bits { required, forbidden };
            ids.extend(self.indexed_with_bits(table, &expr, filter, ix.upto, bits, Some(cap - ids.len()))?);
        }
        Ok(Some(ids))
    }

    /// Every match of a query with rare words beside common ones that all have a bit: the
    /// posts the rare words find (a few: they are rare), checked for the common words by their
    /// bits instead of FTS5 seeking each common word's long list once per post
    /// (`роботу-собаке`: `робот` in half the posts); the posts newer than the index as any
    /// query. `required`: the common words' bits; `rare_all`: the rare words ANDed, the
    /// exclusions taken out.
    fn rare_checked_by_bits(
        &self,
        ix: &IndexTerms,
        required: u64,
        rare_all: &str,
        all: &str,
        scope: &Scope,
    ) -> Result<FxHashSet<i64>> {
        let mut members: FxHashSet<i64> = self
            .indexed_with_bits("posts_fts", rare_all, &scope.filter, ix.upto, Bits { required, forbidden: 0 }, None)?
            .into_iter()
            .collect();
        members.extend(self.beyond_index(all, scope, ix.upto, i64::MAX as usize)?);
        Ok(members)
    }

    /// The posts up to `upto` (the phrase index's) that `expr` matches in `table` (`posts_fts`
    /// or `pairs_fts`, `filter` its scope) that have the stems of the `bits` asked, newest first,
    /// at most `limit`.
    fn indexed_with_bits(
        &self,
        table: &str,
        expr: &str,
        filter: &str,
        upto: i64,
        bits: Bits,
        limit: Option<usize>,
    ) -> Result<Vec<i64>> {
        let order = if limit.is_some() { " ORDER BY rowid DESC" } else { "" };
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT rowid FROM {table} WHERE {table} MATCH ?1{filter} AND {table}.rowid <= {upto}{order}"
        ))?;
        let mut rows = stmt.query([expr])?;
        // The matches come in the order of their ids: each chunk of a bitmap is read once.
        let mut check = self.archive.stem_bits(bits.required, bits.forbidden);
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

    /// Posts newer than the phrase index's last, matching `all` within the scope, newest
    /// first, at most `n` (none asked when there are no newer posts: FTS5 takes most of a
    /// millisecond to find none past the end of long lists).
    fn beyond_index(&self, all: &str, scope: &Scope, upto: i64, n: usize) -> Result<Vec<i64>> {
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

    /// Every match of a query with a phrase the index has (`ix.paired`) beside other words or
    /// exclusions: the posts the index has with its phrases, checked for the rest in
    /// `posts_fts` (one by one, or by reading the matches of the rest when its rarest word
    /// costs less to read), and the newer posts as any query. `None` when the plan without
    /// the index looks cheaper: FTS5 then compares the phrase's position lists in the posts
    /// having all its stems until it has [`COUNT_CAP`] matches, which is quick when the
    /// phrase is common and so is the rest (more than [`PHRASE_CANDIDATES`] candidates are
    /// read only beside a word in [`PHRASE_READ_CANDIDATES`] posts or fewer, and then checked
    /// by reading its matches).
    /// `docs`: the posts each term is in. Costs: [`CHECK_POST_US`] and the next two.
    fn phrase_candidates(
        &self,
        query: &Query,
        ix: &IndexTerms,
        docs: &[i64],
        all: &str,
        scope: &Scope,
    ) -> Result<Option<Vec<i64>>> {
        let (n, upto) = (query.terms.len(), ix.upto);
        // The rest of the query: its words with a bit are checked by the bits, as are the
        // exclusions when they all have one; the other words in `posts_fts`.
        let bitless: Vec<usize> = (0..n).filter(|&i| !ix.paired[i] && ix.bits[i].is_none()).collect();
        let by_bits =
            Bits { required: ix.mask((0..n).filter(|&i| !ix.paired[i])), forbidden: ix.forbidden.unwrap_or(0) };
        let least_rest = bitless.iter().map(|&i| docs[i]).min();
        let least_phrase = (0..n).filter(|&i| ix.paired[i]).map(|i| docs[i]).min().unwrap_or(0);
        let paired = (0..n).filter(|&i| ix.paired[i]).map(|i| &query.terms[i]);
        let Some(pairs) = Query::pairs_expr(paired) else { return Ok(None) };
        let cap = match least_rest {
            Some(d) if d <= PHRASE_READ_CANDIDATES as i64 => PHRASE_READ_CANDIDATES,
            _ => PHRASE_CANDIDATES,
        };
        // In FTS5's own order, not `indexed_with_bits`' newest first: reading the pairs' lists
        // backwards made these queries a quarter slower at 1M
        // (`"обучение с подкреплением" отвертки`, `... собаке`: benches/README.md).
        let found: Vec<i64> = self
            .conn()
            .prepare_cached(&format!(
                "SELECT rowid FROM pairs_fts WHERE pairs_fts MATCH ?1{} AND pairs_fts.rowid <= {upto} LIMIT {}",
                scope.pairs_filter,
                cap + 1
            ))?
            .query_map([pairs], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if found.len() > cap {
            return Ok(None);
        }
        // Only what posts_fts checks costs (a bit costs next to nothing).
        let in_fts = !bitless.is_empty() || (ix.forbidden.is_none() && scope.excluded.is_some());
        let read = match candidates_plan(found.len(), least_phrase, least_rest, upto) {
            _ if !in_fts => false,
            // Beyond PHRASE_CANDIDATES, only reading the rest's matches is quick enough.
            Some(false) if found.len() > PHRASE_CANDIDATES => return Ok(None),
            Some(read) => read,
            None if self.searcher.inner.force_pairs => false,
            None => return Ok(None),
        };
        let mut check = self.archive.stem_bits(by_bits.required, by_bits.forbidden);
        let mut candidates = Vec::with_capacity(found.len());
        for id in found {
            if check.passes(id)? {
                candidates.push(id);
            }
        }
        // The exclusions in posts_fts unless the bits checked them.
        let wrap = |expr: &str| if ix.forbidden.is_some() { expr.to_string() } else { scope.wrap(expr) };
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
        match (Query::join(bitless.iter().map(|&i| &query.terms[i]), " AND "), &scope.excluded) {
            (Some(rest), _) => {
                let keep = if read { self.matching(&wrap(&rest), scope)? } else { among(&wrap(&rest))? };
                candidates.retain(|id| keep.contains(id));
            }
            (None, Some(not)) if ix.forbidden.is_none() => {
                let excluded = among(not)?;
                candidates.retain(|id| !excluded.contains(id));
            }
            (None, _) => {}
        }
        candidates.extend(self.beyond_index(all, scope, upto, i64::MAX as usize)?);
        Ok(Some(candidates))
    }

    /// Every post matching an expression within the scope's filters (for expressions with a rare word).
    fn matching(&self, expr: &str, scope: &Scope) -> Result<FxHashSet<i64>> {
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
    fn exists(&self, expr: &str, scope: &Scope) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached(&format!("SELECT 1 FROM posts_fts WHERE posts_fts MATCH ?1{} LIMIT 1", scope.filter))?
            .query_row(params![expr], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Matches of an expression within the scope, counted up to [`COUNT_CAP`].
    fn count(&self, expr: &str, scope: &Scope) -> Result<i64> {
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
    fn browse(&self, scope: &Scope, top: bool, offset: usize, limit: usize) -> Result<Vec<i64>> {
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

    fn browse_count(&self, scope: &Scope) -> Result<i64> {
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
    fn prefix_stems(&self, prefix: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT stem FROM (SELECT stem, docs FROM stems WHERE stem >= ?1 AND stem < ?1 || char(1114111) LIMIT 2000)
             ORDER BY docs DESC, stem LIMIT 5",
        )?;
        Ok(stmt.query_map([prefix], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
    }

    /// Is this (folded) form a word of the archive?
    fn is_word(&self, folded: &str) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM vocabulary WHERE word = ?1")?
            .query_row([folded], |_| Ok(()))
            .optional()?
            .is_some())
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

/// An extract of `body` of about `width` words around the densest run of
/// matched words (the title line is left out when the body has more).
pub fn snippet(body: &str, query: &Query, width: usize) -> Snippet {
    let width = width.max(1);
    let source = match body.split_once('\n') {
        Some((_, rest)) if !rest.trim().is_empty() => rest,
        _ => body,
    };
    // Stemmers only cut endings, so a word can match a term only if it begins with the
    // letter the term's stem (or, for a prefix, its typed form) begins with: only those
    // words are folded and stemmed. The rest of a post is only split into words.
    let firsts: Vec<char> = query
        .terms
        .iter()
        .flat_map(|t| {
            let stems = t.phrase.iter().chain(&t.all_of).chain(t.alternatives.iter().flatten());
            [t.stem.chars().next(), t.folded.chars().next()].into_iter().chain(stems.map(|s| s.chars().next()))
        })
        .flatten()
        .collect();
    let mut words: Vec<Range<usize>> = Vec::with_capacity(source.len() / 8 + 1);
    // Indexes (into `words`) of the matched words, ascending.
    let mut marks: Vec<usize> = Vec::new();
    // The query's CJK words, marked where they are inside a post's runs.
    let cjk: Vec<&str> = query.terms.iter().flat_map(query::Term::cjk_words).collect();
    let mut folded = String::new();
    for range in text::word_ranges(source) {
        let word = &source[range.clone()];
        if !cjk.is_empty() && text::is_cjk_word(word) {
            mark_in_run(range, source, &cjk, &mut words, &mut marks);
            continue;
        }
        if text::folded_first(word).is_some_and(|c| firsts.contains(&c)) {
            folded.clear();
            text::fold_into(word, &mut folded);
            if text::with_stem(&folded, |stem| query.matches(stem, &folded)) {
                marks.push(words.len());
            }
        }
        words.push(range);
    }
    if words.is_empty() {
        return Snippet(vec![Piece { text: source.chars().take(200).collect(), mark: false }]);
    }
    // The window of `width` words with the most marks (the first such): the marks
    // `marks[first..=last]` fit in one when they span fewer than `width` words. It starts
    // a few words before its first mark.
    let mut best = (0usize, 0usize); // (index into `marks` of the window's first mark, marks in it)
    let mut first = 0;
    for last in 0..marks.len() {
        while marks[last] - marks[first] >= width {
            first += 1;
        }
        if last - first + 1 > best.1 {
            best = (first, last - first + 1);
        }
    }
    let start = marks.get(best.0).map_or(0, |&m| m.saturating_sub(4));
    // Near the end of a text, use the room before the marks rather than leave it empty.
    let start = start.min(words.len().saturating_sub(width));
    extract(source, &words, &marks, start, width)
}

/// A CJK run of a snippet's source as its pieces: each of the query's CJK words found in it
/// (the longest at a place) a marked piece, the text between them a piece of its own.
fn mark_in_run(run: Range<usize>, source: &str, cjk: &[&str], words: &mut Vec<Range<usize>>, marks: &mut Vec<usize>) {
    let text = &source[run.clone()];
    let mut plain = 0;
    let mut at = 0;
    while at < text.len() {
        let found = cjk.iter().filter(|w| text[at..].starts_with(**w)).map(|w| w.len()).max();
        match found {
            Some(n) if n > 0 => {
                if plain < at {
                    words.push(run.start + plain..run.start + at);
                }
                marks.push(words.len());
                words.push(run.start + at..run.start + at + n);
                at += n;
                plain = at;
            }
            _ => at += text[at..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if plain < text.len() {
        words.push(run.start + plain..run.end);
    }
}

/// Words `start..start + width` of `source` (split as `words`) as pieces, the words at
/// `marks` (ascending indexes into `words`) marked, "…" where the text goes on.
fn extract(source: &str, words: &[Range<usize>], marks: &[usize], start: usize, width: usize) -> Snippet {
    let end = (start + width).min(words.len());
    let mut pieces = Vec::with_capacity(2 * (marks.len().min(width)) + 3);
    let mut push = |text: &str, mark: bool| {
        if text.is_empty() {
            return;
        }
        let text: std::borrow::Cow<'_, str> =
            if text.contains(['\n', '\r', '\t']) { text.replace(['\n', '\r', '\t'], " ").into() } else { text.into() };
        match pieces.last_mut() {
            Some(Piece { text: t, mark: false }) if !mark => t.push_str(&text),
            _ => pieces.push(Piece { text: text.into_owned(), mark }),
        }
    };
    if start > 0 {
        push("…", false);
    }
    let mut cursor = if start == 0 { 0 } else { words[start].start };
    let mut next_mark = marks.partition_point(|&m| m < start);
    for (i, r) in words.iter().enumerate().take(end).skip(start) {
        let marked = marks.get(next_mark) == Some(&i);
        if marked {
            next_mark += 1;
        }
        push(&source[cursor..r.start], false);
        push(&source[r.clone()], marked);
        cursor = r.end;
    }
    if end < words.len() {
        push("…", false);
    } else {
        push(source[cursor..].trim_end(), false);
    }
    Snippet(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first implementation of [`snippet`]'s marking and window (whole-post folding, a
    /// mark per word, a window slid word by word), kept to compare with; the extraction of
    /// the window is shared.
    fn reference_snippet(body: &str, query: &Query, width: usize) -> Snippet {
        let source = match body.split_once('\n') {
            Some((_, rest)) if !rest.trim().is_empty() => rest,
            _ => body,
        };
        let words: Vec<Range<usize>> = text::word_ranges(source).collect();
        if words.is_empty() {
            return Snippet(vec![Piece { text: source.chars().take(200).collect(), mark: false }]);
        }
        // Stemmers only cut endings, so a word can match a term only if it begins with the
        // letter the term's stem (or, for a prefix, its typed form) begins with: only those
        // words are stemmed.
        let firsts: Vec<char> =
            query.terms.iter().flat_map(|t| [t.stem.chars().next(), t.folded.chars().next()]).flatten().collect();
        let mut folded = String::new();
        let marked: Vec<bool> = words
            .iter()
            .map(|r| {
                let word = &source[r.clone()];
                let Some(c) = word.chars().next() else { return false };
                let (head, rest) = word.split_at(c.len_utf8());
                folded.clear();
                text::fold_into(head, &mut folded);
                if !folded.chars().next().is_some_and(|c| firsts.contains(&c)) {
                    return false;
                }
                text::fold_into(rest, &mut folded);
                query.matches(&text::stem_folded(&folded), &folded)
            })
            .collect();
        // The window with the most marks, starting a few words before its first mark.
        let mut best = (0usize, 0usize);
        let mut count = 0;
        for i in 0..words.len() {
            if marked[i] {
                count += 1;
            }
            if i >= width && marked[i - width] {
                count -= 1;
            }
            if count > best.1 {
                best = (i.saturating_sub(width - 1), count);
            }
        }
        let start = match (best.0..words.len()).find(|&i| marked[i]) {
            Some(first) => first.saturating_sub(4),
            None => 0,
        };
        // Near the end of a text, use the room before the marks rather than leave it empty.
        let start = start.min(words.len().saturating_sub(width));
        let marks: Vec<usize> = (0..words.len()).filter(|&i| marked[i]).collect();
        extract(source, &words, &marks, start, width)
    }

    /// The costs decide as measured (benches/README.md): at 1M `"обучение с подкреплением"
    /// робот` with the index post by post (ten times quicker than without it, and than
    /// reading `робот`'s 489k matches); `... собаке` by reading its 12,619 matches; at 100k
    /// `"глубокое обучение" модели` without the index (reading `модел`'s 92k costs more).
    #[test]
    fn candidates_plan_follows_the_measured_costs() {
        assert_eq!(candidates_plan(579, 480_077, Some(489_451), 1_000_000), Some(false));
        assert_eq!(candidates_plan(579, 480_077, Some(12_619), 1_000_000), Some(true));
        assert_eq!(candidates_plan(579, 480_077, None, 1_000_000), Some(false), "exclusions only");
        assert_eq!(candidates_plan(913, 33_946, Some(92_423), 100_000), None);
        assert_eq!(candidates_plan(59, 47_916, Some(48_716), 100_000), Some(false));
        assert_eq!(candidates_plan(0, 47_916, Some(48_716), 100_000), Some(false), "no candidate: nothing to check");
    }

    #[test]
    fn snippet_agrees_with_the_first_implementation() {
        let (_, posts) = crate::ingest::tme_dump::parse(crate::ingest::SEED).expect("the seed parses");
        let mut queries: Vec<String> = [
            "обучение с подкреплением",
            "робот",
            "роботу-собаке",
            "нейросети",
            "глубокое обучение",
            "медицина",
            "языковые модели",
            "gpt",
            "Google",
            "модел",
            "иссл",
            "ё",
            "1",
            "экзопланеты",
            "нет-такого-слова",
        ]
        .iter()
        .map(|q| q.to_string())
        .collect();
        // A word of each post, capitalised as in the post, and the last one as a prefix.
        queries.extend(posts.iter().filter_map(|p| text::word_ranges(&p.text).nth(7).map(|r| p.text[r].to_string())));
        queries.extend(posts.iter().filter_map(|p| text::word_ranges(&p.text).nth(30).map(|r| p.text[r].to_string())));
        let mut marked = 0;
        for q in &queries {
            let query = Query::parse(q);
            for p in &posts {
                for width in [1, 5, 28] {
                    let new = snippet(&p.text, &query, width);
                    assert_eq!(new, reference_snippet(&p.text, &query, width), "{q:?} in post {:?}", p.seq);
                    marked += new.0.iter().filter(|piece| piece.mark).count();
                }
            }
        }
        assert!(marked > 100, "the queries mark words ({marked})");
        for body in ["", "\n", "заголовок", "заголовок\n\n", "😀😀😀", "a\tb\r\nc"] {
            let query = Query::parse("b");
            assert_eq!(snippet(body, &query, 28), reference_snippet(body, &query, 28), "{body:?}");
        }
    }

    #[test]
    fn snippet_marks_cjk_words_inside_their_runs() {
        let body = "标题\n课程内容是高等数学，GPT模型也讲高等数学。";
        let marked = |q: &str| -> Vec<String> {
            snippet(body, &Query::parse(q), 28).0.into_iter().filter(|p| p.mark).map(|p| p.text).collect()
        };
        assert_eq!(marked("高等数学"), ["高等数学", "高等数学"]);
        assert_eq!(marked("模型"), ["模型"]);
        assert_eq!(marked("学"), ["学", "学"]);
        assert_eq!(snippet(body, &Query::parse("高等数学"), 28).plain(), "课程内容是高等数学，GPT模型也讲高等数学。");
        // Russian words beside them are marked as before.
        let ru = "Заголовок\nРоботы 机器人 учатся";
        let pieces = snippet(ru, &Query::parse("робот 机器人"), 28).0;
        let marks: Vec<&str> = pieces.iter().filter(|p| p.mark).map(|p| p.text.as_str()).collect();
        assert_eq!(marks, ["Роботы", "机器人"]);
    }

    #[test]
    fn snippet_marks_and_escapes_separately() {
        let body = "Заголовок\nПост про <script>alert(1)</script> и AT&T: роботу-собаке помогли.";
        let q = Query::parse("робота-собаку");
        let s = snippet(body, &q, 28);
        let escape = |out: &mut String, t: &str| {
            out.push_str(&t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"))
        };
        let html = s.render(escape, "<b>", "</b>");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("AT&amp;T"), "{html}");
        assert!(html.contains("<b>роботу</b>-<b>собаке</b>"), "{html}");
        assert!(!html.contains("Заголовок"));
        assert!(html.starts_with("Пост про"), "{html}");
    }
}
