//! The archive's domain types: what a channel and a post are, independent of
//! where they came from (seed dump, export, live update) and of Telegram.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A formatting span of a post, in UTF-16 code units as Telegram counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    #[serde(flatten)]
    pub kind: EntityKind,
    pub offset: u32,
    pub length: u32,
}

/// The kinds of formatting a post can carry. Kinds Telegram renders by itself
/// (mentions, hashtags, plain URLs...) are kept too, so nothing is lost, but
/// only the visual ones become HTML tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntityKind {
    Bold,
    Italic,
    Underline,
    Strikethrough,
    Spoiler,
    Code,
    Pre {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        language: Option<String>,
    },
    TextLink {
        url: String,
    },
    Blockquote,
    ExpandableBlockquote,
    Url,
    Email,
    Phone,
    Mention,
    MentionName,
    Hashtag,
    Cashtag,
    BotCommand,
    CustomEmoji,
}

/// A channel as a source of posts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewChannel {
    /// `tg:<bot api id>` or `tme:<title>`: see the migration.
    pub source_key: String,
    pub tg_id: Option<i64>,
    pub username: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub counters: BTreeMap<String, i64>,
}

impl NewChannel {
    /// A channel known by its Bot API id (exports, live posts).
    pub fn telegram(tg_id: i64, title: impl Into<String>) -> Self {
        NewChannel { source_key: format!("tg:{tg_id}"), tg_id: Some(tg_id), title: title.into(), ..Default::default() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub id: i64,
    pub source_key: String,
    pub tg_id: Option<i64>,
    pub username: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub counters: BTreeMap<String, i64>,
}

/// What a media item is, as Telegram tells its kinds apart (each has its own send method).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    #[default]
    Photo,
    Video,
    Animation,
    Document,
    Audio,
    Voice,
    VideoNote,
    Sticker,
}

impl MediaKind {
    pub const ALL: [MediaKind; 8] = [
        MediaKind::Photo,
        MediaKind::Video,
        MediaKind::Animation,
        MediaKind::Document,
        MediaKind::Audio,
        MediaKind::Voice,
        MediaKind::VideoNote,
        MediaKind::Sticker,
    ];

    /// The name stored in the database and written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Photo => "photo",
            MediaKind::Video => "video",
            MediaKind::Animation => "animation",
            MediaKind::Document => "document",
            MediaKind::Audio => "audio",
            MediaKind::Voice => "voice",
            MediaKind::VideoNote => "video_note",
            MediaKind::Sticker => "sticker",
        }
    }

    pub fn parse(s: &str) -> Option<MediaKind> {
        MediaKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The emoji lists and search hits mark a post of this kind with.
    pub fn marker(self) -> &'static str {
        match self {
            MediaKind::Photo | MediaKind::Sticker => "📷",
            MediaKind::Video | MediaKind::Animation | MediaKind::VideoNote => "🎬",
            MediaKind::Document => "📎",
            MediaKind::Audio | MediaKind::Voice => "🎵",
        }
    }
}

impl std::fmt::Display for MediaKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A photo, video or file of a post. An exported file is copied into the media folder
/// (`file`); a live one is known by Telegram's ids only, which the bot can send again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub kind: MediaKind,
    /// The file's name in the media folder: its content's SHA-256 in hex, then the
    /// original extension (`ab12….jpg`).
    pub file: Option<String>,
    /// The export named a file it did not include (or that is not there).
    pub missing: bool,
    pub file_id: Option<String>,
    pub file_unique_id: Option<String>,
    /// The name the file had (documents, audio).
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    /// Bytes.
    pub size: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// Seconds.
    pub duration: Option<i32>,
    /// The message that carried it: an album's items are messages of their own.
    pub message_id: Option<i64>,
}

/// The marker of a post's media in lists: `📷`, or `📷×3` for an album; `None` without media.
pub fn media_marker(media: &[Media]) -> Option<String> {
    let first = media.first()?;
    Some(if media.len() == 1 {
        first.kind.marker().to_string()
    } else {
        format!("{}×{}", first.kind.marker(), media.len())
    })
}

/// A post as a source gives it, before it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewPost {
    pub message_id: Option<i64>,
    /// Order within the channel: the message id, or the position in a dump.
    pub seq: i64,
    /// Unix seconds.
    pub date: Option<i64>,
    pub edited: Option<i64>,
    pub text: String,
    pub entities: Vec<Entity>,
    /// Photos, videos, files, in album order. A post may have media and no text.
    pub media: Vec<Media>,
    /// Telegram's `media_group_id` of a live album part: the parts, arriving one by
    /// one, are merged into one post.
    pub media_group: Option<String>,
}

/// A topic a post belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicRef {
    pub slug: String,
    pub ru: String,
    pub en: String,
    pub emoji: String,
}

/// A stored post with everything a reader needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Post {
    pub id: i64,
    pub channel_id: i64,
    pub channel_title: String,
    pub message_id: Option<i64>,
    pub seq: i64,
    pub date: Option<DateTime<Utc>>,
    pub edited: Option<DateTime<Utc>>,
    pub title: String,
    pub body: String,
    pub entities: Vec<Entity>,
    pub links: Vec<String>,
    pub topics: Vec<TopicRef>,
    /// `https://t.me/<username>/<message id>` when both are known.
    pub url: Option<String>,
    /// Photos, videos, files, in album order.
    pub media: Vec<Media>,
}

/// The title of a post: its first non-empty line, trimmed, at most 200 characters.
pub fn title_of(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    // Cut at the 201st character, copied as one slice (not a character at a time).
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// URLs written in a text (`http://`, `https://`), plus those behind text links.
pub fn links_of(text: &str, entities: &[Entity]) -> Vec<String> {
    let mut links: Vec<String> = Vec::new();
    // One scan for "http" (not two substring searches per word): a URL starts at the
    // first `http://` or `https://` of a whitespace-separated word and runs to its end.
    let mut from = 0;
    while let Some(found) = memchr::memmem::find(&text.as_bytes()[from..], b"http") {
        let at = from + found;
        let end = text[at..].find(char::is_whitespace).map_or(text.len(), |n| at + n);
        let rest = &text[at..];
        if !(rest.starts_with("http://") || rest.starts_with("https://")) {
            from = at + "http".len();
            continue;
        }
        from = end;
        let url = text[at..end].trim_end_matches(['.', ',', ')', ';', '»', '"', '\'']);
        if url.len() > "https://".len() && !links.iter().any(|l| l == url) {
            links.push(url.to_string());
        }
    }
    for e in entities {
        if let EntityKind::TextLink { url } = &e.kind
            && !links.iter().any(|l| l == url)
        {
            links.push(url.clone());
        }
    }
    links
}

/// The public link of a message, when the channel has a username.
pub fn post_url(username: Option<&str>, message_id: Option<i64>) -> Option<String> {
    match (username, message_id) {
        (Some(u), Some(m)) if !u.is_empty() => Some(format!("https://t.me/{}/{m}", u.trim_start_matches('@'))),
        _ => None,
    }
}

pub fn from_unix(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_first_nonempty_line() {
        assert_eq!(title_of("\n  🍏DL на Mac \nтекст"), "🍏DL на Mac");
        assert_eq!(title_of(""), "");
        // At most 200 characters (not bytes), then an ellipsis.
        let long = "ё".repeat(200);
        assert_eq!(title_of(&long), long);
        assert_eq!(title_of(&format!("{long}ж\nдальше")), format!("{long}…"));
    }

    #[test]
    fn links_found_mid_text_and_behind_entities() {
        let text = "см. https://a.b/c, и (https://x.y/z).";
        let e = vec![Entity { kind: EntityKind::TextLink { url: "https://q.r".into() }, offset: 0, length: 3 }];
        assert_eq!(links_of(text, &e), ["https://a.b/c", "https://x.y/z", "https://q.r"]);
        let text = "httpbin, см.http://e.f/g\nhttps://a.b/c https:// https://a.b/c;";
        assert_eq!(links_of(text, &[]), ["http://e.f/g", "https://a.b/c"]);
    }

    #[test]
    fn entity_json_shape() {
        let e = Entity { kind: EntityKind::Pre { language: Some("python".into()) }, offset: 1, length: 2 };
        let json = serde_json::to_string(&e).expect("serializes");
        assert_eq!(json, r#"{"type":"pre","language":"python","offset":1,"length":2}"#);
        let back: Entity = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, e);
    }
}
