//! "Did you mean": real words of the archive close to the words of a query that
//! found nothing. The vocabulary is held in memory, grouped by length, each word
//! with a 64-bit sketch of its letters: a word within edit distance `k` differs
//! from the typed one in at most `2k` sketch bits, so nearly all of the vocabulary
//! is rejected by one XOR and a popcount before any edit distance is computed.
//! One copy serves every connection (`Searcher`); it is read again when an import
//! changed the vocabulary (the store's vocabulary generation, which every import's
//! commit advances, in any process). A second copy holds the stems, for typos that
//! are nearer a stem than any of its forms (`манипулятр` and `манипулятор`).

use super::exec::Scope;
use super::{Parsed, Search, has_digit};
use crate::store::{Archive, Result};
use crate::text;

/// A word of the vocabulary.
#[derive(Debug)]
struct Entry {
    word: Box<str>,
    chars: Box<[char]>,
    sketch: u64,
    freq: i64,
}

/// The archive's vocabulary (its words, or its stems) as last read, for suggestions.
#[derive(Debug, Default)]
pub struct Vocabulary {
    /// The store's vocabulary generation when read.
    pub(super) generation: i64,
    /// Entries by length in characters.
    by_len: Vec<Vec<Entry>>,
}

/// One bit per letter (hashed to 64).
fn sketch(chars: &[char]) -> u64 {
    chars.iter().fold(0u64, |m, &c| m | 1u64 << ((c as u32).wrapping_mul(0x9E37_79B1) >> 26))
}

impl Vocabulary {
    fn add(&mut self, word: &str, freq: i64) {
        let chars: Box<[char]> = word.chars().collect();
        let len = chars.len();
        if self.by_len.len() <= len {
            self.by_len.resize_with(len + 1, Vec::new);
        }
        self.by_len[len].push(Entry { sketch: sketch(&chars), chars, word: word.into(), freq });
    }

    /// The words (or, with `stems`, the stems and the posts holding each) of the archive.
    pub(super) fn load(archive: &Archive, generation: i64, stems: bool) -> Result<Self> {
        let mut v = Vocabulary { generation, by_len: Vec::new() };
        if stems {
            let mut stmt = archive.conn().prepare("SELECT stem, docs FROM stems ORDER BY stem")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let stem = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
                // CJK bigrams are no corrections (and a memory-hungry part of a CJK archive's stems).
                if !has_digit(stem) && !super::has_cjk(stem) {
                    v.add(stem, row.get(1)?);
                }
            }
        } else {
            archive.for_each_word(|word, freq| v.add(word, freq))?;
        }
        Ok(v)
    }

    /// The most frequent word within a small edit distance of `word` (the nearest
    /// first, then the most frequent, then the first in alphabetical order), with its
    /// distance; only a plausible typo of it (see [`max_edits`] and [`same_start_and_script`]).
    fn closest(&self, word: &str) -> Option<(&str, usize)> {
        let chars: Vec<char> = word.chars().collect();
        let len = chars.len();
        let max = max_edits(len)?;
        let mine = sketch(&chars);
        let mut best: Option<(usize, &Entry)> = None;
        for group in self.by_len.iter().take(len + max + 1).skip(len - max) {
            for e in group {
                if (e.sketch ^ mine).count_ones() as usize > 2 * max || !same_start_and_script(&chars, &e.chars) {
                    continue;
                }
                let Some(d) = distance_within(&chars, &e.chars, max) else { continue };
                if d == 0 {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((bd, b)) => (d, -e.freq, &e.word) < (bd, -b.freq, &b.word),
                };
                if better {
                    best = Some((d, e));
                }
            }
        }
        best.map(|(d, e)| (&*e.word, d))
    }
}

/// How many edits a correction of a word of `len` letters may make: none under three
/// letters, one up to six, two from seven. Two edits in a short word change a third of it
/// or more, and reach other real words rather than what was meant (`привет` →
/// `приведет`, `кот` → `кит`); a word of seven letters or more keeps five in place.
fn max_edits(len: usize) -> Option<usize> {
    match len {
        0..=2 => None,
        3..=6 => Some(1),
        _ => Some(2),
    }
}

/// The scripts a correction may not leave or mix in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Other,
}

fn script(c: char) -> Script {
    match c {
        'a'..='z' | 'A'..='Z' => Script::Latin,
        '\u{0400}'..='\u{04FF}' => Script::Cyrillic,
        _ => Script::Other,
    }
}

/// Could `candidate` be what was meant by `typed`? It starts with the same letter (a
/// misspelling rarely changes the first letter, and a change there mostly turns a real
/// word into another one: `table` → `stable`, `кот` → `скот`), and has no letter of a
/// script `typed` has none of (a Latin word is corrected to a Latin word, a Cyrillic one
/// to a Cyrillic one).
fn same_start_and_script(typed: &[char], candidate: &[char]) -> bool {
    typed.first().is_some_and(|c| candidate.first() == Some(c))
        && candidate.iter().all(|&c| typed.iter().any(|&t| script(t) == script(c)))
}

/// Words this long or longer may be corrected to a stem of the archive (whose forms may be
/// further from them than the stem is). A shorter word's forms are as near as its stem, and
/// the stem of another word one letter away is another word (`привет` → `привед-`, of
/// `приведет`).
const STEM_CORRECTION_MIN_CHARS: usize = 7;

impl Search<'_> {
    /// The typed query with each word the archive lacks corrected on its own, if the
    /// corrected query finds something within the same filters. Operators and the
    /// words that need no correction are kept as typed.
    pub(super) fn suggest(&self, input: &str, parsed: &Parsed, scope: &Scope) -> Result<Option<String>> {
        // folded word -> its correction
        let mut fixes: Vec<(String, String)> = Vec::new();
        let mut known: Vec<(String, String)> = Vec::new();
        for t in parsed.query.terms.iter().filter(|t| t.phrase.is_empty()) {
            if has_digit(&t.folded) || super::has_cjk(&t.folded) {
                continue;
            }
            if self.archive.doc_count(&t.stem)? > 0 {
                known.push((t.folded.clone(), t.stem.clone()));
                continue;
            }
            if let Some(w) = self.correction(&t.folded, &t.stem)? {
                fixes.push((t.folded.clone(), w));
            }
        }
        if fixes.is_empty() {
            return Ok(None);
        }
        // A word found only by its stem (`обучени`) is shown in the archive's own form.
        for (folded, stem) in known {
            if !self.is_word(&folded)?
                && let Some(form) = self.best_form(&stem, &folded)?
            {
                fixes.push((folded, form));
            }
        }
        let mut suggestion = String::with_capacity(input.len() + 8);
        let mut cursor = 0;
        for r in text::word_ranges(input) {
            let folded = text::fold(&input[r.clone()]);
            if let Some((_, fix)) = fixes.iter().find(|(f, _)| *f == folded) {
                suggestion.push_str(&input[cursor..r.start]);
                suggestion.push_str(fix);
                cursor = r.end;
            }
        }
        suggestion.push_str(&input[cursor..]);
        let mut q = Parsed::parse(&suggestion, self.archive.taxonomy(), chrono_tz::UTC).query;
        // A correction is a whole word: not a prefix being typed (FTS5 would merge the lists
        // of every stem it begins).
        for t in &mut q.terms {
            t.prefix = false;
        }
        let found = match (q.all_expr(), q.any_expr()) {
            (Some(all), any) => {
                self.exists(&scope.wrap(&all), scope)?
                    || any.map(|a| self.exists(&scope.wrap(&a), scope)).transpose()?.unwrap_or(false)
            }
            (None, _) => false,
        };
        Ok(found.then_some(suggestion))
    }

    /// The closest archive word to a word it lacks: by the word (`экзопланетты` ->
    /// `экзопланеты`) or by the stem (`манипулятр` -> `манипулятор`, whose forms are
    /// further from the word than their stem is), the nearer of the two.
    fn correction(&self, folded: &str, stem: &str) -> Result<Option<String>> {
        let generation = self.archive.vocabulary_generation()?;
        let words = self.searcher.vocabulary(self.archive, generation, false)?;
        let by_word = words.closest(folded).map(|(w, d)| (w.to_string(), d));
        if folded.chars().count() < STEM_CORRECTION_MIN_CHARS {
            return Ok(by_word.map(|(w, _)| w));
        }
        let stems = self.searcher.vocabulary(self.archive, generation, true)?;
        let by_stem = match stems.closest(stem) {
            Some((s, d)) if by_word.as_ref().is_none_or(|(_, wd)| d < *wd) => {
                self.best_form(s, folded)?.map(|w| (w, d))
            }
            _ => None,
        };
        Ok(by_stem.or(by_word).map(|(w, _)| w))
    }

    /// The archive's form of `stem` closest to `near`; among equally close ones the first
    /// alphabetically (`обучени` -> `обучение`, not `обучения` or `обучении`: in Russian the
    /// dictionary-like endings -е, -а sort before most oblique ones), then the most frequent.
    fn best_form(&self, stem: &str, near: &str) -> Result<Option<String>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT word, freq FROM vocabulary WHERE word >= ?1 AND word < ?1 || char(1114111) LIMIT 500",
        )?;
        let near: Vec<char> = near.chars().collect();
        let mut best: Option<(usize, String, i64)> = None;
        let mut rows = stmt.query([stem])?;
        while let Some(row) = rows.next()? {
            let word: String = row.get(0)?;
            if text::stem_folded(&word) != stem {
                continue;
            }
            let chars: Vec<char> = word.chars().collect();
            let d = distance_within(&near, &chars, usize::MAX / 2).unwrap_or(usize::MAX);
            let freq: i64 = row.get(1)?;
            let key = (d, word, -freq);
            if best.as_ref().is_none_or(|b| key < *b) {
                best = Some(key);
            }
        }
        Ok(best.map(|(_, w, _)| w))
    }
}

/// The Levenshtein distance of `a` and `b` if it is at most `max`: the rows of the
/// table stop as soon as every cell of one exceeds `max` (most of a vocabulary is
/// rejected after a row or two).
fn distance_within(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        row[0] = i + 1;
        let mut lowest = row[0];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            row[j + 1] = substitute.min(prev[j + 1] + 1).min(row[j] + 1);
            lowest = lowest.min(row[j + 1]);
        }
        if lowest > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut row);
    }
    Some(prev[b.len()]).filter(|&d| d <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_distance_agrees_with_levenshtein() {
        let words =
            ["экзопланеты", "экзопланетты", "экзопланиты", "планеты", "robot", "robots", "rbot", "", "ёж", "еж"];
        for a in words {
            for b in words {
                let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
                let full = strsim::levenshtein(a, b);
                for max in 0..4 {
                    assert_eq!(distance_within(&ca, &cb, max), (full <= max).then_some(full), "{a} {b} {max}");
                }
            }
        }
    }

    #[test]
    fn sketch_never_rejects_a_close_word() {
        let words = ["экзопланеты", "экзопланетты", "экзопланиты", "экзопланета", "abcdef", "abcdeg", "bacdef", "ёжик"];
        for a in words {
            for b in words {
                let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
                let d = strsim::levenshtein(a, b);
                assert!((sketch(&ca) ^ sketch(&cb)).count_ones() as usize <= 2 * d, "{a} {b}");
            }
        }
    }

    #[test]
    fn closest_prefers_near_then_frequent_then_alphabetical() -> Result<()> {
        let words = [("экзопланеты", 3), ("экзопланета", 9), ("роботы", 5), ("работы", 5), ("роботов", 7), ("кот", 1)];
        let mut by_len: Vec<Vec<Entry>> = Vec::new();
        for (word, freq) in words {
            let chars: Box<[char]> = word.chars().collect();
            let len = chars.len();
            if by_len.len() <= len {
                by_len.resize_with(len + 1, Vec::new);
            }
            by_len[len].push(Entry { sketch: sketch(&chars), chars, word: word.into(), freq });
        }
        by_len.iter_mut().for_each(|g| g.sort_by(|a, b| a.word.cmp(&b.word)));
        let v = Vocabulary { generation: 0, by_len };
        assert_eq!(v.closest("экзопланетты"), Some(("экзопланеты", 1)));
        // Distance 1 from both: the more frequent one.
        assert_eq!(v.closest("экзопланетa").map(|c| c.0), Some("экзопланета"));
        // Distance 1 from both, the same frequency: alphabetical.
        assert_eq!(v.closest("рботы").map(|c| c.0), Some("работы"));
        assert_eq!(v.closest("роботы").map(|c| c.0), Some("работы"));
        assert_eq!(v.closest("кто"), None);
        assert_eq!(v.closest("ко"), None);
        Ok(())
    }

    fn vocabulary(words: &[&str]) -> Vocabulary {
        let mut v = Vocabulary::default();
        for w in words {
            v.add(w, 1);
        }
        v
    }

    #[test]
    fn a_correction_is_close_for_the_length_and_keeps_the_first_letter_and_script() {
        // A change of the first letter turns a real word into another; two edits in five letters are too many.
        assert_eq!(vocabulary(&["stable", "tabel"]).closest("table"), None);
        // Two edits in six letters: too far. One is a typo.
        assert_eq!(vocabulary(&["приведет"]).closest("привет"), None);
        assert_eq!(vocabulary(&["приведет", "приветы"]).closest("привет"), Some(("приветы", 1)));
        assert_eq!(vocabulary(&["робот"]).closest("работ"), Some(("робот", 1)));
        // Two edits in twelve letters: a typo.
        assert_eq!(vocabulary(&["экзопланеты"]).closest("экзапланетты"), Some(("экзопланеты", 2)));
        assert_eq!(vocabulary(&["экзопланеты"]).closest("экзапланеттыы"), None, "three");
        // Latin to Latin only: `tablе` ends with a Cyrillic е.
        assert_eq!(vocabulary(&["tabl\u{0435}"]).closest("tablx"), None);
        assert_eq!(vocabulary(&["table"]).closest("tablx"), Some(("table", 1)));
        // A word mixing scripts may become either (`экзопланетa` ends with a Latin a).
        assert_eq!(vocabulary(&["экзопланета"]).closest("экзопланетa"), Some(("экзопланета", 1)));
    }
}
