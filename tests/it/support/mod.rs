//! Test support for postkeeper itself: the real bot against the fake Bot API server
//! (`harness.rs`), the built binary as a child process (`process.rs`), and the one way
//! tests wait (`wait.rs`). The fake server
//! is the workspace crate `fake-bot-api`.

pub mod harness;
pub mod process;
pub mod wait;
