//! A post, a list of posts, a page of search results: as Telegram HTML.

use chrono_tz::Tz;

use super::html::{self, MESSAGE_LIMIT, escape, utf16_len};
use crate::i18n::Lang;
use crate::model::{Entity, EntityKind, Post};
use crate::search::SearchHit;

/// Room kept free in every part for what Telegram might count differently.
const SAFETY: usize = 16;

/// Topics as `🎮 Обучение с подкреплением, 🤖 Робототехника`.
pub fn topics_line(post: &Post, lang: Lang) -> String {
    post.topics
        .iter()
        .map(|t| {
            let name = lang.pick(&t.ru, &t.en);
            if t.emoji.is_empty() { name.to_string() } else { format!("{} {name}", t.emoji) }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The post's formatting; a post with none (the t.me dump) gets its title line in bold.
pub fn entities_for_display(post: &Post) -> Vec<Entity> {
    if !post.entities.is_empty() {
        return post.entities.clone();
    }
    let first = post.body.lines().next().unwrap_or("");
    let len = utf16_len(first) as u32;
    if len == 0 || first.len() == post.body.len() {
        return Vec::new();
    }
    vec![Entity { kind: EntityKind::Bold, offset: 0, length: len }]
}

/// The footer under a post: `📅 date · topics · #id · link`.
fn footer(post: &Post, lang: Lang, tz: Tz) -> (String, usize) {
    let mut plain = Vec::new();
    let mut parts = Vec::new();
    if let Some(d) = post.date {
        let s = format!("📅 {}", lang.date(d, tz));
        plain.push(s.clone());
        parts.push(escape(&s));
    }
    let topics = topics_line(post, lang);
    if !topics.is_empty() {
        plain.push(topics.clone());
        parts.push(escape(&topics));
    }
    let id = format!("#{}", post.id);
    plain.push(id.clone());
    parts.push(id);
    if let Some(url) = &post.url {
        let label = lang.texts().open_in_channel;
        plain.push(format!("🔗 {label}"));
        parts.push(format!("🔗 <a href=\"{}\">{label}</a>", escape(url)));
    }
    let html = parts.join(" · ");
    let units = utf16_len(&plain.join(" · "));
    (html, units)
}

/// A whole post as one or more messages, each under Telegram's limit;
/// `header` (plain text) goes first, the footer last.
pub fn post_messages(post: &Post, lang: Lang, tz: Tz, header: Option<&str>, with_footer: bool) -> Vec<String> {
    let (footer_html, footer_units) = if with_footer { footer(post, lang, tz) } else { (String::new(), 0) };
    let header_units = header.map_or(0, |h| utf16_len(h) + 2);
    let budget = MESSAGE_LIMIT - SAFETY - footer_units.max(header_units) - 2;
    let entities = entities_for_display(post);
    let parts = html::split(&post.body, &entities, budget);
    let n = parts.len();
    let mut out = Vec::with_capacity(n.max(1));
    for (i, part) in parts.into_iter().enumerate() {
        let mut text = String::new();
        if i == 0
            && let Some(h) = header
        {
            text.push_str(&escape(h));
            text.push_str("\n\n");
        }
        text.push_str(&html::render(&part.text, &part.entities));
        if i + 1 == n && with_footer {
            text.push_str("\n\n");
            text.push_str(&footer_html);
        }
        out.push(text);
    }
    if out.is_empty() {
        out.push(footer_html);
    }
    out
}

/// One line of a list: `N. <b>title</b>` + meta line + optional snippet + `/post_ID`.
pub fn list_entry(n: usize, post: &Post, snippet_html: Option<&str>, lang: Lang, tz: Tz) -> String {
    let title =
        if post.title.is_empty() { lang.texts().no_title.to_string() } else { html::truncate(&post.title, 120) };
    let mut out = format!("{n}. <b>{}</b>", escape(&title));
    let mut meta = Vec::new();
    if let Some(d) = post.date {
        meta.push(lang.date(d, tz));
    }
    let topics = topics_line(post, lang);
    if !topics.is_empty() {
        meta.push(topics);
    }
    if !meta.is_empty() {
        out.push('\n');
        out.push_str(&escape(&meta.join(" · ")));
    }
    if let Some(s) = snippet_html {
        out.push('\n');
        out.push_str(s);
    }
    out.push_str(&format!("\n→ /post_{}", post.id));
    out
}

/// A search hit's snippet as HTML, matched words bold, at most ~300 characters.
pub fn snippet_html(hit: &SearchHit) -> String {
    let mut out = String::with_capacity(512);
    let mut budget = 300usize;
    for piece in &hit.snippet.0 {
        if budget == 0 {
            break;
        }
        let n = piece.text.chars().count();
        let text = if n > budget {
            let cut = html::truncate(&piece.text, budget);
            budget = 0;
            std::borrow::Cow::Owned(cut)
        } else {
            budget -= n;
            std::borrow::Cow::Borrowed(piece.text.as_str())
        };
        crate::search::render_piece(&mut out, &text, piece.mark, html::escape_into, "<b>", "</b>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str) -> Post {
        Post {
            id: 7,
            channel_id: 1,
            channel_title: "c".into(),
            message_id: Some(5),
            seq: 5,
            date: chrono::DateTime::from_timestamp(1_634_000_000, 0),
            edited: None,
            title: crate::model::title_of(body),
            body: body.into(),
            entities: Vec::new(),
            links: Vec::new(),
            topics: Vec::new(),
            url: Some("https://t.me/chan/5".into()),
        }
    }

    #[test]
    fn short_post_is_one_message_with_bold_title_and_footer() {
        let m = post_messages(&post("Заголовок <1>\nтекст & ещё"), Lang::Ru, Tz::UTC, None, true);
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("<b>Заголовок &lt;1&gt;</b>\nтекст &amp; ещё"), "{}", m[0]);
        assert!(m[0].contains("12 октября 2021") && m[0].contains("href=\"https://t.me/chan/5\""), "{}", m[0]);
    }

    #[test]
    fn snippet_html_marks_escapes_and_keeps_to_300_characters() {
        use crate::search::{Piece, SearchHit, Snippet};
        let piece = |text: &str, mark: bool| Piece { text: text.into(), mark };
        let hit = |pieces: Vec<Piece>| SearchHit { post: post("t\nb"), score: 0.0, snippet: Snippet(pieces) };
        let short = hit(vec![piece("…про ", false), piece("<роботов>", true), piece(" & людей", false)]);
        assert_eq!(snippet_html(&short), "…про <b>&lt;роботов&gt;</b> &amp; людей");
        // 290 characters, then a marked word cut to the 10 left, then nothing.
        let long = hit(vec![piece(&"я".repeat(290), false), piece(&"ж".repeat(50), true), piece("хвост", false)]);
        let html = snippet_html(&long);
        assert!(html.starts_with(&"я".repeat(290)), "{html}");
        assert_eq!(html[290 * 2..], format!("<b>{}</b>", html::truncate(&"ж".repeat(50), 10)));
        assert!(!html.contains("хвост"));
    }

    #[test]
    fn long_post_is_split_under_the_limit() {
        let body = format!("Title\n{}", "Предложение номер один. 😀 ".repeat(600));
        let m = post_messages(&post(&body), Lang::En, Tz::UTC, Some("From the archive"), true);
        assert!(m.len() >= 3, "{}", m.len());
        assert!(m[0].starts_with("From the archive\n\n<b>Title</b>"));
        assert!(m.last().is_some_and(|l| l.contains("#7")));
    }
}
