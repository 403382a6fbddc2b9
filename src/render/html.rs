//! Telegram HTML: escaping, text + entities to tags, and splitting long
//! texts into parts that each stay under Telegram's limit after parsing.

use crate::model::{Entity, EntityKind};

/// Telegram's limit on a message's text after entity parsing, in UTF-16 code units.
pub const MESSAGE_LIMIT: usize = 4096;

/// Escapes text for Telegram HTML (`&`, `<`, `>`; quotes too, so it is safe in attributes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text);
    out
}

/// [`escape`], appended to `out`: the runs between special characters are copied whole.
pub fn escape_into(out: &mut String, text: &str) {
    let mut copied = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => continue,
        };
        // An ASCII byte is a character boundary.
        out.push_str(&text[copied..i]);
        out.push_str(entity);
        copied = i + 1;
    }
    out.push_str(&text[copied..]);
}

/// The text Telegram shows for our HTML: tags dropped, entities decoded.
pub fn plain(html: &str) -> String {
    to_text(html, false)
}

/// Our HTML as text: tags dropped, entities decoded; with `links`, each link's target
/// follows its text (` <url>`), as the console and the CLI show them. A `&` that starts
/// no entity is kept as it is.
pub fn to_text(html: &str, links: bool) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut hrefs: Vec<String> = Vec::new();
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            let Some(end) = rest.find('>') else { break };
            let tag = &rest[1..end];
            if let Some(attrs) = tag.strip_prefix("a ") {
                hrefs.push(unescape(attrs.split('"').nth(1).unwrap_or("")));
            } else if tag == "/a"
                && let Some(href) = hrefs.pop()
                && links
                && !href.is_empty()
            {
                out.push_str(&format!(" <{href}>"));
            }
            rest = &rest[end + 1..];
        } else {
            let end = rest.find(';').filter(|&e| e <= 8).unwrap_or(0);
            out.push_str(&unescape(&rest[..=end]));
            rest = &rest[end + 1..];
        }
    }
    out.push_str(rest);
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// Length in UTF-16 code units, as Telegram counts (one counter for the crate).
pub use crate::text::utf16_len;

/// The longest prefix of `text` within `units` UTF-16 code units, with `…` when cut.
pub fn truncate(text: &str, units: usize) -> String {
    if utf16_len(text) <= units {
        return text.to_string();
    }
    let mut out = String::new();
    let mut n = 0;
    for c in text.chars() {
        if n + c.len_utf16() + 1 > units {
            break;
        }
        n += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

/// Byte offset of each UTF-16 position that starts a char; positions inside a
/// surrogate pair round down.
fn byte_at_utf16(text: &str) -> impl Fn(u32) -> usize + '_ {
    let mut table: Vec<(u32, usize)> = Vec::with_capacity(text.len() + 1);
    let mut u = 0u32;
    for (b, c) in text.char_indices() {
        table.push((u, b));
        u += c.len_utf16() as u32;
    }
    table.push((u, text.len()));
    move |pos: u32| match table.binary_search_by_key(&pos, |&(u, _)| u) {
        Ok(i) => table[i].1,
        Err(i) => table[i.saturating_sub(1)].1,
    }
}

fn open_tag(kind: &EntityKind) -> Option<String> {
    Some(match kind {
        EntityKind::Bold => "<b>".into(),
        EntityKind::Italic => "<i>".into(),
        EntityKind::Underline => "<u>".into(),
        EntityKind::Strikethrough => "<s>".into(),
        EntityKind::Spoiler => "<tg-spoiler>".into(),
        EntityKind::Code => "<code>".into(),
        EntityKind::Pre { language: Some(l) } if valid_language(l) => format!("<pre><code class=\"language-{l}\">"),
        EntityKind::Pre { .. } => "<pre>".into(),
        EntityKind::TextLink { url } if valid_href(url) => format!("<a href=\"{}\">", escape(url)),
        EntityKind::Blockquote => "<blockquote>".into(),
        EntityKind::ExpandableBlockquote => "<blockquote expandable>".into(),
        _ => return None,
    })
}

fn close_tag(kind: &EntityKind) -> &'static str {
    match kind {
        EntityKind::Bold => "</b>",
        EntityKind::Italic => "</i>",
        EntityKind::Underline => "</u>",
        EntityKind::Strikethrough => "</s>",
        EntityKind::Spoiler => "</tg-spoiler>",
        EntityKind::Code => "</code>",
        EntityKind::Pre { language: Some(l) } if valid_language(l) => "</code></pre>",
        EntityKind::Pre { .. } => "</pre>",
        EntityKind::TextLink { .. } => "</a>",
        EntityKind::Blockquote | EntityKind::ExpandableBlockquote => "</blockquote>",
        _ => "",
    }
}

fn valid_language(l: &str) -> bool {
    !l.is_empty() && l.len() <= 32 && l.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '#' | '_'))
}

fn valid_href(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://") || url.starts_with("tg://")) && url.len() <= 2048
}

/// Renders a text with its entities as Telegram HTML. Tags always nest:
/// overlapping spans are closed and reopened; spans inside code are dropped
/// (Telegram does not format inside code).
pub fn render(text: &str, entities: &[Entity]) -> String {
    let at = byte_at_utf16(text);
    // (start, end, kind) in bytes, visual kinds only.
    let mut spans: Vec<(usize, usize, &EntityKind)> = entities
        .iter()
        .filter(|e| open_tag(&e.kind).is_some())
        .map(|e| (at(e.offset), at(e.offset.saturating_add(e.length)), &e.kind))
        .filter(|(s, e, _)| s < e)
        .collect();
    let is_code = |k: &EntityKind| matches!(k, EntityKind::Code | EntityKind::Pre { .. });
    let code: Vec<(usize, usize)> = spans.iter().filter(|s| is_code(s.2)).map(|s| (s.0, s.1)).collect();
    spans.retain(|s| is_code(s.2) || !code.iter().any(|c| s.0 < c.1 && c.0 < s.1));
    // Overlapping code spans cannot both be kept.
    let mut kept_code: Vec<(usize, usize)> = Vec::new();
    spans.retain(|s| {
        if !is_code(s.2) {
            return true;
        }
        if kept_code.iter().any(|c| s.0 < c.1 && c.0 < s.1) {
            return false;
        }
        kept_code.push((s.0, s.1));
        true
    });
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));

    let mut bounds: Vec<usize> = spans.iter().flat_map(|s| [s.0, s.1]).collect();
    bounds.push(text.len());
    bounds.sort_unstable();
    bounds.dedup();

    let mut out = String::with_capacity(text.len() + 32);
    let mut stack: Vec<usize> = Vec::new(); // indices into spans
    let mut next = 0; // next span to open
    let mut cursor = 0;
    for &pos in &bounds {
        out.push_str(&escape(&text[cursor..pos]));
        cursor = pos;
        // Close spans ending here; reopen the ones above them that go on.
        if let Some(lowest) = stack.iter().position(|&i| spans[i].1 <= pos) {
            let above: Vec<usize> = stack.drain(lowest..).collect();
            for &i in above.iter().rev() {
                out.push_str(close_tag(spans[i].2));
            }
            for i in above {
                if spans[i].1 > pos {
                    out.push_str(&open_tag(spans[i].2).unwrap_or_default());
                    stack.push(i);
                }
            }
        }
        while next < spans.len() && spans[next].0 == pos {
            out.push_str(&open_tag(spans[next].2).unwrap_or_default());
            stack.push(next);
            next += 1;
        }
    }
    for &i in stack.iter().rev() {
        out.push_str(close_tag(spans[i].2));
    }
    out
}

/// A part of a long text: its own text and the entities that fall in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub text: String,
    pub entities: Vec<Entity>,
}

/// Splits a text into parts of at most `limit` UTF-16 units, cutting at a
/// paragraph, else a line, else a sentence, else a word boundary, avoiding
/// cuts inside an entity; entities crossing a forced cut are clipped to each part.
pub fn split(text: &str, entities: &[Entity], limit: usize) -> Vec<Part> {
    let limit = limit.max(16);
    let at = byte_at_utf16(text);
    let spans: Vec<(usize, usize)> =
        entities.iter().map(|e| (at(e.offset), at(e.offset.saturating_add(e.length)))).collect();
    let inside_entity = |b: usize| spans.iter().any(|&(s, e)| s < b && b < e);

    let mut parts = Vec::new();
    let mut start = 0;
    while start < text.len() {
        // Skip whitespace between parts.
        let rest = &text[start..];
        let trimmed = rest.len() - rest.trim_start().len();
        start += trimmed;
        if start >= text.len() {
            break;
        }
        // The furthest byte within the limit.
        let mut units = 0;
        let mut max_end = text.len();
        for (b, c) in text[start..].char_indices() {
            if units + c.len_utf16() > limit {
                max_end = start + b;
                break;
            }
            units += c.len_utf16();
        }
        let end = if max_end == text.len() {
            text.len()
        } else {
            let window = &text[start..max_end];
            let min = window.len() / 3;
            let candidates = |pattern: &dyn Fn(&str, usize) -> Option<usize>| -> Option<usize> {
                let mut best = None;
                for (b, _) in window.char_indices().skip(1) {
                    if b < min {
                        continue;
                    }
                    if let Some(cut) = pattern(window, b)
                        && !inside_entity(start + cut)
                    {
                        best = Some(cut);
                    }
                }
                best
            };
            let paragraph = |w: &str, b: usize| w[b..].starts_with("\n\n").then_some(b);
            let line = |w: &str, b: usize| w[b..].starts_with('\n').then_some(b);
            let sentence = |w: &str, b: usize| {
                let prev = w[..b].chars().last()?;
                (matches!(prev, '.' | '!' | '?' | '…') && w[b..].starts_with(char::is_whitespace)).then_some(b)
            };
            let word = |w: &str, b: usize| w[b..].starts_with(char::is_whitespace).then_some(b);
            let any = |_: &str, b: usize| Some(b);
            let cut = candidates(&paragraph)
                .or_else(|| candidates(&line))
                .or_else(|| candidates(&sentence))
                .or_else(|| candidates(&word))
                .or_else(|| candidates(&any))
                .unwrap_or(window.len());
            start + cut
        };
        let end_trimmed = start + text[start..end].trim_end().len();
        if end_trimmed > start {
            parts.push(slice(text, entities, &at, start, end_trimmed));
        }
        start = end.max(start + 1);
        while !text.is_char_boundary(start) && start < text.len() {
            start += 1;
        }
    }
    parts
}

fn slice(text: &str, entities: &[Entity], at: &impl Fn(u32) -> usize, start: usize, end: usize) -> Part {
    let base = utf16_len(&text[..start]) as u32;
    let len = utf16_len(&text[start..end]) as u32;
    let mut out = Vec::new();
    for e in entities {
        let (s, t) = (at(e.offset), at(e.offset.saturating_add(e.length)));
        let (s, t) = (s.max(start), t.min(end));
        if s < t {
            let offset = utf16_len(&text[..s]) as u32 - base;
            let length = (utf16_len(&text[s..t]) as u32).min(len - offset);
            out.push(Entity { kind: e.kind.clone(), offset, length });
        }
    }
    Part { text: text[start..end].to_string(), entities: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_text() {
        let html = "<b>a &lt;b&gt;</b> &amp; <a href=\"https://x.y/?a=1&amp;b\">link</a>";
        assert_eq!(to_text(html, true), "a <b> & link <https://x.y/?a=1&b>");
        assert_eq!(plain(html), "a <b> & link");
        assert_eq!(to_text("AT&T", true), "AT&T");
        assert_eq!(plain("AT&T &quot;x&quot;"), "AT&T \"x\"");
    }

    fn e(kind: EntityKind, offset: u32, length: u32) -> Entity {
        Entity { kind, offset, length }
    }

    #[test]
    fn plain_undoes_render() {
        let text = "<script> & \"AT&T\" 😀";
        let html = render(
            text,
            &[e(EntityKind::Bold, 0, 8), e(EntityKind::TextLink { url: "https://a.b/?x&y".into() }, 9, 1)],
        );
        assert_eq!(plain(&html), text);
    }

    #[test]
    fn escapes_everything_outside_tags() {
        let html = render("<script> & \"AT&T\"", &[e(EntityKind::Bold, 0, 8)]);
        assert_eq!(html, "<b>&lt;script&gt;</b> &amp; &quot;AT&amp;T&quot;");
    }

    #[test]
    fn escape_agrees_with_a_char_by_char_escape() {
        let by_char = |t: &str| -> String {
            t.chars()
                .map(|c| match c {
                    '&' => "&amp;".to_string(),
                    '<' => "&lt;".to_string(),
                    '>' => "&gt;".to_string(),
                    '"' => "&quot;".to_string(),
                    c => c.to_string(),
                })
                .collect()
        };
        for t in ["", "&", "<<>>", "a&b", "текст <b> & \"ещё\"", "😀&😀", "end&", "&start", "'single'", "no specials"]
        {
            assert_eq!(escape(t), by_char(t), "{t:?}");
        }
        let mut out = String::from("kept ");
        escape_into(&mut out, "<x>");
        assert_eq!(out, "kept &lt;x&gt;");
    }

    #[test]
    fn utf16_offsets_after_emoji() {
        // 😀 is two UTF-16 units.
        let html = render(
            "😀 жир и ссылка",
            &[e(EntityKind::Bold, 3, 3), e(EntityKind::TextLink { url: "https://x.y/?a=1&b=\"".into() }, 9, 6)],
        );
        assert_eq!(html, "😀 <b>жир</b> и <a href=\"https://x.y/?a=1&amp;b=&quot;\">ссылка</a>");
    }

    #[test]
    fn overlapping_spans_nest() {
        let html = render("abcdef", &[e(EntityKind::Bold, 0, 4), e(EntityKind::Italic, 2, 4)]);
        assert_eq!(html, "<b>ab<i>cd</i></b><i>ef</i>");
        let html =
            render("code", &[e(EntityKind::Pre { language: Some("python".into()) }, 0, 4), e(EntityKind::Bold, 0, 2)]);
        assert_eq!(html, "<pre><code class=\"language-python\">code</code></pre>");
    }

    #[test]
    fn split_prefers_paragraphs_and_counts_utf16() {
        let para = "😀".repeat(1000); // 2000 units
        let text = format!("{para}\n\n{para}\n\n{para}");
        let parts = split(&text, &[], MESSAGE_LIMIT);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| utf16_len(&p.text) <= MESSAGE_LIMIT));
        assert_eq!(parts[0].text, format!("{para}\n\n{para}"));
    }

    #[test]
    fn split_keeps_entities_whole_and_shifted() {
        let words = "слово ".repeat(50);
        let text = format!("{words}жирный текст {words}");
        let start = utf16_len(&words) as u32;
        let parts = split(&text, &[e(EntityKind::Bold, start, 12)], 310);
        let bold: Vec<&Part> = parts.iter().filter(|p| !p.entities.is_empty()).collect();
        assert_eq!(bold.len(), 1, "{parts:?}");
        let b = &bold[0].entities[0];
        let s: String = bold[0]
            .text
            .encode_utf16()
            .skip(b.offset as usize)
            .take(b.length as usize)
            .map(|u| char::from_u32(u as u32).unwrap_or('?'))
            .collect();
        assert_eq!(s, "жирный текст");
    }

    #[test]
    fn split_hard_cuts_a_wordless_text() {
        let text = "x".repeat(10_000);
        let parts = split(&text, &[], MESSAGE_LIMIT);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.iter().map(|p| p.text.len()).sum::<usize>(), 10_000);
        // Telegram's limit, counted here and not taken from the code under test; a forced
        // cut may fall one character short of it, no more.
        for p in &parts[..2] {
            let units = p.text.encode_utf16().count();
            assert!((4095..=4096).contains(&units), "{units}");
        }
    }

    #[test]
    fn split_a_word_of_surrogate_pairs_under_the_limit() {
        // 1 + 2 * 3000 units, one word: the running count steps over 4096 without landing on it.
        let text = format!("a{}", "😀".repeat(3000));
        let parts = split(&text, &[], MESSAGE_LIMIT);
        assert_eq!(parts.len(), 2);
        assert!(
            parts.iter().all(|p| p.text.encode_utf16().count() <= 4096),
            "{:?}",
            parts.iter().map(|p| p.text.len())
        );
        assert_eq!(parts.iter().map(|p| p.text.as_str()).collect::<String>(), text);
    }

    #[test]
    fn split_a_single_paragraph_at_words_under_the_limit() {
        let text = "слово ".repeat(1500).trim_end().to_string(); // 8999 units, no line break
        let parts = split(&text, &[], MESSAGE_LIMIT);
        assert_eq!(parts.len(), 3);
        for p in &parts {
            assert!(p.text.encode_utf16().count() <= 4096, "{}", p.text.encode_utf16().count());
            assert!(p.text.split(' ').all(|w| w == "слово"), "cut inside a word: {:?}", p.text);
        }
        assert_eq!(parts.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join(" "), text);
    }

    #[test]
    fn split_ignores_a_paragraph_break_too_early_to_be_worth_it() {
        // Cutting after "Intro" would send a five-letter message first.
        let text = format!("Intro\n\n{}", "word ".repeat(2000));
        let parts = split(&text, &[], MESSAGE_LIMIT);
        assert!(parts[0].text.starts_with("Intro\n\nword word"), "{:?}", &parts[0].text[..20]);
        assert!(parts[0].text.encode_utf16().count() > 4096 / 2);
        assert_eq!(parts.len(), 3);
    }

    #[test]
    fn split_prefers_a_sentence_end_to_a_word() {
        let first = format!("{}.", "word ".repeat(30).trim_end()); // 150 bytes
        let text = format!("{first} {}", "word ".repeat(100));
        let parts = split(&text, &[], 200);
        assert_eq!(parts[0].text, first);
    }

    #[test]
    fn a_cut_at_an_entitys_edge_is_not_inside_it() {
        // The last word boundary in the window is where the bold word ends.
        let text = format!("xxxxxxxxxx bold {}", "y".repeat(20));
        let parts = split(&text, &[e(EntityKind::Bold, 11, 4)], 20);
        assert_eq!(parts[0], Part { text: "xxxxxxxxxx bold".into(), entities: vec![e(EntityKind::Bold, 11, 4)] });
        // A forced cut where the bold run begins: the bold stays whole in the next part,
        // and the first part carries no empty entity.
        let text = "x".repeat(30);
        let parts = split(&text, &[e(EntityKind::Bold, 19, 11)], 20);
        assert_eq!(
            parts,
            [
                Part { text: "x".repeat(19), entities: vec![] },
                Part { text: "x".repeat(11), entities: vec![e(EntityKind::Bold, 0, 11)] }
            ]
        );
    }

    #[test]
    fn every_visual_kind_has_its_tags() {
        let pre = |l: &str| EntityKind::Pre { language: Some(l.into()) };
        let link = |u: &str| EntityKind::TextLink { url: u.into() };
        for (kind, html) in [
            (EntityKind::Bold, "<b>x</b>"),
            (EntityKind::Italic, "<i>x</i>"),
            (EntityKind::Underline, "<u>x</u>"),
            (EntityKind::Strikethrough, "<s>x</s>"),
            (EntityKind::Spoiler, "<tg-spoiler>x</tg-spoiler>"),
            (EntityKind::Code, "<code>x</code>"),
            (EntityKind::Pre { language: None }, "<pre>x</pre>"),
            (pre("rust"), "<pre><code class=\"language-rust\">x</code></pre>"),
            (pre("c++"), "<pre><code class=\"language-c++\">x</code></pre>"),
            (link("https://a.b/"), "<a href=\"https://a.b/\">x</a>"),
            (link("http://a.b/"), "<a href=\"http://a.b/\">x</a>"),
            (link("tg://resolve?domain=a"), "<a href=\"tg://resolve?domain=a\">x</a>"),
            (EntityKind::Blockquote, "<blockquote>x</blockquote>"),
            (EntityKind::ExpandableBlockquote, "<blockquote expandable>x</blockquote>"),
            // Telegram finds these itself; no tag.
            (EntityKind::Url, "x"),
            (EntityKind::Mention, "x"),
            (EntityKind::Hashtag, "x"),
            // What Telegram would refuse, or what would break out of the attribute: no tag.
            (pre(""), "<pre>x</pre>"),
            (pre(&"a".repeat(33)), "<pre>x</pre>"),
            (pre("py\" onclick=\"x"), "<pre>x</pre>"),
            (link("javascript:alert(1)"), "x"),
            (link(&format!("https://a.b/{}", "a".repeat(2048))), "x"),
        ] {
            assert_eq!(render("x", &[e(kind.clone(), 0, 1)]), html, "{kind:?}");
        }
        assert_eq!(
            render("x", &[e(pre(&"a".repeat(32)), 0, 1)]),
            format!("<pre><code class=\"language-{}\">x</code></pre>", "a".repeat(32))
        );
    }

    #[test]
    fn an_empty_entity_formats_nothing() {
        assert_eq!(render("ab", &[e(EntityKind::Bold, 1, 0)]), "ab");
    }

    #[test]
    fn formatting_next_to_code_is_kept() {
        let bold_code = [e(EntityKind::Bold, 0, 4), e(EntityKind::Code, 4, 4)];
        assert_eq!(render("boldcode", &bold_code), "<b>bold</b><code>code</code>");
        let code_bold = [e(EntityKind::Code, 0, 4), e(EntityKind::Bold, 4, 4)];
        assert_eq!(render("codebold", &code_bold), "<code>code</code><b>bold</b>");
    }

    #[test]
    fn overlapping_code_keeps_the_first_and_adjacent_code_both() {
        let overlapping = [e(EntityKind::Code, 0, 4), e(EntityKind::Pre { language: None }, 2, 4)];
        assert_eq!(render("abcdef", &overlapping), "<code>abcd</code>ef");
        for adjacent in [
            [e(EntityKind::Code, 0, 2), e(EntityKind::Code, 2, 2)],
            [e(EntityKind::Code, 2, 2), e(EntityKind::Code, 0, 2)],
        ] {
            assert_eq!(render("abcd", &adjacent), "<code>ab</code><code>cd</code>", "{adjacent:?}");
        }
    }

    #[test]
    fn truncate_keeps_the_longest_prefix_that_fits_with_the_ellipsis() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 5), "abcd…");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("a😀b", 3), "a…");
        let text = "😀a😀bc😀😀d";
        for units in 1..=text.encode_utf16().count() {
            let cut = truncate(text, units);
            let n = cut.encode_utf16().count();
            assert!(n <= units, "{units}: {cut}");
            assert!(n + 2 >= units, "{units}: {cut} is shorter than it needs to be");
        }
    }
}
