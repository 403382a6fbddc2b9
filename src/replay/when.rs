//! `WHEN` of `/schedule`: parsed into a [`Schedule`] and its first run, in
//! the configured time zone; later occurrences computed from the schedule.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How a job recurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Once,
    Every(Duration),
    Daily(NaiveTime),
    Cron(String),
}

/// Why a `WHEN` was not taken, told apart so that a refusal can say which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("no time given")]
    Missing,
    /// None of the forms.
    #[error("unreadable time")]
    Unreadable,
    /// `every` more often than a channel takes posts (20 a minute).
    #[error("an interval under a minute")]
    TooOften,
    /// Written like `HH:MM` but no clock shows it (`25:00`, `14:61`, `24:00`): the text as given.
    #[error("{0} is not a time of day")]
    NotTimeOfDay(String),
    /// Written like `YYYY-MM-DD` but no such day (`2026-13-01`, `2026-02-30`): the text as given.
    #[error("{0} is not a date")]
    NotDate(String),
    /// A one-off time already gone: the time read.
    #[error("{0} has passed")]
    Past(DateTime<Utc>),
    /// A quoted expression that cron cannot read.
    #[error("{0} is not a cron expression")]
    NotCron(String),
    /// A cron expression no date ever matches (`0 0 31 2 *`).
    #[error("{0} never comes round")]
    CronNever(String),
    /// A cron expression given without its quotes (they tell it from the other forms).
    #[error("{0} is a cron expression without quotes")]
    UnquotedCron(String),
}

impl Schedule {
    /// The stored form (see the migration).
    pub fn to_db(&self) -> String {
        match self {
            Schedule::Once => "once".into(),
            Schedule::Every(d) => format!("every {}", d.num_seconds()),
            Schedule::Daily(t) => format!("daily {}", t.format("%H:%M")),
            Schedule::Cron(c) => format!("cron {c}"),
        }
    }

    pub fn from_db(s: &str) -> Option<Schedule> {
        let (kind, rest) = s.split_once(' ').unwrap_or((s, ""));
        Some(match kind {
            "once" => Schedule::Once,
            "every" => Schedule::Every(Duration::seconds(rest.parse().ok().filter(|n: &i64| *n > 0)?)),
            "daily" => Schedule::Daily(NaiveTime::parse_from_str(rest, "%H:%M").ok()?),
            "cron" => {
                cron(rest)?;
                Schedule::Cron(rest.to_string())
            }
            _ => return None,
        })
    }

    pub fn is_recurring(&self) -> bool {
        !matches!(self, Schedule::Once)
    }

    /// The first occurrence strictly after `after` (`None` for `Once`).
    /// `every` keeps its cadence from `anchor` (the previous occurrence), so
    /// missed periods are skipped, not replayed.
    pub fn next_after(&self, anchor: DateTime<Utc>, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Once => None,
            Schedule::Every(d) => {
                let step = d.num_seconds().max(1);
                let behind = (after - anchor).num_seconds();
                let k = if behind < 0 { 1 } else { behind / step + 1 };
                Some(anchor + Duration::seconds(k * step))
            }
            Schedule::Daily(t) => next_local_time(*t, after, tz),
            Schedule::Cron(expr) => {
                let cron = cron(expr)?;
                let local = after.with_timezone(&tz);
                cron.find_next_occurrence(&local, false).ok().map(|d| d.with_timezone(&Utc))
            }
        }
    }
}

fn cron(expr: &str) -> Option<croner::Cron> {
    if expr.split_whitespace().count() != 5 {
        return None;
    }
    croner::Cron::new(expr).parse().ok()
}

/// A local wall-clock time as UTC: in a DST gap the time is moved forward
/// past the gap; in a repeated hour the first occurrence is taken.
fn resolve_local(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    for shift in 0..=4 {
        match tz.from_local_datetime(&(naive + Duration::minutes(30 * shift))) {
            LocalResult::Single(d) => return Some(d.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
            LocalResult::None => continue,
        }
    }
    None
}

/// The next time the local clock shows `t`, strictly after `after`.
fn next_local_time(t: NaiveTime, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let today = after.with_timezone(&tz).date_naive();
    (0..3).filter_map(|d| today.checked_add_signed(Duration::days(d))).find_map(|day| {
        let at = resolve_local(day.and_time(t), tz)?;
        (at > after).then_some(at)
    })
}

/// `30s`, `10m`, `2h`, `1d` (also `30 s`, `10 min`...), read by [`parse_duration`]; a
/// schedule's span names its unit, is not zero, and is under 100,000 of its unit.
fn span(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit_at = s.find(|c: char| !c.is_ascii_digit() && !c.is_whitespace())?;
    s[..unit_at].trim().parse::<u64>().ok().filter(|n| (1..100_000).contains(n))?;
    Duration::from_std(crate::config::parse_duration(s).ok()?).ok()
}

fn clock_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// `digits:digits:...` with the given widths (`None`: one or two digits), so that a
/// time or date out of range can be told from text that is neither.
fn shaped(s: &str, sep: char, widths: &[Option<usize>]) -> bool {
    let parts: Vec<&str> = s.split(sep).collect();
    parts.len() == widths.len()
        && parts
            .iter()
            .zip(widths)
            .all(|(p, w)| p.bytes().all(|b| b.is_ascii_digit()) && w.map_or(matches!(p.len(), 1 | 2), |w| p.len() == w))
}

fn looks_like_clock(s: &str) -> bool {
    shaped(s, ':', &[None, Some(2)])
}

fn looks_like_date(s: &str) -> bool {
    shaped(s, '-', &[Some(4), None, None])
}

/// `HH:MM`; text written like one but out of range is [`WhenError::NotTimeOfDay`].
fn time_of_day(s: &str) -> Result<NaiveTime, WhenError> {
    let s = s.trim();
    match clock_time(s) {
        Some(t) => Ok(t),
        None if looks_like_clock(s) => Err(WhenError::NotTimeOfDay(s.to_string())),
        None => Err(WhenError::Unreadable),
    }
}

/// Why `YYYY-MM-DD HH:MM` did not parse: the part out of range, if it is written like one.
fn date_time_error(s: &str) -> WhenError {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [date, time] = parts[..] else { return WhenError::Unreadable };
    if !looks_like_date(date) || !looks_like_clock(time) {
        return WhenError::Unreadable;
    }
    if NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
        return WhenError::NotDate(date.to_string());
    }
    time_of_day(time).err().unwrap_or(WhenError::Unreadable)
}

fn unquote(s: &str) -> Option<&str> {
    let s = s.trim();
    let open = s.chars().next()?;
    let close = s.chars().last()?;
    let pairs = [('"', '"'), ('“', '”'), ('«', '»'), ('\'', '\''), ('„', '“')];
    (s.chars().count() >= 2 && pairs.contains(&(open, close))).then(|| &s[open.len_utf8()..s.len() - close.len_utf8()])
}

/// Parses `WHEN` at `now`: the schedule and its first run.
pub fn parse(input: &str, now: DateTime<Utc>, tz: Tz) -> Result<(Schedule, DateTime<Utc>), WhenError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(WhenError::Missing);
    }
    let lower = s.to_lowercase();
    if let Some(expr) = unquote(s) {
        let expr = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        if cron(&expr).is_none() {
            return Err(WhenError::NotCron(expr));
        }
        let schedule = Schedule::Cron(expr.clone());
        let first = schedule.next_after(now, now, tz).ok_or(WhenError::CronNever(expr))?;
        return Ok((schedule, first));
    }
    if let Some(rest) = lower.strip_prefix("in ").or_else(|| lower.strip_prefix("через ")) {
        let d = span(rest).ok_or(WhenError::Unreadable)?;
        return Ok((Schedule::Once, now + d));
    }
    if let Some(rest) = lower.strip_prefix("every ").or_else(|| lower.strip_prefix("каждые ")) {
        let d = span(rest).ok_or(WhenError::Unreadable)?;
        if d < Duration::minutes(1) {
            return Err(WhenError::TooOften);
        }
        return Ok((Schedule::Every(d), now + d));
    }
    if let Some(rest) = lower.strip_prefix("daily ").or_else(|| lower.strip_prefix("ежедневно ")) {
        let t = time_of_day(rest)?;
        let first = next_local_time(t, now, tz).ok_or(WhenError::Unreadable)?;
        return Ok((Schedule::Daily(t), first));
    }
    if clock_time(s).is_some() || looks_like_clock(s) {
        let t = time_of_day(s)?;
        let first = next_local_time(t, now, tz).ok_or(WhenError::Unreadable)?;
        return Ok((Schedule::Once, first));
    }
    // chrono's %Y takes `26` for the year 26: the year must be written in full.
    let full_year = s.split_whitespace().next().is_some_and(looks_like_date);
    let parsed = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").ok().filter(|_| full_year);
    let Some(naive) = parsed else {
        let words = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if cron(&words).is_some() {
            return Err(WhenError::UnquotedCron(words));
        }
        return Err(date_time_error(s));
    };
    let at = resolve_local(naive, tz).ok_or(WhenError::Unreadable)?;
    if at <= now {
        return Err(WhenError::Past(at));
    }
    Ok((Schedule::Once, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, min, 0))
            .and_then(|naive| resolve_local(naive, tz))
            .expect("valid")
    }

    #[test]
    fn relative_and_absolute_forms() {
        let now = at(Tz::UTC, 2026, 11, 27, 12, 0);
        assert_eq!(parse("in 30s", now, Tz::UTC), Ok((Schedule::Once, now + Duration::seconds(30))));
        assert_eq!(parse("in 10m", now, Tz::UTC), Ok((Schedule::Once, now + Duration::minutes(10))));
        assert_eq!(parse("in 2h", now, Tz::UTC), Ok((Schedule::Once, now + Duration::hours(2))));
        assert_eq!(parse("in 1d", now, Tz::UTC), Ok((Schedule::Once, now + Duration::days(1))));
        assert_eq!(parse("14:30", now, Tz::UTC), Ok((Schedule::Once, at(Tz::UTC, 2026, 11, 27, 14, 30))));
        assert_eq!(
            parse("11:00", now, Tz::UTC),
            Ok((Schedule::Once, at(Tz::UTC, 2026, 11, 28, 11, 0))),
            "next occurrence"
        );
        assert_eq!(parse("2026-12-01 10:00", now, Tz::UTC), Ok((Schedule::Once, at(Tz::UTC, 2026, 12, 1, 10, 0))));
        assert_eq!(parse("2026-11-01 10:00", now, Tz::UTC), Err(WhenError::Past(at(Tz::UTC, 2026, 11, 1, 10, 0))));
        assert_eq!(
            parse("every 6h", now, Tz::UTC),
            Ok((Schedule::Every(Duration::hours(6)), now + Duration::hours(6)))
        );
        assert_eq!(
            parse("daily 10:00", now, Tz::UTC),
            Ok((Schedule::Daily(NaiveTime::from_hms_opt(10, 0, 0).expect("t")), at(Tz::UTC, 2026, 11, 28, 10, 0)))
        );
        // 2026-11-27 is a Friday: the next weekday 10:00 is Monday the 30th.
        assert_eq!(
            parse("\"0 10 * * 1-5\"", now, Tz::UTC),
            Ok((Schedule::Cron("0 10 * * 1-5".into()), at(Tz::UTC, 2026, 11, 30, 10, 0)))
        );
        assert_eq!(parse("«0 10 * * 1-5»", now, Tz::UTC).map(|r| r.1), Ok(at(Tz::UTC, 2026, 11, 30, 10, 0)));
        for bad in ["tomorrow", "in 5 parsecs", "in soon", "every", "daily noon", "1:2:3", "2026-12-01 noon"] {
            assert_eq!(parse(bad, now, Tz::UTC).map(|_| ()), Err(WhenError::Unreadable), "{bad}");
        }
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let now = at(Tz::UTC, 2026, 11, 27, 12, 0);
        let why = |s: &str| parse(s, now, Tz::UTC).map(|_| ()).expect_err(s);
        assert_eq!(why(""), WhenError::Missing);
        assert_eq!(why("  "), WhenError::Missing);
        for often in ["every 3s", "every 59s", "каждые 10 сек"] {
            assert_eq!(why(often), WhenError::TooOften, "{often}");
        }
        assert_eq!(parse("every 60s", now, Tz::UTC).map(|r| r.0), Ok(Schedule::Every(Duration::minutes(1))));
        for (bad, time) in [
            ("25:00", "25:00"),
            ("14:61", "14:61"),
            ("daily 24:00", "24:00"),
            ("ежедневно 99:99", "99:99"),
            ("2026-12-01 25:00", "25:00"),
        ] {
            assert_eq!(why(bad), WhenError::NotTimeOfDay(time.into()), "{bad}");
        }
        assert_eq!(why("2026-13-01 10:00"), WhenError::NotDate("2026-13-01".into()));
        // Not the year 26, nor 2026 guessed: a year is written in full.
        assert_eq!(why("26-12-01 10:00"), WhenError::Unreadable);
        assert_eq!(why("0026-12-01 10:00"), WhenError::Past(at(Tz::UTC, 26, 12, 1, 10, 0)));
        assert_eq!(why("2026-02-30 10:00"), WhenError::NotDate("2026-02-30".into()));
        // Past in the zone it was read in: 10:00 in Berlin is 09:00 UTC in winter.
        assert_eq!(
            parse("2020-01-01 10:00", now, Berlin).map(|_| ()),
            Err(WhenError::Past(at(Tz::UTC, 2020, 1, 1, 9, 0)))
        );
        assert_eq!(why("2026-11-27 12:00"), WhenError::Past(now), "now is not the future");
        assert_eq!(why("\"0 10 * *\""), WhenError::NotCron("0 10 * *".into()));
        assert_eq!(why("\"a  b c d e\""), WhenError::NotCron("a b c d e".into()));
        assert_eq!(why("\"0 0 31 2 *\""), WhenError::CronNever("0 0 31 2 *".into()));
        assert_eq!(why("0 10 * * 1-5"), WhenError::UnquotedCron("0 10 * * 1-5".into()));
    }

    #[test]
    fn zones_and_dst() {
        // Berlin springs forward on 2026-03-29 at 02:00 -> 03:00.
        let before = at(Tz::UTC, 2026, 3, 28, 12, 0);
        let (s, first) = parse("daily 10:00", before, Berlin).expect("parses");
        assert_eq!(first, at(Tz::UTC, 2026, 3, 29, 8, 0), "10:00 CEST is 08:00 UTC");
        let second = s.next_after(first, first, Berlin).expect("next");
        assert_eq!(second, at(Tz::UTC, 2026, 3, 30, 8, 0));
        let winter = at(Tz::UTC, 2026, 3, 28, 9, 0);
        assert_eq!(
            parse("daily 10:00", winter - Duration::hours(1), Berlin).map(|r| r.1),
            Ok(winter),
            "10:00 CET is 09:00 UTC"
        );
        // 02:30 does not exist that night: moved past the gap.
        let (_, gap) = parse("2026-03-29 02:30", before, Berlin).expect("parses");
        assert_eq!(gap, at(Tz::UTC, 2026, 3, 29, 1, 0), "03:00 CEST");
        // 02:30 happens twice on 2026-10-25: the first one.
        let (_, twice) = parse("2026-10-25 02:30", before, Berlin).expect("parses");
        assert_eq!(twice, at(Tz::UTC, 2026, 10, 25, 0, 30));
    }

    #[test]
    fn spans_are_bounded() {
        let now = at(Tz::UTC, 2026, 11, 27, 12, 0);
        assert_eq!(parse("in 99999s", now, Tz::UTC), Ok((Schedule::Once, now + Duration::seconds(99_999))));
        for bad in ["in 0s", "in 0m", "every 0d", "in 100000s", "every 100000m", "in 999999999999d"] {
            assert_eq!(parse(bad, now, Tz::UTC).map(|_| ()), Err(WhenError::Unreadable), "{bad}");
        }
    }

    #[test]
    fn only_text_shaped_like_a_time_or_date_is_called_out_of_range() {
        let now = at(Tz::UTC, 2026, 11, 27, 12, 0);
        let why = |s: &str| parse(s, now, Tz::UTC).map(|_| ()).expect_err(s);
        for bad in ["ab:cd", "1:234", "daily 1:234", "tomorrow 10:00", "2026-13-01 noon"] {
            assert_eq!(why(bad), WhenError::Unreadable, "{bad}");
        }
    }

    #[test]
    fn only_once_does_not_recur() {
        assert!(!Schedule::Once.is_recurring());
        assert!(Schedule::Every(Duration::hours(1)).is_recurring());
        assert!(Schedule::Daily(NaiveTime::from_hms_opt(7, 5, 0).expect("t")).is_recurring());
        assert!(Schedule::Cron("0 10 * * 1-5".into()).is_recurring());
    }

    #[test]
    fn a_run_begun_before_its_time_moves_on_a_period() {
        // The clock reads two hours before the occurrence being run: the next one is still
        // one period after it, never at or before it.
        let due = at(Tz::UTC, 2026, 1, 1, 12, 0);
        let every = Schedule::Every(Duration::hours(1));
        assert_eq!(every.next_after(due, due - Duration::hours(2), Tz::UTC), Some(due + Duration::hours(1)));
        assert_eq!(every.next_after(due, due, Tz::UTC), Some(due + Duration::hours(1)));
    }

    #[test]
    fn stored_schedules_that_make_no_sense_are_refused() {
        for bad in ["every 0", "every -60", "every x", "daily 25:00", "cron 0 10 * *", "weekly 1", ""] {
            assert_eq!(Schedule::from_db(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn missed_periods_are_skipped() {
        let anchor = at(Tz::UTC, 2026, 1, 1, 0, 0);
        let now = anchor + Duration::hours(20);
        assert_eq!(
            Schedule::Every(Duration::hours(6)).next_after(anchor, now, Tz::UTC),
            Some(anchor + Duration::hours(24))
        );
        for s in [
            Schedule::Once,
            Schedule::Every(Duration::minutes(90)),
            Schedule::Daily(NaiveTime::from_hms_opt(7, 5, 0).expect("t")),
            Schedule::Cron("0 10 * * 1-5".into()),
        ] {
            assert_eq!(Schedule::from_db(&s.to_db()), Some(s));
        }
    }
}
