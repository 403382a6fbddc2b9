//! The conversation: commands and button presses in, replies out. Pure with
//! respect to Telegram (the bot and the console both drive it), so every
//! reply is computed here once.

pub mod callback;
pub mod command;
pub mod greeting;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use callback::Action;
pub use command::Command;

use crate::i18n::Lang;
use crate::i18n::fill;
use crate::model::{Media, MediaKind, Post};
use crate::render::html::{self, escape};
use crate::render::media::{Outgoing, post_outgoing};
use crate::render::post::{list_entry, post_messages, snippet_html};
use crate::replay::commands::{self as replay, Access};
use crate::search::{Mode, Request, SearchPage, Searcher, Sort};
use crate::store::sendable;
use crate::store::{Archive, StoreError};

/// Hits per page of `/search` and `/topic`.
pub const PAGE_SIZE: usize = 5;
/// Results per page of inline mode.
pub const INLINE_PAGE: usize = 20;
/// Stored queries unused for this long are forgotten (their buttons then say "search again").
pub const QUERY_TTL_SECS: i64 = 30 * 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonKind {
    Callback(Action),
    Url(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub kind: ButtonKind,
}

impl Button {
    fn callback(label: impl Into<String>, action: Action) -> Self {
        Button { label: label.into(), kind: ButtonKind::Callback(action) }
    }
}

/// One message to send (or the new content of a message to edit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Telegram HTML, under 4096 UTF-16 units after parsing; with media, their caption
    /// (under 1024, may be empty).
    pub html: String,
    pub keyboard: Vec<Vec<Button>>,
    /// A photo, video or file (sent by its own method), or an album of 2..=10 of one
    /// family (which cannot carry a keyboard); empty for a text message.
    pub media: Vec<Media>,
}

impl Reply {
    pub fn text(html: impl Into<String>) -> Self {
        Reply { html: html.into(), keyboard: Vec::new(), media: Vec::new() }
    }
}

/// Who is asking, and where.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub chat_id: i64,
    pub lang: Lang,
    /// A private chat: plain text is a search there.
    pub private: bool,
    pub bot_username: String,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    /// The user's id (None in the console).
    pub user_id: Option<i64>,
    /// Whether this person may replay, and where to.
    pub access: Access,
    /// Shared by every search of the process (the vocabulary suggestions read).
    pub searcher: Searcher,
    /// Where the posts' media files are.
    pub media_dir: PathBuf,
    /// The web archive's public address: a post's reply links to its page.
    pub public_url: Option<url::Url>,
}

/// What to do about a button press.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackReply {
    /// A short notice shown by the client (`answerCallbackQuery` text).
    pub toast: Option<String>,
    /// New content for the message whose button was pressed.
    pub edit: Option<Reply>,
    /// New messages.
    pub send: Vec<Reply>,
}

/// A page of inline results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineArticle {
    /// Unique, ≤ 64 bytes.
    pub id: String,
    pub title: String,
    pub description: String,
    /// The message: a text, or with `photo` the photo's caption.
    pub html: String,
    /// A post of one photo this bot has a file_id for: answered as that photo.
    pub photo: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePage {
    pub articles: Vec<InlineArticle>,
    /// "" when there is no next page.
    pub next_offset: String,
}

/// Replies to a command.
pub fn on_command(archive: &mut Archive, ctx: &Ctx, command: Command) -> Result<Vec<Reply>, StoreError> {
    let t = ctx.lang.texts();
    Ok(match command {
        Command::Start | Command::Help => vec![help(archive, ctx)?],
        Command::Search(q) if q.trim().is_empty() => vec![Reply::text(t.search_usage)],
        Command::Search(q) => vec![search(archive, ctx, &q)?],
        Command::Random => random(archive, ctx)?,
        Command::Topic(name) => vec![topic_by_name(archive, ctx, &name)?],
        Command::Post(arg) => match post_number(&arg) {
            PostNumber::Id(id) => post(archive, ctx, id)?,
            PostNumber::NoSuchPost => vec![Reply::text(t.no_post)],
            PostNumber::NotANumber => vec![Reply::text(t.post_usage)],
        },
        Command::Similar(arg) => match post_number(&arg) {
            PostNumber::Id(id) => vec![similar_page(archive, ctx, id, 0)?],
            PostNumber::NoSuchPost => vec![Reply::text(t.no_post)],
            PostNumber::NotANumber => vec![Reply::text(t.similar_usage)],
        },
        Command::Replay(_) | Command::Schedule(_) | Command::Queue | Command::Cancel(_) => {
            let settings = match &ctx.access {
                Access::Admin(s) => s,
                refused => return Ok(vec![Reply::text(refused.refusal(ctx.lang).unwrap_or(t.went_wrong))]),
            };
            let (lang, by, now) = (ctx.lang, ctx.user_id, ctx.now);
            let answer = match command {
                Command::Replay(arg) => replay::replay_now(archive, settings, lang, &arg, by, now)?,
                Command::Schedule(args) => {
                    replay::schedule(replay::Surface::Chat, archive, settings, lang, &args, by, now)?
                }
                Command::Cancel(arg) => replay::cancel(replay::Surface::Chat, archive, lang, &arg)?,
                _ => replay::queue(archive, settings.tz, lang, now)?,
            };
            vec![Reply::text(answer.html)]
        }
        Command::Id => vec![id(ctx)],
        Command::Unknown(_) => vec![Reply::text(t.unknown_command)],
    })
}

/// What the argument of `/post` or `/similar` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PostNumber {
    Id(i64),
    /// A whole number no post can have (zero, negative, beyond i64): the person meant a
    /// post, and there is none, which is what to tell them.
    NoSuchPost,
    /// Not a number at all (or nothing): how to write the command.
    NotANumber,
}

fn post_number(arg: &str) -> PostNumber {
    let digits = arg.trim().trim_start_matches('#');
    let unsigned = digits.strip_prefix(['-', '+']).unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_ascii_digit()) {
        return PostNumber::NotANumber;
    }
    match digits.parse::<i64>() {
        Ok(id) if id > 0 => PostNumber::Id(id),
        _ => PostNumber::NoSuchPost,
    }
}

/// `/id`: what an admin pastes into `.env` (POSTKEEPER_ADMINS), and a group's own id.
fn id(ctx: &Ctx) -> Reply {
    let t = ctx.lang.texts();
    let Some(user) = ctx.user_id else { return Reply::text(t.id_console) };
    let user = user.to_string();
    let admin = matches!(ctx.access, Access::Admin(_) | Access::NoReplayChat);
    let mut html = fill(if admin { t.id_admin_already } else { t.id_user }, &[("id", &user)]);
    if !ctx.private {
        html.push('\n');
        html.push_str(&fill(t.id_chat, &[("chat", &ctx.chat_id.to_string())]));
    }
    Reply::text(html)
}

/// A channel's post forwarded to the bot: the channel's id, for POSTKEEPER_SOURCE_CHAT.
pub fn forwarded_channel(lang: Lang, channel_id: i64, title: &str) -> Reply {
    let t = lang.texts();
    Reply::text(fill(t.id_forwarded_channel, &[("id", &channel_id.to_string()), ("title", &escape(title))]))
}

/// Replies to a message that is not a command: in private chats a greeting to a greeting
/// or thanks, a search to anything else; nothing elsewhere.
pub fn on_text(archive: &mut Archive, ctx: &Ctx, text: &str) -> Result<Vec<Reply>, StoreError> {
    if !ctx.private || text.trim().is_empty() {
        return Ok(Vec::new());
    }
    if let Some(kind) = greeting::greeting(text) {
        return Ok(vec![greeting::reply(archive, ctx.lang, kind)?]);
    }
    Ok(vec![search(archive, ctx, text)?])
}

fn help(archive: &Archive, ctx: &Ctx) -> Result<Reply, StoreError> {
    let t = ctx.lang.texts();
    let mut out = String::new();
    match archive.main_channel()? {
        Some(c) => {
            out.push_str(&format!("<b>{}</b>\n", escape(&c.title)));
            if let Some(d) = &c.description {
                out.push_str(&escape(&html::truncate(d, 600)));
                out.push('\n');
            }
            let n = archive.post_count()?;
            out.push_str(&format!("\n📚 {n}\n"));
        }
        None => {
            out.push_str(t.intro_fallback);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(t.commands_header);
    out.push('\n');
    let slots = help_slots(archive, ctx)?;
    let slots: Vec<(&str, &str)> = slots.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for (example, what) in t.help_lines {
        // A command with no example here (an empty archive) is shown bare.
        let example = match fill_all(example, &slots) {
            Some(filled) => filled,
            None => example.split_once(' ').map_or(*example, |(command, _)| command).to_string(),
        };
        out.push_str(&format!("{} — {what}\n", escape(&example)));
    }
    out.push('\n');
    out.push_str(t.search_help_header);
    out.push('\n');
    // An operator with nothing to match here (no dates, no media, no hashtags) is left out.
    for (example, what) in t.search_help_lines {
        if let (Some(example), Some(what)) = (fill_all(example, &slots), fill_all(what, &slots)) {
            out.push_str(&format!("<code>{}</code> — {}\n", escape(&example), what));
        }
    }
    out.push('\n');
    // Inline mode is Telegram's: the console (no Telegram user) has no bot to name.
    if ctx.user_id.is_some() {
        out.push_str(&escape(&t.inline_hint.replace("{bot}", &ctx.bot_username)));
        out.push('\n');
    }
    out.push_str(t.plain_text_hint);
    Ok(Reply::text(out))
}

/// The help's examples, taken from the archive so that each finds posts here: a frequent
/// title word, the biggest topic, the newest post, the years it covers, a media kind and a
/// hashtag it has. A slot is missing when the archive has nothing for it.
fn help_slots(archive: &Archive, ctx: &Ctx) -> Result<Vec<(&'static str, String)>, StoreError> {
    let t = ctx.lang.texts();
    let mut slots = Vec::new();
    if let Some(word) = greeting::example_searches(archive, 1)?.into_iter().next() {
        slots.push(("word", word));
    }
    // The first of the biggest in the taxonomy's order (`max_by_key` keeps the last).
    let biggest = archive.topic_counts()?.into_iter().filter(|c| c.posts > 0).rev().max_by_key(|c| c.posts);
    if let Some(c) = biggest {
        let name = ctx.lang.pick(&c.topic.ru, &c.topic.en).to_lowercase();
        let op = if name.contains(char::is_whitespace) { format!("\"{name}\"") } else { name.clone() };
        slots.push(("topic", name));
        slots.push(("topic_op", op));
    }
    if let Some(post) = archive.newest(0, 1)?.first() {
        slots.push(("post", post.id.to_string()));
    }
    let facts = crate::search::facts::Facts::read(archive)?;
    if let Some((first, last)) = facts.dates {
        slots.push(("from", first.with_timezone(&ctx.tz).format("%Y").to_string()));
        slots.push(("to", last.with_timezone(&ctx.tz).format("%Y-%m").to_string()));
    }
    if let Some(kind) = facts.media.first() {
        let name = match kind {
            crate::search::MediaKind::Photo => t.media_names[0],
            crate::search::MediaKind::Video => t.media_names[1],
            crate::search::MediaKind::File => t.media_names[2],
        };
        slots.push(("media", name.to_string()));
    }
    if let Some(tag) = facts.hashtag {
        slots.push(("hashtag", tag));
    }
    Ok(slots)
}

/// `text` with every `{slot}` filled, or `None` when one of them has no value.
fn fill_all(text: &str, slots: &[(&str, &str)]) -> Option<String> {
    let filled = fill(text, slots);
    let unfilled = filled.match_indices('{').any(|(i, _)| {
        filled[i + 1..]
            .split_once('}')
            .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    });
    (!unfilled).then_some(filled)
}

/// A new search: the query is stored, and page 0 shown.
fn search(archive: &mut Archive, ctx: &Ctx, text: &str) -> Result<Reply, StoreError> {
    let started = std::time::Instant::now();
    let query = normalize_query(text);
    let id = archive.remember_query(&query, ctx.now.timestamp())?;
    let reply = search_page(archive, ctx, id, &query, 0, true);
    metrics::counter!("postkeeper_searches_total").increment(1);
    metrics::histogram!("postkeeper_search_duration_seconds").record(started.elapsed().as_secs_f64());
    reply
}

/// Whitespace collapsed and length bounded: what is stored and echoed.
fn normalize_query(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(512).collect()
}

fn pager(page: usize, pages: usize, make: impl Fn(usize) -> Action) -> Vec<Button> {
    let mut row = Vec::new();
    if pages <= 1 {
        return row;
    }
    if page > 0 {
        row.push(Button::callback("◀", make(page - 1)));
    }
    row.push(Button::callback(format!("{}/{pages}", page + 1), Action::Page { page: page + 1, pages }));
    if page + 1 < pages {
        row.push(Button::callback("▶", make(page + 1)));
    }
    row
}

/// A page of a stored query; `correct`: run a typo correction at once when it finds nothing.
fn search_page(
    archive: &Archive,
    ctx: &Ctx,
    query_id: i64,
    query: &str,
    page: usize,
    correct: bool,
) -> Result<Reply, StoreError> {
    let t = ctx.lang.texts();
    let echo = escape(&html::truncate(query, 100));
    let request = |page: usize| Request {
        input: query,
        offset: page * PAGE_SIZE,
        limit: PAGE_SIZE,
        lang: ctx.lang,
        tz: ctx.tz,
        correct,
    };
    let mut results = ctx.searcher.search_with(archive, &request(page))?;
    let pages = results.total.div_ceil(PAGE_SIZE).max(1);
    // A button of an old message may point past the end (the archive changed): show the last page.
    let page = page.min(pages - 1);
    if results.hits.is_empty() && results.total > 0 {
        results = ctx.searcher.search_with(archive, &request(page))?;
    }
    let mut out = String::new();
    for problem in &results.problems {
        out.push_str(&escape(problem));
        out.push('\n');
    }
    if !results.understood.is_empty() {
        out.push_str(&format!("🔎 <b>{}</b>\n", escape(&html::truncate(&results.understood, 200))));
    }
    if results.hits.is_empty() {
        if results.impossible.is_empty() {
            out.push_str(&format!("{} «{echo}».", t.nothing_found));
        } else {
            // Why nothing can match here says more than "nothing found".
            out.push_str(&escape(&results.impossible.join("\n")));
        }
        let mut reply = Reply::text(out);
        if let Some(s) = results.suggestion {
            let sid = archive.remember_query(&s, ctx.now.timestamp())?;
            reply.html.push_str(&format!("\n{} <b>{}</b>", t.did_you_mean, escape(&s)));
            reply.keyboard.push(vec![Button::callback(
                format!("🔎 {}", html::truncate(&s, 40)),
                Action::Search { query: sid, page: 0 },
            )]);
        }
        return Ok(reply);
    }
    let mut keyboard = Vec::new();
    // The pages of a corrected query are the correction's: its own stored query.
    let mut pages_of = query_id;
    let mut sort_of = query.to_string();
    if let Some(corrected) = &results.corrected {
        out.push_str(&fill(t.showing_corrected, &[("query", &escape(&html::truncate(corrected, 100)))]));
        out.push('\n');
        pages_of = archive.remember_query(corrected, ctx.now.timestamp())?;
        sort_of = corrected.clone();
        keyboard.push(vec![Button::callback(
            fill(t.search_instead, &[("query", &html::truncate(query, 40))]),
            Action::Exact { query: query_id, page: 0 },
        )]);
    }
    out.push_str(&found_line(&results, t, page, pages));
    for (i, hit) in results.hits.iter().enumerate() {
        out.push_str("\n\n");
        out.push_str(&list_entry(page * PAGE_SIZE + i + 1, &hit.post, Some(&snippet_html(hit)), ctx.lang, ctx.tz));
    }
    let exact = !correct;
    let row = pager(page, pages, |p| {
        if exact { Action::Exact { query: pages_of, page: p } } else { Action::Search { query: pages_of, page: p } }
    });
    let mut reply = Reply::text(out);
    if !row.is_empty() {
        keyboard.push(row);
    }
    // The next order: the same query with its sort operator changed, from page 1;
    // relevance → newest → most liked (when the archive has reactions) → relevance.
    let (label, other) = match results.sort {
        Sort::Relevance => (t.sort_newest_button, Sort::Newest),
        Sort::Newest if archive.has_reactions()? => (t.sort_top_button, Sort::Top),
        Sort::Newest | Sort::Top => (t.sort_relevance_button, Sort::Relevance),
    };
    let toggled = normalize_query(&crate::search::lang::with_sort(&sort_of, other, ctx.lang));
    let toggled_id = archive.remember_query(&toggled, ctx.now.timestamp())?;
    keyboard.push(vec![Button::callback(label, Action::Search { query: toggled_id, page: 0 })]);
    reply.keyboard = keyboard;
    Ok(reply)
}

/// `Найдено 12 · стр. 1/3`.
fn found_line(results: &SearchPage, t: &crate::i18n::Texts, page: usize, pages: usize) -> String {
    let plus = if results.total_capped { "+" } else { "" };
    let mut out = format!("{} {}{plus}", t.found, results.total);
    if results.mode == Mode::Any && results.corrected.is_none() {
        out.push_str(&format!(" ({})", t.found_some_words));
    }
    if pages > 1 {
        out.push_str(&format!(" · {} {}/{pages}", t.page, page + 1));
    }
    out
}

/// A page of the posts like post `id`.
fn similar_page(archive: &Archive, ctx: &Ctx, id: i64, page: usize) -> Result<Reply, StoreError> {
    let t = ctx.lang.texts();
    let Some((post, mut results)) = ctx.searcher.similar(archive, id, page * PAGE_SIZE, PAGE_SIZE)? else {
        return Ok(Reply::text(t.no_post));
    };
    let pages = results.total.div_ceil(PAGE_SIZE).max(1);
    let page = page.min(pages - 1);
    if results.hits.is_empty() && results.total > 0 {
        results = ctx.searcher.similar(archive, id, page * PAGE_SIZE, PAGE_SIZE)?.map(|(_, r)| r).unwrap_or(results);
    }
    let title = if post.title.is_empty() { t.no_title } else { &post.title };
    let mut out = fill(t.similar_header, &[("id", &id.to_string()), ("title", &escape(&html::truncate(title, 80)))]);
    out.push('\n');
    if results.hits.is_empty() {
        out.push_str(t.similar_none);
        return Ok(Reply::text(out));
    }
    results.mode = Mode::All;
    out.push_str(&found_line(&results, t, page, pages));
    for (i, hit) in results.hits.iter().enumerate() {
        out.push_str("\n\n");
        out.push_str(&list_entry(page * PAGE_SIZE + i + 1, &hit.post, Some(&snippet_html(hit)), ctx.lang, ctx.tz));
    }
    let mut reply = Reply::text(out);
    let row = pager(page, pages, |p| Action::Similar { post: id, page: p });
    if !row.is_empty() {
        reply.keyboard.push(row);
    }
    Ok(reply)
}

fn random(archive: &mut Archive, ctx: &Ctx) -> Result<Vec<Reply>, StoreError> {
    let t = ctx.lang.texts();
    let Some(post) = archive.random_post(ctx.chat_id)? else {
        return Ok(vec![Reply::text(t.empty_archive)]);
    };
    let mut replies = full_post(&post, ctx, web_link(archive, ctx, &post)?);
    if let Some(last) = replies.last_mut() {
        last.keyboard.push(vec![Button::callback(t.more_random, Action::Random)]);
    }
    Ok(replies)
}

fn post(archive: &Archive, ctx: &Ctx, id: i64) -> Result<Vec<Reply>, StoreError> {
    Ok(match archive.post(id)? {
        Some(post) => {
            let web = web_link(archive, ctx, &post)?;
            full_post(&post, ctx, web)
        }
        None => vec![Reply::text(ctx.lang.texts().no_post)],
    })
}

/// A post as messages: its media with the text as their caption when it fits, else the
/// text after them; the last message can take a keyboard (an album cannot) and gets the
/// "similar posts" button. Media that cannot be sent (not exported, gone from the media
/// folder) leave the text alone, said so at the end.
fn full_post(post: &Post, ctx: &Ctx, web: Option<String>) -> Vec<Reply> {
    let dir = &ctx.media_dir;
    let (out, missing) = post_outgoing(post, ctx.lang, ctx.tz, None, true, true, |m| sendable(dir, m));
    let mut replies: Vec<Reply> = out
        .into_iter()
        .map(|o| match o {
            Outgoing::Text(html) => Reply::text(html),
            Outgoing::Media { items, caption } => Reply { html: caption, keyboard: Vec::new(), media: items },
        })
        .collect();
    if !missing.is_empty() {
        let note = fill(ctx.lang.texts().media_not_kept, &[("n", &post.media.len().to_string())]);
        replies.push(Reply::text(escape(&note)));
    }
    if let Some(last) = replies.last_mut() {
        let mut row = vec![Button::callback(ctx.lang.texts().similar_button, Action::MoreLike { post: post.id })];
        if let Some(url) = web {
            row.push(Button { label: ctx.lang.texts().web_button.to_string(), kind: ButtonKind::Url(url) });
        }
        last.keyboard.push(row);
    }
    replies
}

/// The post's page on the web archive, when its public address is set.
fn web_link(archive: &Archive, ctx: &Ctx, post: &Post) -> Result<Option<String>, StoreError> {
    let Some(base) = &ctx.public_url else { return Ok(None) };
    let path = archive.web_path(post)?;
    Ok(base.join(path.trim_start_matches('/')).ok().map(|u| u.to_string()))
}

fn topic_list(archive: &Archive, ctx: &Ctx, header: &str) -> Result<Reply, StoreError> {
    let mut reply = Reply::text(header);
    let mut row = Vec::new();
    for c in archive.topic_counts()? {
        let name = ctx.lang.pick(&c.topic.ru, &c.topic.en);
        let label = format!("{} {name} ({})", c.topic.emoji, c.posts).trim().to_string();
        row.push(Button::callback(label, Action::Topic { slug: c.topic.slug, page: 0 }));
        if row.len() == 2 {
            reply.keyboard.push(std::mem::take(&mut row));
        }
    }
    if !row.is_empty() {
        reply.keyboard.push(row);
    }
    Ok(reply)
}

fn topic_by_name(archive: &Archive, ctx: &Ctx, name: &str) -> Result<Reply, StoreError> {
    let t = ctx.lang.texts();
    if name.trim().is_empty() {
        return topic_list(archive, ctx, t.topics_header);
    }
    match archive.taxonomy().find(name) {
        Some(topic) => {
            let slug = topic.slug.clone();
            topic_page(archive, ctx, &slug, 0)
        }
        None => topic_list(archive, ctx, t.no_topic),
    }
}

fn topic_page(archive: &Archive, ctx: &Ctx, slug: &str, page: usize) -> Result<Reply, StoreError> {
    let t = ctx.lang.texts();
    let Some(topic) = archive.taxonomy().topics.iter().find(|t| t.slug == slug) else {
        return topic_list(archive, ctx, t.no_topic);
    };
    let mut page = page;
    let (mut posts, total) = archive.posts(Some(slug), page * PAGE_SIZE, PAGE_SIZE)?;
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    if page >= pages {
        // A button of an old message may point past the end: show the last page.
        page = pages - 1;
        posts = archive.posts(Some(slug), page * PAGE_SIZE, PAGE_SIZE)?.0;
    }
    let name = ctx.lang.pick(&topic.ru, &topic.en);
    let mut out = format!("{} <b>{}</b> — {total}", escape(&topic.emoji), escape(name));
    if pages > 1 {
        out.push_str(&format!(" · {} {}/{pages}", t.page, page + 1));
    }
    if posts.is_empty() {
        out.push_str("\n\n");
        out.push_str(t.topic_empty);
    }
    for (i, p) in posts.iter().enumerate() {
        out.push_str("\n\n");
        out.push_str(&list_entry(page * PAGE_SIZE + i + 1, p, None, ctx.lang, ctx.tz));
    }
    let mut reply = Reply::text(out);
    let row = pager(page, pages, |p| Action::Topic { slug: slug.to_string(), page: p });
    if !row.is_empty() {
        reply.keyboard.push(row);
    }
    reply.keyboard.push(vec![Button::callback(t.back_to_topics, Action::Topics)]);
    Ok(reply)
}

/// Replies to a button press. Unknown or expired data answers "search again".
pub fn on_callback(archive: &mut Archive, ctx: &Ctx, data: &str) -> Result<CallbackReply, StoreError> {
    let t = ctx.lang.texts();
    let expired = || CallbackReply { toast: Some(t.expired.to_string()), ..Default::default() };
    let Some(action) = Action::decode(data) else {
        return Ok(expired());
    };
    Ok(match action {
        Action::Noop => CallbackReply::default(),
        Action::Page { page, pages } => CallbackReply {
            toast: Some(fill(t.page_toast, &[("page", &page.to_string()), ("pages", &pages.to_string())])),
            ..Default::default()
        },
        Action::Search { query, page } => match archive.query_text(query)? {
            Some(text) => {
                archive.remember_query(&text, ctx.now.timestamp())?;
                CallbackReply { edit: Some(search_page(archive, ctx, query, &text, page, true)?), ..Default::default() }
            }
            None => expired(),
        },
        Action::Exact { query, page } => match archive.query_text(query)? {
            Some(text) => {
                archive.remember_query(&text, ctx.now.timestamp())?;
                CallbackReply {
                    edit: Some(search_page(archive, ctx, query, &text, page, false)?),
                    ..Default::default()
                }
            }
            None => expired(),
        },
        Action::Similar { post, page } => {
            CallbackReply { edit: Some(similar_page(archive, ctx, post, page)?), ..Default::default() }
        }
        Action::MoreLike { post } => {
            CallbackReply { send: vec![similar_page(archive, ctx, post, 0)?], ..Default::default() }
        }
        Action::Topics => {
            CallbackReply { edit: Some(topic_list(archive, ctx, t.topics_header)?), ..Default::default() }
        }
        Action::Topic { slug, page } => {
            CallbackReply { edit: Some(topic_page(archive, ctx, &slug, page)?), ..Default::default() }
        }
        Action::Random => CallbackReply { send: random(archive, ctx)?, ..Default::default() },
    })
}

/// A post of one photo whose text fits its caption, and which this bot can send by a
/// file_id (a live post's, or its upload's): the file_id and the caption.
fn inline_photo(
    archive: &Archive,
    post: &Post,
    lang: Lang,
    tz: Tz,
    bot_id: i64,
) -> Result<Option<(String, String)>, StoreError> {
    let [m] = post.media.as_slice() else { return Ok(None) };
    if m.kind != MediaKind::Photo || m.missing {
        return Ok(None);
    }
    let file_id = match (&m.file_id, &m.file) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(file)) => archive.uploaded_file_id(file, bot_id)?,
        (None, None) => None,
    };
    let Some(file_id) = file_id else { return Ok(None) };
    let (out, _) = post_outgoing(post, lang, tz, None, true, false, |_| true);
    Ok(match out.as_slice() {
        [Outgoing::Media { caption, .. }] => Some((file_id, caption.clone())),
        _ => None,
    })
}

/// Inline mode: matching posts as articles, `INLINE_PAGE` per page; newest posts for an empty query.
pub fn inline(
    archive: &Archive,
    searcher: &Searcher,
    lang: Lang,
    tz: Tz,
    query: &str,
    offset: &str,
    bot_id: i64,
) -> Result<InlinePage, StoreError> {
    let start: usize = offset.parse().unwrap_or(0).min(10_000);
    let query = normalize_query(query);
    let (posts, snippets, more): (Vec<Post>, Vec<String>, bool) = if query.is_empty() {
        let posts = archive.newest(start, INLINE_PAGE + 1)?;
        let more = posts.len() > INLINE_PAGE;
        let posts: Vec<Post> = posts.into_iter().take(INLINE_PAGE).collect();
        let snippets = posts.iter().map(|p| p.body.lines().nth(1).unwrap_or("").to_string()).collect();
        (posts, snippets, more)
    } else {
        let request = Request { input: &query, offset: start, limit: INLINE_PAGE, lang, tz, correct: true };
        let page = searcher.search_with(archive, &request)?;
        let more = start + page.hits.len() < page.total;
        let snippets = page.hits.iter().map(|h| h.snippet.plain()).collect();
        (page.hits.into_iter().map(|h| h.post).collect(), snippets, more)
    };
    let articles = posts
        .iter()
        .zip(snippets)
        .map(|(p, snippet)| {
            let parts = post_messages(p, lang, tz, None, true);
            // An inline result is one message: a long post shows its first part and links to the rest.
            let mut html = parts.first().cloned().unwrap_or_default();
            if parts.len() > 1 {
                html.push_str(&format!("\n…\n/post_{}", p.id));
            }
            let (photo, html) = match inline_photo(archive, p, lang, tz, bot_id)? {
                Some((file_id, caption)) => (Some(file_id), caption),
                None => (None, html),
            };
            Ok(InlineArticle {
                id: format!("p{}", p.id),
                title: html::truncate(if p.title.is_empty() { lang.texts().no_title } else { &p.title }, 120),
                description: html::truncate(snippet.trim(), 200),
                html,
                photo,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(InlinePage { articles, next_offset: if more { (start + INLINE_PAGE).to_string() } else { String::new() } })
}
