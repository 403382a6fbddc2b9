//! Webhooks: `setWebhook` (checked as Telegram checks it), `deleteWebhook`,
//! `getWebhookInfo`, and the delivery of queued updates by POST, one update per request,
//! with `X-Telegram-Bot-Api-Secret-Token`, at most `max_connections` at once and one at a
//! time per chat, a non-2xx answer or a failed connection retried after a growing pause.
//!
//! A webhook URL is `https://`; the fake speaks no TLS. A test stands in for the reverse
//! proxy with [`FakeTelegram::proxy`](super::FakeTelegram::proxy): requests to a public
//! origin go to a local `http://` address, the path kept (what Caddy does). A URL whose
//! origin has no proxy fails as an unresolvable host does.
//!
//! Shorter than Telegram's: the pauses between retries (50 ms doubling up to 1 s, so tests
//! wait little). Not emulated: the 24-hour limit on undelivered updates, certificates,
//! `ip_address`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{ApiErr, ApiResult, Params, Shared, State, bad};
use crate::updates::now as unix_now;
use crate::{Delivery, WEBHOOK_SECRET_HEADER as SECRET_HEADER};

/// Ports Telegram calls webhooks on.
const PORTS: &[u16] = &[443, 80, 88, 8443];

/// How far into the queue a delivery looks for updates to send.
const SCAN: usize = 1000;

/// A webhook set with `setWebhook`.
pub(super) struct Hook {
    url: String,
    secret: Option<String>,
    max_connections: usize,
    /// Update ids being delivered, and the chats they belong to.
    inflight: HashSet<i64>,
    busy: HashSet<String>,
    last_error: Option<(i64, String)>,
    /// No delivery before this (after a failure).
    retry_at: Option<Instant>,
    failures: u32,
}

/// The webhook side of the fake's state.
#[derive(Default)]
pub(super) struct Webhooks {
    pub(super) hook: Option<Hook>,
    /// Public origin (`https://bot.example.org`) → local base (`http://127.0.0.1:8080`).
    pub(super) proxies: HashMap<String, String>,
    pub(super) deliveries: Vec<Delivery>,
}

impl Webhooks {
    pub(super) fn is_set(&self) -> bool {
        self.hook.is_some()
    }
}

/// One update on its way: where to, with what.
struct Pick {
    update_id: i64,
    chat: String,
    body: Value,
    /// The local URL, or why there is none (as a failed connection reads).
    target: Result<String, String>,
    secret: Option<String>,
}

/// The origin of an absolute URL: `https://host[:port]`, lowercased.
fn origin(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let scheme = &url[..url.len() - rest.len()];
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    Some(format!("{scheme}{}", host.to_ascii_lowercase()))
}

/// The port of an `https://` URL (443 when it names none); `None` when it names a bad one.
fn port(url: &str) -> Option<u16> {
    let authority = url.strip_prefix("https://")?.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let after = match host.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(_, rest)| rest),
        None => host.find(':').map_or("", |i| &host[i..]),
    };
    match after.strip_prefix(':') {
        Some(p) => p.parse().ok(),
        None if after.is_empty() => Some(443),
        None => None,
    }
}

/// What a delivery is ordered by: the chat (or user) the update is about.
fn chat_key(update: &Value) -> String {
    let Some((kind, body)) = update.as_object().and_then(|o| o.iter().find(|(k, _)| k.as_str() != "update_id")) else {
        return String::new();
    };
    let id = body
        .pointer("/chat/id")
        .or_else(|| body.pointer("/message/chat/id"))
        .or_else(|| body.pointer("/from/id"))
        .or_else(|| body.pointer("/user/id"));
    match id {
        Some(id) => id.to_string(),
        None => kind.clone(),
    }
}

impl State {
    pub(super) fn set_webhook(&mut self, p: &Params) -> ApiResult<Value> {
        let url = p.str("url").unwrap_or_default();
        if url.is_empty() {
            return self.delete_webhook(p);
        }
        if !url.starts_with("https://") {
            return Err(bad("bad webhook: An HTTPS URL must be provided for webhook"));
        }
        match port(&url) {
            Some(port) if PORTS.contains(&port) => {}
            _ => return Err(bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")),
        }
        let secret = p.str("secret_token").filter(|s| !s.is_empty());
        if let Some(s) = &secret
            && (s.len() > 256 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            return Err(bad("bad webhook: secret token contains unallowed characters"));
        }
        let max_connections = match p.i64("max_connections")? {
            None => 40,
            Some(n) if (1..=100).contains(&n) => n as usize,
            Some(_) => return Err(bad("bad webhook: max_connections must be between 1 and 100")),
        };
        if let Some(list) = p.json("allowed_updates")? {
            let Some(list) = list.as_array() else {
                return Err(bad("can't parse allowed_updates JSON object"));
            };
            self.allowed_updates = Some(list.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
        }
        if p.bool("drop_pending_updates") {
            self.queue.clear();
        }
        let same = self.webhooks.hook.as_ref().is_some_and(|h| h.url == url);
        let hook = match self.webhooks.hook.take() {
            Some(mut h) if same => {
                h.secret = secret;
                h.max_connections = max_connections;
                h
            }
            _ => Hook {
                url,
                secret,
                max_connections,
                inflight: HashSet::new(),
                busy: HashSet::new(),
                last_error: None,
                retry_at: None,
                failures: 0,
            },
        };
        self.webhooks.hook = Some(hook);
        Ok(json!(true))
    }

    pub(super) fn delete_webhook(&mut self, p: &Params) -> ApiResult<Value> {
        self.webhooks.hook = None;
        if p.bool("drop_pending_updates") {
            self.queue.clear();
        }
        Ok(json!(true))
    }

    pub(super) fn webhook_info(&mut self) -> Value {
        let pending = self.deliverable(usize::MAX).len();
        let Some(h) = &self.webhooks.hook else {
            return json!({"url": "", "has_custom_certificate": false, "pending_update_count": pending});
        };
        let mut info = json!({
            "url": h.url,
            "has_custom_certificate": false,
            "pending_update_count": pending,
            "max_connections": h.max_connections,
        });
        if let Some((date, message)) = &h.last_error {
            info["last_error_date"] = json!(date);
            info["last_error_message"] = json!(message);
        }
        if let Some(allowed) = &self.allowed_updates {
            info["allowed_updates"] = json!(allowed);
        }
        info
    }

    /// The updates to send now, and how long to wait when none may go yet.
    fn picks(&mut self) -> (Vec<Pick>, Option<Duration>) {
        if self.webhooks.hook.is_none() {
            return (Vec::new(), None);
        }
        // Scanned from the front, where the picks are, and only as far as they go (a burst
        // queues thousands); kinds not allowed that the scan meets leave the queue.
        let mut refused = Vec::new();
        let allowed = self.allowed_updates.as_ref().filter(|a| !a.is_empty());
        let queue = &self.queue;
        let proxies = &self.webhooks.proxies;
        let Some(hook) = self.webhooks.hook.as_mut() else {
            return (Vec::new(), None);
        };
        if let Some(at) = hook.retry_at {
            let now = Instant::now();
            if now < at {
                return (Vec::new(), Some(at - now));
            }
        }
        let target = match origin(&hook.url).and_then(|o| proxies.get(&o).map(|local| (o, local))) {
            Some((o, local)) => Ok(format!("{}{}", local.trim_end_matches('/'), &hook.url[o.len()..])),
            None => Err("Failed to resolve host: Name or service not known".to_string()),
        };
        let mut picks = Vec::new();
        for (i, update) in queue.iter().enumerate().take(SCAN) {
            if hook.inflight.len() >= hook.max_connections {
                break;
            }
            let update_id = update["update_id"].as_i64().unwrap_or(0);
            if hook.inflight.contains(&update_id) {
                continue;
            }
            if !super::allows(allowed, update) {
                refused.push(i);
                continue;
            }
            let chat = chat_key(update);
            if hook.busy.contains(&chat) {
                continue;
            }
            hook.inflight.insert(update_id);
            hook.busy.insert(chat.clone());
            let body = update.clone();
            picks.push(Pick { update_id, chat, body, target: target.clone(), secret: hook.secret.clone() });
        }
        self.inflight += picks.len();
        for i in refused.into_iter().rev() {
            if let Some(u) = self.queue.remove(i) {
                self.filtered_updates.push(u);
            }
        }
        (picks, None)
    }

    /// A delivery ended: the update leaves the queue when it was taken (2xx).
    fn delivered(&mut self, pick: &Pick, outcome: Result<u16, (Option<u16>, String)>) {
        self.inflight = self.inflight.saturating_sub(1);
        self.last_activity = Some(Instant::now());
        if let Some(hook) = self.webhooks.hook.as_mut() {
            hook.inflight.remove(&pick.update_id);
            hook.busy.remove(&pick.chat);
            match &outcome {
                Ok(_) => {
                    hook.failures = 0;
                    hook.retry_at = None;
                }
                Err((_, message)) => {
                    hook.last_error = Some((unix_now(), message.clone()));
                    let pause = Duration::from_millis(50u64 << hook.failures.min(5)).min(Duration::from_secs(1));
                    hook.failures = hook.failures.saturating_add(1);
                    hook.retry_at = Some(Instant::now() + pause);
                }
            }
        }
        if outcome.is_ok()
            && let Some(at) = self.queue.iter().position(|u| u["update_id"].as_i64() == Some(pick.update_id))
        {
            self.queue.remove(at);
        }
        let (status, error) = match outcome {
            Ok(status) => (Some(status), None),
            Err((status, message)) => (status, Some(message)),
        };
        self.webhooks.deliveries.push(Delivery { update_id: pick.update_id, status, error });
    }
}

/// POSTs one update; `Ok(status)` for a 2xx answer.
async fn send(client: &reqwest::Client, pick: &Pick) -> Result<u16, (Option<u16>, String)> {
    let target = pick.target.clone().map_err(|e| (None, e))?;
    let body = serde_json::to_vec(&pick.body).map_err(|e| (None, e.to_string()))?;
    let mut request = client.post(target).header("Content-Type", "application/json").body(body);
    if let Some(secret) = &pick.secret {
        request = request.header(SECRET_HEADER, secret);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
        Ok(response) => {
            let status = response.status();
            let reason = status.canonical_reason().unwrap_or("");
            Err((Some(status.as_u16()), format!("Wrong response from the webhook: {} {reason}", status.as_u16())))
        }
        Err(e) if e.is_timeout() => Err((None, "Read timeout expired".to_string())),
        Err(e) if e.is_connect() => Err((None, "Connection refused".to_string())),
        Err(e) => Err((None, format!("Connection failed: {e}"))),
    }
}

/// The delivery loop of one fake server, until it is dropped.
pub(super) async fn deliver(shared: Arc<Shared>) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fake telegram: no HTTP client for webhooks: {e}");
            return;
        }
    };
    let mut running = JoinSet::new();
    loop {
        let wake = shared.deliver.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        if shared.shutdown.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let (picks, wait) = shared.lock().picks();
        for pick in picks {
            let (client, shared) = (client.clone(), shared.clone());
            running.spawn(async move {
                let outcome = send(&client, &pick).await;
                shared.lock().delivered(&pick, outcome);
                shared.calls.notify_waiters();
                shared.deliver.notify_one();
            });
        }
        let wait = wait.unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            () = &mut wake => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// `getUpdates` while a webhook is set.
pub(super) fn conflict() -> ApiErr {
    ApiErr::new(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    )
}
