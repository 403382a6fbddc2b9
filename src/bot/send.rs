//! The one send path: replies, replays and admin alerts all go out as `send_html`
//! (HTML, link previews on or off, a keyboard or none); replies also wait out 429s.

use std::future::Future;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::requests::{JsonRequest, Payload};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, ParseMode, Recipient};

use super::media::{Uploads, send_media};
use crate::chat::{ButtonKind, Reply};
use crate::config::ChatRef;

/// How many times a request hit by 429 is sent again.
const MAX_RETRIES: usize = 5;

/// A request's outcome as `/metrics` counts it: ok, 4xx, 429, 5xx or network.
pub fn outcome<T>(result: &Result<T, RequestError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(RequestError::RetryAfter(_)) => "429",
        Err(RequestError::Api(teloxide::ApiError::Unknown(_))) => "5xx",
        Err(RequestError::Api(_) | RequestError::MigrateToChatId(_)) => "4xx",
        Err(_) => "network",
    }
}

/// Counts a Bot API request by method and outcome (`postkeeper_bot_api_requests_total`).
pub fn count<T>(method: &'static str, result: &Result<T, RequestError>) {
    metrics::counter!("postkeeper_bot_api_requests_total", "method" => method, "outcome" => outcome(result))
        .increment(1);
}

/// Runs a request, waiting out `429 Too Many Requests` (`retry_after`, never less) and resending.
/// Other errors are returned: resending after a network error could duplicate a message.
/// Each try is counted under `method`.
pub async fn retry<T, F, Fut>(method: &'static str, mut request: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut tries = 0;
    loop {
        let result = request().await;
        count(method, &result);
        match result {
            Err(RequestError::RetryAfter(wait)) if tries < MAX_RETRIES => {
                tries += 1;
                tracing::warn!(seconds = wait.seconds(), "429 from Telegram; waiting before resending");
                tokio::time::sleep(wait.duration() + Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// A chat as the Bot API names it: by id, or a public channel by `@username`.
pub fn recipient(chat: &ChatRef) -> Recipient {
    match chat {
        ChatRef::Id(id) => Recipient::Id(ChatId(*id)),
        ChatRef::Username(u) => Recipient::ChannelUsername(format!("@{u}")),
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
    previews(false)
}

pub fn previews(shown: bool) -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: !shown,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

/// `sendMessage` as postkeeper sends every message: HTML, link previews as chosen, a keyboard.
///
/// Its own payload rather than teloxide's `SendMessage` for what comes back: teloxide
/// parses the whole `Message` Telegram returns (text, entities, keyboard — the reply
/// itself, read back through serde's buffered enums), and a reply needs none of it.
#[derive(Debug, Clone, serde::Serialize)]
struct SendHtml {
    chat_id: Recipient,
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

/// One `sendMessage` request, no retry: the replay worker decides what a 429 or a 5xx
/// means for its exactly-once records.
pub async fn send_html(
    bot: &Bot,
    to: Recipient,
    html: &str,
    shown_previews: bool,
    reply_markup: Option<InlineKeyboardMarkup>,
) -> Result<Sent, RequestError> {
    let payload = SendHtml {
        chat_id: to,
        text: html.to_string(),
        parse_mode: ParseMode::Html,
        link_preview_options: previews(shown_previews),
        reply_markup,
    };
    JsonRequest::new(bot.clone(), payload).send().await
}

/// Sends one reply as HTML with its keyboard, waiting out 429s.
pub async fn send_reply(bot: &Bot, chat: ChatId, reply: &Reply) -> Result<Sent, RequestError> {
    let payload = SendHtml {
        chat_id: Recipient::Id(chat),
        text: reply.html.clone(),
        parse_mode: ParseMode::Html,
        link_preview_options: no_preview(),
        reply_markup: keyboard(reply),
    };
    let request = JsonRequest::new(bot.clone(), payload);
    retry("sendMessage", || request.send_ref()).await
}

/// Sends one reply as it is: a text message, or its media (the caption and keyboard with
/// them), waiting out 429s.
pub async fn deliver(bot: &Bot, chat: ChatId, reply: &Reply, uploads: &Uploads) -> Result<Sent, RequestError> {
    if reply.media.is_empty() {
        return send_reply(bot, chat, reply).await;
    }
    let markup = keyboard(reply);
    let ids =
        retry("sendMedia", || send_media(bot, Recipient::Id(chat), &reply.media, &reply.html, markup.clone(), uploads))
            .await?;
    let first = ids.first().copied().unwrap_or_default();
    Ok(Sent { message_id: i32::try_from(first).unwrap_or_default() })
}
