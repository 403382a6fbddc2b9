//! Search over the archive: stemmed FTS5 with bm25 (title above body),
//! all-words first and any-word as a fallback, snippets with the matched
//! words marked, and "did you mean" from the archive's own vocabulary.

pub mod query;
#[cfg(test)]
mod store_tests;
pub(crate) mod suggest;

use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

pub use query::Query;

use crate::model::Post;
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
    RankedWithin { rank: String, members: HashSet<i64> },
    /// Newest matches first (every word is common).
    Newest(String),
}
/// Totals are counted up to this; beyond it the count is shown as "N+".
const COUNT_CAP: i64 = 1_000;

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
}

impl SearchPage {
    fn empty() -> Self {
        SearchPage { hits: Vec::new(), total: 0, total_capped: false, mode: Mode::All, suggestion: None }
    }
}

/// Searches an archive. Holds what searches share across the store's connections: the
/// threshold of common terms, and the vocabulary suggestions read (one copy for every
/// thread, read again when an import changed it). Cheap to clone.
#[derive(Clone)]
pub struct Searcher {
    inner: Arc<Shared>,
}

struct Shared {
    common_docs: i64,
    vocabulary: Mutex<Option<Arc<suggest::Vocabulary>>>,
}

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
        Searcher { inner: Arc::new(Shared { common_docs: posts, vocabulary: Mutex::new(None) }) }
    }

    /// Searches the archive; `offset`/`limit` select the page.
    pub fn search(&self, archive: &Archive, input: &str, offset: usize, limit: usize) -> Result<SearchPage> {
        Search { archive, searcher: self }.run(input, offset, limit)
    }

    /// A query of real archive words close to one that found nothing, if it finds something.
    pub fn suggest(&self, archive: &Archive, query: &Query) -> Result<Option<String>> {
        Search { archive, searcher: self }.suggest(query)
    }

    /// The vocabulary as of `generation`, read from `archive` when the copy is older; one
    /// thread reads it while the others wait for it.
    fn vocabulary(&self, archive: &Archive, generation: i64) -> Result<Arc<suggest::Vocabulary>> {
        let mut cached = self.inner.vocabulary.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cached.as_ref().filter(|v| v.generation == generation) {
            return Ok(v.clone());
        }
        let fresh = Arc::new(suggest::Vocabulary::load(archive, generation)?);
        *cached = Some(fresh.clone());
        Ok(fresh)
    }
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

    fn run(&self, input: &str, offset: usize, limit: usize) -> Result<SearchPage> {
        // One snapshot for the count and the page, and one read lock instead of one per statement.
        let _snapshot = self.archive.snapshot()?;
        let mut query = Query::parse(input);
        // The last word is a prefix only while it is not a word yet (being typed):
        // a prefix of a common stem is costly, and a whole word needs none.
        if let Some(last) = query.terms.last_mut()
            && last.prefix
        {
            if self.is_word(&last.folded)? {
                last.prefix = false;
            } else {
                last.expansions = self.prefix_stems(&last.stem)?;
            }
        }
        let Some(all) = query.all_expr() else {
            return Ok(SearchPage::empty());
        };
        // Posts per term (a prefix: the posts of its expansions).
        let docs: Vec<i64> = query
            .terms
            .iter()
            .map(|t| {
                if t.prefix {
                    t.expansions.iter().map(|s| self.archive.doc_count(s)).sum::<Result<i64>>()
                } else {
                    self.archive.doc_count(&t.stem)
                }
            })
            .collect::<Result<_>>()?;
        let common = |i: usize| docs[i] > self.searcher.inner.common_docs;
        let rare: Vec<&query::Term> =
            query.terms.iter().enumerate().filter(|(i, _)| !common(*i)).map(|(_, t)| t).collect();

        let mut mode = Mode::All;
        let mut plan = match Query::join(rare.iter().copied(), " AND ") {
            // No rare word: bm25 would score most of the archive, and weakly; newest first.
            None => Plan::Newest(all.clone()),
            Some(rare_all) if rare.len() == query.terms.len() => Plan::Ranked(rare_all),
            // Rank by the rare words (cheap: few posts), keep the posts that have all words.
            // Those are no more than the rarest word has: read once, for the count too (each
            // read walks the common words' long lists).
            Some(rare_all) => Plan::RankedWithin { rank: rare_all, members: self.matching(&all)? },
        };
        let mut total = match &plan {
            Plan::RankedWithin { members, .. } => (members.len() as i64).min(COUNT_CAP),
            _ => self.count(&all)?,
        };
        if total == 0 && query.terms.len() > 1 {
            // Any word: a very common word would match nearly everything, so only the rare ones count.
            let any = if rare.is_empty() { query.any_expr() } else { Query::join(rare.iter().copied(), " OR ") };
            if let Some(any) = any {
                let any_total = self.count(&any)?;
                if any_total > 0 {
                    mode = Mode::Any;
                    total = any_total;
                    plan = if rare.is_empty() { Plan::Newest(any) } else { Plan::Ranked(any) };
                }
            }
        }
        if total == 0 {
            let suggestion = self.suggest(&query)?;
            return Ok(SearchPage { suggestion, ..SearchPage::empty() });
        }
        let ranked = self.rank(&plan, offset, limit)?;
        let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
        let hits = self
            .archive
            .posts_by_id(&ids)?
            .into_iter()
            .map(|post| {
                let snippet = snippet(&post.body, &query, 28);
                // A page is a handful of hits: a scan finds a post's score.
                let score = ranked.iter().find(|(id, _)| *id == post.id).map_or(0.0, |(_, s)| *s);
                SearchHit { post, score, snippet }
            })
            .collect();
        Ok(SearchPage { hits, total: total as usize, total_capped: total >= COUNT_CAP, mode, suggestion: None })
    }

    /// One page of (post id, score), best first. LIMIT and OFFSET are written into the
    /// SQL, not bound: SQLite passes them to FTS5 and re-prepares a statement each time
    /// such a bound value is bound again (figures: benches/README.md).
    fn rank(&self, plan: &Plan, offset: usize, limit: usize) -> Result<Vec<(i64, f64)>> {
        let bm25 =
            format!("SELECT rowid, {BM25} AS score FROM posts_fts WHERE posts_fts MATCH ?1 ORDER BY score, rowid DESC");
        Ok(match plan {
            Plan::Ranked(expr) => self
                .conn()
                .prepare_cached(&format!("{bm25} LIMIT {limit} OFFSET {offset}"))?
                .query_map(params![expr], |r| Ok((r.get(0)?, -r.get::<_, f64>(1)?)))?
                .collect::<rusqlite::Result<_>>()?,
            Plan::Newest(expr) => self
                .conn()
                .prepare_cached(&format!(
                    "SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1 ORDER BY rowid DESC LIMIT {limit} OFFSET {offset}"
                ))?
                .query_map(params![expr], |r| Ok((r.get(0)?, 0.0)))?
                .collect::<rusqlite::Result<_>>()?,
            Plan::RankedWithin { rank, members } => {
                let mut stmt = self.conn().prepare_cached(&bm25)?;
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

    /// Every post matching an expression (for expressions with a rare word).
    fn matching(&self, expr: &str) -> Result<HashSet<i64>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1")?
            .query_map([expr], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Matches of an expression, counted up to [`COUNT_CAP`].
    fn count(&self, expr: &str) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT count(*) FROM (SELECT 1 FROM posts_fts WHERE posts_fts MATCH ?1 LIMIT {COUNT_CAP})"
            ))?
            .query_row(params![expr], |r| r.get(0))?)
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
    let firsts: Vec<char> =
        query.terms.iter().flat_map(|t| [t.stem.chars().next(), t.folded.chars().next()]).flatten().collect();
    let mut words: Vec<Range<usize>> = Vec::with_capacity(source.len() / 8 + 1);
    // Indexes (into `words`) of the matched words, ascending.
    let mut marks: Vec<usize> = Vec::new();
    let mut folded = String::new();
    for range in text::word_ranges(source) {
        let word = &source[range.clone()];
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
