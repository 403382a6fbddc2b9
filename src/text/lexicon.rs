//! The analysis an import runs over many posts. An archive repeats its words, so
//! each distinct (folded) word form is stemmed once per import and given a small
//! id; per post only the fold and one hash lookup per word remain. The counts the
//! store keeps — how often each real word occurs (for "did you mean") and how many
//! posts hold each stem (for the search plans) — are tallied by id and written once
//! at the end of the import.

use rustc_hash::FxHashMap;

use crate::text;

/// What one word form maps to.
#[derive(Debug, Clone, Copy)]
struct Form {
    stem: u32,
    /// Occurrences in the analysed posts; only for forms worth suggesting.
    freq: i64,
    suggestible: bool,
}

#[derive(Debug)]
struct Stem {
    text: Box<str>,
    /// Analysed posts holding this stem.
    docs: i64,
    /// The last post that counted towards `docs` (so a stem counts once per post).
    last_post: u32,
}

/// One analysed text: its stemmed form as the index stores it, and its stems by id.
#[derive(Debug, Default)]
pub struct Analysis {
    pub stemmed: String,
    pub stems: Vec<u32>,
}

/// Word forms and stems seen by one import, with their counts.
#[derive(Debug, Default)]
pub struct Lexicon {
    form_ids: FxHashMap<Box<str>, u32>,
    forms: Vec<(Box<str>, Form)>,
    stem_ids: FxHashMap<Box<str>, u32>,
    stems: Vec<Stem>,
    /// Number of posts counted so far (1-based ids for `Stem::last_post`).
    posts: u32,
    folded: String,
}

/// Words worth suggesting: real words of 3..=40 characters with a letter in them. (A CJK
/// token is a bigram or one character: never suggested, never a correction.)
pub fn suggestible(folded: &str) -> bool {
    let n = folded.chars().count();
    (3..=40).contains(&n) && folded.chars().any(char::is_alphabetic) && !folded.chars().any(text::is_cjk)
}

impl Lexicon {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stem id of a folded word form, stemming it the first time it is seen.
    fn form(&mut self, folded: &str) -> usize {
        if let Some(&id) = self.form_ids.get(folded) {
            return id as usize;
        }
        let stem = text::stem_uncached(folded);
        let stem = match self.stem_ids.get(stem.as_ref()) {
            Some(&id) => id,
            None => {
                let id = self.stems.len() as u32;
                self.stems.push(Stem { text: stem.as_ref().into(), docs: 0, last_post: 0 });
                self.stem_ids.insert(stem.as_ref().into(), id);
                id
            }
        };
        let id = self.forms.len();
        let form = Form { stem, freq: 0, suggestible: suggestible(folded) };
        self.forms.push((folded.into(), form));
        self.form_ids.insert(folded.into(), id as u32);
        id
    }

    /// Analyses a post's text and counts it: each word form's occurrences, each stem once.
    pub fn count(&mut self, text: &str) -> Analysis {
        self.posts += 1;
        let post = self.posts;
        self.analyse(text, |lexicon, form| {
            let (_, f) = &mut lexicon.forms[form];
            if f.suggestible {
                f.freq += 1;
            }
            let stem = &mut lexicon.stems[f.stem as usize];
            if stem.last_post != post {
                stem.last_post = post;
                stem.docs += 1;
            }
        })
    }

    /// The stemmed form of a text (a title), counting nothing.
    pub fn stemmed(&mut self, text: &str) -> String {
        self.analyse(text, |_, _| {}).stemmed
    }

    fn analyse(&mut self, text: &str, mut tally: impl FnMut(&mut Self, usize)) -> Analysis {
        let mut out = Analysis { stemmed: String::with_capacity(text.len()), stems: Vec::new() };
        let mut folded = std::mem::take(&mut self.folded);
        for range in text::word_ranges(text) {
            let word = &text[range];
            if text::is_cjk_word(word) {
                // Its bigrams, each a form and a stem of its own (CJK has no case to fold).
                for gram in text::grams(word) {
                    self.token(gram, &mut out, &mut tally);
                }
                continue;
            }
            folded.clear();
            text::fold_into(word, &mut folded);
            self.token(&folded, &mut out, &mut tally);
        }
        self.folded = folded;
        out
    }

    /// Counts one token (a folded word form) and appends its stem to `out`.
    #[inline]
    fn token(&mut self, folded: &str, out: &mut Analysis, tally: &mut impl FnMut(&mut Self, usize)) {
        let form = self.form(folded);
        tally(self, form);
        let stem = self.forms[form].1.stem;
        if !out.stemmed.is_empty() {
            out.stemmed.push(' ');
        }
        out.stemmed.push_str(&self.stems[stem as usize].text);
        out.stems.push(stem);
    }

    /// The text of a stem id.
    pub fn stem(&self, id: u32) -> &str {
        &self.stems[id as usize].text
    }

    /// Suggestible word forms with their occurrences (those that occurred).
    pub fn word_counts(&self) -> impl Iterator<Item = (&str, i64)> {
        self.forms.iter().filter(|(_, f)| f.freq > 0).map(|(w, f)| (&**w, f.freq))
    }

    /// Stems with the number of counted posts holding them.
    pub fn stem_counts(&self) -> impl Iterator<Item = (&str, i64)> {
        self.stems.iter().filter(|s| s.docs > 0).map(|s| (&*s.text, s.docs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_plain_analysis() {
        let mut lexicon = Lexicon::new();
        for text in [
            "Торговых стратегий — ТОРГОВАЯ стратегия!",
            "M1, Wave2vec и Kepler-1705b; ёлки-палки 🙂 <b>",
            "GPT模型的课程内容是高等数学，東京でラーメン、인공지능 연구 好",
        ] {
            let analysis = lexicon.count(text);
            assert_eq!(analysis.stemmed, text::stemmed(text));
            let stems: Vec<String> = text::words(text).into_iter().map(|w| w.stem).collect();
            let ours: Vec<&str> = analysis.stems.iter().map(|&s| lexicon.stem(s)).collect();
            assert_eq!(ours, stems);
        }
    }

    #[test]
    fn counts_forms_per_occurrence_and_stems_per_post() {
        let mut lexicon = Lexicon::new();
        lexicon.count("Робот робота роботу. Робот!");
        lexicon.count("робот и мы");
        assert_eq!(lexicon.stemmed("Роботы и кошки"), text::stemmed("Роботы и кошки"));
        let words: FxHashMap<&str, i64> = lexicon.word_counts().collect();
        // Folded forms; two-letter words are not suggested; the title counted nothing.
        assert_eq!(words.get("робот"), Some(&3));
        assert_eq!(words.get("робота"), Some(&1));
        assert_eq!(words.get("мы"), None);
        assert_eq!(words.get("кошки"), None);
        let stems: FxHashMap<&str, i64> = lexicon.stem_counts().collect();
        assert_eq!(stems.get(text::stem("робот").as_str()), Some(&2));
        assert_eq!(stems.get("и"), Some(&1));
        assert_eq!(stems.get(text::stem("кошки").as_str()), None);
    }

    #[test]
    fn cjk_bigrams_are_counted_per_post_and_never_suggested() {
        let mut lexicon = Lexicon::new();
        lexicon.count("开源项目，开源社区");
        lexicon.count("开源");
        let stems: FxHashMap<&str, i64> = lexicon.stem_counts().collect();
        assert_eq!(stems.get("开源"), Some(&2));
        assert_eq!(stems.get("源项"), Some(&1));
        assert_eq!(stems.get("区"), Some(&1));
        assert_eq!(lexicon.word_counts().count(), 0, "no CJK token is a word to suggest");
        assert!(!suggestible("开源项目"));
    }
}
