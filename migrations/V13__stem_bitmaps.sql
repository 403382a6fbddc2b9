-- The bits of V12, kept the other way round (src/store/pairs.rs): for each of the 64 stems
-- with a bit (pair_stems.bit), which posts have it, a bit a post, in chunks of 16,384
-- posts (2 KiB: a chunk's row fits a page). A query reads the chunks of its words' bits,
-- not a row for each post it checks. No row: no post of the chunk has the stem.
DROP TABLE IF EXISTS post_masks;
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
