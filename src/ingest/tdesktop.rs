//! Telegram Desktop's `result.json`, single-chat or full-account, streamed:
//! one message is in memory at a time, whatever the size of the file.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use chrono::TimeZone;
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::pipe::PostSink;
use crate::model::{
    Contact, Entity, EntityKind, Extra, Location, Media, MediaKind, NewChannel, NewPost, Poll, PollOption, Reaction,
};
use crate::store::{MediaFiles, MediaOutcome, SkippedChat, StoreError, Stored};

/// The items of an album at most (Telegram's limit for a media group).
const ALBUM_MAX: usize = 10;

/// Where an export's media come from and go to.
#[derive(Default)]
pub struct MediaSource {
    /// The export's folder: the paths in `result.json` are relative to it.
    pub export_dir: PathBuf,
    /// The media folder; `None` (a store in memory) records every file as missing.
    pub files: Option<MediaFiles>,
}

/// Why an export could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("not a Telegram Desktop export: it has no \"messages\" and no \"chats\"")]
    NotExport,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot copy {path} into the media folder {dir}: {source}")]
    Media { path: String, dir: String, source: std::io::Error },
}

/// Streams an export into `sink`, copying its media files through `media`. Returns the
/// number of channels found.
pub fn import<R: Read>(
    reader: R,
    sink: &mut dyn PostSink,
    media: &mut MediaSource,
    zone: Tz,
) -> Result<usize, ExportError> {
    let cut = Cut::default();
    // serde_json reads an `io::Read` a byte at a time, and only a `BufReader` answers that
    // from a buffer: any other reader is called once per byte of the export.
    let reader = std::io::BufReader::with_capacity(64 * 1024, Splitter::new(reader, cut.clone()));
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = State { sink, failure: None, channels: 0, found: false, media: std::mem::take(media), cut, zone };
    let result = ExportSeed { state: &mut state, top: true }.deserialize(&mut de).and_then(|()| de.end());
    *media = std::mem::take(&mut state.media);
    if let Some(e) = state.failure.take() {
        return Err(e);
    }
    result?;
    if !state.found {
        return Err(ExportError::NotExport);
    }
    Ok(state.channels)
}

struct State<'s, 'a> {
    sink: &'s mut (dyn PostSink + 'a),
    /// A store or media folder failure inside the visitor; serde only carries strings.
    failure: Option<ExportError>,
    channels: usize,
    found: bool,
    media: MediaSource,
    /// The messages the reader cut out of the stream (see [`Splitter`]).
    cut: Cut,
    /// The zone an export's local `date`s are read in.
    zone: Tz,
}

impl State<'_, '_> {
    /// Keeps a failure serde cannot carry; the string stands in for it until `import` returns.
    fn fail(&mut self, e: ExportError) -> ReadError {
        self.failure = Some(e);
        "store failure".into()
    }

    /// Counts (and for an unreadable one, warns of) the dates a message's post had guessed.
    fn noted(&mut self, id: i64, notes: &DateNotes) {
        let counts = self.sink.counts();
        if notes.unreadable {
            tracing::warn!(message_id = id, "a date_unixtime that is not a number: the local date is used");
            counts.dates_unreadable += 1;
        }
        if notes.local {
            counts.dates_local += 1;
            counts.dates_zone = Some(self.zone.name().to_string());
        }
    }

    fn store(&mut self, post: NewPost) -> Result<(), ExportError> {
        self.sink.post(post)?;
        Ok(())
    }

    /// The media of a message: its file copied into the media folder, or recorded as missing.
    fn media_of(&mut self, raw: &RawMessage) -> Result<Option<Media>, ExportError> {
        let Some((kind, path)) = raw.media_path() else { return Ok(None) };
        let mut media = Media {
            kind,
            file_name: raw.file_name.clone().filter(|n| !n.is_empty()),
            mime_type: raw.mime_type.clone().filter(|n| !n.is_empty()),
            size: raw.photo_file_size.or(raw.file_size),
            width: raw.width.and_then(|w| i32::try_from(w).ok()),
            height: raw.height.and_then(|h| i32::try_from(h).ok()),
            duration: raw.duration_seconds.and_then(|d| i32::try_from(d).ok()),
            message_id: Some(raw.id),
            ..Media::default()
        };
        let source = local_path(&self.media.export_dir, path);
        let opened = source.as_ref().and_then(|p| std::fs::File::open(p).ok().filter(|_| p.is_file()));
        match (opened, source, self.media.files.as_mut()) {
            (Some(file), Some(source), Some(files)) => {
                let extension = crate::store::extension_of(&source);
                let stored = files.add(file, &extension).map_err(|e| ExportError::Media {
                    path: source.display().to_string(),
                    dir: files.dir().display().to_string(),
                    source: e,
                })?;
                self.sink.count_media(match stored {
                    Stored::Copied(_) => MediaOutcome::Copied,
                    Stored::AlreadyPresent(_) => MediaOutcome::AlreadyPresent,
                });
                if media.size.is_none() {
                    media.size = std::fs::metadata(&source).ok().map(|m| m.len() as i64);
                }
                media.file = Some(stored.name().to_string());
            }
            _ => {
                media.missing = true;
                self.sink.count_media(MediaOutcome::Missing);
            }
        }
        Ok(Some(media))
    }
}

/// A chat type of the export as a reader names it.
fn chat_kind_name(kind: &str) -> &str {
    match kind {
        "public_supergroup" | "private_supergroup" => "supergroup",
        "private_group" => "group",
        "personal_chat" => "personal chat",
        "bot_chat" => "bot chat",
        "saved_messages" => "saved messages",
        other => other,
    }
}

/// A file path of the export as a path under its folder: `None` for a placeholder such as
/// `(File not included. Change data exporting settings to download.)`, and for a path that
/// would leave the folder (absolute, or with `..`): an export names its own files only.
fn local_path(export_dir: &Path, path: &str) -> Option<PathBuf> {
    let path = path.trim();
    if path.is_empty() || path.starts_with('(') {
        return None;
    }
    let relative = Path::new(path);
    if !relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
        tracing::warn!(path, "a media path outside the export's folder: recorded as missing");
        return None;
    }
    Some(export_dir.join(relative))
}

/// Consecutive messages gathered into one post: an album as the export writes it.
struct Album {
    parts: Vec<Item>,
}

/// A message read, with what grouping it into an album needs.
struct Item {
    post: NewPost,
    from: Option<String>,
}

impl Album {
    /// The export has no album id: an album is consecutive media messages of one sender
    /// sent within one second, at most one of them with text, at most ten.
    fn takes(&self, item: &Item) -> bool {
        let Some(first) = self.parts.first() else { return false };
        item.post.media.len() == 1
            && self.parts.len() < ALBUM_MAX
            && item.from == first.from
            && item.post.date.is_some()
            && item.post.date == first.post.date
            && !(has_text(&item.post) && self.parts.iter().any(|p| has_text(&p.post)))
    }

    fn into_post(self) -> Option<NewPost> {
        let mut parts = self.parts.into_iter();
        let mut post = parts.next()?.post;
        for part in parts {
            let part = part.post;
            if has_text(&part) {
                post.text = part.text;
                post.entities = part.entities;
                post.message_id = part.message_id;
            }
            post.edited = post.edited.max(part.edited);
            post.media.extend(part.media);
        }
        Some(post)
    }
}

fn has_text(p: &NewPost) -> bool {
    !p.text.trim().is_empty()
}

/// A chat object (or the top level of a single-chat export).
struct ExportSeed<'x, 's, 'a> {
    state: &'x mut State<'s, 'a>,
    top: bool,
}

#[derive(Default)]
struct ChatHeader {
    name: Option<String>,
    kind: Option<String>,
    id: Option<i64>,
}

impl ChatHeader {
    /// Everything a chat's messages need is known: its name, type and id.
    fn complete(&self) -> bool {
        self.name.is_some() && self.kind.is_some() && self.id.is_some()
    }

    fn is_channel(&self) -> bool {
        matches!(self.kind.as_deref(), Some("public_channel" | "private_channel" | "channel"))
    }
}

impl<'de> DeserializeSeed<'de> for ExportSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ExportSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.top { "a Telegram Desktop export object" } else { "a chat object" })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut chat = ChatHeader::default();
        // Messages read before the chat's name, type and id (keys in another order than
        // Telegram Desktop's, e.g. sorted by `jq -S`): kept on disk until the chat ends.
        let mut early: Option<Spill> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => chat.name = map.next_value()?,
                "type" => chat.kind = map.next_value()?,
                "id" => chat.id = map.next_value()?,
                "messages" => {
                    self.state.found = true;
                    if chat.complete() {
                        map.next_value_seed(Messages { state: &mut *self.state, chat: &chat })?;
                    } else {
                        early = Some(map.next_value_seed(SpillSeed { state: &mut *self.state })?);
                    }
                }
                "chats" | "left_chats" if self.top => {
                    self.state.found = true;
                    map.next_value_seed(ChatList { state: &mut *self.state })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(spill) = early {
            read_spilled(self.state, &chat, spill).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// `{"about": ..., "list": [chat, ...]}`
struct ChatList<'x, 's, 'a> {
    state: &'x mut State<'s, 'a>,
}

impl<'de> DeserializeSeed<'de> for ChatList<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChatList<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chat list object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "list" {
                map.next_value_seed(Chats { state: &mut *self.state })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Chats<'x, 's, 'a> {
    state: &'x mut State<'s, 'a>,
}

impl<'de> DeserializeSeed<'de> for Chats<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Chats<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of chats")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(ExportSeed { state: &mut *self.state, top: false })?.is_some() {}
        Ok(())
    }
}

struct Messages<'x, 'c, 's, 'a> {
    state: &'x mut State<'s, 'a>,
    chat: &'c ChatHeader,
}

impl<'de> DeserializeSeed<'de> for Messages<'_, '_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Messages<'_, '_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.state;
        let mut reader = ChatReader::start(state, self.chat).map_err(de::Error::custom)?;
        while let Some(index) = seq.next_element::<u64>()? {
            let bytes = state.cut.take(index).map_err(de::Error::custom)?;
            reader.message(state, index, &bytes).map_err(de::Error::custom)?;
        }
        reader.finish(state).map_err(de::Error::custom)
    }
}

/// Why reading a chat's messages stopped: a message that is not one (serde's message),
/// or a store or media failure kept in [`State::failure`].
type ReadError = String;

/// One chat's messages, read one at a time: a channel's become posts (consecutive media
/// messages gathered into albums), any other chat's are counted as skipped.
struct ChatReader {
    /// A chat that is not a channel, named in the summary with its messages skipped.
    skipped: Option<SkippedChat>,
    album: Option<Album>,
}

impl ChatReader {
    fn start(state: &mut State<'_, '_>, chat: &ChatHeader) -> Result<ChatReader, ReadError> {
        let Some(kind) = chat.kind.as_deref() else {
            return Err(
                "a chat has \"messages\" but no \"type\" (a Telegram Desktop export names each chat's type)".into()
            );
        };
        if !chat.is_channel() {
            let name = chat.name.clone().unwrap_or_default();
            let skipped = SkippedChat { name, kind: chat_kind_name(kind).to_string(), messages: 0 };
            return Ok(ChatReader { skipped: Some(skipped), album: None });
        }
        let Some(id) = chat.id else {
            return Err("a channel has \"messages\" but no \"id\"".into());
        };
        let tg_id = format!("-100{id}").parse::<i64>().map_err(|_| format!("channel id {id} is out of range"))?;
        let channel = NewChannel::telegram(tg_id, chat.name.clone().unwrap_or_default());
        if let Err(e) = state.sink.channel(&channel) {
            return Err(state.fail(ExportError::Store(e)));
        }
        state.channels += 1;
        Ok(ChatReader { skipped: None, album: None })
    }

    /// Message `index` of the export (counted from 0), its bytes as the file has them.
    fn message(&mut self, state: &mut State<'_, '_>, index: u64, bytes: &[u8]) -> Result<(), ReadError> {
        if let Some(chat) = &mut self.skipped {
            chat.messages += 1;
            state.sink.skip();
            return Ok(());
        }
        // Checked whole, with SIMD: serde_json's reader of a byte slice checks every
        // string of it again, a byte at a time (a twentieth of an import's writer).
        let text = simdutf8::basic::from_utf8(bytes)
            .map_err(|_| format!("message {} of the export is not valid UTF-8", index + 1))?;
        let message: RawMessage = serde_json::from_str(text).map_err(|e| {
            // Where in the message is of no use to a reader of the file: the stream's
            // position (the line the message begins on) is added instead.
            let what = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let what = what.strip_suffix(&suffix).unwrap_or(&what);
            format!("message {} of the export: {what}", index + 1)
        })?;
        let media = state.media_of(&message).map_err(|e| state.fail(e))?;
        let from = message.from_id.clone();
        let id = message.id;
        let mut notes = DateNotes::default();
        let post = message.into_post(media, state.zone, &mut notes);
        if post.is_some() {
            state.noted(id, &notes);
        }
        let Some(post) = post else {
            self.flush(state)?;
            state.sink.skip();
            return Ok(());
        };
        let item = Item { post, from };
        if let Some(open) = &mut self.album
            && open.takes(&item)
        {
            open.parts.push(item);
            return Ok(());
        }
        self.flush(state)?;
        if item.post.media.is_empty() {
            state.store(item.post).map_err(|e| state.fail(e))
        } else {
            self.album = Some(Album { parts: vec![item] });
            Ok(())
        }
    }

    /// Stores the album being gathered, if any.
    fn flush(&mut self, state: &mut State<'_, '_>) -> Result<(), ReadError> {
        match self.album.take().and_then(Album::into_post) {
            Some(done) => state.store(done).map_err(|e| state.fail(e)),
            None => Ok(()),
        }
    }

    fn finish(mut self, state: &mut State<'_, '_>) -> Result<(), ReadError> {
        if let Some(chat) = self.skipped.take() {
            state.sink.skip_chat(chat);
        }
        self.flush(state)
    }
}

/// The messages of a chat read before the chat's name, type and id: their bytes, each
/// after its length, in a temporary file (memory stays bounded however many there are).
struct Spill {
    file: std::io::BufWriter<std::fs::File>,
    /// The number of each message in the export, in order.
    indexes: Vec<u64>,
}

struct SpillSeed<'x, 's, 'a> {
    state: &'x mut State<'s, 'a>,
}

impl<'de> DeserializeSeed<'de> for SpillSeed<'_, '_, '_> {
    type Value = Spill;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Spill, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SpillSeed<'_, '_, '_> {
    type Value = Spill;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Spill, A::Error> {
        use std::io::Write;
        let io = |e: std::io::Error| de::Error::custom(format!("cannot keep messages in a temporary file: {e}"));
        let mut spill = Spill { file: std::io::BufWriter::new(tempfile::tempfile().map_err(io)?), indexes: Vec::new() };
        while let Some(index) = seq.next_element::<u64>()? {
            let bytes = self.state.cut.take(index).map_err(de::Error::custom)?;
            spill.file.write_all(&(bytes.len() as u64).to_le_bytes()).map_err(io)?;
            spill.file.write_all(&bytes).map_err(io)?;
            spill.indexes.push(index);
        }
        Ok(spill)
    }
}

/// Reads the messages kept in `spill` as the messages of `chat`, now that it is known.
fn read_spilled(state: &mut State<'_, '_>, chat: &ChatHeader, spill: Spill) -> Result<(), ReadError> {
    use std::io::{Seek, SeekFrom};
    let io = |e: std::io::Error| format!("cannot read messages back from a temporary file: {e}");
    let mut file = spill.file.into_inner().map_err(|e| io(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut file = std::io::BufReader::new(file);
    let mut reader = ChatReader::start(state, chat)?;
    let mut bytes = Vec::new();
    for index in spill.indexes {
        let mut len = [0u8; 8];
        file.read_exact(&mut len).map_err(io)?;
        bytes.resize(u64::from_le_bytes(len) as usize, 0);
        file.read_exact(&mut bytes).map_err(io)?;
        reader.message(state, index, &bytes)?;
    }
    reader.finish(state)
}

#[derive(Deserialize)]
struct RawMessage {
    id: i64,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    date_unixtime: Option<StringOrInt>,
    #[serde(default)]
    edited: Option<String>,
    #[serde(default)]
    edited_unixtime: Option<StringOrInt>,
    #[serde(default)]
    text: Option<RawText>,
    #[serde(default)]
    text_entities: Option<Vec<RawPiece>>,
    #[serde(default)]
    from_id: Option<String>,
    /// A photo's path (or the placeholder of a file not exported).
    #[serde(default)]
    photo: Option<String>,
    /// Any other file's path; `media_type` tells what it is (none: a document).
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    file_size: Option<i64>,
    #[serde(default)]
    photo_file_size: Option<i64>,
    #[serde(default)]
    width: Option<i64>,
    #[serde(default)]
    height: Option<i64>,
    #[serde(default)]
    duration_seconds: Option<i64>,
    #[serde(default)]
    poll: Option<RawPoll>,
    #[serde(default)]
    reactions: Option<Vec<RawReaction>>,
    #[serde(default)]
    location_information: Option<RawLocation>,
    #[serde(default)]
    place_name: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    contact_information: Option<RawContact>,
}

#[derive(Deserialize)]
struct RawPoll {
    #[serde(default)]
    question: String,
    #[serde(default)]
    closed: bool,
    #[serde(default)]
    total_voters: i64,
    #[serde(default)]
    answers: Vec<RawAnswer>,
}

#[derive(Deserialize)]
struct RawAnswer {
    #[serde(default)]
    text: String,
    #[serde(default)]
    voters: i64,
}

/// `{"type": "emoji" | "custom_emoji" | "paid", "count", "emoji" | "document_id"}`.
#[derive(Deserialize)]
struct RawReaction {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    count: i64,
    #[serde(default)]
    emoji: Option<String>,
    #[serde(default)]
    document_id: Option<StringOrInt>,
}

#[derive(Deserialize)]
struct RawLocation {
    latitude: f64,
    longitude: f64,
}

#[derive(Deserialize)]
struct RawContact {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    phone_number: Option<String>,
}

impl RawReaction {
    /// `None` for a kind this build does not know (warned of by the caller's count).
    fn into_reaction(self) -> Option<Reaction> {
        let mut r = Reaction { emoji: None, custom_emoji_id: None, paid: false, count: self.count };
        match self.kind.as_str() {
            "emoji" => r.emoji = Some(self.emoji?),
            "custom_emoji" => {
                r.custom_emoji_id = Some(match self.document_id? {
                    StringOrInt::Int(i) => i.to_string(),
                    StringOrInt::Str(s) => s,
                });
            }
            "paid" => r.paid = true,
            // Exports before the `type` field: an emoji alone.
            "" if self.emoji.is_some() => r.emoji = self.emoji,
            _ => return None,
        }
        Some(r)
    }
}

/// A number, or a string of one (by hand, not `#[serde(untagged)]`: untagged enums buffer
/// every value before trying their variants, which was a quarter of an import).
enum StringOrInt {
    Int(i64),
    Str(String),
}

impl<'de> Deserialize<'de> for StringOrInt {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringOrInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StringOrInt, E> {
                Ok(StringOrInt::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StringOrInt, E> {
                i64::try_from(v).map(StringOrInt::Int).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringOrInt, E> {
                Ok(StringOrInt::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<StringOrInt, E> {
                Ok(StringOrInt::Str(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl StringOrInt {
    fn value(&self) -> Option<i64> {
        match self {
            StringOrInt::Int(i) => Some(*i),
            StringOrInt::Str(s) => s.trim().parse().ok(),
        }
    }
}

/// A message's `text`: a string, or a list of parts (deserialized by hand, as [`StringOrInt`]).
enum RawText {
    Plain(String),
    Parts(Vec<RawPart>),
}

/// A part of a `text` list: a string, or a styled piece.
enum RawPart {
    Plain(String),
    Piece(RawPiece),
}

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text: a string or a list of parts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawText, E> {
                Ok(RawText::Plain(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawText, E> {
                Ok(RawText::Plain(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawText, A::Error> {
                let mut parts = Vec::new();
                while let Some(part) = seq.next_element::<RawPart>()? {
                    parts.push(part);
                }
                Ok(RawText::Parts(parts))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawPart {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPart;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a part of a text: a string or a piece object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPart, E> {
                Ok(RawPart::Plain(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawPart, E> {
                Ok(RawPart::Plain(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawPart, A::Error> {
                RawPiece::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawPart::Piece)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct RawPiece {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    href: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    collapsed: bool,
    /// A custom emoji's sticker id.
    #[serde(default)]
    document_id: Option<String>,
}

/// Local time without offset, as every export writes `date` (older ones write nothing else):
/// read in `zone`, the exporting computer's as the admin names it. A time a clock change
/// skipped is read as UTC's.
fn local_date(s: &str, zone: Tz) -> Option<i64> {
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(zone.from_local_datetime(&naive).earliest().map_or_else(|| naive.and_utc().timestamp(), |d| d.timestamp()))
}

/// A date of a message: its `*_unixtime` when there is one, else its local `date` in `zone`.
/// `None` when neither can be read.
fn message_date(unix: Option<&StringOrInt>, local: Option<&str>, zone: Tz, notes: &mut DateNotes) -> Option<i64> {
    if let Some(unix) = unix {
        if let Some(t) = unix.value() {
            return Some(t);
        }
        notes.unreadable = true;
    } else if local.is_some() {
        notes.local = true;
    }
    local.and_then(|s| local_date(s, zone))
}

/// What reading a message's dates had to guess.
#[derive(Default)]
struct DateNotes {
    /// A `date_unixtime` or `edited_unixtime` that is not a number.
    unreadable: bool,
    /// A date read from local time (an old export without unixtimes).
    local: bool,
}

fn entity_kind(piece: &RawPiece) -> Option<EntityKind> {
    Some(match piece.kind.as_str() {
        "bold" => EntityKind::Bold,
        "italic" => EntityKind::Italic,
        "underline" => EntityKind::Underline,
        "strikethrough" => EntityKind::Strikethrough,
        "spoiler" => EntityKind::Spoiler,
        "code" => EntityKind::Code,
        "pre" => EntityKind::Pre { language: piece.language.clone().filter(|l| !l.is_empty()) },
        "text_link" => EntityKind::TextLink { url: piece.href.clone()? },
        "link" => EntityKind::Url,
        "email" => EntityKind::Email,
        "phone" => EntityKind::Phone,
        "mention" => EntityKind::Mention,
        "mention_name" => EntityKind::MentionName,
        "hashtag" => EntityKind::Hashtag,
        "cashtag" => EntityKind::Cashtag,
        "bot_command" => EntityKind::BotCommand,
        "blockquote" if piece.collapsed => EntityKind::ExpandableBlockquote,
        "blockquote" => EntityKind::Blockquote,
        "custom_emoji" => EntityKind::CustomEmoji { custom_emoji_id: piece.document_id.clone() },
        // `plain` is no entity; anything else is kept under its own name (`bank_card`).
        "plain" | "" => return None,
        other => EntityKind::Other { name: other.to_string() },
    })
}

/// Concatenates the pieces of a text, turning styled ones into entities (UTF-16 offsets).
fn flatten<'p>(pieces: impl Iterator<Item = (&'p str, Option<&'p RawPiece>)>) -> (String, Vec<Entity>) {
    let mut text = String::new();
    let mut entities = Vec::new();
    let mut offset = 0u32;
    for (piece_text, piece) in pieces {
        let length = crate::text::utf16_len(piece_text) as u32;
        if let Some(kind) = piece.and_then(entity_kind)
            && length > 0
        {
            entities.push(Entity { kind, offset, length });
        }
        text.push_str(piece_text);
        offset += length;
    }
    (text, entities)
}

impl RawMessage {
    /// The kind and the path of the message's media, if it has any.
    fn media_path(&self) -> Option<(MediaKind, &str)> {
        if self.kind != "message" {
            return None;
        }
        if let Some(photo) = &self.photo {
            return Some((MediaKind::Photo, photo));
        }
        let file = self.file.as_deref()?;
        let kind = match self.media_type.as_deref() {
            Some("video_file") => MediaKind::Video,
            Some("animation") => MediaKind::Animation,
            Some("audio_file") => MediaKind::Audio,
            Some("voice_message") => MediaKind::Voice,
            Some("video_message") => MediaKind::VideoNote,
            Some("sticker") => MediaKind::Sticker,
            _ => MediaKind::Document,
        };
        Some((kind, file))
    }

    fn into_post(self, media: Option<Media>, zone: Tz, notes: &mut DateNotes) -> Option<NewPost> {
        if self.kind != "message" {
            return None; // service and unsupported messages
        }
        let (mut text, entities) = match (&self.text_entities, &self.text) {
            (Some(pieces), _) if !pieces.is_empty() => flatten(pieces.iter().map(|p| (p.text.as_str(), Some(p)))),
            (_, Some(RawText::Plain(s))) => (s.clone(), Vec::new()),
            (_, Some(RawText::Parts(parts))) => flatten(parts.iter().map(|p| match p {
                RawPart::Plain(s) => (s.as_str(), None),
                RawPart::Piece(piece) => (piece.text.as_str(), Some(piece)),
            })),
            _ => (String::new(), Vec::new()),
        };
        let extra = Extra {
            poll: self.poll.map(|p| Poll {
                question: p.question,
                options: p.answers.into_iter().map(|a| PollOption { text: a.text, voters: a.voters }).collect(),
                total_voters: p.total_voters,
                closed: p.closed,
            }),
            location: self.location_information.map(|l| Location {
                latitude: l.latitude,
                longitude: l.longitude,
                title: self.place_name.filter(|s| !s.is_empty()),
                address: self.address.filter(|s| !s.is_empty()),
            }),
            contact: self.contact_information.map(|c| Contact {
                name: format!("{} {}", c.first_name, c.last_name).trim().to_string(),
                phone_number: c.phone_number.filter(|s| !s.is_empty()),
            }),
            ..Extra::default()
        };
        // A poll, a place or a contact without a text of its own is listed, searched and
        // replayed by its text.
        if text.trim().is_empty()
            && let Some(kind) = extra.text()
        {
            text = kind;
        }
        if text.trim().is_empty() && media.is_none() {
            return None; // an empty message
        }
        let reactions = self.reactions.unwrap_or_default().into_iter().filter_map(RawReaction::into_reaction).collect();
        let date = message_date(self.date_unixtime.as_ref(), self.date.as_deref(), zone, notes);
        let edited = message_date(self.edited_unixtime.as_ref(), self.edited.as_deref(), zone, notes);
        Some(NewPost {
            message_id: Some(self.id),
            seq: self.id,
            date,
            edited,
            text,
            entities,
            media: media.into_iter().collect(),
            media_group: None,
            reactions,
            extra,
        })
    }
}

/// The messages [`Splitter`] cut out of an export, numbered in order, until the visitor
/// takes them.
#[derive(Clone, Default)]
struct Cut(Rc<RefCell<VecDeque<CutMessage>>>);

/// A message's number in the export and its bytes.
type CutMessage = (u64, Vec<u8>);

impl Cut {
    /// The bytes of message `index` (any older one left behind is dropped).
    fn take(&self, index: u64) -> Result<Vec<u8>, String> {
        let mut queue = self.0.borrow_mut();
        while let Some((i, bytes)) = queue.pop_front() {
            if i == index {
                return Ok(bytes);
            }
        }
        Err(format!("message {} of the export was not read whole", index + 1))
    }
}

/// An object or an array open in the export, outside the messages.
struct Frame {
    array: bool,
    /// The key this container is the value of (its first bytes; empty in an array).
    key: Vec<u8>,
    /// In an object: the next string is a key.
    expect_key: bool,
}

/// A message being cut out.
struct Message {
    bytes: Vec<u8>,
    depth: u32,
    /// Not an object or an array: ends at the next `,`, `]` or space.
    scalar: bool,
}

/// Keys no longer than this are kept for matching (`messages`, `chats`, `left_chats`, `list`).
const KEY_MAX: usize = 16;

/// Reads an export for serde_json, cutting every element of a chat's `"messages"` array out
/// of the stream: the element's bytes go to [`Cut`], and the stream carries its number in
/// its place. serde_json parses a message from a slice several times faster than from a
/// reader (which it reads a byte at a time), and one message is in memory at a time as
/// before. Also rewrites the `\xHH` escapes some exports write (invalid JSON) to `\u00HH`,
/// as [`FixEscapes`] does. The chats' `"messages"` are those of the top level and of
/// `"chats"` / `"left_chats"` → `"list"` → each chat, where the visitor reads them.
struct Splitter<R> {
    inner: R,
    raw: Box<[u8]>,
    out: Vec<u8>,
    pos: usize,
    cut: Cut,
    next: u64,
    in_string: bool,
    escaped: bool,
    stack: Vec<Frame>,
    /// The last key read in the innermost object, waiting for its value.
    key: Vec<u8>,
    /// The string being read outside the messages (its first bytes: it may be a key).
    string: Vec<u8>,
    /// The innermost container is a chat's messages.
    in_messages: bool,
    message: Option<Message>,
}

impl<R: Read> Splitter<R> {
    fn new(inner: R, cut: Cut) -> Self {
        Splitter {
            inner,
            raw: vec![0; 64 * 1024].into_boxed_slice(),
            out: Vec::new(),
            pos: 0,
            cut,
            next: 0,
            in_string: false,
            escaped: false,
            stack: Vec::new(),
            key: Vec::new(),
            string: Vec::new(),
            in_messages: false,
            message: None,
        }
    }

    /// Whether an array opened now under `key` holds a chat's messages.
    fn opens_messages(&self, key: &[u8]) -> bool {
        let s = &self.stack;
        key == b"messages"
            && match s.len() {
                1 => !s[0].array,
                4 => {
                    !s[0].array
                        && !s[1].array
                        && (s[1].key == b"chats" || s[1].key == b"left_chats")
                        && s[2].array
                        && s[2].key == b"list"
                        && !s[3].array
                }
                _ => false,
            }
    }

    /// The message cut: its number in the stream, followed by its line breaks, so that
    /// serde_json's positions stay the file's lines.
    fn finish_message(&mut self) {
        if let Some(m) = self.message.take() {
            self.out.extend_from_slice(self.next.to_string().as_bytes());
            self.out.extend(std::iter::repeat_n(b'\n', memchr::memchr_iter(b'\n', &m.bytes).count()));
            self.cut.0.borrow_mut().push_back((self.next, m.bytes));
            self.next += 1;
        }
    }

    /// A byte outside strings and outside the messages.
    fn structure(&mut self, b: u8) {
        if self.in_messages && !b.is_ascii_whitespace() && b != b',' && b != b']' {
            let container = b == b'{' || b == b'[';
            self.message = Some(Message { bytes: vec![b], depth: u32::from(container), scalar: !container });
            self.in_string = b == b'"';
            return;
        }
        self.out.push(b);
        match b {
            b'"' => {
                self.in_string = true;
                self.string.clear();
            }
            b':' => {
                if let Some(top) = self.stack.last_mut() {
                    top.expect_key = false;
                }
            }
            b',' => {
                if let Some(top) = self.stack.last_mut() {
                    top.expect_key = !top.array;
                }
            }
            b'{' | b'[' => {
                let key = match self.stack.last() {
                    Some(top) if !top.array => std::mem::take(&mut self.key),
                    _ => Vec::new(),
                };
                let messages = b == b'[' && self.opens_messages(&key);
                self.stack.push(Frame { array: b == b'[', key, expect_key: b == b'{' });
                self.in_messages = messages;
            }
            b'}' | b']' => {
                self.stack.pop();
                self.in_messages = false;
            }
            _ => {}
        }
    }

    /// The end of a string outside the messages.
    fn string_ended(&mut self) {
        if let Some(top) = self.stack.last()
            && !top.array
            && top.expect_key
        {
            self.key.clear();
            self.key.extend_from_slice(&self.string);
        }
    }

    fn refill(&mut self) -> std::io::Result<usize> {
        let n = self.inner.read(&mut self.raw)?;
        let raw = std::mem::take(&mut self.raw);
        self.out.clear();
        self.pos = 0;
        let mut rest = &raw[..n];
        while let Some((&b, after)) = rest.split_first() {
            if self.escaped {
                self.escaped = false;
                let fixed: &[u8] = if b == b'x' { b"u00" } else { std::slice::from_ref(&b) };
                match &mut self.message {
                    Some(m) => m.bytes.extend_from_slice(fixed),
                    None => {
                        self.out.extend_from_slice(fixed);
                        self.string.extend_from_slice(fixed);
                    }
                }
                rest = after;
                continue;
            }
            if self.in_string {
                // Runs inside strings are copied whole.
                let at = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                let run = &rest[..(at + 1).min(rest.len())];
                match &mut self.message {
                    Some(m) => m.bytes.extend_from_slice(run),
                    None => {
                        self.out.extend_from_slice(run);
                        if self.string.len() < KEY_MAX + 1 {
                            self.string.extend_from_slice(&run[..run.len().min(KEY_MAX + 1)]);
                        }
                    }
                }
                if at < rest.len() {
                    if rest[at] == b'\\' {
                        self.escaped = true;
                    } else {
                        self.in_string = false;
                        if self.message.is_none() {
                            self.string.pop(); // the closing quote
                            self.string_ended();
                        }
                    }
                }
                rest = &rest[run.len()..];
                continue;
            }
            rest = after;
            if let Some(m) = &mut self.message {
                if m.scalar && (b == b',' || b == b']' || b.is_ascii_whitespace()) {
                    self.finish_message();
                    self.structure(b);
                    continue;
                }
                m.bytes.push(b);
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => m.depth += 1,
                    b'}' | b']' if !m.scalar => {
                        m.depth -= 1;
                        if m.depth == 0 {
                            self.finish_message();
                        }
                    }
                    _ => {}
                }
                continue;
            }
            self.structure(b);
        }
        self.raw = raw;
        Ok(n)
    }
}

impl<R: Read> Read for Splitter<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.refill()? == 0 {
                // A message cut short by the end of the file: its line breaks, so that the
                // error is at the file's end.
                let Some(m) = self.message.take() else { return Ok(0) };
                self.out.clear();
                self.pos = 0;
                self.out.extend(std::iter::repeat_n(b'\n', memchr::memchr_iter(b'\n', &m.bytes).count()));
            }
        }
        let n = out.len().min(self.out.len() - self.pos);
        out[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Rewrites the `\xHH` escapes some exports write (invalid JSON) to `\u00HH`,
/// leaving `\\x` (an escaped backslash, then `x`) alone.
pub struct FixEscapes<R> {
    inner: R,
    in_string: bool,
    escaped: bool,
    buf: Vec<u8>,
    pos: usize,
    raw: Box<[u8]>,
}

impl<R: Read> FixEscapes<R> {
    pub fn new(inner: R) -> Self {
        FixEscapes {
            inner,
            in_string: false,
            escaped: false,
            buf: Vec::new(),
            pos: 0,
            raw: vec![0; 64 * 1024].into_boxed_slice(),
        }
    }

    fn refill(&mut self) -> std::io::Result<usize> {
        let n = self.inner.read(&mut self.raw)?;
        self.buf.clear();
        self.pos = 0;
        // Runs between quotes and backslashes are copied whole (a byte at a time was a
        // sixth of an import).
        let mut rest = &self.raw[..n];
        while let Some((&b, after)) = rest.split_first() {
            if self.escaped {
                self.escaped = false;
                if b == b'x' {
                    self.buf.extend_from_slice(b"u00");
                } else {
                    self.buf.push(b);
                }
                rest = after;
                continue;
            }
            let next = if self.in_string { memchr::memchr2(b'"', b'\\', rest) } else { memchr::memchr(b'"', rest) };
            let Some(at) = next else {
                self.buf.extend_from_slice(rest);
                break;
            };
            self.buf.extend_from_slice(&rest[..=at]);
            if rest[at] == b'\\' {
                self.escaped = true;
            } else {
                self.in_string = !self.in_string;
            }
            rest = &rest[at + 1..];
        }
        Ok(n)
    }
}

impl<R: Read> Read for FixEscapes<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            if self.refill()? == 0 {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(input: &str) -> String {
        let mut out = String::new();
        FixEscapes::new(input.as_bytes()).read_to_string(&mut out).expect("reads");
        out
    }

    #[test]
    fn x_escapes_are_rewritten_only_inside_strings_and_only_when_real() {
        assert_eq!(fixed(r#"{"a":"x\x0by"}"#), r#"{"a":"x\u000by"}"#);
        assert_eq!(fixed(r#"{"a":"C:\\xfiles"}"#), r#"{"a":"C:\\xfiles"}"#);
        assert_eq!(fixed(r#"{"a\"x":"\"\x1f"}"#), r#"{"a\"x":"\"\u001f"}"#);
    }

    /// A reader giving one byte per call: every escape and quote falls on a refill's edge.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let Some((&b, rest)) = self.0.split_first() else { return Ok(0) };
            if out.is_empty() {
                return Ok(0);
            }
            out[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn x_escapes_are_rewritten_across_reads() {
        let input = r#"{"a\"x":"\"\x1f","b":"C:\\xf","c":[1,"\x41"]} \x"#;
        let mut out = String::new();
        FixEscapes::new(Trickle(input.as_bytes())).read_to_string(&mut out).expect("reads");
        assert_eq!(out, fixed(input));
        assert_eq!(out, r#"{"a\"x":"\"\u001f","b":"C:\\xf","c":[1,"\u0041"]} \x"#);
    }

    /// What a splitter makes of `input`, read through `reader`: the stream and the cut messages.
    fn split(reader: impl Read) -> (String, Vec<String>) {
        let cut = Cut::default();
        let mut out = String::new();
        Splitter::new(reader, cut.clone()).read_to_string(&mut out).expect("reads");
        let messages = cut.0.borrow_mut().drain(..).map(|(_, m)| String::from_utf8(m).expect("utf-8")).collect();
        (out, messages)
    }

    #[test]
    fn the_splitter_cuts_out_the_chats_messages_only() {
        let input = r#"{"name":"a\"messages\"","messages": [ {"id":1,
            "text":"x\x41]}"} , 7 ,"s"],
            "other":{"messages":[{"id":9}]},
            "chats":{"about":"","list":[{"id":2,"messages":[{"id":3,"text":["a",{"type":"bold","text":"}"}]}]},
                                        {"list":[{"messages":[{"id":8}]}]}]},
            "left_chats":{"list":[{"messages":[]}]}, "list":[{"messages":[{"id":4}]}]}"#;
        let expected_stream = r#"{"name":"a\"messages\"","messages": [ 0
 , 1 ,2],
            "other":{"messages":[{"id":9}]},
            "chats":{"about":"","list":[{"id":2,"messages":[3]},
                                        {"list":[{"messages":[{"id":8}]}]}]},
            "left_chats":{"list":[{"messages":[]}]}, "list":[{"messages":[{"id":4}]}]}"#;
        let expected_messages = [
            r#"{"id":1,
            "text":"x\u0041]}"}"#,
            "7",
            r#""s""#,
            r#"{"id":3,"text":["a",{"type":"bold","text":"}"}]}"#,
        ];
        for (stream, messages) in [split(input.as_bytes()), split(Trickle(input.as_bytes()))] {
            assert_eq!(stream, expected_stream);
            assert_eq!(messages, expected_messages);
        }
    }

    #[test]
    fn a_message_cut_short_keeps_its_lines() {
        let (stream, messages) = split(
            r#"{"messages":[{"id":1},
{"id":2,
"text":"#
                .as_bytes(),
        );
        assert_eq!(stream, "{\"messages\":[0,\n\n");
        assert_eq!(messages, [r#"{"id":1}"#]);
    }

    #[test]
    fn texts_of_every_shape_parse() {
        let message = |text: &str| -> Option<String> {
            let json = format!(r#"{{"id":1,"type":"message","date_unixtime":"5","text":{text}}}"#);
            let raw: RawMessage = serde_json::from_str(&json).ok()?;
            raw.into_post(None, Tz::UTC, &mut DateNotes::default()).map(|p| p.text)
        };
        assert_eq!(message(r#""plain""#).as_deref(), Some("plain"));
        assert_eq!(message(r#"["a ",{"type":"bold","text":"b"}," c"]"#).as_deref(), Some("a b c"));
        assert_eq!(message("17"), None);
        assert_eq!(message(r#"[{"type":"bold"}]"#), None);
        let date = |v: &str| -> Option<Option<i64>> {
            let json = format!(r#"{{"id":1,"type":"message","date_unixtime":{v},"text":"t"}}"#);
            let raw: RawMessage = serde_json::from_str(&json).ok()?;
            raw.into_post(None, Tz::UTC, &mut DateNotes::default()).map(|p| p.date)
        };
        assert_eq!(date(r#""1600000000""#), Some(Some(1_600_000_000)));
        assert_eq!(date("1600000000"), Some(Some(1_600_000_000)));
        assert_eq!(date("18446744073709551615"), None);
    }

    #[test]
    fn pieces_become_utf16_entities() {
        let pieces = [
            RawPiece {
                kind: "plain".into(),
                text: "😀 a ".into(),
                href: None,
                language: None,
                collapsed: false,
                document_id: None,
            },
            RawPiece {
                kind: "bold".into(),
                text: "жир".into(),
                href: None,
                language: None,
                collapsed: false,
                document_id: None,
            },
        ];
        let (text, entities) = flatten(pieces.iter().map(|p| (p.text.as_str(), Some(p))));
        assert_eq!(text, "😀 a жир");
        assert_eq!(entities, [Entity { kind: EntityKind::Bold, offset: 5, length: 3 }]);
    }
}
