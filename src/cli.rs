//! The command line: clap definitions (every option also from the
//! environment or `.env`) and the archive commands that need no Telegram.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::model::Post;
use crate::search::SearchPage;
use crate::settings::Settings;
use crate::topics::Taxonomy;

#[derive(Debug, Parser)]
#[command(name = "postkeeper", version, about = "Keeps a Telegram channel's archive and brings it back to life")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The settings' flags, taken as typed: `settings` checks them together with the
/// environment and `.env` (a flag beats both), so that a bad value gets the same
/// message wherever it came from. Each flag also works after the subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// SQLite file of the archive [env: POSTKEEPER_DB; default: postkeeper.db].
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<String>,
    /// Bot token from @BotFather, needed by `run` and `doctor` [env: TELOXIDE_TOKEN].
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Bot API server URL: a self-hosted server, or a fake one in tests [env: TELOXIDE_API_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// Comma-separated Telegram user ids allowed to replay and schedule [env: POSTKEEPER_ADMINS].
    #[arg(long, global = true, value_name = "IDS")]
    pub admins: Option<String>,
    /// Chat id or @username of the channel replays go to [env: POSTKEEPER_REPLAY_CHAT].
    #[arg(long, global = true, value_name = "CHAT", allow_hyphen_values = true)]
    pub replay_chat: Option<String>,
    /// Chat id or @username of the channel whose new posts are archived live [env: POSTKEEPER_SOURCE_CHAT].
    #[arg(long, global = true, value_name = "CHAT", allow_hyphen_values = true)]
    pub source_chat: Option<String>,
    /// IANA time zone for dates and schedules [env: POSTKEEPER_TIMEZONE; default: UTC].
    #[arg(long, global = true, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Optional first line of each replay; {date} becomes the post's date [env: POSTKEEPER_REPLAY_HEADER].
    #[arg(long, global = true, value_name = "TEXT", allow_hyphen_values = true)]
    pub replay_header: Option<String>,
    /// How late an overdue replay may still go out after a restart [env: POSTKEEPER_REPLAY_GRACE; default: 24h].
    #[arg(long, global = true, value_name = "DURATION")]
    pub replay_grace: Option<String>,
    /// Link previews under replayed posts, true or false [env: POSTKEEPER_REPLAY_PREVIEWS; default: true].
    #[arg(long, global = true, value_name = "BOOL")]
    pub replay_previews: Option<String>,
}

impl Global {
    /// The flags given, keyed by name without dashes (as `settings::Spec::flag`).
    pub fn flags(&self) -> HashMap<&'static str, String> {
        let given = [
            ("db", &self.db),
            ("token", &self.token),
            ("api-url", &self.api_url),
            ("admins", &self.admins),
            ("replay-chat", &self.replay_chat),
            ("source-chat", &self.source_chat),
            ("timezone", &self.timezone),
            ("replay-header", &self.replay_header),
            ("replay-grace", &self.replay_grace),
            ("replay-previews", &self.replay_previews),
        ];
        given.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))).collect()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the bot (long polling); what a bare `postkeeper` does.
    Run,
    /// Check the setup before going live: the token, the channels, the store, the time zone.
    Doctor,
    /// The settings in effect, each with where it came from (flag, env, .env, default).
    Config,
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
pub fn run_archive_command(settings: &Settings, command: Command) -> anyhow::Result<()> {
    let db = &settings.config.db;
    match command {
        Command::Run | Command::Doctor => bail!("`run` and `doctor` are started by main"),
        Command::Config => print!("{}", settings.describe()),
        Command::Console { lang } => {
            let mut archive = crate::ingest::open_or_seed(db)?;
            let lang = if lang == "en" { crate::i18n::Lang::En } else { crate::i18n::Lang::Ru };
            let stdin = std::io::stdin();
            let prompt = stdin.is_terminal();
            let mut stdout = std::io::stdout();
            crate::console::run(
                &mut archive,
                crate::console::context(lang, &settings.config.clone()),
                stdin.lock(),
                &mut stdout,
                prompt,
            )?;
        }
        Command::Import { paths } => {
            let existed = db.exists();
            let mut archive = crate::ingest::open_archive(db, false)?;
            let result = crate::ingest::import_paths(&mut archive, &paths, std::io::stderr().is_terminal());
            if result.is_err() && !existed {
                drop(archive);
                remove_store(db);
            }
            let summary = result?;
            println!("{summary}");
        }
        Command::Search { query, limit, json } => {
            let archive = crate::ingest::open_or_seed(db)?;
            let query = query.join(" ");
            let page = crate::search::Searcher::default().search(&archive, &query, 0, limit.clamp(1, 1000))?;
            print_search(&query, &page, json)?;
        }
        Command::Posts { topic, json } => {
            let archive = crate::ingest::open_or_seed(db)?;
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
            let archive = crate::ingest::open_or_seed(db)?;
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
            let mut archive = crate::ingest::open_or_seed(db)?;
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
            use crate::replay::commands::{self as replay, Access, Surface};
            let archive = crate::ingest::open_or_seed(db)?;
            let Access::Admin(replay_settings) = Access::for_operator(&settings.config) else {
                bail!("POSTKEEPER_REPLAY_CHAT (or --replay-chat) is not set: replays have nowhere to go");
            };
            let lang = crate::i18n::Lang::En;
            let now = chrono::Utc::now();
            let answer = match command {
                Command::Schedule { what, when } => replay::schedule(
                    Surface::Cli,
                    &archive,
                    &replay_settings,
                    lang,
                    &format!("{what} {}", when.join(" ")),
                    None,
                    now,
                )?,
                Command::Cancel { id } => replay::cancel(Surface::Cli, &archive, lang, &id)?,
                _ => replay::queue(&archive, &replay_settings, lang, now)?,
            };
            let text = crate::render::html::to_text(&answer.html, true);
            // A refusal says what was wrong, so it is the error itself (main prints it on
            // stderr and exits 1): a line of our own after it would only repeat it.
            if !answer.ok {
                bail!(text);
            }
            println!("{text}");
        }
        Command::Stats { json } => {
            let archive = crate::ingest::open_or_seed(db)?;
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
