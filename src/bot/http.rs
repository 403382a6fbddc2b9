//! The HTTP server of `run` (`POSTKEEPER_LISTEN`): `GET /healthz` for a supervisor or a
//! load balancer, `GET /metrics` in Prometheus' text format, and in webhook mode the
//! webhook's `POST` ([`super::webhook`]). One server per process; a request for anything
//! else is a 404, a wrong method a 405, never a 500.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::BotState;

/// What the bot knows of its own health, kept as it runs.
#[derive(Default)]
pub struct Health {
    /// Unix seconds of the last request Telegram answered (0: none yet).
    pub telegram_ok_at: AtomicI64,
    /// The replay worker: [`WORKER_OFF`], [`WORKER_RUNNING`] or [`WORKER_STOPPED`].
    pub worker: AtomicU8,
    /// Unix seconds the process started serving.
    pub started_at: AtomicI64,
}

pub const WORKER_OFF: u8 = 0;
pub const WORKER_RUNNING: u8 = 1;
pub const WORKER_STOPPED: u8 = 2;

impl Health {
    pub fn telegram_answered(&self) {
        self.telegram_ok_at.store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
    }
}

/// The process's Prometheus recorder: installed by the first bot of the process (tests
/// start several), shared by the others.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0];
        let builder = match PrometheusBuilder::new().set_buckets(&buckets) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("metrics buckets refused ({e}): summaries instead");
                PrometheusBuilder::new()
            }
        };
        match builder.install_recorder() {
            Ok(handle) => handle,
            Err(e) => {
                tracing::warn!("cannot install the metrics recorder ({e}): /metrics stays empty");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

#[derive(Serialize)]
struct Replays {
    /// `running`, `stopped` (it ended: unhealthy) or `off` (no replay chat).
    worker: &'static str,
    /// `held` or `standby` (another process delivers).
    lease: &'static str,
    pending: Option<i64>,
    last_outcome: Option<String>,
}

#[derive(Serialize)]
struct Telegram {
    last_ok_s_ago: Option<i64>,
}

#[derive(Serialize)]
struct HealthReport {
    status: &'static str,
    version: &'static str,
    posts: Option<i64>,
    /// `ok`, or why not (`locked or slow`, the store's error).
    store: String,
    replays: Replays,
    telegram: Telegram,
}

/// How long the store may take to answer a health read.
const STORE_DEADLINE: Duration = Duration::from_secs(1);

/// What a health read asks of the store.
struct StoreFacts {
    posts: i64,
    pending: i64,
    last_outcome: Option<String>,
    bytes: Option<u64>,
}

async fn store_facts(state: &BotState) -> Result<StoreFacts, String> {
    let read = state.archive.try_call(|archive| -> Result<StoreFacts, crate::store::StoreError> {
        let info = archive.health_facts()?;
        Ok(StoreFacts { posts: info.0, pending: info.1, last_outcome: info.2, bytes: info.3 })
    });
    match tokio::time::timeout(STORE_DEADLINE, read).await {
        Ok(Ok(facts)) => Ok(facts),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err("no answer within a second (locked or slow)".to_string()),
    }
}

async fn healthz(State(state): State<Arc<BotState>>) -> Response {
    let facts = store_facts(&state).await;
    let worker = state.health.worker.load(Ordering::Relaxed);
    let holding = state.passes.borrow().holding;
    let ok_at = state.health.telegram_ok_at.load(Ordering::Relaxed);
    let healthy = facts.is_ok() && worker != WORKER_STOPPED;
    let (posts, pending, last_outcome) = match &facts {
        Ok(f) => (Some(f.posts), Some(f.pending), f.last_outcome.clone()),
        Err(_) => (None, None, None),
    };
    let report = HealthReport {
        status: if healthy { "ok" } else { "unhealthy" },
        version: env!("CARGO_PKG_VERSION"),
        posts,
        store: facts.as_ref().map_or_else(Clone::clone, |_| "ok".to_string()),
        replays: Replays {
            worker: match worker {
                WORKER_RUNNING => "running",
                WORKER_STOPPED => "stopped",
                _ => "off",
            },
            lease: if holding { "held" } else { "standby" },
            pending,
            last_outcome,
        },
        telegram: Telegram { last_ok_s_ago: (ok_at > 0).then(|| (chrono::Utc::now().timestamp() - ok_at).max(0)) },
    };
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(report)).into_response()
}

async fn metrics_page(State(state): State<Arc<BotState>>) -> Response {
    // Gauges read when asked, not kept up to date on every change.
    if let Ok(facts) = store_facts(&state).await {
        metrics::gauge!("postkeeper_posts").set(facts.posts as f64);
        metrics::gauge!("postkeeper_replay_jobs_pending").set(facts.pending as f64);
        if let Some(bytes) = facts.bytes {
            metrics::gauge!("postkeeper_store_size_bytes").set(bytes as f64);
        }
    }
    metrics::gauge!("postkeeper_replay_lease_held").set(if state.passes.borrow().holding { 1.0 } else { 0.0 });
    metrics::gauge!("process_start_time_seconds").set(state.health.started_at.load(Ordering::Relaxed) as f64);
    let body = recorder().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

pub fn router(state: Arc<BotState>) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics_page)).with_state(state)
}

/// Binds `addr` and serves until `stop`, with the routes of `extra` (the webhook's) beside
/// its own; a refused address is an error at start.
pub async fn serve(
    addr: std::net::SocketAddr,
    state: Arc<BotState>,
    extra: Router,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (POSTKEEPER_LISTEN): {e}"))?;
    tracing::info!(%addr, "HTTP server: /healthz, /metrics");
    // One fallback for the whole server: the web archive's 404 page.
    let app = crate::web::with_not_found(extra.merge(router(state)));
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
        if let Err(e) = served {
            tracing::error!("the HTTP server stopped: {e}");
        }
    }))
}
