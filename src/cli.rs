//! The command line: clap definitions (every setting's flag is checked with the
//! environment and `.env` by `settings`) and one small function per archive command.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::i18n::Lang;
use crate::model::Post;
use crate::search::{SearchPage, Searcher};
use crate::settings::Settings;
use crate::topics::Taxonomy;

/// `println!` that hands a failed write back (`?`) instead of panicking: a reader gone
/// away (`postkeeper posts | head`) ends the command quietly in `main`.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

#[derive(Debug, Parser)]
#[command(name = "postkeeper", version, about = "Keeps a Telegram channel's archive and brings it back to life")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The settings' flags, one per setting of [`crate::settings::ALL`] with its help, taken as
/// given: `settings` checks them together with the environment and `.env` (a flag beats
/// both), so that a bad value gets the same message wherever it came from. Each flag also
/// works after the subcommand.
#[derive(Debug, Default, Clone)]
pub struct Global {
    given: HashMap<&'static str, String>,
}

impl Global {
    /// The flags given, keyed by name without dashes (as `settings::Spec::flag`).
    pub fn flags(&self) -> HashMap<&'static str, String> {
        self.given.clone()
    }
}

impl clap::FromArgMatches for Global {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut global = Global::default();
        global.update_from_arg_matches(matches)?;
        Ok(global)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for flag in crate::settings::ALL.iter().filter_map(|s| s.flag) {
            if let Some(value) = matches.get_one::<String>(flag) {
                self.given.insert(flag, value.clone());
            }
        }
        Ok(())
    }
}

impl Args for Global {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        crate::settings::ALL.iter().fold(cmd, |cmd, spec| match spec.flag {
            None => cmd,
            Some(flag) => cmd.arg(
                clap::Arg::new(flag)
                    .long(flag)
                    .global(true)
                    .value_name(spec.value_name)
                    .help(spec.help_line())
                    .allow_hyphen_values(spec.hyphens),
            ),
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the bot (long polling, or webhook mode with POSTKEEPER_WEBHOOK_URL); what a bare `postkeeper` does.
    Run,
    /// The web archive alone (no token needed) on POSTKEEPER_LISTEN, default 127.0.0.1:8080.
    Serve,
    /// Check the setup before going live: the token, the channels, the store, the time zone.
    Doctor,
    /// The settings in effect, each with where it came from (flag, env, .env, default).
    Config,
    /// Chat with the bot in this terminal: no token needed.
    Console {
        /// Language of the replies.
        #[arg(long, value_enum, default_value_t = Lang::Ru)]
        lang: Lang,
    },
    /// Import Telegram Desktop exports (result.json) and t.me dumps: files or folders.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The summary as JSON (counts of posts and of media files).
        #[arg(long)]
        json: bool,
        /// The zone of the computer that made the export, for old exports whose dates are
        /// local times without an offset [default: POSTKEEPER_TIMEZONE].
        #[arg(long, value_name = "ZONE")]
        export_timezone: Option<String>,
    },
    /// Search the archive.
    Search {
        #[arg(required_unless_present_any = ["similar", "glossary"], num_args = 1..)]
        query: Vec<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
        /// Order: by relevance, newest first (as `sort:new`) or most reactions first (`sort:top`).
        #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
        sort: SortArg,
        /// Posts like post ID instead of a query (the query is then left out).
        #[arg(long, value_name = "ID")]
        similar: Option<i64>,
        /// Keep this glossary (sets of equivalent terms, as seeds/glossary.toml) in the
        /// store in place of the bundled one; the bot reads it at its next search.
        #[arg(long, value_name = "FILE")]
        glossary: Option<PathBuf>,
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
        /// The post's number (`posts` and `search` list them as #ID).
        #[arg(allow_hyphen_values = true)]
        id: String,
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
    /// The archive's channels (id, title, posts, dates, where they came from);
    /// `channels remove ID` removes one with its posts and media.
    Channels {
        #[command(subcommand)]
        action: Option<ChannelsAction>,
        #[arg(long)]
        json: bool,
    },
    /// A consistent copy of the store, made while the bot runs (SQLite's online backup).
    Backup {
        /// The copy to write (refused if it exists, unless --force).
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Scheduled replays and the latest outcomes.
    Queue,
    /// Schedule a replay: WHAT is a post id, `random`, `next` or `best`; WHEN e.g. `in 10m`, `daily 10:00`.
    Schedule {
        what: String,
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        when: Vec<String>,
    },
    /// Cancel a scheduled replay (recurring ones stop recurring).
    Cancel { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ChannelsAction {
    /// Remove a channel with its posts, their media rows and files no other post uses,
    /// and the replays scheduled of its posts.
    Remove {
        /// The channel's number, as `postkeeper channels` lists it.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Remove without asking (needed when not at a terminal).
        #[arg(long)]
        yes: bool,
    },
}

/// A post in `--json` output (the README lists these fields).
#[derive(Serialize)]
struct PostJson<'a> {
    id: i64,
    title: &'a str,
    #[serde(serialize_with = "crate::model::rfc3339")]
    date: Option<DateTime<Utc>>,
    topics: Vec<&'a str>,
    url: Option<&'a str>,
    channel: &'a str,
    message_id: Option<i64>,
    /// The readers' reactions, added up.
    reactions: i64,
}

impl<'a> From<&'a Post> for PostJson<'a> {
    fn from(post: &'a Post) -> Self {
        PostJson {
            id: post.id,
            title: &post.title,
            date: post.date,
            topics: post.topics.iter().map(|t| t.slug.as_str()).collect(),
            url: post.url.as_deref(),
            channel: &post.channel_title,
            message_id: post.message_id,
            reactions: crate::model::Reaction::total(&post.reactions),
        }
    }
}

/// `show --json`: the post in full.
#[derive(Serialize)]
struct FullPostJson<'a> {
    #[serde(flatten)]
    post: PostJson<'a>,
    text: &'a str,
    entities: &'a [crate::model::Entity],
    links: &'a [String],
    #[serde(serialize_with = "crate::model::rfc3339")]
    edited: Option<DateTime<Utc>>,
    /// Photos, videos, files, in album order (`file` is a name in the media folder).
    media: &'a [crate::model::Media],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    reactions: &'a [crate::model::Reaction],
    /// `poll`, `location`, `contact`: what the post is besides text and media.
    #[serde(flatten)]
    extra: &'a crate::model::Extra,
}

/// `search --json`: a hit.
#[derive(Serialize)]
struct HitJson<'a> {
    #[serde(flatten)]
    post: PostJson<'a>,
    /// bm25's; null when the hits were not ranked by relevance (see [`ranked`]).
    score: Option<f64>,
    /// HTML, matched words in `<b>`.
    snippet: String,
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    say!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn line(post: &Post) -> String {
    let date = post.date.map(|d| d.format("%Y-%m-%d ").to_string()).unwrap_or_default();
    let topics: Vec<&str> = post.topics.iter().map(|t| t.slug.as_str()).collect();
    let marker = crate::model::media_marker(&post.media).map(|m| format!("{m} ")).unwrap_or_default();
    format!("#{:<5} {date}{marker}{}  [{}]", post.id, post.title, topics.join(", "))
}

/// Runs an archive command (everything but `run` and `doctor`, which need Telegram).
pub fn run_archive_command(settings: &Settings, command: Command) -> anyhow::Result<()> {
    let db = &settings.config.db;
    match command {
        Command::Run | Command::Doctor => bail!("`run` and `doctor` are started by main"),
        Command::Config => {
            write!(std::io::stdout().lock(), "{}", settings.describe())?;
            Ok(())
        }
        Command::Console { lang } => console(settings, lang),
        Command::Serve => serve(settings),
        Command::Import { paths, json, export_timezone } => {
            let zone = match export_timezone {
                Some(name) => crate::config::parse_timezone(&name)
                    .map_err(|e| anyhow::anyhow!("--export-timezone {name:?} {e}"))?,
                None => settings.config.timezone,
            };
            import(db, &settings.config.media_dir, &paths, json, zone)
        }
        Command::Search { query, limit, json, sort, similar, glossary } => {
            if let Some(file) = glossary {
                let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                let name = file.display().to_string();
                // Checked before the store is opened: a refused file creates nothing either.
                crate::search::glossary::Glossary::parse(&text, &name).map_err(|e| anyhow::anyhow!(e))?;
                let archive = crate::ingest::open_or_seed(db)?;
                let sets = Searcher::set_glossary(&archive, &text, &name).map_err(|e| anyhow::anyhow!(e))?;
                say!("glossary: {sets} sets from {}", file.display());
                if query.is_empty() {
                    return Ok(());
                }
            }
            search(settings, &query.join(" "), limit, json, sort, similar)
        }
        Command::Posts { topic, json } => posts(db, topic.as_deref(), json),
        Command::Show { id, json } => show(db, &settings.config.media_dir, &id, json),
        Command::Topics { json, retag, file } => topics(db, json, retag, file),
        Command::Stats { json } => stats(db, json),
        Command::Channels { action: None, json } => channels(db, json),
        Command::Channels { action: Some(ChannelsAction::Remove { id, yes }), .. } => {
            remove_channel(db, &settings.config.media_dir, &id, yes)
        }
        Command::Backup { file, force, json } => backup(db, &file, force, json),
        Command::Queue => replay_command(settings, ReplayCommand::Queue),
        Command::Schedule { what, when } => {
            replay_command(settings, ReplayCommand::Schedule(format!("{what} {}", when.join(" "))))
        }
        Command::Cancel { id } => replay_command(settings, ReplayCommand::Cancel(id)),
    }
}

/// Where `serve` listens without `POSTKEEPER_LISTEN`.
const SERVE_DEFAULT: std::net::SocketAddr =
    std::net::SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 8080));

/// `postkeeper serve`: the web archive until SIGINT or SIGTERM.
fn serve(settings: &Settings) -> anyhow::Result<()> {
    let archive = crate::ingest::open_or_seed(&settings.config.db)?;
    let web = std::sync::Arc::new(crate::web::Web {
        archive: crate::store::SharedArchive::new(archive),
        searcher: Searcher::default(),
        config: settings.config.clone(),
        // No token here: a live post's media links to the post on t.me.
        fetch: None,
    });
    let addr = settings.listen.unwrap_or(SERVE_DEFAULT);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let stop = tokio_util::sync::CancellationToken::new();
        let signal = stop.clone();
        tokio::spawn(async move {
            crate::bot::wait_for_signal().await;
            tracing::info!("stopping");
            signal.cancel();
        });
        crate::web::serve(addr, web, stop).await
    })
}

fn console(settings: &Settings, lang: Lang) -> anyhow::Result<()> {
    let mut archive = crate::ingest::open_or_seed(&settings.config.db)?;
    let stdin = std::io::stdin();
    let prompt = stdin.is_terminal();
    let ctx = crate::console::context(lang, &settings.config);
    let media = settings.config.media_dir.display().to_string();
    crate::console::run(&mut archive, ctx, stdin.lock(), &mut std::io::stdout(), prompt, &media)
}

/// One transaction; a store this import created is removed again when it fails (and
/// the media files it copied with it).
fn import(db: &Path, media_dir: &Path, paths: &[PathBuf], json: bool, zone: chrono_tz::Tz) -> anyhow::Result<()> {
    let existed = db.exists();
    let mut archive = crate::ingest::open_archive(db, false)?;
    let progress = std::io::stderr().is_terminal();
    let result = crate::ingest::import_paths_in(&mut archive, paths, progress, Some(media_dir), zone);
    if result.is_err() && !existed {
        drop(archive);
        remove_store(db);
    }
    let summary = result?;
    if json {
        return print_json(&summary);
    }
    say!("{summary}");
    Ok(())
}

/// `search --sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortArg {
    Relevance,
    New,
    /// The most reactions first.
    Top,
}

fn search(
    settings: &Settings,
    query: &str,
    limit: usize,
    json: bool,
    sort: SortArg,
    similar: Option<i64>,
) -> anyhow::Result<()> {
    let archive = crate::ingest::open_or_seed(&settings.config.db)?;
    let limit = limit.clamp(1, 1000);
    if let Some(id) = similar {
        let Some((post, page)) = Searcher::default().similar(&archive, id, 0, limit)? else {
            bail!("there is no post #{id}");
        };
        if !json {
            say!("like #{} {}", post.id, post.title);
        }
        return print_search(query, &page, json);
    }
    let sort = match sort {
        SortArg::Relevance => crate::search::Sort::Relevance,
        SortArg::New => crate::search::Sort::Newest,
        SortArg::Top => crate::search::Sort::Top,
    };
    let input = if sort != crate::search::Sort::Relevance {
        crate::search::lang::with_sort(query, sort, Lang::En)
    } else {
        query.to_string()
    };
    let request = crate::search::Request {
        input: &input,
        offset: 0,
        limit,
        lang: Lang::En,
        tz: settings.config.timezone,
        correct: true,
    };
    let page = Searcher::default().search_with(&archive, &request)?;
    print_search(query, &page, json)
}

/// One post at a time: a million posts never sit in memory at once.
fn posts(db: &Path, topic: Option<&str>, json: bool) -> anyhow::Result<()> {
    let archive = crate::ingest::open_or_seed(db)?;
    let slug = match topic {
        Some(name) => match archive.taxonomy().find(name) {
            Some(t) => Some(t.slug.clone()),
            None => bail!("no topic {name:?}; `postkeeper topics` lists them"),
        },
        None => None,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut first = true;
    archive.for_each_post(slug.as_deref(), |p| {
        if json {
            let sep = if first { "[\n  " } else { ",\n  " };
            first = false;
            write!(out, "{sep}{}", serde_json::to_string(&PostJson::from(&p))?)
        } else {
            writeln!(out, "{}", line(&p))
        }
    })?;
    if json {
        writeln!(out, "{}", if first { "[]" } else { "\n]" })?;
    }
    out.flush()?;
    Ok(())
}

fn show(db: &Path, media_dir: &Path, id: &str, json: bool) -> anyhow::Result<()> {
    let archive = crate::ingest::open_or_seed(db)?;
    // A number that is no post id (negative, zero, beyond i64) is a post that is not there.
    let post = match id.trim().trim_start_matches('#').parse::<i64>() {
        Ok(n) if n > 0 => archive.post(n)?,
        _ => None,
    };
    let post = post.with_context(|| format!("no post #{id}; `postkeeper posts` lists them"))?;
    if json {
        return print_json(&[FullPostJson {
            post: PostJson::from(&post),
            text: &post.body,
            entities: &post.entities,
            links: &post.links,
            edited: post.edited,
            media: &post.media,
            reactions: &post.reactions,
            extra: &post.extra,
        }]);
    }
    say!("{}", line(&post));
    if let Some(url) = &post.url {
        say!("{url}");
    }
    let label = media_dir.display().to_string();
    for m in &post.media {
        say!("{}", crate::render::post::media_line(m, &label, Lang::En));
    }
    say!("\n{}", post.body);
    Ok(())
}

fn topics(db: &Path, json: bool, retag: bool, file: Option<PathBuf>) -> anyhow::Result<()> {
    let mut archive = crate::ingest::open_or_seed(db)?;
    if retag {
        let default = PathBuf::from("seeds/topics.toml");
        let file = file.or_else(|| default.is_file().then_some(default));
        let tagged = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                let taxonomy = Taxonomy::parse(&text, &path.display().to_string())?;
                archive.set_taxonomy(taxonomy, &text)?
            }
            None => archive.retag()?,
        };
        let source = file.map_or_else(|| "the store's taxonomy".to_string(), |p| p.display().to_string());
        eprintln!("re-tagged with {source}: {tagged} posts have a topic");
    }
    let counts = archive.topic_counts()?;
    if json {
        return print_json(&counts);
    }
    for c in counts {
        say!("{:<14} {:>5}  {} {} / {}", c.topic.slug, c.posts, c.topic.emoji, c.topic.ru, c.topic.en);
    }
    Ok(())
}

fn stats(db: &Path, json: bool) -> anyhow::Result<()> {
    let archive = crate::ingest::open_or_seed(db)?;
    let stats = archive.stats()?;
    if json {
        return print_json(&stats);
    }
    say!("posts:    {} ({} undated, {} without a topic)", stats.posts, stats.undated, stats.untagged);
    say!("channels: {}", stats.channels);
    match (stats.first_date, stats.last_date) {
        (Some(a), Some(b)) => say!("dates:    {} .. {}", a.format("%Y-%m-%d"), b.format("%Y-%m-%d")),
        _ => say!("dates:    unknown"),
    }
    say!("topics:");
    for c in stats.topics {
        say!("  {:<14} {:>5}  {}", c.topic.slug, c.posts, c.topic.en);
    }
    Ok(())
}

fn backup(db: &Path, file: &Path, force: bool, json: bool) -> anyhow::Result<()> {
    if !db.is_file() {
        bail!("there is no store at {} to back up", db.display());
    }
    // A store of an older build is brought up to date first, as any command would.
    drop(crate::ingest::open_archive(db, false)?);
    let bar =
        if std::io::stderr().is_terminal() { indicatif::ProgressBar::new(0) } else { indicatif::ProgressBar::hidden() };
    let report = crate::store::backup(db, file, force, |done, total| {
        bar.set_length(total.max(0) as u64);
        bar.set_position(done.max(0) as u64);
    })?;
    bar.finish_and_clear();
    if json {
        return print_json(&report);
    }
    say!(
        "backup {}: {:.1} MiB, {} posts; restore: stop the bot, copy it over {}, start the bot",
        report.file.display(),
        report.bytes as f64 / (1024.0 * 1024.0),
        report.posts,
        db.display()
    );
    Ok(())
}

fn channels(db: &Path, json: bool) -> anyhow::Result<()> {
    let archive = crate::ingest::open_or_seed(db)?;
    let infos = archive.channel_infos()?;
    if json {
        return print_json(&infos);
    }
    for c in &infos {
        let username = c.channel.username.as_deref().map(|u| format!(" @{u}")).unwrap_or_default();
        let tg = c.channel.tg_id.map(|id| format!(" ({id})")).unwrap_or_default();
        let dates = match (c.first_date, c.last_date) {
            (Some(a), Some(b)) => format!("{} .. {}", a.format("%Y-%m-%d"), b.format("%Y-%m-%d")),
            _ => "undated".to_string(),
        };
        say!("#{:<4} {}{username}{tg}: {} posts, {dates}, {}", c.channel.id, c.channel.title, c.posts, c.origin);
    }
    if infos.is_empty() {
        say!("no channels: `postkeeper import` your channel's export");
    }
    Ok(())
}

fn remove_channel(db: &Path, media_dir: &Path, id: &str, yes: bool) -> anyhow::Result<()> {
    let mut archive = crate::ingest::open_archive(db, false)?;
    let info = id
        .trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .and_then(|id| archive.channel_infos().ok()?.into_iter().find(|c| c.channel.id == id));
    let Some(info) = info else { bail!("no channel #{id}; `postkeeper channels` lists them") };
    let what = format!("«{}» (#{}, {} posts)", info.channel.title, info.channel.id, info.posts);
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!("removing {what} cannot be undone: add --yes to remove it");
        }
        eprint!("Remove {what} with its media and scheduled replays? This cannot be undone. [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "д" | "да") {
            say!("nothing removed");
            return Ok(());
        }
    }
    let Some(removed) = archive.remove_channel(info.channel.id)? else { bail!("no channel #{id}") };
    let mut deleted = 0;
    for file in &removed.unused_files {
        match std::fs::remove_file(media_dir.join(file)) {
            Ok(()) => deleted += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot delete {}: {e}", media_dir.join(file).display()),
        }
    }
    say!(
        "removed {what}: {} replay job{} cancelled, {deleted} media file{} deleted",
        removed.jobs_cancelled,
        if removed.jobs_cancelled == 1 { "" } else { "s" },
        if deleted == 1 { "" } else { "s" }
    );
    Ok(())
}

const NO_REPLAY_CHAT: &str = "POSTKEEPER_REPLAY_CHAT (or --replay-chat) is not set";

enum ReplayCommand {
    Queue,
    /// `WHAT WHEN`
    Schedule(String),
    Cancel(String),
}

/// `queue`, `schedule`, `cancel`: the chat's replay commands, in CLI words.
fn replay_command(settings: &Settings, command: ReplayCommand) -> anyhow::Result<()> {
    use crate::replay::commands::{self as replay, Access, Surface};
    let archive = crate::ingest::open_or_seed(&settings.config.db)?;
    let (lang, now) = (Lang::En, chrono::Utc::now());
    let Access::Admin(replay_settings) = Access::for_operator(&settings.config) else {
        if let ReplayCommand::Queue = command {
            // What is waiting can be listed before replays are set up; the note says why
            // nothing of it goes out.
            let answer = replay::queue(&archive, settings.config.timezone, lang, now)?;
            say!("{}", crate::render::html::to_text(&answer.html, true));
            eprintln!("note: {NO_REPLAY_CHAT}: nothing is sent until it is");
            return Ok(());
        }
        bail!("{NO_REPLAY_CHAT}: replays have nowhere to go");
    };
    let answer = match command {
        ReplayCommand::Schedule(args) => {
            replay::schedule(Surface::Cli, &archive, &replay_settings, lang, &args, None, now)?
        }
        ReplayCommand::Cancel(id) => replay::cancel(Surface::Cli, &archive, lang, &id)?,
        ReplayCommand::Queue => replay::queue(&archive, replay_settings.tz, lang, now)?,
    };
    let text = crate::render::html::to_text(&answer.html, true);
    // A refusal says what was wrong, so it is the error itself (main prints it on
    // stderr and exits 1): a line of our own after it would only repeat it.
    if !answer.ok {
        bail!(text);
    }
    say!("{text}");
    Ok(())
}

/// Were the hits ranked by relevance? bm25 scores every post it ranks above zero: a page
/// sorted newest first, or of filters or common words only (listed newest first), has
/// zeros, which would read as "not relevant" in a score column.
fn ranked(page: &SearchPage) -> bool {
    page.sort == crate::search::Sort::Relevance && page.hits.iter().any(|h| h.score != 0.0)
}

fn print_search(query: &str, page: &SearchPage, json: bool) -> anyhow::Result<()> {
    let ranked = ranked(page);
    if json {
        let hits: Vec<HitJson> = page
            .hits
            .iter()
            .map(|h| HitJson {
                post: PostJson::from(&h.post),
                score: ranked.then_some(h.score),
                snippet: h.snippet.render(crate::render::html::escape_into, "<b>", "</b>"),
            })
            .collect();
        return print_json(&hits);
    }
    for problem in &page.problems {
        say!("{problem}");
    }
    if !page.understood.is_empty() {
        say!("searching: {}", page.understood);
    }
    if let Some(c) = &page.corrected {
        say!("nothing found for {query:?}; showing results for {c:?}");
    }
    if page.hits.is_empty() {
        for why in &page.impossible {
            say!("{why}");
        }
        if page.impossible.is_empty() {
            say!("nothing found for {query:?}");
        }
        if let Some(s) = &page.suggestion {
            say!("did you mean: {s}");
        }
        return Ok(());
    }
    let plus = if page.total_capped { "+" } else { "" };
    let mode = match page.mode {
        crate::search::Mode::All => "",
        crate::search::Mode::Any => " (not all words matched)",
    };
    say!("{}{plus} found{mode}", page.total);
    let bold = std::io::stdout().is_terminal();
    for h in &page.hits {
        if ranked {
            say!("\n{}  score {:.2}", line(&h.post), h.score);
        } else {
            say!("\n{}", line(&h.post));
        }
        let (open, close) = if bold { ("\x1b[1m", "\x1b[0m") } else { ("[", "]") };
        say!("  {}", h.snippet.render(String::push_str, open, close));
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
