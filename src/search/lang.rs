//! The query language: words, `"phrases"`, `-exclusions`, `#hashtags` and the operators
//! `тема:`/`topic:`, `с:`/`from:`, `до:`/`to:`, `есть:`/`has:`, `порядок:`/`sort:`.
//! Parsing never fails: what it cannot read becomes a [`Problem`], shown to the reader
//! with an example, and the rest of the query is still searched.

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::query::{MAX_TERMS, Query, Term};
use crate::i18n::{Lang, fill};
use crate::text;
use crate::topics::{Taxonomy, Topic};

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Relevance,
    Newest,
    /// The most reactions first (`порядок:лучшие`, `sort:top`).
    Top,
}

/// A kind of media a post may carry (`has:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Photo,
    Video,
    File,
}

impl MediaKind {
    /// The kind's name as stored in `post_media.kind` (once posts carry media).
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Photo => "photo",
            MediaKind::Video => "video",
            MediaKind::File => "file",
        }
    }
}

/// How precisely a date bound was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Year,
    Month,
    Day,
}

/// One end of a date range, as written (`2021`, `2021-10`, `2021-10-12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateBound {
    date: NaiveDate,
    precision: Precision,
    /// Unix seconds: the bound's first moment (`from:`) or the first moment after it (`to:`),
    /// in the reader's zone.
    pub at: i64,
}

/// What the reader typed that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The piece of the query, as typed.
    pub token: String,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    BadDate,
    EmptyRange,
    NoTopic,
    BadMedia,
    BadSort,
    EmptyPhrase,
    LoneMinus,
    /// An operator with nothing after its colon.
    EmptyValue,
    /// `-тема:x` and the like: only words and phrases can be excluded.
    ExcludedOperator,
    /// Only exclusions and nothing to search within.
    OnlyExclusions,
}

/// A query as understood.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The query as typed.
    pub input: String,
    /// The words and phrases a post must have (hashtags' words included).
    pub query: Query,
    /// Words and phrases a post must not have.
    pub excluded: Vec<Term>,
    /// Hashtags (folded, without `#`) a post's entities must carry.
    pub hashtags: Vec<String>,
    pub topic: Option<Topic>,
    pub from: Option<DateBound>,
    pub to: Option<DateBound>,
    pub has: Option<MediaKind>,
    pub sort: Sort,
    pub problems: Vec<Problem>,
    /// The pieces as typed, for the "understood" line.
    pub(super) words_shown: Vec<String>,
    pub(super) phrases_shown: Vec<String>,
    pub(super) excluded_shown: Vec<String>,
    /// How many of `query.terms` are the plain words (the rest: phrases, hashtags).
    pub(super) plain_terms: usize,
}

/// The operators, each with its names in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Topic,
    From,
    To,
    Has,
    Sort,
}

fn operator(name: &str) -> Option<Op> {
    Some(match text::fold(name).as_str() {
        "тема" | "topic" => Op::Topic,
        "с" | "from" | "после" | "since" => Op::From,
        "до" | "to" | "по" | "until" => Op::To,
        "есть" | "has" => Op::Has,
        "порядок" | "sort" => Op::Sort,
        _ => return None,
    })
}

fn is_open_quote(c: char) -> bool {
    matches!(c, '"' | '«' | '“' | '„')
}

fn is_close_quote(c: char) -> bool {
    matches!(c, '"' | '»' | '”' | '“')
}

/// A piece of the input: a phrase in quotes, or a run of non-space characters (an
/// operator's quoted value included).
#[derive(Debug)]
struct Token {
    negated: bool,
    quoted: bool,
    text: String,
    /// As typed, with the minus and quotes.
    raw: String,
}

fn tokens(input: &str) -> Vec<Token> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let negated = chars[i] == '-' && chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
        if negated {
            i += 1;
        }
        let (quoted, text) = if is_open_quote(chars[i]) {
            i += 1;
            let from = i;
            while i < chars.len() && !is_close_quote(chars[i]) {
                i += 1;
            }
            let text: String = chars[from..i].iter().collect();
            i = (i + 1).min(chars.len());
            (true, text)
        } else {
            let from = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                // An operator's value in quotes: `тема:"компьютерное зрение"`.
                if chars[i] == ':' && chars.get(i + 1).is_some_and(|&c| is_open_quote(c)) {
                    i += 2;
                    while i < chars.len() && !is_close_quote(chars[i]) {
                        i += 1;
                    }
                }
                i += 1;
            }
            i = i.min(chars.len());
            (false, chars[from..i].iter().collect())
        };
        out.push(Token { negated, quoted, text, raw: chars[start..i].iter().collect() });
    }
    out
}

/// The words of a piece as one term: a word, or a phrase of several.
fn term_of(piece: &str) -> Option<Term> {
    let mut ranges = text::word_ranges(piece);
    if let (Some(only), None) = (ranges.next(), ranges.next())
        && text::is_cjk_word(&piece[only.clone()])
    {
        return Some(Term::cjk(&piece[only]));
    }
    // A CJK run inside a phrase is its bigrams, and its lone last character when the phrase
    // goes on after it (the index has it there).
    let words = text::phrase_words(piece);
    match words.len() {
        0 => None,
        1 => {
            let w = words.into_iter().next()?;
            Some(Term::word(w.folded, w.stem))
        }
        _ => {
            // As typed (a CJK run whole, for its snippets), not as its tokens.
            let folded = text::word_ranges(piece).map(|r| text::fold(&piece[r])).collect::<Vec<_>>().join(" ");
            Some(Term::phrase(folded, words.into_iter().map(|w| w.stem).collect()))
        }
    }
}

/// A date as `2021`, `2021-10` or `2021-10-12` (also with `.` or `/`).
fn date_of(value: &str) -> Option<(NaiveDate, Precision)> {
    let parts: Vec<&str> = value.split(['-', '.', '/']).collect();
    let num = |s: &str, len: std::ops::RangeInclusive<usize>| -> Option<u32> {
        (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    let year = num(parts.first()?, 4..=4)? as i32;
    match parts.len() {
        1 => Some((NaiveDate::from_ymd_opt(year, 1, 1)?, Precision::Year)),
        2 => Some((NaiveDate::from_ymd_opt(year, num(parts[1], 1..=2)?, 1)?, Precision::Month)),
        3 => Some((NaiveDate::from_ymd_opt(year, num(parts[1], 1..=2)?, num(parts[2], 1..=2)?)?, Precision::Day)),
        _ => None,
    }
}

/// The first moment of a day in a zone (a day whose midnight a clock change skips starts later).
fn start_of(date: NaiveDate, tz: Tz) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&midnight).earliest() {
        Some(t) => t.timestamp(),
        None => (1..=3)
            .find_map(|h| tz.from_local_datetime(&(midnight + chrono::Duration::hours(h))).earliest())
            .map_or_else(|| midnight.and_utc().timestamp(), |t| t.timestamp()),
    }
}

/// The day after the period a bound names.
fn after(date: NaiveDate, precision: Precision) -> Option<NaiveDate> {
    match precision {
        Precision::Year => NaiveDate::from_ymd_opt(date.year() + 1, 1, 1),
        Precision::Month if date.month() == 12 => NaiveDate::from_ymd_opt(date.year() + 1, 1, 1),
        Precision::Month => NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1),
        Precision::Day => date.succ_opt(),
    }
}

fn media_of(value: &str) -> Option<MediaKind> {
    Some(match text::fold(value).as_str() {
        "фото" | "фотография" | "фотографии" | "картинка" | "картинки" | "photo" | "photos" | "image" | "images" => {
            MediaKind::Photo
        }
        "видео" | "video" | "videos" => MediaKind::Video,
        "файл" | "файлы" | "документ" | "документы" | "file" | "files" | "document" | "documents" => {
            MediaKind::File
        }
        _ => return None,
    })
}

fn sort_of(value: &str) -> Option<Sort> {
    Some(match text::fold(value).as_str() {
        "новые" | "новое" | "дата" | "new" | "newest" | "date" => Sort::Newest,
        "лучшие" | "популярные" | "реакции" | "top" | "best" | "popular" | "reactions" => {
            Sort::Top
        }
        "релевантность" | "relevance" => Sort::Relevance,
        _ => return None,
    })
}

/// A hashtag's text as Telegram delimits it: letters, digits and `_` after `#`.
pub fn hashtag_of(token: &str) -> Option<&str> {
    let tag = token.strip_prefix('#')?;
    let end = tag.find(|c: char| !(text::is_word_char(c) || c == '_')).unwrap_or(tag.len());
    let tag = &tag[..end];
    tag.chars().any(text::is_word_char).then_some(tag)
}

/// The query with its order set to `sort`: sort operators removed, and `порядок:новые` /
/// `sort:new` added for newest first (what the sort button stores and searches).
pub fn with_sort(input: &str, sort: Sort, lang: Lang) -> String {
    let mut kept: Vec<String> = tokens(input)
        .into_iter()
        .filter(|t| {
            t.quoted || t.negated || !t.text.split_once(':').is_some_and(|(name, _)| operator(name) == Some(Op::Sort))
        })
        .map(|t| t.raw)
        .collect();
    match (sort, lang) {
        (Sort::Relevance, _) => {}
        (Sort::Newest, Lang::Ru) => kept.push("порядок:новые".to_string()),
        (Sort::Newest, Lang::En) => kept.push("sort:new".to_string()),
        (Sort::Top, Lang::Ru) => kept.push("порядок:лучшие".to_string()),
        (Sort::Top, Lang::En) => kept.push("sort:top".to_string()),
    }
    kept.join(" ")
}

impl Parsed {
    /// Parses a query; topics are looked up in `taxonomy`, dates read in `tz`.
    pub fn parse(input: &str, taxonomy: &Taxonomy, tz: Tz) -> Parsed {
        let mut p = Parsed { input: input.to_string(), ..Default::default() };
        let mut plain: Vec<String> = Vec::new();
        let mut extra: Vec<Term> = Vec::new();
        let toks = tokens(input);
        // The last word may be a prefix only when the input ends inside a plain word.
        let mut last_plain = false;
        for tok in &toks {
            last_plain = false;
            let problem = |kind| Problem { token: tok.raw.clone(), kind };
            if tok.quoted {
                match term_of(&tok.text) {
                    None => p.problems.push(problem(ProblemKind::EmptyPhrase)),
                    Some(t) if tok.negated => {
                        p.excluded.push(t);
                        p.excluded_shown.push(format!("−«{}»", tok.text.trim()));
                    }
                    Some(t) => {
                        extra.push(t);
                        p.phrases_shown.push(format!("«{}»", tok.text.trim()));
                    }
                }
                continue;
            }
            if tok.text == "-" || (tok.negated && tok.text.chars().all(|c| c == '-')) || tok.raw == "-" {
                p.problems.push(problem(ProblemKind::LoneMinus));
                continue;
            }
            if let Some((name, value)) = tok.text.split_once(':')
                && let Some(op) = operator(name)
            {
                if tok.negated {
                    p.problems.push(problem(ProblemKind::ExcludedOperator));
                    continue;
                }
                let value = value.trim_matches(|c| is_open_quote(c) || is_close_quote(c)).trim();
                if value.is_empty() {
                    p.problems.push(problem(ProblemKind::EmptyValue));
                    continue;
                }
                match op {
                    Op::Topic => match taxonomy.find(value) {
                        Some(t) => p.topic = Some(t.clone()),
                        None => p.problems.push(problem(ProblemKind::NoTopic)),
                    },
                    Op::From | Op::To => match date_of(value) {
                        Some((date, precision)) => {
                            let at = if op == Op::From {
                                Some(start_of(date, tz))
                            } else {
                                after(date, precision).map(|d| start_of(d, tz))
                            };
                            match at {
                                Some(at) => {
                                    let bound = DateBound { date, precision, at };
                                    if op == Op::From { p.from = Some(bound) } else { p.to = Some(bound) }
                                }
                                None => p.problems.push(problem(ProblemKind::BadDate)),
                            }
                        }
                        None => p.problems.push(problem(ProblemKind::BadDate)),
                    },
                    Op::Has => match media_of(value) {
                        Some(kind) => p.has = Some(kind),
                        None => p.problems.push(problem(ProblemKind::BadMedia)),
                    },
                    Op::Sort => match sort_of(value) {
                        Some(sort) => p.sort = sort,
                        None => p.problems.push(problem(ProblemKind::BadSort)),
                    },
                }
                continue;
            }
            if !tok.negated
                && let Some(tag) = hashtag_of(&tok.text)
            {
                if let Some(t) = term_of(tag) {
                    let folded = text::fold(tag);
                    if !p.hashtags.contains(&folded) {
                        p.hashtags.push(folded);
                        extra.push(t);
                    }
                }
                continue;
            }
            if tok.negated {
                match term_of(&tok.text) {
                    Some(t) => {
                        p.excluded.push(t);
                        p.excluded_shown.push(format!("−{}", tok.text));
                    }
                    None => p.problems.push(problem(ProblemKind::LoneMinus)),
                }
                continue;
            }
            if !text::words(&tok.text).is_empty() {
                p.words_shown.push(tok.text.clone());
            }
            plain.push(tok.text.clone());
            last_plain = true;
        }
        if let (Some(from), Some(to)) = (&p.from, &p.to)
            && from.at >= to.at
        {
            let token = toks.iter().rev().find(|t| t.text.contains(':')).map(|t| t.raw.clone()).unwrap_or_default();
            p.problems.push(Problem { token, kind: ProblemKind::EmptyRange });
            p.from = None;
            p.to = None;
        }
        let mut query = Query::parse(&plain.join(" "));
        if !(last_plain && input.chars().last().is_some_and(text::is_word_char))
            && let Some(last) = query.terms.last_mut()
        {
            last.prefix = false;
        }
        p.plain_terms = query.terms.len();
        for t in extra {
            if !query.terms.iter().any(|q| q.stem == t.stem && q.phrase == t.phrase) {
                query.terms.push(t);
            }
        }
        query.terms.truncate(MAX_TERMS);
        p.excluded.truncate(MAX_TERMS);
        p.query = query;
        if p.query.is_empty() && !p.excluded.is_empty() && !p.has_filters() {
            p.problems.push(Problem {
                token: p.excluded_shown.join(" ").replace('−', "-"),
                kind: ProblemKind::OnlyExclusions,
            });
        }
        p
    }

    /// Runs of the plain words found in the glossary become one term matching the set's
    /// other members too (`reinforcement learning` also matches `обучение с подкреплением`).
    /// Whether any was found.
    pub fn expand(&mut self, glossary: &super::glossary::Glossary) -> bool {
        let plain = self.plain_terms.min(self.query.terms.len());
        let terms = std::mem::take(&mut self.query.terms);
        let stems: Vec<&str> = terms[..plain].iter().map(|t| t.stem.as_str()).collect();
        let mut out: Vec<Term> = Vec::with_capacity(terms.len());
        let mut expanded = false;
        let mut i = 0;
        while i < plain {
            match glossary.longest(&stems[i..]) {
                Some(found) if !found.others.is_empty() => {
                    let covered = &terms[i..i + found.len];
                    let mut t = match covered {
                        [one] => one.clone(),
                        many => Term {
                            all_of: many.iter().map(|t| t.stem.clone()).collect(),
                            ..Term::word(
                                many.iter().map(|t| t.folded.as_str()).collect::<Vec<_>>().join(" "),
                                many[0].stem.clone(),
                            )
                        },
                    };
                    t.prefix = false;
                    t.expansions.clear();
                    t.alternatives = found.others;
                    out.push(t);
                    expanded = true;
                    i += found.len;
                }
                _ => {
                    out.push(terms[i].clone());
                    i += 1;
                }
            }
        }
        out.extend(terms.into_iter().skip(plain));
        self.plain_terms = out.len().min(self.plain_terms);
        self.query.terms = out;
        expanded
    }

    /// The query without its glossary alternatives (what was typed, exactly).
    pub fn exact(&self) -> Parsed {
        let mut p = self.clone();
        for t in &mut p.query.terms {
            t.alternatives.clear();
        }
        p
    }

    /// A topic, a date or a media filter (what can be searched without words).
    pub fn has_filters(&self) -> bool {
        self.topic.is_some() || self.from.is_some() || self.to.is_some() || self.has.is_some()
    }

    /// Nothing to search: no word and no filter.
    pub fn is_empty(&self) -> bool {
        self.query.is_empty() && !self.has_filters()
    }

    /// What was understood, one piece per part: `робот · 🤖 Робототехника · с октября 2021`
    /// (plain text: callers escape it).
    pub fn understood(&self, lang: Lang) -> String {
        let t = lang.texts();
        let mut parts: Vec<String> = Vec::new();
        if !self.words_shown.is_empty() {
            parts.push(self.words_shown.join(" "));
        }
        parts.extend(self.phrases_shown.iter().cloned());
        parts.extend(self.hashtags.iter().map(|h| format!("#{h}")));
        parts.extend(self.excluded_shown.iter().cloned());
        if let Some(topic) = &self.topic {
            parts.push(format!("{} {}", topic.emoji, lang.pick(&topic.ru, &topic.en)).trim().to_string());
        }
        if let Some(from) = &self.from {
            parts.push(fill(t.search_from, &[("date", &describe_date(from, lang, false))]));
        }
        if let Some(to) = &self.to {
            parts.push(fill(t.search_to, &[("date", &describe_date(to, lang, true))]));
        }
        if let Some(kind) = self.has {
            let name = match kind {
                MediaKind::Photo => t.search_has_photo,
                MediaKind::Video => t.search_has_video,
                MediaKind::File => t.search_has_file,
            };
            parts.push(name.to_string());
        }
        match self.sort {
            Sort::Relevance => {}
            Sort::Newest => parts.push(t.search_sorted_newest.to_string()),
            Sort::Top => parts.push(t.search_sorted_top.to_string()),
        }
        parts.join(" · ")
    }
}

/// `октября 2021` / `12 октября 2021` / `2021`; a `to:` month in the nominative (`по декабрь 2021`).
fn describe_date(bound: &DateBound, lang: Lang, to: bool) -> String {
    let t = lang.texts();
    let d = bound.date;
    match bound.precision {
        Precision::Year => d.year().to_string(),
        Precision::Month => {
            let months = if to { &t.months_nominative } else { &t.months };
            format!("{} {}", months[d.month0() as usize], d.year())
        }
        Precision::Day => format!("{} {} {}", d.day(), t.months[d.month0() as usize], d.year()),
    }
}

impl Problem {
    /// What was not understood, with an example (plain text).
    pub fn explain(&self, lang: Lang) -> String {
        let t = lang.texts();
        let (why, example) = match self.kind {
            ProblemKind::BadDate => (t.problem_date, t.example_date),
            ProblemKind::EmptyRange => (t.problem_range, t.example_range),
            ProblemKind::NoTopic => (t.problem_topic, t.example_topic),
            ProblemKind::BadMedia => (t.problem_media, t.example_media),
            ProblemKind::BadSort => (t.problem_sort, t.example_sort),
            ProblemKind::EmptyPhrase => (t.problem_phrase, t.example_phrase),
            ProblemKind::LoneMinus | ProblemKind::ExcludedOperator => (t.problem_minus, t.example_minus),
            ProblemKind::EmptyValue => (t.problem_empty_value, t.example_date),
            ProblemKind::OnlyExclusions => (t.problem_only_exclusions, t.example_minus),
        };
        fill(t.problem_line, &[("token", &self.token), ("why", why), ("example", example)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Parsed {
        Parsed::parse(input, &Taxonomy::bundled(), chrono_tz::Europe::Moscow)
    }

    #[test]
    fn operators_in_both_languages() {
        let ru = parse("робот тема:робототехника с:2021-10 до:2021-12-31 есть:фото порядок:новые");
        let en = parse("робот topic:ROBOTICS from:2021-10 to:2021-12-31 has:photo sort:new");
        for p in [&ru, &en] {
            assert!(p.problems.is_empty(), "{:?}", p.problems);
            assert_eq!(p.topic.as_ref().map(|t| t.slug.as_str()), Some("robotics"));
            assert_eq!(p.has, Some(MediaKind::Photo));
            assert_eq!(p.sort, Sort::Newest);
            assert_eq!(p.query.terms.len(), 1);
            assert!(!p.query.terms[0].prefix, "the input ends in an operator");
        }
        // Moscow is UTC+3: 2021-10-01 00:00 there is 2021-09-30 21:00 UTC.
        assert_eq!(ru.from.as_ref().map(|b| b.at), Some(1_633_035_600));
        // `до:` a day: up to the first moment of the next one.
        assert_eq!(ru.to.as_ref().map(|b| b.at), Some(1_640_984_400));
        assert_eq!(
            ru.understood(Lang::Ru),
            "робот · 🤖 Робототехника · с октября 2021 · по 31 декабря 2021 · 📷 с фото · 🕒 сначала новые"
        );
        assert!(en.understood(Lang::En).contains("from October 2021"), "{}", en.understood(Lang::En));
    }

    #[test]
    fn a_year_and_a_month_reach_their_end() {
        let p = parse("до:2021-12 с:2021");
        let utc = |y, m, d| start_of(NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default(), chrono_tz::Europe::Moscow);
        assert_eq!(p.to.as_ref().map(|b| b.at), Some(utc(2022, 1, 1)));
        assert_eq!(p.from.as_ref().map(|b| b.at), Some(utc(2021, 1, 1)));
        assert!(p.understood(Lang::Ru).contains("по декабрь 2021"), "{}", p.understood(Lang::Ru));
    }

    #[test]
    fn phrases_exclusions_and_hashtags() {
        let p = parse("\"робота собаку\" -манипулятор -\"обучение с подкреплением\" #ML_news");
        let [phrase, tag] = &p.query.terms[..] else { panic!("{:?}", p.query.terms) };
        assert_eq!(phrase.phrase.len(), 2);
        assert_eq!(Query::term_expr(phrase), format!("\"{}\"", phrase.phrase.join(" ")));
        assert_eq!(tag.phrase.len(), 2, "a hashtag's words, as a phrase");
        assert_eq!(p.hashtags, ["ml_news"]);
        assert_eq!(p.excluded.len(), 2);
        assert!(p.problems.is_empty());
        assert_eq!(p.understood(Lang::Ru), "«робота собаку» · #ml_news · −манипулятор · −«обучение с подкреплением»");
    }

    #[test]
    fn nonsense_becomes_problems_never_errors() {
        for (input, kind) in [
            ("с:вчера", ProblemKind::BadDate),
            ("до:2021-13", ProblemKind::BadDate),
            ("с:2021-02-30", ProblemKind::BadDate),
            ("тема:нет-такой", ProblemKind::NoTopic),
            ("\"\"", ProblemKind::EmptyPhrase),
            ("\"  !! \"", ProblemKind::EmptyPhrase),
            ("-", ProblemKind::LoneMinus),
            ("робот -", ProblemKind::LoneMinus),
            ("есть:торт", ProblemKind::BadMedia),
            ("sort:random", ProblemKind::BadSort),
            ("с:", ProblemKind::EmptyValue),
            ("-тема:rl", ProblemKind::ExcludedOperator),
            ("-робот", ProblemKind::OnlyExclusions),
            ("с:2022 до:2021", ProblemKind::EmptyRange),
        ] {
            let p = parse(input);
            assert_eq!(p.problems.iter().map(|p| p.kind).collect::<Vec<_>>(), [kind], "{input}");
            assert!(!p.problems[0].explain(Lang::Ru).is_empty());
        }
        // Words with colons that are not operators stay words.
        let p = parse("время: 10:30 http://x.org");
        assert!(p.problems.is_empty() && !p.query.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn sort_is_set_and_unset() {
        let newest = with_sort("робот  тема:rl sort:new", Sort::Newest, Lang::Ru);
        assert_eq!(newest, "робот тема:rl порядок:новые");
        assert_eq!(parse(&newest).sort, Sort::Newest);
        let back = with_sort(&newest, Sort::Relevance, Lang::Ru);
        assert_eq!(back, "робот тема:rl");
        assert_eq!(parse(&back).sort, Sort::Relevance);
        assert_eq!(with_sort("\"a b\" -c", Sort::Newest, Lang::En), "\"a b\" -c sort:new");
        assert_eq!(with_sort("робот sort:new", Sort::Top, Lang::Ru), "робот порядок:лучшие");
        assert_eq!(parse("робот порядок:лучшие").sort, Sort::Top);
        assert_eq!(parse("робот sort:top").sort, Sort::Top);
        assert_eq!(parse("робот sort:relevance").sort, Sort::Relevance);
    }

    #[test]
    fn the_last_word_is_a_prefix_only_when_typed_last() {
        assert!(parse("робот собак").query.terms.last().is_some_and(|t| t.prefix));
        assert!(!parse("собак \"робот\"").query.terms.iter().any(|t| t.prefix));
        assert!(!parse("собак тема:rl").query.terms.iter().any(|t| t.prefix));
    }
}
