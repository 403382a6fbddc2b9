//! The web archive: another shell over the core, beside `bot/` and `console`. It asks the
//! store, `search` and `render` and turns their values into HTML pages (askama templates
//! under `templates/`, escaped by default), and never talks to Telegram.
//!
//! Served by `postkeeper serve` alone, and by `run` on `POSTKEEPER_LISTEN` beside the
//! webhook, `/healthz` and `/metrics`: one server per process. Every request a reader can
//! type gets a page: 404 for what is not there, 400 for a malformed query string, never a
//! 500 (a store that fails answers 503).

mod cache;
mod feeds;
mod media;
mod pages;
mod texts;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::search::Searcher;
use crate::store::SharedArchive;

pub use cache::Keeping;
pub use pages::not_found;

/// What the pages read.
pub struct Web {
    pub archive: SharedArchive,
    pub searcher: Searcher,
    /// The settings pages read: the time zone, the media folder, the public URL (absolute
    /// links: canonical, Open Graph, feeds; relative without).
    pub config: Config,
    /// Fetches a live post's file from Telegram by its file_id (`run`, which has a token);
    /// `serve` has none, and such media link to the post on `t.me`.
    pub fetch: Option<Arc<dyn Fetch>>,
}

/// Downloads a file from Telegram by its `file_id` (the Telegram shell implements it: the
/// web archive never talks to Telegram itself).
pub trait Fetch: Send + Sync {
    fn fetch<'a>(
        &'a self,
        file_id: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<Vec<u8>>> + Send + 'a>>;
}

/// The security headers of every page: nothing from other hosts, no framing, no sniffing.
const CSP: &str = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; \
form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The web archive's routes (no fallback: the caller adds the 404 page once, by
/// [`with_not_found`], as axum allows one per router).
pub fn routes(web: Arc<Web>) -> Router {
    routes_with(web, Keeping::On)
}

/// [`routes`], keeping pages in memory or not.
pub fn routes_with(web: Arc<Web>, keeping: Keeping) -> Router {
    let keeper = Arc::new(cache::Keeper::new(web.clone(), keeping));
    // Pages and feeds: compressed, then kept and tagged with the security headers (cache.rs:
    // a kept page is answered as it was sent, past every layer under the keeper).
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/search", get(pages::search))
        .route("/p/{id}", get(pages::by_id))
        .route("/c/{chat}/{message}", get(pages::private_post))
        .route("/{channel}/{message}", get(pages::public_post))
        .route("/months", get(pages::months))
        .route("/c/{chat}/{year}/{month}", get(pages::private_month))
        .route("/ch/{id}/{year}/{month}", get(pages::stored_month))
        .route("/{channel}/{year}/{month}", get(pages::public_month))
        .route("/robots.txt", get(pages::robots))
        .route("/favicon.ico", get(pages::favicon))
        .route("/sitemap.xml", get(feeds::sitemap))
        .route("/topics", get(pages::topics))
        .route("/topic/{slug}", get(pages::topic))
        .route("/topic/{slug}/{file}", get(feeds::topic))
        .route("/{file}", get(feeds::site))
        .with_state(web.clone())
        .layer(axum::middleware::from_fn(cache::measure))
        .layer(CompressionLayer::new());
    // Media files: their own ETags, ranges and caching (media.rs), never compressed again.
    let media = Router::new()
        .route("/media/{file}", get(media::file))
        .route("/media/live/{post}/{position}", get(media::live))
        .with_state(web);
    secured(pages).layer(cache::KeepLayer(keeper)).merge(secured(media))
}

/// `router` answering every address it does not know with the archive's 404 page (with the
/// security headers too). Once, by the caller of [`routes`]: axum allows one fallback to
/// the routers merged.
pub fn with_not_found(router: Router) -> Router {
    router.fallback_service(secured(Router::new().fallback(not_found)))
}

/// `router` with the security headers on every response.
fn secured(router: Router) -> Router {
    router
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
}

/// `postkeeper serve`: the web archive alone on `addr` until SIGINT or SIGTERM.
pub async fn serve(addr: SocketAddr, web: Arc<Web>, stop: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (POSTKEEPER_LISTEN): {e}"))?;
    tracing::info!(%addr, "the web archive: http://{addr}/");
    let app = with_not_found(routes(web));
    axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await?;
    Ok(())
}
