//! The bot in chat, driven by real Update JSON through the real handler tree
//! against the strict fake Bot API server.

use std::collections::HashSet;

use fake_bot_api::{Fault, updates};
use postkeeper::chat::callback::Action;
use postkeeper::config::Config;
use postkeeper::model::{NewChannel, NewPost};
use postkeeper::store::Archive;

use crate::support::harness::{Harness, button, labels};

const ME: i64 = 1001;

fn ru(text: &str) -> serde_json::Value {
    updates::text(ME, ME, Some("ru"), text)
}

#[tokio::test]
async fn start_and_help_in_both_languages() {
    let h = Harness::start(Config::default()).await;
    h.exchange(ru("/start"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains("Deep Dive 2 Deep Learning"), "{}", m.text);
    assert!(m.text.contains("Канал про глубокое машинное обучение"));
    assert!(
        m.text.contains("/search")
            && m.text.contains("/random")
            && m.text.contains("/topic")
            && m.text.contains("/post")
    );
    h.exchange(updates::text(2002, 2002, Some("en-GB"), "/help"), "sendMessage", 1).await;
    let m = h.last(2002);
    assert!(m.text.contains("What I can do"), "{}", m.text);
    h.finish().await;
}

#[tokio::test]
async fn search_pages_forward_back_and_past_the_end() {
    let h = Harness::start(Config::default()).await;
    h.exchange(ru("/search обучение"), "sendMessage", 1).await;
    let first = h.last(ME);
    assert!(first.text.contains("стр. 1/4"), "{}", first.text);
    assert_eq!(labels(&first), ["1/4", "▶", "🕒 Сначала новые"]);
    assert!(first.text.contains("/post_"));
    assert!(first.entities.iter().any(|e| e["type"] == "bold"), "matched words are bold");

    let next = button(&first, "▶").expect("next button");
    h.exchange(updates::callback(ME, Some("ru"), &first, &next), "editMessageText", 1).await;
    let second = h.last(ME);
    assert_eq!(second.message_id, first.message_id, "paging edits in place");
    assert!(second.text.contains("стр. 2/4"), "{}", second.text);
    assert_eq!(labels(&second), ["◀", "2/4", "▶", "🕒 Сначала новые"]);

    let back = button(&second, "◀").expect("back button");
    h.exchange(updates::callback(ME, Some("ru"), &second, &back), "editMessageText", 1).await;
    assert!(h.last(ME).text.contains("стр. 1/4"));

    // The current-page button, and a double tap: answered, nothing edited.
    let page1 = h.last(ME);
    let edits = h.tg.calls_to("editMessageText").len();
    let noop = button(&page1, "1/4").expect("page label");
    h.exchange(updates::callback(ME, Some("ru"), &page1, &noop), "answerCallbackQuery", 1).await;
    let answer = h.tg.calls_to("answerCallbackQuery").pop().expect("answered");
    assert_eq!(answer.params["text"], "Страница 1 из 4", "the page counter names the page");
    h.exchange(updates::callback(ME, Some("ru"), &page1, &back), "answerCallbackQuery", 1).await;
    assert_eq!(h.tg.calls_to("editMessageText").len(), edits, "no identical edit was attempted");

    // Walk to the last page, then press a stale "next" beyond it.
    let mut msg = h.last(ME);
    while let Some(next) = button(&msg, "▶") {
        h.exchange(updates::callback(ME, Some("ru"), &msg, &next), "editMessageText", 1).await;
        msg = h.last(ME);
    }
    assert!(msg.text.contains("стр. 4/4"), "{}", msg.text);
    // The same search, a page past the last: clamped to the last page (which is shown, so
    // nothing is edited), not treated as an expired button.
    let Some(Action::Search { query, .. }) = Action::decode(&next) else { panic!("a search button: {next}") };
    let past = Action::Search { query, page: 9 }.encode();
    let edits = h.tg.calls_to("editMessageText").len();
    h.exchange(updates::callback(ME, Some("ru"), &msg, &past), "answerCallbackQuery", 1).await;
    let answer = h.tg.calls_to("answerCallbackQuery").pop().expect("answered");
    assert!(answer.params["text"].as_str().is_none_or(|t| !t.contains("повторите поиск")), "{:?}", answer.params);
    assert_eq!(h.tg.calls_to("editMessageText").len(), edits, "clamped to the page shown");
    assert!(h.last(ME).text.contains("стр. 4/4"));
    h.finish().await;
}

#[tokio::test]
async fn a_long_cyrillic_query_pages_with_short_callback_data() {
    let h = Harness::start(Config::default()).await;
    let words = ["обучение", "подкрепление", "робототехника", "экзопланеты", "распознавание", "нейросети"];
    let mut query = String::new();
    while query.chars().count() < 300 {
        query.push_str(words[query.len() % words.len()]);
        query.push(' ');
    }
    h.exchange(ru(&format!("/search {query}")), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains("Найдено"), "{}", m.text);
    let next = button(&m, "▶").expect("several pages");
    assert!(next.len() <= 64);
    h.exchange(updates::callback(ME, Some("ru"), &m, &next), "editMessageText", 1).await;
    assert!(h.last(ME).text.contains("стр. 2/"));
    h.finish().await;
}

#[tokio::test]
async fn nothing_found_offers_the_suggestion_as_a_button() {
    let h = Harness::start(Config::default()).await;
    // A typo that finds nothing: the correction's results at once, and the query as typed a button away.
    h.exchange(ru("/search экзопланетты"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains("Показаны результаты по запросу «экзопланеты»"), "{}", m.text);
    assert!(m.text.contains("Как DL открывает новые экзопланеты"), "{}", m.text);
    let typed = button(&m, "Искать «экзопланетты»").expect("search as typed");
    // As typed: nothing found, and the suggestion offered as a button.
    h.exchange(updates::callback(ME, Some("ru"), &m, &typed), "editMessageText", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains("Ничего не нашлось") && m.text.contains("Возможно, вы искали: экзопланеты"), "{}", m.text);
    let suggestion = button(&m, "🔎").expect("suggestion button");
    h.exchange(updates::callback(ME, Some("ru"), &m, &suggestion), "editMessageText", 1).await;
    assert!(h.last(ME).text.contains("Как DL открывает новые экзопланеты"));
    h.exchange(ru("/search"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("/search торговая стратегия"), "usage hint");
    h.exchange(ru("/search  *** \"\" ((( "), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Ничего не нашлось"));
    h.finish().await;
}

#[tokio::test]
async fn expired_and_garbage_buttons_say_search_again() {
    let h = Harness::start(Config::default()).await;
    h.exchange(ru("/search обучение"), "sendMessage", 1).await;
    let m = h.last(ME);
    for data in ["s:999999:1", "zzz", "t:no-such-topic:0", "p:notanumber"] {
        h.exchange(updates::callback(ME, Some("ru"), &m, data), "answerCallbackQuery", 1).await;
    }
    let answers = h.tg.calls_to("answerCallbackQuery");
    assert_eq!(answers.len(), 4);
    for (data, answer) in ["s:999999:1", "zzz", "t:no-such-topic:0", "p:notanumber"].iter().zip(&answers) {
        let text = answer.params["text"].as_str();
        if data.starts_with("t:") {
            // A topic that no longer exists: the message itself says so.
            assert_eq!(text, None, "{data}");
        } else {
            assert!(text.is_some_and(|t| t.contains("повторите поиск")), "{data}: {:?}", answer.params);
        }
    }
    let edits = h.tg.calls_to("editMessageText");
    assert_eq!(edits.len(), 1, "only the topic button edits: {}", h.tg.dump_calls());
    assert!(h.last(ME).text.contains("Такой темы нет"), "{}", h.last(ME).text);
    h.finish().await;
}

#[tokio::test]
async fn random_does_not_repeat_and_has_a_more_button() {
    let h = Harness::start(Config::default()).await;
    h.exchange(ru("/random"), "sendMessage", 1).await;
    let mut seen = HashSet::new();
    for _ in 0..15 {
        let m = h.last(ME);
        let id = m.text.rsplit('#').next().and_then(|s| s.split_whitespace().next()).expect("footer id").to_string();
        assert!(seen.insert(id.clone()), "post #{id} repeated");
        let more = button(&m, "🎲").expect("more button");
        h.exchange(updates::callback(ME, Some("ru"), &m, &more), "sendMessage", 1).await;
    }
    h.finish().await;
}

#[tokio::test]
async fn topics_list_and_pages() {
    let h = Harness::start(Config::default()).await;
    h.exchange(ru("/topic"), "sendMessage", 1).await;
    let list = h.last(ME);
    assert!(labels(&list).len() >= 8);
    let robotics = button(&list, "🤖").expect("robotics button");
    h.exchange(updates::callback(ME, Some("ru"), &list, &robotics), "editMessageText", 1).await;
    let page = h.last(ME);
    assert!(page.text.contains("Робототехника — 4"), "{}", page.text);
    let back = button(&page, "⬅").expect("back to topics");
    h.exchange(updates::callback(ME, Some("ru"), &page, &back), "editMessageText", 1).await;
    assert!(h.last(ME).text.contains("Темы архива"));

    h.exchange(ru("/topic РОБОТОТЕХНИКА"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Робототехника — 4"));
    h.exchange(updates::text(2002, 2002, Some("en"), "/topic robotics"), "sendMessage", 1).await;
    assert!(h.last(2002).text.contains("Robotics — 4"), "{}", h.last(2002).text);
    h.exchange(ru("/topic кулинария"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Такой темы нет"));
    h.finish().await;
}

fn archive_with(extra: Vec<(String, Vec<postkeeper::model::Entity>)>) -> Archive {
    let mut archive = Archive::open_in_memory().expect("store");
    postkeeper::ingest::import_seed(&mut archive).expect("seed");
    archive
        .import(|sink| -> Result<(), postkeeper::store::StoreError> {
            sink.channel(&NewChannel { username: Some("testchan".into()), ..NewChannel::telegram(-100777, "Test") })?;
            for (i, (text, entities)) in extra.into_iter().enumerate() {
                let id = i as i64 + 1;
                sink.post(NewPost {
                    message_id: Some(id),
                    seq: id,
                    date: Some(1_634_000_000 + id),
                    edited: None,
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

#[tokio::test]
async fn posts_render_escaped_formatted_and_split() {
    use postkeeper::model::{Entity, EntityKind};
    let nasty = "Теги <script>alert(1)</script> & \"кавычки\" 😀 <b>не жирный</b>\nжирный и ссылка".to_string();
    let units = nasty.encode_utf16().count() as u32;
    let entities = vec![
        Entity { kind: EntityKind::Bold, offset: units - 16, length: 6 },
        Entity {
            kind: EntityKind::TextLink { url: "https://example.com/?a=1&b=2".into() },
            offset: units - 6,
            length: 6,
        },
    ];
    let paragraph = "Очень длинный абзац про нейросети и роботов, с эмодзи 🤖 и без. ".repeat(30);
    let long = format!("Длинный пост\n{}", vec![paragraph; 5].join("\n\n"));
    assert!(long.encode_utf16().count() > 4096 * 2);
    let h = Harness::with_archive(
        Config::default(),
        archive_with(vec![(nasty.clone(), entities), (long.clone(), Vec::new())]),
    )
    .await;

    h.exchange(ru("/post 21"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.starts_with(&nasty), "{}", m.text);
    assert!(m.entities.iter().any(|e| e["type"] == "bold"));
    assert!(m.entities.iter().any(|e| e["type"] == "text_link" && e["url"] == "https://example.com/?a=1&b=2"));
    assert!(
        m.text.contains("https://t.me/testchan/1") || m.entities.iter().any(|e| e["url"] == "https://t.me/testchan/1")
    );

    let before = h.tg.messages(ME).len();
    h.exchange(ru("/post_22"), "sendMessage", 3).await;
    let parts: Vec<_> = h.tg.messages(ME).into_iter().skip(before).collect();
    assert!(parts.len() >= 3, "{} parts", parts.len());
    for p in &parts {
        assert!(p.text.encode_utf16().count() <= 4096);
    }
    let joined: String = parts.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n\n");
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert!(joined.starts_with("Длинный пост"));
    assert_eq!(words(&joined)[..words(&long).len()], words(&long)[..], "every word arrives, in order");

    h.exchange(ru("/post 9999"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("нет"));
    h.exchange(ru("/post abc"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("/post 3"));
    h.finish().await;
}

#[tokio::test]
async fn inline_mode_pages_with_offsets() {
    let extra =
        (1..=45).map(|i| (format!("Пост номер {i}\nтекст про роботов и <теги> & прочее"), Vec::new())).collect();
    let h = Harness::with_archive(Config::default(), archive_with(extra)).await;
    let mut offset = String::new();
    let mut ids = HashSet::new();
    let mut pages = 0;
    loop {
        h.exchange(updates::inline_query(ME, Some("ru"), "", &offset), "answerInlineQuery", 1).await;
        let answer = h.tg.inline_answers().pop().expect("answered");
        let results = answer["results"].as_array().expect("results").clone();
        assert!(results.len() <= 20);
        for r in &results {
            assert!(ids.insert(r["id"].as_str().expect("id").to_string()), "duplicate across pages");
        }
        pages += 1;
        offset = answer["next_offset"].as_str().unwrap_or("").to_string();
        if offset.is_empty() {
            break;
        }
    }
    assert_eq!(ids.len(), 65);
    assert_eq!(pages, 4);
    h.exchange(updates::inline_query(ME, Some("ru"), "робот", ""), "answerInlineQuery", 1).await;
    let answer = h.tg.inline_answers().pop().expect("answered");
    assert_eq!(answer["results"].as_array().map(Vec::len), Some(20));
    assert_eq!(answer["next_offset"], "20");
    let first = &answer["results"][0];
    assert!(first["title"].as_str().is_some_and(|t| !t.is_empty()));
    let results = answer["results"].as_array().expect("results");
    assert!(
        results
            .iter()
            .any(|r| r["input_message_content"]["message_text"].as_str().is_some_and(|t| t.contains("&lt;теги&gt;")))
    );
    h.finish().await;
}

#[tokio::test]
async fn junk_and_foreign_input_is_harmless() {
    let h = Harness::start(Config::default()).await;
    h.silent(updates::sticker(ME, ME)).await;
    h.silent(updates::photo(ME, ME)).await;
    h.silent(updates::location(ME, ME)).await;
    h.silent(updates::poll("что?")).await;
    h.silent(updates::my_chat_member(ME, ME, "member")).await;
    h.silent(updates::edited_text(ME, ME, "/search исправлено")).await;
    h.silent(ru("/search@someotherbot робот")).await;
    h.silent(updates::group_text(-5005, ME, "просто разговор в группе")).await;
    h.exchange(ru("/frobnicate"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("/help"));
    h.exchange(ru(&format!("/search@{} робот", fake_bot_api::BOT_USERNAME)), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Найдено"));
    h.exchange(updates::group_text(-5005, ME, "/search робот"), "sendMessage", 1).await;
    assert!(h.last(-5005).text.contains("Найдено"));
    h.exchange(ru("экзопланеты"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Найдено"), "plain text searches in private chats");
    h.finish().await;
}

#[tokio::test]
async fn a_429_on_a_reply_is_waited_out() {
    let h = Harness::start(Config::default()).await;
    h.tg.inject("sendMessage", Fault::RetryAfter(1));
    let started = std::time::Instant::now();
    h.exchange(ru("/random"), "sendMessage", 1).await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "waited retry_after");
    let calls = h.tg.calls_to("sendMessage");
    assert_eq!(calls.len(), 2);
    assert!(calls[0].injected && calls[1].ok);
    h.finish().await;
}

#[tokio::test]
async fn a_failing_handler_says_so_and_the_bot_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    let mut archive = Archive::open(&db).expect("store opens");
    postkeeper::ingest::import_seed(&mut archive).expect("seed imports");
    let h = Harness::with_archive(Config::default(), archive).await;
    // Broken behind the bot's back, by a connection of the test's own.
    rusqlite::Connection::open(&db).and_then(|c| c.execute_batch("DROP TABLE queries")).expect("dropped");
    h.exchange(ru("/search робот"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Что-то пошло не так"), "{}", h.last(ME).text);
    h.exchange(ru("/post 1"), "sendMessage", 1).await;
    assert!(h.last(ME).text.contains("Повторение"));
    h.finish().await;
}

#[tokio::test]
async fn commands_are_registered_in_russian_and_english() {
    let tg = fake_bot_api::FakeTelegram::start().await;
    postkeeper::bot::register_commands(&tg.bot()).await.expect("registers");
    let ru = tg.my_commands(None);
    let en = tg.my_commands(Some("en"));
    assert!(ru.iter().any(|(c, d)| c == "search" && d.contains("Поиск")));
    assert!(en.iter().any(|(c, d)| c == "search" && d.contains("Search")));
}

/// `/id` tells an admin what to paste into `.env`; in a group also the group's id; a
/// channel post forwarded to the bot tells the channel's id.
#[tokio::test]
async fn id_tells_the_ids_an_admin_needs() {
    let h = Harness::start(Config::default()).await;
    h.exchange(ru("/id"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains(&format!("Ваш id в Telegram: {ME}")), "{}", m.text);
    assert!(m.text.contains(&format!("POSTKEEPER_ADMINS={ME}")), "{}", m.text);
    assert!(!m.text.contains("id этого чата"), "a private chat's id is the user's: {}", m.text);

    const GROUP: i64 = -1_009_000_000_001;
    h.tg.add_chat(updates::group_chat(GROUP));
    h.exchange(updates::group_text(GROUP, 2002, "/id@postkeeper_test_bot"), "sendMessage", 1).await;
    let m = h.last(GROUP);
    assert!(m.text.contains("2002") && m.text.contains(&format!("{GROUP}")), "{}", m.text);

    let mut forwarded = updates::text(ME, ME, Some("en"), "a post of the channel");
    forwarded["message"]["forward_origin"] = serde_json::json!({
        "type": "channel",
        "chat": updates::channel_chat(-1_001_777_000_001, Some("my_channel")),
        "message_id": 42,
        "date": updates::now(),
    });
    forwarded["message"]["forward_origin"]["chat"]["title"] = "My Channel".into();
    h.exchange(forwarded, "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.contains("Channel «My Channel»: id -1001777000001"), "{}", m.text);
    assert!(m.text.contains("POSTKEEPER_SOURCE_CHAT=-1001777000001"), "{}", m.text);
    h.finish().await;
}

#[tokio::test]
async fn a_first_conversation_greets_thanks_and_knows_no_such_post() {
    let h = Harness::start(Config::default()).await;
    // A greeting is answered as one, with two searches that find posts here.
    h.exchange(ru("Привет!"), "sendMessage", 1).await;
    let m = h.last(ME);
    assert!(m.text.starts_with("Здравствуйте!"), "{}", m.text);
    assert!(!m.text.contains("приведет") && !m.text.contains("Найдено"), "not a search: {}", m.text);
    let examples: Vec<String> = m
        .text
        .lines()
        .find_map(|l| l.strip_prefix("Например: "))
        .map_or_else(Vec::new, |l| l.split(" или ").map(str::to_string).collect());
    assert_eq!(examples.len(), 2, "{}", m.text);
    for example in &examples {
        h.exchange(ru(example), "sendMessage", 1).await;
        let found = h.last(ME);
        assert!(found.text.contains("Найдено") && !found.text.contains("Показаны"), "{example}: {}", found.text);
    }
    h.exchange(ru("спасибо"), "sendMessage", 1).await;
    assert!(h.last(ME).text.starts_with("Пожалуйста!"), "{}", h.last(ME).text);
    h.exchange(updates::text(2002, 2002, Some("en"), "Thank you!"), "sendMessage", 1).await;
    assert!(h.last(2002).text.starts_with("You're welcome!"), "{}", h.last(2002).text);
    h.exchange(updates::text(2002, 2002, Some("en"), "hi"), "sendMessage", 1).await;
    assert!(h.last(2002).text.contains("For example: "), "{}", h.last(2002).text);
    // In a group, a greeting is not for the bot.
    h.silent(updates::group_text(-5005, ME, "привет")).await;

    // Post numbers no post can have: there is no such post, not "give me a number".
    for arg in ["99999999999999999999", "-5", "0", "#0"] {
        h.exchange(ru(&format!("/post {arg}")), "sendMessage", 1).await;
        assert!(h.last(ME).text.starts_with("Поста с таким номером нет"), "{arg}: {}", h.last(ME).text);
        h.exchange(ru(&format!("/similar {arg}")), "sendMessage", 1).await;
        assert!(h.last(ME).text.starts_with("Поста с таким номером нет"), "{arg}: {}", h.last(ME).text);
    }
    for arg in ["", "abc", "1-2"] {
        h.exchange(ru(&format!("/post {arg}")), "sendMessage", 1).await;
        assert!(h.last(ME).text.starts_with("Укажите номер поста"), "{arg:?}: {}", h.last(ME).text);
    }
    h.finish().await;
}
