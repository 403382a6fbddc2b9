//! The query language, the sort button, "more like this" and typo corrections, through
//! the real handler tree against the fake Bot API server (and the binary for the CLI).

use std::path::Path;
use std::process::Command;

use fake_bot_api::{StoredMessage, updates};
use postkeeper::config::Config;
use postkeeper::model::{Entity, EntityKind, NewChannel, NewPost};
use postkeeper::search::Searcher;
use postkeeper::store::Archive;

use crate::support::harness::{Harness, button, labels};

const ME: i64 = 1001;
const EN: i64 = 2002;

fn ru(text: &str) -> serde_json::Value {
    updates::text(ME, ME, Some("ru"), text)
}

fn en(text: &str) -> serde_json::Value {
    updates::text(EN, EN, Some("en"), text)
}

/// 2021-10-15, 2021-12-20 and 2020-05-01 at noon UTC.
const OCT: i64 = 1_634_299_200;
const DEC: i64 = 1_640_001_600;
const OLD: i64 = 1_588_334_400;

/// The seed (undated) and three dated posts of a channel of ours, the first with a hashtag.
fn archive() -> Archive {
    let mut archive = Archive::open_in_memory().expect("store");
    postkeeper::ingest::import_seed(&mut archive).expect("seed");
    let dog = "Робот-собака учится бегать\nНовый робот бегает по парку. #роботы #новости";
    let tag_at = |text: &str, tag: &str| {
        let start = text.find(tag).expect("tag in text");
        Entity {
            kind: EntityKind::Hashtag,
            offset: text[..start].encode_utf16().count() as u32,
            length: tag.encode_utf16().count() as u32,
        }
    };
    let posts = vec![
        (OCT, dog.to_string(), vec![tag_at(dog, "#роботы"), tag_at(dog, "#новости")]),
        (DEC, "Манипулятор для сборки\nРоботы и манипулятор собирают детали".to_string(), Vec::new()),
        (OLD, "Собака робота\nСтарый пост: собака смотрит на робота".to_string(), Vec::new()),
    ];
    archive
        .import(|sink| -> Result<(), postkeeper::store::StoreError> {
            sink.channel(&NewChannel { username: Some("testchan".into()), ..NewChannel::telegram(-100777, "Test") })?;
            for (i, (date, text, entities)) in posts.into_iter().enumerate() {
                let id = i as i64 + 1;
                sink.post(NewPost {
                    message_id: Some(id),
                    seq: id,
                    date: Some(date),
                    text,
                    entities,
                    ..Default::default()
                })?;
            }
            Ok(())
        })
        .expect("import");
    archive
}

/// The ids of the posts a results message lists, in order (`→ /post_12` lines).
fn listed(m: &StoredMessage) -> Vec<i64> {
    m.text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("→ /post_"))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The id of the post titled `title` in an archive like the bot's.
fn id_of(archive: &Archive, words: &str, title: &str) -> i64 {
    let page = Searcher::default().search(archive, words, 0, 50).expect("search");
    page.hits.iter().find(|h| h.post.title.contains(title)).map(|h| h.post.id).expect("the post is in the seed")
}

#[tokio::test]
async fn operators_filter_and_the_first_line_says_what_was_understood() {
    let a = archive();
    let (dog, arm, old) =
        (id_of(&a, "бегать", "Робот-собака"), id_of(&a, "сборки", "Манипулятор"), id_of(&a, "старый", "Собака"));
    let h = Harness::with_archive(Config::default(), a).await;

    h.exchange(ru("/search робот тема:робототехника с:2021-10"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert_eq!(m.text.lines().next(), Some("🔎 робот · 🤖 Робототехника · с октября 2021"), "{}", m.text);
    // Undated posts (the whole seed) and older ones are left out.
    let mut ids = listed(&m);
    ids.sort_unstable();
    assert_eq!(ids, [dog, arm], "{}", m.text);

    h.exchange(ru("/search робот до:2021-10-15"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.starts_with("🔎 робот · по 15 октября 2021"), "{}", m.text);
    let mut ids = listed(&m);
    ids.sort_unstable();
    assert_eq!(ids, [dog, old], "a day bound takes in the whole day");

    // A phrase over stems, in order: "Робот-собака" (and the seed's "роботу-собаке") match,
    // "Собака робота" does not.
    h.exchange(ru("/search \"робота собаку\""), "sendMessage", 1).await;
    let ids = listed(&h.last(ME));
    assert!(ids.contains(&dog) && !ids.contains(&old) && ids.len() == 2, "{}", h.last(ME).text);

    // An exclusion: the manipulator post and every seed post naming one go.
    h.exchange(ru("/search робот -манипулятор"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.starts_with("🔎 робот · −манипулятор"), "{}", m.text);
    assert!(listed(&m).contains(&dog) && !listed(&m).contains(&arm), "{}", m.text);

    // A hashtag from the entities, exactly: the plain word "Роботы" is not one.
    h.exchange(ru("/search #роботы"), "sendMessage", 1).await;
    assert_eq!(listed(&h.last(ME)), [dog], "{}", h.last(ME).text);
    h.exchange(ru("/search #робот"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("нет хештега #робот."), "a hashtag matches whole: {}", h.last(ME).text);

    // Filters alone: a topic and a year, the latest posts of the archive first.
    h.exchange(ru("тема:robotics с:2020"), "sendMessage", 1).await;
    assert_eq!(listed(&h.last(ME)), [old, arm, dog], "{}", h.last(ME).text);

    // Media: shown as understood; these posts carry none, which is said (tests/it/media_send.rs
    // has posts that do).
    h.exchange(ru("/search робот есть:фото"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.starts_with("🔎 робот · 📷 с фото"), "{}", m.text);
    assert!(m.text.contains("В архиве нет постов с фото."), "{}", m.text);
    h.exchange(en("robot has:video"), "sendMessage", 1).await;
    assert!(h.last(EN).text.contains("The archive has no posts with a video."), "{}", h.last(EN).text);
    h.finish().await;
}

#[tokio::test]
async fn nonsense_is_answered_with_what_was_not_understood_and_an_example() {
    let h = Harness::with_archive(Config::default(), archive()).await;
    for (query, token, example) in [
        ("с:вчера", "с:вчера", "с:2021-10"),
        ("робот тема:нет-такой", "тема:нет-такой", "тема:робототехника"),
        ("\"\"", "\"\"", "\"обучение с подкреплением\""),
        ("-", "-", "робот -манипулятор"),
        ("есть:торт", "есть:торт", "есть:фото"),
    ] {
        h.exchange(ru(&format!("/search {query}")), "sendMessage", 1).await;
        let m = h.last(ME);
        assert!(m.text.contains(&format!("Не понял «{token}»")), "{query}: {}", m.text);
        assert!(m.text.contains(&format!("Например: {example}")), "{query}: {}", m.text);
    }
    // Nothing understood was left of the last one: nothing is listed.
    assert!(listed(&h.last(ME)).is_empty(), "{}", h.last(ME).text);
    // The understood rest is still searched.
    h.exchange(ru("/search робот тема:нет-такой"), "sendMessage", 1).await;
    assert!(!listed(&h.last(ME)).is_empty(), "{}", h.last(ME).text);
    h.exchange(en("from:yesterday"), "sendMessage", 1).await;
    assert!(h.last(EN).text.contains("I didn't understand “from:yesterday”"), "{}", h.last(EN).text);
    h.finish().await;
}

#[tokio::test]
async fn help_lists_every_operator_with_an_example_in_both_languages() {
    // Dated posts with hashtags (no media, so no `есть:` line): each operator that can match
    // here has a line, with an example taken from the archive.
    let h = Harness::with_archive(Config::default(), archive()).await;
    h.exchange(ru("/help"), "sendMessage", 1).await;
    let m = h.last(ME);
    for example in [
        "\"робота собаку\"",
        "-манипулятор",
        "тема:робототехника",
        "с:2020 до:2021-12",
        "#новости",
        "порядок:новые",
        "/similar ",
    ] {
        assert!(m.text.contains(example), "{example}: {}", m.text);
    }
    h.exchange(en("/help"), "sendMessage", 1).await;
    let m = h.last(EN);
    for example in
        ["\"robot dog\"", "-manipulator", "topic:robotics", "from:2020 to:2021-12", "#новости", "sort:new", "/similar "]
    {
        assert!(m.text.contains(example), "{example}: {}", m.text);
    }
    h.finish().await;
}

#[tokio::test]
async fn the_sort_button_switches_order_in_place_from_page_one() {
    let h = Harness::start(Config::default()).await;
    h.exchange(ru("/search обучение"), "sendMessage", 1).await;
    let first = h.last(ME);
    let next = button(&first, "▶").expect("several pages");
    h.exchange(updates::callback(ME, Some("ru"), &first, &next), "editMessageText", 1).await;
    let second = h.last(ME);
    assert!(second.text.contains("стр. 2/"), "{}", second.text);
    let newest = button(&second, "🕒 Сначала новые").expect("sort button");
    assert!(newest.len() <= 64);
    h.exchange(updates::callback(ME, Some("ru"), &second, &newest), "editMessageText", 1).await;
    let sorted = h.last(ME);
    assert_eq!(sorted.message_id, first.message_id, "edited in place");
    assert!(sorted.text.starts_with("🔎 обучение · 🕒 сначала новые"), "{}", sorted.text);
    assert!(sorted.text.contains("стр. 1/"), "the page resets: {}", sorted.text);
    let ids = listed(&sorted);
    assert!(ids.len() > 1 && ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    // Its pages stay newest first; and back to relevance.
    let next = button(&sorted, "▶").expect("pages");
    h.exchange(updates::callback(ME, Some("ru"), &sorted, &next), "editMessageText", 1).await;
    let page2 = h.last(ME);
    assert!(listed(&page2).iter().all(|id| id < ids.last().unwrap_or(&0)), "{}", page2.text);
    let back = button(&page2, "⭐ По релевантности").expect("back to relevance");
    h.exchange(updates::callback(ME, Some("ru"), &page2, &back), "editMessageText", 1).await;
    let relevance = h.last(ME);
    assert_eq!(listed(&relevance), listed(&first), "the relevance order again");
    assert!(labels(&relevance).contains(&"🕒 Сначала новые".to_string()));

    // Inline mode takes the same choice as an operator.
    h.exchange(updates::inline_query(ME, Some("ru"), "обучение sort:new", ""), "answerInlineQuery", 1).await;
    let answer = h.tg.inline_answers().pop().expect("answered");
    let inline: Vec<i64> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["id"].as_str()?.strip_prefix('p')?.parse().ok())
        .collect();
    assert!(inline.len() > 5 && inline.windows(2).all(|w| w[0] > w[1]), "{inline:?}");
    h.finish().await;
}

#[tokio::test]
async fn similar_posts_from_the_button_and_the_command() {
    let a = archive();
    let dog = id_of(&a, "падения", "Восстановление после падения");
    let robotics: Vec<i64> = a.posts(Some("robotics"), 0, 100).expect("topic").0.iter().map(|p| p.id).collect();
    let blur = id_of(&a, "размывание", "размывание лиц в ImageNet");
    let faces = id_of(&a, "синтетическими", "синтетическими лицами");
    let h = Harness::with_archive(Config::default(), a).await;

    h.exchange(ru(&format!("/post {dog}")), "sendMessage", 1).await;
    let post = h.last(ME);
    let like = button(&post, "🔗 Похожие").expect("a similar button under the post");
    h.exchange(updates::callback(ME, Some("ru"), &post, &like), "sendMessage", 1).await;
    let m = h.last(ME);
    assert_ne!(m.message_id, post.message_id, "a new message");
    assert!(m.text.starts_with(&format!("🔗 Похожие на пост {dog}")), "{}", m.text);
    let ids = listed(&m);
    assert!(!ids.contains(&dog), "the post itself is left out: {ids:?}");
    assert!(ids.len() >= 2 && ids[..2].iter().all(|id| robotics.contains(id)), "robotics first: {ids:?} {robotics:?}");

    h.exchange(ru(&format!("/similar {blur}")), "sendMessage", 1).await;
    let m = h.last(ME);
    assert_eq!(listed(&m).first(), Some(&faces), "{}", m.text);
    // Paged like search, in place.
    let next = button(&m, "▶").expect("pages");
    assert!(next.len() <= 64);
    h.exchange(updates::callback(ME, Some("ru"), &m, &next), "editMessageText", 1).await;
    let second = h.last(ME);
    assert_eq!(second.message_id, m.message_id);
    assert!(second.text.contains("стр. 2/") && !listed(&second).contains(&blur), "{}", second.text);

    h.exchange(ru("/similar 999999"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Поста с таким номером нет"));
    h.exchange(ru("/similar abc"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("/similar 3"));
    h.finish().await;
}

#[tokio::test]
async fn typos_are_corrected_by_stem_word_by_word_and_run_at_once() {
    let h = Harness::start(Config::default()).await;
    // Three edits from any form, one from the stem.
    h.exchange(ru("манипулятр"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains("Показаны результаты по запросу «манипулятор"), "{}", m.text);
    assert!(!listed(&m).is_empty());

    h.exchange(ru("обучени с подкреплнием"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains("Показаны результаты по запросу «обучение с подкреплением»"), "{}", m.text);
    assert!(listed(&m).len() >= 4, "{}", m.text);
    let typed = button(&m, "Искать «обучени с подкреплнием»").expect("the query as typed");
    h.exchange(updates::callback(ME, Some("ru"), &m, &typed), "editMessageText", 1).await;
    assert!(!h.last(ME).text.contains("Показаны результаты"), "{}", h.last(ME).text);

    // A query that finds something is never corrected; nor are names with digits.
    h.exchange(ru("обучение"), "sendMessage", 1).await;
    assert!(!h.last(ME).text.contains("Показаны результаты"));
    h.exchange(ru("Wave2vecc"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains("Ничего не нашлось") && !m.text.contains("Показаны"), "{}", m.text);
    h.finish().await;
}

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

#[test]
fn the_cli_speaks_the_query_language_and_sorts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("s.db");
    let (out, err, ok) =
        binary(&db, &["search", "--sort", "new", "--json", "--", "обучение", "тема:rl", "-финансовая"]);
    assert!(ok, "{err}");
    let hits: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let ids: Vec<i64> = hits.as_array().expect("hits").iter().filter_map(|h| h["id"].as_i64()).collect();
    assert!(ids.len() >= 2 && ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    for h in hits.as_array().expect("hits") {
        assert!(h["topics"].as_array().is_some_and(|t| t.iter().any(|t| t["slug"] == "rl" || t == "rl")), "{h}");
        assert!(!h["title"].as_str().unwrap_or("").contains("Финансовая"), "{h}");
    }
    let (out, _, ok) = binary(&db, &["search", "робот", "с:вчера"]);
    assert!(ok);
    assert!(out.contains("I didn't understand “с:вчера”") && out.contains("searching: робот"), "{out}");
    let (out, _, ok) = binary(&db, &["search", "манипулятр"]);
    assert!(ok && out.contains("showing results for \"манипулятор"), "{out}");
    let (out, _, ok) = binary(&db, &["search", "--similar", "6", "x"]);
    assert!(ok && out.contains("синтетическими лицами"), "{out}");

    // A glossary of one's own, kept in the store; a broken one is refused and changes nothing.
    let (out, _, ok) = binary(&db, &["search", "пельмени"]);
    assert!(ok && out.contains("nothing found"), "{out}");
    let file = dir.path().join("glossary.toml");
    std::fs::write(&file, "[[set]]\nterms = [\"пельмени\", \"экзопланета\"]\n").expect("write");
    let (out, err, ok) = binary(&db, &["search", "--glossary", file.to_str().expect("utf8"), "пельмени"]);
    assert!(ok, "{err}");
    assert!(out.contains("glossary: 1 sets") && out.contains("экзопланеты"), "{out}");
    std::fs::write(&file, "[[set]]\nterms = [\"одно\"]\n").expect("write");
    let (_, err, ok) = binary(&db, &["search", "--glossary", file.to_str().expect("utf8")]);
    assert!(!ok && err.contains("glossary.toml"), "{err}");
    let (out, _, ok) = binary(&db, &["search", "пельмени"]);
    assert!(ok && out.contains("экзопланеты"), "the stored glossary stays: {out}");
}

#[tokio::test]
async fn the_glossary_crosses_languages_exact_terms_first() {
    let mut a = archive();
    a.import(|sink| -> Result<(), postkeeper::store::StoreError> {
        sink.channel(&NewChannel::telegram(-100888, "English"))?;
        sink.post(NewPost {
            message_id: Some(1),
            seq: 1,
            date: Some(OCT),
            edited: None,
            text: "Speech recognition for rare languages\nA new speech recognition model.".into(),
            ..Default::default()
        })?;
        Ok(())
    })
    .expect("import");
    let english = id_of(&a, "rare languages", "Speech recognition");
    let asr_ru = id_of(&a, "редких языках", "Распознавание речи");
    let rl_posts: Vec<i64> = a.posts(Some("rl"), 0, 100).expect("topic").0.iter().map(|p| p.id).collect();
    let finance = id_of(&a, "финансовая", "Финансовая DL-система");
    let h = Harness::with_archive(Config::default(), a).await;

    h.exchange(en("reinforcement learning"), "sendMessage", 1).await;
    let m = h.last(EN);
    let ids = listed(&m);
    // The one post that says it in English first, then the Russian ones.
    assert_eq!(ids.first(), Some(&finance), "{}", m.text);
    assert!(ids.len() >= 4 && ids.iter().all(|id| rl_posts.contains(id)), "{ids:?} {rl_posts:?}");

    h.exchange(en("speech recognition"), "sendMessage", 1).await;
    let ids = listed(&h.last(EN));
    assert_eq!(ids[..2], [english, asr_ru], "the exact term first: {}", h.last(EN).text);

    h.exchange(en("neural network"), "sendMessage", 1).await;
    let m = h.last(EN);
    assert!(listed(&m).len() >= 3, "нейросеть's posts: {}", m.text);

    // And the other way round.
    h.exchange(ru("распознавание речи"), "sendMessage", 1).await;
    let ids = listed(&h.last(ME));
    assert_eq!(ids[..2], [asr_ru, english], "{}", h.last(ME).text);
    h.finish().await;
}

#[tokio::test]
async fn real_words_are_not_corrected_into_other_words() {
    let h = Harness::start(Config::default()).await;
    // `table` is one letter from `stable`, which the archive has: a real word, not a typo.
    h.exchange(ru("'; DROP TABLE posts; --"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(!m.text.contains("stable") && !m.text.contains("Показаны"), "{}", m.text);
    // Two letters from `приведет` is too far for six letters.
    h.exchange(ru("/search привет"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains("Ничего не нашлось") && !m.text.contains("приведет"), "{}", m.text);
    // A typo stays a typo.
    h.exchange(ru("экзопланетты"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Показаны результаты по запросу «экзопланеты»"), "{}", h.last(ME).text);
    h.finish().await;
}

/// The lines of the help's query language, from its header on.
fn query_help(m: &StoredMessage) -> String {
    let at = m.text.find("Язык запросов").or_else(|| m.text.find("Query language")).expect("the query help");
    m.text[at..].to_string()
}

#[tokio::test]
async fn the_help_shows_operators_this_archive_can_match_and_a_search_says_why_one_cannot() {
    // The seed alone: no dates, no media, no hashtags.
    let h = Harness::start(Config::default()).await;
    h.exchange(ru("/help"), "sendMessage", 1).await;
    let help = query_help(&h.last(ME));
    assert!(!help.contains("с:") && !help.contains("есть:") && !help.contains("\n#"), "{help}");
    assert!(help.contains("тема:") && help.contains("порядок:новые"), "{help}");
    for (query, why) in [
        ("с:2021-10 до:2021-12-31", "В архиве нет постов с датами"),
        ("робот с:2021", "В архиве нет постов с датами"),
        ("есть:фото", "В архиве нет постов с фото."),
        ("#новости", "Ни в одном посте архива нет хештега #новости."),
    ] {
        h.exchange(ru(&format!("/search {query}")), "sendMessage", 1).await;
        let m = h.last(ME);
        assert!(m.text.contains(why) && !m.text.contains("Ничего не нашлось"), "{query}: {}", m.text);
    }
    h.exchange(en("/search has:video"), "sendMessage", 1).await;
    assert!(h.last(EN).text.contains("The archive has no posts with a video."), "{}", h.last(EN).text);
    h.exchange(en("/search from:2021"), "sendMessage", 1).await;
    assert!(h.last(EN).text.contains("The archive has no dated posts"), "{}", h.last(EN).text);
    // What can match but does not is still "nothing found".
    h.exchange(ru("/search тема:робототехника qqqqzzzz"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Ничего не нашлось"), "{}", h.last(ME).text);
    h.finish().await;

    // Dated posts and hashtags: the help's examples are this archive's, and each finds posts.
    let h = Harness::with_archive(Config::default(), archive()).await;
    h.exchange(ru("/help"), "sendMessage", 1).await;
    let help = query_help(&h.last(ME));
    assert!(help.contains("с:2020 до:2021-12 — ") && help.contains("#новости — "), "{help}");
    assert!(!help.contains("есть:"), "no media here: {help}");
    for example in ["с:2020 до:2021-12", "#новости"] {
        h.exchange(ru(&format!("/search {example}")), "sendMessage", 1).await;
        assert!(h.last(ME).text.contains("Найдено"), "{example}: {}", h.last(ME).text);
    }
    h.exchange(ru("/search #нетакого"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("нет хештега #нетакого"), "{}", h.last(ME).text);
    h.exchange(en("/help"), "sendMessage", 1).await;
    let help = query_help(&h.last(EN));
    assert!(help.contains("from:2020 to:2021-12 — ") && help.contains("sort:new — "), "{help}");
    h.finish().await;
}
