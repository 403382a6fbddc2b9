//! New posts as the bot receives them (`channel_post`, `edited_channel_post`): Telegram's
//! message mapped to the post the store keeps. Here, in the shell, because it reads teloxide types.

use teloxide::types::{Message, MessageEntity, MessageEntityKind};

use crate::model::{Entity, EntityKind, NewChannel, NewPost};

/// The channel a live post belongs to.
pub fn channel_of(message: &Message) -> NewChannel {
    let chat = &message.chat;
    NewChannel {
        username: chat.username().map(str::to_string),
        ..NewChannel::telegram(chat.id.0, chat.title().unwrap_or_default())
    }
}

/// A channel message as a post: its text, or its caption for media; `None` when it has neither.
pub fn post_of(message: &Message) -> Option<NewPost> {
    let (text, entities) = match message.text() {
        Some(text) => (text, message.entities()),
        None => (message.caption()?, message.caption_entities()),
    };
    if text.trim().is_empty() {
        return None;
    }
    Some(NewPost {
        message_id: Some(i64::from(message.id.0)),
        seq: i64::from(message.id.0),
        date: Some(message.date.timestamp()),
        edited: message.edit_date().map(|d| d.timestamp()),
        text: text.to_string(),
        entities: entities.unwrap_or_default().iter().filter_map(entity).collect(),
    })
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
