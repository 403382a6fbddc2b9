//! The live archive: channel posts of the source channel are stored and
//! searchable at once; edits update them; everything else is ignored.

use fake_bot_api::updates;
use postkeeper::config::{ChatRef, Config};
use postkeeper::search::Searcher;
use serde_json::json;

use crate::support::harness::Harness;

const SOURCE: i64 = -1_001_500_000_001;

fn config(source: ChatRef) -> Config {
    Config { source_chat: Some(source), ..Config::default() }
}

async fn count_posts(h: &Harness) -> i64 {
    h.archive.call(|a| a.stats().map(|s| s.posts)).await.expect("runs").expect("stats")
}

async fn top_hit(h: &Harness, q: &'static str) -> Option<postkeeper::model::Post> {
    h.archive
        .call(move |a| Searcher::default().search(a, q, 0, 5))
        .await
        .expect("runs")
        .expect("search")
        .hits
        .into_iter()
        .next()
        .map(|h| h.post)
}

#[tokio::test]
async fn source_posts_are_archived_edited_and_deduplicated() {
    let h = Harness::start(config(ChatRef::Username("source_chan".into()))).await;
    let base = count_posts(&h).await;
    let entities = json!([{"type": "bold", "offset": 0, "length": 14}]);
    let post = updates::channel_post(
        SOURCE,
        Some("source_chan"),
        42,
        1_700_000_000,
        "Квантовые чипы\nНовые квантовые компьютеры обучают нейросети.",
        entities.clone(),
    );
    h.silent(post.clone()).await;
    assert_eq!(count_posts(&h).await, base + 1);
    let stored = top_hit(&h, "квантовый компьютер").await.expect("searchable at once");
    assert_eq!(stored.message_id, Some(42));
    assert_eq!(stored.url.as_deref(), Some("https://t.me/source_chan/42"));
    assert_eq!(stored.date.map(|d| d.timestamp()), Some(1_700_000_000));
    assert_eq!(stored.entities.len(), 1);

    let before = h
        .archive
        .call(|a| Searcher::default().search(a, "компьютеры обучают", 0, 50))
        .await
        .expect("runs")
        .expect("search");
    assert!(before.hits.iter().any(|hit| hit.post.id == stored.id), "found by its words before the edit");

    // Delivered twice: stored once.
    h.silent(post).await;
    assert_eq!(count_posts(&h).await, base + 1);

    // Edited: the same post changes, search sees the new words and not the old ones.
    let edit = updates::edited_channel_post(
        SOURCE,
        Some("source_chan"),
        42,
        1_700_000_000,
        1_700_000_500,
        "Квантовые чипы\nТеперь про фотонные процессоры.",
        entities,
    );
    h.silent(edit).await;
    assert_eq!(count_posts(&h).await, base + 1);
    let edited = top_hit(&h, "фотонный процессор").await.expect("edit searchable");
    assert_eq!((edited.id, edited.edited.map(|d| d.timestamp())), (stored.id, Some(1_700_000_500)));
    let old_words = h
        .archive
        .call(|a| Searcher::default().search(a, "компьютеры обучают", 0, 50))
        .await
        .expect("runs")
        .expect("search");
    assert!(old_words.hits.iter().all(|hit| hit.post.id != stored.id), "the old text is no longer indexed");

    // A photo keeps its caption; a photo without one is a post too (of media alone).
    h.silent(updates::channel_photo(SOURCE, Some("source_chan"), 43, 1_700_000_600, "Схема квазарного телескопа"))
        .await;
    assert!(top_hit(&h, "квазарный телескоп").await.is_some_and(|p| p.message_id == Some(43)));
    h.silent(updates::channel_photo(SOURCE, Some("source_chan"), 44, 1_700_000_700, "")).await;
    assert_eq!(count_posts(&h).await, base + 3);
    h.finish().await;
}

#[tokio::test]
async fn other_channels_are_ignored() {
    let h = Harness::start(config(ChatRef::Id(SOURCE))).await;
    let base = count_posts(&h).await;
    h.silent(updates::channel_post(
        -100_999,
        Some("someone_else"),
        1,
        1_700_000_000,
        "Чужой пост про квазары",
        json!([]),
    ))
    .await;
    assert_eq!(count_posts(&h).await, base);
    // By id, without a username.
    h.silent(updates::channel_post(SOURCE, None, 7, 1_700_000_000, "Свой пост про квазары", json!([]))).await;
    assert_eq!(count_posts(&h).await, base + 1);
    h.finish().await;
}

#[tokio::test]
async fn without_a_source_nothing_is_archived() {
    let h = Harness::start(Config::default()).await;
    let base = count_posts(&h).await;
    h.silent(updates::channel_post(SOURCE, Some("source_chan"), 1, 1_700_000_000, "Пост про квазары", json!([]))).await;
    assert_eq!(count_posts(&h).await, base);
    h.finish().await;
}

/// A fresh store holds the demo until the source channel's first live post: the demo goes
/// in that post's transaction, and only the admin's channel is left.
#[tokio::test]
async fn the_first_live_post_takes_the_demos_place() {
    let mut archive = postkeeper::store::Archive::open_in_memory().expect("store");
    postkeeper::ingest::seed_if_empty(&mut archive).expect("the demo");
    let h = Harness::with_archive(config(ChatRef::Username("source_chan".into())), archive).await;
    assert_eq!(count_posts(&h).await, 20);
    let post = updates::channel_post(SOURCE, Some("source_chan"), 7, 1_700_000_000, "Первый пост канала", json!([]));
    h.silent(post).await;
    let channels = h.archive.call(|a| a.channel_infos()).await.expect("runs").expect("channels");
    let listed: Vec<(String, i64, &str)> =
        channels.iter().map(|c| (c.channel.title.clone(), c.posts, c.origin)).collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].1, listed[0].2), (1, "telegram"), "{listed:?}");
    assert!(top_hit(&h, "MuJoCo").await.is_none(), "the demo's posts are gone");
    assert!(top_hit(&h, "первый пост").await.is_some());
    h.finish().await;
}
