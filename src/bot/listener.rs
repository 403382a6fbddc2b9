//! Long polling that keeps what Telegram sent: `getUpdates` read as JSON values, each
//! handed to teloxide as its typed `Update`, and the JSON of every channel post kept for
//! the live archive ([`RawPosts`]). teloxide 0.17 reads message kinds and entity types it
//! does not know as an empty message (a `date_time` entity in a caption loses the photo,
//! `paid_media` as the Bot API documents it, `rich_message`): the archive reads the JSON
//! instead, with a reader that keeps what it does not know (`ingest::bot_api`).

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use teloxide::RequestError;
use teloxide::errors::AsResponseParameters;
use teloxide::prelude::*;
use teloxide::requests::{JsonRequest, Payload};
use teloxide::stop::{StopFlag, StopToken, mk_stop_token};
use teloxide::types::{AllowedUpdate, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};

/// Channel posts as Telegram sent them, by update id, until their handler takes them.
#[derive(Default)]
pub struct RawPosts(Mutex<BTreeMap<u32, Value>>);

/// Posts kept at most: a handler takes each at once; this bounds what a handler that
/// never ran (a dispatcher stopped mid-batch) leaves behind.
const RAW_KEPT: usize = 1024;

impl RawPosts {
    fn keep(&self, update_id: u32, message: Value) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(update_id, message);
        while map.len() > RAW_KEPT {
            map.pop_first();
        }
    }

    /// The JSON of update `update_id`'s channel post, if this process received it.
    pub fn take(&self, update_id: u32) -> Option<Value> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&update_id)
    }

    /// Keeps the JSON of a received update's channel post (the webhook's body, a test's).
    pub fn keep_update(&self, update: &Value) {
        if let Some(id) = update.get("update_id").and_then(Value::as_u64).and_then(|id| u32::try_from(id).ok())
            && let Some(message) = channel_message(update)
        {
            self.keep(id, message.clone());
        }
    }
}

/// The message of a `channel_post` or `edited_channel_post` update, and which one it is.
fn channel_message(update: &Value) -> Option<&Value> {
    update.get("channel_post").or_else(|| update.get("edited_channel_post"))
}

/// `getUpdates`, answered as JSON values rather than teloxide's types.
#[derive(Clone, Serialize)]
struct GetUpdatesJson {
    offset: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u8>,
    timeout: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_updates: Option<Vec<AllowedUpdate>>,
}

impl Payload for GetUpdatesJson {
    type Output = Vec<Value>;
    const NAME: &'static str = "GetUpdates";

    fn timeout_hint(&self) -> Option<Duration> {
        Some(Duration::from_secs(u64::from(self.timeout)))
    }
}

/// The update teloxide reads from `value`. An update it cannot read at all but that
/// carries a channel post becomes that post with its id, date and chat only, so that the
/// live archive's handler runs (and reads the JSON kept for it).
fn typed(value: &Value) -> Option<Update> {
    // From a borrowed value: teloxide's types borrow some strings while they are read.
    let update = match Update::deserialize(value) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!("an update teloxide cannot read at all, skipped: {e}");
            return None;
        }
    };
    if !matches!(update.kind, UpdateKind::Error(_)) {
        return Some(update);
    }
    let (key, message) =
        ["channel_post", "edited_channel_post"].into_iter().find_map(|k| value.get(k).map(|m| (k, m)))?;
    let stripped = serde_json::json!({
        "update_id": value.get("update_id"),
        key: {"message_id": message.get("message_id"), "date": message.get("date"), "chat": message.get("chat")},
    });
    Update::deserialize(&stripped).ok()
}

/// An update as Telegram sent it (polled or POSTed to the webhook): its channel post's JSON
/// kept, counted by kind, and typed for the dispatcher (`None`: unreadable, logged).
pub(super) fn receive(value: &Value, raw: &RawPosts) -> Option<Update> {
    raw.keep_update(value);
    let update = typed(value)?;
    let kind = value
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "update_id"))
        .map_or_else(|| "unknown".to_string(), Clone::clone);
    metrics::counter!("postkeeper_updates_total", "kind" => kind).increment(1);
    Some(update)
}

/// The polling listener: teloxide's `Polling` in behaviour (a long poll, `allowed_updates`
/// from the handler tree, back-off after errors, `retry_after` honoured, the offset
/// confirmed at a graceful stop), with the updates read as JSON first.
pub struct JsonPolling {
    bot: Bot,
    timeout: Duration,
    allowed: Option<Vec<AllowedUpdate>>,
    raw: std::sync::Arc<RawPosts>,
    health: std::sync::Arc<super::http::Health>,
    token: StopToken,
    flag: Option<StopFlag>,
}

impl JsonPolling {
    pub fn new(
        bot: Bot,
        timeout: Duration,
        raw: std::sync::Arc<RawPosts>,
        health: std::sync::Arc<super::http::Health>,
    ) -> Self {
        let (token, flag) = mk_stop_token();
        JsonPolling { bot, timeout, allowed: None, raw, health, token, flag: Some(flag) }
    }
}

impl UpdateListener for JsonPolling {
    type Err = RequestError;

    fn stop_token(&mut self) -> StopToken {
        self.token.clone()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.allowed = Some(hint.collect());
    }
}

/// Where a poll is.
struct PollState {
    bot: Bot,
    raw: std::sync::Arc<RawPosts>,
    health: std::sync::Arc<super::http::Health>,
    timeout: u32,
    /// Sent until a request succeeds (Telegram keeps it from then on).
    allowed: Option<Vec<AllowedUpdate>>,
    flag: Pin<Box<StopFlag>>,
    offset: i32,
    buffer: VecDeque<Update>,
    /// A pause before the next request (after an error).
    pause: Option<Duration>,
    errors: u32,
    done: bool,
}

/// The pause after `errors` failures in a row (polls, setWebhook): 1 s doubling up to a
/// minute.
pub(super) fn backoff(errors: u32) -> Duration {
    Duration::from_secs(1u64 << errors.min(6)).min(Duration::from_secs(60))
}

impl PollState {
    /// A `getUpdates` request that borrows nothing of the poll (it is raced with the flag).
    fn request(
        &self,
        offset: i32,
        limit: Option<u8>,
        timeout: u32,
    ) -> impl Future<Output = Result<Vec<Value>, RequestError>> + use<> {
        let payload = GetUpdatesJson { offset, limit, timeout, allowed_updates: self.allowed.clone() };
        JsonRequest::new(self.bot.clone(), payload).send()
    }

    /// Takes a batch: JSON kept for channel posts, typed updates queued, the offset moved.
    fn take(&mut self, values: Vec<Value>) {
        for value in values {
            let Some(id) = value.get("update_id").and_then(Value::as_u64).and_then(|id| u32::try_from(id).ok()) else {
                tracing::warn!("an update without an update_id, skipped");
                continue;
            };
            self.offset = self.offset.max(i32::try_from(id).unwrap_or(i32::MAX - 1).saturating_add(1));
            if let Some(update) = receive(&value, &self.raw) {
                self.buffer.push_back(update);
            }
        }
    }

    async fn next(&mut self) -> Option<Result<Update, RequestError>> {
        loop {
            if let Some(update) = self.buffer.pop_front() {
                return Some(Ok(update));
            }
            if self.done {
                return None;
            }
            if let Some(pause) = self.pause.take() {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = self.flag.as_mut() => {
                        self.done = true;
                        return None;
                    }
                }
            }
            let request = self.request(self.offset, None, self.timeout);
            let result = tokio::select! {
                r = request => r,
                () = self.flag.as_mut() => {
                    // Confirms the updates handed out, waiting for none: the next poll
                    // (this process's or another's) does not get them again.
                    self.done = true;
                    if let Err(e) = self.request(self.offset, Some(1), 0).await {
                        tracing::debug!("the last getUpdates at stop failed: {e}");
                    }
                    return None;
                }
            };
            super::send::count("getUpdates", &result);
            match result {
                Ok(values) => {
                    self.health.telegram_answered();
                    self.errors = 0;
                    self.allowed = None;
                    self.take(values);
                }
                Err(e) => {
                    self.pause = Some(match e.retry_after() {
                        Some(wait) => wait.duration(),
                        None => backoff(self.errors),
                    });
                    self.errors = self.errors.saturating_add(1);
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<'a> AsUpdateStream<'a> for JsonPolling {
    type StreamErr = RequestError;
    type Stream = Pin<Box<dyn Stream<Item = Result<Update, RequestError>> + Send + 'a>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let flag = match self.flag.take() {
            Some(flag) => flag,
            None => {
                // A second stream: a new pair, the token handed out before stops nothing now.
                let (token, flag) = mk_stop_token();
                self.token = token;
                flag
            }
        };
        let state = PollState {
            bot: self.bot.clone(),
            raw: self.raw.clone(),
            health: self.health.clone(),
            timeout: u32::try_from(self.timeout.as_secs()).unwrap_or(50),
            allowed: self.allowed.clone(),
            flag: Box::pin(flag),
            offset: 0,
            buffer: VecDeque::new(),
            pause: None,
            errors: 0,
            done: false,
        };
        Box::pin(futures::stream::unfold(state, |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        }))
    }
}
