-- Beside the phrase index (V11, src/store/phrases/): for each of the archive's 64 commonest
-- stems (pair_stems.bit, the stems in the most posts), which posts have it, a bit a post, in
-- chunks of 16,384 posts (2 KiB: a chunk's row fits a page), so that a word in most posts
-- is checked on a candidate by its bit instead of FTS5 seeking the word's long list. A query
-- reads the chunks of its words' bits, not a row for each post it checks. No row: no post
-- of the chunk has the stem.
-- (pair_stems is chosen again when the index is rebuilt, below: it is made anew.)
DROP TABLE IF EXISTS pair_stems;
CREATE TABLE pair_stems (
    stem  TEXT PRIMARY KEY,
    bit   INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stem_bitmaps (
    bit    INTEGER NOT NULL,
    -- The posts with ids from chunk * 16384 up to the next chunk's first.
    chunk  INTEGER NOT NULL,
    -- Byte (id % 16384) / 8, bit id % 8: set when the post has the stem.
    posts  BLOB NOT NULL,
    PRIMARY KEY (bit, chunk)
);
-- The index is built again, with the bitmaps: until then phrases are matched without it.
DELETE FROM meta WHERE key IN ('pairs_upto', 'pairs_chosen_at');
