//! Sending replies: HTML, keyboards, and 429s waited out.

use std::future::Future;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::prelude::*;
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

/// Sends one reply as HTML with its keyboard.
pub async fn send_reply(bot: &Bot, chat: ChatId, reply: &Reply) -> Result<Message, RequestError> {
    let markup = keyboard(reply);
    retry(|| {
        let mut request =
            bot.send_message(chat, reply.html.clone()).parse_mode(ParseMode::Html).link_preview_options(no_preview());
        if let Some(m) = &markup {
            request = request.reply_markup(m.clone());
        }
        request.send()
    })
    .await
}
