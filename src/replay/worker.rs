//! The delivery worker: one job at a time, in due order; wakes for the next
//! due job (or a nudge), never busy-polls; shares the bot's shutdown.
//!
//! Several processes may share a store (a bot and the CLI, or two bots by
//! mistake), so a worker delivers only while it holds the store's delivery
//! lease (`replay_lease`): it takes the lease when free or expired, renews it
//! from a heartbeat task, and gives it back when it stops. Every delivery write
//! (beginning a run, marking a part `sending` before its request, closing a
//! run) checks the lease in its own transaction, so a worker that lost the
//! lease sends nothing more, and the one that took it over finds every part
//! that may have gone out marked.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::jobs::{Begin, Holding, Part, Take};
use super::state::{PartState, RunState};
use super::{Clock, ReplaySettings, Sender, Sent};
use crate::i18n::{Lang, fill};
use crate::store::SharedArchive;

/// Telegram's cap on messages to one channel.
const CHANNEL_PER_MINUTE: usize = 20;
/// Tries for 5xx and network errors before a job fails.
const TRIES: u32 = 5;
/// 429s waited out for one part before giving up.
const MAX_RETRY_AFTER: u32 = 20;
/// How often the store is checked for jobs added by another process (the CLI).
const RESCAN: Duration = Duration::from_secs(2);
/// How long the delivery lease lasts unrenewed: how long the replays of a killed
/// worker (or a frozen one) wait before another process takes over. Long enough that
/// a live holder never loses it to a slow store: a renewal may wait out the store's
/// busy timeout (5 s, while the CLI writes) and fail, and the next still lands in
/// time. Short next to a schedule's minutes, so a takeover delays little.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often the holder renews the lease: a third of [`LEASE_TTL`], so two renewals
/// can be late or fail before it runs out.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How often a waiting worker tries the lease again (sooner when it is due to expire):
/// a holder that stopped cleanly released it, and is replaced within this.
const LEASE_RETRY: Duration = Duration::from_secs(2);

pub struct Worker<S> {
    /// Posts the parts and tells the admins.
    pub sender: S,
    pub archive: SharedArchive,
    pub settings: ReplaySettings,
    pub clock: Clock,
    /// Nudged when a command adds or cancels a job.
    pub wake: Arc<Notify>,
    /// Where the worker tells how far it has looked at the queue.
    pub passes: Arc<watch::Sender<Passes>>,
    pub stop: CancellationToken,
    /// Show link previews in replays.
    pub previews: bool,
}

/// How far the worker has got, for whoever must know it has done all it will do without
/// a new cause: `started` counts passes over the queue begun, `settled` is the number of
/// the last one that found nothing due and went to wait, and `waiting_until` is set while
/// a delivery waits on the clock (the channel cap, a 429's retry_after, a backoff).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Passes {
    pub started: u64,
    pub settled: u64,
    pub waiting_until: Option<DateTime<Utc>>,
    /// Tenures of the delivery lease that ended because another worker had it (not by a
    /// stop): what a test of a lost lease waits for, rather than for time to pass.
    pub leases_lost: u64,
    /// This worker holds the delivery lease now.
    pub holding: bool,
}

impl Passes {
    /// Waits until the worker has seen the queue and the clock as they are at this call and
    /// has nothing to do but wait: a pass begun after the call has settled (the worker is
    /// nudged to make one), or a delivery waits for a time still ahead on `clock`.
    pub async fn settle(passes: &watch::Sender<Passes>, wake: &Notify, clock: &Clock) {
        let mut seen = passes.subscribe();
        let after = seen.borrow_and_update().started;
        wake.notify_one();
        // A manual clock's moves can make a wait stale; the system clock needs no watching.
        let mut ticks = match clock {
            Clock::Manual(m) => Some(m.tick.subscribe()),
            Clock::System => None,
        };
        loop {
            let now = clock.now();
            let p = *seen.borrow_and_update();
            if p.settled > after || p.waiting_until.is_some_and(|t| t > now) {
                return;
            }
            tokio::select! {
                changed = seen.changed() => {
                    // The worker is gone: nothing more can be sent either.
                    if changed.is_err() {
                        return;
                    }
                }
                _ = async {
                    let moved = match &mut ticks {
                        Some(rx) => rx.changed().await.is_ok(),
                        None => false,
                    };
                    if !moved {
                        std::future::pending::<()>().await;
                    }
                } => {}
            }
        }
    }
}

/// Waits on the clock until `at`, saying so in `passes`; false when stopped first.
async fn wait_until(
    clock: &Clock,
    passes: &watch::Sender<Passes>,
    at: DateTime<Utc>,
    stop: &CancellationToken,
) -> bool {
    passes.send_modify(|p| p.waiting_until = Some(at));
    let waited = tokio::select! {
        _ = clock.sleep_until(at) => true,
        _ = stop.cancelled() => false,
    };
    passes.send_modify(|p| p.waiting_until = None);
    waited
}

/// Why a part could not be delivered.
enum SendError {
    Failed(String),
    /// Stopping, or the lease was lost: the part is left to whoever holds the lease next.
    Stopped,
}

/// A worker's tenure of the delivery lease.
struct Held {
    owner: String,
    /// Cancelled when the worker stops or loses the lease: everything the worker does
    /// while holding it waits on this instead of the worker's stop token.
    session: CancellationToken,
}

impl Held {
    /// A delivery write was refused: the lease is no longer ours.
    fn lost(&self) {
        if !self.session.is_cancelled() {
            tracing::warn!(owner = %self.owner, "the replay lease is no longer this worker's: delivery stops here");
            self.session.cancel();
        }
    }
}

/// A worker's name in the lease: its process and a random part, so two workers (in
/// two processes, or one process after a restart) never take each other's lease for
/// their own.
fn owner_id() -> String {
    format!("pid{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Renews the lease every [`HEARTBEAT`] until the session ends; ends it when the lease
/// turns out to be someone else's. A failed renewal (a busy store) is tried again at
/// the next beat: until the lease runs out, nobody can take it.
async fn heartbeat(archive: SharedArchive, owner: String, session: CancellationToken) {
    let mut beats = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    loop {
        tokio::select! {
            _ = beats.tick() => {}
            _ = session.cancelled() => return,
        }
        let who = owner.clone();
        match archive.try_call(move |a| a.renew_lease(&who, Utc::now(), LEASE_TTL)).await {
            Ok(true) => tracing::trace!(owner, "replay lease renewed"),
            Ok(false) => {
                tracing::warn!(owner, "the replay lease was taken over by another worker: delivery stops here");
                session.cancel();
                return;
            }
            Err(e) => tracing::warn!(owner, "cannot renew the replay lease (trying again): {e:#}"),
        }
    }
}

/// Sends to one channel at most 20 a minute (sliding window on the worker's clock).
struct Limiter {
    sent: VecDeque<DateTime<Utc>>,
}

impl Limiter {
    async fn acquire(&mut self, clock: &Clock, passes: &watch::Sender<Passes>, stop: &CancellationToken) -> bool {
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
            if !wait_until(clock, passes, oldest + chrono::Duration::seconds(60), stop).await {
                return false;
            }
        }
    }
}

impl<S: Sender> Worker<S> {
    /// Runs until the stop token is cancelled: waits for the delivery lease, delivers
    /// while holding it, and waits again if it is lost.
    pub async fn run(self) {
        let owner = owner_id();
        let mut limiter = Limiter { sent: VecDeque::new() };
        // The holder last reported as waited for, so the log says so once per holder.
        let mut waiting_for: Option<String> = None;
        while !self.stop.is_cancelled() {
            let who = owner.clone();
            let taken = self.archive.try_call(move |a| a.take_lease(&who, Utc::now(), LEASE_TTL)).await;
            let retry = match taken {
                Ok(Take::Taken { from, .. }) => {
                    match from {
                        Some(previous) => tracing::warn!(
                            owner,
                            previous,
                            "took over the replay lease: its holder stopped renewing it (killed?); this worker delivers now"
                        ),
                        None => tracing::info!(owner, "took the replay lease: this worker delivers replays"),
                    }
                    waiting_for = None;
                    self.hold(&owner, &mut limiter).await;
                    continue;
                }
                Ok(Take::Busy(lease)) => {
                    let left = (lease.expires_at - Utc::now()).to_std().unwrap_or_default();
                    if waiting_for.as_deref() != Some(lease.owner.as_str()) {
                        tracing::info!(
                            owner,
                            holder = lease.owner,
                            expires_in_ms = left.as_millis() as u64,
                            "another worker holds the replay lease and delivers: waiting until it stops or its lease expires"
                        );
                        waiting_for = Some(lease.owner);
                    }
                    left.clamp(Duration::from_millis(50), LEASE_RETRY)
                }
                Err(e) => {
                    tracing::error!("cannot take the replay lease: {e:#}");
                    LEASE_RETRY
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(retry) => {}
                _ = self.stop.cancelled() => {}
            }
        }
        tracing::debug!("replay worker stopped");
    }

    /// One tenure of the lease: a heartbeat renews it, interrupted runs are resumed,
    /// then due jobs delivered, until the worker stops (the lease is released) or the
    /// lease is lost.
    async fn hold(&self, owner: &str, limiter: &mut Limiter) {
        let held = Held { owner: owner.to_string(), session: self.stop.child_token() };
        self.passes.send_modify(|p| p.holding = true);
        let beat = tokio::spawn(heartbeat(self.archive.clone(), held.owner.clone(), held.session.clone()));
        if let Err(e) = self.recover(&held, limiter).await {
            tracing::error!("replay recovery failed: {e:#}");
        }
        self.deliver_due(&held, limiter).await;
        held.session.cancel();
        let _ = beat.await;
        let lost = !self.stop.is_cancelled();
        self.passes.send_modify(|p| {
            p.holding = false;
            p.leases_lost += u64::from(lost);
        });
        if self.stop.is_cancelled() {
            let who = held.owner.clone();
            match self.archive.try_call(move |a| a.release_lease(&who)).await {
                Ok(true) => tracing::info!(owner, "released the replay lease"),
                Ok(false) => tracing::debug!(owner, "the replay lease was no longer ours to release"),
                Err(e) => tracing::warn!(owner, "cannot release the replay lease (it expires by itself): {e:#}"),
            }
        }
    }

    /// Due jobs, one at a time, while the lease is held.
    async fn deliver_due(&self, held: &Held, limiter: &mut Limiter) {
        let session = &held.session;
        while !session.is_cancelled() {
            let mut pass = 0;
            self.passes.send_modify(|p| {
                p.started += 1;
                pass = p.started;
            });
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
                    if let Err(e) = self.handle(held, job, limiter).await {
                        tracing::error!("replay failed: {e:#}");
                        self.pause(session).await;
                    }
                }
                other => {
                    self.passes.send_modify(|p| p.settled = pass);
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
                        _ = session.cancelled() => {}
                    }
                }
            }
        }
    }

    /// A short pause after an unexpected error, so a broken store does not spin.
    async fn pause(&self, session: &CancellationToken) {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = session.cancelled() => {}
        }
    }

    /// Runs interrupted by a crash, a shutdown, or a lost lease (this process's or
    /// another's, whose lease this worker took over): parts found `sending` have an
    /// unknown fate and are reported, never resent; the parts after them are delivered.
    async fn recover(&self, held: &Held, limiter: &mut Limiter) -> anyhow::Result<()> {
        let open = self.archive.try_call(|a| a.open_runs()).await?;
        for run_id in open {
            if held.session.is_cancelled() {
                break;
            }
            tracing::warn!(run = run_id, "resuming an interrupted replay");
            self.deliver(held, run_id, limiter).await?;
        }
        Ok(())
    }

    #[tracing::instrument(name = "replay", skip_all, fields(job = job.id, target = %job.target.to_db()))]
    async fn handle(&self, held: &Held, job: super::jobs::Job, limiter: &mut Limiter) -> anyhow::Result<()> {
        let settings = self.settings.clone();
        let now = self.clock.now();
        let job_id = job.id;
        let owner = held.owner.clone();
        let begin =
            self.archive.try_call(move |a| a.begin_run_held(&Holding::now(&owner), &job, &settings, now)).await?;
        match begin {
            Begin::Run { run_id, missing, title } => {
                self.deliver(held, run_id, limiter).await?;
                if !missing.is_empty() {
                    let files = missing.join(", ");
                    tracing::warn!(job = job_id, files, "replayed without its media: they cannot be sent");
                    self.tell_admins(Alert::MediaMissing { job: job_id, title, files }).await;
                }
                Ok(())
            }
            Begin::NotHolder => {
                held.lost();
                Ok(())
            }
            Begin::Missed { job_id } => {
                metrics::counter!("postkeeper_replay_runs_total", "outcome" => "missed").increment(1);
                tracing::warn!(job = job_id, "replay missed: due too long ago");
                Ok(())
            }
            Begin::Failed { job_id, reason } => {
                metrics::counter!("postkeeper_replay_runs_total", "outcome" => "failed").increment(1);
                tracing::warn!(job = job_id, reason, "replay failed");
                self.tell_admins(Alert::JobFailed { job: job_id, reason }).await;
                Ok(())
            }
        }
        .map_err(|e: anyhow::Error| e.context(format!("job #{job_id}")))
    }

    /// Sends a run's parts in order, each marked before and after its request.
    async fn deliver(&self, held: &Held, run_id: i64, limiter: &mut Limiter) -> anyhow::Result<()> {
        let (run, parts) = self
            .archive
            .try_call(move |a| -> crate::store::Result<_> { Ok((a.run(run_id)?, a.run_parts(run_id)?)) })
            .await?;
        let Some(run) = run else { return Ok(()) };
        let mut unknown = Vec::new();
        for part in parts {
            match part.state {
                PartState::Sent => continue,
                PartState::Unknown => {
                    unknown.push(part.idx);
                    continue;
                }
                PartState::Sending => {
                    // Interrupted between marking and recording: it may or may not have arrived.
                    let owner = held.owner.clone();
                    let marked = self
                        .archive
                        .try_call(move |a| {
                            a.mark_part_held(&Holding::now(&owner), run_id, part.idx, PartState::Unknown)
                        })
                        .await?;
                    if !marked {
                        held.lost();
                        return Ok(());
                    }
                    unknown.push(part.idx);
                    continue;
                }
                PartState::Pending => {}
            }
            match self.send_part(held, run_id, &part, limiter).await {
                Ok(message_id) => {
                    tracing::info!(job = run.job_id, run = run_id, part = part.idx, message_id, "replay part sent");
                }
                Err(SendError::Stopped) => return Ok(()),
                Err(SendError::Failed(reason)) => {
                    if !self.finish(held, run_id, RunState::Failed, Some(reason.clone())).await? {
                        return Ok(());
                    }
                    let title = run.title.clone().unwrap_or_default();
                    self.tell_admins(Alert::RunFailed { job: run.job_id, title, chat: run.chat.clone(), reason }).await;
                    return Ok(());
                }
            }
        }
        if unknown.is_empty() {
            self.finish(held, run_id, RunState::Sent, None).await?;
        } else {
            let parts: Vec<String> = unknown.iter().map(|i| (i + 1).to_string()).collect();
            let reason = format!("part {} may not have arrived (interrupted); not resent", parts.join(", "));
            if !self.finish(held, run_id, RunState::Uncertain, Some(reason)).await? {
                return Ok(());
            }
            let title = run.title.clone().unwrap_or_default();
            let parts = parts.join(", ");
            self.tell_admins(Alert::RunUncertain { job: run.job_id, title, chat: run.chat.clone(), parts }).await;
        }
        Ok(())
    }

    /// Closes a run while holding the lease; false when the lease was lost (the run is
    /// left open for the new holder to resume).
    async fn finish(&self, held: &Held, run_id: i64, state: RunState, reason: Option<String>) -> anyhow::Result<bool> {
        let now = self.clock.now();
        metrics::counter!("postkeeper_replay_runs_total", "outcome" => format!("{state:?}").to_lowercase())
            .increment(1);
        let owner = held.owner.clone();
        let done = self
            .archive
            .try_call(move |a| a.finish_run_held(&Holding::now(&owner), run_id, state, reason.as_deref(), now))
            .await?;
        if !done {
            held.lost();
        }
        Ok(done)
    }

    /// Sends one part. It is marked `sending` (only while the lease is held: the check
    /// before each request) and then `sent` with its message id, or back to `pending`
    /// when the request surely failed; those marks record what the request did, so
    /// they land even if the lease was lost meanwhile.
    async fn send_part(&self, held: &Held, run_id: i64, part: &Part, limiter: &mut Limiter) -> Result<i64, SendError> {
        let idx = part.idx;
        let session = &held.session;
        let mut failures = 0;
        let mut waits = 0;
        let db = |state: PartState, message_id: Option<i64>| {
            let archive = self.archive.clone();
            async move {
                archive
                    .try_call(move |a| a.mark_part(run_id, idx, state, message_id))
                    .await
                    .map_err(|e| SendError::Failed(format!("store: {e:#}")))
            }
        };
        loop {
            // An album counts as many messages as it has items against the channel's cap.
            for _ in 0..part.messages() {
                if !limiter.acquire(&self.clock, &self.passes, session).await {
                    return Err(SendError::Stopped);
                }
            }
            let owner = held.owner.clone();
            let marked = self
                .archive
                .try_call(move |a| a.mark_part_held(&Holding::now(&owner), run_id, idx, PartState::Sending))
                .await
                .map_err(|e| SendError::Failed(format!("store: {e:#}")))?;
            if !marked {
                held.lost();
                return Err(SendError::Stopped);
            }
            let sent = if part.media.is_empty() {
                self.sender.post(&self.settings.chat, &part.html, self.previews).await
            } else {
                self.sender.post_media(&self.settings.chat, &part.media, &part.html).await
            };
            let wait = match sent {
                Sent::Done { message_id } => {
                    db(PartState::Sent, Some(message_id)).await?;
                    return Ok(message_id);
                }
                Sent::RetryAfter(after) if waits < MAX_RETRY_AFTER => {
                    waits += 1;
                    db(PartState::Pending, None).await?;
                    tracing::warn!(seconds = after.as_secs(), "429 on a replay: waiting");
                    after
                }
                Sent::RetryAfter(after) => {
                    db(PartState::Pending, None).await?;
                    return Err(SendError::Failed(format!(
                        "{MAX_RETRY_AFTER} times 429 Too Many Requests, last: retry after {}s",
                        after.as_secs()
                    )));
                }
                Sent::Transient(e) => {
                    failures += 1;
                    db(PartState::Pending, None).await?;
                    if failures >= TRIES {
                        return Err(SendError::Failed(format!("{TRIES} tries failed, last: {e}")));
                    }
                    tracing::warn!(failures, "replay send failed, retrying: {e}");
                    Duration::from_secs(1 << failures)
                }
                Sent::Refused(e) => {
                    db(PartState::Pending, None).await?;
                    return Err(SendError::Failed(e));
                }
            };
            let at = self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
            if !wait_until(&self.clock, &self.passes, at, session).await {
                return Err(SendError::Stopped);
            }
        }
    }

    /// A direct message to every admin, in the language each last wrote to the bot in
    /// (Russian when unknown); failures (an admin who never started the bot) are logged.
    async fn tell_admins(&self, alert: Alert) {
        for &admin in &self.settings.admins {
            let lang = match self.archive.try_call(move |a| a.user_lang(admin)).await {
                Ok(lang) => lang.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(admin, "cannot read an admin's language: {e:#}");
                    Lang::default()
                }
            };
            if let Err(e) = self.sender.tell(admin, &alert.html(lang)).await {
                tracing::warn!(admin, "cannot notify an admin: {e}");
            }
        }
    }
}

/// What the admins are told about a replay.
enum Alert {
    JobFailed { job: i64, reason: String },
    RunFailed { job: i64, title: String, chat: String, reason: String },
    RunUncertain { job: i64, title: String, chat: String, parts: String },
    MediaMissing { job: i64, title: String, files: String },
}

impl Alert {
    fn html(&self, lang: Lang) -> String {
        let t = lang.texts();
        let e = crate::render::html::escape;
        match self {
            Alert::JobFailed { job, reason } => {
                fill(t.alert_job_failed, &[("job", &job.to_string()), ("reason", &e(reason))])
            }
            Alert::RunFailed { job, title, chat, reason } => fill(
                t.alert_run_failed,
                &[("job", &job.to_string()), ("title", &e(title)), ("chat", &e(chat)), ("reason", &e(reason))],
            ),
            Alert::MediaMissing { job, title, files } => {
                fill(t.alert_media_missing, &[("job", &job.to_string()), ("title", &e(title)), ("files", &e(files))])
            }
            Alert::RunUncertain { job, title, chat, parts } => fill(
                t.alert_run_uncertain,
                &[("job", &job.to_string()), ("title", &e(title)), ("chat", &e(chat)), ("parts", &e(parts))],
            ),
        }
    }
}
