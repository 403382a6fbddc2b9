//! postkeeper's integration tests as one test binary: the library, the fake Bot API server
//! and the helpers in `support` are compiled and linked once for all of them. A module per
//! capability.

mod support;

mod archive;
mod bot_chat;
mod bot_live;
mod bot_replay;
mod bot_run;
mod channels;
mod cjk;
mod cli;
mod exports;
mod http;
mod media;
mod media_send;
mod process;
mod replay_lease;
mod search;
mod settings;
mod tidy;
mod web;
mod webhook;
