//! postkeeper: keeps a Telegram channel's archive in SQLite, answers people
//! in chat, and replays old posts into a channel on a schedule.
//!
//! The core (store, ingest, search, topics, render) knows nothing of
//! Telegram; `bot` is a thin shell that turns updates into calls of the core.

pub mod bot;
pub mod chat;
pub mod cli;
pub mod config;
pub mod console;
pub mod i18n;
pub mod ingest;
pub mod model;
pub mod render;
pub mod replay;
pub mod search;
pub mod settings;
pub mod store;
pub mod text;
pub mod topics;
pub mod web;
