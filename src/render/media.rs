//! A post with media as the messages that carry it: its photos, videos and files in groups
//! Telegram accepts, and its text as a caption when it fits, or as messages after them.

use chrono_tz::Tz;

use super::html::{self, utf16_len};
use super::post::post_messages;
use crate::i18n::Lang;
use crate::model::{Media, MediaKind, Post};

/// A caption's limit after parsing, in UTF-16 units (Telegram: 0..1024).
pub const CAPTION_LIMIT: usize = 1024;
/// The most items of one `sendMediaGroup`.
pub const GROUP_LIMIT: usize = 10;

/// One message (or one album) to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text message, Telegram HTML.
    Text(String),
    /// One file (`sendPhoto`, `sendVideo`, ...) or an album of 2..=10 (`sendMediaGroup`),
    /// with `caption` (Telegram HTML, may be empty) on the first item.
    Media { items: Vec<Media>, caption: String },
}

impl Outgoing {
    /// How many messages Telegram counts this as (an album counts each item).
    pub fn messages(&self) -> usize {
        match self {
            Outgoing::Text(_) => 1,
            Outgoing::Media { items, .. } => items.len(),
        }
    }
}

/// Can this kind carry a caption (video notes and stickers cannot)?
pub fn takes_caption(kind: MediaKind) -> bool {
    !matches!(kind, MediaKind::VideoNote | MediaKind::Sticker)
}

/// Which items may share an album: photos with videos, documents with documents, audio
/// with audio; the other kinds only go alone.
fn family(kind: MediaKind) -> Option<u8> {
    match kind {
        MediaKind::Photo | MediaKind::Video => Some(0),
        MediaKind::Document => Some(1),
        MediaKind::Audio => Some(2),
        MediaKind::Animation | MediaKind::Voice | MediaKind::VideoNote | MediaKind::Sticker => None,
    }
}

/// The post's media as sendable groups, in order: runs of one family, at most ten each;
/// a kind that cannot be in an album goes alone.
pub fn groups(media: &[Media]) -> Vec<Vec<Media>> {
    let mut out: Vec<Vec<Media>> = Vec::new();
    for m in media {
        let fam = family(m.kind);
        let joins = match (out.last(), fam) {
            (Some(last), Some(f)) => {
                last.len() < GROUP_LIMIT && last.first().and_then(|first| family(first.kind)) == Some(f)
            }
            _ => false,
        };
        match out.last_mut() {
            Some(last) if joins => last.push(m.clone()),
            _ => out.push(vec![m.clone()]),
        }
    }
    out
}

/// A whole post as messages: its media (when every item can be sent: `available`) with the
/// text as the first item's caption if it fits in one, else the media bare and the text
/// after them as `post_messages` splits it. `keyboard` says the last message must be able
/// to carry buttons (an album cannot), so the text then goes as a message of its own.
/// The items that cannot be sent are returned beside: then no media is sent at all (never
/// half an album), only the text.
pub fn post_outgoing(
    post: &Post,
    lang: Lang,
    tz: Tz,
    header: Option<&str>,
    with_footer: bool,
    keyboard: bool,
    available: impl Fn(&Media) -> bool,
) -> (Vec<Outgoing>, Vec<Media>) {
    let texts = post_messages(post, lang, tz, header, with_footer);
    let missing: Vec<Media> = post.media.iter().filter(|m| !available(m)).cloned().collect();
    if post.media.is_empty() || !missing.is_empty() {
        let texts = texts.into_iter().filter(|t| !html::plain(t).trim().is_empty());
        return (texts.map(Outgoing::Text).collect(), missing);
    }
    let groups = groups(&post.media);
    let text_units = |t: &String| utf16_len(html::plain(t).trim());
    let fits = texts.len() == 1 && texts.first().is_some_and(|t| text_units(t) <= CAPTION_LIMIT);
    // Buttons go under the last message, which an album cannot carry.
    let one_file = groups.len() == 1 && groups.first().is_some_and(|g| g.len() == 1);
    let first_takes = post.media.first().is_some_and(|m| takes_caption(m.kind));
    let as_caption = fits && first_takes && (!keyboard || one_file);
    let mut out = Vec::with_capacity(groups.len() + texts.len());
    let mut caption = if as_caption { texts.first().cloned().unwrap_or_default() } else { String::new() };
    for items in groups {
        out.push(Outgoing::Media { items, caption: std::mem::take(&mut caption) });
    }
    if !as_caption {
        out.extend(texts.into_iter().filter(|t| !html::plain(t).trim().is_empty()).map(Outgoing::Text));
    }
    (out, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Post;

    fn item(kind: MediaKind, n: usize) -> Media {
        Media { kind, file: Some(format!("{n:064x}.bin")), ..Media::default() }
    }

    fn post(body: &str, media: Vec<Media>) -> Post {
        Post {
            id: 7,
            channel_id: 1,
            channel_title: "Channel".into(),
            message_id: None,
            seq: 1,
            date: None,
            edited: None,
            title: body.lines().next().unwrap_or("").into(),
            body: body.into(),
            entities: Vec::new(),
            links: Vec::new(),
            topics: Vec::new(),
            url: None,
            media,
            reactions: Vec::new(),
            extra: Default::default(),
        }
    }

    fn kinds(groups: &[Vec<Media>]) -> Vec<Vec<MediaKind>> {
        groups.iter().map(|g| g.iter().map(|m| m.kind).collect()).collect()
    }

    #[test]
    fn albums_keep_to_telegram_s_families_and_ten_items() {
        use MediaKind::*;
        let media: Vec<Media> = [Photo, Video, Photo, Document, Document, Audio, Animation, Photo, Voice]
            .iter()
            .enumerate()
            .map(|(i, k)| item(*k, i))
            .collect();
        assert_eq!(
            kinds(&groups(&media)),
            vec![
                vec![Photo, Video, Photo],
                vec![Document, Document],
                vec![Audio],
                vec![Animation],
                vec![Photo],
                vec![Voice]
            ]
        );
        let many: Vec<Media> = (0..23).map(|i| item(Photo, i)).collect();
        let sizes: Vec<usize> = groups(&many).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 3]);
        // Order is kept across the split.
        let files: Vec<_> = groups(&many).concat().into_iter().map(|m| m.file).collect();
        assert_eq!(files, many.into_iter().map(|m| m.file).collect::<Vec<_>>());
    }

    #[test]
    fn a_short_text_is_the_caption_a_long_one_follows_the_media() {
        let short = post("Робот\nшагает", vec![item(MediaKind::Photo, 1), item(MediaKind::Photo, 2)]);
        let (out, missing) = post_outgoing(&short, Lang::Ru, Tz::UTC, None, false, false, |_| true);
        assert!(missing.is_empty());
        match out.as_slice() {
            [Outgoing::Media { items, caption }] => {
                assert_eq!(items.len(), 2);
                assert!(caption.contains("Робот") && caption.contains("шагает"), "{caption}");
            }
            other => panic!("{other:?}"),
        }
        // 3,000 characters: the album goes bare, the text after it in messages of its own.
        let long = post(&format!("Длинный\n{}", "слово ".repeat(500)), short.media.clone());
        let (out, _) = post_outgoing(&long, Lang::Ru, Tz::UTC, None, false, false, |_| true);
        assert!(matches!(&out[0], Outgoing::Media { caption, .. } if caption.is_empty()), "{out:?}");
        assert!(out[1..].iter().all(|o| matches!(o, Outgoing::Text(_))) && out.len() >= 2, "{out:?}");
        // 1,024 units fit a caption as Telegram counts them; one more does not.
        for (units, fits) in [(1024, true), (1025, false)] {
            let p = post(&"я".repeat(units), vec![item(MediaKind::Photo, 1)]);
            let (out, _) = post_outgoing(&p, Lang::Ru, Tz::UTC, None, false, false, |_| true);
            assert_eq!(out.len() == 1, fits, "{units}: {out:?}");
        }
    }

    #[test]
    fn buttons_need_a_last_message_that_can_carry_them() {
        let album = post("Подпись", vec![item(MediaKind::Photo, 1), item(MediaKind::Video, 2)]);
        let (out, _) = post_outgoing(&album, Lang::Ru, Tz::UTC, None, false, true, |_| true);
        assert!(
            matches!(out.as_slice(), [Outgoing::Media { caption, .. }, Outgoing::Text(t)] if caption.is_empty() && t.contains("Подпись")),
            "{out:?}"
        );
        let one = post("Подпись", vec![item(MediaKind::Photo, 1)]);
        let (out, _) = post_outgoing(&one, Lang::Ru, Tz::UTC, None, false, true, |_| true);
        assert!(matches!(out.as_slice(), [Outgoing::Media { caption, .. }] if caption.contains("Подпись")), "{out:?}");
        // A sticker takes no caption: the text goes after it.
        let sticker = post("Подпись", vec![item(MediaKind::Sticker, 1)]);
        let (out, _) = post_outgoing(&sticker, Lang::Ru, Tz::UTC, None, false, false, |_| true);
        assert!(
            matches!(out.as_slice(), [Outgoing::Media { caption, .. }, Outgoing::Text(_)] if caption.is_empty()),
            "{out:?}"
        );
    }

    #[test]
    fn a_missing_item_sends_no_media_at_all_and_is_named() {
        let album =
            post("Подпись", vec![item(MediaKind::Photo, 1), item(MediaKind::Photo, 2), item(MediaKind::Photo, 3)]);
        let gone = album.media[1].file.clone();
        let (out, missing) = post_outgoing(&album, Lang::Ru, Tz::UTC, None, false, false, |m| m.file != gone);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].file, gone);
        assert!(matches!(out.as_slice(), [Outgoing::Text(t)] if t.contains("Подпись")), "{out:?}");
        // Media alone, all there: no empty text message.
        let bare = post("", vec![item(MediaKind::Photo, 1)]);
        let (out, _) = post_outgoing(&bare, Lang::Ru, Tz::UTC, None, false, false, |_| true);
        assert!(matches!(out.as_slice(), [Outgoing::Media { caption, .. }] if caption.is_empty()), "{out:?}");
        assert_eq!(out.iter().map(Outgoing::messages).sum::<usize>(), 1);
    }
}
