//! The replay tables: jobs, runs, parts, history, and the delivery lease. Every
//! state change of a delivery is committed before the next request goes out; the
//! worker's changes land only while it holds the lease (the `_held` methods).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::state::{JobState, PartState, RunState};
use super::when::Schedule;
use super::{ReplaySettings, Target};
use crate::i18n::Lang;
use crate::model::Media;
use crate::model::{Post, from_unix};
use crate::render::media::{Outgoing, post_outgoing};
use crate::store::sendable;
use crate::store::{Archive, Result, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub target: Target,
    pub schedule: Schedule,
    pub next_run: Option<DateTime<Utc>>,
    pub state: JobState,
    pub created_at: DateTime<Utc>,
}

/// One delivery (or missed occurrence) of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: i64,
    pub job_id: i64,
    pub due: DateTime<Utc>,
    pub post_id: Option<i64>,
    pub title: Option<String>,
    pub chat: String,
    pub state: RunState,
    pub reason: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub idx: i64,
    /// A text message, or the caption of `media`.
    pub html: String,
    pub state: PartState,
    pub message_id: Option<i64>,
    /// One file or one album (one request); empty for a text message.
    pub media: Vec<Media>,
}

impl Part {
    /// How many messages the part is to Telegram's rate limits (each item of an album).
    pub fn messages(&self) -> usize {
        self.media.len().max(1)
    }
}

/// What starting a due job led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// A run with its parts is ready to deliver; `missing` names the post's media that
    /// cannot be sent (then the run sends the text alone, and the admins are told), `title`
    /// the post's, for telling them.
    Run { run_id: i64, missing: Vec<String>, title: String },
    /// Too late (beyond the grace period): recorded as missed.
    Missed { job_id: i64 },
    /// Nothing to send (the post is gone, the archive is empty).
    Failed { job_id: i64, reason: String },
    /// The worker no longer holds the delivery lease: nothing was written, the job is
    /// left to the holder (only [`Archive::begin_run_held`] answers this).
    NotHolder,
}

/// The one lease replay delivery runs under (a row of `replay_lease`).
const LEASE: &str = "delivery";

/// The delivery lease as the store has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub acquired_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What trying to take the delivery lease led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// The lease is ours until `expires_at`. `from` names the previous holder when its
    /// lease had run out unreleased (a takeover); `None` when it was free or already ours.
    Taken { expires_at: DateTime<Utc>, from: Option<String> },
    /// Another worker holds it and it has not expired.
    Busy(Lease),
}

/// The proof a delivery write asks for: `owner` holds the lease, unexpired at `at`
/// (system time). Checked in the write's own transaction, so a worker that lost the
/// lease can write nothing after another worker took it over.
#[derive(Debug, Clone)]
pub struct Holding {
    pub owner: String,
    pub at: DateTime<Utc>,
}

impl Holding {
    /// `owner`'s claim as of now (made where the write runs, so a call that waited for
    /// the store is not checked against an earlier time).
    pub fn now(owner: &str) -> Holding {
        Holding { owner: owner.to_string(), at: Utc::now() }
    }
}

/// Whether `holding` is true in the store (inside the caller's transaction).
fn holds(conn: &rusqlite::Connection, holding: &Holding) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM replay_lease WHERE name = ?1 AND owner = ?2 AND expires_at > ?3)",
    )?
    .query_row(params![LEASE, holding.owner, holding.at.timestamp_millis()], |r| r.get(0))
}

fn millis(ms: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt("lease time"))
}

fn lease_from_row(r: &Row<'_>) -> rusqlite::Result<Lease> {
    Ok(Lease {
        owner: r.get(0)?,
        acquired_at: millis(r.get(1)?)?,
        heartbeat_at: millis(r.get(2)?)?,
        expires_at: millis(r.get(3)?)?,
    })
}

fn ttl_millis(ttl: std::time::Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("bad {what}").into())
}

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    let target: String = r.get(1)?;
    let schedule: String = r.get(2)?;
    Ok(Job {
        id: r.get(0)?,
        target: Target::parse(&target).ok_or_else(|| corrupt("target"))?,
        schedule: Schedule::from_db(&schedule).ok_or_else(|| corrupt("schedule"))?,
        next_run: from_unix(r.get(3)?),
        state: r.get(4)?,
        created_at: from_unix(r.get(5)?).unwrap_or_default(),
    })
}

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<Run> {
    Ok(Run {
        id: r.get(0)?,
        job_id: r.get(1)?,
        due: from_unix(r.get(2)?).unwrap_or_default(),
        post_id: r.get(3)?,
        title: r.get(4)?,
        chat: r.get(5)?,
        state: r.get(6)?,
        reason: r.get(7)?,
        finished_at: from_unix(r.get(8)?),
    })
}

const JOB_COLUMNS: &str = "id, target, schedule, next_run, state, created_at";
const RUN_COLUMNS: &str = "id, job_id, due, post_id, title, chat, state, reason, finished_at";

/// How the admins are told which media item is missing: its file, or its kind.
fn missing_name(m: &Media) -> String {
    match (&m.file, m.missing) {
        (Some(file), false) => format!("{} (gone from the media folder)", file),
        _ => format!("{} ({})", m.file_name.as_deref().unwrap_or(m.kind.as_str()), "not in the export"),
    }
}

/// The header of a replay, with `{date}` replaced by the post's date (or dropped).
pub fn header_for(settings: &ReplaySettings, post: &Post) -> Option<String> {
    let header = settings.header.as_deref()?;
    let date = post.date.map(|d| Lang::Ru.date(d, settings.tz));
    let text = match date {
        Some(d) => header.replace("{date}", &d),
        None => header.replace(", {date}", "").replace(" {date}", "").replace("{date}", ""),
    };
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

impl Archive {
    pub fn create_job(
        &self,
        target: Target,
        schedule: &Schedule,
        first_run: DateTime<Utc>,
        created_by: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        Ok(self.conn().query_row(
            "INSERT INTO replay_jobs(target, schedule, next_run, state, created_by, created_at)
             VALUES (?1, ?2, ?3, 'active', ?4, ?5) RETURNING id",
            params![target.to_db(), schedule.to_db(), first_run.timestamp(), created_by, now.timestamp()],
            |r| r.get(0),
        )?)
    }

    pub fn job(&self, id: i64) -> Result<Option<Job>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {JOB_COLUMNS} FROM replay_jobs WHERE id = ?1"), [id], job_from_row)
            .optional()?)
    }

    /// Stops a job (a recurring one stops recurring). False when there is no such active job.
    pub fn cancel_job(&self, id: i64) -> Result<bool> {
        Ok(self.conn().execute(
            "UPDATE replay_jobs SET state = 'cancelled', next_run = NULL WHERE id = ?1 AND state = 'active'",
            [id],
        )? > 0)
    }

    /// Jobs still to run, soonest first.
    pub fn active_jobs(&self) -> Result<Vec<Job>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM replay_jobs WHERE state = 'active' ORDER BY next_run IS NULL, next_run, id"
        ))?;
        Ok(stmt.query_map([], job_from_row)?.collect::<rusqlite::Result<_>>()?)
    }

    /// The job due first (its `next_run` may be in the future).
    pub fn next_due_job(&self) -> Result<Option<Job>> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM replay_jobs WHERE state = 'active' AND next_run IS NOT NULL
                     ORDER BY next_run, id LIMIT 1"
                ),
                [],
                job_from_row,
            )
            .optional()?)
    }

    /// The latest outcomes, newest first.
    pub fn recent_runs(&self, limit: usize) -> Result<Vec<Run>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM replay_runs ORDER BY coalesce(finished_at, due) DESC, id DESC LIMIT ?1"
        ))?;
        Ok(stmt.query_map([limit as i64], run_from_row)?.collect::<rusqlite::Result<_>>()?)
    }

    pub fn run(&self, id: i64) -> Result<Option<Run>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {RUN_COLUMNS} FROM replay_runs WHERE id = ?1"), [id], run_from_row)
            .optional()?)
    }

    /// Runs whose delivery was interrupted (a crash, a shutdown mid-run).
    pub fn open_runs(&self) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare("SELECT id FROM replay_runs WHERE state = 'sending' ORDER BY id")?;
        Ok(stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
    }

    pub fn run_parts(&self, run_id: i64) -> Result<Vec<Part>> {
        let mut stmt = self.conn().prepare(
            "SELECT p.idx, p.html, p.state, p.message_id, m.media FROM replay_parts p
             LEFT JOIN replay_part_media m ON m.run_id = p.run_id AND m.idx = p.idx
             WHERE p.run_id = ?1 ORDER BY p.idx",
        )?;
        let rows = stmt.query_map([run_id], |r| {
            let media: Option<String> = r.get(4)?;
            let media = match media {
                None => Vec::new(),
                Some(json) => serde_json::from_str(&json).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
                })?,
            };
            Ok(Part { idx: r.get(0)?, html: r.get(1)?, state: r.get(2)?, message_id: r.get(3)?, media })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records a part's state (committed at once: this is what makes delivery exactly-once).
    pub fn mark_part(&self, run_id: i64, idx: i64, state: PartState, message_id: Option<i64>) -> Result<()> {
        self.conn().execute(
            "UPDATE replay_parts SET state = ?3, message_id = coalesce(?4, message_id) WHERE run_id = ?1 AND idx = ?2",
            params![run_id, idx, state, message_id],
        )?;
        Ok(())
    }

    /// The post a target means now.
    pub fn pick_post(&self, target: Target, now: DateTime<Utc>) -> Result<Option<Post>> {
        let id: Option<i64> = match target {
            Target::Post(id) => Some(id),
            Target::Random => self
                .conn()
                .query_row(
                    "SELECT p.id FROM posts p LEFT JOIN replay_history h ON h.post_id = p.id
                     ORDER BY coalesce(h.last_at, 0), random() LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?,
            Target::Next => self
                .conn()
                .query_row(
                    "SELECT p.id FROM posts p LEFT JOIN replay_history h ON h.post_id = p.id
                     ORDER BY h.last_at IS NOT NULL, coalesce(h.last_at, 0), p.date IS NOT NULL, p.date, p.channel_id, p.seq
                     LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?,
            // The readers' favourites (the index of posts with reactions), each resting
            // BEST_REST_DAYS after it went out; none when every liked post rests.
            Target::Best => self
                .conn()
                .query_row(
                    "SELECT p.id FROM posts p LEFT JOIN replay_history h ON h.post_id = p.id
                     WHERE p.reactions_total > 0 AND (h.last_at IS NULL OR h.last_at <= ?1)
                     ORDER BY p.reactions_total DESC, p.id DESC LIMIT 1",
                    [now.timestamp() - super::BEST_REST_DAYS * 86_400],
                    |r| r.get(0),
                )
                .optional()?,
        };
        match id {
            Some(id) => self.post(id),
            None => Ok(None),
        }
    }

    /// Starts the due occurrence of `job` for the worker holding the delivery lease:
    /// records it as missed (too late), failed (nothing to send) or as a run whose parts
    /// are fixed now, and moves the job on; nothing is written ([`Begin::NotHolder`])
    /// unless `holding` is true as the run begins.
    pub fn begin_run_held(
        &mut self,
        holding: &Holding,
        job: &Job,
        settings: &ReplaySettings,
        now: DateTime<Utc>,
    ) -> Result<Begin> {
        let due = job.next_run.ok_or_else(|| StoreError::Corrupt(format!("job #{} has no next run", job.id)))?;
        let next = job.schedule.next_after(due, now, settings.tz).map(|d| d.timestamp());
        let chat = settings.chat.to_string();
        let grace = chrono::Duration::from_std(settings.grace).unwrap_or(chrono::Duration::MAX);
        let late = now - due;
        let post = if late > grace { None } else { self.pick_post(job.target, now)? };
        let tx = self.conn_mut().transaction()?;
        if !holds(&tx, holding)? {
            return Ok(Begin::NotHolder);
        }
        // An occurrence that sends nothing: recorded as `state`; a one-off job ends with it,
        // a recurring one moves on to its next occurrence.
        let close_unsent = |state: RunState, job_state: JobState, reason: &str| -> rusqlite::Result<()> {
            tx.execute(
                "INSERT INTO replay_runs(job_id, due, chat, state, reason, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![job.id, due.timestamp(), chat, state, reason, now.timestamp()],
            )?;
            let job_state = if job.schedule.is_recurring() { JobState::Active } else { job_state };
            tx.execute(
                "UPDATE replay_jobs SET next_run = ?2, state = ?3 WHERE id = ?1",
                params![job.id, next, job_state],
            )?;
            Ok(())
        };
        let begin = if late > grace {
            close_unsent(RunState::Missed, JobState::Missed, &format!("{} min late", late.num_minutes()))?;
            Begin::Missed { job_id: job.id }
        } else if let Some(post) = post {
            let header = header_for(settings, &post);
            let dir = &settings.media_dir;
            let (parts, missing) =
                post_outgoing(&post, Lang::Ru, settings.tz, header.as_deref(), false, false, |m| sendable(dir, m));
            let missing: Vec<String> = missing.iter().map(missing_name).collect();
            if parts.is_empty() {
                let reason =
                    format!("post #{} has no text and its media cannot be sent: {}", post.id, missing.join(", "));
                close_unsent(RunState::Failed, JobState::Failed, &reason)?;
                tx.commit()?;
                return Ok(Begin::Failed { job_id: job.id, reason });
            }
            let run_id: i64 = tx.query_row(
                "INSERT INTO replay_runs(job_id, due, post_id, title, chat, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 RETURNING id",
                params![job.id, due.timestamp(), post.id, post.title, chat, RunState::Sending],
                |r| r.get(0),
            )?;
            for (i, part) in parts.iter().enumerate() {
                let (html, media) = match part {
                    Outgoing::Text(html) => (html, None),
                    Outgoing::Media { items, caption } => (caption, Some(items)),
                };
                tx.execute(
                    "INSERT INTO replay_parts(run_id, idx, html) VALUES (?1, ?2, ?3)",
                    params![run_id, i as i64, html],
                )?;
                if let Some(items) = media {
                    let json = serde_json::to_string(items).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    tx.execute(
                        "INSERT INTO replay_part_media(run_id, idx, media) VALUES (?1, ?2, ?3)",
                        params![run_id, i as i64, json],
                    )?;
                }
            }
            // A one-off job stays active (with no next run) until its run finishes.
            tx.execute("UPDATE replay_jobs SET next_run = ?2 WHERE id = ?1", params![job.id, next])?;
            Begin::Run { run_id, missing, title: post.title.clone() }
        } else {
            let reason = match job.target {
                Target::Post(id) => format!("post #{id} is not in the archive"),
                _ => "the archive is empty".to_string(),
            };
            close_unsent(RunState::Failed, JobState::Failed, &reason)?;
            Begin::Failed { job_id: job.id, reason }
        };
        tx.commit()?;
        Ok(begin)
    }

    /// Closes a run — `sent`, `uncertain` (a part's fate unknown) or `failed` — for the
    /// worker holding the delivery lease: false (nothing written) unless `holding` is
    /// true, so a worker that lost the lease cannot close a run the new holder resumes.
    pub fn finish_run_held(
        &mut self,
        holding: &Holding,
        run_id: i64,
        state: RunState,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let tx = self.conn_mut().transaction()?;
        if !holds(&tx, holding)? {
            return Ok(false);
        }
        let (job_id, post_id, due): (i64, Option<i64>, i64) =
            tx.query_row("SELECT job_id, post_id, due FROM replay_runs WHERE id = ?1", [run_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        if state == RunState::Sent {
            // How late a replay went out: due → its last part sent.
            metrics::histogram!("postkeeper_replay_delivery_lag_seconds").record((now.timestamp() - due).max(0) as f64);
        }
        tx.execute(
            "UPDATE replay_runs SET state = ?2, reason = ?3, finished_at = ?4 WHERE id = ?1",
            params![run_id, state, reason, now.timestamp()],
        )?;
        if state != RunState::Failed
            && let Some(post_id) = post_id
        {
            tx.execute(
                "INSERT INTO replay_history(post_id, last_at, times) VALUES (?1, ?2, 1)
                 ON CONFLICT(post_id) DO UPDATE SET last_at = excluded.last_at, times = times + 1",
                params![post_id, now.timestamp()],
            )?;
        }
        let job_state = if state == RunState::Failed { JobState::Failed } else { JobState::Done };
        tx.execute(
            "UPDATE replay_jobs SET state = ?2 WHERE id = ?1 AND state = ?3 AND next_run IS NULL",
            params![job_id, job_state, JobState::Active],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// [`Archive::mark_part`] by the worker holding the delivery lease: false (nothing
    /// written) unless `holding` is true. Marking a part `sending` this way is the check
    /// before each request: a worker that lost the lease sends nothing more, and the new
    /// holder finds every part the old one may have sent marked.
    pub fn mark_part_held(&mut self, holding: &Holding, run_id: i64, idx: i64, state: PartState) -> Result<bool> {
        let tx = self.conn_mut().transaction()?;
        if !holds(&tx, holding)? {
            return Ok(false);
        }
        tx.prepare_cached("UPDATE replay_parts SET state = ?3 WHERE run_id = ?1 AND idx = ?2")?
            .execute(params![run_id, idx, state])?;
        tx.commit()?;
        Ok(true)
    }

    /// Takes the delivery lease for `owner` until `now + ttl` when it is free, expired or
    /// already `owner`'s; otherwise reports the live holder. One write transaction (it
    /// begins IMMEDIATE, taking SQLite's write lock first), so of two processes trying at
    /// once exactly one gets it.
    pub fn take_lease(&mut self, owner: &str, now: DateTime<Utc>, ttl: std::time::Duration) -> Result<Take> {
        let now_ms = now.timestamp_millis();
        let expires_ms = now_ms.saturating_add(ttl_millis(ttl));
        let tx = self.conn_mut().transaction()?;
        let current = tx
            .query_row(
                "SELECT owner, acquired_at, heartbeat_at, expires_at FROM replay_lease WHERE name = ?1",
                [LEASE],
                lease_from_row,
            )
            .optional()?;
        let from = match current {
            Some(lease) if lease.owner != owner && lease.expires_at.timestamp_millis() > now_ms => {
                return Ok(Take::Busy(lease));
            }
            Some(lease) if lease.owner != owner => Some(lease.owner),
            _ => None,
        };
        tx.execute(
            "INSERT INTO replay_lease(name, owner, acquired_at, heartbeat_at, expires_at) VALUES (?1, ?2, ?3, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET
                acquired_at = CASE WHEN owner = excluded.owner THEN acquired_at ELSE excluded.acquired_at END,
                owner = excluded.owner, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at",
            params![LEASE, owner, now_ms, expires_ms],
        )?;
        tx.commit()?;
        Ok(Take::Taken { expires_at: millis(expires_ms)?, from })
    }

    /// The holder's heartbeat: moves its lease's expiry to `now + ttl`. False when the
    /// lease is no longer `owner`'s (another worker took it over, or it was released).
    /// A lease that ran out but that nobody took is renewed: every delivery write
    /// checks the lease in its own transaction, so no other worker acted meanwhile.
    pub fn renew_lease(&self, owner: &str, now: DateTime<Utc>, ttl: std::time::Duration) -> Result<bool> {
        let now_ms = now.timestamp_millis();
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE replay_lease SET heartbeat_at = ?3, expires_at = ?4 WHERE name = ?1 AND owner = ?2",
            )?
            .execute(params![LEASE, owner, now_ms, now_ms.saturating_add(ttl_millis(ttl))])?;
        Ok(changed > 0)
    }

    /// Gives the lease up (a clean stop), so another worker or a restart takes it at
    /// once instead of waiting for it to expire. False when it was not `owner`'s.
    pub fn release_lease(&self, owner: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM replay_lease WHERE name = ?1 AND owner = ?2", [LEASE, owner])? > 0)
    }

    /// The delivery lease, if any worker holds it (or held it and was killed).
    pub fn replay_lease(&self) -> Result<Option<Lease>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT owner, acquired_at, heartbeat_at, expires_at FROM replay_lease WHERE name = ?1",
                [LEASE],
                lease_from_row,
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;
    use crate::config::ChatRef;

    const TTL: Duration = Duration::from_secs(15);

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().expect("valid")
    }

    fn at(ms: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::milliseconds(ms)
    }

    fn holding(owner: &str, ms: i64) -> Holding {
        Holding { owner: owner.to_string(), at: at(ms) }
    }

    fn taken(from: Option<&str>, expires_ms: i64) -> Take {
        Take::Taken { expires_at: at(expires_ms), from: from.map(str::to_string) }
    }

    fn holder(take: Take) -> Option<String> {
        match take {
            Take::Busy(lease) => Some(lease.owner),
            Take::Taken { .. } => None,
        }
    }

    #[test]
    fn a_free_lease_is_taken_and_a_live_one_refused() -> Result<()> {
        let mut a = Archive::open_in_memory()?;
        assert_eq!(a.replay_lease()?, None);
        assert_eq!(a.take_lease("a", t0(), TTL)?, taken(None, 15_000));
        let lease = a.replay_lease()?.expect("held");
        assert_eq!((lease.owner.as_str(), lease.acquired_at, lease.heartbeat_at), ("a", t0(), t0()));
        // Live until its last millisecond, for anyone else.
        assert_eq!(holder(a.take_lease("b", at(14_999), TTL)?).as_deref(), Some("a"));
        assert_eq!(a.replay_lease()?.expect("held").owner, "a", "a refusal changes nothing");
        // Its holder taking it again is a renewal: the tenure keeps its start.
        assert_eq!(a.take_lease("a", at(3_000), TTL)?, taken(None, 18_000));
        assert_eq!(a.replay_lease()?.expect("held").acquired_at, t0());
        Ok(())
    }

    #[test]
    fn an_expired_lease_is_taken_over_and_its_old_holder_shut_out() -> Result<()> {
        let mut a = Archive::open_in_memory()?;
        a.take_lease("a", t0(), TTL)?;
        assert!(a.holds_for_test(&holding("a", 14_999))?);
        assert!(!a.holds_for_test(&holding("a", 15_000))?, "expired, even for its holder");
        assert_eq!(a.take_lease("b", at(15_000), TTL)?, taken(Some("a"), 30_000));
        let lease = a.replay_lease()?.expect("held");
        assert_eq!((lease.owner.as_str(), lease.acquired_at), ("b", at(15_000)));
        assert!(!a.renew_lease("a", at(15_001), TTL)?, "the old holder's heartbeat finds it gone");
        assert!(!a.holds_for_test(&holding("a", 15_001))?);
        assert!(a.holds_for_test(&holding("b", 15_001))?);
        assert_eq!(holder(a.take_lease("a", at(16_000), TTL)?).as_deref(), Some("b"));
        Ok(())
    }

    #[test]
    fn renewal_keeps_the_lease_live() -> Result<()> {
        let mut a = Archive::open_in_memory()?;
        a.take_lease("a", t0(), TTL)?;
        for beat in 1..=6 {
            assert!(a.renew_lease("a", at(beat * 5_000), TTL)?);
            assert_eq!(holder(a.take_lease("b", at(beat * 5_000 + 14_000), TTL)?).as_deref(), Some("a"));
        }
        let lease = a.replay_lease()?.expect("held");
        assert_eq!((lease.acquired_at, lease.heartbeat_at, lease.expires_at), (t0(), at(30_000), at(45_000)));
        assert!(!a.renew_lease("b", at(31_000), TTL)?, "only its holder renews it");
        // Run out, but nobody took it: its holder may renew it (nobody acted meanwhile).
        assert!(a.renew_lease("a", at(50_000), TTL)?);
        assert!(a.holds_for_test(&holding("a", 50_000))?);
        assert_eq!(a.take_lease("b", at(65_000), TTL)?, taken(Some("a"), 80_000));
        Ok(())
    }

    #[test]
    fn a_released_lease_is_free_at_once() -> Result<()> {
        let mut a = Archive::open_in_memory()?;
        a.take_lease("a", t0(), TTL)?;
        assert!(!a.release_lease("b")?, "not b's to release");
        assert_eq!(a.replay_lease()?.expect("held").owner, "a");
        assert!(a.release_lease("a")?);
        assert_eq!(a.replay_lease()?, None);
        assert!(!a.renew_lease("a", at(1_000), TTL)?, "released is not renewable");
        assert_eq!(a.take_lease("b", at(1_000), TTL)?, taken(None, 16_000), "no wait for expiry");
        assert!(!a.release_lease("a")?);
        Ok(())
    }

    fn settings() -> ReplaySettings {
        ReplaySettings {
            chat: ChatRef::Username("replay_chan".into()),
            admins: vec![],
            tz: chrono_tz::UTC,
            header: None,
            grace: Duration::from_secs(3600),
            media_dir: std::path::PathBuf::from("media"),
        }
    }

    /// Beginning a run, marking a part and closing a run all write nothing for a worker
    /// that does not hold the lease.
    #[test]
    fn delivery_writes_need_the_lease() -> Result<()> {
        let mut a = Archive::open_in_memory()?;
        crate::ingest::seed_if_empty(&mut a)?;
        let job_id = a.create_job(Target::Post(3), &Schedule::Once, t0(), None, t0())?;
        let job = a.job(job_id)?.expect("job");
        assert_eq!(a.begin_run_held(&holding("a", 0), &job, &settings(), t0())?, Begin::NotHolder, "nobody holds it");
        a.take_lease("a", t0(), TTL)?;
        assert_eq!(a.begin_run_held(&holding("b", 1), &job, &settings(), t0())?, Begin::NotHolder);
        assert!(a.recent_runs(10)?.is_empty(), "no run written");
        assert_eq!(a.job(job_id)?.expect("job").next_run, Some(t0()), "the job did not move on");

        let Begin::Run { run_id, .. } = a.begin_run_held(&holding("a", 1), &job, &settings(), t0())? else {
            panic!("the holder begins the run");
        };
        assert!(a.mark_part_held(&holding("a", 2), run_id, 0, PartState::Sending)?);
        assert_eq!(a.run_parts(run_id)?[0].state, PartState::Sending);
        // a is killed; b takes over when the lease expires.
        a.take_lease("b", at(15_000), TTL)?;
        assert!(!a.mark_part_held(&holding("a", 15_001), run_id, 0, PartState::Pending)?);
        assert!(!a.finish_run_held(&holding("a", 15_001), run_id, RunState::Sent, None, t0())?);
        assert_eq!(a.run(run_id)?.expect("run").state, RunState::Sending, "left open for b");
        assert_eq!(a.open_runs()?, [run_id]);
        assert!(a.mark_part_held(&holding("b", 15_002), run_id, 0, PartState::Unknown)?);
        assert!(a.finish_run_held(&holding("b", 15_003), run_id, RunState::Uncertain, Some("part 1"), t0())?);
        assert_eq!(a.run(run_id)?.expect("run").state, RunState::Uncertain);
        assert_eq!(a.run_parts(run_id)?[0].state, PartState::Unknown);
        assert_eq!(a.job(job_id)?.expect("job").state, JobState::Done);
        Ok(())
    }

    /// Workers in as many threads, each with its own connection to one store file (as
    /// in separate processes), try a free lease at the same moment: exactly one gets it.
    #[test]
    fn of_workers_racing_for_the_lease_one_gets_it() -> Result<()> {
        const WORKERS: usize = 6;
        let dir = tempfile::tempdir().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let path = dir.path().join("race.db");
        drop(Archive::open(&path)?);
        for round in 0..5i64 {
            let start = std::sync::Arc::new(std::sync::Barrier::new(WORKERS));
            let threads: Vec<_> = (0..WORKERS)
                .map(|i| {
                    let (path, start) = (path.clone(), start.clone());
                    std::thread::spawn(move || -> Result<Take> {
                        let mut a = Archive::open(&path)?;
                        start.wait();
                        a.take_lease(&format!("w{i}"), at(round * 60_000), TTL)
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for (i, t) in threads.into_iter().enumerate() {
                if let Take::Taken { .. } = t.join().expect("no panic")? {
                    winners.push(format!("w{i}"));
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
            let a = Archive::open(&path)?;
            assert_eq!(a.replay_lease()?.map(|l| l.owner), winners.pop());
        }
        Ok(())
    }

    /// A store from before the lease (schema 5) gains it on open, its jobs kept.
    #[test]
    fn an_old_store_gains_the_lease_in_place() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let path = dir.path().join("old.db");
        let job_id = {
            let a = Archive::open(&path)?;
            let id = a.create_job(Target::Next, &Schedule::Once, t0(), None, t0())?;
            a.conn().execute_batch("DROP TABLE user_langs; DROP TABLE replay_lease; PRAGMA user_version = 5;")?;
            id
        };
        let mut a = Archive::open(&path)?;
        let version: i64 = a.conn().query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert!(version >= 6, "{version}");
        assert_eq!(a.job(job_id)?.map(|j| j.next_run), Some(Some(t0())));
        assert_eq!(a.take_lease("a", t0(), TTL)?, taken(None, 15_000));
        Ok(())
    }

    impl Archive {
        fn holds_for_test(&self, holding: &Holding) -> Result<bool> {
            Ok(holds(self.conn(), holding)?)
        }
    }
}
