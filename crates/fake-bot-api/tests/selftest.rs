//! The fake server itself, through teloxide and raw HTTP: what it answers, what it refuses
//! the way Telegram does, and the faults it injects.

use std::time::Duration;

use fake_bot_api::{BOT_ID, FakeTelegram, Fault, MediaKind, MediaSource, StoredMessage, TOKEN, updates};
use serde_json::{Value, json};
use teloxide::prelude::*;
use teloxide::types::{
    AllowedUpdate, BotCommand, CallbackQueryId, FileId, InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryId,
    InlineQueryResult, InlineQueryResultArticle, InlineQueryResultCachedPhoto, InputFile, InputMedia,
    InputMediaAnimation, InputMediaAudio, InputMediaDocument, InputMediaPhoto, InputMediaVideo, InputMessageContent,
    InputMessageContentText, MessageEntityKind, MessageId, ParseMode, Recipient, ReplyParameters, UpdateKind,
};
use teloxide::{ApiError, RequestError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USER: i64 = 1001;
const CHANNEL: i64 = -1001234567890;
const WAIT: Duration = Duration::from_secs(2);

/// A fake server with a private chat with USER (who sent /start, message id 1).
async fn setup() -> (FakeTelegram, Bot) {
    let fake = FakeTelegram::start().await;
    fake.push_update(updates::text(USER, USER, Some("ru"), "/start"));
    let bot = fake.bot();
    (fake, bot)
}

/// The exact `description` Telegram sent.
fn description(err: &RequestError) -> String {
    match err {
        RequestError::Api(ApiError::Unknown(s)) | RequestError::Api(ApiError::CantParseEntities(s)) => s.clone(),
        RequestError::Api(e) => e.to_string(),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn keyboard(data: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::callback("Next", data)]])
}

/// A bare HTTP/1.1 request to the fake server: (status, body).
async fn raw(fake: &FakeTelegram, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let url = fake.url();
    let addr = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect to the fake server");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read response");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn method_path(method: &str) -> String {
    format!("/bot{TOKEN}/{method}")
}

#[tokio::test]
async fn valid_html_is_parsed_into_text_and_entities() {
    let (fake, bot) = setup().await;
    let html = "<b>Bold</b> &amp; <a href=\"https://example.com/?a=1&amp;b=2\">link</a> &lt;3 &#x1F600;";
    let sent = bot.send_message(ChatId(USER), html).parse_mode(ParseMode::Html).await.expect("valid HTML is accepted");
    assert_eq!(sent.text(), Some("Bold & link <3 😀"));
    assert_eq!(sent.id.0, 2, "message ids follow the user's /start (id 1)");
    let entities = sent.entities().expect("entities");
    assert_eq!(entities.len(), 2);
    assert_eq!(entities[0].kind, MessageEntityKind::Bold);
    assert_eq!((entities[0].offset, entities[0].length), (0, 4));
    assert!(
        matches!(&entities[1].kind, MessageEntityKind::TextLink { url } if url.as_str() == "https://example.com/?a=1&b=2")
    );
    assert_eq!((entities[1].offset, entities[1].length), (7, 4));

    let stored = fake.messages(USER);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].html, html);
    assert_eq!(stored[0].text, "Bold & link <3 😀");
    assert_eq!(stored[0].edits, 0);

    // <pre><code class="language-x"> and expandable blockquotes, upper-case tags
    let sent = bot
        .send_message(
            ChatId(USER),
            "<PRE><code class=\"language-rust\">fn x() {}</code></PRE>\n<blockquote expandable>q</blockquote> <span class=\"tg-spoiler\">s</span>",
        )
        .parse_mode(ParseMode::Html)
        .await
        .expect("pre/code, blockquote, spoiler");
    let kinds: Vec<_> = sent.entities().expect("entities").iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            MessageEntityKind::Pre { language: Some("rust".to_string()) },
            MessageEntityKind::ExpandableBlockquote,
            MessageEntityKind::Spoiler
        ]
    );

    // offsets count UTF-16 units (Cyrillic 1, emoji 2) and shift when the text is trimmed
    let sent = bot
        .send_message(ChatId(USER), " \n<b>Привет</b> 😀 <i>мир</i> &lt;ё&gt;\n ")
        .parse_mode(ParseMode::Html)
        .await
        .expect("trimmed text with entities");
    assert_eq!(sent.text(), Some("Привет 😀 мир <ё>"));
    let spans: Vec<_> =
        sent.entities().expect("entities").iter().map(|e| (e.kind.clone(), e.offset, e.length)).collect();
    assert_eq!(spans, vec![(MessageEntityKind::Bold, 0, 6), (MessageEntityKind::Italic, 10, 3)]);

    // without parse_mode the text is literal
    let sent = bot.send_message(ChatId(USER), "a < b & <b>c</b>").await.expect("literal text");
    assert_eq!(sent.text(), Some("a < b & <b>c</b>"));
    assert!(fake.errors().is_empty(), "{}", fake.dump_calls());
}

#[tokio::test]
async fn invalid_html_is_refused() {
    let (fake, bot) = setup().await;
    let cases = [
        ("<b>unclosed", "Can't find end tag corresponding to start tag \"b\""),
        ("a < b", "Unsupported start tag \"\" at byte offset 2"),
        ("AT&T", "Unescaped \"&\" at byte offset 2"),
        ("&lt without semicolon", "Unescaped \"&\" at byte offset 0"),
        ("<b><i>x</b></i>", "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\""),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", "Tag \"span\" must have class \"tg-spoiler\""),
        ("<a href=x>y</a", "Unclosed end tag at byte offset 11"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<tg-emoji>😀</tg-emoji>", "Invalid custom emoji identifier specified"),
    ];
    for (html, expected) in cases {
        let err = bot.send_message(ChatId(USER), html).parse_mode(ParseMode::Html).await.expect_err(html);
        assert!(matches!(err, RequestError::Api(ApiError::CantParseEntities(_))), "{html}: {err:?}");
        let d = description(&err);
        assert!(d.starts_with("Bad Request: can't parse entities: ") && d.contains(expected), "{html}: {d}");
    }
    assert!(fake.messages(USER).is_empty());
    assert_eq!(fake.errors().len(), cases.len());
}

#[tokio::test]
async fn unknown_tag_gives_telegrams_error_with_byte_offset() {
    let (_fake, bot) = setup().await;
    let err = bot
        .send_message(ChatId(USER), "Привет <div>x</div>")
        .parse_mode(ParseMode::Html)
        .await
        .expect_err("div is not allowed");
    assert_eq!(description(&err), "Bad Request: can't parse entities: Unsupported start tag \"div\" at byte offset 13");
}

#[tokio::test]
async fn text_length_is_counted_in_utf16_after_parsing() {
    let (fake, bot) = setup().await;
    let err = bot.send_message(ChatId(USER), "😀".repeat(2049)).await.expect_err("4098 UTF-16 units");
    assert!(matches!(err, RequestError::Api(ApiError::MessageIsTooLong)), "{err:?}");
    let ok = bot.send_message(ChatId(USER), "😀".repeat(2048)).await.expect("4096 UTF-16 units");
    // markup does not count: 4095 'a' + one '&' = 4096 after parsing
    bot.send_message(ChatId(USER), format!("<b>{}</b>&amp;", "a".repeat(4095)))
        .parse_mode(ParseMode::Html)
        .await
        .expect("4096 after parsing");

    for empty in ["", "   \n ", "<b> </b>"] {
        let err = bot.send_message(ChatId(USER), empty).parse_mode(ParseMode::Html).await.expect_err("empty");
        assert!(matches!(err, RequestError::Api(ApiError::MessageTextIsEmpty)), "{empty:?}: {err:?}");
    }

    let err = bot.edit_message_text(ChatId(USER), ok.id, "😀".repeat(2049)).await.expect_err("edit too long");
    assert!(matches!(err, RequestError::Api(ApiError::EditedMessageIsTooLong)), "{err:?}");
    assert_eq!(fake.messages(USER).len(), 2);
}

#[tokio::test]
async fn inline_keyboards_are_validated() {
    let (fake, bot) = setup().await;
    // 33 Cyrillic letters = 66 bytes
    let err = bot
        .send_message(ChatId(USER), "Pick")
        .reply_markup(keyboard(&"я".repeat(33)))
        .await
        .expect_err("66 bytes of callback data");
    assert!(matches!(err, RequestError::Api(ApiError::ButtonDataInvalid)), "{err:?}");
    let err = bot
        .send_message(ChatId(USER), "Pick")
        .reply_markup(keyboard(&format!("{}x", "я".repeat(32))))
        .await
        .expect_err("65 bytes of callback data");
    assert!(matches!(err, RequestError::Api(ApiError::ButtonDataInvalid)), "{err:?}");
    bot.send_message(ChatId(USER), "Pick")
        .reply_markup(keyboard(&"я".repeat(32)))
        .await
        .expect("64 bytes of callback data");

    let bad_url = InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::url(
        "Open",
        "ftp://example.com/file".parse().expect("url"),
    )]]);
    let err = bot.send_message(ChatId(USER), "Open").reply_markup(bad_url).await.expect_err("ftp url");
    assert!(matches!(err, RequestError::Api(ApiError::ButtonUrlInvalid)), "{err:?}");
    let good_url = InlineKeyboardMarkup::new(vec![vec![
        InlineKeyboardButton::url("Open", "https://t.me/durov".parse().expect("url")),
        InlineKeyboardButton::url("App", "tg://resolve?domain=durov".parse().expect("url")),
    ]]);
    let sent = bot.send_message(ChatId(USER), "Open").reply_markup(good_url).await.expect("https and tg urls");
    assert!(sent.reply_markup().is_some());

    let path = method_path("sendMessage");
    for (button, expected) in [
        (
            json!({"text": "No action"}),
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
        (json!({"text": "x", "callback_data": ""}), "Bad Request: BUTTON_DATA_INVALID"),
        (json!({"text": "x", "callback_data": "a", "url": "https://a.b"}), "exactly one of the optional fields"),
        (json!({"text": "", "callback_data": "a"}), "Bad Request: BUTTON_TEXT_INVALID"),
    ] {
        let body = json!({"chat_id": USER, "text": "x", "reply_markup": {"inline_keyboard": [[button]]}});
        let (status, resp) = raw(&fake, &path, "application/json", &body.to_string()).await;
        assert_eq!(status, 400);
        let resp: Value = serde_json::from_str(&resp).expect("json error");
        assert!(resp["description"].as_str().is_some_and(|d| d.contains(expected)), "{resp}");
    }
    assert_eq!(fake.messages(USER).len(), 2);
}

#[tokio::test]
async fn edits_to_identical_content_are_refused() {
    let (fake, bot) = setup().await;
    let msg = bot
        .send_message(ChatId(USER), "<b>Page 1</b>")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard("page:2"))
        .await
        .expect("send");

    // same text (same entities, other HTML spelling) and same keyboard
    let err = bot
        .edit_message_text(ChatId(USER), msg.id, "<strong>Page 1</strong>")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard("page:2"))
        .await
        .expect_err("not modified");
    assert!(matches!(err, RequestError::Api(ApiError::MessageNotModified)), "{err:?}");
    let err = bot
        .edit_message_reply_markup(ChatId(USER), msg.id)
        .reply_markup(keyboard("page:2"))
        .await
        .expect_err("markup not modified");
    assert!(matches!(err, RequestError::Api(ApiError::MessageNotModified)), "{err:?}");

    // the text without bold is a different content
    bot.edit_message_text(ChatId(USER), msg.id, "Page 1")
        .reply_markup(keyboard("page:2"))
        .await
        .expect("entities changed");
    // omitting reply_markup removes the keyboard: a change
    let edited = bot.edit_message_text(ChatId(USER), msg.id, "Page 1").await.expect("keyboard removed");
    assert!(edited.reply_markup().is_none());
    let err = bot.edit_message_text(ChatId(USER), msg.id, "Page 1").await.expect_err("now identical");
    assert!(matches!(err, RequestError::Api(ApiError::MessageNotModified)), "{err:?}");
    bot.edit_message_reply_markup(ChatId(USER), msg.id).reply_markup(keyboard("page:3")).await.expect("markup changed");

    let stored = fake.message(USER, msg.id.0.into()).expect("stored");
    assert_eq!(stored.text, "Page 1");
    assert_eq!(stored.edits, 3);
    assert_eq!(stored.reply_markup, Some(json!({"inline_keyboard": [[{"text": "Next", "callback_data": "page:3"}]]})));

    let err =
        bot.edit_message_text(ChatId(USER), teloxide::types::MessageId(999), "x").await.expect_err("no such message");
    assert!(matches!(err, RequestError::Api(ApiError::MessageToEditNotFound)), "{err:?}");
    let err =
        bot.edit_message_text(ChatId(USER), teloxide::types::MessageId(1), "x").await.expect_err("the user's /start");
    assert!(matches!(err, RequestError::Api(ApiError::MessageCantBeEdited)), "{err:?}");

    bot.delete_message(ChatId(USER), msg.id).await.expect("delete");
    assert!(fake.messages(USER).is_empty());
    let err = bot.delete_message(ChatId(USER), msg.id).await.expect_err("already deleted");
    assert!(matches!(err, RequestError::Api(ApiError::MessageToDeleteNotFound)), "{err:?}");
}

#[tokio::test]
async fn callback_queries_are_answered_once() {
    let (fake, bot) = setup().await;
    bot.send_message(ChatId(USER), "Page 1").reply_markup(keyboard("page:2")).await.expect("send");
    let stored = fake.messages(USER).pop().expect("stored message");
    fake.push_update(updates::callback(USER, Some("en"), &stored, "page:2"));

    let ups = bot.get_updates().await.expect("getUpdates");
    let query = ups
        .iter()
        .find_map(|u| match &u.kind {
            UpdateKind::CallbackQuery(q) => Some(q.clone()),
            _ => None,
        })
        .expect("callback query delivered");
    assert_eq!(query.data.as_deref(), Some("page:2"));
    assert_eq!(query.regular_message().map(|m| i64::from(m.id.0)), Some(stored.message_id));
    assert_eq!(fake.unanswered_callbacks(), vec![query.id.0.clone()]);

    let err = bot.answer_callback_query(query.id.clone()).text("x".repeat(201)).await.expect_err("text over 200");
    assert_eq!(description(&err), "Bad Request: MESSAGE_TOO_LONG");
    bot.answer_callback_query(query.id.clone()).text("Page 2").await.expect("first answer");
    assert!(fake.unanswered_callbacks().is_empty());
    let err = bot.answer_callback_query(query.id.clone()).await.expect_err("second answer");
    assert_eq!(description(&err), "Bad Request: query is too old and response timeout expired or query ID is invalid");
    let err = bot.answer_callback_query(CallbackQueryId("nope".into())).await.expect_err("unknown id");
    assert!(description(&err).contains("query ID is invalid"));
}

fn article(id: &str, html: &str) -> InlineQueryResult {
    InlineQueryResult::Article(InlineQueryResultArticle::new(
        id,
        format!("Title {id}"),
        InputMessageContent::Text(InputMessageContentText::new(html).parse_mode(ParseMode::Html)),
    ))
}

#[tokio::test]
async fn inline_answers_are_validated() {
    let (fake, bot) = setup().await;
    let update_id = fake.push_update(updates::inline_query(USER, Some("ru"), "rust", ""));
    let query_id =
        fake.queued_update(update_id).expect("queued")["inline_query"]["id"].as_str().expect("id").to_string();
    let qid = || InlineQueryId(query_id.clone());

    let many: Vec<_> = (0..51).map(|i| article(&i.to_string(), "<b>x</b>")).collect();
    let err = bot.answer_inline_query(qid(), many).await.expect_err("51 results");
    assert!(matches!(err, RequestError::Api(ApiError::TooMuchInlineQueryResults)), "{err:?}");
    let err =
        bot.answer_inline_query(qid(), vec![article("a", "x"), article("a", "y")]).await.expect_err("duplicate ids");
    assert_eq!(description(&err), "Bad Request: RESULT_ID_DUPLICATE");
    let err = bot.answer_inline_query(qid(), vec![article(&"i".repeat(65), "x")]).await.expect_err("long id");
    assert_eq!(description(&err), "Bad Request: RESULT_ID_INVALID");
    let err = bot.answer_inline_query(qid(), vec![article("a", "1 < 2")]).await.expect_err("bad HTML in a result");
    assert!(matches!(err, RequestError::Api(ApiError::CantParseEntities(_))), "{err:?}");
    let err = bot
        .answer_inline_query(qid(), vec![article("a", "x")])
        .next_offset("o".repeat(65))
        .await
        .expect_err("long next_offset");
    assert_eq!(description(&err), "Bad Request: NEXT_OFFSET_INVALID");
    assert_eq!(fake.unanswered_inline_queries(), vec![query_id.clone()]);

    let fifty: Vec<_> = (0..50).map(|i| article(&i.to_string(), "<i>ok</i>")).collect();
    bot.answer_inline_query(qid(), fifty).next_offset("50").await.expect("50 results");
    assert_eq!(fake.inline_answers().len(), 1);
    assert_eq!(fake.inline_answers()[0]["results"].as_array().map(Vec::len), Some(50));
    assert!(fake.unanswered_inline_queries().is_empty());
    let err = bot.answer_inline_query(qid(), vec![article("a", "x")]).await.expect_err("answered twice");
    assert!(description(&err).contains("query ID is invalid"));
}

#[tokio::test]
async fn injected_429_and_403_surface_in_teloxide() {
    let (fake, bot) = setup().await;
    fake.inject("sendMessage", Fault::RetryAfter(7));
    fake.inject("SENDMESSAGE", Fault::Forbidden);
    let err = bot.send_message(ChatId(USER), "hi").await.expect_err("429");
    match err {
        RequestError::RetryAfter(s) => assert_eq!(s.seconds(), 7),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    let err = bot.send_message(ChatId(USER), "hi").await.expect_err("403");
    assert_eq!(description(&err), "Forbidden: bot is not a member of the channel chat");
    bot.send_message(ChatId(USER), "hi").await.expect("faults are one-shot");

    let calls = fake.calls_to("sendmessage");
    assert_eq!(calls.len(), 3);
    assert!(calls[0].injected && !calls[0].ok && calls[0].status == 429);
    assert_eq!(calls[0].error.as_deref(), Some("Too Many Requests: retry after 7"));
    assert!(calls[1].injected && calls[1].status == 403);
    assert!(calls[2].ok && !calls[2].injected);
    assert!(fake.errors().is_empty(), "injected faults are not errors");
    assert_eq!(fake.messages(USER).len(), 1, "injected calls change nothing");

    // the raw body is exactly Telegram's
    fake.inject("getMe", Fault::RetryAfter(9));
    let (status, body) = raw(&fake, &method_path("getMe"), "application/json", "{}").await;
    assert_eq!(status, 429);
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 9", "parameters": {"retry_after": 9}})
    );
}

#[tokio::test]
async fn injected_server_errors() {
    let fake = FakeTelegram::start().await;
    fake.inject("getMe", Fault::ServerError(502));
    fake.inject("getMe", Fault::ServerError(500));
    let (status, body) = raw(&fake, &method_path("getMe"), "application/json", "{}").await;
    assert_eq!(status, 502);
    assert!(body.contains("<title>502 Bad Gateway</title>"), "{body}");
    let (status, body) = raw(&fake, &method_path("getMe"), "application/json", "{}").await;
    assert_eq!(status, 500);
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["description"], "Internal Server Error");

    // teloxide sleeps 10 s after any 5xx before reading the body: a bot test that injects
    // a 5xx costs 10 s of real time. Check only that the call was answered at once.
    fake.inject("getMe", Fault::ServerError(503));
    let bot = fake.bot();
    let pending = tokio::time::timeout(Duration::from_millis(300), bot.get_me()).await;
    assert!(pending.is_err(), "teloxide delays 5xx answers");
    let calls = fake.calls_to("getMe");
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|c| c.injected && !c.ok));
    assert_eq!(calls[2].status, 503);
}

#[tokio::test]
async fn dropped_connection_is_a_network_error() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    bot.get_me().await.expect("warm up a pooled connection");
    fake.inject("getMe", Fault::Drop);
    let err = tokio::time::timeout(WAIT, bot.get_me()).await.expect("no hang").expect_err("dropped");
    assert!(matches!(err, RequestError::Network(_)), "{err:?}");
    let me = bot.get_me().await.expect("next call works");
    assert_eq!(me.id.0 as i64, BOT_ID);
    let calls = fake.calls_to("getMe");
    assert_eq!(calls.len(), 3);
    assert!(calls[1].injected && calls[1].status == 0);
}

#[tokio::test]
async fn get_updates_delivers_all_builder_shapes() {
    let (fake, bot) = setup().await;
    fake.add_chat(updates::channel_chat(CHANNEL, Some("keeper")));
    let sent = bot.send_message(ChatId(USER), "menu").reply_markup(keyboard("m")).await.expect("send");
    let stored = fake.message(USER, sent.id.0.into()).expect("stored");
    let entities = json!([{"type": "bold", "offset": 0, "length": 5}]);
    let pushed = [
        updates::text(USER, USER, None, "hello"),
        updates::group_text(-4242, USER, "/search@postkeeper_test_bot rust"),
        updates::edited_text(USER, USER, "hello!"),
        updates::callback(USER, None, &stored, "m"),
        updates::inline_query(USER, Some("en"), "q", ""),
        updates::channel_post(CHANNEL, Some("keeper"), 77, 1_700_000_000, "Title\nbody", entities.clone()),
        updates::edited_channel_post(
            CHANNEL,
            Some("keeper"),
            77,
            1_700_000_000,
            1_700_000_100,
            "Title\nbody2",
            entities,
        ),
        updates::channel_photo(CHANNEL, Some("keeper"), 78, 1_700_000_200, "caption"),
        updates::sticker(USER, USER),
        updates::photo(USER, USER),
        updates::location(USER, USER),
        updates::poll("Why?"),
        updates::my_chat_member(-4242, USER, "member"),
        updates::chat_join_request(CHANNEL, USER),
    ];
    let n = pushed.len();
    let ids: Vec<i64> = pushed.into_iter().map(|u| fake.push_update(u)).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));

    let ups = bot.get_updates().await.expect("getUpdates");
    assert_eq!(ups.len(), n + 1, "the /start of setup() too");
    for u in &ups {
        assert!(!matches!(u.kind, UpdateKind::Error(_)), "teloxide could not parse {:?}", u.kind);
    }
    let ups = &ups[1..];
    match &ups[0].kind {
        UpdateKind::Message(m) => {
            assert_eq!(m.text(), Some("hello"));
            assert_eq!(m.id.0, sent.id.0 + 1, "ids interleave with the bot's");
        }
        k => panic!("{k:?}"),
    }
    match &ups[1].kind {
        UpdateKind::Message(m) => {
            assert!(m.chat.is_group());
            let e = m.entities().expect("command entity");
            assert_eq!(e[0].kind, MessageEntityKind::BotCommand);
            assert_eq!(e[0].length, "/search@postkeeper_test_bot".len());
        }
        k => panic!("{k:?}"),
    }
    match &ups[2].kind {
        UpdateKind::EditedMessage(m) => assert_eq!(m.id.0, sent.id.0 + 1),
        k => panic!("{k:?}"),
    }
    assert!(matches!(ups[3].kind, UpdateKind::CallbackQuery(_)));
    assert!(matches!(ups[4].kind, UpdateKind::InlineQuery(_)));
    match &ups[5].kind {
        UpdateKind::ChannelPost(m) => {
            assert_eq!(m.id.0, 77);
            assert_eq!(m.chat.username(), Some("keeper"));
            assert_eq!(m.entities().map(<[_]>::len), Some(1));
        }
        k => panic!("{k:?}"),
    }
    assert!(matches!(&ups[6].kind, UpdateKind::EditedChannelPost(m) if m.edit_date().is_some()));
    assert!(
        matches!(&ups[7].kind, UpdateKind::ChannelPost(m) if m.photo().is_some() && m.caption() == Some("caption"))
    );
    assert!(matches!(&ups[8].kind, UpdateKind::Message(m) if m.sticker().is_some()));
    assert!(matches!(&ups[9].kind, UpdateKind::Message(m) if m.photo().is_some()));
    assert!(matches!(&ups[10].kind, UpdateKind::Message(m) if m.location().is_some()));
    assert!(matches!(ups[11].kind, UpdateKind::Poll(_)));
    assert!(matches!(ups[12].kind, UpdateKind::MyChatMember(_)));
    assert!(matches!(ups[13].kind, UpdateKind::ChatJoinRequest(_)));

    // not confirmed yet: delivered again; offset confirms
    let again = bot.get_updates().await.expect("getUpdates");
    assert_eq!(again.len(), n + 1);
    let last = again.last().expect("last").id.0 as i32;
    let none = bot.get_updates().offset(last + 1).await.expect("getUpdates with offset");
    assert!(none.is_empty());
    assert_eq!(fake.pending_updates(), 0);

    // the bot can now write to the group and the channel (by @username too)
    bot.send_message(ChatId(-4242), "hi group").await.expect("group known");
    let post = bot
        .send_message(Recipient::ChannelUsername("@keeper".into()), "hi channel")
        .await
        .expect("channel by username");
    assert_eq!(post.id.0, 79, "after the channel's own posts");
    assert_eq!(fake.messages(CHANNEL).len(), 1);
    let chat = bot.get_chat(Recipient::ChannelUsername("@keeper".into())).await.expect("getChat");
    assert_eq!(chat.id.0, CHANNEL);
    assert!(fake.errors().is_empty(), "{}", fake.dump_calls());
}

#[tokio::test]
async fn long_poll_wakes_on_push_and_allowed_updates_filter() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    let started = tokio::time::Instant::now();
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(5).allowed_updates(vec![AllowedUpdate::Message]).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    fake.push_update(updates::poll("ignored?"));
    fake.push_update(updates::text(USER, USER, None, "wake up"));
    let ups = poll.await.expect("join").expect("getUpdates");
    assert!(started.elapsed() < Duration::from_secs(1), "long poll returned on push");
    assert_eq!(ups.len(), 1);
    assert!(matches!(&ups[0].kind, UpdateKind::Message(m) if m.text() == Some("wake up")));
    assert_eq!(fake.allowed_updates(), Some(vec!["message".to_string()]));
    assert_eq!(fake.filtered_updates().len(), 1);

    // timeout 0 answers at once
    let ups = bot.get_updates().offset(ups[0].id.0 as i32 + 1).await.expect("getUpdates");
    assert!(ups.is_empty());
    assert_eq!(fake.pending_updates(), 0);
    let methods: Vec<String> = fake.calls().into_iter().map(|c| c.method).collect();
    assert_eq!(methods, vec!["getUpdates", "getUpdates"], "canonical method names");
}

#[tokio::test]
async fn second_poller_cuts_off_the_first() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(5).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = bot.get_updates().timeout(0).await.expect("second poll");
    assert!(second.is_empty());
    let err = first.await.expect("join").expect_err("first poll cut off");
    assert!(matches!(err, RequestError::Api(ApiError::TerminatedByOtherGetUpdates)), "{err:?}");
}

#[tokio::test]
async fn wait_for_calls_and_wait_idle() {
    let (fake, bot) = setup().await;
    let started = tokio::time::Instant::now();
    tokio::spawn(async move {
        for i in 0..3 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            bot.send_message(ChatId(USER), format!("n{i}")).await.expect("send");
        }
    });
    let calls = fake.wait_for_calls("sendmessage", 3, WAIT).await;
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2].params["text"], "n2");
    assert_eq!(calls[2].result.as_ref().map(|r| r["text"].clone()), Some(json!("n2")));
    fake.wait_idle(Duration::from_millis(100)).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(fake.messages(USER).len(), 3);
}

#[tokio::test]
#[should_panic(expected = "timed out after")]
async fn wait_for_calls_panics_with_a_dump_on_timeout() {
    let (fake, bot) = setup().await;
    bot.get_me().await.expect("getMe");
    fake.wait_for_calls("sendMessage", 1, Duration::from_millis(50)).await;
}

#[tokio::test]
async fn chats_tokens_methods_and_forms() {
    let (fake, bot) = setup().await;
    let err = bot.send_message(ChatId(555), "who?").await.expect_err("unknown chat");
    assert!(matches!(err, RequestError::Api(ApiError::ChatNotFound)), "{err:?}");
    let err = bot.get_chat(Recipient::ChannelUsername("@nobody".into())).await.expect_err("unknown channel");
    assert!(matches!(err, RequestError::Api(ApiError::ChatNotFound)), "{err:?}");

    let wrong = Bot::new("123456789:wrong").set_api_url(fake.url().parse().expect("url"));
    let err = wrong.get_me().await.expect_err("wrong token");
    assert!(matches!(err, RequestError::Api(ApiError::InvalidToken)), "{err:?}");

    let (status, body) = raw(&fake, &method_path("sendPhotoo"), "application/json", "{}").await;
    assert_eq!(status, 404);
    assert!(body.contains("Not Found: method not found"), "{body}");

    // form-encoded requests work too (reply_markup as a JSON string)
    let form = format!(
        "chat_id={USER}&text=%3Cb%3Eform%3C%2Fb%3E&parse_mode=HTML&reply_markup={}",
        "%7B%22inline_keyboard%22%3A%5B%5B%7B%22text%22%3A%22a%22%2C%22callback_data%22%3A%22b%22%7D%5D%5D%7D"
    );
    let (status, body) = raw(&fake, &method_path("sendmessage"), "application/x-www-form-urlencoded", &form).await;
    assert_eq!(status, 200, "{body}");
    let stored = fake.messages(USER);
    assert_eq!(stored[0].text, "form");
    assert!(stored[0].reply_markup.is_some());

    bot.send_chat_action(ChatId(USER), teloxide::types::ChatAction::Typing).await.expect("chat action");
    // the user blocks the bot
    fake.push_update(updates::my_chat_member(USER, USER, "kicked"));
    let err = bot.send_message(ChatId(USER), "still there?").await.expect_err("blocked");
    assert!(matches!(err, RequestError::Api(ApiError::BotBlocked)), "{err:?}");
    assert_eq!(fake.errors().len(), 5);
}

#[tokio::test]
async fn channel_rate_limit_gives_real_429() {
    let fake = FakeTelegram::start().await;
    fake.add_chat(updates::channel_chat(CHANNEL, Some("keeper")));
    fake.enforce_channel_rate(CHANNEL, 3);
    let bot = fake.bot();
    let mut last = None;
    for i in 0..3 {
        last = Some(bot.send_message(ChatId(CHANNEL), format!("post {i}")).await.expect("within the limit"));
    }
    let err = bot.send_message(ChatId(CHANNEL), "one too many").await.expect_err("over the limit");
    match err {
        RequestError::RetryAfter(s) => assert!((59..=60).contains(&s.seconds()), "{s:?}"),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    let last = last.expect("sent");
    let err = bot.edit_message_text(ChatId(CHANNEL), last.id, "edited").await.expect_err("edits count too");
    assert!(matches!(err, RequestError::RetryAfter(_)), "{err:?}");
    assert!(last.from.is_none() && last.sender_chat.is_some(), "channel posts come from the chat");
    assert_eq!(fake.messages(CHANNEL).len(), 3);
    assert_eq!(fake.errors().len(), 2, "rate-limit 429s are real errors");
}

#[tokio::test]
async fn my_commands_are_validated_and_stored_per_language() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    bot.set_my_commands(vec![BotCommand::new("start", "Начать"), BotCommand::new("search_2", "Поиск")])
        .language_code("ru")
        .await
        .expect("valid commands");
    bot.set_my_commands(vec![BotCommand::new("start", "Start")]).await.expect("default language");
    assert_eq!(
        fake.my_commands(Some("ru")),
        vec![("start".to_string(), "Начать".to_string()), ("search_2".to_string(), "Поиск".to_string())]
    );
    assert_eq!(fake.my_commands(None), vec![("start".to_string(), "Start".to_string())]);
    assert!(fake.my_commands(Some("en")).is_empty());

    for (cmd, desc, expected) in [
        ("Start", "x", "Bad Request: BOT_COMMAND_INVALID"),
        ("/start", "x", "Bad Request: BOT_COMMAND_INVALID"),
        (&*"a".repeat(33), "x", "Bad Request: BOT_COMMAND_INVALID"),
        ("start", "", "Bad Request: command description must be non-empty"),
        ("start", &*"d".repeat(257), "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"),
    ] {
        let err = bot.set_my_commands(vec![BotCommand::new(cmd, desc)]).await.expect_err(cmd);
        assert_eq!(description(&err), expected);
    }
    let listed = bot.get_my_commands().language_code("ru").await.expect("get");
    assert_eq!(listed.len(), 2);
}

#[tokio::test]
async fn teloxide_dispatcher_runs_and_stops_cleanly() {
    use teloxide::dispatching::{Dispatcher, UpdateFilterExt};

    let fake = FakeTelegram::start().await;
    let handler = teloxide::dptree::entry()
        .branch(Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
            bot.send_message(msg.chat.id, "pong").await?;
            Ok::<(), RequestError>(())
        }))
        .branch(Update::filter_callback_query().endpoint(|bot: Bot, q: CallbackQuery| async move {
            bot.answer_callback_query(q.id).await?;
            Ok::<(), RequestError>(())
        }));
    let mut dispatcher = Dispatcher::builder(fake.bot(), handler).build();
    let shutdown = dispatcher.shutdown_token();
    let task = tokio::spawn(async move { dispatcher.dispatch().await });

    fake.push_update(updates::text(USER, USER, Some("en"), "ping"));
    fake.push_update(updates::poll("not handled"));
    let calls = fake.wait_for_calls("sendMessage", 1, WAIT).await;
    assert_eq!(calls[0].params["chat_id"], json!(USER));
    let pong = fake.messages(USER).pop().expect("pong");
    fake.push_update(updates::callback(USER, None, &pong, "x"));
    fake.wait_for_calls("answerCallbackQuery", 1, WAIT).await;
    fake.wait_idle(Duration::from_millis(50)).await;
    assert!(fake.unanswered_callbacks().is_empty());

    let mut allowed = fake.allowed_updates().expect("teloxide sends allowed_updates");
    allowed.sort();
    assert_eq!(allowed, vec!["callback_query".to_string(), "message".to_string()]);
    assert_eq!(fake.filtered_updates().len(), 1, "the poll update is never delivered");

    shutdown.shutdown().expect("dispatcher is running").await;
    tokio::time::timeout(WAIT, task).await.expect("dispatcher stops").expect("join");
    assert!(fake.errors().is_empty(), "{}", fake.dump_calls());
    assert_eq!(fake.pending_updates(), 0, "all updates confirmed on shutdown");
    let last_polls: Vec<_> = fake.calls_to("getUpdates").into_iter().rev().take(2).collect();
    assert!(last_polls[0].ok, "the graceful-shutdown poll");
    assert!(last_polls[1].cancelled, "the abandoned long poll is not an error");
}

#[tokio::test]
async fn chat_members_and_rights_are_checked_like_telegram() {
    let (fake, bot) = setup().await;
    let me = UserId(BOT_ID as u64);
    let unknown = bot.get_chat_member(Recipient::ChannelUsername("@no_such_chan".into()), me).await;
    assert_eq!(description(&unknown.expect_err("unknown chat")), "Bad Request: chat not found");
    let unknown = bot.get_chat_administrators(ChatId(-100999)).await;
    assert_eq!(description(&unknown.expect_err("unknown chat")), "Bad Request: chat not found");

    // A channel added by a test has the bot as an administrator that may post.
    fake.add_chat(updates::channel_chat(CHANNEL, Some("selftest_chan")));
    let member = bot.get_chat_member(Recipient::ChannelUsername("@selftest_chan".into()), me).await.expect("member");
    assert!(member.kind.is_administrator() && member.kind.can_post_messages(), "{member:?}");
    let admins = bot.get_chat_administrators(ChatId(CHANNEL)).await.expect("admins");
    assert_eq!(admins.iter().map(|a| a.user.id).collect::<Vec<_>>(), vec![me]);
    bot.send_message(ChatId(CHANNEL), "posted").await.expect("an admin with the right posts");

    fake.set_bot_member(CHANNEL, "administrator", false);
    let member = bot.get_chat_member(ChatId(CHANNEL), me).await.expect("member");
    assert!(member.kind.is_administrator() && !member.kind.can_post_messages(), "{member:?}");
    let refused = bot.send_message(ChatId(CHANNEL), "no right").await.expect_err("no right to post");
    assert_eq!(description(&refused), "Bad Request: need administrator rights in the channel chat");

    fake.set_bot_member(CHANNEL, "member", false);
    let member = bot.get_chat_member(ChatId(CHANNEL), me).await.expect("member");
    assert!(member.kind.is_member() && !member.kind.is_privileged(), "{member:?}");
    assert!(bot.get_chat_administrators(ChatId(CHANNEL)).await.expect("admins").is_empty());

    fake.set_bot_member(CHANNEL, "left", false);
    let not_member = "Forbidden: bot is not a member of the channel chat";
    let refused = bot.get_chat_member(ChatId(CHANNEL), me).await.expect_err("not a member");
    assert_eq!(description(&refused), not_member);
    let refused = bot.get_chat_administrators(ChatId(CHANNEL)).await.expect_err("not a member");
    assert_eq!(description(&refused), not_member);
    let refused = bot.send_message(ChatId(CHANNEL), "gone").await.expect_err("not a member");
    assert_eq!(description(&refused), not_member);
    let statuses: Vec<u16> = fake.calls().iter().filter(|c| !c.ok).map(|c| c.status).collect();
    assert_eq!(statuses, vec![400, 400, 400, 403, 403, 403]);
}

// ---------------------------------------------------------------------------------------
// Media

/// A PNG signature and IHDR chunk of `w`×`h` (all the fake reads), then filler bytes.
fn png(w: u32, h: u32, filler: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    b.extend(std::iter::repeat_n(0x42, filler));
    b
}

/// A JPEG start (SOI, APP0, SOF0 of `w`×`h`), then filler bytes.
fn jpeg(w: u16, h: u16, filler: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    b.extend_from_slice(b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    b.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&w.to_be_bytes());
    b.extend(std::iter::repeat_n(0x24, filler));
    b
}

fn photo_item(bytes: Vec<u8>) -> InputMedia {
    InputMedia::Photo(InputMediaPhoto::new(InputFile::memory(bytes)))
}

fn upload_source(m: &StoredMessage) -> (String, usize) {
    match &m.media.as_ref().expect("a media message").source {
        MediaSource::Upload { file_name, size, .. } => (file_name.clone(), *size),
        other => panic!("expected an upload, got {other:?}"),
    }
}

/// A multipart/form-data body of text fields and (name, filename, bytes) file parts.
fn multipart_body(fields: &[(&str, &str)], files: &[(&str, &str, &str)]) -> (String, String) {
    let boundary = "fakeboundary7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    for (name, file_name, content) in files {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn uploaded_photo_is_answered_in_sizes_and_recorded() {
    let (fake, bot) = setup().await;
    let bytes = png(640, 480, 3000);
    let sent = bot
        .send_photo(ChatId(USER), InputFile::memory(bytes.clone()))
        .caption("<b>Cat</b> &amp; dog")
        .parse_mode(ParseMode::Html)
        .await
        .expect("a PNG upload is accepted");
    let sizes = sent.photo().expect("a photo message");
    assert!(sizes.len() >= 3, "several sizes: {sizes:?}");
    let largest = sizes.last().expect("sizes");
    assert_eq!((largest.width, largest.height), (640, 480), "largest last, the PNG's own dimensions");
    assert_eq!(largest.file.size as usize, bytes.len());
    assert!(sizes.windows(2).all(|w| w[0].width < w[1].width), "{sizes:?}");
    assert_eq!(sent.caption(), Some("Cat & dog"));
    let entities = sent.caption_entities().expect("caption entities");
    assert_eq!((entities[0].kind.clone(), entities[0].offset, entities[0].length), (MessageEntityKind::Bold, 0, 3));
    assert!(sent.text().is_none());

    let stored = &fake.media_messages(USER)[0];
    let media = stored.media.as_ref().expect("media");
    assert_eq!(media.kind, MediaKind::Photo);
    assert_eq!(media.file_id, largest.file.id.0);
    assert_eq!(media.file_unique_id, largest.file.unique_id.0);
    assert_eq!(upload_source(stored), (String::new(), bytes.len()), "InputFile::memory has no file name");
    assert_eq!((stored.html.as_str(), stored.text.as_str()), ("<b>Cat</b> &amp; dog", "Cat & dog"));

    // Call.params: the text fields, and a description of the file part (not its bytes).
    let call = &fake.calls_to("sendPhoto")[0];
    let attach = call.params["photo"].as_str().expect("photo field");
    let part = attach.strip_prefix("attach://").expect("teloxide names its part");
    assert_eq!(call.params[part], json!({"upload": {"name": "", "size": bytes.len()}}));
    assert_eq!(call.params["caption"], "<b>Cat</b> &amp; dog");
    assert!(!call.params.to_string().contains("BBBB"), "no file bytes in the record");

    // The same bytes again: a fresh file_id, the same file_unique_id.
    let again = bot.send_photo(ChatId(USER), InputFile::memory(bytes.clone())).await.expect("sent again");
    let again_largest = again.photo().and_then(|s| s.last()).expect("sizes");
    assert_ne!(again_largest.file.id, largest.file.id);
    assert_eq!(again_largest.file.unique_id, largest.file.unique_id);
    let other = bot.send_photo(ChatId(USER), InputFile::memory(png(640, 480, 3001))).await.expect("other bytes");
    assert_ne!(other.photo().and_then(|s| s.last()).expect("sizes").file.unique_id, largest.file.unique_id);

    let uploads = fake.uploads();
    assert_eq!(
        uploads.iter().map(|u| (u.method.as_str(), u.size, u.accepted)).collect::<Vec<_>>(),
        vec![("sendPhoto", bytes.len(), true), ("sendPhoto", bytes.len(), true), ("sendPhoto", bytes.len() + 1, true)]
    );
    // A JPEG's dimensions are read from its SOF header; a big one is scaled to 2560.
    let big = bot.send_photo(ChatId(USER), InputFile::memory(jpeg(5120, 2880, 100))).await.expect("jpeg");
    let big = big.photo().and_then(|s| s.last()).expect("sizes");
    assert_eq!((big.width, big.height), (2560, 1440));
    assert!(fake.errors().is_empty(), "{}", fake.dump_calls());
}

#[tokio::test]
async fn file_ids_are_resent_without_upload_and_only_as_their_kind() {
    let (fake, bot) = setup().await;
    let first = bot.send_photo(ChatId(USER), InputFile::memory(png(100, 100, 10))).await.expect("upload");
    let file = first.photo().and_then(|s| s.last()).expect("sizes").file.clone();
    let resent = bot.send_photo(ChatId(USER), InputFile::file_id(file.id.clone())).await.expect("resend by file_id");
    let resent_file = &resent.photo().and_then(|s| s.last()).expect("sizes").file;
    assert_eq!(resent_file.unique_id, file.unique_id, "the same file");
    assert_eq!(fake.uploads().len(), 1, "a file_id send uploads nothing");
    let stored = fake.message(USER, resent.id.0 as i64).expect("stored");
    assert_eq!(stored.media.expect("media").source, MediaSource::FileId(file.id.0.clone()));

    let err = bot.send_document(ChatId(USER), InputFile::file_id(file.id.clone())).await.expect_err("photo as doc");
    assert_eq!(description(&err), "Bad Request: can't use file of type Photo as Document");
    let unknown = FileId("AgACAgIAAxkBAAIBnot-minted".into());
    let err = bot.send_photo(ChatId(USER), InputFile::file_id(unknown)).await.expect_err("unknown file_id");
    assert_eq!(description(&err), "Bad Request: wrong file identifier/HTTP URL specified");

    // file_ids seen in pushed channel posts are the bot's to resend.
    fake.push_update(updates::channel_photo(CHANNEL, Some("keeper"), 5, 1_700_000_000, ""));
    fake.push_update(updates::channel_video(CHANNEL, Some("keeper"), 6, 1_700_000_001, "clip"));
    let ups = bot.get_updates().await.expect("updates");
    let post = |i: usize| match &ups[i].kind {
        UpdateKind::ChannelPost(m) => m.clone(),
        other => panic!("expected a channel post, got {other:?}"),
    };
    let photo = post(1).photo().and_then(|s| s.last()).expect("photo sizes").file.clone();
    let video = post(2).video().expect("video").file.clone();
    let sent = bot.send_photo(ChatId(USER), InputFile::file_id(photo.id.clone())).await.expect("received photo");
    assert_eq!(sent.photo().and_then(|s| s.last()).expect("sizes").file.unique_id, photo.unique_id);
    let sent = bot.send_video(ChatId(USER), InputFile::file_id(video.id.clone())).await.expect("received video");
    assert_eq!(sent.video().expect("video").file.unique_id, video.unique_id);
    let as_doc = bot.send_document(ChatId(USER), InputFile::file_id(video.id.clone())).await.expect("as document");
    assert_eq!(as_doc.document().expect("document").file.unique_id, video.unique_id);
    let err = bot.send_photo(ChatId(USER), InputFile::file_id(video.id)).await.expect_err("video as photo");
    assert_eq!(description(&err), "Bad Request: can't use file of type Video as Photo");

    fake.register_file(MediaKind::Audio, "CQACAgIAAxregistered", "uaudio1");
    let audio = bot.send_audio(ChatId(USER), InputFile::file_id(FileId("CQACAgIAAxregistered".into()))).await;
    assert_eq!(audio.expect("a registered file_id").audio().expect("audio").file.unique_id.0, "uaudio1");
    assert_eq!(fake.errors().len(), 3);
}

#[tokio::test]
async fn captions_are_parsed_and_limited_to_1024_utf16_units() {
    let (_fake, bot) = setup().await;
    let photo = || InputFile::memory(png(10, 10, 1));
    let ok = format!("<b>{}</b>", "a".repeat(1024));
    let sent = bot.send_photo(ChatId(USER), photo()).caption(ok).parse_mode(ParseMode::Html).await;
    assert_eq!(sent.expect("1024 after parsing").caption().map(str::len), Some(1024));
    let emoji = "😀".repeat(512);
    bot.send_photo(ChatId(USER), photo()).caption(emoji).await.expect("512 emoji are 1024 units");
    for long in [format!("<i>{}</i>", "a".repeat(1025)), "😀".repeat(513)] {
        let err = bot.send_photo(ChatId(USER), photo()).caption(long).parse_mode(ParseMode::Html).await;
        assert_eq!(description(&err.expect_err("1025 units")), "Bad Request: message caption is too long");
    }
    let err = bot.send_video(ChatId(USER), InputFile::memory(vec![1; 10])).caption("a < b").parse_mode(ParseMode::Html);
    let err = description(&err.await.expect_err("bad HTML"));
    assert!(err.starts_with("Bad Request: can't parse entities:"), "{err}");
    let item = InputMediaDocument::new(InputFile::memory(vec![1; 10])).caption("x".repeat(1025));
    let items =
        vec![InputMedia::Document(item), InputMedia::Document(InputMediaDocument::new(InputFile::memory(vec![2])))];
    let err = bot.send_media_group(ChatId(USER), items).await.expect_err("album caption too long");
    assert_eq!(description(&err), "Bad Request: message caption is too long");
}

#[tokio::test]
async fn uploads_are_checked_for_what_they_claim() {
    let (fake, bot) = setup().await;
    let not_an_image = b"GIF89a definitely not a JPEG".to_vec();
    let err = bot.send_photo(ChatId(USER), InputFile::memory(not_an_image.clone())).await.expect_err("bad magic");
    assert_eq!(description(&err), "Bad Request: IMAGE_PROCESS_FAILED");
    bot.send_document(ChatId(USER), InputFile::memory(not_an_image)).await.expect("any bytes as a document");
    let err = bot.send_photo(ChatId(USER), InputFile::memory(Vec::new())).await.expect_err("empty");
    assert_eq!(description(&err), "Bad Request: file must be non-empty");
    let err = bot.send_photo(ChatId(USER), InputFile::memory(png(10_000, 100, 1))).await.expect_err("too wide");
    assert_eq!(description(&err), "Bad Request: PHOTO_INVALID_DIMENSIONS");
    let err = bot.send_photo(ChatId(USER), InputFile::memory(png(2100, 100, 1))).await.expect_err("ratio > 20");
    assert_eq!(description(&err), "Bad Request: PHOTO_INVALID_DIMENSIONS");
    let webp = [b"RIFF\x10\x00\x00\x00WEBPVP8X".as_slice(), &[0; 8], &[0x7F, 0x02, 0x00, 0xDF, 0x01, 0x00]].concat();
    let sent = bot.send_photo(ChatId(USER), InputFile::memory(webp)).await.expect("a WebP photo");
    assert_eq!(sent.photo().and_then(|s| s.last()).map(|s| (s.width, s.height)), Some((640, 480)));

    let ten_mb = 10 * 1024 * 1024;
    let big = jpeg(800, 600, ten_mb + 1 - jpeg(800, 600, 0).len());
    assert_eq!(big.len(), ten_mb + 1);
    let err = bot.send_photo(ChatId(USER), InputFile::memory(big.clone())).await.expect_err("over 10 MB");
    assert_eq!(
        description(&err),
        "Bad Request: file of size 10485761 bytes is too big for a photo; the maximum size is 10485760 bytes"
    );
    bot.send_document(ChatId(USER), InputFile::memory(big)).await.expect("a 10 MB document is fine");
    let huge = vec![7u8; 50 * 1024 * 1024 + 1];
    let err = bot.send_document(ChatId(USER), InputFile::memory(huge)).await.expect_err("over 50 MB");
    assert!(matches!(err, RequestError::Api(ApiError::RequestEntityTooLarge)), "{err:?}");
    let calls = fake.calls_to("sendDocument");
    assert_eq!(calls.last().map(|c| c.status), Some(413));
    let accepted: Vec<bool> = fake.uploads().iter().map(|u| u.accepted).collect();
    assert_eq!(accepted, vec![false, true, false, false, false, true, false, true, false]);
}

#[tokio::test]
async fn every_media_kind_is_answered_like_telegram() {
    let (fake, bot) = setup().await;
    let chat = ChatId(USER);
    let mp4 = b"\x00\x00\x00\x18ftypmp42 some video bytes".to_vec();
    let video = bot.send_video(chat, InputFile::memory(mp4.clone()).file_name("clip.mp4")).caption("v").await;
    let video = video.expect("video");
    let v = video.video().expect("a video message");
    assert_eq!((v.file_name.as_deref(), v.file.size as usize), (Some("clip.mp4"), mp4.len()));
    assert_eq!(v.mime_type.as_ref().map(|m| m.essence_str().to_string()), Some("video/mp4".into()));
    let gif = bot.send_animation(chat, InputFile::memory(b"GIF89a..".to_vec())).await.expect("animation");
    assert!(gif.animation().is_some(), "{gif:?}");
    let pdf = bot.send_document(chat, InputFile::memory(b"%PDF-1.4 x".to_vec()).file_name("a.pdf")).await;
    let doc = pdf.expect("document");
    assert_eq!(doc.document().and_then(|d| d.file_name.as_deref()), Some("a.pdf"));
    let audio = bot.send_audio(chat, InputFile::memory(b"ID3 mp3".to_vec())).await.expect("audio");
    assert!(audio.audio().is_some(), "{audio:?}");
    let voice = bot.send_voice(chat, InputFile::memory(b"OggS voice".to_vec())).await.expect("voice");
    assert!(voice.voice().is_some(), "{voice:?}");
    let kinds: Vec<MediaKind> =
        fake.media_messages(USER).iter().filter_map(|m| m.media.as_ref().map(|x| x.kind)).collect();
    use MediaKind::*;
    assert_eq!(kinds, vec![Video, Animation, Document, Audio, Voice]);
    let missing = raw(&fake, &method_path("sendVoice"), "application/json", &format!("{{\"chat_id\": {USER}}}")).await;
    assert_eq!(missing.0, 400);
    assert!(missing.1.contains("Bad Request: there is no voice in the request"), "{}", missing.1);
    // A URL would be downloaded by Telegram; the fake has no network.
    let url = bot.send_photo(chat, InputFile::url("https://example.com/a.jpg".parse().expect("url"))).await;
    assert_eq!(description(&url.expect_err("URL")), "Bad Request: failed to get HTTP URL content");
}

#[tokio::test]
async fn albums_share_a_media_group_id_and_keep_their_caption() {
    let (fake, bot) = setup().await;
    let items = vec![
        InputMedia::Photo(
            InputMediaPhoto::new(InputFile::memory(png(30, 20, 5))).caption("<b>Trip</b>").parse_mode(ParseMode::Html),
        ),
        photo_item(jpeg(20, 30, 5)),
        InputMedia::Video(InputMediaVideo::new(InputFile::memory(b"\0\0\0\x18ftypmp42".to_vec()))),
    ];
    let sent = bot.send_media_group(ChatId(USER), items).await.expect("photos and a video mix");
    assert_eq!(sent.len(), 3);
    let group = sent[0].media_group_id().expect("a media group id").clone();
    assert!(sent.iter().all(|m| m.media_group_id() == Some(&group)));
    assert_eq!(sent.iter().map(|m| m.caption()).collect::<Vec<_>>(), vec![Some("Trip"), None, None]);
    assert!(sent[2].video().is_some() && sent[1].photo().is_some());
    let ids: Vec<i32> = sent.iter().map(|m| m.id.0).collect();
    assert_eq!(ids, vec![2, 3, 4], "consecutive message ids");
    let stored = fake.media_group(USER, &group.0);
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].html, "<b>Trip</b>");
    let sizes: Vec<usize> = fake.uploads().iter().map(|u| u.size).collect();
    assert_eq!(sizes, vec![png(30, 20, 5).len(), jpeg(20, 30, 5).len(), 12], "in the order of the parts");

    // Resent by file_id, and documents with documents.
    let ids: Vec<FileId> = sent
        .iter()
        .map(|m| fake.message(USER, m.id.0 as i64).expect("stored").media.expect("m").file_id.into())
        .collect();
    let again = vec![
        InputMedia::Photo(InputMediaPhoto::new(InputFile::file_id(ids[0].clone()))),
        InputMedia::Video(InputMediaVideo::new(InputFile::file_id(ids[2].clone()))),
    ];
    bot.send_media_group(ChatId(USER), again).await.expect("an album of file_ids");
    let docs = vec![
        InputMedia::Document(InputMediaDocument::new(InputFile::memory(b"%PDF a".to_vec()))),
        InputMedia::Document(InputMediaDocument::new(InputFile::memory(b"%PDF b".to_vec()))),
    ];
    bot.send_media_group(ChatId(USER), docs).await.expect("documents only");
    assert_eq!(fake.uploads().len(), 5);
    let call = &fake.calls_to("sendMediaGroup")[0];
    let media: Value = serde_json::from_str(call.params["media"].as_str().expect("media JSON")).expect("json");
    let part = media[0]["media"].as_str().and_then(|m| m.strip_prefix("attach://")).expect("attach");
    assert_eq!(call.params[part]["upload"]["size"], png(30, 20, 5).len());
    assert!(fake.errors().is_empty(), "{}", fake.dump_calls());
}

#[tokio::test]
async fn album_size_mixing_and_attach_names_are_enforced() {
    let (fake, bot) = setup().await;
    let chat = ChatId(USER);
    let photos = |n: usize| (0..n).map(|i| photo_item(png(10, 10, i))).collect::<Vec<_>>();
    let err = bot.send_media_group(chat, photos(11)).await.expect_err("11 items");
    assert_eq!(description(&err), "Bad Request: too many messages to send as an album");
    let err = bot.send_media_group(chat, photos(1)).await.expect_err("1 item");
    assert_eq!(description(&err), "Bad Request: wrong number of media in the album: 1 (2-10 expected)");
    let err = bot.send_media_group(chat, Vec::<InputMedia>::new()).await.expect_err("no items");
    assert_eq!(description(&err), "Bad Request: there are no messages to send");
    bot.send_media_group(chat, photos(10)).await.expect("10 items");

    let doc = || InputMedia::Document(InputMediaDocument::new(InputFile::memory(b"%PDF".to_vec())));
    let audio = || InputMedia::Audio(InputMediaAudio::new(InputFile::memory(b"ID3".to_vec())));
    let err = bot.send_media_group(chat, vec![doc(), photo_item(png(10, 10, 0))]).await.expect_err("doc+photo");
    assert_eq!(description(&err), "Bad Request: document can't be mixed with other media types");
    let err = bot.send_media_group(chat, vec![photo_item(png(10, 10, 0)), audio()]).await.expect_err("audio+photo");
    assert_eq!(description(&err), "Bad Request: audio can't be mixed with other media types");
    bot.send_media_group(chat, vec![audio(), audio()]).await.expect("audio with audio");
    let gif = InputMedia::Animation(InputMediaAnimation::new(InputFile::memory(b"GIF89a".to_vec())));
    let err = bot.send_media_group(chat, vec![gif, photo_item(png(10, 10, 0))]).await.expect_err("animation");
    assert_eq!(
        description(&err),
        "Bad Request: can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup"
    );

    // attach:// must name a file part of the same request.
    let media = r#"[{"type":"photo","media":"attach://one"},{"type":"photo","media":"attach://two"}]"#;
    let chat_id = USER.to_string();
    let png_text = "\u{89}PNG";
    let (ct, body) = multipart_body(&[("chat_id", &chat_id), ("media", media)], &[("one", "a.png", png_text)]);
    let (status, answer) = raw(&fake, &method_path("sendMediaGroup"), &ct, &body).await;
    assert_eq!(status, 400);
    let answer: Value = serde_json::from_str(&answer).expect("json");
    assert_eq!(
        answer["description"],
        "Bad Request: can't parse InputMedia: media not found (attach://two names no file part of this request)"
    );
    let (ct, body) = multipart_body(&[("chat_id", &chat_id), ("photo", "attach://nope")], &[("yes", "a.png", "x")]);
    let (status, answer) = raw(&fake, &method_path("sendPhoto"), &ct, &body).await;
    assert_eq!(status, 400);
    assert!(answer.contains("there is no photo in the request (attach://nope names"), "{answer}");
    // A plain HTML-form upload: the file part named like the parameter.
    let (ct, body) = multipart_body(&[("chat_id", &chat_id)], &[("document", "notes.txt", "hello")]);
    let (status, answer) = raw(&fake, &method_path("sendDocument"), &ct, &body).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("json");
    assert_eq!(answer["result"]["document"]["file_name"], "notes.txt");
    assert_eq!(answer["result"]["document"]["file_size"], 5);
    let last = fake.calls().last().cloned().expect("a call");
    assert_eq!(last.params["document"], json!({"upload": {"name": "notes.txt", "size": 5}}));
}

#[tokio::test]
async fn faults_and_the_channel_cap_apply_to_media() {
    let fake = FakeTelegram::start().await;
    fake.add_chat(updates::channel_chat(CHANNEL, Some("keeper")));
    let bot = fake.bot();
    let chan = ChatId(CHANNEL);
    fake.inject("sendPhoto", Fault::RetryAfter(4));
    let err = bot.send_photo(chan, InputFile::memory(png(10, 10, 1))).await.expect_err("429");
    assert!(matches!(err, RequestError::RetryAfter(s) if s.seconds() == 4), "{err:?}");
    bot.send_photo(chan, InputFile::memory(png(10, 10, 1))).await.expect("the retry succeeds");
    assert_eq!(fake.uploads().iter().map(|u| u.accepted).collect::<Vec<_>>(), vec![false, true]);
    assert_eq!(fake.media_messages(CHANNEL).len(), 1, "the faulted call stored nothing");
    fake.inject("sendMediaGroup", Fault::Drop);
    let two = || vec![photo_item(png(10, 10, 2)), photo_item(png(10, 10, 3))];
    let err = tokio::time::timeout(WAIT, bot.send_media_group(chan, two())).await.expect("no hang");
    assert!(matches!(err, Err(RequestError::Network(_))), "{err:?}");
    fake.inject("sendmediagroup", Fault::Forbidden);
    let err = bot.send_media_group(chan, two()).await.expect_err("403");
    assert_eq!(description(&err), "Forbidden: bot is not a member of the channel chat");
    assert_eq!(fake.media_messages(CHANNEL).len(), 1);

    // Every item of an album counts against the cap: 1 photo + 3 items = 4 of 5.
    fake.enforce_channel_rate(CHANNEL, 5);
    bot.send_photo(chan, InputFile::memory(png(10, 10, 4))).await.expect("1 of 5");
    let three = vec![photo_item(png(10, 10, 5)), photo_item(png(10, 10, 6)), photo_item(png(10, 10, 7))];
    bot.send_media_group(chan, three).await.expect("4 of 5");
    let err = bot.send_media_group(chan, two()).await.expect_err("6 of 5");
    assert!(matches!(err, RequestError::RetryAfter(_)), "{err:?}");
    bot.send_message(chan, "5 of 5").await.expect("one more fits");
    let err = bot.send_photo(chan, InputFile::memory(png(10, 10, 8))).await.expect_err("6 of 5");
    assert!(matches!(err, RequestError::RetryAfter(_)), "{err:?}");
    assert_eq!(fake.media_messages(CHANNEL).len(), 5);
}

#[tokio::test]
async fn media_sends_check_chats_rights_and_replies() {
    let (fake, bot) = setup().await;
    let photo = || InputFile::memory(png(10, 10, 1));
    let err = bot.send_photo(ChatId(-100555), photo()).await.expect_err("unknown chat");
    assert_eq!(description(&err), "Bad Request: chat not found");
    fake.add_chat(updates::channel_chat(CHANNEL, None));
    fake.set_bot_member(CHANNEL, "administrator", false);
    let err = bot.send_photo(ChatId(CHANNEL), photo()).await.expect_err("no right to post");
    assert_eq!(description(&err), "Bad Request: need administrator rights in the channel chat");
    let err = bot.send_media_group(ChatId(CHANNEL), vec![photo_item(png(1, 1, 0)), photo_item(png(1, 1, 1))]).await;
    assert_eq!(description(&err.expect_err("no right")), "Bad Request: need administrator rights in the channel chat");
    let reply = ReplyParameters::new(MessageId(99));
    let err = bot.send_photo(ChatId(USER), photo()).reply_parameters(reply).await.expect_err("no such message");
    assert_eq!(description(&err), "Bad Request: message to be replied not found");
    bot.send_photo(ChatId(USER), photo()).reply_parameters(ReplyParameters::new(MessageId(1))).await.expect("reply");
    fake.push_update(updates::my_chat_member(USER, USER, "kicked"));
    let err = bot.send_document(ChatId(USER), InputFile::memory(vec![1])).await.expect_err("blocked");
    assert_eq!(description(&err), "Forbidden: bot was blocked by the user");
    assert_eq!(fake.media_messages(USER).len(), 1);
}

#[tokio::test]
async fn captions_are_edited_and_texts_of_media_are_not() {
    let (fake, bot) = setup().await;
    let sent = bot.send_photo(ChatId(USER), InputFile::memory(png(10, 10, 1))).caption("old").await.expect("photo");
    let err = bot.edit_message_text(ChatId(USER), sent.id, "text").await.expect_err("no text");
    assert_eq!(description(&err), "Bad Request: there is no text in the message to edit");
    let edited = bot.edit_message_caption(ChatId(USER), sent.id).caption("<i>new</i>").parse_mode(ParseMode::Html);
    let edited = edited.await.expect("caption edited");
    assert_eq!(edited.caption(), Some("new"));
    assert!(edited.photo().is_some());
    let same = bot.edit_message_caption(ChatId(USER), sent.id).caption("<i>new</i>").parse_mode(ParseMode::Html).await;
    assert!(description(&same.expect_err("same")).starts_with("Bad Request: message is not modified"));
    let long = bot.edit_message_caption(ChatId(USER), sent.id).caption("x".repeat(1025)).await;
    assert_eq!(description(&long.expect_err("long")), "Bad Request: message caption is too long");
    let text = bot.send_message(ChatId(USER), "plain").await.expect("text");
    let err = bot.edit_message_caption(ChatId(USER), text.id).caption("c").await.expect_err("no caption");
    assert_eq!(description(&err), "Bad Request: there is no caption in the message to edit");
    let stored = fake.message(USER, sent.id.0 as i64).expect("stored");
    assert_eq!((stored.text.as_str(), stored.edits), ("new", 1));
}

#[tokio::test]
async fn copy_message_resends_media_by_file_id() {
    let (fake, bot) = setup().await;
    fake.push_update(updates::channel_photo(CHANNEL, Some("keeper"), 40, 1_700_000_000, "A photo"));
    fake.push_update(updates::channel_post(CHANNEL, Some("keeper"), 41, 1_700_000_001, "A text", json!([])));
    let copied = bot.copy_message(ChatId(USER), ChatId(CHANNEL), MessageId(40)).await.expect("copy the photo");
    let stored = fake.message(USER, copied.0 as i64).expect("stored copy");
    let media = stored.media.expect("a photo");
    assert_eq!(media.kind, MediaKind::Photo);
    assert!(matches!(media.source, MediaSource::FileId(_)));
    assert_eq!(stored.text, "A photo");
    let with_caption = bot.copy_message(ChatId(USER), ChatId(CHANNEL), MessageId(40)).caption("<b>new</b>");
    let with_caption = with_caption.parse_mode(ParseMode::Html).await.expect("new caption");
    assert_eq!(fake.message(USER, with_caption.0 as i64).expect("copy").text, "new");
    let text = bot.copy_message(ChatId(USER), ChatId(CHANNEL), MessageId(41)).await.expect("copy the text");
    assert_eq!(fake.message(USER, text.0 as i64).expect("copy").text, "A text");
    let err = bot.copy_message(ChatId(USER), ChatId(CHANNEL), MessageId(99)).await.expect_err("unknown");
    assert_eq!(description(&err), "Bad Request: message to copy not found");
    assert!(fake.uploads().is_empty());
}

#[tokio::test]
async fn media_update_builders_parse_in_teloxide() {
    let (fake, bot) = setup().await;
    use MediaKind::*;
    let date = 1_700_000_000;
    fake.push_update(updates::channel_video(CHANNEL, None, 10, date, "v"));
    fake.push_update(updates::channel_animation(CHANNEL, None, 11, date, ""));
    fake.push_update(updates::channel_document(CHANNEL, None, 12, date, "d"));
    fake.push_update(updates::channel_audio(CHANNEL, None, 13, date, ""));
    fake.push_update(updates::channel_voice(CHANNEL, None, 14, date, ""));
    let album = updates::channel_album(CHANNEL, None, 20, date, &[Photo, Video, Photo], "Album", 1);
    for part in album.iter().rev() {
        fake.push_update(part.clone());
    }
    let photo = updates::media_object(Photo);
    fake.push_update(updates::edited_channel_media(CHANNEL, None, 20, date, date + 60, Photo, photo, "now captioned"));
    let ups = bot.get_updates().await.expect("updates");
    let msgs: Vec<Message> = ups
        .iter()
        .filter_map(|u| match &u.kind {
            UpdateKind::ChannelPost(m) | UpdateKind::EditedChannelPost(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(msgs.len(), 9);
    assert!(msgs[0].video().is_some() && msgs[0].caption() == Some("v"));
    assert!(msgs[1].animation().is_some());
    assert!(msgs[2].document().is_some() && msgs[2].caption() == Some("d"));
    assert!(msgs[3].audio().is_some() && msgs[4].voice().is_some());
    let parts = &msgs[5..8];
    assert_eq!(parts.iter().map(|m| m.id.0).collect::<Vec<_>>(), vec![22, 21, 20], "pushed in reverse");
    let group = parts[0].media_group_id().expect("group");
    assert!(parts.iter().all(|m| m.media_group_id() == Some(group)));
    assert_eq!(parts.iter().map(|m| m.caption()).collect::<Vec<_>>(), vec![None, Some("Album"), None]);
    assert!(parts[1].video().is_some() && parts[0].photo().map(|s| s.len()) == Some(3));
    assert!(
        matches!(&ups[9].kind, UpdateKind::EditedChannelPost(m) if m.caption() == Some("now captioned") && m.edit_date().is_some())
    );
    // Every file_id in them may be resent by the bot.
    let video = msgs[0].video().expect("video").file.id.clone();
    bot.send_video(ChatId(USER), InputFile::file_id(video)).await.expect("resend a received video");
    let voice = msgs[4].voice().expect("voice").file.id.clone();
    bot.send_voice(ChatId(USER), InputFile::file_id(voice)).await.expect("resend a received voice");
}

#[tokio::test]
async fn a_file_on_disk_is_uploaded_under_its_name() {
    let (fake, bot) = setup().await;
    let dir = std::env::temp_dir().join(format!("fake-bot-api-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("sunset.png");
    let bytes = png(1600, 900, 2000);
    std::fs::write(&path, &bytes).expect("write the photo");
    let sent = bot.send_photo(ChatId(USER), InputFile::file(&path)).await;
    std::fs::remove_dir_all(&dir).expect("clean up");
    let largest = sent.expect("uploaded from disk").photo().and_then(|s| s.last().cloned()).expect("sizes");
    assert_eq!((largest.width, largest.height, largest.file.size as usize), (1600, 900, bytes.len()));
    let stored = &fake.media_messages(USER)[0];
    assert_eq!(upload_source(stored), ("sunset.png".to_string(), bytes.len()));
    assert_eq!(fake.uploads()[0].file_name, "sunset.png");
}

#[tokio::test]
async fn cached_inline_results_need_known_file_ids_and_short_captions() {
    let (fake, bot) = setup().await;
    let update_id = fake.push_update(updates::inline_query(USER, Some("ru"), "cat", ""));
    let query_id =
        fake.queued_update(update_id).expect("queued")["inline_query"]["id"].as_str().expect("id").to_string();
    let qid = || InlineQueryId(query_id.clone());
    let sent = bot.send_photo(ChatId(USER), InputFile::memory(png(10, 10, 1))).await.expect("photo");
    let photo_id = sent.photo().and_then(|s| s.last()).expect("sizes").file.id.clone();
    let cached = |id: &FileId, caption: String| {
        InlineQueryResult::CachedPhoto(
            InlineQueryResultCachedPhoto::new("p1", id.clone()).caption(caption).parse_mode(ParseMode::Html),
        )
    };
    let unknown = FileId("AgACAgIAAxnever-minted".into());
    let err = bot.answer_inline_query(qid(), vec![cached(&unknown, "c".into())]).await.expect_err("unknown");
    assert_eq!(description(&err), "Bad Request: wrong file identifier/HTTP URL specified");
    let long = format!("<b>{}</b>", "c".repeat(1025));
    let err = bot.answer_inline_query(qid(), vec![cached(&photo_id, long)]).await.expect_err("long caption");
    assert_eq!(description(&err), "Bad Request: message caption is too long");
    let doc = bot.send_document(ChatId(USER), InputFile::memory(b"%PDF".to_vec())).await.expect("document");
    let doc_id = doc.document().expect("document").file.id.clone();
    let err = bot.answer_inline_query(qid(), vec![cached(&doc_id, "c".into())]).await.expect_err("not a photo");
    assert_eq!(description(&err), "Bad Request: can't use file of type Document as Photo");
    assert_eq!(fake.unanswered_inline_queries().len(), 1);
    bot.answer_inline_query(qid(), vec![cached(&photo_id, "<b>ok</b>".into())]).await.expect("a cached photo");
    assert_eq!(fake.inline_answers().len(), 1);
}

// ---------------------------------------------------------------------------------------
// Webhooks

const HOOK: &str = "https://bot.example.org/telegram";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_carry_the_secret_come_in_order_and_are_retried_until_taken() {
    use axum::http::{HeaderMap, StatusCode};
    use std::sync::{Arc, Mutex};
    // The bot's side: a 500 for the first request, then each update recorded and taken.
    /// Each update the bot took, with the secret header it came with.
    type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;
    let seen: Seen = Arc::default();
    let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/telegram",
        axum::routing::post({
            let (seen, tries) = (seen.clone(), tries.clone());
            move |headers: HeaderMap, body: String| async move {
                if tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                let secret = headers.get(fake_bot_api::WEBHOOK_SECRET_HEADER).and_then(|v| v.to_str().ok());
                let update = serde_json::from_str(&body).unwrap_or(Value::Null);
                seen.lock().unwrap_or_else(|e| e.into_inner()).push((secret.map(str::to_string), update));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let fake = FakeTelegram::start().await;
    fake.proxy("https://bot.example.org", &format!("http://{addr}"));
    let bot = fake.bot();
    bot.set_webhook(HOOK.parse().expect("url"))
        .secret_token("s3cret".to_string())
        .allowed_updates(vec![AllowedUpdate::Message])
        .await
        .expect("set");
    fake.push_update(updates::text(USER, USER, None, "one"));
    fake.push_update(updates::text(USER, USER, None, "two"));
    // A kind not allowed is never delivered.
    fake.push_update(updates::inline_query(USER, None, "q", ""));
    let deliveries = fake.wait_for_deliveries(3, WAIT * 5).await;
    let statuses: Vec<Option<u16>> = deliveries.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [Some(500), Some(200), Some(200)]);
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let texts: Vec<&str> = seen.iter().filter_map(|(_, u)| u["message"]["text"].as_str()).collect();
    assert_eq!(texts, ["one", "two"], "one chat's updates in order, the failed one again first");
    assert!(seen.iter().all(|(secret, _)| secret.as_deref() == Some("s3cret")));
    let info = bot.get_webhook_info().await.expect("info");
    assert_eq!(info.pending_update_count, 0);
    assert_eq!(info.last_error_message.as_deref(), Some("Wrong response from the webhook: 500 Internal Server Error"));
    assert_eq!(fake.filtered_updates().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_retries_a_webhook_that_fails_and_reports_it() {
    let tg = FakeTelegram::start().await;
    let bot = tg.bot();
    // Nobody listens where the proxy points: each try fails and is retried.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port");
    tg.proxy("https://bot.example.org", &format!("http://{dead}"));
    bot.set_webhook(HOOK.parse().expect("url")).secret_token("abc".to_string()).await.expect("set");
    tg.push_update(updates::text(9, 9, None, "hello"));
    let failed = tg.wait_for_deliveries(2, Duration::from_secs(10)).await;
    assert!(failed.len() >= 2 && failed.iter().all(|d| d.status.is_none() && d.update_id == failed[0].update_id));
    let info = bot.get_webhook_info().await.expect("info");
    assert_eq!(info.url.as_ref().map(|u| u.as_str()), Some(HOOK));
    assert_eq!(info.pending_update_count, 1);
    assert!(info.last_error_message.is_some_and(|m| m.contains("Connection refused")));
    // getUpdates is refused while a webhook is set.
    let polled = bot.get_updates().await;
    // (teloxide reads Telegram's text of it as an unknown error.)
    let conflict = match polled {
        Err(teloxide::RequestError::Api(teloxide::ApiError::Unknown(text))) => text,
        other => panic!("{other:?}"),
    };
    assert!(conflict.starts_with("Conflict: can't use getUpdates method while webhook is active"), "{conflict}");
    // A bad port, or a bad secret, is refused as Telegram refuses it.
    assert!(bot.set_webhook("https://bot.example.org:8080/x".parse().expect("url")).await.is_err());
    assert!(bot.set_webhook(HOOK.parse().expect("url")).secret_token("a b".to_string()).await.is_err());
    // deleteWebhook: getUpdates gets the update.
    bot.delete_webhook().await.expect("deleted");
    let got = bot.get_updates().await.expect("polls");
    assert_eq!(got.len(), 1);
}
