//! The demo archive stays a demo, and an admin's channels can be listed and removed,
//! through the built binary as an admin uses it.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).display().to_string()
}

fn run(db: &Path, args: &[&str]) -> Output {
    run_with(db, args, "")
}

fn run_with(db: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_postkeeper"))
        .current_dir(db.parent().expect("the db is in a folder"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("POSTKEEPER_DB")
        .env_remove("POSTKEEPER_MEDIA_DIR")
        .env_remove("TELOXIDE_TOKEN")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("writes stdin");
    }
    child.wait_with_output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "failed: {}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// (title, posts, origin) of each channel, as `channels --json` lists them.
fn channels(db: &Path) -> Vec<(String, i64, String)> {
    json(&run(db, &["channels", "--json"]))
        .as_array()
        .expect("array")
        .iter()
        .map(|c| {
            let title = c["title"].as_str().unwrap_or_default().to_string();
            (title, c["posts"].as_i64().unwrap_or(-1), c["origin"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn the_demo_gives_way_to_the_admins_own_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("postkeeper.db");
    // A newcomer's first steps: the console on the demo…
    let console = run_with(&db, &["console"], "/random\n");
    assert!(console.status.success(), "{}", text(&console));
    assert_eq!(channels(&db), [("Deep Dive 2 Deep Learning".to_string(), 20, "demo".to_string())]);
    // …then their own channel: it takes the demo's place, and the summary says so.
    let import = run(&db, &["import", &fixture("export_single")]);
    assert!(import.status.success(), "{}", text(&import));
    assert!(
        text(&import).contains("the demo archive «Deep Dive 2 Deep Learning» (20 posts) was removed"),
        "{}",
        text(&import)
    );
    assert_eq!(channels(&db), [("Test ML Channel".to_string(), 6, "telegram".to_string())]);
    let stats = json(&run(&db, &["stats", "--json"]));
    assert_eq!((stats["posts"].as_i64(), stats["channels"].as_i64()), (Some(6), Some(1)), "{stats}");
    // The demo's words are gone from search and from the suggestions.
    let demo_word = json(&run(&db, &["search", "MuJoCo", "--json"]));
    assert_eq!(demo_word.as_array().map(Vec::len), Some(0), "{demo_word}");
    let found = json(&run(&db, &["search", "торговых", "стратегий", "--json"]));
    assert_eq!(found[0]["channel"], "Test ML Channel");
    // A second channel of one's own is simply added.
    let second = run(&db, &["import", &fixture("export_full")]);
    assert!(!text(&second).contains("demo"), "{}", text(&second));
    assert_eq!(channels(&db).len(), 3);
    // doctor's store line names the channels (checked without a token: the store check).
    // A store that never saw the demo (the first command was import) has none to remove.
    let fresh = dir.path().join("fresh.db");
    assert!(run(&fresh, &["import", &fixture("export_single")]).status.success());
    assert_eq!(channels(&fresh), [("Test ML Channel".to_string(), 6, "telegram".to_string())]);
}

#[test]
fn a_channel_is_removed_with_its_posts_media_and_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    assert!(run(&db, &["import", &fixture("export_media"), &fixture("export_single")]).status.success());
    let listed = json(&run(&db, &["channels", "--json"]));
    let id_of = |title: &str| -> i64 {
        listed
            .as_array()
            .expect("array")
            .iter()
            .find(|c| c["title"] == title)
            .and_then(|c| c["id"].as_i64())
            .expect("listed")
    };
    let media_channel = id_of("Media Test Channel").to_string();
    let media_dir = dir.path().join("media");
    let files_before = std::fs::read_dir(&media_dir).expect("media folder").count();
    assert!(files_before > 0);
    // A replay of one of its posts is scheduled.
    let posts = json(&run(&db, &["posts", "--json"]));
    let media_post = posts
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["channel"] == "Media Test Channel")
        .and_then(|p| p["id"].as_i64())
        .expect("a post");
    let scheduled = Command::new(env!("CARGO_BIN_EXE_postkeeper"))
        .current_dir(dir.path())
        .args([
            "--db",
            &db.display().to_string(),
            "--replay-chat",
            "@replay_chan",
            "schedule",
            &media_post.to_string(),
            "in",
            "1d",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs");
    assert!(scheduled.status.success(), "{}", text(&scheduled));

    // Not at a terminal, without --yes: refused, nothing changed.
    let refused = run(&db, &["channels", "remove", &media_channel]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("--yes"), "{}", text(&refused));
    assert_eq!(channels(&db).len(), 2);

    // An id that is no channel.
    for bad in ["999", "-1", "x", "99999999999999999999"] {
        let out = run(&db, &["channels", "remove", bad, "--yes"]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out));
        assert!(text(&out).contains(&format!("no channel #{bad}")), "{bad}: {}", text(&out));
    }

    let removed = run(&db, &["channels", "remove", &media_channel, "--yes"]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(
        text(&removed).contains("removed «Media Test Channel»") && text(&removed).contains("1 replay job cancelled"),
        "{}",
        text(&removed)
    );
    assert_eq!(channels(&db), [("Test ML Channel".to_string(), 6, "telegram".to_string())]);
    assert_eq!(std::fs::read_dir(&media_dir).expect("media folder").count(), 0, "its files are deleted");
    let hits = json(&run(&db, &["search", "телескопа", "--json"]));
    assert_eq!(hits.as_array().map(Vec::len), Some(0), "{hits}");
    // The store is whole: SQLite's own checks; the replay is cancelled.
    let conn = rusqlite::Connection::open(&db).expect("opens");
    let jobs: Vec<(String, String)> = conn
        .prepare("SELECT target, state FROM replay_jobs")
        .expect("prepares")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("reads")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(jobs, [(media_post.to_string(), "cancelled".to_string())]);
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("checks");
    assert_eq!(check, "ok");
    let orphans: i64 =
        conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).expect("checks");
    assert_eq!(orphans, 0, "no row points at a removed post");
}

/// `postkeeper backup` while another process writes: the copy is whole, opens as a store,
/// and holds every post committed before the backup began; an existing file is kept.
#[test]
fn a_backup_is_consistent_while_the_store_is_written() {
    use postkeeper::model::{NewChannel, NewPost};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let post = |seq: i64| NewPost {
        message_id: Some(seq),
        seq,
        date: Some(1_700_000_000 + seq),
        text: format!("Пост {seq}: обучение с подкреплением, роботы и нейросети, номер {seq}. ").repeat(8),
        ..NewPost::default()
    };
    let channel = NewChannel::telegram(-1_001_999_000_001, "Big");
    {
        let mut archive = postkeeper::store::Archive::open(&db).expect("store");
        archive
            .import(|sink| -> Result<(), postkeeper::store::StoreError> {
                sink.channel(&channel)?;
                for seq in 1..=3000 {
                    sink.post(post(seq))?;
                }
                Ok(())
            })
            .expect("imports");
    }
    // A writer adding a post at a time, as the live archive does, all through the backup.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop, channel) = (db.clone(), stop.clone(), channel.clone());
        std::thread::spawn(move || {
            let mut archive = postkeeper::store::Archive::open(&db).expect("store");
            let mut seq = 3001;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                archive
                    .import(|sink| -> Result<(), postkeeper::store::StoreError> {
                        sink.channel(&channel)?;
                        sink.post(post(seq))?;
                        Ok(())
                    })
                    .expect("a live post");
                seq += 1;
            }
            seq - 1
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let before: i64 = rusqlite::Connection::open(&db)
        .expect("opens")
        .query_row("SELECT max(seq) FROM posts", [], |r| r.get(0))
        .expect("reads");
    let copy = dir.path().join("copy.db");
    let out = run(&db, &["backup", &copy.display().to_string(), "--json"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let last = writer.join().expect("the writer ends");
    let report = json(&out);
    assert!(last > before, "the writer went on during the backup ({before} → {last})");
    let conn = rusqlite::Connection::open(&copy).expect("the copy opens");
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("checks");
    assert_eq!(check, "ok");
    let (count, max): (i64, i64) =
        conn.query_row("SELECT count(*), max(seq) FROM posts", [], |r| Ok((r.get(0)?, r.get(1)?))).expect("reads");
    assert!(max >= before, "every post committed before the backup began is in it ({max} < {before})");
    assert_eq!(count, max, "no post missing in between");
    assert_eq!(report["posts"].as_i64(), Some(count), "{report}");
    let stats = json(&run(&copy, &["stats", "--json"]));
    assert_eq!(stats["posts"].as_i64(), Some(count));
    let found = json(&run(&copy, &["search", "подкреплением", "--json"]));
    assert!(found.as_array().is_some_and(|h| !h.is_empty()), "the copy's index works");
    // No temporary file left; an existing backup is not replaced without --force.
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .expect("lists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let size = std::fs::metadata(&copy).expect("exists").len();
    let again = run(&db, &["backup", &copy.display().to_string()]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("--force"), "{}", text(&again));
    assert_eq!(std::fs::metadata(&copy).expect("exists").len(), size);
    assert!(run(&db, &["backup", &copy.display().to_string(), "--force"]).status.success());
}
