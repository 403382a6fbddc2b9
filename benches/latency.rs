//! The spread of single search calls at scale: p50 / p99 / max of `Searcher::search` over
//! the generated archive, each query timed call by call (criterion, in benches/search.rs,
//! gives the mean of batches instead). The queries are benches/search.rs's (`common::REALISTIC`,
//! `common::COMMON`); that bench stays the reference for what a query costs.
//!
//! `POSTKEEPER_BENCH_SIZES` (default 1000000), `POSTKEEPER_LATENCY_CALLS` (default 200).

#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use postkeeper::search::Searcher;
use postkeeper::store::Archive;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let sizes = std::env::var("POSTKEEPER_BENCH_SIZES").unwrap_or_else(|_| "1000000".into());
    let calls: usize =
        std::env::var("POSTKEEPER_LATENCY_CALLS").ok().and_then(|s| s.parse().ok()).unwrap_or(200).max(1);
    for n in sizes.split(',').filter_map(|s| s.trim().replace('_', "").parse::<usize>().ok()) {
        let archive = Archive::open(&common::corpus_db(n)).expect("open the corpus store");
        let searcher = Searcher::default();
        for &(label, query) in common::REALISTIC.iter().chain(common::COMMON) {
            // The first call reads what the searcher caches (the vocabulary, for a suggestion).
            searcher.search(&archive, query, 0, 10).expect("search");
            let mut times: Vec<Duration> = (0..calls)
                .map(|_| {
                    let started = Instant::now();
                    black_box(searcher.search(&archive, black_box(query), 0, 10).expect("search"));
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
    }
}
