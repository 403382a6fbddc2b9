//! Words, their folded forms and their stems: the one function that both the
//! index and the query go through, so that `торговая стратегия` meets
//! `торговых стратегий`. The bottom layer: the store indexes with it, topics tag with
//! it, search queries with it; it knows none of them.

pub mod lexicon;

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;
use std::sync::LazyLock;

use frostem::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::new(Algorithm::Russian));
static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::new(Algorithm::English));

/// Length in UTF-16 code units, as Telegram counts entity offsets and limits: one unit
/// per character, two for one beyond the BMP. Counted on the bytes (every byte that begins
/// a character, and once more for the lead byte of a four-byte one), which the compiler
/// vectorises; decoding the characters took a twenty-fifth of an import's writer.
pub fn utf16_len(text: &str) -> usize {
    text.bytes().map(|b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0)).sum()
}

/// A word of a text: folded, and its stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub folded: String,
    pub stem: String,
}

/// Is `c` part of a word? Letters and digits of any script; everything else
/// (punctuation, emoji, FTS5 syntax characters) separates words.
#[inline]
pub fn is_word_char(c: char) -> bool {
    // Fast paths for the two scripts of the archive: the general Unicode table
    // lookup was a sixth of the whole import.
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else if matches!(c, '\u{0410}'..='\u{044F}' | 'ё' | 'Ё') {
        true
    } else {
        c.is_alphanumeric()
    }
}

/// Splits `text` into words (maximal runs of letters and digits, split where a CJK run
/// ([`is_cjk`]) begins or ends), with byte ranges.
pub fn word_ranges(text: &str) -> WordRanges<'_> {
    WordRanges { text, pos: 0 }
}

/// The iterator of [`word_ranges`]. It reads bytes, classing ASCII and the two-byte
/// Cyrillic letters by their first byte (the archive's text; a snippet splits a whole post per hit) and
/// anything else with `char` decoding.
pub struct WordRanges<'a> {
    text: &'a str,
    pos: usize,
}

/// The class of a character as [`WordRanges`] splits: not a word character, a word
/// character of a script written with spaces, or one of [`is_cjk`]. A word is a run of one
/// class: `GPT模型` is `GPT` and `模型`, whose tokens differ (a stem; bigrams).
const SPACE: u8 = 0;
const WORD: u8 = 1;
const CJK: u8 = 2;

impl WordRanges<'_> {
    /// The class of the character at byte `at` (a char boundary), and its length.
    #[inline(always)]
    fn class_at(&self, at: usize) -> (u8, usize) {
        let bytes = self.text.as_bytes();
        let b = bytes[at];
        if b < 0x80 {
            return (u8::from(b.is_ascii_alphanumeric()), 1);
        }
        if b == 0xD0 || b == 0xD1 {
            // U+0400..U+047F (a lead byte of two): every one of them is a letter.
            return (WORD, 2);
        }
        match self.text[at..].chars().next() {
            Some(c) if !is_word_char(c) => (SPACE, c.len_utf8()),
            Some(c) => (if is_cjk(c) { CJK } else { WORD }, c.len_utf8()),
            None => (SPACE, 1),
        }
    }
}

impl Iterator for WordRanges<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let len = self.text.len();
        let (start, class) = loop {
            if self.pos >= len {
                return None;
            }
            let (class, n) = self.class_at(self.pos);
            if class != SPACE {
                break (self.pos, class);
            }
            self.pos += n;
        };
        while self.pos < len {
            let (next, n) = self.class_at(self.pos);
            if next != class {
                break;
            }
            self.pos += n;
        }
        Some(start..self.pos)
    }
}

/// Is `c` a letter of a script written without spaces between words (Chinese, Japanese
/// kana and kanji) or in long compounds (Korean Hangul)? A run of them is indexed as its
/// overlapping bigrams ([`grams`]), so that a word inside it can be found without a
/// dictionary (Lucene's CJKAnalyzer). Thai, also written without spaces, is not among
/// them: bigrams of its letters (with their combining vowels) would need a grapheme split.
#[inline]
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF // Hangul Jamo
        | 0x3005..=0x3007 // 々 〆 〇
        | 0x3040..=0x30FF // Hiragana, Katakana (with ー)
        | 0x3100..=0x312F // Bopomofo
        | 0x3130..=0x318F // Hangul compatibility Jamo
        | 0x31A0..=0x31BF // Bopomofo extended
        | 0x31F0..=0x31FF // Katakana phonetic extensions
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xA960..=0xA97F // Hangul Jamo extended A
        | 0xAC00..=0xD7FF // Hangul syllables, Jamo extended B
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xFF66..=0xFF9F // half-width Katakana
        | 0xFFA0..=0xFFDC // half-width Hangul
        | 0x20000..=0x3FFFF) // CJK extensions B and beyond
}

/// Is this word of [`word_ranges`] a CJK run? (A word is all of one class.)
#[inline]
pub fn is_cjk_word(word: &str) -> bool {
    // Every CJK letter's UTF-8 lead byte is 0xE1 or above: ASCII and Cyrillic words are
    // told by one compare, no decoding.
    word.as_bytes().first().is_some_and(|&b| b >= 0xE1) && word.chars().next().is_some_and(is_cjk)
}

/// The index tokens of a CJK run, in order: its overlapping bigrams, then its last
/// character alone (`高等数学` → `高等 等数 数学 学`; a run of one character: that
/// character). A query word inside a run is the phrase of its bigrams; a single
/// character is found as the prefix `"X"*`, which every bigram it begins and the
/// unigram it ends a run with match: so every character of a run begins a token, at
/// the cost of one token per run rather than one per character.
pub fn grams(run: &str) -> Grams<'_> {
    Grams { run, pos: 0 }
}

/// The iterator of [`grams`].
pub struct Grams<'a> {
    run: &'a str,
    pos: usize,
}

impl<'a> Iterator for Grams<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = &self.run[self.pos..];
        let mut chars = rest.chars();
        let first = chars.next()?.len_utf8();
        let start = self.pos;
        self.pos += first;
        Some(match chars.next() {
            Some(second) => &self.run[start..start + first + second.len_utf8()],
            None => rest,
        })
    }
}

/// The tokens of a CJK word as a query searches for it: its bigrams in order, without the
/// lone last character the index adds at a run's end (the word may go on in the post);
/// a word of one character: that character.
pub fn query_grams(word: &str) -> Vec<&str> {
    let mut out: Vec<&str> = grams(word).collect();
    if out.len() > 1 {
        out.pop();
    }
    out
}

/// Lower case, with `ё` folded to `е` (FTS5's `remove_diacritics` leaves
/// Cyrillic alone, and people type `е` for `ё`).
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    fold_into(word, &mut out);
    out
}

/// [`fold`], appended to `out`.
pub fn fold_into(word: &str, out: &mut String) {
    for c in word.chars() {
        match fold_fast(c) {
            Some(f) => out.push(f),
            None => {
                for l in c.to_lowercase() {
                    out.push(if l == 'ё' { 'е' } else { l });
                }
            }
        }
    }
}

/// The folded form of an ASCII or a Russian letter (one character), without Unicode's
/// tables; `None` for any other character.
#[inline]
fn fold_fast(c: char) -> Option<char> {
    match c {
        'A'..='Z' => Some(c.to_ascii_lowercase()),
        '\0'..='\x7f' | 'а'..='я' => Some(c),
        // А..Я -> а..я: the same offset for the whole block.
        'А'..='Я' => char::from_u32(c as u32 + 0x20),
        'ё' | 'Ё' => Some('е'),
        _ => None,
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}' | '\u{0500}'..='\u{052F}')
}

thread_local! {
    /// Stems of recent words: an archive repeats its words, and Snowball is the
    /// costliest step of indexing. Cleared when full, so memory stays bounded.
    static CACHE: RefCell<FxHashMap<Box<str>, Box<str>>> = RefCell::new(FxHashMap::default());
}
const CACHE_WORDS: usize = 200_000;

/// The stem of an already folded word (cached): see [`stem_uncached`].
pub fn stem_folded(folded: &str) -> Cow<'_, str> {
    if folded.len() <= 2 {
        return stem_uncached(folded);
    }
    Cow::Owned(with_stem(folded, str::to_string))
}

/// Calls `f` with the stem of an already folded word (cached, as [`stem_folded`], but
/// without copying the stem out of the cache).
pub fn with_stem<R>(folded: &str, f: impl FnOnce(&str) -> R) -> R {
    if folded.len() <= 2 {
        return f(&stem_uncached(folded));
    }
    CACHE.with_borrow_mut(|cache| {
        if let Some(stem) = cache.get(folded) {
            return f(stem);
        }
        let stem: Box<str> = stem_uncached(folded).into();
        let out = f(&stem);
        if cache.len() >= CACHE_WORDS {
            cache.clear();
        }
        cache.insert(folded.into(), stem);
        out
    })
}

/// The first character of [`fold`]`(word)`, without folding the rest.
#[inline]
pub fn folded_first(word: &str) -> Option<char> {
    let c = word.chars().next()?;
    fold_fast(c).or_else(|| c.to_lowercase().next().map(|l| if l == 'ё' { 'е' } else { l }))
}

/// The stem of an already folded word: Snowball Russian for Cyrillic words,
/// Snowball English for Latin ones, the word itself otherwise (numbers, `m1`).
pub fn stem_uncached(folded: &str) -> Cow<'_, str> {
    if folded.chars().any(is_cyrillic) {
        RUSSIAN.stem(folded)
    } else if folded.chars().any(|c| c.is_ascii_alphabetic()) && !folded.chars().any(|c| c.is_ascii_digit()) {
        // Tokens mixing letters and digits (`m1`, `wave2vec`, `1705b`) are names: keep them as typed.
        ENGLISH.stem(folded)
    } else {
        Cow::Borrowed(folded)
    }
}

/// Stem of one raw word.
pub fn stem(word: &str) -> String {
    let folded = fold(word);
    stem_folded(&folded).into_owned()
}

/// Every token of `text` as the index holds it, folded and stemmed: a word of a script
/// written with spaces as its stem, a CJK run as its [`grams`] (each its own stem).
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    for range in word_ranges(text) {
        let word = &text[range];
        if is_cjk_word(word) {
            out.extend(grams(word).map(|g| Word { folded: g.to_string(), stem: g.to_string() }));
            continue;
        }
        let folded = fold(word);
        let stem = stem_folded(&folded).into_owned();
        out.push(Word { folded, stem });
    }
    out
}

/// The tokens of `text` as a query phrase matches them: [`words`], but a CJK run that ends
/// the text as [`query_grams`] (the post's run may go on after it).
pub fn phrase_words(text: &str) -> Vec<Word> {
    let mut out = words(text);
    if let Some(last) = word_ranges(text).last().map(|r| &text[r])
        && is_cjk_word(last)
        && last.chars().nth(1).is_some()
    {
        out.pop();
    }
    out
}

/// The stemmed form of a text as stored in the search index: its tokens ([`words`])
/// joined by spaces.
pub fn stemmed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for range in word_ranges(text) {
        let word = &text[range];
        if is_cjk_word(word) {
            for g in grams(word) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(g);
            }
            continue;
        }
        let folded = fold(word);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&stem_folded(&folded));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_len_counts_as_utf16_does() {
        for t in [
            "",
            "abc",
            "Обучение с подкреплением",
            "👆🏻Повторение",
            "🤦🏼\u{200d}♀️ x",
            "\u{10FFFF}\u{7FF}\u{800}\u{FFFF}",
        ] {
            assert_eq!(utf16_len(t), t.encode_utf16().count(), "{t:?}");
        }
    }

    /// The seed archive's text (its posts and its header): real Russian and English.
    const SEED_TEXT: &str = include_str!("../../seeds/000_88851c1974256884.txt");

    /// Words as `char::is_alphanumeric` with the fast paths splits them, a CJK run apart.
    fn reference_words(text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start: Option<(usize, bool)> = None;
        for (i, c) in text.char_indices() {
            let class = is_word_char(c).then(|| is_cjk(c));
            match (class, start) {
                (Some(cjk), None) => start = Some((i, cjk)),
                (None, Some((s, _))) => {
                    out.push(s..i);
                    start = None;
                }
                (Some(cjk), Some((s, was))) if cjk != was => {
                    out.push(s..i);
                    start = Some((i, cjk));
                }
                _ => {}
            }
        }
        if let Some((s, _)) = start {
            out.push(s..text.len());
        }
        out
    }

    #[test]
    fn byte_scanner_splits_words_like_chars() {
        // Every char of the blocks around Cyrillic and Latin-1, mixed with ASCII and emoji.
        let mut mixed = String::new();
        for c in (0u32..0x700).chain(0x1F600..0x1F610).filter_map(char::from_u32) {
            mixed.push(c);
            if (c as u32).is_multiple_of(7) {
                mixed.push_str(" a1-");
            }
        }
        // And the CJK blocks' edges, between Latin and Cyrillic letters and digits.
        for c in (0x1100u32..0x1200)
            .chain(0x3000..0x3200)
            .chain(0x9FF0..0xA000)
            .chain(0xAC00..0xAC10)
            .chain(0xD7F0..0xD800)
            .chain(0xFF60..0xFFE0)
            .chain(0x20000..0x20010)
            .filter_map(char::from_u32)
        {
            mixed.push(c);
            if (c as u32).is_multiple_of(5) {
                mixed.push_str(["a", "я", "7", " "][(c as usize) % 4]);
            }
        }
        let seed = SEED_TEXT;
        for text in [mixed.as_str(), seed, "", "ё", "Ёж ёлка", "слово", "😀слово😀", "a\u{0400}b", "GPT模型", "模型v2"]
        {
            assert_eq!(word_ranges(text).collect::<Vec<_>>(), reference_words(text), "{text:?}");
        }
    }

    #[test]
    fn inflections_share_a_stem() {
        assert_eq!(stem("торговая"), stem("торговых"));
        assert_eq!(stem("стратегия"), stem("стратегий"));
        assert_eq!(stem("роботу"), stem("робота"));
        assert_eq!(stem("Ёлка"), stem("елки"));
        assert_eq!(stem("networks"), stem("network"));
    }

    #[test]
    fn fast_fold_agrees_with_unicode_lower_case() {
        // Every character of the blocks the fast paths cover, and some beyond them.
        let chars = (0u32..0x0600).chain(0x1E00..0x1F00).chain([0x130, 0x1E9E, 0x2160, 0x24B6, 0x10400]);
        for c in chars.filter_map(char::from_u32) {
            let expected: String = c.to_lowercase().map(|l| if l == 'ё' { 'е' } else { l }).collect();
            assert_eq!(fold(&c.to_string()), expected, "{c:?}");
            assert_eq!(is_word_char(c), c.is_alphanumeric(), "{c:?}");
        }
    }

    #[test]
    fn folded_first_agrees_with_fold() {
        let chars = (0u32..0x0600).chain(0x1E00..0x1F00).chain([0x130, 0x1E9E, 0x2160, 0x1F600]);
        for c in chars.filter_map(char::from_u32) {
            let word = format!("{c}xя");
            assert_eq!(folded_first(&word), fold(&word).chars().next(), "{c:?}");
        }
        assert_eq!(folded_first(""), None);
    }

    #[test]
    fn with_stem_gives_the_stem() {
        for word in ["торговых", "роботу", "networks", "m1", "я", "ёлка"] {
            let folded = fold(word);
            // Uncached, then from the cache; against Snowball called directly.
            let twice = [with_stem(&folded, str::to_string), with_stem(&folded, str::to_string)];
            let snowball = stem_uncached(&folded).into_owned();
            assert_eq!(twice, [snowball.clone(), snowball], "{word}");
        }
    }

    /// Snippets rely on it: a stem begins with the letter its word begins with.
    #[test]
    fn stems_keep_the_first_letter() {
        let exceptions = "skies dying lying tying idly gently ugly early only singly news yelling Yves ёжики";
        let texts = [SEED_TEXT, exceptions];
        for text in texts {
            for w in words(text) {
                assert_eq!(w.stem.chars().next(), w.folded.chars().next(), "{} -> {}", w.folded, w.stem);
            }
        }
    }

    #[test]
    fn names_stay_as_typed() {
        let w: Vec<_> = words("Kepler-1705b, M1 и Wave2vec!").into_iter().map(|w| w.stem).collect();
        assert_eq!(w, ["kepler", "1705b", "m1", "и", "wave2vec"]);
    }

    fn split(text: &str) -> Vec<&str> {
        word_ranges(text).map(|r| &text[r]).collect()
    }

    fn tokens(text: &str) -> Vec<String> {
        words(text).into_iter().map(|w| w.stem).collect()
    }

    #[test]
    fn chinese_runs_become_overlapping_bigrams() {
        // Punctuation (，。) separates runs; a run of one character stays one token.
        assert_eq!(split("课程内容是高等数学，好。"), ["课程内容是高等数学", "好"]);
        assert_eq!(tokens("高等数学"), ["高等", "等数", "数学", "学"]);
        assert_eq!(tokens("开源"), ["开源", "源"]);
        assert_eq!(tokens("好"), ["好"]);
        assert_eq!(tokens("我们开源了，好！"), ["我们", "们开", "开源", "源了", "了", "好"]);
        assert_eq!(stemmed("高等数学，好"), "高等 等数 数学 学 好");
        assert_eq!(query_grams("高等数学"), ["高等", "等数", "数学"]);
        assert_eq!(query_grams("开源"), ["开源"]);
        assert_eq!(query_grams("好"), ["好"]);
        assert!(query_grams("").is_empty());
        // Every character of a run begins a token: a one-character query is a prefix.
        let run = "课程内容是高等数学";
        let toks = tokens(run);
        for c in run.chars() {
            assert!(toks.iter().any(|t| t.starts_with(c)), "{c}");
        }
    }

    #[test]
    fn japanese_kana_and_kanji_make_one_run() {
        // Hiragana, katakana (with the long mark ー) and kanji: one run; 々 repeats a kanji.
        assert_eq!(split("東京でラーメンを食べた。"), ["東京でラーメンを食べた"]);
        assert_eq!(tokens("ラーメン"), ["ラー", "ーメ", "メン", "ン"]);
        assert_eq!(tokens("人々"), ["人々", "々"]);
        // The katakana middle dot separates, as punctuation does.
        assert_eq!(split("データ・サイエンス"), ["データ", "サイエンス"]);
        // Half-width katakana are letters of a run too.
        assert_eq!(split("ｶﾀｶﾅ"), ["ｶﾀｶﾅ"]);
    }

    #[test]
    fn korean_hangul_runs_are_bigrams_too() {
        assert_eq!(split("인공지능 연구"), ["인공지능", "연구"]);
        assert_eq!(tokens("인공지능"), ["인공", "공지", "지능", "능"]);
    }

    #[test]
    fn a_run_mixed_with_other_scripts_splits_at_the_boundary() {
        assert_eq!(split("GPT模型"), ["GPT", "模型"]);
        assert_eq!(split("模型v2和Llama3模型"), ["模型", "v2", "和", "Llama3", "模型"]);
        assert_eq!(split("Обучение模型ёлки"), ["Обучение", "模型", "ёлки"]);
        assert_eq!(split("2024年3月"), ["2024", "年", "3", "月"]);
        assert_eq!(split("😀开源😀项目🚀"), ["开源", "项目"]);
        assert_eq!(tokens("GPT模型"), ["gpt", "模型", "型"]);
        assert_eq!(tokens("Роботы学习"), [stem("Роботы").as_str(), "学习", "习"]);
        // Latin and Cyrillic words are what they were.
        assert_eq!(tokens("Kepler-1705b, M1"), ["kepler", "1705b", "m1"]);
    }

    #[test]
    fn a_phrase_leaves_out_the_lone_character_only_at_its_end() {
        let stems = |t: &str| -> Vec<String> { phrase_words(t).into_iter().map(|w| w.stem).collect() };
        assert_eq!(stems("高等数学"), ["高等", "等数", "数学"]);
        // A run followed by another word keeps it: the index has it between them.
        assert_eq!(stems("模型 GPT"), ["模型", "型", "gpt"]);
        assert_eq!(stems("GPT模型"), ["gpt", "模型"]);
        assert_eq!(stems("好"), ["好"]);
        assert_eq!(stems("robots"), ["robot"]);
    }

    #[test]
    fn punctuation_and_emoji_separate_words() {
        let text = "👆🏻Повторение – мать\"ученья\"(DL)*^:";
        let w: Vec<_> = word_ranges(text).map(|r| &text[r]).collect();
        assert_eq!(w, ["Повторение", "мать", "ученья", "DL"]);
        assert!(word_ranges("*** — !!! 😀").next().is_none());
    }
}
