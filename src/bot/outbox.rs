//! The replay worker's way to Telegram: each part is one `sendMessage` (or one file or
//! album) through the one send path, its outcome sorted for the worker (sent, wait, try again, refused).

use teloxide::prelude::*;
use teloxide::{ApiError, RequestError};

use super::media::{Uploads, send_media};
use super::send::{recipient, retry, send_html};
use crate::config::ChatRef;
use crate::model::Media;
use crate::replay::{Sender, Sent};

/// Sends replays and admin alerts with the bot.
pub struct Outbox {
    pub bot: Bot,
    /// The media folder and the file_ids this bot has for its files.
    pub uploads: Uploads,
}

/// What a failed request means for the replay worker.
fn sorted(e: RequestError) -> Sent {
    match e {
        RequestError::RetryAfter(after) => Sent::RetryAfter(after.duration()),
        // A file gone between the run's start and its send: no retry brings it back.
        RequestError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => Sent::Refused(io.to_string()),
        e if transient(&e) => Sent::Transient(e.to_string()),
        e => Sent::Refused(e.to_string()),
    }
}

/// 5xx and network trouble: worth another try.
fn transient(e: &RequestError) -> bool {
    match e {
        RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. } => true,
        RequestError::Api(ApiError::Unknown(s)) => {
            let s = s.to_ascii_lowercase();
            ["internal server error", "bad gateway", "service unavailable", "gateway timeout", "too many requests"]
                .iter()
                .any(|p| s.contains(p))
        }
        _ => false,
    }
}

impl Sender for Outbox {
    async fn post(&self, chat: &ChatRef, html: &str, previews: bool) -> Sent {
        let result = send_html(&self.bot, recipient(chat), html, previews, None).await;
        super::send::count("sendMessage", &result);
        match result {
            Ok(sent) => Sent::Done { message_id: i64::from(sent.message_id) },
            Err(e) => sorted(e),
        }
    }

    async fn post_media(&self, chat: &ChatRef, media: &[Media], caption: &str) -> Sent {
        let result = send_media(&self.bot, recipient(chat), media, caption, None, &self.uploads).await;
        super::send::count("sendMedia", &result);
        match result {
            Ok(ids) => Sent::Done { message_id: ids.first().copied().unwrap_or_default() },
            Err(e) => sorted(e),
        }
    }

    async fn tell(&self, user: i64, html: &str) -> Result<(), String> {
        retry("sendMessage", || send_html(&self.bot, ChatId(user).into(), html, false, None))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_and_network_errors_are_transient_refusals_are_not() {
        assert!(transient(&RequestError::Api(ApiError::Unknown("Internal Server Error".into()))));
        assert!(transient(&RequestError::Api(ApiError::Unknown("Bad Gateway".into()))));
        assert!(!transient(&RequestError::Api(ApiError::ChatNotFound)));
        assert!(!transient(&RequestError::Api(ApiError::Unknown("Forbidden: bot is not a member".into()))));
    }
}
