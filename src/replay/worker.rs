//! The delivery worker: one job at a time, in due order; wakes for the next
//! due job (or a nudge), never busy-polls; shares the bot's shutdown.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{LinkPreviewOptions, ParseMode, Recipient};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::jobs::Begin;
use super::{Clock, ReplaySettings};
use crate::bot::SharedArchive;
use crate::config::ChatRef;

/// Telegram's cap on messages to one channel.
const CHANNEL_PER_MINUTE: usize = 20;
/// Tries for 5xx and network errors before a job fails.
const TRIES: u32 = 5;
/// 429s waited out for one part before giving up.
const MAX_RETRY_AFTER: u32 = 20;
/// How often the store is checked for jobs added by another process (the CLI).
const RESCAN: Duration = Duration::from_secs(2);

pub struct Worker {
    pub bot: Bot,
    pub archive: SharedArchive,
    pub settings: ReplaySettings,
    pub clock: Clock,
    /// Nudged when a command adds or cancels a job.
    pub wake: Arc<Notify>,
    pub stop: CancellationToken,
    /// Show link previews in replays.
    pub previews: bool,
}

/// Why a part could not be delivered.
enum SendError {
    Failed(String),
    Stopped,
}

/// Sends to one channel at most 20 a minute (sliding window on the worker's clock).
struct Limiter {
    sent: VecDeque<DateTime<Utc>>,
}

impl Limiter {
    async fn acquire(&mut self, clock: &Clock, stop: &CancellationToken) -> bool {
        loop {
            let now = clock.now();
            while self.sent.front().is_some_and(|t| now - *t >= chrono::Duration::seconds(60)) {
                self.sent.pop_front();
            }
            if self.sent.len() < CHANNEL_PER_MINUTE {
                self.sent.push_back(now);
                return true;
            }
            let Some(oldest) = self.sent.front().copied() else { continue };
            tracing::debug!("channel cap reached: waiting");
            tokio::select! {
                _ = clock.sleep_until(oldest + chrono::Duration::seconds(60)) => {}
                _ = stop.cancelled() => return false,
            }
        }
    }
}

fn recipient(chat: &ChatRef) -> Recipient {
    match chat {
        ChatRef::Id(id) => Recipient::Id(ChatId(*id)),
        ChatRef::Username(u) => Recipient::ChannelUsername(format!("@{u}")),
    }
}

/// 5xx and network trouble: worth another try.
fn transient(e: &RequestError) -> bool {
    match e {
        RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. } => true,
        RequestError::Api(teloxide::ApiError::Unknown(s)) => {
            let s = s.to_ascii_lowercase();
            ["internal server error", "bad gateway", "service unavailable", "gateway timeout", "too many requests"]
                .iter()
                .any(|p| s.contains(p))
        }
        _ => false,
    }
}

impl Worker {
    /// Runs until the stop token is cancelled.
    pub async fn run(self) {
        let mut limiter = Limiter { sent: VecDeque::new() };
        if let Err(e) = self.recover(&mut limiter).await {
            tracing::error!("replay recovery failed: {e:#}");
        }
        while !self.stop.is_cancelled() {
            let next = match self.archive.try_call(|a| a.next_due_job()).await {
                Ok(job) => job,
                Err(e) => {
                    tracing::error!("cannot read the replay queue: {e:#}");
                    None
                }
            };
            let now = self.clock.now();
            match next {
                Some(job) if job.next_run.is_some_and(|t| t <= now) => {
                    if let Err(e) = self.handle(job, &mut limiter).await {
                        tracing::error!("replay failed: {e:#}");
                        self.pause().await;
                    }
                }
                other => {
                    let due = other.and_then(|j| j.next_run);
                    let clock = self.clock.clone();
                    tokio::select! {
                        _ = async move {
                            match due {
                                Some(at) => clock.sleep_until(at).await,
                                None => std::future::pending().await,
                            }
                        } => {}
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(RESCAN) => {}
                        _ = self.stop.cancelled() => {}
                    }
                }
            }
        }
        tracing::debug!("replay worker stopped");
    }

    /// A short pause after an unexpected error, so a broken store does not spin.
    async fn pause(&self) {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = self.stop.cancelled() => {}
        }
    }

    /// Runs interrupted by a crash: parts found `sending` have an unknown fate and
    /// are reported, never resent; the parts after them are delivered.
    async fn recover(&self, limiter: &mut Limiter) -> anyhow::Result<()> {
        let open = self.archive.try_call(|a| a.open_runs()).await?;
        for run_id in open {
            tracing::warn!(run = run_id, "resuming an interrupted replay");
            self.deliver(run_id, limiter).await?;
        }
        Ok(())
    }

    async fn handle(&self, job: super::jobs::Job, limiter: &mut Limiter) -> anyhow::Result<()> {
        let settings = self.settings.clone();
        let now = self.clock.now();
        let job_id = job.id;
        let begin = self.archive.try_call(move |a| a.begin_run(&job, &settings, now)).await?;
        match begin {
            Begin::Run { run_id } => self.deliver(run_id, limiter).await,
            // Only the lease-checked `begin_run_held` answers this.
            Begin::NotHolder => Ok(()),
            Begin::Missed { job_id } => {
                tracing::warn!(job = job_id, "replay missed: due too long ago");
                Ok(())
            }
            Begin::Failed { job_id, reason } => {
                tracing::warn!(job = job_id, reason, "replay failed");
                self.tell_admins(&format!("⚠️ Повтор по заданию #{job_id} не удался: {reason}")).await;
                Ok(())
            }
        }
        .map_err(|e: anyhow::Error| e.context(format!("job #{job_id}")))
    }

    /// Sends a run's parts in order, each marked before and after its request.
    async fn deliver(&self, run_id: i64, limiter: &mut Limiter) -> anyhow::Result<()> {
        let (run, parts) = self
            .archive
            .try_call(move |a| -> crate::store::Result<_> { Ok((a.run(run_id)?, a.run_parts(run_id)?)) })
            .await?;
        let Some(run) = run else { return Ok(()) };
        let mut unknown = Vec::new();
        for part in parts {
            match part.state.as_str() {
                "sent" => continue,
                "unknown" => {
                    unknown.push(part.idx);
                    continue;
                }
                "sending" => {
                    // Interrupted between marking and recording: it may or may not have arrived.
                    self.archive.try_call(move |a| a.mark_part(run_id, part.idx, "unknown", None)).await?;
                    unknown.push(part.idx);
                    continue;
                }
                _ => {}
            }
            match self.send_part(run_id, part.idx, &part.html, limiter).await {
                Ok(message_id) => {
                    tracing::info!(job = run.job_id, run = run_id, part = part.idx, message_id, "replay part sent");
                }
                Err(SendError::Stopped) => return Ok(()),
                Err(SendError::Failed(reason)) => {
                    let now = self.clock.now();
                    let r = reason.clone();
                    self.archive.try_call(move |a| a.finish_run(run_id, "failed", Some(&r), now)).await?;
                    let title = run.title.clone().unwrap_or_default();
                    self.tell_admins(&format!(
                        "⚠️ Повтор по заданию #{} («{title}») в {} не удался: {reason}",
                        run.job_id, run.chat
                    ))
                    .await;
                    return Ok(());
                }
            }
        }
        let now = self.clock.now();
        if unknown.is_empty() {
            self.archive.try_call(move |a| a.finish_run(run_id, "sent", None, now)).await?;
        } else {
            let parts: Vec<String> = unknown.iter().map(|i| (i + 1).to_string()).collect();
            let reason = format!("part {} may not have arrived (interrupted); not resent", parts.join(", "));
            let r = reason.clone();
            self.archive.try_call(move |a| a.finish_run(run_id, "uncertain", Some(&r), now)).await?;
            let title = run.title.clone().unwrap_or_default();
            self.tell_admins(&format!(
                "⚠️ Повтор по заданию #{} («{title}») в {} был прерван: неизвестно, дошла ли часть {}. Чтобы не задвоить, она не отправлена повторно — проверьте канал.",
                run.job_id,
                run.chat,
                parts.join(", ")
            ))
            .await;
        }
        Ok(())
    }

    async fn send_part(&self, run_id: i64, idx: i64, html: &str, limiter: &mut Limiter) -> Result<i64, SendError> {
        let mut failures = 0;
        let mut waits = 0;
        let db = |state: &'static str, message_id: Option<i64>| {
            let archive = self.archive.clone();
            async move {
                archive
                    .try_call(move |a| a.mark_part(run_id, idx, state, message_id))
                    .await
                    .map_err(|e| SendError::Failed(format!("store: {e:#}")))
            }
        };
        loop {
            if !limiter.acquire(&self.clock, &self.stop).await {
                return Err(SendError::Stopped);
            }
            db("sending", None).await?;
            let request = self
                .bot
                .send_message(recipient(&self.settings.chat), html.to_string())
                .parse_mode(ParseMode::Html)
                .link_preview_options(LinkPreviewOptions {
                    is_disabled: !self.previews,
                    url: None,
                    prefer_small_media: false,
                    prefer_large_media: false,
                    show_above_text: false,
                });
            let wait = match request.await {
                Ok(message) => {
                    let id = i64::from(message.id.0);
                    db("sent", Some(id)).await?;
                    return Ok(id);
                }
                Err(RequestError::RetryAfter(after)) if waits < MAX_RETRY_AFTER => {
                    waits += 1;
                    db("pending", None).await?;
                    tracing::warn!(seconds = after.seconds(), "429 on a replay: waiting");
                    after.duration()
                }
                Err(e) if transient(&e) => {
                    failures += 1;
                    db("pending", None).await?;
                    if failures >= TRIES {
                        return Err(SendError::Failed(format!("{TRIES} tries failed, last: {e}")));
                    }
                    tracing::warn!(failures, "replay send failed, retrying: {e}");
                    Duration::from_secs(1 << failures)
                }
                Err(e) => {
                    db("pending", None).await?;
                    return Err(SendError::Failed(e.to_string()));
                }
            };
            tokio::select! {
                _ = self.clock.sleep(wait) => {}
                _ = self.stop.cancelled() => return Err(SendError::Stopped),
            }
        }
    }

    /// A direct message to every admin; failures (an admin who never started the bot) are logged.
    pub async fn tell_admins(&self, text: &str) {
        for &admin in &self.settings.admins {
            let sent = crate::bot::retry(|| {
                self.bot
                    .send_message(ChatId(admin), crate::render::html::escape(text))
                    .parse_mode(ParseMode::Html)
                    .send()
            })
            .await;
            if let Err(e) = sent {
                tracing::warn!(admin, "cannot notify an admin: {e}");
            }
        }
    }
}
