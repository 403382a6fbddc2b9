//! Media out to people and the channel: `/post` and `/random` of each kind of media post
//! send the files with the text (uploaded once, by file_id after), and replays of them.

use std::path::{Path, PathBuf};

use fake_bot_api::{MediaKind, MediaSource, StoredMessage, updates};
use postkeeper::config::Config;
use postkeeper::model::Post;
use postkeeper::store::Archive;

use crate::support::harness::{Harness, QUIET, WAIT};

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
    // The album: three photos in one sendMediaGroup, the caption on the first.
    h.exchange(ask(&format!("/post {}", ids[0])), "sendMediaGroup", 1).await;
    let album = h.tg.media_messages(USER);
    assert_eq!(album.len(), 3, "{:?}", received(&h));
    let group = album[0].media_group_id.clone().expect("an album");
    assert!(album.iter().all(|m| m.media_group_id.as_deref() == Some(group.as_str())));
    assert!(album[0].text.starts_with("Три снимка телескопа"), "{:?}", album[0].text);
    assert!(album[1].text.is_empty() && album[2].text.is_empty());
    assert_eq!(h.tg.calls_to("sendMessage").len(), 0, "the caption fits: no text message");
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
        let deadline = tokio::time::Instant::now() + WAIT;
        while h.tg.messages(USER).len() == before {
            assert!(tokio::time::Instant::now() < deadline, "no reply: {}", h.tg.dump_calls());
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
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
