//! The phrase index, in one place: its tables, its build, its upkeep by imports, the
//! running bot's builder, and what a search reads of it (with when that is worth it).
//!
//! **What it is for.** A phrase of common words that is rare as a phrase (`"обучение с
//! подкреплением"`: its stems are in 97 %, 99.7 % and 48 % of a big archive's posts, the
//! phrase in 0.06 %) makes FTS5 compare the position lists of every post that has all its
//! stems. Its pairs (`обучен·с`, `с·подкреплен`) are rare tokens, and the phrase is the
//! phrase of its pairs: a lookup (figures: benches/README.md).
//!
//! **Its tables.** `pairs_fts` (V11): the adjacent pairs of the archive's commonest stems,
//! one token a pair. `pair_stems` (V11, V12): the paired stems, chosen when the index is
//! begun (stems in a fifth of the posts or more), so that a post's pairs never depend on
//! when it was indexed; the 64 commonest of them have a bit (`pair_stems.bit`).
//! `stem_bitmaps` (V12): for each stem with a bit, a bitmap of the posts that have it, in
//! chunks of [`CHUNK_POSTS`] posts. A word in nearly every post (`обучен`, 97 %) beside
//! rarer ones makes FTS5 seek its long list once per candidate (`торговые стратегии
//! обучения`); its bitmap is a few rows read once, and a bit a candidate. Meta
//! `pairs_upto` (every post up to this id is indexed) and `pairs_chosen_at` (the last id
//! when the stems were chosen).
//!
//! **Its parts.**
//! - [`build`]: the pairs text of a post, choosing the stems, one step of the build.
//! - [`bitmaps`]: writing the bits, and checking posts by them ([`StemBits`]).
//! - [`upkeep`]: what an import does to the index (a rewritten post indexed again).
//! - [`keeper`]: the running bot's background builder.
//! - [`reads`]: what a search reads of the index, and the costs that say when its
//!   candidates beat the plan without it. The search's planner (src/search/plan.rs) names
//!   the plans that use it; its execution (src/search/exec.rs) calls these reads.
//!
//! Indexing every pair of every post would cost as much as the search index itself, and
//! double an import's time; only the pairs of common stems are indexed (the phrases of
//! rarer words are quick in `posts_fts`), and the index is built after the import, by
//! the running bot in the background, oldest posts first. A search reads the posts up to
//! `pairs_upto` from the index and the newer ones from `posts_fts`. When the archive has
//! doubled since the stems were chosen, they are chosen again and the index is rebuilt;
//! until it catches up, phrases are matched in `posts_fts` as before.

mod bitmaps;
mod build;
mod keeper;
pub(crate) mod reads;
mod upkeep;

pub(crate) use bitmaps::StemBits;
pub use build::PhraseProgress;
pub use keeper::keep_phrase_index;
pub(super) use upkeep::Upkeep;

/// Archives of fewer posts get no phrase index: their phrases are quick without one.
pub const MIN_POSTS: i64 = 20_000;
/// Posts a background step indexes: one short write transaction, so that the bot's own
/// writes wait little (figures: benches/README.md).
pub const STEP_POSTS: usize = 2_000;
/// Posts a row of `stem_bitmaps` holds: 2 KiB of bits, which fit a page.
pub(crate) const CHUNK_POSTS: i64 = 1 << 14;
/// Joins the two stems of a pair: not a character of any stem (letters and digits), and
/// not ASCII, so that the `ascii` tokenizer keeps a pair one token.
const JOINER: char = '·';
