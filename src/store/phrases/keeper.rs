//! The running bot's builder of the phrase index (a tokio task the bot spawns).

use super::{MIN_POSTS, STEP_POSTS};
use crate::store::{CallError, SharedArchive, StoreError, platform};

/// The running bot's builder of the phrase index: a step ([`STEP_POSTS`] posts), a pause as
/// long as the step took (half a core at most, beside the searches), the next step; once
/// the index has every post, a look every few minutes for posts stored since (live posts,
/// an import by the CLI). Begins a moment after the start, so as not to delay the first
/// poll. Runs until its task is aborted.
pub async fn keep_phrase_index(archive: SharedArchive) {
    tokio::time::sleep(FIRST_STEP_AFTER).await;
    loop {
        let started = std::time::Instant::now();
        let step = archive.try_call(|a| a.build_phrase_index(STEP_POSTS, MIN_POSTS)).await;
        let pause = match step {
            Ok(step) if step.remaining => started.elapsed().max(std::time::Duration::from_millis(10)),
            Ok(step) => {
                if step.indexed > 0 {
                    // The build's heap, which the bot would otherwise idle with.
                    platform::give_back_memory();
                }
                LOOK_AGAIN_AFTER
            }
            Err(CallError::Failed(StoreError::Sql(e))) if crate::store::is_busy(&e) => {
                tracing::info!("the store is busy (an import?): the phrase index goes on later");
                LOOK_AGAIN_AFTER
            }
            Err(e) => {
                tracing::warn!("building the phrase index (phrases are matched without it meanwhile): {e:#}");
                LOOK_AGAIN_AFTER
            }
        };
        tokio::time::sleep(pause).await;
    }
}

const FIRST_STEP_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
const LOOK_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(300);
