//! The glossary (`seeds/glossary.toml`): sets of equivalent terms across Russian and
//! English, so that `reinforcement learning` also finds `обучение с подкреплением`. Terms
//! are stemmed like posts; a query's words are matched against them longest first.

use std::sync::{Arc, LazyLock};

use rustc_hash::FxHashMap;
use serde::Deserialize;

use super::query::is_stopword;
use crate::text;

/// The glossary shipped with the binary.
pub const BUNDLED: &str = include_str!("../../seeds/glossary.toml");

static BUNDLED_GLOSSARY: LazyLock<Arc<Glossary>> = LazyLock::new(|| {
    // The bundled file is tested; an error here is a build defect, and an empty glossary the fallback.
    Arc::new(Glossary::parse(BUNDLED, "seeds/glossary.toml").unwrap_or_default())
});

/// Why a text is not a glossary; each says the file (`path`) it is about.
#[derive(Debug, thiserror::Error)]
pub enum GlossaryError {
    /// Not TOML, or not a glossary's fields.
    #[error("{path}: {problem}")]
    Toml { path: String, problem: toml::de::Error },
    /// No set at all: it would replace every set of the bundled glossary with none.
    #[error(
        "{path}: no sets of terms in it (each is a [[set]] with terms = [\"…\", \"…\"], as in seeds/glossary.toml)"
    )]
    NoSets { path: String },
    /// A set (counted from 1) with fewer than two terms.
    #[error("{path}: set {set} needs two terms or more")]
    ShortSet { path: String, set: usize },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    set: Vec<RawSet>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSet {
    terms: Vec<String>,
}

/// A term of a set: its stems, and the same without stopwords (what a query is matched on).
#[derive(Debug, Clone)]
struct Member {
    stems: Vec<String>,
    key: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Glossary {
    sets: Vec<Vec<Member>>,
    /// First stem of a member's key -> (set, member).
    index: FxHashMap<String, Vec<(usize, usize)>>,
}

/// A run of a query's words found in the glossary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// How many of the words it covers.
    pub len: usize,
    /// The stems of the set's other members (each a word or a phrase).
    pub others: Vec<Vec<String>>,
}

impl Glossary {
    pub fn bundled() -> Arc<Glossary> {
        BUNDLED_GLOSSARY.clone()
    }

    pub fn parse(text: &str, path: &str) -> Result<Glossary, GlossaryError> {
        let file: File =
            toml::from_str(text).map_err(|problem| GlossaryError::Toml { path: path.to_string(), problem })?;
        // An empty file would replace every set of the bundled glossary with none: surely
        // not what was meant, so it is refused like a broken one.
        if file.set.is_empty() {
            return Err(GlossaryError::NoSets { path: path.to_string() });
        }
        let mut g = Glossary::default();
        for (i, raw) in file.set.into_iter().enumerate() {
            let members: Vec<Member> = raw
                .terms
                .iter()
                .filter_map(|t| {
                    // Matched as a phrase: a CJK run at its end without the run-end token.
                    let stems: Vec<String> = text::phrase_words(t).into_iter().map(|w| w.stem).collect();
                    let key: Vec<String> =
                        text::words(t).into_iter().filter(|w| !is_stopword(&w.folded)).map(|w| w.stem).collect();
                    (!key.is_empty()).then_some(Member { stems, key })
                })
                .collect();
            if members.len() < 2 {
                return Err(GlossaryError::ShortSet { path: path.to_string(), set: i + 1 });
            }
            let set = g.sets.len();
            for (m, member) in members.iter().enumerate() {
                g.index.entry(member.key[0].clone()).or_default().push((set, m));
            }
            g.sets.push(members);
        }
        Ok(g)
    }

    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The longest member beginning `stems` (a query's words, stopwords left out), if any.
    pub fn longest(&self, stems: &[&str]) -> Option<Found> {
        let first = stems.first()?;
        let mut best: Option<(usize, usize, usize)> = None;
        for &(set, m) in self.index.get(*first)? {
            let key = &self.sets[set][m].key;
            if key.len() <= stems.len()
                && key.iter().zip(stems).all(|(a, b)| a == b)
                && best.is_none_or(|(len, _, _)| key.len() > len)
            {
                best = Some((key.len(), set, m));
            }
        }
        let (len, set, m) = best?;
        let others = self.sets[set]
            .iter()
            .enumerate()
            .filter(|(i, other)| *i != m && other.key != self.sets[set][m].key)
            .map(|(_, other)| other.stems.clone())
            .collect();
        Some(Found { len, others })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(s: &str) -> Vec<String> {
        text::words(s).into_iter().filter(|w| !is_stopword(&w.folded)).map(|w| w.stem).collect()
    }

    #[test]
    fn bundled_glossary_has_a_hundred_sets_or_more() {
        let g = Glossary::parse(BUNDLED, "seeds/glossary.toml").expect("valid");
        assert!(g.len() >= 100, "{} sets", g.len());
    }

    #[test]
    fn longest_member_first_across_languages() {
        let g = Glossary::bundled();
        let q = stems("reinforcement learning agents");
        let refs: Vec<&str> = q.iter().map(String::as_str).collect();
        let found = g.longest(&refs).expect("found");
        assert_eq!(found.len, 2);
        assert!(found.others.contains(&text::words("обучение с подкреплением").into_iter().map(|w| w.stem).collect()));
        let q = stems("обучением с подкреплением");
        let refs: Vec<&str> = q.iter().map(String::as_str).collect();
        assert!(
            g.longest(&refs)
                .is_some_and(|f| f.len == 2 && f.others.iter().any(|o| o == &stems("reinforcement learning")))
        );
        assert_eq!(g.longest(&["кукуруз"]), None);
    }

    #[test]
    fn a_cjk_member_is_matched_as_the_phrase_of_its_bigrams() {
        let g = Glossary::parse("[[set]]\nterms = [\"machine learning\", \"机器学习\"]\n", "g.toml").expect("valid");
        let q = stems("machine learning");
        let refs: Vec<&str> = q.iter().map(String::as_str).collect();
        let found = g.longest(&refs).expect("found");
        // Without the run-end token `习`: the post's run may go on (`机器学习的`).
        assert_eq!(found.others, [["机器", "器学", "学习"].map(String::from).to_vec()]);
    }

    #[test]
    fn bad_files_are_explained() {
        let short = Glossary::parse("[[set]]\nterms = [\"one\"]", "g.toml");
        assert!(matches!(short, Err(GlossaryError::ShortSet { ref path, set: 1 }) if path == "g.toml"), "{short:?}");
        assert!(matches!(Glossary::parse("nonsense [", "g.toml"), Err(GlossaryError::Toml { .. })));
        for empty in ["", "# only a comment\n", "set = []"] {
            let parsed = Glossary::parse(empty, "g.toml");
            assert!(matches!(parsed, Err(GlossaryError::NoSets { ref path }) if path == "g.toml"), "{empty:?}");
        }
    }
}
