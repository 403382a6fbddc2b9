//! Scheduled replays of archived posts into a channel, delivered exactly
//! once: jobs and runs live in SQLite; every part of a run is marked before
//! and after its request, so a restart resumes without losing or doubling.
//! One worker delivers at a time, under a lease kept in the store, even when
//! several processes share it (see `worker`).

pub mod commands;
pub mod jobs;
pub mod state;
pub mod when;
pub mod worker;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::watch;

use crate::config::{ChatRef, Config};
use crate::model::Media;

/// What became of one request to post a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// It arrived, as this message.
    Done { message_id: i64 },
    /// `429 Too Many Requests`: not sent; may be sent again after this long.
    RetryAfter(Duration),
    /// 5xx or the network: most likely not sent; worth another try later.
    Transient(String),
    /// Refused for good (no right to post, a bad request).
    Refused(String),
}

/// How replays reach Telegram. The bot's shell implements it; the delivery logic here
/// (marks before and after each request, retries, the channel's cap, the lease) knows
/// nothing of Telegram and is tested through the shell against the fake server.
pub trait Sender: Send + Sync + 'static {
    /// One request posting `html` in `chat`, no retries (the worker decides what to do).
    fn post(&self, chat: &ChatRef, html: &str, previews: bool) -> impl Future<Output = Sent> + Send;
    /// One request posting one file, or one album of 2..=10 items, with `caption` (HTML,
    /// may be empty) on the first; `Done` carries the first message's id.
    fn post_media(&self, chat: &ChatRef, media: &[Media], caption: &str) -> impl Future<Output = Sent> + Send;
    /// A direct message to a user (an admin alert), 429s waited out; the error says why not.
    fn tell(&self, user: i64, html: &str) -> impl Future<Output = Result<(), String>> + Send;
}

/// What a job replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Post(i64),
    /// The least recently replayed post (ties broken at random), chosen at each run.
    Random,
    /// The oldest post never replayed: walks the archive in order.
    Next,
    /// The post with the most reactions not replayed in the last [`BEST_REST_DAYS`] days:
    /// brings a channel's best posts back.
    Best,
}

/// Days a post replayed as `best` rests before it may be chosen again.
pub const BEST_REST_DAYS: i64 = 90;

impl Target {
    pub fn parse(s: &str) -> Option<Target> {
        match s.trim().to_lowercase().as_str() {
            "random" | "случайный" => Some(Target::Random),
            "next" | "следующий" => Some(Target::Next),
            "best" | "top" | "лучший" => Some(Target::Best),
            other => other.trim_start_matches('#').parse().ok().filter(|id| *id > 0).map(Target::Post),
        }
    }

    pub fn to_db(self) -> String {
        match self {
            Target::Post(id) => id.to_string(),
            Target::Random => "random".into(),
            Target::Next => "next".into(),
            Target::Best => "best".into(),
        }
    }
}

/// Where and how replays go.
#[derive(Debug, Clone)]
pub struct ReplaySettings {
    pub chat: ChatRef,
    pub admins: Vec<i64>,
    pub tz: Tz,
    pub header: Option<String>,
    pub grace: Duration,
    /// Where the posts' media files are (a replay sends them, or says they are missing).
    pub media_dir: std::path::PathBuf,
}

impl ReplaySettings {
    /// `None` when no replay chat is configured.
    pub fn from_config(config: &Config) -> Option<ReplaySettings> {
        Some(ReplaySettings {
            chat: config.replay_chat.clone()?,
            admins: config.admins.clone(),
            tz: config.timezone,
            header: config.replay_header.clone(),
            grace: config.replay_grace,
            media_dir: config.media_dir.clone(),
        })
    }
}

/// The time the worker lives in: the system clock, or a manual one tests move.
#[derive(Clone)]
pub enum Clock {
    System,
    Manual(Arc<ManualClock>),
}

pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    tick: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += chrono::Duration::from_std(by).unwrap_or_default();
        self.tick.send_replace(*now);
    }
}

impl Clock {
    pub fn manual(start: DateTime<Utc>) -> (Clock, Arc<ManualClock>) {
        let (tick, _) = watch::channel(start);
        let manual = Arc::new(ManualClock { now: Mutex::new(start), tick });
        (Clock::Manual(manual.clone()), manual)
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(m) => *m.now.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Sleeps until `at` on this clock.
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        match self {
            Clock::System => {
                let wait = (at - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
            }
            Clock::Manual(m) => {
                let mut rx = m.tick.subscribe();
                while *rx.borrow_and_update() < at {
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    pub async fn sleep(&self, d: Duration) {
        let at = self.now() + chrono::Duration::from_std(d).unwrap_or_default();
        self.sleep_until(at).await;
    }
}
