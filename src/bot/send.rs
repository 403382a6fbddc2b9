//! Sending replies: HTML, keyboards, and 429s waited out.

use std::future::Future;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::requests::{JsonRequest, Payload};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, ParseMode};

use crate::chat::{ButtonKind, Reply};

/// How many times a request hit by 429 is sent again.
const MAX_RETRIES: usize = 5;

/// Runs a request, waiting out `429 Too Many Requests` (`retry_after`, never less) and resending.
/// Other errors are returned: resending after a network error could duplicate a message.
pub async fn retry<T, F, Fut>(mut request: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut tries = 0;
    loop {
        match request().await {
            Err(RequestError::RetryAfter(wait)) if tries < MAX_RETRIES => {
                tries += 1;
                tracing::warn!(seconds = wait.seconds(), "429 from Telegram; waiting before resending");
                tokio::time::sleep(wait.duration() + Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

pub fn keyboard(reply: &Reply) -> Option<InlineKeyboardMarkup> {
    if reply.keyboard.is_empty() {
        return None;
    }
    let rows = reply.keyboard.iter().map(|row| {
        row.iter()
            .filter_map(|b| match &b.kind {
                ButtonKind::Callback(action) => Some(InlineKeyboardButton::callback(b.label.clone(), action.encode())),
                ButtonKind::Url(url) => url.parse().ok().map(|u| InlineKeyboardButton::url(b.label.clone(), u)),
            })
            .collect::<Vec<_>>()
    });
    Some(InlineKeyboardMarkup::new(rows))
}

pub fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

/// `sendMessage` as postkeeper sends every reply: HTML, no link preview, its keyboard.
///
/// Its own payload rather than teloxide's `SendMessage` for what comes back: teloxide
/// parses the whole `Message` Telegram returns (text, entities, keyboard — the reply
/// itself, read back through serde's buffered enums), and a reply needs none of it.
#[derive(Debug, Clone, serde::Serialize)]
struct SendHtml {
    chat_id: ChatId,
    text: String,
    parse_mode: ParseMode,
    link_preview_options: LinkPreviewOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_markup: Option<InlineKeyboardMarkup>,
}

/// What postkeeper reads of a sent message.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct Sent {
    pub message_id: i32,
}

impl Payload for SendHtml {
    type Output = Sent;
    const NAME: &'static str = "SendMessage";
}

/// Sends one reply as HTML with its keyboard.
pub async fn send_reply(bot: &Bot, chat: ChatId, reply: &Reply) -> Result<Sent, RequestError> {
    let payload = SendHtml {
        chat_id: chat,
        text: reply.html.clone(),
        parse_mode: ParseMode::Html,
        link_preview_options: no_preview(),
        reply_markup: keyboard(reply),
    };
    let request = JsonRequest::new(bot.clone(), payload);
    retry(|| request.send_ref()).await
}
