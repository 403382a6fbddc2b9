//! A strict fake Telegram Bot API server (axum on 127.0.0.1:0).
//!
//! * Routes `/bot<TOKEN>/<method>` (any HTTP method; method names case-insensitive, recorded
//!   under their documented spelling). Parameters: JSON body, form body, query string and
//!   multipart/form-data (file uploads; the media methods are in `media.rs`).
//! * Calls are recorded when they are answered (a long poll appears when it returns).
//! * Webhooks: `setWebhook` checked as Telegram checks it, updates POSTed with the secret
//!   token through a stand-in for the reverse proxy (`webhook.rs`), `getUpdates` refused
//!   (409) while one is set.
//! * Unimplemented Bot API methods answer 404 `Not Found: method not found`, so they show up
//!   in `errors()`.
//! * Stricter than Telegram: a bare `&` in HTML; a button with two action fields; an empty
//!   button text (`BUTTON_TEXT_INVALID`, text unverified). Only the HTML parse mode exists.
//! * Not emulated: callback/inline query expiry, the per-chat 1 msg/s and global 30 msg/s
//!   limits (only the opt-in `enforce_channel_rate`), automatic entity detection (URLs,
//!   mentions) in plain texts, editing messages sent via inline mode, editing channel posts
//!   the bot did not send, image decoding (see `media.rs`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::multipart::MultipartError;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Multipart, Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::html::{Parsed, parse_html, utf16_len};
use crate::updates::now as unix_now;
use crate::{BOT_FIRST_NAME, BOT_ID, BOT_USERNAME, Call, Delivery, Fault, MediaKind, StoredMessage, TOKEN, Upload};

mod media;
mod webhook;

use media::FileInfo;

const MAX_TEXT: usize = 4096;
const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";
const MAX_CALLBACK_TEXT: usize = 200;
const MAX_INLINE_RESULTS: usize = 50;
const QUERY_INVALID: &str = "Bad Request: query is too old and response timeout expired or query ID is invalid";
const CONFLICT_OTHER_POLL: &str =
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
/// The first update id handed out (the real server's ids are large, arbitrary numbers).
const FIRST_UPDATE_ID: i64 = 10_000;
/// Update kinds delivered when `allowed_updates` was never set or set to `[]`.
const NOT_DELIVERED_BY_DEFAULT: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

/// Bot API method names as documented; requests may spell them in any case (teloxide sends
/// `SendMessage`), calls are recorded under these names.
const METHODS: &[&str] = &[
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyName",
    "getMyName",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
    "setChatMenuButton",
    "getChat",
    "getChatMember",
    "getChatAdministrators",
    "getFile",
    "sendMessage",
    "sendPhoto",
    "sendVideo",
    "sendAnimation",
    "sendDocument",
    "sendAudio",
    "sendVoice",
    "sendMediaGroup",
    "copyMessage",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "deleteMessage",
    "sendChatAction",
    "answerCallbackQuery",
    "answerInlineQuery",
];

fn canonical_method(method: &str) -> String {
    METHODS.iter().find(|m| m.eq_ignore_ascii_case(method)).map(|m| m.to_string()).unwrap_or_else(|| method.to_string())
}

// ---------------------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone)]
struct ApiErr {
    code: u16,
    description: String,
    retry_after: Option<u32>,
}

impl ApiErr {
    fn new(code: u16, description: impl Into<String>) -> Self {
        ApiErr { code, description: description.into(), retry_after: None }
    }

    fn too_many(retry_after: u32) -> Self {
        ApiErr {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    fn body(&self) -> Value {
        let mut body = json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(n) = self.retry_after {
            body["parameters"] = json!({"retry_after": n});
        }
        body
    }
}

fn bad(what: impl AsRef<str>) -> ApiErr {
    ApiErr::new(400, format!("Bad Request: {}", what.as_ref()))
}

type ApiResult<T> = Result<T, ApiErr>;

// ---------------------------------------------------------------------------------------
// Request parameters (JSON body, form body and query string merged)

/// The text parameters, and the file parts of a multipart request by part name.
struct Params(Map<String, Value>, HashMap<String, FilePart>);

/// A file part of a multipart request.
struct FilePart {
    /// Its place among the request's file parts (for `uploads()` in arrival order).
    index: usize,
    file_name: String,
    mime: Option<String>,
    bytes: Bytes,
}

impl Params {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn i64(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                n.as_i64().map(Some).ok_or_else(|| bad(format!("field \"{key}\" must be of type Integer")))
            }
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => {
                s.trim().parse().map(Some).map_err(|_| bad(format!("field \"{key}\" must be of type Integer")))
            }
            Some(_) => Err(bad(format!("field \"{key}\" must be of type Integer"))),
        }
    }

    fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
            _ => false,
        }
    }

    /// A structured parameter; form-encoded requests carry it as a JSON-serialized string.
    fn json(&self, key: &str) -> ApiResult<Option<Value>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => {
                serde_json::from_str(s).map(Some).map_err(|_| bad(format!("can't parse {key} JSON object")))
            }
            Some(v) => Ok(Some(v.clone())),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_urlencoded(s: &str, into: &mut Map<String, Value>) {
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        into.insert(percent_decode(k), Value::String(percent_decode(v)));
    }
}

// ---------------------------------------------------------------------------------------
// State

struct Rate {
    per_minute: u32,
    sent: VecDeque<Instant>,
}

struct State {
    calls: Vec<Call>,
    /// Successful calls per method (lower case), counted as they are recorded.
    ok_calls: HashMap<String, usize>,
    last_update_id: i64,
    queue: VecDeque<Value>,
    filtered_updates: Vec<Value>,
    allowed_updates: Option<Vec<String>>,
    webhooks: webhook::Webhooks,
    chats: HashMap<i64, Value>,
    usernames: HashMap<String, i64>,
    /// chat id -> the 403 description sends get (bot blocked / kicked).
    blocked: HashMap<i64, String>,
    /// chat id -> the bot's standing there (`status`, `can_post_messages`), where a test or
    /// a `my_chat_member` update set it. A chat without one has the bot as an administrator
    /// that may post (so channels added with `add_chat` can be written to).
    bot_member: HashMap<i64, (String, bool)>,
    messages: HashMap<i64, BTreeMap<i64, StoredMessage>>,
    /// Ids of messages in a chat that the bot did not send (seen in updates).
    foreign: HashMap<i64, HashSet<i64>>,
    /// (chat id, message id) -> the last JSON of a message seen in an update (for copyMessage).
    foreign_content: HashMap<(i64, i64), Value>,
    last_message_id: HashMap<i64, i64>,
    last_user_message: HashMap<i64, i64>,
    pending_callbacks: Vec<String>,
    pending_inline: Vec<String>,
    inline_answers: Vec<Value>,
    faults: HashMap<String, VecDeque<Fault>>,
    commands: BTreeMap<(String, String), Vec<(String, String)>>,
    /// (name | description | short_description, language_code) -> value
    bot_texts: HashMap<(String, String), String>,
    rates: HashMap<i64, Rate>,
    /// file_id -> the file it names (minted by sends, registered from pushed updates).
    files: HashMap<String, FileInfo>,
    /// Paths `getFile` handed out -> (the file's unique id, its size).
    file_paths: HashMap<String, (String, usize)>,
    uploads: Vec<Upload>,
    poller: Option<(u64, oneshot::Sender<()>)>,
    poll_generation: u64,
    last_activity: Option<Instant>,
    inflight: usize,
}

impl Default for State {
    fn default() -> Self {
        State {
            calls: Vec::new(),
            ok_calls: HashMap::new(),
            last_update_id: FIRST_UPDATE_ID - 1,
            queue: VecDeque::new(),
            filtered_updates: Vec::new(),
            allowed_updates: None,
            webhooks: webhook::Webhooks::default(),
            chats: HashMap::new(),
            usernames: HashMap::new(),
            blocked: HashMap::new(),
            bot_member: HashMap::new(),
            messages: HashMap::new(),
            foreign: HashMap::new(),
            foreign_content: HashMap::new(),
            last_message_id: HashMap::new(),
            last_user_message: HashMap::new(),
            pending_callbacks: Vec::new(),
            pending_inline: Vec::new(),
            inline_answers: Vec::new(),
            faults: HashMap::new(),
            commands: BTreeMap::new(),
            bot_texts: HashMap::new(),
            rates: HashMap::new(),
            files: HashMap::new(),
            file_paths: HashMap::new(),
            uploads: Vec::new(),
            poller: None,
            poll_generation: 0,
            last_activity: None,
            inflight: 0,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// Woken on every pushed update (long polls wait on it).
    updates: Notify,
    /// Woken on every recorded call (tests waiting for calls wait on it). Apart from
    /// `updates` so that a bot's replies do not wake its own pending long poll.
    calls: Notify,
    /// Woken when a webhook may have something to deliver (an update, a setWebhook).
    deliver: Notify,
    shutdown: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the state from the other assertions.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fake Telegram Bot API server. Dropping it stops the server.
pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
    /// Delivers updates to a webhook ([`webhook`]).
    deliverer: JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.updates.notify_waiters();
        self.shared.calls.notify_waiters();
        self.server.abort();
        self.deliverer.abort();
    }
}

impl FakeTelegram {
    /// Binds 127.0.0.1:0 and serves on the current tokio runtime.
    pub async fn start() -> FakeTelegram {
        Self::start_on("127.0.0.1:0".parse().expect("an address")).await
    }

    /// Serves on `addr`: a server that comes up where a bot has been calling in vain (a
    /// Telegram outage, a network that is not up yet).
    pub async fn start_on(addr: std::net::SocketAddr) -> FakeTelegram {
        let listener = TcpListener::bind(addr).await.expect("fake telegram: bind");
        let addr = listener.local_addr().expect("fake telegram: local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            updates: Notify::new(),
            calls: Notify::new(),
            deliver: Notify::new(),
            shutdown: AtomicBool::new(false),
        });
        let deliverer = tokio::spawn(webhook::deliver(shared.clone()));
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(shared.clone())
            .into_make_service_with_connect_info::<ConnHandle>();
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(KillableListener(listener), app).await {
                eprintln!("fake telegram server stopped: {e}");
            }
        });
        FakeTelegram { shared, addr, server, deliverer }
    }

    /// e.g. `http://127.0.0.1:41234/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn bot(&self) -> teloxide::Bot {
        teloxide::Bot::new(TOKEN).set_api_url(self.url().parse().expect("fake telegram url is a valid URL"))
    }

    /// Registers a chat object (must have `id` and `type`), e.g.
    /// `updates::channel_chat(-1001234567890, Some("mychannel"))`, so that the bot may write to
    /// it and `getChat` finds it by id or by `@username`.
    pub fn add_chat(&self, chat: Value) {
        self.shared.lock().register_chat(&chat);
    }

    /// Sets the bot's standing in a registered chat, as `getChatMember` reports it and as
    /// sends to a channel are checked: `creator`, `administrator` (with or without the right
    /// to post), `member`, `left` or `kicked`.
    pub fn set_bot_member(&self, chat_id: i64, status: &str, can_post_messages: bool) {
        self.shared.lock().bot_member.insert(chat_id, (status.to_string(), can_post_messages));
    }

    /// Sets `update_id` (monotonic), fills placeholder message ids (see `updates`), registers
    /// chats, callback and inline query ids, and queues the update for getUpdates.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut st = self.shared.lock();
            st.last_update_id += 1;
            let id = st.last_update_id;
            update["update_id"] = json!(id);
            st.absorb_update(&mut update);
            st.queue.push_back(update);
            st.last_activity = Some(Instant::now());
            id
        };
        self.shared.updates.notify_waiters();
        self.shared.deliver.notify_one();
        id
    }

    /// The update as queued by `push_update` (with ids filled in), if not yet confirmed.
    pub fn queued_update(&self, update_id: i64) -> Option<Value> {
        let st = self.shared.lock();
        st.queue.iter().find(|u| u["update_id"].as_i64() == Some(update_id)).cloned()
    }

    /// Updates that were dropped because their kind was not in `allowed_updates`.
    pub fn filtered_updates(&self) -> Vec<Value> {
        self.shared.lock().filtered_updates.clone()
    }

    /// Number of pushed updates not yet confirmed by a getUpdates offset.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().queue.len()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.shared.lock().calls.iter().filter(|c| c.method.eq_ignore_ascii_case(method)).cloned().collect()
    }

    /// Waits until at least `n` successful calls of `method` were recorded; panics with a
    /// dump of all calls on timeout.
    pub async fn wait_for_calls(&self, method: &str, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared.calls.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let ok: Vec<Call> = self.calls_to(method).into_iter().filter(|c| c.ok).collect();
            if ok.len() >= n {
                return ok;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out after {timeout:?} waiting for {n} successful {method} calls (got {}); calls:\n{}",
                    ok.len(),
                    self.dump_calls()
                );
            }
        }
    }

    /// All calls, one a line, for failure messages.
    pub fn dump_calls(&self) -> String {
        let calls = self.calls();
        let mut out = String::new();
        for (i, c) in calls.iter().enumerate() {
            let outcome = if c.ok {
                "ok".to_string()
            } else if c.cancelled {
                "cancelled".to_string()
            } else {
                format!("ERR {}{}", c.error.as_deref().unwrap_or("?"), if c.injected { " (injected)" } else { "" })
            };
            out.push_str(&format!("{i:3}. {} {} -> {outcome}\n", c.method, c.params));
        }
        out
    }

    /// Current state of the bot's messages in a chat (after edits, without deleted ones),
    /// in order of message_id.
    pub fn messages(&self, chat_id: i64) -> Vec<StoredMessage> {
        self.shared.lock().messages.get(&chat_id).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    /// How many successful calls of `method` (case-insensitive) were recorded, without
    /// copying them: for waiting on many calls (benchmarks).
    pub fn successful_calls(&self, method: &str) -> usize {
        self.shared.lock().ok_calls.get(&method.to_ascii_lowercase()).copied().unwrap_or(0)
    }

    /// One message of the bot, if it exists.
    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<StoredMessage> {
        self.shared.lock().messages.get(&chat_id).and_then(|m| m.get(&message_id)).cloned()
    }

    /// Queues a one-shot fault for the next call of `method` (case-insensitive).
    pub fn inject(&self, method: &str, fault: Fault) {
        self.shared.lock().faults.entry(method.to_ascii_lowercase()).or_default().push_back(fault);
    }

    pub fn unanswered_callbacks(&self) -> Vec<String> {
        self.shared.lock().pending_callbacks.clone()
    }

    pub fn unanswered_inline_queries(&self) -> Vec<String> {
        self.shared.lock().pending_inline.clone()
    }

    /// Calls that got `ok:false`, except injected faults and calls the client abandoned.
    pub fn errors(&self) -> Vec<Call> {
        self.shared.lock().calls.iter().filter(|c| !c.ok && !c.injected && !c.cancelled).cloned().collect()
    }

    /// Returns once no request (other than a pending getUpdates long poll) has arrived or
    /// been answered for `quiet`, and none is being processed.
    pub async fn wait_idle(&self, quiet: Duration) {
        loop {
            let (inflight, last) = {
                let st = self.shared.lock();
                (st.inflight, st.last_activity)
            };
            let now = Instant::now();
            if inflight > 0 {
                tokio::time::sleep(quiet.min(Duration::from_millis(10))).await;
                continue;
            }
            let since = last.map(|l| now.saturating_duration_since(l));
            match since {
                Some(s) if s < quiet => tokio::time::sleep(quiet - s).await,
                _ => return,
            }
        }
    }

    /// Commands set with setMyCommands for the default scope and `lang` (None = no
    /// language_code).
    pub fn my_commands(&self, lang: Option<&str>) -> Vec<(String, String)> {
        self.my_commands_for_scope("default", lang)
    }

    /// `scope` is the scope's `type` (`default`, `all_private_chats`, …), with `:<chat_id>`
    /// (and `:<user_id>`) appended for chat scopes.
    pub fn my_commands_for_scope(&self, scope: &str, lang: Option<&str>) -> Vec<(String, String)> {
        self.shared
            .lock()
            .commands
            .get(&(scope.to_string(), lang.unwrap_or("").to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// The last `allowed_updates` a getUpdates call sent (None if never sent).
    pub fn allowed_updates(&self) -> Option<Vec<String>> {
        self.shared.lock().allowed_updates.clone()
    }

    /// Params of each successful answerInlineQuery.
    pub fn inline_answers(&self) -> Vec<Value> {
        self.shared.lock().inline_answers.clone()
    }

    /// Sends and edits to `chat_id` beyond `per_minute` within a sliding 60 s window (tokio
    /// clock) get a real 429 with the computed retry_after. An album counts one per item and
    /// is refused whole when its items do not all fit, as Telegram sends it as one request.
    pub fn enforce_channel_rate(&self, chat_id: i64, per_minute: u32) {
        self.shared.lock().rates.insert(chat_id, Rate { per_minute, sent: VecDeque::new() });
    }

    /// Every file part received in a multipart request, in order (also those of refused or
    /// fault-injected requests, marked `accepted: false`): how many bytes the bot uploaded.
    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.lock().uploads.clone()
    }

    /// The bot's media messages in a chat (photos, videos, … and album items), in order.
    pub fn media_messages(&self, chat_id: i64) -> Vec<StoredMessage> {
        self.messages(chat_id).into_iter().filter(|m| m.media.is_some()).collect()
    }

    /// The items of one album (sendMediaGroup) in a chat, in order.
    pub fn media_group(&self, chat_id: i64, media_group_id: &str) -> Vec<StoredMessage> {
        self.messages(chat_id).into_iter().filter(|m| m.media_group_id.as_deref() == Some(media_group_id)).collect()
    }

    /// Makes `file_id` known as a file of `kind`, as if Telegram had minted it for this bot
    /// (file_ids in pushed updates are registered by `push_update`).
    pub fn register_file(&self, kind: MediaKind, file_id: &str, file_unique_id: &str) {
        self.shared.lock().files.insert(file_id.to_string(), FileInfo::registered(kind, file_unique_id));
    }

    /// The bytes a download of `file_id` gets (after getFile), if the fake knows the file.
    pub fn file_content(&self, file_id: &str) -> Option<Vec<u8>> {
        self.shared.lock().content_of(file_id)
    }

    /// Stands in for the reverse proxy in front of a bot in webhook mode: deliveries to
    /// `public_origin` (`https://bot.example.org`, no path) go to `local_base`
    /// (`http://127.0.0.1:8080`), the URL's path kept.
    pub fn proxy(&self, public_origin: &str, local_base: &str) {
        let origin = public_origin.trim_end_matches('/').to_ascii_lowercase();
        self.shared.lock().webhooks.proxies.insert(origin, local_base.to_string());
        self.shared.deliver.notify_one();
    }

    /// Every webhook delivery so far, in the order they ended.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().webhooks.deliveries.clone()
    }

    /// What `getWebhookInfo` answers now.
    pub fn webhook_info(&self) -> Value {
        self.shared.lock().webhook_info()
    }

    /// Waits until `n` webhook deliveries ended (or `timeout` passed); returns them all.
    pub async fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared.calls.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let done = self.deliveries();
            if done.len() >= n || Instant::now() >= deadline {
                return done;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// State logic

fn chat_type(chat: &Value) -> &str {
    chat["type"].as_str().unwrap_or("")
}

fn blocked_description(chat: &Value, status: &str) -> String {
    match (chat_type(chat), status) {
        ("private", _) => "Forbidden: bot was blocked by the user".to_string(),
        (kind, "kicked") => format!("Forbidden: bot was kicked from the {kind} chat"),
        (kind, _) => format!("Forbidden: bot is not a member of the {kind} chat"),
    }
}

fn scope_key(scope: Option<&Value>) -> String {
    let Some(scope) = scope else {
        return "default".to_string();
    };
    let mut key = scope["type"].as_str().unwrap_or("default").to_string();
    for field in ["chat_id", "user_id"] {
        match &scope[field] {
            Value::Null => {}
            Value::String(s) => key.push_str(&format!(":{s}")),
            v => key.push_str(&format!(":{v}")),
        }
    }
    key
}

const BUTTON_KINDS: &[&str] = &[
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "login_url",
    "web_app",
    "callback_game",
    "pay",
    "copy_text",
];

fn valid_button_url(url: &str) -> bool {
    if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let lower = url.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("tg://") {
        return !rest.is_empty();
    }
    let rest = match lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) {
        Some(rest) => rest,
        None => return false,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-' || c == '_')
}

fn validate_button(button: &Value) -> ApiResult<()> {
    let Some(obj) = button.as_object() else {
        return Err(bad("can't parse inline keyboard button: Object expected"));
    };
    let Some(text) = obj.get("text").and_then(Value::as_str) else {
        return Err(bad("can't parse inline keyboard button: Field \"text\" must be of type String"));
    };
    if text.trim().is_empty() {
        return Err(bad("BUTTON_TEXT_INVALID"));
    }
    let kinds: Vec<&str> = BUTTON_KINDS.iter().copied().filter(|k| obj.get(*k).is_some_and(|v| !v.is_null())).collect();
    match kinds.len() {
        0 => {
            return Err(bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"));
        }
        1 => {}
        _ => {
            return Err(bad(format!(
                "can't parse inline keyboard button: exactly one of the optional fields must be used, got {}",
                kinds.join(", ")
            )));
        }
    }
    if let Some(data) = obj.get("callback_data") {
        let len = data.as_str().map(str::len).unwrap_or(0);
        if !(1..=64).contains(&len) {
            return Err(bad("BUTTON_DATA_INVALID"));
        }
    }
    if let Some(url) = obj.get("url")
        && !url.as_str().is_some_and(valid_button_url)
    {
        return Err(bad("BUTTON_URL_INVALID"));
    }
    Ok(())
}

/// Validates a `reply_markup`; returns what a Message would carry (inline keyboards only;
/// an empty inline keyboard counts as none).
fn validate_markup(markup: Option<Value>, inline_only: bool) -> ApiResult<Option<Value>> {
    let Some(markup) = markup else {
        return Ok(None);
    };
    let Some(obj) = markup.as_object() else {
        return Err(bad("can't parse reply keyboard markup JSON object"));
    };
    let Some(rows) = obj.get("inline_keyboard") else {
        let known = ["keyboard", "remove_keyboard", "force_reply"].iter().any(|k| obj.contains_key(*k));
        if inline_only || !known {
            return Err(bad("can't parse reply keyboard markup JSON object"));
        }
        return Ok(None);
    };
    let Some(rows) = rows.as_array() else {
        return Err(bad("can't parse inline keyboard markup: Field \"inline_keyboard\" must be of type Array"));
    };
    let mut count = 0usize;
    for row in rows {
        let Some(row) = row.as_array() else {
            return Err(bad(
                "can't parse inline keyboard markup: Field \"inline_keyboard\" must be an Array of Arrays",
            ));
        };
        for button in row {
            validate_button(button)?;
            count += 1;
        }
    }
    if count > 100 {
        return Err(bad("reply markup is too long"));
    }
    if count == 0 {
        return Ok(None);
    }
    Ok(Some(markup))
}

/// Parses a text according to `parse_mode`.
fn render(text: &str, parse_mode: Option<&str>, entities: Option<Value>) -> ApiResult<Parsed> {
    match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => {
            let entities = match entities {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            Ok(Parsed { text: text.to_string(), entities })
        }
        Some("html") => parse_html(text).map_err(|e| bad(format!("can't parse entities: {e}"))),
        Some("markdown" | "markdownv2") => {
            Err(bad("can't parse entities: the fake Telegram server implements only the HTML parse mode"))
        }
        Some(_) => Err(bad("unsupported parse_mode")),
    }
}

impl State {
    fn register_chat(&mut self, chat: &Value) {
        let Some(id) = chat["id"].as_i64() else {
            return;
        };
        if let Some(name) = chat["username"].as_str() {
            self.usernames.insert(name.to_ascii_lowercase(), id);
        }
        match self.chats.get_mut(&id) {
            Some(existing) => {
                if let (Some(old), Some(new)) = (existing.as_object_mut(), chat.as_object()) {
                    for (k, v) in new {
                        old.insert(k.clone(), v.clone());
                    }
                }
            }
            None => {
                self.chats.insert(id, chat.clone());
            }
        }
    }

    fn next_message_id(&mut self, chat_id: i64) -> i64 {
        let last = self.last_message_id.entry(chat_id).or_insert(0);
        *last += 1;
        *last
    }

    fn absorb_update(&mut self, update: &mut Value) {
        for key in ["message", "edited_message", "channel_post", "edited_channel_post"] {
            let Some(msg) = update.get_mut(key) else {
                continue;
            };
            self.register_files_of(msg);
            let chat = msg["chat"].clone();
            let Some(chat_id) = chat["id"].as_i64() else {
                continue;
            };
            self.register_chat(&chat);
            let edited = key.starts_with("edited");
            let mut id = msg["message_id"].as_i64().unwrap_or(0);
            if id == 0 {
                id = match (edited, self.last_user_message.get(&chat_id)) {
                    (true, Some(last)) => *last,
                    _ => self.next_message_id(chat_id),
                };
                msg["message_id"] = json!(id);
            }
            let last = self.last_message_id.entry(chat_id).or_insert(0);
            *last = (*last).max(id);
            self.foreign.entry(chat_id).or_default().insert(id);
            self.foreign_content.insert((chat_id, id), msg.clone());
            if !edited {
                self.last_user_message.insert(chat_id, id);
            }
        }
        if let Some(id) = update["callback_query"]["id"].as_str() {
            self.pending_callbacks.push(id.to_string());
        }
        if let Some(id) = update["inline_query"]["id"].as_str() {
            self.pending_inline.push(id.to_string());
        }
        let member = &update["my_chat_member"];
        if !member.is_null() {
            let chat = member["chat"].clone();
            self.register_chat(&chat);
            if let Some(chat_id) = chat["id"].as_i64() {
                let new = &member["new_chat_member"];
                if let Some(status) = new["status"].as_str() {
                    let can_post = status == "creator" || new["can_post_messages"].as_bool().unwrap_or(false);
                    self.bot_member.insert(chat_id, (status.to_string(), can_post));
                }
                match new["status"].as_str() {
                    Some(status @ ("kicked" | "left")) => {
                        self.blocked.insert(chat_id, blocked_description(&chat, status));
                    }
                    Some(_) => {
                        self.blocked.remove(&chat_id);
                    }
                    None => {}
                }
            }
        }
    }

    /// Resolves `chat_id` (number, numeric string or `@username`) to a known chat.
    fn chat(&self, p: &Params) -> ApiResult<i64> {
        let id = match p.get("chat_id") {
            None => return Err(bad("chat_id is empty")),
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| bad("chat not found"))?,
            Some(Value::String(s)) if s.starts_with('@') => {
                *self.usernames.get(&s[1..].to_ascii_lowercase()).ok_or_else(|| bad("chat not found"))?
            }
            Some(Value::String(s)) if s.is_empty() => return Err(bad("chat_id is empty")),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| bad("chat not found"))?,
            Some(_) => return Err(bad("chat not found")),
        };
        if self.chats.contains_key(&id) { Ok(id) } else { Err(bad("chat not found")) }
    }

    fn check_blocked(&self, chat_id: i64) -> ApiResult<()> {
        if let Some(d) = self.blocked.get(&chat_id) {
            return Err(ApiErr::new(403, d.clone()));
        }
        let chat = &self.chats[&chat_id];
        let (status, can_post) = self.bot_status(chat_id);
        match status.as_str() {
            "left" | "kicked" if chat_type(chat) != "private" => {
                Err(ApiErr::new(403, blocked_description(chat, &status)))
            }
            "creator" => Ok(()),
            "administrator" if can_post => Ok(()),
            _ if chat_type(chat) == "channel" => Err(bad("need administrator rights in the channel chat")),
            _ => Ok(()),
        }
    }

    /// The bot's status in a chat and whether it may post there.
    fn bot_status(&self, chat_id: i64) -> (String, bool) {
        match self.bot_member.get(&chat_id) {
            Some(m) => m.clone(),
            None if self.chats.get(&chat_id).is_some_and(|c| chat_type(c) == "private") => ("member".into(), true),
            None => ("administrator".into(), true),
        }
    }

    /// Telegram's `ChatMember` of the bot in a chat.
    fn bot_member_json(&self, chat_id: i64) -> Value {
        let (status, can_post) = self.bot_status(chat_id);
        let mut member = json!({ "status": status, "user": crate::bot_user() });
        match status.as_str() {
            "administrator" => {
                let channel = chat_type(&self.chats[&chat_id]) == "channel";
                let rights = json!({
                    "can_be_edited": false,
                    "is_anonymous": false,
                    "can_manage_chat": true,
                    "can_delete_messages": true,
                    "can_manage_video_chats": true,
                    "can_restrict_members": true,
                    "can_promote_members": false,
                    "can_change_info": true,
                    "can_invite_users": true,
                    "can_post_stories": true,
                    "can_edit_stories": true,
                    "can_delete_stories": true,
                });
                if let (Some(m), Some(r)) = (member.as_object_mut(), rights.as_object()) {
                    m.extend(r.clone());
                    if channel {
                        m.insert("can_post_messages".into(), json!(can_post));
                        m.insert("can_edit_messages".into(), json!(can_post));
                    }
                }
            }
            "creator" => member["is_anonymous"] = json!(false),
            "kicked" => member["until_date"] = json!(0),
            _ => {}
        }
        member
    }

    /// Reading a group's or channel's members needs the bot to be in it.
    fn check_member(&self, chat_id: i64) -> ApiResult<()> {
        let chat = &self.chats[&chat_id];
        let (status, _) = self.bot_status(chat_id);
        if chat_type(chat) != "private" && matches!(status.as_str(), "left" | "kicked") {
            return Err(ApiErr::new(403, blocked_description(chat, &status)));
        }
        Ok(())
    }

    fn check_rate(&mut self, chat_id: i64) -> ApiResult<()> {
        self.check_rate_n(chat_id, 1)
    }

    /// Whether `n` more messages (an album's items) fit in the chat's rate window.
    fn check_rate_n(&mut self, chat_id: i64, n: usize) -> ApiResult<()> {
        let Some(rate) = self.rates.get_mut(&chat_id) else {
            return Ok(());
        };
        let now = Instant::now();
        let window = Duration::from_secs(60);
        while rate.sent.front().is_some_and(|t| now.saturating_duration_since(*t) >= window) {
            rate.sent.pop_front();
        }
        if rate.sent.len() + n > rate.per_minute as usize {
            // The wait until enough of the oldest sends leave the window.
            let needed = (rate.sent.len() + n).saturating_sub(rate.per_minute as usize).max(1);
            let oldest = rate.sent.get(needed - 1).copied().unwrap_or(now);
            let wait = (oldest + window).saturating_duration_since(now);
            let secs = wait.as_secs_f64().ceil().max(1.0) as u32;
            return Err(ApiErr::too_many(secs));
        }
        Ok(())
    }

    fn note_rate(&mut self, chat_id: i64) {
        if let Some(rate) = self.rates.get_mut(&chat_id) {
            rate.sent.push_back(Instant::now());
        }
    }

    fn message_exists(&self, chat_id: i64, message_id: i64) -> bool {
        self.messages.get(&chat_id).is_some_and(|m| m.contains_key(&message_id))
            || self.foreign.get(&chat_id).is_some_and(|m| m.contains(&message_id))
    }

    fn dispatch(&mut self, method: &str, p: &Params) -> ApiResult<Value> {
        match method {
            "getme" => Ok(json!({
                "id": BOT_ID,
                "is_bot": true,
                "first_name": BOT_FIRST_NAME,
                "username": BOT_USERNAME,
                "can_join_groups": true,
                "can_read_all_group_messages": false,
                "supports_inline_queries": true,
                "can_connect_to_business": false,
                "has_main_web_app": false,
            })),
            "logout" | "close" => Ok(json!(true)),
            "deletewebhook" => self.delete_webhook(p),
            "setwebhook" => self.set_webhook(p),
            "getwebhookinfo" => Ok(self.webhook_info()),
            "getfile" => self.get_file(p),
            "setmycommands" => self.set_my_commands(p),
            "getmycommands" => {
                let key = (scope_key(p.json("scope")?.as_ref()), p.str("language_code").unwrap_or_default());
                let list = self.commands.get(&key).cloned().unwrap_or_default();
                Ok(Value::Array(list.into_iter().map(|(c, d)| json!({"command": c, "description": d})).collect()))
            }
            "deletemycommands" => {
                let key = (scope_key(p.json("scope")?.as_ref()), p.str("language_code").unwrap_or_default());
                self.commands.remove(&key);
                Ok(json!(true))
            }
            "setmyname" | "setmydescription" | "setmyshortdescription" => {
                let (field, max) = match method {
                    "setmyname" => ("name", 64),
                    "setmydescription" => ("description", 512),
                    _ => ("short_description", 120),
                };
                let value = p.str(field).unwrap_or_default();
                if value.chars().count() > max {
                    return Err(bad(format!("{} is too long", field.replace('_', " "))));
                }
                let lang = p.str("language_code").unwrap_or_default();
                self.bot_texts.insert((field.to_string(), lang), value);
                Ok(json!(true))
            }
            "getmyname" | "getmydescription" | "getmyshortdescription" => {
                let field = match method {
                    "getmyname" => "name",
                    "getmydescription" => "description",
                    _ => "short_description",
                };
                let lang = p.str("language_code").unwrap_or_default();
                let value = self
                    .bot_texts
                    .get(&(field.to_string(), lang))
                    .cloned()
                    .unwrap_or_else(|| if field == "name" { BOT_FIRST_NAME.to_string() } else { String::new() });
                Ok(json!({ field: value }))
            }
            "setchatmenubutton" => Ok(json!(true)),
            "getchat" => {
                let id = self.chat(p)?;
                let mut chat = self.chats[&id].clone();
                let obj = chat.as_object_mut().ok_or_else(|| bad("chat not found"))?;
                obj.entry("accent_color_id").or_insert(json!(0));
                obj.entry("max_reaction_count").or_insert(json!(11));
                obj.entry("accepted_gift_types").or_insert(json!({
                    "unlimited_gifts": false,
                    "limited_gifts": false,
                    "unique_gifts": false,
                    "premium_subscription": false,
                }));
                Ok(chat)
            }
            "getchatmember" => {
                let chat_id = self.chat(p)?;
                let user = p.i64("user_id")?.ok_or_else(|| bad("invalid user_id specified"))?;
                if user == BOT_ID {
                    self.check_member(chat_id)?;
                    return Ok(self.bot_member_json(chat_id));
                }
                self.check_member(chat_id)?;
                let chat = &self.chats[&chat_id];
                if chat_type(chat) == "private" && user == chat_id {
                    let name = chat["first_name"].as_str().unwrap_or("User");
                    return Ok(
                        json!({ "status": "member", "user": {"id": user, "is_bot": false, "first_name": name} }),
                    );
                }
                Err(bad("user not found"))
            }
            "getchatadministrators" => {
                let chat_id = self.chat(p)?;
                self.check_member(chat_id)?;
                if chat_type(&self.chats[&chat_id]) == "private" {
                    return Err(bad("there are no administrators in the private chat"));
                }
                let me = self.bot_member_json(chat_id);
                let admins = match me["status"].as_str() {
                    Some("administrator" | "creator") => vec![me],
                    _ => Vec::new(),
                };
                Ok(Value::Array(admins))
            }
            "sendmessage" => self.send_message(p),
            "sendphoto" | "sendvideo" | "sendanimation" | "senddocument" | "sendaudio" | "sendvoice" => {
                let kind = MediaKind::ALL
                    .into_iter()
                    .find(|k| k.method().eq_ignore_ascii_case(method))
                    .ok_or_else(|| ApiErr::new(404, "Not Found: method not found"))?;
                self.send_media(kind, p)
            }
            "sendmediagroup" => self.send_media_group(p),
            "copymessage" => self.copy_message(p),
            "editmessagecaption" => self.edit_message_caption(p),
            "editmessagetext" => self.edit_message_text(p),
            "editmessagereplymarkup" => self.edit_message_reply_markup(p),
            "deletemessage" => {
                let chat_id = self.chat(p)?;
                let id = p.i64("message_id")?.ok_or_else(|| bad("message identifier is not specified"))?;
                let removed_own = self.messages.get_mut(&chat_id).and_then(|m| m.remove(&id)).is_some();
                let removed_foreign = self.foreign.get_mut(&chat_id).is_some_and(|m| m.remove(&id));
                self.foreign_content.remove(&(chat_id, id));
                if removed_own || removed_foreign { Ok(json!(true)) } else { Err(bad("message to delete not found")) }
            }
            "sendchataction" => {
                let chat_id = self.chat(p)?;
                const ACTIONS: &[&str] = &[
                    "typing",
                    "upload_photo",
                    "record_video",
                    "upload_video",
                    "record_voice",
                    "upload_voice",
                    "upload_document",
                    "choose_sticker",
                    "find_location",
                    "record_video_note",
                    "upload_video_note",
                ];
                let action = p.str("action").unwrap_or_default();
                if !ACTIONS.contains(&action.as_str()) {
                    return Err(bad("wrong parameter action in request"));
                }
                self.check_blocked(chat_id)?;
                Ok(json!(true))
            }
            "answercallbackquery" => {
                let id = p.str("callback_query_id").unwrap_or_default();
                let text = p.str("text").unwrap_or_default();
                if utf16_len(&text) > MAX_CALLBACK_TEXT {
                    return Err(bad("MESSAGE_TOO_LONG"));
                }
                if let Some(url) = p.str("url")
                    && !valid_button_url(&url)
                {
                    return Err(bad("URL_INVALID"));
                }
                match self.pending_callbacks.iter().position(|c| *c == id) {
                    Some(pos) => {
                        self.pending_callbacks.remove(pos);
                        Ok(json!(true))
                    }
                    None => Err(ApiErr::new(400, QUERY_INVALID)),
                }
            }
            "answerinlinequery" => self.answer_inline_query(p),
            _ => Err(ApiErr::new(404, "Not Found: method not found")),
        }
    }

    fn set_my_commands(&mut self, p: &Params) -> ApiResult<Value> {
        let commands = p.json("commands")?.unwrap_or(json!([]));
        let Some(commands) = commands.as_array() else {
            return Err(bad("can't parse commands JSON object"));
        };
        if commands.len() > 100 {
            return Err(bad("BOT_COMMANDS_TOO_MUCH"));
        }
        let mut list = Vec::new();
        for c in commands {
            let Some(command) = c["command"].as_str() else {
                return Err(bad("can't parse BotCommand: Field \"command\" must be of type String"));
            };
            let Some(description) = c["description"].as_str() else {
                return Err(bad("can't parse BotCommand: Field \"description\" must be of type String"));
            };
            let valid = (1..=32).contains(&command.len())
                && command.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(bad("BOT_COMMAND_INVALID"));
            }
            if description.trim().is_empty() {
                return Err(bad("command description must be non-empty"));
            }
            if description.chars().count() > 256 {
                return Err(bad("BOT_COMMAND_DESCRIPTION_INVALID"));
            }
            list.push((command.to_string(), description.to_string()));
        }
        let lang = p.str("language_code").unwrap_or_default();
        let lang_ok = lang.is_empty() || (lang.len() == 2 && lang.bytes().all(|b| b.is_ascii_lowercase()));
        if !lang_ok {
            return Err(bad("LANG_CODE_INVALID"));
        }
        let key = (scope_key(p.json("scope")?.as_ref()), lang);
        if list.is_empty() {
            self.commands.remove(&key);
        } else {
            self.commands.insert(key, list);
        }
        Ok(json!(true))
    }

    fn check_reply(&self, chat_id: i64, p: &Params) -> ApiResult<()> {
        let mut target = p.i64("reply_to_message_id")?;
        let mut allow = p.bool("allow_sending_without_reply");
        if let Some(rp) = p.json("reply_parameters")? {
            target = rp["message_id"].as_i64().or(target);
            allow |= rp["allow_sending_without_reply"].as_bool().unwrap_or(false);
            if rp["chat_id"].is_number() || rp["chat_id"].is_string() {
                // replies to other chats are not emulated
                return Ok(());
            }
        }
        match target {
            Some(id) if !allow && !self.message_exists(chat_id, id) => Err(bad("message to be replied not found")),
            _ => Ok(()),
        }
    }

    fn send_message(&mut self, p: &Params) -> ApiResult<Value> {
        let chat_id = self.chat(p)?;
        let html = p.str("text").unwrap_or_default();
        let parse_mode = p.str("parse_mode");
        let parsed = render(&html, parse_mode.as_deref(), p.json("entities")?)?;
        if parsed.utf16_len() > MAX_TEXT {
            return Err(bad("message is too long"));
        }
        let parsed = parsed.trimmed();
        if parsed.text.is_empty() {
            return Err(bad("message text is empty"));
        }
        let markup = validate_markup(p.json("reply_markup")?, false)?;
        self.check_reply(chat_id, p)?;
        self.check_blocked(chat_id)?;
        self.check_rate(chat_id)?;
        self.note_rate(chat_id);
        let message_id = self.next_message_id(chat_id);
        let stored = StoredMessage {
            message_id,
            chat_id,
            html,
            text: parsed.text,
            reply_markup: markup,
            edits: 0,
            entities: parsed.entities,
            parse_mode,
            chat: self.chats[&chat_id].clone(),
            date: unix_now(),
            edit_date: None,
            media: None,
            media_group_id: None,
        };
        let json = stored.to_json();
        self.messages.entry(chat_id).or_default().insert(message_id, stored);
        Ok(json)
    }

    fn target_message(&self, p: &Params) -> ApiResult<(i64, i64)> {
        if p.get("inline_message_id").is_some() {
            // messages sent via inline mode are not tracked by the fake
            return Err(bad("MESSAGE_ID_INVALID"));
        }
        let chat_id = self.chat(p)?;
        let id = p.i64("message_id")?.ok_or_else(|| bad("message identifier is not specified"))?;
        Ok((chat_id, id))
    }

    fn own_message(&self, chat_id: i64, id: i64) -> ApiResult<&StoredMessage> {
        match self.messages.get(&chat_id).and_then(|m| m.get(&id)) {
            Some(m) => Ok(m),
            None if self.message_exists(chat_id, id) => Err(bad("message can't be edited")),
            None => Err(bad("message to edit not found")),
        }
    }

    fn edit_message_text(&mut self, p: &Params) -> ApiResult<Value> {
        let (chat_id, id) = self.target_message(p)?;
        let html = p.str("text").unwrap_or_default();
        let parse_mode = p.str("parse_mode");
        let parsed = render(&html, parse_mode.as_deref(), p.json("entities")?)?;
        if parsed.utf16_len() > MAX_TEXT {
            return Err(bad("MESSAGE_TOO_LONG"));
        }
        let parsed = parsed.trimmed();
        if parsed.text.is_empty() {
            return Err(bad("message text is empty"));
        }
        let markup = validate_markup(p.json("reply_markup")?, true)?;
        if self.own_message(chat_id, id)?.media.is_some() {
            return Err(bad("there is no text in the message to edit"));
        }
        self.apply_edit(chat_id, id, html, parsed, parse_mode, markup)
    }

    /// A text or caption edit, once checked: refused when it changes nothing (as Telegram
    /// does), else recorded on the message.
    fn apply_edit(
        &mut self,
        chat_id: i64,
        id: i64,
        html: String,
        parsed: Parsed,
        parse_mode: Option<String>,
        markup: Option<Value>,
    ) -> ApiResult<Value> {
        let current = self.own_message(chat_id, id)?;
        if current.text == parsed.text && current.entities == parsed.entities && current.reply_markup == markup {
            return Err(bad(NOT_MODIFIED));
        }
        let msg = self.edit_target(chat_id, id)?;
        msg.html = html;
        msg.text = parsed.text;
        msg.entities = parsed.entities;
        msg.parse_mode = parse_mode;
        msg.reply_markup = markup;
        msg.edits += 1;
        msg.edit_date = Some(unix_now());
        Ok(msg.to_json())
    }

    /// The bot's own message about to be edited, once the chat and the rate allow it
    /// (edits count like sends).
    fn edit_target(&mut self, chat_id: i64, id: i64) -> ApiResult<&mut StoredMessage> {
        self.check_blocked(chat_id)?;
        self.check_rate(chat_id)?;
        self.note_rate(chat_id);
        self.messages.get_mut(&chat_id).and_then(|m| m.get_mut(&id)).ok_or_else(|| bad("message to edit not found"))
    }

    fn edit_message_reply_markup(&mut self, p: &Params) -> ApiResult<Value> {
        let (chat_id, id) = self.target_message(p)?;
        let markup = validate_markup(p.json("reply_markup")?, true)?;
        let current = self.own_message(chat_id, id)?;
        if current.reply_markup == markup {
            return Err(bad(NOT_MODIFIED));
        }
        let msg = self.edit_target(chat_id, id)?;
        msg.reply_markup = markup;
        msg.edits += 1;
        msg.edit_date = Some(unix_now());
        Ok(msg.to_json())
    }

    fn answer_inline_query(&mut self, p: &Params) -> ApiResult<Value> {
        let id = p.str("inline_query_id").unwrap_or_default();
        let results = p.json("results")?.unwrap_or(json!([]));
        let Some(results) = results.as_array() else {
            return Err(bad("can't parse results JSON object"));
        };
        if results.len() > MAX_INLINE_RESULTS {
            return Err(bad("RESULTS_TOO_MUCH"));
        }
        let mut ids = HashSet::new();
        for r in results {
            let rid = match &r["id"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            if !(1..=64).contains(&rid.len()) {
                return Err(bad("RESULT_ID_INVALID"));
            }
            if !ids.insert(rid) {
                return Err(bad("RESULT_ID_DUPLICATE"));
            }
            if r["type"].as_str().is_none() {
                return Err(bad("can't parse InlineQueryResult: Field \"type\" must be of type String"));
            }
            if r["type"] == "article" && r["title"].as_str().is_none_or(|t| t.trim().is_empty()) {
                return Err(bad("RESULT_TITLE_EMPTY"));
            }
            let content = &r["input_message_content"];
            if let Some(text) = content["message_text"].as_str() {
                let parsed = render(text, content["parse_mode"].as_str(), Some(content["entities"].clone()))?;
                if parsed.utf16_len() > MAX_TEXT {
                    return Err(bad("MESSAGE_TOO_LONG"));
                }
                if parsed.trimmed().text.is_empty() {
                    return Err(bad("MESSAGE_EMPTY"));
                }
            } else if r["type"] == "article" {
                return Err(bad(
                    "can't parse InlineQueryResult: Field \"input_message_content\" must be of type Object",
                ));
            }
            self.check_inline_media(r)?;
            validate_markup((!r["reply_markup"].is_null()).then(|| r["reply_markup"].clone()), true)?;
        }
        if p.str("next_offset").unwrap_or_default().len() > 64 {
            return Err(bad("NEXT_OFFSET_INVALID"));
        }
        match self.pending_inline.iter().position(|q| *q == id) {
            Some(pos) => {
                self.pending_inline.remove(pos);
                self.inline_answers.push(Value::Object(p.0.clone()));
                Ok(json!(true))
            }
            None => Err(ApiErr::new(400, QUERY_INVALID)),
        }
    }

    /// Drops confirmed updates (`offset` semantics of getUpdates).
    fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            while self.queue.front().is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < offset) {
                self.queue.pop_front();
            }
        } else if offset < 0 {
            let keep = offset.unsigned_abs() as usize;
            while self.queue.len() > keep {
                self.queue.pop_front();
            }
        }
    }

    /// Removes updates of kinds not allowed; returns up to `limit` deliverable updates.
    fn deliverable(&mut self, limit: usize) -> Vec<Value> {
        let mut kept = VecDeque::new();
        for u in std::mem::take(&mut self.queue) {
            if allows(self.allowed_updates.as_ref().filter(|a| !a.is_empty()), &u) {
                kept.push_back(u);
            } else {
                self.filtered_updates.push(u);
            }
        }
        self.queue = kept;
        self.queue.iter().take(limit).cloned().collect()
    }
}

/// Whether `allowed` (`allowed_updates`, `None` when never set or set to `[]`) lets
/// `update` through.
fn allows(allowed: Option<&Vec<String>>, update: &Value) -> bool {
    let kind = update.as_object().and_then(|o| o.keys().find(|k| k.as_str() != "update_id")).map_or("", String::as_str);
    match allowed {
        Some(list) => list.iter().any(|k| k == kind),
        None => !NOT_DELIVERED_BY_DEFAULT.contains(&kind),
    }
}

// ---------------------------------------------------------------------------------------
// getUpdates (long polling)

async fn get_updates(shared: &Arc<Shared>, p: &Params) -> ApiResult<Value> {
    let (timeout, limit, generation, mut conflict, previous) = {
        let mut st = shared.lock();
        if st.webhooks.is_set() {
            return Err(webhook::conflict());
        }
        let offset = p.i64("offset")?.unwrap_or(0);
        let limit = p.i64("limit")?.unwrap_or(100).clamp(1, 100) as usize;
        let timeout = p.i64("timeout")?.unwrap_or(0).max(0) as u64;
        if let Some(list) = p.json("allowed_updates")? {
            let Some(list) = list.as_array() else {
                return Err(bad("can't parse allowed_updates JSON object"));
            };
            st.allowed_updates = Some(list.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
        }
        st.confirm(offset);
        st.poll_generation += 1;
        let generation = st.poll_generation;
        let (tx, rx) = oneshot::channel();
        let previous = st.poller.replace((generation, tx));
        (timeout, limit, generation, rx, previous)
    };
    if let Some((_, terminate)) = previous {
        // A long poll is still pending. If its client already went away (a stopping
        // dispatcher drops its in-flight request, then polls once more), give the server a
        // moment to notice; otherwise the older poll is cut off like on the real server.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
        let _ = terminate.send(());
    }
    let _clear = PollerGuard { shared: shared.clone(), generation };
    let deadline = Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = shared.updates.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut st = shared.lock();
            let batch = st.deliverable(limit);
            if !batch.is_empty() || Instant::now() >= deadline || shared.shutdown.load(Ordering::SeqCst) {
                return Ok(Value::Array(batch));
            }
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = &mut conflict => return Err(ApiErr::new(409, CONFLICT_OTHER_POLL)),
        }
    }
}

/// Clears the registered poller when its getUpdates call ends (answered or cancelled).
struct PollerGuard {
    shared: Arc<Shared>,
    generation: u64,
}

impl Drop for PollerGuard {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        if st.poller.as_ref().is_some_and(|(g, _)| *g == self.generation) {
            st.poller = None;
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP plumbing

/// Records the call when the request ends; a request whose future is dropped before that
/// (client disconnected) is recorded as cancelled.
struct CallGuard {
    shared: Arc<Shared>,
    method: String,
    params: Value,
    counts_as_inflight: bool,
    done: bool,
    at: std::time::Instant,
}

impl CallGuard {
    fn new(shared: &Arc<Shared>, method: &str, params: Value) -> Self {
        let counts_as_inflight = !method.eq_ignore_ascii_case("getUpdates");
        {
            let mut st = shared.lock();
            if counts_as_inflight {
                st.inflight += 1;
                st.last_activity = Some(Instant::now());
            }
        }
        let at = std::time::Instant::now();
        CallGuard { shared: shared.clone(), method: method.to_string(), params, counts_as_inflight, done: false, at }
    }

    fn finish(mut self, status: u16, result: Result<Value, String>, injected: bool) {
        self.done = true;
        let params = std::mem::take(&mut self.params);
        let activity = match &result {
            Ok(Value::Array(a)) if !self.counts_as_inflight => !a.is_empty(),
            _ => self.counts_as_inflight,
        };
        let (ok, error, result) = match result {
            Ok(v) => (true, None, Some(v)),
            Err(e) => (false, Some(e), None),
        };
        self.record(
            Call {
                method: self.method.clone(),
                params,
                ok,
                error,
                injected,
                status,
                result,
                cancelled: false,
                at: self.at,
            },
            activity,
        );
    }

    fn record(&self, call: Call, activity: bool) {
        {
            let mut st = self.shared.lock();
            if call.ok {
                *st.ok_calls.entry(call.method.to_ascii_lowercase()).or_default() += 1;
            }
            st.calls.push(call);
            if activity {
                st.last_activity = Some(Instant::now());
            }
        }
        self.shared.calls.notify_waiters();
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            self.record(
                Call {
                    method: self.method.clone(),
                    params: self.params.clone(),
                    ok: false,
                    error: Some("cancelled: the client closed the connection".to_string()),
                    injected: false,
                    status: 0,
                    result: None,
                    cancelled: true,
                    at: self.at,
                },
                self.counts_as_inflight,
            );
        }
        if self.counts_as_inflight {
            let mut st = self.shared.lock();
            st.inflight = st.inflight.saturating_sub(1);
        }
    }
}

/// `{"ok": true, "result": ...}`, serialized from a borrowed result.
fn ok_response(result: &Value) -> Response {
    #[derive(serde::Serialize)]
    struct Answer<'a> {
        ok: bool,
        result: &'a Value,
    }
    match serde_json::to_vec(&Answer { ok: true, result }) {
        Ok(body) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response(),
        Err(e) => json_response(500, &ApiErr::new(500, format!("cannot serialize the result: {e}")).body()),
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body.clone())).into_response()
}

fn reason(code: u16) -> &'static str {
    StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()).unwrap_or("Internal Server Error")
}

fn nginx_page(code: u16) -> String {
    let title = format!("{code} {}", reason(code));
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// The largest request body read (the per-file limits are checked after reading).
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

type ReadParams = (Map<String, Value>, HashMap<String, FilePart>);

/// Reads the query string and a JSON, form or multipart body. Multipart parts with a
/// `filename` are files (as on the real server); the others are text parameters.
async fn read_params(req: Request) -> Result<ReadParams, ApiErr> {
    let mut params = Map::new();
    if let Some(q) = req.uri().query() {
        parse_urlencoded(q, &mut params);
    }
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let files = read_multipart(req, &mut params).await?;
        return Ok((params, files));
    }
    let (parts, body) = req.into_parts();
    drop(parts);
    let bytes: Bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| ApiErr::new(413, "Request Entity Too Large"))?;
    if bytes.is_empty() {
        return Ok((params, HashMap::new()));
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => params.extend(map),
            Ok(_) => return Err(bad("parameters must be a JSON object")),
            Err(e) => return Err(bad(format!("can't parse JSON encoded request: {e}"))),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        parse_urlencoded(&String::from_utf8_lossy(&bytes), &mut params);
    } else {
        return Err(bad(format!("unsupported Content-Type \"{content_type}\"")));
    }
    Ok((params, HashMap::new()))
}

async fn read_multipart(req: Request, params: &mut Map<String, Value>) -> Result<HashMap<String, FilePart>, ApiErr> {
    let multipart_error = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiErr::new(413, "Request Entity Too Large")
        } else {
            bad(format!("can't parse multipart/form-data request: {}", e.body_text()))
        }
    };
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| bad(e.body_text()))?;
    let mut files = HashMap::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let mime = field.content_type().map(str::to_string);
        let bytes = field.bytes().await.map_err(multipart_error)?;
        match file_name {
            Some(file_name) => {
                let index = files.len();
                files.insert(name, FilePart { index, file_name, mime, bytes });
            }
            None => {
                params.insert(name, Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    Ok(files)
}

/// The parameters as recorded in `Call.params`: the text ones, and a description of each
/// file part in place of its bytes.
fn recorded_params(mut params: Map<String, Value>, files: &HashMap<String, FilePart>) -> Value {
    for (name, part) in files {
        params.insert(name.clone(), json!({"upload": {"name": part.file_name, "size": part.bytes.len()}}));
    }
    Value::Object(params)
}

/// Notes the file parts of a request in `uploads()`, with the request's outcome.
fn note_uploads(shared: &Shared, method: &str, files: &HashMap<String, FilePart>, accepted: bool) {
    if files.is_empty() {
        return;
    }
    let mut parts: Vec<(&String, &FilePart)> = files.iter().collect();
    parts.sort_by_key(|(_, part)| part.index);
    let mut st = shared.lock();
    for (name, part) in parts {
        st.uploads.push(Upload {
            method: method.to_string(),
            part: name.clone(),
            file_name: part.file_name.clone(),
            mime: part.mime.clone(),
            size: part.bytes.len(),
            accepted,
        });
    }
}

async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request,
) -> Response {
    let path = req.uri().path().to_string();
    // A download of a path getFile handed out (clients encode its slashes: teloxide does).
    let decoded = percent_decode(&path);
    if let Some(file) = decoded.strip_prefix(&format!("/file/bot{TOKEN}/")) {
        let content = shared.lock().file_at(file);
        return match content {
            Some(bytes) => (StatusCode::OK, bytes).into_response(),
            None => json_response(404, &ApiErr::new(404, "Not Found").body()),
        };
    }
    let Some(rest) = path.trim_start_matches('/').strip_prefix("bot") else {
        return json_response(404, &ApiErr::new(404, "Not Found").body());
    };
    let Some((token, method)) = rest.split_once('/') else {
        return json_response(404, &ApiErr::new(404, "Not Found").body());
    };
    let method = canonical_method(method.trim_end_matches('/'));
    let (params, files) = match read_params(req).await {
        Ok(p) => p,
        Err(e) => {
            let guard = CallGuard::new(&shared, &method, Value::Null);
            guard.finish(e.code, Err(e.description.clone()), false);
            return json_response(e.code, &e.body());
        }
    };
    // The call's parameters go into its record once it is answered (moved, not copied:
    // a reply's text is the bulk of a request). Only a long poll can be cancelled while it
    // waits, so only its (small) parameters are recorded up front.
    let mut guard = CallGuard::new(&shared, &method, Value::Null);
    if token != TOKEN {
        guard.params = recorded_params(params, &files);
        let e = ApiErr::new(401, "Unauthorized");
        guard.finish(e.code, Err(e.description.clone()), false);
        return json_response(e.code, &e.body());
    }
    let lower = method.to_ascii_lowercase();

    let fault = shared.lock().faults.get_mut(&lower).and_then(VecDeque::pop_front);
    if let Some(fault) = fault {
        note_uploads(&shared, &method, &files, false);
        guard.params = recorded_params(params, &files);
        return match fault {
            Fault::RetryAfter(n) => {
                let e = ApiErr::too_many(n);
                guard.finish(e.code, Err(e.description.clone()), true);
                json_response(e.code, &e.body())
            }
            Fault::Forbidden => {
                let e = ApiErr::new(403, "Forbidden: bot is not a member of the channel chat");
                guard.finish(e.code, Err(e.description.clone()), true);
                json_response(e.code, &e.body())
            }
            Fault::ServerError(code) => {
                let code = if (500..600).contains(&code) { code } else { 500 };
                let description = reason(code).to_string();
                guard.finish(code, Err(description.clone()), true);
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
                if matches!(code, 502..=504) {
                    let mut resp = (status, nginx_page(code)).into_response();
                    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                    resp
                } else {
                    json_response(code, &ApiErr::new(code, description).body())
                }
            }
            Fault::Drop => {
                guard.finish(0, Err("connection dropped".to_string()), true);
                conn.kill();
                // hyper fails to write this response and closes the connection
                StatusCode::OK.into_response()
            }
        };
    }

    let params = Params(params, files);
    let outcome = if lower == "getupdates" {
        // Recorded before the wait: a long poll may be cancelled while it waits.
        guard.params = Value::Object(params.0.clone());
        get_updates(&shared, &params).await
    } else {
        let outcome = shared.lock().dispatch(&lower, &params);
        if lower.ends_with("webhook") {
            shared.deliver.notify_one();
        }
        note_uploads(&shared, &method, &params.1, outcome.is_ok());
        guard.params = recorded_params(params.0, &params.1);
        outcome
    };
    match outcome {
        Ok(result) => {
            let response = ok_response(&result);
            guard.finish(200, Ok(result), false);
            response
        }
        Err(e) => {
            guard.finish(e.code, Err(e.description.clone()), false);
            json_response(e.code, &e.body())
        }
    }
}

// ---------------------------------------------------------------------------------------
// A listener whose connections can be killed from a handler (for `Fault::Drop`).

struct KillableListener(TcpListener);

#[derive(Clone, Debug)]
struct ConnHandle {
    killed: Arc<AtomicBool>,
}

impl ConnHandle {
    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl KillableStream {
    fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection dropped by an injected fault")
}

impl Drop for KillableStream {
    fn drop(&mut self) {
        if self.killed() {
            // RST instead of FIN: the client sees a reset connection at once.
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let killed = Arc::new(AtomicBool::new(false));
                    let handle = ConnHandle { killed: killed.clone() };
                    return (KillableStream { inner: stream, killed }, handle);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr().map(|_| ConnHandle { killed: Arc::new(AtomicBool::new(false)) })
    }
}
