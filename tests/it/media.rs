//! Media into the archive: an export's files copied into the media folder by content hash
//! (through the real binary), albums grouped, `show`'s media lines, live albums merged
//! from out-of-order updates, and media posts in the bot's lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use postkeeper::config::{ChatRef, Config};
use postkeeper::model::{MediaKind, NewChannel, NewPost};
use postkeeper::search::Searcher;
use postkeeper::store::Archive;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::harness::{Harness, QUIET, WAIT};
use crate::support::process::Workdir;
use crate::support::wait::eventually;

const EXPORT: &str = "tests/fixtures/export_media";

fn export_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(EXPORT)
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn json_out(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "failed: {}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// The files of a folder with their contents (hidden ones included).
fn listing(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return BTreeMap::new() };
    entries
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("reads")))
        .collect()
}

/// The name a file gets in the media folder, computed here from its bytes.
fn hashed(relative: &str) -> String {
    let bytes = std::fs::read(export_dir().join(relative)).expect("fixture file");
    let hex: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let ext = Path::new(relative).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    format!("{hex}.{ext}")
}

/// Every file of the fixture but `result.json`, as (path relative to the export).
const FILES: &[&str] = &[
    "photos/photo_1@14-11-2023_22-13-20.jpg",
    "photos/photo_2@14-11-2023_22-30-00.jpg",
    "photos/photo_3@14-11-2023_22-30-00.jpg",
    "photos/photo_4@14-11-2023_22-30-00.jpg",
    "photos/photo_5@14-11-2023_22-46-40.png",
    "photos/photo_6@15-11-2023_00-10-00.jpg",
    "video_files/robot_walk.mp4",
    "files/exoplanets.pdf",
];

/// The posts of the store as `posts --json` lists them, by message id.
fn post_ids(w: &Workdir) -> BTreeMap<i64, i64> {
    let posts = json_out(&w.cli(&["posts", "--json"]));
    posts
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|p| Some((p["message_id"].as_i64()?, p["id"].as_i64()?)))
        .collect()
}

fn show_json(w: &Workdir, id: i64) -> Value {
    json_out(&w.cli(&["show", &id.to_string(), "--json"]))[0].clone()
}

#[test]
fn an_import_copies_each_file_once_by_its_hash_and_a_second_copies_nothing() {
    let w = Workdir::new("RUST_LOG=warn\n");
    let export = export_dir().display().to_string();
    let first = json_out(&w.cli(&["import", &export, "--json"]));
    // 8 posts (the album is one), the service message skipped; 8 files of which one is
    // the same picture twice; one photo not exported.
    assert_eq!((first["new"].as_i64(), first["skipped"].as_i64()), (Some(8), Some(1)), "{first}");
    let counts = |s: &Value| (s["media_copied"].as_i64(), s["media_present"].as_i64(), s["media_missing"].as_i64());
    assert_eq!(counts(&first), (Some(7), Some(1), Some(1)), "{first}");

    let media = w.path().join("media");
    let stored = listing(&media);
    let mut expected: Vec<String> = FILES.iter().map(|f| hashed(f)).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(stored.keys().cloned().collect::<Vec<_>>(), expected, "by hash, once each, no temporary file left");
    for f in FILES {
        let bytes = std::fs::read(export_dir().join(f)).expect("fixture");
        assert_eq!(stored.get(&hashed(f)), Some(&bytes), "{f} copied whole");
    }

    let again = json_out(&w.cli(&["import", &export, "--json"]));
    assert_eq!(counts(&again), (Some(0), Some(8), Some(1)), "{again}");
    assert_eq!((again["new"].as_i64(), again["unchanged"].as_i64()), (Some(0), Some(8)), "{again}");
    assert_eq!(listing(&media), stored, "nothing new in the media folder");

    // The text summary says the same.
    let plain = w.cli(&["import", &export]);
    assert!(text(&plain).contains("media: 0 copied / 8 already present / 0 kept / 1 missing"), "{}", text(&plain));
}

/// An admin refreshes the text with an export made without media: the files the store
/// has stay, item by item, and nothing is counted as missing that the store holds.
#[test]
fn a_reimport_without_media_keeps_the_stored_files() {
    let w = Workdir::new("RUST_LOG=warn\n");
    let with_media = export_dir().display().to_string();
    let without =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export_media_nomedia").display().to_string();
    let first = json_out(&w.cli(&["import", &with_media, "--json"]));
    assert_eq!(first["new"].as_i64(), Some(8), "{first}");
    let ids = post_ids(&w);
    let before: Vec<Value> = ids.values().map(|&id| show_json(&w, id)["media"].clone()).collect();
    let media = w.path().join("media");
    let files = listing(&media);

    let again = json_out(&w.cli(&["import", &without, "--json"]));
    let counts = |s: &Value| {
        (
            s["new"].as_i64(),
            s["updated"].as_i64(),
            s["unchanged"].as_i64(),
            s["media_kept"].as_i64(),
            s["media_missing"].as_i64(),
        )
    };
    // Message 10's photo was never exported: still missing; the other 8 items are kept.
    assert_eq!(counts(&again), (Some(0), Some(0), Some(8), Some(8), Some(1)), "{again}");
    let after: Vec<Value> = ids.values().map(|&id| show_json(&w, id)["media"].clone()).collect();
    assert_eq!(after, before, "every post keeps its media items, files and all");
    assert_eq!(listing(&media), files, "the media folder is untouched");
    let plain = w.cli(&["import", &without]);
    assert!(text(&plain).contains("media: 0 copied / 0 already present / 8 kept / 1 missing"), "{}", text(&plain));

    // Alone, the same export has nothing to keep: every item is missing.
    let fresh = Workdir::new("RUST_LOG=warn\n");
    let alone = json_out(&fresh.cli(&["import", &without, "--json"]));
    assert_eq!(counts(&alone), (Some(8), Some(0), Some(0), Some(0), Some(9)), "{alone}");
}

#[test]
fn albums_captions_kinds_and_missing_files_are_kept_and_shown() {
    let w = Workdir::new("RUST_LOG=warn\n");
    let out = w.cli(&["import", &export_dir().display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let ids = post_ids(&w);
    assert_eq!(ids.keys().copied().collect::<Vec<_>>(), [2, 3, 6, 7, 8, 9, 10, 11], "parts 4 and 5 are in 3's album");

    let album = show_json(&w, ids[&3]);
    assert!(album["text"].as_str().is_some_and(|t| t.starts_with("Три снимка телескопа")), "{album}");
    let items = album["media"].as_array().expect("media");
    assert_eq!(items.len(), 3);
    let names: Vec<&str> = items.iter().filter_map(|m| m["file"].as_str()).collect();
    assert_eq!(
        names,
        [
            hashed("photos/photo_2@14-11-2023_22-30-00.jpg"),
            hashed("photos/photo_3@14-11-2023_22-30-00.jpg"),
            hashed("photos/photo_4@14-11-2023_22-30-00.jpg")
        ],
        "in album order"
    );
    assert_eq!(items.iter().map(|m| m["message_id"].as_i64()).collect::<Vec<_>>(), [Some(3), Some(4), Some(5)]);
    assert_eq!((items[1]["width"].as_i64(), items[1]["height"].as_i64()), (Some(240), Some(320)));

    let only_media = show_json(&w, ids[&6]);
    assert_eq!(only_media["text"], "", "a post of media alone");
    assert_eq!(
        only_media["media"][0]["file"].as_str(),
        Some(hashed("photos/photo_5@14-11-2023_22-46-40.png").as_str())
    );

    let video = &show_json(&w, ids[&7])["media"][0];
    assert_eq!((video["kind"].as_str(), video["duration"].as_i64()), (Some("video"), Some(3)), "{video}");
    assert_eq!(video["mime_type"], "video/mp4");
    let document = &show_json(&w, ids[&8])["media"][0];
    assert_eq!((document["kind"].as_str(), document["file_name"].as_str()), (Some("document"), Some("exoplanets.pdf")));

    let long = show_json(&w, ids[&9]);
    assert_eq!(long["text"].as_str().map(|t| t.chars().count()), Some(3000), "the long caption is kept whole");
    let missing = &show_json(&w, ids[&10])["media"][0];
    assert_eq!((missing["missing"].as_bool(), missing["file"].is_null()), (Some(true), true), "{missing}");

    // `show` prints a line per item.
    let shown = w.cli(&["show", &ids[&3].to_string()]);
    let lines: Vec<String> = String::from_utf8_lossy(&shown.stdout).lines().map(str::to_string).collect();
    let media_lines: Vec<&String> = lines.iter().filter(|l| l.starts_with("[📷 ")).collect();
    assert_eq!(
        media_lines,
        [
            &format!("[📷 media/{} 320×240]", hashed("photos/photo_2@14-11-2023_22-30-00.jpg")),
            &format!("[📷 media/{} 240×320]", hashed("photos/photo_3@14-11-2023_22-30-00.jpg")),
            &format!("[📷 media/{} 320×320]", hashed("photos/photo_4@14-11-2023_22-30-00.jpg")),
        ],
        "{}",
        text(&shown)
    );
    assert!(lines[0].contains("📷×3 Три снимка телескопа"), "the list line marks the album: {}", lines[0]);
    let shown = w.cli(&["show", &ids[&10].to_string()]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).lines().any(|l| l == "[📷 missing: not exported]"),
        "{}",
        text(&shown)
    );
    let shown = w.cli(&["show", &ids[&8].to_string()]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("[📎 media/"), "{}", text(&shown));

    // Search finds a media post through its caption only.
    let hits = json_out(&w.cli(&["search", "телескопа", "--json"]));
    assert_eq!(
        hits.as_array().map(|h| h.iter().filter_map(|x| x["id"].as_i64()).collect::<Vec<_>>()),
        Some(vec![ids[&3]])
    );
}

#[test]
fn the_media_folder_is_the_one_configured() {
    let w = Workdir::new("POSTKEEPER_MEDIA_DIR=from-dotenv\nRUST_LOG=warn\n");
    let export = export_dir().display().to_string();
    let out = w.cli(&["import", &export]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(listing(&w.path().join("from-dotenv")).len(), 7);
    assert!(!w.path().join("media").exists());
    let out = w.cli(&["--media-dir", "from-flag", "import", &export]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(listing(&w.path().join("from-flag")).len(), 7, "the flag beats .env");
    let config = w.cli(&["--media-dir", "from-flag", "config"]);
    assert!(
        String::from_utf8_lossy(&config.stdout)
            .lines()
            .any(|l| l.starts_with("POSTKEEPER_MEDIA_DIR") && l.contains("flag") && l.ends_with("from-flag")),
        "{}",
        text(&config)
    );
}

#[test]
fn a_broken_import_leaves_neither_posts_nor_files() {
    let w = Workdir::new("RUST_LOG=warn\n");
    // A copy of the export whose result.json breaks off after the media messages.
    let copy = w.path().join("export");
    for f in FILES {
        let to = copy.join(f);
        std::fs::create_dir_all(to.parent().expect("a folder")).expect("mkdir");
        std::fs::copy(export_dir().join(f), &to).expect("copies");
    }
    let json = std::fs::read_to_string(export_dir().join("result.json")).expect("fixture");
    let cut = json.find("\"id\": 11").expect("the last message");
    std::fs::write(copy.join("result.json"), &json[..cut]).expect("writes");
    let out = w.cli(&["import", &copy.display().to_string()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("result.json"), "names the file: {}", text(&out));
    assert_eq!(listing(&w.path().join("media")), BTreeMap::new(), "no file left under any name");
    assert!(!w.path().join("postkeeper.db").exists(), "the store it created is gone");

    // Into an existing store: it stays as it was.
    let good = w.cli(&["import", &export_dir().join("result.json").display().to_string()]);
    assert!(good.status.success(), "{}", text(&good));
    let before = json_out(&w.cli(&["posts", "--json"]));
    let media_before = listing(&w.path().join("media"));
    std::fs::write(copy.join("photos/photo_7.jpg"), b"\xff\xd8\xff new picture").expect("writes");
    let with_new = json.replacen("photos/photo_6@15-11-2023_00-10-00.jpg", "photos/photo_7.jpg", 1);
    let cut = with_new.find("\"id\": 11").expect("the last message");
    std::fs::write(copy.join("result.json"), &with_new[..cut]).expect("writes");
    let out = w.cli(&["import", &copy.display().to_string()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(json_out(&w.cli(&["posts", "--json"])), before);
    assert_eq!(listing(&w.path().join("media")), media_before, "the new picture was not kept");
}

// --- live -------------------------------------------------------------------------------

const SOURCE: i64 = -1_001_600_000_002;

fn channel() -> Value {
    json!({"id": SOURCE, "type": "channel", "title": "Live media", "username": "live_media"})
}

/// A channel photo as Telegram sends it: sizes smallest first, optional caption and group.
fn live_photo(message_id: i64, caption: Option<&str>, group: Option<&str>, edit: Option<i64>) -> Value {
    let mut m = json!({
        "message_id": message_id,
        "sender_chat": channel(),
        "chat": channel(),
        "date": 1_700_100_000,
        "photo": [
            {"file_id": format!("F{message_id}-s"), "file_unique_id": format!("U{message_id}s"), "width": 90, "height": 60, "file_size": 1200},
            {"file_id": format!("F{message_id}-l"), "file_unique_id": format!("U{message_id}l"), "width": 1280, "height": 853, "file_size": 98000},
            {"file_id": format!("F{message_id}-m"), "file_unique_id": format!("U{message_id}m"), "width": 800, "height": 533, "file_size": 48000},
        ],
    });
    if let Some(c) = caption {
        m["caption"] = json!(c);
    }
    if let Some(g) = group {
        m["media_group_id"] = json!(g);
    }
    match edit {
        Some(at) => {
            m["edit_date"] = json!(at);
            json!({"update_id": 0, "edited_channel_post": m})
        }
        None => json!({"update_id": 0, "channel_post": m}),
    }
}

/// A channel document or video (`kind` is the Bot API field).
fn live_file(message_id: i64, kind: &str, caption: &str) -> Value {
    let mut m = json!({"message_id": message_id, "sender_chat": channel(), "chat": channel(), "date": 1_700_200_000});
    let file = json!({"file_id": format!("D{message_id}"), "file_unique_id": format!("V{message_id}"), "file_size": 5000,
                      "file_name": "paper.pdf", "mime_type": "application/pdf", "width": 640, "height": 360, "duration": 7});
    m[kind] = file;
    if !caption.is_empty() {
        m["caption"] = json!(caption);
    }
    json!({"update_id": 0, "channel_post": m})
}

/// The post carrying channel message `message_id` (its own, or one of its album's items).
async fn post_with(h: &Harness, message_id: i64) -> Option<postkeeper::model::Post> {
    let (posts, _) = h.archive.call(|a| a.posts(None, 0, 10_000)).await.expect("runs").expect("reads");
    posts
        .into_iter()
        .find(|p| p.message_id == Some(message_id) || p.media.iter().any(|m| m.message_id == Some(message_id)))
}

async fn count_posts(h: &Harness) -> i64 {
    h.archive.call(|a| a.post_count()).await.expect("runs").expect("counts")
}

#[tokio::test]
async fn a_live_album_arriving_out_of_order_is_one_post_and_edits_update_it() {
    let h = Harness::start(Config { source_chat: Some(ChatRef::Id(SOURCE)), ..Config::default() }).await;
    let base = count_posts(&h).await;
    // The last part first, the captioned first part last, each a separate update.
    h.silent(live_photo(502, None, Some("album-1"), None)).await;
    h.silent(live_photo(503, None, Some("album-1"), None)).await;
    h.silent(live_photo(501, Some("Квазары в трёх кадрах\nСнимки обсерватории."), Some("album-1"), None)).await;
    assert_eq!(count_posts(&h).await, base + 1, "one post for the album");
    let post = post_with(&h, 501).await.expect("the album is stored");
    assert_eq!((post.seq, post.message_id), (501, Some(501)));
    assert_eq!(post.url.as_deref(), Some("https://t.me/live_media/501"));
    assert!(post.body.starts_with("Квазары в трёх кадрах"), "{}", post.body);
    let ids: Vec<(Option<i64>, Option<&str>)> =
        post.media.iter().map(|m| (m.message_id, m.file_id.as_deref())).collect();
    assert_eq!(ids, [(Some(501), Some("F501-l")), (Some(502), Some("F502-l")), (Some(503), Some("F503-l"))]);
    assert!(post.media.iter().all(|m| m.kind == MediaKind::Photo && m.width == Some(1280) && m.file.is_none()));
    assert_eq!(post.media[0].file_unique_id.as_deref(), Some("U501l"));

    // A part delivered again changes nothing.
    h.silent(live_photo(502, None, Some("album-1"), None)).await;
    assert_eq!(post_with(&h, 502).await.as_ref(), Some(&post));

    // The caption edited: the same post, the new words found, the old ones not.
    h.silent(live_photo(501, Some("Квазары и пульсары\nНовая подпись."), Some("album-1"), Some(1_700_100_500))).await;
    assert_eq!(count_posts(&h).await, base + 1);
    let edited = post_with(&h, 503).await.expect("stored");
    assert_eq!((edited.id, edited.media.len()), (post.id, 3));
    assert_eq!(edited.edited.map(|d| d.timestamp()), Some(1_700_100_500));
    let found = |q: &'static str| {
        let archive = h.archive.clone();
        async move {
            archive
                .call(move |a| Searcher::default().search(a, q, 0, 10))
                .await
                .expect("runs")
                .expect("search")
                .hits
                .iter()
                .map(|x| x.post.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("пульсары").await, [post.id]);
    assert!(!found("кадрах").await.contains(&post.id), "the old caption is gone from the index");

    // A part's picture replaced (an edit of the media): that item changes, in its place.
    let mut replaced = live_photo(502, None, Some("album-1"), Some(1_700_100_600));
    replaced["edited_channel_post"]["photo"][1]["file_id"] = json!("F502-new");
    h.silent(replaced).await;
    let edited = post_with(&h, 502).await.expect("stored");
    assert_eq!(
        edited.media.iter().filter_map(|m| m.file_id.as_deref()).collect::<Vec<_>>(),
        ["F501-l", "F502-new", "F503-l"]
    );
    assert!(edited.body.starts_with("Квазары и пульсары"), "a part without caption keeps the album's");
    h.finish().await;
}

#[tokio::test]
async fn live_documents_videos_and_captionless_photos_are_archived() {
    let h = Harness::start(Config { source_chat: Some(ChatRef::Id(SOURCE)), ..Config::default() }).await;
    h.silent(live_file(601, "document", "Статья\nPDF про экзопланеты")).await;
    h.silent(live_file(602, "video", "")).await;
    h.silent(live_photo(603, None, None, None)).await;
    let doc = post_with(&h, 601).await.expect("the document");
    assert_eq!(
        (doc.media[0].kind, doc.media[0].file_name.as_deref(), doc.media[0].mime_type.as_deref()),
        (MediaKind::Document, Some("paper.pdf"), Some("application/pdf"))
    );
    let video = post_with(&h, 602).await.expect("the video, without a caption");
    assert_eq!((video.body.as_str(), video.media[0].kind, video.media[0].duration), ("", MediaKind::Video, Some(7)));
    let photo = post_with(&h, 603).await.expect("the photo, without a caption");
    assert_eq!(photo.media[0].file_id.as_deref(), Some("F603-l"), "the largest size");
    h.finish().await;
}

// --- lists ------------------------------------------------------------------------------

const ME: i64 = 3003;

/// What the bot answered to `update`: the text or caption of every successful send, in order,
/// whichever method sent it.
async fn answers(h: &Harness, update: Value) -> Vec<String> {
    let before = h.tg.calls().len();
    let id = h.tg.push_update(update);
    let answered = || {
        let sent = h.tg.calls()[before..].iter().any(|c| c.ok && c.method.starts_with("send"));
        h.tg.queued_update(id).is_none() && sent
    };
    eventually(WAIT, || h.tg.dump_calls(), answered).await;
    h.tg.wait_idle(QUIET).await;
    h.tg.calls()[before..]
        .iter()
        .filter(|c| c.ok && c.method.starts_with("send"))
        .filter_map(|c| c.params["text"].as_str().or(c.params["caption"].as_str()).map(str::to_string))
        .collect()
}

#[tokio::test]
async fn media_posts_are_marked_in_lists_and_a_media_only_post_comes_up_in_random() {
    let mut archive = Archive::open_in_memory().expect("store");
    let photo = |n: i64| postkeeper::model::Media {
        kind: MediaKind::Photo,
        file_id: Some(format!("F{n}")),
        message_id: Some(n),
        ..Default::default()
    };
    let mut ids = Vec::new();
    archive
        .import(|sink| -> postkeeper::store::Result<()> {
            sink.channel(&NewChannel::telegram(-1001, "Media"))?;
            ids.push(
                sink.post(NewPost { message_id: Some(1), seq: 1, media: vec![photo(1)], ..Default::default() })?.0,
            );
            let album = NewPost {
                message_id: Some(2),
                seq: 2,
                text: "Робот-телескоп\nТри снимка роботов-телескопов.".into(),
                media: vec![photo(2), photo(3), photo(4)],
                ..Default::default()
            };
            ids.push(sink.post(album)?.0);
            Ok(())
        })
        .expect("imports");
    let h = Harness::with_archive(Config::default(), archive).await;
    // The live posts' file_ids, as Telegram knows them: the bot sends the pictures by them.
    for n in 1..=4 {
        h.tg.register_file(fake_bot_api::MediaKind::Photo, &format!("F{n}"), &format!("U{n}"));
    }
    let hits = answers(&h, fake_bot_api::updates::text(ME, ME, Some("ru"), "/search роботы-телескопы")).await;
    assert!(hits.iter().any(|t| t.contains("1. 📷×3 <b>Робот-телескоп</b>")), "{hits:?}");

    // /random over and over: each post comes up, the one of media alone too.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..6 {
        for answer in answers(&h, fake_bot_api::updates::text(ME, ME, Some("ru"), "/random")).await {
            for id in &ids {
                if answer.lines().last().is_some_and(|l| l.split(" · ").any(|p| p == format!("#{id}"))) {
                    seen.insert(*id);
                }
            }
        }
    }
    assert_eq!(seen.len(), 2, "both posts came up: {seen:?}");
    h.finish().await;
}
