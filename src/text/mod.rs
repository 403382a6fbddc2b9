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

/// Splits `text` into words (maximal runs of letters and digits), with byte ranges.
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

impl WordRanges<'_> {
    /// Whether the character at byte `at` (a char boundary) is a word character, and its length.
    #[inline(always)]
    fn class_at(&self, at: usize) -> (bool, usize) {
        let bytes = self.text.as_bytes();
        let b = bytes[at];
        if b < 0x80 {
            return (b.is_ascii_alphanumeric(), 1);
        }
        if b == 0xD0 || b == 0xD1 {
            // U+0400..U+047F (a lead byte of two): every one of them is a letter.
            return (true, 2);
        }
        match self.text[at..].chars().next() {
            Some(c) => (is_word_char(c), c.len_utf8()),
            None => (false, 1),
        }
    }
}

impl Iterator for WordRanges<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let len = self.text.len();
        let start = loop {
            if self.pos >= len {
                return None;
            }
            let (word, n) = self.class_at(self.pos);
            if word {
                break self.pos;
            }
            self.pos += n;
        };
        while self.pos < len {
            let (word, n) = self.class_at(self.pos);
            if !word {
                break;
            }
            self.pos += n;
        }
        Some(start..self.pos)
    }
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

/// Every word of `text`, folded and stemmed.
pub fn words(text: &str) -> Vec<Word> {
    word_ranges(text)
        .map(|range| {
            let folded = fold(&text[range.clone()]);
            let stem = stem_folded(&folded).into_owned();
            Word { folded, stem }
        })
        .collect()
}

/// The stemmed form of a text as stored in the search index: stems joined by spaces.
pub fn stemmed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for range in word_ranges(text) {
        let folded = fold(&text[range]);
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

    /// Words as `char::is_alphanumeric` with the fast paths splits them.
    fn reference_words(text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            match (is_word_char(c), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    out.push(s..i);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
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
        let seed = SEED_TEXT;
        for text in [mixed.as_str(), seed, "", "ё", "Ёж ёлка", "слово", "😀слово😀", "a\u{0400}b"]
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

    #[test]
    fn punctuation_and_emoji_separate_words() {
        let text = "👆🏻Повторение – мать\"ученья\"(DL)*^:";
        let w: Vec<_> = word_ranges(text).map(|r| &text[r]).collect();
        assert_eq!(w, ["Повторение", "мать", "ученья", "DL"]);
        assert!(word_ranges("*** — !!! 😀").next().is_none());
    }
}
