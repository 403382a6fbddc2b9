//! Feeds of the latest posts (Atom 1.0, RSS 2.0, JSON Feed 1.1), of the whole archive and of
//! each topic, and the sitemap. Links are absolute with `POSTKEEPER_PUBLIC_URL`; without it
//! they are relative to the feed's address, and the feed's description says so.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Web;
use super::pages::{Names, Reader, error, link, names, site_name, unavailable, web_html};
use super::texts::texts;
use crate::i18n::Lang;
use crate::model::Post;
use crate::render::html;

/// Posts in a feed.
const FEED_POSTS: usize = 50;
/// Posts in the sitemap (a sitemap file holds at most 50,000 addresses).
const SITEMAP_POSTS: usize = 49_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Atom,
    Rss,
    Json,
}

impl Kind {
    fn of(file: &str) -> Option<Kind> {
        match file {
            "feed.atom" => Some(Kind::Atom),
            "feed.rss" => Some(Kind::Rss),
            "feed.json" => Some(Kind::Json),
            _ => None,
        }
    }
}

/// The `<link rel="alternate">`s of a page whose feeds are under `prefix` (`""`, `/topic/x`).
pub fn links(prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("application/atom+xml", format!("{prefix}/feed.atom")),
        ("application/rss+xml", format!("{prefix}/feed.rss")),
        ("application/feed+json", format!("{prefix}/feed.json")),
    ]
}

struct Entry {
    title: String,
    url: String,
    id: String,
    /// RFC 3339 (the epoch for an undated post: Atom requires a date).
    date: String,
    /// RFC 2822, empty for an undated post.
    rss_date: String,
    html: String,
}

#[derive(Template)]
#[template(path = "atom.xml")]
struct Atom {
    lang: &'static str,
    title: String,
    subtitle: String,
    id: String,
    home: String,
    self_href: String,
    updated: String,
    entries: Vec<Entry>,
}

#[derive(Template)]
#[template(path = "rss.xml")]
struct Rss {
    lang: &'static str,
    title: String,
    subtitle: String,
    home: String,
    self_href: String,
    entries: Vec<Entry>,
}

#[derive(Template)]
#[template(path = "sitemap.xml")]
struct Sitemap {
    urls: Vec<(String, String)>,
}

fn entry(web: &Web, post: &Post, names: &Names) -> Entry {
    let path = link(post, names);
    let url = web.absolute(&path).unwrap_or_else(|| path.clone());
    let id = if url.starts_with("http") { url.clone() } else { format!("urn:postkeeper:{path}") };
    let entities = crate::render::post::entities_for_display(post);
    Entry {
        title: if post.title.is_empty() { format!("#{}", post.id) } else { html::truncate(&post.title, 200) },
        url,
        id,
        date: post.date.unwrap_or_default().to_rfc3339(),
        rss_date: post.date.map(|d| d.to_rfc2822()).unwrap_or_default(),
        html: format!("<div style=\"white-space:pre-wrap\">{}</div>", web_html(&html::render(&post.body, &entities))),
    }
}

/// The archive's feed at `/feed.{atom,rss,json}`.
pub async fn site(
    State(web): State<Arc<Web>>,
    Path(file): Path<String>,
    Reader { lang, .. }: Reader,
    headers: HeaderMap,
) -> Response {
    match Kind::of(&file) {
        Some(kind) => feed(web, None, kind, lang).await,
        None => super::not_found(headers).await,
    }
}

/// A topic's feed at `/topic/{slug}/feed.{atom,rss,json}`.
pub async fn topic(
    State(web): State<Arc<Web>>,
    Path((slug, file)): Path<(String, String)>,
    Reader { lang, .. }: Reader,
    headers: HeaderMap,
) -> Response {
    match Kind::of(&file) {
        Some(kind) => feed(web, Some(slug), kind, lang).await,
        None => super::not_found(headers).await,
    }
}

async fn feed(web: Arc<Web>, topic: Option<String>, kind: Kind, lang: Lang) -> Response {
    let wanted = topic.clone();
    let read = web
        .archive
        .try_call(move |a| -> crate::store::Result<_> {
            let (site, about) = site_name(a)?;
            let (label, posts) = match &wanted {
                Some(slug) => {
                    let label = a.topic_counts()?.into_iter().find(|c| &c.topic.slug == slug).map(|c| c.topic);
                    (label, a.topic_newest_after(slug, None, FEED_POSTS)?)
                }
                None => (None, Some(a.newest_after(None, FEED_POSTS)?)),
            };
            Ok((site, about, names(a)?, label, posts))
        })
        .await;
    let (site, about, names, label, posts) = match read {
        Ok(r) => r,
        Err(e) => return unavailable(lang, format!("{e:#}")),
    };
    let Some(posts) = posts else {
        return error(lang, StatusCode::NOT_FOUND);
    };
    let t = texts(lang);
    let site = if site.is_empty() { t.archive.to_string() } else { site };
    let (title, home_path) = match (&topic, &label) {
        (Some(slug), Some(label)) => {
            (format!("{} — {} {}", site, label.emoji, lang.pick(&label.ru, &label.en)), format!("/topic/{slug}"))
        }
        _ => (site.clone(), "/".to_string()),
    };
    let prefix = if home_path == "/" { String::new() } else { home_path.clone() };
    let ext = match kind {
        Kind::Atom => "atom",
        Kind::Rss => "rss",
        Kind::Json => "json",
    };
    let self_path = format!("{prefix}/feed.{ext}");
    let home = web.absolute(&home_path).unwrap_or_else(|| home_path.clone());
    let self_href = web.absolute(&self_path).unwrap_or_else(|| self_path.clone());
    let mut subtitle = if about.is_empty() { title.clone() } else { about };
    if web.config.public_url.is_none() {
        subtitle
            .push_str(" (links are relative to this feed's address: the archive's POSTKEEPER_PUBLIC_URL is not set)");
    }
    let entries: Vec<Entry> = posts.iter().map(|p| entry(&web, p, &names)).collect();
    let updated = posts.iter().filter_map(|p| p.date).max().unwrap_or_default().to_rfc3339();
    let (body, content_type) = match kind {
        Kind::Atom => {
            let id =
                if self_href.starts_with("http") { self_href.clone() } else { format!("urn:postkeeper:{self_path}") };
            let feed = Atom { lang: lang.code(), title, subtitle, id, home, self_href, updated, entries };
            (feed.render(), "application/atom+xml; charset=utf-8")
        }
        Kind::Rss => {
            let feed = Rss { lang: lang.code(), title, subtitle, home, self_href, entries };
            (feed.render(), "application/rss+xml; charset=utf-8")
        }
        Kind::Json => {
            let items: Vec<serde_json::Value> = entries
                .iter()
                .zip(&posts)
                .map(|(e, p)| {
                    let mut item =
                        serde_json::json!({"id": e.id, "url": e.url, "title": e.title, "content_html": e.html});
                    if let Some(d) = p.date {
                        item["date_published"] = serde_json::json!(d.to_rfc3339());
                    }
                    item
                })
                .collect();
            let feed = serde_json::json!({
                "version": "https://jsonfeed.org/version/1.1",
                "title": title,
                "description": subtitle,
                "home_page_url": home,
                "feed_url": self_href,
                "language": lang.code(),
                "items": items,
            });
            (
                serde_json::to_string_pretty(&feed).map_err(|e| askama::Error::Custom(Box::new(e))),
                "application/feed+json; charset=utf-8",
            )
        }
    };
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => unavailable(lang, e),
    }
}

/// `/sitemap.xml`: the home page, the topics and the newest posts, by absolute address (a
/// sitemap must have them): a 404 without `POSTKEEPER_PUBLIC_URL`.
pub async fn sitemap(State(web): State<Arc<Web>>, Reader { lang, .. }: Reader) -> Response {
    if web.config.public_url.is_none() {
        return error(lang, StatusCode::NOT_FOUND);
    }
    let read = web
        .archive
        .try_call(|a| -> crate::store::Result<_> {
            Ok((names(a)?, a.topic_counts()?, a.newest_after(None, SITEMAP_POSTS)?))
        })
        .await;
    let (names, topics, posts) = match read {
        Ok(r) => r,
        Err(e) => return unavailable(lang, format!("{e:#}")),
    };
    let mut urls = vec![(web.absolute("/").unwrap_or_default(), String::new())];
    urls.extend(
        topics
            .iter()
            .filter(|t| t.posts > 0)
            .filter_map(|t| Some((web.absolute(&format!("/topic/{}", t.topic.slug))?, String::new()))),
    );
    urls.extend(posts.iter().filter_map(|p| {
        let lastmod = p.edited.or(p.date).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
        Some((web.absolute(&link(p, &names))?, lastmod))
    }));
    match (Sitemap { urls }).render() {
        Ok(body) => ([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response(),
        Err(e) => unavailable(lang, e),
    }
}
