//! Media sends: sendPhoto … sendVoice, sendMediaGroup, editMessageCaption and copyMessage,
//! with the real server's checks on captions, `file_id`s, `attach://` names, uploads and
//! album mixing (texts from telegram-bot-api's `Client.cpp` and tdlib where found there).
//!
//! Uploads are checked for what they claim only as far as the first bytes tell: a photo must
//! start like a JPEG, PNG or WebP; PNG/JPEG/WebP dimensions are read from their headers when
//! present. Nothing is decoded, and videos, audio and voice notes are taken as they come.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Value, json};

use super::{ApiErr, ApiResult, FilePart, Params, State, bad, render, unix_now, validate_markup};
use crate::html::Parsed;
use crate::updates::unique_id;
use crate::{MediaKind, MediaSource, StoredMedia, StoredMessage};

const MAX_CAPTION: usize = 1024;
/// tdlib's `MAX_PHOTO_SIZE`.
const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// The Bot API's upload limit for other files.
const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// Telegram keeps at most this side for the largest size of a photo.
const MAX_PHOTO_SIDE: u32 = 2560;
const ALBUM_MAX: usize = 10;

/// One size of a photo.
#[derive(Debug, Clone)]
struct PhotoSizeInfo {
    width: u32,
    height: u32,
    file_size: usize,
    unique: String,
}

/// What a `file_id` names: enough to answer a resend of it like Telegram.
#[derive(Debug, Clone)]
pub(super) struct FileInfo {
    kind: MediaKind,
    /// Of the largest size, for a photo.
    unique: String,
    file_size: usize,
    width: u32,
    height: u32,
    duration: u64,
    file_name: Option<String>,
    mime: Option<String>,
    /// A photo's sizes, smallest first.
    sizes: Vec<PhotoSizeInfo>,
}

impl FileInfo {
    /// A photo, described by its largest size; `None` without sizes.
    fn photo(kind: MediaKind, sizes: Vec<PhotoSizeInfo>) -> Option<FileInfo> {
        let largest = sizes.last()?.clone();
        Some(FileInfo {
            kind,
            unique: largest.unique,
            file_size: largest.file_size,
            width: largest.width,
            height: largest.height,
            duration: 0,
            file_name: None,
            mime: None,
            sizes,
        })
    }

    /// A file known only by its ids (`FakeTelegram::register_file`).
    pub(super) fn registered(kind: MediaKind, file_unique_id: &str) -> FileInfo {
        let (width, height) = default_dimensions(kind);
        let mut info = FileInfo {
            kind,
            unique: file_unique_id.to_string(),
            file_size: 1000,
            width,
            height,
            duration: 0,
            file_name: None,
            mime: None,
            sizes: Vec::new(),
        };
        if kind == MediaKind::Photo {
            info.sizes = vec![PhotoSizeInfo { width, height, file_size: 1000, unique: file_unique_id.to_string() }];
        }
        info
    }

    /// The file of a `Message` field as the real server sends it (`photo`: an array of
    /// sizes, largest last; the others: one object), or None if it is not one.
    fn from_message_field(kind: MediaKind, v: &Value) -> Option<(FileInfo, Vec<String>)> {
        let obj_info = |o: &Value| -> Option<(String, String)> {
            Some((o["file_id"].as_str()?.to_string(), o["file_unique_id"].as_str()?.to_string()))
        };
        let dim = |o: &Value, k: &str| o[k].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        let size = |o: &Value| o["file_size"].as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
        if kind == MediaKind::Photo {
            let mut ids = Vec::new();
            let mut sizes = Vec::new();
            for s in v.as_array()? {
                let (id, unique) = obj_info(s)?;
                ids.push(id);
                sizes.push(PhotoSizeInfo {
                    width: dim(s, "width"),
                    height: dim(s, "height"),
                    file_size: size(s),
                    unique,
                });
            }
            return Some((FileInfo::photo(kind, sizes)?, ids));
        }
        let (id, unique) = obj_info(v)?;
        let info = FileInfo {
            kind,
            unique,
            file_size: size(v),
            width: dim(v, "width"),
            height: dim(v, "height"),
            duration: v["duration"].as_u64().unwrap_or(0),
            file_name: v["file_name"].as_str().map(str::to_string),
            mime: v["mime_type"].as_str().map(str::to_string),
            sizes: Vec::new(),
        };
        Some((info, vec![id]))
    }
}

/// tdlib's name of a file type, as in `can't use file of type Photo as Document`.
fn tdlib_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Photo => "Photo",
        MediaKind::Video => "Video",
        MediaKind::Animation => "Animation",
        MediaKind::Document => "Document",
        MediaKind::Audio => "Audio",
        MediaKind::Voice => "VoiceNote",
    }
}

/// Whether a file of kind `file` may be sent as `send`: the same kind, or any non-photo
/// file as a document (tdlib lets document-class files stand in for one another; the fake
/// allows only the document case, whose outcome on Telegram is known).
fn compatible(file: MediaKind, send: MediaKind) -> bool {
    file == send || (send == MediaKind::Document && file != MediaKind::Photo)
}

fn file_id_prefix(kind: MediaKind) -> &'static str {
    // The first bytes of real file_ids of each kind (base64 of the type tag).
    match kind {
        MediaKind::Photo => "AgACAgIAAx",
        MediaKind::Video => "BAACAgIAAx",
        MediaKind::Animation => "CgACAgIAAx",
        MediaKind::Document => "BQACAgIAAx",
        MediaKind::Audio => "CQACAgIAAx",
        MediaKind::Voice => "AwACAgIAAx",
    }
}

fn default_dimensions(kind: MediaKind) -> (u32, u32) {
    match kind {
        MediaKind::Photo => (1280, 960),
        MediaKind::Video | MediaKind::Animation => (1280, 720),
        _ => (0, 0),
    }
}

fn content_hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// The image format a photo upload starts with (the real server decodes it; the fake
/// looks at the signature only).
fn image_mime(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// A MIME type from the first bytes of a file, for `mime_type` in answers.
fn sniff_mime(b: &[u8]) -> Option<&'static str> {
    if let Some(m) = image_mime(b) {
        return Some(m);
    }
    if b.starts_with(b"%PDF") {
        Some("application/pdf")
    } else if b.starts_with(b"GIF8") {
        Some("image/gif")
    } else if b.starts_with(b"OggS") {
        Some("audio/ogg")
    } else if b.starts_with(b"ID3") || b.starts_with(&[0xFF, 0xFB]) {
        Some("audio/mpeg")
    } else if b.len() >= 8 && &b[4..8] == b"ftyp" {
        Some("video/mp4")
    } else if b.starts_with(b"PK\x03\x04") {
        Some("application/zip")
    } else {
        None
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?])))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(*b.get(at)?) | u32::from(*b.get(at + 1)?) << 8 | u32::from(*b.get(at + 2)?) << 16)
}

/// Width and height from a PNG, JPEG or WebP header, if the bytes carry one.
fn image_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    match image_mime(b)? {
        "image/png" => {
            if b.get(12..16)? != b"IHDR" {
                return None;
            }
            let w = u32::from_be_bytes(b.get(16..20)?.try_into().ok()?);
            let h = u32::from_be_bytes(b.get(20..24)?.try_into().ok()?);
            Some((w, h))
        }
        "image/jpeg" => {
            let mut i = 2;
            loop {
                if *b.get(i)? != 0xFF {
                    return None;
                }
                let marker = *b.get(i + 1)?;
                match marker {
                    0xFF => i += 1,
                    0xD8 | 0x01 | 0xD0..=0xD7 => i += 2,
                    0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                        return Some((be16(b, i + 7)?, be16(b, i + 5)?));
                    }
                    _ => i += 2 + be16(b, i + 2)? as usize,
                }
            }
        }
        _ => match b.get(12..16)? {
            b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
            b"VP8 " => Some((le16(b, 26)? & 0x3FFF, le16(b, 28)? & 0x3FFF)),
            b"VP8L" => {
                let bits = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
                Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            _ => None,
        },
    }
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?])))
}

/// Checks an uploaded file as the real server would for `kind` and describes it.
fn upload_info(kind: MediaKind, part: &FilePart) -> ApiResult<FileInfo> {
    let bytes = &part.bytes[..];
    if bytes.is_empty() {
        return Err(bad("file must be non-empty"));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ApiErr::new(413, "Request Entity Too Large"));
    }
    let hash = content_hash(bytes);
    let mime = part.mime.clone().or_else(|| sniff_mime(bytes).map(str::to_string));
    let file_name = Some(part.file_name.clone()).filter(|n| !n.is_empty());
    if kind != MediaKind::Photo {
        let (width, height) = default_dimensions(kind);
        return Ok(FileInfo {
            kind,
            unique: format!("AgAD{hash:016x}"),
            file_size: bytes.len(),
            width,
            height,
            duration: 0,
            file_name,
            mime,
            sizes: Vec::new(),
        });
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(bad(format!(
            "file of size {} bytes is too big for a photo; the maximum size is {MAX_PHOTO_BYTES} bytes",
            bytes.len()
        )));
    }
    if image_mime(bytes).is_none() {
        return Err(bad("IMAGE_PROCESS_FAILED"));
    }
    let (w, h) = image_dimensions(bytes).unwrap_or_else(|| default_dimensions(kind));
    let (long, short) = (w.max(h), w.min(h));
    if w == 0 || h == 0 || u64::from(w) + u64::from(h) > 10_000 || long > short.saturating_mul(20) {
        return Err(bad("PHOTO_INVALID_DIMENSIONS"));
    }
    // Telegram keeps the photo recompressed in several sizes, the largest at most 2560 a side.
    let scale = |side: u32| -> (u32, u32) {
        if long <= side {
            return (w, h);
        }
        let f = f64::from(side) / f64::from(long);
        (((f64::from(w) * f).round() as u32).max(1), ((f64::from(h) * f).round() as u32).max(1))
    };
    let mut sizes: Vec<PhotoSizeInfo> = Vec::new();
    let area = |(a, b): (u32, u32)| u64::from(a) * u64::from(b);
    let (lw, lh) = scale(MAX_PHOTO_SIDE);
    for (i, side) in [90, 320, 800, 1280, MAX_PHOTO_SIDE].into_iter().enumerate() {
        let (sw, sh) = scale(side);
        if sizes.last().is_some_and(|s| (s.width, s.height) == (sw, sh)) {
            continue;
        }
        let file_size = if (sw, sh) == (lw, lh) {
            bytes.len()
        } else {
            ((bytes.len() as u64 * area((sw, sh)) / area((lw, lh)).max(1)) as usize).max(1)
        };
        sizes.push(PhotoSizeInfo { width: sw, height: sh, file_size, unique: format!("AQAD{hash:016x}{i}") });
    }
    FileInfo::photo(kind, sizes).ok_or_else(|| bad("IMAGE_PROCESS_FAILED"))
}

/// A file named in a request: a file part of it, or a `file_id`.
enum Input<'a> {
    Upload(String, &'a FilePart),
    FileId(String),
}

/// Resolves a media parameter's value (`attach://<part>`, a file_id or a URL); `missing`
/// is the error for no value or an `attach://` naming no part of the request.
fn resolve<'a>(p: &'a Params, value: Option<&str>, missing: &dyn Fn(Option<&str>) -> ApiErr) -> ApiResult<Input<'a>> {
    let value = value.unwrap_or("").trim();
    if value.is_empty() {
        return Err(missing(None));
    }
    if let Some(name) = value.strip_prefix("attach://") {
        return match p.1.get(name) {
            Some(part) => Ok(Input::Upload(name.to_string(), part)),
            None => Err(missing(Some(name))),
        };
    }
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        // Telegram would download it; the fake has no network to offer.
        return Err(bad("failed to get HTTP URL content"));
    }
    Ok(Input::FileId(value.to_string()))
}

fn attach_note(name: Option<&str>) -> String {
    match name {
        Some(name) => format!(" (attach://{name} names no file part of this request)"),
        None => String::new(),
    }
}

/// A caption: parsed like a text, at most 1024 UTF-16 units after parsing, then trimmed.
fn caption(html: Option<String>, parse_mode: Option<&str>, entities: Option<Value>) -> ApiResult<(String, Parsed)> {
    let html = html.unwrap_or_default();
    let parsed = render(&html, parse_mode, entities)?;
    if parsed.utf16_len() > MAX_CAPTION {
        return Err(bad("message caption is too long"));
    }
    Ok((html, parsed.trimmed()))
}

/// One item of a media send, checked and ready to store.
struct Prepared {
    kind: MediaKind,
    info: FileInfo,
    source: MediaSource,
    html: String,
    parsed: Parsed,
    parse_mode: Option<String>,
}

impl State {
    /// Registers the file_ids of a pushed message's media, so the bot may resend them.
    pub(super) fn register_files_of(&mut self, msg: &Value) {
        for kind in MediaKind::ALL {
            if kind == MediaKind::Document && !msg["animation"].is_null() {
                continue; // the `document` beside an `animation` is the same file
            }
            let field = &msg[kind.field()];
            if field.is_null() {
                continue;
            }
            if let Some((info, ids)) = FileInfo::from_message_field(kind, field) {
                for id in ids {
                    self.files.insert(id, info.clone());
                }
            }
        }
    }

    /// Checks a file for a send as `kind`.
    fn prepare_file(&self, kind: MediaKind, input: Input<'_>) -> ApiResult<(FileInfo, MediaSource)> {
        match input {
            Input::Upload(part_name, part) => {
                let info = upload_info(kind, part)?;
                let source = MediaSource::Upload {
                    part: part_name,
                    file_name: part.file_name.clone(),
                    mime: part.mime.clone(),
                    size: part.bytes.len(),
                };
                Ok((info, source))
            }
            Input::FileId(id) => {
                let info = self.files.get(&id).ok_or_else(|| bad("wrong file identifier/HTTP URL specified"))?;
                if !compatible(info.kind, kind) {
                    return Err(bad(format!(
                        "can't use file of type {} as {}",
                        tdlib_type(info.kind),
                        tdlib_type(kind)
                    )));
                }
                Ok((info.clone(), MediaSource::FileId(id)))
            }
        }
    }

    /// The `Message` field for `info` sent as `kind`, with fresh file_ids (registered).
    fn mint(&mut self, info: &FileInfo, kind: MediaKind) -> (Value, String) {
        let prefix = file_id_prefix(kind);
        let new_id = |files: &mut std::collections::HashMap<String, FileInfo>| {
            let id = unique_id(&format!("{prefix}-fake"));
            files.insert(id.clone(), info.clone());
            id
        };
        if kind == MediaKind::Photo {
            let mut last = String::new();
            let sizes: Vec<Value> = info
                .sizes
                .iter()
                .map(|s| {
                    last = new_id(&mut self.files);
                    json!({
                        "file_id": last,
                        "file_unique_id": s.unique,
                        "file_size": s.file_size,
                        "width": s.width,
                        "height": s.height,
                    })
                })
                .collect();
            return (Value::Array(sizes), last);
        }
        let id = new_id(&mut self.files);
        let mut obj = json!({"file_id": id, "file_unique_id": info.unique, "file_size": info.file_size});
        let (dw, dh) = default_dimensions(kind);
        let (width, height) = if info.width > 0 && info.height > 0 { (info.width, info.height) } else { (dw, dh) };
        let mime = info.mime.clone().or_else(|| match kind {
            MediaKind::Video | MediaKind::Animation => Some("video/mp4".to_string()),
            MediaKind::Voice => Some("audio/ogg".to_string()),
            MediaKind::Audio => Some("audio/mpeg".to_string()),
            _ => None,
        });
        match kind {
            MediaKind::Video | MediaKind::Animation => {
                obj["width"] = json!(width);
                obj["height"] = json!(height);
                obj["duration"] = json!(info.duration);
            }
            MediaKind::Audio | MediaKind::Voice => obj["duration"] = json!(info.duration),
            _ => {}
        }
        if kind != MediaKind::Voice
            && let Some(name) = &info.file_name
        {
            obj["file_name"] = json!(name);
        }
        if let Some(mime) = mime {
            obj["mime_type"] = json!(mime);
        }
        (obj, id)
    }

    /// Stores a sent media message and returns it.
    fn store_media(
        &mut self,
        chat_id: i64,
        item: Prepared,
        reply_markup: Option<Value>,
        media_group_id: Option<String>,
    ) -> StoredMessage {
        let (json, file_id) = self.mint(&item.info, item.kind);
        let file_unique_id = item.info.unique.clone();
        let message_id = self.next_message_id(chat_id);
        let stored = StoredMessage {
            message_id,
            chat_id,
            html: item.html,
            text: item.parsed.text,
            reply_markup,
            edits: 0,
            entities: item.parsed.entities,
            parse_mode: item.parse_mode,
            chat: self.chats[&chat_id].clone(),
            date: unix_now(),
            edit_date: None,
            media: Some(StoredMedia {
                kind: item.kind,
                file_id,
                file_unique_id,
                source: item.source,
                file_size: item.info.file_size,
                json,
            }),
            media_group_id,
        };
        self.messages.entry(chat_id).or_default().insert(message_id, stored.clone());
        stored
    }

    /// sendPhoto, sendVideo, sendAnimation, sendDocument, sendAudio, sendVoice.
    pub(super) fn send_media(&mut self, kind: MediaKind, p: &Params) -> ApiResult<Value> {
        let chat_id = self.chat(p)?;
        let parse_mode = p.str("parse_mode");
        let (html, parsed) = caption(p.str("caption"), parse_mode.as_deref(), p.json("caption_entities")?)?;
        let field = kind.field();
        let value = p.str(field);
        let input = match (value.as_deref(), p.1.get(field)) {
            // A file part named like the parameter itself (the plain multipart form).
            (None | Some(""), Some(part)) => Input::Upload(field.to_string(), part),
            (value, _) => {
                resolve(p, value, &|name| bad(format!("there is no {} in the request{}", field, attach_note(name))))?
            }
        };
        let (info, source) = self.prepare_file(kind, input)?;
        let markup = validate_markup(p.json("reply_markup")?, false)?;
        self.check_reply(chat_id, p)?;
        self.check_blocked(chat_id)?;
        self.check_rate(chat_id)?;
        self.note_rate(chat_id);
        let item = Prepared { kind, info, source, html, parsed, parse_mode };
        Ok(self.store_media(chat_id, item, markup, None).to_json())
    }

    /// sendMediaGroup: 2–10 photos and videos, or documents, or audio files.
    pub(super) fn send_media_group(&mut self, p: &Params) -> ApiResult<Value> {
        let chat_id = self.chat(p)?;
        let media = match p.get("media") {
            None => return Err(bad("parameter \"media\" is required")),
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|_| bad("can't parse media JSON object"))?,
            Some(v) => v.clone(),
        };
        let Some(items) = media.as_array() else {
            return Err(bad("expected an Array of InputMedia"));
        };
        let item_error = |what: String| bad(format!("can't parse InputMedia: {what}"));
        let mut parsed_items = Vec::new();
        for item in items {
            if !item.is_object() {
                return Err(item_error("expected an Object".into()));
            }
            let parse_mode = item["parse_mode"].as_str().map(str::to_string);
            let entities = (!item["caption_entities"].is_null()).then(|| item["caption_entities"].clone());
            let (html, parsed) =
                caption(item["caption"].as_str().map(str::to_string), parse_mode.as_deref(), entities)?;
            let Some(kind_name) = item["type"].as_str() else {
                return Err(item_error("field \"type\" must be of type String".into()));
            };
            let kind = match MediaKind::from_field(kind_name) {
                Some(MediaKind::Animation) => {
                    return Err(item_error(format!("type \"{kind_name}\" can't be used in sendMediaGroup")));
                }
                Some(MediaKind::Voice) | None => {
                    return Err(item_error(format!("type \"{kind_name}\" is unsupported")));
                }
                Some(kind) => kind,
            };
            let input = resolve(p, item["media"].as_str(), &|name| {
                item_error(format!("media not found{}", attach_note(name)))
            })?;
            parsed_items.push((kind, input, html, parsed, parse_mode));
        }
        match parsed_items.len() {
            0 => return Err(bad("there are no messages to send")),
            // Telegram's docs require 2–10; its answer to a single item is not verified.
            1 => return Err(bad("wrong number of media in the album: 1 (2-10 expected)")),
            n if n > ALBUM_MAX => return Err(bad("too many messages to send as an album")),
            _ => {}
        }
        let kinds: HashSet<MediaKind> = parsed_items.iter().map(|i| i.0).collect();
        if kinds.len() > 1 {
            for kind in [MediaKind::Document, MediaKind::Audio] {
                if kinds.contains(&kind) {
                    return Err(bad(format!("{} can't be mixed with other media types", kind.field())));
                }
            }
        }
        let mut prepared = Vec::new();
        for (kind, input, html, parsed, parse_mode) in parsed_items {
            let (info, source) = self.prepare_file(kind, input)?;
            prepared.push(Prepared { kind, info, source, html, parsed, parse_mode });
        }
        self.check_reply(chat_id, p)?;
        self.check_blocked(chat_id)?;
        self.check_rate_n(chat_id, prepared.len())?;
        let group = unique_id("1360000000000");
        let mut sent = Vec::new();
        for item in prepared {
            self.note_rate(chat_id);
            sent.push(self.store_media(chat_id, item, None, Some(group.clone())).to_json());
        }
        Ok(Value::Array(sent))
    }

    /// copyMessage: a message the bot sent, or one it received in an update, sent again to
    /// `chat_id` (media by file_id, no upload; `caption` replaces a media message's caption).
    pub(super) fn copy_message(&mut self, p: &Params) -> ApiResult<Value> {
        let chat_id = self.chat(p)?;
        let from = Params(
            [("chat_id".to_string(), p.get("from_chat_id").cloned().unwrap_or(Value::Null))].into_iter().collect(),
            Default::default(),
        );
        let from_chat = self.chat(&from)?;
        let id = p.i64("message_id")?.ok_or_else(|| bad("message identifier is not specified"))?;
        let source = match self.messages.get(&from_chat).and_then(|m| m.get(&id)) {
            Some(own) => own.to_json(),
            None => {
                self.foreign_content.get(&(from_chat, id)).cloned().ok_or_else(|| bad("message to copy not found"))?
            }
        };
        let media = MediaKind::ALL.into_iter().find_map(|kind| {
            let (info, ids) = FileInfo::from_message_field(kind, &source[kind.field()])?;
            Some((kind, info, ids.last().cloned().unwrap_or_default()))
        });
        let parse_mode = p.str("parse_mode");
        let markup = validate_markup(p.json("reply_markup")?, false)?;
        let (html, parsed) = match (&media, p.get("caption")) {
            (Some(_), Some(_)) => caption(p.str("caption"), parse_mode.as_deref(), p.json("caption_entities")?)?,
            (Some(_), None) => {
                let text = source["caption"].as_str().unwrap_or_default().to_string();
                let entities = source["caption_entities"].as_array().cloned().unwrap_or_default();
                (text.clone(), Parsed { text, entities })
            }
            (None, _) => {
                let Some(text) = source["text"].as_str() else {
                    return Err(bad("the fake Telegram server copies only text and media messages"));
                };
                let entities = source["entities"].as_array().cloned().unwrap_or_default();
                (text.to_string(), Parsed { text: text.to_string(), entities })
            }
        };
        self.check_reply(chat_id, p)?;
        self.check_blocked(chat_id)?;
        self.check_rate(chat_id)?;
        self.note_rate(chat_id);
        let parse_mode = if p.get("caption").is_some() { parse_mode } else { None };
        let message_id = match media {
            Some((kind, info, file_id)) => {
                let item = Prepared { kind, info, source: MediaSource::FileId(file_id), html, parsed, parse_mode };
                self.store_media(chat_id, item, markup, None).message_id
            }
            None => {
                let message_id = self.next_message_id(chat_id);
                let stored = StoredMessage {
                    message_id,
                    chat_id,
                    html,
                    text: parsed.text,
                    reply_markup: markup,
                    edits: 0,
                    entities: parsed.entities,
                    parse_mode: None,
                    chat: self.chats[&chat_id].clone(),
                    date: unix_now(),
                    edit_date: None,
                    media: None,
                    media_group_id: None,
                };
                self.messages.entry(chat_id).or_default().insert(message_id, stored);
                message_id
            }
        };
        Ok(json!({"message_id": message_id}))
    }

    /// The cached media of an inline query result (`photo_file_id`, …): a known file_id
    /// of that kind, and its caption like any caption.
    pub(super) fn check_inline_media(&self, r: &Value) -> ApiResult<()> {
        const CACHED: &[(&str, MediaKind)] = &[
            ("photo_file_id", MediaKind::Photo),
            ("video_file_id", MediaKind::Video),
            ("gif_file_id", MediaKind::Animation),
            ("mpeg4_file_id", MediaKind::Animation),
            ("document_file_id", MediaKind::Document),
            ("audio_file_id", MediaKind::Audio),
            ("voice_file_id", MediaKind::Voice),
        ];
        for (field, kind) in CACHED {
            if let Some(id) = r[*field].as_str() {
                self.prepare_file(*kind, Input::FileId(id.to_string()))?;
            }
        }
        if let Some(text) = r["caption"].as_str() {
            let entities = (!r["caption_entities"].is_null()).then(|| r["caption_entities"].clone());
            caption(Some(text.to_string()), r["parse_mode"].as_str(), entities)?;
        }
        Ok(())
    }

    /// editMessageCaption of one of the bot's media messages.
    pub(super) fn edit_message_caption(&mut self, p: &Params) -> ApiResult<Value> {
        let (chat_id, id) = self.target_message(p)?;
        let parse_mode = p.str("parse_mode");
        let (html, parsed) = caption(p.str("caption"), parse_mode.as_deref(), p.json("caption_entities")?)?;
        let markup = validate_markup(p.json("reply_markup")?, true)?;
        if self.own_message(chat_id, id)?.media.is_none() {
            return Err(bad("there is no caption in the message to edit"));
        }
        self.apply_edit(chat_id, id, html, parsed, parse_mode, markup)
    }
}

/// The Bot API's limit for files a bot may download (`getFile`).
const MAX_DOWNLOAD_BYTES: usize = 20 * 1024 * 1024;

/// The bytes the fake serves for a file it never saw the content of: `size` bytes made from
/// its unique id, the same every time.
pub fn file_bytes(unique: &str, size: usize) -> Vec<u8> {
    format!("fake telegram file {unique}\n").bytes().cycle().take(size).collect()
}

impl State {
    /// `getFile`: a path to download a known file from (`/file/bot<token>/<path>`).
    pub(super) fn get_file(&mut self, p: &Params) -> ApiResult<Value> {
        let id = p.str("file_id").unwrap_or_default();
        if id.is_empty() {
            return Err(bad("Bad Request: file_id not specified"));
        }
        let info = self.files.get(&id).ok_or_else(|| bad("Bad Request: invalid file_id"))?;
        if info.file_size > MAX_DOWNLOAD_BYTES {
            return Err(bad("Bad Request: file is too big"));
        }
        let folder = match info.kind {
            MediaKind::Photo => "photos",
            MediaKind::Video => "videos",
            MediaKind::Animation => "animations",
            MediaKind::Audio => "music",
            MediaKind::Voice => "voice",
            MediaKind::Document => "documents",
        };
        let ext = match info.kind {
            MediaKind::Photo => "jpg",
            MediaKind::Video | MediaKind::Animation => "mp4",
            MediaKind::Audio => "mp3",
            MediaKind::Voice => "oga",
            MediaKind::Document => "bin",
        };
        let path = format!("{folder}/file_{}.{ext}", self.file_paths.len());
        self.file_paths.insert(path.clone(), (info.unique.clone(), info.file_size));
        Ok(json!({
            "file_id": id,
            "file_unique_id": info.unique,
            "file_size": info.file_size,
            "file_path": path,
        }))
    }

    /// The content of a path `getFile` handed out.
    pub(super) fn file_at(&self, path: &str) -> Option<Vec<u8>> {
        let (unique, size) = self.file_paths.get(path)?;
        Some(file_bytes(unique, *size))
    }

    /// The content `file_id` downloads as.
    pub(super) fn content_of(&self, file_id: &str) -> Option<Vec<u8>> {
        let info = self.files.get(file_id)?;
        Some(file_bytes(&info.unique, info.file_size))
    }
}
