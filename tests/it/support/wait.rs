//! The one way tests wait: [`eventually`] polls a check until it holds and fails the test,
//! with the story `why` tells, when it has not within the limit. Never a sleep followed by
//! an assertion: a test that waits for a signal cannot pass by accident.

use std::fmt::Display;
use std::time::Duration;

use tokio::time::Instant;

/// How often a check is polled.
const POLL: Duration = Duration::from_millis(10);

/// Waits until `check` holds (it may act, e.g. advance a manual clock); fails after
/// `limit` with `why()`.
pub async fn eventually<W: Display>(limit: Duration, why: impl Fn() -> W, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {}", why());
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`] for a check that awaits (a read through the store).
pub async fn eventually_async<W: Display>(limit: Duration, why: impl Fn() -> W, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {}", why());
        tokio::time::sleep(POLL).await;
    }
}
