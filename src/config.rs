//! Settings from the command line, the environment and `.env`, validated once
//! with errors that say how to fix them.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;

/// A chat named by id (`-1001234567890`) or by `@username`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatRef {
    Id(i64),
    Username(String),
}

impl FromStr for ChatRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(id) = s.parse::<i64>() {
            return Ok(ChatRef::Id(id));
        }
        let name = s.strip_prefix('@').unwrap_or(s);
        let valid = (5..=32).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Ok(ChatRef::Username(name.to_string()))
        } else {
            Err("is neither a chat id (like -1001234567890) nor a @username (5 to 32 letters, digits and _)"
                .to_string())
        }
    }
}

impl ChatRef {
    /// Does a chat with this id and username match?
    pub fn matches(&self, id: i64, username: Option<&str>) -> bool {
        match self {
            ChatRef::Id(want) => *want == id,
            ChatRef::Username(want) => username.is_some_and(|u| u.eq_ignore_ascii_case(want)),
        }
    }
}

impl std::fmt::Display for ChatRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatRef::Id(id) => write!(f, "{id}"),
            ChatRef::Username(u) => write!(f, "@{u}"),
        }
    }
}

/// `POSTKEEPER_ADMINS`: comma-separated user ids.
pub fn parse_admins(s: &str) -> Result<Vec<i64>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.parse::<i64>() {
            Ok(id) if id > 0 => Ok(id),
            _ => Err(format!("{p:?} is not a Telegram user id (a positive number)")),
        })
        .collect()
}

/// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err("is neither true nor false".to_string()),
    }
}

/// A duration the way [`parse_duration`] reads it: `24h`, `90s`.
pub fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_string(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// `30s`, `10m`, `24h`, `2d` (also `30 s`, `10 min`, `2 ч`, `1 дн`; bare digits are
/// seconds): the one duration reader of settings and of schedules (`in 10m`, `every 6h`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s: String = s.split_whitespace().collect();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let bad = || "is not a duration like 30s, 10m, 24h or 2d".to_string();
    let n: u64 = n.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" | "sec" | "с" | "сек" | "" => 1,
        "m" | "min" | "м" | "мин" => 60,
        "h" | "hr" | "ч" => 3600,
        "d" | "day" | "days" | "д" | "дн" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).map(Duration::from_secs).ok_or_else(|| "is too long".to_string())
}

pub fn parse_timezone(s: &str) -> Result<Tz, String> {
    s.trim().parse::<Tz>().map_err(|_| "is not an IANA time zone (like Europe/Moscow or UTC)".to_string())
}

/// Everything the bot and the replay worker need to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub db: PathBuf,
    /// Where media files live (copied from exports, named by content hash).
    pub media_dir: PathBuf,
    pub admins: Vec<i64>,
    pub replay_chat: Option<ChatRef>,
    pub source_chat: Option<ChatRef>,
    pub timezone: Tz,
    pub replay_header: Option<String>,
    pub replay_grace: Duration,
    /// Link previews under replayed posts.
    pub replay_previews: bool,
    /// The web archive's public address (`POSTKEEPER_PUBLIC_URL`, ends in `/`): absolute
    /// links in pages, and the bot's links to them.
    pub public_url: Option<url::Url>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db: PathBuf::from("postkeeper.db"),
            media_dir: PathBuf::from("media"),
            admins: Vec::new(),
            replay_chat: None,
            source_chat: None,
            timezone: Tz::UTC,
            replay_header: None,
            replay_grace: Duration::from_secs(24 * 3600),
            replay_previews: true,
            public_url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_refs() {
        assert_eq!("-1001234567890".parse(), Ok(ChatRef::Id(-1001234567890)));
        assert_eq!("@deep_dive".parse(), Ok(ChatRef::Username("deep_dive".into())));
        assert!("hello world".parse::<ChatRef>().is_err());
        assert!(ChatRef::Username("Deep_Dive".into()).matches(1, Some("deep_dive")));
    }

    #[test]
    fn durations_admins_zones() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_admins("1, 2,3"), Ok(vec![1, 2, 3]));
        assert!(parse_admins("1,x").is_err());
        assert_eq!(parse_timezone("Europe/Moscow"), Ok(chrono_tz::Europe::Moscow));
        assert!(parse_timezone("Mars/Olympus").is_err());
    }
}
