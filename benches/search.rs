//! Search latency over generated archives of growing size (ours against the bare
//! FTS5 query it is built on), and the import rate (ours against bare FTS5 inserts).
//!
//! Sizes: `POSTKEEPER_BENCH_SIZES=10000,100000,1000000` (the default). Stores are built
//! once under `target/bench-corpora/` (the 1M one takes minutes) and reused.

#[allow(dead_code)]
mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use postkeeper::model::{NewPost, title_of};
use postkeeper::search::{Mode, Query, Searcher};
use postkeeper::store::{Archive, StoreError};
use postkeeper::text;
use rusqlite::{Connection, params};

/// The same and two realistic queries sent with a trailing space: no word is taken as a
/// prefix, which shows what the prefix expansion of the last word costs.
const COMPLETE: &[(&str, &str)] = &[
    ("complete_common_obuchenie", "обучение "),
    ("complete_common_obuchenie_modeli", "обучение модели "),
    ("complete_rl_2w", "обучение с подкреплением "),
    ("complete_trading_3w", "торговые стратегии обучения "),
];

const BM25: &str = "bm25(posts_fts, 4.0, 1.0)";

fn sizes() -> Vec<usize> {
    let spec = std::env::var("POSTKEEPER_BENCH_SIZES").unwrap_or_else(|_| "10000,100000,1000000".into());
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("POSTKEEPER_BENCH_SIZES"))
        .collect()
}

/// The top 10 of a bare FTS5 query, ranked by bm25 over every match.
fn raw_top10(conn: &Connection, expr: &str) -> Vec<(i64, f64)> {
    conn.prepare_cached(&format!(
        "SELECT rowid, {BM25} AS s FROM posts_fts WHERE posts_fts MATCH ?1 ORDER BY s LIMIT 10"
    ))
    .expect("prepare")
    .query_map([expr], |r| Ok((r.get(0)?, r.get(1)?)))
    .expect("query")
    .collect::<rusqlite::Result<_>>()
    .expect("rows")
}

/// `"stem1" AND "stem2"`: the query's stems, no prefixes.
fn plain_expr(query: &Query, op: &str) -> String {
    query.terms.iter().map(|t| format!("\"{}\"", t.stem)).collect::<Vec<_>>().join(op)
}

fn search_benches(c: &mut Criterion) {
    for n in sizes() {
        let path = common::corpus_db(n);
        let archive = Archive::open(&path).expect("open the corpus store");
        // The bare FTS5 baseline reads through a connection of its own.
        let conn = &Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
        let searcher = Searcher::default();
        let mut group = c.benchmark_group(format!("search/{n}"));
        let (samples, secs) = if n >= 1_000_000 { (10, 3) } else { (20, 2) };
        group.sample_size(samples).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(secs));
        group.sampling_mode(SamplingMode::Flat);

        for &(label, input) in common::REALISTIC.iter().chain(common::COMMON).chain(COMPLETE) {
            let page = searcher.search(&archive, input, 0, 10).expect("search");
            let query = Query::parse(input);
            let (expr, plain) = match page.mode {
                Mode::All => (query.all_expr(), plain_expr(&query, " AND ")),
                Mode::Any => (query.any_expr(), plain_expr(&query, " OR ")),
            };
            let expr = expr.expect("a searchable query");
            let docs: Vec<String> = query
                .terms
                .iter()
                .map(|t| format!("{}={}", t.stem, archive.doc_count(&t.stem).expect("doc count")))
                .collect();
            eprintln!(
                "search/{n} {label} {input:?}: {:?} total={}{} hits={} suggestion={:?}; docs {}; expr {expr}",
                page.mode,
                page.total,
                if page.total_capped { "+" } else { "" },
                page.hits.len(),
                page.suggestion,
                docs.join(" "),
            );
            group.bench_function(BenchmarkId::new("ours", label), |b| {
                b.iter(|| searcher.search(&archive, black_box(input), 0, 10).expect("search"))
            });
            if COMPLETE.iter().any(|&(l, _)| l == label) {
                continue; // the bare queries are those of the same words above
            }
            // The bare query on the words' stems, ranking every match.
            group
                .bench_function(BenchmarkId::new("raw_fts5", label), |b| b.iter(|| raw_top10(conn, black_box(&plain))));
            // The bare query on the parsed expression, the last word as an FTS5 prefix (the
            // search itself keeps a prefix only for a half-typed word, see `Archive::search`).
            group.bench_function(BenchmarkId::new("raw_fts5_same_expr", label), |b| {
                b.iter(|| raw_top10(conn, black_box(&expr)))
            });
        }

        // The query language: only ours, the bare FTS5 query has no such thing to compare with.
        for &(label, input) in common::OPERATORS {
            let page = searcher.search(&archive, input, 0, 10).expect("search");
            eprintln!(
                "search/{n} {label} {input:?}: {:?} total={}{} hits={} understood={:?} corrected={:?} problems={:?}",
                page.mode,
                page.total,
                if page.total_capped { "+" } else { "" },
                page.hits.len(),
                page.understood,
                page.corrected,
                page.problems,
            );
            group.bench_function(BenchmarkId::new("ours", label), |b| {
                b.iter(|| searcher.search(&archive, black_box(input), 0, 10).expect("search"))
            });
        }
        for &id in common::SIMILAR {
            let (_, page) = searcher.similar(&archive, id, 0, 10).expect("similar").expect("the post exists");
            eprintln!("search/{n} similar/{id}: total={} hits={}", page.total, page.hits.len());
            group.bench_function(BenchmarkId::new("ours", format!("similar_{id}")), |b| {
                b.iter(|| searcher.similar(&archive, black_box(id), 0, 10).expect("similar"))
            });
        }

        group.finish();
    }
}

/// How many posts one import measures.
const IMPORT_POSTS: usize = 10_000;

/// A fresh on-disk connection with the store's pragmas and a bare index table.
fn bare_fts5(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join("bare.db")).expect("open");
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).expect("wal");
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         CREATE VIRTUAL TABLE t USING fts5(title, body, content = '', contentless_delete = 1,
                                           tokenize = \"ascii\");",
    )
    .expect("create");
    conn
}

/// Inserts (title, body) pairs in one transaction.
fn insert_bare<T: AsRef<str>, U: AsRef<str>>(conn: &mut Connection, rows: impl Iterator<Item = (T, U)>) {
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx.prepare("INSERT INTO t(rowid, title, body) VALUES (?1, ?2, ?3)").expect("prepare");
        for (i, (title, body)) in rows.enumerate() {
            insert.execute(params![i as i64 + 1, title.as_ref(), body.as_ref()]).expect("insert");
        }
    }
    tx.commit().expect("commit");
}

/// Posts and their index rows straight into the store's tables, as the import does
/// minus stemming, topics and vocabulary; with `INSERT ... RETURNING id` or `last_insert_rowid()`.
fn insert_schema(conn: &mut Connection, posts: &[NewPost], stemmed: &[(String, String)], returning: bool) {
    let tx = conn.transaction().expect("begin");
    let channel: i64 = tx
        .query_row("INSERT INTO channels(source_key, title) VALUES ('tg:-1001', 'Bench') RETURNING id", [], |r| {
            r.get(0)
        })
        .expect("channel");
    {
        const INSERT: &str =
            "INSERT INTO posts(channel_id, message_id, seq, date, edited, title, body, entities, links)
                              VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '[]', '[]')";
        let mut with_returning = tx.prepare(&format!("{INSERT} RETURNING id")).expect("prepare");
        let mut plain = tx.prepare(INSERT).expect("prepare");
        let mut fts = tx.prepare("INSERT INTO posts_fts(rowid, title, body) VALUES (?1, ?2, ?3)").expect("prepare");
        for (p, (title, body)) in posts.iter().zip(stemmed) {
            let row = params![channel, p.message_id, p.seq, p.date, p.edited, title_of(&p.text), p.text];
            let id: i64 = if returning {
                with_returning.query_row(row, |r| r.get(0)).expect("insert")
            } else {
                plain.execute(row).expect("insert");
                tx.last_insert_rowid()
            };
            fts.execute(params![id, title, body]).expect("index");
        }
    }
    tx.commit().expect("commit");
}

/// Times `routine` on a fresh temporary directory per iteration: neither the setup
/// nor closing the connection (the WAL checkpoint) is timed, only up to the commit.
fn time_fresh<S>(iters: u64, mut setup: impl FnMut(&Path) -> S, mut routine: impl FnMut(&mut S)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut state = setup(dir.path());
        let start = Instant::now();
        routine(&mut state);
        total += start.elapsed();
        drop(state);
    }
    total
}

fn import_benches(c: &mut Criterion) {
    let posts: Vec<NewPost> = common::Corpus::new(7).posts(IMPORT_POSTS);
    let stemmed: Vec<(String, String)> = posts.iter().map(|p| common::stemmed_fields(&p.text)).collect();
    let plain: Vec<(String, String)> = posts.iter().map(|p| (title_of(&p.text), p.text.clone())).collect();
    let words = posts.iter().map(|p| text::words(&p.text).len()).sum::<usize>() as f64 / posts.len() as f64;
    let bytes = posts.iter().map(|p| p.text.len()).sum::<usize>() as f64 / posts.len() as f64;
    eprintln!("import: {IMPORT_POSTS} posts of {words:.0} words / {bytes:.0} bytes on average");

    let mut group = c.benchmark_group("import");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(10));
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(IMPORT_POSTS as u64));

    group.bench_function("ours/archive_import", |b| {
        b.iter_custom(|iters| {
            time_fresh(
                iters,
                |dir| (Archive::open(&dir.join("store.db")).expect("open"), posts.clone()),
                |(archive, batch)| {
                    archive
                        .import(|sink| -> Result<(), StoreError> {
                            sink.channel(&common::channel())?;
                            for p in std::mem::take(batch) {
                                sink.post(p)?;
                            }
                            Ok(())
                        })
                        .expect("import");
                },
            )
        })
    });
    group.bench_function("raw_fts5/stemmed_insert", |b| {
        b.iter_custom(|iters| {
            time_fresh(iters, bare_fts5, |conn| insert_bare(conn, stemmed.iter().map(|(t, b)| (t, b))))
        })
    });
    group.bench_function("raw_fts5/stem_then_insert", |b| {
        b.iter_custom(|iters| {
            time_fresh(iters, bare_fts5, |conn| {
                insert_bare(conn, posts.iter().map(|p| common::stemmed_fields(&p.text)))
            })
        })
    });
    group.bench_function("raw_fts5/unstemmed_insert", |b| {
        b.iter_custom(|iters| time_fresh(iters, bare_fts5, |conn| insert_bare(conn, plain.iter().map(|(t, b)| (t, b)))))
    });
    // The store's own tables, pre-stemmed text: a posts row then its index row, per post.
    // `RETURNING` gives the posts insert a statement journal, and FTS5 flushes its pending
    // terms to a new segment at every statement savepoint: one segment per post, then merges.
    for (name, returning) in [("schema/posts_returning_then_fts", true), ("schema/posts_plain_then_fts", false)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                time_fresh(
                    iters,
                    |dir| {
                        // The store's schema, made by the store; the rows go in through a bare connection.
                        drop(Archive::open(&dir.join("store.db")).expect("open"));
                        Connection::open(dir.join("store.db")).expect("open")
                    },
                    |conn| insert_schema(conn, &posts, &stemmed, returning),
                )
            })
        });
    }
    group.bench_function("stem_only", |b| {
        b.iter(|| posts.iter().map(|p| common::stemmed_fields(black_box(&p.text)).1.len()).sum::<usize>())
    });
    // The same with a folded word -> stem cache (an upper bound: the corpus has ~1.8k distinct words).
    group.bench_function("stem_only_cached", |b| {
        b.iter(|| {
            let mut cache: HashMap<String, String> = HashMap::new();
            let mut stem = |text: &str| {
                let mut out = String::with_capacity(text.len());
                for range in text::word_ranges(text) {
                    let folded = text::fold(&text[range]);
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    match cache.get(&folded) {
                        Some(s) => out.push_str(s),
                        None => {
                            let s = text::stem_folded(&folded).into_owned();
                            out.push_str(&s);
                            cache.insert(folded, s);
                        }
                    }
                }
                out
            };
            posts.iter().map(|p| stem(&title_of(&p.text)).len() + stem(black_box(&p.text)).len()).sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, search_benches, import_benches);
criterion_main!(benches);
