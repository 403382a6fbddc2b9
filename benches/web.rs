//! The web archive at scale, over the generated archive of `benches/common` (1M posts by
//! default, `POSTKEEPER_BENCH_SIZES`):
//!
//! * server time: p50 / p99 / max of `/` (the first page and pages further back), a post's
//!   page, a month's page and the search page with the search benches' queries, each
//!   request made from scratch (`Keeping::Off`: no page kept) and answered in process
//!   (the router as `serve` runs it, `tower::ServiceExt::oneshot`, the body read to its
//!   end; no socket);
//! * throughput over loopback: the post pages of `POSTKEEPER_WEB_POSTS` (1000) posts fetched
//!   again and again by `POSTKEEPER_WEB_CONNECTIONS` (16) keep-alive connections, from the
//!   archive as `serve` runs it (pages kept) and from a bare axum handler returning the same
//!   bytes (and, as a third, the bare handler sending all the archive's headers too: the
//!   `ETag`, `Cache-Control`, `Vary` and security headers are some 500 bytes a response),
//!   taking turns for `POSTKEEPER_WEB_ROUNDS` (3) rounds of `POSTKEEPER_WEB_SECS` (3)
//!   seconds each; the requests are written and read by hand over tokio's sockets (the
//!   smallest client, so the servers are what is compared).
//!
//! `POSTKEEPER_WEB_CALLS` (200): requests per page kind for the server times;
//! `POSTKEEPER_WEB_ENCODING` (none): the `Accept-Encoding` the throughput's requests send
//! (e.g. Chromium's `gzip, deflate, br, zstd`: the archive answers brotli, and the bare
//! handler the same compressed bytes);
//! `POSTKEEPER_WEB_ONLY=post,search` (the kinds whose label contains one of these; `load`
//! for the throughput).
//! Run: `cargo bench --bench web`.

#[allow(dead_code)]
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use postkeeper::config::Config;
use postkeeper::search::Searcher;
use postkeeper::store::{Archive, SharedArchive};
use postkeeper::web::{self, Keeping, Web};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().replace('_', "").parse().unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        Err(_) => default,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One request answered in process: its status, body length and server time.
async fn answer(app: &Router, target: &str) -> (StatusCode, usize, Duration) {
    let request = Request::get(target).header(header::ACCEPT_LANGUAGE, "ru").body(Body::empty()).expect("a request");
    let started = Instant::now();
    let response = app.clone().oneshot(request).await.expect("routers do not fail");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
    (status, body.len(), started.elapsed())
}

/// p50 / p99 / max of the server times of `targets`, each asked once (after one untimed
/// request of the first, which fills what the searcher caches).
async fn spread(app: &Router, label: &str, targets: &[String]) -> (Duration, Duration) {
    let _ = answer(app, &targets[0]).await;
    let mut times = Vec::with_capacity(targets.len());
    let mut bytes = 0;
    for target in targets {
        let (status, len, took) = answer(app, target).await;
        assert_eq!(status, StatusCode::OK, "{target}");
        bytes += len;
        times.push(took);
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let (p50, p99) = (at(0.50), at(0.99));
    println!(
        "  {label:<28} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  ({} requests, {:.1} KB a page)",
        ms(p50),
        ms(p99),
        ms(times[times.len() - 1]),
        times.len(),
        bytes as f64 / times.len() as f64 / 1024.0
    );
    (p50, p99)
}

/// The `href` of the first post card of a page.
fn first_card(html: &str) -> Option<String> {
    Some(html.split("<h2><a href=\"").nth(1)?.split('"').next()?.to_string())
}

/// GET `target` over one kept-alive connection, with `extra` header lines; the status and
/// the body's length.
async fn fetch(
    stream: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
    target: &str,
    extra: &str,
) -> std::io::Result<(u16, usize)> {
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: bench\r\nAccept-Language: ru\r\n{extra}\r\n").as_bytes())
        .await?;
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no Content-Length"))?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, length))
}

/// Requests per second from `connections` connections asking `targets` in turn for `secs`.
async fn load(
    addr: std::net::SocketAddr,
    targets: Arc<Vec<String>>,
    extra: &'static str,
    connections: usize,
    secs: f64,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (targets, stop, done) = (targets.clone(), stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
            stream.set_nodelay(true).expect("nodelay");
            let mut buf = Vec::with_capacity(64 * 1024);
            let mut i = c * 7919;
            while !stop.load(Ordering::Relaxed) {
                let target = &targets[i % targets.len()];
                i += 1;
                let (status, _) = fetch(&mut stream, &mut buf, target, extra).await.expect("an answer");
                assert_eq!(status, 200, "{target}");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let counted = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("a connection's task");
    }
    counted as f64 / elapsed
}

async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serves") });
    addr
}

/// A page's bytes and the archive's headers of it, by address.
type Bodies = HashMap<String, (Bytes, HeaderMap)>;

/// The bare handler: the same bytes, found by the same path, with a `Content-Type` (and the
/// `Content-Encoding` of compressed bytes).
async fn bare(State(pages): State<Arc<Bodies>>, Path((chat, message)): Path<(String, String)>) -> Response {
    match pages.get(&format!("/c/{chat}/{message}")) {
        Some((body, headers)) => {
            let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.clone()).into_response();
            if let Some(packed) = headers.get(header::CONTENT_ENCODING) {
                response.headers_mut().insert(header::CONTENT_ENCODING, packed.clone());
            }
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The bare handler with all the archive's headers of the page (`ETag`, `Cache-Control`,
/// `Vary`, the security headers): what the archive costs beside the bytes it must send.
async fn bare_headed(State(pages): State<Arc<Bodies>>, Path((chat, message)): Path<(String, String)>) -> Response {
    match pages.get(&format!("/c/{chat}/{message}")) {
        Some((body, headers)) => {
            let mut response = Response::new(Body::from(body.clone()));
            *response.headers_mut() = headers.clone();
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes = std::env::var("POSTKEEPER_BENCH_SIZES").unwrap_or_else(|_| "1000000".into());
    let calls = env_usize("POSTKEEPER_WEB_CALLS", 200).max(2);
    let posts = env_usize("POSTKEEPER_WEB_POSTS", 1000).max(1);
    let connections = env_usize("POSTKEEPER_WEB_CONNECTIONS", 16).max(1);
    let rounds = env_usize("POSTKEEPER_WEB_ROUNDS", 3).max(1);
    let secs = env_usize("POSTKEEPER_WEB_SECS", 3).max(1) as f64;
    let only = std::env::var("POSTKEEPER_WEB_ONLY").unwrap_or_default();
    let encoding = std::env::var("POSTKEEPER_WEB_ENCODING").ok().filter(|e| !e.trim().is_empty());
    // The header line the loopback requests add, and the request of a page in process.
    let extra: &'static str =
        encoding.as_ref().map_or("", |e| Box::leak(format!("Accept-Encoding: {}\r\n", e.trim()).into_boxed_str()));
    let asked = |target: &str| {
        let request = Request::get(target).header(header::ACCEPT_LANGUAGE, "ru");
        let request = match &encoding {
            Some(e) => request.header(header::ACCEPT_ENCODING, e.trim()),
            None => request,
        };
        request.body(Body::empty()).expect("a request")
    };
    let picked = |label: &str| only.is_empty() || only.split(',').any(|o| label.contains(o.trim()));
    for n in sizes.split(',').filter_map(|s| s.trim().replace('_', "").parse::<usize>().ok()) {
        let db = common::corpus_db(n);
        let web = Arc::new(Web {
            archive: SharedArchive::new(Archive::open(&db).expect("the corpus store")),
            searcher: Searcher::default(),
            config: Config::default(),
            fetch: None,
        });
        let made = web::with_not_found(web::routes_with(web.clone(), Keeping::Off));
        let mut rng = StdRng::seed_from_u64(7);

        // Where the posts are: the newest post's link gives the channel's base.
        let (status, _, _) = answer(&made, "/").await;
        assert_eq!(status, StatusCode::OK);
        let home = axum::body::to_bytes(
            made.clone()
                .oneshot(Request::get("/").body(Body::empty()).expect("a request"))
                .await
                .expect("ok")
                .into_body(),
            usize::MAX,
        )
        .await
        .expect("a body");
        let newest = first_card(&String::from_utf8_lossy(&home)).expect("the home page lists posts");
        let base = newest.rsplit_once('/').map(|(b, _)| b.to_string()).expect("a post link");
        let last: i64 = newest.rsplit('/').next().and_then(|id| id.parse().ok()).expect("a message id");
        let post_ids: Vec<i64> = (0..calls.max(posts)).map(|_| rng.random_range(1..=last)).collect();
        // Months: the corpus starts in July 2017, a post every ~65 minutes.
        let (first_year, last_year) = (2018, 2017 + (last as f64 * 3_900.0 / 31_557_600.0) as i32 - 1);

        println!("web/{n}: server time, every page made (no page kept), in process");
        let home_targets: Vec<String> = std::iter::once("/".to_string())
            .chain((1..calls).map(|_| format!("/?after={}", rng.random_range(2..=last))))
            .collect();
        let mut rows = Vec::new();
        if picked("home") {
            rows.push(("/ and older pages", spread(&made, "/ (and ?after=)", &home_targets).await));
        }
        let post_targets: Vec<String> = post_ids.iter().take(calls).map(|id| format!("{base}/{id}")).collect();
        if picked("post") {
            rows.push(("a post", spread(&made, "a post", &post_targets).await));
        }
        let month_targets: Vec<String> = (0..calls)
            .map(|_| format!("{base}/{}/{:02}", rng.random_range(first_year..=last_year), rng.random_range(1..=12)))
            .collect();
        if picked("month") {
            rows.push(("a month", spread(&made, "a month", &month_targets).await));
        }
        let queries: Vec<&str> = common::REALISTIC.iter().chain(common::OPERATORS).map(|(_, q)| *q).collect();
        let search_targets: Vec<String> = (0..calls)
            .map(|i| {
                let q: String = url::form_urlencoded::byte_serialize(queries[i % queries.len()].as_bytes()).collect();
                format!("/search?q={q}")
            })
            .collect();
        if picked("search") {
            rows.push(("search", spread(&made, "search (the benches' queries)", &search_targets).await));
        }
        for (label, (p50, p99)) in &rows {
            let ok = ms(*p50) <= 3.0 && ms(*p99) <= 20.0;
            println!("    {label:<20} p50 ≤ 3 ms, p99 ≤ 20 ms: {}", if ok { "met" } else { "NOT met" });
        }

        if !picked("load") {
            continue;
        }
        // Throughput: the archive as served (pages kept) beside the same bytes, bare.
        let targets: Vec<String> = post_ids.iter().take(posts).map(|id| format!("{base}/{id}")).collect();
        let kept = web::with_not_found(web::routes(web.clone()));
        let mut bodies = Bodies::new();
        for target in &targets {
            let response = kept.clone().oneshot(asked(target)).await.expect("ok");
            let headers = response.headers().clone();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
            bodies.insert(target.clone(), (body, headers));
        }
        let bodies = Arc::new(bodies);
        let bare_app = Router::new().route("/c/{chat}/{message}", get(bare)).with_state(bodies.clone());
        let headed_app = Router::new().route("/c/{chat}/{message}", get(bare_headed)).with_state(bodies);
        // In process first: the server's own time for a page kept, beside the bare handler's.
        let per_request = |app: Router, targets: Vec<String>| async move {
            let rounds = 20;
            let started = Instant::now();
            for _ in 0..rounds {
                for target in &targets {
                    let response = app.clone().oneshot(asked(target)).await.expect("ok");
                    std::hint::black_box(axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body"));
                }
            }
            started.elapsed() / (rounds * targets.len()) as u32
        };
        let kept_us = per_request(kept.clone(), targets.clone()).await;
        let bare_us = per_request(bare_app.clone(), targets.clone()).await;
        println!(
            "web/{n}: a post page kept, in process: {:.1} µs a request; bare: {:.1} µs",
            kept_us.as_secs_f64() * 1e6,
            bare_us.as_secs_f64() * 1e6
        );
        let (ours, theirs, headed) = (serve(kept).await, serve(bare_app).await, serve(headed_app).await);
        let targets = Arc::new(targets);
        // Warm all three (connections, the pages kept).
        for addr in [ours, theirs, headed] {
            load(addr, targets.clone(), extra, connections, 1.0).await;
        }
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            a.push(load(ours, targets.clone(), extra, connections, secs).await);
            b.push(load(theirs, targets.clone(), extra, connections, secs).await);
            c.push(load(headed, targets.clone(), extra, connections, secs).await);
        }
        let (a, b, c) = (median(a), median(b), median(c));
        println!(
            "web/{n}: post pages over loopback, {} posts, {connections} connections, {rounds} × {secs:.0} s each, taking turns, Accept-Encoding: {}",
            targets.len(),
            encoding.as_deref().unwrap_or("none")
        );
        println!("  the archive (pages kept)    {a:>8.0} requests/s");
        println!("  bare axum, the same bytes   {b:>8.0} requests/s");
        println!("  bare, with our headers too  {c:>8.0} requests/s  (the archive {:.2}× of it)", a / c);
        println!("  ratio {:.2} (≥ 0.80): {}", a / b, if a / b >= 0.8 { "met" } else { "NOT met" });
    }
}
