//! A post, a list of posts, a page of search results: as Telegram HTML.

use chrono_tz::Tz;

use super::html::{self, MESSAGE_LIMIT, escape, utf16_len};
use crate::i18n::Lang;
use crate::model::{Entity, EntityKind, Media, Post};
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
    let reactions = crate::model::Reaction::total(&post.reactions);
    if reactions > 0 {
        let s = format!("❤ {reactions}");
        plain.push(s.clone());
        parts.push(s);
    }
    // A bot cannot post another chat's poll with its votes: a poll goes out as text, and
    // says its results are the archive's.
    if post.extra.poll.is_some() {
        let note = lang.texts().poll_results_note;
        plain.push(note.to_string());
        parts.push(escape(note));
    }
    if let Some(origin) = &post.extra.forward_origin {
        let from = format!("«{}»", origin.name);
        let line = crate::i18n::fill(lang.texts().forwarded_from, &[("from", &from)]);
        plain.push(line.clone());
        parts.push(match &origin.url {
            Some(url) => crate::i18n::fill(
                lang.texts().forwarded_from,
                &[("from", &format!("<a href=\"{}\">{}</a>", escape(url), escape(&from)))],
            ),
            None => escape(&line),
        });
    }
    if let Some(author) = &post.extra.author_signature {
        let s = format!("✍ {author}");
        plain.push(s.clone());
        parts.push(escape(&s));
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
    let mut out = match crate::model::media_marker(&post.media) {
        Some(marker) => format!("{n}. {marker} <b>{}</b>", escape(&title)),
        None => format!("{n}. <b>{}</b>", escape(&title)),
    };
    let mut meta = Vec::new();
    if let Some(d) = post.date {
        meta.push(lang.date(d, tz));
    }
    let topics = topics_line(post, lang);
    if !topics.is_empty() {
        meta.push(topics);
    }
    let reactions = crate::model::Reaction::total(&post.reactions);
    if reactions > 0 {
        meta.push(format!("❤ {reactions}"));
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

/// A media item as `show` and the console print it: `[📷 media/ab12….jpg 1280×720]`,
/// `[📷 missing: not exported]`, in the reader's language.
pub fn media_line(m: &Media, dir_label: &str, lang: Lang) -> String {
    let t = lang.texts();
    let mut parts = vec![m.kind.marker().to_string()];
    match (&m.file, m.missing) {
        (_, true) => parts.push(t.media_missing.to_string()),
        (Some(file), false) => parts.push(format!("{}/{file}", dir_label.trim_end_matches('/'))),
        (None, false) => match &m.file_id {
            Some(_) => parts.push(t.media_by_file_id.to_string()),
            None => parts.push(m.kind.as_str().to_string()),
        },
    }
    if !m.missing {
        if let (Some(w), Some(h)) = (m.width, m.height) {
            parts.push(format!("{w}×{h}"));
        }
        if let Some(d) = m.duration {
            parts.push(format!("{d}s"));
        }
        if let Some(name) = &m.file_name {
            parts.push(name.clone());
        }
    }
    format!("[{}]", parts.join(" "))
}

/// A search hit's snippet (src/search/snippet.rs) as HTML, matched words bold, at most
/// ~300 characters.
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
        if piece.mark {
            out.push_str("<b>");
            html::escape_into(&mut out, &text);
            out.push_str("</b>");
        } else {
            html::escape_into(&mut out, &text);
        }
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
            media: Vec::new(),
            reactions: Vec::new(),
            extra: Default::default(),
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

    fn topic(emoji: &str, ru: &str, en: &str) -> crate::model::TopicRef {
        crate::model::TopicRef { slug: en.to_lowercase(), ru: ru.into(), en: en.into(), emoji: emoji.into() }
    }

    /// What Telegram counts against its limit: the text once the HTML is parsed, in UTF-16 units.
    fn units(message: &str) -> usize {
        html::plain(message).encode_utf16().count()
    }

    /// A post with a footer of some length (date, two topics, link).
    fn long_post(body: &str) -> Post {
        let mut p = post(body);
        p.topics = vec![
            topic("🤖", "Робототехника", "Robotics"),
            topic("🎮", "Обучение с подкреплением", "Reinforcement learning"),
        ];
        p
    }

    #[test]
    fn topics_line_picks_the_language_and_the_emoji() {
        let mut p = post("t\nb");
        p.topics = vec![topic("🤖", "Робототехника", "Robotics"), topic("", "Обучение", "Learning")];
        assert_eq!(topics_line(&p, Lang::Ru), "🤖 Робототехника, Обучение");
        assert_eq!(topics_line(&p, Lang::En), "🤖 Robotics, Learning");
    }

    #[test]
    fn footer_has_only_the_parts_there_are() {
        let mut p = post("Title\nbody");
        let m = post_messages(&p, Lang::En, Tz::UTC, None, true);
        assert_eq!(
            m,
            [
                "<b>Title</b>\nbody\n\n📅 12 October 2021 · #7 · 🔗 <a href=\"https://t.me/chan/5\">post in the channel</a>"
            ]
        );
        p.topics = vec![topic("🤖", "Робототехника", "Robotics")];
        p.date = None;
        p.url = None;
        let m = post_messages(&p, Lang::En, Tz::UTC, None, true);
        assert_eq!(m, ["<b>Title</b>\nbody\n\n🤖 Robotics · #7"]);
    }

    #[test]
    fn only_a_title_line_above_more_text_is_made_bold() {
        let m = post_messages(&post("Одна строка & всё"), Lang::Ru, Tz::UTC, None, false);
        assert_eq!(m, ["Одна строка &amp; всё"]);
        assert!(entities_for_display(&post("\nтекст")).is_empty());
    }

    #[test]
    fn a_paragraph_or_a_word_longer_than_the_limit_is_split_under_it() {
        // Telegram's limit, 4096 UTF-16 units, written here and not taken from the code under test.
        let paragraph = format!("Title\n{}", "слово 😀 ".repeat(1200).trim_end()); // 10 799 units, no blank line
        let word = format!("Title\n{}", "ж😀".repeat(3000)); // 9000 units, no space
        for body in [paragraph, word] {
            let m = post_messages(&long_post(&body), Lang::Ru, Tz::UTC, Some("Из архива"), true);
            let sizes: Vec<usize> = m.iter().map(|x| units(x)).collect();
            assert!(sizes.iter().all(|&n| n <= 4096), "{sizes:?}");
            assert_eq!(m.len(), 3, "{sizes:?}");
            assert!(m[0].starts_with("Из архива\n\n<b>Title</b>\n"), "{}", m[0].chars().take(40).collect::<String>());
            assert_eq!(m.iter().map(|x| x.contains("Из архива")).collect::<Vec<_>>(), [true, false, false]);
            assert_eq!(m.iter().map(|x| x.contains("#7")).collect::<Vec<_>>(), [false, false, true]);
        }
    }

    #[test]
    fn a_post_near_the_limit_fits_with_its_header_or_footer() {
        // Bodies around the limit, so that some part with the footer (or the header) is as
        // full as the code lets it be; each message against Telegram's 4096.
        for n in (3_900..4_200).step_by(3) {
            let body = format!("T\n{}", "ж".repeat(n));
            for (header, with_footer) in [(None, true), (Some("Из архива, 12 октября 2021"), false)] {
                let m = post_messages(&long_post(&body), Lang::Ru, Tz::UTC, header, with_footer);
                let sizes: Vec<usize> = m.iter().map(|x| units(x)).collect();
                assert!(sizes.iter().all(|&u| u <= 4096), "{n} {header:?}: {sizes:?}");
                assert!(m.len() <= 2, "{n} {header:?}: {sizes:?}");
            }
        }
    }

    #[test]
    fn list_entry_has_a_line_for_each_thing_known() {
        let mut p = post("Заголовок <1>\nтекст");
        assert_eq!(
            list_entry(3, &p, None, Lang::Ru, Tz::UTC),
            "3. <b>Заголовок &lt;1&gt;</b>\n12 октября 2021\n→ /post_7"
        );
        p.topics = vec![topic("🤖", "Робототехника", "Robotics")];
        p.date = None;
        assert_eq!(
            list_entry(3, &p, Some("<b>сниппет</b>"), Lang::En, Tz::UTC),
            "3. <b>Заголовок &lt;1&gt;</b>\n🤖 Robotics\n<b>сниппет</b>\n→ /post_7"
        );
        p.topics.clear();
        p.title.clear();
        assert_eq!(list_entry(3, &p, None, Lang::En, Tz::UTC), "3. <b>Untitled</b>\n→ /post_7");
    }

    #[test]
    fn list_entry_marks_media_with_their_kind_and_an_album_with_its_count() {
        use crate::model::{Media, MediaKind};
        let item = |kind| Media { kind, ..Media::default() };
        let mut p = post("Заголовок\nтекст");
        p.date = None;
        p.media = vec![item(MediaKind::Photo)];
        assert_eq!(list_entry(1, &p, None, Lang::Ru, Tz::UTC), "1. 📷 <b>Заголовок</b>\n→ /post_7");
        p.media = vec![item(MediaKind::Photo), item(MediaKind::Photo), item(MediaKind::Video)];
        assert_eq!(list_entry(1, &p, None, Lang::Ru, Tz::UTC), "1. 📷×3 <b>Заголовок</b>\n→ /post_7");
        for (kind, marker) in [
            (MediaKind::Video, "🎬"),
            (MediaKind::Animation, "🎬"),
            (MediaKind::Document, "📎"),
            (MediaKind::Audio, "🎵"),
            (MediaKind::Voice, "🎵"),
        ] {
            p.media = vec![item(kind)];
            assert!(list_entry(1, &p, None, Lang::En, Tz::UTC).starts_with(&format!("1. {marker} <b>")), "{kind}");
        }
        // Media alone: the marker and "untitled".
        p.title.clear();
        p.body.clear();
        p.media = vec![item(MediaKind::Document)];
        assert_eq!(list_entry(2, &p, None, Lang::En, Tz::UTC), "2. 📎 <b>Untitled</b>\n→ /post_7");
    }

    #[test]
    fn media_lines_say_where_the_file_is_in_the_readers_language() {
        use crate::model::MediaKind;
        let photo = Media { file: Some("ab12.jpg".into()), width: Some(1280), height: Some(720), ..Media::default() };
        assert_eq!(media_line(&photo, "media/", Lang::En), "[📷 media/ab12.jpg 1280×720]");
        let missing = Media { missing: true, width: Some(1280), height: Some(720), ..Media::default() };
        assert_eq!(media_line(&missing, "media", Lang::En), "[📷 missing: not exported]");
        assert_eq!(media_line(&missing, "media", Lang::Ru), "[📷 нет файла: не выгружен]");
        let live = Media { kind: MediaKind::Video, file_id: Some("F".into()), duration: Some(7), ..Media::default() };
        assert_eq!(media_line(&live, "media", Lang::En), "[🎬 in Telegram (file_id) 7s]");
        let doc = Media {
            kind: MediaKind::Document,
            file: Some("cd.pdf".into()),
            file_name: Some("paper.pdf".into()),
            ..Media::default()
        };
        assert_eq!(media_line(&doc, "/srv/m", Lang::En), "[📎 /srv/m/cd.pdf paper.pdf]");
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
