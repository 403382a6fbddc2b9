//! `/replay`, `/schedule`, `/queue`, `/cancel` (and the CLI's `schedule`,
//! `queue`, `cancel`): parse, check, write the job, describe it back.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::state::RunState;
use super::when::{self, Schedule, WhenError};
use super::{ReplaySettings, Target};
use crate::config::Config;
use crate::config::show_duration;
use crate::i18n::Lang;
use crate::i18n::fill;
use crate::render::html::{escape, truncate};
use crate::store::{Archive, Result};

/// A command's reply, and whether the command did what was asked
/// (`false`: a usage hint or a refusal; nothing changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub html: String,
    pub ok: bool,
}

impl Answer {
    fn done(html: String) -> Answer {
        Answer { html, ok: true }
    }

    fn refused(html: impl Into<String>) -> Answer {
        Answer { html: html.into(), ok: false }
    }
}

/// Where a command was typed: a hint names the commands as they are typed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// A Telegram chat, or the console that speaks like one: `/schedule`.
    Chat,
    /// The command line: `postkeeper schedule`.
    Cli,
}

impl Surface {
    /// The command `name` as typed here.
    fn command(self, name: &str) -> String {
        match self {
            Surface::Chat => format!("/{name}"),
            Surface::Cli => format!("postkeeper {name}"),
        }
    }

    /// A cron expression with the quotes that must reach the parser: a shell
    /// takes double quotes away, so on the command line they go inside single ones.
    fn quoted_cron(self, expr: &str) -> String {
        match self {
            Surface::Chat => format!("\"{expr}\""),
            Surface::Cli => format!("'\"{expr}\"'"),
        }
    }
}

/// What was typed, fit to be quoted back: on one line and cut short, so that
/// no reply grows past Telegram's limit (escape it for HTML).
fn shown(typed: &str) -> String {
    truncate(&typed.split_whitespace().collect::<Vec<_>>().join(" "), 60)
}

/// [`shown`], escaped.
fn echo(typed: &str) -> String {
    escape(&shown(typed))
}

/// May this person replay, and if so where to.
#[derive(Debug, Clone)]
pub enum Access {
    Admin(ReplaySettings),
    NotAdmin,
    NoAdmins,
    NoReplayChat,
}

impl Access {
    /// For a Telegram user.
    pub fn for_user(config: &Config, user_id: i64) -> Access {
        if config.admins.is_empty() {
            return Access::NoAdmins;
        }
        if !config.admins.contains(&user_id) {
            return Access::NotAdmin;
        }
        match ReplaySettings::from_config(config) {
            Some(s) => Access::Admin(s),
            None => Access::NoReplayChat,
        }
    }

    /// For the operator at the machine (console, CLI): no admin list needed.
    pub fn for_operator(config: &Config) -> Access {
        match ReplaySettings::from_config(config) {
            Some(s) => Access::Admin(s),
            None => Access::NoReplayChat,
        }
    }

    /// The refusal for anyone but an admin with a replay chat.
    pub fn refusal(&self, lang: Lang) -> Option<&'static str> {
        let t = lang.texts();
        match self {
            Access::Admin(_) => None,
            Access::NotAdmin => Some(t.replay_not_admin),
            Access::NoAdmins => Some(t.replay_no_admins),
            Access::NoReplayChat => Some(t.replay_no_chat),
        }
    }
}

fn describe_schedule(schedule: &Schedule, lang: Lang) -> Option<String> {
    let t = lang.texts();
    match schedule {
        Schedule::Once => None,
        Schedule::Every(d) => Some(format!("{} {}", t.every, show_duration(d.to_std().unwrap_or_default()))),
        Schedule::Daily(at) => Some(format!("{} {}", t.daily_at, at.format("%H:%M"))),
        Schedule::Cron(expr) => Some(format!("{} <code>{}</code>", t.cron, escape(expr))),
    }
}

fn describe_target(archive: &Archive, target: Target, lang: Lang) -> Result<String> {
    let t = lang.texts();
    Ok(match target {
        Target::Post(id) => match archive.post(id)? {
            Some(p) => format!("#{id} «{}»", escape(&truncate(&p.title, 80))),
            None => format!("#{id}"),
        },
        Target::Random => t.target_random.to_string(),
        Target::Next => t.target_next.to_string(),
        Target::Best => t.target_best.to_string(),
    })
}

fn when_text(at: DateTime<Utc>, now: DateTime<Utc>, tz: Tz, lang: Lang) -> String {
    if at <= now { lang.texts().job_now.to_string() } else { lang.date_time(at, tz) }
}

/// The confirmation of a new job, read back from the store.
fn confirm(archive: &Archive, s: &ReplaySettings, lang: Lang, job_id: i64, now: DateTime<Utc>) -> Result<String> {
    let t = lang.texts();
    let Some(job) = archive.job(job_id)? else {
        return Ok(t.no_job.to_string());
    };
    let first = job.next_run.unwrap_or(now);
    let mut out = format!(
        "✅ {} <b>#{job_id}</b>: {} → {}\n{}: {}",
        t.job_created,
        describe_target(archive, job.target, lang)?,
        escape(&s.chat.to_string()),
        t.job_first_run,
        when_text(first, now, s.tz, lang)
    );
    if let Some(rep) = describe_schedule(&job.schedule, lang) {
        out.push_str(&format!("\n{}: {rep}", t.job_repeats));
    }
    Ok(out)
}

/// `/replay ID`: now.
pub fn replay_now(
    archive: &Archive,
    s: &ReplaySettings,
    lang: Lang,
    arg: &str,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Answer> {
    let t = lang.texts();
    let Some(Target::Post(id)) = Target::parse(arg) else {
        return Ok(Answer::refused(t.replay_usage));
    };
    if archive.post(id)?.is_none() {
        return Ok(Answer::refused(format!("{} {}", t.unknown_post, t.replay_usage)));
    }
    let job = archive.create_job(Target::Post(id), &Schedule::Once, now, by, now)?;
    confirm(archive, s, lang, job, now).map(Answer::done)
}

/// How `WHAT WHEN` is written on `surface`.
fn schedule_usage(surface: Surface, lang: Lang) -> String {
    let cron = escape(&surface.quoted_cron("0 10 * * 1-5"));
    fill(lang.texts().schedule_usage, &[("schedule", &surface.command("schedule")), ("cron", &cron)])
}

/// What was wrong with a `WHEN`, in words (HTML).
fn when_reason(e: &WhenError, typed: &str, surface: Surface, s: &ReplaySettings, lang: Lang) -> String {
    let t = lang.texts();
    match e {
        WhenError::Missing => t.when_missing.to_string(),
        WhenError::Unreadable => fill(t.when_unreadable, &[("when", &echo(typed))]),
        WhenError::TooOften => t.when_too_often.to_string(),
        WhenError::NotTimeOfDay(time) => fill(t.when_not_time, &[("time", &echo(time))]),
        WhenError::NotDate(date) => fill(t.when_not_date, &[("date", &echo(date))]),
        WhenError::Past(at) => fill(t.when_past, &[("at", &escape(&lang.date_time(*at, s.tz)))]),
        WhenError::NotCron(expr) => fill(t.cron_bad, &[("cron", &echo(expr))]),
        WhenError::CronNever(expr) => fill(t.cron_never, &[("cron", &echo(expr))]),
        WhenError::UnquotedCron(expr) => {
            fill(t.cron_unquoted, &[("cron", &escape(&surface.quoted_cron(&shown(expr))))])
        }
    }
}

/// `WHAT WHEN` typed on `surface`: a refusal says what was wrong, then how
/// the command is written there; nothing is scheduled.
pub fn schedule(
    surface: Surface,
    archive: &Archive,
    s: &ReplaySettings,
    lang: Lang,
    args: &str,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Answer> {
    let t = lang.texts();
    let args = args.trim();
    if args.is_empty() {
        return Ok(Answer::refused(schedule_usage(surface, lang)));
    }
    let refuse = |reason: String| Answer::refused(format!("{reason}\n\n{}", schedule_usage(surface, lang)));
    let (what, when_arg) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let Some(target) = Target::parse(what) else {
        return Ok(refuse(fill(t.schedule_what_unknown, &[("what", &echo(what))])));
    };
    if let Target::Post(id) = target
        && archive.post(id)?.is_none()
    {
        return Ok(refuse(fill(t.schedule_no_post, &[("id", &id.to_string())])));
    }
    if archive.is_empty()? {
        return Ok(Answer::refused(t.empty_archive));
    }
    let (schedule, first) = match when::parse(when_arg, now, s.tz) {
        Ok(ok) => ok,
        Err(e) => return Ok(refuse(when_reason(&e, when_arg, surface, s, lang))),
    };
    let job = archive.create_job(target, &schedule, first, by, now)?;
    confirm(archive, s, lang, job, now).map(Answer::done)
}

/// `/queue`: what is scheduled, then the latest outcomes.
/// The queue, its times in `tz`. It needs no replay chat: listing is how an operator sees
/// what is waiting while replays are not set up (yet).
pub fn queue(archive: &Archive, tz: Tz, lang: Lang, now: DateTime<Utc>) -> Result<Answer> {
    let t = lang.texts();
    let jobs = archive.active_jobs()?;
    let runs = archive.recent_runs(10)?;
    if jobs.is_empty() && runs.is_empty() {
        return Ok(Answer::done(t.queue_empty.to_string()));
    }
    let mut out = String::new();
    if !jobs.is_empty() {
        out.push_str(&format!("<b>{}</b>", t.queue_pending));
        for job in jobs.iter().take(30) {
            let next = match job.next_run {
                Some(at) => when_text(at, now, tz, lang),
                None => t.outcome_sending.to_string(),
            };
            out.push_str(&format!("\n#{} · {} · {next}", job.id, describe_target(archive, job.target, lang)?));
            if let Some(rep) = describe_schedule(&job.schedule, lang) {
                out.push_str(&format!(" · {rep}"));
            }
        }
    }
    if !runs.is_empty() {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&format!("<b>{}</b>", t.queue_outcomes));
        for run in runs {
            let (mark, word) = match run.state {
                RunState::Sent => ("✅", t.outcome_sent),
                RunState::Failed => ("❌", t.outcome_failed),
                RunState::Missed => ("⏭", t.outcome_missed),
                RunState::Uncertain => ("⚠️", t.outcome_uncertain),
                RunState::Sending => ("⏳", t.outcome_sending),
            };
            let at = run.finished_at.unwrap_or(run.due);
            let title = run.title.as_deref().map(|x| format!(" «{}»", escape(&truncate(x, 60)))).unwrap_or_default();
            out.push_str(&format!("\n{mark} #{}{title} · {word} · {}", run.job_id, lang.date_time(at, tz)));
            if let Some(reason) = &run.reason {
                out.push_str(&format!(" · {}", escape(&truncate(reason, 200))));
            }
        }
    }
    Ok(Answer::done(out))
}

/// `cancel N` typed on `surface`: its hints name that surface's commands.
pub fn cancel(surface: Surface, archive: &Archive, lang: Lang, arg: &str) -> Result<Answer> {
    let t = lang.texts();
    let queue = surface.command("queue");
    let Ok(id) = arg.trim().trim_start_matches('#').parse::<i64>() else {
        return Ok(Answer::refused(fill(t.cancel_usage, &[("cancel", &surface.command("cancel")), ("queue", &queue)])));
    };
    Ok(if archive.cancel_job(id)? {
        Answer::done(format!("🛑 #{id} {}", t.cancelled))
    } else {
        Answer::refused(fill(t.cancel_no_job, &[("id", &id.to_string()), ("queue", &queue)]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_filled_once_and_unknown_braces_kept() {
        let filled = fill("{a} and {b}, {c} {", &[("a", "{b}"), ("b", "x")]);
        assert_eq!(filled, "{b} and x, {c} {", "a value is not filled again");
    }

    #[test]
    fn echoes_are_one_escaped_short_line() {
        assert_eq!(echo("<b>\n &amp;"), "&lt;b&gt; &amp;amp;");
        let long = echo(&"я".repeat(5000));
        assert!(long.chars().count() <= 60 && long.ends_with('…'), "{long}");
    }

    #[test]
    fn every_usage_slot_is_filled() {
        for lang in [Lang::Ru, Lang::En] {
            for surface in [Surface::Chat, Surface::Cli] {
                let usage = schedule_usage(surface, lang);
                assert!(!usage.contains('{'), "{usage}");
            }
        }
        let cli = schedule_usage(Surface::Cli, Lang::En);
        assert!(cli.starts_with("Usage: <code>postkeeper schedule WHAT WHEN</code>"), "{cli}");
        assert!(cli.contains("<code>'&quot;0 10 * * 1-5&quot;'</code>"), "{cli}");
        assert!(!cli.contains("/schedule"), "{cli}");
    }
}
