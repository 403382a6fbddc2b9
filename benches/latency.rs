//! The spread of single search calls at scale: p50 / p99 / max of `Searcher::search` over
//! the generated archive, each query timed call by call (criterion, in benches/search.rs,
//! gives the mean of batches instead). The queries are benches/search.rs's: today's
//! (`common::REALISTIC`, `common::COMMON`), the query language's (`common::OPERATORS`) and
//! `/similar` of the posts in `common::SIMILAR`.
//!
//! `POSTKEEPER_BENCH_SIZES` (default 1000000), `POSTKEEPER_LATENCY_CALLS` (default 200),
//! `POSTKEEPER_LATENCY_ONLY=phrase,similar` (labels containing one of these).

#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use postkeeper::search::Searcher;
use postkeeper::store::Archive;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50 / p99 / max of `calls` timed calls of `f` (after one untimed call: the first reads
/// what the searcher caches, e.g. the vocabulary for a suggestion).
fn spread(n: usize, label: &str, calls: usize, mut f: impl FnMut()) {
    f();
    let mut times: Vec<Duration> = (0..calls)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "latency/{n}/{label:<24} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  ({calls} calls)",
        ms(at(0.50)),
        ms(at(0.99)),
        ms(times[times.len() - 1])
    );
}

fn main() {
    let sizes = std::env::var("POSTKEEPER_BENCH_SIZES").unwrap_or_else(|_| "1000000".into());
    let calls: usize =
        std::env::var("POSTKEEPER_LATENCY_CALLS").ok().and_then(|s| s.parse().ok()).unwrap_or(200).max(1);
    let only = std::env::var("POSTKEEPER_LATENCY_ONLY").unwrap_or_default();
    let picked = |label: &str| only.is_empty() || only.split(',').any(|o| label.contains(o.trim()));
    for n in sizes.split(',').filter_map(|s| s.trim().replace('_', "").parse::<usize>().ok()) {
        let archive = Archive::open(&common::corpus_db(n)).expect("open the corpus store");
        let searcher = Searcher::default();
        for &(label, query) in common::REALISTIC.iter().chain(common::COMMON).chain(common::OPERATORS) {
            if picked(label) {
                spread(n, label, calls, || {
                    black_box(searcher.search(&archive, black_box(query), 0, 10).expect("search"));
                });
            }
        }
        for &id in common::SIMILAR {
            let label = format!("similar_{id}");
            if picked(&label) {
                spread(n, &label, calls, || {
                    black_box(searcher.similar(&archive, black_box(id), 0, 10).expect("similar"));
                });
            }
        }
    }
}
