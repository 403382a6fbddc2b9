//! Greetings and thanks in a private chat. A person who writes `привет` or `thanks` is
//! talking, not searching: a search would answer with a "correction" (`привет` →
//! `приведет`) or nothing. They get a greeting instead, with two searches this archive
//! answers, so the next message can be one.

use rustc_hash::FxHashMap;

use super::Reply;
use crate::i18n::{Lang, fill};
use crate::render::html::escape;
use crate::search::query::is_stopword;
use crate::store::{Archive, StoreError};
use crate::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greeting {
    Hello,
    Thanks,
}

/// Whole messages that greet, as [`normalize`] leaves them.
const HELLO: &[&str] = &[
    "привет",
    "приветствую",
    "здравствуйте",
    "здравствуй",
    "добрый день",
    "добрый вечер",
    "доброе утро",
    "hello",
    "hi",
    "hey",
    "good morning",
    "good afternoon",
    "good evening",
];

/// Whole messages that thank, as [`normalize`] leaves them.
const THANKS: &[&str] = &[
    "спасибо",
    "спасибо большое",
    "большое спасибо",
    "благодарю",
    "thanks",
    "thank you",
    "thanks a lot",
    "thank you very much",
    "many thanks",
    "thx",
];

/// The message's words, folded, everything but letters dropped (`Привет!!` → `привет`,
/// `Thank you :)` → `thank you`); `None` when it has a digit (`привет 2` is not a greeting).
fn normalize(text: &str) -> Option<String> {
    let mut letters = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_numeric() {
            return None;
        }
        if c.is_alphabetic() {
            letters.push(c);
        } else {
            letters.push(' ');
        }
    }
    let words: Vec<String> = letters.split_whitespace().map(text::fold).collect();
    Some(words.join(" "))
}

/// Is the whole message a greeting or thanks?
pub fn greeting(message: &str) -> Option<Greeting> {
    let said = normalize(message)?;
    if HELLO.contains(&said.as_str()) {
        Some(Greeting::Hello)
    } else if THANKS.contains(&said.as_str()) {
        Some(Greeting::Thanks)
    } else {
        None
    }
}

/// How many of the newest posts' titles the examples are drawn from: enough to find the
/// archive's recurring subjects, few enough to read at once.
const EXAMPLE_TITLES: usize = 300;
/// Shorter words are mostly abbreviations and particles, poor examples.
const EXAMPLE_MIN_CHARS: usize = 4;

/// Searches this archive answers: the words found in the most titles of its newest posts
/// (letters only, four or more, not stopwords, one per stem), each in the form the titles
/// use most; at most `n`, the most frequent first.
pub fn example_searches(archive: &Archive, n: usize) -> Result<Vec<String>, StoreError> {
    // stem -> (titles having it, its forms with their counts)
    let mut stems: FxHashMap<String, (usize, FxHashMap<String, usize>)> = FxHashMap::default();
    for title in archive.recent_titles(EXAMPLE_TITLES)? {
        let mut seen: Vec<String> = Vec::new();
        for w in text::words(&title) {
            if w.folded.chars().count() < EXAMPLE_MIN_CHARS
                || !w.folded.chars().all(char::is_alphabetic)
                || is_stopword(&w.folded)
            {
                continue;
            }
            let entry = stems.entry(w.stem.clone()).or_default();
            *entry.1.entry(w.folded).or_default() += 1;
            if !seen.contains(&w.stem) {
                entry.0 += 1;
                seen.push(w.stem);
            }
        }
    }
    let mut ranked: Vec<(usize, String)> = stems
        .into_values()
        .filter_map(|(titles, forms)| {
            // The commonest form; among equals the first alphabetically, so the choice is stable.
            let form = forms.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))?.0;
            Some((titles, form))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(ranked.into_iter().take(n).map(|(_, form)| form).collect())
}

/// "For example: `a` or `b`", or "" when the archive has no titles to draw from.
pub fn examples_line(archive: &Archive, lang: Lang) -> Result<String, StoreError> {
    let t = lang.texts();
    let examples = example_searches(archive, 2)?;
    let code = |w: &String| format!("<code>{}</code>", escape(w));
    Ok(match examples.as_slice() {
        [a, b] => fill(t.examples_two, &[("a", &code(a)), ("b", &code(b))]),
        [a] => fill(t.examples_one, &[("a", &code(a))]),
        _ => String::new(),
    })
}

/// The answer to a greeting or thanks: a line of its own and two searches to try.
pub fn reply(archive: &Archive, lang: Lang, kind: Greeting) -> Result<Reply, StoreError> {
    let t = lang.texts();
    let mut html = match kind {
        Greeting::Hello => t.greeting_hello,
        Greeting::Thanks => t.greeting_thanks,
    }
    .to_string();
    let examples = examples_line(archive, lang)?;
    if !examples.is_empty() {
        html.push('\n');
        html.push_str(&examples);
    }
    html.push('\n');
    html.push_str(t.greeting_help);
    Ok(Reply::text(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_are_whole_messages_in_any_case_and_punctuation() {
        for hello in ["привет", "Привет!", "ПРИВЕТ!!!", "здравствуйте.", "Hello", "hi", "Hi :)", "  hey  "]
        {
            assert_eq!(greeting(hello), Some(Greeting::Hello), "{hello}");
        }
        for thanks in ["спасибо", "Спасибо!", "спасибо 🙏", "thanks", "Thank you!", "THANK YOU", "thank  you"]
        {
            assert_eq!(greeting(thanks), Some(Greeting::Thanks), "{thanks}");
        }
        for search in ["привет мир", "hi robots", "спасибо за пост", "привет 2", "thankyou", "", "!!!", "приветы"]
        {
            assert_eq!(greeting(search), None, "{search}");
        }
    }

    #[test]
    fn examples_are_the_commonest_title_words_in_their_commonest_form() -> anyhow::Result<()> {
        use crate::model::{NewChannel, NewPost};
        let mut archive = Archive::open_in_memory()?;
        let titles = [
            "Робот учится ходить",
            "Роботы и люди: новые роботы",
            "Робота научили прыгать",
            "Нейросеть рисует",
            "Нейросеть пишет код",
            "Как это было",
        ];
        archive.import(|sink| -> crate::store::Result<()> {
            sink.channel(&NewChannel::telegram(-1001, "T"))?;
            for (i, title) in titles.iter().enumerate() {
                let seq = i as i64 + 1;
                sink.post(NewPost {
                    message_id: Some(seq),
                    seq,
                    text: format!("{title}\nтекст"),
                    ..NewPost::default()
                })?;
            }
            Ok(())
        })?;
        // `робот` is in three titles (`роботы` twice in one counts once), `нейросеть` in two;
        // `как`, `это`, `было` are too short or stopwords.
        assert_eq!(example_searches(&archive, 2)?, ["роботы", "нейросеть"]);
        assert_eq!(example_searches(&Archive::open_in_memory()?, 2)?, Vec::<String>::new());
        Ok(())
    }
}
