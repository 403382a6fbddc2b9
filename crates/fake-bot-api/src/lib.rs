//! A strict fake Telegram Bot API server for the tests of a Telegram bot: [`FakeTelegram`]
//! (axum on 127.0.0.1:0; what it routes, checks and does not emulate: `src/fake_api.rs`,
//! media uploads and file_ids: `src/fake_api/media.rs`, recorded as [`StoredMedia`]),
//! Telegram's HTML parser ([`html`]) and builders for update JSON ([`updates`]).
//!
//! It depends on no bot it checks; see README.md for an example.

mod fake_api;
pub mod html;
pub mod updates;

pub use fake_api::FakeTelegram;

/// The header a webhook request carries the secret token of `setWebhook` in.
pub const WEBHOOK_SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

use serde_json::{Value, json};

pub const TOKEN: &str = "123456789:TEST-token_for-fake-server";
pub const BOT_ID: i64 = 123456789;
pub const BOT_USERNAME: &str = "postkeeper_test_bot";
pub const BOT_FIRST_NAME: &str = "Postkeeper Test";

/// One POST of an update to the webhook, as it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub update_id: i64,
    /// The bot's HTTP status; `None` when no answer came (no connection, a timeout).
    pub status: Option<u16>,
    /// What `getWebhookInfo`'s `last_error_message` says of a failed delivery.
    pub error: Option<String>,
}

/// One request received by the fake server.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method name as it appeared in the URL (e.g. `sendMessage`).
    pub method: String,
    /// All parameters (query string, JSON, form or multipart body) merged into one JSON
    /// object; a multipart file part appears as `{"upload": {"name", "size"}}`, never its bytes.
    pub params: Value,
    pub ok: bool,
    /// The `description` of an `ok:false` answer (or `"connection dropped"` for `Fault::Drop`).
    pub error: Option<String>,
    /// The answer came from a fault queued with `FakeTelegram::inject`.
    pub injected: bool,
    /// HTTP status of the answer (0 for a dropped connection).
    pub status: u16,
    /// The `result` of an `ok:true` answer.
    pub result: Option<Value>,
    /// The client went away before the answer was ready (e.g. a long poll dropped by a
    /// stopping dispatcher); such calls are not counted as errors.
    pub cancelled: bool,
    /// When the request arrived (its parameters read), before it was answered.
    pub at: std::time::Instant,
}

/// The current state of a message sent by the bot.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub message_id: i64,
    pub chat_id: i64,
    /// The text exactly as the bot sent it (HTML source when `parse_mode` was HTML).
    pub html: String,
    /// The plain text after HTML parsing (trimmed like Telegram does).
    pub text: String,
    pub reply_markup: Option<Value>,
    /// How many successful edits (text or markup) the message went through.
    pub edits: u32,
    /// Entities of `text` (UTF-16 offsets), as Telegram would report them.
    pub entities: Vec<Value>,
    /// The `parse_mode` of the last send/edit of the text.
    pub parse_mode: Option<String>,
    /// The chat object.
    pub chat: Value,
    pub date: i64,
    pub edit_date: Option<i64>,
    /// The photo, video, … of a media message (then `html`, `text`, `entities` and
    /// `parse_mode` are those of its caption, empty for none).
    pub media: Option<StoredMedia>,
    /// Shared by the messages of one album (sendMediaGroup).
    pub media_group_id: Option<String>,
}

impl StoredMessage {
    /// The Bot API `Message` JSON of this message (as returned by sendMessage, or as put in
    /// a callback query).
    pub fn to_json(&self) -> Value {
        let mut m = json!({
            "message_id": self.message_id,
            "chat": self.chat,
            "date": self.date,
        });
        let (text_key, entities_key) = match &self.media {
            None => ("text", "entities"),
            Some(_) => ("caption", "caption_entities"),
        };
        if let Some(media) = &self.media {
            m[media.kind.field()] = media.json.clone();
            if media.kind == MediaKind::Animation {
                // Telegram sets `document` beside `animation`, for old clients.
                m["document"] = media.json.clone();
            }
            if let Some(group) = &self.media_group_id {
                m["media_group_id"] = json!(group);
            }
        }
        if self.media.is_none() || !self.text.is_empty() {
            m[text_key] = json!(self.text);
        }
        if self.chat["type"] == "channel" {
            m["sender_chat"] = self.chat.clone();
        } else {
            m["from"] = bot_user();
        }
        if !self.entities.is_empty() {
            m[entities_key] = Value::Array(self.entities.clone());
        }
        if let Some(markup) = &self.reply_markup {
            m["reply_markup"] = markup.clone();
        }
        if let Some(d) = self.edit_date {
            m["edit_date"] = json!(d);
        }
        m
    }
}

/// What a media message carries, as the Bot API method and the `Message` field name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Photo,
    Video,
    Animation,
    Document,
    Audio,
    Voice,
}

impl MediaKind {
    pub const ALL: [MediaKind; 6] = [
        MediaKind::Photo,
        MediaKind::Video,
        MediaKind::Animation,
        MediaKind::Document,
        MediaKind::Audio,
        MediaKind::Voice,
    ];

    /// The `Message` field and the `InputMedia` `type`: `photo`, `video`, …
    pub fn field(self) -> &'static str {
        match self {
            MediaKind::Photo => "photo",
            MediaKind::Video => "video",
            MediaKind::Animation => "animation",
            MediaKind::Document => "document",
            MediaKind::Audio => "audio",
            MediaKind::Voice => "voice",
        }
    }

    /// The send method: `sendPhoto`, `sendVideo`, …
    pub fn method(self) -> &'static str {
        match self {
            MediaKind::Photo => "sendPhoto",
            MediaKind::Video => "sendVideo",
            MediaKind::Animation => "sendAnimation",
            MediaKind::Document => "sendDocument",
            MediaKind::Audio => "sendAudio",
            MediaKind::Voice => "sendVoice",
        }
    }

    pub fn from_field(field: &str) -> Option<MediaKind> {
        MediaKind::ALL.into_iter().find(|k| k.field() == field)
    }
}

/// Where the file of a sent media message came from.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaSource {
    /// A multipart file part of the request.
    Upload {
        /// The part's name (teloxide: a random id named by `attach://<id>`).
        part: String,
        /// The `filename` of the part (teloxide sends `""` for `InputFile::memory`).
        file_name: String,
        /// The part's `Content-Type`, if it had one.
        mime: Option<String>,
        size: usize,
    },
    /// A `file_id` string (minted by this server or registered from a pushed update).
    FileId(String),
}

/// The media of a message the bot sent.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMedia {
    pub kind: MediaKind,
    /// The file_id the answer carried (for a photo: of its largest size).
    pub file_id: String,
    /// Stable for the same bytes (and for resends by file_id).
    pub file_unique_id: String,
    pub source: MediaSource,
    /// Bytes of the file (of the largest size for a photo).
    pub file_size: usize,
    /// The `Message` field's JSON: an array of PhotoSize (largest last) or a Video, Document…
    pub json: Value,
}

/// One file part received in a multipart request (for `FakeTelegram::uploads`).
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// The method of the request that carried it.
    pub method: String,
    pub part: String,
    pub file_name: String,
    pub mime: Option<String>,
    pub size: usize,
    /// The request succeeded (a refused or fault-injected request uploads nothing real).
    pub accepted: bool,
}

/// A one-shot fault for the next call of a method (see `FakeTelegram::inject`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    RetryAfter(u32),
    /// A 5xx answer. 502/503/504 come as nginx's HTML page (as from the real front end, so
    /// teloxide reports `RequestError::InvalidJson`); other codes as a JSON error.
    ServerError(u16),
    /// The connection is closed (reset) without any response.
    Drop,
    /// 403 `Forbidden: bot is not a member of the channel chat`.
    Forbidden,
}

/// The bot's own `User` object.
pub fn bot_user() -> Value {
    json!({
        "id": BOT_ID,
        "is_bot": true,
        "first_name": BOT_FIRST_NAME,
        "username": BOT_USERNAME,
    })
}
