//! Search over stores as imports, edits and upgrades leave them (moved here from the
//! store's tests when search stopped being part of `Archive`).

use rusqlite::Connection;

use super::{Mode, SearchPage, Searcher};
use crate::store::phrases::reads::Bits;
use crate::store::{Archive, MIGRATIONS, Result, StoreError, apply_migrations};

fn search(archive: &Archive, q: &str, offset: usize, limit: usize) -> Result<SearchPage> {
    Searcher::default().search(archive, q, offset, limit)
}

/// A search reads in a snapshot of its own, and leaves the connection as it found it:
/// outside a transaction, or inside the caller's (which it neither ends nor spoils).
#[test]
fn search_snapshot_ends_and_nests() -> Result<()> {
    let mut archive = Archive::open_in_memory()?;
    crate::ingest::seed_if_empty(&mut archive)?;
    let found = search(&archive, "робот", 0, 5)?.total;
    assert!(found > 0);
    assert!(archive.conn().is_autocommit(), "the search left a transaction open");
    assert!(!archive.posts(None, 0, 5)?.0.is_empty());
    assert!(archive.conn().is_autocommit(), "a page of posts left a transaction open");
    archive.conn().execute_batch("BEGIN")?;
    archive.conn().execute("DELETE FROM posts_fts", [])?;
    assert_eq!(search(&archive, "робот", 0, 5)?.total, 0, "the search sees the caller's transaction");
    assert!(!archive.conn().is_autocommit(), "the caller's transaction is still open");
    archive.conn().execute_batch("ROLLBACK")?;
    assert_eq!(search(&archive, "робот", 0, 5)?.total, found);
    // A statement failing inside a snapshot does not keep it open.
    let snapshot = archive.snapshot()?;
    assert!(archive.conn().query_row("SELECT count(*) FROM posts", [], |r| r.get::<_, i64>(0))? > 0);
    assert!(archive.conn().execute_batch("SELECT * FROM no_such_table").is_err());
    assert!(!archive.conn().is_autocommit());
    drop(snapshot);
    assert!(archive.conn().is_autocommit());
    Ok(())
}

/// A store written before the index changed tokenizer (schema 4): after the upgrade,
/// search finds its posts through the rebuilt index, inflected forms included.
#[test]
fn upgrade_rebuilds_the_search_index() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let path = dir.path().join("old.db");
    {
        let mut conn = Connection::open(&path)?;
        apply_migrations(&mut conn, 0, 4)?;
        conn.execute_batch(
            "INSERT INTO channels(id, source_key, title) VALUES (1, 'tg:-100', 'Old');
             INSERT INTO posts(id, channel_id, seq, title, body) VALUES
                (7, 1, 1, 'Роботы-собаки', 'Роботы-собаки учатся ходить'),
                (8, 1, 2, 'Торговых стратегий', 'Торговых стратегий много');
             INSERT INTO posts_fts(rowid, title, body) VALUES (7, 'old', 'old'), (8, 'old', 'old');",
        )?;
    }
    let archive = Archive::open(&path)?;
    let version: i64 = archive.conn().query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, MIGRATIONS.len() as i64);
    let ids =
        |q: &str| -> Result<Vec<i64>> { Ok(search(&archive, q, 0, 10)?.hits.iter().map(|h| h.post.id).collect()) };
    assert_eq!(ids("роботу-собаке")?, [7]);
    assert_eq!(ids("торговая стратегия")?, [8]);
    assert_eq!(ids("old")?, Vec::<i64>::new());
    Ok(())
}

fn channel() -> crate::model::NewChannel {
    crate::model::NewChannel {
        source_key: "tg:-1001".into(),
        tg_id: Some(-1001),
        username: None,
        title: "Test".into(),
        description: None,
        counters: Default::default(),
    }
}

/// Post `seq` of a generated batch: inflected words that repeat across posts, a
/// topic marker in some, and a word of its own in each.
fn generated(seq: i64, edition: &str) -> crate::model::NewPost {
    let words = ["робот", "роботы", "роботу", "обучение", "обучения", "с", "подкреплением", "Ёжик", "ёжики"];
    let mut text = format!("Пост {seq} {edition}\n");
    for k in 0..12 {
        text.push_str(words[(seq as usize * 7 + k * 3) % words.len()]);
        text.push(' ');
    }
    text.push_str(&format!("слово{seq}"));
    crate::model::NewPost {
        message_id: Some(seq),
        seq,
        date: Some(1_600_000_000 + seq),
        edited: None,
        text,
        entities: vec![],
        ..Default::default()
    }
}

fn snapshot(archive: &Archive) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for sql in [
        "SELECT stem || ':' || docs FROM stems ORDER BY stem",
        "SELECT word || ':' || freq FROM vocabulary ORDER BY word",
        "SELECT post_id || ':' || topic_id FROM post_topics ORDER BY post_id, topic_id",
        "SELECT term || ':' || doc || ':' || cnt FROM posts_vocab ORDER BY term",
        "SELECT id || ':' || body FROM posts ORDER BY id",
    ] {
        let mut stmt = archive.conn().prepare(sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(out)
}

/// A big import analyses on a second thread; it must store exactly what one small
/// import per post stores, including a post that comes twice with different text.
#[test]
fn threaded_analysis_stores_what_inline_analysis_stores() -> Result<()> {
    const N: i64 = 700;
    let posts = || (1..=N).map(|seq| generated(seq, "альфа")).chain([generated(5, "бета"), generated(600, "бета")]);
    let mut big = Archive::open_in_memory()?;
    let summary = big.import(|sink| -> Result<()> {
        sink.channel(&channel())?;
        for p in posts() {
            sink.post(p)?;
        }
        Ok(())
    })?;
    assert_eq!((summary.new, summary.updated), (N as usize, 2));

    let mut small = Archive::open_in_memory()?;
    for p in posts() {
        small.import(|sink| -> Result<()> {
            sink.channel(&channel())?;
            sink.post(p)?;
            Ok(())
        })?;
    }
    assert_eq!(snapshot(&big)?, snapshot(&small)?);
    let found = |q: &str| -> Result<Vec<i64>> { Ok(search(&big, q, 0, 10)?.hits.iter().map(|h| h.post.id).collect()) };
    assert_eq!(found("слово650")?, [650]);
    let mut updated = found("бета")?;
    updated.sort_unstable();
    assert_eq!(updated, [5, 600]);
    // The first text of post 600 is gone from the index: both words no longer meet.
    assert_eq!(search(&big, "альфа слово600", 0, 10)?.mode, Mode::Any);
    assert_eq!(search(&big, "альфа слово599", 0, 10)?.mode, Mode::All);
    Ok(())
}

/// An import that fails after its analysis went to the second thread leaves nothing behind.
#[test]
fn failed_threaded_import_changes_nothing() -> Result<()> {
    let mut archive = Archive::open_in_memory()?;
    let before = snapshot(&archive)?;
    let result = archive.import(|sink| -> Result<()> {
        sink.channel(&channel())?;
        for seq in 1..=600 {
            sink.post(generated(seq, "альфа"))?;
        }
        Err(StoreError::Corrupt("broken file".into()))
    });
    assert!(matches!(result, Err(StoreError::Corrupt(m)) if m == "broken file"));
    assert_eq!(snapshot(&archive)?, before);
    assert!(search(&archive, "робот", 0, 10)?.hits.is_empty());
    Ok(())
}

fn import_text(archive: &mut Archive, seq: i64, text: &str) -> Result<()> {
    archive.import(|sink| -> Result<()> {
        sink.channel(&channel())?;
        let mut post = generated(seq, "");
        post.text = text.to_string();
        sink.post(post)?;
        Ok(())
    })?;
    Ok(())
}

/// Suggestions read the vocabulary into memory, one copy for every connection; new words
/// reach them after an import through either connection (the bot's threads, the CLI).
#[test]
fn suggestions_see_new_words() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let path = dir.path().join("s.db");
    let mut a = Archive::open(&path)?;
    let mut b = Archive::open(&path)?;
    let searcher = Searcher::default();
    // A search corrects at once: the correction it ran, with its results.
    let suggestion = |archive: &Archive, q: &str| -> Result<Option<String>> {
        let page = searcher.search(archive, q, 0, 5)?;
        assert_eq!(page.corrected.is_some(), !page.hits.is_empty(), "{q}");
        Ok(page.corrected)
    };
    import_text(&mut a, 1, "Котлеты по-киевски")?;
    assert_eq!(suggestion(&a, "котлетты")?.as_deref(), Some("котлеты"));
    assert_eq!(suggestion(&b, "котлетты")?.as_deref(), Some("котлеты"));
    assert_eq!(suggestion(&a, "пельмешки")?, None);
    assert_eq!(suggestion(&b, "пельмешки")?, None);
    import_text(&mut a, 2, "Пельмени")?;
    assert_eq!(suggestion(&a, "пельмешки")?.as_deref(), Some("пельмени"));
    assert_eq!(suggestion(&a, "пельмины")?.as_deref(), Some("пельмени"));
    assert_eq!(suggestion(&b, "пельмины")?.as_deref(), Some("пельмени"));
    import_text(&mut b, 3, "Вареники")?;
    assert_eq!(suggestion(&a, "вореники")?.as_deref(), Some("вареники"));
    assert_eq!(suggestion(&b, "вореники")?.as_deref(), Some("вареники"));
    Ok(())
}

/// Post `seq` for the phrase index: twenty words of a small vocabulary in a pseudo-random
/// order (so that every stem is common and their pairs vary), a word of its own, in some
/// posts words too rare to pair and in a tenth of the posts or fewer (`торговые` in one of
/// 11, `стратегии` in one of 12) and a rare word (`биржевые` in one of 44, each with
/// `торговые`), a date a day after the previous post's.
fn phrase_post(seq: i64, salt: u64) -> crate::model::NewPost {
    let words = ["робот", "роботы", "обучение", "обучения", "с", "подкреплением", "глубокое", "модели", "и"];
    let mut state = (seq as u64).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(salt | 1);
    let mut text = String::new();
    for _ in 0..20 {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        text.push_str(words[(state >> 33) as usize % words.len()]);
        text.push(' ');
    }
    text.push_str(&format!("слово{seq}"));
    if seq % 11 == 0 {
        text.push_str(" торговые");
    }
    if seq % 12 == 0 {
        text.push_str(" стратегии");
    }
    if seq % 44 == 0 {
        text.push_str(" биржевые");
    }
    crate::model::NewPost {
        message_id: Some(seq),
        seq,
        date: Some(1_600_000_000 + seq * 86_400),
        text,
        ..Default::default()
    }
}

fn import_phrase_posts(archive: &mut Archive, seqs: std::ops::RangeInclusive<i64>, salt: u64) -> Result<()> {
    archive.import(|sink| -> Result<()> {
        sink.channel(&channel())?;
        for seq in seqs {
            sink.post(phrase_post(seq, salt))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// What a page shows: its posts in order, the count, the mode.
fn page_of(searcher: &Searcher, archive: &Archive, q: &str, offset: usize) -> Result<(Vec<i64>, usize, bool, Mode)> {
    let page = searcher.search(archive, q, offset, 10)?;
    Ok((page.hits.iter().map(|h| h.post.id).collect(), page.total, page.total_capped, page.mode))
}

/// What a query of [`phrase_queries`] reads of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// The pairs only.
    Pairs,
    /// The pairs, checked for the rest in `posts_fts`.
    PairsAndWords,
    /// The pairs, checked for the rest by the stems' bits (`stem_bitmaps`).
    PairsAndBits,
    /// `posts_fts`, checked for the commonest words by their bits (the rest of the query
    /// common, or rare and ranked).
    WordsAndBits,
    /// Nothing of it.
    Neither,
}

/// Queries, each with what it reads of the phrase index.
type Queries = Vec<(String, Reads)>;

/// The archive the phrase index is tested on (400 posts of [`phrase_post`], no index yet),
/// the searcher (small data: the costs would rarely choose the phrase's candidates; it takes
/// them always) and the queries, each with what it reads of the index.
fn phrase_fixture() -> Result<(Archive, Searcher, Queries)> {
    let mut archive = Archive::open_in_memory()?;
    import_phrase_posts(&mut archive, 1..=400, 7)?;
    let searcher = Searcher::with_pairs_forced(10);
    let queries = phrase_queries(&archive)?;
    Ok((archive, searcher, queries))
}

/// The queries of the phrase index's tests: phrases alone, several, with filters, newest
/// first, beside other words; words in most posts beside rarer ones; queries not for it.
fn phrase_queries(archive: &Archive) -> Result<Queries> {
    // A post with a phrase, for a rare word beside it (ranked by it).
    let with_phrase = search(archive, "\"глубокое обучение\"", 0, 1)?.hits[0].post.id;
    let beside_rare = format!("\"глубокое обучение\" слово{with_phrase}");
    let beside_rare_and_bit = format!("\"глубокое обучение\" роботы слово{with_phrase}");
    use Reads::*;
    let queries = [
        // Phrases alone.
        ("\"обучение с подкреплением\"", Pairs),
        ("\"глубокое обучение\"", Pairs),
        ("\"роботы модели и\"", Pairs),
        ("\"с подкреплением\" \"глубокое обучение\"", Pairs),
        ("\"обучение с подкреплением\" порядок:новые", Pairs),
        ("\"глубокое обучение\" с:2021-01 до:2021-03", Pairs),
        ("\"робот и\" тема:robotics", Pairs),
        // A phrase the index has beside an exclusion with a bit (checked by it: index 7), a
        // rare word, an exclusion without a bit (checked in posts_fts).
        ("\"глубокое обучение\" -подкреплением", PairsAndBits),
        (&beside_rare, PairsAndWords),
        ("\"глубокое обучение\" -торговые", PairsAndWords),
        (&beside_rare_and_bit, PairsAndBits),
        // Beside words with bits (newest first: no rare word).
        ("\"глубокое обучение\" робот", PairsAndBits),
        ("\"глубокое обучение\" робот порядок:новые", PairsAndBits),
        ("\"обучение с подкреплением\" модели и", PairsAndBits),
        ("\"обучение с подкреплением\" -глубокое порядок:новые", PairsAndBits),
        // Words in most posts beside rarer ones.
        ("торговые обучение", WordsAndBits),
        ("торговые модели -подкреплением", WordsAndBits),
        ("торговые стратегии обучения", WordsAndBits),
        ("стратегии робот с:2021-01 до:2021-06", WordsAndBits),
        ("торговые робот порядок:новые", WordsAndBits),
        ("торговые обучения тема:robotics", WordsAndBits),
        // A sparse word beside an exclusion with a bit.
        ("торговые -подкреплением", WordsAndBits),
        ("стратегии модели -подкреплением", WordsAndBits),
        // A rare word (ranked by it) beside words with bits.
        ("биржевые робот", WordsAndBits),
        ("биржевые модели -подкреплением", WordsAndBits),
        // Not for the index: a phrase with a stem it does not pair; words all in most
        // posts (FTS5 reads their lists side by side); one word.
        ("\"слово11 торговые\"", Neither),
        ("робот модели", Neither),
        ("биржевые торговые", Neither),
        ("торговые", Neither),
    ];
    Ok(queries.into_iter().map(|(q, reads)| (q.to_string(), reads)).collect())
}

/// A page of each query (the first and the second), as the archive answers them now.
type Pages = Vec<((Vec<i64>, usize, bool, Mode), (Vec<i64>, usize, bool, Mode))>;

fn phrase_pages(searcher: &Searcher, archive: &Archive, queries: &[(String, Reads)]) -> Result<Pages> {
    let mut pages = Vec::new();
    for (q, _) in queries {
        pages.push((page_of(searcher, archive, q, 0)?, page_of(searcher, archive, q, 10)?));
    }
    Ok(pages)
}

/// The pages with a table's rows taken out (rolled back after).
fn phrase_pages_without(
    searcher: &Searcher,
    archive: &Archive,
    queries: &[(String, Reads)],
    delete: &str,
) -> Result<Pages> {
    archive.conn().execute_batch(&format!("SAVEPOINT t; {delete}"))?;
    let out = phrase_pages(searcher, archive, queries);
    archive.conn().execute_batch("ROLLBACK TO t; RELEASE t")?;
    out
}

/// The pages as `posts_fts` alone answers them: with no `pairs_upto` the search cannot use
/// the index.
fn pages_without_index(searcher: &Searcher, archive: &Archive, queries: &[(String, Reads)]) -> Result<Pages> {
    phrase_pages_without(searcher, archive, queries, "DELETE FROM meta WHERE key = 'pairs_upto'")
}

/// Builds the whole phrase index, in steps of 150 posts.
fn build_phrase_index(archive: &mut Archive) -> Result<()> {
    while archive.build_phrase_index(150, 1)?.remaining {}
    Ok(())
}

/// The phrase index (src/store/phrases/) answers what `posts_fts` answers: phrases alone,
/// several, with filters, newest first, deeper pages, beside other words; words in most
/// posts checked by their bits; half built (the rest from `posts_fts`) and built.
#[test]
fn the_phrase_index_finds_what_the_search_index_finds() -> Result<()> {
    let (mut archive, searcher, queries) = phrase_fixture()?;
    let expected = pages_without_index(&searcher, &archive, &queries)?;
    for (i, (q, _)) in queries.iter().enumerate() {
        assert!(expected[i].0.1 > 0, "{q} must find posts: {expected:?}");
    }
    assert!(expected[0].0.1 > 10 && expected[1].0.1 > 10, "the phrases must find pages: {expected:?}");

    let first = archive.build_phrase_index(150, 1)?;
    assert_eq!((first.indexed, first.upto, first.remaining), (150, 150, true));
    assert_eq!(phrase_pages(&searcher, &archive, &queries)?, expected, "half built: the rest from posts_fts");
    build_phrase_index(&mut archive)?;
    assert_eq!(phrase_pages(&searcher, &archive, &queries)?, expected, "built");
    let stems: i64 = archive.conn().query_row("SELECT count(*) FROM pair_stems", [], |r| r.get(0))?;
    assert_eq!(stems, 7, "the seven common stems (of nine words), not the posts' own words");
    Ok(())
}

/// The phrase index really answers: with the indexed posts taken out of `posts_fts`, its
/// phrases still find them; with the pairs or the bitmaps emptied, each query that reads
/// them misses posts, and no other does.
#[test]
fn the_phrase_index_answers_the_queries_that_read_it() -> Result<()> {
    let (mut archive, searcher, queries) = phrase_fixture()?;
    let expected = pages_without_index(&searcher, &archive, &queries)?;
    // The post of `phrase_queries`' rare word beside the phrase (the ninth query).
    let with_phrase = search(&archive, "\"глубокое обучение\"", 0, 1)?.hits[0].post.id;
    build_phrase_index(&mut archive)?;
    assert!(expected[8].0.0.contains(&with_phrase), "{expected:?}");
    let taken_out = phrase_pages_without(&searcher, &archive, &queries, "DELETE FROM posts_fts WHERE rowid <= 400")?;
    for (i, (q, reads)) in queries.iter().enumerate() {
        if *reads == Reads::Pairs {
            assert_eq!(taken_out[i], expected[i], "{q}");
        }
    }
    let no_pairs = phrase_pages_without(&searcher, &archive, &queries, "DELETE FROM pairs_fts WHERE rowid <= 400")?;
    let no_bits = phrase_pages_without(&searcher, &archive, &queries, "DELETE FROM stem_bitmaps")?;
    for (i, (q, reads)) in queries.iter().enumerate() {
        let (pairs, bits) = match reads {
            Reads::Pairs | Reads::PairsAndWords => (true, false),
            Reads::PairsAndBits => (true, true),
            Reads::WordsAndBits => (false, true),
            Reads::Neither => (false, false),
        };
        assert_eq!(no_pairs[i] != expected[i], pairs, "{q} reads the pairs: {pairs}");
        assert_eq!(no_bits[i] != expected[i], bits, "{q} reads the bits: {bits}");
    }
    Ok(())
}

/// Posts newer than the phrase index (not in it) and posts rewritten after it was built (in
/// it again, once) are found; each stem's bitmap has the indexed posts with the stem,
/// rewritten ones as they are now.
#[test]
fn the_phrase_index_keeps_up_with_imports() -> Result<()> {
    let (mut archive, searcher, queries) = phrase_fixture()?;
    build_phrase_index(&mut archive)?;
    import_phrase_posts(&mut archive, 401..=450, 7)?;
    import_phrase_posts(&mut archive, 1..=40, 99)?;
    let expected = pages_without_index(&searcher, &archive, &queries)?;
    assert_eq!(phrase_pages(&searcher, &archive, &queries)?, expected, "after an import");
    let indexed: i64 = archive.conn().query_row("SELECT count(*) FROM pairs_fts", [], |r| r.get(0))?;
    assert_eq!(indexed, 400, "a rewritten post is in the index once");
    let bits: Vec<(String, u32)> = archive
        .conn()
        .prepare("SELECT stem, bit FROM pair_stems WHERE bit IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    assert_eq!(bits.len(), 7);
    for (stem, bit) in bits {
        let with: Vec<i64> = archive
            .conn()
            .prepare("SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?1 AND rowid <= 400")?
            .query_map([format!("\"{stem}\"")], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut check = archive.stem_bits(Bits { required: 1 << bit, forbidden: 0 });
        let mut by_bits = Vec::new();
        for id in 1..=450 {
            if check.passes(id)? {
                by_bits.push(id);
            }
        }
        assert_eq!(by_bits, with, "the posts with {stem}");
    }
    Ok(())
}

/// An archive that doubled since the phrase index chose its stems chooses them again and
/// starts over; meanwhile searches find what `posts_fts` finds.
#[test]
fn a_doubled_archive_rebuilds_its_phrase_index() -> Result<()> {
    let (mut archive, searcher, queries) = phrase_fixture()?;
    build_phrase_index(&mut archive)?;
    import_phrase_posts(&mut archive, 401..=450, 7)?;
    import_phrase_posts(&mut archive, 1..=40, 99)?;
    import_phrase_posts(&mut archive, 451..=800, 7)?;
    let again = archive.build_phrase_index(100, 1)?;
    assert_eq!((again.upto, again.remaining), (100, true));
    assert_eq!(
        phrase_pages(&searcher, &archive, &queries)?,
        pages_without_index(&searcher, &archive, &queries)?,
        "rebuilding"
    );
    Ok(())
}

/// Small archives get no phrase index.
#[test]
fn a_small_archive_has_no_phrase_index() -> Result<()> {
    let mut archive = Archive::open_in_memory()?;
    import_phrase_posts(&mut archive, 1..=50, 7)?;
    let step = archive.build_phrase_index(1_000, 51)?;
    assert_eq!((step.indexed, step.upto, step.remaining), (0, 0, false));
    let indexed: i64 = archive.conn().query_row("SELECT count(*) FROM pairs_fts", [], |r| r.get(0))?;
    assert_eq!(indexed, 0);
    Ok(())
}

/// A word typed before a phrase's closing quote is the last word typed, not the last term
/// (phrases come after the words): a whole word there is a word, not a prefix. It was
/// searched as `модел*`, counted as in no post, so "rare", and ranked by bm25 over every
/// post with a word beginning `модел`: 1.4 s at 1M posts, and posts it should not find.
#[test]
fn a_whole_word_beside_a_phrase_is_not_a_prefix() -> Result<()> {
    let mut archive = Archive::open_in_memory()?;
    import_text(&mut archive, 1, "Глубокое обучение модели")?;
    import_text(&mut archive, 2, "Глубокое обучение и моделирование")?;
    let ids =
        |q: &str| -> Result<Vec<i64>> { Ok(search(&archive, q, 0, 10)?.hits.iter().map(|h| h.post.id).collect()) };
    assert_eq!(ids("\"глубокое обучение\" модели")?, [1]);
    assert_eq!(ids("модели \"глубокое обучение\"")?, [1]);
    // Half a word is still a prefix, before a phrase as at the end.
    let mut both = ids("\"глубокое обучение\" модел")?;
    both.sort_unstable();
    assert_eq!(both, [1, 2]);
    Ok(())
}

/// A step with nothing to do takes no write lock: the bot's look every few minutes does
/// not wait for an import that holds the lock (it would fail after the busy timeout).
#[test]
fn a_complete_phrase_index_is_checked_without_the_write_lock() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let path = dir.path().join("p.db");
    let mut archive = Archive::open(&path)?;
    import_phrase_posts(&mut archive, 1..=30, 7)?;
    while archive.build_phrase_index(10, 1)?.remaining {}
    let other = Connection::open(&path)?;
    other.execute_batch("BEGIN IMMEDIATE")?;
    let step = archive.build_phrase_index(10, 1)?;
    assert_eq!((step.indexed, step.upto, step.remaining), (0, 30, false));
    other.execute_batch("ROLLBACK")?;
    Ok(())
}

/// A glossary term of several words with a common stem (`робот` of `робот-собака`) is ranked
/// by its rare stems only, but still needs every stem: a post with `собака` alone is not
/// found, with or without the common plans, and the pages are the same sets.
#[test]
fn a_glossary_terms_common_stem_filters_without_ranking() -> Result<()> {
    let mut archive = Archive::open_in_memory()?;
    let texts = [
        "Робот-собака бегает по лестнице",
        "Собака лает во дворе",
        "Робот едет по складу",
        "Робот и собака играют, собака бежит",
        "A robot dog walks",
        "Робот собирает детали",
        "Робот красит стену",
    ];
    for (i, text) in texts.iter().enumerate() {
        import_text(&mut archive, i as i64 + 1, text)?;
    }
    // `робот` in five posts is common above three; `собак` in three is not.
    let ids = |searcher: &Searcher| -> Result<Vec<i64>> {
        let mut ids: Vec<i64> =
            searcher.search(&archive, "роботу-собаке", 0, 10)?.hits.iter().map(|h| h.post.id).collect();
        ids.sort_unstable();
        Ok(ids)
    };
    let with_common = ids(&Searcher::with_common_docs(3))?;
    assert_eq!(with_common, ids(&Searcher::default())?);
    // Posts are numbered in the order they were imported into the empty store.
    assert_eq!(with_common, [1, 4, 5], "both stems, or the English term; not `собака` alone");
    Ok(())
}

/// A store written before CJK runs were split into bigrams (schema 12: a run one token):
/// opening it re-indexes the posts with CJK letters, and only those; a word inside a run
/// is found, the old run leaves the counts and the vocabulary, Russian is as it was.
#[test]
fn upgrade_indexes_the_words_inside_cjk_runs() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let path = dir.path().join("old.db");
    let cjk = "课程内容是高等数学，GPT模型";
    {
        let mut conn = Connection::open(&path)?;
        apply_migrations(&mut conn, 0, 12)?;
        // As the version before wrote them: whole runs as tokens, counted as such.
        conn.execute_batch(&format!(
            "INSERT INTO channels(id, source_key, title) VALUES (1, 'tg:-100', 'Old');
             INSERT INTO posts(id, channel_id, seq, title, body) VALUES
                (7, 1, 1, '{cjk}', '{cjk}'),
                (8, 1, 2, 'Роботы', 'Роботы учатся');
             INSERT INTO posts_fts(rowid, title, body) VALUES
                (7, '课程内容是高等数学 gpt模型', '课程内容是高等数学 gpt模型'),
                (8, 'робот', 'робот учат');
             INSERT INTO stems(stem, docs) VALUES ('课程内容是高等数学', 1), ('gpt模型', 1), ('робот', 1), ('учат', 1);
             INSERT INTO vocabulary(word, freq) VALUES ('课程内容是高等数学', 1), ('gpt模型', 1), ('роботы', 1), ('учатся', 1);"
        ))?;
    }
    let archive = Archive::open(&path)?;
    let version: i64 = archive.conn().query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, MIGRATIONS.len() as i64);
    let ids =
        |q: &str| -> Result<Vec<i64>> { Ok(search(&archive, q, 0, 10)?.hits.iter().map(|h| h.post.id).collect()) };
    assert_eq!(ids("高等数学")?, [7]);
    assert_eq!(ids("模型")?, [7]);
    assert_eq!(ids("GPT")?, [7]);
    assert_eq!(ids("роботы")?, [8]);
    // The Russian post's row was not rewritten: its old (here: shortened) tokens stay.
    let body: String = archive.conn().query_row(
        "SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'body:\"робот учат\"'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n.to_string()),
    )?;
    assert_eq!(body, "1");
    assert_eq!(archive.doc_count("课程内容是高等数学")?, 0);
    assert_eq!(archive.doc_count("gpt模型")?, 0);
    assert_eq!(archive.doc_count("数学")?, 1);
    assert_eq!(archive.doc_count("gpt")?, 1);
    assert_eq!(archive.doc_count("робот")?, 1);
    let words: i64 = archive.conn().query_row(
        "SELECT count(*) FROM vocabulary WHERE word GLOB '*模型*' OR word GLOB '*数学*'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(words, 0);
    Ok(())
}
