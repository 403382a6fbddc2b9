//! The t.me public preview dump (the seed archive): a header, then the posts
//! oldest first, with no ids and no dates.
//!
//! Where a post starts: on a line led by an emoji that follows a non-blank
//! line (the meetup post has emoji lines too, but after blank lines), or on
//! any text line right after a line that is only a URL (a post's sources
//! close it; the meetup post has no emoji title and starts that way).

use std::collections::BTreeMap;

use crate::model::{NewChannel, NewPost};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DumpError {
    #[error("not a t.me preview dump: no \"Download Telegram\" line after the header")]
    NoHeader,
    #[error("the dump has a header but no posts")]
    NoPosts,
}

const HEADER_END: &str = "Download Telegram";

/// Does this text look like a dump? (Its header ends within the first lines.)
pub fn looks_like(text: &str) -> bool {
    text.lines().take(64).any(|l| l.trim() == HEADER_END)
}

/// Parses a dump into its channel and posts (seq = 1-based position).
pub fn parse(text: &str) -> Result<(NewChannel, Vec<NewPost>), DumpError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let end = lines.iter().take(64).position(|l| l.trim() == HEADER_END).ok_or(DumpError::NoHeader)?;
    let mut header = lines[..end].iter().map(|l| l.trim()).filter(|l| !l.is_empty());
    let title = header.next().ok_or(DumpError::NoHeader)?.to_string();
    let mut counters = BTreeMap::new();
    let mut description = Vec::new();
    for line in header {
        match counter(line) {
            Some((name, n)) if description.is_empty() => {
                counters.insert(name, n);
            }
            _ => description.push(line),
        }
    }
    let channel = NewChannel {
        source_key: format!("tme:{title}"),
        tg_id: None,
        username: None,
        title,
        description: (!description.is_empty()).then(|| description.join("\n")),
        counters,
    };

    let body = &lines[end + 1..];
    let mut posts: Vec<Vec<&str>> = Vec::new();
    for (i, line) in body.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| body[j].trim());
        let starts = match prev {
            None => !line.trim().is_empty(),
            Some(prev) => {
                let text_line = !line.trim().is_empty();
                (text_line && starts_with_emoji(line) && !prev.is_empty())
                    || (text_line && is_url_line(prev) && !is_url_line(line))
            }
        };
        if starts || (posts.is_empty() && !line.trim().is_empty()) {
            posts.push(Vec::new());
        }
        if let Some(current) = posts.last_mut() {
            current.push(line);
        }
    }
    let posts: Vec<NewPost> = posts
        .into_iter()
        .map(|lines| lines.join("\n").trim().to_string())
        .filter(|t| !t.is_empty())
        .enumerate()
        .map(|(i, text)| NewPost {
            message_id: None,
            seq: i as i64 + 1,
            date: None,
            edited: None,
            text,
            ..NewPost::default()
        })
        .collect();
    if posts.is_empty() {
        return Err(DumpError::NoPosts);
    }
    Ok((channel, posts))
}

fn is_url_line(line: &str) -> bool {
    let l = line.trim();
    (l.starts_with("http://") || l.starts_with("https://")) && !l.contains(char::is_whitespace)
}

/// `370 subscribers`, `1.2K photos`, `26 photos` -> ("subscribers", 370)
fn counter(line: &str) -> Option<(String, i64)> {
    let (number, name) = line.split_once(' ')?;
    if name.is_empty() || !name.chars().all(|c| c.is_alphabetic() || c == ' ') {
        return None;
    }
    let (digits, mult) = match number.chars().last()? {
        'K' | 'k' => (&number[..number.len() - 1], 1_000.0),
        'M' | 'm' => (&number[..number.len() - 1], 1_000_000.0),
        _ => (number, 1.0),
    };
    let value: f64 = digits.replace([',', ' '], "").parse().ok()?;
    Some((name.to_string(), (value * mult).round() as i64))
}

/// Is the first character an emoji (pictographs, symbols, dingbats)?
pub fn starts_with_emoji(line: &str) -> bool {
    line.chars().next().is_some_and(|c| {
        matches!(c as u32,
            0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF | 0x2190..=0x21FF
            | 0x25A0..=0x25FF | 0x2900..=0x297F | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x00A9 | 0x00AE
            | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_gives_twenty_posts() {
        let (channel, posts) = parse(crate::ingest::SEED).expect("seed parses");
        assert_eq!(channel.title, "Deep Dive 2 Deep Learning");
        assert_eq!(channel.counters.get("subscribers"), Some(&370));
        assert_eq!(channel.counters.get("photos"), Some(&26));
        assert_eq!(channel.counters.get("videos"), Some(&10));
        assert_eq!(channel.counters.get("links"), Some(&384));
        assert!(channel.description.as_deref().is_some_and(|d| d.starts_with("Канал про глубокое машинное обучение")));
        assert_eq!(posts.len(), 20);
        assert_eq!(crate::model::title_of(&posts[0].text), "👆🏻Повторение – мать ученья, даже для DL");
        assert_eq!(
            crate::model::title_of(&posts[19].text),
            "🙌🏻Ловкость рук и никакого мошенничества: DL для роботов-манипуляторов"
        );
        let meetup = posts.iter().find(|p| p.text.contains("Программа – пушка")).expect("meetup post");
        assert!(meetup.text.starts_with("Я продолжаю серию митапов"), "{}", meetup.text);
        assert!(meetup.text.contains("Николай Рядчиков") && meetup.text.contains("citymobil.timepad.ru"));
        // FinRL has URLs mid-text and stays one post.
        let finrl = posts.iter().find(|p| p.text.starts_with("💸")).expect("FinRL post");
        assert!(finrl.text.contains("ElegantRL") && finrl.text.contains("Смотрите подробный пример"));
        let seqs: Vec<i64> = posts.iter().map(|p| p.seq).collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    }

    #[test]
    fn not_a_dump() {
        assert_eq!(parse("hello\nworld").map(|_| ()), Err(DumpError::NoHeader));
        assert_eq!(parse("T\n1 subscribers\nDownload Telegram\n\n").map(|_| ()), Err(DumpError::NoPosts));
    }
}
