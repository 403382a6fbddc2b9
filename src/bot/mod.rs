//! The Telegram shell: updates in, calls of the core, Bot API requests out.
//! `schema()` builds the handler tree; `spawn()` starts a dispatcher and
//! returns its shutdown token, so tests and `run` drive the same code.

mod handlers;
mod send;

use std::sync::Arc;
use std::time::Duration;

use teloxide::dispatching::{Dispatcher, ShutdownToken, UpdateHandler};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::types::BotCommand;
use teloxide::update_listeners::Polling;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::i18n::Lang;
use crate::replay::worker::Worker;
use crate::replay::{Clock, ReplaySettings};
use crate::store::Archive;

pub use send::{retry, send_reply};

/// The archive shared by handlers. SQLite is blocking, so the store has threads of its
/// own, one per connection: a store on disk gets one connection per core (WAL: searches
/// run in parallel; writes take turns on SQLite's write lock, each write transaction
/// taking it as it begins); a store in memory has one. A call is a job on one queue the
/// threads share (the shape of `tokio-rusqlite`, with a pool): a burst of updates waits
/// there as boxed closures, and a busy thread takes the next job without being put to
/// sleep and woken again for each one, as a thread of tokio's blocking pool is.
#[derive(Clone)]
pub struct SharedArchive {
    inner: Arc<StoreThreads>,
}

type Job = Box<dyn FnOnce(&mut Archive) + Send>;

struct StoreThreads {
    /// `None` once dropped: the threads then finish the jobs queued and end.
    jobs: Option<crossbeam_channel::Sender<Job>>,
    /// Each gives its connection back as it ends.
    threads: Vec<std::thread::JoinHandle<Archive>>,
}

impl Drop for StoreThreads {
    /// Closes the queue, waits for the threads and closes the store's connections one
    /// after another (closed at once, none of them would see itself as the last one and
    /// remove the WAL), all before the last handle is gone.
    fn drop(&mut self) {
        self.jobs = None;
        let me = std::thread::current().id();
        // (A job holding the last handle would be waiting for its own thread.)
        for thread in self.threads.drain(..).filter(|t| t.thread().id() != me) {
            // Joined and closed one at a time: the connection comes back and is dropped here.
            drop(thread.join());
        }
    }
}

/// A store thread: runs the jobs with its connection until the queue is closed, then
/// gives the connection back. A job that panics is ended there (its caller gets an
/// error); the thread goes on, and the connection with it (a transaction or snapshot
/// open in the job was rolled back as it unwound).
fn serve(mut archive: Archive, jobs: crossbeam_channel::Receiver<Job>) -> Archive {
    for job in jobs {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut archive)));
    }
    archive
}

impl SharedArchive {
    /// Shares `archive`, with one more connection per further core when it is on disk.
    pub fn new(archive: Archive) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_connections(archive, cores)
    }

    /// Shares `archive` over at most `n` connections to its store.
    pub fn with_connections(archive: Archive, n: usize) -> Self {
        let mut pool = Vec::with_capacity(n.max(1));
        while pool.len() + 1 < n {
            match archive.reopen() {
                Ok(Some(more)) => pool.push(more),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("cannot open another connection to the store: {e}");
                    break;
                }
            }
        }
        pool.push(archive);
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let mut threads = Vec::with_capacity(pool.len());
        for (i, archive) in pool.into_iter().enumerate() {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("store-{i}")).spawn(move || serve(archive, rx));
            match spawned {
                Ok(thread) => threads.push(thread),
                // Its connection is closed with the closure; the others serve.
                Err(e) => tracing::error!("cannot start a store thread: {e}"),
            }
        }
        SharedArchive { inner: Arc::new(StoreThreads { jobs: Some(tx), threads }) }
    }

    pub async fn call<R, F>(&self, f: F) -> anyhow::Result<R>
    where
        F: FnOnce(&mut Archive) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |archive| {
            let _ = tx.send(f(archive));
        });
        let queued = self.inner.jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok());
        anyhow::ensure!(queued, "the store is closed");
        rx.await.map_err(|_| anyhow::anyhow!("a call of the store failed (it panicked)"))
    }

    /// [`SharedArchive::call`] for a fallible `f`: one error to handle instead of two.
    pub async fn try_call<R, E, F>(&self, f: F) -> anyhow::Result<R>
    where
        F: FnOnce(&mut Archive) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: Into<anyhow::Error> + Send + 'static,
    {
        self.call(f).await?.map_err(Into::into)
    }
}

/// What every handler may use.
pub struct BotState {
    pub archive: SharedArchive,
    pub config: Config,
    /// The time replays are scheduled in (a manual clock in tests).
    pub clock: Clock,
    /// Nudges the replay worker when a command changes the queue.
    pub wake: Arc<Notify>,
}

impl BotState {
    pub fn new(archive: SharedArchive, config: Config) -> Self {
        Self::with_clock(archive, config, Clock::System)
    }

    pub fn with_clock(archive: SharedArchive, config: Config, clock: Clock) -> Self {
        BotState { archive, config, clock, wake: Arc::new(Notify::new()) }
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
        retry(|| request.clone().send()).await?;
    }
    Ok(())
}

/// A running bot: its dispatcher task, its replay worker, and what stops them.
pub struct Running {
    pub task: JoinHandle<()>,
    pub shutdown: ShutdownToken,
    pub worker: Option<JoinHandle<()>>,
    /// Stops the replay worker (after the part it is sending).
    pub stop: CancellationToken,
}

/// Starts long polling with the handler tree. `poll_timeout` is the long-poll
/// wait (short in tests so shutdown is quick; it is cut at shutdown anyway).
pub async fn spawn(bot: Bot, state: Arc<BotState>, poll_timeout: Duration) -> anyhow::Result<Running> {
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema())
        .dependencies(dptree::deps![state.clone()])
        .default_handler(|update| async move {
            tracing::debug!(update_id = update.id.0, "update of a kind the bot does not handle");
        })
        .error_handler(LoggingErrorHandler::with_custom_text("a handler failed"))
        .build();
    let shutdown = dispatcher.shutdown_token();
    let stop = CancellationToken::new();
    let worker = ReplaySettings::from_config(&state.config).map(|settings| {
        let worker = Worker {
            bot: bot.clone(),
            archive: state.archive.clone(),
            settings,
            clock: state.clock.clone(),
            wake: state.wake.clone(),
            stop: stop.clone(),
            previews: state.config.replay_previews,
        };
        tokio::spawn(worker.run())
    });
    let listener = Polling::builder(bot).timeout(poll_timeout).build();
    let task = tokio::spawn(async move {
        let errors = LoggingErrorHandler::with_custom_text("polling failed");
        if let Err(e) = dispatcher.try_dispatch_with_listener(listener, errors).await {
            tracing::error!("cannot start: getMe failed: {e}");
        }
    });
    Ok(Running { task, shutdown, worker, stop })
}

/// Asks a running dispatcher to stop and waits for in-flight handlers, at most `limit`.
pub async fn stop(running: Running, limit: Duration) {
    running.stop.cancel();
    match running.shutdown.shutdown() {
        Ok(done) => {
            let _ = tokio::time::timeout(limit, done).await;
        }
        Err(_) => tracing::debug!("dispatcher was not running"),
    }
    let _ = tokio::time::timeout(limit, running.task).await;
    if let Some(worker) = running.worker {
        let _ = tokio::time::timeout(limit, worker).await;
    }
}

/// `postkeeper run`: the bot until SIGINT or SIGTERM.
pub async fn run(config: Config, token: &str, api_url: Option<&str>) -> anyhow::Result<()> {
    let mut bot = Bot::new(token);
    if let Some(url) = api_url {
        let url = url.parse().map_err(|e| anyhow::anyhow!("TELOXIDE_API_URL {url:?} is not a URL: {e}"))?;
        bot = bot.set_api_url(url);
    }
    let seed = !config.db.exists();
    let archive = crate::cli::open_archive(&config.db, seed)?;
    // Queries behind buttons are kept a month; older buttons answer "search again".
    let forgotten = archive.forget_queries(chrono::Utc::now().timestamp() - crate::chat::QUERY_TTL_SECS)?;
    tracing::debug!(forgotten, "old search queries forgotten");
    let me =
        retry(|| bot.get_me().send()).await.map_err(|e| anyhow::anyhow!("cannot reach the Bot API (getMe): {e}"))?;
    tracing::info!(bot = me.username(), db = %config.db.display(), "starting");
    if let Err(e) = register_commands(&bot).await {
        tracing::warn!("cannot register the command menu: {e}");
    }
    let state = Arc::new(BotState::new(SharedArchive::new(archive), config));
    let running = spawn(bot, state, Duration::from_secs(25)).await?;
    let shutdown = running.shutdown.clone();
    let stop_worker = running.stop.clone();
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: finishing the updates in hand");
        stop_worker.cancel();
        if let Ok(done) = shutdown.shutdown() {
            done.await;
        }
    });
    let _ = running.task.await;
    if let Some(worker) = running.worker {
        let _ = tokio::time::timeout(Duration::from_secs(4), worker).await;
    }
    signals.abort();
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
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
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Two calls wait for each other inside the store: they finish only if they run at once.
    async fn both_run_at_once(shared: &SharedArchive) -> bool {
        let (a_tx, a_rx) = mpsc::channel::<()>();
        let (b_tx, b_rx) = mpsc::channel::<()>();
        let meet = |tell: mpsc::Sender<()>, wait: mpsc::Receiver<()>| {
            move |_: &mut Archive| {
                let _ = tell.send(());
                wait.recv_timeout(Duration::from_millis(500)).is_ok()
            }
        };
        let (a, b) = tokio::join!(shared.call(meet(a_tx, b_rx)), shared.call(meet(b_tx, a_rx)));
        matches!((a, b), (Ok(true), Ok(true)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_on_disk_serves_calls_in_parallel() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let archive = Archive::open(&dir.path().join("p.db"))?;
        let shared = SharedArchive::with_connections(archive, 2);
        assert!(both_run_at_once(&shared).await);
        // A write through one connection is seen by the next call, whichever connection it gets.
        shared.try_call(|a| a.seed_if_empty()).await?;
        for _ in 0..4 {
            let found = shared.try_call(|a| a.search("экзопланеты", 0, 5)).await?;
            assert_eq!(found.total, 1);
        }
        // Concurrent writers take turns instead of failing.
        let writes = (0..8).map(|i| {
            let shared = shared.clone();
            tokio::spawn(async move { shared.try_call(move |a| a.remember_query(&format!("запрос {i}"), 1)).await })
        });
        for w in writes {
            w.await??;
        }
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_that_panics_is_an_error_and_the_store_goes_on() -> anyhow::Result<()> {
        let shared = SharedArchive::with_connections(Archive::open_in_memory()?, 1);
        shared.try_call(|a| a.seed_if_empty()).await?;
        let failed = shared
            .call(|a| {
                let _snapshot = a.snapshot();
                panic!("a bug in a handler");
            })
            .await;
        assert!(failed.is_err_and(|e| e.to_string().contains("panicked")));
        // The same thread and connection serve the next call, with no snapshot left open.
        let found = shared.try_call(|a| a.search("экзопланеты", 0, 5)).await?;
        assert_eq!(found.total, 1);
        shared.try_call(|a| a.remember_query("после паники", 1)).await?;
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_last_handle_closes_the_store() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.db");
        let shared = SharedArchive::with_connections(Archive::open(&path)?, 2);
        shared.try_call(|a| a.seed_if_empty()).await?;
        let wal = dir.path().join("c.db-wal");
        assert!(wal.exists());
        let calls: Vec<_> = (0..4)
            .map(|_| {
                let shared = shared.clone();
                tokio::spawn(async move { shared.try_call(|a| a.search("робот", 0, 5)).await })
            })
            .collect();
        drop(shared);
        for call in calls {
            assert!(call.await??.total > 0);
        }
        // The last handle went with the last call: every connection is closed, and SQLite
        // removed the WAL as the last one closed.
        assert!(!wal.exists());
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_in_memory_has_one_connection() -> anyhow::Result<()> {
        let shared = SharedArchive::with_connections(Archive::open_in_memory()?, 2);
        assert!(!both_run_at_once(&shared).await);
        Ok(())
    }
}
