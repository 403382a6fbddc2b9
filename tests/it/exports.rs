//! What real exports carry besides text and media, through the built binary: polls,
//! places, contacts, reactions, old exports' local dates, and closed pipes.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).display().to_string()
}

fn postkeeper(db: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postkeeper"));
    command
        .current_dir(db.parent().expect("the db is in a folder"))
        .arg("--db")
        .arg(db)
        .env_remove("POSTKEEPER_DB")
        .env_remove("TELOXIDE_TOKEN")
        .env_remove("POSTKEEPER_REPLAY_CHAT")
        .env_remove("POSTKEEPER_TIMEZONE")
        .env("RUST_LOG", "warn");
    command
}

fn run(db: &Path, args: &[&str]) -> Output {
    postkeeper(db).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "failed: {}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// The stored posts by message id, as `posts --json` lists them.
fn by_message(db: &Path) -> std::collections::BTreeMap<i64, Value> {
    let posts = json(&run(db, &["posts", "--json"]));
    posts.as_array().expect("array").iter().filter_map(|p| Some((p["message_id"].as_i64()?, p.clone()))).collect()
}

fn show(db: &Path, id: i64) -> Value {
    json(&run(db, &["show", &id.to_string(), "--json"]))[0].clone()
}

#[test]
fn polls_places_contacts_and_reactions_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let summary = json(&run(&db, &["import", &fixture("export_kinds"), "--json"]));
    assert_eq!((summary["new"].as_i64(), summary["skipped"].as_i64()), (Some(4), Some(1)), "{summary}");
    let posts = by_message(&db);
    assert_eq!(posts.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(posts[&1]["reactions"].as_i64(), Some(16), "12 + 3 + 1");
    assert_eq!(posts[&2]["reactions"].as_i64(), Some(2));
    assert_eq!(posts[&3]["reactions"].as_i64(), Some(0));

    let first = show(&db, posts[&1]["id"].as_i64().expect("id"));
    assert_eq!(
        first["reactions"],
        serde_json::json!([{"emoji": "👍", "count": 12}, {"custom_emoji_id": "5368324170671202286", "count": 3}, {"paid": true, "count": 1}])
    );
    assert!(first.get("poll").is_none(), "{first}");

    let poll = show(&db, posts[&2]["id"].as_i64().expect("id"));
    assert_eq!(
        poll["poll"],
        serde_json::json!({
            "question": "Какой фреймворк вы используете?",
            "options": [{"text": "PyTorch", "voters": 70}, {"text": "JAX", "voters": 25}, {"text": "TensorFlow", "voters": 14}],
            "total_voters": 109,
            "closed": true
        })
    );
    let body = poll["text"].as_str().expect("text");
    assert!(body.starts_with("📊 Какой фреймворк вы используете?"), "{body}");
    assert!(body.contains("— PyTorch: 70 (64%)") && body.contains("— TensorFlow: 14 (12%)"), "{body}");
    assert_eq!(posts[&2]["title"], "📊 Какой фреймворк вы используете?");

    // The question and the options are searchable.
    for query in ["фреймворк", "JAX"] {
        let hits = json(&run(&db, &["search", query, "--json"]));
        let found: Vec<i64> = hits.as_array().expect("array").iter().filter_map(|h| h["message_id"].as_i64()).collect();
        assert_eq!(found, [2], "{query}");
    }

    let venue = show(&db, posts[&3]["id"].as_i64().expect("id"));
    assert_eq!(venue["location"]["title"], "Красная площадь");
    assert_eq!(venue["location"]["latitude"].as_f64(), Some(55.751244));
    assert!(venue["text"].as_str().is_some_and(|t| t.contains("openstreetmap.org/?mlat=55.751244")), "{venue}");
    let contact = show(&db, posts[&4]["id"].as_i64().expect("id"));
    assert_eq!(contact["contact"], serde_json::json!({"name": "Анна Смирнова", "phone_number": "+79990001122"}));
    assert!(json(&run(&db, &["search", "Смирнова", "--json"])).as_array().is_some_and(|h| h.len() == 1));

    // A re-import of an export that has no reactions (an older Telegram Desktop) keeps them.
    let raw = std::fs::read_to_string(Path::new(&fixture("export_kinds")).join("result.json")).expect("fixture");
    let mut value: Value = serde_json::from_str(&raw).expect("JSON");
    for m in value["messages"].as_array_mut().expect("messages") {
        m.as_object_mut().expect("object").remove("reactions");
    }
    let older = dir.path().join("older");
    std::fs::create_dir_all(&older).expect("mkdir");
    std::fs::write(older.join("result.json"), value.to_string()).expect("write");
    let again = json(&run(&db, &["import", &older.display().to_string(), "--json"]));
    assert_eq!((again["new"].as_i64(), again["unchanged"].as_i64()), (Some(0), Some(4)), "{again}");
    assert_eq!(by_message(&db)[&1]["reactions"].as_i64(), Some(16));

    // A newer one with more reactions updates the counts.
    let mut value: Value = serde_json::from_str(&raw).expect("JSON");
    value["messages"][0]["reactions"][0]["count"] = Value::from(20);
    std::fs::write(older.join("result.json"), value.to_string()).expect("write");
    let newer = json(&run(&db, &["import", &older.display().to_string(), "--json"]));
    assert_eq!((newer["updated"].as_i64(), newer["unchanged"].as_i64()), (Some(1), Some(3)), "{newer}");
    assert_eq!(by_message(&db)[&1]["reactions"].as_i64(), Some(24));
}

#[test]
fn old_exports_dates_are_read_in_the_zone_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `date` 2020-05-01T12:00:00 without an offset: UTC by default (POSTKEEPER_TIMEZONE unset)…
    let utc = dir.path().join("utc.db");
    let out = run(&utc, &["import", &fixture("export_old")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("dates: 3 read as local time in UTC"), "{}", text(&out));
    let first = |db: &Path| by_message(db)[&1]["date"].as_str().map(str::to_string);
    assert_eq!(first(&utc).as_deref(), Some("2020-05-01T12:00:00+00:00"));
    // …in POSTKEEPER_TIMEZONE when set…
    let moscow = dir.path().join("msk.db");
    let out = postkeeper(&moscow)
        .env("POSTKEEPER_TIMEZONE", "Europe/Moscow")
        .args(["import", &fixture("export_old")])
        .output()
        .expect("runs");
    assert!(text(&out).contains("dates: 3 read as local time in Europe/Moscow"), "{}", text(&out));
    assert_eq!(first(&moscow).as_deref(), Some("2020-05-01T09:00:00+00:00"));
    // …and in --export-timezone above both.
    let tokyo = dir.path().join("tokyo.db");
    let out = postkeeper(&tokyo)
        .env("POSTKEEPER_TIMEZONE", "Europe/Moscow")
        .args(["import", &fixture("export_old"), "--export-timezone", "Asia/Tokyo"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(first(&tokyo).as_deref(), Some("2020-05-01T03:00:00+00:00"));
    // A zone that is none changes nothing.
    let bad = run(&tokyo, &["import", &fixture("export_old"), "--export-timezone", "Mars/Olympus"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("Mars/Olympus"), "{}", text(&bad));
    // Exports with date_unixtime say nothing of zones.
    let single = dir.path().join("single.db");
    let out = run(&single, &["import", &fixture("export_single")]);
    assert!(!text(&out).contains("local time"), "{}", text(&out));
}

#[test]
fn an_unreadable_unixtime_is_warned_of_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = std::fs::read_to_string(fixture("export_single/result.json")).expect("fixture");
    let mut value: Value = serde_json::from_str(&raw).expect("JSON");
    value["messages"][1]["date_unixtime"] = Value::from("вчера");
    let export = dir.path().join("result.json");
    std::fs::write(&export, value.to_string()).expect("write");
    let db = dir.path().join("p.db");
    let out = run(&db, &["import", &export.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("date_unixtime that is not a number") && all.contains("message_id=2"), "{all}");
    assert!(all.contains("dates: 1 unreadable date_unixtime"), "{all}");
}

/// `postkeeper … | head`: the reader goes away; the command ends quietly and at once.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    assert!(run(&db, &["stats"]).status.success());
    for args in [&["stats", "--json"][..], &["posts"], &["posts", "--json"], &["search", "обучение"], &["show", "1"]]
    {
        let mut child =
            postkeeper(&db).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawns");
        // Hang up before it writes (it opens the store first): its first write finds
        // the pipe closed, as the writes after `head -c 10` has its bytes do.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("waits");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("corrupt") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        assert!(matches!(out.status.code(), Some(0) | Some(141)), "{args:?}: {:?} {err}", out.status);
    }
}

/// A channel of five posts on one subject with 0, 5, 1, 9 and 0 reactions.
fn liked_export(dir: &Path) -> String {
    let counts = [0, 5, 1, 9, 0];
    let messages: Vec<Value> = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let id = i as i64 + 1;
            let mut m = serde_json::json!({
                "id": id, "type": "message", "date": "2024-01-01T10:00:00", "date_unixtime": (1_704_103_200 + id * 3600).to_string(),
                "from": "Liked", "from_id": "channel1777000333", "text": format!("Пост {id} про нейросети и их обучение"),
            });
            if n > 0 {
                m["reactions"] = serde_json::json!([{"type": "emoji", "count": n, "emoji": "👍"}]);
            }
            m
        })
        .collect();
    let export = serde_json::json!({"name": "Liked", "type": "public_channel", "id": 1777000333, "messages": messages});
    let folder = dir.join("liked");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("result.json"), export.to_string()).expect("write");
    folder.display().to_string()
}

#[test]
fn sort_top_puts_the_most_liked_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    assert!(run(&db, &["import", &liked_export(dir.path())]).status.success());
    let order = |args: &[&str]| -> Vec<i64> {
        json(&run(&db, args)).as_array().expect("array").iter().filter_map(|h| h["message_id"].as_i64()).collect()
    };
    // Most reactions first, then the newest of the rest.
    assert_eq!(order(&["search", "нейросети", "--sort", "top", "--json"]), [4, 2, 3, 5, 1]);
    assert_eq!(order(&["search", "нейросети", "порядок:лучшие", "--json"]), [4, 2, 3, 5, 1]);
    assert_eq!(order(&["search", "--json", "--", "нейросети", "sort:top", "-пост"]), Vec::<i64>::new());
    assert_eq!(order(&["search", "нейросети", "--sort", "new", "--json"]), [5, 4, 3, 2, 1]);
    // The understood line says so.
    let plain = run(&db, &["search", "нейросети", "sort:top"]);
    assert!(text(&plain).contains("most reactions first"), "{}", text(&plain));
}

#[test]
fn best_replays_bring_back_the_most_liked_post_not_replayed_lately() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    assert!(run(&db, &["import", &liked_export(dir.path())]).status.success());
    let archive = postkeeper::store::Archive::open(&db).expect("opens");
    let now = chrono::Utc::now();
    let best = |a: &postkeeper::store::Archive| {
        a.pick_post(postkeeper::replay::Target::Best, now).expect("picks").and_then(|p| p.message_id)
    };
    assert_eq!(best(&archive), Some(4));
    // Replayed a week ago: it rests; the next most liked comes.
    let id_of = |message: i64| -> i64 {
        archive
            .posts(None, 0, 10)
            .expect("posts")
            .0
            .iter()
            .find(|p| p.message_id == Some(message))
            .map(|p| p.id)
            .expect("a post")
    };
    let week_ago = (now - chrono::Duration::days(7)).timestamp();
    let conn = rusqlite::Connection::open(&db).expect("opens");
    conn.execute("INSERT INTO replay_history(post_id, last_at, times) VALUES (?1, ?2, 1)", [id_of(4), week_ago])
        .expect("history");
    assert_eq!(best(&archive), Some(2));
    // Replayed 100 days ago: it may come again.
    conn.execute("UPDATE replay_history SET last_at = ?1", [(now - chrono::Duration::days(100)).timestamp()])
        .expect("history");
    assert_eq!(best(&archive), Some(4));
    // Schedulable from the CLI as `best`.
    let scheduled = postkeeper(&db)
        .args(["--replay-chat", "@replay_chan", "schedule", "best", "daily", "10:00"])
        .output()
        .expect("runs");
    assert!(scheduled.status.success(), "{}", text(&scheduled));
    assert!(text(&scheduled).contains("the best post"), "{}", text(&scheduled));
}
