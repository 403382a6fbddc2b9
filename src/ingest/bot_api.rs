//! A channel post as the bot receives it: the Bot API's `Message` JSON, read into the post
//! the store keeps. Read from JSON, not from a client library's types, so that what a
//! library does not know yet is not lost: an unknown entity type is kept under its own
//! name, a part of the message this reader does not know is kept as it came (and its text
//! read), and the caller is told its names to warn of.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{
    Contact, Dice, Entity, Extra, ForwardOrigin, Location, Media, MediaKind, NewChannel, NewPost, PaidMedia, Poll,
    PollOption, Story,
};

/// A message read.
#[derive(Debug, Default)]
pub struct Reading {
    pub channel: NewChannel,
    /// `None`: a service message (pinned, title changed, …) or a message with nothing in it.
    pub post: Option<NewPost>,
    /// Top-level parts this reader does not know (kept in the post's `extra.unknown`).
    pub unknown: Vec<String>,
    /// Entity types this reader does not know (kept under their names).
    pub unknown_entities: Vec<String>,
}

/// Parts of a message about its place, sender and delivery, not its content.
const ABOUT: &[&str] = &[
    "message_id",
    "message_thread_id",
    "direct_messages_topic",
    "from",
    "sender_chat",
    "sender_boost_count",
    "sender_business_bot",
    "sender_tag",
    "date",
    "business_connection_id",
    "chat",
    "is_topic_message",
    "is_automatic_forward",
    "reply_to_message",
    "external_reply",
    "quote",
    "reply_to_story",
    "reply_to_checklist_task_id",
    "via_bot",
    "edit_date",
    "has_protected_content",
    "is_from_offline",
    "is_paid_post",
    "media_group_id",
    "link_preview_options",
    "suggested_post_info",
    "effect_id",
    "show_caption_above_media",
    "has_media_spoiler",
    "reply_markup",
    "paid_star_count",
    "author_signature",
    "forward_origin",
];

/// Parts this reader turns into the post.
const CONTENT: &[&str] = &[
    "text",
    "entities",
    "caption",
    "caption_entities",
    "photo",
    "animation",
    "video",
    "document",
    "audio",
    "voice",
    "video_note",
    "sticker",
    "poll",
    "location",
    "venue",
    "contact",
    "dice",
    "story",
    "giveaway",
    "giveaway_winners",
    "paid_media",
];

/// Service messages: events of the chat, not posts.
const SERVICE: &[&str] = &[
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "successful_payment",
    "refunded_payment",
    "users_shared",
    "chat_shared",
    "gift",
    "unique_gift",
    "connected_website",
    "write_access_allowed",
    "passport_data",
    "proximity_alert_triggered",
    "boost_added",
    "chat_background_set",
    "checklist_tasks_done",
    "checklist_tasks_added",
    "direct_message_price_changed",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "giveaway_created",
    "giveaway_completed",
    "paid_message_price_changed",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
    "web_app_data",
];

fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The channel a message belongs to.
pub fn channel_of(message: &Value) -> NewChannel {
    let chat = message.get("chat").unwrap_or(&Value::Null);
    NewChannel {
        username: string(chat, "username"),
        ..NewChannel::telegram(int(chat, "id").unwrap_or(0), string(chat, "title").unwrap_or_default())
    }
}

/// Reads a message (`channel_post` or `edited_channel_post`).
pub fn read(message: &Value) -> Reading {
    let mut reading = Reading { channel: channel_of(message), ..Reading::default() };
    let Some(fields) = message.as_object() else { return reading };
    let Some(message_id) = int(message, "message_id") else { return reading };
    let (text, raw_entities) = match string(message, "text") {
        Some(text) => (text, message.get("entities")),
        None => (string(message, "caption").unwrap_or_default(), message.get("caption_entities")),
    };
    let mut entities = Vec::new();
    for e in raw_entities.and_then(Value::as_array).into_iter().flatten() {
        match serde_json::from_value::<Entity>(e.clone()) {
            Ok(entity) => {
                if let crate::model::EntityKind::Other { name } = &entity.kind {
                    reading.unknown_entities.push(name.clone());
                }
                entities.push(entity);
            }
            Err(err) => tracing::warn!(message = message_id, "an entity that cannot be read, left out: {err}"),
        }
    }
    let media = media_of(message, message_id);
    let mut extra = extra_of(message);
    let mut unknown = BTreeMap::new();
    for (key, value) in fields {
        let key = key.as_str();
        if !ABOUT.contains(&key) && !CONTENT.contains(&key) && !SERVICE.contains(&key) {
            reading.unknown.push(key.to_string());
            unknown.insert(key.to_string(), value.clone());
        }
    }
    let is_service = fields.keys().any(|k| SERVICE.contains(&k.as_str()));
    // An unknown kind's words: the strings under its `text` keys (a `rich_message`'s
    // paragraphs), when the message has no text of its own.
    let mut text = text;
    if text.trim().is_empty() && !unknown.is_empty() {
        let mut words = Vec::new();
        for value in unknown.values() {
            texts_in(value, &mut words);
        }
        text = words.join("\n\n");
        entities.clear();
    }
    extra.unknown = unknown;
    if text.trim().is_empty()
        && let Some(kind) = extra.text()
    {
        text = kind;
        entities.clear();
    }
    if is_service || (text.trim().is_empty() && media.is_empty() && extra.is_empty()) {
        return reading;
    }
    reading.post = Some(NewPost {
        message_id: Some(message_id),
        seq: message_id,
        date: int(message, "date"),
        edited: int(message, "edit_date"),
        text,
        entities,
        media,
        media_group: string(message, "media_group_id"),
        reactions: Vec::new(),
        extra,
    });
    reading
}

/// Every string under a `text` key inside `value`, in order.
fn texts_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::String(s) if key == "text" && !s.trim().is_empty() => out.push(s.clone()),
                    _ => texts_in(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| texts_in(v, out)),
        _ => {}
    }
}

/// A file of the Bot API (`PhotoSize`, `Video`, …) as a media item.
fn file(kind: MediaKind, f: &Value, message_id: i64) -> Option<Media> {
    let dim = |key: &str| int(f, key).and_then(|v| i32::try_from(v).ok());
    Some(Media {
        kind,
        file_id: Some(string(f, "file_id")?),
        file_unique_id: string(f, "file_unique_id"),
        file_name: string(f, "file_name"),
        mime_type: string(f, "mime_type"),
        size: int(f, "file_size").filter(|&s| s > 0),
        width: dim("width").or_else(|| dim("length")),
        height: dim("height").or_else(|| dim("length")),
        duration: dim("duration"),
        message_id: Some(message_id),
        ..Media::default()
    })
}

/// The largest size of a photo.
fn largest(sizes: &Value) -> Option<&Value> {
    sizes
        .as_array()?
        .iter()
        .max_by_key(|p| (int(p, "width").unwrap_or(0) * int(p, "height").unwrap_or(0), int(p, "file_size")))
}

fn media_of(message: &Value, message_id: i64) -> Vec<Media> {
    if let Some(photo) = message.get("photo").and_then(largest) {
        return file(MediaKind::Photo, photo, message_id).into_iter().collect();
    }
    // The animation before the document: Telegram sends an animation with a `document` too.
    let kinds = [
        ("animation", MediaKind::Animation),
        ("video", MediaKind::Video),
        ("video_note", MediaKind::VideoNote),
        ("sticker", MediaKind::Sticker),
        ("audio", MediaKind::Audio),
        ("voice", MediaKind::Voice),
        ("document", MediaKind::Document),
    ];
    kinds.into_iter().find_map(|(key, kind)| file(kind, message.get(key)?, message_id)).into_iter().collect()
}

fn user_name(user: &Value) -> String {
    let name =
        format!("{} {}", string(user, "first_name").unwrap_or_default(), string(user, "last_name").unwrap_or_default());
    match (name.trim(), string(user, "username")) {
        ("", Some(u)) => format!("@{u}"),
        (name, _) => name.to_string(),
    }
}

fn extra_of(message: &Value) -> Extra {
    let location = match (message.get("venue"), message.get("location")) {
        (Some(v), _) => v.get("location").map(|l| Location {
            latitude: l.get("latitude").and_then(Value::as_f64).unwrap_or(0.0),
            longitude: l.get("longitude").and_then(Value::as_f64).unwrap_or(0.0),
            title: string(v, "title"),
            address: string(v, "address"),
        }),
        (None, Some(l)) => Some(Location {
            latitude: l.get("latitude").and_then(Value::as_f64).unwrap_or(0.0),
            longitude: l.get("longitude").and_then(Value::as_f64).unwrap_or(0.0),
            title: None,
            address: None,
        }),
        (None, None) => None,
    };
    let poll = message.get("poll").map(|p| Poll {
        question: string(p, "question").unwrap_or_default(),
        options: p
            .get("options")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|o| PollOption {
                text: string(o, "text").unwrap_or_default(),
                voters: int(o, "voter_count").unwrap_or(0),
            })
            .collect(),
        total_voters: int(p, "total_voter_count").unwrap_or(0),
        closed: p.get("is_closed").and_then(Value::as_bool).unwrap_or(false),
    });
    let story = message.get("story").map(|s| Story {
        id: int(s, "id").unwrap_or(0),
        url: s
            .get("chat")
            .and_then(|c| string(c, "username"))
            .map(|u| format!("https://t.me/{u}/s/{}", int(s, "id").unwrap_or(0))),
    });
    let giveaway = match (message.get("giveaway"), message.get("giveaway_winners")) {
        (Some(g), _) => {
            let prize = string(g, "prize_description")
                .or_else(|| int(g, "premium_subscription_month_count").map(|m| format!("Telegram Premium × {m}")))
                .or_else(|| int(g, "prize_star_count").map(|s| format!("⭐ {s}")));
            let until = int(g, "winners_selection_date")
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|d| format!(" · {}", d.format("%Y-%m-%d")))
                .unwrap_or_default();
            Some(format!("🎁 {} × {}{until}", int(g, "winner_count").unwrap_or(0), prize.unwrap_or_default()))
        }
        (None, Some(w)) => {
            let names: Vec<String> =
                w.get("winners").and_then(Value::as_array).into_iter().flatten().map(user_name).collect();
            Some(format!("🏆 {}: {}", int(w, "winner_count").unwrap_or(names.len() as i64), names.join(", ")))
        }
        (None, None) => None,
    };
    let paid_media = message.get("paid_media").map(|p| PaidMedia {
        stars: int(p, "star_count").unwrap_or(0),
        kinds: p
            .get("paid_media")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| string(m, "type"))
            .collect(),
    });
    let forward_origin = message.get("forward_origin").map(|o| {
        let kind = string(o, "type").unwrap_or_default();
        let (name, url) = match kind.as_str() {
            "channel" => {
                let chat = o.get("chat").unwrap_or(&Value::Null);
                let url =
                    string(chat, "username").zip(int(o, "message_id")).map(|(u, m)| format!("https://t.me/{u}/{m}"));
                (string(chat, "title").unwrap_or_default(), url)
            }
            "chat" => (o.get("sender_chat").and_then(|c| string(c, "title")).unwrap_or_default(), None),
            "user" => (o.get("sender_user").map(user_name).unwrap_or_default(), None),
            _ => (string(o, "sender_user_name").unwrap_or_default(), None),
        };
        ForwardOrigin { kind, name, url }
    });
    Extra {
        poll,
        location,
        contact: message.get("contact").map(|c| Contact {
            name: format!(
                "{} {}",
                string(c, "first_name").unwrap_or_default(),
                string(c, "last_name").unwrap_or_default()
            )
            .trim()
            .to_string(),
            phone_number: string(c, "phone_number"),
        }),
        dice: message
            .get("dice")
            .map(|d| Dice { emoji: string(d, "emoji").unwrap_or_default(), value: int(d, "value").unwrap_or(0) }),
        story,
        giveaway,
        paid_media,
        forward_origin,
        author_signature: string(message, "author_signature"),
        unknown: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntityKind;
    use serde_json::json;

    fn chat() -> Value {
        json!({"id": -1001500000001_i64, "type": "channel", "title": "Source", "username": "source_chan"})
    }

    fn message(fields: Value) -> Value {
        let mut m = json!({"message_id": 7, "date": 1_700_000_000, "chat": chat()});
        if let (Some(m), Some(f)) = (m.as_object_mut(), fields.as_object()) {
            m.extend(f.clone());
        }
        m
    }

    #[test]
    fn a_date_time_entity_keeps_the_photo_and_is_kept_by_name() {
        let r = read(&message(json!({
            "photo": [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60},
                      {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 853, "file_size": 1000}],
            "caption": "Встреча 12 мая в 18:00",
            "caption_entities": [{"type": "date_time", "offset": 9, "length": 14, "unix_time": 1_715_526_000}],
        })));
        let post = r.post.expect("a post");
        assert_eq!(post.text, "Встреча 12 мая в 18:00");
        assert_eq!(post.media.len(), 1);
        assert_eq!(post.media[0].file_id.as_deref(), Some("big"));
        assert_eq!(
            post.entities,
            [Entity { kind: EntityKind::Other { name: "date_time".into() }, offset: 9, length: 14 }]
        );
        assert_eq!(r.unknown_entities, ["date_time"]);
    }

    #[test]
    fn paid_media_as_the_bot_api_documents_it() {
        let r = read(&message(json!({
            "paid_media": {"star_count": 50, "paid_media": [{"type": "photo", "photo": [{"file_id": "p", "file_unique_id": "u", "width": 10, "height": 10}]}, {"type": "preview", "width": 10}]},
            "caption": "Закрытый разбор",
        })));
        let post = r.post.expect("a post");
        assert_eq!(post.text, "Закрытый разбор");
        assert_eq!(post.extra.paid_media, Some(PaidMedia { stars: 50, kinds: vec!["photo".into(), "preview".into()] }));
        assert!(r.unknown.is_empty());
        let bare = read(&message(json!({"paid_media": {"star_count": 5, "paid_media": [{"type": "video"}]}})));
        assert_eq!(bare.post.expect("a post").text, "⭐ 5 · video");
    }

    #[test]
    fn an_unknown_kind_keeps_its_text_and_itself() {
        let rich = json!({"paragraphs": [{"type": "heading", "text": "Итоги года"}, {"type": "p", "text": "Мы выросли вдвое."}]});
        let r = read(&message(json!({"rich_message": rich.clone()})));
        assert_eq!(r.unknown, ["rich_message"]);
        let post = r.post.expect("a post");
        assert_eq!(post.text, "Итоги года\n\nМы выросли вдвое.");
        assert_eq!(post.extra.unknown.get("rich_message"), Some(&rich));
    }

    #[test]
    fn kinds_without_text_become_text() {
        let text = |fields: Value| read(&message(fields)).post.map(|p| p.text);
        assert_eq!(text(json!({"dice": {"emoji": "🎲", "value": 5}})).as_deref(), Some("🎲 5"));
        assert_eq!(
            text(json!({"story": {"chat": chat(), "id": 3}})).as_deref(),
            Some("📖 https://t.me/source_chan/s/3")
        );
        let giveaway = text(
            json!({"giveaway": {"chats": [chat()], "winners_selection_date": 1_704_067_200, "winner_count": 3, "prize_description": "книга"}}),
        );
        assert_eq!(giveaway.as_deref(), Some("🎁 3 × книга · 2024-01-01"));
        let winners = text(
            json!({"giveaway_winners": {"chat": chat(), "giveaway_message_id": 5, "winners_selection_date": 1, "winner_count": 2,
            "winners": [{"id": 1, "is_bot": false, "first_name": "Анна"}, {"id": 2, "is_bot": false, "first_name": "", "username": "bob"}]}}),
        );
        assert_eq!(winners.as_deref(), Some("🏆 2: Анна, @bob"));
        let note = read(&message(
            json!({"video_note": {"file_id": "vn", "file_unique_id": "u", "length": 240, "duration": 9}}),
        ));
        let media = note.post.expect("a post").media;
        assert_eq!((media[0].kind, media[0].width, media[0].duration), (MediaKind::VideoNote, Some(240), Some(9)));
        let sticker = read(&message(
            json!({"sticker": {"file_id": "st", "file_unique_id": "u", "width": 512, "height": 512, "type": "regular", "is_animated": false, "is_video": false}}),
        ));
        assert_eq!(sticker.post.expect("a post").media[0].kind, MediaKind::Sticker);
    }

    #[test]
    fn forwards_keep_their_origin_and_service_messages_are_no_posts() {
        let r = read(&message(json!({
            "text": "Смотрите",
            "forward_origin": {"type": "channel", "chat": {"id": -1002, "type": "channel", "title": "Другой", "username": "other"}, "message_id": 9, "date": 1},
            "author_signature": "Иван",
        })));
        let extra = r.post.expect("a post").extra;
        assert_eq!(
            extra.forward_origin,
            Some(ForwardOrigin {
                kind: "channel".into(),
                name: "Другой".into(),
                url: Some("https://t.me/other/9".into())
            })
        );
        assert_eq!(extra.author_signature.as_deref(), Some("Иван"));
        assert!(read(&message(json!({"pinned_message": {"message_id": 1, "date": 1, "chat": chat()}}))).post.is_none());
        assert!(read(&message(json!({}))).post.is_none());
    }
}
