-- State the bot keeps so that buttons survive restarts.

-- A search query a message's buttons refer to by id (callback data stays tiny).
CREATE TABLE queries (
    id       INTEGER PRIMARY KEY,
    text     TEXT NOT NULL UNIQUE,
    used_at  INTEGER NOT NULL
);

-- Posts /random has shown in a chat, so it does not repeat itself.
CREATE TABLE random_seen (
    chat_id  INTEGER NOT NULL,
    post_id  INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    PRIMARY KEY (chat_id, post_id)
);
