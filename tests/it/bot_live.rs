//! The live archive: channel posts of the source channel are stored and
//! searchable at once; edits update them; everything else is ignored.

use fake_bot_api::updates;
use postkeeper::config::{ChatRef, Config};
use postkeeper::search::Searcher;
use serde_json::json;

use crate::support::harness::Harness;
use crate::support::wait::eventually_async;

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

type Posts = std::collections::BTreeMap<i64, postkeeper::model::Post>;

/// The source channel's posts once `ready` holds of them (the handlers store them after
/// the fake server has handed the updates over).
async fn posts_when(h: &Harness, ready: impl Fn(&Posts) -> bool) -> Posts {
    let why = || "the live posts as expected";
    eventually_async(crate::support::harness::WAIT, why, async || ready(&live_posts(h).await)).await;
    live_posts(h).await
}

/// The posts of the source channel by message id, read through the store.
async fn live_posts(h: &Harness) -> Posts {
    h.archive
        .call(|a| a.posts(None, 0, 1000).map(|(posts, _)| posts))
        .await
        .expect("runs")
        .expect("posts")
        .into_iter()
        .filter(|p| p.channel_title == format!("Channel {SOURCE}"))
        .filter_map(|p| Some((p.message_id?, p)))
        .collect()
}

/// Every kind of post a channel can publish is archived, including the shapes teloxide
/// 0.17 reads as an empty message (a `date_time` entity, `paid_media` as documented, a
/// `rich_message`), and a service message is not a post.
#[tokio::test]
async fn every_kind_of_channel_post_is_archived() {
    let h = Harness::start(config(ChatRef::Id(SOURCE))).await;
    let chan = Some("source_chan");
    let photo = json!([{"file_id": "ph-s", "file_unique_id": "phs", "width": 90, "height": 60},
                       {"file_id": "ph-b", "file_unique_id": "phb", "width": 1280, "height": 853, "file_size": 4000}]);
    let kinds: Vec<(i64, serde_json::Value)> = vec![
        (
            101,
            json!({"poll": {"id": "p1", "question": "Какой фреймворк?", "options": [{"text": "PyTorch", "voter_count": 3}, {"text": "JAX", "voter_count": 1}],
                              "total_voter_count": 4, "is_closed": false, "is_anonymous": true, "type": "regular", "allows_multiple_answers": false}}),
        ),
        (102, json!({"location": {"latitude": 55.75, "longitude": 37.61}})),
        (
            103,
            json!({"venue": {"location": {"latitude": 59.94, "longitude": 30.31}, "title": "Эрмитаж", "address": "Дворцовая пл., 2"},
                     "location": {"latitude": 59.94, "longitude": 30.31}}),
        ),
        (104, json!({"contact": {"phone_number": "+79990001122", "first_name": "Анна", "last_name": "Смирнова"}})),
        (105, json!({"dice": {"emoji": "🎲", "value": 4}})),
        (106, json!({"story": {"chat": updates::channel_chat(SOURCE, chan), "id": 12}})),
        (
            107,
            json!({"giveaway": {"chats": [updates::channel_chat(SOURCE, chan)], "winners_selection_date": 1_704_067_200, "winner_count": 2, "prize_description": "книга"}}),
        ),
        (108, json!({"video_note": {"file_id": "vn", "file_unique_id": "vnu", "length": 240, "duration": 7}})),
        (
            109,
            json!({"sticker": {"file_id": "st", "file_unique_id": "stu", "type": "regular", "width": 512, "height": 512, "is_animated": false, "is_video": false}}),
        ),
        (
            110,
            json!({"photo": photo, "caption": "Встреча 12 мая в 18:00",
                     "caption_entities": [{"type": "date_time", "offset": 9, "length": 13, "unix_time": 1_715_526_000}]}),
        ),
        (
            111,
            json!({"paid_media": {"star_count": 25, "paid_media": [{"type": "photo", "photo": [{"file_id": "pp", "file_unique_id": "ppu", "width": 10, "height": 10}]}]},
                     "caption": "Закрытый разбор"}),
        ),
        (
            112,
            json!({"rich_message": {"blocks": [{"type": "heading", "text": "Итоги года"}, {"type": "paragraph", "text": "Канал вырос вдвое"}]}}),
        ),
        (
            113,
            json!({"text": "Смотрите, что нашли", "author_signature": "Иван",
                     "forward_origin": {"type": "channel", "chat": {"id": -1_002_000_000_009_i64, "type": "channel", "title": "Другой канал", "username": "other"}, "message_id": 9, "date": 1}}),
        ),
        (114, json!({"pinned_message": {"message_id": 101, "date": 1, "chat": updates::channel_chat(SOURCE, chan)}})),
    ];
    for (id, fields) in &kinds {
        h.silent(updates::channel_post_with(SOURCE, chan, *id, 1_700_000_000 + id, fields.clone())).await;
    }
    let posts = posts_when(&h, |posts| posts.len() >= 13).await;
    assert_eq!(
        posts.keys().copied().collect::<Vec<_>>(),
        (101..=113).collect::<Vec<_>>(),
        "all but the service message"
    );
    let text = |id: i64| posts[&id].body.clone();
    assert!(text(101).starts_with("📊 Какой фреймворк?") && text(101).contains("— PyTorch: 3 (75%)"), "{}", text(101));
    assert_eq!(posts[&101].extra.poll.as_ref().map(|p| p.total_voters), Some(4));
    assert!(text(102).starts_with("📍 https://www.openstreetmap.org/?mlat=55.750000"), "{}", text(102));
    assert!(text(103).starts_with("📍 Эрмитаж, Дворцовая пл., 2"), "{}", text(103));
    assert_eq!(text(104), "👤 Анна Смирнова, +79990001122");
    assert_eq!(text(105), "🎲 4");
    assert_eq!(text(106), "📖 https://t.me/source_chan/s/12");
    assert_eq!(text(107), "🎁 2 × книга · 2024-01-01");
    assert_eq!(posts[&108].media.first().map(|m| m.kind), Some(postkeeper::model::MediaKind::VideoNote));
    assert_eq!(posts[&109].media.first().map(|m| m.kind), Some(postkeeper::model::MediaKind::Sticker));
    assert_eq!(text(110), "Встреча 12 мая в 18:00");
    assert_eq!(posts[&110].media.first().and_then(|m| m.file_id.as_deref()), Some("ph-b"), "the photo is kept");
    assert_eq!(
        posts[&110].entities.first().map(|e| e.kind.clone()),
        Some(postkeeper::model::EntityKind::Other { name: "date_time".into() })
    );
    assert_eq!(text(111), "Закрытый разбор");
    assert_eq!(posts[&111].extra.paid_media.as_ref().map(|p| p.stars), Some(25));
    assert_eq!(text(112), "Итоги года\n\nКанал вырос вдвое");
    assert!(posts[&112].extra.unknown.contains_key("rich_message"));
    let origin = posts[&113].extra.forward_origin.clone().expect("an origin");
    assert_eq!((origin.name.as_str(), origin.url.as_deref()), ("Другой канал", Some("https://t.me/other/9")));
    assert_eq!(posts[&113].extra.author_signature.as_deref(), Some("Иван"));
    assert!(top_hit(&h, "Эрмитаж").await.is_some_and(|p| p.message_id == Some(103)));
    assert!(top_hit(&h, "итоги года").await.is_some_and(|p| p.message_id == Some(112)));
    h.finish().await;
}

/// Reaction counts of the source channel's posts arrive as `message_reaction_count`
/// updates, which Telegram sends only when asked for: the bot asks, and keeps them.
#[tokio::test]
async fn reaction_counts_are_requested_and_kept() {
    let h = Harness::start(config(ChatRef::Id(SOURCE))).await;
    let allowed = h.tg.allowed_updates().unwrap_or_default();
    assert!(allowed.iter().any(|k| k == "message_reaction_count"), "{allowed:?}");
    h.silent(updates::channel_post(SOURCE, Some("source_chan"), 77, 1_700_000_000, "Пост для реакций", json!([])))
        .await;
    h.silent(updates::reaction_count(SOURCE, Some("source_chan"), 77, &[("👍", 12), ("custom:5368", 3), ("paid", 1)]))
        .await;
    assert!(h.tg.filtered_updates().is_empty(), "nothing was dropped for want of allowed_updates");
    let post = posts_when(&h, |posts| posts.get(&77).is_some_and(|p| !p.reactions.is_empty()))
        .await
        .remove(&77)
        .expect("archived");
    let counts: Vec<(Option<&str>, Option<&str>, bool, i64)> =
        post.reactions.iter().map(|r| (r.emoji.as_deref(), r.custom_emoji_id.as_deref(), r.paid, r.count)).collect();
    assert_eq!(counts, [(Some("👍"), None, false, 12), (None, Some("5368"), false, 3), (None, None, true, 1)]);
    // A later count replaces it.
    h.silent(updates::reaction_count(SOURCE, Some("source_chan"), 77, &[("👍", 20)])).await;
    let total = |posts: &Posts| posts.get(&77).map(|p| postkeeper::model::Reaction::total(&p.reactions));
    let posts = posts_when(&h, |posts| total(posts) == Some(20)).await;
    assert_eq!(total(&posts), Some(20));
    h.finish().await;
}
