-- The posts that carry a hashtag entity, for `#тег` queries: a partial index SQLite keeps
-- up to date on every insert and update by itself. A hashtag query looks a match up here
-- instead of reading its row (whose entities lie past the body's overflow pages).
-- IF NOT EXISTS: a store whose user_version was wound back applies this again.
CREATE INDEX IF NOT EXISTS posts_with_hashtags ON posts(id) WHERE entities LIKE '%"type":"hashtag"%';
