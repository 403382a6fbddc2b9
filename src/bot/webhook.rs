//! Webhook mode (`POSTKEEPER_WEBHOOK_URL`): Telegram POSTs each update to the URL's path
//! on the HTTP server of `run`, with the secret token in `X-Telegram-Bot-Api-Secret-Token`.
//!
//! Not teloxide's `webhooks-axum` listener: it parses the body into teloxide's `Update`
//! itself and drops what it cannot read, while the live archive needs each channel post's
//! JSON ([`super::listener`]). Here the body is read as JSON, kept for the live archive and
//! handed to the same dispatcher as polling through a channel: the same handler tree, the
//! same replies, the same replays.
//!
//! A request is answered 200 once its update is queued for the dispatcher (so an update
//! Telegram saw answered is handled before a graceful stop ends the process), 401 without
//! the right secret (it reaches no handler), 400 for a body that is no JSON object, and
//! 503 while the bot is stopping (Telegram delivers it again later).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::Stream;
use serde_json::Value;
use teloxide::RequestError;
use teloxide::errors::AsResponseParameters;
use teloxide::prelude::*;
use teloxide::stop::{StopFlag, StopToken, mk_stop_token};
use teloxide::types::AllowedUpdate;
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc};

use super::http::Health;
use super::listener::{self, RawPosts, backoff};

/// The header Telegram sends the secret token in.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// Where the store keeps a generated secret token.
pub const SECRET_KEY: &str = "webhook_secret";

/// Updates queued between the HTTP server and the dispatcher; a full queue makes the
/// request wait (Telegram holds its other requests meanwhile).
const QUEUE: usize = 256;

/// A secret token of 43 characters of `A-Z a-z 0-9 _ -` (256 bits) from the system's random
/// source; `None` when the system gives none.
pub fn new_secret() -> Option<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut bytes = [0u8; 43];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 63)])).collect())
}

/// Byte strings compared in a time that does not tell where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Webhook mode, set up: the URL Telegram calls, the secret it sends, and the queue from
/// the HTTP route to the dispatcher.
pub struct Webhook {
    url: url::Url,
    secret: Arc<str>,
    tx: mpsc::Sender<Update>,
    rx: Arc<Mutex<mpsc::Receiver<Update>>>,
    /// Why Telegram refused `setWebhook`, when it did (the bot then stops).
    refused: Arc<OnceLock<String>>,
}

impl Webhook {
    pub fn new(url: url::Url, secret: String) -> Webhook {
        let (tx, rx) = mpsc::channel(QUEUE);
        Webhook { url, secret: secret.into(), tx, rx: Arc::new(Mutex::new(rx)), refused: Arc::default() }
    }

    /// The route Telegram's POSTs take: the URL's path, on the HTTP server.
    pub fn route(&self, raw: Arc<RawPosts>, health: Arc<Health>) -> Router {
        let door = Door { secret: self.secret.clone(), tx: self.tx.clone(), raw, health };
        Router::new().route(self.url.path(), post(receive)).with_state(door)
    }

    /// Why Telegram refused the webhook, if it did.
    pub fn refused(&self) -> Arc<OnceLock<String>> {
        self.refused.clone()
    }

    /// A listener for the dispatcher (a new one for each try to start it).
    pub fn listener(&self, bot: Bot) -> Listener {
        let (token, flag) = mk_stop_token();
        Listener {
            bot,
            url: self.url.clone(),
            secret: self.secret.clone(),
            rx: self.rx.clone(),
            refused: self.refused.clone(),
            allowed: None,
            token,
            flag: Some(flag),
        }
    }
}

/// What the route holds.
#[derive(Clone)]
struct Door {
    secret: Arc<str>,
    tx: mpsc::Sender<Update>,
    raw: Arc<RawPosts>,
    health: Arc<Health>,
}

async fn receive(State(door): State<Door>, headers: HeaderMap, body: Bytes) -> Response {
    let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    if !given.is_some_and(|g| same(g, door.secret.as_bytes())) {
        metrics::counter!("postkeeper_webhook_requests_total", "outcome" => "unauthorized").increment(1);
        tracing::warn!("a webhook request without the right secret token: refused (401)");
        return (StatusCode::UNAUTHORIZED, "wrong or missing secret token\n").into_response();
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            metrics::counter!("postkeeper_webhook_requests_total", "outcome" => "malformed").increment(1);
            return (StatusCode::BAD_REQUEST, "not a Telegram update (a JSON object)\n").into_response();
        }
    };
    door.health.telegram_answered();
    // An update teloxide cannot read at all is logged and answered 200: Telegram would
    // send it again and again otherwise.
    let Some(update) = listener::receive(&value, &door.raw) else {
        return StatusCode::OK.into_response();
    };
    match door.tx.send(update).await {
        Ok(()) => {
            metrics::counter!("postkeeper_webhook_requests_total", "outcome" => "ok").increment(1);
            StatusCode::OK.into_response()
        }
        Err(_) => {
            metrics::counter!("postkeeper_webhook_requests_total", "outcome" => "stopping").increment(1);
            (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response()
        }
    }
}

/// The dispatcher's side: `setWebhook` with the handler tree's update kinds, then the
/// updates the route queued.
pub struct Listener {
    bot: Bot,
    url: url::Url,
    secret: Arc<str>,
    rx: Arc<Mutex<mpsc::Receiver<Update>>>,
    refused: Arc<OnceLock<String>>,
    allowed: Option<Vec<AllowedUpdate>>,
    token: StopToken,
    flag: Option<StopFlag>,
}

impl UpdateListener for Listener {
    type Err = RequestError;

    fn stop_token(&mut self) -> StopToken {
        self.token.clone()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.allowed = Some(hint.collect());
    }
}

/// Where the stream is.
struct Intake {
    bot: Bot,
    url: url::Url,
    secret: Arc<str>,
    allowed: Option<Vec<AllowedUpdate>>,
    rx: Arc<Mutex<mpsc::Receiver<Update>>>,
    taken: Option<OwnedMutexGuard<mpsc::Receiver<Update>>>,
    refused: Arc<OnceLock<String>>,
    flag: Pin<Box<StopFlag>>,
    stopping: bool,
}

impl Intake {
    /// `setWebhook` until Telegram takes it (`true`), refuses it (recorded, `false`) or the
    /// bot stops (`false`). A network error, a 5xx or a 429 is waited out.
    async fn set_webhook(&mut self) -> bool {
        let mut errors = 0;
        loop {
            let mut request = self.bot.set_webhook(self.url.clone()).secret_token(self.secret.to_string());
            if let Some(allowed) = &self.allowed {
                request = request.allowed_updates(allowed.clone());
            }
            let result = tokio::select! {
                r = request.send() => r,
                () = self.flag.as_mut() => return false,
            };
            super::send::count("setWebhook", &result);
            let pause = match result {
                Ok(_) => {
                    tracing::info!(url = %self.url, "webhook set: Telegram sends updates to it");
                    return true;
                }
                Err(RequestError::Api(e)) => {
                    let _ = self.refused.set(format!("Telegram refuses the webhook {}: {e}", self.url));
                    return false;
                }
                Err(e) => {
                    let pause = e.retry_after().map_or_else(|| backoff(errors), |w| w.duration());
                    tracing::warn!("cannot set the webhook yet ({e}); trying again in {} s", pause.as_secs());
                    pause
                }
            };
            errors += 1;
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.flag.as_mut() => return false,
            }
        }
    }

    async fn next(&mut self) -> Option<Update> {
        if self.taken.is_none() {
            if !self.set_webhook().await {
                return None;
            }
            self.taken = Some(self.rx.clone().lock_owned().await);
        }
        let rx = self.taken.as_mut()?;
        if self.stopping {
            // Closed: what was queued (and answered 200) comes out, then the end.
            return rx.recv().await;
        }
        tokio::select! {
            update = rx.recv() => update,
            () = self.flag.as_mut() => {
                // Stop taking updates (the route answers 503); hand out those queued.
                self.stopping = true;
                rx.close();
                rx.recv().await
            }
        }
    }
}

impl<'a> AsUpdateStream<'a> for Listener {
    type StreamErr = RequestError;
    type Stream = Pin<Box<dyn Stream<Item = Result<Update, RequestError>> + Send + 'a>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let flag = match self.flag.take() {
            Some(flag) => flag,
            None => {
                let (token, flag) = mk_stop_token();
                self.token = token;
                flag
            }
        };
        let intake = Intake {
            bot: self.bot.clone(),
            url: self.url.clone(),
            secret: self.secret.clone(),
            allowed: self.allowed.clone(),
            rx: self.rx.clone(),
            taken: None,
            refused: self.refused.clone(),
            flag: Box::pin(flag),
            stopping: false,
        };
        Box::pin(futures::stream::unfold(intake, |mut intake| async move {
            let update = intake.next().await?;
            Some((Ok(update), intake))
        }))
    }
}

/// Polling: a webhook left by an earlier run (or another tool) is deleted, as teloxide's
/// polling does; Telegram then hands its pending updates to getUpdates.
pub async fn delete_leftover(bot: &Bot) {
    let info = match super::retry("getWebhookInfo", || bot.get_webhook_info().send()).await {
        Ok(info) => info,
        Err(e) => {
            tracing::warn!("cannot ask Telegram for a webhook left over ({e}); polling anyway");
            return;
        }
    };
    let Some(url) = info.url else { return };
    match super::retry("deleteWebhook", || bot.delete_webhook().send()).await {
        Ok(_) => tracing::info!(%url, "a webhook was set: deleted, this bot polls (POSTKEEPER_WEBHOOK_URL is not set)"),
        Err(e) => tracing::warn!(%url, "cannot delete the webhook left over ({e}): polling will fail until it is"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_of_telegrams_alphabet() {
        let (a, b) = (new_secret().expect("random"), new_secret().expect("random"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(crate::settings::valid_webhook_secret(&a), "{a}");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd") && !same(b"abc", b"ab") && !same(b"", b"a"));
    }
}
