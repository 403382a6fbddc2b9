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
    /// The Bot API's name; stores written before it say `phone` (Telegram Desktop's).
    #[serde(rename = "phone_number", alias = "phone")]
    Phone,
    Mention,
    /// A mention of a user without a username (Telegram Desktop: `mention_name`).
    #[serde(rename = "text_mention", alias = "mention_name")]
    MentionName,
    Hashtag,
    Cashtag,
    BotCommand,
    CustomEmoji {
        /// The emoji's sticker id (kept so that nothing is lost; the text shows its fallback).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        custom_emoji_id: Option<String>,
    },
    /// A kind this build does not know (`bank_card` of exports, a newer Bot API's
    /// `date_time`, …): kept under its own name, shown as plain text.
    #[serde(untagged)]
    Other {
        #[serde(rename = "type")]
        name: String,
    },
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
    /// Readers' reactions, as counted when the source was read (empty: none known).
    pub reactions: Vec<Reaction>,
    /// What the post is besides its text and media (a poll, …).
    pub extra: Extra,
}

/// A reaction of a post's readers and how many gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_emoji_id: Option<String>,
    /// Paid (Telegram Stars) reactions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paid: bool,
    pub count: i64,
}

impl Reaction {
    /// The reactions' total, as lists show it (`❤ 12`).
    pub fn total(reactions: &[Reaction]) -> i64 {
        reactions.iter().map(|r| r.count.max(0)).sum()
    }
}

/// What a post is besides its text and media, kept as it came (JSON in the store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dice: Option<Dice>,
    /// A story the channel posted: where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<Story>,
    /// A giveaway or its winners as a line of text (the Bot API's object itself is kept in
    /// `unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub giveaway: Option<String>,
    /// Paid media: its price and kinds (the files are not the bot's to keep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_media: Option<PaidMedia>,
    /// Where a forwarded post came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_origin: Option<ForwardOrigin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_signature: Option<String>,
    /// Parts of the message this build does not know, as Telegram sent them: kept so that
    /// nothing is lost (a newer Bot API's kinds).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// A die thrown (🎲, 🎯, 🏀, ⚽, 🎳, 🎰) and its value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dice {
    pub emoji: String,
    pub value: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Story {
    pub id: i64,
    /// `https://t.me/<username>/s/<id>` when the chat has a username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidMedia {
    /// Telegram Stars.
    pub stars: i64,
    /// `photo`, `video`, `preview`: one per item.
    pub kinds: Vec<String>,
}

/// Where a forwarded post came from (the Bot API's `forward_origin`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardOrigin {
    /// `channel`, `chat`, `user` or `hidden_user`.
    pub kind: String,
    /// The channel's or chat's title, the user's name.
    pub name: String,
    /// The original message's link, when the channel is public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Extra {
    pub fn is_empty(&self) -> bool {
        self == &Extra::default()
    }

    /// The post's kind as text, for a post with no text of its own: what lists, search
    /// and replays then see. `None` when the post is only text and media.
    pub fn text(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.poll.as_ref().map(Poll::text),
            self.location.as_ref().map(Location::text),
            self.contact.as_ref().map(Contact::text),
            self.dice.as_ref().map(|d| format!("{} {}", d.emoji, d.value)),
            self.story.as_ref().map(|s| match &s.url {
                Some(url) => format!("📖 {url}"),
                None => format!("📖 story {}", s.id),
            }),
            self.giveaway.clone(),
            self.paid_media.as_ref().map(|p| format!("⭐ {} · {}", p.stars, p.kinds.join(", "))),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }
}

/// A place: a location, or a venue (with its name and address).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

// Coordinates are compared as stored: a re-import of the same place is unchanged.
impl Eq for Location {}

impl Location {
    pub fn text(&self) -> String {
        let name: Vec<&str> = [self.title.as_deref(), self.address.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect();
        let map = format!(
            "https://www.openstreetmap.org/?mlat={:.6}&mlon={:.6}#map=16/{:.6}/{:.6}",
            self.latitude, self.longitude, self.latitude, self.longitude
        );
        if name.is_empty() { format!("📍 {map}") } else { format!("📍 {}\n{map}", name.join(", ")) }
    }
}

/// A shared contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

impl Contact {
    pub fn text(&self) -> String {
        match &self.phone_number {
            Some(phone) if !phone.is_empty() => format!("👤 {}, {phone}", self.name.trim()),
            _ => format!("👤 {}", self.name.trim()),
        }
    }
}

/// A poll, with its results as they were when it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    pub question: String,
    pub options: Vec<PollOption>,
    pub total_voters: i64,
    pub closed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollOption {
    pub text: String,
    pub voters: i64,
}

impl Poll {
    /// The poll as text: the question, then each option with its votes and share. This is
    /// the post's text when it has none of its own: it is what lists, search and replays see.
    pub fn text(&self) -> String {
        let mut out = format!("📊 {}", self.question.trim());
        for o in &self.options {
            let share = if self.total_voters > 0 { o.voters * 100 / self.total_voters } else { 0 };
            out.push_str(&format!("\n— {}: {} ({share}%)", o.text.trim(), o.voters));
        }
        out.push_str(&format!("\n👥 {}{}", self.total_voters, if self.closed { " · 🔒" } else { "" }));
        out
    }
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
    pub reactions: Vec<Reaction>,
    pub extra: Extra,
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

/// Dates in JSON output as `2021-10-12T10:00:00+00:00`, as the JSON output always gave
/// them (`#[serde(serialize_with = "crate::model::rfc3339")]`).
pub fn rfc3339<S: serde::Serializer>(date: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => s.serialize_str(&d.to_rfc3339()),
        None => s.serialize_none(),
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
    fn entities_use_the_bot_apis_names_and_read_the_old_ones() {
        let phone = Entity { kind: EntityKind::Phone, offset: 0, length: 3 };
        assert_eq!(
            serde_json::to_string(&phone).ok().as_deref(),
            Some(r#"{"type":"phone_number","offset":0,"length":3}"#)
        );
        let old: Entity = serde_json::from_str(r#"{"type":"phone","offset":0,"length":3}"#).expect("parses");
        assert_eq!(old, phone);
        let old: Entity = serde_json::from_str(r#"{"type":"mention_name","offset":1,"length":2}"#).expect("parses");
        assert_eq!(old.kind, EntityKind::MentionName);
    }

    #[test]
    fn unknown_entity_kinds_are_kept_under_their_names() {
        let e: Entity = serde_json::from_str(r#"{"type":"bank_card","offset":2,"length":16}"#).expect("parses");
        assert_eq!(e, Entity { kind: EntityKind::Other { name: "bank_card".into() }, offset: 2, length: 16 });
        assert_eq!(serde_json::to_string(&e).ok().as_deref(), Some(r#"{"type":"bank_card","offset":2,"length":16}"#));
        let emoji =
            Entity { kind: EntityKind::CustomEmoji { custom_emoji_id: Some("53".into()) }, offset: 0, length: 2 };
        let json = serde_json::to_string(&emoji).expect("serializes");
        assert_eq!(json, r#"{"type":"custom_emoji","custom_emoji_id":"53","offset":0,"length":2}"#);
        let old: Entity = serde_json::from_str(r#"{"type":"custom_emoji","offset":0,"length":2}"#).expect("parses");
        assert_eq!(old.kind, EntityKind::CustomEmoji { custom_emoji_id: None });
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
