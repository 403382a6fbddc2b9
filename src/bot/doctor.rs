//! `postkeeper doctor`: what a channel admin runs once before going live. The same
//! checks run when the bot starts, where each failure is a warning in the log.

use std::io::Write;

use teloxide::prelude::*;
use teloxide::types::Me;
use teloxide::{ApiError, RequestError};

use super::send::{recipient, retry};
use crate::config::{ChatRef, Config};
use crate::settings::Settings;

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Pass(String),
    /// Nothing to check: a feature that is off.
    Off(String),
    /// A problem, and its fix in one sentence.
    Fail {
        problem: String,
        fix: String,
    },
}

impl Check {
    fn fail(problem: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::Fail { problem: problem.into(), fix: fix.into() }
    }

    /// `✓ text`, `– text`, or `✗ problem` with the fix on the next line.
    pub fn line(&self) -> String {
        match self {
            Check::Pass(text) => format!("✓ {text}"),
            Check::Off(text) => format!("– {text}"),
            Check::Fail { problem, fix } => format!("✗ {problem}\n  → {fix}"),
        }
    }
}

/// What `getMe` told of the token.
pub enum Token {
    Works(Me),
    /// Telegram refused it: only a new token helps.
    Refused,
    /// Telegram did not answer (network, DNS, timeout, 5xx): worth trying again.
    Unreachable,
}

/// The token: `getMe` (429s waited out). The bot's identity is needed by the chat checks.
pub async fn token(bot: &Bot, api_url: Option<&url::Url>) -> (Check, Token) {
    match retry("getMe", || bot.get_me().send()).await {
        Ok(me) => {
            let check = Check::Pass(format!("the token works: @{} ({}, id {})", me.username(), me.first_name, me.id));
            (check, Token::Works(me))
        }
        Err(RequestError::Api(ApiError::InvalidToken)) => (
            Check::fail(
                "the Bot API refuses the token (Unauthorized)",
                "get the token from @BotFather (/mybots → API Token) and put it in TELOXIDE_TOKEN",
            ),
            Token::Refused,
        ),
        Err(e) => {
            let server = api_url.map_or_else(|| "api.telegram.org".to_string(), ToString::to_string);
            (
                Check::fail(
                    format!("cannot reach the Bot API at {server}: {e}"),
                    "check the network connection, or TELOXIDE_API_URL if you use a Bot API server of your own",
                ),
                Token::Unreachable,
            )
        }
    }
}

/// What the bot needs to be in a chat.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Replays: post messages.
    Poster,
    /// The live archive: a channel sends its posts only to bots that are its admins.
    Reader,
}

/// The bot's standing in the replay chat and the source chat.
pub async fn chats(bot: &Bot, me: &Me, config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    match &config.replay_chat {
        Some(chat) => checks.push(chat_check(bot, me, "POSTKEEPER_REPLAY_CHAT", chat, Role::Poster).await),
        None => checks.push(Check::Off("replays are off: POSTKEEPER_REPLAY_CHAT is not set".into())),
    }
    match &config.source_chat {
        Some(chat) => checks.push(chat_check(bot, me, "POSTKEEPER_SOURCE_CHAT", chat, Role::Reader).await),
        None => checks.push(Check::Off("the live archive is off: POSTKEEPER_SOURCE_CHAT is not set".into())),
    }
    checks
}

async fn chat_check(bot: &Bot, me: &Me, var: &str, chat: &ChatRef, role: Role) -> Check {
    let bot_name = format!("@{}", me.username());
    let add = match role {
        Role::Poster => format!("add {bot_name} to {chat} as an administrator with the right \"Post messages\""),
        Role::Reader => format!(
            "add {bot_name} to {chat} as an administrator (a channel sends its new posts only to bots that are its admins)"
        ),
    };
    let info = match bot.get_chat(recipient(chat)).await {
        Ok(info) => info,
        Err(RequestError::Api(ApiError::ChatNotFound)) => {
            return Check::fail(
                format!("{var} {chat}: Telegram finds no such chat for this bot"),
                format!("check the name or id, then {add}"),
            );
        }
        Err(e) => return Check::fail(format!("{var} {chat}: getChat failed: {e}"), format!("check {var}, then {add}")),
    };
    let title = info.title().unwrap_or("untitled");
    let member = match bot.get_chat_member(recipient(chat), me.id).await {
        Ok(member) => member,
        Err(RequestError::Api(e)) if matches!(e, ApiError::ChatNotFound) || e.to_string().contains("Forbidden") => {
            return Check::fail(format!("{var} {chat} («{title}»): {bot_name} is not a member"), add);
        }
        Err(e) => return Check::fail(format!("{var} {chat}: getChatMember failed: {e}"), add),
    };
    let kind = &member.kind;
    let channel = info.is_channel();
    match role {
        Role::Poster if channel && kind.can_post_messages() => {
            Check::Pass(format!("{var} {chat} («{title}»): {bot_name} may post there"))
        }
        Role::Poster if !channel && (kind.is_privileged() || kind.is_member()) => {
            Check::Pass(format!("{var} {chat} («{title}»): {bot_name} is a member and may post there"))
        }
        Role::Poster if kind.is_administrator() => Check::fail(
            format!("{var} {chat} («{title}»): {bot_name} is an administrator without the right to post"),
            format!("give {bot_name} the right \"Post messages\" in {chat}'s administrators"),
        ),
        Role::Reader if kind.is_privileged() => {
            Check::Pass(format!("{var} {chat} («{title}»): {bot_name} is an administrator, new posts will be archived"))
        }
        _ => Check::fail(format!("{var} {chat} («{title}»): {bot_name} is not an administrator there"), add),
    }
}

/// Admins and the replay chat go together.
pub fn admins(config: &Config) -> Check {
    match (&config.replay_chat, config.admins.is_empty()) {
        (Some(_), true) => Check::fail(
            "POSTKEEPER_REPLAY_CHAT is set but POSTKEEPER_ADMINS is empty: nobody may replay or schedule",
            "put your Telegram user id in POSTKEEPER_ADMINS (send /id to the bot: it answers with the line to paste)",
        ),
        (None, false) => Check::fail(
            "POSTKEEPER_ADMINS is set but POSTKEEPER_REPLAY_CHAT is not: replays have nowhere to go",
            "set POSTKEEPER_REPLAY_CHAT to the channel's @username or id (e.g. -1001234567890)",
        ),
        (None, true) => {
            Check::Off("no admins: POSTKEEPER_ADMINS is not set (send /id to the bot to learn your id)".into())
        }
        (Some(_), false) => {
            let ids: Vec<String> = config.admins.iter().map(i64::to_string).collect();
            Check::Pass(format!("admins who may replay and schedule: {}", ids.join(", ")))
        }
    }
}

/// The store, read without changing it.
pub fn store(config: &Config) -> Check {
    let db = config.db.display();
    if !config.db.exists() {
        return Check::Pass(format!(
            "the store {db} does not exist yet: the bot creates it, with the demo archive until your channel arrives"
        ));
    }
    match crate::store::inspect(&config.db) {
        Ok(info) => {
            let upgrade = if info.schema < info.known as i64 {
                format!(" (upgraded to {} when the bot starts)", info.known)
            } else {
                String::new()
            };
            let channels = if info.channels.is_empty() { "no channel".to_string() } else { info.channels.join(", ") };
            let demo = if info.channels.iter().any(|c| c.ends_with("(demo)")) {
                "; the demo goes when your own channel arrives (an import or the first live post)"
            } else {
                ""
            };
            Check::Pass(format!(
                "the store {db} opens: schema {}{upgrade}, {} posts in {channels}{demo}, {} pending replay jobs",
                info.schema, info.posts, info.pending_jobs
            ))
        }
        Err(e) => Check::fail(
            format!("the store {db} cannot be read: {e}"),
            "point POSTKEEPER_DB at a postkeeper store, or at a new file to start afresh",
        ),
    }
}

pub fn timezone(config: &Config) -> Check {
    let now = chrono::Utc::now().with_timezone(&config.timezone);
    Check::Pass(format!("time zone {}: it is {} there now", config.timezone.name(), now.format("%Y-%m-%d %H:%M (%:z)")))
}

/// How recent a delivery error must be to count as a problem now.
const RECENT_ERROR_SECS: i64 = 3600;

/// The webhook as Telegram has it (`getWebhookInfo`) against the settings: polling with
/// none set, or webhook mode with its URL set and no recent delivery error.
pub async fn webhook(bot: &Bot, settings: &Settings) -> Check {
    let info = match retry("getWebhookInfo", || bot.get_webhook_info().send()).await {
        Ok(info) => info,
        Err(e) => {
            return Check::fail(
                format!("cannot ask Telegram for the webhook: {e}"),
                "check the token and the network, then run `postkeeper doctor` again",
            );
        }
    };
    let pending = info.pending_update_count;
    let Some(wanted) = settings.webhook.as_ref().map(|h| &h.url) else {
        return match info.url {
            None => Check::Off("long polling (POSTKEEPER_WEBHOOK_URL is not set)".to_string()),
            Some(url) => Check::Off(format!(
                "long polling; a webhook is set ({url}, {pending} updates waiting): `postkeeper run` deletes it at start"
            )),
        };
    };
    match info.url {
        None => Check::Off(format!("webhook mode: `postkeeper run` sets {wanted} at start (none is set now)")),
        Some(url) if url.as_str() != wanted.as_str() => Check::fail(
            format!("Telegram sends updates to {url}, not to {wanted}"),
            "start `postkeeper run` with these settings (it sets the webhook), and look for another program using the token",
        ),
        Some(url) => {
            let now = chrono::Utc::now();
            let recent = info
                .last_error_date
                .filter(|at| (now - *at).num_seconds() < RECENT_ERROR_SECS)
                .zip(info.last_error_message.clone());
            match recent {
                Some((at, message)) => Check::fail(
                    format!(
                        "Telegram cannot deliver to {url}: {message} ({} s ago), {pending} updates waiting",
                        (now - at).num_seconds().max(0)
                    ),
                    format!(
                        "check that the bot runs and that the proxy forwards {} to POSTKEEPER_LISTEN (see deploy/Caddyfile)",
                        url.path()
                    ),
                ),
                None => Check::Pass(format!("webhook {url}: set, {pending} updates waiting, no recent delivery error")),
            }
        }
    }
}

/// Every check, in the order they are shown.
pub async fn all(bot: &Bot, settings: &Settings) -> Vec<Check> {
    let config = &settings.config;
    let (token, me) = token(bot, settings.api_url.as_ref()).await;
    let mut checks = vec![token];
    match &me {
        Token::Works(me) => {
            checks.extend(chats(bot, me, config).await);
            checks.push(webhook(bot, settings).await);
        }
        Token::Refused | Token::Unreachable => checks.push(Check::fail(
            "the channels cannot be checked without a working token",
            "fix the token first, then run `postkeeper doctor` again",
        )),
    }
    checks.push(admins(config));
    checks.push(store(config));
    checks.push(timezone(config));
    checks
}

/// Prints the checklist; true when nothing failed.
pub async fn run(settings: &Settings, token: &str, out: &mut impl Write) -> anyhow::Result<bool> {
    let bot = super::make_bot(token, settings.api_url.as_ref(), settings.poll_timeout);
    let checks = all(&bot, settings).await;
    for check in &checks {
        writeln!(out, "{}", check.line())?;
    }
    let failed = checks.iter().filter(|c| matches!(c, Check::Fail { .. })).count();
    match failed {
        0 => writeln!(out, "\nall checks passed")?,
        1 => writeln!(out, "\n1 check failed")?,
        n => writeln!(out, "\n{n} checks failed")?,
    }
    Ok(failed == 0)
}
