//! A re-implementation of Telegram's HTML parse mode (tdlib `parse_html`), used by the
//! fake Bot API server to refuse what the real server refuses.
//!
//! Differences from the real parser (all of them *stricter*):
//! * a bare `&` that does not start one of `&lt; &gt; &amp; &quot; &#NN; &#xHH;` (with the
//!   terminating `;`) is an error; Telegram would keep it literally;
//! * nothing else: tag, attribute and nesting rules and the error texts follow tdlib.

use serde_json::{Value, json};

/// The result of parsing: plain text and its entities (offsets/lengths in UTF-16 code units).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub text: String,
    pub entities: Vec<Value>,
}

impl Parsed {
    /// Length of the plain text in UTF-16 code units.
    pub fn utf16_len(&self) -> usize {
        utf16_len(&self.text)
    }

    /// Telegram trims leading and trailing whitespace of message texts; entities are clipped
    /// and shifted accordingly.
    pub fn trimmed(self) -> Parsed {
        let start_trimmed = self.text.trim_start();
        let lead_len = self.text.len() - start_trimmed.len();
        let kept = start_trimmed.trim_end().len();
        if lead_len == 0 && kept == self.text.len() {
            return self;
        }
        let shift = utf16_len(&self.text[..lead_len]) as i64;
        let text = self.text[lead_len..lead_len + kept].to_string();
        let end = utf16_len(&text) as i64;
        let entities = self
            .entities
            .into_iter()
            .filter_map(|mut e| {
                let off = e["offset"].as_i64()? - shift;
                let len = e["length"].as_i64()?;
                let (s, t) = (off.max(0), (off + len).min(end));
                if t <= s {
                    return None;
                }
                e["offset"] = json!(s);
                e["length"] = json!(t - s);
                Some(e)
            })
            .collect();
        Parsed { text, entities }
    }
}

/// UTF-16 code units of `s`: one per character, two for those above U+FFFF (the ones
/// whose UTF-8 takes 4 bytes), counted from the bytes (lead bytes, and 4-byte leads).
pub fn utf16_len(s: &str) -> usize {
    s.bytes().map(|b| usize::from((b as i8) >= -64) + usize::from(b >= 0xF0)).sum()
}

const ALLOWED_TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "tg-emoji",
    "span",
    "pre",
    "code",
    "blockquote",
];

struct Open {
    tag: String,
    argument: String,
    expandable: bool,
    utf16_offset: usize,
    text_begin: usize,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0 | 0x0b)
}

/// Decodes an HTML character reference at `pos` (which holds `&`). Returns the character
/// and the position after the reference. Stricter than tdlib: the `;` is required.
fn decode_entity(b: &[u8], pos: usize) -> Option<(char, usize)> {
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut end = pos + 1;
    let code: u32;
    if at(end) == b'#' {
        end += 1;
        let mut value: u32 = 0;
        let digits_start;
        if at(end) == b'x' {
            end += 1;
            digits_start = end;
            while at(end).is_ascii_hexdigit() {
                value = value * 16 + (at(end) as char).to_digit(16)?;
                if value >= 0x10ffff {
                    return None;
                }
                end += 1;
            }
        } else {
            digits_start = end;
            while at(end).is_ascii_digit() {
                value = value * 10 + u32::from(at(end) - b'0');
                if value >= 0x10ffff {
                    return None;
                }
                end += 1;
            }
        }
        if end == digits_start || value == 0 || (0xd800..=0xdfff).contains(&value) {
            return None;
        }
        code = value;
    } else {
        while at(end).is_ascii_alphabetic() {
            end += 1;
        }
        code = match &b[pos + 1..end] {
            b"lt" => '<' as u32,
            b"gt" => '>' as u32,
            b"amp" => '&' as u32,
            b"quot" => '"' as u32,
            _ => return None,
        };
    }
    if at(end) != b';' {
        return None;
    }
    Some((char::from_u32(code)?, end + 1))
}

fn valid_link(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() || url.chars().any(char::is_whitespace) {
        return None;
    }
    let lower = url.to_ascii_lowercase();
    for scheme in ["http://", "https://", "tg://", "ton://"] {
        if let Some(rest) = lower.strip_prefix(scheme) {
            return (!rest.is_empty()).then(|| url.to_string());
        }
    }
    if lower.contains("://") {
        return None;
    }
    // scheme-less links like "example.com/path" are accepted and get http://
    let host = lower.split(['/', '?', '#']).next().unwrap_or("");
    (host.contains('.') && !host.starts_with('.') && !host.ends_with('.')).then(|| format!("http://{url}"))
}

/// Parses `src` as Telegram HTML. `Err` holds the part after `"Bad Request: can't parse entities: "`.
pub fn parse_html(src: &str) -> Result<Parsed, String> {
    let b = src.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut out = String::with_capacity(src.len());
    let mut utf16_offset = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    let mut entities: Vec<Value> = Vec::new();
    let mut i = 0usize;

    while i < b.len() {
        let c = b[i];
        if c == b'&' {
            match decode_entity(b, i) {
                Some((ch, next)) => {
                    out.push(ch);
                    utf16_offset += ch.len_utf16();
                    i = next;
                    continue;
                }
                None => {
                    return Err(format!("Unescaped \"&\" at byte offset {i}: use &amp; (strict fake server)"));
                }
            }
        }
        if c != b'<' {
            // a run of plain text up to the next `&` or `<` (both ASCII, so the run ends
            // on a character boundary)
            let end = memchr::memchr2(b'&', b'<', &b[i..]).map_or(b.len(), |n| i + n);
            let run = &src[i..end];
            out.push_str(run);
            utf16_offset += utf16_len(run);
            i = end;
            continue;
        }

        let begin = i;
        i += 1;
        if at(i) != b'/' {
            // start tag
            while !is_space(at(i)) && at(i) != b'>' {
                i += 1;
            }
            if at(i) == 0 {
                return Err(format!("Unclosed start tag at byte offset {begin}"));
            }
            let tag = String::from_utf8_lossy(&b[begin + 1..i]).to_ascii_lowercase();
            if !ALLOWED_TAGS.contains(&tag.as_str()) {
                return Err(format!("Unsupported start tag \"{tag}\" at byte offset {begin}"));
            }
            let mut argument = String::new();
            let mut expandable = false;
            while at(i) != b'>' {
                while at(i) != 0 && is_space(at(i)) {
                    i += 1;
                }
                if at(i) == b'>' {
                    break;
                }
                if at(i) == 0 {
                    return Err(format!("Unclosed start tag at byte offset {begin}"));
                }
                let name_start = i;
                while !is_space(at(i)) && at(i) != b'=' && at(i) != b'>' {
                    i += 1;
                }
                let name = String::from_utf8_lossy(&b[name_start..i]).to_string();
                if name.is_empty() {
                    return Err(format!("Empty attribute name in the tag \"{tag}\" at byte offset {begin}"));
                }
                while at(i) != 0 && is_space(at(i)) {
                    i += 1;
                }
                if at(i) != b'=' {
                    if tag == "blockquote" && name == "expandable" {
                        expandable = true;
                        continue;
                    }
                    return Err(format!(
                        "Expected equal sign in declaration of an attribute of the tag \"{tag}\" at byte offset {begin}"
                    ));
                }
                i += 1;
                while at(i) != 0 && is_space(at(i)) {
                    i += 1;
                }
                if at(i) == 0 {
                    return Err(format!("Unclosed start tag \"{tag}\" at byte offset {begin}"));
                }
                let value: String;
                if at(i) != b'\'' && at(i) != b'"' {
                    let token_start = i;
                    while at(i).is_ascii_alphanumeric() || at(i) == b'.' || at(i) == b'-' {
                        i += 1;
                    }
                    value = String::from_utf8_lossy(&b[token_start..i]).to_ascii_lowercase();
                    if !is_space(at(i)) && at(i) != b'>' {
                        return Err(format!("Unexpected end of name token at byte offset {token_start}"));
                    }
                } else {
                    let quote = at(i);
                    i += 1;
                    let mut v = String::new();
                    while at(i) != quote && at(i) != 0 {
                        if at(i) == b'&' {
                            match decode_entity(b, i) {
                                Some((ch, next)) => {
                                    v.push(ch);
                                    i = next;
                                    continue;
                                }
                                None => {
                                    return Err(format!(
                                        "Unescaped \"&\" at byte offset {i}: use &amp; (strict fake server)"
                                    ));
                                }
                            }
                        }
                        let ch = src[i..].chars().next().expect("in-bounds char");
                        v.push(ch);
                        i += ch.len_utf8();
                    }
                    if at(i) == quote {
                        i += 1;
                    }
                    value = v;
                }
                if at(i) == 0 {
                    return Err(format!("Unclosed start tag at byte offset {begin}"));
                }
                match (tag.as_str(), name.as_str()) {
                    ("a", "href") => argument = value,
                    ("code", "class") if value.starts_with("language-") => {
                        argument = value["language-".len()..].to_string()
                    }
                    ("span", "class") if value.starts_with("tg-") => argument = value["tg-".len()..].to_string(),
                    ("tg-emoji", "emoji-id") => argument = value,
                    ("blockquote", "expandable") => expandable = true,
                    _ => {}
                }
            }
            if tag == "span" && argument != "spoiler" {
                return Err(format!("Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"));
            }
            if tag == "tg-emoji" && argument.parse::<i64>().map(|v| v == 0).unwrap_or(true) {
                return Err("Invalid custom emoji identifier specified".to_string());
            }
            i += 1; // skip '>'
            stack.push(Open { tag, argument, expandable, utf16_offset, text_begin: out.len() });
        } else {
            // end tag
            if stack.is_empty() {
                return Err(format!("Unexpected end tag at byte offset {begin}"));
            }
            i += 1;
            let name_start = i;
            while !is_space(at(i)) && at(i) != b'>' {
                i += 1;
            }
            let end_name = String::from_utf8_lossy(&b[name_start..i]).to_ascii_lowercase();
            while at(i) != 0 && is_space(at(i)) {
                i += 1;
            }
            if at(i) != b'>' {
                return Err(format!("Unclosed end tag at byte offset {begin}"));
            }
            i += 1;
            let open = stack.pop().expect("checked non-empty");
            if !end_name.is_empty() && end_name != open.tag {
                return Err(format!(
                    "Unmatched end tag at byte offset {begin}, expected \"</{}>\", found \"</{end_name}>\"",
                    open.tag
                ));
            }
            if utf16_offset > open.utf16_offset {
                let offset = open.utf16_offset;
                let length = utf16_offset - open.utf16_offset;
                let entity = match open.tag.as_str() {
                    "b" | "strong" => Some(json!({"type": "bold"})),
                    "i" | "em" => Some(json!({"type": "italic"})),
                    "u" | "ins" => Some(json!({"type": "underline"})),
                    "s" | "strike" | "del" => Some(json!({"type": "strikethrough"})),
                    "tg-spoiler" | "span" => Some(json!({"type": "spoiler"})),
                    "code" => {
                        // <pre><code class="language-x">…</code></pre> becomes one pre entity
                        let inside_pre = stack.last().is_some_and(|p| p.tag == "pre");
                        if inside_pre && !open.argument.is_empty() {
                            if let Some(pre) = stack.last_mut() {
                                pre.argument = open.argument.clone();
                            }
                            None
                        } else if inside_pre {
                            None
                        } else {
                            Some(json!({"type": "code"}))
                        }
                    }
                    "pre" => {
                        if open.argument.is_empty() {
                            Some(json!({"type": "pre"}))
                        } else {
                            Some(json!({"type": "pre", "language": open.argument}))
                        }
                    }
                    "blockquote" => Some(if open.expandable {
                        json!({"type": "expandable_blockquote"})
                    } else {
                        json!({"type": "blockquote"})
                    }),
                    "tg-emoji" => Some(json!({"type": "custom_emoji", "custom_emoji_id": open.argument})),
                    "a" => {
                        let target = if open.argument.is_empty() {
                            out[open.text_begin..].to_string()
                        } else {
                            open.argument.clone()
                        };
                        valid_link(&target).map(|url| json!({"type": "text_link", "url": url}))
                    }
                    _ => None,
                };
                if let Some(mut e) = entity {
                    e["offset"] = json!(offset);
                    e["length"] = json!(length);
                    entities.push(e);
                }
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("Can't find end tag corresponding to start tag \"{}\"", open.tag));
    }
    entities.sort_by_key(|e| (e["offset"].as_i64().unwrap_or(0), -e["length"].as_i64().unwrap_or(0)));
    Ok(Parsed { text: out, entities })
}

/// Escapes text for HTML parse mode (`& < > "`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}
