-- Beside the phrase index (V11, src/store/pairs.rs): for each post it has, which of the
-- archive's commonest stems the post has, a bit a stem (pair_stems.bit, the 64 stems in
-- the most posts), so that a word in most posts is checked on a candidate by its bit
-- instead of FTS5 seeking the word's long list. No row: none of them.
-- (pair_stems is chosen again when the index is rebuilt, below: it is made anew.)
DROP TABLE IF EXISTS pair_stems;
CREATE TABLE pair_stems (
    stem  TEXT PRIMARY KEY,
    bit   INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS post_masks (
    id    INTEGER PRIMARY KEY,
    mask  INTEGER NOT NULL
);
-- The index is built again, with the masks: until then phrases are matched without it.
DELETE FROM meta WHERE key IN ('pairs_upto', 'pairs_chosen_at');
