//! Chinese and Japanese words inside runs of letters without spaces, through the built
//! binary: `postkeeper import` of the CJK fixtures, then `postkeeper search --json`
//! compared with a plain `contains` over the fixtures' texts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn binary(db: &Path, args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_postkeeper"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("POSTKEEPER_DB")
        .env_remove("TELOXIDE_TOKEN")
        .env("POSTKEEPER_TIMEZONE", "Europe/Moscow")
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// (channel, message id, text) of every message of a fixture.
fn messages(name: &str) -> Vec<(String, i64, String)> {
    let json = std::fs::read_to_string(fixture(name).join("result.json")).expect("fixture");
    let export: serde_json::Value = serde_json::from_str(&json).expect("fixture JSON");
    let channel = export["name"].as_str().expect("name").to_string();
    export["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| (channel.clone(), m["id"].as_i64().expect("id"), m["text"].as_str().expect("text").to_string()))
        .collect()
}

/// A fresh store with both CJK fixtures imported.
fn store(dir: &Path) -> PathBuf {
    let db = dir.join("cjk.db");
    let zh = fixture("export_cjk_zh");
    let ja = fixture("export_cjk_ja");
    let (out, err, ok) = binary(&db, &["import", zh.to_str().expect("utf8"), ja.to_str().expect("utf8")]);
    assert!(ok, "{out}\n{err}");
    db
}

/// The hits of a query: (channel, message id) and the snippet of each.
fn search(db: &Path, query: &str) -> Vec<((String, i64), String)> {
    let (out, err, ok) = binary(db, &["search", "--json", "--limit", "1000", "--", query]);
    assert!(ok, "{query}: {err}");
    let hits: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{query}: {e}: {out}"));
    hits.as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            let key = (h["channel"].as_str().unwrap_or("").to_string(), h["message_id"].as_i64().unwrap_or(-1));
            (key, h["snippet"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

fn expected(all: &[(String, i64, String)], wanted: impl Fn(&str) -> bool) -> BTreeSet<(String, i64)> {
    all.iter().filter(|(_, _, t)| wanted(t)).map(|(c, id, _)| (c.clone(), *id)).collect()
}

#[test]
fn a_word_inside_a_run_finds_exactly_the_posts_that_contain_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = store(dir.path());
    let all: Vec<_> = messages("export_cjk_zh").into_iter().chain(messages("export_cjk_ja")).collect();
    // Chinese (a word mid-run, a word at a run's start and end, one character), Japanese
    // (kanji, katakana with ー, hiragana and kanji across a word boundary).
    for query in ["高等数学", "开源", "机器学习", "学", "源", "数学", "ラーメン", "機械学習", "を食べ", "東京", "学習"]
    {
        let want = expected(&all, |t| t.contains(query));
        assert!(!want.is_empty(), "{query}: the fixture has it");
        let hits = search(&db, query);
        let found: BTreeSet<(String, i64)> = hits.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(found, want, "{query}");
        assert_eq!(found.len(), hits.len(), "{query}: each post once");
        for (key, snippet) in &hits {
            // A title-only post's snippet is its text; all others show the word marked.
            assert!(snippet.contains(&format!("<b>{query}</b>")), "{query} {key:?}: {snippet}");
        }
    }
}

#[test]
fn words_of_other_scripts_beside_a_run_still_behave() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = store(dir.path());
    let all: Vec<_> = messages("export_cjk_zh").into_iter().chain(messages("export_cjk_ja")).collect();
    let ours = |hits: Vec<((String, i64), String)>| -> BTreeSet<(String, i64)> {
        hits.into_iter().map(|(k, _)| k).filter(|(c, _)| c.starts_with("CJK ")).collect()
    };
    // A Russian word, stemmed as ever, in a store of mostly Chinese and Japanese posts.
    let want = expected(&all, |t| t.to_lowercase().contains("обучени"));
    assert_eq!(want.len(), 3);
    assert_eq!(ours(search(&db, "обучения")), want);
    // `GPT模型`: split where the script changes, both parts required.
    let want = expected(&all, |t| t.contains("GPT模型"));
    assert_eq!(want.len(), 2);
    assert_eq!(ours(search(&db, "GPT模型")), want);
    // A phrase across the boundary, and a CJK word excluded.
    let (_, ja_hits) = (0, ours(search(&db, "\"強化学習 по-японски\"")));
    assert_eq!(ja_hits, expected(&all, |t| t.contains("強化学習 по-японски")));
    let want = expected(&all, |t| t.contains("开源") && !t.contains("开源项目"));
    assert_eq!(ours(search(&db, "开源 -开源项目")), want);
    // A CJK word is never "corrected" into something else.
    let (out, _, ok) = binary(&db, &["search", "高等物理"]);
    assert!(ok && out.contains("nothing found") && !out.contains("showing results"), "{out}");
}
