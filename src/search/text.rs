//! Words, their folded forms and their stems: the one function that both the
//! index and the query go through, so that `торговая стратегия` meets
//! `торговых стратегий`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;
use std::sync::LazyLock;

use frostem::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::new(Algorithm::Russian));
static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::new(Algorithm::English));

/// A word of a text: its byte range in the original, and its stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub range: Range<usize>,
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
pub fn word_ranges(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let start = loop {
            let (i, c) = chars.next()?;
            if is_word_char(c) {
                break i;
            }
        };
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if !is_word_char(c) {
                end = i;
                break;
            }
            chars.next();
        }
        Some(start..end)
    })
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
        match c {
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            '\0'..='\x7f' | 'а'..='я' => out.push(c),
            // А..Я -> а..я: the same offset for the whole block.
            'А'..='Я' => out.push(char::from_u32(c as u32 + 0x20).unwrap_or(c)),
            'ё' | 'Ё' => out.push('е'),
            _ => {
                for l in c.to_lowercase() {
                    out.push(if l == 'ё' { 'е' } else { l });
                }
            }
        }
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
    CACHE.with_borrow_mut(|cache| {
        if let Some(stem) = cache.get(folded) {
            return Cow::Owned(stem.to_string());
        }
        let stem = stem_uncached(folded).into_owned();
        if cache.len() >= CACHE_WORDS {
            cache.clear();
        }
        cache.insert(folded.into(), stem.as_str().into());
        Cow::Owned(stem)
    })
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
            Word { range, folded, stem }
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

    /// Snippets rely on it: a stem begins with the letter its word begins with.
    #[test]
    fn stems_keep_the_first_letter() {
        let (_, posts) = crate::ingest::tme_dump::parse(crate::ingest::SEED).expect("the seed parses");
        let exceptions = "skies dying lying tying idly gently ugly early only singly news yelling Yves ёжики";
        let texts = posts.iter().map(|p| p.text.as_str()).chain([exceptions]);
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
