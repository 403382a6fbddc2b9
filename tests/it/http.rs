//! The HTTP server of `run`: `/healthz` (200, then 503 when a part fails) and `/metrics`
//! (Prometheus text whose counters move with the traffic), over a real socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Duration;

use fake_bot_api::updates;
use postkeeper::config::Config;
use tokio_util::sync::CancellationToken;

use crate::support::harness::Harness;

/// A GET (or another method) over a plain socket: (status, body).
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("writes");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

async fn get(addr: SocketAddr, path: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || request(addr, "GET", path)).await.expect("runs")
}

/// A metric's value in Prometheus text (the first sample whose line starts with `name`).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find(|l| l.starts_with(name))?.rsplit(' ').next()?.parse().ok()
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    l.local_addr().expect("address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_tell_the_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let mut archive = postkeeper::store::Archive::open(&db).expect("store");
    postkeeper::ingest::import_seed(&mut archive).expect("seed");
    let h = Harness::with_archive(Config::default(), archive).await;
    let addr = free_addr();
    let stop = CancellationToken::new();
    postkeeper::bot::http::recorder();
    let server =
        postkeeper::bot::http::serve(addr, h.state.clone(), axum::Router::new(), stop.clone()).await.expect("serves");
    h.state.health.telegram_answered();

    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(report["status"], "ok");
    assert_eq!(report["store"], "ok");
    assert_eq!(report["posts"].as_i64(), Some(20));
    assert_eq!(report["replays"]["worker"], "off", "no replay chat: no worker");
    assert!(report["telegram"]["last_ok_s_ago"].as_i64().is_some_and(|s| s < 60), "{report}");

    // Counters move with the traffic (at least by this test's: the recorder is the
    // process's, and other tests of this binary run beside this one).
    let (_, before) = get(addr, "/metrics").await;
    let searches = |t: &str| sample(t, "postkeeper_searches_total").unwrap_or(0.0);
    let sent =
        |t: &str| sample(t, "postkeeper_bot_api_requests_total{method=\"sendMessage\",outcome=\"ok\"}").unwrap_or(0.0);
    h.exchange(updates::text(1001, 1001, Some("ru"), "/search робот"), "sendMessage", 1).await;
    let (status, after) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(searches(&after) >= searches(&before) + 1.0, "{after}");
    assert!(sent(&after) >= sent(&before) + 1.0, "{after}");
    assert!(sample(&after, "postkeeper_updates_total{kind=\"message\"}").is_some_and(|n| n >= 1.0), "{after}");
    assert!(after.contains("postkeeper_handler_duration_seconds_bucket{command=\"search\""), "{after}");
    assert_eq!(sample(&after, "postkeeper_posts"), Some(20.0));
    assert!(sample(&after, "postkeeper_store_size_bytes").is_some_and(|b| b > 0.0));
    // Prometheus text: every sample line is `name{labels} value`.
    for line in after.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap_or("");
        assert!(value.parse::<f64>().is_ok() || value == "+Inf" || value == "NaN", "not a sample: {line}");
    }

    // Anything else: 404; a wrong method: 405; never a 500.
    assert_eq!(get(addr, "/nope").await.0, 404);
    assert_eq!(tokio::task::spawn_blocking(move || request(addr, "POST", "/healthz")).await.expect("runs").0, 405);

    // The replay worker dead: 503, and the failing part named.
    h.state.health.worker.store(postkeeper::bot::http::WORKER_STOPPED, Ordering::Relaxed);
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!((report["status"].as_str(), report["replays"]["worker"].as_str()), (Some("unhealthy"), Some("stopped")));
    h.state.health.worker.store(postkeeper::bot::http::WORKER_OFF, Ordering::Relaxed);
    assert_eq!(get(addr, "/healthz").await.0, 200);

    // The store broken under the bot: 503 with the store's error.
    rusqlite::Connection::open(&db).and_then(|c| c.execute_batch("DROP TABLE replay_jobs")).expect("drops");
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(report["store"].as_str().is_some_and(|s| s.contains("replay_jobs")), "{report}");
    assert!(report["posts"].is_null());

    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    h.finish().await;
}
