//! A user's query as search terms, and the FTS5 expressions built from them.
//! Every term is a quoted string of letters and digits, so nothing a user
//! types can reach FTS5 as syntax.

use crate::text;

/// Words too common to narrow a search; dropped when other words remain.
const STOPWORDS: &[&str] = &[
    // Russian
    "а",
    "без",
    "бы",
    "в",
    "во",
    "вот",
    "все",
    "всё",
    "вы",
    "да",
    "для",
    "до",
    "его",
    "ее",
    "её",
    "если",
    "есть",
    "же",
    "за",
    "и",
    "из",
    "или",
    "их",
    "к",
    "как",
    "ко",
    "когда",
    "кто",
    "ли",
    "мы",
    "на",
    "над",
    "не",
    "него",
    "нет",
    "ни",
    "но",
    "о",
    "об",
    "он",
    "она",
    "они",
    "оно",
    "от",
    "по",
    "под",
    "при",
    "про",
    "с",
    "со",
    "так",
    "также",
    "там",
    "то",
    "того",
    "тоже",
    "только",
    "у",
    "уже",
    "чем",
    "что",
    "чтобы",
    "это",
    "этот",
    "эта",
    "эти",
    "я",
    // English
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "but",
    "by",
    "for",
    "from",
    "how",
    "in",
    "into",
    "is",
    "it",
    "its",
    "of",
    "on",
    "or",
    "that",
    "the",
    "this",
    "to",
    "was",
    "what",
    "with",
];

pub fn is_stopword(folded: &str) -> bool {
    STOPWORDS.contains(&folded)
}

/// One word of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// As typed, lower-cased, `ё` folded.
    pub folded: String,
    pub stem: String,
    /// The last word of a query also matches as a prefix (typing in inline mode).
    pub prefix: bool,
    /// For a prefix: the archive's most frequent stems it begins, searched instead of
    /// `stem*` (FTS5 merges every expansion of a prefix in memory; a few ORed terms
    /// merge lazily). Empty: `stem*` as it is.
    pub expansions: Vec<String>,
    /// For a phrase (`"робота собаку"`): its stems in order, matched adjacent; empty for a word.
    pub phrase: Vec<String>,
    /// Several words of the query taken as one glossary term: all of these stems, anywhere.
    pub all_of: Vec<String>,
    /// Equivalent terms from the glossary (each a stem or a phrase of stems), matched too.
    pub alternatives: Vec<Vec<String>>,
    /// A single CJK character: matched as `"X"*`, every bigram it begins and the lone
    /// character a run ends with (`text::grams`), so any post with it anywhere in a run.
    pub cjk_char: bool,
}

impl Term {
    /// A word, matched whole.
    pub fn word(folded: String, stem: String) -> Term {
        Term {
            folded,
            stem,
            prefix: false,
            expansions: Vec::new(),
            phrase: Vec::new(),
            all_of: Vec::new(),
            alternatives: Vec::new(),
            cjk_char: false,
        }
    }

    /// A CJK word (a run of `text::is_cjk` letters) as typed: the phrase of its bigrams
    /// (adjacent, as in the post: `高等数学` is `"高等 等数 数学"`), one bigram, or one
    /// character. Never a prefix: an input method hands over whole words.
    pub fn cjk(word: &str) -> Term {
        let grams: Vec<String> = text::query_grams(word).into_iter().map(str::to_string).collect();
        match grams.as_slice() {
            [one] if one.chars().nth(1).is_none() => Term { cjk_char: true, ..Term::word(word.into(), one.clone()) },
            [one] => Term::word(word.into(), one.clone()),
            _ => Term::phrase(word.into(), grams),
        }
    }

    /// The CJK words of this term as typed (for snippets: they are marked inside their runs).
    pub fn cjk_words(&self) -> impl Iterator<Item = &str> {
        self.folded.split(' ').filter(|w| text::is_cjk_word(w))
    }

    /// A phrase of several stems; its rarest-looking stem stands for it where one stem is needed.
    pub fn phrase(folded: String, stems: Vec<String>) -> Term {
        let stem = stems.iter().max_by_key(|s| s.chars().count()).cloned().unwrap_or_default();
        Term { phrase: stems, ..Term::word(folded, stem) }
    }
}

/// The searchable words of a query; empty when it has none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub terms: Vec<Term>,
}

/// At most this many words are searched: a pasted essay must not become a giant query.
pub(crate) const MAX_TERMS: usize = 16;

impl Query {
    pub fn parse(input: &str) -> Query {
        let mut terms: Vec<Term> = Vec::new();
        for range in text::word_ranges(input) {
            let word = &input[range];
            if text::is_cjk_word(word) {
                let t = Term::cjk(word);
                if !terms.iter().any(|q| q.stem == t.stem && q.phrase == t.phrase && q.cjk_char == t.cjk_char) {
                    terms.push(t);
                }
                continue;
            }
            let folded = text::fold(word);
            let stem = text::stem_folded(&folded).into_owned();
            if !terms.iter().any(|t| t.stem == stem && t.phrase.is_empty()) {
                terms.push(Term::word(folded, stem));
            }
        }
        if terms.iter().any(|t| !is_stopword(&t.folded)) {
            terms.retain(|t| !is_stopword(&t.folded));
        }
        terms.truncate(MAX_TERMS);
        // A prefix only helps when the input ends inside a word (still being typed).
        let ends_in_word = input.chars().last().is_some_and(text::is_word_char);
        if let Some(last) = terms.last_mut() {
            last.prefix = ends_in_word && last.folded.chars().count() >= 3 && !text::is_cjk_word(&last.folded);
        }
        Query { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// A term as FTS5 syntax: always a quoted string; a prefix is `"stem"*`
    /// (stemming only cuts endings, so the stem of a half-typed word begins
    /// the stems of the words it may become).
    pub fn term_expr(t: &Term) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let exact = if !t.phrase.is_empty() {
            quote(&t.phrase.join(" "))
        } else if !t.all_of.is_empty() {
            format!("({})", t.all_of.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" AND "))
        } else {
            match (t.prefix, t.expansions.as_slice()) {
                _ if t.cjk_char => format!("{}*", quote(&t.stem)),
                (false, _) => quote(&t.stem),
                (true, []) => format!("{}*", quote(&t.stem)),
                (true, stems) => format!("({})", stems.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" OR ")),
            }
        };
        if t.alternatives.is_empty() {
            return exact;
        }
        let others: Vec<String> = t.alternatives.iter().map(|a| quote(&a.join(" "))).collect();
        format!("({exact} OR {})", others.join(" OR "))
    }

    /// Terms joined by an operator; `None` when there are none.
    pub fn join<'a>(terms: impl IntoIterator<Item = &'a Term>, op: &str) -> Option<String> {
        let parts: Vec<String> = terms.into_iter().map(Self::term_expr).collect();
        (!parts.is_empty()).then(|| parts.join(op))
    }

    /// Every word must match.
    pub fn all_expr(&self) -> Option<String> {
        Self::join(&self.terms, " AND ")
    }

    /// Can the phrase index (`pairs_fts`, see src/store/phrases/) match this term? A phrase
    /// of several stems, nothing from the glossary (whether its stems are paired is the
    /// store's to say).
    pub fn pairable(t: &Term) -> bool {
        t.phrase.len() >= 2 && !t.prefix && t.all_of.is_empty() && t.alternatives.is_empty()
    }

    /// Can a bit of `stem_bitmaps` (src/store/phrases/) match this term? A whole word, nothing
    /// from the glossary (whether its stem has a bit is the store's to say).
    pub fn whole_word(t: &Term) -> bool {
        t.phrase.is_empty() && !t.prefix && !t.cjk_char && t.all_of.is_empty() && t.alternatives.is_empty()
    }

    /// Any word may match (the fallback when all words find nothing).
    pub fn any_expr(&self) -> Option<String> {
        if self.terms.len() > 1 { Self::join(&self.terms, " OR ") } else { None }
    }

    /// Does a stem of a post's word match this query (for snippets)?
    pub fn matches(&self, stem: &str, folded: &str) -> bool {
        self.terms.iter().any(|t| {
            if t.alternatives.iter().flatten().any(|s| s == stem) || t.all_of.iter().any(|s| s == stem) {
                return true;
            }
            if !t.phrase.is_empty() {
                return t.phrase.iter().any(|s| s == stem);
            }
            t.stem == stem || ((t.prefix || t.cjk_char) && (stem.starts_with(&t.stem) || folded.starts_with(&t.folded)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_never_leaks() {
        for input in
            ["\"", "*", "^", ":", "AND OR NOT", "NEAR(a b)", "(", "); DROP TABLE posts;--", "😀", "-", "\"a\" OR b*"]
        {
            let q = Query::parse(input);
            if let Some(expr) = q.all_expr() {
                // Only quoted terms, operators we wrote, parentheses we wrote and '*' after a closing quote.
                let stripped: String = q.terms.iter().fold(expr.clone(), |e, t| {
                    e.replace(&format!("\"{}\"", t.stem), "").replace(&format!("\"{}\"", t.folded), "")
                });
                assert!(stripped.chars().all(|c| " ()*ANDOR".contains(c)), "{input:?} -> {expr}");
            }
        }
        assert!(Query::parse("*** !!! 😀").is_empty());
    }

    #[test]
    fn stopwords_dropped_only_when_others_remain() {
        let q = Query::parse("обучение с подкреплением");
        assert_eq!(q.terms.len(), 2);
        let q = Query::parse("и в");
        assert_eq!(q.terms.len(), 2);
    }

    #[test]
    fn a_query_with_words_is_not_empty() {
        assert!(!Query::parse("роботы").is_empty());
        assert!(Query::default().is_empty());
    }

    #[test]
    fn any_expr_ors_the_words_and_only_when_there_are_several() {
        // A trailing space: no prefix, every term a plain quoted stem.
        let q = Query::parse("роботы учатся ");
        let [a, b] = &q.terms[..] else { panic!("{q:?}") };
        assert_eq!(q.any_expr(), Some(format!("\"{}\" OR \"{}\"", a.stem, b.stem)));
        assert_eq!(q.all_expr(), Some(format!("\"{}\" AND \"{}\"", a.stem, b.stem)));
        // One word: the fallback would be the same search again.
        assert_eq!(Query::parse("роботы ").any_expr(), None);
        assert_eq!(Query::default().any_expr(), None);
    }

    #[test]
    fn matches_a_stem_and_a_prefix_only_while_typed() {
        let term = |folded: &str, stem: &str, prefix: bool| Term {
            folded: folded.into(),
            stem: stem.into(),
            prefix,
            ..Term::word(folded.into(), stem.into())
        };
        let whole = Query { terms: vec![term("коты", "кот", false)] };
        assert!(whole.matches("кот", "кота"));
        assert!(!whole.matches("котлет", "котлета"), "a finished word is not a prefix");
        assert!(!whole.matches("пёс", "пса"));
        let typed = Query { terms: vec![term("учи", "уч", true)] };
        assert!(typed.matches("учител", "учитель"));
        // Either the stem or the word as typed may begin the post's word.
        assert!(typed.matches("учен", "xyz"));
        assert!(typed.matches("xyz", "учимся"));
        assert!(!typed.matches("xyz", "xyz"));
    }

    #[test]
    fn a_cjk_word_is_the_phrase_of_its_bigrams() {
        let q = Query::parse("高等数学");
        let [t] = &q.terms[..] else { panic!("{q:?}") };
        assert_eq!(t.phrase, ["高等", "等数", "数学"]);
        assert!(!t.prefix, "a CJK word is never a prefix");
        assert_eq!(q.all_expr().as_deref(), Some("\"高等 等数 数学\""));
        // One bigram: a word; one character: the prefix of the tokens it begins.
        assert_eq!(Query::parse("开源").all_expr().as_deref(), Some("\"开源\""));
        assert_eq!(Query::parse("好").all_expr().as_deref(), Some("\"好\"*"));
        // Mixed with Latin: two words, each searched as its script is.
        let q = Query::parse("GPT模型 ");
        assert_eq!(q.all_expr().as_deref(), Some("\"gpt\" AND \"模型\""));
        let q = Query::parse("ラーメン 東京");
        assert_eq!(q.all_expr().as_deref(), Some("\"ラー ーメ メン\" AND \"東京\""));
        assert!(!Query::whole_word(&Query::parse("好").terms[0]));
    }

    #[test]
    fn last_word_is_a_prefix_while_typed() {
        assert!(Query::parse("экзоплан").terms[0].prefix);
        assert!(!Query::parse("экзоплан ").terms[0].prefix);
    }
}
