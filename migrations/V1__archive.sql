-- The archive: channels, their posts, the search index and topics.

CREATE TABLE channels (
    id          INTEGER PRIMARY KEY,
    -- Stable identity of the source: 'tg:<bot api chat id>' for exports and live posts,
    -- 'tme:<title>' for a t.me preview dump (which carries no id).
    source_key  TEXT NOT NULL UNIQUE,
    tg_id       INTEGER,
    username    TEXT,
    title       TEXT NOT NULL,
    description TEXT,
    -- JSON object of the counters a preview shows ("subscribers": 370, ...).
    counters    TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE posts (
    id          INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    -- Telegram message id, when the source has one (exports, live posts).
    message_id  INTEGER,
    -- Order within the channel: the message id, or the position in a dump.
    seq         INTEGER NOT NULL,
    date        INTEGER,            -- unix seconds, NULL when unknown
    edited      INTEGER,            -- unix seconds of the last edit
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,      -- the full text, title line included
    entities    TEXT NOT NULL DEFAULT '[]', -- JSON: formatting in UTF-16 offsets
    links       TEXT NOT NULL DEFAULT '[]', -- JSON: URLs found in the post
    UNIQUE (channel_id, seq)
);
CREATE INDEX posts_date ON posts(date, id);

-- Stemmed copy of each post (see src/search/text.rs); contentless, keyed by posts.id.
CREATE VIRTUAL TABLE posts_fts USING fts5(
    title, body,
    content = '', contentless_delete = 1,
    tokenize = "unicode61 remove_diacritics 0"
);
CREATE VIRTUAL TABLE posts_vocab USING fts5vocab(posts_fts, row);

-- Every surface word form seen, for "did you mean" suggestions.
CREATE TABLE vocabulary (
    word  TEXT PRIMARY KEY,
    freq  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE topics (
    id    INTEGER PRIMARY KEY,
    slug  TEXT NOT NULL UNIQUE,
    ru    TEXT NOT NULL,
    en    TEXT NOT NULL,
    emoji TEXT NOT NULL DEFAULT ''
);

CREATE TABLE post_topics (
    post_id  INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    topic_id INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    PRIMARY KEY (post_id, topic_id)
) WITHOUT ROWID;
CREATE INDEX post_topics_topic ON post_topics(topic_id, post_id);

-- Small settings the store keeps about itself (e.g. the taxonomy an operator loaded).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
