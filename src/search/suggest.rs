//! "Did you mean": real words of the archive close to the words of a query that
//! found nothing. The vocabulary is held in memory, grouped by length, each word
//! with a 64-bit sketch of its letters: a word within edit distance `k` differs
//! from the typed one in at most `2k` sketch bits, so nearly all of the vocabulary
//! is rejected by one XOR and a popcount before any edit distance is computed.
//! One copy serves every connection (`Searcher`); it is read again when an import
//! changed the vocabulary (the store's vocabulary generation, which every import's
//! commit advances, in any process).

use super::{Query, Search};
use crate::store::{Archive, Result};

/// A word of the vocabulary.
#[derive(Debug)]
struct Entry {
    word: Box<str>,
    chars: Box<[char]>,
    sketch: u64,
    freq: i64,
}

/// The archive's vocabulary as last read, for suggestions.
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
    pub(super) fn load(archive: &Archive, generation: i64) -> Result<Self> {
        let mut by_len: Vec<Vec<Entry>> = Vec::new();
        archive.for_each_word(|word, freq| {
            let word = word.to_string();
            let chars: Box<[char]> = word.chars().collect();
            let len = chars.len();
            if by_len.len() <= len {
                by_len.resize_with(len + 1, Vec::new);
            }
            by_len[len].push(Entry { sketch: sketch(&chars), chars, word: word.into(), freq });
        })?;
        Ok(Vocabulary { generation, by_len })
    }

    /// The most frequent word within a small edit distance of `word` (the nearest
    /// first, then the most frequent, then the first in alphabetical order).
    fn closest(&self, word: &str) -> Option<&str> {
        let chars: Vec<char> = word.chars().collect();
        let len = chars.len();
        if len < 3 {
            return None;
        }
        let max = if len <= 4 { 1 } else { 2 };
        let mine = sketch(&chars);
        let mut best: Option<(usize, &Entry)> = None;
        for group in self.by_len.iter().take(len + max + 1).skip(len - max) {
            for e in group {
                if (e.sketch ^ mine).count_ones() as usize > 2 * max {
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
        best.map(|(_, e)| &*e.word)
    }
}

impl Search<'_> {
    /// A query of real archive words close to the one that found nothing, if it finds something.
    pub(super) fn suggest(&self, query: &Query) -> Result<Option<String>> {
        let mut changed = false;
        let mut words = Vec::with_capacity(query.terms.len());
        for t in &query.terms {
            if self.archive.doc_count(&t.stem)? > 0 {
                words.push(t.folded.clone());
                continue;
            }
            match self.closest_word(&t.folded)? {
                Some(w) => {
                    changed = true;
                    words.push(w);
                }
                None => words.push(t.folded.clone()),
            }
        }
        if !changed {
            return Ok(None);
        }
        let suggestion = words.join(" ");
        let q = Query::parse(&suggestion);
        let found = match (q.all_expr(), q.any_expr()) {
            (Some(all), any) => {
                self.count(&all)? > 0 || any.map(|a| self.count(&a)).transpose()?.is_some_and(|n| n > 0)
            }
            (None, _) => false,
        };
        Ok(found.then_some(suggestion))
    }

    /// The closest vocabulary word to `word`, reading the vocabulary again if the store changed.
    fn closest_word(&self, word: &str) -> Result<Option<String>> {
        let generation = self.archive.vocabulary_generation()?;
        let vocabulary = self.searcher.vocabulary(self.archive, generation)?;
        Ok(vocabulary.closest(word).map(str::to_string))
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
        assert_eq!(v.closest("экзопланетты"), Some("экзопланеты"));
        // Distance 1 from both: the more frequent one.
        assert_eq!(v.closest("экзопланетa"), Some("экзопланета"));
        // Distance 1 from both, the same frequency: alphabetical.
        assert_eq!(v.closest("рботы"), Some("работы"));
        assert_eq!(v.closest("роботы"), Some("работы"));
        assert_eq!(v.closest("кто"), None);
        assert_eq!(v.closest("ко"), None);
        Ok(())
    }
}
