//! The channel's taxonomy (`seeds/topics.toml`) and the tagging of posts.
//!
//! Markers are written as ordinary words; they go through the same stemmer
//! as the posts, so `робот` tags a post that says `роботу`. A marker of
//! several words matches those stems in sequence.

use rustc_hash::FxHashMap;

use serde::Deserialize;

use crate::text;

/// The taxonomy shipped with the binary.
pub const BUNDLED: &str = include_str!("../seeds/topics.toml");

#[derive(Debug, thiserror::Error)]
pub enum TopicsError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    topic: Vec<RawTopic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    slug: String,
    ru: String,
    en: String,
    #[serde(default)]
    emoji: String,
    markers: Vec<String>,
}

/// One topic: its names and the stem sequences that mark it.
#[derive(Debug, Clone)]
pub struct Topic {
    pub slug: String,
    pub ru: String,
    pub en: String,
    pub emoji: String,
    markers: Vec<Vec<String>>,
}

/// All topics, with an index from a marker's first stem to the markers.
#[derive(Debug, Clone, Default)]
pub struct Taxonomy {
    pub topics: Vec<Topic>,
    /// first stem -> (topic index, marker index)
    index: FxHashMap<String, Vec<(usize, usize)>>,
}

impl Taxonomy {
    pub fn bundled() -> Self {
        // The bundled file is tested; failing here is a build defect, not user input.
        Self::parse(BUNDLED, "seeds/topics.toml").expect("the bundled seeds/topics.toml is valid")
    }

    pub fn parse(text: &str, path: &str) -> Result<Self, TopicsError> {
        let invalid = |message: String| TopicsError::Invalid { path: path.to_string(), message };
        let file: File = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut taxonomy = Taxonomy::default();
        for raw in file.topic {
            let slug_ok = !raw.slug.is_empty()
                && raw.slug.len() <= 24
                && raw.slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !slug_ok {
                return Err(invalid(format!("topic slug {:?} must be 1-24 characters of a-z, 0-9, '-'", raw.slug)));
            }
            if taxonomy.topics.iter().any(|t| t.slug == raw.slug) {
                return Err(invalid(format!("topic slug {:?} appears twice", raw.slug)));
            }
            if raw.ru.trim().is_empty() || raw.en.trim().is_empty() {
                return Err(invalid(format!("topic {:?} needs both `ru` and `en` names", raw.slug)));
            }
            let markers: Vec<Vec<String>> = raw
                .markers
                .iter()
                .map(|m| text::words(m).into_iter().map(|w| w.stem).collect::<Vec<_>>())
                .filter(|m| !m.is_empty())
                .collect();
            if markers.is_empty() {
                return Err(invalid(format!("topic {:?} has no markers", raw.slug)));
            }
            let t = taxonomy.topics.len();
            for (m, marker) in markers.iter().enumerate() {
                taxonomy.index.entry(marker[0].clone()).or_default().push((t, m));
            }
            taxonomy.topics.push(Topic { slug: raw.slug, ru: raw.ru, en: raw.en, emoji: raw.emoji, markers });
        }
        if taxonomy.topics.is_empty() {
            return Err(invalid("no [[topic]] entries".to_string()));
        }
        Ok(taxonomy)
    }

    /// Indices of the topics whose markers occur in a post's stems, in taxonomy order.
    pub fn tag(&self, stems: &[&str]) -> Vec<usize> {
        let mut hit = vec![false; self.topics.len()];
        for (i, stem) in stems.iter().enumerate() {
            let Some(candidates) = self.index.get(*stem) else { continue };
            for &(t, m) in candidates {
                if hit[t] {
                    continue;
                }
                let marker = &self.topics[t].markers[m];
                if stems.len() - i >= marker.len() && marker.iter().zip(&stems[i..]).all(|(a, b)| a == b) {
                    hit[t] = true;
                }
            }
        }
        hit.iter().enumerate().filter(|(_, h)| **h).map(|(i, _)| i).collect()
    }

    /// Finds a topic by slug or by its Russian or English name, any case.
    pub fn find(&self, name: &str) -> Option<&Topic> {
        let wanted = text::fold(name.trim());
        self.topics.iter().find(|t| t.slug == wanted || text::fold(&t.ru) == wanted || text::fold(&t.en) == wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[[topic]]
slug = "robots"
ru = "Робототехника"
en = "Robotics"
markers = ["робот", "robot dog", "манипулятор"]

[[topic]]
slug = "rl"
ru = "Обучение с подкреплением"
en = "Reinforcement learning"
markers = ["обучение с подкреплением"]
"#;

    fn stems(text: &str) -> Vec<String> {
        text::words(text).into_iter().map(|w| w.stem).collect()
    }

    #[test]
    fn inflected_markers_and_phrases_tag() {
        let tax = Taxonomy::parse(SAMPLE, "sample").expect("valid");
        let s = stems("Роботу-собаке помогло обучением с подкреплением");
        let refs: Vec<&str> = s.iter().map(String::as_str).collect();
        assert_eq!(tax.tag(&refs), [0, 1]);
        let s = stems("обучение без подкрепления, a robot; dog");
        let refs: Vec<&str> = s.iter().map(String::as_str).collect();
        assert_eq!(tax.tag(&refs), [0]);
    }

    #[test]
    fn find_by_slug_or_name_any_case() {
        let tax = Taxonomy::parse(SAMPLE, "sample").expect("valid");
        assert_eq!(tax.find("ROBOTS").map(|t| t.slug.as_str()), Some("robots"));
        assert_eq!(tax.find("робототехника").map(|t| t.slug.as_str()), Some("robots"));
        assert_eq!(tax.find("reinforcement learning").map(|t| t.slug.as_str()), Some("rl"));
        assert!(tax.find("кулинария").is_none());
    }

    #[test]
    fn bad_files_are_explained() {
        let err = Taxonomy::parse("[[topic]]\nslug = \"Bad Slug\"\nru=\"a\"\nen=\"b\"\nmarkers=[\"x\"]", "t.toml")
            .expect_err("bad slug");
        assert!(err.to_string().contains("t.toml"), "{err}");
        assert!(Taxonomy::parse("not toml [", "t.toml").is_err());
    }

    #[test]
    fn bundled_taxonomy_loads() {
        let tax = Taxonomy::bundled();
        assert!((8..=14).contains(&tax.topics.len()), "{} topics", tax.topics.len());
    }
}
