//! The pages: the latest posts, a post's permalink, search. Each handler asks the store once
//! (on its threads), builds a view of plain strings, and renders a template.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::Web;
use super::texts::{WebTexts, reader_lang, texts};
use crate::i18n::{Lang, fill};
use crate::model::{Media, MediaKind, Post, Reaction};
use crate::render::html;
use crate::search::{Request, SearchPage, Sort};
use crate::store::ChannelName;

/// Posts on a page of the latest posts or of search results.
const PAGE: usize = 20;
/// The deepest search page served (a crawler walking pages stops here).
const MAX_PAGE: usize = 500;
/// Similar posts under a post.
const SIMILAR: usize = 5;

/// What every page has around its content.
pub struct Chrome {
    pub lang: &'static str,
    pub t: &'static WebTexts,
    /// The archive's name: its main channel's title.
    pub site: String,
    pub title: String,
    pub description: String,
    pub canonical: Option<String>,
    /// The first photo, for link previews (absolute: only with a public URL).
    pub image: Option<String>,
    /// The search box's text.
    pub query: String,
    /// This page in the other language.
    pub other_lang: String,
    /// (type, href) of the feeds of what the page shows.
    pub feeds: Vec<(&'static str, String)>,
}

/// A post in a list.
pub struct Card {
    pub href: String,
    pub title: String,
    pub date: String,
    pub date_iso: String,
    /// HTML: a search snippet (matched words marked) or the start of the post.
    pub text: String,
    pub marker: String,
    pub reactions: i64,
}

/// A media item of a post.
pub struct MediaView {
    /// `photo`, `video`, `audio`, `file`, or `missing`.
    pub kind: &'static str,
    pub src: String,
    pub width: i32,
    pub height: i32,
    pub name: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    heading: String,
    about: String,
    cards: Vec<Card>,
    next: Option<String>,
    feed: Option<String>,
}

#[derive(Template)]
#[template(path = "topics.html")]
struct TopicsPage {
    chrome: Chrome,
    /// (href, label, posts)
    topics: Vec<(String, String, i64)>,
}

#[derive(Template)]
#[template(path = "post.html")]
struct PostPage {
    chrome: Chrome,
    heading: String,
    body: String,
    date: String,
    date_iso: String,
    channel: String,
    topics: Vec<String>,
    reactions: String,
    media: Vec<MediaView>,
    original: Option<String>,
    older: Option<String>,
    newer: Option<String>,
    similar: Vec<Card>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchView {
    chrome: Chrome,
    understood: String,
    problems: Vec<String>,
    corrected: Option<String>,
    original: Option<(String, String)>,
    suggestion: Option<(String, String)>,
    impossible: Vec<String>,
    found: String,
    cards: Vec<Card>,
    previous: Option<String>,
    next: Option<String>,
    sorts: Vec<(String, String, bool)>,
    searched: bool,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: String,
    text: String,
}

/// The query strings pages take.
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub(super) lang: Option<String>,
    pub(super) after: Option<i64>,
    q: Option<String>,
    page: Option<usize>,
    exact: Option<u8>,
}

/// A percent-encoded query string value.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Chrome {
    /// The frame of a page: its language, the site's name, its title, and the link to the
    /// same page in the other language.
    pub(super) fn new(lang: Lang, site: &str, title: String, path_and_query: &str) -> Chrome {
        let other = match lang {
            Lang::Ru => "en",
            Lang::En => "ru",
        };
        let sep = if path_and_query.contains('?') { '&' } else { '?' };
        Chrome {
            lang: lang.code(),
            t: texts(lang),
            site: site.to_string(),
            title,
            description: String::new(),
            canonical: None,
            image: None,
            query: String::new(),
            other_lang: format!("{path_and_query}{sep}lang={other}"),
            feeds: Vec::new(),
        }
    }
}

impl Web {
    /// An absolute URL for `path` when the public URL is known.
    pub(super) fn absolute(&self, path: &str) -> Option<String> {
        let base = self.config.public_url.as_ref()?;
        base.join(path.trim_start_matches('/')).ok().map(|u| u.to_string())
    }
}

/// The channel's public name and Telegram id of each store channel id.
pub(super) type Names = std::collections::HashMap<i64, (Option<String>, Option<i64>)>;

pub(super) fn names(archive: &crate::store::Archive) -> crate::store::Result<Names> {
    Ok(archive.channels()?.into_iter().map(|c| (c.id, (c.username, c.tg_id))).collect())
}

pub(super) fn link(post: &Post, names: &Names) -> String {
    let (username, tg) = names.get(&post.channel_id).cloned().unwrap_or((None, None));
    crate::store::web_path(post, username.as_deref(), tg)
}

fn card(post: &Post, names: &Names, text: String, lang: Lang, tz: chrono_tz::Tz) -> Card {
    Card {
        href: link(post, names),
        title: if post.title.is_empty() { lang.texts().no_title.to_string() } else { html::truncate(&post.title, 140) },
        date: post.date.map_or_else(|| texts(lang).no_date.to_string(), |d| lang.date(d, tz)),
        date_iso: post.date.map(|d| d.to_rfc3339()).unwrap_or_default(),
        text,
        marker: crate::model::media_marker(&post.media).unwrap_or_default(),
        reactions: Reaction::total(&post.reactions),
    }
}

/// The start of a post's text after its title, escaped: a list's excerpt.
fn excerpt(post: &Post) -> String {
    let rest = post.body.trim_start().strip_prefix(post.title.as_str()).unwrap_or(&post.body).trim();
    html::escape(&html::truncate(rest, 240))
}

/// How long others may keep a post's page without asking again (lists: a minute, cache.rs).
const PERMALINK: &str = "public, max-age=3600";

/// A page made from its template; its caching headers are cache.rs's.
fn render(page: &impl Template, status: StatusCode) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!("a page failed to render: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "the page cannot be shown\n").into_response()
        }
    }
}

/// An error page: 404, 400 or 503, in the reader's language.
pub(super) fn error(lang: Lang, status: StatusCode) -> Response {
    let t = texts(lang);
    let (heading, text) = match status {
        StatusCode::NOT_FOUND => (t.not_found_title, t.not_found_text),
        StatusCode::BAD_REQUEST => (t.bad_request_title, t.bad_request_text),
        _ => (t.unavailable_title, t.unavailable_text),
    };
    let chrome = Chrome::new(lang, t.archive, heading.to_string(), "/");
    render(&ErrorPage { chrome, heading: heading.to_string(), text: text.to_string() }, status)
}

/// The store failed: logged, and the reader gets a 503 page.
pub(super) fn unavailable(lang: Lang, e: impl std::fmt::Display) -> Response {
    tracing::error!("a page could not read the store: {e}");
    error(lang, StatusCode::SERVICE_UNAVAILABLE)
}

/// Every path nothing else serves.
pub async fn not_found(headers: HeaderMap) -> Response {
    let lang = reader_lang(None, headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let t = texts(lang);
    let chrome = Chrome::new(lang, t.archive, t.not_found_title.to_string(), "/");
    render(
        &ErrorPage { chrome, heading: t.not_found_title.to_string(), text: t.not_found_text.to_string() },
        StatusCode::NOT_FOUND,
    )
}

/// What every page reads of a request: its query string (a malformed one is answered with
/// the 400 page) and the reader's language (`?lang=`, else `Accept-Language`).
pub(super) struct Reader {
    pub(super) p: Params,
    pub(super) lang: Lang,
}

impl<S: Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        match Query::<Params>::try_from_uri(&parts.uri) {
            Ok(Query(p)) => Ok(Reader { lang: reader_lang(p.lang.as_deref(), accept), p }),
            Err(_) => Err(error(reader_lang(None, accept), StatusCode::BAD_REQUEST)),
        }
    }
}

pub(super) fn site_name(archive: &crate::store::Archive) -> crate::store::Result<(String, String)> {
    Ok(match archive.main_channel()? {
        Some(c) => (c.title, c.description.unwrap_or_default()),
        None => (String::new(), String::new()),
    })
}

pub async fn home(State(web): State<Arc<Web>>, Reader { p, lang }: Reader) -> Response {
    let after = p.after;
    let read = web
        .archive
        .try_call(move |a| -> crate::store::Result<_> {
            Ok((site_name(a)?, names(a)?, a.newest_after(after, PAGE + 1)?))
        })
        .await;
    let ((site, about), names, mut posts) = match read {
        Ok(r) => r,
        Err(e) => return unavailable(lang, format!("{e:#}")),
    };
    let next = (posts.len() > PAGE).then(|| {
        posts.truncate(PAGE);
        format!("/?after={}", posts.last().map_or(0, |p| p.id))
    });
    let tz = web.config.timezone;
    let cards = posts.iter().map(|post| card(post, &names, excerpt(post), lang, tz)).collect();
    let t = texts(lang);
    let site = if site.is_empty() { t.archive.to_string() } else { site };
    let here = match after {
        Some(a) => format!("/?after={a}"),
        None => "/".to_string(),
    };
    let mut chrome = Chrome::new(lang, &site, site.clone(), &here);
    chrome.description = html::truncate(&about, 200);
    if after.is_none() {
        chrome.canonical = web.absolute("/");
    }
    chrome.feeds = super::feeds::links("");
    let feed = Some("/feed.atom".to_string());
    render(&HomePage { chrome, heading: site, about, cards, next, feed }, StatusCode::OK)
}

/// How item `position` of `post` is shown: from the media folder; a live item known only by
/// its file_id through `/media/live/…` (fetched on first view) when the web archive can
/// fetch, else as a link to the post on `t.me`; a file the archive lacks said so.
fn media_view(post: &Post, position: usize, m: &Media, lang: Lang, alt: &str, can_fetch: bool) -> MediaView {
    let mut v = MediaView {
        kind: "missing",
        src: String::new(),
        width: m.width.unwrap_or(0),
        height: m.height.unwrap_or(0),
        name: m.file_name.clone().unwrap_or_default(),
        size: m.size.map(human_size).unwrap_or_default(),
    };
    v.src = match (&m.file, m.missing, &m.file_id) {
        (Some(file), false, _) => format!("/media/{file}"),
        (None, false, Some(_)) if can_fetch => format!("/media/live/{}/{position}", post.id),
        (None, false, Some(_)) if post.url.is_some() => {
            v.kind = "telegram";
            v.name = format!("{} — {}", m.kind.marker(), texts(lang).in_telegram);
            v.src = post.url.clone().unwrap_or_default();
            return v;
        }
        _ => {
            v.name = format!("{} — {}", m.kind.marker(), texts(lang).file_missing);
            return v;
        }
    };
    v.kind = match m.kind {
        MediaKind::Photo => "photo",
        MediaKind::Video | MediaKind::Animation | MediaKind::VideoNote => "video",
        MediaKind::Audio | MediaKind::Voice => "audio",
        MediaKind::Document | MediaKind::Sticker => "file",
    };
    if v.kind == "photo" {
        v.name = alt.to_string();
    } else if v.name.is_empty() {
        v.name = m.file.clone().unwrap_or_else(|| m.kind.marker().to_string());
    }
    v
}

/// `1.2 MB`, `340 KB`, `12 B`.
fn human_size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b >= 1_000_000.0 {
        format!("{:.1} MB", b / 1_000_000.0)
    } else if b >= 1000.0 {
        format!("{:.0} KB", b / 1000.0)
    } else {
        format!("{b:.0} B")
    }
}

/// Telegram's HTML of a post as a web page's: spoilers as spans, custom emoji as their text.
pub(super) fn web_html(telegram: &str) -> String {
    telegram
        .replace("<tg-spoiler>", "<span class=\"spoiler\">")
        .replace("</tg-spoiler>", "</span>")
        .replace("</tg-emoji>", "")
        .split("<tg-emoji")
        .enumerate()
        .map(|(i, piece)| if i == 0 { piece } else { piece.split_once('>').map_or("", |(_, rest)| rest) })
        .collect()
}

/// What a post page needs from the store, read in one call.
struct PostRead {
    post: Post,
    names: Names,
    site: String,
    neighbours: (Option<Post>, Option<Post>),
    similar: Vec<Post>,
}

fn read_post(
    a: &crate::store::Archive,
    searcher: &crate::search::Searcher,
    id: i64,
) -> anyhow::Result<Option<PostRead>> {
    let Some(post) = a.post(id)? else { return Ok(None) };
    let (older, newer) = a.neighbours(id)?;
    // Both in one read.
    let mut beside = a.posts_by_id(&[older, newer].into_iter().flatten().collect::<Vec<_>>())?;
    let mut take =
        |id: Option<i64>| id.and_then(|id| beside.iter().position(|p| p.id == id)).map(|i| beside.swap_remove(i));
    let (older, newer) = (take(older), take(newer));
    let similar = match searcher.similar_to(a, &post, 0, SIMILAR) {
        Ok(page) => page.hits.into_iter().map(|h| h.post).collect(),
        Err(e) => {
            tracing::warn!("similar posts of #{id}: {e}");
            Vec::new()
        }
    };
    Ok(Some(PostRead { post, names: names(a)?, site: site_name(a)?.0, neighbours: (older, newer), similar }))
}

/// The post page of store id `id` (after its permalink was resolved).
async fn post_page(web: Arc<Web>, lang: Lang, find: Find) -> Response {
    let searcher = web.searcher.clone();
    let read = web
        .archive
        .call(move |a| -> anyhow::Result<Option<PostRead>> {
            let id = match find {
                Find::Id(id) => Some(id),
                Find::Message(name, message) => {
                    let name = match &name {
                        Named::Username(u) => ChannelName::Username(u),
                        Named::Private(c) => ChannelName::Private(*c),
                        Named::Stored(c) => ChannelName::Stored(*c),
                    };
                    match a.channel_named(&name)? {
                        Some(channel) => a.post_by_message(channel.id, message)?,
                        None => None,
                    }
                }
            };
            match id {
                Some(id) => read_post(a, &searcher, id),
                None => Ok(None),
            }
        })
        .await;
    let read = match read {
        Ok(Ok(Some(read))) => read,
        Ok(Ok(None)) => return error(lang, StatusCode::NOT_FOUND),
        Ok(Err(e)) => return unavailable(lang, format!("{e:#}")),
        Err(e) => return unavailable(lang, format!("{e:#}")),
    };
    let PostRead { post, names, site, neighbours, similar } = read;
    let tz = web.config.timezone;
    let t = texts(lang);
    let here = link(&post, &names);
    let heading =
        if post.title.is_empty() { lang.texts().no_title.to_string() } else { html::truncate(&post.title, 200) };
    let entities = crate::render::post::entities_for_display(&post);
    let body = web_html(&html::render(&post.body, &entities));
    let alt = html::truncate(&post.title, 120);
    let can_fetch = web.fetch.is_some();
    let media: Vec<MediaView> =
        post.media.iter().enumerate().map(|(i, m)| media_view(&post, i, m, lang, &alt, can_fetch)).collect();
    let site = if site.is_empty() { t.archive.to_string() } else { site };
    let mut chrome = Chrome::new(lang, &site, format!("{heading} — {site}"), &here);
    chrome.description =
        html::truncate(post.body.trim_start().strip_prefix(post.title.as_str()).unwrap_or(&post.body).trim(), 200);
    chrome.canonical = web.absolute(&here);
    chrome.image = media.iter().find(|m| m.kind == "photo").and_then(|m| web.absolute(&m.src));
    let reactions = post
        .reactions
        .iter()
        .map(|r| {
            let label = match (&r.emoji, r.paid) {
                (Some(e), _) => e.as_str(),
                (None, true) => "⭐",
                (None, false) => "❤",
            };
            format!("{label} {}", r.count)
        })
        .collect::<Vec<_>>()
        .join(" ");
    let page = PostPage {
        chrome,
        heading,
        body,
        date: post.date.map_or_else(|| t.no_date.to_string(), |d| lang.date_time(d, tz)),
        date_iso: post.date.map(|d| d.to_rfc3339()).unwrap_or_default(),
        channel: post.channel_title.clone(),
        topics: post.topics.iter().map(|tp| format!("{} {}", tp.emoji, lang.pick(&tp.ru, &tp.en))).collect(),
        reactions,
        media,
        original: post.url.clone(),
        older: neighbours.0.map(|p| link(&p, &names)),
        newer: neighbours.1.map(|p| link(&p, &names)),
        similar: similar.iter().map(|p| card(p, &names, excerpt(p), lang, tz)).collect(),
    };
    // A permalink changes seldom (an edit, reactions, a newer post): others may keep it an hour.
    let mut response = render(&page, StatusCode::OK);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(PERMALINK));
    response
}

/// How a permalink names its post.
enum Find {
    Id(i64),
    Message(Named, i64),
}

enum Named {
    Username(String),
    Private(i64),
    /// A channel with no `t.me` address, by its store id (month pages only).
    Stored(i64),
}

/// A public username as Telegram allows them: 4–32 of `A-Z a-z 0-9 _`.
fn is_username(s: &str) -> bool {
    (4..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub async fn public_post(
    State(web): State<Arc<Web>>,
    Path((channel, message)): Path<(String, String)>,
    Reader { lang, .. }: Reader,
) -> Response {
    match message.parse::<i64>() {
        Ok(m) if m > 0 && is_username(&channel) => {
            post_page(web, lang, Find::Message(Named::Username(channel), m)).await
        }
        _ => error(lang, StatusCode::NOT_FOUND),
    }
}

pub async fn private_post(
    State(web): State<Arc<Web>>,
    Path((chat, message)): Path<(String, String)>,
    Reader { lang, .. }: Reader,
) -> Response {
    match (chat.parse::<i64>(), message.parse::<i64>()) {
        (Ok(c), Ok(m)) if c > 0 && m > 0 => post_page(web, lang, Find::Message(Named::Private(c), m)).await,
        _ => error(lang, StatusCode::NOT_FOUND),
    }
}

pub async fn by_id(State(web): State<Arc<Web>>, Path(id): Path<String>, Reader { lang, .. }: Reader) -> Response {
    match id.parse::<i64>() {
        Ok(id) if id > 0 => post_page(web, lang, Find::Id(id)).await,
        _ => error(lang, StatusCode::NOT_FOUND),
    }
}

pub async fn search(State(web): State<Arc<Web>>, Reader { p, lang }: Reader) -> Response {
    let t = texts(lang);
    let q = p.q.clone().unwrap_or_default();
    let q = q.trim().to_string();
    let page_no = p.page.unwrap_or(1).clamp(1, MAX_PAGE);
    let exact = p.exact == Some(1);
    let tz = web.config.timezone;
    let searcher = web.searcher.clone();
    let input = q.clone();
    let read = web
        .archive
        .call(move |a| -> anyhow::Result<(String, Names, Option<SearchPage>)> {
            let site = site_name(a)?.0;
            let names = names(a)?;
            if input.is_empty() {
                return Ok((site, names, None));
            }
            let request =
                Request { input: &input, offset: (page_no - 1) * PAGE, limit: PAGE, lang, tz, correct: !exact };
            let page = searcher.search_with(a, &request).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok((site, names, Some(page)))
        })
        .await;
    let (site, names, results) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return unavailable(lang, format!("{e:#}")),
        Err(e) => return unavailable(lang, e),
    };
    let site = if site.is_empty() { t.archive.to_string() } else { site };
    let base = format!("/search?q={}", enc(&q));
    let mut chrome =
        Chrome::new(lang, &site, if q.is_empty() { t.search.to_string() } else { format!("{q} — {site}") }, &base);
    chrome.query = q.clone();
    let Some(results) = results else {
        let view = SearchView {
            chrome,
            understood: String::new(),
            problems: Vec::new(),
            corrected: None,
            original: None,
            suggestion: None,
            impossible: Vec::new(),
            found: String::new(),
            cards: Vec::new(),
            previous: None,
            next: None,
            sorts: Vec::new(),
            searched: false,
        };
        return render(&view, StatusCode::OK);
    };
    let offset = (page_no - 1) * PAGE;
    let more = offset + results.hits.len() < results.total;
    // The pages and orders of a corrected query are the correction's.
    let shown = results.corrected.clone().unwrap_or_else(|| q.clone());
    let exact_part = if exact { "&exact=1" } else { "" };
    let page_link = |n: usize| format!("/search?q={}{exact_part}&page={n}", enc(&shown));
    let cards = results
        .hits
        .iter()
        .map(|hit| card(&hit.post, &names, crate::render::post::snippet_html(hit), lang, tz))
        .collect();
    let found = if results.hits.is_empty() {
        String::new()
    } else {
        format!("{}: {}{}", t.found, results.total, if results.total_capped { "+" } else { "" })
    };
    let sorts = [(Sort::Relevance, t.sort_relevance), (Sort::Newest, t.sort_newest), (Sort::Top, t.sort_top)]
        .into_iter()
        .map(|(sort, label)| {
            let with = crate::search::lang::with_sort(&shown, sort, lang);
            (format!("/search?q={}", enc(&with)), label.to_string(), sort == results.sort)
        })
        .collect();
    let view = SearchView {
        chrome,
        understood: results.understood.clone(),
        problems: results.problems.clone(),
        corrected: results.corrected.as_ref().map(|c| fill(t.showing_corrected, &[("query", c)])),
        original: results
            .corrected
            .as_ref()
            .map(|_| (format!("/search?q={}&exact=1", enc(&q)), fill(t.search_instead, &[("query", &q)]))),
        suggestion: results.suggestion.as_ref().map(|s| (format!("/search?q={}", enc(s)), s.clone())),
        impossible: results.impossible.clone(),
        found,
        cards,
        previous: (page_no > 1).then(|| page_link(page_no - 1)),
        next: (more && page_no < MAX_PAGE).then(|| page_link(page_no + 1)),
        sorts,
        searched: true,
    };
    render(&view, StatusCode::OK)
}

pub async fn topics(State(web): State<Arc<Web>>, Reader { lang, .. }: Reader) -> Response {
    let read = web.archive.try_call(|a| -> crate::store::Result<_> { Ok((site_name(a)?.0, a.topic_counts()?)) }).await;
    let (site, counts) = match read {
        Ok(r) => r,
        Err(e) => return unavailable(lang, format!("{e:#}")),
    };
    let t = texts(lang);
    let site = if site.is_empty() { t.archive.to_string() } else { site };
    let topics = counts
        .into_iter()
        .filter(|c| c.posts > 0)
        .map(|c| {
            let label = format!("{} {}", c.topic.emoji, lang.pick(&c.topic.ru, &c.topic.en));
            (format!("/topic/{}", enc(&c.topic.slug)), label, c.posts)
        })
        .collect();
    let mut chrome = Chrome::new(lang, &site, format!("{} — {site}", t.topics), "/topics");
    chrome.canonical = web.absolute("/topics");
    render(&TopicsPage { chrome, topics }, StatusCode::OK)
}

pub async fn topic(State(web): State<Arc<Web>>, Path(slug): Path<String>, Reader { p, lang }: Reader) -> Response {
    let after = p.after;
    let wanted = slug.clone();
    let read = web
        .archive
        .try_call(move |a| -> crate::store::Result<_> {
            let label = a.topic_counts()?.into_iter().find(|c| c.topic.slug == wanted).map(|c| c.topic);
            Ok((site_name(a)?.0, names(a)?, label, a.topic_newest_after(&wanted, after, PAGE + 1)?))
        })
        .await;
    let (site, names, label, posts) = match read {
        Ok(r) => r,
        Err(e) => return unavailable(lang, format!("{e:#}")),
    };
    let (Some(label), Some(mut posts)) = (label, posts) else {
        return error(lang, StatusCode::NOT_FOUND);
    };
    let path = format!("/topic/{}", enc(&slug));
    let next = (posts.len() > PAGE).then(|| {
        posts.truncate(PAGE);
        format!("{path}?after={}", posts.last().map_or(0, |p| p.id))
    });
    let tz = web.config.timezone;
    let cards = posts.iter().map(|post| card(post, &names, excerpt(post), lang, tz)).collect();
    let t = texts(lang);
    let site = if site.is_empty() { t.archive.to_string() } else { site };
    let heading = format!("{} {}", label.emoji, lang.pick(&label.ru, &label.en));
    let here = match after {
        Some(a) => format!("{path}?after={a}"),
        None => path.clone(),
    };
    let mut chrome = Chrome::new(lang, &site, format!("{heading} — {site}"), &here);
    if after.is_none() {
        chrome.canonical = web.absolute(&path);
    }
    chrome.feeds = super::feeds::links(&path);
    let feed = Some(format!("{path}/feed.atom"));
    render(&HomePage { chrome, heading, about: String::new(), cards, next, feed }, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "months.html")]
struct MonthsPage {
    chrome: Chrome,
    /// (channel title, its months)
    channels: Vec<(String, Vec<Link>)>,
}

/// A link in a list: (href, label, posts).
type Link = (String, String, i64);

/// Where a channel's pages live: `/{username}` or `/c/{id}`; `None` for a channel with
/// neither (a dump's without a name).
/// Where a channel's month pages are: under its `t.me` address when it has one, else
/// `/ch/{store id}` (never a username: those are 4 characters or more).
fn channel_base(channel: &crate::model::Channel) -> String {
    match (channel.username.as_deref(), channel.tg_id.and_then(crate::store::private_id)) {
        (Some(u), _) => format!("/{u}"),
        (None, Some(c)) => format!("/c/{c}"),
        _ => format!("/ch/{}", channel.id),
    }
}

pub async fn months(State(web): State<Arc<Web>>, Reader { lang, .. }: Reader) -> Response {
    let tz = web.config.timezone;
    let read = web
        .archive
        .try_call(move |a| -> crate::store::Result<_> {
            let mut out = Vec::new();
            for c in a.channels()? {
                let base = channel_base(&c);
                let months = a.months(c.id, tz)?;
                if !months.is_empty() {
                    out.push((c.title, base, months));
                }
            }
            Ok((site_name(a)?.0, out))
        })
        .await;
    let (site, found) = match read {
        Ok(r) => r,
        Err(e) => return unavailable(lang, format!("{e:#}")),
    };
    let t = texts(lang);
    let site = if site.is_empty() { t.archive.to_string() } else { site };
    let channels = found
        .into_iter()
        .map(|(title, base, months)| {
            let list = months
                .into_iter()
                .map(|(y, m, n)| (format!("{base}/{y}/{m:02}"), format!("{} {y}", t.month_names[(m - 1) as usize]), n))
                .collect();
            (title, list)
        })
        .collect();
    let mut chrome = Chrome::new(lang, &site, format!("{} — {site}", t.months_title), "/months");
    chrome.canonical = web.absolute("/months");
    render(&MonthsPage { chrome, channels }, StatusCode::OK)
}

/// Posts of a month page.
const MONTH_PAGE: usize = 50;

async fn month_page(web: Arc<Web>, lang: Lang, name: Named, year: &str, month: &str, after: Option<i64>) -> Response {
    let (Ok(year), Ok(month)) = (year.parse::<i32>(), month.parse::<u32>()) else {
        return error(lang, StatusCode::NOT_FOUND);
    };
    if !(1..=12).contains(&month) || !(1970..=9999).contains(&year) {
        return error(lang, StatusCode::NOT_FOUND);
    }
    let tz = web.config.timezone;
    let read = web
        .archive
        .try_call(move |a| -> crate::store::Result<_> {
            let name = match &name {
                Named::Username(u) => ChannelName::Username(u),
                Named::Private(c) => ChannelName::Private(*c),
                Named::Stored(c) => ChannelName::Stored(*c),
            };
            let Some(channel) = a.channel_named(&name)? else { return Ok(None) };
            let posts = a.month_posts(channel.id, (year, month), tz, after, MONTH_PAGE + 1)?;
            Ok(Some((site_name(a)?.0, names(a)?, channel, posts)))
        })
        .await;
    let (site, names, channel, mut posts) = match read {
        Ok(Some(r)) => r,
        Ok(None) => return error(lang, StatusCode::NOT_FOUND),
        Err(e) => return unavailable(lang, format!("{e:#}")),
    };
    if posts.is_empty() && after.is_none() {
        return error(lang, StatusCode::NOT_FOUND);
    }
    let base = channel_base(&channel);
    let path = format!("{base}/{year}/{month:02}");
    let next = (posts.len() > MONTH_PAGE).then(|| {
        posts.truncate(MONTH_PAGE);
        format!("{path}?after={}", posts.last().map_or(0, |p| p.id))
    });
    let cards = posts.iter().map(|post| card(post, &names, excerpt(post), lang, tz)).collect();
    let t = texts(lang);
    let site = if site.is_empty() { t.archive.to_string() } else { site };
    let heading = format!("{} {year} — {}", t.month_names[(month - 1) as usize], channel.title);
    let mut chrome = Chrome::new(lang, &site, format!("{heading} — {site}"), &path);
    if after.is_none() {
        chrome.canonical = web.absolute(&path);
    }
    render(&HomePage { chrome, heading, about: String::new(), cards, next, feed: None }, StatusCode::OK)
}

pub async fn public_month(
    State(web): State<Arc<Web>>,
    Path((channel, year, month)): Path<(String, String, String)>,
    Reader { p, lang }: Reader,
) -> Response {
    if !is_username(&channel) {
        return error(lang, StatusCode::NOT_FOUND);
    }
    month_page(web, lang, Named::Username(channel), &year, &month, p.after).await
}

pub async fn private_month(
    State(web): State<Arc<Web>>,
    Path((chat, year, month)): Path<(String, String, String)>,
    Reader { p, lang }: Reader,
) -> Response {
    match chat.parse::<i64>() {
        Ok(c) if c > 0 => month_page(web, lang, Named::Private(c), &year, &month, p.after).await,
        _ => error(lang, StatusCode::NOT_FOUND),
    }
}

pub async fn stored_month(
    State(web): State<Arc<Web>>,
    Path((id, year, month)): Path<(String, String, String)>,
    Reader { p, lang }: Reader,
) -> Response {
    match id.parse::<i64>() {
        Ok(id) if id > 0 => month_page(web, lang, Named::Stored(id), &year, &month, p.after).await,
        _ => error(lang, StatusCode::NOT_FOUND),
    }
}

pub async fn robots(State(web): State<Arc<Web>>) -> Response {
    let mut body = String::from("User-agent: *\nAllow: /\nDisallow: /search\n");
    if let Some(sitemap) = web.absolute("/sitemap.xml") {
        body.push_str(&format!("Sitemap: {sitemap}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// `/favicon.ico`, which browsers ask for by themselves, on every page and on a photo opened
/// alone: the archive has no icon, and says so without an error (a 404 is an error in the
/// reader's console).
pub async fn favicon() -> Response {
    (StatusCode::NO_CONTENT, [(header::CACHE_CONTROL, "public, max-age=86400")]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_html_becomes_web_html() {
        assert_eq!(web_html("a <tg-spoiler>b</tg-spoiler> c"), "a <span class=\"spoiler\">b</span> c");
        assert_eq!(web_html("x <tg-emoji emoji-id=\"5\">👍</tg-emoji> y"), "x 👍 y");
        assert_eq!(web_html("&lt;tg-spoiler&gt;"), "&lt;tg-spoiler&gt;");
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(340_000), "340 KB");
        assert_eq!(human_size(1_234_567), "1.2 MB");
    }
}
