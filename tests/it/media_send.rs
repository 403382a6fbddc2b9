//! Media out to people and the channel: `/post` and `/random` of each kind of media post
//! send the files with the text (uploaded once, by file_id after), and replays of them.

use std::path::{Path, PathBuf};

use fake_bot_api::{MediaKind, MediaSource, StoredMessage, updates};
use postkeeper::config::Config;
use postkeeper::model::Post;
use postkeeper::store::Archive;

use crate::support::harness::{Harness, QUIET, WAIT};
use crate::support::wait::eventually;

const USER: i64 = 4242;

/// The media fixture export imported into a fresh store, its files in `media`.
pub struct MediaStore {
    pub dir: tempfile::TempDir,
    pub archive: Archive,
}

impl MediaStore {
    pub fn new() -> MediaStore {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut archive = Archive::open(&dir.path().join("store.db")).expect("store");
        let export = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export_media");
        let media = dir.path().join("media");
        postkeeper::ingest::import_paths_to(&mut archive, &[export], false, Some(&media)).expect("imports");
        MediaStore { dir, archive }
    }

    pub fn media_dir(&self) -> PathBuf {
        self.dir.path().join("media")
    }

    /// The post whose first message is `message_id` in the export.
    pub fn post(&self, message_id: i64) -> Post {
        let (posts, _) = self.archive.posts(None, 0, 1000).expect("posts");
        posts
            .into_iter()
            .find(|p| {
                p.message_id == Some(message_id) || p.media.first().and_then(|m| m.message_id) == Some(message_id)
            })
            .unwrap_or_else(|| panic!("no post of message {message_id}"))
    }
}

async fn bot(store: MediaStore) -> (Harness, tempfile::TempDir) {
    let config = Config { media_dir: store.media_dir(), ..Config::default() };
    let MediaStore { dir, archive } = store;
    (Harness::with_archive(config, archive).await, dir)
}

fn ask(text: &str) -> serde_json::Value {
    updates::text(USER, USER, Some("ru"), text)
}

/// What the user's chat received, in order: (kind or "text", plain text/caption).
fn received(h: &Harness) -> Vec<(String, String)> {
    h.tg.messages(USER)
        .into_iter()
        .map(|m: StoredMessage| {
            let kind = m.media.as_ref().map_or("text".to_string(), |media| format!("{:?}", media.kind));
            (kind, m.text)
        })
        .collect()
}

fn uploads(h: &Harness) -> usize {
    h.tg.uploads().iter().filter(|u| u.accepted).count()
}

#[tokio::test]
async fn a_photo_post_is_sent_as_a_photo_with_its_caption_then_by_file_id() {
    let store = MediaStore::new();
    let id = store.post(2).id;
    let (h, _dir) = bot(store).await;
    h.exchange(ask(&format!("/post {id}")), "sendPhoto", 1).await;
    let got = received(&h);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "Photo");
    assert!(got[0].1.starts_with("Внимание на схеме") && got[0].1.contains(&format!("#{id}")), "{got:?}");
    let first = h.last(USER).media.expect("a photo");
    assert!(
        matches!(&first.source, MediaSource::Upload { size, .. } if *size > 0),
        "the first send uploads: {:?}",
        first.source
    );
    assert_eq!(uploads(&h), 1);
    // Again: the file_id Telegram gave is used, nothing is uploaded.
    h.exchange(ask(&format!("/post {id}")), "sendPhoto", 1).await;
    let second = h.last(USER).media.expect("a photo");
    assert_eq!(second.source, MediaSource::FileId(first.file_id.clone()));
    assert_eq!(second.file_unique_id, first.file_unique_id, "the same picture");
    assert_eq!(uploads(&h), 1, "nothing uploaded twice");
    h.finish().await;
}

#[tokio::test]
async fn every_kind_goes_by_its_own_method_and_an_album_as_one_group() {
    let store = MediaStore::new();
    let ids: Vec<i64> = [3, 6, 7, 8].iter().map(|m| store.post(*m).id).collect();
    let (h, _dir) = bot(store).await;
    // The album: three photos in one sendMediaGroup; an album cannot carry the post's
    // "similar" button, so the text follows it as a message that can (replays, which have
    // no buttons, put it on the album: see below).
    h.exchange(ask(&format!("/post {}", ids[0])), "sendMessage", 1).await;
    assert_eq!(h.tg.calls_to("sendMediaGroup").len(), 1);
    let album = h.tg.media_messages(USER);
    assert_eq!(album.len(), 3, "{:?}", received(&h));
    let group = album[0].media_group_id.clone().expect("an album");
    assert!(album.iter().all(|m| m.media_group_id.as_deref() == Some(group.as_str())));
    assert!(album.iter().all(|m| m.text.is_empty()), "{album:?}");
    let text = h.last(USER);
    assert!(text.media.is_none() && text.text.starts_with("Три снимка телескопа"), "{:?}", received(&h));
    assert!(text.reply_markup.is_some(), "the button under the text");
    // A picture with no text: the footer is its caption.
    h.exchange(ask(&format!("/post {}", ids[1])), "sendPhoto", 1).await;
    assert!(h.last(USER).text.contains(&format!("#{}", ids[1])), "{:?}", h.last(USER).text);
    // A video and a document, the document under its own name.
    h.exchange(ask(&format!("/post {}", ids[2])), "sendVideo", 1).await;
    assert_eq!(h.last(USER).media.map(|m| m.kind), Some(MediaKind::Video));
    h.exchange(ask(&format!("/post {}", ids[3])), "sendDocument", 1).await;
    let doc = h.last(USER).media.expect("a document");
    assert!(matches!(&doc.source, MediaSource::Upload { file_name, .. } if file_name == "exoplanets.pdf"), "{doc:?}");
    assert!(h.last(USER).text.starts_with("Статья про экзопланеты"));
    h.finish().await;
}

#[tokio::test]
async fn a_long_caption_goes_after_the_photo_and_a_missing_file_leaves_the_text() {
    let store = MediaStore::new();
    let (long, missing) = (store.post(9).id, store.post(10).id);
    let (h, _dir) = bot(store).await;
    // 3,000 characters: the photo bare, then the text in messages under Telegram's limit.
    h.exchange(ask(&format!("/post {long}")), "sendMessage", 1).await;
    let got = received(&h);
    assert_eq!(got[0], ("Photo".to_string(), String::new()), "{got:?}");
    assert!(got[1..].iter().all(|(k, t)| k == "text" && t.encode_utf16().count() <= 4096), "{got:?}");
    assert!(got[1].1.starts_with("Длинная подпись к схеме"), "{got:?}");
    let all: String = got[1..].iter().map(|(_, t)| t.as_str()).collect();
    assert!(all.contains(&format!("#{long}")));
    // The export did not include this photo: the text, and a note saying so.
    let before = got.len();
    h.exchange(ask(&format!("/post {missing}")), "sendMessage", 2).await;
    let got = received(&h);
    assert_eq!(got.len(), before + 2, "{got:?}");
    assert!(got[before].1.starts_with("Фото, которого нет в выгрузке"), "{got:?}");
    assert!(got[before + 1].1.contains("не сохранились"), "{got:?}");
    assert!(got[before..].iter().all(|(k, _)| k == "text"));
    h.finish().await;
}

#[tokio::test]
async fn a_file_gone_from_the_media_folder_is_not_sent_half() {
    let store = MediaStore::new();
    let album = store.post(3);
    let gone = album.media[1].file.clone().expect("a file");
    std::fs::remove_file(store.media_dir().join(&gone)).expect("removes");
    let (h, _dir) = bot(store).await;
    h.exchange(ask(&format!("/post {}", album.id)), "sendMessage", 2).await;
    assert!(h.tg.media_messages(USER).is_empty(), "half an album was sent");
    assert_eq!(uploads(&h), 0);
    let got = received(&h);
    assert!(got[0].1.starts_with("Три снимка телескопа") && got[1].1.contains("(3)"), "{got:?}");
    h.finish().await;
}

#[tokio::test]
async fn random_puts_its_button_under_a_message_that_can_carry_it() {
    // A store of the album alone: /random must show it, with "another" under the text.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut archive = Archive::open(&dir.path().join("store.db")).expect("store");
    let export = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export_media");
    postkeeper::ingest::import_paths_to(&mut archive, &[export], false, Some(&dir.path().join("media"))).expect("ok");
    let album = MediaStore { dir, archive };
    let id = album.post(3).id;
    let (posts, _) = album.archive.posts(None, 0, 100).expect("posts");
    let (h, _keep) = bot(album).await;
    // Press "another" until the album comes up.
    let mut seen = false;
    for _ in 0..(posts.len() * 6) {
        let before = h.tg.messages(USER).len();
        h.tg.push_update(ask("/random"));
        // Whatever it is sent as: wait for the chat to grow, then for quiet.
        eventually(WAIT, || format!("no reply: {}", h.tg.dump_calls()), || h.tg.messages(USER).len() > before).await;
        h.tg.wait_idle(QUIET).await;
        let new: Vec<StoredMessage> = h.tg.messages(USER).into_iter().skip(before).collect();
        let last = new.last().expect("a reply");
        assert!(last.reply_markup.is_some(), "the last message carries the button: {new:?}");
        if new.iter().any(|m| m.media_group_id.is_some()) {
            assert!(last.media.is_none() && last.text.contains(&format!("#{id}")), "{new:?}");
            seen = true;
            break;
        }
    }
    assert!(seen, "the album never came up");
    h.finish().await;
}

const ADMIN: i64 = 1001;
const CHANNEL: i64 = -1_002_000_000_001;
const SOURCE: i64 = -1_001_500_000_001;

/// A bot that replays into @replay_chan for ADMIN, archives SOURCE live, and keeps media in `dir`.
async fn replay_bot(archive: Archive, media_dir: PathBuf) -> Harness {
    let config = Config {
        media_dir,
        admins: vec![ADMIN],
        replay_chat: Some(postkeeper::config::ChatRef::Username("replay_chan".into())),
        source_chat: Some(postkeeper::config::ChatRef::Id(SOURCE)),
        ..Config::default()
    };
    Harness::with_clock(config, archive, postkeeper::replay::Clock::System, |tg| {
        tg.add_chat(updates::channel_chat(CHANNEL, Some("replay_chan")));
        tg.add_chat(updates::private_chat(ADMIN));
    })
    .await
}

fn admin(text: &str) -> serde_json::Value {
    updates::text(ADMIN, ADMIN, Some("en"), text)
}

/// The channel's messages as (kind or "text", caption/text, media group).
fn channel(h: &Harness) -> Vec<(String, String, Option<String>)> {
    h.tg.messages(CHANNEL)
        .into_iter()
        .map(|m| {
            let kind = m.media.as_ref().map_or("text".to_string(), |media| format!("{:?}", media.kind));
            (kind, m.text, m.media_group_id)
        })
        .collect()
}

async fn replay(h: &Harness, id: i64, messages: usize) {
    h.exchange(admin(&format!("/replay {id}")), "sendMessage", 1).await;
    eventually(WAIT, || h.tg.dump_calls(), || h.tg.messages(CHANNEL).len() >= messages).await;
    h.replays_settled().await;
}

#[tokio::test]
async fn a_replayed_album_is_one_media_group_and_a_second_replay_uploads_nothing() {
    let store = MediaStore::new();
    let id = store.post(3).id;
    let media_dir = store.media_dir();
    let MediaStore { dir: _dir, archive } = store;
    let h = replay_bot(archive, media_dir).await;
    replay(&h, id, 3).await;
    let groups = h.tg.calls_to("sendMediaGroup");
    assert_eq!(groups.len(), 1, "one request: {}", h.tg.dump_calls());
    let got = channel(&h);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|(k, _, g)| k == "Photo" && g.is_some() && *g == got[0].2), "{got:?}");
    assert!(got[0].1.starts_with("Три снимка телескопа") && got[1].1.is_empty() && got[2].1.is_empty(), "{got:?}");
    assert!(h.tg.calls_to("sendMessage").iter().all(|c| c.params["chat_id"] != "@replay_chan"), "no text part");
    let uploaded = uploads(&h);
    assert_eq!(uploaded, 3);

    // Again: three file_ids, not one byte uploaded.
    replay(&h, id, 6).await;
    assert_eq!(uploads(&h), uploaded, "the second replay uploaded");
    let again: Vec<StoredMessage> = h.tg.messages(CHANNEL).into_iter().skip(3).collect();
    assert!(again.iter().all(|m| matches!(m.media.as_ref().map(|x| &x.source), Some(MediaSource::FileId(_)))));
    let first: Vec<String> =
        h.tg.messages(CHANNEL).iter().take(3).filter_map(|m| m.media.clone()).map(|m| m.file_unique_id).collect();
    let second: Vec<String> = again.iter().filter_map(|m| m.media.clone()).map(|m| m.file_unique_id).collect();
    assert_eq!(first, second, "the same pictures in the same order");
    println!("a replayed album, twice, on the fake server:\n{}", h.tg.dump_calls());
    h.finish().await;
}

#[tokio::test]
async fn a_429_on_an_album_is_waited_out_and_the_same_album_resent_once() {
    let store = MediaStore::new();
    let id = store.post(3).id;
    let media_dir = store.media_dir();
    let MediaStore { dir: _dir, archive } = store;
    let h = replay_bot(archive, media_dir).await;
    h.tg.inject("sendMediaGroup", fake_bot_api::Fault::RetryAfter(1));
    let started = std::time::Instant::now();
    replay(&h, id, 3).await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "waited retry_after");
    let calls = h.tg.calls_to("sendMediaGroup");
    assert_eq!(calls.len(), 2, "{}", h.tg.dump_calls());
    assert!(calls[0].injected && calls[1].ok);
    assert_eq!(channel(&h).len(), 3, "one album in the channel: {:?}", channel(&h));
    h.exchange(admin("/queue"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains("✅ #1"), "{}", h.last(ADMIN).text);
    h.finish().await;
}

#[tokio::test]
async fn a_replay_whose_file_is_gone_sends_the_text_and_tells_the_admins_which() {
    let store = MediaStore::new();
    let album = store.post(3);
    let gone = album.media[2].file.clone().expect("a file");
    std::fs::remove_file(store.media_dir().join(&gone)).expect("removes");
    let media_dir = store.media_dir();
    let MediaStore { dir: _dir, archive } = store;
    let h = replay_bot(archive, media_dir).await;
    replay(&h, album.id, 1).await;
    let got = channel(&h);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "text");
    assert!(got[0].1.starts_with("Три снимка телескопа"), "{got:?}");
    assert!(h.tg.media_messages(CHANNEL).is_empty() && uploads(&h) == 0, "half an album");
    let told = h.tg.messages(ADMIN).into_iter().map(|m| m.text).find(|t| t.contains("without its media"));
    let told = told.unwrap_or_else(|| panic!("the admin was not told: {:?}", h.tg.messages(ADMIN)));
    assert!(told.contains(&gone) && told.contains("Три снимка телескопа"), "{told}");
    h.finish().await;
}

#[tokio::test]
async fn a_live_album_in_three_updates_out_of_order_replays_as_one_album() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = Archive::open(&dir.path().join("store.db")).expect("store");
    let h = replay_bot(archive, dir.path().join("media")).await;
    let parts = updates::channel_album(
        SOURCE,
        Some("source_chan"),
        50,
        1_700_100_000,
        &[MediaKind::Photo, MediaKind::Video, MediaKind::Photo],
        "Робот на прогулке\nТри кадра с испытаний.",
        1,
    );
    for i in [2, 0, 1] {
        h.silent(parts[i].clone()).await;
    }
    let (posts, total) = h.archive.call(|a| a.posts(None, 0, 10)).await.expect("runs").expect("posts");
    assert_eq!(total, 1, "one post: {posts:?}");
    assert_eq!(posts[0].media.len(), 3);
    assert_eq!(posts[0].title, "Робот на прогулке");
    let id = posts[0].id;
    replay(&h, id, 3).await;
    let got = channel(&h);
    assert_eq!(h.tg.calls_to("sendMediaGroup").len(), 1);
    let kinds: Vec<&str> = got.iter().map(|(k, ..)| k.as_str()).collect();
    assert_eq!(kinds, ["Photo", "Video", "Photo"], "in album order: {got:?}");
    assert!(got[0].1.starts_with("Робот на прогулке"), "{got:?}");
    assert_eq!(uploads(&h), 0, "live media go by their file_ids");
    h.finish().await;
}

#[tokio::test]
async fn inline_mode_answers_a_photo_post_with_the_photo_once_the_bot_has_its_file_id() {
    let store = MediaStore::new();
    let id = store.post(2).id;
    let (h, _dir) = bot(store).await;
    let photo_result = |h: &Harness| -> Option<serde_json::Value> {
        let answer = h.tg.inline_answers().pop().expect("answered");
        let results = answer["results"].as_array().cloned().unwrap_or_default();
        results.into_iter().find(|r| r["id"] == format!("p{id}"))
    };
    // Never sent yet: Telegram has no file_id of it for this bot, so an article.
    h.exchange(updates::inline_query(USER, Some("ru"), "трансформер", ""), "answerInlineQuery", 1).await;
    let before = photo_result(&h).expect("the post is found");
    assert_eq!(before["type"], "article", "{before}");
    // Sent once (uploaded): now a cached photo with the post as its caption.
    h.exchange(ask(&format!("/post {id}")), "sendPhoto", 1).await;
    let file_id = h.last(USER).media.expect("a photo").file_id;
    h.exchange(updates::inline_query(USER, Some("ru"), "трансформер", ""), "answerInlineQuery", 1).await;
    let after = photo_result(&h).expect("the post is found");
    assert_eq!(after["type"], "photo", "{after}");
    assert_eq!(after["photo_file_id"], file_id.as_str());
    assert!(after["caption"].as_str().is_some_and(|c| c.contains("Внимание на схеме")), "{after}");
    h.finish().await;
}

/// As an operator runs it: `.env` names the media folder, `postkeeper import` fills it, and
/// the running bot sends the album from it — uploaded once, then by file_id for the replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_keeps_media_where_the_env_says_and_sends_them_from_there() {
    use crate::support::process::Workdir;
    let tg = fake_bot_api::FakeTelegram::start().await;
    tg.add_chat(updates::channel_chat(CHANNEL, Some("replay_chan")));
    let w = Workdir::new(&format!(
        "TELOXIDE_TOKEN={}\nTELOXIDE_API_URL={}\nPOSTKEEPER_ADMINS={ADMIN}\nPOSTKEEPER_REPLAY_CHAT=@replay_chan\n\
         POSTKEEPER_MEDIA_DIR=pictures\nRUST_LOG=info\n",
        fake_bot_api::TOKEN,
        tg.url()
    ));
    let export = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export_media");
    let out = w.cli(&["import", export.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pictures: Vec<String> = std::fs::read_dir(w.path().join("pictures"))
        .expect("the media folder the .env names")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // One file per distinct content among the export's photos, video and document.
    let distinct: std::collections::HashSet<Vec<u8>> = ["photos", "video_files", "files"]
        .iter()
        .flat_map(|d| std::fs::read_dir(export.join(d)).expect("fixture folder").filter_map(Result::ok))
        .map(|e| std::fs::read(e.path()).expect("reads"))
        .collect();
    assert_eq!(pictures.len(), distinct.len(), "{pictures:?}");
    assert!(!w.path().join("media").exists(), "the default folder was used");
    let posts: serde_json::Value = serde_json::from_slice(&w.cli(&["posts", "--json"]).stdout).expect("JSON");
    let album = posts
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["message_id"] == 3))
        .and_then(|p| p["id"].as_i64())
        .expect("the album's post");

    // Updates wait in the fake's queue until the bot's first long poll takes them.
    let bot = w.start_bot();
    tg.push_update(updates::text(ADMIN, ADMIN, Some("en"), &format!("/post {album}")));
    tg.wait_for_calls("sendMediaGroup", 1, WAIT).await;
    let sizes: Vec<usize> = tg.uploads().iter().filter(|u| u.accepted).map(|u| u.size).collect();
    let mut expected: Vec<usize> =
        ["photo_2@14-11-2023_22-30-00.jpg", "photo_3@14-11-2023_22-30-00.jpg", "photo_4@14-11-2023_22-30-00.jpg"]
            .iter()
            .map(|f| std::fs::metadata(export.join("photos").join(f)).map(|m| m.len() as usize).expect("fixture"))
            .collect();
    let mut got = sizes.clone();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected, "the album's three files, whole");

    tg.push_update(updates::text(ADMIN, ADMIN, Some("en"), &format!("/replay {album}")));
    tg.wait_for_calls("sendMediaGroup", 2, WAIT).await;
    eventually(WAIT, || tg.dump_calls(), || tg.media_messages(CHANNEL).len() >= 3).await;
    assert_eq!(tg.uploads().iter().filter(|u| u.accepted).count(), 3, "the replay uploaded again");
    let (status, logs) = bot.stop().await;
    assert!(status.success(), "{logs}");
    assert!(tg.errors().is_empty(), "{:#?}", tg.errors());
}

#[tokio::test]
async fn media_filters_find_the_posts_that_carry_that_kind() {
    let store = MediaStore::new();
    let photos: Vec<i64> = [2, 3, 6, 9, 10].iter().map(|m| store.post(*m).id).collect();
    let (video, pdf, plain) = (store.post(7).id, store.post(8).id, store.post(11).id);
    let (h, _dir) = bot(store).await;
    let listed = |h: &Harness| -> Vec<i64> {
        let text = h.last(USER).text;
        let mut ids: Vec<i64> = text
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter_map(|w| w.strip_prefix("post_"))
            .filter_map(|n| n.parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    h.exchange(ask("/search есть:фото"), "sendMessage", 1).await;
    let found = listed(&h);
    // The missing photo (message 10) is still a post with a photo: it is recorded as one.
    assert!(found.iter().all(|id| photos.contains(id)) && !found.is_empty(), "{found:?} vs {photos:?}");
    assert!(!found.contains(&video) && !found.contains(&pdf) && !found.contains(&plain), "{found:?}");
    h.exchange(ask("/search has:video"), "sendMessage", 1).await;
    assert_eq!(listed(&h), [video], "{}", h.last(USER).text);
    h.exchange(ask("/search экзопланеты есть:файл"), "sendMessage", 1).await;
    assert_eq!(listed(&h), [pdf], "{}", h.last(USER).text);
    h.exchange(ask("/search квазары есть:фото"), "sendMessage", 1).await;
    assert!(h.last(USER).text.contains("Ничего не нашлось"), "photos there are: {}", h.last(USER).text);
    // The help's media example is a kind this archive has.
    h.exchange(ask("/help"), "sendMessage", 1).await;
    assert!(h.last(USER).text.contains("есть:фото — "), "{}", h.last(USER).text);
    h.finish().await;
}

#[tokio::test]
async fn an_album_counts_each_item_against_the_channel_cap() {
    use chrono::TimeZone;
    use postkeeper::replay::Target;
    use postkeeper::replay::when::Schedule;
    let store = MediaStore::new();
    let album = store.post(3).id;
    let media_dir = store.media_dir();
    let MediaStore { dir: _dir, archive } = store;
    let t0 = chrono::Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().expect("valid");
    // Seven replays of a 3-photo album, all due now: 21 messages, one more than a minute allows.
    for _ in 0..7 {
        archive.create_job(Target::Post(album), &Schedule::Once, t0, None, t0).expect("job");
    }
    let (clock, manual) = postkeeper::replay::Clock::manual(t0);
    let config = Config {
        media_dir,
        admins: vec![ADMIN],
        replay_chat: Some(postkeeper::config::ChatRef::Username("replay_chan".into())),
        ..Config::default()
    };
    let h = Harness::with_clock(config, archive, clock, |tg| {
        tg.add_chat(updates::channel_chat(CHANNEL, Some("replay_chan")));
        tg.add_chat(updates::private_chat(ADMIN));
    })
    .await;
    eventually(WAIT, || h.tg.dump_calls(), || h.tg.messages(CHANNEL).len() >= 18).await;
    // Six albums are 18 messages; the seventh would make 21 within the minute: it waits.
    h.replays_settled().await;
    assert_eq!(h.tg.messages(CHANNEL).len(), 18);
    assert_eq!(h.tg.calls_to("sendMediaGroup").len(), 6);
    manual.advance(std::time::Duration::from_secs(60));
    eventually(WAIT, || h.tg.dump_calls(), || h.tg.messages(CHANNEL).len() >= 21).await;
    h.replays_settled().await;
    assert_eq!(h.tg.messages(CHANNEL).len(), 21, "the seventh album, whole, once");
    h.finish().await;
}
