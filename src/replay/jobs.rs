//! The replay tables: jobs, runs, parts, history. Every state change of a
//! delivery is committed before the next request goes out.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::when::Schedule;
use super::{ReplaySettings, Target};
use crate::i18n::Lang;
use crate::model::{Post, from_unix};
use crate::render::post::post_messages;
use crate::store::{Archive, Result, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub target: Target,
    pub schedule: Schedule,
    pub next_run: Option<DateTime<Utc>>,
    pub state: String,
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
    pub state: String,
    pub reason: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub idx: i64,
    pub html: String,
    pub state: String,
    pub message_id: Option<i64>,
}

/// What starting a due job led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// A run with its parts is ready to deliver.
    Run { run_id: i64 },
    /// Too late (beyond the grace period): recorded as missed.
    Missed { job_id: i64 },
    /// Nothing to send (the post is gone, the archive is empty).
    Failed { job_id: i64, reason: String },
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
        let mut stmt = self
            .conn()
            .prepare("SELECT idx, html, state, message_id FROM replay_parts WHERE run_id = ?1 ORDER BY idx")?;
        let rows = stmt.query_map([run_id], |r| {
            Ok(Part { idx: r.get(0)?, html: r.get(1)?, state: r.get(2)?, message_id: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records a part's state (committed at once: this is what makes delivery exactly-once).
    pub fn mark_part(&self, run_id: i64, idx: i64, state: &str, message_id: Option<i64>) -> Result<()> {
        self.conn().execute(
            "UPDATE replay_parts SET state = ?3, message_id = coalesce(?4, message_id) WHERE run_id = ?1 AND idx = ?2",
            params![run_id, idx, state, message_id],
        )?;
        Ok(())
    }

    /// The post a target means now.
    pub fn pick_post(&self, target: Target) -> Result<Option<Post>> {
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
        };
        match id {
            Some(id) => self.post(id),
            None => Ok(None),
        }
    }

    /// Starts the due occurrence of `job`: records it as missed (too late), failed
    /// (nothing to send) or as a run whose parts are fixed now; moves the job on.
    pub fn begin_run(&mut self, job: &Job, settings: &ReplaySettings, now: DateTime<Utc>) -> Result<Begin> {
        let due = job.next_run.ok_or_else(|| StoreError::Corrupt(format!("job #{} has no next run", job.id)))?;
        let next = job.schedule.next_after(due, now, settings.tz).map(|d| d.timestamp());
        let chat = settings.chat.to_string();
        let grace = chrono::Duration::from_std(settings.grace).unwrap_or(chrono::Duration::MAX);
        let late = now - due;
        let post = if late > grace { None } else { self.pick_post(job.target)? };
        let tx = self.conn_mut().transaction()?;
        // An occurrence that sends nothing: recorded as `state`; a one-off job ends with it,
        // a recurring one moves on to its next occurrence.
        let close_unsent = |state: &str, reason: &str| -> rusqlite::Result<()> {
            tx.execute(
                "INSERT INTO replay_runs(job_id, due, chat, state, reason, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![job.id, due.timestamp(), chat, state, reason, now.timestamp()],
            )?;
            let job_state = if job.schedule.is_recurring() { "active" } else { state };
            tx.execute(
                "UPDATE replay_jobs SET next_run = ?2, state = ?3 WHERE id = ?1",
                params![job.id, next, job_state],
            )?;
            Ok(())
        };
        let begin = if late > grace {
            close_unsent("missed", &format!("{} min late", late.num_minutes()))?;
            Begin::Missed { job_id: job.id }
        } else if let Some(post) = post {
            let header = header_for(settings, &post);
            let parts = post_messages(&post, Lang::Ru, settings.tz, header.as_deref(), false);
            let run_id: i64 = tx.query_row(
                "INSERT INTO replay_runs(job_id, due, post_id, title, chat, state) VALUES (?1, ?2, ?3, ?4, ?5, 'sending')
                 RETURNING id",
                params![job.id, due.timestamp(), post.id, post.title, chat],
                |r| r.get(0),
            )?;
            for (i, html) in parts.iter().enumerate() {
                tx.execute(
                    "INSERT INTO replay_parts(run_id, idx, html) VALUES (?1, ?2, ?3)",
                    params![run_id, i as i64, html],
                )?;
            }
            // A one-off job stays active (with no next run) until its run finishes.
            tx.execute("UPDATE replay_jobs SET next_run = ?2 WHERE id = ?1", params![job.id, next])?;
            Begin::Run { run_id }
        } else {
            let reason = match job.target {
                Target::Post(id) => format!("post #{id} is not in the archive"),
                _ => "the archive is empty".to_string(),
            };
            close_unsent("failed", &reason)?;
            Begin::Failed { job_id: job.id, reason }
        };
        tx.commit()?;
        Ok(begin)
    }

    /// Closes a run: `sent`, `uncertain` (a part's fate unknown) or `failed`.
    pub fn finish_run(&mut self, run_id: i64, state: &str, reason: Option<&str>, now: DateTime<Utc>) -> Result<()> {
        let tx = self.conn_mut().transaction()?;
        let (job_id, post_id): (i64, Option<i64>) =
            tx.query_row("SELECT job_id, post_id FROM replay_runs WHERE id = ?1", [run_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        tx.execute(
            "UPDATE replay_runs SET state = ?2, reason = ?3, finished_at = ?4 WHERE id = ?1",
            params![run_id, state, reason, now.timestamp()],
        )?;
        if state != "failed"
            && let Some(post_id) = post_id
        {
            tx.execute(
                "INSERT INTO replay_history(post_id, last_at, times) VALUES (?1, ?2, 1)
                 ON CONFLICT(post_id) DO UPDATE SET last_at = excluded.last_at, times = times + 1",
                params![post_id, now.timestamp()],
            )?;
        }
        let job_state = if state == "failed" { "failed" } else { "done" };
        tx.execute(
            "UPDATE replay_jobs SET state = ?2 WHERE id = ?1 AND state = 'active' AND next_run IS NULL",
            params![job_id, job_state],
        )?;
        tx.commit()?;
        Ok(())
    }
}
