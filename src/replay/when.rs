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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("unreadable time")]
    Unreadable,
    #[error("that time is in the past")]
    Past,
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

/// `30s`, `10m`, `2h`, `1d` (also `30 s`, `10 min`...).
fn span(s: &str) -> Option<Duration> {
    let s: String = s.split_whitespace().collect();
    let digits = s.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = s[..digits].parse().ok().filter(|n| *n > 0 && *n < 100_000)?;
    let unit = &s[digits..];
    let secs = match unit {
        "s" | "sec" | "с" | "сек" => 1,
        "m" | "min" | "м" | "мин" => 60,
        "h" | "hr" | "ч" => 3600,
        "d" | "day" | "days" | "д" | "дн" => 86_400,
        _ => return None,
    };
    Some(Duration::seconds(n * secs))
}

fn clock_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
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
    let lower = s.to_lowercase();
    if let Some(expr) = unquote(s) {
        let expr = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        let schedule = Schedule::Cron(expr);
        let first = schedule.next_after(now, now, tz).ok_or(WhenError::Unreadable)?;
        return Ok((schedule, first));
    }
    if let Some(rest) = lower.strip_prefix("in ").or_else(|| lower.strip_prefix("через ")) {
        let d = span(rest).ok_or(WhenError::Unreadable)?;
        return Ok((Schedule::Once, now + d));
    }
    if let Some(rest) = lower.strip_prefix("every ").or_else(|| lower.strip_prefix("каждые ")) {
        let d = span(rest).ok_or(WhenError::Unreadable)?;
        if d < Duration::minutes(1) {
            return Err(WhenError::Unreadable);
        }
        return Ok((Schedule::Every(d), now + d));
    }
    if let Some(rest) = lower.strip_prefix("daily ").or_else(|| lower.strip_prefix("ежедневно ")) {
        let t = clock_time(rest).ok_or(WhenError::Unreadable)?;
        let first = next_local_time(t, now, tz).ok_or(WhenError::Unreadable)?;
        return Ok((Schedule::Daily(t), first));
    }
    if let Some(t) = clock_time(s) {
        let first = next_local_time(t, now, tz).ok_or(WhenError::Unreadable)?;
        return Ok((Schedule::Once, first));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").map_err(|_| WhenError::Unreadable)?;
    let at = resolve_local(naive, tz).ok_or(WhenError::Unreadable)?;
    if at <= now {
        return Err(WhenError::Past);
    }
    Ok((Schedule::Once, at))
}

/// For tests and the CLI: a date and time in a zone.
pub fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> Option<DateTime<Utc>> {
    resolve_local(NaiveDate::from_ymd_opt(y, m, d)?.and_hms_opt(h, min, 0)?, tz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        local(tz, y, m, d, h, min).expect("valid")
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
        assert_eq!(parse("2026-11-01 10:00", now, Tz::UTC), Err(WhenError::Past));
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
        for bad in
            ["tomorrow", "in 5 parsecs", "25:00", "\"0 10 * *\"", "\"a b c d e\"", "every 10s", "2026-13-01 10:00", ""]
        {
            assert_eq!(parse(bad, now, Tz::UTC).map(|_| ()), Err(WhenError::Unreadable), "{bad}");
        }
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
