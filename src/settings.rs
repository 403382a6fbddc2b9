//! Where each setting comes from: a command-line flag beats the environment, which beats
//! `.env` in the working directory, which beats the default. Every value is checked here,
//! before any command runs, so a bad one stops the start with a message that names the
//! setting, the value and an example of a good one — and nothing has been touched yet.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{ChatRef, Config, parse_admins, parse_bool, parse_duration, parse_timezone, show_duration};

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    DotEnv,
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::DotEnv => ".env",
            Source::Default => "default",
        })
    }
}

/// A value never printed: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A bot token's id part is public (it is the bot's user id); the rest is not.
    pub fn redacted(&self) -> String {
        match self.0.split_once(':') {
            Some((id, _)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => format!("{id}:<redacted>"),
            _ => "<redacted>".to_string(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One setting, described once: its variable, its flag, a good value, its default and
/// what it is. The command line's flags (`cli::Global`), `postkeeper config`'s order and
/// the checks of docs/settings.md and .env.example (tests/it/settings.rs) come from here;
/// each value is parsed in [`Settings::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub var: &'static str,
    /// The flag without its dashes; `None` for settings with no flag.
    pub flag: Option<&'static str>,
    pub example: &'static str,
    /// What the flag's value is, for `--help` (`FILE`, `URL`).
    pub value_name: &'static str,
    /// The default, as docs/settings.md's table gives it (Markdown).
    pub default: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// The value may begin with `-` (a chat id, a header).
    pub hyphens: bool,
}

impl Spec {
    const fn new(var: &'static str, flag: Option<&'static str>, example: &'static str) -> Spec {
        Spec { var, flag, example, value_name: "VALUE", default: "none", help: "", hyphens: false }
    }

    const fn value(self, value_name: &'static str) -> Spec {
        Spec { value_name, ..self }
    }

    const fn default(self, default: &'static str) -> Spec {
        Spec { default, ..self }
    }

    const fn help(self, help: &'static str) -> Spec {
        Spec { help, ..self }
    }

    const fn hyphens(self) -> Spec {
        Spec { hyphens: true, ..self }
    }

    /// The flag's line in `--help`: what it is, its variable and its default.
    pub fn help_line(&self) -> String {
        let default = self.default.replace('`', "");
        if default == "none" {
            format!("{} [env: {}]", self.help, self.var)
        } else if default.starts_with("not set") {
            format!("{} [env: {}; {default}]", self.help, self.var)
        } else {
            format!("{} [env: {}; default: {default}]", self.help, self.var)
        }
    }
}

pub const TOKEN: Spec = Spec::new("TELOXIDE_TOKEN", Some("token"), "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
    .value("TOKEN")
    .help("Bot token from @BotFather, needed by `run` and `doctor`");
pub const API_URL: Spec = Spec::new("TELOXIDE_API_URL", Some("api-url"), "http://127.0.0.1:8081/")
    .value("URL")
    .default("`api.telegram.org`")
    .help("Bot API server URL: a self-hosted server, or a fake one in tests");
pub const DB: Spec = Spec::new("POSTKEEPER_DB", Some("db"), "postkeeper.db")
    .value("FILE")
    .default("`postkeeper.db`")
    .help("SQLite file of the archive");
pub const MEDIA_DIR: Spec = Spec::new("POSTKEEPER_MEDIA_DIR", Some("media-dir"), "/var/lib/postkeeper/media")
    .value("DIR")
    .default("`media/` beside the store file")
    .help("Folder of media files copied from exports");
pub const ADMINS: Spec = Spec::new("POSTKEEPER_ADMINS", Some("admins"), "123456789,987654321")
    .value("IDS")
    .help("Comma-separated Telegram user ids allowed to replay and schedule");
pub const REPLAY_CHAT: Spec =
    Spec::new("POSTKEEPER_REPLAY_CHAT", Some("replay-chat"), "@my_channel (or -1001234567890)")
        .value("CHAT")
        .default("not set: replays off")
        .help("Chat id or @username of the channel replays go to")
        .hyphens();
pub const SOURCE_CHAT: Spec =
    Spec::new("POSTKEEPER_SOURCE_CHAT", Some("source-chat"), "@my_channel (or -1001234567890)")
        .value("CHAT")
        .default("not set: live archive off")
        .help("Chat id or @username of the channel whose new posts are archived live")
        .hyphens();
pub const TIMEZONE: Spec = Spec::new("POSTKEEPER_TIMEZONE", Some("timezone"), "Europe/Moscow")
    .value("ZONE")
    .default("`UTC`")
    .help("IANA time zone for dates and schedules");
pub const REPLAY_HEADER: Spec = Spec::new("POSTKEEPER_REPLAY_HEADER", Some("replay-header"), "Из архива, {date}")
    .value("TEXT")
    .help("Optional first line of each replay; {date} becomes the post's date")
    .hyphens();
pub const REPLAY_GRACE: Spec = Spec::new("POSTKEEPER_REPLAY_GRACE", Some("replay-grace"), "24h")
    .value("DURATION")
    .default("`24h`")
    .help("How late an overdue replay may still go out after a restart");
pub const REPLAY_PREVIEWS: Spec = Spec::new("POSTKEEPER_REPLAY_PREVIEWS", Some("replay-previews"), "false")
    .value("BOOL")
    .default("`true`")
    .help("Link previews under replayed posts, true or false");
pub const POLL_TIMEOUT: Spec = Spec::new("POSTKEEPER_POLL_TIMEOUT", Some("poll-timeout"), "25s")
    .value("DURATION")
    .default("`25s`")
    .help("How long each long poll waits for updates, 1s to 50s");
pub const LISTEN: Spec = Spec::new("POSTKEEPER_LISTEN", Some("listen"), "127.0.0.1:8080")
    .value("ADDR:PORT")
    .help("Address and port of the HTTP server of `run` (webhook, /healthz, /metrics)");
pub const WEBHOOK_URL: Spec =
    Spec::new("POSTKEEPER_WEBHOOK_URL", Some("webhook-url"), "https://bot.example.org/telegram")
        .value("URL")
        .default("not set: long polling")
        .help("Public https:// URL Telegram sends updates to (webhook mode; needs --listen)");
pub const WEBHOOK_SECRET: Spec =
    Spec::new("POSTKEEPER_WEBHOOK_SECRET", Some("webhook-secret"), "a-long-random-string_of-letters-digits-_-and--")
        .value("SECRET")
        .default("generated once, kept in the store")
        .help("Secret token Telegram sends with each update");
pub const PUBLIC_URL: Spec = Spec::new("POSTKEEPER_PUBLIC_URL", Some("public-url"), "https://archive.example.org/")
    .value("URL")
    .default("not set: relative links")
    .help("The web archive's public address, for absolute links (canonical, previews)");
pub const BACKUP_DIR: Spec = Spec::new("POSTKEEPER_BACKUP_DIR", Some("backup-dir"), "/var/backups/postkeeper")
    .value("DIR")
    .default("not set: no automatic backups")
    .help("Folder where `run` makes a backup of the store every day");
pub const BACKUP_KEEP: Spec = Spec::new("POSTKEEPER_BACKUP_KEEP", Some("backup-keep"), "7")
    .value("N")
    .default("`7`")
    .help("How many daily backups to keep (the oldest are deleted)");
pub const LOG_FORMAT: Spec = Spec::new("POSTKEEPER_LOG_FORMAT", Some("log-format"), "json")
    .value("FORMAT")
    .default("`text`")
    .help("Log lines as `text` or `json`");
pub const LOG: Spec = Spec::new("RUST_LOG", None, "info,postkeeper=debug").default("`info`").help("The log filter");

/// Every setting, in the order `postkeeper config` shows them.
pub const ALL: &[Spec] = &[
    TOKEN,
    API_URL,
    DB,
    MEDIA_DIR,
    ADMINS,
    REPLAY_CHAT,
    SOURCE_CHAT,
    TIMEZONE,
    REPLAY_HEADER,
    REPLAY_GRACE,
    REPLAY_PREVIEWS,
    POLL_TIMEOUT,
    LISTEN,
    WEBHOOK_URL,
    WEBHOOK_SECRET,
    PUBLIC_URL,
    BACKUP_DIR,
    BACKUP_KEEP,
    LOG_FORMAT,
    LOG,
];

/// The longest replay header, in UTF-16 units as Telegram counts: a line or two, leaving
/// the first message (and a media caption's 1024) to the post itself.
pub const REPLAY_HEADER_LIMIT: usize = 200;

/// The token `.env.example` ships with: set, well-formed, and useless.
const EXAMPLE_TOKEN: &str = "123456789:replace-with-your-token";

/// A setting that cannot be used, or a `.env` that cannot be read: which, from where, and
/// what is wrong; shown as one line that also gives what was given (unless it is secret)
/// and an example of a good value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The setting's variable (`POSTKEEPER_ADMINS`), or `.env` when the file cannot be read.
    pub setting: &'static str,
    pub source: Source,
    /// What is wrong (`is not a number`).
    pub problem: String,
    line: String,
}

impl SettingError {
    fn bad(spec: Spec, source: Source, value: Option<&str>, problem: &str) -> Self {
        let given = match (source, spec.flag, value) {
            (Source::Flag, Some(flag), Some(v)) => format!("--{flag} {v:?}"),
            (Source::Flag, Some(flag), None) => format!("--{flag}"),
            (_, _, Some(v)) => format!("{}={v:?} (from {source})", spec.var),
            (_, _, None) => format!("{} (from {source})", spec.var),
        };
        let example = match spec.flag {
            Some(flag) => format!("{}={} or --{flag} {}", spec.var, spec.example, spec.example),
            None => format!("{}={}", spec.var, spec.example),
        };
        SettingError {
            setting: spec.var,
            source,
            problem: problem.to_string(),
            line: format!("{given}: {problem}. Example: {example}"),
        }
    }

    /// `.env` at `path` cannot be read.
    fn dotenv(path: &Path, problem: String) -> Self {
        let line = format!(
            "{} cannot be read: {problem}. Fix or remove it; each line is NAME=value, e.g. POSTKEEPER_TIMEZONE=Europe/Moscow",
            path.display()
        );
        SettingError { setting: ".env", source: Source::DotEnv, problem, line }
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

impl std::error::Error for SettingError {}

/// The raw values before they are checked: flags, the environment, `.env`.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// Keyed by the flag's name without dashes (`db`, `replay-chat`).
    pub flags: HashMap<&'static str, String>,
    pub env: HashMap<String, String>,
    pub dotenv: HashMap<String, String>,
}

impl Sources {
    /// The process's environment and `.env` in `dir` (a missing `.env` is no error).
    pub fn from_process(flags: HashMap<&'static str, String>, dir: &Path) -> Result<Sources, SettingError> {
        let mut env = HashMap::new();
        for spec in ALL {
            match std::env::var(spec.var) {
                Ok(v) => {
                    env.insert(spec.var.to_string(), v);
                }
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(SettingError::bad(*spec, Source::Env, None, "is not valid UTF-8"));
                }
            }
        }
        let dotenv = read_dotenv(&dir.join(".env"))?;
        Ok(Sources { flags, env, dotenv })
    }

    fn lookup(&self, spec: Spec) -> Option<(&str, Source)> {
        if let Some(v) = spec.flag.and_then(|f| self.flags.get(f)) {
            return Some((v, Source::Flag));
        }
        if let Some(v) = self.env.get(spec.var) {
            return Some((v, Source::Env));
        }
        self.dotenv.get(spec.var).map(|v| (v.as_str(), Source::DotEnv))
    }
}

/// `.env`'s settings, without putting them into the process's environment (so that
/// `postkeeper config` can tell them from the environment's).
fn read_dotenv(path: &Path) -> Result<HashMap<String, String>, SettingError> {
    let unreadable = |e: &dyn fmt::Display| SettingError::dotenv(path, e.to_string());
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(unreadable(&e)),
        Ok(m) if !m.is_file() => return Err(unreadable(&"it is not a file")),
        Ok(_) => {}
    }
    let iter = dotenvy::from_path_iter(path).map_err(|e| unreadable(&e))?;
    let mut values = HashMap::new();
    for item in iter {
        let (k, v) = item.map_err(|e| unreadable(&e))?;
        values.insert(k, v);
    }
    Ok(values)
}

/// A setting as `postkeeper config` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub var: &'static str,
    pub value: String,
    pub source: Source,
}

/// Webhook mode's settings.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The public `https://` URL Telegram calls; its path is served on the listen address.
    pub url: url::Url,
    /// The secret token Telegram sends back with each update; generated and kept in the
    /// store when not given.
    pub secret: Option<Secret>,
}

/// Ports Telegram's own servers call webhooks on (a self-hosted Bot API server calls any).
pub const WEBHOOK_PORTS: &[u16] = &[443, 80, 88, 8443];

/// Paths of the HTTP server (health, metrics, the web archive) that a webhook must not take.
const SERVED_PATHS: &[&str] = &["/", "/healthz", "/metrics", "/search", "/robots.txt", "/sitemap.xml"];
/// Beginnings of the web archive's paths.
const SERVED_PREFIXES: &[&str] = &["/media/", "/p/", "/c/"];

/// Every setting, checked: what the commands run with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    /// The bot token and where it came from; see [`Settings::bot_token`].
    token: Option<(Secret, Source)>,
    pub api_url: Option<url::Url>,
    /// How long each getUpdates waits for updates.
    pub poll_timeout: Duration,
    /// Where the HTTP server (`/healthz`, `/metrics`) listens; none without it.
    pub listen: Option<std::net::SocketAddr>,
    /// Webhook mode: where Telegram POSTs updates; polling without it.
    pub webhook: Option<Webhook>,
    /// Where `run` keeps daily backups, and how many.
    pub backup_dir: Option<PathBuf>,
    pub backup_keep: usize,
    /// Log lines as JSON (for log shippers) rather than text.
    pub log_json: bool,
    pub log_filter: String,
    pub shown: Vec<Shown>,
}

impl Settings {
    /// Checks every setting; the first bad one is the error.
    pub fn resolve(sources: &Sources) -> Result<Settings, SettingError> {
        let mut shown = Vec::with_capacity(ALL.len());
        let take = |spec: Spec| {
            let found = sources.lookup(spec);
            let source = found.map_or(Source::Default, |(_, s)| s);
            (found.map(|(v, _)| v.trim()).filter(|v| !v.is_empty()), source)
        };
        let bad = |spec, source, value: &str, problem: &str| SettingError::bad(spec, source, Some(value), problem);

        let (value, token_source) = take(TOKEN);
        let token = match value {
            None => None,
            Some(t) if looks_like_token(t) => Some((Secret::new(t), token_source)),
            // The value is not repeated: it may be a real token with a typo.
            Some(_) => {
                return Err(SettingError::bad(
                    TOKEN,
                    token_source,
                    None,
                    "does not look like a bot token (digits, a colon, then letters, digits, - and _)",
                ));
            }
        };
        shown.push(Shown {
            var: TOKEN.var,
            value: match &token {
                None => "(not set)".to_string(),
                Some((t, _)) if t.expose() == EXAMPLE_TOKEN => "(the placeholder of .env.example)".to_string(),
                Some((t, _)) => t.redacted(),
            },
            source: token_source,
        });

        let (value, source) = take(API_URL);
        let api_url = match value {
            None => None,
            Some(v) => Some(parse_api_url(v).map_err(|p| bad(API_URL, source, v, &p))?),
        };
        shown.push(Shown {
            var: API_URL.var,
            value: api_url.as_ref().map_or_else(|| "(not set: api.telegram.org)".to_string(), |u| u.to_string()),
            source,
        });

        let (value, source) = take(DB);
        let db = PathBuf::from(value.unwrap_or("postkeeper.db"));
        shown.push(Shown { var: DB.var, value: db.display().to_string(), source });

        let (value, source) = take(MEDIA_DIR);
        let media_dir = match value {
            None => db.parent().unwrap_or(Path::new("")).join("media"),
            Some(v) => {
                let dir = PathBuf::from(v);
                if dir.exists() && !dir.is_dir() {
                    return Err(bad(MEDIA_DIR, source, v, "is a file, not a folder"));
                }
                dir
            }
        };
        shown.push(Shown { var: MEDIA_DIR.var, value: media_dir.display().to_string(), source });

        let (value, source) = take(ADMINS);
        let admins = match value {
            None => Vec::new(),
            Some(v) => parse_admins(v).map_err(|p| bad(ADMINS, source, v, &p))?,
        };
        let admins_shown = admins.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        shown.push(Shown {
            var: ADMINS.var,
            value: if admins.is_empty() { "(none)".to_string() } else { admins_shown },
            source,
        });

        let mut chat = |spec: Spec| -> Result<Option<ChatRef>, SettingError> {
            let (value, source) = take(spec);
            let chat = match value {
                None => None,
                Some(v) => Some(v.parse::<ChatRef>().map_err(|p| bad(spec, source, v, &p))?),
            };
            shown.push(Shown {
                var: spec.var,
                value: chat.as_ref().map_or_else(|| "(not set)".to_string(), ToString::to_string),
                source,
            });
            Ok(chat)
        };
        let replay_chat = chat(REPLAY_CHAT)?;
        let source_chat = chat(SOURCE_CHAT)?;

        let (value, source) = take(TIMEZONE);
        let timezone = match value {
            None => chrono_tz::Tz::UTC,
            Some(v) => parse_timezone(v).map_err(|p| bad(TIMEZONE, source, v, &p))?,
        };
        shown.push(Shown { var: TIMEZONE.var, value: timezone.name().to_string(), source });

        // The header keeps its inner spacing; only a blank one is no header.
        let found = sources.lookup(REPLAY_HEADER);
        let source = found.map_or(Source::Default, |(_, s)| s);
        let replay_header = found.map(|(v, _)| v.to_string()).filter(|h| !h.trim().is_empty());
        if let Some(h) = &replay_header {
            let units = h.encode_utf16().count();
            if units > REPLAY_HEADER_LIMIT {
                let problem =
                    format!("is {units} characters long; a replay header may have at most {REPLAY_HEADER_LIMIT}");
                return Err(SettingError::bad(REPLAY_HEADER, source, None, &problem));
            }
        }
        shown.push(Shown {
            var: REPLAY_HEADER.var,
            value: replay_header.clone().unwrap_or_else(|| "(none)".to_string()),
            source,
        });

        let (value, source) = take(REPLAY_GRACE);
        let replay_grace = match value {
            None => Duration::from_secs(24 * 3600),
            Some(v) => parse_duration(v).map_err(|p| bad(REPLAY_GRACE, source, v, &p))?,
        };
        shown.push(Shown { var: REPLAY_GRACE.var, value: show_duration(replay_grace), source });

        let (value, source) = take(REPLAY_PREVIEWS);
        let replay_previews = match value {
            None => true,
            Some(v) => parse_bool(v).map_err(|p| bad(REPLAY_PREVIEWS, source, v, &p))?,
        };
        shown.push(Shown { var: REPLAY_PREVIEWS.var, value: replay_previews.to_string(), source });

        let (value, source) = take(POLL_TIMEOUT);
        let poll_timeout = match value {
            None => Duration::from_secs(25),
            Some(v) => {
                let d = parse_duration(v).map_err(|p| bad(POLL_TIMEOUT, source, v, &p))?;
                if !(1..=50).contains(&d.as_secs()) || d.subsec_nanos() != 0 {
                    return Err(bad(
                        POLL_TIMEOUT,
                        source,
                        v,
                        "must be whole seconds from 1s to 50s (Telegram's limit)",
                    ));
                }
                d
            }
        };
        shown.push(Shown { var: POLL_TIMEOUT.var, value: show_duration(poll_timeout), source });

        let (value, source) = take(LISTEN);
        let listen =
            match value {
                None => None,
                Some(v) => Some(v.parse::<std::net::SocketAddr>().map_err(|_| {
                    bad(LISTEN, source, v, "is not an address and port (an IP address, a colon, a port)")
                })?),
            };
        shown.push(Shown {
            var: LISTEN.var,
            value: listen.map_or_else(|| "(not set: no HTTP server)".to_string(), |a| a.to_string()),
            source,
        });

        let (value, url_source) = take(WEBHOOK_URL);
        let webhook_url = match value {
            None => None,
            Some(v) => Some(parse_webhook_url(v, api_url.is_some()).map_err(|p| bad(WEBHOOK_URL, url_source, v, &p))?),
        };
        if let (Some(url), None) = (&webhook_url, listen) {
            let problem = format!(
                "needs {} too: the local address the proxy forwards Telegram's requests to (e.g. {}=127.0.0.1:8080)",
                LISTEN.var, LISTEN.var
            );
            return Err(bad(WEBHOOK_URL, url_source, url.as_str(), &problem));
        }
        shown.push(Shown {
            var: WEBHOOK_URL.var,
            value: webhook_url.as_ref().map_or_else(|| "(not set: long polling)".to_string(), ToString::to_string),
            source: url_source,
        });

        let (value, source) = take(WEBHOOK_SECRET);
        let webhook_secret = match value {
            None => None,
            // The value is not repeated: it is a secret.
            Some(v) if !valid_webhook_secret(v) => {
                return Err(SettingError::bad(
                    WEBHOOK_SECRET,
                    source,
                    None,
                    "must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -",
                ));
            }
            Some(v) => Some(Secret::new(v)),
        };
        shown.push(Shown {
            var: WEBHOOK_SECRET.var,
            value: match (&webhook_secret, &webhook_url) {
                (Some(_), _) => "(set)".to_string(),
                (None, Some(_)) => "(not set: generated once and kept in the store)".to_string(),
                (None, None) => "(not set)".to_string(),
            },
            source,
        });
        let webhook = webhook_url.map(|url| Webhook { url, secret: webhook_secret });

        let (value, source) = take(PUBLIC_URL);
        let public_url = match value {
            None => None,
            Some(v) => {
                let mut url = parse_api_url(v)
                    .map_err(|_| bad(PUBLIC_URL, source, v, "is not an http:// or https:// URL with a host"))?;
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(bad(PUBLIC_URL, source, v, "has a query or a fragment"));
                }
                if !url.path().ends_with('/') {
                    url.set_path(&format!("{}/", url.path()));
                }
                Some(url)
            }
        };
        shown.push(Shown {
            var: PUBLIC_URL.var,
            value: public_url.as_ref().map_or_else(|| "(not set: relative links)".to_string(), ToString::to_string),
            source,
        });

        let (value, source) = take(BACKUP_DIR);
        let backup_dir = match value {
            None => None,
            Some(v) => {
                let dir = PathBuf::from(v);
                if dir.exists() && !dir.is_dir() {
                    return Err(bad(BACKUP_DIR, source, v, "is a file, not a folder"));
                }
                Some(dir)
            }
        };
        shown.push(Shown {
            var: BACKUP_DIR.var,
            value: backup_dir
                .as_ref()
                .map_or_else(|| "(not set: no automatic backups)".to_string(), |d| d.display().to_string()),
            source,
        });
        let (value, source) = take(BACKUP_KEEP);
        let backup_keep = match value {
            None => 7,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => return Err(bad(BACKUP_KEEP, source, v, "is not a number from 1 to 1000")),
            },
        };
        shown.push(Shown { var: BACKUP_KEEP.var, value: backup_keep.to_string(), source });

        let (value, source) = take(LOG_FORMAT);
        let log_json = match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(_) => {
                let v = value.unwrap_or_default();
                return Err(bad(LOG_FORMAT, source, v, "is neither text nor json"));
            }
        };
        shown.push(Shown { var: LOG_FORMAT.var, value: if log_json { "json" } else { "text" }.to_string(), source });

        let (value, source) = take(LOG);
        let log_filter = value.unwrap_or("info").to_string();
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_filter) {
            return Err(bad(LOG, source, &log_filter, &format!("is not a log filter ({e})")));
        }
        shown.push(Shown { var: LOG.var, value: log_filter.clone(), source });

        let config = Config {
            db,
            media_dir,
            admins,
            replay_chat,
            source_chat,
            timezone,
            replay_header,
            replay_grace,
            replay_previews,
            public_url,
        };
        Ok(Settings {
            config,
            token,
            api_url,
            poll_timeout,
            listen,
            webhook,
            backup_dir,
            backup_keep,
            log_json,
            log_filter,
            shown,
        })
    }

    /// The token, for the commands that talk to Telegram (`run`, `doctor`). The placeholder
    /// `.env.example` ships with is refused here, not when the settings are read: an
    /// operator who copied the example may use every other command before filling it in.
    pub fn bot_token(&self) -> Result<Option<&Secret>, SettingError> {
        match &self.token {
            Some((t, source)) if t.expose() == EXAMPLE_TOKEN => Err(SettingError::bad(
                TOKEN,
                *source,
                None,
                "is still the placeholder of .env.example; put the token @BotFather gave you",
            )),
            Some((t, _)) => Ok(Some(t)),
            None => Ok(None),
        }
    }

    /// `postkeeper config`: one line per setting — name, where it came from, value.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for s in &self.shown {
            out.push_str(&format!("{:<27} {:<8} {}\n", s.var, s.source.to_string(), s.value));
        }
        out
    }
}

/// `123456:ABC-def_…`: a number, a colon, then URL-safe characters.
fn looks_like_token(t: &str) -> bool {
    t.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !secret.is_empty()
            && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Telegram's rules for a secret token: 1–256 of `A-Z a-z 0-9 _ -`.
pub fn valid_webhook_secret(s: &str) -> bool {
    (1..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An `https://` URL with a host and a path of its own, on a port Telegram calls (any port
/// with a self-hosted Bot API server).
fn parse_webhook_url(v: &str, self_hosted_api: bool) -> Result<url::Url, String> {
    let url = url::Url::parse(v).map_err(|e| format!("is not a URL ({e})"))?;
    if url.scheme() != "https" || url.host().is_none() {
        return Err("is not an https:// URL: Telegram calls webhooks over HTTPS only".to_string());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("has a query or a fragment; give the URL a plain path".to_string());
    }
    if SERVED_PATHS.contains(&url.path()) || SERVED_PREFIXES.iter().any(|p| url.path().starts_with(p)) {
        return Err(format!(
            "has the path {}, which the HTTP server serves itself; give the webhook a path of its own",
            url.path()
        ));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    if !self_hosted_api && !WEBHOOK_PORTS.contains(&port) {
        return Err(format!("uses port {port}; Telegram calls webhooks only on ports 443, 80, 88 and 8443"));
    }
    Ok(url)
}

/// An http(s) URL with a host (teloxide appends `bot<token>/<method>` to its path).
fn parse_api_url(v: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(v).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("is not an http:// or https:// URL of a Bot API server".to_string());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(flags: &[(&'static str, &str)], env: &[(&str, &str)], dotenv: &[(&str, &str)]) -> Sources {
        let map = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Sources { flags: flags.iter().map(|(k, v)| (*k, v.to_string())).collect(), env: map(env), dotenv: map(dotenv) }
    }

    fn shown<'a>(s: &'a Settings, var: &str) -> &'a Shown {
        s.shown.iter().find(|x| x.var == var).expect("every setting is shown")
    }

    #[test]
    fn a_flag_beats_the_environment_which_beats_dotenv() -> Result<(), SettingError> {
        let s = Settings::resolve(&sources(
            &[("timezone", "Asia/Tokyo")],
            &[("POSTKEEPER_TIMEZONE", "Europe/Moscow"), ("POSTKEEPER_ADMINS", "7")],
            &[("POSTKEEPER_TIMEZONE", "Europe/Paris"), ("POSTKEEPER_ADMINS", "8"), ("POSTKEEPER_DB", "x.db")],
        ))?;
        assert_eq!(s.config.timezone, chrono_tz::Asia::Tokyo);
        assert_eq!(shown(&s, "POSTKEEPER_TIMEZONE").source, Source::Flag);
        assert_eq!(s.config.admins, vec![7]);
        assert_eq!(shown(&s, "POSTKEEPER_ADMINS").source, Source::Env);
        assert_eq!(s.config.db, PathBuf::from("x.db"));
        assert_eq!(shown(&s, "POSTKEEPER_DB").source, Source::DotEnv);
        assert_eq!(shown(&s, "POSTKEEPER_REPLAY_GRACE").source, Source::Default);
        assert_eq!(s.shown.len(), ALL.len());
        Ok(())
    }

    #[test]
    fn the_token_is_never_shown_or_repeated() {
        let token = "987654321:ZZsecretPartOfTheToken";
        let s = Settings::resolve(&sources(&[], &[("TELOXIDE_TOKEN", token)], &[])).expect("valid");
        assert_eq!(s.bot_token().ok().flatten().map(Secret::expose), Some(token));
        assert!(s.describe().contains("987654321:<redacted>"), "{}", s.describe());
        assert!(!s.describe().contains("ZZsecret"), "{}", s.describe());
        assert!(format!("{s:?}").contains("<redacted>") && !format!("{s:?}").contains("ZZsecret"));
        let typo = "987654321:ZZsecret PartOfTheToken";
        let e = Settings::resolve(&sources(&[], &[("TELOXIDE_TOKEN", typo)], &[])).expect_err("refused");
        assert!(!e.to_string().contains("ZZsecret") && e.to_string().contains("TELOXIDE_TOKEN"), "{e}");
        // The placeholder is read (other commands need no token) and refused where it is used.
        let s = Settings::resolve(&sources(&[], &[], &[("TELOXIDE_TOKEN", EXAMPLE_TOKEN)])).expect("read");
        let e = s.bot_token().expect_err("refused");
        assert!(e.to_string().contains("placeholder") && e.to_string().contains("(from .env)"), "{e}");
        assert!(!s.describe().contains("replace-with"), "{}", s.describe());
    }

    #[test]
    fn a_bad_value_names_the_setting_the_value_and_a_good_one() {
        let cases: &[(&str, &str, &str)] = &[
            ("POSTKEEPER_ADMINS", "1001,abc", "123456789,987654321"),
            ("POSTKEEPER_TIMEZONE", "Moscow", "Europe/Moscow"),
            ("POSTKEEPER_REPLAY_GRACE", "soon", "24h"),
            ("POSTKEEPER_REPLAY_CHAT", "channel name with spaces", "@my_channel"),
            ("POSTKEEPER_SOURCE_CHAT", "@x y", "@my_channel"),
            ("TELOXIDE_API_URL", "localhost:8081", "http://127.0.0.1:8081/"),
            ("TELOXIDE_API_URL", "not a url", "http://127.0.0.1:8081/"),
            ("POSTKEEPER_REPLAY_PREVIEWS", "maybe", "false"),
            ("POSTKEEPER_LISTEN", "8080", "127.0.0.1:8080"),
            ("POSTKEEPER_LISTEN", "localhost:80:80", "127.0.0.1:8080"),
            ("POSTKEEPER_LOG_FORMAT", "xml", "json"),
            ("POSTKEEPER_POLL_TIMEOUT", "90s", "25s"),
            ("POSTKEEPER_BACKUP_KEEP", "0", "7"),
            ("POSTKEEPER_BACKUP_KEEP", "many", "7"),
            ("POSTKEEPER_PUBLIC_URL", "archive.example.org", "https://archive.example.org/"),
            ("POSTKEEPER_WEBHOOK_URL", "https://bot.example.org/search", "https://bot.example.org/telegram"),
            ("POSTKEEPER_POLL_TIMEOUT", "0s", "25s"),
            ("POSTKEEPER_WEBHOOK_URL", "http://bot.example.org/telegram", "https://bot.example.org/telegram"),
            ("POSTKEEPER_WEBHOOK_URL", "https://bot.example.org:8080/tg", "https://bot.example.org/telegram"),
            ("POSTKEEPER_WEBHOOK_URL", "https://bot.example.org/", "https://bot.example.org/telegram"),
            ("POSTKEEPER_WEBHOOK_URL", "https://bot.example.org/healthz", "https://bot.example.org/telegram"),
            ("RUST_LOG", "info,postkeeper=loud", "info,postkeeper=debug"),
        ];
        for (var, value, example) in cases {
            let e = Settings::resolve(&sources(&[], &[(var, value)], &[])).expect_err(var);
            assert_eq!((e.setting, e.source), (*var, Source::Env), "{e}");
            assert!(!e.problem.is_empty() && e.to_string().contains(&e.problem), "{e}");
            let e = e.to_string();
            assert!(e.starts_with(&format!("{var}={value:?} (from env)")), "{e}");
            assert!(e.contains(&format!("Example: {var}={example}")), "{e}");
        }
        let e = Settings::resolve(&sources(&[("admins", "1001,abc")], &[], &[])).expect_err("refused");
        assert_eq!((e.setting, e.source), ("POSTKEEPER_ADMINS", Source::Flag));
        assert!(e.to_string().starts_with("--admins \"1001,abc\""), "{e}");
    }

    #[test]
    fn a_webhook_needs_a_listen_address_and_a_well_formed_secret() -> Result<(), SettingError> {
        let url = ("POSTKEEPER_WEBHOOK_URL", "https://bot.example.org/telegram");
        let e = Settings::resolve(&sources(&[], &[url], &[])).expect_err("no listen address");
        assert_eq!(e.setting, "POSTKEEPER_WEBHOOK_URL");
        assert!(e.problem.starts_with("needs POSTKEEPER_LISTEN too"), "{e}");
        let listen = ("POSTKEEPER_LISTEN", "127.0.0.1:8080");
        let s = Settings::resolve(&sources(&[], &[url, listen], &[]))?;
        let hook = s.webhook.as_ref().expect("webhook mode");
        assert_eq!((hook.url.as_str(), hook.secret.is_none()), ("https://bot.example.org/telegram", true));
        assert!(shown(&s, "POSTKEEPER_WEBHOOK_SECRET").value.contains("generated"));
        for bad in ["has space", "", "ä", &"x".repeat(257)] {
            let secret = ("POSTKEEPER_WEBHOOK_SECRET", bad);
            if bad.is_empty() {
                // An empty value is no value: the secret is generated.
                assert!(Settings::resolve(&sources(&[], &[url, listen, secret], &[]))?.webhook.is_some());
                continue;
            }
            let e = Settings::resolve(&sources(&[], &[url, listen, secret], &[])).expect_err("refused").to_string();
            assert!(e.starts_with("POSTKEEPER_WEBHOOK_SECRET (from env): must be 1 to 256"), "{e}");
            assert!(!e.contains(bad), "the secret is not repeated: {e}");
        }
        let secret = ("POSTKEEPER_WEBHOOK_SECRET", "Good_secret-123");
        let s = Settings::resolve(&sources(&[], &[url, listen, secret], &[]))?;
        assert_eq!(s.webhook.as_ref().and_then(|h| h.secret.as_ref()).map(Secret::expose), Some("Good_secret-123"));
        assert!(!s.describe().contains("Good_secret"), "{}", s.describe());
        // A self-hosted Bot API server calls any port.
        let api = ("TELOXIDE_API_URL", "http://127.0.0.1:8081/");
        let odd = ("POSTKEEPER_WEBHOOK_URL", "https://bot.example.org:9443/telegram");
        assert!(Settings::resolve(&sources(&[], &[odd, listen, api], &[]))?.webhook.is_some());
        Ok(())
    }

    #[test]
    fn the_media_folder_defaults_to_beside_the_store_and_must_not_be_a_file() -> Result<(), SettingError> {
        let s = Settings::resolve(&sources(&[("db", "/srv/pk/archive.db")], &[], &[]))?;
        assert_eq!(s.config.media_dir, PathBuf::from("/srv/pk/media"));
        assert_eq!(shown(&s, "POSTKEEPER_MEDIA_DIR").source, Source::Default);
        let s = Settings::resolve(&sources(&[], &[], &[]))?;
        assert_eq!(s.config.media_dir, PathBuf::from("media"));
        let file = tempfile::NamedTempFile::new().map_err(|e| SettingError::dotenv(Path::new("."), e.to_string()))?;
        let path = file.path().display().to_string();
        let e = Settings::resolve(&sources(&[("media-dir", &path)], &[], &[])).expect_err("a file is refused");
        assert!(e.to_string().starts_with(&format!("--media-dir {path:?}: is a file")), "{e}");
        assert!(e.to_string().contains("POSTKEEPER_MEDIA_DIR="), "{e}");
        Ok(())
    }

    #[test]
    fn an_empty_value_clears_the_setting_and_headers_keep_their_spacing() -> Result<(), SettingError> {
        let s = Settings::resolve(&sources(
            &[],
            &[("POSTKEEPER_ADMINS", ""), ("POSTKEEPER_REPLAY_HEADER", "  Из архива  ")],
            &[("POSTKEEPER_ADMINS", "5")],
        ))?;
        assert!(s.config.admins.is_empty());
        assert_eq!(s.config.replay_header.as_deref(), Some("  Из архива  "));
        Ok(())
    }
}
