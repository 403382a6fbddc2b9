//! Snippets: a short extract of a post around the words a query matched, kept as pieces
//! (text, and whether it is a matched word) so that each output escapes the text and adds
//! its own marks: Telegram HTML in src/render/post.rs, plain text in the chat's inline
//! answers, the terminal's marks in the CLI.

use std::ops::Range;

use serde::Serialize;

use super::query::{self, Query};
use crate::text;

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
            if p.mark {
                out.push_str(open);
                escape(&mut out, &p.text);
                out.push_str(close);
            } else {
                escape(&mut out, &p.text);
            }
        }
        out
    }

    pub fn plain(&self) -> String {
        self.render(String::push_str, "", "")
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
