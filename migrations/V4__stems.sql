-- How many posts hold each stem: read by search to tell common words from
-- rare ones (fts5vocab scans a doclist per lookup; this is one b-tree probe).
-- Kept up to date by every import; a post edited in place adds its new stems.
CREATE TABLE stems (
    stem  TEXT PRIMARY KEY,
    docs  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO stems(stem, docs) SELECT term, doc FROM posts_vocab;
