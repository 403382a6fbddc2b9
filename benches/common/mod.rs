//! A deterministic synthetic archive for the benches (and `examples/import_memory.rs`):
//! posts of ~150 words drawn from the seed archive's vocabulary with a Zipf-like
//! frequency, so that common words (`обучение`, `модели`) are in most posts and
//! the seed's rare words in few, and cached stores of n such posts.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use postkeeper::model::{NewChannel, NewPost};
use postkeeper::store::{Archive, StoreError};
use postkeeper::text;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Bump when the generator changes: cached stores built by another version are rebuilt.
pub const CORPUS_VERSION: &str = "corpus v1: zipf 1.1 over seed words, 120..=180 words, seed 42";
/// The RNG seed of the cached corpora (the first n posts of this stream make `posts-{n}.db`).
pub const CORPUS_SEED: u64 = 42;

/// Realistic queries: (label, query as typed).
pub const REALISTIC: &[(&str, &str)] = &[
    // Two or three words, inflected unlike the corpus' forms.
    ("rl_2w", "обучение с подкреплением"),
    ("faces_2w", "распознавание лица"),
    ("robot_dog_2w", "роботу-собаке"),
    ("deep_nets_3w", "глубокое обучение нейросетей"),
    ("trading_3w", "торговые стратегии обучения"),
    // An English term, a rare word.
    ("english", "deepmind mujoco"),
    ("rare", "отвертки"),
    // Typed in inline mode: the last word is a prefix.
    ("prefix", "распознавание изобр"),
    // One word the archive never saw: all-words finds nothing, any-word answers.
    ("fallback_any", "нейросети блокчейн"),
    // A typo: nothing found, a suggestion from the vocabulary.
    ("typo_suggest", "экзопланиты"),
];

/// Queries of very common words, where ranking every match would be most of the archive.
pub const COMMON: &[(&str, &str)] = &[("common_obuchenie", "обучение"), ("common_obuchenie_modeli", "обучение модели")];
/// The query language (issue #14): operators, phrases, typo fallbacks, glossary expansions.
pub const OPERATORS: &[(&str, &str)] = &[
    ("phrase_common", "\"глубокое обучение\""),
    ("phrase_rare", "\"обучение с подкреплением\""),
    ("phrase_word", "\"обучение с подкреплением\" робот"),
    ("phrase_common_word", "\"глубокое обучение\" модели"),
    ("phrase_sparse_word", "\"глубокое обучение\" собаке"),
    ("exclude", "обучение подкреплением -агент"),
    ("phrase_exclude", "\"обучение с подкреплением\" -робот"),
    ("phrase_exclude_common", "\"глубокое обучение\" -модели"),
    ("sparse_exclude_common", "торговые -модели"),
    ("words_exclude", "торговые стратегии -робот"),
    ("rare_2common", "отвертки модели робот"),
    ("topic", "обучение тема:rl"),
    ("topic_rare", "роботу-собаке тема:robotics"),
    ("month", "обучение с:2018-03 до:2018-03"),
    ("month_rare", "роботу-собаке с:2018-03 до:2018-03"),
    ("filters_only", "тема:robotics с:2018-03 до:2018-03"),
    ("hashtag", "#роботы"),
    ("has_photo", "робот есть:фото"),
    ("sort_new", "обучение с подкреплением порядок:новые"),
    ("typo_stem", "манипулятр"),
    ("typo_2w", "обучени с подкреплнием"),
    ("typo_digits", "Wave2vecc"),
    ("glossary_en", "reinforcement learning"),
    ("glossary_ru", "нейронная сеть"),
];

/// Posts whose neighbours `/similar` is timed on (ids; every corpus has them).
pub const SIMILAR: &[i64] = &[1, 5_000, 9_999];

/// Exponent of the rank/frequency law.
const ZIPF_S: f64 = 1.1;
/// Posts per import transaction when building a cached store.
const BATCH: usize = 10_000;

const TITLE_EMOJI: &[&str] = &["👆🏻", "🧠", "🤖", "📚", "🔥", "🪐", "🍏", "📈", "🛠", "🎓"];

/// The seed archive's words (lower case, URLs left out), most frequent first
/// (ties in order of first appearance).
pub fn vocabulary() -> Vec<String> {
    let (_, posts) = postkeeper::ingest::tme_dump::parse(postkeeper::ingest::SEED).expect("the seed parses");
    let mut seen: std::collections::HashMap<String, (usize, usize)> = std::collections::HashMap::new();
    let mut position = 0usize;
    for post in &posts {
        for token in post.text.split_whitespace() {
            if token.contains("://") || token.contains("www.") {
                continue;
            }
            for range in text::word_ranges(token) {
                let word = token[range].to_lowercase();
                let entry = seen.entry(word).or_insert((0, position));
                entry.0 += 1;
                position += 1;
            }
        }
    }
    let mut words: Vec<(String, (usize, usize))> = seen.into_iter().collect();
    words.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
    words.into_iter().map(|(w, _)| w).collect()
}

/// An endless, reproducible stream of posts.
pub struct Corpus {
    vocab: Vec<String>,
    /// cumulative[r] = sum of the weights of ranks 0..=r
    cumulative: Vec<f64>,
    rng: StdRng,
    seq: i64,
    date: i64,
}

impl Corpus {
    pub fn new(seed: u64) -> Self {
        let vocab = vocabulary();
        let mut total = 0.0;
        let cumulative = (0..vocab.len())
            .map(|r| {
                total += 1.0 / ((r + 1) as f64).powf(ZIPF_S);
                total
            })
            .collect();
        Corpus { vocab, cumulative, rng: StdRng::seed_from_u64(seed), seq: 0, date: 1_500_000_000 }
    }

    pub fn vocab(&self) -> &[String] {
        &self.vocab
    }

    fn word(&mut self) -> &str {
        let total = *self.cumulative.last().expect("a vocabulary");
        let u = self.rng.random::<f64>() * total;
        let rank = self.cumulative.partition_point(|&c| c < u).min(self.vocab.len() - 1);
        &self.vocab[rank]
    }

    fn push_capitalized(out: &mut String, word: &str) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }

    /// A post's text: a title line (an emoji now and then, 3..=8 words), then
    /// 120..=180 words in sentences and paragraphs.
    pub fn text(&mut self) -> String {
        let mut out = String::with_capacity(2_800);
        if self.rng.random_bool(0.5) {
            let emoji = TITLE_EMOJI[self.rng.random_range(0..TITLE_EMOJI.len())];
            out.push_str(emoji);
        }
        let title_words = self.rng.random_range(3..=8);
        for i in 0..title_words {
            let w = self.word().to_string();
            if i == 0 {
                Self::push_capitalized(&mut out, &w);
            } else {
                out.push(' ');
                out.push_str(&w);
            }
        }
        out.push('\n');
        let body_words = self.rng.random_range(120..=180);
        let mut sentence_left = 0;
        for i in 0..body_words {
            let w = self.word().to_string();
            if sentence_left == 0 {
                if i > 0 {
                    out.push('.');
                    out.push_str(if self.rng.random_bool(0.25) { "\n" } else { " " });
                }
                sentence_left = self.rng.random_range(6..=18);
                Self::push_capitalized(&mut out, &w);
            } else {
                if self.rng.random_bool(0.08) {
                    out.push(',');
                }
                out.push(' ');
                out.push_str(&w);
            }
            sentence_left -= 1;
        }
        out.push('.');
        out
    }

    /// The next post: seq 1, 2, 3..., dates 10 minutes to 2 hours apart.
    pub fn post(&mut self) -> NewPost {
        self.seq += 1;
        self.date += self.rng.random_range(600..7_200);
        NewPost {
            message_id: Some(self.seq),
            seq: self.seq,
            date: Some(self.date),
            edited: None,
            text: self.text(),
            entities: vec![],
            ..Default::default()
        }
    }

    pub fn posts(&mut self, n: usize) -> Vec<NewPost> {
        (0..n).map(|_| self.post()).collect()
    }
}

/// The channel every generated post belongs to.
pub fn channel() -> NewChannel {
    NewChannel::telegram(-1001, "Bench")
}

/// `$CARGO_TARGET_DIR`, or the package's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn remove_store(db: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = fs::remove_file(PathBuf::from(p));
    }
}

/// A store of `n` generated posts, built once under `target/bench-corpora/posts-{n}.db`
/// (in imports of 10k posts each) and reused while its marker file says it is complete
/// and of the current [`CORPUS_VERSION`].
pub fn corpus_db(n: usize) -> PathBuf {
    let dir = target_dir().join("bench-corpora");
    fs::create_dir_all(&dir).expect("create target/bench-corpora");
    let db = dir.join(format!("posts-{n}.db"));
    let marker = dir.join(format!("posts-{n}.db.done"));
    if db.exists() && fs::read_to_string(&marker).is_ok_and(|m| m == CORPUS_VERSION) {
        complete_phrase_index(&db);
        return db;
    }
    let _ = fs::remove_file(&marker);
    remove_store(&db);
    eprintln!("building {} ({n} posts)...", db.display());
    let started = Instant::now();
    let mut archive = Archive::open(&db).expect("open the corpus store");
    let mut corpus = Corpus::new(CORPUS_SEED);
    let channel = channel();
    let mut done = 0;
    while done < n {
        let batch = BATCH.min(n - done);
        archive
            .import(|sink| -> Result<(), StoreError> {
                sink.channel(&channel)?;
                for _ in 0..batch {
                    sink.post(corpus.post())?;
                }
                Ok(())
            })
            .expect("import a batch of generated posts");
        done += batch;
        if done % 100_000 == 0 || done == n {
            let secs = started.elapsed().as_secs_f64();
            eprintln!("  {done}/{n} posts, {secs:.0} s ({:.0} posts/s)", done as f64 / secs);
        }
    }
    drop(archive); // closing checkpoints the WAL into the database file
    fs::write(&marker, CORPUS_VERSION).expect("write the corpus marker");
    eprintln!("built {} in {:.1} s", db.display(), started.elapsed().as_secs_f64());
    complete_phrase_index(&db);
    db
}

/// Builds the phrase index a running bot builds in the background (src/store/phrases/),
/// in steps as it does; nothing to do when it is complete.
fn complete_phrase_index(db: &Path) {
    let mut archive = Archive::open(db).expect("open the corpus store");
    let started = Instant::now();
    let mut indexed = 0;
    loop {
        let step = archive
            .build_phrase_index(postkeeper::store::PHRASE_INDEX_STEP, postkeeper::store::PHRASE_INDEX_MIN_POSTS)
            .expect("build the phrase index");
        indexed += step.indexed;
        if !step.remaining {
            break;
        }
    }
    if indexed > 0 {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "phrase index of {}: {indexed} posts in {secs:.1} s ({:.0} posts/s)",
            db.display(),
            indexed as f64 / secs
        );
    }
}

/// The stemmed title and body of a post, as the index holds them.
pub fn stemmed_fields(post_text: &str) -> (String, String) {
    (text::stemmed(&postkeeper::model::title_of(post_text)), text::stemmed(post_text))
}

/// Streams a Telegram Desktop export (`result.json`, one public channel) of the first `n`
/// posts of the corpus to `path`, one message at a time, and beside it `texts.bin`: each
/// post's title and text (u32 little-endian length, then the bytes), what the bare FTS5
/// baseline is fed without parsing JSON.
pub fn write_export(path: &Path, texts: &Path, n: usize) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut raw = BufWriter::with_capacity(1 << 20, File::create(texts)?);
    out.write_all(br#"{"name":"Bench","type":"public_channel","id":1001,"messages":["#)?;
    let mut corpus = Corpus::new(CORPUS_SEED);
    for i in 0..n {
        let post = corpus.post();
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(
            out,
            r#"{{"id":{},"type":"message","date":"2020-01-01T00:00:00","date_unixtime":"{}","from":"Bench","from_id":"channel1001","text":"#,
            post.seq,
            post.date.unwrap_or_default()
        )?;
        serde_json::to_writer(&mut out, &post.text)?;
        out.write_all(br#","text_entities":[{"type":"plain","text":"#)?;
        serde_json::to_writer(&mut out, &post.text)?;
        out.write_all(b"}]}\n")?;
        for field in [postkeeper::model::title_of(&post.text), post.text] {
            raw.write_all(&(field.len() as u32).to_le_bytes())?;
            raw.write_all(field.as_bytes())?;
        }
    }
    out.write_all(b"]}\n")?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    raw.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// A generated export of `n` posts and its texts (see [`write_export`]), written once under
/// `target/bench-corpora/export-{n}/` and reused while its marker says it is of this version.
pub fn export_dir(n: usize) -> PathBuf {
    let dir = target_dir().join("bench-corpora").join(format!("export-{n}"));
    let marker = dir.join("done");
    if fs::read_to_string(&marker).is_ok_and(|m| m == CORPUS_VERSION) {
        return dir;
    }
    fs::create_dir_all(&dir).expect("create the export folder");
    let _ = fs::remove_file(&marker);
    eprintln!("writing {} ({n} posts)...", dir.display());
    let started = Instant::now();
    write_export(&dir.join("result.json"), &dir.join("texts.bin"), n).expect("write the export");
    fs::write(&marker, CORPUS_VERSION).expect("write the export marker");
    eprintln!("wrote {} in {:.1} s", dir.display(), started.elapsed().as_secs_f64());
    dir
}

/// The (title, text) pairs of `texts.bin`, read one at a time.
pub fn read_texts(path: &Path) -> impl Iterator<Item = (String, String)> {
    let mut input = std::io::BufReader::with_capacity(1 << 20, File::open(path).expect("open texts.bin"));
    let mut field = move || -> Option<String> {
        let mut len = [0u8; 4];
        std::io::Read::read_exact(&mut input, &mut len).ok()?;
        let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
        std::io::Read::read_exact(&mut input, &mut bytes).expect("a whole field");
        Some(String::from_utf8(bytes).expect("UTF-8 text"))
    };
    std::iter::from_fn(move || Some((field()?, field()?)))
}
