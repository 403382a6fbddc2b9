//! Photos, videos and files out to Telegram: one file by its own method, an album by
//! `sendMediaGroup`; each item by the `file_id` the bot already has for it (a live post's,
//! or the one Telegram gave for an earlier upload), else uploaded from the media folder,
//! whose new `file_id` is remembered so that nothing is uploaded twice.

use std::path::PathBuf;

use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{
    FileId, InlineKeyboardMarkup, InputFile, InputMedia, InputMediaAudio, InputMediaDocument, InputMediaPhoto,
    InputMediaVideo, ParseMode, Recipient,
};

use crate::model::{Media, MediaKind};
use crate::store::SharedArchive;

/// Where the media files are, and whose uploads are remembered.
#[derive(Clone)]
pub struct Uploads {
    pub dir: PathBuf,
    /// The bot's user id (a `file_id` is valid for its bot only).
    pub bot_id: i64,
    pub archive: SharedArchive,
}

/// The bot's user id, the first part of its token (`123456789:AA…`): whose file_ids
/// the uploads table keeps. 0 for a token of another shape (nothing then matches).
pub fn bot_id(bot: &Bot) -> i64 {
    bot.token().split(':').next().and_then(|id| id.parse().ok()).unwrap_or(0)
}

/// How one item goes out: by an id the bot has, or as an upload of this file.
enum Source {
    Known(String),
    Upload { file: String, path: PathBuf },
}

impl Uploads {
    /// How each item goes out, the upload cache read in one store call for the album;
    /// the error names an item with neither a file_id nor a file.
    async fn sources(&self, items: &[Media]) -> Result<Vec<Source>, String> {
        let files: Vec<String> = items.iter().filter(|m| m.file_id.is_none()).filter_map(|m| m.file.clone()).collect();
        let bot = self.bot_id;
        let cached = match self
            .archive
            .try_call(move |a| {
                files.iter().map(|f| a.uploaded_file_id(f, bot)).collect::<crate::store::Result<Vec<_>>>()
            })
            .await
        {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("cannot read the upload cache (uploading): {e:#}");
                Vec::new()
            }
        };
        let mut cached = cached.into_iter();
        items
            .iter()
            .map(|m| match (&m.file_id, &m.file) {
                (Some(id), _) => Ok(Source::Known(id.clone())),
                (None, Some(file)) => Ok(match cached.next().flatten() {
                    Some(id) => Source::Known(id),
                    None => Source::Upload { path: self.dir.join(file), file: file.clone() },
                }),
                (None, None) => Err(format!("a {} item has no file", m.kind)),
            })
            .collect()
    }

    /// Keeps the file_ids Telegram gave for the files just uploaded, in one store call.
    async fn remember(&self, uploaded: Vec<(String, String)>) {
        if uploaded.is_empty() {
            return;
        }
        let bot = self.bot_id;
        let kept = self
            .archive
            .try_call(move |a| uploaded.iter().try_for_each(|(file, id)| a.remember_upload(file, bot, id)))
            .await;
        if let Err(e) = kept {
            tracing::warn!("cannot remember an upload's file_id (the next send uploads again): {e:#}");
        }
    }
}

fn input(source: &Source, m: &Media) -> InputFile {
    match source {
        Source::Known(id) => InputFile::file_id(FileId(id.clone())),
        Source::Upload { path, .. } => {
            let file = InputFile::file(path.clone());
            match &m.file_name {
                Some(name) => file.file_name(name.clone()),
                None => file,
            }
        }
    }
}

/// The `file_id` of what a sent message carries.
fn sent_file_id(msg: &Message) -> Option<String> {
    if let Some(sizes) = msg.photo() {
        return sizes.iter().max_by_key(|s| s.width * s.height).map(|s| s.file.id.0.clone());
    }
    let file = msg
        .video()
        .map(|v| &v.file)
        .or(msg.animation().map(|a| &a.file))
        .or(msg.document().map(|d| &d.file))
        .or(msg.audio().map(|a| &a.file))
        .or(msg.voice().map(|v| &v.file))
        .or(msg.video_note().map(|v| &v.file))
        .or(msg.sticker().map(|s| &s.file))?;
    Some(file.id.0.clone())
}

/// Sends one file or one album (2..=10 items of one family) with `caption` (HTML, may be
/// empty) on the first item and `markup` (one file only; an album cannot carry buttons).
/// Returns the messages' ids. No retry: callers decide what a 429 means.
pub async fn send_media(
    bot: &Bot,
    to: Recipient,
    items: &[Media],
    caption: &str,
    markup: Option<InlineKeyboardMarkup>,
    files: &Uploads,
) -> Result<Vec<i64>, RequestError> {
    let sources = files
        .sources(items)
        .await
        .map_err(|why| RequestError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, why).into()))?;
    let caption = (!caption.trim().is_empty()).then(|| caption.to_string());
    let messages = match (items, sources.as_slice()) {
        ([m], [source]) => vec![send_one(bot, to, m, input(source, m), caption, markup).await?],
        _ => {
            let media: Vec<InputMedia> = items
                .iter()
                .zip(&sources)
                .enumerate()
                .map(|(i, (m, s))| album_item(m, input(s, m), if i == 0 { caption.clone() } else { None }))
                .collect();
            bot.send_media_group(to, media).await?
        }
    };
    let uploaded = messages
        .iter()
        .zip(sources)
        .filter_map(|(msg, source)| match (source, sent_file_id(msg)) {
            (Source::Upload { file, .. }, Some(id)) => Some((file, id)),
            _ => None,
        })
        .collect();
    files.remember(uploaded).await;
    Ok(messages.iter().map(|m| i64::from(m.id.0)).collect())
}

fn album_item(m: &Media, file: InputFile, caption: Option<String>) -> InputMedia {
    macro_rules! item {
        ($variant:ident, $ty:ident) => {{
            let mut it = $ty::new(file);
            if let Some(c) = caption {
                it = it.caption(c).parse_mode(ParseMode::Html);
            }
            InputMedia::$variant(it)
        }};
    }
    match m.kind {
        MediaKind::Video => item!(Video, InputMediaVideo),
        MediaKind::Document => item!(Document, InputMediaDocument),
        MediaKind::Audio => item!(Audio, InputMediaAudio),
        _ => item!(Photo, InputMediaPhoto),
    }
}

async fn send_one(
    bot: &Bot,
    to: Recipient,
    m: &Media,
    file: InputFile,
    caption: Option<String>,
    markup: Option<InlineKeyboardMarkup>,
) -> Result<Message, RequestError> {
    macro_rules! send {
        ($method:ident) => {{
            let mut r = bot.$method(to, file);
            if let Some(c) = caption {
                r = r.caption(c).parse_mode(ParseMode::Html);
            }
            if let Some(k) = markup {
                r = r.reply_markup(k);
            }
            r.await
        }};
    }
    match m.kind {
        MediaKind::Photo => send!(send_photo),
        MediaKind::Video => send!(send_video),
        MediaKind::Animation => send!(send_animation),
        MediaKind::Document => send!(send_document),
        MediaKind::Audio => send!(send_audio),
        MediaKind::Voice => send!(send_voice),
        MediaKind::VideoNote => {
            let mut r = bot.send_video_note(to, file);
            if let Some(k) = markup {
                r = r.reply_markup(k);
            }
            r.await
        }
        MediaKind::Sticker => {
            let mut r = bot.send_sticker(to, file);
            if let Some(k) = markup {
                r = r.reply_markup(k);
            }
            r.await
        }
    }
}
