//! The `postkeeper` binary: archive commands, JSON output, exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).display().to_string()
}

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postkeeper"))
        .current_dir(db.parent().expect("the db is in a folder"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("POSTKEEPER_DB")
        .env_remove("TELOXIDE_TOKEN")
        .env_remove("POSTKEEPER_REPLAY_CHAT")
        .env_remove("POSTKEEPER_TIMEZONE")
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

#[test]
fn a_fresh_store_is_seeded_and_answers_in_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let posts = json(&run(&db, &["posts", "--json"]));
    let posts = posts.as_array().expect("array");
    assert_eq!(posts.len(), 20);
    let first = &posts[0];
    assert!(first["id"].is_i64());
    assert_eq!(first["title"], "👆🏻Повторение – мать ученья, даже для DL");
    assert!(first["date"].is_null() && first["url"].is_null());
    assert!(first["topics"].as_array().is_some_and(|t| !t.is_empty()));

    let hits = json(&run(&db, &["search", "торговая", "стратегия", "--json"]));
    let hit = &hits[0];
    assert!(hit["title"].as_str().is_some_and(|t| t.starts_with("💸")));
    assert!(hit["score"].as_f64().is_some_and(|s| s > 0.0));
    assert!(hit["snippet"].as_str().is_some_and(|s| s.contains("<b>торговых</b>")));

    let id = hit["id"].as_i64().expect("id");
    let shown = json(&run(&db, &["show", &id.to_string(), "--json"]));
    assert!(shown[0]["text"].as_str().is_some_and(|t| t.contains("FinRL")));

    let topics = json(&run(&db, &["topics", "--json"]));
    assert!(topics.as_array().is_some_and(|t| t.len() >= 8));
    let rl = json(&run(&db, &["posts", "--topic", "Reinforcement learning", "--json"]));
    assert_eq!(rl.as_array().map(Vec::len), topics[0]["posts"].as_u64().map(|n| n as usize));

    let stats = stdout(&run(&db, &["stats"]));
    assert!(stats.contains("posts:    20"), "{stats}");
    let missing = run(&db, &["show", "9999"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no post #9999"));
}

#[test]
fn import_into_a_new_store_holds_only_the_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let out = run(&db, &["import", &fixture("export_single/result.json")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let media = "media: 0 copied / 0 already present / 0 kept / 2 missing";
    assert_eq!(stdout(&out).trim(), format!("6 new / 0 updated / 0 unchanged / 2 skipped (1 channel); {media}"));
    let posts = json(&run(&db, &["posts", "--json"]));
    assert_eq!(posts.as_array().map(Vec::len), Some(6));
    let again = run(&db, &["import", &fixture("export_single/result.json")]);
    assert_eq!(stdout(&again).trim(), format!("0 new / 0 updated / 6 unchanged / 2 skipped (1 channel); {media}"));
}

#[test]
fn a_broken_import_exits_non_zero_names_the_file_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    // Into a store that does not exist: no store is left behind.
    let out = run(&db, &["import", &fixture("broken/truncated.json")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated.json") && err.contains("line 126"), "{err}");
    assert!(!db.exists(), "a failed first import leaves no store");

    // Into a store with posts: the store is unchanged.
    assert!(run(&db, &["import", &fixture("export_full/result.json")]).status.success());
    let before = stdout(&run(&db, &["posts", "--json"]));
    let out = run(&db, &["import", &fixture("export_single/result.json"), &fixture("junk_dir")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk_dir"));
    assert_eq!(stdout(&run(&db, &["posts", "--json"])), before);
}

#[test]
fn replay_commands_for_operators() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let with_chat = |args: &[&str]| {
        let mut all = vec!["--replay-chat", "@replay_chan", "--timezone", "Europe/Moscow"];
        all.extend_from_slice(args);
        run(&db, &all)
    };
    let out = with_chat(&["schedule", "next", "daily", "10:00"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("Job #1") && stdout(&out).contains("daily at 10:00"), "{}", stdout(&out));
    let out = with_chat(&["schedule", "3", "\"0 10 * * 1-5\""]);
    assert!(stdout(&out).contains("Job #2"), "{}", stdout(&out));
    let bad = with_chat(&["schedule", "3", "someday"]);
    assert!(!bad.status.success() && stderr(&bad).contains("Usage"));
    let queue = stdout(&with_chat(&["queue"]));
    assert!(queue.contains("#1") && queue.contains("#2") && queue.contains("MSK"), "{queue}");
    assert!(with_chat(&["cancel", "1"]).status.success());
    assert!(!with_chat(&["cancel", "1"]).status.success(), "already cancelled");
    let queue = stdout(&with_chat(&["queue"]));
    assert!(!queue.contains("#1 ·") && queue.contains("#2"), "{queue}");
    // Without a replay chat the queue is still listed, with a note that nothing goes out.
    let no_chat = run(&db, &["queue"]);
    assert!(no_chat.status.success(), "{}", stderr(&no_chat));
    assert!(stdout(&no_chat).contains("#2"), "{}", stdout(&no_chat));
    assert!(stderr(&no_chat).contains("POSTKEEPER_REPLAY_CHAT") && stderr(&no_chat).contains("nothing is sent"));
    let no_chat = run(&db, &["schedule", "3", "in", "1h"]);
    assert!(!no_chat.status.success() && stderr(&no_chat).contains("POSTKEEPER_REPLAY_CHAT"));
}

const SCHEDULE_USAGE: &str = "Usage: postkeeper schedule WHAT WHEN
WHAT: a post id, random, next or best
WHEN: in 30s · in 10m · in 2h · in 1d · 14:30 · 2026-12-01 10:00 · daily 10:00 · every 6h · '\"0 10 * * 1-5\"'
E.g. postkeeper schedule next daily 10:00
";

#[test]
fn a_refused_replay_command_says_why_in_cli_words_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let with_chat = |args: &[&str]| {
        let mut all = vec!["--replay-chat", "@replay_chan", "--timezone", "Europe/Moscow"];
        all.extend_from_slice(args);
        run(&db, &all)
    };
    // The refusal is the whole error: no line of ours after it, nothing on stdout.
    let refused = |args: &[&str], message: &str| {
        let out = with_chat(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
        assert_eq!(stderr(&out), format!("error: {message}"), "{args:?}");
    };
    let schedule = [
        (&["3", "every", "3s"][..], "The interval must be at least a minute (a channel takes 20 posts a minute)."),
        (&["3", "daily", "25:00"], "25:00 is not a time of day (00:00 to 23:59)."),
        (&["3", "2020-01-01", "10:00"], "That time has passed: 1 January 2020, 10:00 MSK."),
        (&["999999", "in", "2s"], "There is no post #999999 in the archive."),
        (&["abc", "in", "2s"], "I can't tell what “abc” is: WHAT is a post id, random, next or best."),
        (&["3", "in soon"], "I can't read “in soon” as a time."),
        (&["3", "0 10 * * 1-5"], "A cron expression goes in quotes: '\"0 10 * * 1-5\"'"),
    ];
    for (args, reason) in schedule {
        let mut all = vec!["schedule"];
        all.extend_from_slice(args);
        refused(&all, &format!("{reason}\n\n{SCHEDULE_USAGE}"));
    }
    refused(&["cancel", "999"], "No active job #999 (see postkeeper queue).\n");
    refused(&["cancel", "abc"], "Give a job number: postkeeper cancel 3 (see postkeeper queue)\n");
    let queue = with_chat(&["queue"]);
    assert_eq!((queue.status.code(), stdout(&queue)), (Some(0), "The queue is empty.\n".into()), "nothing scheduled");
    // The quoting the hint shows is the one that works.
    let out = with_chat(&["schedule", "3", "\"0 10 * * 1-5\""]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Job #1") && stdout(&out).contains("cron 0 10 * * 1-5"), "{}", stdout(&out));
}

#[test]
fn retag_reads_the_edited_taxonomy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    assert!(run(&db, &["stats"]).status.success());
    std::fs::create_dir_all(dir.path().join("seeds")).expect("mkdir");
    let toml = "[[topic]]\nslug = \"space\"\nru = \"Космос\"\nen = \"Space\"\nmarkers = [\"экзопланета\"]\n";
    std::fs::write(dir.path().join("seeds/topics.toml"), toml).expect("write");
    let out = run(&db, &["topics", "--retag", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let topics = json(&out);
    assert_eq!(topics.as_array().map(Vec::len), Some(1));
    assert_eq!(topics[0]["posts"], 1);
    // A broken file is refused and changes nothing.
    std::fs::write(dir.path().join("bad.toml"), "[[topic]]\nslug = 'Bad Slug'").expect("write");
    let bad = run(&db, &["topics", "--retag", "--file", dir.path().join("bad.toml").to_str().expect("utf8")]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("bad.toml"));
    assert_eq!(json(&run(&db, &["topics", "--json"]))[0]["slug"], "space");
}

#[test]
fn a_store_that_cannot_be_opened_is_one_line_naming_the_file_and_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nonexistent/dir/x.db");
    let out = Command::new(env!("CARGO_BIN_EXE_postkeeper"))
        .current_dir(dir.path())
        .args(["--db", missing.to_str().expect("utf8"), "stats"])
        .env_remove("POSTKEEPER_DB")
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(1));
    let folder = dir.path().join("nonexistent/dir");
    assert_eq!(
        stderr(&out),
        format!("error: cannot open the store {}: the folder {} does not exist\n", missing.display(), folder.display())
    );
    assert!(!folder.exists(), "nothing was created");

    let text = dir.path().join("x.db");
    std::fs::write(&text, "these are notes, not a database\n".repeat(200)).expect("write");
    for command in [&["stats"][..], &["search", "робот"], &["import", &fixture("export_single/result.json")]] {
        let out = run(&text, command);
        assert_eq!(out.status.code(), Some(1), "{command:?}");
        assert_eq!(
            stderr(&out),
            format!("error: {} is not a postkeeper store (not an SQLite file)\n", text.display()),
            "{command:?}"
        );
    }
    assert_eq!(std::fs::read_to_string(&text).map(|t| t.len()).ok(), Some(32 * 200), "the file is untouched");
}

#[test]
fn search_output_counts_exactly_scores_only_when_ranked_and_needs_no_dummy_word() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    // Each count against the number of posts the query lists with a limit high enough.
    for query in [&["обучение", "с", "подкреплением"][..], &["робот"], &["reinforcement", "learning"], &["нейросеть"]]
    {
        let all = json(&run(&db, &[&["search", "--json", "--limit", "100", "--"][..], query].concat()));
        let n = all.as_array().map_or(0, Vec::len);
        assert!(n > 1, "{query:?}");
        let one = stdout(&run(&db, &[&["search", "--limit", "1", "--"][..], query].concat()));
        assert!(one.contains(&format!("\n{n} found\n")), "{query:?}: {n} posts, yet:\n{one}");
    }
    let ranked = stdout(&run(&db, &["search", "робот"]));
    assert!(ranked.contains("  score "), "{ranked}");
    let newest = stdout(&run(&db, &["search", "--sort", "new", "робот"]));
    assert!(newest.contains(" found") && !newest.contains("score"), "{newest}");
    let newest = json(&run(&db, &["search", "--sort", "new", "--json", "робот"]));
    assert!(newest[0]["score"].is_null(), "{newest}");

    let similar = run(&db, &["search", "--similar", "3"]);
    assert!(similar.status.success(), "{}", stderr(&similar));
    assert!(stdout(&similar).starts_with("like #3 ") && stdout(&similar).contains(" found"), "{}", stdout(&similar));
}

#[test]
fn an_empty_glossary_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let before = json(&run(&db, &["search", "--json", "--limit", "100", "reinforcement", "learning"]));
    assert!(before.as_array().is_some_and(|a| a.len() > 1), "the bundled glossary finds the Russian posts");
    for (name, text) in [("empty.toml", ""), ("comments.toml", "# my glossary\n"), ("none.toml", "set = []\n")] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).expect("write");
        let out = run(&db, &["search", "--glossary", file.to_str().expect("utf8")]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(stderr(&out).contains(name) && stderr(&out).contains("no sets"), "{name}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{name}");
    }
    let after = json(&run(&db, &["search", "--json", "--limit", "100", "reinforcement", "learning"]));
    assert_eq!(after, before);
    // Nor is a store created by a refused glossary.
    let fresh = dir.path().join("fresh.db");
    let file = dir.path().join("empty.toml");
    assert!(!run(&fresh, &["search", "--glossary", file.to_str().expect("utf8")]).status.success());
    assert!(!fresh.exists());
}
