//! The Telegram shell: updates in, calls of the core, Bot API requests out.
//! `schema()` builds the handler tree; `spawn()` starts a dispatcher and
//! returns its shutdown token, so tests and `run` drive the same code.

pub mod backups;
pub mod doctor;
mod files;
mod handlers;
pub mod http;
pub mod listener;
mod media;
mod outbox;
mod send;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use teloxide::dispatching::{Dispatcher, ShutdownToken, UpdateHandler};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::types::BotCommand;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::i18n::Lang;
use crate::replay::worker::{Passes, Worker};
use crate::replay::{Clock, ReplaySettings};
use crate::search::Searcher;
use crate::settings::Settings;
use crate::store::SharedArchive;

pub use send::{retry, send_reply};

/// What every handler may use.
pub struct BotState {
    pub archive: SharedArchive,
    pub config: Config,
    /// The time replays are scheduled in (a manual clock in tests).
    pub clock: Clock,
    /// Nudges the replay worker when a command changes the queue.
    pub wake: Arc<Notify>,
    /// How far the replay worker has looked at the queue ([`Passes::settle`] waits on it).
    pub passes: Arc<watch::Sender<Passes>>,
    /// What searches share across the store's threads.
    pub searcher: Searcher,
    /// Channel posts as Telegram sent them, for the live archive.
    pub raw: Arc<listener::RawPosts>,
    /// What `/healthz` tells.
    pub health: Arc<http::Health>,
}

impl BotState {
    pub fn new(archive: SharedArchive, config: Config) -> Self {
        Self::with_clock(archive, config, Clock::System)
    }

    pub fn with_clock(archive: SharedArchive, config: Config, clock: Clock) -> Self {
        BotState {
            archive,
            config,
            clock,
            wake: Arc::new(Notify::new()),
            passes: Arc::new(watch::Sender::new(Passes::default())),
            searcher: Searcher::default(),
            raw: Arc::default(),
            health: Arc::default(),
        }
    }
}

/// The handler tree. Kinds without a branch are not requested from Telegram.
pub fn schema() -> UpdateHandler<anyhow::Error> {
    dptree::entry()
        .branch(Update::filter_message().endpoint(handlers::on_message))
        .branch(Update::filter_callback_query().endpoint(handlers::on_callback))
        .branch(Update::filter_inline_query().endpoint(handlers::on_inline))
        .branch(Update::filter_channel_post().endpoint(handlers::on_channel_post))
        .branch(Update::filter_edited_channel_post().endpoint(handlers::on_channel_post))
        .branch(Update::filter_message_reaction_count_updated().endpoint(handlers::on_reaction_count))
}

/// Registers the command menu in Russian (default) and English.
pub async fn register_commands(bot: &Bot) -> Result<(), teloxide::RequestError> {
    for (lang, code) in [(Lang::Ru, None), (Lang::En, Some("en"))] {
        let commands: Vec<BotCommand> =
            lang.texts().command_descriptions.iter().map(|(c, d)| BotCommand::new(*c, *d)).collect();
        let mut request = bot.set_my_commands(commands);
        if let Some(code) = code {
            request = request.language_code(code);
        }
        retry("setMyCommands", || request.clone().send()).await?;
    }
    Ok(())
}

/// A running bot: its dispatcher, its replay worker, and what stops them. Stopped
/// with [`Running::shutdown`], by `run` at a signal and by every test.
pub struct Running {
    task: JoinHandle<()>,
    dispatcher: ShutdownToken,
    worker: Option<JoinHandle<()>>,
    /// Stops the replay worker (after the part it is sending).
    stop_worker: CancellationToken,
    /// Stops the dispatcher's tries to start while Telegram cannot be reached.
    stop_start: CancellationToken,
    /// Builds the phrase index in the background ([`crate::store::keep_phrase_index`]).
    phrases: JoinHandle<()>,
    /// Cancelled when Telegram cut this bot's long poll off for another one on the token.
    conflict: CancellationToken,
    /// Cancelled when the dispatcher has stopped, whatever stopped it.
    ended: CancellationToken,
    /// Why Telegram refused the webhook (webhook mode), when it did.
    refused: Arc<std::sync::OnceLock<String>>,
}

impl Running {
    /// Resolves when the dispatcher stopped without being asked to: another instance
    /// took the token over, or it could not start.
    pub async fn ended(&self) {
        self.ended.cancelled().await;
    }

    pub fn is_conflicted(&self) -> bool {
        self.conflict.is_cancelled()
    }

    /// Why Telegram refused the webhook, when it did (the dispatcher then ends).
    pub fn refused(&self) -> Option<String> {
        self.refused.get().cloned()
    }

    /// Takes no new updates, lets the handlers in hand and the replay part being sent
    /// finish, each wait at most `limit`. After a conflict the dispatcher is dropped
    /// instead: a graceful stop ends with one more getUpdates (to confirm the offset),
    /// which would cut off the other instance's poll in turn; the updates not confirmed
    /// go to the instance that holds the token now.
    pub async fn shutdown(self, limit: Duration) {
        self.stop_worker.cancel();
        self.stop_start.cancel();
        // A step in hand finishes on its store thread; no other begins.
        self.phrases.abort();
        if self.conflict.is_cancelled() {
            self.task.abort();
            if let Some(worker) = self.worker {
                let _ = tokio::time::timeout(limit, worker).await;
            }
            return;
        }
        match self.dispatcher.shutdown() {
            Ok(done) => {
                let _ = tokio::time::timeout(limit, done).await;
            }
            Err(_) => tracing::debug!("dispatcher was not running"),
        }
        let _ = tokio::time::timeout(limit, self.task).await;
        if let Some(worker) = self.worker {
            let _ = tokio::time::timeout(limit, worker).await;
        }
    }
}

/// What `run` says when another process polls with the same token.
pub const CONFLICT: &str = "another instance is running with this token (Telegram cut this one's getUpdates off, or it set a webhook): \
stopping; run one bot per token";

/// Another instance took the token: its getUpdates cut this one's off, or it set a webhook
/// (teloxide reads Telegram's text of that as an unknown error).
fn is_conflict(error: &teloxide::RequestError) -> bool {
    match error {
        teloxide::RequestError::Api(teloxide::ApiError::TerminatedByOtherGetUpdates) => true,
        teloxide::RequestError::Api(teloxide::ApiError::CantGetUpdates) => true,
        teloxide::RequestError::Api(teloxide::ApiError::Unknown(text)) => {
            text.contains("can't use getUpdates method while webhook is active")
        }
        _ => false,
    }
}

/// The long poll's errors: logged, and a 409 (another poller on the token) stops the bot:
/// two pollers would take turns cutting each other off, each seeing half the updates.
struct PollingErrors {
    conflict: CancellationToken,
    /// The bot's `ended`: a conflict ends it as if the dispatcher had stopped.
    ended: CancellationToken,
}

impl teloxide::error_handlers::ErrorHandler<teloxide::RequestError> for PollingErrors {
    fn handle_error(
        self: Arc<Self>,
        error: teloxide::RequestError,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            if is_conflict(&error) {
                if !self.conflict.is_cancelled() {
                    tracing::error!("{CONFLICT}");
                    self.conflict.cancel();
                    self.ended.cancel();
                }
            } else {
                tracing::error!("polling failed: {error}");
            }
        })
    }
}

/// How updates reach the dispatcher.
pub enum Intake {
    /// Long polling; the long-poll wait (short in tests so shutdown is quick; it is cut at
    /// shutdown anyway).
    Polling(Duration),
    /// POSTs to the webhook's route on the HTTP server.
    Webhook(Arc<webhook::Webhook>),
}

/// Starts long polling with the handler tree. `poll_timeout` is the long-poll
/// wait (short in tests so shutdown is quick; it is cut at shutdown anyway).
pub async fn spawn(bot: Bot, state: Arc<BotState>, poll_timeout: Duration) -> anyhow::Result<Running> {
    spawn_with(bot, state, Intake::Polling(poll_timeout)).await
}

/// Starts the handler tree on updates from `intake`, and the replay worker.
pub async fn spawn_with(bot: Bot, state: Arc<BotState>, intake: Intake) -> anyhow::Result<Running> {
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema())
        .dependencies(dptree::deps![state.clone()])
        .default_handler(|update| async move {
            tracing::debug!(update_id = update.id.0, "update of a kind the bot does not handle");
        })
        .error_handler(LoggingErrorHandler::with_custom_text("a handler failed"))
        .build();
    let shutdown = dispatcher.shutdown_token();
    let stop_worker = CancellationToken::new();
    let worker = ReplaySettings::from_config(&state.config).map(|settings| {
        let worker = Worker {
            sender: outbox::Outbox {
                bot: bot.clone(),
                uploads: media::Uploads {
                    dir: state.config.media_dir.clone(),
                    bot_id: media::bot_id(&bot),
                    archive: state.archive.clone(),
                },
            },
            archive: state.archive.clone(),
            settings,
            clock: state.clock.clone(),
            wake: state.wake.clone(),
            passes: state.passes.clone(),
            stop: stop_worker.clone(),
            previews: state.config.replay_previews,
        };
        let health = state.health.clone();
        health.worker.store(http::WORKER_RUNNING, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            worker.run().await;
            health.worker.store(http::WORKER_STOPPED, std::sync::atomic::Ordering::Relaxed);
        })
    });
    let (conflict, ended) = (CancellationToken::new(), CancellationToken::new());
    let errors = Arc::new(PollingErrors { conflict: conflict.clone(), ended: ended.clone() });
    let stop_start = CancellationToken::new();
    let refused = match &intake {
        Intake::Webhook(hook) => hook.refused(),
        Intake::Polling(_) => Arc::default(),
    };
    let task = tokio::spawn({
        let (ended, stop_start, raw, health) =
            (ended.clone(), stop_start.clone(), state.raw.clone(), state.health.clone());
        async move {
            // The dispatcher asks getMe before it polls: a network error there is waited
            // out as at start, not an end.
            let mut wait = Duration::from_secs(1);
            loop {
                let started = match &intake {
                    Intake::Polling(timeout) => {
                        let listener = listener::JsonPolling::new(bot.clone(), *timeout, raw.clone(), health.clone());
                        dispatcher.try_dispatch_with_listener(listener, errors.clone()).await
                    }
                    Intake::Webhook(hook) => {
                        dispatcher.try_dispatch_with_listener(hook.listener(bot.clone()), errors.clone()).await
                    }
                };
                match started {
                    Ok(()) => break,
                    Err(teloxide::RequestError::Api(teloxide::ApiError::InvalidToken)) => {
                        tracing::error!("cannot start: Telegram refuses the token");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("cannot start polling yet (getMe: {e}); trying again in {} s", wait.as_secs())
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop_start.cancelled() => break,
                }
                wait = (wait * 2).min(MAX_START_WAIT);
            }
            ended.cancel();
        }
    });
    let phrases = tokio::spawn(crate::store::keep_phrase_index(state.archive.clone()));
    Ok(Running { task, dispatcher: shutdown, worker, stop_worker, stop_start, phrases, conflict, ended, refused })
}

/// How much longer than a long poll the HTTP client waits for its answer.
const POLL_MARGIN: Duration = Duration::from_secs(15);

/// The HTTP client's timeout for a bot whose long polls wait `poll`: longer than the poll.
/// (teloxide's client gives up on a request after 17 s and does not stretch that for a long
/// poll: an idle 25 s getUpdates would fail every time.)
pub fn client_timeout(poll: Duration) -> Duration {
    poll + POLL_MARGIN
}

/// A bot for `token`, talking to `api_url` when given (a self-hosted or fake server), its
/// long polls waiting `poll`.
pub fn make_bot(token: &str, api_url: Option<&url::Url>, poll: Duration) -> Bot {
    // teloxide's other client settings are kept.
    let client = teloxide::net::default_reqwest_settings().timeout(client_timeout(poll)).build();
    let bot = match client {
        Ok(client) => Bot::with_client(token, client),
        Err(e) => {
            tracing::warn!("cannot build the HTTP client with a longer timeout, using teloxide's: {e}");
            Bot::new(token)
        }
    };
    match api_url {
        Some(url) => bot.set_api_url(url.clone()),
        None => bot,
    }
}

/// `postkeeper run`: the bot until SIGINT or SIGTERM (exit 0), or until another
/// instance takes the token over (an error).
pub async fn run(settings: &Settings, token: &str) -> anyhow::Result<()> {
    // The recorder first: what happens at start (getMe, the command menu) is counted too.
    if settings.listen.is_some() {
        http::recorder();
    }
    let config = settings.config.clone();
    let bot = make_bot(token, settings.api_url.as_ref(), settings.poll_timeout);
    let archive = crate::ingest::open_or_seed(&config.db)?;
    let hook = match &settings.webhook {
        None => None,
        Some(hook) => {
            let secret = match &hook.secret {
                Some(secret) => secret.expose().to_string(),
                None => {
                    let generated = webhook::new_secret()
                        .ok_or_else(|| anyhow::anyhow!("the system gives no random numbers for a webhook secret"))?;
                    archive.kept_value(webhook::SECRET_KEY, || generated)?
                }
            };
            Some(Arc::new(webhook::Webhook::new(hook.url.clone(), secret)))
        }
    };
    // Queries behind buttons are kept a month; older buttons answer "search again".
    let forgotten = archive.forget_queries(chrono::Utc::now().timestamp() - crate::chat::QUERY_TTL_SECS)?;
    tracing::debug!(forgotten, "old search queries forgotten");
    let Some(me) = reach_telegram(&bot, settings.api_url.as_ref()).await? else {
        tracing::info!("stopped before Telegram answered");
        return Ok(());
    };
    tracing::info!(bot = me.username(), db = %config.db.display(), "starting");
    // `doctor`'s checks: a setup problem is worth a warning, not a refusal to start.
    let mut checks = doctor::chats(&bot, &me, &config).await;
    checks.push(doctor::admins(&config));
    for check in &checks {
        if let doctor::Check::Fail { problem, fix } = check {
            tracing::warn!("{problem} — {fix}");
        }
    }
    if let Err(e) = register_commands(&bot).await {
        tracing::warn!("cannot register the command menu: {e}");
    }
    let state = Arc::new(BotState::new(SharedArchive::new(archive), config));
    state.health.started_at.store(chrono::Utc::now().timestamp(), std::sync::atomic::Ordering::Relaxed);
    state.health.telegram_answered();
    // Before the dispatcher: a listen address that is taken stops the start with its reason.
    let stop_http = CancellationToken::new();
    let mut routes = match &hook {
        Some(hook) => hook.route(state.raw.clone(), state.health.clone()),
        None => axum::Router::new(),
    };
    // The web archive on the same server, over the same store.
    let web = crate::web::Web {
        archive: state.archive.clone(),
        searcher: state.searcher.clone(),
        config: state.config.clone(),
        fetch: Some(Arc::new(files::TelegramFiles { bot: bot.clone() })),
    };
    routes = routes.merge(crate::web::routes(Arc::new(web)));
    let http = match settings.listen {
        Some(addr) => Some(http::serve(addr, state.clone(), routes, stop_http.clone()).await?),
        None => None,
    };
    let intake = match hook {
        Some(hook) => Intake::Webhook(hook),
        None => {
            webhook::delete_leftover(&bot).await;
            Intake::Polling(settings.poll_timeout)
        }
    };
    let stop_backups = CancellationToken::new();
    let backups = settings.backup_dir.as_ref().map(|dir| {
        let job = backups::Backups { db: settings.config.db.clone(), dir: dir.clone(), keep: settings.backup_keep };
        tokio::spawn(backups::keep_backups(job, stop_backups.clone()))
    });
    let running = spawn_with(bot, state, intake).await?;
    let asked = tokio::select! {
        _ = wait_for_signal() => {
            tracing::info!("stopping: finishing the updates in hand");
            true
        }
        _ = running.ended() => false,
    };
    let (conflicted, refused) = (running.is_conflicted(), running.refused());
    // No new webhook requests first (those in hand finish: their updates are queued), then
    // the dispatcher ends with the queued updates handled. Within 5 s in all.
    stop_http.cancel();
    if let Some(http) = http {
        let _ = tokio::time::timeout(Duration::from_secs(1), http).await;
    }
    running.shutdown(Duration::from_secs(3)).await;
    // None begins; a backup in hand finishes on its thread, and is logged when it ends within
    // 2 s (a store's backup being written when the stop came would otherwise end unsaid).
    stop_backups.cancel();
    if let Some(mut backups) = backups
        && tokio::time::timeout(Duration::from_secs(2), &mut backups).await.is_err()
    {
        backups.abort();
    }
    tracing::info!("stopped");
    match (asked, conflicted, refused) {
        (true, _, _) => Ok(()),
        (false, _, Some(refused)) => anyhow::bail!("{refused}; check POSTKEEPER_WEBHOOK_URL"),
        (false, true, None) => anyhow::bail!(CONFLICT),
        (false, false, None) => anyhow::bail!("the dispatcher stopped by itself (see the log above)"),
    }
}

/// Telegram refused the bot's token: nothing but a new token helps (`main` exits 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenRefused(pub String);

/// The longest wait between two tries to reach Telegram at start.
const MAX_START_WAIT: Duration = Duration::from_secs(60);

/// `getMe` until Telegram answers: a network error, a DNS failure, a timeout or a 5xx is
/// logged and tried again after a wait that doubles up to [`MAX_START_WAIT`] (a server
/// booting before its network, an outage); a refused token is [`TokenRefused`]. `None`
/// when SIGINT or SIGTERM came first.
async fn reach_telegram(bot: &Bot, api_url: Option<&url::Url>) -> anyhow::Result<Option<teloxide::types::Me>> {
    let mut wait = Duration::from_secs(1);
    loop {
        match doctor::token(bot, api_url).await {
            (_, doctor::Token::Works(me)) => return Ok(Some(me)),
            (check, doctor::Token::Refused) => return Err(TokenRefused(check.line()).into()),
            (check, doctor::Token::Unreachable) => {
                tracing::warn!("{}; trying again in {} s", check.line().replace('\n', " — "), wait.as_secs());
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wait_for_signal() => return Ok(None),
        }
        wait = (wait * 2).min(MAX_START_WAIT);
    }
}

/// SIGINT or SIGTERM (a service manager's stop).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn the_http_client_outwaits_every_long_poll_telegram_allows() {
        for secs in 1..=50 {
            let poll = Duration::from_secs(secs);
            assert!(super::client_timeout(poll) >= poll + Duration::from_secs(10), "{secs} s");
        }
    }
}
