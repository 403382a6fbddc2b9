//! What makes the pages cheap to serve again and cacheable by others: every page and feed gets
//! an `ETag` (a hash of its bytes) and is answered 304 to a request that already holds it, a
//! `Cache-Control` (permalinks an hour, lists a minute, a failure never) and `Vary:
//! Accept-Encoding, Accept-Language`; `HEAD` gets the headers of `GET`. And pages are kept in
//! memory once made, keyed by their address, the reader's language and `Accept-Encoding` (kept
//! compressed: brotli or gzip once per page, not once per reader), while the store has not
//! changed: SQLite's `data_version` ([`crate::store::SharedArchive::data_version`]) moves with
//! every commit of this process or another (an import beside a running `serve`), and a page
//! made before it moved is made again. Asking it costs a few system calls (SQLite opens a read
//! transaction: locks on the WAL index, the file's size, its first page), more than the rest of
//! answering a kept page, so it is asked at most every [`FRESH`]: another process's change
//! shows within that, and this process's own writes (the live archive, a live file fetched) at
//! once, by the count of the shared connections' commits. A permalink shared in a large chat is
//! then made once, not once per reader (figures in benches/README.md, "The web archive").

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use std::convert::Infallible;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::Web;
use super::texts::reader_lang;

/// Pages kept: at most this many bytes (bodies and addresses).
const CAPACITY_BYTES: u64 = 64 << 20;
/// About how large a page is, to size the cache's table.
const TYPICAL_PAGE: u64 = 24 << 10;
/// A page larger than this is neither kept nor given an `ETag` (none of ours is).
const LARGEST: usize = 4 << 20;

/// How long the store's `data_version` is taken as it was last read.
const FRESH: Duration = Duration::from_millis(100);

/// How long others may keep a page without asking again, when its handler did not say.
const LIST: &str = "public, max-age=60";
/// For a failure (503): never kept.
const NEVER: &str = "no-store";

/// The reader's address (path and query), language and `Accept-Encoding` as sent (the
/// compression chooses by it: the same header, the same bytes).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    target: String,
    lang: &'static str,
    encodings: Option<HeaderValue>,
}

/// A page as made, with the store's `data_version` and this process's commits it was made at.
struct Kept {
    version: (i64, u64),
    page: Page,
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Key, Arc<Kept>> for Weight {
    fn weight(&self, key: &Key, kept: &Arc<Kept>) -> u64 {
        (key.target.len() + key.encodings.as_ref().map_or(0, |e| e.len()) + kept.page.body.len() + 256) as u64
    }
}

/// The pages kept, and the store they were made from.
pub(super) struct Keeper {
    web: Arc<Web>,
    /// `None` with [`Keeping::Off`].
    pages: Option<quick_cache::sync::Cache<Key, Arc<Kept>, Weight>>,
    /// When `data_version` was read last (µs since `started`, 0: never) and what it was.
    started: Instant,
    asked_at: AtomicU64,
    version: AtomicI64,
}

/// Whether pages are kept in memory between requests: [`super::routes`] keeps them; the
/// web bench also measures the making of every page ([`super::routes_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keeping {
    On,
    Off,
}

impl Keeper {
    pub(super) fn new(web: Arc<Web>, keeping: Keeping) -> Keeper {
        let pages = (keeping == Keeping::On).then(|| {
            quick_cache::sync::Cache::with_weighter((CAPACITY_BYTES / TYPICAL_PAGE) as usize, CAPACITY_BYTES, Weight)
        });
        Keeper { web, pages, started: Instant::now(), asked_at: AtomicU64::new(0), version: AtomicI64::new(0) }
    }

    /// The store's `data_version`, read again when the last reading is older than [`FRESH`],
    /// and the commits of this process; `None` when pages are not kept or the store cannot
    /// say (a store in memory).
    fn version(&self) -> Option<(i64, u64)> {
        let commits = self.web.archive.commits();
        self.pages.as_ref()?;
        let now = (self.started.elapsed().as_micros() as u64).max(1);
        let asked = self.asked_at.load(Ordering::Acquire);
        if asked != 0 && now.saturating_sub(asked) < FRESH.as_micros() as u64 {
            return Some((self.version.load(Ordering::Acquire), commits));
        }
        let version = self.web.archive.data_version()?;
        self.version.store(version, Ordering::Release);
        self.asked_at.store(now, Ordering::Release);
        Some((version, commits))
    }
}

/// A page's status, headers and bytes.
#[derive(Clone)]
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Page {
    /// The headers every page gets: its ETag, a Cache-Control when the handler set none,
    /// and that it depends on the reader's language.
    fn new(status: StatusCode, mut headers: HeaderMap, body: Bytes) -> Page {
        let digest = Sha256::digest(&body);
        let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{tag}\"")) {
            headers.insert(header::ETAG, etag);
        }
        let policy = if status.is_server_error() { NEVER } else { LIST };
        headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static(policy));
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding, Accept-Language"));
        // A HEAD is told the length of the GET's body too.
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        Page { status, headers, body }
    }

    /// The answer to a request holding `if_none_match` (304 when it holds this page), with
    /// no body for `HEAD`.
    fn answer(&self, if_none_match: Option<&HeaderValue>, head: bool) -> Response {
        let etag = self.headers.get(header::ETAG);
        if self.status == StatusCode::OK && etag.is_some_and(|e| holds(if_none_match, e)) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            for name in [header::ETAG, header::CACHE_CONTROL, header::VARY] {
                if let Some(v) = self.headers.get(&name) {
                    response.headers_mut().insert(name, v.clone());
                }
            }
            return response;
        }
        let body = if head { Body::empty() } else { Body::from(self.body.clone()) };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for it).
fn holds(if_none_match: Option<&HeaderValue>, etag: &HeaderValue) -> bool {
    let Some(given) = if_none_match.and_then(|v| v.to_str().ok()) else { return false };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = etag.to_str().map(opaque).unwrap_or_default();
    given.split(',').any(|t| t.trim() == "*" || opaque(t) == ours)
}

/// Marks a response [`Keep`] passes on as it is: no body, or one larger than [`LARGEST`].
#[derive(Clone, Copy)]
struct Unkept;

/// The middleware under the compression, over the handlers: marks the responses [`Keep`]
/// must not read back, whose size only shows before they are compressed.
pub(super) async fn measure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    // Bodies only (a 204 has none, nor a length), and only ours (none is larger).
    let fits = response.body().size_hint().upper().is_some_and(|n| n <= LARGEST as u64);
    if !fits || matches!(response.status(), StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        response.extensions_mut().insert(Unkept);
    }
    response
}

/// The layer over the compression of pages and feeds (not the media files, which have
/// their own): pages are kept compressed, as each reader's `Accept-Encoding` asked. A
/// service of its own rather than a `from_fn` middleware: a kept page is answered without
/// cloning or boxing the services under it.
#[derive(Clone)]
pub(super) struct KeepLayer(pub(super) Arc<Keeper>);

impl<S> tower::Layer<S> for KeepLayer {
    type Service = Keep<S>;

    fn layer(&self, inner: S) -> Keep<S> {
        Keep { keeper: self.0.clone(), inner }
    }
}

/// [`KeepLayer`]'s service over `S`.
#[derive(Clone)]
pub(super) struct Keep<S> {
    keeper: Arc<Keeper>,
    inner: S,
}

/// What a request asks of the pages kept, when it may be answered by one.
struct Asked {
    key: Key,
    version: Option<(i64, u64)>,
    if_none_match: Option<HeaderValue>,
    head: bool,
}

impl<S> tower::Service<Request> for Keep<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures::future::Either<
        std::future::Ready<Result<Response, Infallible>>,
        futures::future::BoxFuture<'static, Result<Response, Infallible>>,
    >;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        use futures::future::Either;
        let asked = asked(&self.keeper, &request);
        if let Some(asked) = &asked
            && let Some(version) = asked.version
            && let Some(kept) = self.keeper.pages.as_ref().and_then(|p| p.get(&asked.key))
            && kept.version == version
        {
            // The service under stays ready, unused, for the next request.
            return Either::Left(std::future::ready(Ok(kept.page.answer(asked.if_none_match.as_ref(), asked.head))));
        }
        // The service that was made ready answers this request; a clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(asked) = asked else {
            return Either::Right(Box::pin(inner.call(request)));
        };
        // A HEAD is made as a GET, whose body gives the ETag and the length.
        if asked.head {
            *request.method_mut() = Method::GET;
        }
        let keeper = self.keeper.clone();
        Either::Right(Box::pin(async move {
            let Ok(response) = inner.call(request).await;
            Ok(make(&keeper, asked, response).await)
        }))
    }
}

/// The key and version of a GET or HEAD; `None` for what is not kept: other methods, and
/// several `Accept-Encoding` lines (no browser sends them).
fn asked(keeper: &Keeper, request: &Request) -> Option<Asked> {
    let head = request.method() == Method::HEAD;
    let mut encodings = request.headers().get_all(header::ACCEPT_ENCODING).iter();
    let (first, more) = (encodings.next().cloned(), encodings.next().is_some());
    if (!head && request.method() != Method::GET) || more {
        return None;
    }
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let accept = request.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Some(Asked {
        key: Key { target, lang: reader_lang(None, accept).code(), encodings: first },
        version: keeper.version(),
        if_none_match: request.headers().get(header::IF_NONE_MATCH).cloned(),
        head,
    })
}

/// A page just made: read back, tagged, kept while the store is as it was made from.
async fn make(keeper: &Keeper, asked: Asked, response: Response) -> Response {
    if response.extensions().get::<Unkept>().is_some() {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Compressed, a body of at most LARGEST bytes is hardly larger.
    let body = match axum::body::to_bytes(body, 2 * LARGEST).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!("a page could not be read back: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, "the page cannot be shown\n").into_response();
        }
    };
    let page = Page::new(parts.status, parts.headers, body);
    let answer = page.answer(asked.if_none_match.as_ref(), asked.head);
    if let Some(version) = asked.version
        && let Some(pages) = &keeper.pages
        && page.status == StatusCode::OK
    {
        pages.insert(asked.key, Arc::new(Kept { version, page }));
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).expect("a header value")
    }

    #[test]
    fn if_none_match_is_compared_weakly_and_lists_and_stars_hold() {
        let ours = value("W/\"abc\"");
        assert!(holds(Some(&value("W/\"abc\"")), &ours));
        assert!(holds(Some(&value("\"abc\"")), &ours), "weak comparison ignores W/");
        assert!(holds(Some(&value("\"x\", W/\"abc\"")), &ours));
        assert!(holds(Some(&value("*")), &ours));
        assert!(!holds(Some(&value("W/\"abd\"")), &ours));
        assert!(!holds(None, &ours));
    }

    #[test]
    fn a_page_gets_an_etag_of_its_bytes_and_a_policy_by_its_status() {
        let page = Page::new(StatusCode::OK, HeaderMap::new(), Bytes::from_static(b"<p>one</p>"));
        let same = Page::new(StatusCode::OK, HeaderMap::new(), Bytes::from_static(b"<p>one</p>"));
        let other = Page::new(StatusCode::OK, HeaderMap::new(), Bytes::from_static(b"<p>two</p>"));
        assert_eq!(page.headers.get(header::ETAG), same.headers.get(header::ETAG));
        assert_ne!(page.headers.get(header::ETAG), other.headers.get(header::ETAG));
        assert_eq!(page.headers.get(header::CACHE_CONTROL), Some(&value(LIST)));
        let failed = Page::new(StatusCode::SERVICE_UNAVAILABLE, HeaderMap::new(), Bytes::new());
        assert_eq!(failed.headers.get(header::CACHE_CONTROL), Some(&value(NEVER)));
        let mut own = HeaderMap::new();
        own.insert(header::CACHE_CONTROL, value("public, max-age=3600"));
        let permalink = Page::new(StatusCode::OK, own, Bytes::new());
        assert_eq!(permalink.headers.get(header::CACHE_CONTROL), Some(&value("public, max-age=3600")));
    }

    #[test]
    fn a_page_held_is_answered_304_and_head_has_no_body_but_its_length() {
        let page = Page::new(StatusCode::OK, HeaderMap::new(), Bytes::from_static(b"<p>one</p>"));
        let etag = page.headers.get(header::ETAG).cloned();
        let held = page.answer(etag.as_ref(), false);
        assert_eq!(held.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(held.headers().get(header::ETAG), etag.as_ref());
        let head = page.answer(None, true);
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers().get(header::CONTENT_LENGTH), Some(&HeaderValue::from(10)));
        assert_eq!(head.body().size_hint().exact(), Some(0));
        // A page that is not there is never "not modified".
        let missing = Page::new(StatusCode::NOT_FOUND, HeaderMap::new(), Bytes::from_static(b"no"));
        let etag = missing.headers.get(header::ETAG).cloned();
        assert_eq!(missing.answer(etag.as_ref(), false).status(), StatusCode::NOT_FOUND);
    }
}
