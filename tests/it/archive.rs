//! The archive core: importers, idempotence, rollback, search, topics.

use std::path::{Path, PathBuf};

use postkeeper::model::EntityKind;
use postkeeper::search::{Mode, SearchPage, Searcher};
use postkeeper::store::{Archive, ImportSummary, StoreError};

/// The tests search as the CLI does: with a searcher of their own.
trait Search {
    fn search(&self, query: &str, offset: usize, limit: usize) -> Result<SearchPage, StoreError>;
}

impl Search for Archive {
    fn search(&self, query: &str, offset: usize, limit: usize) -> Result<SearchPage, StoreError> {
        Searcher::default().search(self, query, offset, limit)
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn seeded() -> Archive {
    let mut archive = Archive::open_in_memory().expect("store opens");
    postkeeper::ingest::import_seed(&mut archive).expect("seed imports");
    archive
}

fn import(archive: &mut Archive, names: &[&str]) -> Result<ImportSummary, postkeeper::ingest::IngestError> {
    let paths: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    postkeeper::ingest::import_paths(archive, &paths, false)
}

fn all_posts(archive: &Archive) -> Vec<postkeeper::model::Post> {
    archive.posts(None, 0, 100_000).expect("posts").0
}

/// Every row of a table (or view), in a stable order, as text, read through a connection of
/// the test's own: the store does not lend its connection out.
fn dump(conn: &rusqlite::Connection, table: &str) -> String {
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2")).expect("prepares");
    let columns = stmt.column_count();
    let rows = stmt
        .query_map([], |r| (0..columns).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect::<Result<Vec<_>, _>>())
        .expect("queries")
        .collect::<Result<Vec<_>, _>>()
        .expect("reads");
    format!("{table}: {rows:?}")
}

/// Everything observable about the store at `path`, to prove a failed import changed nothing:
/// the posts as read back, and whole dumps of the tables search and tagging read.
fn snapshot(archive: &Archive, path: &Path) -> String {
    let posts = all_posts(archive);
    let stats = archive.stats().expect("stats");
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("a read-only connection");
    let tables: Vec<String> =
        ["vocabulary", "stems", "posts_vocab", "post_topics", "channels"].iter().map(|t| dump(&conn, t)).collect();
    format!("{posts:?}\n{stats:?}\n{:?}\n{}", archive.channels().expect("channels"), tables.join("\n"))
}

#[test]
fn seed_fills_twenty_posts_with_topics_and_channel() {
    let archive = seeded();
    let posts = all_posts(&archive);
    assert_eq!(posts.len(), 20);
    assert_eq!(posts[0].title, "👆🏻Повторение – мать ученья, даже для DL");
    assert_eq!(posts[19].title, "🙌🏻Ловкость рук и никакого мошенничества: DL для роботов-манипуляторов");
    assert!(posts.iter().all(|p| p.date.is_none() && p.url.is_none() && p.message_id.is_none()));
    let channel = &archive.channels().expect("channels")[0];
    assert_eq!(channel.title, "Deep Dive 2 Deep Learning");
    assert_eq!(channel.counters.get("subscribers"), Some(&370));
    assert_eq!(channel.counters.get("links"), Some(&384));
    assert!(channel.description.as_deref().is_some_and(|d| d.contains("кейсы, новости")));
    // Every seed post is tagged as the fixture expects.
    let expected = std::fs::read_to_string(fixture("topics_expected.txt")).expect("expectations");
    for (line, post) in expected.lines().zip(&posts) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols[1], post.title);
        let got: Vec<&str> = post.topics.iter().map(|t| t.slug.as_str()).collect();
        assert_eq!(got.join(","), cols[2], "topics of {}", post.title);
    }
    assert!(posts.iter().all(|p| !p.topics.is_empty()));
}

#[test]
fn single_chat_export_keeps_posts_formatting_and_counts_skips() {
    let mut archive = Archive::open_in_memory().expect("store");
    let summary = import(&mut archive, &["export_single/result.json"]).expect("imports");
    // The photo without a caption (6) is a post of its own now; its file, like 7's, is not
    // in the fixture, so both are recorded as missing.
    assert_eq!((summary.new, summary.updated, summary.skipped, summary.channels), (6, 0, 2, 1), "{summary}");
    assert_eq!((summary.media_copied, summary.media_missing), (0, 2), "{summary}");
    let posts = all_posts(&archive);
    let ids: Vec<Option<i64>> = posts.iter().map(|p| p.message_id).collect();
    assert_eq!(ids, [Some(2), Some(3), Some(4), Some(5), Some(6), Some(7)]);
    let dates: Vec<i64> = posts.iter().map(|p| p.date.expect("dated").timestamp()).collect();
    assert_eq!(dates, [1630570500, 1630942200, 1631253900, 1631638800, 1631869200, 1631869260]);
    let channel = &archive.channels().expect("channels")[0];
    assert_eq!((channel.tg_id, channel.title.as_str()), (Some(-1001234567890), "Test ML Channel"));

    let p3 = &posts[1];
    assert!(p3.entities.iter().any(|e| e.kind == EntityKind::Bold));
    assert!(
        p3.entities.iter().any(|e| e.kind == EntityKind::TextLink { url: "https://arxiv.org/abs/1706.03762".into() })
    );
    assert!(p3.entities.iter().any(|e| e.kind == EntityKind::Hashtag));
    assert!(p3.links.contains(&"https://arxiv.org/abs/1706.03762".to_string()));
    let html = postkeeper::render::html::render(&p3.body, &p3.entities);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; и AT&amp;T"), "{html}");
    assert!(html.contains("<a href=\"https://arxiv.org/abs/1706.03762\">статье</a>"), "{html}");
    assert!(html.contains("<b>Токенизация и грязный текст</b>"), "{html}");

    let p4 = &posts[2];
    assert!(p4.entities.iter().any(|e| e.kind == EntityKind::Pre { language: Some("python".into()) }));
    let p5 = &posts[3];
    assert_eq!(p5.edited.map(|d| d.timestamp()), Some(1631684520));
    assert!(p5.body.starts_with('🪐'));
    let p6 = &posts[4];
    assert_eq!((p6.body.as_str(), p6.media.len(), p6.media[0].missing), ("", 1, true));
    assert_eq!((p6.media[0].width, p6.media[0].height, p6.media[0].size), (Some(1280), Some(720), Some(84213)));
    let p7 = &posts[5];
    assert!(p7.body.starts_with("Архитектура трансформера"));
    assert!(p7.entities.iter().any(|e| e.kind == EntityKind::Italic));
}

#[test]
fn full_account_export_takes_channels_only() {
    let mut archive = Archive::open_in_memory().expect("store");
    let summary = import(&mut archive, &["export_full/result.json"]).expect("imports");
    assert_eq!((summary.new, summary.channels, summary.skipped), (5, 2, 3), "{summary}");
    let names: Vec<(Option<i64>, String)> =
        archive.channels().expect("channels").into_iter().map(|c| (c.tg_id, c.title)).collect();
    assert_eq!(
        names,
        [(Some(-1002222222222), "Private Notes Channel".into()), (Some(-1003333333333), "Second Public".into())]
    );
}

/// JSON of `value` with every object's keys in reverse alphabetical order: `type`, `name`,
/// `messages`, `id` (serde_json's own writer sorts them).
fn reversed_keys(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{}:{}", serde_json::Value::String(k.clone()), reversed_keys(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(items) => {
            format!("[{}]", items.iter().map(reversed_keys).collect::<Vec<_>>().join(","))
        }
        other => other.to_string(),
    }
}

/// The posts of a store as the tests compare them: everything but the store's own ids.
fn comparable(archive: &Archive) -> Vec<String> {
    all_posts(archive)
        .into_iter()
        .map(|p| {
            format!(
                "{}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}",
                p.channel_title, p.message_id, p.date, p.edited, p.body, p.entities, p.media, p.topics
            )
        })
        .collect()
}

#[test]
fn exports_with_their_keys_in_any_order_import_alike() {
    for original in ["export_single/result.json", "export_full/result.json"] {
        let mut reference = Archive::open_in_memory().expect("store");
        let expected = import(&mut reference, &[original]).expect("imports");
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(original)).expect("fixture")).expect("JSON");
        let dir = tempfile::tempdir().expect("tempdir");
        let sorted = dir.path().join("sorted.json");
        std::fs::write(&sorted, value.to_string()).expect("write");
        let reversed = dir.path().join("reversed.json");
        std::fs::write(&reversed, reversed_keys(&value)).expect("write");
        for path in [sorted, reversed] {
            let mut archive = Archive::open_in_memory().expect("store");
            let summary = postkeeper::ingest::import_paths(&mut archive, std::slice::from_ref(&path), false)
                .unwrap_or_else(|e| panic!("{original} as {}: {e}", path.display()));
            assert_eq!(summary, expected, "{original} as {}", path.display());
            assert_eq!(comparable(&archive), comparable(&reference), "{original} as {}", path.display());
        }
    }
    // The checked-in sorted copy too.
    let mut reference = Archive::open_in_memory().expect("store");
    import(&mut reference, &["export_single/result.json"]).expect("imports");
    let mut sorted = Archive::open_in_memory().expect("store");
    let summary = import(&mut sorted, &["export_sorted/result.json"]).expect("imports");
    assert_eq!((summary.new, summary.skipped), (6, 2), "{summary}");
    assert_eq!(comparable(&sorted), comparable(&reference));
}

#[test]
fn skipped_chats_are_named_with_why() {
    let mut archive = Archive::open_in_memory().expect("store");
    let summary = import(&mut archive, &["export_full/result.json"]).expect("imports");
    let skipped: Vec<(&str, &str, usize)> =
        summary.skipped_chats.iter().map(|c| (c.name.as_str(), c.kind.as_str(), c.messages)).collect();
    assert_eq!(skipped, [("Иван Петров", "personal chat", 2), ("ML Chat", "supergroup", 1)]);
    let line = summary.to_string();
    assert!(
        line.contains("skipped: «Иван Петров» (personal chat, 2 messages), «ML Chat» (supergroup, 1 message): only channels are archived"),
        "{line}"
    );
}

#[test]
fn old_exports_without_unixtime_or_entities() {
    let mut archive = Archive::open_in_memory().expect("store");
    let summary = import(&mut archive, &["export_old/result.json"]).expect("imports");
    assert_eq!(summary.new, 3);
    let posts = all_posts(&archive);
    // `date` has no offset; it is read as UTC (documented in the README).
    assert_eq!(posts[0].date.map(|d| d.timestamp()), Some(1588334400));
    assert!(posts[1].entities.iter().any(|e| e.kind == EntityKind::Bold));
    assert!(posts[1].entities.iter().any(|e| e.kind == EntityKind::Url));
    assert!(posts[2].edited.is_some());
}

#[test]
fn x_escape_quirk_is_repaired_without_touching_escaped_backslashes() {
    let mut archive = Archive::open_in_memory().expect("store");
    let summary = import(&mut archive, &["export_xquirk/result.json"]).expect("imports");
    assert_eq!(summary.new, 3);
    let posts = all_posts(&archive);
    assert_eq!(posts[0].body, "строка\u{b}с управляющим символом");
    assert!(
        posts[1].body.contains(r"C:\xfiles") && posts[1].body.contains(r#"re.compile(r"\x41")"#),
        "{}",
        posts[1].body
    );
    assert!(posts[1].body.contains("разделитель\u{1f}полей"));
    assert!(posts[2].body.contains("C:\\\u{b} и дальше"), "{:?}", posts[2].body);
}

#[test]
fn reimport_is_idempotent_and_updates_in_place() {
    let mut archive = seeded();
    import(&mut archive, &["export_single/result.json"]).expect("first import");
    let before = all_posts(&archive);
    let again = import(&mut archive, &["export_single/result.json"]).expect("second import");
    assert_eq!((again.new, again.updated, again.unchanged), (0, 0, 6), "{again}");
    assert_eq!(all_posts(&archive), before);

    // An edited export: the same post changes in place, search sees the new text only.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(fixture("export_single/result.json")).expect("fixture");
    let edited = text.replace("торговых стратегий", "рыночных прогнозов");
    assert_ne!(edited, text);
    let path = dir.path().join("result.json");
    std::fs::write(&path, edited).expect("write");
    let summary = postkeeper::ingest::import_paths(&mut archive, &[path], false).expect("re-import");
    assert_eq!((summary.new, summary.updated, summary.unchanged), (0, 1, 5), "{summary}");
    assert_eq!(all_posts(&archive).len(), before.len());
    let hits = archive.search("рыночные прогнозы", 0, 10).expect("search");
    assert_eq!(hits.hits.first().map(|h| h.post.message_id), Some(Some(2)));
    let old = archive.search("торговых стратегий", 0, 10).expect("search");
    assert!(old.hits.iter().all(|h| h.post.channel_title != "Test ML Channel"));
}

#[test]
fn broken_inputs_fail_clearly_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    let mut archive = Archive::open(&db).expect("store opens");
    postkeeper::ingest::import_seed(&mut archive).expect("seed imports");
    import(&mut archive, &["export_full/result.json"]).expect("a good import first");
    let before = snapshot(&archive, &db);
    let cases: &[(&[&str], &str)] = &[
        (&["broken/truncated.json"], "EOF while parsing"),
        (&["broken/not_export.json"], "not a Telegram Desktop export"),
        (&["broken/array.json"], "not a Telegram Desktop export"),
        (&["broken/empty.json"], "not a Telegram Desktop export"),
        (&["broken/bad_utf8.json"], "message 2 of the export is not valid UTF-8"),
        // A fault in the middle of many good messages: that message named.
        (&["broken/bad_message.json"], "message 150 of the export: invalid type: string \"one hundred fifty\""),
        // A chat without a type: a channel cannot be told from a personal chat.
        (&["broken/no_type.json"], "a chat has \"messages\" but no \"type\""),
        (&["junk_dir"], "no Telegram Desktop export"),
        (&["does/not/exist.json"], "no such file"),
        // A good file followed by a broken one: the good one must not land either.
        (&["export_single/result.json", "broken/truncated.json"], "truncated.json"),
    ];
    for (names, expected) in cases {
        let err = import(&mut archive, names).expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains(expected), "{names:?}: {msg}");
        let last = names.last().copied().unwrap_or_default();
        let file_name = Path::new(last).file_name().and_then(|f| f.to_str()).unwrap_or_default();
        assert!(msg.contains(file_name), "{names:?}: the error names the file: {msg}");
        assert_eq!(snapshot(&archive, &db), before, "{names:?} changed the store");
    }
    let err = import(&mut archive, &["broken/truncated.json"]).expect_err("fails").to_string();
    assert!(err.contains("line 126"), "position is given: {err}");
}

/// Query -> title prefix of the post expected first. Every query uses a word
/// form that is not in its post literally (checked below).
const TABLE: &[(&str, &str)] = &[
    ("шахматах лабиринт", "👆🏻Повторение"),
    ("перегрева чипа", "🍏DL на Mac"),
    ("размеченный датасет", "😜Что такое LLM"),
    ("торговая стратегия", "💸Финансовая"),
    ("фотоны электрон", "☀️Глубокое обучение со скоростью света"),
    ("размывания лица", "🤦🏼♀️Защита частной жизни"),
    ("геном кукурузе", "🌸Прогнозирование"),
    ("робота-собаку", "🤜🏻🏃Восстановление после падения"),
    ("митап Ситимобила", "Я продолжаю серию митапов"),
    ("обфускации вредоносной программы", "🕸Глубокое обучение для кибербезопасности"),
    ("легковесную библиотеку", "🎂SaLinA"),
    ("синтетическое лицо", "😎Безопасное распознавание лиц"),
    ("прогнозом погоде", "🌦Не только биомедицина"),
    ("опечатка редактор", "📝DL для исправления опечаток"),
    ("симулятором робототехника", "🔥MuJoCo"),
    ("редкий язык распознаванием речи", "😜Распознавание речи на редких языках"),
    ("экзопланета", "🌏🪐🌚Как DL открывает новые экзопланеты"),
    ("красного объекта", "📕📗📘RGB-Stacking"),
    ("ансамбль каскадов", "🏃♀️🏃Ансамбли DL-моделей"),
    ("ловкость руками", "🙌🏻Ловкость рук"),
    ("незаконной свалки", "🌏🪐🌚Как DL открывает новые экзопланеты"),
    ("ЁЛКИ экзопланеты", "🌏🪐🌚Как DL открывает новые экзопланеты"),
];

#[test]
fn search_finds_inflected_forms() {
    let archive = seeded();
    for (query, title) in TABLE {
        let page = archive.search(query, 0, 5).expect("search runs");
        let top = page.hits.first().map(|h| h.post.title.as_str()).unwrap_or("<nothing>");
        assert!(top.starts_with(title), "{query:?}: expected {title:?}, got {top:?}");
        // The query is not in the post as typed.
        let post = &page.hits[0].post;
        let body_words: Vec<String> = postkeeper::text::words(&post.body).into_iter().map(|w| w.folded).collect();
        let query_words: Vec<String> = postkeeper::text::words(query).into_iter().map(|w| w.folded).collect();
        assert!(query_words.iter().any(|q| !body_words.contains(q)), "{query:?} appears literally in its post");
        // The snippet marks something.
        assert!(page.hits[0].snippet.0.iter().any(|p| p.mark), "{query:?}: nothing marked");
    }
}

#[test]
fn names_work_as_typed() {
    let mut archive = seeded();
    import(&mut archive, &["export_single/result.json"]).expect("imports");
    for (query, needle) in
        [("M1", "Mac"), ("Wave2vec", "Распознавание речи"), ("Kepler-1705b", "Kepler-1705b"), ("MuJoCo", "MuJoCo")]
    {
        let page = archive.search(query, 0, 5).expect("search");
        let first = page.hits.first().unwrap_or_else(|| panic!("{query:?} found nothing"));
        assert!(first.post.body.contains(needle), "{query:?} -> {}", first.post.title);
        assert_eq!(page.mode, Mode::All);
    }
    let page = archive.search("<script>", 0, 5).expect("search");
    let html = page.hits[0].snippet.render(postkeeper::render::html::escape_into, "<b>", "</b>");
    assert!(html.contains("&lt;<b>script</b>&gt;"), "{html}");
}

#[test]
fn adversarial_queries_never_error() {
    let archive = seeded();
    let long_x = "x".repeat(5000);
    let inputs = [
        "\"",
        "\"\"",
        "'",
        "*",
        "**",
        "^",
        ":",
        "title:x",
        "body:робот",
        "AND",
        "OR",
        "NOT",
        "NEAR",
        "NEAR(робот собака)",
        "робот AND",
        "OR робот",
        "(",
        ")",
        "((робот",
        "робот)",
        "'; DROP TABLE posts; --",
        "1=1 OR",
        "-",
        "+",
        "~",
        "{a b}",
        "[x]",
        "😀",
        "🤖🤖🤖",
        "...",
        "#",
        "@",
        "\\",
        "\u{0}",
        "робот*",
        "^робот",
        "\"робот",
        "робот NOT собака",
        long_x.as_str(),
    ];
    for input in inputs {
        let page = archive.search(input, 0, 5).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        if postkeeper::search::Query::parse(input).is_empty() {
            assert!(page.hits.is_empty(), "{input:?}");
        }
    }
    // Words among the syntax still search.
    assert!(!archive.search("NEAR(робот собака)", 0, 5).expect("search").hits.is_empty());
    let long = "обучение ".repeat(300);
    assert!(!archive.search(&long, 0, 5).expect("search").hits.is_empty());
}

#[test]
fn all_words_first_then_any_word() {
    let archive = seeded();
    let page = archive.search("экзопланеты кукуруза", 0, 10).expect("search");
    assert_eq!(page.mode, Mode::Any);
    assert!(page.hits.len() >= 2);
    let page = archive.search("обучение с подкреплением", 0, 10).expect("search");
    assert_eq!(page.mode, Mode::All);
    assert!(page.total >= 4, "{}", page.total);
}

#[test]
fn prefix_of_the_last_word() {
    let archive = seeded();
    let page = archive.search("экзопла", 0, 5).expect("search");
    assert!(page.hits.first().is_some_and(|h| h.post.title.contains("экзопланеты")));
}

#[test]
fn suggestions_are_real_words() {
    let archive = seeded();
    // As typed (no correction run): the suggestion is offered.
    let typed = |q: &str| {
        let request = postkeeper::search::Request { correct: false, ..postkeeper::search::Request::new(q, 0, 5) };
        Searcher::default().search_with(&archive, &request).expect("search")
    };
    let page = typed("экзопланетты");
    assert!(page.hits.is_empty());
    assert_eq!(page.suggestion.as_deref(), Some("экзопланеты"));
    let page = typed("симулятр роботов");
    assert_eq!(page.mode, Mode::Any, "the known word still finds posts");
    let page = typed("симулятр");
    assert_eq!(page.suggestion.as_deref(), Some("симулятор"), "{page:?}");
    let page = typed("qqqqzzzz");
    assert_eq!(page.suggestion, None);
    // A search corrects at once, saying so.
    let page = archive.search("экзопланетты", 0, 5).expect("search");
    assert_eq!(page.corrected.as_deref(), Some("экзопланеты"));
    assert!(!page.hits.is_empty());
    let page = archive.search("симулятр роботов", 0, 5).expect("search");
    assert_eq!(page.corrected.as_deref(), Some("симулятор роботов"));
    assert!(!page.hits.is_empty());
}

#[test]
fn paging_is_stable() {
    let archive = seeded();
    let all = archive.search("обучение", 0, 100).expect("search");
    assert!(all.total > 10);
    let mut paged = Vec::new();
    for page in 0..all.total.div_ceil(5) {
        paged.extend(archive.search("обучение", page * 5, 5).expect("search").hits.into_iter().map(|h| h.post.id));
    }
    assert_eq!(paged, all.hits.iter().map(|h| h.post.id).collect::<Vec<_>>());
}

#[test]
fn retag_with_another_taxonomy_is_remembered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("a.db");
    {
        let mut archive = Archive::open(&db).expect("open");
        postkeeper::ingest::import_seed(&mut archive).expect("seed");
        let toml =
            "[[topic]]\nslug = \"space\"\nru = \"Космос\"\nen = \"Space\"\nmarkers = [\"экзопланета\", \"звезда\"]\n";
        let taxonomy = postkeeper::topics::Taxonomy::parse(toml, "t").expect("valid");
        let tagged = archive.set_taxonomy(taxonomy, toml).expect("retag");
        assert_eq!(tagged, 1);
    }
    let archive = Archive::open(&db).expect("reopen");
    let counts = archive.topic_counts().expect("counts");
    assert_eq!(counts.len(), 1);
    assert_eq!((counts[0].topic.slug.as_str(), counts[0].posts), ("space", 1));
}

#[test]
fn common_words_filter_but_do_not_rank() {
    let archive = seeded();
    let ranked_all = archive.search("обучение экзопланеты", 0, 50).expect("search");
    let everything_newest: Vec<i64> =
        archive.search("обучение", 0, 50).expect("search").hits.iter().map(|h| h.post.id).collect();
    // Pretend "обучение" (16 of 20 posts) is as common as on a huge archive.
    let big = Searcher::with_common_docs(5);
    let within = big.search(&archive, "обучение экзопланеты", 0, 50).expect("search");
    let ids = |p: &postkeeper::search::SearchPage| {
        let mut v: Vec<i64> = p.hits.iter().map(|h| h.post.id).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&within), ids(&ranked_all), "the same posts: all words still required");
    assert_eq!(within.mode, Mode::All);
    // Only common words: newest first, every match still found.
    let newest = big.search(&archive, "обучение", 0, 50).expect("search");
    let got: Vec<i64> = newest.hits.iter().map(|h| h.post.id).collect();
    let mut expected = everything_newest.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(got, expected);
    // Paging the ranked-within plan is stable.
    let mut paged = Vec::new();
    for page in 0..4 {
        paged.extend(
            big.search(&archive, "обучение подкреплением", page * 2, 2)
                .expect("search")
                .hits
                .into_iter()
                .map(|h| h.post.id),
        );
    }
    let whole: Vec<i64> = big
        .search(&archive, "обучение подкреплением", 0, 8)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.post.id)
        .collect();
    assert_eq!(paged, whole);
    // Any-word fallback ignores the common word.
    let any = big.search(&archive, "обучение кукуруза блокчейн", 0, 50).expect("search");
    assert_eq!(any.mode, Mode::Any);
    assert!(any.hits.iter().all(|h| h.post.body.contains("кукуруз")), "only the rare word counts");
}
