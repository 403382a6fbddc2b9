//! Test support for postkeeper itself: the real bot against the fake Bot API server
//! (`harness.rs`), the built binary as a child process (`process.rs`), the one way
//! tests wait (`wait.rs`), HTTP over a plain socket (`plain_http.rs`) and headless
//! Chromium over WebDriver (`browser.rs`). The fake server is the workspace crate
//! `fake-bot-api`.

pub mod browser;
pub mod harness;
pub mod plain_http;
pub mod process;
pub mod wait;
