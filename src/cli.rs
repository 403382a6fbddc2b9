//! The command line: clap definitions (every option also from the
//! environment or `.env`) and the archive commands that need no Telegram.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::config::{ChatRef, Config, parse_admins, parse_duration, parse_timezone};
use crate::model::Post;
use crate::search::SearchPage;
use crate::store::Archive;
use crate::topics::Taxonomy;

#[derive(Debug, Parser)]
#[command(name = "postkeeper", version, about = "Keeps a Telegram channel's archive and brings it back to life")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A value never printed: `Debug` shows `<redacted>`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.trim().to_string()))
    }
}

#[derive(Debug, Args)]
pub struct Global {
    /// SQLite file of the archive.
    #[arg(long, global = true, env = "POSTKEEPER_DB", default_value = "postkeeper.db")]
    pub db: PathBuf,
    /// Bot token from @BotFather (needed only by `run`).
    #[arg(long, global = true, env = "TELOXIDE_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,
    /// Bot API server URL (a self-hosted server, or a fake one in tests).
    #[arg(long, global = true, env = "TELOXIDE_API_URL")]
    pub api_url: Option<String>,
    /// Comma-separated Telegram user ids allowed to replay and schedule.
    #[arg(long, global = true, env = "POSTKEEPER_ADMINS", value_parser = parse_admins)]
    pub admins: Option<Vec<i64>>,
    /// Chat id or @username of the channel replays go to.
    #[arg(long, global = true, env = "POSTKEEPER_REPLAY_CHAT")]
    pub replay_chat: Option<ChatRef>,
    /// Chat id or @username of the channel whose new posts are archived live.
    #[arg(long, global = true, env = "POSTKEEPER_SOURCE_CHAT")]
    pub source_chat: Option<ChatRef>,
    /// IANA time zone for schedules.
    #[arg(long, global = true, env = "POSTKEEPER_TIMEZONE", default_value = "UTC", value_parser = parse_timezone)]
    pub timezone: Tz,
    /// Optional first line of each replay.
    #[arg(long, global = true, env = "POSTKEEPER_REPLAY_HEADER")]
    pub replay_header: Option<String>,
    /// How late an overdue replay may still go out after a restart.
    #[arg(long, global = true, env = "POSTKEEPER_REPLAY_GRACE", default_value = "24h", value_parser = parse_duration)]
    pub replay_grace: Duration,
    /// Show link previews under replayed posts (true/false).
    #[arg(long, global = true, env = "POSTKEEPER_REPLAY_PREVIEWS", default_value_t = true, action = clap::ArgAction::Set)]
    pub replay_previews: bool,
}

impl Global {
    pub fn config(&self) -> Config {
        Config {
            db: self.db.clone(),
            admins: self.admins.clone().unwrap_or_default(),
            replay_chat: self.replay_chat.clone(),
            source_chat: self.source_chat.clone(),
            timezone: self.timezone,
            replay_header: self.replay_header.clone().filter(|h| !h.trim().is_empty()),
            replay_grace: self.replay_grace,
            replay_previews: self.replay_previews,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the bot (long polling); what a bare `postkeeper` does.
    Run,
    /// Chat with the bot in this terminal: no token needed.
    Console {
        /// Language of the replies: ru or en.
        #[arg(long, default_value = "ru", value_parser = ["ru", "en"])]
        lang: String,
    },
    /// Import Telegram Desktop exports (result.json) and t.me dumps: files or folders.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Search the archive.
    Search {
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// The archive, oldest first.
    Posts {
        /// Only posts of this topic (slug or name).
        #[arg(long)]
        topic: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One post in full.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Topics with their post counts.
    Topics {
        #[arg(long)]
        json: bool,
        /// Re-tag every post with the taxonomy of --file (default: ./seeds/topics.toml when
        /// it exists, else the one the store already uses).
        #[arg(long)]
        retag: bool,
        /// The topics.toml to load (remembered by the store).
        #[arg(long, requires = "retag")]
        file: Option<PathBuf>,
    },
    /// Posts, channels, date range, topics.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Scheduled replays and the latest outcomes.
    Queue,
    /// Schedule a replay: WHAT is a post id, `random` or `next`; WHEN e.g. `in 10m`, `daily 10:00`.
    Schedule {
        what: String,
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        when: Vec<String>,
    },
    /// Cancel a scheduled replay (recurring ones stop recurring).
    Cancel { id: String },
}

/// Opens the store; a store that does not exist yet is filled from the seed
/// unless `seed` is false (the first command is an import).
pub fn open_archive(db: &std::path::Path, seed: bool) -> anyhow::Result<Archive> {
    let mut archive = Archive::open(db)?;
    if seed && let Some(summary) = archive.seed_if_empty()? {
        tracing::info!("new store {} filled from the seed archive: {summary}", db.display());
    }
    Ok(archive)
}

fn date(post: &Post) -> serde_json::Value {
    post.date.map_or(serde_json::Value::Null, |d| json!(d.to_rfc3339()))
}

fn post_json(post: &Post) -> serde_json::Value {
    json!({
        "id": post.id,
        "title": post.title,
        "date": date(post),
        "topics": post.topics.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>(),
        "url": post.url,
        "channel": post.channel_title,
        "message_id": post.message_id,
    })
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn line(post: &Post) -> String {
    let date = post.date.map(|d| d.format("%Y-%m-%d ").to_string()).unwrap_or_default();
    let topics: Vec<&str> = post.topics.iter().map(|t| t.slug.as_str()).collect();
    format!("#{:<5} {date}{}  [{}]", post.id, post.title, topics.join(", "))
}

/// Runs an archive command (everything but `run` and `console`).
pub fn run_archive_command(global: &Global, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run => bail!("`run` is started by main"),
        Command::Console { lang } => {
            let mut archive = open_archive(&global.db, !global.db.exists())?;
            let lang = if lang == "en" { crate::i18n::Lang::En } else { crate::i18n::Lang::Ru };
            let stdin = std::io::stdin();
            let prompt = stdin.is_terminal();
            let mut stdout = std::io::stdout();
            crate::console::run(
                &mut archive,
                crate::console::context(lang, &global.config()),
                stdin.lock(),
                &mut stdout,
                prompt,
            )?;
        }
        Command::Import { paths } => {
            let existed = global.db.exists();
            let mut archive = open_archive(&global.db, false)?;
            let result = crate::ingest::import_paths(&mut archive, &paths, std::io::stderr().is_terminal());
            if result.is_err() && !existed {
                drop(archive);
                remove_store(&global.db);
            }
            let summary = result?;
            println!("{summary}");
        }
        Command::Search { query, limit, json } => {
            let archive = open_archive(&global.db, !global.db.exists())?;
            let query = query.join(" ");
            let page = archive.search(&query, 0, limit.clamp(1, 1000))?;
            print_search(&query, &page, json)?;
        }
        Command::Posts { topic, json } => {
            let archive = open_archive(&global.db, !global.db.exists())?;
            let slug = match &topic {
                Some(name) => match archive.taxonomy().find(name) {
                    Some(t) => Some(t.slug.clone()),
                    None => bail!("no topic {name:?}; `postkeeper topics` lists them"),
                },
                None => None,
            };
            // One post at a time: a million posts never sit in memory at once.
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut first = true;
            archive.for_each_post(slug.as_deref(), |p| {
                if json {
                    let sep = if first { "[\n  " } else { ",\n  " };
                    first = false;
                    write!(out, "{sep}{}", serde_json::to_string(&post_json(&p))?)
                } else {
                    writeln!(out, "{}", line(&p))
                }
            })?;
            if json {
                writeln!(out, "{}", if first { "[]" } else { "\n]" })?;
            }
            out.flush()?;
        }
        Command::Show { id, json } => {
            let archive = open_archive(&global.db, !global.db.exists())?;
            let post = archive.post(id)?.with_context(|| format!("no post #{id}; `postkeeper posts` lists them"))?;
            if json {
                let mut v = post_json(&post);
                v["text"] = json!(post.body);
                v["entities"] = json!(post.entities);
                v["links"] = json!(post.links);
                v["edited"] = json!(post.edited.map(|d| d.to_rfc3339()));
                print_json(&json!([v]))?;
            } else {
                println!("{}", line(&post));
                if let Some(url) = &post.url {
                    println!("{url}");
                }
                println!("\n{}", post.body);
            }
        }
        Command::Topics { json, retag, file } => {
            let mut archive = open_archive(&global.db, !global.db.exists())?;
            if retag {
                let default = PathBuf::from("seeds/topics.toml");
                let file = file.or_else(|| default.is_file().then_some(default));
                let tagged = match &file {
                    Some(path) => {
                        let text =
                            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                        let taxonomy = Taxonomy::parse(&text, &path.display().to_string())?;
                        archive.set_taxonomy(taxonomy, &text)?
                    }
                    None => archive.retag()?,
                };
                let source = match &file {
                    Some(path) => path.display().to_string(),
                    None => "the store's taxonomy".to_string(),
                };
                eprintln!("re-tagged with {source}: {tagged} posts have a topic");
            }
            let counts = archive.topic_counts()?;
            if json {
                print_json(&json!(counts
                    .iter()
                    .map(|c| json!({"slug": c.topic.slug, "ru": c.topic.ru, "en": c.topic.en, "emoji": c.topic.emoji, "posts": c.posts}))
                    .collect::<Vec<_>>()))?;
            } else {
                for c in counts {
                    println!("{:<14} {:>5}  {} {} / {}", c.topic.slug, c.posts, c.topic.emoji, c.topic.ru, c.topic.en);
                }
            }
        }
        Command::Queue | Command::Schedule { .. } | Command::Cancel { .. } => {
            use crate::replay::commands::{self as replay, Access};
            let archive = open_archive(&global.db, !global.db.exists())?;
            let config = global.config();
            let Access::Admin(settings) = Access::for_operator(&config) else {
                bail!("POSTKEEPER_REPLAY_CHAT (or --replay-chat) is not set: replays have nowhere to go");
            };
            let lang = crate::i18n::Lang::En;
            let now = chrono::Utc::now();
            let answer = match command {
                Command::Schedule { what, when } => {
                    replay::schedule(&archive, &settings, lang, &format!("{what} {}", when.join(" ")), None, now)?
                }
                Command::Cancel { id } => replay::cancel(&archive, lang, &id)?,
                _ => replay::queue(&archive, &settings, lang, now)?,
            };
            println!("{}", crate::console::html_to_text(&answer.html));
            if !answer.ok {
                bail!("nothing was changed");
            }
        }
        Command::Stats { json } => {
            let archive = open_archive(&global.db, !global.db.exists())?;
            let stats = archive.stats()?;
            if json {
                print_json(&serde_json::to_value(&stats)?)?;
            } else {
                println!("posts:    {} ({} undated, {} without a topic)", stats.posts, stats.undated, stats.untagged);
                println!("channels: {}", stats.channels);
                match (stats.first_date, stats.last_date) {
                    (Some(a), Some(b)) => println!("dates:    {} .. {}", a.format("%Y-%m-%d"), b.format("%Y-%m-%d")),
                    _ => println!("dates:    unknown"),
                }
                println!("topics:");
                for c in stats.topics {
                    println!("  {:<14} {:>5}  {}", c.topic.slug, c.posts, c.topic.en);
                }
            }
        }
    }
    Ok(())
}

fn print_search(query: &str, page: &SearchPage, json: bool) -> anyhow::Result<()> {
    if json {
        let hits: Vec<_> = page
            .hits
            .iter()
            .map(|h| {
                let mut v = post_json(&h.post);
                v["score"] = json!(h.score);
                v["snippet"] = json!(h.snippet.render(crate::render::html::escape_into, "<b>", "</b>"));
                v
            })
            .collect();
        return print_json(&json!(hits));
    }
    if page.hits.is_empty() {
        println!("nothing found for {query:?}");
        if let Some(s) = &page.suggestion {
            println!("did you mean: {s}");
        }
        return Ok(());
    }
    let plus = if page.total_capped { "+" } else { "" };
    let mode = match page.mode {
        crate::search::Mode::All => "",
        crate::search::Mode::Any => " (not all words matched)",
    };
    println!("{}{plus} found{mode}", page.total);
    let bold = std::io::stdout().is_terminal();
    for h in &page.hits {
        println!("\n{}  score {:.2}", line(&h.post), h.score);
        let (open, close) = if bold { ("\x1b[1m", "\x1b[0m") } else { ("[", "]") };
        println!("  {}", h.snippet.render(String::push_str, open, close));
    }
    Ok(())
}

/// Removes a store file this command created, with its WAL companions.
fn remove_store(db: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}
