//! The real bot (handler tree, dispatcher, store) against the fake server.

use std::sync::Arc;
use std::time::Duration;

use postkeeper::bot::{self, BotState, Running};
use postkeeper::config::Config;
use postkeeper::replay::Clock;
use postkeeper::replay::worker::Passes;
use postkeeper::store::Archive;
use postkeeper::store::SharedArchive;
use serde_json::Value;

use fake_bot_api::{FakeTelegram, StoredMessage};

pub const WAIT: Duration = Duration::from_secs(10);
pub const QUIET: Duration = Duration::from_millis(120);

pub struct Harness {
    pub tg: FakeTelegram,
    pub archive: SharedArchive,
    pub state: Arc<BotState>,
    running: Option<Running>,
}

impl Harness {
    /// A bot over the seed archive, imported as a channel of its own (not the demo, which
    /// the first live post would remove).
    pub async fn start(config: Config) -> Harness {
        let mut archive = Archive::open_in_memory().expect("store opens");
        postkeeper::ingest::import_seed(&mut archive).expect("seed imports");
        Self::with_archive(config, archive).await
    }

    pub async fn with_archive(config: Config, archive: Archive) -> Harness {
        Self::with_clock(config, archive, Clock::System, |_| {}).await
    }

    /// With a given clock; `prepare` runs on the fake server before the bot starts.
    pub async fn with_clock(
        config: Config,
        archive: Archive,
        clock: Clock,
        prepare: impl FnOnce(&FakeTelegram),
    ) -> Harness {
        let tg = FakeTelegram::start().await;
        prepare(&tg);
        let shared = SharedArchive::new(archive);
        let state = Arc::new(BotState::with_clock(shared.clone(), config, clock));
        let running = bot::spawn(tg.bot(), state.clone(), Duration::from_secs(1)).await.expect("dispatcher starts");
        tg.wait_for_calls("getUpdates", 1, WAIT).await;
        Harness { tg, archive: shared, state, running: Some(running) }
    }

    fn successes(&self, method: &str) -> usize {
        self.tg.calls_to(method).iter().filter(|c| c.ok).count()
    }

    /// Pushes an update and waits until `method` succeeded `n` more times, then for quiet.
    pub async fn exchange(&self, update: Value, method: &str, n: usize) {
        let before = self.successes(method);
        self.tg.push_update(update);
        if n > 0 {
            self.tg.wait_for_calls(method, before + n, WAIT).await;
        }
        self.tg.wait_idle(QUIET).await;
    }

    /// Waits until the replay worker has looked at the queue and the clock as they are now
    /// and found nothing (more) due: what it will send without a new cause, it has sent.
    pub async fn replays_settled(&self) {
        let settle = Passes::settle(&self.state.passes, &self.state.wake, &self.state.clock);
        tokio::time::timeout(WAIT, settle).await.expect("the replay worker settles");
        self.tg.wait_idle(QUIET).await;
    }

    /// Pushes an update that must cause no request at all.
    pub async fn silent(&self, update: Value) {
        let before = self.tg.calls().iter().filter(|c| !c.method.eq_ignore_ascii_case("getUpdates")).count();
        let id = self.tg.push_update(update);
        // The update is taken by the next long poll; then give handlers time to act.
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.tg.queued_update(id).is_some() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.tg.wait_idle(Duration::from_millis(300)).await;
        let after = self.tg.calls().iter().filter(|c| !c.method.eq_ignore_ascii_case("getUpdates")).count();
        assert_eq!(before, after, "expected no request, got: {}", self.tg.dump_calls());
    }

    /// The last message the bot sent to a chat.
    pub fn last(&self, chat: i64) -> StoredMessage {
        self.tg.messages(chat).into_iter().next_back().expect("the bot wrote to this chat")
    }

    /// Every test ends here: no Bot API error, no unanswered callback, clean shutdown.
    pub async fn finish(mut self) {
        self.tg.wait_idle(QUIET).await;
        assert!(self.tg.errors().is_empty(), "Bot API errors: {:#?}", self.tg.errors());
        assert!(self.tg.unanswered_callbacks().is_empty(), "unanswered: {:?}", self.tg.unanswered_callbacks());
        if let Some(r) = self.running.take() {
            r.shutdown(Duration::from_secs(5)).await;
        }
    }
}

/// The callback data of the button labelled `label` (or starting with it).
pub fn button(message: &StoredMessage, label: &str) -> Option<String> {
    let rows = message.reply_markup.as_ref()?["inline_keyboard"].as_array()?.clone();
    rows.iter()
        .flat_map(|r| r.as_array().cloned().unwrap_or_default())
        .find(|b| b["text"].as_str().is_some_and(|t| t.starts_with(label)))
        .and_then(|b| b["callback_data"].as_str().map(str::to_string))
}

/// Every button label of a message.
pub fn labels(message: &StoredMessage) -> Vec<String> {
    let Some(markup) = &message.reply_markup else { return Vec::new() };
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["text"].as_str().map(str::to_string))
        .collect()
}
