//! Builders for Bot API `Update` JSON, in the shapes the real server sends.
//!
//! `update_id` is set by `FakeTelegram::push_update`. Builders of messages in private chats
//! and groups leave `message_id` as 0; `push_update` then assigns the chat's next message id
//! (for `edited_message`: the id of the user's last message in that chat), so ids interleave
//! with the bot's own messages like on the real server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::{MediaKind, StoredMessage, bot_user, html::utf16_len};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A process-wide unique id (for callback and inline query ids, file ids, poll ids).
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub fn user(user_id: i64, lang: Option<&str>) -> Value {
    let mut u = json!({
        "id": user_id,
        "is_bot": false,
        "first_name": format!("User{user_id}"),
        "username": format!("user{user_id}"),
    });
    if let Some(lang) = lang {
        u["language_code"] = json!(lang);
    }
    u
}

pub fn private_chat(chat_id: i64) -> Value {
    json!({
        "id": chat_id,
        "type": "private",
        "first_name": format!("User{chat_id}"),
        "username": format!("user{chat_id}"),
    })
}

/// A group chat object (`supergroup` for ids of the -100… form).
pub fn group_chat(chat_id: i64) -> Value {
    let kind = if chat_id <= -1_000_000_000_000 { "supergroup" } else { "group" };
    json!({"id": chat_id, "type": kind, "title": format!("Group {chat_id}")})
}

/// A channel chat object, for `FakeTelegram::add_chat` too.
pub fn channel_chat(chat_id: i64, username: Option<&str>) -> Value {
    let mut c = json!({"id": chat_id, "type": "channel", "title": format!("Channel {chat_id}")});
    if let Some(name) = username {
        c["username"] = json!(name.trim_start_matches('@'));
    }
    c
}

/// `bot_command` entity for a text starting with `/` (command of `[A-Za-z0-9_]{1,32}`,
/// optionally `@username`).
fn command_entities(text: &str) -> Option<Value> {
    let rest = text.strip_prefix('/')?;
    let cmd_len = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').count();
    if cmd_len == 0 || cmd_len > 32 {
        return None;
    }
    let mut end = 1 + cmd_len;
    if let Some(after) = text[end..].strip_prefix('@') {
        let name_len = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').count();
        if name_len > 0 {
            end += 1 + name_len;
        }
    }
    Some(json!([{"type": "bot_command", "offset": 0, "length": utf16_len(&text[..end])}]))
}

fn with_text(mut msg: Value, text: &str) -> Value {
    msg["text"] = json!(text);
    if let Some(e) = command_entities(text) {
        msg["entities"] = e;
    }
    msg
}

/// A text message from `user_id` in the private chat `chat_id` (normally equal to `user_id`).
pub fn text(chat_id: i64, user_id: i64, lang: Option<&str>, text: &str) -> Value {
    let msg = json!({
        "message_id": 0,
        "from": user(user_id, lang),
        "chat": private_chat(chat_id),
        "date": now(),
    });
    json!({"update_id": 0, "message": with_text(msg, text)})
}

/// A text message from `user_id` in the group `chat_id` (negative).
pub fn group_text(chat_id: i64, user_id: i64, text: &str) -> Value {
    let msg = json!({
        "message_id": 0,
        "from": user(user_id, None),
        "chat": group_chat(chat_id),
        "date": now(),
    });
    json!({"update_id": 0, "message": with_text(msg, text)})
}

/// The user edited his last text message in the private chat.
pub fn edited_text(chat_id: i64, user_id: i64, text: &str) -> Value {
    let date = now();
    let msg = json!({
        "message_id": 0,
        "from": user(user_id, None),
        "chat": private_chat(chat_id),
        "date": date - 1,
        "edit_date": date,
    });
    json!({"update_id": 0, "edited_message": with_text(msg, text)})
}

/// `user_id` pressed a button with `data` under a message the bot sent.
pub fn callback(user_id: i64, lang: Option<&str>, message: &StoredMessage, data: &str) -> Value {
    json!({
        "update_id": 0,
        "callback_query": {
            "id": unique_id("cbq"),
            "from": user(user_id, lang),
            "message": message.to_json(),
            "chat_instance": format!("ci{}", message.chat_id),
            "data": data,
        }
    })
}

pub fn inline_query(user_id: i64, lang: Option<&str>, query: &str, offset: &str) -> Value {
    json!({
        "update_id": 0,
        "inline_query": {
            "id": unique_id("iq"),
            "from": user(user_id, lang),
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
    })
}

fn channel_message(chat_id: i64, username: Option<&str>, message_id: i64, date: i64) -> serde_json::Map<String, Value> {
    let chat = channel_chat(chat_id, username);
    let mut m = serde_json::Map::new();
    m.insert("message_id".into(), json!(message_id));
    m.insert("sender_chat".into(), chat.clone());
    m.insert("chat".into(), chat);
    m.insert("date".into(), json!(date));
    m
}

fn non_empty_entities(entities: Value) -> Option<Value> {
    match &entities {
        Value::Array(a) if !a.is_empty() => Some(entities),
        _ => None,
    }
}

/// A new post in a channel. `entities` is a JSON array of MessageEntity (or `json!([])`).
pub fn channel_post(
    chat_id: i64,
    username: Option<&str>,
    message_id: i64,
    date: i64,
    text: &str,
    entities: Value,
) -> Value {
    let mut m = channel_message(chat_id, username, message_id, date);
    m.insert("text".into(), json!(text));
    if let Some(e) = non_empty_entities(entities) {
        m.insert("entities".into(), e);
    }
    json!({"update_id": 0, "channel_post": m})
}

pub fn edited_channel_post(
    chat_id: i64,
    username: Option<&str>,
    message_id: i64,
    date: i64,
    edit_date: i64,
    text: &str,
    entities: Value,
) -> Value {
    let mut m = channel_message(chat_id, username, message_id, date);
    m.insert("edit_date".into(), json!(edit_date));
    m.insert("text".into(), json!(text));
    if let Some(e) = non_empty_entities(entities) {
        m.insert("entities".into(), e);
    }
    json!({"update_id": 0, "edited_channel_post": m})
}

fn photo_sizes() -> Value {
    let file = unique_id("photo");
    json!([
        {"file_id": format!("{file}-s"), "file_unique_id": format!("{file}s"), "width": 90, "height": 60, "file_size": 1200},
        {"file_id": format!("{file}-m"), "file_unique_id": format!("{file}m"), "width": 800, "height": 533, "file_size": 48000},
    ])
}

/// A photo post in a channel; an empty caption means no caption.
pub fn channel_photo(chat_id: i64, username: Option<&str>, message_id: i64, date: i64, caption: &str) -> Value {
    let mut m = channel_message(chat_id, username, message_id, date);
    m.insert("photo".into(), photo_sizes());
    if !caption.is_empty() {
        m.insert("caption".into(), json!(caption));
    }
    json!({"update_id": 0, "channel_post": m})
}

/// A fresh media object as a `Message` carries it: for a photo an array of three sizes
/// (largest last), otherwise one Video, Animation, Document, Audio or Voice object. Its
/// file_ids are registered by `push_update`, so the bot may resend them.
pub fn media_object(kind: MediaKind) -> Value {
    let file = unique_id(kind.field());
    let id = |suffix: &str| format!("{file}{suffix}");
    let unique = |suffix: &str| format!("u{file}{suffix}");
    match kind {
        MediaKind::Photo => json!([
            {"file_id": id("-s"), "file_unique_id": unique("s"), "width": 90, "height": 60, "file_size": 1200},
            {"file_id": id("-m"), "file_unique_id": unique("m"), "width": 320, "height": 213, "file_size": 14000},
            {"file_id": id("-x"), "file_unique_id": unique("x"), "width": 1280, "height": 853, "file_size": 160000},
        ]),
        MediaKind::Video => json!({
            "file_id": id(""), "file_unique_id": unique(""), "width": 1280, "height": 720, "duration": 12,
            "file_name": "clip.mp4", "mime_type": "video/mp4", "file_size": 2_400_000,
        }),
        MediaKind::Animation => json!({
            "file_id": id(""), "file_unique_id": unique(""), "width": 480, "height": 270, "duration": 3,
            "file_name": "loop.mp4", "mime_type": "video/mp4", "file_size": 350_000,
        }),
        MediaKind::Document => json!({
            "file_id": id(""), "file_unique_id": unique(""), "file_name": "paper.pdf",
            "mime_type": "application/pdf", "file_size": 82_000,
        }),
        MediaKind::Audio => json!({
            "file_id": id(""), "file_unique_id": unique(""), "duration": 215, "performer": "Artist",
            "title": "Song", "file_name": "song.mp3", "mime_type": "audio/mpeg", "file_size": 5_100_000,
        }),
        MediaKind::Voice => json!({
            "file_id": id(""), "file_unique_id": unique(""), "duration": 7, "mime_type": "audio/ogg",
            "file_size": 21_000,
        }),
    }
}

fn with_media(m: &mut serde_json::Map<String, Value>, kind: MediaKind, media: Value, caption: &str, entities: Value) {
    if kind == MediaKind::Animation {
        // Telegram sets `document` beside `animation`, for old clients.
        m.insert("document".into(), media.clone());
    }
    m.insert(kind.field().into(), media);
    if !caption.is_empty() {
        m.insert("caption".into(), json!(caption));
    }
    if let Some(e) = non_empty_entities(entities) {
        m.insert("caption_entities".into(), e);
    }
}

/// A media post in a channel: `media` is the `Message` field of `kind` (e.g.
/// `media_object(kind)`), `caption_entities` a JSON array (or `json!([])`); an empty caption
/// means none.
#[allow(clippy::too_many_arguments)]
pub fn channel_media(
    chat_id: i64,
    username: Option<&str>,
    message_id: i64,
    date: i64,
    kind: MediaKind,
    media: Value,
    caption: &str,
    caption_entities: Value,
) -> Value {
    let mut m = channel_message(chat_id, username, message_id, date);
    with_media(&mut m, kind, media, caption, caption_entities);
    json!({"update_id": 0, "channel_post": m})
}

/// A video post in a channel (fresh file ids); an empty caption means none.
pub fn channel_video(chat_id: i64, username: Option<&str>, message_id: i64, date: i64, caption: &str) -> Value {
    let media = media_object(MediaKind::Video);
    channel_media(chat_id, username, message_id, date, MediaKind::Video, media, caption, json!([]))
}

/// An animation (GIF/MP4 without sound) post in a channel.
pub fn channel_animation(chat_id: i64, username: Option<&str>, message_id: i64, date: i64, caption: &str) -> Value {
    let media = media_object(MediaKind::Animation);
    channel_media(chat_id, username, message_id, date, MediaKind::Animation, media, caption, json!([]))
}

/// A file (document) post in a channel.
pub fn channel_document(chat_id: i64, username: Option<&str>, message_id: i64, date: i64, caption: &str) -> Value {
    let media = media_object(MediaKind::Document);
    channel_media(chat_id, username, message_id, date, MediaKind::Document, media, caption, json!([]))
}

/// A music (audio) post in a channel.
pub fn channel_audio(chat_id: i64, username: Option<&str>, message_id: i64, date: i64, caption: &str) -> Value {
    let media = media_object(MediaKind::Audio);
    channel_media(chat_id, username, message_id, date, MediaKind::Audio, media, caption, json!([]))
}

/// A voice note post in a channel.
pub fn channel_voice(chat_id: i64, username: Option<&str>, message_id: i64, date: i64, caption: &str) -> Value {
    let media = media_object(MediaKind::Voice);
    channel_media(chat_id, username, message_id, date, MediaKind::Voice, media, caption, json!([]))
}

/// The parts of an album posted in a channel: one `channel_post` update per item of
/// `kinds`, with message ids from `first_message_id` on, sharing a fresh `media_group_id`,
/// the caption on item `caption_at` only (as Telegram does when one item has it). Push them
/// in any order to test a bot that must reassemble the album.
pub fn channel_album(
    chat_id: i64,
    username: Option<&str>,
    first_message_id: i64,
    date: i64,
    kinds: &[MediaKind],
    caption: &str,
    caption_at: usize,
) -> Vec<Value> {
    let group = unique_id("1360000000000");
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let mut m = channel_message(chat_id, username, first_message_id + i as i64, date);
            let caption = if i == caption_at { caption } else { "" };
            with_media(&mut m, *kind, media_object(*kind), caption, json!([]));
            m.insert("media_group_id".into(), json!(group));
            json!({"update_id": 0, "channel_post": m})
        })
        .collect()
}

/// An edited media post in a channel: the post `message_id` now carries `media` (the
/// original's media object to change only the caption, or a new `media_object(kind)` for
/// replaced media) and `caption`.
#[allow(clippy::too_many_arguments)]
pub fn edited_channel_media(
    chat_id: i64,
    username: Option<&str>,
    message_id: i64,
    date: i64,
    edit_date: i64,
    kind: MediaKind,
    media: Value,
    caption: &str,
) -> Value {
    let mut m = channel_message(chat_id, username, message_id, date);
    m.insert("edit_date".into(), json!(edit_date));
    with_media(&mut m, kind, media, caption, json!([]));
    json!({"update_id": 0, "edited_channel_post": m})
}

fn private_message(chat_id: i64, user_id: i64) -> Value {
    json!({
        "message_id": 0,
        "from": user(user_id, None),
        "chat": private_chat(chat_id),
        "date": now(),
    })
}

pub fn sticker(chat_id: i64, user_id: i64) -> Value {
    let mut m = private_message(chat_id, user_id);
    let file = unique_id("sticker");
    m["sticker"] = json!({
        "file_id": file,
        "file_unique_id": format!("u{file}"),
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": false,
        "is_video": false,
        "emoji": "😀",
        "set_name": "TestStickers",
        "file_size": 12345,
    });
    json!({"update_id": 0, "message": m})
}

pub fn photo(chat_id: i64, user_id: i64) -> Value {
    let mut m = private_message(chat_id, user_id);
    m["photo"] = photo_sizes();
    json!({"update_id": 0, "message": m})
}

pub fn location(chat_id: i64, user_id: i64) -> Value {
    let mut m = private_message(chat_id, user_id);
    m["location"] = json!({"latitude": 55.755_8, "longitude": 37.617_3});
    json!({"update_id": 0, "message": m})
}

/// A channel post with `fields` (Bot API message fields: `poll`, `dice`, `paid_media`, …,
/// as the Bot API documents them, whatever a client library makes of them).
pub fn channel_post_with(chat_id: i64, username: Option<&str>, message_id: i64, date: i64, fields: Value) -> Value {
    let mut m = channel_message(chat_id, username, message_id, date);
    if let Some(fields) = fields.as_object() {
        m.extend(fields.clone());
    }
    json!({"update_id": 0, "channel_post": m})
}

/// A `message_reaction_count` update: the anonymous reactions of a channel post, as
/// `[("👍", 3)]` (an emoji) or `[("custom:5368…", 2)]` (a custom emoji's id) or
/// `[("paid", 1)]`. Telegram sends it only to a bot that asked for it in `allowed_updates`.
pub fn reaction_count(chat_id: i64, username: Option<&str>, message_id: i64, reactions: &[(&str, i64)]) -> Value {
    let reactions: Vec<Value> = reactions
        .iter()
        .map(|(r, n)| {
            let kind = match (*r, r.strip_prefix("custom:")) {
                ("paid", _) => json!({"type": "paid"}),
                (_, Some(id)) => json!({"type": "custom_emoji", "custom_emoji_id": id}),
                (emoji, None) => json!({"type": "emoji", "emoji": emoji}),
            };
            json!({"type": kind, "total_count": n})
        })
        .collect();
    json!({
        "update_id": 0,
        "message_reaction_count": {
            "chat": channel_chat(chat_id, username),
            "message_id": message_id,
            "date": now(),
            "reactions": reactions,
        }
    })
}

/// A `poll` update (state of a poll changed): a kind the bot does not handle.
pub fn poll(question: &str) -> Value {
    json!({
        "update_id": 0,
        "poll": {
            "id": unique_id("poll"),
            "question": question,
            "options": [{"text": "yes", "voter_count": 1}, {"text": "no", "voter_count": 0}],
            "total_voter_count": 1,
            "is_closed": false,
            "is_anonymous": true,
            "type": "regular",
            "allows_multiple_answers": false,
        }
    })
}

/// A `my_chat_member` update: the bot's status in `chat_id` changed from `member` to
/// `new_status` (`"member"`, `"left"` or `"kicked"`), by `user_id`.
/// Pushing one with `"kicked"`/`"left"` makes later sends to that chat fail with 403.
pub fn my_chat_member(chat_id: i64, user_id: i64, new_status: &str) -> Value {
    let chat = if chat_id > 0 { private_chat(chat_id) } else { group_chat(chat_id) };
    let mut new_member = json!({"user": bot_user(), "status": new_status});
    if new_status == "kicked" {
        new_member["until_date"] = json!(0);
    }
    json!({
        "update_id": 0,
        "my_chat_member": {
            "chat": chat,
            "from": user(user_id, None),
            "date": now(),
            "old_chat_member": {"user": bot_user(), "status": "member"},
            "new_chat_member": new_member,
        }
    })
}

/// A `chat_join_request` update: another kind a bot would not handle.
pub fn chat_join_request(chat_id: i64, user_id: i64) -> Value {
    json!({
        "update_id": 0,
        "chat_join_request": {
            "chat": channel_chat(chat_id, None),
            "from": user(user_id, None),
            "user_chat_id": user_id,
            "date": now(),
        }
    })
}

/// The kind of an update (its single key other than `update_id`).
pub fn kind(update: &Value) -> Option<String> {
    update.as_object()?.keys().find(|k| k.as_str() != "update_id").cloned()
}
