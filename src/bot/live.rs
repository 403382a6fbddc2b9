//! New posts as the bot receives them (`channel_post`, `edited_channel_post`): Telegram's
//! message mapped to the post the store keeps. Here, in the shell, because it reads teloxide types.

use teloxide::types::{FileMeta, Message, MessageEntity, MessageEntityKind};

use crate::model::{
    Contact, Entity, EntityKind, Extra, Location, Media, MediaKind, NewChannel, NewPost, Poll, PollOption,
};

/// The channel a live post belongs to.
pub fn channel_of(message: &Message) -> NewChannel {
    let chat = &message.chat;
    NewChannel {
        username: chat.username().map(str::to_string),
        ..NewChannel::telegram(chat.id.0, chat.title().unwrap_or_default())
    }
}

/// A channel message as a post: its text, or its caption and media; `None` when it has
/// neither text nor a kind of media the archive keeps (polls, locations...). A part of an
/// album carries its group id: the store merges the parts into one post.
pub fn post_of(message: &Message) -> Option<NewPost> {
    let media = media_of(message);
    let (text, entities) = match message.text() {
        Some(text) => (text, message.entities()),
        None => (message.caption().unwrap_or(""), message.caption_entities()),
    };
    let extra = extra_of(message);
    // A poll, a place or a contact without a text of its own: its text (as for exports).
    let kind_text = if text.trim().is_empty() { extra.text() } else { None };
    if text.trim().is_empty() && media.is_none() && kind_text.is_none() {
        return None;
    }
    if let Some(kind_text) = kind_text {
        return Some(NewPost {
            message_id: Some(i64::from(message.id.0)),
            seq: i64::from(message.id.0),
            date: Some(message.date.timestamp()),
            edited: message.edit_date().map(|d| d.timestamp()),
            text: kind_text,
            media: media.into_iter().collect(),
            media_group: message.media_group_id().map(|g| g.0.clone()),
            extra,
            ..NewPost::default()
        });
    }
    Some(NewPost {
        message_id: Some(i64::from(message.id.0)),
        seq: i64::from(message.id.0),
        date: Some(message.date.timestamp()),
        edited: message.edit_date().map(|d| d.timestamp()),
        text: if text.trim().is_empty() { String::new() } else { text.to_string() },
        entities: if text.trim().is_empty() {
            Vec::new()
        } else {
            entities.unwrap_or_default().iter().filter_map(entity).collect()
        },
        media: media.into_iter().collect(),
        media_group: message.media_group_id().map(|g| g.0.clone()),
        reactions: Vec::new(),
        extra,
    })
}

/// A live post's poll, place or contact, as exports give them.
fn extra_of(message: &Message) -> Extra {
    let location = match (message.venue(), message.location()) {
        (Some(v), _) => Some(Location {
            latitude: v.location.latitude,
            longitude: v.location.longitude,
            title: Some(v.title.clone()).filter(|t| !t.is_empty()),
            address: Some(v.address.clone()).filter(|a| !a.is_empty()),
        }),
        (None, Some(l)) => Some(Location { latitude: l.latitude, longitude: l.longitude, title: None, address: None }),
        (None, None) => None,
    };
    Extra {
        poll: message.poll().map(|p| Poll {
            question: p.question.clone(),
            options: p
                .options
                .iter()
                .map(|o| PollOption { text: o.text.clone(), voters: i64::from(o.voter_count) })
                .collect(),
            total_voters: i64::from(p.total_voter_count),
            closed: p.is_closed,
        }),
        location,
        contact: message.contact().map(|c| Contact {
            name: format!("{} {}", c.first_name, c.last_name.as_deref().unwrap_or("")).trim().to_string(),
            phone_number: Some(c.phone_number.clone()).filter(|p| !p.is_empty()),
        }),
    }
}

/// The media item of a message: Telegram's ids of the file (the bot can send them again,
/// no download needed), the largest size of a photo.
fn media_of(message: &Message) -> Option<Media> {
    let item = |kind, file: &FileMeta| Media {
        kind,
        file_id: Some(file.id.0.clone()),
        file_unique_id: Some(file.unique_id.0.clone()),
        size: (file.size > 0).then_some(i64::from(file.size)),
        message_id: Some(i64::from(message.id.0)),
        ..Media::default()
    };
    let dim = |v: u32| i32::try_from(v).ok();
    if let Some(sizes) = message.photo() {
        let largest = sizes.iter().max_by_key(|p| (u64::from(p.width) * u64::from(p.height), p.file.size))?;
        return Some(Media {
            width: dim(largest.width),
            height: dim(largest.height),
            ..item(MediaKind::Photo, &largest.file)
        });
    }
    // Before the document: Telegram sends an animation with a `document` field too.
    if let Some(a) = message.animation() {
        return Some(Media {
            width: dim(a.width),
            height: dim(a.height),
            duration: dim(a.duration.seconds()),
            file_name: a.file_name.clone(),
            mime_type: mime_of(a.mime_type.as_ref()),
            ..item(MediaKind::Animation, &a.file)
        });
    }
    if let Some(v) = message.video() {
        return Some(Media {
            width: dim(v.width),
            height: dim(v.height),
            duration: dim(v.duration.seconds()),
            file_name: v.file_name.clone(),
            mime_type: mime_of(v.mime_type.as_ref()),
            ..item(MediaKind::Video, &v.file)
        });
    }
    if let Some(d) = message.document() {
        return Some(Media {
            file_name: d.file_name.clone(),
            mime_type: mime_of(d.mime_type.as_ref()),
            ..item(MediaKind::Document, &d.file)
        });
    }
    if let Some(a) = message.audio() {
        return Some(Media {
            duration: dim(a.duration.seconds()),
            file_name: a.file_name.clone(),
            mime_type: mime_of(a.mime_type.as_ref()),
            ..item(MediaKind::Audio, &a.file)
        });
    }
    if let Some(v) = message.voice() {
        return Some(Media {
            duration: dim(v.duration.seconds()),
            mime_type: mime_of(v.mime_type.as_ref()),
            ..item(MediaKind::Voice, &v.file)
        });
    }
    None
}

fn mime_of(m: Option<&impl ToString>) -> Option<String> {
    m.map(ToString::to_string)
}

fn entity(e: &MessageEntity) -> Option<Entity> {
    let kind = match &e.kind {
        MessageEntityKind::Mention => EntityKind::Mention,
        MessageEntityKind::Hashtag => EntityKind::Hashtag,
        MessageEntityKind::Cashtag => EntityKind::Cashtag,
        MessageEntityKind::BotCommand => EntityKind::BotCommand,
        MessageEntityKind::Url => EntityKind::Url,
        MessageEntityKind::Email => EntityKind::Email,
        MessageEntityKind::PhoneNumber => EntityKind::Phone,
        MessageEntityKind::Bold => EntityKind::Bold,
        MessageEntityKind::Blockquote => EntityKind::Blockquote,
        MessageEntityKind::ExpandableBlockquote => EntityKind::ExpandableBlockquote,
        MessageEntityKind::Italic => EntityKind::Italic,
        MessageEntityKind::Underline => EntityKind::Underline,
        MessageEntityKind::Strikethrough => EntityKind::Strikethrough,
        MessageEntityKind::Spoiler => EntityKind::Spoiler,
        MessageEntityKind::Code => EntityKind::Code,
        MessageEntityKind::Pre { language } => EntityKind::Pre { language: language.clone() },
        MessageEntityKind::TextLink { url } => EntityKind::TextLink { url: url.to_string() },
        MessageEntityKind::TextMention { .. } => EntityKind::MentionName,
        MessageEntityKind::CustomEmoji { .. } => EntityKind::CustomEmoji,
    };
    Some(Entity { kind, offset: u32::try_from(e.offset).ok()?, length: u32::try_from(e.length).ok()? })
}
